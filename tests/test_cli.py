"""The command line, as users and scripts call it: exact output forms and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

from .conftest import ROOT

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from . import tf_fixtures as fx  # noqa: E402
from .oracle import tf_values  # noqa: E402


def cli(*args, check=None):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fx.cnn_epochs(tmp_path_factory.mktemp("cli") / "cnn", epochs=3)


@pytest.fixture(scope="module")
def dtypes(tmp_path_factory):
    return fx.all_dtypes(tmp_path_factory.mktemp("cli_dtypes"))


def test_inspect_json_of_a_run(run):
    out = json.loads(cli("inspect", run.dir, "--json", check=0).stdout)
    cks = out["checkpoints"]
    assert [c["step"] for c in cks] == [0, 1, 2]
    assert [c["latest"] for c in cks] == [False, False, True]
    assert all(c["meta"] == str(run.meta) for c in cks)
    assert all(c["prefix"] == str(ck.prefix) for c, ck in zip(cks, run.checkpoints))
    assert all(c["data_files"] == [str(p) for p in ck.data_files] for c, ck in zip(cks, run.checkpoints))
    variables = {v["name"]: v for v in out["variables"]}
    assert set(variables) == set(run.checkpoints[-1].values)
    for name, value in run.checkpoints[-1].values.items():
        assert variables[name]["shape"] == list(value.shape)
        assert variables[name]["dtype"] == str(tf.dtypes.as_dtype(value.dtype).name)
    assert out["graph"]["nodes"] > 50 and out["graph"]["format"] == "metagraph"


def test_inspect_selects_a_checkpoint_by_step_or_prefix(run):
    by_step = json.loads(cli("inspect", run.dir, "--checkpoint", "1", "--json", check=0).stdout)
    by_prefix = json.loads(cli("inspect", run.dir, "--checkpoint", run.checkpoints[1].prefix,
                               "--json", check=0).stdout)
    assert by_step["selected"] == by_prefix["selected"] == str(run.checkpoints[1].prefix)
    bad = cli("inspect", run.dir, "--checkpoint", "99")
    assert bad.returncode == 2 and "99" in bad.stderr


def test_inspect_human_readable(run):
    out = cli("inspect", run.dir, check=0).stdout
    assert "3 checkpoint(s)" in out and "epoch-2" in out and "epoch-0.meta" in out


def test_inspect_graph_file_alone(tmp_path, run):
    meta = tmp_path / "alone.meta"
    meta.write_bytes(run.meta.read_bytes())
    out = json.loads(cli("inspect", meta, "--json", check=0).stdout)
    assert out["checkpoints"] == [] and out["variables"] == []
    assert out["graph"]["nodes"] > 50


def test_dump_one_tensor_and_all(tmp_path, dtypes):
    theirs = tf_values(tf, str(dtypes.prefix))
    from app.cli import main as cli_main  # in-process: one subprocess per tensor is slow
    for key, value in theirs.items():
        safe = tmp_path / f"t{abs(hash(key))}"
        assert cli_main(["dump", str(dtypes.prefix), key, "-o", str(safe)]) == 0
        got = np.load(str(safe) + ".npy", allow_pickle=True)
        if value.dtype == ml_dtypes.bfloat16:
            got = got.view(ml_dtypes.bfloat16)
        if value.dtype == object:
            assert got.dtype == object and got.tolist() == value.tolist(), key
        else:
            assert got.tobytes() == value.tobytes() and got.shape == value.shape, key
    cli("dump", dtypes.prefix, "-o", tmp_path / "all", check=0)
    with np.load(tmp_path / "all.npz", allow_pickle=True) as npz:
        assert set(npz.files) == set(theirs)


def test_stats_match_numpy(run):
    key = max(run.checkpoints[-1].values, key=lambda k: run.checkpoints[-1].values[k].size)
    value = run.checkpoints[-1].values[key]
    out = json.loads(cli("stats", run.dir, key, "--bins", "37", "--json", check=0).stdout)
    finite = value[np.isfinite(value)]
    counts, edges = np.histogram(finite, bins=37)
    assert out["size"] == value.size
    assert out["min"] == float(finite.min()) and out["max"] == float(finite.max())
    assert out["mean"] == pytest.approx(float(finite.astype(np.float64).mean()), rel=1e-9)
    assert out["std"] == pytest.approx(float(finite.astype(np.float64).std()), rel=1e-9)
    assert out["norm"] == pytest.approx(float(np.linalg.norm(finite.astype(np.float64))), rel=1e-9)
    assert out["zeros"] == int((value == 0).sum())
    assert out["histogram"]["counts"] == counts.tolist()
    assert out["histogram"]["edges"] == edges.tolist()


def test_stats_count_nan_and_inf(dtypes):
    key = next(k for k, v in dtypes.values.items()
               if v.dtype == np.float32 and np.isnan(v).any() and np.isinf(v).any())
    value = dtypes.values[key]
    out = json.loads(cli("stats", dtypes.prefix, key, "--json", check=0).stdout)
    assert out["nan"] == int(np.isnan(value).sum()) and out["inf"] == int(np.isinf(value).sum())


def test_unknown_tensor_names_close_matches(run):
    proc = cli("stats", run.dir, "conv", "--json")
    assert proc.returncode == 2 and "no tensor 'conv'" in proc.stderr


def test_verify_names_the_corrupt_tensor_and_dump_refuses_it(tmp_path, dtypes):
    for f in os.listdir(dtypes.dir):
        if f.startswith("dtypes."):
            (tmp_path / f).write_bytes((dtypes.dir / f).read_bytes())
    assert cli("verify", tmp_path / "dtypes.index").returncode == 0
    from app.formats.bundle import Bundle
    bundle = Bundle(str(tmp_path / "dtypes"))
    key = max(bundle.tensors.values(), key=lambda t: t.nbytes if not t.dtype.is_string else 0).name
    entry = bundle._raw[key.encode()]
    data = tmp_path / "dtypes.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset] ^= 0xFF
    data.write_bytes(bytes(raw))
    proc = cli("verify", tmp_path / "dtypes.index")
    assert proc.returncode == 1
    corrupt = [line for line in proc.stdout.splitlines() if line.startswith("CORRUPT")]
    assert len(corrupt) == 1 and key in corrupt[0]
    out = tmp_path / "out"
    proc = cli("dump", tmp_path / "dtypes.index", key, "-o", out)
    assert proc.returncode == 2 and "crc32c" in proc.stderr
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


def _damaged_copy(tmp_path, dtypes, pick):
    """A copy of the dtypes bundle with one byte of the tensor `pick(info)` chooses flipped;
    the string tensor's last byte is content, not a length."""
    for f in os.listdir(dtypes.dir):
        if f.startswith("dtypes."):
            (tmp_path / f).write_bytes((dtypes.dir / f).read_bytes())
    from app.formats.bundle import Bundle
    bundle = Bundle(str(tmp_path / "dtypes"))
    info = max((t for t in bundle.tensors.values() if pick(t)), key=lambda t: t.nbytes)
    entry = bundle._raw[info.name.encode()]
    bundle.close()
    data = tmp_path / "dtypes.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + entry.size - 1] ^= 0x5A
    data.write_bytes(bytes(raw))
    return info.name


@pytest.mark.parametrize("kind", ["string", "bfloat16"])
def test_a_damaged_string_or_bfloat16_tensor_is_refused_everywhere(tmp_path, dtypes, kind):
    pick = (lambda t: t.dtype.is_string) if kind == "string" else (
        lambda t: t.dtype.name == "bfloat16")
    key = _damaged_copy(tmp_path, dtypes, pick)
    index = tmp_path / "dtypes.index"
    proc = cli("verify", index)
    assert proc.returncode == 1, proc.stdout
    corrupt = [line for line in proc.stdout.splitlines() if line.startswith("CORRUPT")]
    assert len(corrupt) == 1 and key in corrupt[0], proc.stdout
    out = tmp_path / "out"
    proc = cli("dump", index, key, "-o", out)
    assert proc.returncode == 2 and "crc32c" in proc.stderr, proc.stderr
    proc = cli("dump", index, "-o", out)
    assert proc.returncode == 2 and "crc32c" in proc.stderr, proc.stderr
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())
    if kind != "string":
        proc = cli("stats", index, key, "--json")
        assert proc.returncode == 2 and "crc32c" in proc.stderr and not proc.stdout, proc.stderr


def test_dump_of_a_key_that_is_not_utf8(tmp_path):
    # TensorFlow writes any bytes as a key (its own Python reader cannot list this one).
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "ck"), tensor_names=tf.constant([b"w\xff", b"ok"]),
                      shape_and_slices=["", ""], tensors=[tf.constant([1.0, 2.0]), tf.constant([3])])
    index = tmp_path / "ck.index"
    assert cli("verify", index, check=0).stdout.strip().endswith("are intact")
    cli("dump", index, "-o", tmp_path / "all", check=0)
    with np.load(tmp_path / "all.npz") as npz:
        assert sorted(npz.files) == ["ok", "w\\xff"]
        assert npz["w\\xff"].tolist() == [1.0, 2.0] and npz["ok"].tolist() == [3]
    from app.cli import main as cli_main  # argv carries the raw byte as Python decodes it
    assert cli_main(["dump", str(index), "w\udcff", "-o", str(tmp_path / "one")]) == 0
    assert np.load(tmp_path / "one.npy").tolist() == [1.0, 2.0]
    assert cli_main(["stats", str(index), "w\udcff", "--json"]) == 0
