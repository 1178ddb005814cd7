"""The FEM in three variables against exact answers (issue 19, docs/model.md §4, §9).

* pure diffusion D = d I in the unit ball, absorbing wall: λ0 = d π² (the
  first zero of j0 is π); P2 on quadratic tetrahedra, h = 0.25 (2.5k dofs):
  relative error 5.4e-4 measured, asserted ≤ 1e-3 (O(h⁴): 7.3e-5 at h = 0.15);
* isotropic Ornstein-Uhlenbeck ``L = ½ k |θ|²``, D = (T/2) I, reflecting ball
  of radius 1.5 (6.7 standard deviations): Gibbs variance T/(2k) per
  coordinate; P2, h = 0.14 in |θ| < 0.8 growing to 0.375 (15.8k dofs): relative
  error 4.1e-5 and negative mass 2.3e-5 measured, asserted ≤ 2e-4 and 1e-4;
* the valley's UFL coefficients equal the numpy model's D and drift
  (:func:`fpsolve.model.nvalley.diffusion_matrix`) at points;
* the ball's mesh is its own mirror image under θ1 → −θ1 and, stretched,
  still has its wall on the sphere.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

import ufl
from dolfinx import fem
from petsc4py import PETSc

from fpsolve.fem import ball, nvalley_forms, solve3d
from fpsolve.fem.operator import Operator
from fpsolve.model import nvalley
from fpsolve.model.valley import ModelError


def ou_operator(comm, k=1.0, T=0.1, radius=1.5, h=0.14):
    """The isotropic OU process of the module docstring on a graded ball."""
    sizes = ball.BallSizes(radius, (0.0, 0.0, 0.0), h, radius / 4, (((0.0, 0.0, 0.0), (0.8, 0.8)),))
    msh, _, _ = ball.create_ball(sizes, comm)
    x = ufl.SpatialCoordinate(msh)
    kc, Tc = (fem.Constant(msh, PETSc.ScalarType(v)) for v in (k, T))
    zero = ufl.as_vector((0.0, 0.0, 0.0))
    return Operator.build(msh, -kc * x, 0.5 * Tc * ufl.Identity(3), zero, degree=2, wall="reflecting")


def test_pure_diffusion_escape_rate_is_d_pi_squared():
    d = 0.7
    msh, info, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.25, geometry_order=2), MPI.COMM_SELF)
    zero = ufl.as_vector((0.0, 0.0, 0.0))
    op = Operator.build(msh, zero, d * ufl.Identity(3), zero, degree=2)
    sol, mom, _ = solve3d.solve(op)
    exact = d * math.pi ** 2
    assert sol.eigenvalue.real == pytest.approx(exact, rel=1e-3)
    # the wall-flux estimate agrees with λ0 to the eigenpair residual
    assert sol.boundary_escape_rate() == pytest.approx(sol.eigenvalue.real, rel=1e-6)
    assert abs(mom["mean_theta1"]) < 1e-10 and mom["negative_mass"] < 1e-6


def test_ornstein_uhlenbeck_gibbs_variances():
    k, T = 1.0, 0.1
    op = ou_operator(MPI.COMM_SELF, k, T)
    sol, mom, _ = solve3d.solve(op)
    assert abs(sol.eigenvalue.real) < 1e-9  # reflecting: the null vector
    for i in (1, 2, 3):
        assert mom[f"var_theta{i}"] == pytest.approx(T / (2 * k), rel=2e-4), i
        assert abs(mom[f"mean_theta{i}"]) < 1e-5  # against a standard deviation of 0.22
    assert mom["negative_mass"] < 1e-4


def test_valley_coefficients_equal_the_numpy_model():
    valley = nvalley.NValley(eps=0.02, a0=[1.0, 1.5], a2=[-1.0, 0.5], a4=[0.5, 0.1])
    T = 0.07
    msh, _, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.5, geometry_order=1), MPI.COMM_SELF)
    drift, D, divD, _ = nvalley_forms.nvalley_coefficients(msh, valley, T)
    from fpsolve import _compat

    ref = np.array([[0.25, 0.25, 0.25]])
    expr = _compat.expression_at(ufl.as_vector([drift[i] for i in range(3)]
                                               + [D[i, j] for i in range(3) for j in range(3)]), ref)
    cells = np.arange(msh.topology.index_map(3).size_local, dtype=np.int32)
    vals = _compat.eval_expression(expr, msh, cells).reshape(len(cells), 12)
    xexpr = _compat.expression_at(ufl.SpatialCoordinate(msh), ref)
    pts = _compat.eval_expression(xexpr, msh, cells).reshape(len(cells), 3)
    for p, v in list(zip(pts, vals))[::max(1, len(cells) // 20)]:
        gx, gy = valley.gradient(p[0], p[1:])
        assert np.allclose(v[:3], -np.concatenate([[gx], gy]), rtol=1e-12, atol=1e-14)
        assert np.allclose(v[3:].reshape(3, 3), nvalley.diffusion_matrix(valley, p[0], p[1:], T),
                           rtol=1e-12, atol=1e-14)
    with pytest.raises(ModelError, match="needs a 4-D mesh"):
        nvalley_forms.nvalley_coefficients(msh, nvalley.NValley.from_preset("double-well", 3), T)


def test_ball_is_mirror_symmetric_and_round():
    sizes = ball.valley_ball_sizes(nvalley.NValley.from_preset("double-well", 2), 0.05, points_per_width=0.6)
    assert sizes.stretch < 1.0 and len(sizes.boxes) == 2
    points, cells = ball.ball_arrays(sizes)
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points * np.array([-1.0, 1.0, 1.0]))
    assert dist.max() < 1e-12
    r = np.linalg.norm(points, axis=1)
    assert r.max() == pytest.approx(sizes.radius, rel=1e-6)  # gmsh places wall nodes to ~2e-8
    # every cell has positive volume after the mirror and the stretch
    p = points[cells[:, :4]]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    assert np.all(np.abs(vol) > 0)
    with pytest.raises(ModelError, match="radius"):
        ball.uniform_ball_sizes(-1.0)
    with pytest.raises(ModelError, match="m = 2"):
        ball.valley_ball_sizes(nvalley.NValley.from_preset("double-well", 1), 0.05)


def test_iterative_shift_and_invert_equals_the_direct_one():
    """solve3d's iterative path (GMRES + GAMG through the fpsolve_eig_ prefix)
    against MUMPS on the pure-diffusion ball: λ0 and the density's moments to 1e-8."""
    msh, _, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.3, geometry_order=2), MPI.COMM_SELF)
    zero = ufl.as_vector((0.0, 0.0, 0.0))
    op = Operator.build(msh, zero, 0.7 * ufl.Identity(3), zero, degree=2)
    direct, m_direct, _ = solve3d.solve(op, iterative=False)
    krylov, m_krylov, _ = solve3d.solve(op, iterative=True)
    assert krylov.info["options_in_effect"]["st_pc_type"] == "gamg"
    assert direct.info["options_in_effect"]["st_pc_factor_mat_solver_type"] == "mumps"
    assert krylov.eigenvalue.real == pytest.approx(direct.eigenvalue.real, rel=1e-8)
    assert m_krylov["var_theta1"] == pytest.approx(m_direct["var_theta1"], rel=1e-8)
