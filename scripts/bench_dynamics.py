#!/usr/bin/env python3
"""Benchmark of the dynamics (docs/model.md §8): a fixed-step transient of N steps

A thin entry point: the tool is :mod:`fpsolve.cli.bench_dynamics` (also ``fpsolve bench-dynamics``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.bench_dynamics import main

if __name__ == "__main__":
    main_guard(main)
