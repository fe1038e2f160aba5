"""Logged histograms beside the weights': which tag is a variable's, and the buckets as
TensorFlow wrote them (its own `summary_iterator` is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from app.analysis.logged import as_count_per_bin, bucket_edges, find_logged, match_score
from app.formats.events import EventLog

from . import tf_fixtures as fx
from .test_live import start_training


@pytest.mark.parametrize("tag,variable,matches", [
    ("dense/kernel", "dense/kernel", True),
    ("dense/kernel_0", "dense/kernel", True),             # Keras 2's TensorBoard callback
    ("dense/kernel:0", "dense/kernel", True),
    ("dense/kernel/histogram", "dense/kernel", True),     # Keras 3
    ("weights/dense/kernel", "dense/kernel", True),       # a name scope around the summary
    ("kernel", "model/dense/kernel", True),
    ("dense/bias", "dense/kernel", False),
    ("dense_1/kernel", "dense/kernel", False),
    ("ernel", "dense/kernel", False),                      # a tail, but not at a "/"
    ("a", "b", False),
])
def test_a_tag_matches_a_variable_by_name(tag, variable, matches):
    assert (match_score(tag, variable) > 0) is matches


def test_the_closest_tag_wins_and_the_step_is_the_checkpoints():
    from app.formats.events import HistogramPoint, HistogramSeries

    def series(tag, steps):
        return HistogramSeries("train", tag, [HistogramPoint(s, 0.0, np.array([0.0, 1.0]), np.array([1.0, 2.0]),
                                                             np.array([3.0, 4.0])) for s in steps])
    hist = [series("kernel", [1, 2, 3]), series("dense/kernel", [2, 4, 6])]
    got = find_logged(hist, ["dense/kernel"], 4)
    assert got.tag == "dense/kernel" and got.step == 4 and got.same_step
    assert list(got.edges) == [0.0, 1.0, 2.0] and list(got.counts) == [3.0, 4.0]
    near = find_logged(hist, ["dense/kernel"], 5)
    assert near.step in (4, 6) and not near.same_step and "nearest" in near.label()
    assert find_logged(hist, ["dense/kernel"], 100, slack=10) is None
    assert find_logged(hist, ["dense/bias"], 4) is None
    # Scaled to bins of another width: counts per unit width × that width.
    assert list(as_count_per_bin(got, 0.5)) == [1.5, 2.0]


def test_a_tf2_histogram_of_a_variable_read_as_tensorflow_reads_it(tmp_path, tf):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf2ev", run, record, saves=4)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    data = EventLog(str(run)).update()
    got = find_logged(data.histograms, ["a/.ATTRIBUTES/VARIABLE_VALUE", "a"], 3)
    assert (got.run, got.tag, got.step) == ("train", "a", 3)
    # The oracle: TensorFlow's own reading of the event file, step 3's [k, 3] tensor.
    want = None
    for path in sorted((run / "train").iterdir()):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.tag == "a" and event.step == 3:
                    want = tf.make_ndarray(v.tensor)
    assert want is not None
    assert np.array_equal(got.edges, np.concatenate([want[:1, 0], want[:, 1]]))
    assert np.array_equal(got.counts, want[:, 2]) and got.counts.sum() == 1000


def test_tf1_histogram_buckets_are_cut_at_the_protos_min_and_max(tmp_path, tf):
    run = fx.summaries_tf1(tmp_path / "run")
    data = EventLog(str(run.dir)).update()
    series = next(h for h in data.histograms if h.tag == "inputs")
    want = {}
    for path in sorted(p for p in run.dir.iterdir() if "tfevents" in p.name):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.tag == "inputs":
                    want[event.step] = v.histo
    assert sorted(want) == [p.step for p in series.points]
    for point in series.points:
        edges, counts = bucket_edges(point)
        histo = want[point.step]
        # (an empty first bucket may end below the minimum: the edges never run backwards)
        assert edges[0] == min(histo.min, histo.bucket_limit[0])
        assert edges[-1] == max(histo.max, histo.bucket_limit[-2])
        assert np.all(np.diff(edges) >= 0) and np.all(np.isfinite(edges))
        assert list(edges[1:-1]) == list(histo.bucket_limit[:-1]) and list(counts) == list(histo.bucket)
        assert counts.sum() == histo.num
