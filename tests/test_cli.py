"""scripts/solve_fp.py as a user runs it: every output, the summary keys of
the contract, and bad input = exit 2, one line, nothing written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import run_script
from fpsolve.tools import io

SUMMARY_KEYS = {
    "T", "escape_rate", "mass", "min_density", "negative_mass", "mode_theta1", "mean_abs_theta1",
    "std_abs_theta1", "var_theta2", "flatness_at_mode", "dofs", "ranks", "mesh_seconds", "assemble_seconds",
    "solve_seconds", "wall_seconds", "versions", "case", "mesh", "degree", "cross_diffusion", "wall",
    "radius", "center", "escape_rate_flux", "warnings", "eigen_residual", "eigen_gap", "mesh_rule",
}


def test_solve_writes_every_output(tmp_path):
    out = tmp_path / "case"
    # a coarse mesh (h-min 0.04) of the default case keeps this quick
    res = run_script("solve_fp.py", "--h-min", "0.04", "--no-cross-diffusion", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        io.MARKER, "density.h5", "density.png", "density.xdmf", "marginals.csv", "marginals.png", "summary.json"]
    s = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(s)
    assert s["T"] == pytest.approx(0.05, rel=1e-14) and s["case"]["noise"]["Delta"] == 1.0
    assert s["mesh"]["h_min"] == 0.04 and s["cross_diffusion"] is False and s["degree"] == 2
    assert s["mass"] == pytest.approx(1.0, abs=1e-12)
    # even this coarse mesh is within 3 % of docs/model.md §6 (no cross-diffusion row)
    assert s["mean_abs_theta1"] == pytest.approx(0.6231, rel=0.03)
    rows = list(csv.reader((out / "marginals.csv").open()))
    assert rows[0][:2] == ["theta1", "fem_marginal"]
    data = np.array(rows[1:], dtype=float)
    integral = float(np.sum(0.5 * (data[1:, 1] + data[:-1, 1]) * np.diff(data[:, 0])))
    assert integral == pytest.approx(1.0, abs=5e-3)
    # the closed-form columns (docs/model.md §5): the landscape-dependent P1 follows
    # the no-cross-diffusion density (L1 0.103 measured on the default mesh)
    assert rows[0][2:] == ["closed_form_landscape", "closed_form_constant_D"]
    dx = np.diff(data[:, 0])
    l1 = float(np.sum(0.5 * (np.abs(data[1:, 1] - data[1:, 2]) + np.abs(data[:-1, 1] - data[:-1, 2])) * dx))
    assert float(np.sum(0.5 * (data[1:, 2] + data[:-1, 2]) * dx)) == pytest.approx(1.0, abs=1e-9)
    assert l1 < 0.15, l1
    assert 'Name="density"' in (out / "density.xdmf").read_text()
    assert str(out) in res.stdout
    stages = [line for line in res.stderr.splitlines() if line.startswith("[solve_fp.py")]
    assert len(stages) >= 6 and any("eigen-solve" in line for line in stages)
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
        (["--Delta", "0"], "T = alpha*Delta must be > 0"),
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--alpha", "abc"], "invalid float value: 'abc'"),
        (["--T", "0.1", "--Delta", "1"], "not allowed with argument"),
        (["--degree", "3"], "argument --degree: invalid choice"),
        (["--boundary", "open"], "argument --wall/--boundary: invalid choice: 'open'"),
        (["--wall", "dirichlett"], "argument --wall/--boundary: invalid choice: 'dirichlett'"),
        (["--h-min", "-0.1"], "h-min must be a finite number > 0"),
        (["--h-min", "0.5", "--h-max", "0.1"], "h-min must be <= h-max"),
        (["--mesh", "/nonexistent.msh"], "--mesh file not found"),
        (["--mesh", "meshes/double-well_T0.05.msh", "--h-min", "0.1"], "--mesh cannot be combined"),
        (["--radius", "0"], "--radius must be a finite number > 0"),
        (["--tol", "0"], "--tol must be in (0, 1)"),
        (["--max-dofs", "0"], "--max-dofs must be > 0"),
        (["--petsc-option", "eps_nev"], "--petsc-option must be KEY=VALUE"),
        (["--mesh-rule", "adaptive", "--h-min", "0.1"], "--mesh-rule adaptive cannot be combined"),
        # just inside a2² < 4 a0 a4: the graded mesh would need ~8e6 dofs (issue 11) and still not resolve
        # the density, whose widths need 6.7e-7 where the disk's graded mesh stops at R x 2e-5 (issue 21.4)
        (["--a2=-1.4142135616659883"], "the density's widths need a mesh size of 6.67e-07, but the graded mesh "
                                       "of a disk of radius 2 goes down to 4e-05 only"),
        (["--a2=-1.4142135616659883", "--radius", "0.05"], "above --max-dofs 2000000"),
        (["--max-dofs", "1000"], "above --max-dofs 1000"),
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, args, words):
    out = tmp_path / "case"
    res = run_script("solve_fp.py", *args, "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_adaptive_run_writes_estimate_cycles_and_figure(tmp_path):
    out = tmp_path / "case"
    res = run_script("solve_fp.py", "--no-cross-diffusion", "--mesh-rule", "adaptive", "--tol", "1e-2",
                     "--petsc-option", "eps_nev=3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert (out / "adaptivity.png").is_file()
    s = json.loads((out / "summary.json").read_text())
    cycles = s["adaptivity"]["cycles"]
    assert len(cycles) >= 3 and s["error_estimate"] == cycles[-1]["estimate"] < 1e-2
    assert [c["dofs"] for c in cycles] == sorted(c["dofs"] for c in cycles)
    assert s["eigen"]["petsc_options"] == {"eps_nev": "3"} and s["eigen"]["converged"] >= 3
    assert s["warnings"] == [] and "warning" not in res.stderr
    assert sum("cycle" in line for line in res.stderr.splitlines()) == len(cycles)
    # docs/model.md §6 no-cross row within the tolerance asked for
    assert s["mean_abs_theta1"] == pytest.approx(0.6211, rel=1e-2)


def test_budget_stops_the_loop_with_a_warning(tmp_path):
    out = tmp_path / "case"
    res = run_script("solve_fp.py", "--mesh-rule", "adaptive", "--tol", "1e-6", "--max-dofs", "4000",
                     "--out", str(out))
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["dofs"] <= 4000 and not s["adaptivity"]["converged"]
    assert any("not reached within --max-dofs 4000" in w for w in s["warnings"])
    assert "solve_fp.py: warning: tolerance 1e-06 not reached" in res.stderr
