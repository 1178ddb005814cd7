"""Mesh files (``--mesh``): any 2-D triangle mesh, or 3-D tetrahedral mesh, that meshio reads.

gmsh ``.msh`` (2.2 and 4.1, ASCII or binary, with or without physical
groups), ``.xdmf``, ``.vtu``, ``.med``, ...; linear (3-node) or curved
(6-node) triangles.  The file is parsed by meshio (pure Python, so a corrupt
file raises instead of crashing the process, as gmsh's reader can); every
problem is a :class:`~fpsolve.model.valley.ModelError` naming the file, which the
scripts turn into exit status 2 and one line.

The domain comes from the mesh itself (docs/model.md §4): the boundary is the set
of edges that belong to one triangle only; when its vertices lie on one
circle (a least-squares fit, relative deviation below :data:`DISK_TOLERANCE`)
and it has at least :data:`DISK_MIN_EDGES` edges per turn, the domain is
that disk, with its fitted centre and radius, otherwise it is
reported as ``domain: "mesh"`` with its bounding box.  Nodes that no
triangle uses (e.g. a stray centre point) are dropped.

In three variables (:func:`read` with ``dim=3``, the 3-D solve of
docs/commands.md, *solve_fp.py in 3-D*) the cells are linear (4-node) or
curved (10-node) tetrahedra, the boundary is the set of faces that belong
to one tetrahedron only, and the domain is a ``"ball"`` (a least-squares
sphere through the boundary vertices, the same tolerances) or ``"mesh"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.model.valley import ModelError


#: Largest relative deviation of the boundary vertices from the fitted circle
#: for the domain to count as a disk.
DISK_TOLERANCE = 1e-6
#: Fewest boundary edges per turn for a polygon on a circle to count as a
#: disk (a square's corners lie on a circle too): longest edge <= 2 R sin(π/n).
DISK_MIN_EDGES = 12

#: meshio cell types read as the triangles of the mesh (nodes per cell).
TRIANGLES = {"triangle": 3, "triangle6": 6}
#: Cell types that may sit beside the triangles and are ignored.
LOWER = {"vertex", "line", "line3"}
#: meshio cell types read as the tetrahedra of a 3-D mesh (nodes per cell) ...
TETRAHEDRA = {"tetra": 4, "tetra10": 10}
#: ... and the lower-dimensional ones ignored beside them (wall triangles, edges).
LOWER_3D = LOWER | set(TRIANGLES)
#: meshio's (VTK's) 10-node tetrahedron lists the edges 01 12 02 03 13 23, gmsh's 01 12 20 30 32 31.
_VTK_TO_GMSH_TETRA10 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]


@dataclasses.dataclass
class MeshData:
    """A triangle mesh as arrays: ``points`` (n, 2) in θ units, ``cells``
    (m, 3) or (m, 6) node indices in meshio/gmsh/VTK order (vertices, then
    the midpoints of edges 01, 12, 20), and its domain description; or a
    tetrahedral one: ``points`` (n, 3), ``cells`` (m, 4) or (m, 10) in gmsh
    order (vertices, then the edges 01 12 20 30 32 31)."""

    points: np.ndarray
    cells: np.ndarray
    domain: dict
    source: str = "arrays"

    @property
    def degree(self) -> int:
        """Geometric degree: 1 (straight) or 2 (curved 6-node triangles, 10-node tetrahedra)."""
        return 1 if self.cells.shape[1] in (3, 4) else 2

    @property
    def dim(self) -> int:
        """2 (triangles) or 3 (tetrahedra)."""
        return 3 if self.cells.shape[1] in (4, 10) else 2


def check_path(path: str | Path) -> Path:
    """``path`` when it is a regular file; else ModelError: not found, or it
    exists but is no mesh file (a folder, a device such as /dev/zero, ...)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise ModelError(f"--mesh file not found: {path}")
    import stat

    mode = path.stat().st_mode
    kind = ("a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise ModelError(f"--mesh {path} exists but is {kind}, not a mesh file (give a .msh, .xdmf, .vtu, ... file)")


def read(path: str | Path, dim: int = 2) -> MeshData:
    """Read and check a 2-D triangle mesh file (numpy only, on one process);
    ``dim=3``: a tetrahedral mesh (:func:`from_arrays_3d`).

    Raises ModelError (naming the file) for a missing file, a file meshio
    cannot parse, a mesh of the other dimension, a mesh without triangles
    (tetrahedra) or with degenerate ones, or mixed linear and curved cells.
    """
    path = check_path(path)
    import meshio

    # meshio prints (and, for a file no reader accepts, calls sys.exit(1)):
    # keep its chatter in a buffer and turn every failure into one ModelError
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            m = meshio.read(str(path))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - meshio raises many kinds on bad input
        text = [line for line in (str(exc) if isinstance(exc, Exception) else chatter.getvalue()).splitlines()
                if line.strip()]
        why = f"{type(exc).__name__}: {text[0].strip()[:100]}" if text else type(exc).__name__
        raise ModelError(f"--mesh {path}: not a mesh file meshio can read ({why})") from None
    build = from_arrays_3d if dim == 3 else from_arrays
    data = build(m.points, [(block.type, block.data) for block in m.cells], name=str(path))
    data.source = str(path)
    return data


def from_arrays(points: Any, blocks: list, name: str = "mesh") -> MeshData:
    """Checked :class:`MeshData` from meshio-style ``points`` (n, 2 or 3) and
    ``blocks`` [(cell type, (m, k) node indices), ...]; see :func:`read`."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3) or len(points) == 0:
        raise ModelError(f"--mesh {name}: no 2-D points (points of shape {points.shape})")
    if not np.all(np.isfinite(points)):
        raise ModelError(f"--mesh {name}: non-finite point coordinates")
    types = {t for t, _ in blocks}
    solid = sorted(t for t in types if t not in TRIANGLES and t not in LOWER)
    if any(t.startswith(("tetra", "hexahedron", "wedge", "pyramid")) for t in solid):
        raise ModelError(f"--mesh {name}: a 3-D mesh ({', '.join(solid)} cells); the 2-D solve needs a triangle mesh "
                         "(a tetrahedral one goes with a 3-variable --loss or --fast-directions 2)")
    if points.shape[1] == 3:
        z = points[:, 2]
        scale = max(float(np.ptp(points[:, :2], axis=0).max()), 1e-300)
        if float(np.ptp(z)) > 1e-12 * scale:
            raise ModelError(f"--mesh {name}: a 3-D mesh (z spans [{z.min():g}, {z.max():g}]); "
                             "fpsolve needs a 2-D triangle mesh in the plane")
    tri = sorted(t for t in types if t in TRIANGLES)
    if not tri:
        raise ModelError(f"--mesh {name}: no triangles (cell types: {', '.join(sorted(types)) or 'none'})")
    if len(tri) > 1:
        raise ModelError(f"--mesh {name}: mixes linear and curved triangles ({', '.join(tri)})")
    if solid:
        raise ModelError(f"--mesh {name}: cells other than triangles ({', '.join(solid)})")
    cells = np.concatenate([np.asarray(d, dtype=np.int64).reshape(-1, TRIANGLES[tri[0]])
                            for t, d in blocks if t == tri[0]])
    if cells.min() < 0 or cells.max() >= len(points):
        raise ModelError(f"--mesh {name}: cell node index out of range")
    # drop nodes no triangle uses (a stray centre point, the nodes of lines)
    used, cells = np.unique(cells, return_inverse=True)
    cells = cells.reshape(-1, TRIANGLES[tri[0]]).astype(np.int64)
    points = np.ascontiguousarray(points[used, :2])
    p = points[cells[:, :3]]
    area = 0.5 * ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                  - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
    size = float(np.ptp(points, axis=0).max())
    if not np.all(np.abs(area) > 1e-14 * size * size):
        raise ModelError(f"--mesh {name}: {int(np.sum(np.abs(area) <= 1e-14 * size * size))} degenerate (zero-area) triangles")
    return MeshData(points, cells, describe_domain(points, cells[:, :3], float(np.abs(area).sum()), name))


def boundary_edges(triangles: np.ndarray) -> np.ndarray:
    """(k, 2) vertex pairs of the edges that belong to one triangle only."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return unique[counts == 1]


def describe_domain(points: np.ndarray, triangles: np.ndarray, area: float, name: str = "mesh") -> dict:
    """``domain`` ("disk" or "mesh"), ``radius`` and ``center`` (a disk's,
    else None), ``bounding_box``, ``area`` and ``boundary_edges`` of a mesh."""
    edges = boundary_edges(triangles)
    if len(edges) == 0:
        raise ModelError(f"--mesh {name}: the mesh has no boundary")
    bv = points[np.unique(edges)]
    lo, hi = points.min(axis=0), points.max(axis=0)
    out = {"domain": "mesh", "radius": None, "center": None,
           "bounding_box": [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])],
           "area": area, "boundary_edges": int(len(edges))}
    center, radius, deviation = fit_circle(bv)
    longest = float(np.max(np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)))
    if (radius is not None and deviation < DISK_TOLERANCE
            and longest <= 2.0 * radius * math.sin(math.pi / DISK_MIN_EDGES)):
        out.update({"domain": "disk", "radius": radius, "center": [center[0], center[1]],
                    "circle_deviation": deviation})
    return out


def fit_circle(xy: np.ndarray) -> Tuple[Tuple[float, float], Optional[float], float]:
    """Least-squares circle through points (Kåsa fit): (centre, radius,
    largest relative deviation ``max | |p - c| - R | / R``); radius None when
    the points are collinear."""
    shift = xy.mean(axis=0)
    q = xy - shift
    A = np.column_stack([q[:, 0], q[:, 1], np.ones(len(q))])
    rhs = (q * q).sum(axis=1)
    sol, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    c = sol[:2] / 2.0
    r2 = sol[2] + c @ c
    if not (np.isfinite(r2) and r2 > 0):
        return (float(shift[0]), float(shift[1])), None, math.inf
    radius = math.sqrt(r2)
    deviation = float(np.max(np.abs(np.hypot(q[:, 0] - c[0], q[:, 1] - c[1]) - radius)) / radius)
    center = c + shift
    # snap coordinates that are zero up to rounding (a disk centred at the origin)
    center = [0.0 if abs(v) < 1e-12 * radius else float(v) for v in center]
    return (center[0], center[1]), radius, deviation


def read_on_root(path: str | Path, comm: Any, root: int = 0, dim: int = 2) -> MeshData:
    """:func:`read` on rank ``root`` (collective).  Rank ``root`` gets the
    mesh, the other ranks a MeshData with no points or cells but the same
    ``domain`` and ``source`` (what :func:`load` distributes).  A bad file
    raises the same ModelError on every rank, so no rank is left waiting;
    scripts call this before any computation."""
    data, error = None, None
    if comm.rank == root:
        try:
            data = read(path, dim)
        except ModelError as exc:
            error = str(exc)
    error = comm.bcast(error, root=root)
    if error is not None:
        raise ModelError(error)
    header = comm.bcast(None if data is None else (data.cells.shape[1], data.domain, data.source), root=root)
    if comm.rank != root:
        nodes, domain, source = header
        data = MeshData(np.zeros((0, dim)), np.zeros((0, nodes), dtype=np.int64), domain, source)
    return data


def load(mesh: "str | Path | MeshData", comm: Any, root: int = 0) -> Tuple[Any, dict]:
    """(DOLFINx mesh, description) of a mesh file, or of the MeshData that
    :func:`read_on_root` returned, distributed over ``comm`` (collective;
    a bad file raises ModelError on every rank).  The description holds
    ``source``, ``domain`` ("disk"/"mesh"), ``radius``, ``center`` (the
    disk's, else None), ``bounding_box``, ``area``, ``geometry_degree``; for
    a tetrahedral MeshData ("ball"/"mesh") :func:`describe_domain_3d`'s keys.
    A path is read as a 2-D mesh."""

    data = mesh if isinstance(mesh, MeshData) else read_on_root(mesh, comm, root)
    msh = _compat.create_mesh(comm, data.cells, data.points, degree=data.degree,
                              cell="tetrahedron" if data.dim == 3 else "triangle")
    return msh, {"source": data.source, **data.domain, "geometry_degree": data.degree}


def from_arrays_3d(points: Any, blocks: list, name: str = "mesh") -> MeshData:
    """Checked tetrahedral :class:`MeshData` from meshio-style ``points`` (n, 3)
    and ``blocks`` [(cell type, (m, k) node indices), ...] (10-node cells in
    meshio's VTK order, turned into gmsh's); ModelError naming ``name`` for
    a 2-D mesh, no or mixed tetrahedra, other solid cells, an index out of
    range or a degenerate (zero-volume) tetrahedron.  Unused nodes are dropped."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ModelError(f"--mesh {name}: no 3-D points (points of shape {points.shape}); the 3-D solve needs a "
                         "tetrahedral mesh")
    if not np.all(np.isfinite(points)):
        raise ModelError(f"--mesh {name}: non-finite point coordinates")
    types = {t for t, _ in blocks}
    tet = sorted(t for t in types if t in TETRAHEDRA)
    other = sorted(t for t in types if t not in TETRAHEDRA and t not in LOWER_3D)
    if not tet:
        kind = "a 2-D mesh" if types & set(TRIANGLES) else "no tetrahedra"
        raise ModelError(f"--mesh {name}: {kind} (cell types: {', '.join(sorted(types)) or 'none'}); the 3-D solve "
                         "needs a tetrahedral mesh")
    if len(tet) > 1:
        raise ModelError(f"--mesh {name}: mixes linear and curved tetrahedra ({', '.join(tet)})")
    if other:
        raise ModelError(f"--mesh {name}: cells other than tetrahedra ({', '.join(other)})")
    nodes = TETRAHEDRA[tet[0]]
    cells = np.concatenate([np.asarray(d, dtype=np.int64).reshape(-1, nodes) for t, d in blocks if t == tet[0]])
    if cells.min() < 0 or cells.max() >= len(points):
        raise ModelError(f"--mesh {name}: cell node index out of range")
    if nodes == 10:
        cells = cells[:, _VTK_TO_GMSH_TETRA10]
    used, cells = np.unique(cells, return_inverse=True)
    cells = cells.reshape(-1, nodes).astype(np.int64)
    points = np.ascontiguousarray(points[used])
    p = points[cells[:, :4]]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0]) / 6.0
    size = float(np.ptp(points, axis=0).max())
    bad = int(np.sum(np.abs(vol) <= 1e-14 * size ** 3))
    if bad:
        raise ModelError(f"--mesh {name}: {bad} degenerate (zero-volume) tetrahedra")
    return MeshData(points, cells, describe_domain_3d(points, cells[:, :4], float(np.abs(vol).sum()), name))


def boundary_faces(tetrahedra: np.ndarray) -> np.ndarray:
    """(k, 3) vertex triples of the faces that belong to one tetrahedron only."""
    faces = np.sort(np.concatenate([tetrahedra[:, [1, 2, 3]], tetrahedra[:, [0, 2, 3]], tetrahedra[:, [0, 1, 3]],
                                    tetrahedra[:, [0, 1, 2]]]), axis=1)
    unique, counts = np.unique(faces, axis=0, return_counts=True)
    return unique[counts == 1]


def describe_domain_3d(points: np.ndarray, tetrahedra: np.ndarray, volume: float, name: str = "mesh") -> dict:
    """``domain`` ("ball" or "mesh"), ``radius`` and ``center`` (a ball's,
    else None), ``bounding_box`` [x0, x1, y0, y1, z0, z1], ``volume``,
    ``boundary_faces``, ``h_min``/``h_max`` (shortest, longest edge) and the
    numbers of ``vertices`` and ``edges`` of a tetrahedral mesh (``volume``:
    of the straight tetrahedra).  A ball: the boundary vertices on a least-squares
    sphere within :data:`DISK_TOLERANCE` and no wall edge longer than
    2 R sin(π/:data:`DISK_MIN_EDGES`) (a cube's corners lie on a sphere too)."""
    faces = boundary_faces(tetrahedra)
    if len(faces) == 0:
        raise ModelError(f"--mesh {name}: the mesh has no boundary")
    edges = np.unique(np.sort(np.concatenate([tetrahedra[:, [i, j]] for i in range(4) for j in range(i + 1, 4)]),
                              axis=1), axis=0)
    lengths = np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)
    lo, hi = points.min(axis=0), points.max(axis=0)
    out = {"domain": "mesh", "radius": None, "center": None,
           "bounding_box": [float(v) for pair in zip(lo, hi) for v in pair], "volume": volume,
           "boundary_faces": int(len(faces)), "h_min": float(lengths.min()), "h_max": float(lengths.max()),
           "vertices": int(len(np.unique(tetrahedra))), "edges": int(len(edges))}
    bv = points[np.unique(faces)]
    center, radius, deviation = fit_sphere(bv)
    wall_edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    longest = float(np.max(np.linalg.norm(points[wall_edges[:, 0]] - points[wall_edges[:, 1]], axis=1)))
    if (radius is not None and deviation < DISK_TOLERANCE
            and longest <= 2.0 * radius * math.sin(math.pi / DISK_MIN_EDGES)):
        out.update({"domain": "ball", "radius": radius, "center": list(center), "sphere_deviation": deviation})
    return out


def fit_sphere(xyz: np.ndarray) -> Tuple[Tuple[float, ...], Optional[float], float]:
    """Least-squares sphere through points (the Kåsa fit of :func:`fit_circle`
    in 3-D): (centre, radius, largest relative deviation); radius None when
    the points are coplanar."""
    shift = xyz.mean(axis=0)
    q = xyz - shift
    A = np.column_stack([q, np.ones(len(q))])
    sol, *_ = np.linalg.lstsq(A, (q * q).sum(axis=1), rcond=None)
    c = sol[:3] / 2.0
    r2 = sol[3] + c @ c
    if not (np.isfinite(r2) and r2 > 0) or np.linalg.matrix_rank(A) < 4:
        return tuple(float(v) for v in shift), None, math.inf
    radius = math.sqrt(r2)
    deviation = float(np.max(np.abs(np.linalg.norm(q - c, axis=1) - radius)) / radius)
    center = tuple(0.0 if abs(v) < 1e-12 * radius else float(v) for v in c + shift)
    return center, radius, deviation
