#!/usr/bin/env python3
"""The density of SGD in time: the transient Fokker-Planck equation (docs/model.md §8).

A thin entry point: the tool is :mod:`fpsolve.cli.evolve` (also ``fpsolve evolve``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.evolve import main

if __name__ == "__main__":
    main_guard(main)
