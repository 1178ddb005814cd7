"""The mirror θ1 → −θ1 on a finite-element space, and the symmetric part of
a vector (docs/model.md §1: L, g and the diagonal of D are even in θ1, D12 odd,
so on a disk centred on θ1 = 0 the Fokker-Planck operator commutes with the
mirror).

Why it matters: in a double well with a high barrier the two lowest
eigenvalues (symmetric and antisymmetric) nearly coincide, and the computed
principal vector is an arbitrary mix of the two: its mass sits in one well
or the other by round-off and mesh asymmetry.  Where the mesh is a mirror
image of itself *and* the assembled operator commutes with the mirror, the
symmetric part ``(φ + Pφ)/2`` is the symmetric eigenvector, and the split of
mass between the wells is exact.  Both conditions are checked numerically,
so no caller has to declare the symmetry.

Collective over the communicator of the space; works on any number of ranks
(the permutation is built on the gathered dof coordinates).
"""

from __future__ import annotations

from typing import Any

import numpy as np


#: Relative tolerance of "is a mirror image" (coordinates) and "commutes" (operator).
COORD_TOL = 1e-9
OPERATOR_TOL = 1e-9


class Mirror:
    """Permutation ``P`` of the owned dofs of a scalar space under θ1 → −θ1.

    ``perm[i]`` is the global index of the dof at the mirror image of global
    dof ``i``.  Build with :func:`mirror_of`; apply with :meth:`apply`.
    """

    def __init__(self, comm: Any, perm: np.ndarray, start: int, n_owned: int) -> None:
        self.comm = comm
        self.perm = perm
        self.start = start
        self.n_owned = n_owned

    def _gather(self, local: np.ndarray) -> np.ndarray:
        if self.comm.size == 1:
            return np.asarray(local)
        return np.concatenate(self.comm.allgather(np.asarray(local)))

    def apply(self, vec: Any) -> Any:
        """A new PETSc vector ``P vec``."""
        full = self._gather(vec.getArray(readonly=True))
        out = vec.duplicate()
        out.setArray(full[self.perm[self.start:self.start + self.n_owned]])
        return out

    def commutes_with(self, A: Any, tol: float = OPERATOR_TOL) -> bool:
        """``‖A P x − P A x‖ ≤ tol ‖A x‖`` for a fixed pseudo-random ``x``."""
        x = A.createVecRight()
        rng = np.random.default_rng(12345 + self.start)
        x.setArray(rng.standard_normal(self.n_owned))
        Ax, APx = A.createVecLeft(), A.createVecLeft()
        A.mult(x, Ax)
        A.mult(self.apply(x), APx)
        PAx = self.apply(Ax)
        APx.axpy(-1.0, PAx)
        return APx.norm() <= tol * max(Ax.norm(), 1e-300)

    def symmetric_part(self, vec: Any) -> Any:
        """``(vec + P vec) / 2`` as a new vector."""
        out = self.apply(vec)
        out.axpy(1.0, vec)
        out.scale(0.5)
        return out


def mirror_of(V: Any) -> Mirror | None:
    """The mirror permutation of the scalar space ``V``, or None where the
    dofs are not a mirror image of themselves (a mesh that is not symmetric
    under θ1 → −θ1 to a relative ``COORD_TOL``).  Collective."""
    from scipy.spatial import cKDTree

    comm = V.mesh.comm
    imap = V.dofmap.index_map
    n_owned = imap.size_local
    start = imap.local_range[0]
    coords = V.tabulate_dof_coordinates()[:n_owned, :V.mesh.geometry.dim]  # θ1, θ2 (, θ3)
    full = np.concatenate(comm.allgather(coords)) if comm.size > 1 else coords
    if full.size == 0:
        return None
    scale = float(np.max(np.abs(full)))
    flip = np.ones(full.shape[1])
    flip[0] = -1.0
    dist, perm = cKDTree(full).query(full * flip)
    if float(np.max(dist)) > COORD_TOL * max(scale, 1e-300):
        return None
    return Mirror(comm, np.asarray(perm, dtype=np.int64), start, n_owned)
