"""fpsolve: the stationary Fokker-Planck density of SGD on a degenerate valley.

The front door (``import fpsolve`` is cheap: each name below loads its
module on first use, PEP 562)::

    import fpsolve
    landscape = fpsolve.Landscape.from_preset("double-well")   # MODEL.md §1
    noise = fpsolve.Noise(alpha=0.05, Delta=1.0)                # §2, T = α Δ
    sol = fpsolve.solve(landscape, noise)                       # FEM, §4
    mc = fpsolve.run_monte_carlo(landscape, noise, time=300.0)  # SGD itself, §2-3
    pred = fpsolve.predictions(landscape, noise)                # closed forms, §5

Units: θ for lengths, time t = α k (k SGD steps).  Bad arguments raise
:class:`ModelError` naming the value.  ``comm`` everywhere is an mpi4py
communicator, default ``MPI.COMM_WORLD`` (:mod:`fpsolve.parallel`).

Any model of MODEL.md §7 (loss and noise as expressions) is
``fpsolve.Model`` (``symbolic``); ``solve``, ``run_monte_carlo`` and
``validate_case`` take it in place of the (landscape, noise) pair where
their docstrings say so.

Modules: ``model`` (§1-3), ``symbolic`` (§7 models), ``gibbs`` (their exact
density where one exists), ``mc_codegen`` (their Monte Carlo kernels),
``solver`` (FEM, §4), ``mesh`` (graded disks),
``meshfile`` (mesh files), ``montecarlo`` (SGD/SDE walkers), ``theory``
(§5 closed forms), ``validation`` (FEM vs Monte Carlo vs theory), ``cli``
and ``io`` (scripts, results), ``parallel`` (the ``comm`` convention),
``_compat`` (DOLFINx 0.5 / 0.9 differences).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> (module, attribute) it lives in.
_EXPORTS = {
    # the model (MODEL.md §1-3)
    "Landscape": ("model", "Landscape"),
    "Noise": ("model", "Noise"),
    "ModelError": ("model", "ModelError"),
    "PRESETS": ("model", "PRESETS"),
    "DEFAULT_PRESET": ("model", "DEFAULT_PRESET"),
    "describe": ("model", "describe"),
    "Model": ("symbolic", "Model"),
    # the Fokker-Planck solve (§4)
    "solve": ("solver", "solve"),
    "Solution": ("solver", "Solution"),
    "read_mesh": ("meshfile", "read"),
    "graded_sizes": ("mesh", "graded_sizes"),
    # Monte Carlo of SGD and of its SDE (§2-3)
    "run_monte_carlo": ("montecarlo", "run"),
    "check_run": ("montecarlo", "check_run"),
    "MonteCarloResult": ("montecarlo", "MonteCarloResult"),
    "Box": ("montecarlo", "Box"),
    # closed forms of adiabatic elimination (§5)
    "predictions": ("theory", "predictions"),
    "marginal_theta1": ("theory", "marginal_theta1"),
    "marginal_moments": ("theory", "marginal_moments"),
    "mode_theta1": ("theory", "mode_theta1"),
    "critical_temperature_constant": ("theory", "critical_temperature_constant"),
    "critical_temperature_landscape": ("theory", "critical_temperature_landscape"),
    "search_time": ("theory", "search_time"),
    "mean_first_passage_time": ("theory", "mean_first_passage_time"),
    # validation: FEM vs Monte Carlo vs closed forms
    "validate_case": ("validation", "run_case"),
    "QUICK": ("validation", "QUICK"),
    "FULL": ("validation", "FULL"),
}

_SUBMODULES = ("model", "symbolic", "gibbs", "mc_codegen", "solver", "mesh", "meshfile", "montecarlo", "theory",
               "validation", "validation_model", "cli", "io", "parallel", "plotting", "report", "reproduction",
               "compare")

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    """Load the module behind a public name on first use (PEP 562)."""
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
