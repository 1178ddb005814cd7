"""Compilation caches that survive a read-only HOME or ``~/.cache``.

DOLFINx/FFCx (``$XDG_CACHE_HOME/fenics``) and numba (beside the sources,
else ``$XDG_CACHE_HOME/numba``) cache compiled code; when none of their
folders is writable the cache moves to ``<tmp>/<name>-cache-<uid>`` and one
line on stderr (rank 0) names the cause.  When that is not writable either,
InputError names both folders (exit 2 in the scripts).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

from fpsolve.tools.errors import InputError


def unwritable(folder: Path) -> Optional[str]:
    """None if files can be created in ``folder`` (made if missing), else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


def _rank0() -> bool:
    """Rank 0 of an MPI job (from the launcher's environment, no MPI import)."""
    return all(os.environ.get(v, "0") == "0" for v in ("OMPI_COMM_WORLD_RANK", "PMI_RANK"))


def fallback(name: str, wanted: Path, problem: str) -> Path:
    """The temporary cache folder for ``name`` when ``wanted`` is not writable
    (says so on stderr, rank 0); raises InputError when it is not writable either."""
    folder = Path(tempfile.gettempdir()) / f"{name}-cache-{os.getuid()}"
    second = unwritable(folder)
    if second is not None:

        raise InputError(f"no writable {name} cache: {wanted} ({problem}) nor {folder} ({second}); "
                         "set XDG_CACHE_HOME to a writable folder")
    if _rank0():
        sys.stderr.write(f"fpsolve: {name} cache {wanted} is not writable ({problem}); using {folder}\n")
    return folder


def prepare_numba_cache(source: str) -> None:
    """Before ``@numba.njit(cache=True)`` functions of ``source`` are defined:
    if neither numba's in-tree cache (``__pycache__`` beside ``source``) nor
    its user-wide one is writable, point ``numba.config.CACHE_DIR`` at the
    fallback (numba itself would raise "no locator available")."""
    import numba

    if numba.config.CACHE_DIR:
        return
    if unwritable(Path(source).resolve().parent / "__pycache__") is None:
        return
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    user = Path(base) / "numba"
    problem = unwritable(user)
    if problem is not None:
        numba.config.CACHE_DIR = str(fallback("numba", user, problem))
