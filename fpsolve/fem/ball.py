"""Tetrahedral balls for the Fokker-Planck solve in three variables (docs/model.md §4, §9).

A ball of radius R about a centre, meshed by gmsh with a background size
field: the fine size ``h_min`` inside a set of boxes, growing linearly
(slope ``growth``) outside them up to ``h_max``.  Two devices keep the 3-D
mesh small and faithful:

* **mirror symmetry**: a ball centred on θ1 = 0 is meshed as its half
  θ1 ≥ 0 and the other half is its mirror image (nodes on θ1 = 0 shared), so
  the mesh conforms to θ1 = 0 (the kink of ``|θ1|``) and the operator of a
  model even in θ1 commutes with the mirror (:mod:`fpsolve.fem.symmetry`:
  the split of mass between mirror-image wells is then exact); a ball
  off-centre in θ1 is meshed whole, still conforming to θ1 = 0 (cut there);
* **anisotropy along θ1**: with ``stretch`` = c < 1 gmsh meshes the ellipsoid
  ``((ξ1 − c1)/R/c)² + … ≤ 1`` with sizes given in ξ, and the nodes are mapped
  back by ``θ1 − c1 = c (ξ1 − c1)``: every tetrahedron is c times thinner in
  θ1 than in θ2, θ3, the ratio of the valley's widths (docs/model.md §9: the
  slow marginal's peak is narrower than the fast Gaussians), and the wall is
  still the exact sphere (a linear map of an ellipsoid).

``geometry_order`` 2 puts the mid-edge nodes of the wall on the sphere
(quadratic tetrahedra), which P2 needs to keep its O(h⁴) eigenvalue
convergence near the wall (an absorbing wall where the density is not tiny).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import mesh as fmesh
from fpsolve.model.valley import ModelError
from fpsolve.theory import nvalley_noise as closed


#: Grading constants of :func:`valley_ball_sizes` (dimensionless).
PEAK_HALF_WIDTHS = 5.0      # fine cylinder about each peak of the slow marginal, in units of its width
FAST_HALF_WIDTHS = 3.5      # ... and its radius, in units of the widest fast Gaussian sqrt(T g_i / 2)
POINTS_PER_WIDTH = 2.5      # h_min = (fast width at the peak) / 2.5 in ξ, where the slow width is c × it
GROWTH = 0.3                # dh / d(distance) outside the boxes
FAR_DIVISOR = 8.0           # h_max = R / 8


@dataclasses.dataclass(frozen=True)
class BallSizes:
    """Size field of a ball mesh (θ units, sizes in the ξ coordinates of the
    module docstring, i.e. θ1-lengths are ``stretch`` times these).

    ``boxes``: tuple of cylinders along θ1, ((x0, y0, z0), (hx, r)) in θ: the
    fine size ``h_min`` inside ``|θ1 − x0| < hx``, ``(θ2 − y0)² + (θ3 − z0)² < r²``
    (the fast directions' Gaussians are round), growing by ``growth`` per
    unit ξ-distance outside the nearest cylinder up to ``h_max``; no boxes:
    uniform ``h_min``.  ``planes``: θ1-values of planes θ1 = p the mesh
    conforms to (faces of its tetrahedra lie on them; a ball meshed by halves
    conforms to ±p): the edges of a first-passage slab ``lo ≤ |θ1| ≤ hi``
    (:func:`fpsolve.fem.backward.slab_target`), resolved exactly.  ``hole``:
    radius of a concentric ball cut out (0: none), the shell ``hole ≤ |θ − c|
    ≤ R`` whose inner sphere is a target resolved exactly (a committor
    between two spheres)."""

    radius: float
    center: Tuple[float, float, float]
    h_min: float
    h_max: float
    boxes: Tuple[Tuple[Tuple[float, float, float], Tuple[float, float]], ...] = ()
    growth: float = GROWTH
    stretch: float = 1.0
    geometry_order: int = 1
    rule: str = "custom"
    planes: Tuple[float, ...] = ()
    hole: float = 0.0

    def as_dict(self) -> dict:
        """A JSON-ready record of the sizes (summary.json's ``mesh``)."""
        out = dataclasses.asdict(self)
        out["center"] = list(self.center)
        out["boxes"] = [[list(c), list(h)] for c, h in self.boxes]
        out["planes"] = list(self.planes)
        return out


def check_ball(radius: Any, center: Any) -> Tuple[float, Tuple[float, float, float]]:
    """(radius, centre) as floats, or ModelError naming the bad value: a radius
    that is not a finite number > 0, a centre that is not three finite numbers."""
    try:
        r = float(radius)
    except (TypeError, ValueError):
        r = math.nan
    if not (math.isfinite(r) and r > 0):
        raise ModelError(f"radius must be a finite number > 0 (got {radius!r})")
    try:
        c = tuple(float(v) for v in center)
    except (TypeError, ValueError):
        c = ()
    if len(c) != 3 or not all(math.isfinite(v) for v in c):
        raise ModelError(f"center must be three finite numbers (got {center!r})")
    return r, c  # type: ignore[return-value]


def uniform_ball_sizes(radius: float = 1.0, center: Sequence[float] = (0.0, 0.0, 0.0), h: float | None = None,
                       geometry_order: int = 2) -> BallSizes:
    """A ball of uniform size ``h`` (default R/8); raises ModelError on bad values."""
    r, c = check_ball(radius, center)
    h = r / 8.0 if h is None else float(h)
    if not (math.isfinite(h) and 0 < h <= r):
        raise ModelError(f"h must be a finite number in (0, radius] (got {h!r})")
    return BallSizes(r, c, h, h, (), geometry_order=geometry_order, rule="uniform")


def valley_ball_sizes(valley: Any, T: float, radius: float = 2.0, center: Sequence[float] = (0.0, 0.0, 0.0),
                      points_per_width: float = POINTS_PER_WIDTH, geometry_order: int = 1,
                      noise: str = "sgd") -> BallSizes:
    """Sizes of the ball for the two-fast-direction valley (docs/model.md §9,
    :class:`~fpsolve.model.nvalley.NValley` with m = 2) at noise level ``T``.

    From the closed form of ``noise`` (:mod:`fpsolve.theory.nvalley_noise`:
    §9's adiabatic elimination for sgd and sgd-diagonal, the exact Gibbs
    density for isotropic): the slow marginal's mode x* and peak width σ*;
    the fast widths ``w_i(x*) = sqrt(s_i(x*))`` (s_i = T g_i/2, or T/(2 g_i)
    for isotropic), w the larger.  A cylinder about each peak ((±x*, 0, 0),
    wherever the ball's ``center`` is; one about 0 in phase I) of half-length ``PEAK_HALF_WIDTHS σ*`` and radius
    ``FAST_HALF_WIDTHS w``; ``stretch`` c = σ* / w (≤ 1), ``h_min = w /
    points_per_width`` in ξ, so the cells are ``c h_min`` thick in θ1.
    Raises ModelError for m ≠ 2 or T ≤ 0."""
    if valley.m != 2:
        raise ModelError(f"the 3-D ball needs m = 2 fast directions (got m = {valley.m})")
    if not T > 0:
        raise ModelError(f"T must be > 0 for a graded mesh (got T={T!r})")
    r, c = check_ball(radius, center)
    mode = closed.mode_x(valley, T, noise)
    sigma = closed.peak_width(valley, T, noise, mode=mode)
    w = float(np.sqrt(np.max(closed.fast_variance(valley, T, mode, noise))))
    stretch = min(1.0, sigma / w)
    hx = PEAK_HALF_WIDTHS * sigma
    # the peaks are where the density lives, at (±x*, 0, 0) whatever the ball's centre
    if mode > hx:
        boxes = tuple(((s * mode, 0.0, 0.0), (hx, FAST_HALF_WIDTHS * w)) for s in (1.0, -1.0))
    else:  # one peak at 0, or two that overlap: one cylinder over both
        boxes = (((0.0, 0.0, 0.0), (mode + hx, FAST_HALF_WIDTHS * w)),)
    return BallSizes(r, c, w / points_per_width, r / FAR_DIVISOR, boxes, stretch=stretch,
                     geometry_order=geometry_order, rule="graded")


def _size_expression(sizes: BallSizes) -> str:
    """gmsh MathEval of the size at ξ: h_min in the boxes, linear growth outside."""
    f = lambda v: repr(float(v))  # noqa: E731 - plain reprs (numpy 2 writes np.float64(...))
    c1, c = sizes.center[0], sizes.stretch
    dists = []
    for (x0, y0, z0), (hx, r) in sizes.boxes:
        # the cylinder in ξ: θ1-extent divided by c about the ball's centre
        xi0, hxi = c1 + (x0 - c1) / c, hx / c
        along = f"Max(Fabs(x - ({f(xi0)})) - {f(hxi)}, 0)"
        across = f"Max(Sqrt((y - ({f(y0)}))^2 + (z - ({f(z0)}))^2) - {f(r)}, 0)"
        dists.append(f"Sqrt({along}^2 + {across}^2)")
    if not dists:
        return f(sizes.h_min)
    d = dists[0]
    for other in dists[1:]:
        d = f"Min({d}, {other})"
    return f"Min({f(sizes.h_min)} + {f(sizes.growth)} * {d}, {f(sizes.h_max)})"


def _gmsh_ball(sizes: BallSizes, half: bool) -> Tuple[np.ndarray, np.ndarray]:
    """(points (n, 3), tetrahedra (m, 4 or 10), gmsh order) of the ball in ξ
    (the half ξ1 ≥ c1 when ``half``), meshed in the current gmsh session."""
    gmsh = _compat.import_gmsh()
    R, (cx, cy, cz), c = sizes.radius, sizes.center, sizes.stretch
    occ = gmsh.model.occ
    ball = occ.addSphere(cx, cy, cz, R)
    if c != 1.0:
        occ.dilate([(3, ball)], cx, cy, cz, 1.0 / c, 1.0, 1.0)
    if sizes.hole > 0:
        inner = occ.addSphere(cx, cy, cz, sizes.hole)
        if c != 1.0:
            occ.dilate([(3, inner)], cx, cy, cz, 1.0 / c, 1.0, 1.0)
        ball = occ.cut([(3, ball)], [(3, inner)])[0][0][1]
    if half:
        box = occ.addBox(cx, cy - 2 * R, cz - 2 * R, 2 * R / c, 4 * R, 4 * R)
        ball = occ.intersect([(3, ball)], [(3, box)])[0][0][1]
    # conforming planes θ1 = p (ξ1 = cx + (p − cx)/c): the ball fragmented by its parts beyond each
    cuts = {abs(p - cx) if half else p - cx for p in sizes.planes}
    if not half:
        # a whole ball is cut by θ1 = 0 (the kink of |θ1|, where the mirrored ball has its seam) or,
        # not crossing it, by its mid-plane: gmsh's frontal surface mesher leaves the whole sphere
        # stretched by 1/c along ξ1 empty ("No elements in volume 1": c = 0.27, the m = 2 valley's
        # default about (0.1, 0, 0)), its two halves it meshes
        cuts.add(-cx if abs(cx) < R else 0.0)
    pieces = []
    for p in sorted(cuts):
        if abs(p) < R and not (half and p <= 0):
            xi = cx + p / c
            slab = occ.addBox(xi, cy - 2 * R, cz - 2 * R, 2 * R / c + abs(xi - cx), 4 * R, 4 * R)
            pieces += occ.intersect([(3, ball)], [(3, slab)], removeObject=False, removeTool=True)[0]
    if pieces:
        occ.fragment([(3, ball)], pieces)
    occ.synchronize()
    field = gmsh.model.mesh.field
    f = field.add("MathEval")
    field.setString(f, "F", _size_expression(sizes))
    field.setAsBackgroundMesh(f)
    for opt in ("Mesh.MeshSizeExtendFromBoundary", "Mesh.MeshSizeFromPoints", "Mesh.MeshSizeFromCurvature"):
        gmsh.option.setNumber(opt, 0)
    gmsh.option.setNumber("Mesh.MeshSizeMin", sizes.h_min)
    gmsh.option.setNumber("Mesh.MeshSizeMax", sizes.h_max)
    # surfaces: Frontal-Delaunay (6) for the mirrored half; a whole stretched ball, even cut, it
    # leaves invalid for some centres ("overlapping facets": the m = 2 valley's ball, --h-min 0.15
    # --h-max 0.5, about (1.2, 0, 0), (1.5, 0, 0)); Delaunay (5) meshed every centre tried, θ1 -1.5 ... 1.9
    gmsh.option.setNumber("Mesh.Algorithm", 6 if half else 5)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)  # Delaunay
    gmsh.option.setNumber("Mesh.Optimize", 1)
    gmsh.model.mesh.generate(3)
    if sizes.geometry_order > 1:
        gmsh.model.mesh.setOrder(sizes.geometry_order)
    tags, coords, _ = gmsh.model.mesh.getNodes()
    points = np.empty((int(tags.max()) + 1, 3))
    points[tags.astype(np.int64)] = coords.reshape(-1, 3)
    etype = 4 if sizes.geometry_order == 1 else 11
    _, nodes = gmsh.model.mesh.getElementsByType(etype)
    cells = nodes.astype(np.int64).reshape(-1, 4 if etype == 4 else 10)
    # compress to the nodes used by the tetrahedra
    used, cells = np.unique(cells, return_inverse=True)
    return points[used], cells.reshape(-1, 4 if etype == 4 else 10)


def ball_arrays(sizes: BallSizes) -> Tuple[np.ndarray, np.ndarray]:
    """(points (n, 3) in θ, tetrahedra) of the ball of ``sizes``: gmsh in ξ,
    the mirror half added where the centre lies on θ1 = 0, then θ1 mapped back
    (module docstring).  Runs gmsh (one process)."""
    cx = sizes.center[0]
    half = cx == 0.0
    with fmesh._gmsh_session() as _:
        points, cells = _gmsh_ball(sizes, half)
    if half:
        on_plane = np.abs(points[:, 0]) <= 1e-12 * sizes.radius / sizes.stretch
        points[on_plane, 0] = 0.0
        n = len(points)
        mirror_index = np.arange(n, 2 * n)
        mirror_index[on_plane] = np.flatnonzero(on_plane)
        # renumber the mirror nodes that are not on the plane
        off = np.flatnonzero(~on_plane)
        mirror_index[off] = n + np.arange(off.size)
        mirrored = points[off].copy()
        mirrored[:, 0] *= -1.0
        mirror_cells = mirror_index[cells]
        # a reflection flips orientation: swap two vertices (and their edges) to keep it positive
        if cells.shape[1] == 4:
            mirror_cells = mirror_cells[:, [1, 0, 2, 3]]
        else:  # gmsh 10-node order: vertices 0-3, edges 01 12 20 30 32 31 (swap 0<->1)
            mirror_cells = mirror_cells[:, [1, 0, 2, 3, 4, 6, 5, 9, 8, 7]]
        points = np.vstack([points, mirrored])
        cells = np.vstack([cells, mirror_cells])
    points[:, 0] = cx + sizes.stretch * (points[:, 0] - cx)
    if not half and abs(cx) < sizes.radius:  # the nodes of the cut θ1 = 0 exactly on it
        points[np.abs(points[:, 0]) <= 1e-12 * sizes.radius, 0] = 0.0
    return points, cells


def create_ball(sizes: BallSizes, comm: Any) -> Tuple[Any, dict, float]:
    """(mesh, description, seconds) of the tetrahedral ball of ``sizes``;
    gmsh runs on rank 0, the mesh is distributed over ``comm``.  Collective."""
    t0 = time.perf_counter()
    if comm.rank == 0:
        points, cells = ball_arrays(sizes)
    else:
        points, cells = np.zeros((0, 3)), np.zeros((0, 4 if sizes.geometry_order == 1 else 10), dtype=np.int64)
    msh = _compat.create_mesh(comm, cells, points, degree=sizes.geometry_order, cell="tetrahedron")
    from mpi4py import MPI

    n_cells = comm.allreduce(msh.topology.index_map(3).size_local, op=MPI.SUM)
    return msh, {"source": "gmsh", "cells": n_cells, **sizes.as_dict()}, time.perf_counter() - t0


def _size_field(sizes: BallSizes, xi: np.ndarray) -> np.ndarray:
    """The size of :func:`_size_expression` at points ``xi`` (k, 3) in ξ (numpy)."""
    c1, c = sizes.center[0], sizes.stretch
    if not sizes.boxes:
        return np.full(len(xi), sizes.h_min)
    d = np.full(len(xi), np.inf)
    for (x0, y0, z0), (hx, r) in sizes.boxes:
        along = np.maximum(np.abs(xi[:, 0] - (c1 + (x0 - c1) / c)) - hx / c, 0.0)
        across = np.maximum(np.hypot(xi[:, 1] - y0, xi[:, 2] - z0) - r, 0.0)
        d = np.minimum(d, np.hypot(along, across))
    return np.minimum(sizes.h_min + sizes.growth * d, sizes.h_max)


#: gmsh's tetrahedra per ideal one (∫ dV / (h³/(6√2)), regular tetrahedra of the local
#: size): 0.555 ... 0.613 measured on twelve balls of 4.7k ... 88k tetrahedra (the m = 2
#: valley's default, --h-min 0.12 and 0.15/0.5 gradings at θ1-stretch 0.6 and 0.45 of the
#: widths' ratio, uniform balls R = 1.2, 2 at h = 0.2, 0.15, off-centre, stretched and
#: graded Gibbs balls) ...
CELL_FACTOR = 0.58
#: ... and Lagrange dofs per tetrahedron (vertices; vertices + edges): P1 0.176 ... 0.228,
#: P2 1.38 ... 1.58 measured on the same balls (the more, the smaller the ball: its wall).
DOFS_PER_CELL = {1: 0.19, 2: 1.42}


def predicted_cells(sizes: BallSizes, n: int = 64) -> float:
    """Tetrahedra gmsh makes for ``sizes``, predicted before meshing: the
    integral over the ball (the ellipsoid in ξ) of 1 / (volume of a regular
    tetrahedron of the local size h, h³/(6√2)), by the midpoint rule on an
    n³ grid over the ellipsoid's box (fine boxes thinner than a grid cell are
    sampled at their axis), times :data:`CELL_FACTOR`: within 6 % of gmsh's
    count on the balls of :data:`CELL_FACTOR` (n = 64 is within 0.3 % of
    n = 200; about 0.01 s)."""
    R, (cx, cy, cz), c = sizes.radius, sizes.center, sizes.stretch
    axes = [np.linspace(cx - R / c, cx + R / c, n + 1), np.linspace(cy - R, cy + R, n + 1),
            np.linspace(cz - R, cz + R, n + 1)]
    mids = [0.5 * (a[1:] + a[:-1]) for a in axes]
    dv = float(np.prod([a[1] - a[0] for a in axes]))
    total = 0.0
    Y, Z = np.meshgrid(mids[1], mids[2], indexing="ij")
    for x in mids[0]:
        inside = ((x - cx) * c / R) ** 2 + ((Y - cy) / R) ** 2 + ((Z - cz) / R) ** 2 <= 1.0
        pts = np.column_stack([np.full(int(inside.sum()), x), Y[inside], Z[inside]])
        if len(pts):
            h = _size_field(sizes, pts)
            total += float(np.sum(dv * 6.0 * math.sqrt(2.0) / h ** 3))
    return CELL_FACTOR * total


def predicted_dofs(sizes: BallSizes, degree: int) -> int:
    """P``degree`` Lagrange dofs of the ball of ``sizes``, predicted before
    meshing (:func:`predicted_cells` × :data:`DOFS_PER_CELL`): the m = 2
    valley's default 126.7k (122.6k measured), --h-min 0.12 75.2k (76.0k),
    --h-min 0.15 --h-max 0.5 24.1k (24.8k); within 15 % on the balls of
    :data:`CELL_FACTOR` (small balls, whose wall holds more of the dofs,
    are underestimated most: R = 1.2, h = 0.2 6.3k for 7.4k)."""
    return int(predicted_cells(sizes) * DOFS_PER_CELL[degree])
