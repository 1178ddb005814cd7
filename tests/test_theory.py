"""fpsolve.theory (docs/model.md §5) against quadrature, exact limits, docs/model.md §6
and a direct simulation of the 1-D slow SDE."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from fpsolve.theory import valley as th
from fpsolve.model.valley import Landscape, ModelError, Noise

DW = Landscape.from_preset("double-well")


# ---------------------------------------------------------------- fast conditional

def _x_with_heavy_tail_index(land: Landscape, T: float, u: float) -> float:
    """θ1 in (1, 4) where T g'²/(2g) = u (it grows monotonically from 0 there for the double well)."""
    from scipy.optimize import brentq

    return brentq(lambda x: th.heavy_tail_index(land, T, x) - u, 1.0 + 1e-12, 4.0)


@pytest.mark.parametrize("T, u", [(1e-4, 1e-6), (0.05, 0.1), (0.5, 0.5), (1.0, 0.8)])
def test_conditional_density_normalised_and_variance_closed_form(T, u):
    # u = T g'²/(2g) spans the Gaussian (u ≪ 1) and heavy-tailed (u → 1) regimes
    x = _x_with_heavy_tail_index(DW, T, u)
    p = lambda y: th.conditional_density(DW, T, x, y)  # noqa: E731
    mass = 2 * integrate.quad(p, 0, np.inf, epsabs=0, epsrel=1e-11, limit=400)[0]
    var = 2 * integrate.quad(lambda y: y * y * p(y), 0, np.inf, epsabs=0, epsrel=1e-10, limit=400)[0]
    assert mass == pytest.approx(1.0, rel=1e-8)
    s2 = th.conditional_variance(DW, T, x, exact=True)
    assert var == pytest.approx(float(s2), rel=1e-6)
    u_x = float(th.heavy_tail_index(DW, T, x))
    assert u_x == pytest.approx(u, rel=1e-6)
    assert float(s2) == pytest.approx(0.5 * T * DW.g(x) / (1 - u_x), rel=1e-12)


def test_normalisation_constant_is_accurate_across_the_series_switch():
    from scipy.special import gammaln

    nu = np.array([9999.0, 1e4, 1.0001e4, 2e4])
    direct = gammaln(nu - 0.5) - gammaln(nu)  # still good to ~1e-11 here
    np.testing.assert_allclose(th._log_gamma_ratio_half(nu), direct, rtol=0, atol=1e-10)
    # far beyond: the ratio tends to ν^(−½) (1 + 3/(8ν)), never NaN or inf
    huge = th._log_gamma_ratio_half(np.array([1e12, 1e300]))
    np.testing.assert_allclose(huge, -0.5 * np.log([1e12, 1e300]) + [3 / 8e12, 0.0], rtol=1e-15)


def test_conditional_variance_diverges_past_heavy_tail_threshold():
    T = 1.0
    x = np.array([_x_with_heavy_tail_index(DW, T, 0.999), _x_with_heavy_tail_index(DW, T, 1.001)])
    s2 = th.conditional_variance(DW, T, x)
    assert math.isfinite(s2[0]) and s2[0] > 100 * 0.5 * T * DW.g(x[0])
    assert s2[1] == math.inf


def test_conditional_density_is_gaussian_where_g_prime_vanishes_and_for_small_T():
    for x, T in ((1.0, 0.05), (0.0, 0.05), (0.3, 1e-6)):  # g'(±1) = g'(0) = 0; tiny T
        y = np.linspace(-5, 5, 11) * math.sqrt(0.5 * T * DW.g(x))  # ±5 standard deviations
        exact = th.log_conditional_density(DW, T, x, y, exact=True)
        gauss = th.log_conditional_density(DW, T, x, y, exact=False)
        # the leading correction at ±5σ is ≈ 78 T g'²/g = 156 u (S25 → S26)
        u = float(th.heavy_tail_index(DW, T, x))
        np.testing.assert_allclose(exact, gauss, rtol=0, atol=200 * u + 1e-12)
        if x == 0.3:
            assert np.max(np.abs(exact - gauss)) > 50 * u  # the correction is there, and small
    # and the heavy-tailed form really differs from it where u is not small
    x = _x_with_heavy_tail_index(DW, 0.5, 0.5)
    y = 4 * math.sqrt(0.25 * DW.g(x))
    assert th.conditional_density(DW, 0.5, x, y) > 10 * th.conditional_density(DW, 0.5, x, y, exact=False)


# ---------------------------------------------------------------- slow marginal

@pytest.mark.parametrize("T", [0.01, 0.3])
def test_slow_drift_and_diffusion_are_gaussian_averages_of_the_model(T):
    """A = −⟨∂1L⟩ and B = ⟨D11⟩ over θ2 ~ N(0, T g/2) (S16, S29), by
    Gauss–Hermite quadrature of fpsolve.model.valley's gradient and diffusion."""
    from fpsolve.model import valley as model

    x = np.linspace(-1.4, 1.4, 29)
    t, w = np.polynomial.hermite.hermgauss(20)
    s2 = 0.5 * T * DW.g(x)
    y = np.sqrt(2 * s2)[:, None] * t[None, :]
    X = np.broadcast_to(x[:, None], y.shape)
    avg = lambda f: (f * w).sum(axis=1) / math.sqrt(math.pi)  # noqa: E731
    grad_x, _ = model.gradient(X, y, *DW.coefficients)
    d11, _, _ = model.diffusion(X, y, T, *DW.coefficients)
    np.testing.assert_allclose(th.slow_drift(DW, T, x), -avg(grad_x), rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(th.slow_diffusion(DW, T, x), avg(d11), rtol=1e-12)
    h = 1e-6
    np.testing.assert_allclose(th.slow_diffusion_derivative(DW, T, x),
                               (th.slow_diffusion(DW, T, x + h) - th.slow_diffusion(DW, T, x - h)) / (2 * h),
                               rtol=1e-6, atol=1e-12)


def _l1(p, q, x):
    return float(np.sum(0.5 * (np.abs(p - q)[1:] + np.abs(p - q)[:-1]) * np.diff(x)))


def test_landscape_marginal_tends_to_constant_D_as_T_to_0():
    distances = []
    for T in (1e-2, 1e-3, 1e-4, 1e-5):
        sigma = math.sqrt(0.5 * T * DW.eps ** 2 / (DW.eps - 0.5 * T))  # constant-D width
        x = np.linspace(-8 * sigma, 8 * sigma, 4001)
        distances.append(_l1(th.marginal_theta1(DW, T, x), th.marginal_theta1(DW, T, x, "constant"), x))
    # measured 0.138, 0.047, 0.0048, 0.00048: the gap shrinks, finally ∝ T
    assert distances[0] > 0.1
    assert all(b < 0.5 * a for a, b in zip(distances, distances[1:]))
    assert distances[3] < 0.15 * distances[2] and distances[3] < 1e-3


def test_marginals_coincide_for_flat_g():
    flat = Landscape(1.3, 0.0, 0.0, 0.02)  # g' = g'' = 0: B = T ε²/2 exactly
    x = np.linspace(-0.5, 0.5, 1001)
    for T in (1e-3, 0.3):
        np.testing.assert_allclose(th.marginal_theta1(flat, T, x), th.marginal_theta1(flat, T, x, "constant"),
                                   rtol=1e-9)
        np.testing.assert_allclose(th.effective_loss(flat, T, x), th.effective_loss(flat, T, x, "constant"),
                                   rtol=1e-9, atol=1e-15)


def test_marginal_is_normalised_on_an_unsorted_caller_grid():
    rng = np.random.default_rng(3)
    x = rng.permutation(np.linspace(-1.5, 1.5, 3001))
    p = th.marginal_theta1(DW, Noise(0.05, 1.0), x)
    order = np.argsort(x)
    assert float(np.sum(0.5 * (p[order][1:] + p[order][:-1]) * np.diff(x[order]))) == pytest.approx(1.0, rel=1e-12)
    assert p[np.argmin(np.abs(x - 0.6652))] == pytest.approx(p.max(), rel=1e-3)


@pytest.mark.parametrize("T", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("eps", [0.0, 1e-4, 0.1])
def test_log_space_survives_extreme_T_and_eps(T, eps):
    land = Landscape(1.0, -1.0, 0.5, eps)
    m = th.marginal_moments(land, T)
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "mode_theta1", "flatness_at_mode"):
        assert math.isfinite(m[key]), key
    assert 0 <= m["mean_abs_theta1"] <= 2 and m["std_abs_theta1"] > 0
    if eps == 0:
        # the degenerate valley concentrates at the flattest points ±1 at small T
        if T == 1e-4:
            assert m["mean_abs_theta1"] == pytest.approx(1.0, abs=1e-3)
        with pytest.raises(ModelError, match="eps > 0"):
            th.marginal_theta1(land, T, np.linspace(-1, 1, 11), "constant")
    else:
        mc = th.marginal_moments(land, T, "constant")
        assert math.isfinite(mc["mean_abs_theta1"]) and mc["std_abs_theta1"] > 0


@pytest.mark.parametrize(
    "T, kind, mean, std",
    [
        (0.01, "landscape", 0.00694, 0.00532),
        (0.01, "constant", 0.00798, 0.00603),
        (0.05, "landscape", 0.619, 0.118),
        (0.05, "constant", 0.638, 0.011),
    ],
)
def test_model_md_section_6_closed_form_rows(T, kind, mean, std):
    m = th.marginal_moments(DW, Noise.from_temperature(T, 0.05), kind)
    assert m["mean_abs_theta1"] == pytest.approx(mean, rel=0.02)
    assert m["std_abs_theta1"] == pytest.approx(std, rel=0.02)
    # Var θ2 = E[T g/2]; exactly T g(0)/2 = 0.005 in the limit of a narrow peak at 0
    if T == 0.01:
        assert m["var_theta2"] == pytest.approx(0.005, rel=1e-3)


def test_effective_and_sgd_loss_closed_forms():
    x = np.linspace(-1.2, 1.2, 25)
    T = 0.03
    np.testing.assert_allclose(th.sgd_loss(DW, T, x, "constant"), T * DW.g(x) ** 2 / 8, rtol=1e-12)
    # L_eff = −T_eff ln P1 for the constant-D marginal (S23) up to a constant
    lp = th.log_marginal_theta1(DW, T, x, "constant")
    leff = th.effective_loss(DW, T, x, "constant")
    np.testing.assert_allclose(leff + th.effective_temperature(DW, T) * lp,
                               (leff + th.effective_temperature(DW, T) * lp)[0], rtol=1e-9, atol=1e-15)
    # anisotropy: constant D gives g²/ε²; landscape at the bottom θ1 = 0 gives
    # (g² + 0)/(ε² + ε g'' T g/2 + ¾ g''² (T g/2)²) exactly
    assert th.anisotropy(DW, T, 0.0, "constant") == pytest.approx(1e4)
    s2 = 0.5 * T
    assert float(th.anisotropy(DW, T, 0.0)) == pytest.approx(1 / (1e-4 + 0.01 * -2 * s2 + 0.75 * 4 * s2 * s2))


# ---------------------------------------------------------------- transition

def test_default_critical_temperatures():
    assert th.critical_temperature_constant(DW) == pytest.approx(0.02, rel=1e-14)
    assert th.critical_temperature_landscape(DW) == pytest.approx(0.0218, rel=2e-3)
    assert th.critical_temperature_landscape(Landscape.from_preset("single-well")) == math.inf
    assert th.critical_temperature_landscape(Landscape.from_preset("degenerate")) == 0.0


@pytest.mark.parametrize("eps", [1e-2, 1e-3, 1e-4])
def test_critical_temperature_three_ways_agree_as_eps_to_0(eps):
    land = Landscape(1.0, -1.0, 0.5, eps)
    tc_const = th.critical_temperature_constant(land)
    tc_land = th.critical_temperature_landscape(land)
    # relative gap measured 9.1 ε, 8.1 ε, 8.0 ε: O(T_c) corrections of the Gaussian moments
    assert 0 < tc_land / tc_const - 1 < 10 * eps
    # the sign of (ln P1)''(0), by finite differences of the computed marginal
    for factor, sign in ((1 - 1e-3, -1), (1 + 1e-3, 1)):
        T = tc_land * factor
        h = 1e-2 * math.sqrt(th.effective_temperature(land, T) / eps)
        lp = th.log_marginal_theta1(land, T, np.array([-h, 0.0, h]))
        assert np.sign(lp[0] - 2 * lp[1] + lp[2]) == sign
        assert np.sign(th.log_marginal_curvature_at_origin(land, T)) == sign


def _fit_exponent(r, values):
    return float(np.polyfit(np.log(r), np.log(values), 1)[0])


@pytest.mark.parametrize("kind", ["landscape", "constant"])
def test_critical_exponent_beta(kind):
    tc = th.critical_temperature_landscape(DW) if kind == "landscape" else th.critical_temperature_constant(DW)
    r = np.geomspace(1e-3, 1e-1, 6)
    dF = np.array([th.flatness_at_mode(DW, tc * (1 + ri), kind) for ri in r]) - DW.flatness(0.0)
    beta = _fit_exponent(r, dF)  # measured 0.9925 (landscape), 0.9907 (constant)
    assert beta == pytest.approx(1.0, abs=0.05)
    assert th.mode_theta1(DW, tc * (1 - 1e-3), kind) == 0.0


@pytest.mark.parametrize("kind", ["landscape", "constant"])
def test_critical_exponent_gamma_both_sides(kind):
    # a small ε keeps the noise rounding of the transition (width ∝ T_eff) well
    # inside the fitted range |T − T_c|/T_c = 0.01 … 0.1
    land = Landscape(1.0, -1.0, 0.5, 1e-5)
    tc = th.critical_temperature_landscape(land) if kind == "landscape" else th.critical_temperature_constant(land)
    r = np.geomspace(0.01, 0.1, 5)
    for side in (-1, 1):
        taus = [th.search_time(land, tc * (1 + side * ri), kind)["search_time"] for ri in r]
        gamma = -_fit_exponent(r, taus)  # measured 1.002 / 0.952 (landscape), 1.000 / 0.985 (constant)
        assert gamma == pytest.approx(1.0, abs=0.1), (side, gamma)


# ---------------------------------------------------------------- first passage

def test_first_passage_formula_against_simulation_of_the_same_sde():
    """Escape from the unstable origin above T_c: noise-driven, then drift.

    A is odd and B even, so |θ1| of the free process is the process reflected
    at 0; Euler–Maruyama with dt = 0.05, 3000 seeded paths: its bias is ≈ +1 %
    (two seeds; +1.8 % at dt = 0.1 over four seeds), allowed for beside 3 SE.
    """
    T, target = 0.05, 0.3
    tau = th.mean_first_passage_time(DW, T, 0.0, target, 0.0)
    rng = np.random.default_rng(20261126)
    n, dt = 3000, 0.05
    x = np.zeros(n)
    hit = np.full(n, np.nan)
    alive = np.arange(n)
    step = 0
    while alive.size and step < 20000:
        step += 1
        xa = x[alive]
        xa = (xa + th.slow_drift(DW, T, xa) * dt
              + np.sqrt(2 * th.slow_diffusion(DW, T, xa) * dt) * rng.standard_normal(xa.size))
        x[alive] = xa
        done = np.abs(xa) >= target
        hit[alive[done]] = step * dt
        alive = alive[~done]
    assert alive.size == 0
    mean, se = hit.mean(), hit.std() / math.sqrt(n)
    # measured: formula 183.81, simulation 184.52 ± 1.93 (this seed)
    assert abs(mean - tau) < 3 * se + 0.01 * tau, (mean, se, tau)
    assert 150 < tau < 220


def test_search_time_against_simulation_below_T_c():
    """The default search (θ1* + 3σ* into θ1* + σ*) of the constant-D process
    at T = 0.01: dθ1 = −(ε θ1 + T g g'/4) dt + sqrt(2 T_eff) dW, Euler–Maruyama
    with dt = 0.25 (k dt ≈ 0.001), 4000 seeded paths; the reflecting end at
    θ1 = 2 is never reached.  The target is diffusive here, so a path checked
    only at the steps is caught late: the barrier is moved out by
    0.5826 sqrt(2 T_eff dt) (Broadie–Glasserman–Kou continuity correction);
    without it the simulation reads 183.1 ± 2.1 at dt = 0.5."""
    T = 0.01
    st = th.search_time(DW, T, "constant")
    assert st["mode_theta1"] == 0.0 and st["reflect"] == 2.0
    sigma = st["window"]
    assert sigma == pytest.approx(math.sqrt(th.effective_temperature(DW, T) / (DW.eps - T / 2)), rel=1e-9)
    rng = np.random.default_rng(4)
    n, dt = 4000, 0.25
    x = np.full(n, st["start"])
    hit = np.full(n, np.nan)
    alive = np.arange(n)
    step = 0
    noise = math.sqrt(2 * th.effective_temperature(DW, T) * dt)
    while alive.size and step < 20000:
        step += 1
        xa = x[alive]
        xa = xa - (DW.eps * xa + 0.25 * T * DW.g(xa) * DW.dg(xa)) * dt + noise * rng.standard_normal(xa.size)
        x[alive] = xa
        done = xa <= st["target"] + 0.5826 * noise
        hit[alive[done]] = step * dt
        alive = alive[~done]
    assert alive.size == 0
    mean, se = hit.mean(), hit.std() / math.sqrt(n)
    # measured: formula 175.92, simulation 176.06 ± 1.75 (seed 4)
    assert abs(mean - st["search_time"]) < 3 * se + 0.01 * st["search_time"], (mean, se, st["search_time"])


def test_first_passage_of_pure_diffusion_and_mirror():
    # flat g, constant D: an OU process dθ = −ε θ dt + sqrt(2D) dW; over a
    # stretch where ε θ²/(2D) ≤ 1e−5 it is Brownian, τ = (b² − x0²)/(2D) with
    # a reflecting wall at 0
    flat = Landscape(1.0, 0.0, 0.0, 1e-9)
    T = 1.0
    D = th.effective_temperature(flat, T)
    b, x0 = 1e-7, 2e-8
    assert flat.eps * b * b / (2 * D) <= 1e-5
    tau = th.mean_first_passage_time(flat, T, x0, b, 0.0, kind="constant")
    assert tau == pytest.approx((b * b - x0 * x0) / (2 * D), rel=1e-4)
    mirrored = th.mean_first_passage_time(flat, T, -x0, -b, 0.0, kind="constant")
    assert mirrored == pytest.approx(tau, rel=1e-9)
    with pytest.raises(ModelError, match="between"):
        th.mean_first_passage_time(flat, T, 2e-3, 1e-3, 0.0)


def test_search_time_in_sgd_steps():
    noise = Noise(0.05, 1.0)
    st = th.search_time(DW, noise)
    assert st["search_time_steps"] == pytest.approx(st["search_time"] / 0.05, rel=1e-14)
    assert st["target"] == pytest.approx(st["mode_theta1"] + st["window"])
    from_origin = th.search_time(DW, noise, start=0.0)
    assert from_origin["reflect"] == 0.0 and from_origin["search_time"] > 0


# ---------------------------------------------------------------- divergence, adiabatic

def test_stability_boundaries_exact_for_flat_g():
    flat = Landscape(1.0, 0.0, 0.0, 0.01)  # ⟨g⟩ = 1, g' = 0: α < 2 whatever Δ
    for cond in ("first-order", "second-order"):
        assert th.delta_max(flat, 1.5, cond) == math.inf
        assert th.delta_max(flat, 2.5, cond) == 0.0
    assert th.delta_max(flat, 1.5, "heavy-tail") == math.inf


def test_large_alpha_is_stable_only_once_noise_reaches_flatter_points():
    # α = 2.5 > 2/g(0): first-order unstable at the global minimum, stable in
    # phase II where ⟨g⟩ ≈ 0.6–0.72 (the closed-form P1 stops broadening)
    d_min, d_max = th.stable_delta_range(DW, 2.5, "first-order")
    assert d_max == math.inf
    T_min = 2.5 * d_min
    assert th.critical_temperature_constant(DW) < T_min < 0.05
    m = th.marginal_moments(DW, T_min)
    assert 2.5 * m["mean_g"] == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("condition", ["first-order", "second-order", "heavy-tail"])
def test_delta_max_is_a_root_of_the_margin(condition):
    # the closed-form P1 saturates as T grows (A and B both ∝ T²): ⟨g⟩ of this
    # single well rises from 1.000 to 1.074, so α = 1.9 crosses α⟨g⟩ = 2; the
    # heavy-tail index at the double well's mode passes 1 between T = 1 and 3
    alpha = 1.9 if condition == "first-order" else 0.5
    land = DW if condition == "heavy-tail" else Landscape(1.0, 1.0, 1.0, 0.01)
    dmax = th.delta_max(land, alpha, condition)
    assert 0 < dmax < math.inf
    below = th.stability_margin(land, Noise(alpha, dmax * 0.98), condition)
    above = th.stability_margin(land, Noise(alpha, dmax * 1.02), condition)
    assert below < 0 < above
    assert abs(th.stability_margin(land, Noise(alpha, dmax), condition)) < 1e-6


def test_adiabatic_ratio():
    # at θ1 = 0: |ε + ½ g''(0) T g(0)/2| / g(0) = |0.01 − T/2|
    for T in (0.01, 0.05):
        assert float(th.adiabatic_ratio(DW, T, 0.0)) == pytest.approx(abs(0.01 - T / 2), rel=1e-12)
    tau2, tau1 = th.time_scales(DW, 0.02, 0.0)  # ε + ½ g'' s2 = 0: τ1 infinite
    assert float(tau2) == 1.0 and float(tau1) == math.inf
