"""Three-way validation of one case: FEM vs closed forms vs Monte Carlo.

Solves the Fokker-Planck equation (with and without cross-diffusion), runs
the stochastic twin of each variant, evaluates the closed forms, and writes
a report folder: ``report.md`` (a table per quantity: FEM, closed form,
MC ± error, verdict), ``report.json`` and ``validation.png``.

    python scripts/validate.py [model options] [--quick] [--out DIR]

In N dimensions (docs/model.md §9): ``--fast-directions m`` checks the
valley's closed forms (mean and std of |x|, Var y_i, the search time)
against N-dimensional SDE twins, and a ``--loss`` in theta1 ... thetaN
(N > 2) checks the Monte Carlo against an exact reference (a quadratic
loss: its exact covariance; isotropic noise with N <= 4: the Gibbs density
by quadrature); both write ``report.md``, ``report.json`` and ``summary.json``.

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
from fpsolve.model.expression import count_variables
from fpsolve.validation.report import Report


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.Parser(prog="validate.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser, fast_directions=True)
    cli.add_expression_arguments(parser)
    cli.add_domain_arguments(parser)
    parser.add_argument("--quick", action="store_true",
                        help="fewer walkers and shorter runs (under 2 minutes on 2 cores)")
    parser.add_argument("--walkers", type=int, default=None, help="Monte Carlo walkers per variant")
    parser.add_argument("--dt", type=float, default=None, help="Euler-Maruyama step (time units)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the Monte Carlo")
    cli.add_fast_direction_arguments(parser)
    cli.add_output_arguments(parser, "results/<case-name>/validate")
    args = parser.parse_args(argv)
    if args.fast_directions is not None or (args.loss is not None and count_variables(args.loss) > 2):
        return validate_n(args, parser)
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



def _check_n_input(args, noise: model.Noise, n: int, radius: float, settings) -> None:
    """The rules of an N-dimensional validation: walkers, dt, seed, and the
    memory of its largest run (the predicted figure in the message)."""
    if args.walkers is not None and args.walkers < 8:
        raise cli.UsageError(f"--walkers must be an integer >= 8 (got {args.walkers})")
    if args.dt is not None and not (args.dt > 0 and args.dt < 1):
        raise cli.UsageError(f"--dt must lie in (0, 1) (got {args.dt!r})")
    if args.seed is not None:
        mc_plan.check_seed(args.seed, "--seed", mc_plan.DERIVED_SEED_LIMIT)
    if n > mc_plan.MAX_DIMENSION:
        raise cli.UsageError(f"N = {n} is beyond the {mc_plan.MAX_DIMENSION} dimensions a run takes")
    walkers = args.walkers or max(settings.walkers, settings.search_walkers)
    plan = mc_plan.check_run(noise, method="sde", walkers=walkers, time=settings.max_time, dt=args.dt or settings.dt,
                             radius=radius)
    mc_plan.check_memory(plan, walkers, (400, 1), threads=mc_plan.max_threads(),
                         bytes_per_walker=mc_plan.bytes_per_walker_n(n), what=f" in N = {n} dimensions")


def validate_n(args, parser) -> int:
    """N dimensions (docs/model.md §9): the valley's closed forms, or an
    N-variable model's exact reference, against the Monte Carlo."""
    import math

    from fpsolve.validation import nreference as nval  # no kernels: the checks first

    radius, center = cli.domain_from_args(args)
    if tuple(center) != (0.0, 0.0):
        raise cli.UsageError(f"in N dimensions the ball of --radius is centred at 0 (got --center {center[0]:g} {center[1]:g})")
    settings = nval.QUICK if args.quick else nval.FULL
    if args.fast_directions is not None:
        m = args.fast_directions
        if m < 1:
            raise cli.UsageError(f"--fast-directions must be >= 1 (got {m})")
        for flag, given in (("--loss", args.loss is not None), ("--param", bool(args.param)),
                            ("--noise", args.noise is not None),
                            ("--noise-covariance", args.noise_covariance is not None)):
            if given:
                raise cli.UsageError(f"--fast-directions does not take {flag} (the valley of docs/model.md §9 "
                                     "with sgd noise; both noise variants are run)")
        if m + 1 > mc_plan.MAX_DIMENSION:
            raise cli.UsageError(f"--fast-directions {m}: N = {m + 1} is beyond the {mc_plan.MAX_DIMENSION} "
                                 "dimensions a run takes")
        noise = cli.noise_from_args(args)
        noise.require_positive_T()
        _check_n_input(args, noise, m + 1, radius, settings)
        valley = cli.nvalley_from_args(args, radius)
        name = cli.case_folder_name(cli.nvalley_case_name(valley, noise), args)
        title = f"Validation: valley, m = {m} fast directions ({valley.name}), T = {noise.T:g}"
    else:
        user_model = cli.user_model_from_args(args)
        n = user_model.n_variables
        user_model.check_formulas(radius, [0.0] * n)
        mc_plan.check_bounded_below(user_model, math.inf)
        user_model.noise_level.require_positive_T()
        nval.reference_kind(user_model, radius)
        _check_n_input(args, user_model.noise_level, n, radius, settings)
        name = cli.case_folder_name(user_model.case_name(), args)
        title = f"Validation: N = {n}, {user_model.describe()}"
    overrides = {k: v for k, v in (("walkers", args.walkers), ("dt", args.dt), ("seed", args.seed)) if v is not None}
    settings = dataclasses.replace(settings, **overrides)

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.rank
    out = io.claim_output(args.out or io.default_out(name, "validate"), "validate", args.overwrite, comm)
    from fpsolve.validation import nvalley as nrun  # the kernels and the FEM stack, after every check

    progress = cli.Progress("validate.py", enabled=rank == 0)
    progress(f"case {name}: {'quick' if args.quick else 'full'} settings")
    run_comm = comm if comm.size > 1 else None
    if args.fast_directions is not None:
        res = nrun.run_nvalley(valley, noise, settings=settings, radius=radius, comm=run_comm, progress=progress)
        rep = Report(title, {"valley": valley.as_dict(), "noise": noise.as_dict(), "radius": radius,
                             "settings": settings.as_dict(), "quick": bool(args.quick), "ranks": comm.size})
        checks = nrun.add_nvalley_to_report(rep, res)
    else:
        res = nrun.run_nmodel(user_model, settings=settings, radius=radius, comm=run_comm, progress=progress)
        rep = Report(title, {"model": user_model.as_dict(), "radius": radius, "settings": settings.as_dict(),
                             "quick": bool(args.quick), "ranks": comm.size})
        checks = nrun.add_nmodel_to_report(rep, res)
    res["checks"] = {k: v.as_dict() for k, v in checks.items()}
    with io.atomic_output_dir(out, run_comm, "validate", args.overwrite) as tmp:
        if rank == 0:
            rep.write(tmp)
            io.write_json(tmp / "summary.json", res)
    return finish(checks, out, progress, rank)
