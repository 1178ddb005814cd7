# fpsolve on Debian 13: DOLFINx 0.9, PETSc/SLEPc, Open MPI 5, all from Debian.
#   docker build -t fpsolve .
#   docker run --rm -v "$PWD/results:/results" fpsolve                      # default case, 2 ranks
#   docker run --rm -v "$PWD/results:/results" fpsolve \
#       mpirun -n 8 python -m mpi4py scripts/solve_fp.py --out /results/n8  # more ranks
# scripts/container-build.sh builds and tests it with podman/buildah (no Docker engine needed).
FROM debian:trixie-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_rmaps_base_oversubscribe=1 \
    PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe

# Packages first, so that editing the code does not invalidate this layer.
COPY scripts/debian-packages.txt /tmp/debian-packages.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(sed 's/#.*//' /tmp/debian-packages.txt) \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/fpsolve
COPY . .
# .venv with --system-site-packages (sees Debian's DOLFINx), fpsolve editable, --no-deps.
RUN make setup

ENV PATH=/opt/fpsolve/.venv/bin:$PATH
CMD ["mpirun", "-n", "2", "python", "-m", "mpi4py", "scripts/solve_fp.py", "--out", "/results/default"]
