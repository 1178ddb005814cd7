"""The same formulas as UFL on a DOLFINx mesh, with fem.Constant
coefficients, agree with numpy at the dofs (serial and under MPI)."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.model import valley as model
from fpsolve._compat import expression, functionspace

import ufl
from dolfinx import fem, mesh as dmesh
from petsc4py import PETSc


def _check_ufl_matches_numpy(comm):
    msh = dmesh.create_rectangle(comm, [np.array([-1.5, -1.0]), np.array([1.5, 1.0])], [12, 9])
    V = functionspace(msh, "Lagrange", 2)
    x, y = ufl.SpatialCoordinate(msh)[0], ufl.SpatialCoordinate(msh)[1]
    land = model.Landscape.from_preset("double-well")
    noise = model.Noise(0.05, 1.0)
    consts = [fem.Constant(msh, PETSc.ScalarType(c)) for c in land.coefficients]
    T = fem.Constant(msh, PETSc.ScalarType(noise.T))
    D = model.diffusion(x, y, T, *consts)
    divD = model.diffusion_divergence(x, y, T, *consts)
    D0 = model.diffusion(x, y, T, *consts, cross=False)
    grad = model.gradient(x, y, *consts)
    exprs = {
        "loss": model.loss(x, y, *consts),
        "flatness": model.flatness(x, *consts[:3]),
        "D11": D[0], "D12": D[1], "D22": D[2],
        "div1": divD[0], "div2": divD[1],
        "div1_nocross": model.diffusion_divergence(x, y, T, *consts, cross=False)[0],
        "D11_nocross": D0[0], "grad1": grad[0], "grad2": grad[1],
    }
    pts = V.tabulate_dof_coordinates()
    px, py = pts[:, 0], pts[:, 1]
    nd = noise.diffusion(land, px, py)
    ndiv = noise.diffusion_divergence(land, px, py)
    want = {
        "loss": land.loss(px, py), "flatness": land.flatness(px),
        "D11": nd[0], "D12": nd[1], "D22": nd[2], "div1": ndiv[0], "div2": ndiv[1],
        "div1_nocross": noise.diffusion_divergence(land, px, py, cross=False)[0],
        "D11_nocross": noise.diffusion(land, px, py, cross=False)[0],
        "grad1": land.gradient(px, py)[0], "grad2": land.gradient(px, py)[1],
    }
    worst = 0.0
    for name, e in exprs.items():
        u = fem.Function(V)
        u.interpolate(expression(e, V))
        scale = max(np.abs(want[name]).max(), 1e-300)
        err = np.abs(u.x.array - want[name]).max() / scale
        worst = max(worst, err)
        assert err < 1e-12, (name, err)
    # a changed Constant changes the values without a new form
    T.value = 2 * noise.T
    u = fem.Function(V)
    u.interpolate(expression(exprs["D22"], V))
    np.testing.assert_allclose(u.x.array, 2 * want["D22"], rtol=1e-12)
    return comm.allreduce(worst, op=MPI.MAX)


def test_ufl_and_numpy_agree_serial():
    assert _check_ufl_matches_numpy(MPI.COMM_SELF) < 1e-12


@pytest.mark.mpi
def test_ufl_and_numpy_agree_mpi():
    assert MPI.COMM_WORLD.size >= 2, "run under mpirun -n 2"
    assert _check_ufl_matches_numpy(MPI.COMM_WORLD) < 1e-12
