"""Scalars and histograms from a training run's TensorFlow event files, without TensorFlow.

Summary writers (TF1 `FileWriter`, TF2 `tf.summary`, Keras' TensorBoard callback, an
Estimator) append `Event` protos to `events.out.tfevents.*` files as TFRecords:

    uint64 length | uint32 masked crc32c(length) | data[length] | uint32 masked crc32c(data)

in the run folder and in subfolders such as `train/` and `eval/`. Each subfolder is a
"run" (named relative to the run folder, "." for the folder itself).

From tensorboard only the message classes are used (`event_pb2`, `summary_pb2`) and the
plugin names. Its `event_file_loader` is not: it imports TensorFlow whenever TensorFlow is
installed (`tensorboard.compat.tf`), and without it falls back to a record reader that
computes crc32c byte by byte in Python and cannot start at an offset. The framing is read
here instead, with the `crc32c` package and the masked-crc helper of the index reader, so
a reader can resume a live file at the byte where it stopped.

Nothing here raises for a bad file: what cannot be read becomes a `Note`.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from array import array
from dataclasses import dataclass, field, replace

import crc32c
import numpy as np
from tensorboard.compat.proto import event_pb2

from . import tensors
from .event_files import DEFAULT_MAX_DEPTH, EVENT_FILE_MARK, find_event_files, is_event_file_name  # noqa: F401
from .crc import MASK_DELTA, mask_crc


# Plugin names (tensorboard.plugins.*.metadata.PLUGIN_NAME), spelled out so this module does
# not import tensorboard's plugin packages (the frozen app leaves them out).
SCALARS_PLUGIN = "scalars"
HISTOGRAMS_PLUGIN = "histograms"

_HEADER = 12                      # length + its crc
_FOOTER = 4                       # crc of the data
CHUNK_BYTES = 4 << 20             # read a file this much at a time: memory stays flat
RESYNC_LIMIT = 1 << 20            # after a bad header, look this far for the next record
_CANCEL_EVERY = 4096              # records between two calls of `cancelled()`

_DBL_MAX = float(np.finfo(np.float64).max)
_unpack_len = struct.Struct("<QI").unpack_from
_unpack_crc = struct.Struct("<I").unpack_from
_unpack_f32 = struct.Struct("<f").unpack
_parse_event = event_pb2.Event.FromString
_MASK_DELTA = MASK_DELTA          # inlined below: the record loop is hot (see crc.mask_crc)


# ---------------------------------------------------------------------------- results

@dataclass
class Note:
    """Something not read, or not read yet. `kind` is one of:

    - "truncated": the last record is incomplete, as while training writes it; the earlier
      records are read, and an `EventReader` reads that record again next time.
    - "corrupt": a record fails its crc32c (or does not parse); it is skipped.
    - "not-events": the file does not start with a record; nothing of it is read.
    - "unreadable": the file cannot be opened or read.
    - "skipped": summary values of a tag that are not what was asked for (strings,
      non-scalar tensors in the scalars plugin, images, ...); `count` says how many.
    """
    kind: str
    path: str
    offset: int | None
    message: str
    run: str | None = None
    tag: str | None = None
    count: int = 1

    @property
    def is_problem(self) -> bool:
        """Damage, as opposed to a file still being written or a value of another kind."""
        return self.kind in ("corrupt", "not-events", "unreadable")

    def __str__(self) -> str:
        where = f"{self.path} at byte {self.offset}" if self.offset is not None else self.path
        times = f" ({self.count}x)" if self.count > 1 else ""
        return f"{where}: {self.message}{times}"


@dataclass
class ScalarSeries:
    """One tag of one run, in the order the points were written (file order)."""
    run: str
    tag: str
    steps: np.ndarray          # int64
    wall_times: np.ndarray     # float64, seconds since the epoch
    values: np.ndarray         # float64 (float32 summaries widen exactly)

    def __len__(self) -> int:
        return len(self.steps)

    def last_per_step(self) -> ScalarSeries:
        """Sorted by step with one point per step, the last one written: a run restarted
        from a checkpoint writes its steps again, and the later values are the ones that
        continued."""
        order = np.argsort(self.steps[::-1], kind="stable")
        rev = len(self.steps) - 1 - order            # indices in the original, last first
        steps = self.steps[rev]
        keep = np.ones(len(steps), bool)
        keep[1:] = steps[1:] != steps[:-1]
        rev = rev[keep]
        return ScalarSeries(self.run, self.tag, self.steps[rev], self.wall_times[rev], self.values[rev])


@dataclass
class HistogramPoint:
    """One histogram: bucket i holds `counts[i]` values in (left[i], right[i]].

    TF1's HistogramProto stores only right limits; bucket i starts where bucket i-1 ends and
    the first at -DBL_MAX (TensorFlow's lowest limit), so `left[0]` is -DBL_MAX; `min` and
    `max` are the proto's. TF2 histograms store (left, right, count) rows as they are, and
    `min`/`max` are NaN."""
    step: int
    wall_time: float
    left: np.ndarray           # float64
    right: np.ndarray          # float64
    counts: np.ndarray         # float64
    min: float = float("nan")
    max: float = float("nan")

    @property
    def edges(self) -> np.ndarray:
        """(k, 2) array of (left, right) per bucket."""
        return np.stack([self.left, self.right], axis=1)


@dataclass
class HistogramSeries:
    run: str
    tag: str
    points: list[HistogramPoint]

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class EventData:
    """What one read found. With an `EventReader`, only what was appended since its last
    read."""
    series: list[ScalarSeries] = field(default_factory=list)
    histograms: list[HistogramSeries] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: int = 0              # event files looked at
    bytes_read: int = 0         # bytes read from disk by this call
    cancelled: bool = False     # `cancelled()` said stop: the rest is read next time

    @property
    def problems(self) -> list[Note]:
        return [n for n in self.notes if n.is_problem]

    def scalar(self, run: str, tag: str) -> ScalarSeries | None:
        return next((s for s in self.series if s.run == run and s.tag == tag), None)

    def histogram(self, run: str, tag: str) -> HistogramSeries | None:
        return next((h for h in self.histograms if h.run == run and h.tag == tag), None)


# ---------------------------------------------------------------------------- discovery

# ---------------------------------------------------------------------------- reading

def _valid_header(buf, pos: int) -> bool:
    return mask_crc(crc32c.crc32c(buf[pos:pos + 8])) == _unpack_len(buf, pos)[1]


class _Run:
    """Per run: the plugin each tag was declared with (TF writers may send the metadata only
    with a tag's first value), and the points gathered by the current read."""

    def __init__(self, name: str):
        self.name = name
        self.plugin: dict[str, str] = {}
        self.wanted: dict[str, bool] = {}
        self.scalars: dict[str, tuple[array, array, array]] = {}
        self.histograms: dict[str, list[HistogramPoint]] = {}
        self.skipped: dict[tuple[str, str], Note] = {}


class _FileState:
    __slots__ = ("path", "run", "offset", "dead")

    def __init__(self, path: str, run: str):
        self.path = path
        self.run = run
        self.offset = 0         # where the next unread record starts
        self.dead = False       # not an event file: never read again


class EventReader:
    """Reads a run folder's event files, and on every later `read()` only the bytes
    appended since: it keeps, per file, the offset of the first record not read yet. An
    incomplete last record (training still writing it) is left for the next read.

    `tag_regex` (a pattern or compiled regex) keeps the tags it finds (`re.search`).
    `scalars` / `histograms` choose what is gathered."""

    def __init__(self, run_folder: str, tag_regex=None, *, scalars: bool = True,
                 histograms: bool = False, max_depth: int = DEFAULT_MAX_DEPTH):
        self.run_folder = os.fspath(run_folder)
        self.tag_regex = re.compile(tag_regex) if isinstance(tag_regex, str) else tag_regex
        self.want_scalars = scalars
        self.want_histograms = histograms
        self.max_depth = max_depth
        self._files: dict[str, _FileState] = {}
        self._runs: dict[str, _Run] = {}

    @property
    def offsets(self) -> dict[str, int]:
        """Per event file path, the byte where the next read starts."""
        return {p: f.offset for p, f in self._files.items()}

    def read(self, progress=None, cancelled=None) -> EventData:
        """Everything written since the last call (all of it the first time).

        `progress(fraction)` is called as bytes are read; when `cancelled()` returns True
        the read stops between two records, the result says `cancelled`, and the next call
        goes on from there."""
        result = EventData()
        todo = []
        for run, paths in find_event_files(self.run_folder, self.max_depth).items():
            for path in paths:
                state = self._files.get(path)
                if state is None:
                    state = self._files[path] = _FileState(path, run)
                if state.dead:
                    continue
                try:
                    size = _regular_size(path)
                except OSError as e:
                    result.notes.append(Note("unreadable", path, None, f"cannot read: {e.strerror or e}", run))
                    continue
                if size < state.offset:
                    result.notes.append(Note("truncated", path, size,
                                             f"file shrank from {state.offset} bytes; read again from the start", run))
                    state.offset = 0
                todo.append((state, size))
        result.files = len(todo)
        total = sum(size - state.offset for state, size in todo) or 1
        done = 0

        def tick(n: int) -> bool:
            nonlocal done
            done += n
            if progress is not None:
                progress(min(1.0, done / total))
            return cancelled is not None and cancelled()

        for state, size in todo:
            run = self._runs.get(state.run)
            if run is None:
                run = self._runs[state.run] = _Run(state.run)
            if self._read_file(state, size, run, result, tick):
                result.cancelled = True
                break
        if progress is not None and not result.cancelled:
            progress(1.0)
        self._collect(result)
        return result

    # -- one file -------------------------------------------------------------------------

    def _read_file(self, state: _FileState, size: int, run: _Run, result: EventData, tick) -> bool:
        """Read state.path from state.offset up to `size`; True if cancelled."""
        path = state.path
        try:
            f = open(path, "rb")
        except OSError as e:
            result.notes.append(Note("unreadable", path, None, f"cannot read: {e.strerror or e}", run.name))
            return False
        handle = self._event
        crc = crc32c.crc32c
        unpack_len, unpack_crc = _unpack_len, _unpack_crc
        with f:
            base = state.offset        # file offset of buf[0]
            f.seek(base)
            buf = b""
            pos = 0                    # next record in buf
            while True:
                avail = len(buf)
                # Every whole record in the buffer; the masking of crc32c.crc32c is written
                # out (crc.mask_crc's formula) as calls cost more than the checksums here.
                # A header is checked before its length is trusted for anything.
                count = 0
                need = _HEADER         # bytes the record at pos needs in buf
                while avail - pos >= _HEADER:
                    length, stored = unpack_len(buf, pos)
                    c = crc(buf[pos:pos + 8])
                    if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != stored:
                        break
                    end = pos + _HEADER + length
                    if end + _FOOTER > avail:
                        need = end + _FOOTER - pos
                        break
                    data = buf[pos + _HEADER:end]
                    c = crc(data)
                    if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != unpack_crc(buf, end)[0]:
                        result.notes.append(Note("corrupt", path, base + pos,
                                                 f"record of {length} bytes fails its crc32c check: skipped", run.name))
                    else:
                        handle(data, run, path, base + pos, result)
                    pos = end + _FOOTER
                    need = _HEADER
                    count += 1
                    if count >= _CANCEL_EVERY:
                        count = 0
                        if tick(0):
                            state.offset = base + pos
                            return True
                if avail - pos >= need:
                    # Stopped at a header that fails its crc.
                    if base + pos == 0:
                        result.notes.append(Note("not-events", path, 0,
                                                 "does not start with a TFRecord: not an event file", run.name))
                        state.dead = True
                        state.offset = size
                        return False
                    nxt = self._resync(f, buf, pos, base, size, result)
                    if nxt is None:
                        result.notes.append(Note(
                            "corrupt", path, base + pos, f"bad record header and no valid record in the next "
                            f"{RESYNC_LIMIT} bytes: the rest of the file is skipped", run.name))
                        state.dead = True
                        state.offset = size
                        return False
                    buf, nbase = nxt
                    result.notes.append(Note("corrupt", path, base + pos, "bad record header (crc32c): "
                                             f"skipped to the next valid record at byte {nbase}", run.name))
                    base, pos, need = nbase, 0, _HEADER
                    continue
                # The next record is not wholly in the buffer: read on.
                left = size - (base + avail)
                if left <= 0:
                    break
                try:
                    more = f.read(min(left, max(CHUNK_BYTES, need - (avail - pos))))
                except OSError as e:
                    result.notes.append(Note("unreadable", path, base + avail,
                                             f"cannot read: {e.strerror or e}", run.name))
                    break
                if not more:
                    break
                result.bytes_read += len(more)
                buf = buf[pos:] + more
                base += pos
                pos = 0
                if tick(len(more)):
                    state.offset = base
                    return True
            state.offset = base + pos
            if base + pos < size:
                result.notes.append(Note("truncated", path, base + pos,
                                         f"last record incomplete ({size - base - pos} of {need} bytes; still being "
                                         "written?): read on the next refresh", run.name))
        return False

    def _resync(self, f, buf, pos, base, size, result):
        """After a header that fails its crc: the next offset (within RESYNC_LIMIT) where a
        whole valid frame starts, as (buffer starting there, its file offset); None if none."""
        want = min(size - base, pos + RESYNC_LIMIT + (64 << 10))
        if len(buf) < want:   # scan a bounded window; later records are read as usual
            more = f.read(want - len(buf))
            result.bytes_read += len(more)
            buf = buf + more
        stop = min(len(buf) - _HEADER, pos + RESYNC_LIMIT)
        for p in range(pos + 1, stop + 1):
            if not _valid_header(buf, p):
                continue
            length = _unpack_len(buf, p)[0]
            end = p + _HEADER + length
            if end + _FOOTER > len(buf):
                if base + end + _FOOTER > size:
                    continue
                more = f.read(base + end + _FOOTER - (base + len(buf)))
                result.bytes_read += len(more)
                buf = buf + more
            if mask_crc(crc32c.crc32c(buf[p + _HEADER:end])) == _unpack_crc(buf, end)[0]:
                return buf[p:], base + p
        return None

    # -- one event ------------------------------------------------------------------------

    def _event(self, data: bytes, run: _Run, path: str, offset: int, result: EventData) -> None:
        try:
            event = _parse_event(data)
        except Exception:
            result.notes.append(Note("corrupt", path, offset, "record is not an Event proto: skipped", run.name))
            return
        if not event.HasField("summary"):
            return      # file_version, graph, session log, run metadata: not series
        step = event.step
        wall_time = event.wall_time
        wanted = run.wanted
        scalars = run.scalars if self.want_scalars else None
        for value in event.summary.value:
            tag = value.tag
            ok = wanted.get(tag)
            if ok is None:
                ok = wanted[tag] = self.tag_regex is None or self.tag_regex.search(tag) is not None
            if not ok:
                continue
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                if scalars is not None:
                    cols = scalars.get(tag) or self._new_series(run, tag)
                    cols[0].append(step)
                    cols[1].append(wall_time)
                    cols[2].append(value.simple_value)
            elif kind == "tensor":
                plugin = value.metadata.plugin_data.plugin_name
                if plugin:
                    run.plugin[tag] = plugin
                else:
                    plugin = run.plugin.get(tag, "")
                if plugin == SCALARS_PLUGIN:
                    if scalars is not None:
                        tp = value.tensor
                        content = tp.tensor_content
                        # The TF2 writers' form: a float32 of shape [] in tensor_content.
                        if tp.dtype == 1 and len(content) == 4 and not tp.tensor_shape.dim:
                            cols = scalars.get(tag) or self._new_series(run, tag)
                            cols[0].append(step)
                            cols[1].append(wall_time)
                            cols[2].append(_unpack_f32(content)[0])
                        else:
                            self._tensor_scalar(tp, run, tag, step, wall_time, path, offset)
                elif plugin == HISTOGRAMS_PLUGIN:
                    if self.want_histograms:
                        self._tensor_histogram(value.tensor, run, tag, step, wall_time, path, offset)
                else:
                    what = f"a {plugin} summary" if plugin else "a tensor summary of no known plugin"
                    if value.tensor.dtype == 7:
                        what += " (strings)"
                    self._skip(run, tag, path, offset, f"{what}, not a scalar or histogram")
            elif kind == "histo":
                if self.want_histograms:
                    self._proto_histogram(value.histo, run, tag, step, wall_time)
            else:
                self._skip(run, tag, path, offset, f"{kind or 'empty'} summary, not a scalar or histogram")

    @staticmethod
    def _new_series(run: _Run, tag: str) -> tuple[array, array, array]:
        cols = run.scalars[tag] = (array("q"), array("d"), array("d"))
        return cols

    def _add_scalar(self, run: _Run, tag: str, step: int, wall_time: float, value: float) -> None:
        cols = run.scalars.get(tag) or self._new_series(run, tag)
        cols[0].append(step)
        cols[1].append(wall_time)
        cols[2].append(value)

    def _tensor_scalar(self, tp, run, tag, step, wall_time, path, offset) -> None:
        """A scalars-plugin tensor in any other form than the one `_event` reads inline."""
        try:
            arr = tensors.to_array(tp)
        except ValueError as e:
            self._skip(run, tag, path, offset, f"scalar tensor that does not decode ({e})")
            return
        if arr.dtype.kind in "OSUc":
            what = "string" if tp.dtype == 7 else str(arr.dtype)
            self._skip(run, tag, path, offset, f"{what} tensor in the scalars plugin, not a number")
            return
        if arr.size != 1:
            self._skip(run, tag, path, offset, f"tensor of shape {list(arr.shape)} in the scalars plugin, not a scalar")
            return
        try:
            self._add_scalar(run, tag, step, wall_time, float(arr.reshape(-1)[0]))
        except (TypeError, ValueError):
            self._skip(run, tag, path, offset, f"{arr.dtype} tensor in the scalars plugin, not a number")

    def _tensor_histogram(self, tp, run, tag, step, wall_time, path, offset) -> None:
        try:
            arr = tensors.to_array(tp)
        except ValueError as e:
            self._skip(run, tag, path, offset, f"histogram tensor that does not decode ({e})")
            return
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.dtype.kind not in "fiu":
            self._skip(run, tag, path, offset,
                       f"{arr.dtype} tensor of shape {list(arr.shape)} in the histograms plugin, not [k, 3]")
            return
        arr = arr.astype(np.float64)
        run.histograms.setdefault(tag, []).append(
            HistogramPoint(step, wall_time, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()))

    def _proto_histogram(self, histo, run, tag, step, wall_time) -> None:
        right = np.array(histo.bucket_limit, dtype=np.float64)
        counts = np.array(histo.bucket, dtype=np.float64)
        k = min(len(right), len(counts))
        right, counts = right[:k], counts[:k]
        left = np.empty(k, np.float64)
        if k:
            left[0] = -_DBL_MAX
            left[1:] = right[:-1]
        run.histograms.setdefault(tag, []).append(
            HistogramPoint(step, wall_time, left, right, counts, histo.min, histo.max))

    def _skip(self, run: _Run, tag: str, path: str, offset: int, why: str) -> None:
        note = run.skipped.get((tag, why))
        if note is None:
            run.skipped[(tag, why)] = Note("skipped", path, offset, f"tag {tag!r}: {why}: skipped", run.name, tag)
        else:
            note.count += 1

    # -- results --------------------------------------------------------------------------

    def _collect(self, result: EventData) -> None:
        """Move what this read gathered into `result` (runs, then tags, in first-seen order)."""
        for run in self._runs.values():
            for tag, (steps, walls, values) in run.scalars.items():
                # (a tag's columns exist once it has a point: never empty here)
                result.series.append(ScalarSeries(
                    run.name, tag, np.frombuffer(steps, np.int64).copy(), np.frombuffer(walls, np.float64).copy(),
                    np.frombuffer(values, np.float64).copy()))
            for tag, points in run.histograms.items():
                result.histograms.append(HistogramSeries(run.name, tag, points))
            result.notes.extend(run.skipped.values())
            run.scalars, run.histograms, run.skipped = {}, {}, {}


def _regular_size(path: str) -> int:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(0, "not a regular file")
    return st.st_size


# ---------------------------------------------------------------------------- one-shot

def read_scalars(run_folder: str, tag_regex=None, progress=None, cancelled=None,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> EventData:
    """Every scalar series (TF1 `simple_value`s and TF2 scalars-plugin tensors) of the event
    files in `run_folder` and its subfolders."""
    return EventReader(run_folder, tag_regex, max_depth=max_depth).read(progress, cancelled)


def read_histograms(run_folder: str, tag_regex=None, progress=None, cancelled=None,
                    max_depth: int = DEFAULT_MAX_DEPTH) -> EventData:
    """Every histogram series (TF1 `HistogramProto`s and TF2 histograms-plugin [k, 3]
    tensors) of the event files in `run_folder` and its subfolders, in `.histograms`."""
    return EventReader(run_folder, tag_regex, scalars=False, histograms=True,
                       max_depth=max_depth).read(progress, cancelled)


# ---------------------------------------------------------------------------- growing

def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return b.copy() if not len(a) else (a if not len(b) else np.concatenate([a, b]))


def merged(old: EventData, new: EventData) -> EventData:
    """`old` followed by `new` (a later read of the same files): series of the same run and
    tag joined, new ones added. Damage noted before stays noted; a "truncated" note of an
    earlier read is dropped (its record was read since, or `new` says so again); skipped
    values are counted together. Neither argument is changed."""
    out = EventData(files=new.files, bytes_read=new.bytes_read, cancelled=new.cancelled)
    fresh = {(s.run, s.tag): s for s in new.series}
    for s in old.series:
        n = fresh.pop((s.run, s.tag), None)
        out.series.append(s if n is None else ScalarSeries(
            s.run, s.tag, _join(s.steps, n.steps), _join(s.wall_times, n.wall_times),
            _join(s.values, n.values)))
    out.series.extend(fresh.values())
    hist = {(h.run, h.tag): h for h in new.histograms}
    for h in old.histograms:
        n = hist.pop((h.run, h.tag), None)
        out.histograms.append(h if n is None else HistogramSeries(h.run, h.tag, h.points + n.points))
    out.histograms.extend(hist.values())
    skipped: dict[tuple, Note] = {}
    for note in [n for n in old.notes if n.kind != "truncated"] + list(new.notes):
        if note.kind != "skipped":
            out.notes.append(note)
            continue
        key = (note.run, note.tag, note.message)
        if key in skipped:
            skipped[key] = replace(skipped[key], count=skipped[key].count + note.count)
        else:
            skipped[key] = note
    out.notes.extend(skipped.values())
    return out


class EventLog:
    """Everything read so far of a run's event files (scalars and histograms); `update()`
    reads only what was appended since (from the offsets its `EventReader` keeps) and
    returns the whole, as a new `EventData` (the previous one is left as it was, so a
    reader on another thread never sees it change). One caller at a time."""

    def __init__(self, run_folder: str, max_depth: int = DEFAULT_MAX_DEPTH):
        self.reader = EventReader(run_folder, scalars=True, histograms=True, max_depth=max_depth)
        self.data = EventData()
        self.last_read = EventData()      # what the last update read (bytes, notes)

    def update(self, progress=None, cancelled=None) -> EventData:
        self.last_read = self.reader.read(progress, cancelled)
        if self.last_read.series or self.last_read.histograms or self.last_read.notes \
                or not self.data.files:
            self.data = merged(self.data, self.last_read)
        return self.data
