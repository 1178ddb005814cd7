"""The FEM result folder of one 3-D solve (docs/commands.md, *solve_fp.py in 3-D*; tool ``fem-N3``).

:func:`write` is what ``solve_fp.py --fast-directions 2`` (or a ``--loss`` in
θ1, θ2, θ3) writes, callable from Python: ``summary.json`` (the
:class:`~fpsolve.fem.stationary3d.Result3D` summary and ``extra``),
``marginals.csv`` (the slow marginal beside the closed forms of
docs/model.md §9), ``density.xdmf``/``.h5`` (ParaView; the density in
Lagrange of the mesh's degree, :func:`fpsolve._compat.write_xdmf`) and
``density.png`` (the slow marginal and the section θ3 = centre); with
``--eigenpairs`` ``spectrum.png`` (:mod:`fpsolve.plots.spectrum`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from fpsolve import _compat
from fpsolve.plots import fem3d as plots
from fpsolve.plots import spectrum as spectrum_plots
from fpsolve.tools import io

#: The tool name of 3-D FEM results (the marker of their folder; the N-dimensional
#: Monte Carlo's is ``montecarlo-<method>-N3``).
TOOL = "fem-N3"


def write(result: Any, out: str | os.PathLike, *, title: str = "", extra: dict | None = None,
          overwrite: bool = False, progress: Callable[[str], None] | None = None,
          wall_start: float | None = None) -> Path:
    """Write the result folder of ``result`` (a :class:`~fpsolve.fem.stationary3d.Result3D`)
    at ``out``, atomically (:func:`fpsolve.tools.io.atomic_output_dir`).
    Collective (rank 0 writes the plain files).  ``wall_start``
    (``time.perf_counter()`` at the run's start) adds ``wall_seconds``.
    Returns the absolute path.  Raises :class:`fpsolve.tools.io.OutputError`."""
    comm = result.comm
    say = progress or (lambda message: None)
    t_start = time.perf_counter()
    # after the computation: what the folder holds is judged when the result is complete (a file dropped
    # into the old result meanwhile sends it to DIR.new-<time>, io.atomic_output_dir; refused here, it was lost)
    out = io.claim_output(out, TOOL, overwrite, comm, contents=False)
    summary = {**result.summary, **(extra or {})}
    marginals = result.marginals()
    z = result.middle(2)
    xs, ys, section = result.section(theta3=z)
    say("marginal and section evaluated")
    s = result.summary
    head = (f"{title}\n" if title else "") + (f"λ0={s['escape_rate']:.3g}, mean|θ1|={s['mean_abs_theta1']:.4g}, "
                                               f"Var θ2={s['var_theta2']:.4g}, {s['dofs']} dofs")
    with io.atomic_output_dir(out, comm, TOOL, overwrite) as tmp:
        _compat.write_xdmf(str(tmp / "density.xdmf"), result.mesh, result.solution.density)
        if comm.rank == 0:
            plots.plot_slow_marginal_and_section(tmp / "density.png", marginals, xs, ys, section, z, head)
            if s.get("spectrum") is not None:
                spectrum_plots.plot_spectrum(tmp / "spectrum.png", s["spectrum"], title or "3-D solve")
            cols = list(marginals)
            io.write_text_atomic(tmp / "marginals.csv", ",".join(cols) + "\n" + "\n".join(
                ",".join(f"{v:.10g}" for v in row) for row in zip(*(marginals[c] for c in cols))) + "\n")
            summary["output_seconds"] = time.perf_counter() - t_start
            if wall_start is not None:
                summary["wall_seconds"] = time.perf_counter() - wall_start
            io.write_json(tmp / "summary.json", summary)
        say("outputs written")
    return out
