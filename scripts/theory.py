#!/usr/bin/env python3
"""Closed-form predictions of adiabatic elimination for one case (docs/model.md §5).

A thin entry point: the tool is :mod:`fpsolve.cli.theory` (also ``fpsolve theory``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.theory import main

if __name__ == "__main__":
    main_guard(main)
