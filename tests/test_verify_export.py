"""The small analyses around the numbers: checking a run's stored bytes against their
crc32c (app.analysis.verify), writing a tensor out (export), smoothing a training curve
as TensorBoard does (curves), and the progress/cancel counter every long job uses."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.analysis import curves, export, progress, verify
from app.formats.model import open_path


# -- verify ---------------------------------------------------------------------------------

def _save(tf, prefix, tensors: dict) -> None:
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=list(tensors),
                      shape_and_slices=[""] * len(tensors), tensors=list(tensors.values()))


@pytest.fixture
def run(tf, tmp_path):
    """Three checkpoints of a run: the first intact, the second with an index that is not
    one, the third with one byte of `b` flipped."""
    rng = np.random.RandomState(0)
    for step in (1, 2, 3):
        _save(tf, tmp_path / f"model.ckpt-{step}",
              {"a": rng.standard_normal(64).astype(np.float32),
               "b": rng.standard_normal((8, 8)).astype(np.float32), "c": np.int64(step)})
    data = tmp_path / "model.ckpt-3.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    value = tf.train.load_checkpoint(str(tmp_path / "model.ckpt-3")).get_tensor("b")
    raw[bytes(raw).index(value.tobytes()) + 100] ^= 0x40
    data.write_bytes(bytes(raw))
    (tmp_path / "model.ckpt-2.index").write_bytes(b"not an index at all" * 10)
    return tmp_path


def test_verify_reports_each_corrupt_tensor_and_checks_the_rest(run):
    checkpoints = open_path(str(run)).checkpoints
    assert [c.name for c in checkpoints] == ["model.ckpt-1", "model.ckpt-2", "model.ckpt-3"]
    seen = []
    report = verify.verify(checkpoints, progress=lambda f, t: seen.append((f, t)))
    assert report.checked == 6 and not report.ok
    # a checkpoint whose index cannot be read is told apart from a corrupt tensor
    assert len(report.unreadable) == 1 and len(report.corrupt) == 1
    assert report.unreadable[0].startswith("model.ckpt-2: ") and "index" in report.unreadable[0]
    assert report.corrupt[0].startswith("model.ckpt-3: b: ") and "crc32c" in report.corrupt[0]
    assert report.summary(3) == ("1 of 6 tensors are corrupt or unreadable; "
                                 "1 of 3 checkpoint(s) cannot be read at all")
    # one call per tensor, as it goes, naming the checkpoint
    assert [t for _f, t in seen] == ["verifying model.ckpt-1"] * 3 + ["verifying model.ckpt-3"] * 3
    fractions = [f for f, _t in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] <= 1
    total = sum(c.size for c in checkpoints)
    assert fractions[-1] == pytest.approx(2 * (64 + 64 + 2) * 4 / total)


def test_verify_of_a_good_run_and_of_nothing(run):
    good = [c for c in open_path(str(run)).checkpoints if c.name == "model.ckpt-1"]
    report = verify.verify(good)
    assert report.ok and report.checked == 3 and report.corrupt == []
    assert verify.verify([]).ok and verify.verify([]).checked == 0
    good[0].on_disk = False        # listed by the state file but gone: not read
    assert verify.verify(good).checked == 0
    broken = [c for c in open_path(str(run)).checkpoints if c.name == "model.ckpt-3"]
    report = verify.verify(broken)
    assert report.checked == 3 and len(report.corrupt) == 1


def test_verify_stops_when_cancelled(run):
    checkpoints = open_path(str(run)).checkpoints
    with pytest.raises(progress.Cancelled):
        verify.verify(checkpoints, cancelled=lambda: True)
    calls = []
    with pytest.raises(progress.Cancelled):
        verify.verify(checkpoints, cancelled=lambda: calls.append(1) or len(calls) > 4)
    assert len(calls) == 5
    assert verify.verify(checkpoints, cancelled=lambda: False).checked == 6


def test_a_tensor_the_index_already_calls_unreadable(run, monkeypatch):
    checkpoints = [c for c in open_path(str(run)).checkpoints if c.name == "model.ckpt-1"]
    opened = verify.open_checkpoint

    def open_broken(ckpt):
        reader = opened(ckpt)
        reader.tensors["a"].problem = "its shard is missing"
        return reader
    monkeypatch.setattr(verify, "open_checkpoint", open_broken)
    report = verify.verify(checkpoints)
    assert report.corrupt == ["model.ckpt-1: a: its shard is missing"] and report.checked == 3


# -- export ---------------------------------------------------------------------------------

def test_npy_is_exact(tmp_path):
    for value in (np.arange(12, dtype=np.float32).reshape(3, 4) / 7, np.array([b"a", b"\xff"], dtype=object),
                  np.array(3, np.int64), np.zeros((0, 2), np.float16)):
        target = str(tmp_path / "v.npy")
        export.write_npy(target, value)
        back = np.load(target, allow_pickle=value.dtype == object)
        assert back.dtype == value.dtype and back.shape == value.shape
        assert back.tobytes() == value.tobytes() if value.dtype != object else back.tolist() == value.tolist()
        assert os.listdir(tmp_path) == ["v.npy"]
    export.write_npy(target, np.array([1.5]))
    assert np.load(target, allow_pickle=False).tolist() == [1.5]   # numbers need no pickle


def test_csv_rows(tmp_path):
    target = str(tmp_path / "v.csv")

    def csv(value):
        export.write_csv(target, value)
        with open(target, "rb") as f:
            return f.read().decode("utf-8")
    assert csv(np.array(2.5, np.float64)) == "2.5\n"
    assert csv(np.array([0.1, 1e-30], np.float32)) == f"{float(np.float32(0.1))!r},{float(np.float32(1e-30))!r}\n"
    assert csv(np.array([[1, 2], [3, 4]], np.int32)) == "1,2\n3,4\n"
    assert csv(np.arange(8, dtype=np.int8).reshape(2, 2, 2)) == "0,1\n2,3\n4,5\n6,7\n"
    assert csv(np.arange(24).reshape(2, 3, 4)).splitlines()[1] == "4,5,6,7"
    assert csv(np.arange(6).reshape(2, 3)) == "0,1,2\n3,4,5\n"
    assert csv(np.array([True, False])) == "True,False\n"
    assert csv(np.array([b'say "hi"', b"a,b", b"\xff\xfe"], dtype=object)) == \
        '"say ""hi""","a,b","\\xff\\xfe"\n'
    assert csv(np.array(["plain"], dtype=object)) == "plain\n"
    assert os.listdir(tmp_path) == ["v.csv"]


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    target = str(tmp_path / "v.csv")
    export.write_csv(target, np.array([1, 2]))

    def failing(f):
        f.write(b"half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        export.atomic_write(target, failing)
    assert os.listdir(tmp_path) == ["v.csv"] and open(target).read() == "1,2\n"
    with pytest.raises(KeyboardInterrupt):
        export.atomic_write(target, lambda f: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert os.listdir(tmp_path) == ["v.csv"]
    with pytest.raises(OSError):       # cannot even start: nothing to clean up
        export.atomic_write(str(tmp_path / "no" / "v.csv"), lambda f: None)
    def peek(f):   # while it is written, the file has its own name beside the target
        assert sorted(os.listdir(tmp_path)) == ["v.csv", "v.csv.partial"]
        f.write(b"new")
    export.atomic_write(target, peek)
    assert open(target).read() == "new" and os.listdir(tmp_path) == ["v.csv"]


# -- curves ---------------------------------------------------------------------------------

def _tensorboard(values, weight):
    """The debiased moving average written as what it is: a weighted mean of the finite
    points so far, the newest weighing most."""
    out, kept = [], []
    for y in values:
        if not np.isfinite(y):
            out.append(y)
            continue
        kept.append(y)
        w = np.array([weight ** (len(kept) - 1 - i) for i in range(len(kept))])
        out.append(float(np.sum(w * kept) / np.sum(w)))
    return out


def test_smoothing_is_tensorboards():
    values = [1.0, 2.0, 3.0, np.nan, 10.0, np.inf, -4.0, 0.5]
    for weight in (0.3, 0.6, 0.99):
        got = curves.smooth(values, weight)
        want = _tensorboard(values, weight)
        assert got.dtype == np.float64 and len(got) == len(values)
        for g, w in zip(got, want):
            assert (np.isnan(g) and np.isnan(w)) or g == pytest.approx(w, rel=1e-12)
    assert curves.smooth([5.0], 0.9).tolist() == [pytest.approx(5.0, rel=1e-12)]
    for weight in (0, -0.5):
        raw = np.array([1.0, 5.0])
        out = curves.smooth(raw, weight)
        assert out.tolist() == [1.0, 5.0] and out is not raw
    assert curves.smooth([], 0.5).tolist() == []
    assert curves.smooth([1, 3], 0.5).tolist() == [1.0, pytest.approx(7 / 3, rel=1e-12)]


def test_smoothing_gives_tensorboards_very_numbers():
    """Number for number what TensorBoard's own loop (in doubles) draws."""
    def tensorboard(values, weight):
        last, seen, out = 0.0, 0, []
        for y in values:
            last = last * weight + (1 - weight) * y
            seen += 1
            out.append(last / (1 - weight ** seen))
        return out
    for values, weight in (([0.1], 0.3), ([7.7], 0.9), ([0.1, 0.2, 0.3], 0.6)):
        assert curves.smooth(values, weight).tolist() == tensorboard(values, weight)


# -- progress -------------------------------------------------------------------------------

def test_ticker_reports_fractions_and_cancels():
    seen = []
    tick = progress.Ticker(200, seen.append)
    for n in (50, 0, 100, 100):
        tick(n)
    assert seen == [0.25, 0.25, 0.75, 1.0] and tick.done == 250
    quiet = progress.Ticker(0, seen.append)
    quiet(10)
    assert quiet.done == 10 and len(seen) == 4
    stop = progress.Ticker(100, seen.append, cancelled=lambda: True)
    with pytest.raises(progress.Cancelled):
        stop(10)
    assert stop.done == 0 and len(seen) == 4
    go = progress.Ticker(100, cancelled=lambda: False)
    go(30)
    assert go.done == 30
