"""scripts/evolve_fp.py and scripts/search_time.py as a user runs them
(quick cases), and their bad-input contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SINGLE_WELL_LAMBDA0, run_script

from fpsolve.tools import io


MESH_T005 = Path(__file__).resolve().parents[1] / "meshes" / "double-well_T0.05.msh"

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
    assert s["escape_rate_eigen"] == pytest.approx(SINGLE_WELL_LAMBDA0[True], rel=2e-3)
    assert s["decay_rate_fit"] > 0 and s["frames"] >= 10 and s["factorisations"] <= s["steps"]
    assert s["wall"] == "absorbing" and s["start"] == [0.5, 0.2] and "versions" in s
    assert (out / "evolution.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_evolve_fp_compare_mc_agrees_within_sampling_error(tmp_path):
    out = tmp_path / "ev"
    res = run_script("evolve_fp.py", "--preset", "single-well", "--T", "0.2", "--start", "0.5", "0.2",
                     "--t-end", "20", "--tol", "1e-3", "--h-max", "0.25", "--compare-mc", "3000",
                     "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr
    c = json.loads((out / "summary.json").read_text())["compare_mc"]
    sde, sgd = c["sde"], c["sgd"]
    assert c["walkers"] == 3000 and sde["brownian_bridge"] and len(sde["times"]) >= 15
    dev = sde["max_deviation_in_standard_errors"]
    # 6 observables at ~20 times: the largest of ~120 |z| stays below 4.5
    # when FEM and SDE agree; a wrong drift or start shows as tens
    assert 0 < dev["all"] < 4.5, dev
    # SGD: steps of α = 0.05, compared at whole steps (t = k α), no bridge
    assert sgd["step"] == 0.05 and not sgd["brownian_bridge"] and len(sgd["times"]) >= 15
    k = np.array(sgd["times"]) / 0.05
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert np.isfinite(sgd["max_deviation_in_standard_errors"]["all"])
    assert "largest FEM deviation SDE" in res.stdout and ", SGD" in res.stdout


def test_evolve_fp_compare_mc_custom_model_sgd_follows_its_exact_recursion(tmp_path):
    # L = (θ1² + 2θ2²)/2, isotropic noise (generated kernels): SGD θ ← θ − α(Kθ + η),
    # Cov η = Δ I, has the exact moment recursion m ← (1 − αk) m,
    # Var ← (1 − αk)² Var + α²Δ per coordinate (k = 1, 2); the SDE twin follows
    # the FEM density.  SGD's stationary variance T/(k(2 − αk)) is above the
    # Fokker-Planck T/(2k) by 2.6 % and 5.3 %: resolved by 20000 walkers.
    out = tmp_path / "ev"
    alpha, T = 0.05, 0.25
    res = run_script("evolve_fp.py", "--loss", "0.5*(theta1**2 + 2*theta2**2)", "--noise", "isotropic",
                     "--T", str(T), "--wall", "reflecting", "--start", "0.5", "0.3", "--start-width", "0.2", "0.2",
                     "--t-end", "10", "--h-min", "0.1", "--compare-mc", "20000", "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr
    c = json.loads((out / "summary.json").read_text())["compare_mc"]
    assert c["sde"]["max_deviation_in_standard_errors"]["all"] < 4.5, c["sde"]["max_deviation_in_standard_errors"]
    sgd = c["sgd"]
    steps = np.round(np.array(sgd["times"]) / alpha).astype(int)
    m = np.array([0.5, 0.3])
    var = np.array([0.2 ** 2, 0.2 ** 2])
    kk = np.array([1.0, 2.0])
    exact = {"var_theta1": [], "var_theta2": [], "mean_loss": []}
    for n in range(steps.max() + 1):
        if n in steps:
            exact["var_theta1"].append(var[0])
            exact["var_theta2"].append(var[1])
            exact["mean_loss"].append(0.5 * (var[0] + m[0] ** 2) + (var[1] + m[1] ** 2))
        m = (1 - alpha * kk) * m
        var = (1 - alpha * kk) ** 2 * var + alpha * alpha * (T / alpha)
    for name, values in exact.items():
        z = np.abs(np.array(sgd["curves"][name]["value"]) - values) / np.array(sgd["curves"][name]["se"])
        assert z.max() < 4.5, (name, z)
    # and the SGD ensemble is not the Fokker-Planck density: Var θ2 at t = 10 (200 steps)
    fp = T / 4
    assert sgd["curves"]["var_theta2"]["value"][-1] / fp - 1 == pytest.approx(2 / 1.9 - 1, abs=0.02)
    png = out / "evolution.png"
    assert png.stat().st_size > 0


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
    # the 2-D search time is of the order of the 1-D adiabatic formula's (docs/model.md §8)
    assert 0.5 < s["search_time"] / s["search_time_1d"] < 2.0
    assert 0.0 <= s["committor_at_start"] <= 1.0 + 1e-9 and s["target_mirrored"]
    # leaving the disk also ends the search: no longer than with a reflecting wall
    out2 = tmp_path / "st2"
    res = run_script("search_time.py", "--boundary", "absorbing", "--out", str(out2))
    assert res.returncode == 0, res.stderr
    s2 = json.loads((out2 / "summary.json").read_text())
    assert 0 < s2["search_time"] <= s["search_time"] and s2["target"] == s["target"]


def test_evolve_fp_custom_isotropic_ou_reaches_the_gibbs_variances(tmp_path):
    # L = (θ1² + 2θ2²)/2 with D = (T/2) I: the stationary density is the Gibbs
    # exp(−2L/T), Var θ1 = T/2, Var θ2 = T/4, E[L] = T/2 (docs/model.md §7-8); at
    # T = 0.25 the wall at r = 2 holds exp(−16) of it, negligible
    out = tmp_path / "ev"
    T = 0.25
    res = run_script("evolve_fp.py", "--loss", "0.5*(theta1**2 + 2*theta2**2)", "--noise", "isotropic",
                     "--T", str(T), "--wall", "reflecting", "--start", "0.5", "0.3", "--start-width", "0.2", "0.2",
                     "--t-end", "20", "--tol", "1e-5", "--h-min", "0.1", "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    f = s["final"]
    assert f["var_theta1"] == pytest.approx(T / 2, rel=1e-3)
    assert f["var_theta2"] == pytest.approx(T / 4, rel=1e-3)
    assert f["mean_loss"] == pytest.approx(T / 2, rel=1e-3)
    assert f["survival"] == pytest.approx(1.0, abs=1e-9)
    # no flatness for a custom model: NaN in the CSV, null in strict JSON (no bare NaN)
    assert f["mean_flatness"] is None and s["case"]["model"]["noise"] == "isotropic"
    json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in summary.json"))
    assert s["mesh"]["rule"].startswith("uniform") and s["mesh"]["h_min"] == 0.1
    data = np.genfromtxt(out / "evolution.csv", delimiter=",", names=True)
    assert np.all(np.isnan(data["mean_flatness"]))


def test_search_time_valley_expression_is_the_preset(tmp_path):
    # the double-well written as an expression with SGD noise takes the preset's path
    common = ["--T", "0.05", "--mesh", str(MESH_T005)]
    out1, out2 = tmp_path / "preset", tmp_path / "expr"
    res = run_script("search_time.py", *common, "--out", str(out1))
    assert res.returncode == 0, res.stderr
    res = run_script("search_time.py", *common, "--loss", "0.5*(a0 + a2*x**2 + a4*x**4)*y**2 + 0.5*eps*x**2",
                     "--param", "a0=1", "--param", "a2=-1", "--param", "a4=0.5", "--param", "eps=0.01",
                     "--out", str(out2))
    assert res.returncode == 0, res.stderr
    s1, s2 = (json.loads((o / "summary.json").read_text()) for o in (out1, out2))
    assert s2["search_time"] == pytest.approx(s1["search_time"], rel=1e-8)
    assert s2["target"] == s1["target"] and s2["target_mirrored"]


def test_search_time_custom_isotropic_model_runs(tmp_path):
    out = tmp_path / "st"
    res = run_script("search_time.py", "--loss", "0.5*(theta1**2 + 2*theta2**2)", "--noise", "isotropic",
                     "--T", "0.25", "--target", "0", "0", "0.2", "0.2", "--start", "1", "0", "--h-min", "0.1",
                     "--committor", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["search_time"] > 0 and "search_time_1d" not in s and not s["target_mirrored"]
    assert s["case"]["model"]["noise"] == "isotropic" and s["mesh"]["h_min"] == 0.1
    # an absorbing wall is not reached at T = 0.25 before the target: q ≈ 1 at the start
    assert 0.99 < s["committor_at_start"] <= 1.0 + 1e-9


def test_search_time_custom_default_target_is_the_stationary_peak(tmp_path):
    # an offset isotropic bowl L = ((θ1 − 0.3)² + 2(θ2 + 0.2)²)/2 with D = (T/2) I:
    # the stationary density is the Gibbs exp(−2L/T), a Gaussian with its
    # maximum at the minimum (0.3, −0.2) and standard deviations sqrt(T/2),
    # sqrt(T/4); the default target is that window, the start θ* + (3 W1, 0)
    out = tmp_path / "st"
    T = 0.25
    res = run_script("search_time.py", "--loss", "0.5*((theta1 - 0.3)**2 + 2*(theta2 + 0.2)**2)",
                     "--noise", "isotropic", "--T", str(T), "--h-min", "0.1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    c1, c2, w1, w2 = s["target"]
    assert (c1, c2) == pytest.approx((0.3, -0.2), abs=1e-3)
    assert w1 == pytest.approx((T / 2) ** 0.5, rel=3e-3) and w2 == pytest.approx((T / 4) ** 0.5, rel=3e-3)
    assert s["start"] == pytest.approx([c1 + 3 * w1, c2], abs=1e-12)
    assert s["target_default"] and s["start_default"] and not s["target_mirrored"]
    assert "most probable point" in s["target_rule"] and s["stationary_peak"]["mode"] == [c1, c2]
    assert s["search_time"] > 0 and s["mfpt_dofs"] > 0 and s["mfpt_target_dofs"] > 0


CUSTOM = ["--loss", "theta1**2 + theta2**2", "--noise", "isotropic"]


@pytest.mark.parametrize("script, args, words", [
    ("search_time.py", ["--target", "3", "0", "0.5", "0.5"], "target 3 0 0.5 0.5 lies outside the disk"),
    ("search_time.py", [*CUSTOM, "--target", "0", "2.5", "0.1", "0.1"], "lies outside the disk"),
    ("search_time.py", [*CUSTOM, "--h-max", "0.2", "--target", "0", "0", "0.1", "0.1", "--start", "1", "0"],
     "--h-max applies to the graded mesh"),
    ("evolve_fp.py", [*CUSTOM, "--preset", "single-well"], "--loss cannot be combined with --preset"),
    ("evolve_fp.py", ["--start", "5", "5"], "must lie inside the disk"),
    ("evolve_fp.py", ["--start-width", "0", "1"], "--start-width must be two finite numbers > 0"),
    ("evolve_fp.py", ["--t-end", "-1"], "--t-end must be a finite number > 0"),
    ("evolve_fp.py", ["--tol", "nan"], "--tol must be a finite number > 0"),
    ("evolve_fp.py", ["--boundary", "open"], "invalid choice: 'open'"),
    # a fresh user's try: 1e303 fixed steps ran on with an absurd ETA
    ("evolve_fp.py", ["--dt", "1e-300"], "--dt 1e-300 to --t-end 1000 is 1e+303 fixed steps, more than 1e+06"),
    ("evolve_fp.py", ["--dt", "1e-12", "--t-end", "1000"], "is 1e+15 fixed steps"),
    ("evolve_fp.py", ["--T", "-1"], "T must be >= 0"),
    ("evolve_fp.py", ["--compare-mc", "1"], "--compare-mc needs at least 2 walkers"),
    ("search_time.py", ["--target", "0", "0", "-1", "1"], "half-widths must be > 0"),
    ("search_time.py", ["--start", "3", "0"], "must lie inside the disk"),
    ("search_time.py", ["--wall", "open"], "invalid choice: 'open'"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, script, args, words):
    res = run_script(script, *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("script", ["evolve_fp.py", "search_time.py"])
def test_bad_mesh_file_is_refused_before_any_computation(tmp_path, script, ranks):
    # read on rank 0 before the output folder and the solve (as solve_fp.py):
    # exit 2, one line, no progress bar, nothing written, on 1 and 2 ranks
    import os
    import shutil
    import subprocess
    import sys

    if ranks > 1 and shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    bad = tmp_path / "in" / "bad.msh"
    bad.parent.mkdir()
    bad.write_text("not a mesh\n")
    out = tmp_path / "out"
    launcher = [sys.executable] if ranks == 1 else ["mpirun", "-n", str(ranks), sys.executable, "-m", "mpi4py"]
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    script_path = Path(__file__).resolve().parents[1] / "scripts" / script
    res = subprocess.run([*launcher, str(script_path), "--mesh", str(bad), "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if f"{script}: error:" in line]
    assert len(lines) >= 1 and "bad.msh" in lines[0] and "not a mesh file" in lines[0], res.stderr
    if ranks == 1:
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "evolving" not in res.stderr and "mesh:" not in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("script", ["evolve_fp.py", "search_time.py"])
def test_out_holding_other_files_is_refused_before_computing(tmp_path, script):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = run_script(script, "--out", str(mine))
    assert res.returncode == 2 and "files fpsolve did not write" in res.stderr.strip().splitlines()[-1]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
