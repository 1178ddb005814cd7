"""The Fokker-Planck operator of one model on one mesh, built once for every FEM problem (docs/model.md §4, §8).

An :class:`Operator` holds the Lagrange space, the coefficients (drift
``F``, diffusion ``D``, its row divergence ``∇·D``) in UFL, the wall and the
dofs on it, and the quadrature degree.  The stationary eigen-solve
(:func:`fpsolve.fem.eigenproblem.solve_operator`), the transient
(:class:`fpsolve.fem.transient.Transient`) and the backward problems
(:func:`fpsolve.fem.backward.mean_first_passage_time`,
:func:`~fpsolve.fem.backward.committor`) take it side by side, each with
its own PETSc options prefix (:data:`fpsolve.fem.linalg.PREFIXES`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem.forms import case_coefficients, check_degree, check_wall, weak_form


@dataclasses.dataclass(frozen=True, eq=False)
class Operator:
    """``a(P, v) = ∫ (D ∇P + P (∇·D − F)) · ∇v`` on ``mesh`` with P``degree`` Lagrange elements.

    ``drift`` (F, UFL 2-vector), ``D`` (UFL 2×2), ``divD`` (UFL 2-vector, or
    None for UFL's own divergence of D); ``wall``: ``absorbing`` (P = 0,
    ``dirichlet`` accepted) or ``reflecting`` (zero normal flux).  Build it
    with :meth:`of_model` for a :class:`~fpsolve.model.expression.Model` or
    :meth:`build` for any coefficients.  Collective.  Raises
    :class:`~fpsolve.tools.errors.InputError` on a bad degree or wall.
    """

    mesh: Any
    drift: Any
    D: Any
    divD: Any
    degree: int
    wall: str
    V: Any
    wall_dofs: np.ndarray
    model: Any = None
    log_weight: Any = None

    @classmethod
    def build(cls, msh: Any, drift: Any, D: Any, divD: Any | None = None, *, degree: int = 2,
              wall: str = "absorbing", model: Any = None) -> "Operator":
        """The operator of the given coefficients on ``msh`` (the space and wall dofs made here)."""
        check_degree(degree)
        wall = check_wall(wall)
        V = _compat.functionspace(msh, "Lagrange", degree)
        return cls(msh, drift, D, divD, degree, wall, V, _compat.locate_boundary_dofs(V), model)

    def with_log_weight(self, log_weight: Any) -> "Operator":
        """The same operator with the weighted trial space ``P = w u``, ``w =
        exp(log_weight)`` (docs/numerics.md, *Three variables*): ``log_weight``
        is a ``fem.Function`` on :attr:`V`, at most 0 and bounded below, that
        approximates the log-density (a closed form), so the unknown u is
        nearly constant where the density is steep and the discrete density
        ``w u`` is non-negative far more often than the plain P2 one.  Every
        density this operator gives is :meth:`density_of` its unknown; the
        backward form (the generator, whose unknown is not a density) is
        unchanged."""
        return dataclasses.replace(self, log_weight=log_weight)

    def density_of(self, u: Any) -> Any:
        """The density (UFL) of the unknown ``u``: ``u`` itself, or ``exp(log_weight) u``."""
        import ufl

        return u if self.log_weight is None else ufl.exp(self.log_weight) * u

    @classmethod
    def of_model(cls, msh: Any, model: Any, *, degree: int = 2, wall: str = "absorbing") -> "Operator":
        """The operator of a :class:`~fpsolve.model.expression.Model` (its coefficients:
        :func:`fpsolve.fem.forms.case_coefficients`)."""
        return cls.build(msh, *case_coefficients(msh, model), degree=degree, wall=wall, model=model)

    def with_wall(self, wall: str) -> "Operator":
        """The same space and coefficients with another wall."""
        return dataclasses.replace(self, wall=check_wall(wall))

    @property
    def comm(self) -> Any:
        return self.mesh.comm

    @property
    def quadrature_degree(self) -> int:
        """The coefficients are polynomials of high degree in θ: 2p + 2 is exact
        for the mass term and ample for the stiffness on a fine mesh; two more
        for a weight exp(log_weight), which no rule integrates exactly."""
        return 2 * self.degree + 2 + (0 if self.log_weight is None else 2)

    @property
    def dofs(self) -> int:
        return self.V.dofmap.index_map.size_global

    def forward_form(self, u: Any, v: Any) -> Any:
        """``a(P, v)`` with P = :meth:`density_of` ``u``, the weak form of the
        Fokker-Planck operator (docs/model.md §4)."""
        return weak_form(self.density_of(u), v, self.drift, self.D, self.divD, self.quadrature_degree)

    def backward_form(self, u: Any, v: Any) -> Any:
        """``a*(u, v) = a(v, u)``: the generator's form, ``−∫ v 𝓛u`` (docs/model.md §8)."""
        return weak_form(v, u, self.drift, self.D, self.divD, self.quadrature_degree)

    def eigen_matrices(self) -> Tuple[Any, Any]:
        """(K, M), the assembled PETSc matrices of ``a(P, v)`` and ``∫ P v`` (P = :meth:`density_of` u)
        for the eigenproblem ``K φ = λ M φ`` (docs/model.md §4, §10); with an
        absorbing wall the wall rows are identity rows of K and zero rows of
        M (so P = 0 there and no spurious eigenvalue near the spectrum's low
        end).  Collective; the caller destroys them."""
        import ufl
        from dolfinx import fem
        from dolfinx.fem.petsc import assemble_matrix

        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        bcs = [fem.dirichletbc(fem.Function(self.V), self.wall_dofs)] if self.wall == "absorbing" else []
        K = assemble_matrix(fem.form(self.forward_form(u, v)), bcs=bcs, diagonal=1.0)
        K.assemble()
        dx = ufl.dx if self.log_weight is None else ufl.dx(metadata={"quadrature_degree": self.quadrature_degree})
        M = assemble_matrix(fem.form(ufl.inner(self.density_of(u), v) * dx), bcs=bcs, diagonal=0.0)
        M.assemble()
        return K, M
