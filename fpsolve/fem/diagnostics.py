"""Warnings a user can trust: the checks a solve runs on its own result.

Each rule reads the summary of a solve (``fpsolve.fem.stationary.solve``) and
returns one line when the result should not be taken at face value.  The
thresholds are the package's single source for them:

* negative mass ``∫ max(−φ, 0)`` above ``NEGATIVE_MASS_LIMIT``: the mesh
  does not resolve the density (oscillations at steep flanks);
* principal eigenvalue nearly degenerate, ``(λ1 − λ0)/|λ1|`` below
  ``GAP_LIMIT``, where no symmetrisation applied (:mod:`fpsolve.fem.symmetry`): the split of
  mass between separated regions is not determined at this precision;
* density at a reflecting wall above ``WALL_DENSITY_LIMIT`` of its peak: the
  wall, not the model, shapes the result (enlarge ``--radius``);
* eigenpair backward error ``‖Kφ − λMφ‖ / ((‖K‖ + |λ|‖M‖)‖φ‖)`` above
  ``RESIDUAL_LIMIT``;
* tolerance not reached within the dof budget (added by the adaptive loop,
  :mod:`fpsolve.fem.adapt`).
"""

from __future__ import annotations

import sys
from typing import List, Mapping

from fpsolve.fem.summary import StationarySummary


NEGATIVE_MASS_LIMIT = 1e-4
GAP_LIMIT = 1e-2
WALL_DENSITY_LIMIT = 1e-4
RESIDUAL_LIMIT = 1e-8


def warnings_for(summary: Mapping) -> List[str]:
    """One line per failed check of a solve's summary: a
    :class:`~fpsolve.fem.summary.StationarySummary` (or a dict of its keys,
    read through one), by its attributes negative_mass, wall,
    solver_gap, mirror_symmetrised, wall_density_relative, solver_residual
    (an option PETSc never read is refused before this: linalg)."""
    s = StationarySummary.of(summary)
    out: List[str] = []
    neg = s.negative_mass
    if neg is not None and neg > NEGATIVE_MASS_LIMIT:
        out.append(f"negative mass {neg:.2g} > {NEGATIVE_MASS_LIMIT:g}: the mesh does not resolve the density "
                   "(refine: --tol, --h-min)")
    gap = s.solver_gap
    if gap is not None and gap < GAP_LIMIT and not s.mirror_symmetrised:
        out.append(f"near-degenerate principal eigenvalue, gap (lambda1-lambda0)/|lambda1| = {gap:.2g}: "
                   "the split of mass between the regions is not determined at this precision")
    wall = s.wall_density_relative
    if s.wall == "reflecting" and wall is not None and wall > WALL_DENSITY_LIMIT:
        bigger = "a larger domain in the --mesh file" if s.mesh_rule == "file" else "enlarge --radius"
        out.append(f"density at the reflecting wall is {wall:.2g} of its peak (> {WALL_DENSITY_LIMIT:g}): "
                   f"the wall shapes the result; {bigger}")
    res = s.solver_residual
    if res is not None and not res <= RESIDUAL_LIMIT:
        out.append(f"eigenpair residual {res:.2g} > {RESIDUAL_LIMIT:g}: the eigen-solve did not converge")
    return out


def report(lines: List[str], prog: str, enabled: bool = True) -> None:
    """Write each warning as one line ``<prog>: warning: ...`` on stderr."""
    if enabled:
        for line in lines:
            sys.stderr.write(f"{prog}: warning: {line}\n")
        sys.stderr.flush()
