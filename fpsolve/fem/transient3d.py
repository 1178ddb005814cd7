"""The density in time in three variables (docs/model.md §8, §9; issue 19).

:func:`evolve_case` is what ``evolve_fp.py --fast-directions 2`` (and a
``--loss`` in θ1, θ2, θ3) computes: the tetrahedral ball of the stationary
3-D solve (:func:`fpsolve.fem.stationary3d.ball_sizes`: graded from the
closed forms of §9 for the valley, uniform for an expression model), the
coefficients in UFL, the :class:`~fpsolve.fem.operator.Operator` (for the
valley weighted by its closed form, P = w u, as the stationary solve:
:mod:`fpsolve.fem.weight`) and the TR-BDF2 stepper of :class:`fpsolve.fem.transient.Transient` (the same
adaptive steps as in 2-D), from a Gaussian start, then the late-time decay
rate of the survival next to λ0 of the eigen-solve of the same operator
(:func:`fpsolve.fem.solve3d.solve`).

The LUs of the stepper are MUMPS's here, GMRES + ASM/ILU above
``ITERATIVE_DOFS`` (:func:`fpsolve.fem.solve3d.linear_options`): PETSc's own
serial LU, the 2-D default, fills in far more on tetrahedra (the reflecting OU
ball of tests/test_evolve3d.py at h 0.15, 16.2k dofs, 69 steps and 8 LUs to
t = 2: 19-20 s of CPU with MUMPS, 64 s with PETSc's LU, the same Var θ1 to
2e-16; the eigen-solve's 67 s against 14 s on 25k dofs, :mod:`fpsolve.fem.solve3d`).
No animation in 3-D: the density is written as an XDMF time series.
Time unit: α SGD steps (t = α k).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import ball, diagnostics, nvalley_forms, solve3d, stationary3d, weight
from fpsolve.fem.forms import check_wall, to_ufl
from fpsolve.fem.operator import Operator
from fpsolve.fem.transient import (FRAMES, OBSERVABLES, OBSERVABLES_3D, START_WIDTH_CELLS, Evolution,
                                   Transient, check_t_end, frame_clock, gaussian_density,
                                   csv_text as transient_csv_text)
from fpsolve.model import valley as formulas
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley_noise

#: The start's variances on the mesh may differ from the requested widths² by this (relative), else a warning.
START_VARIANCE_LIMIT = 0.1
#: With an absorbing wall S(t) cannot exceed 1: a rise above 1 + this is a warning.
SURVIVAL_RISE_LIMIT = 1e-6
#: Every column of a 3-D evolution.csv after t (and SGD steps, dt).
COLUMNS = OBSERVABLES + OBSERVABLES_3D


def check_start(start: Any, radius: float, center: Sequence[float], name: str = "--start") -> Tuple[float, ...]:
    """(θ1, θ2, θ3) of ``start``: three finite numbers strictly inside the
    ball, else ModelError naming ``name`` and the value."""
    try:
        x = tuple(float(v) for v in start)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be three numbers for a 3-D case (got {start!r})") from None
    text = " ".join(f"{v:g}" for v in x)
    if len(x) != 3:
        raise ModelError(f"{name} {text} has {len(x)} number{'' if len(x) == 1 else 's'}: a 3-D case needs three, "
                         "X Y Z")
    if not all(math.isfinite(v) for v in x):
        raise ModelError(f"{name} must be three finite numbers (got {text})")
    if math.dist(x, center) >= radius:
        raise ModelError(f"{name} ({', '.join(f'{v:g}' for v in x)}) must lie inside the ball of radius "
                         f"{radius:g} around ({', '.join(f'{c:g}' for c in center)})")
    return x


def check_start_width(width: Any, radius: float, name: str = "--start-width") -> Tuple[float, ...] | None:
    """Three finite numbers > 0 below the ball's ``radius`` (None passes: the
    default width), else ModelError naming ``name`` and the value."""
    if width is None:
        return None
    try:
        w = tuple(float(v) for v in width)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be three numbers (got {width!r})") from None
    text = " ".join(f"{v:g}" for v in w)
    if len(w) != 3 or not all(math.isfinite(v) and v > 0 for v in w):
        raise ModelError(f"{name} must be three finite numbers > 0 for a 3-D case (got {text})")
    if max(w) >= radius:
        raise ModelError(f"{name} {text} must be smaller than the ball's radius {radius:g}")
    return w


def local_extents(msh: Any, point: Sequence[float]) -> np.ndarray:
    """Extent along each coordinate (shape (gdim,), θ units) of the cell of
    ``msh`` containing ``point``: the valley's cells are thinner in θ1 than
    in θ2, θ3 (:mod:`fpsolve.fem.ball`).  Collective; inf outside the mesh."""
    from mpi4py import MPI

    gdim = msh.geometry.dim
    p = np.zeros((1, 3))
    p[0, :gdim] = [float(v) for v in point[:gdim]]
    found, cells = _compat.colliding_cells(msh, p)
    ext = np.full(gdim, math.inf)
    if found.size:
        xyz = msh.geometry.x[_compat.cell_geometry_dofs(msh, int(cells[0])), :gdim]
        ext = xyz.max(axis=0) - xyz.min(axis=0)
    return np.array([msh.comm.allreduce(float(e), op=MPI.MIN) for e in ext])


def valley_observables(msh: Any, valley: NValley, constants: Dict[str, Any]) -> Dict[str, Any]:
    """UFL loss ``L = ½ Σ g_i(θ1) y_i² + ½ ε θ1²`` and flatness ``F = (Σ
    g_i(θ1))^(-1/2)`` (docs/model.md §9) of the valley, from the constants of
    :func:`fpsolve.fem.nvalley_forms.nvalley_coefficients`."""
    import ufl

    th = ufl.SpatialCoordinate(msh)
    g = [formulas.g(th[0], constants[f"a0_{i}"], constants[f"a2_{i}"], constants[f"a4_{i}"])
         for i in range(valley.m)]
    loss = 0.5 * sum(g[i] * th[i + 1] ** 2 for i in range(valley.m)) + 0.5 * constants["eps"] * th[0] ** 2
    return {"loss": loss, "flatness": sum(g) ** -0.5}


def expression_loss(msh: Any, model: Any) -> Any:
    """UFL loss of a 3-variable :class:`~fpsolve.model.expression.Model`."""
    import ufl

    d = model.derivation
    th = ufl.SpatialCoordinate(msh)
    mapping = {d.symbols[i]: th[i] for i in range(3)}
    mapping.update({sym: float(v) for sym, v in zip(d.symbols[3:], model.arguments)})
    return to_ufl(d.loss, mapping)


@dataclasses.dataclass
class CaseRun3D:
    """A 3-D transient: the :class:`~fpsolve.fem.transient.Evolution`
    (rows with :data:`COLUMNS`), the summary (summary.json) and the number of
    XDMF frames written."""

    evolution: Evolution
    summary: dict
    frames: int


def evolve_case(case: Any, level: Noise | None = None, *, noise: str = "sgd", start: Sequence[float],
                t_end: float, start_width: Sequence[float] | None = None, wall: str = "absorbing",
                tol: float = 1e-4, dt: float | None = None, radius: float = 2.0,
                center: Sequence[float] = (0.0, 0.0, 0.0), degree: int = 2, h_min: float | None = None,
                h_max: float | None = None, comm: Any = None, xdmf_path: str | None = None, frames: int = FRAMES,
                stops: Sequence[float] = (), eigen: bool = True, weighted: bool = True,
                petsc_options: Dict[str, Any] | None = None,
                progress: Callable[[str], None] | None = None,
                on_time: Callable[[float], None] | None = None, schedule: Any = None) -> CaseRun3D:
    """The density of a 3-D case in time (docs/model.md §8, §9) from a
    Gaussian at ``start`` (θ1, θ2, θ3) of standard deviations ``start_width``
    (three numbers; default :data:`~fpsolve.fem.transient.START_WIDTH_CELLS`
    local mesh sizes: h the median of the start cell's extents along the
    axes in the mesher's coordinates ξ, (c h, h, h) with c the ball's θ1-stretch,
    :mod:`fpsolve.fem.ball`) to ``t_end`` (time
    units).

    ``case`` and ``level``/``noise``: as :func:`fpsolve.fem.stationary3d.solve`
    (the valley with m = 2 and its Noise, or a 3-variable Model); the ball of
    ``radius``/``center`` with the sizes of
    :func:`~fpsolve.fem.stationary3d.ball_sizes` (``h_min``, ``h_max``).
    ``tol``/``dt``: adaptive or fixed TR-BDF2 steps
    (:meth:`~fpsolve.fem.transient.Transient.run`).  Writes ``frames``
    log-spaced snapshots to ``xdmf_path`` (collective).  ``eigen``: also the
    eigen-solve of the same operator, its λ0 next to the fitted
    late-time decay rate of the survival (last half of the run) and its
    moments.  ``weighted`` (the valley only): the trial space P = w u of
    :mod:`fpsolve.fem.weight` (False: plain P_k, whose coarse balls
    mis-resolve the fast directions' variances by a few per cent); plain
    all the same when the start is wider than w
    (:func:`fpsolve.fem.weight.start_misfit` above
    :data:`~fpsolve.fem.weight.START_MISFIT_MAX`, ``start_weight_misfit`` in
    the summary).  ``stops``: times the steps land on exactly (rows there).
    ``petsc_options``: the stepper's linear-solver options over
    :func:`fpsolve.fem.solve3d.linear_options` of the dofs.  ``on_time(t)`` after every accepted step.
    ``schedule``: a :class:`~fpsolve.model.schedule.Schedule` (docs/model.md
    §10): K(t) = K_drift + T(t)/T K_noise (every 3-D noise has D ∝ T: the
    valley's (T/2) H², its diagonal, (T/2) I, and an expression's (α/2)Σ with
    Σ ∝ Δ); the mesh, the valley's weight w (a basis: P = w u stays exact) and
    the eigen-solve are at the case's own T; rows and summary gain T and α.
    Raises ModelError on bad input, before any meshing.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    say = progress or (lambda message: None)
    valley, T, alpha, record = stationary3d.check_case(case, level, noise, "transient")
    wall = check_wall(wall)
    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")
    r, c = ball.check_ball(radius, center)
    x0 = check_start(start, r, c, "start")
    width = check_start_width(start_width, r, "start width")
    t_end = check_t_end(t_end, alpha)
    if valley is None:
        case.check_formulas(r, c)
    order = 2 if degree == 2 and valley is None else 1  # as stationary3d.solve: straight cells for the valley
    sizes = stationary3d.ball_sizes(case, T, r, c, h_min, h_max, geometry_order=order, noise=noise)
    msh, mesh_info, t_mesh = ball.create_ball(sizes, comm)
    say(f"ball meshed: {mesh_info['cells']} tetrahedra ({sizes.rule}, h_min {sizes.h_min:.3g}) in {t_mesh:.2f}s")
    if valley is not None:
        drift, D, divD, consts = nvalley_forms.nvalley_coefficients(msh, valley, T, noise)
        observables = valley_observables(msh, valley, consts)
    else:
        drift, D, divD, _ = stationary3d.expression_coefficients(case, msh)
        observables = {"loss": expression_loss(msh, case), "flatness": None}
    op = Operator.build(msh, drift, D, divD, degree=degree, wall=wall)
    if width is None:  # a few local sizes: the median of the start cell's extents in the mesher's ξ (θ1 / stretch)
        scale = np.array([sizes.stretch, 1.0, 1.0])
        h = float(np.median(local_extents(msh, x0) / scale))
        width = tuple(float(START_WIDTH_CELLS * h * v) for v in scale)
    misfit, warnings = None, []
    if valley is not None and weighted:  # P = w u as in the stationary solve, if w u can hold the start
        log_w = weight.valley_log_weight(op.V, valley, T, noise)
        misfit = weight.start_misfit(log_w, gaussian_density(3, x0, width))
        if misfit <= weight.START_MISFIT_MAX:
            op = op.with_log_weight(log_w)
        else:
            how = ("has no positive mass" if math.isinf(misfit) else
                   f"misses the Gaussian's mass or variances by {misfit:.3g} > {weight.START_MISFIT_MAX:g}")
            warnings.append(f"plain P{degree}, not the weighted space: w u cannot hold the start (it {how}): "
                            "a start much wider than the stationary density across the fast directions, or "
                            "narrower than the mesh; a --start-width between the two keeps the weighted space")
            say(warnings[-1])
    tr = Transient(op, **observables, petsc_options={**solve3d.linear_options(op.dofs), **(petsc_options or {})})
    p0 = tr.gaussian(x0, width)
    due = frame_clock(t_end, frames)
    written: List[float] = []
    series = _compat.XdmfSeries(xdmf_path, msh) if xdmf_path else None

    def on_step(t: float, function: Any, row: dict) -> None:
        if due(t):
            written.append(t)
            if series:
                series.write(function, t)
        if on_time:
            on_time(t)

    trial = f"P{degree}" + (" times the closed form of docs/model.md §9" if op.log_weight is not None else "")
    say(f"transient: {op.dofs} dofs, {trial}, {wall} wall, start {x0} width "
        f"{tuple(round(v, 6) for v in width)}, t_end {t_end:g}")
    try:
        ev = tr.run(p0, t_end, tol=tol, dt=dt, on_step=on_step, stops=stops, schedule=schedule, reference_T=T)
    finally:
        if series:
            series.file.close()
        lu = dict(tr.options_in_effect)
        tr.destroy()
    say(f"{ev.steps} steps ({ev.rejected} rejected), {ev.factorisations} LU factorisations, {ev.seconds:.2f}s")
    try:
        rate = ev.decay_rate(0.5)
    except ValueError:  # S(t) not positive late on: an unresolved density
        rate = math.nan
    last = ev.rows[-1]
    survival = ev.column("survival")
    summary: Dict[str, Any] = {
        "case": record, "variables": 3, "T": T, "domain": "ball", "radius": r, "center": list(c),
        "degree": degree, "trial_space": trial, "start_weight_misfit": misfit, "wall": wall, "noise": record.get("noise", noise),
        "mesh": mesh_info, "mesh_rule": sizes.rule, "dofs": op.dofs, "ranks": comm.size,
        "start": list(x0), "start_width": [float(v) for v in width], "t_end": t_end,
        "t_end_steps": t_end / alpha if schedule is None else len(schedule.table(t_end)["alpha"]),
        **{k: v for k, v in ev.info.items() if k not in ("wall", "degree", "t_end", "options_in_effect")},
        "lu_options_in_effect": lu,
        "steps": ev.steps, "rejected_steps": ev.rejected, "factorisations": ev.factorisations,
        "min_dt": float(min(row["dt"] for row in ev.rows[1:])), "max_dt": float(max(row["dt"] for row in ev.rows[1:])),
        "survival_final": last["survival"],
        "mass_error_max": float(np.max(np.abs(survival - 1.0))) if wall == "reflecting" else None,
        "decay_rate_fit": rate, "decay_rate_fit_window": [0.5 * t_end, t_end],
        "final": {k: last[k] for k in COLUMNS},
        "frames": len(written), "animation": None, "warnings": warnings,
        "transient_seconds": ev.seconds, "mesh_seconds": t_mesh,
    }
    if schedule is not None:  # as in 2-D: the eigen-solve and its λ0 at the case's own T
        summary.update({"T_final": last["T"], "alpha_final": last["alpha"], "T_range": list(schedule.T_range(t_end)),
                        "escape_rate_eigen_at": "the case's T (schedule start values)"})
    first_row = ev.rows[0]
    got = [first_row[f"var_theta{i}"] for i in (1, 2, 3)]
    off = max(abs(g / (w * w) - 1.0) for g, w in zip(got, width))
    if off > START_VARIANCE_LIMIT:
        warnings.append("the start on the mesh is not the requested Gaussian: Var theta1..3 at t = 0 "
                        f"{', '.join(f'{g:.3g}' for g in got)} against {', '.join(f'{w * w:.3g}' for w in width)} "
                        "(a --start-width narrower than the mesh, or a start the wall cuts)")
    if wall == "absorbing" and math.isfinite(rate) and rate < 0:
        warnings.append(f"the survival grows late in the run (fitted decay rate {rate:.3g} < 0) with an absorbing "
                        "wall: the mesh does not resolve the density (refine: --h-min)")
    top = float(np.max(survival))
    if wall == "absorbing" and top > 1.0 + SURVIVAL_RISE_LIMIT:
        warnings.append(f"the survival rose to {top:.8g} > 1 with an absorbing wall: the discrete operator has "
                        "a negative λ0, the mesh does not resolve the density (refine: --h-min)")
    if valley is not None:  # the closed form of the noise (fpsolve.theory.nvalley_noise), None where there is none
        summary["closed_form"], closed_warning = nvalley_noise.closed_form_record(
            valley, T, noise, r, ("mean_abs_theta1", "std_abs_theta1", "var_y", "flatness_at_mode"))
        if closed_warning:
            warnings.append(closed_warning)
    if eigen:
        sol, mom, timing = solve3d.solve(op)
        lam = float(sol.eigenvalue.real)
        summary.update({
            "escape_rate_eigen": lam,
            "decay_rate_relative_difference": (rate / lam - 1.0) if lam != 0 and math.isfinite(rate) else None,
            "stationary": {k: mom[k] for k in ("mean_abs_theta1", "var_theta1", "var_theta2", "var_theta3",
                                               "negative_mass")},
            "stationary_trial_space": f"{trial} (the stepper's operator)",
            "eigen_solve_seconds": timing["solve_seconds"]})
        if mom["negative_mass"] > diagnostics.NEGATIVE_MASS_LIMIT:
            warnings.append(f"negative mass {mom['negative_mass']:.2g} > {diagnostics.NEGATIVE_MASS_LIMIT:g} in "
                            "the eigen-solve of the stepper's operator: the mesh does not resolve the density "
                            "(refine: --h-min)")
        say(f"late-time decay rate {rate:.6g} (fit) vs lambda0 {lam:.6g} (eigen-solve)")
    return CaseRun3D(ev, summary, len(written))


def csv_text(evolution: Evolution, alpha: float, schedule: Any = None) -> str:
    """evolution.csv of a 3-D run: ``t`` (time units), ``sgd_steps`` (t/α; under
    a ``schedule`` the SGD step k holding t), ``dt``, :data:`COLUMNS` (the 2-D
    columns, then E θ1², E θ3, Var θ3) and under a schedule ``T``, ``alpha``
    (:func:`fpsolve.fem.transient.csv_text`'s columns)."""
    return transient_csv_text(evolution, alpha, schedule, COLUMNS)
