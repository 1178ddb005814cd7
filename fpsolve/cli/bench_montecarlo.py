"""Speed and memory of the Monte Carlo samplers (fpsolve.mc.ensemble).

Speed: walker-steps per second of the numba SGD sampler (linear shift, the
default case: double well, alpha = 0.05, Delta = 1) for each thread count in
``--threads``, against the plain vectorised numpy reference of the same
update; the best of ``--repeat`` runs (the machine may be shared).

Memory: peak resident memory (RSS) of a run with ``--memory-walkers`` walkers,
for ``--memory-steps`` and ten times as many steps: it must stay the
per-walker state (O(walkers)) plus the histograms, independent of the number
of steps.  ``--memory-walkers 1000000 --memory-steps 10000`` (and its 1e5-step
partner) is the full-size check; ``--quick`` is the test's small version.

Custom models (docs/model.md §7): the same SGD rate (all threads) on models
given as expressions, whose kernels fpsolve.mc.codegen generates, against the
preset kernel; and the time of a new expression's first run (sympy
derivation + numba compilation) in a fresh kernel cache, then in a new
process that finds the cache.

N dimensions (docs/model.md §9): coordinate-updates per second (walkers ×
steps × N / s) of the valley's O(N) SDE kernel (fpsolve.mc.nensemble: sgd
noise, T = 0.01, dt = 0.01, no absorbing wall: every walker runs every step;
the rate counts the steps taken) with m = 1, 10, 100, 1000
fast directions, for each thread count, by wall clock and per CPU-second
(CPU time of all threads); about ``--ndim-updates`` coordinate updates per
run.  With it, the time of the closed forms of one (T, m)
(:func:`fpsolve.theory.nvalley.predictions` with the search time, the same
noise), the best of ``--closed-form-repeat`` calls.  ``--ndim-only`` runs
these two tables alone.

Writes ``bench.json`` (all parameters, versions, the table) to ``--out``
(default ``results/bench_montecarlo``) and prints the table.
"""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Sequence

import numpy as np

from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.mc import plan as mc_plan
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Landscape, ModelError, Noise
from fpsolve.model.expression import Model

#: Custom models of the speed table (loss, constants, noise).
CUSTOM_MODELS = (
    ("preset as expression", "0.5*(a0 + a2*theta1**2 + a4*theta1**4)*theta2**2 + 0.5*eps*theta1**2",
     {"a0": 1.0, "a2": -1.0, "a4": 0.5, "eps": 0.01}, "sgd"),
    ("two-layer linear net", "0.5*(theta1*theta2 - 1)**2", {}, "sgd"),
    ("curved valley, isotropic", "2.5*(theta2 - theta1**2 + 0.5)**2 + 0.25*theta1**2", {}, "isotropic"),
    ("curved valley, user covariance", "2.5*(theta2 - theta1**2 + 0.5)**2 + 0.25*theta1**2", {},
     ("Delta*(1 + theta1**2)", "0.5*Delta*theta1*theta2", "Delta*(1 + theta2**2)")),
)

#: A first run of a new expression, timed in a child process (the kernel cache
#: folder comes from FPSOLVE_CACHE).
_FIRST_RUN = """
import time
t = time.perf_counter()
from fpsolve.mc import ensemble as montecarlo
from fpsolve.model.expression import Model
t0 = time.perf_counter()
m = Model.from_expression({expr!r}, noise="sgd", alpha=0.05, Delta=1.0)
montecarlo.run(m, walkers=10, steps=10)
print(time.perf_counter() - t0)
"""

#: Bytes of per-walker state in run(): x, y, acc (7 floats), key, index,
#: exit and first-passage steps, status, start position (2 floats).
STATE_BYTES_PER_WALKER = 8 * (2 + 7 + 1 + 1 + 2 + 2) + 1


def rss_mib() -> float:
    """Current resident set size, MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False if not possible.

    Without it the peak would include earlier, unrelated high-water marks
    (numba compiling the kernels takes far more memory than a run).
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """Peak resident set size since the last reset, MiB (VmHWM of /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def speed(engine: str, walkers: int, steps: int, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU-time rate (walker-steps per second).

    The CPU-time rate (CPU seconds of all threads) is what a core delivers
    when it is not shared; times the number of free cores, it estimates a
    quiet machine's throughput.
    """
    from fpsolve.mc import ensemble as montecarlo  # numba kernels: only once the input is checked

    landscape, noise = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    best = best_cpu = 0.0
    for r in range(repeat):
        cpu = time.process_time()
        res = montecarlo.run(landscape, noise, walkers=walkers, steps=steps, seed=r, engine=engine)
        cpu = time.process_time() - cpu
        best = max(best, res.summary.walker_steps_per_second)
        best_cpu = max(best_cpu, walkers * steps / cpu)
    return best, best_cpu


def memory(walkers: int, steps: int, bins: int) -> dict:
    """Peak RSS of runs of ``steps`` and ``10 * steps`` steps (see the module doc)."""
    import numba

    from fpsolve.mc import ensemble as montecarlo

    landscape, noise = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    edges = (np.linspace(-2, 2, bins + 1), np.linspace(-2, 2, bins + 1))
    montecarlo.run(landscape, noise, walkers=10, steps=10, hist_edges=edges)  # load the kernel
    gc.collect()
    base = rss_mib()
    rows = []
    reset = True
    for n_steps in (steps, 10 * steps):
        reset = reset_peak_rss() and reset
        t0 = time.perf_counter()
        montecarlo.run(landscape, noise, walkers=walkers, steps=n_steps, hist_edges=edges,
                       survival_points=201)
        gc.collect()
        rows.append({"steps": n_steps, "peak_rss_mib": peak_rss_mib(), "wall_seconds": time.perf_counter() - t0})
    hist_mib = 8 * (bins * bins + 2 * bins) * numba.get_num_threads() / 2 ** 20
    return {"walkers": walkers, "bins": bins, "baseline_rss_mib": base, "peak_reset_per_run": reset,
            "state_mib": walkers * STATE_BYTES_PER_WALKER / 2 ** 20,
            "histograms_mib": hist_mib, "runs": rows,
            "peak_increase_mib": rows[0]["peak_rss_mib"] - base,
            "growth_with_10x_steps_mib": rows[1]["peak_rss_mib"] - rows[0]["peak_rss_mib"]}



def custom_speed(walkers: int, steps: int, repeat: int, preset_rate: float) -> list:
    """SGD rate (linear shift, all threads) of each custom model vs the preset kernel."""
    from fpsolve.mc import ensemble as montecarlo

    rows = []
    for name, expr, params, noise in CUSTOM_MODELS:
        m = Model.from_expression(expr, params, noise, alpha=0.05, Delta=1.0)
        montecarlo.run(m, walkers=10, steps=10)  # compile / load
        best = 0.0
        for r in range(repeat):
            res = montecarlo.run(m, walkers=walkers, steps=steps, seed=r)
            best = max(best, res.summary.walker_steps_per_second)
        rows.append({"model": name, "loss": expr, "noise": noise if isinstance(noise, str) else list(noise),
                     "walker_steps_per_second": best, "vs_preset_kernel": best / preset_rate})
    return rows


def compile_times(expr: str) -> dict:
    """Seconds of the first run of a new expression: in a fresh kernel cache
    (derivation + numba compilation) and then in a new process with the cache."""
    out = {"loss": expr}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FPSOLVE_CACHE": cache}
        for key in ("first_seconds", "cached_seconds"):
            res = subprocess.run([sys.executable, "-c", _FIRST_RUN.format(expr=expr)], env=env,
                                 capture_output=True, text=True, check=True)
            out[key] = float(res.stdout.split()[-1])
    return out


#: Fast directions of the N-dimensional table.
NDIM_FAST_DIRECTIONS = (1, 10, 100, 1000)


def ndim_speed(updates: float, threads: Sequence[int], repeat: int) -> list:
    """Rows (m, N, threads, walkers, steps, coordinate-updates/s, walker-steps/s,
    coordinate-updates per CPU-second) of the valley's N-dimensional SDE
    kernel, the best of ``repeat`` runs (wall and CPU time: on a shared
    machine the CPU-time rate times the free cores is the quiet machine's)."""
    import numba

    from fpsolve.mc import nensemble  # numba kernels: only once the input is checked

    rows = []
    noise = Noise(0.05, 0.2)
    for m in NDIM_FAST_DIRECTIONS:
        n = m + 1
        walkers = max(64, min(20_000, int(updates ** 0.5 / n ** 0.5)))
        steps = max(10, int(updates / (walkers * n)))
        valley = NValley.from_preset("double-well", fast_directions=m)
        nensemble.run(valley, noise, method="sde", dt=0.01, walkers=64, steps=2, seed=0)  # compile / load
        for t in threads:
            numba.set_num_threads(t)
            best = best_cpu = 0.0
            for r in range(repeat):
                cpu = time.process_time()
                res = nensemble.run(valley, noise, method="sde", dt=0.01, walkers=walkers, steps=steps, seed=r,
                                    radius=float("inf"))
                cpu = time.process_time() - cpu
                best = max(best, res.summary.coordinate_updates_per_second)
                best_cpu = max(best_cpu, res.summary.walker_steps_done * n / cpu if cpu > 0 else 0.0)
            rows.append({"m": m, "N": n, "threads": t, "walkers": walkers, "steps": steps,
                         "coordinate_updates_per_second": best, "walker_steps_per_second": best / n,
                         "coordinate_updates_per_cpu_second": best_cpu,
                         "survival_fraction": res.summary.survival_fraction})
    return rows


def closed_form_ms(repeat: int) -> list:
    """Rows (m, N, T, milliseconds): the best of ``repeat`` calls of
    :func:`fpsolve.theory.nvalley.predictions` (with the search time) for the
    N-dimensional table's valleys and noise (the first call, untimed, warms
    the caches)."""
    from fpsolve.theory import nvalley

    noise = Noise(0.05, 0.2)
    rows = []
    for m in NDIM_FAST_DIRECTIONS:
        valley = NValley.from_preset("double-well", fast_directions=m)
        nvalley.predictions(valley, noise)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            nvalley.predictions(valley, noise)
            best = min(best, time.perf_counter() - t0)
        rows.append({"m": m, "N": m + 1, "T": noise.T, "repeat": repeat, "milliseconds": 1e3 * best})
    return rows


def print_closed_forms(rows: list) -> None:
    print(f"{'m':>5s} {'N':>5s} {'closed forms (ms)':>18s}")
    for r in rows:
        print(f"{r['m']:5d} {r['N']:5d} {r['milliseconds']:18.2f}")


def print_ndim(rows: list) -> None:
    print(f"{'m':>5s} {'N':>5s} {'threads':>7s} {'walkers':>8s} {'steps':>7s} {'coord-updates/s':>16s} "
          f"{'walker-steps/s':>15s} {'per CPU-second':>15s}")
    for r in rows:
        print(f"{r['m']:5d} {r['N']:5d} {r['threads']:7d} {r['walkers']:8d} {r['steps']:7d} "
              f"{r['coordinate_updates_per_second']:16.3e} {r['walker_steps_per_second']:15.3e} "
              f"{r['coordinate_updates_per_cpu_second']:15.3e}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="bench_montecarlo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=200_000, help="walkers of the speed runs")
    parser.add_argument("--steps", type=int, default=500, help="steps of the speed runs")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="numba thread counts to time (default 1 and all)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--memory-walkers", type=int, default=1_000_000)
    parser.add_argument("--memory-steps", type=int, default=1000,
                        help="steps of the first memory run (the second has 10x)")
    parser.add_argument("--bins", type=int, default=400, help="histogram bins per axis")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (the test): 20000 walkers x 100 steps, memory 100000 x 20/200, "
                             "N-dimensional runs of 2e6 coordinate updates, closed forms best of 2")
    parser.add_argument("--ndim-updates", type=float, default=2e8,
                        help="coordinate updates per N-dimensional run (default 2e8)")
    parser.add_argument("--closed-form-repeat", type=int, default=20,
                        help="closed forms of one (T, m): best of this many calls (default 20)")
    parser.add_argument("--ndim-only", action="store_true", help="only the N-dimensional tables")
    cli.add_output_arguments(parser, "results/bench_montecarlo")
    args = parser.parse_args(argv)
    # the given values are checked with --quick too (which then replaces them), all before any run
    if not 1e3 <= args.ndim_updates < float("inf"):
        raise cli.UsageError(f"--ndim-updates must be a finite number >= 1000 (got {args.ndim_updates})")
    for name in ("walkers", "steps", "repeat", "memory_walkers", "memory_steps", "bins", "closed_form_repeat"):
        if getattr(args, name) < 1:
            raise cli.UsageError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    most = mc_plan.max_threads()  # numba's thread count, read without importing numba
    threads = args.threads or sorted({1, most})
    if any(t < 1 or t > most for t in threads):
        raise cli.UsageError(f"--threads must lie in 1..{most} (got {threads})")
    if not args.ndim_only:  # the memory forecast of the longest run of each size (mc/plan.py), before any run
        for option, walkers, steps in (("--walkers", args.walkers, args.steps),
                                       ("--memory-walkers", args.memory_walkers, 10 * args.memory_steps)):
            plan = mc_plan.check_run(Noise(0.05, 1.0), walkers=walkers, steps=steps, radius=float("inf"))
            try:
                mc_plan.check_memory(plan, walkers, (args.bins, args.bins), threads=most)
            except ModelError as exc:
                raise cli.UsageError(f"{option} {walkers}: {exc}") from None
    if args.quick:
        args.walkers, args.steps, args.repeat = 20_000, 100, 2
        args.memory_walkers, args.memory_steps = 100_000, 20
        args.ndim_updates, args.closed_form_repeat = 2e6, 2
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench_montecarlo", "bench_montecarlo", args.overwrite)
    import numba  # after the input checks (a refused run loads no kernel)

    say = cli.Progress("bench_montecarlo.py")
    say(f"N dimensions: the valley's SDE kernel, m = {', '.join(map(str, NDIM_FAST_DIRECTIONS))}")
    ndim = ndim_speed(args.ndim_updates, threads, args.repeat)
    numba.set_num_threads(most)
    say(f"N dimensions: the closed forms of one (T, m), best of {args.closed_form_repeat}")
    closed = closed_form_ms(args.closed_form_repeat)
    if args.ndim_only:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        with io.atomic_output_dir(out, None, "bench_montecarlo", args.overwrite) as tmp:
            io.write_json(tmp / "bench.json", {"parameters": vars(args), "load_average_after": load,
                                               "n_dimensional": ndim, "closed_forms": closed,
                                               "versions": io.versions()})
        print_ndim(ndim)
        print_closed_forms(closed)
        return 0

    say("compiling / loading the kernels")
    speed("numba", 100, 10, 1)
    say(f"numpy reference: {args.walkers} walkers x {args.steps} steps")
    numpy_rate, numpy_cpu = speed("numpy", args.walkers, args.steps, args.repeat)
    rows = [{"engine": "numpy", "threads": 1, "walker_steps_per_second": numpy_rate, "vs_numpy": 1.0,
             "walker_steps_per_cpu_second": numpy_cpu}]
    for t in threads:
        numba.set_num_threads(t)
        say(f"numba, {t} thread(s)")
        rate, cpu_rate = speed("numba", args.walkers, args.steps, args.repeat)
        rows.append({"engine": "numba", "threads": t, "walker_steps_per_second": rate,
                     "vs_numpy": rate / numpy_rate, "walker_steps_per_cpu_second": cpu_rate})
    numba.set_num_threads(most)
    say("custom models (generated kernels), all threads")
    preset_rate = max(r["walker_steps_per_second"] for r in rows if r["engine"] == "numba" and r["threads"] == most)
    custom = custom_speed(args.walkers, args.steps, args.repeat, preset_rate)
    say("first run of a new expression: fresh cache, then cached")
    compiled = compile_times(f"0.5*(theta1*theta2 - 1)**2 + 0.01*theta1**4 + {time.time_ns() % 997}e-9*theta2**2")
    say(f"memory: {args.memory_walkers} walkers x {args.memory_steps} and {10 * args.memory_steps} steps")
    mem = memory(args.memory_walkers, args.memory_steps, args.bins)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    result = {"case": "double-well, alpha=0.05, Delta=1, SGD linear shift",
              "parameters": vars(args), "load_average_before": load, "speed": rows, "custom_models": custom,
              "new_expression": compiled, "memory": mem, "n_dimensional": ndim, "closed_forms": closed,
              "versions": io.versions()}
    with io.atomic_output_dir(out, None, "bench_montecarlo", args.overwrite) as tmp:
        io.write_json(tmp / "bench.json", result)
    print(f"{'engine':8s} {'threads':>7s} {'walker-steps/s':>15s} {'x numpy':>8s} {'per CPU-second':>15s}")
    for r in rows:
        print(f"{r['engine']:8s} {r['threads']:7d} {r['walker_steps_per_second']:15.3e} {r['vs_numpy']:8.2f} "
              f"{r['walker_steps_per_cpu_second']:15.3e}")
    for r in custom:
        print(f"custom: {r['model']:32s} {r['walker_steps_per_second']:12.3e} walker-steps/s, "
              f"{r['vs_preset_kernel']:.2f} x the preset kernel ({most} threads)")
    print(f"new expression: first run {compiled['first_seconds']:.2f} s (derive + compile), "
          f"{compiled['cached_seconds']:.2f} s in a new process with the kernel cache")
    print(f"memory: {mem['walkers']} walkers, state {mem['state_mib']:.1f} MiB + histograms "
          f"{mem['histograms_mib']:.1f} MiB; peak RSS +{mem['peak_increase_mib']:.1f} MiB over baseline "
          f"{mem['baseline_rss_mib']:.0f} MiB; 10x steps adds {mem['growth_with_10x_steps_mib']:.1f} MiB")
    print_ndim(ndim)
    print_closed_forms(closed)
    print(f"load average before: {' '.join(load)}; written to {out / 'bench.json'}")
    return 0

