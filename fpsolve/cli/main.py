"""The ``fpsolve`` command: one entry point, one subcommand per tool.

``fpsolve solve --T 0.01`` runs what ``scripts/solve_fp.py --T 0.01`` runs
(the scripts stay, as thin entry points over the same ``main``).  One command
with subcommands rather than eleven ``fpsolve-*`` commands: the tools share
their options and their output rules, ``fpsolve --help`` lists them in one
place, and the names read as the verbs they are.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from fpsolve.cli import common

#: subcommand -> (module of fpsolve.cli, the script it mirrors, what it does)
TOOLS = {
    "solve": ("solve", "solve_fp.py", "stationary density and escape rate by FEM (docs/model.md §4)"),
    "theory": ("theory", "theory.py", "closed forms of adiabatic elimination (§5)"),
    "sample": ("sample", "sample_sgd.py", "Monte Carlo of SGD or its SDE (§2-3)"),
    "validate": ("validate", "validate.py", "FEM against Monte Carlo against the closed forms"),
    "evolve": ("evolve", "evolve_fp.py", "the transient density from a start point (§8)"),
    "search": ("search", "search_time.py", "mean first-passage time and committor to a target (§8)"),
    "anneal": ("anneal", "anneal.py", "cooling across T_c by schedules of several lengths (§10)"),
    "reproduce": ("reproduce", "reproduce.py", "the seed's figures S2-S5"),
    "mesh": ("mesh", "make_mesh.py", "write the graded disk mesh of a case (.msh)"),
    "bench-solver": ("bench_solver", "bench_solver.py", "benchmark of the FEM solve"),
    "bench-montecarlo": ("bench_montecarlo", "bench_montecarlo.py", "benchmark of the Monte Carlo engines"),
    "bench-dynamics": ("bench_dynamics", "bench_dynamics.py", "benchmark of the transient solve"),
    "bench-symmetry": ("bench_symmetry", "bench_symmetry.py", "symmetries of the example models and their solve times"),
    "bench-scaling": ("bench_scaling", "bench_scaling.py", "strong and weak MPI scaling of the 3-D solve, its linear solvers"),
}


def usage() -> str:
    width = max(len(name) for name in TOOLS)
    lines = ["usage: fpsolve TOOL [options]   (fpsolve TOOL --help for its options)", "", "tools:"]
    lines += [f"  {name:<{width}}  {what} (= scripts/{script})" for name, (_, script, what) in TOOLS.items()]
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str] | None = None) -> None:
    """Dispatch ``fpsolve TOOL ARGS`` to ``fpsolve.cli.<tool>.main(ARGS)``; exit status as the script's."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(usage().splitlines()[0] + "\n")  # a missing tool is bad input: one line, exit 2
        sys.exit(2)
    if args[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        sys.exit(0)
    name, rest = args[0], args[1:]
    if name not in TOOLS:
        sys.stderr.write(f"fpsolve: error: unknown tool {name!r} (one of {', '.join(TOOLS)})\n")
        sys.exit(2)
    module = importlib.import_module(f"fpsolve.cli.{TOOLS[name][0]}")
    common.set_prog(f"fpsolve {name}")
    common.main_guard(module.main, rest)


if __name__ == "__main__":
    run()
