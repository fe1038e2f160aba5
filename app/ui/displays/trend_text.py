"""How the trend displays name checkpoints and word their readouts."""

from __future__ import annotations

import math
import os

import numpy as np

from ...analysis.compare import Trend, TrendPoint
from ..array_model import format_float

MAX_LISTED = 8          # checkpoints named in a note before "and N more"


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


def has_values(p: TrendPoint) -> bool:
    return p.problem is None and p.mean is not None


def label(p: TrendPoint, i: int) -> str:
    """The short name of checkpoint `i` on an axis: its step, else its index."""
    return str(p.step) if p.step is not None else f"#{i}"


def who(p: TrendPoint, i: int) -> str:
    """The name of checkpoint `i` in a sentence."""
    if p.step is not None:
        return f"step {p.step}"
    return f"checkpoint #{i} ({os.path.basename(p.prefix) or p.prefix})"


def x_positions(points: list[TrendPoint]) -> tuple[np.ndarray, str]:
    """Where each checkpoint sits on the curves' x axis and the axis title: the steps when
    every checkpoint has one and they increase, else the checkpoint's index in the run."""
    steps = [p.step for p in points]
    if steps and None not in steps and all(a < b for a, b in zip(steps, steps[1:])):
        return np.asarray(steps, dtype=np.float64), "step"
    why = "no step numbers" if None in steps else "steps out of order"
    return np.arange(len(points), dtype=np.float64), f"checkpoint # ({why})"


def readout(items: list[str]) -> str:
    """A readout: items joined by " · ", wrapping between items, never inside one."""
    return " · ".join(t.replace(" ", "\u00a0") for t in items)


def listing(names: list[str]) -> str:
    if len(names) <= MAX_LISTED:
        return ", ".join(names)
    return ", ".join(names[:MAX_LISTED]) + f" and {len(names) - MAX_LISTED} more"


def histogram_reason(t: Trend | None) -> str | None:
    """Why there are no histograms to draw, or None."""
    if t is None:
        return "No trend"
    if len(t.edges) != t.bins + 1 or not any(p.counts for p in t.points):
        if all(p.problem is not None for p in t.points):
            return "No checkpoint holds values of this variable (see the Table tab)."
        return "No histograms: no checkpoint holds finite values of this variable."
    return None


def bin_text(t: Trend, i: int, b: int) -> str:
    """Checkpoint `i`'s bin `b`: where it is and its count."""
    p = t.points[i]
    lo, hi = t.edges[b], t.edges[b + 1]
    close = "]" if b == t.bins - 1 else ")"
    total = sum(p.counts)
    share = f" ({100.0 * p.counts[b] / total:.3g}%)" if total else ""
    return readout([who(p, i), f"[{format_float(lo, 6)}, {format_float(hi, 6)}{close}",
                    f"count {p.counts[b]:,}{share}"])
