"""docs/model.md §9, the model: the N-dimensional valley against the two-variable
valley (m = 1, exactly), finite differences, the dense Hessian and D = (T/2) H²,
and every invalid-input rule."""

from __future__ import annotations

import numpy as np
import pytest

from fpsolve.model import valley
from fpsolve.model.nvalley import (NValley, apply_noise_factor, check_covariance, covariance_factor,
                                   diffusion_arrow, diffusion_matrix)
from fpsolve.model.valley import Landscape
from fpsolve.tools.errors import InputError

MIXED = NValley(eps=0.02, a0=[1.0, 1.2, 0.8], a2=[-1.0, 0.5, -0.3], a4=[0.5, 0.1, 0.2])


def _walkers(m, n=50, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, n), rng.uniform(-0.5, 0.5, (n, m))


@pytest.mark.parametrize("preset", list(valley.PRESETS))
def test_one_fast_direction_is_the_two_variable_valley(preset):
    land = Landscape.from_preset(preset)
    nv = NValley.from_preset(preset, fast_directions=1)
    assert nv == NValley.from_landscape(land, 1) and nv.name == preset and nv.n_variables == 2
    x, y = _walkers(1)
    assert np.array_equal(nv.loss(x, y), land.loss(x, y[:, 0]))
    gx, gy = nv.gradient(x, y)
    lx, ly = land.gradient(x, y[:, 0])
    assert np.array_equal(gx, lx) and np.array_equal(gy[:, 0], ly)
    h = nv.hessian_arrow(x, y)
    lh = land.hessian(x, y[:, 0])
    assert np.array_equal(h[0], lh[0]) and np.array_equal(h[1][:, 0], lh[1]) and np.array_equal(h[2][:, 0], lh[2])
    assert np.array_equal(nv.flatness(x), land.flatness(x))
    for cross, noise in ((True, "sgd"), (False, "sgd-diagonal")):
        d = diffusion_arrow(nv, x, y, 0.05, noise)
        d11, d12, d22 = valley.diffusion(x, y[:, 0], 0.05, *land.coefficients, cross=cross)
        np.testing.assert_allclose(d.xx, d11, rtol=1e-14)
        np.testing.assert_allclose(d.xy[:, 0], d12, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(d.yy[:, 0] + d.u[:, 0] ** 2, d22, rtol=1e-14)


def test_gradient_and_arrow_hessian_match_finite_differences():
    x, y = _walkers(3)
    h = 1e-6
    gx, gy = MIXED.gradient(x, y)
    np.testing.assert_allclose(gx, (MIXED.loss(x + h, y) - MIXED.loss(x - h, y)) / (2 * h), rtol=1e-7, atol=1e-8)
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        np.testing.assert_allclose(gy[:, i], (MIXED.loss(x, y + e) - MIXED.loss(x, y - e)) / (2 * h), rtol=1e-7, atol=1e-8)
    h_xx, h_xy, h_yy = MIXED.hessian_arrow(x, y)
    np.testing.assert_allclose(h_xx, (MIXED.gradient(x + h, y)[0] - MIXED.gradient(x - h, y)[0]) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h_xy, (MIXED.gradient(x + h, y)[1] - MIXED.gradient(x - h, y)[1]) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h_yy, MIXED.g(x), rtol=0)
    np.testing.assert_allclose(MIXED.d2g(x), (MIXED.dg(x + h) - MIXED.dg(x - h)) / (2 * h), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(MIXED.flatness(x), MIXED.g(x).sum(axis=-1) ** -0.5, rtol=1e-15)


def test_arrow_products_and_diffusion_equal_the_dense_matrices():
    x, y = _walkers(3, n=4)
    rng = np.random.default_rng(2)
    v_x, v_y = rng.normal(size=4), rng.normal(size=(4, 3))
    hv_x, hv_y = MIXED.apply_hessian(x, y, v_x, v_y)
    T = 0.07
    for k in range(4):
        H = MIXED.hessian_matrix(x[k], y[k])
        np.testing.assert_allclose(np.r_[hv_x[k], hv_y[k]], H @ np.r_[v_x[k], v_y[k]], rtol=1e-13)
        D = diffusion_matrix(MIXED, x[k], y[k], T, "sgd")
        np.testing.assert_allclose(D, 0.5 * T * H @ H, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(diffusion_matrix(MIXED, x[k], y[k], T, "sgd-diagonal"), np.diag(np.diag(D)), rtol=1e-13)
        np.testing.assert_allclose(diffusion_matrix(MIXED, x[k], y[k], T, "isotropic"), 0.5 * T * np.eye(4), rtol=0)
    # B Bᵀ = 2D for every kind: the covariance of B z over the standard basis.
    for noise in ("sgd", "sgd-diagonal", "isotropic"):
        cols = [apply_noise_factor(MIXED, x[0], y[0], T, noise, np.eye(4)[j, 0], np.eye(4)[j, 1:]) for j in range(4)]
        B = np.array([np.r_[bx, by] for bx, by in cols]).T
        np.testing.assert_allclose(B @ B.T, 2 * diffusion_matrix(MIXED, x[0], y[0], T, noise), rtol=1e-12, atol=1e-16)
    S = np.array([[2.0, 0.5, 0, 0], [0.5, 1.0, 0, 0], [0, 0, 1e-3, 0], [0, 0, 0, 0.0]])
    np.testing.assert_allclose(diffusion_matrix(MIXED, 0.0, np.zeros(3), T, S, alpha=0.1), 0.05 * S)
    R = covariance_factor(check_covariance(S, 4))
    np.testing.assert_allclose(R @ R.T, S, atol=1e-15)
    bx, by = apply_noise_factor(MIXED, 0.0, np.zeros(3), T, S, 1.0, np.zeros(3), alpha=0.25)
    np.testing.assert_allclose(np.r_[bx, by], 0.5 * R[:, 0], rtol=1e-14)


def test_per_direction_overrides_and_validation():
    nv = NValley.from_preset("double-well", fast_directions=3, a0=[1, 1.2, 0.8], eps=0.02)
    assert nv.name == "custom" and nv.m == 3 and nv.eps == 0.02
    assert nv.a0.tolist() == [1, 1.2, 0.8] and nv.a2.tolist() == [-1, -1, -1] and nv.a4.tolist() == [0.5] * 3
    with pytest.raises(ValueError):
        nv.a0[0] = 5.0                                      # read-only
    assert NValley.from_preset(fast_directions=4).identical and not nv.identical
    assert nv.as_dict() == {"preset": "custom", "fast_directions": 3, "eps": 0.02,
                            "a0": [1, 1.2, 0.8], "a2": [-1.0] * 3, "a4": [0.5] * 3}
    nv.check_positive(2.0)
    nv.check_positive(float("inf"))
    bad = NValley(eps=0.01, a0=[1.0, 1.0], a2=[-1.0, -3.0], a4=[0.5, 0.5])
    with pytest.raises(InputError, match=r"g_1\(x\) = -3.5 <= 0 at x = 1.73205"):
        bad.check_positive(2.0)
    bad.check_positive(0.5)
    with pytest.raises(InputError, match="g_0.*large"):
        NValley(eps=0.01, a0=[1.0], a2=[-0.1], a4=[0.0]).check_positive(float("inf"))
    with pytest.raises(InputError, match=r"g_0\(x\) = -2 <= 0 at x = 2"):
        NValley(eps=0.01, a0=[1.0], a2=[0.0], a4=[-0.1875]).check_positive(2.0)
    for kwargs, message in (
        (dict(fast_directions=0), "fast_directions"),
        (dict(fast_directions=2.5), "fast_directions"),
        (dict(fast_directions="3"), "fast_directions"),
        (dict(fast_directions=2, a0=[1, 2, 3]), r"a0 needs 1 or m = 2 values \(one per fast direction\), got 3"),
        (dict(fast_directions=2, a2=[1, float("nan")]), r"a2\[1\] must be a finite"),
        (dict(fast_directions=2, a0=[1, 0]), r"a0\[1\] must be > 0"),
        (dict(fast_directions=2, b=1), "unknown landscape parameter"),
        (dict(fast_directions=1, eps=-1), "eps must be >= 0"),
    ):
        with pytest.raises(InputError, match=message):
            NValley.from_preset("double-well", **kwargs)
    with pytest.raises(InputError, match="unknown preset"):
        NValley.from_preset("nope", fast_directions=2)
    with pytest.raises(InputError, match="freezes x"):
        NValley(eps=0.0, a0=[1.0, 2.0], a2=[0.0, 0.0], a4=[0.0, 0.0])
    with pytest.raises(InputError, match="last axis"):
        MIXED.loss(0.0, [0.0, 0.0])
    with pytest.raises(InputError, match="positive semi-definite"):
        check_covariance(np.diag([1.0, -0.1, 1.0, 1.0]), 4)
    with pytest.raises(InputError, match="symmetric"):
        check_covariance(np.array([[1.0, 0.2], [0.0, 1.0]]), 2)
    with pytest.raises(InputError, match="4 x 4"):
        check_covariance(np.eye(3), 4)
    with pytest.raises(InputError, match="noise must be one of"):
        diffusion_arrow(MIXED, 0.0, np.zeros(3), 0.1, "gauss")
