"""Shared test set-up: numpy raises on floating-point errors (py-pde habit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

# at least two numba threads even on a one-core machine, so that the
# thread-count reproducibility test always runs (set before numba loads)
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(2, os.cpu_count() or 1)))

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Converged principal eigenvalue of the single-well preset at T = 0.2,
#: α = 0.05, R = 2 (cross-diffusion → λ0): the adaptive loop at tol 1e-4
#: (65 k dofs, estimates 3.8e-5 / 8.2e-5) and the graded mesh x3 (1.59717e-3)
#: agree to 1e-4.
SINGLE_WELL_LAMBDA0 = {True: 1.59704e-3, False: 6.52325e-4}


@pytest.fixture(autouse=True)
def _numpy_raises():
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        yield


def assert_refused(name: str, args: Sequence[str], words: str, tmp_path: Path) -> None:
    """``scripts/<name> ARGS --out tmp_path/case`` exits 2 with one line on stderr holding
    ``words`` and writes nothing (the rule for bad input, README)."""
    res = run_script(name, *args, "--out", str(tmp_path / "case"))
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def run_script(name: str, *args: str, cwd: Path | None = None, timeout: float = 600,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>`` with this interpreter, as a user would (``env``: the environment)."""
    env = dict(os.environ) if env is None else env
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def run_script_mpi(name: str, *args: str, ranks: int = 2, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>`` under ``mpirun -n ranks python -m mpi4py`` (as root and
    oversubscribed where the machine has fewer cores); pytest fails when mpirun is missing."""
    import shutil

    exe = shutil.which("mpirun")
    assert exe is not None, "mpirun is a test dependency (openmpi-bin)"
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
    return subprocess.run([exe, "-n", str(ranks), sys.executable, "-m", "mpi4py", str(ROOT / "scripts" / name),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
