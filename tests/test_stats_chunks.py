"""Statistics of tensors bigger than one read chunk (reader.CHUNK_BYTES) and one float64
block (streaming.BLOCK): every number, not only the counts, matches numpy over the whole
tensor. Needs TensorFlow (the `tf` fixture) to write the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.analysis import stats, streaming
from app.formats.bundle import Bundle
from app.formats.reader import CHUNK_BYTES


def _expected(value: np.ndarray) -> dict:
    x = value.astype(np.float64).ravel()
    finite = x[np.isfinite(x)]
    return {"size": x.size, "min": finite.min(), "max": finite.max(), "mean": finite.mean(),
            "std": finite.std(), "norm": np.linalg.norm(finite),
            "nan": int(np.isnan(x).sum()), "inf": int(np.isinf(x).sum()),
            "zeros": int((finite == 0).sum())}


def _check(result: stats.Stats, value: np.ndarray) -> None:
    want = _expected(value)
    for k in ("size", "nan", "inf", "zeros"):
        assert getattr(result, k) == want[k], k
    for k in ("min", "max"):
        assert float(getattr(result, k)) == float(want[k]), k
    for k in ("mean", "std", "norm"):
        assert getattr(result, k) == pytest.approx(want[k], rel=1e-9), k


@pytest.fixture(scope="module")
def big(tf, tmp_path_factory):
    """A float32 tensor of about 1.5 read chunks with an offset mean (merging chunks with
    the wrong weights shows in mean and std), and a few NaN, Inf and zeros."""
    rng = np.random.default_rng(7)
    n = CHUNK_BYTES // 4 * 3 // 2 + 1234
    value = (rng.standard_normal(n) * 0.5 + 3.0).astype(np.float32)
    value[-5:] = [np.nan, np.inf, -np.inf, 0.0, 0.0]
    value[: n // 3] += 10  # the first chunk unlike the rest
    halves = rng.standard_normal(3 * streaming.BLOCK + 17).astype(np.float16) + 100
    prefix = tmp_path_factory.mktemp("big") / "ckpt"
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=["big", "halves"],
                      shape_and_slices=["", ""], tensors=[value, halves])
    return prefix, {"big": value, "halves": halves}


def test_a_tensor_of_several_chunks_has_the_statistics_of_the_whole(big):
    prefix, values = big
    reader = Bundle(str(prefix))
    assert reader.tensors["big"].nbytes > CHUNK_BYTES
    for key, value in values.items():
        assert value.size > streaming.BLOCK
        result = stats.compute(lambda: reader.chunks(key), reader.tensors[key].nbytes)
        _check(result, value)
        # many small chunks: the merge of parts, not one part's own sums
        result = stats.compute(lambda: reader.chunks(key, chunk_bytes=1 << 16),
                               reader.tensors[key].nbytes)
        _check(result, value)


def test_stats_command_on_a_tensor_of_several_chunks(big):
    from .test_cli import cli
    prefix, values = big
    out = json.loads(cli("stats", str(prefix) + ".index", "big", "--json", check=0).stdout)
    want = _expected(values["big"])
    assert out["size"] == want["size"] and out["nan"] == 1 and out["inf"] == 2
    for k in ("mean", "std", "norm"):
        assert out[k] == pytest.approx(want[k], rel=1e-9), k
