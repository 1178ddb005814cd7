"""Differences between DOLFINx releases (0.5.2 on Debian 12, 0.9.0 on Debian 13).

Every version switch of the package lives here and nowhere else; each shim
is exercised by ``tests/test_compat.py``.  Imports of DOLFINx are deferred
into the functions so that the numpy-only parts of fpsolve (model, theory,
Monte Carlo) import without it.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence, Tuple

import numpy as np

from fpsolve.tools import caches as _caches
from fpsolve.tools.signals import deferred_sigint, keep_sigint_handler
from fpsolve.tools.io import hdf5_errors


def dolfinx_version() -> Tuple[int, int]:
    """(major, minor) of the installed DOLFINx."""
    import dolfinx

    major, minor = dolfinx.__version__.split(".")[:2]
    return int(major), int(minor)


def _new() -> bool:
    """True for DOLFINx >= 0.7, where the APIs below were renamed."""
    return dolfinx_version() >= (0, 7)


_JIT_READY = False


def prepare_jit() -> None:
    """Make DOLFINx's just-in-time compilation quiet and its cache usable
    (once per process; called before the first compilation).

    * Cache: when the default ``$XDG_CACHE_HOME/fenics`` (``~/.cache/fenics``)
      is not writable (read-only HOME), it moves to ``<tmp>/fenics-cache-<uid>``
      with one line naming the cause (``fpsolve.tools.caches``).
    * Chatter: cffi builds with distutils, which lowers the root logger to
      INFO and logs every compiler command on it (``INFO:root:x86_64-linux-
      gnu-gcc ...``, printed by the handler ``import dolfinx`` installs); a
      filter on the root logger drops distutils/setuptools records below
      WARNING, and nothing else.  (``DOLFINX_DEFAULT_JIT_PARAMETERS`` on 0.5,
      ``DOLFINX_DEFAULT_JIT_OPTIONS`` from 0.6 on.)
    """
    global _JIT_READY
    if _JIT_READY:
        return
    import logging
    from pathlib import Path

    from dolfinx import jit


    # on the root logger (distutils logs there) and on its handlers (which
    # also see records that propagate from child loggers)
    for target in (logging.root, *logging.root.handlers):
        target.addFilter(_quiet_build)
    defaults = getattr(jit, "DOLFINX_DEFAULT_JIT_OPTIONS", None) or jit.DOLFINX_DEFAULT_JIT_PARAMETERS
    getter = getattr(jit, "get_options", None) or jit.get_parameters
    cache = Path(getter()["cache_dir"])
    problem = _caches.unwritable(cache)
    if problem is not None:
        defaults["cache_dir"] = (_caches.fallback("fenics", cache, problem), defaults["cache_dir"][1])
    _JIT_READY = True


def _quiet_build(record: Any) -> bool:
    """Logging filter: False for the C build's INFO/DEBUG records."""
    import logging

    return record.levelno >= logging.WARNING or not any(
        part in record.pathname for part in ("distutils", "setuptools"))


def functionspace(mesh: Any, family: str = "Lagrange", degree: int = 1, shape: Sequence[int] | None = None) -> Any:
    """Scalar (``shape=None``) or vector/tensor Lagrange space on ``mesh``."""
    from dolfinx import fem

    prepare_jit()
    if _new():
        element = (family, degree) if shape is None else (family, degree, tuple(shape))
        return fem.functionspace(mesh, element)
    if shape is None:
        return fem.FunctionSpace(mesh, (family, degree))
    if len(shape) == 1:
        return fem.VectorFunctionSpace(mesh, (family, degree), dim=shape[0])
    return fem.TensorFunctionSpace(mesh, (family, degree), shape=tuple(shape))


def petsc_vec(u: Any) -> Any:
    """The PETSc vector behind a ``fem.Function`` (``u.vector`` on 0.5)."""
    return u.x.petsc_vec if _new() else u.vector


def interpolation_points(V: Any) -> np.ndarray:
    """Reference interpolation points of V's element (method on 0.5, property later)."""
    pts = V.element.interpolation_points
    return pts() if callable(pts) else pts


def expression(ufl_expr: Any, V: Any) -> Any:
    """A ``fem.Expression`` evaluating ``ufl_expr`` at V's interpolation points."""
    from dolfinx import fem

    return fem.Expression(ufl_expr, interpolation_points(V))


def jit_options_key() -> str:
    """Keyword that carries JIT options to ``fem.form``/``LinearProblem``."""
    return "jit_options" if _new() else "jit_params"


def bb_tree(mesh: Any, dim: int | None = None) -> Any:
    """Bounding-box tree of the cells of ``mesh``."""
    from dolfinx import geometry

    dim = mesh.topology.dim if dim is None else dim
    if _new():
        return geometry.bb_tree(mesh, dim)
    return geometry.BoundingBoxTree(mesh, dim)


def colliding_cells(mesh: Any, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For points of shape (n, 3): indices of the points found on this rank
    and, for each, one local cell that contains it."""
    from dolfinx import geometry

    points = np.ascontiguousarray(points, dtype=np.float64)
    tree = bb_tree(mesh)
    if _new():
        candidates = geometry.compute_collisions_points(tree, points)
    else:
        candidates = geometry.compute_collisions(tree, points)
    cells = geometry.compute_colliding_cells(mesh, candidates, points)
    # vectorised over the adjacency list (a Python loop is slow for 1e5+ points)
    offsets = np.asarray(cells.offsets)
    found = np.flatnonzero(offsets[1:] > offsets[:-1]).astype(np.int64)
    first = np.asarray(cells.array)[offsets[found]].astype(np.int32)
    return found, first


#: Nodes per cell of the gmsh/VTK Lagrange cells create_mesh reads: (cell, geometry degree) -> nodes.
_CELL_NODES = {("triangle", 1): 3, ("triangle", 2): 6, ("tetrahedron", 1): 4, ("tetrahedron", 2): 10}


def create_mesh(comm: Any, cells: np.ndarray, points: np.ndarray, degree: int = 1, cell: str = "triangle") -> Any:
    """A distributed mesh of ``cell`` (``triangle``: gdim 2; ``tetrahedron``:
    gdim 3) from ``cells`` (m, nodes per cell: 3 or 6 for triangles, 4 or 10
    for tetrahedra) in gmsh/VTK node order and ``points`` (n, gdim), given on
    any ranks (empty arrays elsewhere).  (``ufl.VectorElement`` on 0.5,
    basix.ufl from 0.7.)"""
    import ufl
    from dolfinx import cpp, mesh as dmesh

    prepare_jit()  # the coordinate element is compiled
    gdim = 2 if cell == "triangle" else 3
    if _new():
        import basix
        import basix.ufl

        # equispaced, as dolfinx.io.gmshio makes coordinate elements
        domain = ufl.Mesh(basix.ufl.element("Lagrange", cell, degree, shape=(gdim,),
                                            lagrange_variant=basix.LagrangeVariant.equispaced))
    else:
        domain = ufl.Mesh(ufl.VectorElement("Lagrange", getattr(ufl, cell), degree))
    nodes = _CELL_NODES[(cell, degree)]
    perm = np.asarray(cpp.io.perm_gmsh(getattr(dmesh.CellType, cell), nodes))
    cells = np.ascontiguousarray(np.asarray(cells, dtype=np.int64).reshape(-1, nodes)[:, perm])
    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, gdim))
    if _new():  # from 0.6 a parallel mesh has no ghost cells unless asked: facet integrals need them
        return dmesh.create_mesh(comm, cells, points, domain, partitioner=shared_facet_partitioner())
    return dmesh.create_mesh(comm, cells, points, domain)


def shared_facet_partitioner() -> Any:
    """The cell partitioner that ghosts the cells across every shared facet:
    DOLFINx 0.5's default, 0.6+ must be asked (interior facet integrals, the
    adaptive loop's jump terms, fail without it under MPI)."""
    from dolfinx import mesh as dmesh

    return dmesh.create_cell_partitioner(dmesh.GhostMode.shared_facet)


def import_gmsh() -> Any:
    """``import gmsh`` keeping Python's SIGINT handler: gmsh 4.8 resets
    SIGINT to SIG_DFL on import (and so does ``dolfinx.io.gmshio``), which
    would make Ctrl-C kill the process silently instead of raising
    KeyboardInterrupt (``fpsolve.tools.signals``)."""

    with deferred_sigint(), keep_sigint_handler():  # the first import of DOLFINx in a run
        import gmsh
        from dolfinx.io import gmshio  # noqa: F401 - imports gmsh too
    return gmsh


def model_to_mesh(gmsh_model: Any, comm: Any, rank: int = 0, gdim: int = 2) -> Tuple[Any, Any, Any]:
    """(mesh, cell_tags, facet_tags) from an in-memory gmsh model."""
    import_gmsh()
    prepare_jit()
    from dolfinx.io import gmshio

    if _new():
        result = gmshio.model_to_mesh(gmsh_model, comm, rank, gdim=gdim, partitioner=shared_facet_partitioner())
    else:
        result = gmshio.model_to_mesh(gmsh_model, comm, rank, gdim=gdim)
    if isinstance(result, tuple):
        return result[0], result[1], result[2]
    return result.mesh, result.cell_tags, result.facet_tags  # 0.10+: MeshData


def _gmsh_has_interruptible() -> bool:
    import inspect

    gmsh = import_gmsh()

    try:
        return "interruptible" in inspect.signature(gmsh.initialize).parameters
    except (TypeError, ValueError):
        return False


def gmsh_initialize() -> None:
    """Start gmsh without installing its SIGINT handler (not main thread safe)."""
    gmsh = import_gmsh()

    if _gmsh_has_interruptible():
        gmsh.initialize(interruptible=False)
    else:
        gmsh.initialize()


def write_xdmf(path: str, mesh: Any, function: Any, time: float = 0.0) -> None:
    """Write ``function`` with ``mesh`` to XDMF (+ .h5).

    XDMF on 0.9 needs the output degree to equal the mesh degree, so the
    function is interpolated into Lagrange of the mesh's geometric degree
    first (a no-op copy when they already match).
    """
    from dolfinx import fem, io

    degree = mesh_degree(mesh)
    V = function.function_space
    out = function
    if space_degree(V) != degree:
        W = functionspace(mesh, "Lagrange", degree)
        out = fem.Function(W, name=function.name)
        out.interpolate(function)
    with hdf5_errors(path), io.XDMFFile(mesh.comm, str(path), "w") as xdmf:
        xdmf.write_mesh(mesh)
        xdmf.write_function(out, time)


def space_degree(V: Any) -> int:
    """The polynomial degree of the function space ``V`` (a method or a property of its element by release)."""
    element = V.ufl_element()
    return int(element.degree() if callable(getattr(element, "degree", None)) else element.degree)


def mesh_degree(mesh: Any) -> int:
    """The degree of the mesh's coordinate map (1: straight cells, 2: curved)."""
    cmap = mesh.geometry.cmaps[0] if hasattr(mesh.geometry, "cmaps") else mesh.geometry.cmap
    return int(cmap.degree)


def quadrature_triangle(degree: int) -> Tuple[np.ndarray, np.ndarray]:
    """(points, weights) of basix's default rule on the reference triangle,
    exact for polynomials of ``degree``."""
    import basix

    return basix.make_quadrature(basix.CellType.triangle, degree)


def quadrature_cell(cell: str, degree: int) -> Tuple[np.ndarray, np.ndarray]:
    """(points, weights) of basix's default rule on the reference ``cell``
    (``triangle``, ``tetrahedron``), exact for polynomials of ``degree``."""
    import basix

    return basix.make_quadrature(getattr(basix.CellType, cell), degree)


def eval_expression(expr: Any, mesh: Any, cells: np.ndarray) -> np.ndarray:
    """Values of a ``fem.Expression`` on ``cells``: shape (cells, points*size).
    (``eval(cells)`` on 0.5, ``eval(mesh, cells)`` from 0.7 on.)"""
    cells = np.ascontiguousarray(cells, dtype=np.int32)
    if _new():
        return np.asarray(expr.eval(mesh, cells))
    return np.asarray(expr.eval(cells))


def expression_at(ufl_expr: Any, points: np.ndarray) -> Any:
    """A ``fem.Expression`` of ``ufl_expr`` at reference ``points``."""
    from dolfinx import fem

    return fem.Expression(ufl_expr, np.ascontiguousarray(points, dtype=np.float64))


def locate_boundary_dofs(V: Any) -> np.ndarray:
    """Dofs of V on the exterior facets of its mesh."""
    from dolfinx import fem, mesh as dmesh

    msh = V.mesh
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    facets = dmesh.exterior_facet_indices(msh.topology)
    return fem.locate_dofs_topological(V, tdim - 1, facets)


def incident_edges(mesh: Any, cells: np.ndarray) -> np.ndarray:
    """Local indices of the edges of ``cells`` (local cell indices) of a
    triangle mesh (``compute_incident_entities`` takes the mesh on 0.5 and
    the topology from 0.7 on)."""
    from dolfinx import mesh as dmesh

    mesh.topology.create_entities(1)
    mesh.topology.create_connectivity(2, 1)
    cells = np.ascontiguousarray(cells, dtype=np.int32)
    target = mesh.topology if _new() else mesh
    return np.asarray(dmesh.compute_incident_entities(target, cells, 2, 1), dtype=np.int32)


def cell_vertices(mesh: Any) -> np.ndarray:
    """Geometry node indices of the cells, shape (cells, nodes per cell)
    (an AdjacencyList on 0.5, a 2-D array from 0.7 on)."""
    dofmap = mesh.geometry.dofmap
    array = np.asarray(dofmap.array if hasattr(dofmap, "array") else dofmap)
    n_cells = mesh.topology.index_map(mesh.topology.dim)
    total = n_cells.size_local + n_cells.num_ghosts
    return array.reshape(total, -1)


def cell_geometry_dofs(mesh: Any, cell: int) -> np.ndarray:
    """Indices into ``mesh.geometry.x`` of one cell's nodes (an adjacency
    list on 0.5, a 2-D array later)."""
    dofmap = mesh.geometry.dofmap
    if hasattr(dofmap, "links"):
        return np.asarray(dofmap.links(cell))
    return np.asarray(dofmap[cell])


class XdmfSeries:
    """An XDMF (+ .h5) time series of one function on one mesh (ParaView).

    ``write(function, t)`` appends a time; on 0.9 the function is first
    interpolated into Lagrange of the mesh's geometric degree (as in
    :func:`write_xdmf`).  Collective; use as a context manager.
    """

    def __init__(self, path: str, mesh: Any) -> None:
        from dolfinx import io

        self.mesh = mesh
        self.path = path
        with hdf5_errors(path):
            self.file = io.XDMFFile(mesh.comm, str(path), "w")
            self.file.write_mesh(mesh)
        self._out = None

    def write(self, function: Any, t: float) -> None:
        from dolfinx import fem

        out = function
        if space_degree(function.function_space) != mesh_degree(self.mesh):
            if self._out is None:
                W = functionspace(self.mesh, "Lagrange", mesh_degree(self.mesh))
                self._out = fem.Function(W, name=function.name)
            self._out.interpolate(function)
            out = self._out
        with hdf5_errors(self.path):
            self.file.write_function(out, t)

    def __enter__(self) -> "XdmfSeries":
        return self

    def __exit__(self, *exc: Any) -> None:
        with hdf5_errors(self.path):
            self.file.close()


def refine(mesh: Any, edges: np.ndarray) -> Any:
    """The mesh with the given local edges (and what conformity needs)
    bisected (``refine`` returns a Mesh on 0.5, a tuple from 0.9)."""
    from dolfinx import mesh as dmesh

    mesh.topology.create_entities(1)
    edges = np.ascontiguousarray(edges, dtype=np.int32)
    if "redistribute" in inspect.signature(dmesh.refine).parameters:
        # 0.5: the refined cells stay on the rank of their parent.  Its
        # redistribution (a graph partition) failed in Fig. S4's search-time
        # sweep after other figures had run in the same process ("Data size
        # mismatch between local and global adjacency lists").
        return dmesh.refine(mesh, edges, redistribute=False)
    out = dmesh.refine(mesh, edges)
    return out[0] if isinstance(out, tuple) else out


def petsc_option_used(name: str) -> bool | None:
    """Whether PETSc read the option ``name`` (full key, without the dash)
    from its options database: PETSc's ``PetscOptionsUsed``, the mechanism of
    ``-options_left``, which petsc4py does not wrap; called through the
    already loaded libpetsc.  None where the library or symbol is not found
    (then nothing is judged)."""
    import ctypes

    from petsc4py import PETSc  # noqa: F401  (loads libpetsc)

    global _PETSC_LIB
    if _PETSC_LIB is None:
        path = None
        try:
            with open("/proc/self/maps") as maps:
                for line in maps:
                    file = line.split()[-1]
                    if "/libpetsc" in file and ".so" in file:
                        path = file
                        break
            _PETSC_LIB = ctypes.CDLL(path) if path else False
            _PETSC_LIB.PetscOptionsUsed  # noqa: B018  (AttributeError when absent)
        except (OSError, AttributeError):
            _PETSC_LIB = False
    if not _PETSC_LIB:
        return None
    used = ctypes.c_int(0)
    if _PETSC_LIB.PetscOptionsUsed(None, name.encode(), ctypes.byref(used)) != 0:
        return None
    return bool(used.value)


_PETSC_LIB: Any = None
