"""The weak forms of the Fokker-Planck operator and their coefficients in UFL (docs/model.md §4, §7).

Weak form, for a drift ``F`` (``dθ = F dt + ...``; the model has ``F = −∇L``)
and diffusion matrix ``D``::

    a(P, v) = ∫_Ω (D ∇P + P (∇·D − F)) · ∇v dθ,      J = F P − ∇·(D P)

Dirichlet ``P = 0`` on ∂Ω (absorbing) or the natural zero-flux condition of
the same form (reflecting).  The coefficients of the valley (docs/model.md §1-3)
are written by hand; those of any other model are converted from its sympy
derivation (:func:`ufl_coefficients`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Tuple

from fpsolve.model import valley as model
from fpsolve.model.valley import Landscape, ModelError, Noise


#: The two walls of the disk (or mesh) and the name each goes by elsewhere:
#: ``absorbing`` (P = 0, Dirichlet; the density leaks out at the escape rate)
#: or ``reflecting`` (zero normal flux, the natural condition of the form).
WALLS = ("absorbing", "reflecting")
WALL_ALIASES = {"dirichlet": "absorbing"}


def check_wall(wall: Any) -> str:
    """The canonical name of a wall (``dirichlet`` is ``absorbing``); raises
    InputError naming a value that is neither."""
    name = WALL_ALIASES.get(wall, wall) if isinstance(wall, str) else wall
    if name not in WALLS:
        raise ModelError(f"wall must be one of {', '.join(WALLS)} (got {wall!r})")
    return name


# --------------------------------------------------------------------------
# Weak form
# --------------------------------------------------------------------------

def check_degree(degree: Any) -> None:
    """The Lagrange degrees fpsolve offers (1, 2); raises ModelError naming the value."""
    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")


def weak_form(u: Any, v: Any, drift: Any, D: Any, divD: Any | None = None, quadrature_degree: int | None = None) -> Any:
    """Bilinear form ``a(u, v) = ∫ (D ∇u + u (∇·D − F)) · ∇v`` (docs/model.md §4).

    ``drift`` (F) is a UFL 2-vector, ``D`` a UFL 2×2 tensor, ``divD`` its row
    divergence ``(∇·D)_i = Σ_j ∂_j D_ij`` (UFL's ``div`` of D when None).
    """
    import ufl

    if divD is None:
        divD = ufl.div(D)
    md = {} if quadrature_degree is None else {"quadrature_degree": quadrature_degree}
    return ufl.inner(ufl.dot(D, ufl.grad(u)) + u * (divD - drift), ufl.grad(v)) * ufl.dx(metadata=md)


def probability_flux(p: Any, drift: Any, D: Any, divD: Any | None = None) -> Any:
    """UFL flux ``J = F p − p ∇·D − D ∇p`` (docs/model.md §4)."""
    import ufl

    if divD is None:
        divD = ufl.div(D)
    return p * (drift - divD) - ufl.dot(D, ufl.grad(p))


@dataclasses.dataclass
class ModelCoefficients:
    """The model's drift, D and ∇·D as UFL, every parameter a ``fem.Constant``."""

    drift: Any
    D: Any
    divD: Any
    constants: dict

    def update(self, landscape: Landscape, noise: Noise) -> None:
        """New parameter values without a new form (no recompilation)."""
        for name, value in zip(("a0", "a2", "a4", "eps"), landscape.coefficients):
            self.constants[name].value = value
        self.constants["T"].value = noise.T


def model_coefficients(msh: Any, landscape: Landscape, noise: Noise, cross: bool = True) -> ModelCoefficients:
    """Drift ``−∇L``, ``D = (T/2) H²`` and ``∇·D`` of docs/model.md §1-3 in UFL,
    built from the formula functions of :mod:`fpsolve.model.valley`."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc

    c = {name: fem.Constant(msh, PETSc.ScalarType(value))
         for name, value in zip(("a0", "a2", "a4", "eps"), landscape.coefficients)}
    c["T"] = fem.Constant(msh, PETSc.ScalarType(noise.T))
    x = ufl.SpatialCoordinate(msh)
    coeffs = (c["a0"], c["a2"], c["a4"], c["eps"])
    g1, g2 = model.gradient(x[0], x[1], *coeffs)
    d11, d12, d22 = model.diffusion(x[0], x[1], c["T"], *coeffs, cross=cross)
    v1, v2 = model.diffusion_divergence(x[0], x[1], c["T"], *coeffs, cross=cross)
    return ModelCoefficients(
        drift=ufl.as_vector((-g1, -g2)),
        D=ufl.as_matrix(((d11, d12), (d12, d22))),
        divD=ufl.as_vector((v1, v2)),
        constants=c,
    )


def case_coefficients(msh: Any, model: Any) -> Tuple[Any, Any, Any]:
    """(drift, D, ∇·D) in UFL on ``msh`` of a :class:`~fpsolve.model.expression.Model`:
    the valley's hand-written forms (docs/model.md §1-3; equal to the derived ones
    to 1e-15, without importing sympy) when the model is the valley with its
    SGD noise, else the forms converted from its derivation (docs/model.md §7)."""
    if not model.is_valley():
        drift, D, divD, _ = ufl_coefficients(model, msh)
        return drift, D, divD
    c = model_coefficients(msh, model.valley, model.noise_level, model.cross)
    return c.drift, c.D, c.divD


# --------------------------------------------------------------------------
# UFL from the same symbolic objects
# --------------------------------------------------------------------------

def to_ufl(expr: Any, mapping: Mapping[Any, Any]) -> Any:
    """The UFL twin of a sympy expression; ``mapping`` sends each sympy
    Symbol to a UFL object (coordinates, ``fem.Constant`` objects)."""
    import sympy
    import ufl

    funcs = {sympy.exp: ufl.exp, sympy.log: ufl.ln, sympy.sin: ufl.sin, sympy.cos: ufl.cos,
             sympy.tan: ufl.tan, sympy.sinh: ufl.sinh, sympy.cosh: ufl.cosh, sympy.tanh: ufl.tanh,
             sympy.atan: ufl.atan}

    def conv(e: Any) -> Any:
        if e in mapping:
            return mapping[e]
        if e.is_Number or isinstance(e, sympy.NumberSymbol):
            return float(e)
        if e.is_Add:
            out = conv(e.args[0])
            for a in e.args[1:]:
                out = out + conv(a)
            return out
        if e.is_Mul:
            out = conv(e.args[0])
            for a in e.args[1:]:
                out = out * conv(a)
            return out
        if e.is_Pow:
            base, ex = e.args
            if ex == sympy.Rational(1, 2):
                return ufl.sqrt(conv(base))
            if ex == sympy.Rational(-1, 2):
                return 1.0 / ufl.sqrt(conv(base))
            if ex.is_Integer:
                n = int(ex)
                return conv(base) ** n if n > 0 else 1.0 / conv(base) ** (-n)
            return conv(base) ** conv(ex)
        if e.func in funcs:
            return funcs[e.func](conv(e.args[0]))
        raise ModelError(f"no UFL form for {e} (in a model formula)")

    return conv(expr)


def ufl_coefficients(model: Any, msh: Any) -> Tuple[Any, Any, Any, Dict[str, Any]]:
    """(drift −∇L, D, ∇·D, constants) of ``model`` as UFL on ``msh``: every
    number (the constants, alpha, Delta) a ``fem.Constant`` keyed by name, so
    new values need no new form (docs/model.md §4, §7)."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc

    d = model.derivation
    xs = ufl.SpatialCoordinate(msh)
    names = [k for k, _ in model.params] + ["alpha", "Delta"]
    consts = {n: fem.Constant(msh, PETSc.ScalarType(v)) for n, v in zip(names, model.arguments)}
    mapping = {d.symbols[0]: xs[0], d.symbols[1]: xs[1]}
    mapping.update({sym: consts[n] for sym, n in zip(d.symbols[2:], names)})
    g1, g2 = (to_ufl(e, mapping) for e in d.gradient)
    d11, d12, d22 = (to_ufl(e, mapping) for e in d.diffusion)
    v1, v2 = (to_ufl(e, mapping) for e in d.divergence)
    return (ufl.as_vector((-g1, -g2)), ufl.as_matrix(((d11, d12), (d12, d22))), ufl.as_vector((v1, v2)), consts)
