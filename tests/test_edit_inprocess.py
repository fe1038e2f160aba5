"""Averaging and rename maps called in this process (test_edit_ops.py drives them through
the command line, in a child process whose code a mutation run cannot see): the averaged
checkpoint against TensorFlow's reading of its inputs, the plan's JSON, the map file's forms."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import require

tf = require("tensorflow")

from app.analysis import edit  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.model import open_checkpoint, open_path  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .oracle import assert_same, tf_values  # noqa: E402


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    root = tmp_path_factory.mktemp("edit_src")
    return fx.cnn_epochs(root / "cnn", epochs=4, eval_dir=root / "cnn_eval")


@pytest.mark.parametrize("chunk_bytes", [edit.WRITE_CHUNK_BYTES, 64])
def test_average_in_process_is_the_float64_mean_tensorflow_reads(cnn, tmp_path, chunk_bytes):
    model = open_path(str(cnn.dir))
    readers = [open_checkpoint(c) for c in [c for c in model.checkpoints if c.on_disk][-3:]]
    try:
        plan = edit.plan_average(readers)
        dst = tmp_path / "avg"
        edit.write_plan(plan, str(dst), chunk_bytes=chunk_bytes)
    finally:
        for r in readers:
            r.close()
    inputs = [tf_values(tf, str(c.prefix)) for c in cnn.checkpoints[-3:]]
    ours = tf_values(tf, str(dst))
    assert set(ours) == set(inputs[-1])
    averaged = {r.key for r in plan.rows if r.actions == ["averaged"]}
    assert averaged == {k for k, v in ours.items() if v.dtype.kind == "f"} and averaged
    for key, value in ours.items():
        want = (sum(v[key].astype(np.float64) for v in inputs) / 3).astype(value.dtype) if key in averaged \
            else inputs[-1][key]
        assert_same(value, want, key)
    out = plan.to_json()
    assert out["counts"]["averaged"] == len(averaged)
    assert out["counts"]["kept"] == len(plan.rows) - len(averaged)
    assert out["counts"]["dropped"] == out["counts"]["renamed"] == 0
    assert [v["key"] for v in out["variables"]] == [r.key for r in plan.rows]
    step = next(v for v in out["variables"] if v["key"] == "global_step")
    assert step["actions"] == ["kept"] and step["reason"] == "not floating: from the newest"
    assert step["new_key"] == "global_step" and step["new_dtype"] == step["dtype"] == "int64"
    some = next(v for v in out["variables"] if v["key"] in averaged)
    assert some["reason"] == "mean of 3 checkpoints" and some["bytes_before"] == some["bytes_after"] > 0
    assert isinstance(some["shape"], list) and out["bytes_before"] > 0


def test_average_needs_two(cnn):
    model = open_path(str(cnn.dir))
    reader = open_checkpoint(model.checkpoints[-1])
    try:
        with pytest.raises(edit.PlanError, match="at least two"):
            edit.plan_average([reader])
    finally:
        reader.close()


def test_rename_map_forms(tmp_path):
    lines = tmp_path / "map.txt"
    lines.write_text("# old new\n\n  dense/kernel   head/kernel\nconv/bias\tc/bias\n   # indented comment\n")
    assert edit.read_rename_map(str(lines)) == {"dense/kernel": "head/kernel", "conv/bias": "c/bias"}
    js = tmp_path / "map.json"
    js.write_text('  {"a": "b", "c/d": "e"}')
    assert edit.read_rename_map(str(js)) == {"a": "b", "c/d": "e"}
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nonly_one\n")
    with pytest.raises(FormatError, match=r"line 2: expected `OLD_KEY NEW_KEY`, got 'only_one'"):
        edit.read_rename_map(str(bad))
    bad.write_text("a b c\n")
    with pytest.raises(FormatError, match="line 1"):
        edit.read_rename_map(str(bad))
    bad.write_text('{"a": ')
    with pytest.raises(FormatError, match="not valid JSON"):
        edit.read_rename_map(str(bad))
    bad.write_text('{"a": 1}')
    with pytest.raises(FormatError, match="must be strings"):
        edit.read_rename_map(str(bad))
