"""Search time of SGD in 2-D (and 3-D): the mean first-passage time from the backward equation (docs/model.md §8, §9).

Solves 𝓛τ = −1 off a target box (``--target C1 C2 W1 W2``: centre and
half-widths; default the window θ1* ± σ*, |θ2| ≤ sqrt(T g(θ1*)/2) around the
most probable point, as theory.search_time sets it in 1-D) with the disk's
wall reflecting (default) or absorbing, and with ``--committor`` the
probability q of reaching the target before the wall.  Writes, into ``--out``
(default ``results/<case-name>[_nocross]/search-time``), atomically:

    summary.json    parameters, versions, τ at ``--start`` in time units and
                    SGD steps (τ/alpha), the 1-D formula's value for the
                    default target and start, q at the start, the LU's
                    ``mfpt_dofs`` and ``mfpt_target_dofs``, timings
    tau.xdmf/.h5, tau.png   the field τ(θ) (heat map, target and start marked)
    committor.xdmf/.h5, committor.png   with --committor

A custom model (``--loss EXPR --param N=V --noise ...``, docs/model.md §7) runs
on the uniform disk of size ``--h-min`` (default radius/40), as solve_fp.py
meshes it with --mesh-rule graded; it has no 1-D θ1*, so its default target
is a window of the stationary peak's width around the most probable point
of the case: one stationary solve on the same mesh gives the maximum θ* of
the density P and H = −∇²ln P there; the box is θ* ± (W1, W2) with
W_i = sqrt((H⁻¹)_ii), the standard deviations of the peak's Gaussian
(Laplace) approximation, and the default start θ* + (3 W1, 0)
(summary.json: ``target_rule``, ``stationary_peak``).  The valley written
as an expression with SGD noise is the preset (same mesh, same numbers).

In three variables (``--fast-directions 2``, or a ``--loss`` in theta1,
theta2, theta3): the tetrahedral ball of ``--radius``/``--center CX CY CZ``,
targets ``--target-theta1 LO HI`` (default for the valley: x* ± σ* on
``|θ1|``), ``--target-box``, ``--target-ball``, ``--start X Y Z``, written to
``results/<case>/search-time-N3`` (:mod:`fpsolve.cli.search3d`).

Runs under ``mpirun -n N python -m mpi4py``.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from fpsolve.tools import signals as _signals
from fpsolve.cli import common as cli
from fpsolve.tools import io


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="search_time.py", description=__doc__.splitlines()[0])
    from fpsolve.cli import search3d

    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser, ball=True)
    parser.add_argument("--fast-directions", type=int, default=None, metavar="m",
                        help="the valley with m fast directions (docs/model.md §9): 1 is the 2-D search, 2 the 3-D "
                             "ball (the FEM is 3-D at most)")
    g = parser.add_argument_group("search (docs/model.md §8)")
    g.add_argument("--target", type=float, nargs=4, default=None, metavar=("C1", "C2", "W1", "W2"),
                   help="target box: centre (C1, C2) and half-widths (W1, W2) (default: around θ1*; custom "
                        "model: the stationary peak θ* ± its widths)")
    g.add_argument("--start", type=float, nargs="+", default=None, metavar="X",
                   help="where τ is reported, X Y (3-D: X Y Z) (default (θ1* + 3σ*, 0[, 0]), as theory.search_time; "
                        "custom model: θ* + (3 W1, 0))")
    search3d.add_arguments(g)
    cli.add_wall_argument(g, "reflecting", "the disk's wall: reflecting (default) or absorbing (leaving also ends the search)")
    g.add_argument("--committor", action="store_true", help="also the committor q (target before the wall)")
    cli.add_mesh_arguments(parser)
    cli.add_output_arguments(parser, "results/<case-name>[_nocross]/search-time; search-time-N3 for a "
                                     "3-variable case")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    wall = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    from fpsolve.cli import search3d, solve3d

    if solve3d.is_three_dimensional(args):  # --fast-directions 2, a --loss in theta3: the 3-D ball
        return search3d.main(args, parser, argv, wall)
    three = search3d.given_3d_options(args)
    if three:
        raise cli.UsageError(f"{', '.join(three)}: 3-D only (--fast-directions 2 or a --loss in theta3); "
                             "the 2-D target is --target C1 C2 W1 W2")
    if args.start is not None and len(args.start) != 2:
        raise cli.UsageError(f"--start takes two numbers X Y in 2-D (got {len(args.start)}: "
                             f"{' '.join(f'{v:g}' for v in args.start)})")
    model, radius, center = cli.model_and_domain(args)
    from fpsolve.fem import backward as passage, diagnostics
    from fpsolve.plots import dynamics as plotting_dynamics

    noise = model.noise_level
    if args.target is not None:
        passage.check_target(args.target, radius, center, "--target")  # inside the disk, before any meshing
    if args.start is not None:
        from fpsolve.model.valley import check_start

        check_start(args.start, radius, center)
    cli.check_mesh_arguments(args, model, radius, center)

    comm = MPI.COMM_WORLD
    mesh = cli.read_mesh_option(args, comm)  # a bad file: exit 2 here, before any computation
    progress = cli.Progress("search_time.py", enabled=comm.rank == 0)
    name = cli.case_folder_name(model.case_name(), args, parser)  # the case folder solve_fp.py uses too
    out = io.claim_output(args.out or io.default_out(name, "search-time"), "search-time", args.overwrite, comm)
    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    run = passage.search_case(model, target=args.target, start=args.start, wall=args.wall,
                              with_committor=args.committor, radius=radius,
                              center=center, degree=args.degree, mesh=mesh, h_min=args.h_min,
                              h_max=args.h_max, comm=comm, progress=progress)
    s = run.summary
    with io.atomic_output_dir(out, comm, "search-time", args.overwrite) as tmp:
        passage.write_fields(tmp, run.tau, run.committor)
        if comm.rank == 0:
            title = (f"{name}: T={noise.T:g}, {args.wall} wall; τ(start) = {s['search_time']:.4g} "
                     f"({s['search_time_steps']:.4g} SGD steps)")
            plotting_dynamics.plot_field(tmp / "tau.png", run.xs, run.ys, run.tau_grid, log=True,
                                         label="mean first-passage time τ (time units)", title=title,
                                         target=s["target"], start=s["start"])
            if run.committor_grid is not None:
                plotting_dynamics.plot_field(tmp / "committor.png", run.xs, run.ys, run.committor_grid,
                                             label="committor q (target before wall)", title=title,
                                             target=s["target"], start=s["start"])
            s.update(cli.run_record(argv, args, wall))
            io.write_json(tmp / "summary.json", s)
        progress("outputs written")
    diagnostics.report(s["warnings"], "search_time.py", enabled=comm.rank == 0)
    if comm.rank == 0:
        extra = (f"; 1-D formula {s['search_time_1d']:.6g}" if "search_time_1d" in s else "")
        print(f"search time at {tuple(s['start'])}: {s['search_time']:.6g} time units = "
              f"{s['search_time_steps']:.6g} SGD steps{extra}")
        print(f"results written to {out}")
    return 0

