# # The density in time in three variables
#
# `evolve_fp.py --fast-directions 2` (and a `--loss` in θ1, θ2, θ3) steps
# the Fokker-Planck equation ∂P/∂t = ∇·(D∇P + (∇·D − F)P) on the
# tetrahedral ball (fpsolve.fem.transient3d.evolve_case: the TR-BDF2 stepper
# of fpsolve.fem.transient with adaptive steps, MUMPS for its LUs) from a
# Gaussian start (docs/model.md §8, §9).  First a case whose moments are
# known exactly at every time, then the valley with two fast directions
# relaxing to its stationary moments.

import math

import numpy as np
from mpi4py import MPI

from fpsolve.fem import transient3d
from fpsolve.model.expression import Model
from fpsolve.model.nvalley import NValley
from fpsolve.model.valley import Noise

comm = MPI.COMM_SELF  # serial: every number below is this rank's own run
say = print if MPI.COMM_WORLD.rank == 0 else (lambda *a: None)

# ## Exact: Ornstein-Uhlenbeck relaxation
#
# L = ½ k|θ|², isotropic noise D = (T/2) I (k = 1, T = 0.1), reflecting ball
# of radius 1.2, uniform h = 0.2 (7.4k P2 dofs, about 7 s to t = 2).  The
# moment equations of OU are closed, so from any start of mean m0 and
# covariance C0 the mean is m0 e^{−kt} and C(t) = C∞ + (C0 − C∞) e^{−2kt},
# C∞ = T/(2k).  Start: m0 = (0.3, −0.2, 0.1), C0 = 0.15² I.  Measured at
# t = 0.25, 0.5, 1, 2: Var θi within 3.0e-3 relative of the exact curve
# (asserted 6e-3; 9.3e-3 at t = 0, where the Gaussian is interpolated on
# this coarse mesh); from the FEM's own variances at t = 0 the curve is met
# within 1.1e-3, the stationary error of this mesh (asserted 2.5e-3); the
# mean within 6.4e-4 (asserted 1.5e-3); the mass conserved to 2e-14
# (asserted 1e-12).

k, T, w0 = 1.0, 0.1, 0.15
m0 = np.array([0.3, -0.2, 0.1])
ou = Model.from_expression("k*(theta1**2 + theta2**2 + theta3**2)/2", {"k": k}, "isotropic", alpha=0.05, T=T)
stops = [0.25, 0.5, 1.0, 2.0]
run = transient3d.evolve_case(ou, start=m0, start_width=(w0,) * 3, t_end=2.0, wall="reflecting", radius=1.2,
                              h_min=0.2, stops=stops, eigen=False, comm=comm)
rows = {r["t"]: r for r in run.evolution.rows}
c_inf = T / (2 * k)
v0 = np.array([rows[0.0][f"var_theta{i}"] for i in (1, 2, 3)])
worst = {"var": 0.0, "var_own_start": 0.0, "mean": 0.0}
for t in stops:
    var = np.array([rows[t][f"var_theta{i}"] for i in (1, 2, 3)])
    mean = np.array([rows[t][f"mean_theta{i}"] for i in (1, 2, 3)])
    worst["var"] = max(worst["var"], np.abs(var / (c_inf + (w0 ** 2 - c_inf) * math.exp(-2 * k * t)) - 1).max())
    worst["var_own_start"] = max(worst["var_own_start"],
                                 np.abs(var / (c_inf + (v0 - c_inf) * math.exp(-2 * k * t)) - 1).max())
    worst["mean"] = max(worst["mean"], np.abs(mean - m0 * math.exp(-k * t)).max())
s = run.summary
say(f"OU ({s['dofs']} dofs, {s['steps']} steps): Var error {worst['var']:.1e} (from the FEM's start "
    f"{worst['var_own_start']:.1e}), mean error {worst['mean']:.1e}, mass error {s['mass_error_max']:.1e}")
assert worst["var"] < 6e-3 and worst["var_own_start"] < 2.5e-3 and worst["mean"] < 1.5e-3
assert s["mass_error_max"] < 1e-12

# ## The valley with two fast directions, in the weighted space
#
# L = ½ g(x)(y1² + y2²) + ½ ε x², sgd noise at T = 0.05, absorbing ball of
# radius 2, coarse (h_min 0.2, h_max 0.6: 14.4k dofs, about 25 s to t = 60
# with the eigen-solve).  The stepper uses the stationary solve's weighted
# trial space P = w u (fpsolve.fem.weight) when w u can hold the start
# (`weight.start_misfit` ≤ 5 %): a narrow Gaussian at (0.8, 0, 0) of widths
# (0.08, 0.12, 0.12) is held to 1.3 % (a wider one falls back to plain P2
# with a warning).  Measured on this ball:
#
# | t | mean \|x\| | Var y1 | Var y2 | survival |
# |---|---|---|---|---|
# | 0 | 0.79950 | 0.014386 | 0.014390 | 1 |
# | 5 | 0.80100 | 0.014120 | 0.014119 | 1 − 1.3e-6 |
# | 20 | 0.80528 | 0.013998 | 0.013996 | 1 − 2.0e-6 |
# | 60 | 0.81030 | 0.013907 | 0.013904 | 1 − 2.2e-6 |
# | ∞ (eigen-solve) | 0.81157 | 0.013888 | 0.013885 | |
#
# The fast directions equilibrate within a few time units (their variances
# relax at the rate 2g, 1.13 at x = 0.8), after which their variances follow the slow coordinate (about
# T g(x)/2 at its current x): both creep over the slow time scale.  At t = 60 mean |x| is 0.0018 below the N-dimensional Monte
# Carlo's 0.8121 (asserted 0.005) and 0.0013 below the eigen-solve of the
# same operator (asserted 0.003), Var y within 0.03 % of the Monte Carlo's
# 0.01391 (asserted 0.5 %; docs/model.md §9).  The escape through the wall
# at T = 0.05 is ~6e-9 per time unit (the eigen-solve's λ0).  This ball is
# coarse: the eigen-solve reports 0.77 % negative mass as a warning (the
# default ball, finer, is the one to trust for the density itself).

valley, level = NValley.from_preset("double-well", fast_directions=2), Noise.from_temperature(0.05, 0.05)
times = [5.0, 20.0]
run = transient3d.evolve_case(valley, level, start=(0.8, 0.0, 0.0), start_width=(0.08, 0.12, 0.12), t_end=60.0,
                              h_min=0.2, h_max=0.6, stops=times, comm=comm)
s, rows = run.summary, {r["t"]: r for r in run.evolution.rows}
for t in [0.0] + times + [60.0]:
    r = rows[t]
    say(f"valley t = {t:4g}: mean |x| {r['mean_abs_theta1']:.5f}, Var y1 {r['var_theta2']:.6f}, "
        f"Var y2 {r['var_theta3']:.6f}, survival {r['survival']:.8f}")
f, st = s["final"], s["stationary"]
say(f"valley: {s['dofs']} dofs, {s['trial_space']}, start misfit {s['start_weight_misfit']:.3f}, "
    f"{s['steps']} steps; eigen-solve mean |x| {st['mean_abs_theta1']:.5f}, lambda0 {s['escape_rate_eigen']:.1e}")
assert s["trial_space"].startswith("P2 times the closed form") and s["start_weight_misfit"] <= 0.05
assert abs(f["mean_abs_theta1"] - 0.8121) < 5e-3  # Monte Carlo, docs/model.md §9
assert abs(f["mean_abs_theta1"] - st["mean_abs_theta1"]) < 3e-3
mean_abs = [rows[t]["mean_abs_theta1"] for t in [0.0] + times + [60.0]]
assert mean_abs == sorted(mean_abs)  # relaxing upward toward the stationary value
for key in ("var_theta2", "var_theta3"):
    assert abs(f[key] / 0.01391 - 1) < 5e-3, key
    assert abs(f[key] / st[key] - 1) < 5e-3, key
assert abs(s["survival_final"] - 1) < 1e-5
