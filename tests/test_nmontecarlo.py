"""Monte Carlo in N dimensions (docs/model.md §9): the valley with m fast
directions, quadratic losses against their exact Gaussian covariances,
Gibbs moments of an N-variable expression, and the m = 1 valley against the
two-dimensional kernels."""

from __future__ import annotations

import math
import types

import numba
import numpy as np
import pytest
from scipy import integrate

from fpsolve.mc import ensemble, nensemble
from fpsolve.model.expression import Model, as_model
from fpsolve.model.quadratic import Quadratic
from fpsolve.model.valley import Landscape, ModelError, Noise

DOUBLE_WELL = Landscape.from_preset("double-well")


def valley(m: int, land: Landscape = DOUBLE_WELL):
    """The valley with m identical fast directions (the fields NValley has)."""
    return types.SimpleNamespace(eps=land.eps, a0=np.full(m, land.a0), a2=np.full(m, land.a2),
                                 a4=np.full(m, land.a4), as_dict=lambda: {"m": m})


# ---- m = 1 is the two-dimensional valley, bit for bit ----------------------------------

@pytest.mark.parametrize("method, shift, cross, noise", [
    ("sgd", "linear", True, Noise(0.05, 1.0)),
    ("sgd", "exact", True, Noise(0.05, 0.2)),
    ("sde", "linear", True, Noise(0.1, 3.0)),   # walkers reach the wall: the bridge test runs
    ("sde", "linear", False, Noise(0.05, 1.0)),
])
def test_m1_reproduces_the_2d_kernels(method, shift, cross, noise):
    kw = dict(method=method, shift=shift, walkers=150, steps=1500, seed=11, burn_in=5.0)
    if method == "sde":
        kw["dt"] = 0.01
    two = ensemble.run(DOUBLE_WELL, noise, cross=cross, **kw)
    n = nensemble.run(valley(1), noise, noise_model="sgd" if cross else "sgd-diagonal", **kw)
    assert np.allclose(n.final, two.final, rtol=0, atol=1e-12, equal_nan=True)
    assert np.array_equal(n.status, two.status)
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta1", "survival_fraction"):
        assert n.summary[key] == pytest.approx(two.summary[key], abs=1e-12)
    assert n.summary["var_y"][0] == pytest.approx(two.summary["var_theta2"], abs=1e-12)
    assert np.array_equal(n.hist_abs_theta1, two.hist_abs_theta1)
    if method == "sde" and cross:
        assert n.summary["absorbed_count"] >= 3  # the bridge and the wall were exercised


def test_threads_do_not_change_the_numbers():
    kw = dict(method="sde", dt=0.01, walkers=203, steps=800, seed=5, burn_in=2.0)
    noise = Noise(0.05, 2.0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = nensemble.run(valley(7), noise, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = nensemble.run(valley(7), noise, **kw)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.final, two.final) and np.array_equal(one.status, two.status)
    assert one.summary["var_theta"] == two.summary["var_theta"]
    assert np.array_equal(one.hist_theta1, two.hist_theta1)


# ---- quadratic loss ½ θᵀAθ: exact covariances ----------------------------------------

def rotated(n: int, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q @ np.diag(np.linspace(0.5, 2.0, n)) @ q.T


def probes(A: np.ndarray) -> list:
    """Unit vectors whose variance we compare: the stiffest and softest
    eigen-directions, the first axis and the diagonal (5 numbers with tr C)."""
    lam, Q = np.linalg.eigh(A)
    n = len(A)
    return [Q[:, 0], Q[:, -1], np.eye(n)[0], np.ones(n) / math.sqrt(n)]


def second_moments(theta: np.ndarray, A: np.ndarray):
    """(values, standard errors) of |θ|² and (vᵀθ)² over independent walkers (the mean is 0 exactly)."""
    samples = [np.sum(theta ** 2, axis=1)] + [(theta @ v) ** 2 for v in probes(A)]
    return (np.array([s.mean() for s in samples]),
            np.array([s.std(ddof=1) / math.sqrt(len(s)) for s in samples]))


def exact_moments(C: np.ndarray, A: np.ndarray) -> np.ndarray:
    return np.array([np.trace(C)] + [v @ C @ v for v in probes(A)])


CASES = [(10, "diagonal"), (10, "rotated"), (100, "rotated")]


@pytest.mark.parametrize("n, kind", CASES)
@pytest.mark.parametrize("noise", ["isotropic", "sgd"])
def test_quadratic_sgd_matches_the_discrete_recursion(n, kind, noise):
    A = np.diag(np.linspace(0.5, 2.0, n)) if kind == "diagonal" else rotated(n)
    q = Quadratic(A, noise, alpha=0.05, Delta=0.2)
    walkers = 4000 if n == 10 else 400
    r = nensemble.run(q, method="sgd", walkers=walkers, time=12.0, seed=2, radius=math.inf)
    got, se = second_moments(r.final, A)
    want = exact_moments(q.covariance_sgd(), A)
    assert np.all(np.abs(got - want) < 3 * se), (got, want, se)
    # the exact recursion differs from the continuous limit by O(α): the test can tell them apart
    assert np.abs(exact_moments(q.covariance_sde(), A) - want).max() > 0.2 * se.min()


@pytest.mark.parametrize("n, kind", CASES)
@pytest.mark.parametrize("noise", ["isotropic", "sgd"])
def test_quadratic_sde_matches_the_lyapunov_solution(n, kind, noise):
    """Euler–Maruyama at dt and dt/2, extrapolated (2 C(dt/2) − C(dt)) against A C + C A = 2D."""
    A = np.diag(np.linspace(0.5, 2.0, n)) if kind == "diagonal" else rotated(n)
    q = Quadratic(A, noise, alpha=0.05, Delta=0.2)
    walkers = 4000 if n == 10 else 200
    runs = [nensemble.run(q, method="sde", dt=dt, walkers=walkers, time=12.0, seed=s, radius=math.inf)
            for dt, s in ((0.04, 3), (0.02, 4))]
    (c1, s1), (c2, s2) = (second_moments(r.final, A) for r in runs)
    got, se = 2 * c2 - c1, np.sqrt(4 * s2 ** 2 + s1 ** 2)
    want = exact_moments(q.covariance_sde(), A)
    assert np.all(np.abs(got - want) < 3 * se), (got, want, se)


def test_quadratic_refusals():
    with pytest.raises(ModelError, match="positive definite"):
        Quadratic(np.diag([1.0, -1.0, 2.0]))
    with pytest.raises(ModelError, match="exact"):
        nensemble.run(Quadratic(np.eye(3), "isotropic"), shift="exact", walkers=2, steps=2)


# ---- N-variable expression models -----------------------------------------------------

def test_expression_model_gibbs_moments():
    """Isotropic noise, L = Σ_j (a_j θ_j²/2 + θ_j⁴/4) in N = 5: the Gibbs density
    exp(−2L/T) factorises, so ⟨θ_j²⟩ are 1-D integrals (quadrature)."""
    a = [0.5, 1.0, 1.5, 2.0, 3.0]
    text = " + ".join(f"{aj}*theta{j + 1}**2/2 + theta{j + 1}**4/4" for j, aj in enumerate(a))
    T = 0.4
    model = Model.from_expression(text, noise="isotropic", alpha=0.05, T=T)
    assert model.n_variables == 5
    r = nensemble.run(model, method="sde", dt=0.002, walkers=400, time=60.0, burn_in=10.0, seed=7)
    s = r.summary
    assert s["survival_fraction"] == 1.0
    for j, aj in enumerate(a):
        w = lambda t: math.exp(-2.0 * (aj * t * t / 2 + t ** 4 / 4) / T)
        want = integrate.quad(lambda t: t * t * w(t), -4, 4)[0] / integrate.quad(w, -4, 4)[0]
        got, se = s["var_theta"][j], s["var_theta_se"][j]
        assert abs(got - want) < 3 * se, (j, got, want, se)
        assert se < 0.02 * want  # a test that can fail
    # tr H = Σ (a_j + 3 θ_j²) along the run
    assert s["mean_trace_hessian"] == pytest.approx(sum(a) + 3 * sum(s["var_theta"]), rel=2e-3)


def test_expression_model_n_variables_and_refusals():
    m = Model.from_expression("theta1**2 + theta2**2 + theta3**2*theta1**2 + theta4**2", noise="sgd")
    assert m.n_variables == 4 and m.derivation.hessian[0][2] == m.derivation.hessian[2][0]
    H = m.evaluate("hessian", np.array([[0.5, 0.0, 1.0, 0.0]]))[0]
    assert H[0, 0] == pytest.approx(2 + 2 * 1.0) and H[0, 2] == pytest.approx(4 * 0.5 * 1.0)
    with pytest.raises(ModelError, match="N = 4"):
        as_model(m)  # the FEM's door
    with pytest.raises(ModelError, match="N = 3 variables"):
        Model.from_expression("theta7**2", variables=3)
    with pytest.raises(ModelError, match="covariance"):
        Model.from_expression("theta1**2 + theta3**2", noise=("1", "0", "1"))
    # two variables: unchanged (the valley is still recognised)
    two = Model.from_expression("0.5*(1 - x**2 + 0.5*x**4)*y**2 + 0.005*x**2")
    assert two.n_variables == 2 and two.valley is not None and "variables" not in two.as_dict()


# ---- the valley with m = 2 fast directions (MODEL.md §9) ------------------------------

def test_valley_m2_against_the_measured_values():
    """MODEL.md §9: default g, ε = 0.01, T = 0.05, sgd noise, sphere R = 2, SDE dt 0.01,
    t = 500…1500: mean |x| 0.8121 ± 0.0002, Var y_1 0.01391 (2000 walkers).  400 walkers
    here: the tolerance is 3 standard errors of this run and of the reference combined."""
    r = nensemble.run(valley(2), Noise(0.05, 1.0), method="sde", dt=0.01, walkers=400, time=1500.0,
                      burn_in=500.0, seed=1)
    s = r.summary
    assert abs(s["mean_abs_theta1"] - 0.8121) < 3 * math.hypot(s["mean_abs_theta1_se"], 0.0002)
    assert abs(s["var_y"][0] - 0.01391) < 3 * s["var_y_se"][0] + 1e-4
    assert abs(s["var_y"][1] - 0.01391) < 3 * s["var_y_se"][1] + 1e-4
    assert s["mean_abs_theta1_se"] < 0.002
    # the flatness along the run: F = (2 g(x))^(-1/2), larger than at x = 0 (1/sqrt 2)
    assert s["mean_flatness"] > 0.9


def test_valley_refusals():
    with pytest.raises(ModelError, match="noise_model"):
        nensemble.run(valley(3), Noise(0.05, 1.0), noise_model="bogus", walkers=2, steps=2)
    with pytest.raises(ModelError, match="GiB"):
        nensemble.run(valley(100_000), Noise(0.05, 1.0), walkers=10 ** 6, steps=2)
    with pytest.raises(ModelError, match="inside the ball"):
        nensemble.run(valley(3), Noise(0.05, 1.0), walkers=2, steps=2, sample_from=np.full(4, 1.5))


def test_block_normals_are_the_stream_numbers():
    # rng._normals_into (a walker-step's N normals in vectorised passes) gives
    # number base + j of the stream bit for bit, rejections (2.7 %) included
    from fpsolve.mc.rng import _normal, _normals_into, walker_keys

    @numba.njit
    def both(key, base, n):
        out, words, ref = np.empty(n), np.empty(n, dtype=np.uint64), np.empty(n)
        _normals_into(key, base, out, words)
        for j in range(n):
            ref[j] = _normal(key, base + np.uint64(j))
        return out, ref

    for key in walker_keys(3, np.arange(3)):
        for n, base in ((1, 0), (2, 10), (11, 12345), (1001, 7 * 1001)):
            out, ref = both(key, np.uint64(base), n)
            np.testing.assert_array_equal(out, ref)


def test_batch_normals_are_the_stream_numbers():
    # rng._normals_batch (B walkers' N normals of one step in one pass, as the
    # valley kernel lays them out) gives number base + j of walker r's stream
    from fpsolve.mc.rng import _normal, _normals_batch, walker_keys

    @numba.njit
    def both(keys, n, base):
        b = keys.shape[0]
        kflat, offsets = np.empty(b * n, dtype=np.uint64), np.empty(b * n, dtype=np.uint64)
        for q in range(b * n):
            kflat[q], offsets[q] = keys[q // n], q % n
        out, words = np.full(b * n + 3, 7.0), np.empty(b * n + 3, dtype=np.uint64)
        _normals_batch(kflat, offsets, base, b * n, out, words)
        ref = np.empty(b * n)
        for q in range(b * n):
            ref[q] = _normal(keys[q // n], base + np.uint64(q % n))
        return out, ref

    keys = walker_keys(5, np.arange(64))
    for n, base in ((1, 0), (2, 10), (11, 12345), (101, 7 * 101)):
        out, ref = both(keys[:max(1, 1024 // n)], n, np.uint64(base))
        np.testing.assert_array_equal(out[:ref.size], ref)
        assert np.all(out[ref.size:] == 7.0)  # nothing written past count
