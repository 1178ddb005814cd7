"""Compiled Monte Carlo kernels in N dimensions (docs/model.md §9).

Two families, one record layout (:class:`NWalkers`, :class:`NTallies`,
:class:`NParams`) and one random-number contract: the N standard normals of
walker i at step k are numbers ``N k + j`` (j = 0 … N−1) of its stream
(:mod:`fpsolve.mc.rng`), so for N = 2 they are the two-dimensional kernels'
numbers ``2k``, ``2k + 1``, and every number depends only on (seed, walker,
step): results are bit-identical for any thread or rank count.

- **The valley** θ = (x, y_1 … y_m) with ``L = ½ Σ g_i(x) y_i² + ½ ε x²``:
  H is an arrow matrix (H_xx, H_x,yi = g_i' y_i, H_yi,yi = g_i), so ``H ξ``,
  ``sqrt(T) H dW``, the diagonal of H² and ``n·D n`` cost O(m) per
  walker-step; the N × N matrix is never formed.  For m = 1 every update is
  the two-dimensional kernel's sequence of floating-point operations
  (:mod:`fpsolve.mc.kernels`): same seed, same numbers.
- **Dense models** (an N-variable expression, :mod:`fpsolve.mc.ncodegen`,
  or a quadratic ``½ θᵀAθ``): ∇L and the N × N Hessian per walker-step, O(N²).

Updates (docs/model.md §2-3, §7): SGD with the linear shift
``θ ← θ − α (∇L − R ξ)``, ``ξ = sqrt(Δ) z`` (R = H for ``sgd`` noise,
diag sqrt((H²)_jj) for ``sgd-diagonal``, I for ``isotropic``); SGD with the
exact shift ``θ ← θ − α ∇L(θ − ξ)`` (``sgd`` noise); the SDE
``θ ← θ − ∇L dt + sqrt(T dt) R z`` with the Brownian-bridge exit test at the
absorbing sphere (docs/model.md §8): after a step from θ to θ' inside, an
exit with probability ``exp(−2 d d' / (σ_n² dt))``, σ_n² = 2 n·D n,
``n = (θ' − c)/|θ' − c|``, D = (T/2) R Rᵀ at θ.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, NamedTuple

import numba
import numpy as np

from fpsolve.mc import kernels as _kernels
from fpsolve.mc.kernels import _GROUP, _bin, _bridge_probability, _nb, ABSORBED, ALIVE, DIVERGED, chunk_bounds
from fpsolve.mc import rng as _rng
from fpsolve.mc.rng import _normals_batch, _normals_into, _uniform
from fpsolve.model import valley as _valley
from fpsolve.tools import caches as _caches


_caches.prepare_numba_cache(__file__)  # before the cache=True kernels below
# the cached kernels inline the formulas, kernels' helpers and rng's normals (_normals_batch)
_kernels._drop_stale_kernel_cache(formulas=[Path(_valley.__file__).resolve(), Path(_kernels.__file__).resolve(),
                                            Path(_rng.__file__).resolve()],
                                  stem=Path(__file__).stem)

#: Update codes (NParams.method) and noise codes (NParams.noise).
SGD_LINEAR, SGD_EXACT, SDE = 0, 1, 2
NOISE_SGD, NOISE_DIAGONAL, NOISE_ISOTROPIC = 0, 1, 2
NOISE_CODES = {"sgd": NOISE_SGD, "sgd-diagonal": NOISE_DIAGONAL, "isotropic": NOISE_ISOTROPIC}
#: Columns of the per-walker window sums: count, Σx, Σx², Σ|x|, Σ loss, Σ
#: flatness (valley) or Σ tr H (dense); then Σθ_j (N columns), Σθ_j² (N columns).
A_N, A_X, A_XX, A_AX, A_LOSS, A_SHAPE = range(6)
NACC = 6


class NWalkers(NamedTuple):
    """Per-walker state: positions theta (n, N), status, exit step, the
    window sums acc (n, 6 + 2N), the stream keys and the first step in the
    target (fp_step, −1 before; docs/model.md §8-9)."""

    theta: np.ndarray
    status: np.ndarray
    exit_step: np.ndarray
    acc: np.ndarray
    keys: np.ndarray
    fp_step: np.ndarray


class NTallies(NamedTuple):
    """Histogram counts per chunk of θ1 (hist (c, nx)) and ``|θ1|`` (hist_ax (c, na)), with edges."""

    hist: np.ndarray
    hist_ax: np.ndarray
    xedges: np.ndarray
    axedges: np.ndarray


class NParams(NamedTuple):
    """Every number a kernel reads, by name.  ``method``/``noise``: codes
    above; ``alpha``, ``sgd_scale`` (sqrt Δ): SGD; ``dt``, ``sde_scale``
    (sqrt(T dt)): SDE; ``T``; the valley's ``eps`` and per-direction
    ``a0, a2, a4`` (m,) (empty for a dense model); ``coef``: a dense model's
    numbers (constants, alpha, Delta; or A row-major); ``center`` (N,);
    stop radius² min(R², bound²), divergence bound²; first sampled step,
    sampling stride; ``bridge``: the reach of the bridge test (0 = off);
    ``shared``: every fast direction has the same profile (computed once);
    the first-passage target ``target_lo ≤ |θ1| ≤ target_hi`` (off when
    target_hi < target_lo; the walker records its first step there and runs on)."""

    method: int
    noise: int
    alpha: float
    sgd_scale: float
    dt: float
    sde_scale: float
    T: float
    eps: float
    a0: np.ndarray
    a2: np.ndarray
    a4: np.ndarray
    coef: np.ndarray
    center: np.ndarray
    stop2: float
    bound2: float
    sample_start: int
    sample_every: int
    bridge: float
    shared: bool = False
    target_lo: float = 0.0
    target_hi: float = -1.0


_g, _dg, _d2g = _nb.g, _nb.dg, _nb.d2g


@numba.njit(_nrt=False, inline="always")
def _wall_test(th, old, p):
    """The exit test after a step from ``old`` to ``th`` up to the bridge:
    (stop, d2, ro2, bridge): stop when ``th`` is outside the stop sphere;
    ``bridge`` when the Brownian bridge must decide (bridge on, sphere
    finite, an end within reach; :func:`_bridge_crossed`)."""
    n = th.shape[0]
    d2 = 0.0
    for j in range(n):
        d2 += (th[j] - p.center[j]) * (th[j] - p.center[j])
    if not d2 < p.stop2:
        return True, d2, 0.0, False
    if p.bridge > 0.0 and p.stop2 < p.bound2:
        ro2 = 0.0
        for j in range(n):
            ro2 += (old[j] - p.center[j]) * (old[j] - p.center[j])
        inner = max(math.sqrt(p.stop2) - p.bridge, 0.0) ** 2
        if d2 > 0.0 and not (ro2 < inner and d2 < inner):
            return False, d2, ro2, True
    return False, d2, 0.0, False


@numba.njit(_nrt=False)
def _bridge_crossed(key, k, d2, ro2, ndn, p):
    """Whether the Brownian bridge from radius² ``ro2`` to ``d2`` crossed the
    stop sphere; ``ndn`` is n·D n at the step's start."""
    r = math.sqrt(p.stop2)
    q = _bridge_probability(r - math.sqrt(ro2), r - math.sqrt(d2), ndn, 0.0, 0.0, 1.0, 0.0, p.dt)
    return _uniform(key, np.uint64(2) * np.uint64(k)) < q


@numba.njit(_nrt=False)
def _wall_hit(th, old, key, k, ndn, p):
    """The exit test after a step from ``old`` to ``th`` (:func:`_wall_test`,
    then :func:`_bridge_crossed` where needed); ``ndn`` is n·D n at ``old``.
    Returns (stop, d2)."""
    stop, d2, ro2, bridge = _wall_test(th, old, p)
    if bridge:
        return _bridge_crossed(key, k, d2, ro2, ndn, p), d2
    return stop, d2


@numba.njit(_nrt=False)
def _record(i, th, loss, shape, w, t, c):
    """Add walker i's sample (position th, loss, flatness or tr H) to the window sums and histograms."""
    n = th.shape[0]
    acc = w.acc
    x = th[0]
    ax = abs(x)
    acc[i, A_N] += 1.0
    acc[i, A_X] += x
    acc[i, A_XX] += x * x
    acc[i, A_AX] += ax
    acc[i, A_LOSS] += loss
    acc[i, A_SHAPE] += shape
    for j in range(n):
        acc[i, NACC + j] += th[j]
        acc[i, NACC + n + j] += th[j] * th[j]
    jx = _bin(t.xedges, x)
    if jx >= 0:
        t.hist[c, jx] += 1
    ja = _bin(t.axedges, ax)
    if ja >= 0:
        t.hist_ax[c, ja] += 1


# --------------------------------------------------------------------------
# The valley: O(N) per walker-step (arrow Hessian)
# --------------------------------------------------------------------------


@numba.njit(_nrt=False, inline="always")
def _valley_step(th, old, gs, hxy, z, p):
    """One update of one walker of the valley in place with the step's N
    normals ``z``; returns ``aux``, what :func:`_valley_ndn` needs besides
    ``gs`` and ``hxy`` (H_xx for ``sgd`` noise, D_xx for ``sgd-diagonal``; 0
    for SGD).  For m = 1 the operations are those of fpsolve.mc.kernels'
    two-dimensional updates, in order.

    Buffers (length ≥ N − 1 unless said): ``old`` (N) gets the old position
    (only when the bridge test can run); ``gs`` and ``hxy`` keep g_i and
    H_x,yi = g_i' y_i at the old point (``sgd-diagonal``: hxy keeps D_yi,yi).
    One pass over the fast directions: each y_i is updated as soon as its
    gradient, Hessian row and noise are known (the sums over i — ∂x L, H_xx,
    (H z)_x — keep their order, so the numbers are those of separate passes).
    Inlined into :func:`_valley_group` (as a call, NParams' ~50 flattened
    fields cost ~65 ns per walker-step)."""
    n = th.shape[0]
    m = n - 1
    if p.bridge > 0.0 and p.stop2 < p.bound2:
        for j in range(n):
            old[j] = th[j]
    x = th[0]
    shared = p.shared
    if p.method == SGD_EXACT:  # L_μ(θ) = L(θ − ξ): ∇L at the shifted point
        xs = x - p.sgd_scale * z[0]
        gx = 0.0
        g_s, d1_s = _g(xs, p.a0[0], p.a2[0], p.a4[0]), _dg(xs, p.a0[0], p.a2[0], p.a4[0])
        for i in range(m):
            ys = th[1 + i] - p.sgd_scale * z[1 + i]
            if shared:
                gi, d1 = g_s, d1_s
            else:
                gi, d1 = _g(xs, p.a0[i], p.a2[i], p.a4[i]), _dg(xs, p.a0[i], p.a2[i], p.a4[i])
            gx += 0.5 * d1 * ys * ys
            th[1 + i] = th[1 + i] - p.alpha * (gi * ys)
        th[0] = x - p.alpha * (gx + p.eps * xs)
        return 0.0
    zx = z[0]
    gx = 0.0
    hxx = 0.0
    # one shared profile (p.shared): g, g', g'' once per walker-step
    g_s, d1_s, d2_s = _g(x, p.a0[0], p.a2[0], p.a4[0]), _dg(x, p.a0[0], p.a2[0], p.a4[0]), \
        _d2g(x, p.a0[0], p.a2[0], p.a4[0])
    sgd = p.method == SGD_LINEAR
    alpha, dt, sc = p.alpha, p.dt, p.sde_scale
    if p.noise == NOISE_SGD:  # R = H (arrow)
        wx = p.sgd_scale * zx if sgd else zx
        s = 0.0
        for i in range(m):
            y = th[1 + i]
            if shared:
                gi, d1, d2 = g_s, d1_s, d2_s
            else:
                gi, d1, d2 = _g(x, p.a0[i], p.a2[i], p.a4[i]), _dg(x, p.a0[i], p.a2[i], p.a4[i]), \
                    _d2g(x, p.a0[i], p.a2[i], p.a4[i])
            gx += 0.5 * d1 * y * y
            hxx += 0.5 * d2 * y * y
            hi = d1 * y
            gs[i] = gi
            hxy[i] = hi
            wi = p.sgd_scale * z[1 + i] if sgd else z[1 + i]
            s += hi * wi
            if sgd:
                th[1 + i] = y - alpha * (gi * y - (hi * wx + gi * wi))
            else:
                th[1 + i] = y - dt * (gi * y) + sc * (hi * wx + gi * wi)
        gx = gx + p.eps * x
        hxx = hxx + p.eps
        if sgd:
            th[0] = x - alpha * (gx - (hxx * wx + s))
            return 0.0
        th[0] = x - dt * gx + sc * (hxx * wx + s)
        return hxx
    if p.noise == NOISE_DIAGONAL:  # R = diag sqrt((H²)_jj): D = (T/2) diag(H²)
        s2 = 0.0
        for i in range(m):
            y = th[1 + i]
            if shared:
                gi, d1, d2 = g_s, d1_s, d2_s
            else:
                gi, d1, d2 = _g(x, p.a0[i], p.a2[i], p.a4[i]), _dg(x, p.a0[i], p.a2[i], p.a4[i]), \
                    _d2g(x, p.a0[i], p.a2[i], p.a4[i])
            gx += 0.5 * d1 * y * y
            hxx += 0.5 * d2 * y * y
            hi = d1 * y
            s2 += hi * hi
            zi = z[1 + i]
            if sgd:
                th[1 + i] = y - alpha * (gi * y - math.sqrt(hi * hi + gi * gi) * (p.sgd_scale * zi))
            else:
                dyy = 0.5 * p.T * (hi * hi + gi * gi)
                hxy[i] = dyy  # kept for n·D n
                th[1 + i] = y - dt * (gi * y) + math.sqrt(2.0 * dyy * dt) * zi
        gx = gx + p.eps * x
        hxx = hxx + p.eps
        if sgd:
            th[0] = x - alpha * (gx - math.sqrt(hxx * hxx + s2) * (p.sgd_scale * zx))
            return 0.0
        dxx = 0.5 * p.T * (hxx * hxx + s2)
        th[0] = x - dt * gx + math.sqrt(2.0 * dxx * dt) * zx
        return dxx
    # isotropic: R = I, D = (T/2) I
    for i in range(m):
        y = th[1 + i]
        if shared:
            gi, d1 = g_s, d1_s
        else:
            gi, d1 = _g(x, p.a0[i], p.a2[i], p.a4[i]), _dg(x, p.a0[i], p.a2[i], p.a4[i])
        gx += 0.5 * d1 * y * y
        if sgd:
            th[1 + i] = y - alpha * (gi * y - p.sgd_scale * z[1 + i])
        else:
            th[1 + i] = y - dt * (gi * y) + sc * z[1 + i]
    gx = gx + p.eps * x
    if sgd:
        th[0] = x - alpha * (gx - p.sgd_scale * zx)
        return 0.0
    th[0] = x - dt * gx + sc * zx
    return 0.0


@numba.njit(_nrt=False)
def _valley_ndn(th, d2, aux, gs, hxy, p):
    """n·D n of the SDE step just taken (D at the old point, n the unit
    normal at the new point th, |th − c|² = d2 > 0), from :func:`_valley_step`'s
    ``aux``, ``gs``, ``hxy`` (docs/model.md §8); 0 for SGD."""
    if p.method != SDE:
        return 0.0
    n = th.shape[0]
    m = n - 1
    if p.noise == NOISE_SGD:  # (T/2) |H n|²
        inv = 1.0 / math.sqrt(d2)
        nx = (th[0] - p.center[0]) * inv
        hn_x = aux * nx
        q = 0.0
        for i in range(m):
            ni = (th[1 + i] - p.center[1 + i]) * inv
            hn_x += hxy[i] * ni
            hn_i = hxy[i] * nx + gs[i] * ni
            q += hn_i * hn_i
        return 0.5 * p.T * (hn_x * hn_x + q)
    if p.noise == NOISE_DIAGONAL:
        inv = 1.0 / d2
        q = aux * (th[0] - p.center[0]) ** 2
        for i in range(m):
            q += hxy[i] * (th[1 + i] - p.center[1 + i]) ** 2
        return q * inv
    return 0.5 * p.T


@numba.njit(_nrt=False, inline="always")
def _valley_wall_hit(th, old, key, k, aux, gs, hxy, p):
    """:func:`_wall_hit` for the valley, n·D n (:func:`_valley_ndn`) computed
    only when the bridge test needs it.  Returns (stop, d2)."""
    stop, d2, ro2, bridge = _wall_test(th, old, p)
    if bridge:
        return _bridge_crossed(key, k, d2, ro2, _valley_ndn(th, d2, aux, gs, hxy, p), p), d2
    return stop, d2


@numba.njit(_nrt=False)
def _valley_observables(th, p):
    """(loss, flatness F = (Σ g_i)^(-1/2)) at th (docs/model.md §9)."""
    m = th.shape[0] - 1
    x = th[0]
    loss = 0.0
    gsum = 0.0
    for i in range(m):
        gi = _g(x, p.a0[i], p.a2[i], p.a4[i])
        loss += 0.5 * gi * th[1 + i] * th[1 + i]
        gsum += gi
    return loss + 0.5 * p.eps * x * x, gsum ** -0.5 if gsum > 0.0 else math.inf


@numba.njit(cache=True)
def observe_valley(theta, status, p):
    """(Σ loss, Σ flatness, count) over the live walkers (the run's time series)."""
    sl = 0.0
    sf = 0.0
    cnt = 0
    for i in range(theta.shape[0]):
        if status[i] == ALIVE:
            loss, flat = _valley_observables(theta[i], p)
            sl += loss
            sf += flat
            cnt += 1
    return sl, sf, cnt


@numba.njit(_nrt=False)
def _valley_live(g0, g1, status, keys, n, live, kflat):
    """The live walkers of [g0, g1) into ``live`` and their keys, each N
    times, into ``kflat`` (row r: walker live[r]'s key); returns their count."""
    nl = 0
    for i in range(g0, g1):
        if status[i] == ALIVE:
            live[nl] = i
            for j in range(n):
                kflat[nl * n + j] = keys[i]
            nl += 1
    return nl


@numba.njit(_nrt=False)
def _valley_group(g0, g1, c, k0, k1, first, w, t, p, old, gs, hxy, live, kflat, offsets, z, words):
    """Advance walkers [g0, g1) (at most ``len(live)``) from step k0 to k1
    (see fpsolve.mc.kernels.make_group_stepper); ``old``, ``gs``, ``hxy``:
    :func:`_valley_step`'s buffers.  A step's normals of all live walkers
    come from one :func:`fpsolve.mc.rng._normals_batch` call into ``z``
    (row r, numbers r N … r N + N − 1: walker live[r]'s; ``kflat``, ``offsets``
    (j of each number), ``words``: its inputs and scratch, length ≥ len(live) N).

    Compiled without numba's reference counting (``_nrt=False``, nothing is
    allocated here): every view of a shared array (``theta[i]``) would
    otherwise change its count atomically, and two threads doing so on the
    same counter cost more than the update itself at small N."""
    theta, status, exit_step = w.theta, w.status, w.exit_step
    n = theta.shape[1]
    nl = _valley_live(g0, g1, status, w.keys, n, live, kflat)
    next_sample = first
    k = k0
    while k < k1 and nl > 0:
        sample = k + 1 == next_sample
        if sample:
            next_sample += p.sample_every
        _normals_batch(kflat, offsets, np.uint64(n) * np.uint64(k), nl * n, z, words)
        died = False
        for r in range(nl):
            i = live[r]
            th = theta[i]
            aux = _valley_step(th, old, gs, hxy, z[r * n:(r + 1) * n], p)
            stop, d2 = _valley_wall_hit(th, old, w.keys[i], k, aux, gs, hxy, p)
            if stop:
                status[i] = DIVERGED if not d2 < p.bound2 else ABSORBED
                exit_step[i] = k + 1
                died = True
                continue
            if w.fp_step[i] < 0 and p.target_lo <= abs(th[0]) <= p.target_hi:
                w.fp_step[i] = k + 1
            if sample:
                loss, flat = _valley_observables(th, p)
                _record(i, th, loss, flat, w, t, c)
        if died:
            nl = _valley_live(g0, g1, status, w.keys, n, live, kflat)
        k += 1


#: Normals made in one batch of a valley group: the group has
#: max(1, min(_GROUP, _BATCH_NUMBERS // N)) walkers.
_BATCH_NUMBERS = 1024


@numba.njit(nogil=True, cache=True)
def advance_valley(c, w, t, k0, k1, p):
    """Advance the live walkers of chunk ``c`` (of ``t.hist.shape[0]``) from
    step k0 to k1; chunk c writes only its own histogram rows, so the result
    does not depend on the number of chunks (threads).  Walkers go in groups
    of B = max(1, min(64, 1024 // N)), a step's B N normals made together."""
    first, lo, hi = chunk_bounds(c, w.theta.shape[0], t.hist.shape[0], k0, p.sample_start, p.sample_every)
    n = w.theta.shape[1]
    group = max(1, min(_GROUP, _BATCH_NUMBERS // n))
    old = np.empty(n)
    gs, hxy = np.empty(max(n - 1, 1)), np.empty(max(n - 1, 1))
    live = np.empty(group, dtype=np.int64)
    kflat, offsets = np.empty(group * n, dtype=np.uint64), np.empty(group * n, dtype=np.uint64)
    z, words = np.empty(group * n), np.empty(group * n, dtype=np.uint64)
    for q in range(group * n):
        offsets[q] = q % n
    for g0 in range(lo, hi, group):
        _valley_group(g0, min(g0 + group, hi), c, k0, k1, first, w, t, p, old, gs, hxy, live, kflat, offsets,
                      z, words)


# --------------------------------------------------------------------------
# Dense models: O(N²) per walker-step
# --------------------------------------------------------------------------


def make_dense_stepper(gradient: Callable, hessian: Callable, loss: Callable, trace: Callable) -> Callable:
    """A compiled group stepper ``(g0, g1, c, k0, k1, first, w, t, p)`` of a
    dense model from its compiled formulas ``gradient(th, coef, out)``,
    ``hessian(th, coef, out)`` (N × N), ``loss(th, coef)``, ``trace(th, coef)``
    (tr H; docs/model.md §7, §9)."""

    def stepper(g0, g1, c, k0, k1, first, w, t, p):
        theta, status, exit_step = w.theta, w.status, w.exit_step
        n = theta.shape[1]
        old = np.empty(n)
        gr = np.empty(n)
        z = np.empty(n)
        r = np.empty(n)
        H = np.zeros((n, n))
        words = np.empty(n, dtype=np.uint64)
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
                th = theta[i]
                key = w.keys[i]
                base = np.uint64(n) * np.uint64(k)
                for j in range(n):
                    old[j] = th[j]
                _normals_into(key, base, z, words)
                ndn = 0.0
                if p.method == SGD_EXACT:
                    for j in range(n):
                        r[j] = th[j] - p.sgd_scale * z[j]
                    gradient(r, p.coef, gr)
                    for j in range(n):
                        th[j] = th[j] - p.alpha * gr[j]
                else:
                    gradient(th, p.coef, gr)
                    if p.noise != NOISE_ISOTROPIC:
                        hessian(th, p.coef, H)
                    for j in range(n):  # r = R z
                        if p.noise == NOISE_SGD:
                            s = 0.0
                            for l in range(n):
                                s += H[j, l] * z[l]
                            r[j] = s
                        elif p.noise == NOISE_DIAGONAL:
                            s = 0.0
                            for l in range(n):
                                s += H[j, l] * H[j, l]
                            r[j] = math.sqrt(s) * z[j]
                        else:
                            r[j] = z[j]
                    if p.method == SGD_LINEAR:
                        for j in range(n):
                            th[j] = th[j] - p.alpha * (gr[j] - p.sgd_scale * r[j])
                    else:
                        for j in range(n):
                            th[j] = th[j] - p.dt * gr[j] + p.sde_scale * r[j]
                        if p.bridge > 0.0:  # n·D n at the old point, D = (T/2) R Rᵀ
                            nn = 0.0
                            for j in range(n):
                                nn += (th[j] - p.center[j]) * (th[j] - p.center[j])
                            inv = 1.0 / math.sqrt(nn) if nn > 0.0 else 0.0
                            q = 0.0
                            for j in range(n):
                                if p.noise == NOISE_ISOTROPIC:
                                    s = (th[j] - p.center[j]) * inv
                                    q += s * s
                                elif p.noise == NOISE_SGD:
                                    s = 0.0
                                    for l in range(n):
                                        s += H[j, l] * (th[l] - p.center[l]) * inv
                                    q += s * s
                                else:
                                    s = 0.0
                                    for l in range(n):
                                        s += H[j, l] * H[j, l]
                                    q += s * ((th[j] - p.center[j]) * inv) ** 2
                            ndn = 0.5 * p.T * q
                stop, d2 = _wall_hit(th, old, key, k, ndn, p)
                if stop:
                    status[i] = DIVERGED if not d2 < p.bound2 else ABSORBED
                    exit_step[i] = k + 1
                    alive -= 1
                    continue
                if w.fp_step[i] < 0 and p.target_lo <= abs(th[0]) <= p.target_hi:
                    w.fp_step[i] = k + 1
                if sample:
                    _record(i, th, loss(th, p.coef), trace(th, p.coef), w, t, c)
            k += 1

    stepper.__name__ = stepper.__qualname__ = f"dense_stepper_{gradient.__module__.replace('.', '_')}"
    return numba.njit(stepper)


def make_dense_observer(loss: Callable, trace: Callable) -> Callable:
    """Compiled ``observe(theta, status, p) -> (Σ loss, Σ tr H, count)`` over live walkers."""

    def observe(theta, status, p):
        sl = 0.0
        st = 0.0
        cnt = 0
        for i in range(theta.shape[0]):
            if status[i] == ALIVE:
                sl += loss(theta[i], p.coef)
                st += trace(theta[i], p.coef)
                cnt += 1
        return sl, st, cnt

    observe.__name__ = observe.__qualname__ = f"dense_observe_{loss.__module__.replace('.', '_')}"
    return numba.njit(observe)


@numba.njit
def _quadratic_gradient(th, coef, out):
    """∇L = A θ of L = ½ θᵀAθ (coef: A row-major, N²)."""
    n = th.shape[0]
    for j in range(n):
        s = 0.0
        for l in range(n):
            s += coef[j * n + l] * th[l]
        out[j] = s


@numba.njit
def _quadratic_hessian(th, coef, out):
    n = th.shape[0]
    for j in range(n):
        for l in range(n):
            out[j, l] = coef[j * n + l]


@numba.njit
def _quadratic_loss(th, coef):
    n = th.shape[0]
    s = 0.0
    for j in range(n):
        for l in range(n):
            s += 0.5 * th[j] * coef[j * n + l] * th[l]
    return s


@numba.njit
def _quadratic_trace(th, coef):
    n = th.shape[0]
    s = 0.0
    for j in range(n):
        s += coef[j * n + j]
    return s


_QUADRATIC_STEP = make_dense_stepper(_quadratic_gradient, _quadratic_hessian, _quadratic_loss, _quadratic_trace)
observe_quadratic = make_dense_observer(_quadratic_loss, _quadratic_trace)


@numba.njit(nogil=True, cache=True)
def advance_quadratic(c, w, t, k0, k1, p):
    """Chunk ``c`` of a quadratic model ``½ θᵀAθ`` (p.coef = A row-major), as :func:`advance_valley`."""
    first, lo, hi = chunk_bounds(c, w.theta.shape[0], t.hist.shape[0], k0, p.sample_start, p.sample_every)
    for g0 in range(lo, hi, _GROUP):
        _QUADRATIC_STEP(g0, min(g0 + _GROUP, hi), c, k0, k1, first, w, t, p)
