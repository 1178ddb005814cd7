"""The Monte-Carlo twins of a transient (docs/model.md §8): the same start
density and model sampled by the SDE (Euler–Maruyama, with the
Brownian-bridge exit test) and by SGD itself (discrete steps of α, the
linear-shift sampler of docs/model.md §2), both from ``fpsolve.mc.ensemble`` (the
valley's kernels, or a Model's generated ones, docs/model.md §7); their ensemble
curves of the observables of :data:`COMPARED` with standard errors, and
their largest deviation from the FEM curves in units of the standard error.

Time is in units of α SGD steps: SGD step k is at t = k α, an SDE step
lasts ``dt``; each ensemble is compared at times that are whole numbers of
its own steps (:func:`compare_times`).

Start positions are ``start + width · z`` with z the two normals of walker i
at "step" 0 of the counter-based stream of ``seed + 1`` (so the starts, too,
do not depend on the thread or rank count; SDE and SGD ensembles of one
seed start from the same points).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from fpsolve.mc import ensemble as mc
from fpsolve.mc import rng
from fpsolve.model import valley
from fpsolve.model.expression import as_model
from fpsolve.model.valley import ModelError, Noise


#: Observables compared (survival and the moments of the surviving walkers).
COMPARED = ("survival", "mean_loss", "mean_abs_theta1", "var_theta1", "var_theta2", "mean_flatness")
#: The Monte-Carlo methods of a comparison: the SDE twin and SGD itself.
METHODS = ("sde", "sgd")


def compare_times(t_end: float, dt: float, n: int = 20) -> np.ndarray:
    """``n`` log-spaced times in [t_end/1000, t_end], rounded to multiples of
    the step ``dt`` (time units: the SDE step, or α for SGD; duplicates
    removed)."""
    t = np.geomspace(t_end * 1e-3, t_end, n)
    return np.unique(np.maximum(np.round(t / dt), 1) * dt)


def ensemble_curves(case: Any, noise: Noise | None = None, *, start: Sequence[float],
                    start_width: Sequence[float], times: Sequence[float], walkers: int, method: str = "sde",
                    dt: float = 0.01, seed: int = 0, cross: bool = True, radius: float = 2.0,
                    center: Tuple[float, float] = (0.0, 0.0), absorbing: bool = True,
                    comm: Any = None, schedule: Any = None) -> Dict[str, Any]:
    """Monte-Carlo ensemble of ``walkers`` from the Gaussian start (centre
    ``start``, standard deviations ``start_width``, θ units).

    ``case``: a :class:`~fpsolve.model.expression.Model` (``noise`` None: its
    noise decides), or a :class:`~fpsolve.model.valley.Landscape` with ``noise``
    and ``cross``, converted once (:func:`~fpsolve.model.expression.as_model`).  ``method``: ``"sde"`` (step ``dt``,
    Brownian bridge on) or ``"sgd"`` (step α; ``dt`` unused; SGD noise
    without cross-diffusion is the valley's ``sgd-diagonal`` Model).
    ``times``: time units, whole multiples of the method's step.  At each
    time: the survival fraction and the means over surviving walkers of L,
    ``|θ1|``, F(θ1) (the valley's flatness; NaN for a custom Model) and the
    variances of θ1, θ2, each as (values, standard errors).
    ``absorbing=False`` switches absorption at the wall off (the twin of a
    reflecting FEM wall for a confined density).  Returns {"t": times,
    "method": method, name: (values, se), "summary": the Monte-Carlo
    summary}.  ``schedule``: a :class:`~fpsolve.model.schedule.Schedule`
    (docs/model.md §10; SGD times are then its t_k, :func:`stop_times`).
    Raises ModelError on bad input.
    """

    if not (isinstance(walkers, (int, np.integer)) and walkers >= 2):
        raise ModelError(f"--compare-mc needs at least 2 walkers (got {walkers!r})")
    if method not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    model = as_model(case, noise, cross)  # SGD noise without cross terms: the sgd-diagonal Model
    times = np.asarray(times, dtype=float)
    m = np.asarray(start, dtype=float)
    w = np.asarray(start_width, dtype=float)

    def starts(index: np.ndarray) -> np.ndarray:
        z1, z2 = rng.normals(seed + 1, index, 0)
        return np.column_stack([m[0] + w[0] * z1, m[1] + w[1] * z2])

    res = mc.run(model, method=method, dt=dt if method == "sde" else None, walkers=int(walkers),
                 time=float(times.max()), seed=seed, radius=radius if absorbing else math.inf, center=center,
                 sample_from=starts, snapshot_times=list(times), burn_in=0.0,
                 hist_edges=(np.linspace(-1, 1, 2), np.linspace(-1, 1, 2)), comm=comm, schedule=schedule)
    gone = np.where(np.isnan(res.exit_time), np.inf, res.exit_time)
    out: Dict[str, Any] = {"t": times, "method": method,
                           **{k: (np.zeros(len(times)), np.zeros(len(times))) for k in COMPARED}}
    for j, t in enumerate(times):
        pos = res.snapshots[min(res.snapshots, key=lambda s: abs(s - t))]
        alive = gone > t * (1 + 1e-12)
        n = int(alive.sum())
        S = n / walkers
        out["survival"][0][j], out["survival"][1][j] = S, math.sqrt(max(S * (1 - S), 0.0) / walkers)
        x, y = pos[alive, 0], pos[alive, 1]
        if model.valley is None:
            loss, flat = model.evaluate("loss", x, y), np.full(x.shape, np.nan)
        else:
            a0, a2, a4, eps = model.valley.coefficients
            loss, flat = valley.loss(x, y, a0, a2, a4, eps), valley.flatness(x, a0, a2, a4)
        for name, v in (("mean_loss", loss), ("mean_abs_theta1", np.abs(x)), ("mean_flatness", flat)):
            out[name][0][j], out[name][1][j] = _mean_se(v)
        for name, v in (("var_theta1", x), ("var_theta2", y)):
            out[name][0][j], out[name][1][j] = _var_se(v)
    out["summary"] = res.summary
    return out


def _mean_se(v: np.ndarray) -> Tuple[float, float]:
    n = v.size
    if n < 2 or np.isnan(v).all():  # too few walkers, or no such observable (a custom model's flatness)
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))


def _var_se(v: np.ndarray) -> Tuple[float, float]:
    n = v.size
    if n < 4:
        return float("nan"), float("nan")
    c = v - v.mean()
    var = float(np.mean(c * c) * n / (n - 1))
    m4 = float(np.mean(c ** 4))
    return var, math.sqrt(max(m4 - var * var, 0.0) / n)


def max_deviation(fem: Dict[str, np.ndarray], mc: Dict[str, Any]) -> Dict[str, float]:
    """Largest ``|FEM − MC|`` / se over the compared times, per observable and
    overall (``all``); ``fem``: {name: values at mc["t"]}.  Times where the
    standard error is undefined, zero or at round-off of the value (below
    1e-9 of it) are skipped."""
    out: Dict[str, float] = {}
    for name in COMPARED:
        val, se = mc[name]
        f = np.asarray(fem[name], dtype=float)
        # a standard error at round-off of the value is an observable constant on the walkers (the
        # flatness of a valley with a2 = a4 = 0): no statistical scale to measure a deviation in
        ok = np.isfinite(val) & np.isfinite(se) & (se > 1e-9 * np.abs(val))
        out[name] = float(np.max(np.abs(f[ok] - val[ok]) / se[ok])) if ok.any() else float("nan")
    finite = [v for v in out.values() if math.isfinite(v)]
    out["all"] = max(finite) if finite else float("nan")
    return out


def stop_times(t_end: float, dt: float, alpha: float, methods: Sequence[str] = METHODS,
               schedule: Any = None) -> Dict[str, np.ndarray]:
    """{method: its compared times}: multiples of ``dt`` for the SDE, of the
    SGD step ``alpha`` for SGD (time units, :func:`compare_times`; under a
    non-constant ``schedule`` the step times t_k nearest to those, within
    t_end).  The FEM run must land on all of them (its ``stops``)."""
    out = {m: compare_times(t_end, dt if m == "sde" else alpha) for m in methods}
    if schedule is not None and not schedule.is_constant and "sgd" in out:
        clock = schedule.table(t_end)["t"]
        clock = clock[clock <= t_end * (1 + 1e-12)]
        want = np.geomspace(t_end * 1e-3, t_end, len(out["sgd"]))
        out["sgd"] = np.unique(clock[np.clip(np.searchsorted(clock, want), 1, len(clock) - 1)])
    return out


def compare_with_fem(model: Any, evolution: Any, times: Dict[str, np.ndarray], *,
                     walkers: int, dt: float, seed: int, **kw: Any) -> Dict[str, Dict[str, Any]]:
    """Run each ensemble of ``times`` ({method: times}, :func:`stop_times`) of
    the :class:`~fpsolve.model.expression.Model` ``model``
    with :func:`ensemble_curves` (``kw``: start, start_width, radius,
    center, absorbing, comm) and compare it with the FEM ``evolution`` (a
    :class:`fpsolve.fem.transient.Evolution` whose rows include those times).
    Returns {method: record}: the summary.json entry (walkers, step, seed,
    Brownian bridge, times, ``max_deviation_in_standard_errors`` per
    observable and ``all``, the curves with their standard errors) and, under
    ``"band"``, {observable: (t, mean, se)} for the figure."""
    t_fem = evolution.column("t")
    out: Dict[str, Dict[str, Any]] = {}
    for method, tt in times.items():
        curves = ensemble_curves(model, times=tt, walkers=walkers, method=method, dt=dt, seed=seed, **kw)
        at = [int(np.flatnonzero(np.isclose(t_fem, t, rtol=1e-12, atol=0))[0]) for t in tt]
        fem = {k: evolution.column(k)[at] for k in COMPARED}
        out[method] = {
            "walkers": int(walkers), "method": method, "step": curves["summary"].step_time, "seed": seed,
            "brownian_bridge": curves["summary"].brownian_bridge, "times": [float(t) for t in tt],
            "max_deviation_in_standard_errors": max_deviation(fem, curves),
            "curves": {k: {"value": [float(v) for v in curves[k][0]], "se": [float(v) for v in curves[k][1]]}
                       for k in COMPARED},
            "band": {k: (tt, *curves[k]) for k in COMPARED}}
    return out
