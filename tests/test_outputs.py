"""No command deletes or replaces a file it did not write (README, *Where results go*).

The README's sequence keeps every result; a second solve replaces only the FEM
files; a bad --out is refused (exit 2, one line) before any computation, also
under mpirun, where a failure on one rank ends every rank instead of hanging.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_script
from fpsolve.tools import io

CASE = "double-well_alpha0.05_Delta1"
MC = ("--walkers", "200", "--time", "20")


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """path -> (inode, sha1) of every file under root."""
    return {str(p.relative_to(root)): (p.stat().st_ino, hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_readme_sequence_keeps_every_result(tmp_path):
    steps = [("solve_fp.py", ()), ("theory.py", ("--no-boundaries",)), ("sample_sgd.py", MC),
             ("validate.py", ("--quick",))]
    for script, args in steps:
        res = run_script(script, *args, cwd=tmp_path, timeout=400)
        assert res.returncode == 0, res.stderr[-2000:]
    case = tmp_path / "results" / CASE
    assert sorted(p.name for p in case.iterdir()) == ["fem", "montecarlo-sgd", "theory", "validate"]
    for tool, must in (("fem", "summary.json"), ("theory", "theory.json"), ("montecarlo-sgd", "hist.npz"),
                       ("validate", "report.json")):
        assert (case / tool / must).is_file()
        assert io.read_marker(case / tool)["tool"] == tool
    before = _snapshot(tmp_path)
    res = run_script("solve_fp.py", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    after = _snapshot(tmp_path)
    assert set(before) == set(after)
    changed = {k for k in before if before[k] != after[k]}
    fem = {k for k in before if k.startswith(f"results/{CASE}/fem/")}
    # every FEM file is a new file (new inode), nothing else was touched
    assert changed == fem and all(before[k][0] != after[k][0] for k in fem)
    # issue 21.1: notes and a folder the user put into the result survive a rerun, which
    # is refused (exit 2, one line naming the file) before computing, --overwrite or not
    fem_dir = case / "fem"
    (fem_dir / "NOTES.txt").write_text("notes")
    (fem_dir / "mine").mkdir()
    (fem_dir / "mine" / "plot.py").write_text("import this")
    before = _snapshot(tmp_path)
    for extra in ((), ("--overwrite",)):
        res = run_script("solve_fp.py", *extra, cwd=tmp_path)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "'NOTES.txt' and 1 more" in lines[0], res.stderr
        assert _snapshot(tmp_path) == before and (fem_dir / "mine").is_dir()


def test_overwrite_never_deletes_a_folder_fpsolve_did_not_write(tmp_path):
    """Issue 21.2: `--out scripts --overwrite` emptied a checkout's scripts/, `--out ~/.ssh --overwrite`
    deleted the keys; a result of another tool is still replaced with --overwrite."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("key")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    before = _snapshot(tmp_path)
    env = dict(os.environ, HOME=str(home))
    for out in ("scripts", str(home / ".ssh")):
        res = run_script("theory.py", "--out", out, "--overwrite", cwd=tmp_path, env=env)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "files fpsolve did not write" in lines[0], res.stderr
    assert _snapshot(tmp_path) == before
    res = run_script("theory.py", "--no-boundaries", "--out", "res", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_script("solve_fp.py", "--out", "res", cwd=tmp_path)
    assert res.returncode == 2 and "holds a theory result" in res.stderr
    res = run_script("solve_fp.py", "--out", "res", "--overwrite", cwd=tmp_path)
    assert res.returncode == 0 and io.read_marker(tmp_path / "res")["tool"] == "fem", res.stderr


BAD_OUTS = {
    "notes.txt": "is an existing file",
    "notes.txt/x": "is not a folder",
    ".": "working directory",
    "mine": "files fpsolve did not write",
    # issue 21.9: an empty --out was taken for "not given"; a 300-byte name ended in
    # an ENAMETOOLONG traceback (theory.py at the claim; others after computing)
    "": "argument --out: '' is an empty path",
    "a" * 300: "its last name has 300 bytes; at most 221",
    "c" * 300 + "/x": "a folder name of 300 bytes, above the file system's 255",
}
SCRIPTS = [("solve_fp.py", ()), ("theory.py", ()), ("sample_sgd.py", MC), ("validate.py", ("--quick",)),
           ("reproduce.py", ("--quick", "--figures", "S5")), ("bench_solver.py", ("--quick",)),
           ("bench_montecarlo.py", ("--quick",))]


@pytest.mark.parametrize("script, args", SCRIPTS, ids=[s for s, _ in SCRIPTS])
def test_bad_out_is_refused_before_computing(tmp_path, script, args):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.csv").write_text("1,2")
    before = _snapshot(tmp_path)
    for out, words in BAD_OUTS.items():
        res = run_script(script, *args, "--out", out, cwd=tmp_path, timeout=60)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and words in lines[0], (out, res.stderr[-1500:])
        assert _snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["mine", "notes.txt"]


def test_make_mesh_keeps_files_it_did_not_write(tmp_path):
    (tmp_path / "disk.msh").write_text("somebody's mesh")
    res = run_script("make_mesh.py", "--h-min", "0.1", "--out", "disk.msh", cwd=tmp_path)
    assert res.returncode == 2 and "was not written by this command" in res.stderr
    assert (tmp_path / "disk.msh").read_text() == "somebody's mesh"
    assert sorted(os.listdir(tmp_path)) == ["disk.msh"]


def _mpirun_in_mount_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``script`` (sh) in a private mount namespace: a read-only and a 100 kB tmpfs."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_failure_on_one_rank_ends_all_ranks(tmp_path):
    """Unwritable --out: exit 2 at once; disk full during the collective HDF5 write: every rank ends."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs a private mount namespace (unshare -m, as root) for a read-only and a full file system")
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    run = f"mpirun -n 2 {sys.executable} -m mpi4py {ROOT / 'scripts' / 'solve_fp.py'} --h-min 0.05"
    res = _mpirun_in_mount_namespace(
        f"mount -t tmpfs -o ro tmpfs {ro} && mount -t tmpfs -o size=100k tmpfs {full} && "
        f"{run} --out {ro}/x; echo rc=$?; {run} --out {full}/x; echo rc=$?; ls -A {full}", tmp_path)
    codes = [line for line in res.stdout.splitlines() if line.startswith("rc=")]
    assert codes[0] == "rc=2", res.stdout + res.stderr[-3000:]
    assert "no write permission" in res.stderr.splitlines()[0]
    assert codes[1] not in ("rc=0", "rc=124"), res.stdout + res.stderr[-3000:]
    assert "ending all ranks" in res.stderr
    # nothing half-written appears at the path
    assert res.stdout.splitlines()[-1].startswith("rc=") or "x" not in res.stdout.splitlines()[-1].split()


def test_mount_point_and_full_disk_end_with_one_line(tmp_path):
    """Issue 21.9: a mount point as --out is refused before computing (it failed
    with EBUSY on the final rename and left the result hidden beside it); a full
    disk is one line saying so, exit 1, nothing left (63 lines of HDF5 errors
    and a traceback before), for the HDF5 writer and for a plain Python write."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs a private mount namespace (unshare -m, as root) for a tmpfs")
    mnt, full, small = tmp_path / "mnt", tmp_path / "full", tmp_path / "small"
    for folder in (mnt, full, small):
        folder.mkdir()
    py = f"{sys.executable} {ROOT / 'scripts'}"
    res = _mpirun_in_mount_namespace(
        f"mount -t tmpfs -o size=10m tmpfs {mnt} && mount -t tmpfs -o size=100k tmpfs {full} && "
        f"mount -t tmpfs -o size=12k tmpfs {small} && "
        f"{py}/solve_fp.py --out {mnt} 2>{tmp_path}/err1; echo rc=$?; "
        f"{py}/solve_fp.py --out {full}/x 2>{tmp_path}/err2; echo rc=$?; "
        f"{py}/sample_sgd.py --walkers 64 --time 5 --out {small}/y 2>{tmp_path}/err3; echo rc=$?; "
        f"ls -A {mnt} {full} {small} {tmp_path}", tmp_path)
    codes = [line for line in res.stdout.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=2", "rc=1", "rc=1"], res.stdout + res.stderr
    # the one line, among progress lines ("[solve_fp.py  0.52s] ...") and the bar
    errors = [[line for line in (tmp_path / f"err{i}").read_text().replace("\r", "\n").splitlines()
               if line.strip() and not line.startswith(("[", "sampling"))] for i in (1, 2, 3)]
    assert errors[0] == [f"solve_fp.py: error: --out {mnt} is a mount point; give a folder inside it"]
    assert errors[1] == ["solve_fp.py: error: disk full (no space left on device) while writing density.xdmf; "
                         "no result was written"]
    assert len(errors[2]) == 1 and "disk full (no space left on device)" in errors[2][0], errors[2]
    # every mount is empty, and nothing (a hidden result) was left beside them
    listing = res.stdout.split("rc=1\n")[-1]
    assert sorted(listing.split()) == sorted([f"{d}:" for d in (mnt, full, small, tmp_path)]
                                             + ["err1", "err2", "err3", "full", "mnt", "small"])


def test_solution_write_is_the_scripts_output(tmp_path):
    """A library user writes the same folder as solve_fp.py, under the same rules."""
    import json

    import fpsolve

    model = fpsolve.Model.preset("double-well", T=0.05, noise="sgd-diagonal")
    sol = fpsolve.solve(model, h_min=0.05)
    out = sol.write(model, tmp_path / "fem", extra={"note": "library"})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [io.MARKER, "density.h5", "density.png", "density.xdmf", "marginals.csv", "marginals.png", "summary.json"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["note"] == "library" and summary["mean_abs_theta1"] == sol.summary["mean_abs_theta1"]
    # within 3 % of docs/model.md §6 (no cross-diffusion, T = 0.05) on this coarse mesh
    assert abs(summary["mean_abs_theta1"] - 0.6231) < 0.03 * 0.6231
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x").write_text("x")
    with pytest.raises(io.OutputError, match="did not write"):
        sol.write(model, tmp_path / "mine")
    assert (tmp_path / "mine" / "x").read_text() == "x"


def readme_commands(*scripts: str) -> list[list[str]]:
    """The example commands of ``scripts`` as written in the README and the
    command reference (an indented code line ``.venv/bin/python scripts/<script> ...``,
    continued over lines ending in a backslash, without its trailing
    comment): argument lists, each once."""
    import shlex

    lines = [line for doc in ("README.md", "docs/commands.md") for line in (ROOT / doc).read_text().splitlines()]
    commands = []
    for i, line in enumerate(lines):
        words = line.split()
        if line.startswith("    ") and words[:2] and words[0] == ".venv/bin/python" \
                and words[1] in [f"scripts/{s}" for s in scripts]:
            text, j = line, i
            while text.rstrip().endswith("\\"):
                j += 1
                text = text.rstrip()[:-1] + " " + lines[j]
            command = shlex.split(text, comments=True)[1:]
            if command not in commands:
                commands.append(command)
    return commands


def test_readme_dynamics_examples_keep_each_others_results(tmp_path):
    """Issue 21.8: the case folder named neither --boundary, --start, --target,
    --t-end nor --h-min, so three of the README's search_time.py examples wrote
    one folder and only the last survived. Each documented example of
    search_time.py and evolve_fp.py, run as written in one folder (about 75 s; the five 3-D ones,
    one of them under a schedule, add about 90 s),
    gets its own folder, and all are there at the end."""
    commands = readme_commands("search_time.py", "evolve_fp.py")
    assert len(commands) == 15, commands
    folders = []
    for script, *args in commands:
        res = run_script(Path(script).name, *args, cwd=tmp_path, timeout=300)
        assert res.returncode == 0, (args, res.stderr[-2000:])
        folders.append(res.stdout.strip().splitlines()[-1].removeprefix("results written to ").strip())
    assert len(set(folders)) == len(folders), folders
    tools = {"search_time.py": "search-time", "evolve_fp.py": "evolve"}
    for (script, *args), folder in zip(commands, folders):
        three_d = "--fast-directions" in args or "--target-theta1" in args or "theta3" in " ".join(args)
        tool = tools[Path(script).name] + ("-N3" if three_d else "")
        assert io.read_marker(folder)["tool"] == tool and (Path(folder) / "summary.json").is_file()
    # the default runs keep the names tests and the README rely on
    assert str(tmp_path / "results" / CASE / "search-time") in folders
    assert str(tmp_path / "results" / CASE / "evolve") in folders
