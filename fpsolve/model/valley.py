"""The model of docs/model.md §1–3, written once.

Loss landscape (docs/model.md §1)::

    L(θ1, θ2) = ½ g(θ1) θ2² + ½ ε θ1²,     g(θ1) = a0 + a2 θ1² + a4 θ1⁴

SGD noise (§2–3): linear random-shift minibatches with shift variance ``Delta``
and learning rate ``alpha`` give the Itô SDE ``dθ = −∇L dt + sqrt(T) H dW``
with ``T = alpha * Delta`` and diffusion matrix ``D = (T/2) H²``.

Conventions: ``x = θ1`` (degenerate, slow), ``y = θ2`` (fast); time is in
units of ``alpha`` SGD steps (``t = alpha * k``).

The *formula functions* at module level (``g``, ``hessian``, ``diffusion``,
...) only use ``+ - * **`` on their arguments, so the same code evaluates on
Python floats, numpy arrays, UFL expressions (with ``fem.Constant``
coefficients) and inside numba-compiled kernels.  The dataclasses
:class:`Landscape` and :class:`Noise` hold validated numbers and delegate to
those functions.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Tuple

from fpsolve.tools.errors import InputError


__all__ = [
    "ModelError",
    "PRESETS",
    "DEFAULT_PRESET",
    "Landscape",
    "Noise",
    "g",
    "dg",
    "d2g",
    "d3g",
    "flatness",
    "loss",
    "gradient",
    "hessian",
    "diffusion",
    "diffusion_divergence",
    "describe",
    "check_start",
]


#: Invalid model parameters (the message names the violated condition): the
#: package's :class:`~fpsolve.tools.errors.InputError` under its older name.
ModelError = InputError


# --------------------------------------------------------------------------
# Formula functions: generic over floats, arrays, UFL and numba.
# --------------------------------------------------------------------------

def g(x: Any, a0: Any, a2: Any, a4: Any) -> Any:
    """Valley curvature g(θ1) = a0 + a2 θ1² + a4 θ1⁴ (docs/model.md §1)."""
    x2 = x * x
    return a0 + a2 * x2 + a4 * x2 * x2


def dg(x: Any, a0: Any, a2: Any, a4: Any) -> Any:
    """g'(θ1) = 2 a2 θ1 + 4 a4 θ1³."""
    return 2.0 * a2 * x + 4.0 * a4 * x * x * x


def d2g(x: Any, a0: Any, a2: Any, a4: Any) -> Any:
    """g''(θ1) = 2 a2 + 12 a4 θ1²."""
    return 2.0 * a2 + 12.0 * a4 * x * x


def d3g(x: Any, a0: Any, a2: Any, a4: Any) -> Any:
    """g'''(θ1) = 24 a4 θ1."""
    return 24.0 * a4 * x


def flatness(x: Any, a0: Any, a2: Any, a4: Any) -> Any:
    """Flatness F(θ1) = g(θ1)^(-1/2): larger is flatter (docs/model.md §1)."""
    return g(x, a0, a2, a4) ** -0.5


def loss(x: Any, y: Any, a0: Any, a2: Any, a4: Any, eps: Any) -> Any:
    """L(θ1, θ2) = ½ g θ2² + ½ ε θ1²."""
    return 0.5 * g(x, a0, a2, a4) * y * y + 0.5 * eps * x * x


def gradient(x: Any, y: Any, a0: Any, a2: Any, a4: Any, eps: Any) -> Tuple[Any, Any]:
    """∇L = (½ g' θ2² + ε θ1, g θ2) (docs/model.md §1, S6)."""
    return (0.5 * dg(x, a0, a2, a4) * y * y + eps * x, g(x, a0, a2, a4) * y)


def hessian(x: Any, y: Any, a0: Any, a2: Any, a4: Any, eps: Any) -> Tuple[Any, Any, Any]:
    """Hessian entries (H11, H12, H22) = (½ g'' θ2² + ε, g' θ2, g)."""
    return (
        0.5 * d2g(x, a0, a2, a4) * y * y + eps,
        dg(x, a0, a2, a4) * y,
        g(x, a0, a2, a4),
    )


def diffusion(
    x: Any, y: Any, T: Any, a0: Any, a2: Any, a4: Any, eps: Any, cross: bool = True
) -> Tuple[Any, Any, Any]:
    """Diffusion entries (D11, D12, D22) of D = (T/2) H² (docs/model.md §3, S13).

    With ``cross=False`` the off-diagonal D12 is dropped (returned as 0.0),
    which is the SDE with independent noises sqrt(2 D11), sqrt(2 D22).
    """
    h11, h12, h22 = hessian(x, y, a0, a2, a4, eps)
    d11 = 0.5 * T * (h11 * h11 + h12 * h12)
    d22 = 0.5 * T * (h12 * h12 + h22 * h22)
    d12 = 0.5 * T * h12 * (h11 + h22) if cross else 0.0
    return d11, d12, d22


def diffusion_divergence(
    x: Any, y: Any, T: Any, a0: Any, a2: Any, a4: Any, eps: Any, cross: bool = True
) -> Tuple[Any, Any]:
    """Row divergence (∇·D)_i = Σ_j ∂_j D_ij, needed by the weak form (§4).

    Derivatives of the Hessian: ∂x H11 = ½ g''' θ2², ∂y H11 = g'' θ2,
    ∂x H12 = g'' θ2, ∂y H12 = g', ∂x H22 = g', ∂y H22 = 0.
    """
    h11, h12, h22 = hessian(x, y, a0, a2, a4, eps)
    g1 = dg(x, a0, a2, a4)
    g2 = d2g(x, a0, a2, a4)
    g3 = d3g(x, a0, a2, a4)
    dx_h11 = 0.5 * g3 * y * y
    dx_d11 = T * (h11 * dx_h11 + h12 * g2 * y)
    dy_d22 = T * h12 * g1
    if not cross:
        return dx_d11, dy_d22
    dy_d12 = 0.5 * T * (g1 * (h11 + h22) + h12 * g2 * y)
    dx_d12 = 0.5 * T * (g2 * y * (h11 + h22) + h12 * (dx_h11 + g1))
    return dx_d11 + dy_d12, dx_d12 + dy_d22


# --------------------------------------------------------------------------
# Validated parameter sets.
# --------------------------------------------------------------------------

#: Presets of docs/model.md §1; names are public API.
PRESETS = {
    "double-well": dict(a0=1.0, a2=-1.0, a4=0.5, eps=0.01),
    "single-well": dict(a0=1.0, a2=1.0, a4=0.0, eps=0.01),
    "degenerate": dict(a0=1.0, a2=-1.0, a4=0.5, eps=0.0),
}
DEFAULT_PRESET = "double-well"


def _require_finite(**values: float) -> None:
    for name, value in values.items():
        try:
            ok = math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ModelError(f"{name} must be a finite number (got {value!r})")


@dataclasses.dataclass(frozen=True)
class Landscape:
    """Valley coefficients of g and the degeneracy-breaking ε (docs/model.md §1).

    Validity: a0 > 0, a4 ≥ 0, ε ≥ 0, and if a2 < 0 then a4 > 0 and
    a2² < 4 a0 a4, so that g > 0 for every θ1; not ε = a2 = a4 = 0 (θ1
    frozen, docs/model.md §7).
    """

    a0: float
    a2: float
    a4: float
    eps: float
    name: str = "custom"

    def __post_init__(self) -> None:
        _require_finite(a0=self.a0, a2=self.a2, a4=self.a4, eps=self.eps)
        for field in ("a0", "a2", "a4", "eps"):
            object.__setattr__(self, field, float(getattr(self, field)))
        if self.a0 <= 0:
            raise ModelError(f"a0 must be > 0 (got a0={self.a0:g})")
        if self.a4 < 0:
            raise ModelError(f"a4 must be >= 0 (got a4={self.a4:g})")
        if self.eps < 0:
            raise ModelError(f"eps must be >= 0 (got eps={self.eps:g})")
        if self.a2 < 0 and not self.a2 * self.a2 < 4.0 * self.a0 * self.a4:
            raise ModelError(
                "a2 < 0 needs a2^2 < 4 a0 a4 so that g > 0 everywhere "
                f"(got a2={self.a2:g}, a0={self.a0:g}, a4={self.a4:g})"
            )
        if self.eps == 0 and self.a2 == 0 and self.a4 == 0:
            raise ModelError(
                "eps = a2 = a4 = 0 freezes theta1 (neither drift nor diffusion: "
                "no unique stationary density, docs/model.md §7); give eps > 0 or a2, a4"
            )

    @classmethod
    def from_preset(cls, preset: str = DEFAULT_PRESET, **overrides: float | None) -> "Landscape":
        """A preset of docs/model.md §1, with any coefficient overridden (None = keep)."""
        if preset not in PRESETS:
            raise ModelError(
                f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})"
            )
        params = dict(PRESETS[preset])
        changed = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(changed) - set(params)
        if unknown:
            raise ModelError(f"unknown landscape parameter(s): {', '.join(sorted(unknown))}")
        params.update(changed)
        name = preset if all(params[k] == PRESETS[preset][k] for k in params) else "custom"
        return cls(name=name, **params)

    @property
    def coefficients(self) -> Tuple[float, float, float, float]:
        """(a0, a2, a4, eps), the argument order of the formula functions."""
        return (self.a0, self.a2, self.a4, self.eps)

    def as_dict(self) -> dict:
        return {"preset": self.name, "a0": self.a0, "a2": self.a2, "a4": self.a4, "eps": self.eps}

    # The methods below delegate to the formula functions.
    def g(self, x: Any) -> Any:
        return g(x, self.a0, self.a2, self.a4)

    def dg(self, x: Any) -> Any:
        return dg(x, self.a0, self.a2, self.a4)

    def d2g(self, x: Any) -> Any:
        return d2g(x, self.a0, self.a2, self.a4)

    def d3g(self, x: Any) -> Any:
        return d3g(x, self.a0, self.a2, self.a4)

    def flatness(self, x: Any) -> Any:
        return flatness(x, self.a0, self.a2, self.a4)

    def loss(self, x: Any, y: Any) -> Any:
        return loss(x, y, *self.coefficients)

    def gradient(self, x: Any, y: Any) -> Tuple[Any, Any]:
        return gradient(x, y, *self.coefficients)

    def hessian(self, x: Any, y: Any) -> Tuple[Any, Any, Any]:
        return hessian(x, y, *self.coefficients)

    def flattest_points(self) -> Tuple[float, ...]:
        """θ1 of the flattest solutions: ±sqrt(−a2/(2 a4)) if a2 < 0, else (0,)."""
        if self.a2 < 0:
            x = math.sqrt(-self.a2 / (2.0 * self.a4))
            return (-x, x)
        return (0.0,)

    def critical_temperature(self) -> float:
        """Constant-D phase I→II transition T_c = 2ε/(a0|a2|) (docs/model.md §5).

        Only a double well (a2 < 0) has a transition; otherwise ``inf``.
        """
        if self.a2 >= 0:
            return math.inf
        return 2.0 * self.eps / (self.a0 * abs(self.a2))


@dataclasses.dataclass(frozen=True)
class Noise:
    """SGD hyper-parameters: learning rate ``alpha`` and shift variance ``Delta``.

    ``T = alpha * Delta`` is the effective noise level (docs/model.md §2).
    """

    alpha: float
    Delta: float

    def __post_init__(self) -> None:
        _require_finite(alpha=self.alpha, Delta=self.Delta)
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "Delta", float(self.Delta))
        if self.alpha <= 0:
            raise ModelError(f"alpha must be > 0 (got alpha={self.alpha:g})")
        if self.Delta < 0:
            raise ModelError(f"Delta must be >= 0 (got Delta={self.Delta:g})")
        if self.alpha < sys.float_info.min:
            raise ModelError(f"alpha must be at least {sys.float_info.min:.3g}, the smallest normal double "
                             f"(got alpha={self.alpha:g})")
        if not math.isfinite(self.T) or 0 < self.T < sys.float_info.min:
            raise ModelError(f"T = alpha*Delta is out of double range (alpha={self.alpha:g}, Delta={self.Delta:g})")

    @classmethod
    def from_temperature(cls, T: float, alpha: float) -> "Noise":
        """Noise with ``Delta = T / alpha`` at fixed ``alpha``."""
        _require_finite(T=T, alpha=alpha)
        if T < 0:
            raise ModelError(f"T must be >= 0 (got T={T:g})")
        if alpha <= 0:
            raise ModelError(f"alpha must be > 0 (got alpha={alpha:g})")
        if not math.isfinite(T / alpha):
            raise ModelError(f"T must be at most {alpha * sys.float_info.max:.3g} at alpha={alpha:g} "
                             f"(got T={T:g}: Delta = T/alpha overflows)")
        return cls(alpha=alpha, Delta=T / alpha)

    @property
    def T(self) -> float:
        return self.alpha * self.Delta

    def require_positive_T(self) -> "Noise":
        """Return self if ``T = alpha*Delta > 0``, else raise ModelError.

        The one statement of the rule that the Fokker-Planck solve, the
        closed forms and the validation need noise (at T = 0 the density is
        a point mass, docs/model.md §4-5); returns self so calls can chain.
        """
        if not self.T > 0:
            raise ModelError(f"T = alpha*Delta must be > 0 (got T={self.T:g}, Delta={self.Delta:g}; at T = 0 the density is a point)")
        return self

    def as_dict(self) -> dict:
        return {"alpha": self.alpha, "Delta": self.Delta, "T": self.T}

    def diffusion(self, landscape: Landscape, x: Any, y: Any, cross: bool = True):
        """(D11, D12, D22) at (x, y); see :func:`diffusion`."""
        return diffusion(x, y, self.T, *landscape.coefficients, cross=cross)

    def diffusion_divergence(self, landscape: Landscape, x: Any, y: Any, cross: bool = True):
        """((∇·D)_1, (∇·D)_2) at (x, y); see :func:`diffusion_divergence`."""
        return diffusion_divergence(x, y, self.T, *landscape.coefficients, cross=cross)


def check_case(landscape: Any, noise: Any) -> None:
    """Raise ModelError naming the value unless ``landscape`` is a
    :class:`Landscape` and ``noise`` a :class:`Noise` (docs/model.md §1-2;
    ``predictions('x', 0.05)`` was an AttributeError)."""
    if not isinstance(landscape, Landscape):
        hint = f" (a preset: Landscape.from_preset({landscape!r}))" if isinstance(landscape, str) else ""
        raise ModelError(f"landscape must be a Landscape (got {type(landscape).__name__} {landscape!r}){hint}")
    if not isinstance(noise, Noise):
        raise ModelError(f"noise must be a Noise (got {type(noise).__name__} {noise!r}; e.g. Noise(alpha=0.05, "
                         "Delta=1.0))")


def describe(landscape: Landscape, noise: Noise) -> dict:
    """Model summary of a case: parameters, T, T_c and the flattest points."""
    flat = landscape.flattest_points()
    T_c = landscape.critical_temperature()
    return {
        "landscape": landscape.as_dict(),
        "noise": noise.as_dict(),
        "T": noise.T,
        "T_c_constant": T_c if math.isfinite(T_c) else None,
        "flattest_theta1": list(flat),
        "flatness_at_flattest": landscape.flatness(flat[-1]),
        "flatness_at_global_minimum": landscape.flatness(0.0),
    }


def check_start(start: Any, radius: float, center: Any) -> Tuple[float, float]:
    """A start point (θ1, θ2) finite and inside the disk ``|θ − center| <
    radius`` (any finite point when ``radius`` is inf: no absorbing wall),
    else ModelError naming it: the rule of every start (FEM transient,
    search time, Monte Carlo, whose walkers would all stop at once)."""
    x, y = (float(v) for v in start)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ModelError(f"start must be two finite numbers (got {x!r} {y!r})")
    if math.isfinite(radius) and math.hypot(x - center[0], y - center[1]) >= radius:
        raise ModelError(f"start ({x:g}, {y:g}) must lie inside the disk of radius {radius:g} "
                         f"around ({center[0]:g}, {center[1]:g})")
    return x, y
