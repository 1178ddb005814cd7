"""Any two-variable model (docs/model.md §7) checked against exact answers:
the preset written as an expression, the Gibbs density of isotropic noise,
a rotated valley, a constant-Σ Ornstein-Uhlenbeck process and the two-layer
linear net (FEM vs SDE twin)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fpsolve.model import exact as gibbs
from fpsolve.mc import ensemble as montecarlo
from fpsolve.fem import stationary as solver
from fpsolve.model.valley import Landscape, Noise
from fpsolve.model.expression import Model
from fpsolve.validation.report import Report

#: docs/model.md §6 / docs/numerics.md converged FEM values of the default preset at T = 0.05 (full D).
PRESET_T005 = {"mean_abs_theta1": 0.6318, "std_abs_theta1": 0.06508, "var_theta2": 0.01686}
CURVED = "2.5*(theta2 - theta1**2 + 0.5)**2 + 0.25*theta1**2"
MOMENT_KEYS = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2", "mean_theta2")


def test_preset_as_expression_gives_the_preset_fem_moments():
    """Same graded mesh (valley recognised), UFL from sympy vs from model.py: moments to 1e-8
    (measured 1e-15 on the coarse mesh used here)."""
    land, noise = Landscape.from_preset("double-well"), Noise.from_temperature(0.05, 0.05)
    a = solver.solve(land, noise, refine=0.5).summary
    m = Model.from_expression("0.5*(1 - x**2 + 0.5*x**4)*y**2 + 0.005*x**2", T=0.05)
    b = solver.solve(m, refine=0.5).summary
    assert a["dofs"] == b["dofs"]
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "var_theta1", "escape_rate_flux"):
        assert abs(a[key] - b[key]) < 1e-8, key
    assert b["case"]["model"]["loss"].startswith("0.5*(1 - x**2")


@pytest.mark.parametrize("method, kw, noise", [
    ("sgd", {}, "sgd"),
    ("sgd", {"shift": "exact"}, "sgd"),
    ("sde", {"dt": 0.01}, "sgd"),
    ("sde", {"dt": 0.01}, "sgd-diagonal"),
])
def test_preset_as_expression_gives_the_preset_monte_carlo_numbers(method, kw, noise):
    """Same seed, same streams: the generated kernel reproduces the preset kernel to round-off."""
    land, nz = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    cross = noise == "sgd"
    a = montecarlo.run(land, nz, method=method, cross=cross, walkers=256, time=40.0, seed=11, **kw)
    # the preset as a Model takes the valley's kernels by default; kernels="generated" the generated ones
    b = montecarlo.run(Model.preset("double-well", noise=noise, alpha=0.05, Delta=1.0), method=method,
                       walkers=256, time=40.0, seed=11, kernels="generated", **kw)
    assert np.max(np.abs(a.final - b.final)) < 1e-10
    assert np.array_equal(a.hist, b.hist) and np.array_equal(a.status, b.status)
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2"):
        assert abs(a.summary[key] - b.summary[key]) < 1e-12


def test_isotropic_curved_valley_fem_equals_gibbs_density():
    """Reflecting disk: the FEM null vector is exp(-2L/T) (docs/model.md §7); moments within 1e-3
    (measured within 3e-6 on this h = 0.1 mesh)."""
    m = Model.from_expression(CURVED, noise="isotropic", T=0.1)
    exact = gibbs.moments(m)
    assert exact["mean_theta2"] == pytest.approx(-0.4000, abs=1e-3)  # the valley floor y = x² - 0.5
    s = solver.solve(m, wall="reflecting", h_min=0.1).summary
    for key in MOMENT_KEYS:
        assert abs(s[key] - exact[key]) < 1e-3, (key, s[key], exact[key])
    assert s["negative_mass"] < 1e-4 and s["warnings"] == []


def test_isotropic_curved_valley_sde_within_3_se_of_gibbs():
    m = Model.from_expression(CURVED, noise="isotropic", T=0.1)
    exact = gibbs.moments(m)
    r = montecarlo.run(m, method="sde", dt=0.0025, walkers=2000, time=60.0, burn_in=10.0, sample_interval=0.5,
                       seed=1, sample_from=(0.0, -0.5))
    assert r.summary["survival_fraction"] == 1.0
    for key in MOMENT_KEYS:
        z = (r.summary[key] - exact[key]) / r.summary[key + "_se"]
        assert abs(z) < 3, (key, r.summary[key], exact[key], z)


def _rotated_valley() -> tuple:
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    u1, u2 = f"({c!r}*theta1 + {s!r}*theta2)", f"(-{s!r}*theta1 + {c!r}*theta2)"
    expr = f"0.5*(1 - {u1}**2 + 0.5*{u1}**4)*{u2}**2 + 0.005*{u1}**2"
    return Model.from_expression(expr, noise="sgd", T=0.05), c, s


def test_rotated_valley_fem_moments_equal_the_preset():
    """θ rotated by 30°: D = (T/2) H² rotates with H, so the moments of the rotated
    coordinates are the preset's (0.6318 / 0.06508 / 0.01686) within 1e-3."""
    m, c, s = _rotated_valley()
    assert m.valley is None
    sol = solver.solve(m, radius=1.2, h_min=0.03)  # the density lives in |u1| < 0.9
    x, y, w, p = sol.quadrature_samples()
    u1, u2 = c * x + s * y, -s * x + c * y
    mass = np.sum(w * p)
    mean_abs = np.sum(w * p * np.abs(u1)) / mass
    std_abs = math.sqrt(np.sum(w * p * u1 * u1) / mass - mean_abs ** 2)
    var2 = np.sum(w * p * u2 * u2) / mass - (np.sum(w * p * u2) / mass) ** 2
    got = {"mean_abs_theta1": mean_abs, "std_abs_theta1": std_abs, "var_theta2": var2}
    for key, ref in PRESET_T005.items():
        assert abs(got[key] - ref) < 1e-3, (key, got[key])


def test_rotated_valley_sde_equals_the_preset():
    """The SDE twin of the rotated valley, rotated back: mean |u1|, std |u1| and
    Var u2 equal the preset's FEM values within max(1e-3, 3 SE) (walkers are the
    independent units; |u1| from snapshots every 5 time units after the burn-in)."""
    m, c, s = _rotated_valley()

    def start(index: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(5)
        a = np.where(rng.random(len(index)) < 0.5, -0.632, 0.632) + 0.06 * rng.standard_normal(len(index))
        b = 0.13 * rng.standard_normal(len(index))
        return np.column_stack([c * a - s * b, s * a + c * b])

    times = np.arange(30.0, 150.01, 5.0)
    r = montecarlo.run(m, method="sde", dt=0.01, walkers=1000, time=150.0, burn_in=30.0, sample_interval=1.0,
                       seed=7, sample_from=start, snapshot_times=times)
    assert r.summary["survival_fraction"] == 1.0
    pos = np.stack([r.snapshots[t] for t in sorted(r.snapshots)])  # (snapshots, walkers, 2)
    u1 = np.abs(c * pos[..., 0] + s * pos[..., 1])
    u2 = -s * pos[..., 0] + c * pos[..., 1]
    n = u1.shape[1]

    def pooled(values: np.ndarray) -> tuple:
        per_walker = values.mean(axis=0)
        return float(per_walker.mean()), float(per_walker.std(ddof=1) / math.sqrt(n))

    m1, se1 = pooled(u1)
    m2, se2 = pooled(u1 * u1)
    v2, se_v2 = pooled(u2 * u2)
    std1 = math.sqrt(m2 - m1 * m1)
    se_std = math.hypot(se2, 2 * m1 * se1) / (2 * std1)  # delta method, errors taken as independent
    for got, se, key in ((m1, se1, "mean_abs_theta1"), (std1, se_std, "std_abs_theta1"), (v2, se_v2, "var_theta2")):
        assert abs(got - PRESET_T005[key]) < max(1e-3, 3 * se), (key, got, se)


def test_constant_covariance_ou_variance_is_alpha_sigma_over_2():
    """L = ½|θ|², a constant user Σ: the SDE's stationary covariance solves
    H C + C H = 2D = α Σ, i.e. C = α Σ / 2 (exact); checks the symmetric square root."""
    m = Model.from_expression("0.5*(x**2 + y**2)", noise=("2*Delta", "0.8*Delta", "Delta"), alpha=0.05, Delta=1.0)
    r = montecarlo.run(m, method="sde", dt=0.005, walkers=2000, time=40.0, burn_in=5.0, sample_interval=0.5, seed=3)
    sm = r.summary
    for key, exact in (("var_theta1", 0.05), ("var_theta2", 0.025), ("cov_theta12", 0.02)):
        # Euler-Maruyama bias of an OU variance: σ²/(2 - dt) relative to σ²/2, i.e. +0.25 %
        assert abs(sm[key] - exact * (1 + 0.0025)) < 3 * sm[key + "_se"], (key, sm[key])
    eng = montecarlo.run(m, method="sde", dt=0.005, walkers=20, time=1.0, seed=3, engine="numpy")
    ref = montecarlo.run(m, method="sde", dt=0.005, walkers=20, time=1.0, seed=3)
    assert np.max(np.abs(eng.final - ref.final)) < 1e-12


def test_two_layer_net_fem_vs_sde_twin_and_balanced_mode():
    """½(θ1θ2 − 1)², sgd noise, T = 0.05 (validate.py's quick settings): TV within 2x the
    sampling floor; the density sits on the balanced points |θ1| = |θ2| (mode measured 0.906, 0.900)."""
    from fpsolve.validation import models as validation_model

    m = Model.from_expression("0.5*(theta1*theta2 - 1)**2", noise="sgd", T=0.05)
    res = validation_model.run_model(m, settings=validation_model.QUICK)
    assert res["tv"] <= 2 * res["tv_floor"], (res["tv"], res["tv_floor"])
    # λ0 = 0.16: the twin samples within the walkers' lifetime (burn-in 20 left
    # 689 samples, n_eff 265, and Var θ2 3.4 SE off; now about 9000, n_eff > 2000)
    assert res["burn_in"] == pytest.approx(1 / res["fem"]["escape_rate"]) and res["burn_in"] < 7
    assert res["samples"] > 5000 and res["n_eff"] > 1000, (res["samples"], res["n_eff"])
    checks = validation_model.add_model_to_report(Report("two-layer net", {}), res)
    assert [k for k, v in checks.items() if not v.agree] == []
    m1, m2 = (abs(v) for v in res["fem"]["mode"])
    assert abs(m1 - m2) < 0.03 and 0.85 < m1 < 1.0, res["fem"]["mode"]
    # on the minimum manifold θ1 θ2 = 1 near the balanced point
    assert abs(m1 * m2 - 1) < 0.2


def test_state_dependent_noise_with_a_potential_fem_equals_exp_minus_u():
    """Σ = Δ diag(2 + θ1², 1 + θ2²) on L = ½|θ|²: D⁻¹(∇L + ∇·D) is a gradient ∇U
    (separable), so P ∝ exp(−U) exactly (docs/model.md §7); U by line integration.
    FEM (reflecting) within 1e-3 of its moments (measured 2e-6)."""
    m = Model.from_expression("0.5*(x**2 + y**2)", noise=("Delta*(2 + x**2)", "0", "Delta*(1 + y**2)"), T=0.1)
    assert gibbs.closed_forms(m) == {"adiabatic": False, "exact_density": True}
    exact = gibbs.moments(m)
    s = solver.solve(m, wall="reflecting", h_min=0.1).summary
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2"):
        assert abs(s[key] - exact[key]) < 1e-3, (key, s[key], exact[key])
    # a coupled loss with the same anisotropic noise has no potential
    coupled = Model.from_expression("x**2 + 0.5*y**2 + 0.3*x*y", noise=("Delta*(2 + x**2)", "0", "Delta"), T=0.1)
    assert not gibbs.applies(coupled)
    assert not gibbs.applies(Model.from_expression("0.5*(theta1*theta2 - 1)**2", T=0.05))


def test_unresolved_custom_model_warns_about_negative_mass():
    m = Model.from_expression("0.5*(theta1*theta2 - 1)**2", noise="sgd", T=0.01)
    s = solver.solve(m, h_min=0.25).summary
    assert s["negative_mass"] > 1e-4 and "negative mass" in s["warnings"][0]


def test_a_sweep_reuses_one_derivation_and_one_kernel():
    """Numbers (constants, alpha, Delta) are arguments: one compiled kernel per canonical form."""
    from fpsolve.mc import codegen as mc_codegen

    a = Model.from_expression("k*(x**2 - 1)**2 + 0.5*y**2", {"k": 0.25}, T=0.05)
    b = Model.from_expression("k*(x**2 - 1)**2 + 0.5*y**2", {"k": 0.5}, alpha=0.1, T=0.2)
    assert a.derivation is b.derivation
    assert mc_codegen.kernels(a) is mc_codegen.kernels(b)
    ra = montecarlo.run(a, walkers=64, steps=50, seed=1, sample_from=(1.0, 0.0))
    rb = montecarlo.run(b, walkers=64, steps=50, seed=1, sample_from=(1.0, 0.0))
    assert not np.array_equal(ra.final, rb.final)  # the numbers reach the kernel
