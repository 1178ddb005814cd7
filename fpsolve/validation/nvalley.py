"""Validation in N dimensions (docs/model.md §9): closed forms and exact references vs the Monte Carlo.

* The valley with m fast directions (:class:`~fpsolve.model.nvalley.NValley`):
  the closed forms of :mod:`fpsolve.theory.nvalley` (lowest order in the
  adiabatic ratio τ2/τ1, Gaussian fast conditionals, no cross-diffusion)
  against the N-dimensional SDE twins (:mod:`fpsolve.mc.nensemble`) with
  full noise (``sgd``) and without cross-diffusion (``sgd-diagonal``, the
  variant the closed forms approximate).  Judged as in two dimensions
  (:mod:`fpsolve.validation.three_way`): within ``TOL_CLOSED`` (relative)
  plus 3 standard errors where τ2/τ1 < ``MAX_ADIABATIC_RATIO``; shown
  otherwise.  The search time: walkers start at the closed form's start
  x* + 3σ* (fast directions from their Gaussian conditionals) and their
  first passage into ``x* − σ* ≤ |x| ≤ x* + σ*`` is timed.
* An N-variable model (N > 2) against an exact reference: a quadratic loss
  (constant Hessian A) with any noise of :class:`~fpsolve.model.quadratic.Quadratic`
  has the exact covariance of the Euler–Maruyama chain at step dt
  (``covariance_sgd(alpha=dt)``; the SDE's Lyapunov solution is shown beside);
  isotropic noise has the Gibbs density ``exp(−2L/T)`` on the ball, by
  tensor quadrature for N ≤ ``MAX_QUADRATURE_N``.  Judged within 3 standard errors.

Units: time in α SGD steps (t = α k).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional

import numpy as np

from fpsolve.mc import nensemble
from fpsolve.model.nvalley import NValley
from fpsolve.model.quadratic import Quadratic
from fpsolve.model.valley import ModelError, Noise
from fpsolve.theory import nvalley as theory
from fpsolve.validation import dimension
from fpsolve.validation.metrics import compare_values, Verdict
from fpsolve.validation.nreference import NSettings, QUICK, constant_hessian, gibbs_moments, reference_kind
from fpsolve.validation.report import Report, Row
from fpsolve.validation.three_way import MAX_ADIABATIC_RATIO, TOL_CLOSED


__all__ = ["run_nvalley", "add_nvalley_to_report", "search_point", "closed_form_verdict", "run_nmodel",
           "add_nmodel_to_report", "TWINS"]

#: The valley's twins: name -> noise model of the N-dimensional run.
TWINS = (("full noise", "sgd"), ("no cross-diffusion", "sgd-diagonal"))

def closed_form_verdict(closed: float, mc: float, se: float, ratio: float) -> Any:
    """The verdict of a closed form (lowest order) against the Monte Carlo:
    ``|closed − mc| ≤ 3 se + TOL_CLOSED |closed|`` where the adiabatic ratio is
    below ``MAX_ADIABATIC_RATIO``; the word ``"n/a"`` otherwise."""
    if not ratio < MAX_ADIABATIC_RATIO:
        return "n/a"
    v = compare_values(mc, closed, abs_tol=3.0 * se + TOL_CLOSED * abs(closed))
    return dataclasses.replace(v, rule=f"3 sigma + {100 * TOL_CLOSED:g}%")


def _conditional_start(valley: NValley, T: float, x0: float, walkers: int, seed: int) -> np.ndarray:
    """(walkers, m + 1): x = x0, y_i from N(0, T g_i(x0)/2) (the fast conditional)."""
    rng = np.random.default_rng([seed, 11])
    start = np.empty((walkers, valley.m + 1))
    start[:, 0] = x0
    start[:, 1:] = rng.normal(size=(walkers, valley.m)) * np.sqrt(0.5 * T * valley.g(x0))
    return start


def search_point(valley: NValley, noise: Noise, *, walkers: int = 1000, dt: float = 0.02, seed: int = 2024,
                 radius: float = 2.0, horizon: float = 8.0, noise_model: str = "sgd", comm: Any = None) -> dict:
    """The 1-D search time (:func:`fpsolve.theory.nvalley.search_time`, into
    x* ± σ* from x* + 3σ*, reflecting at ``radius``) against the Monte Carlo's
    mean first passage of the SDE (step ``dt``) into ``x* − σ* ≤ |x| ≤ x* + σ*``
    over a run of ``horizon`` closed-form search times (walkers still out are
    counted at the run's end: ``censored``).  Time units; ModelError where the
    closed form has no peak."""
    T = noise.T
    st = theory.search_time(valley, noise, half_width=radius)
    xs, w = st["mode_theta1"], st["window"]
    start = _conditional_start(valley, T, st["start"], walkers, seed)
    run = nensemble.run(valley, noise, noise_model=noise_model, method="sde", dt=dt, walkers=walkers,
                        time=max(horizon * st["search_time"], 50 * dt), seed=seed, radius=radius,
                        sample_from=start, target=(max(0.0, xs - w), xs + w), comm=comm)
    s = run.summary
    return {"closed": st["search_time"], "mc": s.mean_first_passage_time, "mc_se": s.mean_first_passage_time_se,
            "censored": s.passage_censored, "walkers": walkers, "dt": dt, "noise_model": noise_model,
            "start": st["start"], "target": [max(0.0, xs - w), xs + w], "mode_theta1": xs,
            "adiabatic_ratio": float(np.max(theory.adiabatic_ratio(valley, T, xs))),
            "wall_seconds": s.wall_seconds}


def run_nvalley(valley: NValley, noise: Noise, *, settings: NSettings = QUICK, radius: float = 2.0, comm: Any = None,
                progress: Optional[Callable[[str], None]] = None) -> dict:
    """Closed forms, the two SDE twins and the search time of one valley (docs/model.md §9);
    a dict of numbers (see :func:`add_nvalley_to_report`).  Deterministic for ``settings.seed``."""
    say = progress or (lambda message: None)
    s, T = settings, noise.T
    pred = theory.predictions(valley, noise, radius)
    tau = dimension.relaxation_time(valley, T)
    burn = min(s.burn_tau * tau, s.max_time / 3)
    total = max(min(burn + s.window_tau * tau, s.max_time), burn + 50 * s.dt)
    interval = max(s.dt, (total - burn) / 200)
    start = dimension.start_positions(valley, T, s.walkers, s.seed, radius)
    twins = {}
    for name, noise_model in TWINS:
        r = nensemble.run(valley, noise, noise_model=noise_model, method="sde", dt=s.dt, walkers=s.walkers,
                          time=total, seed=s.seed, radius=radius, sample_from=start, burn_in=burn,
                          sample_interval=interval, comm=comm)
        twins[name] = r.summary.as_dict()
        mean_abs = r.summary.mean_abs_theta1
        say(f"MC {name}: {s.walkers} walkers, t = {total:.3g} (burn-in {burn:.3g}, dt {s.dt:g}), "
            f"mean|x| {math.nan if mean_abs is None else mean_abs:.5g}, {r.summary.wall_seconds:.1f}s")
    search = None
    if pred.get("search_time") is not None:
        search = search_point(valley, noise, walkers=s.search_walkers, dt=s.dt, seed=s.seed + 1, radius=radius,
                              horizon=s.search_horizon, comm=comm)
        say(f"search time: closed form {search['closed']:.4g}, MC {search['mc']:.4g} ± {search['mc_se']:.2g}")
    return {"valley": valley.as_dict(), "noise": noise.as_dict(), "T": T, "radius": radius,
            "settings": s.as_dict(), "relaxation_time": tau, "mc_time": [burn, total],
            "closed_form": pred, "monte_carlo": twins, "search": search}


#: The valley's compared quantities: key, label, standard-error key of the MC summary.
_VALLEY_MOMENTS = (("mean_abs_theta1", "mean |x|"), ("std_abs_theta1", "std |x|"), ("var_y_mean", "Var y_i, mean over i"))


def _mc_value(summary: dict, key: str) -> tuple:
    """(value, standard error) of an MC summary key (Var y_i: the mean over i and its error)."""
    if key == "var_y_mean":
        se = np.asarray(summary["var_y_se"], dtype=float)
        return summary["var_y_mean"], float(np.sqrt(np.sum(se * se))) / len(se)
    return summary[key], summary.get(key + "_se") or 0.0


def add_nvalley_to_report(rep: Report, res: dict) -> dict:
    """Tables of one valley case; returns its checks (name -> Verdict)."""
    checks: dict = {}
    pred = res["closed_form"]
    ratio = pred["adiabatic_ratio"]
    rows = []
    for name, _ in TWINS:
        mc = res["monte_carlo"][name]
        for key, label in _VALLEY_MOMENTS:
            val, se = _mc_value(mc, key)
            v = closed_form_verdict(pred[key], val, se, ratio) if name == "no cross-diffusion" else "(shown)"
            if isinstance(v, Verdict):
                checks[f"closed {key}"] = v
            rows.append(Row(f"{label}, {name}", closed=pred[key], mc=val, mc_err=se, verdict=v))
    rows.append(Row("mode |x| (closed form)", closed=pred["mode_theta1"]))
    rep.add(f"T = {res['T']:g}, m = {pred['fast_directions']}: closed forms vs Monte Carlo twins", rows,
            f"Adiabatic ratio τ2/τ1 at the mode = {ratio:.3g} ({'judged' if ratio < MAX_ADIABATIC_RATIO else 'not judged'}"
            f": the lowest-order closed forms are held to 3 standard errors + {100 * TOL_CLOSED:g}% against the twin "
            f"without cross-diffusion where the ratio is below {MAX_ADIABATIC_RATIO:g}). The full-noise twin is shown.")
    se = res["search"]
    if se is not None:
        v = closed_form_verdict(se["closed"], se["mc"], se["mc_se"], se["adiabatic_ratio"])
        if se["censored"] > 0.01 * se["walkers"]:
            v = "n/a"
        if isinstance(v, Verdict):
            checks["search time"] = v
        rep.add("search time (time units)",
                [Row("search time into x* ± σ*", closed=se["closed"], mc=se["mc"], mc_err=se["mc_se"], verdict=v,
                     note=f"start |x| = {se['start']:.4g}, target {se['target'][0]:.4g} ≤ |x| ≤ {se['target'][1]:.4g}, "
                          f"{se['walkers']} walkers, {se['censored']} not arrived, dt {se['dt']:g}, full noise")],
                "Monte Carlo: mean first passage of the SDE (no bridge test between steps: a bias of order sqrt(dt)); "
                "judged only with at most 1 % of the walkers still out at the run's end.")
    return checks


# --------------------------------------------------------------------------
# Any N-variable model (N > 2) against an exact reference
# --------------------------------------------------------------------------

def run_nmodel(model: Any, *, settings: NSettings = QUICK, radius: float = 2.0, comm: Any = None,
               progress: Optional[Callable[[str], None]] = None) -> dict:
    """An N-variable model's SDE Monte Carlo against its exact reference
    (:func:`reference_kind`); a dict of numbers (see :func:`add_nmodel_to_report`)."""
    say = progress or (lambda message: None)
    s = settings
    kind = reference_kind(model, radius)
    n = model.n_variables
    if kind == "quadratic":
        quad = Quadratic(constant_hessian(model, radius), noise=model.noise, alpha=model.noise_level.alpha,
                         Delta=model.noise_level.Delta)
        lam = np.linalg.eigvalsh(quad.A)
        burn = min(5.0 / lam[0], s.max_time / 3)
        total = burn + min(20.0 / lam[0], s.max_time)
        mc_radius = math.inf  # the Gaussian reference has no wall
        ref = {"var_theta": np.diag(quad.covariance_sgd(alpha=s.dt)).tolist(),
               "var_theta_sde": np.diag(quad.covariance_sde()).tolist(), "mean_theta": [0.0] * n}
        sampled = quad
    else:
        burn, total = s.burn_in, s.burn_in + s.window
        mc_radius = radius
        ref = gibbs_moments(model, radius)
        sampled = model
    def sample(dt: float) -> dict:
        r = nensemble.run(sampled, method="sde", dt=dt, walkers=s.walkers, time=total, seed=s.seed, radius=mc_radius,
                          burn_in=burn, sample_interval=max(s.dt, (total - burn) / 200), comm=comm)
        say(f"MC: {s.walkers} walkers, t = {total:.3g} (burn-in {burn:.3g}, dt {dt:g}), {r.summary.wall_seconds:.1f}s")
        return r.summary.as_dict()

    mc = sample(s.dt)
    if kind == "gibbs":  # the continuous law: Richardson in dt (Euler–Maruyama's bias is O(dt))
        half = sample(0.5 * s.dt)
        mc = {"at_dt": mc, "at_half_dt": half, "extrapolated_in_dt": True}
        for key in ("var_theta", "mean_abs_theta1"):
            a, b = np.asarray(mc["at_dt"][key]), np.asarray(half[key])
            ea, eb = np.asarray(mc["at_dt"][key + "_se"]), np.asarray(half[key + "_se"])
            mc[key], mc[key + "_se"] = (2 * b - a).tolist(), np.sqrt(4 * eb * eb + ea * ea).tolist()
    return {"model": model.as_dict(), "N": n, "reference": kind, "radius": radius, "settings": s.as_dict(),
            "mc_time": [burn, total], "exact": ref, "monte_carlo": mc}


def add_nmodel_to_report(rep: Report, res: dict) -> dict:
    """Tables of one N-variable model; returns its checks (name -> Verdict)."""
    checks: dict = {}
    mc, ref = res["monte_carlo"], res["exact"]
    rows = []
    for j in range(res["N"]):
        val, se = mc["var_theta"][j], mc["var_theta_se"][j]
        v = compare_values(val, ref["var_theta"][j], ref_err=se)
        checks[f"var theta{j + 1}"] = v
        note = (f"SDE (Lyapunov) {ref['var_theta_sde'][j]:.5g}" if "var_theta_sde" in ref else "")
        rows.append(Row(f"Var θ{j + 1}", closed=ref["var_theta"][j], mc=val, mc_err=se, verdict=v, note=note))
    if "mean_abs_theta1" in ref:
        v = compare_values(mc["mean_abs_theta1"], ref["mean_abs_theta1"], ref_err=mc["mean_abs_theta1_se"])
        checks["mean_abs_theta1"] = v
        rows.append(Row("mean |θ1|", closed=ref["mean_abs_theta1"], mc=mc["mean_abs_theta1"],
                        mc_err=mc["mean_abs_theta1_se"], verdict=v))
    what = ("the exact covariance of the Euler–Maruyama chain at step dt (C = (I − dt A) C (I − dt A) + dt T R Rᵀ); "
            "the SDE's Lyapunov solution A C + C A = 2D beside" if res["reference"] == "quadratic"
            else "the Gibbs density exp(−2L/T) on the ball, by tensor quadrature; the Monte Carlo extrapolated "
                 "to dt → 0 from dt and dt/2 (2 X(dt/2) − X(dt))")
    rep.add(f"N = {res['N']}: Monte Carlo (SDE) vs exact reference", rows,
            f"Reference: {what}. Tolerance: 3 standard errors.")
    return checks
