"""The valley with m fast directions as UFL coefficients (docs/model.md §9), for the FEM in N = m + 1 ≤ 3 variables.

Coordinates θ = (x, y_1, …, y_m); every parameter (a0_i, a2_i, a4_i, ε, T) is
a ``fem.Constant``, so new values need no new form.  The per-direction
curvature g_i and its derivatives are the formula functions of
:mod:`fpsolve.model.valley` applied to UFL objects; H is the arrow Hessian
of :mod:`fpsolve.model.nvalley`, D = (T/2) H² (``sgd``), its diagonal
(``sgd-diagonal``) or (T/2) I (``isotropic``), and ∇·D is UFL's exact
derivative of D.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from fpsolve.model import valley as formulas
from fpsolve.model.valley import ModelError

#: The noise kinds the FEM coefficients offer for the N-dimensional valley.
FEM_NOISES = ("sgd", "sgd-diagonal", "isotropic")


def nvalley_coefficients(msh: Any, valley: Any, T: float, noise: str = "sgd") -> Tuple[Any, Any, Any, Dict[str, Any]]:
    """(drift −∇L, D, ∇·D, constants) of the :class:`~fpsolve.model.nvalley.NValley`
    ``valley`` at noise level ``T`` in UFL on ``msh`` (geometric dimension
    m + 1).  ``constants``: name → ``fem.Constant`` (``eps``, ``T``,
    ``a0_i``, ``a2_i``, ``a4_i``).  Raises ModelError when the mesh's
    dimension is not m + 1 or the noise is not one of :data:`FEM_NOISES`."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc

    n = valley.n_variables
    if msh.geometry.dim != n:
        raise ModelError(f"a valley with m = {valley.m} fast directions needs a {n}-D mesh "
                         f"(got {msh.geometry.dim}-D)")
    if noise not in FEM_NOISES:
        raise ModelError(f"noise must be one of {', '.join(FEM_NOISES)} for the FEM (got {noise!r})")
    const = lambda v: fem.Constant(msh, PETSc.ScalarType(v))  # noqa: E731
    c: Dict[str, Any] = {"eps": const(valley.eps), "T": const(T)}
    for i in range(valley.m):
        for key in ("a0", "a2", "a4"):
            c[f"{key}_{i}"] = const(getattr(valley, key)[i])
    th = ufl.SpatialCoordinate(msh)
    x, ys = th[0], [th[i + 1] for i in range(valley.m)]
    coeffs = [(c[f"a0_{i}"], c[f"a2_{i}"], c[f"a4_{i}"]) for i in range(valley.m)]
    g = [formulas.g(x, *k) for k in coeffs]
    dg = [formulas.dg(x, *k) for k in coeffs]
    d2g = [formulas.d2g(x, *k) for k in coeffs]
    grad_x = c["eps"] * x + 0.5 * sum(dg[i] * ys[i] ** 2 for i in range(valley.m))
    drift = ufl.as_vector([-grad_x] + [-g[i] * ys[i] for i in range(valley.m)])
    half_T = 0.5 * c["T"]
    if noise == "isotropic":
        D = half_T * ufl.Identity(n)
    else:
        h_xx = c["eps"] + 0.5 * sum(d2g[i] * ys[i] ** 2 for i in range(valley.m))
        rows = [[h_xx] + [dg[i] * ys[i] for i in range(valley.m)]]
        for i in range(valley.m):
            rows.append([dg[i] * ys[i]] + [g[i] if j == i else 0.0 for j in range(valley.m)])
        H = ufl.as_matrix(rows)
        D = half_T * ufl.dot(H, H)
        if noise == "sgd-diagonal":
            D = ufl.as_matrix([[D[i, j] if i == j else 0.0 for j in range(n)] for i in range(n)])
    return drift, D, ufl.div(D), c
