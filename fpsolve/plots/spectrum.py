"""Figures of the generator's spectrum (docs/model.md §10): the eigenvalues in
the complex plane with their trust flags, and the relaxation rate against
the noise level.

Drawing only, on rank 0; the numbers come from :mod:`fpsolve.fem.spectrum`
(its ``Spectrum.record()``) and :mod:`fpsolve.validation.relaxation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from fpsolve.plots.stationary import fit_title, pyplot, save_figure


def plot_spectrum(path: str | Path, record: dict, title: str) -> None:
    """The eigenvalues of ``record`` (``Spectrum.record()``: rows with
    ``real``, ``imag``, ``trusted``) as points in the complex plane (1/time
    units): trusted filled, untrusted hollow red, each labelled with its
    index n."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    rows = record["eigenvalues"]
    for trusted, style in ((True, dict(color="k", marker="o", ls="none", label="trusted")),
                           (False, dict(mfc="none", mec="tab:red", marker="o", ls="none",
                                        label="not trusted (residual, shift or mesh)"))):
        pick = [r for r in rows if bool(r["trusted"]) == trusted]
        if pick:
            ax.plot([r["real"] for r in pick], [r["imag"] for r in pick], **style)
    for r in rows:
        ax.annotate(str(r["n"]), (r["real"], r["imag"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axhline(0.0, color="0.8", lw=0.8)
    ax.set_xlabel("Re λ (1/time unit)")
    ax.set_ylabel("Im λ")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(fit_title(f"{title}\nfirst {len(rows)} eigenvalues of the generator", 6.4, 9), fontsize=9)
    save_figure(fig, path)


def plot_relaxation_sweep(path: str | Path, rows: Sequence[dict], T_c: dict, fits: dict, title: str) -> None:
    """Relaxation rates against the noise level T (rows of
    :func:`fpsolve.validation.relaxation.relaxation_sweep`): Re(λ1 − λ0)
    (hollow where not trusted), Re(λ2 − λ0) above T_c, the 1-D formula's
    search rate 1/τ_s, the fitted power laws ``fits[side]`` (``exponent``,
    ``prefactor``, ``T_x``, ``rate``) and vertical lines at ``T_c``
    ({label: value})."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    T = np.array([r["T"] for r in rows])
    for key, label, colour in (("rate1", "Re(λ1 − λ0)", "k"), ("rate2", "Re(λ2 − λ0)", "tab:blue")):
        y = np.array([r[key] for r in rows])
        ok = np.array([bool(r[key.replace("rate", "trusted")]) for r in rows])
        if key == "rate2":
            above = T > min(T_c.values())
            T_, y, ok = T[above], y[above], ok[above]
        else:
            T_ = T
        ax.semilogy(T_[ok], y[ok], "o", color=colour, label=f"FEM {label}")
        if (~ok).any():
            ax.semilogy(T_[~ok], y[~ok], "o", mfc="none", mec=colour, label=f"{label}, not trusted")
    ax.semilogy(T, [r["formula_search_rate"] for r in rows], "s--", color="tab:green", ms=3, lw=0.8,
                label="1/τ_s, 1-D formula (§5)")
    for side, fit in fits.items():
        sel = T < fit["T_x"] if side == "below" else T > fit["T_x"]
        tt = np.linspace(T[sel].min(), T[sel].max(), 60)
        ax.semilogy(tt, fit["prefactor"] * np.abs(tt - fit["T_x"]) ** fit["exponent"], "r-", lw=1,
                    label=f"{side}: ∝ |T − {fit['T_x']:.4f}|^{fit['exponent']:.2f}")
    for (label, tc), style in zip(T_c.items(), ("--", ":")):
        ax.axvline(tc, color="0.5", ls=style, lw=0.9, label=f"T_c = {tc:.4f} ({label})")
    ax.set_xlabel("noise level T = αΔ")
    ax.set_ylabel("relaxation rate (1/time unit)")
    ax.legend(loc="best", fontsize=7)
    ax.set_title(fit_title(title, 7.0, 9), fontsize=9)
    save_figure(fig, path)
