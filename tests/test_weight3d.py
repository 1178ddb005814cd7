"""The weighted trial space ``P = w u`` (fpsolve.fem.weight, Operator.with_log_weight; issue 19).

* Exact: the isotropic Ornstein-Uhlenbeck ball of tests/test_fem3d.py
  (reflecting, k = 1, T = 0.1) weighted by its own Gibbs density
  ``log w = −k|θ|²/T`` (a quadratic, so exact in P2) has u = 1: λ0 = 0 and u
  constant (measured: |λ0| 5e-15, u's spread 7e-14 relative; asserted 1e-12,
  1e-10), and the density's variances are T/(2k) up to the quadrature of exp
  (measured 1.7e-8 relative, asserted 1e-7).
* The two-fast-direction valley (T = 0.05, sgd noise) on a coarse ball
  (``h_min`` 0.15, 65k dofs): the weighted density has 1/18 of the plain P2
  negative mass (measured 2.1e-3 against 3.9e-2; asserted < 1/5), the same
  moments (mean |θ1| 0.811638 against 0.811532, Var θ2 0.0138838 against
  0.0138973; asserted 2e-3), and an escape rate far below the plain one's
  round-off (6e-10 against 1.6e-6; asserted 1/100).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

import ufl
from dolfinx import fem
from petsc4py import PETSc

from fpsolve.fem import ball, solve3d, stationary3d
from fpsolve.fem.operator import Operator
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise


def test_gibbs_weight_makes_the_unknown_constant():
    k, T = 1.0, 0.1
    sizes = ball.BallSizes(1.5, (0.0, 0.0, 0.0), 0.14, 1.5 / 4, (((0.0, 0.0, 0.0), (0.8, 0.8)),))
    msh, _, _ = ball.create_ball(sizes, MPI.COMM_SELF)
    x = ufl.SpatialCoordinate(msh)
    kc, Tc = (fem.Constant(msh, PETSc.ScalarType(v)) for v in (k, T))
    op = Operator.build(msh, -kc * x, 0.5 * Tc * ufl.Identity(3), ufl.as_vector((0.0, 0.0, 0.0)),
                        degree=2, wall="reflecting")
    lw = fem.Function(op.V)
    lw.interpolate(lambda p: -k * np.sum(p ** 2, axis=0) / T)
    sol, mom, _ = solve3d.solve(op.with_log_weight(lw))
    assert abs(sol.eigenvalue) < 1e-12
    u = sol.density.x.array / np.exp(lw.x.array)
    assert np.ptp(u) < 1e-10 * np.max(np.abs(u))
    for i in (1, 2, 3):
        assert mom[f"var_theta{i}"] == pytest.approx(T / (2 * k), rel=1e-7)
    assert mom["negative_mass"] == 0.0


def test_weighted_valley_has_less_negative_mass_and_the_same_moments():
    valley, level = NValley.from_preset(fast_directions=2), Noise(alpha=0.05, Delta=1.0)
    kw = dict(h_min=0.15, comm=MPI.COMM_SELF)
    plain = stationary3d.solve(valley, level, weighted=False, **kw).summary
    weighted = stationary3d.solve(valley, level, **kw).summary
    assert weighted["trial_space"].startswith("P2 times") and plain["trial_space"] == "P2"
    assert weighted["negative_mass"] < plain["negative_mass"] / 5
    for key in ("mean_abs_theta1", "var_theta2", "var_theta3"):
        assert weighted[key] == pytest.approx(plain[key], rel=2e-3), key
    assert weighted["mean_abs_theta1"] == pytest.approx(0.8121, abs=2e-3)  # MODEL.md §9's Monte Carlo
    assert abs(weighted["escape_rate"]) < abs(plain["escape_rate"]) / 100


def test_the_transient_refuses_a_weighted_operator():
    from fpsolve.fem.transient import Transient

    msh, _, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.5, geometry_order=1), MPI.COMM_SELF)
    zero = ufl.as_vector((0.0, 0.0, 0.0))
    op = Operator.build(msh, zero, ufl.Identity(3), zero, degree=1)
    with pytest.raises(ModelError, match="unweighted"):
        Transient(op.with_log_weight(fem.Function(op.V)))
