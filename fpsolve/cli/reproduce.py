"""Reproduce the seed's figures (S2, S3, S4, S5, phase diagram, relaxation rate, dimension) with fpsolve's numbers.

    python scripts/reproduce.py [--quick] [--figures S5,S3,S4,S2,phase,relaxation,dimension] [--out DIR]
    mpirun -n 4 python -m mpi4py scripts/reproduce.py [--quick]   # sweeps over ranks

Each figure gets a PNG and the CSV of its numbers; ``summary.md`` has one
line per figure saying what matched, ``reproduce.json`` every number, the
checks, all parameters and the versions.  Sweep points are dealt over MPI
ranks and give the same numbers as a serial run.  Exit status 0 when it ran
(checks that differ are reported, not fatal), 2 on bad input.
"""

from __future__ import annotations

from typing import Sequence

from fpsolve.tools import signals as _signals
from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.mc import plan as mc_plan
from fpsolve.model.valley import Landscape

NAMES = ("S5", "S3", "S4", "S2", "phase", "relaxation", "dimension")


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="reproduce.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sweeps (a test runs this)")
    parser.add_argument("--figures", default=",".join(NAMES),
                        help=f"comma-separated subset of {','.join(NAMES)} (default all)")
    parser.add_argument("--seed", type=int, default=None, help="base random seed of the Monte Carlo")
    cli.add_output_arguments(parser, "results/reproduce")
    args = parser.parse_args(argv)
    wanted = [f.strip() for f in args.figures.split(",")]
    if len(wanted) > 1 and "" in wanted:
        raise cli.UsageError(f"--figures {args.figures!r} has an empty entry (give names separated by single "
                             f"commas, from {','.join(NAMES)})")
    wanted = [f for f in wanted if f]
    bad = [f for f in wanted if f not in NAMES]
    if bad or not wanted:
        raise cli.UsageError(f"--figures: unknown figure {bad[0] if bad else '(none)'!r} "
                             f"(choose from {','.join(NAMES)})")

    if args.seed is not None:
        mc_plan.check_seed(args.seed, "--seed", mc_plan.DERIVED_SEED_LIMIT)

    import dataclasses

    from mpi4py import MPI

    comm = MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None
    out = io.claim_output(args.out or io.RESULTS_ROOT / "reproduce", "reproduce", args.overwrite, comm)
    from fpsolve.validation import figures as reproduction  # the FEM and MC stacks, after the input checks

    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    # on every rank: io.versions() imports petsc4py/dolfinx, whose initialisation
    # is collective (a rank-0-only import would hang under mpirun)
    versions = io.versions()
    rank = 0 if comm is None else comm.rank
    settings = reproduction.QUICK if args.quick else reproduction.FULL
    if args.seed is not None:
        settings = dataclasses.replace(settings, seed=args.seed)
    progress = cli.Progress("reproduce.py", enabled=rank == 0)
    progress(f"{'quick' if args.quick else 'full'} settings, figures {','.join(wanted)}, "
             f"{1 if comm is None else comm.size} rank(s)")
    figures = []
    for name in wanted:
        func, preset = reproduction.FIGURES[name]
        fig = func(Landscape.from_preset(preset), settings, comm, progress)
        figures.append((preset, fig))
        progress(f"{fig.title}: {sum(v.agree for v in fig.checks.values())}/{len(fig.checks)} checks agree")
    with io.atomic_output_dir(out, comm, "reproduce", args.overwrite) as tmp:
        if rank == 0:
            lines = ["# The seed's results, reproduced", "",
                     f"Settings: {'quick' if args.quick else 'full'}; ranks: {1 if comm is None else comm.size}.",
                     ""]
            record = {"settings": settings.as_dict(), "quick": bool(args.quick),
                      "ranks": 1 if comm is None else comm.size, "versions": versions, "figures": {}}
            for preset, fig in figures:
                fig.write(tmp)
                ok = sum(v.agree for v in fig.checks.values())
                lines.append(f"- **{fig.title}** (`{fig.name}.png`, `{fig.name}.csv`; preset {preset}; "
                             f"{ok}/{len(fig.checks)} checks agree): {fig.finding}")
                record["figures"][fig.name] = {
                    "title": fig.title, "preset": Landscape.from_preset(preset).as_dict(), "finding": fig.finding,
                    "checks": {k: v.as_dict() for k, v in fig.checks.items()}, "numbers": fig.numbers,
                    "rows": fig.rows}
            lines += ["", "## Checks", "", "| figure | check | value | reference | tolerance | verdict |",
                      "|---|---|---|---|---|---|"]
            for _, fig in figures:
                for k, v in fig.checks.items():
                    lines.append(f"| {fig.name} | {k} | {v.value:.4g} | {v.reference:.4g} | "
                                 f"{v.tolerance:.3g} ({v.rule}) | {v.word} |")
            io.write_text_atomic(tmp / "summary.md", "\n".join(lines) + "\n")
            io.write_json(tmp / "reproduce.json", record)
    if rank == 0:
        print(out)
    return 0

