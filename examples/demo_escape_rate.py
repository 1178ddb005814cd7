# # An escape rate
#
# With an absorbing boundary the density leaks out of the disk: the
# principal eigenvalue $\lambda_0$ of the Fokker-Planck operator is the
# **escape rate** (per time unit $t = \alpha k$), and $1/\lambda_0$ the mean
# first-passage time out of the disk from the quasi-stationary density
# (docs/model.md §4).  Two checks: a case with an exact answer, then the model
# against Monte Carlo walkers that are absorbed at the disk.

import math

import numpy as np
import ufl

import fpsolve
from fpsolve.fem import mesh as fmesh
from fpsolve.fem import eigenproblem
from fpsolve.fem.operator import Operator

# ## Exact: free diffusion in a disk
#
# With no drift and $D = d\,I$, $\partial_t P = d\,\Delta P$ on the unit disk
# with $P = 0$ on the circle decays at $\lambda_0 = d\,j_{0,1}^2$, with
# $j_{0,1} = 2.404825557695773$ the first zero of the Bessel function $J_0$.
# `eigenproblem.solve_operator` takes any drift and diffusion tensor (UFL) on any
# mesh; the disk comes from `fpsolve.fem.mesh`.

from mpi4py import MPI  # noqa: E402

d = 0.3
sizes = fmesh.MeshSizes(radius=1.0, center=(0.0, 0.0), h_min=0.04, h_max=0.04, box_hx=1.0, box_hy=1.0)
msh, _ = fmesh.create_disk(sizes, MPI.COMM_SELF)
free, _ = eigenproblem.solve_operator(Operator.build(msh, ufl.as_vector((0.0, 0.0)), d * ufl.Identity(2), degree=2))
exact = d * 2.404825557695773 ** 2
print(f"free diffusion: lambda0 = {free.eigenvalue.real:.6f}, exact d j01^2 = {exact:.6f}")

# ## The model: FEM against walkers
#
# The single well at strong noise $T = 0.2$ leaks measurably
# ($\lambda_0 \approx 1.6\cdot10^{-3}$).  Monte Carlo measures the rate as
# exits per walker-time after a burn-in.  A walker that crosses the circle
# and comes back within one Euler-Maruyama step would be missed, so the
# plain discrete rate is low by $O(\sqrt{dt})$; the Brownian-bridge exit test
# (docs/model.md §8, on by default for the SDE) counts those crossings with their
# probability, and the rate converges at $O(dt)$.

landscape = fpsolve.Landscape.from_preset("single-well")
noise = fpsolve.Noise.from_temperature(0.2, alpha=0.05)
fem = fpsolve.solve(landscape, noise, comm=MPI.COMM_SELF).summary.escape_rate


def mc_rate(bridge: bool) -> tuple:
    r = fpsolve.run_monte_carlo(landscape, noise, method="sde", dt=0.01, walkers=2000, time=400.0,
                                burn_in=100.0, seed=2, bridge=bridge, comm=MPI.COMM_SELF)
    t, alive = r.survival
    after = t >= 100.0
    exits = len(r.status) * (alive[after][0] - alive[after][-1])
    exposure = len(r.status) * float(np.sum(0.5 * (alive[after][1:] + alive[after][:-1]) * np.diff(t[after])))
    return exits / exposure, math.sqrt(exits) / exposure


(plain, se_plain), (bridged, se) = mc_rate(False), mc_rate(True)
print(f"escape rate: FEM {fem:.3e}; Monte Carlo at dt 0.01: {plain:.3e} +- {se_plain:.1e} (plain), "
      f"{bridged:.3e} +- {se:.1e} (Brownian bridge)")

# ## Check
#
# The free-diffusion eigenvalue within 0.2 % of $d\,j_{0,1}^2$ (the polygon
# inscribed in the circle is the error); the bridged Monte Carlo rate within
# three standard errors of the FEM eigenvalue, the plain one clearly below.

assert abs(free.eigenvalue.real - exact) < 2e-3 * exact
assert abs(bridged - fem) < 3 * se, (bridged, fem, se)
assert plain < fem - 3 * se_plain, (plain, fem, se_plain)
print("ok")
