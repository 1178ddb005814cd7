"""Atomic result folders: all or nothing, serial and collective under MPI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fpsolve.tools import io


def test_atomic_dir_appears_only_on_success(tmp_path):
    final = tmp_path / "res"
    with pytest.raises(RuntimeError):
        with io.atomic_output_dir(final) as tmp:
            (tmp / "a.txt").write_text("partial")
            raise RuntimeError("solver failed")
    assert list(tmp_path.iterdir()) == []
    with io.atomic_output_dir(final, tool="fem") as tmp:
        io.write_json(tmp / "s.json", {"x": np.float64(1.5), "v": np.arange(3)})
    assert json.loads((final / "s.json").read_text()) == {"x": 1.5, "v": [0, 1, 2]}
    assert io.read_marker(final)["tool"] == "fem"
    # ordinary permissions, not mkstemp's 0600 / mkdtemp's 0700
    mask = os.umask(0o022)
    os.umask(mask)
    assert (final / "s.json").stat().st_mode & 0o777 == 0o666 & ~mask
    assert final.stat().st_mode & 0o777 == 0o777 & ~mask
    # a failed rerun leaves the earlier result intact; a good one replaces it
    with pytest.raises(RuntimeError):
        with io.atomic_output_dir(final, tool="fem") as tmp:
            raise RuntimeError
    assert (final / "s.json").exists()
    with io.atomic_output_dir(final, tool="fem") as tmp:
        (tmp / "new.txt").write_text("x")
    assert sorted(p.name for p in final.iterdir()) == [io.MARKER, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_versions_name_the_stack():
    v = io.versions()
    assert {"fpsolve", "python", "numpy", "dolfinx", "petsc", "numba"} <= set(v)


@pytest.mark.mpi
def test_atomic_dir_is_collective(tmp_path_factory):
    comm = MPI.COMM_WORLD
    assert comm.size >= 2, "run under mpirun -n 2"
    base = comm.bcast(str(tmp_path_factory.mktemp("mpi")) if comm.rank == 0 else None)
    final = f"{base}/res"
    with io.atomic_output_dir(final, comm) as tmp:
        (tmp / f"rank{comm.rank}.txt").write_text(str(comm.rank))
    assert sorted(os.listdir(final)) == [io.MARKER] + [f"rank{r}.txt" for r in range(comm.size)]
    # a failing rank ends every rank (Abort): tested through a full file
    # system in test_outputs.test_a_failure_on_one_rank_ends_all_ranks


def test_atomic_file_for_writers_that_take_a_name(tmp_path):
    target = tmp_path / "mesh.msh"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_file(target, suffix=".msh") as tmp:
            assert tmp.suffix == ".msh" and tmp.parent == tmp_path
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["mesh.msh"]
    with io.atomic_file(target, suffix=".msh") as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["mesh.msh"]


def test_only_own_results_are_replaced(tmp_path, monkeypatch):
    """Anything at --out that the tool did not write is refused before computing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "data.csv").write_text("1,2")
    with io.atomic_output_dir(tmp_path / "results" / "case" / "fem", tool="fem") as tmp:
        (tmp / "a").write_text("a")
    refused = {
        "notes.txt": "is an existing file",
        "notes.txt/x": "is not a folder",
        ".": "working directory",
        "..": "working directory",
        str(foreign): "files fpsolve did not write",
        "results": "files fpsolve did not write",
        "results/case/fem": "holds a fem result",  # written by another tool
    }
    for out, words in refused.items():
        with pytest.raises(io.OutputError, match=words) as info:
            io.claim_output(out, "theory")
        assert "\n" not in str(info.value)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (foreign / "data.csv").read_text() == "1,2"
    assert (tmp_path / "results" / "case" / "fem" / "a").exists()
    # its own earlier result, a new path or an empty folder may be written
    io.claim_output("results/case/fem", "fem")
    io.claim_output("results/case/theory", "theory")
    (tmp_path / "empty").mkdir()
    with io.atomic_output_dir("empty", tool="theory") as tmp:
        (tmp / "t").write_text("t")
    # --overwrite replaces another tool's result, never a folder fpsolve did not write,
    # the working directory, a repository or a source tree
    with pytest.raises(io.OutputError, match="files fpsolve did not write"):
        io.claim_output(foreign, "theory", overwrite=True)
    with io.atomic_output_dir("results/case/fem", tool="theory", overwrite=True) as tmp:
        (tmp / "t").write_text("t")
    assert sorted(p.name for p in (tmp_path / "results" / "case" / "fem").iterdir()) == [io.MARKER, "t"]
    with pytest.raises(io.OutputError, match="working directory"):
        io.claim_output(".", "theory", overwrite=True)
    (tmp_path / "repo" / ".git" / "objects").mkdir(parents=True)
    for out in ("repo", "repo/.git", "results"):
        with pytest.raises(io.OutputError, match="files fpsolve did not write"):
            io.claim_output(out, "theory", overwrite=True)
    assert (tmp_path / "repo" / ".git" / "objects").is_dir()
    # a library caller of atomic_output_dir gets the same protection
    with pytest.raises(io.OutputError):
        with io.atomic_output_dir(tmp_path / "notes.txt", tool="theory"):
            pass
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_exchange_is_atomic_and_complete(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    io.exchange(a, b)
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


_WRITER = r"""
import os, signal, sys
from fpsolve.tools import io
kill_at, final = int(sys.argv[1]), sys.argv[2]
count = 0

depth = 0

def tick():
    global count
    count += 1
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def wrap(owner, name):
    # steps inside a step do not count: what clean_stale does depends on what
    # the runs before left, and the step numbers must not
    inner = getattr(owner, name)
    def wrapped(*a, **k):
        global depth
        if depth:
            return inner(*a, **k)
        tick()
        depth += 1
        try:
            out = inner(*a, **k)
        finally:
            depth -= 1
        tick()
        return out
    setattr(owner, name, wrapped)

for owner, name in ((io.tempfile, "mkdtemp"), (io.os, "chmod"), (io, "_write_marker"), (io, "exchange"),
                    (io.os, "rename"), (io.shutil, "rmtree"), (io, "_remove_result"), (io, "clean_stale")):
    wrap(owner, name)
with io.atomic_output_dir(final, tool="fem") as tmp:
    tick()
    (tmp / "a.txt").write_text("new")
    tick()
    (tmp / "b.txt").write_text("new")
    tick()
print("steps", count)
"""


def _result(folder):
    files = {p.name: p.read_text() for p in folder.iterdir() if p.name != io.MARKER}
    return files, io.read_marker(folder)


def test_a_kill_at_any_step_leaves_old_or_new_result(tmp_path):
    """SIGKILL the writer at every step: the path holds the complete old or the complete new result,
    and the next run removes what the killed one left."""
    import subprocess
    import sys

    final = tmp_path / "fem"
    with io.atomic_output_dir(final, tool="fem") as tmp:
        (tmp / "a.txt").write_text("old")
        (tmp / "b.txt").write_text("old")
    old = ({"a.txt": "old", "b.txt": "old"}, "fem")
    new = ({"a.txt": "new", "b.txt": "new"}, "fem")
    seen, step = set(), 1
    while True:
        res = subprocess.run([sys.executable, "-c", _WRITER, str(step), str(final)], capture_output=True, text=True)
        files, marker = _result(final)
        state = (files, marker and marker["tool"])
        assert state in (old, new), f"kill at step {step}: {state}"
        if res.returncode == 0:
            break
        assert res.returncode == -9, res.stderr
        seen.add("old" if state == old else "new")
        if state == new:  # put the old result back for the next step
            with io.atomic_output_dir(final, tool="fem") as tmp:
                (tmp / "a.txt").write_text("old")
                (tmp / "b.txt").write_text("old")
        step += 1
    assert step > 10 and seen == {"old", "new"}
    # the completed run cleaned every sibling the killed runs left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fem"]


def test_stale_siblings_of_live_processes_are_kept(tmp_path):
    live = tmp_path / f".fem{io._TMP_TAG}{os.getpid()}-abc"
    dead = tmp_path / f".fem{io._TMP_TAG}999999999-abc"
    other = tmp_path / ".fem.something"
    for p in (live, dead, other):
        p.mkdir()
        (p / io.MARKER).write_text('{"tool": "fem"}')
    # a dead run's folder without our marker (the user's, by that name) is kept too
    foreign = tmp_path / f".fem{io._TMP_TAG}999999998-abc"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("mine")
    assert io.clean_stale(tmp_path) == [dead]
    assert live.exists() and other.exists() and not dead.exists() and (foreign / "mine.txt").exists()


def test_write_json_is_strict_json_with_null_for_non_finite(tmp_path):
    # NaN and ±inf (Python's and numpy's, nested) are not JSON: written as null;
    # finite numbers and numpy scalars/arrays survive exactly
    data = {"nan": float("nan"), "list": [np.float64("inf"), 1.5, np.array([0.25, np.nan])],
            "int": np.int64(3), "tuple": (1, -float("inf")), "flag": np.bool_(True), "text": "NaN",
            "nested": {"x": np.float32(0.5), "y": -np.inf}}
    path = tmp_path / "s.json"
    io.write_json(path, data)
    back = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert back == {"nan": None, "list": [None, 1.5, [0.25, None]], "int": 3, "tuple": [1, None], "flag": True,
                    "text": "NaN", "nested": {"x": 0.5, "y": None}}


def _result_with_notes(tmp_path):
    final = tmp_path / "results" / "case" / "fem"
    with io.atomic_output_dir(final, tool="fem") as tmp:
        (tmp / "summary.json").write_text("{}")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "density.h5").write_bytes(b"\0" * 100)
    return final


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_rerun_never_deletes_what_the_user_put_into_a_result(tmp_path, overwrite):
    """Issue 21.1: a file or folder the user added to an earlier result, or a result file they
    changed, is named and kept; the marker lists every file the run wrote with its SHA-256."""
    final = _result_with_notes(tmp_path)
    files = io.read_marker(final)["files"]
    assert sorted(files) == ["sub/density.h5", "summary.json"] and len(files["summary.json"]["sha256"]) == 64
    io.claim_output(final, "fem", overwrite)  # untouched: its own result may be replaced
    cases = {"NOTES.txt": lambda f: (f / "NOTES.txt").write_text("notes"),
             "mine": lambda f: (f / "mine").mkdir(),
             "sub/plot.py": lambda f: (f / "sub" / "plot.py").write_text("import this"),
             "summary.json": lambda f: (f / "summary.json").write_text('{"edited": 1}')}
    for i, (name, make) in enumerate(cases.items()):
        final = _result_with_notes(tmp_path / str(i))
        make(final)
        before = {str(p.relative_to(final)): p.is_file() and p.read_bytes() for p in final.rglob("*")}
        with pytest.raises(io.OutputError, match=f"holds '{name}'.*files fpsolve did not write") as info:
            with io.atomic_output_dir(final, tool="fem", overwrite=overwrite) as tmp:
                (tmp / "summary.json").write_text("new")
        assert "\n" not in str(info.value)
        assert {str(p.relative_to(final)): p.is_file() and p.read_bytes() for p in final.rglob("*")} == before
    # a marker of an fpsolve that did not list its files proves nothing about the files
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / io.MARKER).write_text('{"tool": "fem"}')
    (legacy / "summary.json").write_text("{}")
    with pytest.raises(io.OutputError, match="'summary.json'"):
        io.claim_output(legacy, "fem", overwrite)


def test_overwrite_never_empties_a_folder_fpsolve_did_not_write(tmp_path, monkeypatch):
    """Issue 21.2: `--out scripts --overwrite` emptied the checkout's scripts/, `--out ~/.ssh` the keys."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("key")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "solve_fp.py").write_text("print()")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for out in ("scripts", home / ".ssh"):
        with pytest.raises(io.OutputError, match="files fpsolve did not write"):
            with io.atomic_output_dir(out, tool="fem", overwrite=True) as tmp:
                (tmp / "x").write_text("x")
    assert (home / ".ssh" / "id_ed25519").read_text() == "key"
    assert (tmp_path / "scripts" / "solve_fp.py").read_text() == "print()"


def test_a_file_dropped_into_a_result_before_the_writing_keeps_it_and_the_new_result(tmp_path):
    """A fresh user's try: the tools claim --out before computing and write it after; a file dropped
    into the old result in between made the write refuse at its start and lose the computed result.
    Now the file stays, the result goes to DIR.new-<time> and the error names it."""
    final = _result_with_notes(tmp_path)
    io.claim_output(final, "fem")  # before the computation: fine
    (final / "NOTES.txt").write_text("notes")  # during it
    with pytest.raises(io.OutputError, match="holds 'NOTES.txt'.*new result is in") as info:
        with io.atomic_output_dir(final, tool="fem") as tmp:
            (tmp / "summary.json").write_text("new")
    aside = Path(str(info.value).rsplit(" ", 1)[1])
    assert (final / "NOTES.txt").read_text() == "notes" and (aside / "summary.json").read_text() == "new"


def test_a_killed_run_of_any_tool_is_cleaned_by_the_next_run_beside_it(tmp_path):
    dead = tmp_path / f".evolve{io._TMP_TAG}999999999-abc"
    dead.mkdir()
    (dead / io.MARKER).write_text('{"tool": "evolve"}')
    with io.atomic_output_dir(tmp_path / "montecarlo-sgd", tool="montecarlo-sgd") as tmp:
        (tmp / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["montecarlo-sgd"]


@pytest.mark.parametrize("out, words", [("/proc/fpsolve-x", "no such file or directory in /proc"),
                                         ("/sys/kernel/fpsolve-x", "in /sys/kernel")])
def test_a_place_nothing_can_be_made_in_is_refused_before_computing(out, words):
    """Root may write /proc and /sys by the permission bits, yet nothing can be created there:
    a traceback after the whole computation before."""
    with pytest.raises(io.OutputError, match=f"cannot be written: .*{words}"):
        io.claim_output(out, "theory")
    with pytest.raises(io.OutputError, match="cannot be written"):
        io.claim_file(out + ".msh", lambda path: False)


def test_a_file_dropped_into_the_old_result_during_the_run_is_kept(tmp_path):
    final = _result_with_notes(tmp_path)
    with pytest.raises(io.OutputError, match="found when the result was written.*new result is in") as info:
        with io.atomic_output_dir(final, tool="fem") as tmp:
            (tmp / "summary.json").write_text("new")
            (final / "NOTES.txt").write_text("notes")
    aside = Path(str(info.value).rsplit(" ", 1)[1])
    assert (final / "NOTES.txt").read_text() == "notes" and (final / "summary.json").read_text() == "{}"
    assert (aside / "summary.json").read_text() == "new" and io.read_marker(aside)["files"]
    # a file that appears between the last check and the swap lands in a visible kept folder
    old = _result_with_notes(tmp_path / "b")
    (old / "late.txt").write_text("late")
    kept = io._remove_result(old)
    assert kept is not None and (kept / "late.txt").read_text() == "late"
    assert sorted(p.name for p in kept.iterdir()) == [io.MARKER, "late.txt"]
