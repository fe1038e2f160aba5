"""Statistics and histograms of a tensor, streamed in chunks so that a tensor larger than
memory works and memory stays flat.

Moments are merged across chunks in float64 (Chan et al.'s pairwise update), so they do not
drift with size. Min, max, mean, std, L2 norm and the histogram are over the finite values;
NaN and ±Inf are counted apart. The histogram matches `numpy.histogram(finite, bins)` exactly:
its range needs the min and max, so a tensor that spans several chunks is read twice (the
second pass usually from the page cache); one that fits in a chunk is read once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

DEFAULT_BINS = 100


class Cancelled(Exception):
    """The caller asked to stop."""


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


def _prepare(chunk: np.ndarray) -> np.ndarray:
    """A chunk as a real array numpy can order and bin (bool → uint8; float16 family →
    float32, exactly; complex → magnitude)."""
    if chunk.dtype == np.bool_:
        return chunk.view(np.uint8)
    if np.iscomplexobj(chunk):
        return np.abs(chunk)
    if chunk.dtype.kind == "V" or chunk.dtype.itemsize < 4 and chunk.dtype.kind == "f" or \
            chunk.dtype.name.startswith(("bfloat", "float8", "int4", "uint4")):
        return chunk.astype(np.float32)
    return chunk


class _Moments:
    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.sumsq = 0.0
        self.lo = None
        self.hi = None

    def add(self, x: np.ndarray) -> None:
        if not x.size:
            return
        lo, hi = x.min(), x.max()
        self.lo = lo if self.lo is None or lo < self.lo else self.lo
        self.hi = hi if self.hi is None or hi > self.hi else self.hi
        xf = x.astype(np.float64, copy=False)
        n = xf.size
        mean = float(xf.mean())
        d = xf - mean
        m2 = float(np.dot(d, d))
        self.sumsq += float(np.dot(xf, xf))
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total


def _finite(x: np.ndarray, stats: Stats) -> np.ndarray:
    if x.dtype.kind != "f":
        return x
    ok = np.isfinite(x)
    bad = x.size - int(np.count_nonzero(ok))
    if bad:
        nans = int(np.count_nonzero(np.isnan(x)))
        stats.nan += nans
        stats.inf += bad - nans
        return x[ok]
    return x


def compute(chunks, total_bytes: int, bins: int = DEFAULT_BINS, progress=None,
            cancelled=None) -> Stats:
    """Statistics of a tensor. `chunks` is a callable returning a fresh iterator of flat
    arrays (it is called again for the histogram pass when needed); `progress(fraction)`
    is called as data is read; `cancelled()` returning True stops with Cancelled."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    stats = Stats()
    moments = _Moments()
    kept: list[np.ndarray] = []
    passes = 1
    done = 0

    def tick(n_bytes: int) -> None:
        nonlocal done
        done += n_bytes
        if cancelled is not None and cancelled():
            raise Cancelled()
        if progress is not None and total_bytes:
            progress(min(1.0, done / (total_bytes * passes)))

    count = 0
    for raw in chunks():
        count += 1
        x = _prepare(raw)
        stats.of_magnitude = stats.of_magnitude or np.iscomplexobj(raw)
        stats.size += raw.size
        x = _finite(x, stats)
        stats.zeros += int(x.size - np.count_nonzero(x))
        moments.add(x)
        if count == 1:
            kept.append(x.copy() if not x.flags.owndata else x)
        else:
            kept.clear()
        tick(raw.nbytes)

    if moments.n:
        stats.min, stats.max = moments.lo.item(), moments.hi.item()
        stats.mean = moments.mean
        stats.std = math.sqrt(max(moments.m2, 0.0) / moments.n)
        stats.norm = math.sqrt(moments.sumsq)
        lo, hi = moments.lo, moments.hi
        widen = False
        if lo.dtype.kind == "f":
            with np.errstate(over="ignore"):
                widen = not np.isfinite(hi - lo)  # e.g. -max..max overflows float32
        if widen:  # bin in float64, where the range fits
            lo, hi = np.float64(lo), np.float64(hi)
        counts = np.zeros(bins, dtype=np.int64)
        edges = None
        if count > 1:
            passes = 2
            sources = (_finite(_prepare(raw), Stats()) for raw in chunks())
        else:
            sources = iter(kept)
        for x in sources:
            if widen:
                x = x.astype(np.float64)
            c, edges = np.histogram(x, bins=bins, range=(lo, hi))
            counts += c
            if count > 1:
                tick(x.nbytes)
        if edges is None:
            _, edges = np.histogram(np.empty(0, dtype=lo.dtype), bins=bins, range=(lo, hi))
        stats.edges = [float(e) for e in edges]
        stats.counts = [int(c) for c in counts]
    return stats
