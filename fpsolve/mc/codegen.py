"""numba Monte Carlo kernels of a :class:`~fpsolve.model.expression.Model`, generated
from its symbolic derivation (docs/model.md §7).

From the sympy expressions of ∇L and of the noise factor R (Σ = Δ R Rᵀ for
the built-in noises; for a user Σ the symmetric square root, taken in the
kernel with a PSD guard) this module writes a small Python module: the
updates

    SGD, linear shift:  θ ← θ − α (∇L − R ξ),    ξ = sgd_scale · z
    SGD, exact shift:   θ ← θ − α ∇L(θ − ξ)      (noise ``sgd`` only)
    SDE (Euler–Maruyama): θ ← θ − ∇L dt + sde_scale · R z

and the diffusion tensor D = (α/2) Σ for the SDE's Brownian-bridge exit test
(docs/model.md §8; the step's noise covariance sde_scale² R Rᵀ is 2 D dt for
every noise model)

plugged into the same group stepper as the valley's kernels
(:func:`fpsolve.mc.kernels.make_group_stepper`: same random streams, same
statistics).  The module is written once per canonical form into a cache
folder (``$FPSOLVE_CACHE``, default ``~/.cache/fpsolve/kernels``) and compiled
with ``numba.njit(cache=True)``: a second process loads the compiled kernel
from disk, and a sweep over the constants, alpha or Delta (kernel
arguments) compiles nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import numpy as np

from fpsolve.model.valley import ModelError
from fpsolve.tools import caches as _caches


__all__ = ["Kernels", "kernels", "SGD_LINEAR", "SGD_EXACT", "SDE", "cache_dir"]

#: Update codes of a generated kernel.
SGD_LINEAR, SGD_EXACT, SDE = 0, 1, 2

_HERE = Path(__file__).resolve().parent
#: The sources a generated kernel builds on: a change in any makes a new kernel.
_KERNEL_SOURCES = ("kernels.py", "rng.py", "../model/valley.py")


#: The default kernel folder, once checked: the folder to use (``fpsolve.tools.caches``).
_DEFAULT_DIR: Dict[Path, Path] = {}


def cache_dir() -> Path:
    """Where generated kernel modules live (``$FPSOLVE_CACHE`` or
    ~/.cache/fpsolve/kernels; when the latter is not writable, a read-only
    HOME, the temporary fallback of ``fpsolve.tools.caches``, said once)."""
    root = os.environ.get("FPSOLVE_CACHE")
    if root:
        return Path(root)
    wanted = Path.home() / ".cache" / "fpsolve" / "kernels"
    if wanted not in _DEFAULT_DIR:

        problem = _caches.unwritable(wanted)
        _DEFAULT_DIR[wanted] = wanted if problem is None else _caches.fallback("fpsolve-kernels", wanted, problem)
    return _DEFAULT_DIR[wanted]


def _function_source(name: str, exprs, symbols, arg_names) -> str:
    """``def name(th1, th2, c): ... return (e1, ...)`` with common
    subexpressions hoisted; the numbers are read from the array ``c``."""
    import sympy
    from sympy.printing.pycode import PythonCodePrinter

    printer = PythonCodePrinter({"fully_qualified_modules": True})
    rename = {s: sympy.Symbol(n) for s, n in zip(symbols, arg_names)}
    exprs = [sympy.sympify(e).xreplace(rename) for e in exprs]
    reps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("t_"))
    lines = [f"@numba.njit", f"def {name}(th1, th2, c):"]
    for i, n in enumerate(arg_names[2:]):
        lines.append(f"    {n} = c[{i}]")
    for sym, e in reps:
        lines.append(f"    {sym} = {printer.doprint(e)}")
    body = ", ".join(f"float({printer.doprint(e)})" if e.is_Number else printer.doprint(e) for e in reduced)
    lines.append(f"    return ({body},)")
    return "\n".join(lines) + "\n"


_COVARIANCE_FACTOR = '''
@numba.njit
def factor(th1, th2, c):
    """Symmetric square root of Σ (2×2): (Σ + s I)/sqrt(tr Σ + 2 s), s = sqrt(det Σ);
    a slightly negative det (round-off) is clamped to 0 (PSD guard)."""
    s11, s12, s22 = sigma(th1, th2, c)
    det = s11 * s22 - s12 * s12
    if not det > 0.0:
        det = 0.0
    s = math.sqrt(det)
    tr = s11 + s22 + 2.0 * s
    if not tr > 0.0:
        return (0.0, 0.0, 0.0, 0.0)
    t = math.sqrt(tr)
    return ((s11 + s) / t, s12 / t, s12 / t, (s22 + s) / t)
'''

_UPDATES = '''
@numba.njit
def update_sgd_linear(x, y, z1, z2, p):
    gx, gy = gradient(x, y, p.coef)
    r11, r12, r21, r22 = factor(x, y, p.coef)
    xi1 = p.sgd_scale * z1
    xi2 = p.sgd_scale * z2
    return (x - p.alpha * (gx - (r11 * xi1 + r12 * xi2)),
            y - p.alpha * (gy - (r21 * xi1 + r22 * xi2)))


@numba.njit
def update_sgd_exact(x, y, z1, z2, p):
    gx, gy = gradient(x - p.sgd_scale * z1, y - p.sgd_scale * z2, p.coef)
    return x - p.alpha * gx, y - p.alpha * gy


@numba.njit
def update_sde(x, y, z1, z2, p):
    gx, gy = gradient(x, y, p.coef)
    r11, r12, r21, r22 = factor(x, y, p.coef)
    return (x - p.dt * gx + p.sde_scale * (r11 * z1 + r12 * z2),
            y - p.dt * gy + p.sde_scale * (r21 * z1 + r22 * z2))


@numba.njit
def diffusion(x, y, p):
    """D = (alpha/2) Σ at (x, y): the Brownian-bridge exit test's (docs/model.md §8)."""
    return diffusion_tensor(x, y, p.coef)


STEP_SGD_LINEAR = make_group_stepper(update_sgd_linear)
STEP_SGD_EXACT = make_group_stepper(update_sgd_exact)
STEP_SDE = make_group_stepper(update_sde, diffusion)


@numba.njit(nogil=True, cache=True)
def advance_chunk(code, c, w, t, k0, k1, p):
    first, lo, hi = chunk_bounds(c, w.x.shape[0], t.hist.shape[0], k0, p.sample_start, p.sample_every)
    for g0 in range(lo, hi, GROUP):
        g1 = min(g0 + GROUP, hi)
        if code == 0:
            STEP_SGD_LINEAR(g0, g1, c, k0, k1, first, w, t, p)
        elif code == 1:
            STEP_SGD_EXACT(g0, g1, c, k0, k1, first, w, t, p)
        else:
            STEP_SDE(g0, g1, c, k0, k1, first, w, t, p)
'''


def kernel_source(model: Any) -> str:
    """The Python source of the kernel module of ``model`` (depends only on
    the canonical form, not on the numbers)."""
    d = model.derivation
    arg_names = ["th1", "th2"] + [f"k_{n}" for n in d.constants] + ["alpha_", "Delta_"]
    stamp = hashlib.sha256(b"".join((_HERE / f).read_bytes() for f in _KERNEL_SOURCES)).hexdigest()
    parts = [f'"""Generated by fpsolve.mc.codegen for: {d.key!r} (kernels {stamp[:16]})."""',
             "import math\n\nimport numba\n",
             "from fpsolve.mc.kernels import _GROUP as GROUP, chunk_bounds, make_group_stepper\n\n",
             _function_source("gradient", d.gradient, d.symbols, arg_names)]
    if d.factor is not None:
        parts.append(_function_source("factor", d.factor, d.symbols, arg_names))
    else:
        parts.append(_function_source("sigma", d.sigma, d.symbols, arg_names))
        parts.append(_COVARIANCE_FACTOR)
    parts.append(_function_source("diffusion_tensor", d.diffusion, d.symbols, arg_names))
    parts.append(_UPDATES)
    return "\n".join(parts)


class Kernels:
    """The compiled kernel module of a model: ``chunk(code)`` gives the
    ``chunk(c, w, t, k0, k1, p)`` function of montecarlo's driver,
    ``numpy_update(code)`` its vectorised twin and :meth:`numpy_diffusion`
    the bridge test's D of the numpy engine."""

    def __init__(self, module: Any, model: Any, seconds: float) -> None:
        self.module = module
        self.seconds = seconds
        self._model = model

    def chunk(self, code: int) -> Callable:
        advance = self.module.advance_chunk

        def chunk(c, w, t, k0, k1, p, _advance=advance, _code=code):
            _advance(_code, c, w, t, k0, k1, p)

        return chunk

    def numpy_diffusion(self, x: np.ndarray, y: np.ndarray, p: Any) -> tuple:
        """(D11, D12, D22) = (α/2) Σ at arrays x, y (docs/model.md §7), from the
        kernel parameters ``p`` (its ``coef``: constants, alpha, Delta)."""
        return self._model.derivation.numpy("diffusion")(x, y, *p.coef)

    def numpy_update(self, code: int) -> Callable:
        """Vectorised update from the model's numpy callables (reference engine)."""
        d = self._model.derivation
        grad = d.numpy("gradient")

        def gradient(x, y, coef):
            return grad(x, y, *coef)

        def factor(x, y, coef):
            if d.factor is not None:
                import sympy

                f = d._numpy.get("factor")
                if f is None:
                    lam = sympy.lambdify(d.symbols, list(d.factor), modules="numpy")
                    f = d._numpy["factor"] = lambda *a, _l=lam: tuple(
                        np.broadcast_to(np.asarray(v, float), np.shape(a[0])) for v in _l(*a))
                return f(x, y, *coef)
            s11, s12, s22 = d.numpy("sigma")(x, y, *coef)
            s = np.sqrt(np.maximum(s11 * s22 - s12 * s12, 0.0))
            t = np.sqrt(np.maximum(s11 + s22 + 2.0 * s, 0.0))
            with np.errstate(all="ignore"):
                r = [np.where(t > 0, v / t, 0.0) for v in (s11 + s, s12, s12, s22 + s)]
            return tuple(r)

        if code == SGD_LINEAR:
            def update(x, y, z1, z2, p):
                gx, gy = gradient(x, y, p.coef)
                r11, r12, r21, r22 = factor(x, y, p.coef)
                xi1, xi2 = p.sgd_scale * z1, p.sgd_scale * z2
                return x - p.alpha * (gx - (r11 * xi1 + r12 * xi2)), y - p.alpha * (gy - (r21 * xi1 + r22 * xi2))
        elif code == SGD_EXACT:
            def update(x, y, z1, z2, p):
                gx, gy = gradient(x - p.sgd_scale * z1, y - p.sgd_scale * z2, p.coef)
                return x - p.alpha * gx, y - p.alpha * gy
        else:
            def update(x, y, z1, z2, p):
                gx, gy = gradient(x, y, p.coef)
                r11, r12, r21, r22 = factor(x, y, p.coef)
                return (x - p.dt * gx + p.sde_scale * (r11 * z1 + r12 * z2),
                        y - p.dt * gy + p.sde_scale * (r21 * z1 + r22 * z2))
        return update


_LOADED: Dict[str, Kernels] = {}


def load_source(source: str, prefix: str = "fpsolve_kernel") -> Any:
    """Write ``source`` as ``<prefix>_<hash>.py`` into :func:`cache_dir` (once,
    atomically) and import it; the module (one per source in this process).
    Raises ModelError when the folder is not writable."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"{prefix}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    folder = cache_dir()
    path = folder / f"{name}.py"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(source)
            os.replace(tmp, path)  # atomic: ranks writing the same file agree
    except OSError as exc:
        raise ModelError(f"cannot write the Monte Carlo kernel cache {folder} ({exc}); set FPSOLVE_CACHE") from None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def kernels(model: Any) -> Kernels:
    """The compiled kernels of ``model``, cached in this process by canonical
    form and on disk by the hash of the generated source."""
    source = kernel_source(model)
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    if digest in _LOADED:
        return _LOADED[digest]
    start = time.perf_counter()
    module = load_source(source)
    _LOADED[digest] = Kernels(module, model, time.perf_counter() - start)
    return _LOADED[digest]
