"""The N-dimensional Monte Carlo under MPI: walkers split across ranks, the same numbers as serial."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.mc import nensemble
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise

TIMING = {"walker_steps_per_second", "coordinate_updates_per_second", "wall_seconds", "mpi_ranks",
          "numba_threads", "kernel_load_seconds", "symmetry_seconds"}


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["sgd", "sde"])
def test_mpi_n_dimensional_run_equals_serial_run(method):
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    kw = dict(method=method, walkers=301, steps=500, seed=9, burn_in=2.0)
    if method == "sde":
        kw["dt"] = 0.01
    valley = NValley.from_preset("double-well", fast_directions=4)
    noise = Noise(0.05, 2.0)
    par = nensemble.run(valley, noise, comm=comm, **kw)
    ser = nensemble.run(valley, noise, comm=MPI.COMM_SELF, **kw)
    assert par.summary["mpi_ranks"] == comm.size
    assert np.array_equal(par.final, ser.final) and np.array_equal(par.status, ser.status)
    assert np.array_equal(par.hist_theta1, ser.hist_theta1)
    assert np.allclose(par.series[1], ser.series[1], rtol=1e-12)  # sums in another order
    assert {k: v for k, v in par.summary.items() if k not in TIMING} == \
           {k: v for k, v in ser.summary.items() if k not in TIMING}
