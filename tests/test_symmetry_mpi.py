"""A symmetric model under MPI (issue 22): the two-layer net with weight
decay under the default (adaptive) mesh rule on 2 ranks equals the serial
run to 1e-8, with the same point-symmetric meshes and symmetrisation (run by
``make test``'s parallel pass under ``mpirun -n 2``)."""

from __future__ import annotations

import pytest
from mpi4py import MPI

from fpsolve.fem import stationary as solver
from fpsolve.model.expression import Model

DECAY = "0.5*(theta1*theta2 - c)**2 + 0.5*w*(theta1**2 + theta2**2)"


@pytest.mark.mpi
def test_symmetric_adaptive_parallel_equals_serial():
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    m = Model.from_expression(DECAY, {"c": 1.0, "w": 0.1}, T=0.05)
    par = solver.solve(m, comm=comm).summary
    ser = solver.solve(m, comm=MPI.COMM_SELF).summary
    assert par["dofs"] == ser["dofs"] and par["symmetry"]["used"] == ser["symmetry"]["used"] == ["point"]
    for key in ("escape_rate", "mass", "mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2"):
        assert par[key] == pytest.approx(ser[key], rel=1e-8, abs=1e-12), key
    for key in ("mean_theta1", "mean_theta2"):
        assert abs(par[key]) < 1e-10 and abs(ser[key]) < 1e-10, key
    assert par["adaptivity"]["converged"] and ser["adaptivity"]["converged"]
