"""What the window shows for one opened model (app.analysis.loading.load): the checkpoint
picked, its reader, the graph and its scope tree with the model's parameter counts, and
the problems of a partly readable model, checked against the training run's own values."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.analysis import loading
from app.formats.errors import FormatError

from . import tf_fixtures as fx


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fx.cnn_epochs(tmp_path_factory.mktemp("load") / "cnn", epochs=3)


class Job:
    def __init__(self, cancel_after=None):
        self.said = []
        self.cancel_after = cancel_after

    def progress(self, fraction, text):
        self.said.append((fraction, text))

    def cancelled(self):
        return self.cancel_after is not None and len(self.said) >= self.cancel_after


def test_a_run_opens_at_its_latest_checkpoint_with_graph_and_tree(run):
    job = Job()
    loaded = loading.load(str(run.dir), job=job)
    assert job.said == [(0.05, "finding the model"), (0.2, "parsing the graph"),
                        (0.6, "reading the checkpoint index"), (0.8, "building the scope tree")]
    assert loaded.checkpoint.prefix == str(run.checkpoints[-1].prefix)
    assert loaded.problems == [] and not loaded.graph_pending
    assert loaded.graph is not None and loaded.graphs and loaded.graph is loaded.graphs[0]
    assert loaded.tree_kind == "graph" and loaded.tree_names == [n.name for n in loaded.graph.nodes]
    values = run.checkpoints[-1].values
    assert set(loaded.tensors) == set(values)
    for key, value in values.items():
        assert loaded.tensors[key].size == value.size
    # the model's parameters are its trainable weights; Adam's slots and the step apart
    model = sum(values[k].size for k in run.trainable)
    assert loaded.params.model == model
    assert loaded.params.optimizer == sum(v.size for v in values.values()) - model
    assert loaded.tree.params == model
    kernel = loaded.tree.children["conv"].children["kernel"]
    assert kernel.params == values["conv/kernel"].size and loaded.op_of(kernel) == "conv/kernel"
    assert loaded.tensor_for_op("conv/kernel") == "conv/kernel"
    assert loaded.tensor_for_op("conv/kernel/Adam") == "conv/kernel/Adam"
    assert loaded.tensor_for_op("logits") is None and loaded.tensor_for_op("no/such") is None
    assert loaded.op_of(loaded.tree) is None


def test_an_earlier_checkpoint_and_a_cancelled_load(run):
    loaded = loading.load(str(run.dir), checkpoint="1")
    assert loaded.checkpoint.prefix == str(run.checkpoints[1].prefix)
    key = "dense/kernel"
    assert np.array_equal(loaded.reader.read(key), run.checkpoints[1].values[key])
    job = Job(cancel_after=2)
    early = loading.load(str(run.dir), job=job)
    assert len(job.said) == 2 and early.reader is None and early.graph is not None


def test_without_its_graph_the_tree_is_of_variable_names(run, tmp_path):
    for f in run.checkpoints[-1].prefix.parent.glob(run.checkpoints[-1].prefix.name + ".*"):
        shutil.copy(f, tmp_path / f.name)
    loaded = loading.load(str(tmp_path / run.checkpoints[-1].prefix.name))
    assert loaded.graph is None and loaded.tree_kind == "variables"
    assert sorted(loaded.tree_names) == sorted(run.checkpoints[-1].values)
    assert loaded.tensor_for_op("conv/kernel") is None and loaded.op_of(loaded.tree) is None
    model = sum(run.checkpoints[-1].values[k].size for k in run.trainable)
    assert loaded.params.model == model and loaded.tree.params == model


def test_a_checkpoint_missing_its_data_is_a_problem_not_a_failure(run, tmp_path):
    shutil.copytree(run.dir, tmp_path / "r")
    last = run.checkpoints[-1].prefix.name
    for f in (tmp_path / "r").glob(last + ".data-*"):
        f.unlink()
    loaded = loading.load(str(tmp_path / "r"))
    assert loaded.graph is not None
    assert any("data file missing or unreadable" in p for p in loaded.problems)
    (tmp_path / "r" / (last + ".index")).write_bytes(b"garbage" * 20)
    loaded = loading.load(str(tmp_path / "r"))
    assert loaded.graph is not None and loaded.reader is None and loaded.problems
    with pytest.raises(FormatError):
        loading.load(str(tmp_path / "nothing here"))


# -- each part of a load, where a slip would show a wrong graph, count or problem ---------------

def _copy_run(run, dest):
    shutil.copytree(run.dir, dest)
    return dest


def test_each_checkpoint_opens_with_its_own_graph_and_a_broken_graph_is_a_problem(run, tmp_path):
    r = _copy_run(run, tmp_path / "r")
    last = run.checkpoints[-1].prefix.name
    shutil.copy(r / "epoch-0.meta", r / (last + ".meta"))   # the latest writes its own graph
    assert loading.load(str(r), checkpoint="0").graph.source == str(r / "epoch-0.meta")
    assert loading.load(str(r)).graph.source == str(r / (last + ".meta"))
    # the latest's graph broken and its data gone: both said, in that order, the rest shown
    (r / (last + ".meta")).write_bytes(b"garbage" * 20)
    for f in r.glob(last + ".data-*"):
        f.unlink()
    loaded = loading.load(str(r))
    assert loaded.graph is None and loaded.tree_kind == "variables" and loaded.reader is not None
    assert len(loaded.problems) == 2
    assert str(r / (last + ".meta")) in loaded.problems[0]
    assert loaded.problems[1] == f"{r / (last + '.data-00000-of-00001')}: data file missing or unreadable"
    # the earlier checkpoint, with its own graph, is untouched by the latest's
    earlier = loading.load(str(r), checkpoint="0")
    assert earlier.problems == [] and earlier.graph.source == str(r / "epoch-0.meta")


def test_an_unreadable_index_beside_a_graph_names_the_index(run, tmp_path):
    r = _copy_run(run, tmp_path / "r")
    last = run.checkpoints[-1].prefix.name
    (r / (last + ".index")).write_bytes(b"garbage" * 20)
    loaded = loading.load(str(r))
    assert loaded.graph is not None and loaded.reader is None
    assert len(loaded.problems) == 1 and str(r / (last + ".index")) in loaded.problems[0]


def test_a_graph_read_later(run):
    job = Job()
    loaded = loading.load(str(run.dir), job=job, graph_later=True)
    assert job.said == [(0.05, "finding the model"), (0.6, "reading the checkpoint index")]
    assert loaded.graph_pending is True and loaded.graph is None and loaded.graphs == []
    assert loaded.checkpoint.prefix == str(run.checkpoints[-1].prefix)
    values = run.checkpoints[-1].values
    assert set(loaded.tensors) == set(values) and loaded.tree_kind == "variables"
    model = sum(values[k].size for k in run.trainable)
    assert loaded.tree.params == model
    done = loading.add_graph(loaded)
    assert done.graph_pending is False and done.graph is not None and done.tree_kind == "graph"
    assert done.tree.params == model and done.tensor_for_op("conv/kernel") == "conv/kernel"
    assert loaded.graph is None   # the first step's result is left as it was


def test_the_graph_says_which_weights_train(run):
    loaded = loading.load(str(run.dir))
    model = sum(run.checkpoints[-1].values[k].size for k in run.trainable)
    assert loaded.params.trainable == model


def test_sizes_come_from_the_checkpoint_where_it_has_the_tensor(run, tmp_path, tf):
    # the latest checkpoint holds one tensor, of another shape than the graph declares
    r = _copy_run(run, tmp_path / "r")
    last = run.checkpoints[-1].prefix.name
    for f in r.glob(last + ".*"):
        f.unlink()
    wider = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)
    tf.raw_ops.SaveV2(prefix=str(r / last), tensor_names=["dense/kernel"], shape_and_slices=[""],
                      tensors=[tf.constant(wider)])
    shutil.copy(r / "epoch-0.meta", r / (last + ".meta"))
    loaded = loading.load(str(r))
    dense = loaded.tree.children["dense"]
    kernel = dense.children["kernel"]
    # what the checkpoint holds, and Adam's two slots by the graph's shapes (this checkpoint
    # holds no optimizer state, so nothing says they are one)
    assert kernel.params == 64 * 3 + 2 * 64 * 2 and kernel.children["Adam"].params == 64 * 2
    assert dense.children["bias"].params == 3 * 2             # the graph's shapes: not saved
    assert loaded.tensor_for_op("dense/kernel") == "dense/kernel"
    assert loaded.tensor_for_op("conv/kernel") is None        # a variable the checkpoint lacks


def _save(tf, prefix, names, values):
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(v) for v in values])
    return str(prefix)


def test_tensors_past_a_truncated_data_file_and_a_stray_data_file(tmp_path, tf):
    prefix = _save(tf, tmp_path / "ck", ["a", "b", "c"], [np.ones(4, np.float32)] * 3)
    data = tmp_path / "ck.data-00000-of-00001"
    assert data.stat().st_size == 48
    with open(data, "r+b") as f:
        f.truncate(16)
    (tmp_path / "stray.data-00000-of-00001").write_bytes(b"x")
    loaded = loading.load(prefix)
    assert loaded.problems == [
        "stray.data-00000-of-00001: data file without its .index; cannot be read",
        "2 tensor(s) cannot be read, e.g. b: bytes 16..32 lie past the end of "
        "ck.data-00000-of-00001 (16 bytes; truncated?)"]
    np.testing.assert_array_equal(loaded.reader.read("a"), np.ones(4, np.float32))


def test_an_object_graph_that_does_not_parse(tmp_path, tf):
    prefix = _save(tf, tmp_path / "ck", ["_CHECKPOINTABLE_OBJECT_GRAPH", "v"],
                   [np.array(b"\x0a\xff\xff not a proto", dtype=object), np.ones(3, np.float32)])
    loaded = loading.load(prefix)
    assert len(loaded.problems) == 1
    assert loaded.problems[0].startswith("the object graph cannot be read (")
    assert loaded.problems[0].endswith("); showing raw keys")


def test_a_frozen_graph_reads_its_constants(tmp_path_factory, run, tmp_path):
    made = fx.graphs(tmp_path_factory.mktemp("graphs") / "g")
    loaded = loading.load(str(made.frozen_pb))
    assert loaded.checkpoint is None and loaded.graph is not None
    assert set(made.variables) <= set(loaded.tensors) < set(made.frozen_consts)
    for name in loaded.tensors:
        np.testing.assert_array_equal(loaded.reader.read(name), made.frozen_consts[name])
        assert loaded.tensor_for_op(name) == name
    left_out = sorted(set(made.frozen_consts) - set(loaded.tensors))
    assert loaded.tensor_for_op(left_out[0]) is None
    assert loaded.tensor_for_op(made.output_name) is None and loaded.tensor_for_op("no/such") is None
    assert loaded.tree.params == sum(made.frozen_consts[n].size for n in loaded.tensors) > 0
    # a MetaGraphDef with no checkpoint: no weights to show
    shutil.copy(run.meta, tmp_path / "alone.meta")
    plain = loading.load(str(tmp_path / "alone.meta"))
    assert plain.graph.format == "metagraph" and plain.reader is None and plain.tensors == {}


def test_event_files_are_found_beside_a_run_only(run, tmp_path):
    r = _copy_run(run, tmp_path / "r")
    events = r / "events.out.tfevents.1.host"
    events.write_bytes(b"")
    assert loading.load(str(r)).event_files == {".": [str(events)]}
    assert loading.load(str(run.dir)).event_files == {}


@pytest.fixture(scope="module")
def keras3(tmp_path_factory):
    return fx.keras3_export(tmp_path_factory.mktemp("k3") / "mlp", "mlp")


def test_a_keras3_export_names_its_variables_and_lists_its_layers(keras3, tmp_path):
    made = keras3
    loaded = loading.load(str(made.dir))
    names = {t.display_name for t in loaded.tensors.values()}
    assert set(made.restored) <= names
    assert loaded.layers is not None
    assert [layer.name for layer in loaded.layers.layers if not layer.is_model] == ["hidden", "out"]
    # a row inside one of its functions is that function's op
    rows = [loaded.tree]
    inner = None
    while rows and inner is None:
        row = rows.pop()
        if row.function is not None and row.op is not None:
            inner = row
        rows.extend(row.expand().values())
    assert inner is not None and loaded.op_of(inner).startswith(inner.function + "@")
    # event files are looked for beside runs, not SavedModels
    shutil.copytree(made.dir, tmp_path / "export")
    (tmp_path / "export" / "events.out.tfevents.1.host").write_bytes(b"")
    assert loading.load(str(tmp_path / "export")).event_files == {}


def test_a_savedmodel_with_a_broken_graph_or_no_variables(keras3, tmp_path, realdata):
    broken = tmp_path / "export"
    shutil.copytree(keras3.dir, broken)
    (broken / "saved_model.pb").write_bytes(b"garbage" * 20)
    loaded = loading.load(str(broken))
    assert loaded.graph is None and loaded.reader is not None and loaded.layers is None
    assert len(loaded.problems) == 1 and "saved_model.pb" in loaded.problems[0]
    bare = realdata / "tf-serving/tensorflow_serving/batching/testdata/matrix_half_plus_two/1"
    loaded = loading.load(str(bare))
    assert loaded.graph is not None and loaded.reader is None and loaded.tensors == {}


def test_a_keras2_savedmodel_takes_its_layers_from_its_metadata(realdata):
    folder = realdata / "tfnet/test/TensorFlowNET.Keras.UnitTest/Assets/simple_model_from_auto_compile"
    loaded = loading.load(str(folder))
    assert loaded.layers is not None and loaded.layers.source == "keras_metadata.pb"
    assert loaded.layers.layers


def test_a_partitioned_estimator_counts_each_weight_once(realdata, tf):
    # an Estimator: global_step made first, weights partitioned (`…/part_0` variables, each
    # read through an Identity op named as the whole weight's key), Adagrad and Ftrl slots
    # linked to the partitions
    folder = realdata / "tfx-2019/tfx/components/testdata/trainer/current/serving_model_dir"
    loaded = loading.load(str(folder))
    assert loaded.problems == [] and loaded.graph is not None
    shapes = tf.train.load_checkpoint(str(folder / "model.ckpt-10000")).get_variable_to_shape_map()
    model = sum(int(np.prod(s)) for k, s in shapes.items()
                if k != "global_step" and not k.endswith(("/Adagrad", "/Ftrl", "/Ftrl_1")))
    assert loaded.params.model == model
    assert loaded.tree.params == model
    hidden = loaded.tree.children["dnn"].children["hiddenlayer_0"]
    assert hidden.params == loaded.tensors["dnn/hiddenlayer_0/kernel"].size + \
        loaded.tensors["dnn/hiddenlayer_0/bias"].size


def test_a_graph_is_left_for_later_only_when_the_checkpoint_asked_for_has_one(run, tmp_path):
    # the latest checkpoint (epoch-N) has no graph; first-0, another run's, has its own
    r = _copy_run(run, tmp_path / "r")
    for f in r.glob("epoch-0.*"):
        shutil.copy(f, r / f.name.replace("epoch-0", "first-0"))
    (r / "epoch-0.meta").rename(r / "unrelated.meta")
    later = loading.load(str(r), checkpoint="first-0", graph_later=True)
    assert later.checkpoint.prefix == str(r / "first-0") and later.graph_pending is True
    assert later.graph is None
    assert loading.add_graph(later).graph.source == str(r / "first-0.meta")
    latest = loading.load(str(r), graph_later=True)
    assert latest.graph_pending is False and latest.graph is None
