"""Typed results (issue 17.4-5): ``Solution.summary`` and the Monte Carlo
``result.summary`` are :class:`~fpsolve.tools.record.Record`s whose attributes
are summary.json's values, ``as_dict()`` is the file's dict, mapping access
still works but warns, and the package itself never uses it."""

from __future__ import annotations

import contextlib
import json
import math
import types
import warnings

import numpy as np
import pytest

from conftest import SINGLE_WELL_LAMBDA0
from fpsolve.fem import diagnostics
from fpsolve.fem import stationary as solver
from fpsolve.fem.summary import MOMENT_KEYS, NEGATIVITY_KEYS, StationarySummary
from fpsolve.mc import ensemble, nensemble
from fpsolve.mc.summary import MonteCarloSummary
from fpsolve.model.expression import as_model
from fpsolve.model.target import Box
from fpsolve.model.valley import Landscape, Noise
from fpsolve.tools import io
from fpsolve.tools.record import Entry, Record

MAPPING = "mapping access"


@contextlib.contextmanager
def no_mapping_access():
    """The package's own code must not use the deprecated mapping access: it raises here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{MAPPING}", category=DeprecationWarning)
        yield


def entries(cls: type) -> dict:
    """attribute name -> JSON key of every Entry of a Record class."""
    return {name: value.key for klass in cls.__mro__ for name, value in vars(klass).items()
            if isinstance(value, Entry)}


def assert_attributes_are_the_dict(rec: Record) -> None:
    d = rec.as_dict()
    for name, key in entries(type(rec)).items():
        assert getattr(rec, name) == d.get(key), name


# ---- FEM ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fem():
    """The single-well preset at T = 0.2 on the coarse graded mesh (refine 0.5: a few thousand dofs)."""
    land = Landscape.from_preset("single-well")
    noise = Noise.from_temperature(0.2, 0.05)
    with no_mapping_access():
        sol = solver.solve(land, noise, refine=0.5)
    return sol, as_model(land, noise, True)


def test_solution_summary_is_typed_and_equals_its_dict(fem):
    sol, _ = fem
    s = sol.summary
    assert isinstance(s, StationarySummary)
    assert_attributes_are_the_dict(s)
    d = s.as_dict()
    # the attributes are the solve's numbers: λ0 within 1e-2 of the converged value on this coarse mesh
    assert s.escape_rate == sol.eigenvalue.real == d["escape_rate"]
    assert s.escape_rate == pytest.approx(SINGLE_WELL_LAMBDA0[True], rel=1e-2)
    assert s.mass == pytest.approx(1.0, abs=1e-10)
    assert s.moments == {k: d[k] for k in MOMENT_KEYS} and s.moments == sol.moments()
    assert s.negativity == {k: d[k] for k in NEGATIVITY_KEYS}
    assert s.petsc_options == d["eigen"]["options_in_effect"] and s.petsc_options
    assert s.case == d["case"] and s.case_name == d["case"]["model"]["name"]
    assert s.mesh["cells"] > 0 and s.dofs == d["dofs"]
    assert s.adaptivity is None and s.spectrum is None  # not recorded: None, as in the dict
    assert s.warnings == diagnostics.warnings_for(d) == []


def test_as_dict_round_trips_through_json(fem, tmp_path):
    s = fem[0].summary
    io.write_json(tmp_path / "record.json", s)  # a Record is written as its dict
    io.write_json(tmp_path / "dict.json", s.as_dict())
    assert (tmp_path / "record.json").read_text() == (tmp_path / "dict.json").read_text()
    back = StationarySummary(json.loads((tmp_path / "record.json").read_text()))
    assert list(back.as_dict()) == list(s.as_dict())
    assert back.escape_rate == s.escape_rate and back.moments == s.moments and back.mesh == s.mesh


def test_written_summary_json_is_the_dict(fem, tmp_path):
    sol, model = fem
    with no_mapping_access():
        out = sol.write(model, tmp_path / "fem")
    written = json.loads((out / "summary.json").read_text())
    expected = json.loads(json.dumps(io._strict(sol.summary.as_dict())))
    # the writer adds its own timings after the solve's entries
    assert set(written) - set(expected) == {"output_seconds", "imports_seconds"}
    assert {k: written[k] for k in expected} == expected


def test_mapping_access_warns_but_works(fem):
    s = fem[0].summary
    with pytest.warns(DeprecationWarning, match=r"use the attribute \.escape_rate"):
        assert s["escape_rate"] == s.escape_rate
    with pytest.warns(DeprecationWarning, match=MAPPING):
        assert s.get("mean_abs_theta1") == s.mean_abs_theta1
    with pytest.warns(DeprecationWarning, match=MAPPING):
        assert dict(s) == s.as_dict()
    with pytest.warns(DeprecationWarning, match=MAPPING):
        assert {**s} == s.as_dict()
    copy = StationarySummary(s.as_dict())
    with pytest.warns(DeprecationWarning, match=MAPPING):
        copy["escape_rate"] = 1.0
    assert copy.escape_rate == 1.0 and s.escape_rate != 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "escape_rate" in s and "spectrum" not in s and len(s) == len(s.as_dict())
        assert list(s) == list(s.as_dict())


# ---- Monte Carlo ------------------------------------------------------------------

def test_monte_carlo_summary_is_typed_with_one_mean_first_passage_time():
    with no_mapping_access():
        r = ensemble.run(Landscape.from_preset("double-well"), Noise(0.05, 1.0), walkers=200, steps=400, seed=3,
                         sample_from=(0.5, 0.0), target=Box((0.63, 0.0), (0.05, 0.05)))
    s = r.summary
    assert isinstance(s, MonteCarloSummary)
    assert_attributes_are_the_dict(s)
    d = s.as_dict()
    hit = np.isfinite(r.first_passage)
    assert hit.sum() > 1
    # the one name, its standard error, and the former key kept beside it
    assert s.mean_first_passage_time == float(np.mean(r.first_passage[hit]))
    assert s.mean_first_passage_time_se == pytest.approx(np.std(r.first_passage[hit], ddof=1) / math.sqrt(hit.sum()),
                                                         rel=1e-12)
    assert d["first_passage_mean_time"] == d["mean_first_passage_time"]
    assert d["first_passage_mean_time_se"] == d["mean_first_passage_time_se"]
    assert s.first_passage_hit_fraction == hit.mean()
    assert s.walkers == 200 and s.steps == 400 and s.standard_error("mean_abs_theta1") == d["mean_abs_theta1_se"]
    assert s.moments["mean_abs_theta1"] == d["mean_abs_theta1"]
    assert s.case_name == "double-well"
    assert json.loads(json.dumps(io._strict(s))) == json.loads(json.dumps(io._strict(d)))
    with pytest.warns(DeprecationWarning, match=r"\.mean_first_passage_time"):
        assert s["mean_first_passage_time"] == s.mean_first_passage_time


def test_n_variable_monte_carlo_summary_is_typed():
    land = Landscape.from_preset("double-well")
    valley = types.SimpleNamespace(eps=land.eps, a0=np.full(2, land.a0), a2=np.full(2, land.a2),
                                   a4=np.full(2, land.a4), as_dict=lambda: {"m": 2})
    with no_mapping_access():
        r = nensemble.run(valley, Noise(0.05, 1.0), walkers=100, steps=300, seed=5, sample_from=(0.3, 0.0, 0.0),
                          target=(0.6, 0.7))
    s = r.summary
    assert isinstance(s, MonteCarloSummary)
    assert_attributes_are_the_dict(s)
    assert s.N == 3 and len(s.var_theta) == 3
    t = np.where(np.isfinite(r.passage_time), r.passage_time, s.time)  # censored at the horizon
    assert s.mean_first_passage_time == pytest.approx(float(t.mean()), rel=1e-12)
    assert s.passage_censored == int((~np.isfinite(r.passage_time)).sum())
