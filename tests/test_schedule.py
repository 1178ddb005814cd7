"""Training schedules (docs/model.md §10): the named laws' formulas, the
t ↔ k map, the jumps, bad input; the transient FEM, SGD and the SDE under a
step and a cosine schedule against the exact references for a quadratic
loss ½θᵀAθ with sgd noise (Σ = Δ A², constant):

- mean m' = −A m, covariance C' = −AC − CA + T(t) A² (the Lyapunov ODE with
  2D(t) = T(t) A², integrated by scipy at tight tolerance, piecewise between
  the jumps of T);
- SGD with the linear shift: m_{k+1} = (I − α_k A) m_k,
  C_{k+1} = (I − α_k A) C_k (I − α_k A) + α_k² Δ_k A², exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
from mpi4py import MPI

from conftest import run_script

from fpsolve import Model
from fpsolve.fem import mesh as fmesh
from fpsolve.fem import transient as dynamics
from fpsolve.fem.operator import Operator
from fpsolve.mc import ensemble as mc
from fpsolve.model.schedule import Schedule, named_value, parse_params
from fpsolve.theory.stability import alpha_bound
from fpsolve.tools.errors import InputError

A = np.diag([1.0, 2.0])
ALPHA, DELTA = 0.1, 1.0
M0 = np.array([0.3, -0.2])
S0 = np.diag([0.1 ** 2, 0.08 ** 2])
TIMES = (1.0, 3.0, 4.0)
LOSS = "0.5*(theta1**2 + 2*theta2**2)"
SCHEDULES = {
    # T drops by half at t = 2.5 and 3.75 (k = 25, 50): jumps the steps land on
    "step": lambda: Schedule.named("step", {"gamma": 0.5, "ks": 25}, alpha=ALPHA, Delta=DELTA),
    # T falls 0.1 -> 0.01 over K = 40 SGD steps (t ≈ 2.2), then stays
    "cosine": lambda: Schedule.named("cosine", {"K": 40, "alpha_min": 0.01}, alpha=ALPHA, Delta=DELTA),
}


def _model() -> Model:
    return Model.from_expression(LOSS, {}, "sgd", alpha=ALPHA, Delta=DELTA)


# --------------------------------------------------------------------------
# The laws
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, params, k, want", [
    ("constant", {"alpha0": 0.2}, [0, 7], [0.2, 0.2]),
    ("step", {"alpha0": 0.2, "gamma": 0.5, "ks": 10}, [0, 9, 10, 25], [0.2, 0.2, 0.1, 0.05]),
    ("exponential", {"alpha0": 0.2, "gamma": 0.9}, [0, 1, 3], [0.2, 0.18, 0.2 * 0.729]),
    ("inverse-time", {"alpha0": 0.2, "k0": 4}, [0, 4, 12], [0.2, 0.1, 0.05]),
    ("cosine", {"alpha0": 0.2, "alpha_min": 0.02, "K": 10}, [0, 5, 10, 20], [0.2, 0.11, 0.02, 0.02]),
    ("warmup", {"alpha_w": 0.02, "kw": 4, "then": "step", "alpha0": 0.2, "gamma": 0.5, "ks": 10},
     [0, 2, 4, 13, 14], [0.02, 0.11, 0.2, 0.2, 0.1]),
])
def test_named_law_formulas(name, params, k, want):
    s = Schedule.named(name, params, alpha=0.3, Delta=2.0)
    np.testing.assert_allclose(s.alpha_k(k), want, rtol=1e-14)
    np.testing.assert_allclose(s.Delta_k(k), 2.0)
    np.testing.assert_allclose(s.T_k(k), 2.0 * np.array(want), rtol=1e-14)


def test_time_is_the_cumulative_sum_of_the_steps_and_alpha_t_the_step_holding_t():
    s = SCHEDULES["step"]()
    k = np.arange(60)
    t = s.time_of(k)
    np.testing.assert_allclose(t, np.concatenate([[0.0], np.cumsum(s.alpha_k(k[:-1]))]), rtol=0, atol=1e-14)
    assert t[25] == pytest.approx(2.5) and t[50] == pytest.approx(3.75)
    np.testing.assert_array_equal(s.step_of(t[:50] + 1e-9), k[:50])
    assert s.alpha_t(2.49) == 0.1 and s.alpha_t(2.51) == 0.05 and s.T(3.8) == 0.025
    np.testing.assert_allclose(s.jumps(4.0), [2.5, 3.75], rtol=1e-12)
    # a law in t: α(t) read directly, SGD's α_k = α(t_k)
    e = Schedule.expressions(alpha=0.1, Delta=1.0, alpha_expression="0.1 - 0.09*Heaviside(t - 20)")
    assert e.alpha_t(19.99) == pytest.approx(0.1) and e.alpha_t(20.01) == pytest.approx(0.01)
    np.testing.assert_allclose(e.jumps(30.0), [20.0])
    assert e.alpha_k(199) == pytest.approx(0.1) and e.alpha_k(201) == pytest.approx(0.01)
    # the constant schedule: t = α k
    c = Schedule.constant(0.05, 2.0)
    assert c.is_constant and c.jumps(10.0).size == 0 and float(c.T(3.3)) == 0.1


def test_as_dict_records_both_laws():
    d = SCHEDULES["cosine"]().as_dict()
    assert d["alpha"] == {"name": "cosine", "K": 40.0, "alpha0": ALPHA, "alpha_min": 0.01}
    assert d["Delta"]["name"] == "constant" and d["model_alpha"] == ALPHA


@pytest.mark.parametrize("make, words", [
    (lambda: Schedule.named("linear", {}, alpha=0.1, Delta=1), "unknown schedule 'linear'"),
    (lambda: Schedule.named("step", {"gamma": 0.5}, alpha=0.1, Delta=1), "needs the parameter ks"),
    (lambda: Schedule.named("cosine", {"K": 10, "alpha_min": 0.01, "k0": 3}, alpha=0.1, Delta=1),
     "unknown schedule parameter 'k0'"),
    (lambda: Schedule.named("step", {"gamma": -0.5, "ks": 3}, alpha=0.1, Delta=1), "gamma=-0.5"),
    (lambda: Schedule.named("step", {"gamma": 0.5, "ks": 2.5}, alpha=0.1, Delta=1), "ks=2.5"),
    (lambda: Schedule.named("cosine", {"K": 10, "alpha_min": float("nan")}, alpha=0.1, Delta=1),
     "alpha_min=nan"),
    (lambda: Schedule.named("warmup", {"kw": 3, "alpha_w": 0.01, "then": "warmup"}, alpha=0.1, Delta=1),
     "then='warmup'"),
    (lambda: Schedule.expressions(alpha=0.1, Delta=1, alpha_expression="0.1 - 0.02*t").table(10.0),
     "alpha schedule '0.1 - 0.02*t'"),
    (lambda: Schedule.expressions(alpha=0.1, Delta=1, Delta_expression="1 - k").table(1.0),
     "Delta schedule '1 - k' is 0 at step k = 1"),
    (lambda: Schedule.expressions(alpha=0.1, Delta=1, alpha_expression="0.1*(1 + t"), "syntax error"),
    (lambda: Schedule.expressions(alpha=0.1, Delta=1, alpha_expression="0.1*t*k"), "both t and k"),
    (lambda: Schedule.expressions(alpha=0.1, Delta=1, alpha_expression="__import__('os')"), "unknown name '__import__'"),
    (lambda: Schedule.named("exponential", {"gamma": 0.5}, alpha=0.1, Delta=1).table(1.0), "reaches only t = 0.2"),
    (lambda: SCHEDULES["cosine"]().check(4.0, alpha_max=0.05), "alpha 0.1 (step k = 0"),
    (lambda: parse_params(["gamma"]), "not KEY=VALUE"),
])
def test_bad_schedules_name_the_value(make, words):
    with pytest.raises(InputError) as err:
        make()
    assert words in str(err.value)


def test_stability_bound_is_two_over_the_largest_curvature_for_a_quadratic():
    assert alpha_bound(_model(), 1.0) == pytest.approx(1.0)  # 2 / max eigenvalue of A = 2
    # the valley: α<g> = 2 at the bound (first-order condition of §5)
    assert 0 < alpha_bound(Model.preset(), 1.0) < 2.0 / 0.5 + 1e-9


# --------------------------------------------------------------------------
# Exact references
# --------------------------------------------------------------------------

def _lyapunov(schedule: Schedule, times) -> dict:
    """{t: (m, C)} of m' = −A m, C' = −AC − CA + T(t) A², piecewise between the jumps."""
    def rhs(t, z):
        m, C = z[:2], z[2:].reshape(2, 2)
        return np.concatenate([-A @ m, (-A @ C - C @ A + float(schedule.T(t)) * A @ A).ravel()])

    out, z, t0 = {}, np.concatenate([M0, S0.ravel()]), 0.0
    for t1 in [*schedule.jumps(max(times)), max(times)]:
        ev = sorted({t for t in times if t0 < t < t1} | {t1})
        sol = scipy.integrate.solve_ivp(rhs, (t0, t1), z, t_eval=ev, rtol=1e-11, atol=1e-14, max_step=0.01)
        for i, t in enumerate(sol.t):
            out[float(t)] = (sol.y[:2, i], sol.y[2:, i].reshape(2, 2))
        z, t0 = sol.y[:, -1], t1
    return {t: out[t] for t in times}


def _sgd_exact(schedule: Schedule, steps: int) -> list:
    """[(m_k, C_k)] for k = 0..steps of SGD with the linear shift from the point M0 (C_0 = 0)."""
    m, C, out = M0.copy(), np.zeros((2, 2)), []
    out.append((m, C))
    for k in range(steps):
        a, d = float(schedule.alpha_k(k)), float(schedule.Delta_k(k))
        B = np.eye(2) - a * A
        m, C = B @ m, B @ C @ B.T + a * a * d * A @ A
        out.append((m, C))
    return out


# --------------------------------------------------------------------------
# The transient FEM
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def transient():
    sizes = fmesh.MeshSizes(radius=2.0, center=(0.0, 0.0), h_min=0.1, h_max=0.1, box_hx=2.0, box_hy=2.0)
    msh, _ = fmesh.create_disk(sizes, MPI.COMM_SELF)
    tr = dynamics.Transient(Operator.of_model(msh, _model(), wall="reflecting"))
    yield tr
    tr.destroy()


def test_constant_schedule_is_todays_transient(transient):
    from fpsolve import _compat

    finals = []
    for schedule in (None, Schedule.constant(ALPHA, DELTA)):
        p = transient.gaussian(M0, covariance=S0)
        ev = transient.run(p, 2.0, tol=1e-4, schedule=schedule)
        finals.append((_compat.petsc_vec(p).getArray().copy(), ev))
    (a, ev_a), (b, ev_b) = finals
    assert ev_a.steps == ev_b.steps and ev_b.info["defect_corrections"] == 0
    assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(a))
    for name in dynamics.OBSERVABLES[:7]:
        np.testing.assert_allclose(ev_b.column(name), ev_a.column(name), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ev_b.column("T"), ALPHA * DELTA)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_fem_mean_and_covariance_follow_the_lyapunov_ode(transient, name):
    schedule = SCHEDULES[name]()
    ev = transient.run(transient.gaussian(M0, covariance=S0), TIMES[-1], tol=1e-5, stops=TIMES, schedule=schedule)
    t = ev.column("t")
    for jump in schedule.jumps(TIMES[-1]):  # the steps land on every jump of T
        assert np.any(t == jump)
    for tt, (m, C) in _lyapunov(schedule, TIMES).items():
        row = ev.rows[int(np.flatnonzero(t == tt)[0])]
        got = [row["mean_theta1"], row["mean_theta2"], row["var_theta1"], row["var_theta2"]]
        want = [m[0], m[1], C[0, 0], C[1, 1]]
        assert np.max(np.abs(np.subtract(got, want))) < 1e-4, (name, tt, got, want)
        assert row["T"] == pytest.approx(float(schedule.T(tt)))


# --------------------------------------------------------------------------
# Monte Carlo: SGD and the SDE twin
# --------------------------------------------------------------------------

WALKERS = 4000


def _check_within_3se(pos: np.ndarray, m: np.ndarray, C: np.ndarray, label) -> None:
    n = len(pos)
    mean, var = pos.mean(axis=0), pos.var(axis=0, ddof=1)
    for i in range(2):
        se_m = math.sqrt(C[i, i] / n)
        se_v = C[i, i] * math.sqrt(2.0 / (n - 1))  # Gaussian ensemble
        assert abs(mean[i] - m[i]) < 3 * se_m, (label, i, mean[i], m[i], se_m)
        assert abs(var[i] - C[i, i]) < 3 * se_v, (label, i, var[i], C[i, i], se_v)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_sgd_covariance_follows_the_exact_recursion(name):
    schedule = SCHEDULES[name]()
    res = mc.run(_model(), method="sgd", walkers=WALKERS, time=TIMES[-1], seed=5, radius=math.inf,
                 sample_from=tuple(M0), burn_in=0.0, snapshot_times=TIMES, schedule=schedule,
                 hist_edges=(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)))
    steps = res.summary["steps"]
    clock = schedule.time_of(np.arange(steps + 1))
    assert clock[-1] >= TIMES[-1] > clock[-2]
    exact = _sgd_exact(schedule, steps)
    for t in TIMES:
        k = int(np.argmin(np.abs(clock - t)))
        key = min(res.snapshots, key=lambda s: abs(s - t))
        assert key == pytest.approx(clock[k], abs=1e-12)
        _check_within_3se(res.snapshots[key], *exact[k], (name, t))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_sde_twin_follows_the_lyapunov_ode(name):
    schedule = SCHEDULES[name]()
    # the ODE from the point M0 (covariance 0): the walkers all start there
    def rhs(t, z):
        m, C = z[:2], z[2:].reshape(2, 2)
        return np.concatenate([-A @ m, (-A @ C - C @ A + float(schedule.T(t)) * A @ A).ravel()])

    res = mc.run(_model(), method="sde", dt=0.005, walkers=WALKERS, time=TIMES[-1], seed=6, radius=math.inf,
                 sample_from=tuple(M0), burn_in=0.0, snapshot_times=TIMES, schedule=schedule,
                 hist_edges=(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)))
    z, t0 = np.concatenate([M0, np.zeros(4)]), 0.0
    for t in TIMES:
        for t1 in [*[j for j in schedule.jumps(TIMES[-1]) if t0 < j < t], t]:
            z = scipy.integrate.solve_ivp(rhs, (t0, t1), z, rtol=1e-11, atol=1e-14, max_step=0.01).y[:, -1]
            t0 = t1
        _check_within_3se(res.snapshots[min(res.snapshots, key=lambda s: abs(s - t))], z[:2],
                          z[2:].reshape(2, 2), (name, t))


def test_constant_schedule_monte_carlo_is_todays_bit_for_bit():
    kw = dict(walkers=300, time=2.0, seed=2, sample_from=tuple(M0), snapshot_times=(1.0, 2.0),
              hist_edges=(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)))
    for method in ("sgd", "sde"):
        a = mc.run(_model(), method=method, **kw)
        b = mc.run(_model(), method=method, schedule=Schedule.constant(ALPHA, DELTA), **kw)
        assert list(a.snapshots) == list(b.snapshots)
        for t in a.snapshots:
            np.testing.assert_array_equal(a.snapshots[t], b.snapshots[t])
        np.testing.assert_array_equal(a.hist, b.hist)


def test_scheduled_monte_carlo_does_not_depend_on_the_thread_count():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread only: nothing to compare")  # not a pass: reported as a skip
    kw = dict(method="sgd", walkers=257, time=3.0, seed=9, sample_from=tuple(M0), snapshot_times=(3.0,),
              schedule=SCHEDULES["step"](), hist_edges=(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = mc.run(_model(), **kw)
        numba.set_num_threads(2)
        b = mc.run(_model(), **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.final, b.final)
    np.testing.assert_array_equal(a.hist, b.hist)


# --------------------------------------------------------------------------
# Command lines
# --------------------------------------------------------------------------

@pytest.mark.parametrize("script, args, words", [
    ("sample_sgd.py", ["--schedule", "linear"], "unknown schedule 'linear'"),
    ("sample_sgd.py", ["--schedule", "step", "--schedule-param", "gamma=0.5", "--schedule-param", "kz=3"],
     "unknown schedule parameter 'kz'"),
    ("sample_sgd.py", ["--schedule", "cosine", "--schedule-param", "K=10", "--schedule-param", "alpha_min=-1"],
     "alpha_min=-1"),
    ("sample_sgd.py", ["--schedule", "cosine", "--schedule-param", "K=10", "--schedule-param", "alpha_min=nan"],
     "alpha_min='nan'"),
    ("sample_sgd.py", ["--alpha-schedule", "0.05*(1 + 100*Heaviside(t - 1))"], "exceeds the SGD stability bound"),
    ("sample_sgd.py", ["--Delta-schedule=1 - t"], "Delta schedule '1 - t' is"),
    ("evolve_fp.py", ["--alpha-schedule", "0.05*(1 + "], "syntax error"),
    ("evolve_fp.py", ["--schedule-param", "K=3"], "--schedule-param needs --schedule NAME"),
])
def test_bad_schedule_options_exit_2_one_line_nothing_written(tmp_path, script, args, words):
    res = run_script(script, *args, "--out", str(tmp_path / "out"), *(["--time", "5"] if script == "sample_sgd.py"
                                                                      else ["--t-end", "5"]))
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_anneal_script_at_tiny_size(tmp_path):
    """scripts/anneal.py (docs/model.md §10) on an OU process with isotropic noise, where the stationary
    density at any T is the Gibbs density: mean |θ1| = sqrt(T/π).  A one-step cosine leaves the hot
    stationary density alone; one over 2000 steps (t = 60, the slow relaxation time is 1/2) ends at the
    cold stationary value; SDE and SGD agree with the FEM within 3 standard errors."""
    import json

    res = run_script("anneal.py", "--loss", LOSS, "--noise", "isotropic", "--alpha", "0.05", "--Delta", "1",
                     "--alpha-cold", "0.01", "--radius", "1", "--h-min", "0.05", "--K", "1", "2000",
                     "--walkers", "400", "--hold", "20", "--out", str(tmp_path / "anneal"))
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads((tmp_path / "anneal" / "anneal.json").read_text())
    hot, cold = math.sqrt(0.05 / math.pi), math.sqrt(0.01 / math.pi)
    assert s["start_mean_abs_theta1_fem"] == pytest.approx(hot, rel=1e-3)
    quench, slow = s["rows"]
    assert (quench["K"], slow["K"]) == (1, 2000)
    assert quench["fem_mean_abs_theta1"] == pytest.approx(s["start_mean_abs_theta1_fem"], rel=1e-4)
    assert slow["fem_mean_abs_theta1"] == pytest.approx(cold, rel=2e-2)
    for row in (quench, slow):
        for m in ("sde", "sgd"):
            assert abs(row[f"{m}_mean_abs_theta1"] - row["fem_mean_abs_theta1"]) < 3 * row[f"{m}_mean_abs_theta1_se"]
    assert (tmp_path / "anneal" / "anneal.png").stat().st_size > 0
