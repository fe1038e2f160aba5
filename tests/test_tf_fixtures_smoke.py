"""Keep tests/tf_fixtures.py honest: what each builder says it wrote is what TF reads back."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import require  # noqa: E402

tf = require("tensorflow")

try:  # run from the repository root (python -m pytest) or with tests/ on sys.path
    from tests import tf_fixtures as fx  # noqa: E402
except ImportError:  # pragma: no cover
    import tf_fixtures as fx  # noqa: E402


def same_array(actual, expected) -> None:
    """Exact equality: dtype, shape and bytes (so NaN payloads and -0.0 count)."""
    if isinstance(actual, bytes):
        # TF's reader hands back a scalar string as plain bytes, not a 0-d object array.
        actual = np.array(actual, dtype=object)
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.dtype == object:
        assert actual.tolist() == expected.tolist()
    else:
        assert actual.tobytes() == expected.tobytes(), (actual, expected)


def check_bundle(prefix, values, *, extra_keys=()) -> None:
    """The bundle at ``prefix`` holds exactly ``values`` (plus ``extra_keys``)."""
    listed = dict(tf.train.list_variables(str(prefix)))
    assert set(listed) == set(values) | set(extra_keys)
    reader = tf.train.load_checkpoint(str(prefix))
    for key, value in values.items():
        assert listed[key] == list(np.shape(value)), key
        same_array(reader.get_tensor(key), value)


def check_saver(ckpt) -> None:
    assert ckpt.index.is_file()
    assert ckpt.data_files
    if ckpt.meta is not None:
        assert ckpt.meta.is_file()
    check_bundle(ckpt.prefix, ckpt.values)


def check_object(ckpt) -> None:
    assert ckpt.index.is_file() and ckpt.data_files
    check_bundle(ckpt.prefix, ckpt.values, extra_keys=[fx.OBJECT_GRAPH_KEY])
    assert set(ckpt.full_names) == set(ckpt.values)


def run_meta(meta, prefix, fetches, feeds):
    """Import a MetaGraphDef, restore ``prefix`` and evaluate ``fetches`` (tensor names)."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        saver = tf.compat.v1.train.import_meta_graph(str(meta))
        saver.restore(sess, str(prefix))
        return sess.run(fetches, feeds)


# --------------------------------------------------------------------------- tests


def test_seed_w1w2(tmp_path):
    result = fx.seed_w1w2(tmp_path / "seed")
    ckpt = result.checkpoint
    assert ckpt.prefix.name == "my_test_model-1000"
    assert sorted(p.name for p in result.dir.iterdir()) == [
        "checkpoint", "my_test_model-1000.data-00000-of-00001",
        "my_test_model-1000.index", "my_test_model-1000.meta"]
    check_saver(ckpt)
    same_array(ckpt.values["bias"], np.float32(2.0))
    assert result.expected_output == 60.0
    state = tf.train.get_checkpoint_state(str(result.dir))
    assert state.model_checkpoint_path == str(ckpt.prefix)
    assert run_meta(ckpt.meta, ckpt.prefix, result.output, result.feeds) == 60.0


def test_cnn_epochs(tmp_path):
    result = fx.cnn_epochs(tmp_path / "run", epochs=4)
    assert result.eval_dir != result.dir
    names = {p.name for p in result.dir.iterdir()}
    assert not any(n.endswith(".npy") for n in names)
    assert [p.name for p in result.dir.glob("*.meta")] == ["epoch-0.meta"]
    assert [c.prefix.name for c in result.checkpoints] == [f"epoch-{n}" for n in range(4)]
    same_array(np.load(result.eval_dir / "eval_x.npy"), result.eval_x)
    same_array(np.load(result.eval_dir / "eval_y.npy"), result.eval_y)
    assert {"conv/kernel", "conv/bias", "dense/kernel", "dense/bias"} == set(result.trainable)
    for epoch, ckpt in zip(result.epochs, result.checkpoints):
        check_saver(ckpt)
        assert "conv/kernel/Adam" in ckpt.values and "beta1_power" in ckpt.values
        assert ckpt.values["global_step"] == (epoch + 1) * 4
        feeds = {result.inputs["x"]: result.eval_x, result.inputs["y"]: result.eval_y}
        acc, loss = run_meta(result.meta, ckpt.prefix,
                             [result.outputs["accuracy"], result.outputs["loss"]], feeds)
        assert float(acc) == result.accuracy[epoch]
        assert float(loss) == result.loss[epoch]
    assert all(isinstance(v, float) for v in result.accuracy + result.loss)
    assert result.loss[-1] < result.loss[0]
    state = tf.train.get_checkpoint_state(str(result.dir))
    assert state.model_checkpoint_path == str(result.checkpoints[-1].prefix)
    assert list(state.all_model_checkpoint_paths) == [str(result.checkpoints[-1].prefix)]


def test_v1_variants(tmp_path):
    result = fx.v1_variants(tmp_path / "v1")

    check_saver(result.sharded)
    assert result.sharded_num_shards == 2
    assert [p.name for p in result.sharded.data_files] == [
        "model.data-00000-of-00002", "model.data-00001-of-00002"]

    check_saver(result.custom_names)
    assert "my/custom_key" in result.custom_names.values
    assert result.custom_names_map["my/custom_key"] == "v"

    check_saver(result.partitioned)
    assert dict(tf.train.list_variables(str(result.partitioned.prefix))) == {
        "weights": [10, 4], "bias": [7], "scale": []}
    assert [shape for _, shape in result.partitions["weights"]] == [[4, 4], [3, 4], [3, 4]]
    assert [name for name, _ in result.partitions["bias"]] == [
        "bias/part_0", "bias/part_1", "bias/part_2"]

    check_saver(result.abs_paths)
    assert not result.abs_paths_original_dir.exists()
    state_text = (result.abs_paths.dir / "checkpoint").read_text()
    assert str(result.abs_paths_original_dir / "model-2") in state_text
    assert str(result.abs_paths.dir) not in state_text
    for prefix in result.abs_paths_prefixes:
        assert prefix.with_name(prefix.name + ".index").is_file()

    check_saver(result.resource)
    meta = tf.compat.v1.MetaGraphDef.FromString(result.resource.meta.read_bytes())
    ops = {n.op for n in meta.graph_def.node}
    assert "VarHandleOp" in ops and "VariableV2" not in ops


def test_all_dtypes(tmp_path):
    result = fx.all_dtypes(tmp_path / "dt")
    check_bundle(result.prefix, result.values)
    dtypes = tf.train.load_checkpoint(str(result.prefix)).get_variable_to_dtype_map()
    assert {k: v.name for k, v in dtypes.items()} == result.dtype_names
    expected_names = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                      "int64", "uint8", "uint16", "uint32", "uint64", "bool", "complex64",
                      "complex128", "string"}
    assert set(result.dtype_names.values()) == expected_names
    assert any(len(s) > 200 for s in result.values["string/vector"])
    assert result.values["shape/rank6"].ndim == 6
    assert np.signbit(result.values["float32/scalar"])

    check_bundle(result.exotic_prefix, result.exotic_values)
    dtypes = tf.train.load_checkpoint(str(result.exotic_prefix)).get_variable_to_dtype_map()
    assert {k: v.name for k, v in dtypes.items()} == result.exotic_dtype_names

    variant = tf.train.load_checkpoint(str(result.variant_prefix))
    assert variant.get_variable_to_dtype_map() == {result.variant_key: tf.variant}


def test_tf2_keras(tmp_path):
    result = fx.tf2_keras(tmp_path / "keras")
    assert [c.prefix.name for c in result.checkpoints] == ["ckpt-1", "ckpt-2", "ckpt-3"]
    for step, ckpt in enumerate(result.checkpoints, start=1):
        check_object(ckpt)
        same_array(ckpt.values["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"],
                   np.int64(2 * step))
        same_array(ckpt.values["save_counter/.ATTRIBUTES/VARIABLE_VALUE"], np.int64(step))
    assert 'model_checkpoint_path: "ckpt-3"' in result.state_file.read_text()

    # The findings documented in tf2_keras's docstring.
    graph = fx.read_object_graph(result.checkpoints[-1].prefix)
    assert not any(node.slot_variables for node in graph.nodes)
    assert result.weight_keys == {
        f"sequential/{layer}/{kind}": f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"
        for i, (layer, kind) in enumerate([("hidden", "kernel"), ("hidden", "bias"),
                                           ("out", "kernel"), ("out", "bias")])}
    assert result.optimizer_keys["adam/iteration"] == "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
    assert (result.optimizer_keys["adam/sequential_hidden_kernel_momentum"]
            == "optimizer/_variables/2/.ATTRIBUTES/VARIABLE_VALUE")
    assert (result.optimizer_keys["adam/sequential_out_bias_velocity"]
            == "optimizer/_variables/9/.ATTRIBUTES/VARIABLE_VALUE")
    assert ("model/optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
            in result.model_only.values)

    check_object(result.model_only)
    check_object(result.module)
    assert "net/inner/weights/.ATTRIBUTES/VARIABLE_VALUE" in result.module.values
    assert (result.module.dir / "checkpoint").is_file()

    check_object(result.sharded_policy)
    assert result.sharded_num_shards >= 3
    assert len(result.sharded_policy.data_files) == result.sharded_num_shards
    assert result.sliced_keys == ["big/.ATTRIBUTES/VARIABLE_VALUE"]


def test_saved_models(tmp_path):
    result = fx.saved_models(tmp_path / "sm")
    for info in (result.tf2, result.tf1):
        assert (info.dir / "saved_model.pb").is_file()
        check_bundle(info.variables_prefix, info.values,
                     extra_keys=[fx.OBJECT_GRAPH_KEY] if info is result.tf2 else [])
        loaded = tf.saved_model.load(str(info.dir), tags=info.tags)
        fn = loaded.signatures[info.signature]
        out = fn(**{info.input_name: tf.constant(info.sample_input)})
        same_array(out[info.output_name].numpy(), info.expected_output)
    assert set(result.tf1.values) == {"w", "b"}
    assert "w/.ATTRIBUTES/VARIABLE_VALUE" in result.tf2.values


def test_graphs(tmp_path):
    result = fx.graphs(tmp_path / "g")
    text_def = tf.compat.v1.GraphDef()
    from google.protobuf import text_format
    text_format.Parse(result.graph_pbtxt.read_text(), text_def)
    binary_def = tf.compat.v1.GraphDef.FromString(result.graph_pb.read_bytes())
    assert text_def == binary_def
    assert "VariableV2" in {n.op for n in binary_def.node}

    frozen = tf.compat.v1.GraphDef.FromString(result.frozen_pb.read_bytes())
    assert not {"VariableV2", "VarHandleOp"} & {n.op for n in frozen.node}
    consts = {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in frozen.node if n.op == "Const"}
    assert set(consts) == set(result.frozen_consts)
    for name, value in result.variables.items():
        same_array(consts[name], value)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            out = sess.run(result.output_name + ":0", {result.input_name + ":0": result.sample_input})
    same_array(out, result.expected_output)


def test_unsafe_graph(tmp_path):
    result = fx.unsafe_graph(tmp_path / "unsafe")
    check_saver(result.checkpoint)
    assert not result.target.exists()
    meta = tf.compat.v1.MetaGraphDef.FromString(result.checkpoint.meta.read_bytes())
    nodes = {n.name: n for n in meta.graph_def.node}
    assert nodes[result.write_op].op == "WriteFile"
    assert "^" + result.write_op in nodes[result.output.split(":")[0]].input
    # Running the output really does write the file (inside tmp_path, so harmless).
    run_meta(result.checkpoint.meta, result.checkpoint.prefix, result.output,
             {result.input_name: np.array([1.0, 2.0], np.float32)})
    assert result.target.read_bytes() == result.payload
