"""The 3-D solve to a stated accuracy: the ball refined until the moments' error estimate is below ``tol``.

``solve_fp.py --tol`` (or ``--mesh-rule adaptive``) in three variables.  The
2-D loop refines where a residual indicator points (:mod:`fpsolve.fem.adapt`);
in 3-D the ball is already graded from the closed forms (the valley) or
uniform (an expression model), so each cycle solves on the same ball with
every size divided by :data:`FACTOR` (twice the dofs), starting from the
default sizes times :data:`START` (a quarter of the dofs).  The error
estimate is the 2-D one: the change of the watched moments between two
cycles, extrapolated with the nominal rate of P_k,
``e ≈ |Q_k − Q_{k−1}| / (r^p − 1)``, ``r = N_k/N_{k−1}``, ``p = (k + 1)/3``
(error ∝ h^(k+1) = N^(−(k+1)/3) in 3-D; :func:`fpsolve.fem.adapt.extrapolation_factor`).
Watched: mean and std of |θ1| and every variance relative to themselves,
the means relative to their standard deviation except those a symmetry
makes 0 (below :data:`ZERO_MEAN` standard deviations on both meshes).
The loop stops when the estimate is at most ``tol``, or, with a warning,
when the next ball's predicted dofs exceed ``max_dofs`` (or its predicted
memory this machine's): the budget is checked on the balls the loop builds
(:func:`first_sizes` up front, refused when even the first cycle is above
it; every finer one before it is meshed), not on the default sizes, which
the first ball is coarser and the later ones finer than (as the 2-D loop,
:func:`fpsolve.fem.adapt.adapt`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Sequence

from fpsolve.fem import ball, stationary3d
from fpsolve.fem.adapt import extrapolation_factor
from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import ModelError

#: Sizes divided by this per cycle (2^(1/3): twice the dofs).
FACTOR = 2.0 ** (1.0 / 3.0)
#: The first ball: the default sizes times this (a quarter of the dofs).
START = FACTOR ** 2
#: The relative moments watched, and the means watched relative to their standard deviation.
RELATIVE_KEYS = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2", "var_theta3")
MEAN_KEYS = (("mean_theta1", "var_theta1"), ("mean_theta2", "var_theta2"), ("mean_theta3", "var_theta3"))
#: A mean below this many standard deviations on both meshes is taken as 0 by symmetry (not watched).
ZERO_MEAN = 1e-8


def _scaled(sizes: ball.BallSizes, factor: float) -> ball.BallSizes:
    return dataclasses.replace(sizes, h_min=min(sizes.h_min * factor, sizes.radius),
                               h_max=min(sizes.h_max * factor, sizes.radius))


def first_sizes(case: Any, T: float, radius: float = 2.0, center: Sequence[float] = (0.0, 0.0, 0.0),
                h_min: float | None = None, h_max: float | None = None, degree: int = 2,
                noise: str = "sgd") -> ball.BallSizes:
    """The first cycle's ball: :func:`fpsolve.fem.stationary3d.ball_sizes`
    (graded for the valley's ``noise``; quadratic tetrahedra for P2 on an
    expression model's ball, straight for the valley, as
    :func:`~fpsolve.fem.stationary3d.solve`) times :data:`START`.  What
    ``--max-dofs`` is checked against before anything is written.  Raises
    ModelError naming a bad value."""
    order = 2 if degree == 2 and not isinstance(case, NValley) else 1
    return _scaled(stationary3d.ball_sizes(case, T, radius, center, h_min, h_max, geometry_order=order,
                                           noise=noise), START)


def _next_too_large(finer: ball.BallSizes, degree: int, budget: int, ranks: int) -> Optional[str]:
    """Why the loop must not build ``finer`` (its predicted dofs above ``budget``,
    or its predicted memory above this machine's), or None."""
    dofs = ball.predicted_dofs(finer, degree)
    if dofs > budget:
        return f"the next ball ({dofs} dofs predicted) would exceed --max-dofs {budget}"
    memory = stationary3d.machine_memory()
    need = stationary3d.predicted_memory(dofs, ranks)
    if memory is not None and need > memory:
        return (f"the next ball ({dofs} dofs predicted) would need about {need / 1e9:.3g} GB, above this "
                f"machine's {memory / 1e9:.3g} GB of memory")
    return None


def moment_errors(new: Dict[str, Any], old: Dict[str, Any]) -> Dict[str, float]:
    """Relative changes of the watched moments between two cycles (module docstring)."""
    out = {}
    for key in RELATIVE_KEYS:
        if new.get(key):
            out[key] = abs(new[key] - old[key]) / abs(new[key])
    for key, var in MEAN_KEYS:
        std_new, std_old = math.sqrt(max(new[var], 0.0)), math.sqrt(max(old[var], 0.0))
        if std_new > 0 and not (abs(new[key]) <= ZERO_MEAN * std_new and abs(old[key]) <= ZERO_MEAN * std_old):
            out[key] = abs(new[key] - old[key]) / std_new
    return out


def solve_to_tolerance(case: Any, level: Any = None, *, tol: float, max_dofs: Optional[int] = None,
                       radius: float = 2.0, center: Sequence[float] = (0.0, 0.0, 0.0),
                       h_min: float | None = None, h_max: float | None = None, degree: int = 2,
                       progress: Callable[[str], None] | None = None, **options: Any) -> "stationary3d.Result3D":
    """:func:`fpsolve.fem.stationary3d.solve` on balls refined by :data:`FACTOR`
    until the error estimate (module docstring, relative) is at most ``tol``
    (0 < tol < 1).  ``case``/``level``, the ball (``radius``, ``center``,
    ``h_min``/``h_max``: the sizes the first ball is :data:`START` times
    coarser than) and ``options`` (noise, wall, weighted, petsc_options,
    comm, …) as for ``solve``.  Returns the last cycle's Result3D; its
    summary gains ``error_estimate``, ``tol`` and ``adaptive`` (one record
    per cycle: dofs, h_min, the watched moments' changes, the estimate) and
    a warning when the budget stopped the loop first.  Collective.  Raises
    ModelError / InputError naming a bad value (before any mesh)."""
    if not (0 < tol < 1):
        raise ModelError(f"tol must be in (0, 1) (got {tol!r})")
    say = progress or (lambda message: None)
    budget = DEFAULT_MAX_DOFS if max_dofs is None else max_dofs
    T = level.T if isinstance(case, NValley) else case.T
    sizes = first_sizes(case, T, radius, center, h_min, h_max, degree, noise=options.get("noise", "sgd"))
    comm = options.get("comm")
    ranks = 1 if comm is None else comm.size
    # the first ball above the budget: refused here, before any mesh (ModelError, one line)
    stationary3d.check_budget(ball.predicted_dofs(sizes, degree), budget,
                              "the first cycle of --tol, " + stationary3d.sizes_source(sizes), ranks)
    cycles: List[Dict[str, Any]] = []
    prev: Optional[Dict[str, Any]] = None
    warning = None
    while True:
        result = stationary3d.solve(case, level, sizes=sizes, degree=degree, max_dofs=budget, progress=progress,
                                    **options)
        s = result.summary
        record: Dict[str, Any] = {"dofs": s["dofs"], "h_min": sizes.h_min, "h_max": sizes.h_max,
                                  **{k: s[k] for k in RELATIVE_KEYS}}
        estimate = math.inf
        if prev is not None:
            changes = moment_errors(s, prev)
            factor = extrapolation_factor(s["dofs"], prev["dofs"], degree, dim=3)
            estimate = factor * max(changes.values())
            record.update(changes=changes, extrapolation_factor=factor, estimate=estimate)
        cycles.append(record)
        say(f"cycle {len(cycles)}: {s['dofs']} dofs, h_min {sizes.h_min:.3g}, estimate "
            f"{estimate:.2e} (tol {tol:g})")
        if estimate <= tol:
            break
        finer = _scaled(sizes, 1.0 / FACTOR)
        why = _next_too_large(finer, degree, budget, ranks)
        if why is not None:
            said = f"error estimate {estimate:.2g}" if math.isfinite(estimate) else "no error estimate (one ball only)"
            warning = f"--tol {tol:g} not reached: {said} at {s['dofs']} dofs; stopped, as {why}"
            break
        prev, sizes = s, finer
    s = result.summary
    s.update(error_estimate=estimate if math.isfinite(estimate) else None, tol=tol, mesh_rule="adaptive",
             adaptive={"rule": f"the ball's sizes divided by {FACTOR:.4f} per cycle from {START:.4f} times the "
                               "default (fpsolve.fem.converge3d)", "cycles": cycles, "converged": warning is None,
                       "max_dofs": budget})
    if warning:
        s["warnings"].append(warning)
    return result
