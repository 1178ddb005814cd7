"""Ctrl-C (SIGINT) in every phase of a script is exit status 130 and one
line on stderr (besides the progress lines), with no traceback and no
result: while modules import, while gmsh meshes, while forms compile and
assemble, during the eigen-solve, while outputs are evaluated, and while the
Monte Carlo samples."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

PROGRESS = "["  # progress lines start with "[script  seconds]"


def _interrupt(script, args, tmp_path, *, after=None, delay=0.0, timeout=300, default_out=False):
    """Run ``script``; send SIGINT ``delay`` s after the first stderr line
    containing ``after`` (or ``delay`` s after the start); ``default_out``:
    no ``--out`` (the tool's results/<case>/<tool> below ``tmp_path``)."""
    out = tmp_path / "out"
    # SIGINT at its default in the child, as under an interactive shell: a
    # test run started in the background by a non-interactive shell inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    # (one trixie run under load: the numba-import case ran to the end, exit 0)
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / script), *args, *(() if default_out else ("--out", str(out)))],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    if after is None:
        time.sleep(delay)
    else:
        deadline = time.monotonic() + timeout
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if after in line or time.monotonic() > deadline:
                break
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    lines += err.splitlines()
    return proc.returncode, lines, out


def _check(rc, lines, out, prog):
    text = "\n".join(lines)
    assert rc == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    other = [ln for ln in lines if ln.strip() and not ln.startswith(PROGRESS) and "sampling" not in ln
             and not ln.startswith("evolving")]
    assert other == [f"{prog}: interrupted (Ctrl-C)"], text[-3000:]
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize("after, delay", [
    (None, 0.2),                          # importing numpy / fpsolve
    ("case double-well", 0.0),            # importing DOLFINx (Ctrl-C held until it ends: DOLFINx 0.9 aborts otherwise)
    ("case double-well", 0.05),
    (None, 1.2),                          # importing dolfinx / mpi4py
    ("meshing (", 0.0),                   # gmsh meshing
    ("mesh:", 0.0),                       # form compilation and assembly
    ("assembled", 0.0),                   # eigen-solve (SLEPc, MUMPS)
    ("moments:", 0.0),                    # marginals and density grid
])
def test_solve_fp_interrupted(tmp_path, after, delay):
    rc, lines, out = _interrupt("solve_fp.py", ["--T", "0.01"], tmp_path, after=after, delay=delay)
    _check(rc, lines, out, "solve_fp.py")


@pytest.mark.parametrize("after, delay", [
    (None, 0.5),                          # importing numba
    ("walkers", 1.0),                     # sampling
])
def test_sample_sgd_interrupted(tmp_path, after, delay):
    rc, lines, out = _interrupt("sample_sgd.py", ["--walkers", "20000", "--time", "1000"], tmp_path,
                                after=after, delay=delay)
    _check(rc, lines, out, "sample_sgd.py")


def test_theory_interrupted_in_the_sweep(tmp_path):
    rc, lines, out = _interrupt("theory.py", ["--sweep-T", "0.01:0.1:2000"], tmp_path, after="sweep of", delay=0.3)
    _check(rc, lines, out, "theory.py")


def test_evolve_fp_interrupted_leaves_nothing(tmp_path):
    # issue 21: Ctrl-C while evolving left an empty results/<case>/ (made for the result's temporary
    # folder, never removed) and tqdm redrew its bar after the interrupt line
    rc, lines, _ = _interrupt("evolve_fp.py", ["--preset", "single-well", "--T", "0.2", "--start", "0.5", "0.2",
                                               "--t-end", "300"], tmp_path, after="transient:", delay=1.5,
                              default_out=True)
    _check(rc, lines, tmp_path / "results", "evolve_fp.py")
    assert [ln for ln in lines if ln.strip()][-1] == "evolve_fp.py: interrupted (Ctrl-C)", "\n".join(lines[-5:])
    assert list(tmp_path.iterdir()) == []


def test_deferred_sigint_holds_ctrl_c_under_main_guard():
    """Ctrl-C inside _signals.deferred_sigint (DOLFINx 0.9's import cannot
    take an exception) is raised only when the block ends, and the previous
    handler is back; also inside keep_sigint_handler, which every script runs
    under (cli.main_guard): there signal.signal leaves SIGINT alone, which had
    silently kept the deferring handler out."""
    from fpsolve.tools import signals as _signals

    before = signal.getsignal(signal.SIGINT)
    for outer in (_signals.keep_sigint_handler, _nothing):
        reached = []
        with outer(), pytest.raises(KeyboardInterrupt):
            with _signals.deferred_sigint():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here and only records it
                reached.append(True)
        assert reached == [True] and signal.getsignal(signal.SIGINT) is before


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def test_ctrl_c_inside_a_failing_factorisation_is_not_swallowed():
    """Debian 13: PETSc's LU fails on a zero pivot and the eigen-solve retries with MUMPS; a
    KeyboardInterrupt that fired inside petsc4py's error path became the reported PETSc error
    and the retry ran on (7 of 24 interrupts during the eigen-solve ended with exit 0).
    linalg._set_up holds Ctrl-C while PETSc runs and raises it afterwards."""
    from petsc4py import PETSc

    from fpsolve.fem import linalg

    def failing_setup():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # without the hold the KeyboardInterrupt is raised here ...
        except KeyboardInterrupt:
            pass  # ... and dies in the error path, as in petsc4py's
        raise PETSc.Error(71)

    with pytest.raises(KeyboardInterrupt):
        linalg._set_up(failing_setup)
    assert isinstance(linalg._set_up(lambda: (_ for _ in ()).throw(PETSc.Error(71))), PETSc.Error)
    assert linalg._set_up(lambda: None) is None


@pytest.mark.parametrize("error, code, line", [
    ("KeyboardInterrupt()", 130, "x.py: interrupted (Ctrl-C)"),
    ("InputError('no writable numba cache')", 2, "x.py: error: no writable numba cache"),
])
def test_the_import_time_hook_says_one_line(error, code, line):
    """A Ctrl-C or bad input while a script imports (before main_guard) is one line: the hook
    runs while fpsolve.cli.common may be half imported (trixie: NameError '_PROG' in the hook,
    a traceback instead of 'interrupted') and must find the input error of the new layout."""
    prog = ("import sys; sys.argv[0] = 'x.py'; from fpsolve.cli import common; "
            "from fpsolve.tools.errors import InputError; del common._PROG; "
            f"e = {error}; common._script_hook(type(e), e, None)")
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert res.returncode == code and res.stderr.strip().splitlines() == [line], res.stderr
