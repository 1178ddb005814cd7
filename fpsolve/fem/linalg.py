"""Linear algebra of the FEM problems: LU factorisations, PETSc options and the eigen-solve.

The principal eigenpair (least real part) of ``K φ = λ M φ`` by SLEPc
shift-and-invert at a target with a direct LU (MUMPS), or by inverse
iteration with the same LU; its residual, round-off size and spectral gap.
PETSc options reach the solvers through an options prefix.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.model.valley import ModelError
from fpsolve.tools.signals import deferred_sigint


EIGENSOLVERS = ("slepc", "inverse")


# --------------------------------------------------------------------------
# Eigen-solve
# --------------------------------------------------------------------------

def _lu(ksp: Any, comm: Any, package: str | None = None) -> str:
    """Direct LU on ``ksp`` (not yet factorised): ``package``, by default
    PETSc's own sparse LU on one rank and MUMPS in parallel.  Serial PETSc
    LU (nested dissection) factorises the P2 operator about 1.3x and solves
    about 4x faster than MUMPS (37 805 dofs: 0.35 s and 4 ms against 0.45 s
    and 15 ms; the shift-invert eigen-solve makes about 20 solves), but it
    does not pivot: :func:`factorise` falls back to MUMPS on a zero pivot."""
    ksp.setType(LU_DEFAULTS["ksp_type"])
    pc = ksp.getPC()
    pc.setType(LU_DEFAULTS["pc_type"])
    package = package or ("petsc" if comm.size == 1 else "mumps")
    if package == "mumps" and "mumps" not in _solver_packages():
        if comm.size > 1:
            raise RuntimeError("parallel LU needs PETSc with MUMPS")
        package = "petsc"
    pc.setFactorSolverType(package)
    return package


def lu_packages(comm: Any) -> list:
    """The LU packages to try in order (:func:`_lu`)."""
    first = "petsc" if comm.size == 1 else "mumps"
    return [first] + (["mumps"] if first == "petsc" and "mumps" in _solver_packages() else [])


def factorise(ksp: Any, comm: Any, configured: bool = False) -> str:
    """Set ``ksp`` (operators set) to a direct LU and factorise it now;
    returns the package used.  ``configured``: the first try keeps the LU
    ``ksp`` already has (:func:`_lu` then the user's options).  A failed
    factorisation (PETSc error 71, zero pivot: PETSc's LU does not pivot) is
    retried with MUMPS, which does; raises petsc4py's Error when every
    package fails."""
    packages = lu_packages(comm)
    for i, package in enumerate(packages):
        if not (configured and i == 0):
            _lu(ksp, comm, package)
        ksp.setErrorIfNotConverged(True)  # a failed factorisation raises here, not at the first solve
        error = _set_up(ksp.setUp)
        if error is None:
            return ksp.getPC().getFactorSolverType()
        if i + 1 == len(packages):
            raise error
        A = ksp.getOperators()[0]
        ksp.reset()
        ksp.setOperators(A)
    raise AssertionError("unreachable")


def _set_up(setup: Any) -> Any:
    """Run a PETSc/SLEPc ``setUp`` (a factorisation); None on success, the
    PETSc error (a zero pivot) otherwise.  Ctrl-C is held while it runs
    (:func:`fpsolve.tools.signals.deferred_sigint`): a KeyboardInterrupt that
    fired inside petsc4py's error path would be swallowed with the error it
    reports, and the retry would run on (Debian 13: 7 of 24 interrupts during
    the eigen-solve were lost, exit 0)."""
    from petsc4py import PETSc

    with deferred_sigint():
        try:
            setup()
        except PETSc.Error as exc:
            return exc
    return None


def _solver_packages() -> set:
    from petsc4py import PETSc

    try:
        return {"mumps"} if PETSc.Sys.hasExternalPackage("mumps") else set()
    except AttributeError:  # older petsc4py: assume Debian's build (has MUMPS)
        return {"mumps"}


def _positivity(vec: Any, lumped: Any) -> Tuple[float, float]:
    """(``∫φ``, ``∫|φ|``) with a lumped mass vector, global."""
    a = vec.getArray(readonly=True)
    m = lumped.getArray(readonly=True)
    comm = vec.getComm().tompi4py()
    s = comm.allreduce(float(np.dot(a, m)))
    t = comm.allreduce(float(np.dot(np.abs(a), m)))
    return s, t


#: The options prefix of each FEM problem: its PETSc/SLEPc objects read the
#: options database under it (``-fpsolve_eig_eps_nev 6``,
#: ``-fpsolve_ts_pc_factor_mat_solver_type mumps``; the scripts pass options
#: without the prefix, ``--petsc-option KEY=VALUE``).
PREFIXES = {"eigen": "fpsolve_eig_", "transient": "fpsolve_ts_", "backward": "fpsolve_bw_",
            "spectrum": "fpsolve_spec_"}
#: The eigen-solve's prefix (the one ``solve_fp.py --petsc-option`` reaches).
OPTIONS_PREFIX = PREFIXES["eigen"]
#: The eigen-solve's settings before the user's options are read (which may
#: override any of them): SLEPc shift-and-invert about the target, the two
#: pairs λ0 and λ1, a tolerance near round-off; K − σM is factorised by the
#: direct LU of :data:`LU_DEFAULTS`.
EIGEN_DEFAULTS = {"eps_nev": 2, "eps_tol": 1e-12, "eps_max_it": 200, "st_type": "sinvert"}
#: Every LU of the FEM problems (the eigen-solve's K − σM, the transient's
#: and the backward problems' matrices): a direct solve, :func:`_lu`.
LU_DEFAULTS = {"ksp_type": "preonly", "pc_type": "lu"}


def options_in_effect(obj: Any) -> Dict[str, Any]:
    """The settings a set-up SLEPc EPS or PETSc KSP actually uses (its
    prefix, types, tolerances, LU package), for summary.json."""
    from slepc4py import SLEPc

    out: Dict[str, Any] = {"prefix": obj.getOptionsPrefix()}
    if isinstance(obj, SLEPc.EPS):
        tol, max_it = obj.getTolerances()
        st = obj.getST()
        out.update({"eps_type": obj.getType(), "eps_nev": obj.getDimensions()[0], "eps_tol": tol,
                    "eps_max_it": max_it, "eps_target": obj.getTarget(), "st_type": st.getType()})
        ksp, lead = st.getKSP(), "st_"
    else:
        ksp, lead = obj, ""
    pc = ksp.getPC()
    out.update({f"{lead}ksp_type": ksp.getType(), f"{lead}pc_type": pc.getType()})
    if pc.getType() in ("lu", "cholesky"):
        out[f"{lead}pc_factor_mat_solver_type"] = pc.getFactorSolverType()
    return out


def configure_lu(ksp: Any, comm: Any, prefix: str, petsc_options: Dict[str, Any] | None = None) -> str:
    """A direct LU on ``ksp`` (operators set) under ``prefix``, the user's
    ``petsc_options`` (keys without the prefix) read over the defaults, then
    factorised (:func:`factorise`); returns the LU package.  Raises InputError
    naming options PETSc refuses."""
    pushed = _push_options(prefix, petsc_options)
    try:
        _lu(ksp, comm)
        ksp.setOptionsPrefix(prefix)
        _set_from_options(ksp, pushed)
        return factorise(ksp, comm, configured=True)
    finally:
        _pop_options(pushed)


def _push_options(prefix: str, options: Dict[str, Any] | None) -> list:
    """Put ``options`` (keys without the leading dash and prefix) into the
    PETSc options database under ``prefix``; returns the keys to pop."""
    from petsc4py import PETSc

    db = PETSc.Options()
    keys = []
    for key, value in (options or {}).items():
        full = prefix + str(key).lstrip("-")
        db[full] = "" if value is None else str(value)
        keys.append(full)
    return keys


def _set_from_options(obj: Any, pushed: list) -> None:
    """``obj.setFromOptions()``; where the user pushed options (``pushed``,
    from :func:`_push_options`), PETSc's refusal of one (an unknown type, a
    value that is no number) is a ModelError naming them and PETSc's reason."""
    from petsc4py import PETSc

    try:
        obj.setFromOptions()
    except PETSc.Error as exc:
        if not pushed:
            raise
        raise refused(exc, pushed) from None


def _given(pushed: list) -> str:
    """The user's options as ``-key value, ...`` (keys with the prefix)."""
    from petsc4py import PETSc

    db = PETSc.Options()
    return ", ".join(f"-{k} {db.getString(k, '')}".rstrip() for k in pushed)


def refused(exc: Exception, pushed: list, what: str = "refused") -> ModelError:
    """The one-line ModelError for a PETSc error under the user's options
    ``pushed``: the options and PETSc's last line (its reason)."""
    lines = [line.split("] ", 1)[-1].strip() for line in str(exc).splitlines() if line.strip()]
    return ModelError(f"PETSc/SLEPc {what} with the options {_given(pushed)}: {lines[-1] if lines else exc}")


def unused_options(pushed: list) -> List[str]:
    """The keys of ``pushed`` PETSc/SLEPc never read (a misspelt or
    unknown option: PETSc ignores it silently; ``-options_left``'s check,
    :func:`fpsolve._compat.petsc_option_used`), as ``-key value``."""
    from petsc4py import PETSc

    db = PETSc.Options()
    return [f"-{k} {db.getString(k, '')}".rstrip() for k in pushed if _compat.petsc_option_used(k) is False]


def check_petsc_options(options: Dict[str, Any] | None, prefix: str = OPTIONS_PREFIX) -> None:
    """Refuse (ModelError naming them) options the eigen-solves would refuse
    (an unknown ``eps_type``, ``eps_nev=abc``): a throw-away SLEPc EPS and a
    PETSc KSP on one process read them, before any mesh is made."""
    if not options:
        return
    from petsc4py import PETSc
    from slepc4py import SLEPc

    pushed = _push_options(prefix, options)
    try:
        for obj in (SLEPc.EPS().create(PETSc.COMM_SELF), PETSc.KSP().create(PETSc.COMM_SELF)):
            obj.setOptionsPrefix(prefix)
            try:
                _set_from_options(obj, pushed)
            finally:
                obj.destroy()
    finally:
        _pop_options(pushed)


def _pop_options(keys: list) -> None:
    from petsc4py import PETSc

    db = PETSc.Options()
    for key in keys:
        db.delValue(key)


def eigen_residual(K: Any, M: Any, lam: complex, vec: Any) -> Tuple[float, float]:
    """(backward error, relative residual) of the eigenpair (real part of λ):
    ``‖Kφ − λMφ‖ / ((‖K‖∞ + |λ| ‖M‖∞) ‖φ‖)`` and ``‖Kφ − λMφ‖ / ‖Kφ‖``.
    The second is what issue 11 asked for; where λ0 is at round-off, Kφ is
    itself round-off and the ratio is of order one whatever the accuracy,
    so the warnings read the first (SLEPc's backward error)."""
    from petsc4py import PETSc

    Kx, Mx = K.createVecLeft(), M.createVecLeft()
    K.mult(vec, Kx)
    M.mult(vec, Mx)
    norm_k = Kx.norm()
    Kx.axpy(-lam.real, Mx)
    r = Kx.norm()
    scale = (K.norm(PETSc.NormType.INFINITY) + abs(lam) * M.norm(PETSc.NormType.INFINITY)) * vec.norm()
    return (float(r / scale) if scale > 0 else float("nan"),
            float(r / norm_k) if norm_k > 0 else float("nan"))


#: λ0 (or a difference of eigenvalues) is resolved when above this many
#: times its round-off size (:func:`eigenvalue_roundoff`): 1e3 separates
#: the OU exit rates (ratio 1e9) from the confined presets (ratio < 10).
ROUNDOFF_FACTOR = 1e3


def eigenvalue_roundoff(K: Any, M: Any, vec: Any) -> float:
    """The size of λ0 that round-off alone produces, ``u ‖K‖∞ ‖φ‖₁ / |Σ (Mφ)|``
    (u = 2.2e-16; the left eigenvector of the principal eigenvalue of a
    Fokker-Planck operator is about constant, hence the sums).  A ``|λ0|`` below
    a few hundred times this is not an escape rate but noise (docs/numerics.md:
    λ0 ~ 1e-13 ... 1e-8 on confined cases, changing with the mesh)."""
    from petsc4py import PETSc

    Mx = M.createVecLeft()
    M.mult(vec, Mx)
    mass = abs(Mx.sum())
    return float(2.2e-16 * K.norm(PETSc.NormType.INFINITY) * vec.norm(PETSc.NormType.NORM_1) / mass) \
        if mass > 0 else float("inf")


def principal_eigenpair(K: Any, M: Any, comm: Any, *, target: float = 0.0, method: str = "slepc",
                        nev: int | None = None, polish: int = 2, options_prefix: str = OPTIONS_PREFIX,
                        petsc_options: Dict[str, Any] | None = None,
                        mirror: Any = None, adjoint: bool = False) -> Tuple[complex, Any, dict]:
    """(λ0, vector, info) of ``K φ = λ M φ`` with the least real part near
    ``target``: among converged pairs, those whose vector is of one sign
    (``|∫φ| / ∫|φ| > 0.9``) are kept and the least real part wins.

    K, M: assembled PETSc matrices (n × n).  ``nev``: pairs asked of SLEPc
    (default :data:`EIGEN_DEFAULTS`: λ0 and λ1, whose gap :func:`spectral_gap` reports).  ``petsc_options`` (keys without
    dash, e.g. ``{"eps_nev": 6, "st_pc_factor_mat_solver_type": "mumps"}``)
    are read under ``options_prefix`` after the defaults are set, so they
    override them.  ``mirror`` (:class:`fpsolve.fem.symmetry.Mirror` or
    :class:`~fpsolve.fem.symmetry.Group`, or None): the chosen vector is
    replaced by its symmetric part (exact split of mass between wells that
    are images of each other); ``info["symmetrised"]`` names the maps.
    ``info["_second"]``: (λ1, its vector), the pair of least real part
    above λ0's, when one was found.  ``adjoint``: ``info["_adjoint"]``
    is the vector τ of :func:`_adjoint_solve`.  ``info`` records the eigenvalues
    found, the positivity ratio and ``residual`` = ‖Kφ − λMφ‖/‖Kφ‖.
    Raises ModelError for an unknown method, RuntimeError when nothing converges.
    """
    lumped = M.createVecLeft()
    ones = M.createVecRight()
    ones.set(1.0)
    M.mult(ones, lumped)
    info: dict = {"eigensolver": method, "target": target, "options_prefix": options_prefix,
                  "petsc_options": {str(k): str(v) for k, v in (petsc_options or {}).items()}}
    candidates = []
    from petsc4py import PETSc

    pushed = _push_options(options_prefix, petsc_options)
    try:
        if method == "slepc":
            from slepc4py import SLEPc

            evp = shift_invert_eps(K, M, comm, target=target,
                                   nev=nev if nev is not None else EIGEN_DEFAULTS["eps_nev"],
                                   which=SLEPc.EPS.Which.TARGET_MAGNITUDE, options_prefix=options_prefix,
                                   pushed=pushed, info=info)
            st = evp.getST()
            counts = count_linear_iterations(st.getKSP())
            evp.solve()
            info["converged"] = evp.getConverged()
            info["st_ksp"] = counts
            for i in range(evp.getConverged()):
                vr, vi = K.createVecRight(), K.createVecRight()
                lam = evp.getEigenpair(i, vr, vi)
                s, t = _positivity(vr, lumped)
                candidates.append((complex(lam), vr, abs(s) / t if t > 0 else 0.0))
            if polish and candidates:
                # a few inverse-iteration steps with the factorised K − σM sharpen
                # the chosen vector (parallel and serial runs then agree to 1e-8)
                best = _choose(candidates)
                x = best[1]
                y, Mx = x.duplicate(), x.duplicate()
                for _ in range(polish):
                    M.mult(x, Mx)
                    st.getKSP().solve(Mx, y)
                    y.scale(1.0 / y.norm())
                    y.copy(x)
                info["polish_steps"] = polish
            if adjoint:
                info["_adjoint"] = _adjoint_solve(st.getKSP(), lumped)
            evp.destroy()
        elif method == "inverse":
            candidates.append(_inverse_iteration(K, M, comm, target, lumped, info, options_prefix, adjoint,
                                                 pushed=pushed))
        else:
            raise ModelError(f"eigensolver must be one of {', '.join(EIGENSOLVERS)} (got {method!r})")
        unused = unused_options(pushed)
        if unused:  # PETSc ignores an unknown option silently: refuse it before anything is written
            raise ModelError(f"PETSc/SLEPc never read the option(s) {', '.join(unused)} (unknown or misspelt for "
                             f"this solve, prefix {options_prefix}); nothing was written")
    except PETSc.Error as exc:  # st_type=shift: MUMPS fails on the singular K
        if not pushed:
            raise
        raise refused(exc, pushed, "failed") from None
    finally:
        _pop_options(pushed)
    if not candidates:
        raise RuntimeError("the eigen-solve converged to no eigenpair")
    lam, vec, ratio = _choose(candidates)
    others = [c for c in candidates if c[1] is not vec and c[0].real >= lam.real]
    if others:
        second = min(others, key=lambda c: c[0].real)
        info["_second"] = (second[0], second[1])
    if mirror is not None:
        vec = mirror.symmetric_part(vec)
        s, t = _positivity(vec, lumped)
        ratio = abs(s) / t if t > 0 else 0.0
    info["mirror_symmetrised"] = mirror is not None
    info["symmetrised"] = list(getattr(mirror, "names", ["mirror-theta1"])) if mirror is not None else []
    info["eigenvalues"] = [[c[0].real, c[0].imag] for c in sorted(candidates, key=lambda c: c[0].real)]
    info["positivity_ratio"] = ratio
    info["residual"], info["residual_relative_to_Kphi"] = eigen_residual(K, M, lam, vec)
    info["eigenvalue_roundoff"] = eigenvalue_roundoff(K, M, vec)
    return lam, vec, info


def count_linear_iterations(ksp: Any) -> Dict[str, Any]:
    """A record of the linear solves ``ksp`` makes from now on, kept up to
    date by a KSP monitor: ``solves``, ``iterations`` (Krylov iterations, all
    solves), ``max_iterations`` (of one solve), ``ksp_type``, ``pc_type``;
    a direct solve (preonly) counts no iterations.  For the shift-and-invert's
    KSP (summary.json ``eigen.st_ksp``, the scaling benchmark)."""
    record: Dict[str, Any] = {"ksp_type": ksp.getType(), "pc_type": ksp.getPC().getType(),
                              "solves": 0, "iterations": 0, "max_iterations": 0}

    def monitor(_ksp: Any, its: int, _rnorm: float) -> None:
        if its == 0:
            record["solves"] += 1
        else:
            record["iterations"] += 1
            record["max_iterations"] = max(record["max_iterations"], its)

    ksp.setMonitor(monitor)
    return record


def shift_invert_eps(K: Any, M: Any, comm: Any, *, target: float, nev: int, which: Any,
                     options_prefix: str, pushed: Sequence[str], info: dict) -> Any:
    """A set-up SLEPc EPS for ``K φ = λ M φ`` (non-Hermitian, GNHEP):
    shift-and-invert about the real ``target`` with the direct LU of
    :func:`_lu` (PETSc's own LU first, MUMPS on a zero pivot), ``nev`` pairs,
    ``which`` (a ``SLEPc.EPS.Which``), the tolerances of
    :data:`EIGEN_DEFAULTS`, then the options database under
    ``options_prefix`` (``pushed``: the user's keys, :func:`_push_options`),
    which may override any of these.  K − σM is factorised here.  ``info``
    receives ``lu`` and ``options_in_effect``.  Raises petsc4py's Error when
    every LU package fails, ModelError for options PETSc refuses."""
    from slepc4py import SLEPc

    # the SLEPc object is the eigenvalue problem; "eps" is ε elsewhere
    packages = lu_packages(comm)
    for i, package in enumerate(packages):
        evp = SLEPc.EPS().create(comm)
        evp.setOperators(K, M)
        evp.setProblemType(SLEPc.EPS.ProblemType.GNHEP)
        evp.setDimensions(nev)
        evp.setTarget(target)
        evp.setWhichEigenpairs(which)
        st = evp.getST()
        st.setType(EIGEN_DEFAULTS["st_type"])
        st.setShift(target)
        info["lu"] = _lu(st.getKSP(), comm, package)
        evp.setTolerances(EIGEN_DEFAULTS["eps_tol"], EIGEN_DEFAULTS["eps_max_it"])
        evp.setOptionsPrefix(options_prefix)
        _set_from_options(evp, pushed)
        # factorises K − σM: PETSc's LU fails on a zero pivot, MUMPS pivots
        error = _set_up(evp.setUp)
        if error is None:
            info["lu"] = st.getKSP().getPC().getFactorSolverType()  # as options left it
            info["options_in_effect"] = options_in_effect(evp)
            return evp
        evp.destroy()
        if i + 1 == len(packages):
            raise error
    raise AssertionError("unreachable")


def spectral_gap(lam: complex, eigenvalues: Sequence[Sequence[float]]) -> float | None:
    """``(λ1 − λ0) / |λ1|`` with λ1 the eigenvalue of least real part above
    λ0's among those found; None when no other eigenvalue was found.  Near 0
    the principal eigenvector is not determined by the discrete problem
    (mirror-image wells with a high barrier)."""
    others = [complex(re, im) for re, im in eigenvalues]
    others = [mu for mu in others if abs(mu - lam) > 0 and mu.real >= lam.real]
    if not others:
        return None
    lam1 = min(others, key=lambda mu: mu.real)
    return float((lam1.real - lam.real) / abs(lam1)) if abs(lam1) > 0 else None


def _choose(candidates: list) -> tuple:
    """The one-signed pair (``|∫φ| / ∫|φ| > 0.9``) of least real part, else the
    most one-signed pair."""
    one_signed = [c for c in candidates if c[2] > 0.9]
    return min(one_signed, key=lambda c: c[0].real) if one_signed else max(candidates, key=lambda c: c[2])


def _adjoint_solve(ksp: Any, lumped: Any) -> Any:
    """τ with ``(K − σM)ᵀ τ = M 1`` by the factorised ``ksp``: the weak
    backward equation ``a(v, τ) = ∫ v`` (τ = mean first-passage time at
    σ = 0, docs/model.md §8), the dual weight of the escape rate
    (:func:`fpsolve.fem.adapt.residual_indicator`)."""
    tau = lumped.duplicate()
    ksp.solveTranspose(lumped, tau)
    return tau


def _inverse_iteration(K: Any, M: Any, comm: Any, target: float, lumped: Any, info: dict,
                       options_prefix: str = OPTIONS_PREFIX, adjoint: bool = False, tol: float = 1e-12,
                       maxit: int = 100, pushed: Sequence[str] = ()) -> Tuple[complex, Any, float]:
    """Inverse iteration ``(K − σM) x_{k+1} = M x_k`` with one LU factorisation;
    ``pushed``: the user's option keys (:func:`_push_options`), for errors."""
    from petsc4py import PETSc

    A = K.copy()
    if target != 0.0:
        A.axpy(-target, M)
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    _lu(ksp, comm)
    ksp.setOptionsPrefix(options_prefix)
    _set_from_options(ksp, pushed)
    info["lu"] = factorise(ksp, comm, configured=True)
    info["options_in_effect"] = options_in_effect(ksp)
    x = K.createVecRight()
    x.set(1.0)
    y, Mx = x.duplicate(), x.duplicate()
    lam = 0.0
    for it in range(1, maxit + 1):
        M.mult(x, Mx)
        ksp.solve(Mx, y)
        y.scale(1.0 / y.norm())
        # Rayleigh quotient in the M-weighted sense: λ = (y·K y)/(y·M y)
        Ky, My = y.duplicate(), y.duplicate()
        K.mult(y, Ky)
        M.mult(y, My)
        new = Ky.dot(My) / My.dot(My)
        change = abs(new - lam)
        y.copy(x)
        lam = new
        if it > 3 and change <= tol * max(1.0, abs(lam)):
            break
    info["iterations"] = it
    if adjoint:
        info["_adjoint"] = _adjoint_solve(ksp, lumped)
    s, t = _positivity(x, lumped)
    return complex(lam), x, abs(s) / t if t > 0 else 0.0
