"""Watching a run folder (app/formats/live.py) without training: TensorFlow's checkpoints
(resources/sample_run) copied in step by step, indexes made to lie, and the watcher's
clocks driven by the test, so that every rule (complete, within its grace, overdue,
changed in place, removed, the folder made again) is met in milliseconds. The live
training tests (test_live.py) show the same against TensorFlow writing."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from app.formats import protos
from app.formats.live import RunWatcher, completeness

from .conftest import ROOT
from .tablewriter import bundle_entry, table_bytes

SAMPLE = ROOT / "resources" / "sample_run"
DATA = "data-00000-of-00001"
SIZE = 2056          # bytes of each sample data file: the index places its last tensor there


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def save(folder, name, src="epoch-0", data=True, index=True):
    if data:
        shutil.copy(SAMPLE / f"{src}.{DATA}", folder / f"{name}.{DATA}")
    if index:
        shutil.copy(SAMPLE / f"{src}.index", folder / f"{name}.index")


def header(num_shards: int) -> bytes:
    return protos.BundleHeaderProto(num_shards=num_shards).SerializeToString()


def age(folder, seconds: float = 3600) -> None:
    """Every file's times set back, as files found on start are."""
    then = time.time() - seconds
    for f in folder.iterdir():
        os.utime(f, (then, then))


# -- completeness --------------------------------------------------------------------------

def test_tensorflows_checkpoint_is_complete_and_each_missing_part_is_named(tmp_path):
    save(tmp_path, "ckpt-1")
    assert completeness(str(tmp_path / "ckpt-1")) is None
    with open(tmp_path / f"ckpt-1.{DATA}", "r+b") as f:
        f.truncate(SIZE - 1)
    assert completeness(str(tmp_path / "ckpt-1")) == (
        f"data file ckpt-1.{DATA} has {SIZE - 1} bytes, the index needs {SIZE} (truncated or still being written)")
    os.remove(tmp_path / f"ckpt-1.{DATA}")
    assert completeness(str(tmp_path / "ckpt-1")) == f"data file ckpt-1.{DATA} is missing"
    os.remove(tmp_path / "ckpt-1.index")
    assert completeness(str(tmp_path / "ckpt-1")) == "file not found"
    (tmp_path / "ckpt-1.index").write_bytes(b"")
    assert completeness(str(tmp_path / "ckpt-1")).startswith("not a TensorFlow index/table file")


def _index(folder, entries, name="p") -> str:
    (folder / f"{name}.index").write_bytes(table_bytes(entries))
    return str(folder / name)


def test_the_furthest_entry_of_each_shard_sets_the_bytes_it_needs(tmp_path):
    p = _index(tmp_path, [(b"", header(2)),
                          (b"a", bundle_entry(dtype=1, size=8, offset=40, shard_id=0)),
                          (b"b", bundle_entry(dtype=1, size=8, offset=0, shard_id=0)),
                          (b"c", bundle_entry(dtype=1, size=10, offset=5, shard_id=1))])
    (tmp_path / "p.data-00000-of-00002").write_bytes(b"\0" * 48)
    (tmp_path / "p.data-00001-of-00002").write_bytes(b"\0" * 15)
    assert completeness(p) is None
    (tmp_path / "p.data-00001-of-00002").write_bytes(b"\0" * 14)
    assert completeness(p) == ("data file p.data-00001-of-00002 has 14 bytes, the index needs 15 "
                               "(truncated or still being written)")
    (tmp_path / "p.data-00000-of-00002").write_bytes(b"\0" * 47)
    assert "p.data-00000-of-00002 has 47 bytes, the index needs 48" in completeness(p)
    os.remove(tmp_path / "p.data-00000-of-00002")
    assert completeness(p) == "data file p.data-00000-of-00002 is missing"


def test_an_empty_shard_needs_only_to_exist(tmp_path):
    p = _index(tmp_path, [(b"", header(2)), (b"a", bundle_entry(dtype=1, size=0, offset=0, shard_id=1))])
    (tmp_path / "p.data-00000-of-00002").write_bytes(b"")
    (tmp_path / "p.data-00001-of-00002").write_bytes(b"")
    assert completeness(p) is None


@pytest.mark.parametrize("entries,problem", [
    ([(b"a", bundle_entry(dtype=1, size=8))], "index has no bundle header"),
    ([(b"", header(0))], "bundle header declares 0 shards"),
    ([(b"", header(1_000_001))], "bundle header declares 1000001 shards"),
    ([(b"", header(1_000_000))], "data file p.data-00000-of-1000000 is missing"),
    ([(b"", header(1)), (b"a", bundle_entry(dtype=1, size=8, shard_id=1))],
     "index places entries in shards its header does not declare"),
    ([(b"", header(1)), (b"a", b"\xff\xff\xff")], "index does not parse yet"),
    ([(b"", b"\xff\xff\xff")], "index does not parse yet"),
])
def test_indexes_that_are_not_whole_yet_say_why(tmp_path, entries, problem):
    (tmp_path / f"p.{DATA}").write_bytes(b"\0" * 64)
    assert completeness(_index(tmp_path, entries)) == problem


# -- the watcher ---------------------------------------------------------------------------

def watcher(folder, **kw):
    clock, wall = Clock(), Clock(time.time())
    w = RunWatcher(str(folder), clock=clock, wall=wall, **kw)
    return w, clock, wall


def test_a_complete_checkpoint_is_added_once_with_its_files_and_step(tmp_path):
    w, clock, wall = watcher(tmp_path)
    assert w.poll() == [] and w.last_change is None and w.checkpoints == []
    save(tmp_path, "ckpt-12")
    (tmp_path / f"ckpt-13.{DATA}").write_bytes(b"x")           # data, no index yet: not a checkpoint
    (tmp_path / "ckpt-14.index.tempstate99").write_bytes(b"")   # TensorFlow's temporary name
    (tmp_path / "ckpt-15_temp").mkdir()
    (e,) = w.poll()
    assert (e.kind, e.prefix, e.step, e.problem) == ("added", str(tmp_path / "ckpt-12"), 12, None)
    assert e.files == [str(tmp_path / f"ckpt-12.{DATA}"), str(tmp_path / "ckpt-12.index")]
    assert w.last_change == wall.now and w.reads == 1 and not w.pending
    assert w.checkpoints == [str(tmp_path / "ckpt-12")]
    wall.now += 50
    for _ in range(3):
        clock.now += 1
        assert w.poll() == []
    assert w.reads == 1 and w.last_change == wall.now - 50


def test_checkpoints_are_listed_and_reported_by_step(tmp_path):
    for name in ("ckpt-10", "final", "ckpt-9", "ckpt-100"):
        save(tmp_path, name)
    w, _, _ = watcher(tmp_path)
    events = w.poll()
    assert [(e.kind, e.step) for e in events] == [("added", 9), ("added", 10), ("added", 100), ("added", None)]
    assert [os.path.basename(p) for p in w.checkpoints] == ["ckpt-9", "ckpt-10", "ckpt-100", "final"]


def test_a_checkpoint_being_written_waits_its_grace_then_is_reported_with_its_problem(tmp_path):
    w, clock, wall = watcher(tmp_path, grace=2.0)
    save(tmp_path, "ckpt-1", data=False)
    assert w.poll() == [] and w.pending and w.reads == 1
    clock.now += 1.9
    wall.now += 0.5                                           # its files half a second old
    assert w.poll() == [] and w.pending and w.reads == 1      # within its grace: not read again
    clock.now += 0.1
    wall.now += 2.0
    (e,) = w.poll()
    assert (e.kind, e.step, e.problem) == ("added", 1, f"data file ckpt-1.{DATA} is missing")
    assert not w.pending and w.reads == 2
    assert w.checkpoints == [str(tmp_path / "ckpt-1")]
    save(tmp_path, "ckpt-1", index=False)                     # the data file lands at last
    (e,) = w.poll()
    assert (e.kind, e.prefix, e.step, e.problem) == ("changed", str(tmp_path / "ckpt-1"), 1, None)
    assert e.files == [str(tmp_path / f"ckpt-1.{DATA}"), str(tmp_path / "ckpt-1.index")]


def test_a_checkpoint_completed_within_its_grace_is_added_whole(tmp_path):
    w, clock, _ = watcher(tmp_path, grace=2.0)
    save(tmp_path, "ckpt-1", data=False)
    assert w.poll() == []
    clock.now += 0.5
    save(tmp_path, "ckpt-1", index=False)
    (e,) = w.poll()
    assert (e.kind, e.problem) == ("added", None)


def test_a_broken_checkpoint_found_on_start_is_reported_at_once(tmp_path):
    save(tmp_path, "ckpt-3", data=False)
    age(tmp_path)
    w, _, _ = watcher(tmp_path, grace=2.0)
    (e,) = w.poll()
    assert (e.kind, e.step, e.problem) == ("added", 3, f"data file ckpt-3.{DATA} is missing")
    assert w.poll() == []


def test_a_deleted_checkpoint_is_removed_and_one_never_reported_is_forgotten(tmp_path):
    save(tmp_path, "ckpt-1")
    save(tmp_path, "ckpt-2", data=False)
    w, _, _ = watcher(tmp_path)
    (e,) = w.poll()
    assert (e.kind, e.step) == ("added", 1) and w.pending
    os.remove(tmp_path / "ckpt-1.index")        # its data may linger: the index is what counts
    os.remove(tmp_path / "ckpt-2.index")
    (e,) = w.poll()
    assert (e.kind, e.prefix, e.step, e.problem, e.files) == ("removed", str(tmp_path / "ckpt-1"), 1, None, [])
    assert w.checkpoints == [] and not w.pending


def test_a_folder_deleted_and_made_again_removes_then_adds(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save(run, "ckpt-10")
    save(run, "ckpt-9")
    w, _, wall = watcher(run)
    assert len(w.poll()) == 2
    shutil.rmtree(run)
    wall.now += 10
    events = w.poll()
    assert [(e.kind, e.step) for e in events] == [("removed", 9), ("removed", 10)]   # by step
    assert w.last_change == wall.now and w.checkpoints == []
    assert w.poll() == []
    run.mkdir()
    save(run, "ckpt-1")
    assert [(e.kind, e.step) for e in w.poll()] == [("added", 1)]
    # made again while we were not looking: the old checkpoints go, the new ones come
    run.rename(tmp_path / "old")
    run.mkdir()                                 # (a new folder, while the old one still is)
    shutil.rmtree(tmp_path / "old")
    save(run, "ckpt-1")
    save(run, "ckpt-5")
    assert [(e.kind, e.step) for e in w.poll()] == [("removed", 1), ("added", 1), ("added", 5)]


def test_a_rewrite_in_place_is_noticed_at_the_next_sweep(tmp_path):
    save(tmp_path, "ckpt-1")
    age(tmp_path)
    w, clock, wall = watcher(tmp_path, grace=2.0, sweep=5.0)
    assert len(w.poll()) == 1 and w.reads == 1
    folder_time = os.stat(tmp_path).st_mtime_ns
    with open(tmp_path / f"ckpt-1.{DATA}", "r+b") as f:     # the folder's own time stays
        f.truncate(100)
    os.utime(tmp_path, ns=(folder_time, folder_time))
    clock.now += 4.9
    assert w.poll() == [] and w.reads == 1                   # before the sweep: not looked at
    clock.now += 0.1
    assert w.poll() == []                                    # changed just now: its grace first
    clock.now += 2.0
    (e,) = w.poll()
    assert (e.kind, e.step) == ("changed", 1)
    assert e.problem == (f"data file ckpt-1.{DATA} has 100 bytes, the index needs {SIZE} "
                         "(truncated or still being written)")
    save(tmp_path, "ckpt-1", index=False)
    os.utime(tmp_path, ns=(folder_time, folder_time))
    clock.now += 2.9
    assert w.poll() == []                                    # the last sweep was 5 s ago at 1010
    clock.now += 0.1                                         # whole again: said at once
    (e,) = w.poll()
    assert (e.kind, e.problem) == ("changed", None)


def test_an_unchanged_rewrite_reports_nothing(tmp_path):
    save(tmp_path, "ckpt-1")
    w, clock, wall = watcher(tmp_path, grace=2.0, sweep=5.0)
    w.poll()
    reads = w.reads
    os.utime(tmp_path / "ckpt-1.index")
    clock.now += 10
    wall.now += 10
    assert w.poll() == []
    clock.now += 10
    assert w.poll() == [] and w.reads == reads + 1       # read again once, same verdict


def test_where_the_folder_time_is_not_trusted_every_poll_lists_it(tmp_path):
    save(tmp_path, "ckpt-1")
    trusting, _, _ = watcher(tmp_path)
    doubting, _, _ = watcher(tmp_path, trust_folder_time=False)
    assert len(trusting.poll()) == len(doubting.poll()) == 1
    folder_time = os.stat(tmp_path).st_mtime_ns
    save(tmp_path, "ckpt-2")
    os.utime(tmp_path, ns=(folder_time, folder_time))       # as a cached folder time hides it
    assert trusting.poll() == []
    assert [(e.kind, e.step) for e in doubting.poll()] == [("added", 2)]


def test_where_sizes_are_cached_an_incomplete_checkpoint_is_read_again_each_poll(tmp_path):
    save(tmp_path, "ckpt-1", data=False)
    w, clock, _ = watcher(tmp_path, trust_folder_time=False, grace=2.0)
    assert w.poll() == [] and w.reads == 1
    clock.now += 0.5
    assert w.poll() == [] and w.reads == 2


def test_a_checkpoint_whose_files_are_exactly_its_grace_old_is_overdue(tmp_path):
    save(tmp_path, "ckpt-3", data=False)
    then = 1_700_000_000
    os.utime(tmp_path / "ckpt-3.index", ns=(then * 10**9, then * 10**9))
    clock, wall = Clock(), Clock(then + 1.5)
    w = RunWatcher(str(tmp_path), grace=1.5, clock=clock, wall=wall)
    (e,) = w.poll()
    assert (e.kind, e.problem) == ("added", f"data file ckpt-3.{DATA} is missing")
    save(tmp_path, "ckpt-4", data=False)
    os.utime(tmp_path / "ckpt-4.index", ns=(then * 10**9, then * 10**9))
    wall.now = then + 1.25                       # a quarter second short of it: waits
    assert w.poll() == []


def test_by_default_a_checkpoint_gets_two_seconds_and_a_sweep_comes_every_five(tmp_path):
    save(tmp_path, "ckpt-1", data=False)
    clock, wall = Clock(), Clock(time.time())
    w = RunWatcher(str(tmp_path), clock=clock, wall=wall)
    assert w.poll() == []
    clock.now += 1.9
    assert w.poll() == []
    clock.now += 0.1
    wall.now += 2.0
    (e,) = w.poll()
    assert e.kind == "added" and e.problem
    reads = w.reads
    folder_time = os.stat(tmp_path).st_mtime_ns
    save(tmp_path, "ckpt-1", index=False)
    os.utime(tmp_path, ns=(folder_time, folder_time))   # as a cached folder time hides it
    clock.now += 2.9                               # the last sweep: at the start; 5 s later is 1005
    assert w.poll() == [] and w.reads == reads
    clock.now += 0.1
    (e,) = w.poll()
    assert (e.kind, e.problem) == ("changed", None)


def test_a_checkpoint_saved_or_removed_while_the_run_was_read_is_listed_at_once(tmp_path):
    """Following starts a moment after the document read the folder: what came or went
    in between is an update at once, not left for the next change to show."""
    from app.document.live import LiveRun
    save(tmp_path, "ckpt-1")
    save(tmp_path, "ckpt-2")
    age(tmp_path)
    read = {str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2")}   # what the document read
    assert LiveRun(str(tmp_path)).prime(read) is None
    save(tmp_path, "ckpt-3")
    age(tmp_path)
    update = LiveRun(str(tmp_path)).prime(read)
    assert [c.step for c in update.checkpoints] == [1, 2, 3]
    assert [(e.kind, e.step) for e in update.events] == [("added", 1), ("added", 2), ("added", 3)]
    for f in (f"ckpt-1.{DATA}", "ckpt-1.index", f"ckpt-3.{DATA}", "ckpt-3.index"):
        os.remove(tmp_path / f)
    update = LiveRun(str(tmp_path)).prime(read)
    assert [c.step for c in update.checkpoints] == [2]
    # one the document read that is not judged yet (its data cut, its files just written)
    # stays listed as read, whatever else came
    with open(tmp_path / f"ckpt-2.{DATA}", "r+b") as f:
        f.truncate(SIZE // 2)
    os.utime(tmp_path / f"ckpt-2.{DATA}")
    assert LiveRun(str(tmp_path)).prime({str(tmp_path / "ckpt-2")}) is None
    save(tmp_path, "ckpt-4")
    age(tmp_path)
    os.utime(tmp_path / f"ckpt-2.{DATA}")
    update = LiveRun(str(tmp_path)).prime({str(tmp_path / "ckpt-2")})
    assert [c.step for c in update.checkpoints] == [2, 4]
