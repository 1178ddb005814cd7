"""Writing results: one folder per tool, replaced atomically, never anyone else's.

Layout (README, *Where results go*): ``results/<case>/<tool>/`` with ``tool``
one of ``fem``, ``theory``, ``montecarlo-<method>``, ``validate``, ... Each
result folder holds the marker file :data:`MARKER`, written by this module: it
names the tool and lists every file the run wrote with its size and SHA-256.
A command may replace a folder only when each entry in it is such a listed,
unchanged file: a file the user put there (notes, a subfolder, an edited
result), a folder without a current marker (a source tree, ``~/.ssh``, a
result of an fpsolve older than the listing) is never deleted, with or without
``--overwrite``; :func:`claim_output` refuses it before any computation, naming
the first foreign entry.  ``--overwrite`` only lets one tool replace another
tool's (listed, unchanged) result.

A run writes into a hidden sibling ``.<name>.fpsolve-tmp-<pid>-<random>`` and
swaps it into place in one atomic step (``renameat2(RENAME_EXCHANGE)`` on
Linux), so at every instant the path holds either the complete old result or
the complete new one.  The old result is then removed file by file, only the
listed unchanged files; anything else found there (a file dropped in during
the run) is kept in a visible ``<name>.kept-<time>`` folder.  Siblings left by
a killed run (their process is gone) are removed by the next run into the
same parent.  Under MPI, rank 0 owns the file-system operations and every rank
learns their outcome.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import errno
import hashlib
import json
import math
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from fpsolve import __version__
from fpsolve.tools.errors import InputError
from fpsolve.tools.record import Record


#: Marker file inside every result folder an fpsolve command writes.
MARKER = ".fpsolve-result.json"
#: Where results go by default: ``RESULTS_ROOT / <case> / <tool>``.
RESULTS_ROOT = Path("results")

_TMP_TAG = ".fpsolve-tmp-"


class OutputError(InputError):
    """An output path that must not or cannot be written; the message is one line."""


def default_out(case: str, tool: str) -> Path:
    """The default result folder of ``tool`` for ``case``: ``results/<case>/<tool>``."""
    return RESULTS_ROOT / case / tool


def _bcast(comm: Any, value: Any) -> Any:
    return value if comm is None or comm.size == 1 else comm.bcast(value, root=0)


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The marker of an fpsolve result folder, or None when there is none."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "tool" in data else None


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(folder: str | os.PathLike) -> dict[str, dict]:
    """Every regular file below ``folder`` but the marker: relative path -> size and SHA-256."""
    folder = Path(folder)
    listing = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if rel != MARKER and path.is_file() and not path.is_symlink():
                listing[rel] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return listing


def foreign_entries(folder: str | os.PathLike, marker: dict | None = None) -> list[str]:
    """Entries below ``folder`` that its marker does not list as written and unchanged.

    A folder without a marker that lists its files (no marker, another
    program's file, an older fpsolve's marker) has every entry foreign.
    Returns relative paths, sorted; a foreign folder stands for its contents.
    """
    folder = Path(folder)
    marker = read_marker(folder) if marker is None else marker
    listed = marker.get("files") if marker is not None else None
    if not isinstance(listed, dict):
        return sorted(p.name for p in folder.iterdir() if p.name != MARKER or marker is None)
    keep_dirs = {Path(rel).parent.as_posix() for rel in listed}
    keep_dirs |= {parent.as_posix() for rel in listed for parent in Path(rel).parents}
    foreign = []
    for dirpath, dirs, files in os.walk(folder):
        here = Path(dirpath)
        for name in list(dirs):
            rel = (here / name).relative_to(folder).as_posix()
            if (here / name).is_symlink() or rel not in keep_dirs:
                foreign.append(rel)
                dirs.remove(name)
        for name in files:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if rel == MARKER:
                continue
            entry = listed.get(rel)
            if (entry is None or path.is_symlink() or not path.is_file()
                    or path.stat().st_size != entry.get("size") or file_sha256(path) != entry.get("sha256")):
                foreign.append(rel)
    return sorted(foreign)


def _name_refusal(path: Path) -> str | None:
    """Why the names a run makes at ``path`` would be too long for the file
    system (ENAMETOOLONG after the whole computation), or None.  The
    temporary sibling ``.<name>.fpsolve-tmp-<pid>-<random>-old`` is the longest."""
    anchor = path.parent
    while True:  # the nearest folder that exists (a too-long part raises)
        try:
            if anchor.is_dir():
                break
        except OSError:
            pass
        anchor = anchor.parent
    try:
        name_max, path_max = os.pathconf(anchor, "PC_NAME_MAX"), os.pathconf(anchor, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    extra = len(f".{_TMP_TAG}4194304-12345678-old")
    short = str(path) if len(str(path)) <= 80 else f"{str(path)[:60]}...{str(path)[-15:]}"
    for part in path.parts[:-1]:
        if len(os.fsencode(part)) > name_max:
            return f"--out {short}: a folder name of {len(os.fsencode(part))} bytes, above the file system's {name_max}"
    size = len(os.fsencode(path.name))
    if size + extra > name_max:
        return (f"--out {short}: its last name has {size} bytes; at most {name_max - extra} (the file system's "
                f"{name_max} less {extra} for the temporary folder a run writes first)")
    if len(os.fsencode(str(path))) + extra > path_max:
        return f"--out {short}: the path is longer than the file system's {path_max} bytes allow"
    return None


def _refusal(path: Path, tool: str, overwrite: bool, contents: bool = True) -> str | None:
    """Why ``tool`` may not write ``path`` (None: it may), checked on one rank.
    ``contents=False`` leaves out what the folder holds (foreign files,
    another tool's result): :func:`atomic_output_dir` judges that when the
    result is complete, and keeps the result beside the folder then."""
    too_long = _name_refusal(path)
    if too_long is not None:
        return too_long
    if path.is_symlink():
        return f"--out {path} is a symbolic link; give a folder path"
    if path.exists():
        if not path.is_dir():
            return f"--out {path} is an existing file, not a result folder of {tool}"
        if os.path.ismount(path):
            # the result is swapped in by renaming, which a mount point refuses
            # (EBUSY after the whole computation, the result left hidden beside it)
            return f"--out {path} is a mount point; give a folder inside it"
        cwd = Path.cwd().resolve()
        real = path.resolve()
        if real == cwd or real in cwd.parents or real == Path.home().resolve():
            return f"--out {path} is the working directory, one above it, or HOME; give a folder of its own"
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            return f"--out {path} cannot be read: {exc.strerror}"
        if not empty and contents:
            marker = read_marker(path)
            foreign = foreign_entries(path, marker)
            if foreign:
                more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
                return (f"--out {path} holds {foreign[0]!r}{more}: files fpsolve did not write (or changed "
                        "since); fpsolve never deletes them, --overwrite or not: move them away or choose "
                        "another --out")
            if marker.get("tool") != tool and not overwrite:
                return (f"--out {path} holds a {marker.get('tool')} result; choose a new folder, "
                        f"or pass --overwrite to replace it by this {tool} result")
    return _cannot_create(path)


def _cannot_create(path: Path) -> str | None:
    """Why ``path`` cannot be made or replaced in its folder (None: it can):
    the first ancestor that exists must be a folder something can be made in."""
    parent = path.parent
    if not path.exists():
        while not parent.exists() and not parent.is_symlink():
            parent = parent.parent
        if not parent.is_dir():
            return f"--out {path} cannot be created: {parent} is not a folder"
    problem = _cannot_write_in(parent)
    if problem is not None:
        return f"--out {path} cannot be written: {problem} in {parent}"
    return None


def _cannot_write_in(folder: Path) -> str | None:
    """Why no folder can be made in ``folder`` (None: one can), by making and
    removing one: permissions alone miss /proc and /sys, where root may
    write by the bits yet nothing can be created (a traceback after the whole
    computation before)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return "no write permission"
    try:
        # named like a temporary result folder: a kill between here and rmdir leaves
        # one that the next run cleans (clean_stale)
        probe = tempfile.mkdtemp(prefix=f".probe{_TMP_TAG}{os.getpid()}-", dir=folder)
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    with contextlib.suppress(OSError):
        os.rmdir(probe)
    return None


def claim_output(path: str | os.PathLike, tool: str, overwrite: bool = False, comm: Any = None, *,
                 contents: bool = True) -> Path:
    """Check, before any computation, that ``tool`` may write its result at ``path``.

    Allowed: a path that does not exist yet (and can be created), an empty
    folder, or a folder holding an earlier result of the same ``tool`` in
    which every entry is a file its :data:`MARKER` lists, unchanged.
    ``overwrite=True`` also allows another tool's result of that kind; a
    folder with any other entry is refused whatever ``overwrite`` says, as are
    the working directory, its parents and HOME.
    Collective under MPI (``comm``): rank 0 decides, every rank raises alike.
    ``contents=False``: leave out what the folder holds, for a check after the
    computation (a writer the tool claimed for before it): a file dropped into
    the old result meanwhile then sends the new result beside it, to
    ``DIR.new-<time>`` (:func:`atomic_output_dir`), instead of losing it.

    Returns the absolute path.  Raises :class:`OutputError` (one line naming
    the path and the reason).
    """
    path = Path(path).absolute()
    rank = 0 if comm is None else comm.rank
    reason = _refusal(path, tool, overwrite, contents) if rank == 0 else None
    reason = _bcast(comm, reason)
    if reason is not None:
        raise OutputError(reason)
    return path


def claim_file(path: str | os.PathLike, is_ours: Any) -> Path:
    """Check, before any computation, that a command may write the file ``path``.

    Allowed: a new file in a folder that exists or can be created, or an
    existing file for which ``is_ours(path)`` says this command wrote it.
    There is no override: a file the command did not write is never
    replaced.  Raises :class:`OutputError`.
    """
    path = Path(path).absolute()
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputError(f"--out {path} exists and is not a regular file")
    if path.exists() and not is_ours(path):
        raise OutputError(f"--out {path} exists and was not written by this command; "
                          "fpsolve never replaces such a file: choose a new name")
    reason = _cannot_create(path)
    if reason is not None:
        raise OutputError(reason)
    return path


def _pid_started_after(pid: int, when: float) -> bool | None:
    """Whether process ``pid`` started after time ``when`` (None: unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        boot = time.time() - uptime
        return boot + start_ticks / os.sysconf("SC_CLK_TCK") > when + 1.0
    except (OSError, ValueError, IndexError):
        return None


def _is_stale(entry: Path) -> bool:
    """A temporary sibling whose writer is gone (dead PID, or a PID reused since)."""
    match = re.search(re.escape(_TMP_TAG) + r"(\d+)-", entry.name)
    if match is None:
        return False
    pid = int(match.group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        made = entry.lstat().st_mtime
    except OSError:
        return False
    return bool(_pid_started_after(pid, made))


def clean_stale(parent: str | os.PathLike) -> list[Path]:
    """Remove temporary folders in ``parent`` left by killed runs of any tool; return them.

    Only folders this module made count (:func:`_made_here`): a killed run's
    partial result (all its own), or an old result swapped out just before
    the kill (only its listed files are removed; anything else is kept, see
    :func:`_remove_result`).
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(parent).iterdir():
            # any tool's: a killed evolve run's leftover goes with the next sample run beside it
            if (entry.name.startswith(".") and _TMP_TAG in entry.name and entry.is_dir() and not entry.is_symlink()
                    and _made_here(entry) and _is_stale(entry)):
                _remove_result(entry)
                removed.append(entry)
    return removed


def _made_here(folder: Path) -> bool:
    """Whether a temporary sibling is :func:`atomic_output_dir`'s: it holds the
    marker, or was killed before writing it (empty, or a torn marker only)."""
    return read_marker(folder) is not None or {p.name for p in folder.iterdir()} <= {MARKER}


def _remove_result(folder: Path) -> Path | None:
    """Delete a result folder of this module's: its listed, unchanged files.

    A marker without a listing belongs to a run that never finished (the
    folder was made by :func:`atomic_output_dir` and only that run wrote
    into it): removed whole.  Anything foreign is kept, the folder renamed to
    a visible ``<name>.kept-<time>`` beside it; its path is returned.
    """
    marker = read_marker(folder)
    if marker is None or not isinstance(marker.get("files"), dict):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    foreign = set(foreign_entries(folder, marker))
    for rel in marker["files"]:
        if rel not in foreign:
            with contextlib.suppress(OSError):
                (folder / rel).unlink()
    for dirpath, _dirs, _files in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            if Path(dirpath) != folder:
                Path(dirpath).rmdir()
    if not foreign:
        with contextlib.suppress(OSError):
            (folder / MARKER).unlink()
            folder.rmdir()
        return None
    base = folder.name.split(_TMP_TAG)[0].lstrip(".") or "result"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = folder.with_name(f"{base}.kept-{stamp}-{os.getpid()}")
    os.rename(folder, kept)
    import sys

    sys.stderr.write(f"warning: files that fpsolve did not write appeared in the old result during the run; "
                     f"kept in {kept}\n")
    return kept


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
    return func


def exchange(a: str | os.PathLike, b: str | os.PathLike) -> None:
    """Swap two existing paths in one atomic step (Linux ``renameat2``).

    Raises OSError where the kernel, C library or file system cannot do it
    (ENOSYS, EINVAL); callers then fall back to two renames.
    """
    func = _renameat2()
    if func is None:
        raise OSError(errno.ENOSYS, "renameat2 not in the C library")
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def _replace_dir(src: Path, dst: Path) -> None:
    """Put ``src`` at ``dst``; an old ``dst`` is swapped out atomically and removed."""
    if not dst.exists():
        os.rename(src, dst)
        return
    try:
        exchange(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        # no atomic exchange on this file system: old aside, new in (two steps)
        aside = src.with_name(src.name + "-old")
        os.rename(dst, aside)
        os.rename(src, dst)
        src = aside
    _remove_result(src)  # now the old result


def _write_marker(folder: Path, tool: str, files: dict | None = None) -> None:
    """The marker; ``files`` (from :func:`list_files`) is added when the run has written them all."""

    record = {"tool": tool, "fpsolve": __version__, "pid": os.getpid(),
              "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if files is not None:
        record["files"] = files
    (folder / MARKER).write_text(json.dumps(record, indent=1) + "\n")


@contextlib.contextmanager
def atomic_output_dir(final: str | os.PathLike, comm: Any = None, tool: str = "fpsolve",
                      overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``final`` on clean exit.

    ``final`` must be claimable by ``tool`` (see :func:`claim_output`; checked
    again here, so a library caller gets the same protection).  The folder
    gets the marker :data:`MARKER`.  On an exception the temporary folder is
    removed and ``final`` is left as it was.  ``comm`` (an mpi4py
    communicator or None) makes it collective: rank 0 owns the folder, every
    rank must leave the block before it is swapped in, and an exception on
    one rank ends all ranks (``Abort``): the others may wait in a collective
    write forever otherwise.

    Raises :class:`OutputError` when ``final`` may not be written.
    """
    final = Path(final).absolute()
    rank = 0 if comm is None else comm.rank
    reason = _refusal(final, tool, overwrite, contents=False) if rank == 0 else None
    reason = _bcast(comm, reason)
    if reason is not None:
        raise OutputError(reason)
    tmp = None
    made: list[Path] = []  # the folders above ``final`` this call creates, deepest first: removed again on failure
    if rank == 0:
        above = final.parent
        while not above.exists() and not above.is_symlink():
            made.append(above)
            above = above.parent
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(final.parent)
        tmp = tempfile.mkdtemp(prefix=f".{final.name}{_TMP_TAG}{os.getpid()}-", dir=final.parent)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        _write_marker(Path(tmp), tool)
    tmp = Path(_bcast(comm, tmp))
    parallel = comm is not None and comm.size > 1
    try:
        yield tmp
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if rank == 0:
            _remove_empty(made)  # e.g. results/<case>/ of an interrupted run: a failed run writes nothing
        if parallel:
            # the other ranks may be inside a collective write (HDF5) that
            # will never complete: end them all rather than hang
            _abort(comm, exc)
        raise
    if parallel:
        comm.barrier()  # every rank has finished writing before rank 0 swaps
    late = None
    if rank == 0:
        _write_marker(tmp, tool, list_files(tmp))
        # the user may have put a file into the old result while we computed
        late = _refusal(final, tool, overwrite)
        if late is None:
            _replace_dir(tmp, final)
        else:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            aside = final.with_name(f"{final.name}.new-{stamp}-{os.getpid()}")
            os.rename(tmp, aside)
            late = f"{late.split(';')[0]}, found when the result was written; the new result is in {aside}"
    late = _bcast(comm, late)
    if late is not None:
        raise OutputError(late)


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty; stop at the first one that is not."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _abort(comm: Any, exc: BaseException) -> None:
    """End every rank of ``comm`` after a failure on this one (one line on stderr)."""
    import sys

    sys.stderr.write(f"error on rank {comm.rank} while writing results: {type(exc).__name__}: {exc}; "
                     "ending all ranks\n")
    sys.stderr.flush()
    comm.Abort(1)


#: errno values of a file system that has no room left (one line, not a traceback).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def hdf5_errors(path: str | os.PathLike) -> Iterator[None]:
    """Hold stderr (file descriptor 2) in memory while HDF5 writes ``path``.

    On a full disk HDF5 prints its error stack (63 lines) before DOLFINx
    raises a RuntimeError that does not say why; the held text names the
    errno, so that failure becomes ``OSError(ENOSPC)`` (one line from
    :func:`fpsolve.cli.main_guard`).  Any other outcome passes the held text
    on to stderr unchanged.
    """
    import sys

    sys.stderr.flush()
    held = os.memfd_create("fpsolve-stderr")  # in memory: the disk may be full
    saved = os.dup(2)
    os.dup2(held, 2)
    failed = None
    try:
        yield
    except RuntimeError as exc:
        failed = exc
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.lseek(held, 0, os.SEEK_SET)
        with os.fdopen(held, "rb") as f:
            text = f.read()
    if failed is not None and re.search(rb"errno = (%d|%d)\b" % DISK_FULL, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
    if text:
        os.write(2, text)
    if failed is not None:
        raise failed


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


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf; numpy's too) as
    None, numpy scalars and arrays as Python numbers and lists: what strict
    JSON (RFC 8259) can hold; a typed summary (:class:`~fpsolve.tools.record.Record`) as its dict."""
    if isinstance(value, Record):
        return _strict(value.as_dict())
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if type(value).__module__ == "numpy":
        return _strict(_jsonable(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Atomically write ``data`` as indented, strict JSON: numpy scalars and
    arrays allowed, non-finite floats (NaN, ±inf: "not defined here", e.g. a
    custom model's flatness) written as ``null``, which every JSON reader
    accepts (a bare NaN is not JSON)."""
    text = json.dumps(_strict(data), indent=2, sort_keys=False, default=_jsonable, allow_nan=False)
    write_text_atomic(path, text + "\n")


#: Distribution names of the stack's modules where they differ (importlib.metadata).
_DISTRIBUTIONS = {"dolfinx": "fenics-dolfinx", "ufl": "fenics-ufl", "basix": "fenics-basix"}


def versions() -> dict:
    """Versions of fpsolve and the stack that produced a result: a loaded
    module's ``__version__``, else its installed distribution's version
    (importing numba or gmsh only to read a version cost 0.3 s of a run that
    does not use them); a module neither loaded nor installed is left out."""
    import importlib.metadata
    import sys


    out = {"fpsolve": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "dolfinx", "ufl", "basix", "petsc4py", "slepc4py", "mpi4py", "gmsh", "numba"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "unknown")
            continue
        try:
            out[name] = importlib.metadata.version(_DISTRIBUTIONS.get(name, name))
        except importlib.metadata.PackageNotFoundError:
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
