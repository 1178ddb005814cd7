"""docs/model.md §1-3 on numpy: derivatives against finite differences, D's
structure, presets and every invalid-input rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fpsolve.model import valley as model
from fpsolve.model.valley import Landscape, ModelError, Noise

LANDSCAPES = [Landscape.from_preset(p) for p in model.PRESETS] + [Landscape(2.0, 0.3, 0.7, 0.05)]


def _points(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, n), rng.uniform(-1.0, 1.0, n)


@pytest.mark.parametrize("land", LANDSCAPES, ids=lambda l: l.name)
def test_gradient_and_hessian_match_finite_differences(land):
    x, y = _points()
    h = 1e-6
    gx, gy = land.gradient(x, y)
    fd_x = (land.loss(x + h, y) - land.loss(x - h, y)) / (2 * h)
    fd_y = (land.loss(x, y + h) - land.loss(x, y - h)) / (2 * h)
    np.testing.assert_allclose(gx, fd_x, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gy, fd_y, rtol=1e-7, atol=1e-8)
    h11, h12, h22 = land.hessian(x, y)
    np.testing.assert_allclose(h11, (land.gradient(x + h, y)[0] - land.gradient(x - h, y)[0]) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h12, (land.gradient(x, y + h)[0] - land.gradient(x, y - h)[0]) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h12, (land.gradient(x + h, y)[1] - land.gradient(x - h, y)[1]) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h22, (land.gradient(x, y + h)[1] - land.gradient(x, y - h)[1]) / (2 * h), rtol=1e-6, atol=1e-7)
    # g derivatives chain
    for f, df in ((land.g, land.dg), (land.dg, land.d2g), (land.d2g, land.d3g)):
        np.testing.assert_allclose(df(x), (f(x + h) - f(x - h)) / (2 * h), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cross", [True, False])
@pytest.mark.parametrize("land", LANDSCAPES, ids=lambda l: l.name)
def test_diffusion_divergence_matches_finite_differences(land, cross):
    noise = Noise(0.1, 0.5)
    x, y = _points(seed=1)
    h = 1e-6
    D = lambda x, y: noise.diffusion(land, x, y, cross=cross)  # noqa: E731
    d11p, d12p, _ = D(x + h, y)
    d11m, d12m, _ = D(x - h, y)
    _, d12u, d22u = D(x, y + h)
    _, d12d, d22d = D(x, y - h)
    div1 = (d11p - d11m) / (2 * h) + (np.asarray(d12u) - d12d) / (2 * h)
    div2 = (np.asarray(d12p) - d12m) / (2 * h) + (d22u - d22d) / (2 * h)
    got1, got2 = noise.diffusion_divergence(land, x, y, cross=cross)
    np.testing.assert_allclose(got1, div1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got2, div2, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("land", LANDSCAPES, ids=lambda l: l.name)
def test_diffusion_is_half_T_H_squared_symmetric_psd(land):
    noise = Noise(0.05, 1.0)
    x, y = _points(seed=2)
    d11, d12, d22 = noise.diffusion(land, x, y)
    h11, h12, h22 = land.hessian(x, y)
    for i in range(len(x)):
        H = np.array([[h11[i], h12[i]], [h12[i], h22[i]]])
        D = np.array([[d11[i], d12[i]], [d12[i], d22[i]]])
        np.testing.assert_allclose(D, 0.5 * noise.T * H @ H, rtol=1e-12, atol=1e-15)
        assert np.all(np.linalg.eigvalsh(D) >= -1e-14 * np.abs(D).max())
    # without cross-diffusion: same diagonal, zero off-diagonal
    e11, e12, e22 = noise.diffusion(land, x, y, cross=False)
    np.testing.assert_array_equal(e11, d11)
    np.testing.assert_array_equal(e22, d22)
    assert e12 == 0.0


def test_diffusion_singular_where_hessian_is():
    land = Landscape.from_preset("double-well")
    noise = Noise(0.05, 1.0)
    for x in (0.2, 0.4, 0.6):
        g, g1, g2 = land.g(x), land.dg(x), land.d2g(x)
        # det H = (½ g'' y² + ε) g − g'² y² = 0  ⇒  y² = ε g / (g'² − ½ g'' g)
        y = math.sqrt(land.eps * g / (g1 ** 2 - 0.5 * g2 * g))
        h11, h12, h22 = land.hessian(x, y)
        assert abs(h11 * h22 - h12 ** 2) < 1e-12 * (h22 ** 2)
        d11, d12, d22 = noise.diffusion(land, x, y)
        assert abs(d11 * d22 - d12 ** 2) < 1e-10 * (d22 ** 2)
        # and regular a little way off the singular curve
        d11, d12, d22 = noise.diffusion(land, x, 1.2 * y)
        assert d11 * d22 - d12 ** 2 > 1e-6 * (d22 ** 2)


def test_presets_flattest_points_and_critical_temperature():
    dw = Landscape.from_preset("double-well")
    assert dw.coefficients == (1.0, -1.0, 0.5, 0.01) and dw.name == "double-well"
    assert dw.flattest_points() == pytest.approx((-1.0, 1.0), abs=1e-15)
    assert dw.flatness(1.0) == pytest.approx(math.sqrt(2.0), rel=1e-14)
    assert dw.flatness(0.0) == 1.0
    assert dw.critical_temperature() == pytest.approx(0.02, rel=1e-14)
    sw = Landscape.from_preset("single-well")
    assert sw.flattest_points() == (0.0,) and sw.critical_temperature() == math.inf
    dg = Landscape.from_preset("degenerate")
    assert dg.eps == 0.0 and dg.critical_temperature() == 0.0
    assert Landscape.from_preset("double-well", eps=0.02).name == "custom"
    # the flattest point maximises F on a fine grid
    x = np.linspace(-2, 2, 40001)
    assert abs(abs(x[np.argmax(dw.flatness(x))]) - 1.0) < 1e-4
    assert Noise(0.05, 0.2).T == pytest.approx(0.01, rel=1e-14)
    assert Noise.from_temperature(0.05, 0.1).Delta == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(a0=0.0, a2=1, a4=0, eps=0), "a0 must be > 0"),
        (dict(a0=-1.0, a2=1, a4=0, eps=0), "a0 must be > 0"),
        (dict(a0=1.0, a2=1, a4=-0.1, eps=0), "a4 must be >= 0"),
        (dict(a0=1.0, a2=-1, a4=0.25, eps=0), "a2^2 < 4 a0 a4"),
        (dict(a0=1.0, a2=-1, a4=0.0, eps=0), "a2^2 < 4 a0 a4"),
        (dict(a0=1.0, a2=1, a4=0, eps=-0.01), "eps must be >= 0"),
        (dict(a0=float("nan"), a2=1, a4=0, eps=0), "a0 must be a finite number"),
        (dict(a0=1.0, a2=float("inf"), a4=0, eps=0), "a2 must be a finite number"),
    ],
)
def test_invalid_landscape_is_rejected_naming_the_condition(kwargs, words):
    with pytest.raises(ModelError, match=words.replace("^", r"\^")):
        Landscape(**kwargs)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Noise(0.0, 1.0), "alpha must be > 0"),
        (lambda: Noise(-0.1, 1.0), "alpha must be > 0"),
        (lambda: Noise(0.1, -1.0), "Delta must be >= 0"),
        (lambda: Noise(float("nan"), 1.0), "alpha must be a finite number"),
        (lambda: Noise(0.1, float("inf")), "Delta must be a finite number"),
        (lambda: Noise.from_temperature(-0.1, 0.1), "T must be >= 0"),
        (lambda: Landscape.from_preset("triple-well"), "unknown preset 'triple-well'"),
    ],
)
def test_invalid_noise_or_preset_is_rejected(make, words):
    with pytest.raises(ModelError, match=words):
        make()
