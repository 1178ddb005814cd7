"""fpsolve: the stationary Fokker-Planck density of SGD on a degenerate valley.

Modules: ``model`` (MODEL.md §1-3, written once for numpy, UFL and numba),
``theory`` (MODEL.md §5 closed forms),
``cli`` (shared command-line options), ``io`` (atomic results, provenance),
``_compat`` (DOLFINx 0.5 / 0.9 differences).
"""

__version__ = "0.1.0"
