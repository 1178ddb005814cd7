"""Shared test set-up: numpy raises on floating-point errors (py-pde habit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# at least two numba threads even on a one-core machine, so that the
# thread-count reproducibility test always runs (set before numba loads)
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(2, os.cpu_count() or 1)))

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _numpy_raises():
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        yield


def run_script(name: str, *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>`` with this interpreter, as a user would."""
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
