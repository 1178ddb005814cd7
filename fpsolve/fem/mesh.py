"""Disk meshes for the Fokker-Planck solve (docs/model.md §4), graded from the model.

The density lives in a thin sheet along the valley floor θ2 = 0 and, in θ1,
either in one peak at the global minimum (phase I) or between it and the
flattest points (phase II).  The mesh sizes follow from the widths of
docs/model.md §5-6 instead of per-case constants (lengths in θ units):

* fast width   ``w2(θ1) = sqrt(T g(θ1) / 2)``  (Gaussian conditional of θ2, §5);
* slow width at θ1 = 0 from the averaged drift and diffusion of §5 there
  (``g' = 0``, so ``s2 = T a0 / 2`` is exact): ``A ≈ −κ θ1`` with
  ``κ = ε + a2 s2`` and ``B(0) = (T/2)(ε² + 2 a2 ε s2 + 3 a2² s2²)``, so
  ``w1 = sqrt(B(0) / κ)`` while ``κ > 0`` (phase I; κ ≤ 0 past T_c);
* phase I (``κ > 0``): a *core* box ``|θ1| < 6 w1``, ``|θ2| < 6 w2(0)`` with
  sizes ``h1 = w1 / 4`` in θ1 and ``h2 = w2(0) / 7.5`` in θ2.  On a disk
  centred on θ1 = 0 the core is a *structured* grid of right triangles with
  axis-parallel legs, ``h1`` wide and ``h2`` tall (``h = min(h1, h2)`` both
  ways where ``h1 ≥ h2``), cut from both half disks (:func:`_structured_core`):
  every P2 node of a column has the same θ1, so the density's steep θ1
  profile puts no spurious θ2-gradient under the large D22 (D22/D11 ~ 1e4 at
  T = 0.01, 1e6 at ε = 1e-3 near T_c).  At T = 0.01 this gives the moments
  to 7e-6 on 24 k dofs; the unstructured anisotropic core of the same sizes
  (gmsh in coordinates ξ stretched by ``1 / c`` along θ1, ``c = h1 / h2``,
  nodes mapped back by :func:`stretch_map`, still used off the axis) left
  2e-4 on 28 k, and at ε = 1e-3, T = 0.9 T_c it left std ``|θ1|`` 27 % low
  (0.00175 against 0.0024135);
* phase II (``κ ≤ 0``): a *band* ``|θ1| < x_flat``, ``|θ2| < 2.2 max w2`` with
  ``h = min w2 / 7.5``: uniform, because with cross-diffusion the density's
  outer edge in θ1 is steep wherever it lies in the band (docs/numerics.md);
* outside the box the size grows linearly (slope 0.3) to ``h_max = R / 13``;
* where the box reaches the wall (the density is there more than 1e-8 of
  its peak: an exit rate, not a confined density) the wall is curved
  (6-node triangles, ``geometry_order`` 2): the polygon of the straight wall
  cuts a sagitta h²/8R off each boundary cell, which moved the OU exit
  rate from the unit disk (T = 0.2) by 1.2e-3 relative at h = 0.042
  (1.8e-5 curved).  A confined density keeps straight cells (curved
  ones cost about 15 % of the default run for nothing).

For docs/model.md §6 this gives 0.0022 × 0.0094 over ``|θ1|`` < 0.052 (T = 0.01) and
h = 0.015 over ``|θ1|`` < 1, ``|θ2|`` < 0.35 (T = 0.05).  The mesh conforms to the
chord θ1 = 0, so moments of ``|θ1|`` are integrated without a kink inside a cell,
and, for a disk centred on θ1 = 0, it is mirror-symmetric under θ1 → −θ1.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import meshfile
from fpsolve.model.valley import Landscape, ModelError, Noise


#: Default disk radius (docs/model.md §4), centred at the origin.
DEFAULT_RADIUS = 2.0


def check_disk(radius: Any, center: Any, prefix: str = "") -> Tuple[float, Tuple[float, float]]:
    """(radius, (cx, cy)) as floats, or ModelError naming the bad value: a
    radius that is not a finite number > 0 (radius=-1 was blamed on h-min),
    a centre that is not two finite numbers.  ``prefix`` is ``"--"`` for the
    command-line options."""
    try:
        r = float(radius)
    except (TypeError, ValueError):
        r = math.nan
    if not (math.isfinite(r) and r > 0):
        raise ModelError(f"{prefix}radius must be a finite number > 0 (got {radius!r})")
    try:
        cx, cy = (float(c) for c in center)
    except (TypeError, ValueError):
        cx = cy = math.nan
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise ModelError(f"{prefix}center must be two finite numbers (got {center!r})")
    return r, (cx, cy)

#: Physical tags written into every mesh.
DOMAIN_TAG = 1
BOUNDARY_TAG = 2

#: Grading constants (dimensionless; see the module docstring).
CORE_HALF_WIDTHS = (6.0, 6.0)   # core box in units of (w1, w2(0))
CORE_POINTS_PER_WIDTH = 4.0     # h_core = w1 / 4: coarser leaves negative lobes at the steep flank |θ1| ≈ 5 w1
BAND_HALF_HEIGHT = 2.2          # band box half-height in units of max w2
BAND_POINTS_PER_WIDTH = 7.5     # h_band = min w2 / 7.5
GROWTH = 0.3                    # dh / d(distance) outside the box
FAR_DIVISOR = 13.0              # h_max = R / 13
FLOOR_FRACTION = 2e-5           # smallest graded size, relative to R
COARSE_DIVISIONS = 10.0         # first adaptive mesh: h = R / 10
STRETCH_REACH = 2.0             # the θ1 map returns to the identity at STRETCH_REACH × the core (ξ units)
STRETCH_BLEND = (2.0, 3.0)      # ... and is blended off between these multiples of the core's |θ2| half-height


@dataclasses.dataclass(frozen=True)
class MeshSizes:
    """Size field of a disk mesh: fine size ``h_min`` in the box
    ``|θ1 - box_x0| < box_hx, |θ2 - box_y0| < box_hy``, growing with slope
    ``growth`` outside it up to ``h_max`` (θ units).

    ``stretch`` = c < 1: these are the sizes in coordinates ξ before the
    anisotropic map :func:`stretch_map` (θ1 − x0 = c (ξ1 − x0) in the box),
    so the box's triangles are ``c h_min`` wide in θ1.

    ``structured``: the box is a grid of right triangles with axis-parallel
    legs, ``stretch * h_min`` wide and ``h_min`` tall, in θ units (no map;
    :func:`_build_gmsh_disk`, mirror-symmetric disks only), so every P2
    node of a column has the same θ1 and a function of θ1 alone has no
    spurious θ2-gradient (which D22/D11 ~ 1e6 would amplify).  The grid
    spans ``grid_hx`` × ``grid_hy`` about (0, box_y0) (None: the box); the
    rest of the box has the isotropic size ``h_min``.

    ``symmetry`` (:data:`MESH_SYMMETRIES`): ``"mirror"`` (a disk centred on
    θ1 = 0 is meshed as two mirror-image halves, θ1 → −θ1), ``"point"`` (a
    disk centred on the origin is meshed as a half disk and its image under
    θ → −θ, for models with the point symmetry but not the mirror), or the
    reflections ``"mirror-theta2"``, ``"swap"``, ``"anti-swap"`` (a disk
    centred on the fixed line is meshed as a half and its image).  A disk
    whose centre the map does not fix is meshed as before."""

    radius: float
    center: Tuple[float, float]
    h_min: float
    h_max: float
    box_hx: float
    box_hy: float
    box_x0: float = 0.0
    box_y0: float = 0.0
    growth: float = GROWTH
    geometry_order: int = 1
    rule: str = "custom"
    stretch: float = 1.0
    structured: bool = False
    grid_hx: float | None = None
    grid_hy: float | None = None
    symmetry: str = "mirror"

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["center"] = list(self.center)
        return d

    def refined(self, factor: float) -> "MeshSizes":
        """The same grading with every size divided by ``factor``."""
        return dataclasses.replace(self, h_min=self.h_min / factor, h_max=self.h_max / factor)


def model_widths(landscape: Landscape, noise: Noise) -> dict:
    """Widths of the density from docs/model.md §5 (θ units): see module docstring."""
    a0, a2, a4, eps = landscape.coefficients
    T = noise.T
    x_flat = max(abs(x) for x in landscape.flattest_points())
    s2 = 0.5 * T * a0
    kappa = eps + a2 * s2
    B0 = 0.5 * T * (eps * eps + 2.0 * a2 * eps * s2 + 3.0 * a2 * a2 * s2 * s2)
    w1 = math.sqrt(B0 / kappa) if kappa > 0 else math.inf
    # the fast width over the θ1-range the density can reach
    xs = [x_flat * i / 50.0 for i in range(51)]
    w2 = [math.sqrt(0.5 * T * landscape.g(x)) for x in xs]
    return {"kappa": kappa, "w1": w1, "w2_at_0": w2[0], "w2_max": max(w2), "w2_min": min(w2),
            "x_flat": x_flat, "phase": "I" if kappa > 0 else "II"}


def graded_sizes(landscape: Landscape, noise: Noise, radius: float = 2.0,
                 center: Tuple[float, float] = (0.0, 0.0), h_min: float | None = None,
                 h_max: float | None = None) -> MeshSizes:
    """The default size field of a case (module docstring); ``h_min`` /
    ``h_max`` override the fine and far sizes."""
    noise.require_positive_T()
    far = radius / FAR_DIVISOR
    # ε = 0 or a tiny T would ask for a zero size; the floor sits just above
    # check_sizes' limit (R/2000 under-resolved T = 1e-4 and R = 50: issue
    # 11); what a tiny size costs is checked against the dof budget before
    # meshing (solver.check_budget)
    floor = radius * FLOOR_FRACTION
    w = model_widths(landscape, noise)
    check_resolvable(w, radius, floor, h_min)
    stretch, structured = 1.0, False
    if w["phase"] == "I" and (w["x_flat"] == 0.0 or CORE_HALF_WIDTHS[0] * w["w1"] < w["x_flat"]):
        w1 = max(w["w1"], 3.0 * floor)
        h1 = max(w1 / CORE_POINTS_PER_WIDTH, floor)
        h2 = max(w["w2_at_0"] / BAND_POINTS_PER_WIDTH, floor)
        hx, hy = CORE_HALF_WIDTHS[0] * w1, CORE_HALF_WIDTHS[1] * w["w2_at_0"]
        h, rule = min(h1, h2), "core"
        if h1 < h2 and h_min is None:
            if _structured_fits(radius, center, hx, hy):
                stretch, h, structured, rule = h1 / h2, h2, True, "anisotropic structured core"
            elif _stretch_fits(radius, center, hx * h2 / h1, hy):
                stretch, h, hx, rule = h1 / h2, h2, hx * h2 / h1, "anisotropic core"
        elif _structured_fits(radius, center, hx, hy):
            structured, rule = True, "structured core"
    else:
        h = w["w2_min"] / BAND_POINTS_PER_WIDTH
        hx, hy = max(w["x_flat"], 5.0 * h), BAND_HALF_HEIGHT * w["w2_max"]
        rule = "band"
    h = max(h, floor)
    sizes = MeshSizes(radius=radius, center=tuple(center), h_min=min(h, far), h_max=far,
                      box_hx=min(hx, radius), box_hy=min(hy, radius), rule=rule, stretch=stretch,
                      structured=structured, geometry_order=2 if box_reaches_wall(radius, center, hx, hy) else 1)
    if h_min is not None or h_max is not None:
        sizes = dataclasses.replace(sizes, h_min=sizes.h_min if h_min is None else h_min,
                                    h_max=sizes.h_max if h_max is None else h_max, rule=rule + "+user")
    if sizes.structured and not grid_fits(sizes):  # a coarse user h-min rounds the grid past the wall
        sizes = unstructured(sizes)
    check_sizes(sizes)
    return sizes


#: How far below the graded floor (R × FLOOR_FRACTION) the size the density
#: needs may lie before the disk is refused as too large to resolve it.
UNRESOLVED_FACTOR = 2.0


def check_resolvable(widths: dict, radius: float, floor: float, h_min: float | None) -> None:
    """Refuse (InputError, before any meshing) a disk so large that its finest
    graded size, ``radius × FLOOR_FRACTION``, is over :data:`UNRESOLVED_FACTOR`
    times the size the density's widths need (docs/model.md §5-6): the mesh
    would not resolve the density, and the eigenvector would be no density
    (``--radius 1e5``: negative mass 1.2).  A given ``h_min`` is the user's
    choice and is not judged here."""
    if h_min is not None:
        return
    if widths["phase"] == "I":
        need = min(widths["w1"] / CORE_POINTS_PER_WIDTH, widths["w2_at_0"] / BAND_POINTS_PER_WIDTH)
    else:
        need = widths["w2_min"] / BAND_POINTS_PER_WIDTH
    if need > 0 and floor > UNRESOLVED_FACTOR * need:
        largest = UNRESOLVED_FACTOR * need / FLOOR_FRACTION
        raise ModelError(f"the density's widths need a mesh size of {need:.3g}, but the graded mesh of a disk of "
                         f"radius {radius:g} goes down to {floor:.3g} only (R x {FLOOR_FRACTION:g}): no density "
                         f"would come out; use a radius up to {largest:.3g}")


def box_reaches_wall(radius: float, center: Tuple[float, float], box_hx: float, box_hy: float) -> bool:
    """Whether a corner of the fine box ``|θ1| < box_hx``, ``|θ2| < box_hy``
    (6 widths of the density in the core) lies outside the disk: the density
    reaches the wall, whose shape then sets the exit rate (module docstring)."""
    cx, cy = center
    return any((sx * box_hx - cx) ** 2 + (sy * box_hy - cy) ** 2 > radius * radius
               for sx in (-1.0, 1.0) for sy in (-1.0, 1.0))


def grid_fits(sizes: MeshSizes) -> bool:
    """Whether the structured grid of ``sizes``, rounded to whole cells
    (:func:`structured_core`), lies well inside the disk."""
    nx, ny = structured_core(sizes)
    return _structured_fits(sizes.radius, sizes.center, nx * sizes.stretch * sizes.h_min, 0.5 * ny * sizes.h_min,
                            sizes.box_y0)


def unstructured(sizes: MeshSizes) -> MeshSizes:
    """``sizes`` without the structured grid: an isotropic box of the grid's
    finer size (its column width)."""
    return dataclasses.replace(sizes, structured=False, stretch=1.0, h_min=sizes.stretch * sizes.h_min,
                               grid_hx=None, grid_hy=None, rule=sizes.rule.replace("structured core", "core"))


def _structured_fits(radius: float, center: Tuple[float, float], box_hx: float, box_hy: float,
                     y0: float = 0.0) -> bool:
    """Whether a structured core (``MeshSizes.structured``) of half-widths
    ``box_hx`` × ``box_hy`` about (0, ``y0``) can be made: a disk centred on
    the mirror axis θ1 = 0 (the core is cut from its two halves) holding it
    well inside."""
    cx, cy = center
    return cx == 0.0 and box_hx * box_hx + (abs(y0 - cy) + box_hy) ** 2 < (0.9 * radius) ** 2


def _stretch_fits(radius: float, center: Tuple[float, float], box_hx: float, box_hy: float) -> bool:
    """Whether the region the θ1 map moves (:func:`stretch_map`: ``|ξ1|`` <
    STRETCH_REACH box_hx, ``|θ2|`` < STRETCH_BLEND[1] box_hy, about 0) lies well
    inside the disk, so the wall's nodes stay on the circle."""
    cx, cy = center
    x = STRETCH_REACH * box_hx + abs(cx)
    y = STRETCH_BLEND[1] * box_hy + abs(cy)
    return x * x + y * y < (0.9 * radius) ** 2


def stretch_map(sizes: MeshSizes, x: Any, y: Any) -> Any:
    """θ1 of the nodes (ξ1 = x, θ2 = y; arrays) of a mesh made with
    ``sizes.stretch`` = c < 1 (:class:`MeshSizes`): with u = ξ1 − x0,
    a = box_hx, b = STRETCH_REACH a, ``f(u) = c u`` for ``|u|`` ≤ a, linear from
    c a to b on a ≤ ``|u|`` ≤ b, ``u`` beyond; blended to the identity by a
    smoothstep in ``|θ2 − y0|`` between STRETCH_BLEND × box_hy (the density
    is still 1e-4 of its peak at ``|θ2|`` = box_hy, and needs c there).  Odd
    in u (keeps the mirror symmetry and the chord θ1 = x0), monotone in ξ1
    for every θ2 (no cell turns over), the identity near the wall."""
    import numpy as np

    c, a, x0 = sizes.stretch, sizes.box_hx, sizes.box_x0
    b = STRETCH_REACH * a
    u = np.asarray(x, dtype=float) - x0
    au = np.abs(u)
    f = np.where(au <= a, c * au, np.where(au <= b, c * a + (au - a) * (b - c * a) / (b - a), au))
    y1, y2 = STRETCH_BLEND[0] * sizes.box_hy, STRETCH_BLEND[1] * sizes.box_hy
    t = np.clip((np.abs(np.asarray(y, dtype=float) - sizes.box_y0) - y1) / (y2 - y1), 0.0, 1.0)
    blend = 1.0 - t * t * (3.0 - 2.0 * t)
    return x0 + u + (np.sign(u) * f - u) * blend


def _apply_stretch(gmsh: Any, sizes: MeshSizes) -> None:
    """Move every node of the current gmsh mesh by :func:`stretch_map`."""
    import numpy as np

    tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = np.asarray(coords, dtype=float).reshape(-1, 3)
    moved = stretch_map(sizes, xyz[:, 0], xyz[:, 1])
    # gmsh 4.8 (Debian 12) has no bulk setter; the wall's nodes never move
    for i in np.flatnonzero(moved != xyz[:, 0]):
        gmsh.model.mesh.setNode(int(tags[i]), [float(moved[i]), float(xyz[i, 1]), 0.0], [])


#: Default size of the uniform mesh of a custom model (docs/model.md §7): R / 40.
UNIFORM_DIVISOR = 40.0


#: The fixed line (a direction through the centre) of the reflections a disk
#: can keep besides θ1 → −θ1: θ2 → −θ2, the swap and the anti-swap.
REFLECTION_AXES = {"mirror-theta2": (1.0, 0.0), "swap": (1.0, 1.0), "anti-swap": (1.0, -1.0)}
#: The symmetries a generated disk can keep (:class:`MeshSizes`).
MESH_SYMMETRIES = ("mirror", "point") + tuple(REFLECTION_AXES)


def _on_axis(sizes: "MeshSizes") -> bool:
    """Whether the disk's centre lies on the fixed line of ``sizes.symmetry``."""
    ux, uy = REFLECTION_AXES[sizes.symmetry]
    cx, cy = sizes.center
    return abs(cx * uy - cy * ux) <= 1e-12 * max(sizes.radius, 1.0)


def check_symmetry(symmetry: str) -> str:
    """``symmetry`` if one of :data:`MESH_SYMMETRIES`, else InputError."""
    if symmetry not in MESH_SYMMETRIES:
        raise ModelError(f"mesh symmetry must be one of {', '.join(MESH_SYMMETRIES)} (got {symmetry!r})")
    return symmetry


def uniform_sizes(radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
                  h_min: float | None = None) -> MeshSizes:
    """A uniform disk mesh of size ``h_min`` (default ``radius / 40``): the
    mesh of a custom model until meshes adapt to the density."""
    h = radius / UNIFORM_DIVISOR if h_min is None else h_min
    sizes = MeshSizes(radius=radius, center=tuple(center), h_min=h, h_max=h, box_hx=radius, box_hy=radius,
                      growth=0.0, rule="uniform" if h_min is None else "uniform+user")
    check_sizes(sizes)
    return sizes


def check_sizes(sizes: MeshSizes) -> None:
    """Reject sizes that cannot make a mesh (ModelError names the value)."""
    for name in ("h_min", "h_max"):
        value = getattr(sizes, name)
        if not (math.isfinite(value) and value > 0):
            raise ModelError(f"{name.replace('_', '-')} must be a finite number > 0 (got {value!r})")
    if sizes.h_min > sizes.h_max:
        raise ModelError(f"h-min must be <= h-max (got {sizes.h_min:g} > {sizes.h_max:g})")
    if sizes.h_min < sizes.radius * 1e-5:
        raise ModelError(f"h-min={sizes.h_min:g} is too small for radius {sizes.radius:g}")


def _half_disks(occ: Any, center: Tuple[float, float], R: float, u: Tuple[float, float],
                split: bool = False) -> Tuple[int, int, list]:
    """(right, left, chord curves): the disk of ``center`` and radius ``R``
    cut along the chord through the centre in the unit direction ``u``
    into the half on the right of ``u`` and the half on its left; with
    ``split`` the chord is two lines meeting at the centre (for the point
    reflection, which maps one onto the other)."""
    cx, cy = center
    ux, uy = u
    pc = occ.addPoint(cx, cy, 0.0)
    pa, pb = occ.addPoint(cx - R * ux, cy - R * uy, 0.0), occ.addPoint(cx + R * ux, cy + R * uy, 0.0)
    pr, pl = occ.addPoint(cx + R * uy, cy - R * ux, 0.0), occ.addPoint(cx - R * uy, cy + R * ux, 0.0)
    chords = [occ.addLine(pa, pc), occ.addLine(pc, pb)] if split else [occ.addLine(pa, pb)]
    arcs_r = [occ.addCircleArc(pa, pc, pr), occ.addCircleArc(pr, pc, pb)]
    arcs_l = [occ.addCircleArc(pb, pc, pl), occ.addCircleArc(pl, pc, pa)]
    right = occ.addPlaneSurface([occ.addCurveLoop(arcs_r + [-c for c in reversed(chords)])])
    left = occ.addPlaneSurface([occ.addCurveLoop(chords + arcs_l)])
    if not split:
        occ.remove([(0, pc)])
    return right, left, chords


def _build_gmsh_disk(sizes: MeshSizes, background: Tuple[Any, Any] | None = None) -> None:
    """Create the disk (split along θ1 = 0 when it crosses it) in the
    current gmsh model, with the size field, and mesh it.  ``background``
    = (triangles (n, 3, 2), sizes at their vertices (n, 3)) replaces the
    analytic field by a piecewise-linear one (the adaptive loop's)."""
    gmsh = _compat.import_gmsh()

    R, (cx, cy) = sizes.radius, sizes.center
    occ = gmsh.model.occ
    if sizes.symmetry == "point" and cx == 0.0 and cy == 0.0 and not sizes.structured:
        # the right half disk and its image under θ → −θ (the chord θ1 = 0
        # split at the origin, its upper half the image of its lower half):
        # a two-layer net's wells are images under the point reflection only
        right, left, (lower, upper) = _half_disks(occ, (0.0, 0.0), R, (0.0, 1.0), split=True)
        occ.synchronize()
        point = [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        gmsh.model.mesh.setPeriodic(1, [upper], [lower], point)
        gmsh.model.mesh.setPeriodic(2, [left], [right], point)
    elif sizes.symmetry in REFLECTION_AXES and not sizes.structured and _on_axis(sizes):
        # two halves meeting on the fixed line of the reflection (θ2 = 0, θ1 = θ2 or
        # θ1 = −θ2), one meshed as the image of the other
        ux, uy = REFLECTION_AXES[sizes.symmetry]
        n = math.hypot(ux, uy)
        ux, uy = ux / n, uy / n
        right, left, _ = _half_disks(occ, (cx, cy), R, (ux, uy))
        occ.synchronize()
        S = [[ux * ux - uy * uy, 2 * ux * uy], [2 * ux * uy, uy * uy - ux * ux]]  # reflection across u
        S = [[float(round(v)) if abs(v - round(v)) < 1e-15 else v for v in row] for row in S]
        gmsh.model.mesh.setPeriodic(2, [left], [right], [S[0][0], S[0][1], 0, 0, S[1][0], S[1][1], 0, 0,
                                                         0, 0, 1, 0, 0, 0, 0, 1])
    elif cx == 0.0 and sizes.box_x0 == 0.0:
        # two half disks meeting on θ1 = 0, the left one meshed as the mirror
        # image of the right: the model is symmetric under θ1 → −θ1, and an
        # asymmetric mesh tilts the mass between the two wells of the double
        # well by (mesh asymmetry) / (tunnelling gap ~ 1e-7)
        right, left, _ = _half_disks(occ, (0.0, cy), R, (0.0, 1.0))
        mirror = [-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        if sizes.structured:
            _structured_core(gmsh, sizes, right, left, mirror)
        else:
            occ.synchronize()
            gmsh.model.mesh.setPeriodic(2, [left], [right], mirror)
    else:
        if sizes.structured:
            raise ModelError("a structured core needs a disk centred on the mirror axis theta1 = 0")
        disk = occ.addDisk(cx, cy, 0.0, R, R)
        if abs(cx) < R * (1 - 1e-9):  # still conform to θ1 = 0 (the kink of |θ1|)
            half = math.sqrt(R * R - cx * cx)
            chord = occ.addLine(occ.addPoint(0.0, cy - half, 0.0), occ.addPoint(0.0, cy + half, 0.0))
            occ.fragment([(2, disk)], [(1, chord)])
        occ.synchronize()
    surfaces = [tag for _, tag in gmsh.model.getEntities(2)]
    gmsh.model.addPhysicalGroup(2, surfaces, DOMAIN_TAG)
    boundary = gmsh.model.getBoundary([(2, s) for s in surfaces], combined=True, oriented=False)
    gmsh.model.addPhysicalGroup(1, sorted({abs(tag) for _, tag in boundary}), BOUNDARY_TAG)
    # background size: h_min inside the box, linear growth outside it
    field = gmsh.model.mesh.field
    if background is None:
        f = field.add("MathEval")
        # plain float reprs: numpy 2 would write "np.float64(0.1)", which gmsh rejects
        n = {k: repr(float(getattr(sizes, k))) for k in ("box_x0", "box_y0", "box_hx", "box_hy", "h_min", "h_max", "growth")}
        dx = f"Max(Fabs(x - ({n['box_x0']})) - {n['box_hx']}, 0)"
        dy = f"Max(Fabs(y - ({n['box_y0']})) - {n['box_hy']}, 0)"
        field.setString(f, "F", f"Min({n['h_min']} + {n['growth']} * Sqrt(({dx})^2 + ({dy})^2), {n['h_max']})")
    else:
        import numpy as np

        tri, values = background
        n_tri = len(tri)
        data = np.empty((n_tri, 12))
        data[:, 0:3], data[:, 3:6], data[:, 6:9], data[:, 9:12] = tri[:, :, 0], tri[:, :, 1], 0.0, values
        view = gmsh.view.add("size")
        gmsh.view.addListData(view, "ST", n_tri, data.ravel())
        f = field.add("PostView")
        field.setNumber(f, "ViewTag", view)
    field.setAsBackgroundMesh(f)
    for opt in ("Mesh.MeshSizeExtendFromBoundary", "Mesh.MeshSizeFromPoints", "Mesh.MeshSizeFromCurvature"):
        gmsh.option.setNumber(opt, 0)
    gmsh.option.setNumber("Mesh.MeshSizeMin", sizes.h_min)
    gmsh.option.setNumber("Mesh.MeshSizeMax", sizes.h_max)
    gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay: well-shaped triangles
    gmsh.model.mesh.generate(2)
    if sizes.geometry_order > 1:
        gmsh.model.mesh.setOrder(sizes.geometry_order)
    if sizes.stretch != 1.0 and background is None and not sizes.structured:
        _apply_stretch(gmsh, sizes)


def structured_core(sizes: MeshSizes) -> Tuple[int, int]:
    """(columns, rows) of the structured core of ``sizes`` (its θ1 ≥ 0
    half): ``box_hx / (stretch h_min)`` columns and ``2 box_hy / h_min``
    rows, rounded (``grid_hx``/``grid_hy`` where set); the grid lines lie
    at θ1 = j stretch h_min and θ2 = box_y0 + i h_min."""
    hx = sizes.box_hx if sizes.grid_hx is None else sizes.grid_hx
    hy = sizes.box_hy if sizes.grid_hy is None else sizes.grid_hy
    return max(1, round(hx / (sizes.stretch * sizes.h_min))), max(2, 2 * round(hy / sizes.h_min))


def _structured_core(gmsh: Any, sizes: MeshSizes, right: int, left: int, mirror: list) -> None:
    """Cut the box out of both half disks as two rectangles meshed as
    transfinite grids of right triangles (the left one the mirror image of
    the right), the rest unstructured (:func:`structured_core`)."""
    occ = gmsh.model.occ
    nx, ny = structured_core(sizes)
    a, b, y0 = nx * sizes.stretch * sizes.h_min, 0.5 * ny * sizes.h_min, sizes.box_y0
    if not grid_fits(sizes):
        raise ModelError(f"the structured core ({a:g} x {2 * b:g}) does not fit in the disk of radius "
                         f"{sizes.radius:g}")
    rect_r = occ.addRectangle(0.0, y0 - b, 0.0, a, 2 * b)
    rect_l = occ.addRectangle(-a, y0 - b, 0.0, a, 2 * b)
    _, pieces = occ.fragment([(2, right), (2, left)], [(2, rect_r), (2, rect_l)])
    occ.synchronize()
    # pieces[i]: what input i became (the half disks, then the rectangles)
    cores = [{tag for _, tag in pieces[i]} for i in (2, 3)]
    rests = [{tag for _, tag in pieces[i]} - cores[i] for i in (0, 1)]
    if any(len(p) != 1 for p in cores + rests):
        raise ModelError(f"the structured core ({a:g} x {2 * b:g}) does not cut the disk in two pieces per half")
    parts = {("core", "r"): min(cores[0]), ("core", "l"): min(cores[1]),
             ("rest", "r"): min(rests[0]), ("rest", "l"): min(rests[1])}
    core = parts[("core", "r")]
    for _, curve in gmsh.model.getBoundary([(2, core)], oriented=False):
        xmin, ymin, _, xmax, ymax, _ = gmsh.model.getBoundingBox(1, abs(curve))
        horizontal = (xmax - xmin) > (ymax - ymin)
        gmsh.model.mesh.setTransfiniteCurve(abs(curve), (nx if horizontal else ny) + 1)
    gmsh.model.mesh.setTransfiniteSurface(core, "Right")
    gmsh.model.mesh.setPeriodic(2, [parts[("core", "l")], parts[("rest", "l")]],
                                [core, parts[("rest", "r")]], mirror)


def _gmsh_session():
    import contextlib

    gmsh = _compat.import_gmsh()

    @contextlib.contextmanager
    def session():
        _compat.gmsh_initialize()
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("fpsolve-disk")
            yield gmsh
        finally:
            gmsh.finalize()

    return session()


def create_disk(sizes: MeshSizes, comm: Any, background: Tuple[Any, Any] | None = None) -> Tuple[Any, Any]:
    """(mesh, facet_tags) of the graded disk; gmsh runs on rank 0 only.
    ``background`` (rank 0's): a piecewise-linear size field, see
    :func:`_build_gmsh_disk`; ``sizes.h_min``/``h_max`` then bound it."""
    with _gmsh_session() as gmsh:
        if comm.rank == 0:
            _build_gmsh_disk(sizes, background)
        msh, _, facets = _compat.model_to_mesh(gmsh.model, comm, 0, gdim=2)
    return msh, facets


def write_msh(sizes: MeshSizes, path: str | Path) -> int:
    """Write the graded disk as a gmsh ``.msh`` (binary, small); returns the
    number of triangles."""
    with _gmsh_session() as gmsh:
        _build_gmsh_disk(sizes)
        gmsh.option.setNumber("Mesh.Binary", 1)
        gmsh.write(str(path))
        types, tags, _ = gmsh.model.mesh.getElements(2)
        return int(sum(len(t) for t in tags))


def load(mesh: Any, comm: Any) -> Tuple[Any, dict]:
    """(mesh, domain description) of any 2-D triangle mesh file meshio reads,
    or of a ``meshfile.MeshData`` (``fpsolve.fem.meshfile.load``); raises
    ModelError on every rank for bad files."""

    return meshfile.load(mesh, comm)


def mesh_for(landscape: Landscape, noise: Noise, *, radius: float, center: Tuple[float, float],
             mesh: Any, h_min: float | None, h_max: float | None,
             comm: Any, refine: float = 1.0) -> Tuple[Any, dict, float]:
    """(mesh, description, seconds): a graded disk for the case, or ``mesh``
    read from a file.  ``refine`` divides every size (benchmarks, tests).
    The description's ``domain`` ("disk" or "mesh"), ``radius`` and
    ``center`` are the generated disk's, or those found in the file."""
    start = time.perf_counter()
    if mesh is not None:
        msh, info = load(mesh, comm)
    else:
        sizes = graded_sizes(landscape, noise, radius, center, h_min, h_max)
        if refine != 1.0:
            sizes = sizes.refined(refine)
        msh, _ = create_disk(sizes, comm)
        info = {"source": "gmsh", "domain": "disk", **sizes.as_dict(), "refine": refine}
        info["center"] = list(sizes.center)
    cells = msh.topology.index_map(2)
    info["cells"] = comm.allreduce(cells.size_local, op=_sum())
    return msh, info, time.perf_counter() - start


def _sum():
    from mpi4py import MPI

    return MPI.SUM


def coarse_sizes(radius: float, center: Tuple[float, float] = (0.0, 0.0),
                 divisions: float = COARSE_DIVISIONS) -> MeshSizes:
    """A uniform disk of size ``radius / divisions``: the first mesh of the
    adaptive loop (:mod:`fpsolve.fem.adapt`)."""
    h = radius / divisions
    sizes = MeshSizes(radius=radius, center=tuple(center), h_min=h, h_max=h, box_hx=radius, box_hy=radius,
                      box_x0=0.0, box_y0=0.0, rule="coarse")
    check_sizes(sizes)
    return sizes


def adaptive_start(radius: float, center: Tuple[float, float], comm: Any,
                   symmetry: str = "mirror") -> Tuple[Any, MeshSizes]:
    """(first mesh, bounds of every remesh) of the adaptive loop
    (:func:`fpsolve.fem.adapt.solve_adaptive`): the uniform disk of
    :func:`coarse_sizes`, and sizes between ``radius * FLOOR_FRACTION`` and
    its size; ``symmetry``: :class:`MeshSizes`."""
    sizes = dataclasses.replace(coarse_sizes(radius, center), symmetry=check_symmetry(symmetry))
    msh, _ = create_disk(sizes, comm)
    return msh, dataclasses.replace(sizes, h_min=radius * FLOOR_FRACTION)


def predicted_cells(sizes: MeshSizes, n: int = 400) -> float:
    """Number of triangles gmsh makes for ``sizes``, predicted before
    meshing: ∫ over the disk of 1 / (area of a triangle of side h) =
    4 / (√3 h²), on a grid graded toward the fine box (the size field is
    constant inside it)."""
    import numpy as np

    R, (cx, cy) = sizes.radius, sizes.center

    def axis(c0: float, half: float, lo: float, hi: float) -> np.ndarray:
        inner = np.linspace(c0 - half, c0 + half, 9)
        ramp = np.geomspace(1e-6 * R, 2.0 * R + abs(c0), n // 2)
        return np.unique(np.clip(np.concatenate([inner, c0 - half - ramp, c0 + half + ramp]), lo, hi))

    xs = axis(sizes.box_x0, sizes.box_hx, cx - R, cx + R)
    ys = axis(sizes.box_y0, sizes.box_hy, cy - R, cy + R)
    xm, ym = 0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1])
    X, Y = np.meshgrid(xm, ym, indexing="ij")
    area = np.outer(np.diff(xs), np.diff(ys))
    dx = np.maximum(np.abs(X - sizes.box_x0) - sizes.box_hx, 0.0)
    dy = np.maximum(np.abs(Y - sizes.box_y0) - sizes.box_hy, 0.0)
    h = np.minimum(sizes.h_min + sizes.growth * np.hypot(dx, dy), sizes.h_max)
    inside = (X - cx) ** 2 + (Y - cy) ** 2 <= R * R
    cells = float(np.sum(np.where(inside, area * 4.0 / (math.sqrt(3.0) * h * h), 0.0)))
    if sizes.structured:  # the grid (inside the box): two right triangles per stretch h_min × h_min cell
        nx, ny = structured_core(sizes)
        grid_area = (2 * nx * sizes.stretch * sizes.h_min) * (ny * sizes.h_min)
        cells += grid_area * (2.0 / (sizes.stretch * sizes.h_min ** 2) - 4.0 / (math.sqrt(3.0) * sizes.h_min ** 2))
    # gmsh makes about 5 % more than the ideal count (measured on the presets)
    return 1.05 * cells


def predicted_dofs(cells: float, degree: int) -> int:
    """Lagrange dofs of a triangle mesh of ``cells`` cells (Euler: about
    cells/2 vertices and 3 cells/2 edges)."""
    return int(cells * (0.5 if degree == 1 else 2.0))


def local_mesh_size(msh: Any, point: Sequence[float]) -> float:
    """Largest edge of the cell of ``msh`` containing ``point`` (θ units,
    one number per coordinate of the mesh: a triangle or a tetrahedron;
    collective); ``inf`` when the point lies outside the mesh."""
    from mpi4py import MPI

    gdim = msh.geometry.dim
    p = np.zeros((1, 3))
    p[0, :gdim] = [float(v) for v in point[:gdim]]
    found, cells = _compat.colliding_cells(msh, p)
    h = math.inf
    if found.size:
        xy = msh.geometry.x[_compat.cell_geometry_dofs(msh, int(cells[0])), :gdim]
        h = max(float(np.linalg.norm(xy[i] - xy[j])) for i in range(len(xy)) for j in range(i))
    return msh.comm.allreduce(h, op=MPI.MIN)
