"""Writing results: atomic output folders and files, provenance.

A run writes into a hidden temporary sibling of its output folder and renames
it into place only when everything is written, so a failed run leaves no
folder (and an earlier result of the same name stays intact until then).
Under MPI, rank 0 owns the renames; every rank learns the temporary path.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _bcast(comm: Any, value: Any) -> Any:
    return value if comm is None else comm.bcast(value, root=0)


@contextlib.contextmanager
def atomic_output_dir(final: str | os.PathLike, comm: Any = None) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``final`` on clean exit.

    On an exception the temporary folder is removed and ``final`` is left as
    it was.  ``comm`` (an mpi4py communicator or None) makes it collective.
    """
    final = Path(final).absolute()
    rank = 0 if comm is None else comm.rank
    tmp = None
    if rank == 0:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    tmp = Path(_bcast(comm, tmp))
    ok = False
    try:
        yield tmp
        ok = True
    finally:
        if comm is not None:
            # every rank must have finished writing before rank 0 renames
            ok = comm.allreduce(ok, op=_land(comm))
        if rank == 0:
            if ok:
                _replace_dir(tmp, final)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        if comm is not None:
            comm.barrier()


def _land(comm: Any) -> Any:
    from mpi4py import MPI

    return MPI.LAND


def _replace_dir(src: Path, dst: Path) -> None:
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.rename(dst, old / "x")
    os.rename(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it on clean exit.

    For writers that take a file name (gmsh, numpy); ``suffix`` keeps an
    extension such writers look at.  On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        # mkstemp makes 0600 files; results are ordinary files (0666 less umask)
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Atomically write ``data`` as indented JSON (numpy scalars allowed)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def versions() -> dict:
    """Versions of fpsolve and the stack that produced a result."""
    from . import __version__

    out = {"fpsolve": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "dolfinx", "ufl", "basix", "petsc4py", "slepc4py", "mpi4py", "gmsh", "numba"):
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", "unknown")
        except Exception as exc:  # noqa: BLE001 - an optional package may be absent
            if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C inside an import is no absence
                raise KeyboardInterrupt from exc
            continue
    try:
        from petsc4py import PETSc

        out["petsc"] = ".".join(str(v) for v in PETSc.Sys.getVersion())
    except Exception:  # noqa: BLE001
        pass
    try:
        with open("/etc/debian_version") as f:
            out["debian"] = f.read().strip()
    except OSError:
        pass
    return out
