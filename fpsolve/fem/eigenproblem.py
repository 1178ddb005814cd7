"""The principal eigenpair of the Fokker-Planck operator on one mesh (docs/model.md §4).

:func:`solve_operator` assembles the weak form of :mod:`fpsolve.fem.forms`,
solves for the eigenpair with least real part (:mod:`fpsolve.fem.linalg`),
normalises the density and measures the escape rate from the wall's flux.
Where the mesh and operator are their own images under a symmetry of the
model (θ1 → −θ1, θ → −θ, a swap, a rotation: :mod:`fpsolve.model.symmetry`)
the symmetric eigenvector is returned (:mod:`fpsolve.fem.symmetry`), and
where the next eigenvector is antisymmetric under one of them, λ1 − λ0 is
the rate of hopping between the wells that map onto each other
(:func:`hopping_record`, docs/model.md §7 and §10).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import symmetry
from fpsolve.fem.diagnostics import GAP_LIMIT
from fpsolve.fem.forms import weak_form
from fpsolve.fem.linalg import (PREFIXES, ROUNDOFF_FACTOR, eigen_residual, principal_eigenpair,
                                spectral_gap)
from fpsolve.fem.operator import Operator
from fpsolve.fem.solution import Solution
from fpsolve.model import symmetry as model_symmetry


def solve_operator(op: Operator, *, eigensolver: str = "slepc",
                   progress: Callable[[str], None] | None = None, symmetrise: bool = True,
                   options_prefix: str = PREFIXES["eigen"],
                   petsc_options: Dict[str, Any] | None = None, adjoint: bool = False) -> Tuple[Solution, dict]:
    """Principal eigenpair of the :class:`~fpsolve.fem.operator.Operator` ``op``
    (its mesh, coefficients, degree and wall); returns the normalised
    :class:`Solution` and timings.

    ``symmetrise``: where the mesh is its own image under θ1 → −θ1 or
    under a symmetry of ``op.model`` (:func:`fpsolve.model.symmetry.find`)
    and the assembled operator commutes with the map (both checked
    numerically, :mod:`fpsolve.fem.symmetry`), the density is the symmetric
    eigenvector, so the split of mass between wells that are images of each
    other is exact; ``info["symmetrised"]`` names the maps,
    ``info["zero_by_symmetry"]`` the means they make 0 and
    ``info["hopping"]`` the record of :func:`hopping_record`.
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
    mirror = symmetry.group_of(V, K, candidate_maps(op.model)) if symmetrise else None
    # reflecting: K is singular (its null vector is the answer), so the shift
    # sits just below 0 to keep the LU regular
    target = 0.0 if wall == "absorbing" else -1e-9
    lam, vec, info = principal_eigenpair(K, M, comm, target=target, method=eigensolver, mirror=mirror,
                                         options_prefix=options_prefix, petsc_options=petsc_options,
                                         adjoint=adjoint)
    tau = info.pop("_adjoint", None)
    second = info.pop("_second", None)
    info["zero_by_symmetry"] = list(model_symmetry.zero_means(
        [model_symmetry.by_name(n) for n in info["symmetrised"]]))
    info["hopping"] = hopping_record(K, M, lam, vec, second, mirror, info)
    phi = fem.Function(V, name="density")
    vec.copy(_compat.petsc_vec(phi))
    phi.x.scatter_forward()
    density = op.density_of(phi)  # P = w u on a weighted operator (u = phi here)
    # w u by the rule the moments use (Solution's degree), so that its mass is 1 to round-off
    dx = ufl.dx if op.log_weight is None else ufl.dx(metadata={"quadrature_degree": qdeg + 2})
    mass = comm.allreduce(fem.assemble_scalar(fem.form(density * dx)))
    phi.x.array[:] /= mass  # fixes sign and normalisation together
    unknown = phi
    if op.log_weight is not None:  # the density's nodal interpolant, for points, plots and files
        phi = fem.Function(V, name="density")
        phi.x.array[:] = np.exp(op.log_weight.x.array) * unknown.x.array
    t_solve = time.perf_counter() - t1
    say(f"eigen-solve ({info['eigensolver']}, {info.get('lu')}): lambda0 = {lam.real:.6g}, "
        f"residual {info['residual']:.1e} in {t_solve:.2f}s")
    info["gap"] = spectral_gap(lam, info["eigenvalues"])
    info["wall_density_relative"] = _wall_density(phi, wall_dofs)
    flux = wall_flux(density, lam, op.drift, op.D, op.divD, wall_dofs, qdeg, V)
    if op.log_weight is not None:
        info["trial_weight"] = "exp(log_weight): the density is w u (Operator.with_log_weight)"
    sol = Solution(phi, lam, flux, qdeg + 2, {**info, "dofs": dofs, "degree": degree, "wall": wall},
                   expression=density)
    if tau is not None:
        sol.adjoint = fem.Function(V, name="mean_first_passage_time")
        tau.copy(_compat.petsc_vec(sol.adjoint))
        sol.adjoint.x.scatter_forward()
    for obj in (K, M):
        obj.destroy()
    return sol, {"assemble_seconds": t_assemble, "solve_seconds": t_solve, "dofs": dofs}


def candidate_maps(model: Any) -> list:
    """(name, matrix) of the maps the eigen-solve tries: the mirror
    θ1 → −θ1 (always, as before any model was known: the numerical checks
    decide) and the symmetries of ``model`` found symbolically
    (:func:`fpsolve.model.symmetry.find`; none when ``model`` is None)."""
    names = ["mirror-theta1"]
    if model is not None:
        names += [n for n in model_symmetry.find(model).names if n not in names]
    return [(n, model_symmetry.by_name(n).matrix) for n in names]


#: λ1's vector counts as antisymmetric under a map P when ‖Pφ1 + φ1‖ is below this of ‖φ1‖.
ANTISYMMETRY_TOL = 1e-3
#: The wells are separated when ``∫ | |φ1| − φ0 |`` (both of unit mass) is below this.
WELLS_TOL = 0.1


def hopping_record(K: Any, M: Any, lam: complex, vec: Any, second: Any, group: Any, info: dict) -> dict | None:
    """λ1 − λ0 as the hopping rate between wells (1/time units), where the
    eigenvector of λ1 (``second`` = (λ1, vector)) is antisymmetric under a
    map of ``group`` (:class:`fpsolve.fem.symmetry.Group`) and either λ0
    and λ1 are nearly degenerate or the wells are separated (``|φ1|`` is
    φ0 (``vec``) to :data:`WELLS_TOL` in L1): the map sends one well onto
    the other, φ0 ± φ1 are the two wells' densities and λ1 − λ0 is the
    slowest relaxation rate (docs/model.md §10).  None without a group or
    a second pair.  The record: ``rate`` (None otherwise), ``lambda1``,
    ``map``, ``antisymmetry_residual``, ``wells_l1`` (``∫ | |φ1| − φ0 |``),
    ``near_degenerate`` (gap below :data:`fpsolve.fem.diagnostics.GAP_LIMIT`),
    ``lambda1_residual`` (backward error), ``above_roundoff`` (λ1 − λ0 above
    ``ROUNDOFF_FACTOR`` times the eigenvalue round-off) and ``trusted``
    (False on one mesh: docs/model.md §10 asks for a finer mesh's check,
    which the adaptive loop makes) with ``trust_reason``."""
    if group is None or second is None:
        return None
    lam1, vec1 = second
    name, anti = group.antisymmetric_under(vec1, ANTISYMMETRY_TOL)
    rate = float(lam1.real - lam.real)
    gap = spectral_gap(lam, [[lam1.real, lam1.imag]])
    residual1 = eigen_residual(K, M, lam1, vec1)[0]
    above = abs(rate) > ROUNDOFF_FACTOR * info.get("eigenvalue_roundoff", float("inf"))
    near = gap is not None and gap < GAP_LIMIT
    wells = _wells_l1(M, vec, vec1)
    hop = name is not None and (near or wells < WELLS_TOL)
    reason = ("no map sends lambda1's eigenvector onto minus itself" if name is None else
              "no separated wells: lambda1 is not near lambda0 and |phi1| is not phi0" if not hop else
              "lambda1 - lambda0 is at round-off" if not above else
              "one mesh: not checked against a finer mesh")
    return {"rate": rate if hop else None, "lambda1": float(lam1.real),
            "lambda1_imag": float(lam1.imag), "map": name, "antisymmetry_residual": anti, "wells_l1": wells,
            "near_degenerate": near, "lambda1_residual": residual1,
            "above_roundoff": bool(above), "trusted": False, "trust_reason": reason}


def _wells_l1(M: Any, phi0: Any, phi1: Any) -> float:
    """``∫ | |φ1| − φ0 |`` with both scaled to unit mass (lumped mass
    matrix): near 0 where φ1 is φ0 with its sign flipped on one well."""
    lumped = M.createVecLeft()
    ones = M.createVecRight()
    ones.set(1.0)
    M.mult(ones, lumped)
    m = lumped.getArray(readonly=True)
    a, b = np.abs(phi1.getArray(readonly=True)), phi0.getArray(readonly=True)
    comm = phi0.getComm().tompi4py()
    sa, sb = comm.allreduce(float(np.dot(m, a))), comm.allreduce(float(np.dot(m, b)))
    if sa == 0 or sb == 0:
        return float("inf")
    return comm.allreduce(float(np.dot(m, np.abs(a / sa - b / sb))))


def wall_flux(phi: Any, lam: complex, drift: Any, D: Any, divD: Any, wall_dofs: np.ndarray,
              quadrature_degree: int, V: Any = None) -> float:
    """Escape rate from the boundary flux, ``∮ J·n ds / ∫ φ`` with ∫ φ = 1,
    computed as the weak-form residual against the wall's basis functions
    (the function ``w`` that is 1 at every wall dof and 0 at interior dofs):

        ∮ J·n w ds = λ ∫ φ w − a(φ, w)          (docs/model.md §4, with ∇·J = λφ)

    Since ``a(φ, v) = λ ∫ φ v`` for every interior ``v`` (discrete
    conservation), this agrees with λ0 to the eigenpair residual, yet it is computed from the density next to the wall, so it
    stays meaningful where λ0 is at round-off.  Evaluating −D∇φ·n pointwise
    on the wall instead was 50-73 % low on meshes where λ0 was right to
    2e-4 (issue 11).  ``phi``: a ``fem.Function``, or a UFL density on the
    space ``V`` (a weighted operator's ``w u``).  Collective; 1/time units."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector
    from petsc4py import PETSc

    V = phi.function_space if V is None else V
    v = ufl.TestFunction(V)
    # a Function's product with v is integrated exactly by UFL's own degree; w u is not
    dx = ufl.dx if isinstance(phi, fem.Function) else ufl.dx(metadata={"quadrature_degree": quadrature_degree})
    n_owned = V.dofmap.index_map.size_local
    owned = wall_dofs[wall_dofs < n_owned]
    total = 0.0
    for form, weight in ((weak_form(phi, v, drift, D, divD, quadrature_degree), -1.0),
                         (ufl.inner(phi, v) * dx, lam.real)):
        b = assemble_vector(fem.form(form))
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        total += weight * float(np.sum(b.getArray(readonly=True)[owned]))
        b.destroy()
    return V.mesh.comm.allreduce(total)


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
