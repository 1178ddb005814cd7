# fpsolve: `make solve` and `make test` each install what is missing first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fpsolve-installed
NP     ?= 2
ARGS   ?=
PYTEST ?= -q

# Open MPI refuses root without these; the second pair lets -n exceed the cores
# (Open MPI 4 and 5 spell it differently).
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
export PRTE_MCA_rmaps_default_mapping_policy := :oversubscribe
# a hung rank must not hang CI: the MPI pass is capped at 30 minutes
MPIRUN := timeout 1800 mpirun -n $(NP)

.PHONY: help setup solve test test-serial test-mpi meshes bench docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: ARGS='...' (options for solve), NP=2 (MPI ranks), PYTEST='-q' (pytest options)"

$(STAMP): pyproject.toml scripts/debian-packages.txt scripts/setup.sh
	@scripts/setup.sh

setup: $(STAMP) ## install Debian packages, .venv and fpsolve (only what is missing)

solve: $(STAMP) ## solve the default case (pass options with ARGS='--T 0.01 ...')
	$(PY) scripts/solve_fp.py $(ARGS)

meshes: $(STAMP) ## regenerate the committed default meshes in meshes/
	$(PY) scripts/make_mesh.py --out meshes/double-well_T0.05.msh
	$(PY) scripts/make_mesh.py --T 0.01 --out meshes/double-well_T0.01.msh

bench: $(STAMP) ## solver benchmark table (P1/P2 x two mesh levels, default case)
	$(PY) scripts/bench_solver.py $(ARGS)

docs: $(STAMP) ## build the HTML documentation into docs/_build/html (warnings are errors)
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

test: test-serial test-mpi ## the whole test suite: serial, then MPI with NP ranks

test-serial: $(STAMP) ## serial tests (pytest -m "not mpi")
	$(PY) -m pytest $(PYTEST) -m "not mpi" tests

test-mpi: $(STAMP) ## MPI tests under mpirun -n $(NP) (pytest -m mpi)
	$(MPIRUN) tests/rank0-output.sh $(PY) -m mpi4py -m pytest $(PYTEST) -p no:cacheprovider --color=no -m mpi tests

clean: ## remove .venv, results/ and docs/_build
	rm -rf $(VENV) results .pytest_cache *.egg-info docs/_build
