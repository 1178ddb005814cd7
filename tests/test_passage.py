"""The backward equation (MODEL.md §8) against exact answers: the mean
first-passage time of an isotropic OU process into a small central disk
(radial, exact by 1-D quadrature), the 1-D reduction of a separable model
(= theory.mean_first_passage_time, Gardiner 5.2.7), and the harmonic
committor and absorbing-wall exit time of pure diffusion in an annulus."""

from __future__ import annotations

import math
from pathlib import Path

import gmsh
import numpy as np
import pytest
import scipy.integrate
import ufl
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fpsolve import _compat, model, passage, theory
from fpsolve.model import ModelError

R_OUT, R_IN = 1.5, 0.1


MESH_T005 = Path(__file__).resolve().parents[1] / "meshes" / "double-well_T0.05.msh"

def _annulus(h_in: float, h_out: float, comm=MPI.COMM_SELF):
    """Disk of radius R_OUT minus the target disk R_IN, graded from h_in at
    the hole, quadratic geometry (the hole's circle to O(h³))."""
    _compat.gmsh_initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("annulus")
        if comm.rank == 0:
            occ = gmsh.model.occ
            occ.cut([(2, occ.addDisk(0, 0, 0, R_OUT, R_OUT))], [(2, occ.addDisk(0, 0, 0, R_IN, R_IN))])
            occ.synchronize()
            gmsh.model.addPhysicalGroup(2, [t for _, t in gmsh.model.getEntities(2)], 1)
            field = gmsh.model.mesh.field
            f = field.add("MathEval")
            field.setString(f, "F", f"Min({h_in} + 0.15 * (Sqrt(x^2 + y^2) - {R_IN}), {h_out})")
            field.setAsBackgroundMesh(f)
            for opt in ("Mesh.MeshSizeExtendFromBoundary", "Mesh.MeshSizeFromPoints", "Mesh.MeshSizeFromCurvature"):
                gmsh.option.setNumber(opt, 0)
            gmsh.model.mesh.generate(2)
            gmsh.model.mesh.setOrder(2)
        msh, _, _ = _compat.model_to_mesh(gmsh.model, comm, 0, 2)
    finally:
        gmsh.finalize()
    return msh


@pytest.fixture(scope="module")
def annulus():
    return _annulus(0.02, 0.1)


def test_isotropic_ou_mfpt_into_a_central_disk(annulus):
    k, d, r0 = 1.0, 0.1, 0.8
    # 𝓛τ = −1 radially, τ(a) = 0, τ'(R) = 0:  τ'(r) = (1 − e^{k(r² − R²)/2d}) / (k r)
    exact = scipy.integrate.quad(lambda r: (1 - math.exp(k * (r * r - R_OUT ** 2) / (2 * d))) / (k * r),
                                 R_IN, r0, epsabs=1e-14, epsrel=1e-13)[0]
    x = ufl.SpatialCoordinate(annulus)
    sol = passage.mean_first_passage_time(annulus, -k * ufl.as_vector((x[0], x[1])), d * ufl.Identity(2),
                                          target=passage.disk_target((0.0, 0.0), R_IN))
    angles = np.linspace(0, 2 * np.pi, 5, endpoint=False)
    got = sol.evaluate(r0 * np.column_stack([np.cos(angles), np.sin(angles)]))
    np.testing.assert_allclose(got, exact, rtol=1e-3)


def test_diffusion_in_an_annulus_committor_and_absorbing_exit_time(annulus):
    d = 0.3
    x = ufl.SpatialCoordinate(annulus)
    zero = ufl.as_vector((0.0 * x[0], 0.0 * x[0]))
    r = np.array([0.2, 0.5, 1.0, 1.4])
    pts = np.column_stack([r * math.cos(0.3), r * math.sin(0.3)])
    target = passage.disk_target((0.0, 0.0), R_IN)
    q = passage.committor(annulus, zero, d * ufl.Identity(2), target=target)
    np.testing.assert_allclose(q.evaluate(pts), np.log(R_OUT / r) / math.log(R_OUT / R_IN), atol=1e-4)
    tau = passage.mean_first_passage_time(annulus, zero, d * ufl.Identity(2), target=target, wall="absorbing")
    want = (R_OUT ** 2 - r * r) / (4 * d) - (R_OUT ** 2 - R_IN ** 2) / (4 * d) * np.log(R_OUT / r) / math.log(R_OUT / R_IN)
    # discretisation error at r = 0.2 (next to the hole): 1.0e-4 with gmsh 4.8's
    # mesh (Debian 12), 1.24e-4 with gmsh 4.13's (Debian 13)
    np.testing.assert_allclose(tau.evaluate(pts), want, rtol=2.5e-4)


def test_separable_model_reduces_to_the_1d_formula():
    land = model.Landscape.from_preset("double-well")
    T = 0.05
    st = theory.search_time(land, T)
    x0, tgt, refl = st["start"], st["target"], st["reflect"]
    want = theory.mean_first_passage_time(land, T, x0, tgt, refl)
    # dθ1 = A(θ1) dt + sqrt(2B) dW (S44) beside an independent OU θ2, on a
    # rectangle: reflecting everywhere but the edge θ1 = target
    msh = dmesh.create_rectangle(MPI.COMM_SELF, [np.array([tgt, -0.5]), np.array([refl, 0.5])], [400, 2])
    x = ufl.SpatialCoordinate(msh)
    A, B = theory._drift(land, T, x[0]), theory._diffusion(land, T, x[0])
    sol = passage.mean_first_passage_time(msh, ufl.as_vector((A, -x[1])), ufl.as_matrix(((B, 0.0), (0.0, 0.1))),
                                          target=passage.box_target(tgt - 1.0, 0.0, 1.0, 1.0))
    np.testing.assert_allclose(sol.evaluate(np.array([[x0, 0.0], [x0, 0.4]])), want, rtol=1e-5)


def test_search_case_on_a_custom_model_equals_the_preset():
    # the valley with Σ = Δ H² given as a covariance expression is a custom
    # model (MODEL.md §7: sympy's ∇L, D, ∇·D, not the preset's formulas) with
    # the preset's equation: same mesh, target and start, same τ
    import sympy as sp

    from fpsolve.symbolic import VALLEY_EXPRESSION, Model

    t1, t2 = sp.symbols("theta1 theta2")
    H = sp.hessian(sp.sympify(VALLEY_EXPRESSION, locals={"theta1": t1, "theta2": t2}), (t1, t2))
    H2 = H * H
    cov = tuple(f"Delta*({sp.sstr(e)})" for e in (H2[0, 0], H2[0, 1], H2[1, 1]))
    custom = Model.from_expression(VALLEY_EXPRESSION, model.PRESETS["double-well"], cov, alpha=0.05, T=0.05)
    assert custom.valley is None or custom.noise not in ("sgd", "sgd-diagonal")
    kw = dict(target=(0.665, 0.0, 0.11, 0.128), start=(0.99, 0.0), mesh=str(MESH_T005), grid=None)
    want = passage.search_case(model.Landscape.from_preset("double-well"), model.Noise(0.05, 1.0), **kw)
    got = passage.search_case(custom, **kw)
    assert got.summary["case"]["model"]["noise"] != "sgd" and want.summary["search_time"] > 1
    assert got.summary["search_time"] == pytest.approx(want.summary["search_time"], rel=1e-8)
    # without a start: θ* + (3 W1, 0) from the stationary peak (passage.CUSTOM_TARGET_RULE);
    # the 2-D density's maximum lies on the valley floor θ2 = 0 within a peak
    # width of the θ1-marginal's mode 0.665 (or its mirror image)
    s = passage.search_case(custom, target=kw["target"], mesh=kw["mesh"], grid=None).summary
    (m1, m2), (w1, w2) = s["stationary_peak"]["mode"], s["stationary_peak"]["widths"]
    assert s["start_default"] and not s["target_default"] and s["start"] == pytest.approx([m1 + 3 * w1, m2])
    assert abs(m2) < 1e-2 * w2 and abs(abs(m1) - 0.665) < w1, s["stationary_peak"]


def test_bad_targets_raise():
    # a box that misses the disk is refused before any mesh exists; one that reaches in is kept
    with pytest.raises(ModelError, match="target 3 0 0.5 0.5 lies outside the disk of radius 2"):
        passage.check_target((3.0, 0.0, 0.5, 0.5), 2.0, (0.0, 0.0))
    with pytest.raises(ModelError, match="outside the disk"):
        passage.check_target((1.9, 1.9, 0.4, 0.4), 2.0, (0.0, 0.0))  # corner gap hypot(1.5, 1.5) > 2
    assert passage.check_target((2.3, 0.0, 0.5, 0.5), 2.0, (0.0, 0.0)) == (2.3, 0.0, 0.5, 0.5)
    with pytest.raises(ModelError, match="half-widths"):
        passage.box_target(0.0, 0.0, -1.0, 1.0)
    with pytest.raises(ModelError, match="finite"):
        passage.box_target(float("nan"), 0.0, 1.0, 1.0)
    msh = dmesh.create_unit_square(MPI.COMM_SELF, 4, 4)
    x = ufl.SpatialCoordinate(msh)
    with pytest.raises(ModelError, match="no mesh node"):
        passage.mean_first_passage_time(msh, ufl.as_vector((0 * x[0], 0 * x[0])), ufl.Identity(2),
                                        target=passage.box_target(5.0, 5.0, 0.1, 0.1))
