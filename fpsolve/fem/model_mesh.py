"""The mesh of a model: sizes from its widths, the disk, the dof budget.

The valley (docs/model.md §1) gets the graded disk of :mod:`fpsolve.fem.mesh`;
any other model (§7) a uniform disk of size ``h_min`` (default R/40), or the
adaptive loop where no size is given (:mod:`fpsolve.fem.adapt`).  A predicted
size above the dof budget is refused before any meshing.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Tuple

from fpsolve.fem import mesh as fmesh
from fpsolve.model import symmetry as model_symmetry
from fpsolve.model.valley import ModelError


#: The dof budget by default: it fits a 24 GiB machine (MUMPS LU of a P2
#: operator at 2e6 dofs needs about 4 GB).
DEFAULT_MAX_DOFS = 2_000_000

MESH_RULES = ("graded", "adaptive")


def model_mesh_sizes(model: Any, radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
                     h_min: float | None = None, h_max: float | None = None) -> fmesh.MeshSizes:
    """Mesh sizes of a :class:`~fpsolve.model.expression.Model`: the graded mesh of
    the valley when the model is one (docs/model.md §1), else a uniform disk of
    size ``h_min`` (default radius/40; ``h_max`` is then refused)."""
    if model.valley is not None:
        return fmesh.graded_sizes(model.valley, model.noise_level, radius, center, h_min, h_max)
    if h_max is not None:
        raise ModelError("--h-max applies to the graded mesh of the valley presets; a custom model's mesh is "
                         "uniform (set its size with --h-min)")
    model.noise_level.require_positive_T()
    sizes = fmesh.uniform_sizes(radius, center, h_min)
    return dataclasses.replace(sizes, symmetry=mesh_symmetry(model, center, radius))


def mesh_symmetry(model: Any, center: Tuple[float, float] = (0.0, 0.0), radius: float = 2.0) -> str:
    """The symmetry a generated disk keeps for ``model``
    (:class:`fpsolve.fem.mesh.MeshSizes`), from the model's symmetries on
    this disk (:func:`fpsolve.model.symmetry.find`) in the order of
    preference θ1 → −θ1 (``"mirror"``, the disk as before), θ → −θ
    (``"point"``: the two-layer nets), θ2 → −θ2, swap, anti-swap;
    ``"mirror"`` when it has none of them."""
    names = model_symmetry.find(model, center, radius).names
    for name, kind in MESH_PREFERENCE:
        if name in names:
            return kind
    return "mirror"


#: (model symmetry, mesh symmetry) in the order :func:`mesh_symmetry` prefers them.
MESH_PREFERENCE = (("mirror-theta1", "mirror"), ("point", "point"), ("mirror-theta2", "mirror-theta2"),
                   ("swap", "swap"), ("anti-swap", "anti-swap"))


def model_mesh(model: Any, *, radius: float, center: Tuple[float, float], mesh: str | Path | None,
               h_min: float | None, h_max: float | None, comm: Any) -> Tuple[Any, dict, float]:
    """(mesh, description, seconds) for a custom Model: the disk of
    :func:`model_mesh_sizes` (one mesh, no adaptivity), or ``mesh`` read from
    a .msh file.  Collective; raises ModelError on bad sizes."""
    if mesh is not None:
        return fmesh.mesh_for(None, None, radius=radius, center=center, mesh=mesh, h_min=None, h_max=None,
                              comm=comm)
    t0 = time.perf_counter()
    sizes = model_mesh_sizes(model, radius, center, h_min, h_max)
    msh, _ = fmesh.create_disk(sizes, comm)
    info = {"source": "gmsh", **sizes.as_dict(),
            "cells": comm.allreduce(msh.topology.index_map(2).size_local, op=fmesh._sum())}
    return msh, info, time.perf_counter() - t0


def default_mesh_rule(model: Any, h_min: float | None = None) -> str:
    """``graded`` for the valley (its widths are known, and the graded mesh is
    faster there to the same accuracy: scripts/bench_solver.py --adaptive)
    and for a custom model given ``--h-min`` (its uniform disk); ``adaptive``
    for any other custom model (no closed-form widths)."""

    return "adaptive" if model.valley is None and h_min is None else "graded"


def check_budget(sizes: fmesh.MeshSizes, degree: int, max_dofs: int) -> int:
    """Predicted dofs of the mesh of ``sizes`` (:func:`fpsolve.fem.mesh.predicted_cells`,
    before any meshing); raises ModelError, one line naming the numbers, when
    above ``max_dofs``."""
    dofs = fmesh.predicted_dofs(fmesh.predicted_cells(sizes), degree)
    if dofs > max_dofs:
        raise ModelError(f"the mesh would have about {dofs:.3g} dofs ({sizes.rule} rule, h-min {sizes.h_min:.3g}), "
                         f"above --max-dofs {max_dofs}: raise --max-dofs or use --mesh-rule adaptive")
    return dofs
