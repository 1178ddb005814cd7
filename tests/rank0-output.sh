#!/bin/sh
# MPI test launcher: rank 0 reports on the terminal; the other ranks keep their
# pytest output in a temporary log, shown only when that rank fails, so the
# closing "N passed" line is printed once and not interleaved.
#   mpirun -n 2 tests/rank0-output.sh python -m mpi4py -m pytest -m mpi tests
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}
[ "$rank" = 0 ] && exec "$@"
log=$(mktemp)
"$@" >"$log" 2>&1
rc=$?
[ $rc -ne 0 ] && { echo "---- rank $rank output (exit $rc) ----"; cat "$log"; }
rm -f "$log"
exit $rc
