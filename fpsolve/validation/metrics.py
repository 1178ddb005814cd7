"""Metrics between the three methods: FEM density, closed forms, Monte Carlo.

Pure numpy/scipy functions, no DOLFINx: every number in a validation report
goes through one of them, so each is tested on its own against exact values.

Conventions
-----------
* A *binned probability* is a vector (or 2-D array) of probabilities of
  histogram bins; the mass outside the binned region may be appended as one
  extra bin so that both sides sum to 1.
* Sampling noise: a histogram of ``n`` independent samples from ``p`` has
  multinomial counts.  With correlated samples (several times of the same
  walker) we use an *effective* sample size ``n_eff`` estimated from
  independent groups of samples (:func:`effective_sample_size`).
* Verdicts compare two numbers with a stated tolerance
  ``max(n_sigma * combined error, rel_tol * |reference|, abs_tol)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy.special import gammaln

from fpsolve.tools.quadrature import trapezoid


__all__ = [
    "total_variation",
    "binomial_mean_abs_deviation",
    "tv_noise_floor",
    "effective_sample_size",
    "fold_symmetric",
    "symmetrise",
    "peak_location",
    "Verdict",
    "compare_values",
    "PowerLaw",
    "fit_power_law",
    "fit_power_law_free_x0",
    "trapezoid",
    "marginal_moments",
]


# --------------------------------------------------------------------------
# Distances between binned distributions and their sampling floor.
# --------------------------------------------------------------------------

def _as_probability(values: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(values, dtype=float).ravel()
    if p.size == 0 or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be a non-empty finite array")
    total = p.sum()
    if total <= 0:
        raise ValueError(f"{name} has no mass")
    return p / total


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance ½ Σ ``|p_i − q_i|`` of two binned distributions.

    Both are normalised to sum 1 first (pass counts or probabilities).  Small
    negative entries of a FEM bin integral (discretisation undershoot) are
    kept: they count as distance, which is honest.
    """
    p = _as_probability(p, "p")
    q = _as_probability(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {q.shape}")
    return 0.5 * float(np.abs(p - q).sum())


def binomial_mean_abs_deviation(n: float, p: np.ndarray) -> np.ndarray:
    """E|k − n p| for k ~ Binomial(n, p), exactly (de Moivre's formula).

    ``E|k − np| = 2 m C(n, m) p^m (1 − p)^(n − m + 1)`` with ``m = ⌊np⌋ + 1``
    (Berend & Kontorovich 2013).  Evaluated in log space with the Gamma
    function, so a non-integer effective ``n`` is allowed; for small ``p``
    it reduces to the Poisson value and, for large ``np``, to the Gaussian
    ``sqrt(2 n p (1 − p) / π)``.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = float(n)
    if not n > 0:
        raise ValueError(f"n must be > 0 (got {n})")
    out = np.zeros_like(p)
    inside = (p > 0) & (p < 1)
    pi = p[inside]
    m = np.floor(n * pi) + 1.0
    # m <= n always holds when n is an integer; clip for fractional n_eff
    m = np.minimum(m, np.floor(n))
    ok = m >= 1
    log = np.full_like(pi, -np.inf)
    mi, pk = m[ok], pi[ok]
    log[ok] = (np.log(2.0 * mi) + gammaln(n + 1) - gammaln(mi + 1) - gammaln(n - mi + 1)
               + mi * np.log(pk) + (n - mi + 1) * np.log1p(-pk))
    res = np.exp(log)
    # n < 1 (tiny n_eff): E|k - np| for a Bernoulli-like variable, 2 n p (1 - p)
    res[~ok] = 2.0 * n * pi[~ok] * (1 - pi[~ok])
    out[inside] = res
    return out


def tv_noise_floor(p: np.ndarray, n_eff: float) -> float:
    """Expected TV distance between ``p`` and a histogram of ``n_eff`` samples of it.

    Each bin's count is Binomial(n, p_i), so
    ``E[TV] = ½ Σ E|k_i − n p_i| / n`` exactly (the bins' errors are
    correlated, but expectation is linear).  For n p_i ≫ 1 this is
    ``½ Σ sqrt(2 p_i (1 − p_i) / (π n))``; empty-ish bins contribute ≈ p_i.
    With correlated samples pass the effective sample size.
    """
    p = _as_probability(np.clip(np.asarray(p, dtype=float), 0.0, None), "p")
    return 0.5 * float(binomial_mean_abs_deviation(n_eff, p).sum()) / float(n_eff)


def effective_sample_size(group_counts: np.ndarray) -> tuple[float, float]:
    """(n_eff, design effect) from histograms of independent groups of samples.

    ``group_counts[k, ...]`` is the histogram of group ``k`` (e.g. the samples
    of one block of walkers, several times per walker).  The observed
    between-group variance of the bin fractions, summed over bins, is compared
    with the multinomial variance of the same number of independent samples;
    their ratio is the design effect ``deff ≥ ~1`` and ``n_eff = n / deff``.
    Needs at least 4 groups; deff is floored at 1 only if the data say so
    within its own noise (it is returned as measured).
    """
    c = np.asarray(group_counts, dtype=float)
    k = c.shape[0]
    if k < 4:
        raise ValueError(f"need at least 4 independent groups (got {k})")
    c = c.reshape(k, -1)
    n_g = c.sum(axis=1)
    if np.any(n_g <= 0):
        raise ValueError("every group needs samples")
    n = float(n_g.sum())
    frac = c / n_g[:, None]
    pooled = c.sum(axis=0) / n
    # weighted between-group variance of bin fractions (groups may differ in size)
    w = n_g / n
    var_obs = (w[:, None] * (frac - pooled) ** 2).sum(axis=0) * k / (k - 1)
    # multinomial variance of one group's fraction ~ p (1-p) / n_group; with the
    # same weights this averages to p (1 - p) * k / n
    var_iid = pooled * (1 - pooled) * k / n
    deff = float(var_obs.sum() / var_iid.sum())
    return n / deff, deff


# --------------------------------------------------------------------------
# Symmetry: folding to |θ| and symmetrising.
# --------------------------------------------------------------------------

def _check_symmetric_edges(edges: np.ndarray) -> int:
    edges = np.asarray(edges, dtype=float)
    scale = max(abs(edges[0]), abs(edges[-1]))
    if edges.size % 2 == 0 or not np.allclose(edges, -edges[::-1], atol=1e-12 * scale, rtol=0):
        raise ValueError("folding needs edges symmetric about 0 with 0 as an edge (odd count)")
    return edges.size // 2


def fold_symmetric(hist: np.ndarray, edges: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fold a histogram (counts or bin probabilities) onto ``|coordinate|``.

    ``edges`` must be symmetric about 0 and contain 0; returns
    ``(folded, edges[mid:])``.  The model is symmetric under θ1 → −θ1 and
    θ2 → −θ2, and above T_c a trajectory rarely changes well, so Monte Carlo
    and FEM are compared on ``|θ1|`` (docs/model.md §6).
    """
    mid = _check_symmetric_edges(edges)
    h = np.moveaxis(np.asarray(hist, dtype=float), axis, 0)
    folded = h[mid:] + h[:mid][::-1]
    return np.moveaxis(folded, 0, axis), np.asarray(edges, dtype=float)[mid:]


def symmetrise(hist: np.ndarray, axes: Sequence[int] = (0, 1)) -> np.ndarray:
    """Average a histogram on symmetric edges with its mirror images along ``axes``."""
    h = np.asarray(hist, dtype=float)
    for ax in axes:
        h = 0.5 * (h + np.flip(h, axis=ax))
    return h


# --------------------------------------------------------------------------
# Peaks and moments on grids.
# --------------------------------------------------------------------------

def peak_location(values: np.ndarray, edges: np.ndarray) -> tuple[float, int, float]:
    """(centre, index, half-width) of the bin holding the maximum of ``values``.

    ``values`` are bin masses or densities on the bins ``edges``; the
    resolution is one bin, so two peaks *agree* when their indices differ by
    at most one.
    """
    v = np.asarray(values, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if v.ndim != 1 or edges.size != v.size + 1:
        raise ValueError("need 1-D values and len(edges) = len(values) + 1")
    i = int(np.argmax(v))
    return 0.5 * (edges[i] + edges[i + 1]), i, 0.5 * (edges[i + 1] - edges[i])


def marginal_moments(density: np.ndarray, grid: np.ndarray) -> dict:
    """Mass, mean, std and mode of a 1-D density sampled on ``grid`` (trapezoid)."""
    density = np.asarray(density, dtype=float)
    mass = trapezoid(density, grid)
    mean = trapezoid(grid * density, grid) / mass
    var = trapezoid((grid - mean) ** 2 * density, grid) / mass
    return {"mass": mass, "mean": mean, "std": math.sqrt(max(var, 0.0)),
            "mode": float(grid[int(np.argmax(density))])}


# --------------------------------------------------------------------------
# Verdicts.
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verdict:
    """Outcome of comparing ``value`` with ``reference`` under ``tolerance``."""

    value: float
    reference: float
    difference: float
    tolerance: float
    agree: bool
    rule: str

    @property
    def word(self) -> str:
        return "agree" if self.agree else "DIFFER"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"verdict": self.word}


def compare_values(value: float, reference: float, *, err: float = 0.0, ref_err: float = 0.0,
                   n_sigma: float = 3.0, rel_tol: float = 0.0, abs_tol: float = 0.0) -> Verdict:
    """Do ``value ± err`` and ``reference ± ref_err`` agree?

    Tolerance = max(n_sigma·sqrt(err² + ref_err²), rel_tol·``|reference|``,
    abs_tol): statistical error where there is one, otherwise a stated
    relative or absolute tolerance (discretisation, approximation order).
    A non-finite value never agrees.
    """
    value, reference = float(value), float(reference)
    stat = n_sigma * math.hypot(err, ref_err)
    rel = rel_tol * abs(reference)
    tol = max(stat, rel, abs_tol)
    rule = max((stat, f"{n_sigma:g} sigma"), (rel, f"{100 * rel_tol:g}%"),
               (abs_tol, f"abs {abs_tol:g}"))[1]
    diff = value - reference
    ok = bool(math.isfinite(value) and math.isfinite(reference) and abs(diff) <= tol)
    return Verdict(value, reference, diff, tol, ok, rule)


# --------------------------------------------------------------------------
# Power laws (critical exponents).
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """``y = prefactor · |x − x0| ** exponent``, fitted in log-log space."""

    exponent: float
    exponent_err: float
    prefactor: float
    x0: float
    n_points: int
    reduced_chi2: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.prefactor * np.abs(np.asarray(x, dtype=float) - self.x0) ** self.exponent

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def fit_power_law(x: np.ndarray, y: np.ndarray, *, x0: float = 0.0,
                  y_err: np.ndarray | None = None) -> PowerLaw:
    """Weighted least squares of ln y = ln c + k ln|x − x0|.

    With ``y_err`` the weights are ``(y/y_err)²`` (relative errors) and the
    exponent's standard error is scaled by sqrt(max(1, χ²_red)); without,
    by the residual scatter.  Needs ≥ 3 points with y > 0 and x ≠ x0.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = (y > 0) & (x != x0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 usable points for a power-law fit (got {int(keep.sum())})")
    lx = np.log(np.abs(x[keep] - x0))
    ly = np.log(y[keep])
    if y_err is None:
        w = np.ones_like(lx)
    else:
        rel = np.asarray(y_err, dtype=float)[keep] / y[keep]
        if np.any(rel <= 0):
            raise ValueError("y_err must be > 0")
        w = 1.0 / rel ** 2
    A = np.stack([np.ones_like(lx), lx], axis=1)
    Aw = A * np.sqrt(w)[:, None]
    bw = ly * np.sqrt(w)
    coef, *_ = np.linalg.lstsq(Aw, bw, rcond=None)
    resid = bw - Aw @ coef
    dof = lx.size - 2
    chi2 = float(resid @ resid) / dof if dof > 0 else 0.0
    cov = np.linalg.inv(Aw.T @ Aw)
    scale = chi2 if y_err is None else max(1.0, chi2)
    err = math.sqrt(cov[1, 1] * scale)
    return PowerLaw(float(coef[1]), err, float(np.exp(coef[0])), float(x0), int(lx.size), chi2)


def fit_power_law_free_x0(x: np.ndarray, y: np.ndarray, *, x0_bounds: tuple[float, float],
                          y_err: np.ndarray | None = None) -> tuple[PowerLaw, float]:
    """Power law with the critical point ``x0`` fitted too: (fit, x0 standard error).

    Nonlinear least squares of ln y = ln c + k ln|x − x0| (scipy
    ``curve_fit``), with ``x0`` restricted to ``x0_bounds`` (which must lie on
    one side of the data).  The exponent's error includes its correlation
    with ``x0``.  Use when the transition point of the data is not known
    exactly (e.g. the FEM with cross-diffusion).
    """
    from scipy.optimize import curve_fit

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    lo, hi = map(float, x0_bounds)
    keep = (y > 0) & np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 4:
        raise ValueError(f"need at least 4 usable points to fit x0 too (got {x.size})")
    side = 1.0 if np.all(x > hi) else -1.0 if np.all(x < lo) else 0.0
    if side == 0.0:
        raise ValueError("x0_bounds must lie on one side of the data")
    sigma = None if y_err is None else np.asarray(y_err, dtype=float)[keep] / y

    def model(xx: np.ndarray, lnc: float, k: float, x0: float) -> np.ndarray:
        return lnc + k * np.log(side * (xx - x0))

    start = fit_power_law(x, y, x0=0.5 * (lo + hi))
    p, cov = curve_fit(model, x, np.log(y), p0=[math.log(start.prefactor), start.exponent, 0.5 * (lo + hi)],
                       sigma=sigma, absolute_sigma=sigma is not None,
                       bounds=([-np.inf, -np.inf, lo], [np.inf, np.inf, hi]))
    resid = np.log(y) - model(x, *p)
    dof = x.size - 3
    chi2 = float(np.sum((resid / (1.0 if sigma is None else sigma)) ** 2)) / dof if dof > 0 else 0.0
    fit = PowerLaw(float(p[1]), float(math.sqrt(cov[1, 1])), float(math.exp(p[0])), float(p[2]),
                   int(x.size), chi2)
    return fit, float(math.sqrt(cov[2, 2]))
