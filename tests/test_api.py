"""The front door: ``import fpsolve`` is cheap (no numpy, no DOLFINx), every
name of ``__all__`` resolves lazily to a documented object, and the entry
points agree with the closed forms they implement."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import numpy as np
import pytest

import fpsolve


def test_import_is_cheap():
    code = ("import sys, fpsolve; heavy = [m for m in ('numpy', 'dolfinx', 'numba', 'mpi4py', 'gmsh') "
            "if m in sys.modules]; print(__import__('json').dumps(heavy))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == []


@pytest.mark.parametrize("name", [n for n in fpsolve.__all__ if n != "__version__"])
def test_every_public_name_resolves_and_is_documented(name):
    obj = getattr(fpsolve, name)
    assert name in dir(fpsolve)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        doc = inspect.getdoc(obj) or ""
        assert len(doc) > 40, f"{name} needs a docstring"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fpsolve.nope  # noqa: B018


def test_front_door_numbers():
    """T_c = 2ε/(a0|a2|) (S24) for the default preset (a0 = 1, a2 = -1,
    ε = 0.01): 0.02; the Monte Carlo check names the bad argument."""
    land = fpsolve.Landscape.from_preset(fpsolve.DEFAULT_PRESET)
    noise = fpsolve.Noise(alpha=0.05, Delta=1.0)
    assert fpsolve.critical_temperature_constant(land) == pytest.approx(2 * land.eps / (land.a0 * abs(land.a2)),
                                                                        rel=1e-15)
    assert fpsolve.critical_temperature_constant(land) == pytest.approx(0.02, rel=1e-12)
    plan = fpsolve.check_run(noise, time=10.0)
    assert plan.steps == 200 and plan.step_time == 0.05  # time 10 in units of α = 0.05 steps
    with pytest.raises(fpsolve.ModelError, match="walkers must be an integer >= 1"):
        fpsolve.check_run(noise, walkers=0, steps=10)


def test_one_input_error_and_one_wall_vocabulary():
    """Issue 17.5: every bad input is an InputError (ModelError, UsageError, OutputError are InputErrors);
    walls are absorbing/reflecting with dirichlet as the older name; one Box for FEM and Monte Carlo."""
    from fpsolve.cli.common import UsageError
    from fpsolve.fem.forms import check_wall
    from fpsolve.tools.io import OutputError

    assert fpsolve.ModelError is fpsolve.InputError
    assert issubclass(UsageError, fpsolve.InputError) and issubclass(OutputError, fpsolve.InputError)
    assert check_wall("dirichlet") == "absorbing" and check_wall("reflecting") == "reflecting"
    with pytest.raises(fpsolve.InputError, match="wall must be one of absorbing, reflecting \\(got 'open'\\)"):
        check_wall("open")
    box = fpsolve.Box((0.5, 0.0), (0.1, 0.2), mirror=True)
    assert box.contains(np.array([[0.55, -0.55, 0.0], [0.1, 0.1, 0.0]])).tolist() == [True, True, False]
    with pytest.raises(fpsolve.InputError, match="half-widths must be > 0"):
        fpsolve.Box((0.0, 0.0), (0.0, 1.0))


@pytest.mark.parametrize("call, words", [
    (lambda f: f.solve(f.Landscape.from_preset("double-well"), 0.05), "noise must be a Noise (got float 0.05;"),
    (lambda f: f.solve("double-well"),
     "the model must be a Model or a Landscape with a Noise (got str 'double-well') (a preset: Model.preset("),
    (lambda f: f.run_monte_carlo("double-well"), "the model must be a Model or a Landscape with a Noise"),
    (lambda f: f.solve(f.Model.preset("double-well", T=0.05), radius=-1),
     "radius must be a finite number > 0 (got -1)"),
    (lambda f: f.solve(f.Model.preset("double-well", T=0.05), center=(1,)),
     "center must be two finite numbers (got (1,))"),
])
def test_solve_names_a_bad_argument(call, words):
    """Issue 21.9: these raised a raw AttributeError (wrong types) or blamed h-min (radius=-1)."""
    with pytest.raises(fpsolve.ModelError) as exc:
        call(fpsolve)
    assert words in str(exc.value) and isinstance(exc.value, ValueError)
