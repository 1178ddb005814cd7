"""The principal eigenpair in three variables: the shift-and-invert's linear solver chosen by size (docs/model.md §4, §9).

In 3-D a direct LU fills in far more than in 2-D: PETSc's own serial LU
(the 2-D default, :func:`fpsolve.fem.linalg._lu`) took 67 s on a 25k-dof P2
ball where MUMPS took 14 s, so the 3-D solve asks for MUMPS.  Above
:data:`ITERATIVE_DOFS` the shift-and-invert's solves are iterative instead
(:data:`ITERATIVE_OPTIONS`: GMRES preconditioned by PETSc's GAMG).  On
this machine the iterative path is far slower than MUMPS at 1e4-1e5 dofs
(the m = 2 valley at 59k dofs: MUMPS 32 s; BiCGStab + BoomerAMG over 5 min):
it is there for problems whose LU does not fit in memory.  Every choice is a PETSc
option under the eigen-solve's prefix (``fpsolve_eig_``), so the user's
``petsc_options`` override it key by key.
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
#: Measured on the reflecting OU ball of tests/test_fem3d.py (15.8k dofs, one
#: loaded core; MUMPS 6 s): GMRES(100) + GAMG 26 s, BiCGStab + BoomerAMG
#: 36 s, GMRES + BoomerAMG 133 s (205 s with eps_tol 1e-12); all agree
#: with MUMPS to 1e-14.  An inexact shift-and-invert cannot reach the
#: direct path's eps_tol 1e-12 near a (nearly) singular K: 1e-9 both.
ITERATIVE_OPTIONS = {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_ksp_rtol": 1e-9,
                     "st_ksp_max_it": 5000, "st_pc_type": "gamg", "eps_tol": 1e-9}


def linear_solver_options(dofs: int, iterative: bool | None = None) -> Dict[str, Any]:
    """The shift-and-invert's PETSc options (keys without the prefix) for a
    problem of ``dofs`` unknowns: :data:`DIRECT_OPTIONS` below
    :data:`ITERATIVE_DOFS`, else :data:`ITERATIVE_OPTIONS`; ``iterative``
    True/False forces the choice."""
    use = dofs >= ITERATIVE_DOFS if iterative is None else iterative
    return dict(ITERATIVE_OPTIONS if use else DIRECT_OPTIONS)


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
