"""The backward (Kolmogorov) equation: mean first-passage times and
committors (MODEL.md §8).

The generator of ``dθ = F dt + sqrt(2D) dW`` (the model has F = −∇L) is
``𝓛f = F·∇f + Σ_ij D_ij ∂i∂j f``; its weak form is the transpose of the
Fokker-Planck form of MODEL.md §4 (:func:`fpsolve.solver.weak_form`)::

    a*(τ, v) = a(v, τ) = ∫_Ω (D ∇τ)·∇v + v (∇·D − F)·∇τ dθ = −∫ v 𝓛τ

with the natural boundary condition ``(D∇τ)·n = 0`` (a reflecting wall).

- mean first-passage time into a target A: ``𝓛τ = −1`` in Ω∖A, ``τ = 0`` on
  A; on ∂Ω reflecting (default) or ``τ = 0`` (absorbing: leaving the disk
  also ends the search).  Time units; τ/alpha SGD steps.
- committor: ``𝓛q = 0``, ``q = 1`` on A, ``q = 0`` on ∂Ω (absorbing).

The target is a set of dofs: those whose coordinates a predicate accepts
(:func:`box_target`, :func:`disk_target`).  A mesh that conforms to the
target's boundary gives the exact set; otherwise its boundary is resolved to
the mesh size.  Direct LU solve (MUMPS).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Sequence, Tuple

import numpy as np

from . import _compat
from .model import ModelError
from .solver import _lu, evaluate_function, weak_form

#: Boundary options of the disk for the backward problems.
WALLS = ("reflecting", "absorbing")

Target = Callable[[np.ndarray], np.ndarray]


def box_target(c1: float, c2: float, w1: float, w2: float) -> Target:
    """The box ``|θ1 − c1| ≤ w1, |θ2 − c2| ≤ w2`` (θ units) as a predicate on
    coordinates of shape (3, n).  Raises ModelError on non-finite values or
    a non-positive half-width."""
    vals = (c1, c2, w1, w2)
    if not all(math.isfinite(float(v)) for v in vals):
        raise ModelError(f"target must be four finite numbers (got {' '.join(map(str, vals))})")
    if not (w1 > 0 and w2 > 0):
        raise ModelError(f"target half-widths must be > 0 (got {w1!r} {w2!r})")
    tol = 1e-10 * max(1.0, abs(c1), abs(c2), w1, w2)

    def inside(x: np.ndarray) -> np.ndarray:
        return (np.abs(x[0] - c1) <= w1 + tol) & (np.abs(x[1] - c2) <= w2 + tol)

    return inside


def disk_target(center: Sequence[float], radius: float) -> Target:
    """The disk ``|θ − center| ≤ radius`` as a predicate on coordinates (3, n)."""
    if not (math.isfinite(radius) and radius > 0):
        raise ModelError(f"target radius must be a finite number > 0 (got {radius!r})")
    c = np.asarray(center, dtype=float)
    tol = 1e-10 * max(1.0, radius)

    def inside(x: np.ndarray) -> np.ndarray:
        return np.hypot(x[0] - c[0], x[1] - c[1]) <= radius + tol

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

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """Values at points of shape (n, 2), 0 outside the mesh; collective,
        the same on every rank."""
        return evaluate_function(self.field, points)

    def summary(self) -> dict:
        return {"kind": self.kind, "wall": self.wall, "target_dofs": self.target_dofs, "dofs": self.dofs,
                "assemble_seconds": self.assemble_seconds, "solve_seconds": self.solve_seconds}


def backward_form(u: Any, v: Any, drift: Any, D: Any, divD: Any | None = None,
                  quadrature_degree: int | None = None) -> Any:
    """``a*(u, v) = a(v, u)``: the Fokker-Planck form of MODEL.md §4 with
    trial and test swapped (``u`` trial, ``v`` test), i.e. ``−∫ v 𝓛u``."""
    return weak_form(v, u, drift, D, divD, quadrature_degree)


def _solve(msh: Any, drift: Any, D: Any, divD: Any | None, target: Target, *, degree: int,
           wall: str, kind: str) -> BackwardSolution:
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
    from petsc4py import PETSc

    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")
    if wall not in WALLS:
        raise ModelError(f"boundary must be one of {', '.join(WALLS)} (got {wall!r})")
    comm = msh.comm
    t0 = time.perf_counter()
    V = _compat.functionspace(msh, "Lagrange", degree)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(backward_form(u, v, drift, D, divD, 2 * degree + 2))
    target_dofs = fem.locate_dofs_geometrical(V, target)
    n_target = comm.allreduce(int(np.sum(target_dofs < V.dofmap.index_map.size_local)))
    if n_target == 0:
        raise ModelError("the target contains no mesh node (make it larger or move it inside the disk)")
    on_target = fem.Function(V)
    on_target.x.array[:] = 0.0 if kind == "mfpt" else 1.0
    bcs = [fem.dirichletbc(on_target, target_dofs)]
    if wall == "absorbing" or kind == "committor":
        zero = fem.Function(V)
        wall_dofs = np.setdiff1d(_compat.locate_boundary_dofs(V), target_dofs)
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
    _lu(ksp, comm)
    field = fem.Function(V, name="mean_first_passage_time" if kind == "mfpt" else "committor")
    ksp.solve(b, _compat.petsc_vec(field))
    field.x.scatter_forward()
    t2 = time.perf_counter()
    for obj in (ksp, A, b):
        obj.destroy()
    return BackwardSolution(field, kind, "absorbing" if kind == "committor" else wall, n_target,
                            V.dofmap.index_map.size_global, t1 - t0, t2 - t1)


def mean_first_passage_time(msh: Any, drift: Any, D: Any, divD: Any | None = None, *, target: Target,
                            degree: int = 2, wall: str = "reflecting") -> BackwardSolution:
    """τ(θ) with ``𝓛τ = −1`` off the target, ``τ = 0`` on it (MODEL.md §8).

    ``drift`` (F, UFL 2-vector), ``D`` (UFL 2×2), ``divD`` (UFL's div of D
    when None) on ``msh``; ``target``: a predicate on coordinates (3, n)
    (:func:`box_target`); ``wall``: ``reflecting`` or ``absorbing``.  τ is in
    time units (SGD steps: τ/alpha).  Collective.  Raises ModelError on a bad
    degree or wall, or a target holding no mesh node.
    """
    return _solve(msh, drift, D, divD, target, degree=degree, wall=wall, kind="mfpt")


def committor(msh: Any, drift: Any, D: Any, divD: Any | None = None, *, target: Target,
              degree: int = 2) -> BackwardSolution:
    """q(θ): the probability of reaching the target before the disk's wall;
    ``𝓛q = 0``, ``q = 1`` on the target, ``q = 0`` on ∂Ω (MODEL.md §8).
    Arguments and errors as :func:`mean_first_passage_time`."""
    return _solve(msh, drift, D, divD, target, degree=degree, wall="absorbing", kind="committor")
