"""Figures of the generator's spectrum (docs/model.md §10): the eigenvalues in
the complex plane with their trust flags, and the relaxation rate against
the noise level.

Drawing only, on rank 0; the numbers come from :mod:`fpsolve.fem.spectrum`
(its ``Spectrum.record()``) and :mod:`fpsolve.validation.spectrum_sweep`.
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


def plot_relaxation_sweep(path: str | Path, T: Sequence[float], rates: Sequence[float], T_c: Sequence[float],
                          title: str, fit: dict | None = None) -> None:
    """Relaxation rate Re(λ1 − λ0) against the noise level T (log scale),
    with the critical noise levels ``T_c`` (vertical lines) and, when
    given, the power law ``fit`` (``{"prefactor", "exponent", "T_c", "T"}``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    T, rates = np.asarray(T, float), np.asarray(rates, float)
    ax.semilogy(T, rates, "ko-", ms=4, label="FEM Re(λ1 − λ0)")
    for tc in T_c:
        ax.axvline(tc, color="0.6", ls="--", lw=0.9)
    if fit:
        tt = np.asarray(fit["T"], float)
        ax.semilogy(tt, fit["prefactor"] * np.abs(tt - fit["T_c"]) ** fit["exponent"], "r-", lw=1,
                    label=f"∝ |T − T_c|^{fit['exponent']:.2f}")
    ax.set_xlabel("noise level T = αΔ")
    ax.set_ylabel("relaxation rate (1/time unit)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(fit_title(title, 6.4, 9), fontsize=9)
    save_figure(fig, path)
