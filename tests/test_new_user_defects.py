"""Defects of a new user's try (issue 21): each bad input is exit 2 and one
line naming the value, nothing written; an unknown PETSc option is warned of
by name (PETSc ignored it silently)."""

from __future__ import annotations

import pytest

from conftest import run_script
import fpsolve


def _refused(script, args, words, tmp_path):
    out = tmp_path / "out"
    r = run_script(script, *args, "--out", str(out), timeout=300)
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert len(err.splitlines()) == 1 and words in err, err
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], "--seed"),
    (["--threads", "100000"], "--threads"),
    (["--time", "1e-300"], "time must be at least half a step"),
])
def test_sample_sgd_refuses(args, words, tmp_path):
    _refused("sample_sgd.py", args, words, tmp_path)


@pytest.mark.parametrize("args, words", [
    (["--alpha", "1e-320"], "alpha must be at least"),
    (["--T", "1e308"], "T must be at most"),
])
def test_theory_names_the_value_at_fault(args, words, tmp_path):
    _refused("theory.py", args, words, tmp_path)


def test_petsc_option_that_breaks_the_factorisation_is_one_line(tmp_path):
    # st_type=shift factorises K itself, singular with an absorbing wall's λ0 ≈ 0: MUMPS fails
    # during the solve (after the progress lines): exit 2, no traceback, the last line names it
    out = tmp_path / "out"
    r = run_script("solve_fp.py", "--petsc-option", "st_type=shift", "--h-min", "0.1", "--out", str(out), timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[-1].startswith("solve_fp.py: error:") and "st_type shift" in lines[-1]
    assert all(line.startswith("[solve_fp.py") for line in lines[:-1]), r.stderr
    assert not out.exists()


def test_unknown_petsc_option_is_warned_by_name(tmp_path):
    r = run_script("solve_fp.py", "--petsc-option", "bogus_key=1", "--h-min", "0.1", "--out", str(tmp_path / "o"),
                   timeout=300)
    assert r.returncode == 0, r.stderr
    warned = [line for line in r.stderr.splitlines() if "warning" in line and "bogus_key" in line]
    assert len(warned) == 1 and "never read" in warned[0]
    assert "eps_nev" not in r.stderr


def test_known_petsc_option_is_not_warned(tmp_path):
    r = run_script("solve_fp.py", "--petsc-option", "eps_nev=3", "--h-min", "0.1", "--out", str(tmp_path / "o"),
                   timeout=300)
    assert r.returncode == 0 and "never read" not in r.stderr, r.stderr


@pytest.mark.parametrize("args, words", [(("x", 0.05), "landscape must be a Landscape (got str 'x')"),
                                         ((None, 0.05), "landscape must be a Landscape"),
                                         (("double-well",), "noise must be a Noise")])
def test_predictions_names_a_bad_argument(args, words):
    if args[0] == "double-well":
        args = (fpsolve.Landscape.from_preset("double-well"), 0.05)
        words = "noise must be a Noise (got float 0.05"
    with pytest.raises(fpsolve.InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        fpsolve.predictions(*args)
