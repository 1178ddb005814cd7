"""Adaptive meshes to a stated accuracy (issue 11): indicator, marking,
refinement loop and the error estimate.

The loop drives any solve through one small interface, ``solve_on(mesh) ->
Solution`` (:mod:`fpsolve.fem.stationary`), so it meshes the presets, user models
(no closed-form widths) and test operators alike::

    mesh_0 (coarse disk) → solve → indicator per cell → mark → refine → ...

* **Indicator** (where to refine): the residual of the stationary equation
  ``∇·J = λ φ`` with ``J = φ (F − ∇·D) − D ∇φ`` (docs/model.md §4),
  ``η_K² = h_K² ‖λφ − ∇·J_h‖²_K + ½ Σ_e h_e ‖[J_h·n]‖²_e``
  (interior strong residual plus flux jumps across edges).
* **Marking**: Dörfler (bulk) marking, the fewest cells holding the fraction
  ``DORFLER`` of Σ η_K²; where the mesh is its own image under θ1 → −θ1
  (or under the symmetries the eigen-solve used) the indicator is
  symmetrised first, so the refined mesh keeps the symmetry (and the
  symmetrisation of the eigenvector applies).
* **Refinement**: a gmsh remesh of the disk whose size field is each old
  cell's edge length, halved on the marked cells (:func:`remesh`); the disk
  is meshed as mirror-image halves when centred on θ1 = 0 (or as a half
  disk and its point image, ``MeshSizes.symmetry``), so the symmetry
  survives every cycle.  (DOLFINx's edge-bisection refine, also available
  as :func:`refine_cells`, breaks it: plaza picks an isosceles cell's
  longest edge by vertex number.)
* **Error estimate** (when to stop): the change of the watched quantities
  between consecutive cycles, extrapolated with the nominal convergence
  rate of P_k in the dof count N: ``e_k ≈ |Q_k − Q_{k−1}| / (r^p − 1)``,
  ``r = N_k / N_{k−1}``, ``p = (k + 1)/2``.  The watched quantities are the
  moments (mean ``|θ1|``, std ``|θ1|``, Var θ1, Var θ2 relative to themselves, the
  means relative to the width) and the L1 distance of the densities
  ``∫|φ_k − φ_{k−1}|`` (φ_{k−1} interpolated into the new space).  Means
  that a symmetry of the model makes 0 (θ → −θ: both; the mirror: mean θ1)
  are not watched but checked as 0 (:func:`zero_checks`, a warning
  otherwise); the indicator, the estimate and the moments all come from
  the symmetric solution (:mod:`fpsolve.fem.symmetry`), so an arbitrary
  split of mass between wells that are images of each other no longer
  drives the loop (issue 22).  The estimate is the largest of them; its
  effectivity (estimate / true error) is measured by the tests and
  ``scripts/bench_solver.py``.

The loop stops when the estimate is below ``tol`` or when the next mesh is
predicted to exceed ``max_dofs`` (then with a warning).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import eigenproblem
from fpsolve.fem.operator import Operator
from fpsolve.fem import mesh as fmesh
from fpsolve.fem.diagnostics import NEGATIVE_MASS_LIMIT
from fpsolve.fem.forms import probability_flux
from fpsolve.fem.linalg import ROUNDOFF_FACTOR
from fpsolve.model import symmetry as model_symmetry
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS


#: Fraction of Σ η² the marked cells hold (Dörfler).
DORFLER = 0.95
#: Relative tolerance of the loop by default (its dof budget: model_mesh.DEFAULT_MAX_DOFS).
DEFAULT_TOL = 1e-3
#: Quantities the estimate watches, and what their error is relative to.
RELATIVE_KEYS = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2")
MEAN_KEYS = (("mean_theta1", "var_theta1"), ("mean_theta2", "var_theta2"))
# λ0 is an escape rate (watched by the estimate) when above ROUNDOFF_FACTOR
# times its round-off size (fpsolve.fem.linalg.ROUNDOFF_FACTOR).
#: Key of λ0 in a cycle's quantities (None where λ0 is at round-off).
WATCHED_RATE = "escape_rate_above_roundoff"
#: Smallest predicted growth of the mesh per cycle (cells, factor).
MIN_GROWTH = 1.8
MAX_GROWTH = 4.0
#: Fewest solves before the loop may stop.
MIN_CYCLES = 3
#: Cells whose mean ``|φ|`` is below this fraction of the largest cell mean are
#: at round-off: their residual is not marked.
NOISE_LEVEL = 1e-12
ESTIMATE_METHOD = ("change between consecutive adaptive cycles of the moments (relative), of the "
                   "density (L1) and of lambda0 where above round-off (relative), divided by r^p - 1 "
                   "(r = dof ratio, p = (degree+1)/2); means made 0 by a symmetry checked as 0, not "
                   "watched; marking by the residual indicator "
                   "h^2|lambda phi - div J|^2 + h|[J.n]|^2, plus its dual weighting by the mean "
                   "first-passage time for lambda0 (Dorfler 0.95)")


@dataclasses.dataclass
class Cycle:
    """One adaptive cycle: what it cost and what it found."""

    cycle: int
    dofs: int
    cells: int
    estimate: float | None
    errors: Dict[str, float]
    moments: Dict[str, float]
    eigenvalue: float
    seconds: float
    zero_by_symmetry: Dict[str, float] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------
# Indicator and marking
# --------------------------------------------------------------------------

def residual_indicator(sol: Any, drift: Any, D: Any, divD: Any | None) -> np.ndarray:
    """η_K² per owned cell of ``sol.mesh`` (module docstring); shape (cells,)."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc


    msh = sol.mesh
    W = _compat.functionspace(msh, "DG", 0)
    w = ufl.TestFunction(W)
    phi = sol.density
    J = probability_flux(phi, drift, D, divD)
    lam = fem.Constant(msh, PETSc.ScalarType(sol.eigenvalue.real))
    h = cell_diameter(msh)
    n = ufl.FacetNormal(msh)
    R = lam * phi - ufl.div(J)
    jump = ufl.dot(J("+"), n("+")) + ufl.dot(J("-"), n("-"))
    md = {"quadrature_degree": 2 * sol.info.get("degree", 2) + 2}
    form = (h * h * R * R * w * ufl.dx(metadata=md)
            + 0.5 * ufl.avg(h) * jump * jump * (w("+") + w("-")) * ufl.dS(metadata=md))
    n_owned = msh.topology.index_map(2).size_local
    eta2, size, area = (_cell_vector(f, n_owned) for f in (form, abs(phi) * w * ufl.dx, w * ufl.dx))
    # where φ is at round-off the residual is noise times the coefficients,
    # which grow like θ⁵ on a large disk (R = 50): it is not an error to chase
    mean = size / area
    top = msh.comm.allreduce(float(mean.max()) if mean.size else 0.0, op=_max())
    eta2[mean < NOISE_LEVEL * top] = 0.0
    return np.maximum(eta2, 0.0)


#: Reliability constant of :func:`density_error_estimate`, calibrated on the
#: exact densities of tests/test_error_estimate.py (effectivity against the
#: L1 error 62-104 with the constant 1, so 1/60 puts the estimate just above
#: there; 0.4-1.3 on the SGD-noise presets against a refined solve).
L1_CONSTANT = 1.0 / 60.0
RESIDUAL_ESTIMATE_METHOD = ("residual estimator of the L1 error of the density on the final mesh: "
                            "(1/60) sqrt(sum_K h_K^2 eta_K^2 / d_K^2) / ||phi||_L2, d_K = sqrt(|D| sqrt(det D)), "
                            "eta_K^2 = h^2|lambda phi - div J|^2 + h|[J.n]|^2 (docs/numerics.md: effectivity "
                            "0.4-1.7)")


def density_error_estimate(sol: Any, drift: Any, D: Any, divD: Any | None) -> float:
    """Estimate of ``∫|φ_h − φ|`` (the density's L1 error; φ normalised to
    ∫ φ = 1) on ``sol``'s own mesh, with no second solve: the residual
    indicator η_K (:func:`residual_indicator`) times ``h_K / d_K`` (the L2
    duality argument gains one power of h and divides by the diffusion; d_K
    = ``sqrt(|D|_K sqrt(det D)_K)``, cell means, ``|D|`` the Frobenius norm
    over √2: d for D = d I, and between the largest and the geometric-mean
    eigenvalue for the SGD noise's anisotropic D, where ``|D|`` alone
    underestimated 10-20 times and ``sqrt(det D)`` overestimated 5-30 times
    against a refined solve), summed in squares,
    relative to ``‖φ_h‖_L2`` and times :data:`L1_CONSTANT`.  ``drift``, ``D``,
    ``divD``: the operator's UFL coefficients (docs/model.md §4).  Measured
    effectivity (estimate / true L1 error) in docs/numerics.md.  Collective."""
    import ufl
    from dolfinx import fem

    msh = sol.mesh
    eta2 = residual_indicator(sol, drift, D, divD)
    w = ufl.TestFunction(_compat.functionspace(msh, "DG", 0))
    n_owned = msh.topology.index_map(2).size_local
    area = _cell_vector(w * ufl.dx, n_owned)
    h = _cell_vector(cell_diameter(msh) * w * ufl.dx, n_owned) / area
    size = _cell_vector(ufl.sqrt(ufl.inner(D, D) / 2) * w * ufl.dx, n_owned) / area
    det = _cell_vector(abs(ufl.det(D)) * w * ufl.dx, n_owned) / area
    d = np.sqrt(size * np.sqrt(det))
    scaled = np.where(d > 0, h * h * eta2 / np.maximum(d, 1e-300) ** 2, 0.0)
    md = {"quadrature_degree": 2 * sol.info.get("degree", 2)}
    norm2 = msh.comm.allreduce(fem.assemble_scalar(fem.form(sol.density * sol.density * ufl.dx(metadata=md))))
    total = msh.comm.allreduce(float(scaled.sum()))
    return L1_CONSTANT * math.sqrt(total / norm2) if norm2 > 0 else math.inf


def cell_diameter(msh: Any) -> Any:
    """DG0 function: each cell's largest vertex distance (θ units), owned
    and ghost cells.  ``ufl.CellDiameter`` is the same on straight cells but
    is not defined on curved ones (the wall of an exit-rate mesh,
    :mod:`fpsolve.fem.mesh`)."""
    from dolfinx import fem

    nodes = _compat.cell_vertices(msh)[:, :3]
    tri = msh.geometry.x[:, :2][nodes]
    edges = np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], axis=1)
    h = fem.Function(_compat.functionspace(msh, "DG", 0))
    dofmap = h.function_space.dofmap.list
    cell_dofs = np.asarray(getattr(dofmap, "array", dofmap)).reshape(-1)
    h.x.array[cell_dofs[:len(tri)]] = np.linalg.norm(edges, axis=2).max(axis=1)
    return h


def _cell_vector(form: Any, n_owned: int) -> np.ndarray:
    """The owned entries of an assembled DG0 linear form (one per cell)."""
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector
    from petsc4py import PETSc

    b = assemble_vector(fem.form(form))
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    out = np.array(b.getArray(readonly=True)[:n_owned])
    b.destroy()
    return out


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def dual_weight(sol: Any) -> np.ndarray | None:
    """Per owned cell, ``h_K² ⟨|∇τ|²⟩_K`` (cell mean), with τ the mean
    first-passage time of the backward equation (``Solution.adjoint``): the
    size of τ's interpolation error, which weights the residual in the
    dual-weighted estimate of the escape rate λ0 (δλ ≈ (R, τ − I_h τ),
    docs/model.md §4, §8).  None when the solve computed no τ."""
    if getattr(sol, "adjoint", None) is None:
        return None
    import ufl

    msh = sol.mesh
    W = _compat.functionspace(msh, "DG", 0)
    w = ufl.TestFunction(W)
    h = cell_diameter(msh)
    grad = ufl.grad(sol.adjoint)
    n_owned = msh.topology.index_map(2).size_local
    return _cell_vector(h * h * ufl.inner(grad, grad) * w * ufl.dx, n_owned) / _cell_vector(w * ufl.dx, n_owned)


def combined_indicator(sol: Any, eta2: np.ndarray, watch_escape_rate: bool) -> np.ndarray:
    """η² for marking: the residual indicator (density and moments) plus,
    when the escape rate is watched, the dual-weighted one ``η_K² w_K``
    (:func:`dual_weight`), each normalised to sum 1 (global)."""
    comm = sol.comm
    total = comm.allreduce(float(eta2.sum()))
    out = eta2 / total if total > 0 else eta2
    weight = dual_weight(sol) if watch_escape_rate else None
    if weight is not None:
        goal = eta2 * weight
        gtotal = comm.allreduce(float(goal.sum()))
        if gtotal > 0:
            out = out + goal / gtotal
    return out


def _cell_midpoints(msh: Any) -> np.ndarray:
    """Midpoints (cells, 2) of this rank's owned cells (vertex average)."""
    n_owned = msh.topology.index_map(msh.topology.dim).size_local
    nodes = _compat.cell_vertices(msh)[:n_owned, :3]
    return msh.geometry.x[:, :2][nodes].mean(axis=1)


def symmetrise_indicator(msh: Any, eta2: np.ndarray,
                         matrices: Sequence[Any] = (((-1.0, 0.0), (0.0, 1.0)),)) -> Tuple[np.ndarray, bool]:
    """(η², symmetric?): η_K² replaced by the largest η² over the images of
    K under the maps θ → S θ of ``matrices`` (2×2 each; default the mirror
    θ1 → −θ1) where every cell has an image under each map (the others are
    skipped); otherwise η² unchanged and False.  Collective."""
    from scipy.spatial import cKDTree

    comm = msh.comm
    mids = _cell_midpoints(msh)
    all_mids = np.concatenate(comm.allgather(mids)) if comm.size > 1 else mids
    all_eta = np.concatenate(comm.allgather(eta2)) if comm.size > 1 else eta2
    if all_mids.size == 0:
        return eta2, False
    scale = float(np.max(np.abs(all_mids)))
    tree = cKDTree(all_mids)
    sym, done = all_eta, False
    for matrix in matrices:
        S = np.asarray(matrix, dtype=float)
        mirror = np.array_equal(S, np.array([[-1.0, 0.0], [0.0, 1.0]]))
        dist, image = tree.query(all_mids * np.array([-1.0, 1.0]) if mirror else all_mids @ S.T)
        if float(np.max(dist)) > 1e-9 * max(scale, 1e-300):
            continue
        sym, done = np.maximum(sym, all_eta[image]), True
    if not done:
        return eta2, False
    start = sum(comm.allgather(len(eta2))[:comm.rank]) if comm.size > 1 else 0
    return sym[start:start + len(eta2)], True


def shrink_factors(eta2: np.ndarray, marked: np.ndarray, degree: int, comm: Any) -> np.ndarray:
    """Factor on each owned cell's size: 1 where unmarked; on marked cells
    ``(η_min / η_K)^(1/(k+1))``, clamped to [1/8, 1/2], with η_min the
    smallest marked indicator (η_K ∝ h^(k+1) for P_k: a cell far above the
    threshold shrinks in one cycle as far as it needs, instead of halving
    once per cycle, which took 18 cycles at T = 1e-4)."""
    from mpi4py import MPI

    out = np.ones(len(eta2))
    eta = np.sqrt(eta2[marked])
    floor = comm.allreduce(float(eta.min()) if len(eta) else np.inf, op=MPI.MIN)
    if len(marked):
        out[marked] = np.clip((floor / np.maximum(eta, 1e-300)) ** (1.0 / (degree + 1)), 0.125, 0.5)
    return out


def dorfler_mark(eta2: np.ndarray, comm: Any, fraction: float = DORFLER) -> np.ndarray:
    """Owned cells (local indices) whose η² sum to ``fraction`` of the
    global total, largest first (by a global threshold, so that cells of
    equal η², e.g. mirror images, are marked together).  Collective."""
    all_eta = np.concatenate(comm.allgather(eta2)) if comm.size > 1 else eta2
    total = float(all_eta.sum())
    if total <= 0:
        return np.arange(len(eta2), dtype=np.int32)
    ordered = np.sort(all_eta)[::-1]
    k = int(np.searchsorted(np.cumsum(ordered), fraction * total))
    threshold = ordered[min(k, len(ordered) - 1)]
    return np.flatnonzero((eta2 >= threshold) & (eta2 > 0)).astype(np.int32)


#: Significant digits of η² the marking sees: below them the indicators of
#: a serial and a parallel run differ by the order of their sums (round-off),
#: which decided ties (mirror-image cells) differently.
MARK_DIGITS = 10


def significant(x: np.ndarray, digits: int = MARK_DIGITS) -> np.ndarray:
    """``x`` (≥ 0) rounded to ``digits`` significant decimal digits."""
    x = np.asarray(x, dtype=float)
    out = x.copy()
    pos = x > 0
    scale = 10.0 ** (np.floor(np.log10(x[pos])) - digits + 1)
    out[pos] = np.round(x[pos] / scale) * scale
    return out


def mark(eta2: np.ndarray, comm: Any, cells: int, degree: int) -> Tuple[np.ndarray, np.ndarray, float]:
    """(marked cells, size factors, predicted growth of the cell count):
    Dörfler marking at ``DORFLER``, its fraction widened until the mesh
    grows by ``MIN_GROWTH`` (a small step makes the extrapolated estimate
    amplify remeshing noise) or narrowed until it grows by at most
    ``MAX_GROWTH`` (a coarse, wrong first solution marks everything).
    A cell whose size shrinks by s becomes about 1/s² cells.  The marking
    sees η² to :data:`MARK_DIGITS` digits, so that it does not depend on the
    number of ranks."""
    eta2 = significant(eta2)

    def trial(fraction: float) -> Tuple[np.ndarray, np.ndarray, float]:
        marked = dorfler_mark(eta2, comm, fraction)
        shrink = shrink_factors(eta2, marked, degree, comm)
        return marked, shrink, comm.allreduce(float(np.sum(shrink ** -2.0))) / cells

    best = trial(DORFLER)
    if best[2] < MIN_GROWTH:
        for fraction in (0.99, 0.999, 0.9999, 1.0):
            best = trial(fraction)
            if best[2] >= MIN_GROWTH:
                break
    elif best[2] > MAX_GROWTH:
        for fraction in (0.8, 0.6, 0.4, 0.2, 0.1):
            best = trial(fraction)
            if best[2] <= MAX_GROWTH:
                break
    return best


def cell_triangles(msh: Any) -> np.ndarray:
    """Vertex coordinates (cells, 3, 2) of this rank's owned cells."""
    n_owned = msh.topology.index_map(msh.topology.dim).size_local
    nodes = _compat.cell_vertices(msh)[:n_owned, :3]
    return msh.geometry.x[:, :2][nodes]


def refine_cells(msh: Any, cells: np.ndarray) -> Any:
    """The mesh with the edges of ``cells`` (local indices) bisected, plus
    the closure that keeps it conforming (DOLFINx plaza refinement; nested,
    but not mirror-symmetric, see the module docstring)."""
    return _compat.refine(msh, _compat.incident_edges(msh, cells))


def size_field(msh: Any, shrink: np.ndarray, sizes: Any) -> Tuple[Any, float]:
    """(background, predicted cells) of the next mesh: each owned cell's mean
    edge length times ``shrink`` (per owned cell, :func:`shrink_factors`),
    clipped to the bounds of ``sizes``, piecewise constant over the old cells
    in an order that does not depend on the partition
    (:func:`canonical_order`); and the cell count that field asks for,
    Σ (h_K / h_new,K)².  The background is
    ``(triangles, vertex values)`` on rank 0 (None elsewhere); the count is
    every rank's.  Collective."""
    comm = msh.comm
    tri = cell_triangles(msh)
    edges = np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], axis=1)
    h_old = np.linalg.norm(edges, axis=2).mean(axis=1)
    h = np.clip(h_old * shrink, sizes.h_min, sizes.h_max)
    if comm.size > 1:
        tris, hs, olds = comm.gather(tri, root=0), comm.gather(h, root=0), comm.gather(h_old, root=0)
        if comm.rank == 0:
            tri, h, h_old = np.concatenate(tris), np.concatenate(hs), np.concatenate(olds)
    background, predicted = None, 0.0
    if comm.rank == 0:
        order = canonical_order(tri, h)
        tri, h, h_old = tri[order], h[order], h_old[order]
        background = (tri, np.repeat(h[:, None], 3, axis=1))
        predicted = float(np.sum((h_old / h) ** 2))
    return background, comm.bcast(predicted, root=0) if comm.size > 1 else predicted


def remesh(sizes: Any, background: Any, comm: Any) -> Any:
    """A new gmsh disk (``sizes``: radius, centre, bounds of the size) whose
    size field is ``background`` (:func:`size_field`).  The gmsh disk is
    meshed as two mirror-image halves when centred on θ1 = 0, so the new mesh
    keeps the θ1 → −θ1 symmetry (DOLFINx's edge-bisection refine breaks it
    where an isosceles cell's longest edge is a tie).  Collective; gmsh runs
    on rank 0."""
    new, _ = fmesh.create_disk(sizes, comm, background)
    return new


def canonical_order(tri: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The permutation that puts triangles (n, 3, 2) and their values in an
    order independent of how the mesh was partitioned: smallest value first,
    ties by the triangles' sorted vertices.  gmsh's background field took a
    node shared by cells of different size from the cell it found first, so
    the order decided the remesh: 1 and 2 ranks grew different adaptive
    meshes (40 877 and 52 645 dofs on the default case, std ``|θ1|`` 5e-4
    apart)."""
    flat = tri.reshape(len(tri), 3, 2)
    inner = np.lexsort((flat[:, :, 1], flat[:, :, 0]), axis=1)
    keys = np.take_along_axis(flat, inner[:, :, None], axis=1).reshape(len(flat), 6)
    return np.lexsort(tuple(keys.T[::-1]) + (values,))


# --------------------------------------------------------------------------
# Error estimate
# --------------------------------------------------------------------------

def quantity_errors(new: Dict[str, float], old: Dict[str, float], zero: Sequence[str] = ()) -> Dict[str, float]:
    """Relative changes of the watched moments between two cycles
    (module docstring); the means in ``zero`` (made 0 by a symmetry:
    :func:`zero_checks`) are not watched."""
    out = {}
    for key in RELATIVE_KEYS:
        if key in new and key in old and new[key] != 0:
            out[key] = abs(new[key] - old[key]) / abs(new[key])
    for key, var in MEAN_KEYS:
        if key in zero:
            continue
        if key in new and key in old and new.get(var, 0) > 0:
            out[key] = abs(new[key] - old[key]) / math.sqrt(new[var])
    lam_new, lam_old = new.get(WATCHED_RATE), old.get(WATCHED_RATE)
    if lam_new is not None and lam_old is not None:
        out["escape_rate"] = abs(lam_new - lam_old) / abs(lam_new)
    return out


#: A mean that a symmetry makes 0 counts as 0 when below this many standard
#: deviations (round-off of the symmetric quadrature is about 1e-16).
ZERO_TOL = 1e-10


def zero_checks(moments: Dict[str, float], zero: Sequence[str]) -> Tuple[Dict[str, float], List[str]]:
    """({key: mean / std} for the means in ``zero``, one line per mean that
    is not 0 to :data:`ZERO_TOL` standard deviations): the quantities a
    symmetry makes 0 are checked as 0, not watched as converging."""
    out, bad = {}, []
    for key, var in MEAN_KEYS:
        if key in zero and key in moments:
            value = abs(moments[key]) / math.sqrt(moments[var]) if moments.get(var, 0) > 0 else abs(moments[key])
            out[key] = value
            if not value <= ZERO_TOL:
                bad.append(f"{key} = {moments[key]:.3g} should be 0 by symmetry ({value:.2g} standard deviations)")
    return out, bad


def hopping_check(new: dict | None, old: dict | None, factor: float, tol: float) -> dict | None:
    """The hopping record of the last cycle (:func:`fpsolve.fem.eigenproblem.hopping_record`)
    with its change from the previous cycle, extrapolated like the moments
    (``estimate``), and ``trusted`` where the rate is resolved (above
    round-off, antisymmetric) and the estimate is below ``tol``."""
    if new is None or new.get("rate") is None:
        return new
    out = dict(new)
    if old is None or old.get("rate") is None or not new["above_roundoff"]:
        return out
    est = factor * abs(new["rate"] - old["rate"]) / abs(new["rate"]) if new["rate"] != 0 else math.inf
    out["estimate"] = est
    out["trusted"] = bool(est <= tol)
    out["trust_reason"] = (f"change from the previous mesh {est:.2g} (extrapolated) <= tol {tol:g}" if out["trusted"]
                           else f"change from the previous mesh {est:.2g} (extrapolated) > tol {tol:g}")
    return out


def resolved_escape_rate(sol: Any) -> float | None:
    """λ0 where it is above round-off (more than ``ROUNDOFF_FACTOR`` times
    ``info["eigenvalue_roundoff"]``), else None: a confined density's λ0 is
    noise (1e-13 ... 1e-8) and is not watched."""
    lam = sol.eigenvalue.real
    noise = sol.info.get("eigenvalue_roundoff", math.inf)
    return lam if abs(lam) > ROUNDOFF_FACTOR * noise else None


def l1_change(new: Any, old: Any) -> float:
    """``∫ |φ_new − I φ_old|`` on the mesh of ``new``, with ``I φ_old`` the
    interpolant of the old density at new's dof points (the interpolation
    error is of the order of φ_old's own error, so this errs on the safe
    side).  Collective."""
    import ufl
    from dolfinx import fem

    V = new.density.function_space
    n_owned = V.dofmap.index_map.size_local
    pts = V.tabulate_dof_coordinates()[:, :2]
    comm = new.comm
    if comm.size > 1:
        counts = comm.allgather(len(pts))
        allpts = np.concatenate(comm.allgather(pts))
        start = sum(counts[:comm.rank])
        vals = old.evaluate(allpts)[start:start + len(pts)]
    else:
        vals = old.evaluate(pts)
    diff = fem.Function(V)
    diff.x.array[:] = new.density.x.array - vals
    diff.x.scatter_forward()
    del n_owned
    md = {"quadrature_degree": 2 * new.info.get("degree", 2) + 2}
    return comm.allreduce(fem.assemble_scalar(fem.form(abs(diff) * ufl.dx(metadata=md))))


def extrapolation_factor(dofs_new: int, dofs_old: int, degree: int, dim: int = 2) -> float:
    """``1 / (r^p − 1)`` with ``r`` the dof ratio and ``p = (degree + 1)/dim``
    (error ∝ h^(k+1) = N^(−(k+1)/dim) on a mesh of dimension ``dim``)."""
    r = dofs_new / dofs_old
    p = (degree + 1) / dim
    return 1.0 / max(r ** p - 1.0, 1e-3)


# --------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------

def adapt(msh: Any, sizes: Any, solve_on: Callable[[Any], Any], indicator: Callable[[Any], np.ndarray],
          moments: Callable[[Any], Dict[str, float]], *, tol: float = DEFAULT_TOL,
          max_dofs: int = DEFAULT_MAX_DOFS, max_cycles: int = 40,
          progress: Callable[[str], None] | None = None) -> Tuple[Any, dict]:
    """Refine from ``msh`` until the estimate is below ``tol`` (relative)
    or the next mesh would exceed ``max_dofs``.  ``sizes``
    (:class:`fpsolve.fem.mesh.MeshSizes`): the disk and the bounds of the size
    field of every remesh.

    ``solve_on(mesh) -> Solution``; ``indicator(Solution) -> η²`` per owned
    cell; ``moments(Solution) -> dict`` (keys of RELATIVE_KEYS / MEAN_KEYS).
    Returns (the last Solution, record) with record keys ``error_estimate``,
    ``error_estimate_method``, ``cycles`` (list of :class:`Cycle` dicts),
    ``converged`` and ``warnings`` (list of one-line strings).  Collective.
    """
    say = progress or (lambda message: None)
    cycles: List[Cycle] = []
    warnings: List[str] = []
    previous = None
    estimate = math.inf
    converged = False
    hopping = None
    for k in range(max_cycles):
        start = time.perf_counter()
        sol = solve_on(msh)
        mom = dict(moments(sol))
        mom[WATCHED_RATE] = resolved_escape_rate(sol)
        dofs = sol.info["dofs"]
        zero = sol.info.get("zero_by_symmetry", [])
        zeros, not_zero = zero_checks(mom, zero)
        errors: Dict[str, float] = {}
        hopping = sol.info.get("hopping")
        if previous is not None:
            factor = extrapolation_factor(dofs, previous.info["dofs"], sol.info.get("degree", 2))
            hopping = hopping_check(hopping, previous.info.get("hopping"), factor, tol)
            raw = quantity_errors(mom, cycles[-1].moments, zero)
            raw["l1_density"] = l1_change(sol, previous)
            errors = {key: factor * value for key, value in raw.items()}
            estimate = max(errors.values())
        cells = msh.comm.allreduce(msh.topology.index_map(2).size_local)
        cycle = Cycle(k, dofs, cells, None if previous is None else estimate, errors, mom,
                      sol.eigenvalue.real, 0.0, zeros)
        # two differences at least: the first one (coarse mesh) can be small by chance;
        # and no converged answer that is not a density (its negative mass warned of)
        negative = sol.negativity()["negative_mass"]
        if k >= MIN_CYCLES - 1 and estimate < tol and negative <= NEGATIVE_MASS_LIMIT:
            converged = True
            cycle.seconds = time.perf_counter() - start
            cycles.append(cycle)
            _say_cycle(say, cycle)
            break
        eta2 = combined_indicator(sol, indicator(sol), mom[WATCHED_RATE] is not None)
        used = sol.info.get("symmetrised") or ["mirror-theta1"]
        eta2, _ = symmetrise_indicator(msh, eta2, [model_symmetry.by_name(n).matrix for n in used])
        marked, shrink, _ = mark(eta2, msh.comm, cells, sol.info.get("degree", 2))
        background, new_cells = size_field(msh, shrink, sizes)
        predicted = int(dofs * new_cells / cells)
        if predicted > max_dofs:
            cycle.seconds = time.perf_counter() - start
            cycles.append(cycle)
            _say_cycle(say, cycle)
            said = f"estimate {estimate:.2g}" if math.isfinite(estimate) else "no estimate (one mesh only)"
            warnings.append(f"tolerance {tol:g} not reached within --max-dofs {max_dofs}: {said} at {dofs} dofs "
                            f"(next mesh would have about {predicted})")
            break
        msh = remesh(sizes, background, msh.comm)
        cycle.seconds = time.perf_counter() - start
        cycles.append(cycle)
        _say_cycle(say, cycle)
        previous = sol
    else:
        warnings.append(f"tolerance {tol:g} not reached in {max_cycles} cycles: estimate {estimate:.2g}")
    warnings.extend(not_zero)
    record = {
        "error_estimate": estimate if math.isfinite(estimate) else None,
        "error_estimate_method": ESTIMATE_METHOD,
        "tol": tol, "max_dofs": max_dofs, "converged": converged,
        "cycles": [c.as_dict() for c in cycles],
        "hopping": hopping,
        "warnings": warnings,
    }
    return sol, record


def _say_cycle(say: Callable[[str], None], c: Cycle) -> None:
    est = "-" if c.estimate is None else f"{c.estimate:.2e}"
    say(f"cycle {c.cycle}: {c.dofs} dofs, estimate {est}, lambda0 {c.eigenvalue:.6g}, {c.seconds:.2f}s")


def solve_adaptive(msh: Any, sizes: Any, coefficients: Callable[[Any], Tuple[Any, Any, Any]], *, degree: int = 2,
                   wall: str = "absorbing", eigensolver: str = "slepc", tol: float = DEFAULT_TOL,
                   max_dofs: int = DEFAULT_MAX_DOFS, progress: Callable[[str], None] | None = None,
                   solver_options: Dict[str, Any] | None = None, model: Any = None) -> Tuple[Any, dict]:
    """Adaptive principal eigenpair of docs/model.md §4's weak form from the
    coarse mesh ``msh`` of the disk ``sizes`` (bounds of every remesh).  ``coefficients(mesh) -> (drift, D, divD)`` (UFL on
    that mesh; divD may be None); ``solver_options`` go to
    :func:`fpsolve.fem.eigenproblem.solve_operator` (options_prefix, petsc_options,
    symmetrise); ``model``: the :class:`~fpsolve.model.expression.Model` whose
    symmetries the eigen-solve tries (:func:`fpsolve.fem.eigenproblem.candidate_maps`).
    Returns (Solution, record of :func:`adapt`)."""

    current: Dict[str, Any] = {}

    def solve_on(m: Any) -> Any:
        op = Operator.build(m, *coefficients(m), degree=degree, wall=wall, model=model)
        current["coefficients"] = (op.drift, op.D, op.divD)
        sol, timing = eigenproblem.solve_operator(op, eigensolver=eigensolver, adjoint=op.wall == "absorbing",
                                                  **(solver_options or {}))
        sol.info.update(timing)
        return sol

    def indicator(sol: Any) -> np.ndarray:
        return residual_indicator(sol, *current["coefficients"])

    return adapt(msh, sizes, solve_on, indicator, lambda sol: sol.moments(), tol=tol, max_dofs=max_dofs,
                 progress=progress)
