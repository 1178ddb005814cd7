"""Monte Carlo in N dimensions (docs/model.md §9): SGD on ½ θᵀAθ in N = 20
against its exact stationary covariance, then the valley with m = 5 fast
directions, whose slow coordinate leaves x = 0 for the flat solutions."""

import math

import numpy as np

from fpsolve.mc import nensemble
from fpsolve.model.nvalley import NValley
from fpsolve.model.quadratic import Quadratic
from fpsolve.model.valley import Noise

# 1. a quadratic loss: linear-shift SGD has the exact covariance C = (I − αA) C (I − αA) + α²ΔA²
A = np.diag(np.linspace(0.5, 2.0, 20))
q = Quadratic(A, "sgd", alpha=0.05, Delta=0.2)
run = nensemble.run(q, method="sgd", walkers=2000, time=12.0, radius=math.inf, seed=1)
trace = np.sum(run.final ** 2, axis=1)
se = trace.std(ddof=1) / math.sqrt(len(trace))
exact = np.trace(q.covariance_sgd())
print(f"tr C: Monte Carlo {trace.mean():.5f} ± {se:.5f}, exact {exact:.5f}")
assert abs(trace.mean() - exact) < 3 * se

# 2. the valley, m = 5 double-well directions at T = 0.05 (T_c(5) = T_c(1)/5 = 0.004): flat solutions win
v = NValley.from_preset("double-well", fast_directions=5)
r = nensemble.run(v, Noise(0.05, 1.0), method="sde", dt=0.01, walkers=200, time=200.0, burn_in=100.0, seed=2)
s = r.summary
print(f"m = 5: mean |x| = {s['mean_abs_theta1']:.3f} ± {s['mean_abs_theta1_se']:.3f}, "
      f"mean Var y_i = {s['var_y_mean']:.4f}, flatness {s['mean_flatness']:.3f}")
assert s["mean_abs_theta1"] > 0.8  # far from the sharp global minimum x = 0
