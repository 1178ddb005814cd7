"""The flatness transition against the number of fast directions m (docs/model.md §9, issue 18 item 5).

For the valley with m identical fast directions
(:class:`fpsolve.model.nvalley.NValley`) the order parameter (mean ``|x|``
and the flatness at the mode) is computed against r = T/T_c(m), with
``T_c(m) = 2ε/(m a0|a2|)`` the constant-D critical noise level, from the
closed forms (:mod:`fpsolve.theory.nvalley`) and from the Monte Carlo of the
SDE (:func:`fpsolve.mc.nensemble.run`, Euler–Maruyama, step ``dt``).

**Run lengths.**  Each Monte-Carlo point starts from the closed form
(x from the landscape-dependent P1, y_i from N(0, T g_i/2)), runs a burn-in
of ``burn_tau`` relaxation times and a window of ``window_tau`` more, both
capped by ``max_time`` (``relaxed`` False where the cap bit).  The relaxation
time is the closed form's ``τ = Var/B(x*)`` (:func:`relaxation_time`), which
diverges at T_c (critical slowing down): the sweep avoids 0.9 < r < 1.1.
Where the fast relaxation time ``1/g_i(x*)`` is longer (large m at fixed T,
where the adiabatic ratio exceeds 1) it sets the run length instead; every
run lasts at least :data:`MIN_TIME`.

**T_c from the Monte Carlo** (:func:`onset_fit`).  Above T_c the mode of the
constant-D marginal obeys ``1/T = −Σ g_i g_i'(x*)/(4 ε x*)``, so for small x*
``x*² ≈ c (1/T_c − 1/T)``: the squared mean ``|x|`` at the sweep points with
r in ``fit_window`` (outside the critical region, where the runs are short
and the statistics clean) is fitted by a weighted line in 1/T, and its zero
is T_c.  The same fit of the closed form's mean ``|x|`` at the same T gives
the estimator's own bias (against the closed form's exact landscape T_c,
where x = 0 stops being the mode), so the report gives both the raw and the
bias-corrected Monte-Carlo T_c.  The Euler–Maruyama step inflates each
fast variance by 1/(1 − g dt/2), so the raw MC T_c carries a bias of about
−a0 dt/2 (−1.25 % at dt = 0.025), the same for every m.

Units: T = αΔ; times in units of α SGD steps.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

from fpsolve.mc import nensemble
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Landscape, Noise
from fpsolve.theory import nvalley as theory
from fpsolve.tools.errors import InputError
from fpsolve.validation import metrics
from fpsolve.validation.report import map_points


__all__ = ["relaxation_time", "start_positions", "walkers_for", "theory_point", "mc_point", "onset_fit",
           "dimension_sweep", "curves", "search_rows"]

#: Radius of the absorbing sphere of the Monte Carlo: far from the mass at every (m, T) swept here.
RADIUS = 4.0
#: Shortest Monte-Carlo run (burn-in + window), time units.
MIN_TIME = 50.0


def relaxation_time(valley: NValley, T: float) -> float:
    """τ = Var/B(x*) of the closed-form slow process (docs/model.md §9), in time units.

    Var is ⟨x²⟩ where the mode x* is 0 and Var ``|x|`` (one peak) above
    T_c; for the linear process dx = −k x dt + sqrt(2B) dW it is exactly
    1/k.  It diverges at T_c (critical slowing down).  Raises ModelError
    for T ≤ 0.
    """
    mom = theory.marginal_moments(valley, T)
    xs = mom["mode_theta1"]
    var = mom["var_theta1"] if xs == 0 else mom["std_abs_theta1"] ** 2
    return float(var / theory.slow_diffusion(valley, T, xs))


def start_positions(valley: NValley, T: float, walkers: int, seed: int, half_width: float = 2.0) -> np.ndarray:
    """(walkers, m + 1) start points from the closed form: x from the
    landscape-dependent P1 (inverse CDF, both signs), y_i from N(0, T g_i(x)/2)."""
    rng = np.random.default_rng([seed, 7])
    grid = np.linspace(0.0, half_width, 20001)
    p = theory.marginal_x(valley, T, grid)
    cdf = np.concatenate(([0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))))
    x = np.interp(rng.random(walkers), cdf / cdf[-1], grid) * rng.choice([-1.0, 1.0], walkers)
    y = rng.normal(size=(walkers, valley.m)) * np.sqrt(0.5 * T * valley.g(x))
    return np.column_stack([x, y])


def walkers_for(m: int, base: int, minimum: int) -> int:
    """Walkers at m fast directions: ``base/sqrt(m)``, at least ``minimum``
    (the x density narrows as 1/sqrt(m) at fixed T/T_c(m), and a walker-step costs O(m))."""
    return max(int(minimum), int(round(base / math.sqrt(m))))


def theory_point(valley: NValley, T: float) -> dict:
    """Closed forms at (T, m): mean/std ``|x|`` (landscape and constant D),
    mode, flatness at the mode over F(0), ⟨x²⟩, the adiabatic ratio τ2/τ1 at
    the mode and the relaxation time (docs/model.md §9)."""
    mom = theory.marginal_moments(valley, T)
    const = theory.marginal_moments(valley, T, "constant")
    xs = mom["mode_theta1"]
    f0 = float(valley.flatness(0.0))
    return {"cf_mean_abs": mom["mean_abs_theta1"], "cf_std_abs": mom["std_abs_theta1"],
            "cf_mean_abs_constant": const["mean_abs_theta1"], "cf_mode": xs,
            "cf_flatness_ratio": mom["flatness_at_mode"] / f0,
            "cf_flatness_ratio_constant": const["flatness_at_mode"] / f0,
            "cf_var_x": mom["var_theta1"], "cf_var_y_mean": mom["var_y_mean"],
            "adiabatic_ratio": float(np.max(theory.adiabatic_ratio(valley, T, xs))),
            "tau": relaxation_time(valley, T)}


def mc_point(preset: Landscape, m: int, T: float, *, dt: float, walkers: int, max_time: float,
             burn_tau: float, window_tau: float, seed: int) -> dict:
    """One Monte-Carlo point of the SDE (Euler–Maruyama, step ``dt``) of the
    valley with m fast directions like ``preset`` at noise level T, beside
    the closed forms (:func:`theory_point`); on this rank alone.

    Run length from the closed-form relaxation time (module doc); returns
    ``mc_mean_abs`` (± ``_se``), ``mc_std_abs`` (± ``_se``), ``mc_peak`` (the
    ``|x|`` histogram's maximum, bins 0.005 wide), ``mc_flatness_ratio`` at
    that peak over F(0), ``mc_var_y_mean``, ``relaxed``, ``survival_fraction``
    and the cost (``walker_steps``, ``wall_seconds``).
    """
    from mpi4py import MPI

    valley = NValley.from_landscape(preset, m)
    cf = theory_point(valley, T)
    # the slower of the slow relaxation time and the fast one, 1/g_i at the mode (which rules
    # where the adiabatic ratio is large); at least MIN_TIME/2 of burn-in and of window
    tau = max(cf["tau"], float(np.max(1.0 / valley.g(cf["cf_mode"]))))
    burn = min(max(burn_tau * tau, MIN_TIME / 2), max_time / 2)
    total = min(burn + max(window_tau * tau, MIN_TIME / 2), max_time)
    r = nensemble.run(valley, Noise.from_temperature(T, dt), method="sde", dt=dt, walkers=walkers, time=total,
                      seed=seed, radius=RADIUS, bins=int(4 * RADIUS / 0.005),
                      sample_from=start_positions(valley, T, walkers, seed), burn_in=burn,
                      sample_interval=max(dt, min(tau / 10, (total - burn) / 20)), comm=MPI.COMM_SELF)
    s = r.summary
    peak, _, _ = metrics.peak_location(r.hist_abs_theta1, r.abs_edges)
    f0 = float(valley.flatness(0.0))
    return {"m": m, "T": T, "r": T / theory.critical_temperature_constant(valley), **cf,
            "walkers": walkers, "dt": dt, "burn_in": burn, "time": total, "tau_run": tau,
            "relaxed": bool(burn >= burn_tau * tau - 1e-9 and total >= burn + window_tau * tau - 1e-9),
            "mc_mean_abs": _nan(s.mean_abs_theta1), "mc_mean_abs_se": _nan(s.mean_abs_theta1_se),
            "mc_std_abs": _nan(s.std_abs_theta1), "mc_std_abs_se": _nan(s.std_abs_theta1_se),
            "mc_peak": peak, "mc_flatness_ratio": float(valley.flatness(peak)) / f0,
            "mc_var_y_mean": _nan(s.var_y_mean), "survival_fraction": s.survival_fraction,
            "walker_steps": s.walker_steps_done, "wall_seconds": s.wall_seconds}


def _nan(value: Optional[float]) -> float:
    """``value``, NaN where the run did not record it (None)."""
    return math.nan if value is None else value


def onset_fit(T: Sequence[float], mean_abs: Sequence[float], se: Optional[Sequence[float]] = None) -> dict:
    """T_c from the onset of the order parameter above T_c (module doc):
    a weighted least-squares line ``mean|x|² = a + b/T`` and its zero
    ``T_c = −b/a``.  ``T``, ``mean_abs`` (and standard errors ``se``, for the
    weights and the error) of at least two points above T_c.  Returns
    ``T_c``, ``T_c_err`` (from the fit's covariance; 0 without ``se``; with
    more points than two scaled up by the reduced χ² when that exceeds 1),
    ``points``.  Raises InputError on fewer than two points or a line that
    does not rise with T."""
    T = np.asarray(T, dtype=float)
    y = np.asarray(mean_abs, dtype=float) ** 2
    if T.size < 2 or T.size != y.size or not np.all(np.isfinite(y)):
        raise InputError(f"the onset fit needs at least two finite points above T_c (got {T.size})")
    sy = None if se is None else np.maximum(2.0 * np.sqrt(y) * np.asarray(se, dtype=float), 1e-300)
    w = np.ones_like(y) if sy is None else 1.0 / sy ** 2
    X = np.column_stack([np.ones_like(T), 1.0 / T])
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    a, b = cov @ (X.T @ (w * y))
    if not b < 0:
        raise InputError("the order parameter does not rise with T in the fit window: no onset to fit")
    tc = -b / a
    err = 0.0
    if sy is not None:
        if T.size > 2:
            chi2 = float(np.sum(w * (y - X @ np.array([a, b])) ** 2)) / (T.size - 2)
            cov = cov * max(chi2, 1.0)
        grad = np.array([b / a ** 2, -1.0 / a])   # ∂T_c/∂(a, b)
        err = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    return {"T_c": float(tc), "T_c_err": err, "points": int(T.size)}


def _critical_row(preset: Landscape, m: int, rows: Sequence[dict], fit_window: Sequence[float]) -> dict:
    """T_c at m: constant D, landscape, the onset fit of the MC and of the closed form, corrected MC."""
    valley = NValley.from_landscape(preset, m)
    tc0 = theory.critical_temperature_constant(valley)
    tcl = theory.critical_temperature_landscape(valley)
    sel = [row for row in rows if fit_window[0] <= row["r"] <= fit_window[1]]
    out = {"m": m, "T_c_constant": tc0, "T_c_landscape": tcl, "fit_points": len(sel)}
    try:
        mc = onset_fit([p["T"] for p in sel], [p["mc_mean_abs"] for p in sel], [p["mc_mean_abs_se"] for p in sel])
        cf = onset_fit([p["T"] for p in sel], [p["cf_mean_abs"] for p in sel])
    except InputError:
        return {**out, "T_c_mc": None, "T_c_mc_err": None, "T_c_cf_fit": None, "T_c_mc_corrected": None,
                "m_T_c_mc": None, "m_T_c_mc_err": None}
    corr = tcl / cf["T_c"]
    return {**out, "T_c_mc": mc["T_c"], "T_c_mc_err": mc["T_c_err"], "T_c_cf_fit": cf["T_c"],
            "T_c_mc_corrected": mc["T_c"] * corr, "T_c_mc_corrected_err": mc["T_c_err"] * corr,
            "m_T_c_mc": m * mc["T_c"], "m_T_c_mc_err": m * mc["T_c_err"],
            "mc_over_constant": mc["T_c"] / tc0, "mc_corrected_over_landscape": mc["T_c"] * corr / tcl,
            "landscape_over_constant": tcl / tc0}


def dimension_sweep(preset: Landscape, m_values: Sequence[int], r_values: Sequence[float], *, dt: float = 0.025,
                    base_walkers: int = 400, min_walkers: int = 8, max_time: float = 4000.0,
                    burn_tau: float = 2.0, window_tau: float = 2.0, fit_window: Sequence[float] = (1.15, 1.65),
                    fixed_T: Optional[float] = None, seed: int = 7, comm: Any = None,
                    progress: Optional[Callable[[int, int, Any], None]] = None) -> dict:
    """The order parameter against r = T/T_c(m) for each m (MC and closed forms), T_c(m) from the MC.

    ``preset``: the two-variable landscape every fast direction copies
    (a2 < 0, a double well, for a transition); ``m_values`` (≥ 1);
    ``r_values`` (> 0) the noise levels T = r T_c(m); walkers per m by
    :func:`walkers_for`; run lengths, ``dt`` and the T_c estimator as the
    module doc says (``fit_window``: the r of the onset fit).  With
    ``fixed_T`` also one MC point per m at that T (r = fixed_T/T_c(m) grows
    ∝ m: the adiabatic ratio grows with it).  Points dealt over the ranks of
    ``comm`` (results identical to serial).  Returns ``{"rows", "critical",
    "fixed_T_rows", "settings"}``.  Raises InputError on m < 1, r ≤ 0 or a
    preset without a transition.
    """
    m_values = [int(m) for m in m_values]
    if not m_values or min(m_values) < 1:
        raise InputError(f"fast directions must be integers >= 1 (got {list(m_values)!r})")
    if not r_values or min(r_values) <= 0:
        raise InputError(f"T/T_c values must be > 0 (got {list(r_values)!r})")
    tc1 = theory.critical_temperature_constant(NValley.from_landscape(preset, 1))
    if not math.isfinite(tc1) or tc1 <= 0:
        raise InputError(f"preset {preset.name!r} has no flatness transition (needs eps > 0 and a0 a2 < 0)")
    kw = dict(dt=dt, max_time=max_time, burn_tau=burn_tau, window_tau=window_tau)
    points = [(m, r * tc1 / m, walkers_for(m, base_walkers, min_walkers), seed + 1000 * i + j)
              for i, m in enumerate(m_values) for j, r in enumerate(sorted(r_values))]
    if fixed_T is not None:
        points += [(m, float(fixed_T), walkers_for(m, base_walkers, min_walkers), seed + 1000 * i + 999)
                   for i, m in enumerate(m_values)]
    done = map_points(lambda p: mc_point(preset, p[0], p[1], walkers=p[2], seed=p[3], **kw), points, comm, progress)
    n = len(m_values) * len(r_values)
    rows, fixed = done[:n], done[n:]
    critical = [_critical_row(preset, m, [row for row in rows if row["m"] == m], fit_window) for m in m_values]
    return {"rows": rows, "critical": critical, "fixed_T_rows": fixed,
            "settings": {"dt": dt, "base_walkers": base_walkers, "min_walkers": min_walkers, "max_time": max_time,
                         "burn_tau": burn_tau, "window_tau": window_tau, "fit_window": list(fit_window),
                         "fixed_T": fixed_T, "seed": seed, "radius": RADIUS}}


def curves(preset: Landscape, m_values: Sequence[int], r_values: Sequence[float]) -> list:
    """Closed-form rows (m, r, T and :func:`theory_point`'s keys but ``tau``)
    on a grid of r = T/T_c(m) for each m: the lines of the figure."""
    tc1 = theory.critical_temperature_constant(NValley.from_landscape(preset, 1))
    out = []
    for m in m_values:
        valley = NValley.from_landscape(preset, int(m))
        for r in r_values:
            T = r * tc1 / int(m)
            mom = theory.marginal_moments(valley, T)
            out.append({"m": int(m), "r": float(r), "T": T, "cf_mean_abs": mom["mean_abs_theta1"],
                        "cf_mode": mom["mode_theta1"],
                        "cf_flatness_ratio": mom["flatness_at_mode"] / float(valley.flatness(0.0))})
    return out


def search_rows(preset: Landscape, m_values: Sequence[int], r_values: Sequence[float],
                fixed_T: Optional[float] = None) -> list:
    """The 1-D search time of docs/model.md §5/§9 (:func:`fpsolve.theory.nvalley.search_time`,
    into x* ± σ* from x* + 3σ*, time units) against m at fixed r = T/T_c(m) and, with
    ``fixed_T``, at fixed T; closed forms only (O(1) in m)."""
    tc1 = theory.critical_temperature_constant(NValley.from_landscape(preset, 1))
    out = []
    for m in m_values:
        valley = NValley.from_landscape(preset, m)
        cases = [("fixed r", r * tc1 / m) for r in r_values] + ([("fixed T", float(fixed_T))] if fixed_T else [])
        for label, T in cases:
            st = theory.search_time(valley, T)
            out.append({"m": int(m), "case": label, "T": T, "r": T * m / tc1, "search_time": st["search_time"],
                        "mode": st["mode_theta1"], "window": st["window"], "tau": relaxation_time(valley, T),
                        "adiabatic_ratio": float(np.max(theory.adiabatic_ratio(valley, T, st["mode_theta1"])))})
    return out
