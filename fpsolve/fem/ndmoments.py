"""Moments of a density on a mesh of any dimension, by quadrature (docs/model.md §4, §9).

The 2-D :class:`~fpsolve.fem.solution.Solution` measures θ1 and θ2; in three
variables every coordinate θ1 … θN is measured the same way: the density and
the coordinates at the quadrature points of the owned cells (a rule exact to
the given degree on the mesh's reference cell), summed over ranks.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from fpsolve import _compat


def quadrature_samples(function: Any, degree: int, expression: Any = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(θ of shape (n, gdim), weights (n,), values (n,)) at the quadrature
    points (rule exact to ``degree``) of this rank's owned cells, so that
    ``Σ w f(θ) φ`` is ``∫ f φ`` on this rank.  ``function``: a scalar
    ``fem.Function`` on a triangle or tetrahedron mesh; ``expression``: the
    UFL density to sample instead (a weighted operator's ``w u``,
    :attr:`fpsolve.fem.solution.Solution.density_expression`)."""
    import ufl

    msh = function.function_space.mesh
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    cell = {2: "triangle", 3: "tetrahedron"}[tdim]
    pts, wts = _compat.quadrature_cell(cell, degree)
    cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
    x = ufl.SpatialCoordinate(msh)
    ex = _compat.expression_at(ufl.as_vector([x[i] for i in range(gdim)]
                                             + [abs(ufl.JacobianDeterminant(msh)),
                                                function if expression is None else expression]), pts)
    vals = _compat.eval_expression(ex, msh, cells).reshape(len(cells), len(wts), gdim + 2)
    w = (vals[:, :, gdim] * wts[None, :]).ravel()
    return vals[:, :, :gdim].reshape(-1, gdim), w, vals[:, :, gdim + 1].ravel()


def coordinate_moments(function: Any, degree: int, expression: Any = None) -> Dict[str, float]:
    """Mass ``∫ φ``, and, of the density φ / mass: mean and variance of every
    coordinate (``mean_theta{k}``, ``var_theta{k}``, k = 1 … gdim), mean and
    std of ``|θ1|``; negative mass ``∫ max(−φ, 0)`` and the most negative
    value relative to the maximum (of the unnormalised φ).  ``expression``: as
    in :func:`quadrature_samples`.  Collective."""
    from mpi4py import MPI

    comm = function.function_space.mesh.comm
    th, w, p = quadrature_samples(function, degree, expression)
    wp = w * p

    def total(a: np.ndarray) -> float:
        return comm.allreduce(float(np.sum(a)))

    mass = total(wp)
    out: Dict[str, float] = {"mass": mass}
    for k in range(th.shape[1]):
        m1 = total(th[:, k] * wp) / mass
        m2 = total(th[:, k] ** 2 * wp) / mass
        out[f"mean_theta{k + 1}"] = m1
        out[f"var_theta{k + 1}"] = m2 - m1 * m1
    a1 = total(np.abs(th[:, 0]) * wp) / mass
    out["mean_abs_theta1"] = a1
    out["std_abs_theta1"] = math.sqrt(max(out["var_theta1"] + out["mean_theta1"] ** 2 - a1 * a1, 0.0))
    lo = comm.allreduce(float(p.min()) if p.size else math.inf, op=MPI.MIN)
    hi = comm.allreduce(float(p.max()) if p.size else -math.inf, op=MPI.MAX)
    out["negative_mass"] = total(np.maximum(-p, 0.0) * w) / abs(mass)
    out["min_density_relative"] = lo / hi if hi > 0 else math.nan
    return out


def slow_marginal(function: Any, edges: Sequence[float], degree: int, expression: Any = None) -> np.ndarray:
    """The θ1-marginal ``∫ φ dθ2 … dθN`` averaged over each bin of ``edges``
    (``len(edges) − 1`` values, density units), normalised by the total mass;
    by the quadrature points of the mesh (each point's weight to the bin it
    lies in); ``expression``: as in :func:`quadrature_samples`.  Collective;
    the same array on every rank."""
    comm = function.function_space.mesh.comm
    th, w, p = quadrature_samples(function, degree, expression)
    edges = np.asarray(edges, dtype=float)
    h, _ = np.histogram(th[:, 0], bins=edges, weights=w * p)
    out = np.zeros_like(h)
    comm.Allreduce(np.ascontiguousarray(h), out)
    mass = comm.allreduce(float(np.sum(w * p)))
    return out / mass / np.diff(edges)
