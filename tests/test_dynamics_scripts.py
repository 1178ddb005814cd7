"""scripts/evolve_fp.py and scripts/search_time.py as a user runs them
(quick cases), and their bad-input contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_script
from fpsolve import io


def test_evolve_fp_writes_its_outputs(tmp_path):
    out = tmp_path / "ev"
    res = run_script("evolve_fp.py", "--preset", "single-well", "--T", "0.2", "--start", "0.5", "0.2",
                     "--t-end", "60", "--tol", "1e-3", "--h-max", "0.25", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert str(out) in res.stdout and "evolving" in res.stderr  # the progress bar
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([io.MARKER, "density.h5", "density.xdmf", "evolution.csv", "evolution.gif", "evolution.png",
                            "summary.json"])
    assert io.read_marker(out)["tool"] == "evolve"
    s = json.loads((out / "summary.json").read_text())
    data = np.genfromtxt(out / "evolution.csv", delimiter=",", names=True)
    assert list(data.dtype.names[:3]) == ["t", "sgd_steps", "dt"]
    assert len(data) == s["steps"] + 1 and data["t"][-1] == pytest.approx(60.0)
    np.testing.assert_allclose(data["sgd_steps"], data["t"] / 0.05)
    # absorbing wall: the survival only falls, from 1
    assert data["survival"][0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(data["survival"]) <= 1e-12)
    assert s["escape_rate_eigen"] == pytest.approx(1.5996e-3, rel=2e-3)
    assert s["decay_rate_fit"] > 0 and s["frames"] >= 10 and s["factorisations"] <= s["steps"]
    assert s["boundary"] == "dirichlet" and s["start"] == [0.5, 0.2] and "versions" in s
    assert (out / "evolution.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_evolve_fp_compare_mc_agrees_within_sampling_error(tmp_path):
    out = tmp_path / "ev"
    res = run_script("evolve_fp.py", "--preset", "single-well", "--T", "0.2", "--start", "0.5", "0.2",
                     "--t-end", "20", "--tol", "1e-3", "--h-max", "0.25", "--compare-mc", "3000",
                     "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr
    c = json.loads((out / "summary.json").read_text())["compare_mc"]
    assert c["walkers"] == 3000 and c["brownian_bridge"] and len(c["times"]) >= 15
    dev = c["max_deviation_in_standard_errors"]
    # 6 observables at ~20 times: the largest of ~120 |z| stays below 4.5
    # when FEM and SDE agree; a wrong drift or start shows as tens
    assert 0 < dev["all"] < 4.5, dev
    assert "largest deviation" in res.stdout


def test_evolve_fp_reflecting_conserves_mass(tmp_path):
    out = tmp_path / "ev"
    res = run_script("evolve_fp.py", "--preset", "single-well", "--T", "0.2", "--boundary", "reflecting",
                     "--t-end", "5", "--dt", "0.25", "--h-max", "0.3", "--start-width", "0.1", "0.1",
                     "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 20 and s["factorisations"] == 1 and s["start_width"] == [0.1, 0.1]
    assert s["mass_error_max"] < 1e-10


def test_search_time_writes_its_outputs(tmp_path):
    out = tmp_path / "st"
    res = run_script("search_time.py", "--committor", "--out", str(out))
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([io.MARKER, "committor.h5", "committor.png", "committor.xdmf", "summary.json", "tau.h5",
                            "tau.png", "tau.xdmf"])
    assert io.read_marker(out)["tool"] == "search-time"
    s = json.loads((out / "summary.json").read_text())
    assert s["search_time"] > 0 and s["search_time_steps"] == pytest.approx(s["search_time"] / 0.05)
    # the 2-D search time is of the order of the 1-D adiabatic formula's (MODEL.md §8)
    assert 0.5 < s["search_time"] / s["search_time_1d"] < 2.0
    assert 0.0 <= s["committor_at_start"] <= 1.0 + 1e-9 and s["target_mirrored"]
    # leaving the disk also ends the search: no longer than with a reflecting wall
    out2 = tmp_path / "st2"
    res = run_script("search_time.py", "--boundary", "absorbing", "--out", str(out2))
    assert res.returncode == 0, res.stderr
    s2 = json.loads((out2 / "summary.json").read_text())
    assert 0 < s2["search_time"] <= s["search_time"] and s2["target"] == s["target"]


@pytest.mark.parametrize("script, args, words", [
    ("evolve_fp.py", ["--start", "5", "5"], "must lie inside the disk"),
    ("evolve_fp.py", ["--start-width", "0", "1"], "--start-width must be two finite numbers > 0"),
    ("evolve_fp.py", ["--t-end", "-1"], "--t-end must be a finite number > 0"),
    ("evolve_fp.py", ["--tol", "nan"], "--tol must be a finite number > 0"),
    ("evolve_fp.py", ["--boundary", "open"], "invalid choice: 'open'"),
    ("evolve_fp.py", ["--T", "-1"], "T must be >= 0"),
    ("evolve_fp.py", ["--compare-mc", "1"], "--compare-mc needs at least 2 walkers"),
    ("search_time.py", ["--target", "0", "0", "-1", "1"], "half-widths must be > 0"),
    ("search_time.py", ["--start", "3", "0"], "must lie inside the disk"),
    ("search_time.py", ["--boundary", "dirichlet"], "invalid choice: 'dirichlet'"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, script, args, words):
    res = run_script(script, *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["evolve_fp.py", "search_time.py"])
def test_out_holding_other_files_is_refused_before_computing(tmp_path, script):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = run_script(script, "--out", str(mine))
    assert res.returncode == 2 and "files fpsolve did not write" in res.stderr.strip().splitlines()[-1]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
