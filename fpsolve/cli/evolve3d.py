"""``evolve_fp.py`` in three variables (docs/model.md §8, §9; issue 19): the valley with
``--fast-directions 2`` or a ``--loss`` in theta1, theta2, theta3.

Reached from :func:`fpsolve.cli.evolve.main` when the options make the model
3-D (:func:`fpsolve.cli.solve3d.is_three_dimensional`).  Every input is
checked before anything is written (exit 2, one line: a ``--start`` or
``--start-width`` of other than three numbers, a start outside the ball,
m = 3, an option of the 2-D run only, a bad schedule as in 2-D); a training
schedule (``--schedule``/``--schedule-param``/``--alpha-schedule``/
``--Delta-schedule``, docs/model.md §10) is parsed by the 2-D run's
:func:`fpsolve.cli.common.schedule_from_args` and named in the folder by
:func:`fpsolve.cli.common.run_tag`; the result folder is claimed before
the run and written atomically at ``--out`` or
``results/<case>/evolve-N3`` (``<case>`` as solve_fp.py's 3-D folder, so
that ``results/<case>/`` holds fem-N3 and evolve-N3 side by side):
summary.json, evolution.csv, evolution.png and density.xdmf/.h5 (no
animation in 3-D).
"""

from __future__ import annotations

import argparse
from typing import Sequence

from fpsolve.cli import common as cli
from fpsolve.cli import solve3d as cli3d
from fpsolve.tools import io

#: The tool name of 3-D transient results (the marker of their folder).
TOOL = "evolve-N3"


def _two_d_only(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse, in one line, the options of the 2-D run the 3-D one does not have
    (``--seed``/``--mc-dt`` belong to ``--compare-mc``: refused when set)."""
    given = [opt for opt, on in (("--mesh", args.mesh is not None),
                                 ("--compare-mc", args.compare_mc is not None),
                                 ("--seed", args.seed != parser.get_default("seed")),
                                 ("--mc-dt", args.mc_dt != parser.get_default("mc_dt")),
                                 ("--noise-covariance", args.noise_covariance is not None)) if on]
    if given:
        raise cli.UsageError(f"{', '.join(given)} not yet supported in 3-D (evolve_fp.py on the ball: a Gaussian "
                             "start, --wall, --tol/--dt, --h-min/--h-max, the schedule options)")


def main(args: argparse.Namespace, parser: cli.Parser, argv: Sequence[str] | None, wall: float,
         start: Sequence[float] | None) -> int:
    """The 3-D transient of :mod:`fpsolve.cli.evolve`'s parsed options (its
    ``--tol``/``--dt`` checked there; ``start``: ``--start``, None when not
    given, the origin): checks, claim, run, outputs."""
    from mpi4py import MPI

    cli3d.check_dimension(args)
    _two_d_only(args, parser)
    radius, center = cli3d.ball_from_args(args)
    case, level, noise_model, name, describe = cli3d.case_from_args(args, radius, center)
    lib_args: tuple = (case,) if level is None else (case, level)
    lib_kw: dict = {} if level is None else {"noise": noise_model}
    T, alpha = (case.T, case.alpha) if level is None else (level.T, level.alpha)
    from fpsolve.fem import ball, diagnostics, stationary3d, transient3d
    from fpsolve.fem.model_mesh import DEFAULT_MAX_DOFS
    from fpsolve.fem.transient import check_t_end

    start = transient3d.check_start((0.0, 0.0, 0.0) if start is None else start, radius, center, "--start")
    transient3d.check_start_width(args.start_width, radius, "--start-width")
    check_t_end(args.t_end, alpha, "--t-end")
    # every size option, and the dofs and memory of the ball, before anything is written
    sizes = stationary3d.ball_sizes(case, T, radius, center, args.h_min, args.h_max, noise=lib_kw.get("noise", "sgd"))
    stationary3d.check_budget(ball.predicted_dofs(sizes, args.degree), DEFAULT_MAX_DOFS,
                              stationary3d.sizes_source(sizes), MPI.COMM_WORLD.size, option=None)
    schedule = cli.schedule_from_args(args, case, args.t_end, radius, center, noise=level)  # as in 2-D
    comm = MPI.COMM_WORLD
    progress = cli.Progress("evolve_fp.py", enabled=comm.rank == 0)
    folder = cli.case_folder_name(name, args, parser)
    out = io.claim_output(args.out or io.default_out(folder, TOOL), TOOL, args.overwrite, comm)
    from fpsolve.plots import dynamics as plotting
    from fpsolve.tools import signals as _signals

    _signals.import_fem_stack()
    progress(f"case {folder}: {describe}, P{args.degree}, {args.wall} wall, ball R={radius:g} about "
             f"({', '.join(f'{c:g}' for c in center)}), {comm.size} rank(s)")
    bar, on_time = cli.time_bar(args.t_end, comm.rank == 0 and not args.no_progress)
    with io.atomic_output_dir(out, comm, TOOL, args.overwrite) as tmp:
        try:
            run = transient3d.evolve_case(
                *lib_args, **lib_kw, start=start, start_width=args.start_width, t_end=args.t_end,
                wall=args.wall, tol=args.tol, dt=args.dt, radius=radius, center=center, degree=args.degree,
                h_min=args.h_min, h_max=args.h_max, comm=comm, xdmf_path=str(tmp / "density.xdmf"),
                progress=progress, on_time=on_time, schedule=schedule)
        finally:  # on Ctrl-C or an error too: else tqdm redraws the bar after the one error line
            if bar is not None:
                bar.close()
        if comm.rank == 0:
            s = run.summary
            title = (f"{folder}: {describe}, start {tuple(start)}, {args.wall} wall; decay rate "
                     f"{s['decay_rate_fit']:.4g} (λ0 {s['escape_rate_eigen']:.4g}); {s['dofs']} dofs")
            if schedule is not None:
                title += f"; schedule {schedule.describe()}"
                s["schedule"] = schedule.as_dict()
            io.write_text_atomic(tmp / "evolution.csv", transient3d.csv_text(run.evolution, alpha, schedule))
            cols = {k: run.evolution.column(k)
                    for k in ("t", *transient3d.COLUMNS, *(("T",) if schedule is not None else ()))}
            plotting.plot_evolution(tmp / "evolution.png", cols, title, panels=plotting.PANELS_3D)
            s.update(cli.run_record(argv, args, wall))
            io.write_json(tmp / "summary.json", s)
        progress("outputs written")
    diagnostics.report(run.summary["warnings"], "evolve_fp.py", enabled=comm.rank == 0)
    if comm.rank == 0:
        s = run.summary
        f = s["final"]
        print(f"{s['steps']} steps, {s['dofs']} dofs, S(t_end) = {s['survival_final']:.6g}; late-time decay rate "
              f"{s['decay_rate_fit']:.6g} vs lambda0 {s['escape_rate_eigen']:.6g} (eigen-solve); at t_end "
              f"mean|theta1| {f['mean_abs_theta1']:.6g}, Var theta2 {f['var_theta2']:.6g}, "
              f"Var theta3 {f['var_theta3']:.6g}")
        print(f"results written to {out}")
    return 0
