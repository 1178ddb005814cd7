# # The spectrum of the generator
#
# The eigenvalues after $\lambda_0$ are relaxation rates: a density started
# off equilibrium approaches the stationary one as
# $\sum_n c_n e^{-(\lambda_n - \lambda_0) t}\,\varphi_n$, so
# $1/\mathrm{Re}(\lambda_1 - \lambda_0)$ is the slowest relaxation time
# (docs/model.md §10).  `fpsolve.fem.spectrum` computes the first eigenpairs
# with a residual and a trust flag each (checked with the shift moved and on
# the mesh refined once).

import numpy as np
from mpi4py import MPI

from fpsolve.fem import mesh as fmesh
from fpsolve.fem import spectrum
from fpsolve.fem.model_mesh import model_mesh_sizes
from fpsolve.fem.operator import Operator
from fpsolve.model.expression import Model

# ## Exact: an Ornstein-Uhlenbeck process
#
# The quadratic loss $L = \tfrac12(\theta_1^2 + 2\theta_2^2)$ with SGD noise
# ($D = \tfrac T2 H^2$, constant) is an OU process with drift rates
# $\mu = (1, 2)$; its eigenvalues are $n_1 \mu_1 + n_2 \mu_2$ whatever the
# noise: 0, 1, 2, 2, 3, 3, … ($2 = 2\mu_1 = \mu_2$ is degenerate and comes
# out twice).  At T = 0.04 the density is 0.1–0.14 wide on a disk of radius 2.

model = Model.from_expression("0.5*(theta1**2 + 2*theta2**2)", noise="sgd", T=0.04)
msh, _ = fmesh.create_disk(fmesh.uniform_sizes(2.0, (0.0, 0.0), 0.06), MPI.COMM_SELF)
spec = spectrum.check(Operator.of_model(msh, model), 6)
for row in spec.record()["eigenvalues"]:
    print(f"lambda_{row['n']} = {row['real']:.7f} {row['imag']:+.1e}i  residual {row['residual']:.0e}  "
          f"trusted {row['trusted']}  relaxation time {row['relaxation_time']}")
exact = [0, 1, 2, 2, 3, 3]
assert np.allclose(spec.values().real, exact, atol=1e-4), spec.values()
assert all(e.trusted for e in spec.eigenvalues)

# ## The default double well below T_c
#
# At T = 0.01 the density has one peak at θ1 = 0; λ1 is the slow relaxation of
# θ1 (the adiabatic estimate $\varepsilon - T a_0 |a_2|/2 = 0.005$).  The
# eigenvalues after it include a complex pair that moves with the mesh: it is
# reported, flagged, with the reason.

valley = Model.preset("double-well", T=0.01)
msh, _ = fmesh.create_disk(model_mesh_sizes(valley).refined(0.6), MPI.COMM_SELF)
dw = spectrum.check(Operator.of_model(msh, valley), 4)
for e in dw.eigenvalues:
    print(f"{e.value:.6g}  trusted {e.trusted}  {e.reason}")
lam1 = dw.eigenvalues[1]
print(f"relaxation time 1/Re(lambda1 - lambda0) = {spectrum.relaxation_time(dw):.1f} time units")
assert lam1.trusted and abs(lam1.value.real - 5.076e-3) < 5e-5
