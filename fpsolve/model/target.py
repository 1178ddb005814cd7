"""Target sets of first passage (docs/model.md §8): one :class:`Box` for the FEM and the Monte Carlo."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence, Tuple

import numpy as np

from fpsolve.tools.errors import InputError


@dataclasses.dataclass(frozen=True)
class Box:
    """The box ``|θ1 − c1| ≤ w1 and |θ2 − c2| ≤ w2`` (θ units).

    ``center`` = (c1, c2), ``half_width`` = (w1, w2) > 0; with ``mirror`` the
    set also holds the box's image under θ1 → −θ1 (the valley is even in θ1:
    the folded target of the 1-D search time).  The FEM's backward problems
    and the Monte Carlo's first passage take the same object.  Raises
    :class:`~fpsolve.tools.errors.InputError` on non-finite numbers or a
    half-width that is not positive.
    """

    center: Tuple[float, float]
    half_width: Tuple[float, float]
    mirror: bool = False

    def __post_init__(self) -> None:
        try:
            center = tuple(float(v) for v in self.center)
            half = tuple(float(v) for v in self.half_width)
        except (TypeError, ValueError):
            raise InputError(f"target needs a centre and half-widths of two numbers each "
                             f"(got {self.center!r}, {self.half_width!r})") from None
        if len(center) != 2 or len(half) != 2:
            raise InputError(f"target needs a centre and half-widths of two numbers each "
                             f"(got {self.center!r}, {self.half_width!r})")
        values = center + half
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"target must be four finite numbers (got {' '.join(f'{v:g}' for v in values)})")
        if not (half[0] > 0 and half[1] > 0):
            raise InputError(f"target half-widths must be > 0 (got {half[0]:g} {half[1]:g})")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "half_width", half)

    @classmethod
    def from_numbers(cls, numbers: Sequence[float], mirror: bool = False) -> "Box":
        """The box of ``(c1, c2, w1, w2)``, the order of ``--target C1 C2 W1 W2``."""
        if len(numbers) != 4:
            raise InputError(f"target must be four numbers C1 C2 W1 W2 (got {len(numbers)})")
        return cls((numbers[0], numbers[1]), (numbers[2], numbers[3]), mirror)

    def as_numbers(self) -> Tuple[float, float, float, float]:
        """``(c1, c2, w1, w2)``."""
        return (*self.center, *self.half_width)

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Whether the points ``x`` (shape (2 or 3, n), θ units) lie in the set, to a
        relative 1e-10 (points on the edge count: a mesh conforming to the box
        puts its nodes there)."""
        (c1, c2), (w1, w2) = self.center, self.half_width
        tol = 1e-10 * max(1.0, abs(c1), abs(c2), w1, w2)
        hit = (np.abs(x[0] - c1) <= w1 + tol) & (np.abs(x[1] - c2) <= w2 + tol)
        if self.mirror:
            hit |= (np.abs(x[0] + c1) <= w1 + tol) & (np.abs(x[1] - c2) <= w2 + tol)
        return hit

    __call__ = contains
