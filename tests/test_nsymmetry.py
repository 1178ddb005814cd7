"""Symmetries of N-variable models (issue 22.1, docs/model.md §9 "Symmetries in N
dimensions"): sign flips and classes of interchangeable coordinates found
exactly (valley by structure, quadratic on A, expressions by sympy), the
Monte Carlo's checks of the means they make 0, and the pooled variances
against exact Gaussian covariances."""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest

from conftest import run_script
from fpsolve.mc import nensemble, nkernels
from fpsolve.model import nsymmetry
from fpsolve.model.expression import Model
from fpsolve.model.nvalley import NValley
from fpsolve.model.quadratic import Quadratic
from fpsolve.model.valley import ModelError, Noise

#: No sign flip and no transposition (a tilt, cross terms, every coordinate its own curvature).
ASYMMETRIC = ("theta1**4 - theta1**2 + theta2**2 + 0.3*theta1*theta2 + 0.2*theta1 "
              "+ (1 + 0.1*theta1)*theta3**2 + 0.2*theta2*theta3 + 0.1*theta3")


# ---- finding them --------------------------------------------------------------------

def test_valley_two_equal_directions_and_one_different():
    v = NValley.from_preset("double-well", fast_directions=3, a0=[1.0, 1.0, 2.0])
    for noise in ("sgd", "sgd-diagonal", "isotropic"):
        r = nsymmetry.find(v, noise)
        assert r.flips == (0, 1, 2, 3)  # x (g_i even) and every y_i
        assert r.classes == ((1, 2),) and r.complete
    d = r.as_dict()
    assert d["sign_flips"] == [1, 2, 3, 4] and d["interchangeable"] == [[2, 3]]


@pytest.mark.parametrize("noise", ["sgd", "sgd-diagonal", "isotropic"])
def test_valley_maps_keep_the_loss_and_move_d_with_them(noise):
    """What the structure claims, checked on the dense D at a point: L(Pθ) = L(θ) and
    D(Pθ) = P D(θ) Pᵀ for every flip and for the swap of the two equal directions."""
    from fpsolve.model.nvalley import diffusion_matrix

    v = NValley.from_preset("double-well", fast_directions=3, a0=[1.0, 1.0, 2.0])
    r = nsymmetry.find(v, noise)
    theta = np.array([0.37, -0.21, 0.44, 0.13])
    maps = [np.diag([-1.0 if j == k else 1.0 for j in range(4)]) for k in r.flips]
    maps += [np.eye(4)[[0, *c[::-1], 3]] for c in r.classes]  # (y_1 y_2): rows 1, 2 swapped
    D = diffusion_matrix(v, theta[0], theta[1:], 0.05, noise)
    for P in maps:
        img = P @ theta
        assert v.loss(img[0], img[1:]) == pytest.approx(float(v.loss(theta[0], theta[1:])), rel=1e-14)
        assert np.allclose(diffusion_matrix(v, img[0], img[1:], 0.05, noise), P @ D @ P.T, rtol=0, atol=1e-15)
    other = theta[[0, 1, 3, 2]]  # y_2 ↔ y_3 (a0 = 1 and 2): not a symmetry, and not found
    assert abs(float(v.loss(other[0], other[1:]) - v.loss(theta[0], theta[1:]))) > 1e-3
    assert r.classes == ((1, 2),)


def test_valley_structure_is_o_m_for_m_1000():
    v = NValley.from_preset("double-well", fast_directions=1000, a2=[-2.0] * 500 + [-1.5] * 500)
    r = nsymmetry.find(v, "sgd")
    assert len(r.flips) == 1001 and [len(c) for c in r.classes] == [500, 500]
    assert r.classes[0][0] == 1 and r.classes[1][0] == 501
    assert r.seconds < 1.0  # no N × N matrix (a generous bound; it takes milliseconds)


def test_valley_with_constant_curvatures_lets_x_join():
    v = types.SimpleNamespace(eps=0.5, a0=np.array([0.5, 0.5, 2.0]), a2=np.zeros(3), a4=np.zeros(3))
    assert nsymmetry.find(v, "sgd").classes == ((0, 1, 2),)


def test_user_covariance_removes_flips_and_splits_classes():
    v = NValley.from_preset("double-well", fast_directions=3)
    S = np.diag([1.0, 2.0, 2.0, 2.0])
    S[2, 3] = S[3, 2] = 0.5  # couples y_2 and y_3: their flips go, (y_2 y_3) stays, y_1 is alone
    r = nsymmetry.find(v, S)
    assert r.flips == (0, 1) and r.classes == ((2, 3),)
    with pytest.raises(ModelError, match="4 x 4"):
        nsymmetry.find(v, np.eye(3))


def test_the_ball_centre_must_be_a_fixed_point():
    v = NValley.from_preset("double-well", fast_directions=3)
    r = nsymmetry.find(v, "sgd", center=[0.0, 0.3, 0.3, 0.0])
    assert r.flips == (0, 3) and r.classes == ((1, 2),)


def test_quadratic_from_its_matrix():
    A = np.diag([1.0, 1.0, 2.0, 1.0])
    A[2, 3] = A[3, 2] = 0.1
    r = nsymmetry.find(Quadratic(A, "isotropic"))
    assert r.flips == (0, 1) and r.classes == ((0, 1),)


@pytest.mark.parametrize("loss, flips, classes", [
    ("0.5*(theta1**2 + theta2**2 + theta3**2 + theta4**2 + theta5**2)", (0, 1, 2, 3, 4), ((0, 1, 2, 3, 4),)),
    ("0.5*(theta1*theta2*theta3 - 1)**2 + 0.1*theta1", (), ((1, 2),)),  # pairs of flips only: not single ones
    ("(theta1 + theta2)**2*theta3**2 + (theta1 - theta2)**4 + theta4**2 + 2*theta5**2 + theta6**2",
     (2, 3, 4, 5), ((0, 1), (3, 5))),
    ("theta1**2 + theta2**2 + theta3**2 + 1e-12*theta1**3", (1, 2), ((1, 2),)),  # passes the screen, not sympy
    (ASYMMETRIC, (), ()),
])
def test_expression_models_exactly(loss, flips, classes):
    r = nsymmetry.find(Model.from_expression(loss, noise="sgd"))
    assert r.flips == flips and r.classes == classes and r.complete


@pytest.mark.parametrize("loss", ["0.5*(theta1*theta2 - 1)**2", "x**2 + y**2 + 0.1*x", "x**4 + y**4 - x*y",
                                  "0.5*(1 - x**2 + 0.5*x**4)*y**2 + 0.005*x**2"])
def test_two_variables_agree_with_the_2d_finder(loss):
    from fpsolve.model import symmetry

    model = Model.from_expression(loss, noise="sgd")
    two, n = symmetry.find(model).names, nsymmetry.find(model)
    assert n.flips == tuple(k for k, name in enumerate(("mirror-theta1", "mirror-theta2")) if name in two)
    assert n.classes == (((0, 1),) if "swap" in two else ())
    with pytest.raises(ModelError, match="two-variable"):
        nsymmetry.find(Model.from_expression(loss, noise=("1", "0", "1")))


def test_expression_in_sixty_variables():
    loss = " + ".join(f"(theta{i}**2 - 1)**2" for i in range(1, 61))
    r = nsymmetry.find(Model.from_expression(loss, noise="sgd-diagonal"))
    assert r.flips == tuple(range(60)) and r.classes == (tuple(range(60)),)


def test_flag_threshold_grows_with_the_number_of_checks():
    assert nensemble.flag_threshold(1) == 4.0 and nensemble.flag_threshold(15) == 4.0
    assert nensemble.flag_threshold(1000) == pytest.approx(4.8916, abs=1e-3)  # 1000 erfc(z/√2) = 1e-3


# ---- using them in the Monte Carlo -------------------------------------------------

def synthetic_acc(means: np.ndarray, var: float, walkers: int = 400, seed: int = 0) -> np.ndarray:
    """Accumulators (walkers, NACC + 2N) of walkers with 100 samples each, normal with these means."""
    rng = np.random.default_rng(seed)
    n = len(means)
    acc = np.zeros((walkers, nkernels.NACC + 2 * n))
    x = means[None, None, :] + math.sqrt(var) * rng.standard_normal((walkers, 100, n))
    acc[:, nkernels.A_N] = 100
    acc[:, nkernels.NACC:nkernels.NACC + n] = x.sum(axis=1)
    acc[:, nkernels.NACC + n:] = (x * x).sum(axis=1)
    return acc


def test_a_sampler_that_breaks_a_flip_is_flagged():
    report = nsymmetry.NSymmetryReport(3, flips=(0, 1, 2), classes=((1, 2),))
    fine = nensemble.symmetry_statistics(synthetic_acc(np.zeros(3), 1.0), 3, report)["symmetry"]
    assert not fine["broken_sampler"] and fine["zero_by_symmetry"]["max_abs_z"] < 4.0
    biased = nensemble.symmetry_statistics(synthetic_acc(np.array([0.0, 0.05, 0.0]), 1.0), 3, report)["symmetry"]
    assert biased["broken_sampler"] and biased["zero_by_symmetry"]["z"][1] > 4.0  # se 0.005: a 10 s.e. bias


def test_no_symmetry_leaves_the_numbers_alone():
    model = Model.from_expression(ASYMMETRIC, noise="isotropic", alpha=0.05, T=0.1)
    kw = dict(method="sgd", walkers=200, time=40.0, radius=3.0, seed=4)
    on, off = nensemble.run(model, **kw).summary.as_dict(), nensemble.run(model, symmetries=False, **kw).summary.as_dict()
    timing = {"wall_seconds", "walker_steps_per_second", "coordinate_updates_per_second", "kernel_load_seconds",
              "symmetry_seconds"}
    assert {k: v for k, v in off.items() if k not in timing} == {k: on[k] for k in off if k not in timing}
    sym = on["symmetry"]
    assert sym["model"]["sign_flips"] == [] and sym["model"]["interchangeable"] == []
    assert sym["zero_by_symmetry"]["coordinates"] == [] and sym["pooled_variance"] == []
    assert on["var_theta_pooled"] == on["var_theta"] and on["var_theta_pooled_se"] == on["var_theta_se"]


def test_quadratic_n5_isotropic_pooled_variance_is_exact():
    """½(θ1² + θ2² + θ3²) + (θ4² + θ5²), isotropic noise, linear-shift SGD: the
    exact stationary covariance C = (I − αA) C (I − αA) + α²Δ I is diagonal,
    C_jj = αΔ / (a_j (2 − α a_j)) (Quadratic.covariance_sgd): 0.025641 and 0.013158."""
    loss = "0.5*(theta1**2 + theta2**2 + theta3**2) + (theta4**2 + theta5**2)"
    model = Model.from_expression(loss, noise="isotropic", alpha=0.05, T=0.05)
    exact = np.diag(Quadratic(np.diag([1.0, 1.0, 1.0, 2.0, 2.0]), "isotropic", 0.05, 1.0).covariance_sgd())
    s = nensemble.run(model, method="sgd", walkers=1000, time=60.0, burn_in=10.0, radius=math.inf, seed=3).summary
    sym = s.symmetry
    assert sym["model"]["sign_flips"] == [1, 2, 3, 4, 5] and sym["model"]["interchangeable"] == [[1, 2, 3], [4, 5]]
    assert not sym["broken_sampler"] and max(abs(z) for z in sym["zero_by_symmetry"]["z"]) < 4.0
    pooled, pooled_se, own_se = (np.array(v) for v in (s.var_theta_pooled, s.var_theta_pooled_se, s.var_theta_se))
    assert np.all(np.abs(pooled - exact) < 3 * pooled_se)
    assert np.all(pooled_se < own_se)  # pooling over 3 and 2 directions narrows the error
    for c in sym["pooled_variance"]:
        assert c["max_abs_spread_z"] < 4.0


def test_valley_run_checks_pass_and_pool_the_fast_directions():
    v = NValley.from_preset("double-well", fast_directions=4, a0=[1.0, 1.0, 1.0, 2.0])
    s = nensemble.run(v, Noise(0.05, 1.0), method="sde", dt=0.01, walkers=300, time=60.0, seed=7).summary
    sym = s.symmetry
    assert sym["model"]["interchangeable"] == [[2, 3, 4]] and len(sym["model"]["sign_flips"]) == 5
    assert not sym["broken_sampler"] and sym["zero_by_symmetry"]["max_abs_z"] < 4.0
    assert s.as_dict()["var_y_pooled"][:3] == [sym["pooled_variance"][0]["var_pooled"]] * 3
    assert s.as_dict()["var_y_pooled"][3] == s.var_theta[4]  # alone in its class: its own value


def test_sample_sgd_records_the_symmetries_of_a_loss(tmp_path):
    out = tmp_path / "run"
    res = run_script("sample_sgd.py", "--loss", "(theta1**2 - 1)**2 + theta2**2 + theta3**2 + 2*theta4**2",
                     "--noise", "isotropic", "--T", "0.1", "--walkers", "200", "--time", "30", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["symmetry"]["model"]["sign_flips"] == [1, 2, 3, 4]
    assert s["symmetry"]["model"]["interchangeable"] == [[2, 3]] and not s["symmetry"]["broken_sampler"]
    assert len(s["var_theta_pooled"]) == 4 and s["var_theta_pooled"][1] == s["var_theta_pooled"][2]
    assert "symmetries: 4 sign flips" in res.stderr
