"""Closed forms of adiabatic elimination for m fast directions (docs/model.md §9).

The valley is :class:`~fpsolve.model.nvalley.NValley`: one slow coordinate x,
fast y_1 … y_m, ``L = ½ Σ g_i(x) y_i² + ½ ε x²``.  With Gaussian fast
conditionals of variance ``s_i(x) = T g_i/2`` (lowest order; each finite only
while ``T g_i'² < 2 g_i``)::

    A(x) = −(ε x + ½ Σ_i g_i' s_i)
    B(x) = (T/2) [ (ε + ½ Σ_i g_i'' s_i)² + ½ Σ_i g_i''² s_i² + Σ_i g_i'² s_i ]
    P1(x) ∝ (1/B) exp(∫₀^x A/B)

For m = 1 this is docs/model.md §5 (:mod:`fpsolve.theory.valley`) and every
number here equals that module's to rounding.  A and B are polynomials in x
whose coefficients are sums over the fast directions: they are built once per
valley (O(m), over its distinct directions) and every later evaluation costs
the same for m = 1 and m = 10⁶.  The 1-D machinery (marginal, moments, mode,
mean first-passage time) is :mod:`fpsolve.theory.valley`'s, fed with these A
and B.

Constant-D limit (B → T ε²/2): ``P1 ∝ exp(−L_eff/T_eff)``,
``L_eff = ½ ε x² + (T/8) Σ g_i²``, ``T_eff = T ε²/2``; its transition is
``T_c(m) = 2ε / (−Σ a0_i a2_i)``.  The landscape-dependent T_c is the first
root of ``A'(0) = B''(0)``, a cubic in T written out in
:func:`origin_condition_coefficients`.

Noise: ``T = alpha * Delta``; time in units of alpha SGD steps.  Result keys
share the two-variable names (``mean_abs_theta1`` … for x) and add the
per-direction ``var_y`` (a list of m).

Two slow coordinates (k = 2, radial ``g_i(|s|)``): :func:`reduced_model`
writes the reduced Fokker-Planck equation of §9 as a two-variable
:class:`~fpsolve.model.expression.Model` for the FEM solver.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from numpy.polynomial import Polynomial
from numpy.polynomial import polynomial as _P

from fpsolve.model.expression import Model
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import valley as _one
from fpsolve.tools.quadrature import trapezoid
from fpsolve.theory.valley import (DEFAULT_HALF_WIDTH, MARGINAL_KINDS, PASSAGE_POINTS, NoiseLike,
                                   folded_density, first_upward_crossing, log_marginal_from, mean_first_passage_time_from,
                                   mode_from, peak_width_from, search_time_from, temperature)


__all__ = [
    "direction_sums",
    "conditional_variance",
    "heavy_tail_index",
    "slow_drift",
    "slow_diffusion",
    "slow_diffusion_derivative",
    "log_marginal_x",
    "marginal_x",
    "critical_temperature_constant",
    "critical_temperature_landscape",
    "origin_condition_coefficients",
    "log_marginal_curvature_at_origin",
    "mode_x",
    "peak_width",
    "marginal_moments",
    "mean_first_passage_time",
    "search_time",
    "adiabatic_ratio",
    "divergence",
    "predictions",
    "reduced_model",
]


# --------------------------------------------------------------------------
# Sums over the fast directions, as polynomials in x (built once per valley)
# --------------------------------------------------------------------------

def _row_product(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Row-wise product of polynomial coefficient rows (n, p) × (n, q) → (n, p+q−1)."""
    out = np.zeros((P.shape[0], P.shape[1] + Q.shape[1] - 1))
    for j in range(Q.shape[1]):
        out[:, j:j + P.shape[1]] += P * Q[:, j:j + 1]
    return out


@functools.lru_cache(maxsize=64)
def _distinct(valley: NValley) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct coefficient rows (a0, a2, a4) of the fast directions (k, 3),
    each direction's row index (m,) and each row's multiplicity (k,): numpy's
    ``unique(axis=0)``, cached per valley (~0.4 ms at m = 1000, asked for by
    every moment and the reduced model); read-only arrays."""
    rows, inverse, counts = np.unique(np.stack([valley.a0, valley.a2, valley.a4], axis=1), axis=0,
                                      return_inverse=True, return_counts=True)
    inverse = np.ravel(inverse)
    for a in (rows, inverse, counts):
        a.setflags(write=False)
    return rows, inverse, counts


@functools.lru_cache(maxsize=64)
def direction_sums(valley: NValley) -> Dict[str, Polynomial]:
    """The sums over directions that A, B and L_eff need, as Polynomials in x.

    ``gg1`` = Σ g_i g_i', ``g2g`` = Σ g_i'' g_i, ``g2g_sq`` = Σ (g_i'' g_i)²,
    ``g1sq_g`` = Σ g_i'² g_i, ``gsq`` = Σ g_i²; computed over the distinct
    directions with their multiplicities (O(m) once, cached per valley).
    """
    rows, _, counts = _distinct(valley)
    a0, a2, a4 = rows[:, 0:1], rows[:, 1:2], rows[:, 2:3]
    zero = np.zeros_like(a0)
    G = np.hstack([a0, zero, a2, zero, a4])
    G1 = np.hstack([zero, 2 * a2, zero, 4 * a4])
    G2 = np.hstack([2 * a2, zero, 12 * a4])
    W = _row_product(G2, G)
    terms = {"gg1": _row_product(G, G1), "g2g": W, "g2g_sq": _row_product(W, W),
             "g1sq_g": _row_product(_row_product(G1, G1), G), "gsq": _row_product(G, G)}
    return {k: Polynomial(counts @ v) for k, v in terms.items()}


class _Horner(Polynomial):
    """A Polynomial (default domain and window: x maps to itself) whose value
    is Horner's scheme in place: the numbers of ``Polynomial.__call__``
    (numpy's polyval, same operations in the same order) without a new array
    per coefficient, several times faster on the 10⁴-point grids of the
    moments and first-passage integrals; plain floats for a scalar."""

    def __call__(self, arg: Any) -> Any:
        c = self.coef
        if isinstance(arg, (float, np.floating)):  # root finding: plain floats, the same operations
            xf = 0.0 + float(arg)
            cl = self._coefficients()
            v = cl[-1] + xf * 0.0
            for i in range(2, len(cl) + 1):
                v = cl[-i] + v * xf
            return np.float64(v)
        x = 0.0 + np.asarray(arg, dtype=float)   # the identity map of Polynomial.__call__
        out = x * 0.0
        out += c[-1]
        for i in range(2, len(c) + 1):
            out *= x
            out += c[-i]
        return out if out.ndim else out[()]

    def _coefficients(self) -> list:
        """The coefficients as Python floats (kept: root finding calls a polynomial ~10² times)."""
        cl = self.__dict__.get("_cl")
        if cl is None:
            cl = self.__dict__["_cl"] = [float(v) for v in self.coef]
        return cl


@functools.lru_cache(maxsize=256)
def _process(valley: NValley, T: float) -> Tuple[Polynomial, Polynomial, Polynomial]:
    """(A, B, B') as Polynomials in x at noise level T (docs/model.md §9)."""
    S = {k: v.coef for k, v in direction_sums(valley).items()}
    # Polynomial arithmetic without the objects: the functions its operators
    # call, in the same order (-(eps x + (T/4) gg1), u = eps + (T/4) g2g, ...)
    add, mul = _P.polyadd, _P.polymul
    A = -add(mul(valley.eps, [0.0, 1.0]), mul(0.25 * T, S["gg1"]))
    u = add(valley.eps, mul(0.25 * T, S["g2g"]))
    B = mul(0.5 * T, add(add(mul(u, u), mul(0.125 * T * T, S["g2g_sq"])), mul(0.5 * T, S["g1sq_g"])))
    return _Horner(A), _Horner(B), _Horner(_P.polyder(B, 1, 1.0))


def _check_kind(kind: str) -> None:
    if kind not in MARGINAL_KINDS:
        raise ModelError(f"unknown marginal kind {kind!r} (choose from {', '.join(MARGINAL_KINDS)})")


def _T_positive(noise: NoiseLike) -> float:
    T = temperature(noise)
    if not T > 0:
        raise ModelError(f"the slow marginal needs T > 0 (got T={T:g})")
    return T


def _t_eff(valley: NValley, T: float) -> float:
    t_eff = 0.5 * T * valley.eps ** 2
    if not t_eff > 0:
        raise ModelError("the constant-D marginal needs eps > 0 and T > 0 (T_eff = T eps^2/2 = 0)")
    return t_eff


# --------------------------------------------------------------------------
# Fast conditionals and the slow process
# --------------------------------------------------------------------------

def heavy_tail_index(valley: NValley, noise: NoiseLike, x: Any) -> np.ndarray:
    """u_i(x) = T g_i'²/(2 g_i), shape x.shape + (m,): ⟨y_i² | x⟩ is finite only where u_i < 1 (§5, §9)."""
    T = temperature(noise)
    return T * valley.dg(x) ** 2 / (2.0 * valley.g(x))


def conditional_variance(valley: NValley, noise: NoiseLike, x: Any, exact: bool = False) -> np.ndarray:
    """s_i(x) = ⟨y_i² | x⟩, shape x.shape + (m,): T g_i/2 (Gaussian, the closed forms' choice)
    or, ``exact=True``, (T g_i/2)/(1 − u_i), ``inf`` where u_i ≥ 1 (§5's heavy tail per direction)."""
    T = temperature(noise)
    gauss = 0.5 * T * valley.g(x)
    if not exact:
        return gauss
    rest = 1.0 - heavy_tail_index(valley, T, x)
    return np.where(rest > 0, gauss / np.where(rest > 0, rest, 1.0), np.inf)


def slow_drift(valley: NValley, noise: NoiseLike, x: Any) -> Any:
    """A(x) = −(ε x + ½ Σ g_i' s_i), s_i = T g_i/2 (docs/model.md §9); x any shape."""
    return _process(valley, temperature(noise))[0](np.asarray(x, dtype=float))


def slow_diffusion(valley: NValley, noise: NoiseLike, x: Any) -> Any:
    """B(x) = (T/2)[(ε + ½ Σ g_i'' s_i)² + ½ Σ g_i''² s_i² + Σ g_i'² s_i] (docs/model.md §9)."""
    return _process(valley, temperature(noise))[1](np.asarray(x, dtype=float))


def slow_diffusion_derivative(valley: NValley, noise: NoiseLike, x: Any) -> Any:
    """B'(x), exact (B is a polynomial in x)."""
    return _process(valley, temperature(noise))[2](np.asarray(x, dtype=float))


class _Remembered:
    """A log density that keeps its results on the last few grids: the moments
    and the mode refine the same grids around the mass (the same numbers; the
    second pass costs a hash of each grid)."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray], keep: int = 16) -> None:
        self.f, self.keep, self.seen = f, keep, {}

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if z.ndim != 1 or z.size < 64:
            return self.f(z)
        key = z.tobytes()
        hit = self.seen.get(key)
        if hit is None:
            hit = self.seen[key] = self.f(z)
            if len(self.seen) > self.keep:
                self.seen.pop(next(iter(self.seen)))
        return hit.copy()


@functools.lru_cache(maxsize=64)
def _log_density(valley: NValley, T: float, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """ln P1 on an increasing grid, up to a constant, for ``kind`` (one per (valley, T, kind))."""
    _check_kind(kind)
    A, B, _ = _process(valley, T)
    if kind == "constant":
        t_eff = _t_eff(valley, T)
        gsq = direction_sums(valley)["gsq"]
        return _Remembered(lambda z: -(0.5 * valley.eps * z * z + 0.125 * T * gsq(z)) / t_eff)
    return _Remembered(lambda z: log_marginal_from(A, B, z))


def _slope(valley: NValley, T: float, kind: str) -> Callable[[Any], Any]:
    """(ln P1)': (A − B')/B, or A/T_eff for constant D."""
    A, B, dB = _process(valley, T)
    if kind == "constant":
        t_eff = _t_eff(valley, T)
        return lambda z: A(z) / t_eff
    return lambda z: (A(z) - dB(z)) / B(z)


def log_marginal_x(valley: NValley, noise: NoiseLike, grid: Any, kind: str = "landscape") -> np.ndarray:
    """ln P1(x) on ``grid`` (any order), maximum shifted to 0; ``kind`` landscape or constant (§9)."""
    T = _T_positive(noise)
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ModelError("the x grid must be a 1-D array of at least two finite points")
    order = np.argsort(grid, kind="stable")
    lp = np.empty_like(grid)
    lp[order] = _log_density(valley, T, kind)(grid[order])
    return lp - lp.max()


def marginal_x(valley: NValley, noise: NoiseLike, grid: Any, kind: str = "landscape") -> np.ndarray:
    """P1(x) on ``grid``, normalised by the trapezoid rule over the grid."""
    grid = np.asarray(grid, dtype=float)
    p = np.exp(log_marginal_x(valley, noise, grid, kind))
    order = np.argsort(grid, kind="stable")
    return p / trapezoid(p[order], grid[order])


# --------------------------------------------------------------------------
# The transition
# --------------------------------------------------------------------------

def critical_temperature_constant(valley: NValley) -> float:
    """T_c(m) = 2ε/(−Σ a0_i a2_i) (constant D, A'(0) = 0); ``inf`` when Σ a0_i a2_i ≥ 0 (§9).

    m identical directions: T_c(1)/m.  0 for ε = 0 with Σ a0_i a2_i < 0.
    """
    s1 = float(np.dot(valley.a0, valley.a2))
    return 2.0 * valley.eps / -s1 if s1 < 0 else math.inf


def origin_condition_coefficients(valley: NValley) -> np.ndarray:
    """Coefficients c0…c3 of A'(0) − B''(0) = c0 + c1 T + c2 T² + c3 T³ (S34 for m directions).

    With S1 = Σ a0a2, S2 = Σ (6 a0a4 + a2²), S3 = Σ a0a2 (24 a0a4 + 4 a2²),
    S4 = Σ a0 a2²: c0 = −ε, c1 = −S1/2, c2 = −(ε S2 + 2 S4),
    c3 = −(S1 S2/2 + S3/4).  The term S1 S2 grows as m² for identical
    directions (the §9 correction that grows with m).
    """
    a0, a2, a4, eps = valley.a0, valley.a2, valley.a4, valley.eps
    S1 = float(np.sum(a0 * a2))
    S2 = float(np.sum(6 * a0 * a4 + a2 * a2))
    S3 = float(np.sum(a0 * a2 * (24 * a0 * a4 + 4 * a2 * a2)))
    S4 = float(np.sum(a0 * a2 * a2))
    return np.array([-eps, -0.5 * S1, -(eps * S2 + 2 * S4), -(0.5 * S1 * S2 + 0.25 * S3)])


def critical_temperature_landscape(valley: NValley, T_max: float = 100.0) -> float:
    """The first T where A'(0) = B''(0) (x = 0 stops being the mode of the
    landscape-dependent P1, §9); ``inf`` when Σ a0_i a2_i ≥ 0 or no root below
    ``T_max``; 0 for ε = 0.  m = 1: :func:`fpsolve.theory.valley.critical_temperature_landscape`."""
    T_c = critical_temperature_constant(valley)
    if not math.isfinite(T_c):
        return math.inf
    if valley.eps == 0:
        return 0.0
    return first_upward_crossing(Polynomial(origin_condition_coefficients(valley)), 1e-3 * T_c, T_max)


def log_marginal_curvature_at_origin(valley: NValley, noise: NoiseLike) -> float:
    """(A'(0) − B''(0))/B(0) = (ln P1)''(0): negative below T_c, positive above (§9)."""
    T = temperature(noise)
    A, B, dB = _process(valley, T)
    return float((A.deriv()(0.0) - dB.deriv()(0.0)) / B(0.0))


# --------------------------------------------------------------------------
# Mode, moments, search time
# --------------------------------------------------------------------------

def mode_x(valley: NValley, noise: NoiseLike, kind: str = "landscape",
           half_width: float = DEFAULT_HALF_WIDTH) -> float:
    """x* ≥ 0, the most probable ``|x|`` of P1 on [0, half_width] (root of A = B', or 0)."""
    return _mode(valley, _T_positive(noise), kind, float(half_width))


@functools.lru_cache(maxsize=256)
def _mode(valley: NValley, T: float, kind: str, half_width: float) -> float:
    """:func:`mode_x`, kept per (valley, T, kind, half-width): :func:`predictions`
    asks for the same mode from the moments, the peak width and the search."""
    return mode_from(_log_density(valley, T, kind), _slope(valley, T, kind), half_width)


def peak_width(valley: NValley, noise: NoiseLike, kind: str = "landscape", mode: Optional[float] = None) -> float:
    """σ* = (−(ln P1)''(x*))^(−1/2), the width of the peak at the mode (S44)."""
    T = _T_positive(noise)
    xs = mode_x(valley, T, kind) if mode is None else float(mode)
    return _peak_width(valley, T, kind, xs)


@functools.lru_cache(maxsize=256)
def _peak_width(valley: NValley, T: float, kind: str, xs: float) -> float:
    """:func:`peak_width` at the mode xs, kept per (valley, T, kind, xs)."""
    A, B, _ = _process(valley, T)
    at_origin = (lambda: log_marginal_curvature_at_origin(valley, T)) if kind == "landscape" else \
        (lambda: float(A.deriv()(0.0)) / _t_eff(valley, T))
    return peak_width_from(_slope(valley, T, kind), at_origin, xs)


def marginal_moments(valley: NValley, noise: NoiseLike, kind: str = "landscape",
                     interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """Moments of the folded P1 on x ∈ ``interval`` (a half-width or (lo, hi) around 0).

    Returns ``mean_abs_theta1``, ``std_abs_theta1``, ``var_theta1`` (⟨x²⟩),
    ``mode_theta1``, ``flatness_at_mode`` ((Σ g_i(x*))^(−1/2)), ``var_y``
    (list of m: ⟨y_i²⟩ = (T/2)⟨g_i⟩), ``var_y_mean``, ``var_y_exact`` (list
    of m, E of the heavy-tailed s_i; inf where mass sits at u_i ≥ 1),
    ``mean_g``, ``mean_g2``, ``mean_dg2`` (lists of m: ⟨g_i⟩, ⟨g_i²⟩,
    ⟨g_i'²⟩, from the even moments ⟨x^{2k}⟩, k ≤ 4).
    """
    T = _T_positive(noise)
    u, p, mean, top = folded_density(_log_density(valley, T, kind), interval)
    x2 = u * u
    even = np.array([1.0] + [mean(x2 ** k) for k in range(1, 5)])   # ⟨x^0⟩ … ⟨x^8⟩
    m1 = mean(u)
    a0, a2, a4 = valley.a0, valley.a2, valley.a4
    mean_g = a0 + a2 * even[1] + a4 * even[2]
    mean_g2 = (a0 * a0 + 2 * a0 * a2 * even[1] + (a2 * a2 + 2 * a0 * a4) * even[2]
               + 2 * a2 * a4 * even[3] + a4 * a4 * even[4])
    mean_dg2 = 4 * a2 * a2 * even[1] + 16 * a2 * a4 * even[2] + 16 * a4 * a4 * even[3]
    # the exact heavy-tailed variance, over the distinct directions only
    rows, inverse, _ = _distinct(valley)
    exact = np.empty(rows.shape[0])
    for j, (b0, b2, b4) in enumerate(rows):
        one = NValley(eps=valley.eps, a0=[b0], a2=[b2], a4=[b4])
        s_ex = conditional_variance(one, T, u, exact=True)[:, 0]
        exact[j] = math.inf if np.any(np.isinf(s_ex) & (p > 0)) else mean(np.where(np.isinf(s_ex), 0.0, s_ex))
    mode = mode_x(valley, T, kind, top)
    var_y = 0.5 * T * mean_g
    return {
        "mean_abs_theta1": m1,
        "std_abs_theta1": math.sqrt(max(even[1] - m1 * m1, 0.0)),
        "var_theta1": even[1],
        "mode_theta1": mode,
        "flatness_at_mode": float(valley.flatness(mode)),
        "var_y": var_y.tolist(),
        "var_y_mean": float(np.mean(var_y)),
        "var_y_exact": exact[inverse].tolist(),
        "mean_g": mean_g.tolist(),
        "mean_g2": mean_g2.tolist(),
        "mean_dg2": mean_dg2.tolist(),
    }


def mean_first_passage_time(valley: NValley, noise: NoiseLike, start: float, target: float, reflect: float,
                            kind: str = "landscape", points: int = PASSAGE_POINTS) -> float:
    """Mean first passage time (time units) of dx = A dt + sqrt(2B) dW, Gardiner 5.2.7 (S44)."""
    T = _T_positive(noise)
    _check_kind(kind)
    A, B, _ = _process(valley, T)
    diff = (lambda z: np.full(np.shape(z), _t_eff(valley, T))) if kind == "constant" else B
    return mean_first_passage_time_from(A, diff, start, target, reflect, points)


def search_time(valley: NValley, noise: NoiseLike, kind: str = "landscape", start: Optional[float] = None,
                window: Optional[float] = None, half_width: float = DEFAULT_HALF_WIDTH) -> Dict[str, Any]:
    """Search time into x* ± σ* (S44–S46), as :func:`fpsolve.theory.valley.search_time`
    (``search_time_steps`` = τ/alpha when ``noise`` is a Noise)."""
    T = _T_positive(noise)
    xs = mode_x(valley, T, kind, half_width)
    out = search_time_from(lambda x0, b, a: mean_first_passage_time(valley, T, x0, b, a, kind),
                           xs, peak_width(valley, T, kind, xs), start, window, half_width)
    steps = out["search_time"] / noise.alpha if isinstance(noise, Noise) else None
    return {"search_time": out.pop("search_time"), "search_time_steps": steps, **out}


# --------------------------------------------------------------------------
# Validity and divergence, per direction
# --------------------------------------------------------------------------

def adiabatic_ratio(valley: NValley, noise: NoiseLike, x: Any) -> np.ndarray:
    """τ2,i/τ1 = ``|ε + ½ Σ_j g_j'' s_j|`` / g_i, shape x.shape + (m,) (S47 per direction).

    The slow relaxation rate sums over all directions, so for identical
    directions the ratio grows ∝ m: the elimination's error grows with m.
    """
    T = temperature(noise)
    S = direction_sums(valley)
    rate = np.abs(valley.eps + 0.25 * T * S["g2g"](np.asarray(x, dtype=float)))
    return rate[..., None] / valley.g(x)


def divergence(valley: NValley, noise: NoiseLike, kind: str = "landscape",
               interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH,
               moments: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Divergence bounds per fast direction (docs/model.md §5 applied to each y_i, §9).

    ``heavy_tail_index`` u_i(x*) (continuous model: ⟨y_i²⟩ diverges at the
    mode where ≥ 1) and ``T_max_heavy_tail`` = 2 g_i(x*)/g_i'(x*)² (inf where
    g_i' = 0); with a :class:`Noise` also the discrete conditions' margins
    (< 0 stable): ``first_order`` α⟨g_i⟩ − 2 and ``second_order``
    ⟨(1 − αg_i)²⟩ + αT⟨g_i'²⟩ − 1.  Lists of m; ``worst_direction`` is the
    index of the largest first-order (else heavy-tail) margin.
    """
    T = _T_positive(noise)
    mom = marginal_moments(valley, T, kind, interval) if moments is None else moments
    xs = mom["mode_theta1"]
    g, g1 = valley.g(xs), valley.dg(xs)
    u = T * g1 * g1 / (2 * g)
    out: Dict[str, Any] = {
        "heavy_tail_index": u.tolist(),
        # 2 g/g'² elementwise (the same IEEE operations as per element), None where g' = 0
        "T_max_heavy_tail": [v if d != 0 else None for v, d in zip(_where_nonzero(2 * g, g1 * g1).tolist(),
                                                                     g1.tolist())],
    }
    margin = u - 1.0
    if isinstance(noise, Noise):
        alpha = noise.alpha
        mg, mg2, mdg2 = (np.asarray(mom[k]) for k in ("mean_g", "mean_g2", "mean_dg2"))
        first = alpha * mg - 2.0
        out["first_order"] = first.tolist()
        out["second_order"] = (-2 * alpha * mg + alpha * alpha * mg2 + alpha * T * mdg2).tolist()
        margin = first
    out["worst_direction"] = int(np.argmax(margin))
    return out


# --------------------------------------------------------------------------
# Everything for one (T, m)
# --------------------------------------------------------------------------

def _where_nonzero(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den ≠ 0, else 0 (no division-by-zero warning)."""
    out = np.zeros(np.shape(num))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def predictions(valley: NValley, noise: NoiseLike,
                interval: float | Tuple[float, float] = DEFAULT_HALF_WIDTH,
                with_search: bool = True) -> Dict[str, Any]:
    """The closed forms of one (T, m), keyed like :func:`fpsolve.theory.valley.predictions`
    where they coincide; ``_constant`` keys are the constant-D marginal's (ε > 0)."""
    T = _T_positive(noise)
    lo, hi = _one._fold_interval(interval)
    out: Dict[str, Any] = {
        "T": T,
        "fast_directions": valley.m,
        "T_c_constant": _finite_or_none(critical_temperature_constant(valley)),
        "T_c_landscape": _finite_or_none(critical_temperature_landscape(valley)),
        "T_eff": 0.5 * T * valley.eps ** 2,
    }
    mom = marginal_moments(valley, T, "landscape", (lo, hi))
    out.update(mom)
    out["flatness_at_origin"] = float(valley.flatness(0.0))
    if valley.eps > 0:
        keys = ("mode_theta1", "mean_abs_theta1", "std_abs_theta1", "var_theta1", "flatness_at_mode")
        try:
            mc = marginal_moments(valley, T, "constant", (lo, hi))
        except ModelError:  # a peak below double precision: the constant-D extras are absent
            mc = dict.fromkeys(keys)
        out.update({f"{k}_constant": mc[k] for k in keys})
    xs = mom["mode_theta1"]
    if with_search:
        if math.isfinite(peak_width(valley, T, "landscape", mode_x(valley, T, "landscape", hi))):
            st = search_time(valley, noise, "landscape", half_width=hi)
        else:
            st = dict.fromkeys(("search_time", "search_time_steps", "start", "target", "reflect", "window"))
        out.update({"search_time": st["search_time"], "search_time_steps": st["search_time_steps"],
                    "search_start": st["start"], "search_target": st["target"],
                    "search_reflect": st["reflect"], "search_window": st["window"]})
    ratio = adiabatic_ratio(valley, T, xs)
    out["adiabatic_ratio"] = float(np.max(ratio))
    out["divergence"] = divergence(valley, noise, "landscape", (lo, hi), mom)
    out["heavy_tail_index_at_mode"] = float(np.max(out["divergence"]["heavy_tail_index"]))
    return out


# --------------------------------------------------------------------------
# Two slow coordinates (k = 2): the reduced Fokker-Planck equation as a Model
# --------------------------------------------------------------------------

def reduced_model(valley: NValley, noise: Noise) -> Model:
    """The k = 2 reduced Fokker-Planck equation of docs/model.md §9 as a two-variable Model.

    Slow coordinates s = (θ1, θ2), fast curvatures radial, g_i(s) =
    a0_i + a2_i ρ + a4_i ρ², ρ = ``|s|²``, V = ½ ε ``|s|²``.  With s_i = T g_i/2:
    drift A = −(∇V + ½ Σ s_i ∇g_i) = −∇L_red, L_red = V + (T/8) Σ g_i² (the
    model's loss), and diffusion B = (T/2)(⟨H_ss²⟩ + Σ s_i ∇g_i ∇g_iᵀ) with
    ⟨H_ss²⟩ = M² + ½ Σ s_i² (∇²g_i)², M = ε I + ½ Σ s_i ∇²g_i, given as the
    covariance Σ = 2B/α (D = (α/2)Σ, docs/model.md §7).  On the θ2 = 0 axis
    A and B reduce to the k = 1 closed forms.  Distinct directions each add
    to the text (about 700 characters each; the expression limit bounds them
    to a few); identical ones are one term with their multiplicity.
    """
    T = noise.T
    rows, _, counts = _distinct(valley)
    params: Dict[str, float] = {"eps": valley.eps, "tn": T}
    rho = "(theta1**2 + theta2**2)"
    gsq, m11, m12, m22, b11, b12, b22 = ([] for _ in range(7))
    for k, ((a0, a2, a4), n) in enumerate(zip(rows, counts)):
        params.update({f"a0_{k}": a0, f"a2_{k}": a2, f"a4_{k}": a4, f"n_{k}": float(n)})
        g = f"(a0_{k} + a2_{k}*{rho} + a4_{k}*{rho}**2)"
        gr = f"(a2_{k} + 2*a4_{k}*{rho})"
        s = f"(tn/2*{g})"
        h11, h12, h22 = f"(2*{gr} + 8*a4_{k}*theta1**2)", f"(8*a4_{k}*theta1*theta2)", f"(2*{gr} + 8*a4_{k}*theta2**2)"
        gsq.append(f"n_{k}*{g}**2")
        m11.append(f"n_{k}*{s}*{h11}")
        m12.append(f"n_{k}*{s}*{h12}")
        m22.append(f"n_{k}*{s}*{h22}")
        b11.append(f"n_{k}*({s}**2/2*({h11}**2 + {h12}**2) + {s}*4*{gr}**2*theta1**2)")
        b12.append(f"n_{k}*({s}**2/2*{h12}*({h11} + {h22}) + {s}*4*{gr}**2*theta1*theta2)")
        b22.append(f"n_{k}*({s}**2/2*({h12}**2 + {h22}**2) + {s}*4*{gr}**2*theta2**2)")
    M11, M12, M22 = (f"(eps + ({' + '.join(m11)})/2)", f"(({' + '.join(m12)})/2)", f"(eps + ({' + '.join(m22)})/2)")
    loss = f"eps/2*{rho} + tn/8*({' + '.join(gsq)})"
    cov = (f"tn/alpha*({M11}**2 + {M12}**2 + {' + '.join(b11)})",
           f"tn/alpha*({M12}*({M11} + {M22}) + {' + '.join(b12)})",
           f"tn/alpha*({M12}**2 + {M22}**2 + {' + '.join(b22)})")
    return Model.from_expression(loss, params, cov, alpha=noise.alpha, Delta=noise.Delta,
                                 name=f"reduced-k2-m{valley.m}")
