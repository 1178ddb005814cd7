"""Annealing across T_c: how much flatness a cooling schedule keeps (docs/model.md §10).

Start in the flat phase (the stationary density at the model's T =
``--alpha`` × ``--Delta``, above T_c for the default double well), cool with
a cosine schedule of the step from α to ``--alpha-cold`` over K SGD steps
(``--K``, several lengths), and record mean |θ1| (and the mean flatness
E F(θ1)) when the cooling ends, from three sides:

- FEM: the transient Fokker-Planck equation with T(t) from the
  quasi-stationary density at the hot T (one mesh for all K, graded at the
  cold T);
- SDE and SGD: ``--walkers`` walkers first held ``--hold`` time units at the
  hot T from the flattest point (θ1_flat, 0), then cooled by the same
  schedule (SGD steps α_k; SDE steps ``--mc-dt`` with T(t)).

Beside them: mean |θ1| of the stationary density at the hot T (FEM) and at
the cold T (closed form of §5, valley only).  Writes ``anneal.json``,
``anneal.csv`` and ``anneal.png`` into ``--out`` (default
``results/<case-name>/anneal``), atomically.  The relaxation time
1/Re(λ1 − λ0) at the cold T (the spectrum, issue 20 item 5) is not drawn yet.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.mc import plan
from fpsolve.model.schedule import Schedule
from fpsolve.tools import io


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="anneal.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser)
    g = parser.add_argument_group("annealing (docs/model.md §10)")
    g.add_argument("--alpha-cold", type=float, default=0.01,
                   help="alpha at the end of the cosine (cold T = alpha-cold x Delta; default 0.01)")
    g.add_argument("--K", type=int, nargs="+", default=[100, 1000, 10000],
                   help="lengths of the cosine in SGD steps (default 100 1000 10000)")
    g.add_argument("--walkers", type=int, default=1000, help="walkers of each Monte-Carlo ensemble (default 1000)")
    g.add_argument("--hold", type=float, default=300.0,
                   help="Monte Carlo: time units at the hot T before cooling (default 300)")
    g.add_argument("--mc-dt", type=float, default=0.01, help="SDE step (default 0.01)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--tol", type=float, default=1e-4, help="FEM local error tolerance (default 1e-4)")
    g.add_argument("--h-min", type=float, default=None, help="mesh size of a custom model's disk (default radius/40)")
    cli.add_output_arguments(parser, "results/<case-name>/anneal")
    return parser


def _start_point(model) -> tuple:
    """The flattest point (θ1_flat, 0) of the valley (docs/model.md §1), else the origin."""
    if model.valley is not None:
        a0, a2, a4, _ = model.valley.coefficients
        if a2 < 0 and a4 > 0:
            return (math.sqrt(-a2 / (2 * a4)), 0.0)
    return (0.0, 0.0)


def _mean_se(v: np.ndarray) -> tuple:
    return (float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))) if v.size > 1 else (math.nan, math.nan)


def monte_carlo(model, schedules: dict, method: str, *, walkers: int, hold: float, dt: float, seed: int,
                radius: float, center: tuple) -> dict:
    """{K: (mean |θ1|, se, mean flatness, se, survivors)} of ``method``
    (sgd or sde): hold at the hot T from the flattest point, then cool by
    each schedule of ``schedules`` ({K: (Schedule, t_cool)})."""
    from fpsolve.mc import ensemble as mc
    from fpsolve.model import valley

    step = None if method == "sgd" else dt
    edges = (np.linspace(-1, 1, 2), np.linspace(-1, 1, 2))
    hot = mc.run(model, method=method, dt=step, walkers=walkers, time=hold, seed=seed, radius=radius, center=center,
                 sample_from=_start_point(model), burn_in=0.0, hist_edges=edges)
    alive = hot.final[hot.status == mc.ALIVE]
    out = {}
    for K, (sched, t_cool) in schedules.items():
        res = mc.run(model, method=method, dt=step, walkers=len(alive), time=t_cool, seed=seed + 1 + K,
                     radius=radius, center=center, sample_from=alive, burn_in=0.0, hist_edges=edges, schedule=sched)
        pos = res.final[res.status == mc.ALIVE]
        flat = (valley.flatness(pos[:, 0], *model.valley.coefficients[:3]) if model.valley is not None
                else np.full(len(pos), np.nan))
        out[K] = (*_mean_se(np.abs(pos[:, 0])), *_mean_se(flat), int(len(pos)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    wall = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    model, radius, center = cli.model_and_domain(args)
    model.noise_level.require_positive_T()
    if not (0 < args.alpha_cold < float("inf")):
        raise cli.UsageError(f"--alpha-cold must be a finite number > 0 (got {args.alpha_cold!r})")
    if args.alpha_cold > model.alpha:  # the cosine schedule's alpha_min > alpha0, named by the options
        raise cli.UsageError(f"--alpha-cold {args.alpha_cold:g} exceeds --alpha {model.alpha:g}: annealing cools "
                             "from --alpha down to --alpha-cold")
    if any(K < 1 for K in args.K):
        raise cli.UsageError(f"--K must be whole numbers >= 1 (got {args.K})")
    if args.walkers < 2:
        raise cli.UsageError(f"--walkers must be >= 2 (got {args.walkers})")
    for name, value in (("--hold", args.hold), ("--mc-dt", args.mc_dt)):
        if not (0 < value < float("inf")):
            raise cli.UsageError(f"{name} must be a finite number > 0 (got {value!r})")
    cli.check_tolerance(args.tol)  # the rule of solve_fp.py --tol
    plan.check_seed(args.seed, "--seed")
    schedules = {}
    for K in sorted(set(args.K)):
        sched = Schedule.named("cosine", {"K": K, "alpha_min": args.alpha_cold}, alpha=model.alpha, Delta=model.Delta)
        t_cool = float(sched.time_of(K))
        sched.check(t_cool, cli.alpha_bound(model, model.Delta, radius, tuple(center)))
        schedules[K] = (sched, t_cool)
    T_cold = args.alpha_cold * model.Delta
    from fpsolve.fem import transient as dynamics
    from fpsolve.plots.stationary import pyplot, save_figure

    comm = MPI.COMM_WORLD
    name = cli.case_folder_name(model.case_name(), args)
    out = io.claim_output(args.out or io.default_out(name, "anneal"), "anneal", args.overwrite, comm)
    say = cli.Progress("anneal.py", enabled=comm.rank == 0)
    say(f"{model.describe()}: cosine alpha {model.alpha:g} -> {args.alpha_cold:g} (T {model.T:g} -> {T_cold:g}) "
        f"over K = {sorted(schedules)} SGD steps")
    by_end = {t: s for s, t in schedules.values()}
    fem_rows, fem_info = dynamics.from_stationary(model, lambda t: by_end[t], list(by_end), mesh_T=min(T_cold, model.T),
                                                  radius=radius, center=center, tol=args.tol, h_min=args.h_min,
                                                  comm=comm)
    say(f"FEM: {fem_info['dofs']} dofs, start mean|theta1| {fem_info['start']['mean_abs_theta1']:.4g}")
    mc = {m: monte_carlo(model, schedules, m, walkers=args.walkers, hold=args.hold, dt=args.mc_dt, seed=args.seed,
                         radius=radius, center=center) for m in ("sde", "sgd")}
    cold_closed_form = None
    if model.valley is not None:
        from fpsolve.model.valley import Noise
        from fpsolve.theory.valley import mean_abs_theta1

        cold_closed_form = float(mean_abs_theta1(model.valley, Noise(args.alpha_cold, model.Delta)))
    rows = []
    for (K, (sched, t_cool)), fem in zip(schedules.items(), fem_rows):
        rows.append({"K": K, "t_cool": t_cool, "T_end": float(sched.T_k(K)),
                     "fem_mean_abs_theta1": fem["mean_abs_theta1"], "fem_mean_flatness": fem["mean_flatness"],
                     "fem_survival": fem["survival"],
                     **{f"{m}_{k}": v for m in mc for k, v in zip(
                         ("mean_abs_theta1", "mean_abs_theta1_se", "mean_flatness", "mean_flatness_se", "survivors"),
                         mc[m][K])}})
    summary = {"case": model.record(), "T_hot": model.T, "T_cold": T_cold, "alpha_cold": args.alpha_cold,
               "schedule": "cosine from alpha to alpha-cold over K SGD steps",
               "start_mean_abs_theta1_fem": fem_info["start"]["mean_abs_theta1"],
               "cold_stationary_mean_abs_theta1_closed_form": cold_closed_form,
               "fem": {k: fem_info[k] for k in ("dofs", "lambda0_start", "mesh")},
               "walkers": args.walkers, "hold": args.hold, "mc_dt": args.mc_dt, "seed": args.seed,
               "rows": rows, "versions": io.versions(), "wall_seconds": time.perf_counter() - wall}
    with io.atomic_output_dir(out, comm, "anneal", args.overwrite) as tmp:
        if comm.rank == 0:
            io.write_json(tmp / "anneal.json", summary)
            cols = list(rows[0])
            io.write_text_atomic(tmp / "anneal.csv", ",".join(cols) + "\n" + "".join(
                ",".join(f"{r[c]:.10g}" for c in cols) + "\n" for r in rows))
            plt = pyplot()
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            Ks = np.array([r["K"] for r in rows], dtype=float)
            ax.plot(Ks, [r["fem_mean_abs_theta1"] for r in rows], "ko-", label="FEM")
            for m, colour in (("sde", "tab:orange"), ("sgd", "tab:blue")):
                ax.errorbar(Ks, [r[f"{m}_mean_abs_theta1"] for r in rows],
                            yerr=[2 * r[f"{m}_mean_abs_theta1_se"] for r in rows], fmt="s--", color=colour,
                            capsize=3, label=f"{m.upper()} ±2 s.e.")
            ax.axhline(summary["start_mean_abs_theta1_fem"], color="gray", ls=":", label=f"stationary, T = {model.T:g}")
            if cold_closed_form is not None:
                ax.axhline(cold_closed_form, color="gray", ls="-.", label=f"stationary, T = {T_cold:g} (§5)")
            ax.set_xscale("log")
            ax.set_xlabel("K (SGD steps of the cosine cooling)")
            ax.set_ylabel("mean |θ1| at the end of cooling")
            ax.legend(fontsize=8)
            ax.set_title(f"{model.case_name()[:60]}: T {model.T:g} → {T_cold:g}", fontsize=9)
            save_figure(fig, tmp / "anneal.png", dpi=110)
    if comm.rank == 0:
        for r in rows:
            print(f"K = {r['K']:>7}: mean|theta1| FEM {r['fem_mean_abs_theta1']:.4g}, "
                  f"SDE {r['sde_mean_abs_theta1']:.4g} ± {r['sde_mean_abs_theta1_se']:.2g}, "
                  f"SGD {r['sgd_mean_abs_theta1']:.4g} ± {r['sgd_mean_abs_theta1_se']:.2g}")
        print(f"results written to {out}")
    return 0
