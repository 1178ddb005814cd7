"""Defects of a new user's try (issue 21): each bad input is exit 2 and one
line naming the value, nothing written; an unknown PETSc option is refused
by name (PETSc ignored it silently)."""

from __future__ import annotations

import os

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


def test_unknown_petsc_option_is_refused_by_name(tmp_path):
    # issue 21 #2: PETSc ignores an unknown option silently; it was a warning and exit 0. Now exit 2 after the
    # (coarse, about a second) eigen-solve that shows PETSc never read it, the last line naming it, nothing written
    out = tmp_path / "o"
    r = run_script("solve_fp.py", "--petsc-option", "bogus_key=1", "--h-min", "0.1", "--out", str(out), timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[-1].startswith("solve_fp.py: error: PETSc/SLEPc never read") and "bogus_key 1" in lines[-1], r.stderr
    assert all(line.startswith("[solve_fp.py") for line in lines[:-1]), r.stderr
    assert "eps_nev" not in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


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


# issue 21, "trust": the defects of a fresh user's ~200 bad inputs; every refusal before any meshing

@pytest.mark.parametrize("script, args, words", [
    # 1: t-end 1e308 crashed in tqdm after meshing; the bound is 2**53 SGD steps of alpha
    ("evolve_fp.py", ["--t-end", "1e308"], "--t-end 1e+308 is inf SGD steps of alpha 0.05; at most 2**53"),
    ("evolve_fp.py", ["--t-end", "1e15"], "t-end <= 4.5e+14"),
    # 4: refused late in 6 lines not naming the option
    ("evolve_fp.py", ["--start-width", "1e308", "1e308"], "--start-width 1e+308 1e+308 must be smaller than"),
    ("evolve_fp.py", ["--start-width", "3", "0.1"], "--start-width 3 0.1 must be smaller than the disk's radius 2"),
    # 3: a box over the whole disk was accepted (search time 0, overflow warnings)
    ("search_time.py", ["--target", "0", "0", "1e308", "1e308"], "--target 0 0 1e+308 1e+308 covers the whole disk"),
    ("search_time.py", ["--target", "0", "0", "2", "2"], "--target 0 0 2 2 covers the whole disk of radius 2"),
    ("search_time.py", ["--target", "1e308", "0", "1e308", "1"], "--target 1e+308 0 1e+308 1: its edges"),
    # 6: the Monte Carlo ran at T = 0 (exit 0), which the FEM refuses: one rule, Noise.require_positive_T
    ("sample_sgd.py", ["--Delta", "0"], "T = alpha*Delta must be > 0"),
    ("sample_sgd.py", ["--Delta-schedule", "0*t"], "Delta schedule '0*t' is 0 at step k = 0"),
    ("evolve_fp.py", ["--Delta-schedule", "1 - Heaviside(t - 1)"], "Delta schedule '1 - Heaviside(t - 1)' is 0"),
    # 7: empty entries, a non-finite t-end hidden by --quick
    ("reproduce.py", ["--figures", "S5,,"], "--figures 'S5,,' has an empty entry"),
    ("reproduce.py", ["--figures", ",S5"], "has an empty entry"),
    ("bench_dynamics.py", ["--quick", "--t-end", "inf"], "--t-end must be a finite number > 0 (got inf)"),
    # 8a-e: messages that named the wrong thing
    # (solve_fp.py is 3-D since issue 19: theta1*theta3 ran with theta2 frozen, Var theta2 -9.6, negative mass 34)
    ("solve_fp.py", ["--loss", "theta1*theta3"], "theta2 does not appear in the loss: it would stay frozen"),
    ("make_mesh.py", ["--a2=-1,2"], "argument --a2: '-1,2' is a comma list: this tool takes one number"),
    ("evolve_fp.py", ["--a2=-1,2"], "--a2 -1,2 is a comma list of 2 values: it needs --fast-directions 2"),
    ("solve_fp.py", ["--a2=-1,2"], "--a2 -1,2 is a comma list of 2 values: it needs --fast-directions 2"),
    ("sample_sgd.py", ["--a2=-1,2"], "--a2 -1,2 is a comma list of 2 values: it needs --fast-directions 2"),
    ("sample_sgd.py", ["--fast-directions", "2", "--a0=1,2,3"], "--a0 needs 1 or m = 2 values (one per fast "
                                                                "direction), got 3"),
    ("solve_fp.py", ["--mesh", "/dev/zero"], "--mesh /dev/zero exists but is a device, not a mesh file"),
    ("evolve_fp.py", ["--mesh", "/"], "--mesh / exists but is a folder, not a mesh file"),
    ("sample_sgd.py", ["--alpha", "1e308"], "--alpha 1e+308 exceeds the SGD stability bound"),
])
def test_new_user_bad_input_is_one_line_naming_it(script, args, words, tmp_path):
    _refused(script, args, words, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_run_monte_carlo_names_a_time_that_is_no_number():
    # 5: time='300' was a raw TypeError in mc/plan.py
    model = fpsolve.Model.preset("double-well", T=0.05)
    with pytest.raises(fpsolve.InputError, match="time must be a number \\(got str '300'\\)"):
        fpsolve.run_monte_carlo(model, time="300")
    with pytest.raises(fpsolve.InputError, match="burn_in must be a number"):
        fpsolve.run_monte_carlo(model, time=3.0, burn_in=[1.0])


def test_refused_make_mesh_leaves_the_out_folder_untouched(tmp_path):
    # 9: the --out folder's write probe ran before the size check: a refused run changed its mtime
    folder = tmp_path / "meshes"
    folder.mkdir()
    os.utime(folder, (1e9, 1e9))
    r = run_script("make_mesh.py", "--h-min", "0.2", "--out", str(folder / "m.msh"), timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "h-min" in r.stderr, r.stderr
    assert folder.stat().st_mtime == 1e9 and list(folder.iterdir()) == []


def test_comma_lists_are_in_the_help_only_where_fast_directions_is():
    # 9: --a0/--a2/--a4 help spoke of comma lists in tools without --fast-directions
    for script, lists in (("solve_fp.py", True), ("evolve_fp.py", True), ("make_mesh.py", False),
                          ("sample_sgd.py", True), ("theory.py", True)):
        r = run_script(script, "--help", timeout=120)
        text = " ".join(r.stdout.split())
        assert r.returncode == 0 and ("--fast-directions" in text) == lists, script
        assert ("comma list of m values" in text) == lists, script


# issue 21, second round of the fresh user's bad inputs

@pytest.mark.parametrize("script, args, words", [
    # 1: a log(t) / sqrt(t - 1) schedule at t = 0 printed a numpy RuntimeWarning and its source line first
    ("sample_sgd.py", ["--walkers", "100", "--time", "10", "--alpha-schedule", "log(t)"],
     "alpha schedule 'log(t)' is -inf at step k = 0"),
    ("sample_sgd.py", ["--walkers", "100", "--time", "10", "--alpha-schedule", "0.05*sqrt(t-1)"],
     "alpha schedule '0.05*sqrt(t-1)' is nan at step k = 0"),
    ("evolve_fp.py", ["--alpha-schedule", "log(t)"], "alpha schedule 'log(t)' is -inf at step k = 0"),
    # 2: anneal ran with --tol 5, which solve_fp.py refuses: one rule, cli.check_tolerance
    ("anneal.py", ["--tol", "5"], "--tol must be in (0, 1) (got 5.0)"),
    # 3: the schedule's parameter names instead of the options
    ("anneal.py", ["--alpha-cold", "1"], "--alpha-cold 1 exceeds --alpha 0.05"),
    # 5: messages that did not name the option
    ("bench_solver.py", ["--reference", "nan"], "--reference must be a finite number > 0 (got nan)"),
    ("bench_solver.py", ["--adaptive", "--tols", "-1"], "--tols must be in (0, 1) (got -1.0)"),
    ("bench_solver.py", ["--quick", "--adaptive", "--tols", "2"], "--tols must be in (0, 1) (got 2.0)"),
    # 6: a variable missing from an N-variable loss stayed frozen (variance 0; validate: "A must be positive
    # definite (smallest eigenvalue 0)"); the 2-D rule of Model.check_formulas, by the loss's free symbols
    ("sample_sgd.py", ["--loss", "theta1**2+theta3**2", "--walkers", "100", "--time", "10"],
     "theta2 does not appear in the loss: it would stay frozen (no drift, no sgd noise"),
    ("validate.py", ["--loss", "theta1**2+theta3**2", "--quick", "--T", "0.05"], "theta2 does not appear in the loss"),
    ("sample_sgd.py", ["--loss", "theta1**2+theta2**2+theta4**2", "--noise", "sgd-diagonal"],
     "theta3 does not appear in the loss: it would stay frozen (no drift, no sgd-diagonal noise"),
    # 4: --quick silently replaced the given values; the memory was checked after the speed runs
    ("bench_montecarlo.py", ["--quick", "--repeat", "0"], "--repeat must be >= 1 (got 0)"),
    ("bench_montecarlo.py", ["--quick", "--ndim-updates", "nan"], "--ndim-updates must be a finite number >= 1000"),
    ("bench_montecarlo.py", ["--quick", "--closed-form-repeat", "0"], "--closed-form-repeat must be >= 1 (got 0)"),
    ("bench_montecarlo.py", ["--memory-walkers", "1000000000000000"], "--memory-walkers 1000000000000000: the run "
                                                                      "needs about"),
    ("bench_montecarlo.py", ["--quick", "--memory-walkers", "1000000000000000"], "--memory-walkers 1000000000000000"),
])
def test_new_user_bad_input_second_round(script, args, words, tmp_path):
    _refused(script, args, words, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_file_dropped_into_the_old_fem_result_while_solving_keeps_the_new_result(tmp_path):
    # 8: solve_fp.py's writer claimed --out again after the solve: a file dropped into the old result
    # during the computation was exit 2 and the computed result lost (docs/commands.md promises DIR.new-<time>)
    from fpsolve.fem import results, stationary

    model = fpsolve.Model.preset("double-well", T=0.05)
    sol = stationary.solve(model, h_min=0.1, h_max=0.3, mesh_rule="graded")
    out = tmp_path / "fem"
    results.write(sol, model, out)  # the old result
    (out / "NOTES.txt").write_text("notes")  # dropped while the next run solves
    with pytest.raises(fpsolve.tools.io.OutputError, match="holds 'NOTES.txt'.*the new result is in") as info:
        results.write(sol, model, out)
    aside = tmp_path / str(info.value).rsplit(" ", 1)[1]
    assert aside.parent == tmp_path and aside.name.startswith("fem.new-") and (aside / "summary.json").is_file()
    assert (out / "NOTES.txt").read_text() == "notes" and (out / "summary.json").is_file()
