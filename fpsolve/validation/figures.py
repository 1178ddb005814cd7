"""The seed's results, reproduced with fpsolve's own numbers (issue 6).

One function per figure; each runs its sweep through
:func:`fpsolve.validation.report.map_points` (points dealt over MPI ranks, results
identical to serial), and returns a :class:`Figure`: the rows behind the
plot (written as CSV), the checks it supports, and a one-line finding.

* Fig. S5 — cross-diffusion: FEM and MC twins with and without D12, below
  and above T_c (peak location and width).
* Fig. S3 — fluctuations against T at fixed α: Var θ2 and Var ``|θ1|``
  (FEM full noise, SGD Monte Carlo, closed form).
* Fig. S4 — critical exponents: β from F(θ1*) − F(0) (FEM), γ from SGD
  first-passage search times on both sides of T_c (with the 1-D formula).
* Fig. S2 — search time against Δ and α, single-well, SGD vs 1-D formula.
* Phase diagram — phases I/II/III of SGD in the (α, Δ) plane with the
  theoretical boundaries.
* Relaxation — the generator's relaxation rate against T across T_c (its
  dip, critical slowing down), its exponent beside γ of Fig. S4.
* Dimension — the flatness transition with m fast directions (docs/model.md
  §9): the order parameter against T/T_c(m), T_c(m) from the Monte Carlo
  against the closed forms, the search time against m
  (:mod:`fpsolve.validation.dimension`).

Units: time in α SGD steps (t = α k); search times in time units.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from fpsolve.theory import valley as theory
from fpsolve.fem import backward as passage
from fpsolve.fem import stationary as solver
from fpsolve.mc import ensemble as montecarlo
from fpsolve.model.valley import Landscape, Noise
from fpsolve.plots.stationary import pyplot, save_figure
from fpsolve.plots.dimension import plot_dimension
from fpsolve.plots.spectrum import plot_relaxation_sweep
from fpsolve.validation import dimension
from fpsolve.validation import relaxation
from fpsolve.validation import metrics as compare
from fpsolve.validation import three_way as validation
from fpsolve.validation.report import map_points, Report
from fpsolve.model.target import Box


__all__ = ["ReproSettings", "QUICK", "FULL", "Figure", "FIGURES", "fem_point", "sgd_point",
           "first_passage_point", "phase_point"]


@dataclasses.dataclass(frozen=True)
class ReproSettings:
    """Sweep sizes; ``QUICK`` runs in a test, ``FULL`` for the record."""

    alpha: float = 0.05
    fem_refine: float = 0.5      # mesh size factor (0.5: moments agree with 1.0 to 4 digits)
    s3_T: tuple = (0.005, 0.01, 0.015, 0.02, 0.0225, 0.025, 0.035, 0.07)
    s3_mc_T: tuple = (0.01, 0.035, 0.07)
    mc_walkers: int = 800
    mc_max_time: float = 1200.0
    s3_sde_dt: float = 0.01
    s4_r: tuple = (0.05, 0.1, 0.2, 0.4)           # (T − T_c)/T_c for β
    s4_gamma_r: tuple = (0.1, 0.15, 0.2, 0.3, 0.5)  # |T − T_c|/T_c for γ, each side
    # a smaller ε puts that range inside the critical region (noise rounding
    # and the multiplicative slow noise shrink with ε): γ = 1 is tested there
    s4_crit_eps: float = 1e-3
    s4_walkers: int = 400                          # per first-passage point of Fig. S4
    # Euler-Maruyama step of Fig. S4's SDE twin: at dt = alpha = 0.05 its
    # search times at eps = 1e-3 were up to 18 % (below T_c) and 25 % (above)
    # longer than the 1-D formula's (at alpha/4 within 8 % and 2 %), which
    # steepened the fitted gamma below T_c by 0.10 (0.09 at eps = 0.01)
    s4_sde_dt: float = 0.025
    s4_trend_eps: tuple = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5)
    fp_walkers: int = 250
    s2_alphas: tuple = (0.025, 0.05, 0.1, 0.2)
    s2_Deltas: tuple = (0.25, 0.5, 1.0, 2.0)
    s2_alpha: float = 0.05
    s2_Delta: float = 1.0
    s2_start: float = 1.0
    s2_target: float = 0.1
    phase_alphas: tuple = (0.02, 0.05, 0.1, 0.2, 0.5)
    phase_Deltas: tuple = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    phase_walkers: int = 200
    phase_time: float = 300.0
    relax_r: tuple = (0.1, 0.2, 0.3, 0.5)   # |T − T_c|/T_c of the relaxation sweep, each side
    s5: validation.Settings = validation.Settings(walkers=1000, groups=4, peak_bins=30)
    # the dimension figure (docs/model.md §9): m fast directions, r = T/T_c(m)
    dim_m: tuple = (1, 2, 5, 10, 100, 1000)
    dim_r: tuple = (0.5, 1.2, 1.35, 1.5, 3.0)    # 1.2-1.5: the onset fit of T_c (fit window 1.15-1.65)
    dim_dt: float = 0.05                          # Euler-Maruyama step: T_c bias about -a0 dt/2
    dim_walkers: int = 160                        # walkers at m = 1; base/sqrt(m) beyond, at least dim_min_walkers
    dim_min_walkers: int = 4
    dim_max_time: float = 1500.0                  # cap of burn-in + window (2 + 2 relaxation times)
    dim_fixed_T: float = 0.01                     # one MC point per m at this T (r = T m / T_c(1))
    dim_search_m: tuple = (1, 10, 100, 1000)
    seed: int = 7

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK = ReproSettings()
FULL = ReproSettings(
    fem_refine=1.0,
    s3_T=(0.003, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.019, 0.02, 0.021, 0.022, 0.023, 0.025,
          0.0275, 0.03, 0.035, 0.04, 0.05, 0.06, 0.07, 0.085, 0.1),
    s3_mc_T=(0.005, 0.01, 0.015, 0.025, 0.035, 0.05, 0.07, 0.1),
    mc_walkers=4000, mc_max_time=3000.0,
    s4_r=(0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4),
    s4_gamma_r=(0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
    fp_walkers=2000, s4_walkers=2000, s4_sde_dt=0.0125,
    s2_alphas=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4), s2_Deltas=(0.1, 0.2, 0.5, 1.0, 2.0, 4.0),
    phase_alphas=tuple(np.round(np.geomspace(0.01, 1.0, 9), 4)),
    phase_Deltas=tuple(np.round(np.geomspace(0.03, 100.0, 12), 4)),
    phase_walkers=1000, phase_time=1000.0,
    relax_r=(0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
    dim_r=(0.5, 0.8, 1.2, 1.35, 1.5, 2.0, 3.0), dim_dt=0.025, dim_walkers=400, dim_min_walkers=8,
    dim_max_time=4000.0, dim_search_m=(1, 2, 5, 10, 100, 1000, 10000, 1000000),
    # validate.py's full settings (dt and walker groups: see validation.FULL)
    s5=validation.FULL,
)


@dataclasses.dataclass
class Figure:
    """What one reproduced figure produced."""

    name: str                 # file stem: figS5, figS3, ...
    title: str
    rows: list                # dicts, written as <name>.csv
    finding: str              # one line for summary.md
    checks: dict              # name -> compare.Verdict
    numbers: dict             # extra numbers for reproduce.json
    plot: Callable[[Any], None]

    def write(self, folder: Path) -> None:
        path = Path(folder) / f"{self.name}.csv"
        keys: list = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for row in self.rows:
                w.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self.plot(Path(folder) / f"{self.name}.png")


# --------------------------------------------------------------------------
# Sweep points: plain functions of plain arguments, seeded by the point.
# --------------------------------------------------------------------------

def _self_comm() -> Any:
    from mpi4py import MPI

    return MPI.COMM_SELF


FEM_KEYS = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2", "mode_theta1",
            "flatness_at_mode", "escape_rate", "escape_rate_flux", "negative_mass", "dofs")


def fem_point(landscape: Landscape, T: float, alpha: float, cross: bool, refine: float) -> dict:
    """FEM moments at noise level T (docs/model.md §4), on this rank alone."""

    sol = solver.solve(landscape, Noise.from_temperature(T, alpha), cross=cross, refine=refine,
                       comm=_self_comm())
    out = {"T": T, "cross": cross, **{k: getattr(sol.summary, k) for k in FEM_KEYS}}
    out["var_abs_theta1"] = out["std_abs_theta1"] ** 2
    return out


def sgd_point(landscape: Landscape, T: float, alpha: float, walkers: int, max_time: float,
              seed: int, method: str = "sgd", dt: Optional[float] = None) -> dict:
    """Stationary moments of linear-shift SGD (docs/model.md §2) at T = αΔ.

    Walkers start from the closed form and run 2.5 τ1 of burn-in and 2 τ1 of
    window (capped at ``max_time``); ``relaxed`` says whether the cap bit.
    ``method="sde"`` with a step ``dt`` runs the continuous-limit twin (full
    noise) instead, to separate finite-α effects from the model's.
    """
    noise = Noise.from_temperature(T, alpha)
    tau1 = validation.relaxation_time(landscape, noise)
    burn = min(2.5 * tau1, max_time / 2)
    total = min(burn + 2.0 * tau1, max_time)
    start = validation.start_sampler(landscape, noise, walkers, seed, 2.0)
    r = montecarlo.run(landscape, noise, method=method, dt=dt, walkers=walkers, time=total, seed=seed,
                       sample_from=start, burn_in=burn, comm=_self_comm(),
                       sample_interval=max(alpha, min(tau1 / 10, (total - burn) / 20)))
    s = r.summary
    out = {"T": T, "alpha": alpha, "method": method, "dt": dt, "walkers": walkers, "tau1": tau1,
           "burn_in": burn, "time": total,
           "relaxed": bool(burn >= 2.0 * tau1), "survival_fraction": s.survival_fraction}
    for k in ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2"):
        out[k], out[k + "_se"] = getattr(s, k), s.standard_error(k)
    out["var_abs_theta1"] = out["std_abs_theta1"] ** 2
    out["var_abs_theta1_se"] = 2 * out["std_abs_theta1"] * out["std_abs_theta1_se"]
    return out


def first_passage_point(landscape: Landscape, alpha: float, Delta: float, start: float,
                        center: float, half_width: float, walkers: int, time: float, seed: int,
                        method: str = "sgd", cross: bool = True, dt: Optional[float] = None) -> dict:
    """Mean first passage time of SGD into ``|θ1 − center|`` < half_width (any θ2).

    Walkers start at (start, 0); time units (search time = steps × α, seed
    II.1).  ``hit_fraction`` < 1 means the run was cut (the mean is then a
    lower bound and is flagged).  ``method="sde"`` runs the SDE twin instead
    (step ``dt``, default α; ``cross=False``: independent noises, the 1-D
    formula's process).
    """
    noise = Noise(alpha, Delta)
    r = montecarlo.run(landscape, noise, method=method, cross=cross, dt=dt, walkers=walkers, time=time, seed=seed,
                       sample_from=(start, 0.0), comm=_self_comm(),
                       target=Box((center, 0.0), (half_width, 1e6)))
    s = r.summary
    return {"alpha": alpha, "Delta": Delta, "T": noise.T, "start": start, "target_center": center,
            "target_half_width": half_width, "walkers": walkers, "time": time,
            "method": method, "cross": cross, "dt": s.step_time, "hit_fraction": s.first_passage_hit_fraction,
            "mc_search_time": s.mean_first_passage_time, "mc_search_time_se": s.mean_first_passage_time_se}


def fem_search_point(landscape: Landscape, alpha: float, Delta: float, start: float, center: float,
                     half_width: float, refine: float, h_max: Optional[float] = None) -> dict:
    """The 2-D FEM search time (docs/model.md §8, backward equation) from
    (start, 0) into the strip ``|θ1 − center|`` ≤ half_width (any θ2, the Monte
    Carlo target of :func:`first_passage_point`), full D, reflecting wall;
    on this rank alone.  A deterministic solve: no sampling noise.
    ``h_max``: far mesh size (default the case's, R/13) before ``refine``."""

    noise = Noise(alpha, Delta)
    run = passage.search_case(landscape, noise, target=(center, 0.0, half_width, 2.0), start=(start, 0.0),
                              comm=_self_comm(), grid=None, refine=refine, h_max=h_max)
    return {"T": noise.T, "fem_search_time": run.summary["mean_first_passage_time"], "fem_dofs": run.summary["mfpt_dofs"]}


def phase_point(landscape: Landscape, alpha: float, Delta: float, walkers: int, time: float,
                seed: int) -> dict:
    """Phase of SGD at (α, Δ) from Monte Carlo without a boundary.

    Walkers start spread over θ1 ∈ [−1.2, 1.2] (θ2 = 0) and run ``time``.
    III: more than half diverge; else II if the median final ``|θ1|`` is past
    half the flattest point, else I (docs/model.md §5).
    """
    rng = np.random.default_rng([seed, 11])
    start = np.column_stack([rng.uniform(-1.2, 1.2, walkers), np.zeros(walkers)])
    noise = Noise(alpha, Delta)
    r = montecarlo.run(landscape, noise, method="sgd", walkers=walkers, time=time, seed=seed,
                       sample_from=start, radius=math.inf, burn_in=0.0, survival_points=11,
                       comm=_self_comm())
    div = float(np.mean(r.status == 2))
    alive = r.status == 0
    med = float(np.median(np.abs(r.final[alive, 0]))) if alive.any() else math.nan
    flat = max(landscape.flattest_points())
    phase = "III" if div > 0.5 else ("II" if med > 0.5 * flat else "I")
    return {"alpha": alpha, "Delta": Delta, "T": noise.T, "diverged_fraction": div,
            "median_abs_theta1": med, "phase": phase}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _sweep(func: Callable, points: Sequence[tuple], comm: Any, label: str,
           progress: Optional[Callable[[str], None]]) -> list:
    bar = None
    rank = 0 if comm is None else comm.rank
    if rank == 0 and progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=len(points), desc=label, unit="pt", leave=False)

    def tick(done: int, total: int, point: Any) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()

    out = map_points(lambda p: func(*p), points, comm, tick)
    if bar is not None:
        bar.close()
    return out


def _within(value: float, target: float, rel: float, err: float = 0.0) -> compare.Verdict:
    return compare.compare_values(value, target, err=err, n_sigma=2.0, rel_tol=rel)


# --------------------------------------------------------------------------
# Fig. S5: cross-diffusion
# --------------------------------------------------------------------------

def _s5_case(landscape: Landscape, T: float, alpha: float, s: validation.Settings) -> dict:
    """validation.run_case on this rank plus density images; plain numbers only."""
    noise = Noise.from_temperature(T, alpha)
    res = validation.run_case(landscape, noise, settings=s, comm=_self_comm(), keep_solutions=True)

    checks = validation.add_case_to_report(Report("s5", {}), res)
    x_max, y_max = res.xedges[-1] * 1.1, res.yedges[-1] * 1.1
    gx, gy = np.linspace(-x_max, x_max, 161), np.linspace(-y_max, y_max, 101)
    X, Y = np.meshgrid(gx, gy, indexing="ij")
    images = {name: sol.evaluate(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
              for name, sol in res.solutions.items()}
    out = {"T": T, "gx": gx, "gy": gy, "images": images, "abs_edges": res.abs_edges,
           "checks": {k: v.as_dict() for k, v in checks.items()}}
    for name, _ in validation.VARIANTS:
        f, m = res.fem[name], res.mc[name]
        c_mc, _, half = compare.peak_location(m.abs_hist, res.abs_edges)
        out[name] = {"fem_mode": f["mode_theta1"], "fem_std_abs": f["std_abs_theta1"],
                     "fem_mean_abs": f["mean_abs_theta1"], "fem_abs_bins": f["abs_bins"],
                     "mc_peak": c_mc, "bin_half_width": half,
                     "mc_abs_density": m.abs_hist / m.summary["samples"],
                     "mc_mean_abs": m.moments["mean_abs_theta1"], "mc_std_abs": m.moments["std_abs_theta1"]}
    return out


def figure_s5(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    Ts = (0.01, 0.05)
    s5 = dataclasses.replace(s.s5, seed=s.seed * 1000 + 5)  # --seed reaches this figure too
    cases = _sweep(_s5_case, [(landscape, T, s.alpha, s5) for T in Ts], comm, "Fig. S5", progress)
    rows, checks, numbers = [], {}, {}
    for c in cases:
        full, nocr = c["full noise"], c["no cross-diffusion"]
        ratio_fem = full["fem_std_abs"] / nocr["fem_std_abs"]
        (sf, ef), (sn, en) = full["mc_std_abs"], nocr["mc_std_abs"]
        ratio_mc = sf / sn
        ratio_mc_err = ratio_mc * math.hypot(ef / sf, en / sn)
        T = c["T"]
        rows.append({"T": T, "fem_mode_full": full["fem_mode"], "fem_mode_nocross": nocr["fem_mode"],
                     "mc_peak_full": full["mc_peak"], "mc_peak_nocross": nocr["mc_peak"],
                     "peak_bin_half_width": full["bin_half_width"],
                     "fem_mean_abs_full": full["fem_mean_abs"], "fem_mean_abs_nocross": nocr["fem_mean_abs"],
                     "fem_std_abs_full": full["fem_std_abs"], "fem_std_abs_nocross": nocr["fem_std_abs"],
                     "mc_std_abs_full": sf, "mc_std_abs_full_se": ef,
                     "mc_std_abs_nocross": sn, "mc_std_abs_nocross_se": en,
                     "width_ratio_fem": ratio_fem, "width_ratio_mc": ratio_mc, "width_ratio_mc_se": ratio_mc_err})
        numbers[f"T={T:g}"] = {"validation_checks": c["checks"]}
        for k, v in c["checks"].items():
            checks[f"T={T:g} {k}"] = compare.Verdict(**{kk: v[kk] for kk in
                                                       ("value", "reference", "difference", "tolerance", "agree", "rule")})
    hi = rows[-1]
    lo = rows[0]
    # docs/model.md §6: the width halves at T = 0.05 (ratio 0.5); judged at 10 %
    checks["width halves at T=0.05 (FEM)"] = _within(hi["width_ratio_fem"], 0.5, 0.1)
    checks["width halves at T=0.05 (MC)"] = _within(hi["width_ratio_mc"], 0.5, 0.1, hi["width_ratio_mc_se"])
    finding = (f"Cross-diffusion moves the |θ1| peak by {hi['fem_mode_full'] - hi['fem_mode_nocross']:+.3f} "
               f"at T = 0.05 (FEM; bins of {2 * hi['peak_bin_half_width']:.3f}) and "
               f"{lo['fem_mode_full'] - lo['fem_mode_nocross']:+.1e} at T = 0.01, but scales the width std|θ1| by "
               f"{hi['width_ratio_fem']:.3f} (FEM) / {hi['width_ratio_mc']:.3f} ± {hi['width_ratio_mc_se']:.3f} (MC) "
               f"at T = 0.05 and by {lo['width_ratio_fem']:.3f} / {lo['width_ratio_mc']:.3f} at T = 0.01: "
               "the seed's 'little effect' holds below T_c, not above (docs/model.md §6 'halves' confirmed).")

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(2, 3, figsize=(15, 8))
        for i, c in enumerate(cases):
            for j, (name, _) in enumerate(validation.VARIANTS):
                ax = axes[i, j]
                im = ax.pcolormesh(c["gx"], c["gy"], np.clip(c["images"][name], 0, None).T, shading="auto",
                                   cmap="viridis")
                fig.colorbar(im, ax=ax)
                ax.set_title(f"FEM, {name}, T = {c['T']:g}")
                ax.set_xlabel("θ1")
                ax.set_ylabel("θ2")
            ax = axes[i, 2]
            e = c["abs_edges"]
            w = np.diff(e)
            for name, col in (("full noise", "C0"), ("no cross-diffusion", "C1")):
                ax.stairs(c[name]["fem_abs_bins"] / w, e, color=col, label=f"FEM {name}")
                ax.plot(0.5 * (e[1:] + e[:-1]), c[name]["mc_abs_density"] / w, "o", ms=3, color=col,
                        label=f"MC {name}")
            ax.set_xlabel("|θ1|")
            ax.set_title(f"|θ1| marginal, T = {c['T']:g}")
            ax.legend(fontsize=7)
        save_figure(fig, path, dpi=100)

    return Figure("figS5", "Fig. S5: stationary density with and without cross-diffusion", rows, finding,
                  checks, numbers, plot)


# --------------------------------------------------------------------------
# Fig. S3: fluctuations against T
# --------------------------------------------------------------------------

def figure_s3(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    # the coarse sweep mesh under-resolves the narrow densities of small T
    # (negative mass 7e-3 at T = 0.005): full resolution there
    def refine(T: float) -> float:
        return 1.0 if T < 0.0125 else s.fem_refine

    fem = _sweep(fem_point, [(landscape, T, s.alpha, True, refine(T)) for T in s.s3_T],
                 comm, "Fig. S3 FEM", progress)
    # the closed form neglects cross-diffusion: its twin is the FEM without D12
    fem_nc = _sweep(fem_point, [(landscape, T, s.alpha, False, refine(T)) for T in s.s3_mc_T],
                    comm, "Fig. S3 FEM no cross", progress)
    mc = _sweep(sgd_point, [(landscape, T, s.alpha, s.mc_walkers, s.mc_max_time, s.seed * 100 + i)
                            for i, T in enumerate(s.s3_mc_T)], comm, "Fig. S3 SGD", progress)
    # the continuous-limit twin of SGD (full noise), to separate finite-α effects
    sde = _sweep(sgd_point, [(landscape, T, s.alpha, s.mc_walkers, s.mc_max_time, s.seed * 100 + 50 + i,
                              "sde", s.s3_sde_dt) for i, T in enumerate(s.s3_mc_T)],
                 comm, "Fig. S3 SDE", progress)
    Ts = np.array(s.s3_T)
    closed = {T: theory.marginal_moments(landscape, T) for T in sorted(set(s.s3_T) | set(s.s3_mc_T))}
    checks = {}
    by_T = {name: {r["T"]: r for r in rs}
            for name, rs in (("fem", fem), ("sgd", mc), ("sde", sde), ("fem_nocross", fem_nc))}
    keys = ("var_theta2", "var_theta2_se", "var_abs_theta1", "var_abs_theta1_se", "relaxed")
    rows = []
    for T in sorted(set(s.s3_T) | set(s.s3_mc_T)):
        f = by_T["fem"].get(T, {})
        c = closed[T]
        row = {"T": T, "fem_var_theta2": f.get("var_theta2"), "fem_var_abs_theta1": f.get("var_abs_theta1"),
               "fem_var_theta1": f.get("var_theta1"), "fem_mode_theta1": f.get("mode_theta1"),
               "fem_nocross_var_theta2": by_T["fem_nocross"].get(T, {}).get("var_theta2"),
               "closed_var_theta2": c["var_theta2"], "closed_var_abs_theta1": c["std_abs_theta1"] ** 2,
               "closed_var_theta1": c["var_theta1"], "closed_mean_g_half": 0.5 * c["mean_g"]}
        for name in ("sgd", "sde"):
            row.update({f"{name}_{k}": by_T[name].get(T, {}).get(k) for k in keys})
        rows.append(row)
    fem_v2 = np.array([f["var_theta2"] for f in fem])
    fem_va = np.array([f["var_abs_theta1"] for f in fem])
    # Var θ2 = T<g>/2 (closed form, S27) against its process, the FEM without D12
    dev_nc = max(abs(f["var_theta2"] / closed[f["T"]]["var_theta2"] - 1) for f in fem_nc)
    checks["Var θ2 = T<g>/2 vs FEM without cross-diffusion (max rel. dev.)"] = compare.compare_values(
        dev_nc, 0.0, abs_tol=0.05)
    dev_full = [(f["T"], f["var_theta2"] / closed[f["T"]]["var_theta2"] - 1) for f in fem]
    T_worst, worst_full = max(dev_full, key=lambda t: abs(t[1]))
    tc_l = theory.critical_temperature_landscape(landscape)
    below = Ts < 0.9 * landscape.critical_temperature()
    far = Ts >= Ts.max() * 0.99
    slope_far = float(fem_v2[far][0] / Ts[far][0])
    lin = np.polyfit(Ts[below], fem_v2[below], 1)
    checks["Var θ2 linear below T_c: slope = g(0)/2"] = compare.compare_values(
        float(lin[0]), 0.5 * landscape.g(0.0), rel_tol=0.02)
    i_peak = int(np.argmax(fem_va))
    T_peak = float(Ts[i_peak])
    spacing = float(np.max(np.diff(Ts)[max(0, i_peak - 1):i_peak + 1]))
    checks["Var |θ1| peaks at T_c (FEM)"] = compare.compare_values(T_peak, tc_l, abs_tol=spacing)
    sgd_dev = []
    for r in sde:
        f = by_T["fem"].get(r["T"])
        if f is not None and r["relaxed"]:
            checks[f"Var θ2 SDE twin vs FEM, T={r['T']:g}"] = compare.compare_values(
                r["var_theta2"], f["var_theta2"], err=r["var_theta2_se"], rel_tol=0.05)
            checks[f"Var |θ1| SDE twin vs FEM, T={r['T']:g}"] = compare.compare_values(
                r["var_abs_theta1"], f["var_abs_theta1"], err=r["var_abs_theta1_se"], rel_tol=0.1)
            g = by_T["sgd"][r["T"]]
            if g["relaxed"]:
                sgd_dev.append((r["T"], g["var_abs_theta1"] / f["var_abs_theta1"] - 1,
                                g["var_abs_theta1_se"] / f["var_abs_theta1"]))
    not_relaxed = [r["T"] for r in mc + sde if not r["relaxed"]]
    T_sgd, d_sgd, e_sgd = max(sgd_dev, key=lambda t: abs(t[1])) if sgd_dev else (math.nan,) * 3
    finding = (f"Var θ2 is linear in T below T_c (slope {lin[0]:.4f} = g(0)/2 = {0.5 * landscape.g(0.0):g}) but "
               f"Var θ2/T falls to {slope_far:.3f} at T = {Ts[far][0]:g}: Var θ2 = T<g>/2 with <g> dropping as "
               f"SGD moves to flatter minima (closed form vs FEM without cross-diffusion within "
               f"{100 * dev_nc:.1f}%; cross-diffusion lowers it, by {100 * -worst_full:.1f}% at T = {T_worst:g}). "
               f"Var |θ1| peaks at T = {T_peak:g} (grid spacing {spacing:g}) against T_c = {tc_l:.4f} (landscape), "
               f"{landscape.critical_temperature():g} (constant D). The SDE twin (dt = {s.s3_sde_dt:g}) matches "
               f"the FEM; SGD at α = {s.alpha:g} deviates from it by up to {100 * d_sgd:+.0f} ± {100 * e_sgd:.0f}% "
               f"in Var |θ1| (T = {T_sgd:g}): a finite-learning-rate effect near T_c."
               + (f" Not relaxed (left out): T = {', '.join(f'{t:g}' for t in sorted(set(not_relaxed)))}."
                  if not_relaxed else ""))

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        fine = np.linspace(min(Ts) * 0.8, max(Ts) * 1.05, 60)
        cm = [theory.marginal_moments(landscape, T) for T in fine]
        ax = axes[0]
        ax.semilogy(Ts, fem_va, "o-", label="FEM (full D): Var |θ1|")
        ax.semilogy(fine, [m["std_abs_theta1"] ** 2 for m in cm], "k--", lw=1, label="closed form: Var |θ1|")
        for rs, mk, name in ((mc, "s", f"SGD α = {s.alpha:g}"), (sde, "^", f"SDE twin dt = {s.s3_sde_dt:g}")):
            ax.errorbar([r["T"] for r in rs], [r["var_abs_theta1"] for r in rs],
                        yerr=[r["var_abs_theta1_se"] for r in rs], fmt=mk, mfc="none", label=name)
        for tc, st in ((tc_l, ":"), (landscape.critical_temperature(), "-.")):
            ax.axvline(tc, color="gray", ls=st, lw=1)
        ax.set_xlabel("T = αΔ")
        ax.set_ylabel("Var |θ1| (fluctuation within a well)")
        ax.set_title(f"Fig. S3a: α = {s.alpha:g}; T_c lines (landscape, constant D)")
        ax.legend(fontsize=8)
        ax = axes[1]
        ax.plot(Ts, fem_v2, "o-", label="FEM (full D)")
        ax.plot([f["T"] for f in fem_nc], [f["var_theta2"] for f in fem_nc], "D", mfc="none",
                label="FEM without cross-diffusion")
        ax.plot(fine, [m["var_theta2"] for m in cm], "k--", lw=1, label="closed form T<g>/2")
        ax.plot(fine, np.polyval(lin, fine), "g:", label=f"linear fit below T_c (slope {lin[0]:.3f})")
        for rs, mk, name in ((mc, "s", "SGD"), (sde, "^", "SDE twin")):
            ax.errorbar([r["T"] for r in rs], [r["var_theta2"] for r in rs], yerr=[r["var_theta2_se"] for r in rs],
                        fmt=mk, mfc="none", label=name)
        ax.set_xlabel("T = αΔ")
        ax.set_ylabel("Var θ2")
        ax.set_title("Fig. S3b")
        ax.legend(fontsize=8)
        save_figure(fig, path, dpi=100)

    return Figure("figS3", "Fig. S3: steady-state fluctuations against T", rows, finding, checks,
                  {"fem": fem, "fem_nocross": fem_nc, "sgd": mc, "sde": sde, "T_peak_var_abs_theta1": T_peak,
                   "slope_below": float(lin[0]), "closed_vs_fem_nocross_max_dev": dev_nc,
                   "closed_vs_fem_full_max_dev": worst_full, "sgd_vs_fem_var_abs_theta1_max_dev": d_sgd}, plot)


# --------------------------------------------------------------------------
# Fig. S4: critical exponents
# --------------------------------------------------------------------------

def _with_eps(landscape: Landscape, eps: float) -> Landscape:
    return dataclasses.replace(landscape, eps=float(eps))


#: Mesh factor of the 2-D FEM search times (finer than the moments need: near
#: T_c below it the search time moved 2 % from factor 0.5 to 1 and 4 % to 2).
FEM_SEARCH_REFINE = 1.0
#: Far mesh size of Fig. S4's FEM search times: with the default R/13 they
#: were 12-16 % long at ε = 1e-3 above T_c (τ 4202 at r = 0.1; 3638 with
#: 0.05, 3614 with 0.025, SDE at dt → 0 3603 ± 150): the θ2 excursions,
#: where the θ1-diffusion D11 ∝ θ2² is largest, lie in the far mesh.
#: At ε = 0.01 it moves τ by 0.3 % above T_c, 3 % below.
FEM_SEARCH_H_MAX = 0.05


def _s4_series(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> dict:
    """β and γ data of one landscape (one ε): FEM order parameter with and
    without cross-diffusion, then search times of SGD, of the SDE without
    cross-diffusion (the 1-D formula's twin) and of the formula itself,
    and the 2-D FEM search time."""
    eps = landscape.eps
    tc = theory.critical_temperature_landscape(landscape)
    Tb = tc * (1 + np.array(s.s4_r))
    fem = _sweep(fem_point, [(landscape, T, s.alpha, cross, s.fem_refine) for cross in (False, True) for T in Tb],
                 comm, f"Fig. S4 FEM (ε = {eps:g})", progress)
    F0 = float(landscape.flatness(0.0))
    dF = {cross: np.array([f["flatness_at_mode"] - F0 for f in fem if f["cross"] == cross])
          for cross in (False, True)}
    dF_closed = np.array([theory.flatness_at_mode(landscape, T) - F0 for T in Tb])
    bounds = (0.5 * tc, Tb.min() * 0.999)
    beta_fixed = compare.fit_power_law(Tb, dF[False], x0=tc)
    beta = {cross: compare.fit_power_law_free_x0(Tb, dF[cross], x0_bounds=bounds) for cross in (False, True)}
    beta_closed = compare.fit_power_law(Tb, dF_closed, x0=tc)

    # γ: first passage from θ1* + 3σ* into θ1* ± σ* (theory.search_time, S44–S46);
    # the run lasts 6× the formula's time so that (almost) every walker arrives
    pts, meta = [], []
    for method, cross in (("sgd", True), ("sde", False)):
        for side in (-1, 1):
            for i, ri in enumerate(s.s4_gamma_r):
                T = tc * (1 + side * ri)
                noise = Noise.from_temperature(T, s.alpha)
                st = theory.search_time(landscape, noise)
                pts.append((landscape, s.alpha, noise.Delta, st["start"], st["mode_theta1"], st["window"],
                            s.s4_walkers, 6.0 * st["search_time"],
                            s.seed * 1000 + 100 * (method == "sde") + 10 * (side + 1) + i, method, cross,
                            s.s4_sde_dt if method == "sde" else None))
                meta.append({"eps": eps, "method": method, "side": side, "r": ri,
                             "formula_search_time": st["search_time"],
                             **{k: st[k] for k in ("start", "target", "window", "mode_theta1")}})
    fp = _sweep(first_passage_point, pts, comm, f"Fig. S4 first passage (ε = {eps:g})", progress)
    # the 2-D FEM search time of the same start and target (a fourth method;
    # below T_c on a core aligned with the axes: passage.aligned_core)
    fem_meta = [m for m in meta if m["method"] == "sgd"]
    fem_pts = [(landscape, p[1], p[2], p[3], p[4], p[5], FEM_SEARCH_REFINE, FEM_SEARCH_H_MAX) for p, m in zip(pts, meta)
               if m["method"] == "sgd"]
    fem_fp = _sweep(fem_search_point, fem_pts, comm, f"Fig. S4 FEM search time (ε = {eps:g})", progress)
    # each process about its critical point: SGD ↔ full-D FEM's fitted T_c;
    # the SDE without cross-diffusion, the 1-D formula's twin (its search
    # times follow the formula's within 5 % as dt → 0), about the formula's
    # exact T_c like the formula: an exponent compared is fitted about the
    # same point (about the no-cross FEM's fitted T_c, 1.7 % higher at
    # ε = 0.01, the twin's γ below T_c read 0.12 steeper than the formula's
    # even at dt = α/4)
    x0 = {"sgd": beta[True][0].x0, "sde": tc, "formula": tc, "fem": beta[True][0].x0}
    gamma, search = {}, {}
    for side in (-1, 1):
        for method in ("sgd", "sde"):
            sel = [(m, f) for m, f in zip(meta, fp) if m["side"] == side and m["method"] == method]
            T = np.array([f["T"] for _, f in sel])
            y = np.array([f["mc_search_time"] for _, f in sel])
            e = np.array([f["mc_search_time_se"] for _, f in sel])
            gamma[method, side] = compare.fit_power_law(T, y, x0=x0[method], y_err=e)
            search[method, side] = (T, y, e)
        yf = np.array([m["formula_search_time"] for m, _ in sel])
        gamma["formula", side] = compare.fit_power_law(T, yf, x0=tc)
        search["formula", side] = (T, yf, None)
        sel_f = [f for m, f in zip(fem_meta, fem_fp) if m["side"] == side]
        Tf = np.array([f["T"] for f in sel_f])
        yfem = np.array([f["fem_search_time"] for f in sel_f])
        # the full-D process about the full-D FEM's T_c, as SGD
        gamma["fem", side] = compare.fit_power_law(Tf, yfem, x0=x0["fem"])
        search["fem", side] = (Tf, yfem, None)
    rows = [{"quantity": "search_time", **m, **f} for m, f in zip(meta, fp)]
    rows += [{"quantity": "fem_search_time", "eps": eps, "side": m["side"], "r": m["r"], **f}
             for m, f in zip(fem_meta, fem_fp)]
    rows += [{"quantity": "flatness", "eps": eps, "T": f["T"], "cross": f["cross"], "mode_theta1": f["mode_theta1"],
              "F_minus_F0": f["flatness_at_mode"] - F0} for f in fem]
    rows += [{"quantity": "flatness_closed_form", "eps": eps, "T": T, "F_minus_F0": d} for T, d in zip(Tb, dF_closed)]
    return {"eps": eps, "tc": tc, "Tb": Tb, "dF": dF, "dF_closed": dF_closed, "beta_fixed": beta_fixed,
            "beta": beta, "beta_closed": beta_closed, "gamma": gamma, "search": search, "x0": x0,
            "hit_min": min(f["hit_fraction"] for f in fp), "rows": rows}


def _formula_gamma_trend(landscape: Landscape, r: Sequence[float], eps_values: Sequence[float]) -> list:
    """γ of the 1-D formula on both sides, fitted over the same r, against ε."""
    out = []
    for eps in eps_values:
        land = _with_eps(landscape, eps)
        tc = theory.critical_temperature_landscape(land)
        g = {}
        for side in (-1, 1):
            T = tc * (1 + side * np.asarray(r))
            tau = np.array([theory.search_time(land, t)["search_time"] for t in T])
            g[side] = -compare.fit_power_law(T, tau, x0=tc).exponent
        out.append({"eps": float(eps), "gamma_below_formula": g[-1], "gamma_above_formula": g[1]})
    return out


def figure_s4(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    series = [_s4_series(_with_eps(landscape, e) if e is not None else landscape, s, comm, progress)
              for e in (None, s.s4_crit_eps)]
    base, crit = series
    trend = _formula_gamma_trend(landscape, s.s4_gamma_r, s.s4_trend_eps)
    checks = {}
    for d in series:
        e = f"ε = {d['eps']:g}"
        checks[f"β (FEM no cross, T_c fixed), {e}"] = _within(d["beta_fixed"].exponent, 1.0, 0.2,
                                                               d["beta_fixed"].exponent_err)
        checks[f"β (FEM full D, T_c fitted), {e}"] = _within(d["beta"][True][0].exponent, 1.0, 0.2,
                                                              d["beta"][True][0].exponent_err)
        for side, label in ((-1, "below"), (1, "above")):
            g_sde, g_f = d["gamma"]["sde", side], d["gamma"]["formula", side]
            checks[f"γ {label} T_c, {e}: SDE without cross-diffusion vs 1-D formula"] = compare.compare_values(
                -g_sde.exponent, -g_f.exponent, err=g_sde.exponent_err, n_sigma=2, abs_tol=0.1)
    # the seed's γ = 1 is asymptotic (S45): tested where the fitted range lies
    # inside the critical region, i.e. at the small ε (the trend shows why)
    for side, label in ((-1, "below"), (1, "above")):
        g = crit["gamma"]["sgd", side]
        checks[f"γ {label} T_c (SGD, ε = {crit['eps']:g}) = 1"] = _within(-g.exponent, 1.0, 0.2, g.exponent_err)

    def gam(d: dict, method: str, side: int) -> str:
        g = d["gamma"][method, side]
        return f"{-g.exponent:.2f}" + (f" ± {g.exponent_err:.2f}" if method not in ("formula", "fem") else "")

    finding = (
        f"β = {base['beta_fixed'].exponent:.2f} ± {base['beta_fixed'].exponent_err:.2f} (FEM without "
        f"cross-diffusion) and {base['beta'][True][0].exponent:.2f} ± {base['beta'][True][0].exponent_err:.2f} "
        f"(full D, fitted T_c = {base['beta'][True][0].x0:.4f} vs {base['tc']:.4f}) at ε = {base['eps']:g}; "
        f"{crit['beta_fixed'].exponent:.2f} / {crit['beta'][True][0].exponent:.2f} at ε = {crit['eps']:g}. "
        f"γ (SGD, below / above T_c) = {gam(crit, 'sgd', -1)} / {gam(crit, 'sgd', 1)} at ε = {crit['eps']:g} "
        f"(SDE without cross-diffusion {gam(crit, 'sde', -1)} / {gam(crit, 'sde', 1)}, 1-D formula "
        f"{gam(crit, 'formula', -1)} / {gam(crit, 'formula', 1)}), but {gam(base, 'sgd', -1)} / "
        f"{gam(base, 'sgd', 1)} at ε = {base['eps']:g} (SDE {gam(base, 'sde', -1)} / {gam(base, 'sde', 1)}, "
        f"formula {gam(base, 'formula', -1)} / {gam(base, 'formula', 1)}) for |T − T_c|/T_c in "
        f"[{min(s.s4_gamma_r):g}, {max(s.s4_gamma_r):g}]; the 2-D FEM search time (backward equation, no "
        f"sampling noise) gives {gam(base, 'fem', -1)} / {gam(base, 'fem', 1)} at ε = {base['eps']:g} and "
        f"{gam(crit, 'fem', -1)} / {gam(crit, 'fem', 1)} at ε = {crit['eps']:g} (SGD's steeper γ above T_c "
        f"there is partly its finite α): "
        f"γ = 1 holds below T_c and is approached above T_c "
        f"only as ε → 0 (formula above T_c: "
        + ", ".join(f"{t['gamma_above_formula']:.2f} at ε = {t['eps']:g}" for t in trend) + ").")

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 4, figsize=(21, 4.6))
        ax = axes[0]
        for d, mk in ((base, "o"), (crit, "s")):
            tc = d["tc"]
            r = d["Tb"] / tc - 1
            b0, b1 = d["beta"][False][0], d["beta"][True][0]
            ax.loglog(d["Tb"] / b0.x0 - 1, d["dF"][False], mk, mfc="none",
                      label=f"ε = {d['eps']:g} FEM no cross: β = {b0.exponent:.2f} "
                            f"({d['beta_fixed'].exponent:.2f} with T_c fixed)")
            ax.loglog(d["Tb"] / b1.x0 - 1, d["dF"][True], mk,
                      label=f"ε = {d['eps']:g} FEM full D: β = {b1.exponent:.2f}")
            ax.loglog(r, d["dF_closed"], "k--", lw=1)
        ax.set_xlabel("(T − T_c)/T_c (FEM: fitted T_c; dashed: closed form)")
        ax.set_ylabel("F(θ1*) − F(0)")
        ax.set_title("Fig. S4a: order parameter")
        ax.legend(fontsize=7)
        for ax, side, label in ((axes[1], -1, "T < T_c"), (axes[2], 1, "T > T_c")):
            for d, c in ((base, "C0"), (crit, "C3")):
                for method, mk, name in (("sgd", "o", "SGD"), ("sde", "^", f"SDE no cross, dt = {s.s4_sde_dt:g}")):
                    T, y, e = d["search"][method, side]
                    x0 = d["x0"][method]
                    ax.errorbar(np.abs(T / x0 - 1), y, yerr=e, fmt=mk, color=c, mfc="none" if method == "sde" else c,
                                label=f"ε = {d['eps']:g} {name}: γ = {-d['gamma'][method, side].exponent:.2f}")
                T, y, _ = d["search"]["formula", side]
                ax.plot(np.abs(T / d["tc"] - 1), y, "--", color=c,
                        label=f"ε = {d['eps']:g} 1-D formula: γ = {-d['gamma']['formula', side].exponent:.2f}")
                if ("fem", side) in d["search"]:
                    T, y, _ = d["search"]["fem", side]
                    ax.plot(np.abs(T / d["x0"]["fem"] - 1), y, "-", color=c, lw=1.2,
                            label=f"ε = {d['eps']:g} 2-D FEM (backward eq.): "
                                  f"γ = {-d['gamma']['fem', side].exponent:.2f}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("|T − T_c|/T_c (each method about its own T_c)")
            ax.set_ylabel("search time (time units)")
            ax.set_title(f"Fig. S4{'b' if side < 0 else 'c'}: {label}")
            ax.legend(fontsize=6)
        ax = axes[3]
        e = [t["eps"] for t in trend]
        ax.semilogx(e, [t["gamma_below_formula"] for t in trend], "k--", label="1-D formula, below")
        ax.semilogx(e, [t["gamma_above_formula"] for t in trend], "k-", label="1-D formula, above")
        for d in series:
            for side, mk in ((-1, "v"), (1, "^")):
                g = d["gamma"]["sgd", side]
                ax.errorbar([d["eps"]], [-g.exponent], yerr=[g.exponent_err], fmt=mk, color="C1",
                            label="SGD" if d is base and side < 0 else None)
        ax.axhline(1.0, color="gray", lw=1)
        ax.axhspan(0.8, 1.2, color="gray", alpha=0.15)
        ax.set_xlabel("ε (incomplete degeneracy)")
        ax.set_ylabel("fitted γ")
        ax.set_title(f"γ against ε over |T − T_c|/T_c ∈ [{min(s.s4_gamma_r):g}, {max(s.s4_gamma_r):g}]")
        ax.legend(fontsize=7)
        save_figure(fig, path, dpi=100)

    numbers = {"gamma_trend_formula": trend}
    for d, tag in ((base, ""), (crit, "_crit")):
        numbers[f"eps{tag}"] = d["eps"]
        numbers[f"T_c_landscape{tag}"] = d["tc"]
        numbers[f"beta_fem_nocross{tag}"] = d["beta_fixed"].as_dict()
        numbers[f"beta_fem_nocross_free{tag}"] = d["beta"][False][0].as_dict()
        numbers[f"beta_fem_full{tag}"] = d["beta"][True][0].as_dict()
        numbers[f"beta_fem_full_x0_err{tag}"] = d["beta"][True][1]
        numbers[f"beta_closed_form{tag}"] = d["beta_closed"].as_dict()
        numbers[f"first_passage_min_hit_fraction{tag}"] = d["hit_min"]
        for side, label in ((-1, "below"), (1, "above")):
            for method in ("sgd", "sde", "formula", "fem"):
                if (method, side) in d["gamma"]:
                    numbers[f"gamma_{label}_{method}{tag}"] = d["gamma"][method, side].as_dict()
    rows = base["rows"] + crit["rows"] + [{"quantity": "gamma_formula_trend", **t} for t in trend]
    return Figure("figS4", "Fig. S4: critical exponents", rows, finding, checks, numbers, plot)


# --------------------------------------------------------------------------
# Fig. S2: search time against Δ and α (single well)
# --------------------------------------------------------------------------

#: Fig. S2 compares SGD with the 1-D formula where at least this fraction arrives.
S2_MIN_HIT = 0.8
#: ... and the 2-D FEM search time with the 1-D formula up to this T (measured:
#: within 1-2 % at T ≤ 0.05, 6 % at 0.1, 22 % at 0.2 where the elimination fails).
S2_ADIABATIC_T = 0.05


def figure_s2(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    pairs = [(s.s2_alpha, D) for D in s.s2_Deltas] + [(a, s.s2_Delta) for a in s.s2_alphas]
    pts, formula = [], []
    for i, (a, D) in enumerate(pairs):
        T = a * D
        tau = theory.mean_first_passage_time(landscape, T, s.s2_start, s.s2_target, 2.0)
        formula.append(tau)
        pts.append((landscape, a, D, s.s2_start, 0.0, s.s2_target, s.fp_walkers, min(8 * tau, 20000.0),
                    s.seed * 10000 + i))
    fp = _sweep(first_passage_point, pts, comm, "Fig. S2 SGD first passage", progress)
    fem = _sweep(fem_search_point, [(landscape, a, D, s.s2_start, 0.0, s.s2_target, FEM_SEARCH_REFINE) for a, D in pairs],
                 comm, "Fig. S2 FEM search time", progress)
    rows, checks, lost = [], {}, []
    for (a, D), f, tau, g in zip(pairs, fp, formula, fem):
        rows.append({**f, "formula_search_time": tau, "formula_search_steps": tau / a,
                     "fem_search_time": g["fem_search_time"], "fem_search_steps": g["fem_search_time"] / a,
                     "mc_search_steps": f["mc_search_time"] / a,
                     "compared": f["hit_fraction"] >= S2_MIN_HIT})
        # the formula reflects at the far side; where many SGD walkers leave
        # the disk (or diverge) first, the mean over those that arrive is a
        # conditional time, not the formula's quantity
        if f["hit_fraction"] >= S2_MIN_HIT:
            checks[f"search time α={a:g} Δ={D:g}: SGD vs 1-D formula"] = compare.compare_values(
                f["mc_search_time"], tau, err=f["mc_search_time_se"], rel_tol=0.15)
        else:
            lost.append(f"α = {a:g}, Δ = {D:g}: {100 * (1 - f['hit_fraction']):.0f}% of the walkers lost before "
                        f"arriving, the rest in {f['mc_search_time']:.3g} vs formula {tau:.3g}")
    # the 2-D FEM search time is what the 1-D formula approximates; they
    # agree where the adiabatic elimination holds (T ≤ 0.05 here)
    for r in rows:
        if r["T"] <= S2_ADIABATIC_T:
            checks[f"search time α={r['alpha']:g} Δ={r['Delta']:g}: 2-D FEM vs 1-D formula"] = compare.compare_values(
                r["fem_search_time"], r["formula_search_time"], rel_tol=0.1)
    nD = len(s.s2_Deltas)
    tD = [r["mc_search_time"] for r in rows[:nD]]
    ta = [r["mc_search_time"] for r in rows[nD:]]
    mono = all(np.diff(tD) < 0) and all(np.diff(ta) < 0)
    checks["search time falls with Δ and with α"] = compare.compare_values(float(mono), 1.0, abs_tol=0.0)
    worst = max(abs(r["mc_search_time"] / r["formula_search_time"] - 1) for r in rows if r["compared"])
    finding = (f"Single well, start θ1 = {s.s2_start:g}, target |θ1| < {s.s2_target:g}: the SGD search time falls "
               f"from {tD[0]:.0f} to {tD[-1]:.0f} time units as Δ grows ({s.s2_Deltas[0]:g}→{s.s2_Deltas[-1]:g}, "
               f"α = {s.s2_alpha:g}) and from {ta[0]:.0f} to {ta[-1]:.0f} as α grows "
               f"({s.s2_alphas[0]:g}→{s.s2_alphas[-1]:g}, Δ = {s.s2_Delta:g}); it depends on T = αΔ only and "
               f"follows the 1-D formula within {100 * worst:.0f}% wherever at least {100 * S2_MIN_HIT:.0f}% of the "
               f"walkers arrive; the 2-D FEM search time (backward equation) is within "
               f"{100 * max(abs(r['fem_search_time'] / r['formula_search_time'] - 1) for r in rows if r['T'] <= S2_ADIABATIC_T):.0f}% "
               f"of the formula for T ≤ {S2_ADIABATIC_T:g} and above it by "
               f"{100 * max(r['fem_search_time'] / r['formula_search_time'] - 1 for r in rows):.0f}% at most" + (f"; not compared (SGD leaves the continuous limit): {'; '.join(lost)}."
                                    if lost else "."))

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, sl, xs, xlabel in ((axes[0], slice(0, nD), s.s2_Deltas, f"Δ (α = {s.s2_alpha:g})"),
                                   (axes[1], slice(nD, None), s.s2_alphas, f"α (Δ = {s.s2_Delta:g})")):
            rr = rows[sl]
            ax.errorbar(xs, [r["mc_search_time"] for r in rr], yerr=[r["mc_search_time_se"] for r in rr],
                        fmt="o", label="SGD Monte Carlo")
            ax.plot(xs, [r["formula_search_time"] for r in rr], "k--", label="1-D formula (MFPT)")
            ax.plot(xs, [r["fem_search_time"] for r in rr], "-", color="C3", label="2-D FEM (backward equation)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("search time = steps × α")
            ax.legend(fontsize=8)
        axes[0].set_title("Fig. S2a: search time against Δ")
        axes[1].set_title("Fig. S2b: search time against α")
        save_figure(fig, path, dpi=100)

    return Figure("figS2", "Fig. S2: search time, single well", rows, finding, checks,
                  {"max_rel_deviation": worst,
                   "fem_vs_formula_max_rel": max(abs(r["fem_search_time"] / r["formula_search_time"] - 1)
                                                 for r in rows)}, plot)


# --------------------------------------------------------------------------
# Phase diagram
# --------------------------------------------------------------------------

def figure_phase(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    grid = [(a, D) for a in s.phase_alphas for D in s.phase_Deltas]
    pts = [(landscape, a, D, s.phase_walkers, s.phase_time, s.seed * 100000 + i) for i, (a, D) in enumerate(grid)]
    res = _sweep(phase_point, pts, comm, "phase diagram", progress)
    tc_l = theory.critical_temperature_landscape(landscape)
    tc_c = landscape.critical_temperature()
    alphas = np.array(sorted(set(s.phase_alphas)))
    bounds = _sweep(lambda a: {"alpha": a, **{c: theory.delta_max(landscape, a, c)
                                              for c in theory.STABILITY_CONDITIONS}},
                    [(a,) for a in alphas], comm, "divergence boundaries", progress)
    rows = [dict(r) for r in res]
    for r in rows:
        T = r["T"]
        dmax = next(b for b in bounds if b["alpha"] == r["alpha"])
        stable = [r["Delta"] < dmax[c] for c in ("first-order", "second-order")]
        r["theory_phase"] = ("III" if not all(stable) else "II" if T > tc_l else "I")
    # phases I/II where SGD does not diverge: decided by T = αΔ against T_c
    calm = [r for r in rows if r["phase"] != "III"]
    agree_12 = float(np.mean([r["phase"] == ("II" if r["T"] > tc_l else "I") for r in calm])) if calm else math.nan
    # divergence: per α the smallest Δ of the grid where most walkers diverge, vs the closed forms
    edges = []
    for b in bounds:
        div = sorted(r["Delta"] for r in rows if r["alpha"] == b["alpha"] and r["phase"] == "III")
        edges.append({"alpha": b["alpha"], "mc_Delta_diverge": div[0] if div else math.inf,
                      "theory_Delta_max_second_order": b["second-order"],
                      "theory_Delta_max_heavy_tail": b["heavy-tail"]})
    finite = [e for e in edges if math.isfinite(e["mc_Delta_diverge"])]
    over = [e["theory_Delta_max_second_order"] / e["mc_Delta_diverge"] for e in finite]
    checks = {
        "phase I/II (non-divergent points): MC = sign of T − T_c": compare.compare_values(agree_12, 1.0, abs_tol=0.2),
        # the grid brackets the MC boundary within a factor of its spacing (~3)
        "divergence: theory Δ_max (second order) / MC onset": compare.compare_values(
            float(np.median(over)) if over else math.nan, 1.0, abs_tol=2.0),
    }
    counts = {p: sum(r["phase"] == p for r in rows) for p in ("I", "II", "III")}
    alphas_div = [e["alpha"] for e in finite]
    finding = (f"SGD Monte Carlo on {len(rows)} (α, Δ) points: {counts['I']} in phase I, {counts['II']} in II, "
               f"{counts['III']} in III; {100 * agree_12:.0f}% of the non-divergent points fall on the side of "
               f"T = T_c = {tc_l:.4f} that theory says; SGD diverges from Δ = "
               + ", ".join(f"{e['mc_Delta_diverge']:g}" for e in finite)
               + f" at α = {', '.join(f'{a:g}' for a in alphas_div)}, i.e. the onset falls with α as the seed says, "
               f"but the closed-form second-order condition puts it {np.median(over) if over else math.nan:.1f}x "
               "higher (median): the averaged stability conditions with Gaussian θ2 miss the heavy-tailed "
               "excursions that make SGD diverge.")
    def plot(path: Path) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7, 5.5))
        marks = {"I": ("o", "C0"), "II": ("s", "C2"), "III": ("x", "C3")}
        for p, (m, col) in marks.items():
            sel = [r for r in rows if r["phase"] == p]
            ax.scatter([r["alpha"] for r in sel], [r["Delta"] for r in sel], marker=m, color=col,
                       label=f"MC phase {p}")
        fa = np.geomspace(min(alphas) * 0.8, max(alphas) * 1.2, 50)
        ax.plot(fa, tc_l / fa, "k-", label=f"T = T_c = {tc_l:.4f} (landscape)")
        ax.plot(fa, tc_c / fa, "k:", label=f"T = T_c = {tc_c:g} (constant D)")
        for c, st in (("first-order", "--"), ("second-order", "-."), ("heavy-tail", ":")):
            ys = [b[c] for b in bounds]
            ax.plot(alphas, ys, st, color="C3", label=f"Δ_max ({c})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(min(s.phase_Deltas) * 0.7, max(s.phase_Deltas) * 1.5)
        ax.set_xlabel("learning rate α")
        ax.set_ylabel("noise strength Δ")
        ax.set_title("Phase diagram: I global minimum, II flatter, III divergence")
        ax.legend(fontsize=7)
        save_figure(fig, path, dpi=100)

    return Figure("phase_diagram", "Phase diagram in the (α, Δ) plane", rows, finding, checks,
                  {"boundaries": bounds, "counts": counts, "divergence_onset": edges}, plot)


def figure_relaxation(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    """Relaxation rate against T across T_c (:mod:`fpsolve.validation.relaxation`)."""
    res = relaxation.relaxation_sweep(landscape, s.relax_r, alpha=s.alpha, refine=s.fem_refine, comm=comm)
    rows, fits, tc = res["rows"], res["fits"], res["T_c"]
    below, above = fits["below"], fits["above"]
    trusted = float(np.mean([r["trusted1"] for r in rows if r["T"] < tc] + [r["trusted2"] for r in rows if r["T"] > tc]))
    checks = {
        # rate ∝ 1/τ_s: the dip's exponent below T_c is the search time's γ (1 in theory, §5)
        "dip exponent below T_c vs γ of the 1-D search time": _within(below["exponent"], below["gamma_formula"], 0.25),
        "dip exponent below T_c vs γ = 1 (§5)": _within(below["exponent"], 1.0, 0.25),
        "fitted critical point below T_c vs landscape T_c": _within(below["T_x"], tc, 0.05),
        "trusted eigenvalues (fraction of the dip's points)": compare.compare_values(trusted, 1.0, abs_tol=1e-9),
    }
    finding = (f"Re(λ1 − λ0) falls as (T_x − T)^{below['exponent']:.2f}±{below['exponent_err']:.2f} below T_c "
               f"(T_x = {below['T_x']:.4f}; landscape T_c = {tc:.4f}), where the 1-D search time gives "
               f"γ = {below['gamma_formula']:.2f}; above T_c λ1 is the hopping rate between the peaks "
               f"({min(r['rate1'] for r in rows if r['T'] > tc):.2g} at T = {max(r['T'] for r in rows):.3g}) and "
               f"the in-peak rate Re(λ2 − λ0) rises as (T − T_x)^{above['exponent']:.2f}±{above['exponent_err']:.2f} "
               f"(T_x = {above['T_x']:.4f}; formula γ = {above['gamma_formula']:.2f}): the dip of the relaxation "
               "rate at T_c is seed S4's diverging search time seen in the spectrum.")

    def plot(path: Path) -> None:
        plot_relaxation_sweep(path, rows, {"landscape": tc, "constant D": res["T_c_constant"]}, fits,
                              "Relaxation rate of the generator across T_c (default double well)")

    return Figure("relaxation", "Relaxation rate across T_c (spectrum)", rows, finding, checks,
                  {"fits": fits, "T_c": tc, "T_c_constant": res["T_c_constant"]}, plot)


def figure_dimension(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    """The flatness transition against the number of fast directions (:mod:`fpsolve.validation.dimension`)."""
    res = dimension.dimension_sweep(landscape, s.dim_m, s.dim_r, dt=s.dim_dt, base_walkers=s.dim_walkers,
                                    min_walkers=s.dim_min_walkers, max_time=s.dim_max_time,
                                    fixed_T=s.dim_fixed_T, seed=s.seed, comm=comm)
    rows, crit, fixed = res["rows"], res["critical"], res["fixed_T_rows"]
    r_fine = [r for r in np.linspace(0.3, 3.2, 59) if abs(r - 1.0) > 1e-9]
    lines = dimension.curves(landscape, s.dim_m, r_fine)
    search = dimension.search_rows(landscape, s.dim_search_m, (0.5, 1.5, 3.0), s.dim_fixed_T)
    ok = [c for c in crit if c["T_c_mc"] is not None]
    mtc = [c["m_T_c_mc"] for c in ok]
    bias = 0.5 * landscape.a0 * s.dim_dt   # Euler-Maruyama: each fast variance × 1/(1 − g dt/2)
    checks = {
        "spread of m·T_c(m) from the Monte Carlo (max/min − 1) within 10 %":
            compare.compare_values(max(mtc) / min(mtc) - 1.0 if mtc else math.nan, 0.0, abs_tol=0.10),
    }
    for c in ok:
        checks[f"m={c['m']}: Monte-Carlo T_c (estimator bias removed) vs landscape T_c"] = compare.compare_values(
            c["T_c_mc_corrected"], c["T_c_landscape"], err=c["T_c_mc_corrected_err"], n_sigma=3.0,
            rel_tol=bias + 0.02)

    def dev(row: dict) -> float:
        return row["mc_mean_abs"] / row["cf_mean_abs"] - 1.0

    at = {(row["m"], round(row["r"], 6)): row for row in rows}
    for m in s.dim_m:
        row = at.get((m, 1.5))
        if row is not None and m >= 10:
            checks[f"m={m}, T = 1.5 T_c(m): MC mean |x| vs closed form"] = compare.compare_values(
                row["mc_mean_abs"], row["cf_mean_abs"], err=row["mc_mean_abs_se"], rel_tol=0.03)
    table = "; ".join(f"m={c['m']}: {c['T_c_mc']:.4g}±{c['T_c_mc_err']:.1g} (corrected {c['T_c_mc_corrected']:.4g}, "
                      f"landscape {c['T_c_landscape']:.4g}, constant D {c['T_c_constant']:.4g})" for c in ok)
    devs = "; ".join(f"m={m}: " + ", ".join(f"{100 * dev(at[(m, r)]):+.1f}%" for r in (0.5, 1.5, 3.0)
                                            if (m, r) in at) for m in s.dim_m)
    fx = "; ".join(f"m={f['m']} (T/T_c = {f['r']:.3g}, τ2/τ1 = {f['adiabatic_ratio']:.2g}): {100 * dev(f):+.1f}%"
                   for f in fixed)
    finding = (f"T_c(m) from the Monte Carlo (onset fit of mean |x|² in 1/T, r in 1.15-1.65; dt = {s.dim_dt:g}, "
               f"expected bias −{100 * bias:.2g}%): {table}. m·T_c varies by "
               f"{100 * (max(mtc) / min(mtc) - 1) if mtc else math.nan:.1f}% over m = "
               f"{', '.join(str(c['m']) for c in ok)}, following the landscape-dependent closed form toward "
               f"2ε/(a0|a2|). MC mean |x| over the closed form at T/T_c(m) = 0.5, 1.5, 3: {devs}. "
               f"At fixed T = {s.dim_fixed_T:g}: {fx}.")

    def plot(path: Path) -> None:
        plot_dimension(path, rows, lines, crit, search,
                       f"The flatness transition with m fast directions ({landscape.name}, ε = {landscape.eps:g}; "
                       f"MC: SDE, dt = {s.dim_dt:g})")

    return Figure("dimension", "Flatness transition against the number of fast directions", rows + fixed, finding,
                  checks, {"critical": crit, "fixed_T_rows": fixed, "search": search, "curves": lines,
                           "settings": res["settings"]}, plot)


#: name -> (function, default landscape preset)
FIGURES = {
    "S5": (figure_s5, "double-well"),
    "S3": (figure_s3, "double-well"),
    "S4": (figure_s4, "double-well"),
    "S2": (figure_s2, "single-well"),
    "phase": (figure_phase, "double-well"),
    "relaxation": (figure_relaxation, "double-well"),
    "dimension": (figure_dimension, "double-well"),
}
