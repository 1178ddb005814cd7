"""Benchmark of symmetric models (issue 22, docs/model.md §7 "Symmetries"): the
symmetries found on each example model and what the default run takes.

Rows: per model, the maps found symbolically, the mesh symmetry, the maps
the eigen-solve used, the default run's dofs, seconds, convergence, the
means the symmetry makes 0 and the hopping rate λ1 − λ0 with its trust
flag; then the two-layer net with weight decay on the default (adaptive)
rule against a fixed uniform mesh of about 150 k dofs (the target: the
adaptive run within 10x the fixed mesh's time).  Writes ``bench.json`` and
``bench.md`` into ``--out`` atomically and prints the table; ``--quick``
runs two models and a 24 k-dof fixed mesh (for tests).
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from fpsolve.cli import common as cli
from fpsolve.tools import io

#: (label, loss, constants, noise, T, solve options) of the example models.
MODELS = (
    ("double-well preset (graded)", None, {}, "sgd", 0.05, {}),
    ("two-layer net", "0.5*(theta1*theta2 - 1)**2", {}, "sgd", 0.05, {}),
    ("two-layer net, reflecting", "0.5*(theta1*theta2 - 1)**2", {}, "sgd", 0.05, {"wall": "reflecting"}),
    ("two-layer net, T = 0.2", "0.5*(theta1*theta2 - 1)**2", {}, "sgd", 0.2, {}),
    ("two-layer net + weight decay", "0.5*(theta1*theta2 - c)**2 + 0.5*w*(theta1**2 + theta2**2)",
     {"c": 1.0, "w": 0.1}, "sgd", 0.05, {}),
    ("curved valley, isotropic", "2.5*(y - x**2 + c)**2 + 0.25*x**2", {"c": 0.5}, "isotropic", 0.1,
     {"wall": "reflecting"}),
    ("anisotropic OU, isotropic", "0.5*(theta1**2 + 2*theta2**2)", {}, "isotropic", 0.05, {}),
    ("ring (theta1^2 + theta2^2 - 1)^2", "(theta1**2 + theta2**2 - 1)**2", {}, "isotropic", 0.1, {}),
    ("tilted double well (no symmetry)", "theta1**4 - theta1**2 + theta2**2 + 0.3*theta1*theta2 + 0.2*theta1",
     {}, "sgd", 0.05, {}),
)
QUICK = ("two-layer net", "two-layer net + weight decay")
#: Uniform size of the fixed mesh (about 150 k P2 dofs on the disk of radius 2; quick: 24 k).
FIXED_H, QUICK_H = 0.0198, 0.05


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    parser = cli.Parser(prog="bench_symmetry.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two models, a 24 k-dof fixed mesh (for tests)")
    cli.add_output_arguments(parser, "results/bench-symmetry")
    args = parser.parse_args(argv)
    from fpsolve.fem import stationary as solver
    from fpsolve.model.expression import Model

    comm = MPI.COMM_WORLD
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench-symmetry", "bench-symmetry", args.overwrite, comm)
    progress = cli.Progress("bench_symmetry.py", enabled=comm.rank == 0)
    solver.solve(Model.from_expression("0.5*(theta1*theta2 - 1)**2", T=0.05), h_min=0.2, comm=comm)  # warm caches
    rows = []
    decay = None
    for label, loss, params, noise, T, kw in MODELS:
        if args.quick and label not in QUICK:
            continue
        model = (Model.preset("double-well", T=T) if loss is None
                 else Model.from_expression(loss, params, noise, T=T))
        t0 = time.perf_counter()
        s = solver.solve(model, comm=comm, **kw).summary
        seconds = time.perf_counter() - t0
        sym = s.symmetry
        rows.append({"model": label, "loss": loss or model.loss, "noise": noise, "T": T, **kw,
                     "found": sym["model"]["found"], "mesh": sym["mesh"], "used": sym["used"],
                     "rule": s.mesh_rule, "dofs": s.dofs, "seconds": seconds,
                     "converged": (s.adaptivity or {}).get("converged"), "error_estimate": s.error_estimate,
                     "zero_by_symmetry": sym["zero_by_symmetry"], "mean_abs_theta1": s.mean_abs_theta1,
                     "escape_rate": s.escape_rate, "hopping_rate": sym["hopping_rate"],
                     "hopping_rate_trusted": sym["hopping_rate_trusted"]})
        progress(f"{label}: {sym['model']['found']} used {sym['used']}, {s.dofs} dofs in {seconds:.2f}s")
        if label == "two-layer net + weight decay":
            decay = (model, rows[-1])
    comparison = None
    if decay is not None:
        model, row = decay
        h = QUICK_H if args.quick else FIXED_H
        t0 = time.perf_counter()
        s = solver.solve(model, h_min=h, comm=comm).summary
        seconds = time.perf_counter() - t0
        comparison = {"fixed_h": h, "fixed_dofs": s.dofs, "fixed_seconds": seconds,
                      "adaptive_dofs": row["dofs"], "adaptive_seconds": row["seconds"],
                      "ratio": row["seconds"] / seconds,
                      "mean_abs_theta1_difference": abs(s.mean_abs_theta1 - row["mean_abs_theta1"])}
        progress(f"weight decay: fixed {s.dofs} dofs in {seconds:.2f}s, adaptive {row['seconds']:.2f}s")
    table = ("| model | found | mesh | used | rule | dofs | seconds | converged | hopping rate (trusted) |\n"
             "|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        hop = "-" if r["hopping_rate"] is None else f"{r['hopping_rate']:.3g} ({'yes' if r['hopping_rate_trusted'] else 'no'})"
        table += (f"| {r['model']} | {', '.join(r['found']) or 'none'} | {r['mesh']} | {', '.join(r['used']) or 'none'} | "
                  f"{r['rule']} | {r['dofs']} | {r['seconds']:.2f} | {r['converged']} | {hop} |\n")
    if comparison is not None:
        table += (f"\nweight decay: default rule {comparison['adaptive_dofs']} dofs in {comparison['adaptive_seconds']:.2f}s, "
                  f"fixed mesh h={comparison['fixed_h']:g} {comparison['fixed_dofs']} dofs in "
                  f"{comparison['fixed_seconds']:.2f}s: ratio {comparison['ratio']:.2f} (target < 10); "
                  f"mean |theta1| differs by {comparison['mean_abs_theta1_difference']:.1e}\n")
    note = f"\n{comm.size} rank(s), P2, default mesh rule unless stated\n"
    with io.atomic_output_dir(out, comm, "bench-symmetry", args.overwrite) as tmp:
        if comm.rank == 0:
            io.write_json(tmp / "bench.json", {"rows": rows, "weight_decay_vs_fixed": comparison,
                                               "ranks": comm.size, "versions": io.versions()})
            io.write_text_atomic(tmp / "bench.md", table + note)
    if comm.rank == 0:
        print(table + note, end="")
        print(f"benchmark written to {out}")
    return 0
