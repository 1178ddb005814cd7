"""Monte Carlo of SGD and of its SDE (docs/model.md §2–3): the referee of the FEM solver.

Samplers (``method``/``shift``/``cross``):

- ``sgd``/``linear``: ``θ ← θ − α (∇L − H ξ)``, ``ξ ~ N(0, Δ I)`` (docs/model.md §2, S3);
- ``sgd``/``exact``:  ``θ ← θ − α ∇L(θ − ξ)`` (the loss of the shifted minibatch);
- ``sde``, ``cross=True``: Euler–Maruyama of ``dθ = −∇L dt + sqrt(T) H dW``;
- ``sde``, ``cross=False``: independent noises ``sqrt(2 D11) dW1``, ``sqrt(2 D22) dW2``.

Any model of docs/model.md §7 (a :class:`~fpsolve.model.expression.Model`) is sampled by
kernels that :mod:`fpsolve.mc.codegen` generates from its symbolic
derivation (SGD ``θ ← θ − α (∇L + Σ^{1/2} z)``, the exact shift for ``sgd``
noise, and the SDE with ``B Bᵀ = 2D``), through the same group stepper.

Time is in units of α SGD steps: a SGD step lasts ``α``, a SDE step ``dt``.

Kernels read named records, not long positional lists: :class:`Walkers`
(per-walker arrays), :class:`Tallies` (histograms and edges) and
:class:`KernelParams` (every number, by name).

Walkers are independent.  Walker ``i`` owns its random stream: the normals of
step ``k`` are numbers ``2k`` and ``2k + 1`` of its stream, each made by a
ziggurat (128 layers, ZIGNOR) from the 64-bit word ``splitmix64(key_i + n γ)``
(rare rejections draw from a second keyed stream), with ``key_i`` a hash of
``(seed, i)``.  A number therefore depends only on (seed, walker, step), and
results are the same bit for bit whatever the number of threads or MPI ranks.

A walker stops when it leaves the disk ``|θ − c| ≥ R`` (absorbed, the twin of
the Dirichlet condition) or when it diverges (non-finite, or ``|θ − c|``
beyond ``bound``).  Memory is O(walkers) plus the histograms, whatever the
number of steps: statistics are accumulated while running.

Statistics over the stationary window (steps ``≥ burn-in``, sampled every
``sample_every`` steps) are *pooled* means ``Σ_i S_i / Σ_i n_i`` of per-walker
time sums ``S_i``; their standard errors treat the walkers (not the samples) as
the independent units (ratio estimator with the delta method), so the time
correlation inside a walker is accounted for.

Two engines compute the same update: ``numba`` (compiled, walkers split into
one chunk per thread, ``numba.get_num_threads()`` threads; the default) and ``numpy`` (a plain vectorised reference, one Python
loop over steps).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time as _time
from typing import Any, Callable, Optional, Sequence, Tuple

import numba
import numpy as np

from fpsolve.mc import codegen as mc_codegen
from fpsolve.mc.kernels import (
    _advance_chunk, _advance_numba, _advance_numpy, _bridge_reach, _diffusion_numpy, _N, _NACC, _SAX,
    _SDE_CROSS, _SDE_NOCROSS, _SGD_EXACT, _SGD_LINEAR, _SX, _SXX, _SXY, _SY, _SYY, _update_numpy, ABSORBED,
    ALIVE, DIVERGED, KernelParams, Tallies, Walkers)
from fpsolve.mc.plan import (
    check_memory, check_run, check_seed, DEFAULT_BOUND, ENGINES, METHODS, RunPlan, SHIFTS)
from fpsolve.mc.rng import walker_keys
from fpsolve.mc.summary import MonteCarloSummary
from fpsolve.model import valley
from fpsolve.model.expression import COVARIANCE, as_model
from fpsolve.model.target import Box
from fpsolve.model.valley import check_start, ModelError, Noise
from fpsolve.tools import parallel


# RunPlan, check_run, check_memory, check_seed, METHODS, SHIFTS, ENGINES: fpsolve.mc.plan (no numba), imported here
__all__ = ["Box", "MonteCarloResult", "run"]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@dataclasses.dataclass
class MonteCarloResult:
    """What :func:`run` returns.

    ``hist``: counts on ``edges = (xedges, yedges)`` over the stationary
    window; ``hist_theta1`` (on xedges, all θ2) and ``hist_abs_theta1`` (on
    ``abs_edges``) the marginals; ``summary``: what the run measured
    (:class:`~fpsolve.mc.summary.MonteCarloSummary`; ``as_dict()`` is
    summary.json); ``survival``: (times, fraction alive); ``first_passage``:
    per-walker first time in the target (NaN if never); ``final``: (walkers, 2)
    last positions; ``status``: per walker 0 alive, 1 absorbed, 2 diverged;
    ``snapshots``: {time: (walkers, 2) positions} at the requested steps;
    ``exit_time``: per-walker time of absorption or divergence (NaN if alive).
    """

    hist: np.ndarray
    edges: Tuple[np.ndarray, np.ndarray]
    hist_theta1: np.ndarray
    hist_abs_theta1: np.ndarray
    abs_edges: np.ndarray
    summary: MonteCarloSummary
    survival: Tuple[np.ndarray, np.ndarray]
    first_passage: np.ndarray
    final: np.ndarray
    status: np.ndarray
    snapshots: dict
    exit_time: Optional[np.ndarray] = None


def _pooled_stats(acc: np.ndarray) -> dict:
    """Pooled window moments and their standard errors from per-walker sums.

    Walkers are the independent units: a pooled mean m = Σ S_i / Σ n_i has the
    influence e_i = (S_i − m n_i)/n̄ and SE² = Σ e_i² / (N (N − 1)) (ratio
    estimator); functions of means use the delta method.
    """
    n = acc[:, _N]
    used = n > 0
    if not used.all():
        acc = acc[used]
        n = n[used]
    N = len(n)
    total = float(n.sum())
    names = ("mean_theta1", "mean_theta2", "var_theta1", "var_theta2", "cov_theta12",
             "mean_abs_theta1", "std_abs_theta1")
    out: dict = {"samples": total, "sampled_walkers": N}
    if N < 2:  # nothing to estimate (e.g. every walker left before the window)
        out.update({k + sfx: None for k in names for sfx in ("", "_se")})
        return out
    nbar = total / N
    m = acc.sum(axis=0) / total

    def e(j: int) -> np.ndarray:
        """Influence of pooled mean j, one column at a time (memory O(walkers))."""
        return (acc[:, j] - n * m[j]) / nbar

    def se(infl: np.ndarray) -> float:
        return float(np.sqrt(np.sum(infl * infl) / (N * (N - 1.0))))

    var_x = m[_SXX] - m[_SX] ** 2
    var_y = m[_SYY] - m[_SY] ** 2
    cov = m[_SXY] - m[_SX] * m[_SY]
    var_ax = max(m[_SXX] - m[_SAX] ** 2, 0.0)
    std_ax = math.sqrt(var_ax)
    out.update({
        "mean_theta1": m[_SX], "mean_theta1_se": se(e(_SX)),
        "mean_theta2": m[_SY], "mean_theta2_se": se(e(_SY)),
        "var_theta1": var_x, "var_theta1_se": se(e(_SXX) - 2 * m[_SX] * e(_SX)),
        "var_theta2": var_y, "var_theta2_se": se(e(_SYY) - 2 * m[_SY] * e(_SY)),
        "cov_theta12": cov,
        "cov_theta12_se": se(e(_SXY) - m[_SX] * e(_SY) - m[_SY] * e(_SX)),
        "mean_abs_theta1": m[_SAX], "mean_abs_theta1_se": se(e(_SAX)),
        "std_abs_theta1": std_ax,
        "std_abs_theta1_se": (se((e(_SXX) - 2 * m[_SAX] * e(_SAX)) / (2 * std_ax))
                              if std_ax > 0 else float("nan")),
    })
    return {k: float(v) if isinstance(v, (np.floating, float)) else v for k, v in out.items()}


def _start_positions(sample_from: Any, index: np.ndarray, walkers: int) -> Tuple[np.ndarray, np.ndarray]:
    """Start positions of the walkers ``index`` (global indices)."""
    if callable(sample_from):
        pos = np.asarray(sample_from(index), dtype=float)
    else:
        pos = np.asarray(sample_from, dtype=float)
        if pos.shape == (2,):
            pos = np.broadcast_to(pos, (len(index), 2))
        elif pos.shape == (walkers, 2):
            pos = pos[index]
        else:
            raise ModelError(f"sample_from must be a point (x, y), a (walkers, 2) array or a callable "
                             f"(got shape {pos.shape})")
    if pos.shape != (len(index), 2) or not np.all(np.isfinite(pos)):
        raise ModelError("sample_from must give finite (walkers, 2) start positions")
    return np.array(pos[:, 0]), np.array(pos[:, 1])


def _check_edges(name: str, edges: Any) -> np.ndarray:
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise ModelError(f"{name} must be increasing finite bin edges (at least 2)")
    return edges


def run(model: Any, noise: Optional[Noise] = None, *, method: str = "sgd", shift: str = "linear",
        cross: bool = True, walkers: int = 1000, steps: Optional[int] = None,
        time: Optional[float] = None, dt: Optional[float] = None, seed: int = 0,
        radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
        hist_edges: Optional[Tuple[Any, Any]] = None, abs_edges: Any = None,
        sample_from: Any = (0.0, 0.0), target: Optional[Box] = None,
        burn_in: Optional[float] = None, sample_interval: Optional[float] = None,
        bound: float = DEFAULT_BOUND, snapshot_times: Sequence[float] = (),
        survival_points: int = 201, engine: str = "numba", comm: Any = None,
        progress: Optional[Callable[[int, int], None]] = None,
        block_walker_steps: float = 2e7, bridge: Optional[bool] = None,
        kernels: Optional[str] = None, schedule: Any = None) -> MonteCarloResult:
    """Run ``walkers`` independent SGD or SDE trajectories; see the module doc.

    ``model``: a :class:`~fpsolve.model.expression.Model` (``noise`` None; its
    noise model decides; ``shift='exact'`` needs the ``sgd`` noise), or a
    :class:`~fpsolve.model.valley.Landscape` with ``noise`` and ``cross``,
    converted once (:func:`~fpsolve.model.expression.as_model`).  The valley
    with its SGD noise runs on the hand-written kernels of
    :mod:`fpsolve.mc.kernels` (SGD with cross terms, or the SDE with or
    without them), any other model on kernels generated by
    :mod:`fpsolve.mc.codegen`; ``kernels="generated"`` forces the latter (a
    cross-check of the code generation), ``"valley"`` the former.

    Times (``time``, ``dt``, ``burn_in``, ``sample_interval``,
    ``snapshot_times``) are in units of α SGD steps; a SGD step lasts α, a SDE
    step ``dt`` (default α).  ``steps`` or ``time`` sets the length.  The
    stationary window starts at ``burn_in`` (default a third of the run) and is
    sampled every ``sample_interval`` (default 1 time unit, at least 1 step).
    ``radius = inf`` switches absorption off.  ``sample_from``: a point, a
    (walkers, 2) array, or a callable(global walker indices) -> (n, 2).
    ``comm``: an mpi4py communicator, default MPI.COMM_WORLD (``fpsolve.tools.parallel``);
    walkers are split by index across its ranks, every rank returns the full
    (reduced) result, identical to a serial run (MPI.COMM_SELF).
    ``progress(steps_done, steps_total)`` is called between blocks (rank 0).
    ``bridge`` (default on for the SDE, the valley's and a Model's generated
    kernels alike; off for SGD, whose steps are the process itself): the
    Brownian-bridge exit test of docs/model.md §8 in the absorption and
    first-passage checks, so SDE exit rates and first-passage times converge
    at O(dt) instead of O(√dt).

    ``schedule``: a :class:`~fpsolve.model.schedule.Schedule` (docs/model.md
    §10).  SGD step k then has α_k and Δ_k and ends at t_{k+1} = Σ_{j≤k} α_j
    (``time`` is reached at the first t_k ≥ time; ``burn_in`` and the
    snapshot times map to the nearest step, the sampling stride is in steps
    of α_0); an SDE step from t = j dt has T(t) (α(t), Δ(t) in a model's
    coefficients).  The kernels run in segments of equal parameters, so a
    constant schedule gives today's numbers bit for bit, and any schedule
    the same numbers for any thread or rank count.

    Samplers: the SGD update of docs/model.md §2 (seed S3) or Euler-Maruyama of
    the SDE of §3 (seed S12-S13), see the module doc.  Returns a
    :class:`MonteCarloResult`: ``summary`` (moments with standard errors,
    survival fraction, timings), the 2-D histogram ``hist`` (shape
    (len(hist_edges[0]) - 1, len(hist_edges[1]) - 1)), the θ1 and ``|θ1|``
    histograms, ``survival`` (times, surviving fraction), first-passage
    times (time units, NaN for walkers that never hit ``target``), final
    positions (walkers, 2) and status.  Raises ModelError for any argument
    that breaks :func:`~fpsolve.mc.plan.check_run`'s rules, a bad ``sample_from``/edges, a
    start point outside the absorbing disk (:func:`~fpsolve.model.valley.check_start`), a seed
    outside [0, 2**64) (:func:`~fpsolve.mc.plan.check_seed`) or a run larger than the
    machine's memory (:func:`~fpsolve.mc.plan.check_memory`).
    """

    model = as_model(model, noise, cross)
    on_valley = model.valley is not None and (model.noise == "sgd" or (model.noise == "sgd-diagonal"
                                                                        and method == "sde"))
    if kernels not in (None, "valley", "generated"):
        raise ModelError(f"kernels must be 'valley' or 'generated' (got {kernels!r})")
    if kernels == "valley" and not on_valley:
        raise ModelError("kernels='valley' needs the valley with sgd noise (or sgd-diagonal for the SDE)")
    user = None if on_valley and kernels != "generated" else model
    landscape, noise, cross = model.valley, model.noise_level, model.cross
    if user is not None:
        cross = True  # a generated kernel takes Σ from the model's noise
        if shift == "exact" and user.noise != "sgd":
            raise ModelError(f"shift='exact' is the random shift of the 'sgd' noise (the model's noise is {user.noise!r})")
    plan = check_run(noise, method=method, shift=shift, cross=cross, walkers=walkers, steps=steps, time=time,
                     dt=dt, radius=radius, bound=bound, burn_in=burn_in, sample_interval=sample_interval,
                     engine=engine, bridge=bridge)
    step_time, steps, burn_steps, every, bridge = plan
    seed = check_seed(seed)
    clock = None  # t_k of the SGD steps under a schedule (else k * step_time)
    if schedule is not None and schedule.is_constant:
        schedule_record, schedule = schedule, None  # today's run, bit for bit
    else:
        schedule_record = schedule
    if schedule is not None and method == "sgd":
        if time is not None:
            steps = len(schedule.table(time)["t"]) - 1
        clock = schedule.time_of(np.arange(steps + 1))
        burn_steps = steps // 3 if burn_in is None else int(np.argmin(np.abs(clock - burn_in)))
        plan = plan._replace(steps=steps, burn_steps=burn_steps)

    comm = parallel.world(comm)
    if method == "sgd":
        code = _SGD_LINEAR if shift == "linear" else _SGD_EXACT
    else:
        code = _SDE_CROSS if cross else _SDE_NOCROSS
    sample_start = max(burn_steps, 1)
    cx, cy = (float(center[0]), float(center[1]))
    if hist_edges is None:
        half = radius if math.isfinite(radius) else 2.0
        hist_edges = (np.linspace(cx - half, cx + half, 401), np.linspace(cy - half, cy + half, 401))
    xedges = _check_edges("hist_edges[0]", hist_edges[0])
    yedges = _check_edges("hist_edges[1]", hist_edges[1])
    if abs_edges is None:
        top = max(abs(xedges[0]), abs(xedges[-1]))
        abs_edges = np.linspace(0.0, top, max(2, (len(xedges) - 1) // 2) + 1)
    axedges = _check_edges("abs_edges", abs_edges)
    if not callable(sample_from) and np.shape(sample_from) == (2,):
        check_start(sample_from, radius, (cx, cy))
    snap_steps = sorted({int(round(t / step_time)) if clock is None else int(np.argmin(np.abs(clock - t)))
                         for t in snapshot_times})
    if any(s < 0 or s > steps for s in snap_steps):
        raise ModelError("snapshot_times must lie in [0, run length]")
    if target is not None:
        if not isinstance(target, Box) or target.mirror:
            raise ModelError(f"target must be a Box without a mirror image (got {target!r})")
        tx, ty = map(float, target.center)
        twx, twy = map(float, target.half_width)
    else:
        tx = ty = twx = twy = 0.0

    check_memory(plan, walkers, (len(xedges) - 1, len(yedges) - 1), comm=comm,
                 threads=numba.get_num_threads() if engine == "numba" else 1, block_walker_steps=block_walker_steps)
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    lo, hi = rank * walkers // size, (rank + 1) * walkers // size
    index = np.arange(lo, hi, dtype=np.int64)
    n = len(index)
    keys = walker_keys(seed, index)
    x, y = _start_positions(sample_from, index, walkers)
    status = np.zeros(n, dtype=np.int8)
    exit_step = np.full(n, -1, dtype=np.int64)
    fp_step = np.full(n, -1, dtype=np.int64)
    if target is not None:
        inside = (np.abs(x - tx) < twx) & (np.abs(y - ty) < twy)
        fp_step[inside] = 0
    acc = np.zeros((n, _NACC))
    nchunks = max(1, min(numba.get_num_threads(), n)) if engine == "numba" else 1
    tallies = Tallies(hist=np.zeros((nchunks, len(xedges) - 1, len(yedges) - 1), dtype=np.int64),
                      hist_x=np.zeros((nchunks, len(xedges) - 1), dtype=np.int64),
                      hist_ax=np.zeros((nchunks, len(axedges) - 1), dtype=np.int64),
                      xedges=xedges, yedges=yedges, axedges=axedges)
    state = Walkers(x=x, y=y, status=status, exit_step=exit_step, fp_step=fp_step, acc=acc, keys=keys)
    sgd_scale, sde_scale = math.sqrt(noise.Delta), math.sqrt(noise.T * step_time)
    compile_seconds = 0.0
    if user is None:
        coef = np.array([*landscape.coefficients, noise.T])
        a0, a2, a4, eps = landscape.coefficients

        def tensor(X, Y):  # D of the bridge test, on arrays
            return valley.diffusion(X, Y, noise.T, a0, a2, a4, eps, cross=code == _SDE_CROSS)
        if engine == "numba":
            advance = functools.partial(_advance_numba, functools.partial(_advance_chunk, int(code)))
        else:
            advance = functools.partial(_advance_numpy, functools.partial(_update_numpy, int(code)),
                                        diffusion=functools.partial(_diffusion_numpy, code == _SDE_CROSS)
                                        if code in (_SDE_CROSS, _SDE_NOCROSS) else None)
    else:

        user.check_formulas(radius if math.isfinite(radius) else 2.0, (cx, cy))
        coef = np.array(user.arguments, dtype=float)
        if user.noise == COVARIANCE:  # Σ as given: SGD noise Σ^{1/2} z, SDE sqrt(α dt) Σ^{1/2} z
            sgd_scale, sde_scale = 1.0, math.sqrt(noise.alpha * step_time)
        gen_code = {_SGD_LINEAR: mc_codegen.SGD_LINEAR, _SGD_EXACT: mc_codegen.SGD_EXACT}.get(code, mc_codegen.SDE)
        kern = mc_codegen.kernels(user)
        compile_seconds = kern.seconds
        if engine == "numba":
            advance = functools.partial(_advance_numba, kern.chunk(gen_code))
        else:
            advance = functools.partial(_advance_numpy, kern.numpy_update(gen_code),
                                        diffusion=kern.numpy_diffusion if gen_code == mc_codegen.SDE else None)

        def tensor(X, Y):  # D = (α/2) Σ of the bridge test, on arrays
            return user.evaluate("diffusion", X, Y)
    params = KernelParams(alpha=noise.alpha, sgd_scale=sgd_scale, dt=step_time, sde_scale=sde_scale, coef=coef,
                          cx=cx, cy=cy, stop2=min(radius * radius, bound * bound), bound2=bound * bound,
                          sample_start=int(sample_start), sample_every=int(every),
                          has_target=target is not None, tx=tx, ty=ty, twx=twx, twy=twy,
                          bridge=_bridge_reach(tensor, step_time, cx, cy, radius) if bridge else 0.0)
    segments = _schedule_segments(schedule, params, method, steps, user is None,
                                  user is not None and user.noise == COVARIANCE)
    if len(segments) > 1 and params.bridge > 0:  # the bridge's reach at the largest noise of the run
        top = max(p.sde_scale for _, p in segments) / params.sde_scale
        segments = [(j, p._replace(bridge=params.bridge * max(top, 1.0))) for j, p in segments]

    # blocks of steps: progress between them, and snapshots at block ends
    block = max(1, int(block_walker_steps // max(walkers, 1)))
    stops = sorted(set(list(range(block, steps, block)) + snap_steps + [steps]) - {0})
    snapshots = {}
    if 0 in snap_steps:
        snapshots[0] = _gather_positions(comm, x, y)
    t0 = _time.perf_counter()
    k = 0
    for stop in stops:
        for a, b, p in _pieces(segments, params, k, stop):
            advance(state, tallies, a, b, p)
        k = stop
        if stop in snap_steps:
            snapshots[stop] = _gather_positions(comm, x, y)
        if progress is not None and rank == 0:
            progress(k, steps)
    if comm is not None:
        comm.barrier()
    wall = _time.perf_counter() - t0

    hist, hist_x, hist_ax = tallies.hist.sum(axis=0), tallies.hist_x.sum(axis=0), tallies.hist_ax.sum(axis=0)
    if comm is not None:
        from mpi4py import MPI

        hist = comm.allreduce(hist, op=MPI.SUM)
        hist_x = comm.allreduce(hist_x, op=MPI.SUM)
        hist_ax = comm.allreduce(hist_ax, op=MPI.SUM)
        x, y, status, exit_step, fp_step, acc = (
            np.concatenate(comm.allgather(a)) for a in (x, y, status, exit_step, fp_step, acc))

    # survival: a walker that stops at step s is alive for steps < s
    grid = np.unique(np.linspace(0, steps, max(2, survival_points)).round().astype(np.int64))
    stopped = np.sort(exit_step[status != ALIVE])
    fraction = 1.0 - np.searchsorted(stopped, grid, side="right") / walkers
    at = (lambda s: s * step_time) if clock is None else (lambda s: clock[np.clip(s, 0, steps)])
    first_passage = np.where(fp_step >= 0, at(fp_step), np.nan)

    stats = _pooled_stats(acc)
    hit = np.isfinite(first_passage)
    mfpt = float(np.mean(first_passage[hit])) if target is not None and hit.any() else None
    mfpt_se = (float(np.std(first_passage[hit], ddof=1) / math.sqrt(hit.sum()))
               if target is not None and hit.sum() > 1 else None)
    summary = {
        "method": method, "shift": shift if method == "sgd" else None,
        "cross_diffusion": model.cross, "engine": engine,
        **(valley.describe(landscape, noise) if user is None else
           {"model": user.as_dict(), "T": noise.T, "noise": noise.as_dict(),
            "kernel_load_seconds": compile_seconds}),
        "walkers": walkers, "steps": steps, "step_time": step_time,
        "time": float(at(steps)), "seed": seed,
        "radius": radius if math.isfinite(radius) else None, "center": [cx, cy],
        "divergence_bound": bound,
        "brownian_bridge": bool(bridge),
        "burn_in_time": burn_steps * step_time, "sample_interval_time": every * step_time,
        "statistics": "pooled over walkers and the stationary window; standard errors (_se) from "
                      "per-walker time sums (walkers independent, ratio estimator)",
        **stats,
        "survival_fraction": float(np.mean(status == ALIVE)),
        "absorbed_fraction": float(np.mean(status == ABSORBED)),
        "diverged_fraction": float(np.mean(status == DIVERGED)),
        "first_passage_target": (None if target is None else
                                 {"center": [tx, ty], "half_width": [twx, twy]}),
        "first_passage_hit_fraction": float(np.mean(hit)) if target is not None else None,
        "first_passage_mean_time": mfpt,
        "first_passage_mean_time_se": mfpt_se,
        # the one name (issue 17.5); first_passage_mean_time(_se) above is its former key, kept as an alias
        "mean_first_passage_time": mfpt, "mean_first_passage_time_se": mfpt_se,
        **({} if schedule_record is None else {"schedule": schedule_record.as_dict(),
                                               "schedule_segments": len(segments)}),
        "walker_steps_per_second": walkers * steps / wall if wall > 0 else None,
        "wall_seconds": wall,
        "mpi_ranks": size,
        "numba_threads": numba.get_num_threads() if engine == "numba" else 1,
    }
    return MonteCarloResult(
        hist=hist, edges=(xedges, yedges), hist_theta1=hist_x, hist_abs_theta1=hist_ax,
        abs_edges=axedges, summary=MonteCarloSummary(summary), survival=(at(grid), fraction),
        first_passage=first_passage, final=np.column_stack([x, y]), status=status,
        snapshots={float(at(s)): v for s, v in snapshots.items()},
        exit_time=np.where(status != ALIVE, at(exit_step), np.nan),
    )


def _schedule_segments(schedule: Any, params: KernelParams, method: str, steps: int, valley_kernels: bool,
                       covariance: bool) -> list:
    """[(first step, KernelParams)] of the runs of steps with equal (α, Δ)
    under ``schedule`` (one segment, ``params`` itself, without one): SGD
    step k reads α_k, Δ_k; a SDE step j reads α(t), Δ(t) at t = j dt
    (docs/model.md §10).  Every number that depends on α or Δ is set:
    ``alpha``, ``sgd_scale`` (sqrt Δ; 1 for a user Σ), ``sde_scale``
    (sqrt(T dt); sqrt(α dt) for a user Σ) and the coefficients (the valley's
    T, or a model's alpha and Delta, its last two)."""
    if schedule is None or schedule.is_constant:
        return [(0, params)]
    k = np.arange(steps)
    if method == "sgd":
        a, d = schedule.alpha_k(k), schedule.Delta_k(k)
    else:
        t = k * params.dt
        a, d = schedule.alpha_t(t), schedule.Delta_t(t)
    starts = np.flatnonzero(np.concatenate([[True], (np.diff(a) != 0) | (np.diff(d) != 0)]))
    out = []
    for j in starts:
        alpha, Delta = float(a[j]), float(d[j])
        coef = params.coef.copy()
        if valley_kernels:
            coef[4] = alpha * Delta
        else:
            coef[-2], coef[-1] = alpha, Delta
        out.append((int(j), params._replace(
            alpha=alpha, sgd_scale=1.0 if covariance else math.sqrt(Delta), coef=coef,
            sde_scale=math.sqrt((alpha if covariance else alpha * Delta) * params.dt))))
    return out


def _pieces(segments: list, params: KernelParams, k0: int, k1: int) -> list:
    """[(a, b, KernelParams)]: the steps [k0, k1) cut at the segments' starts."""
    if len(segments) == 1:
        return [(k0, k1, segments[0][1])]
    firsts = [s for s, _ in segments]
    i = int(np.searchsorted(firsts, k0, side="right")) - 1
    out = []
    a = k0
    while a < k1:
        b = min(k1, firsts[i + 1]) if i + 1 < len(firsts) else k1
        out.append((a, b, segments[i][1]))
        a, i = b, i + 1
    return out


def _gather_positions(comm: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pos = np.column_stack([x, y])
    return pos if comm is None else np.concatenate(comm.allgather(pos))
