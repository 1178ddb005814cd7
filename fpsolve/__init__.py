"""fpsolve: the stationary Fokker-Planck density of SGD on a degenerate valley.

Modules: ``model`` (MODEL.md §1-3, written once for numpy, UFL and numba),
``symbolic`` (any model of MODEL.md §7: ``fpsolve.Model``), ``gibbs`` (its exact
density where one exists), ``mc_codegen`` (its Monte Carlo kernels),
``theory`` (MODEL.md §5 closed forms),
``cli`` (shared command-line options), ``io`` (atomic results, provenance),
``_compat`` (DOLFINx 0.5 / 0.9 differences).
"""

__version__ = "0.1.0"

__all__ = ["Model", "__version__"]


def __getattr__(name: str):
    """``fpsolve.Model`` (MODEL.md §7), imported on first use (sympy is heavy)."""
    if name == "Model":
        from .symbolic import Model

        return Model
    raise AttributeError(f"module 'fpsolve' has no attribute {name!r}")
