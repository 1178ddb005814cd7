"""Clean failures: a read-only HOME moves the compilation and matplotlib
caches to a temporary folder with one line each (or, when nothing is
writable, exit 2 and one line); FFCx's compiler lines stay out of the
output; theory.py at extreme --eps and --radius gives the limits of the
closed forms instead of a traceback."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, run_script
from fpsolve.tools import caches as _caches
from fpsolve.theory import valley as theory
from fpsolve.model.valley import Landscape, ModelError, Noise

NOBODY = 65534


@pytest.fixture
def readonly_home():
    """(HOME, writable work folder, command prefix): a read-only HOME for a
    process that cannot write it (root ignores permissions, so as root the
    scripts run as nobody through setpriv)."""
    root = os.geteuid() == 0
    if root and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a read-only HOME")
    base = Path(tempfile.mkdtemp(prefix="fpsolve-rohome-", dir="/tmp"))
    try:
        home, work = base / "home", base / "work"
        home.mkdir()
        work.mkdir()
        for p in (base, work):
            p.chmod(0o777)
        home.chmod(0o555)
        prefix = (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if root else [])
        if root:
            # nobody may not reach the checkout (a clone below a 0700 folder such
            # as /root or mktemp -d): run a world-readable copy of the package
            # and scripts with Debian's python, which sees the same site-packages
            src = base / "src"
            for name in ("fpsolve", "scripts"):
                shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
            prefix = [*prefix, "env", f"PYTHONPATH={src}", f"FPSOLVE_SRC={src}"]
        yield home, work, prefix
    finally:
        home.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def _run_as(prefix, script, args, home, work, tmpdir, ranks=1):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPLCONFIGDIR", "NUMBA_CACHE_DIR"))}
    env.update(HOME=str(home), TMPDIR=str(tmpdir), OMPI_MCA_rmaps_base_oversubscribe="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    src = next((Path(p.split("=", 1)[1]) for p in prefix if p.startswith("FPSOLVE_SRC=")), None)
    python = sys.executable if src is None else os.path.realpath(sys.executable)
    launcher = [] if ranks == 1 else ["mpirun", "-n", str(ranks), python, "-m", "mpi4py"]
    return subprocess.run([*prefix, *(launcher or [python]), str((src or ROOT) / "scripts" / script), *args],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)


def _user_lines(res):
    """Output lines that are not progress, tables or the bar."""
    return [ln for ln in (res.stdout + res.stderr).splitlines()
            if ln.strip() and not ln.startswith(("[", "  ", "sampling"))]


@pytest.mark.parametrize("script, args, caches, ranks", [
    ("solve_fp.py", ["--T", "0.2", "--degree", "1", "--h-min", "0.08", "--h-max", "0.3"], ["fenics", "matplotlib"], 1),
    ("sample_sgd.py", ["--walkers", "64", "--time", "20", "--bins", "20", "20"], ["numba", "matplotlib"], 1),
    # under MPI the JIT error named nothing ("Failed just-in-time compilation ... on root node")
    ("solve_fp.py", ["--T", "0.2", "--degree", "1", "--h-min", "0.08", "--h-max", "0.3"], ["fenics", "matplotlib"], 2),
])
def test_readonly_home_falls_back_with_one_line_per_cache(readonly_home, script, args, caches, ranks):
    home, work, prefix = readonly_home
    if ranks > 1 and shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    tmpdir = work / "tmp"
    tmpdir.mkdir()
    tmpdir.chmod(0o777)
    res = _run_as(prefix, script, [*args, "--out", str(work / "out")], home, work, tmpdir, ranks)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "INFO:root" not in res.stderr
    # one note per cache, in any order
    notes = sorted((ln for ln in res.stderr.splitlines() if ln.startswith("fpsolve: ")), key=lambda n: n.split()[1])
    assert [n.split()[1] for n in notes] == sorted(caches), res.stderr[-3000:]
    for name, note in zip(sorted(caches), notes):
        assert str(home) in note and "not writable" in note and str(tmpdir / f"{name}-cache-") in note
    assert (work / "out" / "summary.json").is_file()
    assert not any(home.iterdir())


def test_no_writable_cache_at_all_is_a_model_error(tmp_path, monkeypatch):
    """When the temporary folder cannot hold the cache either, the error
    names both folders and the way out (the scripts: exit 2, one line).
    (A read-only TMPDIR cannot be tried on a script: MPI_Init needs it.)"""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))  # ENOTDIR, even for root
    with pytest.raises(ModelError, match=r"no writable numba cache: /wanted \(cause\) nor .*a-file/tmp/numba-cache-"):
        _caches.fallback("numba", Path("/wanted"), "cause")
    assert _caches.unwritable(tmp_path) is None
    assert "NotADirectoryError" in _caches.unwritable(blocker / "x")


def test_first_compilation_prints_no_compiler_lines(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "solve_fp.py"), "--T", "0.2", "--degree", "1",
                          "--h-min", "0.08", "--h-max", "0.3", "--out", str(tmp_path / "out")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert any((tmp_path / "fresh-cache" / "fenics").glob("*.so"))  # it did compile
    # what remains besides the results is the solver's own diagnostics (the coarse mesh's warning)
    extra = [ln for ln in _user_lines(res) if ln not in res.stdout.splitlines()
             and not ln.startswith("solve_fp.py: warning:")]
    assert extra == [], res.stderr[-3000:]
    assert "gcc" not in res.stdout + res.stderr


def test_theory_tiny_eps_gives_the_eps_0_limit():
    """--eps 1e-12 (an IndexError once): the landscape marginal is continuous
    in ε, the constant-D one is a peak below double precision (null)."""
    noise = Noise(0.05, 1.0)
    tiny = theory.predictions(Landscape.from_preset("double-well", eps=1e-12), noise, (-2.0, 2.0),
                              with_boundaries=False)
    zero = theory.predictions(Landscape.from_preset("double-well", eps=0.0), noise, (-2.0, 2.0),
                              with_boundaries=False)
    for key in ("mean_abs_theta1", "std_abs_theta1", "var_theta2", "mode_theta1"):
        assert tiny[key] == pytest.approx(zero[key], rel=1e-6), key
    assert tiny["mean_abs_theta1_constant"] is None and tiny["std_abs_theta1_constant"] is None


def test_theory_script_tiny_radius_gives_the_uniform_limit(tmp_path):
    """--radius 1e-3 (a search-window error naming no option once): on a
    chord much shorter than the density's width P1 is flat, so |θ1| is
    uniform on [0, R]: mean R/2, std R/√12; there is no peak to search for."""
    R = 1e-3
    res = run_script("theory.py", "--radius", str(R), "--no-boundaries", "--out", str(tmp_path / "t"))
    assert res.returncode == 0, res.stderr
    pred = json.loads((tmp_path / "t" / "theory.json").read_text())
    assert pred["mean_abs_theta1"] == pytest.approx(R / 2, rel=1e-4)
    assert pred["std_abs_theta1"] == pytest.approx(R / math.sqrt(12), rel=1e-3)
    assert pred["search_time"] is None


def test_generated_kernel_folder_falls_back_when_home_is_unwritable(tmp_path, monkeypatch, capsys):
    """Custom models' Monte Carlo kernels (fpsolve.mc.codegen) live under
    ~/.cache/fpsolve/kernels; an unwritable HOME moves them to the temporary
    fallback with one line, said once."""
    from fpsolve.mc import codegen as mc_codegen

    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    monkeypatch.delenv("FPSOLVE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(blocker))  # ENOTDIR below it, even for root
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(mc_codegen, "_DEFAULT_DIR", {})
    first, second = mc_codegen.cache_dir(), mc_codegen.cache_dir()
    assert first == second == tmp_path / f"fpsolve-kernels-cache-{os.getuid()}"
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("fpsolve: ")]
    assert len(notes) == 1 and "fpsolve-kernels cache" in notes[0] and str(blocker) in notes[0]
