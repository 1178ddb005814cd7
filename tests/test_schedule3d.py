"""Training schedules in the 3-D transient (docs/model.md §10; docs/commands.md, *The density in time in
three variables*): ``fpsolve.fem.transient3d.evolve_case(..., schedule=)`` and ``evolve_fp.py
--fast-directions 2 --schedule ...``.

* exact: the isotropic Ornstein-Uhlenbeck process L = ½ k|θ|², D = (T(t)/2) I (k = 1, α0 = 0.1,
  Δ = 1, so T = 0.1 at the start) on a reflecting ball of radius 1.2, uniform h 0.2, P2 (7.4k dofs).
  Each coordinate's variance obeys dC/dt = −2kC + T(t) exactly (the moment equations of OU are
  closed), solved here exactly on each SGD step of the schedule's staircase T_k = α_k Δ_k:
  C(t) = T_k/(2k) + (C(t_k) − T_k/(2k)) e^{−2k(t − t_k)}; the mean is m0 e^{−kt} whatever T.
  From the FEM's own variances at t = 0 (the interpolated start, 9e-3 off 0.15²):
  - ``step`` γ = 0.5, ks = 10 (T 0.1 → 0.05 at t = 1 → 0.025 at t = 1.5, the steps land on both
    jumps; 68 steps, 13 LUs, about 9 s): Var θi within 1.7e-3 relative at t = 0.5, 1, 1.25, 1.5,
    1.6 (1.1e-3 at constant T: the stationary error of this mesh, larger as T falls and the
    density narrows); asserted 3e-3.
  - ``exponential`` γ = 0.97 (3 % per SGD step: below the jump threshold, so a staircase the steps
    straddle; T 0.1 → 0.040 at t = 2; 81 steps, 10 LUs, 503 defect corrections, about 9 s):
    2.3e-3 at t = 0.5, 1, 1.5, 2; asserted 4e-3.
  The mean (from the FEM's own start mean) within 7.6e-4 relative of m0 e^{−kt} whatever T(t)
  (asserted 2e-3); mass conserved to 3e-14 (asserted 1e-12).
* a constant schedule: the valley (m = 2, T = 0.05) in the weighted space P = w u on the coarse
  ball (14.4k dofs), to t = 1: the same 41 steps and every column to 4.2e-12 relative of the run
  without a schedule (9.7e-12 to t = 5; asserted 1e-9), no defect correction.
* ``evolve_fp.py --fast-directions 2 --schedule step`` (γ 0.5, ks 30: T 0.05 → 0.025 at t = 1.5)
  on the coarse ball to t = 2: exit 0, T and alpha in evolution.csv, the schedule in summary.json
  and the folder's name; Var θ2 falls from 0.01431 at the jump to 0.01112 at t = 2, as the fast
  direction's OU at θ1 = 0.8 (g = 2 Var∞/T = 0.576) predicts: 0.0072 + (0.01431 − 0.0072)
  e^{−2 g 0.5} = 0.0112 (asserted 2 %).  About 20 s.
* bad schedule input: exit 2, one line, nothing written (as in 2-D).
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from conftest import run_script

K, ALPHA0, DELTA, W0 = 1.0, 0.1, 1.0, 0.15
M0 = np.array([0.3, -0.2, 0.1])


def _ou():
    from fpsolve.model.expression import Model

    return Model.from_expression("k*(theta1**2 + theta2**2 + theta3**2)/2", {"k": K}, "isotropic",
                                 alpha=ALPHA0, Delta=DELTA)


def _exact_variance(schedule, c0: float, t: float) -> float:
    """C(t) of dC/dt = −2kC + T(t), T the staircase T_k on [t_k, t_{k+1}), exactly."""
    tab = schedule.table(t)
    tk = np.append(tab["t"], math.inf)
    c = c0
    for j, T in enumerate(tab["alpha"] * tab["Delta"]):
        a, b = tk[j], min(tk[j + 1], t)
        if b <= a:
            break
        c = T / (2 * K) + (c - T / (2 * K)) * math.exp(-2 * K * (b - a))
    return c


@pytest.mark.parametrize("name, params, t_end, times, tol", [
    ("step", {"gamma": 0.5, "ks": 10}, 1.6, (0.5, 1.0, 1.25, 1.5, 1.6), 3e-3),  # 1.7e-3 measured
    ("exponential", {"gamma": 0.97}, 2.0, (0.5, 1.0, 1.5, 2.0), 4e-3),  # 2.3e-3 measured
])
def test_ornstein_uhlenbeck_variance_follows_the_scheduled_temperature_exactly(name, params, t_end, times, tol):
    from fpsolve.fem import transient3d
    from fpsolve.model.schedule import Schedule

    sched = Schedule.build(ALPHA0, DELTA, name=name, params=params)
    run = transient3d.evolve_case(_ou(), start=M0, start_width=(W0,) * 3, t_end=t_end, wall="reflecting",
                                  radius=1.2, h_min=0.2, stops=[t for t in times if t < t_end], eigen=False,
                                  schedule=sched)
    rows = run.evolution.rows
    v0 = np.array([rows[0][f"var_theta{i}"] for i in (1, 2, 3)])
    mean0 = np.array([rows[0][f"mean_theta{i}"] for i in (1, 2, 3)])
    for t in times:
        r = min(rows, key=lambda row: abs(row["t"] - t))  # the jumps' rows are a few ulps off t
        assert r["t"] == pytest.approx(t, abs=1e-12)
        assert r["T"] == pytest.approx(float(sched.T(r["t"])), rel=1e-14)
        var = np.array([r[f"var_theta{i}"] for i in (1, 2, 3)])
        mean = np.array([r[f"mean_theta{i}"] for i in (1, 2, 3)])
        exact = np.array([_exact_variance(sched, v, r["t"]) for v in v0])
        assert np.abs(var / exact - 1).max() < tol, (t, var, exact)
        assert np.abs(mean / (mean0 * math.exp(-K * r["t"])) - 1).max() < 2e-3, (t, mean)
    s = run.summary
    assert s["mass_error_max"] < 1e-12
    assert s["schedule"]["alpha"]["name"] == name and s["T_final"] == pytest.approx(float(sched.T(t_end)))
    assert s["T_range"][1] == pytest.approx(0.1) and s["T_range"][0] < 0.05
    if name == "step":
        assert s["schedule_jumps"] == pytest.approx([1.0, 1.5], abs=1e-12)
    assert "escape_rate_eigen" not in s  # eigen=False


def test_a_constant_schedule_gives_the_unscheduled_run_to_round_off():
    from fpsolve.fem import transient3d
    from fpsolve.model.nvalley import NValley
    from fpsolve.model.schedule import Schedule
    from fpsolve.model.valley import Noise

    nv, level = NValley.from_preset(fast_directions=2), Noise(0.05, 1.0)
    kw = dict(start=(0.8, 0.0, 0.0), start_width=(0.08, 0.12, 0.12), t_end=1.0, h_min=0.2, h_max=0.6, eigen=False)
    plain = transient3d.evolve_case(nv, level, **kw)
    const = transient3d.evolve_case(nv, level, schedule=Schedule.constant(0.05, 1.0), **kw)
    assert const.summary["trial_space"].startswith("P2 times the closed form")
    assert const.evolution.steps == plain.evolution.steps and const.summary["defect_corrections"] == 0
    for a, b in zip(plain.evolution.rows, const.evolution.rows):
        assert a["t"] == b["t"] and b["T"] == 0.05 and b["alpha"] == 0.05
        for k in transient3d.COLUMNS:
            assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-300), k  # 4.2e-12 measured
    text = transient3d.csv_text(const.evolution, 0.05, Schedule.constant(0.05, 1.0)).splitlines()
    assert text[0].split(",")[-2:] == ["T", "alpha"] and text[0].split(",")[:3] == ["t", "sgd_steps", "dt"]
    assert transient3d.csv_text(plain.evolution, 0.05).splitlines()[0].split(",")[-1] == "var_theta3"


def test_cli_step_schedule_on_the_valley(tmp_path):
    out = tmp_path / "sched"
    res = run_script("evolve_fp.py", "--fast-directions", "2", "--T", "0.05", "--h-min", "0.2", "--h-max", "0.6",
                     "--start", "0.8", "0", "0", "--start-width", "0.08", "0.12", "0.12", "--t-end", "2",
                     "--schedule", "step", "--schedule-param", "gamma=0.5", "--schedule-param", "ks=30",
                     "--no-progress", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    rows = list(csv.DictReader((out / "evolution.csv").open()))
    assert list(rows[0])[-2:] == ["T", "alpha"]
    T = {float(r["t"]): float(r["T"]) for r in rows}
    assert T[0.0] == 0.05 and T[2.0] == 0.025
    assert all(v == 0.05 for t, v in T.items() if t < 1.5 - 1e-9)
    jump = min(rows, key=lambda r: abs(float(r["t"]) - 1.5))
    assert float(jump["t"]) == pytest.approx(1.5, abs=1e-12) and jump["sgd_steps"] == "30"
    v_jump, v_end = float(jump["var_theta2"]), float(rows[-1]["var_theta2"])
    g = 2 * 0.0144 / 0.05  # the fast direction's g at θ1 = 0.8 from its stationary variance T g / 2
    assert v_end == pytest.approx(0.0072 + (v_jump - 0.0072) * math.exp(-2 * g * 0.5), rel=0.02)
    s = json.loads((out / "summary.json").read_text())
    assert s["schedule"]["alpha"] == {"name": "step", "alpha0": 0.05, "gamma": 0.5, "ks": 30.0}
    assert s["T_final"] == 0.025 and s["T_range"] == [0.025, 0.05] and s["t_end_steps"] == 51
    assert s["escape_rate_eigen_at"].startswith("the case's T")
    assert (out / "evolution.png").stat().st_size > 0
    # the default folder carries the schedule's tag, as in 2-D
    from fpsolve.cli import common as cli
    from fpsolve.cli.evolve import build_parser

    parser = build_parser()
    args = parser.parse_args(["--fast-directions", "2", "--schedule", "step", "--schedule-param", "gamma=0.5",
                              "--schedule-param", "ks=30"])
    assert "_schedule-step-" in cli.run_tag(args, parser)


@pytest.mark.parametrize("args, words", [
    (["--schedule", "step"], "schedule 'step' needs the parameter gamma"),
    (["--schedule-param", "gamma=0.5"], "--schedule-param needs --schedule NAME"),
    (["--alpha-schedule", "3"], "exceeds the SGD stability bound alpha < 2"),
    (["--schedule", "step", "--schedule-param", "gamma=0.5", "--schedule-param", "ks=10", "--t-end", "2"],
     "reaches only t = 1 (t-end 2)"),
    (["--loss", "k*(theta1**2 + theta2**2 + theta3**2)/2", "--param", "k=4", "--noise", "isotropic",
      "--alpha-schedule", "0.6 - 0.5*Heaviside(t - 1)", "--t-end", "2"], "exceeds the SGD stability bound alpha < 0.5"),
])
def test_bad_schedule_exit_2_one_line_nothing_written(tmp_path, args, words):
    res = run_script("evolve_fp.py", *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_three_variable_stability_bound_is_two_over_the_curvature_at_the_minimum():
    from fpsolve.model.expression import Model
    from fpsolve.model.nvalley import NValley
    from fpsolve.theory.stability import alpha_bound

    quad = Model.from_expression("(theta1**2 + 2*theta2**2 + 4*theta3**2)/2", {}, "isotropic", alpha=0.1, Delta=1.0)
    assert alpha_bound(quad, 1.0, 1.0, (0.0, 0.0, 0.0)) == pytest.approx(0.5, rel=1e-12)  # 2 / max eigenvalue 4
    nv = NValley.from_preset(fast_directions=2)
    H0 = max(float(np.max(nv.g(0.0))), nv.eps)  # H(0) = diag(ε, g_1(0), g_2(0))
    assert alpha_bound(nv, 1.0, 2.0, (0.0, 0.0, 0.0)) == pytest.approx(2.0 / H0, rel=1e-12)
