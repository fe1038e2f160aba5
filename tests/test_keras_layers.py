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
def test_keras_metadata_layers_and_their_weights_as_tensorflow_restores_them(realdata, tf, name, classes):
    path = realdata / KERAS_TF2 / name
    if not (path / METADATA_FILE).exists():
        pytest.skip(f"{name} not in this copy of the real data")
    layers, reader = _layers_of(path)
    assert layers.source == METADATA_FILE
    assert [la.class_name for la in layers.layers] == classes
    assert layers.layers[0].is_model and layers.layers[0].depth == 0
    assert all(la.depth >= 1 for la in layers.layers[1:])
    restored = tf.saved_model.load(str(path))
    weights = 0
    for layer in layers.layers:
        if layer.path == "(root)":
            continue
        obj = restored
        for part in layer.path.split("/"):
            obj = getattr(obj, part)
        for w in layer.weights:
            theirs = getattr(obj, w.name)       # the variable TF restores as the layer's attr
            assert w.key is not None and w.key in reader.tensors
            assert w.shape == tuple(theirs.shape) and w.dtype == theirs.dtype.name
            np.testing.assert_array_equal(reader.read(w.key), theirs.numpy())
            weights += 1
    assert weights >= 4
    dense = next(la for la in layers.layers if la.class_name == "Dense")
    assert dense.config["units"] == dense.weights[0].shape[1]    # the layer's config


def test_a_keras3_export_gives_layers_from_variable_paths(tmp_path, tf):
    import keras
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv_a"),
                              keras.layers.BatchNormalization(name="bn"),
                              keras.layers.Flatten(name="flat"), keras.layers.Dense(3, name="logits")],
                             name="tiny_cnn")
    model.compile("adam", "mse")
    model.fit(np.ones((4, 8, 8, 1), np.float32), np.ones((4, 3), np.float32), verbose=0)
    export = tmp_path / "export"
    model.export(str(export), verbose=False)
    assert not (export / METADATA_FILE).exists()     # Keras 3 writes no layer metadata
    layers, reader = _layers_of(export)
    assert layers.source == "variable names" and "Keras 3" in layers.note
    ours = {(la.path, w.name): w for la in layers.layers for w in la.weights}
    theirs = {tuple(v.path.rsplit("/", 1)): v for layer in model.layers for v in layer.weights}
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        w = ours[k]
        assert w.shape == tuple(v.shape) and w.trainable == v.trainable
        np.testing.assert_array_equal(reader.read(w.key), np.asarray(v.numpy()))
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
    import keras
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="hidden"),
                              keras.layers.Dense(2, name="out")], name="mlp")
    export = tmp_path / "export"
    model.export(str(export), verbose=False)
    restored = tf.saved_model.load(str(export))
    theirs = {v.name.split(":")[0]: v.numpy() for v in restored.variables}
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
