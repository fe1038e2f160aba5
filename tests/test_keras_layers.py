"""The Keras layers of a SavedModel: from keras_metadata.pb (real tf.keras 2 SavedModels,
checked against what `tf.saved_model.load` restores), and from a Keras 3 `model.export()`
made in this session (checked against Keras' own layers and weights)."""

from __future__ import annotations

import numpy as np
import pytest

from app.analysis.loading import load
from app.formats import protos
from app.formats.graph import load_saved_model
from app.formats.keras_layers import METADATA_FILE, read_layers
from app.formats.model import open_checkpoint, open_path

KERAS_TF2 = "tfnet/test/TensorFlowNET.Keras.UnitTest/Assets"


def _layers_of(path):
    model = open_path(str(path))
    reader = open_checkpoint(model.selected)
    graph = load_saved_model(model.graph_path)[0]
    layers = read_layers(graph.meta_graph, model.folder,
                         {k: t.display_name for k, t in reader.tensors.items()})
    return layers, reader


@pytest.mark.parametrize("name,classes", [
    ("simple_model_from_auto_compile", ["Functional", "InputLayer", "Flatten", "Dense", "Dense", "Softmax"]),
    ("lstm_from_sequential", ["Sequential", "LSTM", "LSTMCell", "Dense"]),
])
def test_keras_metadata_layers_and_their_weights_as_tensorflow_restores_them(realdata, tf, tmp_path, name,
                                                                             classes):
    path = realdata / KERAS_TF2 / name
    if not (path / METADATA_FILE).exists():
        pytest.skip(f"{name} not in this copy of the real data")
    layers, reader = _layers_of(path)
    assert layers.source == METADATA_FILE
    assert [la.class_name for la in layers.layers] == classes
    assert layers.layers[0].is_model and layers.layers[0].depth == 0
    assert all(la.depth >= 1 for la in layers.layers[1:])
    from . import tf_fixtures as fx
    restored = fx.restored_variables(tmp_path / "restored", str(path)).by_path
    weights = 0
    for layer in layers.layers:
        if layer.path == "(root)":
            continue
        for w in layer.weights:
            shape, dtype, value = restored[f"{layer.path}/{w.name}"]   # TF's variable at that attr
            assert w.key is not None and w.key in reader.tensors
            assert w.shape == shape and w.dtype == dtype
            np.testing.assert_array_equal(reader.read(w.key), value)
            weights += 1
    assert weights >= 4
    dense = next(la for la in layers.layers if la.class_name == "Dense")
    assert dense.config["units"] == dense.weights[0].shape[1]    # the layer's config


def test_a_keras3_export_gives_layers_from_variable_paths(tmp_path, tf):
    from . import tf_fixtures as fx
    made = fx.keras3_export(tmp_path / "cnn", "cnn")
    export = made.dir
    assert not (export / METADATA_FILE).exists()     # Keras 3 writes no layer metadata
    layers, reader = _layers_of(export)
    assert layers.source == "variable names" and "Keras 3" in layers.note
    ours = {(la.path, w.name): w for la in layers.layers for w in la.weights}
    theirs = made.weights
    assert set(ours) == set(theirs)
    for k, (shape, trainable, value) in theirs.items():
        w = ours[k]
        assert w.shape == shape and w.trainable == trainable
        np.testing.assert_array_equal(reader.read(w.key), value)
    assert [(la.name, la.depth, la.is_model) for la in layers.layers] == [
        ("tiny_cnn", 0, True), ("conv_a", 1, False), ("bn", 1, False), ("logits", 1, False)]
    # in the model's order
    # the document carries them (for the Layers tab)
    assert load(str(export)).layers.layers[1].weights[0].key == ours[("tiny_cnn/conv_a", "kernel")].key


def test_a_corrupt_keras_metadata_falls_back_to_the_object_graph(realdata, tmp_path):
    src = realdata / KERAS_TF2 / "simple_model_from_auto_compile"
    if not src.exists():
        pytest.skip("simple_model_from_auto_compile not in this copy of the real data")
    import shutil
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    (dst / METADATA_FILE).write_bytes(b"\xff\xff\xff garbage")
    layers, reader = _layers_of(dst)
    assert layers.source == "object graph" and f"{METADATA_FILE} does not parse" in layers.note
    # the object graph still says which objects are layers and which variables are theirs;
    # their classes and configs were in the metadata alone
    assert [la.name for la in layers.layers] == ["model", "layer-0", "layer-1", "dense", "dense_1",
                                                 "layer-4"]     # named by their variables
    assert all(la.class_name == "" and la.config is None for la in layers.layers)
    assert [w.key for w in layers.layers[3].weights] == [
        "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE"]
    assert all(w.key in reader.tensors for la in layers.layers for w in la.weights)


def test_saved_metadata_schema_reads_every_node(realdata):
    path = realdata / KERAS_TF2 / "simple_model_from_auto_compile" / METADATA_FILE
    if not path.exists():
        pytest.skip("keras_metadata.pb not in this copy of the real data")
    meta = protos.SavedMetadata.FromString(path.read_bytes())
    assert meta.nodes[0].node_path == "root" and meta.nodes[0].identifier == "_tf_keras_network"
    assert all(n.metadata.startswith("{") for n in meta.nodes)


def test_no_layers_for_a_tf_module_savedmodel_nor_its_optimizer_state(realdata):
    """A tf.Module's `w` and `b` and the optimizer's `SGD/iter` are no Keras layers."""
    path = realdata / "tf-rust/examples/regression_savedmodel"
    if not path.exists():
        pytest.skip("regression_savedmodel not in this copy of the real data")
    layers, _reader = _layers_of(path)
    assert layers is None


def test_an_old_subclassed_keras_model_keeps_its_metadata_in_the_object_graph(realdata):
    path = realdata / "tf-java/tensorflow-core/tensorflow-core-api/src/test/resources/saved_model_using_python/model"
    if not path.exists():
        pytest.skip("saved_model_using_python not in this copy of the real data")
    layers, reader = _layers_of(path)
    assert layers.source == "object graph"
    (model,) = layers.layers
    assert (model.name, model.class_name, model.is_model) == ("my_model", "MyModel", True)
    assert model.weights and all(w.key in reader.tensors for w in model.weights)


def test_variables_a_keras3_export_tracks_by_list_index_get_their_own_names(tmp_path, tf):
    """Keras 3 reaches every variable through lists (`variables/0`): the Variables table, the
    tree and `dump` use the names TensorFlow gives them instead; values as TensorFlow loads."""
    from . import tf_fixtures as fx
    made = fx.keras3_export(tmp_path / "mlp", "mlp")
    export, theirs = made.dir, made.restored
    loaded = load(str(export))
    named = {t.display_name: t.name for t in loaded.tensors.values()}
    assert set(theirs) <= set(named)
    for name, value in theirs.items():
        np.testing.assert_array_equal(loaded.reader.read(named[name]), value)
    # each name once: the second copy Keras keeps (`_all_variables/N`) keeps its path
    assert len(named) == len(loaded.tensors)
    out = tmp_path / "bias.npy"
    from app.cli import main as cli
    assert cli(["dump", str(export), "mlp/out/bias", "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), theirs["mlp/out/bias"])


# -- object graphs made by hand: each rule of what is a layer, its name, order and weights ----

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _object_graph():
    """A Sequential as tf.keras 2 links it (children out of order, a layer reached twice,
    links to ids that do not exist), a nested model, weights of unknown size."""
    import json
    mg = protos.MetaGraphDef()
    nodes = mg.object_graph_def.nodes

    def user(identifier, meta, children=()):
        n = nodes.add()
        n.user_object.identifier = identifier
        n.user_object.metadata = meta if isinstance(meta, str) else json.dumps(meta)
        for local, node_id in children:
            n.children.add(local_name=local, node_id=node_id)

    def variable(name, dims, trainable=True, unknown_rank=False):
        n = nodes.add()
        n.variable.name, n.variable.dtype, n.variable.trainable = name, 1, trainable
        n.variable.shape.unknown_rank = unknown_rank
        for d in dims:
            n.variable.shape.dim.add(size=d)

    user("_tf_keras_sequential", {"class_name": "Sequential", "name": "seq"},               # 0
         [("layer_with_weights-0", 2), ("layer-10", 4), ("layer-2", 3), ("layer-0", 1),
          ("layer-1", 2), ("bad", 99), ("neg", -1), ("wrapper", 9)])
    user("_tf_keras_input_layer", {"class_name": "InputLayer", "name": "input_1",           # 1
                                   "config": {"batch_input_shape": [None, 4]}})
    user("_tf_keras_layer", {"class_name": "Dense", "name": "d1", "config": {"units": 3}},  # 2
         [("kernel", 6), ("bias", 7), ("kernel_again", 6), ("far", 50)])
    user("_tf_keras_layer", "not json", [("kernel", 10)])                                   # 3
    user("_tf_keras_model", {"class_name": "Functional", "name": "inner", "config": "x"},   # 4
         [("layer-0", 8)])
    user("_tf_keras_rnn_layer", {}, [("w", 12)])                                            # 5: unreached
    variable("seq/d1/kernel:0", [4, 3])                                                     # 6
    variable("seq/d1/bias:0", [3], trainable=False)                                         # 7
    user("_tf_keras_layer", "[1, 2]", [("v", 11)])                                          # 8
    user("trackable_list_wrapper", {}, [])                                                  # 9
    variable("seq/d2/kernel:0", [3, -1])                                                    # 10
    variable("v", [], unknown_rank=True)                                                    # 11
    variable("rnn/w:0", [2])                                                                # 12: unreached
    user("_tf_keras_layer", {"name": "only_weights"})                                       # 13
    user("_tf_keras_layer", {"name": "other_link"})                                         # 14
    nodes[0].children.add(local_name="zz_other", node_id=14)       # an other link listed first
    nodes[0].children.add(local_name="layer_with_weights-1", node_id=13)
    nodes[0].children.add(local_name="edge", node_id=len(nodes))   # one past the last id
    nodes[2].children.add(local_name="edge", node_id=len(nodes))
    return mg


def test_layers_of_an_object_graph_in_model_order_with_their_weights():
    display = {"layer_with_weights-0/kernel" + SUFFIX: "seq/d1/kernel", "other/bias": "seq/d1/bias:0",
               "wrong": "seq/d1/bias"}
    layers = read_layers(_object_graph(), None, display)
    assert layers.source == "object graph" and layers.note == ""
    got = [(la.name, la.class_name, la.path, la.depth, la.is_model, la.config) for la in layers.layers]
    assert got == [
        ("seq", "Sequential", "(root)", 0, True, None),
        ("input_1", "InputLayer", "layer-0", 1, False, {"batch_input_shape": [None, 4]}),
        ("d1", "Dense", "layer_with_weights-0", 1, False, {"units": 3}),
        ("d2", "", "layer-2", 1, False, None),               # named by its variable
        ("inner", "Functional", "layer-10", 1, True, None),  # a config that is no dict: none
        ("layer-0", "", "layer-10/layer-0", 2, False, None),  # named by its path
        ("only_weights", "", "layer_with_weights-1", 1, False, None),  # layer_with_weights-N next
        ("other_link", "", "zz_other", 1, False, None),      # other links last
        ("rnn", "", "node 5", 0, False, None),               # reached by no path: last
    ]
    (w,) = layers.layers[-1].weights
    assert (w.variable, w.key) == ("rnn/w:0", None)
    d1, d2, deep = layers.layers[2], layers.layers[3], layers.layers[5]
    assert [(w.name, w.variable, w.dtype, w.shape, w.trainable, w.key) for w in d1.weights] == [
        ("kernel", "seq/d1/kernel:0", "float32", (4, 3), True, "layer_with_weights-0/kernel" + SUFFIX),
        ("bias", "seq/d1/bias:0", "float32", (3,), False, "other/bias")]
    assert d1.params == 15 and layers.layers[0].params == 0
    (w,) = d2.weights
    assert w.shape == (3, 0) and w.size == 0 and w.key is None
    (v,) = deep.weights
    assert v.shape == () and v.size == 1 and v.key is None


def test_keras_metadata_beside_the_saved_model_wins(tmp_path):
    import json
    meta = protos.SavedMetadata()
    for node_id, ident, info in [(0, "_tf_keras_network", {"class_name": "Functional", "name": "net"}),
                                 (2, "_tf_keras_layer", {"class_name": "Dense", "name": "from_file"}),
                                 (99, "_tf_keras_layer", {"name": "nowhere"}),
                                 (-1, "_tf_keras_layer", {"name": "negative"}),
                                 (9, "trackable_list_wrapper", {}), (15, "_tf_keras_layer", {})]:
        meta.nodes.add(node_id=node_id, identifier=ident, metadata=json.dumps(info))
    (tmp_path / METADATA_FILE).write_bytes(meta.SerializeToString())
    layers = read_layers(_object_graph(), str(tmp_path), {})
    assert layers.source == METADATA_FILE and layers.note == ""
    assert [(la.name, la.depth, la.is_model) for la in layers.layers] == [("net", 0, True), ("from_file", 1, False)]
    # a folder without the file: the object graph's own metadata
    elsewhere = read_layers(_object_graph(), str(tmp_path / "elsewhere"), {})
    assert elsewhere.source == "object graph" and elsewhere.note == ""


def test_no_layers_without_an_object_graph_or_any_layer_in_it():
    assert read_layers(None, None, {}) is None
    mg = protos.MetaGraphDef()
    assert read_layers(mg, None, {}) is None
    mg.object_graph_def.SetInParent()
    assert read_layers(mg, None, {}) is None
    mg.object_graph_def.nodes.add().user_object.identifier = "trackable_dict_wrapper"
    assert read_layers(mg, None, {}) is None


def test_layers_from_variable_paths_nest_by_their_models():
    mg = protos.MetaGraphDef()
    nodes = mg.object_graph_def.nodes
    root = nodes.add()
    for i, name in enumerate(["m/inner/l/w:0", "m/l2/b", "m/inner/l/w", "SGD/iter", "w", "m/inner/l/u"]):
        root.children.add(local_name=f"variables/{i}", node_id=i + 1)
        n = nodes.add()
        n.variable.name, n.variable.dtype = name, 1
        n.variable.shape.dim.add(size=2)
    layers = read_layers(mg, None, {"variables/1" + SUFFIX: "m/l2/b", "k": "m/inner/l/u"})
    assert layers.source == "variable names"
    assert layers.note == ("this SavedModel keeps no Keras layer objects (a Keras 3 export): layers are "
                           "the variables' paths, their classes and configs unknown")
    assert all(la.class_name == "" and la.config is None for la in layers.layers)
    assert [(la.name, la.path, la.depth, la.is_model) for la in layers.layers] == [
        ("m", "m", 0, True), ("inner", "m/inner", 1, True), ("l", "m/inner/l", 2, False),
        ("l2", "m/l2", 1, False)]
    l_, l2 = layers.layers[2], layers.layers[3]
    assert [(w.name, w.key) for w in l_.weights] == [("w", None), ("u", "k")]     # each name once
    assert [(w.name, w.key) for w in l2.weights] == [("b", "variables/1" + SUFFIX)]
    assert l_.params == 4
