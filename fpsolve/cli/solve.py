"""Stationary Fokker-Planck density of SGD on the disk (a ball in 3-D; docs/model.md §4, §9), by FEM.

Solves for the principal eigenpair (escape rate λ0, density φ0 ≥ 0 with
∫ φ0 = 1) on a disk mesh graded from the model's widths and writes, into
``--out`` (default ``results/<case-name>[_nocross]/fem``), atomically:

    summary.json    parameters, versions, T, escape rates, mass, negativity,
                    moments, mode, dofs, ranks, timings (seconds), warnings,
                    and with --mesh-rule adaptive the error estimate and cycles
    density.xdmf/.h5, density.png, marginals.png, marginals.csv
    adaptivity.png  (adaptive only) estimate and moments against dofs

Warnings (negative mass, degenerate eigenvalue, density at a reflecting
wall, tolerance not reached) go to summary.json and, one line each, stderr.

In three variables (``--fast-directions 2``, or a ``--loss`` in theta1,
theta2, theta3): the tetrahedral ball of ``--radius``/``--center CX CY CZ``,
written to ``results/<case>/fem-N3`` (:mod:`fpsolve.cli.solve3d`).

Time unit: alpha SGD steps (t = alpha k); escape_rate is per unit time,
escape_rate_per_step per SGD step.  Runs under ``mpirun -n N python -m mpi4py``.
"""

from __future__ import annotations

import time
from typing import Sequence


from fpsolve.tools import signals as _signals
from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.fem.adapt import DEFAULT_TOL
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
from fpsolve.fem.model_mesh import MESH_RULES
from fpsolve.fem.linalg import OPTIONS_PREFIX


def petsc_options(pairs: Sequence[str]) -> dict:
    """``["KEY=VALUE", ...]`` as a dict; UsageError names a malformed one."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise cli.UsageError(f"--petsc-option must be KEY=VALUE (got {pair!r})")
        out[key] = value
    return out


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="solve_fp.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser, ball=True)
    parser.add_argument("--fast-directions", type=int, default=None, metavar="m",
                        help="the valley with m fast directions (docs/model.md §9): 1 is the 2-D solve, 2 the 3-D "
                             "ball (the FEM is 3-D at most); --a0/--a2/--a4 take one number or a comma list of m")
    fem = parser.add_argument_group("discretisation")
    fem.add_argument("--degree", type=int, choices=(1, 2), default=2,
                     help="Lagrange degree (default 2; P1 fails at T=0.01, see docs/numerics.md)")
    fem.add_argument("--mesh", default=None, metavar="FILE",
                     help="a 2-D triangle mesh file meshio reads (.msh, .xdmf, .vtu, .med, ...) instead of the "
                          "graded disk (in 3-D a tetrahedral one instead of the ball); its domain comes from the file")
    cli.add_mesh_size_arguments(fem)
    cli.add_cross_diffusion_argument(fem)
    cli.add_wall_argument(fem, "absorbing", "the disk's wall: absorbing P=0 (default) or reflecting zero flux")
    fem.add_argument("--eigensolver", choices=("slepc", "inverse"), default="slepc",
                     help="shift-invert SLEPc (default) or inverse iteration (2-D only), both with LU")
    fem.add_argument("--mesh-rule", choices=MESH_RULES, default=None,
                     help="graded: one mesh from the valley's widths (a custom model's uniform disk); adaptive: "
                          "refine from a coarse disk until the error estimate is below --tol (default: graded "
                          "for the valley presets and with --h-min, adaptive for custom 2-D models; in 3-D graded "
                          "unless --tol is given)")
    fem.add_argument("--tol", type=float, default=None,
                     help=f"adaptive: relative accuracy of the moments and L1 of the density (in 3-D of the moments; "
                          f"default {DEFAULT_TOL:g})")
    fem.add_argument("--max-dofs", type=cli.whole_number, default=None,
                     help=f"dof budget (a whole number: 200000, 2e5), checked before meshing (default "
                          f"{DEFAULT_MAX_DOFS}, a 2-D solve that fits 24 GiB; in 3-D the predicted memory is checked "
                          "against the machine's too)")
    fem.add_argument("--eigenpairs", default=None, metavar="K",
                     help="also the first K eigenvalues of the generator (1..50), each with its residual, a trust "
                          "flag (checked with the shift moved and on the mesh refined once; in 3-D on a ball of "
                          "sizes / 2^(1/3)) and relaxation time, "
                          "into summary.json and spectrum.png (options: prefix fpsolve_spec_ in PETSC_OPTIONS)")
    fem.add_argument("--petsc-option", action="append", default=[], metavar="KEY=VALUE",
                     help=f"PETSc/SLEPc option for the eigen-solve, read with prefix '{OPTIONS_PREFIX}' "
                          "(e.g. eps_nev=6, st_pc_factor_mat_solver_type=mumps); repeatable")
    cli.add_output_arguments(parser, "results/<case-name>[_nocross]/fem; fem-N3 for a 3-variable case")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from fpsolve.tools import preload as _preload

    wall = time.perf_counter()
    _preload.start()  # gmsh's library maps while mpi4py and DOLFINx import
    from mpi4py import MPI

    parser = build_parser()
    args = parser.parse_args(argv)
    from fpsolve.cli import solve3d

    if solve3d.is_three_dimensional(args):  # --fast-directions 2, a --loss in theta3: the 3-D ball
        return solve3d.main(args, parser, argv, wall, petsc_options)
    # validate everything before anything is written
    model, radius, center = cli.model_and_domain(args)
    noise = model.noise_level
    if args.mesh is not None and (args.h_min is not None or args.h_max is not None):
        raise cli.UsageError("--mesh cannot be combined with --h-min/--h-max")
    if args.mesh is not None and (args.radius is not None or args.center is not None):
        raise cli.UsageError("--mesh cannot be combined with --radius/--center (the domain comes from the file)")
    if args.tol is not None:
        cli.check_tolerance(args.tol)
    if args.max_dofs is not None and args.max_dofs <= 0:
        raise cli.UsageError(f"--max-dofs must be > 0 (got {args.max_dofs!r})")
    if args.mesh_rule == "adaptive" and (args.h_min is not None or args.h_max is not None):
        raise cli.UsageError("--mesh-rule adaptive cannot be combined with --h-min/--h-max")
    options = petsc_options(args.petsc_option)
    if args.eigenpairs is not None:
        from fpsolve.fem.spectrum import check_count

        check_count(args.eigenpairs, "--eigenpairs")
    from fpsolve.fem.linalg import check_petsc_options

    check_petsc_options(options)  # a value PETSc/SLEPc refuses: one line, before any mesh
    if args.mesh is not None:
        noise.require_positive_T()
    mesh = cli.read_mesh_option(args, MPI.COMM_WORLD)  # a bad file: exit 2 here

    from fpsolve.fem import diagnostics
    from fpsolve.fem import results as fem_results
    from fpsolve.fem import stationary as solver
    from fpsolve.fem import model_mesh

    mesh_rule = args.mesh_rule or model_mesh.default_mesh_rule(model, args.h_min)
    if args.mesh is None and mesh_rule == "graded":
        # the mesh's size is predicted before meshing: refuse, one line
        model_mesh.check_budget(model_mesh.model_mesh_sizes(model, radius, center, args.h_min, args.h_max), args.degree,
                            DEFAULT_MAX_DOFS if args.max_dofs is None else args.max_dofs)
    else:
        noise.require_positive_T()

    comm = MPI.COMM_WORLD
    progress = cli.Progress("solve_fp.py", enabled=comm.rank == 0)
    name = cli.case_folder_name(model.case_name(), args, parser)
    out = io.claim_output(args.out or io.default_out(name, "fem"), "fem", args.overwrite, comm)
    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    progress(f"case {name}: {model.describe()}, P{args.degree}, {args.wall} wall, {comm.size} rank(s)")
    domain = {"radius": radius, "center": center} if mesh is None else {}
    sol = solver.solve(model, **domain, degree=args.degree,
                       wall=args.wall, mesh=mesh, h_min=args.h_min, h_max=args.h_max,
                       comm=comm, progress=progress, eigensolver=args.eigensolver, mesh_rule=mesh_rule,
                       tol=args.tol, max_dofs=args.max_dofs, petsc_options=options)
    summary = sol.summary
    if args.eigenpairs is not None:
        from fpsolve.fem import spectrum

        spectrum.add_to_summary(sol, model, int(args.eigenpairs), degree=args.degree, wall=args.wall,
                                progress=progress)
    diagnostics.report(summary.warnings, "solve_fp.py", enabled=comm.rank == 0)
    summary.add(versions=io.versions(), command={"argv": list(argv) if argv is not None else None, **vars(args)})

    fem_results.write(sol, model, out, overwrite=args.overwrite, progress=progress, wall_start=wall)
    if comm.rank == 0:
        print(f"escape rate {summary.escape_rate:.4g} (eigenvalue), {summary.escape_rate_flux:.4g} "
              f"(boundary flux); mean|theta1| {summary.mean_abs_theta1:.6g}, "
              f"std|theta1| {summary.std_abs_theta1:.6g}, Var theta2 {summary.var_theta2:.6g}")
        print(f"results written to {out}")
    return 0

