"""The weighted trial space of the 3-D valley: the density as ``w u``, w a closed form (docs/numerics.md, *Three variables*).

On the two-fast-direction valley at T = 0.05 the density falls by orders of
magnitude within two θ1-cells at its outer flank, and plain P2 oscillates
there: 0.27 % negative mass on the default 93k-dof ball.  Writing the
density as ``P = w u`` with w the closed form of the noise
(:mod:`fpsolve.theory.nvalley_noise`, docs/model.md §9) — the slow marginal
times the fast directions' conditional Gaussians,

    log w(x, y) = log p1(x) − Σ_i y_i² / (2 s_i(x)) − ½ Σ_i log(2π s_i(x)),

with s_i = T g_i(x)/2 for ``sgd`` and ``sgd-diagonal`` (§9's adiabatic
elimination) and log w = −2L/T exactly for ``isotropic`` (the Gibbs density,
s_i = T/(2 g_i): then u is constant up to the floor below) —
leaves u to carry only the correction, which varies slowly where P is
steep: on the same mesh (sgd) the negative mass falls to 3.3e-4, and λ0 (the
escape rate, ~0 for this confined density) from 2e-6 to 3e-10.  Any smooth
positive w gives a consistent method (it only changes the trial basis);
a good one makes the discrete density positive.  ``log w`` is shifted to a
maximum of 0 and floored smoothly at −:data:`LOG_FLOOR` (``logaddexp``) so
the matrices stay regular where the closed form underflows.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from fpsolve import _compat
from fpsolve.theory import nvalley_noise

#: Smooth floor of log w below its maximum: e^-40 ≈ 4e-18 keeps every row of K and M regular.
LOG_FLOOR = 40.0
#: Points of the slow marginal's table over the ball's θ1-extent (linear interpolation between).
TABLE_POINTS = 4001


def valley_log_weight(V: Any, valley: Any, T: float, noise: str = "sgd") -> Any:
    """``log w`` of the module docstring as a ``fem.Function`` on the scalar
    space ``V`` (3-D mesh, θ = (x, y1, y2)) of the m = 2
    :class:`~fpsolve.model.nvalley.NValley` at noise level ``T`` (θ units)
    under ``noise`` (one of :data:`fpsolve.theory.nvalley_noise.FORMS`;
    :func:`fpsolve.theory.nvalley_noise.log_joint`, the adiabatic slow
    marginal tabulated on :data:`TABLE_POINTS` points).  Collective.
    Raises ModelError where the closed form does not exist (T ≤ 0, an unknown noise)."""
    from dolfinx import fem
    from mpi4py import MPI

    comm = V.mesh.comm
    log_p1 = None
    if nvalley_noise.form(noise) == "adiabatic":
        xs = V.mesh.geometry.x[:, 0]
        # the valley is even in x (g_i and V are), so a table over |x| keeps w exactly mirror-symmetric
        top_x = comm.allreduce(float(np.abs(xs).max()) if xs.size else 0.0, op=MPI.MAX)
        grid = np.linspace(0.0, top_x, TABLE_POINTS)
        table = nvalley_noise.log_marginal_x(valley, T, grid, noise)
        log_p1 = lambda z: np.interp(z, grid, table)  # noqa: E731

    def log_w(points: np.ndarray) -> np.ndarray:
        x, ys = points[0], points[1:valley.n_variables].T
        return nvalley_noise.log_joint(valley, T, x, ys, noise, log_p1)

    f = fem.Function(V, name="log_weight")
    f.interpolate(log_w)
    a = f.x.array
    top = comm.allreduce(float(a.max()) if a.size else -math.inf, op=MPI.MAX)
    a[:] = np.logaddexp(a - top, -LOG_FLOOR)
    f.x.scatter_forward()
    return f


#: Largest relative difference in mass or a coordinate's variance between a start
#: density in the weighted and in the plain space for the transient to use the weighted one.
START_MISFIT_MAX = 0.05


def start_misfit(log_weight: Any, density: Callable[[np.ndarray], np.ndarray]) -> float:
    """How badly ``w u`` (u = P0/w at the nodes of ``log_weight``'s space)
    represents the start density ``density`` (a callable of points, shape
    (3, p)) compared with P0's plain interpolant: the largest relative
    difference in mass and in each coordinate's variance (inf where the
    weighted start has no positive mass).  A start wider than w (a Gaussian
    of std 0.47 across fast directions of std 0.12) makes u grow like
    e^{c θ²} and ``w u`` oscillate (measured: no positive mass), while
    a start of widths (0.08, 0.12, 0.12) at θ1 = 0.8 differs by 1.3 % on a
    coarse ball (docs/numerics.md, *Three variables*).  Collective."""
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    V = log_weight.function_space
    msh = V.mesh
    plain = fem.Function(V)
    plain.interpolate(density)
    weighted = fem.Function(V)
    weighted.x.array[:] = plain.x.array / np.exp(log_weight.x.array)
    x = ufl.SpatialCoordinate(msh)
    dx = ufl.dx(metadata={"quadrature_degree": 2 * _compat.space_degree(V) + 4})

    def moments(P: Any) -> np.ndarray:
        fs = [1.0 + 0 * x[0]] + [x[i] for i in range(msh.geometry.dim)] + [x[i] ** 2 for i in range(msh.geometry.dim)]
        return np.array([msh.comm.allreduce(fem.assemble_scalar(fem.form(f * P * dx)), op=MPI.SUM) for f in fs])

    a, b = moments(plain), moments(ufl.exp(log_weight) * weighted)
    if not (b[0] > 0 and a[0] > 0):
        return math.inf
    d = msh.geometry.dim
    var = [[m[1 + d + i] / m[0] - (m[1 + i] / m[0]) ** 2 for i in range(d)] for m in (a, b)]
    return float(max([abs(b[0] / a[0] - 1)] + [abs(vb / va - 1) for va, vb in zip(*var)]))
