"""docs/model.md §9, the closed forms for m fast directions: m = 1 against the
two-variable closed forms of §5, T_c(m) exactly, the m = 2 numbers of §9, and the
k = 2 reduced model against the k = 1 closed forms on its axis."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest

from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Landscape, Noise
from fpsolve.theory import nvalley as tn
from fpsolve.theory import valley as th
from fpsolve.tools.errors import InputError

MIXED = NValley(eps=0.01, a0=[1.0, 1.2, 0.8], a2=[-1.0, 0.3, -0.8], a4=[0.5, 0.1, 0.4])


@pytest.mark.parametrize("preset", ["double-well", "single-well", "degenerate"])
@pytest.mark.parametrize("T", [0.01, 0.05])
def test_one_direction_equals_the_two_variable_closed_forms(preset, T):
    land = Landscape.from_preset(preset)
    nv = NValley.from_landscape(land, 1)
    x = np.linspace(-1.8, 1.8, 101)
    np.testing.assert_allclose(tn.slow_drift(nv, T, x), th.slow_drift(land, T, x), rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(tn.slow_diffusion(nv, T, x), th.slow_diffusion(land, T, x), rtol=1e-12)
    np.testing.assert_allclose(tn.slow_diffusion_derivative(nv, T, x), th.slow_diffusion_derivative(land, T, x),
                               rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(tn.log_marginal_x(nv, T, x), th.log_marginal_theta1(land, T, x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tn.heavy_tail_index(nv, T, x)[:, 0], th.heavy_tail_index(land, T, x), rtol=1e-15)
    np.testing.assert_allclose(tn.adiabatic_ratio(nv, T, x)[:, 0], th.adiabatic_ratio(land, T, x), rtol=1e-12)
    assert tn.critical_temperature_constant(nv) == th.critical_temperature_constant(land)
    assert tn.log_marginal_curvature_at_origin(nv, T) == pytest.approx(
        th.log_marginal_curvature_at_origin(land, T), rel=1e-12)
    kinds = ("landscape", "constant") if land.eps > 0 else ("landscape",)
    for kind in kinds:
        two, mine = th.marginal_moments(land, T, kind), tn.marginal_moments(nv, T, kind)
        for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "mode_theta1", "flatness_at_mode"):
            # std = sqrt(E x² − mean²) loses (mean/std)² ≈ 5e3 ulps to cancellation at T = 0.05
            rel = 1e-10 if key == "std_abs_theta1" else 1e-12
            assert mine[key] == pytest.approx(two[key], rel=rel, abs=1e-300), key
        assert mine["var_y"][0] == pytest.approx(two["var_theta2"], rel=1e-12)
        assert mine["var_y_exact"][0] == pytest.approx(two["var_theta2_exact"], rel=1e-12)
        for key in ("mean_g", "mean_g2", "mean_dg2"):
            assert mine[key][0] == pytest.approx(two[key], rel=1e-12), key
    # the search time: 2-D peak widths are central differences of the slope (h = 1e-5 x*),
    # good to about 1e-11, so the search numbers agree to that
    noise = Noise.from_temperature(T, 0.05)
    two, mine = th.search_time(land, noise), tn.search_time(nv, noise)
    for key in ("search_time", "search_time_steps", "start", "target", "window"):
        assert mine[key] == pytest.approx(two[key], rel=3e-11), key
    assert tn.mean_first_passage_time(nv, T, 0.1, 0.8, 0.0) == pytest.approx(
        th.mean_first_passage_time(land, T, 0.1, 0.8, 0.0), rel=1e-12)


def test_landscape_critical_temperature_is_the_exact_root():
    land = Landscape.from_preset("double-well")
    nv = NValley.from_landscape(land, 1)
    T_c = tn.critical_temperature_landscape(nv)
    # two-variable value fits its cubic through 4 samples: 1.2e-12 from the root
    assert T_c == pytest.approx(th.critical_temperature_landscape(land), rel=2e-12)
    for valley in (nv, NValley.from_landscape(land, 10), MIXED):
        c = [Fraction(v) for v in tn.origin_condition_coefficients(valley)]
        T = Fraction(tn.critical_temperature_landscape(valley))
        f = sum(ci * T ** i for i, ci in enumerate(c))
        df = sum(i * ci * T ** (i - 1) for i, ci in enumerate(c) if i)
        assert abs(float(f / df / T)) < 1e-14                      # Newton step from the root
        # the coefficients are A'(0) − B''(0) of the polynomial A and B
        t = 0.037
        A, B, dB = tn._process(valley, t)
        assert float(np.polynomial.Polynomial([float(v) for v in c])(t)) == pytest.approx(
            A.deriv()(0.0) - dB.deriv()(0.0), rel=1e-13)


def test_critical_temperature_against_dimension():
    table = {}
    for m in (1, 2, 5, 10, 100, 1000):
        nv = NValley.from_preset("double-well", fast_directions=m)
        table[m] = (tn.critical_temperature_constant(nv), tn.critical_temperature_landscape(nv))
        assert table[m][0] == pytest.approx(0.02 / m, rel=1e-15)   # T_c(m) = T_c(1)/m
    lands = [table[m][1] for m in table]
    ratios = [table[m][1] / table[m][0] for m in table]
    assert lands == sorted(lands, reverse=True)                    # falls with m ...
    assert ratios == sorted(ratios, reverse=True)                  # ... and the landscape excess shrinks
    assert ratios[0] == pytest.approx(1.0908733, abs=1e-7)
    assert ratios[1] == pytest.approx(1.0425314, abs=1e-7)
    assert ratios[-1] == pytest.approx(1.0000800, abs=1e-7)
    # mixed directions: a sharpening direction (a2 > 0) pushes back
    assert tn.critical_temperature_constant(MIXED) == pytest.approx(0.02 / (1.0 - 0.36 + 0.64), rel=1e-15)
    assert math.isinf(tn.critical_temperature_constant(NValley.from_preset("single-well", fast_directions=3)))
    assert math.isinf(tn.critical_temperature_landscape(NValley.from_preset("single-well", fast_directions=3)))
    assert tn.critical_temperature_landscape(NValley.from_preset("degenerate", fast_directions=3)) == 0.0


def test_two_identical_directions_at_T_005():
    """docs/model.md §9: the closed form gives mean |x| 0.798, mode 0.832 (m = 2, T = 0.05)."""
    nv = NValley.from_preset("double-well", fast_directions=2)
    mom = tn.marginal_moments(nv, 0.05)
    assert mom["mean_abs_theta1"] == pytest.approx(0.797734, abs=2e-6)
    assert mom["mode_theta1"] == pytest.approx(0.831787, abs=2e-6)
    assert mom["std_abs_theta1"] == pytest.approx(0.084110, abs=2e-6)
    assert mom["var_y"] == pytest.approx([0.0142949] * 2, abs=2e-7)   # MC 0.01391 (lowest order)
    # the mode solves A = B'
    x = mom["mode_theta1"]
    assert tn.slow_drift(nv, 0.05, x) == pytest.approx(tn.slow_diffusion_derivative(nv, 0.05, x), abs=1e-12)


def test_mixed_directions_divergence_and_predictions():
    noise = Noise.from_temperature(0.05, 0.5)
    p = tn.predictions(MIXED, noise)
    assert p["fast_directions"] == 3 and len(p["var_y"]) == 3
    d = p["divergence"]
    x = p["mode_theta1"]
    g, g1 = MIXED.g(x), MIXED.dg(x)
    np.testing.assert_allclose(d["heavy_tail_index"], 0.05 * g1 ** 2 / (2 * g), rtol=1e-14)
    np.testing.assert_allclose(d["first_order"], 0.5 * np.array(p["mean_g"]) - 2, rtol=1e-14)
    assert d["worst_direction"] == int(np.argmax(p["mean_g"]))
    # per-direction variances: (T/2) <g_i> from the marginal, checked by quadrature
    grid = np.linspace(-2, 2, 40001)
    P = tn.marginal_x(MIXED, 0.05, grid)
    for i in range(3):
        ref = np.trapz(P * 0.025 * MIXED.g(grid)[:, i], grid)
        assert p["var_y"][i] == pytest.approx(ref, rel=1e-6)
    assert p["search_time"] > 0 and p["search_time_steps"] == pytest.approx(p["search_time"] / 0.5)


def test_reduced_two_slow_coordinates_on_its_axis_is_the_one_slow_closed_form():
    nv = NValley.from_preset("double-well", fast_directions=3, a0=[1.0, 1.0, 1.2])
    noise = Noise.from_temperature(0.05, 0.05)
    model = tn.reduced_model(nv, noise)
    x = np.linspace(-1.5, 1.5, 13)
    y = np.zeros_like(x)
    gx, gy = model.evaluate("gradient", x, y)
    np.testing.assert_allclose(-gx, tn.slow_drift(nv, 0.05, x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gy, 0.0, atol=1e-15)
    d11, d12, d22 = model.evaluate("diffusion", x, y)
    np.testing.assert_allclose(d11, tn.slow_diffusion(nv, 0.05, x), rtol=1e-12)
    np.testing.assert_allclose(d12, 0.0, atol=1e-15)
    # rotational symmetry: the same B along the diagonal, rotated
    r = x / math.sqrt(2)
    e11, e12, e22 = model.evaluate("diffusion", r, r)
    np.testing.assert_allclose(e11 + e22, d11 + d22, rtol=1e-12)
    np.testing.assert_allclose(e11 - e12, d22, rtol=1e-10, atol=1e-15)


def test_bad_inputs():
    nv = NValley.from_preset(fast_directions=2)
    with pytest.raises(InputError, match="T > 0"):
        tn.marginal_moments(nv, 0.0)
    with pytest.raises(InputError, match="marginal kind"):
        tn.mode_x(nv, 0.05, "flat")
    with pytest.raises(InputError, match="eps > 0"):
        tn.marginal_moments(NValley.from_preset("degenerate", fast_directions=2), 0.05, "constant")


def test_theory_script_with_fast_directions(tmp_path):
    from conftest import run_script

    out = tmp_path / "m3"
    res = run_script("theory.py", "--fast-directions", "3", "--a0=1,1.2,0.8", "--a2=-1,0.3,-0.8",
                     "--a4=0.5,0.1,0.4", "--T", "0.03", "--out", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "theory.json").read_text())
    assert data["fast_directions"] == 3 and data["valley"]["a0"] == [1.0, 1.2, 0.8]
    pred = tn.predictions(MIXED, Noise.from_temperature(0.03, 0.05), 2.0)
    for key in ("T_c_constant", "T_c_landscape", "mode_theta1", "mean_abs_theta1", "search_time"):
        assert data[key] == pytest.approx(pred[key], rel=1e-12), key
    assert data["var_y"] == pytest.approx(pred["var_y"], rel=1e-12)
    assert "mean |x|" in res.stdout
    for args, message in (
        (["--fast-directions", "0"], "--fast-directions must be an integer in"),
        (["--fast-directions", "2.5"], "invalid int value"),
        (["--fast-directions", "3", "--a0", "1,2"], r"--a0 needs 1 or m = 3 values \(one per fast direction\), got 2"),
        (["--fast-directions", "2", "--a2=-1,-3"], r"g_1\(x\) = -3.5 <= 0 at x = 1.73205"),
        (["--fast-directions", "2", "--noise", "isotropic"], "need --noise sgd"),
        (["--fast-directions", "2", "--loss", "x**2+y**2"], "does not take --loss"),
        (["--a0", "1,2"], "--a0 1,2 is a comma list of 2 values: it needs --fast-directions 2"),
    ):
        bad = tmp_path / "bad"
        res = run_script("theory.py", *args, "--out", str(bad))
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
        assert re.search(message, res.stderr), (message, res.stderr)
        assert not bad.exists()


def test_first_passage_extrapolation_is_converged():
    # Richardson on the bisected grid (docs/numerics.md): fourth order, so the default
    # 2001 points per family agree with 4x as many to far below the former rule's 3e-8
    # (measured 3e-11 against the converged value at m = 10, T = 0.01)
    nv = NValley.from_preset("double-well", fast_directions=10)
    st = tn.search_time(nv, 0.01)
    args = (nv, 0.01, st["start"], st["target"], st["reflect"])
    assert tn.mean_first_passage_time(*args) == pytest.approx(tn.mean_first_passage_time(*args, points=8001), rel=1e-9)
    assert st["search_time"] == pytest.approx(18.4219, rel=1e-5)   # tests/test_nvalidate.py's closed form
