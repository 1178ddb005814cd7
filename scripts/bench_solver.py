#!/usr/bin/env python3
"""Benchmark of the FEM solver: dofs, mesh/assemble/solve seconds and the L1

A thin entry point: the tool is :mod:`fpsolve.cli.bench_solver` (also ``fpsolve bench-solver``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.bench_solver import main

if __name__ == "__main__":
    main_guard(main)
