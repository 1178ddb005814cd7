"""Every command the README shows runs as written from a fresh clone (issue 21.7).

The commands are read from README.md itself: indented code lines and
`backticked` spans that start with ``.venv/bin/python``, ``.venv/bin/fpsolve``,
``fpsolve`` (after ``source .venv/bin/activate``), ``mpirun`` or ``make``.  Each is checked, as written, in one of
three ways:

* ``run``: run to the end in a scratch folder (exit 0) - the cheap ones
  (seconds) and ``--help``; a ``--out`` under /tmp goes to the scratch folder instead;
* ``claim``: run with ``--out <an existing file>`` appended: exit 2 with the
  one line "is an existing file" shows that every option parsed and every
  input check passed (each tool claims its output folder after checking its
  input, before computing).  For the commands of a minute or more, and for
  those that other tests already run to the end (named in FULL_ELSEWHERE);
* ``make -n``: a make target, dry-run (make parses it and finds its rules).

The ``mpirun`` command is claimed serially here (the MPI tests run the solver
under mpirun).  The From-Python block is run too (about 15 s).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
FIRST_WORDS = (".venv/bin/python", ".venv/bin/fpsolve", "fpsolve", "mpirun", "make")


def _is_command(text: str) -> bool:
    """A whole command: starts with one of FIRST_WORDS and has an argument; mpirun names a script."""
    words = text.split()
    return len(words) > 1 and words[0] in FIRST_WORDS and (words[0] != "mpirun" or "scripts/" in text)

#: Run to the end here (seconds each).
RUN = {
    ".venv/bin/python scripts/solve_fp.py --T 0.01 --no-cross-diffusion",
    ".venv/bin/python scripts/theory.py --no-boundaries",
    ".venv/bin/python scripts/sample_sgd.py --walkers 2000 --time 1000",
    ".venv/bin/python scripts/theory.py --fast-directions 2 --T 0.05",
    ".venv/bin/python scripts/theory.py --fast-directions 3 --a0=1,1.2,0.8 --a2=-1,0.3,-0.8 --T 0.03",
    ".venv/bin/python scripts/make_mesh.py --T 0.01 --out /tmp/T0.01.msh",
}

#: Run to the end by other tests (claimed here): where.
FULL_ELSEWHERE = {
    ".venv/bin/python scripts/validate.py --quick": "test_outputs.py::test_readme_sequence_keeps_every_result",
    ".venv/bin/python scripts/evolve_fp.py --preset single-well --T 0.2 --start 0.5 0.2 --t-end 300":
        "test_outputs.py::test_readme_dynamics_examples_keep_each_others_results",
    ".venv/bin/python scripts/search_time.py --committor":
        "test_outputs.py::test_readme_dynamics_examples_keep_each_others_results",
    ".venv/bin/python examples/demo_default_case.py": "test_examples.py",
    ".venv/bin/python examples/demo_fem3d.py": "test_examples.py",
    ".venv/bin/python scripts/bench_montecarlo.py --quick": "test_bench.py",
    ".venv/bin/python scripts/bench_dynamics.py --quick": "test_bench.py",
    ".venv/bin/python scripts/bench_scaling.py --quick": "test_bench_scaling.py",
}


def readme_commands(text: str = README) -> list[str]:
    """Each command of the README once, in order: indented code lines (joined over
    trailing backslashes, without a trailing comment) and backticked spans."""
    found = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("    ") and _is_command(line):
            command, j = line.strip(), i
            while command.endswith("\\"):
                j += 1
                command = command[:-1] + " " + lines[j].strip()
            found.append(" ".join(shlex.split(command, comments=True)) if "#" in command else command)
    for span in re.findall(r"`([^`\n]+)`", text):
        if _is_command(span):
            found.append(span)
    return list(dict.fromkeys(found))


def _argv(command: str, tmp_path: Path) -> list[str]:
    """The command's words, with the project's interpreter, scripts and console command as absolute paths."""
    words = shlex.split(command)
    if words[:1] == ["mpirun"]:  # claimed serially: mpirun -n N python -m mpi4py SCRIPT ...
        words = words[words.index("-m") + 2:] if "-m" in words else words[3:]
        words = [sys.executable, *words]
    elif words[0] == ".venv/bin/python":
        words[0] = sys.executable
    elif words[0] in (".venv/bin/fpsolve", "fpsolve"):
        words[0] = str(Path(sys.executable).with_name("fpsolve"))
    words = [str(ROOT / w) if w.startswith(("scripts/", "examples/")) else w for w in words]
    return [str(tmp_path / Path(w).name) if w.startswith("/tmp/") else w for w in words]


def test_readme_commands_are_found_and_known():
    commands = readme_commands()
    # the sections' worked commands are all there (and nothing ran unchecked: see below)
    assert set(RUN) <= set(commands) and set(FULL_ELSEWHERE) <= set(commands), set(RUN) - set(commands)
    # every python command starts with the venv's interpreter (a bare `python` failed in a fresh clone)
    assert not re.search(r"(^|\s|`)python3? (scripts|examples)/", README)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(command, tmp_path):
    if command.startswith("make"):
        words = shlex.split(command)
        res = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return
    argv = _argv(command, tmp_path)
    if "examples/" in command:  # a demo takes no options; tests/test_examples.py runs every examples/demo_*.py
        assert command in FULL_ELSEWHERE and Path(argv[1]).is_file() and Path(argv[1]).name.startswith("demo_")
        return
    if command in RUN or "--help" in command:
        res = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        return
    (tmp_path / "notes.txt").write_text("mine")
    res = subprocess.run([*argv, "--out", "notes.txt"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "is an existing file" in lines[0], (command, res.stderr[-2000:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_readme_python_block_runs(tmp_path):
    """The From-Python block, as written (docs/model.md §1-7)."""
    after = README.split("## From Python", 1)[1].splitlines()
    start = next(i for i, line in enumerate(after) if line.startswith("    "))
    end = next(i for i in range(start, len(after)) if after[i].strip() and not after[i].startswith("    "))
    code = "\n".join(line[4:] for line in after[start:end])
    assert "import fpsolve" in code
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # the API writes nothing unless asked
