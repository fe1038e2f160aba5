"""Statistics and histograms of a tensor, streamed in chunks so that a tensor larger than
memory works and memory stays flat.

Each chunk is summarised on its own (count, mean, M2 and sum of squares in float64 over
cache-sized blocks, min, max, zeros, NaN, Inf) and the summaries are merged with Chan et
al.'s pairwise update, so nothing drifts with size. Min, max, mean, std, L2 norm and the
histogram are over the finite values; NaN and ±Inf are counted apart. The histogram
matches `numpy.histogram(finite, bins)` exactly: its range needs the min and max, so a
tensor that spans several chunks is read twice (the second pass usually from the page
cache); one that fits in a chunk is read once. Chunks are summarised on a worker thread
while the next is read, with at most a few chunks in memory at a time.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from .progress import Cancelled, Ticker  # noqa: F401  (re-exported)

DEFAULT_BINS = 100
_BLOCK = 1 << 17       # elements per float64 block: stays in the CPU cache
_THREADS = 1          # one worker beside the reader: the histogram holds the GIL too often
_IN_FLIGHT = 3         # for a second thread to gain anything (measured: it loses)


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
    """A chunk as a real array numpy can order and bin: bool → uint8, complex → |x|, the
    16-bit and smaller floats and ints of ml_dtypes → float32 (exactly)."""
    if chunk.dtype == np.bool_:
        return chunk.view(np.uint8)
    if np.iscomplexobj(chunk):
        return np.abs(chunk)
    if chunk.dtype.kind == "V" or (chunk.dtype.kind == "f" and chunk.dtype.itemsize < 4) \
            or chunk.dtype.name.startswith(("bfloat", "float8", "float4", "int4", "uint4",
                                            "int2", "uint2")):
        return chunk.astype(np.float32)
    return chunk


@dataclass
class _Part:
    """What one chunk contributes."""
    size: int = 0
    n: int = 0              # finite values
    mean: float = 0.0
    m2: float = 0.0
    sumsq: float = 0.0
    lo: object = None
    hi: object = None
    zeros: int = 0
    nan: int = 0
    inf: int = 0


def _finite(x: np.ndarray, lo=None, hi=None) -> tuple[np.ndarray, int, int]:
    """(finite values, NaN count, Inf count). Cheap when all are finite: min and max (pass
    them if known) are finite exactly when no NaN or Inf is present."""
    if x.dtype.kind != "f" or not x.size:
        return x, 0, 0
    lo = x.min() if lo is None else lo
    hi = x.max() if hi is None else hi
    if np.isfinite(lo) and np.isfinite(hi):
        return x, 0, 0
    ok = np.isfinite(x)
    nans = int(np.count_nonzero(np.isnan(x)))
    return x[ok], nans, x.size - int(np.count_nonzero(ok)) - nans


def _summarise(raw: np.ndarray) -> _Part:
    x = _prepare(raw)
    lo, hi = (x.min(), x.max()) if x.size else (None, None)
    finite, nans, infs = _finite(x, lo, hi)
    part = _Part(size=raw.size, n=finite.size, nan=nans, inf=infs)
    if not finite.size:
        return part
    x = finite
    # all finite: the min and max already taken are the ones
    part.lo, part.hi = (lo, hi) if not (nans or infs) else (x.min(), x.max())
    part.zeros = x.size - int(np.count_nonzero(x))
    shift = float(x[0])
    s = ss = sumsq = 0.0
    buf = np.empty(min(_BLOCK, x.size), dtype=np.float64)
    for start in range(0, x.size, _BLOCK):
        block = x[start:start + _BLOCK]
        v = buf[:block.size]
        np.copyto(v, block, casting="unsafe")
        sumsq += float(np.einsum("i,i->", v, v))  # not np.dot: BLAS threads cost more
        v -= shift                                 # than they give on blocks this size
        s += float(v.sum())
        ss += float(np.einsum("i,i->", v, v))
    part.mean = shift + s / x.size
    part.m2 = max(ss - s * s / x.size, 0.0)
    part.sumsq = sumsq
    return part


def _merge(total: _Part, part: _Part) -> None:
    total.size += part.size
    total.nan += part.nan
    total.inf += part.inf
    if not part.n:
        return
    total.zeros += part.zeros
    total.sumsq += part.sumsq
    total.lo = part.lo if total.lo is None or part.lo < total.lo else total.lo
    total.hi = part.hi if total.hi is None or part.hi > total.hi else total.hi
    n = total.n + part.n
    delta = part.mean - total.mean
    total.mean += delta * part.n / n
    total.m2 += part.m2 + delta * delta * total.n * part.n / n
    total.n = n


def _pipeline(pool, chunks, work, on_result, tick):
    """Run `work` on each chunk in the pool, a few at a time, results in order."""
    pending = deque()
    for raw in chunks:
        tick(raw.nbytes)
        pending.append(pool.submit(work, raw))
        while len(pending) >= _IN_FLIGHT:
            on_result(pending.popleft().result())
    while pending:
        on_result(pending.popleft().result())


def compute(chunks, total_bytes: int, bins: int = DEFAULT_BINS, progress=None,
            cancelled=None) -> Stats:
    """Statistics of a tensor. `chunks` is a callable returning a fresh iterator of flat
    arrays, each its own (not a reused buffer); it is called again for the histogram pass
    when needed. `progress(fraction)` is called as data is read; `cancelled()` returning
    True stops with Cancelled."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    total = _Part()
    first: list[np.ndarray] = []
    count = 0
    tick = Ticker(total_bytes, progress, cancelled)

    def counted(iterator):
        nonlocal count
        for raw in iterator:
            count += 1
            if count == 1:
                first.append(raw)
            elif first:
                first.clear()
            yield raw

    stats = Stats()
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="stats") as pool:
        _pipeline(pool, counted(chunks()), _summarise, lambda p: _merge(total, p), tick)
        stats.size, stats.nan, stats.inf, stats.zeros = total.size, total.nan, total.inf, total.zeros
        if total.n:
            lo, hi = total.lo, total.hi
            stats.min, stats.max = lo.item(), hi.item()
            stats.mean = total.mean
            stats.std = math.sqrt(total.m2 / total.n)
            stats.norm = math.sqrt(total.sumsq)
            wide = False
            if lo.dtype.kind == "f":
                with np.errstate(over="ignore"):
                    wide = not np.isfinite(hi - lo)  # e.g. -max..max overflows float32
            if wide:  # bin in float64, where the range fits
                lo, hi = np.float64(lo), np.float64(hi)
            counts = np.zeros(bins, dtype=np.int64)

            def histogram(raw):
                x = _finite(_prepare(raw))[0]
                if wide:
                    x = x.astype(np.float64)
                return np.histogram(x, bins=bins, range=(lo, hi))

            results = []
            if count > 1:
                tick.total = 2 * total_bytes  # the histogram reads everything again
                _pipeline(pool, chunks(), histogram, results.append, tick)
            else:
                results = [histogram(first[0])]
            for c, _edges in results:
                counts += c
            stats.edges = [float(e) for e in results[0][1]]
            stats.counts = [int(c) for c in counts]
    return stats
