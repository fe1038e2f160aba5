"""The chunked statistics engine that `stats` and `compare` are built on.

A tensor arrives as a stream of flat chunks (`TensorReader.chunks`). Each chunk is
summarised on its own into a `Part` (count, mean, M2 and sum of squares in float64 over
cache-sized blocks of BLOCK elements, min, max, zeros, NaN, Inf), and parts are merged
with Chan et al.'s pairwise update, so nothing drifts with size. `pipeline` runs that
work on THREADS worker threads beside the reader, a few chunks in flight at a time.
Min, max and the moments are over the finite values; NaN and ±Inf are counted apart.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..formats import dtypes

BLOCK = 1 << 17       # elements per float64 block: stays in the CPU cache
THREADS = 1           # one worker beside the reader: the histogram holds the GIL too often
IN_FLIGHT = 3         # for a second thread to gain anything (measured: it loses)


def prepare(chunk: np.ndarray) -> np.ndarray:
    """A chunk as a real array numpy can order and bin: bool → uint8, complex → |x|, the
    16-bit and smaller floats and ints of ml_dtypes → float32 (exactly)."""
    k = dtypes.kind(chunk.dtype)
    if k == "bool":
        return chunk.view(np.uint8)
    if k == "complex":
        return np.abs(chunk)
    if dtypes.is_extension(chunk.dtype) or (k == "float" and chunk.dtype.itemsize < 4):
        return chunk.astype(np.float32)
    return chunk


@dataclass
class Part:
    """What one chunk contributes (or, merged, several)."""
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


def finite(x: np.ndarray, lo=None, hi=None) -> tuple[np.ndarray, int, int]:
    """(finite values, NaN count, Inf count) of a prepared chunk. Cheap when all are
    finite: min and max (pass them if known) are finite exactly when no NaN or Inf is."""
    if not x.size or dtypes.kind(x.dtype) != "float":
        return x, 0, 0
    lo = x.min() if lo is None else lo
    hi = x.max() if hi is None else hi
    if np.isfinite(lo) and np.isfinite(hi):
        return x, 0, 0
    ok = np.isfinite(x)
    nans = int(np.count_nonzero(np.isnan(x)))
    return x[ok], nans, x.size - int(np.count_nonzero(ok)) - nans


def summarise(raw: np.ndarray) -> Part:
    """The Part of one raw chunk."""
    x = prepare(raw)
    lo, hi = (x.min(), x.max()) if x.size else (None, None)
    values, nans, infs = finite(x, lo, hi)
    part = Part(size=raw.size, n=values.size, nan=nans, inf=infs)
    if not values.size:
        return part
    x = values
    # all finite: the min and max already taken are the ones
    part.lo, part.hi = (lo, hi) if not (nans or infs) else (x.min(), x.max())
    part.zeros = x.size - int(np.count_nonzero(x))
    shift = float(x[0])
    s = ss = sumsq = 0.0
    buf = np.empty(min(BLOCK, x.size), dtype=np.float64)
    for start in range(0, x.size, BLOCK):
        block = x[start:start + BLOCK]
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


def merge(total: Part, part: Part) -> None:
    """Fold `part` into `total` (Chan et al.'s pairwise update of mean and M2)."""
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


def pipeline(pool, chunks, work, on_result, tick) -> None:
    """Run `work` on each chunk in the pool, IN_FLIGHT at a time, and hand the results
    to `on_result` in order. `tick(nbytes)` is called as each chunk is read (it raises
    Cancelled to stop); each item must have `nbytes`."""
    pending = deque()
    for raw in chunks:
        tick(raw.nbytes)
        pending.append(pool.submit(work, raw))
        while len(pending) >= IN_FLIGHT:
            on_result(pending.popleft().result())
    while pending:
        on_result(pending.popleft().result())
