"""Exact stationary densities of a general model (docs/model.md §7): ``P ∝ exp(−U)``.

The zero-flux condition ``J = −P (∇L + ∇·D) − D ∇P = 0`` holds for
``P ∝ exp(−U)`` exactly when ``D⁻¹ (∇L + ∇·D) = ∇U`` is a gradient:

* ``isotropic`` noise (D = (T/2) I): ``U = 2 L / T`` (the Gibbs density);
* any other model where the field ``v = D⁻¹ (∇L + ∇·D)`` is curl-free on the
  disk (checked at sample points); ``U`` is then the line integral of ``v``
  from the disk's centre.

That density is the stationary density of the reflecting disk, and the limit
of the absorbing one where it vanishes well inside.  Its moments are 2-D
integrals on the disk (Gauss–Legendre in the radius, the periodic trapezoid
rule in the angle), with the same names as the FEM summary.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import numpy as np

from fpsolve.model.expression import _disk_points
from fpsolve.model.valley import ModelError


__all__ = ["potential", "applies", "moments", "density"]

#: Relative curl below which v = D⁻¹(∇L + ∇·D) counts as a gradient.
CURL_TOLERANCE = 1e-9


def _field(model: Any):
    """Symbolic v = D⁻¹ (∇L + ∇·D) and its curl ∂2 v1 − ∂1 v2."""
    import sympy

    d = model.derivation
    x, y = d.symbols[:2]
    d11, d12, d22 = d.diffusion
    det = d11 * d22 - d12 * d12
    b1 = d.gradient[0] + d.divergence[0]
    b2 = d.gradient[1] + d.divergence[1]
    v1 = (d22 * b1 - d12 * b2) / det
    v2 = (d11 * b2 - d12 * b1) / det
    curl = sympy.diff(v1, y) - sympy.diff(v2, x)
    return v1, v2, curl


def potential(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> Optional[Callable]:
    """``U(θ1, θ2)`` (numpy, up to a constant) with P ∝ exp(−U) the exact
    stationary density, or None when ``D⁻¹(∇L + ∇·D)`` is not a gradient on
    the disk (docs/model.md §7)."""
    import sympy

    if model.noise == "isotropic":
        loss = model.derivation.numpy("loss")
        args = model.arguments
        T = model.T
        return lambda x, y: 2.0 * loss(x, y, *args) / T

    v1, v2, curl = _field(model)
    d = model.derivation
    fv = sympy.lambdify(d.symbols, [v1, v2], modules="numpy")
    fc = sympy.lambdify(d.symbols, curl, modules="numpy")
    x, y = _disk_points(radius, center)
    with np.errstate(all="ignore"):
        c = np.broadcast_to(np.asarray(fc(x, y, *model.arguments), float), x.shape)
        a, b = (np.broadcast_to(np.asarray(v, float), x.shape) for v in fv(x, y, *model.arguments))
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None  # D singular somewhere on the disk: no such potential
    scale = max(float(np.max(np.hypot(a, b))) / radius, 1e-300)
    if float(np.max(np.abs(c))) > CURL_TOLERANCE * scale:
        return None
    nodes, weights = np.polynomial.legendre.leggauss(24)
    s, w = 0.5 * (nodes + 1.0), 0.5 * weights
    cx, cy = center
    margs = model.arguments

    def U(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        px, py = np.asarray(px, float), np.asarray(py, float)
        dx, dy = px - cx, py - cy
        total = np.zeros(np.broadcast(px, py).shape)
        for si, wi in zip(s, w):
            g1, g2 = fv(cx + si * dx, cy + si * dy, *margs)
            total = total + wi * (g1 * dx + g2 * dy)
        return total

    return U


def applies(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> bool:
    """Whether P ∝ exp(−U) is exact for the model on the disk."""
    return potential(model, radius, center) is not None


def _polar_rule(radius: float, center: Tuple[float, float], n_r: int, n_a: int):
    nodes, weights = np.polynomial.legendre.leggauss(n_r)
    r = 0.5 * radius * (nodes + 1.0)
    wr = 0.5 * radius * weights * r
    a = 2 * np.pi * np.arange(n_a) / n_a
    rr, aa = np.meshgrid(r, a, indexing="ij")
    w = np.repeat(wr, n_a) * (2 * np.pi / n_a)
    return center[0] + (rr * np.cos(aa)).ravel(), center[1] + (rr * np.sin(aa)).ravel(), w


def density(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> Callable:
    """The normalised exact density ``P(θ1, θ2)`` on the disk (numpy);
    ModelError when no potential exists."""
    U = potential(model, radius, center)
    if U is None:
        raise ModelError("D^-1 (grad L + div D) is not a gradient on the disk: no exact density exp(-U) (docs/model.md §7)")
    x, y, w = _polar_rule(radius, center, 400, 720)
    u = U(x, y)
    shift = float(np.min(u))
    z = float(np.sum(w * np.exp(-(u - shift))))
    return lambda px, py: np.exp(-(U(px, py) - shift)) / z


def moments(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
            n_r: int = 600, n_a: int = 1440) -> dict:
    """Moments of the exact density on the disk by 2-D quadrature (``n_r``
    Gauss–Legendre radii × ``n_a`` angles): the keys of the FEM summary
    (mean/std ``|θ1|``, mean and Var θ1, θ2) plus ``mass`` (= 1)."""
    U = potential(model, radius, center)
    if U is None:
        raise ModelError("D^-1 (grad L + div D) is not a gradient on the disk: no exact density exp(-U) (docs/model.md §7)")
    x, y, w = _polar_rule(radius, center, n_r, n_a)
    u = U(x, y)
    p = w * np.exp(-(u - np.min(u)))
    p /= p.sum()
    m_abs = float(np.sum(p * np.abs(x)))
    m_x, m_y = float(np.sum(p * x)), float(np.sum(p * y))
    m_x2, m_y2 = float(np.sum(p * x * x)), float(np.sum(p * y * y))
    return {"mass": 1.0, "mean_abs_theta1": m_abs, "std_abs_theta1": float(np.sqrt(max(m_x2 - m_abs ** 2, 0.0))),
            "mean_theta1": m_x, "var_theta1": m_x2 - m_x ** 2, "mean_theta2": m_y, "var_theta2": m_y2 - m_y ** 2}


def closed_forms(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> dict:
    """Which closed forms apply to ``model`` on the disk:
    ``adiabatic`` (the valley family of docs/model.md §1 with sgd / sgd-diagonal
    noise: all of §5) and ``exact_density`` (P ∝ exp(−U), docs/model.md §7)."""
    return {"adiabatic": model.valley is not None and model.noise in ("sgd", "sgd-diagonal"),
            "exact_density": applies(model, radius, center)}


def refusal(model: Any) -> str:
    """The one line said when no closed form applies."""
    return (f"no closed form applies to {model.describe()}: it is not the valley of docs/model.md §1 with sgd noise, "
            "and D^-1 (grad L + div D) is not a gradient (use solve_fp.py or sample_sgd.py)")
