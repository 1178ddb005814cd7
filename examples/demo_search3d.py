# # The backward equation in three variables: exit times and committors
#
# The mean first-passage time τ(θ) into a target solves the backward
# (generator) equation 𝓛τ = −1 off the target, τ = 0 on it; the committor
# q(θ) (the target before the wall) solves 𝓛q = 0, q = 1 on the target and
# 0 on an absorbing wall (docs/model.md §8).  `search_time.py
# --fast-directions 2` (fpsolve.fem.search3d) solves them on the tetrahedral
# ball with fpsolve.fem.backward; this demo checks that machinery against
# exact answers for free diffusion, then the valley's search time against
# its closed form and Monte Carlo (docs/model.md §9).

import numpy as np
from mpi4py import MPI

from fpsolve.fem import backward, ball, search3d, stationary3d
from fpsolve.model.expression import Model
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise

comm = MPI.COMM_SELF  # serial: every number below is this rank's own solve
say = print if MPI.COMM_WORLD.rank == 0 else (lambda *a: None)


def points_in_shell(n, r_lo, r_hi, seed=1):
    """n random points with lo ≤ |θ| ≤ hi, and their radii."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    p /= np.linalg.norm(p, axis=1)[:, None]
    r = rng.uniform(r_lo, r_hi, size=n)
    return p * r[:, None], r


# ## Free diffusion: a 3-variable loss that is 0
#
# A constant loss with isotropic noise at T = 1 is Brownian motion with
# D = d I, d = T/2 = 0.5.  The operator is the one `search_time.py --loss ...`
# builds (`stationary3d.case_operator`: the model's coefficients in UFL).

free = Model.from_expression("0*theta1 + 0*theta2 + 0*theta3", {}, "isotropic", alpha=0.05, T=1.0, variables=3)
d = free.T / 2

# ## Exit time from the unit ball
#
# No target, absorbing wall at r = 1: τ(r) = (1 − r²)/(6d).  τ is quadratic,
# so P2 is exact inside each cell; what is left is the quadratic tetrahedra's
# approximation of the sphere (uniform h = 0.15: 9.8k dofs).  Measured: the
# largest error over 400 random points 1.2e-4 of τ(0) (asserted 5e-4).

msh, _, _ = ball.create_ball(ball.uniform_ball_sizes(1.0, h=0.15, geometry_order=2), comm)
tau = backward.mean_first_passage_time(stationary3d.case_operator(free, msh, free.T, free.noise), target=None)
pts, r = points_in_shell(400, 0.0, 0.999)
tau0 = 1 / (6 * d)
err = np.max(np.abs(tau.evaluate(pts) - (1 - r * r) * tau0)) / tau0
say(f"exit time from the unit ball ({tau.dofs} dofs): tau(0) = {tau.evaluate(np.zeros((1, 3)))[0]:.6f} "
    f"(exact {tau0:.6f}), max error / tau(0) = {err:.1e}")
assert err < 5e-4

# ## Into a central ball: committor and passage time
#
# Target the ball r ≤ a = 0.3, absorbing wall at r = 1.  The shell a ≤ r ≤ 1
# is meshed with its inner sphere (`BallSizes(hole=a)`, sizes 0.06 at the
# target to 0.2: 14.8k dofs), so the target is resolved exactly.  Exact:
# q(r) = (1/r − 1)/(1/a − 1) and τ(r) = [(1 − r²) − a(1 + a)(1/r − 1)]/(6d).
# Measured over 400 random points: q within 1.2e-3 (asserted 4e-3), τ within
# 3.0e-3 of its largest value (asserted 8e-3).

a = 0.3
shell = ball.BallSizes(1.0, (0.0, 0.0, 0.0), 0.06, 0.2, boxes=(((0.0, 0.0, 0.0), (a, a)),),
                       geometry_order=2, hole=a)
msh, _, _ = ball.create_ball(shell, comm)
op = stationary3d.case_operator(free, msh, free.T, free.noise)
target = backward.ball_target((0.0, 0.0, 0.0), a)
q = backward.committor(op, target=target)
tau = backward.mean_first_passage_time(op, target=target)
pts, r = points_in_shell(400, a * 1.001, 0.999)
q_err = np.max(np.abs(q.evaluate(pts) - (1 / r - 1) / (1 / a - 1)))
want = ((1 - r * r) - a * (1 + a) * (1 / r - 1)) / (6 * d)
tau_err = np.max(np.abs(tau.evaluate(pts) - want)) / np.max(want)
say(f"central target a = {a} ({q.dofs} dofs): committor max error {q_err:.1e}, "
    f"passage time max error / max {tau_err:.1e}")
assert q_err < 4e-3 and tau_err < 8e-3

# ## The valley's search time (docs/model.md §9)
#
# The m = 2 valley at T = 0.05 (sgd noise, reflecting ball of radius 2):
# `search3d.search_case` is `search_time.py --fast-directions 2`.  By default
# the target is the folded window x* − σ* ≤ |θ1| ≤ x* + σ* about the slow
# marginal's mode and the start (x* + 3σ*, 0, 0), as in the 1-D reduced
# formula (`fpsolve.theory.nvalley_noise.search_time`: 15.778 time units).
# On a coarse ball (h_min 0.15, h_max 0.5; the window's edges are mesh planes:
# 26.6k dofs, about 7 s) the 3-D τ at the start is 15.835, 0.36 % above the
# formula (converged 15.763, search3d.MEASURED; asserted 1 %).  Averaged over
# the fast conditional Gaussian at the start (the Monte Carlo's start) it is
# 15.590 against the N-dimensional Monte Carlo's 15.62 ± 0.07
# (tests/test_backward3d.py; asserted 1.5 %, 3 standard errors): starting off
# the valley floor, where g grows with |y|, shortens the search.

run = search3d.search_case(NValley.from_preset("double-well", fast_directions=2), Noise.from_temperature(0.05, 0.05),
                           h_min=0.15, h_max=0.5, section=None, comm=comm)
s = run.summary
say(f"valley search time ({s['mfpt_dofs']} dofs): tau(start) {s['search_time']:.4f}, "
    f"1-D formula {s['search_time_1d']:.4f}, conditional average {s['tau_conditional']:.4f} (Monte Carlo 15.62)")
assert abs(s["search_time_1d"] / 15.778 - 1) < 1e-3
assert abs(s["search_time"] / s["search_time_1d"] - 1) < 1e-2
assert abs(s["tau_conditional"] / 15.62 - 1) < 1.5e-2
assert s["tau_conditional"] < s["search_time"]
