# # Symmetries in N dimensions: sign flips, interchangeable directions, pooled variances
#
# An N-variable model often has coordinates that play the same part: fast
# directions of a valley with the same curvature profile, or the equal units of
# a layer.  A transposition θ_i ↔ θ_j that keeps the loss (and, for the
# built-in noises, then the diffusion tensor too) makes them interchangeable;
# a sign flip θ_k → −θ_k that keeps it makes the mean of θ_k zero
# (docs/model.md §9, "Symmetries in N dimensions").  The N-dimensional Monte
# Carlo finds both, checks the zero means as such (a flipped coordinate whose
# mean lies more than 4 standard errors from 0 flags a broken sampler) and
# pools the variances over each class of interchangeable coordinates, which
# narrows their error bars by about sqrt(class size).

import math

import numpy as np

from fpsolve.mc import nensemble
from fpsolve.model import nsymmetry
from fpsolve.model.nvalley import NValley
from fpsolve.model.quadratic import Quadratic
from fpsolve.model.valley import Noise

# ## A coupled quadratic in N = 30: classes, but no sign flips
#
# Three blocks of ten coordinates, ``a_k I + b J`` (J all ones): inside a
# block every transposition keeps A, no single sign flip does (the coupling
# b changes sign).  Linear-shift SGD with isotropic noise has an exact
# stationary covariance, C = (I − αA) C (I − αA) + α²Δ I.

blocks = [a * np.eye(10) + 0.03 * np.ones((10, 10)) for a in (0.5, 1.0, 1.5)]
A = np.block([[blocks[i] if i == j else np.zeros((10, 10)) for j in range(3)] for i in range(3)])
q = Quadratic(A, "isotropic", alpha=0.05, Delta=1.0)
found = nsymmetry.find(q)
print("coupled quadratic:", found.describe())
assert found.flips == () and [len(c) for c in found.classes] == [10, 10, 10]

s = nensemble.run(q, method="sgd", walkers=1000, time=40.0, burn_in=10.0, radius=math.inf, seed=5).summary
exact = np.diag(q.covariance_sgd())
for c in s.symmetry["pooled_variance"]:
    j = c["coordinates"][0] - 1
    print(f"  class {c['coordinates'][0]}-{c['coordinates'][-1]}: pooled Var = {c['var_pooled']:.6f} "
          f"± {c['var_pooled_se']:.6f} (one coordinate alone: ± {s.var_theta_se[j]:.6f}), exact {exact[j]:.6f}")
    assert abs(c["var_pooled"] - exact[j]) < 3 * c["var_pooled_se"]
    assert c["var_pooled_se"] < 0.5 * s.var_theta_se[j]  # ten directions pooled

# ## The valley with 40 fast directions of two kinds
#
# Twenty directions with a0 = 1 and twenty with a0 = 2: every sign flip is a
# symmetry (g_i is even in x, L even in each y_i), and the two kinds form two
# classes.  Found from the valley's structure in O(m), without an N × N matrix.

v = NValley.from_preset("double-well", fast_directions=40, a0=[1.0] * 20 + [2.0] * 20)
r = nensemble.run(v, Noise(0.05, 1.0), method="sgd", walkers=300, time=30.0, seed=6).summary
sym = r.symmetry
print("valley m = 40:", nsymmetry.find(v, "sgd").describe())
print(f"  41 zero means: largest |mean / se| = {sym['zero_by_symmetry']['max_abs_z']:.2f} "
      f"(flag beyond {sym['flag_threshold_se']:.2f})")
for c in sym["pooled_variance"]:
    print(f"  fast directions {c['coordinates'][0] - 1}-{c['coordinates'][-1] - 1}: pooled Var y = "
          f"{c['var_pooled']:.5f} ± {c['var_pooled_se']:.5f}")
assert len(sym["model"]["sign_flips"]) == 41 and not sym["broken_sampler"]
# Under SGD noise (D = (T/2) H²) a stiffer direction is *wider*: to lowest
# order Var y_i = (T/2)⟨g_i⟩ (§9), so the two classes differ by
# (T/2)(2 − 1) = 0.025, whatever the density of x.
stiff, soft = sym["pooled_variance"][1]["var_pooled"], sym["pooled_variance"][0]["var_pooled"]
print(f"  difference {stiff - soft:.5f}, lowest order (T/2)·Δa0 = 0.025")
assert abs((stiff - soft) - 0.025) < 0.1 * 0.025
