"""Figures of a solved density: heat map and marginals (matplotlib, Agg).

The arrays come from the collective :class:`fpsolve.fem.solution.Solution`
methods (call :func:`density_grid` and :func:`marginal_table` on every
rank); the drawing functions only draw and are called on rank 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np

from fpsolve.model.valley import Landscape
from fpsolve.tools import caches as _caches


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display here);
    its config/cache folder falls back like the compilation caches
    (``fpsolve.tools.caches``) when HOME is read-only."""
    import os
    import sys

    if "matplotlib" not in sys.modules and not os.environ.get("MPLCONFIGDIR"):

        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        wanted = Path(base) / "matplotlib"
        problem = _caches.unwritable(wanted)
        if problem is not None:
            os.environ["MPLCONFIGDIR"] = str(_caches.fallback("matplotlib", wanted, problem))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fit_title(title: str, width_inches: float, fontsize: float = 12.0) -> str:
    """``title`` wrapped into lines that fit ``width_inches`` at ``fontsize``
    points (about 0.65 em a character in DejaVu Sans, digits and symbols
    included): a preset's loss or a custom model's case name in one line ran
    past both edges of the figure."""
    import textwrap

    chars = max(16, int(width_inches * 72 / (0.65 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in title.splitlines())


def save_figure(fig: Any, path: str | Path, dpi: int = 100, tight: bool = True) -> None:
    """Lay out ``fig`` (``tight``: matplotlib's tight layout, about 0.2 s;
    else the figure keeps the margins it was given), write it to ``path``
    (PNG) and close it (frees its memory in long sweeps)."""
    # at most 6 labelled ticks per linear axis: tick labels are most of the drawing time
    from matplotlib.ticker import MaxNLocator

    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            locator = axis.get_major_locator()
            if isinstance(locator, MaxNLocator):  # AutoLocator too; log axes keep theirs
                locator.set_params(nbins=6)
    if tight:
        fig.tight_layout()
    # zlib level 1: a third of the compression time, files about 25 % larger
    fig.savefig(path, dpi=dpi, pil_kwargs={"compress_level": 1})
    pyplot().close(fig)


def view_box(solution: Any, level: float = 1e-4) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) around where φ > ``level`` max φ, 15 % margin (collective)."""
    x0, x1 = solution.support(0, level)
    y0, y1 = solution.support(1, level)
    dx, dy = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    return x0 - dx, x1 + dx, y0 - dy, y1 + dy


def density_grid(solution: Any, box: Sequence[float], nx: int = 300, ny: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(θ1 grid, θ2 grid, φ of shape (ny, nx)) by point evaluation (collective)."""
    xs = np.linspace(box[0], box[1], nx)
    ys = np.linspace(box[2], box[3], ny)
    X, Y = np.meshgrid(xs, ys)
    vals = solution.evaluate(np.column_stack([X.ravel(), Y.ravel()])).reshape(ny, nx)
    return xs, ys, vals


def plot_density(path: str | Path, xs: np.ndarray, ys: np.ndarray, values: np.ndarray,
                 landscape: Landscape | None, title: str) -> None:
    """Heat map of φ with the valley floor θ2 = 0, the global minimum and the
    flattest points marked (nothing marked when ``landscape`` is None: a
    custom model of docs/model.md §7)."""
    plt = pyplot()
    # fixed margins for the two-line title and the colour bar (tight layout doubles the cost)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), gridspec_kw={"left": 0.09, "right": 0.99, "bottom": 0.1, "top": 0.89})
    # the grid is uniform (density_grid): an image, each pixel centred on its
    # point, draws as pcolormesh(shading="auto") does at half the cost
    dx, dy = 0.5 * (xs[-1] - xs[0]) / max(len(xs) - 1, 1), 0.5 * (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    im = ax.imshow(values, extent=(xs[0] - dx, xs[-1] + dx, ys[0] - dy, ys[-1] + dy), origin="lower",
                   aspect="auto", interpolation="bilinear", cmap="viridis")
    fig.colorbar(im, ax=ax, label="density φ0")
    if landscape is not None:
        ax.axhline(0.0, color="w", lw=0.8, ls="--", label="valley floor θ2 = 0")
        ax.plot([0.0], [0.0], "o", mfc="none", mec="tab:red", ms=9, label="global minimum (F = F(0))")
        flat = [x for x in landscape.flattest_points()]
        ax.plot(flat, [0.0] * len(flat), "*", color="tab:orange", ms=12,
                label=f"flattest (F = {landscape.flatness(flat[-1]):.3g})")
    ax.set_xlim(xs[0] - dx, xs[-1] + dx)
    ax.set_ylim(ys[0] - dy, ys[-1] + dy)
    ax.set_xlabel("θ1 (degenerate direction)" if landscape is not None else "θ1")
    ax.set_ylabel("θ2")
    fig.suptitle(title, fontsize=8)  # centred on the figure: a long model line fits
    if landscape is not None:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    save_figure(fig, path, dpi=100, tight=False)


def plot_marginals(path: str | Path, theta1: np.ndarray, p1: np.ndarray, theta2: np.ndarray, p2: np.ndarray,
                   landscape: Landscape | None, title: str, closed_form: Dict[str, np.ndarray] | None = None) -> None:
    """θ1- and θ2-marginals of φ, with the closed-form θ1-marginals given
    as {name: values on theta1}."""
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"left": 0.07, "right": 0.99, "bottom": 0.13,
                                                                      "top": 0.86, "wspace": 0.18})
    a1.plot(theta1, p1, "k-", lw=1.4, label="FEM ∫φ dθ2")
    styles = {"closed_form_landscape": ("--", "tab:blue", "closed form, landscape-dependent (§5)"),
              "closed_form_constant_D": (":", "tab:green", "closed form, constant D (§5)")}
    for name, values in (closed_form or {}).items():
        ls, color, label = styles.get(name, ("-.", None, name))
        a1.plot(theta1, values, ls, color=color, lw=1.1, label=label)
    # a narrow closed form (constant D at high T) must not squash the FEM curve
    a1.set_ylim(top=1.3 * max(float(np.max(p1)), float(np.max((closed_form or {}).get("closed_form_landscape", p1)))))
    for x in (landscape.flattest_points() if landscape is not None else ()):
        a1.axvline(x, color="tab:orange", lw=0.8, ls=":")
    a1.set_xlabel("θ1")
    a1.set_ylabel("marginal density")
    a1.legend(fontsize=8)
    a2.plot(theta2, p2, "k-", lw=1.4, label="FEM ∫φ dθ1")
    a2.set_xlabel("θ2")
    a2.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=100, tight=False)


def plot_adaptivity(path: str | Path, cycles: Sequence[Dict[str, Any]], title: str) -> None:
    """Convergence of the adaptive loop (:mod:`fpsolve.fem.adapt`): the error
    estimate and the change of each watched quantity against dofs (log-log),
    with the nominal P2 slope N^(-3/2) for reference."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    rows = [c for c in cycles if c.get("estimate") is not None]
    if rows:
        dofs = np.array([c["dofs"] for c in rows], dtype=float)
        ax.loglog(dofs, [c["estimate"] for c in rows], "ko-", lw=2, label="estimate")
        for key in rows[-1]["errors"]:
            ax.loglog(dofs, [max(c["errors"].get(key, np.nan), 1e-16) for c in rows], ".--", lw=1, label=key)
        ref = rows[0]["estimate"] * (dofs / dofs[0]) ** -1.5
        ax.loglog(dofs, ref, ":", color="gray", label="N^-3/2")
    ax.set_xlabel("dofs")
    ax.set_ylabel("relative error estimate")
    ax.set_title(title, fontsize=8)
    if ax.get_legend_handles_labels()[0]:  # a loop stopped after one cycle has no estimate to draw
        ax.legend(fontsize=7)
    save_figure(fig, path)
