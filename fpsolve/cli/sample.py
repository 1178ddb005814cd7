"""Monte Carlo of SGD (or of its SDE) on the loss landscape (docs/model.md §2-3).

Runs ``--walkers`` independent trajectories for ``--steps`` (or ``--time`` in
units of alpha SGD steps), absorbing at the disk ``--radius``/``--center``, and
writes to ``--out`` (default ``results/<case-name>/montecarlo-<method>[-nocross]``):

- ``summary.json``: every parameter, versions, moments over the stationary
  window with standard errors (``mean_abs_theta1``, ``std_abs_theta1``,
  ``var_theta2``, ...), ``survival_fraction``, ``walker_steps_per_second``,
  ``wall_seconds``;
- ``hist.npz``: the 2-D histogram and its edges, the θ1 and |θ1| marginals,
  the survival curve (and first-passage times with ``--target``);
- ``marginals.png``: the θ1 and |θ1| densities, the 2-D histogram, survival.

A training schedule (docs/model.md §10: ``--schedule NAME`` with
``--schedule-param KEY=VALUE``, ``--alpha-schedule EXPR``,
``--Delta-schedule EXPR``): SGD step k takes α_k and Δ_k and ends at
t_{k+1} = Σ_{j≤k} α_j; the SDE reads T(t) at each step.

Under MPI (``mpirun -n N python -m mpi4py scripts/sample_sgd.py``) the walkers
are split across ranks; the numbers are the same as in a serial run.

In N dimensions (docs/model.md §9): ``--fast-directions m`` samples the valley
with m fast directions (N = m + 1; the preset's g for each), and a ``--loss``
in theta1 ... thetaN (N > 2) an N-variable model; the run is the
N-dimensional Monte Carlo (:mod:`fpsolve.mc.nensemble`), absorbing at the
sphere ``--radius`` around the origin, and writes ``summary.json`` (θ1's
moments and histogram, every coordinate's mean and variance ``mean_theta``,
``var_theta``, for the valley ``var_y``, the mean loss and flatness or tr H,
survival; ``symmetry``: the model's sign flips and interchangeable
coordinates, the means they make 0 checked against 0 and the variances
pooled over each class, ``var_theta_pooled``, docs/model.md §9),
``hist.npz`` and ``nmarginals.png``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.mc import plan as mc_plan
from fpsolve.model import valley as model
from fpsolve.plots.stationary import fit_title, pyplot, save_figure
from fpsolve.model.target import Box


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="sample_sgd.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser)
    mc = parser.add_argument_group("Monte Carlo")
    mc.add_argument("--method", choices=mc_plan.METHODS, default="sgd",
                    help="sgd: the algorithm itself; sde: Euler-Maruyama of its SDE (default sgd)")
    mc.add_argument("--shift", choices=mc_plan.SHIFTS, default="linear",
                    help="minibatch loss of SGD: linear L - xi.grad L, or exact L(theta - xi) (default linear)")
    cli.add_cross_diffusion_argument(mc)
    mc.add_argument("--dt", type=float, default=None, help="SDE time step (default alpha)")
    mc.add_argument("--no-bridge", action="store_true",
                    help="SDE: drop the Brownian-bridge exit test (docs/model.md §8; on by default)")
    mc.add_argument("--walkers", type=int, default=4000, help="independent walkers (default 4000)")
    length = mc.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="number of steps")
    length.add_argument("--time", type=float, default=None,
                        help="run length in time units t = alpha*k (default 3000)")
    mc.add_argument("--burn-in", type=float, default=None,
                    help="start of the stationary window, time units (default a third of the run)")
    mc.add_argument("--sample-interval", type=float, default=None,
                    help="time between samples in the window (default 1, at least one step)")
    mc.add_argument("--start", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                    help="start point of every walker (default 0 0)")
    mc.add_argument("--target", type=float, nargs=4, default=None, metavar=("C1", "C2", "W1", "W2"),
                    help="first-passage target |theta1-C1| < W1 and |theta2-C2| < W2")
    mc.add_argument("--bins", type=int, nargs=2, default=(400, 400), metavar=("NX", "NY"),
                    help="histogram bins (default 400 400)")
    mc.add_argument("--hist-range", type=float, nargs=4, default=None,
                    metavar=("XMIN", "XMAX", "YMIN", "YMAX"),
                    help="histogram range (default the disk's bounding box)")
    mc.add_argument("--no-absorption", action="store_true",
                    help="walkers do not stop at the disk, only when they diverge (non-finite or |theta - center| >= 1e10)")
    mc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    mc.add_argument("--threads", type=int, default=None, help="numba threads (default all cores)")
    mc.add_argument("--fast-directions", type=int, default=None, metavar="M",
                    help="the valley with M fast directions, N = M + 1 (docs/model.md §9; default: 1, "
                         "the two-variable run)")
    cli.add_schedule_arguments(parser)
    cli.add_output_arguments(parser, "results/<case-name>/montecarlo-<method>[-nocross]")
    return parser


def _check(args, noise: model.Noise, radius: float, center: tuple[float, float], user_model=None) -> mc_plan.RunPlan:
    """The run's rules (``mc_plan.check_run``, ``check_seed`` and ``check_start``, stated
    there once), then the command-line checks they cannot see; raise
    ModelError/UsageError naming the value; return the run's plan.  An SGD
    step longer than the run is blamed on ``--alpha`` when α is above the
    model's stability bound (``user_model``, docs/model.md §5), else on the run's length."""
    if user_model is not None and args.method == "sgd" and args.steps is None:
        length = 3000.0 if args.time is None else args.time
        if math.isfinite(length) and length > 0 and round(length / noise.alpha) < 1:
            from fpsolve.theory.stability import alpha_bound

            bound = alpha_bound(user_model, noise.Delta, radius, center)
            if noise.alpha > bound:
                raise cli.UsageError(f"--alpha {noise.alpha:g} exceeds the SGD stability bound alpha < {bound:.6g} "
                                     f"(docs/model.md §5), and one step would outlast the run (--time {length:g})")
    plan = mc_plan.check_run(noise, method=args.method, shift=args.shift, cross=not args.no_cross_diffusion,
                                walkers=args.walkers, dt=args.dt, radius=radius, burn_in=args.burn_in,
                                sample_interval=args.sample_interval, **_length(args))
    model.check_start(args.start, math.inf if args.no_absorption else radius, center)
    if args.method == "sgd" and args.no_bridge:
        raise cli.UsageError("--no-bridge applies to --method sde")
    if min(args.bins) < 1:
        raise cli.UsageError(f"--bins must be >= 1 (got {args.bins[0]} {args.bins[1]})")
    if args.hist_range is not None:
        x0, x1, y0, y1 = args.hist_range
        if not all(map(math.isfinite, args.hist_range)) or x1 <= x0 or y1 <= y0:
            raise cli.UsageError("--hist-range needs finite XMIN < XMAX and YMIN < YMAX")
    if args.target is not None and not (all(map(math.isfinite, args.target))
                                        and args.target[2] > 0 and args.target[3] > 0):
        raise cli.UsageError("--target needs finite C1 C2 and widths W1 W2 > 0")
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise cli.UsageError(f"--threads must be in [1, {MAX_THREADS}] (the cores numba may use; got {args.threads})")
    mc_plan.check_seed(args.seed, "--seed")
    return plan


#: Most numba threads (``mc_plan.max_threads``, read without importing numba).
MAX_THREADS = mc_plan.max_threads()


def _length(args) -> dict:
    """``steps`` or ``time`` of the run (default time 3000)."""
    return {"steps": args.steps} if args.steps is not None else {"time": 3000.0 if args.time is None else args.time}


def plot(path: Path, result: "fpsolve.mc.ensemble.MonteCarloResult", title: str, schedule=None) -> None:
    plt = pyplot()

    xedges, yedges = result.edges
    fig, ax = plt.subplots(2, 2, figsize=(10, 8))
    for a, counts, edges, label in ((ax[0, 0], result.hist_theta1, xedges, "θ1"),
                                    (ax[0, 1], result.hist_abs_theta1, result.abs_edges, "|θ1|")):
        total = max(counts.sum(), 1)
        a.stairs(counts / (total * np.diff(edges)), edges)
        a.set_xlabel(label)
        a.set_ylabel("density (window samples)")
    h = ax[1, 0].pcolormesh(xedges, yedges, result.hist.T, shading="flat")
    fig.colorbar(h, ax=ax[1, 0], label="counts")
    ax[1, 0].set_xlabel("θ1")
    ax[1, 0].set_ylabel("θ2")
    times, fraction = result.survival
    ax[1, 1].plot(times, fraction)
    ax[1, 1].set_xlabel("time (alpha steps)")
    ax[1, 1].set_ylabel("surviving fraction")
    ax[1, 1].set_ylim(0, 1.02)
    if schedule is not None:  # T(t) of the schedule (docs/model.md §10), dashed on a twin axis
        twin = ax[1, 1].twinx()
        twin.plot(times, schedule.T(times), "r--", lw=1.0)
        twin.set_ylabel("T(t) = α(t)Δ(t) (dashed)", color="tab:red")
    fig.suptitle(fit_title(title, fig.get_figwidth()))
    save_figure(fig, path, dpi=90)


def _n_dimensional(args) -> bool:
    """Is this an N-dimensional run (``--fast-directions`` > 1 or a loss in theta3 ...)?"""
    from fpsolve.model.expression import count_variables

    return (args.fast_directions is not None and args.fast_directions != 1) or (
        args.loss is not None and count_variables(args.loss) > 2)


def _check_n(args, n: int) -> None:
    """The command-line rules of the N-dimensional run (the run's own rules: nensemble.run)."""
    two_d = [opt for opt, given in (("--target", args.target is not None), ("--hist-range", args.hist_range is not None),
                                    ("--center", args.center is not None),
                                    ("--start", tuple(args.start) != (0.0, 0.0)),
                                    ("--schedule", args.schedule is not None or bool(args.schedule_param)),
                                    ("--alpha-schedule", args.alpha_schedule is not None),
                                    ("--Delta-schedule", args.Delta_schedule is not None)) if given]
    if two_d:
        raise cli.UsageError(f"{', '.join(two_d)} apply to the two-variable run only; in N = {n} dimensions walkers "
                             "start at the origin, the centre of the sphere, under a constant noise level")
    if args.method == "sgd" and args.no_bridge:
        raise cli.UsageError("--no-bridge applies to --method sde")
    if args.bins[0] < 1:
        raise cli.UsageError(f"--bins must be >= 1 (got {args.bins[0]})")
    if args.threads is not None and args.threads < 1:
        raise cli.UsageError(f"--threads must be >= 1 (got {args.threads})")


def plot_n(path: Path, result: "fpsolve.mc.nensemble.NMonteCarloResult", title: str) -> None:
    """θ1 and |θ1| densities, every coordinate's variance, the loss and flatness (or tr H) along the run."""
    plt = pyplot()
    s = result.summary
    fig, ax = plt.subplots(2, 2, figsize=(10, 8))
    for counts, edges, label in ((result.hist_theta1, result.xedges, "θ1"),
                                 (result.hist_abs_theta1, result.abs_edges, "|θ1|")):
        ax[0, 0].stairs(counts / (max(counts.sum(), 1) * np.diff(edges)), edges, label=label)
    ax[0, 0].set_xlabel("θ1 (slow coordinate)")
    ax[0, 0].set_ylabel("density (window samples)")
    ax[0, 0].legend()
    if s.var_theta is not None:
        j = np.arange(1, s.N + 1)
        ax[0, 1].errorbar(j, s.var_theta, yerr=s.standard_error("var_theta"), fmt=".", ms=3)
        ax[0, 1].set_xscale("log" if s.N > 20 else "linear")
    ax[0, 1].set_xlabel("coordinate j (1: θ1; valley: 2 ... N the fast y_i)")
    ax[0, 1].set_ylabel("Var θ_j (window)")
    times, loss, shape, alive = result.series
    ax[1, 0].plot(times, loss, label="mean loss")
    ax[1, 0].plot(times, shape, label="mean flatness F" if s.family == "valley" else "mean tr H")
    ax[1, 0].set_xlabel("time (alpha steps)")
    ax[1, 0].legend()
    ax[1, 1].plot(*result.survival)
    ax[1, 1].set_xlabel("time (alpha steps)")
    ax[1, 1].set_ylabel("surviving fraction")
    ax[1, 1].set_ylim(0, 1.02)
    fig.suptitle(fit_title(title, fig.get_figwidth()))
    save_figure(fig, path, dpi=90)


def main_n(args, parser: cli.Parser) -> int:
    """The N-dimensional run (docs/model.md §9): checks, run, outputs."""
    ball, _ = cli.domain_from_args(args)
    radius = math.inf if args.no_absorption else ball
    if args.fast_directions is not None:
        m = args.fast_directions
        if m < 1:
            raise cli.UsageError(f"--fast-directions must be >= 1 (got {m})")
        if args.loss is not None:
            raise cli.UsageError("--fast-directions samples the valley; a --loss brings its own theta1 ... thetaN")
        if m + 1 > mc_plan.MAX_DIMENSION:
            raise cli.UsageError(f"--fast-directions {m}: N = {m + 1} is beyond the {mc_plan.MAX_DIMENSION} "
                                 "dimensions a run takes")
        if args.noise_covariance is not None:
            raise cli.UsageError("--noise-covariance needs N = 2 (the valley in N dimensions takes --noise)")
        noise = cli.noise_from_args(args)
        case = cli.nvalley_from_args(args, ball)
        noise_model = "sgd-diagonal" if args.no_cross_diffusion else (args.noise or "sgd")
        if args.no_cross_diffusion and args.noise not in (None, "sgd-diagonal"):
            raise cli.UsageError("--no-cross-diffusion is --noise sgd-diagonal; it cannot be combined with another --noise")
        sampled, n = (case, noise), m + 1
        name = cli.nvalley_case_name(case, noise, noise_model)
        describe = f"valley m={m} ({case.name}), noise {noise_model}, T={noise.T:g}"
    else:
        case = cli.user_model_from_args(args)
        n = case.n_variables
        case.check_formulas(radius, np.zeros(n))
        mc_plan.check_bounded_below(case, radius)
        sampled, noise_model, noise = (case,), case.noise, case.noise_level
        name, describe = case.case_name(), f"N={n}: {case.describe()}"
    _check_n(args, n)
    plan = mc_plan.check_run(noise, method=args.method, shift=args.shift, walkers=args.walkers, dt=args.dt,
                                radius=radius, burn_in=args.burn_in, sample_interval=args.sample_interval,
                                **_length(args))
    if args.shift == "exact" and noise_model != "sgd":
        raise cli.UsageError(f"--shift exact is the random shift of --noise sgd (got noise {noise_model})")
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
    rank = 0 if comm is None else comm.rank
    import numba

    if args.threads is not None:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    # a run larger than the machine: one line with the predicted figure, before anything is written
    mc_plan.check_memory(plan, args.walkers, (args.bins[0], 1), comm=comm, threads=numba.get_num_threads(),
                         bytes_per_walker=mc_plan.bytes_per_walker_n(n), what=f" in N = {n} dimensions")
    tool = f"montecarlo-{args.method}-N{n}"
    out = io.claim_output(args.out or io.default_out(cli.case_folder_name(name, args, parser), tool), tool,
                          args.overwrite, comm)
    say = cli.Progress("sample_sgd.py", enabled=rank == 0)
    say(f"{args.method} ({args.shift if args.method == 'sgd' else 'SDE'}), {describe}, {args.walkers} walkers, "
        f"{_length(args)}")
    kw = {"noise_model": noise_model} if len(sampled) == 2 else {}
    from fpsolve.mc import nensemble  # the numba kernels, after every input check

    result = nensemble.run(*sampled, **kw, method=args.method, shift=args.shift, walkers=args.walkers, dt=args.dt,
                           seed=args.seed, radius=radius, bins=args.bins[0], burn_in=args.burn_in,
                           sample_interval=args.sample_interval, comm=comm,
                           bridge=False if args.no_bridge else None, **_length(args))
    s = result.summary
    summary = {**s.as_dict(), "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
               "versions": io.versions()}
    with io.atomic_output_dir(out, comm, tool, args.overwrite) as tmp:
        if rank == 0:
            io.write_json(tmp / "summary.json", summary)
            np.savez_compressed(tmp / "hist.npz", hist_theta1=result.hist_theta1, xedges=result.xedges,
                                hist_abs_theta1=result.hist_abs_theta1, abs_edges=result.abs_edges,
                                survival_times=result.survival[0], survival_fraction=result.survival[1],
                                series_times=result.series[0], series_loss=result.series[1],
                                series_shape=result.series[2], series_alive=result.series[3])
            plot_n(tmp / "nmarginals.png", result, f"{args.method}: {describe}")
    if rank == 0:
        if s.mean_abs_theta1 is not None:
            extra = f", mean Var y_i = {s.var_y_mean:.6g}" if s.var_y_mean is not None else ""
            say(f"mean|θ1| = {s.mean_abs_theta1:.6g} ± {s.mean_abs_theta1_se:.2g}, "
                f"std|θ1| = {s.std_abs_theta1:.6g}{extra}")
        sym = s.symmetry or {}
        if "broken_sampler" in sym:
            zero = sym["zero_by_symmetry"]
            worst = max([zero["max_abs_z"] or 0.0] + [c["max_abs_spread_z"] for c in sym["pooled_variance"]])
            say(f"symmetries: {len(sym['model']['sign_flips'])} sign flips, "
                f"{len(sym['model']['interchangeable'])} class(es) of interchangeable coordinates; "
                f"largest |z| of the checks {worst:.3g} (limit {sym['flag_threshold_se']:.3g})"
                + ("; WARNING: beyond the limit, the sampler breaks a symmetry" if sym["broken_sampler"] else ""))
        say(f"survival {s.survival_fraction:.4g}, {s.coordinate_updates_per_second:.3g} coordinate-updates/s")
        print(out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if _n_dimensional(args):
        return main_n(args, parser)
    model, radius, center = cli.model_and_domain(args)
    plan = _check(args, model.noise_level, radius, center, model)
    if args.shift == "exact" and model.noise != "sgd":
        raise cli.UsageError(f"--shift exact is the random shift of --noise sgd (got noise {model.noise})")
    length = _length(args)
    schedule = cli.schedule_from_args(args, model, length.get("time", None if args.method == "sgd" else
                                                              length.get("steps", 0) * plan.step_time),
                                      radius, center, steps=length.get("steps"))
    # the valley's own kernels where they apply (the preset path), else kernels generated from the model
    preset_path = args.loss is None and (model.noise == "sgd" or (model.noise == "sgd-diagonal" and args.method == "sde"))
    landscape, noise = model.valley, model.noise_level
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
    rank = 0 if comm is None else comm.rank
    # a run larger than the machine: one line now, not a MemoryError later
    mc_plan.check_memory(plan, args.walkers, tuple(args.bins), comm=comm, threads=args.threads or MAX_THREADS)
    if args.hist_range is None:
        x0, x1, y0, y1 = center[0] - radius, center[0] + radius, center[1] - radius, center[1] + radius
    else:
        x0, x1, y0, y1 = args.hist_range
    edges = (np.linspace(x0, x1, args.bins[0] + 1), np.linspace(y0, y1, args.bins[1] + 1))
    target = None if args.target is None else Box.from_numbers(args.target)
    name = cli.case_folder_name(cli.case_name(landscape, noise) if preset_path else model.case_name(), args, parser)
    tool = f"montecarlo-{args.method}" + ("-nocross" if args.no_cross_diffusion else "")
    out = io.claim_output(args.out or io.default_out(name, tool), tool, args.overwrite, comm)
    say = cli.Progress("sample_sgd.py", enabled=rank == 0)
    say(f"{args.method} ({args.shift if args.method == 'sgd' else 'SDE'}), {model.describe()}, "
        f"{args.walkers} walkers, {length}")

    import numba

    from fpsolve.mc import ensemble as montecarlo  # the numba kernels, after every input check

    if args.threads is not None:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    bar = None
    if rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=None, unit="step", file=sys.stderr, desc="sampling", mininterval=0.5)

    def progress(done: int, total: int) -> None:
        if bar.total is None:
            bar.total = total
        bar.update(done - bar.n)

    sampled = (landscape, noise) if preset_path else (model,)
    try:
        result = montecarlo.run(
            *sampled, method=args.method, shift=args.shift, cross=model.cross if preset_path else True,
            walkers=args.walkers, dt=args.dt, seed=args.seed, center=center,
            bridge=False if args.no_bridge else None,
            radius=math.inf if args.no_absorption else radius,
            hist_edges=edges, sample_from=tuple(args.start), target=target, burn_in=args.burn_in,
            sample_interval=args.sample_interval, comm=comm, progress=progress if bar is not None else None,
            schedule=schedule, **length)
    finally:  # also on Ctrl-C: the bar's line ends before the message
        if bar is not None:
            bar.close()
    s = result.summary
    summary = {**s.as_dict(), "model": model.as_dict(), "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
               "versions": io.versions()}
    with io.atomic_output_dir(out, comm, tool, args.overwrite) as tmp:
        if rank == 0:
            io.write_json(tmp / "summary.json", summary)
            extra = {} if target is None else {"first_passage_times": result.first_passage}
            np.savez_compressed(tmp / "hist.npz", hist=result.hist, xedges=result.edges[0],
                                yedges=result.edges[1], hist_theta1=result.hist_theta1,
                                hist_abs_theta1=result.hist_abs_theta1, abs_edges=result.abs_edges,
                                survival_times=result.survival[0], survival_fraction=result.survival[1],
                                **extra)
            plot(tmp / "marginals.png", result, f"{args.method}: {model.describe()}"
                 + ("" if schedule is None else f"; schedule {schedule.describe()}"), schedule)
    if rank == 0:
        num = {k: float("nan") if v is None else v for k, v in
               (("mean_abs_theta1", s.mean_abs_theta1), ("mean_abs_theta1_se", s.mean_abs_theta1_se),
                ("std_abs_theta1", s.std_abs_theta1), ("var_theta2", s.var_theta2))}
        say(f"mean|θ1| = {num['mean_abs_theta1']:.6g} ± {num['mean_abs_theta1_se']:.2g}, "
            f"std|θ1| = {num['std_abs_theta1']:.6g}, Var θ2 = {num['var_theta2']:.6g}, "
            f"survival {s.survival_fraction:.4g}, {s.walker_steps_per_second:.3g} walker-steps/s")
        print(out)
    return 0

