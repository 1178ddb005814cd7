"""Sweeps over MPI ranks give exactly the serial numbers (issue 6).

Run by ``make test`` under ``mpirun -n 2``: each rank computes its share of
the points with :func:`report.map_points`, then every rank recomputes all
points serially and the two lists must be equal bit for bit.
"""

from __future__ import annotations

import pytest

from fpsolve.validation import figures as reproduction
from fpsolve.model.valley import Landscape
from fpsolve.validation.report import map_points


@pytest.mark.mpi
def test_mpi_sweep_equals_serial_sweep():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    single = Landscape.from_preset("single-well")
    double = Landscape.from_preset("double-well")
    fp = [(single, a, 1.0, 1.0, 0.0, 0.1, 64, 100.0, 10 + i) for i, a in enumerate((0.05, 0.1, 0.2))]
    fem = [(double, T, 0.05, True, 0.5) for T in (0.01, 0.05)]
    seen = []
    par_fp = map_points(lambda p: reproduction.first_passage_point(*p), fp, comm,
                        progress=lambda d, n, p: seen.append(d))
    par_fem = map_points(lambda p: reproduction.fem_point(*p), fem, comm)
    ser_fp = [reproduction.first_passage_point(*p) for p in fp]
    assert par_fp == ser_fp
    # the serial FEM sweep on rank 0 only (FEM solves are the slow part)
    ser_fem = [reproduction.fem_point(*p) for p in fem] if comm.rank == 0 else None
    ser_fem = comm.bcast(ser_fem, root=0)
    assert par_fem == ser_fem
    # the points really were split: rank 0 did ceil(3/size) of the 3
    if comm.rank == 0:
        assert len(seen) == -(-len(fp) // comm.size)
    assert ser_fem[1]["mean_abs_theta1"] == pytest.approx(0.6318, rel=0.01)
