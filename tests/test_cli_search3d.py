"""``search_time.py`` in three variables (issue 19; docs/commands.md, *search_time.py*).

* the valley with two fast directions (default g, T = 0.05, sgd noise) on the
  coarse graded ball (``--h-min 0.15 --h-max 0.5``: 27k P2 dofs, about 15 s)
  with ``--committor``: every output is written; τ at the start against the
  1-D formula and its fast-conditional average against the Monte Carlo
  (the numbers and tolerances of tests/test_backward3d.py); τ vanishes on
  the target slab of tau_theta1.csv;
* a separable 3-variable ``--loss`` (k θ1²/2 + θ2² + θ3², isotropic noise,
  T = 0.1, reflecting ball of radius 1.5, uniform ``--h-min 0.2``) into the
  slab ``|θ1| ≤ 0.2`` from (0.8, 0, 0): θ1 is a 1-D Ornstein-Uhlenbeck
  process, τ = ∫_a^x0 (∫_y^R p)/(d p(y)) dy, p = exp(−k y²/2d), d = T/2
  (1.114554 by quadrature; measured 1.11407 at h 0.2, 15.5k dofs, 4.3e-4;
  1.11442 at h 0.15, 32k dofs, 1.2e-4; asserted within 1e-3);
* bad input: exit 2, one line naming the value, nothing written.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import scipy.integrate

from conftest import assert_refused, run_script

MC_REFERENCE = 15.62  # ± 0.07, the Monte Carlo corrected for its step (tests/test_backward3d.py)


def test_valley_search_time_in_3d_writes_every_output(tmp_path):
    out = tmp_path / "search"
    res = run_script("search_time.py", "--fast-directions", "2", "--T", "0.05", "--h-min", "0.15", "--h-max", "0.5",
                     "--committor", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert {"summary.json", "tau_theta1.csv", "tau.png", "tau.xdmf", "tau.h5", "committor.xdmf",
            "committor.h5"} <= {p.name for p in out.iterdir()}
    s = json.loads((out / "summary.json").read_text())
    assert s["variables"] == 3 and s["target"]["kind"] == "slab" and s["target_default"]
    assert s["search_time"] == pytest.approx(s["search_time_1d"], rel=0.02)
    assert s["tau_conditional"] == pytest.approx(MC_REFERENCE, rel=0.02)
    assert s["search_time_steps"] == pytest.approx(s["search_time"] / 0.05, rel=1e-12)
    assert 0.9 < s["committor_at_start"] < 1.0  # the ball's wall is far behind the start
    assert s["mfpt_options_in_effect"]["pc_factor_mat_solver_type"] == "mumps"
    assert "search time at" in res.stdout and "1-D formula 15.778" in res.stdout
    rows = list(csv.DictReader((out / "tau_theta1.csv").open()))
    x = np.array([float(r["theta1"]) for r in rows])
    tau = np.array([float(r["tau_fem"]) for r in rows])
    lo, hi = s["target"]["numbers"]
    inside = (np.abs(x) >= lo) & (np.abs(x) <= hi)
    assert inside.any() and np.all(np.abs(tau[inside]) < 1e-10) and np.all(tau[~inside] > 0)


def test_three_variable_loss_into_a_slab_is_the_1d_ou_passage_time(tmp_path):
    k, T, a, x0, R = 1.0, 0.1, 0.2, 0.8, 1.5
    d = T / 2
    p = lambda y: math.exp(-k * y * y / (2 * d))  # noqa: E731
    exact = scipy.integrate.quad(lambda y: scipy.integrate.quad(p, y, R)[0] / (d * p(y)), a, x0,
                                 epsabs=1e-13, epsrel=1e-12)[0]
    out = tmp_path / "ou"
    res = run_script("search_time.py", "--loss", "k*theta1**2/2 + theta2**2 + theta3**2", "--param", "k=1",
                     "--noise", "isotropic", "--T", str(T), "--radius", str(R), "--h-min", "0.2",
                     "--target-theta1", "0", str(a), "--start", str(x0), "0", "0", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["search_time"] == pytest.approx(exact, rel=1e-3)
    assert s["case"]["kind"] == "expression" and "search_time_1d" not in s and "tau_conditional" not in s
    assert s["warnings"] == [] and s["tau_range"][0] >= -1e-3 * s["tau_range"][1]  # resolved: silent


def test_coarse_absorbing_search_warns_of_fields_out_of_range(tmp_path):
    """The coarse ball (h_min/h_max 0.2/0.6, 15k dofs) with an absorbing wall: the nodal committor
    spans −0.165 … 2.09 and τ −4.25 … 116 (measured): one warning each, on stderr and in
    summary.json beside the ranges; tau_1d (the reflecting-wall formula) is labelled as such."""
    out = tmp_path / "coarse"
    res = run_script("search_time.py", "--fast-directions", "2", "--T", "0.05", "--h-min", "0.2", "--h-max", "0.6",
                     "--committor", "--wall", "absorbing", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["committor_range"][0] < -0.1 and s["committor_range"][1] > 1.5
    assert s["tau_range"][0] < -0.01 * s["tau_range"][1]
    assert len(s["warnings"]) == 2 and all("--h-min/--h-max" in w for w in s["warnings"])
    assert "search_time.py: warning: committor ranges" in res.stderr
    assert "search_time.py: warning: mean first-passage time tau ranges" in res.stderr
    assert "reflecting" in s["profile_tau_1d"] and "absorbing" in s["profile_tau_1d"]


def test_a_target_of_few_mesh_nodes_warns(tmp_path):
    """A target ball of radius 0.05 on the valley floor at θ1 = 0.83 holds 3 mesh nodes of the coarse
    ball: warned (backward.MIN_TARGET_DOFS = 20), naming --h-min, the size that refines on the floor."""
    out = tmp_path / "small"
    res = run_script("search_time.py", "--fast-directions", "2", "--T", "0.05", "--h-min", "0.2", "--h-max", "0.6",
                     "--start", "1.3", "0", "0", "--target-ball", "0.83", "0", "0", "0.05", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert 0 < s["mfpt_target_dofs"] < 20
    assert any("target holds only" in w and "--h-min" in w for w in s["warnings"])
    assert "search_time.py: warning: the target holds only" in res.stderr


@pytest.mark.parametrize("args, words", [
    (["--fast-directions", "2", "--target", "0.8", "0", "0.1", "0.1"], "not yet supported in 3-D"),
    (["--fast-directions", "2", "--target-theta1", "1", "0.5"], "--target-theta1 1 0.5: must satisfy 0 <= LO < HI"),
    (["--fast-directions", "2", "--target-theta1", "2.5", "3"], "lies outside the ball"),
    (["--fast-directions", "2", "--target-box", "0", "0", "0", "1", "-1", "1"], "half-widths must be > 0"),
    (["--fast-directions", "2", "--target-ball", "0", "0", "0", "9"], "covers the whole ball"),
    (["--fast-directions", "2", "--target-theta1", "0.5", "1", "--target-ball", "0", "0", "0", "0.1"],
     "give one target"),
    (["--fast-directions", "2", "--start", "1", "0"], "--start must be three finite numbers"),
    (["--fast-directions", "2", "--start", "3", "0", "0"], "must lie inside the ball"),
    (["--fast-directions", "2", "--center", "0", "0"], "--center must be three finite numbers"),
    (["--fast-directions", "2", "--h-min", "0"], "--h-min must be a finite number"),
    (["--fast-directions", "3"], "the FEM is 3-D at most"),
    (["--loss", "theta1**2 + theta2**2 + theta3**2", "--noise", "isotropic"], "no default target or start"),
    (["--target-theta1", "0.5", "1"], "--target-theta1: 3-D only"),
    (["--start", "1", "0", "0"], "--start takes two numbers X Y in 2-D"),
])
def test_bad_3d_search_input_exit_2_one_line_nothing_written(tmp_path, args, words):
    assert_refused("search_time.py", args, words, tmp_path)
