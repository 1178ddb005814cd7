"""Scaling benchmark of the 3-D solve: strong and weak scaling over MPI ranks,
and the shift-and-invert's linear solvers side by side (issue 19).

Each run is a fresh ``mpirun -n p`` (fpsolve.validation.scaling: one run per
process, so each row's peak memory per rank is its own); start this tool
itself without mpirun.  **Strong**: the ball of ``--h-min`` on each of
``--ranks``.  **Weak**: the ball of ``--weak-h-min`` on the fewest ranks p0, its
whole size field times (p/p0)^(-1/3) on p ranks (about the same dofs per rank).  **Solvers**: each of
``--solvers`` (MUMPS, GMRES + GAMG, BiCGStab + BoomerAMG, GMRES + ASM/ILU, ...)
on each case of ``--compare-cases`` at each ``--compare-h-min``, on
``--compare-ranks`` ranks: seconds, Krylov iterations, eigen residual, peak
memory; a solver that fails or outlives ``--compare-timeout`` gets a row
saying so.  Rows: dofs, dofs per rank, mesh/assembly/eigen-solve/whole-run
seconds, peak MB per rank, λ0 and moments, the 1-minute load average before
and after.  Writes ``scaling.csv``, ``solvers.csv``, ``bench.json``,
``bench.md`` and ``scaling.png`` into ``--out`` atomically and prints the
tables; ``--quick``: the m = 2 valley on a 22.1k-dof ball on 1 and 2 ranks, the
weak series from 8.5k dofs (16.3k on 2 ranks), MUMPS against the default
iterative solver at 8.5k dofs (for tests).  Started under mpirun (even
``-n 1``, whose core binding its own runs would inherit) it is refused.
"""

from __future__ import annotations

import argparse
import csv
import io as _stringio
import logging
import math
import os
import shutil
import sys
import time
from typing import Any, Dict, List, Sequence

from fpsolve.cli import common as cli
from fpsolve.tools import io

#: --quick: the valley's finest size of the strong series (22.1k dofs), of the weak series and of
#: the solver comparison on one rank (8.5k dofs), ranks; it compares MUMPS with the default
#: iterative solver (fpsolve.fem.solve3d.ITERATIVE_OPTIONS).
QUICK_H, QUICK_SMALL_H, QUICK_RANKS = 0.35, 0.5, (1, 2)
#: Defaults: strong and weak series on the valley at h_min 0.12 (76.0k dofs on one rank, the
#: README's 3-D example), the solver comparison at h_min 0.3 (32.6k dofs predicted) and 0.12 on both cases.
#: (Measured on the ball of stationary3d.STRETCH_FACTOR 0.45; docs/numerics.md's tables at 57k and 25k
#: are of the earlier factor 0.6.)
DEFAULT_H, DEFAULT_COMPARE_H = 0.12, (0.3, 0.12)
DEFAULT_SOLVERS = ("mumps", "gmres-ilu-shifted", "gmres-gamg-shifted", "gmres-gamg", "gmres-asm-ilu", "bcgs-hypre")
PARTS = ("strong", "weak", "solvers")
#: Columns of scaling.csv and solvers.csv.
SCALING_COLUMNS = ("series", "case", "solver", "ranks", "h", "scale", "dofs", "dofs_per_rank_min", "dofs_per_rank_max",
                   "mesh_seconds", "assemble_seconds", "solve_seconds", "moments_seconds", "run_seconds",
                   "process_seconds", "efficiency", "peak_memory_mb_max", "peak_memory_mb_sum", "krylov_iterations",
                   "linear_solves", "lambda0", "eigen_residual", "mean_abs_theta1", "var_theta2", "load_before",
                   "load_after")
SOLVER_COLUMNS = ("case", "solver", "ranks", "h", "dofs", "status", "run_seconds", "solve_seconds",
                  "linear_solves", "krylov_iterations", "max_iterations_per_solve", "eigen_residual", "lambda0",
                  "lambda0_vs_mumps", "peak_memory_mb_max", "load_before", "load_after")


def _checked(convert: Any, ok: Any, what: str) -> Any:
    """An argparse type: ``convert(text)`` where ``ok`` of it, else the one
    line "argument --x: must be WHAT (got 'text')" (exit 2)."""

    def check(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what} (got {text!r})")
        return value

    return check


_positive_int = _checked(int, lambda v: 1 <= v <= 4096, "whole numbers in 1..4096")
_size = _checked(float, lambda v: math.isfinite(v) and 0 < v < 2, "a mesh size in (0, 2)")
_seconds = _checked(float, lambda v: math.isfinite(v) and v > 0, "a number of seconds > 0")
#: --compare-scale: a factor of the whole size field; above 4 the comparison's coarsest ball (0.3 x 4)
#: is no longer a graded ball (its sizes clip at the radius).
_factor = _checked(float, lambda v: math.isfinite(v) and 0 < v <= 4, "a size factor in (0, 4]")

#: The environment variables an MPI launcher (Open MPI's mpirun, MPICH/hydra) gives its processes.
#: Not PMIx's own (PMIX_RANK): Open MPI 4 sets those in a singleton too, a plain `python` that
#: initialised MPI, and its children inherit them (the test suite's subprocesses did).
MPI_LAUNCH_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK")


def launched_by_mpi(env: Any = None) -> str | None:
    """``NAME=value`` of the first :data:`MPI_LAUNCH_VARIABLES` set in ``env``
    (default this process's), or None when not started by an MPI launcher."""
    env = os.environ if env is None else env
    for k in MPI_LAUNCH_VARIABLES:
        if k in env:
            return f"{k}={env[k]}"
    return None


def parser() -> cli.Parser:
    from fpsolve.validation import scaling

    p = cli.Parser(prog="bench_scaling.py", description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=_positive_int, nargs="+", default=None, metavar="P",
                   help="rank counts of the strong and weak series (default 1 2; a 16-core machine: 1 2 4 8 16)")
    p.add_argument("--case", choices=scaling.CASES, default="valley",
                   help="case of the strong and weak series: the m = 2 valley at T = 0.05 (default) or the "
                        "isotropic OU ball of tests/test_fem3d.py")
    p.add_argument("--solver", choices=tuple(scaling.SOLVERS), default="mumps",
                   help="the shift-and-invert's linear solver in the strong and weak series (default mumps)")
    p.add_argument("--h-min", type=_size, default=None, help=f"finest size of the strong series' ball "
                                                             f"(default {DEFAULT_H:g}: 76.0k dofs)")
    p.add_argument("--weak-h-min", type=_size, default=None,
                   help="finest size of the weak series on the fewest ranks p0 (default --h-min); on p ranks the "
                        "whole size field (h_min, h_max, growth) is times (p/p0)^(-1/3)")
    p.add_argument("--solvers", nargs="+", choices=tuple(scaling.SOLVERS), default=None, metavar="NAME",
                   help=f"linear solvers compared, of {', '.join(scaling.SOLVERS)} "
                        f"(default {' '.join(DEFAULT_SOLVERS)})")
    p.add_argument("--compare-h-min", type=_size, nargs="+", default=None, metavar="H",
                   help=f"mesh sizes of the solver comparison (default {' '.join(map(str, DEFAULT_COMPARE_H))})")
    p.add_argument("--compare-cases", nargs="+", choices=scaling.CASES, default=None, metavar="CASE",
                   help="cases of the solver comparison (default valley ou)")
    p.add_argument("--compare-scale", type=_factor, default=1.0, metavar="F",
                   help="the comparison's whole size fields (h_min, h_max, growth) times F, in (0, 4] (default 1; "
                        "the valley at --compare-h-min 0.12: 0.66 gives about 260k dofs)")
    p.add_argument("--compare-ranks", type=_positive_int, default=1, help="ranks of the solver comparison (default 1)")
    p.add_argument("--compare-timeout", type=_seconds, default=900.0,
                   help="seconds after which a compared solver's run is stopped and its row says so (default 900)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=None, metavar="PART",
                   help="which of strong weak solvers to run (default all)")
    p.add_argument("--bind", choices=("none", "core"), default="none",
                   help="mpirun --bind-to (default none: the right choice on a shared machine)")
    p.add_argument("--quick", action="store_true",
                   help=f"the valley at h_min {QUICK_H:g} (22.1k dofs) on ranks 1 2, the weak series and mumps against "
                        f"the default iterative solver at h_min {QUICK_SMALL_H:g} (8.5k dofs; for tests)")
    cli.add_output_arguments(p, "results/bench-scaling")
    return p


def _series_rows(rows: Sequence[Dict[str, Any]], series: str, efficiency: Sequence[float]) -> List[Dict[str, Any]]:
    out = []
    for r, e in zip(rows, efficiency):
        out.append({"series": series, "case": r["case"], "solver": r["solver"], "ranks": r["ranks"],
                    "h": r["h"] * r.get("scale", 1.0), "scale": r.get("scale", 1.0),
                    "dofs": r["dofs"], "dofs_per_rank_min": min(r["dofs_per_rank"]),
                    "dofs_per_rank_max": max(r["dofs_per_rank"]),
                    **{k: r[k] for k in ("mesh_seconds", "assemble_seconds", "solve_seconds", "moments_seconds",
                                         "run_seconds", "process_seconds")},
                    "efficiency": e, "peak_memory_mb_max": max(r["peak_memory_mb"]),
                    "peak_memory_mb_sum": sum(r["peak_memory_mb"]),
                    "krylov_iterations": r["linear"].get("iterations"), "linear_solves": r["linear"].get("solves"),
                    "lambda0": r["lambda0"], "eigen_residual": r["eigen_residual"],
                    "mean_abs_theta1": r["mean_abs_theta1"], "var_theta2": r["var_theta2"],
                    "load_before": r["load_average"][0], "load_after": r["load_average"][1]})
    return out


def _csv(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> str:
    buf = _stringio.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(rows: Sequence[Dict[str, Any]], columns: Sequence[tuple]) -> str:
    """A Markdown table: ``columns`` are (header, row -> cell text)."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r) for _, cell in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _failure(message: str) -> str:
    """The status of a compared run that failed: "timeout", or "failed" with
    PETSc's reason (DIVERGED_ITS, ...) where the message gives one."""
    if "took more than" in message:
        return "timeout"
    reason = message.rsplit("reason ", 1)[1].split()[0] if "reason " in message else ""
    return f"failed {reason}".strip()


def _load(r: Dict[str, Any]) -> str:
    return f"{_fmt(r.get('load_before'), '.2f')}/{_fmt(r.get('load_after'), '.2f')}"


def scaling_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The strong and weak rows as a Markdown table."""
    return _table(rows, (
        ("series", lambda r: r["series"]), ("ranks", lambda r: str(r["ranks"])), ("h_min", lambda r: f"{r['h']:.4g}"),
        ("dofs", lambda r: str(r["dofs"])), ("dofs/rank", lambda r: f"{r['dofs_per_rank_min']}-{r['dofs_per_rank_max']}"),
        ("assembly s", lambda r: f"{r['assemble_seconds']:.2f}"), ("eigen-solve s", lambda r: f"{r['solve_seconds']:.2f}"),
        ("whole run s", lambda r: f"{r['run_seconds']:.2f}"), ("efficiency", lambda r: f"{r['efficiency']:.2f}"),
        ("peak MB/rank (max)", lambda r: f"{r['peak_memory_mb_max']:.0f}"), ("λ0", lambda r: f"{r['lambda0']:.10g}"),
        ("mean abs θ1", lambda r: f"{r['mean_abs_theta1']:.10g}"), ("load 1-min", _load)))


def solver_table(rows: Sequence[Dict[str, Any]]) -> str:
    """The solver comparison as a Markdown table."""
    return _table(rows, (
        ("case", lambda r: r["case"]), ("solver", lambda r: r["solver"]), ("ranks", lambda r: str(r["ranks"])),
        ("h_min", lambda r: f"{r['h']:.4g}"), ("dofs", lambda r: _fmt(r.get("dofs"), "d")),
        ("status", lambda r: r["status"] if r["status"] == "ok" else f"{r['status']} after {r['process_seconds']:.0f} s"), ("whole run s", lambda r: _fmt(r.get("run_seconds"), ".2f")),
        ("eigen-solve s", lambda r: _fmt(r.get("solve_seconds"), ".2f")),
        ("linear solves", lambda r: _fmt(r.get("linear_solves"), "d")),
        ("Krylov its (max/solve)", lambda r: f"{_fmt(r.get('krylov_iterations'), 'd')} "
                                             f"({_fmt(r.get('max_iterations_per_solve'), 'd')})"),
        ("eigen residual", lambda r: _fmt(r.get("eigen_residual"), ".1e")),
        ("λ0 − λ0(MUMPS)", lambda r: _fmt(r.get("lambda0_vs_mumps"), ".1e")),
        ("peak MB", lambda r: _fmt(r.get("peak_memory_mb_max"), ".0f")), ("load 1-min", _load)))


def main(argv: Sequence[str] | None = None) -> int:
    from fpsolve.validation import scaling

    logging.getLogger().setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    launched = launched_by_mpi()
    if launched is not None:  # even -n 1: its process is bound to one core, which every nested run inherits
        raise cli.UsageError(f"bench_scaling.py starts each run under its own mpirun: start it without mpirun "
                             f"(found {launched}; under mpirun -n 1 its 2-rank runs would share one core)")
    if shutil.which("mpirun") is None:
        raise cli.UsageError("bench_scaling.py needs mpirun on PATH (Debian: openmpi-bin)")
    ranks = sorted(set(args.ranks or (QUICK_RANKS if args.quick else (1, 2))))
    h = args.h_min or (QUICK_H if args.quick else DEFAULT_H)
    weak_h = args.weak_h_min or (QUICK_SMALL_H if args.quick else h)
    quick_solvers = ("mumps", scaling.default_iterative() or "gmres-gamg")
    solvers = list(dict.fromkeys(args.solvers or (quick_solvers if args.quick else DEFAULT_SOLVERS)))
    compare_h = list(args.compare_h_min or ((QUICK_SMALL_H,) if args.quick else DEFAULT_COMPARE_H))
    compare_cases = list(dict.fromkeys(args.compare_cases or (("valley",) if args.quick else ("valley", "ou"))))
    parts = list(dict.fromkeys(args.parts or PARTS))
    out = io.claim_output(args.out or io.RESULTS_ROOT / "bench-scaling", "bench-scaling", args.overwrite)
    progress = cli.Progress("bench_scaling.py")
    cache: Dict[tuple, Dict[str, Any]] = {}

    def one(case: str, hh: float, solver: str, p: int, timeout: float = 1800.0, scale: float = 1.0) -> Dict[str, Any]:
        key = (case, round(hh, 12), solver, p, round(scale, 12))
        if key not in cache:
            cache[key] = scaling.launch({"case": case, "h": hh, "solver": solver, "scale": scale}, p, bind=args.bind,
                                        timeout=timeout)
            r = cache[key]
            progress(f"{case} h={hh:.4g} x{scale:.4g} {solver} on {p} rank(s): {r['dofs']} dofs, run {r['run_seconds']:.2f}s "
                     f"(eigen-solve {r['solve_seconds']:.2f}s), peak {max(r['peak_memory_mb']):.0f} MB/rank, "
                     f"load {r['load_average'][0]:.2f}")
        return cache[key]

    load_start = os.getloadavg()
    # the first run compiles the forms (FFCx cache): warm it on a coarse ball, untimed (not in --quick,
    # whose timings are not the point)
    strong, weak = [], []
    try:
        for case in set() if args.quick else {args.case} | (set(compare_cases) if "solvers" in parts else set()):
            scaling.launch({"case": case, "h": 0.6 if case == "valley" else 0.45, "solver": "mumps"}, 1)
        if "strong" in parts:
            strong = [one(args.case, h, args.solver, p) for p in ranks]
        if "weak" in parts:
            weak = [one(args.case, weak_h, args.solver, p, scale=(p / ranks[0]) ** (-1.0 / 3.0)) for p in ranks]
    except RuntimeError as exc:  # a run of the series failed (its solver, MPI): one line, exit 1, nothing written
        sys.stderr.write(f"bench_scaling.py: error: {exc}; nothing written\n")
        return 1
    compared: List[Dict[str, Any]] = []
    if "solvers" in parts:
        for case in compare_cases:
            for hh in compare_h:
                direct = None
                for solver in solvers:
                    base = {"case": case, "solver": solver, "ranks": args.compare_ranks, "h": hh * args.compare_scale,
                            "scale": args.compare_scale}
                    started = time.perf_counter()
                    try:
                        r = one(case, hh, solver, args.compare_ranks, args.compare_timeout, args.compare_scale)
                    except RuntimeError as exc:
                        progress(f"{case} h={hh:.4g} {solver}: {exc}")
                        compared.append({**base, "status": _failure(str(exc)), "error": str(exc),
                                         "process_seconds": time.perf_counter() - started})
                        continue
                    if solver == "mumps":
                        direct = r
                    compared.append({**base, "status": "ok", "dofs": r["dofs"], "run_seconds": r["run_seconds"],
                                     "solve_seconds": r["solve_seconds"], "linear_solves": r["linear"].get("solves"),
                                     "krylov_iterations": r["linear"].get("iterations"),
                                     "max_iterations_per_solve": r["linear"].get("max_iterations"),
                                     "eigen_residual": r["eigen_residual"], "lambda0": r["lambda0"],
                                     "peak_memory_mb_max": max(r["peak_memory_mb"]),
                                     "load_before": r["load_average"][0], "load_after": r["load_average"][1],
                                     "options_in_effect": r["options_in_effect"], "petsc_options": r["petsc_options"]})
                for row in compared:
                    if row["case"] == case and row["h"] == hh * args.compare_scale and direct is not None and row["status"] == "ok":
                        row["lambda0_vs_mumps"] = row["lambda0"] - direct["lambda0"]
    strong_eff = scaling.efficiency(strong, "strong") if strong else []
    weak_eff = scaling.efficiency(weak, "weak") if weak else []
    rows = _series_rows(strong, "strong", strong_eff) + _series_rows(weak, "weak", weak_eff)
    load_end = os.getloadavg()
    agree = scaling.agreement(strong) if len(strong) > 1 else None
    cpus = os.cpu_count()
    note = (f"\n{cpus} CPU(s) on this machine; 1-minute load average {load_start[0]:.2f} at the start, "
            f"{load_end[0]:.2f} at the end (per run: the last column). Each run is a fresh `mpirun -n p "
            f"--bind-to {args.bind}`, one thread per rank; times are wall seconds of rank 0 between barriers. "
            "On a shared machine (load above 0) the times are noisy: compare them only with the load beside them.\n")
    if agree is not None:
        note += f"strong series: λ0 and the moments agree between rank counts to {agree:.1e} (relative).\n"
    text = ""
    if rows:
        text += f"## Scaling ({args.case}, {args.solver})\n\n" + scaling_table(rows) + note
    if compared:
        text += (f"\n## Linear solvers of the shift-and-invert ({args.compare_ranks} rank(s))\n\n"
                 + solver_table(compared) + "\nPETSc options (prefix fpsolve_eig_) per solver:\n"
                 + "".join(f"- {name}{' (solve3d.ITERATIVE_OPTIONS)' if name == scaling.default_iterative() else ''}: "
                           f"{' '.join(f'-{k} {v}' for k, v in scaling.SOLVERS[name].items())}\n"
                           for name in solvers))
    with io.atomic_output_dir(out, None, "bench-scaling", args.overwrite) as tmp:
        io.write_json(tmp / "bench.json", {
            "case": args.case, "solver": args.solver, "ranks": ranks, "h_min": h, "weak_h_min": weak_h,
            "strong": strong, "weak": weak, "strong_efficiency": strong_eff, "weak_efficiency": weak_eff,
            "strong_agreement": agree, "solvers": compared, "solver_options": {k: scaling.SOLVERS[k] for k in solvers},
            "cpus": cpus, "load_average_start": list(load_start), "load_average_end": list(load_end),
            "bind": args.bind, "versions": io.versions()})
        io.write_text_atomic(tmp / "scaling.csv", _csv(rows, SCALING_COLUMNS))
        io.write_text_atomic(tmp / "solvers.csv", _csv(compared, SOLVER_COLUMNS))
        io.write_text_atomic(tmp / "bench.md", text)
        if strong or weak:
            from fpsolve.plots.scaling import plot_scaling

            plot_scaling(tmp / "scaling.png", sorted(strong, key=lambda r: r["ranks"]),
                         sorted(weak, key=lambda r: r["ranks"]), strong_eff, weak_eff,
                         f"3-D solve, {args.case}, {args.solver}: strong (h_min {h:g}) and weak scaling, "
                         f"{cpus} CPU(s), load {load_start[0]:.1f}-{load_end[0]:.1f}")
    print(text, end="")
    print(f"benchmark written to {out}")
    return 0
