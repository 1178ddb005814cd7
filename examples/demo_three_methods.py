# # Three methods on one case
#
# The density of SGD's iterates three ways, on the default double well at
# $T = 0.05$ (docs/model.md §6):
#
# 1. **FEM**: the Fokker-Planck equation of the SDE (docs/model.md §4), solved by
#    `fpsolve.solve`;
# 2. **Monte Carlo**: many independent walkers of the SDE itself,
#    Euler-Maruyama with step dt (`fpsolve.run_monte_carlo`, method "sde"), or
#    of SGD (method "sgd");
# 3. **closed forms**: adiabatic elimination of the fast $\theta_2$
#    (docs/model.md §5, `fpsolve.predictions`), a lowest-order approximation that
#    drops cross-diffusion.
#
# Monte Carlo walkers are split over MPI ranks when run under `mpirun`, with
# the same numbers as in a serial run.

import math

import fpsolve

RUN_UNDER_MPI = True

landscape = fpsolve.Landscape.from_preset("double-well")
noise = fpsolve.Noise(alpha=0.05, Delta=1.0)

# ## 1. FEM

fem = fpsolve.solve(landscape, noise).summary

# ## 2. Monte Carlo of the SDE
#
# Walkers start on the peak, $\theta = (0.63, 0)$; the burn-in of 150 time
# units is a little over two relaxation times of $\theta_1$ in the peak
# (`fpsolve.validation.three_way.relaxation_time`: 65).  The moments are pooled over
# walkers and the window after it, with standard errors from per-walker
# sums.  Times are in units of $\alpha$ SGD steps.

mc = fpsolve.run_monte_carlo(landscape, noise, method="sde", dt=0.01, walkers=1000, time=250.0,
                             burn_in=150.0, sample_from=(0.63, 0.0), seed=1).summary

# ## 3. Closed forms
#
# On the chord $\theta_1 \in [-2, 2]$ of the disk.

theory = fpsolve.predictions(landscape, noise, (-2.0, 2.0), with_boundaries=False)

rows = [("FEM", fem["mean_abs_theta1"], fem["std_abs_theta1"], fem["var_theta2"]),
        ("Monte Carlo SDE", mc["mean_abs_theta1"], mc["std_abs_theta1"], mc["var_theta2"]),
        ("closed form", theory["mean_abs_theta1"], theory["std_abs_theta1"], theory["var_theta2"])]
print(f"{'method':<16} {'mean|theta1|':>13} {'std|theta1|':>12} {'Var theta2':>11}")
for name, m, sd, v in rows:
    print(f"{name:<16} {m:13.5f} {sd:12.5f} {v:11.5f}")

# ## Check
#
# FEM and Monte Carlo solve the same SDE: mean $|\theta_1|$ agrees within
# four standard errors plus the 0.3 % of the Monte Carlo's time-step bias,
# and so does std $|\theta_1|$; the closed form (no cross-diffusion, lowest
# order) gets the mean within 5 % but not the width.

se = mc["mean_abs_theta1_se"]
assert abs(fem["mean_abs_theta1"] - mc["mean_abs_theta1"]) < 4 * se + 0.003 * fem["mean_abs_theta1"], (fem, se)
assert abs(theory["mean_abs_theta1"] - fem["mean_abs_theta1"]) < 0.05 * fem["mean_abs_theta1"]
sd_se = mc["std_abs_theta1_se"]
assert abs(fem["std_abs_theta1"] - mc["std_abs_theta1"]) < 4 * sd_se + 0.003 * fem["std_abs_theta1"], (fem, sd_se)
assert math.isfinite(se) and se < 0.002
print("ok")
