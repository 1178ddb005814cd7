"""sample_sgd.py in N dimensions: --fast-directions and --loss in theta1 ... thetaN."""

from __future__ import annotations

import json

import pytest

from conftest import run_script


def test_fast_directions_writes_the_n_dimensional_summary(tmp_path):
    out = tmp_path / "run"
    res = run_script("sample_sgd.py", "--fast-directions", "3", "--method", "sde", "--dt", "0.01", "--T", "0.05",
                     "--walkers", "64", "--time", "30", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["N"] == 4 and s["fast_directions"] == 3 and len(s["var_y"]) == 3
    assert 0.0 < s["var_y_mean"] < 0.05 and s["mean_flatness"] > 0.5  # F = (3 g(x))^(-1/2) ≥ 3^(-1/2)
    assert (out / "nmarginals.png").stat().st_size > 0 and (out / "hist.npz").exists()


@pytest.mark.parametrize("args, words", [
    (["--fast-directions", "0"], "--fast-directions must be >= 1"),
    (["--fast-directions", "100000", "--walkers", "1000000"], "GiB"),
    (["--loss=-theta1**2-theta3**2", "--noise", "isotropic", "--no-absorption"], "unbounded below"),
    (["--loss", "theta1**2+theta300**2"], "N = 300"),
    (["--fast-directions", "3", "--center", "1", "0"], "--center"),
])
def test_bad_n_dimensional_input_exits_2_writing_nothing(tmp_path, args, words):
    out = tmp_path / "run"
    res = run_script("sample_sgd.py", *args, "--time", "1", "--out", str(out))
    assert res.returncode == 2 and words in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
