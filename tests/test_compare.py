"""fpsolve.validation.metrics against exact values: sampling floor, folding, peaks, fits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fpsolve.validation import metrics as compare


def test_total_variation_exact():
    assert compare.total_variation([1, 0, 0], [0, 1, 0]) == pytest.approx(1.0)
    # counts are normalised: (2,2) and (1,3) -> 0.5,0.5 vs 0.25,0.75
    assert compare.total_variation([2, 2], [1, 3]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        compare.total_variation([1, 1], [1, 1, 1])


@pytest.mark.parametrize("n, p", [(10, 0.3), (1000, 0.002), (57, 0.5), (400, 0.9)])
def test_binomial_mean_abs_deviation_is_exact(n, p):
    k = np.arange(n + 1)
    exact = float(np.sum(stats.binom.pmf(k, n, p) * np.abs(k - n * p)))
    got = float(compare.binomial_mean_abs_deviation(n, np.array([p]))[0])
    assert got == pytest.approx(exact, rel=1e-10)


def test_binomial_mad_limits():
    # Gaussian limit for large n p, and 0 at p = 0 and p = 1
    n, p = 1e6, 0.3
    got = compare.binomial_mean_abs_deviation(n, np.array([p, 0.0, 1.0]))
    assert got[0] == pytest.approx(math.sqrt(2 * n * p * (1 - p) / math.pi), rel=1e-4)
    assert got[1] == 0 and got[2] == 0


def test_tv_noise_floor_matches_simulation():
    # a lumpy distribution with many nearly empty bins, as a density histogram has
    rng = np.random.default_rng(1)
    x = np.linspace(-3, 3, 40)
    p = np.exp(-x ** 2) + 1e-4
    p /= p.sum()
    n = 2000
    tvs = [compare.total_variation(p, rng.multinomial(n, p)) for _ in range(400)]
    floor = compare.tv_noise_floor(p, n)
    # the mean of 400 draws has a standard error of ~1% of the floor
    assert np.mean(tvs) == pytest.approx(floor, rel=0.03)
    # and the Gaussian shortcut overestimates where bins are nearly empty
    gauss = 0.5 * np.sum(np.sqrt(2 * p * (1 - p) / (math.pi * n)))
    assert gauss > floor


def test_effective_sample_size_sees_duplicated_samples():
    rng = np.random.default_rng(2)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    groups = 50
    iid = np.stack([rng.multinomial(400, p) for _ in range(groups)])
    n_eff, deff = compare.effective_sample_size(iid)
    assert deff == pytest.approx(1.0, abs=0.35)  # 50 groups: deff known to ~±0.2
    # each sample counted 3 times: the variance of fractions is 3x the iid one
    n_eff3, deff3 = compare.effective_sample_size(3 * iid)
    assert deff3 == pytest.approx(3 * deff, rel=1e-12)
    assert n_eff3 == pytest.approx(n_eff, rel=1e-12)
    with pytest.raises(ValueError):
        compare.effective_sample_size(iid[:3])


def test_fold_and_symmetrise():
    edges = np.linspace(-1, 1, 5)  # bins [-1,-.5,0,.5,1]
    h = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=float)
    folded, fe = compare.fold_symmetric(h, edges, axis=0)
    np.testing.assert_array_equal(fe, [0, 0.5, 1.0])
    np.testing.assert_array_equal(folded, [[3 + 5, 4 + 6], [1 + 7, 2 + 8]])
    assert folded.sum() == h.sum()
    s = compare.symmetrise(h, axes=(0,))
    np.testing.assert_array_equal(s, s[::-1])
    with pytest.raises(ValueError):
        compare.fold_symmetric(h[:3], np.linspace(-1, 0.5, 4))


def test_peak_location_and_moments():
    edges = np.linspace(0, 1, 11)
    v = np.exp(-((0.5 * (edges[1:] + edges[:-1]) - 0.62) ** 2) / 0.01)
    centre, i, half = compare.peak_location(v, edges)
    assert i == 6 and centre == pytest.approx(0.65) and half == pytest.approx(0.05)
    grid = np.linspace(-8, 12, 4001)
    dens = stats.norm.pdf(grid, loc=2.0, scale=1.5)
    m = compare.marginal_moments(dens, grid)
    assert m["mass"] == pytest.approx(1, abs=1e-6)
    assert m["mean"] == pytest.approx(2.0, abs=1e-6)
    assert m["std"] == pytest.approx(1.5, rel=1e-5)
    assert m["mode"] == pytest.approx(2.0, abs=0.005)


def test_compare_values_rules():
    v = compare.compare_values(1.05, 1.0, err=0.01, n_sigma=3)
    assert not v.agree and v.rule == "3 sigma" and v.tolerance == pytest.approx(0.03)
    v = compare.compare_values(1.05, 1.0, err=0.01, rel_tol=0.1)
    assert v.agree and v.rule == "10%"
    assert not compare.compare_values(float("nan"), 1.0, abs_tol=1e9).agree
    assert compare.compare_values(0.5, 0.0, abs_tol=0.5).agree


def test_fit_power_law_recovers_exponent_and_error():
    rng = np.random.default_rng(3)
    x = 0.02 + np.geomspace(1e-3, 1e-1, 12)
    truth = 0.8 * (x - 0.02) ** 1.0
    fits = []
    for _ in range(200):
        y = truth * np.exp(rng.normal(0, 0.05, x.size))
        fits.append(compare.fit_power_law(x, y, x0=0.02, y_err=0.05 * truth))
    k = np.array([f.exponent for f in fits])
    # unbiased, and the stated error is the scatter of the estimate (±10%)
    assert k.mean() == pytest.approx(1.0, abs=3 * k.std() / math.sqrt(k.size))
    assert np.mean([f.exponent_err for f in fits]) == pytest.approx(k.std(), rel=0.15)
    exact = compare.fit_power_law(x, truth, x0=0.02)
    assert exact.exponent == pytest.approx(1.0, abs=1e-10)
    assert exact.prefactor == pytest.approx(0.8, rel=1e-10)
    with pytest.raises(ValueError):
        compare.fit_power_law(x[:2], truth[:2], x0=0.02)


def test_fit_power_law_free_x0_finds_the_critical_point():
    x = 0.0206 + np.array([0.001, 0.002, 0.004, 0.007, 0.011, 0.016])
    y = 3.0 * (x - 0.0206) ** 1.0 * (1 + 0.1 * (x - 0.0206) / 0.016)  # mild correction to scaling
    fit, x0_err = compare.fit_power_law_free_x0(x, y, x0_bounds=(0.015, 0.0215))
    assert fit.x0 == pytest.approx(0.0206, abs=3e-4)
    assert fit.exponent == pytest.approx(1.0, abs=0.1)
    exact, _ = compare.fit_power_law_free_x0(x, 3.0 * (x - 0.0206) ** 1.25, x0_bounds=(0.01, 0.0215))
    assert exact.exponent == pytest.approx(1.25, abs=1e-6) and exact.x0 == pytest.approx(0.0206, abs=1e-8)
    with pytest.raises(ValueError):
        compare.fit_power_law_free_x0(x, y, x0_bounds=(0.015, 0.025))
