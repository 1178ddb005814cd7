"""The checks of a Monte Carlo run that need no compiled kernel (docs/model.md §2-3).

The validity rules of :func:`fpsolve.mc.ensemble.run` (:func:`check_run`),
its memory forecast (:func:`check_memory`) and the seed's range
(:func:`check_seed`), stated once.  This module imports neither numba nor
the kernels: defining the cached kernels probes and writes their cache
folder, and a refused command (exit 2) writes nothing, so the tools check
their input here and import :mod:`fpsolve.mc.ensemble` only afterwards.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from fpsolve.model.expression import Model
from fpsolve.model.valley import ModelError, Noise

__all__ = ["RunPlan", "check_run", "check_memory", "check_seed", "predicted_memory", "available_memory",
           "max_threads", "METHODS", "SHIFTS", "ENGINES", "DEFAULT_BOUND"]

METHODS = ("sgd", "sde")
SHIFTS = ("linear", "exact")
ENGINES = ("numba", "numpy")

#: Default divergence bound on ``|θ − c|`` (only reached when the disk is infinite).
DEFAULT_BOUND = 1e10

#: Seeds are integers in [0, SEED_LIMIT): the 64-bit key of docs/model.md §3's walker streams.
SEED_LIMIT = 2 ** 64


def check_seed(seed: Any, name: str = "seed", limit: int = SEED_LIMIT) -> int:
    """``seed`` as an int; ModelError naming ``name`` and the value unless it is
    an integer in [0, ``limit``) (the walkers' random streams are keyed by
    its 64 bits, :func:`fpsolve.mc.rng.walker_keys`; numpy's generators refuse
    negative seeds).  A tool that derives seeds from one (``seed*1000 + k``)
    passes a smaller ``limit`` so that the derived ones stay below 2**64."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < limit:
        bound = "2**64" if limit == SEED_LIMIT else f"2**{limit.bit_length() - 1}" if limit & (limit - 1) == 0 else str(limit)
        raise ModelError(f"{name} must be an integer in [0, {bound}) (got {seed!r})")
    return int(seed)


#: The seed range of the tools that derive many seeds from one (validate, reproduce, evolve).
DERIVED_SEED_LIMIT = 2 ** 32


def max_threads() -> int:
    """Most numba threads a run may use: ``NUMBA_NUM_THREADS``, by default the
    cores this process may run on (numba's own rule, read without importing numba)."""
    if os.environ.get("NUMBA_NUM_THREADS"):
        return int(os.environ["NUMBA_NUM_THREADS"])
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity on this platform
        return max(1, os.cpu_count() or 1)


class RunPlan(NamedTuple):
    """Checked length of a run: ``step_time`` (time units), ``steps``, the
    burn-in ``burn_steps``, the sampling stride ``every`` (steps) and whether
    the Brownian-bridge exit test is on (``bridge``, docs/model.md §8)."""

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
                     threads: int = 1, block_walker_steps: float = 2e7,
                     bytes_per_walker: int = BYTES_PER_WALKER) -> int:
    """Bytes a :func:`~fpsolve.mc.ensemble.run` of ``walkers`` over ``plan`` (:func:`check_run`)
    with ``bins`` = (nx, ny) histogram bins needs on one machine running
    ``ranks`` MPI ranks of ``threads`` numba threads: per-walker arrays on
    every rank (``bytes_per_walker`` each; the N-dimensional run's are
    larger, :func:`bytes_per_walker_n`), one histogram per thread, and the
    list of progress blocks (``plan.steps`` over the block length)."""
    nx, ny = (int(b) for b in bins)
    block = max(1, int(block_walker_steps // max(walkers, 1)))
    hist = (min(threads, walkers) + 2) * (nx * ny + 2 * nx + 2) * 8
    return ranks * (walkers * bytes_per_walker + hist + (plan.steps // block + 1) * BYTES_PER_BLOCK)


def check_memory(plan: "RunPlan", walkers: int, bins: Tuple[int, int] = (400, 400), *, comm: Any = None,
                 threads: int = 1, block_walker_steps: float = 2e7, bytes_per_walker: int = BYTES_PER_WALKER,
                 what: str = "") -> int:
    """ModelError (naming walkers, steps and bins) when
    :func:`predicted_memory` (``comm.size`` ranks on one machine) exceeds
    :func:`available_memory` (rank 0's reading, so that every rank of
    ``comm`` decides alike); returns the prediction (bytes).  Called before
    any work, so that a run too large for the machine is one line instead
    of a MemoryError.  ``bytes_per_walker``: see :func:`predicted_memory`;
    ``what``: words added to the message after the walkers (e.g. the dimension)."""
    ranks = 1 if comm is None else comm.size
    need = predicted_memory(plan, walkers, bins, ranks=ranks, threads=threads,
                            block_walker_steps=block_walker_steps, bytes_per_walker=bytes_per_walker)
    have = available_memory() if comm is None or comm.rank == 0 else None
    if comm is not None:
        have = comm.bcast(have, root=0)
    if have is not None and need > have:
        raise ModelError(f"the run needs about {need / 2**30:.3g} GiB ({walkers} walkers{what}, {plan.steps} steps, "
                         f"{bins[0]}x{bins[1]} bins, {ranks} rank(s)) but {have / 2**30:.3g} GiB are available; "
                         "use fewer walkers, a shorter run or fewer bins")
    return need


#: Largest N an N-dimensional run takes (per-walker state and sums are O(N);
#: the valley's cost per step is O(N), a dense model's O(N²)).
MAX_DIMENSION = 1_000_001


def bytes_per_walker_n(n: int) -> int:
    """Bytes one walker costs an N-dimensional run (:mod:`fpsolve.mc.nensemble`)
    in N = ``n`` dimensions: the 2-D run's fixed part plus positions (N) and
    window sums (6 + 2N) of 8 bytes, each held about three times (state,
    gathered copy, result)."""
    return BYTES_PER_WALKER + 3 * 8 * (3 * n + 6)


def check_bounded_below(model: Any, radius: float, scale: float = 1e3) -> None:
    """Refuse (ModelError) a model whose loss is visibly unbounded below
    where walkers may go: with no absorbing wall (``radius`` inf), the loss
    along each axis and the diagonal (both signs) at |θ| = 10, 100, 1000
    falls monotonically below −``scale`` (e.g. −θ1²: every walker diverges).
    A cheap test, not a proof; on a finite ball a finite loss is bounded."""
    if math.isfinite(radius) or not isinstance(model, Model):
        return
    n = model.n_variables
    dirs = np.concatenate([np.eye(n), -np.eye(n), np.ones((1, n)) / math.sqrt(n), -np.ones((1, n)) / math.sqrt(n)])
    with np.errstate(all="ignore"):
        L0 = float(model.evaluate("loss", np.zeros((1, n)))[0])
        vals = np.stack([model.evaluate("loss", r * dirs) for r in (10.0, 100.0, 1000.0)])  # (3, directions)
    falling = (vals[0] < L0) & (vals[1] < vals[0]) & (vals[2] < vals[1]) & (vals[2] < -scale)
    if falling.any():
        d = int(np.argmax(falling))
        where = f"theta{d % n + 1}" if d < 2 * n else "the diagonal"
        raise ModelError(f"loss {model.loss!r} is unbounded below along {where} (L = {vals[2, d]:.3g} at "
                         "|theta| = 1000) and there is no absorbing wall: every walker diverges; give a finite radius")


def _real(value: Any, name: str) -> Optional[float]:
    """``value`` as a float (None stays None); ModelError naming ``name`` unless
    it is a real number (an int, float or numpy number; not a bool or a string)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ModelError(f"{name} must be a number (got {type(value).__name__} {value!r})")
    return float(value)


def check_run(noise: Noise, *, method: str = "sgd", shift: str = "linear", cross: bool = True,
              walkers: int = 1000, steps: Optional[int] = None, time: Optional[float] = None,
              dt: Optional[float] = None, radius: float = 2.0, bound: float = DEFAULT_BOUND,
              burn_in: Optional[float] = None, sample_interval: Optional[float] = None,
              engine: str = "numba", bridge: Optional[bool] = None) -> RunPlan:
    """The validity rules of :func:`~fpsolve.mc.ensemble.run`, stated once (``run`` and
    ``scripts/sample_sgd.py`` call this before any work); arguments as in
    :func:`~fpsolve.mc.ensemble.run`, times in units of α SGD steps.  Raises ModelError naming
    the bad argument; returns the :class:`RunPlan`.
    """
    if not isinstance(noise, Noise):
        raise ModelError(f"noise must be a Noise (got {type(noise).__name__} {noise!r})")
    noise.require_positive_T()  # the FEM's rule too: at T = 0 there is no noise to sample
    time, dt, radius, bound = _real(time, "time"), _real(dt, "dt"), _real(radius, "radius"), _real(bound, "bound")
    burn_in, sample_interval = _real(burn_in, "burn_in"), _real(sample_interval, "sample_interval")
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
        steps = int(round(time / step_time))
        if steps < 1:
            raise ModelError(f"time must be at least half a step (got {time!r}; one step lasts {step_time:g})")
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
