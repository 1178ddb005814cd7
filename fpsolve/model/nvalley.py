"""The valley in N dimensions (docs/model.md §9): one slow coordinate, m fast ones.

Loss (seed S5), with x the slow ("degenerate") coordinate and y_1 … y_m the
fast ones::

    L(x, y) = ½ Σ_i g_i(x) y_i² + V(x),    V(x) = ½ ε x²,
    g_i(x)  = a0_i + a2_i x² + a4_i x⁴      (one profile per fast direction)

Gradient and Hessian::

    ∂x L = ε x + ½ Σ g_i' y_i²              ∂yi L = g_i y_i
    H_xx = ε + ½ Σ g_i'' y_i²    H_x,yi = g_i' y_i    H_yi,yj = g_i δ_ij

H is an *arrow* matrix (a full first row and column, diagonal elsewhere):
every product with it costs O(m), and the N × N matrix (N = m + 1) is never
formed by the methods here.  With m = 1 the model is the two-variable valley
of docs/model.md §1 (:class:`fpsolve.model.valley.Landscape`) exactly: the
per-direction curvature formulas are those of :mod:`fpsolve.model.valley`.

Noise (docs/model.md §7 and §9), per SGD step ``Cov η = Σ``, ``D = (α/2) Σ``:

    sgd            D = (T/2) H²            (the seed's random shift in N dimensions)
    sgd-diagonal   D = diag of (T/2) H²    (no cross-diffusion)
    isotropic      D = (T/2) I
    user Σ         D = (α/2) Σ             (a constant symmetric PSD N × N matrix)

:func:`diffusion_arrow` returns D in the O(m) structured form
``(D_xx, D_xy, D_yy diagonal, u)`` with ``D_yy = diag(D_yy) + u uᵀ``;
:func:`apply_noise_factor` applies a factor B with ``B Bᵀ = 2D`` to a
standard normal vector (the SDE's ``B dW``) in O(m) for the three named kinds.

Array conventions: walkers are the leading axes.  ``x`` has any shape S,
``y`` has shape ``S + (m,)``; per-direction quantities have shape ``S + (m,)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from fpsolve.model import valley as _valley
from fpsolve.model.expression import NOISES
from fpsolve.model.valley import DEFAULT_PRESET, PRESETS, Landscape
from fpsolve.tools.errors import InputError


__all__ = [
    "NValley",
    "NOISES",
    "ArrowDiffusion",
    "check_covariance",
    "covariance_factor",
    "diffusion_arrow",
    "diffusion_matrix",
    "apply_noise_factor",
]

_COEFFICIENTS = ("a0", "a2", "a4")


def _direction_array(name: str, value: Any, m: Optional[int]) -> np.ndarray:
    """A read-only float array of shape (m,) from a number or a sequence; InputError naming it."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a list of numbers (got {value!r})") from None
    if arr.ndim == 0:
        if m is None:
            raise InputError(f"{name} must be a list of one number per fast direction (got {value!r})")
        arr = np.full(m, float(arr))
    if arr.ndim != 1 or arr.size < 1:
        raise InputError(f"{name} must be a flat list of one number per fast direction (got shape {arr.shape})")
    if m is not None and arr.size != m:
        raise InputError(f"{name} needs 1 or m = {m} values (one per fast direction), got {arr.size}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"{name}[{bad[0]}] must be a finite number (got {arr[bad[0]]!r})")
    arr.setflags(write=False)
    return arr


def _fast_directions(m: Any) -> int:
    """m as an int >= 1, else InputError naming it."""
    if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, np.integer, float, np.floating)):
        raise InputError(f"fast_directions must be an integer >= 1 (got {m!r})")
    if isinstance(m, (float, np.floating)) and not (math.isfinite(m) and float(m).is_integer()):
        raise InputError(f"fast_directions must be an integer >= 1 (got {m!r})")
    if int(m) < 1:
        raise InputError(f"fast_directions must be an integer >= 1 (got {m!r})")
    return int(m)


@dataclasses.dataclass(frozen=True, eq=False)
class NValley:
    """One slow coordinate x and m fast y_i (docs/model.md §9).

    ``a0``, ``a2``, ``a4``: read-only float arrays of shape (m,), the
    coefficients of g_i(x) = a0_i + a2_i x² + a4_i x⁴; ``eps`` ≥ 0 the
    curvature of V(x) = ½ ε x².  Construction checks that every number is
    finite, ``eps ≥ 0`` and ``g_i(0) = a0_i > 0`` (the valley floor x = 0
    is a minimum of every fast direction), and that x is not frozen
    (ε = 0 with every a2_i = a4_i = 0, docs/model.md §7); that each g_i stays
    positive on a domain is :meth:`check_positive`.  Raises
    :class:`~fpsolve.tools.errors.InputError` naming the bad value.
    ``preset``: the preset of docs/model.md §1 the coefficients were taken
    from (None: ``name`` if it is one, else the default preset), the base
    that :meth:`case_name` names the changed coefficients against; it
    takes no part in ``==``.
    """

    eps: float
    a0: np.ndarray
    a2: np.ndarray
    a4: np.ndarray
    name: str = "custom"
    preset: Optional[str] = None

    def __post_init__(self) -> None:
        _valley._require_finite(eps=self.eps)
        object.__setattr__(self, "eps", float(self.eps))
        if self.eps < 0:
            raise InputError(f"eps must be >= 0 (got eps={self.eps:g})")
        sizes = [np.size(getattr(self, k)) for k in _COEFFICIENTS if np.ndim(getattr(self, k)) > 0]
        m = sizes[0] if sizes else None
        for key in _COEFFICIENTS:
            object.__setattr__(self, key, _direction_array(key, getattr(self, key), m))
        bad = np.flatnonzero(self.a0 <= 0)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"a0[{i}] must be > 0 so that g_{i}(0) > 0 (got a0[{i}]={self.a0[i]:g})")
        if self.eps == 0 and not np.any(self.a2) and not np.any(self.a4):
            raise InputError(
                "eps = 0 with every a2 = a4 = 0 freezes x (neither drift nor diffusion: "
                "no unique stationary density, docs/model.md §7); give eps > 0 or a2, a4")

    # -- construction ----------------------------------------------------

    @classmethod
    def from_preset(cls, preset: str = DEFAULT_PRESET, fast_directions: int = 1,
                    **overrides: Any) -> "NValley":
        """A preset of docs/model.md §1 for every fast direction, coefficients overridden.

        ``fast_directions`` m ≥ 1; ``overrides``: ``eps`` (a number) and
        ``a0``, ``a2``, ``a4`` (a number for every direction or a sequence of
        m numbers); None keeps the preset's value.  With m = 1 and number
        overrides the result equals ``Landscape.from_preset(preset, ...)``
        (validated by the same rules).  Raises InputError.
        """
        m = _fast_directions(fast_directions)
        changed = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(changed) - set(PRESETS.get(preset, {})) if preset in PRESETS else set()
        if unknown:
            raise InputError(f"unknown landscape parameter(s): {', '.join(sorted(unknown))}")
        scalars = {k: v for k, v in changed.items() if np.ndim(v) == 0}
        base = Landscape.from_preset(preset, **scalars)   # the preset's rules and its errors
        if set(changed) == set(scalars):
            return cls.from_landscape(base, m, preset=preset)
        params = {k: changed.get(k, getattr(base, k)) for k in _COEFFICIENTS}
        if np.ndim(changed.get("eps", 0.0)) != 0:
            raise InputError(f"eps must be one number (got {changed['eps']!r})")
        return cls(eps=base.eps, name="custom", preset=preset,
                   **{k: _direction_array(k, v, m) for k, v in params.items()})

    @classmethod
    def from_landscape(cls, landscape: Landscape, m: int, preset: Optional[str] = None) -> "NValley":
        """m identical fast directions, each with the two-variable landscape's g (§1);
        ``preset`` the preset it was made from (see the class; None: the landscape's name)."""
        m = _fast_directions(m)
        return cls(eps=landscape.eps, name=landscape.name, preset=preset,
                   **{k: np.full(m, getattr(landscape, k)) for k in _COEFFICIENTS})

    def direction(self, i: int) -> Landscape:
        """Fast direction i as a two-variable :class:`Landscape` (same ε); InputError if invalid there."""
        return Landscape(a0=self.a0[i], a2=self.a2[i], a4=self.a4[i], eps=self.eps)

    # -- basic properties ------------------------------------------------

    @property
    def m(self) -> int:
        """Number of fast directions."""
        return int(self.a0.size)

    @property
    def n_variables(self) -> int:
        """N = m + 1."""
        return self.m + 1

    @property
    def identical(self) -> bool:
        """True when every fast direction has the same g."""
        return all(bool(np.all(getattr(self, k) == getattr(self, k)[0])) for k in _COEFFICIENTS)

    def case_name(self) -> str:
        """Folder-friendly name of the valley (docs/commands.md "Where results go"):
        ``<preset>_m<m>`` followed by ``_a0<v>``, ``_a2<v>``, ``_a4<v>``,
        ``_eps<v>`` for each coefficient that differs from the preset, as the
        two-variable ``a0…_a2…_a4…_eps…`` names do; ``<v>`` is one number when
        every direction has it, else the m numbers joined by commas, e.g.
        ``double-well_m2`` (the preset) or ``double-well_m2_a01,2_a2-1,-0.5``.
        Different coefficients give different names (10 significant digits).
        """
        preset = self.preset or (self.name if self.name in PRESETS else DEFAULT_PRESET)
        reference = PRESETS.get(preset)
        head = preset if reference is not None else "custom"
        parts = [f"{head}_m{self.m}"]
        for key in (*_COEFFICIENTS, "eps"):
            values = np.atleast_1d(getattr(self, key))
            if reference is not None and bool(np.all(values == reference[key])):
                continue
            if bool(np.all(values == values[0])):
                values = values[:1]
            parts.append(key + ",".join(f"{float(v) + 0.0:.10g}" for v in values))
        return "_".join(parts)

    def as_dict(self) -> dict:
        """JSON-ready record: preset name, m, ε and the per-direction coefficient lists."""
        return {"preset": self.name, "fast_directions": self.m, "eps": self.eps,
                **{k: getattr(self, k).tolist() for k in _COEFFICIENTS}}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NValley):
            return NotImplemented
        return (self.eps == other.eps and self.name == other.name
                and all(np.array_equal(getattr(self, k), getattr(other, k)) for k in _COEFFICIENTS))

    def __hash__(self) -> int:
        return hash((self.eps, self.name) + tuple(getattr(self, k).tobytes() for k in _COEFFICIENTS))

    def check_positive(self, radius: float) -> "NValley":
        """Check g_i(x) > 0 for ``|x| ≤ radius`` (inf: every x) and every i; return self.

        g_i is a quadratic in u = x² on [0, radius²]: its minimum is at an
        end or at the vertex u* = −a2_i/(2 a4_i).  Raises InputError naming
        the direction and the x where g_i ≤ 0 (or why it is unbounded below).
        """
        radius = float(radius)
        if not radius >= 0:
            raise InputError(f"radius must be >= 0 (got {radius!r})")
        for i in range(self.m):
            a0, a2, a4 = float(self.a0[i]), float(self.a2[i]), float(self.a4[i])
            if math.isinf(radius):
                if a4 < 0 or (a4 == 0 and a2 < 0):
                    raise InputError(f"g_{i}(x) = {a0:g} + {a2:g} x^2 + {a4:g} x^4 turns negative "
                                     "for large |x| (give a finite radius, or a4 >= 0 and a2 >= 0 when a4 = 0)")
                candidates = [0.0] + ([-a2 / (2 * a4)] if a4 > 0 and a2 < 0 else [])
            else:
                u_max = radius * radius
                candidates = [0.0, u_max]
                if a4 != 0 and 0 < -a2 / (2 * a4) < u_max:
                    candidates.append(-a2 / (2 * a4))
            value, u = min((a0 + a2 * u + a4 * u * u, u) for u in candidates)
            if not value > 0:
                raise InputError(f"g_{i}(x) = {value:.6g} <= 0 at x = {math.sqrt(u):.6g} "
                                 f"(direction {i}: a0={a0:g}, a2={a2:g}, a4={a4:g}); "
                                 "every fast curvature must stay positive on the domain")
        return self

    # -- per-direction curvature (shape x.shape + (m,)) --------------------

    def _x(self, x: Any) -> np.ndarray:
        return np.asarray(x, dtype=float)[..., None]

    def g(self, x: Any) -> np.ndarray:
        """g_i(x), shape x.shape + (m,) (formula of :func:`fpsolve.model.valley.g`)."""
        return _valley.g(self._x(x), self.a0, self.a2, self.a4)

    def dg(self, x: Any) -> np.ndarray:
        """g_i'(x), shape x.shape + (m,)."""
        return _valley.dg(self._x(x), self.a0, self.a2, self.a4)

    def d2g(self, x: Any) -> np.ndarray:
        """g_i''(x), shape x.shape + (m,)."""
        return _valley.d2g(self._x(x), self.a0, self.a2, self.a4)

    def d3g(self, x: Any) -> np.ndarray:
        """g_i'''(x), shape x.shape + (m,)."""
        return _valley.d3g(self._x(x), self.a0, self.a2, self.a4)

    def flatness(self, x: Any) -> np.ndarray:
        """Flatness F(x) = (Σ_i g_i(x))^(-1/2), shape x.shape (§9; m = 1: §1's F)."""
        return np.sum(self.g(x), axis=-1) ** -0.5

    # -- loss, gradient, Hessian ------------------------------------------

    def _check_y(self, x: Any, y: Any) -> Tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if y.shape[-1:] != (self.m,):
            raise InputError(f"y must have a last axis of length m = {self.m} (got shape {y.shape})")
        return x, y

    def loss(self, x: Any, y: Any) -> np.ndarray:
        """L(x, y) = ½ Σ g_i y_i² + ½ ε x²; x shape S, y shape S + (m,); result shape S."""
        x, y = self._check_y(x, y)
        return 0.5 * np.sum(self.g(x) * y * y, axis=-1) + 0.5 * self.eps * x * x

    def gradient(self, x: Any, y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(∂x L, ∂y L) = (ε x + ½ Σ g_i' y_i², g_i y_i): shapes S and S + (m,)."""
        x, y = self._check_y(x, y)
        return (self.eps * x + 0.5 * np.sum(self.dg(x) * y * y, axis=-1), self.g(x) * y)

    def hessian_arrow(self, x: Any, y: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The arrow Hessian (H_xx, H_xy, H_yy diagonal): shapes S, S + (m,), S + (m,).

        H_xx = ε + ½ Σ g_i'' y_i², H_x,yi = g_i' y_i, H_yi,yi = g_i (docs/model.md §9).
        """
        x, y = self._check_y(x, y)
        return (self.eps + 0.5 * np.sum(self.d2g(x) * y * y, axis=-1), self.dg(x) * y, self.g(x))

    def apply_hessian(self, x: Any, y: Any, v_x: Any, v_y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """H v in O(m) per walker: ((H v)_x, (H v)_y) with v = (v_x shape S, v_y shape S + (m,))."""
        h_xx, h_xy, h_yy = self.hessian_arrow(x, y)
        return _arrow_apply(h_xx, h_xy, h_yy, np.asarray(v_x, dtype=float), np.asarray(v_y, dtype=float))

    def hessian_matrix(self, x: float, y: Sequence[float]) -> np.ndarray:
        """The dense N × N Hessian at one point (for checks at small N only)."""
        h_xx, h_xy, h_yy = self.hessian_arrow(float(x), np.asarray(y, dtype=float))
        return _arrow_dense(h_xx, h_xy, h_yy)


# --------------------------------------------------------------------------
# Arrow-matrix helpers.
# --------------------------------------------------------------------------

def _arrow_apply(h_xx, h_xy, h_yy, v_x, v_y):
    """(a, b, c) arrow matrix [[a, bᵀ], [b, diag c]] times (v_x, v_y), O(m)."""
    return (h_xx * v_x + np.sum(h_xy * v_y, axis=-1), h_xy * v_x[..., None] + h_yy * v_y)


def _arrow_dense(h_xx, h_xy, h_yy) -> np.ndarray:
    m = np.size(h_xy)
    H = np.zeros((m + 1, m + 1))
    H[0, 0] = h_xx
    H[0, 1:] = H[1:, 0] = h_xy
    H[np.arange(1, m + 1), np.arange(1, m + 1)] = h_yy
    return H


# --------------------------------------------------------------------------
# Noise in N dimensions (docs/model.md §7, §9).
# --------------------------------------------------------------------------

class ArrowDiffusion(NamedTuple):
    """D in O(m) storage: D_xx (shape S), D_x,yi (S + (m,)), and
    D_yy = diag(yy) + u uᵀ with yy, u of shape S + (m,)."""

    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    u: np.ndarray


NoiseKind = Union[str, np.ndarray]


def check_covariance(sigma: Any, n: int, *, tol: float = 1e-12) -> np.ndarray:
    """A user gradient-noise covariance Σ as a read-only symmetric PSD (n, n) array.

    Raises InputError naming the problem: wrong shape, a non-finite entry,
    asymmetry beyond ``tol`` (relative), or a negative eigenvalue below
    −tol·max|λ| (docs/model.md §7: Σ must be symmetric positive semi-definite).
    """
    try:
        S = np.array(sigma, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"covariance must be an {n} x {n} matrix of numbers") from None
    if S.shape != (n, n):
        raise InputError(f"covariance must be an {n} x {n} matrix (got shape {S.shape})")
    if not np.all(np.isfinite(S)):
        raise InputError("covariance has a non-finite entry")
    scale = max(float(np.max(np.abs(S))), 1e-300)
    asym = float(np.max(np.abs(S - S.T)))
    if asym > tol * scale:
        raise InputError(f"covariance must be symmetric (largest |S_ij - S_ji| = {asym:.3g})")
    S = 0.5 * (S + S.T)
    lam = np.linalg.eigvalsh(S)
    if lam[0] < -tol * max(scale, float(np.max(np.abs(lam)))):
        raise InputError(f"covariance must be positive semi-definite (smallest eigenvalue {lam[0]:.6g})")
    S.setflags(write=False)
    return S


def covariance_factor(sigma: np.ndarray) -> np.ndarray:
    """R with R Rᵀ = Σ (symmetric square root, negative round-off eigenvalues set to 0)."""
    lam, vec = np.linalg.eigh(np.asarray(sigma, dtype=float))
    return (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T


def _noise_name(noise: NoiseKind) -> Optional[str]:
    if isinstance(noise, str):
        if noise not in NOISES:
            raise InputError(f"noise must be one of {', '.join(NOISES)} or a covariance matrix (got {noise!r})")
        return noise
    return None


def diffusion_arrow(valley: NValley, x: Any, y: Any, T: float, noise: str = "sgd") -> ArrowDiffusion:
    """D for the named noise kinds in O(m) storage (docs/model.md §9).

    ``sgd``: D = (T/2) H², i.e. D_xx = (T/2)(H_xx² + Σ g_i'² y_i²),
    D_x,yi = (T/2) g_i' y_i (H_xx + g_i), D_yy = (T/2)(diag g_i² + b bᵀ) with
    b_i = g_i' y_i; ``sgd-diagonal``: the diagonal of that; ``isotropic``:
    (T/2) I.  A user Σ is not arrow-shaped: use :func:`diffusion_matrix`.
    """
    if _noise_name(noise) is None:
        raise InputError("a user covariance has no arrow form; use diffusion_matrix")
    half_T = 0.5 * float(T)
    h_xx, h_xy, h_yy = valley.hessian_arrow(x, y)
    if noise == "isotropic":
        ones = np.ones_like(h_xy)
        return ArrowDiffusion(half_T * np.ones_like(h_xx), 0.0 * ones, half_T * ones, 0.0 * ones)
    xx = half_T * (h_xx * h_xx + np.sum(h_xy * h_xy, axis=-1))
    if noise == "sgd-diagonal":
        return ArrowDiffusion(xx, 0.0 * h_xy, half_T * (h_yy * h_yy + h_xy * h_xy), 0.0 * h_xy)
    return ArrowDiffusion(xx, half_T * h_xy * (h_xx[..., None] + h_yy), half_T * h_yy * h_yy,
                          math.sqrt(half_T) * h_xy)


def diffusion_matrix(valley: NValley, x: float, y: Sequence[float], T: float,
                     noise: NoiseKind = "sgd", alpha: Optional[float] = None) -> np.ndarray:
    """The dense N × N diffusion matrix at one point (checks at small N only).

    ``noise``: a name of :data:`NOISES`, or a user Σ (validated by
    :func:`check_covariance`) with D = (alpha/2) Σ, which needs ``alpha``.
    """
    if _noise_name(noise) is None:
        S = check_covariance(noise, valley.n_variables)
        if alpha is None or not alpha > 0:
            raise InputError(f"a user covariance needs alpha > 0 (D = (alpha/2) Sigma; got alpha={alpha!r})")
        return 0.5 * float(alpha) * S
    d = diffusion_arrow(valley, float(x), np.asarray(y, dtype=float), T, noise)
    D = _arrow_dense(d.xx, d.xy, d.yy)
    D[1:, 1:] += np.outer(d.u, d.u)
    return D


def apply_noise_factor(valley: NValley, x: Any, y: Any, T: float, noise: NoiseKind,
                       z_x: Any, z_y: Any, alpha: Optional[float] = None,
                       factor: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """B z with B Bᵀ = 2D (the SDE's noise increment per unit √dt), walkers vectorised.

    ``sgd``: B = √T H (O(m), the arrow product); ``sgd-diagonal``:
    B = diag √(2 D_ii); ``isotropic``: B = √T I; a user Σ: B = √α R with
    R Rᵀ = Σ (pass ``factor`` = :func:`covariance_factor` (Σ) to reuse it;
    O(N²)).  ``z_x`` shape S, ``z_y`` shape S + (m,).
    """
    z_x = np.asarray(z_x, dtype=float)
    z_y = np.asarray(z_y, dtype=float)
    name = _noise_name(noise)
    if name == "sgd":
        bx, by = valley.apply_hessian(x, y, z_x, z_y)
        root = math.sqrt(T)
        return root * bx, root * by
    if name == "isotropic":
        root = math.sqrt(T)
        return root * z_x, root * z_y
    if name == "sgd-diagonal":
        d = diffusion_arrow(valley, x, y, T, name)
        return np.sqrt(2.0 * d.xx) * z_x, np.sqrt(2.0 * d.yy) * z_y
    if alpha is None or not alpha > 0:
        raise InputError(f"a user covariance needs alpha > 0 (D = (alpha/2) Sigma; got alpha={alpha!r})")
    R = covariance_factor(check_covariance(noise, valley.n_variables)) if factor is None else factor
    z = np.concatenate([z_x[..., None], z_y], axis=-1)
    out = math.sqrt(alpha) * (z @ R.T)
    return out[..., 0], out[..., 1:]
