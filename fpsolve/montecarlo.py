"""Monte Carlo of SGD and of its SDE (MODEL.md §2–3): the referee of the FEM solver.

Samplers (``method``/``shift``/``cross``):

- ``sgd``/``linear``: ``θ ← θ − α (∇L − H ξ)``, ``ξ ~ N(0, Δ I)`` (MODEL.md §2, S3);
- ``sgd``/``exact``:  ``θ ← θ − α ∇L(θ − ξ)`` (the loss of the shifted minibatch);
- ``sde``, ``cross=True``: Euler–Maruyama of ``dθ = −∇L dt + sqrt(T) H dW``;
- ``sde``, ``cross=False``: independent noises ``sqrt(2 D11) dW1``, ``sqrt(2 D22) dW2``.

Any model of MODEL.md §7 (a :class:`~fpsolve.symbolic.Model`) is sampled by
kernels that :mod:`fpsolve.mc_codegen` generates from its symbolic
derivation (SGD ``θ ← θ − α (∇L + Σ^{1/2} z)``, the exact shift for ``sgd``
noise, and the SDE with ``B Bᵀ = 2D``), through the same group stepper.

Time is in units of α SGD steps: a SGD step lasts ``α``, a SDE step ``dt``.

Kernels read named records, not long positional lists: :class:`Walkers`
(per-walker arrays), :class:`Tallies` (histograms and edges) and
:class:`KernelParams` (every number, by name).

Walkers are independent.  Walker ``i`` owns its random stream: the normals of
step ``k`` are numbers ``2k`` and ``2k + 1`` of its stream, each made by a
ziggurat (128 layers, ZIGNOR) from the 64-bit word ``splitmix64(key_i + n γ)``
(rare rejections draw from a second keyed stream), with ``key_i`` a hash of
``(seed, i)``.  A number therefore depends only on (seed, walker, step), and
results are the same bit for bit whatever the number of threads or MPI ranks.

A walker stops when it leaves the disk ``|θ − c| ≥ R`` (absorbed, the twin of
the Dirichlet condition) or when it diverges (non-finite, or ``|θ − c|``
beyond ``bound``).  Memory is O(walkers) plus the histograms, whatever the
number of steps: statistics are accumulated while running.

Statistics over the stationary window (steps ``≥ burn-in``, sampled every
``sample_every`` steps) are *pooled* means ``Σ_i S_i / Σ_i n_i`` of per-walker
time sums ``S_i``; their standard errors treat the walkers (not the samples) as
the independent units (ratio estimator with the delta method), so the time
correlation inside a walker is accounted for.

Two engines compute the same update: ``numba`` (compiled, walkers split into
one chunk per thread, ``numba.get_num_threads()`` threads; the default) and ``numpy`` (a plain vectorised reference, one Python
loop over steps).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import re
import time as _time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple

import numba
import numpy as np

from . import _caches, model, parallel
from .model import Landscape, ModelError, Noise, check_start

__all__ = ["Box", "MonteCarloResult", "RunPlan", "check_run", "run", "normals", "METHODS", "SHIFTS", "ENGINES",
           "KernelParams", "Walkers", "Tallies", "make_group_stepper"]

METHODS = ("sgd", "sde")
SHIFTS = ("linear", "exact")
ENGINES = ("numba", "numpy")

_caches.prepare_numba_cache(__file__)  # before the cache=True kernels below

#: Walker status codes.
ALIVE, ABSORBED, DIVERGED = 0, 1, 2
#: Default divergence bound on |θ − c| (only reached when the disk is infinite).
DEFAULT_BOUND = 1e10
#: Columns of the per-walker accumulator: count, Σx, Σy, Σx², Σy², Σxy, Σ|x|.
_N, _SX, _SY, _SXX, _SYY, _SXY, _SAX = range(7)
_NACC = 7

def _drop_stale_kernel_cache(here: Path = Path(__file__).resolve().parent) -> None:
    """Delete this module's numba cache when ``here``/model.py has changed.

    numba's cache checks only the timestamp of montecarlo.py, but the kernels
    inline the formula functions of model.py: a cached kernel would silently
    keep old formulas.  A hash of model.py next to the cache guards that.
    """
    cache = here / "__pycache__"
    try:
        digest = hashlib.sha256((here / "model.py").read_bytes()).hexdigest()
        stamp = cache / "montecarlo.model-sha256"
        if stamp.exists() and stamp.read_text() == digest:
            return
        for f in cache.glob("montecarlo.*.nb[ic]"):
            f.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba then caches elsewhere or not at all
        pass


_drop_stale_kernel_cache()

# --------------------------------------------------------------------------
# The model's formula functions, compiled by numba (not re-typed): each
# function of fpsolve.model is cloned with globals that point at the compiled
# clones, so that e.g. ``hessian`` calls the compiled ``dg``.
# --------------------------------------------------------------------------


def _jit_formulas(names: Sequence[str]) -> types.SimpleNamespace:
    namespace: dict = {}
    for name in names:
        f = getattr(model, name)
        clone = types.FunctionType(f.__code__, namespace, name, f.__defaults__, f.__closure__)
        namespace[name] = numba.njit(clone)
    return types.SimpleNamespace(**namespace)


_nb = _jit_formulas(("g", "dg", "d2g", "d3g", "gradient", "hessian", "diffusion"))
_gradient = _nb.gradient
_hessian = _nb.hessian
_diffusion = _nb.diffusion

# --------------------------------------------------------------------------
# Counter-based random numbers (SplitMix64 finaliser), numba and numpy alike.
# --------------------------------------------------------------------------

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_WALKER_MULT = np.uint64(0xD1B54A32D192ED03)
_RETRY_KEY = np.uint64(0x5851F42D4C957F2D)
_S30, _S27, _S31, _S11, _S8 = (np.uint64(v) for v in (30, 27, 31, 11, 8))
_U53 = 2.0 ** -53
_MASK7 = np.uint64(127)


def _ziggurat_tables(layers: int = 128, r: float = 3.442619855899, v: float = 9.91256303526217e-3):
    """Layer abscissae X and ratios X[i+1]/X[i] of the normal ziggurat (Doornik's ZIGNOR)."""
    x = np.zeros(layers + 1)
    f = math.exp(-0.5 * r * r)
    x[0], x[1] = v / f, r
    for i in range(2, layers):
        x[i] = math.sqrt(-2.0 * math.log(v / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    return x, x[1:] / x[:-1], r


_ZIG_X, _ZIG_RATIO, _ZIG_R = _ziggurat_tables()


@numba.njit
def _mix64(z):
    """SplitMix64 finaliser: a bijective 64-bit hash."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit
def _retry_word(key, counter, m):
    # rejected draws take words from a second stream, 256 per counter
    return _mix64((key ^ _RETRY_KEY) + ((counter << _S8) + np.uint64(m)) * _GAMMA)


@numba.njit
def _zig_tail(key, counter, negative):
    """Exact normal tail beyond R (Marsaglia): tail try t uses words 128+2t, 129+2t."""
    t = 0
    while True:
        w1 = (np.float64(np.int64(_retry_word(key, counter, 128 + 2 * t) >> _S11)) + 1.0) * _U53
        w2 = (np.float64(np.int64(_retry_word(key, counter, 129 + 2 * t) >> _S11)) + 1.0) * _U53
        e = -math.log(w1) / _ZIG_R
        if -2.0 * math.log(w2) > e * e:
            return -(_ZIG_R + e) if negative else _ZIG_R + e
        t += 1


@numba.njit
def _zig_slow(key, counter, h):
    """The rare branch of the ziggurat (about 1.2 % of the draws).

    Attempt a uses the layer/abscissa word h (a = 0: the fast path's word,
    else retry word 2a) and the wedge word 2a+1; the tail has its own words.
    """
    a = 0
    while True:
        if a > 0:
            h = _retry_word(key, counter, 2 * a)
        i = np.int64(h & _MASK7)
        u = 2.0 * (np.float64(np.int64(h >> _S11)) * _U53) - 1.0
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i]
        if i == 0:
            return _zig_tail(key, counter, u < 0)
        w = (np.float64(np.int64(_retry_word(key, counter, 2 * a + 1) >> _S11)) + 1.0) * _U53
        xx = u * _ZIG_X[i]
        f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - xx * xx))
        f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - xx * xx))
        if f1 + w * (f0 - f1) < 1.0:
            return xx
        a += 1


@numba.njit
def _normal(key, counter):
    """Standard normal number ``counter`` of the stream ``key`` (ziggurat, 128 layers)."""
    h = _mix64(key + counter * _GAMMA)
    i = np.int64(h & _MASK7)
    u = 2.0 * (np.float64(np.int64(h >> _S11)) * _U53) - 1.0
    if abs(u) < _ZIG_RATIO[i]:
        return u * _ZIG_X[i]
    return _zig_slow(key, counter, h)


@numba.njit
def _normal_pair(key, step):
    """The two normals of (walker key, step): numbers 2k and 2k+1 of the stream."""
    c = np.uint64(2) * np.uint64(step)
    return _normal(key, c), _normal(key, c + np.uint64(1))


def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def walker_keys(seed: int, index: np.ndarray) -> np.ndarray:
    """The 64-bit key of each walker's stream, from (seed, global walker index)."""
    seed_key = _mix64_np(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    return _mix64_np(seed_key ^ (_mix64_np(np.asarray(index, dtype=np.uint64) * _WALKER_MULT + _GAMMA)))


def _retry_word_np(keys: np.ndarray, counter: np.ndarray, m: int) -> np.ndarray:
    return _mix64_np((keys ^ _RETRY_KEY) + ((counter << _S8) + np.uint64(m)) * _GAMMA)


def _normal_np(keys: np.ndarray, counter: int) -> np.ndarray:
    """Vectorised twin of :func:`_normal` (same words, same decisions)."""
    # one-element arrays: numpy wraps uint64 arrays silently (scalars would warn)
    c = np.array([counter], dtype=np.uint64)
    h = _mix64_np(keys + c * _GAMMA)
    i = (h & _MASK7).astype(np.intp)
    u = 2.0 * ((h >> _S11).astype(np.float64) * _U53) - 1.0
    z = u * _ZIG_X[i]
    todo = np.flatnonzero(~(np.abs(u) < _ZIG_RATIO[i]))
    a = 0
    while todo.size:
        k = keys[todo]
        if a > 0:
            h = _retry_word_np(k, c, 2 * a)
            i = (h & _MASK7).astype(np.intp)
            u = 2.0 * ((h >> _S11).astype(np.float64) * _U53) - 1.0
        else:
            i, u = i[todo], u[todo]
        fast = np.abs(u) < _ZIG_RATIO[i]
        z[todo[fast]] = (u * _ZIG_X[i])[fast]
        tail = ~fast & (i == 0)
        if tail.any():
            z[todo[tail]] = _zig_tail_np(k[tail], c, u[tail] < 0)
        wedge = ~fast & (i > 0)
        todo, k, i, u = todo[wedge], k[wedge], i[wedge], u[wedge]
        w = ((_retry_word_np(k, c, 2 * a + 1) >> _S11).astype(np.float64) + 1.0) * _U53
        xx = u * _ZIG_X[i]
        f0 = _libm(math.exp, -0.5 * (_ZIG_X[i] ** 2 - xx * xx))
        f1 = _libm(math.exp, -0.5 * (_ZIG_X[i + 1] ** 2 - xx * xx))
        ok = f1 + w * (f0 - f1) < 1.0
        z[todo[ok]] = xx[ok]
        todo = todo[~ok]
        a += 1
    return z


def _libm(f: Callable[[float], float], a: np.ndarray) -> np.ndarray:
    """``f`` (math.exp / math.log: the C library's, as in the numba kernels)
    on each element: numpy's own SIMD exp/log can differ in the last bit, and
    the rare branches of the ziggurat must decide exactly as the kernels do."""
    return np.fromiter((f(v) for v in a.tolist()), dtype=np.float64, count=a.size)


def _zig_tail_np(keys: np.ndarray, c: np.ndarray, negative: np.ndarray) -> np.ndarray:
    out = np.empty(len(keys))
    todo = np.arange(len(keys))
    t = 0
    while todo.size:
        k = keys[todo]
        w1 = ((_retry_word_np(k, c, 128 + 2 * t) >> _S11).astype(np.float64) + 1.0) * _U53
        w2 = ((_retry_word_np(k, c, 129 + 2 * t) >> _S11).astype(np.float64) + 1.0) * _U53
        e = -_libm(math.log, w1) / _ZIG_R
        ok = -2.0 * _libm(math.log, w2) > e * e
        out[todo[ok]] = np.where(negative[todo[ok]], -(_ZIG_R + e[ok]), _ZIG_R + e[ok])
        todo = todo[~ok]
        t += 1
    return out


def _normal_pair_np(keys: np.ndarray, step: int) -> Tuple[np.ndarray, np.ndarray]:
    return _normal_np(keys, 2 * step), _normal_np(keys, 2 * step + 1)


def normals(seed: int, walker: Sequence[int] | np.ndarray, step: int) -> Tuple[np.ndarray, np.ndarray]:
    """The two standard normals that walker(s) ``walker`` use at step ``step``."""
    return _normal_pair_np(walker_keys(seed, np.atleast_1d(walker)), step)


@numba.njit(cache=True)
def _normals_numba(keys, step):
    """Compiled twin of :func:`normals` for given walker keys (tests, benchmark)."""
    n = keys.shape[0]
    z = np.empty((n, 2))
    for i in range(n):
        z[i, 0], z[i, 1] = _normal_pair(keys[i], step)
    return z


# --------------------------------------------------------------------------
# Named records passed to every kernel (no long positional lists).
# --------------------------------------------------------------------------


class Walkers(NamedTuple):
    """Per-walker state arrays (length n): positions, status, exit and
    first-passage steps, the window accumulator (n, 7) and the stream keys."""

    x: np.ndarray
    y: np.ndarray
    status: np.ndarray
    exit_step: np.ndarray
    fp_step: np.ndarray
    acc: np.ndarray
    keys: np.ndarray


class Tallies(NamedTuple):
    """Histogram counts per chunk (hist (c, nx, ny), hist_x (c, nx),
    hist_ax (c, na)) and their bin edges."""

    hist: np.ndarray
    hist_x: np.ndarray
    hist_ax: np.ndarray
    xedges: np.ndarray
    yedges: np.ndarray
    axedges: np.ndarray


class KernelParams(NamedTuple):
    """Every number a kernel reads, by name (MODEL.md §2-3, §7).

    ``alpha``: SGD step; ``sgd_scale``: the factor of z in the SGD noise
    (sqrt(Δ) for the built-in noises, 1 for a user Σ); ``dt``: SDE step;
    ``sde_scale``: the factor of R z in the SDE step (sqrt(T dt), or
    sqrt(α dt) for a user Σ); ``coef``: the model's numbers (valley:
    a0, a2, a4, eps, T; a Model: its constants, alpha, Delta); disk centre,
    stop radius² (min(R², bound²)) and divergence bound²; first sampled step
    and sampling interval; first-passage target box; ``bridge``: the reach
    of the Brownian-bridge exit test (MODEL.md §8; 0 = off).
    """

    alpha: float
    sgd_scale: float
    dt: float
    sde_scale: float
    coef: np.ndarray
    cx: float
    cy: float
    stop2: float
    bound2: float
    sample_start: int
    sample_every: int
    has_target: bool
    tx: float
    ty: float
    twx: float
    twy: float
    bridge: float = 0.0


# --------------------------------------------------------------------------
# The updates of the valley (MODEL.md §1-3), one compiled function each.
# --------------------------------------------------------------------------

_SGD_LINEAR, _SGD_EXACT, _SDE_CROSS, _SDE_NOCROSS = 0, 1, 2, 3


@numba.njit
def _update_sgd_linear(x, y, z1, z2, p):
    # ∇L_μ = ∇L − H ξ exactly (MODEL.md §2, S3)
    c = p.coef
    gx, gy = _gradient(x, y, c[0], c[1], c[2], c[3])
    h11, h12, h22 = _hessian(x, y, c[0], c[1], c[2], c[3])
    xi1 = p.sgd_scale * z1
    xi2 = p.sgd_scale * z2
    return (x - p.alpha * (gx - (h11 * xi1 + h12 * xi2)),
            y - p.alpha * (gy - (h12 * xi1 + h22 * xi2)))


@numba.njit
def _update_sgd_exact(x, y, z1, z2, p):
    # L_μ(θ) = L(θ − ξ): the gradient is ∇L at the shifted point
    c = p.coef
    gx, gy = _gradient(x - p.sgd_scale * z1, y - p.sgd_scale * z2, c[0], c[1], c[2], c[3])
    return x - p.alpha * gx, y - p.alpha * gy


@numba.njit
def _update_sde_cross(x, y, z1, z2, p):
    c = p.coef
    gx, gy = _gradient(x, y, c[0], c[1], c[2], c[3])
    h11, h12, h22 = _hessian(x, y, c[0], c[1], c[2], c[3])
    return (x - p.dt * gx + p.sde_scale * (h11 * z1 + h12 * z2),
            y - p.dt * gy + p.sde_scale * (h12 * z1 + h22 * z2))


@numba.njit
def _update_sde_nocross(x, y, z1, z2, p):
    c = p.coef
    gx, gy = _gradient(x, y, c[0], c[1], c[2], c[3])
    d11, d12, d22 = _diffusion(x, y, c[4], c[0], c[1], c[2], c[3], False)
    return (x - p.dt * gx + math.sqrt(2.0 * d11 * p.dt) * z1,
            y - p.dt * gy + math.sqrt(2.0 * d22 * p.dt) * z2)


@numba.njit
def _bin(edges, v):
    """Index of the bin of ``v`` in sorted ``edges`` (right edge included), or −1."""
    n = edges.shape[0] - 1
    if not (v >= edges[0] and v <= edges[n]):
        return -1
    lo, hi = 0, n  # edges[lo] <= v, and v < edges[hi] unless hi == n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if edges[mid] <= v:
            lo = mid
        else:
            hi = mid
    return lo


# --------------------------------------------------------------------------
# Brownian-bridge exit test (MODEL.md §8): after a step from x to x' that
# stays on this side of a (locally flat) boundary, the path crossed it in
# between with probability exp(−2 d d' / (σ_n² dt)), σ_n² = 2 n·D n (D at x,
# as the Euler-Maruyama step used it).  The uniform of walker i at step k is
# word 2k (the disk's wall) or 2k + 1 (the target) of a third keyed stream,
# so it too depends only on (seed, walker, step).  Both ends farther than
# ``p.bridge`` (the reach) from the boundary: p < e^-60, the test is skipped.
# --------------------------------------------------------------------------

_BRIDGE_KEY = np.uint64(0x2545F4914F6CDD1D)


def bridge_probability(d_old, d_new, d11, d12, d22, nx, ny, dt):
    """exp(−2 d d' / (σ_n² dt)) with σ_n² = 2 n·D n: the probability that a
    Brownian bridge between distances d, d' > 0 from a flat boundary with unit
    normal n touched it (MODEL.md §8).  Floats or arrays; compiled below."""
    s2dt = 2.0 * (d11 * nx * nx + 2.0 * d12 * nx * ny + d22 * ny * ny) * dt
    return np.exp(-2.0 * d_old * d_new / np.maximum(s2dt, 1e-300))


_bridge_probability = numba.njit(bridge_probability)


@numba.njit
def _uniform(key, counter):
    """Uniform in (0, 1): word ``counter`` of the walker's bridge stream."""
    h = _mix64((key ^ _BRIDGE_KEY) + counter * _GAMMA)
    return (np.float64(np.int64(h >> _S11)) + 0.5) * _U53


def _uniform_np(keys: np.ndarray, counter: int) -> np.ndarray:
    c = np.array([counter], dtype=np.uint64)
    return ((_mix64_np((keys ^ _BRIDGE_KEY) + c * _GAMMA) >> _S11).astype(np.float64) + 0.5) * _U53


@numba.njit
def _near_wall(xo, yo, xi, yi, p):
    """Is either end of the step within the bridge's reach of the disk's wall?"""
    inner = max(math.sqrt(p.stop2) - p.bridge, 0.0) ** 2
    ro2 = (xo - p.cx) ** 2 + (yo - p.cy) ** 2
    rn2 = (xi - p.cx) ** 2 + (yi - p.cy) ** 2
    return rn2 > 0.0 and not (ro2 < inner and rn2 < inner)


@numba.njit
def _wall_crossed(key, k, xo, yo, xi, yi, D, p):
    """Did the path cross the wall |θ − c| = sqrt(p.stop2) during step k?"""
    r = math.sqrt(p.stop2)
    ro = math.sqrt((xo - p.cx) ** 2 + (yo - p.cy) ** 2)
    rn = math.sqrt((xi - p.cx) ** 2 + (yi - p.cy) ** 2)
    q = _bridge_probability(r - ro, r - rn, D[0], D[1], D[2], (xi - p.cx) / rn, (yi - p.cy) / rn, p.dt)
    return _uniform(key, np.uint64(2) * np.uint64(k)) < q


@numba.njit
def _box_gaps(x, y, p):
    return max(abs(x - p.tx) - p.twx, 0.0), max(abs(y - p.ty) - p.twy, 0.0)


@numba.njit
def _near_box(xo, yo, xi, yi, p):
    """Is either end of the step (both outside) within reach of the target box?"""
    ox, oy = _box_gaps(xo, yo, p)
    nx, ny = _box_gaps(xi, yi, p)
    r2 = p.bridge * p.bridge
    return nx * nx + ny * ny > 0.0 and not (ox * ox + oy * oy >= r2 and nx * nx + ny * ny >= r2)


@numba.njit
def _box_crossed(key, k, xo, yo, xi, yi, D, p):
    """Did the path touch the target box during step k?"""
    ox, oy = _box_gaps(xo, yo, p)
    nx, ny = _box_gaps(xi, yi, p)
    dn = math.sqrt(nx * nx + ny * ny)
    ux = nx / dn if xi >= p.tx else -nx / dn
    uy = ny / dn if yi >= p.ty else -ny / dn
    q = _bridge_probability(math.sqrt(ox * ox + oy * oy), dn, D[0], D[1], D[2], ux, uy, p.dt)
    return _uniform(key, np.uint64(2) * np.uint64(k) + np.uint64(1)) < q


@numba.njit
def _no_diffusion(x, y, p):
    """D of an update without the bridge test (never called: p.bridge = 0)."""
    return 0.0, 0.0, 0.0


@numba.njit
def _diffusion_cross(x, y, p):
    c = p.coef
    return _diffusion(x, y, c[4], c[0], c[1], c[2], c[3], True)


@numba.njit
def _diffusion_nocross(x, y, p):
    c = p.coef
    return _diffusion(x, y, c[4], c[0], c[1], c[2], c[3], False)


def _diffusion_numpy(cross: bool, x: np.ndarray, y: np.ndarray, p: KernelParams) -> tuple:
    a0, a2, a4, eps = p.coef[:4]
    return model.diffusion(x, y, p.coef[4], a0, a2, a4, eps, cross=cross)


def _bridge_reach(diffusion: Callable, dt: float, cx: float, cy: float, radius: float) -> float:
    """Distance from a boundary beyond which the bridge probability is below
    e^-60 for both ends of a step: sqrt(20 s dt), s = 1.5 × the largest
    2 λmax(D) on the disk (a 201² grid; the kernels skip the test there).
    ``diffusion(X, Y) -> (D11, D12, D22)`` on arrays."""
    r = radius if math.isfinite(radius) else 2.0
    g = np.linspace(-r, r, 201)
    X, Y = np.meshgrid(cx + g, cy + g)
    inside = (X - cx) ** 2 + (Y - cy) ** 2 <= r * r * (1 + 1e-12)
    d11, d12, d22 = (np.broadcast_to(np.asarray(v, dtype=float), X.shape)[inside] for v in diffusion(X, Y))
    lam = 0.5 * (d11 + d22) + np.sqrt(0.25 * (d11 - d22) ** 2 + d12 * d12)
    s = 1.5 * 2.0 * float(np.max(lam))
    return math.sqrt(20.0 * s * dt) if s > 0 else 0.0


def _bridge_np(keys, k, xo, yo, xi, yi, D, p, wall: bool) -> np.ndarray:
    """Vectorised twin of the wall (``wall``) or target bridge test."""
    d11, d12, d22 = D
    if wall:
        r = math.sqrt(p.stop2)
        ro, rn = np.hypot(xo - p.cx, yo - p.cy), np.hypot(xi - p.cx, yi - p.cy)
        safe = np.where(rn > 0, rn, 1.0)
        q = bridge_probability(r - ro, r - rn, d11, d12, d22, (xi - p.cx) / safe, (yi - p.cy) / safe, p.dt)
        return (rn > 0) & (_uniform_np(keys, 2 * k) < q)
    ox, oy = np.maximum(np.abs(xo - p.tx) - p.twx, 0.0), np.maximum(np.abs(yo - p.ty) - p.twy, 0.0)
    nx, ny = np.maximum(np.abs(xi - p.tx) - p.twx, 0.0), np.maximum(np.abs(yi - p.ty) - p.twy, 0.0)
    dn = np.hypot(nx, ny)
    safe = np.where(dn > 0, dn, 1.0)
    ux, uy = np.where(xi >= p.tx, nx, -nx) / safe, np.where(yi >= p.ty, ny, -ny) / safe
    q = bridge_probability(np.hypot(ox, oy), dn, d11, d12, d22, ux, uy, p.dt)
    return (dn > 0) & (_uniform_np(keys, 2 * k + 1) < q)


#: Walkers advanced together by one thread: their independent updates overlap
#: in the CPU pipeline (one walker alone is a chain of dependent flops).
_GROUP = 64


def make_group_stepper(update: Callable, diffusion: Callable = _no_diffusion) -> Callable:
    """A compiled loop over steps for one group of walkers, with the
    compiled ``update(x, y, z1, z2, p) -> (x', y')`` inlined (no per-step
    branch on the method).  Used for the valley's updates here and for the
    generated updates of a Model (fpsolve.mc_codegen).  ``diffusion(x, y, p)
    -> (D11, D12, D22)`` serves the Brownian-bridge test (``p.bridge`` > 0)."""

    def stepper(g0, g1, c, k0, k1, first, w, t, p):
        x, y, status, exit_step, fp_step, acc, keys = w
        hist, hist_x, hist_ax, xedges, yedges, axedges = t
        alive = 0
        for i in range(g0, g1):
            if status[i] == ALIVE:
                alive += 1
        next_sample = first
        k = k0
        while k < k1 and alive > 0:
            sample = k + 1 == next_sample
            if sample:
                next_sample += p.sample_every
            for i in range(g0, g1):
                if status[i] != ALIVE:
                    continue
                z1, z2 = _normal_pair(keys[i], k)
                xo, yo = x[i], y[i]
                xi, yi = update(xo, yo, z1, z2, p)
                x[i] = xi
                y[i] = yi
                d2 = (xi - p.cx) * (xi - p.cx) + (yi - p.cy) * (yi - p.cy)
                # one test per step (NaN fails it too), then the bridge near the wall
                if not d2 < p.stop2 or (p.bridge > 0.0 and p.stop2 < p.bound2 and _near_wall(xo, yo, xi, yi, p)
                                        and _wall_crossed(keys[i], k, xo, yo, xi, yi, diffusion(xo, yo, p), p)):
                    status[i] = DIVERGED if not d2 < p.bound2 else ABSORBED
                    exit_step[i] = k + 1
                    alive -= 1
                    continue
                if p.has_target and fp_step[i] < 0 and (
                        (abs(xi - p.tx) < p.twx and abs(yi - p.ty) < p.twy)
                        or (p.bridge > 0.0 and _near_box(xo, yo, xi, yi, p)
                            and _box_crossed(keys[i], k, xo, yo, xi, yi, diffusion(xo, yo, p), p))):
                    fp_step[i] = k + 1
                if sample:
                    ax = abs(xi)
                    acc[i, 0] += 1.0
                    acc[i, 1] += xi
                    acc[i, 2] += yi
                    acc[i, 3] += xi * xi
                    acc[i, 4] += yi * yi
                    acc[i, 5] += xi * yi
                    acc[i, 6] += ax
                    jx = _bin(xedges, xi)
                    if jx >= 0:
                        hist_x[c, jx] += 1
                        jy = _bin(yedges, yi)
                        if jy >= 0:
                            hist[c, jx, jy] += 1
                    ja = _bin(axedges, ax)
                    if ja >= 0:
                        hist_ax[c, ja] += 1
            k += 1

    # a name of its own: numba names a compiled closure by module, qualified
    # name and a per-process counter, so two cached kernels (a preset's and a
    # generated one, compiled in different processes) could otherwise link
    # each other's stepper
    name = "stepper_" + re.sub(r"\W", "_", f"{update.__module__}_{update.__name__}")
    stepper.__name__ = stepper.__qualname__ = name
    return numba.njit(stepper)


@numba.njit
def chunk_bounds(c, n, nchunks, k0, sample_start, sample_every):
    """(first sampled step >= k0 + 1, lo, hi): the walkers [lo, hi) of chunk
    ``c`` of ``nchunks`` (a countdown, not a modulo, in the loop)."""
    first = sample_start
    if k0 + 1 > sample_start:
        first = sample_start + ((k0 + 1 - sample_start + sample_every - 1) // sample_every) * sample_every
    return first, c * n // nchunks, (c + 1) * n // nchunks


_STEP_SGD_LINEAR = make_group_stepper(_update_sgd_linear)
_STEP_SGD_EXACT = make_group_stepper(_update_sgd_exact)
_STEP_SDE_CROSS = make_group_stepper(_update_sde_cross, _diffusion_cross)
_STEP_SDE_NOCROSS = make_group_stepper(_update_sde_nocross, _diffusion_nocross)


@numba.njit(nogil=True, cache=True)
def _advance_chunk(code, c, w, t, k0, k1, p):
    """Advance the live walkers of chunk ``c`` from step k0 to k1 (global step counters).

    Chunk c of ``nchunks = t.hist.shape[0]`` owns walkers [c n/nchunks, (c+1) n/nchunks)
    and writes only hist[c], hist_x[c], hist_ax[c]; the integer counts are
    summed afterwards, so the result does not depend on the number of chunks
    (threads).  Each walker's arithmetic is the same sequence of operations
    whatever the chunking.  A walker stops when ``|θ − c|² ≥ p.stop2 =
    min(R², bound²)``: diverged if ``|θ − c|² ≥ p.bound2`` or non-finite, else
    absorbed.
    """
    first, lo, hi = chunk_bounds(c, w.x.shape[0], t.hist.shape[0], k0, p.sample_start, p.sample_every)
    for g0 in range(lo, hi, _GROUP):
        g1 = min(g0 + _GROUP, hi)
        if code == _SGD_LINEAR:
            _STEP_SGD_LINEAR(g0, g1, c, k0, k1, first, w, t, p)
        elif code == _SGD_EXACT:
            _STEP_SGD_EXACT(g0, g1, c, k0, k1, first, w, t, p)
        elif code == _SDE_CROSS:
            _STEP_SDE_CROSS(g0, g1, c, k0, k1, first, w, t, p)
        else:
            _STEP_SDE_NOCROSS(g0, g1, c, k0, k1, first, w, t, p)


def _advance_numba(chunk: Callable, w: Walkers, t: Tallies, k0: int, k1: int, p: KernelParams) -> None:
    """Advance every chunk with ``chunk(c, w, t, k0, k1, p)``, one thread per
    chunk (the kernel releases the GIL).

    Threads come from a plain thread pool rather than ``parallel=True`` /
    ``prange``: the parfor version compiled in 11 s (numba 0.56) and 31 s
    (numba 0.61) of CPU, this one in 7-8 s, at the same speed.
    """
    nchunks = t.hist.shape[0]
    if nchunks == 1:
        chunk(0, w, t, k0, k1, p)
        return
    # Type the arguments in this thread first, with an empty step range
    # (k1 = k0: no walker moves, nothing is written).  numba's dispatcher
    # caches the type of a named tuple by fingerprint in a process-wide C
    # table that is not thread-safe: two threads typing a new Walkers /
    # Tallies / KernelParams at once both miss, both insert, and numba aborts
    # (``_Numba_hashtable_set: Assertion 'entry == NULL'``; seen with numba
    # 0.61 on Python 3.13 as soon as the kernel comes from the cache).
    chunk(0, w, t, k0, k0, p)
    with ThreadPoolExecutor(nchunks) as pool:
        for future in [pool.submit(chunk, c, w, t, k0, k1, p) for c in range(nchunks)]:
            future.result()


def _update_numpy(code: int, x: np.ndarray, y: np.ndarray, z1: np.ndarray, z2: np.ndarray,
                  p: KernelParams) -> Tuple[np.ndarray, np.ndarray]:
    """The valley's updates, vectorised over walkers (the readable reference)."""
    a0, a2, a4, eps = p.coef[:4]
    if code == _SGD_LINEAR:
        gx, gy = model.gradient(x, y, a0, a2, a4, eps)
        h11, h12, h22 = model.hessian(x, y, a0, a2, a4, eps)
        xi1, xi2 = p.sgd_scale * z1, p.sgd_scale * z2
        return x - p.alpha * (gx - (h11 * xi1 + h12 * xi2)), y - p.alpha * (gy - (h12 * xi1 + h22 * xi2))
    if code == _SGD_EXACT:
        gx, gy = model.gradient(x - p.sgd_scale * z1, y - p.sgd_scale * z2, a0, a2, a4, eps)
        return x - p.alpha * gx, y - p.alpha * gy
    gx, gy = model.gradient(x, y, a0, a2, a4, eps)
    if code == _SDE_CROSS:
        h11, h12, h22 = model.hessian(x, y, a0, a2, a4, eps)
        return (x - p.dt * gx + p.sde_scale * (h11 * z1 + h12 * z2),
                y - p.dt * gy + p.sde_scale * (h12 * z1 + h22 * z2))
    d11, _, d22 = model.diffusion(x, y, p.coef[4], a0, a2, a4, eps, cross=False)
    return x - p.dt * gx + np.sqrt(2.0 * d11 * p.dt) * z1, y - p.dt * gy + np.sqrt(2.0 * d22 * p.dt) * z2


def _bin_numpy(edges: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = len(edges) - 1
    j = np.minimum(np.searchsorted(edges, v, side="right") - 1, n - 1)
    return np.where((v >= edges[0]) & (v <= edges[n]), j, -1)


def _advance_numpy(update: Callable, w: Walkers, t: Tallies, k0: int, k1: int, p: KernelParams,
                   diffusion: Optional[Callable] = None) -> None:
    """Same contract as :func:`_advance_chunk` (one chunk), one numpy pass per
    step; ``update(x, y, z1, z2, p)`` and ``diffusion(x, y, p)`` (the bridge
    test's D) are vectorised over walkers."""
    x, y, status, exit_step, fp_step, acc, keys = w
    hist, hist_x, hist_ax, xedges, yedges, axedges = t
    with np.errstate(all="ignore"):  # diverging walkers overflow on purpose
        for k in range(k0, k1):
            live = np.flatnonzero(status == ALIVE)
            if live.size == 0:
                break
            z1, z2 = _normal_pair_np(keys[live], k)
            xo, yo = x[live], y[live]
            xi, yi = update(xo, yo, z1, z2, p)
            x[live], y[live] = xi, yi
            d2 = (xi - p.cx) * (xi - p.cx) + (yi - p.cy) * (yi - p.cy)
            stop = ~(d2 < p.stop2)
            bridged = diffusion is not None and p.bridge > 0.0
            if bridged and p.stop2 < p.bound2:
                stop |= _bridge_np(keys[live], k, xo, yo, xi, yi, diffusion(xo, yo, p), p, wall=True)
            diverged = stop & ~(d2 < p.bound2)
            absorbed = stop & ~diverged
            status[live[diverged]] = DIVERGED
            status[live[absorbed]] = ABSORBED
            exit_step[live[diverged | absorbed]] = k + 1
            ok = ~(diverged | absorbed)
            live, xi, yi, xo, yo = live[ok], xi[ok], yi[ok], xo[ok], yo[ok]
            if p.has_target:
                hit = (fp_step[live] < 0) & (np.abs(xi - p.tx) < p.twx) & (np.abs(yi - p.ty) < p.twy)
                if bridged:
                    hit |= (fp_step[live] < 0) & _bridge_np(keys[live], k, xo, yo, xi, yi, diffusion(xo, yo, p), p,
                                                            wall=False)
                fp_step[live[hit]] = k + 1
            if k + 1 >= p.sample_start and (k + 1 - p.sample_start) % p.sample_every == 0:
                ax = np.abs(xi)
                for col, v in ((1, xi), (2, yi), (3, xi * xi), (4, yi * yi), (5, xi * yi), (6, ax)):
                    acc[live, col] += v
                acc[live, 0] += 1.0
                jx, jy, ja = _bin_numpy(xedges, xi), _bin_numpy(yedges, yi), _bin_numpy(axedges, ax)
                np.add.at(hist_x[0], jx[jx >= 0], 1)
                both = (jx >= 0) & (jy >= 0)
                np.add.at(hist[0], (jx[both], jy[both]), 1)
                np.add.at(hist_ax[0], ja[ja >= 0], 1)

# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Box:
    """Target set ``|θ1 − c1| < w1 and |θ2 − c2| < w2`` for first passage."""

    center: Tuple[float, float]
    half_width: Tuple[float, float]


@dataclasses.dataclass
class MonteCarloResult:
    """What :func:`run` returns.

    ``hist``: counts on ``edges = (xedges, yedges)`` over the stationary
    window; ``hist_theta1`` (on xedges, all θ2) and ``hist_abs_theta1`` (on
    ``abs_edges``) the marginals; ``summary``: the dict written as
    summary.json; ``survival``: (times, fraction alive); ``first_passage``:
    per-walker first time in the target (NaN if never); ``final``: (walkers, 2)
    last positions; ``status``: per walker 0 alive, 1 absorbed, 2 diverged;
    ``snapshots``: {time: (walkers, 2) positions} at the requested steps;
    ``exit_time``: per-walker time of absorption or divergence (NaN if alive).
    """

    hist: np.ndarray
    edges: Tuple[np.ndarray, np.ndarray]
    hist_theta1: np.ndarray
    hist_abs_theta1: np.ndarray
    abs_edges: np.ndarray
    summary: dict
    survival: Tuple[np.ndarray, np.ndarray]
    first_passage: np.ndarray
    final: np.ndarray
    status: np.ndarray
    snapshots: dict
    exit_time: Optional[np.ndarray] = None


def _pooled_stats(acc: np.ndarray) -> dict:
    """Pooled window moments and their standard errors from per-walker sums.

    Walkers are the independent units: a pooled mean m = Σ S_i / Σ n_i has the
    influence e_i = (S_i − m n_i)/n̄ and SE² = Σ e_i² / (N (N − 1)) (ratio
    estimator); functions of means use the delta method.
    """
    n = acc[:, _N]
    used = n > 0
    if not used.all():
        acc = acc[used]
        n = n[used]
    N = len(n)
    total = float(n.sum())
    names = ("mean_theta1", "mean_theta2", "var_theta1", "var_theta2", "cov_theta12",
             "mean_abs_theta1", "std_abs_theta1")
    out: dict = {"samples": total, "sampled_walkers": N}
    if N < 2:  # nothing to estimate (e.g. every walker left before the window)
        out.update({k + sfx: None for k in names for sfx in ("", "_se")})
        return out
    nbar = total / N
    m = acc.sum(axis=0) / total

    def e(j: int) -> np.ndarray:
        """Influence of pooled mean j, one column at a time (memory O(walkers))."""
        return (acc[:, j] - n * m[j]) / nbar

    def se(infl: np.ndarray) -> float:
        return float(np.sqrt(np.sum(infl * infl) / (N * (N - 1.0))))

    var_x = m[_SXX] - m[_SX] ** 2
    var_y = m[_SYY] - m[_SY] ** 2
    cov = m[_SXY] - m[_SX] * m[_SY]
    var_ax = max(m[_SXX] - m[_SAX] ** 2, 0.0)
    std_ax = math.sqrt(var_ax)
    out.update({
        "mean_theta1": m[_SX], "mean_theta1_se": se(e(_SX)),
        "mean_theta2": m[_SY], "mean_theta2_se": se(e(_SY)),
        "var_theta1": var_x, "var_theta1_se": se(e(_SXX) - 2 * m[_SX] * e(_SX)),
        "var_theta2": var_y, "var_theta2_se": se(e(_SYY) - 2 * m[_SY] * e(_SY)),
        "cov_theta12": cov,
        "cov_theta12_se": se(e(_SXY) - m[_SX] * e(_SY) - m[_SY] * e(_SX)),
        "mean_abs_theta1": m[_SAX], "mean_abs_theta1_se": se(e(_SAX)),
        "std_abs_theta1": std_ax,
        "std_abs_theta1_se": (se((e(_SXX) - 2 * m[_SAX] * e(_SAX)) / (2 * std_ax))
                              if std_ax > 0 else float("nan")),
    })
    return {k: float(v) if isinstance(v, (np.floating, float)) else v for k, v in out.items()}


def _start_positions(sample_from: Any, index: np.ndarray, walkers: int) -> Tuple[np.ndarray, np.ndarray]:
    """Start positions of the walkers ``index`` (global indices)."""
    if callable(sample_from):
        pos = np.asarray(sample_from(index), dtype=float)
    else:
        pos = np.asarray(sample_from, dtype=float)
        if pos.shape == (2,):
            pos = np.broadcast_to(pos, (len(index), 2))
        elif pos.shape == (walkers, 2):
            pos = pos[index]
        else:
            raise ModelError(f"sample_from must be a point (x, y), a (walkers, 2) array or a callable "
                             f"(got shape {pos.shape})")
    if pos.shape != (len(index), 2) or not np.all(np.isfinite(pos)):
        raise ModelError("sample_from must give finite (walkers, 2) start positions")
    return np.array(pos[:, 0]), np.array(pos[:, 1])


def _check_edges(name: str, edges: Any) -> np.ndarray:
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise ModelError(f"{name} must be increasing finite bin edges (at least 2)")
    return edges


class RunPlan(NamedTuple):
    """Checked length of a run: ``step_time`` (time units), ``steps``, the
    burn-in ``burn_steps``, the sampling stride ``every`` (steps) and whether
    the Brownian-bridge exit test is on (``bridge``, MODEL.md §8)."""

    step_time: float
    steps: int
    burn_steps: int
    every: int
    bridge: bool = False


#: Bytes a run holds per walker on each rank (every rank gathers all walkers
#: at the end: start, state, accumulators, gathered copies, results and their
#: temporaries; measured with tracemalloc: about 300 at 2e6 walkers).
BYTES_PER_WALKER = 400
#: Bytes per progress block of a run (the Python list and set of block ends).
BYTES_PER_BLOCK = 120


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else
    ``os.sysconf`` free pages × page size); None when neither says."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def predicted_memory(plan: "RunPlan", walkers: int, bins: Tuple[int, int] = (400, 400), *, ranks: int = 1,
                     threads: int = 1, block_walker_steps: float = 2e7) -> int:
    """Bytes a :func:`run` of ``walkers`` over ``plan`` (:func:`check_run`)
    with ``bins`` = (nx, ny) histogram bins needs on one machine running
    ``ranks`` MPI ranks of ``threads`` numba threads: per-walker arrays on
    every rank, one histogram per thread, and the list of progress blocks
    (``plan.steps`` over the block length)."""
    nx, ny = (int(b) for b in bins)
    block = max(1, int(block_walker_steps // max(walkers, 1)))
    hist = (min(threads, walkers) + 2) * (nx * ny + 2 * nx + 2) * 8
    return ranks * (walkers * BYTES_PER_WALKER + hist + (plan.steps // block + 1) * BYTES_PER_BLOCK)


def check_memory(plan: "RunPlan", walkers: int, bins: Tuple[int, int] = (400, 400), *, comm: Any = None,
                 threads: int = 1, block_walker_steps: float = 2e7) -> int:
    """ModelError (naming walkers, steps and bins) when
    :func:`predicted_memory` (``comm.size`` ranks on one machine) exceeds
    :func:`available_memory` (rank 0's reading, so that every rank of
    ``comm`` decides alike); returns the prediction (bytes).  Called before
    any work, so that a run too large for the machine is one line instead
    of a MemoryError."""
    ranks = 1 if comm is None else comm.size
    need = predicted_memory(plan, walkers, bins, ranks=ranks, threads=threads,
                            block_walker_steps=block_walker_steps)
    have = available_memory() if comm is None or comm.rank == 0 else None
    if comm is not None:
        have = comm.bcast(have, root=0)
    if have is not None and need > have:
        raise ModelError(f"the run needs about {need / 2**30:.3g} GiB ({walkers} walkers, {plan.steps} steps, "
                         f"{bins[0]}x{bins[1]} bins, {ranks} rank(s)) but {have / 2**30:.3g} GiB are available; "
                         "use fewer walkers, a shorter run or fewer bins")
    return need


def check_run(noise: Noise, *, method: str = "sgd", shift: str = "linear", cross: bool = True,
              walkers: int = 1000, steps: Optional[int] = None, time: Optional[float] = None,
              dt: Optional[float] = None, radius: float = 2.0, bound: float = DEFAULT_BOUND,
              burn_in: Optional[float] = None, sample_interval: Optional[float] = None,
              engine: str = "numba", bridge: Optional[bool] = None) -> RunPlan:
    """The validity rules of :func:`run`, stated once (``run`` and
    ``scripts/sample_sgd.py`` call this before any work); arguments as in
    :func:`run`, times in units of α SGD steps.  Raises ModelError naming
    the bad argument; returns the :class:`RunPlan`.
    """
    if method not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if shift not in SHIFTS:
        raise ModelError(f"shift must be one of {', '.join(SHIFTS)} (got {shift!r})")
    if engine not in ENGINES:
        raise ModelError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if not (isinstance(walkers, (int, np.integer)) and walkers >= 1):
        raise ModelError(f"walkers must be an integer >= 1 (got {walkers!r})")
    if method == "sgd":
        if dt is not None:
            raise ModelError("dt is the SDE step; SGD steps last alpha (drop dt or use method sde)")
        if not cross:
            raise ModelError("no cross-diffusion applies to the SDE only (SGD noise always has cross terms)")
        if bridge:
            raise ModelError("the Brownian-bridge test applies to the SDE (SGD steps are the process itself)")
        bridge = False
        step_time = noise.alpha
    else:
        if shift != "linear":
            raise ModelError("shift exact applies to SGD only (the SDE is the linear-shift limit)")
        step_time = noise.alpha if dt is None else float(dt)
        if not (math.isfinite(step_time) and step_time > 0):
            raise ModelError(f"dt must be a finite number > 0 (got {dt!r})")
        bridge = True if bridge is None else bool(bridge)
    if (steps is None) == (time is None):
        raise ModelError("give exactly one of steps and time")
    if steps is None:
        if not (math.isfinite(time) and time > 0):
            raise ModelError(f"time must be a finite number > 0 (got {time!r})")
        steps = max(1, int(round(time / step_time)))
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ModelError(f"steps must be an integer >= 1 (got {steps!r})")
    steps = int(steps)
    if not (radius > 0):
        raise ModelError(f"radius must be > 0 (got {radius!r})")
    if not (bound > 0):
        raise ModelError(f"bound must be > 0 (got {bound!r})")
    if burn_in is not None and not (math.isfinite(burn_in) and burn_in >= 0):
        raise ModelError(f"burn_in must be a finite number >= 0 (got {burn_in!r})")
    if sample_interval is not None and not (math.isfinite(sample_interval) and sample_interval > 0):
        raise ModelError(f"sample_interval must be a finite number > 0 (got {sample_interval!r})")
    burn_steps = steps // 3 if burn_in is None else int(round(burn_in / step_time))
    if not 0 <= burn_steps <= steps:
        raise ModelError(f"burn_in must lie in [0, run length] (got {burn_in!r})")
    every = (max(1, int(round(1.0 / step_time))) if sample_interval is None
             else max(1, int(round(sample_interval / step_time))))
    return RunPlan(step_time, steps, burn_steps, every, bridge)


def run(landscape: Any, noise: Optional[Noise] = None, *, method: str = "sgd", shift: str = "linear",
        cross: bool = True, walkers: int = 1000, steps: Optional[int] = None,
        time: Optional[float] = None, dt: Optional[float] = None, seed: int = 0,
        radius: float = 2.0, center: Tuple[float, float] = (0.0, 0.0),
        hist_edges: Optional[Tuple[Any, Any]] = None, abs_edges: Any = None,
        sample_from: Any = (0.0, 0.0), target: Optional[Box] = None,
        burn_in: Optional[float] = None, sample_interval: Optional[float] = None,
        bound: float = DEFAULT_BOUND, snapshot_times: Sequence[float] = (),
        survival_points: int = 201, engine: str = "numba", comm: Any = None,
        progress: Optional[Callable[[int, int], None]] = None,
        block_walker_steps: float = 2e7, bridge: Optional[bool] = None) -> MonteCarloResult:
    """Run ``walkers`` independent SGD or SDE trajectories; see the module doc.

    ``landscape``: a :class:`~fpsolve.model.Landscape` with ``noise`` (and
    ``cross`` for the SDE), or a :class:`~fpsolve.symbolic.Model` (``noise``
    None; its noise model decides, ``cross`` must stay True; kernels
    generated by :mod:`fpsolve.mc_codegen`; ``shift='exact'`` needs the
    ``sgd`` noise).

    Times (``time``, ``dt``, ``burn_in``, ``sample_interval``,
    ``snapshot_times``) are in units of α SGD steps; a SGD step lasts α, a SDE
    step ``dt`` (default α).  ``steps`` or ``time`` sets the length.  The
    stationary window starts at ``burn_in`` (default a third of the run) and is
    sampled every ``sample_interval`` (default 1 time unit, at least 1 step).
    ``radius = inf`` switches absorption off.  ``sample_from``: a point, a
    (walkers, 2) array, or a callable(global walker indices) -> (n, 2).
    ``comm``: an mpi4py communicator, default MPI.COMM_WORLD (``fpsolve.parallel``);
    walkers are split by index across its ranks, every rank returns the full
    (reduced) result, identical to a serial run (MPI.COMM_SELF).
    ``progress(steps_done, steps_total)`` is called between blocks (rank 0).
    ``bridge`` (default on for the SDE, the valley's and a Model's generated
    kernels alike; off for SGD, whose steps are the process itself): the
    Brownian-bridge exit test of MODEL.md §8 in the absorption and
    first-passage checks, so SDE exit rates and first-passage times converge
    at O(dt) instead of O(√dt).

    Samplers: the SGD update of MODEL.md §2 (seed S3) or Euler-Maruyama of
    the SDE of §3 (seed S12-S13), see the module doc.  Returns a
    :class:`MonteCarloResult`: ``summary`` (moments with standard errors,
    survival fraction, timings), the 2-D histogram ``hist`` (shape
    (len(hist_edges[0]) - 1, len(hist_edges[1]) - 1)), the θ1 and |θ1|
    histograms, ``survival`` (times, surviving fraction), first-passage
    times (time units, NaN for walkers that never hit ``target``), final
    positions (walkers, 2) and status.  Raises ModelError for any argument
    that breaks :func:`check_run`'s rules, a bad ``sample_from``/edges, a
    start point outside the absorbing disk (:func:`check_start`) or a run
    larger than the machine's memory (:func:`check_memory`).
    """
    from .symbolic import COVARIANCE, Model

    user = landscape if isinstance(landscape, Model) else None
    if user is not None:
        if noise is not None:
            raise ModelError("run(model) takes the noise from the model (drop the noise argument)")
        if not cross:
            raise ModelError("cross=False: use the model's noise 'sgd-diagonal' instead")
        if shift == "exact" and user.noise != "sgd":
            raise ModelError(f"shift='exact' is the random shift of the 'sgd' noise (the model's noise is {user.noise!r})")
        noise = user.noise_level
    plan = check_run(noise, method=method, shift=shift, cross=cross, walkers=walkers, steps=steps, time=time,
                     dt=dt, radius=radius, bound=bound, burn_in=burn_in, sample_interval=sample_interval,
                     engine=engine, bridge=bridge)
    step_time, steps, burn_steps, every, bridge = plan

    comm = parallel.world(comm)
    if method == "sgd":
        code = _SGD_LINEAR if shift == "linear" else _SGD_EXACT
    else:
        code = _SDE_CROSS if cross else _SDE_NOCROSS
    sample_start = max(burn_steps, 1)
    cx, cy = (float(center[0]), float(center[1]))
    if hist_edges is None:
        half = radius if math.isfinite(radius) else 2.0
        hist_edges = (np.linspace(cx - half, cx + half, 401), np.linspace(cy - half, cy + half, 401))
    xedges = _check_edges("hist_edges[0]", hist_edges[0])
    yedges = _check_edges("hist_edges[1]", hist_edges[1])
    if abs_edges is None:
        top = max(abs(xedges[0]), abs(xedges[-1]))
        abs_edges = np.linspace(0.0, top, max(2, (len(xedges) - 1) // 2) + 1)
    axedges = _check_edges("abs_edges", abs_edges)
    if not callable(sample_from) and np.shape(sample_from) == (2,):
        check_start(sample_from, radius, (cx, cy))
    snap_steps = sorted({int(round(t / step_time)) for t in snapshot_times})
    if any(s < 0 or s > steps for s in snap_steps):
        raise ModelError("snapshot_times must lie in [0, run length]")
    if target is not None:
        tx, ty = map(float, target.center)
        twx, twy = map(float, target.half_width)
    else:
        tx = ty = twx = twy = 0.0

    check_memory(plan, walkers, (len(xedges) - 1, len(yedges) - 1), comm=comm,
                 threads=numba.get_num_threads() if engine == "numba" else 1, block_walker_steps=block_walker_steps)
    rank, size = (0, 1) if comm is None else (comm.rank, comm.size)
    lo, hi = rank * walkers // size, (rank + 1) * walkers // size
    index = np.arange(lo, hi, dtype=np.int64)
    n = len(index)
    keys = walker_keys(seed, index)
    x, y = _start_positions(sample_from, index, walkers)
    status = np.zeros(n, dtype=np.int8)
    exit_step = np.full(n, -1, dtype=np.int64)
    fp_step = np.full(n, -1, dtype=np.int64)
    if target is not None:
        inside = (np.abs(x - tx) < twx) & (np.abs(y - ty) < twy)
        fp_step[inside] = 0
    acc = np.zeros((n, _NACC))
    nchunks = max(1, min(numba.get_num_threads(), n)) if engine == "numba" else 1
    tallies = Tallies(hist=np.zeros((nchunks, len(xedges) - 1, len(yedges) - 1), dtype=np.int64),
                      hist_x=np.zeros((nchunks, len(xedges) - 1), dtype=np.int64),
                      hist_ax=np.zeros((nchunks, len(axedges) - 1), dtype=np.int64),
                      xedges=xedges, yedges=yedges, axedges=axedges)
    state = Walkers(x=x, y=y, status=status, exit_step=exit_step, fp_step=fp_step, acc=acc, keys=keys)
    sgd_scale, sde_scale = math.sqrt(noise.Delta), math.sqrt(noise.T * step_time)
    compile_seconds = 0.0
    if user is None:
        coef = np.array([*landscape.coefficients, noise.T])
        a0, a2, a4, eps = landscape.coefficients

        def tensor(X, Y):  # D of the bridge test, on arrays
            return model.diffusion(X, Y, noise.T, a0, a2, a4, eps, cross=code == _SDE_CROSS)
        if engine == "numba":
            advance = functools.partial(_advance_numba, functools.partial(_advance_chunk, int(code)))
        else:
            advance = functools.partial(_advance_numpy, functools.partial(_update_numpy, int(code)),
                                        diffusion=functools.partial(_diffusion_numpy, code == _SDE_CROSS)
                                        if code in (_SDE_CROSS, _SDE_NOCROSS) else None)
    else:
        from . import mc_codegen

        user.check_formulas(radius if math.isfinite(radius) else 2.0, (cx, cy))
        coef = np.array(user.arguments, dtype=float)
        if user.noise == COVARIANCE:  # Σ as given: SGD noise Σ^{1/2} z, SDE sqrt(α dt) Σ^{1/2} z
            sgd_scale, sde_scale = 1.0, math.sqrt(noise.alpha * step_time)
        gen_code = {_SGD_LINEAR: mc_codegen.SGD_LINEAR, _SGD_EXACT: mc_codegen.SGD_EXACT}.get(code, mc_codegen.SDE)
        kern = mc_codegen.kernels(user)
        compile_seconds = kern.seconds
        if engine == "numba":
            advance = functools.partial(_advance_numba, kern.chunk(gen_code))
        else:
            advance = functools.partial(_advance_numpy, kern.numpy_update(gen_code),
                                        diffusion=kern.numpy_diffusion if gen_code == mc_codegen.SDE else None)

        def tensor(X, Y):  # D = (α/2) Σ of the bridge test, on arrays
            return user.evaluate("diffusion", X, Y)
    params = KernelParams(alpha=noise.alpha, sgd_scale=sgd_scale, dt=step_time, sde_scale=sde_scale, coef=coef,
                          cx=cx, cy=cy, stop2=min(radius * radius, bound * bound), bound2=bound * bound,
                          sample_start=int(sample_start), sample_every=int(every),
                          has_target=target is not None, tx=tx, ty=ty, twx=twx, twy=twy,
                          bridge=_bridge_reach(tensor, step_time, cx, cy, radius) if bridge else 0.0)

    # blocks of steps: progress between them, and snapshots at block ends
    block = max(1, int(block_walker_steps // max(walkers, 1)))
    stops = sorted(set(list(range(block, steps, block)) + snap_steps + [steps]) - {0})
    snapshots = {}
    if 0 in snap_steps:
        snapshots[0] = _gather_positions(comm, x, y)
    t0 = _time.perf_counter()
    k = 0
    for stop in stops:
        advance(state, tallies, k, stop, params)
        k = stop
        if stop in snap_steps:
            snapshots[stop] = _gather_positions(comm, x, y)
        if progress is not None and rank == 0:
            progress(k, steps)
    if comm is not None:
        comm.barrier()
    wall = _time.perf_counter() - t0

    hist, hist_x, hist_ax = tallies.hist.sum(axis=0), tallies.hist_x.sum(axis=0), tallies.hist_ax.sum(axis=0)
    if comm is not None:
        from mpi4py import MPI

        hist = comm.allreduce(hist, op=MPI.SUM)
        hist_x = comm.allreduce(hist_x, op=MPI.SUM)
        hist_ax = comm.allreduce(hist_ax, op=MPI.SUM)
        x, y, status, exit_step, fp_step, acc = (
            np.concatenate(comm.allgather(a)) for a in (x, y, status, exit_step, fp_step, acc))

    # survival: a walker that stops at step s is alive for steps < s
    grid = np.unique(np.linspace(0, steps, max(2, survival_points)).round().astype(np.int64))
    stopped = np.sort(exit_step[status != ALIVE])
    fraction = 1.0 - np.searchsorted(stopped, grid, side="right") / walkers
    first_passage = np.where(fp_step >= 0, fp_step * step_time, np.nan)

    stats = _pooled_stats(acc)
    hit = np.isfinite(first_passage)
    summary = {
        "method": method, "shift": shift if method == "sgd" else None,
        "cross_diffusion": bool(cross) if user is None else user.cross, "engine": engine,
        **(model.describe(landscape, noise) if user is None else
           {"model": user.as_dict(), "T": noise.T, "noise": noise.as_dict(),
            "kernel_load_seconds": compile_seconds}),
        "walkers": walkers, "steps": steps, "step_time": step_time,
        "time": steps * step_time, "seed": seed,
        "radius": radius if math.isfinite(radius) else None, "center": [cx, cy],
        "divergence_bound": bound,
        "brownian_bridge": bool(bridge),
        "burn_in_time": burn_steps * step_time, "sample_interval_time": every * step_time,
        "statistics": "pooled over walkers and the stationary window; standard errors (_se) from "
                      "per-walker time sums (walkers independent, ratio estimator)",
        **stats,
        "survival_fraction": float(np.mean(status == ALIVE)),
        "absorbed_fraction": float(np.mean(status == ABSORBED)),
        "diverged_fraction": float(np.mean(status == DIVERGED)),
        "first_passage_target": (None if target is None else
                                 {"center": [tx, ty], "half_width": [twx, twy]}),
        "first_passage_hit_fraction": float(np.mean(hit)) if target is not None else None,
        "first_passage_mean_time": (float(np.mean(first_passage[hit])) if target is not None and hit.any()
                                    else None),
        "first_passage_mean_time_se": (float(np.std(first_passage[hit], ddof=1) / math.sqrt(hit.sum()))
                                       if target is not None and hit.sum() > 1 else None),
        "walker_steps_per_second": walkers * steps / wall if wall > 0 else None,
        "wall_seconds": wall,
        "mpi_ranks": size,
        "numba_threads": numba.get_num_threads() if engine == "numba" else 1,
    }
    return MonteCarloResult(
        hist=hist, edges=(xedges, yedges), hist_theta1=hist_x, hist_abs_theta1=hist_ax,
        abs_edges=axedges, summary=summary, survival=(grid * step_time, fraction),
        first_passage=first_passage, final=np.column_stack([x, y]), status=status,
        snapshots={s * step_time: v for s, v in snapshots.items()},
        exit_time=np.where(status != ALIVE, exit_step * step_time, np.nan),
    )


def _gather_positions(comm: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pos = np.column_stack([x, y])
    return pos if comm is None else np.concatenate(comm.allgather(pos))
