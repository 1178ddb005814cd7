"""``search_time.py`` in three variables (docs/model.md §8, §9; issue 19): the valley with
``--fast-directions 2`` or a ``--loss`` in theta1, theta2, theta3.

Reached from :func:`fpsolve.cli.search.main` when the options make the model
3-D (:func:`fpsolve.cli.solve3d.is_three_dimensional`).  The mean
first-passage time of the full 3-D dynamics on the tetrahedral ball of
``--radius``/``--center CX CY CZ`` (:func:`fpsolve.fem.search3d.search_case`)
into a target: by default (valley) the folded window ``x* − σ* ≤ |θ1| ≤
x* + σ*`` from (x* + 3σ*, 0, 0), as the 1-D search time sets them; else
``--target-theta1 LO HI``, ``--target-box C1 C2 C3 W1 W2 W3`` or
``--target-ball C1 C2 C3 R``, and ``--start X Y Z`` (a ``--loss`` needs a
target and a start).  Every input is checked before anything is written
(exit 2, one line); the folder is claimed before the solve and written
atomically (tool ``search-time-N3``) at ``--out`` or
``results/<case>/search-time-N3`` (``<case>`` as ``solve_fp.py`` names it in 3-D):

    summary.json     parameters, versions, τ at the start in time units and SGD
                     steps, for the valley its average over the fast conditional
                     at the start (``tau_conditional``, the Monte Carlo's start)
                     and the 1-D formula, dofs, timings
    tau_theta1.csv   τ along θ1 through the start (FEM ``tau_fem``; for the default
                     target ``tau_1d``, the 1-D formula, reflecting at |θ1| = R
                     whatever ``--wall``: with an absorbing wall it is not the
                     FEM's problem near the wall)
    tau.png          that profile and τ on the section θ3 = start's
    tau.xdmf/.h5     the field τ(θ) (committor.xdmf/.h5 with --committor)
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Sequence

from fpsolve.cli import common as cli
from fpsolve.tools import io

#: The 3-D target options: dest → (kind of :class:`fpsolve.fem.search3d.Target3D`, option).
TARGET_OPTIONS = {"target_theta1": ("slab", "--target-theta1"), "target_box": ("box", "--target-box"),
                  "target_ball": ("ball", "--target-ball")}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The 3-D options of ``search_time.py`` (its 2-D run refuses them)."""
    group.add_argument("--target-theta1", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                       help="3-D: target slab LO <= |theta1| <= HI (default for --fast-directions 2: x* ± σ*)")
    group.add_argument("--target-box", type=float, nargs=6, default=None, metavar=("C1", "C2", "C3", "W1", "W2", "W3"),
                       help="3-D: target box, centre and half-widths")
    group.add_argument("--target-ball", type=float, nargs=4, default=None, metavar=("C1", "C2", "C3", "R"),
                       help="3-D: target ball, centre and radius")


def given_3d_options(args: argparse.Namespace) -> list:
    """The 3-D-only options the user gave (the 2-D run refuses them by name)."""
    return [opt for dest, (_, opt) in TARGET_OPTIONS.items() if getattr(args, dest, None) is not None]


def main(args: argparse.Namespace, parser: cli.Parser, argv: Sequence[str] | None, wall: float) -> int:
    """The 3-D search of :mod:`fpsolve.cli.search`'s parsed options: checks, claim, solve, outputs."""
    from mpi4py import MPI

    from fpsolve.cli import solve3d as cli3d
    from fpsolve.fem import backward, ball, diagnostics, search3d, stationary3d
    from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS

    cli3d.check_dimension(args)
    given = [opt for opt, on in (("--mesh", args.mesh is not None),
                                 ("--target (the 2-D box C1 C2 W1 W2)", args.target is not None),
                                 ("--noise-covariance", args.noise_covariance is not None)) if on]
    if given:
        raise cli.UsageError(f"{', '.join(given)} not yet supported in 3-D (the ball of --radius/--center; "
                             "targets --target-theta1, --target-box, --target-ball)")
    targets = [(dest, kind, opt) for dest, (kind, opt) in TARGET_OPTIONS.items() if getattr(args, dest) is not None]
    if len(targets) > 1:
        raise cli.UsageError(f"give one target: {', '.join(opt for _, _, opt in targets)}")
    radius, center = cli3d.ball_from_args(args)
    case, level, noise_model, name, describe = cli3d.case_from_args(args, radius, center)
    solve_args: tuple = (case,) if level is None else (case, level)
    solve_kw: dict = {} if level is None else {"noise": noise_model}
    target = None
    if targets:
        dest, kind, opt = targets[0]
        target = search3d.check_target(kind, getattr(args, dest), radius, center, opt)
    start = None
    if args.start is not None:
        start = search3d.check_start(args.start, radius, center)
    if len(solve_args) == 1 and (target is None or start is None):
        raise cli.UsageError("a 3-variable --loss has no default target or start: give --target-theta1 LO HI, "
                             "--target-box C1 C2 C3 W1 W2 W3 or --target-ball C1 C2 C3 R, and --start X Y Z")
    level = solve_args[1] if len(solve_args) == 2 else case.noise_level
    if target is None:  # the valley's default: a slow marginal without a peak is refused here
        target, d_start, _ = search3d.default_target(case, level, radius, solve_kw.get("noise", "sgd"))
        start = start or d_start
    # the ball's sizes (and so every size option), and the dofs and memory they need, are checked
    # before anything is written
    comm = MPI.COMM_WORLD
    sizes = stationary3d.ball_sizes(case, level.T, radius, center, args.h_min, args.h_max,
                                    noise=solve_kw.get("noise", "sgd"))
    sizes = dataclasses.replace(sizes, planes=target.planes())
    stationary3d.check_budget(ball.predicted_dofs(sizes, args.degree), DEFAULT_MAX_DOFS,
                              stationary3d.sizes_source(sizes), comm.size, option=None)
    progress = cli.Progress("search_time.py", enabled=comm.rank == 0)
    folder = cli.case_folder_name(name, args, parser)
    out = io.claim_output(args.out or io.default_out(folder, search3d.TOOL), search3d.TOOL, args.overwrite, comm)
    from fpsolve.tools import signals as _signals

    _signals.import_fem_stack()
    progress(f"case {folder}: {describe}, P{args.degree}, {args.wall} wall, ball R={radius:g}")
    defaults = {"target": target if targets else None, "start": start if args.start is not None else None}
    run = search3d.search_case(*solve_args, **solve_kw, **defaults, wall=args.wall, with_committor=args.committor,
                               radius=radius, center=center, degree=args.degree, h_min=args.h_min,
                               h_max=args.h_max, comm=comm, progress=progress)
    s = run.summary
    from fpsolve.plots import fem3d as plots

    with io.atomic_output_dir(out, comm, search3d.TOOL, args.overwrite) as tmp:
        backward.write_fields(tmp, run.tau, run.committor)
        if comm.rank == 0:
            title = (f"{describe}, {args.wall} wall; τ(start) = {s['search_time']:.4g} "
                     f"({s['search_time_steps']:.4g} SGD steps)")
            plots.plot_search_profile_and_section(tmp / "tau.png", run.profile, run.xs, run.ys, run.tau_section,
                                                  s["start"], title, edges=target.planes(),
                                                  wall=args.wall)
            cols = list(run.profile)
            io.write_text_atomic(tmp / "tau_theta1.csv", ",".join(cols) + "\n" + "\n".join(
                ",".join(f"{v:.10g}" for v in row) for row in zip(*(run.profile[c] for c in cols))) + "\n")
            s.update(cli.run_record(argv, args, wall))
            io.write_json(tmp / "summary.json", s)
        progress("outputs written")
    diagnostics.report(s["warnings"], "search_time.py", enabled=comm.rank == 0)
    if comm.rank == 0:
        extra = (f"; 1-D formula {s['search_time_1d']:.6g}" if "search_time_1d" in s else "")
        cond = (f"; averaged over the fast conditional {s['tau_conditional']:.6g}" if "tau_conditional" in s else "")
        print(f"search time at {tuple(s['start'])}: {s['search_time']:.6g} time units = "
              f"{s['search_time_steps']:.6g} SGD steps{cond}{extra}; {s['mfpt_dofs']} dofs")
        print(f"results written to {out}")
    return 0
