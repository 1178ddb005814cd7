# # The default case, end to end
#
# The seed's double well (docs/model.md §6): a valley of curvature
# $g(\theta_1) = a_0 + a_2\theta_1^2 + a_4\theta_1^4$ in $\theta_2$ with a
# weak pull $\tfrac12\varepsilon\theta_1^2$ along it, trained by SGD with
# learning rate $\alpha = 0.05$ and minibatch shift variance $\Delta = 1$,
# i.e. noise level $T = \alpha\Delta = 0.05$ (above $T_c = 0.02$: the density
# sits in two peaks at $|\theta_1| \approx 0.63$, where the valley is flattest).
#
# Run it with `python examples/demo_default_case.py`, or on two ranks with
# `mpirun -n 2 python -m mpi4py examples/demo_default_case.py`.

import sys

import fpsolve

#: tests/test_examples.py also runs this demo on two MPI ranks.
RUN_UNDER_MPI = True

# ## The model
#
# A preset landscape and the SGD hyper-parameters; every bad value raises
# `fpsolve.ModelError` naming it.

landscape = fpsolve.Landscape.from_preset("double-well")
noise = fpsolve.Noise(alpha=0.05, Delta=1.0)
print(f"T = {noise.T:g}, T_c = {fpsolve.critical_temperature_constant(landscape):g}")

# ## The Fokker-Planck solve
#
# `fpsolve.solve` meshes the disk of radius 2 with sizes taken from the
# density's widths, assembles the weak form of docs/model.md §4 with P2 elements
# and finds the principal eigenpair: the escape rate $\lambda_0$ (per time
# unit $t = \alpha k$) and the quasi-stationary density $\varphi_0$, $\int\varphi_0 = 1$.
# It is collective: under `mpirun` every rank gets the same numbers.

sol = fpsolve.solve(landscape, noise)
s = sol.summary
rank = sol.comm.rank
if rank == 0:
    print(f"{s['dofs']} dofs on {s['ranks']} rank(s): escape rate {s['escape_rate']:.3g} per time unit")
    print(f"mean |theta1| = {s['mean_abs_theta1']:.5f}, std |theta1| = {s['std_abs_theta1']:.5f}, "
          f"Var theta2 = {s['var_theta2']:.5f}")

# ## The marginal of $\theta_1$ and the closed form
#
# `Solution.marginal_theta1` integrates the density over $\theta_2$ at any
# $\theta_1$ (collective); `fpsolve.marginal_theta1` is the landscape-dependent
# closed form of adiabatic elimination (docs/model.md §5, seed S29-S31), which
# ignores cross-diffusion and so is wider than the FEM peak.

import numpy as np  # noqa: E402

grid = np.linspace(-1.2, 1.2, 241)
fem_p1 = sol.marginal_theta1(grid)
closed_p1 = fpsolve.marginal_theta1(landscape, noise, grid)
peak = grid[np.argmax(fem_p1)]
if rank == 0:
    print(f"FEM marginal peaks at |theta1| = {abs(peak):.3f}; closed form at "
          f"{abs(grid[np.argmax(closed_p1)]):.3f}")

# ## Check
#
# The converged Monte Carlo value of docs/model.md §6 (Euler-Maruyama of the SDE,
# 4000 walkers, dt → 0): mean $|\theta_1|$ = 0.6320 ± 0.0004.  The FEM value
# agrees within 1 %, and the density is normalised.

assert abs(s["mean_abs_theta1"] - 0.6320) < 0.01 * 0.6320, s["mean_abs_theta1"]
assert abs(s["mass"] - 1.0) < 1e-12
if rank == 0:
    print("ok")
sys.stdout.flush()
