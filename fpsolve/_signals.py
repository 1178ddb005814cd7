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

    signal.signal = keep_sigint
    try:
        yield
    finally:
        signal.signal = original

