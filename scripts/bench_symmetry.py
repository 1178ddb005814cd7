#!/usr/bin/env python3
"""Benchmark of symmetric models (docs/model.md §7 "Symmetries")

A thin entry point: the tool is :mod:`fpsolve.cli.bench_symmetry` (also ``fpsolve bench-symmetry``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.bench_symmetry import main

if __name__ == "__main__":
    main_guard(main)
