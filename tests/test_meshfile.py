"""Mesh files (``--mesh``, fpsolve.fem.meshfile): every 2-D triangle mesh meshio
reads gives the right domain (area, centre, radius to round-off), bad files
are exit 2 with one line, and a solve on a mesh read from a file equals the
solve on the same mesh made in memory."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import meshio
import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from conftest import ROOT, run_script
from fpsolve import _compat
from fpsolve.fem import meshfile
from fpsolve.fem import stationary as solver
from fpsolve.fem import mesh as fmesh
from fpsolve.model.valley import Landscape, ModelError, Noise

R, C = 1.0, (0.25, -0.5)


def _gmsh_disk(path, *, order=1, version=4.1, physical=True, binary=False, h=0.1, square=False, box=False):
    """Write a gmsh mesh of the disk (R, C), of a square, or of a 3-D box."""
    gmsh = _compat.import_gmsh()
    _compat.gmsh_initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("t")
        occ = gmsh.model.occ
        if box:
            occ.addBox(0, 0, 0, 1, 1, 1)
        elif square:
            occ.addRectangle(-1.5, -1.0, 0, 3.0, 2.0)
        else:
            occ.addDisk(C[0], C[1], 0, R, R)
        occ.synchronize()
        dim = 3 if box else 2
        if physical:
            gmsh.model.addPhysicalGroup(dim, [t for _, t in gmsh.model.getEntities(dim)], 1)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.model.mesh.generate(dim)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
        gmsh.option.setNumber("Mesh.MshFileVersion", version)
        gmsh.option.setNumber("Mesh.Binary", int(binary))
        gmsh.option.setNumber("Mesh.SaveAll", int(not physical))
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def _area(msh):
    one = fem.Constant(msh, PETSc.ScalarType(1.0))
    return msh.comm.allreduce(fem.assemble_scalar(fem.form(one * ufl.dx(domain=msh))))


def _polygon_area(data):
    p = data.points[data.cells[:, :3]]
    return 0.5 * np.abs((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                        - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])).sum()


def _convert(src, dst, add_node=False):
    m = meshio.read(str(src))
    cells = [(b.type, b.data) for b in m.cells if b.type in ("triangle", "triangle6")]
    points = m.points
    if add_node:
        points = np.vstack([points, [[C[0], C[1], 0.0]]])  # a stray centre node
    meshio.write(str(dst), meshio.Mesh(points, cells))
    return dst


@pytest.fixture(scope="module")
def msh41(tmp_path_factory):
    return _gmsh_disk(tmp_path_factory.mktemp("m") / "disk41.msh")


@pytest.mark.parametrize("version, physical, binary", [
    (2.2, True, False), (2.2, False, False), (4.1, True, False), (4.1, False, False), (4.1, True, True),
    (2.2, False, True),
])
def test_gmsh_msh_versions_with_and_without_physical_groups(tmp_path, version, physical, binary):
    path = _gmsh_disk(tmp_path / "d.msh", version=version, physical=physical, binary=binary)
    data = meshfile.read(path)
    _check_disk(data, degree=1)
    msh, domain = meshfile.load(path, MPI.COMM_SELF)
    assert _area(msh) == pytest.approx(_polygon_area(data), rel=1e-12)
    assert domain["domain"] == "disk"


def _check_disk(data, degree):
    d = data.domain
    assert data.degree == degree
    assert d["domain"] == "disk"
    assert d["radius"] == pytest.approx(R, rel=1e-9)
    assert d["center"] == pytest.approx(list(C), abs=1e-9)
    # an inscribed polygon: below πR² by O(h²)
    assert _polygon_area(data) == pytest.approx(math.pi * R * R, rel=2e-2)


@pytest.mark.parametrize("suffix", [".xdmf", ".vtu", ".med", ".msh"])
def test_other_formats_and_an_unused_node(tmp_path, msh41, suffix):
    path = _convert(msh41, tmp_path / f"disk{suffix}", add_node=True)
    data = meshfile.read(path)
    _check_disk(data, degree=1)
    ref = meshfile.read(msh41)
    assert len(data.points) == len(ref.points) == len(np.unique(ref.cells))  # the stray node is gone
    msh, _ = meshfile.load(path, MPI.COMM_SELF)
    assert _area(msh) == pytest.approx(_polygon_area(ref), rel=1e-12)


def test_curved_triangles_integrate_the_disk_to_high_order(tmp_path):
    lin = meshfile.read(_gmsh_disk(tmp_path / "p1.msh", h=0.25))
    path = _gmsh_disk(tmp_path / "p2.msh", h=0.25, order=2)
    data = meshfile.read(path)
    _check_disk(data, degree=2)
    msh, domain = meshfile.load(path, MPI.COMM_SELF)
    assert domain["geometry_degree"] == 2
    exact = math.pi * R * R
    err_p1 = abs(_polygon_area(lin) - exact) / exact
    err_p2 = abs(_area(msh) - exact) / exact
    # quadratic edges on the circle: O(h^4) against the polygon's O(h^2)
    assert err_p1 > 1e-3 and err_p2 < 1e-5
    # and through .vtu too (meshio's triangle6 ordering = gmsh's)
    vtu = _convert(path, tmp_path / "p2.vtu")
    msh2, _ = meshfile.load(vtu, MPI.COMM_SELF)
    assert _area(msh2) == pytest.approx(_area(msh), rel=1e-12)


def test_a_square_is_a_mesh_domain_with_its_boundary_from_the_topology(tmp_path):
    data = meshfile.read(_gmsh_disk(tmp_path / "sq.msh", square=True, physical=False, h=0.25))
    d = data.domain
    assert d["domain"] == "mesh" and d["radius"] is None and d["center"] is None
    assert d["bounding_box"] == pytest.approx([-1.5, 1.5, -1.0, 1.0], abs=1e-12)
    assert d["area"] == pytest.approx(6.0, rel=1e-12)
    # the boundary edges' lengths sum to the perimeter 10
    e = meshfile.boundary_edges(data.cells)
    assert np.linalg.norm(data.points[e[:, 0]] - data.points[e[:, 1]], axis=1).sum() == pytest.approx(10.0, rel=1e-12)


@pytest.mark.parametrize("kind, words", [
    ("text", "not a mesh file meshio can read"),
    ("unknown", "not a mesh file meshio can read"),
    ("box", "a 3-D mesh"),
    ("lines", "no triangles"),
    ("missing", "--mesh file not found"),
])
def test_bad_files_raise_model_error(tmp_path, kind, words):
    path = tmp_path / ("m.xyz" if kind == "unknown" else "m.msh")
    if kind in ("text", "unknown"):
        path.write_text("hello, I am not a mesh\n")
    elif kind == "box":
        _gmsh_disk(path, box=True)
    elif kind == "lines":
        meshio.write(str(path), meshio.Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0]]),
                                            [("line", np.array([[0, 1], [1, 2]]))]), file_format="gmsh22")
    with pytest.raises(ModelError, match=words):
        meshfile.read(path)


def _corrupt(src, dst, seed):
    raw = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    start = len(raw) // 4
    raw[start:start + 4096] = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(raw))
    return dst


@pytest.mark.parametrize("args", [
    ["text"], ["box"], ["corrupt"],
])
def test_solve_fp_bad_mesh_exit_2_one_line_nothing_written(tmp_path, args):
    path = tmp_path / "m.msh"
    if args[0] == "text":
        path.write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\ngarbage\n")
    elif args[0] == "box":
        _gmsh_disk(path, box=True)
    else:
        _corrupt(_gmsh_disk(tmp_path / "good.msh", binary=True, h=0.05), path, seed=1)
    out = tmp_path / "out"
    res = run_script("solve_fp.py", "--mesh", str(path), "--out", str(out), timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--mesh" in lines[0] and str(path) in lines[0], res.stderr
    assert not out.exists()


def test_mesh_with_radius_is_a_usage_error(tmp_path, msh41):
    res = run_script("solve_fp.py", "--mesh", str(msh41), "--radius", "1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "--mesh cannot be combined with --radius" in res.stderr.strip()


def test_solve_on_a_mesh_file_equals_the_same_mesh_made_in_memory(tmp_path):
    """The default case on a coarse graded disk of radius 1.5 centred at
    (0, 0.1): written to .msh (no physical groups needed) and read back, the
    solve reproduces the in-memory one to round-off, and its summary records
    the file's radius and centre."""
    land, noise = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    sizes = fmesh.graded_sizes(land, noise, 1.5, (0.0, 0.1), h_min=0.05, h_max=0.2)
    path = tmp_path / "g.msh"
    fmesh.write_msh(sizes, path)
    ref = solver.solve(land, noise, radius=1.5, center=(0.0, 0.1), h_min=0.05, h_max=0.2, degree=1,
                       comm=MPI.COMM_SELF).summary
    got = solver.solve(land, noise, mesh=path, degree=1, comm=MPI.COMM_SELF).summary
    assert got["domain"] == "disk"
    assert got["radius"] == pytest.approx(1.5, rel=1e-12)
    assert got["center"] == pytest.approx([0.0, 0.1], abs=1e-12)
    for key in ("escape_rate", "mean_abs_theta1", "var_theta2"):
        assert got[key] == pytest.approx(ref[key], rel=1e-8, abs=1e-14), key


def test_solve_fp_on_a_unit_disk_file_records_radius_1(tmp_path):
    path = _gmsh_disk(tmp_path / "unit.msh", version=2.2, physical=False, h=0.1)
    out = tmp_path / "out"
    res = run_script("solve_fp.py", "--mesh", str(path), "--degree", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["domain"] == "disk" and s["radius"] == pytest.approx(R, rel=1e-9)
    assert s["center"] == pytest.approx(list(C), abs=1e-9)


def test_solve_on_a_square_records_domain_mesh(tmp_path):
    """A non-disk domain: the Dirichlet boundary is the square's edge (from
    the topology), so the density is a probability density (mass 1) that
    vanishes there."""
    path = _gmsh_disk(tmp_path / "sq.vtu.msh", square=True, physical=False, h=0.1)
    sol = solver.solve(Landscape.from_preset("double-well"), Noise(0.05, 1.0), mesh=path, degree=1,
                       comm=MPI.COMM_SELF)
    s = sol.summary
    assert s["domain"] == "mesh" and s["radius"] is None
    assert s["mass"] == pytest.approx(1.0, rel=1e-10)
    assert s["mesh"]["bounding_box"] == pytest.approx([-1.5, 1.5, -1.0, 1.0], abs=1e-12)
    dofs = _compat.locate_boundary_dofs(sol.density.function_space)
    x = sol.density.function_space.tabulate_dof_coordinates()[dofs]
    on_edge = np.isclose(np.abs(x[:, 0]), 1.5) | np.isclose(np.abs(x[:, 1]), 1.0)
    assert on_edge.all() and len(dofs) == pytest.approx(10 / 0.1, rel=0.3)
    assert np.abs(sol.density.x.array[dofs]).max() == 0.0


@pytest.mark.mpi
def test_bad_mesh_under_mpi_raises_on_every_rank(tmp_path_factory):
    comm = MPI.COMM_WORLD
    path = None
    if comm.rank == 0:
        path = tmp_path_factory.mktemp("bad") / "b.msh"
        path.write_text("not a mesh\n")
    path = comm.bcast(path)
    with pytest.raises(ModelError, match="not a mesh file"):
        meshfile.load(path, comm)


@pytest.mark.mpi
def test_mesh_file_distributed_has_the_serial_area(tmp_path_factory):
    comm = MPI.COMM_WORLD
    path = None
    if comm.rank == 0:
        path = _gmsh_disk(tmp_path_factory.mktemp("good") / "d.msh", order=2, h=0.2)
    path = comm.bcast(path)
    msh, domain = meshfile.load(path, comm)
    serial, _ = meshfile.load(path, MPI.COMM_SELF)
    assert domain["domain"] == "disk"
    assert msh.topology.index_map(2).size_local < msh.topology.index_map(2).size_global
    assert _area(msh) == pytest.approx(_area(serial), rel=1e-12)


SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


@pytest.mark.parametrize("blocks, words", [
    ([("quad", np.array([[0, 1, 2, 3]]))], "no triangles"),
    ([("triangle", np.array([[0, 1, 2]])), ("quad", np.array([[0, 1, 2, 3]]))], "cells other than triangles"),
    ([("triangle", np.array([[0, 1, 2]])), ("triangle6", np.arange(6).reshape(1, 6) % 4)], "mixes linear and curved"),
    ([("triangle", np.array([[0, 1, 2], [0, 0, 3]]))], "1 degenerate"),
    ([("triangle", np.array([[0, 1, 7]]))], "out of range"),
    ([("tetra", np.array([[0, 1, 2, 3]]))], "a 3-D mesh"),
])
def test_bad_cell_blocks(blocks, words):
    with pytest.raises(ModelError, match=words):
        meshfile.from_arrays(SQUARE, blocks, name="m")


def test_two_triangles_make_a_square_with_lines_ignored():
    """Its four corners lie on one circle, but four edges are no disk."""
    data = meshfile.from_arrays(np.column_stack([SQUARE, np.zeros(4)]),
                                [("line", np.array([[0, 1]])), ("triangle", np.array([[0, 1, 2], [0, 2, 3]]))])
    assert data.domain["domain"] == "mesh"
    assert data.domain["area"] == pytest.approx(1.0, rel=1e-15) and data.domain["boundary_edges"] == 4
