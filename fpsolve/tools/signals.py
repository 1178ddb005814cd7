"""Ctrl-C stays a KeyboardInterrupt: a guard against libraries that reset
SIGINT (gmsh 4.8 sets it to SIG_DFL when imported, and so does
``dolfinx.io.gmshio``, which imports gmsh), after which Ctrl-C would kill the
process silently instead of letting it say one line and exit 130."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def keep_sigint_handler() -> Iterator[None]:
    """Within the block, ``signal.signal(SIGINT, ...)`` leaves the current
    handler in place (and returns it).  Replacing the handler only after the
    import, or blocking SIGINT during it, is not enough: a signal sent to the
    process goes to any thread that does not block it (BLAS's, numba's),
    which would then apply SIG_DFL.  A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    original = signal.signal

    def keep_sigint(signum, handler):
        if signum == signal.SIGINT:
            return signal.getsignal(signal.SIGINT)
        return original(signum, handler)

    keep_sigint.__wrapped__ = original  # what deferred_sigint installs its handler with
    signal.signal = keep_sigint
    try:
        yield
    finally:
        signal.signal = original


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold Ctrl-C within the block and raise KeyboardInterrupt when it
    ends: for imports of compiled modules that cannot take a Python
    exception in their initialisation (DOLFINx 0.9: a KeyboardInterrupt
    raised while ``dolfinx.cpp`` initialises becomes a C++ exception and
    aborts the process, exit −6).  A handler that only records the signal
    runs instead; a no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    # the real setter: under keep_sigint_handler (cli.main_guard) signal.signal
    # leaves SIGINT alone, and this handler would silently not be installed
    setter = getattr(signal.signal, "__wrapped__", signal.signal)
    previous = setter(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        setter(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def import_fem_stack() -> None:
    """Import DOLFINx (with basix, UFL, FFCx and its PETSc layer) with
    Ctrl-C held (:func:`deferred_sigint`); the FEM scripts call it before
    their work, so an interrupt during these imports is exit 130 too."""
    with deferred_sigint():
        import basix  # noqa: F401
        import dolfinx.fem.petsc  # noqa: F401
        import ufl  # noqa: F401
