"""The 3-D solve under MPI equals the serial solve on the same ball (issue 19):
the isotropic OU check of tests/test_fem3d.py on ``COMM_WORLD`` (run by the
MPI pass of ``make test`` under ``mpirun -n 2``) and on ``COMM_SELF``:
variances, means, mass and negative mass to 1e-8."""

from __future__ import annotations

import pytest
from mpi4py import MPI

from fpsolve.fem import solve3d
from test_fem3d import ou_operator

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
