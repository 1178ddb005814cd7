#!/usr/bin/env python3
"""Speed and memory of the Monte Carlo samplers (fpsolve.mc.ensemble).

A thin entry point: the tool is :mod:`fpsolve.cli.bench_montecarlo` (also ``fpsolve bench-montecarlo``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.bench_montecarlo import main

if __name__ == "__main__":
    main_guard(main)
