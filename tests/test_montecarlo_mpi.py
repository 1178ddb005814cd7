"""Monte Carlo under MPI: walkers split by index across ranks, same numbers as serial."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.mc import ensemble as mc
from fpsolve.model.valley import Landscape, Noise
from fpsolve.model.target import Box

TIMING = {"walker_steps_per_second", "wall_seconds", "mpi_ranks", "numba_threads"}


@pytest.mark.mpi
@pytest.mark.parametrize("method, radius", [("sgd", 2.0), ("sde", math.inf)])
def test_mpi_run_equals_serial_run(method, radius):
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    kw = dict(method=method, walkers=1003, steps=600, seed=17, radius=radius, burn_in=5.0,
              sample_interval=0.5, target=Box((0.6, 0.0), (0.05, 0.05)), snapshot_times=(10.0,),
              sample_from=lambda i: np.column_stack([0.01 * (i % 7), np.zeros(len(i))]))
    noise = Noise(0.1, 3.0) if method == "sde" else Noise(0.05, 1.0)
    landscape = Landscape.from_preset("double-well")
    par = mc.run(landscape, noise, comm=comm, **kw)
    ser = mc.run(landscape, noise, comm=MPI.COMM_SELF, **kw)
    assert par.summary["mpi_ranks"] == comm.size
    assert np.array_equal(par.final, ser.final, equal_nan=True)
    assert np.array_equal(par.status, ser.status) and np.array_equal(par.hist, ser.hist)
    assert np.array_equal(par.first_passage, ser.first_passage, equal_nan=True)
    assert np.array_equal(par.snapshots[10.0], ser.snapshots[10.0])
    assert {k: v for k, v in par.summary.items() if k not in TIMING} == \
           {k: v for k, v in ser.summary.items() if k not in TIMING}
    if method == "sde":
        assert par.summary["diverged_fraction"] > 0.05  # the divergence path crossed ranks too
