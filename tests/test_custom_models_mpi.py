"""A custom model (docs/model.md §7) under MPI: the FEM solve equals the serial
one on the same mesh and the Monte Carlo gives the same numbers for any rank
count (run by ``make test``'s parallel pass under ``mpirun -n 2``)."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.mc import ensemble as montecarlo
from fpsolve.fem import stationary as solver
from fpsolve.model.expression import Model

CURVED = "2.5*(theta2 - theta1**2 + 0.5)**2 + 0.25*theta1**2"


@pytest.mark.mpi
def test_custom_model_parallel_equals_serial():
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    m = Model.from_expression(CURVED, noise="sgd", T=0.05)
    par = solver.solve(m, h_min=0.1, comm=comm).summary
    ser = solver.solve(m, h_min=0.1, comm=MPI.COMM_SELF).summary
    for key in ("escape_rate", "mass", "mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2"):
        assert par[key] == pytest.approx(ser[key], rel=1e-8, abs=1e-12), key
    a = montecarlo.run(m, method="sde", dt=0.01, walkers=101, time=5.0, seed=9, sample_from=(0.0, -0.5), comm=comm)
    b = montecarlo.run(m, method="sde", dt=0.01, walkers=101, time=5.0, seed=9, sample_from=(0.0, -0.5))
    assert np.array_equal(a.final, b.final) and np.array_equal(a.hist, b.hist)
