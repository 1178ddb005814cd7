"""Validation of any model (docs/model.md §7): FEM vs its SDE twin vs the exact density.

For a :class:`~fpsolve.model.expression.Model`:

* FEM (``fpsolve.fem.stationary``) with the model's noise and the chosen wall;
* its stochastic twin: Euler–Maruyama of ``dθ = −∇L dt + B dW``,
  ``B Bᵀ = 2D`` (``fpsolve.mc.ensemble`` with kernels generated from the
  model), walkers in independent groups (for the effective sample size),
  started from the FEM density's bin masses and sampled after a burn-in;
* the exact density ``P ∝ exp(−U)`` (``fpsolve.model.exact``) where it applies.

Compared without folding (a custom model need not be symmetric): the total
variation between FEM bin integrals and the MC histogram on a 2-D grid over
the FEM density's support (at most ``TV_FACTOR`` times the sampling floor),
and the moments (3 standard errors or the stated relative tolerance).

Units: time in α SGD steps (t = α k).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional

import numpy as np

from fpsolve.fem import stationary as solver
from fpsolve.mc import ensemble as montecarlo
from fpsolve.model import exact as gibbs
from fpsolve.validation import metrics as compare
from fpsolve.validation.metrics import compare_values
from fpsolve.validation.report import Report, Row
from fpsolve.validation.three_way import TOL_FEM_MC, TV_FACTOR


__all__ = ["ModelSettings", "QUICK", "FULL", "run_model", "add_model_to_report", "TOL_EXACT"]

#: FEM vs the exact density's moments (absolute; P2 on the default uniform mesh).
TOL_EXACT = 1e-3
#: Moments compared (keys of the FEM and MC summaries).
MOMENTS = ("mean_theta1", "mean_theta2", "var_theta1", "var_theta2", "mean_abs_theta1", "std_abs_theta1")


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """How hard one model is worked; times in units of α SGD steps."""

    walkers: int = 2000
    groups: int = 8
    dt: float = 0.01
    burn_in: float = 20.0
    window: float = 60.0
    sample_interval: float = 0.5
    bins: int = 12         # per axis, over the FEM density's support
    seed: int = 2024
    degree: int = 2
    h_min: Optional[float] = None   # uniform mesh size (None: radius/40)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK = ModelSettings()
FULL = ModelSettings(walkers=8000, dt=0.0025, burn_in=40.0, window=200.0)


def _start_from_bins(masses: np.ndarray, xedges: np.ndarray, yedges: np.ndarray, walkers: int,
                     seed: int) -> np.ndarray:
    """(walkers, 2) points: a bin drawn by its FEM mass, uniform inside it."""
    rng = np.random.default_rng(seed)
    p = np.clip(masses.ravel(), 0.0, None)
    cell = rng.choice(p.size, size=walkers, p=p / p.sum())
    i, j = np.unravel_index(cell, masses.shape)
    x = xedges[i] + rng.random(walkers) * (xedges[i + 1] - xedges[i])
    y = yedges[j] + rng.random(walkers) * (yedges[j + 1] - yedges[j])
    return np.column_stack([x, y])


def _fem_mode(sol: Any) -> tuple:
    """(θ1, θ2) of the largest density over the mesh's quadrature points (global)."""
    x, y, _, p = sol.quadrature_samples()
    i = int(np.argmax(p)) if p.size else -1
    local = (float(p[i]), float(x[i]), float(y[i])) if i >= 0 else (-math.inf, 0.0, 0.0)
    best = max(sol.comm.allgather(local))
    return best[1], best[2]


def sampling_window(settings: ModelSettings, escape_rate: float) -> tuple[float, float]:
    """(burn-in, window) of the SDE twin: the settings' times, each capped by
    the walkers' mean lifetime 1/λ0 (the window by 3/λ0).

    The walkers start from the FEM density, so the burn-in only has to forget
    the start bins; where walkers escape fast a fixed time starves the
    sample (½(θ1θ2 − 1)² at T = 0.05, λ0 = 0.16: burn-in 20 left 4 % of the
    walkers and 689 samples, n_eff 265, too few to decide a 3 % check).
    """
    life = 1.0 / escape_rate if escape_rate > 0 else math.inf
    return min(settings.burn_in, life), min(settings.window, 3.0 * life)


def run_model(model: Any, *, settings: ModelSettings = QUICK, radius: float = 2.0,
              center: tuple = (0.0, 0.0), wall: str = "absorbing", comm: Any = None,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """FEM, SDE twin and (where it applies) the exact density of ``model``;
    returns a dict of the numbers (see :func:`add_model_to_report`)."""
    say = progress or (lambda message: None)
    s = settings
    sol = solver.solve(model, radius=radius, center=center, degree=s.degree, wall=wall,
                       h_min=s.h_min, comm=comm)
    fs = sol.summary
    fem = fs.as_dict()
    fem["mode"] = _fem_mode(sol)
    say(f"FEM: {fs.dofs} dofs, mean theta = ({fs.mean_theta1:.5g}, {fs.mean_theta2:.5g}), "
        f"mode ({fem['mode'][0]:.4g}, {fem['mode'][1]:.4g}), negative mass {fs.negative_mass:.2g}")
    lo1, hi1 = sol.support(0, 1e-6)
    lo2, hi2 = sol.support(1, 1e-6)
    xedges = np.linspace(lo1, hi1, s.bins + 1)
    yedges = np.linspace(lo2, hi2, s.bins + 1)
    masses = sol.bin_integrals(xedges, yedges)
    start_edges = (np.linspace(lo1, hi1, 4 * s.bins + 1), np.linspace(lo2, hi2, 4 * s.bins + 1))
    start_masses = sol.bin_integrals(*start_edges)

    burn_in, window = sampling_window(s, fs.escape_rate)
    total = burn_in + window
    per_group = s.walkers // s.groups
    results = []
    for k in range(s.groups):
        seed = s.seed * 1000 + k
        start = _start_from_bins(start_masses, *start_edges, per_group, seed)
        results.append(montecarlo.run(model, method="sde", walkers=per_group, time=total, dt=s.dt, seed=seed,
                                      radius=radius, center=center, hist_edges=(xedges, yedges),
                                      sample_from=start, burn_in=burn_in, sample_interval=s.sample_interval,
                                      comm=comm))
    hist = sum(r.hist for r in results)
    samples = float(sum(r.summary.samples for r in results))
    groups = np.stack([np.append(r.hist.ravel(), r.summary.samples - r.hist.sum()) for r in results])
    p = np.append(masses.ravel(), max(0.0, 1.0 - masses.sum()))
    tv = compare.total_variation(p, np.append(hist.ravel(), samples - hist.sum()))
    n_eff, deff = compare.effective_sample_size(groups)
    floor = compare.tv_noise_floor(p, n_eff)
    mc = {}
    w = np.array([r.summary.samples for r in results], float)
    w /= w.sum()
    for key in MOMENTS:
        vals = np.array([getattr(r.summary, key) for r in results])
        ses = np.array([r.summary.standard_error(key) for r in results])
        mc[key] = (float(w @ vals), float(np.sqrt(np.sum((w * ses) ** 2))))
    say(f"MC SDE twin: {per_group * s.groups} walkers, t = {total:.3g} (burn-in {burn_in:.3g}, dt {s.dt:g}); "
        f"TV {tv:.4g} (floor {floor:.3g})")
    exact = None
    if gibbs.applies(model, radius, center):
        exact = gibbs.moments(model, radius, center)
    return {"model": model.as_dict(), "settings": s.as_dict(), "radius": radius, "center": list(center),
            "wall": wall, "burn_in": burn_in, "window": window, "fem": fem, "mc": mc, "tv": tv,
            "tv_floor": floor, "n_eff": n_eff,
            "design_effect": deff, "samples": samples, "xedges": xedges.tolist(), "yedges": yedges.tolist(),
            "exact": exact,
            "mc_walker_steps_per_second": float(np.mean([r.summary.walker_steps_per_second for r in results]))}


def add_model_to_report(rep: Report, res: dict) -> dict:
    """Tables of one model; returns its checks (name -> Verdict)."""
    checks: dict = {}
    v = compare_values(res["tv"], 0.0, abs_tol=TV_FACTOR * res["tv_floor"])
    v = dataclasses.replace(v, rule=f"<= {TV_FACTOR:g}x sampling floor")
    checks["tv"] = v
    rep.add("FEM density vs Monte Carlo SDE twin (total variation on 2-D bins)",
            [Row("TV(FEM, MC)", mc=res["tv"], verdict=v,
                 note=f"floor {res['tv_floor']:.3g} for n_eff {res['n_eff']:.0f} (design effect "
                      f"{res['design_effect']:.2g}); {len(res['xedges']) - 1}x{len(res['yedges']) - 1} bins + outside")],
            "FEM bin integrals against the histogram of the SDE twin (B Bᵀ = 2D), not folded.")
    rows = []
    exact = res["exact"]
    for key in MOMENTS:
        f = res["fem"][key]
        val, se = res["mc"][key]
        v = compare_values(f, val, ref_err=se, rel_tol=TOL_FEM_MC)
        checks[f"{key} FEM vs MC"] = v
        rows.append(Row(key, fem=f, closed=None if exact is None else exact[key], mc=val, mc_err=se, verdict=v))
        if exact is not None:
            ve = compare_values(f, exact[key], abs_tol=TOL_EXACT)
            checks[f"{key} FEM vs exact"] = ve
            rows.append(Row(f"{key}, FEM vs exact density", fem=f, closed=exact[key], verdict=ve))
    mode = res["fem"]["mode"]
    rows.append(Row("mode (θ1, θ2) of the FEM density", note=f"({mode[0]:.4g}, {mode[1]:.4g})"))
    rep.add("moments: FEM, exact density exp(-U) where it applies (closed column), MC twin", rows,
            f"FEM vs MC: 3 standard errors or {100 * TOL_FEM_MC:g}%; FEM vs exact: absolute {TOL_EXACT:g}.")
    return checks
