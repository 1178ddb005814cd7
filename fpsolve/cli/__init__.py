"""The command-line tools' mains (one module per tool) and their shared options.

Ctrl-C while a tool is still importing (numpy, sympy: a second or more on a
loaded machine) happens before :func:`fpsolve.cli.common.main_guard` is in
place; until then this handler ends the run as the guard does: exit status
130 and one line.  It is installed only when a script or ``fpsolve`` is the
program being run, never for a library user who imports a main.
"""

import os
import signal
import sys


def _interrupted_while_importing(signum, frame):  # noqa: ARG001  (signal handler signature)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "fpsolve"
    sys.stderr.write(f"{prog}: interrupted (Ctrl-C)\n")
    sys.stderr.flush()
    os._exit(130)


_main = sys.modules.get("__main__")
_path = getattr(_main, "__file__", "") or ""
if os.path.basename(os.path.dirname(os.path.abspath(_path))) == "scripts" or os.path.basename(_path) == "fpsolve" \
        or (_path.endswith("__main__.py") and "fpsolve" in _path):
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_importing)
