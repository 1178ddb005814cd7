"""The density of SGD in time: the transient Fokker-Planck equation (docs/model.md §8).

From a Gaussian start (``--start X Y``, ``--start-width W1 W2``; default a
narrow one, two local mesh sizes wide) to ``--t-end`` (time units, t = alpha k),
TR-BDF2 with adaptive steps (``--tol``) or fixed steps (``--dt``).  Writes,
into ``--out`` (default ``results/<case-name>[_nocross]/evolve``), atomically:

    evolution.csv   t, SGD steps, dt, survival S(t) = ∫P, E[L], E|θ1|, E θ1,
                    Var θ1, E θ2, Var θ2, E[F(θ1)] (NaN for a custom --loss:
                    the flatness is the valley's)
    evolution.png   those against t (log axis)
    density.xdmf/.h5  the density at log-spaced times (ParaView)
    evolution.gif   an animation of the density
    summary.json    parameters, versions, steps, LU count, the late-time decay
                    rate of S(t) next to the eigen-solve's λ0, final moments;
                    with --compare-mc N the SDE and the SGD ensembles'
                    curves and, for each, the largest FEM − MC
                    deviation in standard errors

A custom model (``--loss EXPR --param N=V --noise ...``, docs/model.md §7) runs
on the uniform disk of size ``--h-min`` (default radius/40), as solve_fp.py
meshes it with --mesh-rule graded; the valley written as an expression with
SGD noise is the preset (same mesh, same numbers).

A training schedule (docs/model.md §10): ``--schedule NAME`` with
``--schedule-param KEY=VALUE`` (constant, step, exponential, inverse-time,
cosine, warmup), or ``--alpha-schedule EXPR`` / ``--Delta-schedule EXPR``
in t or k; the FEM runs with T(t) = α(t)Δ(t) (evolution.csv gains T and
alpha columns, evolution.png T(t) dashed, summary.json the schedule), the
Monte-Carlo twins with the same α_k, Δ_k.  A negative or NaN value, or an α
above the SGD stability bound of §5, is refused (exit 2).

``--compare-mc N``: two Monte-Carlo twins from the same Gaussian start
density (the start positions drawn from it): the SDE (Euler–Maruyama, step
``--mc-dt``, Brownian-bridge exit test) and SGD itself (step α; SGD step k
is at t = k α), with the valley's kernels or a custom model's generated
ones (fpsolve.mc.codegen); each compared at 20 log-spaced times on its own
step grid, where the FEM steps land.

In three variables (``--fast-directions 2``, or a ``--loss`` in theta1,
theta2, theta3): ``--start X Y Z``, ``--start-width W1 W2 W3``, the ball of
``--radius``/``--center CX CY CZ``, written to ``results/<case>/evolve-N3``
(:mod:`fpsolve.cli.evolve3d`; no animation there; the schedule options as
in 2-D).

Runs under ``mpirun -n N python -m mpi4py``.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Sequence

from fpsolve.tools import signals as _signals
from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.mc import plan as mc_plan


#: Fixed steps (--t-end / --dt) a run may ask for: each is an LU solve (milliseconds), so 1e6 is
#: already about an hour; --dt 1e-300 asked for 1e303 and ran on without a word.
MAX_FIXED_STEPS = 1e6


class _Default(tuple):
    """``--start``'s default, told apart from the same numbers given (the 3-D run's default is 0 0 0)."""


DEFAULT_START = _Default((0.0, 0.0))


def check_steps(args: argparse.Namespace) -> None:
    """``--tol``/``--dt`` finite and > 0, and at most :data:`MAX_FIXED_STEPS`
    fixed steps to ``--t-end``; UsageError naming the value (2-D and 3-D runs)."""
    for name, value in (("--tol", args.tol), ("--dt", args.dt)):
        if value is not None and not (value == value and 0 < value < float("inf")):
            raise cli.UsageError(f"{name} must be a finite number > 0 (got {value!r})")
    if args.dt is not None and args.t_end / args.dt > MAX_FIXED_STEPS:
        raise cli.UsageError(f"--dt {args.dt:g} to --t-end {args.t_end:g} is {args.t_end / args.dt:.3g} fixed steps, "
                             f"more than {MAX_FIXED_STEPS:.0e} (each an LU solve): raise --dt or drop it (adaptive)")


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="evolve_fp.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser, ball=True)
    parser.add_argument("--fast-directions", type=int, default=None, metavar="m",
                        help="the valley with m fast directions (docs/model.md §9): 1 is the 2-D run, 2 the 3-D "
                             "ball (the FEM is 3-D at most); --a0/--a2/--a4 take one number or a comma list of m")
    g = parser.add_argument_group("transient (docs/model.md §8)")
    g.add_argument("--start", type=float, nargs="+", default=DEFAULT_START, metavar="X",
                   help="centre of the Gaussian start density, X Y (default 0 0, the global minimum); "
                        "X Y Z in 3-D (default 0 0 0)")
    g.add_argument("--start-width", type=float, nargs="+", default=None, metavar="W",
                   help="its standard deviations W1 W2, in 3-D W1 W2 W3 (default: two local mesh sizes)")
    g.add_argument("--t-end", type=float, default=1000.0, help="final time, time units (default 1000)")
    cli.add_wall_argument(g, "absorbing", "absorbing P=0 (default; S(t) decays at λ0) or reflecting (mass conserved)")
    steps = g.add_mutually_exclusive_group()
    steps.add_argument("--tol", type=float, default=1e-4,
                       help="local error tolerance of the adaptive steps (default 1e-4)")
    steps.add_argument("--dt", type=float, default=None, help="fixed time step instead of --tol")
    mc = parser.add_argument_group("Monte-Carlo twin")
    mc.add_argument("--compare-mc", type=int, default=None, metavar="N",
                    help="also run N SDE walkers and N SGD walkers from the same start density; curves "
                         "with ±2 s.e. bands, the largest deviation of each in standard errors in summary.json")
    mc.add_argument("--mc-dt", type=float, default=0.01, help="SDE step of --compare-mc (default 0.01)")
    mc.add_argument("--seed", type=int, default=0, help="random seed of --compare-mc (default 0)")
    cli.add_schedule_arguments(parser)
    cli.add_mesh_arguments(parser)
    cli.add_output_arguments(parser, "results/<case-name>[_nocross]/evolve; evolve-N3 for a 3-variable case")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    wall = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    from fpsolve.cli import solve3d

    if solve3d.is_three_dimensional(args):  # --fast-directions 2, a --loss in theta3: the 3-D ball
        from fpsolve.cli import evolve3d

        check_steps(args)
        return evolve3d.main(args, parser, argv, wall, None if args.start is DEFAULT_START else args.start)
    if len(args.start) != 2:
        n = len(args.start)
        raise cli.UsageError(f"--start {' '.join(f'{v:g}' for v in args.start)} has {n} number{'' if n == 1 else 's'}: "
                             "a 2-D case takes X Y (X Y Z is for --fast-directions 2 or a --loss in theta3)")
    model, radius, center = cli.model_and_domain(args)
    from fpsolve.fem import transient as dynamics

    noise = model.noise_level

    dynamics.check_start(args.start, radius, center)
    dynamics.check_t_end(args.t_end, noise.alpha, "--t-end")
    check_steps(args)
    dynamics.check_start_width(args.start_width, radius, "--start-width")
    cli.check_mesh_arguments(args, model, radius, center)
    if args.compare_mc is not None and args.compare_mc < 2:
        raise cli.UsageError(f"--compare-mc needs at least 2 walkers (got {args.compare_mc})")
    if not (0 < args.mc_dt < float("inf")):
        raise cli.UsageError(f"--mc-dt must be a finite number > 0 (got {args.mc_dt!r})")
    mc_plan.check_seed(args.seed, "--seed", mc_plan.DERIVED_SEED_LIMIT)
    schedule = cli.schedule_from_args(args, model, args.t_end, radius, center)

    comm = MPI.COMM_WORLD
    mesh = cli.read_mesh_option(args, comm)  # a bad file: exit 2 here, before any computation
    progress = cli.Progress("evolve_fp.py", enabled=comm.rank == 0)
    name = cli.case_folder_name(model.case_name(), args, parser)  # the case folder solve_fp.py uses too
    out = io.claim_output(args.out or io.default_out(name, "evolve"), "evolve", args.overwrite, comm)
    # the Monte Carlo kernels after every input check: a refused run leaves their cache alone
    from fpsolve.mc import dynamics as dynamics_mc
    from fpsolve.plots import dynamics as plotting_dynamics

    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    bar, on_time = cli.time_bar(args.t_end, comm.rank == 0 and not args.no_progress)
    times = ({} if args.compare_mc is None else
             dynamics_mc.stop_times(args.t_end, args.mc_dt, noise.alpha, schedule=schedule))
    with io.atomic_output_dir(out, comm, "evolve", args.overwrite) as tmp:
        try:
            run = dynamics.evolve_case(
                model, start=args.start, start_width=args.start_width, t_end=args.t_end,
                wall=args.wall, tol=args.tol, dt=args.dt,
                radius=radius, center=center, degree=args.degree, mesh=mesh, h_min=args.h_min,
                h_max=args.h_max, comm=comm, xdmf_path=str(tmp / "density.xdmf"), progress=progress,
                on_time=on_time, stops=sorted({float(t) for tt in times.values() for t in tt}), schedule=schedule)
        finally:  # on Ctrl-C or an error too: else tqdm redraws the bar at exit, after the one error line
            if bar is not None:
                bar.close()
        bands = None
        if args.compare_mc is not None:
            progress(f"Monte-Carlo twins: {args.compare_mc} SDE walkers (dt {args.mc_dt:g}) and "
                     f"{args.compare_mc} SGD walkers (step alpha {noise.alpha:g})")
            records = dynamics_mc.compare_with_fem(
                model, run.evolution, times, walkers=args.compare_mc, dt=args.mc_dt, seed=args.seed,
                start=args.start, start_width=run.summary["start_width"],
                radius=radius, center=center, absorbing=args.wall == "absorbing", comm=comm, schedule=schedule)
            bands = {m: r.pop("band") for m, r in records.items()}
            run.summary["compare_mc"] = {"walkers": args.compare_mc, "seed": args.seed, **records}
            progress("largest FEM - MC deviation: " + ", ".join(
                f"{m.upper()} {r['max_deviation_in_standard_errors']['all']:.2f}" for m, r in records.items())
                + " standard errors")
        if comm.rank == 0:
            s = run.summary
            title = (f"{name}: T={noise.T:g}, start {tuple(args.start)}, {args.wall} wall; "
                     f"decay rate {s['decay_rate_fit']:.4g} (λ0 {s['escape_rate_eigen']:.4g})")
            if schedule is not None:
                title += f"; schedule {schedule.describe()}"
                s["schedule"] = schedule.as_dict()
            io.write_text_atomic(tmp / "evolution.csv", dynamics.csv_text(run.evolution, noise.alpha, schedule))
            cols = {k: run.evolution.column(k)
                    for k in ("t", *dynamics.OBSERVABLES, *(("T",) if schedule is not None else ()))}
            plotting_dynamics.plot_evolution(tmp / "evolution.png", cols, title, bands)
            plotting_dynamics.write_gif(tmp / "evolution.gif", run.xs, run.ys, run.frame_times, run.frames, name)
            s.update(cli.run_record(argv, args, wall))
            io.write_json(tmp / "summary.json", s)
        progress("outputs written")
    if comm.rank == 0:
        s = run.summary
        print(f"{s['steps']} steps, S(t_end) = {s['survival_final']:.6g}; late-time decay rate "
              f"{s['decay_rate_fit']:.6g} vs lambda0 {s['escape_rate_eigen']:.6g} (eigen-solve)")
        if "compare_mc" in s:
            c = s["compare_mc"]
            print(f"Monte Carlo ({args.compare_mc} walkers each): largest FEM deviation " + ", ".join(
                f"{m.upper()} {c[m]['max_deviation_in_standard_errors']['all']:.2f}" for m in dynamics_mc.METHODS)
                + " standard errors")
        print(f"results written to {out}")
    return 0

