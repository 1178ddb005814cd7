"""validate's case run under MPI gives the serial numbers (issue 6).

Run by ``make test`` under ``mpirun -n 2``: the case is run once split over
the ranks (FEM distributed, walkers dealt out) and once on each rank alone;
Monte Carlo histograms must agree exactly, their pooled moments to round-off
(1e-12), the FEM numbers to 1e-8.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fpsolve.validation import three_way as validation
from fpsolve.model.valley import Landscape, Noise

SMALL = dataclasses.replace(validation.QUICK, walkers=400, groups=4, max_time=60.0, refine=0.5)


@pytest.mark.mpi
def test_validate_case_under_mpi_equals_serial():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    land, noise = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    par = validation.run_case(land, noise, settings=SMALL, comm=comm)
    ser = validation.run_case(land, noise, settings=SMALL, comm=MPI.COMM_SELF)
    # the bins follow the FEM density's extent, a parallel reduction: equal to
    # round-off (4e-15 seen on DOLFINx 0.9); no sample lands that close to an edge
    np.testing.assert_allclose(par.xedges, ser.xedges, rtol=1e-12)
    np.testing.assert_allclose(par.yedges, ser.yedges, rtol=1e-12)
    for name, _ in validation.VARIANTS:
        assert par.fem[name]["dofs"] == ser.fem[name]["dofs"]
        for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "mode_theta1"):
            assert par.fem[name][key] == pytest.approx(ser.fem[name][key], rel=1e-8)
        np.testing.assert_allclose(par.fem[name]["bins"], ser.fem[name]["bins"], rtol=1e-8, atol=1e-14)
        np.testing.assert_array_equal(par.mc[name].hist, ser.mc[name].hist)
        # pooled over ranks by a reduction: equal to round-off (1e-15 seen on Open MPI 5)
        assert par.mc[name].moments.keys() == ser.mc[name].moments.keys()
        for key, value in ser.mc[name].moments.items():
            assert par.mc[name].moments[key] == pytest.approx(value, rel=1e-12, abs=1e-300), key
    # and the case itself is the default one: FEM full noise near docs/model.md §6 on this coarse mesh
    assert par.fem["full noise"]["mean_abs_theta1"] == pytest.approx(0.6320, rel=0.03)
