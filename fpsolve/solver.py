"""Finite-element solve of the stationary Fokker-Planck equation (MODEL.md §4).

Weak form, for a drift ``F`` (``dθ = F dt + ...``; the model has ``F = −∇L``)
and diffusion matrix ``D``::

    a(P, v) = ∫_Ω (D ∇P + P (∇·D − F)) · ∇v dθ,      J = F P − ∇·(D P)

The solve returns the principal eigenpair ``a(φ0, v) = λ0 ∫ φ0 v`` with the
least real part: ``λ0`` is the escape rate per unit time (time unit = alpha
SGD steps, t = alpha k) and ``φ0 ≥ 0``, ``∫ φ0 = 1`` the quasi-stationary
density.  Dirichlet ``P = 0`` on ∂Ω (absorbing) is the default; a reflecting
(zero-flux) boundary is the natural condition of the same form, whose null
vector is the stationary density.

Discretisation: P2 (or P1) Lagrange, plain Galerkin on a mesh graded from
the model's widths (``fpsolve.mesh``).  NUMERICS.md found SUPG no help; P1
fails at T = 0.01 (a negative lobe next to the peak), so P2 is the default.
Eigen-solve: SLEPc shift-and-invert at target 0 with a direct LU (MUMPS), or
inverse iteration with the same LU.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable, Dict, Sequence, Tuple

import numpy as np

from . import _compat
from . import mesh as fmesh
from . import parallel
from . import model
from .model import Landscape, ModelError, Noise

BOUNDARIES = ("dirichlet", "reflecting")
#: Trapezoid points across the support for a marginal: the conditional
#: density across it is a smooth bump (Gaussian in θ2, MODEL.md §5), on which
#: the trapezoid rule converges fast: with 151 points the θ1-marginal's mass
#: and |θ1| moment are within 4e-6 of the quadrature's at T = 0.05 (301:
#: 2e-7), at half the point evaluations, which dominate post-processing.
MARGINAL_LINE_POINTS = 151
#: ... and for the mode's marginal, whose argmax alone counts: 61 points move
#: the mode by 1.4e-5 relative (T = 0.022-0.05), below the 401-point grid's
#: own resolution, at 0.4 × the evaluations.
MODE_LINE_POINTS = 61
EIGENSOLVERS = ("slepc", "inverse")


# --------------------------------------------------------------------------
# Weak form
# --------------------------------------------------------------------------

def check_degree(degree: Any) -> None:
    """The Lagrange degrees fpsolve offers (1, 2); raises ModelError naming the value."""
    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")


def weak_form(u: Any, v: Any, drift: Any, D: Any, divD: Any | None = None, quadrature_degree: int | None = None) -> Any:
    """Bilinear form ``a(u, v) = ∫ (D ∇u + u (∇·D − F)) · ∇v`` (MODEL.md §4).

    ``drift`` (F) is a UFL 2-vector, ``D`` a UFL 2×2 tensor, ``divD`` its row
    divergence ``(∇·D)_i = Σ_j ∂_j D_ij`` (UFL's ``div`` of D when None).
    """
    import ufl

    if divD is None:
        divD = ufl.div(D)
    md = {} if quadrature_degree is None else {"quadrature_degree": quadrature_degree}
    return ufl.inner(ufl.dot(D, ufl.grad(u)) + u * (divD - drift), ufl.grad(v)) * ufl.dx(metadata=md)


def probability_flux(p: Any, drift: Any, D: Any, divD: Any | None = None) -> Any:
    """UFL flux ``J = F p − p ∇·D − D ∇p`` (MODEL.md §4)."""
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
    """Drift ``−∇L``, ``D = (T/2) H²`` and ``∇·D`` of MODEL.md §1-3 in UFL,
    built from the formula functions of :mod:`fpsolve.model`."""
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
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
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
    from petsc4py import PETSc

    packages = lu_packages(comm)
    for i, package in enumerate(packages):
        if not (configured and i == 0):
            _lu(ksp, comm, package)
        ksp.setErrorIfNotConverged(True)  # a failed factorisation raises here, not at the first solve
        try:
            ksp.setUp()
            return ksp.getPC().getFactorSolverType()
        except PETSc.Error:
            if i + 1 == len(packages):
                raise
            A = ksp.getOperators()[0]
            ksp.reset()
            ksp.setOperators(A)
    raise AssertionError("unreachable")


def _solver_packages() -> set:
    from petsc4py import PETSc

    try:
        return {"mumps"} if PETSc.Sys.hasExternalPackage("mumps") else set()
    except AttributeError:  # older petsc4py: assume Debian's build (has MUMPS)
        return {"mumps"}


def _positivity(vec: Any, lumped: Any) -> Tuple[float, float]:
    """(∫φ, ∫|φ|) with a lumped mass vector, global."""
    a = vec.getArray(readonly=True)
    m = lumped.getArray(readonly=True)
    comm = vec.getComm().tompi4py()
    s = comm.allreduce(float(np.dot(a, m)))
    t = comm.allreduce(float(np.dot(np.abs(a), m)))
    return s, t


#: Prefix of the PETSc/SLEPc options database entries the eigen-solve reads
#: (``-fpsolve_eps_nev 6``, ``-fpsolve_st_ksp_type ...``; scripts pass them
#: with ``--petsc-option KEY=VALUE``).
OPTIONS_PREFIX = "fpsolve_"


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
        db = PETSc.Options()
        given = ", ".join(f"-{k} {db.getString(k, '')}".rstrip() for k in pushed)
        lines = [line.split("] ", 1)[-1].strip() for line in str(exc).splitlines() if line.strip()]
        raise ModelError(f"PETSc/SLEPc refused the options {given}: {lines[-1] if lines else exc}") from None


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


def eigenvalue_roundoff(K: Any, M: Any, vec: Any) -> float:
    """The size of λ0 that round-off alone produces, ``u ‖K‖∞ ‖φ‖₁ / |Σ (Mφ)|``
    (u = 2.2e-16; the left eigenvector of the principal eigenvalue of a
    Fokker-Planck operator is about constant, hence the sums).  A |λ0| below
    a few hundred times this is not an escape rate but noise (NUMERICS.md:
    λ0 ~ 1e-13 ... 1e-8 on confined cases, changing with the mesh)."""
    from petsc4py import PETSc

    Mx = M.createVecLeft()
    M.mult(vec, Mx)
    mass = abs(Mx.sum())
    return float(2.2e-16 * K.norm(PETSc.NormType.INFINITY) * vec.norm(PETSc.NormType.NORM_1) / mass) \
        if mass > 0 else float("inf")


def principal_eigenpair(K: Any, M: Any, comm: Any, *, target: float = 0.0, method: str = "slepc",
                        nev: int = 2, polish: int = 2, options_prefix: str = OPTIONS_PREFIX,
                        petsc_options: Dict[str, Any] | None = None,
                        mirror: Any = None, adjoint: bool = False) -> Tuple[complex, Any, dict]:
    """(λ0, vector, info) of ``K φ = λ M φ`` with the least real part near
    ``target``: among converged pairs, those whose vector is of one sign
    (``|∫φ| / ∫|φ| > 0.9``) are kept and the least real part wins.

    K, M: assembled PETSc matrices (n × n).  ``nev``: pairs asked of SLEPc
    (2: λ0 and λ1, whose gap :func:`spectral_gap` reports).  ``petsc_options`` (keys without
    dash, e.g. ``{"eps_nev": 6, "st_pc_factor_mat_solver_type": "mumps"}``)
    are read under ``options_prefix`` after the defaults are set, so they
    override them.  ``mirror`` (:class:`fpsolve.symmetry.Mirror`, or None):
    the chosen vector is replaced by its mirror-symmetric part (exact split
    of mass between mirror-image wells).  ``adjoint``: ``info["_adjoint"]``
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
    pushed = _push_options(options_prefix, petsc_options)
    try:
        if method == "slepc":
            from petsc4py import PETSc
            from slepc4py import SLEPc

            # the SLEPc object is the eigenvalue problem; "eps" is ε elsewhere
            packages = lu_packages(comm)
            for i, package in enumerate(packages):
                evp = SLEPc.EPS().create(comm)
                evp.setOperators(K, M)
                evp.setProblemType(SLEPc.EPS.ProblemType.GNHEP)
                evp.setDimensions(nev)
                evp.setTarget(target)
                evp.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
                st = evp.getST()
                st.setType(SLEPc.ST.Type.SINVERT)
                st.setShift(target)
                info["lu"] = _lu(st.getKSP(), comm, package)
                evp.setTolerances(1e-12, 200)
                evp.setOptionsPrefix(options_prefix)
                _set_from_options(evp, pushed)
                try:
                    evp.setUp()  # factorises K − σM: PETSc's LU fails on a zero pivot, MUMPS pivots
                    info["lu"] = st.getKSP().getPC().getFactorSolverType()  # as options left it
                    break
                except PETSc.Error:
                    evp.destroy()
                    if i + 1 == len(packages):
                        raise
            evp.solve()
            info["converged"] = evp.getConverged()
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
    finally:
        _pop_options(pushed)
    if not candidates:
        raise RuntimeError("the eigen-solve converged to no eigenpair")
    lam, vec, ratio = _choose(candidates)
    if mirror is not None:
        vec = mirror.symmetric_part(vec)
        s, t = _positivity(vec, lumped)
        ratio = abs(s) / t if t > 0 else 0.0
    info["mirror_symmetrised"] = mirror is not None
    info["eigenvalues"] = [[c[0].real, c[0].imag] for c in sorted(candidates, key=lambda c: c[0].real)]
    info["positivity_ratio"] = ratio
    info["residual"], info["residual_relative_to_Kphi"] = eigen_residual(K, M, lam, vec)
    info["eigenvalue_roundoff"] = eigenvalue_roundoff(K, M, vec)
    return lam, vec, info


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
    """The one-signed pair (|∫φ|/∫|φ| > 0.9) of least real part, else the
    most one-signed pair."""
    one_signed = [c for c in candidates if c[2] > 0.9]
    return min(one_signed, key=lambda c: c[0].real) if one_signed else max(candidates, key=lambda c: c[2])


def _adjoint_solve(ksp: Any, lumped: Any) -> Any:
    """τ with ``(K − σM)ᵀ τ = M 1`` by the factorised ``ksp``: the weak
    backward equation ``a(v, τ) = ∫ v`` (τ = mean first-passage time at
    σ = 0, MODEL.md §8), the dual weight of the escape rate
    (:func:`fpsolve.adapt.residual_indicator`)."""
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


# --------------------------------------------------------------------------
# The solution and what is measured on it
# --------------------------------------------------------------------------

class Solution:
    """Normalised principal eigenfunction ``density`` (∫ = 1) and its escape
    rate; the measuring methods are collective (call them on every rank)."""

    def __init__(self, density: Any, eigenvalue: complex, flux: Any, quadrature_degree: int,
                 info: dict) -> None:
        self.density = density
        self.mesh = density.function_space.mesh
        self.comm = self.mesh.comm
        self.eigenvalue = eigenvalue
        self.info = info
        self.summary: dict = {}
        self._flux = flux
        self._qdeg = quadrature_degree
        self._samples: dict = {}
        self.adjoint: Any = None  # τ of the backward equation, when asked for

    def write(self, model: Any, out: Any, **options: Any) -> Any:
        """Write this solution's result folder (summary.json, density.xdmf,
        figures, marginals.csv) at ``out``, atomically; collective.  ``model``
        is the :class:`fpsolve.Model` solved; options and exceptions: see
        :func:`fpsolve.fem_results.write`.  Returns the folder's path."""
        from . import fem_results

        return fem_results.write(self, model, out, **options)

    # ---- quadrature on the mesh -------------------------------------------
    def quadrature_samples(self, degree: int | None = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(θ1, θ2, weight, φ) at the quadrature points (rule exact to
        ``degree``) of this rank's owned cells: ``Σ w f(θ) φ`` is ``∫ f φ`` on
        this rank."""
        degree = self._qdeg if degree is None else degree
        if degree not in self._samples:
            import ufl

            msh = self.mesh
            pts, wts = _compat.quadrature_triangle(degree)
            cells = np.arange(msh.topology.index_map(2).size_local, dtype=np.int32)
            x = ufl.SpatialCoordinate(msh)
            ex = _compat.expression_at(ufl.as_vector((x[0], x[1], abs(ufl.JacobianDeterminant(msh)), self.density)), pts)
            vals = _compat.eval_expression(ex, msh, cells).reshape(len(cells), len(wts), 4)
            w = vals[:, :, 2] * wts[None, :]
            self._samples[degree] = (vals[:, :, 0].ravel(), vals[:, :, 1].ravel(), w.ravel(), vals[:, :, 3].ravel())
        return self._samples[degree]

    def _integral(self, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
        x, y, w, p = self.quadrature_samples()
        return self.comm.allreduce(float(np.sum(f(x, y) * p * w)))

    def moments(self) -> dict:
        """Mass and moments of the density by quadrature (``∫ φ`` = mass;
        the others divide by it): mean |θ1|, std |θ1|, mean θ1, θ2, Var θ2."""
        mass = self._integral(lambda x, y: np.ones_like(x))
        m_abs = self._integral(lambda x, y: np.abs(x)) / mass
        m_x = self._integral(lambda x, y: x) / mass
        m_x2 = self._integral(lambda x, y: x * x) / mass
        m_y = self._integral(lambda x, y: y) / mass
        m_y2 = self._integral(lambda x, y: y * y) / mass
        return {
            "mass": mass,
            "mean_abs_theta1": m_abs,
            # a negative raw variance flags negative mass (P1 at T = 0.01)
            "var_abs_theta1": m_x2 - m_abs * m_abs,
            "std_abs_theta1": math.sqrt(max(m_x2 - m_abs * m_abs, 0.0)),
            "mean_theta1": m_x,
            "var_theta1": m_x2 - m_x * m_x,
            "mean_theta2": m_y,
            "var_theta2": m_y2 - m_y * m_y,
        }

    def negativity(self) -> dict:
        """Most negative density (over dofs and quadrature points), relative
        to the maximum, and the negative mass ``∫ max(−φ, 0)``."""
        from mpi4py import MPI

        _, _, w, p = self.quadrature_samples()
        n_owned = self.density.function_space.dofmap.index_map.size_local
        dofs = self.density.x.array[:n_owned]
        lo = min(float(dofs.min()) if dofs.size else np.inf, float(p.min()) if p.size else np.inf)
        hi = max(float(dofs.max()) if dofs.size else -np.inf, float(p.max()) if p.size else -np.inf)
        lo = self.comm.allreduce(lo, op=MPI.MIN)
        hi = self.comm.allreduce(hi, op=MPI.MAX)
        neg = self.comm.allreduce(float(np.sum(np.maximum(-p, 0.0) * w)))
        return {"min_density": lo, "max_density": hi, "min_density_relative": lo / hi, "negative_mass": neg}

    def bin_integrals(self, xedges: Sequence[float], yedges: Sequence[float], degree: int = 16) -> np.ndarray:
        """``∫ φ`` over each rectangle of a histogram grid (shape
        ``(len(xedges)-1, len(yedges)-1)``), by the mesh's quadrature points
        (a rule exact to ``degree``, each point's weight going to the bin it
        lies in; the error comes from cells cut by bin edges and falls with
        the point spacing); collective, the same array on every rank."""
        x, y, w, p = self.quadrature_samples(degree)
        h, _, _ = np.histogram2d(x, y, bins=[np.asarray(xedges, float), np.asarray(yedges, float)], weights=p * w)
        out = np.zeros_like(h)
        self.comm.Allreduce(np.ascontiguousarray(h), out)
        return out

    # ---- point values ------------------------------------------------------
    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """φ at points of shape (n, 2); 0 outside the mesh.  Collective: every
        rank passes the same points and gets the same values."""
        return evaluate_function(self.density, points)

    def bounding_box(self) -> Tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the mesh, global."""
        from mpi4py import MPI

        g = self.mesh.geometry.x[:, :2]
        lo = np.full(2, np.inf) if g.size == 0 else g.min(axis=0)
        hi = np.full(2, -np.inf) if g.size == 0 else g.max(axis=0)
        glo, ghi = np.empty(2), np.empty(2)
        self.comm.Allreduce(np.ascontiguousarray(lo), glo, op=MPI.MIN)
        self.comm.Allreduce(np.ascontiguousarray(hi), ghi, op=MPI.MAX)
        return float(glo[0]), float(ghi[0]), float(glo[1]), float(ghi[1])

    def _marginal(self, grid: np.ndarray, axis: int, n_line: int) -> np.ndarray:
        # integrate across where φ > 1e-12 max (plus a margin): elsewhere it
        # is below round-off, and the short line keeps the spacing fine
        lo, hi = self.support(1 - axis, level=1e-12)
        xmin, xmax, ymin, ymax = self.bounding_box()
        pad = 0.05 * (hi - lo)
        lo, hi = (max(lo - pad, ymin), min(hi + pad, ymax)) if axis == 0 else (max(lo - pad, xmin), min(hi + pad, xmax))
        line = np.linspace(lo, hi, n_line)
        grid = np.asarray(grid, dtype=np.float64)
        a, b = np.meshgrid(grid, line, indexing="ij")
        pts = np.column_stack([a.ravel(), b.ravel()]) if axis == 0 else np.column_stack([b.ravel(), a.ravel()])
        vals = self.evaluate(pts).reshape(len(grid), n_line)
        step = (hi - lo) / (n_line - 1)
        return step * (vals.sum(axis=1) - 0.5 * (vals[:, 0] + vals[:, -1]))  # trapezoid rule

    def marginal_theta1(self, grid: Sequence[float], n_line: int = MARGINAL_LINE_POINTS) -> np.ndarray:
        """``∫ φ dθ2`` at each θ1 of ``grid`` (trapezoid rule on ``n_line``
        points across the θ2-range where φ > 1e-12 max φ); collective, the
        same on every rank."""
        return self._marginal(np.asarray(grid), 0, n_line)

    def marginal_theta2(self, grid: Sequence[float], n_line: int = MARGINAL_LINE_POINTS) -> np.ndarray:
        """``∫ φ dθ1`` at each θ2 of ``grid``; collective."""
        return self._marginal(np.asarray(grid), 1, n_line)

    def support(self, axis: int, level: float = 1e-6) -> Tuple[float, float]:
        """Range of θ1 (axis 0) or θ2 (axis 1) over the quadrature points where
        φ exceeds ``level`` times its maximum; global."""
        from mpi4py import MPI

        x, y, _, p = self.quadrature_samples()
        c = x if axis == 0 else y
        peak = self.comm.allreduce(float(p.max()) if p.size else -np.inf, op=MPI.MAX)
        sel = c[p > level * peak]
        lo = self.comm.allreduce(float(sel.min()) if sel.size else np.inf, op=MPI.MIN)
        hi = self.comm.allreduce(float(sel.max()) if sel.size else -np.inf, op=MPI.MAX)
        return lo, hi

    def mode_theta1(self, n: int = 401) -> float:
        """|θ1| of the maximum of the θ1-marginal (grid over the support, then
        a parabola through the best three points)."""
        lo, hi = self.support(0)
        grid = np.linspace(lo, hi, n)
        m = self.marginal_theta1(grid, n_line=MODE_LINE_POINTS)
        i = int(np.argmax(m))
        x = grid[i]
        if 0 < i < n - 1:
            denom = m[i - 1] - 2 * m[i] + m[i + 1]
            if denom < 0:
                x = grid[i] + 0.5 * (grid[1] - grid[0]) * (m[i - 1] - m[i + 1]) / denom
        return abs(float(x))

    def boundary_escape_rate(self) -> float:
        """``∮ J·n ds / ∫ φ``: the escape rate from the boundary flux."""
        return self._flux


def evaluate_function(function: Any, points: np.ndarray) -> np.ndarray:
    """Values of a scalar ``fem.Function`` at points of shape (n, 2); 0
    outside the mesh.  Collective: every rank passes the same points and gets
    the same values."""
    from mpi4py import MPI

    msh = function.function_space.mesh
    comm = msh.comm
    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    p3 = np.zeros((n, 3))
    p3[:, :2] = points
    found, cells = _compat.colliding_cells(msh, p3)
    vals = np.zeros(n)
    if found.size:
        vals[found] = function.eval(p3[found], cells).ravel()
    # a point on a shared edge is found on several ranks: the lowest one counts
    owner = np.full(n, comm.size, dtype=np.int32)
    owner[found] = comm.rank
    if comm.size > 1:
        low = np.empty_like(owner)
        comm.Allreduce(owner, low, op=MPI.MIN)
        vals[low != comm.rank] = 0.0
        total = np.empty_like(vals)
        comm.Allreduce(vals, total)
        return total
    return vals


def solve_operator(msh: Any, drift: Any, D: Any, divD: Any | None = None, *, degree: int = 2,
                   boundary: str = "dirichlet", eigensolver: str = "slepc",
                   progress: Callable[[str], None] | None = None, symmetrise: bool = True,
                   options_prefix: str = OPTIONS_PREFIX,
                   petsc_options: Dict[str, Any] | None = None, adjoint: bool = False) -> Tuple[Solution, dict]:
    """Principal eigenpair of the weak form on ``msh`` for any drift and D
    (UFL); returns the normalised :class:`Solution` and timings.

    ``symmetrise``: where the mesh is its own mirror image under θ1 → −θ1
    and the assembled operator commutes with the mirror (both checked
    numerically, :mod:`fpsolve.symmetry`), the density is the symmetric
    eigenvector, so the split of mass between mirror-image wells is exact.
    ``Solution.info`` records the eigenpair residual, the spectral gap
    (λ1 − λ0)/|λ1| (:func:`spectral_gap`), the density on the wall relative
    to its peak, and the escape rate from the boundary flux computed
    consistently with the weak form (:func:`wall_flux`).  ``adjoint``: also
    the solution τ of the backward equation ``a(v, τ) = ∫ v`` (mean
    first-passage time, ``Solution.adjoint``), the adaptive loop's dual
    weight for the escape rate.  Raises ModelError
    for a bad degree, boundary or eigensolver.
    """
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_matrix

    say = progress or (lambda message: None)
    check_degree(degree)
    if boundary not in BOUNDARIES:
        raise ModelError(f"boundary must be one of {', '.join(BOUNDARIES)} (got {boundary!r})")
    comm = msh.comm
    t0 = time.perf_counter()
    V = _compat.functionspace(msh, "Lagrange", degree)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    # quadrature: the coefficients are polynomials of high degree in θ; this
    # is exact for the mass term and ample for the stiffness on a fine mesh
    qdeg = 2 * degree + 2
    a = fem.form(weak_form(u, v, drift, D, divD, qdeg))
    m = fem.form(ufl.inner(u, v) * ufl.dx)
    wall_dofs = _compat.locate_boundary_dofs(V)
    bcs = []
    if boundary == "dirichlet":
        zero = fem.Function(V)
        bcs = [fem.dirichletbc(zero, wall_dofs)]
    K = assemble_matrix(a, bcs=bcs, diagonal=1.0)
    K.assemble()
    M = assemble_matrix(m, bcs=bcs, diagonal=0.0)
    M.assemble()
    t_assemble = time.perf_counter() - t0
    dofs = V.dofmap.index_map.size_global
    say(f"assembled K and M: {dofs} dofs (P{degree}, {boundary}) in {t_assemble:.2f}s")
    t1 = time.perf_counter()
    mirror = None
    if symmetrise:
        from . import symmetry

        mirror = symmetry.mirror_of(V)
        if mirror is not None and not mirror.commutes_with(K):
            mirror = None
    # reflecting: K is singular (its null vector is the answer), so the shift
    # sits just below 0 to keep the LU regular
    target = 0.0 if boundary == "dirichlet" else -1e-9
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
    flux = wall_flux(phi, lam, drift, D, divD, wall_dofs, qdeg)
    sol = Solution(phi, lam, flux, qdeg + 2, {**info, "dofs": dofs, "degree": degree, "boundary": boundary})
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

        ∮ J·n w ds = λ ∫ φ w − a(φ, w)          (MODEL.md §4, with ∇·J = λφ)

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
    """max |φ| over the wall dofs relative to max φ (global)."""
    from mpi4py import MPI

    comm = phi.function_space.mesh.comm
    n_owned = phi.function_space.dofmap.index_map.size_local
    values = phi.x.array[:n_owned]
    wall = np.abs(values[wall_dofs[wall_dofs < n_owned]])
    top = comm.allreduce(float(values.max()) if values.size else -np.inf, op=MPI.MAX)
    at_wall = comm.allreduce(float(wall.max()) if wall.size else 0.0, op=MPI.MAX)
    return at_wall / top if top > 0 else float("nan")


def closed_form_marginals_theta1(landscape: Landscape, noise: Noise, grid: np.ndarray) -> Dict[str, np.ndarray]:
    """Closed-form slow marginals P1(θ1) of MODEL.md §5 (``fpsolve.theory``),
    each normalised on ``grid``, keyed by their column name in marginals.csv:
    ``closed_form_landscape`` (S29-S31) and ``closed_form_constant_D``
    (S17-S24).  A form that does not exist for the case (the constant-D form
    needs ε > 0) is left out."""
    from . import theory

    out: Dict[str, np.ndarray] = {}
    for column, kind in (("closed_form_landscape", "landscape"), ("closed_form_constant_D", "constant")):
        try:
            with np.errstate(under="ignore"):
                out[column] = theory.marginal_theta1(landscape, noise, grid, kind=kind)
        except ModelError:
            continue
    return out


MESH_RULES = ("graded", "adaptive")


def model_mesh_sizes(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
                     h_min: float | None = None, h_max: float | None = None) -> fmesh.MeshSizes:
    """Mesh sizes of a :class:`~fpsolve.symbolic.Model`: the graded mesh of
    the valley when the model is one (MODEL.md §1), else a uniform disk of
    size ``h_min`` (default radius/40; ``h_max`` is then refused)."""
    if model.valley is not None:
        return fmesh.graded_sizes(model.valley, model.noise_level, radius, center, h_min, h_max)
    if h_max is not None:
        raise ModelError("--h-max applies to the graded mesh of the valley presets; a custom model's mesh is "
                         "uniform (set its size with --h-min)")
    model.noise_level.require_positive_T()
    return fmesh.uniform_sizes(radius, center, h_min)


def split_model(landscape: Any, noise: Noise | None = None, cross: bool = True) -> Tuple[Any, Any, Noise, bool]:
    """(custom Model or None, Landscape or None, Noise, cross) of a case given
    as ``(Landscape, Noise, cross)`` or as a :class:`~fpsolve.symbolic.Model`
    (``noise`` None).  A Model that is the valley of MODEL.md §1 with SGD
    noise (a preset, or its expression) comes back as its Landscape, so it
    takes the preset's path and numbers; any other Model (MODEL.md §7) comes
    back first.  Raises ModelError when a Model is given a noise too."""
    from .symbolic import Model

    if not isinstance(landscape, Model):
        return None, landscape, noise, cross
    if noise is not None:
        raise ModelError("a Model carries its noise (drop the noise argument)")
    if landscape.valley is not None and landscape.noise in ("sgd", "sgd-diagonal"):
        return None, landscape.valley, landscape.noise_level, landscape.cross
    return landscape, landscape.valley, landscape.noise_level, landscape.cross


def case_record(user_model: Any, landscape: Landscape | None, noise: Noise) -> dict:
    """The ``case`` entry of a summary.json: the valley's coefficients (when
    it is one), the noise level and, for a custom Model, its expression."""
    case = {"landscape": landscape.as_dict()} if landscape is not None else {}
    case["noise"] = noise.as_dict()
    if user_model is not None:
        case["model"] = user_model.as_dict()
    return case


def case_coefficients(msh: Any, user_model: Any, landscape: Landscape | None, noise: Noise,
                      cross: bool = True) -> Tuple[Any, Any, Any]:
    """(drift, D, ∇·D) in UFL on ``msh``: of ``user_model`` (MODEL.md §7)
    when it is not None, else of the valley (MODEL.md §1-3).  A Model that
    is the valley with SGD noise gets the valley's hand-written forms
    (equal to the derived ones to 1e-15, without importing sympy)."""
    from .symbolic import ufl_coefficients

    if user_model is not None and not user_model.is_valley():
        drift, D, divD, _ = ufl_coefficients(user_model, msh)
        return drift, D, divD
    c = model_coefficients(msh, landscape, noise, cross)
    return c.drift, c.D, c.divD


def model_mesh(model: Any, *, radius: float, center: Tuple[float, float], mesh: str | Path | None,
               h_min: float | None, h_max: float | None, comm: Any) -> Tuple[Any, dict, float]:
    """(mesh, description, seconds) for a custom Model: the disk of
    :func:`model_mesh_sizes` (one mesh, no adaptivity), or ``mesh`` read from
    a .msh file.  Collective; raises ModelError on bad sizes."""
    if mesh is not None:
        return fmesh.mesh_for(None, None, radius=radius, center=center, mesh=mesh, h_min=None, h_max=None,
                              comm=comm)
    t0 = time.perf_counter()
    sizes = model_mesh_sizes(model, radius, center, h_min, h_max)
    msh, _ = fmesh.create_disk(sizes, comm)
    info = {"source": "gmsh", **sizes.as_dict(),
            "cells": comm.allreduce(msh.topology.index_map(2).size_local, op=fmesh._sum())}
    return msh, info, time.perf_counter() - t0


def default_mesh_rule(model: Any, h_min: float | None = None) -> str:
    """``graded`` for the valley (its widths are known, and the graded mesh is
    faster there to the same accuracy: scripts/bench_solver.py --adaptive)
    and for a custom model given ``--h-min`` (its uniform disk); ``adaptive``
    for any other custom model (no closed-form widths)."""
    from .symbolic import Model

    return "adaptive" if isinstance(model, Model) and model.valley is None and h_min is None else "graded"


def check_budget(sizes: fmesh.MeshSizes, degree: int, max_dofs: int) -> int:
    """Predicted dofs of the mesh of ``sizes`` (:func:`fpsolve.mesh.predicted_cells`,
    before any meshing); raises ModelError, one line naming the numbers, when
    above ``max_dofs``."""
    dofs = fmesh.predicted_dofs(fmesh.predicted_cells(sizes), degree)
    if dofs > max_dofs:
        raise ModelError(f"the mesh would have about {dofs:.3g} dofs ({sizes.rule} rule, h-min {sizes.h_min:.3g}), "
                         f"above --max-dofs {max_dofs}: raise --max-dofs or use --mesh-rule adaptive")
    return dofs


def solve(landscape: Any, noise: Noise | None = None, *, radius: float | None = None,
          center: Tuple[float, float] | None = None,
          degree: int = 2, cross: bool = True, boundary: str = "dirichlet", mesh: Any = None,
          h_min: float | None = None, h_max: float | None = None, comm: Any = None,
          progress: Callable[[str], None] | None = None, refine: float = 1.0,
          eigensolver: str = "slepc", mesh_rule: str | None = None, tol: float | None = None,
          max_dofs: int | None = None, options_prefix: str = OPTIONS_PREFIX,
          petsc_options: Dict[str, Any] | None = None, symmetrise: bool = True) -> Solution:
    """Quasi-stationary density of the model (MODEL.md §4) on the disk.

    ``landscape`` is a :class:`~fpsolve.model.Landscape` (with ``noise`` and
    ``cross``: the valley of MODEL.md §1-3) or a
    :class:`~fpsolve.symbolic.Model` (MODEL.md §7; ``noise`` None, ``cross``
    ignored: the model's noise decides).

    ``mesh_rule`` (default :func:`default_mesh_rule`): ``"graded"`` (one
    mesh: graded from the valley's widths, :mod:`fpsolve.mesh`, or a custom
    model's uniform disk of size ``h_min``, default R/40; refused before
    meshing when its predicted size is above ``max_dofs``) or ``"adaptive"``
    (:mod:`fpsolve.adapt`: refine from a coarse disk until the error
    estimate is below ``tol``, relative, or the next mesh would pass
    ``max_dofs``).  ``mesh`` takes precedence over both: any 2-D triangle
    mesh file meshio reads, or a ``meshfile.MeshData`` (:mod:`fpsolve.meshfile`);
    its domain (``domain`` "disk" with the fitted ``radius``/``center``, or
    "mesh") comes from the file, so ``radius``/``center`` (θ units, default
    2 and (0, 0)) go with the generated disk only.  ``comm``: mpi4py
    communicator, default MPI.COMM_WORLD (:mod:`fpsolve.parallel`); the call
    is collective and every rank gets the same Solution.  Needs T = α Δ > 0
    (:meth:`~fpsolve.model.Noise.require_positive_T`).
    ``petsc_options`` / ``options_prefix`` reach the eigen-solve
    (:func:`principal_eigenpair`); ``symmetrise``: :func:`solve_operator`.

    ``Solution.summary`` holds what summary.json records: parameters, T,
    escape rates (eigenvalue and boundary flux, per unit time t = alpha k),
    mass, negativity, moments, mode, dofs, ranks, timings (seconds), the
    eigenpair residual and gap, ``warnings`` (:mod:`fpsolve.diagnostics`)
    and, when adaptive, ``error_estimate`` and ``adaptivity`` (cycles).
    Raises ModelError for bad values (one line naming them).
    """
    from . import adapt, diagnostics
    from .symbolic import Model

    if mesh is not None and (radius is not None or center is not None):
        raise ModelError("radius and center describe the generated disk; a mesh file brings its own domain")
    radius, center = fmesh.check_disk(fmesh.DEFAULT_RADIUS if radius is None else radius,
                                      (0.0, 0.0) if center is None else center)
    # a wrong type would end in an AttributeError deep inside (solve("double-well"), solve(landscape, 0.05))
    if not isinstance(landscape, (Landscape, Model)):
        raise ModelError(f"solve needs a Landscape with a Noise, or a Model (got {landscape!r}; e.g. "
                         "Landscape.from_preset(name) or Model.preset(name, T=...))")
    if not isinstance(landscape, Model) and not isinstance(noise, Noise):
        raise ModelError(f"solve(landscape, noise) needs noise as a Noise (got {noise!r}; e.g. "
                         "Noise(alpha, Delta) or Noise.from_temperature(T, alpha))")
    comm = parallel.world(comm)
    say = progress or (lambda message: None)
    check_degree(degree)
    if boundary not in BOUNDARIES:
        raise ModelError(f"boundary must be one of {', '.join(BOUNDARIES)} (got {boundary!r})")
    user_model = landscape if isinstance(landscape, Model) else None
    mesh_rule = default_mesh_rule(landscape, h_min) if mesh_rule is None else mesh_rule
    if mesh_rule not in MESH_RULES:
        raise ModelError(f"mesh rule must be one of {', '.join(MESH_RULES)} (got {mesh_rule!r})")
    tol = adapt.DEFAULT_TOL if tol is None else tol
    max_dofs = adapt.DEFAULT_MAX_DOFS if max_dofs is None else max_dofs
    if not (math.isfinite(tol) and tol > 0):
        raise ModelError(f"tol must be a finite number > 0 (got {tol!r})")
    if not max_dofs > 0:
        raise ModelError(f"max-dofs must be > 0 (got {max_dofs!r})")
    wall = time.perf_counter()
    if user_model is not None:
        if noise is not None:
            raise ModelError("solve(model) takes the noise from the model (drop the noise argument)")
        user_model.check_formulas(radius, center)
        noise, cross = user_model.noise_level, user_model.cross
        landscape = user_model.valley
    noise.require_positive_T()
    options = {"options_prefix": options_prefix, "petsc_options": petsc_options, "symmetrise": symmetrise}

    def coefficients(m: Any) -> Tuple[Any, Any, Any]:
        return case_coefficients(m, user_model, landscape, noise, cross)

    record = None
    if mesh is None and mesh_rule == "adaptive":
        t0 = time.perf_counter()
        msh, sizes = fmesh.adaptive_start(radius, center, comm)
        t_mesh = time.perf_counter() - t0
        sol, record = adapt.solve_adaptive(msh, sizes, coefficients, degree=degree, boundary=boundary,
                                           eigensolver=eigensolver, tol=tol, max_dofs=max_dofs, progress=say,
                                           solver_options=options)
        timing = {k: sol.info[k] for k in ("assemble_seconds", "solve_seconds", "dofs")}
        mesh_info = {"source": "adaptive", "rule": "adaptive", "bounds": sizes.as_dict(),
                     "domain": "disk", "radius": radius, "center": list(center),
                     "cells": record["cycles"][-1]["cells"]}
        mom = {k: v for k, v in record["cycles"][-1]["moments"].items() if k != adapt.WATCHED_RATE}
    else:
        if mesh is None:
            sizes = (model_mesh_sizes(user_model, radius, center, h_min, h_max) if user_model is not None
                     else fmesh.graded_sizes(landscape, noise, radius, center, h_min, h_max))
            sizes = sizes.refined(refine) if refine != 1.0 else sizes
            dofs = check_budget(sizes, degree, max_dofs)
            _compat.import_gmsh()  # loading libgmsh and DOLFINx (0.1-0.4 s) is start-up, not meshing
            say(f"meshing ({sizes.rule}): about {dofs} dofs predicted")
            t_mesh = time.perf_counter()
            msh, _ = fmesh.create_disk(sizes, comm)
            mesh_info = {"source": "gmsh", "domain": "disk", **sizes.as_dict(), "refine": refine,
                         "center": list(sizes.center),
                         "cells": comm.allreduce(msh.topology.index_map(2).size_local, op=fmesh._sum())}
            t_mesh = time.perf_counter() - t_mesh
        else:
            msh, mesh_info, t_mesh = fmesh.mesh_for(None, None, radius=radius, center=center, mesh=mesh,
                                                    h_min=None, h_max=None, comm=comm)
        say(f"mesh: {mesh_info['cells']} triangles ({mesh_info['source']}) in {t_mesh:.2f}s")
        sol, timing = solve_operator(msh, *coefficients(msh), degree=degree, boundary=boundary,
                                     eigensolver=eigensolver, progress=say, **options)
        mom = sol.moments()
    t2 = time.perf_counter()
    neg = sol.negativity()
    mode = sol.mode_theta1()
    lam = sol.eigenvalue
    eigen = {k: v for k, v in sol.info.items()
             if k not in ("dofs", "degree", "boundary", "assemble_seconds", "solve_seconds")}
    case = case_record(user_model, landscape, noise)
    summary = {
        "case": case,
        "T": noise.T,
        "domain": mesh_info["domain"], "radius": mesh_info["radius"], "center": mesh_info["center"],
        "degree": degree, "cross_diffusion": cross,
        "boundary": boundary, "mesh": mesh_info, "mesh_rule": "file" if mesh is not None else mesh_rule,
        "escape_rate": lam.real,
        "escape_rate_imag": lam.imag,
        "escape_rate_flux": sol.boundary_escape_rate(),
        "escape_rate_flux_method": "weak-form residual against the wall's basis functions (solver.wall_flux)",
        "escape_rate_per_step": noise.alpha * lam.real,
        "eigen_residual": sol.info["residual"],
        "eigen_residual_relative_to_Kphi": sol.info["residual_relative_to_Kphi"],
        "eigen_gap": sol.info["gap"],
        **mom,
        **neg,
        "mode_theta1": mode,
        "flatness_at_mode": float(landscape.flatness(mode)) if landscape is not None else None,
        "dofs": timing["dofs"],
        "ranks": comm.size,
        "eigen": eigen,
        "mesh_seconds": t_mesh,
        "assemble_seconds": timing["assemble_seconds"],
        "solve_seconds": timing["solve_seconds"],
    }
    if record is not None:
        summary["error_estimate"] = record["error_estimate"]
        summary["error_estimate_method"] = record["error_estimate_method"]
        summary["adaptivity"] = {k: v for k, v in record.items() if k != "warnings"}
        summary["adapt_seconds"] = sum(c["seconds"] for c in record["cycles"])
    summary["warnings"] = (record["warnings"] if record is not None else []) + diagnostics.warnings_for(summary)
    summary["postprocess_seconds"] = time.perf_counter() - t2
    summary["wall_seconds"] = time.perf_counter() - wall
    sol.summary = summary
    say(f"moments: mean|theta1| = {mom['mean_abs_theta1']:.6g}, std|theta1| = {mom['std_abs_theta1']:.6g}, "
        f"Var theta2 = {mom['var_theta2']:.6g}; min density {neg['min_density']:.3g}, "
        f"negative mass {neg['negative_mass']:.3g}")
    return sol
