"""How a Keras file's weights are listed: the Keras 3 layer tree (nesting, order, the
model's own variables, depth bound), the layer classes a model config gives (wrapped and
deeply nested layers), dtypes and problems per weight, and which optimizer weights are
named and linked as slots. Files are written by hand with h5py, so every case is exact;
values read back are compared with what was written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import require

h5py = require("h5py")

from app.formats import dtypes  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.keras import KerasFile  # noqa: E402


def _vars(parent, key: str, arrays, name: str | None = None):
    """`parent/key/vars/<i>` with the given arrays, `name` as the vars group's attribute."""
    group = parent.require_group(key).create_group("vars")
    if name is not None:
        group.attrs["name"] = name
    for i, a in enumerate(arrays):
        group.create_dataset(str(i), data=a)
    return group


def _kd(seed: int = 0):
    """A Dense layer's kernel and bias, distinct values per seed."""
    rng = np.random.RandomState(seed)
    return [rng.rand(3, 2).astype(np.float32), rng.rand(2).astype(np.float32)]


def _open(path) -> KerasFile:
    return KerasFile(str(path))


def _layers(reader):
    return {layer.name: layer for layer in reader.layers}


def _by_display(reader):
    return {t.display_name: t for t in reader.tensors.values()}


# -- classes from the model config ---------------------------------------------------------

def _chain(key: str, depth: int, leaf: dict) -> dict:
    """`depth` wrapper nodes, each holding the next one under `key` ("layers": in a list),
    the leaf at `depth`."""
    node = leaf
    for d in reversed(range(depth)):
        inner = [node] if key == "layers" else node
        node = {"class_name": "Sequential" if key == "layers" else "TimeDistributed",
                "config": {"name": f"w{d}", key: inner}}
    return node


@pytest.mark.parametrize("key", ["layers", "layer"])
def test_config_layers_are_found_down_to_depth_64_and_no_deeper(tmp_path, key):
    leaf = {"class_name": "Dense", "config": {"name": "d64", "units": 2,
            "layers": [{"class_name": "Conv1D", "config": {"name": "d65"}}],
            "layer": {"class_name": "Conv1D", "config": {"name": "d65"}}}}
    path = tmp_path / "deep.weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(_chain(key, 64, leaf))
        _vars(f.create_group("layers"), "d64", _kd(1), "d64")
        _vars(f["layers"], "d65", _kd(2), "d65")
    reader = _open(path)
    try:
        layers = _layers(reader)
        assert layers["d64"].class_name == "Dense" and layers["d64"].config["units"] == 2
        assert layers["d65"].class_name is None and layers["d65"].config == {}
        shown = _by_display(reader)
        assert {"d64/kernel", "d64/bias", "d65/vars/0", "d65/vars/1"} <= set(shown)
        np.testing.assert_array_equal(reader.read(shown["d64/kernel"].name), _kd(1)[0])
        assert [layer.name for layer in reader.layers] == ["d64", "d65"]
    finally:
        reader.close()


def test_wrapped_layers_and_node_level_names_get_their_classes(tmp_path):
    config = {"class_name": "Functional", "config": {"name": "net", "layers": [
        {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {
            "class_name": "Dense", "config": {"name": "td_inner"}}}},
        {"class_name": "RNN", "config": {"name": "rnn", "cell": {
            "class_name": "SimpleRNNCell", "config": {"name": "rnn_cell"}}}},
        {"class_name": "Bidirectional", "config": {
            "name": "bi",
            "forward_layer": {"class_name": "Conv1D", "config": {"name": "fwd"}},
            "backward_layer": {"class_name": "Conv2D", "config": {"name": "bwd"}}}},
        # Keras 2 functional configs name a layer on the node too; here only there
        {"class_name": "Embedding", "name": "emb", "config": {"input_dim": 5}},
    ]}}
    rng = np.random.RandomState(3)
    cell = [rng.rand(2, 4).astype(np.float32), rng.rand(4, 4).astype(np.float32),
            rng.rand(4).astype(np.float32)]
    path = tmp_path / "wrapped.weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        top = f.create_group("layers")
        _vars(top, "dense", _kd(1), "td_inner")
        _vars(top, "simple_rnn_cell", cell, "rnn_cell")
        _vars(top, "conv1d", _kd(2), "fwd")
        _vars(top, "conv2d", _kd(3), "bwd")
        _vars(top, "embedding", [rng.rand(5, 2).astype(np.float32)], "emb")
    reader = _open(path)
    try:
        layers = _layers(reader)
        assert {n: layers[n].class_name for n in ("td_inner", "rnn_cell", "fwd", "bwd", "emb")} == {
            "td_inner": "Dense", "rnn_cell": "SimpleRNNCell", "fwd": "Conv1D", "bwd": "Conv2D",
            "emb": "Embedding"}
        shown = _by_display(reader)
        for name in ("td_inner/kernel", "td_inner/bias", "rnn_cell/kernel",
                     "rnn_cell/recurrent_kernel", "rnn_cell/bias", "fwd/kernel", "bwd/bias",
                     "emb/embeddings"):
            assert name in shown, name
        np.testing.assert_array_equal(reader.read(shown["rnn_cell/recurrent_kernel"].name), cell[1])
    finally:
        reader.close()


# -- dtypes and problems per weight ---------------------------------------------------------

def test_known_and_unknown_dtypes_carry_their_enum_and_size(tmp_path):
    path = tmp_path / "types.weights.h5"
    record = np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8")])
    with h5py.File(path, "w") as f:
        _vars(f.create_group("layers"), "odd", [np.arange(6, dtype=np.int16).reshape(2, 3), record],
              "odd")
    reader = _open(path)
    try:
        good, rec = reader.tensors["layers/odd/vars/0"], reader.tensors["layers/odd/vars/1"]
        assert good.dtype is dtypes.BY_NAME["int16"] and good.dtype_enum == good.dtype.enum != 0
        assert good.dtype_name == "int16" and good.shape == (2, 3) and good.nbytes == 12
        assert good.problem is None
        np.testing.assert_array_equal(reader.read(good.name), np.arange(6, dtype=np.int16).reshape(2, 3))
        assert rec.dtype is None and rec.dtype_enum == 0 and rec.nbytes == 0 and rec.shape == (4,)
        assert "not a tensor dtype" in rec.problem
    finally:
        reader.close()


def test_weight_whose_header_hdf5_refuses_is_listed_empty_with_the_reason(tmp_path):
    path = tmp_path / "broken.weights.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        group = _vars(f.create_group("layers"), "dense", _kd(4), "dense")
        header = h5py.h5o.get_info(group["1"].id).addr
    raw = bytearray(path.read_bytes())
    assert raw[header] == 1          # the object header's version
    raw[header] = 0x7F
    path.write_bytes(bytes(raw))
    reader = _open(path)
    try:
        bad = reader.tensors["layers/dense/vars/1"]
        assert bad.display_name == "dense/bias" and bad.problem.startswith("cannot be opened:")
        assert "header" in bad.problem
        assert bad.dtype is None and bad.dtype_enum == 0 and bad.shape == () and bad.nbytes == 0
        np.testing.assert_array_equal(reader.read("layers/dense/vars/0"), _kd(4)[0])
    finally:
        reader.close()


# -- the Keras 3 layer tree -----------------------------------------------------------------

def test_model_variables_at_the_root_are_the_models_named_by_its_vars_group(tmp_path):
    path = tmp_path / "root.weights.h5"
    values = [np.full((2, 2), 7, np.float32), np.arange(3, dtype=np.float32)]
    with h5py.File(path, "w") as f:     # no `layers` group: attributes hold the layers
        f.create_group("vars").attrs["name"] = "my_model"
        for i, a in enumerate(values):
            f["vars"].create_dataset(str(i), data=a)
        _vars(f, "Xproj", _kd(5), None)
    reader = _open(path)
    try:
        assert reader.layout == "keras3"
        assert [layer.name for layer in reader.layers] == ["Xproj", "my_model"]
        assert reader.layers[1].weights == ["vars/0", "vars/1"]
        assert reader.tensors["vars/0"].display_name == "my_model/vars/0"
        assert reader.tensors["Xproj/vars/0"].display_name == "Xproj/vars/0"
        np.testing.assert_array_equal(reader.read("vars/1"), values[1])
        np.testing.assert_array_equal(reader.read("Xproj/vars/1"), _kd(5)[1])
    finally:
        reader.close()


def test_unnamed_root_variables_belong_to_model_and_a_configured_root_gets_its_names(tmp_path):
    path = tmp_path / "anon.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        f["vars"].create_dataset("0", data=np.ones(2, np.float32))
        _vars(f.create_group("layers"), "dense", _kd(6), "dense")
    reader = _open(path)
    try:
        assert reader.tensors["vars/0"].display_name == "model/vars/0"
        assert [layer.name for layer in reader.layers] == ["dense", "model"]
    finally:
        reader.close()
    path = tmp_path / "named.weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Dense", "config": {"name": "head"}})
        f.create_group("vars").attrs["name"] = "head"
        for i, a in enumerate(_kd(7)):
            f["vars"].create_dataset(str(i), data=a)
    reader = _open(path)
    try:
        assert _by_display(reader)["head/bias"].name == "vars/1"
        assert reader.layers[0].class_name == "Dense"
        np.testing.assert_array_equal(reader.read("vars/1"), _kd(7)[1])
    finally:
        reader.close()


def test_layer_keys_ending_in_x_or_a_space_keep_their_path(tmp_path):
    path = tmp_path / "x.weights.h5"
    with h5py.File(path, "w") as f:
        _vars(f.create_group("layers"), "blockX", _kd(8), "blockX")
        _vars(f["layers"], "spaced ", _kd(9), "spaced ")
    reader = _open(path)
    try:
        assert list(reader.tensors) == ["layers/blockX/vars/0", "layers/blockX/vars/1",
                                        "layers/spaced /vars/0", "layers/spaced /vars/1"]
        np.testing.assert_array_equal(reader.read("layers/blockX/vars/0"), _kd(8)[0])
        np.testing.assert_array_equal(reader.read("layers/spaced /vars/1"), _kd(9)[1])
    finally:
        reader.close()


def test_variables_and_layers_in_natural_order(tmp_path):
    path = tmp_path / "many.weights.h5"
    values = [np.full(2, i, np.float32) for i in range(12)]
    with h5py.File(path, "w") as f:
        top = f.create_group("layers")
        _vars(top, "wide", values, "wide")
        _vars(top, "10", _kd(1), None)
        _vars(top, "2", _kd(2), None)
    reader = _open(path)
    try:
        assert [layer.name for layer in reader.layers] == ["2", "10", "wide"]
        wide = _layers(reader)["wide"]
        assert wide.weights == [f"layers/wide/vars/{i}" for i in range(12)]
        assert [reader.tensors[k].display_name for k in wide.weights] == \
            [f"wide/vars/{i}" for i in range(12)]
        for i, k in enumerate(wide.weights):
            assert reader.read(k)[0] == i
    finally:
        reader.close()


def test_a_top_level_cell_without_config_is_named_as_an_lstm_cell(tmp_path):
    path = tmp_path / "cell.weights.h5"
    rng = np.random.RandomState(9)
    cell = [rng.rand(2, 8).astype(np.float32), rng.rand(2, 8).astype(np.float32),
            rng.rand(8).astype(np.float32)]
    with h5py.File(path, "w") as f:
        _vars(f.create_group("layers"), "cell", cell, None)
    reader = _open(path)
    try:
        shown = _by_display(reader)
        assert set(shown) == {"cell/kernel", "cell/recurrent_kernel", "cell/bias"}
        np.testing.assert_array_equal(reader.read(shown["cell/recurrent_kernel"].name), cell[1])
    finally:
        reader.close()


def test_nested_layers_odd_members_and_config_order(tmp_path):
    config = {"class_name": "Functional", "config": {"name": "net", "layers": [
        {"class_name": "Dense", "config": {"name": "outer"}},
        {"class_name": "Dense", "config": {"name": "b"}}]}}
    path = tmp_path / "nested.weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        top = f.create_group("layers")
        top.create_dataset("a_note", data=np.zeros(1, np.float32))   # not a group: skipped
        _vars(top, "b", _kd(1), "b")
        _vars(top, "outer", _kd(2), "outer")
        _vars(top["outer"], "zeta", _kd(3), "zeta")                   # sorts after `vars`
        _vars(top["outer"]["vars"], "inside", _kd(4), "inside")       # inside vars: no layer
        top.create_group("odd").create_dataset("vars", data=np.zeros(2, np.float32))
        _vars(top, "stray", _kd(5), "stray")                          # not in the config
    reader = _open(path)
    try:
        names = [layer.name for layer in reader.layers]
        assert names == ["outer", "outer/zeta", "b", "stray"]
        assert _layers(reader)["outer/zeta"].weights == ["layers/outer/zeta/vars/0",
                                                         "layers/outer/zeta/vars/1"]
        assert list(reader.tensors) == [f"layers/{p}/vars/{i}" for p in
                                        ("outer", "outer/zeta", "b", "stray") for i in (0, 1)]
        assert reader.tensors["layers/outer/zeta/vars/0"].display_name == "outer/zeta/vars/0"
        np.testing.assert_array_equal(reader.read("layers/outer/zeta/vars/1"), _kd(3)[1])
    finally:
        reader.close()


def _nest(path, levels: int) -> None:
    with h5py.File(path, "w") as f:
        group = f.create_group("layers")
        for i in range(levels):
            group = group.create_group(f"g{i}")
        _vars(group, "leaf", _kd(1), "leaf")


def test_layers_nested_32_deep_are_listed_and_deeper_is_refused(tmp_path):
    ok = tmp_path / "ok.weights.h5"
    _nest(ok, 31)      # the 32nd group holds the layer
    reader = _open(ok)
    try:
        assert reader.layers[-1].name == "/".join([f"g{i}" for i in range(31)] + ["leaf"])
        assert len(reader.tensors) == 2
    finally:
        reader.close()
    deep = tmp_path / "deep.weights.h5"
    _nest(deep, 32)
    with pytest.raises(FormatError) as e:
        _open(deep)
    assert e.value.path == str(deep) and e.value.problem == "layers nested more than 32 deep"


# -- optimizer weights -----------------------------------------------------------------------

def _with_optimizer(path, oname: str | None, slots_per_weight: int) -> None:
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "Dense", "config": {"name": "d"}}]}}
    kernel, bias = _kd(1)
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        _vars(f.create_group("layers"), "dense", [kernel, bias], "d")
        arrays = [np.array(3, np.int64), np.array(0.01, np.float32)]
        for w in (kernel, bias):
            arrays += [w * (k + 2) for k in range(slots_per_weight)]
        _vars(f, "optimizer", arrays, oname)


@pytest.mark.parametrize("oname", ["adam", "AdamW", "nadam", "adamax", "lamb", "lion"])
def test_one_slot_per_weight_of_an_adam_like_optimizer_is_its_momentum(tmp_path, oname):
    path = tmp_path / f"{oname}.weights.h5"
    _with_optimizer(path, oname, 1)
    reader = _open(path)
    try:
        shown = _by_display(reader)
        slot = shown[f"optimizer/{oname}/d_kernel_momentum"]
        assert slot.slot_of == "layers/dense/vars/0" and slot.slot_name == "momentum"
        assert shown[f"optimizer/{oname}/d_bias_momentum"].slot_of == "layers/dense/vars/1"
        assert f"optimizer/{oname}/iteration" in shown
        np.testing.assert_array_equal(reader.read(slot.name), _kd(1)[0] * 2)
    finally:
        reader.close()


def test_unnamed_optimizer_and_other_optimizers_slots(tmp_path):
    path = tmp_path / "sgd.weights.h5"
    _with_optimizer(path, "sgd", 1)
    reader = _open(path)
    try:
        assert _by_display(reader)["optimizer/sgd/d_kernel_slot"].slot_name == "slot"
    finally:
        reader.close()
    path = tmp_path / "anon.weights.h5"
    _with_optimizer(path, None, 2)
    reader = _open(path)
    try:
        shown = _by_display(reader)
        assert shown["optimizer/optimizer/d_bias_velocity"].name == "optimizer/vars/5"
        assert shown["optimizer/optimizer/learning_rate"].name == "optimizer/vars/1"
    finally:
        reader.close()


def test_only_optimizer_weights_are_slots_and_only_of_model_weights(tmp_path):
    """Keras 2 layout: slots link by name to model weights, never to another optimizer
    weight, and a model weight whose path ends like another's is no slot."""
    path = tmp_path / "k2.h5"
    opt_names = ["Adam/iter:0", "Adam/optimizer/Adam/iter/m:0", "Adam/optimizer_Adam_iter_m:0",
                 "Adam/dense/kernel/m:0", "Adam/dense_kernel_v:0"]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense", b"block"])
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/kernel:0"])
        g.create_dataset("dense/kernel:0", data=_kd(1)[0])
        g = f.create_group("block")
        g.attrs["weight_names"] = np.array([b"block/sub/dense/kernel/m:0"])
        g.create_dataset("block/sub/dense/kernel/m:0", data=_kd(2)[0])
        g = f.create_group("optimizer_weights")
        g.attrs["weight_names"] = np.array([n.encode() for n in opt_names])
        for n in opt_names:
            g.create_dataset(n, data=np.zeros(2, np.float32))
    reader = _open(path)
    try:
        shown = _by_display(reader)
        assert shown["block/sub/dense/kernel/m"].slot_of is None
        assert shown["optimizer/Adam/optimizer/Adam/iter/m"].slot_of is None
        assert shown["optimizer/Adam/optimizer_Adam_iter_m"].slot_of is None
        assert shown["optimizer/Adam/iter"].slot_of is None
        m, v = shown["optimizer/Adam/dense/kernel/m"], shown["optimizer/Adam/dense_kernel_v"]
        assert (m.slot_of, m.slot_name) == ("dense/dense/kernel:0", "m")
        assert (v.slot_of, v.slot_name) == ("dense/dense/kernel:0", "v")
    finally:
        reader.close()
