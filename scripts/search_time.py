#!/usr/bin/env python3
"""Search time of SGD in 2-D (and 3-D): the mean first-passage time from the backward equation (docs/model.md §8, §9).

A thin entry point: the tool is :mod:`fpsolve.cli.search` (also ``fpsolve search``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.search import main

if __name__ == "__main__":
    main_guard(main)
