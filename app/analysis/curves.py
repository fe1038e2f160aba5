"""Training curves as people read them: smoothed as TensorBoard smooths them."""

from __future__ import annotations

import numpy as np


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with weight `weight` (0: none,
    0.99: heavy), debiased so that the first points are not pulled towards zero.
    Non-finite values pass through and do not enter the average."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy()
    out = np.empty_like(values)
    last, seen = 0.0, 0
    for i, y in enumerate(values):
        if not np.isfinite(y):
            out[i] = y
            continue
        last = last * weight + (1 - weight) * y
        seen += 1
        out[i] = last / (1 - weight ** seen)
    return out
