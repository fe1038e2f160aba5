"""Across the run grown by a new checkpoint equals the trend computed over every step, and
reads only the new checkpoint and the two it is compared with."""

from __future__ import annotations

import numpy as np
import pytest

from app.analysis import compare
from app.analysis.trend_growth import grow
from app.formats.errors import Cancelled
from app.formats.model import open_checkpoint
from app.formats.run import Checkpoint


def _write_run(tf, folder, scales):
    rng = np.random.RandomState(3)
    base = rng.normal(size=[64, 33]).astype(np.float32)
    v = tf.Variable(base)
    prefixes = []
    for step, s in enumerate(scales, start=1):
        v.assign(base * np.float32(s) + np.float32(0.001 * step))
        prefixes.append(tf.train.Checkpoint(v=v).write(str(folder / f"ckpt-{step}")))
    return prefixes


def _open(prefix):
    return open_checkpoint(Checkpoint(prefix, index=prefix + ".index"))


def _readers(prefixes):
    return [(i + 1, _open(p)) for i, p in enumerate(prefixes)]


@pytest.mark.parametrize("bins", [7, 64])
def test_a_grown_trend_equals_the_whole_one(tmp_path, tf, bins):
    prefixes = _write_run(tf, tmp_path, [1.0 - 0.02 * i for i in range(10)])   # the range shrinks
    key = "v/.ATTRIBUTES/VARIABLE_VALUE"
    before = compare.trend(_readers(prefixes[:8]), key, bins)
    opened = []

    def open_prefix(p):
        opened.append(p)
        return _open(p)
    grown, reads = grow(before, key, [(9, _open(prefixes[8])), (10, _open(prefixes[9]))], open_prefix)
    whole = compare.trend(_readers(prefixes), key, bins)
    assert grown.edges == whole.edges and len(grown.points) == 10
    for g, w in zip(grown.points, whole.points):
        assert (g.step, g.prefix, g.shape, g.counts, g.zeros, g.nan, g.inf) == \
               (w.step, w.prefix, w.shape, w.counts, w.zeros, w.nan, w.inf)
        for f in ("mean", "std", "norm", "min", "max", "rel_change_first", "rel_change_prev"):
            a, b = getattr(g, f), getattr(w, f)
            assert (a is None and b is None) or np.isclose(a, b, rtol=1e-12, atol=0), (g.step, f, a, b)
    # Only the first and the previous steps were opened, never the others.
    assert set(opened) <= {prefixes[0], prefixes[7], prefixes[8]}
    assert reads == 2 * 4


def test_a_new_step_outside_the_shared_range_asks_for_the_whole_trend(tmp_path, tf):
    prefixes = _write_run(tf, tmp_path, [1.0, 0.9, 0.8, 2.0])
    key = "v/.ATTRIBUTES/VARIABLE_VALUE"
    before = compare.trend(_readers(prefixes[:3]), key, 16)
    assert grow(before, key, [(4, _open(prefixes[3]))], _open) is None


def _save(tf, prefix, value):
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=["v"], shape_and_slices=[""],
                      tensors=[tf.constant(value)])
    return str(prefix)


def _same(grown, whole):
    assert grown.edges == whole.edges and len(grown.points) == len(whole.points)
    for g, w in zip(grown.points, whole.points):
        assert (g.step, g.counts, g.problem, g.key, g.nan, g.inf) == (w.step, w.counts, w.problem, w.key, w.nan, w.inf)
        for f in ("mean", "min", "max", "rel_change_first", "rel_change_prev"):
            a, b = getattr(g, f), getattr(w, f)
            assert (a is None and b is None) or np.isclose(a, b, rtol=1e-12, atol=0, equal_nan=True), (g.step, f)


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.float16])
def test_growing_by_steps_of_other_types_missing_values_and_no_finite_values(tmp_path, tf, dtype):
    rng = np.random.RandomState(1)
    base = rng.randint(-20, 20, size=(5, 4)).astype(dtype)
    prefixes = [_save(tf, tmp_path / "s1", base), _save(tf, tmp_path / "s2", (base * 2).astype(dtype))]
    # the new steps: exactly at the shared range's ends, one without the variable, and
    # (for floats) one with no finite value
    edge = (base * 2).astype(dtype)
    edge.flat[0], edge.flat[1] = (base * 2).min(), (base * 2).max()
    new = [_save(tf, tmp_path / "s3", edge)]
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "s4"), tensor_names=["u"], shape_and_slices=[""],
                      tensors=[tf.constant(base)])
    new.append(str(tmp_path / "s4"))
    if dtype != np.int32:
        new.append(_save(tf, tmp_path / "s5", np.full((5, 4), np.nan, dtype)))
    before = compare.trend(_readers(prefixes), "v", 9)
    grown, reads = grow(before, "v", [(i + 3, _open(p)) for i, p in enumerate(new)], _open)
    whole = compare.trend(_readers(prefixes + new), "v", 9)
    _same(grown, whole)
    assert grown.points[3].problem == "not in this checkpoint"
    assert reads == 4 + 3 + (3 if dtype != np.int32 else 0)   # no histogram without values
    assert before.points == compare.trend(_readers(prefixes), "v", 9).points   # left as it was


def test_nothing_to_grow_from(tmp_path, tf):
    p1 = _save(tf, tmp_path / "s1", np.ones(3, np.float32))
    none = compare.trend(_readers([p1]), "other", 4)
    assert grow(none, "other", [(2, _open(p1))], _open) is None
    below = _save(tf, tmp_path / "s2", np.array([0.5, 1, 1], np.float32))
    above = _save(tf, tmp_path / "s3", np.array([1, 1, 1.5], np.float32))
    wide = _save(tf, tmp_path / "w1", np.array([0, 1, 2], np.float32))
    before = compare.trend(_readers([wide]), "v", 4)
    assert grow(before, "v", [(2, _open(below))], _open) is not None
    assert grow(before, "v", [(2, _open(above))], _open) is not None
    narrow = compare.trend(_readers([p1, p1]), "v", 4)
    assert narrow.edges[0] == 0.5 and narrow.edges[-1] == 1.5   # numpy widens a single value
    assert grow(narrow, "v", [(3, _open(below))], _open) is not None
    assert grow(compare.trend(_readers([above]), "v", 4), "v", [(3, _open(below))], _open) is None
    assert grow(compare.trend(_readers([below]), "v", 4), "v", [(3, _open(above))], _open) is None


def _grown_and_whole(tf, tmp_path, earlier, new, bins=10):
    prefixes = [_save(tf, tmp_path / f"e{i}", v) for i, v in enumerate(earlier)]
    added = _save(tf, tmp_path / "new", new)
    before = compare.trend(_readers(prefixes), "v", bins)
    grown, reads = grow(before, "v", [(len(prefixes) + 1, _open(added))], _open)
    return grown, reads, compare.trend(_readers(prefixes + [added]), "v", bins)


def test_values_on_a_float32_edge_are_binned_as_in_float32(tmp_path, tf):
    # float32(0.7) lies below 0.7: binned in float32 it is on the edge of the 8th of 10 bins
    # over 0..1 (numpy's edges for float32 data), in float64 it would fall in the 7th
    new = np.array([0.7, 0.3, 0.9, 0.69999], np.float32)
    grown, reads, whole = _grown_and_whole(tf, tmp_path, [np.array([0, 1, 0.5], np.float32)], new)
    _same(grown, whole)
    as_f32 = np.histogram(new, 10, (np.float32(0), np.float32(1)))[0].tolist()
    assert grown.points[-1].counts == as_f32 != np.histogram(new.astype(np.float64), 10, (0, 1))[0].tolist()
    assert reads == 3   # the one earlier step, the new one, its histogram


def test_values_of_a_type_other_than_the_shared_range_are_binned_in_float64(tmp_path, tf):
    # a float64 step sets the range 0..0.1, which float32 does not hold: float32 steps after it
    # are binned in float64, as the whole trend does (float32(0.01) falls below 0.01, etc.)
    new = np.arange(0, 0.1, 1e-5).astype(np.float32)
    grown, _reads, whole = _grown_and_whole(tf, tmp_path, [np.array([0, 0.1])], new)
    _same(grown, whole)
    as_f64 = np.histogram(new.astype(np.float64), 10, (0, 0.1))[0].tolist()
    as_f32 = np.histogram(new, 10, (np.float32(0), np.float32(0.1)))[0].tolist()
    assert grown.points[-1].counts == as_f64 != as_f32


def test_a_new_step_read_in_several_chunks(tmp_path, tf, monkeypatch):
    monkeypatch.setattr(compare, "CHUNK_BYTES", 64)
    new = np.linspace(-1, 1, 1000).astype(np.float32)
    grown, _reads, whole = _grown_and_whole(tf, tmp_path, [np.array([-1, 1], np.float32)], new)
    _same(grown, whole)
    assert sum(grown.points[-1].counts) == 1000


def test_growing_can_be_cancelled(tmp_path, tf):
    p1 = _save(tf, tmp_path / "s1", np.ones(3, np.float32))
    p2 = _save(tf, tmp_path / "s2", np.ones(3, np.float32))
    before = compare.trend(_readers([p1]), "v", 4)
    with pytest.raises(Cancelled):
        grow(before, "v", [(2, _open(p2))], _open, cancelled=lambda: True)
