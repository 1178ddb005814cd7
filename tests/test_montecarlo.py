"""Monte Carlo of SGD and its SDE (fpsolve.mc.ensemble) against exact results.

Every run is seeded, so each assertion is deterministic; tolerances are
3 standard errors (walkers are the independent units) unless said otherwise.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from scipy import integrate, special, stats

from fpsolve.mc import ensemble as mc
from fpsolve.mc import kernels
from fpsolve.mc import rng
from fpsolve.model.valley import Landscape, ModelError, Noise
from fpsolve.model.target import Box

DOUBLE_WELL = Landscape.from_preset("double-well")


def ou_landscape(k1: float, k2: float) -> Landscape:
    """a2 = a4 = 0: L = ½ k2 θ2² + ½ k1 θ1², constant H = diag(k1, k2): a 2-D OU process."""
    return Landscape(a0=k2, a2=0.0, a4=0.0, eps=k1)


def z(value: float, expected: float, se: float) -> float:
    return abs(value - expected) / se


def test_normals_are_standard_and_numpy_equals_numba():
    keys = rng.walker_keys(2024, np.arange(250_000))
    zs = rng._normals_numba(keys, 3)
    # same integers, same ziggurat: equal up to the last bits of exp/log, which
    # numpy computes with CPU-dependent SIMD code (AMD EPYC: 3 of 5e5 differ by 1 ulp)
    np.testing.assert_allclose(zs, np.column_stack(rng._normal_pair_np(keys, 3)), rtol=0, atol=4e-15)
    x = zs.ravel()
    n = x.size
    assert abs(x.mean()) * math.sqrt(n) < 4
    assert abs(x.var() - 1.0) / math.sqrt(2.0 / n) < 4
    assert abs(stats.kurtosis(x)) / math.sqrt(24.0 / n) < 4
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # the ziggurat's tail beyond R = 3.4426 carries the right mass (1.2 % slow path)
    tail = np.mean(np.abs(x) > rng._ZIG_R)
    expected = 2 * stats.norm.sf(rng._ZIG_R)
    assert abs(tail - expected) < 4 * math.sqrt(expected / n)
    # the two numbers of a step are independent
    assert abs(np.corrcoef(zs[:, 0], zs[:, 1])[0, 1]) * math.sqrt(len(zs)) < 4


@pytest.mark.parametrize("method, shift, cross, radius", [
    ("sgd", "linear", True, 2.0), ("sgd", "linear", True, math.inf), ("sgd", "exact", True, 2.0),
    ("sde", "linear", True, 2.0), ("sde", "linear", False, 2.0)])
def test_numpy_reference_gives_the_same_walkers(method, shift, cross, radius):
    # strong noise, so that the absorption path is exercised too
    kw = dict(method=method, shift=shift, cross=cross, walkers=600, steps=400, seed=9, radius=radius,
              sample_from=lambda i: np.column_stack([np.linspace(-1, 1, len(i)), 0.1 * np.cos(i)]),
              burn_in=5.0, sample_interval=0.2)
    # phase III for the linear shift; the exact shift's jumps need a smaller Δ
    noise = Noise(0.1, 0.5 if shift == "exact" else 3.0)
    a = mc.run(DOUBLE_WELL, noise, engine="numba", **kw)
    b = mc.run(DOUBLE_WELL, noise, engine="numpy", **kw)
    assert 0 < np.count_nonzero(a.status) < 600  # some stopped, some ran on
    assert np.array_equal(a.status, b.status)
    np.testing.assert_allclose(a.final, b.final, rtol=1e-12, atol=1e-14)
    assert np.array_equal(a.hist, b.hist) and np.array_equal(a.hist_abs_theta1, b.hist_abs_theta1)
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "var_theta1", "cov_theta12"):
        assert a.summary[key] == pytest.approx(b.summary[key], rel=1e-10), key
    np.testing.assert_array_equal(a.survival[1], b.survival[1])


def test_ou_2d_stationary_mean_and_covariance_exact():
    k1, k2, T, dt = 0.5, 2.0, 0.1, 0.05
    res = mc.run(ou_landscape(k1, k2), Noise.from_temperature(T, 0.05), method="sde", dt=dt,
                 walkers=4000, time=60.0, burn_in=10.0, sample_interval=1.0, seed=1,
                 sample_from=(0.3, -0.2), radius=math.inf)
    s = res.summary
    # Euler–Maruyama of dθ = −k θ dt + sqrt(T) k dW has the exact stationary
    # variance T k² / (2k − k² dt) (continuum: T k / 2)
    var1 = T * k1 ** 2 / (2 * k1 - k1 ** 2 * dt)
    var2 = T * k2 ** 2 / (2 * k2 - k2 ** 2 * dt)
    zs = [z(s["mean_theta1"], 0.0, s["mean_theta1_se"]), z(s["mean_theta2"], 0.0, s["mean_theta2_se"]),
          z(s["var_theta1"], var1, s["var_theta1_se"]), z(s["var_theta2"], var2, s["var_theta2_se"]),
          z(s["cov_theta12"], 0.0, s["cov_theta12_se"])]
    assert max(zs) < 3, zs
    # the tests can see a wrong variance: the continuum value is 10 SE away for θ2
    assert z(s["var_theta2"], T * k2 / 2, s["var_theta2_se"]) > 3


def test_ou_transient_mean_and_variance_from_a_point():
    k1, k2, T, dt, x0, y0 = 0.5, 2.0, 0.1, 0.05, 0.8, -0.6
    res = mc.run(ou_landscape(k1, k2), Noise.from_temperature(T, 0.05), method="sde", dt=dt,
                 walkers=20000, steps=40, seed=4, sample_from=(x0, y0), snapshot_times=(0.5, 2.0),
                 radius=math.inf)
    for t, pos in res.snapshots.items():
        n = round(t / dt)
        for col, (k, start) in enumerate(((k1, x0), (k2, y0))):
            r = 1 - k * dt
            mean = start * r ** n
            var = T * k * k * dt * (1 - r ** (2 * n)) / (1 - r * r)
            v = pos[:, col]
            assert z(v.mean(), mean, math.sqrt(var / len(v))) < 3
            assert z(v.var(), var, var * math.sqrt(2.0 / len(v))) < 3


def test_linear_shift_sgd_is_euler_maruyama_with_dt_alpha():
    noise = Noise(0.05, 1.0)
    kw = dict(walkers=300, steps=3000, seed=21, sample_from=(0.4, 0.1))
    sgd = mc.run(DOUBLE_WELL, noise, method="sgd", **kw)
    sde = mc.run(DOUBLE_WELL, noise, method="sde", dt=noise.alpha, **kw)
    assert np.array_equal(sgd.status, sde.status)
    # the same trajectories up to round-off (α·sqrt(Δ) vs sqrt(T·dt))
    np.testing.assert_allclose(sgd.final, sde.final, rtol=1e-9, atol=1e-12)
    assert np.abs(sgd.final[:, 0]).mean() > 0.3  # they did go somewhere (the wells at ±0.63)
    # the exact shift is a different algorithm
    exact = mc.run(DOUBLE_WELL, noise, method="sgd", shift="exact", **kw)
    assert np.abs(exact.final - sgd.final).max() > 1e-2


@pytest.mark.parametrize("cross, ref_mean, ref_se, ref_std", [
    (True, 0.00692, 0.00003, 0.00526),    # docs/model.md §6, SDE full noise
    (False, 0.00703, 0.00004, 0.00548),   # docs/model.md §6, SDE without cross-diffusion
])
def test_double_well_T001_against_model_table(cross, ref_mean, ref_se, ref_std):
    T, dt = 0.01, 0.02
    # θ1 relaxes with τ ≈ 100-200 time units (ε + a2 T g/2 = 0.005); start near
    # the stationary width (Gaussian, σ from the table's mean|θ1|) so that a
    # 200-unit burn-in forgets the start (measured: from θ = 0 it needs ~300-400)
    sigma1 = ref_mean * math.sqrt(math.pi / 2)

    def start(index):
        z1, z2 = rng.normals(777, index, 0)
        return np.column_stack([sigma1 * z1, math.sqrt(T / 2) * z2])

    s = mc.run(DOUBLE_WELL, Noise.from_temperature(T, 0.05), method="sde", dt=dt, cross=cross,
               walkers=2000, time=500.0, burn_in=200.0, sample_interval=2.0, seed=1,
               sample_from=start).summary
    assert z(s["mean_abs_theta1"], ref_mean, math.hypot(s["mean_abs_theta1_se"], ref_se)) < 3
    ref_std_se = ref_se * ref_std / ref_mean
    assert z(s["std_abs_theta1"], ref_std, math.hypot(s["std_abs_theta1_se"], ref_std_se)) < 3
    # Var θ2 = T g(0)/2 with the Euler–Maruyama factor 2/(2 − g dt) (docs/numerics.md)
    assert z(s["var_theta2"], T / (2 - dt), s["var_theta2_se"]) < 3
    assert s["survival_fraction"] == 1.0


def test_T001_no_walker_leaves_the_disk_in_1e4_steps():
    s = mc.run(DOUBLE_WELL, Noise.from_temperature(0.01, 0.05), walkers=2000, steps=10_000,
               seed=3).summary
    assert s["survival_fraction"] == 1.0
    assert s["absorbed_fraction"] == 0.0 and s["diverged_fraction"] == 0.0


def test_phase_III_a_clear_fraction_diverges():
    noise = Noise(0.1, 3.0)   # T = 0.3
    free = mc.run(DOUBLE_WELL, noise, walkers=1000, steps=2000, seed=3, radius=math.inf)
    s = free.summary
    assert s["diverged_fraction"] > 0.3 and s["absorbed_fraction"] == 0.0
    times, fraction = free.survival
    assert times[0] == 0.0 and fraction[0] == 1.0
    assert np.all(np.diff(fraction) <= 0)
    assert fraction[-1] == pytest.approx(s["survival_fraction"], abs=0)
    # with the disk R = 2 the same walkers are absorbed before they diverge
    disk = mc.run(DOUBLE_WELL, noise, walkers=1000, steps=2000, seed=3).summary
    assert disk["absorbed_fraction"] > 0.3 and disk["diverged_fraction"] == 0.0
    assert disk["survival_fraction"] <= s["survival_fraction"]


def ou_mean_first_passage(k: float, sigma: float, start: float, level: float) -> float:
    """Exact mean first-passage time of dY = −kY dt + σ dW from start down to level.

    τ = (2/σ²) ∫_level^start dz e^{k z²/σ²} ∫_z^∞ e^{−k u²/σ²} du
      = sqrt(π/k)/σ ∫_level^start erfcx(z sqrt(k)/σ) dz   (Gardiner 5.2.7).
    """
    f = lambda zz: special.erfcx(zz * math.sqrt(k) / sigma)  # noqa: E731
    return math.sqrt(math.pi / k) / sigma * integrate.quad(f, level, start)[0]


def test_first_passage_of_1d_ou_against_exact_mean():
    k, T, dt, y0, w = 1.0, 0.1, 0.002, 0.6, 0.1
    sigma = math.sqrt(T) * k
    kw = dict(method="sde", dt=dt, walkers=4000, time=10.0, seed=12, sample_from=(0.0, y0),
              target=Box((0.0, 0.0), (1e3, w)))
    exact = ou_mean_first_passage(k, sigma, y0, w)
    # without the Brownian bridge a discretely monitored crossing is seen
    # late: the exact value at the level shifted by 0.5826 σ sqrt(dt)
    # (Broadie–Glasserman–Kou) is the reference
    res = mc.run(ou_landscape(1.0, k), Noise.from_temperature(T, 0.05), bridge=False, **kw)
    s = res.summary
    assert s["first_passage_hit_fraction"] == 1.0 and not s["brownian_bridge"]
    shifted = ou_mean_first_passage(k, sigma, y0, w - 0.5826 * sigma * math.sqrt(dt))
    assert z(s["first_passage_mean_time"], shifted, s["first_passage_mean_time_se"]) < 3
    assert s["first_passage_mean_time"] == pytest.approx(np.mean(res.first_passage), rel=1e-12)
    # with the bridge (the SDE's default, docs/model.md §8) the exact value itself;
    # the same walkers arrive no later
    bridged = mc.run(ou_landscape(1.0, k), Noise.from_temperature(T, 0.05), **kw)
    b = bridged.summary
    assert b["brownian_bridge"] and z(b["first_passage_mean_time"], exact, b["first_passage_mean_time_se"]) < 3
    assert np.all(bridged.first_passage <= res.first_passage)
    assert (s["first_passage_mean_time"] - exact) > 2 * (b["first_passage_mean_time"] - exact)


def test_same_seed_same_numbers_with_1_and_2_threads():
    assert numba.config.NUMBA_NUM_THREADS >= 2  # tests/conftest.py asks for two
    kw = dict(method="sgd", walkers=1001, steps=500, seed=5, burn_in=5.0, sample_interval=0.5,
              target=Box((0.63, 0.0), (0.05, 0.05)))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = mc.run(DOUBLE_WELL, Noise(0.05, 1.0), **kw)
        numba.set_num_threads(2)
        two = mc.run(DOUBLE_WELL, Noise(0.05, 1.0), **kw)
    finally:
        numba.set_num_threads(before)
    assert one.summary["numba_threads"] == 1 and two.summary["numba_threads"] == 2
    assert np.array_equal(one.final, two.final) and np.array_equal(one.hist, two.hist)
    assert np.array_equal(one.first_passage, two.first_passage, equal_nan=True)
    skip = {"walker_steps_per_second", "wall_seconds", "numba_threads"}
    assert {k: v for k, v in one.summary.items() if k not in skip} == \
           {k: v for k, v in two.summary.items() if k not in skip}


_FIRST_CALL_ON_TWO_THREADS = """
import sys
import numba, numpy as np
from fpsolve.mc import ensemble as mc
from fpsolve.model.valley import Landscape, Noise
numba.set_num_threads(2)
res = mc.run(Landscape.from_preset("double-well"), Noise(0.05, 1.0), walkers=301, steps=50, seed=3)
np.save(sys.argv[1], res.final)
"""


def test_first_kernel_call_of_a_process_on_two_threads(tmp_path):
    # a fresh process whose first kernel call runs on two threads: numba
    # types the named-tuple arguments there for the first time (it aborted
    # with numba 0.61 when both threads typed them at once); same numbers as
    # one thread in this process.  The abort was a race: four processes
    # (it hit at least one of four in most tries)
    out = tmp_path / "final.npy"
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    for _ in range(4):
        proc = subprocess.run([sys.executable, "-c", _FIRST_CALL_ON_TWO_THREADS, str(out)], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = mc.run(DOUBLE_WELL, Noise(0.05, 1.0), walkers=301, steps=50, seed=3)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(np.load(out), one.final)


def test_histogram_counts_every_window_sample_and_memory_does_not_grow():
    edges = (np.linspace(-1, 1, 41), np.linspace(-0.5, 0.5, 21))
    res = mc.run(DOUBLE_WELL, Noise(0.05, 1.0), walkers=200, steps=1000, seed=2, hist_edges=edges,
                 burn_in=10.0, sample_interval=0.5)
    s = res.summary
    assert s["samples"] == 200 * ((1000 - 200) // 10 + 1)  # window steps 200, 210, ..., 1000
    assert res.hist_theta1.sum() == s["samples"]  # |θ1| < 1 all along
    assert res.hist.sum() + 0 <= s["samples"] and res.hist.shape == (40, 20)
    assert res.hist_abs_theta1.sum() == s["samples"]
    # the same run 10x longer holds arrays of the same sizes (no per-step storage)
    longer = mc.run(DOUBLE_WELL, Noise(0.05, 1.0), walkers=200, steps=10000, seed=2, hist_edges=edges)
    assert longer.hist.shape == res.hist.shape and longer.survival[0].shape == res.survival[0].shape


@pytest.mark.parametrize("kwargs, words", [
    (dict(method="langevin"), "method must be one of"),
    (dict(shift="quadratic"), "shift must be one of"),
    (dict(dt=0.01), "dt is the SDE step"),
    (dict(kernels="fast"), "kernels must be 'valley' or 'generated'"),
    (dict(method="sde", shift="exact"), "shift exact applies to SGD only"),
    (dict(walkers=0), "walkers must be an integer >= 1"),
    (dict(steps=None), "give exactly one of steps and time"),
    (dict(radius=-1.0), "radius must be > 0"),
    (dict(sample_from=np.zeros((3, 2))), "sample_from must be"),
    (dict(hist_edges=([0, 0], [0, 1])), "hist_edges[0] must be increasing"),
    (dict(sample_interval=0.0), "sample_interval must be a finite number > 0"),
    (dict(sample_from=(3.0, 0.0)), "start (3, 0) must lie inside the disk of radius 2"),
    (dict(walkers=10**11), "(100000000000 walkers, 10 steps"),
])
def test_bad_arguments_raise_model_error_naming_them(kwargs, words):
    args = dict(walkers=10, steps=10)
    args.update(kwargs)
    with pytest.raises(ModelError, match=None) as info:
        mc.run(DOUBLE_WELL, Noise(0.05, 1.0), **args)
    assert words in str(info.value)


def test_kernel_cache_is_dropped_when_the_valley_formulas_change(tmp_path):
    formulas = tmp_path / "valley.py"
    formulas.write_text("a = 1\n")
    cache = tmp_path / "__pycache__"
    kernels._drop_stale_kernel_cache(tmp_path, formulas)  # first time: stamps the hash
    kernel = cache / "kernels._advance_chunk-1.py311.nbi"
    other = cache / "valley.cpython-311.pyc"
    kernel.write_text("x")
    other.write_text("x")
    kernels._drop_stale_kernel_cache(tmp_path, formulas)  # unchanged: the cache stays
    assert kernel.exists()
    formulas.write_text("a = 2\n")
    kernels._drop_stale_kernel_cache(tmp_path, formulas)  # changed: the kernel cache goes, nothing else
    assert not kernel.exists() and other.exists()
