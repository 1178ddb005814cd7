"""The seed's results, reproduced with fpsolve's own numbers (issue 6).

One function per figure; each runs its sweep through
:func:`fpsolve.report.map_points` (points dealt over MPI ranks, results
identical to serial), and returns a :class:`Figure`: the rows behind the
plot (written as CSV), the checks it supports, and a one-line finding.

* Fig. S5 — cross-diffusion: FEM and MC twins with and without D12, below
  and above T_c (peak location and width).
* Fig. S3 — fluctuations against T at fixed α: Var θ2 and Var |θ1|
  (FEM full noise, SGD Monte Carlo, closed form).
* Fig. S4 — critical exponents: β from F(θ1*) − F(0) (FEM), γ from SGD
  first-passage search times on both sides of T_c (with the 1-D formula).
* Fig. S2 — search time against Δ and α, single-well, SGD vs 1-D formula.
* Phase diagram — phases I/II/III of SGD in the (α, Δ) plane with the
  theoretical boundaries.

Units: time in α SGD steps (t = α k); search times in time units.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import compare, montecarlo, theory, validation
from .model import Landscape, Noise
from .plotting import pyplot
from .report import map_points

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
    mc_max_time: float = 600.0
    s4_r: tuple = (0.05, 0.1, 0.2, 0.4)           # (T − T_c)/T_c for β
    s4_gamma_r: tuple = (0.1, 0.2, 0.4)           # |T − T_c|/T_c for γ, each side
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
    s5: validation.Settings = validation.Settings(walkers=1000, groups=4, peak_bins=30)
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
    s4_gamma_r=(0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
    fp_walkers=2000,
    s2_alphas=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4), s2_Deltas=(0.1, 0.2, 0.5, 1.0, 2.0, 4.0),
    phase_alphas=tuple(np.round(np.geomspace(0.01, 1.0, 9), 4)),
    phase_Deltas=tuple(np.round(np.geomspace(0.03, 100.0, 12), 4)),
    phase_walkers=1000, phase_time=1000.0,
    s5=validation.Settings(walkers=8000, groups=8, dt=0.01, burn_in=3.0, window=3.0, max_time=1500.0),
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
    """FEM moments at noise level T (MODEL.md §4), on this rank alone."""
    from . import solver

    sol = solver.solve(landscape, Noise.from_temperature(T, alpha), cross=cross, refine=refine,
                       comm=_self_comm())
    out = {"T": T, "cross": cross, **{k: sol.summary[k] for k in FEM_KEYS}}
    out["var_abs_theta1"] = out["std_abs_theta1"] ** 2
    return out


def sgd_point(landscape: Landscape, T: float, alpha: float, walkers: int, max_time: float,
              seed: int) -> dict:
    """Stationary moments of linear-shift SGD (MODEL.md §2) at T = αΔ.

    Walkers start from the closed form and run 2.5 τ1 of burn-in and 2 τ1 of
    window (capped at ``max_time``); ``relaxed`` says whether the cap bit.
    """
    noise = Noise.from_temperature(T, alpha)
    tau1 = validation.relaxation_time(landscape, noise)
    burn = min(2.5 * tau1, max_time / 2)
    total = min(burn + 2.0 * tau1, max_time)
    start = validation.start_sampler(landscape, noise, walkers, seed, 2.0)
    r = montecarlo.run(landscape, noise, method="sgd", walkers=walkers, time=total, seed=seed,
                       sample_from=start, burn_in=burn,
                       sample_interval=max(alpha, min(tau1 / 10, (total - burn) / 20)))
    s = r.summary
    out = {"T": T, "alpha": alpha, "walkers": walkers, "tau1": tau1, "burn_in": burn, "time": total,
           "relaxed": bool(burn >= 2.0 * tau1), "survival_fraction": s["survival_fraction"]}
    for k in ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2"):
        out[k], out[k + "_se"] = s.get(k, math.nan), s.get(k + "_se", math.nan)
    out["var_abs_theta1"] = out["std_abs_theta1"] ** 2
    out["var_abs_theta1_se"] = 2 * out["std_abs_theta1"] * out["std_abs_theta1_se"]
    return out


def first_passage_point(landscape: Landscape, alpha: float, Delta: float, start: float,
                        center: float, half_width: float, walkers: int, time: float, seed: int) -> dict:
    """Mean first passage time of SGD into |θ1 − center| < half_width (any θ2).

    Walkers start at (start, 0); time units (search time = steps × α, seed
    II.1).  ``hit_fraction`` < 1 means the run was cut (the mean is then a
    lower bound and is flagged).
    """
    noise = Noise(alpha, Delta)
    r = montecarlo.run(landscape, noise, method="sgd", walkers=walkers, time=time, seed=seed,
                       sample_from=(start, 0.0),
                       target=montecarlo.Box((center, 0.0), (half_width, 1e6)))
    s = r.summary
    return {"alpha": alpha, "Delta": Delta, "T": noise.T, "start": start, "target_center": center,
            "target_half_width": half_width, "walkers": walkers, "time": time,
            "hit_fraction": s["first_passage_hit_fraction"],
            "mc_search_time": s["first_passage_mean_time"], "mc_search_time_se": s["first_passage_mean_time_se"]}


def phase_point(landscape: Landscape, alpha: float, Delta: float, walkers: int, time: float,
                seed: int) -> dict:
    """Phase of SGD at (α, Δ) from Monte Carlo without a boundary.

    Walkers start spread over θ1 ∈ [−1.2, 1.2] (θ2 = 0) and run ``time``.
    III: more than half diverge; else II if the median final |θ1| is past
    half the flattest point, else I (MODEL.md §5).
    """
    rng = np.random.default_rng([seed, 11])
    start = np.column_stack([rng.uniform(-1.2, 1.2, walkers), np.zeros(walkers)])
    noise = Noise(alpha, Delta)
    r = montecarlo.run(landscape, noise, method="sgd", walkers=walkers, time=time, seed=seed,
                       sample_from=start, radius=math.inf, burn_in=0.0, survival_points=11)
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
    from .report import Report

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
    cases = _sweep(_s5_case, [(landscape, T, s.alpha, s.s5) for T in Ts], comm, "Fig. S5", progress)
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
    # MODEL.md §6: the width halves at T = 0.05 (ratio 0.5); judged at 10 %
    checks["width halves at T=0.05 (FEM)"] = _within(hi["width_ratio_fem"], 0.5, 0.1)
    checks["width halves at T=0.05 (MC)"] = _within(hi["width_ratio_mc"], 0.5, 0.1, hi["width_ratio_mc_se"])
    finding = (f"Cross-diffusion moves the |θ1| peak by {hi['fem_mode_full'] - hi['fem_mode_nocross']:+.3f} "
               f"at T = 0.05 (FEM; bins of {2 * hi['peak_bin_half_width']:.3f}) and "
               f"{lo['fem_mode_full'] - lo['fem_mode_nocross']:+.1e} at T = 0.01, but scales the width std|θ1| by "
               f"{hi['width_ratio_fem']:.3f} (FEM) / {hi['width_ratio_mc']:.3f} ± {hi['width_ratio_mc_se']:.3f} (MC) "
               f"at T = 0.05 and by {lo['width_ratio_fem']:.3f} / {lo['width_ratio_mc']:.3f} at T = 0.01: "
               "the seed's 'little effect' holds below T_c, not above (MODEL.md §6 'halves' confirmed).")

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
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return Figure("figS5", "Fig. S5: stationary density with and without cross-diffusion", rows, finding,
                  checks, numbers, plot)


# --------------------------------------------------------------------------
# Fig. S3: fluctuations against T
# --------------------------------------------------------------------------

def figure_s3(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    # the coarse sweep mesh under-resolves the narrow densities of small T
    # (negative mass 7e-3 at T = 0.005): full resolution there
    fem = _sweep(fem_point, [(landscape, T, s.alpha, True, 1.0 if T < 0.0125 else s.fem_refine)
                             for T in s.s3_T], comm, "Fig. S3 FEM", progress)
    mc = _sweep(sgd_point, [(landscape, T, s.alpha, s.mc_walkers, s.mc_max_time, s.seed * 100 + i)
                            for i, T in enumerate(s.s3_mc_T)], comm, "Fig. S3 SGD", progress)
    Ts = np.array(s.s3_T)
    rows = []
    closed = {}
    for T in sorted(set(s.s3_T) | set(s.s3_mc_T)):
        m = theory.marginal_moments(landscape, T)
        closed[T] = m
    checks = {}
    by_T_mc = {r["T"]: r for r in mc}
    for f in fem:
        T = f["T"]
        c = closed[T]
        r = by_T_mc.get(T, {})
        rows.append({"T": T, "fem_var_theta2": f["var_theta2"], "fem_var_abs_theta1": f["var_abs_theta1"],
                     "fem_var_theta1": f["var_theta1"], "fem_mode_theta1": f["mode_theta1"],
                     "closed_var_theta2": c["var_theta2"], "closed_var_abs_theta1": c["std_abs_theta1"] ** 2,
                     "closed_var_theta1": c["var_theta1"], "closed_mean_g_half": 0.5 * c["mean_g"],
                     **{f"sgd_{k}": r.get(k) for k in ("var_theta2", "var_theta2_se", "var_abs_theta1",
                                                        "var_abs_theta1_se", "relaxed")}})
    for r in mc:
        if r["T"] not in s.s3_T:
            rows.append({"T": r["T"], **{f"sgd_{k}": r.get(k) for k in (
                "var_theta2", "var_theta2_se", "var_abs_theta1", "var_abs_theta1_se", "relaxed")}})
    fem_v2 = np.array([f["var_theta2"] for f in fem])
    fem_va = np.array([f["var_abs_theta1"] for f in fem])
    # Var θ2 = T ⟨g⟩/2 (closed form, S27): FEM within 5 %
    dev = max(abs(f["var_theta2"] / closed[f["T"]]["var_theta2"] - 1) for f in fem)
    checks["Var θ2 = T<g>/2 (FEM, max rel. dev.)"] = compare.compare_values(dev, 0.0, abs_tol=0.05)
    tc_l = theory.critical_temperature_landscape(landscape)
    below = Ts < 0.9 * landscape.critical_temperature()
    slope_below = fem_v2[below] / Ts[below]
    far = Ts >= Ts.max() * 0.99
    slope_far = float(fem_v2[far][0] / Ts[far][0])
    lin = np.polyfit(Ts[below], fem_v2[below], 1)
    checks["Var θ2 linear below T_c: slope = g(0)/2"] = compare.compare_values(
        float(lin[0]), 0.5 * landscape.g(0.0), rel_tol=0.02)
    i_peak = int(np.argmax(fem_va))
    T_peak = float(Ts[i_peak])
    spacing = float(np.max(np.diff(Ts)[max(0, i_peak - 1):i_peak + 1]))
    checks["Var |θ1| peaks at T_c (FEM)"] = compare.compare_values(T_peak, tc_l, abs_tol=spacing)
    for r in mc:
        f = next((x for x in fem if x["T"] == r["T"]), None)
        if f is not None and r["relaxed"]:
            checks[f"Var θ2 SGD vs FEM, T={r['T']:g}"] = compare.compare_values(
                r["var_theta2"], f["var_theta2"], err=r["var_theta2_se"], rel_tol=0.05)
            checks[f"Var |θ1| SGD vs FEM, T={r['T']:g}"] = compare.compare_values(
                r["var_abs_theta1"], f["var_abs_theta1"], err=r["var_abs_theta1_se"], rel_tol=0.1)
    finding = (f"Var θ2 is linear in T below T_c (slope {lin[0]:.4f} = g(0)/2 = {0.5 * landscape.g(0.0):g}) but its "
               f"slope Var θ2/T falls to {slope_far:.3f} at T = {Ts[far][0]:g}: Var θ2 = T<g>/2 with <g> "
               f"dropping as SGD moves to flatter minima (max dev. from the closed form {100 * dev:.1f}%); "
               f"Var |θ1| peaks at T = {T_peak:g} (grid spacing {spacing:g}) against T_c = {tc_l:.4f} (landscape), "
               f"{landscape.critical_temperature():g} (constant D).")

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        fine = np.linspace(min(Ts) * 0.8, max(Ts) * 1.05, 60)
        cm = [theory.marginal_moments(landscape, T) for T in fine]
        ax = axes[0]
        ax.semilogy(Ts, fem_va, "o-", label="FEM (full D): Var |θ1|")
        ax.semilogy(fine, [m["std_abs_theta1"] ** 2 for m in cm], "k--", lw=1, label="closed form: Var |θ1|")
        ax.errorbar([r["T"] for r in mc], [r["var_abs_theta1"] for r in mc],
                    yerr=[r["var_abs_theta1_se"] for r in mc], fmt="s", label="SGD Monte Carlo")
        for tc, st in ((tc_l, ":"), (landscape.critical_temperature(), "-.")):
            ax.axvline(tc, color="gray", ls=st, lw=1)
        ax.set_xlabel("T = αΔ")
        ax.set_ylabel("Var |θ1| (fluctuation within a well)")
        ax.set_title(f"Fig. S3a: α = {s.alpha:g}; T_c lines (landscape, constant D)")
        ax.legend(fontsize=8)
        ax = axes[1]
        ax.plot(Ts, fem_v2, "o-", label="FEM (full D)")
        ax.plot(fine, [m["var_theta2"] for m in cm], "k--", lw=1, label="closed form T<g>/2")
        ax.plot(fine, np.polyval(lin, fine), "g:", label=f"linear fit below T_c (slope {lin[0]:.3f})")
        ax.errorbar([r["T"] for r in mc], [r["var_theta2"] for r in mc], yerr=[r["var_theta2_se"] for r in mc],
                    fmt="s", label="SGD Monte Carlo")
        ax.set_xlabel("T = αΔ")
        ax.set_ylabel("Var θ2")
        ax.set_title("Fig. S3b")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return Figure("figS3", "Fig. S3: steady-state fluctuations against T", rows, finding, checks,
                  {"fem": fem, "sgd": mc, "T_peak_var_abs_theta1": T_peak, "slope_below": float(lin[0])}, plot)


# --------------------------------------------------------------------------
# Fig. S4: critical exponents
# --------------------------------------------------------------------------

def figure_s4(landscape: Landscape, s: ReproSettings, comm: Any, progress: Callable) -> Figure:
    tc = theory.critical_temperature_landscape(landscape)
    r = np.array(s.s4_r)
    Tb = tc * (1 + r)
    fem = _sweep(fem_point, [(landscape, T, s.alpha, cross, s.fem_refine) for cross in (False, True) for T in Tb],
                 comm, "Fig. S4 FEM", progress)
    F0 = float(landscape.flatness(0.0))
    dF = {cross: np.array([f["flatness_at_mode"] - F0 for f in fem if f["cross"] == cross])
          for cross in (False, True)}
    dF_closed = np.array([theory.flatness_at_mode(landscape, T) - F0 for T in Tb])
    beta_nc = compare.fit_power_law(Tb, dF[False], x0=tc)
    beta_full, x0_err = compare.fit_power_law_free_x0(Tb, dF[True], x0_bounds=(0.5 * tc, Tb.min() * 0.999))
    beta_closed = compare.fit_power_law(Tb, dF_closed, x0=tc)

    # γ: SGD first passage with the closed form's search definition (theory.search_time)
    pts, meta = [], []
    for side in (-1, 1):
        for i, ri in enumerate(s.s4_gamma_r):
            T = tc * (1 + side * ri)
            noise = Noise.from_temperature(T, s.alpha)
            st = theory.search_time(landscape, noise)
            run_time = min(6.0 * st["search_time"], 20000.0)
            pts.append((landscape, s.alpha, noise.Delta, st["start"], st["mode_theta1"], st["window"],
                        s.fp_walkers, run_time, s.seed * 1000 + 10 * (side + 1) + i))
            meta.append({"side": side, "r": ri, "formula_search_time": st["search_time"], **{
                k: st[k] for k in ("start", "target", "window", "mode_theta1")}})
    fp = _sweep(first_passage_point, pts, comm, "Fig. S4 SGD first passage", progress)
    rows, checks = [], {}
    gam = {}
    for side in (-1, 1):
        sel = [(m, f) for m, f in zip(meta, fp) if m["side"] == side]
        T = np.array([f["T"] for _, f in sel])
        y = np.array([f["mc_search_time"] for _, f in sel])
        e = np.array([f["mc_search_time_se"] for _, f in sel])
        yf = np.array([m["formula_search_time"] for m, _ in sel])
        # SGD is the twin of the full-D FEM: its critical point is the one fitted there
        fit_mc = compare.fit_power_law(T, y, x0=beta_full.x0, y_err=e)
        fit_f = compare.fit_power_law(T, yf, x0=tc)
        gam[side] = (fit_mc, fit_f)
        for m, f in sel:
            rows.append({"quantity": "search_time", **m, **f})
    for f in fem:
        rows.append({"quantity": "flatness", "T": f["T"], "cross": f["cross"], "mode_theta1": f["mode_theta1"],
                     "F_minus_F0": f["flatness_at_mode"] - F0})
    for T, d in zip(Tb, dF_closed):
        rows.append({"quantity": "flatness_closed_form", "T": T, "F_minus_F0": d})
    checks["β (FEM no cross, x0 = T_c landscape)"] = _within(beta_nc.exponent, 1.0, 0.2, beta_nc.exponent_err)
    checks["β (FEM full D, x0 fitted)"] = _within(beta_full.exponent, 1.0, 0.2, beta_full.exponent_err)
    checks["γ below T_c (SGD)"] = _within(-gam[-1][0].exponent, 1.0, 0.2, gam[-1][0].exponent_err)
    checks["γ above T_c (SGD)"] = _within(-gam[1][0].exponent, 1.0, 0.2, gam[1][0].exponent_err)
    for side, label in ((-1, "below"), (1, "above")):
        checks[f"γ {label}: SGD vs 1-D formula"] = compare.compare_values(
            -gam[side][0].exponent, -gam[side][1].exponent, err=gam[side][0].exponent_err, n_sigma=2, abs_tol=0.1)
    finding = (f"β = {beta_nc.exponent:.3f} ± {beta_nc.exponent_err:.3f} (FEM without cross-diffusion, T_c = {tc:.4f}), "
               f"{beta_full.exponent:.3f} ± {beta_full.exponent_err:.3f} (FEM full D, fitted T_c = {beta_full.x0:.4f} "
               f"± {x0_err:.1g}), closed form {beta_closed.exponent:.3f}; γ from SGD search times = "
               f"{-gam[-1][0].exponent:.2f} ± {gam[-1][0].exponent_err:.2f} below and "
               f"{-gam[1][0].exponent:.2f} ± {gam[1][0].exponent_err:.2f} above T_c (about the full-D T_c) "
               f"(1-D formula over the same range: {-gam[-1][1].exponent:.2f} / {-gam[1][1].exponent:.2f}) "
               f"for |T − T_c|/T_c in [{min(s.s4_gamma_r):g}, {max(s.s4_gamma_r):g}].")

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        ax = axes[0]
        ax.loglog(Tb - tc, dF[False], "o", label=f"FEM no cross: β = {beta_nc.exponent:.2f}")
        ax.loglog(Tb - tc, beta_nc(Tb), "C0-", lw=1)
        ax.loglog(Tb - beta_full.x0, dF[True], "s", label=f"FEM full D: β = {beta_full.exponent:.2f} (T_c fit)")
        ax.loglog(Tb - beta_full.x0, beta_full(Tb), "C1-", lw=1)
        ax.loglog(Tb - tc, dF_closed, "k--", lw=1, label=f"closed form: β = {beta_closed.exponent:.2f}")
        ax.set_xlabel("T − T_c")
        ax.set_ylabel("F(θ1*) − F(0)")
        ax.set_title("Fig. S4a: order parameter")
        ax.legend(fontsize=8)
        for ax, side, label in ((axes[1], -1, "T < T_c"), (axes[2], 1, "T > T_c")):
            sel = [(m, f) for m, f in zip(meta, fp) if m["side"] == side]
            d = np.array([abs(f["T"] - beta_full.x0) for _, f in sel])
            ax.errorbar(d, [f["mc_search_time"] for _, f in sel], yerr=[f["mc_search_time_se"] for _, f in sel],
                        fmt="o", label=f"SGD: γ = {-gam[side][0].exponent:.2f}")
            ax.loglog([abs(f["T"] - tc) for _, f in sel], [m["formula_search_time"] for m, _ in sel], "k--",
                      label=f"1-D formula: γ = {-gam[side][1].exponent:.2f}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("|T − T_c| (SGD: fitted T_c of the full-D FEM)")
            ax.set_ylabel("search time (time units)")
            ax.set_title(f"Fig. S4{'b' if side < 0 else 'c'}: {label}")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    numbers = {"T_c_landscape": tc, "beta_fem_nocross": beta_nc.as_dict(), "beta_fem_full": beta_full.as_dict(),
               "beta_fem_full_x0_err": x0_err, "beta_closed_form": beta_closed.as_dict(),
               "gamma_below_sgd": gam[-1][0].as_dict(), "gamma_below_formula": gam[-1][1].as_dict(),
               "gamma_above_sgd": gam[1][0].as_dict(), "gamma_above_formula": gam[1][1].as_dict()}
    return Figure("figS4", "Fig. S4: critical exponents", rows, finding, checks, numbers, plot)


# --------------------------------------------------------------------------
# Fig. S2: search time against Δ and α (single well)
# --------------------------------------------------------------------------

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
    rows, checks = [], {}
    for (a, D), f, tau in zip(pairs, fp, formula):
        rows.append({**f, "formula_search_time": tau, "formula_search_steps": tau / a,
                     "mc_search_steps": f["mc_search_time"] / a})
        checks[f"search time α={a:g} Δ={D:g}: SGD vs 1-D formula"] = compare.compare_values(
            f["mc_search_time"], tau, err=f["mc_search_time_se"], rel_tol=0.15)
    nD = len(s.s2_Deltas)
    tD = [r["mc_search_time"] for r in rows[:nD]]
    ta = [r["mc_search_time"] for r in rows[nD:]]
    mono = all(np.diff(tD) < 0) and all(np.diff(ta) < 0)
    checks["search time falls with Δ and with α"] = compare.compare_values(float(mono), 1.0, abs_tol=0.0)
    worst = max(abs(r["mc_search_time"] / r["formula_search_time"] - 1) for r in rows)
    finding = (f"Single well, start θ1 = {s.s2_start:g}, target |θ1| < {s.s2_target:g}: the SGD search time falls "
               f"from {tD[0]:.0f} to {tD[-1]:.0f} time units as Δ grows ({s.s2_Deltas[0]:g}→{s.s2_Deltas[-1]:g}, "
               f"α = {s.s2_alpha:g}) and from {ta[0]:.0f} to {ta[-1]:.0f} as α grows "
               f"({s.s2_alphas[0]:g}→{s.s2_alphas[-1]:g}, Δ = {s.s2_Delta:g}); it depends on T = αΔ only and "
               f"follows the 1-D formula within {100 * worst:.0f}%.")

    def plot(path: Path) -> None:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, sl, xs, xlabel in ((axes[0], slice(0, nD), s.s2_Deltas, f"Δ (α = {s.s2_alpha:g})"),
                                   (axes[1], slice(nD, None), s.s2_alphas, f"α (Δ = {s.s2_Delta:g})")):
            rr = rows[sl]
            ax.errorbar(xs, [r["mc_search_time"] for r in rr], yerr=[r["mc_search_time_se"] for r in rr],
                        fmt="o", label="SGD Monte Carlo")
            ax.plot(xs, [r["formula_search_time"] for r in rr], "k--", label="1-D formula (MFPT)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("search time = steps × α")
            ax.legend(fontsize=8)
        axes[0].set_title("Fig. S2a: search time against Δ")
        axes[1].set_title("Fig. S2b: search time against α")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return Figure("figS2", "Fig. S2: search time, single well", rows, finding, checks,
                  {"max_rel_deviation": worst}, plot)


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
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return Figure("phase_diagram", "Phase diagram in the (α, Δ) plane", rows, finding, checks,
                  {"boundaries": bounds, "counts": counts, "divergence_onset": edges}, plot)


#: name -> (function, default landscape preset)
FIGURES = {
    "S5": (figure_s5, "double-well"),
    "S3": (figure_s3, "double-well"),
    "S4": (figure_s4, "double-well"),
    "S2": (figure_s2, "single-well"),
    "phase": (figure_phase, "double-well"),
}
