#!/usr/bin/env python3
"""Scaling benchmark of the 3-D solve: strong and weak scaling over MPI ranks,

A thin entry point: the tool is :mod:`fpsolve.cli.bench_scaling` (also ``fpsolve bench-scaling``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.bench_scaling import main

if __name__ == "__main__":
    main_guard(main)
