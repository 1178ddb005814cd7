"""The flatness transition against the number of fast directions m (docs/model.md §9).

Drawing only, on rank 0; the numbers come from
:mod:`fpsolve.validation.dimension` (its sweep rows, T_c table, closed-form
curves and search-time rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from fpsolve.plots.stationary import fit_title, pyplot, save_figure


def plot_dimension(path: str | Path, rows: Sequence[dict], curves: Sequence[dict], critical: Sequence[dict],
                   search: Sequence[dict], title: str) -> None:
    """Four panels: (a) mean ``|x|`` and (b) F(x*)/F(0) against r = T/T_c(m),
    closed form (lines, ``curves``: m, r, cf_mean_abs, cf_flatness_ratio) and
    Monte Carlo (points, ``rows``: m, r, mc_mean_abs(_se), mc_flatness_ratio);
    (c) m·T_c against m (``critical``: MC raw ± error and bias-corrected,
    landscape and constant-D closed forms); (d) the 1-D search time against m
    at fixed r and at fixed T (``search``: m, case, r, search_time)."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 8.5))
    ms = sorted({int(c["m"]) for c in curves} | {int(r["m"]) for r in rows})
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, max(len(ms), 1)))
    (a, b), (c, d) = axes
    for m, col in zip(ms, colours):
        cm = [q for q in curves if q["m"] == m]
        rm = [q for q in rows if q["m"] == m]
        a.semilogy([q["r"] for q in cm], [q["cf_mean_abs"] for q in cm], "-", color=col, lw=1, label=f"m = {m}")
        a.errorbar([q["r"] for q in rm], [q["mc_mean_abs"] for q in rm], yerr=[q["mc_mean_abs_se"] for q in rm],
                   fmt="o", color=col, ms=4, mfc="none")
        b.plot([q["r"] for q in cm], [q["cf_flatness_ratio"] for q in cm], "-", color=col, lw=1, label=f"m = {m}")
        b.plot([q["r"] for q in rm], [q["mc_flatness_ratio"] for q in rm], "o", color=col, ms=4, mfc="none")
    for ax, label in ((a, "mean |x| (lines: closed form; circles: Monte Carlo)"),
                      (b, "flatness at the mode F(x*)/F(0)")):
        ax.axvline(1.0, color="0.6", ls=":", lw=0.8)
        ax.set_xlabel("T / T_c(m),  T_c(m) = 2ε/(m a0|a2|)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7, loc="best")
    cm_ = np.array([q["m"] for q in critical], dtype=float)
    c.plot(cm_, [q["m"] * q["T_c_landscape"] for q in critical], "s-", color="tab:blue", ms=4,
           label="closed form, landscape-dependent")
    c.plot(cm_, [q["m"] * q["T_c_constant"] for q in critical], "k--", lw=1, label="constant D: 2ε/(a0|a2|)")
    ok = [q for q in critical if q.get("T_c_mc") is not None]
    if ok:
        c.errorbar([q["m"] for q in ok], [q["m_T_c_mc"] for q in ok], yerr=[q["m_T_c_mc_err"] for q in ok],
                   fmt="o", color="tab:red", ms=5, label="Monte Carlo (onset fit)")
        c.plot([q["m"] for q in ok], [q["m"] * q["T_c_mc_corrected"] for q in ok], "x", color="tab:red", ms=6,
               label="Monte Carlo, estimator bias removed")
    c.set_xscale("log")
    c.set_xlabel("fast directions m")
    c.set_ylabel("m · T_c(m)")
    c.legend(fontsize=7, loc="best")
    for case, style in (("fixed r", "-"), ("fixed T", "--")):
        for r in sorted({round(q["r"], 6) for q in search if q["case"] == case}) if case == "fixed r" else [None]:
            sel = [q for q in search if q["case"] == case and (r is None or round(q["r"], 6) == r)]
            if sel:
                T = sel[0]["T"]
                d.loglog([q["m"] for q in sel], [q["search_time"] for q in sel], style, marker="o", ms=3,
                         label=f"T/T_c(m) = {r:g}" if r is not None else f"T = {T:g} (fixed)")
    d.set_xlabel("fast directions m")
    d.set_ylabel("search time τ_s (time units), 1-D formula")
    d.legend(fontsize=7, loc="best")
    fig.suptitle(fit_title(title, 11.0, 11), fontsize=11)
    save_figure(fig, path)
