"""Map gmsh's shared library in a background thread while the main thread
imports mpi4py, DOLFINx and PETSc (issue 11: a user's wait).

Mapping and relocating libgmsh takes about 0.3-0.4 s and ``dlopen`` runs
without the GIL, so it overlaps the main thread's imports; the later
``import gmsh`` finds the library mapped.  The thread imports no Python
module (everything it needs is imported before it starts): a thread that
imported modules (matplotlib was tried) could hold a module lock when
Ctrl-C ended the main thread mid-import, and the exit then hung.  Only in
serial runs: under mpirun the ranks already share the cores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import threading
from typing import Optional


_MPI_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


def _gmsh_library() -> Optional[str]:
    """Where gmsh.py will load its library from (it looks next to itself,
    then asks the dynamic linker); None without gmsh."""
    spec = importlib.util.find_spec("gmsh")
    if spec is None or not spec.origin:
        return None
    candidate = os.path.join(os.path.dirname(os.path.realpath(spec.origin)), "libgmsh.so")
    return candidate if os.path.exists(candidate) else "gmsh"


def _load(path: str) -> None:
    try:
        if path == "gmsh":
            path = ctypes.util.find_library("gmsh")  # runs ldconfig: no import
        if path:
            ctypes.CDLL(path)  # the same handle gmsh.py's CDLL gets later
    except Exception:  # noqa: BLE001 - a head start only: gmsh.py loads (and reports) as usual
        pass


def start() -> Optional[threading.Thread]:
    """Start mapping gmsh's library in a daemon thread, in a serial run;
    None under an MPI launcher, without gmsh, or when FPSOLVE_NO_PRELOAD
    is set."""
    if os.environ.get("FPSOLVE_NO_PRELOAD") or any(k in os.environ for k in _MPI_ENV):
        return None
    path = _gmsh_library()
    if path is None:
        return None
    thread = threading.Thread(target=_load, args=(path,), name="fpsolve-preload", daemon=True)
    thread.start()
    return thread
