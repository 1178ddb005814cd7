"""Figures of a 3-D solve (docs/model.md §8, §9; ``solve_fp.py`` and ``search_time.py --fast-directions 2``).

:func:`plot_slow_marginal_and_section`: the slow coordinate's marginal
against the closed forms of §9 (where they apply), beside a 2-D section of
the density through θ3 = const, in the conventions of
:mod:`fpsolve.plots.stationary` (Agg backend, fitted title, atomic save).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from fpsolve.plots.stationary import fit_title, pyplot, save_figure

#: Labels of the closed-form columns of marginals.csv drawn (the constant-D form,
#: a spike at T = 0.05 that flattens the rest, stays in the table only): §9's adiabatic
#: elimination (sgd, sgd-diagonal) or the exact Gibbs marginal (isotropic noise), whichever
#: the result's noise has (fpsolve.theory.nvalley_noise).
CLOSED_FORM_LABELS = {"closed_form_landscape": "closed form, landscape (§9)",
                      "closed_form_gibbs": "closed form, exact Gibbs (isotropic, §9)"}


def plot_slow_marginal_and_section(path: str | Path, marginals: Dict[str, np.ndarray], xs: np.ndarray,
                                   ys: np.ndarray, values: np.ndarray, theta3: float, title: str) -> None:
    """Left: the FEM θ1-marginal (bin averages, ``marginals["theta1"]``,
    ``["fem_marginal"]``) with the closed forms of :data:`CLOSED_FORM_LABELS`, over the
    bins where any of them is above 1e-4 of its peak; right: φ on the
    section θ3 = ``theta3`` (``values`` of shape (len(ys), len(xs)))."""
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.15]})
    x, p = marginals["theta1"], marginals["fem_marginal"]
    a = ax[0]
    a.plot(x, p, "k-", lw=1.6, label="FEM (3-D), bin averages")
    keep = p > 1e-4 * p.max()
    for column, label in CLOSED_FORM_LABELS.items():
        if column in marginals:
            a.plot(x, marginals[column], "--", lw=1.2, label=label)
            keep |= marginals[column] > 1e-4 * marginals[column].max()
    idx = np.flatnonzero(keep)
    if idx.size:
        a.set_xlim(x[max(idx[0] - 2, 0)], x[min(idx[-1] + 2, len(x) - 1)])
    a.set_xlabel("θ1 (slow coordinate)")
    a.set_ylabel("marginal density P1(θ1)")
    a.legend(fontsize=8)
    dx = 0.5 * (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    dy = 0.5 * (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    im = ax[1].imshow(values, extent=(xs[0] - dx, xs[-1] + dx, ys[0] - dy, ys[-1] + dy), origin="lower",
                      aspect="auto", interpolation="bilinear", cmap="viridis")
    fig.colorbar(im, ax=ax[1], label=f"density φ0(θ1, θ2, {theta3:g})")
    ax[1].set_xlabel("θ1")
    ax[1].set_ylabel("θ2")
    ax[1].set_title(f"section θ3 = {theta3:g}", fontsize=10)
    fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=10)
    save_figure(fig, path, dpi=100)


def plot_search_profile_and_section(path: str | Path, profile: Dict[str, np.ndarray], xs: np.ndarray,
                                    ys: np.ndarray, values: np.ndarray, start: Sequence[float], title: str,
                                    edges: Sequence[float] = (), wall: str = "reflecting") -> None:
    """Left: the mean first-passage time τ (time units) along θ1 through the
    start (``profile["theta1"]``, ``["tau_fem"]``, and ``["tau_1d"]``, the
    reduced 1-D formula, reflecting at ``|θ1| = R`` whatever the FEM's ``wall``
    (so labelled), where given); right: τ on the section θ3 = start's
    (``values`` of shape (len(ys), len(xs)), NaN outside the ball; none when
    empty), the start marked; ``edges``: θ1-values of the target's edges,
    drawn as lines on the section.  The section's legend sits below it,
    off the ball, so its start marker is not read as a second start."""
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.15]})
    a = ax[0]
    a.plot(profile["theta1"], profile["tau_fem"], "k-", lw=1.6, label="FEM (3-D)")
    if "tau_1d" in profile:
        label = "1-D reduced formula (§8-9), reflecting wall"
        if wall != "reflecting":
            label += f"\n(the FEM's wall is {wall}: they differ near |θ1| = R)"
        a.plot(profile["theta1"], profile["tau_1d"], "--", lw=1.2, label=label)
    a.axvline(start[0], color="g", lw=0.8, ls=":", label="start")
    a.set_xlabel(f"θ1 (θ2 = {start[1]:g}, θ3 = {start[2]:g})")
    a.set_ylabel("mean first-passage time τ (time units)")
    a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    if values.size:
        v = np.ma.masked_invalid(values)
        im = ax[1].pcolormesh(xs, ys, v, shading="auto", cmap="magma")
        fig.colorbar(im, ax=ax[1], label="τ (time units)")
        ax[1].plot([start[0]], [start[1]], "o", mfc="none", mec="lime", ms=9, mew=1.5, label="start")
        for i, e in enumerate(edges):
            ax[1].axvline(e, color="cyan", lw=0.8, label="target edges" if i == 0 else None)
        ax[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8)
        ax[1].set_aspect("equal")
    ax[1].set_xlabel("θ1")
    ax[1].set_ylabel("θ2")
    ax[1].set_title(f"section θ3 = {start[2]:g}", fontsize=10)
    fig.suptitle(fit_title(title, fig.get_figwidth()), fontsize=10)
    save_figure(fig, path, dpi=100)
