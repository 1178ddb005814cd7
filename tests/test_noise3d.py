"""The valley's closed form per noise in 3-D (fpsolve.theory.nvalley_noise; docs/model.md §9, *Closed forms per noise*).

* Isotropic noise makes the Gibbs density exp(−2L/T) exactly stationary, so
  its closed form (slow marginal ∝ exp(−ε x²/T) Π g_i^(−1/2) cut by the ball,
  fast variances T/(2 g_i)) is checked against an independent quadrature of
  exp(−2L/T) over the ball (measured agreement 1e-12 relative; asserted 1e-9).
* The weighted 3-D solve (m = 2, T = 0.05, reflecting ball R = 2, h_min 0.25,
  h_max 0.6: 14.6k dofs) with the Gibbs weight log w = −2L/T has no negative
  mass and moments equal to the quadrature's (values measured in the test's
  comments; asserted with 2-3× margin).
* sgd and sgd-diagonal keep §9's adiabatic closed form (the one of
  :mod:`fpsolve.theory.nvalley`), and an unknown noise has none: the record is
  None with a warning, never another noise's numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.fem import stationary3d
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley as ntheory
from fpsolve.theory import nvalley_noise

T, R = 0.05, 2.0
LEVEL = Noise(alpha=0.05, Delta=1.0)  # T = 0.05
IDENTICAL = NValley.from_preset(fast_directions=2)
DISTINCT = NValley(eps=0.01, a0=[1.0, 1.5], a2=[-1.0, 0.3], a4=[0.5, 0.2])


def gibbs_quadrature(valley: NValley, radius: float, nx: int = 2001, nr: int = 40, nphi: int = 64) -> dict:
    """Moments of exp(−2L/T) on the ball, from x = R sin t (Simpson in t: points crowd at
    the wall), r (Gauss-Legendre on [0, sqrt(R² − x²)]) and φ (trapezoid): mean |x|, std |x|, ⟨y_i²⟩."""
    from scipy.integrate import simpson

    t = np.linspace(-0.5 * math.pi, 0.5 * math.pi, nx)
    x = radius * np.sin(t)
    z, wz = np.polynomial.legendre.leggauss(nr)
    phi = 2 * math.pi * np.arange(nphi) / nphi
    rho = np.sqrt(np.maximum(radius ** 2 - x ** 2, 0.0))
    r = 0.5 * (z[None, :] + 1.0) * rho[:, None]                 # (nx, nr)
    wr = 0.5 * wz[None, :] * rho[:, None] * r                   # includes the Jacobian r
    y1 = r[:, :, None] * np.cos(phi)[None, None, :]
    y2 = r[:, :, None] * np.sin(phi)[None, None, :]
    g = valley.g(x)                                             # (nx, 2)
    L = 0.5 * (g[:, 0, None, None] * y1 ** 2 + g[:, 1, None, None] * y2 ** 2) + 0.5 * valley.eps * x[:, None, None] ** 2
    P = np.exp(-2 * L / T) * wr[:, :, None] * (2 * math.pi / nphi)

    def integral(f):
        return simpson(np.sum(f * P, axis=(1, 2)) * radius * np.cos(t), x=t)

    Z = integral(1.0)
    ax = np.abs(x)[:, None, None]
    m1 = integral(ax) / Z
    return {"mean_abs_theta1": m1, "std_abs_theta1": math.sqrt(integral(ax ** 2) / Z - m1 ** 2),
            "var_y": [integral(y1 ** 2) / Z, integral(y2 ** 2) / Z]}


@pytest.mark.parametrize("valley", [IDENTICAL, DISTINCT], ids=["identical", "distinct"])
def test_isotropic_closed_form_equals_gibbs_quadrature(valley):
    mom = nvalley_noise.moments(valley, T, "isotropic", R)
    ref = gibbs_quadrature(valley, R)
    assert mom["form"] == "gibbs"
    for key in ("mean_abs_theta1", "std_abs_theta1"):
        assert mom[key] == pytest.approx(ref[key], rel=1e-9), key
    assert mom["var_y"] == pytest.approx(ref["var_y"], rel=1e-9)
    # free-space fast variances T/(2 g_i), and the marginal's shape exp(−ε x²/T) Π g_i^(−1/2)
    x = np.linspace(0.0, 1.5, 7)
    assert nvalley_noise.fast_variance(valley, T, x, "isotropic") == pytest.approx(T / (2 * valley.g(x)), rel=1e-15)
    lp = nvalley_noise.log_marginal_x(valley, T, x, "isotropic")
    exact = -valley.eps * x ** 2 / T - 0.5 * np.sum(np.log(valley.g(x)), axis=-1)
    assert lp == pytest.approx(exact - exact.max(), abs=1e-13)


def test_sgd_and_sgd_diagonal_keep_the_adiabatic_closed_form():
    adiabatic = ntheory.marginal_moments(IDENTICAL, T, interval=R)
    for noise in ("sgd", "sgd-diagonal"):
        rec, warning = nvalley_noise.closed_form_record(IDENTICAL, T, noise, R, ("mean_abs_theta1", "var_y"))
        assert warning is None and rec["form"] == "adiabatic"
        assert rec["mean_abs_theta1"] == adiabatic["mean_abs_theta1"] and rec["var_y"] == adiabatic["var_y"]
        x = np.linspace(0.0, 1.5, 7)
        assert np.array_equal(nvalley_noise.fast_variance(IDENTICAL, T, x, noise), 0.5 * T * IDENTICAL.g(x))
    iso, _ = nvalley_noise.closed_form_record(IDENTICAL, T, "isotropic", R, ("mean_abs_theta1",))
    assert iso["form"] == "gibbs" and iso["mean_abs_theta1"] != pytest.approx(adiabatic["mean_abs_theta1"], rel=1e-3)


def test_a_noise_without_closed_form_reports_none_and_says_so():
    rec, warning = nvalley_noise.closed_form_record(IDENTICAL, T, "user", R, ("mean_abs_theta1",))
    assert rec is None and "no closed form" in warning and "'user'" in warning
    with pytest.raises(ModelError, match="no closed form for noise 'user'"):
        nvalley_noise.fast_variance(IDENTICAL, T, 0.0, "user")


@pytest.fixture(scope="module")
def isotropic_solve():
    return stationary3d.solve(IDENTICAL, LEVEL, noise="isotropic", wall="reflecting", radius=R,
                              h_min=0.25, h_max=0.6, comm=MPI.COMM_SELF)


def test_isotropic_weighted_solve_is_the_gibbs_density(isotropic_solve):
    res = isotropic_solve
    s = res.summary
    assert s["dofs"] < 30000 and "isotropic (gibbs" in s["trial_space"]
    # log w is exactly −2L/T at the nodes (its P2 interpolant is what the forms see: L is of degree 6,
    # so u = P/w is not exactly constant between them)
    lw = res.operator.log_weight.x.array
    X = res.operator.V.tabulate_dof_coordinates()
    a = -2.0 * IDENTICAL.loss(X[:, 0], X[:, 1:3]) / T
    assert np.max(np.abs(lw - np.logaddexp(a - a.max(), -40.0))) < 1e-12
    assert s["negative_mass"] < 1e-12  # measured 9e-17 (the sgd weight: 1.7e-3 on the default ball)
    ref = gibbs_quadrature(IDENTICAL, R)
    # measured (14.6k dofs): mean |x| 3.2e-4, std |x| 7.5e-4, Var y 2.4e-4 relative (the polygonal
    # wall cuts h_max²/(8R) inside the sphere at |x| ~ R, where the density is 0.45 of its peak)
    assert s["mean_abs_theta1"] == pytest.approx(ref["mean_abs_theta1"], rel=1e-3)
    assert s["std_abs_theta1"] == pytest.approx(ref["std_abs_theta1"], rel=2e-3)
    for v, r in zip(s["var_y"], ref["var_y"]):
        assert v == pytest.approx(r, rel=7e-4)
    # the reported closed form is the Gibbs one, equal to the quadrature
    cf = s["closed_form"]
    assert cf["form"] == "gibbs" and cf["mean_abs_theta1"] == pytest.approx(ref["mean_abs_theta1"], rel=1e-9)
    assert cf["var_y"] == pytest.approx(ref["var_y"], rel=1e-9)


def test_isotropic_marginals_carry_the_gibbs_curve(isotropic_solve):
    m = isotropic_solve.marginals()
    assert "closed_form_gibbs" in m and "closed_form_landscape" not in m and "closed_form_constant_D" not in m
    dx = m["theta1"][1] - m["theta1"][0]
    assert np.sum(m["closed_form_gibbs"]) * dx == pytest.approx(1.0, abs=1e-3)
    # the same distribution: the bins are thinner than the coarse ball's cells (the FEM's bin averages
    # scatter by ~8 %), so the cumulative distributions are compared (measured max difference 4.6e-4)
    cdf = lambda p: np.cumsum(p) * dx  # noqa: E731
    assert np.max(np.abs(cdf(m["fem_marginal"]) - cdf(m["closed_form_gibbs"]))) < 1.5e-3
