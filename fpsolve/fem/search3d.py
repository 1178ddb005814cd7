"""The search time in three variables: the backward equation on the tetrahedral ball (docs/model.md §8, §9; issue 19).

:func:`search_case` is what ``search_time.py --fast-directions 2`` (and a
``--loss`` in θ1, θ2, θ3) computes: the mean first-passage time τ(θ) of the
full 3-D dynamics, ``𝓛τ = −1`` off a target, ``τ = 0`` on it
(:func:`fpsolve.fem.backward.mean_first_passage_time`), on the ball of
:func:`fpsolve.fem.stationary3d.ball_sizes` (graded from §9's widths for
the valley, uniform for an expression model) with the target's θ1-edges
as mesh planes (:attr:`fpsolve.fem.ball.BallSizes.planes`: a slab target
is then resolved exactly; on the non-conforming mesh τ moved by ±0.6 %
between meshes, on the conforming one it converges, see :data:`MEASURED`).

The valley's default target is the folded window of the 1-D search time,
``x* − σ* ≤ |θ1| ≤ x* + σ*`` around the mode x* of the slow marginal, and
its start (x* + 3σ*, 0, 0) (:func:`fpsolve.theory.nvalley_noise.search_time`
of the noise's closed form: §9's adiabatic elimination for sgd and
sgd-diagonal, the exact Gibbs marginal for isotropic; reflecting at θ1 =
radius): the FEM's τ at the start is reported beside the reduced 1-D
formula, and so is τ averaged over the fast conditional Gaussian at the
start (θ2, θ3 ~ N(0, s_i(x0)), s_i = T g_i/2, or T/(2 g_i) for isotropic;
for sgd the Monte Carlo's start in :func:`fpsolve.validation.nvalley.search_point`).  Time unit: α SGD
steps (t = α k); ``_steps`` keys are τ/α.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from fpsolve.fem import backward, ball, stationary3d
from fpsolve.fem.forms import check_wall
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley_noise

#: The tool name of 3-D search-time results (their folder's marker).
TOOL = "search-time-N3"
#: Gauss-Hermite points per fast direction of the conditional average at the start.
CONDITIONAL_POINTS = 7
#: Points of the τ profile along θ1 (tau_theta1.csv).
PROFILE_POINTS = 161
#: Measured (m = 2, T = 0.05, sgd noise, reflecting ball R = 2, P2; planes on the
#: target's edges): τ(x0, 0, 0) 15.835 / 15.768 / 15.763 and its conditional
#: average 15.590 / 15.527 / 15.523 at h_min/h_max 0.15/0.5, 0.1/0.4, 0.075/0.3
#: (27k / 58k / 113k dofs); 1-D closed form 15.778; Monte Carlo (SDE, conditional
#: start) pooled over dt 0.02 … 0.0025 15.75 ± 0.07, 15.62 ± 0.07 corrected for its
#: discrete test of the target (docs/model.md §9).
MEASURED = {"tau_start": (15.835, 15.768, 15.763), "tau_conditional": (15.590, 15.527, 15.523),
            "dofs": (26601, 57705, 112551)}


@dataclasses.dataclass(frozen=True)
class Target3D:
    """A first-passage set on the ball: ``kind`` ``slab`` (numbers lo, hi:
    ``lo ≤ |θ1| ≤ hi``), ``box`` (c1, c2, c3, w1, w2, w3: centre and
    half-widths) or ``ball`` (c1, c2, c3, r), θ units."""

    kind: str
    numbers: Tuple[float, ...]

    def predicate(self) -> backward.Target:
        """The predicate on coordinates (3, n) (:mod:`fpsolve.fem.backward`)."""
        if self.kind == "slab":
            return backward.slab_target(*self.numbers)
        if self.kind == "ball":
            return backward.ball_target(self.numbers[:3], self.numbers[3])
        return box_target(self.numbers[:3], self.numbers[3:])

    def planes(self) -> Tuple[float, ...]:
        """θ1-values the mesh conforms to: the slab's and the box's θ1-edges (a
        ball target has none: its sphere is resolved to the mesh size)."""
        if self.kind == "slab":
            lo, hi = self.numbers
            return tuple(p for p in (lo, hi, -lo, -hi) if p != 0.0)
        if self.kind == "box":
            return (self.numbers[0] - self.numbers[3], self.numbers[0] + self.numbers[3])
        return ()

    def as_dict(self) -> dict:
        return {"kind": self.kind, "numbers": list(self.numbers)}


def box_target(center: Sequence[float], half_widths: Sequence[float]) -> backward.Target:
    """The box ``|θi − ci| ≤ wi`` (i = 1..3, θ units) as a predicate on
    coordinates (3, n); ModelError unless 3 finite centres and 3 finite half-widths > 0."""
    c, w = np.asarray(center, dtype=float).reshape(-1), np.asarray(half_widths, dtype=float).reshape(-1)
    if c.size != 3 or w.size != 3 or not (np.all(np.isfinite(c)) and np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ModelError(f"target box needs 3 finite centres and 3 finite half-widths > 0 "
                         f"(got {' '.join(f'{v:g}' for v in (*c, *w))})")
    tol = 1e-10 * max(1.0, float(np.max(np.abs(c))), float(np.max(w)))

    def inside(x: np.ndarray) -> np.ndarray:
        return np.all([np.abs(x[i] - c[i]) <= w[i] + tol for i in range(3)], axis=0)

    return inside


def check_target(kind: str, numbers: Sequence[float], radius: float, center: Sequence[float],
                 option: str = "target") -> Target3D:
    """The :class:`Target3D` when valid and meeting the ball ``|θ − center| <
    radius`` without covering it; else ModelError naming ``option`` and the
    values, before any meshing."""
    vals = tuple(float(v) for v in numbers)
    given = f"{option} {' '.join(f'{v:g}' for v in vals)}"
    want = {"slab": 2, "box": 6, "ball": 4}[kind]
    if len(vals) != want:
        raise ModelError(f"{given}: a {kind} target takes {want} numbers")
    if not all(math.isfinite(v) for v in vals):
        raise ModelError(f"{given}: the numbers must be finite")
    c = np.asarray(center, dtype=float)
    if kind == "slab":
        lo, hi = vals
        if not 0.0 <= lo < hi:
            raise ModelError(f"{given}: must satisfy 0 <= LO < HI")
        if lo >= abs(c[0]) + radius:
            raise ModelError(f"{given} lies outside the ball of radius {radius:g} (|θ1| <= {abs(c[0]) + radius:g})")
        if lo == 0.0 and hi >= abs(c[0]) + radius:
            raise ModelError(f"{given} covers the whole ball: the search time is 0 everywhere")
    elif kind == "box":
        w = np.array(vals[3:])
        if not np.all(w > 0):
            raise ModelError(f"{given}: half-widths must be > 0")
        gap = np.maximum(np.abs(np.array(vals[:3]) - c) - w, 0.0)
        if np.linalg.norm(gap) >= radius:
            raise ModelError(f"{given} lies outside the ball of radius {radius:g}")
        if np.all(np.abs(np.array(vals[:3]) - c) + radius <= w):
            raise ModelError(f"{given} covers the whole ball: the search time is 0 everywhere")
    else:
        r = vals[3]
        if not r > 0:
            raise ModelError(f"{given}: the radius must be > 0")
        dist = float(np.linalg.norm(np.array(vals[:3]) - c))
        if dist - r >= radius:
            raise ModelError(f"{given} lies outside the ball of radius {radius:g}")
        if dist + radius <= r:
            raise ModelError(f"{given} covers the whole ball: the search time is 0 everywhere")
    return Target3D(kind, vals)


def check_start(start: Sequence[float], radius: float, center: Sequence[float]) -> Tuple[float, float, float]:
    """The start (three finite numbers inside the ball) or ModelError naming it."""
    x = tuple(float(v) for v in start)
    if len(x) != 3 or not all(math.isfinite(v) for v in x):
        raise ModelError(f"--start must be three finite numbers X Y Z in 3-D (got {' '.join(f'{v:g}' for v in x)})")
    if math.dist(x, tuple(center)) >= radius:
        raise ModelError(f"--start {x[0]:g} {x[1]:g} {x[2]:g} must lie inside the ball of radius {radius:g}")
    return x  # type: ignore[return-value]


def default_target(valley: NValley, level: Noise, radius: float,
                   noise: str = "sgd") -> Tuple[Target3D, Tuple[float, float, float], dict]:
    """(target, start, 1-D result) of the valley: the slab x* ± σ* on |θ1| and
    the start (x0, 0, 0), x0 = x* + 3σ*, as :func:`fpsolve.theory.nvalley_noise.search_time`
    sets them for the closed form of ``noise`` (reflecting at θ1 = ``radius``;
    its result is returned too).  Raises ModelError where the slow marginal has no peak."""
    st = nvalley_noise.search_time(valley, level, noise, half_width=radius)
    xs, w = st["mode_theta1"], st["window"]
    return Target3D("slab", (max(0.0, xs - w), xs + w)), (st["start"], 0.0, 0.0), st


@dataclasses.dataclass
class Search3DRun:
    """A 3-D search: ``summary`` (summary.json's dict), ``tau`` (and
    ``committor``, or None) :class:`~fpsolve.fem.backward.BackwardSolution`,
    ``profile`` ({column: (PROFILE_POINTS,)}: ``theta1`` and ``tau_fem`` on the
    line through the start along θ1 (ending h_max²/(8R) inside the sphere, within the polygonal wall), ``tau_1d`` the reduced formula where the
    default target applies, NaN elsewhere) and the section θ3 = start's
    (``xs`` (nx,), ``ys`` (ny,), ``tau_section`` (ny, nx), NaN outside the ball)."""

    summary: Dict[str, Any]
    tau: backward.BackwardSolution
    committor: Optional[backward.BackwardSolution]
    profile: Dict[str, np.ndarray]
    xs: np.ndarray
    ys: np.ndarray
    tau_section: np.ndarray


def conditional_average(sol: backward.BackwardSolution, valley: NValley, T: float, x0: float,
                        points: int = CONDITIONAL_POINTS, noise: str = "sgd") -> float:
    """τ averaged over the fast conditional at θ1 = x0: θ2, θ3 independent
    N(0, s_i(x0)) of the closed form of ``noise`` (T g_i/2, or T/(2 g_i) for
    isotropic; docs/model.md §9, :func:`fpsolve.theory.nvalley_noise.fast_variance`;
    the Monte Carlo's start), by a ``points × points`` Gauss-Hermite rule.  Collective."""
    z, wts = np.polynomial.hermite_e.hermegauss(points)
    s = np.sqrt(np.asarray(nvalley_noise.fast_variance(valley, T, x0, noise), dtype=float))
    Y, Z = np.meshgrid(z * s[0], z * s[1], indexing="ij")
    W = np.outer(wts, wts) / (2.0 * math.pi)
    vals = sol.evaluate(np.column_stack([np.full(Y.size, x0), Y.ravel(), Z.ravel()]))
    return float(np.sum(W.ravel() * vals))


def _reduced_profile(valley: NValley, level: Noise, x: np.ndarray, lo: float, hi: float,
                     radius: float, noise: str = "sgd") -> np.ndarray:
    """The 1-D formula's τ(|x|) into [lo, hi] (reflecting at 0 and ``radius``), 0 in the window."""
    out = np.zeros_like(x)
    for i, v in enumerate(np.abs(x)):
        if v > hi and v < radius:
            out[i] = nvalley_noise.mean_first_passage_time(valley, level, float(v), hi, radius, noise)
        elif v < lo:
            out[i] = nvalley_noise.mean_first_passage_time(valley, level, float(v), lo, 0.0, noise)
        elif v >= radius:
            out[i] = math.nan
    return out


def search_case(case: Any, level: Noise | None = None, *, noise: str = "sgd", target: Target3D | None = None,
                start: Sequence[float] | None = None, wall: str = "reflecting", with_committor: bool = False,
                radius: float = 2.0, center: Sequence[float] = (0.0, 0.0, 0.0), degree: int = 2,
                h_min: float | None = None, h_max: float | None = None, max_dofs: int | None = None,
                petsc_options: Dict[str, Any] | None = None,
                section: Tuple[int, int] | None = (161, 161), comm: Any = None,
                progress: Callable[[str], None] | None = None) -> Search3DRun:
    """Mean first-passage time of a 3-D case (docs/model.md §8, §9) into ``target``.

    ``case``: the valley with m = 2 (:class:`~fpsolve.model.nvalley.NValley`,
    with ``level`` its Noise and ``noise`` one of
    :data:`fpsolve.fem.nvalley_forms.FEM_NOISES`), or a 3-variable
    :class:`~fpsolve.model.expression.Model` (``level`` None).  ``target``:
    a :class:`Target3D` (default, valley only, :func:`default_target`);
    ``start`` (three numbers; default, valley only, (x* + 3σ*, 0, 0)); an
    expression model needs both.  The ball: ``radius``, ``center``, sizes
    of :func:`fpsolve.fem.stationary3d.ball_sizes` (``h_min``, ``h_max``) with
    the target's θ1-planes, its predicted dofs and memory checked against
    ``max_dofs`` (default 2e6) and the machine before meshing
    (:func:`fpsolve.fem.stationary3d.check_budget`); P``degree``; ``wall`` reflecting (default) or
    absorbing (leaving the ball also ends the search).  ``with_committor``:
    also q (target before the wall).  ``section`` (nx, ny): τ on the plane θ3
    = start's, None to skip.  Collective.  Raises ModelError naming bad input.

    summary: τ at the start (``mean_first_passage_time``, time units; also
    ``search_time``) and in SGD steps; for the valley ``tau_conditional``
    (:func:`conditional_average`); with the default target and start the 1-D
    formula ``search_time_1d``; ``mfpt_dofs``, ``mfpt_target_dofs``, timings; ``tau_range`` /
    ``committor_range`` (nodal [min, max]) and ``warnings``
    (:func:`fpsolve.fem.backward.search_checks`).
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    say = progress or (lambda message: None)
    t_start = time.perf_counter()
    wall = check_wall(wall)
    defaults = target is None and start is None  # the 1-D formula's own search
    target_default = target is None
    if degree not in (1, 2):
        raise ModelError(f"degree must be 1 or 2 (got {degree!r})")
    r, c = ball.check_ball(radius, center)
    valley, T, alpha, record = stationary3d.check_case(case, level, noise, "search")
    st = None
    if valley is not None:
        if target is None or start is None:
            d_target, d_start, st = default_target(valley, level, r, noise)
            target = target or d_target
            start = start or d_start
    elif target is None or start is None:
        raise ModelError("a 3-variable --loss has no default target or start: give --target-theta1 LO HI, "
                         "--target C1 C2 C3 W1 W2 W3 or --target-ball C1 C2 C3 R, and --start X Y Z")
    if valley is None:
        noise = case.noise
    x0 = check_start(start, r, c)
    order = 2 if degree == 2 and valley is None else 1  # as stationary3d.solve
    sizes = stationary3d.ball_sizes(case, T, r, c, h_min, h_max, geometry_order=order, noise=noise)
    sizes = dataclasses.replace(sizes, planes=target.planes())
    stationary3d.check_budget(ball.predicted_dofs(sizes, degree), DEFAULT_MAX_DOFS if max_dofs is None else max_dofs,
                              stationary3d.sizes_source(sizes), comm.size)
    msh, mesh_info, t_mesh = ball.create_ball(sizes, comm)
    say(f"ball meshed: {mesh_info['cells']} tetrahedra ({sizes.rule}, planes at θ1 = "
        f"{', '.join(f'{p:.4g}' for p in sizes.planes) or 'none'}) in {t_mesh:.2f}s")
    op = stationary3d.case_operator(case, msh, T, noise, degree=degree, wall=wall)
    pred = target.predicate()
    tau = backward.mean_first_passage_time(op, target=pred, petsc_options=petsc_options)
    say(f"mean first-passage time: {tau.dofs} dofs, {tau.target_dofs} target dofs, solve {tau.solve_seconds:.2f}s")
    q = backward.committor(op, target=pred, petsc_options=petsc_options) if with_committor else None
    tau_start = float(tau.evaluate(np.array([x0]))[0])
    summary: Dict[str, Any] = {
        "case": record, "variables": 3, "T": T, "domain": "ball", "radius": r, "center": list(c),
        "degree": degree, "wall": wall, "noise": noise, "mesh": mesh_info,
        "target": target.as_dict(), "target_default": target_default, "start": list(x0),
        "search_time": tau_start, "search_time_steps": tau_start / alpha,
        "mean_first_passage_time": tau_start, "mean_first_passage_time_steps": tau_start / alpha,
        **{f"mfpt_{k}": v for k, v in tau.summary().items() if k != "kind"},
        "mesh_seconds": t_mesh,
    }
    if valley is not None:
        tc = conditional_average(tau, valley, T, x0[0], noise=noise)
        summary["tau_conditional"] = tc
        summary["tau_conditional_steps"] = tc / alpha
        var = "T/(2 g_i(x0))" if nvalley_noise.form(noise) == "gibbs" else "T g_i(x0)/2"
        summary["tau_conditional_rule"] = (f"τ averaged over θ2, θ3 ~ N(0, {var}) at θ1 = x0 "
                                           f"({CONDITIONAL_POINTS}x{CONDITIONAL_POINTS} Gauss-Hermite)")
    if st is not None and defaults:
        summary["search_time_1d"] = st["search_time"]
        summary["search_time_1d_steps"] = st["search_time"] / alpha
        summary["search_1d"] = {**{k: st[k] for k in ("start", "target", "reflect", "window", "mode_theta1")},
                                "form": nvalley_noise.form(noise)}
    if q is not None:
        summary["committor_at_start"] = float(q.evaluate(np.array([x0]))[0])
        summary["committor_solve_seconds"] = q.solve_seconds
    ranges, summary["warnings"] = backward.search_checks(tau, q)
    summary.update(ranges)
    # τ along θ1 through the start, and the section θ3 = start's
    yz = math.hypot(x0[1] - c[1], x0[2] - c[2])
    # inside the polygonal wall: a straight wall edge of length h_max lies h_max²/(8R) inside the sphere
    half = math.sqrt(max(r * r - yz * yz, 0.0)) - (sizes.h_max ** 2 / (8 * r) + 1e-9 * r)
    line = np.linspace(c[0] - half, c[0] + half, PROFILE_POINTS)
    profile = {"theta1": line,
               "tau_fem": tau.evaluate(np.column_stack([line, np.full_like(line, x0[1]), np.full_like(line, x0[2])]))}
    if st is not None and target_default:
        profile["tau_1d"] = _reduced_profile(valley, level, line, *target.numbers, r, noise)
        summary["profile_tau_1d"] = ("tau_theta1.csv's tau_1d: the 1-D reduced formula, reflecting at |θ1| = "
                                     f"radius (the FEM's wall: {wall})")
    xs = ys = np.zeros(0)
    grid = np.zeros((0, 0))
    if section:
        xs = np.linspace(c[0] - r, c[0] + r, section[0])
        ys = np.linspace(c[1] - r, c[1] + r, section[1])
        X, Y = np.meshgrid(xs, ys)
        pts = np.column_stack([X.ravel(), Y.ravel(), np.full(X.size, x0[2])])
        grid = tau.evaluate(pts)
        grid[np.linalg.norm(pts - np.asarray(c), axis=1) > r] = np.nan
        grid = grid.reshape(len(ys), len(xs))
    summary["wall_seconds"] = time.perf_counter() - t_start
    return Search3DRun(summary, tau, q, profile, xs, ys, grid)
