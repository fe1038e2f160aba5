"""Across the run, grown by one step: when training writes a new checkpoint, the trend of
the variable on screen gains a point without reading the other checkpoints again.

What a new point needs, and what is read for it:
- its statistics: the new tensor (one read);
- its changes ‖x − x₀‖/‖x₀‖ and ‖x − x_prev‖/‖x_prev‖: the first and the previous step
  with values, streamed in lockstep with it (as `compare.trend` streams a whole run);
- its histogram over the bins the other steps share: the new tensor again.
So four tensor reads per new step, whatever the number of steps already shown. If the new
values fall outside the shared range, every step's counts would change: `grow` says so
(None) and the caller computes the whole trend again, as before.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import compare
from .streaming import finite, prepare


def _bounds(dtype, edges):
    """The shared range in the data's own type where it holds the edges exactly (so the
    bins are numpy's for that range, as `trend` makes them), else float64."""
    lo, hi = edges[0], edges[-1]
    if np.issubdtype(dtype, np.floating):
        t = np.dtype(dtype).type
        if float(t(lo)) == lo and float(t(hi)) == hi:
            return t(lo), t(hi), False
    return np.float64(lo), np.float64(hi), True


def grow(previous: compare.Trend, key: str, added, open_prefix, cancelled=None):
    """`previous` (a Trend over steps already read) with one point per (step, reader) of
    `added`, in order. `open_prefix(prefix)` opens an earlier step's checkpoint (only the
    first and the previous step with values are opened). Returns (trend, tensor reads) or
    None when it cannot grow: no step with values yet, or a new step's values fall outside
    the shared histogram range."""
    if not previous.edges:
        return None
    # The earlier points are shared with `previous`, not copied (copying 500 of them costs
    # more than the new step's statistics); neither is changed after.
    result = replace(previous, edges=list(previous.edges), points=list(previous.points))
    reads = 0
    opened = {}
    try:
        for step, reader in added:
            present = [p for p in result.points if p.problem is None]
            if not present:
                return None
            first = present[0]
            prev = [p for p in present if p.shape == first.shape][-1]
            refs = [first] if prev is first else [first, prev]
            readers = []
            for p in refs:
                if p.prefix not in opened:
                    opened[p.prefix] = open_prefix(p.prefix)
                readers.append((p.step, opened[p.prefix]))
            mini = compare.trend(readers + [(step, reader)], key, result.bins, cancelled=cancelled)
            point = mini.points[-1]
            reads += len(readers) + 1
            if point.problem is None:
                counts = np.zeros(result.bins, dtype=np.int64)
                if point.min is not None:
                    if point.min < result.edges[0] or point.max > result.edges[-1]:
                        return None
                    for raw in reader.chunks(point.key, compare.CHUNK_BYTES):
                        x = finite(prepare(raw))[0]
                        lo, hi, as_f64 = _bounds(x.dtype, result.edges)
                        if as_f64:
                            x = x.astype(np.float64)
                        counts += np.histogram(x, bins=result.bins, range=(lo, hi))[0]
                    reads += 1
                point.counts = [int(c) for c in counts]
            result.points.append(point)
    finally:
        for r in opened.values():
            r.close()
    return result, reads
