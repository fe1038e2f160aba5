"""Statistics and histograms of a tensor, streamed in chunks so that a tensor larger than
memory works and memory stays flat.

Each chunk is summarised on its own and the summaries are merged by the `streaming`
engine, so nothing drifts with size. Min, max, mean, std, L2 norm and the histogram
are over the finite values; NaN and ±Inf are counted apart. The histogram
matches `numpy.histogram(finite, bins)` exactly: its range needs the min and max, so a
tensor that spans several chunks is read twice (the second pass usually from the page
cache); one that fits in a chunk is read once. Chunks are summarised on a worker thread
while the next is read, with at most a few chunks in memory at a time.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from ..formats import dtypes
from .progress import Cancelled, Ticker  # noqa: F401  (re-exported)
from .streaming import THREADS, Part, finite, merge, pipeline, prepare, summarise

DEFAULT_BINS = 100


def suggested_bins(size: int) -> int:
    """Bins that suit `size` values: about √n (144 values → 12 bins), at least 10 where there
    are that many values, at most DEFAULT_BINS."""
    if size <= 0:
        return 1
    return min(DEFAULT_BINS, max(min(size, 10), math.ceil(math.sqrt(size))))


@dataclass
class Stats:
    size: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    norm: float | None = None
    zeros: int = 0
    nan: int = 0
    inf: int = 0
    edges: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    of_magnitude: bool = False   # complex tensors: statistics of |x|

    def to_json(self) -> dict:
        out = asdict(self)
        out["histogram"] = {"edges": out.pop("edges"), "counts": out.pop("counts")}
        return out


def compute(chunks, total_bytes: int, bins: int = DEFAULT_BINS, progress=None,
            cancelled=None) -> Stats:
    """Statistics of a tensor. `chunks` is a callable returning a fresh iterator of flat
    arrays, each its own (not a reused buffer); it is called again for the histogram pass
    when needed. `progress(fraction)` is called as data is read; `cancelled()` returning
    True stops with Cancelled."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    total = Part()
    first: list[np.ndarray] = []
    count = 0
    tick = Ticker(total_bytes, progress, cancelled)
    stats = Stats()

    def counted(iterator):
        nonlocal count
        for raw in iterator:
            count += 1
            if count == 1:
                first.append(raw)
                # the statistics are of |x|: the histogram's axis says so
                stats.of_magnitude = dtypes.kind(raw.dtype) == "complex"
            else:  # several chunks: the histogram reads everything again
                first.clear()
                tick.total = 2 * total_bytes
            yield raw

    with ThreadPoolExecutor(THREADS, thread_name_prefix="stats") as pool:
        pipeline(pool, counted(chunks()), summarise, lambda p: merge(total, p), tick)
        stats.size, stats.nan, stats.inf, stats.zeros = total.size, total.nan, total.inf, total.zeros
        if total.n:
            lo, hi = total.lo, total.hi
            stats.min, stats.max = lo.item(), hi.item()
            stats.mean = total.mean
            stats.std = math.sqrt(total.m2 / total.n)
            stats.norm = math.sqrt(total.sumsq)
            wide = False
            if dtypes.kind(lo.dtype) == "float":
                with np.errstate(over="ignore"):
                    wide = not np.isfinite(hi - lo)  # e.g. -max..max overflows float32
            if wide:  # bin in float64, where the range fits
                lo, hi = np.float64(lo), np.float64(hi)
            counts = np.zeros(bins, dtype=np.int64)

            def histogram(raw):
                x = finite(prepare(raw))[0]
                if wide:
                    x = x.astype(np.float64)
                return np.histogram(x, bins=bins, range=(lo, hi))

            results = []
            if count > 1:
                pipeline(pool, chunks(), histogram, results.append, tick)
            else:
                results = [histogram(first[0])]
            for c, _edges in results:
                counts += c
            stats.edges = [float(e) for e in results[0][1]]
            stats.counts = [int(c) for c in counts]
    return stats
