#!/usr/bin/env python3
"""Write the graded disk mesh of a case as a gmsh ``.msh`` (binary).

A thin entry point: the tool is :mod:`fpsolve.cli.mesh` (also ``fpsolve mesh``).
"""

from fpsolve.cli.common import main_guard
from fpsolve.cli.mesh import main

if __name__ == "__main__":
    main_guard(main)
