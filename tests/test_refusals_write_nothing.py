"""A refused run writes nothing anywhere (issue 21, items 4 and 9; README: "nothing written").

Every script in ``scripts/`` gets a handful of bad inputs (a bad --T or model
value, a bad --seed where it has one, an --out that is an existing file).
Each must end with exit status 2 and one line, and leave unchanged: the
checkout (every file and folder with its mtime, ``__pycache__`` folders
included: importing the numba kernels probes and writes their cache folder,
so the tools check their input before importing them), HOME (empty, with
MPLCONFIGDIR and XDG_* unset so that matplotlib, fontconfig, numba and FFCx
would all write there), and the folder holding --out.

The checkout's bytecode is compiled first (``make setup`` does the same), so
that Python's own ``.pyc`` writing of a first import is not taken for the tool's.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import ROOT

BAD_T = ("--T", "-1")
BAD_SEED = ("--seed", "-1")
BAD_OUT = ("--out", "notes.txt")  # an existing file of the user's

#: script -> refused argument lists (each also gets ``--out out`` unless it sets --out)
REFUSALS = {
    "solve_fp.py": [BAD_T, BAD_OUT, ("--radius", "-1"), ("--fast-directions", "3"),
                    ("--fast-directions", "2", "--h-min", "9"), ("--fast-directions", "2", *BAD_OUT)],
    "theory.py": [BAD_T, BAD_OUT, ("--alpha", "0")],
    "sample_sgd.py": [BAD_T, BAD_OUT, BAD_SEED, ("--walkers", "0"), ("--threads", "100000")],
    "validate.py": [BAD_T, BAD_OUT, BAD_SEED],
    "evolve_fp.py": [BAD_T, BAD_OUT, BAD_SEED],
    "search_time.py": [BAD_T, BAD_OUT, ("--start", "9", "9")],
    "reproduce.py": [("--figures", "S9"), BAD_OUT, BAD_SEED],
    "make_mesh.py": [BAD_T, ("--out", "notes.txt"), ("--h-min", "0.2", "--out", "m.msh")],  # after the probe of cwd
    "anneal.py": [BAD_T, BAD_OUT, ("--walkers", "1")],
    "bench_symmetry.py": [BAD_OUT, ("--out", "")],
    "bench_solver.py": [BAD_T, BAD_OUT],
    "bench_dynamics.py": [BAD_T, BAD_OUT],
    "bench_montecarlo.py": [("--walkers", "0"), BAD_OUT, ("--threads", "100000")],
    "anneal.py": [BAD_T, BAD_OUT, BAD_SEED, ("--K", "0")],
    "bench_symmetry.py": [BAD_OUT, ("--quick", "--bogus")],
    "bench_scaling.py": [BAD_OUT, ("--ranks", "0"), ("--compare-h-min", "nan")],
}


def _tree(root: Path, skip: tuple[str, ...] = (".git",)) -> dict[str, tuple[int, int]]:
    """relative path -> (mtime_ns, size) of every file and folder under ``root``."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for path in [folder] + [os.path.join(folder, f) for f in files]:
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_mtime_ns, st.st_size)
    return out


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(set(before) ^ set(after)) + sorted(k for k in set(before) & set(after) if before[k] != after[k])


def _refuse(script: str, args: tuple[str, ...], base: Path) -> tuple:
    """Run one refusal in its own HOME and working folder; (script, args, code, stderr, HOME, cwd changes)."""
    home, cwd = base / "home", base / "cwd"
    home.mkdir(parents=True)
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "FPSOLVE_CACHE")}
    env["HOME"] = str(home)
    before = _tree(cwd)
    argv = list(args) + ([] if "--out" in args else ["--out", "out"])
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *argv], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    return script, args, res.returncode, res.stderr, sorted(os.listdir(home)), _changed(before, _tree(cwd))


def test_every_script_is_covered():
    assert set(REFUSALS) == {p.name for p in (ROOT / "scripts").glob("*.py")}


def test_refused_runs_write_nothing(tmp_path):
    compileall.compile_dir(ROOT / "fpsolve", quiet=1)  # Python's own bytecode, as after make setup
    jobs = [(s, a, tmp_path / f"{s}-{i}") for s, cases in REFUSALS.items() for i, a in enumerate(cases)]
    before = _tree(ROOT)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: _refuse(*job), jobs))
    changed = _changed(before, _tree(ROOT))
    bad = [(s, a, code, err.strip()[-300:], home, cwd) for s, a, code, err, home, cwd in results
           if code != 2 or len(err.strip().splitlines()) != 1 or home or cwd]
    assert bad == []
    assert changed == [], changed
