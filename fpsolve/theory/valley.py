"""Closed forms of adiabatic elimination (docs/model.md §5, seed S14–S48).

Every function takes a :class:`~fpsolve.model.valley.Landscape` and a noise level,
either a :class:`~fpsolve.model.valley.Noise` or the number ``T = alpha * Delta``;
``g`` and its derivatives come from the landscape, never re-typed here.

Conventions: ``x = θ1`` (slow, degenerate), ``y = θ2`` (fast); time is in
units of ``alpha`` SGD steps (``t = alpha * k``), so a time ``τ`` is
``τ / alpha`` SGD steps.  Densities are computed in log space, so that
``T = 1e-4 … 1`` and ``eps = 0 … 0.1`` neither overflow nor underflow.

Slow marginal, lowest order (docs/model.md §5, S16, S29–S31)::

    A(θ1) = −(½ g' s2 + ε θ1)
    B(θ1) = (T/2) [ε² + (ε g'' + g'²) s2 + ¾ g''² s2²],   s2 = T g / 2
    P1(θ1) ∝ (1/B) exp(∫ A/B)

with Gaussian moments of θ2 (``s2 = T g/2``): this is the form whose
moments docs/model.md §6 lists (mean ``|θ1|`` 0.619 and std 0.118 at T = 0.05); the
exact heavy-tailed ``s2`` is offered for the fast conditional only.

The names ``mean_abs_theta1``, ``std_abs_theta1``, ``var_theta2``,
``mode_theta1`` and ``flatness_at_mode`` are shared with the FEM and Monte
Carlo outputs.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np
from scipy import optimize, special

from fpsolve.model.valley import Landscape, ModelError, Noise, check_case
from fpsolve.tools.quadrature import trapezoid


__all__ = [
    "MARGINAL_KINDS",
    "temperature",
    "time_scales",
    "heavy_tail_index",
    "conditional_variance",
    "log_conditional_density",
    "conditional_density",
    "slow_drift",
    "slow_diffusion",
    "slow_diffusion_derivative",
    "effective_temperature",
    "log_marginal_theta1",
    "marginal_theta1",
    "effective_loss",
    "sgd_loss",
    "anisotropy",
    "critical_temperature_constant",
    "critical_temperature_landscape",
    "log_marginal_curvature_at_origin",
    "mode_theta1",
    "flatness_at_mode",
    "marginal_moments",
    "mean_abs_theta1",
    "std_abs_theta1",
    "var_theta2",
    "mean_first_passage_time",
    "peak_width",
    "search_time",
    "adiabatic_ratio",
    "STABILITY_CONDITIONS",
    "stability_margin",
    "stable_delta_range",
    "delta_max",
    "predictions",
    "log_marginal_from",
    "first_upward_crossing",
    "folded_density",
    "mode_from",
    "mean_first_passage_time_from",
    "peak_width_from",
    "search_time_from",
]

#: Kinds of slow marginal: landscape-dependent B(θ1) (S31) or constant D (S22).
MARGINAL_KINDS = ("landscape", "constant")
#: Density below exp(-LOG_CUTOFF) of the peak is treated as no mass.
LOG_CUTOFF = 50.0
#: Points per refined grid used for moments (per contiguous support interval).
MOMENT_POINTS = 4001
#: Points per family of the first-passage grid (uniform, dense near the start,
#: graded towards the target), before the bisection of the Richardson step.
PASSAGE_POINTS = 2001
#: Default half-width of the θ1 interval of the moments: the disk radius of docs/model.md §4.
DEFAULT_HALF_WIDTH = 2.0

NoiseLike = Union[Noise, float]


def temperature(noise: NoiseLike) -> float:
    """The noise level T = alpha * Delta of a Noise, or a number T >= 0."""
    if isinstance(noise, Noise):
        return noise.T
    T = float(noise)
    if not (math.isfinite(T) and T >= 0):
        raise ModelError(f"T must be a finite number >= 0 (got T={noise!r})")
    return T


def _check_kind(kind: str) -> None:
    if kind not in MARGINAL_KINDS:
        raise ModelError(f"unknown marginal kind {kind!r} (choose from {', '.join(MARGINAL_KINDS)})")


# --------------------------------------------------------------------------
# Time scales (S14) and the fast conditional P(θ2 | θ1) (S15, S19, S25, S26)
# --------------------------------------------------------------------------

def time_scales(landscape: Landscape, noise: NoiseLike, x: Any) -> Tuple[Any, Any]:
    """(τ2, τ1) = (1/g, 1/``|ε + ½ g'' s2|``) in time units (S14), s2 = T g/2.

    τ1 is the relaxation time of θ1 along the valley; where ε + ½ g'' s2 < 0
    (the top of the double well) it is the time of departure, hence ``|·|``.
    """
    T = temperature(noise)
    x = np.asarray(x, dtype=float)
    rate1 = np.abs(landscape.eps + 0.5 * landscape.d2g(x) * 0.5 * T * landscape.g(x))
    tau1 = np.where(rate1 > 0, 1.0 / np.where(rate1 > 0, rate1, 1.0), np.inf)
    return 1.0 / landscape.g(x), tau1


def heavy_tail_index(landscape: Landscape, noise: NoiseLike, x: Any) -> Any:
    """u(θ1) = T g'² / (2 g) (S25): ⟨θ2² | θ1⟩ is finite only where u < 1.

    u ≪ 1 is the Gaussian regime (S26); u ≥ 1 is the continuous model's
    precursor of divergence (phase III, docs/model.md §5).
    """
    T = temperature(noise)
    x = np.asarray(x, dtype=float)
    return T * landscape.dg(x) ** 2 / (2.0 * landscape.g(x))


def conditional_variance(landscape: Landscape, noise: NoiseLike, x: Any, exact: bool = True) -> Any:
    """s2(θ1) = ⟨θ2² | θ1⟩ of the fast conditional (S25, S26, S27).

    ``exact=True``: s2 = (T g/2) / (1 − T g'²/(2g)), the variance of the
    heavy-tailed density, ``inf`` where T g'² ≥ 2g (it diverges there).
    ``exact=False``: the Gaussian limit s2 = T g/2, valid for T g'²/g ≪ 1
    (exact where g' = 0).
    """
    T = temperature(noise)
    x = np.asarray(x, dtype=float)
    gauss = 0.5 * T * landscape.g(x)
    if not exact:
        return gauss
    rest = 1.0 - heavy_tail_index(landscape, T, x)
    finite = rest > 0
    return np.where(finite, gauss / np.where(finite, rest, 1.0), np.inf)


def _log_gamma_ratio_half(nu: np.ndarray) -> np.ndarray:
    """ln[Γ(ν − ½) / Γ(ν)] for ν > ½, accurate also for huge ν.

    gammaln differences lose digits as ν grows (≈1e−11 absolute at 1e4,
    ≈1e−4 at 1e12); above 1e4 the asymptotic series
    Γ(ν−½)/Γ(ν) = ν^(−½) (1 + 3/(8ν) + 25/(128ν²) + O(ν⁻³)) is used instead
    (error ≈ 1e−13 at 1e4, measured 1e−10 at ν = 1e3).
    """
    nu = np.asarray(nu, dtype=float)
    big = nu > 1e4
    small_nu = np.where(big, 2.0, nu)
    big_nu = np.where(big, nu, 1e4)
    direct = special.gammaln(small_nu - 0.5) - special.gammaln(small_nu)
    series = -0.5 * np.log(big_nu) + np.log1p(3.0 / (8.0 * big_nu) + (25.0 / 128.0) / big_nu / big_nu)
    return np.where(big, series, direct)


def log_conditional_density(landscape: Landscape, noise: NoiseLike, x: Any, y: Any, exact: bool = True) -> Any:
    """ln P(θ2 = y | θ1 = x), normalised over y ∈ ℝ (S15, S25, S19, S26).

    Exact (``exact=True``, S25): P ∝ (g² + g'² y²)^(−1 − g/(T g'²)), a
    Student-like density with scale c = g/``|g'|`` and exponent ν = 1 + g/(T g'²):
    P = (1 + y²/c²)^(−ν) Γ(ν) / (c √π Γ(ν − ½)).  Where g' = 0 it is the
    Gaussian N(0, T g/2) (its limit).  Gaussian (``exact=False``, S26):
    N(0, T g/2), valid for T g'²/g ≪ 1.  Requires T > 0.
    """
    T = temperature(noise)
    if T <= 0:
        raise ModelError("the conditional density needs T > 0 (it is a delta at θ2 = 0 for T = 0)")
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    gx = landscape.g(x)
    var = 0.5 * T * gx
    log_gauss = -0.5 * y * y / var - 0.5 * np.log(2.0 * math.pi * var)
    if not exact:
        return log_gauss
    g1 = np.abs(landscape.dg(x))
    # ν = 1 + g/(T g'²); beyond 1e300 (g' ≈ 0) the Gaussian limit is exact to rounding
    heavy = g1 * g1 * T > gx * 1e-300
    safe_g1 = np.where(heavy, g1, 1.0)
    nu = 1.0 + gx / (T * safe_g1 * safe_g1)
    c = gx / safe_g1
    log_heavy = (-nu * np.log1p((y / c) ** 2) - np.log(c) - 0.5 * math.log(math.pi)
                 - _log_gamma_ratio_half(nu))
    return np.where(heavy, log_heavy, log_gauss)


def conditional_density(landscape: Landscape, noise: NoiseLike, x: Any, y: Any, exact: bool = True) -> Any:
    """P(θ2 = y | θ1 = x); see :func:`log_conditional_density`."""
    return np.exp(log_conditional_density(landscape, noise, x, y, exact=exact))


# --------------------------------------------------------------------------
# Slow marginal P1(θ1) (S16–S24, S29–S33)
# --------------------------------------------------------------------------

def _s2_gauss(landscape: Landscape, T: float, x: Any) -> Any:
    return 0.5 * T * landscape.g(x)


def _drift(landscape: Landscape, T: float, x: Any) -> Any:
    """A(θ1) on anything with + − * (floats, arrays, numpy Polynomials)."""
    return -(0.5 * landscape.dg(x) * _s2_gauss(landscape, T, x) + landscape.eps * x)


def _diffusion(landscape: Landscape, T: float, x: Any) -> Any:
    """B(θ1) on anything with + − * (floats, arrays, numpy Polynomials)."""
    eps = landscape.eps
    s2 = _s2_gauss(landscape, T, x)
    g1, g2 = landscape.dg(x), landscape.d2g(x)
    return 0.5 * T * (eps * eps + (eps * g2 + g1 * g1) * s2 + 0.75 * g2 * g2 * s2 * s2)


def slow_drift(landscape: Landscape, noise: NoiseLike, x: Any) -> Any:
    """A(θ1) = −(½ g' s2 + ε θ1), s2 = T g/2: the θ2-averaged drift (S16, S29)."""
    return _drift(landscape, temperature(noise), np.asarray(x, dtype=float))


def slow_diffusion(landscape: Landscape, noise: NoiseLike, x: Any) -> Any:
    """B(θ1) = (T/2)[ε² + (ε g'' + g'²) s2 + ¾ g''² s2²], the averaged D11 (S16, S28).

    Gaussian moments of θ2 (⟨θ2⁴⟩ = 3 s2², s2 = T g/2).  B > 0 wherever
    ε > 0 or g'' ≠ 0.
    """
    return _diffusion(landscape, temperature(noise), np.asarray(x, dtype=float))


def slow_diffusion_derivative(landscape: Landscape, noise: NoiseLike, x: Any) -> Any:
    """B'(θ1), by the product rule on :func:`slow_diffusion` (s2' = T g'/2)."""
    T = temperature(noise)
    x = np.asarray(x, dtype=float)
    eps = landscape.eps
    s2 = _s2_gauss(landscape, T, x)
    g1, g2, g3 = landscape.dg(x), landscape.d2g(x), landscape.d3g(x)
    ds2 = 0.5 * T * g1
    return 0.5 * T * ((eps * g3 + 2.0 * g1 * g2) * s2 + (eps * g2 + g1 * g1) * ds2
                      + 1.5 * (g2 * g3 * s2 * s2 + g2 * g2 * s2 * ds2))


def effective_temperature(landscape: Landscape, noise: NoiseLike) -> float:
    """T_eff = T ε²/2, the constant-D diffusion of θ1 (S18, S23)."""
    return 0.5 * temperature(noise) * landscape.eps ** 2


def _constant_log_density(landscape: Landscape, T: float, x: np.ndarray) -> np.ndarray:
    """−L_eff/T_eff of the constant-D limit (S22, S23), up to a constant."""
    t_eff = effective_temperature(landscape, T)
    if not t_eff > 0:
        raise ModelError("the constant-D marginal needs eps > 0 and T > 0 (T_eff = T eps^2/2 = 0)")
    return -_constant_effective_loss(landscape, T, x) / t_eff


def _constant_effective_loss(landscape: Landscape, T: float, x: Any) -> Any:
    """L_eff = ½ ε θ1² + T g²/8 = ½ ε θ1² + T/(8 F⁴) (S23)."""
    gx = landscape.g(x)
    return 0.5 * landscape.eps * x * x + 0.125 * T * gx * gx


_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(4)
#: Intervals per block of :func:`_cumulative_integral`'s fine-grid path (4 nodes each: 256 KiB temporaries).
_BLOCK = 8192


def _cumulative_integral(f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, cells: int = 4000) -> np.ndarray:
    """∫_{grid[0]}^{grid[i]} f for an increasing grid, by 4-point Gauss–Legendre.

    Each grid interval is split into pieces no longer than 1/``cells`` of
    the whole span (so a coarse caller's grid still integrates accurately).
    """
    widths = np.diff(grid)
    if widths.size == 0:
        return np.zeros_like(grid)
    h_max = (grid[-1] - grid[0]) / cells
    if not np.any(widths > h_max):
        # every interval is one piece (a fine grid): the same sums without the
        # book-keeping, in blocks whose temporaries stay in the cache
        per_interval = np.empty(widths.size)
        for i in range(0, widths.size, _BLOCK):
            w = widths[i:i + _BLOCK]
            nodes = grid[i:i + w.size, None] + 0.5 * w[:, None] * (_GAUSS_NODES[None, :] + 1.0)
            per_interval[i:i + w.size] = 0.5 * w * (f(nodes) @ _GAUSS_WEIGHTS)
        return np.concatenate(([0.0], np.cumsum(per_interval)))
    pieces = np.maximum(1, np.ceil(widths / h_max).astype(int)) if h_max > 0 else np.ones(widths.size, int)
    owner = np.repeat(np.arange(widths.size), pieces)
    first = np.concatenate(([0], np.cumsum(pieces)[:-1]))
    index = np.arange(owner.size) - np.repeat(first, pieces)
    h = widths[owner] / pieces[owner]
    left = grid[:-1][owner] + index * h
    nodes = left[:, None] + 0.5 * h[:, None] * (_GAUSS_NODES[None, :] + 1.0)
    piece_sums = 0.5 * h * (f(nodes) @ _GAUSS_WEIGHTS)
    per_interval = np.bincount(owner, weights=piece_sums, minlength=widths.size)
    return np.concatenate(([0.0], np.cumsum(per_interval)))


def _log_marginal_sorted(landscape: Landscape, T: float, x: np.ndarray, kind: str) -> np.ndarray:
    """ln P1 on an increasing grid, up to a constant (not normalised)."""
    _check_kind(kind)
    if kind == "constant":
        return _constant_log_density(landscape, T, x)
    if not T > 0:
        raise ModelError("the slow marginal needs T > 0")
    if landscape.eps == 0 and landscape.a2 == 0 and landscape.a4 == 0:
        raise ModelError("the slow marginal needs eps > 0 or a non-constant g (B = 0 otherwise)")
    return log_marginal_from(lambda z: slow_drift(landscape, T, z), lambda z: slow_diffusion(landscape, T, z), x)


def log_marginal_from(drift: Callable[[np.ndarray], np.ndarray], diffusion: Callable[[np.ndarray], np.ndarray],
                      x: np.ndarray) -> np.ndarray:
    """ln P1 = ∫_{x[0]}^x A/B − ln B on an increasing grid ``x``, up to a constant (S30, S31).

    ``drift`` A and ``diffusion`` B > 0 of any 1-D slow process
    dθ1 = A dt + sqrt(2B) dW, vectorised over arrays (the two-variable
    valley here, m fast directions in :mod:`fpsolve.theory.nvalley`).
    """
    return _cumulative_integral(lambda z: drift(z) / diffusion(z), x) - np.log(diffusion(x))


def log_marginal_theta1(landscape: Landscape, noise: NoiseLike, grid: Any, kind: str = "landscape") -> np.ndarray:
    """ln P1(θ1) on ``grid``, shifted so that its maximum is 0 (not normalised).

    ``kind="landscape"``: P1 ∝ (1/B) exp(∫ A/B) (S30, S31), valid while
    τ2 ≪ τ1 (S47).  ``kind="constant"``: P1 ∝ exp(−L_eff/T_eff) (S21, S22),
    valid for T g'²/ε² ≪ 1 along the support; needs ε > 0.
    """
    T = temperature(noise)
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ModelError("the θ1 grid must be a 1-D array of at least two finite points")
    order = np.argsort(grid, kind="stable")
    lp_sorted = _log_marginal_sorted(landscape, T, grid[order], kind)
    lp = np.empty_like(lp_sorted)
    lp[order] = lp_sorted
    return lp - lp.max()


def marginal_theta1(landscape: Landscape, noise: NoiseLike, grid: Any, kind: str = "landscape") -> np.ndarray:
    """P1(θ1) on ``grid``, normalised so that its trapezoid integral over the grid is 1.

    See :func:`log_marginal_theta1` for the two kinds.  The grid need not be
    sorted; the density is returned in the grid's order.  Its resolution is
    the caller's: a grid coarser than the density's width normalises badly.
    """
    grid = np.asarray(grid, dtype=float)
    p = np.exp(log_marginal_theta1(landscape, noise, grid, kind))
    order = np.argsort(grid, kind="stable")
    return p / trapezoid(p[order], grid[order])


def effective_loss(landscape: Landscape, noise: NoiseLike, x: Any, kind: str = "landscape") -> Any:
    """L_eff(θ1) = −T_eff ln P1 (S23, S32), T_eff = T ε²/2.

    ``kind="constant"``: the closed form ½ ε θ1² + T/(8 F⁴) (S23).
    ``kind="landscape"``: −T_eff ln P1 of S31, with its free constant fixed
    so that it equals the constant-D value at θ1 = 0.  Needs ε > 0.
    """
    T = temperature(noise)
    _check_kind(kind)
    x = np.asarray(x, dtype=float)
    if kind == "constant":
        return _constant_effective_loss(landscape, T, x)
    t_eff = effective_temperature(landscape, T)
    if not t_eff > 0:
        raise ModelError("the effective loss needs eps > 0 and T > 0 (T_eff = T eps^2/2 = 0)")
    grid = np.unique(np.concatenate(([0.0], x.ravel())))
    log_p = _log_marginal_sorted(landscape, T, grid, kind)
    log_p -= log_p[np.searchsorted(grid, 0.0)]
    out = -t_eff * log_p[np.searchsorted(grid, x.ravel())] + _constant_effective_loss(landscape, T, 0.0)
    return out.reshape(x.shape)


def sgd_loss(landscape: Landscape, noise: NoiseLike, x: Any, kind: str = "landscape") -> Any:
    """L_SGD = L_eff − ½ ε θ1² (S24, S33); for constant D it is T g²/8 = T/(8 F⁴)."""
    x = np.asarray(x, dtype=float)
    return effective_loss(landscape, noise, x, kind) - 0.5 * landscape.eps * x * x


def anisotropy(landscape: Landscape, noise: NoiseLike, x: Any, kind: str = "landscape") -> Any:
    """D22/D11 along the valley (S20, S28).

    ``kind="landscape"``: (T/2)(g² + g'² s2) / B with s2 = T g/2 (S28).
    ``kind="constant"``: g²/ε² (S20); ``inf`` for ε = 0.
    """
    T = temperature(noise)
    _check_kind(kind)
    x = np.asarray(x, dtype=float)
    gx, g1 = landscape.g(x), landscape.dg(x)
    if kind == "constant":
        if landscape.eps == 0:
            return np.full(x.shape, np.inf)
        return gx * gx / landscape.eps ** 2
    d22 = 0.5 * T * (gx * gx + g1 * g1 * _s2_gauss(landscape, T, x))
    return d22 / slow_diffusion(landscape, T, x)


# --------------------------------------------------------------------------
# Phase I → II transition (S34, S35) and the order parameter (S41–S43)
# --------------------------------------------------------------------------

def critical_temperature_constant(landscape: Landscape) -> float:
    """T_c = 2ε/(a0 ``|a2|``) in the constant-D limit (S35); ``inf`` unless a2 < 0."""
    return landscape.critical_temperature()


def log_marginal_curvature_at_origin(landscape: Landscape, noise: NoiseLike) -> float:
    """(A'(0) − B''(0)) / B(0) = (ln P1)''(0) of the landscape-dependent marginal (S34).

    Negative: θ1 = 0 is the most probable point (phase I); positive: it is a
    minimum of P1 (phase II).  Computed exactly: with s2 = T g/2, A and B
    are polynomials in θ1, so the model's formula functions are evaluated on
    numpy Polynomial objects.
    """
    T = temperature(noise)
    return _origin_condition(landscape, T) / float(slow_diffusion(landscape, T, 0.0))


def _origin_condition(landscape: Landscape, T: float) -> float:
    """A'(0) − B''(0) (S34), exact on polynomials: A and B are polynomials in θ1."""
    x = np.polynomial.Polynomial([0.0, 1.0])
    return float(_drift(landscape, T, x).deriv(1)(0.0) - _diffusion(landscape, T, x).deriv(2)(0.0))


def critical_temperature_landscape(landscape: Landscape, T_max: float = 100.0) -> float:
    """T_c as the root of A'(0) = B''(0), the landscape-dependent condition (S34, S35).

    A'(0) − B''(0) = −ε at T = 0 (phase I); the first T where it turns
    positive is returned (≈ 0.02182 for the default preset, against
    2ε/(a0|a2|) = 0.02).  ``inf`` if a2 ≥ 0 or no root below ``T_max`` (no
    transition); 0 for ε = 0 (the degenerate valley is in phase II at any T > 0).
    """
    if landscape.a2 >= 0:
        return math.inf
    if landscape.eps == 0:
        return 0.0
    # s2 ∝ T, so A'(0) − B''(0) is a cubic in T: interpolate it exactly at 4 points
    nodes = np.array([0.0, 1.0, 2.0, 3.0])
    cubic = np.polynomial.Polynomial.fit(nodes, [_origin_condition(landscape, t) for t in nodes], 3,
                                         domain=[0.0, 3.0], window=[0.0, 3.0])
    return first_upward_crossing(cubic, 1e-3 * critical_temperature_constant(landscape), T_max)


def first_upward_crossing(f: Callable[[Any], Any], T_low: float, T_max: float) -> float:
    """The first T in [T_low, T_max] where f (vectorised) turns from < 0 to ≥ 0, else ``inf``.

    Scans 400 log-spaced points and polishes with Brent's method (rtol
    1e-14): the root of A'(0) = B''(0) for the landscape-dependent T_c (S34, S35).
    """
    Ts = np.geomspace(T_low, T_max, 400)
    values = f(Ts)
    up = np.flatnonzero((values[:-1] < 0) & (values[1:] >= 0))
    if up.size == 0:
        return math.inf
    i = int(up[0])
    return float(optimize.brentq(f, Ts[i], Ts[i + 1], xtol=1e-300, rtol=1e-14))


def _mode_equation(landscape: Landscape, T: float, x: Any) -> Any:
    """(A − B')/B = (ln P1)' of the landscape-dependent marginal (S31)."""
    return (slow_drift(landscape, T, x) - slow_diffusion_derivative(landscape, T, x)) / slow_diffusion(landscape, T, x)


# --------------------------------------------------------------------------
# Moments of the folded marginal, on a grid refined around its mass
# --------------------------------------------------------------------------

def _support_grid(log_density: Callable[[np.ndarray], np.ndarray], lo: float, hi: float,
                  n: int = MOMENT_POINTS, rounds: int = 8) -> Tuple[np.ndarray, np.ndarray]:
    """A grid on [lo, hi] refined until every peak of the density is resolved.

    Repeatedly keeps the contiguous runs of cells where ln p > max − LOG_CUTOFF
    and lays ``n`` points over each run, until each run holds at least n/4
    points of the previous grid.  Raises ModelError when ln p is so large
    that its rounding error exceeds the cutoff (a peak narrower than double
    precision resolves, e.g. the constant-D marginal at ε → 0).
    """
    grid = np.linspace(lo, hi, n)
    lp = log_density(grid)
    finite = lp[np.isfinite(lp)]
    if finite.size == 0 or np.abs(finite).max() * 1e-12 > LOG_CUTOFF:
        span = np.abs(finite).max() if finite.size else math.inf
        raise ModelError(f"the marginal is too narrow to resolve in double precision (|ln P1| reaches {span:.3g} "
                         f"on θ1 in [{lo:g}, {hi:g}]; eps or T too small)")
    for _ in range(rounds):
        keep = lp > lp.max() - LOG_CUTOFF
        # extend by one cell either side, so the tails' edge is inside
        keep = keep | np.roll(keep, 1) | np.roll(keep, -1)
        keep[0] |= lp[0] > lp.max() - LOG_CUTOFF
        idx = np.flatnonzero(keep)
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        if all(r.size >= n // 4 for r in runs):
            break
        pieces = [np.linspace(grid[r[0]], grid[r[-1]], n) for r in runs]
        grid = np.unique(np.concatenate(pieces))
        lp = log_density(grid)
    return grid, lp


def _fold_interval(half_width: float | Tuple[float, float]) -> Tuple[float, float]:
    if isinstance(half_width, tuple):
        lo, hi = (float(v) for v in half_width)
    else:
        lo, hi = -float(half_width), float(half_width)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < 0 < hi):
        raise ModelError(f"the θ1 interval must contain 0 (got [{lo:g}, {hi:g}])")
    return lo, hi


def marginal_moments(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
                     interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH) -> Dict[str, float]:
    """Moments of P1 on θ1 ∈ ``interval`` (a half-width, or (lo, hi) around 0).

    The marginal is even in θ1, so the moments of ``|θ1|`` are taken on the
    folded density over [0, max(``|lo|``, hi)] with multiplicity 2 where both
    ±``|θ1|`` lie inside the interval.  Returns ``mean_abs_theta1``,
    ``std_abs_theta1``, ``var_theta1`` (= ⟨θ1²⟩ for a symmetric interval),
    ``var_theta2`` = E[T g/2] and ``var_theta2_exact`` = E[s2 exact] (inf if
    any mass sits where T g'² ≥ 2g), ``mean_g``, ``mean_dg2`` (⟨g'²⟩),
    ``mode_theta1`` and ``flatness_at_mode``.
    """
    T = temperature(noise)
    u, p, mean, top = folded_density(lambda z: _log_marginal_sorted(landscape, T, z, kind), interval)
    m1 = mean(u)
    m2 = mean(u * u)
    s2_exact = conditional_variance(landscape, T, u, exact=True)
    mass_inf = np.any(np.isinf(s2_exact) & (p > 0))
    mode = mode_theta1(landscape, T, kind, top)
    return {
        "mean_abs_theta1": m1,
        "std_abs_theta1": math.sqrt(max(m2 - m1 * m1, 0.0)),
        "var_theta1": m2,
        "var_theta2": mean(_s2_gauss(landscape, T, u)),
        "var_theta2_exact": math.inf if mass_inf else mean(np.where(np.isinf(s2_exact), 0.0, s2_exact)),
        "mean_g": mean(landscape.g(u)),
        "mean_dg2": mean(landscape.dg(u) ** 2),
        "mean_g2": mean(landscape.g(u) ** 2),
        "mode_theta1": mode,
        "flatness_at_mode": float(landscape.flatness(mode)),
    }


def folded_density(log_density: Callable[[np.ndarray], np.ndarray],
                   interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH
                   ) -> Tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], float], float]:
    """The even marginal folded onto ``|θ1|`` ∈ [0, top] of ``interval`` (a half-width or (lo, hi) around 0).

    ``log_density(u)``: ln P1 on an increasing grid, up to a constant.
    Returns (u, p, mean, top): the grid refined around the mass
    (:func:`_support_grid`), the unnormalised folded density p on it, ``mean(f)`` = the expectation of the values
    ``f`` on u (trapezoid rule, multiplicity 2 where both ±u lie inside the
    interval), and top = max(``|lo|``, hi).  Shared by the two-variable and
    the m-direction closed forms.
    """
    lo, hi = _fold_interval(interval)
    both = min(-lo, hi)
    top = max(-lo, hi)
    u, lp = _support_grid(log_density, 0.0, top)
    if both < top and not np.any(u == both):
        u = np.unique(np.append(u, [both, np.nextafter(both, math.inf)]))
        lp = log_density(u)
    weight = np.where(u <= both, 2.0, 1.0)
    p = weight * np.exp(lp - lp.max())
    Z = trapezoid(p, u)
    return u, p, (lambda f: trapezoid(f * p, u) / Z), top


def mode_theta1(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
                half_width: float = DEFAULT_HALF_WIDTH) -> float:
    """θ1* ≥ 0, the most probable ``|θ1|`` of P1 on [0, half_width] (S41, S42).

    Landscape-dependent: a root of A = B' (or 0); constant D: a root of
    L_eff' = 0 (or 0).  0 below T_c, ±θ1* above it (double well).  Found as
    the grid maximum of ln P1, polished by root-finding on (ln P1)'.
    """
    T = temperature(noise)
    _check_kind(kind)
    slope = (lambda z: _mode_equation(landscape, T, z)) if kind == "landscape" else \
        (lambda z: _drift(landscape, T, z) / effective_temperature(landscape, T))
    return mode_from(lambda u: _log_marginal_sorted(landscape, T, u, kind), slope, half_width)


def mode_from(log_density: Callable[[np.ndarray], np.ndarray], slope: Callable[[float], float],
              half_width: float = DEFAULT_HALF_WIDTH) -> float:
    """The most probable ``|θ1|`` ≥ 0 of an even marginal on [0, half_width] (S41, S42).

    ``log_density``: ln P1 on an increasing grid; ``slope``: (ln P1)'
    (= (A − B')/B).  The grid maximum, polished by Brent's method on the
    slope where it changes sign; 0 when the maximum is at the origin.
    """
    u, lp = _support_grid(log_density, 0.0, float(half_width))
    i = int(np.argmax(lp))
    if i == 0:
        return 0.0
    if i == u.size - 1:
        return float(u[-1])
    a, b = float(u[i - 1]), float(u[i + 1])
    if a == 0.0:
        # (ln P1)' vanishes at 0 by symmetry; bracket away from it
        a = 0.5 * float(u[i])
    fa, fb = slope(a), slope(b)
    if fa > 0 > fb:
        return float(optimize.brentq(slope, a, b, xtol=1e-15, rtol=1e-14))
    return float(u[i])


def flatness_at_mode(landscape: Landscape, noise: NoiseLike, kind: str = "landscape") -> float:
    """F(θ1*) = g(θ1*)^(−1/2), the flatness of the most probable solution (S43)."""
    return float(landscape.flatness(mode_theta1(landscape, noise, kind)))


def mean_abs_theta1(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
                    interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH) -> float:
    """E|θ1| under P1 (docs/model.md §6); see :func:`marginal_moments`."""
    return marginal_moments(landscape, noise, kind, interval)["mean_abs_theta1"]


def std_abs_theta1(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
                   interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH) -> float:
    """Standard deviation of ``|θ1|`` under P1 (docs/model.md §6); see :func:`marginal_moments`."""
    return marginal_moments(landscape, noise, kind, interval)["std_abs_theta1"]


def var_theta2(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
               interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH) -> float:
    """Var θ2 = E[s2(θ1)] under P1 with s2 = T g/2 (S27); see :func:`marginal_moments`."""
    return marginal_moments(landscape, noise, kind, interval)["var_theta2"]


# --------------------------------------------------------------------------
# Search time: 1-D mean first passage time (S44, Gardiner 5.2.7)
# --------------------------------------------------------------------------

def _log_cell_integrals(log_f: np.ndarray, x: np.ndarray) -> np.ndarray:
    """ln ∫ f over each cell, with ln f taken linear inside the cell.

    Exact for exponentials, so steep log-densities (T ≪ 1) need no tiny cells.
    """
    l0, l1 = log_f[:-1], log_f[1:]
    d = np.abs(l1 - l0)
    small = d < 1e-8
    safe = np.where(small, 1.0, d)
    # ln[(1 − e^{−d})/d], → −d/2 as d → 0
    shape = np.where(small, -0.5 * d, np.log(-np.expm1(-safe) / safe))
    return np.log(np.diff(x)) + np.maximum(l0, l1) + shape


def _slow_process(landscape: Landscape, T: float, kind: str) -> Tuple[Callable, Callable]:
    """(drift, diffusion) of the 1-D slow process dθ1 = A dt + sqrt(2B) dW."""
    _check_kind(kind)
    if kind == "landscape":
        return (lambda z: slow_drift(landscape, T, z)), (lambda z: slow_diffusion(landscape, T, z))
    t_eff = effective_temperature(landscape, T)
    if not t_eff > 0:
        raise ModelError("the constant-D process needs eps > 0 and T > 0")
    # the same drift A = −L_eff' (S17, S21): only B is replaced by T_eff
    return (lambda z: slow_drift(landscape, T, z)), (lambda z: np.full(np.shape(z), t_eff))


def mean_first_passage_time(landscape: Landscape, noise: NoiseLike, start: float, target: float,
                            reflect: float, kind: str = "landscape", points: int = PASSAGE_POINTS) -> float:
    """Mean first passage time (time units) of dθ1 = A dt + sqrt(2B) dW (S44).

    Gardiner (2009) Eq. 5.2.7 with ψ = exp(∫ A/B): reflecting at ``reflect``,
    absorbing at ``target``, started at ``start`` between them:

        τ(x0) = ∫_{x0}^{b} dy / ψ(y) ∫_a^y ψ(z) / B(z) dz      (a = reflect, b = target)

    (mirrored when b < a).  Valid where the adiabatic elimination is (S47).
    Evaluated in log space on ``points`` points per family of the grid with
    exact cell integrals of log-linear integrands, extrapolated from that grid
    and its bisection (fourth order, :func:`mean_first_passage_time_from`);
    returns ``inf`` when the time overflows a float.
    Multiply by 1/alpha for SGD steps.
    """
    T = temperature(noise)
    drift, diff = _slow_process(landscape, T, kind)
    return mean_first_passage_time_from(drift, diff, start, target, reflect, points)


def mean_first_passage_time_from(drift: Callable[[np.ndarray], np.ndarray],
                                 diff: Callable[[np.ndarray], np.ndarray], start: float, target: float,
                                 reflect: float, points: int = PASSAGE_POINTS) -> float:
    """Gardiner 5.2.7 for any 1-D process dθ1 = A dt + sqrt(2B) dW (S44); see
    :func:`mean_first_passage_time`.  ``drift`` A and ``diff`` B > 0 are
    vectorised callables; time units; ``inf`` on overflow; ModelError for
    reflect = target or a start outside [reflect, target].

    The log-linear cell rule is second order in the cell width; evaluated on
    a grid of ``points`` per family and on the same grid with every cell
    bisected, Richardson's (4 τ_h/2 − τ_h)/3 is fourth order (docs/numerics.md:
    the default 2001 points per family give the search times to 3e-11
    relative, where 20001 without the extrapolation gave 3e-8, at 1/3 the
    points)."""
    a, b, x0 = float(reflect), float(target), float(start)
    if not all(math.isfinite(v) for v in (a, b, x0)) or a == b:
        raise ModelError(f"first passage needs finite reflect != target (got {a:g}, {b:g})")
    if not (min(a, b) <= x0 <= max(a, b)):
        raise ModelError(f"the start {x0:g} must lie between reflect {a:g} and target {b:g}")
    if x0 == b:
        return 0.0
    sign = 1.0 if b > a else -1.0
    # work in s = sign * θ1 so that the reflecting end is on the left
    # uniform over [a, b], plus dense over [x0, b] and graded from b towards a,
    # so that narrow peaks (width ≪ |b − a|) near start and target are resolved
    span, near = abs(b - a), max(abs(b - x0), 1e-300)
    s = np.sort(np.concatenate((
        np.linspace(sign * a, sign * b, points),
        np.linspace(sign * x0, sign * b, points),
        sign * b - np.geomspace(min(near / points, span), span, points),
        [sign * x0])), kind="stable")  # sorted runs: a merge, then np.unique's de-duplication
    s = s[np.concatenate(([True], s[1:] != s[:-1]))]
    s = _separate(s[(s >= min(sign * a, sign * b)) & (s <= max(sign * a, sign * b))], sign * x0, 1e-12 * span)
    half = np.empty(2 * s.size - 1)
    half[0::2] = s
    half[1::2] = 0.5 * (s[:-1] + s[1:])
    # ψ's exponent ∫ A/B (4-point Gauss on every half cell: exact to rounding) and ln B, once on the fine grid
    # (sign = ±1: multiplying by it is exact, so skipping it for +1 changes no number)
    # (half cells are at most span/(2 points − 2) long: cells=points keeps each one piece)
    phi = _cumulative_integral((lambda z: drift(z) / diff(z)) if sign > 0 else
                               (lambda z: -drift(-z) / diff(-z)), half, cells=points)
    log_b = np.log(diff(sign * half))
    coarse = _log_passage_on_grid(phi[0::2], log_b[0::2], s, sign * x0)
    fine = _log_passage_on_grid(phi, log_b, half, sign * x0)
    if coarse is None or fine is None:
        return 0.0
    # (4 τ_fine − τ_coarse)/3 in log space: the two agree to O(h²)
    factor = (4.0 - math.exp(coarse - fine)) / 3.0 if coarse - fine < 1.0 else 0.0
    log_tau = fine + math.log(factor) if factor > 0 else fine
    return math.exp(log_tau) if log_tau < 709.0 else math.inf


def _separate(s: np.ndarray, s0: float, tol: float) -> np.ndarray:
    """The increasing grid ``s`` without points closer than ``tol`` to their left
    neighbour (the families' near-coincident points, whose midpoints would round
    onto an end), keeping the ends and ``s0``."""
    for _ in range(8):
        close = np.diff(s) <= tol
        if not close.any():
            break
        keep = np.ones(s.size, dtype=bool)
        fixed = (s == s0)
        fixed[0] = fixed[-1] = True
        keep[1:][close & ~fixed[1:]] = False          # drop the right point of a close pair ...
        keep[:-1][close & fixed[1:] & ~fixed[:-1]] = False   # ... or the left one when the right is fixed
        s = s[keep]
    return s


def _log_passage_on_grid(phi: np.ndarray, log_b: np.ndarray, s: np.ndarray, s0: float) -> Optional[float]:
    """ln τ of Gardiner 5.2.7 on the increasing grid ``s`` (reflecting end s[0],
    target s[-1], start s0 on the grid) from ln ψ = ``phi`` and ln B = ``log_b``
    on it, the cells' integrands log-linear; None when τ = 0."""
    log_inner_cells = _log_cell_integrals(phi - log_b, s)
    log_inner = np.concatenate(([-np.inf], np.logaddexp.accumulate(log_inner_cells)))
    i0 = int(np.searchsorted(s, s0))
    log_outer = log_inner[i0:] - phi[i0:]
    # the first cell of the outer integral may start at log_inner = −inf (x0 = a)
    finite = np.isfinite(log_outer)
    if not finite.any():
        return None
    lo = np.where(finite, log_outer, log_outer[finite].min() - 1e3)
    return float(np.logaddexp.reduce(_log_cell_integrals(lo, s[i0:])))


def peak_width(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
               mode: float | None = None) -> float:
    """σ* = (−(ln P1)''(θ1*))^(−1/2), the width of the stationary peak at the mode.

    The harmonic (second-order) expansion of L_eff around θ1* used in S44, S45.
    """
    T = temperature(noise)
    xs = mode_theta1(landscape, T, kind) if mode is None else float(mode)
    if kind == "landscape":
        slope = lambda z: _mode_equation(landscape, T, z)  # noqa: E731
        at_origin = lambda: log_marginal_curvature_at_origin(landscape, T)  # noqa: E731
    else:
        slope = lambda z: _drift(landscape, T, z) / effective_temperature(landscape, T)  # noqa: E731
        at_origin = lambda: -(landscape.eps + 0.25 * T * (landscape.d2g(0.0) * landscape.g(0.0))) \
            / effective_temperature(landscape, T)  # noqa: E731
    return peak_width_from(slope, at_origin, xs)


def peak_width_from(slope: Callable[[float], float], curvature_at_origin: Callable[[], float], mode: float) -> float:
    """σ* = (−(ln P1)''(θ1*))^(−1/2) from the slope (ln P1)' (central difference at
    the mode) or, at a mode 0, ``curvature_at_origin()`` = (ln P1)''(0); ``inf``
    where the curvature is not negative.  See :func:`peak_width`."""
    xs = float(mode)
    if xs == 0.0:
        curv = curvature_at_origin()
    else:
        h = 1e-5 * xs
        curv = (slope(xs + h) - slope(xs - h)) / (2.0 * h)
    return 1.0 / math.sqrt(-curv) if curv < 0 else math.inf


def search_time(landscape: Landscape, noise: NoiseLike, kind: str = "landscape",
                start: float | None = None, window: float | None = None,
                half_width: float = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """Search time τ_s: mean first passage time into the neighbourhood of θ1* (S44–S46).

    The target is θ1* ± ``window`` (default: the peak width σ*, see
    :func:`peak_width`).  Default start: θ1* + 3σ*, on the outer side,
    reflecting at θ1 = ``half_width`` (the far side); this is the
    near-critical relaxation of S45, which diverges as ``|T − T_c|``^(−1) on both
    sides (γ = 1) where the peak is harmonic.  A start below θ1* − window
    (e.g. 0, the global minimum, for the search of seed II.1) reflects at
    θ1 = 0 (the symmetry plane of the even marginal).  A start inside the
    window takes no time.  Returns a dict with ``search_time`` (time units),
    ``search_time_steps`` (= τ_s / alpha, only if ``noise`` is a Noise),
    and ``start``, ``target``, ``reflect``, ``window``, ``mode_theta1``.
    """
    T = temperature(noise)
    xs = mode_theta1(landscape, T, kind, half_width)
    sigma = peak_width(landscape, T, kind, xs)
    out = search_time_from(lambda x0, target, reflect: mean_first_passage_time(landscape, T, x0, target, reflect, kind),
                           xs, sigma, start, window, half_width)
    steps = out["search_time"] / noise.alpha if isinstance(noise, Noise) else None
    return {"search_time": out.pop("search_time"), "search_time_steps": steps, **out}


def search_time_from(passage: Callable[[float, float, float], float], mode: float, sigma: float,
                     start: float | None = None, window: float | None = None,
                     half_width: float = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """Target, start and reflecting end of the search of :func:`search_time`, and its time.

    ``passage(start, target, reflect)``: the 1-D mean first passage time;
    ``mode`` θ1*, ``sigma`` the peak width σ*.  Returns ``search_time``,
    ``start``, ``target``, ``reflect``, ``window``, ``mode_theta1``.
    """
    xs = float(mode)
    if window is None and not (math.isfinite(sigma) and sigma > 0):
        raise ModelError(f"no peak of P1 inside θ1 in [0, {float(half_width):g}] (it still rises at the end, "
                         f"θ1 = {xs:g}): the search time needs a wider interval")
    w = sigma if window is None else float(window)
    if not (math.isfinite(w) and w > 0):
        raise ModelError(f"the search window must be a finite number > 0 (got {w!r})")
    x0 = min(xs + 3.0 * w, float(half_width)) if start is None else float(start)
    if not (math.isfinite(x0) and 0.0 <= x0 <= half_width):
        raise ModelError(f"the search start must lie in [0, {half_width:g}] (got {x0!r})")
    if x0 > xs + w:
        target, reflect = xs + w, float(half_width)
    elif x0 < xs - w:
        target, reflect = xs - w, 0.0
    else:
        target, reflect = x0, x0
    tau = 0.0 if target == x0 else passage(x0, target, reflect)
    return {
        "search_time": tau,
        "start": x0, "target": target, "reflect": reflect, "window": w, "mode_theta1": xs,
    }


# --------------------------------------------------------------------------
# Adiabatic condition (S47, S48) and divergence (S7–S9, S36–S40)
# --------------------------------------------------------------------------

def adiabatic_ratio(landscape: Landscape, noise: NoiseLike, x: Any) -> Any:
    """τ2/τ1 = ``|ε + ½ g'' s2|`` / g with s2 = T g/2 (S14, S47); elimination needs ≪ 1."""
    tau2, tau1 = time_scales(landscape, noise, x)
    return tau2 / tau1


#: Divergence conditions of docs/model.md §5: discrete first/second order, continuous heavy tail.
STABILITY_CONDITIONS = ("first-order", "second-order", "heavy-tail")


def stability_margin(landscape: Landscape, noise: Noise, condition: str,
                     interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH, kind: str = "landscape") -> float:
    """Margin of a stability condition at (alpha, Delta): < 0 stable, > 0 divergent.

    ``first-order`` (S8): α⟨g⟩ − 2; ``second-order`` (S9):
    ⟨(1 − αg)²⟩ + α²Δ⟨g'²⟩ − 1; both averaged over the stationary P1 at
    T = αΔ (on ``interval``; ``kind="constant"`` is the seed's choice in
    S36, the default the landscape-dependent P1).  ``heavy-tail`` (S25):
    T g'(θ1*)²/(2 g(θ1*)) − 1, the continuous model's θ2 variance diverging
    at the mode.  Validity: lowest-order elimination; both closed-form P1
    stop broadening at large T (A and B grow alike), so ⟨g⟩ saturates.
    """
    if condition not in STABILITY_CONDITIONS:
        raise ModelError(f"unknown stability condition {condition!r} (choose from {', '.join(STABILITY_CONDITIONS)})")
    alpha, T = noise.alpha, noise.T
    if condition == "heavy-tail":
        xs = mode_theta1(landscape, T, kind, _fold_interval(interval)[1])
        return float(heavy_tail_index(landscape, T, xs)) - 1.0
    m = marginal_moments(landscape, T, kind, interval)
    if condition == "first-order":
        return alpha * m["mean_g"] - 2.0
    return 1.0 - 2.0 * alpha * m["mean_g"] + alpha ** 2 * m["mean_g2"] + alpha * T * m["mean_dg2"] - 1.0


def stable_delta_range(landscape: Landscape, alpha: float, condition: str,
                       interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH,
                       T_range: Tuple[float, float] = (1e-4, 10.0),
                       kind: str = "landscape") -> Tuple[float, float]:
    """(Δ_min, Δ_max) of the first interval of Δ where SGD is stable by ``condition`` (S38–S40).

    Scans T = αΔ over ``T_range`` (5 points per decade) and refines each
    change of the margin's sign with Brent's method.  Δ_min = 0 when stable
    from the lowest T; Δ_min > 0 happens when a large α is unstable at the
    global minimum (⟨g⟩ ≈ a0) but stable once the noise carries θ1 to flatter
    points (phase II lowers ⟨g⟩): the seed's asymmetric boundary.  Δ_max is
    ``inf`` if stable up to the top of the range; (0, 0) if never stable.
    """
    if not (math.isfinite(alpha) and alpha > 0):
        raise ModelError(f"alpha must be > 0 (got alpha={alpha!r})")
    margin = lambda T: stability_margin(landscape, Noise.from_temperature(T, alpha), condition, interval, kind)  # noqa: E731
    Ts = np.geomspace(T_range[0], T_range[1], 26)
    stable = np.array([margin(t) for t in Ts]) < 0
    if not stable.any():
        return 0.0, 0.0
    j = int(np.argmax(stable))
    T_min = 0.0 if j == 0 else optimize.brentq(margin, Ts[j - 1], Ts[j], xtol=1e-12, rtol=1e-10)
    after = np.flatnonzero(~stable[j:])
    if after.size == 0:
        return T_min / alpha, math.inf
    i = j + int(after[0])
    T_max = optimize.brentq(margin, Ts[i - 1], Ts[i], xtol=1e-12, rtol=1e-10)
    return float(T_min / alpha), float(T_max / alpha)


def delta_max(landscape: Landscape, alpha: float, condition: str,
              interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH,
              T_range: Tuple[float, float] = (1e-4, 10.0), kind: str = "landscape") -> float:
    """Δ_max(α): the upper end of :func:`stable_delta_range` (S38–S40)."""
    return stable_delta_range(landscape, alpha, condition, interval, T_range, kind)[1]


# --------------------------------------------------------------------------
# Everything for one case (scripts/theory.py, theory.json)
# --------------------------------------------------------------------------

def predictions(landscape: Landscape, noise: Noise,
                interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH,
                with_boundaries: bool = True) -> Dict[str, Any]:
    """The closed-form predictions of one case, keyed as in ``theory.json``.

    Moments use the landscape-dependent marginal (the constant-D ones carry
    a ``_constant`` suffix; they need ε > 0).  ``with_boundaries`` adds
    Δ_max(α) of the three divergence conditions (a root-finding each).
    Raises ModelError (InputError) naming a landscape or noise of the wrong type.
    """
    check_case(landscape, noise)
    T = noise.T
    lo, hi = _fold_interval(interval)
    out: Dict[str, Any] = {
        "T": T,
        "T_c_constant": _finite_or_none(critical_temperature_constant(landscape)),
        "T_c_landscape": _finite_or_none(critical_temperature_landscape(landscape)),
        "T_eff": effective_temperature(landscape, T),
    }
    m = marginal_moments(landscape, T, "landscape", (lo, hi))
    out.update({k: m[k] for k in ("mode_theta1", "mean_abs_theta1", "std_abs_theta1", "var_theta1",
                                  "var_theta2", "var_theta2_exact", "flatness_at_mode")})
    out["flatness_at_origin"] = float(landscape.flatness(0.0))
    if landscape.eps > 0 and T > 0:
        keys = ("mode_theta1", "mean_abs_theta1", "std_abs_theta1", "var_theta1", "flatness_at_mode")
        try:
            mc = marginal_moments(landscape, T, "constant", (lo, hi))
        except ModelError:  # a peak below double precision (eps -> 0): the constant-D extras are absent
            mc = dict.fromkeys(keys)
        out.update({f"{k}_constant": mc[k] for k in keys})
    xs = m["mode_theta1"]
    if math.isfinite(peak_width(landscape, T, "landscape", mode_theta1(landscape, T, "landscape", hi))):
        st = search_time(landscape, noise, "landscape", half_width=hi)
    else:  # the interval ends before P1 peaks (a disk smaller than the density): no search time
        st = dict.fromkeys(("search_time", "search_time_steps", "start", "target", "reflect", "window"))
    out.update({
        "search_time": st["search_time"],
        "search_time_steps": st["search_time_steps"],
        "search_start": st["start"], "search_target": st["target"], "search_reflect": st["reflect"],
        "search_window": st["window"],
        "adiabatic_ratio": float(adiabatic_ratio(landscape, T, xs)),
        "heavy_tail_index_at_mode": float(heavy_tail_index(landscape, T, xs)),
        "anisotropy_at_mode": float(anisotropy(landscape, T, xs)),
        "sgd_loss_at_mode_constant": float(0.125 * T * landscape.g(xs) ** 2),
    })
    if with_boundaries:
        ranges = {c: stable_delta_range(landscape, noise.alpha, c, (lo, hi)) for c in STABILITY_CONDITIONS}
        out["Delta_min"] = {c: r[0] for c, r in ranges.items()}
        out["Delta_max"] = {c: _finite_or_none(r[1]) for c, r in ranges.items()}
        out["stability_margin"] = {c: stability_margin(landscape, noise, c, (lo, hi))
                                   for c in STABILITY_CONDITIONS}
    return out


def _finite_or_none(value: float) -> float | None:
    """JSON has no inf: an infinite value (no transition, no bound) is null."""
    return value if math.isfinite(value) else None
