"""Comparing checkpoints (app.analysis.compare, `diff` and `trend` on the command line),
checked against TensorFlow's reader with the metrics recomputed in float64 numpy."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from app import cli  # noqa: E402
from app.analysis import compare, stats  # noqa: E402
from app.formats.bundle import Bundle  # noqa: E402
from app.formats.model import open_checkpoint, open_path  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .oracle import tf_values  # noqa: E402

REL = 1e-9


# -- helpers ------------------------------------------------------------------------------

def reader_at(path, step=None):
    model = open_path(str(path))
    return open_checkpoint(model.checkpoint(None if step is None else str(step)))


def run_readers(folder):
    model = open_path(str(folder))
    return [(c.step, open_checkpoint(c)) for c in model.checkpoints if c.on_disk]


def save_v2(prefix, tensors: dict, slices: list | None = None):
    """Write a bundle with tf.raw_ops.SaveV2. `slices`: extra (name, "full shape and
    slice spec", value) entries for partitioned tensors."""
    names = list(tensors)
    specs = [""] * len(names)
    values = [tf.constant(v) for v in tensors.values()]
    for name, spec, value in slices or []:
        names.append(name)
        specs.append(spec)
        values.append(tf.constant(value))
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=specs,
                      tensors=values)
    return str(prefix)


def expected(a: np.ndarray, b: np.ndarray) -> dict:
    """The diff metrics of numpy in float64, from TensorFlow's values."""
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    d = b64 - a64
    norm_d, norm_a = np.sqrt(np.sum(d * d)), np.sqrt(np.sum(a64 * a64))
    if norm_a > 0:
        rel = norm_d / norm_a
    else:
        rel = 0.0 if norm_d == 0 else math.inf
    return {"rel_l2": rel, "max_abs_delta": float(np.max(np.abs(d))) if d.size else 0.0,
            "mean_abs_delta": float(np.mean(np.abs(d))) if d.size else 0.0}


def assert_row_matches(row, a: np.ndarray, b: np.ndarray) -> None:
    want = expected(a, b)
    assert row.max_abs_delta == want["max_abs_delta"], row.name  # exactly
    for k in ("rel_l2", "mean_abs_delta"):
        got = getattr(row, k)
        if math.isinf(want[k]):
            assert got == want[k], (row.name, k)
        else:
            assert got == pytest.approx(want[k], rel=REL, abs=1e-300), (row.name, k)
    same = a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert row.status == ("unchanged" if same else "changed"), row.name


def cli_main(monkeypatch, *argv) -> int:
    """app.cli.main in this process (fast); `monkeypatch` keeps call sites uniform."""
    return cli.main([str(a) for a in argv])


def cli_process(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


# -- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fx.cnn_epochs(tmp_path_factory.mktemp("cmp") / "cnn", epochs=4)


@pytest.fixture(scope="module")
def keras(tmp_path_factory):
    return fx.tf2_keras(tmp_path_factory.mktemp("cmp_keras") / "keras")


@pytest.fixture(scope="module")
def edits(tmp_path_factory):
    """A and B written with SaveV2: every kind of difference."""
    d = tmp_path_factory.mktemp("cmp_edits")
    rng = np.random.RandomState(5)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    same = rng.standard_normal(5).astype(np.float32)
    moved = rng.standard_normal(1000).astype(np.float32)
    a = {"w": w, "gone": np.array([1.5], np.float32), "d": np.array([1, -2, 3], np.int32),
         "same": same, "moved": moved, "zero": np.zeros(3, np.float32),
         "signed_zero": np.zeros(2, np.float32), "text": np.array([b"a", b"b"], dtype=object),
         "text_same": np.array([b"x"], dtype=object), "half": moved[:10].astype(np.float16)}
    b = {"w": w.T.copy(), "new": np.arange(4, dtype=np.float32), "d": np.array([1, -2, 3.5], np.float32),
         "same": same.copy(), "moved": moved + rng.standard_normal(1000).astype(np.float32) * 0.01,
         "zero": np.array([0, 1, 0], np.float32), "signed_zero": np.array([0.0, -0.0], np.float32),
         "text": np.array([b"a", b"c"], dtype=object), "text_same": np.array([b"x"], dtype=object),
         "half": moved[:10].astype(np.float16).astype(np.float32)}
    tf_a = {k: (v.tolist() if v.dtype == object else v) for k, v in a.items()}
    tf_b = {k: (v.tolist() if v.dtype == object else v) for k, v in b.items()}
    return save_v2(d / "a", tf_a), save_v2(d / "b", tf_b), a, b


# -- match --------------------------------------------------------------------------------

def test_match_pairs_by_key_and_lists_the_rest(edits):
    a, b = reader_at(edits[0]), reader_at(edits[1])
    m = compare.match(a, b)
    assert sorted(m.pairs) == sorted((k, k) for k in edits[2] if k in edits[3])
    assert m.only_a == ["gone"] and m.only_b == ["new"] and m.by_name == []


def test_match_falls_back_to_tf2_readable_names(keras):
    full = reader_at(keras.checkpoints[-1].prefix)
    alone = reader_at(keras.model_only.prefix)
    m = compare.match(full, alone)
    assert not set(full.tensors) & set(alone.tensors)  # no key in common at all
    assert len(m.by_name) == len(m.pairs) == len(alone.tensors)
    for ka, kb in m.pairs:
        assert full.tensors[ka].display_name == alone.tensors[kb].display_name
    assert m.only_a == ["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] and m.only_b == []
    # written right after the last save: matched variables hold the same values
    rows = compare.diff(full, alone)
    assert {r.status for r in rows} == {"unchanged", "removed"}
    assert [r.name for r in rows if r.status == "removed"] == ["save_counter"]


# -- diff ---------------------------------------------------------------------------------

def test_diff_of_two_epochs_matches_tensorflow_and_numpy(run):
    first, last = run.checkpoints[0].prefix, run.checkpoints[-1].prefix
    va, vb = tf_values(tf, str(first)), tf_values(tf, str(last))
    rows = compare.diff(reader_at(first), reader_at(last))
    assert {r.name for r in rows} == set(va) == set(vb)
    for row in rows:
        assert row.shape_a == row.shape_b == list(va[row.name].shape)
        assert row.dtype_a == row.dtype_b == tf.dtypes.as_dtype(va[row.name].dtype).name
        assert_row_matches(row, va[row.name], vb[row.name])
    rels = [r.rel_l2 for r in rows]
    assert rels == sorted(rels, reverse=True)
    assert any(r.status == "changed" for r in rows)


def test_diff_of_a_checkpoint_with_itself_is_all_unchanged(run):
    prefix = run.checkpoints[1].prefix
    rows = compare.diff(reader_at(prefix), reader_at(prefix))
    assert rows and all(r.status == "unchanged" for r in rows)
    assert all(r.rel_l2 == 0 and r.max_abs_delta == 0 and r.mean_abs_delta == 0 for r in rows)


def test_diff_in_tiny_chunks_gives_the_same_rows(run):
    a, b = reader_at(run.checkpoints[0].prefix), reader_at(run.checkpoints[2].prefix)
    big = compare.diff(a, b)
    small = compare.diff(a, b, chunk_bytes=12)  # 3 float32 per chunk
    assert [r.name for r in big] == [r.name for r in small]
    for x, y in zip(big, small):
        assert x.status == y.status and x.max_abs_delta == y.max_abs_delta
        assert y.rel_l2 == pytest.approx(x.rel_l2, rel=REL)
        assert y.mean_abs_delta == pytest.approx(x.mean_abs_delta, rel=REL)


def test_diff_flags_added_removed_reshaped_and_dtype_changes(edits):
    pa, pb, a, b = edits
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb), chunk_bytes=16)}
    va, vb = tf_values(tf, pa), tf_values(tf, pb)
    assert rows["gone"].status == "removed" and rows["gone"].shape_a == [1]
    assert rows["gone"].shape_b is None and rows["gone"].rel_l2 is None
    assert rows["new"].status == "added" and rows["new"].shape_b == [4]
    assert rows["new"].dtype_b == "float32" and rows["new"].shape_a is None
    w = rows["w"]
    assert (w.status, w.shape_a, w.shape_b, w.dtype_changed) == ("reshaped", [2, 3], [3, 2], False)
    assert w.rel_l2 is None and w.max_abs_delta is None
    d = rows["d"]  # int32 -> float32, same shape: compared as numbers, never "unchanged"
    assert (d.status, d.dtype_a, d.dtype_b, d.dtype_changed) == ("changed", "int32", "float32", True)
    assert d.max_abs_delta == 0.5 and d.rel_l2 == pytest.approx(0.5 / math.sqrt(14), rel=REL)
    half = rows["half"]  # float16 -> float32 with equal values: changed, all metrics 0
    assert half.status == "changed" and half.dtype_changed and half.rel_l2 == 0
    assert rows["same"].status == "unchanged" and rows["same"].rel_l2 == 0
    assert_row_matches(rows["moved"], va["moved"], vb["moved"])
    assert_row_matches(rows["same"], va["same"], vb["same"])
    assert rows["zero"].rel_l2 == math.inf and rows["zero"].max_abs_delta == 1.0
    sz = rows["signed_zero"]  # 0.0 vs -0.0: equal numbers, other bytes
    assert sz.status == "changed" and sz.rel_l2 == 0 and sz.max_abs_delta == 0
    assert rows["text"].status == "changed" and rows["text"].rel_l2 is None
    assert rows["text_same"].status == "unchanged"
    order = [r.status for r in compare.diff(reader_at(pa), reader_at(pb))]
    assert order.index("reshaped") > max(i for i, s in enumerate(order) if s in ("changed", "unchanged"))
    assert order[-2:] == ["added", "removed"]


def test_diff_of_differently_stored_layouts(tmp_path, tf, monkeypatch):
    """Partitioned against plain, and against another partitioning: same metrics."""
    variants = fx.v1_variants(tmp_path / "v")
    part = variants.partitioned
    values = tf_values(tf, str(part.prefix))
    rng = np.random.RandomState(1)
    moved = {k: (v + rng.standard_normal(v.shape).astype(v.dtype) * 0.1).astype(v.dtype)
             for k, v in values.items()}
    plain = save_v2(tmp_path / "plain", moved)
    w = moved["weights"]
    two = save_v2(tmp_path / "two", {"bias": moved["bias"], "scale": moved["scale"]},
                  slices=[("weights", "10 4 -:0,1", w[:, :1]), ("weights", "10 4 -:1,3", w[:, 1:])])
    ra = reader_at(part.prefix)
    assert ra.tensors["weights"].partitioned
    assert reader_at(two).tensors["weights"].partitioned
    # split by columns, its chunks do not come in row-major order: zipping them against
    # the other layouts would pair the wrong elements
    naive = np.concatenate(list(reader_at(two).chunks("weights")))
    assert not np.array_equal(naive, w.ravel())
    reads = []
    real_read = Bundle.read
    monkeypatch.setattr(Bundle, "read", lambda self, key: reads.append(key) or real_read(self, key))
    expect_reads = {plain: ["weights", "bias"], two: ["weights", "bias", "weights"]}
    for other in (plain, two):
        for chunk in (compare.CHUNK_BYTES, 8):
            reads.clear()
            rows = {r.name: r for r in compare.diff(ra, reader_at(other), chunk_bytes=chunk)}
            assert sorted(reads) == sorted(expect_reads[other])  # only what must be whole
            for name in values:
                assert_row_matches(rows[name], values[name], moved[name])
            rows = {r.name: r for r in compare.diff(reader_at(other), ra, chunk_bytes=chunk)}
            for name in values:
                assert_row_matches(rows[name], moved[name], values[name])
    reads.clear()
    same = compare.diff(ra, reader_at(part.prefix), chunk_bytes=8)  # same slices: zipped
    assert reads == []
    assert all(r.status == "unchanged" for r in same)
    # the delta comes out in the tensor's own layout whatever the storage
    assert np.array_equal(compare.delta(ra, reader_at(two), "weights"),
                          w.astype(np.float64) - values["weights"].astype(np.float64))


def test_delta_for_display(run):
    first, last = run.checkpoints[0].prefix, run.checkpoints[-1].prefix
    va, vb = tf_values(tf, str(first)), tf_values(tf, str(last))
    ra, rb = reader_at(first), reader_at(last)
    for key in ("conv/kernel", "dense/kernel", "global_step"):
        d = compare.delta(ra, rb, key)
        assert d.dtype == np.float64 and d.shape == va[key].shape
        assert np.array_equal(d, vb[key].astype(np.float64) - va[key].astype(np.float64))
    # streamed into stats: the delta's histogram without holding it
    key = "dense/kernel"
    want = vb[key].astype(np.float64) - va[key].astype(np.float64)
    s = stats.compute(lambda: compare.delta_chunks(ra, rb, key, chunk_bytes=64),
                      ra.tensors[key].nbytes, bins=7)
    assert s.counts == np.histogram(want, bins=7)[0].tolist()
    assert s.min == want.min() and s.max == want.max()
    with pytest.raises(ValueError):
        compare.delta(ra, reader_at(run.checkpoints[0].prefix), "conv/kernel", "dense/kernel")


def test_a_corrupt_tensor_is_an_unreadable_row(tmp_path, edits):
    pa, pb, _a, _b = edits
    import shutil
    for ext in (".index", ".data-00000-of-00001"):
        shutil.copy(pb + ext, tmp_path / ("b" + ext))
    reader = reader_at(tmp_path / "b")
    info = reader.tensors["moved"]
    entry = reader._extents["moved"][0].entry
    reader.close()
    data = tmp_path / "b.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + info.nbytes // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(tmp_path / "b"))}
    assert rows["moved"].status == "unreadable" and "crc32c" in rows["moved"].problem
    assert rows["moved"].rel_l2 is None
    assert rows["same"].status == "unchanged"


def test_progress_cancel_and_cache(run):
    a, b = reader_at(run.checkpoints[0].prefix), reader_at(run.checkpoints[-1].prefix)
    seen = []
    rows = compare.diff(a, b, progress=seen.append, chunk_bytes=64)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(stats.Cancelled):
        compare.diff(a, b, cancelled=lambda: True)
    readers = run_readers(run.dir)
    with pytest.raises(stats.Cancelled):
        compare.trend(readers, "conv/kernel", cancelled=lambda: True)
    calls = iter(range(1000))  # cancelled half-way through
    with pytest.raises(stats.Cancelled):
        compare.diff(a, b, chunk_bytes=64, cancelled=lambda: next(calls) > 5)

    cache = compare.ResultCache(maxsize=64)
    first = compare.diff(a, b, cache=cache)
    assert len(cache) == len(rows)
    original = compare._compare
    try:
        compare._compare = None  # any computation would now fail
        again = compare.diff(a, b, cache=cache)
        assert again == first and again[0] is not first[0]
    finally:
        compare._compare = original
    t1 = compare.trend(readers, "conv/kernel", bins=5, cache=cache)
    original = compare.summarise
    try:
        compare.summarise = None
        assert compare.trend(readers, "conv/kernel", bins=5, cache=cache) == t1
    finally:
        compare.summarise = original
    small = compare.ResultCache(maxsize=2)
    for i in range(3):
        small.put(i, i)
    assert small.get(0) is None and small.get(2) == 2


# -- trend --------------------------------------------------------------------------------

def _check_trend(result, values_by_step: list[np.ndarray], bins: int):
    assert len(result.points) == len(values_by_step)
    edges = np.array(result.edges)
    lo = min(v.min() for v in values_by_step)
    hi = max(v.max() for v in values_by_step)
    assert len(edges) == bins + 1 and edges[0] == lo and edges[-1] == hi
    x0 = values_by_step[0].astype(np.float64)
    for i, (p, x) in enumerate(zip(result.points, values_by_step)):
        x64 = x.astype(np.float64)
        assert p.counts == np.histogram(x, bins=edges)[0].tolist()
        assert p.min == x.min() and p.max == x.max()
        assert (p.size, p.zeros, p.nan, p.inf) == (x.size, int((x == 0).sum()), 0, 0)
        assert p.shape == list(x.shape) and p.dtype == tf.dtypes.as_dtype(x.dtype).name
        assert p.mean == pytest.approx(x64.mean(), rel=REL, abs=1e-15)
        assert p.std == pytest.approx(x64.std(), rel=REL, abs=1e-15)
        assert p.norm == pytest.approx(np.sqrt(np.sum(x64 * x64)), rel=REL)
        first = np.sqrt(np.sum((x64 - x0) ** 2)) / np.sqrt(np.sum(x0 * x0))
        assert p.rel_change_first == pytest.approx(first, rel=REL, abs=1e-300)
        if i == 0:
            assert p.rel_change_prev is None and p.rel_change_first == 0
        else:
            prev = values_by_step[i - 1].astype(np.float64)
            want = np.sqrt(np.sum((x64 - prev) ** 2)) / np.sqrt(np.sum(prev * prev))
            assert p.rel_change_prev == pytest.approx(want, rel=REL)


@pytest.mark.parametrize("key", ["conv/kernel", "dense/kernel"])
def test_trend_over_epochs_matches_numpy(run, key):
    readers = run_readers(run.dir)
    assert [s for s, _r in readers] == run.epochs
    values = [tf.train.load_checkpoint(str(c.prefix)).get_tensor(key) for c in run.checkpoints]
    once = compare.trend(readers, key, bins=13)
    assert once.reads_per_checkpoint == 1
    _check_trend(once, values, 13)
    # the two-pass path, in lockstep chunks of a few bytes: the same numbers
    twice = compare.trend(readers, key, bins=13, keep_bytes=0, stream_bytes=64)
    assert twice.reads_per_checkpoint == 2
    _check_trend(twice, values, 13)
    assert twice.edges == once.edges and [p.counts for p in twice.points] == [p.counts for p in once.points]
    doc = once.to_json()
    assert all(s["histogram"]["edges"] == doc["steps"][0]["histogram"]["edges"] for s in doc["steps"])


def test_trend_of_tf2_checkpoints_by_readable_name(keras):
    readers = run_readers(keras.dir)
    assert [s for s, _r in readers] == [1, 2, 3]
    key = keras.weight_keys["sequential/hidden/kernel"]
    values = [c.values[key] for c in keras.checkpoints]
    result = compare.trend(readers, "sequential/hidden/kernel", bins=6)
    assert result.name == "sequential/hidden/kernel"
    assert [p.key for p in result.points] == [key] * 3
    _check_trend(result, values, 6)


def test_trend_with_a_checkpoint_lacking_the_variable(tmp_path, tf):
    rng = np.random.RandomState(2)
    xs = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    save_v2(tmp_path / "model.ckpt-1", {"v": xs[0], "other": xs[0]})
    save_v2(tmp_path / "model.ckpt-2", {"other": xs[1]})
    save_v2(tmp_path / "model.ckpt-3", {"v": xs[2], "other": xs[2]})
    result = compare.trend(run_readers(tmp_path), "v", bins=4)
    assert [p.step for p in result.points] == [1, 2, 3]
    assert result.points[1].problem == "not in this checkpoint" and result.points[1].counts == []
    kept = [result.points[0], result.points[2]]
    assert kept[1].rel_change_prev == pytest.approx(
        np.linalg.norm(xs[2].astype(np.float64) - xs[0]) / np.linalg.norm(xs[0].astype(np.float64)),
        rel=REL)
    edges = np.array(result.edges)
    for p, x in zip(kept, (xs[0], xs[2])):
        assert p.counts == np.histogram(x, bins=edges)[0].tolist()


def test_trend_with_nan_inf_and_integers(tmp_path, tf):
    rng = np.random.RandomState(4)
    xs = [rng.standard_normal(50).astype(np.float32) for _ in range(3)]
    xs[1][[3, 7]] = [np.nan, np.inf]
    ints = [rng.randint(-5, 9, size=(4, 5)).astype(np.int32) for _ in range(3)]
    for i, (x, k) in enumerate(zip(xs, ints)):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": x, "k": k})
    readers = run_readers(tmp_path)
    result = compare.trend(readers, "x", bins=8)
    finite = [x[np.isfinite(x)] for x in xs]
    edges = np.array(result.edges)
    assert edges[0] == min(f.min() for f in finite) and edges[-1] == max(f.max() for f in finite)
    for p, f in zip(result.points, finite):
        assert p.counts == np.histogram(f, bins=edges)[0].tolist()
        assert p.mean == pytest.approx(f.astype(np.float64).mean(), rel=REL)
    assert (result.points[1].nan, result.points[1].inf) == (1, 1)
    assert math.isnan(result.points[1].rel_change_first)
    assert math.isnan(result.points[1].rel_change_prev) and math.isnan(result.points[2].rel_change_prev)
    x0, x2 = xs[0].astype(np.float64), xs[2].astype(np.float64)
    assert result.points[2].rel_change_first == pytest.approx(
        np.linalg.norm(x2 - x0) / np.linalg.norm(x0), rel=REL)
    result = compare.trend(readers, "k", bins=5)
    edges = np.array(result.edges)
    for p, k in zip(result.points, ints):
        assert p.counts == np.histogram(k, bins=edges)[0].tolist() and p.min == k.min()
        assert p.rel_change_first == pytest.approx(
            np.linalg.norm((k - ints[0]).astype(np.float64)) / np.linalg.norm(ints[0].astype(np.float64)),
            rel=REL)


def test_fused_lockstep_agrees_with_the_general_path():
    rng = np.random.RandomState(6)
    n = 3 * compare.BLOCK + 17   # several blocks, the last one short
    walk = [rng.standard_normal(n).astype(np.float32)]
    for _ in range(4):
        walk.append(walk[-1] + rng.standard_normal(n).astype(np.float32) * np.float32(0.01))
    fused, general = compare._lockstep(walk), compare._lockstep_general(walk)
    for a, b in zip(fused[0], general[0]):
        assert (a.size, a.n, a.lo, a.hi, a.zeros) == (b.size, b.n, b.lo, b.hi, b.zeros)
        for k in ("mean", "m2", "sumsq"):
            assert getattr(a, k) == pytest.approx(getattr(b, k), rel=1e-12)
    assert fused[1] == pytest.approx(general[1], rel=1e-12)
    assert fused[2] == pytest.approx(general[2], rel=1e-12)


# -- command line -------------------------------------------------------------------------

def test_cli_diff_json_as_a_process(run):
    a, b = run.checkpoints[0].prefix, run.checkpoints[-1].prefix
    proc = cli_process("diff", a, b, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    va, vb = tf_values(tf, str(a)), tf_values(tf, str(b))
    assert {v["name"] for v in doc["variables"]} == set(va)
    for v in doc["variables"]:
        assert {"name", "status", "rel_l2", "max_abs_delta", "mean_abs_delta",
                "shape_a", "shape_b"} <= set(v)
        assert v["status"] in ("changed", "unchanged")
        want = expected(va[v["name"]], vb[v["name"]])
        assert v["max_abs_delta"] == want["max_abs_delta"]
        rel = want["rel_l2"]
        assert (v["rel_l2"] == "inf") if math.isinf(rel) else v["rel_l2"] == pytest.approx(rel, rel=REL)
        assert v["shape_a"] == v["shape_b"] == list(va[v["name"]].shape)


def test_cli_trend_json_as_a_process(run):
    proc = cli_process("trend", run.dir, "dense/kernel", "--bins", "9", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["step"] for s in doc["steps"]] == run.epochs
    for s in doc["steps"]:
        assert {"step", "mean", "std", "norm", "min", "max", "rel_change_first",
                "rel_change_prev", "histogram"} <= set(s)
        assert set(s["histogram"]) == {"edges", "counts"} and len(s["histogram"]["counts"]) == 9
        assert s["histogram"]["edges"] == doc["steps"][0]["histogram"]["edges"]
    assert doc["steps"][0]["rel_change_prev"] is None


def test_cli_diff_accepts_every_form_of_a_and_b(run, monkeypatch, capsys):
    ck = run.checkpoints
    reference = None
    forms = [(ck[0].prefix, ck[-1].prefix),
             (f"{run.dir}@0", f"{run.dir}@{run.epochs[-1]}"),
             (ck[0].index, run.dir),                        # a file of it; a folder: the latest
             (ck[0].data_files[0], f"{run.dir}@{ck[-1].prefix.name}")]
    for a, b in forms:
        assert cli_main(monkeypatch, "diff", a, b, "--json") == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["a"] == str(ck[0].prefix) and doc["b"] == str(ck[-1].prefix)
        reference = reference or doc["variables"]
        assert doc["variables"] == reference
    assert cli_main(monkeypatch, "diff", ck[0].prefix, f"{run.dir}@99") == 2
    assert "99" in capsys.readouterr().err
    assert cli_main(monkeypatch, "diff", ck[0].prefix, run.dir / "nowhere") == 2


def test_cli_diff_human_readable(edits, monkeypatch, capsys):
    pa, pb, _a, _b = edits
    assert cli_main(monkeypatch, "diff", pa, pb) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    table = lines[lines.index(next(l for l in lines if l.strip().startswith("rel_l2"))) + 1:]
    table = table[:table.index("")]
    rels = [float(l.split()[0]) for l in table if l.split()[0] != "-"]
    assert rels == sorted(rels, reverse=True) and len(rels) >= 5
    assert "int32 -> float32" in out and "(identical)" in out
    assert "reshaped:" in out and "[2, 3] float32 -> [3, 2] float32" in out
    assert "added (only in B):\n  new  [4] float32" in out
    assert "removed (only in A):\n  gone  [1] float32" in out
    assert lines[-1].startswith("11 variables: ") and "1 reshaped" in lines[-1]
    assert "1 added" in lines[-1] and "1 removed" in lines[-1]


def test_cli_trend_human_readable_and_problems(run, tmp_path, monkeypatch, capsys):
    assert cli_main(monkeypatch, "trend", run.dir, "conv/bias", "--bins", "5") == 0
    out = capsys.readouterr().out
    assert "conv/bias  float32 [4]  over 4 checkpoint(s)" in out
    assert "histograms: 5 bins shared by every step" in out
    assert cli_main(monkeypatch, "trend", run.dir, "no/such") == 2
    assert "no tensor" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_bins:
        cli_main(monkeypatch, "trend", run.dir, "conv/bias", "--bins", "0")
    assert bad_bins.value.code == 2
    capsys.readouterr()
    save_v2(tmp_path / "model.ckpt-1", {"v": np.ones(3, np.float32)})
    save_v2(tmp_path / "model.ckpt-2", {"u": np.ones(3, np.float32)})
    assert cli_main(monkeypatch, "trend", tmp_path, "v", "--json") == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["steps"][1]["problem"] == "not in this checkpoint"
    assert "note: model.ckpt-2: v is not in this checkpoint" in captured.err


# -- complex tensors, caches and the JSON form ----------------------------------------------

@pytest.fixture(scope="module")
def complex_run(tmp_path_factory):
    """Three steps of a complex64 variable (with a float partner), written by TensorFlow."""
    d = tmp_path_factory.mktemp("cmp_complex")
    rng = np.random.RandomState(9)
    xs = [(rng.standard_normal(40) + 1j * rng.standard_normal(40)).astype(np.complex64)]
    for _ in range(2):
        xs.append((xs[-1] + (rng.standard_normal(40) + 1j * rng.standard_normal(40)) * 0.3).astype(np.complex64))
    for i, x in enumerate(xs):
        save_v2(d / f"model.ckpt-{i}", {"z": x, "f": x.real.copy()})
    return d, xs


def test_complex_tensors_compare_by_magnitude(complex_run):
    d, xs = complex_run
    ra, rb = reader_at(d / "model.ckpt-0"), reader_at(d / "model.ckpt-2")
    va, vb = tf_values(tf, str(d / "model.ckpt-0")), tf_values(tf, str(d / "model.ckpt-2"))
    a, b = va["z"].astype(np.complex128), vb["z"].astype(np.complex128)
    for chunk in (compare.CHUNK_BYTES, 24):
        row = {r.name: r for r in compare.diff(ra, rb, chunk_bytes=chunk)}["z"]
        assert row.status == "changed" and not row.dtype_changed
        assert row.rel_l2 == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=REL)
        assert row.l2_delta == pytest.approx(np.linalg.norm(b - a), rel=REL)
        assert row.l2_a == pytest.approx(np.linalg.norm(a), rel=REL)
        assert row.max_abs_delta == pytest.approx(np.abs(b - a).max(), rel=1e-15)
        assert row.mean_abs_delta == pytest.approx(np.abs(b - a).mean(), rel=REL)
    same = {r.name: r for r in compare.diff(ra, reader_at(d / "model.ckpt-0"))}["z"]
    assert same.status == "unchanged" and same.rel_l2 == 0
    got = compare.delta(ra, rb, "z")
    assert got.dtype == np.complex128 and np.array_equal(got, b - a)
    # a complex tensor against a real one of the same shape: compared as complex
    mixed = compare.delta(ra, rb, "z", "f")
    assert mixed.dtype == np.complex128 and np.array_equal(mixed, vb["f"].astype(np.float64) - a)
    mixed = compare.delta(ra, rb, "f", "z")   # B's type decides too
    assert mixed.dtype == np.complex128 and np.array_equal(mixed, b - va["f"].astype(np.float64))
    as32 = list(compare.delta_chunks(ra, rb, "f", "z", chunk_bytes=64, dtype=np.float32))
    assert all(p.dtype == np.complex64 for p in as32) and len(as32) > 1
    assert np.array_equal(np.concatenate(as32), (b - va["f"].astype(np.float64)).astype(np.complex64))
    assert all(p.dtype == np.float32 for p in compare.delta_chunks(ra, rb, "f", dtype=np.float32))


def test_trend_of_a_complex_variable(complex_run):
    d, xs = complex_run
    result = compare.trend(run_readers(d), "z", bins=6)
    mags = [np.abs(x) for x in xs]
    edges = np.array(result.edges)
    assert edges[0] == min(m.min() for m in mags) and edges[-1] == max(m.max() for m in mags)
    x0 = xs[0].astype(np.complex128)
    for i, (p, x, m) in enumerate(zip(result.points, xs, mags)):
        assert p.counts == np.histogram(m, bins=edges)[0].tolist()
        assert p.mean == pytest.approx(m.astype(np.float64).mean(), rel=REL)
        assert p.norm == pytest.approx(np.linalg.norm(m.astype(np.float64)), rel=REL)  # of |x| as stored
        x64 = x.astype(np.complex128)
        # ‖x₀‖ is the statistics' own, of |x| as float32: float32's precision
        assert p.rel_change_first == pytest.approx(np.linalg.norm(x64 - x0) / np.linalg.norm(x0), rel=1e-6)
        if i:
            prev = xs[i - 1].astype(np.complex128)
            assert p.rel_change_prev == pytest.approx(np.linalg.norm(x64 - prev) / np.linalg.norm(prev),
                                                      rel=1e-6)


def test_cached_results_are_copies_and_follow_the_files(complex_run, tmp_path, monkeypatch):
    d, xs = complex_run
    import shutil
    for f in d.glob("model.ckpt-[01].*"):
        shutil.copy(f, tmp_path / f.name)
    a, b = tmp_path / "model.ckpt-0", tmp_path / "model.ckpt-1"
    cache = compare.ResultCache()
    fresh = compare.diff(reader_at(a), reader_at(b))
    rows = compare.diff(reader_at(a), reader_at(b), cache=cache)
    assert rows == fresh and len(cache) == 2
    rows[0].shape_a.append(99)
    rows[0].shape_b.append(99)
    again = compare.diff(reader_at(a), reader_at(b), cache=cache)
    assert again == fresh
    again[0].shape_a.append(98)
    assert compare.diff(reader_at(a), reader_at(b), cache=cache) == fresh
    # the same files by a relative path: the same entries
    monkeypatch.chdir(tmp_path)
    assert compare.diff(reader_at("model.ckpt-0"), reader_at("model.ckpt-1"), cache=cache) == fresh
    assert len(cache) == 2
    # B rewritten in place: not answered from the cache
    save_v2(b, {"z": xs[2], "f": xs[2].real.copy()})
    changed = {r.name: r for r in compare.diff(reader_at(a), reader_at(b), cache=cache)}
    assert len(cache) == 4
    want = np.linalg.norm(xs[2].real.astype(np.float64) - xs[0].real) / np.linalg.norm(xs[0].real.astype(np.float64))
    assert changed["f"].rel_l2 == pytest.approx(want, rel=REL)

    readers = run_readers(d)
    fresh_trend = compare.trend(readers, "f", bins=4)
    t1 = compare.trend(readers, "f", bins=4, cache=cache)
    assert t1 == fresh_trend
    t1.points[0].shape.append(7)
    t1.points[0].counts.append(7)
    t1.edges.append(7)
    t2 = compare.trend(readers, "f", bins=4, cache=cache)
    assert t2 == fresh_trend
    t2.points[1].counts.append(7)
    t2.edges.append(7)
    assert compare.trend(readers, "f", bins=4, cache=cache) == fresh_trend
    assert compare.trend(readers, "f", bins=5, cache=cache).bins == 5   # another key
    # a step without the variable (no shape) and a scalar (an empty shape) are cached alike
    save_v2(tmp_path / "model.ckpt-7", {"other": np.float32(1)})
    save_v2(tmp_path / "model.ckpt-8", {"s": np.float32(2), "other": np.float32(1)})
    save_v2(tmp_path / "model.ckpt-9", {"s": np.float32(3)})
    steps = run_readers(tmp_path)[-3:]
    fresh_s = compare.trend(steps, "s", bins=2)
    assert fresh_s.points[0].shape is None and fresh_s.points[1].shape == []
    assert compare.trend(steps, "s", bins=2, cache=cache) == fresh_s
    hit = compare.trend(steps, "s", bins=2, cache=cache)
    hit.points[1].shape.append(1)
    assert compare.trend(steps, "s", bins=2, cache=cache) == fresh_s


def test_result_cache_keeps_the_most_recently_used():
    cache = compare.ResultCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)          # updating an entry makes it the newest
    cache.put("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 4)
    assert cache.get("a") == 3   # asked for: now the newest
    cache.put("d", 5)
    assert (cache.get("a"), cache.get("c"), cache.get("d")) == (3, None, 5)
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.get("a") is None
    assert compare.ResultCache().maxsize == 256


def test_trend_json_form(tmp_path, tf):
    rng = np.random.RandomState(3)
    xs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2)]
    save_v2(tmp_path / "model.ckpt-1", {"v": xs[0]})
    save_v2(tmp_path / "model.ckpt-2", {"u": xs[0]})
    save_v2(tmp_path / "model.ckpt-3", {"v": xs[1]})
    result = compare.trend(run_readers(tmp_path), "v", bins=3)
    doc = result.to_json()
    assert doc["name"] == "v" and doc["bins"] == 3 and doc["edges"] == result.edges
    assert doc["reads_per_checkpoint"] == 1 and len(doc["steps"]) == 3
    for s, p in zip(doc["steps"], result.points):
        assert s == {"step": p.step, "mean": p.mean, "std": p.std, "norm": p.norm, "min": p.min,
                     "max": p.max, "rel_change_first": p.rel_change_first,
                     "rel_change_prev": p.rel_change_prev,
                     "histogram": {"edges": result.edges if p.counts else [], "counts": p.counts},
                     "prefix": p.prefix, "key": p.key, "shape": p.shape, "dtype": p.dtype,
                     "size": p.size, "zeros": p.zeros, "nan": p.nan, "inf": p.inf,
                     "problem": p.problem}
    first, gone, last = doc["steps"]
    assert first["step"] == 1 and first["shape"] == [2, 3] and first["dtype"] == "float32"
    assert first["size"] == 6 and sum(first["histogram"]["counts"]) == 6
    assert first["mean"] == pytest.approx(xs[0].astype(np.float64).mean(), rel=REL)
    assert gone["histogram"] == {"edges": [], "counts": []} and gone["problem"] == "not in this checkpoint"
    assert gone["key"] is None and gone["size"] == 0 and gone["mean"] is None
    assert last["prefix"] == str(tmp_path / "model.ckpt-3") and last["key"] == "v"
    assert last["rel_change_prev"] == pytest.approx(
        np.linalg.norm(xs[1].astype(np.float64) - xs[0]) / np.linalg.norm(xs[0].astype(np.float64)), rel=REL)
    assert json.loads(json.dumps(doc)) == doc


# -- rows that cannot be compared, edge sizes and orders -------------------------------------

def test_a_checkpoint_without_its_data_gives_unreadable_rows(edits, tmp_path):
    pa, pb, _a, _b = edits
    import shutil
    shutil.copy(pb + ".index", tmp_path / "b.index")   # no data file beside it
    rb = reader_at(tmp_path / "b")
    assert rb.tensors["moved"].problem
    rows = {r.name: r for r in compare.diff(reader_at(pa), rb)}
    moved = rows["moved"]
    assert moved.status == "unreadable" and moved.problem == f"B: {rb.tensors['moved'].problem}"
    assert moved.rel_l2 is None and moved.shape_a == moved.shape_b == [1000]
    both = {r.name: r for r in compare.diff(rb, rb)}["moved"]
    assert both.problem == f"A: {rb.tensors['moved'].problem}; B: {rb.tensors['moved'].problem}"
    assert rows["new"].status == "added" and rows["new"].problem == f"{rb.index_path}: {rb.tensors['new'].problem}"
    assert rows["gone"].status == "removed" and rows["gone"].problem is None
    back = {r.name: r for r in compare.diff(rb, reader_at(pa))}
    assert back["new"].status == "removed" and back["new"].problem.startswith(rb.index_path + ": ")
    assert back["moved"].problem.startswith("A: ")
    with pytest.raises(compare.FormatError):
        list(compare.delta_chunks(reader_at(pa), rb, "moved"))
    result = compare.trend([(1, reader_at(pa)), (2, rb)], "moved", bins=3)
    assert result.points[1].problem == rb.tensors["moved"].problem and result.points[1].counts == []
    assert result.points[0].counts and result.points[0].rel_change_first == 0


def test_delta_refuses_strings_and_other_shapes(edits):
    pa, pb, _a, _b = edits
    ra, rb = reader_at(pa), reader_at(pb)
    with pytest.raises(ValueError, match="text holds strings: a delta needs numbers"):
        compare.delta(ra, rb, "text")
    with pytest.raises(ValueError, match=r"shapes differ: \[2, 3\] against \[3, 2\]"):
        compare.delta(ra, rb, "w")
    with pytest.raises(ValueError, match=r"shapes differ: \[2, 3\] against \[5\]"):
        compare.delta(ra, rb, "w", "same")
    assert compare.delta(ra, rb, "d").tolist() == [0.0, 0.0, 0.5]


def test_a_large_delta_is_float32(edits, monkeypatch):
    pa, pb, a, b = edits
    ra, rb = reader_at(pa), reader_at(pb)
    want = b["moved"].astype(np.float64) - a["moved"].astype(np.float64)
    monkeypatch.setattr(compare, "DELTA_FLOAT64_ELEMENTS", 1000)
    exact = compare.delta(ra, rb, "moved")
    assert exact.dtype == np.float64 and np.array_equal(exact, want)
    monkeypatch.setattr(compare, "DELTA_FLOAT64_ELEMENTS", 999)
    half = compare.delta(ra, rb, "moved")
    assert half.dtype == np.float32 and np.array_equal(half, want.astype(np.float32))
    assert compare.delta(ra, rb, "d").dtype == np.float64


def test_empty_and_bool_tensors(tmp_path, tf):
    pa = save_v2(tmp_path / "a", {"e": np.zeros((0, 3), np.float32), "m": np.array([True, False, True])})
    pb = save_v2(tmp_path / "b", {"e": np.zeros((0, 3), np.float32), "m": np.array([True, True, False])})
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb))}
    e = rows["e"]
    assert (e.status, e.rel_l2, e.max_abs_delta, e.mean_abs_delta, e.size) == ("unchanged", 0.0, 0.0, 0.0, 0)
    m = rows["m"]
    assert m.status == "changed" and m.max_abs_delta == 1.0 and m.mean_abs_delta == pytest.approx(2 / 3)
    assert m.rel_l2 == pytest.approx(math.sqrt(2) / math.sqrt(2))
    assert compare.delta(reader_at(pa), reader_at(pb), "m").tolist() == [0.0, 1.0, -1.0]


def test_nan_makes_the_metrics_nan_and_sorts_first(tmp_path, tf):
    x = np.arange(1, 7, dtype=np.float32)
    y = x.copy()
    y[2] = np.nan
    z = x * 3
    pa = save_v2(tmp_path / "a", {"n": x, "big": x, "small": x, "t": np.array([b"a"], object)})
    pb = save_v2(tmp_path / "b", {"n": y, "big": z, "small": x + 0.5, "t": np.array([b"b"], object)})
    rows = compare.diff(reader_at(pa), reader_at(pb))
    assert [r.name for r in rows] == ["n", "big", "small", "t"]
    n = rows[0]
    assert n.status == "changed" and math.isnan(n.rel_l2) and math.isnan(n.max_abs_delta)
    assert math.isnan(n.mean_abs_delta) and math.isnan(n.l2_delta)
    # the NaN in an early chunk of several: still NaN at the end
    n = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb), chunk_bytes=8)}["n"]
    assert math.isnan(n.max_abs_delta) and math.isnan(n.rel_l2)
    # NaN in the base only
    rows = {r.name: r for r in compare.diff(reader_at(pb), reader_at(pa))}
    assert math.isnan(rows["n"].rel_l2) and math.isnan(rows["n"].max_abs_delta)
    big = rows["big"]
    assert big.max_abs_delta == 12.0 and big.rel_l2 == pytest.approx(2 / 3, rel=REL)


def test_sort_rows_orders_groups_and_ties_by_name():
    R = compare.DiffRow
    rows = [R("z", "removed"), R("k", "unreadable"), R("a", "added"), R("q", "reshaped"),
            R("s2", "unchanged"), R("s1", "changed"), R("b", "changed", rel_l2=0.5),
            R("c", "unchanged", rel_l2=0.0), R("a2", "changed", rel_l2=0.5), R("n", "changed", rel_l2=math.nan),
            R("i", "changed", rel_l2=math.inf), R("y", "added"), R("x", "added")]
    assert [r.name for r in compare.sort_rows(rows)] == \
        ["i", "n", "a2", "b", "c", "s1", "s2", "q", "a", "x", "y", "z", "k"]  # NaN ranks as inf
    assert R("u", "unchanged").compared and R("u", "changed").compared
    assert not any(R("u", s).compared for s in ("reshaped", "added", "removed", "unreadable"))


def test_diff_row_json_form(edits):
    pa, pb, _a, _b = edits
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb))}
    d = rows["d"]
    assert d.to_json() == {"name": "d", "status": "changed", "rel_l2": d.rel_l2, "max_abs_delta": 0.5,
                           "mean_abs_delta": pytest.approx(0.5 / 3), "shape_a": [3], "shape_b": [3],
                           "dtype_a": "int32", "dtype_b": "float32", "dtype_changed": True,
                           "key_a": "d", "key_b": "d", "l2_delta": 0.5,
                           "l2_a": pytest.approx(math.sqrt(14)), "size": 3, "problem": None}
    assert rows["new"].to_json()["key_a"] is None and rows["new"].to_json()["size"] == 4
    assert rows["gone"].to_json()["key_b"] is None and rows["gone"].size == 1


def test_match_leaves_ambiguous_readable_names_unpaired(keras):
    full = reader_at(keras.checkpoints[-1].prefix)
    alone = reader_at(keras.model_only.prefix)
    names = sorted({t.display_name for t in alone.tensors.values()} - {"save_counter"})
    twin, other = names[0], names[1]
    # two leftover tensors of B called alike: that name pairs nothing, the rest pair
    for t in alone.tensors.values():
        if t.display_name == other:
            t.display_name = twin
    m = compare.match(full, alone)
    paired = {full.tensors[a].display_name for a, _b in m.by_name}
    assert twin not in paired and other not in paired
    assert len(m.by_name) == len(alone.tensors) - 2
    assert {alone.tensors[k].display_name for k in m.only_b} == {twin}
    assert {full.tensors[k].display_name for k in m.only_a} == {twin, other, "save_counter"}
    # and alike on A's side
    m = compare.match(alone, full)
    assert {alone.tensors[k].display_name for k in m.only_a} == {twin} and len(m.only_a) == 2


# -- trends: steps that differ ----------------------------------------------------------------

def test_trend_steps_of_other_shapes_types_and_strings(tmp_path, tf):
    rng = np.random.RandomState(8)
    x1 = rng.standard_normal((3, 4)).astype(np.float32)
    x1[0, :2] = 0
    x2 = (x1 + 0.1).astype(np.float32)
    wide = rng.standard_normal(5).astype(np.float32) * 10   # another shape: no changes
    x4 = (x2 * 2).astype(np.float64)                        # another dtype, same shape
    save_v2(tmp_path / "model.ckpt-1", {"v": x1})
    save_v2(tmp_path / "model.ckpt-2", {"v": x2})
    save_v2(tmp_path / "model.ckpt-3", {"v": wide})
    save_v2(tmp_path / "model.ckpt-4", {"v": x4})
    save_v2(tmp_path / "model.ckpt-5", {"v": np.array([b"x"], dtype=object)})
    readers = run_readers(tmp_path)
    seen = []
    result = compare.trend(readers, "v", bins=7, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0
    p1, p2, p3, p4, p5 = result.points
    assert p5.problem == "holds strings: no statistics" and p5.counts == [] and p5.mean is None
    assert p3.rel_change_first is None and p3.rel_change_prev is None and p3.shape == [5]
    assert p3.mean == pytest.approx(wide.astype(np.float64).mean(), rel=REL)
    assert p1.zeros == 2 and p4.dtype == "float64"
    values = [x1, x2, wide, x4]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    counts, edges = np.histogram(np.empty(0), bins=7, range=(lo, hi))   # steps of two types: float64
    assert result.edges == edges.tolist()
    for p, v in zip(result.points, values):
        assert p.counts == np.histogram(v.astype(np.float64), bins=edges)[0].tolist()
        assert p.min == v.min() and p.max == v.max() and sum(p.counts) == v.size
    x0 = x1.astype(np.float64)
    assert p4.rel_change_first == pytest.approx(np.linalg.norm(x4 - x0) / np.linalg.norm(x0), rel=REL)
    assert p4.rel_change_prev == pytest.approx(np.linalg.norm(x4 - x2.astype(np.float64))
                                               / np.linalg.norm(x2.astype(np.float64)), rel=REL)
    twice = compare.trend(readers, "v", bins=7, keep_bytes=0, stream_bytes=16)
    assert twice.reads_per_checkpoint == 2 and twice.edges == result.edges
    assert [p.counts for p in twice.points] == [p.counts for p in result.points]
    for a, b in zip(twice.points, result.points):
        assert (a.rel_change_prev is None) == (b.rel_change_prev is None)
        assert a.rel_change_prev is None or a.rel_change_prev == pytest.approx(b.rel_change_prev, rel=REL)
    # exactly at the limit: still one read
    nbytes = sum(r.tensors["v"].nbytes for _s, r in readers[:4])
    assert compare.trend(readers, "v", bins=7, keep_bytes=nbytes).reads_per_checkpoint == 1
    assert compare.trend(readers, "v", bins=7, keep_bytes=nbytes - 1).reads_per_checkpoint == 2
    with pytest.raises(ValueError, match="bins"):
        compare.trend(readers, "v", bins=0)
    nothing = compare.trend(readers, "nowhere", bins=3)
    assert nothing.name == "nowhere" and nothing.edges == [] and all(
        p.problem == "not in this checkpoint" for p in nothing.points)


def test_trend_range_wider_than_float32_and_a_step_without_finite_values(tmp_path, tf):
    big = np.finfo(np.float32).max
    xs = [np.array([-big, 0, 1], np.float32), np.array([np.nan, np.inf, np.nan], np.float32),
          np.array([2, big, 3], np.float32)]
    for i, x in enumerate(xs):
        save_v2(tmp_path / f"model.ckpt-{i}", {"v": x})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the overflowing float32 range warns nothing
        result = compare.trend(run_readers(tmp_path), "v", bins=4)
    edges = np.histogram(np.empty(0), bins=4, range=(-float(big), float(big)))[1]
    assert result.edges == edges.tolist()
    assert result.points[0].counts == [1, 0, 2, 0] and result.points[2].counts == [0, 0, 2, 1]
    empty = result.points[1]
    assert empty.counts == [0, 0, 0, 0] and (empty.nan, empty.inf) == (2, 1)
    assert empty.mean is None and empty.min is None and empty.norm is None


# -- sizes past one block, progress to the byte, partitioned alike ---------------------------

def test_metrics_over_several_blocks(tmp_path, tf):
    rng = np.random.RandomState(12)
    n = 2 * compare.BLOCK + 3
    a = rng.standard_normal(n).astype(np.float32)
    b = a + rng.standard_normal(n).astype(np.float32) * np.float32(0.01)
    b[5] = a[5] + 3             # the largest change in the first block...
    b[-1] = a[-1] + 7           # ...and a larger one in the short last block
    z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    z2 = z.copy()
    z2[-2] += 5j
    z2[1] += 2
    nan = a.copy()
    nan[n // 2] = np.nan
    pa = save_v2(tmp_path / "a", {"x": a, "z": z, "same_nan": nan})
    pb = save_v2(tmp_path / "b", {"x": b, "z": z2, "same_nan": nan.copy()})
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb))}
    assert_row_matches(rows["x"], a, b)
    assert rows["x"].max_abs_delta == float(np.float64(b[-1]) - np.float64(a[-1]))
    zr = rows["z"]
    d = z2.astype(np.complex128) - z.astype(np.complex128)
    assert zr.max_abs_delta == np.abs(d).max() and zr.l2_delta == pytest.approx(np.linalg.norm(d), rel=REL)
    assert zr.l2_a == pytest.approx(np.linalg.norm(z.astype(np.complex128)), rel=REL)
    # NaN where both have it, with the same bytes: unchanged, though its metrics are NaN
    same = rows["same_nan"]
    assert same.status == "unchanged" and math.isnan(same.rel_l2)


def test_progress_counts_every_byte_read(run):
    a, b = reader_at(run.checkpoints[0].prefix), reader_at(run.checkpoints[-1].prefix)
    seen = []
    compare.diff(a, b, progress=seen.append, chunk_bytes=256)
    assert seen[-2:] == [1.0, 1.0] and seen == sorted(seen) and seen[0] == 0.0   # nothing read yet
    readers = run_readers(run.dir)
    for keep in (compare.TREND_KEEP_BYTES, 0):
        seen.clear()
        compare.trend(readers, "dense/kernel", bins=4, progress=seen.append, keep_bytes=keep,
                      stream_bytes=512)
        assert seen[-2:] == [1.0, 1.0] and seen == sorted(seen)
        # kept: one lockstep read of all; else the first pass ends half-way
        assert seen == [1.0, 1.0] if keep else (0.5 in seen and seen[0] < 0.5)


def test_a_delta_of_tensors_partitioned_alike_comes_out_row_major(tmp_path, tf):
    rng = np.random.RandomState(13)
    wa = rng.standard_normal((6, 4)).astype(np.float32)
    wb = rng.standard_normal((6, 4)).astype(np.float32)
    pa = save_v2(tmp_path / "a", {}, slices=[("w", "6 4 -:0,1", wa[:, :1]), ("w", "6 4 -:1,3", wa[:, 1:])])
    pb = save_v2(tmp_path / "b", {}, slices=[("w", "6 4 -:0,1", wb[:, :1]), ("w", "6 4 -:1,3", wb[:, 1:])])
    ra, rb = reader_at(pa), reader_at(pb)
    want = wb.astype(np.float64) - wa.astype(np.float64)
    assert np.array_equal(compare.delta(ra, rb, "w"), want)
    pieces = list(compare.delta_chunks(ra, rb, "w", chunk_bytes=8))
    assert np.array_equal(np.concatenate(pieces), want.ravel())
    row = compare.diff(ra, rb, chunk_bytes=8)[0]
    assert_row_matches(row, wa, wb)


def test_a_delta_of_more_than_one_read_chunk(tmp_path, tf):
    """B − A of a tensor that streams in three chunks lands each piece in its place."""
    n = 2 * compare.CHUNK_BYTES // 4 + 1000
    a = np.linspace(-1, 1, n, dtype=np.float32)
    b = np.float16(0.5) + a.astype(np.float16)   # float16: chunks of other lengths than A's
    pa, pb = save_v2(tmp_path / "a", {"x": a}), save_v2(tmp_path / "b", {"x": b})
    got = compare.delta(reader_at(pa), reader_at(pb), "x")
    assert got.dtype == np.float64 and np.array_equal(got, b.astype(np.float64) - a.astype(np.float64))


def test_cached_rows_of_checkpoints_on_a_web_server(tmp_path, tf, monkeypatch):
    """A remote checkpoint is known to the cache by its URL, size and date: rewritten with
    more in it, it is compared again."""
    from app.formats import remote
    from .remote_servers import web_server
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(remote, "BACKOFF", 0.05)
    x = np.arange(6, dtype=np.float32)
    save_v2(tmp_path / "a", {"x": x})
    save_v2(tmp_path / "b", {"x": x * 2})
    remote.reset()
    try:
        with web_server(tmp_path) as (url, _faults):
            cache = compare.ResultCache()
            rows = compare.diff(reader_at(f"{url}/a.index"), reader_at(f"{url}/b.index"), cache=cache)
            assert rows[0].rel_l2 == pytest.approx(1.0) and len(cache) == 1
            again = compare.diff(reader_at(f"{url}/a.index"), reader_at(f"{url}/b.index"), cache=cache)
            assert again == rows and len(cache) == 1
            save_v2(tmp_path / "b", {"x": x * 3, "y": np.zeros(4, np.float32)})
            remote.reset()
            rows = compare.diff(reader_at(f"{url}/a.index"), reader_at(f"{url}/b.index"), cache=cache)
            assert {r.name: r.rel_l2 for r in rows}["x"] == pytest.approx(2.0) and len(cache) == 2
    finally:
        remote.reset()


def test_a_change_in_the_first_chunk_only_is_a_change(tmp_path, tf):
    x = np.arange(8, dtype=np.float32)
    y = x.copy()
    y[0] = 100
    pa, pb = save_v2(tmp_path / "a", {"x": x}), save_v2(tmp_path / "b", {"x": y})
    for chunk in (8, 16, compare.CHUNK_BYTES):
        row = compare.diff(reader_at(pa), reader_at(pb), chunk_bytes=chunk)[0]
        assert row.status == "changed" and row.max_abs_delta == 100.0


def test_strings_against_numbers_of_the_same_shape_are_changed(tmp_path, tf):
    pa = save_v2(tmp_path / "a", {"t": np.array([b"1", b"2"], object), "u": np.array([1.0, 2.0], np.float32)})
    pb = save_v2(tmp_path / "b", {"t": np.array([1.0, 2.0], np.float32), "u": np.array([b"1", b"2"], object)})
    seen = []
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb), progress=seen.append)}
    assert seen == sorted(seen) and seen[-2:] == [1.0, 1.0]   # their bytes count as read
    for name in ("t", "u"):
        assert rows[name].status == "changed" and rows[name].dtype_changed and rows[name].rel_l2 is None
        assert rows[name].problem is None


def test_sort_rows_puts_changed_strings_before_unchanged_ones_and_after_numbers():
    R = compare.DiffRow
    rows = [R("a", "unchanged"), R("b", "changed"), R("z", "unchanged", rel_l2=0.0)]
    assert [r.name for r in compare.sort_rows(rows)] == ["z", "b", "a"]


def test_a_real_tensor_against_a_complex_one_compares_as_complex(tmp_path, tf):
    """A dtype change between float and complex (either way round): the imaginary part
    counts, as numpy's complex128 difference says."""
    rng = np.random.RandomState(21)
    real = rng.standard_normal(30).astype(np.float32)
    cplx = (rng.standard_normal(30) + 1j * rng.standard_normal(30)).astype(np.complex64)
    pa = save_v2(tmp_path / "a", {"r2c": real, "c2r": cplx})
    pb = save_v2(tmp_path / "b", {"r2c": cplx, "c2r": real})
    rows = {r.name: r for r in compare.diff(reader_at(pa), reader_at(pb))}
    for name, a, b in (("r2c", real, cplx), ("c2r", cplx, real)):
        d = b.astype(np.complex128) - a.astype(np.complex128)
        row = rows[name]
        assert row.status == "changed" and row.dtype_changed
        assert row.max_abs_delta == pytest.approx(np.abs(d).max(), rel=1e-12)
        assert row.mean_abs_delta == pytest.approx(np.abs(d).mean(), rel=1e-12)
        assert row.rel_l2 == pytest.approx(np.linalg.norm(d) / np.linalg.norm(a.astype(np.complex128)), rel=1e-12)


def test_trend_bins(tmp_path, tf):
    for i in range(2):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": np.arange(5, dtype=np.float32) * (i + 1)})
    readers = run_readers(tmp_path)
    one = compare.trend(readers, "x", bins=1)
    assert one.edges == [0.0, 8.0] and [p.counts for p in one.points] == [[5], [5]]
    with pytest.raises(ValueError) as e:
        compare.trend(readers, "x", bins=0)
    assert str(e.value) == "bins must be at least 1"


def test_trend_edges_are_numpys_for_float32_data(tmp_path, tf):
    """All steps float32: the shared edges are those numpy makes for float32 data (its
    linspace in float32), not float64 ones."""
    xs = [np.array([0.0, 0.1, 0.7], np.float32), np.array([0.3, 1.1], np.float32)]
    for i, x in enumerate(xs):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": x})
    result = compare.trend(run_readers(tmp_path), "x", bins=7)
    want = np.histogram(np.concatenate(xs), bins=7)[1]
    assert want.dtype == np.float32
    assert result.edges == [float(e) for e in want]
    assert result.edges != [float(e) for e in np.histogram(np.concatenate(xs).astype(np.float64), bins=7,
                                                          range=(float(xs[0][0]), float(xs[1][1])))[1]]


def test_trend_statistics_skip_nan_and_inf_in_any_step(tmp_path, tf):
    """Statistics over the finite values, as numpy's over x[isfinite(x)]: a run whose steps
    hold an Inf and no NaN, and one whose every step holds a NaN or an Inf."""
    rng = np.random.RandomState(8)
    runs = {"inf_only": [rng.standard_normal(20).astype(np.float32) for _ in range(3)],
            "all_bad": [rng.standard_normal(20).astype(np.float32) for _ in range(3)]}
    runs["inf_only"][1][5] = np.inf
    runs["inf_only"][2][0] = -np.inf
    for i, x in enumerate(runs["all_bad"]):
        x[2 + i] = (np.nan, np.inf, -np.inf)[i]
    for i in range(3):
        save_v2(tmp_path / f"model.ckpt-{i}", {k: v[i] for k, v in runs.items()})
    readers = run_readers(tmp_path)
    for key, xs in runs.items():
        result = compare.trend(readers, key, bins=4)
        for p, x in zip(result.points, xs):
            f = x[np.isfinite(x)].astype(np.float64)
            assert (p.min, p.max) == (f.min(), f.max()), key
            assert p.mean == pytest.approx(f.mean(), rel=REL) and p.std == pytest.approx(f.std(), rel=REL)
            assert p.norm == pytest.approx(np.linalg.norm(f), rel=REL)
            assert p.nan + p.inf == x.size - f.size


class _Counting:
    """A real reader that counts the chunk streams asked of it and the largest piece."""

    def __init__(self, reader):
        self._reader = reader
        self.streams = 0
        self.largest = 0

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def chunks(self, name, chunk_bytes=compare.CHUNK_BYTES):
        self.streams += 1
        for piece in self._reader.chunks(name, chunk_bytes):
            self.largest = max(self.largest, piece.nbytes)
            yield piece


def test_a_cached_trend_reads_nothing_again(tmp_path, tf):
    for i in range(3):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": np.arange(6, dtype=np.float32) * i})
    readers = [(s, _Counting(r)) for s, r in run_readers(tmp_path)]
    cache = compare.ResultCache()
    first = compare.trend(readers, "x", bins=3, cache=cache)
    assert [r.streams for _s, r in readers] == [1, 1, 1]
    assert compare.trend(readers, "x", bins=3, cache=cache) == first
    assert [r.streams for _s, r in readers] == [1, 1, 1]    # answered from the cache
    assert len(cache) == 1


def test_trend_pieces_stay_within_the_stream_budget(tmp_path, tf):
    """Steps of another shape (streamed alone) and the second pass read in pieces of the
    lockstep share of `stream_bytes`, never more."""
    rng = np.random.RandomState(3)
    xs = [rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32),
          rng.standard_normal((8, 16)).astype(np.float32)]
    for i, x in enumerate(xs):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": x})
    readers = [(s, _Counting(r)) for s, r in run_readers(tmp_path)]
    result = compare.trend(readers, "x", bins=5, keep_bytes=0, stream_bytes=64)
    assert result.reads_per_checkpoint == 2
    assert [r.streams for _s, r in readers] == [2, 2, 2]
    assert all(0 < r.largest <= 32 for _s, r in readers)      # 64 bytes shared by 2 streams
    assert result.points[2].counts == np.histogram(xs[2], bins=np.array(result.edges))[0].tolist()


def test_trend_of_a_tf2_checkpoint_by_its_key_is_named_readably(keras):
    readers = run_readers(keras.dir)
    key = keras.weight_keys["sequential/hidden/kernel"]
    result = compare.trend(readers, key, bins=3)
    assert result.name == "sequential/hidden/kernel" != key
    assert [p.key for p in result.points] == [key] * 3


class _Exhausted:
    """A real reader whose chunk streams fail as numpy does when memory runs out."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def chunks(self, name, chunk_bytes=compare.CHUNK_BYTES):
        raise MemoryError()
        yield


def test_running_out_of_memory_is_an_unreadable_row_named_so(tmp_path, tf):
    pa = save_v2(tmp_path / "a", {"x": np.arange(4, dtype=np.float32)})
    pb = save_v2(tmp_path / "b", {"x": np.arange(4, dtype=np.float32) + 1})
    row = compare.diff(reader_at(pa), _Exhausted(reader_at(pb)))[0]
    assert (row.status, row.problem) == ("unreadable", "MemoryError")


def test_trend_histograms_count_int64_values_past_float_precision(tmp_path, tf):
    """Steps whose minima 2**53 and 2**53 + 1 are one float64: the shared range still starts
    at the true minimum, so every value is counted."""
    b = 2 ** 53
    xs = [np.array([b + 1, b + 10], np.int64), np.array([b, b + 5], np.int64),
          np.array([b + 2, b + 11], np.int64)]
    for i, x in enumerate(xs):
        save_v2(tmp_path / f"model.ckpt-{i}", {"x": x})
    result = compare.trend(run_readers(tmp_path), "x", bins=3)
    assert [sum(p.counts) for p in result.points] == [2, 2, 2]
    assert [(p.min, p.max) for p in result.points] == [(int(x.min()), int(x.max())) for x in xs]


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    return fx.moved_keys(tmp_path_factory.mktemp("cmp_moved") / "moved")


def test_trend_by_key_follows_the_variable_where_its_key_moved(moved):
    readers = run_readers(moved.dir)
    assert [r.tensors[k].display_name for (_s, r), k in zip(readers, moved.keys)] == ["dense/kernel"] * 2
    result = compare.trend(readers, moved.keys[0], bins=3)
    assert result.name == "dense/kernel"
    assert [p.key for p in result.points] == moved.keys
    _check_trend(result, moved.values, 3)
