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
from typing import Any

import numpy as np

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
