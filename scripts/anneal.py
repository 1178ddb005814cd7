#!/usr/bin/env python3
"""Annealing across T_c: how much flatness a cooling schedule keeps (docs/model.md §10).

A thin entry point: the tool is :mod:`fpsolve.cli.anneal` (also ``fpsolve anneal``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.anneal import main

if __name__ == "__main__":
    main_guard(main)
