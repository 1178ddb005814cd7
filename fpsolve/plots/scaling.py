"""The scaling benchmark's figure (``scripts/bench_scaling.py``; docs/numerics.md, *Scaling*).

:func:`plot_scaling`: wall seconds against MPI ranks for the strong series
(whole run, assembly, eigen-solve, with the ideal 1/p line from the fewest
ranks) and the weak series, beside the parallel efficiency of both, in the
conventions of :mod:`fpsolve.plots.stationary` (Agg backend, atomic save).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence

from fpsolve.plots.stationary import fit_title, pyplot, save_figure

#: (row key, label) of the times drawn.
STAGES = (("run_seconds", "whole run"), ("assemble_seconds", "assembly"), ("solve_seconds", "eigen-solve"))


def plot_scaling(path: str | Path, strong: Sequence[Dict[str, Any]], weak: Sequence[Dict[str, Any]],
                 strong_efficiency: Sequence[float], weak_efficiency: Sequence[float], title: str) -> None:
    """Left: seconds (log) against ranks (log) of the ``strong`` rows (each
    a row of :func:`fpsolve.validation.scaling.run`, sorted by ranks) for
    :data:`STAGES`, the ideal line t(p0)·p0/p of the whole run, and the
    ``weak`` rows' whole run (ideal: flat); right: the efficiencies (1 is
    ideal).  Either series may be empty."""
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    a = ax[0]
    for (key, label), style in zip(STAGES, ("o-", "s--", "^--")):
        if strong:
            a.plot([r["ranks"] for r in strong], [r[key] for r in strong], style, label=f"strong: {label}")
    if strong:
        p0, t0 = strong[0]["ranks"], strong[0]["run_seconds"]
        ps = [r["ranks"] for r in strong]
        a.plot(ps, [t0 * p0 / p for p in ps], "k:", label="ideal (strong)")
    if weak:
        a.plot([r["ranks"] for r in weak], [r["run_seconds"] for r in weak], "D-", label="weak: whole run")
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("MPI ranks")
    a.set_ylabel("wall seconds")
    a.legend(fontsize=8)
    b = ax[1]
    if strong:
        b.plot([r["ranks"] for r in strong], strong_efficiency, "o-", label="strong")
    if weak:
        b.plot([r["ranks"] for r in weak], weak_efficiency, "D-", label="weak (per dof per rank)")
    b.axhline(1.0, color="k", ls=":", lw=1)
    b.set_xscale("log", base=2)
    b.set_xlabel("MPI ranks")
    b.set_ylabel("parallel efficiency of the whole run")
    b.set_ylim(0, max([1.2] + list(strong_efficiency) + list(weak_efficiency)))
    b.legend(fontsize=8)
    ranks = sorted({r["ranks"] for r in list(strong) + list(weak)})
    for axis in ax:  # plain rank counts (1, 2, 4, ...) on the log axis
        axis.set_xticks(ranks)
        axis.set_xticklabels([str(p) for p in ranks])
        axis.minorticks_off()
    fig.suptitle(fit_title(title, 11))
    save_figure(fig, path)
