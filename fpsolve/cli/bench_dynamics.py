"""Benchmark of the dynamics (docs/model.md §8): a fixed-step transient of N steps
and an adaptive one, and a search-time (backward) solve beside the
stationary eigen-solve, on the default case's default mesh.

Rows: the transient's seconds per step, LU factorisations and mass at the
end; the search-time solve's assemble + LU seconds against the stationary
solve's assemble + eigen-solve seconds (same mesh, same degree).  Writes
``bench.json`` and ``bench.md`` into ``--out`` atomically and prints the
table; ``--quick`` runs 100 steps (for tests).  Targets on the 2-core
development machine: 2000 steps < 60 s; the same under a cosine schedule
(T → T/4 over the run, docs/model.md §10) ≤ 1.5x in CPU time (measured
1.29x, median of 5; docs/numerics.md); search time < 2x the stationary solve.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from fpsolve.cli import common as cli
from fpsolve.model.schedule import Schedule
from fpsolve.model.target import Box
from fpsolve.tools import io
from fpsolve.fem.operator import Operator


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    parser = cli.Parser(prog="bench_dynamics.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_domain_arguments(parser)
    parser.add_argument("--steps", type=int, default=2000, help="fixed steps of the transient (default 2000)")
    parser.add_argument("--dt", type=float, default=0.01, help="their size, time units (default 0.01)")
    parser.add_argument("--t-end", type=float, default=100.0, help="end of the adaptive run (default 100)")
    parser.add_argument("--quick", action="store_true", help="100 steps, adaptive to t = 5 (for tests)")
    cli.add_output_arguments(parser, "results/bench-dynamics")
    args = parser.parse_args(argv)
    landscape, noise = cli.model_from_args(args)
    radius, center = cli.domain_from_args(args)
    if args.steps < 1:  # the given values are checked with --quick too (which then replaces them)
        raise cli.UsageError(f"--steps must be >= 1 (got {args.steps})")
    steps, t_end = (100, 5.0) if args.quick else (args.steps, args.t_end)
    for name, value in (("--dt", args.dt), ("--t-end", args.t_end)):
        if not (0 < value < float("inf")):
            raise cli.UsageError(f"{name} must be a finite number > 0 (got {value!r})")
    from fpsolve.fem import transient as dynamics
    from fpsolve.fem import mesh as fmesh
    from fpsolve.fem import backward as passage
    from fpsolve.fem import forms
    from fpsolve.fem import eigenproblem

    fmesh.graded_sizes(landscape, noise, radius, center)  # validates T > 0
    comm = MPI.COMM_WORLD
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench-dynamics", "bench-dynamics", args.overwrite, comm)
    progress = cli.Progress("bench_dynamics.py", enabled=comm.rank == 0)
    msh, info, _ = fmesh.mesh_for(landscape, noise, radius=radius, center=center, mesh=None, h_min=None,
                                  h_max=None, comm=comm)
    c = forms.model_coefficients(msh, landscape, noise, True)
    rows = []
    t0 = time.perf_counter()
    tr = dynamics.Transient(Operator.build(msh, c.drift, c.D, c.divD, wall="absorbing"), **dynamics.model_observables(msh, landscape))
    assemble = time.perf_counter() - t0
    # a cosine schedule over the fixed-step run, α → α/4 (docs/model.md §10): its cost against the constant T
    cosine = Schedule.named("cosine", {"K": max(1, round(steps * args.dt / noise.alpha)),
                                       "alpha_min": noise.alpha / 4}, alpha=noise.alpha, Delta=noise.Delta)
    for label, kw in ((f"transient, {steps} fixed steps dt={args.dt:g}", dict(t_end=steps * args.dt, dt=args.dt)),
                      (f"transient, {steps} fixed steps dt={args.dt:g}, cosine schedule T -> T/4",
                       dict(t_end=steps * args.dt, dt=args.dt, schedule=cosine, reference_T=noise.T)),
                      (f"transient, adaptive tol 1e-4 to t={t_end:g}", dict(t_end=t_end, tol=1e-4))):
        ev = tr.run(tr.gaussian((0.0, 0.0), (0.05, 0.05)), **kw)
        rows.append({"what": label, "dofs": ev.info["dofs"], "steps": ev.steps, "rejected": ev.rejected,
                     "factorisations": ev.factorisations, "seconds": ev.seconds,
                     "cpu_seconds": ev.info["cpu_seconds"], "assemble_seconds": assemble,
                     "ms_per_step": 1e3 * ev.seconds / ev.steps, "survival_end": ev.rows[-1]["survival"]})
        if "schedule" in kw:
            # in CPU time: the machine's other jobs change the wall time of one run and not the other
            rows[-1].update({"ratio_to_constant": ev.info["cpu_seconds"] / rows[0]["cpu_seconds"],
                             "defect_corrections": ev.info["defect_corrections"]})
        progress(f"{label}: {ev.steps} steps in {ev.seconds:.2f}s")
    tr.destroy()
    t0 = time.perf_counter()
    sol, timing = eigenproblem.solve_operator(Operator.build(msh, c.drift, c.D, c.divD))
    stationary = time.perf_counter() - t0
    box, start, _ = passage.default_target(landscape, noise, radius)
    t0 = time.perf_counter()
    tau = passage.mean_first_passage_time(Operator.build(msh, c.drift, c.D, c.divD, wall="reflecting"), target=Box.from_numbers(box, mirror=True))
    search = time.perf_counter() - t0
    rows.append({"what": "stationary eigen-solve (assemble + SLEPc)", "dofs": timing["dofs"], "seconds": stationary,
                 "escape_rate": sol.eigenvalue.real})
    rows.append({"what": "search-time solve (assemble + LU)", "dofs": tau.dofs, "seconds": search,
                 "ratio_to_stationary": search / stationary,
                 "search_time_at_default_start": float(tau.evaluate([start])[0])})
    progress(f"search time {search:.2f}s vs stationary {stationary:.2f}s")
    table = "| what | dofs | steps | LU | seconds | ms/step | note |\n|---|---|---|---|---|---|---|\n" + "".join(
        f"| {r['what']} | {r['dofs']} | {r.get('steps', '')} | {r.get('factorisations', '')} | {r['seconds']:.2f} | "
        + (f"{r['ms_per_step']:.1f}" if "ms_per_step" in r else "") + " | "
        + (f"{r['ratio_to_constant']:.2f}x constant T in CPU time, {r['defect_corrections']} defect corrections"
           if "ratio_to_constant" in r else f"S(end) = {r['survival_end']:.6g}" if "survival_end" in r else
           f"{r['ratio_to_stationary']:.2f}x the stationary solve" if "ratio_to_stationary" in r else "")
        + " |\n" for r in rows)
    note = (f"\ncase {cli.case_name(landscape, noise)}, T={noise.T:g}, default mesh ({info['cells']} triangles), "
            f"P2, {comm.size} rank(s)\n")
    with io.atomic_output_dir(out, comm, "bench-dynamics", args.overwrite) as tmp:
        if comm.rank == 0:
            io.write_json(tmp / "bench.json", {"case": {"landscape": landscape.as_dict(), "noise": noise.as_dict()},
                                               "mesh": info, "rows": rows, "ranks": comm.size,
                                               "versions": io.versions()})
            io.write_text_atomic(tmp / "bench.md", table + note)
    if comm.rank == 0:
        print(table + note, end="")
        print(f"benchmark written to {out}")
    return 0

