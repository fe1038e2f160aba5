"""Logged histograms beside the weights': which tag is a variable's, and the buckets as
TensorFlow wrote them (its own `summary_iterator` is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from app.analysis.logged import as_count_per_bin, bucket_edges, find_logged, match_score
from app.formats.events import EventLog

from . import tf_fixtures as fx


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
    """A real training process's `tf.summary.histogram` of a variable; the oracle is
    TensorFlow's own reading of the event file (step 3's [k, 3] tensor)."""
    trained = fx.trained_with_events(tmp_path / "trained")
    data = EventLog(str(trained.run)).update()
    got = find_logged(data.histograms, ["a/.ATTRIBUTES/VARIABLE_VALUE", "a"], 3)
    assert (got.run, got.tag, got.step) == ("train", "a", 3)
    want = trained.histogram
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


def _point(left, right, counts, lo=float("nan"), hi=float("nan"), step=0):
    from app.formats.events import HistogramPoint
    return HistogramPoint(step, 0.0, np.array(left, float), np.array(right, float), np.array(counts, float), lo, hi)


BIG = np.finfo(np.float64).max
HALF = BIG / 2        # from here on a limit counts as open (TF1's are +-DBL_MAX)


@pytest.mark.parametrize("left,right,lo,hi,edges", [
    ([0.0, 1.0], [1.0, 2.0], np.nan, np.nan, [0.0, 1.0, 2.0]),             # TF2 rows: as written
    ([-BIG, 0.0, 2.0], [0.0, 2.0, BIG], -1.0, 3.0, [-1.0, 0.0, 2.0, 3.0]),   # TF1: cut at min and max
    ([-BIG, 0.0, 2.0], [0.0, 2.0, BIG], 0.5, 1.0, [0.0, 0.0, 2.0, 2.0]),     # never running backwards
    ([-BIG, 0.0, 2.0, 5.0], [0.0, 2.0, 5.0, BIG], np.nan, np.nan, [-2.0, 0.0, 2.0, 5.0, 8.0]),  # a neighbour's width
    ([-BIG, 0.0, 2.0, 5.0], [0.0, 2.0, 5.0, BIG], -np.inf, np.inf, [-2.0, 0.0, 2.0, 5.0, 8.0]),
    ([-BIG, 1.0], [1.0, BIG], np.nan, np.nan, [0.0, 1.0, 2.0]),                # one finite limit: 1 either side
    ([-BIG], [BIG], np.nan, np.nan, [-1.0, 1.0]),                              # none finite
    ([-BIG, 1.0, 2.0], [1.0, 2.0, 4.0], np.nan, np.nan, [0.0, 1.0, 2.0, 4.0]),   # the first finite width
    ([-BIG, 0.0], [0.0, 2.0], np.nan, np.nan, [-2.0, 0.0, 2.0]),                # two finite limits: their width
    ([0.0, 2.0], [2.0, BIG], np.nan, np.nan, [0.0, 2.0, 4.0]),
    ([-BIG], [5.0], 7.0, np.nan, [5.0, 5.0]),                                   # a min beyond the limit: not backwards
    ([-HALF, 0.0, 1.0], [0.0, 1.0, HALF], np.nan, np.nan, [-1.0, 0.0, 1.0, 2.0]),   # half DBL_MAX is open
    ([-0.4 * BIG, 1.0], [1.0, 0.4 * BIG], np.nan, np.nan, [-0.4 * BIG, 1.0, 0.4 * BIG]),   # below that: a limit
    # an empty bucket ending at -DBL_MAX (TF1 keeps it when a value lies below its finite
    # limits), and its mirror image: cut with the end beside it
    ([-BIG, -BIG, 0.0], [-BIG, 0.0, 1.0], -5.0, np.nan, [-5.0, -5.0, 0.0, 1.0]),
    ([-BIG, -HALF, 0.0], [-HALF, 0.0, 1.0], np.nan, np.nan, [-1.0, -1.0, 0.0, 1.0]),
    ([0.0, 1.0, HALF], [1.0, HALF, BIG], np.nan, 5.0, [0.0, 1.0, 5.0, 5.0]),
])
def test_bucket_edges_cut_the_open_ends(left, right, lo, hi, edges):
    got, counts = bucket_edges(_point(left, right, [1.0] * len(right), lo, hi))
    assert got.tolist() == edges and counts.tolist() == [1.0] * len(right)


def test_bucket_edges_are_float64_whatever_the_point_holds():
    from app.formats.events import HistogramPoint
    wide = HistogramPoint(0, 0.0, np.array([-1.0, 0.0], np.longdouble), np.array([0.0, 1.0], np.longdouble),
                          np.array([3, 4]))
    edges, counts = bucket_edges(wide)
    assert (edges.dtype, counts.dtype) == (np.float64, np.float64)
    assert edges.tolist() == [-1.0, 0.0, 1.0] and counts.tolist() == [3.0, 4.0]
    edges, _ = bucket_edges(HistogramPoint(0, 0.0, np.array([0.0]), np.array([1.0], np.longdouble), np.array([1])))
    assert edges.dtype == np.float64


def test_an_empty_histogram_has_one_edge_and_no_counts():
    edges, counts = bucket_edges(_point([], [], []))
    assert edges.tolist() == [0.0] and counts.tolist() == []


@pytest.mark.parametrize("tag,variable,score", [
    ("dense/kernel", "dense/kernel", 1000),
    ("/dense/kernel_0/histogram/", "dense/kernel", 1000),    # suffixes dropped one after another
    ("dense/kernel/summary", "dense/kernel:0", 1000),
    ("kernel", "model/dense/kernel", 1),
    ("dense/kernel", "model/dense/kernel", 2),
    ("model/dense/kernel", "dense/kernel", 2),                # either side may be the longer
    ("", "dense/kernel", 0),
    ("dense/kernel", "/", 0),
    ("_0", "_0", 0),
    ("_0", "a/_0", 0),                                        # an empty name never matches, even a "/" tail
    ("dense/kernelX", "dense/kernel", 0),
    ("X/dense/kernel", "dense/kernel", 2),
])
def test_the_match_score(tag, variable, score):
    assert match_score(tag, variable) == score


def test_find_logged_prefers_closer_names_then_the_first_series_and_the_later_of_two_steps():
    from app.formats.events import HistogramSeries

    def series(run, tag, steps):
        return HistogramSeries(run, tag, [_point([0.0], [1.0], [float(s)], step=s) for s in steps])
    hist = [series("train", "empty/dense/kernel", []), series("train", "kernel", [1]),
            series("train", "weights/dense/kernel", [2, 4, 6]), series("eval", "scope/dense/kernel", [3]),
            series("train", "dense/bias", [1])]
    assert find_logged(hist, ["", "dense/kernel"], 4).tag == "weights/dense/kernel"
    got = find_logged(hist, ["dense/kernel"], 5)
    assert got.step == 6 and got.counts.tolist() == [6.0]           # 4 and 6 equally near: the later
    assert got.label() == "logged train/weights/dense/kernel (step 6, the nearest logged to 5)"
    assert find_logged(hist, ["dense/kernel"], 3).step == 4 and find_logged(hist, ["dense/kernel"], 1).step == 2
    assert find_logged(hist, ["dense/kernel"], 9, slack=3).step == 6      # exactly the slack away
    assert find_logged(hist, ["dense/kernel"], 10, slack=3) is None
    last = find_logged(hist, ["dense/kernel"], None)
    assert last.step == 6 and not last.same_step and last.label() == "logged train/weights/dense/kernel (step 6)"
    assert find_logged(hist, [""], 1) is None and find_logged([], ["kernel"], 1) is None
    here = find_logged([HistogramSeries(".", "w", [_point([0.0], [1.0], [2.0], step=7)])], ["w"], 7)
    assert here.same_step and here.label() == "logged w (step 7)"


def test_counts_per_bin_of_another_width():
    from app.analysis.logged import LoggedHistogram
    logged = LoggedHistogram(".", "w", 1, 1, np.array([1.0, 1.0, 3.0, 7.0]), np.array([4.0, 6.0, 8.0]))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # and no division by zero on the way
        assert as_count_per_bin(logged, 1.0).tolist() == [4.0, 3.0, 2.0]      # a zero-width bucket keeps its count
    assert as_count_per_bin(logged, 2.0).tolist() == [4.0, 6.0, 4.0]
    narrow = LoggedHistogram(".", "w", 1, 1, np.array([0.0, 0.5, 0.75]), np.array([1.0, 3.0]))
    assert as_count_per_bin(narrow, 1.0).tolist() == [2.0, 12.0]
