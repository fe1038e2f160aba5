"""Across the run grown by a new checkpoint equals the trend computed over every step, and
reads only the new checkpoint and the two it is compared with."""

from __future__ import annotations

import numpy as np
import pytest

from app.analysis import compare
from app.analysis.trend_growth import grow
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
