# # Dynamics of a custom model: a loss written as an expression, in time
#
# `dynamics.evolve_case` and `passage.search_case` take a
# `fpsolve.Model` (docs/model.md §7) as well as the valley presets: the drift
# `−∇L` and the diffusion `D = (α/2) Σ` are derived from the expression
# (sympy, once) and handed to the solvers as UFL.  A custom model runs on
# the uniform disk of `solver.model_mesh_sizes` (size `h_min`).
#
# The model here is an anisotropic Ornstein-Uhlenbeck process,
# `L = (θ1² + 2 θ2²)/2` with isotropic noise `D = (T/2) I`.  With a
# reflecting wall its density tends to the Gibbs density `∝ exp(−2L/T)`:
# `Var θ1 = T/2`, `Var θ2 = T/4`, `E[L] = T/2` (exact; the wall at r = 2
# cuts off exp(−16) of it at T = 0.25).

# +

import math

from mpi4py import MPI

from fpsolve import Model
from fpsolve.fem import transient as dynamics
from fpsolve.fem import backward as passage

#: tests/test_examples.py also runs this demo on two MPI ranks.
RUN_UNDER_MPI = True

# -

# ## The model
# `noise="isotropic"` is Σ = Δ I; T = α Δ.

T = 0.25
ou = Model.from_expression("0.5*(theta1**2 + 2*theta2**2)", {}, "isotropic", alpha=0.05, T=T)

# ## The density in time
# From a Gaussian at (0.5, 0.3) to t = 20 (time units, t = α k): the slow
# direction relaxes as e^{−2t} in variance, so t = 20 is stationary to
# round-off.  The flatness E[F(θ1)] is the valley's: NaN here.

run = dynamics.evolve_case(ou, start=(0.5, 0.3), start_width=(0.2, 0.2), t_end=20.0, wall="reflecting",
                           tol=1e-5, h_min=0.1, comm=MPI.COMM_WORLD)
final = run.summary["final"]
print(f"Var θ1 {final['var_theta1']:.8f} (Gibbs {T / 2}), Var θ2 {final['var_theta2']:.8f} (Gibbs {T / 4}), "
      f"E[L] {final['mean_loss']:.8f} (Gibbs {T / 2}); {run.summary['steps']} steps")

# ## A search time
# Give the target box (centre, half-widths) and the start ...

search = passage.search_case(ou, target=(0.0, 0.0, 0.2, 0.2), start=(1.0, 0.0), h_min=0.1, grid=None,
                             comm=MPI.COMM_WORLD)
print(f"mean first-passage time from (1, 0) into the central box: {search.summary['search_time']:.5g} time units")

# ... or let the case place them: a custom model has no 1-D θ1*, so the
# default target is a window of the stationary peak's width around the most
# probable point (`passage.CUSTOM_TARGET_RULE`: one stationary solve on the
# same mesh, the maximum θ* of P and the standard deviations of its Gaussian
# approximation, here exactly sqrt(T/2) and sqrt(T/4) at θ* = 0), and the
# start θ* + (3 W1, 0).

auto = passage.search_case(ou, h_min=0.1, grid=None, comm=MPI.COMM_WORLD).summary
c1, c2, w1, w2 = auto["target"]
print(f"default target: centre ({c1:.2e}, {c2:.2e}), half-widths ({w1:.5f}, {w2:.5f}) "
      f"(exact 0, 0, {math.sqrt(T / 2):.5f}, {math.sqrt(T / 4):.5f}); τ from {auto['start'][0]:.4f}: "
      f"{auto['search_time']:.5g}")

# ## Check
# The stationary moments against the Gibbs values, and the default target
# against the Gibbs density's maximum and standard deviations.

assert math.isclose(final["var_theta1"], T / 2, rel_tol=1e-3)
assert math.isclose(final["var_theta2"], T / 4, rel_tol=1e-3)
assert math.isclose(final["mean_loss"], T / 2, rel_tol=1e-3)
assert math.isnan(final["mean_flatness"]) and search.summary["search_time"] > 0
assert math.hypot(c1, c2) < 1e-3
assert math.isclose(w1, math.sqrt(T / 2), rel_tol=3e-3) and math.isclose(w2, math.sqrt(T / 4), rel_tol=3e-3)
