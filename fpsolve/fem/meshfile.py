"""Mesh files (``--mesh``): any 2-D triangle mesh that meshio reads.

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


@dataclasses.dataclass
class MeshData:
    """A triangle mesh as arrays: ``points`` (n, 2) in θ units, ``cells``
    (m, 3) or (m, 6) node indices in meshio/gmsh/VTK order (vertices, then
    the midpoints of edges 01, 12, 20), and its domain description."""

    points: np.ndarray
    cells: np.ndarray
    domain: dict
    source: str = "arrays"

    @property
    def degree(self) -> int:
        """Geometric degree: 1 (straight) or 2 (curved 6-node triangles)."""
        return 1 if self.cells.shape[1] == 3 else 2


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


def read(path: str | Path) -> MeshData:
    """Read and check a 2-D triangle mesh file (numpy only, on one process).

    Raises ModelError (naming the file) for a missing file, a file meshio
    cannot parse, a 3-D mesh, a mesh without triangles or with degenerate
    ones, or mixed linear and curved triangles.
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
    data = from_arrays(m.points, [(block.type, block.data) for block in m.cells], name=str(path))
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
        raise ModelError(f"--mesh {name}: a 3-D mesh ({', '.join(solid)} cells); fpsolve needs a 2-D triangle mesh")
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


def read_on_root(path: str | Path, comm: Any, root: int = 0) -> MeshData:
    """:func:`read` on rank ``root`` (collective).  Rank ``root`` gets the
    mesh, the other ranks a MeshData with no points or cells but the same
    ``domain`` and ``source`` (what :func:`load` distributes).  A bad file
    raises the same ModelError on every rank, so no rank is left waiting;
    scripts call this before any computation."""
    data, error = None, None
    if comm.rank == root:
        try:
            data = read(path)
        except ModelError as exc:
            error = str(exc)
    error = comm.bcast(error, root=root)
    if error is not None:
        raise ModelError(error)
    header = comm.bcast(None if data is None else (data.cells.shape[1], data.domain, data.source), root=root)
    if comm.rank != root:
        nodes, domain, source = header
        data = MeshData(np.zeros((0, 2)), np.zeros((0, nodes), dtype=np.int64), domain, source)
    return data


def load(mesh: "str | Path | MeshData", comm: Any, root: int = 0) -> Tuple[Any, dict]:
    """(DOLFINx mesh, description) of a mesh file, or of the MeshData that
    :func:`read_on_root` returned, distributed over ``comm`` (collective;
    a bad file raises ModelError on every rank).  The description holds
    ``source``, ``domain`` ("disk"/"mesh"), ``radius``, ``center`` (the
    disk's, else None), ``bounding_box``, ``area``, ``geometry_degree``."""

    data = mesh if isinstance(mesh, MeshData) else read_on_root(mesh, comm, root)
    msh = _compat.create_mesh(comm, data.cells, data.points, degree=data.degree)
    return msh, {"source": data.source, **data.domain, "geometry_degree": data.degree}
