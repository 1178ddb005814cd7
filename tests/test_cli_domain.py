"""What a fresh user found: the case folder names the domain, a disk without
the loss's minimum, PETSc option values, runs larger than the machine and
walkers started outside the disk are exit 2, one line, nothing written."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_script
from fpsolve.cli import common as cli
from fpsolve.mc import ensemble as montecarlo
from fpsolve.mc import plan as mc_plan
from fpsolve.model.valley import Noise


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"radius": None, "center": None, "mesh": None, **kw})


def test_domain_tag_names_only_what_differs_from_the_default_disk(tmp_path):
    base = "double-well_alpha0.05_Delta1"
    assert cli.case_folder_name(base, _args()) == base
    # the default values given explicitly are the default case
    assert cli.case_folder_name(base, _args(radius=2.0, center=[0.0, -0.0])) == base
    assert cli.case_folder_name(base, _args(radius=5.0)) == base + "_R5"
    assert cli.case_folder_name(base, _args(center=[0.3, 0.0])) == base + "_c0.3,0"
    assert cli.case_folder_name(base, _args(radius=2.5, center=[0.0, -0.25])) == base + "_R2.5_c0,-0.25"
    msh = tmp_path / "disk.msh"
    msh.write_bytes(b"mesh A")
    tag = "_mesh-disk-" + hashlib.sha1(b"mesh A").hexdigest()[:8]
    assert cli.case_folder_name(base, _args(mesh=str(msh))) == base + tag
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "disk.msh").write_bytes(b"mesh B")  # same stem, another file: another folder
    assert cli.case_folder_name(base, _args(mesh=str(tmp_path / "other" / "disk.msh"))) != base + tag
    # a script without the option counts it as not given
    assert cli.case_folder_name(base, argparse.Namespace()) == base


def test_default_folders_of_a_non_default_disk_leave_the_default_case_alone(tmp_path):
    """solve_fp.py, theory.py and sample_sgd.py with --radius/--center write
    next to, not over, the default case's folders."""
    res = run_script("solve_fp.py", "--T", "0.2", "--degree", "1", "--h-min", "0.08", "--h-max", "0.3",
                     "--radius", "1.5", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_script("theory.py", "--center", "0.3", "0", "--no-boundaries", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_script("sample_sgd.py", "--walkers", "64", "--time", "5", "--bins", "10", "10", "--radius", "1.5",
                     cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    made = sorted(str(p.relative_to(tmp_path / "results")) for p in (tmp_path / "results").glob("*/*"))
    assert made == ["double-well_alpha0.05_Delta1_R1.5/montecarlo-sgd",
                    "double-well_alpha0.05_Delta1_c0.3,0/theory",
                    # issue 21.8: the mesh options name the folder too
                    "double-well_alpha0.05_Delta4_R1.5_P1_hmin0.08_hmax0.3/fem"]


@pytest.mark.parametrize("script, args, words", [
    # the density lives around (0, 0): this disk held a "solution" with λ0 = 5e13 and negative mass 6.8
    ("solve_fp.py", ["--center", "100", "0"], "(--radius 2, --center 100 0) does not contain the loss's minimum"),
    ("sample_sgd.py", ["--radius", "0.5", "--center", "1", "0"],
     "(--radius 0.5, --center 1 0) does not contain the loss's minimum"),
    # issue 21.4: std |theta1| = 0 and negative mass 1.2 (R = 1e5), Var theta2 = -44 and a negative
    # escape rate (R = 1e6), both exit 0 before: the graded mesh of such a disk cannot resolve the density
    ("solve_fp.py", ["--radius", "1e5"], "the density's widths need a mesh size of 0.0149, but the graded mesh of "
                                         "a disk of radius 100000 goes down to 2 only"),
    ("solve_fp.py", ["--radius", "1e6"], "use a radius up to 1.49e+03"),
    ("evolve_fp.py", ["--radius", "1e5", "--start", "0.1", "0"], "but the graded mesh of a disk of radius 100000 goes down to 2 only"),
    ("search_time.py", ["--radius", "1e5"], "but the graded mesh of a disk of radius 100000 goes down to 2 only"),
    ("solve_fp.py", ["--petsc-option", "eps_type=nonexistent"], "-fpsolve_eig_eps_type nonexistent: Unknown EPS type"),
    ("solve_fp.py", ["--petsc-option", "eps_nev=abc"], "-fpsolve_eig_eps_nev abc"),
    ("solve_fp.py", ["--eigensolver", "inverse", "--petsc-option", "ksp_type=zzz"], "-fpsolve_eig_ksp_type zzz"),
    # 2e13 steps (MemoryError in the list of progress blocks before)
    ("sample_sgd.py", ["--time", "1e12"], "(4000 walkers, 20000000000000 steps"),
    ("sample_sgd.py", ["--walkers", "100000000000"], "(100000000000 walkers"),
    ("sample_sgd.py", ["--bins", "100000", "100000"], "100000x100000 bins"),
    # outside the disk every walker stopped at once: NaN statistics, exit 0 before
    ("sample_sgd.py", ["--start", "5", "0"], "start (5, 0) must lie inside the disk of radius 2"),
    ("sample_sgd.py", ["--start", "nan", "0"], "start must be two finite numbers"),
    # 0 sampled every step, silently
    ("sample_sgd.py", ["--sample-interval", "0"], "sample_interval must be a finite number > 0 (got 0.0)"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, script, args, words):
    res = run_script(script, *args, "--out", str(tmp_path / "out"))
    assert res.returncode == 2, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


def test_memory_prediction_bounds_what_a_run_allocates():
    """The prediction is at least what numpy allocates (tracemalloc peak of
    a run), and not wildly more (within 3x)."""
    import tracemalloc

    import numpy as np

    from fpsolve.model.valley import Landscape

    land, noise = Landscape.from_preset("double-well"), Noise(0.05, 1.0)
    kw = dict(walkers=200_000, steps=10, hist_edges=(np.linspace(-2, 2, 51), np.linspace(-2, 2, 51)))
    montecarlo.run(land, noise, **{**kw, "walkers": 10})  # kernels loaded outside the measurement
    tracemalloc.start()
    try:
        montecarlo.run(land, noise, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    plan = mc_plan.check_run(noise, walkers=kw["walkers"], steps=10)
    import numba

    need = mc_plan.predicted_memory(plan, kw["walkers"], (50, 50), threads=numba.get_num_threads())
    assert peak <= need <= 3 * peak, (peak, need)
    assert mc_plan.available_memory() > 0


def test_under_mpirun_bad_input_is_exit_2_and_one_line_with_quiet_mpirun(tmp_path):
    """Open MPI's mpirun adds its own banner after any rank's non-zero exit
    (MPI_ABORT under ``-m mpi4py``, "non-zero status" without): our line is
    said once, nothing is written; Open MPI 4's ``mpirun -q`` leaves only
    our line and exit 2 (Open MPI 5's mpirun has no quiet option; README,
    *Where results go*)."""
    if shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    line = "solve_fp.py: error: T must be >= 0 (got T=-1)"
    command = [sys.executable, "-m", "mpi4py", str(ROOT / "scripts" / "solve_fp.py"), "--T", "-1",
               "--out", str(tmp_path / "out")]
    res = subprocess.run(["mpirun", "-n", "2", *command], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode != 0 and res.stderr.count(line) == 1, res.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []
    version = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
    if "Open MPI) 4." in version:
        res = subprocess.run(["mpirun", "-q", "-n", "2", *command], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 2, res.stderr[-3000:]
        assert res.stderr.strip().splitlines() == [line]
        assert list(tmp_path.iterdir()) == []


def test_run_tag_names_each_non_default_result_option():
    """Issue 21.8: options that change a result name the folder; defaults add nothing."""
    parser = cli.Parser()
    cli.add_wall_argument(parser, "reflecting", "the wall")
    parser.add_argument("--start", type=float, nargs=2, default=(0.0, 0.0))
    parser.add_argument("--committor", action="store_true")
    parser.add_argument("--t-end", type=float, default=1000.0)
    cli.add_mesh_arguments(parser)
    base = "double-well_alpha0.05_Delta1"
    assert cli.case_folder_name(base, parser.parse_args([]), parser) == base
    assert cli.case_folder_name(base, parser.parse_args(["--start", "0", "-0", "--t-end", "1e3"]), parser) == base
    args = parser.parse_args(["--boundary", "dirichlet", "--degree", "1", "--h-min", "0.2", "--start", "1.2", "0.3",
                              "--t-end", "20", "--h-max", "0.5", "--committor"])
    assert cli.case_folder_name(base, args, parser) == base + "_absorbing_P1_hmin0.2_hmax0.5_start1.2,0.3_t20_committor"


def test_run_tag_names_mesh_rule_tol_and_max_dofs():
    """--mesh-rule, --tol and --max-dofs change a result: each names the folder
    when given (2-D and 3-D share solve_fp.py's parser); evolve_fp.py's --tol
    (the time-step tolerance, default 1e-4) only when not at its default."""
    from fpsolve.cli import evolve, solve

    parser = solve.build_parser()
    base = "loss-x-0123abcd_isotropic_alpha0.05_Delta2"
    assert cli.case_folder_name(base, parser.parse_args([]), parser) == base
    coarse = parser.parse_args(["--tol", "2e-3"])
    fine = parser.parse_args(["--tol", "1e-4", "--max-dofs", "1e4"])
    assert cli.case_folder_name(base, coarse, parser) == base + "_tol0.002"
    assert cli.case_folder_name(base, fine, parser) == base + "_tol0.0001_maxdofs10000"
    assert (cli.case_folder_name(base, parser.parse_args(["--mesh-rule", "adaptive", "--tol", "1e-2"]), parser)
            == base + "_adaptive_tol0.01")
    assert cli.case_folder_name(base, parser.parse_args(["--mesh-rule", "graded"]), parser) == base + "_graded"
    parser = evolve.build_parser()
    assert cli.case_folder_name(base, parser.parse_args(["--tol", "1e-4"]), parser) == base
    assert cli.case_folder_name(base, parser.parse_args(["--tol", "1e-3"]), parser) == base + "_tol0.001"


@pytest.mark.parametrize("script", ["solve", "evolve", "search", "sample"])
def test_nvalley_case_name_names_every_changed_coefficient(script):
    """The N-dimensional valley's case (cli.nvalley_case_name, every script):
    the preset's default keeps its name, each coefficient that differs from the
    preset is in it as in two variables; two coefficient lists, two folders
    (they were both ``custom_m2_…``, the second run replacing the first)."""
    import importlib

    from fpsolve.cli import solve3d

    parser = importlib.import_module(f"fpsolve.cli.{script}").build_parser()

    def name(*extra: str) -> str:
        args = parser.parse_args(["--fast-directions", "2", *extra])
        valley = cli.nvalley_from_args(args, 2.0)
        if script == "sample":  # sample_sgd.py's own line, the same helper
            return cli.nvalley_case_name(valley, cli.noise_from_args(args), "sgd")
        return solve3d.case_from_args(args, 2.0, [0.0, 0.0, 0.0])[3]

    assert name() == "double-well_m2_sgd_alpha0.05_Delta1"
    assert name("--preset", "single-well") == "single-well_m2_sgd_alpha0.05_Delta1"
    assert name("--a0=1,1", "--eps", "0.01") == "double-well_m2_sgd_alpha0.05_Delta1"  # the preset's values
    first = name("--a0=1,2", "--a2=-1,-0.5", "--T", "0.05")
    assert first == "double-well_m2_a01,2_a2-1,-0.5_sgd_alpha0.05_Delta1"
    assert name("--a0=1,3", "--a2=-1,-0.5", "--T", "0.05") == "double-well_m2_a01,3_a2-1,-0.5_sgd_alpha0.05_Delta1"
    assert name("--eps", "0.02") == "double-well_m2_eps0.02_sgd_alpha0.05_Delta1"
    assert name("--a4", "0.7") == "double-well_m2_a40.7_sgd_alpha0.05_Delta1"
    assert name("--preset", "single-well", "--a2=1,2") == "single-well_m2_a21,2_sgd_alpha0.05_Delta1"


def test_theory_fast_directions_writes_one_folder_per_coefficient_set(tmp_path):
    """theory.py --fast-directions 2 (the closed forms, < 1 s a run): --eps,
    --a4 and two --a0 lists each keep their own folder beside the default's."""
    runs = {(): "double-well_m2_alpha0.05_Delta1", ("--eps", "0.02"): "double-well_m2_eps0.02_alpha0.05_Delta1",
            ("--a4", "0.7"): "double-well_m2_a40.7_alpha0.05_Delta1",
            ("--a0=1,2",): "double-well_m2_a01,2_alpha0.05_Delta1",
            ("--a0=1,3",): "double-well_m2_a01,3_alpha0.05_Delta1"}
    for extra in runs:
        res = run_script("theory.py", "--fast-directions", "2", *extra, cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(runs.values())
    for folder in runs.values():
        assert (tmp_path / "results" / folder / "theory" / "theory.json").is_file()
