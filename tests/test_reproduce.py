"""scripts/reproduce.py --quick (issue 6): every figure is written with its CSV
and a summary line; the fitted critical exponents are checked against theory."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import run_script


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "rep"
    res = run_script("reproduce.py", "--quick", "--out", str(out), timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr
    return out, json.loads((out / "reproduce.json").read_text())


def test_every_figure_has_png_csv_and_a_summary_line(quick_run):
    out, rec = quick_run
    summary = (out / "summary.md").read_text()
    for name in ("figS5", "figS3", "figS4", "figS2", "phase_diagram"):
        assert (out / f"{name}.png").stat().st_size > 10_000
        rows = list(csv.DictReader(open(out / f"{name}.csv")))
        assert len(rows) >= 2
        assert f"`{name}.png`" in summary
        assert rec["figures"][name]["finding"]
    assert "numpy" in rec["versions"] and rec["quick"] is True


def test_critical_exponents_beta_and_gamma(quick_run):
    _, rec = quick_run
    n = rec["figures"]["figS4"]["numbers"]
    # β from the FEM order parameter, both variants (theory: 1)
    assert n["beta_fem_nocross"]["exponent"] == pytest.approx(1.0, abs=0.2)
    assert n["beta_fem_full"]["exponent"] == pytest.approx(1.0, abs=0.2)
    # γ below T_c from SGD search times (theory: 1), and the 1-D formula agrees
    assert -n["gamma_below_sgd"]["exponent"] == pytest.approx(1.0, abs=0.2)
    assert -n["gamma_below_formula"]["exponent"] == pytest.approx(1.0, abs=0.2)
    # γ above T_c: at the default ε the search time is not yet in its scaling
    # regime for |T − T_c|/T_c ≥ 0.1 — the 1-D formula itself gives ~0.6 there.
    # The SGD exponent must be measured (finite error) and lie between the
    # formula's and the asymptotic 1 (see the report: the seed's claim is asymptotic).
    g_sgd, g_formula = -n["gamma_above_sgd"]["exponent"], -n["gamma_above_formula"]["exponent"]
    assert 0 < n["gamma_above_sgd"]["exponent_err"] < 0.1
    assert g_formula - 0.1 < g_sgd < 1.0 + 0.2


def test_figure_findings(quick_run):
    _, rec = quick_run
    s5 = {round(float(r["T"]), 4): r for r in rec["figures"]["figS5"]["rows"]}
    # cross-diffusion halves the width at T = 0.05 (MODEL.md §6), barely matters at T = 0.01
    assert float(s5[0.05]["width_ratio_fem"]) == pytest.approx(0.5, abs=0.05)
    assert float(s5[0.05]["width_ratio_mc"]) == pytest.approx(0.5, abs=0.08)
    assert float(s5[0.01]["width_ratio_fem"]) > 0.9
    for name in ("figS5", "figS3", "figS2"):
        failed = [k for k, v in rec["figures"][name]["checks"].items() if v["verdict"] != "agree"]
        assert failed == [], (name, failed)
    phase = rec["figures"]["phase_diagram"]["checks"]
    assert phase["phase I/II (non-divergent points): MC = sign of T − T_c"]["verdict"] == "agree"


def test_bad_figure_name_exit_2(tmp_path):
    res = run_script("reproduce.py", "--quick", "--figures", "S9", "--out", str(tmp_path / "r"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown figure 'S9'" in lines[0]
    assert list(tmp_path.iterdir()) == []
