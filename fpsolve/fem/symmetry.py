"""Linear symmetries θ → S θ on a finite-element space, and the symmetric
part of a vector (docs/model.md §1 and §7, "Symmetries").

The mirror θ1 → −θ1: L, g and the diagonal of D are even in θ1, D12 odd, so
on a disk centred on θ1 = 0 the seed's Fokker-Planck operator commutes with
the mirror.  Any other symmetry of a model (:mod:`fpsolve.model.symmetry`:
the point reflection of a two-layer net, a swap, a rotation) does the same
where the mesh is its own image under it.

Why it matters: in a double well with a high barrier the two lowest
eigenvalues (symmetric and antisymmetric) nearly coincide, and the computed
principal vector is an arbitrary mix of the two: its mass sits in one well
or the other by round-off and mesh asymmetry.  Where the mesh is an image
of itself *and* the assembled operator commutes with the map, the
symmetric part (the average of ``φ∘S`` over the group the maps generate) is
the symmetric eigenvector, and the split of mass between the wells is
exact.  Both conditions are checked numerically, so no caller has to
declare a symmetry.

Collective over the communicator of the space; works on any number of ranks
(the permutation is built on the gathered dof coordinates).
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np


#: Relative tolerance of "is a mirror image" (coordinates) and "commutes" (operator).
COORD_TOL = 1e-9
OPERATOR_TOL = 1e-9


#: The mirror θ1 → −θ1.
MIRROR = ((-1.0, 0.0), (0.0, 1.0))


class Mirror:
    """Permutation ``P`` of the owned dofs of a scalar space under a linear
    map θ → S θ (by default the mirror θ1 → −θ1): ``(P v)(θ) = v(S θ)``.

    ``perm[i]`` is the global index of the dof at the image of global
    dof ``i``.  Build with :func:`mirror_of` or :func:`image_of`; apply with
    :meth:`apply`.  ``name``: the map's name (``mirror-theta1``, ``point``, ...).
    """

    def __init__(self, comm: Any, perm: np.ndarray, start: int, n_owned: int, name: str = "mirror-theta1") -> None:
        self.comm = comm
        self.perm = perm
        self.start = start
        self.n_owned = n_owned
        self.name = name

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
    return image_of(V, MIRROR)


def image_of(V: Any, matrix: Any, name: str = "mirror-theta1") -> Mirror | None:
    """The permutation of the scalar space ``V`` under θ → S θ (``matrix``
    S, 2×2), or None where the dofs are not their own image (to a relative
    ``COORD_TOL``).  Collective."""
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
    S = np.asarray(matrix, dtype=float)
    if np.array_equal(S, np.array(MIRROR)):  # θ1 → −θ1 in any dimension (the 3-D ball's mirror too)
        image = np.array(full)
        image[:, 0] *= -1.0
    else:
        image = full @ S.T
    dist, perm = cKDTree(full).query(image)
    if float(np.max(dist)) > COORD_TOL * max(scale, 1e-300):
        return None
    return Mirror(comm, np.asarray(perm, dtype=np.int64), start, n_owned, name)


class Group:
    """The symmetric part under several maps at once: the average of
    ``P_g v`` over the group ``g`` the given permutations generate (its
    closure under composition, identity included).  Same interface as
    :class:`Mirror` (``symmetric_part``); ``names``: the generators'."""

    def __init__(self, maps: Sequence[Mirror]) -> None:
        first = maps[0]
        self.comm, self.start, self.n_owned = first.comm, first.start, first.n_owned
        self.maps = list(maps)
        self.names = [m.name for m in maps]
        n = len(first.perm)
        identity = np.arange(n, dtype=np.int64)
        elements = {identity.tobytes(): identity}
        frontier = [identity]
        while frontier:  # closure: P_a P_b v = v[perm_b[perm_a]]
            nxt = []
            for p in frontier:
                for m in maps:
                    q = p[m.perm]
                    if q.tobytes() not in elements:
                        elements[q.tobytes()] = q
                        nxt.append(q)
            frontier = nxt
            if len(elements) > 48:
                raise RuntimeError("the symmetry maps generate more than 48 permutations")
        self.elements = [identity] + [p for k, p in elements.items() if k != identity.tobytes()]

    def _gather(self, local: np.ndarray) -> np.ndarray:
        if self.comm.size == 1:
            return np.asarray(local)
        return np.concatenate(self.comm.allgather(np.asarray(local)))

    def symmetric_part(self, vec: Any) -> Any:
        """The group average of ``vec`` as a new vector (for one involution,
        ``(vec + P vec) / 2`` as :meth:`Mirror.symmetric_part`)."""
        if len(self.maps) == 1 and len(self.elements) == 2:
            return self.maps[0].symmetric_part(vec)
        full = self._gather(vec.getArray(readonly=True))
        own = slice(self.start, self.start + self.n_owned)
        total = np.array(full[own])
        for p in self.elements[1:]:
            total += full[p[own]]
        out = vec.duplicate()
        out.setArray(total / len(self.elements))
        return out

    def antisymmetric_under(self, vec: Any, tol: float = 1e-6) -> Tuple[str | None, float]:
        """(name, relative residual) of the first map ``P`` with
        ``‖P v + v‖ ≤ tol ‖v‖`` (the map sends the eigenvector's one half
        onto minus the other), else (None, smallest residual)."""
        best = (None, float("inf"))
        norm = vec.norm()
        for m in self.maps:
            w = m.apply(vec)
            w.axpy(1.0, vec)
            r = float(w.norm() / norm) if norm > 0 else float("inf")
            w.destroy()
            if r <= tol:
                return m.name, r
            best = (None, min(best[1], r))
        return best


def group_of(V: Any, K: Any, maps: Sequence[Tuple[str, Any]]) -> Group | None:
    """The :class:`Group` of those ``maps`` ((name, 2×2 matrix) pairs) under
    which the dofs of ``V`` are their own image and the assembled operator
    ``K`` commutes with the permutation (:meth:`Mirror.commutes_with`), or
    None when there is none.  Collective."""
    kept = []
    for name, matrix in maps:
        image = image_of(V, matrix, name)
        if image is not None and image.commutes_with(K):
            kept.append(image)
    return Group(kept) if kept else None
