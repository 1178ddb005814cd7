"""scripts/solve_fp.py as a user runs it: output, and bad input = exit 2,
one line, nothing written."""

from __future__ import annotations

import json

import pytest

from conftest import run_script


def test_model_summary_is_written(tmp_path):
    out = tmp_path / "case"
    res = run_script("solve_fp.py", "--T", "0.01", "--out", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "model.json").read_text())
    assert data["T"] == pytest.approx(0.01, rel=1e-14)
    assert data["noise"]["Delta"] == pytest.approx(0.2, rel=1e-14)
    assert data["T_c_constant"] == pytest.approx(0.02, rel=1e-14)
    assert data["flattest_theta1"] == pytest.approx([-1.0, 1.0])
    assert str(out) in res.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize(
    "args, words",
    [
        (["--a0", "0"], "a0 must be > 0"),
        (["--a4", "-1"], "a4 must be >= 0"),
        (["--a2", "-3"], "a2^2 < 4 a0 a4"),
        (["--alpha", "0"], "alpha must be > 0"),
        (["--Delta", "-0.5"], "Delta must be >= 0"),
        (["--Delta", "nan"], "Delta must be a finite number"),
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--alpha", "abc"], "invalid float value: 'abc'"),
        (["--T", "0.1", "--Delta", "1"], "not allowed with argument"),
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, args, words):
    out = tmp_path / "case"
    res = run_script("solve_fp.py", *args, "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []
