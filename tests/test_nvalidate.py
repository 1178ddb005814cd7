"""Validation in N dimensions (issue 18, docs/model.md §9): the search time at m = 1, 2, 10
against the Monte Carlo's first passage, the exact references of an N-variable model, and
``validate.py``'s N-dimensional paths (numbers, exit status, refusals).

Measured when written (SDE, dt 0.02, 1000 walkers, full noise, target x* ± σ* on |x| from
x* + 3σ*): closed form 34.56, 15.78, 18.42 against MC 34.1 ± 0.3 (dt 0.01), 16.1 ± 0.24,
18.65 ± 0.23 for (m, T) = (1, 0.05), (2, 0.05), (10, 0.01); τ2/τ1 = 0.023, 0.072, 0.066.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpsolve.cli import validate
from fpsolve.model.expression import Model
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise
from fpsolve.validation import nreference, nvalley
from fpsolve.validation.three_way import TOL_CLOSED


@pytest.mark.parametrize("m, T", [(1, 0.05), (2, 0.05), (10, 0.01)])
def test_search_time_monte_carlo_against_the_closed_form(m, T):
    res = nvalley.search_point(NValley.from_preset(fast_directions=m), Noise.from_temperature(T, 0.05),
                               walkers=1000, dt=0.02, seed=5)
    assert res["adiabatic_ratio"] < 0.1
    assert res["censored"] <= 10
    assert 0 < res["mc_se"] < 0.03 * res["mc"]
    assert abs(res["mc"] - res["closed"]) <= 3 * res["mc_se"] + TOL_CLOSED * res["closed"], res


def test_gibbs_quadrature_reproduces_a_gaussian():
    # isotropic noise, L = ½ Σ a_j θ_j²: exp(−2L/T) is Gaussian with Var θ_j = T/(2 a_j)
    model = Model.from_expression("theta1**2/2 + theta2**2 + 1.5*theta3**2", {}, "isotropic", alpha=0.05, Delta=1.0)
    assert nreference.reference_kind(model, 2.0) == "quadratic"
    mom = nreference.gibbs_moments(model, 2.0)
    np.testing.assert_allclose(mom["var_theta"], [0.05 / 2, 0.05 / 4, 0.05 / 6], rtol=2e-3)
    assert mom["mean_abs_theta1"] == pytest.approx(np.sqrt(2 * 0.025 / np.pi), rel=2e-3)


def _run(tmp_path, argv):
    out = tmp_path / "out"
    rc = validate.main([*argv, "--out", str(out)])
    return rc, out


def test_validate_quadratic_and_gibbs_models(tmp_path):
    rc, out = _run(tmp_path, ["--loss", "theta1**2/2 + theta2**2 + theta1*theta3/2 + theta3**2", "--noise", "sgd",
                              "--quick", "--walkers", "2000"])
    s = json.loads((out / "summary.json").read_text())
    assert s["reference"] == "quadratic" and rc == 0
    var, se, ref = (np.array(v) for v in (s["monte_carlo"]["var_theta"], s["monte_carlo"]["var_theta_se"],
                                          s["exact"]["var_theta"]))
    assert np.all(np.abs(var - ref) <= 3 * se) and np.all(se < 0.05 * ref)
    rc, out = _run(tmp_path / "g", ["--loss", "theta1**4/4 - theta1**2/2 + theta2**2/2 + theta3**2",
                                    "--noise", "isotropic", "--T", "0.1", "--quick", "--walkers", "2000"])
    s = json.loads((out / "summary.json").read_text())
    assert s["reference"] == "gibbs" and rc == 0
    mc, ex = s["monte_carlo"], s["exact"]
    assert abs(mc["mean_abs_theta1"] - ex["mean_abs_theta1"]) <= 3 * mc["mean_abs_theta1_se"]
    assert (out / "report.md").is_file()


@pytest.mark.parametrize("argv, words", [
    (["--fast-directions", "0"], "--fast-directions must be >= 1"),
    (["--fast-directions", "2", "--a0=1,1,1"], "--a0 needs 1 or m = 2 values (one per fast direction), got 3"),
    (["--fast-directions", "2", "--a2=-1,-2", "--a4", "0"], "so that g > 0"),
    (["--fast-directions", "1000000"], "GiB"),
    (["--loss", "-theta1**2 - theta2**2 - theta3**2", "--noise", "isotropic"], "unbounded below"),
    (["--loss", "theta1**4 + theta2**2 + theta3**2 + theta4**2 + theta5**2", "--noise", "isotropic"],
     "no exact reference"),
])
def test_validate_n_refuses_bad_input(tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        from fpsolve.cli.common import main_guard

        main_guard(validate.main, [*argv, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
