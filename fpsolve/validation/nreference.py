"""The light half of the N-dimensional validation (docs/model.md §9): its
settings and the exact references of an N-variable model, with no compiled
kernel (a refused command loads none and writes nothing; the runs are
:mod:`fpsolve.validation.nvalley`).

Exact references: a quadratic loss (constant Hessian A, minimum at 0) with
any noise of :class:`~fpsolve.model.quadratic.Quadratic` (Gaussian, exact
covariances); isotropic noise: the Gibbs density ``exp(−2L/T)`` on the
ball by tensor quadrature for N ≤ ``MAX_QUADRATURE_N``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

import numpy as np

from fpsolve.model.expression import ball_points
from fpsolve.model.quadratic import NOISES as QUADRATIC_NOISES
from fpsolve.model.valley import ModelError


__all__ = ["NSettings", "QUICK", "FULL", "MAX_QUADRATURE_N", "constant_hessian", "reference_kind", "gibbs_moments"]

#: Largest N of the Gibbs reference by tensor quadrature (points per axis ** N).
MAX_QUADRATURE_N = 4
#: Quadrature points per axis of the Gibbs reference, by N.
QUADRATURE_POINTS = {3: 120, 4: 48}  # even: θ = 0 is a cell edge (|θ1| has its kink there)


@dataclasses.dataclass(frozen=True)
class NSettings:
    """How hard one N-dimensional case is worked; times in units of α SGD
    steps, ``burn_tau``/``window_tau`` as multiples of the relaxation time."""

    walkers: int = 2000
    dt: float = 0.02
    burn_tau: float = 2.0
    window_tau: float = 3.0
    max_time: float = 600.0
    search_walkers: int = 1000
    search_horizon: float = 8.0     # run length of the search, in closed-form search times
    burn_in: float = 20.0           # an N-variable model: fixed times
    window: float = 60.0
    seed: int = 2024

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK = NSettings()
FULL = NSettings(walkers=8000, dt=0.01, search_walkers=4000, burn_in=40.0, window=200.0)


def constant_hessian(model: Any, radius: float) -> Optional[np.ndarray]:
    """The model's Hessian A where it is the same at every test point of the
    ball (a quadratic loss ½ θᵀAθ + linear terms), else None."""
    n = model.n_variables
    pts = ball_points(radius if math.isfinite(radius) else 2.0, np.zeros(n), n_random=16)
    H = [np.asarray(model.evaluate("hessian", p), dtype=float) for p in pts]
    ok = all(np.allclose(h, H[0], rtol=1e-12, atol=1e-12 * max(1.0, np.abs(H[0]).max())) for h in H)
    grad0 = np.asarray(model.evaluate("gradient", np.zeros(n)), dtype=float).reshape(-1)
    return H[0] if ok and np.allclose(grad0, 0.0, atol=1e-12) else None


def reference_kind(model: Any, radius: float) -> str:
    """``quadratic`` or ``gibbs`` (the exact reference of an N-variable model,
    docs/model.md §9); ModelError naming why there is none."""
    n = model.n_variables
    if not isinstance(model.noise, str):
        raise ModelError("validate in N dimensions takes --noise sgd, sgd-diagonal or isotropic (no user covariance)")
    if model.noise in QUADRATIC_NOISES and constant_hessian(model, radius) is not None:
        return "quadratic"
    if model.noise == "isotropic" and n <= MAX_QUADRATURE_N:
        return "gibbs"
    raise ModelError(f"no exact reference for this N = {n} model: validate takes a quadratic loss 1/2 theta^T A theta "
                     f"(any --noise) or --noise isotropic with N <= {MAX_QUADRATURE_N} (the Gibbs density by quadrature)")


def gibbs_moments(model: Any, radius: float) -> dict:
    """Moments of ``exp(−2L/T)`` on the ball ``|θ| < radius`` (N ≤ MAX_QUADRATURE_N):
    ``mean_abs_theta1``, ``mean_theta`` and ``var_theta`` (lists of N), by the
    midpoint rule on a tensor grid (QUADRATURE_POINTS per axis)."""
    n = model.n_variables
    k = QUADRATURE_POINTS[n]
    h = 2.0 * radius / k
    axis = -radius + h * (np.arange(k) + 0.5)
    grid = np.stack(np.meshgrid(*([axis] * n), indexing="ij"), axis=-1).reshape(-1, n)
    grid = grid[np.sum(grid * grid, axis=1) < radius * radius]
    L = np.asarray(model.evaluate("loss", grid), dtype=float)
    w = np.exp(-2.0 * (L - L.min()) / model.noise_level.T)
    w /= w.sum()
    mean = w @ grid
    return {"mean_abs_theta1": float(w @ np.abs(grid[:, 0])), "mean_theta": mean.tolist(),
            "var_theta": (w @ (grid * grid) - mean * mean).tolist(), "quadrature_points_per_axis": k}
