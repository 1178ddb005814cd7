"""The principal eigenpair of the Fokker-Planck operator on one mesh (docs/model.md §4).

:func:`solve_operator` assembles the weak form of :mod:`fpsolve.fem.forms`,
solves for the eigenpair with least real part (:mod:`fpsolve.fem.linalg`),
normalises the density and measures the escape rate from the wall's flux.
Where the mesh and operator are mirror images (θ1 → −θ1) the symmetric
eigenvector is returned (:mod:`fpsolve.fem.symmetry`).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import symmetry
from fpsolve.fem.forms import weak_form
from fpsolve.fem.linalg import PREFIXES, principal_eigenpair, spectral_gap
from fpsolve.fem.operator import Operator
from fpsolve.fem.solution import Solution


def solve_operator(op: Operator, *, eigensolver: str = "slepc",
                   progress: Callable[[str], None] | None = None, symmetrise: bool = True,
                   options_prefix: str = PREFIXES["eigen"],
                   petsc_options: Dict[str, Any] | None = None, adjoint: bool = False) -> Tuple[Solution, dict]:
    """Principal eigenpair of the :class:`~fpsolve.fem.operator.Operator` ``op``
    (its mesh, coefficients, degree and wall); returns the normalised
    :class:`Solution` and timings.

    ``symmetrise``: where the mesh is its own mirror image under θ1 → −θ1
    and the assembled operator commutes with the mirror (both checked
    numerically, :mod:`fpsolve.fem.symmetry`), the density is the symmetric
    eigenvector, so the split of mass between mirror-image wells is exact.
    ``Solution.info`` records the eigenpair residual, the spectral gap
    (λ1 − λ0)/``|λ1|`` (:func:`spectral_gap`), the density on the wall relative
    to its peak, and the escape rate from the boundary flux computed
    consistently with the weak form (:func:`wall_flux`).  ``adjoint``: also
    the solution τ of the backward equation ``a(v, τ) = ∫ v`` (mean
    first-passage time, ``Solution.adjoint``), the adaptive loop's dual
    weight for the escape rate.  PETSc/SLEPc options are read under
    ``options_prefix`` (``fpsolve_eig_``); those in effect go to
    ``Solution.info["options_in_effect"]``.  Raises InputError for a bad
    eigensolver or option.
    """
    import ufl
    from dolfinx import fem

    say = progress or (lambda message: None)
    comm, V, wall, degree, wall_dofs = op.comm, op.V, op.wall, op.degree, op.wall_dofs
    qdeg = op.quadrature_degree
    t0 = time.perf_counter()
    K, M = op.eigen_matrices()
    t_assemble = time.perf_counter() - t0
    dofs = V.dofmap.index_map.size_global
    say(f"assembled K and M: {dofs} dofs (P{degree}, {wall} wall) in {t_assemble:.2f}s")
    t1 = time.perf_counter()
    mirror = None
    if symmetrise:

        mirror = symmetry.mirror_of(V)
        if mirror is not None and not mirror.commutes_with(K):
            mirror = None
    # reflecting: K is singular (its null vector is the answer), so the shift
    # sits just below 0 to keep the LU regular
    target = 0.0 if wall == "absorbing" else -1e-9
    lam, vec, info = principal_eigenpair(K, M, comm, target=target, method=eigensolver, mirror=mirror,
                                         options_prefix=options_prefix, petsc_options=petsc_options,
                                         adjoint=adjoint)
    tau = info.pop("_adjoint", None)
    phi = fem.Function(V, name="density")
    vec.copy(_compat.petsc_vec(phi))
    phi.x.scatter_forward()
    mass = comm.allreduce(fem.assemble_scalar(fem.form(phi * ufl.dx)))
    phi.x.array[:] /= mass  # fixes sign and normalisation together
    t_solve = time.perf_counter() - t1
    say(f"eigen-solve ({info['eigensolver']}, {info.get('lu')}): lambda0 = {lam.real:.6g}, "
        f"residual {info['residual']:.1e} in {t_solve:.2f}s")
    info["gap"] = spectral_gap(lam, info["eigenvalues"])
    info["wall_density_relative"] = _wall_density(phi, wall_dofs)
    flux = wall_flux(phi, lam, op.drift, op.D, op.divD, wall_dofs, qdeg)
    sol = Solution(phi, lam, flux, qdeg + 2, {**info, "dofs": dofs, "degree": degree, "wall": wall})
    if tau is not None:
        sol.adjoint = fem.Function(V, name="mean_first_passage_time")
        tau.copy(_compat.petsc_vec(sol.adjoint))
        sol.adjoint.x.scatter_forward()
    for obj in (K, M):
        obj.destroy()
    return sol, {"assemble_seconds": t_assemble, "solve_seconds": t_solve, "dofs": dofs}


def wall_flux(phi: Any, lam: complex, drift: Any, D: Any, divD: Any, wall_dofs: np.ndarray,
              quadrature_degree: int) -> float:
    """Escape rate from the boundary flux, ``∮ J·n ds / ∫ φ`` with ∫ φ = 1,
    computed as the weak-form residual against the wall's basis functions
    (the function ``w`` that is 1 at every wall dof and 0 at interior dofs):

        ∮ J·n w ds = λ ∫ φ w − a(φ, w)          (docs/model.md §4, with ∇·J = λφ)

    Since ``a(φ, v) = λ ∫ φ v`` for every interior ``v`` (discrete
    conservation), this agrees with λ0 to the eigenpair residual, yet it is computed from the density next to the wall, so it
    stays meaningful where λ0 is at round-off.  Evaluating −D∇φ·n pointwise
    on the wall instead was 50-73 % low on meshes where λ0 was right to
    2e-4 (issue 11).  Collective; 1/time units."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector
    from petsc4py import PETSc

    V = phi.function_space
    v = ufl.TestFunction(V)
    n_owned = V.dofmap.index_map.size_local
    owned = wall_dofs[wall_dofs < n_owned]
    total = 0.0
    for form, weight in ((weak_form(phi, v, drift, D, divD, quadrature_degree), -1.0),
                         (ufl.inner(phi, v) * ufl.dx, lam.real)):
        b = assemble_vector(fem.form(form))
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        total += weight * float(np.sum(b.getArray(readonly=True)[owned]))
        b.destroy()
    return phi.function_space.mesh.comm.allreduce(total)


def _wall_density(phi: Any, wall_dofs: np.ndarray) -> float:
    """max ``|φ|`` over the wall dofs relative to max φ (global)."""
    from mpi4py import MPI

    comm = phi.function_space.mesh.comm
    n_owned = phi.function_space.dofmap.index_map.size_local
    values = phi.x.array[:n_owned]
    wall = np.abs(values[wall_dofs[wall_dofs < n_owned]])
    top = comm.allreduce(float(values.max()) if values.size else -np.inf, op=MPI.MAX)
    at_wall = comm.allreduce(float(wall.max()) if wall.size else 0.0, op=MPI.MAX)
    return at_wall / top if top > 0 else float("nan")
