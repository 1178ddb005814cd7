"""The ``fpsolve`` console command and the thin scripts over the same mains (issue 17.6)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_script
from fpsolve.cli import main as console

FPSOLVE = Path(sys.executable).with_name("fpsolve")


def _fpsolve(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert FPSOLVE.exists(), "make setup installs the console command into the venv"
    return subprocess.run([str(FPSOLVE), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_every_script_is_a_thin_entry_point_over_a_cli_module():
    for name, (module, script, _) in console.TOOLS.items():
        tree = ast.parse((ROOT / "scripts" / script).read_text())
        code = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert len(code) == 3, script  # two imports and the __main__ guard
        assert (ROOT / "fpsolve" / "cli" / f"{module}.py").is_file()
    scripts = {p.name for p in (ROOT / "scripts").glob("*.py")}
    assert scripts == {script for _, script, _ in console.TOOLS.values()}


def test_console_and_script_write_the_same_numbers(tmp_path):
    res = _fpsolve("theory", "--T", "0.01", "--out", "a", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_script("theory.py", "--T", "0.01", "--out", "b", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    a, b = (json.loads((tmp_path / d / "theory.json").read_text()) for d in "ab")
    drop = ("versions", "command", "seconds")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert a["mean_abs_theta1"] == pytest.approx(0.00694277, rel=1e-5)  # the closed form at T = 0.01


@pytest.mark.parametrize("args, code, words", [
    ((), 2, "usage: fpsolve TOOL"),
    (("--help",), 0, "bench-dynamics"),
    (("solvee",), 2, "fpsolve: error: unknown tool 'solvee'"),
    (("solve", "--bogus"), 2, "fpsolve solve: error: unrecognized arguments: --bogus"),
    (("theory", "--T", "-1"), 2, "fpsolve theory: error:"),
])
def test_console_usage_and_bad_input(tmp_path, args, code, words):
    res = _fpsolve(*args, cwd=tmp_path)
    assert res.returncode == code, res.stderr
    assert words in res.stdout + res.stderr
    if code == 2:
        assert len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
