"""Strong and weak scaling of the 3-D stationary solve, and the shift-and-invert's
linear solvers side by side (issue 19; docs/numerics.md, *Scaling*).

One **run** (:func:`run`) is the 3-D pipeline of
:func:`fpsolve.fem.stationary3d.solve` on one communicator, timed stage by
stage: the tetrahedral ball (gmsh on rank 0, then distributed), the
assembly of K and M, the principal eigenpair by shift-and-invert with one
named linear solver of :data:`SOLVERS`, and the moments.  Its row: dofs,
owned dofs per rank, the seconds of each stage and of the whole run (from
the first barrier before meshing to the last after the moments), the
shift-and-invert KSP's solves and Krylov iterations
(:func:`fpsolve.fem.linalg.count_linear_iterations`), the eigenpair's
residual, λ0, the moments, the PETSc options in effect and the peak
resident memory of every rank (``ru_maxrss``, gathered to rank 0).

:func:`launch` runs one run in a fresh ``mpirun -n p`` (so that every row's
peak memory is its own and the rank count is real); ``python -m
fpsolve.validation.scaling SPEC`` is that process's entry point.  The
CLI (:mod:`fpsolve.cli.bench_scaling`) orchestrates the strong series (one
mesh, 1..P ranks), the weak series (``h_min`` shrunk as p^(-1/3), about
the same dofs per rank) and the solver comparison.

Cases: ``valley``, the m = 2 valley at T = 0.05 (α = 0.05, Δ = 1, full D,
absorbing wall, the graded ball of radius 2 of ``solve_fp.py
--fast-directions 2``: non-symmetric, anisotropic, the hard case); ``ou``,
the isotropic Ornstein-Uhlenbeck process of tests/test_fem3d.py (k = 1,
T = 0.1, reflecting ball of radius 1.5: the easy case).  Times in seconds,
memory in MB (Linux ``ru_maxrss`` is kB).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Dict, Sequence

from fpsolve.fem import ball, ndmoments, nvalley_forms, solve3d, stationary3d
from fpsolve.fem.eigenproblem import solve_operator
from fpsolve.fem.operator import Operator
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise

#: The shift-and-invert's linear solvers compared (keys without the ``fpsolve_eig_`` prefix).
#: Each iterative one asks the same tolerances as :data:`fpsolve.fem.solve3d.ITERATIVE_OPTIONS`
#: (relative residual 1e-9 per solve, eps_tol 1e-9).
_KRYLOV = {"st_ksp_rtol": 1e-9, "st_ksp_max_it": 5000, "eps_tol": 1e-9}
SOLVERS: Dict[str, Dict[str, Any]] = {
    "mumps": dict(solve3d.DIRECT_OPTIONS),
    "gmres-gamg": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_pc_type": "gamg", **_KRYLOV},
    "bcgs-hypre": {"st_ksp_type": "bcgs", "st_pc_type": "hypre", "st_pc_hypre_type": "boomeramg", **_KRYLOV},
    "gmres-hypre": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_pc_type": "hypre",
                    "st_pc_hypre_type": "boomeramg", **_KRYLOV},
    "gmres-asm-ilu": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_pc_type": "asm",
                      "st_sub_pc_type": "ilu", **_KRYLOV},
    "gmres-asm-lu": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_pc_type": "asm",
                     "st_sub_pc_type": "lu", **_KRYLOV},
    # the shift moved off the (nearly) singular K: fpsolve.fem.solve3d.ITERATIVE_SHIFT (-0.01)
    "gmres-ilu-shifted": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_ksp_pc_side": "right",
                          "st_pc_type": "asm", "st_sub_pc_type": "ilu", "eps_target": -0.01, "st_shift": -0.01,
                          **_KRYLOV},
    "gmres-gamg-shifted": {"st_ksp_type": "gmres", "st_ksp_gmres_restart": 100, "st_ksp_pc_side": "right",
                           "st_pc_type": "gamg", "eps_target": -0.01, "st_shift": -0.01, **_KRYLOV},
}


def default_iterative() -> str | None:
    """The key of :data:`SOLVERS` whose options are
    :data:`fpsolve.fem.solve3d.ITERATIVE_OPTIONS` (None if none is)."""
    return next((k for k, v in SOLVERS.items() if v == solve3d.ITERATIVE_OPTIONS), None)


CASES = ("valley", "ou")
#: The line a failed run writes on stderr before it ends every rank (:func:`launch` reports it).
ERROR_TAG = "scaling-run-error:"
#: Moments compared between rank counts (and reported).
MOMENTS = ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "var_theta2", "var_theta3")


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def check_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``spec`` with its defaults: ``case`` (one of :data:`CASES`), ``h``
    (the ball's finest size, > 0), ``solver`` (a key of :data:`SOLVERS`),
    ``scale`` (default 1: every size of the ball's size field, h_min, h_max
    and the growth slope, times this; the weak series' meshes: dofs about
    ∝ scale⁻³).  Raises ValueError naming a bad value."""
    case, solver, h = spec.get("case", "valley"), spec.get("solver", "mumps"), spec.get("h")
    scale = spec.get("scale", 1.0)
    if not isinstance(scale, (int, float)) or not (0.01 < float(scale) <= 100):
        raise ValueError(f"scale must be a number in (0.01, 100] (got {scale!r})")
    if case not in CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)} (got {case!r})")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)} (got {solver!r})")
    if not isinstance(h, (int, float)) or not (0 < float(h) < 10):
        raise ValueError(f"h must be a number in (0, 10) (got {h!r})")
    return {**spec, "case": case, "solver": solver, "h": float(h), "scale": float(scale)}


def _operator(case: str, h: float, comm: Any, scale: float = 1.0) -> tuple:
    """(operator, mesh description, mesh seconds) of ``case`` with finest size
    ``h``, the whole size field then times ``scale``."""
    import ufl
    from dolfinx import fem
    from petsc4py import PETSc


    if case == "valley":
        valley, noise = NValley.from_preset("double-well", fast_directions=2), Noise(0.05, 1.0)
        sizes = _scaled(stationary3d.ball_sizes(valley, noise.T, 2.0, (0.0, 0.0, 0.0), h_min=h), scale)
        msh, info, seconds = ball.create_ball(sizes, comm)
        drift, D, divD, _ = nvalley_forms.nvalley_coefficients(msh, valley, noise.T, "sgd")
        return Operator.build(msh, drift, D, divD, degree=2, wall="absorbing"), info, seconds
    radius = 1.5  # tests/test_fem3d.py's ou_operator
    sizes = _scaled(ball.BallSizes(radius, (0.0, 0.0, 0.0), h, radius / 4, (((0.0, 0.0, 0.0), (0.8, 0.8)),)), scale)
    msh, info, seconds = ball.create_ball(sizes, comm)
    x = ufl.SpatialCoordinate(msh)
    k, T = (fem.Constant(msh, PETSc.ScalarType(v)) for v in (1.0, 0.1))
    zero = ufl.as_vector((0.0, 0.0, 0.0))
    return Operator.build(msh, -k * x, 0.5 * T * ufl.Identity(3), zero, degree=2, wall="reflecting"), info, seconds


def _scaled(sizes: Any, scale: float) -> Any:
    """``sizes`` (a :class:`fpsolve.fem.ball.BallSizes`) with h_min, h_max and growth times ``scale``."""
    import dataclasses

    if scale == 1.0:
        return sizes
    return dataclasses.replace(sizes, h_min=sizes.h_min * scale, h_max=sizes.h_max * scale,
                               growth=sizes.growth * scale)


def run(spec: Dict[str, Any], comm: Any = None) -> Dict[str, Any]:
    """One timed 3-D solve on ``comm`` (default COMM_WORLD) of the ``spec``
    of :func:`check_spec`; returns the row (the same dict on every rank):
    spec, ``ranks``, ``dofs``, ``dofs_per_rank`` (owned, list of ranks),
    ``mesh_seconds``, ``assemble_seconds``, ``solve_seconds`` (eigen-solve),
    ``moments_seconds``, ``run_seconds`` (all of them, between barriers),
    ``linear`` (the shift-and-invert KSP's record), ``options_in_effect``,
    ``lambda0``, ``eigen_residual``, the :data:`MOMENTS`, ``negative_mass``,
    ``peak_memory_mb`` (per rank) and ``load_average`` (1-minute, before
    and after).  Collective."""
    from mpi4py import MPI


    comm = MPI.COMM_WORLD if comm is None else comm
    spec = check_spec(spec)
    load_before = os.getloadavg()[0]
    comm.Barrier()
    t0 = time.perf_counter()
    op, mesh_info, _ = _operator(spec["case"], spec["h"], comm, spec["scale"])
    comm.Barrier()
    t_mesh = time.perf_counter() - t0
    sol, timings = solve_operator(op, petsc_options=dict(SOLVERS[spec["solver"]]))
    comm.Barrier()
    t1 = time.perf_counter()
    mom = ndmoments.coordinate_moments(sol.density, op.quadrature_degree + 2)
    comm.Barrier()
    t_end = time.perf_counter()
    owned = comm.gather(op.V.dofmap.index_map.size_local, root=0)
    memory = comm.gather(peak_memory_mb(), root=0)
    row = {**spec, "ranks": comm.size, "dofs": op.dofs, "cells": mesh_info["cells"], "dofs_per_rank": owned,
           "mesh_seconds": t_mesh, "assemble_seconds": timings["assemble_seconds"],
           "solve_seconds": timings["solve_seconds"], "moments_seconds": t_end - t1, "run_seconds": t_end - t0,
           "linear": dict(sol.info.get("st_ksp", {})), "options_in_effect": sol.info.get("options_in_effect"),
           "petsc_options": sol.info.get("petsc_options"),
           "lambda0": sol.eigenvalue.real, "eigen_residual": sol.info["residual"],
           **{k: mom[k] for k in MOMENTS}, "negative_mass": mom["negative_mass"],
           "peak_memory_mb": memory, "load_average": [load_before, os.getloadavg()[0]]}
    return comm.bcast(row, root=0)


def mpi_environment(base: Dict[str, str] | None = None) -> Dict[str, str]:
    """The environment of an ``mpirun`` child: ``base`` (default this
    process's) without the variables of an MPI process (``OMPI_*``, ``PMIX_*``,
    ``PRTE_*``, ``OPAL_*``, which would make a nested launch join its parent), plus Open MPI's
    permission to run as root and to oversubscribe (as in the Makefile) and
    one thread per rank for BLAS/OpenMP."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(("OMPI_", "PMIX_", "PRTE_", "OPAL_"))}
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                "OMPI_MCA_rmaps_base_oversubscribe": "1",
                "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe"})
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, "1")
    return env


def launch_command(spec: Dict[str, Any], ranks: int, bind: str = "none") -> list:
    """The argv of one run under ``mpirun -n ranks`` (``--bind-to bind``)."""
    return ["mpirun", "-n", str(int(ranks)), "--bind-to", bind, sys.executable, "-m", "mpi4py",
            "-m", "fpsolve.validation.scaling", json.dumps(spec)]


def launch(spec: Dict[str, Any], ranks: int, *, bind: str = "none", timeout: float = 1800.0) -> Dict[str, Any]:
    """:func:`run` in a fresh ``mpirun -n ranks`` process group; its row
    plus ``process_seconds`` (the launch's wall time: MPI start-up, imports,
    the run) and the ``mpirun`` command.  Raises RuntimeError with the
    child's last line when it fails or outlives ``timeout`` seconds."""
    spec = check_spec(spec)
    argv = launch_command(spec, ranks, bind)
    t0 = time.perf_counter()
    try:
        res = subprocess.run(argv, capture_output=True, text=True, env=mpi_environment(), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the run {spec} on {ranks} rank(s) took more than {timeout:g} s") from None
    seconds = time.perf_counter() - t0
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        said = [ln[len(ERROR_TAG):].strip() for ln in res.stderr.splitlines() if ln.startswith(ERROR_TAG)]
        last = (said or res.stderr.strip().splitlines() or res.stdout.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the run {spec} on {ranks} rank(s) failed (exit {res.returncode}): {last}")
    row = json.loads(lines[-1])
    row["process_seconds"] = seconds
    row["command"] = " ".join(argv[:5] + ["python -m mpi4py -m fpsolve.validation.scaling", "SPEC"])
    return row


def efficiency(rows: Sequence[Dict[str, Any]], kind: str, key: str = "run_seconds") -> list:
    """Parallel efficiency of ``key`` per row against the row of fewest
    ranks: strong ``t1 p1 / (tp p)``, weak ``(t1 / dofs1) / (tp / dofs_p)``
    (time per dof per rank held: the weak meshes' dofs per rank are only
    about equal)."""
    base = min(rows, key=lambda r: r["ranks"])
    out = []
    for r in rows:
        if kind == "strong":
            out.append(base[key] * base["ranks"] / (r[key] * r["ranks"]))
        else:
            out.append((base[key] / (base["dofs"] / base["ranks"])) / (r[key] / (r["dofs"] / r["ranks"])))
    return out


def agreement(rows: Sequence[Dict[str, Any]]) -> float:
    """Largest relative difference of λ0 and the :data:`MOMENTS` between
    ``rows`` (the same mesh on different rank counts) and the first."""
    base = rows[0]
    worst = 0.0
    for r in rows[1:]:
        for k in ("lambda0",) + MOMENTS:
            worst = max(worst, abs(r[k] - base[k]) / max(abs(base[k]), 1e-300))
    return worst


if __name__ == "__main__":  # one run under mpirun: python -m mpi4py -m fpsolve.validation.scaling SPEC
    import logging

    from mpi4py import MPI

    logging.getLogger().setLevel(logging.WARNING)
    try:
        result = run(json.loads(sys.argv[1]))
    except Exception as exc:  # a solver that diverges: one line for launch(), every rank ended
        sys.stderr.write(f"{ERROR_TAG} {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps(result), flush=True)
