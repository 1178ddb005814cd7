#!/usr/bin/env bash
# Install what fpsolve needs and is missing, then nothing on later runs:
#  1. the Debian packages of scripts/debian-packages.txt (apt-get, as root);
#  2. .venv, made by Debian's python with --system-site-packages so that it
#     sees DOLFINx, PETSc, MPI and numpy from Debian (never from pip);
#  3. fpsolve itself, editable, with --no-deps --no-build-isolation (offline).
# `make` calls this only when .venv/.fpsolve-installed is older than its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

missing=()
for p in $(sed 's/#.*//' scripts/debian-packages.txt); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv (Debian python, --system-site-packages)" >&2
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
echo "setup: installing fpsolve into .venv (editable, --no-deps)" >&2
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/python -c "import dolfinx, fpsolve; print('setup: fpsolve', fpsolve.__version__, 'with DOLFINx', dolfinx.__version__)" >&2
# bytecode now, so that no later run (a refused one included) writes into the checkout
.venv/bin/python -m compileall -q fpsolve
touch .venv/.fpsolve-installed
