"""The transient and the backward equation under MPI equal their serial
runs on the same mesh (``make test`` runs the ``mpi`` tests under
``mpirun -n 2``)."""

from __future__ import annotations

import numpy as np
import pytest

from fpsolve.model.target import Box
from mpi4py import MPI

from fpsolve.fem import transient as dynamics
from fpsolve.fem import mesh as fmesh
from fpsolve.fem import backward as passage
from fpsolve.fem import forms
from fpsolve.model.valley import Landscape, Noise
from fpsolve.fem.operator import Operator

LAND = Landscape.from_preset("single-well")
NOISE = Noise.from_temperature(0.2, 0.05)


def _run(comm):
    msh, _, _ = fmesh.mesh_for(LAND, NOISE, radius=2.0, center=(0.0, 0.0), mesh=None, h_min=None, h_max=0.3,
                               comm=comm)
    c = forms.model_coefficients(msh, LAND, NOISE, True)
    tr = dynamics.Transient(Operator.build(msh, c.drift, c.D, c.divD, wall="absorbing"), **dynamics.model_observables(msh, LAND))
    ev = tr.run(tr.gaussian((0.5, 0.2), (0.1, 0.1)), 20.0, dt=0.5)
    tau = passage.mean_first_passage_time(Operator.build(msh, c.drift, c.D, c.divD, wall="reflecting"), target=Box.from_numbers((0.0, 0.0, 0.1, 0.2)))
    return ev.rows[-1], tau.evaluate(np.array([[0.8, 0.1], [-0.5, -0.3]]))


@pytest.mark.mpi
def test_parallel_equals_serial():
    assert MPI.COMM_WORLD.size >= 2, "run under mpirun -n 2"
    par_row, par_tau = _run(MPI.COMM_WORLD)
    ser_row, ser_tau = _run(MPI.COMM_SELF)
    for key in dynamics.OBSERVABLES:
        assert par_row[key] == pytest.approx(ser_row[key], rel=1e-8, abs=1e-12), key
    np.testing.assert_allclose(par_tau, ser_tau, rtol=1e-8)
