"""The FEM solver on Ornstein-Uhlenbeck processes with exact Gaussian
stationary densities: constant anisotropic D (ratio 1e3) with a gradient
drift, and a rotating (non-symmetric K) drift whose covariance solves the
Lyapunov equation K Σ + Σ Kᵀ = 2 D.  L1 errors fall at measured rates under
refinement (P1 about 2, P2 about 3) and P2 reaches L1 ≤ 1e-3.

The anisotropic case is hard for P1 the way the model is: a slow direction
(relaxation rate 1e-3) next to a fast one, so O(h²) errors of the fast terms
swamp the slow ones until h ≲ 0.01 (L1 0.52, 0.15, 0.099 at h = 0.04, 0.02,
0.01, then rate ≈ 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from mpi4py import MPI

import ufl
from dolfinx import fem

from fpsolve.fem import mesh as fmesh
from fpsolve.fem import eigenproblem
from fpsolve.fem.operator import Operator

MEAN = np.array([0.1, -0.05])           # off-centre, well inside the disk
RADIUS = 0.75
D_ANISO = np.diag([1e-2, 1e-5])         # D11 / D22 = 1e3
CASES = {
    # gradient drift F = −K(θ−m), K diagonal: Σ = K⁻¹ D = 0.01 I
    "anisotropic": np.diag([1.0, 1e-3]),
    # rotating drift: K not symmetric (eigenvalues with imaginary parts)
    "rotating": np.array([[1.0, 1.0], [-1.0, 0.2]]),
}
#: mesh sizes per degree; P1 needs h <= 0.01 before its rate is 2 on the
#: anisotropic case (slow relaxation 1e-3 against O(h²) errors of the fast terms)
H_LEVELS = {1: (0.02, 0.01, 0.005), 2: (0.04, 0.02, 0.01)}


def gaussian_covariance(K: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Stationary covariance of dθ = −Kθ dt + sqrt(2D) dW: K Σ + Σ Kᵀ = 2D."""
    return scipy.linalg.solve_continuous_lyapunov(K, 2.0 * D)


def _solve_ou(K: np.ndarray, h: float, degree: int, comm=MPI.COMM_SELF, wall="absorbing",
              eigensolver="slepc"):
    sizes = fmesh.MeshSizes(radius=RADIUS, center=(0.0, 0.0), h_min=h, h_max=4 * h,
                            box_hx=0.35, box_hy=0.35, box_x0=MEAN[0], box_y0=MEAN[1])
    msh, _ = fmesh.create_disk(sizes, comm)
    x = ufl.SpatialCoordinate(msh)
    r = ufl.as_vector((x[0] - MEAN[0], x[1] - MEAN[1]))
    drift = -ufl.dot(ufl.as_matrix(K.tolist()), r)
    D = ufl.as_matrix(D_ANISO.tolist())
    sol, timing = eigenproblem.solve_operator(Operator.build(msh, drift, D, degree=degree, wall=wall), eigensolver=eigensolver)
    S = gaussian_covariance(K, D_ANISO)
    P = np.linalg.inv(S)
    quad = r[0] * (P[0, 0] * r[0] + 2 * P[0, 1] * r[1]) + P[1, 1] * r[1] * r[1]
    exact = ufl.exp(-0.5 * quad) / (2 * math.pi * math.sqrt(np.linalg.det(S)))
    l1 = msh.comm.allreduce(fem.assemble_scalar(fem.form(
        abs(sol.density - exact) * ufl.dx(metadata={"quadrature_degree": 8}))))
    return sol, l1, timing["dofs"]


def test_lyapunov_covariances_are_what_the_cases_claim():
    S = gaussian_covariance(CASES["anisotropic"], D_ANISO)
    np.testing.assert_allclose(S, 0.01 * np.eye(2), rtol=1e-12, atol=1e-16)
    K = CASES["rotating"]
    assert not np.allclose(K, K.T)
    assert np.all(np.linalg.eigvals(K).real > 0) and np.any(np.linalg.eigvals(K).imag != 0)
    S = gaussian_covariance(K, D_ANISO)
    np.testing.assert_allclose(K @ S + S @ K.T, 2 * D_ANISO, atol=1e-15)
    # support well inside the disk: ≥ 6 standard deviations to the boundary
    assert RADIUS - np.linalg.norm(MEAN) > 6 * math.sqrt(np.linalg.eigvalsh(S).max())


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("degree, min_rate", [(1, 1.6), (2, 2.5)])
def test_l1_error_converges_at_measured_rate(case, degree, min_rate):
    errs, dofs, lams = [], [], []
    levels = H_LEVELS[degree]
    for h in levels:
        sol, l1, n = _solve_ou(CASES[case], h, degree)
        errs.append(l1)
        dofs.append(n)
        lams.append(abs(sol.eigenvalue.real))
        assert sol.moments()["mass"] == pytest.approx(1.0, abs=1e-12)
    # the rate on the two finest levels (the coarsest is pre-asymptotic for P1)
    rate = math.log(errs[-2] / errs[-1]) / math.log(levels[-2] / levels[-1])
    print(f"OU {case} P{degree}: dofs {dofs} L1 {errs} rate {rate:.2f} |lambda0| {lams}")
    assert rate > min_rate, (errs, rate)
    # confined: the exact escape rate is ~ exp(-18); the discrete one is a
    # discretisation error that falls under refinement
    assert lams[-1] < lams[0] or lams[-1] < 1e-9, lams
    assert lams[-1] < (1e-4 if degree == 1 else 1e-7), lams
    if degree == 2:
        assert errs[-1] <= 1e-3, errs


def test_moments_match_the_gaussian_and_solvers_agree():
    K = CASES["rotating"]
    S = gaussian_covariance(K, D_ANISO)
    sol, l1, _ = _solve_ou(K, 0.03, 2)
    m = sol.moments()
    assert m["mean_theta1"] == pytest.approx(MEAN[0], abs=1e-4)
    assert m["mean_theta2"] == pytest.approx(MEAN[1], abs=1e-4)
    assert m["var_theta1"] == pytest.approx(S[0, 0], rel=2e-3)
    assert m["var_theta2"] == pytest.approx(S[1, 1], rel=2e-3)
    # histogram by quadrature on the mesh against the Gaussian's own bin
    # integrals (Gauss-Legendre, 24 x 24 points per bin)
    xe = MEAN[0] + np.linspace(-0.3, 0.3, 7)
    ye = MEAN[1] + np.linspace(-0.3, 0.3, 5)
    bins = sol.bin_integrals(xe, ye)
    assert bins.shape == (6, 4)
    t, w = np.polynomial.legendre.leggauss(24)
    P = np.linalg.inv(S)
    want = np.zeros_like(bins)
    for i in range(6):
        for j in range(4):
            hx, hy = 0.5 * (xe[i + 1] - xe[i]), 0.5 * (ye[j + 1] - ye[j])
            X, Y = np.meshgrid(xe[i] + hx * (t + 1) - MEAN[0], ye[j] + hy * (t + 1) - MEAN[1], indexing="ij")
            dens = np.exp(-0.5 * (P[0, 0] * X * X + 2 * P[0, 1] * X * Y + P[1, 1] * Y * Y)) / (2 * np.pi * np.sqrt(np.linalg.det(S)))
            want[i, j] = hx * hy * np.einsum("i,j,ij->", w, w, dens)
    np.testing.assert_allclose(bins, want, atol=5e-4)
    from scipy.stats import norm

    # θ1-marginal is the Gaussian's, at points
    grid = MEAN[0] + np.linspace(-0.25, 0.25, 11)
    np.testing.assert_allclose(sol.marginal_theta1(grid), norm.pdf(grid, MEAN[0], math.sqrt(S[0, 0])), rtol=2e-3, atol=1e-4)
    # inverse iteration gives the same density
    sol2, l1b, _ = _solve_ou(K, 0.03, 2, eigensolver="inverse")
    assert l1b == pytest.approx(l1, rel=1e-6)
    # a reflecting wall this far out changes nothing measurable
    sol3, l1c, _ = _solve_ou(K, 0.03, 2, wall="reflecting")
    assert l1c == pytest.approx(l1, rel=1e-3)
    assert abs(sol3.eigenvalue.real) < 1e-8
