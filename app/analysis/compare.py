"""How weights moved: two checkpoints compared variable by variable, and one variable
followed across the checkpoints of a run. Pure: numpy and the readers, no Qt, no TensorFlow.

Streaming. Every comparison walks the two tensors together in chunks (`reader.chunks`),
so memory stays flat however large they are: only a few chunks of each side are mapped at
a time, and all sums are taken in float64 over cache-sized blocks, as `stats` does. Two
chunk streams can only be zipped when they hand out elements in the same order. A plain
tensor comes out in row-major order; a partitioned one (stored as slices) comes out slice
by slice, each slice in its own row-major order. So:

* both plain, or both partitioned into the very same slices: the two chunk streams are
  zipped (re-cut where their chunk boundaries differ, e.g. float32 against float16);
* partitioned on one side only: that side is reassembled whole with `read()` and the
  other side is streamed against it (one whole tensor in memory, never two);
* partitioned differently on both sides: both are reassembled with `read()` (two whole
  tensors in memory; re-partitioning between two checkpoints is rare).

Diff metrics, for A (base) and B (other) of the same shape, with Δ = B − A computed in
float64 (complex128 for complex tensors):

    rel_l2 = ‖Δ‖₂ / ‖A‖₂        (0 when both are 0, inf when only ‖A‖₂ is 0)
    max_abs_delta = max |Δ|,  mean_abs_delta = Σ|Δ| / size

Any NaN in A or B makes them NaN (a NaN is news worth showing, not something to skip).
"unchanged" means the stored bytes are identical; values equal in float64 but with other
bits (0.0 against -0.0, another NaN payload) are "changed" with rel_l2 = 0.

Trend of one variable over N checkpoints (see `trend`): pass 1 streams all N tensors in
lockstep, so each checkpoint is read once and the first and previous checkpoints' chunks
are at hand for ‖x − x₀‖ and ‖x − x_prev‖. Histograms with edges shared by every step
need the global min and max, known only after pass 1: when all N tensors together fit in
TREND_KEEP_BYTES the chunks of pass 1 are kept and binned (1 read per checkpoint),
otherwise each checkpoint is streamed once more for its histogram (2 reads per
checkpoint, the second usually from the page cache).
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from ..formats import dtypes, location
from ..formats.errors import FormatError
from ..formats.reader import CHUNK_BYTES, TensorReader
from .progress import Cancelled, Ticker
from .stats import DEFAULT_BINS
from .streaming import BLOCK, THREADS, Part, finite, merge, pipeline, prepare, summarise

__all__ = ["Cancelled", "DiffRow", "Matching", "ResultCache", "Trend", "TrendPoint",
           "CACHE", "STATUSES", "delta", "delta_chunks", "diff", "match", "sort_rows",
           "trend"]

STATUSES = ("changed", "unchanged", "reshaped", "added", "removed", "unreadable")
TREND_STREAM_BYTES = 16 << 20   # one chunk of each of the N lockstep streams of a trend, together
TREND_KEEP_BYTES = 128 << 20    # up to this much (all steps together) is read only once
DELTA_FLOAT64_ELEMENTS = 1 << 24  # `delta` returns float64 up to this size, float32 above


# -- matching ----------------------------------------------------------------------------

@dataclass
class Matching:
    """Which tensor of A goes with which of B. `pairs` holds (key in A, key in B)."""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)   # keys of A with no partner: removed
    only_b: list[str] = field(default_factory=list)   # keys of B with no partner: added
    by_name: list[tuple[str, str]] = field(default_factory=list)  # pairs found by display name


def match(reader_a, reader_b) -> Matching:
    """Pair the tensors of two readers: by checkpoint key first, then what is left by
    readable name (`display_name`: the TF2 object-graph name, which is the key itself in
    TF1 checkpoints). So a TF2 checkpoint whose keys moved (a layer added in front shifts
    `layer_with_weights-N`) still pairs `dense/kernel` with `dense/kernel`, and a TF1
    checkpoint pairs with a TF2 one through the variable names. A name shared by several
    leftover tensors on one side is ambiguous and pairs nothing."""
    ta, tb = reader_a.tensors, reader_b.tensors
    m = Matching()
    m.pairs = [(k, k) for k in ta if k in tb]
    rest_a = [k for k in ta if k not in tb]
    rest_b = [k for k in tb if k not in ta]

    def by_display(keys, tensors):
        out: dict[str, list[str]] = {}
        for k in keys:
            out.setdefault(tensors[k].display_name, []).append(k)
        return out

    names_b = by_display(rest_b, tb)
    paired_a, paired_b = set(), set()
    for name, keys_a in by_display(rest_a, ta).items():
        keys_b = names_b.get(name, [])
        if len(keys_a) == 1 and len(keys_b) == 1:
            m.by_name.append((keys_a[0], keys_b[0]))
            paired_a.add(keys_a[0])
            paired_b.add(keys_b[0])
    m.pairs += m.by_name
    m.only_a = [k for k in rest_a if k not in paired_a]
    m.only_b = [k for k in rest_b if k not in paired_b]
    return m


# -- streaming both sides ----------------------------------------------------------------

def _layout(reader: TensorReader, key: str):
    """The order in which `reader.chunks(key)` hands out elements: "flat" (row-major over
    the whole tensor: one extent) or its extents in the order they are streamed (a
    partitioned bundle tensor). Two tensors with equal layouts stream in the same order."""
    extents = reader.extents(key)
    return "flat" if len(extents) == 1 else extents


def _whole(array: np.ndarray, chunk_bytes: int):
    """A whole in-memory array as flat pieces of about chunk_bytes."""
    flat = array.reshape(-1)
    step = max(1, chunk_bytes // max(1, flat.itemsize))
    for start in range(0, flat.size, step):
        yield flat[start:start + step]


def _streams(pairs, chunk_bytes: int, flat: bool = False) -> list:
    """One iterator of flat pieces per (reader, key), all in the same element order,
    following the rules in the module docstring. `flat=True` asks for row-major order
    (needed when the result is laid out as the tensor, as `delta` does)."""
    layouts = [_layout(r, k) for r, k in pairs]
    same = all(lay == layouts[0] for lay in layouts) and not (flat and layouts[0] != "flat")
    out = []
    for (reader, key), lay in zip(pairs, layouts):
        if same or lay == "flat":
            out.append(reader.chunks(key, chunk_bytes))
        else:  # reassembled in row-major order (reads it whole)
            out.append(_whole(reader.read(key), chunk_bytes))
    return out


def _aligned(iterators):
    """Tuples of equal-length pieces, one from each flat stream, in step. Streams whose
    chunk boundaries differ (other itemsizes, a whole array against chunks) are re-cut.
    Every stream is run to its end, so a bundle's crc32c check (done after its last chunk)
    always happens."""
    its = [iter(i) for i in iterators]
    heads: list[np.ndarray | None] = [None] * len(its)
    pos = [0] * len(its)
    while True:
        for i, it in enumerate(its):
            while heads[i] is None or pos[i] >= heads[i].size:
                heads[i], pos[i] = next(it, None), 0
                if heads[i] is None:
                    break
        ended = [h is None for h in heads]
        if all(ended):
            return
        if any(ended):
            raise ValueError("the two tensors stream different numbers of elements")
        n = min(h.size - p for h, p in zip(heads, pos))
        yield tuple(h[p:p + n] for h, p in zip(heads, pos))
        for i in range(len(pos)):
            pos[i] += n


class _Item:
    """Aligned pieces handed to a worker; `nbytes` is what `streaming.pipeline` ticks."""
    __slots__ = ("pieces", "nbytes")

    def __init__(self, pieces):
        self.pieces = pieces
        self.nbytes = sum(p.nbytes for p in pieces)


def _numeric(x: np.ndarray) -> np.ndarray:
    """A piece numpy can subtract: complex as is, everything else as `stats` prepares it
    (bool as uint8, the small float/int types of ml_dtypes as float32)."""
    return x if dtypes.kind(x.dtype) == "complex" else prepare(x)


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Two aligned pieces (equal lengths) of one dtype hold the very same bytes."""
    # memoryview equality of two byte views is a memcmp
    return memoryview(np.ascontiguousarray(a).view(np.uint8)) == \
        memoryview(np.ascontiguousarray(b).view(np.uint8))


@dataclass
class _Delta:
    """Running sums of a comparison (all float64)."""
    n: int = 0
    sq_delta: float = 0.0     # Σ|b − a|²
    sq_base: float = 0.0      # Σ|a|²
    abs_sum: float = 0.0      # Σ|b − a|
    abs_max: float = 0.0      # max |b − a| over the non-NaN deltas
    nan: bool = False         # some |b − a| is NaN
    equal: bool = True        # every byte so far identical

    def merge(self, part: "_Delta") -> None:
        self.n += part.n
        self.sq_delta += part.sq_delta
        self.sq_base += part.sq_base
        self.abs_sum += part.abs_sum
        self.abs_max = max(self.abs_max, part.abs_max)
        self.nan |= part.nan
        self.equal &= part.equal


def _block_differences(base: np.ndarray, other: np.ndarray):
    """Yield (a, b − a) over cache-sized blocks of two aligned pieces. Each block is
    converted to float64 (complex128 if either side is complex) once per side and the
    difference is taken there, so it is exact for float32 and smaller types. The two
    arrays are buffers reused from block to block."""
    a, b = _numeric(base), _numeric(other)
    cplx = dtypes.kind(a.dtype) == "complex" or dtypes.kind(b.dtype) == "complex"
    m = min(BLOCK, a.size)
    va = np.empty(m, dtype=np.complex128 if cplx else np.float64)
    vd = np.empty_like(va)
    for start in range(0, a.size, BLOCK):
        stop = min(start + BLOCK, a.size)
        xa, xd = va[:stop - start], vd[:stop - start]
        np.copyto(xa, a[start:stop], casting="unsafe")
        np.copyto(xd, b[start:stop], casting="unsafe")
        xd -= xa
        yield xa, xd


def _delta_part(base: np.ndarray, other: np.ndarray, check_bytes: bool) -> _Delta:
    """What one aligned pair of pieces contributes to a comparison."""
    part = _Delta(n=base.size)
    if not base.size:
        return part
    mag = None  # |x| of a complex block
    for xa, xd in _block_differences(base, other):
        if dtypes.kind(xa.dtype) == "complex":
            if mag is None:
                mag = np.empty(xa.size, dtype=np.float64)   # the first block is the largest
            ma = np.abs(xa, out=mag[:xa.size])
            part.sq_base += float(np.einsum("i,i->", ma, ma))
            md = np.abs(xd, out=mag[:xd.size])
        else:
            part.sq_base += float(np.einsum("i,i->", xa, xa))  # einsum, not BLAS dot:
            md = np.abs(xd, out=xd)                             # see streaming.summarise
        part.sq_delta += float(np.einsum("i,i->", md, md))
        part.abs_sum += float(md.sum())
        top = float(md.max())
        if top > part.abs_max:
            part.abs_max = top
        elif top != top:
            part.nan = True
    # Identical bytes give Σ(b−a)² = 0 (or NaN): only then is a byte check worth doing.
    part.equal = check_bytes and not part.sq_delta > 0 and _same_bytes(base, other)
    return part


def _sq_distance(base: np.ndarray, other: np.ndarray) -> float:
    """Σ|other − base|² in float64 (the part of `_delta_part` a trend needs)."""
    total = 0.0
    for _xa, xd in _block_differences(base, other):
        if dtypes.kind(xd.dtype) == "complex":
            xd = np.abs(xd)
        total += float(np.einsum("i,i->", xd, xd))
    return total


def _lockstep_general(pieces) -> tuple[list[Part], list[float], list[float]]:
    """Per step of a trend, for one aligned set of pieces: its `stats` summary, Σ|x − x₀|²
    and Σ|x − x_prev|². Any dtype, NaN and Inf included."""
    first = [0.0] + [_sq_distance(pieces[0], x) for x in pieces[1:]]
    prev = [0.0] + first[1:2] + [_sq_distance(pieces[i - 1], pieces[i])
                                 for i in range(2, len(pieces))]
    return [summarise(x) for x in pieces], first, prev


def _lockstep(pieces) -> tuple[list[Part], list[float], list[float]]:
    """`_lockstep_general`, fused for the usual case (real, all finite): each block of
    each step is converted to float64 once and serves its moments, its distance to the
    first step's block and to the previous step's, which stay converted alongside. The
    moments follow `streaming.summarise` exactly (shifted sums, same merge), 3x faster than
    summarising and differencing apart."""
    xs = [_numeric(x) for x in pieces]
    if not xs[0].size or any(dtypes.kind(x.dtype) == "complex" for x in xs):
        return _lockstep_general(pieces)
    parts = []
    for raw, x in zip(pieces, xs):
        lo, hi = x.min(), x.max()
        if dtypes.kind(x.dtype) == "float" and not (np.isfinite(lo) and np.isfinite(hi)):
            return _lockstep_general(pieces)  # NaN or Inf: stats' own way of excluding them
        part = Part(size=raw.size, n=x.size, lo=lo, hi=hi,
                     zeros=x.size - int(np.count_nonzero(x)))
        parts.append(part)
    n, size = len(xs), xs[0].size
    shifts = [float(x[0]) for x in xs]
    s, ss, sumsq = [0.0] * n, [0.0] * n, [0.0] * n
    first, prev = [0.0] * n, [0.0] * n
    m = min(BLOCK, size)
    base, last, cur, tmp = (np.empty(m, dtype=np.float64) for _ in range(4))
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        k = stop - start
        for i, x in enumerate(xs):
            v = (base if i == 0 else cur)[:k]
            np.copyto(v, x[start:stop], casting="unsafe")
            t = tmp[:k]
            sumsq[i] += float(np.einsum("i,i->", v, v))
            np.subtract(v, shifts[i], out=t)
            s[i] += float(t.sum())
            ss[i] += float(np.einsum("i,i->", t, t))
            if i:
                np.subtract(v, base[:k], out=t)
                first[i] += float(np.einsum("i,i->", t, t))
                if i > 1:
                    np.subtract(v, last[:k], out=t)
                    prev[i] += float(np.einsum("i,i->", t, t))
                else:
                    prev[i] = first[i]
                last, cur = cur, last  # this step's block is the next one's "previous"
    for i, part in enumerate(parts):
        part.mean = shifts[i] + s[i] / size
        part.m2 = max(ss[i] - s[i] * s[i] / size, 0.0)
        part.sumsq = sumsq[i]
    return parts, first, prev


# -- results cache -----------------------------------------------------------------------

def _identity(reader) -> tuple:
    """A checkpoint as a cache key: its path, and the index file's mtime and size, so a
    checkpoint rewritten in place is not answered from the cache."""
    if location.is_url(reader.index_path):
        try:
            st = location.stat(reader.index_path)
        except FormatError:
            return reader.index_path, None, None
        return reader.index_path, st.mtime, st.size
    path = os.path.abspath(reader.index_path)
    try:
        st = os.stat(path)
        return path, st.st_mtime_ns, st.st_size
    except OSError:
        return path, None, None


class ResultCache:
    """A small thread-safe LRU of finished results, so the window can switch back to a
    comparison or trend instantly. Keys are built by `diff` and `trend` from the
    checkpoints' identities, the tensor keys and the bin count; values are copied out."""

    def __init__(self, maxsize: int = 256):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


CACHE = ResultCache()  # the one the window shares; the functions use it only when given it


# -- diff of two checkpoints -------------------------------------------------------------

@dataclass
class DiffRow:
    """One variable of a comparison of checkpoint A (base) with B.

    `status`: "changed" / "unchanged" (same shape; unchanged = identical bytes),
    "reshaped" (the shape differs: no metrics), "added" (only in B), "removed" (only in
    A), or "unreadable" (either side cannot be read: see `problem`).

    A dtype change is reported by `dtype_changed=True` next to the status, never by the
    status itself: with a new shape too the row is "reshaped"; with the same shape the
    values are compared as numbers (both converted to float64, so rel_l2 etc. are
    present) and the row is "changed" even when they are equal, since the bytes differ.
    String tensors are compared for equality only: "changed" or "unchanged", no metrics.
    """
    name: str
    status: str
    key_a: str | None = None
    key_b: str | None = None
    shape_a: list[int] | None = None
    shape_b: list[int] | None = None
    dtype_a: str | None = None
    dtype_b: str | None = None
    dtype_changed: bool = False
    rel_l2: float | None = None
    max_abs_delta: float | None = None
    mean_abs_delta: float | None = None
    l2_delta: float | None = None   # ‖B − A‖₂
    l2_a: float | None = None       # ‖A‖₂
    size: int = 0
    problem: str | None = None

    @property
    def compared(self) -> bool:
        return self.status in ("changed", "unchanged")

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "rel_l2": self.rel_l2,
                "max_abs_delta": self.max_abs_delta, "mean_abs_delta": self.mean_abs_delta,
                "shape_a": self.shape_a, "shape_b": self.shape_b,
                "dtype_a": self.dtype_a, "dtype_b": self.dtype_b,
                "dtype_changed": self.dtype_changed, "key_a": self.key_a, "key_b": self.key_b,
                "l2_delta": self.l2_delta, "l2_a": self.l2_a, "size": self.size,
                "problem": self.problem}


_GROUP = {"changed": 0, "unchanged": 0, "reshaped": 1, "added": 2, "removed": 3,
          "unreadable": 4}


def sort_rows(rows: list[DiffRow]) -> list[DiffRow]:
    """Compared variables first, the most changed on top (NaN counts as most: something
    broke), string tensors (no rel_l2) after them; then reshaped, added, removed and
    unreadable ones, each group by name."""
    def order(r: DiffRow):
        rel = r.rel_l2
        if rel is None:
            rank = (1, 0.0 if r.status == "changed" else 1.0)
        else:
            rank = (0, -(math.inf if rel != rel else rel))
        return (_GROUP[r.status], rank, r.name)
    return sorted(rows, key=order)


def _row(name: str, status: str, info_a=None, info_b=None) -> DiffRow:
    row = DiffRow(name, status,
                  key_a=info_a.name if info_a else None, key_b=info_b.name if info_b else None,
                  shape_a=list(info_a.shape) if info_a else None,
                  shape_b=list(info_b.shape) if info_b else None,
                  dtype_a=info_a.dtype_name if info_a else None,
                  dtype_b=info_b.dtype_name if info_b else None)
    row.size = (info_a or info_b).size
    row.dtype_changed = bool(info_a and info_b and info_a.dtype_name != info_b.dtype_name)
    return row


def _copy_row(row: DiffRow) -> DiffRow:
    """A row that shares nothing mutable with `row` (cache entries stay as computed). Only
    rows of pairs are cached: both shapes are known."""
    return replace(row, shape_a=list(row.shape_a), shape_b=list(row.shape_b))


def _finish(row: DiffRow, total: _Delta, same_dtype: bool) -> None:
    row.l2_delta = math.sqrt(total.sq_delta)
    row.l2_a = math.sqrt(total.sq_base)
    row.rel_l2 = _ratio(total.sq_delta, total.sq_base)
    row.max_abs_delta = math.nan if total.nan else total.abs_max
    row.mean_abs_delta = total.abs_sum / total.n if total.n else 0.0
    row.status = "unchanged" if same_dtype and total.equal else "changed"


def _compare(pool, row: DiffRow, ra, rb, chunk_bytes: int, tick) -> None:
    """Fill in a row of two same-shape tensors."""
    ia, ib = ra.tensors[row.key_a], rb.tensors[row.key_b]
    if ia.dtype.is_string or ib.dtype.is_string:
        va, vb = ra.read(row.key_a), rb.read(row.key_b)
        tick(ia.nbytes + ib.nbytes)
        equal = (ia.dtype.is_string and ib.dtype.is_string
                 and va.ravel().tolist() == vb.ravel().tolist())
        row.status = "unchanged" if equal else "changed"
        return
    same_dtype = ia.dtype_name == ib.dtype_name
    total = _Delta()
    streams = _streams([(ra, row.key_a), (rb, row.key_b)], chunk_bytes)
    items = (_Item(pieces) for pieces in _aligned(streams))
    pipeline(pool, items, lambda it: _delta_part(it.pieces[0], it.pieces[1], same_dtype),
              total.merge, tick)
    _finish(row, total, same_dtype)


def diff(reader_a, reader_b, progress=None, cancelled=None, chunk_bytes: int = CHUNK_BYTES,
         cache: ResultCache | None = None) -> list[DiffRow]:
    """Compare every variable of checkpoint A with its partner in B (see `match`): rows
    sorted by `sort_rows`. Tensors are streamed in chunks of `chunk_bytes` (the same on
    both sides), except partitioned ones whose layouts differ (module docstring).
    `progress(fraction)` is called as bytes are read; `cancelled()` returning True stops
    with stats.Cancelled. A tensor that cannot be read, or whose data fails its crc32c,
    becomes an "unreadable" row with the reason in `problem`; the others go on.
    With `cache`, rows of pairs compared before (same files, same keys) are reused."""
    m = match(reader_a, reader_b)
    ta, tb = reader_a.tensors, reader_b.tensors
    rows = [_row(ta[k].display_name, "removed", info_a=ta[k]) for k in m.only_a]
    rows += [_row(tb[k].display_name, "added", info_b=tb[k]) for k in m.only_b]
    for row in rows:  # one side only, but its index already says it cannot be read
        reader, info = (reader_a, ta[row.key_a]) if row.key_a else (reader_b, tb[row.key_b])
        if info.problem:
            row.problem = f"{reader.index_path}: {info.problem}"
    todo: list[DiffRow] = []
    ident = (_identity(reader_a), _identity(reader_b)) if cache is not None else None
    for ka, kb in m.pairs:
        row = _row(ta[ka].display_name, "changed", ta[ka], tb[kb])
        if ta[ka].problem or tb[kb].problem:
            row.status = "unreadable"
            row.problem = "; ".join(f"{side}: {t.problem}" for side, t in
                                    (("A", ta[ka]), ("B", tb[kb])) if t.problem)
        elif ta[ka].shape != tb[kb].shape:
            row.status = "reshaped"
        else:
            hit = cache.get(("diff", ident, ka, kb)) if cache is not None else None
            if hit is not None:
                row = _copy_row(hit)
            else:
                todo.append(row)
        rows.append(row)

    total_bytes = sum(ta[r.key_a].nbytes + tb[r.key_b].nbytes for r in todo)
    tick = Ticker(total_bytes, progress, cancelled)

    with ThreadPoolExecutor(THREADS, thread_name_prefix="compare") as pool:
        for row in todo:
            tick(0)
            try:
                _compare(pool, row, reader_a, reader_b, chunk_bytes, tick)
            except (FormatError, MemoryError, ValueError) as e:
                row.status = "unreadable"
                row.problem = str(e) or type(e).__name__  # FormatError's text names the file
                continue
            if cache is not None:
                cache.put(("diff", ident, row.key_a, row.key_b), _copy_row(row))
    if progress is not None:
        progress(1.0)
    return sort_rows(rows)


def _delta_type(ia, ib, dtype) -> np.dtype:
    """The element type of B − A: `dtype` (float64 or float32), or the complex type of
    the same precision when either side is complex."""
    out = np.dtype(dtype)
    if ia.dtype.is_complex or ib.dtype.is_complex:
        out = np.dtype(np.complex128 if out.itemsize >= 8 else np.complex64)
    return out


def delta_chunks(reader_a, reader_b, key_a: str, key_b: str | None = None,
                 chunk_bytes: int = CHUNK_BYTES, dtype=np.float64):
    """B − A as flat arrays (new ones, of `dtype`; complex for complex tensors), in
    row-major order of the tensor; each difference is taken in float64 (complex128) and
    then stored as `dtype`. Made for `stats.compute(lambda: delta_chunks(...), nbytes)`:
    the delta's statistics and histogram, streamed."""
    key_b = key_a if key_b is None else key_b
    ia, ib = reader_a.tensors[key_a], reader_b.tensors[key_b]
    for info in (ia, ib):
        if info.problem:
            raise FormatError(None, f"{info.name}: {info.problem}")
        if info.dtype.is_string:
            raise ValueError(f"{info.name} holds strings: a delta needs numbers")
    if ia.shape != ib.shape:
        raise ValueError(f"shapes differ: {list(ia.shape)} against {list(ib.shape)}")
    out_type = _delta_type(ia, ib, dtype)
    wide = np.complex128 if dtypes.kind(out_type) == "complex" else np.float64
    streams = _streams([(reader_a, key_a), (reader_b, key_b)], chunk_bytes, flat=True)
    for a, b in _aligned(streams):
        out = np.empty(a.size, dtype=out_type)
        np.subtract(_numeric(b), _numeric(a), out=out, dtype=wide, casting="unsafe")
        yield out


def delta(reader_a, reader_b, key_a: str, key_b: str | None = None) -> np.ndarray:
    """B − A shaped like the tensor, for display (a heatmap): float64, or float32 above
    DELTA_FLOAT64_ELEMENTS elements to halve the memory (complex128/complex64 for complex
    tensors). Built piece by piece: only the result is held whole."""
    ia = reader_a.tensors[key_a]
    ib = reader_b.tensors[key_a if key_b is None else key_b]
    dtype = np.float64 if ia.size <= DELTA_FLOAT64_ELEMENTS else np.float32
    out = np.empty(ia.size, dtype=_delta_type(ia, ib, dtype))
    pos = 0
    for piece in delta_chunks(reader_a, reader_b, key_a, key_b, dtype=dtype):
        out[pos:pos + piece.size] = piece
        pos += piece.size
    return out.reshape(ia.shape)


# -- trend of one variable over a run ----------------------------------------------------

@dataclass
class TrendPoint:
    """One checkpoint's view of the variable. Moments, min, max and the histogram are over
    the finite values (as `stats`); the relative changes are over all values, so a NaN or
    Inf in either tensor makes them NaN or inf. `problem` says why a checkpoint has no
    values (the variable is absent, unreadable or holds strings)."""
    step: int | None
    prefix: str
    key: str | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    size: int = 0
    mean: float | None = None
    std: float | None = None
    norm: float | None = None
    min: float | None = None
    max: float | None = None
    zeros: int = 0
    nan: int = 0
    inf: int = 0
    rel_change_first: float | None = None   # ‖x − x₀‖ / ‖x₀‖ (x₀: first step with values)
    rel_change_prev: float | None = None    # ‖x − x_prev‖ / ‖x_prev‖ (the one before it)
    counts: list[int] = field(default_factory=list)
    problem: str | None = None


@dataclass
class Trend:
    name: str
    bins: int
    edges: list[float] = field(default_factory=list)   # shared by every step's counts
    points: list[TrendPoint] = field(default_factory=list)
    reads_per_checkpoint: int = 1

    def to_json(self) -> dict:
        steps = []
        for p in self.points:
            steps.append({"step": p.step, "mean": p.mean, "std": p.std, "norm": p.norm,
                          "min": p.min, "max": p.max, "rel_change_first": p.rel_change_first,
                          "rel_change_prev": p.rel_change_prev,
                          "histogram": {"edges": list(self.edges) if p.counts else [],
                                        "counts": list(p.counts)},
                          "prefix": p.prefix, "key": p.key, "shape": p.shape, "dtype": p.dtype,
                          "size": p.size, "zeros": p.zeros, "nan": p.nan, "inf": p.inf,
                          "problem": p.problem})
        return {"name": self.name, "bins": self.bins, "edges": list(self.edges),
                "reads_per_checkpoint": self.reads_per_checkpoint, "steps": steps}


def _resolve(reader, key: str, display: str | None) -> str | None:
    """This checkpoint's key for the variable: the key itself, else the tensor whose
    readable name is `key` or `display` (TF2 checkpoints of one model that moved keys)."""
    if key in reader.tensors:
        return key
    for want in (key, display):
        hits = [t.name for t in reader.tensors.values() if want and t.display_name == want]
        if len(hits) == 1:
            return hits[0]
    return None


def _copy_point(p: TrendPoint) -> TrendPoint:
    return replace(p, shape=None if p.shape is None else list(p.shape), counts=list(p.counts))


def trend(readers_by_step, key: str, bins: int = DEFAULT_BINS, progress=None,
          cancelled=None, cache: ResultCache | None = None,
          stream_bytes: int = TREND_STREAM_BYTES, keep_bytes: int = TREND_KEEP_BYTES) -> Trend:
    """One variable followed over checkpoints: `readers_by_step` is [(step, reader), …] in
    run order, `key` its checkpoint key (or readable name). Every step gets the statistics
    of `stats` plus the relative L2 change to the first and to the previous step, and
    histogram counts over `bins` edges shared by all steps (global min..max of the finite
    values, as numpy's histogram would make them for that range).

    Reads per checkpoint: 1 when all steps' tensors together fit in `keep_bytes`, else 2
    (see the module docstring). Steps streamed in lockstep share `stream_bytes` of chunks.
    If the steps store the tensor in different layouts (partitioned in some), the
    partitioned ones are reassembled whole for pass 1. Steps whose shape differs from the
    first step's get statistics and a histogram but no relative changes (nor do they serve
    as "previous"). Data failing its crc32c stops the trend with CorruptDataError."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    readers_by_step = list(readers_by_step)
    display = None
    for _step, reader in readers_by_step:
        if key in reader.tensors:
            display = reader.tensors[key].display_name
            break
    cache_key = None
    if cache is not None:
        cache_key = ("trend", tuple((s, _identity(r)) for s, r in readers_by_step), key, bins)
        hit = cache.get(cache_key)
        if hit is not None:
            return replace(hit, edges=list(hit.edges), points=[_copy_point(p) for p in hit.points])

    result = Trend(name=display or key, bins=bins)
    present: list[tuple[TrendPoint, object, object]] = []  # (point, reader, info)
    for step, reader in readers_by_step:
        point = TrendPoint(step, reader.prefix)
        result.points.append(point)
        k = _resolve(reader, key, display)
        if k is None:
            point.problem = "not in this checkpoint"
            continue
        info = reader.tensors[k]
        point.key, point.shape = k, list(info.shape)
        point.dtype, point.size = info.dtype_name, info.size
        if info.problem:
            point.problem = info.problem
        elif info.dtype.is_string:
            point.problem = "holds strings: no statistics"
        else:
            present.append((point, reader, info))
    if not present:
        return result

    shape0 = present[0][2].shape
    group = [e for e in present if e[2].shape == shape0]   # streamed in lockstep
    alone = [e for e in present if e[2].shape != shape0]
    data_bytes = sum(info.nbytes for _p, _r, info in present)
    keep = data_bytes <= keep_bytes
    result.reads_per_checkpoint = 1 if keep else 2
    if keep:  # one chunk per stored piece: nothing needs cutting, all of it is kept
        chunk_bytes = max(1, max(info.nbytes for _p, _r, info in present))
    else:
        chunk_bytes = max(1, stream_bytes // len(group))
    total_bytes = data_bytes * result.reads_per_checkpoint
    tick = Ticker(total_bytes, progress, cancelled)

    parts = {id(p): Part() for p, _r, _i in present}
    kept: dict[int, list[np.ndarray]] = {id(p): [] for p, _r, _i in present}
    n = len(group)
    sq_first = [0.0] * n
    sq_prev = [0.0] * n

    def lockstep(item: _Item):
        return _lockstep(item.pieces)

    def gather(result_):
        summaries, first, prev = result_
        for i in range(n):
            merge(parts[id(group[i][0])], summaries[i])
            sq_first[i] += first[i]
            sq_prev[i] += prev[i]

    def keeping(pieces, points):
        for pieces_ in pieces:
            if keep:
                for p, x in zip(points, pieces_):
                    kept[id(p)].append(x)
            yield _Item(pieces_)

    with ThreadPoolExecutor(THREADS, thread_name_prefix="trend") as pool:
        # Pass 1: moments, min, max and the changes; every tensor read once.
        streams = _streams([(r, p.key) for p, r, _i in group], chunk_bytes)
        pipeline(pool, keeping(_aligned(streams), [p for p, _r, _i in group]),
                  lockstep, gather, tick)
        for p, r, _i in alone:
            single = (pieces for pieces in _aligned([r.chunks(p.key, chunk_bytes)]))
            pipeline(pool, keeping(single, [p]), lambda it: summarise(it.pieces[0]),
                     lambda s, p=p: merge(parts[id(p)], s), tick)

        for p, _r, _i in present:
            part = parts[id(p)]
            p.nan, p.inf, p.zeros = part.nan, part.inf, part.zeros
            if part.n:
                p.min, p.max = part.lo.item(), part.hi.item()
                p.mean, p.std = part.mean, math.sqrt(part.m2 / part.n)
                p.norm = math.sqrt(part.sumsq)
        base0 = parts[id(group[0][0])].sumsq   # ‖x₀‖² over its finite values
        for i, (p, _r, _i) in enumerate(group):
            p.rel_change_first = _ratio(sq_first[i], base0)
            if i:
                p.rel_change_prev = _ratio(sq_prev[i], parts[id(group[i - 1][0])].sumsq)

        # Pass 2: histograms over the shared range.
        valued = [parts[id(p)] for p, _r, _i in present if parts[id(p)].n]
        if valued:
            lo, hi, as_f64 = _shared_range(valued)
            result.edges = [float(e) for e in np.histogram(
                np.empty(0, dtype=np.float64 if as_f64 else valued[0].lo.dtype),
                bins=bins, range=(lo, hi))[1]]

            def histogram(raw):
                x = finite(prepare(raw))[0]
                if as_f64:
                    x = x.astype(np.float64)
                return np.histogram(x, bins=bins, range=(lo, hi))[0]

            for p, r, _i in present:
                counts = np.zeros(bins, dtype=np.int64)

                def add(c, counts=counts):
                    counts += c
                if keep:
                    for x in kept.pop(id(p)):
                        add(histogram(x))
                else:
                    pipeline(pool, r.chunks(p.key, chunk_bytes), histogram, add, tick)
                p.counts = [int(c) for c in counts]
        kept.clear()
    if progress is not None:
        progress(1.0)
    if cache is not None:
        cache.put(cache_key, replace(result, edges=list(result.edges),
                                     points=[_copy_point(p) for p in result.points]))
    return result


def _ratio(sq_num: float, sq_den: float) -> float:
    """sqrt(sq_num) / sqrt(sq_den) for sums of squares, with 0/0 = 0 and x/0 = inf
    (NaN stays NaN)."""
    num, den = math.sqrt(sq_num), math.sqrt(sq_den)
    if num != num or den != den:
        return math.nan
    if den > 0:
        return num / den
    return 0.0 if num == 0 else math.inf


def _shared_range(parts: list[Part]):
    """(lo, hi, in float64?) for histograms shared by several steps. Kept in the data's
    own type when all steps share one, so the edges are numpy's for that tensor; float64
    when the types differ or the range overflows the type (as `stats` does)."""
    types = {p.lo.dtype for p in parts}
    # numpy's own comparison, not float(): int64 values past 2**53 that round to one float
    # must still give the true minimum, or np.histogram drops the smaller one
    lo = min(p.lo for p in parts)
    hi = max(p.hi for p in parts)
    as_f64 = len(types) > 1
    if not as_f64 and dtypes.kind(lo.dtype) == "float":
        with np.errstate(over="ignore"):
            as_f64 = not np.isfinite(hi - lo)
    if as_f64:
        lo, hi = np.float64(lo), np.float64(hi)
    return lo, hi, as_f64
