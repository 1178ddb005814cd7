"""The largest stable SGD step of a model: the bound a schedule's α_k must stay under (docs/model.md §5, §10).

- The valley (docs/model.md §1): the first-order condition of §5 (seed S8),
  ``α ⟨g⟩ < 2`` with ⟨g⟩ averaged over the stationary P1 at T = αΔ
  (:func:`fpsolve.theory.valley.stability_margin`), solved for α at the given Δ.
- Any other model (docs/model.md §7): ``α λ_max(H(θ*)) < 2`` at the point θ*
  of least loss on the disk's sample points, the exact condition for a
  quadratic loss ½θᵀAθ (abs(1 − α μ_i) < 1 for the eigenvalues μ_i of A).
- Three variables (the valley with m = 2 fast directions of §9, or a
  3-variable model): that curvature rule at the point of least loss on the
  ball's sample points (:func:`fpsolve.model.expression.ball_points`); for
  the valley θ* is the minimum 0, H(0) = diag(ε, a0_1, a0_2), so α max(a0_i, ε) < 2.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import optimize

from fpsolve.model import valley as formulas
from fpsolve.model.expression import _disk_points, ball_points
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise
from fpsolve.theory.valley import stability_margin


def alpha_bound(model, Delta: float, radius: float = 2.0, center: Sequence[float] = (0.0, 0.0)) -> float:
    """The largest stable SGD step α at the noise ``Delta`` (module doc) for a
    :class:`~fpsolve.model.expression.Model` on the disk of ``radius`` about
    ``center`` (θ units), or for an :class:`~fpsolve.model.nvalley.NValley`
    or a 3-variable Model on the ball (three numbers of ``center``); ``inf``
    when no curvature bounds it.  Raises InputError only through the model's
    own checks."""
    if isinstance(model, NValley) or getattr(model, "variables", 2) > 2:
        return _ball_bound(model, radius, center)
    if model.valley is not None and model.noise == "sgd":
        land = model.valley
        a0, a2, a4, _ = land.coefficients
        g_min = a0 - a2 * a2 / (4 * a4) if (a2 < 0 and a4 > 0) else a0
        hi = 2.0 / g_min * (1 + 1e-9)

        def margin(alpha: float) -> float:
            return stability_margin(land, Noise(alpha, max(Delta, 1e-12)), "first-order")
        try:
            if margin(hi) < 0:
                return math.inf
            return float(optimize.brentq(margin, 1e-9, hi, xtol=1e-10, rtol=1e-8))
        except (ValueError, ArithmeticError):  # no stationary P1 at this T: the curvature at the minimum
            return 2.0 / float(formulas.g(0.0, a0, a2, a4))
    x, y = _disk_points(radius, center)
    j = int(np.argmin(model.evaluate("loss", x, y)))
    h11, h12, h22 = (float(np.asarray(v).ravel()[j]) for v in model.evaluate("hessian", x, y))
    lam = 0.5 * (h11 + h22) + math.sqrt(0.25 * (h11 - h22) ** 2 + h12 * h12)
    return 2.0 / lam if lam > 0 else math.inf


def _ball_bound(model: Any, radius: float, center: Sequence[float]) -> float:
    """2/λ_max(H(θ*)) at the sample point θ* of least loss on the ball of
    ``radius`` about ``center`` (an NValley or an N-variable Model; module doc)."""
    pts = ball_points(radius, center)
    if isinstance(model, NValley):
        j = int(np.argmin(model.loss(pts[:, 0], pts[:, 1:])))
        H = model.hessian_matrix(pts[j, 0], pts[j, 1:])
    else:
        j = int(np.argmin(np.asarray(model.evaluate("loss", pts), dtype=float).reshape(-1)))
        H = np.asarray(model.evaluate("hessian", pts[j:j + 1]), dtype=float).reshape(len(center), len(center))
    lam = float(np.linalg.eigvalsh(0.5 * (H + H.T)).max())
    return 2.0 / lam if lam > 0 else math.inf
