#!/usr/bin/env python3
"""Reproduce the seed's figures (S2, S3, S4, S5, phase diagram) with fpsolve's numbers.

A thin entry point: the tool is :mod:`fpsolve.cli.reproduce` (also ``fpsolve reproduce``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.reproduce import main

if __name__ == "__main__":
    main_guard(main)
