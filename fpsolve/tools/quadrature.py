"""Quadrature of sampled functions (numpy 1.24 and 2.x name their trapezoid rule differently)."""

from __future__ import annotations

import numpy as np


def trapezoid(y: np.ndarray, x: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """∫ y dx by the trapezoidal rule (numpy 1.24 and 2.x both lack one
    name): a float for 1-D ``y``; with ``axis``, along that axis of an
    array (``x`` its coordinates), an array of the other axes."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if axis is None:
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))
    y = np.moveaxis(y, axis, -1)
    return np.sum(0.5 * (y[..., 1:] + y[..., :-1]) * np.diff(x), axis=-1)
