"""The model's parameters apart from the optimizer's state, checked against what
TensorFlow recorded: the graph's trainable variables, Keras' own weights."""

from __future__ import annotations

import pytest

from app.analysis.loading import load
from app.analysis.params import split_parameters
from app.formats.model import open_checkpoint, open_path

from . import tf_fixtures as fx
from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


def test_a_tf1_adam_run_counts_its_trainable_variables_as_the_model():
    loaded = load(str(SAMPLE))
    graph = loaded.graph
    keys = graph.checkpoint_keys()
    trainable = {keys.get(op, op) for op in graph.collections()["trainable_variables"]}
    split = split_parameters(loaded.tensors, graph)
    assert split.model == sum(loaded.tensors[k].size for k in trainable) == 170
    assert split.optimizer_keys == set(loaded.tensors) - trainable
    assert split.trainable == 170          # every model variable of this CNN trains
    # The tree counts the model only: its root is the model's size.
    assert loaded.tree.params == 170


def test_without_a_graph_the_names_tell_the_same():
    loaded = load(str(SAMPLE))
    with_graph = split_parameters(loaded.tensors, loaded.graph)
    assert split_parameters(loaded.tensors).optimizer_keys == with_graph.optimizer_keys


@pytest.fixture(scope="module")
def keras(tmp_path_factory, tf):
    return fx.tf2_keras(tmp_path_factory.mktemp("params_keras") / "keras")


def test_keras_3_adam_state_is_not_the_model(keras):
    reader = open_checkpoint(open_path(str(keras.dir)).selected)
    split = split_parameters(reader.tensors)
    assert split.model == sum(reader.tensors[k].size for k in keras.weight_keys.values()) == 37
    save_counter = {k for k, t in reader.tensors.items() if t.display_name == "save_counter"}
    assert split.optimizer_keys == set(keras.optimizer_keys.values()) | save_counter


def test_non_trainable_model_variables_are_the_models_but_not_trainable(tmp_path, tf):
    """Batch norm's moving statistics: part of the model, not trained (Keras' summary says
    'Non-trainable params')."""
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("dense/kernel", [4, 3], initializer=tf.compat.v1.ones_initializer())
        tf.compat.v1.get_variable("bn/moving_mean", [3], trainable=False,
                                  initializer=tf.compat.v1.zeros_initializer())
        loss = tf.reduce_sum(w)
        step = tf.compat.v1.train.get_or_create_global_step()
        train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(train)
            saver.save(sess, str(tmp_path / "model.ckpt"), global_step=1)
    loaded = load(str(tmp_path))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.model == 12 + 3 and split.trainable == 12
    assert split.optimizer == 2 * 12 + 2 + 1        # Adam's m and v, its beta powers, the step


def _keras_bn_checkpoint(tf, folder):
    """A Keras model with batch norm, trained one step: its optimizer knows what trains."""
    keras = tf.keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(tf.ones((8, 4)), tf.zeros((8, 2)), epochs=1, verbose=0)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(str(folder / "ckpt"))
    return (sum(int(tf.size(w)) for w in model.trainable_weights),
            sum(int(tf.size(w)) for w in model.non_trainable_weights))


def test_a_tf2_checkpoint_says_what_trains_through_its_optimizer(tmp_path, tf):
    """TF2 checkpoints keep no `trainable` flag: the optimizer's own list says, and batch
    norm's moving statistics are the model's but do not train (Keras' own counts)."""
    trainable, frozen = _keras_bn_checkpoint(tf, tmp_path)
    loaded = load(str(tmp_path))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.trainable == trainable == 3 * 4 + 3 + 2 * 3 + 3 * 2 + 2
    assert split.model - split.trainable == frozen == 2 * 3


def test_a_savedmodel_says_what_trains_through_its_object_graph(tmp_path, tf):
    module = tf.Module()
    module.w = tf.Variable(tf.ones([4, 3]), name="w")
    module.stats = tf.Variable(tf.zeros([3]), trainable=False, name="stats")
    module.scale = tf.Variable(2.0, name="scale")
    module.f = tf.function(lambda x: tf.matmul(x, module.w) * module.scale + module.stats,
                           input_signature=[tf.TensorSpec([None, 4])])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    loaded = load(str(tmp_path / "sm"))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.model == 12 + 3 + 1
    assert split.trainable == 12 + 1


def test_a_tf2_checkpoint_without_an_optimizer_does_not_guess(tmp_path, tf):
    module = tf.Module()
    module.w = tf.Variable(tf.ones([4, 3]))
    tf.train.Checkpoint(m=module).save(str(tmp_path / "ckpt"))
    loaded = load(str(tmp_path))
    assert split_parameters(loaded.tensors, loaded.graph).trainable is None
