"""The communicator convention of fpsolve.

Every function that can run under MPI takes ``comm``: an mpi4py
communicator, and ``None`` (the default) means ``MPI.COMM_WORLD``.  Such a
function is collective over ``comm`` (call it on every rank of ``comm``) and
returns the same result on every rank, equal to the serial one.  Pass
``MPI.COMM_SELF`` for an independent serial computation on each rank (a
parameter sweep dealt over ranks does this).  This holds for
:func:`fpsolve.fem.stationary.solve`, :func:`fpsolve.mc.ensemble.run`,
:func:`fpsolve.fem.meshfile.load` and :func:`fpsolve.validation.three_way.run_case`.
"""

from __future__ import annotations

from typing import Any


def world(comm: Any = None) -> Any:
    """``comm``, or ``MPI.COMM_WORLD`` when it is None."""
    if comm is not None:
        return comm
    from mpi4py import MPI

    return MPI.COMM_WORLD
