"""Every edit operation on checkpoints TensorFlow wrote: TensorFlow reads the result as the
operation promises, byte for byte, and restores it into the matching model, which then
computes what the original computes (within the cast's precision for casts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT, require

tf = require("tensorflow")

from app.analysis import edit  # noqa: E402
from app.formats.bundle import Bundle  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.model import load_graphs, open_checkpoint, open_path  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .oracle import assert_same, tf_values  # noqa: E402

OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("edit_src")
    return {
        "cnn": fx.cnn_epochs(root / "cnn", epochs=4, eval_dir=root / "cnn_eval"),
        "keras": fx.tf2_keras(root / "keras"),
        "v1": fx.v1_variants(root / "v1"),
        "dtypes": fx.all_dtypes(root / "dtypes"),
        "slots": fx.slot_variables(root / "slots"),
    }


def run_edit(src: str, dst, spec: edit.EditSpec | None = None, **kw) -> edit.Plan:
    model = open_path(src)
    reader = open_checkpoint(model.selected)
    graphs = load_graphs(model, model.selected)
    try:
        plan = edit.plan_edit(reader, spec or edit.EditSpec(**kw), graphs[0] if graphs else None)
        edit.write_plan(plan, str(dst))
        return plan
    finally:
        reader.close()


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def logits(meta: str, prefix: str, x: np.ndarray, assign: dict | None = None) -> np.ndarray:
    """The cnn's logits after Saver.restore from `prefix` through the graph in `meta`
    (then `assign`: variable name → value, to feed values of another dtype)."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        saver = tf.compat.v1.train.import_meta_graph(meta)
        saver.restore(sess, prefix)
        if assign:
            by_name = {v.name.split(":")[0]: v for v in tf.compat.v1.global_variables()}
            for name, value in assign.items():
                by_name[name].load(value, sess)
        return sess.run("logits:0", {"x:0": x})


def cnn_trainable(built) -> set[str]:
    return set(built["cnn"].trainable)


# -- strip the optimizer ----------------------------------------------------------------------

@pytest.mark.tf_session
def test_strip_and_rename_tf1_in_one_pass_restores_through_the_rewritten_graph(built, tmp_path):
    cnn = built["cnn"]
    src = cnn.checkpoints[-1]
    dst = tmp_path / "out" / "stripped"
    plan = run_edit(str(src.prefix), dst, strip_optimizer=True, renames=[("^conv/", "encoder/")])
    theirs = tf_values(tf, str(src.prefix))
    ours = tf_values(tf, str(dst))
    kept = cnn_trainable(built) | {"global_step"}
    assert {k.replace("encoder/", "conv/", 1) for k in ours} == kept
    for key in kept:
        assert_same(ours[key.replace("conv/", "encoder/", 1)], theirs[key], key)
    assert not any("Adam" in k or "power" in k for k in ours)
    # the .meta followed: restored through it, the model computes exactly the same
    assert os.path.isfile(str(dst) + ".meta"), plan.graph_note
    want = logits(str(cnn.meta), str(src.prefix), cnn.eval_x)
    got = logits(str(dst) + ".meta", str(dst), cnn.eval_x)
    assert want.tobytes() == got.tobytes()


def _dense_forward(values: dict, keys: dict, x: np.ndarray) -> np.ndarray:
    k1, b1 = values[keys["sequential/hidden/kernel"]], values[keys["sequential/hidden/bias"]]
    k2, b2 = values[keys["sequential/out/kernel"]], values[keys["sequential/out/bias"]]
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def _fresh_keras_model():
    import keras
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5, activation="relu", name="hidden", kernel_initializer="zeros"),
        keras.layers.Dense(2, name="out", kernel_initializer="zeros"),
    ], name="sequential")


@pytest.mark.parametrize("rename", [False, True])
def test_strip_tf2_keras_restores_into_a_fresh_model(built, tmp_path, rename):
    keras_ck = built["keras"]
    src = keras_ck.checkpoints[-1]
    dst = tmp_path / "out" / "ckpt"
    renames = [("^optimizer/_trainable_variables/", "weights/")] if rename else []
    run_edit(str(src.prefix), dst, strip_optimizer=True, renames=renames)
    ours = tf_values(tf, str(dst))
    new = (lambda k: k.replace("optimizer/_trainable_variables/", "weights/", 1)) if rename \
        else (lambda k: k)
    expect = {new(k) for k in keras_ck.weight_keys.values()} | {"save_counter/.ATTRIBUTES/VARIABLE_VALUE",
                                                                OBJECT_GRAPH}
    assert set(ours) == expect
    for k in keras_ck.weight_keys.values():
        assert_same(ours[new(k)], src.values[k], k)
    model = _fresh_keras_model()
    status = tf.train.Checkpoint(model=model).restore(str(dst))
    status.assert_existing_objects_matched()
    x = keras_ck.train_x
    want = _dense_forward(src.values, keras_ck.weight_keys, x)
    np.testing.assert_allclose(model(x).numpy(), want, rtol=1e-6, atol=1e-6)
    # what TensorFlow itself lists as the checkpoint's variables names the new keys
    graph = fx.read_object_graph(str(dst))
    keys = {a.checkpoint_key for n in graph.nodes for a in n.attributes}
    assert keys == expect - {OBJECT_GRAPH}


def test_strip_linked_slots_drops_them_from_the_object_graph(built, tmp_path):
    slots = built["slots"]
    dst = tmp_path / "out" / "ckpt"
    run_edit(str(slots.prefix), dst, strip_optimizer=True)
    ours = tf_values(tf, str(dst))
    assert set(ours) - {OBJECT_GRAPH} == set(slots.variable_keys.values())
    graph = fx.read_object_graph(str(dst))
    assert not any(n.slot_variables for n in graph.nodes)
    kernel = tf.Variable(np.zeros((2, 3), np.float32))
    bias = tf.Variable(np.zeros(2, np.float32))
    tf.train.Checkpoint(kernel=kernel, bias=bias).read(str(dst)).assert_existing_objects_matched()
    assert_same(kernel.numpy(), slots.values[slots.variable_keys["kernel"]], "kernel")
    assert_same(bias.numpy(), slots.values[slots.variable_keys["bias"]], "bias")


# -- keep / drop / rename ---------------------------------------------------------------------

def test_keep_and_drop_patterns_match_keys_or_readable_names(built, tmp_path):
    keras_ck = built["keras"]
    src = keras_ck.checkpoints[0]
    dst = tmp_path / "out" / "ckpt"
    # readable names: keep the hidden layer's weights, drop its bias
    run_edit(str(src.prefix), dst, keep=["^sequential/hidden/"], drop=["bias$"])
    ours = tf_values(tf, str(dst))
    assert set(ours) == {keras_ck.weight_keys["sequential/hidden/kernel"], OBJECT_GRAPH}


@pytest.mark.tf_session
def test_partitioned_variable_renamed_restores_its_slices(built, tmp_path):
    ck = built["v1"].partitioned
    dst = tmp_path / "out" / "model"
    run_edit(str(ck.prefix), dst, renames=[("^weights$", "w")])
    ours = tf_values(tf, str(dst))
    assert set(ours) == {"w", "bias", "scale"}
    assert_same(ours["w"], ck.values["weights"], "weights")
    assert Bundle(str(dst)).tensors["w"].partitioned
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        tf.compat.v1.train.import_meta_graph(str(dst) + ".meta").restore(sess, str(dst))
        by_name = {v.name.split(":")[0]: v for v in tf.compat.v1.global_variables()}
        parts = built["v1"].partitions["weights"]
        got = np.concatenate(sess.run([by_name[p] for p, _ in parts]), axis=0)
    assert_same(got, ck.values["weights"], "weights")


@pytest.mark.parametrize("form", ["json", "lines"])
def test_rename_map_file(built, tmp_path, form):
    ck = built["v1"].custom_names
    mapping = {"my/custom_key": "renamed/v", "deep/a/b/c/d/e": "z"}
    path = tmp_path / "map.txt"
    path.write_text(json.dumps(mapping) if form == "json" else
                    "# old new\n" + "\n".join(f"{a} {b}" for a, b in mapping.items()))
    proc = cli("edit", ck.prefix, "-o", tmp_path / "out" / "m", "--rename-map", path)
    assert proc.returncode == 0, proc.stderr
    ours = tf_values(tf, str(tmp_path / "out" / "m"))
    assert set(ours) == {"renamed/v", "z", "Another.Key-with_punct:0"}
    assert_same(ours["renamed/v"], ck.values["my/custom_key"], "v")


def test_strings_and_every_dtype_survive_a_rename(built, tmp_path):
    d = built["dtypes"]
    run_edit(str(d.prefix), tmp_path / "out" / "d", renames=[("^", "top/")])
    ours = tf_values(tf, str(tmp_path / "out" / "d"))
    assert set(ours) == {f"top/{k}" for k in d.values}
    for k, v in d.values.items():
        assert_same(ours[f"top/{k}"], tf_values(tf, str(d.prefix))[k], k)


# -- cast ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["bfloat16", "float16", "float32", "float64"])
def test_cast_rounds_as_tf_cast(built, tmp_path, target):
    d = built["dtypes"]
    dst = tmp_path / "out" / "c"
    run_edit(str(d.prefix), dst, cast=target)
    theirs = tf_values(tf, str(d.prefix))
    ours = tf_values(tf, str(dst))
    for key, value in theirs.items():
        if d.dtype_names[key] in ("float16", "bfloat16", "float32", "float64"):
            want = tf.cast(tf.constant(value), tf.dtypes.as_dtype(target)).numpy()
            got = ours[key]
            assert got.dtype == want.dtype, key
            # NaN payloads aside, bit for bit
            nan = np.isnan(want.astype(np.float64))
            assert np.array_equal(np.isnan(got.astype(np.float64)), nan), key
            assert got[~nan].tobytes() == want[~nan].tobytes(), key
        else:
            assert_same(ours[key], value, key)


@pytest.mark.tf_session
def test_cast_model_computes_the_same_within_precision(built, tmp_path):
    cnn = built["cnn"]
    src = cnn.checkpoints[-1]
    dst = tmp_path / "out" / "half"
    plan = run_edit(str(src.prefix), dst, strip_optimizer=True, cast="bfloat16")
    assert not os.path.exists(str(dst) + ".meta")
    assert "float32" in plan.graph_note and "bfloat16" in plan.graph_note
    ours = tf_values(tf, str(dst))
    assert all(v.dtype.name == "bfloat16" for k, v in ours.items() if k != "global_step")
    widened = {k: v.astype(np.float32) for k, v in ours.items() if k != "global_step"}
    want = logits(str(cnn.meta), str(src.prefix), cnn.eval_x)
    got = logits(str(cnn.meta), str(src.prefix), cnn.eval_x, assign=widened)
    assert not np.array_equal(want, got)  # the weights really changed
    np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05)


# -- average -------------------------------------------------------------------------------------

@pytest.mark.tf_session
def test_average_last_three_tf1(built, tmp_path):
    cnn = built["cnn"]
    dst = tmp_path / "out" / "avg"
    proc = cli("average", cnn.dir, "--last", 3, "-o", dst)
    assert proc.returncode == 0, proc.stderr
    inputs = [tf_values(tf, str(c.prefix)) for c in cnn.checkpoints[-3:]]
    ours = tf_values(tf, str(dst))
    assert set(ours) == set(inputs[-1])
    for key, value in ours.items():
        if value.dtype.kind == "f":
            want = (sum(v[key].astype(np.float64) for v in inputs) / 3).astype(value.dtype)
        else:
            want = inputs[-1][key]
        assert_same(value, want, key)
    assert ours["global_step"] == inputs[-1]["global_step"]
    # nothing renamed or dropped: the graph comes along and restores it
    got = logits(str(dst) + ".meta", str(dst), cnn.eval_x)
    assert got.shape == (len(cnn.eval_x), 2)


def test_average_tf2_restores(built, tmp_path):
    keras_ck = built["keras"]
    dst = tmp_path / "out" / "avg"
    proc = cli("average", keras_ck.dir, "--last", 3, "-o", dst, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["written"]["prefix"] == str(dst)
    values = [c.values for c in keras_ck.checkpoints]
    mean = {k: (sum(v[k].astype(np.float64) for v in values) / 3).astype(np.float32)
            for k in keras_ck.weight_keys.values()}
    model = _fresh_keras_model()
    tf.train.Checkpoint(model=model).restore(str(dst)).assert_existing_objects_matched()
    x = keras_ck.train_x
    np.testing.assert_allclose(model(x).numpy(), _dense_forward(mean, keras_ck.weight_keys, x),
                               rtol=1e-6, atol=1e-6)
    it = keras_ck.optimizer_keys["adam/iteration"]
    assert tf_values(tf, str(dst))[it] == values[-1][it]  # an integer: the newest's


# -- take ----------------------------------------------------------------------------------------

@pytest.mark.tf_session
def test_take_merges_variables_of_another_checkpoint(built, tmp_path):
    cnn = built["cnn"]
    new, old = cnn.checkpoints[-1], cnn.checkpoints[0]
    dst = tmp_path / "out" / "merged"
    proc = cli("edit", f"{cnn.dir}@3", "-o", dst, "--take", f"^dense/kernel$:{old.prefix}",
               "--strip-optimizer")
    assert proc.returncode == 0, proc.stderr
    ours = tf_values(tf, str(dst))
    a, b = tf_values(tf, str(new.prefix)), tf_values(tf, str(old.prefix))
    assert_same(ours["dense/kernel"], b["dense/kernel"], "taken")
    assert_same(ours["conv/kernel"], a["conv/kernel"], "kept")
    got = logits(str(dst) + ".meta", str(dst), cnn.eval_x)
    want = logits(str(cnn.meta), str(new.prefix), cnn.eval_x,
                  assign={"dense/kernel": b["dense/kernel"]})
    assert got.tobytes() == want.tobytes()


# -- the command line: plans, refusals ---------------------------------------------------------

def test_dry_run_lists_every_variable_and_writes_nothing(built, tmp_path):
    src = built["cnn"].checkpoints[-1]
    proc = cli("edit", src.prefix, "-o", tmp_path / "out" / "x", "--strip-optimizer",
               "--cast", "float16", "--rename", "^dense/=head/", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = {r["key"]: r for r in out["variables"]}
    assert set(rows) == set(tf_values(tf, str(src.prefix)))
    assert rows["conv/kernel/Adam"]["actions"] == ["dropped"]
    assert rows["dense/kernel"]["actions"] == ["kept", "renamed", "cast"]
    assert rows["dense/kernel"]["new_key"] == "head/kernel"
    assert rows["dense/kernel"]["bytes_after"] * 2 == rows["dense/kernel"]["bytes_before"]
    assert rows["global_step"]["new_dtype"] == "int64"
    assert not (tmp_path / "out").exists()
    human = cli("edit", src.prefix, "--strip-optimizer", "--dry-run")
    assert human.returncode == 0 and "conv/kernel/Adam" in human.stdout
    assert "dry run: nothing written" in human.stdout


@pytest.mark.parametrize("args,message", [
    (["--rename", "(=x"], "--rename"),
    (["--rename", "^.*$=same"], "would both be saved as"),
    (["--keep", "nothing-matches-this"], "keeps no variable"),
    (["--take", "^nope:{other}"], "no variable"),
    (["--max-shard-size", "lots"], "--max-shard-size"),
])
def test_bad_requests_exit_2_with_a_message(built, tmp_path, args, message):
    src = built["cnn"].checkpoints[-1]
    args = [a.format(other=built["cnn"].checkpoints[0].prefix) for a in args]
    proc = cli("edit", src.prefix, "-o", tmp_path / "out" / "x", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_output_in_the_source_folder_exits_2(built):
    src = built["cnn"].checkpoints[-1]
    before = sorted(os.listdir(src.dir))
    proc = cli("edit", src.dir, "-o", src.dir / "stripped", "--strip-optimizer")
    assert proc.returncode == 2 and "inside the source's folder" in proc.stderr
    assert sorted(os.listdir(src.dir)) == before


def test_average_needs_enough_checkpoints(built, tmp_path):
    proc = cli("average", built["cnn"].dir, "--last", 9, "-o", tmp_path / "a")
    assert proc.returncode == 2 and "has 4" in proc.stderr


def test_unreadable_source_is_a_clean_error(tmp_path):
    (tmp_path / "bad.index").write_bytes(b"garbage" * 20)
    proc = cli("edit", tmp_path / "bad", "-o", tmp_path / "out" / "x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_plan_api_for_the_window(built, tmp_path):
    """What the window calls: a plan, a destination check before writing, progress, the result."""
    src = built["cnn"].checkpoints[-1]
    reader = open_checkpoint(open_path(str(src.prefix)).selected)
    plan = edit.plan_edit(reader, edit.EditSpec(strip_optimizer=True))
    assert plan.destination_problem(str(src.prefix)) is not None
    assert plan.destination_problem(str(tmp_path / "ok")) is None
    seen = []
    result = edit.write_plan(plan, str(tmp_path / "ok"), progress=seen.append)
    reader.close()
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert result.prefix == str(tmp_path / "ok") and os.path.isfile(str(tmp_path / "ok") + ".index")
    with pytest.raises(FormatError):
        edit.write_plan(plan, str(src.prefix))


def test_take_tf2_variables_keeps_the_object_graph_restorable(built, tmp_path):
    keras_ck = built["keras"]
    new, old = keras_ck.checkpoints[-1], keras_ck.checkpoints[0]
    dst = tmp_path / "out" / "merged"
    run_edit(str(new.prefix), dst, strip_optimizer=True,
             take=[("^sequential/hidden/", open_checkpoint(open_path(str(old.prefix)).selected))])
    values = dict(new.values)
    for name in ("sequential/hidden/kernel", "sequential/hidden/bias"):
        key = keras_ck.weight_keys[name]
        values[key] = old.values[key]
        assert_same(tf_values(tf, str(dst))[key], old.values[key], name)
    model = _fresh_keras_model()
    tf.train.Checkpoint(model=model).restore(str(dst)).assert_existing_objects_matched()
    x = keras_ck.train_x
    np.testing.assert_allclose(model(x).numpy(), _dense_forward(values, keras_ck.weight_keys, x),
                               rtol=1e-6, atol=1e-6)


def test_max_shard_size_from_the_command_line(built, tmp_path):
    src = built["dtypes"].prefix
    proc = cli("edit", src, "-o", tmp_path / "out" / "s", "--max-shard-size", "0.25K")
    assert proc.returncode == 0, proc.stderr
    shards = list((tmp_path / "out").glob("s.data-*"))
    assert len(shards) > 3
    # a shard passes 256 bytes only when one tensor alone is that large
    big = sum(t.nbytes > 256 for t in Bundle(str(src)).tensors.values())
    assert sum(p.stat().st_size > 256 for p in shards) <= big < len(shards)
    assert set(tf_values(tf, str(tmp_path / "out" / "s"))) == set(built["dtypes"].values)
