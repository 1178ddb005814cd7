"""Finite-element solve of the stationary Fokker-Planck equation (docs/model.md §4).

The weak form is :mod:`fpsolve.fem.forms`'s.  The solve returns the principal eigenpair ``a(φ0, v) = λ0 ∫ φ0 v`` with the
least real part: ``λ0`` is the escape rate per unit time (time unit = alpha
SGD steps, t = alpha k) and ``φ0 ≥ 0``, ``∫ φ0 = 1`` the quasi-stationary
density.  Dirichlet ``P = 0`` on ∂Ω (absorbing) is the default; a reflecting
(zero-flux) boundary is the natural condition of the same form, whose null
vector is the stationary density.

Discretisation: P2 (or P1) Lagrange, plain Galerkin on a mesh graded from
the model's widths (``fpsolve.fem.mesh``).  docs/numerics.md found SUPG no help; P1
fails at T = 0.01 (a negative lobe next to the peak), so P2 is the default.
Eigen-solve: SLEPc shift-and-invert at target 0 with a direct LU (MUMPS), or
inverse iteration with the same LU.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Tuple

from fpsolve import _compat
from fpsolve.fem import adapt, diagnostics
from fpsolve.fem import mesh as fmesh
from fpsolve.fem.eigenproblem import solve_operator
from fpsolve.fem.operator import Operator
from fpsolve.fem.forms import check_wall, case_coefficients, check_degree
from fpsolve.fem.linalg import OPTIONS_PREFIX
from fpsolve.fem.model_mesh import (
    check_budget, DEFAULT_MAX_DOFS, default_mesh_rule, MESH_RULES, mesh_symmetry, model_mesh_sizes)
from fpsolve.fem.solution import Solution
from fpsolve.fem.summary import StationarySummary
from fpsolve.model import symmetry as model_symmetry
from fpsolve.model.expression import as_model
from fpsolve.model.valley import ModelError, Noise
from fpsolve.tools import parallel


def solve(model: Any, noise: Noise | None = None, *, radius: float | None = None,
          center: Tuple[float, float] | None = None,
          degree: int = 2, cross: bool = True, wall: str = "absorbing", mesh: Any = None,
          h_min: float | None = None, h_max: float | None = None, comm: Any = None,
          progress: Callable[[str], None] | None = None, refine: float = 1.0,
          eigensolver: str = "slepc", mesh_rule: str | None = None, tol: float | None = None,
          max_dofs: int | None = None, options_prefix: str = OPTIONS_PREFIX,
          petsc_options: Dict[str, Any] | None = None, symmetrise: bool = True) -> Solution:
    """Quasi-stationary density of the model (docs/model.md §4) on the disk.

    ``model``: a :class:`~fpsolve.model.expression.Model` (docs/model.md §7; the
    preset is ``Model.preset(...)``), or a :class:`~fpsolve.model.valley.Landscape`
    with ``noise`` and ``cross`` (the valley of docs/model.md §1-3), converted once
    (:func:`~fpsolve.model.expression.as_model`).

    ``mesh_rule`` (default :func:`default_mesh_rule`): ``"graded"`` (one
    mesh: graded from the valley's widths, :mod:`fpsolve.fem.mesh`, or a custom
    model's uniform disk of size ``h_min``, default R/40; refused before
    meshing when its predicted size is above ``max_dofs``) or ``"adaptive"``
    (:mod:`fpsolve.fem.adapt`: refine from a coarse disk until the error
    estimate is below ``tol``, relative, or the next mesh would pass
    ``max_dofs``).  ``mesh`` takes precedence over both: any 2-D triangle
    mesh file meshio reads, or a ``meshfile.MeshData`` (:mod:`fpsolve.fem.meshfile`);
    its domain (``domain`` "disk" with the fitted ``radius``/``center``, or
    "mesh") comes from the file, so ``radius``/``center`` (θ units, default
    2 and (0, 0)) go with the generated disk only.  ``comm``: mpi4py
    communicator, default MPI.COMM_WORLD (:mod:`fpsolve.tools.parallel`); the call
    is collective and every rank gets the same Solution.  Needs T = α Δ > 0
    (:meth:`~fpsolve.model.valley.Noise.require_positive_T`).
    ``petsc_options`` / ``options_prefix`` reach the eigen-solve
    (:func:`principal_eigenpair`); ``symmetrise``: :func:`solve_operator`.

    ``Solution.summary`` (a :class:`~fpsolve.fem.summary.StationarySummary`:
    attributes, ``as_dict()`` for the file) holds what summary.json records: parameters, T,
    escape rates (eigenvalue and boundary flux, per unit time t = alpha k),
    mass, negativity, moments, mode, dofs, ranks, timings (seconds), the
    eigenpair residual and gap, ``warnings`` (:mod:`fpsolve.fem.diagnostics`),
    ``error_estimate`` (relative; adaptive: the extrapolated change between
    cycles, with ``adaptivity``, the cycles; one mesh: the residual estimate
    of the density's L1 error, :func:`fpsolve.fem.adapt.density_error_estimate`)
    and ``error_estimate_method``,
    ``symmetry`` (:func:`symmetry_summary`: the model's symmetries, those
    used, the hopping rate λ1 − λ0; a model with θ → −θ but not θ1 → −θ1
    gets a point-symmetric disk, :func:`~fpsolve.fem.model_mesh.mesh_symmetry`).
    Raises ModelError for bad values (one line naming them).
    """

    if mesh is not None and (radius is not None or center is not None):
        raise ModelError("radius and center describe the generated disk; a mesh file brings its own domain")
    radius, center = fmesh.check_disk(fmesh.DEFAULT_RADIUS if radius is None else radius,
                                      (0.0, 0.0) if center is None else center)
    comm = parallel.world(comm)
    say = progress or (lambda message: None)
    check_degree(degree)
    wall = check_wall(wall)
    model = as_model(model, noise, cross)
    mesh_rule = default_mesh_rule(model, h_min) if mesh_rule is None else mesh_rule
    if mesh_rule not in MESH_RULES:
        raise ModelError(f"mesh rule must be one of {', '.join(MESH_RULES)} (got {mesh_rule!r})")
    tol = adapt.DEFAULT_TOL if tol is None else tol
    max_dofs = DEFAULT_MAX_DOFS if max_dofs is None else max_dofs
    if not (math.isfinite(tol) and tol > 0):
        raise ModelError(f"tol must be a finite number > 0 (got {tol!r})")
    if not max_dofs > 0:
        raise ModelError(f"max-dofs must be > 0 (got {max_dofs!r})")
    t_wall = time.perf_counter()
    model.check_formulas(radius, center)
    noise, cross, landscape = model.noise_level, model.cross, model.valley
    noise.require_positive_T()
    model_symmetry.agree(model, comm)  # every rank tries the maps rank 0 found
    options = {"options_prefix": options_prefix, "petsc_options": petsc_options, "symmetrise": symmetrise}

    def coefficients(m: Any) -> Tuple[Any, Any, Any]:
        return case_coefficients(m, model)

    if mesh is None and mesh_rule == "adaptive":
        t0 = time.perf_counter()
        msh, sizes = fmesh.adaptive_start(radius, center, comm, mesh_symmetry(model, center, radius))
        t_mesh = time.perf_counter() - t0
        sol, record = adapt.solve_adaptive(msh, sizes, coefficients, degree=degree, wall=wall,
                                           eigensolver=eigensolver, tol=tol, max_dofs=max_dofs, progress=say,
                                           solver_options=options, model=model)
        timing = {k: sol.info[k] for k in ("assemble_seconds", "solve_seconds", "dofs")}
        mesh_info = {"source": "adaptive", "rule": "adaptive", "bounds": sizes.as_dict(),
                     "domain": "disk", "radius": radius, "center": list(center),
                     "cells": record["cycles"][-1]["cells"]}
        mom = {k: v for k, v in record["cycles"][-1]["moments"].items() if k != adapt.WATCHED_RATE}
    else:
        if mesh is None:
            sizes = model_mesh_sizes(model, radius, center, h_min, h_max)
            sizes = sizes.refined(refine) if refine != 1.0 else sizes
            dofs = check_budget(sizes, degree, max_dofs)
            _compat.import_gmsh()  # loading libgmsh and DOLFINx (0.1-0.4 s) is start-up, not meshing
            say(f"meshing ({sizes.rule}): about {dofs} dofs predicted")
            t_mesh = time.perf_counter()
            msh, _ = fmesh.create_disk(sizes, comm)
            mesh_info = {"source": "gmsh", "domain": "disk", **sizes.as_dict(), "refine": refine,
                         "center": list(sizes.center),
                         "cells": comm.allreduce(msh.topology.index_map(2).size_local, op=fmesh._sum())}
            t_mesh = time.perf_counter() - t_mesh
        else:
            msh, mesh_info, t_mesh = fmesh.mesh_for(None, None, radius=radius, center=center, mesh=mesh,
                                                    h_min=None, h_max=None, comm=comm)
        say(f"mesh: {mesh_info['cells']} triangles ({mesh_info['source']}) in {t_mesh:.2f}s")
        op = Operator.of_model(msh, model, degree=degree, wall=wall)
        sol, timing = solve_operator(op, eigensolver=eigensolver, progress=say, **options)
        mom = sol.moments()
        t0 = time.perf_counter()
        record = {"error_estimate": adapt.density_error_estimate(sol, op.drift, op.D, op.divD),
                  "error_estimate_method": adapt.RESIDUAL_ESTIMATE_METHOD,
                  "error_estimate_seconds": time.perf_counter() - t0}
        say(f"error estimate (L1 of the density, residual): {record['error_estimate']:.2g} "
            f"in {record['error_estimate_seconds']:.2f}s")
    t2 = time.perf_counter()
    neg = sol.negativity()
    mode = sol.mode_theta1()
    lam = sol.eigenvalue
    eigen = {k: v for k, v in sol.info.items()
             if k not in ("dofs", "degree", "wall", "assemble_seconds", "solve_seconds")}
    case = model.record()
    summary = StationarySummary({
        "case": case,
        "T": noise.T,
        "domain": mesh_info["domain"], "radius": mesh_info["radius"], "center": mesh_info["center"],
        "degree": degree, "cross_diffusion": cross,
        "wall": wall, "mesh": mesh_info, "mesh_rule": "file" if mesh is not None else mesh_rule,
        "escape_rate": lam.real,
        "escape_rate_imag": lam.imag,
        "escape_rate_flux": sol.boundary_escape_rate(),
        "escape_rate_flux_method": "weak-form residual against the wall's basis functions (solver.wall_flux)",
        "escape_rate_per_step": noise.alpha * lam.real,
        "eigen_residual": sol.info["residual"],
        "eigen_residual_relative_to_Kphi": sol.info["residual_relative_to_Kphi"],
        "eigen_gap": sol.info["gap"],
        **mom,
        **neg,
        "mode_theta1": mode,
        "flatness_at_mode": float(landscape.flatness(mode)) if landscape is not None else None,
        "dofs": timing["dofs"],
        "ranks": comm.size,
        "eigen": eigen,
        "mesh_seconds": t_mesh,
        "assemble_seconds": timing["assemble_seconds"],
        "solve_seconds": timing["solve_seconds"],
    })
    summary.symmetry = symmetry_summary(model, sol, mesh_info, mom, record)
    summary.error_estimate = record["error_estimate"]
    summary.error_estimate_method = record["error_estimate_method"]
    if "cycles" in record:
        summary.adaptivity = {k: v for k, v in record.items() if k != "warnings"}
        summary.adapt_seconds = sum(c["seconds"] for c in record["cycles"])
    else:
        summary.error_estimate_seconds = record["error_estimate_seconds"]
    summary.warnings = record.get("warnings", []) + diagnostics.warnings_for(summary)
    summary.postprocess_seconds = time.perf_counter() - t2
    summary.wall_seconds = time.perf_counter() - t_wall
    sol.summary = summary
    say(f"moments: mean|theta1| = {mom['mean_abs_theta1']:.6g}, std|theta1| = {mom['std_abs_theta1']:.6g}, "
        f"Var theta2 = {mom['var_theta2']:.6g}; min density {neg['min_density']:.3g}, "
        f"negative mass {neg['negative_mass']:.3g}")
    return sol


def symmetry_summary(model: Any, sol: Solution, mesh_info: dict, moments: dict, record: dict | None) -> dict:
    """summary.json's ``symmetry``: the model's symmetries on its domain
    (:func:`fpsolve.model.symmetry.find`), those the solve used (mesh and
    operator are their own images: ``used``), the means they make 0 with
    their computed values, and the hopping rate λ1 − λ0 with its trust flag
    (:func:`fpsolve.fem.eigenproblem.hopping_record`; the adaptive loop's
    check against the previous mesh where there is one)."""
    center = mesh_info.get("center") if mesh_info.get("domain") == "disk" else None
    report = model_symmetry.find(model) if center is None else model_symmetry.find(model, center, mesh_info["radius"])
    hop = sol.info.get("hopping")
    if record is not None and record.get("hopping") is not None:
        hop = record["hopping"]
    out = {"model": report.as_dict(), "domain_checked": center is not None,
           "mesh": mesh_info.get("symmetry", mesh_info.get("bounds", {}).get("symmetry")),
           "used": sol.info.get("symmetrised", []),
           "zero_by_symmetry": {k: moments.get(k) for k in sol.info.get("zero_by_symmetry", [])},
           "hopping": hop}
    out["hopping_rate"] = hop.get("rate") if hop else None
    out["hopping_rate_trusted"] = bool(hop and hop.get("trusted"))
    return out
