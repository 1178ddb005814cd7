"""``solve_fp.py`` in three variables (docs/model.md §9, issue 19): the valley with
``--fast-directions 2`` or a ``--loss`` in theta1, theta2, theta3 (or x, y, z),
on the generated ball or a tetrahedral ``--mesh`` file.

Reached from :func:`fpsolve.cli.solve.main` when the options make the model
3-D (:func:`is_three_dimensional`).  Every input is checked before anything
is written (exit 2, one line); the result folder is claimed before the
solve and written atomically (:mod:`fpsolve.fem.results3d`, tool
``fem-N3``) at ``--out`` or ``results/<case>/fem-N3``, where ``<case>`` is
the N-dimensional Monte Carlo's name of the same case
(``<preset>_m2_<noise>_alpha<α>_Delta<Δ>`` for the valley, the model's
name for a loss), so that ``results/<case>/`` holds both.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable, Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.tools import io

#: The largest N the FEM takes (tetrahedra).
MAX_FEM_VARIABLES = 3


def is_three_dimensional(args: argparse.Namespace) -> bool:
    """Do the options ask for more than two variables (``--fast-directions``
    other than 1, or a ``--loss`` naming theta3 or beyond)?  N > 3 is then
    refused by :func:`check_dimension`."""
    from fpsolve.model.expression import count_variables

    return (args.fast_directions is not None and args.fast_directions != 1) or (
        args.loss is not None and count_variables(args.loss) > 2)


def check_dimension(args: argparse.Namespace) -> int:
    """N of the run (3), or UsageError (one line) for ``--fast-directions``
    below 1 or above 2, a loss beyond theta3, or both options given."""
    from fpsolve.model.expression import count_variables

    m = args.fast_directions
    if m is not None:
        if m < 1:
            raise cli.UsageError(f"--fast-directions must be >= 1 (got {m})")
        if m + 1 > MAX_FEM_VARIABLES:
            raise cli.UsageError(f"--fast-directions {m}: the FEM is 3-D at most (N = m + 1 <= "
                                 f"{MAX_FEM_VARIABLES}); the valley in N = {m + 1} dimensions: sample_sgd.py "
                                 "(Monte Carlo) or theory.py (closed forms)")
        if args.loss is not None:
            raise cli.UsageError("--fast-directions solves the valley; a --loss brings its own theta1, theta2, theta3")
        return m + 1
    n = count_variables(args.loss)
    if n > MAX_FEM_VARIABLES:
        raise cli.UsageError(f"--loss uses theta{n}: the FEM is 3-D at most (theta1, theta2, theta3); "
                             f"a model of N = {n} variables: sample_sgd.py (Monte Carlo)")
    return n


def _two_d_only(args: argparse.Namespace) -> None:
    """Refuse, in one line, the options of the 2-D solve the 3-D one does not have yet."""
    given = [opt for opt, on in (("--eigensolver inverse", args.eigensolver != "slepc"),
                                 ("--noise-covariance", args.noise_covariance is not None)) if on]
    if given:
        raise cli.UsageError(f"{', '.join(given)} not yet supported in 3-D (the ball of --radius/--center, "
                             "graded for the valley, uniform --h-min for a loss, or a --mesh file)")


def mesh_from_args(args: argparse.Namespace, comm) -> tuple:
    """(MeshData or None, radius, centre) of the run: without ``--mesh`` None and
    :func:`ball_from_args`; with it the tetrahedral file read on rank 0
    (:func:`fpsolve.fem.meshfile.read_on_root`, collective) and, for the checks
    of the model's formulas, the file's ball (``domain`` "ball") or the ball
    about its bounding box.  UsageError for ``--mesh`` with
    ``--radius``/``--center``/``--h-min``/``--h-max``; ModelError naming a bad file."""
    if args.mesh is None:
        return (None, *ball_from_args(args))
    for opts, given in (("--radius/--center", args.radius is not None or args.center is not None),
                        ("--h-min/--h-max", args.h_min is not None or args.h_max is not None)):
        if given:
            raise cli.UsageError(f"--mesh cannot be combined with {opts} (the domain and its sizes come from the file)")
    from fpsolve.fem import meshfile

    data = meshfile.read_on_root(args.mesh, comm, dim=3)
    d = data.domain
    if d["radius"] is not None:
        return data, float(d["radius"]), tuple(float(c) for c in d["center"])
    box = np.asarray(d["bounding_box"], dtype=float).reshape(3, 2)
    return data, 0.5 * float(np.linalg.norm(box[:, 1] - box[:, 0])), tuple(float(c) for c in box.mean(axis=1))


def ball_from_args(args: argparse.Namespace) -> tuple[float, tuple[float, float, float]]:
    """(radius, (cx, cy, cz)): ``--radius`` (default 2) and ``--center`` (three
    numbers, default the origin); ModelError naming a bad value."""
    from fpsolve.model.valley import ModelError

    radius = cli.DEFAULT_RADIUS if args.radius is None else args.radius
    if not (math.isfinite(radius) and radius > 0):
        raise ModelError(f"--radius must be a finite number > 0 (got {radius!r})")
    center = (0.0, 0.0, 0.0) if args.center is None else tuple(args.center)
    if len(center) != 3 or not all(math.isfinite(c) for c in center):
        raise ModelError(f"--center must be three finite numbers for the 3-D ball "
                         f"(got {' '.join(f'{c:g}' for c in center)})")
    return float(radius), center  # type: ignore[return-value]


def case_from_args(args: argparse.Namespace, radius: float, center: Sequence[float]) -> tuple:
    """(case, level, noise, name, describe) of a 3-D run's options: the
    :class:`~fpsolve.model.nvalley.NValley` of ``--fast-directions`` with its
    Noise and noise model, or a 3-variable Model (``--loss``; level None, noise
    None), checked on the ball; ``name`` the case folder's stem, ``describe``
    one line for the progress.  UsageError / ModelError naming a bad value.
    Shared by ``solve_fp.py``, ``evolve_fp.py`` and ``search_time.py`` in 3-D."""
    if args.fast_directions is None:
        case = cli.user_model_from_args(args)
        case.check_formulas(radius, center)
        case.noise_level.require_positive_T()
        return case, None, None, case.case_name(), f"N=3: {case.describe()}"
    m = args.fast_directions
    noise_model = "sgd-diagonal" if args.no_cross_diffusion else (args.noise or "sgd")
    if args.no_cross_diffusion and args.noise not in (None, "sgd-diagonal"):
        raise cli.UsageError("--no-cross-diffusion is --noise sgd-diagonal; it cannot be combined with another --noise")
    if args.param:
        raise cli.UsageError("--param gives the constants of --loss (use --a0 ... --eps for the valley)")
    level = cli.noise_from_args(args)
    level.require_positive_T()
    case = cli.nvalley_from_args(args, radius + abs(center[0]))
    return (case, level, noise_model, cli.nvalley_case_name(case, level, noise_model),
            f"valley m={m} ({case.name}), noise {noise_model}, T={level.T:g}")


def main(args: argparse.Namespace, parser: cli.Parser, argv: Sequence[str] | None, wall: float,
         petsc_options: Callable[[Sequence[str]], dict]) -> int:
    """The 3-D solve of :mod:`fpsolve.cli.solve`'s parsed options: checks, claim, solve, outputs."""
    from mpi4py import MPI

    check_dimension(args)
    _two_d_only(args)
    if args.eigenpairs is not None:
        from fpsolve.fem.spectrum import check_count

        check_count(args.eigenpairs, "--eigenpairs")
        if args.mesh is not None:
            raise cli.UsageError("--eigenpairs in 3-D judges the eigenvalues on a finer ball: it cannot be "
                                 "combined with --mesh")
    refine = args.mesh_rule == "adaptive" or args.tol is not None
    if refine:
        if args.mesh_rule == "graded":
            raise cli.UsageError("--tol refines the ball to an accuracy: it needs --mesh-rule adaptive "
                                 "(or no --mesh-rule), not graded")
        if args.tol is not None:
            cli.check_tolerance(args.tol)
        if args.mesh is not None:
            raise cli.UsageError("--tol/--mesh-rule adaptive refine the ball: they cannot be combined with --mesh")
    mesh, radius, center = mesh_from_args(args, MPI.COMM_WORLD)
    case, level, noise_model, name, describe = case_from_args(args, radius, center)
    solve_args: tuple = (case,) if level is None else (case, level)
    solve_kw: dict = {} if level is None else {"noise": noise_model}
    from fpsolve.fem import ball, stationary3d
    from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS

    # the ball's sizes (and so every size option), and the dofs and memory they need, are checked
    # before anything is written
    if args.max_dofs is not None and args.max_dofs <= 0:
        raise cli.UsageError(f"--max-dofs must be > 0 (got {args.max_dofs!r})")
    budget = DEFAULT_MAX_DOFS if args.max_dofs is None else args.max_dofs
    T = solve_args[1].T if len(solve_args) == 2 else case.T
    noise = solve_kw.get("noise", "sgd")
    if mesh is None and refine:
        # --tol builds its own balls: the first (coarser than the sizes given) must fit, the loop
        # stops with a warning before a finer one would not (fpsolve.fem.converge3d)
        from fpsolve.fem import converge3d

        sizes = converge3d.first_sizes(case, T, radius, center, args.h_min, args.h_max, args.degree, noise=noise)
        stationary3d.check_budget(ball.predicted_dofs(sizes, args.degree), budget,
                                  "the first cycle of --tol, " + stationary3d.sizes_source(sizes), MPI.COMM_WORLD.size)
    elif mesh is None:
        sizes = stationary3d.ball_sizes(case, T, radius, center, args.h_min, args.h_max, noise=noise)
        stationary3d.check_budget(ball.predicted_dofs(sizes, args.degree), budget,
                                  stationary3d.sizes_source(sizes), MPI.COMM_WORLD.size)
    else:
        stationary3d.check_budget(stationary3d.mesh_file_dofs(mesh, args.degree), budget,
                                  f"counted in {mesh.source}", MPI.COMM_WORLD.size,
                                  remedy=stationary3d.MESH_FILE_REMEDY)
    options = petsc_options(args.petsc_option)
    from fpsolve.fem.linalg import check_petsc_options

    check_petsc_options(options)
    comm = MPI.COMM_WORLD
    progress = cli.Progress("solve_fp.py", enabled=comm.rank == 0)
    folder = cli.case_folder_name(name, args, parser)
    from fpsolve.fem import results3d

    out = io.claim_output(args.out or io.default_out(folder, results3d.TOOL), results3d.TOOL, args.overwrite, comm)
    from fpsolve.tools import signals as _signals

    _signals.import_fem_stack()
    where = (f"ball R={radius:g} about ({', '.join(f'{c:g}' for c in center)})" if mesh is None
             else f"mesh {mesh.source} ({mesh.domain['domain']})")
    progress(f"case {folder}: {describe}, P{args.degree}, {args.wall} wall, {where}, {comm.size} rank(s)")
    domain = {"mesh": mesh} if mesh is not None else {"radius": radius, "center": center, "h_min": args.h_min,
                                                        "h_max": args.h_max}
    if refine:
        from fpsolve.fem import converge3d
        from fpsolve.fem.adapt import DEFAULT_TOL

        result = converge3d.solve_to_tolerance(*solve_args, **solve_kw, **domain, degree=args.degree,
                                               wall=args.wall, petsc_options=options, comm=comm,
                                               progress=progress, max_dofs=budget,
                                               tol=DEFAULT_TOL if args.tol is None else args.tol)
    else:
        result = stationary3d.solve(*solve_args, **solve_kw, **domain, degree=args.degree, wall=args.wall,
                                    petsc_options=options, comm=comm, progress=progress, max_dofs=budget)
    from fpsolve.fem import diagnostics

    if args.eigenpairs is not None:
        stationary3d.add_spectrum(result, int(args.eigenpairs), progress=progress)
    s = result.summary
    diagnostics.report(s["warnings"], "solve_fp.py", enabled=comm.rank == 0)
    extra = cli.run_record(argv, args, wall)  # its wall_seconds is replaced by write's, at the end
    results3d.write(result, out, title=describe, extra=extra, overwrite=args.overwrite, progress=progress,
                    wall_start=wall)
    if comm.rank == 0:
        print(f"escape rate {s['escape_rate']:.4g} (eigenvalue), {s['escape_rate_flux']:.4g} (boundary flux); "
              f"{s['dofs']} dofs; mean|theta1| {s['mean_abs_theta1']:.6g}, std|theta1| {s['std_abs_theta1']:.6g}, "
              f"Var theta2 {s['var_theta2']:.6g}, Var theta3 {s['var_theta3']:.6g}, "
              f"negative mass {s['negative_mass']:.2g}")
        print(f"results written to {out}")
    return 0

