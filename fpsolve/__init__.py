"""fpsolve: the stationary Fokker-Planck density of SGD on a degenerate valley.

The front door (``import fpsolve`` is cheap: each name below loads its
module on first use, PEP 562)::

    import fpsolve
    landscape = fpsolve.Landscape.from_preset("double-well")   # docs/model.md §1
    noise = fpsolve.Noise(alpha=0.05, Delta=1.0)                # §2, T = α Δ
    sol = fpsolve.solve(landscape, noise)                       # FEM, §4
    mc = fpsolve.run_monte_carlo(landscape, noise, time=300.0)  # SGD itself, §2-3
    pred = fpsolve.predictions(landscape, noise)                # closed forms, §5

Units: θ for lengths, time t = α k (k SGD steps).  Bad arguments raise
:class:`InputError` (also known as ``ModelError``) naming the value.  ``comm`` everywhere is an mpi4py
communicator, default ``MPI.COMM_WORLD`` (:mod:`fpsolve.tools.parallel`).

Any model of docs/model.md §7 (loss and noise as expressions) is
``fpsolve.Model`` (``symbolic``); ``solve``, ``run_monte_carlo`` and
``validate_case`` take it in place of the (landscape, noise) pair where
their docstrings say so.

Wings, lowest first (a module imports only from its own wing or lower ones;
``tests/test_layout.py`` checks it): ``tools`` (output safety, the MPI
convention, caches, signals, quadrature; ``fpsolve._compat`` holds the
DOLFINx 0.5 / 0.9 differences), ``model`` (the valley of §1-3, models as
expressions of §7, their exact densities), ``theory`` (§5 closed forms),
``plots``, ``fem`` (meshes, forms, eigen-solves; the stationary, transient
and backward problems, §4 and §8) and ``mc`` (SGD and SDE walkers, §2-3),
``validation`` (FEM vs Monte Carlo vs theory, the seed's figures,
benchmarks), ``cli`` (the scripts' mains).
"""

from __future__ import annotations

import importlib
from typing import Any


__version__ = "0.1.0"

#: Public name -> (module, attribute) it lives in.
_EXPORTS = {
    # the model (docs/model.md §1-3)
    "Landscape": ("model.valley", "Landscape"),
    "Noise": ("model.valley", "Noise"),
    "ModelError": ("model.valley", "ModelError"),
    "InputError": ("tools.errors", "InputError"),
    "PRESETS": ("model.valley", "PRESETS"),
    "DEFAULT_PRESET": ("model.valley", "DEFAULT_PRESET"),
    "describe": ("model.valley", "describe"),
    "Model": ("model.expression", "Model"),
    # the Fokker-Planck solve (§4)
    "solve": ("fem.stationary", "solve"),
    "Solution": ("fem.stationary", "Solution"),
    "read_mesh": ("fem.meshfile", "read"),
    "graded_sizes": ("fem.mesh", "graded_sizes"),
    # Monte Carlo of SGD and of its SDE (§2-3)
    "run_monte_carlo": ("mc.ensemble", "run"),
    "check_run": ("mc.plan", "check_run"),
    "MonteCarloResult": ("mc.ensemble", "MonteCarloResult"),
    "Box": ("model.target", "Box"),
    # closed forms of adiabatic elimination (§5)
    "predictions": ("theory.valley", "predictions"),
    "marginal_theta1": ("theory.valley", "marginal_theta1"),
    "marginal_moments": ("theory.valley", "marginal_moments"),
    "mode_theta1": ("theory.valley", "mode_theta1"),
    "critical_temperature_constant": ("theory.valley", "critical_temperature_constant"),
    "critical_temperature_landscape": ("theory.valley", "critical_temperature_landscape"),
    "search_time": ("theory.valley", "search_time"),
    "mean_first_passage_time": ("theory.valley", "mean_first_passage_time"),
    # validation: FEM vs Monte Carlo vs closed forms
    "validate_case": ("validation.three_way", "run_case"),
    "QUICK": ("validation.three_way", "QUICK"),
    "FULL": ("validation.three_way", "FULL"),
}

#: The wings (subpackages) and top-level modules, loaded on first attribute access.
_SUBMODULES = ("model", "theory", "plots", "fem", "mc", "validation", "tools", "cli")

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
