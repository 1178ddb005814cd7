"""scripts/sample_sgd.py and scripts/bench_montecarlo.py as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_script
from fpsolve.tools import io
from fpsolve.mc import ensemble as mc
from fpsolve.model.valley import Landscape, Noise
from fpsolve.model.target import Box


def test_sample_sgd_writes_what_run_computes(tmp_path):
    out = tmp_path / "case"
    res = run_script("sample_sgd.py", "--T", "0.01", "--walkers", "300", "--time", "100", "--seed", "3",
                     "--bins", "50", "40", "--hist-range", "-0.05", "0.05", "-0.2", "0.2",
                     "--target", "0", "0", "0.002", "0.05", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert str(out) in res.stdout and "walker-steps/s" in res.stderr and "sampling" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == [io.MARKER, "hist.npz", "marginals.png", "summary.json"]
    s = json.loads((out / "summary.json").read_text())
    # the same numbers as the API with the same seed and options
    ref = mc.run(Landscape.from_preset("double-well"), Noise.from_temperature(0.01, 0.05), walkers=300,
                 time=100.0, seed=3, target=Box((0.0, 0.0), (0.002, 0.05)),
                 hist_edges=(np.linspace(-0.05, 0.05, 51), np.linspace(-0.2, 0.2, 41)))
    for key in ("mean_abs_theta1", "mean_abs_theta1_se", "std_abs_theta1", "std_abs_theta1_se",
                "var_theta2", "var_theta2_se", "survival_fraction", "first_passage_mean_time"):
        assert s[key] == ref.summary[key], key
    assert s["steps"] == 2000 and s["walkers"] == 300 and s["T"] == pytest.approx(0.01)
    assert s["parameters"]["seed"] == 3 and "numba" in s["versions"] and s["wall_seconds"] > 0
    assert s["walker_steps_per_second"] > 0 and s["survival_fraction"] == 1.0
    data = np.load(out / "hist.npz")
    assert data["hist"].shape == (50, 40) and np.array_equal(data["hist"], ref.hist)
    assert np.array_equal(data["hist_abs_theta1"], ref.hist_abs_theta1)
    assert data["first_passage_times"].shape == (300,)
    assert (out / "marginals.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


SMALL = ["--walkers", "10", "--steps", "10"]


@pytest.mark.parametrize("args, words", [
    (["--walkers", "0", "--steps", "10"], "walkers must be an integer >= 1"),
    (["--walkers", "10", "--time", "-1"], "time must be a finite number > 0"),
    (["--method", "sde", "--dt", "0", *SMALL], "dt must be a finite number > 0"),
    (["--dt", "0.01", *SMALL], "dt is the SDE step"),
    (["--method", "sde", "--shift", "exact", *SMALL], "shift exact applies to SGD only"),
    (["--no-cross-diffusion", *SMALL], "no cross-diffusion applies to the SDE only"),
    (["--no-bridge", *SMALL], "--no-bridge applies to --method sde"),
    (["--radius", "0", *SMALL], "--radius must be a finite number > 0"),
    (["--a0", "-1", *SMALL], "a0 must be > 0"),
    (["--method", "langevin", *SMALL], "invalid choice: 'langevin'"),
    (["--hist-range", "1", "0", "0", "1", *SMALL], "--hist-range needs finite XMIN < XMAX"),
])
def test_sample_sgd_bad_input_exit_2_one_line_nothing_written(tmp_path, args, words):
    res = run_script("sample_sgd.py", *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_bench_quick_speed_and_memory(tmp_path):
    out = tmp_path / "bench"
    res = run_script("bench_montecarlo.py", "--quick", "--out", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "bench.json").read_text())
    rates = {(r["engine"], r["threads"]): r["walker_steps_per_second"] for r in data["speed"]}
    # speed is reported, not tested (a loaded machine must not fail CI): every
    # engine ran and its rate is a measured, finite number
    assert {e for e, _ in rates} == {"numba", "numpy"}
    assert all(0 < v < float("inf") for v in rates.values()), rates
    mem = data["memory"]
    assert mem["peak_reset_per_run"]  # the peaks are of these runs, not of numba compiling
    # memory is O(walkers) + histograms: 10x more steps adds nothing, and the
    # peak stays within a few copies of the per-walker state
    assert mem["growth_with_10x_steps_mib"] < 5
    assert mem["peak_increase_mib"] < 3 * (mem["state_mib"] + mem["histograms_mib"]) + 20
    # the N-dimensional tables: every (m, threads) row and each m's closed-form time measured
    assert {r["m"] for r in data["n_dimensional"]} == {1, 10, 100, 1000}
    assert [r["m"] for r in data["closed_forms"]] == [1, 10, 100, 1000]
    assert all(0 < r["milliseconds"] < float("inf") for r in data["closed_forms"]), data["closed_forms"]
