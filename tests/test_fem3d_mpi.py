"""The 3-D solve under MPI equals the serial solve on the same ball (issue 19):
the isotropic OU check of tests/test_fem3d.py on ``COMM_WORLD`` (run by the
MPI pass of ``make test`` under ``mpirun -n 2``) and on ``COMM_SELF``:
variances, means, mass and negative mass to 1e-8; and (in the serial pass)
``solve_fp.py`` with a 3-variable ``--loss`` under ``mpirun -n 2`` writes the
summary.json numbers of the serial run to 1e-8."""

from __future__ import annotations

import json

import pytest
from mpi4py import MPI

from conftest import run_script, run_script_mpi
from fpsolve.fem import solve3d
from test_fem3d import COUPLED_LOSS, ou_operator

KEYS = ("mass", "var_theta1", "var_theta2", "var_theta3", "mean_abs_theta1", "std_abs_theta1")


@pytest.mark.mpi
def test_ou_ball_parallel_equals_serial():
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    par_op, ser_op = ou_operator(comm), ou_operator(MPI.COMM_SELF)
    assert par_op.dofs == ser_op.dofs
    _, par, _ = solve3d.solve(par_op)
    _, ser, _ = solve3d.solve(ser_op)
    for key in KEYS:
        assert par[key] == pytest.approx(ser[key], rel=1e-8), key
    for key in ("mean_theta1", "mean_theta2", "mean_theta3"):  # zero up to the mesh: judge against the std
        assert par[key] == pytest.approx(ser[key], abs=1e-8 * ser["var_theta1"] ** 0.5), key
    assert par["negative_mass"] == pytest.approx(ser["negative_mass"], rel=1e-6, abs=1e-12)


def test_solve_fp_3d_loss_under_mpirun_matches_serial(tmp_path):
    """The coupled 3-variable loss of tests/test_fem3d.py, isotropic noise,
    T = 0.4, absorbing ball of radius 2, uniform --h-min 0.3 (P2 on quadratic
    tetrahedra): 1 and 2 ranks give summary.json's escape rates and moments to
    1e-8 relative (the same ball: gmsh meshes on rank 0)."""
    args = ["--loss", COUPLED_LOSS, "--noise", "isotropic", "--T", "0.4", "--radius", "2", "--h-min", "0.3"]
    serial = run_script("solve_fp.py", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr[-2000:]
    par = run_script_mpi("solve_fp.py", *args, "--out", str(tmp_path / "mpi"))
    assert par.returncode == 0, par.stderr[-2000:]
    s, p = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("serial", "mpi"))
    assert (s["ranks"], p["ranks"]) == (1, 2) and p["dofs"] == s["dofs"]
    assert s["escape_rate"] > 1e-6  # measurable: the absorbing wall takes mass
    for key in ("escape_rate", "escape_rate_flux", "mass") + KEYS[1:] + ("mean_theta1", "var_theta1"):
        assert p[key] == pytest.approx(s[key], rel=1e-8), key
    for key in ("mean_theta2", "mean_theta3"):  # zero by symmetry up to the mesh: judge against the std
        assert p[key] == pytest.approx(s[key], abs=1e-8 * s["var_theta2"] ** 0.5), key
    assert p["negative_mass"] == pytest.approx(s["negative_mass"], rel=1e-6, abs=1e-12)
    assert par.stderr.count("] ball meshed:") == 1  # progress from rank 0 only
