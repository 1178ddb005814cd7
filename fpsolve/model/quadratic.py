"""The quadratic loss ``L = ½ θᵀAθ`` in N dimensions and its exact Gaussian
references (docs/model.md §9, §10).

With any constant noise the stationary law is Gaussian with mean 0 and a
covariance C known exactly:

- SDE ``dθ = −Aθ dt + B dW``, ``B Bᵀ = 2D``: the Lyapunov equation
  ``A C + C A = 2D``;
- SGD with the linear shift ``θ ← θ − α(Aθ − R ξ)``, ``ξ ~ N(0, Δ I)``:
  ``C = (I − αA) C (I − αA) + α² Δ R Rᵀ`` exactly (stable when every
  eigenvalue of A lies in (0, 2/α)).

Noises (docs/model.md §7): ``sgd`` (R = H = A: D = (T/2) A²), ``sgd-diagonal``
(D = (T/2) diag(A²)), ``isotropic`` (D = (T/2) I).  Both equations are
solved in A's eigenbasis, ``C'_ij = S'_ij / d_ij``.  A matrix, not an
expression: a rotated A in N = 100 has 5050 terms, beyond what a loss text
may hold.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fpsolve.model.valley import ModelError, Noise


__all__ = ["Quadratic", "NOISES"]

NOISES = ("sgd", "sgd-diagonal", "isotropic")


@dataclasses.dataclass(frozen=True, eq=False)
class Quadratic:
    """``L = ½ θᵀAθ``: ``A`` (N, N) symmetric positive definite, a noise of
    :data:`NOISES`, SGD step ``alpha`` and shift variance ``Delta`` (T = αΔ).
    Raises ModelError naming a bad A, noise or level."""

    A: np.ndarray
    noise: str = "sgd"
    alpha: float = 0.05
    Delta: float = 1.0

    def __post_init__(self) -> None:
        A = np.array(self.A, dtype=float)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
            raise ModelError(f"A must be a square matrix (got shape {A.shape})")
        if not np.all(np.isfinite(A)) or not np.allclose(A, A.T, rtol=0, atol=1e-12 * max(np.abs(A).max(), 1e-300)):
            raise ModelError("A must be finite and symmetric")
        A = 0.5 * (A + A.T)
        lam = np.linalg.eigvalsh(A)
        if not lam[0] > 0:
            raise ModelError(f"A must be positive definite (smallest eigenvalue {lam[0]:.3g})")
        if self.noise not in NOISES:
            raise ModelError(f"noise must be one of {', '.join(NOISES)} (got {self.noise!r})")
        Noise(self.alpha, self.Delta)  # validates
        object.__setattr__(self, "A", A)

    @property
    def n_variables(self) -> int:
        return self.A.shape[0]

    @property
    def T(self) -> float:
        return self.alpha * self.Delta

    @property
    def noise_level(self) -> Noise:
        return Noise(self.alpha, self.Delta)

    def factor_product(self) -> np.ndarray:
        """R Rᵀ (N, N): Σ = Δ R Rᵀ, D = (T/2) R Rᵀ."""
        if self.noise == "sgd":
            return self.A @ self.A
        if self.noise == "sgd-diagonal":
            return np.diag(np.diag(self.A @ self.A))
        return np.eye(self.n_variables)

    def diffusion(self) -> np.ndarray:
        """D = (T/2) R Rᵀ (N, N), constant."""
        return 0.5 * self.T * self.factor_product()

    def _solve(self, source: np.ndarray, denominator) -> np.ndarray:
        lam, Q = np.linalg.eigh(self.A)
        S = Q.T @ source @ Q
        C = S / denominator(lam[:, None], lam[None, :])
        return Q @ C @ Q.T

    def covariance_sde(self) -> np.ndarray:
        """C with A C + C A = 2D: the SDE's stationary covariance (N, N)."""
        return self._solve(2.0 * self.diffusion(), lambda a, b: a + b)

    def covariance_sgd(self, alpha: Any = None) -> np.ndarray:
        """C = (I − αA) C (I − αA) + α² Δ R Rᵀ: linear-shift SGD's exact stationary
        covariance (N, N) at step ``alpha`` (default the model's; for the SDE's
        Euler–Maruyama at step dt give alpha = dt with the same T: the same
        recursion).  ModelError when some eigenvalue of A is not in (0, 2/α)."""
        a = self.alpha if alpha is None else float(alpha)
        lam = np.linalg.eigvalsh(self.A)
        if not lam[-1] * a < 2.0:
            raise ModelError(f"SGD diverges: alpha * lambda_max(A) = {a * lam[-1]:.3g} >= 2")
        delta = self.T / a
        return self._solve(a * a * delta * self.factor_product(), lambda x, y: 1.0 - (1.0 - a * x) * (1.0 - a * y))

    def as_dict(self) -> dict:
        lam = np.linalg.eigvalsh(self.A)
        return {"quadratic": {"N": self.n_variables, "eigenvalues_min_max": [float(lam[0]), float(lam[-1])]},
                "noise": self.noise, "alpha": self.alpha, "Delta": self.Delta, "T": self.T}
