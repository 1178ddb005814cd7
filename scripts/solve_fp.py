#!/usr/bin/env python3
"""Stationary Fokker-Planck density of SGD on the disk (docs/model.md §4), by FEM.

A thin entry point: the tool is :mod:`fpsolve.cli.solve` (also ``fpsolve solve``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.solve import main

if __name__ == "__main__":
    main_guard(main)
