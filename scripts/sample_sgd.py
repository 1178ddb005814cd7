#!/usr/bin/env python3
"""Monte Carlo of SGD (or of its SDE) on the loss landscape (docs/model.md §2-3).

A thin entry point: the tool is :mod:`fpsolve.cli.sample` (also ``fpsolve sample``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.sample import main

if __name__ == "__main__":
    main_guard(main)
