# # A training schedule: the noise level T(t) = α(t)Δ(t) changes in time
#
# SGD rarely runs at one step size. Here the step halves every 25 SGD steps
# (`step` schedule, α_k = α0 γ^⌊k/25⌋ with α0 = 0.1, γ = 0.5), and the
# density of θ follows it (docs/model.md §10). Step k of SGD ends at time
# t_{k+1} = Σ_{j≤k} α_j, so the halvings come at t = 2.5 and 3.75.
#
# The loss is the quadratic `L = ½ θᵀAθ`, A = diag(1, 2), with SGD noise
# (Σ = Δ A²): its density stays Gaussian, with mean `m' = −A m` and
# covariance `C' = −AC − CA + T(t) A²` (the Lyapunov equation), which scipy
# integrates to 1e-11. The transient Fokker-Planck solve, with the operator
# `K(t) = K_drift + T(t)/T0 · K_noise` (two matrices assembled once), must
# match it; SGD itself follows the exact recursion
# `C_{k+1} = (I − α_k A) C_k (I − α_k A) + α_k² Δ A²`.

# +

import math

import numpy as np
import scipy.integrate
from mpi4py import MPI

from fpsolve import Model
from fpsolve.fem import mesh
from fpsolve.fem import transient as dynamics
from fpsolve.fem.operator import Operator
from fpsolve.mc import ensemble as mc
from fpsolve.model.schedule import Schedule

# -

# ## The model and the schedule

A = np.diag([1.0, 2.0])
model = Model.from_expression("0.5*(theta1**2 + 2*theta2**2)", {}, "sgd", alpha=0.1, Delta=1.0)
schedule = Schedule.named("step", {"gamma": 0.5, "ks": 25}, alpha=model.alpha, Delta=model.Delta)
t_end = 4.0
print(schedule.describe(), "- T jumps at t =", schedule.jumps(t_end))

# ## The density in time
# A Gaussian start at (0.3, −0.2); a reflecting disk of radius 2 (6 standard
# deviations of the widest density). The time steps land on the jumps of T.

sizes = mesh.MeshSizes(radius=2.0, center=(0.0, 0.0), h_min=0.1, h_max=0.1, box_hx=2.0, box_hy=2.0)
msh, _ = mesh.create_disk(sizes, MPI.COMM_WORLD)
transient = dynamics.Transient(Operator.of_model(msh, model, wall="reflecting"))
m0, C0 = np.array([0.3, -0.2]), np.diag([0.1 ** 2, 0.08 ** 2])
ev = transient.run(transient.gaussian(m0, covariance=C0), t_end, tol=1e-5, schedule=schedule)
last = ev.rows[-1]
print(f"FEM: {ev.steps} steps, {ev.factorisations} LU factorisations; at t = {t_end}: "
      f"Var θ1 {last['var_theta1']:.6f}, Var θ2 {last['var_theta2']:.6f}, T {last['T']:g}")

# ## The Lyapunov equation, piece by piece between the jumps


def rhs(t, z):
    m, C = z[:2], z[2:].reshape(2, 2)
    return np.concatenate([-A @ m, (-A @ C - C @ A + float(schedule.T(t)) * A @ A).ravel()])


z, t0 = np.concatenate([m0, C0.ravel()]), 0.0
for t1 in [*schedule.jumps(t_end), t_end]:
    z = scipy.integrate.solve_ivp(rhs, (t0, t1), z, rtol=1e-11, atol=1e-14).y[:, -1]
    t0 = t1
print(f"Lyapunov: Var θ1 {z[2]:.6f}, Var θ2 {z[5]:.6f}")

# ## SGD under the same schedule
# 4000 walkers from the point (0.3, −0.2), steps of α_k to the first t_k ≥ 4.

sgd = mc.run(model, method="sgd", walkers=4000, time=t_end, seed=1, radius=math.inf, sample_from=(0.3, -0.2),
             burn_in=0.0, snapshot_times=[t_end], schedule=schedule, comm=MPI.COMM_SELF,
             hist_edges=(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)))
C = np.zeros((2, 2))
for k in range(sgd.summary.steps):
    a = float(schedule.alpha_k(k))
    B = np.eye(2) - a * A
    C = B @ C @ B.T + a * a * model.Delta * A @ A
var = sgd.snapshots[max(sgd.snapshots)].var(axis=0, ddof=1)
print(f"SGD ({sgd.summary.steps} steps): Var θ2 {var[1]:.5f} vs exact recursion {C[1, 1]:.5f}")

# ## Check
# FEM against the Lyapunov equation to 1e-4; SGD within 3 standard errors
# (Gaussian ensemble: se = C sqrt(2/(N−1))).

assert abs(last["var_theta1"] - z[2]) < 1e-4 and abs(last["var_theta2"] - z[5]) < 1e-4
assert abs(var[1] - C[1, 1]) < 3 * C[1, 1] * math.sqrt(2 / 3999)
transient.destroy()
