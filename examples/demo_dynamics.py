# # Dynamics by PDE: the density in time and a mean first-passage time
#
# This demo shows the two solvers of docs/model.md §8 on problems whose answers
# are known exactly:
#
# 1. the transient Fokker-Planck equation `∂t P = ∇·(D∇P + P(∇·D − F))`
#    for pure diffusion in a disk with an absorbing wall: the survival
#    `S(t) = ∫P` decays at late times as `e^{−λ0 t}` with
#    `λ0 = d j0,1² / R²` (j0,1 the first zero of the Bessel function J0);
# 2. the backward equation `𝓛τ = −1` for the mean first-passage time of
#    the same diffusion from a point of the disk to its wall:
#    `τ(r) = (R² − r²) / (4d)`.
#
# Any drift F and diffusion matrix D written in UFL work the same way
# (`fpsolve.fem.forms.model_coefficients` gives those of the SGD model).

# +

import numpy as np
import ufl
from mpi4py import MPI

from fpsolve.fem import transient as dynamics
from fpsolve.fem import mesh
from fpsolve.fem import backward as passage
from fpsolve.fem.operator import Operator

# -

# ## The mesh
# A uniform disk of radius R with quadratic geometry (the circle to O(h³)).

R, d = 1.0, 0.5
sizes = mesh.MeshSizes(radius=R, center=(0.0, 0.0), h_min=0.1, h_max=0.1, box_hx=R, box_hy=R,
                       geometry_order=2)
msh, _ = mesh.create_disk(sizes, MPI.COMM_WORLD)
zero = 0.0 * ufl.SpatialCoordinate(msh)[0]
drift = ufl.as_vector((zero, zero))            # F = 0: pure diffusion
D = ufl.as_matrix(((d, 0.0), (0.0, d)))

# ## 1. The density in time
# TR-BDF2 with adaptive steps (local error ≤ tol); the LU factorisation of
# `M + (γ/2) h K` is reused while the step is unchanged.

transient = dynamics.Transient(Operator.build(msh, drift, D, wall="absorbing"))
p0 = transient.gaussian((0.0, 0.0), (0.2, 0.2))      # a Gaussian start at the centre
evolution = transient.run(p0, 3.0, tol=1e-5)
rate = evolution.decay_rate(0.5)                     # −d ln S/dt over t in [1.5, 3]
j01 = 2.404825557695773
exact_rate = d * j01 ** 2 / R ** 2
if msh.comm.rank == 0:
    print(f"{evolution.steps} steps, {evolution.factorisations} LU factorisations; "
          f"decay rate {rate:.6f} vs d j01^2/R^2 = {exact_rate:.6f}")

# ## 2. The mean first-passage time to the wall
# The wall is absorbing (τ = 0 there); the target is a thin ring at the wall,
# which adds nothing to it, and the wall condition makes the problem exact.

ring = lambda x: np.hypot(x[0], x[1]) >= R * (1 - 1e-9)  # noqa: E731  (the wall's nodes)
tau = passage.mean_first_passage_time(Operator.build(msh, drift, D, wall="absorbing"), target=ring)
r = np.array([0.0, 0.3, 0.6, 0.9])
got = tau.evaluate(np.column_stack([r, 0.0 * r]))
exact = (R ** 2 - r ** 2) / (4 * d)
if msh.comm.rank == 0:
    print("tau(r):", np.round(got, 6), "exact:", np.round(exact, 6))

# ## Checks
assert abs(rate / exact_rate - 1) < 1e-3, (rate, exact_rate)
assert np.allclose(got, exact, atol=2e-6), (got, exact)   # quadratic τ: P2 is exact up to the polygon
