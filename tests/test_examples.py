"""Every ``examples/demo_*.py`` runs as a user runs it and passes its own
closing asserts (numbers against exact or converged values): serially as
``python examples/demo_x.py`` (exit 0), and, for the demos that set a
module-level ``RUN_UNDER_MPI = True``, on every rank of the MPI pass of
``make test`` (``mpirun -n 2 python -m mpi4py -m pytest -m mpi``), where
the demo's collective calls use MPI.COMM_WORLD."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DEMOS = sorted((ROOT / "examples").glob("demo_*.py"))
MPI_FLAG = re.compile(r"^RUN_UNDER_MPI\s*=\s*True\s*$", re.M)


def _runs_under_mpi(path: Path) -> bool:
    return bool(MPI_FLAG.search(path.read_text()))


def test_there_are_demos():
    assert len(DEMOS) >= 4 and any(_runs_under_mpi(p) for p in DEMOS)


@pytest.mark.parametrize("demo", DEMOS, ids=[p.stem for p in DEMOS])
def test_demo_runs_as_a_script(demo, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, str(demo)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-4000:])
    assert not list(tmp_path.iterdir()), "a demo writes nothing into the working directory"


@pytest.mark.mpi
@pytest.mark.parametrize("demo", [p for p in DEMOS if _runs_under_mpi(p)],
                         ids=[p.stem for p in DEMOS if _runs_under_mpi(p)])
def test_demo_runs_on_every_rank(demo):
    from mpi4py import MPI

    assert MPI.COMM_WORLD.size >= 2, "run under mpirun -n 2"
    runpy.run_path(str(demo), run_name="__main__")  # its asserts run on every rank
