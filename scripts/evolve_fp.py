#!/usr/bin/env python3
"""The density of SGD in time: the transient Fokker-Planck equation (MODEL.md §8).

From a Gaussian start (``--start X Y``, ``--start-width W1 W2``; default a
narrow one, two local mesh sizes wide) to ``--t-end`` (time units, t = alpha k),
TR-BDF2 with adaptive steps (``--tol``) or fixed steps (``--dt``).  Writes,
into ``--out`` (default ``results/<case>/evolve``), atomically:

    evolution.csv   t, SGD steps, dt, survival S(t) = ∫P, E[L], E|θ1|, E θ1,
                    Var θ1, E θ2, Var θ2, E[F(θ1)]
    evolution.png   those against t (log axis)
    density.xdmf/.h5  the density at log-spaced times (ParaView)
    evolution.gif   an animation of the density
    summary.json    parameters, versions, steps, LU count, the late-time decay
                    rate of S(t) next to the eigen-solve's λ0, final moments

Runs under ``mpirun -n N python -m mpi4py``.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from fpsolve import cli, io


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="evolve_fp.py", description=__doc__.splitlines()[0])
    cli.add_model_arguments(parser)
    cli.add_domain_arguments(parser)
    g = parser.add_argument_group("transient (MODEL.md §8)")
    g.add_argument("--start", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                   help="centre of the Gaussian start density (default 0 0, the global minimum)")
    g.add_argument("--start-width", type=float, nargs=2, default=None, metavar=("W1", "W2"),
                   help="its standard deviations (default: two local mesh sizes)")
    g.add_argument("--t-end", type=float, default=200.0, help="final time, time units (default 200)")
    g.add_argument("--boundary", choices=("dirichlet", "reflecting"), default="dirichlet",
                   help="absorbing P=0 (default; S(t) decays at λ0) or reflecting (mass conserved)")
    steps = g.add_mutually_exclusive_group()
    steps.add_argument("--tol", type=float, default=1e-4,
                       help="local error tolerance of the adaptive steps (default 1e-4)")
    steps.add_argument("--dt", type=float, default=None, help="fixed time step instead of --tol")
    cli.add_mesh_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default results/<case>/evolve)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    wall = time.perf_counter()
    args = build_parser().parse_args(argv)
    landscape, noise = cli.model_from_args(args)
    radius, center = cli.domain_from_args(args)
    from fpsolve import dynamics

    dynamics.check_start(args.start, radius, center)
    for name, value in (("--t-end", args.t_end), ("--tol", args.tol), ("--dt", args.dt)):
        if value is not None and not (value == value and 0 < value < float("inf")):
            raise cli.UsageError(f"{name} must be a finite number > 0 (got {value!r})")
    if args.start_width is not None and not all(0 < w < float("inf") for w in args.start_width):
        raise cli.UsageError(f"--start-width must be two finite numbers > 0 (got {args.start_width!r})")
    cli.check_mesh_arguments(args, landscape, noise, radius, center)

    from fpsolve import _compat, plotting_dynamics

    comm = MPI.COMM_WORLD
    progress = cli.Progress("evolve_fp.py", enabled=comm.rank == 0)
    name = cli.case_name(landscape, noise) + ("" if not args.no_cross_diffusion else "_nocross")
    out = Path(args.out or Path("results") / name / "evolve")
    bar = None
    if comm.rank == 0 and not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=args.t_end, unit="t", file=sys.stderr, desc="evolving", mininterval=0.5,
                   bar_format="{l_bar}{bar}| t={n:.4g}/{total:g} [{elapsed}<{remaining}]")

    def on_time(t: float) -> None:
        if bar is not None:
            bar.update(t - bar.n)

    with io.atomic_output_dir(out, comm) as tmp:
        run = dynamics.evolve_case(
            landscape, noise, start=args.start, start_width=args.start_width, t_end=args.t_end,
            boundary=args.boundary, tol=args.tol, dt=args.dt, cross=not args.no_cross_diffusion,
            radius=radius, center=center, degree=args.degree, mesh=args.mesh, h_min=args.h_min,
            h_max=args.h_max, comm=comm, xdmf_path=str(tmp / "density.xdmf"), progress=progress,
            on_time=on_time)
        if bar is not None:
            bar.close()
        if comm.rank == 0:
            s = run.summary
            title = (f"{name}: T={noise.T:g}, start {tuple(args.start)}, {args.boundary} wall; "
                     f"decay rate {s['decay_rate_fit']:.4g} (λ0 {s['escape_rate_eigen']:.4g})")
            io.write_text_atomic(tmp / "evolution.csv", dynamics.csv_text(run.evolution, noise.alpha))
            cols = {k: run.evolution.column(k) for k in ("t", *dynamics.OBSERVABLES)}
            plotting_dynamics.plot_evolution(tmp / "evolution.png", cols, title)
            plotting_dynamics.write_gif(tmp / "evolution.gif", run.xs, run.ys, run.frame_times, run.frames, name)
            s["versions"] = io.versions()
            s["command"] = {"argv": list(argv) if argv is not None else sys.argv[1:], **vars(args)}
            s["wall_seconds"] = time.perf_counter() - wall
            io.write_json(tmp / "summary.json", s)
        progress("outputs written")
    if comm.rank == 0:
        s = run.summary
        print(f"{s['steps']} steps, S(t_end) = {s['survival_final']:.6g}; late-time decay rate "
              f"{s['decay_rate_fit']:.6g} vs lambda0 {s['escape_rate_eigen']:.6g} (eigen-solve)")
        print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    cli.main_guard(main)
