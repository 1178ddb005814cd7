"""The FEM result folder of one solve (docs/commands.md, *solve_fp.py*; tool ``fem``).

:func:`write` is what ``scripts/solve_fp.py`` writes, callable from Python:
``summary.json``, ``density.xdmf``/``.h5``, ``density.png``, ``marginals.png``,
``marginals.csv`` (the FEM θ1-marginal beside the closed forms of docs/model.md §5
where they apply), for an adaptive solve ``adaptivity.png``, and with the
generator's eigenpairs (``summary.spectrum``, docs/model.md §10) ``spectrum.png``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np

from fpsolve import _compat
from fpsolve.theory import valley as theory
from fpsolve.model.valley import Landscape, ModelError, Noise
from fpsolve.plots import stationary as plotting
from fpsolve.plots import spectrum as spectrum_plots
from fpsolve.tools import io
from fpsolve.tools.quadrature import trapezoid


#: The tool name of FEM results (the marker of their folder).
TOOL = "fem"
#: The figure/marginal grid (θ1, θ2 points) over plotting.view_box: across
#: θ2 about ±5.6 standard deviations of a Gaussian in 120 steps, so the
#: θ1-marginal's mass is within 1e-6 of the quadrature's on the presets.
GRID_POINTS = (241, 121)


def write(sol: Any, model: Any, out: str | os.PathLike, *, extra: dict | None = None, overwrite: bool = False,
          progress: Callable[[str], None] | None = None, wall_start: float | None = None) -> Path:
    """Write the result folder of ``sol`` (a :class:`fpsolve.fem.stationary.Solution` of ``model``) at ``out``.

    Collective over ``sol.comm`` (every rank calls it; rank 0 writes the plain
    files).  ``extra`` joins ``sol.summary.as_dict()`` in ``summary.json`` (versions,
    command); ``wall_start`` (``time.perf_counter()`` at the start of the run)
    adds ``wall_seconds``.  The folder is replaced atomically and only if it is
    new, empty or an earlier FEM result (``overwrite``: any folder but the
    working directory), see :func:`fpsolve.tools.io.claim_output`.

    Returns the absolute path.  Raises :class:`fpsolve.tools.io.OutputError`.
    """
    comm = sol.comm
    say = progress or (lambda message: None)
    t_start = time.perf_counter()
    # after the computation: what the folder holds is judged when the result is complete (a file dropped
    # into the old result meanwhile sends it to DIR.new-<time>, io.atomic_output_dir; refused here, it was lost)
    out = io.claim_output(out, TOOL, overwrite, comm, contents=False)
    landscape, noise = model.valley, model.noise_level
    summary = {**sol.summary.as_dict(), **(extra or {})}
    # matplotlib's import (rank 0) is timed apart, as the split of a run's time does
    t_import = time.perf_counter()
    if comm.rank == 0:
        plotting.pyplot()
    t_import = time.perf_counter() - t_import
    # one collective evaluation on the figure's grid (plotting.view_box: where
    # φ > 1e-4 max φ, 15 % margin): the heat map, and both marginals by the
    # trapezoid rule across it (three point sets before: 2.5 × the points,
    # most of the post-processing's time)
    box = plotting.view_box(sol)
    lo, hi = box[0], box[1]
    xs, ys, grid = plotting.density_grid(sol, box, nx=GRID_POINTS[0], ny=GRID_POINTS[1])
    theta1, theta2 = xs, ys
    p1, p2 = trapezoid(grid, ys, axis=0), trapezoid(grid, xs, axis=1)
    closed = (closed_form_marginals_theta1(landscape, noise, theta1)
              if landscape is not None and model.noise in ("sgd", "sgd-diagonal") else {})
    say(f"marginals and density grid evaluated (theta1 in [{lo:.4g}, {hi:.4g}])")

    s = sol.summary
    title = (f"{model.describe()}\nλ0={s.escape_rate:.3g}, "
             f"mean|θ1|={s.mean_abs_theta1:.4g}, mode |θ1|={s.mode_theta1:.4g}")
    with io.atomic_output_dir(out, comm, TOOL, overwrite) as tmp:
        _compat.write_xdmf(str(tmp / "density.xdmf"), sol.mesh, sol.density)
        if comm.rank == 0:
            plotting.plot_density(tmp / "density.png", xs, ys, grid, landscape, title)
            plotting.plot_marginals(tmp / "marginals.png", theta1, p1, theta2, p2, landscape, title, closed)
            cols = [theta1, p1] + list(closed.values())
            header = ",".join(["theta1", "fem_marginal", *closed])
            io.write_text_atomic(tmp / "marginals.csv", header + "\n" + "\n".join(
                ",".join(f"{v:.10g}" for v in row) for row in zip(*cols)) + "\n")
            # grid, marginals, XDMF, figures and table; summary.json and
            # adaptivity.png follow (milliseconds)
            summary["output_seconds"] = time.perf_counter() - t_start - t_import
            summary["imports_seconds"] = t_import
            if wall_start is not None:
                summary["wall_seconds"] = time.perf_counter() - wall_start
            io.write_json(tmp / "summary.json", summary)
            if s.adaptivity is not None:
                plotting.plot_adaptivity(tmp / "adaptivity.png", s.adaptivity["cycles"], title)
            if s.spectrum is not None:
                spectrum_plots.plot_spectrum(tmp / "spectrum.png", s.spectrum, model.describe())
        say("outputs written")
    return out


def closed_form_marginals_theta1(landscape: Landscape, noise: Noise, grid: np.ndarray) -> Dict[str, np.ndarray]:
    """Closed-form slow marginals P1(θ1) of docs/model.md §5 (``fpsolve.theory.valley``),
    each normalised on ``grid``, keyed by their column name in marginals.csv:
    ``closed_form_landscape`` (S29-S31) and ``closed_form_constant_D``
    (S17-S24).  A form that does not exist for the case (the constant-D form
    needs ε > 0) is left out."""
    out: Dict[str, np.ndarray] = {}
    for column, kind in (("closed_form_landscape", "landscape"), ("closed_form_constant_D", "constant")):
        try:
            with np.errstate(under="ignore"):
                out[column] = theory.marginal_theta1(landscape, noise, grid, kind=kind)
        except ModelError:
            continue
    return out
