#!/usr/bin/env python3
"""Three-way validation of one case: FEM vs closed forms vs Monte Carlo.

A thin entry point: the tool is :mod:`fpsolve.cli.validate` (also ``fpsolve validate``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.validate import main

if __name__ == "__main__":
    main_guard(main)
