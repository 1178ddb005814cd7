"""Figures of the dynamics (docs/model.md §8): observables against time, the
density as an animation, and fields of the backward equation as heat maps.

Drawing only, on rank 0; the arrays come from the collective functions of
:mod:`fpsolve.fem.transient` and :mod:`fpsolve.fem.backward`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np

from fpsolve.plots.stationary import fit_title, pyplot, save_figure


#: Panels of evolution.png: (column, axis label).
PANELS = (("survival", "survival S(t) = ∫P"), ("mean_loss", "E[L]"), ("mean_abs_theta1", "E|θ1|"),
          ("var_theta1", "Var θ1"), ("var_theta2", "Var θ2"), ("mean_flatness", "E[F(θ1)] (flatness)"))
#: Panels of a 3-D run's evolution.png (docs/model.md §9: F = (Σ g_i)^(-1/2)).
PANELS_3D = (("survival", "survival S(t) = ∫P"), ("mean_loss", "E[L]"), ("mean_abs_theta1", "E|θ1|"),
             ("mean_theta1_squared", "E[θ1²]"), ("var_theta2", "Var θ2"), ("var_theta3", "Var θ3"),
             ("var_theta1", "Var θ1"), ("mean_flatness", "E[F] (flatness)"))


#: Colours of the Monte-Carlo ensembles, by method.
ENSEMBLE_COLOURS = {"sde": "tab:orange", "sgd": "tab:blue"}


def plot_evolution(path: str | Path, columns: Dict[str, np.ndarray], title: str,
                   bands: Dict[str, Dict[str, tuple]] | None = None,
                   panels: Sequence[Tuple[str, str]] = PANELS) -> None:
    """The observables of ``panels`` ((column, label) pairs, default
    :data:`PANELS`; :data:`PANELS_3D` for a 3-D run) against t on a log axis (t > 0);
    ``bands``: {label: {column: (t, mean, standard error)}} of Monte-Carlo
    ensembles (label ``sde``, ``sgd``, ...), each drawn as ±2 standard errors
    around its mean.  A ``T`` column (a schedule's T(t)) is drawn dashed on
    a twin axis of the first panel."""
    plt = pyplot()
    ncols = (len(panels) + 1) // 2
    fig, axes = plt.subplots(2, ncols, figsize=(4 * ncols, 6.5), sharex=True, squeeze=False)
    t = columns["t"]
    sel = t > 0
    for ax, (name, label) in zip(axes.ravel(), panels):
        ax.plot(t[sel], columns[name][sel], "k-", lw=1.3, label="FEM")
        for method, band in (bands or {}).items():
            if name not in band or not np.isfinite(band[name][1]).any():
                continue
            bt, mean, se = band[name]
            colour = ENSEMBLE_COLOURS.get(method, "tab:green")
            ax.fill_between(bt, mean - 2 * se, mean + 2 * se, color=colour, alpha=0.3, lw=0)
            ax.plot(bt, mean, "-", color=colour, lw=0.9, label=f"{method.upper()} Monte Carlo ±2 s.e.")
        ax.set_xscale("log")
        if name == "survival" and np.min(columns[name][sel]) < 0.5:
            ax.set_yscale("log")  # a decay over decades; a confined case stays linear near 1
        else:
            ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("t (time units = α SGD steps)")
    if "T" in columns:  # a schedule (docs/model.md §10): T(t) on a twin axis of the first panel
        twin = axes[0, 0].twinx()
        twin.plot(t[sel], columns["T"][sel], "r--", lw=1.0)
        twin.set_ylabel("T(t) = α(t)Δ(t) (dashed)", color="tab:red", fontsize=8)
        twin.tick_params(axis="y", colors="tab:red", labelsize=7)
    if bands:
        axes[0, 0].legend(fontsize=8)
    fig.suptitle(fit_title(title, fig.get_figwidth(), 9), fontsize=9)
    save_figure(fig, path, dpi=110)


def write_gif(path: str | Path, xs: np.ndarray, ys: np.ndarray, times: Sequence[float],
              frames: Sequence[np.ndarray], title: str, fps: int = 6) -> None:
    """Animation of the density (each frame scaled to its own maximum) with
    matplotlib's Pillow writer."""
    plt = pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    im = ax.pcolormesh(xs, ys, frames[0], shading="auto", cmap="viridis")
    ax.set_aspect("equal")
    ax.set_xlabel("θ1")
    ax.set_ylabel("θ2")
    label = ax.set_title("", fontsize=9)
    title = fit_title(title, fig.get_figwidth(), 9)

    def draw(i: int):
        f = np.maximum(frames[i], 0.0)
        im.set_array(f.ravel())
        im.set_clim(0.0, max(float(f.max()), 1e-300))
        label.set_text(f"{title}\nt = {times[i]:.4g}, density / max")
        return im, label

    anim = FuncAnimation(fig, draw, frames=len(frames), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps))
    plt.close(fig)


def plot_field(path: str | Path, xs: np.ndarray, ys: np.ndarray, values: np.ndarray, *, label: str,
               title: str, target: Sequence[float] | None = None, start: Sequence[float] | None = None,
               log: bool = False) -> None:
    """Heat map of a field on a grid (NaN outside the disk) with the target
    box (C1, C2, W1, W2: centre and half-widths) and the start marked."""
    plt = pyplot()
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    v = np.ma.masked_invalid(values)
    norm = None
    if log:
        pos = v.compressed()[v.compressed() > 0]
        if pos.size:
            norm = LogNorm(vmin=max(float(pos.min()), float(pos.max()) * 1e-6), vmax=float(pos.max()))
    im = ax.pcolormesh(xs, ys, v, shading="auto", cmap="magma", norm=norm)
    fig.colorbar(im, ax=ax, label=label)
    if target is not None:
        c1, c2, w1, w2 = target
        ax.add_patch(Rectangle((c1 - w1, c2 - w2), 2 * w1, 2 * w2, fill=False, ec="cyan", lw=1.5, label="target"))
    if start is not None:
        ax.plot([start[0]], [start[1]], "o", mfc="none", mec="lime", ms=9, mew=1.5, label="start")
    ax.set_aspect("equal")
    ax.set_xlabel("θ1")
    ax.set_ylabel("θ2")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.6)
    # the colour bar takes a fifth of the width
    ax.set_title(fit_title(title, 0.8 * fig.get_figwidth(), 9), fontsize=9)
    save_figure(fig, path, dpi=120)
