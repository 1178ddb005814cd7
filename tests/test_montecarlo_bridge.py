"""The Brownian-bridge exit test of the SDE sampler (docs/model.md §8): Monte
Carlo escape rates converge to the FEM eigenvalue λ0 (single well, T = 0.2)
instead of carrying the O(√dt) bias of missed crossings."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from conftest import SINGLE_WELL_LAMBDA0

from fpsolve.mc import ensemble as mc
from fpsolve.mc import kernels
from fpsolve.fem import stationary as solver
from fpsolve.model.valley import Landscape, ModelError, Noise
from fpsolve.model.expression import Model
from fpsolve.validation.three_way import _escape

SINGLE = Landscape.from_preset("single-well")
NOISE = Noise.from_temperature(0.2, 0.05)
BURN, TIME = 30.0, 230.0   # burn-in: > 3 relaxation times 1/(ε + a2 T a0/2) = 9.1


#: The single well written as an expression of its own (not the preset's
#: VALLEY_EXPRESSION): Monte Carlo runs it with the generated kernels of
#: fpsolve.mc.codegen, docs/model.md §7.
SINGLE_TEXT = "0.5*(1 + theta1**2)*theta2**2 + 0.005*theta1**2"


@functools.lru_cache(maxsize=None)
def _rate(walkers: int, bridge: bool, dt: float = 0.01, cross: bool = True, custom: bool = False) -> dict:
    if custom:
        # the expression is recognised as the valley: kernels="generated" keeps it on generated code
        case = dict(model=Model.from_expression(SINGLE_TEXT, {}, "sgd" if cross else "sgd-diagonal",
                                                alpha=NOISE.alpha, T=NOISE.T), kernels="generated")
    else:
        case = dict(model=SINGLE, noise=NOISE, cross=cross)
    res = mc.run(**case, method="sde", dt=dt, walkers=walkers, time=TIME, seed=4, burn_in=BURN,
                 bridge=bridge, survival_points=401, hist_edges=(np.linspace(-2, 2, 3), np.linspace(-2, 2, 3)))
    assert res.summary["brownian_bridge"] is (bridge is not False)
    return _escape([res], walkers, BURN)


@functools.lru_cache(maxsize=None)
def _lambda0(cross: bool = True) -> float:
    return solver.solve(SINGLE, NOISE, cross=cross).summary["escape_rate"]


def test_bridge_probability_is_the_reflection_principle():
    # 1-D Brownian bridge between a and b above a wall, variance s per unit time:
    # P(touch) = exp(−2ab/(s dt)); n·D n = s/2 along the normal
    a, b, s, dt = 0.03, 0.05, 0.4, 0.01
    p = kernels.bridge_probability(a, b, s / 2, 0.0, 123.0, 1.0, 0.0, dt)
    assert p == pytest.approx(math.exp(-2 * a * b / (s * dt)), rel=1e-14)
    # a tilted normal weighs D along it: n·D n with n = (1, 1)/√2
    p = kernels.bridge_probability(a, b, 0.1, 0.05, 0.2, 2 ** -0.5, 2 ** -0.5, dt)
    assert p == pytest.approx(math.exp(-2 * a * b / (2 * 0.2 * dt)), rel=1e-14)
    # a Monte-Carlo check of the formula on fine bridges
    rng = np.random.default_rng(0)
    n, m = 4000, 2000
    steps = rng.normal(0.0, math.sqrt(s * dt / m), (n, m)).cumsum(axis=1)
    t = np.arange(1, m + 1) / m
    paths = a + steps - t * (steps[:, -1:] - (b - a))   # pinned at a and b
    touched = np.mean(paths.min(axis=1) <= 0.0)
    assert touched == pytest.approx(math.exp(-2 * a * b / (s * dt)), abs=4 * math.sqrt(0.25 / n) + 0.01)


def test_escape_rate_with_the_bridge_is_the_fem_eigenvalue():
    lam = _lambda0()
    bridged = _rate(12000, True)
    assert bridged["exits"] > 2000
    # within 3 % of λ0 at dt = 0.01 (the statistical error is 1.9 %)
    assert bridged["rate"] == pytest.approx(lam, rel=0.03), (bridged, lam)
    # without it, the missed crossings show: about 20 % low at this dt
    plain = _rate(4000, False)
    assert plain["rate"] < 0.9 * lam, (plain, lam)


@pytest.mark.parametrize("cross, walkers", [(True, 12000), (False, 12000)])
def test_generated_kernels_bridge_like_the_preset(cross, walkers):
    # the single well as a custom expression (generated numba kernels) with the
    # bridge on by default: the same escape rate as the preset's kernel, and
    # within 3 % of the FEM λ0 (converged 1.5970e-3 full noise, 6.5232e-4
    # without cross-diffusion; measured 1.6014e-3 ± 1.8 % and 6.586e-4 ± 2.6 %)
    custom = _rate(walkers, None, cross=cross, custom=True)
    preset = _rate(walkers, True, cross=cross)
    # same seed, same random streams: the paths differ by round-off only, so
    # the rates agree far inside one standard error
    assert abs(custom["rate"] - preset["rate"]) <= 0.1 * preset["rate_se"], (custom, preset)
    lam = _lambda0(cross)
    assert lam == pytest.approx(SINGLE_WELL_LAMBDA0[cross], rel=3e-3)
    assert custom["rate"] == pytest.approx(lam, rel=0.03), (custom, lam)
    assert abs(custom["rate"] - lam) < 3 * custom["rate_se"], (custom, lam)
    # without the bridge the generated kernels miss crossings as the preset's do
    plain = _rate(2000, False, cross=cross, custom=True)
    assert plain["rate"] < 0.9 * lam, (plain, lam)


def test_bridge_is_for_the_sde_only():
    with pytest.raises(ModelError, match="Brownian-bridge"):
        mc.run(SINGLE, NOISE, method="sgd", walkers=10, steps=10, bridge=True)
    s = mc.run(SINGLE, NOISE, method="sgd", walkers=10, steps=10).summary
    assert s["brownian_bridge"] is False
