"""Freezing (app.runner.service.plan_freeze / freeze, app.runner.freeze, `main.py freeze`):
a checkpoint or SavedModel signature plus chosen outputs → one GraphDef with the variables
folded into constants. TensorFlow is the oracle: the frozen graph, imported and run by
TensorFlow on the same feeds, gives what the restored session (or the loaded SavedModel)
gives — seed 003's "freeze the graph to save the graph and weights together" check.

Most freezes go through an in-process Session (fast); the worker process, cancel and the
command line are exercised too."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, require

tf = require("tensorflow")

from app.formats.graph import VARIABLE_OPS, load_graph  # noqa: E402
from app.runner import service  # noqa: E402
from app.runner.session import RunError, Session  # noqa: E402
from app.runner.worker import RunnerClient  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402


def _resource_graph(dest: Path):
    """A TF1 graph with resource variables (VarHandleOp + ReadVariableOp), saved."""
    dest.mkdir(parents=True)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.compat.v1.get_variable("dense/w", initializer=np.arange(6, dtype=np.float32)
                                      .reshape(3, 2) / 7, use_resource=True)
        b = tf.compat.v1.get_variable("dense/b", initializer=np.array([0.5, -1.0], np.float32),
                                      use_resource=True)
        y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sample = np.array([[1, 2, 3], [-4, 5, 0.5]], np.float32)
            expected = sess.run(y, {x: sample})
            saver.save(sess, str(dest / "model"))
    return argparse.Namespace(dir=dest, sample=sample, expected=expected)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("freeze")
    return argparse.Namespace(
        seed=fx.seed_w1w2(root / "seed"),
        cnn=fx.cnn_epochs(root / "cnn", epochs=3, eval_dir=root / "cnn_eval"),
        saved=fx.saved_models(root / "saved"),
        graphs=fx.graphs(root / "graphs"),
        unsafe=fx.unsafe_graph(root / "unsafe"),
        resource=_resource_graph(root / "resource"),
    )


@pytest.fixture(scope="module")
def session():
    s = Session()
    yield s
    s.close()


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def freeze(session, path, outputs, dest, **kw):
    request = service.plan_freeze(str(path), outputs, str(dest), **kw)
    return service.freeze(request, session.freeze)


def frozen_graph_def(path):
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(Path(path).read_bytes())
    return gd


def run_frozen(path, fetches: list[str], feeds: dict):
    """TensorFlow's own import_graph_def + Session.run of a frozen graph."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen_graph_def(path), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run(fetches, feeds)


def run_restored(meta, prefix, fetches, feeds):
    """The session a script makes: import_meta_graph, restore, run."""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(str(meta), clear_devices=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, str(prefix))
            return sess.run(fetches, feeds)


def variable_ops(gd) -> list[str]:
    return [n.name for n in gd.node if n.op in VARIABLE_OPS | {"ReadVariableOp", "Assign",
                                                                "AssignVariableOp"}]


def leftovers(folder) -> list[str]:
    return sorted(os.listdir(folder))


# -- TF1: graph + checkpoint -----------------------------------------------------------

def test_seed_frozen_runs_as_the_restored_session(models, session, out):
    seed = models.seed
    dest = out / "seed.pb"
    result = freeze(session, seed.dir, ["op_to_restore"], dest)
    assert result.destination == str(dest) and dest.stat().st_size == result.size
    assert result.folded == 1 and result.step == 1000
    assert result.outputs == {"op_to_restore": "op_to_restore:0"}
    assert sorted(n for n, _d, _s in result.inputs) == ["w1:0", "w2:0"]
    gd = frozen_graph_def(dest)
    assert variable_ops(gd) == []
    (value,) = run_frozen(dest, ["op_to_restore:0"], {"w1:0": 13.0, "w2:0": 17.0})
    assert value == seed.expected_output == 60.0
    # the bias is a constant now, with the checkpoint's value
    bias = next(n for n in gd.node if n.name == "bias")
    assert bias.op == "Const" and tf.make_ndarray(bias.attr["value"].tensor) == 2.0
    assert leftovers(out) == ["seed.pb"]  # no temporary file beside it


def test_cnn_epoch_frozen_matches_restoring_that_epoch(models, session, out):
    cnn = models.cnn
    dest = out / "cnn.pb"
    result = freeze(session, cnn.dir, ["logits:0", "accuracy"], dest, checkpoint="1")
    assert result.step == 1 and result.folded == 4  # conv and dense kernels and biases
    feeds = {"x:0": cnn.eval_x, "y:0": cnn.eval_y}
    frozen = run_frozen(dest, ["logits:0", "accuracy:0"], feeds)
    restored = run_restored(cnn.meta, cnn.checkpoints[1].prefix, ["logits:0", "accuracy:0"], feeds)
    np.testing.assert_array_equal(frozen[0], restored[0])
    assert frozen[1] == restored[1] == pytest.approx(cnn.accuracy[1])
    # another epoch's values differ: the chosen checkpoint is the one frozen in
    other = out / "cnn0.pb"
    freeze(session, cnn.dir, ["logits"], other, checkpoint="0")
    (logits0,) = run_frozen(other, ["logits:0"], {"x:0": cnn.eval_x})
    assert not np.array_equal(logits0, frozen[0])


def test_pruning_keeps_exactly_what_the_outputs_need(models, session, out):
    cnn = models.cnn
    dest = out / "logits.pb"
    result = freeze(session, cnn.dir, ["logits"], dest)
    gd = frozen_graph_def(dest)
    names = {n.name for n in gd.node}
    # TensorFlow's own pruning of the source graph to the same output
    source = load_graph(str(cnn.meta)).graph_def
    source_gd = tf.compat.v1.GraphDef()
    source_gd.ParseFromString(source.SerializeToString())
    needed = {n.name for n in tf.compat.v1.graph_util.extract_sub_graph(source_gd, ["logits"]).node}
    assert names == needed  # the variables became constants under their own names
    assert [n for n, _d, _s in result.inputs] == ["x:0"]  # no label placeholder: not needed
    ops = {n.op for n in gd.node}
    assert not ops & {"ApplyAdam", "SaveV2", "RestoreV2", "SparseSoftmaxCrossEntropyWithLogits"}
    assert not any(n.startswith(("Adam", "gradients", "save")) for n in names)
    assert len(gd.node) < len(source.node) / 5


def test_resource_variables_are_folded_too(models, session, out):
    r = models.resource
    dest = out / "resource.pb"
    result = freeze(session, r.dir, ["y"], dest)
    gd = frozen_graph_def(dest)
    assert result.folded == 2 and variable_ops(gd) == []
    (value,) = run_frozen(dest, ["y:0"], {"x:0": r.sample})
    np.testing.assert_allclose(value, r.expected, rtol=1e-6)


def test_text_destination_writes_the_text_form(models, session, out):
    seed = models.seed
    dest = out / "seed.pbtxt"
    freeze(session, seed.dir, ["op_to_restore"], dest)
    assert dest.read_text().startswith("node {")
    graph = load_graph(str(dest))
    assert graph.variables() == [] and "op_to_restore" in graph.index


# -- SavedModels -----------------------------------------------------------------------

@pytest.mark.parametrize("which", ["tf2", "tf1"])
def test_saved_model_signature_frozen_gives_its_outputs(models, session, out, which):
    info = getattr(models.saved, which)
    dest = out / f"{which}.pb"
    result = freeze(session, info.dir, [], dest)  # every output of serving_default
    assert result.signature == "serving_default"
    assert result.outputs == {"y": "y:0"}  # named after the key, fetchable as such
    assert [n for n, _d, _s in result.inputs] == ["x:0"]
    gd = frozen_graph_def(dest)
    assert variable_ops(gd) == [] and not gd.library.function
    # the constants carry the variables' names (TF2: not the captures' "unknown_N")
    assert {"w", "b"} <= {n.name for n in gd.node if n.op == "Const"}
    assert result.folded == 2
    (value,) = run_frozen(dest, ["y:0"], {"x:0": info.sample_input})
    np.testing.assert_allclose(value, info.expected_output, rtol=1e-6)
    # the oracle: the SavedModel's own signature on the same input
    loaded = tf.saved_model.load(str(info.dir))
    theirs = loaded.signatures["serving_default"](x=tf.constant(info.sample_input))["y"]
    np.testing.assert_array_equal(value, theirs.numpy())


def test_tf2_outputs_by_op_name_prune_to_that_op(models, session, out):
    info = models.saved.tf2
    whole = out / "whole.pb"
    freeze(session, info.dir, ["y"], whole)
    matmul = next(n.name for n in frozen_graph_def(whole).node if n.op == "MatMul")
    dest = out / "matmul.pb"
    result = freeze(session, info.dir, [matmul], dest)
    gd = frozen_graph_def(dest)
    assert {n.op for n in gd.node} <= {"Placeholder", "Const", "Identity", "MatMul", "NoOp"}
    assert result.folded == 1  # w only: b is not on the way
    (value,) = run_frozen(dest, [result.outputs[matmul]], {"x:0": info.sample_input})
    w = info.values["w/.ATTRIBUTES/VARIABLE_VALUE"]
    np.testing.assert_allclose(value, info.sample_input @ w, rtol=1e-6)


# Real SavedModels with signatures: (path under realdata, signature).
REAL_SAVED_MODELS = [
    ("tf-serving/tensorflow_serving/servables/tensorflow/testdata/"
     "saved_model_half_plus_two_tf2_cpu/00000123", "serving_default"),
    ("tf-serving/tensorflow_serving/servables/tensorflow/testdata/"
     "saved_model_half_plus_two_cpu/00000123", "serving_default"),
    ("tf-java/tensorflow-core/tensorflow-core-api/src/test/resources/saved_model", "serving_default"),
    ("tf-onnx/tests/models/regression/saved_model", "serving_default"),
    ("mediapipe/mediapipe/calculators/tensorflow/testdata/tensorflow_saved_model/00000000",
     "serving_default"),
    ("mediapipe/mediapipe/model_maker/python/core/utils/testdata/saved_model_v2_mini",
     "serving_default"),
    ("tfnet/test/TensorFlowNET.Keras.UnitTest/Assets/simple_model_from_auto_compile",
     "serving_default"),
    ("tfnet/test/TensorFlowNET.Keras.UnitTest/Assets/lstm_from_sequential", "serving_default"),
    ("tf-java/tensorflow-core/tensorflow-core-api/src/test/resources/saved_model_using_python/model",
     "get_variable"),
]


def _sample(spec, rng) -> np.ndarray:
    dims = spec.shape.as_list() if spec.shape.rank is not None else [2]
    shape = [2 if d is None else d for d in dims]
    dtype = spec.dtype.as_numpy_dtype
    if spec.dtype.is_floating:
        return rng.standard_normal(shape).astype(dtype)
    if spec.dtype.is_integer:
        return rng.integers(0, 4, shape).astype(dtype)
    pytest.skip(f"no sample input for a {spec.dtype.name} input")


@pytest.mark.parametrize("rel,key", REAL_SAVED_MODELS, ids=[r.split("/")[-1] if not
                                                            r.split("/")[-1].isdigit() else
                                                            r.split("/")[-2]
                                                            for r, _k in REAL_SAVED_MODELS])
def test_real_saved_models_frozen_give_their_signature_outputs(realdata, session, out, rel, key):
    path = realdata / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this copy of the real data")
    dest = out / "frozen.pb"
    result = freeze(session, path, [], dest, signature=key)
    gd = frozen_graph_def(dest)
    assert variable_ops(gd) == []
    assert load_graph(str(dest)).variables() == []

    loaded = tf.saved_model.load(str(path))
    function = loaded.signatures[key]
    specs = function.structured_input_signature[1]
    rng = np.random.default_rng(3)
    feeds = {k: _sample(s, rng) for k, s in sorted(specs.items())}
    theirs = function(**{k: tf.constant(v) for k, v in feeds.items()})
    by_input = {}
    for name, _dtype, _shape in result.inputs:
        op = name.split(":")[0]
        match = [k for k in feeds if k == op or specs[k].name == op]
        assert len(match) == 1, (name, list(feeds))
        by_input[name] = feeds[match[0]]
    keys = sorted(result.outputs)
    ours = run_frozen(dest, [result.outputs[k] for k in keys], by_input)
    for k, value in zip(keys, ours):
        np.testing.assert_allclose(value, theirs[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


# Real TF1 checkpoints with their .meta: (path under realdata, output op, its prefix).
REAL_CHECKPOINTS = [
    ("tf-onnx/tests/models/regression/checkpoint", "Add", "model"),
]  # (tf-serving's half_plus_two export.meta says TensorFlow "0.12.head": TF 2 refuses it)


@pytest.mark.parametrize("rel,output,prefix", REAL_CHECKPOINTS,
                         ids=[r.split("/")[-2] for r, _o, _p in REAL_CHECKPOINTS])
def test_real_checkpoints_frozen_run_as_the_restored_session(realdata, session, out, rel,
                                                             output, prefix):
    path = realdata / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this copy of the real data")
    dest = out / "frozen.pb"
    result = freeze(session, path, [output], dest)
    assert result.folded == 2 and variable_ops(frozen_graph_def(dest)) == []
    rng = np.random.default_rng(5)
    feeds = {}
    for name, dtype, shape in result.inputs:
        dims = [2] if shape is None else [2 if d is None else d for d in shape]
        feeds[name] = rng.standard_normal(dims).astype(dtype)
    (ours,) = run_frozen(dest, [f"{output}:0"], feeds)
    (theirs,) = run_restored(path / f"{prefix}.meta", path / prefix, [f"{output}:0"], feeds)
    np.testing.assert_array_equal(ours, theirs)


# -- what is refused, and nothing left behind -----------------------------------------

def test_an_output_not_in_the_graph_is_named_with_similar_ones(models, out):
    with pytest.raises(RunError) as e:
        service.plan_freeze(str(models.cnn.dir), ["logit"], str(out / "x.pb"))
    assert e.value.kind == "fetch" and "'logit'" in str(e.value) and "logits" in str(e.value)
    with pytest.raises(RunError, match="no output|no op 'z'") as e:
        service.plan_freeze(str(models.saved.tf1.dir), ["z"], str(out / "x.pb"))
    assert leftovers(out) == []


def test_a_tf2_op_name_not_in_the_frozen_signature_leaves_nothing(models, session, out):
    with pytest.raises(RunError, match="no op 'nope' in the frozen signature serving_default"):
        freeze(session, models.saved.tf2.dir, ["nope"], out / "x.pb")
    assert leftovers(out) == []


def test_destination_the_source_or_inside_it_is_refused(models, session):
    seed = models.seed
    before = {p: p.read_bytes() for p in seed.dir.iterdir()}
    for dest, message in [(seed.checkpoint.meta, "a file of the model"),
                          (seed.dir / "frozen.pb", "inside the model's folder"),
                          (seed.dir, "is a folder"),
                          (seed.dir / "no" / "x.pb", "no such folder")]:
        with pytest.raises(RunError, match=message) as e:
            freeze(session, seed.dir, ["op_to_restore"], dest)
        assert e.value.kind == "write"
    sm = models.saved.tf2.dir
    with pytest.raises(RunError, match="inside the model's folder"):
        freeze(session, sm, [], sm / "variables" / "frozen.pb")
    assert {p: p.read_bytes() for p in seed.dir.iterdir()} == before


def test_graphs_without_variables_or_without_values_are_refused(models, out):
    g = models.graphs
    with pytest.raises(RunError, match="no variables.*frozen already") as e:
        service.plan_freeze(str(g.frozen_pb), ["output"], str(out / "x.pb"))
    assert e.value.kind == "graph"
    with pytest.raises(RunError, match="no checkpoint holds this graph's variables"):
        service.plan_freeze(str(g.graph_pb), ["output"], str(out / "x.pb"))


def test_unsafe_ops_are_refused_by_the_run_gate(models, session, out):
    u = models.unsafe
    with pytest.raises(RunError) as e:
        service.plan_freeze(str(u.dir), ["output"], str(out / "x.pb"))
    assert e.value.kind == "unsafe" and any("WriteFile" in line for line in e.value.ops)
    # the worker's own check, for a request made without the pure one
    request = service.plan_freeze(str(u.dir), ["output"], str(out / "x.pb"), allow_unsafe=True)
    request.run.allow_unsafe = False
    with pytest.raises(RunError) as e:
        service.freeze(request, session.freeze)
    assert e.value.kind == "unsafe"
    assert not u.target.exists() and leftovers(out) == []


def test_a_failing_freeze_leaves_the_old_destination_and_no_partial(models, session, out):
    dest = out / "keep.pb"
    dest.write_bytes(b"previous")
    request = service.plan_freeze(str(models.saved.tf2.dir), ["nope"], str(dest))
    with pytest.raises(RunError):
        service.freeze(request, session.freeze)
    assert dest.read_bytes() == b"previous" and leftovers(out) == ["keep.pb"]


def test_cancel_in_the_worker_leaves_nothing_behind(models, out):
    seed = models.seed
    dest = out / "seed.pb"
    request = service.plan_freeze(str(seed.dir), ["op_to_restore"], str(dest))
    stop = threading.Event()
    seen = []
    with RunnerClient() as client:
        def status(text):
            seen.append(text)
            if text.startswith(("folding", "writing")):  # cancel halfway
                stop.set()
                client.cancel()

        with pytest.raises(RunError) as e:
            service.freeze(request, lambda req: client.freeze(req, on_status=status),
                           should_stop=stop.is_set)
        assert e.value.kind == "cancelled"
        assert leftovers(out) == [] and any(t.startswith("folding") for t in seen)
        # the next freeze starts a new worker and works
        result = service.freeze(request, client.freeze)
    assert result.folded == 1 and leftovers(out) == ["seed.pb"]


def test_cancel_before_it_starts(models, session, out):
    request = service.plan_freeze(str(models.seed.dir), ["op_to_restore"], str(out / "s.pb"))
    with pytest.raises(RunError) as e:
        service.freeze(request, session.freeze, should_stop=lambda: True)
    assert e.value.kind == "cancelled" and leftovers(out) == []


# -- the command line ------------------------------------------------------------------

def cli_process(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def test_command_line_freeze_then_inspect(models, out):
    cnn = models.cnn
    dest = out / "cnn.pb"
    proc = cli_process("freeze", f"{cnn.dir}@2", "--output", "logits", "--output", "accuracy",
                       "-o", dest, "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    report = json.loads(proc.stdout)
    assert report["step"] == 2 and report["variables_folded"] == 4
    assert report["outputs"] == {"logits": "logits:0", "accuracy": "accuracy:0"}
    feeds = {"x:0": cnn.eval_x, "y:0": cnn.eval_y}
    (acc,) = run_frozen(dest, ["accuracy:0"], feeds)
    assert acc == pytest.approx(cnn.accuracy[2])
    shown = cli_process("inspect", dest, "--json")
    assert shown.returncode == 0, shown.stderr
    graph = json.loads(shown.stdout)["graph"]
    assert graph["variables"] == 0 and graph["format"] == "graphdef"
    assert graph["op_types"]["Const"] >= 4
    text = cli_process("inspect", dest).stdout
    assert "0 variables" in text


def test_command_line_errors(models, out):
    proc = cli_process("freeze", models.seed.dir, "--output", "nope", "-o", out / "x.pb")
    assert proc.returncode == 2 and "no op 'nope'" in proc.stderr
    proc = cli_process("freeze", models.unsafe.dir, "--output", "output", "-o", out / "x.pb")
    assert proc.returncode == 2 and "--allow-unsafe-ops" in proc.stderr
    assert "WriteFile" in proc.stderr
    assert leftovers(out) == [] and not models.unsafe.target.exists()


def test_command_line_without_tensorflow_says_to_install_the_extra(models, out, tmp_path):
    shadow = tmp_path / "shadow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named "
                                        "'tensorflow'\", name='tensorflow')\n")
    env = dict(os.environ, PYTHONPATH=str(shadow.parent))
    proc = cli_process("freeze", models.seed.dir, "--output", "op_to_restore",
                       "-o", out / "x.pb", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "TensorFlow is not installed" in proc.stderr and "`tf` extra" in proc.stderr
    assert "Traceback" not in proc.stderr and leftovers(out) == []


def test_renaming_nodes_follows_inputs_control_edges_and_colocation():
    from google.protobuf import text_format

    from app.runner.freeze import rename_nodes
    gd = text_format.Parse("""
        node { name: "unknown" op: "Const" }
        node { name: "w" op: "Const" }
        node { name: "read" op: "Identity" input: "unknown:0"
               attr { key: "_class" value { list { s: "loc:@unknown" } } } }
        node { name: "out" op: "AddV2" input: "read" input: "unknown" input: "^unknown" }
    """, tf.compat.v1.GraphDef())
    given = rename_nodes(gd, {"unknown": "w"})  # "w" is taken: a suffix
    assert given == {"unknown": "w_1"}
    nodes = {n.name: n for n in gd.node}
    assert set(nodes) == {"w_1", "w", "read", "out"}
    assert list(nodes["read"].input) == ["w_1:0"]
    assert list(nodes["out"].input) == ["read", "w_1", "^w_1"]
    assert list(nodes["read"].attr["_class"].list.s) == [b"loc:@w_1"]


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs filled but for 1 KiB (needs the right to mount: else skipped)."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        (mount / "filler").write_bytes(b"\0" * (free - 1024))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_is_said_and_leaves_nothing(models, session, full_disk):
    dest = full_disk / "cnn.pb"  # the frozen CNN is about 2.7 KB: it does not fit
    with pytest.raises(RunError) as e:
        freeze(session, models.cnn.dir, ["logits"], dest)
    assert e.value.kind == "write" and "cannot write" in str(e.value)
    assert "No space left" in str(e.value)
    assert leftovers(full_disk) == ["filler"]
