"""The event-file reader on hand-made files, without TensorFlow: each case pins one rule
of the reader (framing, resync, cancel, progress, what is skipped and said, how reads
join), so a wrong reading shows here in milliseconds. test_events.py compares whole runs
with TensorFlow's own reader."""

from __future__ import annotations

import errno
import os
import struct

import crc32c
import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

from app.formats import events as ev
from app.formats.crc import mask_crc
from app.formats.event_files import find_event_files, is_event_file_name

from .tf_fixtures import write_event_records


def scalar_events(start, stop, tag="loss", scale=0.125):
    return [event_pb2.Event(wall_time=1.7e9 + i, step=i, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=i * scale)])) for i in range(start, stop)]


def value_event(step, value: summary_pb2.Summary.Value, wall_time=None):
    return event_pb2.Event(wall_time=1.0 + step if wall_time is None else wall_time, step=step,
                           summary=summary_pb2.Summary(value=[value]))


def plugin(name):
    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=name))


def tensor(dtype: int, dims=(), content: bytes = b"", **values) -> tensor_pb2.TensorProto:
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims])
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=content, **values)


def tensor_value(tag, tp, plugin_name=None):
    return summary_pb2.Summary.Value(tag=tag, tensor=tp, metadata=plugin(plugin_name) if plugin_name else None)


EVENTS = "events.out.tfevents.1700000000.host"


# -- notes and results --------------------------------------------------------------------

def test_a_note_says_where_and_how_often():
    assert str(ev.Note("corrupt", "/r/f", 120, "bad")) == "/r/f at byte 120: bad"
    assert str(ev.Note("corrupt", "/r/f", 0, "bad")) == "/r/f at byte 0: bad"
    assert str(ev.Note("unreadable", "/r/f", None, "gone")) == "/r/f: gone"
    assert str(ev.Note("skipped", "/r/f", None, "tag 'x'", count=3)) == "/r/f: tag 'x' (3x)"
    assert str(ev.Note("skipped", "/r/f", None, "tag 'x'", count=2)) == "/r/f: tag 'x' (2x)"
    assert str(ev.Note("skipped", "/r/f", None, "tag 'x'", count=1)) == "/r/f: tag 'x'"
    assert [k for k in ("truncated", "corrupt", "not-events", "unreadable", "skipped")
            if ev.Note(k, "p", None, "m").is_problem] == ["corrupt", "not-events", "unreadable"]
    data = ev.EventData(notes=[ev.Note("truncated", "p", 1, "m"), ev.Note("corrupt", "p", 2, "m")])
    assert [n.offset for n in data.problems] == [2]


def test_lookups_by_run_and_tag(tmp_path):
    (tmp_path / "a").mkdir()
    write_event_records(tmp_path / EVENTS, scalar_events(0, 2, "loss") + scalar_events(0, 1, "acc"))
    write_event_records(tmp_path / "a" / EVENTS, scalar_events(5, 8, "loss"))
    data = ev.read_scalars(tmp_path)
    assert data.scalar(".", "loss").steps.tolist() == [0, 1]
    assert data.scalar("a", "loss").steps.tolist() == [5, 6, 7] and len(data.scalar("a", "loss")) == 3
    assert data.scalar("a", "acc") is None and data.scalar("b", "loss") is None
    assert data.histogram(".", "loss") is None


# -- discovery ----------------------------------------------------------------------------

def test_files_are_read_in_the_order_their_writers_started(tmp_path):
    # by the creation time after "tfevents.", numerically (not as text), then by name
    write_event_records(tmp_path / "events.out.tfevents.100.b", scalar_events(3, 4))
    write_event_records(tmp_path / "events.out.tfevents.99.z", scalar_events(1, 2))
    write_event_records(tmp_path / "events.out.tfevents.100.a", scalar_events(2, 3))
    write_event_records(tmp_path / "events.out.tfevents.host", scalar_events(0, 1))    # no time: first
    write_event_records(tmp_path / "events.out.tfevents.0.x", scalar_events(0, 1))       # time 0: after it
    write_event_records(tmp_path / "notes.txt", scalar_events(9, 10))                 # not an event file
    assert ev.read_scalars(tmp_path).scalar(".", "loss").steps.tolist() == [0, 0, 1, 2, 3]
    assert [p.rsplit("/", 1)[1] for p in find_event_files(tmp_path)["."]] == [
        "events.out.tfevents.host", "events.out.tfevents.0.x", "events.out.tfevents.99.z", "events.out.tfevents.100.a",
        "events.out.tfevents.100.b"]
    assert is_event_file_name("x.tfevents.y") and not is_event_file_name("events.out")


def test_runs_below_the_folder_to_the_depth_asked(tmp_path):
    deep = tmp_path / "logs" / "train" / "a" / "b"
    deep.mkdir(parents=True)
    for folder in (tmp_path / "logs", tmp_path / "logs" / "train", tmp_path / "logs" / "train" / "a", deep):
        write_event_records(folder / EVENTS, scalar_events(0, 1))
    (tmp_path / ".hidden").mkdir()
    write_event_records(tmp_path / ".hidden" / EVENTS, scalar_events(0, 1))
    (tmp_path / "logs" / "train" / "loop").symlink_to(tmp_path / "logs")        # a link back up
    (tmp_path / "logs" / "dir.tfevents").mkdir()                                # a folder, not a file
    assert set(find_event_files(tmp_path)) == {"logs", "logs/train", "logs/train/a"}    # 3 deep by default
    assert set(find_event_files(tmp_path, 4)) == {"logs", "logs/train", "logs/train/a", "logs/train/a/b"}
    assert set(find_event_files(tmp_path, 1)) == {"logs"}
    assert {s.run for s in ev.read_scalars(tmp_path, max_depth=2).series} == {"logs", "logs/train"}
    assert {s.run for s in ev.read_scalars(tmp_path).series} == {"logs", "logs/train", "logs/train/a"}
    assert ev.read_histograms(tmp_path, max_depth=0).files == 0
    assert ev.EventLog(tmp_path, max_depth=1).update().files == 1
    assert find_event_files(tmp_path / "missing") == {}


# -- framing ------------------------------------------------------------------------------

def test_a_record_larger_than_two_read_chunks(tmp_path):
    big = event_pb2.Event(wall_time=1.0, file_version="x" * (9 << 20))
    offsets = write_event_records(tmp_path / EVENTS, scalar_events(0, 3) + [big] + scalar_events(4, 6))
    size = (tmp_path / EVENTS).stat().st_size
    seen = []
    data = ev.read_scalars(tmp_path, progress=seen.append)
    assert data.notes == [] and data.bytes_read == size
    assert data.scalar(".", "loss").steps.tolist() == [0, 1, 2, 4, 5]
    # a chunk, then the rest of the big record in one read, then the records after it
    assert seen == [ev.CHUNK_BYTES / size, offsets[4] / size, 1.0, 1.0]


def test_a_truncated_record_says_how_much_of_it_is_there(tmp_path):
    offsets = write_event_records(tmp_path / EVENTS, scalar_events(0, 3))
    data = (tmp_path / EVENTS).read_bytes()
    (tmp_path / EVENTS).write_bytes(data[:offsets[2] + 20])
    frame = len(data) - offsets[2]
    (note,) = ev.read_scalars(tmp_path).notes
    assert (note.kind, note.offset) == ("truncated", offsets[2])
    assert f"20 of {frame} bytes" in note.message
    (tmp_path / EVENTS).write_bytes(data[:offsets[2] + 7])
    (note,) = ev.read_scalars(tmp_path).notes
    assert "7 of 12 bytes" in note.message


def test_a_file_that_shrank_is_read_again_from_the_start(tmp_path):
    path = tmp_path / EVENTS
    write_event_records(path, scalar_events(0, 10))
    reader = ev.EventReader(tmp_path)
    assert reader.read().scalar(".", "loss").steps.tolist() == list(range(10))
    write_event_records(path, scalar_events(20, 23))            # rewritten, shorter
    again = reader.read()
    (note,) = again.notes
    assert note.kind == "truncated" and not note.is_problem and note.offset == path.stat().st_size
    assert "shrank" in note.message
    assert again.scalar(".", "loss").steps.tolist() == [20, 21, 22]
    assert reader.offsets == {str(path): path.stat().st_size}


def test_damage_after_the_first_record_is_not_called_a_non_event_file(tmp_path):
    path = tmp_path / EVENTS
    offsets = write_event_records(path, scalar_events(0, 3))
    data = bytearray(path.read_bytes())
    data[offsets[1]:] = b"\0" * (len(data) - offsets[1])       # no valid header after record 0
    path.write_bytes(bytes(data))
    reader = ev.EventReader(tmp_path)
    result = reader.read()
    (note,) = result.notes
    assert note.kind == "corrupt" and note.offset == offsets[1] and "rest of the file" in note.message
    assert result.scalar(".", "loss").steps.tolist() == [0]
    # the rest is not scanned again on every refresh
    assert reader.offsets == {str(path): len(data)}
    write_event_records(path, scalar_events(3, 4), append=True)
    assert reader.read().series == []


def test_a_file_removed_while_others_are_read_is_noted_unreadable(tmp_path):
    (tmp_path / "a").mkdir()
    write_event_records(tmp_path / EVENTS, scalar_events(0, 3))
    gone = tmp_path / "a" / EVENTS
    write_event_records(gone, scalar_events(0, 3))
    data = ev.read_scalars(tmp_path, progress=lambda _: gone.unlink(missing_ok=True))   # after the first file's read
    assert [s.run for s in data.series] == ["."] and not data.cancelled
    (note,) = data.notes
    assert (note.kind, note.path, note.offset, note.run) == ("unreadable", str(gone), None, "a")
    assert note.is_problem and "cannot read: No such file or directory" in note.message


def test_a_file_of_other_bytes_is_never_read_again(tmp_path):
    path = tmp_path / EVENTS
    path.write_bytes(b"x" * 100)
    reader = ev.EventReader(tmp_path)
    first = reader.read()
    assert [(n.kind, n.offset) for n in first.notes] == [("not-events", 0)]
    assert reader.offsets == {str(path): 100}
    with open(path, "ab") as f:
        f.write(b"y" * 50)
    second = reader.read()
    assert second.notes == [] and second.files == 0 and second.bytes_read == 0


LIMIT = 4096      # the resync limit these tests use: the scan is a byte-by-byte loop
WIDE = 70_000     # one wider than the 64 KiB read beyond the limit when the damage ends a read chunk
LEAD = ev.CHUNK_BYTES - 100


def _garbage_then_records(tmp_path, gap: int, fake_header: bytes = b"", lead: int = 0, last: bool = False):
    """Record 0 (`lead` bytes long if given: the damage then starts near the end of the
    first read chunk), `gap` bytes of damage (no valid header, but `fake_header` at its
    start), then a 200 kB record (it ends beyond the window scanned for it) and steps 1..3;
    `last`: only a 200 kB record of step 1, to the end of the file."""
    first = scalar_events(0, 1)
    if lead:
        pad = event_pb2.Event(file_version="x" * (lead - 2 * 16 - first[0].ByteSize() - 8))
        pad.file_version += "x" * (lead - 2 * 16 - first[0].ByteSize() - pad.ByteSize())   # 16: framing
        first.insert(0, pad)
    write_event_records(tmp_path / "head", first)
    head = (tmp_path / "head").read_bytes()
    assert not lead or len(head) == lead
    if last:
        big = scalar_events(1, 2)
        big[0].summary.value.add(tag="x" * 200_000, simple_value=1.0)
    else:
        big = [event_pb2.Event(wall_time=1.0, file_version="x" * 200_000)] + scalar_events(1, 4)
    write_event_records(tmp_path / "tail", big)
    path = tmp_path / "run" / EVENTS
    path.parent.mkdir()
    path.write_bytes(head + fake_header + b"\0" * (gap - len(fake_header)) + (tmp_path / "tail").read_bytes())
    return path, len(head)


@pytest.mark.parametrize("gap,lead,limit,last", [
    (1, 0, LIMIT, False), (LIMIT - 1, 0, LIMIT, False), (LIMIT, 0, LIMIT, False),
    (WIDE, LEAD, WIDE, False), (WIDE, LEAD, WIDE, True)])
def test_after_a_bad_header_the_next_valid_record_within_the_limit_is_found(
        tmp_path, monkeypatch, gap, lead, limit, last):
    monkeypatch.setattr(ev, "RESYNC_LIMIT", limit)
    path, at = _garbage_then_records(tmp_path, gap, lead=lead, last=last)
    result = ev.read_scalars(path.parent)
    (note,) = result.notes
    assert note.kind == "corrupt" and note.offset == at and f"byte {at + gap}" in note.message
    assert result.scalar(".", "loss").steps.tolist() == ([0, 1] if last else [0, 1, 2, 3])
    assert result.bytes_read == path.stat().st_size


@pytest.mark.parametrize("lead,limit", [(0, LIMIT), (LEAD, WIDE)])
def test_no_valid_record_within_the_limit_skips_the_rest(tmp_path, monkeypatch, lead, limit):
    monkeypatch.setattr(ev, "RESYNC_LIMIT", limit)
    path, at = _garbage_then_records(tmp_path, limit + 1, lead=lead)
    result = ev.read_scalars(path.parent)
    (note,) = result.notes
    assert note.kind == "corrupt" and note.offset == at and f"next {limit} bytes" in note.message
    assert result.scalar(".", "loss").steps.tolist() == [0]


@pytest.mark.parametrize("beyond", [10**9, 2])
def test_a_header_claiming_more_than_the_file_holds_is_passed_over(tmp_path, monkeypatch, beyond):
    """The damage holds a header with a valid crc whose frame runs `beyond` bytes past the
    end of the file."""
    monkeypatch.setattr(ev, "RESYNC_LIMIT", LIMIT)
    path, at = _garbage_then_records(tmp_path, 3000)
    size = path.stat().st_size
    length = struct.pack("<Q", size + beyond - (at + 1) - 16)
    fake = b"\1" + length + struct.pack("<I", mask_crc(crc32c.crc32c(length)))
    data = bytearray(path.read_bytes())
    data[at:at + len(fake)] = fake
    path.write_bytes(bytes(data))
    result = ev.read_scalars(path.parent)
    (note,) = result.notes
    assert f"byte {at + 3000}" in note.message
    assert result.scalar(".", "loss").steps.tolist() == [0, 1, 2, 3]


# -- progress and cancel ------------------------------------------------------------------

def test_progress_goes_by_bytes_over_all_files(tmp_path):
    (tmp_path / "a").mkdir()
    write_event_records(tmp_path / EVENTS, scalar_events(0, 30))
    write_event_records(tmp_path / "a" / EVENTS, scalar_events(0, 10))
    first, second = (tmp_path / EVENTS).stat().st_size, (tmp_path / "a" / EVENTS).stat().st_size
    seen = []
    reader = ev.EventReader(tmp_path)
    reader.read(progress=seen.append)
    assert seen == [first / (first + second), 1.0, 1.0]
    seen.clear()
    nothing = reader.read(progress=seen.append)
    assert seen == [1.0] and nothing.bytes_read == 0 and nothing.files == 2


def test_a_cancel_stops_between_records_and_the_next_read_goes_on(tmp_path):
    offsets = write_event_records(tmp_path / EVENTS, scalar_events(0, 5000))
    answers = iter([False, True])          # go on after the first chunk, stop at the first check after it
    reader = ev.EventReader(tmp_path)
    first = reader.read(cancelled=lambda: next(answers))
    assert first.cancelled
    assert first.scalar(".", "loss").steps.tolist() == list(range(4096))
    assert reader.offsets == {str(tmp_path / EVENTS): offsets[4096]}
    rest = reader.read(cancelled=lambda: False)
    assert not rest.cancelled and rest.scalar(".", "loss").steps.tolist() == list(range(4096, 5000))
    assert first.bytes_read + rest.bytes_read > (tmp_path / EVENTS).stat().st_size   # the chunk's tail again


def test_a_cancel_before_anything_is_read_leaves_the_offset(tmp_path):
    (tmp_path / "a").mkdir()
    write_event_records(tmp_path / EVENTS, scalar_events(0, 5))
    write_event_records(tmp_path / "a" / EVENTS, scalar_events(0, 5))
    seen = []
    reader = ev.EventReader(tmp_path)
    first = reader.read(progress=seen.append, cancelled=lambda: True)
    assert first.cancelled and first.series == [] and set(reader.offsets.values()) == {0}
    assert len(seen) == 1 and seen[0] < 1.0          # no "done" for a cancelled read
    rest = reader.read()
    assert {s.run: len(s) for s in rest.series} == {".": 5, "a": 5}


# -- what is read and what is skipped ----------------------------------------------------

def test_every_summary_value_kind(tmp_path):
    f32 = struct.pack("<f", 0.5)
    values = [
        summary_pb2.Summary.Value(tag="simple", simple_value=2.5),
        tensor_value("tf2", tensor(1, content=f32), "scalars"),
        tensor_value("half", tensor(19, half_val=[15360]), "scalars"),                     # 1.0 as float16
        tensor_value("flag", tensor(10, bool_val=[True]), "scalars"),
        tensor_value("one", tensor(2, dims=(1, 1), double_val=[4.25]), "scalars"),        # size 1, any rank
        tensor_value("f32_val", tensor(1, float_val=[0.75]), "scalars"),
        tensor_value("complex", tensor(8, scomplex_val=[1.0, 2.0]), "scalars"),
        tensor_value("pair", tensor(1, dims=(2,), float_val=[1.0, 2.0]), "scalars"),
        tensor_value("broken", tensor(1, dims=(3,), content=b"\0" * 5), "scalars"),
        tensor_value("pair4", tensor(1, dims=(2,), content=f32), "scalars"),              # 4 bytes for two float32
        tensor_value("short", tensor(1, content=b"\0" * 5), "scalars"),                   # 5 bytes for a float32
        tensor_value("f64_short", tensor(2, content=f32), "scalars"),                       # 4 bytes for a float64
        tensor_value("i32", tensor(3, content=struct.pack("<i", -7)), "scalars"),
        tensor_value("f32_1", tensor(1, dims=(1,), content=f32), "scalars"),
        tensor_value("text", tensor(7, string_val=[b"hi"]), "text"),
        tensor_value("nameless", tensor(1, float_val=[1.0])),
        tensor_value("nameless_text", tensor(7, string_val=[b"hi"])),
        summary_pb2.Summary.Value(tag="image", image=summary_pb2.Summary.Image(height=1, width=1)),
        summary_pb2.Summary.Value(tag="empty"),
        summary_pb2.Summary.Value(tag="h1", histo=summary_pb2.HistogramProto(bucket_limit=[1.0], bucket=[2.0])),
        tensor_value("h2", tensor(2, dims=(1, 3), double_val=[0.0, 1.0, 5.0]), "histograms"),
    ]
    offsets = write_event_records(tmp_path / EVENTS, [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")]
                                  + [value_event(7, v, wall_time=3.5) for v in values])
    data = ev.read_scalars(tmp_path)
    got = {s.tag: (s.steps.tolist(), s.wall_times.tolist(), s.values.tolist()) for s in data.series}
    assert got == {"simple": ([7], [3.5], [2.5]), "tf2": ([7], [3.5], [0.5]), "half": ([7], [3.5], [1.0]),
                   "flag": ([7], [3.5], [1.0]), "one": ([7], [3.5], [4.25]), "f32_val": ([7], [3.5], [0.75]),
                   "i32": ([7], [3.5], [-7.0]), "f32_1": ([7], [3.5], [0.5])}
    assert all(s.run == "." and s.steps.dtype == np.int64 and s.values.dtype == np.float64 for s in data.series)
    skipped = {n.tag: n.message for n in data.notes}
    assert all(n.kind == "skipped" and not n.is_problem and n.run == "." for n in data.notes)
    assert set(skipped) == {"complex", "pair", "pair4", "broken", "short", "f64_short", "text", "nameless", "nameless_text",
                            "image", "empty"}
    # each note points at the record of the value skipped
    at = {v.tag: offsets[i + 1] for i, v in enumerate(values)}
    assert {n.tag: (n.path, n.offset) for n in data.notes} == {t: (str(tmp_path / EVENTS), at[t]) for t in skipped}
    assert "does not decode" in skipped["short"] and "does not decode" in skipped["f64_short"]
    assert "complex64 tensor in the scalars plugin, not a number" in skipped["complex"]
    assert "shape [2]" in skipped["pair"]
    assert "does not decode" in skipped["broken"] and "does not decode" in skipped["pair4"]
    assert "a text summary (strings), not a scalar or histogram" in skipped["text"]
    assert "a tensor summary of no known plugin, not" in skipped["nameless"]
    assert "no known plugin (strings)" in skipped["nameless_text"]
    assert "image summary" in skipped["image"] and "empty summary" in skipped["empty"]
    assert all(m.startswith(f"tag {t!r}: ") and m.endswith(": skipped") for t, m in skipped.items())
    # histograms are neither gathered nor called skipped when only scalars are asked for
    assert data.histograms == []
    hist = ev.read_histograms(tmp_path)
    assert hist.series == [] and [h.tag for h in hist.histograms] == ["h1", "h2"]
    h2 = hist.histogram(".", "h2").points[0]
    assert (h2.step, h2.wall_time, h2.left.tolist(), h2.right.tolist(), h2.counts.tolist()) == (
        7, 3.5, [0.0], [1.0], [5.0])
    assert np.isnan(h2.min) and np.isnan(h2.max)


def test_bad_histogram_tensors_are_skipped_with_a_note(tmp_path):
    values = [
        tensor_value("rows", tensor(1, dims=(2, 2), float_val=[1.0, 2.0, 3.0, 4.0]), "histograms"),
        tensor_value("flat", tensor(1, dims=(3,), float_val=[1.0, 2.0, 3.0]), "histograms"),
        tensor_value("text", tensor(7, dims=(1, 3), string_val=[b"a", b"b", b"c"]), "histograms"),
        tensor_value("broken", tensor(1, dims=(1, 3), content=b"\0" * 5), "histograms"),
        tensor_value("ints", tensor(3, dims=(2, 3), int_val=[0, 1, 2, 1, 2, 3]), "histograms"),
    ]
    offsets = write_event_records(tmp_path / EVENTS, [value_event(1, v) for v in values] * 2)
    data = ev.read_histograms(tmp_path)
    assert [h.tag for h in data.histograms] == ["ints"]
    ints = data.histogram(".", "ints")
    assert len(ints) == 2 and ints.points[0].counts.tolist() == [2.0, 3.0]
    assert ints.points[0].counts.dtype == np.float64
    notes = {n.tag: n for n in data.notes}
    assert set(notes) == {"rows", "flat", "text", "broken"} and all(n.count == 2 for n in notes.values())
    at = {v.tag: offsets[i] for i, v in enumerate(values)}                 # each first time
    assert {t: (n.path, n.offset) for t, n in notes.items()} == {t: (str(tmp_path / EVENTS), at[t]) for t in notes}
    assert "float32 tensor of shape [2, 2] in the histograms plugin, not [k, 3]" in notes["rows"].message
    assert "shape [3]" in notes["flat"].message and "not [k, 3]" in notes["text"].message
    assert "histogram tensor that does not decode" in notes["broken"].message


def test_tf1_histogram_buckets_and_a_short_bucket_list(tmp_path):
    histos = [summary_pb2.HistogramProto(min=-1.0, max=3.0, bucket_limit=[0.0, 2.0, 1.7e308], bucket=[1, 2, 3]),
              summary_pb2.HistogramProto(bucket_limit=[1.0, 2.0, 3.0], bucket=[4.0, 5.0]),
              summary_pb2.HistogramProto()]
    write_event_records(tmp_path / EVENTS, [value_event(i, summary_pb2.Summary.Value(tag="w", histo=h))
                                            for i, h in enumerate(histos)])
    a, b, c = ev.read_histograms(tmp_path).histogram(".", "w").points
    assert a.left.tolist() == [-np.finfo(np.float64).max, 0.0, 2.0] and a.right.tolist() == [0.0, 2.0, 1.7e308]
    assert a.counts.tolist() == [1, 2, 3] and (a.min, a.max) == (-1.0, 3.0)
    assert b.left.tolist() == [-np.finfo(np.float64).max, 1.0] and b.right.tolist() == [1.0, 2.0]
    assert b.counts.tolist() == [4.0, 5.0]
    assert len(c.left) == len(c.right) == len(c.counts) == 0 and c.edges.shape == (0, 2)


def test_read_histograms_passes_on_filter_progress_and_cancel(tmp_path):
    h = summary_pb2.HistogramProto(bucket_limit=[1.0], bucket=[2.0])
    write_event_records(tmp_path / EVENTS, [value_event(i, summary_pb2.Summary.Value(tag=t, histo=h))
                                            for i in range(3) for t in ("w/a", "b")] + scalar_events(0, 2))
    seen = []
    data = ev.read_histograms(tmp_path, "^w/", progress=seen.append)
    assert [(x.tag, len(x)) for x in data.histograms] == [("w/a", 3)] and data.series == [] and seen[-1] == 1.0
    stopped = ev.read_histograms(tmp_path, cancelled=lambda: True)
    assert stopped.cancelled and stopped.histograms == []
    stopped = ev.read_scalars(tmp_path, cancelled=lambda: True)
    assert stopped.cancelled and stopped.series == []


def test_last_per_step_keeps_run_and_tag():
    s = ev.ScalarSeries("train", "loss", np.array([2, 1, 2]), np.array([0.0, 1.0, 2.0]), np.array([5.0, 6.0, 7.0]))
    last = s.last_per_step()
    assert (last.run, last.tag, last.steps.tolist(), last.values.tolist()) == ("train", "loss", [1, 2], [6.0, 7.0])


def test_a_tag_filter_is_a_search_and_may_be_compiled(tmp_path):
    import re
    write_event_records(tmp_path / EVENTS, scalar_events(0, 2, "train/loss") + scalar_events(0, 2, "acc"))
    assert [s.tag for s in ev.read_scalars(tmp_path, "loss").series] == ["train/loss"]
    assert [s.tag for s in ev.read_scalars(tmp_path, re.compile("^acc$")).series] == ["acc"]
    assert [s.tag for s in ev.read_scalars(tmp_path, "^loss").series] == []


# -- joining reads ------------------------------------------------------------------------

def test_merged_joins_series_and_keeps_both_reads_unchanged():
    def series(run, tag, steps):
        return ev.ScalarSeries(run, tag, np.array(steps, np.int64), np.array(steps, float) + 0.5,
                               np.array(steps, float) * 2)

    def point(step):
        return ev.HistogramPoint(step, 0.0, np.zeros(1), np.ones(1), np.ones(1))

    skip = ev.Note("skipped", "f", 1, "tag 'x': strings: skipped", ".", "x", count=2)
    old = ev.EventData(series=[series(".", "loss", [0, 1]), series(".", "acc", [0]), series("e", "loss", [])],
                       histograms=[ev.HistogramSeries(".", "w", [point(0)]), ev.HistogramSeries(".", "b", [point(0)])],
                       notes=[ev.Note("truncated", "f", 9, "last record incomplete"),
                              ev.Note("corrupt", "f", 3, "bad"), skip],
                       files=1, bytes_read=100)
    new = ev.EventData(series=[series(".", "loss", [2, 3]), series("e", "loss", [4]), series(".", "lr", [2])],
                       histograms=[ev.HistogramSeries(".", "w", [point(2)]), ev.HistogramSeries(".", "c", [point(2)])],
                       notes=[ev.Note("skipped", "f", 5, "tag 'x': strings: skipped", ".", "x", count=3),
                              ev.Note("skipped", "f", 5, "tag 'y': strings: skipped", ".", "y"),
                              ev.Note("truncated", "f", 20, "last record incomplete")],
                       files=2, bytes_read=40, cancelled=True)
    out = ev.merged(old, new)
    assert [(s.run, s.tag, s.steps.tolist()) for s in out.series] == [
        (".", "loss", [0, 1, 2, 3]), (".", "acc", [0]), ("e", "loss", [4]), (".", "lr", [2])]
    loss = out.scalar(".", "loss")
    assert loss.wall_times.tolist() == [0.5, 1.5, 2.5, 3.5] and loss.values.tolist() == [0, 2, 4, 6]
    assert [(h.run, h.tag, [p.step for p in h.points]) for h in out.histograms] == [
        (".", "w", [0, 2]), (".", "b", [0]), (".", "c", [2])]
    assert [(n.kind, n.offset) for n in out.notes if n.kind != "skipped"] == [("corrupt", 3), ("truncated", 20)]
    assert {n.tag: n.count for n in out.notes if n.kind == "skipped"} == {"x": 5, "y": 1}
    assert (out.files, out.bytes_read, out.cancelled) == (2, 40, True)
    # neither input changed
    assert old.series[0].steps.tolist() == [0, 1] and len(old.histograms[0].points) == 1 and skip.count == 2
    assert new.series[1].steps.tolist() == [4] and len(old.notes) == 3
    out.series[2].steps[0] = 99                 # joined to an empty series: a copy of new's
    assert new.series[1].steps.tolist() == [4]


def test_an_event_log_grows_and_keeps_its_last_whole(tmp_path):
    path = tmp_path / EVENTS
    write_event_records(path, scalar_events(0, 3))
    log = ev.EventLog(tmp_path)
    assert log.data.series == [] and log.data.files == 0
    first = log.update()
    assert first.scalar(".", "loss").steps.tolist() == [0, 1, 2] and first.files == 1
    assert log.update() is first and log.last_read.bytes_read == 0       # nothing new: the same object
    write_event_records(path, scalar_events(3, 5), append=True)
    second = log.update()
    assert second is not first and second.scalar(".", "loss").steps.tolist() == [0, 1, 2, 3, 4]
    assert first.scalar(".", "loss").steps.tolist() == [0, 1, 2]
    assert log.last_read.scalar(".", "loss").steps.tolist() == [3, 4]
    seen = []
    stopped = ev.EventLog(tmp_path).update(progress=seen.append, cancelled=lambda: True)   # both passed on
    assert stopped.cancelled and stopped.series == [] and len(seen) == 1
    empty = ev.EventLog(tmp_path / "nothing")
    assert empty.update().files == 0 and empty.update().series == []


def test_a_resync_never_goes_back_into_the_record_before(tmp_path, monkeypatch):
    """Damage made so that a valid frame would start one byte before it, in the last byte of
    the record before: the scan starts after the bad header, so it is not taken."""
    monkeypatch.setattr(ev, "RESYNC_LIMIT", LIMIT)
    path, at = _garbage_then_records(tmp_path, 3000)
    data = bytearray(path.read_bytes())
    length = bytes([data[at - 1]]) + b"\0" * 7                 # the previous byte starts the length
    frame = length[1:] + struct.pack("<I", mask_crc(crc32c.crc32c(length))) + b"\0" * data[at - 1]
    frame += struct.pack("<I", mask_crc(crc32c.crc32c(b"\0" * data[at - 1])))
    data[at:at + len(frame)] = frame
    path.write_bytes(bytes(data))
    result = ev.read_scalars(path.parent)
    (note,) = result.notes
    assert note.offset == at and f"byte {at + 3000}" in note.message
    assert result.scalar(".", "loss").steps.tolist() == [0, 1, 2, 3]


# -- every note says where, what and which run --------------------------------------------

def test_an_entry_that_cannot_be_looked_at_does_not_hide_the_ones_after_it(tmp_path):
    (tmp_path / "a_loop").symlink_to(tmp_path / "a_loop")           # stat fails: ELOOP
    write_event_records(tmp_path / EVENTS, scalar_events(0, 2))
    assert find_event_files(tmp_path) == {".": [str(tmp_path / EVENTS)]}


def test_a_path_that_is_no_longer_a_regular_file_is_noted_and_the_rest_read(tmp_path, monkeypatch):
    """A file replaced by a pipe between the listing and the read (a pipe would block an
    open): the listing is made to return it, as such a race would."""
    pipe = tmp_path / "x" / EVENTS
    pipe.parent.mkdir()
    os.mkfifo(pipe)
    write_event_records(tmp_path / EVENTS, scalar_events(0, 2))
    monkeypatch.setattr(ev, "find_event_files", lambda folder, depth: {"x": [str(pipe), str(tmp_path / EVENTS)]})
    data = ev.read_scalars(tmp_path)
    (note,) = data.notes
    assert (note.kind, note.path, note.offset, note.message, note.run) == (
        "unreadable", str(pipe), None, "cannot read: not a regular file", "x")
    assert data.scalar("x", "loss").steps.tolist() == [0, 1] and not data.cancelled


def test_a_record_that_is_not_an_event_is_noted_and_the_rest_read(tmp_path):
    (tmp_path / "r").mkdir()
    path = tmp_path / "r" / EVENTS
    offsets = write_event_records(path, scalar_events(0, 1) + [b"\xff\xff\xff"] + scalar_events(1, 2))
    data = ev.read_scalars(tmp_path)
    (note,) = data.notes
    assert (note.kind, note.path, note.offset, note.message, note.run) == (
        "corrupt", str(path), offsets[1], "record is not an Event proto: skipped", "r")
    assert data.scalar("r", "loss").steps.tolist() == [0, 1]


def test_a_record_failing_its_crc_is_noted_with_its_length(tmp_path):
    path = tmp_path / EVENTS
    offsets = write_event_records(path, scalar_events(0, 3))
    data = bytearray(path.read_bytes())
    data[offsets[1] + 14] ^= 1
    path.write_bytes(bytes(data))
    result = ev.read_scalars(tmp_path)
    (note,) = result.notes
    length = offsets[2] - offsets[1] - 16
    assert (note.kind, note.path, note.offset, note.message, note.run) == (
        "corrupt", str(path), offsets[1], f"record of {length} bytes fails its crc32c check: skipped", ".")
    assert result.scalar(".", "loss").steps.tolist() == [0, 2]


def test_a_short_file_of_other_bytes_and_its_note(tmp_path):
    (tmp_path / "r").mkdir()
    path = tmp_path / "r" / EVENTS
    path.write_bytes(b"z" * 12)                                     # exactly one header's worth
    (note,) = ev.read_scalars(tmp_path).notes
    assert (note.kind, note.path, note.offset, note.message, note.run) == (
        "not-events", str(path), 0, "does not start with a TFRecord: not an event file", "r")


def _read_once(folder):
    """An event file of steps 0-2 in `folder`, and a reader that has read it: (path, reader,
    the file's size), for tests of what a later read makes of new bytes."""
    path = folder / EVENTS
    write_event_records(path, scalar_events(0, 3))
    reader = ev.EventReader(folder)
    reader.read()
    return path, reader, path.stat().st_size


def test_damage_in_a_later_read_is_never_called_a_non_event_file(tmp_path):
    """The damage starts as far into the new bytes as the earlier read ended."""
    path, reader, size = _read_once(tmp_path)
    write_event_records(path, scalar_events(0, 3), append=True)      # the same bytes again
    assert path.stat().st_size == 2 * size
    with open(path, "ab") as f:
        f.write(b"\0" * 40)
    second = reader.read()
    (note,) = second.notes
    assert (note.kind, note.offset, note.run) == ("corrupt", 2 * size, ".") and note.path == str(path)
    assert second.scalar(".", "loss").steps.tolist() == [0, 1, 2]


def test_a_dead_or_unreadable_file_does_not_stop_the_others(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / EVENTS).write_bytes(b"x" * 100)                     # "." comes first
    good = tmp_path / "a" / EVENTS
    write_event_records(good, scalar_events(0, 2))
    reader = ev.EventReader(tmp_path)
    first = reader.read()
    assert not first.cancelled and first.scalar("a", "loss").steps.tolist() == [0, 1]
    write_event_records(good, scalar_events(2, 3), append=True)
    second = reader.read()
    assert not second.cancelled and second.scalar("a", "loss").steps.tolist() == [2]


def test_damage_with_nothing_after_it_does_not_stop_the_other_files(tmp_path):
    (tmp_path / "a").mkdir()
    write_event_records(tmp_path / EVENTS, scalar_events(0, 2))
    at = (tmp_path / EVENTS).stat().st_size
    with open(tmp_path / EVENTS, "ab") as f:
        f.write(b"\0" * 40)
    write_event_records(tmp_path / "a" / EVENTS, scalar_events(0, 2))
    data = ev.read_scalars(tmp_path)
    (note,) = data.notes
    assert (note.kind, note.path, note.run) == ("corrupt", str(tmp_path / EVENTS), ".")
    assert note.offset == at
    assert not data.cancelled and {s.run: len(s) for s in data.series} == {".": 2, "a": 2}


def test_the_resync_note_names_the_file_and_run(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "RESYNC_LIMIT", LIMIT)
    path, at = _garbage_then_records(tmp_path, 100)
    (note,) = ev.read_scalars(path.parent).notes
    assert (note.path, note.run) == (str(path), ".")
    assert note.message == f"bad record header (crc32c): skipped to the next valid record at byte {at + 100}"


def test_a_truncated_record_in_a_later_read_says_how_much_of_it_is_there(tmp_path):
    path, reader, size = _read_once(tmp_path)
    write_event_records(tmp_path / "tail", scalar_events(3, 5))
    tail = (tmp_path / "tail").read_bytes()
    with open(path, "ab") as f:
        f.write(tail[:len(tail) // 2 + 30])
    frame = len(tail) // 2
    second = reader.read()
    (note,) = second.notes
    assert (note.kind, note.path, note.offset, note.run) == ("truncated", str(path), size + frame, ".")
    assert note.message == (f"last record incomplete (30 of {frame} bytes; still being written?): "
                            "read on the next refresh")
    assert second.scalar(".", "loss").steps.tolist() == [3]


def test_a_file_that_shrank_names_its_path_and_run(tmp_path):
    (tmp_path / "r").mkdir()
    path = tmp_path / "r" / EVENTS
    write_event_records(path, scalar_events(0, 5))
    reader = ev.EventReader(tmp_path)
    reader.read()
    write_event_records(path, scalar_events(0, 1))
    (note,) = reader.read().notes
    assert (note.kind, note.path, note.run) == ("truncated", str(path), "r")


class _FailingReads:
    """A real file whose reads fail after the first, as a disk error would."""

    def __init__(self, f):
        self.f, self.reads = f, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def seek(self, at):
        return self.f.seek(at)

    def read(self, n=-1):
        self.reads += 1
        if self.reads > 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return self.f.read(n)


def test_a_read_error_keeps_what_was_read_and_the_next_read_goes_on(tmp_path, monkeypatch):
    (tmp_path / "r").mkdir()
    path = tmp_path / "r" / EVENTS
    offsets = write_event_records(path, scalar_events(0, 6))
    monkeypatch.setattr(ev, "CHUNK_BYTES", offsets[2] + 10)        # the first read holds 2 records and a bit
    monkeypatch.setattr(ev, "open", lambda p, mode: _FailingReads(open(p, mode)), raising=False)
    reader = ev.EventReader(tmp_path)
    first = reader.read()
    unreadable = [n for n in first.notes if n.kind == "unreadable"]
    assert [(n.path, n.offset, n.message, n.run) for n in unreadable] == [
        (str(path), offsets[2] + 10, f"cannot read: {os.strerror(errno.EIO)}", "r")]
    assert first.scalar("r", "loss").steps.tolist() == [0, 1] and not first.cancelled
    assert reader.offsets == {str(path): offsets[2]}
    monkeypatch.undo()
    assert reader.read().scalar("r", "loss").steps.tolist() == [2, 3, 4, 5]


def test_bytes_appended_during_a_read_wait_for_the_next(tmp_path):
    path = tmp_path / EVENTS
    write_event_records(path, scalar_events(0, 3))
    size = path.stat().st_size
    reader = ev.EventReader(tmp_path)
    appended = []

    def grow(_):
        if not appended:
            appended.append(write_event_records(path, scalar_events(3, 5), append=True))
    first = reader.read(progress=grow)
    assert first.bytes_read == size and first.scalar(".", "loss").steps.tolist() == [0, 1, 2]
    assert reader.offsets == {str(path): size} and first.notes == []
    assert reader.read().scalar(".", "loss").steps.tolist() == [3, 4]


def test_the_last_byte_of_a_record_past_the_first_chunk_is_read(tmp_path):
    path = tmp_path / EVENTS
    tail = scalar_events(1, 2)
    pad = event_pb2.Event(file_version="")
    want = ev.CHUNK_BYTES + 1
    n = want - 32 - tail[0].ByteSize()
    while True:                                   # the padding's own length prefix grows with it
        pad.file_version = "x" * n
        over = 32 + pad.ByteSize() + tail[0].ByteSize() - want
        if not over:
            break
        n -= over
    write_event_records(path, [pad] + tail)
    assert path.stat().st_size == want
    data = ev.read_scalars(tmp_path)
    assert data.notes == [] and data.scalar(".", "loss").steps.tolist() == [1]


def test_progress_of_a_later_read_goes_by_the_new_bytes(tmp_path):
    path = tmp_path / EVENTS
    write_event_records(path, scalar_events(0, 3))
    reader = ev.EventReader(tmp_path)
    reader.read()
    write_event_records(path, scalar_events(3, 4), append=True)
    seen = []
    reader.read(progress=seen.append)
    assert seen == [1.0, 1.0]


def test_the_cancel_is_asked_every_4096_records_and_progress_holds_between(tmp_path):
    (tmp_path / "a").mkdir()
    offsets = write_event_records(tmp_path / EVENTS, scalar_events(0, 9000))
    write_event_records(tmp_path / "a" / EVENTS, scalar_events(0, 10))
    first, second = (tmp_path / EVENTS).stat().st_size, (tmp_path / "a" / EVENTS).stat().st_size
    answers = iter([False, False, True])     # the chunk, record 4096, record 8192
    seen = []
    reader = ev.EventReader(tmp_path)
    data = reader.read(progress=seen.append, cancelled=lambda: next(answers))
    assert data.cancelled and data.scalar(".", "loss").steps.tolist() == list(range(8192))
    assert reader.offsets[str(tmp_path / EVENTS)] == offsets[8192]
    assert seen == [first / (first + second)] * 3
    assert [len(s) for s in reader.read().series] == [9000 - 8192, 10]


def test_a_negative_step_is_kept(tmp_path):
    write_event_records(tmp_path / EVENTS, [value_event(-1, summary_pb2.Summary.Value(tag="x", simple_value=1.0))])
    assert ev.read_scalars(tmp_path).scalar(".", "x").steps.tolist() == [-1]


def test_an_event_log_keeps_a_note_read_alone_and_counts_files_without_series(tmp_path):
    path = tmp_path / EVENTS
    write_event_records(path, [event_pb2.Event(wall_time=1.0, file_version="brain.Event:2")])
    log = ev.EventLog(tmp_path)
    assert log.last_read.series == [] and log.last_read.notes == []
    first = log.update()
    assert first.files == 1 and first.series == [] and first.notes == []
    (at,) = write_event_records(path, [b"\xff\xff\xff"], append=True)
    (note,) = log.update().notes
    assert (note.kind, note.offset) == ("corrupt", at)


def test_a_file_cut_short_during_a_read_is_read_on_from_where_it_stopped(tmp_path, monkeypatch):
    path = tmp_path / EVENTS
    offsets = write_event_records(path, scalar_events(0, 3000))
    whole = path.read_bytes()
    monkeypatch.setattr(ev, "CHUNK_BYTES", offsets[2] + 10)
    reader = ev.EventReader(tmp_path)
    first = reader.read(progress=lambda _: os.truncate(path, offsets[2] + 10))
    # what the file object had buffered before the cut is read, then the read stops
    k = len(first.scalar(".", "loss"))
    assert 2 <= k < 3000 and first.scalar(".", "loss").steps.tolist() == list(range(k))
    (note,) = first.notes
    assert (note.kind, note.offset) == ("truncated", offsets[k])
    assert reader.offsets == {str(path): offsets[k]}
    path.write_bytes(whole)                                        # written again in full
    assert reader.read().scalar(".", "loss").steps.tolist() == list(range(k, 3000))
