# # Adaptive meshes to a stated accuracy: the exit rate of an OU process
#
# A particle follows the isotropic Ornstein-Uhlenbeck process
# dθ = −θ dt + sqrt(2d) dW and is absorbed on the circle |θ| = R.  Its escape
# rate λ0 is the principal eigenvalue of the Fokker-Planck operator with
# P = 0 on the wall (docs/model.md §4).  The radial eigenproblem has the exact
# answer: λ0 is the smallest root of Kummer's function
# M(−λ/2, 1, R²/(2d)) = 0.  For d = 0.05, R = 1 the particle must climb
# R²/(2d) = 10 units of the potential: λ0 ≈ 8.04e−4, decided in a thin layer
# at the wall where the density is e^{−10} of its peak.
#
# The adaptive loop (`fpsolve.fem.adapt`) does not know where that layer is.  It
# starts from a uniform disk, solves, estimates the error per cell and
# refines, until its estimate (the change between cycles of the moments, of
# the density and of λ0, extrapolated with the P2 rate) is below `tol`.

import scipy.optimize
import scipy.special
import ufl
from mpi4py import MPI

from fpsolve.fem import adapt
from fpsolve.fem import mesh as fmesh

d, R = 0.05, 1.0

# ## The model as UFL on any mesh
#
# The loop calls this for every new mesh: drift F = −θ, D = d I, ∇·D = 0.


def coefficients(msh):
    return -ufl.SpatialCoordinate(msh), d * ufl.Identity(2), ufl.as_vector((0.0, 0.0))


# ## The loop
#
# A uniform disk of size R/10 to start; the remeshes stay inside the bounds of
# `sizes` (the finest size R·2e−5).  Progress: one line per cycle.

msh, sizes = fmesh.adaptive_start(R, (0.0, 0.0), MPI.COMM_WORLD)
say = print if MPI.COMM_WORLD.rank == 0 else (lambda line: None)
sol, record = adapt.solve_adaptive(msh, sizes, coefficients, tol=1e-3, progress=say)

# ## Against the exact exit rate
#
# The Kummer root, bracketed on a grid and polished with Brent's method.

z = R * R / (2 * d)
kummer = lambda lam: scipy.special.hyp1f1(-lam / 2, 1.0, z)  # noqa: E731
exact = scipy.optimize.brentq(kummer, 1e-5, 1e-2, xtol=1e-16)
lam, flux = sol.eigenvalue.real, sol.boundary_escape_rate()
if MPI.COMM_WORLD.rank == 0:
    print(f"exact {exact:.8g}; adaptive λ0 {lam:.8g} ({lam / exact - 1:+.1e}), "
          f"flux {flux:.8g}, estimate {record['error_estimate']:.1e}, {sol.info['dofs']} dofs, "
          f"{len(record['cycles'])} cycles")

# The escape rate and the boundary flux (the weak-form residual against the
# wall's basis functions) agree with the exact rate to the tolerance asked.

assert abs(exact - 8.0426703e-4) < 1e-10
assert abs(lam / exact - 1) < 1e-3 and abs(flux / exact - 1) < 1e-3
assert record["converged"] and record["error_estimate"] < 1e-3
