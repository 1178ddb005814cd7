"""fpsolve.validation.report: tables, files, and the sweep helper (serial; MPI in test_sweep_mpi.py)."""

from __future__ import annotations

import json

import pytest

from fpsolve.validation import metrics as compare
from fpsolve.validation import report


def test_report_tables_and_json(tmp_path):
    rep = report.Report("case X", {"T": 0.01})
    ok = compare.compare_values(0.0069, 0.00692, err=0.00003, n_sigma=3)
    bad = compare.compare_values(0.5, 0.6, rel_tol=0.05)
    rep.add("moments", [report.Row("mean |θ1|", fem=0.0069, closed=0.00694, mc=0.00692, mc_err=3e-5, verdict=ok),
                        report.Row("mode", fem=0.5, mc=0.6, verdict=bad, note="one bin"),
                        report.Row("escape rate", fem=1e-12, verdict="n/a", note="confined")])
    rep.figure("m.png", "marginals")
    rep.write(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "1 of 2 checks agree" in md
    assert "| mean \\|θ1\\| | 0.0069 | 0.00694 | 0.00692 ± 3e-05 | agree" in md
    assert "DIFFER" in md and "![marginals](m.png)" in md
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["checks_failed"] == ["mode"] and data["checks_total"] == 2
    assert data["parameters"] == {"T": 0.01} and "numpy" in data["versions"]
    assert [r.quantity for r in rep.failures()] == ["mode"]


def test_fmt():
    assert report.fmt(None) == ""
    assert report.fmt(0.123456, 0.0012) == "0.1235 ± 0.0012"
    assert report.fmt(float("nan")) == "nan"


def test_map_points_serial_order_and_progress():
    seen = []
    out = report.map_points(lambda p: p * p, [3, 1, 2], progress=lambda d, n, p: seen.append((d, n, p)))
    assert out == [9, 1, 4]
    assert seen == [(1, 3, 3), (2, 3, 1), (3, 3, 2)]
