"""The density in time: transient Fokker-Planck equation (docs/model.md §8).

    ∂t P = ∇·(D ∇P + P (∇·D − F)),    P(·, 0) = P0,

in the weak form of docs/model.md §4 (:func:`fpsolve.fem.forms.weak_form`):
``M dP/dt = −K P`` with the mass matrix M and the Fokker-Planck matrix K.
The drift F (``dθ = F dt + ...``, the model has F = −∇L) and D are any UFL
expressions, so a model plugs in as it does for :func:`eigenproblem.solve_operator`.
Time is in units of alpha SGD steps (t = alpha k).

Time stepping: TR-BDF2 with γ = 2 − √2 (L-stable, second order, one step):
a trapezoidal stage to t + γh and a BDF2 stage to t + h share the matrix
``A = M + (γ/2) h K``, so one LU factorisation (a PETSc KSP of type preonly:
MUMPS in parallel, PETSc's own LU with nested dissection on one rank, whose
triangular solves are faster) serves both stages and the error estimate.
The local error is estimated as in Hosea & Shampine (1996), filtered through A⁻¹ so that
stiff components (the fast θ2 relaxation) do not shrink the step; the step
is kept on a grid of half-octaves h₀·2^(k/2) so that factorisations are
reused while the step is unchanged (a few of them are cached); it shrinks
as the estimate asks and grows only by a factor of 4 or more at once (a new
LU costs as much as ~50 steps: on the default case 8 factorisations and 132
steps to t = 100 instead of 24 and 75 with growth by every half-octave).

Boundaries: ``reflecting`` (zero flux, the natural condition: 1ᵀK = 0, so
the scheme conserves ∫P to the LU's round-off) or ``absorbing`` (``dirichlet``,
P = 0 on ∂Ω: the survival S(t) = ∫P decays as c e^{−λ0 t} at late times).

Schedules (docs/model.md §10): ``run(..., schedule=...)`` integrates
``M dP/dt = −K(t) P`` with ``K(t) = K_drift + s(t) K_noise``, both parts
assembled once (every noise model scales with T: ``s(t) = T(t)/T`` of the
operator's model, ``α(t)/α`` for a user covariance, whose D = (α/2)Σ).
TR-BDF2 reads K at its stage times (the left limit at a step's end, so a
step that lands on a jump of T uses the value before it); the steps land on
the schedule's jumps.  Each solve with ``A(s) = M + (γ/2) h K(s)`` reuses the
LU of ``A(s_ref)`` for a nearby ``s_ref`` (abs(s/s_ref − 1) ≤
:data:`REFACTOR_RELATIVE`) as the preconditioner of a defect correction
(Richardson) until the error left is :data:`SOLVE_RELATIVE` of the solution
(a new LU at s if it stalls).  Three choices make this cheap, each a module
constant so that it can be measured off: :data:`PREDICT` starts the
correction from the extrapolation in time of the last steps' solutions
(error ~1e-5 of the solution instead of ~1e-3 from the previous one);
:data:`ESTIMATE_CORRECT` stops after that one correction when its size
times the contraction measured on the same LU is within the tolerance (a
second correction is made, and measures it, about once in 100 solves);
:data:`CENTRED` plans each LU by reading the schedule ahead: it is made at
the middle of the values of s it will serve (not at the first, so one LU
spans twice the range), and a long stretch at one value (the flat end of a
cosine) gets a LU at that value, with no correction.  The matrices
``M + (γ/2) h (K_drift + s K_noise)`` and ``M − (γ/2) h K_drift`` are sums
(axpy on the common sparsity pattern) of the parts assembled once.
Measured (scripts/bench_dynamics.py: default case, 37805 dofs, 2000 fixed
steps of 0.01, cosine T → T/4, CPU time on the shared 2-core machine,
median of 5 runs each): 5 LUs and 105 corrections, 1.29x the constant-T run
(1.14-1.40x), against 13 LUs and 3926 corrections, 2.27x (2.00-2.44x) with
none of the three (LUs at the first value, reuse range 0.1, corrections from
0 and always at least one); the final density is also nearer to that of exact solves.
A constant schedule takes s = 1 exactly: the LU is that of K itself, no
correction runs.

Observables are linear functionals ``∫ f P`` computed as dot products with
vectors ``b_f = ∫ f v`` assembled once (the same quadrature as a direct
integral), so recording them every step costs a few dot products.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import eigenproblem, model_mesh, solution
from fpsolve.fem.forms import check_degree, check_wall
from fpsolve.fem import mesh as fmesh
from fpsolve.fem.forms import to_ufl, weak_form
from fpsolve.fem.linalg import PREFIXES, configure_lu, options_in_effect
from fpsolve.fem.operator import Operator
from fpsolve.model import valley
from fpsolve.model.expression import COVARIANCE, as_model
from fpsolve.model.valley import check_start, Landscape, ModelError


#: TR-BDF2 constants (γ = 2 − √2: both stages share one matrix).
GAMMA = 2.0 - math.sqrt(2.0)
D_COEF = GAMMA / 2.0                                   # = (1 − γ)/(2 − γ)
BDF_U_GAMMA = 1.0 / (GAMMA * (2.0 - GAMMA))
BDF_U_N = (1.0 - GAMMA) ** 2 / (GAMMA * (2.0 - GAMMA))
ERR_K = (-3.0 * GAMMA ** 2 + 4.0 * GAMMA - 2.0) / (12.0 * (2.0 - GAMMA))
#: The step grid: h = h_ref · 2^(level / LEVELS_PER_OCTAVE).
LEVELS_PER_OCTAVE = 2
#: Step growth: at least GROW_MIN_LEVELS and at most MAX_GROW_LEVELS half-octaves at once.
GROW_MIN_LEVELS = 4
MAX_GROW_LEVELS = 6
#: Factorisations kept (least recently used dropped).
LU_CACHE = 4
#: Schedules: a LU of A(s_ref) serves A(s) while abs(s/s_ref − 1) is at most this
#: (measured, scripts/bench_dynamics.py, module doc: 0.1 / 0.2 / 0.3 took 8 / 5 / 4 LUs on
#: the benchmark's cosine, 1.22-1.40x / 1.14-1.40x / 1.25x the constant-T run: within the
#: machine's noise; 0.2 has fewer LUs and ~1 correction in 40 solves).
REFACTOR_RELATIVE = 0.2
#: Defect corrections stop when the error left (the last correction times its
#: ratio to the one before, 2-norm) is below this, relative to the solution...
SOLVE_RELATIVE = 1e-7
#: ... or, after this many, the LU is made anew at s.
MAX_CORRECTIONS = 8
#: Schedules, the choices that make them cheap (measured, scripts/bench_dynamics.py;
#: docs/numerics.md): start each stage's defect correction from a prediction,
#: the Lagrange extrapolation in time through :data:`PREDICT_POINTS` known
#: solutions (the last steps', and the first stage's for the second), instead of from 0 ...
PREDICT = True
PREDICT_POINTS = 3
#: ... factorise at the middle of the values of s a LU will serve (read ahead
#: on the schedule over :data:`PLAN_STEPS` steps), not at the first ...
CENTRED = True
PLAN_STEPS = 4096
#: ... a stretch of at least this many solves at one value of s gets a LU at
#: that value (no corrections; e.g. the flat end of a cosine; a LU costs about
#: what the predictions and products of ~1000 such solves do) ...
EXACT_RUN = 512
#: ... and stop after the first correction when its size times the estimated
#: contraction (what the next correction would be, relative to it) is within
#: :data:`SOLVE_RELATIVE`: the contraction per abs(1 − s/s_ref) measured on
#: the same LU within the last :data:`MEASURE_EVERY` solves (a second
#: correction measures it), times :data:`CONTRACTION_SAFETY`, and at most
#: RATIO_BOUND·abs(1 − s/s_ref) (the bound with nothing measured; measured
#: 0.005-0.05 · abs(1 − s/s_ref) on the default case, 0.4 · at worst).
ESTIMATE_CORRECT = True
RATIO_BOUND = 1.0
CONTRACTION_SAFETY = 4.0
MEASURE_EVERY = 128
#: Columns of evolution.csv after t (names of :meth:`Transient.observe`).
OBSERVABLES = ("survival", "mean_loss", "mean_abs_theta1", "mean_theta1", "var_theta1",
               "mean_theta2", "var_theta2", "mean_flatness")
#: Columns a 3-D run adds after :data:`OBSERVABLES` (E θ1², E θ3, Var θ3).
OBSERVABLES_3D = ("mean_theta1_squared", "mean_theta3", "var_theta3")


@dataclasses.dataclass
class Evolution:
    """What a run recorded: one row per accepted step (and t = 0).

    ``rows``: dicts with ``t`` (time units), ``dt`` (the step that led there),
    and the observables of :data:`OBSERVABLES` (moments are of the normalised
    density P/S); ``steps``, ``rejected``, ``factorisations`` (LU count),
    ``seconds`` (wall); ``info`` records the settings and ``cpu_seconds``
    (the process's CPU time of the run).
    """

    rows: List[dict]
    steps: int
    rejected: int
    factorisations: int
    seconds: float
    info: dict

    def column(self, name: str) -> np.ndarray:
        """One column of the rows as an array."""
        return np.array([r[name] for r in self.rows], dtype=float)

    def decay_rate(self, fraction: float = 0.5) -> float:
        """Late-time decay rate of the survival, −d ln S/dt fitted (least
        squares) over the last ``fraction`` of the run's time span (time
        units⁻¹; compare with the eigen-solve's λ0, docs/model.md §8)."""
        t, s = self.column("t"), self.column("survival")
        sel = (t >= t[-1] - fraction * (t[-1] - t[0])) & (s > 0)
        if sel.sum() < 2:
            raise ValueError("too few positive survival values to fit a rate")
        slope = np.polyfit(t[sel], np.log(s[sel]), 1)[0]
        return float(-slope)


def model_observables(msh: Any, landscape: Landscape) -> Dict[str, Any]:
    """UFL loss L and flatness F(θ1) of a preset model (docs/model.md §1), for
    :class:`Transient`'s ``loss`` and ``flatness`` observables."""
    import ufl

    x = ufl.SpatialCoordinate(msh)
    a0, a2, a4, eps = landscape.coefficients
    return {"loss": valley.loss(x[0], x[1], a0, a2, a4, eps),
            "flatness": valley.flatness(x[0], a0, a2, a4)}


def user_model_observables(msh: Any, user_model: Any) -> Dict[str, Any]:
    """UFL loss L of a custom :class:`~fpsolve.model.expression.Model` (docs/model.md §7)
    for :class:`Transient`'s ``loss`` observable; no flatness (F(θ1) is the
    valley's, docs/model.md §1: its mean is recorded as NaN)."""
    import ufl


    d = user_model.derivation
    x = ufl.SpatialCoordinate(msh)
    mapping = {d.symbols[0]: x[0], d.symbols[1]: x[1]}
    mapping.update({sym: float(v) for sym, v in zip(d.symbols[2:], user_model.arguments)})
    return {"loss": to_ufl(d.loss, mapping), "flatness": None}


class Transient:
    """TR-BDF2 integrator of ``M dP/dt = −K P`` on ``msh`` (module docstring).

    ``op``: the :class:`~fpsolve.fem.operator.Operator` (mesh, coefficients,
    degree, wall: ``reflecting`` or ``absorbing``); ``loss``/``flatness``:
    UFL expressions whose means are recorded (``loss`` 0 and ``flatness``
    NaN when None).  A weighted ``op`` (:meth:`Operator.with_log_weight`,
    P = w u) makes u the stepper's unknown: M, K and the observables carry
    w, :meth:`gaussian` returns u0 = P0/w at the nodes, and ``on_step``
    of :meth:`run` still sees the density (w u at the nodes).  The LUs read PETSc options under ``options_prefix``
    (``fpsolve_ts_``, with ``petsc_options`` over the defaults; those in
    effect in ``options_in_effect``).  Collective: construct and run on
    every rank.
    """

    def __init__(self, op: Operator, *, loss: Any = None, flatness: Any = None,
                 options_prefix: str = PREFIXES["transient"], petsc_options: Dict[str, Any] | None = None) -> None:
        import ufl
        from dolfinx import fem
        from dolfinx.fem.petsc import assemble_matrix, assemble_vector

        msh, V = op.mesh, op.V
        self.op = op
        self.mesh, self.comm, self.wall, self.degree = msh, msh.comm, op.wall, op.degree
        self.options_prefix, self.petsc_options = options_prefix, dict(petsc_options or {})
        self.options_in_effect: Dict[str, Any] = {}
        self.has_flatness = flatness is not None
        t0 = time.perf_counter()
        self.V = V
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        qdeg = op.quadrature_degree
        self.K = assemble_matrix(fem.form(op.forward_form(u, v)))
        self.K.assemble()
        # weighted (P = w u): M and the observables' vectors carry w, so the stepper's unknown is u;
        # M by the observables' rule, so that the conserved 1ᵀ M u is the survival they measure
        weighted = op.log_weight is not None
        md = {"quadrature_degree": qdeg + 2}
        self.M = assemble_matrix(fem.form(ufl.inner(op.density_of(u), v) * (ufl.dx(metadata=md) if weighted else ufl.dx)))
        self.M.assemble()
        # w at the nodes: P's nodal values are w u's (the start's u0 = P0 / w, the frames' P = w u)
        self._w_nodes = None if not weighted else np.exp(op.log_weight.x.array)
        self.bc_rows = op.wall_dofs if op.wall == "absorbing" else np.zeros(0, dtype=np.int32)
        # owned rows only, in the global numbering PETSc's zeroRows wants
        imap = V.dofmap.index_map
        owned = self.bc_rows[self.bc_rows < imap.size_local]
        self._bc_global = (owned + imap.local_range[0]).astype(np.int32)
        self._bc_local = owned
        x = ufl.SpatialCoordinate(msh)
        zero = fem.Constant(msh, 0.0)
        integrands = {
            "one": 1.0 + 0 * x[0], "x": x[0], "xx": x[0] * x[0], "absx": abs(x[0]),
            "y": x[1], "yy": x[1] * x[1],
            **({"z": x[2], "zz": x[2] * x[2]} if msh.geometry.dim == 3 else {}),
            "loss": zero if loss is None else loss, "flatness": zero if flatness is None else flatness,
        }
        self._b = {}
        for name, f in integrands.items():
            b = assemble_vector(fem.form(op.density_of(f) * v * ufl.dx(metadata=md)))
            b.ghostUpdate(addv=_add(), mode=_reverse())
            self._b[name] = b
        self._lus: Dict[Any, Any] = {}
        self._parts: Tuple[Any, Any] | None = None  # (K_drift, K_noise) once a schedule asks
        self._scale: Callable[[Any], np.ndarray] | None = None
        # under a schedule: the run's end, each step size's LU plan (s_ref, until), the last steps' (t, u),
        # the contraction of the corrections measured on each LU (per abs(1 − s/s_ref), solves since)
        self._t_end, self._plans, self._past, self._knu = math.inf, {}, [], None
        self._rhs: Dict[float, Any] = {}  # M − (γ/2) h K_drift by h
        self._contraction: Dict[Tuple[float, float], Tuple[float, int]] = {}
        self.corrections = 0
        self.krylov_iterations = 0  # of an iterative solver given in petsc_options (0 with an LU)
        self.grow_min_levels = GROW_MIN_LEVELS
        self.factorisations = 0
        self.assemble_seconds = time.perf_counter() - t0

    # ---- start densities --------------------------------------------------
    def gaussian(self, mean: Sequence[float], width: Sequence[float] | None = None,
                 covariance: np.ndarray | None = None) -> Any:
        """P0: the Gaussian of :func:`gaussian_density` (``mean``, ``width``
        or ``covariance``) interpolated into the space (zero on an absorbing
        wall) and scaled to ∫P0 = 1 (for a weighted operator the unknown
        u0 = P0/w at the nodes: the class doc).  Raises ModelError on bad
        input or a start without mass on the mesh."""
        from dolfinx import fem

        p0 = fem.Function(self.V, name="density")
        p0.interpolate(gaussian_density(self.mesh.geometry.dim, mean, width, covariance))
        if self._w_nodes is not None:
            p0.x.array[:] /= self._w_nodes
        p0.x.array[self.bc_rows] = 0.0
        p0.x.scatter_forward()
        mass = self.integral(_compat.petsc_vec(p0), "one")
        if not mass > 0:
            raise ModelError(f"the start density has no mass on the mesh (start {mean!r})")
        p0.x.array[:] /= mass
        return p0

    # ---- measurements ------------------------------------------------------
    def integral(self, vec: Any, name: str) -> float:
        """``∫ f P`` for one of the assembled integrands (global)."""
        return float(self._b[name].dot(vec))

    def observe(self, vec: Any) -> dict:
        """The observables of :data:`OBSERVABLES` for the density ``vec``:
        survival ∫P, and E[L], E|θ1|, E θ1, Var θ1, E θ2, Var θ2, E[F(θ1)]
        of P/∫P (E[F(θ1)] NaN when the model has no flatness); on a 3-D mesh
        also those of :data:`OBSERVABLES_3D` (E θ1², E θ3, Var θ3)."""
        s = self.integral(vec, "one")
        three = "z" in self._b
        keys = ("x", "xx", "absx", "y", "yy", "loss", "flatness") + (("z", "zz") if three else ())
        e = {k: self.integral(vec, k) / s for k in keys}
        out = {"survival": s, "mean_loss": e["loss"], "mean_abs_theta1": e["absx"],
               "mean_theta1": e["x"], "var_theta1": e["xx"] - e["x"] ** 2,
               "mean_theta2": e["y"], "var_theta2": e["yy"] - e["y"] ** 2,
               "mean_flatness": e["flatness"] if self.has_flatness else math.nan}
        if three:
            out.update({"mean_theta1_squared": e["xx"], "mean_theta3": e["z"], "var_theta3": e["zz"] - e["z"] ** 2})
        return out

    # ---- time stepping -----------------------------------------------------
    def _solver(self, h: float) -> Any:
        """KSP with the LU of ``A = M + (γ/2) h K`` (identity rows on an
        absorbing wall), cached by h."""
        from petsc4py import PETSc

        key = float(h)
        if key in self._lus:
            ksp = self._lus.pop(key)
            self._lus[key] = ksp  # most recently used last
            return ksp
        A = self.M.copy()
        A.axpy(D_COEF * h, self.K)
        return self._factorise(A, key)

    def _factorise(self, A: Any, key: Any) -> Any:
        """KSP with the LU of ``A`` (identity rows set on an absorbing wall),
        cached under ``key`` (replacing one there; the least recently used
        dropped beyond :data:`LU_CACHE`)."""
        from petsc4py import PETSc

        if self.wall == "absorbing":  # collective, also where a rank owns none
            A.zeroRows(self._bc_global, diag=1.0)
        ksp = PETSc.KSP().create(self.comm)
        ksp.setOperators(A)
        # PETSc's LU in serial (faster solves), MUMPS in parallel or on a zero pivot
        configure_lu(ksp, self.comm, self.options_prefix, self.petsc_options)
        self.options_in_effect = options_in_effect(ksp)
        if ksp.getType() != "preonly":  # an iterative solver (petsc_options): count its iterations
            ksp.setMonitor(self._count_iteration)
        self.factorisations += 1
        old = self._lus.pop(key, None)
        if old is not None:
            old.getOperators()[0].destroy()
            old.destroy()
        self._lus[key] = ksp
        while len(self._lus) > LU_CACHE:
            old = self._lus.pop(next(iter(self._lus)))
            old.getOperators()[0].destroy()
            old.destroy()
        return ksp

    def _count_iteration(self, ksp: Any, its: int, rnorm: float) -> None:
        if its > 0:
            self.krylov_iterations += 1

    # ---- schedules (docs/model.md §10) ------------------------------------
    def _split(self) -> Tuple[Any, Any]:
        """(K_drift, K_noise): the drift part and the diffusion part (D, ∇·D
        at the operator's noise level) of K, assembled once."""
        if self._parts is None:
            import ufl
            from dolfinx import fem
            from dolfinx.fem.petsc import assemble_matrix

            op = self.op
            u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
            zero = ufl.as_vector((0.0,) * self.mesh.geometry.dim)
            divD = ufl.div(op.D) if op.divD is None else op.divD
            P = op.density_of(u)
            forms = (weak_form(P, v, op.drift, 0.0 * op.D, zero, op.quadrature_degree),
                     weak_form(P, v, zero, op.D, divD, op.quadrature_degree))
            parts = []
            for a in forms:
                A = assemble_matrix(fem.form(a))
                A.assemble()
                parts.append(A)
            self._parts = (parts[0], parts[1])
        return self._parts

    def noise_scale(self, schedule: Any, reference: float | None = None) -> Callable[[Any], np.ndarray]:
        """s(t), the factor of K_noise under ``schedule`` (a
        :class:`~fpsolve.model.schedule.Schedule`; t a number or an array, s
        an array of its shape): T(t)/T of the operator's
        model (α(t)/α for a user covariance, D = (α/2)Σ), or T(t)/``reference``
        when the operator has no model.  Raises ModelError when neither gives
        the noise level the operator's D was built at."""
        model = self.op.model
        if model is not None and model.noise == COVARIANCE:
            a0 = float(model.alpha)
            return lambda t: np.asarray(schedule.alpha_t(t), dtype=float) / a0
        T0 = float(model.T) if model is not None else reference
        if T0 is None or not (math.isfinite(T0) and T0 > 0):
            raise ModelError(f"a schedule needs the noise level T > 0 the operator was built at (got {T0!r})")
        return lambda t: np.asarray(schedule.T(t), dtype=float) / T0

    def _apply_K(self, s: float, x: Any, out: Any, work: Any) -> None:
        """out = K(s) x = K_drift x + s K_noise x."""
        Kd, Kn = self._split()
        Kd.mult(x, out)
        Kn.mult(x, work)
        out.axpy(s, work)

    def _rhs_matrix(self, h: float) -> Any:
        """M − (γ/2) h K_drift (the first stage's right-hand side without the
        noise part), kept for the last :data:`LU_CACHE` step sizes."""
        if h not in self._rhs:
            B = self.M.copy()
            B.axpy(-D_COEF * h, self._split()[0], structure=_same())
            self._rhs[h] = B
            while len(self._rhs) > LU_CACHE:
                self._rhs.pop(next(iter(self._rhs))).destroy()
        return self._rhs[h]

    def _scheduled_solver(self, h: float, s: float, t: float, fresh: bool = False) -> Tuple[Any, float]:
        """(KSP with the LU of A(s_ref), s_ref) for the solve at s at time t.
        With :data:`CENTRED`: the LU of the step's plan while t is within it
        (and abs(s/s_ref − 1) ≤ :data:`REFACTOR_RELATIVE`), else a new plan
        (:meth:`_plan`); without: the cached s_ref nearest to s within
        :data:`REFACTOR_RELATIVE`, else a new LU at s.  ``fresh``: a new LU
        at s itself (a stalled correction)."""
        if fresh:
            s_ref, until = s, self._plans.get(h, (s, -math.inf))[1]
        elif CENTRED:
            s_ref, until = self._plans.get(h, (math.nan, -math.inf))
            key = (h, s_ref)
            if key in self._lus and t < until and abs(s / s_ref - 1.0) <= REFACTOR_RELATIVE * (1 + 1e-12):
                ksp = self._lus.pop(key)
                self._lus[key] = ksp  # most recently used last
                return ksp, s_ref
            s_ref, until = self._plan(h, s, t)
        else:
            near = [key for key in self._lus if isinstance(key, tuple) and key[0] == h
                    and abs(s / key[1] - 1.0) <= REFACTOR_RELATIVE]
            if near:
                key = min(near, key=lambda k: abs(s / k[1] - 1.0))
                ksp = self._lus.pop(key)
                self._lus[key] = ksp  # most recently used last
                return ksp, key[1]
            s_ref, until = s, math.inf
        self._plans[h] = (s_ref, until)
        Kd, Kn = self._split()
        A = self.M.copy()
        A.axpy(D_COEF * h, Kd, structure=_same())
        A.axpy(D_COEF * h * s_ref, Kn, structure=_same())
        return self._factorise(A, (h, s_ref)), s_ref

    def _plan(self, h: float, s: float, t: float) -> Tuple[float, float]:
        """(s_ref, until): the value of s for a new LU at time t and the time
        it serves to, read ahead on the schedule at the stage times of the
        next :data:`PLAN_STEPS` steps of size h (to the run's end).  The LU
        serves the longest stretch whose values lie within
        :data:`REFACTOR_RELATIVE` of their middle, s_ref; a stretch of
        :data:`EXACT_RUN` solves at one value of s gets its own LU at that
        value (so a LU at its first value ends where it starts)."""
        scale, t_end = self._scale, self._t_end
        j = np.arange(PLAN_STEPS, dtype=float)
        times = np.column_stack([t + j * h, np.nextafter(t + (j + 1) * h, -math.inf)])
        times[:, 0] += GAMMA * h
        times = times.ravel()
        times = times[(times > t) & (times <= t_end)]
        times = np.concatenate([[t], times])
        v = np.concatenate([[s], scale(times[1:])]) if times.size > 1 else np.array([s])
        wide = (1.0 + REFACTOR_RELATIVE) / (1.0 - REFACTOR_RELATIVE)
        fits = np.maximum.accumulate(v) <= np.minimum.accumulate(v) * wide
        n = v.size if fits.all() else int(np.argmin(fits))
        v = v[:n]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(v) != 0) + 1, [n]])
        long = np.flatnonzero(np.diff(starts) >= EXACT_RUN)
        if long.size and long[0] == 0:
            s_ref = s
        else:
            if long.size:
                n = int(starts[long[0]])
            s_ref = 0.5 * (float(v[:n].min()) + float(v[:n].max()))
        return s_ref, (float(times[n]) if n < times.size else math.inf)

    def _solve_scheduled(self, h: float, s: float, b: Any, x: Any, t: float,
                         predict: Callable[[], Tuple[Any, Any]] | None = None) -> None:
        """x = A(s)⁻¹ b, A(s) = M + (γ/2) h K(s) (identity rows on an absorbing
        wall), at time t: the LU of a nearby A(s_ref) and defect corrections
        ``x += A(s_ref)⁻¹ (b − A(s) x)`` (module doc) from x = guess, a
        prediction (``predict()`` gives (guess, K_noise guess or None when it
        is to be computed); from 0 when ``predict`` is None; not called when
        s is s_ref).  Since A(s) − A(s_ref) = (γ/2) h (s − s_ref) K_noise, the
        first is x = A(s_ref)⁻¹ (b − (γ/2) h (s − s_ref) K_noise guess) and
        each residual after it −(γ/2) h (s − s_ref) K_noise times the last
        correction (one product, one solve each)."""
        ksp, s_ref = self._scheduled_solver(h, s, t)
        if s == s_ref:
            ksp.solve(b, x)
            return
        Kn = self._split()[1]
        c = -D_COEF * h * (s - s_ref)
        r, dx = b.duplicate(), b.duplicate()
        away = abs(1.0 - s / s_ref)
        bound, measured = math.inf, math.inf
        if ESTIMATE_CORRECT:
            bound = RATIO_BOUND * away
            q, age = self._contraction.get((h, s_ref), (math.inf, MEASURE_EVERY))
            measured = min(bound, CONTRACTION_SAFETY * q * away) if age < MEASURE_EVERY else bound
            self._contraction[(h, s_ref)] = (q, age + 1)
        try:
            guess, kguess = predict() if predict is not None else (None, None)
            if guess is None:
                ksp.solve(b, x)
                last = x.norm()  # the first correction is x itself (from 0)
                x.copy(dx)
            else:
                if kguess is None:
                    Kn.mult(guess, r)
                else:
                    kguess.copy(r)
                r.scale(c)
                self._zero_bc(r)
                r.axpy(1.0, b)
                ksp.solve(r, x)
                x.copy(dx)
                dx.axpy(-1.0, guess)
                last = dx.norm()
                if last * measured <= SOLVE_RELATIVE * max(x.norm(), 1e-300):
                    return
            for k in range(MAX_CORRECTIONS):
                Kn.mult(dx, r)
                r.scale(c)
                self._zero_bc(r)
                ksp.solve(r, dx)
                x.axpy(1.0, dx)
                self.corrections += 1
                # the corrections shrink geometrically: what is left after this one is
                # about |dx| times the ratio |dx| / |previous dx| (or the bound on it)
                size = dx.norm()
                if guess is not None and k == 0 and ESTIMATE_CORRECT and last > 0:
                    self._contraction[(h, s_ref)] = (size / last / away, 0)
                if size * min(size / max(last, 1e-300), 1.0, bound) <= SOLVE_RELATIVE * max(x.norm(), 1e-300):
                    return
                last = size
            ksp, _ = self._scheduled_solver(h, s, t, fresh=True)  # stalled: a LU at s itself
            ksp.solve(b, x)
        finally:
            r.destroy()
            dx.destroy()

    def _zero_bc(self, vec: Any) -> None:
        if self._bc_local.size:
            vec.getArray()[self._bc_local] = 0.0

    def step(self, u: Any, h: float, estimate: bool = True, t: float = 0.0) -> Tuple[Any, float]:
        """One TR-BDF2 step of size ``h`` from the vector ``u`` at time ``t``:
        (new vector, error estimate ‖e‖_M / ‖u_new‖_M; 0 when ``estimate`` is
        False).  Under a schedule (:meth:`run`) K is K(t) at t (right limit),
        t + γh and t + h (left limit): the module doc."""
        M = self.M
        w, r, ug, un = u.duplicate(), u.duplicate(), u.duplicate(), u.duplicate()
        guesses: List[Any] = []
        if self._scale is None:
            ksp = self._solver(h)
            apply2 = self.K.mult
            solve1 = solve2 = ksp.solve
            # stage 1 (trapezoid to t + γh): A u_γ = (M − (γ/2) h K) u
            M.mult(u, r)
            self.K.mult(u, w)
            r.axpy(-D_COEF * h, w)
        else:
            scale, Kn = self._scale, self._split()[1]
            s0 = float(scale(float(np.nextafter(t, math.inf))))
            t1, t2 = t + GAMMA * h, float(np.nextafter(t + h, -math.inf))
            s1, s2 = float(scale(t1)), float(scale(t2))
            if self._knu is None:  # K_noise u (kept with u for the predictions; a retried step reuses it)
                self._knu = (u, u.duplicate())
                Kn.mult(u, self._knu[1])
            knu = self._knu[1]
            # predictions: the first stage's from the last steps' solutions (and their K_noise
            # products, so none is computed), the second's from the last steps' and the first stage's
            known = [*self._past, (t, u, knu)][-PREDICT_POINTS:]
            if PREDICT and len(known) >= 2:
                guesses = [u.duplicate(), u.duplicate()]

            def predict1() -> Tuple[Any, Any]:
                _extrapolate([(tk, vk) for tk, vk, _ in known], t1, guesses[0])
                _extrapolate([(tk, kv) for tk, _, kv in known], t1, guesses[1])
                return guesses[0], guesses[1]

            def predict2() -> Tuple[Any, Any]:
                _extrapolate([*((tk, vk) for tk, vk, _ in known[1:]), (t1, ug)], t2, guesses[0])
                return guesses[0], None

            def apply2(x: Any, out: Any) -> None:
                work = x.duplicate()
                self._apply_K(s2, x, out, work)
                work.destroy()

            def solve1(b: Any, x: Any) -> None:
                self._solve_scheduled(h, s1, b, x, t1, predict1 if guesses else None)

            def solve2(b: Any, x: Any, predict: bool = True) -> None:
                self._solve_scheduled(h, s2, b, x, t2, predict2 if guesses and predict else None)
            # stage 1: A(s1) u_γ = (M − (γ/2) h K_drift) u − (γ/2) h s0 K_noise u
            self._rhs_matrix(h).mult(u, r)
            r.axpy(-D_COEF * h * s0, knu)
        self._zero_bc(r)
        solve1(r, ug)
        # stage 2 (BDF2 to t + h): A u_new = M (c1 u_γ − c0 u)
        w.set(0.0)
        w.axpy(BDF_U_GAMMA, ug)
        w.axpy(-BDF_U_N, u)
        M.mult(w, r)
        self._zero_bc(r)
        solve2(r, un)
        err = 0.0
        if estimate:
            # Hosea-Shampine: e = A⁻¹ · 2k h (−K)(u/γ − u_γ/(γ(1−γ)) + u_new/(1−γ))
            w.set(0.0)
            w.axpy(1.0 / GAMMA, u)
            w.axpy(-1.0 / (GAMMA * (1.0 - GAMMA)), ug)
            w.axpy(1.0 / (1.0 - GAMMA), un)
            apply2(w, r)
            r.scale(-2.0 * ERR_K * h)
            self._zero_bc(r)
            if self._scale is None:
                solve2(r, w)
            else:
                solve2(r, w, predict=False)
            err = math.sqrt(max(_m_dot(M, w, r), 0.0) / max(_m_dot(M, un, r), 1e-300))
        for vec in (w, r, ug, *guesses):
            vec.destroy()
        return un, err

    def run(self, p0: Any, t_end: float, *, tol: float = 1e-4, dt: float | None = None,
            dt0: float | None = None, stops: Sequence[float] = (), max_steps: int = 1_000_000,
            on_step: Callable[[float, Any, dict], None] | None = None, schedule: Any = None,
            reference_T: float | None = None) -> Evolution:
        """Integrate from ``p0`` (a ``fem.Function``, overwritten with the
        final state: the density, or u of a weighted operator) to ``t_end`` (time units).

        Adaptive (``dt`` None): accept a step when the local error estimate
        is ≤ ``tol`` (relative, M-norm), steps on the half-octave grid from
        ``dt0`` (default ``1e-4 · t_end``·tol^(1/3)); ``stops``: times the
        steps land on exactly (for snapshots).  Fixed (``dt``): constant
        steps, the last one shortened to land on ``t_end``.  ``on_step(t,
        function, row)`` is called at t = 0 and after every accepted step
        (the function holds the density at t; ``p0`` the unknown, which for
        a weighted operator is u of P = w u).  ``schedule``: a
        :class:`~fpsolve.model.schedule.Schedule` (docs/model.md §10; K(t) as
        in the module doc, T(t) relative to the operator model's T or to
        ``reference_T``): the steps also land on its jumps and every row gets
        ``T`` and ``alpha`` (α(t)).  Raises ModelError on a bad ``t_end``,
        ``tol``, ``dt`` or a schedule without a reference noise level."""
        from dolfinx import fem

        if not (math.isfinite(t_end) and t_end > 0):
            raise ModelError(f"t-end must be a finite number > 0 (got {t_end!r})")
        if dt is not None and not (math.isfinite(dt) and dt > 0):
            raise ModelError(f"dt must be a finite number > 0 (got {dt!r})")
        if not (math.isfinite(tol) and tol > 0):
            raise ModelError(f"tol must be a finite number > 0 (got {tol!r})")
        wall, cpu = time.perf_counter(), time.process_time()
        lu_before, corrections_before, its_before = self.factorisations, self.corrections, self.krylov_iterations
        self._scale = None if schedule is None else self.noise_scale(schedule, reference_T)
        self._t_end, self._plans, self._past, self._contraction, self._knu = float(t_end), {}, [], {}, None
        jumps = [] if schedule is None else list(schedule.jumps(t_end))
        u = _compat.petsc_vec(p0).copy()
        targets = sorted({float(s) for s in list(stops) + jumps if 0 < s < t_end} | {float(t_end)})
        t, steps, rejected = 0.0, 0, 0

        def columns(t: float) -> dict:
            if schedule is None:
                return {}
            return {"T": float(schedule.T(t)), "alpha": float(schedule.alpha_t(t))}
        rows = [{"t": 0.0, "dt": 0.0, **self.observe(u), **columns(0.0)}]
        frame = p0 if self._w_nodes is None else fem.Function(self.V, name="density")  # what on_step sees
        if on_step:
            on_step(0.0, self._density(p0, frame), rows[0])
        adaptive = dt is None
        h_ref = float(dt) if dt is not None else float(dt0 if dt0 is not None else 1e-4 * t_end * tol ** (1 / 3))
        level = 0
        while t < t_end * (1 - 1e-14) and steps < max_steps:
            h_grid = h_ref * 2.0 ** (level / LEVELS_PER_OCTAVE)
            nxt = next(s for s in targets if s > t * (1 + 1e-14))
            # land on the next stop when it is within this step (a step within
            # round-off of the grid size keeps that size and its factorisation)
            land = nxt - t <= h_grid * (1 + 1e-9)
            h = h_grid if (not land or abs(nxt - t - h_grid) <= 1e-9 * h_grid) else nxt - t
            un, err = self.step(u, h, estimate=adaptive, t=t)
            if adaptive and err > tol:
                rejected += 1
                un.destroy()
                level += min(-1, _levels(0.9 * (tol / err) ** (1 / 3)))
                continue
            knu = self._knu[1] if self._knu is not None else None
            self._knu = None
            if knu is not None and PREDICT:  # the last steps' solutions, for the predictions
                self._past.append((t, u, knu))
                while len(self._past) >= PREDICT_POINTS:
                    for vec in self._past.pop(0)[1:]:
                        vec.destroy()
            else:
                for vec in (u, knu) if knu is not None else (u,):
                    vec.destroy()
            u, t, steps = un, (nxt if land else t + h), steps + 1
            row = {"t": t, "dt": h, **self.observe(u), **columns(t)}
            rows.append(row)
            if on_step:
                u.copy(_compat.petsc_vec(p0))
                p0.x.scatter_forward()
                on_step(t, self._density(p0, frame), row)
            if adaptive and h == h_grid:
                # grow only by GROW_MIN_LEVELS or more at once: a new LU costs
                # as much as tens of steps
                up = MAX_GROW_LEVELS if err == 0 else min(MAX_GROW_LEVELS, _levels(0.9 * (tol / err) ** (1 / 3)))
                level += up if up >= self.grow_min_levels else 0
        u.copy(_compat.petsc_vec(p0))
        p0.x.scatter_forward()
        u.destroy()
        for vec in [v for entry in self._past for v in entry[1:]] + ([self._knu[1]] if self._knu else []):
            vec.destroy()
        self._scale, self._past, self._knu = None, [], None
        info = {"scheme": "TR-BDF2", "gamma": GAMMA, "adaptive": adaptive, "tol": tol if adaptive else None,
                "dt": dt, "t_end": t_end, "wall": self.wall, "degree": self.degree,
                "dofs": self.V.dofmap.index_map.size_global, "ranks": self.comm.size,
                "assemble_seconds": self.assemble_seconds, "options_in_effect": self.options_in_effect,
                "krylov_iterations": self.krylov_iterations - its_before,
                "cpu_seconds": time.process_time() - cpu}
        if schedule is not None:
            info.update({"schedule": schedule.as_dict(), "schedule_jumps": [float(v) for v in jumps],
                         "defect_corrections": self.corrections - corrections_before,
                         "refactor_relative": REFACTOR_RELATIVE, "solve_relative": SOLVE_RELATIVE,
                         "predict": PREDICT_POINTS if PREDICT else 0, "centred": CENTRED,
                         "estimate_correct": ESTIMATE_CORRECT})
        return Evolution(rows, steps, rejected, self.factorisations - lu_before, time.perf_counter() - wall, info)

    def _density(self, unknown: Any, out: Any) -> Any:
        """The density of the stepper's ``unknown`` (a Function): itself, or w u at the nodes into ``out``."""
        if self._w_nodes is None:
            return unknown
        out.x.array[:] = self._w_nodes * unknown.x.array
        return out

    def destroy(self) -> None:
        """Free the PETSc objects (matrices, factorisations, vectors)."""
        for ksp in self._lus.values():
            ksp.getOperators()[0].destroy()
            ksp.destroy()
        self._lus.clear()
        for obj in (self.K, self.M, *self._b.values(), *(self._parts or ()), *self._rhs.values()):
            obj.destroy()


def frame_clock(t_end: float, frames: int) -> Callable[[float], bool]:
    """``due(t)``, called with the run's increasing times: True at t = 0 and
    at the first time at or after each of ``frames`` − 1 log-spaced times
    from min(t_end/1000, 1) to ``t_end`` (the snapshots of a run)."""
    wanted = list(np.geomspace(min(t_end * 1e-3, 1.0), t_end, max(frames - 1, 1)))

    def due(t: float) -> bool:
        if t == 0.0 or (wanted and t >= wanted[0] * (1 - 1e-12)):
            while wanted and wanted[0] <= t * (1 + 1e-12):
                wanted.pop(0)
            return True
        return False
    return due


def gaussian_density(n: int, mean: Sequence[float], width: Sequence[float] | None = None,
                     covariance: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The normalised Gaussian density of ``mean`` (θ, ``n`` = 2 or 3 numbers)
    with standard deviations ``width`` (``n`` numbers) or a full n×n
    ``covariance``, as a callable of points (shape (3, p)) for
    ``Function.interpolate``.  Raises ModelError on a non-positive width or
    covariance, or a mean of the wrong length."""
    count = {1: "one", 2: "two", 3: "three"}.get(n, str(n))
    m = np.asarray(mean, dtype=float)
    if covariance is None:
        w = np.asarray(width, dtype=float)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ModelError(f"start width must be {count} finite numbers > 0 (got {width!r})")
        S = np.diag(w * w)
    else:
        S = np.asarray(covariance, dtype=float)
        if S.shape != (n, n):
            raise ModelError(f"start covariance must be {n}x{n} (got shape {S.shape})")
    if not np.all(np.isfinite(m)) or m.shape != (n,):
        raise ModelError(f"start must be {count} finite numbers (got {mean!r})")
    if not np.all(np.linalg.eigvalsh(0.5 * (S + S.T)) > 0):
        raise ModelError("start covariance must be positive definite")
    P = np.linalg.inv(0.5 * (S + S.T))
    norm = 1.0 / math.sqrt((2.0 * math.pi) ** n * np.linalg.det(S))

    def density(xx: np.ndarray) -> np.ndarray:
        d = xx[:n] - m[:, None]
        return norm * np.exp(-0.5 * np.einsum("ip,ij,jp->p", d, P, d))

    return density


def _levels(factor: float) -> int:
    """Whole half-octaves in a step factor (rounded towards −∞)."""
    return int(math.floor(LEVELS_PER_OCTAVE * math.log2(factor)))


def _m_dot(M: Any, x: Any, work: Any) -> float:
    """xᵀ M x (uses ``work``)."""
    M.mult(x, work)
    return float(x.dot(work))


def _add() -> Any:
    from petsc4py import PETSc

    return PETSc.InsertMode.ADD


def _reverse() -> Any:
    from petsc4py import PETSc

    return PETSc.ScatterMode.REVERSE


def _same() -> Any:
    from petsc4py import PETSc

    return PETSc.Mat.Structure.SAME_NONZERO_PATTERN


def _extrapolate(points: Sequence[Tuple[float, Any]], tau: float, out: Any) -> None:
    """out = the Lagrange polynomial through ``points`` ((t, vector) pairs,
    distinct t) at time ``tau``."""
    out.set(0.0)
    for i, (ti, vi) in enumerate(points):
        weight = 1.0
        for j, (tj, _) in enumerate(points):
            if j != i:
                weight *= (tau - tj) / (ti - tj)
        out.axpy(weight, vi)


# --------------------------------------------------------------------------
# A case of the model: what scripts/evolve_fp.py writes
# --------------------------------------------------------------------------

#: Frames (XDMF time steps, GIF frames) of a case run, log-spaced in t.
FRAMES = 40
#: Default start width in units of the local mesh size at the start.
START_WIDTH_CELLS = 2.0


@dataclasses.dataclass
class CaseRun:
    """A transient of a model case: the :class:`Evolution`, the summary
    (summary.json), and the GIF frames (``frame_times``, ``frames`` of shape
    (n, ny, nx) on the grid ``xs``, ``ys``; the same on every rank)."""

    evolution: Evolution
    summary: dict
    xs: np.ndarray
    ys: np.ndarray
    frame_times: List[float]
    frames: List[np.ndarray]


#: Most SGD steps a run's ``t_end`` may span (``t_end / alpha``): 2**53, the largest count a double
#: holds exactly (beyond it t = alpha k cannot tell step k from k + 1, and t-end 1e308 overflowed
#: the progress bar's step count after meshing).
MAX_SGD_STEPS = 2 ** 53


def check_t_end(t_end: float, alpha: float, name: str = "t-end") -> float:
    """``t_end`` (time units, t = alpha k) as a float when finite, > 0 and at
    most :data:`MAX_SGD_STEPS` SGD steps of ``alpha``; else ModelError naming
    ``name`` and the value (called before any meshing)."""
    try:
        t = float(t_end)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a number (got {t_end!r})") from None
    if not (math.isfinite(t) and t > 0):
        raise ModelError(f"{name} must be a finite number > 0 (got {t_end!r})")
    if not t / alpha <= MAX_SGD_STEPS:
        raise ModelError(f"{name} {t:g} is {t / alpha:.3g} SGD steps of alpha {alpha:g}; at most 2**53 "
                         f"(= {MAX_SGD_STEPS:.3g}, the step count a double holds exactly): t-end <= "
                         f"{MAX_SGD_STEPS * alpha:.3g}")
    return t


def check_start_width(width: Sequence[float] | None, radius: float, name: str = "start width") -> None:
    """Refuse (ModelError naming ``name``) a start width that is not two
    finite numbers > 0 and below the disk's ``radius`` (a Gaussian wider than
    the domain is no start density on it); None (the default width) passes."""
    if width is None:
        return
    try:
        w = [float(v) for v in width]
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be two numbers (got {width!r})") from None
    if len(w) != 2 or not all(math.isfinite(v) and v > 0 for v in w):
        raise ModelError(f"{name} must be two finite numbers > 0 (got {width!r})")
    if max(w) >= radius:
        raise ModelError(f"{name} {w[0]:g} {w[1]:g} must be smaller than the disk's radius {radius:g}")


def evolve_case(model: Any, noise: Any = None, *, start: Sequence[float], t_end: float,
                start_width: Sequence[float] | None = None, wall: str = "absorbing",
                tol: float = 1e-4, dt: float | None = None, cross: bool = True, radius: float = 2.0,
                center: Tuple[float, float] = (0.0, 0.0), degree: int = 2, mesh: Any = None,
                h_min: float | None = None, h_max: float | None = None, comm: Any = None,
                xdmf_path: str | None = None, frames: int = FRAMES, grid: Tuple[int, int] = (160, 160),
                stops: Sequence[float] = (),
                progress: Callable[[str], None] | None = None,
                on_time: Callable[[float], None] | None = None, schedule: Any = None) -> CaseRun:
    """The density of a model case in time (docs/model.md §8) from a Gaussian
    start at ``start`` (θ) of standard deviations ``start_width`` (default
    :data:`START_WIDTH_CELLS` local mesh sizes), to ``t_end`` (time units),
    on the case's graded mesh (or ``mesh``, a .msh path).

    ``model``: a :class:`~fpsolve.model.expression.Model` (docs/model.md §7), or
    ``(Landscape, Noise)`` with ``cross`` (docs/model.md §1-3), converted once
    (:func:`~fpsolve.model.expression.as_model`): the valley with SGD noise takes the
    preset's path (same mesh and numbers), any other model the uniform disk
    of :func:`fpsolve.fem.model_mesh.model_mesh_sizes` (size ``h_min``, default
    radius/40) and records E[F(θ1)] as NaN (the flatness is the valley's).

    Writes ``frames`` log-spaced snapshots to ``xdmf_path`` (collective),
    keeps them on a ``grid`` (nx, ny) over the disk for an animation, and
    fits the late-time decay rate of the survival (last half of the run)
    next to the eigen-solve's λ0 on the same mesh and wall.
    ``on_time(t)`` is called after every accepted step (progress bars);
    ``stops``: times the steps land on exactly (rows at those t, e.g. for a
    Monte-Carlo comparison).  ``schedule``: a
    :class:`~fpsolve.model.schedule.Schedule` (docs/model.md §10; T(t)
    relative to the model's T; rows and summary gain T and α).  Raises
    ModelError on bad input (before any computation).
    """
    from mpi4py import MPI


    comm = MPI.COMM_WORLD if comm is None else comm
    say = progress or (lambda message: None)
    model = as_model(model, noise, cross)
    noise, cross, landscape = model.noise_level, model.cross, model.valley
    wall = check_wall(wall)
    check_degree(degree)
    x0 = check_start(start, radius, center)
    check_start_width(start_width, radius)
    t_end = check_t_end(t_end, noise.alpha)
    if not model.is_valley():
        model.check_formulas(radius, center)
        noise.require_positive_T()
        msh, mesh_info, t_mesh = model_mesh.model_mesh(model, radius=radius, center=center, mesh=mesh,
                                                   h_min=h_min, h_max=h_max, comm=comm)
        observables = user_model_observables(msh, model)
    else:
        msh, mesh_info, t_mesh = fmesh.mesh_for(landscape, noise, radius=radius, center=center, mesh=mesh,
                                                h_min=h_min, h_max=h_max, comm=comm)
        observables = model_observables(msh, landscape)
    say(f"mesh: {mesh_info['cells']} triangles in {t_mesh:.2f}s")
    op = Operator.of_model(msh, model, degree=degree, wall=wall)
    tr = Transient(op, **observables)
    if start_width is None:
        h = fmesh.local_mesh_size(msh, x0)
        start_width = (START_WIDTH_CELLS * h, START_WIDTH_CELLS * h)
    p0 = tr.gaussian(x0, start_width)
    xs = np.linspace(center[0] - radius, center[0] + radius, grid[0])
    ys = np.linspace(center[1] - radius, center[1] + radius, grid[1])
    X, Y = np.meshgrid(xs, ys)
    points = np.column_stack([X.ravel(), Y.ravel()])
    due = frame_clock(t_end, frames)
    frame_times: List[float] = []
    frame_values: List[np.ndarray] = []
    series = _compat.XdmfSeries(xdmf_path, msh) if xdmf_path else None

    def on_step(t: float, function: Any, row: dict) -> None:
        if due(t):
            frame_times.append(t)
            frame_values.append(solution.evaluate_function(function, points).reshape(len(ys), len(xs)))
            if series:
                series.write(function, t)
        if on_time:
            on_time(t)

    say(f"transient: {tr.V.dofmap.index_map.size_global} dofs, P{degree}, {wall} wall, "
        f"start {x0} width {tuple(float(v) for v in start_width)}, t_end {t_end:g}")
    try:
        ev = tr.run(p0, t_end, tol=tol, dt=dt, on_step=on_step, stops=stops, schedule=schedule)
    finally:
        if series:
            series.file.close()
    say(f"{ev.steps} steps ({ev.rejected} rejected), {ev.factorisations} LU factorisations, {ev.seconds:.2f}s")
    sol, timing = eigenproblem.solve_operator(op)
    lam = float(sol.eigenvalue.real)
    try:
        rate = ev.decay_rate(0.5)
    except ValueError:  # S(t) not positive late on: an unresolved density (mesh too coarse for it)
        rate = math.nan
    survival = ev.column("survival")
    last = ev.rows[-1]
    stationary = sol.moments()
    case = model.record()
    summary = {
        "case": case,
        "T": noise.T, "radius": radius, "center": list(center), "degree": degree, "cross_diffusion": cross,
        "wall": wall, "mesh": mesh_info, "start": list(x0),
        "start_width": [float(v) for v in start_width], "t_end": t_end,
        "t_end_steps": t_end / noise.alpha if schedule is None else len(schedule.table(t_end)["alpha"]),
        **{k: v for k, v in ev.info.items() if k not in ("wall", "degree", "t_end")},
        "steps": ev.steps, "rejected_steps": ev.rejected, "factorisations": ev.factorisations,
        "min_dt": float(min(r["dt"] for r in ev.rows[1:])), "max_dt": float(max(r["dt"] for r in ev.rows[1:])),
        "survival_final": last["survival"],
        "mass_error_max": float(np.max(np.abs(survival - 1.0))) if wall == "reflecting" else None,
        "decay_rate_fit": rate,
        "decay_rate_fit_window": [ev.rows[0]["t"] + 0.5 * t_end, t_end],
        "escape_rate_eigen": lam,
        "decay_rate_relative_difference": (rate / lam - 1.0) if lam != 0 and math.isfinite(rate) else None,
        "final": {k: last[k] for k in OBSERVABLES},
        "stationary": {k: stationary[k] for k in ("mean_abs_theta1", "var_theta1", "var_theta2")},
        "frames": len(frame_times),
        "transient_seconds": ev.seconds, "mesh_seconds": t_mesh,
        "eigen_solve_seconds": timing["solve_seconds"],
    }
    if schedule is not None:  # the eigen-solve and its λ0 are at the model's own T
        summary.update({"T_final": last["T"], "alpha_final": last["alpha"],
                        "T_range": list(schedule.T_range(t_end)),
                        "escape_rate_eigen_at": "the model's T (schedule start values)"})
    say(f"late-time decay rate {rate:.6g} (fit) vs lambda0 {lam:.6g} (eigen-solve)")
    tr.destroy()
    return CaseRun(ev, summary, xs, ys, frame_times, frame_values)


def csv_text(evolution: Evolution, alpha: float | None = None, schedule: Any = None,
             observables: Sequence[str] = OBSERVABLES) -> str:
    """evolution.csv: ``t`` (time units), ``step`` (t/alpha SGD steps when
    ``alpha`` is given; under a ``schedule`` the SGD step k holding t,
    t_k ≤ t < t_{k+1}), ``dt``, the ``observables`` (default
    :data:`OBSERVABLES`; a 3-D run's :data:`fpsolve.fem.transient3d.COLUMNS`)
    and, under a schedule, ``T`` and ``alpha`` (T(t), α(t), docs/model.md §10)."""
    extra = ["T", "alpha"] if schedule is not None else []
    cols = ["t"] + (["sgd_steps"] if alpha or schedule is not None else []) + ["dt", *observables, *extra]
    lines = [",".join(cols)]
    for r in evolution.rows:
        step = ([r["t"] / alpha] if alpha and schedule is None else
                [float(schedule.step_of(r["t"]))] if schedule is not None else [])
        vals = [r["t"]] + step + [r["dt"]] + [r[k] for k in (*observables, *extra)]
        lines.append(",".join(f"{v:.12g}" for v in vals))
    return "\n".join(lines) + "\n"


def from_stationary(model: Any, schedule: Any, t_ends: Sequence[float], *, mesh_T: float, radius: float = 2.0,
                    center: Tuple[float, float] = (0.0, 0.0), tol: float = 1e-4, wall: str = "absorbing",
                    h_min: float | None = None, comm: Any = None) -> Tuple[List[dict], dict]:
    """Start from the model's quasi-stationary density (docs/model.md §4, at
    its own T) and run under each schedule of ``schedule`` (a callable
    ``t_end -> Schedule``, or one Schedule for every end) to each time of
    ``t_ends`` (time units): the annealing experiment of docs/model.md §10.

    One mesh for all runs: the valley's graded mesh at the noise level
    ``mesh_T`` (the coldest T of the runs: it resolves the narrowest
    density), or a custom model's uniform disk (``h_min``).  Returns (the
    last row of each run, :meth:`Transient.observe` plus T and α; info: mesh,
    dofs, λ0 and moments of the start density).  Collective; raises
    ModelError on bad input."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    cold = model.with_noise_level(T=mesh_T)
    if model.is_valley():
        msh, mesh_info, _ = fmesh.mesh_for(cold.valley, cold.noise_level, radius=radius, center=center, mesh=None,
                                           h_min=None, h_max=None, comm=comm)
        observables = model_observables(msh, model.valley)
    else:
        msh, mesh_info, _ = model_mesh.model_mesh(model, radius=radius, center=center, mesh=None,
                                                  h_min=h_min, h_max=None, comm=comm)
        observables = user_model_observables(msh, model)
    op = Operator.of_model(msh, model, degree=2, wall=wall)
    sol, _ = eigenproblem.solve_operator(op)
    tr = Transient(op, **observables)
    start = _compat.petsc_vec(sol.density).copy()
    start.scale(1.0 / tr.integral(start, "one"))
    rows = []
    try:
        for t_end in t_ends:
            p0 = sol.density.copy()
            start.copy(_compat.petsc_vec(p0))
            p0.x.scatter_forward()
            sched = schedule(t_end) if callable(schedule) else schedule
            rows.append(tr.run(p0, float(t_end), tol=tol, schedule=sched).rows[-1])
        info = {"mesh": mesh_info, "dofs": op.dofs, "lambda0_start": float(sol.eigenvalue.real),
                "start": tr.observe(start)}
    finally:
        start.destroy()
        tr.destroy()
    return rows, info
