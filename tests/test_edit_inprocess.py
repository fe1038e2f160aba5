"""Averaging and rename maps called in this process (test_edit_ops.py drives them through
the command line, in a child process whose code a mutation run cannot see): the averaged
checkpoint against TensorFlow's reading of its inputs, the plan's JSON, the map file's forms."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import require

tf = require("tensorflow")

from app.analysis import edit  # noqa: E402
from app.formats import saver_graph  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.model import load_graphs, open_checkpoint, open_path  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .oracle import assert_same, tf_values  # noqa: E402


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    root = tmp_path_factory.mktemp("edit_src")
    return fx.cnn_epochs(root / "cnn", epochs=4, eval_dir=root / "cnn_eval")


@pytest.mark.parametrize("chunk_bytes", [edit.WRITE_CHUNK_BYTES, 64])
def test_average_in_process_is_the_float64_mean_tensorflow_reads(cnn, tmp_path, chunk_bytes):
    model = open_path(str(cnn.dir))
    readers = [open_checkpoint(c) for c in [c for c in model.checkpoints if c.on_disk][-3:]]
    try:
        plan = edit.plan_average(readers)
        dst = tmp_path / "avg"
        edit.write_plan(plan, str(dst), chunk_bytes=chunk_bytes)
    finally:
        for r in readers:
            r.close()
    inputs = [tf_values(tf, str(c.prefix)) for c in cnn.checkpoints[-3:]]
    ours = tf_values(tf, str(dst))
    assert set(ours) == set(inputs[-1])
    averaged = {r.key for r in plan.rows if r.actions == ["averaged"]}
    assert averaged == {k for k, v in ours.items() if v.dtype.kind == "f"} and averaged
    for key, value in ours.items():
        want = (sum(v[key].astype(np.float64) for v in inputs) / 3).astype(value.dtype) if key in averaged \
            else inputs[-1][key]
        assert_same(value, want, key)
    out = plan.to_json()
    assert out["counts"]["averaged"] == len(averaged)
    assert out["counts"]["kept"] == len(plan.rows) - len(averaged)
    assert out["counts"]["dropped"] == out["counts"]["renamed"] == 0
    assert [v["key"] for v in out["variables"]] == [r.key for r in plan.rows]
    step = next(v for v in out["variables"] if v["key"] == "global_step")
    assert step["actions"] == ["kept"] and step["reason"] == "not floating: from the newest"
    assert step["new_key"] == "global_step" and step["new_dtype"] == step["dtype"] == "int64"
    some = next(v for v in out["variables"] if v["key"] in averaged)
    assert some["reason"] == "mean of 3 checkpoints" and some["bytes_before"] == some["bytes_after"] > 0
    assert isinstance(some["shape"], list) and out["bytes_before"] > 0


def test_average_needs_two(cnn):
    model = open_path(str(cnn.dir))
    reader = open_checkpoint(model.checkpoints[-1])
    try:
        with pytest.raises(edit.PlanError, match="^averaging needs at least two checkpoints$"):
            edit.plan_average([reader])
    finally:
        reader.close()


def test_rename_map_forms(tmp_path):
    lines = tmp_path / "map.txt"
    lines.write_text("# old new\n\n  dense/kernel   head/kernel\nconv/bias\tc/bias\n   # indented comment\n")
    assert edit.read_rename_map(str(lines)) == {"dense/kernel": "head/kernel", "conv/bias": "c/bias"}
    js = tmp_path / "map.json"
    js.write_text('  {"a": "b", "c/d": "e"}')
    assert edit.read_rename_map(str(js)) == {"a": "b", "c/d": "e"}
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nonly_one\n")
    with pytest.raises(FormatError, match=r"line 2: expected `OLD_KEY NEW_KEY`, got 'only_one'"):
        edit.read_rename_map(str(bad))
    bad.write_text("a b c\n")
    with pytest.raises(FormatError, match="line 1"):
        edit.read_rename_map(str(bad))
    bad.write_text('{"a": ')
    with pytest.raises(FormatError, match="not valid JSON"):
        edit.read_rename_map(str(bad))
    bad.write_text('{"a": 1}')
    with pytest.raises(FormatError, match="must be strings"):
        edit.read_rename_map(str(bad))


# -- plan_edit in this process: every row's fate, what follows the graph, the refusals --------

@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    return fx.v1_variants(tmp_path_factory.mktemp("edit_v1") / "v1")


@pytest.fixture(scope="module")
def keras_ck(tmp_path_factory):
    return fx.tf2_keras(tmp_path_factory.mktemp("edit_keras") / "keras")


def _open(prefix):
    model = open_path(str(prefix))
    graphs = load_graphs(model, model.selected)
    return open_checkpoint(model.selected), (graphs[0] if graphs else None)


def _fates(plan):
    return {r.key: (r.new_key, r.actions, r.reason, r.new_dtype, r.bytes_after) for r in plan.rows}


def test_plan_edit_strip_drop_rename_take_tf1_rows_meta_and_values(cnn, v1, tmp_path):
    src = cnn.checkpoints[-1]
    reader, graph = _open(src.prefix)
    other = open_checkpoint(open_path(str(v1.custom_names.prefix)).selected)
    try:
        spec = edit.EditSpec(strip_optimizer=True, renames=[("^dense/", "head/")], drop=["^conv/bias$"],
                             take=[("^my/custom_key$", other)])
        plan = edit.plan_edit(reader, spec, graph)
        fates = _fates(plan)
        adam = {k for k in fates if "Adam" in k or k.endswith("_power")}
        assert len(adam) == 10
        for k in adam:
            assert fates[k][:3] == (None, ["dropped"], "optimizer state") and fates[k][4] == 0, k
        assert fates["conv/bias"][:3] == (None, ["dropped"], "matched by --drop")
        assert fates["conv/kernel"] == ("conv/kernel", ["kept"], "", "float32", 144)
        assert fates["dense/bias"] == ("head/bias", ["kept", "renamed"], "", "float32", 8)
        assert fates["dense/kernel"] == ("head/kernel", ["kept", "renamed"], "", "float32", 512)
        assert fates["global_step"] == ("global_step", ["kept"], "", "int64", 8)
        assert fates["my/custom_key"][:2] == ("my/custom_key", ["taken"])
        assert fates["my/custom_key"][2] == f"from {other.prefix} (added)"
        assert plan.source == reader.prefix
        assert plan.destination_problem(str(v1.custom_names.dir / "x")).startswith("is inside the source's folder")
        assert plan.source_folders == sorted({str(src.dir), str(v1.custom_names.dir)})
        out = plan.to_json()
        assert out["counts"] == {"kept": 4, "dropped": 11, "renamed": 2, "cast": 0, "taken": 1,
                                 "averaged": 0}
        on_disk = sum(v.nbytes for v in src.values.values())
        assert out["bytes_before"] == on_disk == 2056
        assert out["bytes_after"] == 144 + 8 + 512 + 8 + 16 == plan.read_bytes()
        assert out["object_graph"] is False and out["meta"] is True
        assert out["source"] == reader.prefix and out["max_shard_bytes"] is None
        assert out["graph_note"] == plan.graph_note and out["notes"] == plan.notes
        assert "epoch-0.meta written beside the result" in plan.graph_note
        assert "reads the 2 new key(s)" in plan.graph_note
        assert "no longer restores the 11 dropped variable(s)" in plan.graph_note
        assert plan.notes == ["1 variable(s) the graph's saver does not restore (e.g. my/custom_key)"]
        # the .meta's saver restores exactly what the result holds, under the new keys
        assert set(saver_graph.restored_keys(plan.meta)) == {"conv/kernel", "head/bias", "head/kernel",
                                                              "global_step"}
        dst = tmp_path / "out" / "edited"
        edit.write_plan(plan, str(dst))
    finally:
        reader.close()
        other.close()
    ours = tf_values(tf, str(dst))
    theirs = tf_values(tf, str(src.prefix))
    assert set(ours) == {"conv/kernel", "head/bias", "head/kernel", "global_step", "my/custom_key"}
    assert_same(ours["conv/kernel"], theirs["conv/kernel"], "conv/kernel")
    assert_same(ours["head/kernel"], theirs["dense/kernel"], "dense/kernel")
    assert_same(ours["head/bias"], theirs["dense/bias"], "dense/bias")
    assert_same(ours["global_step"], theirs["global_step"], "global_step")
    assert_same(ours["my/custom_key"], tf_values(tf, str(v1.custom_names.prefix))["my/custom_key"], "taken")
    assert os.path.isfile(str(dst) + ".meta")


def test_plan_edit_take_replacing_keep_and_rename_map(cnn, tmp_path):
    reader, graph = _open(cnn.checkpoints[-1].prefix)
    old = open_checkpoint(open_path(str(cnn.checkpoints[0].prefix)).selected)
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(keep=["kernel"], rename_map={"conv/kernel": "c/k"},
                                                    take=[("^dense/kernel$", old)]), graph)
        fates = _fates(plan)
        assert fates["conv/kernel"] == ("c/k", ["kept", "renamed"], "", "float32", 144)
        assert fates["dense/kernel"] == ("dense/kernel", ["taken"],
                                         f"from {old.prefix} (replacing the source's)", "float32", 512)
        assert fates["dense/kernel/Adam"] == ("dense/kernel/Adam", ["kept"], "", "float32", 512)
        for k in ("global_step", "conv/bias", "beta1_power"):
            assert fates[k][:3] == (None, ["dropped"], "not matched by --keep"), k
        assert plan.counts()["taken"] == 1 and plan.counts()["renamed"] == 1
        assert "reads the 1 new key(s)" in plan.graph_note
        dst = tmp_path / "kept"
        edit.write_plan(plan, str(dst))
    finally:
        reader.close()
        old.close()
    ours = tf_values(tf, str(dst))
    assert_same(ours["dense/kernel"], tf_values(tf, str(cnn.checkpoints[0].prefix))["dense/kernel"], "taken")
    assert_same(ours["c/k"], tf_values(tf, str(cnn.checkpoints[-1].prefix))["conv/kernel"], "renamed")


def test_plan_edit_cast_tf1_refuses_the_meta_and_writes_the_rounded_values(cnn, tmp_path):
    src = cnn.checkpoints[-1]
    reader, graph = _open(src.prefix)
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(drop=["Adam", "_power$"], cast="float16"), graph)
        fates = _fates(plan)
        assert fates["dense/kernel"] == ("dense/kernel", ["kept", "cast"], "", "float16", 256)
        assert fates["global_step"] == ("global_step", ["kept"], "", "int64", 8)
        assert fates["conv/bias/Adam"][:3] == (None, ["dropped"], "matched by --drop")
        assert plan.counts()["cast"] == 4
        assert plan.meta is None and plan.notes == []
        first = next(k for k in saver_graph.restored_keys(graph.meta_graph)
                     if k in ("conv/kernel", "conv/bias", "dense/kernel", "dense/bias"))
        assert plan.graph_note == (f"no .meta written: epoch-0.meta's saver restores {first} as float32, "
                                   "the result holds float16; restore into a graph built with float16 "
                                   "variables")
        dst = tmp_path / "half"
        edit.write_plan(plan, str(dst))
    finally:
        reader.close()
    assert not os.path.exists(str(dst) + ".meta")
    ours, theirs = tf_values(tf, str(dst)), tf_values(tf, str(src.prefix))
    assert set(ours) == {"conv/kernel", "conv/bias", "dense/kernel", "dense/bias", "global_step"}
    for k, v in ours.items():
        want = theirs[k] if k == "global_step" else tf.cast(tf.constant(theirs[k]), tf.float16).numpy()
        assert_same(v, want, k)


def test_plan_edit_tf2_cast_and_added_variables_are_noted(keras_ck, cnn):
    reader, graph = _open(keras_ck.checkpoints[-1].prefix)
    other = open_checkpoint(open_path(str(cnn.checkpoints[0].prefix)).selected)
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(strip_optimizer=True, cast="float16",
                                                    take=[("^conv/kernel$", other)]), graph)
    finally:
        reader.close()
        other.close()
    cast = [r for r in plan.kept if "cast" in r.actions]
    assert cast and plan.object_graph is not None
    assert plan.graph_note == "the TF2 object graph is carried along, rewritten to the new keys"
    assert (f"{len(cast)} variable(s) now hold float16: tf.train.Checkpoint restores them only into "
            "variables created as float16") in plan.notes
    assert ("1 added variable(s) are not in the object graph (e.g. conv/kernel): tf.train.Checkpoint "
            "will not restore them; name-based loading (tf.train.load_checkpoint) reads them") in plan.notes


@pytest.mark.parametrize("spec,message", [
    (dict(keep=["("]), "--keep pattern '('"),
    (dict(drop=["("]), "--drop pattern '('"),
    (dict(renames=[("(", "x")]), "--rename pattern '('"),
    (dict(renames=[("^conv/", r"\2")]), r"--rename '^conv/'='\\2'"),
    (dict(renames=[("^global_step$", "")]), "renaming 'global_step' leaves an empty key"),
    (dict(renames=[("^global_step$", "_CHECKPOINTABLE_OBJECT_GRAPH")]),
     "renaming 'global_step' would take the object graph's key"),
    (dict(renames=[("a", "b")], rename_map={"a": "b"}), "rename by patterns or by a mapping file, not both"),
    (dict(rename_map={"conv/kernel": "k", "no/such": "x"}),
     "the rename map names 1 key(s) the checkpoint does not hold, e.g. 'no/such'"),
    (dict(cast="int8"), "cannot cast to 'int8': floating variables cast to one of "
                        "float16, bfloat16, float32, float64"),
    (dict(renames=[("^(conv|dense)/", "x/")]), "'conv/bias' and 'dense/bias' would both be saved as 'x/bias'"),
])
def test_plan_edit_refusals_say_what(cnn, spec, message):
    reader, graph = _open(cnn.checkpoints[-1].prefix)
    try:
        with pytest.raises(edit.PlanError) as e:
            edit.plan_edit(reader, edit.EditSpec(**spec), graph)
    finally:
        reader.close()
    assert str(e.value).startswith(message)


def test_plan_edit_take_without_a_match_says_which(cnn):
    reader, _ = _open(cnn.checkpoints[-1].prefix)
    old = open_checkpoint(open_path(str(cnn.checkpoints[0].prefix)).selected)
    try:
        with pytest.raises(edit.PlanError) as e:
            edit.plan_edit(reader, edit.EditSpec(take=[("^nope$", old)]))
        assert str(e.value) == f"--take '^nope$': no variable of {old.prefix} matches"
        with pytest.raises(edit.PlanError, match=r"--take pattern '\('"):
            edit.plan_edit(reader, edit.EditSpec(take=[("(", old)]))
    finally:
        reader.close()
        old.close()


def _write_bundle(prefix, values: dict) -> None:
    """A checkpoint of whole (unpartitioned) values, written by the product's own writer;
    the tests read it back through TensorFlow before trusting it."""
    from app.formats import dtypes
    from app.formats.bundle_writer import BundleWriter
    os.makedirs(os.path.dirname(str(prefix)), exist_ok=True)
    w = BundleWriter(str(prefix))
    for key, value in values.items():
        w.add(key, dtypes.BY_NAME[value.dtype.name], value.shape, [(None, [value.reshape(-1)])])
    w.finish()


def test_cast_float64_to_16_bits_goes_through_float32_like_tf_and_quietly_overflows(tmp_path):
    import warnings
    # just above halfway between two float16 values: float32 drops the excess, then the tie
    # rounds to even (tf.cast's result); rounding float64 directly would round up instead
    tie = 1 + 2.0 ** -11 + 2.0 ** -40
    values = {"w": np.array([tie, -tie, 1e300, -1e300, np.nan, 0.5], np.float64),
              "v": np.array([tie, 3.25], np.float32)}
    _write_bundle(tmp_path / "in" / "src", values)
    assert_same(tf_values(tf, str(tmp_path / "in" / "src"))["w"], values["w"], "w")
    for target in ("float16", "bfloat16", "float32"):
        reader = open_checkpoint(open_path(str(tmp_path / "in" / "src")).selected)
        try:
            plan = edit.plan_edit(reader, edit.EditSpec(cast=target))
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # out of range is ±inf, as tf.cast, not a warning
                edit.write_plan(plan, str(tmp_path / "out" / target))
        finally:
            reader.close()
        ours = tf_values(tf, str(tmp_path / "out" / target))
        for k, v in values.items():
            want = tf.cast(tf.constant(v), tf.dtypes.as_dtype(target)).numpy()
            assert ours[k].dtype == want.dtype and ours[k].tobytes() == want.tobytes(), (target, k)
    assert tf.cast(tf.constant(tie), tf.float16).numpy() == 1.0  # the case above really is a tie


@pytest.mark.parametrize("order", ["partitioned_newest", "whole_newest"])
def test_average_of_differently_stored_pieces(v1, tmp_path, order):
    part = v1.partitioned
    theirs = tf_values(tf, str(part.prefix))
    other = {k: (v * 3 + 1).astype(v.dtype) if v.dtype.kind == "f" else v for k, v in theirs.items()}
    _write_bundle(tmp_path / "in" / "whole", other)
    assert_same(tf_values(tf, str(tmp_path / "in" / "whole"))["weights"], other["weights"], "weights")
    prefixes = [part.prefix, tmp_path / "in" / "whole"]
    if order == "whole_newest":
        prefixes.reverse()
    readers = [open_checkpoint(open_path(str(p)).selected) for p in prefixes]
    try:
        plan = edit.plan_average(readers)
        assert [r.actions for r in plan.rows if r.key == "weights"] == [["averaged"]]
        assert plan.source == readers[-1].prefix
        assert plan.source_folders == sorted({str(part.dir), str(tmp_path / "in")})
        seen = []
        edit.write_plan(plan, str(tmp_path / "avg"), progress=seen.append)
        assert seen[-1] == 1.0
    finally:
        for r in readers:
            r.close()
    ours = tf_values(tf, str(tmp_path / "avg"))
    assert set(ours) == set(theirs)
    for k, v in ours.items():
        if v.dtype.kind == "f":
            want = ((theirs[k].astype(np.float64) + other[k].astype(np.float64)) / 2).astype(v.dtype)
            assert_same(v, want, k)
    from app.formats.bundle import Bundle
    assert Bundle(str(tmp_path / "avg")).tensors["weights"].partitioned == (order == "partitioned_newest")


def test_taken_then_dropped_variable_leaves_the_object_graph(keras_ck, tmp_path):
    """A variable taken from another checkpoint and then dropped is not in the result, so
    the object graph must not name its key either (TensorFlow would look for it)."""
    new, old = keras_ck.checkpoints[-1], keras_ck.checkpoints[0]
    reader, graph = _open(new.prefix)
    other = open_checkpoint(open_path(str(old.prefix)).selected)
    bias = keras_ck.weight_keys["sequential/hidden/bias"]
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(strip_optimizer=True, drop=["hidden/bias$"],
                                                    take=[("^sequential/hidden/", other)]), graph)
        assert [r.actions for r in plan.rows if r.key == bias] == [["dropped"]]
        edit.write_plan(plan, str(tmp_path / "out" / "ckpt"))
    finally:
        reader.close()
        other.close()
    ours = tf_values(tf, str(tmp_path / "out" / "ckpt"))
    assert bias not in ours
    named = {a.checkpoint_key for n in fx.read_object_graph(str(tmp_path / "out" / "ckpt")).nodes
             for a in n.attributes}
    assert named == set(ours) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_average_takes_from_the_newest_what_not_every_checkpoint_holds_alike(tmp_path):
    older = {"a": np.array([1, 2, 3], np.float32), "b": np.array([5, 6], np.float32),
             "c": np.array([7, 8, 9], np.float64), "n": np.array([1, 2], np.int32)}
    newest = {"a": np.array([3, 4, 5], np.float32), "b": np.array([1, 1, 1], np.float32),
              "c": np.array([1, 1, 1], np.float32), "n": np.array([9, 9], np.int32),
              "d": np.array([2.5], np.float32)}
    _write_bundle(tmp_path / "in" / "old", older)
    _write_bundle(tmp_path / "in" / "new", newest)
    readers = [open_checkpoint(open_path(str(tmp_path / "in" / p)).selected) for p in ("old", "new")]
    try:
        plan = edit.plan_average(readers)
        rows = {r.key: (r.actions, r.reason) for r in plan.rows}
        partial = "from the newest: only 1 of 2 checkpoints hold it with this shape and dtype"
        assert rows == {"a": (["averaged"], "mean of 2 checkpoints"), "b": (["kept"], partial),
                        "c": (["kept"], partial), "d": (["kept"], partial),
                        "n": (["kept"], "not floating: from the newest")}
        assert plan.read_bytes() == 12 * 2 + 12 + 12 + 4 + 8
        edit.write_plan(plan, str(tmp_path / "out" / "avg"))
    finally:
        for r in readers:
            r.close()
    ours = tf_values(tf, str(tmp_path / "out" / "avg"))
    assert_same(ours["a"], np.array([2, 3, 4], np.float32), "a")
    for k in ("b", "c", "d", "n"):
        assert_same(ours[k], newest[k], k)


def test_rename_map_errors_name_the_file_and_keys_keep_undecodable_bytes(tmp_path):
    bad = tmp_path / "bad.txt"
    for text, problem in [('{"a": ', None), ('{"a": 1}', "rename map: keys and values must be strings"),
                          ("a b\nonly_one\n", "line 2: expected `OLD_KEY NEW_KEY`, got 'only_one'")]:
        bad.write_text(text)
        with pytest.raises(FormatError) as e:
            edit.read_rename_map(str(bad))
        assert e.value.path == str(bad)
        if problem:
            assert e.value.problem == problem
    # a key that is not UTF-8 is read as the checkpoint reader shows such keys, not refused
    odd = tmp_path / "odd.txt"
    odd.write_bytes(b"k\xff\xfe new\n")
    assert edit.read_rename_map(str(odd)) == {b"k\xff\xfe".decode("utf-8", "surrogateescape"): "new"}


def test_rename_map_is_refused_past_64_mib(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.write(b"{")
        f.truncate((64 << 20) + 1)  # sparse: one byte past the limit
    with pytest.raises(FormatError) as e:
        edit.read_rename_map(str(big))
    assert e.value.problem == f"is {(64 << 20) + 1} bytes, too large for this kind of file"
    with open(big, "r+b") as f:
        f.truncate(64 << 20)  # at the limit: read, then refused as not JSON
    with pytest.raises(FormatError, match="not valid JSON"):
        edit.read_rename_map(str(big))


def _with_meta(graph, meta, source: str, fmt: str = "metagraph"):
    from app.formats.graph import Graph
    return Graph(meta.graph_def if meta is not None else graph.meta_graph.graph_def, meta, source, fmt)


def test_meta_follows_only_a_metagraph_with_a_saver_it_can_cut(cnn):
    reader, graph = _open(cnn.checkpoints[-1].prefix)
    try:
        spec = edit.EditSpec(strip_optimizer=True)
        # a SavedModel's graph, or a metagraph-format graph without its MetaGraphDef: no .meta
        for g in (_with_meta(graph, graph.meta_graph, "saved_model.pb", "saved_model"),
                  _with_meta(graph, None, "x.meta")):
            plan = edit.plan_edit(reader, spec, g)
            assert plan.meta is None and plan.graph_note is None
        # no restore ops at all: no saver
        bare = type(graph.meta_graph)()
        bare.CopyFrom(graph.meta_graph)
        keep = [n for n in bare.graph_def.node if n.op not in ("RestoreV2", "RestoreSlice", "Restore")]
        del bare.graph_def.node[:]
        bare.graph_def.node.extend(keep)
        plan = edit.plan_edit(reader, spec, _with_meta(graph, bare, "/x/bare.meta"))
        assert plan.meta is None and plan.graph_note == "bare.meta has no saver: no .meta written"
        # restore ops laid out otherwise (slices not a constant): cannot be cut
        odd = type(graph.meta_graph)()
        odd.CopyFrom(graph.meta_graph)
        by_name = {n.name: n for n in odd.graph_def.node}
        restore = next(n for n in odd.graph_def.node if n.op == "RestoreV2")
        by_name[restore.input[2].split(":")[0].lstrip("^")].op = "Placeholder"
        plan = edit.plan_edit(reader, spec, _with_meta(graph, odd, "/x/odd.meta"))
        dropped = {r.key for r in plan.rows if not r.kept}
        first = next(k for k in saver_graph.restored_keys(odd) if k in dropped)
        assert plan.meta is None
        assert plan.graph_note == (
            f"no .meta written: odd.meta's saver restores {len(dropped)} variable(s) the result does not "
            f"hold (e.g. {first}) and its restore ops are not the kind this can cut out; build the "
            "model's graph and restore with a Saver over the kept variables (var_list)")
    finally:
        reader.close()


def test_strip_finds_unusually_named_slots_through_the_training_graph(cnn, tmp_path):
    """Slots renamed away from TensorFlow's names are still optimizer state: the .meta's
    update ops say so (the renamed copy's .meta follows the new keys)."""
    reader, graph = _open(cnn.checkpoints[-1].prefix)
    try:
        renames = [("/Adam_1$", "/sB"), ("/Adam$", "/sA"), ("^beta1_power$", "b1"), ("^beta2_power$", "b2")]
        plan = edit.plan_edit(reader, edit.EditSpec(renames=renames), graph)
        assert plan.meta is not None
        edit.write_plan(plan, str(tmp_path / "odd" / "model"))
    finally:
        reader.close()
    reader, graph = _open(tmp_path / "odd" / "model")
    try:
        assert graph is not None and graph.source.endswith("model.meta")
        plan = edit.plan_edit(reader, edit.EditSpec(strip_optimizer=True), graph)
        no_graph = edit.plan_edit(reader, edit.EditSpec(strip_optimizer=True))
    finally:
        reader.close()
    dropped = {r.key for r in plan.rows if r.actions == ["dropped"]}
    assert dropped == {k for k in reader.tensors if k.endswith(("/sA", "/sB"))} | {"b1", "b2"}
    assert len(dropped) == 10
    assert all(r.reason == "optimizer state" for r in plan.rows if not r.kept)
    # without the graph the names say nothing (so the graph really is what found them)
    assert not {r.key for r in no_graph.rows if not r.kept} >= dropped



def _written(result, folder) -> None:
    """The result names the files it wrote, each in `folder`, and their total size."""
    assert result.files and all(os.path.dirname(f) == str(folder) for f in result.files)
    paths = [folder / os.path.basename(f) for f in result.files]
    assert all(p.is_file() for p in paths)
    assert result.bytes_written == sum(p.stat().st_size for p in paths)


def test_average_carries_a_tf2_object_graph_and_a_tf1_meta(keras_ck, cnn, tmp_path):
    # TF2: the object graph comes along, naming exactly the keys written
    model = open_path(str(keras_ck.dir))
    readers = [open_checkpoint(c) for c in [c for c in model.checkpoints if c.on_disk][-3:]]
    try:
        plan = edit.plan_average(readers)
        assert plan.object_graph is not None and plan.meta is None
        assert plan.graph_note == "the TF2 object graph is carried along, rewritten to the new keys"
        result = edit.write_plan(plan, str(tmp_path / "tf2" / "avg"))
    finally:
        for r in readers:
            r.close()
    assert result.prefix == str(tmp_path / "tf2" / "avg")
    _written(result, tmp_path / "tf2")
    ours = tf_values(tf, result.prefix)
    named = {a.checkpoint_key for n in fx.read_object_graph(result.prefix).nodes for a in n.attributes}
    assert named == set(ours) - {"_CHECKPOINTABLE_OBJECT_GRAPH"} and named
    # TF1 with its training graph: the .meta comes along and names the averaged file's keys
    model = open_path(str(cnn.dir))
    graph = load_graphs(model, model.selected)[0]
    readers = [open_checkpoint(c) for c in [c for c in model.checkpoints if c.on_disk][-2:]]
    try:
        plan = edit.plan_average(readers, graph)
        assert plan.object_graph is None and plan.meta is not None
        result = edit.write_plan(plan, str(tmp_path / "tf1" / "avg"))
    finally:
        for r in readers:
            r.close()
    _written(result, tmp_path / "tf1")
    assert sorted(os.path.basename(f) for f in result.files) == [
        "avg.data-00000-of-00001", "avg.index", "avg.meta"]
    assert set(saver_graph.restored_keys(plan.meta)) == set(tf_values(tf, result.prefix))


def test_a_plan_that_keeps_nothing_writes_nothing(cnn, tmp_path):
    reader, graph = _open(cnn.checkpoints[-1].prefix)
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(drop=[".*"]), graph)
        with pytest.raises(edit.PlanError, match="^the plan keeps no variable: nothing to write$"):
            edit.write_plan(plan, str(tmp_path / "out" / "none"))
    finally:
        reader.close()
    assert not (tmp_path / "out").exists()
