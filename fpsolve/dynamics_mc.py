"""The Monte-Carlo twin of a transient (MODEL.md §8): the same start
density and model sampled by the SDE (``fpsolve.montecarlo``, with the
Brownian-bridge exit test), its ensemble curves of the observables of
:data:`fpsolve.dynamics.OBSERVABLES` with standard errors, and their largest
deviation from the FEM curves in units of the standard error.

Start positions are ``start + width · z`` with z the two normals of walker i
at "step" 0 of the counter-based stream of ``seed + 1`` (so the starts, too,
do not depend on the thread or rank count).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from . import model
from .model import Landscape, ModelError, Noise

#: Observables compared (survival and the moments of the surviving walkers).
COMPARED = ("survival", "mean_loss", "mean_abs_theta1", "var_theta1", "var_theta2", "mean_flatness")


def compare_times(t_end: float, dt: float, n: int = 20) -> np.ndarray:
    """``n`` log-spaced times in [t_end/1000, t_end], rounded to multiples of
    the SDE step ``dt`` (time units; duplicates removed)."""
    t = np.geomspace(t_end * 1e-3, t_end, n)
    return np.unique(np.maximum(np.round(t / dt), 1) * dt)


def ensemble_curves(landscape: Landscape, noise: Noise, *, start: Sequence[float], start_width: Sequence[float],
                    times: Sequence[float], walkers: int, dt: float = 0.01, seed: int = 0, cross: bool = True,
                    radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0), absorbing: bool = True,
                    comm: Any = None) -> Dict[str, Any]:
    """SDE ensemble of ``walkers`` from the Gaussian start: at each of
    ``times`` (time units, multiples of ``dt``) the survival fraction and the
    means over surviving walkers of L, |θ1|, F(θ1) and the variances of θ1,
    θ2, each as (values, standard errors).  ``absorbing=False`` switches
    absorption at the wall off (the twin of a reflecting FEM wall for a
    confined density).  Returns {"t": times, name: (values, se), "summary":
    the Monte-Carlo summary}.  Raises ModelError on bad input."""
    from . import montecarlo as mc

    if not (isinstance(walkers, (int, np.integer)) and walkers >= 2):
        raise ModelError(f"--compare-mc needs at least 2 walkers (got {walkers!r})")
    times = np.asarray(times, dtype=float)
    m = np.asarray(start, dtype=float)
    w = np.asarray(start_width, dtype=float)

    def starts(index: np.ndarray) -> np.ndarray:
        z1, z2 = mc.normals(seed + 1, index, 0)
        return np.column_stack([m[0] + w[0] * z1, m[1] + w[1] * z2])

    res = mc.run(landscape, noise, method="sde", cross=cross, dt=dt, walkers=int(walkers), time=float(times.max()),
                 seed=seed, radius=radius if absorbing else math.inf, center=center, sample_from=starts,
                 snapshot_times=list(times), burn_in=0.0,
                 hist_edges=(np.linspace(-1, 1, 2), np.linspace(-1, 1, 2)), comm=comm)
    gone = np.where(np.isnan(res.exit_time), np.inf, res.exit_time)
    out: Dict[str, Any] = {"t": times, **{k: (np.zeros(len(times)), np.zeros(len(times))) for k in COMPARED}}
    a0, a2, a4, eps = landscape.coefficients
    for j, t in enumerate(times):
        pos = res.snapshots[min(res.snapshots, key=lambda s: abs(s - t))]
        alive = gone > t * (1 + 1e-12)
        n = int(alive.sum())
        S = n / walkers
        out["survival"][0][j], out["survival"][1][j] = S, math.sqrt(max(S * (1 - S), 0.0) / walkers)
        x, y = pos[alive, 0], pos[alive, 1]
        for name, v in (("mean_loss", model.loss(x, y, a0, a2, a4, eps)), ("mean_abs_theta1", np.abs(x)),
                        ("mean_flatness", model.flatness(x, a0, a2, a4))):
            out[name][0][j], out[name][1][j] = _mean_se(v)
        for name, v in (("var_theta1", x), ("var_theta2", y)):
            out[name][0][j], out[name][1][j] = _var_se(v)
    out["summary"] = res.summary
    return out


def _mean_se(v: np.ndarray) -> Tuple[float, float]:
    n = v.size
    if n < 2:
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
    """Largest |FEM − MC| / se over the compared times, per observable and
    overall (``all``); ``fem``: {name: values at mc["t"]}.  Times where the
    standard error is zero or undefined are skipped."""
    out: Dict[str, float] = {}
    for name in COMPARED:
        val, se = mc[name]
        f = np.asarray(fem[name], dtype=float)
        ok = np.isfinite(val) & np.isfinite(se) & (se > 0)
        out[name] = float(np.max(np.abs(f[ok] - val[ok]) / se[ok])) if ok.any() else float("nan")
    finite = [v for v in out.values() if math.isfinite(v)]
    out["all"] = max(finite) if finite else float("nan")
    return out
