"""T_c(m) from the Monte Carlo against the closed forms, m = 1, 2, 10 (issue 18; docs/model.md §9).

The valley with m identical double-well fast directions (default preset,
ε = 0.01) has ``T_c(m) = 2ε/(m a0|a2|)`` in the constant-D limit and a
landscape-dependent T_c that is 9.1 % (m = 1), 4.3 % (m = 2) and 0.8 %
(m = 10) higher.  The Monte Carlo (SDE, dt = 0.025, walkers started from the
closed form, run lengths from its relaxation time) measures T_c by the onset
fit of :mod:`fpsolve.validation.dimension` at T = 1.2, 1.35, 1.5 T_c(m).

Measured when this test was written (one core, about 35 s): m·T_c from the
MC 0.02178 ± 0.00019, 0.02082 ± 0.00022, 0.02028 ± 0.00007 (m = 1, 2, 10):
T_c falls by a factor 10.7 over m = 1…10 and m·T_c varies by 7.4 %,
the landscape-dependent closed form's own trend (1.091, 1.043, 1.008 × 2ε/(a0|a2|)).
With the estimator's bias (the same fit of the closed form) removed, the MC
T_c is 0.2 %, 1.2 %, 1.6 % below the landscape T_c, inside the stated
tolerance: 3 standard errors or 1.25 % (the Euler–Maruyama bias −a0 dt/2) + 2 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Landscape
from fpsolve.theory import nvalley as theory
from fpsolve.tools.errors import InputError
from fpsolve.validation import dimension


@pytest.fixture(scope="module")
def sweep():
    return dimension.dimension_sweep(Landscape.from_preset("double-well"), [1, 2, 10], [1.2, 1.35, 1.5],
                                     dt=0.025, base_walkers=200, min_walkers=8, max_time=2000.0,
                                     burn_tau=1.5, window_tau=2.0, seed=7)


def test_m_times_tc_is_constant_within_the_measured_error(sweep):
    crit = {c["m"]: c for c in sweep["critical"]}
    assert set(crit) == {1, 2, 10} and all(c["fit_points"] == 3 for c in crit.values())
    mtc = np.array([crit[m]["m_T_c_mc"] for m in (1, 2, 10)])
    err = np.array([crit[m]["m_T_c_mc_err"] for m in (1, 2, 10)])
    assert np.all(err > 0) and np.all(err / mtc < 0.02)          # measured 0.9 %, 1.0 %, 0.3 %
    # the trend: T_c(m) ∝ 1/m, m·T_c constant within 10 % (measured 7.4 %) while T_c changes ×10
    assert mtc.max() / mtc.min() - 1 < 0.10
    assert crit[1]["T_c_mc"] / crit[10]["T_c_mc"] == pytest.approx(10.0, rel=0.10)
    # ... and the residual trend is the landscape-dependent correction's, which falls with m
    assert mtc[0] > mtc[1] > mtc[2] > 0.0199
    for m in (1, 2, 10):
        c = crit[m]
        tol = max(3 * c["T_c_mc_corrected_err"], (0.0125 + 0.02) * c["T_c_landscape"])
        assert abs(c["T_c_mc_corrected"] - c["T_c_landscape"]) < tol, (m, c)
        assert c["T_c_constant"] == pytest.approx(0.02 / m, rel=1e-12)


def test_sweep_rows_are_relaxed_and_near_the_closed_form(sweep):
    for row in sweep["rows"]:
        assert row["relaxed"] and row["survival_fraction"] == 1.0
        # lowest-order closed form: the MC mean |x| lies 1-11 % above it at m = 1, 2 %-6 % at m = 10
        assert 0.0 < row["mc_mean_abs"] / row["cf_mean_abs"] - 1 < 0.12, row


def test_onset_fit_recovers_an_exact_line():
    T = np.array([1.2, 1.5, 2.0]) * 0.02
    y = 0.3 * (1 / 0.021 - 1 / T)               # mean|x|² = c (1/T_c − 1/T), T_c = 0.021
    fit = dimension.onset_fit(T, np.sqrt(y), np.full(3, 1e-3))
    assert fit["T_c"] == pytest.approx(0.021, rel=1e-12) and fit["T_c_err"] > 0
    with pytest.raises(InputError, match="at least two"):
        dimension.onset_fit([0.02], [0.1])
    with pytest.raises(InputError, match="does not rise"):
        dimension.onset_fit([0.02, 0.03], [0.3, 0.2])


def test_relaxation_time_is_one_over_the_drift_slope_below_tc():
    valley = NValley.from_preset("double-well", fast_directions=10)
    T = 0.5 * theory.critical_temperature_constant(valley)
    # below T_c: A'(0) = −ε (1 − T/T_c(m)); the closed form's Var/B(0) equals 1/|A'(0)| to the
    # size of the landscape-dependent terms (0.2 % here)
    assert dimension.relaxation_time(valley, T) == pytest.approx(1 / (0.01 * 0.5), rel=0.005)


def test_bad_input_is_refused():
    L = Landscape.from_preset("double-well")
    with pytest.raises(InputError, match="fast directions"):
        dimension.dimension_sweep(L, [0], [1.5])
    with pytest.raises(InputError, match="T/T_c"):
        dimension.dimension_sweep(L, [1], [0.0])
    with pytest.raises(InputError, match="no flatness transition"):
        dimension.dimension_sweep(Landscape.from_preset("single-well"), [1], [1.5])
    assert math.isinf(theory.critical_temperature_constant(NValley.from_preset("single-well")))
