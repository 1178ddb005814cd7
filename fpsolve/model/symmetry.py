"""The linear symmetries of a model (docs/model.md §7, "Symmetries"), found symbolically.

A linear map ``θ → S θ`` (S orthogonal, 2×2) is a symmetry of the model when

* the loss is invariant, ``L(S θ) = L(θ)``;
* the diffusion tensor is equivariant, ``D(S θ) = S D(θ) Sᵀ`` (then the drift
  ``−∇L`` is too, and the Fokker-Planck operator commutes with ``φ ↦ φ∘S``);
* the domain is invariant: the disk's centre is a fixed point, ``S c = c``.

The candidates are the maps a user's model commonly has (:data:`CANDIDATES`):
the mirrors θ1 → −θ1 and θ2 → −θ2, the point reflection θ → −θ, the swap
θ1 ↔ θ2, the anti-swap (θ1, θ2) → (−θ2, −θ1) and the rotations by 2π/k
(k = 3, 4, 6).  Each is kept only when the invariance holds **exactly**:
the constants are put in as exact rationals (a float is a binary rational)
and ``L(Sθ) − L(θ)`` must expand (or simplify) to 0.  A numeric test at a
few points comes first and rejects most candidates without sympy.  For the
``sgd`` and ``isotropic`` noises the equivariance of D follows from the
loss's invariance (``H(Sθ) = S H(θ) Sᵀ``), for ``sgd-diagonal`` from it when
S is a signed permutation; otherwise (a user covariance) it is checked
symbolically as well.  The search runs under the symbolic time budget of
:func:`fpsolve.model.expression.symbolic_budget`; a search cut short keeps
what it proved and says so (``complete`` False).

The valley of docs/model.md §1 (even in θ1 and in θ2) is known without
sympy: mirror θ1, mirror θ2 and the point reflection.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fpsolve.model.expression import symbolic_budget, _short
from fpsolve.model.valley import ModelError


__all__ = ["Symmetry", "SymmetryReport", "CANDIDATES", "find", "agree", "zero_means"]

#: Rotation orders tried (by 2π/k); k = 2 is the point reflection.
ROTATION_ORDERS = (3, 4, 6)
#: Relative size of ``L(Sθ) − L(θ)`` (and of D's) at the sample points below
#: which the symbolic test is tried.
NUMERIC_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """A linear map ``θ → S θ`` of the plane: ``name`` and ``matrix`` (2×2,
    row-major, orthogonal)."""

    name: str
    matrix: Tuple[Tuple[float, float], Tuple[float, float]]

    @property
    def array(self) -> np.ndarray:
        """S as a numpy (2, 2) array."""
        return np.array(self.matrix, dtype=float)

    def signed_permutation(self) -> bool:
        """Whether S permutes the axes with signs (entries 0, ±1)."""
        a = np.abs(self.array)
        return bool(np.all((a == 0) | (a == 1)) and np.all(a.sum(axis=0) == 1))

    def fixes(self, point: Sequence[float], scale: float = 1.0) -> bool:
        """Whether ``S p = p`` (to 1e-12 of ``scale``)."""
        p = np.asarray(point, dtype=float)
        return bool(np.max(np.abs(self.array @ p - p)) <= 1e-12 * max(scale, 1.0))

    def as_dict(self) -> dict:
        return {"name": self.name, "matrix": [list(r) for r in self.matrix]}


def _rotation(k: int) -> Symmetry:
    c, s = math.cos(2 * math.pi / k), math.sin(2 * math.pi / k)
    c, s = (round(c) if abs(c - round(c)) < 1e-15 else c), (round(s) if abs(s - round(s)) < 1e-15 else s)
    return Symmetry(f"rotation-{k}", ((float(c), float(-s)), (float(s), float(c))))


#: The maps tried, in this order (names are part of summary.json).
CANDIDATES: Tuple[Symmetry, ...] = (
    Symmetry("mirror-theta1", ((-1.0, 0.0), (0.0, 1.0))),
    Symmetry("mirror-theta2", ((1.0, 0.0), (0.0, -1.0))),
    Symmetry("point", ((-1.0, 0.0), (0.0, -1.0))),
    Symmetry("swap", ((0.0, 1.0), (1.0, 0.0))),
    Symmetry("anti-swap", ((0.0, -1.0), (-1.0, 0.0))),
) + tuple(_rotation(k) for k in ROTATION_ORDERS)
_BY_NAME = {s.name: s for s in CANDIDATES}
#: What the valley of docs/model.md §1 has for any coefficients.
VALLEY_SYMMETRIES = ("mirror-theta1", "mirror-theta2", "point")


def by_name(name: str) -> Symmetry:
    """The candidate called ``name`` (KeyError otherwise)."""
    return _BY_NAME[name]


@dataclasses.dataclass(frozen=True)
class SymmetryReport:
    """What :func:`find` proved: ``symmetries`` (in :data:`CANDIDATES` order),
    ``complete`` (False when the time budget cut the search short),
    ``method`` and ``seconds``."""

    symmetries: Tuple[Symmetry, ...]
    complete: bool = True
    method: str = "symbolic"
    seconds: float = 0.0

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(s.name for s in self.symmetries)

    def on_disk(self, center: Sequence[float], radius: float = 1.0) -> "SymmetryReport":
        """The symmetries that also keep the disk of this centre (a fixed point)."""
        kept = tuple(s for s in self.symmetries if s.fixes(center, radius))
        return dataclasses.replace(self, symmetries=kept)

    def as_dict(self) -> dict:
        return {"found": list(self.names), "maps": [s.as_dict() for s in self.symmetries],
                "complete": self.complete, "method": self.method, "seconds": self.seconds,
                "candidates": [s.name for s in CANDIDATES]}


_CACHE: Dict[tuple, SymmetryReport] = {}


def find(model: Any, center: Optional[Sequence[float]] = None, radius: float = 1.0) -> SymmetryReport:
    """The symmetries of ``model`` (a :class:`~fpsolve.model.expression.Model`)
    among :data:`CANDIDATES` (module docstring); with ``center``, only those
    that keep the disk of that centre (θ units).  Cached per model; never
    raises for a model that was accepted (a search over the symbolic budget
    returns what it proved, ``complete`` False)."""
    key = _key(model)
    if key not in _CACHE:
        _CACHE[key] = _search(model)
    report = _CACHE[key]
    return report if center is None else report.on_disk(center, radius)


def agree(model: Any, comm: Any) -> SymmetryReport:
    """:func:`find` on rank 0 of ``comm`` (an mpi4py communicator), taken
    by every rank (and cached there): a search cut short by the time
    budget on one rank only must not give the ranks different maps, which
    the collective eigen-solve would then try in different numbers."""
    report = find(model)
    if comm is not None and comm.size > 1:
        report = comm.bcast(report, root=0)
        _CACHE[_key(model)] = report
    return report


def _key(model: Any) -> tuple:
    return (model.loss, model.params, model.noise, model.covariance, model.alpha, model.Delta)


def _search(model: Any) -> SymmetryReport:
    start = time.perf_counter()
    if model.is_valley():
        land = model.valley
        if not (land.a2 == 0 and land.a4 == 0 and land.a0 == land.eps):  # else isotropic: more maps
            return SymmetryReport(tuple(by_name(n) for n in VALLEY_SYMMETRIES), True, "valley (docs/model.md §1)",
                                  time.perf_counter() - start)
    found: List[Symmetry] = []
    complete = True
    try:
        with symbolic_budget(f"symmetries of loss {_short(model.loss)}"):
            exact = _ExactModel(model)
            for cand in CANDIDATES:
                if _numerically_invariant(model, cand) and exact.invariant(cand):
                    found.append(cand)
    except ModelError:
        complete = False
    return SymmetryReport(tuple(found), complete, "symbolic", time.perf_counter() - start)


_SAMPLES = np.array([[0.31, -0.77], [1.13, 0.42], [-0.58, 1.71], [0.9, 0.9], [-1.37, -0.26], [0.05, 1.2]])


def _numerically_invariant(model: Any, sym: Symmetry) -> bool:
    """``L(Sθ) = L(θ)`` and ``D(Sθ) = S D(θ) Sᵀ`` at a few points (relative
    :data:`NUMERIC_TOL`)."""
    S = sym.array
    pts = _SAMPLES
    img = pts @ S.T
    with np.errstate(all="ignore"):
        L0 = model.evaluate("loss", pts[:, 0], pts[:, 1])
        L1 = model.evaluate("loss", img[:, 0], img[:, 1])
        d0 = np.stack(model.evaluate("diffusion", pts[:, 0], pts[:, 1]), axis=-1)
        d1 = np.stack(model.evaluate("diffusion", img[:, 0], img[:, 1]), axis=-1)
    if not (np.all(np.isfinite(L0)) and np.all(np.isfinite(L1))):
        return True  # cannot judge here: the symbolic test decides
    scale = max(float(np.max(np.abs(L0))), 1e-300)
    if float(np.max(np.abs(L1 - L0))) > NUMERIC_TOL * scale:
        return False
    D0 = np.stack([d0[:, 0], d0[:, 1], d0[:, 1], d0[:, 2]], axis=-1).reshape(-1, 2, 2)
    D1 = np.stack([d1[:, 0], d1[:, 1], d1[:, 1], d1[:, 2]], axis=-1).reshape(-1, 2, 2)
    rotated = S @ D0 @ S.T
    dscale = max(float(np.nanmax(np.abs(D0))), 1e-300)
    diff = np.abs(D1 - rotated)
    return not bool(np.nanmax(diff) > NUMERIC_TOL * dscale) if np.all(np.isfinite(diff)) else True


class _ExactModel:
    """The model's loss and Σ with every number an exact rational."""

    def __init__(self, model: Any) -> None:
        import sympy

        d = model.derivation
        self.x, self.y = d.symbols[:2]
        values = {sym: _rational(v) for sym, v in zip(d.symbols[2:], model.arguments)}
        self.noise = model.noise
        self.loss = _exact(d.loss.xreplace(values))
        self.sigma = tuple(_exact(sympy.sympify(s).xreplace(values)) for s in d.sigma)

    def _image(self, expr: Any, sym: Symmetry) -> Any:
        S = _exact_matrix(sym)
        u = S[0][0] * self.x + S[0][1] * self.y
        v = S[1][0] * self.x + S[1][1] * self.y
        return expr.subs({self.x: u, self.y: v}, simultaneous=True)

    def invariant(self, sym: Symmetry) -> bool:
        if not _is_zero(self._image(self.loss, sym) - self.loss):
            return False
        if self.noise in ("sgd", "isotropic") or (self.noise == "sgd-diagonal" and sym.signed_permutation()):
            return True  # D's equivariance follows from the loss's (module docstring)
        import sympy

        S = sympy.Matrix(_exact_matrix(sym))
        s11, s12, s22 = self.sigma
        sig = sympy.Matrix([[s11, s12], [s12, s22]])
        moved = sig.applyfunc(lambda e: self._image(e, sym))
        return all(_is_zero(e) for e in (moved - S * sig * S.T))


def _rational(value: float) -> Any:
    import sympy

    return sympy.Rational(float(value))


def _exact(expr: Any) -> Any:
    """``expr`` with every Float replaced by the rational it stands for."""
    import sympy

    return expr.xreplace({f: sympy.Rational(f) for f in expr.atoms(sympy.Float)})


def _exact_matrix(sym: Symmetry) -> List[List[Any]]:
    """S with exact entries (cos and sin of 2π/k for the rotations)."""
    import sympy

    if sym.name.startswith("rotation-"):
        k = int(sym.name.split("-")[1])
        c, s = sympy.cos(2 * sympy.pi / k), sympy.sin(2 * sympy.pi / k)
        return [[c, -s], [s, c]]
    return [[sympy.Integer(int(v)) for v in row] for row in sym.matrix]


def _is_zero(expr: Any) -> bool:
    """Whether ``expr`` is identically 0: expanded, then simplified."""
    import sympy

    e = sympy.expand(expr)
    if e == 0:
        return True
    return sympy.simplify(e) == 0


def zero_means(symmetries: Sequence[Symmetry]) -> Tuple[str, ...]:
    """The means (``mean_theta1``, ``mean_theta2``) that every density
    invariant under ``symmetries`` has equal to 0: those of the axes
    orthogonal to the maps' common fixed space."""
    if not symmetries:
        return ()
    stack = np.vstack([s.array - np.eye(2) for s in symmetries])
    _, sv, vt = np.linalg.svd(stack)
    fixed = vt[np.sum(sv > 1e-12):]  # rows spanning the common fixed space
    out = []
    for i, key in enumerate(("mean_theta1", "mean_theta2")):
        e = np.eye(2)[i]
        if fixed.size == 0 or float(np.linalg.norm(fixed @ e)) < 1e-12:
            out.append(key)
    return tuple(out)
