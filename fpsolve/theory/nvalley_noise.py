"""The closed form of the m-direction valley per noise kind (docs/model.md §9, *Closed forms per noise*).

One place that says which closed form the valley has under each noise of
:data:`fpsolve.fem.nvalley_forms.FEM_NOISES`, used by the weighted trial
space (:mod:`fpsolve.fem.weight`), the ball's grading
(:func:`fpsolve.fem.ball.valley_ball_sizes`), the ``closed_form`` of the 3-D
summaries, marginals.csv and figures, and the 3-D search's default target::

    sgd, sgd-diagonal   adiabatic elimination, lowest order (§9,
                        :mod:`fpsolve.theory.nvalley`): fast conditionals
                        N(0, s_i), s_i = T g_i(x)/2; the slow marginal P1 of
                        A and B.  Both noises have the same D_xx and D_yiyi,
                        the only entries that lowest order uses (it drops the
                        cross-diffusion D_x,yi, so it is the closed form of the
                        sgd-diagonal twin, and an approximation for sgd).
    isotropic           exact: D = (T/2) I and the drift −∇L make the Gibbs
                        density P ∝ exp(−2L/T) stationary (zero flux
                        everywhere), so its fast conditionals are N(0, s_i),
                        s_i = T/(2 g_i(x)), and the slow marginal is
                        p1(x) ∝ exp(−ε x²/T) Π_i g_i(x)^(−1/2).

On a ball of radius R (reflecting wall: the Gibbs density restricted to the
ball is exactly stationary) the isotropic marginal carries the factor
F(x) = Prob(|y| ≤ sqrt(R² − x²)) of the fast Gaussians and the fast
variances are those of the truncated Gaussians; for m = 2 both are one
periodic integral over the polar angle (:data:`ANGLE_POINTS`-point
trapezoid rule, spectrally accurate).  The isotropic reduced process of the
search time is dx = A dt + sqrt(2B) dW with A = −(ε x + (T/4) Σ g_i'/g_i),
B = T/2 (the adiabatic limit; its stationary density is p1).

Units: θ units, T = alpha·Delta, time in units of alpha SGD steps.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley as _adiabatic
from scipy.integrate import simpson

from fpsolve.theory.valley import (DEFAULT_HALF_WIDTH, NoiseLike, mean_first_passage_time_from, mode_from,
                                   peak_width_from, search_time_from, temperature)
from fpsolve.tools.quadrature import trapezoid

__all__ = [
    "FORMS",
    "form",
    "describe",
    "fast_variance",
    "log_joint",
    "log_marginal_x",
    "marginal_x",
    "mode_x",
    "peak_width",
    "moments",
    "mean_first_passage_time",
    "search_time",
    "closed_form_record",
]

#: The closed form of each FEM noise kind: ``adiabatic`` (§9, lowest order) or ``gibbs`` (exact).
FORMS = {"sgd": "adiabatic", "sgd-diagonal": "adiabatic", "isotropic": "gibbs"}
#: What the closed form is, for summary.json's ``closed_form_kind``.
DESCRIPTIONS = {
    "adiabatic": "adiabatic elimination, lowest order (docs/model.md §9): fast variances T g_i/2; "
                 "drops the cross-diffusion (exact twin: sgd-diagonal)",
    "gibbs": "exact Gibbs density exp(-2L/T) of isotropic noise (docs/model.md §9): fast variances "
             "T/(2 g_i), p1 ∝ exp(-eps x^2/T) prod g_i^(-1/2)",
}
#: Points of the polar-angle trapezoid rule of the ball's truncation (m = 2).
ANGLE_POINTS = 256
#: Simpson points of the isotropic moments over |x| = R sin t, t in [0, π/2].
MOMENT_POINTS = 8001


def form(noise: str) -> str:
    """``adiabatic`` or ``gibbs``, the closed form of the valley under ``noise``
    (:data:`FORMS`); ModelError naming an unknown noise (no closed form)."""
    try:
        return FORMS[noise]
    except (KeyError, TypeError):
        raise ModelError(f"the valley has no closed form for noise {noise!r} "
                         f"(closed forms for: {', '.join(FORMS)})") from None


def describe(noise: str) -> str:
    """One line saying which closed form ``noise`` has (:data:`DESCRIPTIONS`)."""
    return DESCRIPTIONS[form(noise)]


def _T(noise_level: NoiseLike) -> float:
    T = temperature(noise_level)
    if not T > 0:
        raise ModelError(f"the closed forms need T > 0 (got T={T:g})")
    return T


def fast_variance(valley: NValley, level: NoiseLike, x: Any, noise: str = "sgd") -> np.ndarray:
    """s_i(x), the variance of y_i given x (free space), shape x.shape + (m,):
    T g_i/2 (adiabatic) or T/(2 g_i) (Gibbs)."""
    T = temperature(level)
    if form(noise) == "gibbs":
        return 0.5 * T / valley.g(x)
    return _adiabatic.conditional_variance(valley, T, x)


# --------------------------------------------------------------------------
# The slow marginal
# --------------------------------------------------------------------------

def _gibbs_log_free(valley: NValley, T: float, x: np.ndarray) -> np.ndarray:
    """ln p1 of the free-space Gibbs marginal, up to a constant: −ε x²/T − ½ Σ ln g_i."""
    g = valley.g(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = -valley.eps * x * x / T - 0.5 * np.sum(np.log(g), axis=-1)
    return np.where(np.all(g > 0, axis=-1), out, -np.inf)


def _gibbs_slope(valley: NValley, T: float) -> Callable[[Any], Any]:
    """(ln p1)' = −2εx/T − ½ Σ g_i'/g_i (free space); a drift A = (T/2)(ln p1)' with B = T/2."""
    def slope(z: Any) -> Any:
        return -2.0 * valley.eps * z / T - 0.5 * np.sum(valley.dg(z) / valley.g(z), axis=-1)
    return slope


def _ball_factors(valley: NValley, T: float, x: np.ndarray, radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """(ln F(x), ⟨y_i² 1{|y| ≤ ρ}⟩/F (shape x.shape + (m,))) of the isotropic fast
    Gaussians cut by the ball: ρ² = R² − x², m = 2 (polar-angle trapezoid rule).
    Raises ModelError for m ≠ 2."""
    if valley.m != 2:
        raise ModelError(f"the ball's truncation of the Gibbs density is written for m = 2 (got m = {valley.m})")
    s = 0.5 * T / valley.g(x)                                   # (n, 2)
    rho2 = np.maximum(radius * radius - x * x, 0.0)[:, None]     # (n, 1)
    phi = 2.0 * math.pi * np.arange(ANGLE_POINTS) / ANGLE_POINTS
    c2, s2 = np.cos(phi) ** 2, np.sin(phi) ** 2                  # (k,)
    c = c2[None, :] / s[:, :1] + s2[None, :] / s[:, 1:]          # (n, k)
    a = 0.5 * c
    e = np.exp(-a * rho2)
    norm = 1.0 / (2.0 * math.pi * np.sqrt(s[:, 0] * s[:, 1]))    # (n,)
    dphi = 2.0 * math.pi / ANGLE_POINTS
    F = norm * dphi * np.sum(-np.expm1(-a * rho2) / c, axis=1)
    r3 = (1.0 - e * (1.0 + a * rho2)) / (2.0 * a * a)            # ∫_0^ρ r³ e^{−a r²} dr
    m2 = norm[:, None] * dphi * np.stack([np.sum(c2 * r3, axis=1), np.sum(s2 * r3, axis=1)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logF = np.log(np.minimum(F, 1.0))
        var = np.where(F[:, None] > 0, m2 / F[:, None], s)
    return logF, var


def _gibbs_log(valley: NValley, T: float, radius: Optional[float]) -> Callable[[np.ndarray], np.ndarray]:
    """ln p1 (up to a constant) of the Gibbs marginal, free (``radius`` None) or on the ball."""
    if radius is None:
        return lambda z: _gibbs_log_free(valley, T, np.asarray(z, dtype=float))
    return lambda z: (_gibbs_log_free(valley, T, np.asarray(z, dtype=float))
                      + _ball_factors(valley, T, np.asarray(z, dtype=float), radius)[0])


def log_marginal_x(valley: NValley, level: NoiseLike, grid: Any, noise: str = "sgd",
                   radius: Optional[float] = None) -> np.ndarray:
    """ln P1(x) on ``grid`` (1-D, any order), maximum shifted to 0: §9's
    landscape marginal (adiabatic; ``radius`` unused) or the Gibbs marginal
    (free space, or with the ball's truncation for ``radius``, m = 2)."""
    T = _T(level)
    if form(noise) == "adiabatic":
        return _adiabatic.log_marginal_x(valley, T, grid)
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ModelError("the x grid must be a 1-D array of at least two finite points")
    lp = _gibbs_log(valley, T, radius)(grid)
    return lp - np.max(lp)


def marginal_x(valley: NValley, level: NoiseLike, grid: Any, noise: str = "sgd",
               radius: Optional[float] = None) -> np.ndarray:
    """P1(x) on ``grid``, normalised by the trapezoid rule over the grid (see :func:`log_marginal_x`)."""
    grid = np.asarray(grid, dtype=float)
    p = np.exp(log_marginal_x(valley, level, grid, noise, radius))
    order = np.argsort(grid, kind="stable")
    return p / trapezoid(p[order], grid[order])


def log_joint(valley: NValley, level: NoiseLike, x: Any, ys: Any, noise: str = "sgd",
              log_p1: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """ln of the closed-form joint density at (x shape S, ys shape S + (m,)), up to a
    constant: −2L/T exactly (Gibbs), or ln P1(|x|) − Σ y_i²/(2 s_i) − ½ Σ ln(2π s_i)
    (adiabatic; ``log_p1`` a callable on |x|, e.g. a table of :func:`log_marginal_x`)."""
    T = _T(level)
    x = np.asarray(x, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if form(noise) == "gibbs":
        return -2.0 * valley.loss(x, ys) / T
    s = fast_variance(valley, T, np.abs(x), noise)
    lp = log_p1(np.abs(x)) if log_p1 is not None else _adiabatic.log_marginal_x(valley, T, np.abs(x))
    return lp - np.sum(ys ** 2 / (2.0 * s), axis=-1) - 0.5 * np.sum(np.log(2.0 * math.pi * s), axis=-1)


# --------------------------------------------------------------------------
# Mode, width, moments
# --------------------------------------------------------------------------

def mode_x(valley: NValley, level: NoiseLike, noise: str = "sgd", half_width: float = DEFAULT_HALF_WIDTH) -> float:
    """x* ≥ 0, the most probable |x| of the slow marginal on [0, half_width] (free space)."""
    T = _T(level)
    if form(noise) == "adiabatic":
        return _adiabatic.mode_x(valley, T, half_width=half_width)
    return mode_from(_gibbs_log(valley, T, None), _gibbs_slope(valley, T), half_width)


def peak_width(valley: NValley, level: NoiseLike, noise: str = "sgd", mode: Optional[float] = None,
               half_width: float = DEFAULT_HALF_WIDTH) -> float:
    """σ* = (−(ln P1)''(x*))^(−1/2) at the mode (``inf`` where not a peak)."""
    T = _T(level)
    xs = mode_x(valley, T, noise, half_width) if mode is None else float(mode)
    if form(noise) == "adiabatic":
        return _adiabatic.peak_width(valley, T, mode=xs)
    at_origin = lambda: float(-2.0 * valley.eps / T  # noqa: E731 - g_i'(0) = 0
                              - 0.5 * np.sum(valley.d2g(0.0) / valley.g(0.0)))
    return peak_width_from(_gibbs_slope(valley, T), at_origin, xs)


def moments(valley: NValley, level: NoiseLike, noise: str = "sgd", radius: float = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """The closed form's moments on the ball of ``radius`` (|x| ≤ radius):
    ``mean_abs_theta1``, ``std_abs_theta1``, ``var_theta1``, ``mode_theta1``,
    ``flatness_at_mode``, ``var_y`` (list of m) and ``form``.  Adiabatic:
    :func:`fpsolve.theory.nvalley.marginal_moments` on |x| ≤ radius.  Gibbs
    (m = 2): the marginal with the ball's truncation, ``var_y`` the truncated
    fast variances averaged over it (exact for a reflecting wall)."""
    T = _T(level)
    r = float(radius)
    if form(noise) == "adiabatic":
        mom = _adiabatic.marginal_moments(valley, T, interval=r)
        keys = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "mode_theta1", "flatness_at_mode", "var_y")
        return {**{k: mom[k] for k in keys}, "form": "adiabatic"}
    # |x| = R sin t: the points crowd at the wall, where the cut of the fast Gaussians
    # (width sqrt(T/(2 g)), ~0.07 at x = 2) makes a layer R − |x| ~ 1e-3 thin
    t = np.linspace(0.0, 0.5 * math.pi, MOMENT_POINTS)
    u = r * np.sin(t)
    lp = _gibbs_log(valley, T, r)(u)
    p = np.exp(lp - np.max(lp)) * r * np.cos(t)
    Z = simpson(p, x=t)
    mean = lambda f: simpson(f * p, x=t) / Z  # noqa: E731
    _, var = _ball_factors(valley, T, u, r)
    m1 = mean(u)
    x2 = mean(u * u)
    mode = mode_x(valley, T, noise, r)
    return {"mean_abs_theta1": m1, "std_abs_theta1": math.sqrt(max(x2 - m1 * m1, 0.0)), "var_theta1": x2,
            "mode_theta1": mode, "flatness_at_mode": float(valley.flatness(mode)),
            "var_y": [mean(var[:, i]) for i in range(valley.m)], "form": "gibbs"}


# --------------------------------------------------------------------------
# The reduced 1-D process: mean first passage, search time
# --------------------------------------------------------------------------

def mean_first_passage_time(valley: NValley, level: NoiseLike, start: float, target: float, reflect: float,
                            noise: str = "sgd") -> float:
    """Mean first passage time (time units) of the reduced 1-D process of
    ``noise`` (adiabatic: §9's A, B; Gibbs: A = (T/2)(ln p1)', B = T/2)."""
    T = _T(level)
    if form(noise) == "adiabatic":
        return _adiabatic.mean_first_passage_time(valley, T, start, target, reflect)
    slope = _gibbs_slope(valley, T)
    return mean_first_passage_time_from(lambda z: 0.5 * T * slope(z), lambda z: np.full(np.shape(z), 0.5 * T),
                                        start, target, reflect)


def search_time(valley: NValley, level: NoiseLike, noise: str = "sgd",
                half_width: float = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """The 1-D search time into x* ± σ* from x* + 3σ* (reflecting at ``half_width``),
    as :func:`fpsolve.theory.nvalley.search_time`, for the closed form of ``noise``."""
    T = _T(level)
    if form(noise) == "adiabatic":
        return _adiabatic.search_time(valley, level, half_width=half_width)
    xs = mode_x(valley, T, noise, half_width)
    out = search_time_from(lambda x0, b, a: mean_first_passage_time(valley, T, x0, b, a, noise),
                           xs, peak_width(valley, T, noise, xs), None, None, half_width)
    steps = out["search_time"] / level.alpha if isinstance(level, Noise) else None
    return {"search_time": out.pop("search_time"), "search_time_steps": steps, **out}


def closed_form_record(valley: NValley, level: NoiseLike, noise: str, radius: float,
                       keys: Tuple[str, ...]) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(summary.json's ``closed_form``, a warning or None): the ``keys`` of
    :func:`moments` plus ``form`` and ``description`` for the closed form of
    ``noise``, or (None, a one-line warning saying why there is none)."""
    try:
        mom = moments(valley, level, noise, radius)
    except ModelError as e:
        return None, f"no closed form reported for noise {noise!r}: {e}"
    return ({**{k: mom[k] for k in keys}, "form": mom["form"], "description": describe(noise)}, None)
