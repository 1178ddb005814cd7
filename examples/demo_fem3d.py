# # The Fokker-Planck equation in three variables
#
# A 3-variable model makes the FEM solve 3-D: P2 Lagrange on a tetrahedral
# ball (fpsolve.fem.ball), the same weak form and shift-and-invert as in 2-D
# (fpsolve.fem.operator, fpsolve.fem.eigenproblem), MUMPS for the LU
# (fpsolve.fem.solve3d), moments of every coordinate by quadrature
# (fpsolve.fem.ndmoments).

import math

import ufl
from mpi4py import MPI

from fpsolve.fem import ball, nvalley_forms, solve3d
from fpsolve.fem.operator import Operator
from fpsolve.model.nvalley import NValley

comm = MPI.COMM_WORLD

# ## An exact check: pure diffusion in the unit ball
#
# D = d I with an absorbing wall: the escape rate is λ0 = d π² (the first
# zero of j0 is π). Quadratic tetrahedra keep the wall on the sphere.

d = 0.5
msh, info, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.25, geometry_order=2), comm)
zero = ufl.as_vector((0.0, 0.0, 0.0))
sol, mom, _ = solve3d.solve(Operator.build(msh, zero, d * ufl.Identity(3), zero, degree=2))
error = sol.eigenvalue.real / (d * math.pi ** 2) - 1
print(f"pure diffusion: lambda0 = {sol.eigenvalue.real:.6f}, d pi^2 = {d * math.pi ** 2:.6f}, "
      f"relative error {error:.1e} ({info['cells']} tetrahedra)")
assert abs(error) < 1e-3

# ## The valley with two fast directions (docs/model.md §9)
#
# L = ½ g(x)(y1² + y2²) + ½ ε x², sgd noise D = (T/2) H², T = 0.05, absorbing
# ball of radius 2. The mesh is graded from the closed forms of §9 (peaks of
# the slow marginal at ±x*, fast widths sqrt(T g / 2)) and mirror-symmetric in
# x. A coarse mesh (36k dofs, negative mass 2.8 %) already puts mean |x| within 0.003 of the Monte Carlo
# (0.812 ± 0.002); finer ones: docs/numerics.md.

valley = NValley.from_preset("double-well", fast_directions=2)
sizes = ball.valley_ball_sizes(valley, 0.05, points_per_width=1.0)
msh, info, _ = ball.create_ball(sizes, comm)
drift, D, divD, _ = nvalley_forms.nvalley_coefficients(msh, valley, 0.05)
op = Operator.build(msh, drift, D, divD, degree=2)
sol, mom, _ = solve3d.solve(op)
print(f"m = 2 valley: {op.dofs} dofs, mean |x| {mom['mean_abs_theta1']:.4f}, std |x| {mom['std_abs_theta1']:.4f}, "
      f"Var y1 {mom['var_theta2']:.5f}, Var y2 {mom['var_theta3']:.5f}, negative mass {mom['negative_mass']:.1e}")
assert abs(mom["mean_abs_theta1"] - 0.812) < 0.003
assert abs(mom["var_theta2"] - mom["var_theta3"]) < 1e-3 * mom["var_theta2"]  # identical fast directions (the mesh is not symmetric in y1 <-> y2)
