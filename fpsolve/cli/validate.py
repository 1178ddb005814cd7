"""Three-way validation of one case: FEM vs closed forms vs Monte Carlo.

Solves the Fokker-Planck equation (with and without cross-diffusion), runs
the stochastic twin of each variant, evaluates the closed forms, and writes
a report folder: ``report.md`` (a table per quantity: FEM, closed form,
MC ± error, verdict), ``report.json`` and ``validation.png``.

    python scripts/validate.py [model options] [--quick] [--out DIR]

Exit status 0 when every check agrees, 1 when one differs (the report is
written either way), 2 on bad input (one line, nothing written).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from fpsolve.tools import signals as _signals
from fpsolve.cli import common as cli
from fpsolve.tools import io
from fpsolve.mc import plan as mc_plan
from fpsolve.model import valley as model
from fpsolve.validation.report import Report


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="validate.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser)
    parser.add_argument("--quick", action="store_true",
                        help="fewer walkers and shorter runs (under 2 minutes on 2 cores)")
    parser.add_argument("--walkers", type=int, default=None, help="Monte Carlo walkers per variant")
    parser.add_argument("--dt", type=float, default=None, help="Euler-Maruyama step (time units)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the Monte Carlo")
    cli.add_output_arguments(parser, "results/<case-name>/validate")
    args = parser.parse_args(argv)
    user_model, radius, center = cli.model_and_domain(args)
    landscape, noise = user_model.valley, user_model.noise_level
    if args.walkers is not None and args.walkers < 8:
        raise cli.UsageError(f"--walkers must be an integer >= 8 (got {args.walkers})")
    if args.dt is not None and not (args.dt > 0 and args.dt < 1):
        raise cli.UsageError(f"--dt must lie in (0, 1) (got {args.dt!r})")
    noise.require_positive_T()
    if args.seed is not None:
        mc_plan.check_seed(args.seed, "--seed", mc_plan.DERIVED_SEED_LIMIT)

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.rank
    custom = landscape is None or user_model.noise != "sgd" or args.loss is not None
    name = cli.case_folder_name(user_model.case_name() if custom else cli.case_name(landscape, noise), args)
    out = io.claim_output(args.out or io.default_out(name, "validate"), "validate", args.overwrite, comm)
    if custom:
        return validate_model(args, user_model, radius, center, comm, name, out)

    from fpsolve.validation import three_way as validation  # heavy imports after the input checks

    settings = validation.QUICK if args.quick else validation.FULL
    overrides = {k: v for k, v in (("walkers", args.walkers), ("dt", args.dt), ("seed", args.seed))
                 if v is not None}
    settings = dataclasses.replace(settings, **overrides)
    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    progress = cli.Progress("validate.py", enabled=rank == 0)
    progress(f"case {name}: T = {noise.T:g}, "
             f"{'quick' if args.quick else 'full'} settings")
    # FEM solves and MC walkers are split over the ranks (same numbers as serial)
    res = validation.run_case(landscape, noise, settings=settings, radius=radius, center=center,
                              comm=comm if comm.size > 1 else None, progress=progress)
    params = {**model.describe(landscape, noise), "radius": radius, "center": list(center),
              "settings": settings.as_dict(), "quick": bool(args.quick), "ranks": comm.size}
    rep = Report(f"Validation: {name} (T = {noise.T:g})", params)
    checks = validation.add_case_to_report(rep, res)
    rep.figure("validation.png", "|θ1| marginals of FEM, MC twins and closed forms; "
               "per-bin z-scores of MC against FEM on (|θ1|, |θ2|)")
    with io.atomic_output_dir(out, comm if comm.size > 1 else None, "validate", args.overwrite) as tmp:
        if rank == 0:
            validation.plot_case(res, tmp / "validation.png")
            rep.write(tmp)
            io.write_json(tmp / "case.json", validation.case_json(res))
    return finish(checks, out, progress, rank)


def finish(checks: dict, out: Path, progress, rank: int) -> int:
    """Say how many checks agree, print the folder; exit status 0 or 1."""
    failed = [k for k, v in checks.items() if not v.agree]
    progress(f"{len(checks) - len(failed)} of {len(checks)} checks agree"
             + (f"; differ: {', '.join(failed)}" if failed else ""))
    if rank == 0:
        print(out)
    return 1 if failed else 0


def validate_model(args, user_model, radius: float, center: tuple, comm, name: str, out: Path) -> int:
    """Any model (docs/model.md §7): FEM vs SDE twin vs the exact density where it applies,
    into the claimed folder ``out`` of case ``name``."""
    from fpsolve.validation import models as validation_model

    settings = validation_model.QUICK if args.quick else validation_model.FULL
    overrides = {k: v for k, v in (("walkers", args.walkers), ("dt", args.dt), ("seed", args.seed))
                 if v is not None}
    settings = dataclasses.replace(settings, **overrides)
    _signals.import_fem_stack()  # Ctrl-C during DOLFINx 0.9's import would abort (exit -6)
    rank = comm.rank
    progress = cli.Progress("validate.py", enabled=rank == 0)
    progress(f"case {name}: {user_model.describe()}, {'quick' if args.quick else 'full'} settings")
    res = validation_model.run_model(user_model, settings=settings, radius=radius, center=center,
                                     comm=comm if comm.size > 1 else None, progress=progress)
    rep = Report(f"Validation: {user_model.describe()}", {"model": user_model.as_dict(), "radius": radius,
                                                          "center": list(center), "settings": settings.as_dict(),
                                                          "quick": bool(args.quick), "ranks": comm.size})
    checks = validation_model.add_model_to_report(rep, res)
    with io.atomic_output_dir(out, comm if comm.size > 1 else None, "validate", args.overwrite) as tmp:
        if rank == 0:
            rep.write(tmp)
            io.write_json(tmp / "case.json", res)
    return finish(checks, out, progress, rank)

