"""Statistics of values handed in as chunks (app.analysis.stats and the streaming engine
under it), checked against numpy on the very same values: min, max, mean, std, L2 norm,
zeros, NaN and Inf counts, and the histogram `numpy.histogram(finite, bins)` makes. No
TensorFlow: the chunks are numpy arrays, cut as a reader would cut them."""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest

from app.analysis import stats, streaming


def chunked(value: np.ndarray, size: int):
    """A `chunks` callable for stats.compute: fresh flat pieces of `size` elements, and how
    many times it was called (each call is one read of the tensor)."""
    flat = value.reshape(-1)
    calls = []

    def chunks():
        calls.append(1)
        return iter([flat[i:i + size].copy() for i in range(0, flat.size, size)] or [flat[:0]])
    return chunks, calls


def want(value: np.ndarray, bins: int) -> dict:
    """numpy's statistics of a tensor, as stats.compute defines them (finite values only;
    bool as 0/1; complex as |x|; the small float types exactly in float32)."""
    x = np.abs(value) if np.iscomplexobj(value) else value
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    elif x.dtype.itemsize < 4 and x.dtype.kind not in "iu" or x.dtype == ml_dtypes.bfloat16:
        x = x.astype(np.float32)
    x = x.reshape(-1)
    ok = np.isfinite(x) if x.dtype.kind == "f" else np.ones(x.size, bool)
    fin = x[ok]
    f64 = fin.astype(np.float64)
    counts, edges = np.histogram(fin, bins=bins) if fin.size else (np.zeros(0), np.zeros(0))
    return {"size": x.size, "nan": int(np.isnan(x).sum()) if x.dtype.kind == "f" else 0,
            "inf": int(np.isinf(x).sum()) if x.dtype.kind == "f" else 0,
            "zeros": int((fin == 0).sum()),
            "min": fin.min() if fin.size else None, "max": fin.max() if fin.size else None,
            "mean": f64.mean() if fin.size else None, "std": f64.std() if fin.size else None,
            "norm": math.sqrt(float(np.sum(f64 * f64))) if fin.size else None,
            "counts": counts.tolist(), "edges": edges.tolist()}


def check(result: stats.Stats, value: np.ndarray, bins: int) -> None:
    w = want(value, bins)
    for k in ("size", "nan", "inf", "zeros", "min", "max", "counts", "edges"):
        assert getattr(result, k) == w[k], k
    for k in ("mean", "std", "norm"):
        if w[k] is None:
            assert getattr(result, k) is None, k
        else:
            assert getattr(result, k) == pytest.approx(w[k], rel=1e-12, abs=1e-300), k


def values() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    f = (rng.standard_normal(1000) * 2 + 5).astype(np.float32)
    f[:300] -= 20                    # the first chunks unlike the rest
    f[[17, 401, 402]] = np.nan
    f[[5, 650]] = [np.inf, -np.inf]
    f[[8, 9, 700]] = 0.0
    f[990] = -0.0
    ints = rng.integers(-50, 50, size=777).astype(np.int32)
    ints[ints % 7 == 0] = 0
    return {
        "float32": f,
        "float64": rng.standard_normal(513) * 1e3 - 7,
        "int32": ints,
        "uint8": rng.integers(0, 256, size=300).astype(np.uint8),
        "bool": rng.random(200) < 0.3,
        "float16": (rng.standard_normal(400) * 3 + 1).astype(np.float16),
        "bfloat16": (rng.standard_normal(333) * 4 - 2).astype(ml_dtypes.bfloat16),
        "complex64": (rng.standard_normal(250) + 1j * rng.standard_normal(250)).astype(np.complex64),
        "positive": rng.random(100).astype(np.float32) + 3,   # all of one sign: min > 0
        "negative": -rng.random(100).astype(np.float32) - 3,  # max < 0
    }


@pytest.mark.parametrize("name", list(values()))
@pytest.mark.parametrize("chunk", [7, 64, 10 ** 6])   # many chunks, a few, one
def test_statistics_match_numpy_for_every_dtype(name, chunk):
    value = values()[name]
    chunks, calls = chunked(value, chunk)
    result = stats.compute(chunks, value.nbytes, bins=13)
    check(result, value, 13)
    assert result.of_magnitude == np.iscomplexobj(value)
    # a tensor in one chunk is read once; one in several twice (the histogram's range
    # needs the min and max first)
    assert len(calls) == (1 if value.size <= chunk else 2)


def test_nan_and_inf_only_chunks_between_finite_ones():
    value = np.array([1, 2, np.nan, np.inf, np.nan, -np.inf, 3, 4, np.nan, np.nan], np.float32)
    for chunk in (1, 2, 3, 4):
        chunks, _ = chunked(value, chunk)
        result = stats.compute(chunks, value.nbytes, bins=3)
        check(result, value, 3)
        assert (result.nan, result.inf, result.min, result.max) == (4, 2, 1.0, 4.0)
        assert result.counts == [1, 1, 2]   # 1 | 2 | 3, 4: numpy's last bin is closed


def test_no_finite_value_and_no_value():
    for value in (np.array([np.nan, np.inf, -np.inf], np.float32), np.zeros(0, np.float32)):
        for chunk in (1, 5):
            chunks, _ = chunked(value, chunk)
            result = stats.compute(chunks, value.nbytes)
            assert result.size == value.size and result.nan == int(np.isnan(value).sum())
            assert result.inf == int(np.isinf(value).sum()) and result.zeros == 0
            assert (result.min, result.max, result.mean, result.std, result.norm) == (None,) * 5
            assert result.edges == [] and result.counts == []


def test_a_constant_tensor():
    value = np.full(50, -2.5, np.float32)
    chunks, _ = chunked(value, 8)
    result = stats.compute(chunks, value.nbytes, bins=4)
    check(result, value, 4)
    assert result.std == 0 and result.mean == -2.5 and result.counts == [0, 0, 50, 0]


def test_one_bin_and_no_bins():
    value = np.arange(10, dtype=np.float32)
    chunks, _ = chunked(value, 3)
    result = stats.compute(chunks, value.nbytes, bins=1)
    assert result.counts == [10] and result.edges == [0.0, 9.0]
    with pytest.raises(ValueError, match="^bins must be at least 1$"):
        stats.compute(chunks, value.nbytes, bins=0)


def test_a_range_that_overflows_its_float_type_is_binned_in_float64():
    big = np.finfo(np.float32).max
    value = np.array([-big, -1, 0, 1, big, big / 2], np.float32)
    for chunk in (2, 100):
        chunks, _ = chunked(value, chunk)
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no overflow warning reaches the user
            result = stats.compute(chunks, value.nbytes, bins=4)
        counts, edges = np.histogram(value.astype(np.float64), bins=4)
        assert result.counts == counts.tolist() and result.edges == edges.tolist()
        assert all(math.isfinite(e) for e in result.edges)
        assert result.min == -big and result.max == big
        assert result.norm == pytest.approx(math.sqrt(2.25) * float(big), rel=1e-12)


def test_large_values_keep_their_precision():
    """Values far from zero with a small spread: shifted sums keep the std exact."""
    value = (1e6 + np.arange(1000) % 10).astype(np.float64)
    for chunk in (3, 100, 5000):
        chunks, _ = chunked(value, chunk)
        result = stats.compute(chunks, value.nbytes)
        assert result.std == pytest.approx(value.std(), rel=1e-12)
        assert result.mean == pytest.approx(value.mean(), rel=1e-15)


def test_several_blocks_of_one_chunk():
    """A chunk longer than the engine's float64 block: its sums go over several blocks."""
    rng = np.random.default_rng(3)
    value = (rng.standard_normal(2 * streaming.BLOCK + 5) + 4).astype(np.float32)
    value[-1] = 1e4   # in the short last block
    chunks, _ = chunked(value, value.size)
    check(stats.compute(chunks, value.nbytes, bins=9), value, 9)
    part = streaming.summarise(value)
    f64 = value.astype(np.float64)
    assert part.n == part.size == value.size
    assert part.mean == pytest.approx(f64.mean(), rel=1e-12)
    assert part.m2 == pytest.approx(((f64 - f64.mean()) ** 2).sum(), rel=1e-9)
    assert part.sumsq == pytest.approx((f64 * f64).sum(), rel=1e-12)


def test_merge_of_parts_is_the_part_of_the_whole():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(40).astype(np.float32) * 3 + 10
    b = rng.standard_normal(25).astype(np.float32) - 4
    b[3] = np.nan
    total = streaming.Part()
    for piece in (a, b, np.array([np.inf], np.float32)):
        streaming.merge(total, streaming.summarise(piece))
    whole = streaming.summarise(np.concatenate([a, b, [np.inf]]).astype(np.float32))
    assert (total.size, total.n, total.nan, total.inf, total.zeros) == \
        (whole.size, whole.n, whole.nan, whole.inf, whole.zeros) == (66, 64, 1, 1, 0)
    assert (total.lo, total.hi) == (whole.lo, whole.hi)
    for k in ("mean", "m2", "sumsq"):
        assert getattr(total, k) == pytest.approx(getattr(whole, k), rel=1e-12), k
    # merged the other way round: the same min and max
    other = streaming.Part()
    for piece in (b, a):
        streaming.merge(other, streaming.summarise(piece))
    assert (other.lo, other.hi) == (total.lo, total.hi) == (b[np.isfinite(b)].min(), a.max())


def test_finite_keeps_finite_values_and_counts_the_rest():
    x = np.array([1, np.nan, -np.inf, 2, np.inf, np.nan, np.nan], np.float32)
    values, nans, infs = streaming.finite(x)
    assert values.tolist() == [1, 2] and (nans, infs) == (3, 2)
    ints = np.array([3, -1], np.int64)
    assert streaming.finite(ints)[0] is ints and streaming.finite(ints)[1:] == (0, 0)
    clean = np.array([1.5, -2], np.float32)
    assert streaming.finite(clean)[0] is clean
    # known min and max that are finite: nothing to look for
    assert streaming.finite(x, lo=np.float32(0), hi=np.float32(1))[1:] == (0, 0)


def test_prepare_gives_numbers_numpy_can_order():
    assert streaming.prepare(np.array([True, False])).tolist() == [1, 0]
    assert streaming.prepare(np.array([True])).dtype == np.uint8
    c = np.array([3 + 4j, -1j], np.complex64)
    assert streaming.prepare(c).tolist() == [5.0, 1.0]
    for t in (np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn):
        x = np.array([1.5, -2.25], t)
        got = streaming.prepare(x)
        assert got.dtype == np.float32 and got.tolist() == [1.5, -2.25]
    i8 = np.array([-3, 4], np.int8)
    assert streaming.prepare(i8) is i8
    f = np.array([0.5], np.float32)
    assert streaming.prepare(f) is f


def test_progress_and_cancel():
    value = np.arange(100, dtype=np.float32)
    seen = []
    chunks, _ = chunked(value, 10)
    stats.compute(chunks, value.nbytes, progress=seen.append)
    # two reads of the whole: half-way after the first
    assert seen == sorted(seen) and seen[-1] == 1.0 and 0.5 in seen and len(seen) == 20
    seen.clear()
    chunks, _ = chunked(value, 1000)
    stats.compute(chunks, value.nbytes, progress=seen.append)
    assert seen == [1.0]
    with pytest.raises(stats.Cancelled):
        stats.compute(chunked(value, 10)[0], value.nbytes, cancelled=lambda: True)
    calls = iter(range(100))
    with pytest.raises(stats.Cancelled):   # during the histogram's pass
        stats.compute(chunked(value, 10)[0], value.nbytes, cancelled=lambda: next(calls) >= 12)
    assert stats.compute(chunked(value, 10)[0], value.nbytes, cancelled=lambda: False).size == 100


def test_pipeline_hands_results_in_order():
    from concurrent.futures import ThreadPoolExecutor
    ticks, out = [], []
    items = [np.arange(i + 1) for i in range(10)]
    with ThreadPoolExecutor(2) as pool:
        streaming.pipeline(pool, iter(items), lambda x: int(x.sum()), out.append, ticks.append)
    assert out == [int(x.sum()) for x in items]
    assert ticks == [x.nbytes for x in items]


def test_suggested_bins():
    assert [stats.suggested_bins(n) for n in (-1, 0, 1, 5, 10, 11, 99, 144, 145, 10 ** 4, 10 ** 6)] == \
        [1, 1, 1, 5, 10, 10, 10, 12, 13, 100, 100]


def test_json_form():
    value = np.array([0, 1, 2, np.nan], np.float32)
    result = stats.compute(chunked(value, 2)[0], value.nbytes, bins=2)
    doc = result.to_json()
    assert doc == {"size": 4, "min": 0.0, "max": 2.0, "mean": 1.0,
                   "std": pytest.approx(math.sqrt(2 / 3)), "norm": pytest.approx(math.sqrt(5)),
                   "zeros": 1, "nan": 1, "inf": 0, "of_magnitude": False,
                   "histogram": {"edges": [0.0, 1.0, 2.0], "counts": [1, 2]}}
