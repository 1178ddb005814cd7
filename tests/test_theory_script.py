"""scripts/theory.py as a user runs it: theory.json keys and values, the sweep
files, and bad input = exit 2, one line, nothing written."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import run_script
from fpsolve.theory import valley as theory
from fpsolve.model.valley import Landscape, Noise

KEYS = ("T", "T_c_constant", "T_c_landscape", "mode_theta1", "mean_abs_theta1", "std_abs_theta1",
        "var_theta2", "flatness_at_mode", "search_time", "adiabatic_ratio")


def test_one_case_json_and_table(tmp_path):
    out = tmp_path / "case"
    res = run_script("theory.py", "--T", "0.05", "--alpha", "0.1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "theory.json").read_text())
    for key in KEYS:
        assert key in data, key
    assert data["T"] == pytest.approx(0.05, rel=1e-14)
    assert data["noise"] == {"alpha": 0.1, "Delta": pytest.approx(0.5), "T": pytest.approx(0.05)}
    assert data["landscape"]["preset"] == "double-well"
    assert data["domain"]["theta1_interval"] == [-2.0, 2.0]
    assert "numpy" in data["versions"]
    # docs/model.md §6 closed-form row at T = 0.05 and the two T_c
    assert data["mean_abs_theta1"] == pytest.approx(0.619, rel=0.02)
    assert data["std_abs_theta1"] == pytest.approx(0.118, rel=0.02)
    assert data["T_c_constant"] == pytest.approx(0.02, rel=1e-14)
    assert data["T_c_landscape"] == pytest.approx(0.0218, rel=2e-3)
    assert data["search_time_steps"] == pytest.approx(data["search_time"] / 0.1, rel=1e-12)
    # the same numbers as the module (one source of truth)
    pred = theory.predictions(Landscape.from_preset("double-well"), Noise(0.1, 0.5), 2.0, with_boundaries=False)
    for key in KEYS:
        assert data[key] == pytest.approx(pred[key], rel=1e-12), key
    assert set(data["Delta_max"]) == {"first-order", "second-order", "heavy-tail"}
    assert "mean |theta1|" in res.stdout and "0.6186" in res.stdout
    assert "[theory.py" in res.stderr  # progress lines
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sweep_writes_csv_and_plot(tmp_path):
    out = tmp_path / "sweep"
    res = run_script("theory.py", "--sweep-T", "0.01:0.04:4", "--no-boundaries", "--out", str(out))
    assert res.returncode == 0, res.stderr
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["T"]) for r in rows] == pytest.approx([0.01, 0.02, 0.03, 0.04])
    # phase I below T_c ≈ 0.0218 (mode 0, F = 1), phase II above it
    assert [float(r["mode_theta1"]) == 0.0 for r in rows] == [True, True, False, False]
    assert float(rows[3]["flatness_at_mode"]) > float(rows[2]["flatness_at_mode"]) > 1.0
    assert float(rows[0]["var_theta2"]) == pytest.approx(0.005, rel=1e-3)
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "theory.json").read_text())["sweep"]["n"] == 4


@pytest.mark.parametrize(
    "args, words",
    [
        (["--sweep-T", "0.1:0.01:5"], "0 < a < b"),
        (["--sweep-T", "0.01:0.1"], "must be a:b:n"),
        (["--sweep-T", "0.01:0.1:1"], "2 <= n"),
        (["--Delta", "0"], "T = alpha*Delta must be > 0"),
        (["--center", "3", "0"], "(--radius 2, --center 3 0) does not contain the loss's minimum (0, 0)"),
        (["--center", "0", "2.5"], "(--radius 2, --center 0 2.5) does not contain the loss's minimum (0, 0)"),
        (["--a2", "-3"], "a2^2 < 4 a0 a4"),  # the shared model checks (more in test_cli.py)
        # a comma list starting with a minus is a value (argparse took "-1,1" for an option: "expected one argument")
        (["--fast-directions", "2", "--a0", "-1,1"], "--a0[0] must be > 0 so that g_0(0) > 0 (got a0[0]=-1)"),
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, args, words):
    out = tmp_path / "case"
    res = run_script("theory.py", *args, "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_negative_comma_lists_are_values(tmp_path):
    """``--a2 -1,-0.5``: a per-direction list whose first entry is negative reaches the model (each
    direction's a2 is recorded), not argparse's "expected one argument"."""
    res = run_script("theory.py", "--fast-directions", "2", "--a2", "-1,-0.5", "--out", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    record = json.loads((tmp_path / "c" / "theory.json").read_text())
    assert any(isinstance(v, dict) and v.get("a2") == [-1.0, -0.5] for v in record.values())
