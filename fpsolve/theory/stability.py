"""The largest stable SGD step of a model: the bound a schedule's α_k must stay under (docs/model.md §5, §10).

- The valley (docs/model.md §1): the first-order condition of §5 (seed S8),
  ``α ⟨g⟩ < 2`` with ⟨g⟩ averaged over the stationary P1 at T = αΔ
  (:func:`fpsolve.theory.valley.stability_margin`), solved for α at the given Δ.
- Any other model (docs/model.md §7): ``α λ_max(H(θ*)) < 2`` at the point θ*
  of least loss on the disk's sample points, the exact condition for a
  quadratic loss ½θᵀAθ (abs(1 − α μ_i) < 1 for the eigenvalues μ_i of A).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
from scipy import optimize

from fpsolve.model import valley as formulas
from fpsolve.model.expression import _disk_points
from fpsolve.model.valley import Noise
from fpsolve.theory.valley import stability_margin


def alpha_bound(model, Delta: float, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0)) -> float:
    """The largest stable SGD step α at the noise ``Delta`` (module doc) for a
    :class:`~fpsolve.model.expression.Model` on the disk of ``radius`` about
    ``center`` (θ units); ``inf`` when no curvature bounds it.  Raises
    InputError only through the model's own checks."""
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
