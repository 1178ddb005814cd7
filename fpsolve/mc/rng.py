"""Counter-based random numbers of the Monte Carlo (numba and numpy alike).

Walker ``i`` owns its random stream: the normals of step ``k`` are numbers
``2k`` and ``2k + 1`` of its stream, each made by a ziggurat (128 layers,
ZIGNOR) from the 64-bit word ``splitmix64(key_i + n γ)`` (rare rejections
draw from a second keyed stream), with ``key_i`` a hash of ``(seed, i)``.  The
uniforms of the Brownian-bridge test come from a third keyed stream.  A number
therefore depends only on (seed, walker, step), and results are the same bit
for bit whatever the number of threads or MPI ranks.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Tuple

import numba
import numpy as np

from fpsolve.tools import caches


caches.prepare_numba_cache(__file__)  # before the cache=True kernel below

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


@numba.njit(_nrt=False)
def _zig_fast_pass(words, out, count):
    """The ziggurat's fast path on ``words[:count]`` into ``out[:count]`` (a
    rejection marked NaN, for :func:`_zig_slow`); returns the rejections' count."""
    rejected = 0
    for q in range(count):
        h = words[q]
        i = np.int64(h & _MASK7)
        u = 2.0 * (np.float64(np.int64(h >> _S11)) * _U53) - 1.0
        ok = abs(u) < _ZIG_RATIO[i]
        out[q] = u * _ZIG_X[i] if ok else np.nan
        rejected += 0 if ok else 1
    return rejected


@numba.njit(_nrt=False)
def _normals_into(key, base, out, words):
    """Normals ``base`` … ``base + len(out) − 1`` of the stream ``key`` into
    ``out`` (float64), ``words`` (uint64, at least as long) a scratch buffer.

    The same numbers as ``_normal(key, base + j)`` bit for bit, made in two
    passes the compiler vectorises (the SplitMix64 words of the whole block,
    then the ziggurat's fast path, a rejection marked NaN); the rare
    rejections (about 2.7 % of the draws, ~30 ns each: the wedge's two exp)
    are then redone one by one with :func:`_zig_slow`.
    """
    n = out.shape[0]
    for j in range(n):
        words[j] = _mix64(key + (base + np.uint64(j)) * _GAMMA)
    rejected = _zig_fast_pass(words, out, n)
    j = 0
    while rejected > 0:
        if out[j] != out[j]:
            out[j] = _zig_slow(key, base + np.uint64(j), words[j])
            rejected -= 1
        j += 1


@numba.njit(_nrt=False)
def _normals_batch(keys, offsets, base, count, out, words):
    """Normals of several streams in one pass: ``out[q]`` (q < ``count``)
    becomes number ``base + offsets[q]`` of the stream ``keys[q]``, bit for bit
    ``_normal(keys[q], base + offsets[q])``; ``words`` (uint64, ≥ count) is
    scratch.  With the keys and offsets of B walkers' N numbers laid out
    walker by walker (keys[r N + j] = key_r, offsets[r N + j] = j), one call
    makes a step's normals of B walkers: the loops run over B N numbers
    (vectorised), not N (at N = 11 most of :func:`_normals_into`'s work is in
    its short loops' scalar remainders: ~35 instead of ~50 ns per walker-step).
    Rejections are redone one by one, as in :func:`_normals_into`.
    """
    for q in range(count):
        words[q] = _mix64(keys[q] + (base + offsets[q]) * _GAMMA)
    rejected = _zig_fast_pass(words, out, count)
    q = 0
    while rejected > 0:
        if out[q] != out[q]:
            out[q] = _zig_slow(keys[q], base + offsets[q], words[q])
            rejected -= 1
        q += 1


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
# Brownian-bridge exit test (docs/model.md §8): after a step from x to x' that
# stays on this side of a (locally flat) boundary, the path crossed it in
# between with probability exp(−2 d d' / (σ_n² dt)), σ_n² = 2 n·D n (D at x,
# as the Euler-Maruyama step used it).  The uniform of walker i at step k is
# word 2k (the disk's wall) or 2k + 1 (the target) of a third keyed stream,
# so it too depends only on (seed, walker, step).  Both ends farther than
# ``p.bridge`` (the reach) from the boundary: p < e^-60, the test is skipped.
# --------------------------------------------------------------------------

_BRIDGE_KEY = np.uint64(0x2545F4914F6CDD1D)


@numba.njit
def _uniform(key, counter):
    """Uniform in (0, 1): word ``counter`` of the walker's bridge stream."""
    h = _mix64((key ^ _BRIDGE_KEY) + counter * _GAMMA)
    return (np.float64(np.int64(h >> _S11)) + 0.5) * _U53


def _uniform_np(keys: np.ndarray, counter: int) -> np.ndarray:
    c = np.array([counter], dtype=np.uint64)
    return ((_mix64_np((keys ^ _BRIDGE_KEY) + c * _GAMMA) >> _S11).astype(np.float64) + 0.5) * _U53
