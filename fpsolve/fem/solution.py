"""The quasi-stationary density on its mesh and what is measured on it (docs/model.md §4-6).

:class:`Solution`: the normalised density φ0 ≥ 0, ∫ φ0 = 1, with its escape
rate λ0 (per unit time t = α k); its moments, negative mass, marginals,
mode, support and boundary flux, and point evaluation of FE functions.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence, Tuple

import numpy as np

from fpsolve import _compat
from fpsolve.fem import results as fem_results
from fpsolve.fem.summary import StationarySummary


#: Trapezoid points across the support for a marginal: the conditional
#: density across it is a smooth bump (Gaussian in θ2, docs/model.md §5), on which
#: the trapezoid rule converges fast: with 151 points the θ1-marginal's mass
#: and ``|θ1|`` moment are within 4e-6 of the quadrature's at T = 0.05 (301:
#: 2e-7), at half the point evaluations, which dominate post-processing.
MARGINAL_LINE_POINTS = 151
#: ... and for the mode's marginal, whose argmax alone counts: 61 points move
#: the mode by 1.4e-5 relative (T = 0.022-0.05), below the 401-point grid's
#: own resolution, at 0.4 × the evaluations.
MODE_LINE_POINTS = 61


# --------------------------------------------------------------------------
# The solution and what is measured on it
# --------------------------------------------------------------------------

class Solution:
    """Normalised principal eigenfunction ``density`` (∫ = 1) and its escape
    rate; ``summary``: what the solve measured, typed
    (:class:`~fpsolve.fem.summary.StationarySummary`); the measuring methods
    are collective (call them on every rank)."""

    def __init__(self, density: Any, eigenvalue: complex, flux: Any, quadrature_degree: int,
                 info: dict, expression: Any = None) -> None:
        self.density = density
        #: the density as UFL, what quadrature measures: ``density`` itself, or a weighted
        #: operator's ``w u`` (of which ``density`` is the nodal interpolant)
        self.density_expression = density if expression is None else expression
        self.mesh = density.function_space.mesh
        self.comm = self.mesh.comm
        self.eigenvalue = eigenvalue
        self.info = info
        self.summary = StationarySummary()  # filled by fpsolve.fem.stationary.solve
        self._flux = flux
        self._qdeg = quadrature_degree
        self._samples: dict = {}
        self.adjoint: Any = None  # τ of the backward equation, when asked for

    def write(self, model: Any, out: Any, **options: Any) -> Any:
        """Write this solution's result folder (summary.json, density.xdmf,
        figures, marginals.csv) at ``out``, atomically; collective.  ``model``
        is the :class:`fpsolve.Model` solved; options and exceptions: see
        :func:`fpsolve.fem.results.write`.  Returns the folder's path."""

        return fem_results.write(self, model, out, **options)

    # ---- quadrature on the mesh -------------------------------------------
    def quadrature_samples(self, degree: int | None = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(θ1, θ2, weight, φ) at the quadrature points (rule exact to
        ``degree``) of this rank's owned cells: ``Σ w f(θ) φ`` is ``∫ f φ`` on
        this rank."""
        degree = self._qdeg if degree is None else degree
        if degree not in self._samples:
            import ufl

            msh = self.mesh
            pts, wts = _compat.quadrature_triangle(degree)
            cells = np.arange(msh.topology.index_map(2).size_local, dtype=np.int32)
            x = ufl.SpatialCoordinate(msh)
            ex = _compat.expression_at(ufl.as_vector((x[0], x[1], abs(ufl.JacobianDeterminant(msh)), self.density_expression)), pts)
            vals = _compat.eval_expression(ex, msh, cells).reshape(len(cells), len(wts), 4)
            w = vals[:, :, 2] * wts[None, :]
            self._samples[degree] = (vals[:, :, 0].ravel(), vals[:, :, 1].ravel(), w.ravel(), vals[:, :, 3].ravel())
        return self._samples[degree]

    def _integral(self, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
        x, y, w, p = self.quadrature_samples()
        return self.comm.allreduce(float(np.sum(f(x, y) * p * w)))

    def moments(self) -> dict:
        """Mass and moments of the density by quadrature (``∫ φ`` = mass;
        the others divide by it): mean ``|θ1|``, std ``|θ1|``, mean θ1, θ2, Var θ2."""
        mass = self._integral(lambda x, y: np.ones_like(x))
        m_abs = self._integral(lambda x, y: np.abs(x)) / mass
        m_x = self._integral(lambda x, y: x) / mass
        m_x2 = self._integral(lambda x, y: x * x) / mass
        m_y = self._integral(lambda x, y: y) / mass
        m_y2 = self._integral(lambda x, y: y * y) / mass
        return {
            "mass": mass,
            "mean_abs_theta1": m_abs,
            # a negative raw variance flags negative mass (P1 at T = 0.01)
            "var_abs_theta1": m_x2 - m_abs * m_abs,
            "std_abs_theta1": math.sqrt(max(m_x2 - m_abs * m_abs, 0.0)),
            "mean_theta1": m_x,
            "var_theta1": m_x2 - m_x * m_x,
            "mean_theta2": m_y,
            "var_theta2": m_y2 - m_y * m_y,
        }

    def negativity(self) -> dict:
        """Most negative density (over dofs and quadrature points), relative
        to the maximum, and the negative mass ``∫ max(−φ, 0)``."""
        from mpi4py import MPI

        _, _, w, p = self.quadrature_samples()
        n_owned = self.density.function_space.dofmap.index_map.size_local
        dofs = self.density.x.array[:n_owned]
        lo = min(float(dofs.min()) if dofs.size else np.inf, float(p.min()) if p.size else np.inf)
        hi = max(float(dofs.max()) if dofs.size else -np.inf, float(p.max()) if p.size else -np.inf)
        lo = self.comm.allreduce(lo, op=MPI.MIN)
        hi = self.comm.allreduce(hi, op=MPI.MAX)
        neg = self.comm.allreduce(float(np.sum(np.maximum(-p, 0.0) * w)))
        return {"min_density": lo, "max_density": hi, "min_density_relative": lo / hi, "negative_mass": neg}

    def bin_integrals(self, xedges: Sequence[float], yedges: Sequence[float], degree: int = 16) -> np.ndarray:
        """``∫ φ`` over each rectangle of a histogram grid (shape
        ``(len(xedges)-1, len(yedges)-1)``), by the mesh's quadrature points
        (a rule exact to ``degree``, each point's weight going to the bin it
        lies in; the error comes from cells cut by bin edges and falls with
        the point spacing); collective, the same array on every rank."""
        x, y, w, p = self.quadrature_samples(degree)
        h, _, _ = np.histogram2d(x, y, bins=[np.asarray(xedges, float), np.asarray(yedges, float)], weights=p * w)
        out = np.zeros_like(h)
        self.comm.Allreduce(np.ascontiguousarray(h), out)
        return out

    # ---- point values ------------------------------------------------------
    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """φ at points of shape (n, 2); 0 outside the mesh.  Collective: every
        rank passes the same points and gets the same values."""
        return evaluate_function(self.density, points)

    def bounding_box(self) -> Tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the mesh, global."""
        from mpi4py import MPI

        g = self.mesh.geometry.x[:, :2]
        lo = np.full(2, np.inf) if g.size == 0 else g.min(axis=0)
        hi = np.full(2, -np.inf) if g.size == 0 else g.max(axis=0)
        glo, ghi = np.empty(2), np.empty(2)
        self.comm.Allreduce(np.ascontiguousarray(lo), glo, op=MPI.MIN)
        self.comm.Allreduce(np.ascontiguousarray(hi), ghi, op=MPI.MAX)
        return float(glo[0]), float(ghi[0]), float(glo[1]), float(ghi[1])

    def _marginal(self, grid: np.ndarray, axis: int, n_line: int) -> np.ndarray:
        # integrate across where φ > 1e-12 max (plus a margin): elsewhere it
        # is below round-off, and the short line keeps the spacing fine
        lo, hi = self.support(1 - axis, level=1e-12)
        xmin, xmax, ymin, ymax = self.bounding_box()
        pad = 0.05 * (hi - lo)
        lo, hi = (max(lo - pad, ymin), min(hi + pad, ymax)) if axis == 0 else (max(lo - pad, xmin), min(hi + pad, xmax))
        line = np.linspace(lo, hi, n_line)
        grid = np.asarray(grid, dtype=np.float64)
        a, b = np.meshgrid(grid, line, indexing="ij")
        pts = np.column_stack([a.ravel(), b.ravel()]) if axis == 0 else np.column_stack([b.ravel(), a.ravel()])
        vals = self.evaluate(pts).reshape(len(grid), n_line)
        step = (hi - lo) / (n_line - 1)
        return step * (vals.sum(axis=1) - 0.5 * (vals[:, 0] + vals[:, -1]))  # trapezoid rule

    def marginal_theta1(self, grid: Sequence[float], n_line: int = MARGINAL_LINE_POINTS) -> np.ndarray:
        """``∫ φ dθ2`` at each θ1 of ``grid`` (trapezoid rule on ``n_line``
        points across the θ2-range where φ > 1e-12 max φ); collective, the
        same on every rank."""
        return self._marginal(np.asarray(grid), 0, n_line)

    def marginal_theta2(self, grid: Sequence[float], n_line: int = MARGINAL_LINE_POINTS) -> np.ndarray:
        """``∫ φ dθ1`` at each θ2 of ``grid``; collective."""
        return self._marginal(np.asarray(grid), 1, n_line)

    def support(self, axis: int, level: float = 1e-6) -> Tuple[float, float]:
        """Range of θ1 (axis 0) or θ2 (axis 1) over the quadrature points where
        φ exceeds ``level`` times its maximum; global."""
        from mpi4py import MPI

        x, y, _, p = self.quadrature_samples()
        c = x if axis == 0 else y
        peak = self.comm.allreduce(float(p.max()) if p.size else -np.inf, op=MPI.MAX)
        sel = c[p > level * peak]
        lo = self.comm.allreduce(float(sel.min()) if sel.size else np.inf, op=MPI.MIN)
        hi = self.comm.allreduce(float(sel.max()) if sel.size else -np.inf, op=MPI.MAX)
        return lo, hi

    def mode_theta1(self, n: int = 401) -> float:
        """``|θ1|`` of the maximum of the θ1-marginal (grid over the support, then
        a parabola through the best three points)."""
        lo, hi = self.support(0)
        grid = np.linspace(lo, hi, n)
        m = self.marginal_theta1(grid, n_line=MODE_LINE_POINTS)
        i = int(np.argmax(m))
        x = grid[i]
        if 0 < i < n - 1:
            denom = m[i - 1] - 2 * m[i] + m[i + 1]
            if denom < 0:
                x = grid[i] + 0.5 * (grid[1] - grid[0]) * (m[i - 1] - m[i + 1]) / denom
        return abs(float(x))

    def boundary_escape_rate(self) -> float:
        """``∮ J·n ds / ∫ φ``: the escape rate from the boundary flux."""
        return self._flux


def evaluate_function(function: Any, points: np.ndarray) -> np.ndarray:
    """Values of a scalar ``fem.Function`` at points of shape (n, 2) or (n, 3); 0
    outside the mesh.  Collective: every rank passes the same points and gets
    the same values."""
    from mpi4py import MPI

    msh = function.function_space.mesh
    comm = msh.comm
    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    p3 = np.zeros((n, 3))
    p3[:, :points.shape[1]] = points
    found, cells = locate_points(msh, p3)
    vals = np.zeros(n)
    if found.size:
        vals[found] = function.eval(p3[found], cells).ravel()
    # a point on a shared edge is found on several ranks: the lowest one counts
    owner = np.full(n, comm.size, dtype=np.int32)
    owner[found] = comm.rank
    if comm.size > 1:
        low = np.empty_like(owner)
        comm.Allreduce(owner, low, op=MPI.MIN)
        vals[low != comm.rank] = 0.0
        total = np.empty_like(vals)
        comm.Allreduce(vals, total)
        return total
    return vals


def locate_points(msh: Any, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`fpsolve._compat.colliding_cells` (indices of the points of
    shape (n, 3) found on this rank, one local cell each) that survives
    DOLFINx's "GJK error: max iteration limit reached" (met on quadratic
    tetrahedra, for a point of a section on a curved cell): the points are
    split in halves until the failing ones stand alone, and those are left
    out (not found on this rank).  Local to the rank (no collective)."""
    try:
        return _compat.colliding_cells(msh, points)
    except RuntimeError:
        if len(points) <= 1:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    half = len(points) // 2
    f0, c0 = locate_points(msh, points[:half])
    f1, c1 = locate_points(msh, points[half:])
    return np.concatenate([f0, f1 + half]), np.concatenate([c0, c1])
