# # Any two-variable model: a loss written as an expression
#
# fpsolve takes any smooth loss `L(θ1, θ2)` and a gradient-noise model
# (docs/model.md §7). Here: a curved ("banana") valley
#
#     L = 2.5 (θ2 − θ1² + 0.5)² + 0.25 θ1²
#
# with **isotropic** noise, `D = (T/2) I`. For that noise the stationary
# density of the reflecting disk is known exactly: the Gibbs density
# `P ∝ exp(−2 L / T)`. We solve the Fokker-Planck equation by FEM and compare
# its moments with the Gibbs density integrated on the disk.

from fpsolve import Model
from fpsolve.model import exact as gibbs
from fpsolve.fem import stationary as solver

# ## The model
#
# The loss is parsed in a restricted namespace (`theta1`, `theta2` or `x`,
# `y`, named constants, elementary functions); ∇L, the Hessian, D and ∇·D
# are derived once by sympy and turned into UFL (FEM) and numba (Monte Carlo)
# code. The constant `c` stays a number you can change without recompiling.

model = Model.from_expression("2.5*(y - x**2 + c)**2 + 0.25*x**2", params={"c": 0.5},
                              noise="isotropic", T=0.1)
print(model.describe())

# ## FEM: the null vector of the reflecting disk
#
# A custom model is solved on a uniform mesh (`h_min`, default radius/40);
# h = 0.1 is enough here.

sol = solver.solve(model, wall="reflecting", h_min=0.1)
fem = sol.summary

# ## The exact answer: exp(−2L/T) integrated on the disk

exact = gibbs.moments(model)
for key in ("mean_abs_theta1", "std_abs_theta1", "mean_theta2", "var_theta2"):
    print(f"{key:16s} FEM {fem[key]:.6f}   exact {exact[key]:.6f}")
    assert abs(fem[key] - exact[key]) < 1e-3, key
