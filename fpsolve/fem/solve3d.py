"""The principal eigenpair in three variables: the shift-and-invert's linear solver chosen by size (docs/model.md §4, §9).

In 3-D a direct LU fills in far more than in 2-D: PETSc's own serial LU
(the 2-D default, :func:`fpsolve.fem.linalg._lu`) took 67 s on a 25k-dof P2
ball where MUMPS took 14 s, so the 3-D solve asks for MUMPS.  Above
:data:`ITERATIVE_DOFS` the shift-and-invert's solves are iterative instead
(:data:`ITERATIVE_OPTIONS`: right-preconditioned GMRES with ASM + ILU(0),
the shift moved to :data:`ITERATIVE_SHIFT`).  On this machine MUMPS is
faster at 1e4-1e5 dofs (the m = 2 valley at 57k dofs: MUMPS 24 s, 648 MB;
the iterative path 50 s, 351 MB; ``scripts/bench_scaling.py``,
docs/numerics.md *Scaling*): the iterative path is there for problems whose
LU does not fit in memory.  Every choice is a PETSc option under the
eigen-solve's prefix (``fpsolve_eig_``), so the user's ``petsc_options``
override them key by key.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Tuple

from fpsolve.fem import ndmoments
from fpsolve.fem.eigenproblem import solve_operator
from fpsolve.fem.operator import Operator


#: Direct LU by MUMPS for the shift-and-invert below this many dofs.
ITERATIVE_DOFS = 300_000
DIRECT_OPTIONS = {"st_ksp_type": "preonly", "st_pc_type": "lu", "st_pc_factor_mat_solver_type": "mumps"}
#: The iterative path's shift (1/time units, below λ0 ≥ 0).  At the direct path's
#: shift 0 (absorbing wall) or -1e-9 (reflecting), K - σM is singular to about
#: λ0/λ1 (the valley at 57k dofs: λ0 = 2.7e-7): there every Krylov solver tried
#: stalled (DIVERGED_ITS after 5000 iterations for GMRES + GAMG and GMRES + ILU,
#: BiCGStab + BoomerAMG unfinished after 240 s; GMRES + GAMG also on the 3k-dof OU ball).  At σ = -0.01 the solves converge and
#: shift-and-invert still separates λ0 from λ1 (ratio (λ0 - σ)/(λ1 - σ));
#: the pair nearest σ is λ0 for any spectrum with Re λ ≥ λ0 ≥ 0.
ITERATIVE_SHIFT = -0.01
#: Measured by ``scripts/bench_scaling.py`` on one rank of 2 shared cores (load 3-4;
#: iterations are Krylov iterations over the 19 (valley) or 35 (OU) solves):
#: the m = 2 valley at 57k dofs: MUMPS 24 s; this 50 s, 3681 iterations, 351 MB
#: against MUMPS's 648 MB; the same with GAMG 73 s, 3828 iterations; unshifted
#: GAMG (the former default), unshifted ILU and BiCGStab + BoomerAMG failed (above).
#: At 25k dofs: MUMPS 2.3 s, this 5.9 s (unshifted GAMG 30 s, ILU 6.6 s,
#: BiCGStab + BoomerAMG 71 s).  Reflecting OU ball, 23k dofs: MUMPS 10 s, this
#: 11 s, shifted GAMG 14 s.  Every converged answer equals MUMPS's λ0 to 5e-13.
#: Right preconditioning: GMRES then tests the true residual (ILU(1) with the left
#: default "converged" to a wrong λ0 with eigen residual 1e-5; on the right it breaks
#: down and says so).  An inexact shift-and-invert cannot reach the direct path's
#: eps_tol 1e-12 near a (nearly) singular K: 1e-9 both.
#: The iterative linear solver of the 3-D problems above :data:`ITERATIVE_DOFS` (keys without
#: the solve's prefix): right-preconditioned GMRES(100) with additive Schwarz + ILU(0) on each
#: rank's block.  The backward equation and the transient's M + (γ/2)hK are not singular (a
#: target or absorbing wall; the mass matrix), so no shift is needed there: the exit time from
#: the 9.8k-dof unit ball converges in 0.3 s against MUMPS's 1.9 s, the same τ to 1.1e-12.
LINEAR_ITERATIVE = {"ksp_type": "gmres", "ksp_gmres_restart": 100, "ksp_pc_side": "right", "pc_type": "asm",
                    "sub_pc_type": "ilu", "ksp_rtol": 1e-10, "ksp_max_it": 10000}
#: The same for the shift-and-invert (under the ST's ``st_``), shifted to :data:`ITERATIVE_SHIFT`.
ITERATIVE_OPTIONS = {**{f"st_{k}": v for k, v in LINEAR_ITERATIVE.items()}, "eps_target": ITERATIVE_SHIFT,
                     "st_shift": ITERATIVE_SHIFT, "st_ksp_rtol": 1e-9, "st_ksp_max_it": 5000, "eps_tol": 1e-9}
#: The direct LU of the 3-D linear solves below :data:`ITERATIVE_DOFS`: MUMPS (PETSc's own LU fills
#: in far more on tetrahedra: :mod:`fpsolve.fem.transient3d`).
LINEAR_DIRECT = {"pc_factor_mat_solver_type": "mumps"}


def linear_solver_options(dofs: int, iterative: bool | None = None) -> Dict[str, Any]:
    """The shift-and-invert's PETSc options (keys without the prefix) for a
    problem of ``dofs`` unknowns: :data:`DIRECT_OPTIONS` below
    :data:`ITERATIVE_DOFS`, else :data:`ITERATIVE_OPTIONS`; ``iterative``
    True/False forces the choice."""
    use = dofs >= ITERATIVE_DOFS if iterative is None else iterative
    return dict(ITERATIVE_OPTIONS if use else DIRECT_OPTIONS)


def linear_options(dofs: int, iterative: bool | None = None) -> Dict[str, Any]:
    """The options of a 3-D linear solve (the backward equation, the
    transient's steps; keys without the prefix) for ``dofs`` unknowns:
    :data:`LINEAR_DIRECT` below :data:`ITERATIVE_DOFS`, else
    :data:`LINEAR_ITERATIVE`; ``iterative`` True/False forces the choice."""
    use = dofs >= ITERATIVE_DOFS if iterative is None else iterative
    return dict(LINEAR_ITERATIVE if use else LINEAR_DIRECT)


def solve(op: Operator, petsc_options: Dict[str, Any] | None = None, iterative: bool | None = None,
          moment_degree: int | None = None) -> Tuple[Any, Dict[str, float], dict]:
    """(solution, moments, timings) of the principal eigenpair of ``op`` on a
    mesh of any dimension: :func:`fpsolve.fem.eigenproblem.solve_operator`
    with the options of :func:`linear_solver_options` (``petsc_options``
    override them), then :func:`fpsolve.fem.ndmoments.coordinate_moments`
    (quadrature exact to ``moment_degree``, default the operator's + 2).
    Collective; raises InputError for options PETSc refuses."""
    options = {**linear_solver_options(op.dofs, iterative), **(petsc_options or {})}
    sol, timings = solve_operator(op, petsc_options=options)
    t0 = time.perf_counter()
    moments = ndmoments.coordinate_moments(sol.density, moment_degree or op.quadrature_degree + 2,
                                           sol.density_expression)
    timings["moments_seconds"] = time.perf_counter() - t0
    return sol, moments, timings
