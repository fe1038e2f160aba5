"""Live runs: a real TensorFlow training process saves while the watcher (and `watch`)
follow its folder. Every save is bounded in count and time; only local files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from app.formats.live import RunWatcher, completeness
from app.formats.model import open_checkpoint
from app.formats.run import Checkpoint

from .conftest import ROOT

pytest.importorskip("tensorflow")

SAVES = 12
TRAIN = ROOT / "tests" / "live_train.py"


def start_training(mode, run, record, saves=SAVES):
    os.makedirs(run, exist_ok=True)
    os.makedirs(record, exist_ok=True)
    return subprocess.Popen([sys.executable, str(TRAIN), mode, str(run), str(record), str(saves)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_all(prefix) -> dict[str, np.ndarray]:
    """Every variable of a checkpoint by its readable name, copied out right away."""
    reader = open_checkpoint(Checkpoint(prefix, index=prefix + ".index"))
    try:
        return {t.display_name: np.array(reader.read(t.name)) for t in reader.tensors.values()
                if t.display_name in ("a", "b")}
    finally:
        reader.close()


def recorded(record, step) -> dict[str, np.ndarray]:
    with np.load(os.path.join(record, f"step-{step}.npz")) as z:
        return {k: z[k] for k in z.files}


def follow(watcher, proc, deadline_s=90, on_event=None, after_exit=1.5):
    """Poll every 5 ms while the training runs (and a moment after), reading each added
    checkpoint at once: TensorFlow deletes it again 3 saves later."""
    events, values = [], {}
    deadline = time.monotonic() + deadline_s
    ended = None
    while time.monotonic() < deadline:
        for e in watcher.poll():
            events.append(e)
            if e.kind == "added" and e.problem is None:
                values[e.prefix] = read_all(e.prefix)
            if on_event:
                on_event(e)
        if proc.poll() is not None:
            ended = ended or time.monotonic()
            if time.monotonic() - ended > after_exit:
                break
        time.sleep(0.005)
    else:
        proc.kill()
        pytest.fail("training did not finish in time")
    return events, values


@pytest.mark.parametrize("mode", ["tf1", "tf1s", "tf2"])
def test_every_checkpoint_is_reported_once_complete_and_removed_when_deleted(tmp_path, mode):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training(mode, run, record)
    watcher = RunWatcher(str(run), grace=1.0)
    events, values = follow(watcher, proc)
    assert proc.returncode == 0, proc.stderr.read()

    added = [e for e in events if e.kind == "added"]
    assert [e.step for e in added] == list(range(1, SAVES + 1))     # each once, in order
    assert all(e.problem is None for e in added)
    removed = sorted(e.step for e in events if e.kind == "removed")
    assert removed == list(range(1, SAVES - 3 + 1))                  # max_to_keep=3
    assert not [e for e in events if e.kind == "changed"]
    # What was read the moment it was reported is exactly what TensorFlow saved.
    for e in added:
        want = recorded(record, e.step)
        got = values[e.prefix]
        assert set(got) == {"a", "b"}
        for k in want:
            assert got[k].tobytes() == want[k].tobytes(), (e.step, k)
    if mode == "tf1s":
        assert len([n for n in os.listdir(run) if ".data-" in n and "ckpt-12." in n]) == 2
    # Each index was parsed about once: the watcher does not re-read what it has seen.
    assert watcher.reads <= SAVES + 3
    assert watcher.checkpoints == [str(run / f"{'ckpt' if mode == 'tf2' else 'model.ckpt'}-{s}")
                                   for s in (10, 11, 12)]


def test_watch_command_json_until_the_last_step(tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    run.mkdir()
    watch = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "watch", str(run),
                              "--stats", "a", "--json", "--until", str(SAVES),
                              "--timeout", "60", "--interval", "0.02"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = start_training("tf2", run, record)
    out, err = watch.communicate(timeout=90)
    proc.wait(timeout=30)
    assert watch.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    added = [o for o in lines if o["event"] == "added"]
    assert [o["step"] for o in added] == list(range(1, SAVES + 1))
    for o in added:
        assert o["prefix"] == str(run / f"ckpt-{o['step']}")
        a = recorded(record, o["step"])["a"].astype(np.float64)
        s = o["stats"]["a"]
        assert s["display_name"] == "a" and s["shape"] == [1000] and s["size"] == 1000
        assert s["min"] == pytest.approx(a.min()) and s["max"] == pytest.approx(a.max())
        assert s["mean"] == pytest.approx(a.mean(), abs=1e-6)
        assert sum(s["histogram"]["counts"]) == 1000
    removed = [o["step"] for o in lines if o["event"] == "removed"]
    # TensorFlow deletes step 9 just after step 12 lands, which ends the watch: it may
    # or may not be seen in time.
    assert removed in (list(range(1, SAVES - 3)), list(range(1, SAVES - 3 + 1)))
    assert all(set(o) == {"event", "step", "prefix"} for o in lines if o["event"] == "removed")


def test_watch_command_reports_what_is_there_first_and_times_out(tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf1", run, record, saves=2)
    proc.wait(timeout=120)
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "watch", str(run),
                          "--timeout", "0.5"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [line.split()[:3] for line in out.stdout.splitlines()] == [
        ["added", "step", "1"], ["added", "step", "2"]]
    late = subprocess.run([sys.executable, str(ROOT / "main.py"), "watch", str(run), "--json",
                           "--until", "5", "--timeout", "0.3"], capture_output=True, text=True,
                          timeout=60)
    assert late.returncode == 1 and "timed out before step 5" in late.stderr
    assert len(late.stdout.splitlines()) == 2


@pytest.mark.parametrize("mode", ["tf1s", "tf2"])
def test_hostile_folder_garbage_state_truncated_shards_and_the_folder_recreated(tmp_path, mode):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training(mode, run, record, saves=16)
    watcher = RunWatcher(str(run), grace=0.5, sweep=0.2)
    name = "ckpt" if mode == "tf2" else "model.ckpt"
    done = set()

    def copy(step, as_prefix, truncate):
        """Copy a complete checkpoint under another name, data first as TensorFlow does."""
        src = run / f"{name}-{step}"
        for f in sorted(os.listdir(run)):
            if f.startswith(f"{name}-{step}.data-"):
                dst = run / (as_prefix + f[len(f"{name}-{step}"):])
                shutil.copyfile(run / f, dst)
                if truncate:
                    os.truncate(dst, os.path.getsize(dst) // 2)
        shutil.copyfile(str(src) + ".index", run / (as_prefix + ".index"))

    def hostile(e):
        if e.kind != "added" or e.step in done:
            return
        done.add(e.step)
        if e.step == 2:
            (run / "checkpoint").write_bytes(b"\x00garbage{{{ not a state file")
        elif e.step == 3:
            copy(3, "copy-0", truncate=False)   # complete: added, then truncated below
            copy(3, "copy-1", truncate=True)    # never complete: added with a problem
        elif e.step == 0 and e.problem is None:
            shard = next(f for f in sorted(os.listdir(run)) if f.startswith("copy-0.data-"))
            os.truncate(run / shard, 10)         # in place: the folder's time stays
        elif e.step == 9:   # late enough for the sweep to have seen copy-0 truncated
            for _ in range(50):   # TensorFlow deletes and writes in it meanwhile
                shutil.rmtree(run, ignore_errors=True)
                if not run.exists():
                    break
            run.mkdir(exist_ok=True)   # (TensorFlow may have made it again already)

    events, values = follow(watcher, proc, on_event=hostile)
    assert proc.returncode == 0, proc.stderr.read()
    by = {(e.kind, os.path.basename(e.prefix)): e for e in events}

    assert by[("added", "copy-1")].problem and "copy-1.data-" in by[("added", "copy-1")].problem
    assert by[("added", "copy-0")].problem is None
    assert "truncated" in by[("changed", "copy-0")].problem
    # The folder went away: everything reported before is removed, copies included.
    for p in ("copy-0", "copy-1", f"{name}-9"):
        assert ("removed", p) in by
    # Saves after the folder came back are reported, complete and correct.
    saved = sorted(int(f[5:-4]) for f in os.listdir(record) if f.startswith("step-"))
    later = [s for s in saved if s >= 12]
    assert later and all(("added", f"{name}-{s}") in by for s in later)
    for s in later:
        e = by[("added", f"{name}-{s}")]
        assert e.problem is None
        want, got = recorded(record, s), values[e.prefix]
        assert all(got[k].tobytes() == want[k].tobytes() for k in want)
    # Nothing is reported added twice without a removal between.
    live = set()
    for e in events:
        if e.kind == "added":
            assert e.prefix not in live
            live.add(e.prefix)
        elif e.kind == "removed":
            live.discard(e.prefix)


def test_cli_survives_a_truncated_shard_and_a_vanishing_checkpoint(tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf2", run, record, saves=1)
    proc.wait(timeout=120)
    shard = run / "ckpt-1.data-00000-of-00001"
    os.truncate(shard, 8)
    os.utime(shard, (time.time() - 60, time.time() - 60))   # old: no grace to wait for
    os.utime(run / "ckpt-1.index", (time.time() - 60, time.time() - 60))
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "watch", str(run), "--json",
                          "--stats", "a", "--timeout", "0.3"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    (line,) = [json.loads(s) for s in out.stdout.splitlines()]
    assert line["event"] == "added" and line["step"] == 1 and "stats" not in line
    assert "truncated" in line["problem"]


def test_completeness_of_a_half_written_index_and_vanished_files(tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf2", run, record, saves=1)
    proc.wait(timeout=120)
    prefix = str(run / "ckpt-1")
    assert completeness(prefix) is None
    data = (run / "ckpt-1.index").read_bytes()
    for cut in (0, 1, len(data) // 2, len(data) - 1):   # TF2 writes the index in place
        (run / "ckpt-1.index").write_bytes(data[:cut])
        assert completeness(prefix) is not None
    (run / "ckpt-1.index").write_bytes(data)
    os.remove(run / "ckpt-1.data-00000-of-00001")
    assert "missing" in completeness(prefix)
    os.remove(run / "ckpt-1.index")
    assert completeness(prefix) is not None                 # gone: a reason, no exception


def test_a_poll_costs_what_changed(tmp_path, monkeypatch):
    """Polls of an unchanged folder read no index; a new checkpoint costs one read."""
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf2", run, record, saves=1)
    proc.wait(timeout=120)
    for i in range(2, 200):
        for f in ("index", "data-00000-of-00001"):
            shutil.copyfile(run / f"ckpt-1.{f}", run / f"ckpt-{i}.{f}")
    watcher = RunWatcher(str(run), grace=0.5, sweep=3600)
    assert len(watcher.poll()) == 199 and watcher.reads == 199
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed.append(p) or real_scandir(p))
    for _ in range(20):
        assert watcher.poll() == []
    assert watcher.reads == 199 and listed == []               # one stat of the folder each
    for f in ("data-00000-of-00001", "index"):
        shutil.copyfile(run / f"ckpt-1.{f}", run / f"ckpt-500.{f}")
    (e,) = watcher.poll()
    assert (e.kind, e.step, e.problem) == ("added", 500, None) and watcher.reads == 200
    os.remove(run / "ckpt-7.index")
    (e,) = watcher.poll()
    assert (e.kind, e.step) == ("removed", 7) and watcher.reads == 200


# -- a FUSE mount (polled), and readers whose files TensorFlow deletes -------------------

def fuse_mirror(src, mnt, options=()):
    """`mnt`: a FUSE view (bindfs) of `src`. Writes made in `src` reach `mnt` without this
    kernel's notifications for `mnt` hearing of them: the case polling is for."""
    if shutil.which("bindfs") is None:
        if os.environ.get("CI"):
            pytest.fail("bindfs is missing: .ci/run installs it")
        pytest.skip("bindfs (a FUSE file system) is not installed: apt-get install bindfs")
    os.makedirs(src, exist_ok=True)
    os.makedirs(mnt, exist_ok=True)
    done = subprocess.run(["bindfs", *options, str(src), str(mnt)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"cannot make a FUSE mount here: {done.stderr.strip()}")


def unmount(mnt):
    for cmd in (["fusermount", "-u", str(mnt)], ["fusermount3", "-u", str(mnt)], ["umount", str(mnt)]):
        if shutil.which(cmd[0]) and subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0:
            return


@pytest.mark.parametrize("cached", [False, True])
def test_a_run_on_a_fuse_mount_is_polled_and_every_checkpoint_reported(tmp_path, cached):
    """Without attribute caching every checkpoint is seen. With FUSE's default 1 s cache of
    sizes, a checkpoint that lives less than that (here: saves 0.2 s apart, max_to_keep=3)
    can come and go unseen, as it would on NFS: what is reported is still complete, once,
    in order, and right."""
    from app.formats.mounts import watch_mode
    src, mnt, record = tmp_path / "src", tmp_path / "mnt", tmp_path / "record"
    fuse_mirror(src, mnt, [] if cached else ["-o", "attr_timeout=0,entry_timeout=0"])
    try:
        mode, fstype = watch_mode(str(mnt))
        assert mode == "poll" and fstype.startswith("fuse"), fstype
        assert watch_mode(str(src))[0] == "notify"       # the same files, seen from the local disk
        proc = start_training("tf2", src, record)
        watcher = RunWatcher(str(mnt), grace=1.0, trust_folder_time=False)
        events, values = follow(watcher, proc, after_exit=3.0)
        assert proc.returncode == 0, proc.stderr.read()
        added = [e.step for e in events if e.kind == "added"]
        removed = [e.step for e in events if e.kind == "removed"]
        assert all(e.problem is None for e in events) and not [e for e in events if e.kind == "changed"]
        if cached:
            assert added == sorted(set(added)) and added[-1] == SAVES, added
            assert set(removed) <= set(added) and len(added) >= SAVES // 2, (added, removed)
        else:
            assert added == list(range(1, SAVES + 1)), events
            assert removed == list(range(1, SAVES - 2))
        assert len(values) == len(added)
        for prefix, got in values.items():
            want = recorded(record, int(prefix.rsplit("-", 1)[1]))
            assert all(np.array_equal(got[k], want[k]) for k in ("a", "b")), prefix
    finally:
        unmount(mnt)


def test_a_reader_keeps_what_it_mapped_when_tensorflow_deletes_the_checkpoint(tmp_path):
    """max_to_keep unlinks the files of an old checkpoint while it is open: what was mapped
    stays readable (no SIGBUS: the pages belong to the unlinked file, not to a new one);
    what was not yet mapped fails with a message, never a crash."""
    from app.formats.errors import FormatError
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf1s", run, record, saves=6)
    watcher = RunWatcher(str(run), grace=1.0)
    readers = {}

    def on_event(e):
        if e.kind == "added" and e.step in (1, 2):
            reader = open_checkpoint(Checkpoint(e.prefix, index=e.prefix + ".index"))
            if e.step == 1:   # map both shards now; step 2 maps nothing before deletion
                for t in reader.tensors.values():
                    reader.read(t.name)
            readers[e.step] = reader

    events, _values = follow(watcher, proc, on_event=on_event)
    assert proc.returncode == 0, proc.stderr.read()
    assert {1, 2} <= {e.step for e in events if e.kind == "removed"}
    assert not os.path.exists(readers[1].prefix + ".index")
    want = recorded(record, 1)
    got = {t.display_name: np.array(readers[1].read(t.name)) for t in readers[1].tensors.values()}
    assert np.array_equal(got["a"], want["a"]) and np.array_equal(got["b"], want["b"])
    for t in readers[2].tensors.values():
        if t.size:
            with pytest.raises(FormatError, match="cannot map"):
                readers[2].read(t.name)
    for r in readers.values():
        r.close()


def test_watch_run_fetch_evaluates_each_checkpoint_as_it_lands(tmp_path):
    """TF1 Saver training (the .meta comes last): each new checkpoint is restored into the
    run's graph and the reads of `a`, `b` fetched; the values are what training saved at that step."""
    run, record = tmp_path / "run", tmp_path / "record"
    run.mkdir()
    watch = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "watch", str(run),
                              "--run-fetch", "a/Read/ReadVariableOp", "b/Read/ReadVariableOp:0", "--json",
                              "--until", str(SAVES),
                              "--timeout", "120", "--interval", "0.02"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = watch.stderr.readline()      # TensorFlow imported: training may start
    assert ready.startswith("ready:"), ready
    proc = start_training("tf1", run, record)
    out, err = watch.communicate(timeout=180)
    proc.wait(timeout=60)
    lines = [json.loads(line) for line in out.splitlines()]
    added = [o for o in lines if o["event"] == "added"]
    fetched = [o for o in added if "fetches" in o]
    # Every checkpoint is reported; one that TensorFlow deleted before it could be
    # restored (max_to_keep=3 while a restore runs) says so instead of giving values.
    assert [o["step"] for o in added] == list(range(1, SAVES + 1)), err
    assert all("problem" in o for o in added if "fetches" not in o)
    # How many keep up depends on the machine's load; the last is never deleted: it must run.
    assert fetched and fetched[-1]["step"] == SAVES, ([o.get("problem") for o in added], err)
    for o in fetched:
        want = recorded(record, o["step"])
        assert np.array_equal(np.asarray(o["fetches"]["a/Read/ReadVariableOp"], np.float32), want["a"])
        assert np.array_equal(np.asarray(o["fetches"]["b/Read/ReadVariableOp:0"], np.float32), want["b"])
    assert watch.returncode == (1 if len(fetched) < len(added) else 0), err


def test_watch_run_fetch_refuses_a_name_the_graph_lacks(tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    start_training("tf1", run, record, saves=1).wait(timeout=120)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "watch", str(run), "--run-fetch", "nope:0",
                           "--timeout", "5"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "nope" in done.stderr and "Traceback" not in done.stderr
