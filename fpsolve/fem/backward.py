"""The backward (Kolmogorov) equation: mean first-passage times and
committors (docs/model.md §8).

The generator of ``dθ = F dt + sqrt(2D) dW`` (the model has F = −∇L) is
``𝓛f = F·∇f + Σ_ij D_ij ∂i∂j f``; its weak form is the transpose of the
Fokker-Planck form of docs/model.md §4 (:func:`fpsolve.fem.forms.weak_form`)::

    a*(τ, v) = a(v, τ) = ∫_Ω (D ∇τ)·∇v + v (∇·D − F)·∇τ dθ = −∫ v 𝓛τ

with the natural boundary condition ``(D∇τ)·n = 0`` (a reflecting wall).

- mean first-passage time into a target A: ``𝓛τ = −1`` in Ω∖A, ``τ = 0`` on
  A; on ∂Ω reflecting (default) or ``τ = 0`` (absorbing: leaving the disk
  also ends the search).  Time units; τ/alpha SGD steps.
- committor: ``𝓛q = 0``, ``q = 1`` on A, ``q = 0`` on ∂Ω (absorbing).

The target is a set of dofs: those whose coordinates a predicate accepts
(:class:`~fpsolve.model.target.Box`, :func:`disk_target`, :func:`ball_target`,
:func:`slab_target`).  A mesh that conforms to the
target's boundary gives the exact set; otherwise its boundary is resolved to
the mesh size.  An empty target (None) with an absorbing wall is the pure
exit time from Ω.  The same functions solve on a disk (triangles) and on
a ball (tetrahedra, docs/model.md §9; the 3-D search case is
:mod:`fpsolve.fem.search3d`).  Direct LU solve (PETSc's LU in serial in 2-D,
MUMPS in 3-D and in parallel).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.theory import valley as theory
from fpsolve.fem import eigenproblem, model_mesh, solve3d
from fpsolve.fem import mesh as fmesh
from fpsolve.fem.forms import check_degree, check_wall
from fpsolve.fem.linalg import PREFIXES, configure_lu, options_in_effect
from fpsolve.fem.operator import Operator
from fpsolve.fem.mesh import local_mesh_size
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
from fpsolve.fem.solution import evaluate_function
from fpsolve.model.expression import as_model
from fpsolve.model.target import Box
from fpsolve.model.valley import check_start, ModelError


#: Boundary options of the disk for the backward problems.

#: A target set: a :class:`~fpsolve.model.target.Box`, or any predicate on coordinates (3, n).
Target = Callable[[np.ndarray], np.ndarray]


def refine_near_box(msh: Any, box: Sequence[float], width: float, times: int = 2) -> Any:
    """``msh`` bisected ``times`` times near the edges of the box (C1, C2, W1,
    W2): each pass refines the edges within ``width`` (halved per pass) of the
    box's boundary, so a target that does not conform to the mesh is
    resolved to a quarter (times = 2) of the local size.  Collective."""
    from dolfinx import mesh as dmesh

    if _compat.mesh_degree(msh) > 1:
        raise ModelError(f"refining near the target needs straight (3-node) triangles; this mesh's cells are "
                         f"curved (geometry degree {_compat.mesh_degree(msh)}): give a mesh written with "
                         "make_mesh.py --order 1")
    c1, c2, w1, w2 = (float(v) for v in box)
    for k in range(times):
        d = width / 2 ** k

        def near(x: np.ndarray) -> np.ndarray:
            inner = (np.abs(x[0] - c1) <= w1 - d) & (np.abs(x[1] - c2) <= w2 - d)
            outer = (np.abs(x[0] - c1) <= w1 + d) & (np.abs(x[1] - c2) <= w2 + d)
            return outer & ~inner

        msh.topology.create_entities(1)
        edges = dmesh.locate_entities(msh, 1, near)
        msh = _compat.refine(msh, edges)
    return msh


def ball_target(center: Sequence[float], radius: float) -> Target:
    """The ball ``|θ − center| ≤ radius`` (θ units) as a predicate on coordinates
    (3, n); ``center`` has 2 numbers (a disk in θ1, θ2) or 3 (a ball).  Points
    on the sphere count (to a relative 1e-10).  Raises ModelError on a
    radius that is not finite and > 0 or a centre that is not 2 or 3 finite numbers."""
    try:
        r = float(radius)
    except (TypeError, ValueError):
        r = math.nan
    if not (math.isfinite(r) and r > 0):
        raise ModelError(f"target radius must be a finite number > 0 (got {radius!r})")
    c = np.asarray(center, dtype=float).reshape(-1)
    if c.size not in (2, 3) or not np.all(np.isfinite(c)):
        raise ModelError(f"target centre must be 2 or 3 finite numbers (got {center!r})")
    tol = 1e-10 * max(1.0, r)

    def inside(x: np.ndarray) -> np.ndarray:
        r2 = sum((x[i] - c[i]) ** 2 for i in range(c.size))
        return np.sqrt(r2) <= r + tol

    return inside


def disk_target(center: Sequence[float], radius: float) -> Target:
    """The disk ``|θ − center| ≤ radius`` (``center`` (c1, c2)) as a predicate on
    coordinates (3, n): :func:`ball_target` in θ1, θ2."""
    return ball_target(tuple(center)[:2], radius)


def slab_target(lo: float, hi: float) -> Target:
    """The slab ``lo ≤ |θ1| ≤ hi`` (θ units, any θ2, θ3) as a predicate on
    coordinates (3, n): the folded window of the 1-D search time (docs/model.md
    §8-9; :func:`fpsolve.theory.nvalley.search_time`'s x* ± σ*) and the
    Monte Carlo's first-passage set (:func:`fpsolve.mc.nensemble.run`'s
    ``target``).  Raises ModelError unless 0 ≤ lo < hi, both finite."""
    try:
        a, b = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ModelError(f"target slab needs two numbers lo, hi of |theta1| (got {lo!r}, {hi!r})") from None
    if not (math.isfinite(a) and math.isfinite(b) and 0.0 <= a < b):
        raise ModelError(f"target slab must satisfy 0 <= lo < hi, finite (got lo={a:g}, hi={b:g})")
    tol = 1e-10 * max(1.0, b)

    def inside(x: np.ndarray) -> np.ndarray:
        ax = np.abs(x[0])
        return (ax >= a - tol) & (ax <= b + tol)

    return inside


@dataclasses.dataclass
class BackwardSolution:
    """A solved backward problem: ``field`` (``fem.Function``: τ in time
    units, or q), ``kind`` (``mfpt`` / ``committor``), ``wall``, target dof
    count, dofs and seconds."""

    field: Any
    kind: str
    wall: str
    target_dofs: int
    dofs: int
    assemble_seconds: float
    solve_seconds: float
    options_in_effect: dict = dataclasses.field(default_factory=dict)

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Values at points of shape (n, 2) (disk) or (n, 3) (ball), 0 outside the mesh; collective,
        the same on every rank."""
        return evaluate_function(self.field, points)

    def summary(self) -> dict:
        return {"kind": self.kind, "wall": self.wall, "target_dofs": self.target_dofs, "dofs": self.dofs,
                "assemble_seconds": self.assemble_seconds, "solve_seconds": self.solve_seconds,
                "options_in_effect": self.options_in_effect}


def _solve(op: Operator, target: Target | None, *, kind: str, options_prefix: str,
           petsc_options: Dict[str, Any] | None) -> BackwardSolution:
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
    from petsc4py import PETSc

    comm, V, msh = op.comm, op.V, op.mesh
    wall = "absorbing" if kind == "committor" else op.wall
    t0 = time.perf_counter()
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(op.backward_form(u, v))
    if target is None:  # the pure exit time: only the absorbing wall ends the walk
        if kind != "mfpt" or wall != "absorbing":
            raise ModelError("an empty target (None) needs the mean first-passage time with an absorbing wall "
                             f"(got the {'committor' if kind != 'mfpt' else 'mfpt'} with a {wall} wall): "
                             "nothing would end the walk")
        target_dofs = np.zeros(0, dtype=np.int32)
    else:
        target_dofs = fem.locate_dofs_geometrical(V, target)
    n_target = comm.allreduce(int(np.sum(target_dofs < V.dofmap.index_map.size_local)))
    if n_target == 0 and target is not None:
        raise ModelError("the target contains no mesh node: it is smaller than the mesh there or outside the "
                         "domain (make it larger, refine the mesh there: --h-min near the valley floor, --h-max "
                         "away from it, or move it)")
    on_target = fem.Function(V)
    on_target.x.array[:] = 0.0 if kind == "mfpt" else 1.0
    bcs = [fem.dirichletbc(on_target, target_dofs)]
    if wall == "absorbing":
        zero = fem.Function(V)
        wall_dofs = np.setdiff1d(op.wall_dofs, target_dofs)
        bcs.append(fem.dirichletbc(zero, wall_dofs))
    rhs = fem.Constant(msh, PETSc.ScalarType(1.0 if kind == "mfpt" else 0.0))
    L = fem.form(rhs * v * ufl.dx)
    A = assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = assemble_vector(L)
    apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    set_bc(b, bcs)
    t1 = time.perf_counter()
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    if msh.topology.dim == 3:  # MUMPS, or GMRES + ASM/ILU above solve3d.ITERATIVE_DOFS
        petsc_options = {**solve3d.linear_options(V.dofmap.index_map.size_global), **(petsc_options or {})}
    configure_lu(ksp, comm, options_prefix, petsc_options)
    in_effect = options_in_effect(ksp)
    field = fem.Function(V, name="mean_first_passage_time" if kind == "mfpt" else "committor")
    ksp.solve(b, _compat.petsc_vec(field))
    field.x.scatter_forward()
    if ksp.getType() != "preonly":  # an iterative solve: what it took
        in_effect.update({"krylov_iterations": int(ksp.getIterationNumber()),
                          "residual_norm": float(ksp.getResidualNorm()),
                          "converged_reason": int(ksp.getConvergedReason())})
    t2 = time.perf_counter()
    for obj in (ksp, A, b):
        obj.destroy()
    return BackwardSolution(field, kind, wall, n_target, V.dofmap.index_map.size_global, t1 - t0, t2 - t1,
                            in_effect)


#: Nodal overshoot of a committor beyond [0, 1] (and of τ below 0, relative to max τ) that
#: :func:`range_warnings` reports.  The exact solution obeys the maximum principle (0 ≤ q ≤ 1,
#: τ ≥ 0); a P2 solution need not, but where it is resolved it overshoots less than its error:
#: on the exact 3-D cases of tests/test_backward3d.py q lies in [0, 1] and τ ≥ 0 exactly at the
#: nodes (errors measured 1.2e-3 / 3e-3).  An overshoot above 1e-2 is then a percent-level error
#: of the field itself, more than the search's stated accuracy
#: (measured on the valley m = 2, T = 0.05, absorbing wall: q up to 2.09 and τ down to −4.2 of
#: max 116 at h_min/h_max 0.2/0.6, q up to 1.42 at 0.15/0.5, τ −0.08 of 129 at 0.1/0.4).
RANGE_TOLERANCE = 1e-2


def field_range(sol: BackwardSolution) -> Tuple[float, float]:
    """(min, max) of the nodal values (owned dofs) of ``sol.field`` over all ranks.  Collective."""
    from mpi4py import MPI

    f = sol.field
    imap = f.function_space.dofmap.index_map
    a = f.x.array[:imap.size_local * f.function_space.dofmap.index_map_bs]
    comm = f.function_space.mesh.comm
    lo = comm.allreduce(float(np.min(a)) if a.size else math.inf, op=MPI.MIN)
    hi = comm.allreduce(float(np.max(a)) if a.size else -math.inf, op=MPI.MAX)
    return lo, hi


def range_warnings(tau: BackwardSolution | None, committor: BackwardSolution | None = None,
                   refine: str = "--h-min/--h-max") -> Tuple[dict, list]:
    """(record, warnings) of the solved fields' ranges (docs/model.md §8): the record
    ``tau_range`` / ``committor_range`` [min, max] of the nodal values (for summary.json), and one
    line each where the committor leaves [0, 1] by more than :data:`RANGE_TOLERANCE`, or τ falls
    below −RANGE_TOLERANCE·max τ: the mesh does not resolve the field (``refine`` names the size
    options).  Collective."""
    record: dict = {}
    out: list = []
    if tau is not None:
        lo, hi = field_range(tau)
        record["tau_range"] = [lo, hi]
        if lo < -RANGE_TOLERANCE * max(hi, 0.0):
            out.append(f"mean first-passage time tau ranges {lo:.3g} ... {hi:.3g} at the mesh nodes (negative "
                       f"below -{RANGE_TOLERANCE:g} of its max): the mesh does not resolve it; refine ({refine})")
    if committor is not None:
        lo, hi = field_range(committor)
        record["committor_range"] = [lo, hi]
        if lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE:
            out.append(f"committor ranges {lo:.3g} ... {hi:.3g} at the mesh nodes (outside [0, 1] by more than "
                       f"{RANGE_TOLERANCE:g}): the mesh does not resolve it; refine ({refine})")
    return record, out


#: Fewest mesh nodes (dofs) in a target below which :func:`target_warnings` warns.  Measured on
#: the valley m = 2, T = 0.05, target ball on the floor at (0.83, 0, 0), start (1.3, 0, 0),
#: P2, h_min/h_max 0.2/0.6, 0.15/0.5, 0.1/0.4, 0.075/0.3: radius 0.05: 3 / 15 / 28 nodes, τ 55.1 /
#: 62.4 / 48.1; radius 0.1: 11 / 27 / 103 / 214 nodes, τ 25.7 / 38.1 / 33.7 / 28.6; radius 0.2:
#: 92 / 719 / 1676 nodes (0.2/0.6, 0.1/0.4, 0.075/0.3), τ 11.7 / 17.8 / 13.3.  Below ~20 nodes τ
#: moves by a factor 1.5 between meshes; above, still by ±20 % (the ball's surface is resolved
#: only to the mesh size in the stiff valley): a floor, not a guarantee.  A target at the origin
#: (D11 ≈ T ε²/2 there) holding 1-8 nodes gave τ 7e7 … 3e8: a near-point target in 3-D has
#: vanishing capacity, τ diverges as the mesh refines.
MIN_TARGET_DOFS = 20


def target_warnings(sol: BackwardSolution, refine: str = "--h-min near the valley floor, --h-max away from it") -> list:
    """One line where the target of ``sol`` holds fewer than :data:`MIN_TARGET_DOFS` mesh nodes: its
    surface is not resolved and τ depends on which nodes happen to fall inside it."""
    if 0 < sol.target_dofs < MIN_TARGET_DOFS:
        return [f"the target holds only {sol.target_dofs} mesh nodes (< {MIN_TARGET_DOFS}): τ depends on "
                f"which nodes fall inside it; refine at the target ({refine}) or enlarge it, and compare "
                "τ on a finer mesh"]
    return []


def search_checks(tau: BackwardSolution, committor: BackwardSolution | None = None) -> Tuple[dict, list]:
    """(record, warnings) of a search's solved fields, the checks of the 2-D and 3-D search alike:
    :func:`target_warnings` of ``tau``, then :func:`range_warnings` of both.  Collective."""
    record, warnings = range_warnings(tau, committor)
    return record, target_warnings(tau) + warnings


def write_fields(folder: Any, *solutions: BackwardSolution | None) -> None:
    """Each solution that is not None as ``tau.xdmf``/``.h5`` (an MFPT) or
    ``committor.xdmf``/``.h5`` in ``folder`` (a pathlib.Path; ParaView,
    :func:`fpsolve._compat.write_xdmf`).  Collective."""
    for sol in solutions:
        if sol is not None:
            name = "tau" if sol.kind == "mfpt" else "committor"
            _compat.write_xdmf(str(folder / f"{name}.xdmf"), sol.field.function_space.mesh, sol.field)


def mean_first_passage_time(op: Operator, *, target: Target | None, options_prefix: str = PREFIXES["backward"],
                            petsc_options: Dict[str, Any] | None = None) -> BackwardSolution:
    """τ(θ) with ``𝓛τ = −1`` off the target, ``τ = 0`` on it (docs/model.md §8).

    ``op``: the :class:`~fpsolve.fem.operator.Operator` on a disk or a ball
    (mesh, coefficients, degree; its wall, ``reflecting`` or ``absorbing``,
    is the domain's); ``target``: a :class:`~fpsolve.model.target.Box`
    (θ1, θ2 only), :func:`ball_target`, :func:`slab_target` or any predicate
    on coordinates (3, n); None: no target, the exit time through an
    absorbing wall.  The LU reads PETSc options under ``options_prefix``
    (``fpsolve_bw_``; on a 3-D mesh :func:`fpsolve.fem.solve3d.linear_options`:
    MUMPS, or GMRES + ASM/ILU above ``ITERATIVE_DOFS``, unless they say
    otherwise; an iterative solve records its iterations and residual in
    ``options_in_effect``).  τ is in time units (α SGD steps; SGD steps: τ/alpha).
    Collective.  Raises InputError on a target holding no mesh node, or
    None with a reflecting wall.
    """
    return _solve(op, target, kind="mfpt", options_prefix=options_prefix, petsc_options=petsc_options)


def committor(op: Operator, *, target: Target, options_prefix: str = PREFIXES["backward"],
              petsc_options: Dict[str, Any] | None = None) -> BackwardSolution:
    """q(θ): the probability of reaching the target before the disk's wall;
    ``𝓛q = 0``, ``q = 1`` on the target, ``q = 0`` on ∂Ω (docs/model.md §8).
    Arguments and errors as :func:`mean_first_passage_time` (the wall is absorbing whatever ``op.wall``)."""
    return _solve(op, target, kind="committor", options_prefix=options_prefix, petsc_options=petsc_options)


# --------------------------------------------------------------------------
# A case of the model: what scripts/search_time.py writes
# --------------------------------------------------------------------------

@dataclasses.dataclass
class SearchRun:
    """The search time of a model case: ``summary`` (summary.json; τ at the
    start as ``mean_first_passage_time``, also under its former key
    ``search_time``), the τ
    solution, the committor (or None), and both on the grid ``xs``, ``ys``
    (NaN outside the disk; the same on every rank)."""

    summary: dict
    tau: BackwardSolution
    committor: BackwardSolution | None
    xs: np.ndarray
    ys: np.ndarray
    tau_grid: np.ndarray
    committor_grid: np.ndarray | None


#: The default target of a custom model (docs/model.md §7-8), stated once (docstrings, summary.json).
CUSTOM_TARGET_RULE = ("box centred on the most probable point θ* of the stationary FEM density (one eigen-solve, "
                      "reflecting wall, on the search's mesh) with half-widths the peak's widths W_i = "
                      "sqrt((H⁻¹)_ii), H = −∇²ln P at θ* (the standard deviations of its Gaussian, Laplace, "
                      "approximation: the 2-D θ1* ± σ*, |θ2| ≤ sqrt(T g/2) of the valley); start θ* + (3 W1, 0)")


def check_target(box: Sequence[float], radius: float, center: Sequence[float],
                 name: str = "target") -> Tuple[float, float, float, float]:
    """The target box (C1, C2, W1, W2: centre and half-widths, θ units) when
    valid, meeting the disk ``|θ − center| < radius`` and leaving part of it
    outside (a box over the whole disk has τ ≡ 0: nothing to solve, and
    edges c ± w beyond double range overflow); else ModelError naming
    ``name`` (``--target`` in the scripts) and the value, before any meshing."""
    c1, c2, w1, w2 = (float(v) for v in box)
    given = f"{name} {c1:g} {c2:g} {w1:g} {w2:g}"
    try:
        Box((c1, c2), (w1, w2))  # finite, positive half-widths
    except ModelError as exc:
        raise ModelError(f"{given}: {exc}") from None
    dx, dy = abs(c1 - center[0]), abs(c2 - center[1])
    if not all(math.isfinite(v) for v in (dx + w1, dy + w2)):
        raise ModelError(f"{given}: its edges C ± W overflow double range")
    if math.hypot(max(dx - w1, 0.0), max(dy - w2, 0.0)) >= radius:
        raise ModelError(f"{given} lies outside the disk of radius {radius:g} "
                         f"around ({center[0]:g}, {center[1]:g})")
    if dx + radius <= w1 and dy + radius <= w2:
        raise ModelError(f"{given} covers the whole disk of radius {radius:g} around ({center[0]:g}, "
                         f"{center[1]:g}): the search time is 0 everywhere; give a box smaller than the disk")
    return c1, c2, w1, w2


def stationary_peak(op: Operator, *, radius: float = 2.0, center: Sequence[float] = (0.0, 0.0),
                    grid: int = 241) -> Tuple[Tuple[float, float], Tuple[float, float], float]:
    """((θ1*, θ2*), (W1, W2), seconds): the most probable point of the
    stationary density of ``op`` (docs/model.md §4 with a reflecting wall, one
    eigen-solve) and the peak's widths, by :data:`CUSTOM_TARGET_RULE`.

    The maximum over a ``grid × grid`` lattice of the disk, then twice a
    least-squares quadratic fit of ln P on a 5 × 5 stencil of the local mesh
    size around the current point and a Newton step to the fit's maximum
    (exact for a Gaussian peak up to the FEM error).  Collective.  Raises
    ModelError when the density has no peak there (H not positive definite)."""

    t0 = time.perf_counter()
    sol, _ = eigenproblem.solve_operator(op.with_wall("reflecting"))
    msh = op.mesh
    c = np.asarray(center, dtype=float)
    g = np.linspace(-radius, radius, grid)
    X, Y = np.meshgrid(c[0] + g, c[1] + g)
    inside = np.hypot(X - c[0], Y - c[1]) < radius * (1 - 1e-9)
    pts = np.column_stack([X[inside], Y[inside]])
    vals = sol.evaluate(pts)
    mode = pts[int(np.argmax(vals))]
    u, w = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3))
    u, w = u.ravel().astype(float), w.ravel().astype(float)
    basis = np.column_stack([np.ones_like(u), u, w, 0.5 * u * u, u * w, 0.5 * w * w])
    for _ in range(2):
        h = local_mesh_size(msh, mode)
        if not math.isfinite(h):
            h = radius / 40
        p = sol.evaluate(mode + h * np.column_stack([u, w]))
        if not np.all(p > 0):
            raise ModelError(f"the stationary density is not positive around its maximum ({mode[0]:.3g}, "
                             f"{mode[1]:.3g}); give --target C1 C2 W1 W2")
        coef = np.linalg.lstsq(basis, np.log(p), rcond=None)[0]
        grad = coef[1:3] / h
        H = -np.array([[coef[3], coef[4]], [coef[4], coef[5]]]) / (h * h)  # −∇² ln P
        if not (H[0, 0] > 0 and np.linalg.det(H) > 0):
            raise ModelError(f"the stationary density has no peak at ({mode[0]:.3g}, {mode[1]:.3g}) "
                             "(−∇²ln P not positive definite); give --target C1 C2 W1 W2")
        step = np.linalg.solve(H, grad)
        if np.hypot(*step) > 2 * h:  # stay within the fitted stencil
            step *= 2 * h / np.hypot(*step)
        mode = mode + step
    cov = np.linalg.inv(H)
    return ((float(mode[0]), float(mode[1])), (float(math.sqrt(cov[0, 0])), float(math.sqrt(cov[1, 1]))),
            time.perf_counter() - t0)


def default_target(landscape: Any, noise: Any, radius: float = 2.0) -> Tuple[Tuple[float, float, float, float],
                                                                          Tuple[float, float], dict]:
    """((C1, C2, W1, W2), start, 1-D result): the box θ1* ± σ*, ``|θ2|`` ≤ sqrt(T g(θ1*)/2)
    around the most probable point of the slow marginal (docs/model.md §5, S44;
    :func:`search_case` adds its mirror image at −θ1*, as the 1-D ``|θ1|`` folds),
    and the start (θ1* + 3σ*, 0), as :func:`fpsolve.theory.valley.search_time` sets
    them in 1-D (its result, reflecting at θ1 = ``radius``, is returned too)."""

    st = theory.search_time(landscape, noise, half_width=radius)
    xs = st["mode_theta1"]
    w2 = math.sqrt(0.5 * noise.T * float(landscape.g(xs)))
    return (xs, 0.0, st["window"], w2), (st["start"], 0.0), st


def search_mesh_sizes(landscape: Any, noise: Any, radius: float, center: Tuple[float, float],
                      start: Sequence[float], box: Sequence[float], h_min: float | None = None,
                      h_max: float | None = None) -> Any:
    """The case's graded sizes (:func:`fpsolve.fem.mesh.graded_sizes`) with the
    fine box stretched to hold the start and the target in θ1, and in θ2
    the start and 2.2 fast widths sqrt(T g/2) (their largest over the θ1
    range) around the valley floor: the search's path is resolved as finely
    as the stationary density."""
    import dataclasses


    sizes = fmesh.graded_sizes(landscape, noise, radius, center, h_min, h_max)
    c1, c2, w1, w2 = (float(v) for v in box)
    lo = min(sizes.box_x0 - sizes.box_hx, float(start[0]), c1 - w1)
    hi = max(sizes.box_x0 + sizes.box_hx, float(start[0]), c1 + w1)
    xs = np.linspace(lo, hi, 101)
    fast = float(np.max(np.sqrt(0.5 * noise.T * np.asarray(landscape.g(xs), dtype=float))))
    hy = max(sizes.box_hy, abs(float(start[1]) - sizes.box_y0) + fast, 2.2 * fast)
    if sizes.structured:
        # the grid stays the density's core; the box around it (size h_min,
        # the grid's row height) widens to the path, centred on the mirror axis
        return dataclasses.replace(sizes, grid_hx=sizes.box_hx, grid_hy=sizes.box_hy,
                                   box_hx=min(max(-lo, hi, sizes.box_hx), radius),
                                   box_hy=min(max(hy, sizes.box_hy), radius), rule=sizes.rule + "+search")
    return dataclasses.replace(sizes, box_x0=0.5 * (lo + hi), box_hx=min(0.5 * (hi - lo), radius),
                               box_hy=min(hy, radius), rule=sizes.rule + "+search")


#: Fewest grid columns across the target's θ1 half-width on a structured core
#: (:func:`aligned_core`): τ(r = 0.1, ε = 1e-3, below T_c) 9101 / 9109 / 9130
#: with 4 / 8 / 16 (formula 9173).
TARGET_COLUMNS = 4


def aligned_core(sizes: Any, start: Sequence[float], box: Sequence[float]) -> Any:
    """``sizes`` of a phase-I core (:func:`fpsolve.fem.mesh.graded_sizes`) made
    a structured grid of axis-parallel right triangles
    (``MeshSizes.structured``) whose lines run along the target's edges:
    ``TARGET_COLUMNS`` or more columns across its θ1 half-width (columns no
    wider than the core's θ1 size), a whole number of rows of at most the
    core's θ2 size across its θ2 half-width.  The grid spans the density's
    core and the target; a start beyond it lies in the box of the grid's
    row height around it.  None where that is not possible: a band (phase
    II), a disk or target off the mirror axis θ1 = 0, or a grid that does
    not fit in the disk.

    Why: below T_c at small ε, D22/D11 ~ 1e6.  On an unstructured mesh the
    P2 interpolant of a function of θ1 alone has a θ2-gradient of order
    h1³ ``|∂1³τ|`` / h2, which D22 weighs as much as the true θ1-gradient: τ
    came out 30 % short (6577 against the formula's 9173 and the SDE's
    9150 ± 550 at ε = 1e-3, r = 0.1) and moved ±5 % between meshes.  On the
    aligned grid every P2 node of a column has the same θ1 (9101, within
    1e-4 over 4-16 columns and 2× finer rows)."""
    import dataclasses


    c1, c2, w1, w2 = (float(v) for v in box)
    if "core" not in sizes.rule or sizes.center[0] != 0.0 or sizes.box_x0 != 0.0 or c1 != 0.0:
        return None
    if sizes.structured:  # θ units
        core_x, core_y = (sizes.box_hx, sizes.box_hy) if sizes.grid_hx is None else (sizes.grid_hx, sizes.grid_hy)
    else:
        core_x, core_y = sizes.box_hx * sizes.stretch, sizes.box_hy
    h = sizes.h_min
    if abs(c2 - sizes.box_y0) + w2 < core_y:  # the target's θ2 edges lie in the grid
        if c2 != sizes.box_y0:
            return None
        h = w2 / math.ceil(w2 / h * (1 - 1e-12))  # grid lines on θ2 = c2 ± w2
    s = min(sizes.stretch * sizes.h_min, w1 / TARGET_COLUMNS)
    s = w1 / math.ceil(w1 / s * (1 - 1e-12))  # grid lines on θ1 = ±w1
    a = math.ceil(max(core_x, 1.5 * w1) / s) * s
    b = math.ceil(core_y / h) * h
    box_x = max(a, sizes.box_hx if sizes.structured else a, 1.5 * abs(float(start[0])))
    box_y = max(b, sizes.box_hy, abs(float(start[1]) - sizes.box_y0) + h)
    aligned = dataclasses.replace(sizes, h_min=h, stretch=s / h, structured=True, grid_hx=a, grid_hy=b,
                                  box_hx=min(box_x, sizes.radius), box_hy=min(box_y, sizes.radius),
                                  rule=sizes.rule + "+aligned")
    return aligned if fmesh.grid_fits(aligned) else None


def search_case(model: Any, noise: Any = None, *, target: Sequence[float] | None = None,
                start: Sequence[float] | None = None, wall: str = "reflecting", with_committor: bool = False,
                cross: bool = True, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
                degree: int = 2, mesh: Any = None, h_min: float | None = None, h_max: float | None = None,
                comm: Any = None, grid: Tuple[int, int] | None = (241, 241), refine_target: int = 2,
                refine: float = 1.0,
                progress: Callable[[str], None] | None = None) -> SearchRun:
    """Mean first-passage time of a model case (docs/model.md §8) into ``target``
    (C1, C2, W1, W2: box centre and half-widths, θ units; default
    :func:`default_target`) on the case's graded mesh, τ at ``start``
    (default :func:`default_target`'s) in time units and SGD steps, next to
    the 1-D adiabatic formula (S44) for the same θ1-window when the target
    is the default; with ``with_committor`` also q (target before the wall).
    ``grid`` None skips the fields on a grid (sweeps); ``refine`` divides
    every mesh size; ``refine_target`` bisections near the target's edges (none where
    :func:`aligned_core` puts grid lines on them).

    ``model``: a :class:`~fpsolve.model.expression.Model` (docs/model.md §7), or
    ``(Landscape, Noise)`` with ``cross`` (docs/model.md §1-3), converted once
    (:func:`~fpsolve.model.expression.as_model`): the valley with SGD noise
    takes the preset's path (same mesh and numbers);
    any other model has no 1-D θ1*: its default target and start follow
    :data:`CUSTOM_TARGET_RULE` (:func:`stationary_peak`, on the uniform disk
    of :func:`fpsolve.fem.model_mesh.model_mesh_sizes`, ``h_min``, default
    radius/40, on which it runs).  Collective.  Raises ModelError on bad
    input (a target outside the disk before any meshing)."""
    from mpi4py import MPI


    comm = MPI.COMM_WORLD if comm is None else comm
    say = progress or (lambda message: None)
    wall = check_wall(wall)
    check_degree(degree)
    model = as_model(model, noise, cross)
    noise, cross, landscape = model.noise_level, model.cross, model.valley
    valley_path = model.is_valley()
    if target is not None:
        target = check_target(target, radius, center)
    if start is not None:

        start = check_start(start, radius, center)
    peak, aligned = None, None
    if not valley_path:
        model.check_formulas(radius, center)
        noise.require_positive_T()
        msh, mesh_info, t_mesh = model_mesh.model_mesh(model, radius=radius, center=center, mesh=mesh,
                                                   h_min=h_min, h_max=h_max, comm=comm)
        box, default_start, st = target, start, None
        if target is None or start is None:
            mode, widths, seconds = stationary_peak(Operator.of_model(msh, model, degree=degree), radius=radius,
                                                    center=center)
            peak = {"rule": CUSTOM_TARGET_RULE, "mode": list(mode), "widths": list(widths),
                    "solve_seconds": seconds}
            say(f"stationary peak at ({mode[0]:.4g}, {mode[1]:.4g}), widths ({widths[0]:.3g}, {widths[1]:.3g})")
            box = box or (mode[0], mode[1], widths[0], widths[1])
            default_start = default_start or (mode[0] + 3.0 * widths[0], mode[1])
    else:
        box, default_start, st = default_target(landscape, noise, radius)
    if target is not None:
        box = target
    # the valley's default target is folded like the 1-D search time's |θ1| (both wells)
    mirror = target is None and valley_path and box[0] != 0.0
    pred = Box.from_numbers(box, mirror=mirror)
    x0 = tuple(float(v) for v in (default_start if start is None else start))
    if not all(math.isfinite(v) for v in x0) or math.hypot(x0[0] - center[0], x0[1] - center[1]) >= radius:
        raise ModelError(f"start ({x0[0]:g}, {x0[1]:g}) must lie inside the disk of radius {radius:g}"
                         + (" (the default θ* + 3 W1; give --start X Y)" if start is None else ""))
    if valley_path and mesh is None:
        # the graded mesh of the case with its fine box stretched over the
        # search's path (start, target), or a start outside it is unresolved
        t0 = time.perf_counter()
        sizes = search_mesh_sizes(landscape, noise, radius, center, x0, box, h_min, h_max)
        if refine != 1.0:
            sizes = sizes.refined(refine)
        aligned = aligned_core(sizes, x0, box)
        sizes = aligned or sizes
        if refine_target and not aligned:  # DOLFINx bisects straight cells only (refine_near_box)
            sizes = dataclasses.replace(sizes, geometry_order=1)
        if sizes.structured and not fmesh.grid_fits(sizes):
            sizes = fmesh.unstructured(sizes)

        model_mesh.check_budget(sizes, degree, DEFAULT_MAX_DOFS)
        msh, _ = fmesh.create_disk(sizes, comm)
        mesh_info = {"source": "gmsh", **sizes.as_dict(), "refine": refine,
                     "cells": comm.allreduce(msh.topology.index_map(2).size_local)}
        t_mesh = time.perf_counter() - t0
    elif valley_path:
        msh, mesh_info, t_mesh = fmesh.mesh_for(landscape, noise, radius=radius, center=center, mesh=mesh,
                                                h_min=h_min, h_max=h_max, comm=comm, refine=refine)
    if refine_target and not aligned:  # an aligned core has grid lines on the target's edges

        h = local_mesh_size(msh, (box[0], box[1]))
        msh = refine_near_box(msh, box, 2.0 * h, refine_target)
        if mirror:
            msh = refine_near_box(msh, (-box[0], *box[1:]), 2.0 * h, refine_target)
        mesh_info = {**mesh_info, "refined_near_target": refine_target,
                     "cells": comm.allreduce(msh.topology.index_map(2).size_local)}
    say(f"mesh: {mesh_info['cells']} triangles in {t_mesh:.2f}s")
    op = Operator.of_model(msh, model, degree=degree, wall=wall)
    tau = mean_first_passage_time(op, target=pred)
    say(f"mean first-passage time: {tau.dofs} dofs, {tau.target_dofs} target dofs, "
        f"solve {tau.solve_seconds:.2f}s")
    q = committor(op, target=pred) if with_committor else None
    xs = np.linspace(center[0] - radius, center[0] + radius, grid[0] if grid else 2)
    ys = np.linspace(center[1] - radius, center[1] + radius, grid[1] if grid else 2)
    X, Y = np.meshgrid(xs, ys)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    outside = np.hypot(pts[:, 0] - center[0], pts[:, 1] - center[1]) > radius

    def on_grid(sol: BackwardSolution) -> np.ndarray | None:
        if not grid:
            return None
        v = sol.evaluate(pts)
        v[outside] = np.nan
        return v.reshape(len(ys), len(xs))

    tau_start = float(tau.evaluate(np.array([x0]))[0])
    case = model.record()
    summary = {
        "case": case,
        "T": noise.T, "radius": radius, "center": list(center), "degree": degree, "cross_diffusion": cross,
        "wall": wall, "mesh": mesh_info, "target": list(box), "target_default": target is None, "target_mirrored": mirror,
        "start": list(x0), "start_default": start is None,
        **({"target_rule": peak["rule"], "stationary_peak": peak} if peak is not None else {}),
        "search_time": tau_start, "search_time_steps": tau_start / noise.alpha,
        # the one name (issue 17.5); search_time(_steps) above is its former key, kept as an alias
        "mean_first_passage_time": tau_start, "mean_first_passage_time_steps": tau_start / noise.alpha,
        **{f"mfpt_{k}": v for k, v in tau.summary().items() if k != "kind"},
        "mesh_seconds": t_mesh,
    }
    tau_grid = on_grid(tau)
    if tau_grid is not None:
        summary["search_time_max"] = float(np.nanmax(tau_grid))
    if st is not None and target is None and start is None:
        summary["search_time_1d"] = st["search_time"]
        summary["search_time_1d_steps"] = st["search_time"] / noise.alpha
        summary["search_1d"] = {k: st[k] for k in ("start", "target", "reflect", "window", "mode_theta1")}
    q_grid = None
    if q is not None:
        summary["committor_at_start"] = float(q.evaluate(np.array([x0]))[0])
        summary["committor_solve_seconds"] = q.solve_seconds
        q_grid = on_grid(q)
    ranges, summary["warnings"] = search_checks(tau, q)
    summary.update(ranges)
    return SearchRun(summary, tau, q, xs, ys, tau_grid, q_grid)
