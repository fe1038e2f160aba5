"""The event-file reader against TensorFlow: summaries written by TensorFlow in this session,
every series compared with what TensorFlow's own summary_iterator reads, point for point;
then damaged, empty, huge and growing files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import require, run_python  # noqa: E402

tf = require("tensorflow")

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2  # noqa: E402

from app.formats import events as ev  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("summaries")
    return {"tf2": fx.summaries_tf2(root / "tf2"), "tf1": fx.summaries_tf1(root / "tf1")}


# -- the oracle -----------------------------------------------------------------------

def _tf_events(folder: Path):
    """(run, Event) for every event TensorFlow reads in the folder's event files, each run's
    files in name order (one file per run here, so the order is not at stake)."""
    for path in sorted(folder.rglob("*tfevents*")):
        rel = path.parent.relative_to(folder).as_posix()
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            yield rel, event


def tf_scalars(folder: Path) -> dict:
    """(run, tag) -> (steps, wall_times, values) as TensorFlow reads them."""
    out, plugin = {}, {}
    for run, event in _tf_events(folder):
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                x = value.simple_value
            elif kind == "tensor":
                name = value.metadata.plugin_data.plugin_name or plugin.get((run, value.tag))
                plugin[(run, value.tag)] = name
                array = tf.make_ndarray(value.tensor)
                if name != "scalars" or array.size != 1 or array.dtype.kind not in "fiub":
                    continue
                x = array.reshape(-1)[0].item()
            else:
                continue
            steps, walls, values = out.setdefault((run, value.tag), ([], [], []))
            steps.append(event.step)
            walls.append(event.wall_time)
            values.append(float(x))
    return out


def tf_histograms(folder: Path) -> dict:
    """(run, tag) -> [(step, wall_time, left, right, counts)] as TensorFlow reads them."""
    out = {}
    for run, event in _tf_events(folder):
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "histo":
                h = value.histo
                right = np.array(h.bucket_limit, np.float64)
                left = np.concatenate([[-np.finfo(np.float64).max], right[:-1]])
                point = (left, right, np.array(h.bucket, np.float64))
            elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "histograms":
                rows = tf.make_ndarray(value.tensor).astype(np.float64)
                point = (rows[:, 0], rows[:, 1], rows[:, 2])
            else:
                continue
            out.setdefault((run, value.tag), []).append((event.step, event.wall_time, *point))
    return out


def bits(a) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def assert_scalars_match_tf(result: ev.EventData, folder: Path) -> None:
    expected = tf_scalars(folder)
    got = {(s.run, s.tag): s for s in result.series}
    assert set(got) == set(expected)
    for key, (steps, walls, values) in expected.items():
        s = got[key]
        assert s.steps.dtype == np.int64 and s.values.dtype == np.float64
        assert s.steps.tolist() == steps, key
        assert bits(s.wall_times) == bits(walls), key
        assert bits(s.values) == bits(values), key      # float32 -> float64 exactly


# -- TensorFlow-written runs ------------------------------------------------------------

def test_finds_event_files_by_run_beside_the_checkpoints(written):
    tf2, tf1 = written["tf2"], written["tf1"]
    found = ev.find_event_files(tf2.dir)
    assert set(found) == {"train", "eval"}
    assert all(Path(p).parent == tf2.runs[run] for run, paths in found.items() for p in paths)
    assert set(ev.find_event_files(tf1.dir)) == {".", "eval"}
    assert ev.find_event_files(tf1.dir, max_depth=0).keys() == {"."}
    assert all(Path(str(c) + ".index").exists() for c in tf2.checkpoints + tf1.checkpoints)


@pytest.mark.parametrize("which", ["tf2", "tf1"])
def test_every_scalar_series_equals_tensorflows_reading(written, which):
    run = written[which]
    result = ev.read_scalars(run.dir)
    assert_scalars_match_tf(result, run.dir)
    assert result.problems == []
    # and it is what the writers were asked to write, at float32 precision where TF rounds
    got = {(s.run, s.tag): s for s in result.series}
    assert set(got) == set(run.scalars)
    for key, asked in run.scalars.items():
        assert got[key].steps.tolist() == [step for step, _ in asked]
        np.testing.assert_allclose(got[key].values, [v for _, v in asked], rtol=1e-6)


def test_strings_and_non_scalar_tensors_are_skipped_with_a_note(written):
    for run in written.values():
        result = ev.read_scalars(run.dir)
        skipped = {(n.run, n.tag) for n in result.notes if n.kind == "skipped"}
        assert skipped == set(run.skipped_tags)
        assert all(n.count > 1 and n.tag in str(n) for n in result.notes if n.kind == "skipped")
    pair = next(n for n in ev.read_scalars(written["tf2"].dir).notes if n.tag == "pair")
    assert "shape [2]" in pair.message


def test_float64_and_int64_scalar_tensors_keep_their_values(written):
    result = ev.read_scalars(written["tf2"].dir, tag_regex="^(precise|int_count)$")
    assert sorted(s.tag for s in result.series) == ["int_count", "precise"]
    precise = result.scalar("train", "precise")
    assert precise.values.tolist() == [1.0 / 3 + s for s in range(len(precise))]  # not rounded to float32
    assert result.scalar("train", "int_count").values.tolist() == [3.0 * s for s in range(len(precise))]


@pytest.mark.parametrize("which", ["tf2", "tf1"])
def test_every_histogram_equals_tensorflows_reading(written, which):
    run = written[which]
    result = ev.read_histograms(run.dir)
    expected = tf_histograms(run.dir)
    assert {(h.run, h.tag) for h in result.histograms} == set(expected) == set(run.histogram_tags)
    assert result.series == [] and result.problems == []
    for h in result.histograms:
        want = expected[(h.run, h.tag)]
        assert len(h.points) == len(want)
        for point, (step, wall, left, right, counts) in zip(h.points, want):
            assert (point.step, point.wall_time) == (step, wall)
            assert bits(point.left) == bits(left)
            assert bits(point.right) == bits(right)
            assert bits(point.counts) == bits(counts)
            assert point.edges.shape == (len(counts), 2)
            assert counts.sum() > 0


def test_tf1_histogram_keeps_the_protos_min_and_max(written):
    run = written["tf1"]
    protos = [v.histo for _, e in _tf_events(run.dir) for v in e.summary.value if v.HasField("histo")]
    points = ev.read_histograms(run.dir, tag_regex="inputs").histograms[0].points
    assert [(p.min, p.max) for p in points] == [(h.min, h.max) for h in protos]


def test_tag_regex_selects_tags(written):
    result = ev.read_scalars(written["tf2"].dir, tag_regex="loss")
    assert sorted((s.run, s.tag) for s in result.series) == [("eval", "loss"), ("train", "loss")]
    assert [n for n in result.notes if n.kind == "skipped"] == []   # other tags are not looked at


def test_progress_and_cancel(written):
    seen = []
    result = ev.read_scalars(written["tf2"].dir, progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    reader = ev.EventReader(written["tf2"].dir)
    first = reader.read(cancelled=lambda: True)
    assert first.cancelled
    rest = reader.read()
    assert not rest.cancelled
    both = {(s.run, s.tag): len(s) for s in rest.series}
    for s in first.series:
        both[(s.run, s.tag)] = both.get((s.run, s.tag), 0) + len(s)
    assert both == {(s.run, s.tag): len(s) for s in result.series}


# -- hostile files ----------------------------------------------------------------------

def _copy_run(src: Path, dest: Path) -> Path:
    """`dest`: a copy of `src`'s train/ folder, so its one event file is run "."."""
    shutil.copytree(src / "train", dest)
    return next(dest.glob("*tfevents*"))


def _record_offsets(path: Path) -> list[int]:
    data, offsets, pos = path.read_bytes(), [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + int.from_bytes(data[pos:pos + 8], "little")
    assert pos == len(data)
    return offsets


def test_truncated_last_record_is_a_note_and_the_rest_reads(written, tmp_path):
    path = _copy_run(written["tf2"].dir, tmp_path / "run")
    whole = ev.read_scalars(tmp_path / "run")
    last = _record_offsets(path)[-1]
    data = path.read_bytes()
    for cut in (last + 5, last + 12, len(data) - 1):  # in the header, the data, the data's crc
        path.write_bytes(data[:cut])
        result = ev.read_scalars(tmp_path / "run")
        assert result.problems == []
        (note,) = [n for n in result.notes if n.kind == "truncated"]
        assert note.offset == last and note.path == str(path)
        # the last record is train/pair (skipped) here, so every series is whole
        assert [(s.tag, len(s)) for s in result.series] == [(s.tag, len(s)) for s in whole.series]
    path.write_bytes(data[:last])
    assert_scalars_match_tf(ev.read_scalars(tmp_path / "run"), tmp_path / "run")


def test_a_flipped_byte_skips_that_record_with_a_note(written, tmp_path):
    path = _copy_run(written["tf2"].dir, tmp_path / "run")
    whole = ev.read_scalars(tmp_path / "run")
    offsets = _record_offsets(path)
    events = [event_pb2.Event.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
    k = next(i for i, e in enumerate(events) if e.summary.value and e.summary.value[0].tag == "loss")
    data = bytearray(path.read_bytes())
    data[offsets[k] + 12 + 3] ^= 0x40                 # inside the event's bytes
    path.write_bytes(bytes(data))
    result = ev.read_scalars(tmp_path / "run")
    (note,) = result.problems
    assert note.kind == "corrupt" and note.offset == offsets[k] and note.path == str(path)
    assert str(offsets[k]) in str(note) and path.name in str(note)
    loss, was = result.scalar(".", "loss"), whole.scalar(".", "loss")
    assert loss.steps.tolist() == [s for s in was.steps.tolist() if s != events[k].step]
    assert [len(s) for s in result.series if s.tag != "loss"] == [len(s) for s in whole.series if s.tag != "loss"]


def test_a_flipped_byte_in_a_header_resyncs_at_the_next_record(written, tmp_path):
    path = _copy_run(written["tf2"].dir, tmp_path / "run")
    whole = ev.read_scalars(tmp_path / "run")
    offsets = _record_offsets(path)
    data = bytearray(path.read_bytes())
    data[offsets[5] + 1] ^= 0x01                      # the length: the header crc fails
    path.write_bytes(bytes(data))
    result = ev.read_scalars(tmp_path / "run")
    (note,) = result.problems
    assert note.kind == "corrupt" and note.offset == offsets[5] and str(offsets[6]) in note.message
    assert sum(map(len, whole.series)) - sum(map(len, result.series)) <= 1


def test_empty_and_non_event_files_named_like_event_files(tmp_path):
    (tmp_path / "events.out.tfevents.1.empty").write_bytes(b"")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "events.out.tfevents.2.notes").write_text("this is a text file, not records\n" * 20)
    (tmp_path / "logs" / "events.out.tfevents.3.short").write_bytes(b"abc")
    result = ev.read_scalars(tmp_path)
    assert result.series == [] and result.files == 3
    assert [(n.kind, Path(n.path).name) for n in result.problems] == [("not-events", "events.out.tfevents.2.notes")]
    assert [n.kind for n in result.notes if not n.is_problem] == ["truncated"]     # 3 bytes: a header begun


def test_a_100000_event_file_reads_exactly(tmp_path):
    tags = ["loss", "acc", "lr"]
    rng = np.random.RandomState(0)
    values = rng.normal(size=100_000).astype(np.float32)
    out = [event_pb2.Event(wall_time=1.6e9, file_version="brain.Event:2")]
    for i, v in enumerate(values):
        value = summary_pb2.Summary.Value(tag=tags[i % 3], simple_value=float(v))
        out.append(event_pb2.Event(wall_time=1.6e9 + i / 7, step=i // 3 + (i % 2) * 10**12,
                                   summary=summary_pb2.Summary(value=[value])))
    fx.write_event_records(tmp_path / "events.out.tfevents.1600000000.host", out)
    result = ev.read_scalars(tmp_path)
    assert sum(map(len, result.series)) == 100_000 and result.notes == []
    assert_scalars_match_tf(result, tmp_path)


def test_the_module_imports_neither_tensorflow_nor_qt(written):
    code = (
        "import sys\n"
        "from app.formats import events\n"
        "r = events.read_scalars(sys.argv[1]); h = events.read_histograms(sys.argv[1])\n"
        "assert r.series and h.histograms\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n")
    proc = run_python(code, str(written["tf2"].dir), timeout=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- live runs ------------------------------------------------------------------------

def _scalar_events(start: int, stop: int, tag: str = "loss"):
    return [event_pb2.Event(wall_time=1.7e9 + i, step=i, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=i / 8)])) for i in range(start, stop)]


def test_a_reader_reads_only_what_was_appended(tmp_path):
    path = tmp_path / "train" / "events.out.tfevents.1700000000.host"
    path.parent.mkdir()
    fx.write_event_records(path, _scalar_events(0, 50))
    reader = ev.EventReader(tmp_path)
    first = reader.read()
    size1 = path.stat().st_size
    assert first.bytes_read == size1 and reader.offsets == {str(path): size1}
    assert first.scalar("train", "loss").steps.tolist() == list(range(50))

    # 30 more records and half of another, as a writer in the middle of a flush leaves it
    fx.write_event_records(path, _scalar_events(50, 80), append=True)
    tail = tmp_path / "tail"
    fx.write_event_records(tail, _scalar_events(80, 81))
    whole = tail.read_bytes()
    with open(path, "ab") as f:
        f.write(whole[:len(whole) // 2])
    size2 = path.stat().st_size
    second = reader.read()
    assert second.bytes_read == size2 - size1                      # nothing before size1 again
    assert second.scalar("train", "loss").steps.tolist() == list(range(50, 80))
    (note,) = second.notes
    assert note.kind == "truncated" and not note.is_problem
    assert reader.offsets[str(path)] == size2 - len(whole) // 2     # at the half record

    with open(path, "ab") as f:
        f.write(whole[len(whole) // 2:])
    third = reader.read()
    assert third.bytes_read == len(whole)                          # the half record once more
    assert third.scalar("train", "loss").steps.tolist() == [80] and third.notes == []
    assert reader.read().series == [] and reader.read().bytes_read == 0

    # a new run folder and a new file of an existing run are picked up
    (tmp_path / "eval").mkdir()
    fx.write_event_records(tmp_path / "eval" / "events.out.tfevents.1700000100.host", _scalar_events(0, 3, "acc"))
    fx.write_event_records(path.with_name("events.out.tfevents.1700000200.host"), _scalar_events(81, 83))
    fourth = reader.read()
    assert fourth.scalar("eval", "acc").steps.tolist() == [0, 1, 2]
    assert fourth.scalar("train", "loss").steps.tolist() == [81, 82]


def test_a_reader_follows_a_tensorflow_writer(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    reader = ev.EventReader(tmp_path)
    got = []
    for chunk in range(3):
        with writer.as_default():
            for step in range(chunk * 5, chunk * 5 + 5):
                tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
        writer.flush()
        before = dict(reader.offsets)
        result = reader.read()
        (path,) = reader.offsets
        assert result.bytes_read == os.path.getsize(path) - before.get(path, 0)
        got.append(result.scalar("train", "loss").steps.tolist())
    writer.close()
    assert got == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]]
    assert_scalars_match_tf(ev.read_scalars(tmp_path), tmp_path)


def test_duplicated_steps_are_kept_as_written(tmp_path):
    """A run restarted from a checkpoint writes its steps again: the series keeps both
    attempts in file order; last_per_step() keeps what the restarted run wrote."""
    path = tmp_path / "events.out.tfevents.1700000000.host"
    fx.write_event_records(path, _scalar_events(0, 6) + [
        event_pb2.Event(wall_time=2e9 + i, step=i, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="loss", simple_value=-i)])) for i in range(3, 8)])
    s = ev.read_scalars(tmp_path).scalar(".", "loss")
    assert s.steps.tolist() == [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7]
    last = s.last_per_step()
    assert last.steps.tolist() == list(range(8))
    assert last.values.tolist() == [0, 1 / 8, 2 / 8, -3, -4, -5, -6, -7]
    assert last.wall_times.tolist()[3:] == [2e9 + i for i in range(3, 8)]


def test_a_tags_plugin_is_remembered_and_string_scalars_are_skipped(tmp_path):
    """Writers may send a tag's metadata with its first value only (tensorboard keeps it per
    run); a string tensor that claims the scalars plugin is noted, not read."""
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))

    def tensor_event(step, tag, tensor, with_meta):
        value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta if with_meta else None)
        return event_pb2.Event(wall_time=1.0 + step, step=step, summary=summary_pb2.Summary(value=[value]))

    f32 = tf.make_tensor_proto(np.float32(0.25))
    text = tf.make_tensor_proto("hello")
    f32, text = (tensor_pb2.TensorProto.FromString(t.SerializeToString()) for t in (f32, text))
    fx.write_event_records(tmp_path / "events.out.tfevents.1.host", [
        tensor_event(0, "m", f32, True), tensor_event(1, "m", f32, False),
        tensor_event(0, "s", text, True), tensor_event(1, "s", text, False)])
    result = ev.read_scalars(tmp_path)
    assert [(s.tag, s.steps.tolist(), s.values.tolist()) for s in result.series] == [("m", [0, 1], [0.25, 0.25])]
    (note,) = result.notes
    assert note.tag == "s" and note.count == 2 and "string tensor" in note.message
