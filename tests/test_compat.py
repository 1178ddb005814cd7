"""Each shim of fpsolve._compat, on whichever DOLFINx is installed."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve import _compat

import ufl
from dolfinx import fem, mesh as dmesh
from petsc4py import PETSc


@pytest.fixture(scope="module")
def msh():
    return dmesh.create_unit_square(MPI.COMM_SELF, 4, 4)


def test_version_is_a_supported_release():
    assert _compat.dolfinx_version() >= (0, 5)


def test_functionspace_scalar_and_vector(msh):
    V = _compat.functionspace(msh, "Lagrange", 2)
    assert V.dofmap.index_map.size_local == 9 * 9
    W = _compat.functionspace(msh, "Lagrange", 1, shape=(2,))
    assert W.dofmap.index_map_bs == 2


def test_petsc_vec_and_expression(msh):
    V = _compat.functionspace(msh, "Lagrange", 1)
    u = fem.Function(V)
    x = ufl.SpatialCoordinate(msh)
    u.interpolate(_compat.expression(x[0] + 2 * x[1], V))
    pts = V.tabulate_dof_coordinates()
    np.testing.assert_allclose(u.x.array, pts[:, 0] + 2 * pts[:, 1], atol=1e-14)
    vec = _compat.petsc_vec(u)
    assert isinstance(vec, PETSc.Vec)
    assert vec.getSize() == 25
    assert _compat.interpolation_points(V).shape[1] == 2


def test_jit_options_key_is_accepted(msh):
    V = _compat.functionspace(msh, "Lagrange", 1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    form = fem.form(ufl.inner(u, v) * ufl.dx, **{_compat.jit_options_key(): {}})
    A = fem.assemble_matrix(form) if not hasattr(fem, "petsc") else None
    from dolfinx.fem.petsc import assemble_matrix

    A = assemble_matrix(form)
    A.assemble()
    assert A.getSize() == (25, 25)


def test_colliding_cells_finds_points(msh):
    pts = np.array([[0.1, 0.2, 0.0], [0.9, 0.95, 0.0], [1.5, 0.5, 0.0]])
    found, cells = _compat.colliding_cells(msh, pts)
    assert list(found) == [0, 1]  # the third point is outside
    V = _compat.functionspace(msh, "Lagrange", 1)
    u = fem.Function(V)
    u.interpolate(lambda x: 3 * x[0] - x[1])
    vals = u.eval(pts[found], cells).ravel()
    np.testing.assert_allclose(vals, 3 * pts[found, 0] - pts[found, 1], atol=1e-13)


def test_gmsh_model_and_msh_file_to_mesh(tmp_path):
    gmsh = _compat.import_gmsh()
    _compat.gmsh_initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("disk")
        disk = gmsh.model.occ.addDisk(0, 0, 0, 1.0, 1.0)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [disk], 1)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2)
        gmsh.model.mesh.generate(2)
        path = tmp_path / "disk.msh"
        gmsh.write(str(path))
        msh, cell_tags, _ = _compat.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=2)
    finally:
        gmsh.finalize()
    area = fem.assemble_scalar(fem.form(fem.Constant(msh, PETSc.ScalarType(1.0)) * ufl.dx(domain=msh)))
    assert area == pytest.approx(np.pi, rel=0.03)
    assert np.all(cell_tags.values == 1)
    import meshio

    m = meshio.read(str(path))
    msh2 = _compat.create_mesh(MPI.COMM_SELF, m.cells_dict["triangle"], m.points[:, :2])
    area2 = fem.assemble_scalar(fem.form(fem.Constant(msh2, PETSc.ScalarType(1.0)) * ufl.dx(domain=msh2)))
    assert area2 == pytest.approx(area, rel=1e-12)


def test_write_xdmf_of_p2_function_on_p1_mesh(msh, tmp_path):
    V = _compat.functionspace(msh, "Lagrange", 2)
    u = fem.Function(V, name="density")
    u.interpolate(lambda x: x[0] ** 2)
    path = tmp_path / "density.xdmf"
    _compat.write_xdmf(str(path), msh, u)
    assert path.stat().st_size > 0 and path.with_suffix(".h5").stat().st_size > 0
    text = path.read_text()
    assert 'Name="density"' in text


def test_quadrature_and_expression_eval_integrate_exactly(msh):
    pts, wts = _compat.quadrature_triangle(4)
    assert pts.shape[1] == 2 and wts.sum() == pytest.approx(0.5, rel=1e-14)
    x = ufl.SpatialCoordinate(msh)
    ex = _compat.expression_at(ufl.as_vector((x[0] * x[0] * x[1], abs(ufl.JacobianDeterminant(msh)))), pts)
    cells = np.arange(msh.topology.index_map(2).size_local, dtype=np.int32)
    vals = _compat.eval_expression(ex, msh, cells).reshape(len(cells), len(wts), 2)
    integral = np.sum(vals[:, :, 0] * vals[:, :, 1] * wts[None, :])
    assert integral == pytest.approx(1.0 / 6.0, rel=1e-13)  # ∫∫ x² y over the unit square


def test_locate_boundary_dofs(msh):
    V = _compat.functionspace(msh, "Lagrange", 2)
    dofs = _compat.locate_boundary_dofs(V)
    coords = V.tabulate_dof_coordinates()[dofs]
    assert len(dofs) == 4 * 8  # 4 sides of 8 P2 intervals
    on_edge = np.isclose(coords[:, 0], 0) | np.isclose(coords[:, 0], 1) | np.isclose(coords[:, 1], 0) | np.isclose(coords[:, 1], 1)
    assert np.all(on_edge)


def test_cell_vertices_incident_edges_and_refine(msh):
    nodes = _compat.cell_vertices(msh)
    assert nodes.shape == (32, 3)  # 4 × 4 squares, two triangles each
    cells = np.array([0], dtype=np.int32)
    edges = _compat.incident_edges(msh, cells)
    assert len(edges) == 3
    fine = _compat.refine(msh, edges)
    # bisecting the three edges of one cell (and the closure that keeps the
    # mesh conforming) adds cells but keeps the area
    assert fine.topology.index_map(2).size_local > 32
    area = fine.comm.allreduce(fem.assemble_scalar(fem.form(fem.Constant(fine, PETSc.ScalarType(1.0)) * ufl.dx(domain=fine))))
    assert area == pytest.approx(1.0, rel=1e-14)


def test_xdmf_series_writes_every_time(msh, tmp_path):
    V = _compat.functionspace(msh, "Lagrange", 2)
    u = fem.Function(V, name="density")
    path = tmp_path / "series.xdmf"
    with _compat.XdmfSeries(str(path), msh) as series:
        for t in (0.0, 0.5, 1.0):
            u.interpolate(lambda x, t=t: x[0] + t)
            series.write(u, t)
    text = path.read_text()
    assert text.count('<Time Value=') == 3 and 'Value="0.5"' in text


def test_refine_bisects_the_given_edges_and_cell_geometry_dofs(msh):
    msh.topology.create_entities(1)
    edges = dmesh.locate_entities(msh, 1, lambda x: x[0] <= 0.25 + 1e-12)
    fine = _compat.refine(msh, edges)
    n0, n1 = msh.topology.index_map(2).size_local, fine.topology.index_map(2).size_local
    assert n0 < n1 < 4 * n0   # refined locally, not everywhere
    area = sum(abs(np.linalg.det(np.vstack([fine.geometry.x[_compat.cell_geometry_dofs(fine, c)][1:, :2]
                                            - fine.geometry.x[_compat.cell_geometry_dofs(fine, c)][0, :2]])))
               / 2 for c in range(n1))
    assert area == pytest.approx(1.0, rel=1e-12)
