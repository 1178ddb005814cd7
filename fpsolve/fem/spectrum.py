"""The first eigenpairs of the generator, each with its residual and a trust flag (docs/model.md §10).

``K φ_n = λ_n M φ_n`` (the Fokker-Planck operator of :mod:`fpsolve.fem.forms`,
whose eigenvalues are the generator's), ``λ_0 ≤ Re λ_1 ≤ …``, by SLEPc
shift-and-invert with a direct LU (:func:`fpsolve.fem.linalg.shift_invert_eps`),
its options read under the prefix ``fpsolve_spec_``.

Why the shift sits below λ0, not at it: λ0 of a confined density is zero to
round-off, so K − 0·M is singular to working precision and the Krylov space
is swamped by the λ0 direction (measured on the default double well at
T = 0.01: with the shift at 0, λ1 came back as −1.1e-3 ± 1.6e-3 i with a
backward error 2.5e-4; with the shift at −1e-3 … −0.1, λ1 = 5.0759566e-3,
real, backward error 1e-16, the same to 1e-10 for every shift).  The default
shift is ``−SHIFT_FRACTION · ‖K‖∞/‖M‖∞`` (−3e-3 there), overridable with the
option ``eps_target``; eigenvalues are taken closest to it in real part
(``TARGET_REAL``), so a complex pair with a small real part is not passed
over for a real eigenvalue of larger real part.

Trust: an eigenvalue is trusted when (1) its backward error is at most
:data:`RESIDUAL_TOL`, (2) a second solve on the same mesh with the shift
moved (×:data:`ALT_SHIFT`) gives it again within :data:`ROUNDOFF_TOL`
relative, and (3) the same eigenvalue on a finer mesh (the mesh refined
uniformly, :func:`check`) agrees within :data:`MESH_TOL` relative.
Higher eigenvalues of a Fokker-Planck operator are ill-conditioned (the
eigenvectors are far from orthogonal: a polynomial times the density), so a
small residual alone does not make an eigenvalue right: on the default
double well at T = 0.01, λ2 = 1.0106871e-2 has a backward error 1e-15 yet
moves by 1e-8 relative with the shift or the number of ranks (round-off
times its condition number), while λ1 moves by 2e-11.  (2) catches that,
(3) the discretisation.  An eigenvalue that fails is reported with
``trusted: false`` and the reason, never dropped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, List, Sequence

import numpy as np

from fpsolve import _compat
from fpsolve.fem.linalg import PREFIXES, _pop_options, _push_options, shift_invert_eps
from fpsolve.fem.operator import Operator
from fpsolve.tools.errors import InputError

#: The most eigenpairs one call computes (``--eigenpairs``): beyond a few
#: tens the eigenvalues of the discrete operator are ill-conditioned anyway.
MAX_EIGENPAIRS = 50
#: Largest backward error of a trusted eigenpair (SLEPc's EPS_ERROR_BACKWARD).
RESIDUAL_TOL = 1e-9
#: Largest relative change of a trusted eigenvalue from the mesh to the finer mesh.
MESH_TOL = 1e-3
#: Largest relative change of a trusted eigenvalue when the shift moves (round-off).
ROUNDOFF_TOL = 1e-10
#: The second solve's shift: ALT_SHIFT times the first.
ALT_SHIFT = 3.0
#: The default shift: −SHIFT_FRACTION · ‖K‖∞/‖M‖∞ (module docstring).
SHIFT_FRACTION = 1e-5
#: Eigenvalues closer than ROUNDOFF_FACTOR · u · ‖K‖∞/‖M‖∞ are equal to round-off.
ROUNDOFF_FACTOR = 1e3
#: Pairs asked of SLEPc beyond k, so a complex pair at the cut is complete
#: and the finer mesh has a partner for every eigenvalue.
EXTRA = 2
_U = 2.2e-16


def check_count(k: Any, what: str = "eigenpairs") -> int:
    """``k`` as the number of eigenpairs: an integer in 1 … MAX_EIGENPAIRS
    (an int, or text of one).  Raises InputError naming ``what`` and the
    value otherwise."""
    bad = InputError(f"{what} must be an integer in 1..{MAX_EIGENPAIRS} (got {k!r})")
    if isinstance(k, bool) or k is None:
        raise bad
    if not isinstance(k, (int, np.integer)):
        text = str(k).strip()
        if not text.lstrip("+").isdigit():
            raise bad
        k = int(text)
    if not 1 <= int(k) <= MAX_EIGENPAIRS:
        raise bad
    return int(k)


@dataclasses.dataclass
class Eigenvalue:
    """One eigenvalue λ (1/time units) with its backward error ``residual``
    = ``‖Kφ − λMφ‖ / ((‖K‖ + |λ| ‖M‖) ‖φ‖)`` (SLEPc's EPS_ERROR_BACKWARD, φ
    complex for a complex λ); ``fine``: the same eigenvalue on the finer
    mesh; ``trusted``: None until :func:`compare` judges it; ``reason``
    says why not."""

    value: complex
    residual: float
    fine: complex | None = None
    trusted: bool | None = None
    reason: str = ""


@dataclasses.dataclass
class Spectrum:
    """The first eigenvalues on one mesh, sorted by real part (a conjugate
    pair with + imaginary part first); ``requested`` k (one more is kept
    when the k-th and (k+1)-th are a conjugate pair), ``roundoff``: the
    absolute size below which eigenvalues are equal to round-off, ``target``
    the shift, ``info`` the solver's settings in effect."""

    eigenvalues: List[Eigenvalue]
    requested: int
    dofs: int
    target: float
    roundoff: float
    seconds: float
    info: dict
    fine_dofs: int | None = None
    #: how the finer mesh of the trust check was made (for ``trust_rule``)
    fine_mesh: str = "the uniformly refined mesh"

    def values(self) -> np.ndarray:
        """The eigenvalues, complex array (n,)."""
        return np.array([e.value for e in self.eigenvalues], dtype=complex)

    def relaxation_rates(self) -> np.ndarray:
        """``Re(λ_n − λ_0)`` for n ≥ 0 (1/time units; 0 for λ0)."""
        v = self.values()
        return v.real - v[0].real

    def record(self) -> dict:
        """What summary.json records: per eigenvalue its real and imaginary
        parts, residual, trust flag and reason, the finer mesh's value and
        the relaxation time 1/Re(λn − λ0) (None for λ0 and wherever the
        rate is not above round-off); and how trust was judged."""
        rates = self.relaxation_rates()
        rows = []
        for n, (e, rate) in enumerate(zip(self.eigenvalues, rates)):
            rows.append({
                "n": n, "real": e.value.real, "imag": e.value.imag, "residual": e.residual,
                "trusted": e.trusted, "reason": e.reason,
                "fine_real": None if e.fine is None else e.fine.real,
                "fine_imag": None if e.fine is None else e.fine.imag,
                "relaxation_time": 1.0 / rate if n > 0 and rate > self.roundoff else None})
        return {"eigenvalues": rows, "requested": self.requested, "dofs": self.dofs, "fine_dofs": self.fine_dofs,
                "target": self.target, "roundoff": self.roundoff, "residual_tol": RESIDUAL_TOL,
                "mesh_tol": MESH_TOL, "roundoff_tol": ROUNDOFF_TOL, "seconds": self.seconds,
                "residual_definition": "backward error |K phi - lambda M phi| / ((|K| + |lambda| |M|) |phi|)",
                "trust_rule": f"residual <= {RESIDUAL_TOL:g}, the same within max({ROUNDOFF_TOL:g} |lambda|, "
                              f"roundoff) with the shift x{ALT_SHIFT:g}, and within max({MESH_TOL:g} |lambda|, "
                              f"roundoff) on {self.fine_mesh}",
                **self.info}


def eigenpairs(op: Operator, k: int, *, target: float | None = None,
               options_prefix: str = PREFIXES["spectrum"], petsc_options: Dict[str, Any] | None = None,
               extra: int = EXTRA) -> Spectrum:
    """The ``k`` eigenvalues of least real part of ``K φ = λ M φ`` on the
    operator's mesh (docs/model.md §10), each with its backward error;
    not yet judged (:func:`compare`).  ``target``: the shift (default
    −SHIFT_FRACTION ‖K‖∞/‖M‖∞, below λ0: module docstring); PETSc/SLEPc
    options under ``options_prefix`` (keys without it, e.g.
    ``{"eps_target": -0.01, "eps_ncv": 40}``) override the defaults.
    Collective; every rank gets the same Spectrum.  Raises InputError for a
    bad ``k``, ModelError for options PETSc refuses, RuntimeError when fewer
    than ``k`` pairs converge."""
    from petsc4py import PETSc
    from slepc4py import SLEPc

    k = check_count(k)
    t0 = time.perf_counter()
    K, M = op.eigen_matrices()
    ratio = K.norm(PETSc.NormType.INFINITY) / M.norm(PETSc.NormType.INFINITY)
    sigma = -SHIFT_FRACTION * ratio if target is None else float(target)
    info: dict = {"options_prefix": options_prefix,
                  "petsc_options": {str(a): str(b) for a, b in (petsc_options or {}).items()}}
    pushed = _push_options(options_prefix, petsc_options)
    try:
        evp = shift_invert_eps(K, M, op.comm, target=sigma, nev=k + extra, which=SLEPc.EPS.Which.TARGET_REAL,
                               options_prefix=options_prefix, pushed=pushed, info=info)
    finally:
        _pop_options(pushed)
    sigma = float(evp.getTarget().real)
    evp.solve()
    found = []
    for i in range(evp.getConverged()):
        lam = complex(evp.getEigenvalue(i))
        found.append(Eigenvalue(lam, float(evp.computeError(i, SLEPc.EPS.ErrorType.BACKWARD))))
    info["converged"] = len(found)
    evp.destroy()
    for obj in (K, M):
        obj.destroy()
    if len(found) < k:
        raise RuntimeError(f"the eigen-solve converged to {len(found)} of {k} eigenpairs "
                           f"(raise eps_max_it or eps_ncv with --petsc-option)")
    found.sort(key=lambda e: (e.value.real, -e.value.imag))
    keep = k + 1 if (k < len(found) and found[k - 1].value.imag > 0
                     and abs(found[k].value - found[k - 1].value.conjugate()) <= _U * abs(found[k].value) * 10) else k
    return Spectrum(found[:keep], k, op.dofs, sigma, ROUNDOFF_FACTOR * _U * ratio, time.perf_counter() - t0,
                    info)


def _pair(base: Spectrum, other: Spectrum) -> List[complex | None]:
    """For each eigenvalue of ``base`` the nearest unpaired one of ``other``
    (closest pairs first, so a degenerate pair pairs with two; None where
    ``other`` has run out)."""
    pairs = sorted(((abs(e.value - f.value), i, j) for i, e in enumerate(base.eigenvalues)
                    for j, f in enumerate(other.eigenvalues)))
    out: List[complex | None] = [None] * len(base.eigenvalues)
    used_j = set()
    for _, i, j in pairs:
        if out[i] is None and j not in used_j:
            used_j.add(j)
            out[i] = other.eigenvalues[j].value
    return out


def compare(base: Spectrum, fine: Spectrum, *, shifted: Spectrum | None = None, mesh_tol: float = MESH_TOL,
            residual_tol: float = RESIDUAL_TOL, roundoff_tol: float = ROUNDOFF_TOL) -> Spectrum:
    """Judge ``base`` against ``fine`` (the same problem on a finer mesh)
    and ``shifted`` (the same mesh, another shift; None: not judged), each
    eigenvalue paired with the nearest unpaired one (:func:`_pair`).
    Trusted: residual ≤ ``residual_tol``, ``|λ − λ_shifted| ≤
    max(roundoff_tol |λ|, roundoff)`` and ``|λ − λ_fine| ≤ max(mesh_tol |λ|,
    roundoff)`` (two eigenvalues at round-off, λ0 of a confined density,
    agree).  Sets ``fine``, ``trusted``, ``reason`` in place; returns ``base``."""
    floor = max(base.roundoff, fine.roundoff)
    checks = [(fine, mesh_tol, "on the finer mesh")]
    if shifted is not None:
        checks.insert(0, (shifted, roundoff_tol, "with the shift moved (round-off)"))
    reasons: List[List[str]] = [[] for _ in base.eigenvalues]
    for other, tol, where in checks:
        for e, why, partner in zip(base.eigenvalues, reasons, _pair(base, other)):
            if other is fine:
                e.fine = partner
            if partner is None:
                why.append(f"not found {where}")
                continue
            change = abs(e.value - partner)
            if not change <= max(tol * abs(e.value), floor):
                why.append(f"moves by {change / max(abs(e.value), floor):.1e} (relative) {where}")
    for e, why in zip(base.eigenvalues, reasons):
        if not e.residual <= residual_tol:
            why.insert(0, f"residual {e.residual:.1e} > {residual_tol:g}")
        e.trusted = not why
        e.reason = "; ".join(why) if why else ("zero to round-off" if abs(e.value) <= floor else "")
    base.fine_dofs = fine.dofs
    return base


def refined(op: Operator) -> Operator:
    """The operator of the same model on the mesh refined uniformly (every
    triangle into four; the wall stays the same polygon), for the mesh check
    of :func:`compare`.  Needs ``op.model`` (an operator built with
    :meth:`Operator.of_model`); raises InputError otherwise.  Collective."""
    if op.model is None:
        raise InputError("the mesh check needs an operator built from a model (Operator.of_model); "
                         "pass a finer operator to check() instead")
    msh = op.mesh
    cells = np.arange(msh.topology.index_map(2).size_local, dtype=np.int32)
    fine = _compat.refine(msh, _compat.incident_edges(msh, cells))
    return Operator.of_model(fine, op.model, degree=op.degree, wall=op.wall)


def check(op: Operator, k: int, *, fine: Operator | None = None, **options: Any) -> Spectrum:
    """The first ``k`` eigenpairs of ``op`` (:func:`eigenpairs`), judged by
    :func:`compare` against a second solve with the shift moved and the
    same on ``fine`` (default :func:`refined`: the mesh refined uniformly);
    ``options`` go to every solve.  Costs about six single solves (the
    finer mesh has four times the dofs).  Collective."""
    k = check_count(k)
    base = eigenpairs(op, k, **options)
    moved = {**options, "target": ALT_SHIFT * base.target}
    shifted = eigenpairs(op, k, **moved)
    other = eigenpairs(fine if fine is not None else refined(op), k, **options)
    spec = compare(base, other, shifted=shifted)
    spec.seconds += shifted.seconds + other.seconds
    return spec


def add_to_summary(sol: Any, model: Any, k: int, *, degree: int = 2, wall: str = "absorbing",
                   progress: Callable[[str], None] | None = None, **options: Any) -> Spectrum:
    """The first ``k`` eigenpairs (:func:`check`) on the mesh of a stationary
    solve ``sol`` (:func:`fpsolve.fem.stationary.solve` of ``model`` with
    ``degree`` and ``wall``), recorded in ``sol.summary.spectrum``; a line
    in ``sol.summary.warnings`` when some eigenvalue is not trusted.
    Collective; returns the Spectrum."""
    say = progress or (lambda message: None)
    spec = check(Operator.of_model(sol.mesh, model, degree=degree, wall=wall), k, **options)
    say(f"spectrum ({spec.dofs} and {spec.fine_dofs} dofs, {spec.seconds:.2f}s): {format_values(spec)}")
    sol.summary.spectrum = spec.record()
    warning = untrusted_warning(spec)
    if warning:
        if sol.summary.warnings is None:
            sol.summary.warnings = []
        sol.summary.warnings.append(warning)
    return spec


def format_values(spec: Spectrum) -> str:
    """The eigenvalues as one line (``a+bi`` where complex)."""
    return ", ".join(f"{v.real:.6g}{v.imag:+.3g}i" if v.imag else f"{v.real:.6g}" for v in spec.values())


def untrusted_warning(spec: Spectrum) -> str | None:
    """summary.json's warning when some eigenvalue of ``spec`` is not trusted, else None."""
    untrusted = [n for n, e in enumerate(spec.eigenvalues) if not e.trusted]
    if not untrusted:
        return None
    return (f"{len(untrusted)} of {len(spec.eigenvalues)} eigenvalues not trusted (n = "
            f"{', '.join(map(str, untrusted))}): see spectrum.eigenvalues[].reason in summary.json")


def decay_rate(t: Sequence[float], values: Sequence[float], fraction: float = 0.5) -> float:
    """Late-time decay rate of ``|values|`` (an observable minus its
    stationary value), −d ln|v|/dt fitted over the last ``fraction`` of the
    time span (1/time units): the relaxation rate Re(λ_n − λ_0) of the
    slowest mode the observable sees.  Raises InputError with fewer than
    two non-zero values there."""
    t, v = np.asarray(t, dtype=float), np.abs(np.asarray(values, dtype=float))
    sel = (t >= t[-1] - fraction * (t[-1] - t[0])) & (v > 0)
    if sel.sum() < 2:
        raise InputError("too few non-zero values to fit a decay rate")
    return float(-np.polyfit(t[sel], np.log(v[sel]), 1)[0])


def relaxation_time(spec: Spectrum) -> float:
    """``1/Re(λ_1 − λ_0)`` (time units) with λ_1 the first eigenvalue whose
    real part is above λ_0's by more than round-off; inf if none."""
    rates = spec.relaxation_rates()
    above = [r for r in rates[1:] if r > spec.roundoff]
    return 1.0 / above[0] if above else math.inf
