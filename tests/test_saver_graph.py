"""The keys a TF1 graph's Saver restores, renamed and dropped (app/formats/saver_graph.py),
on the Saver graph TensorFlow wrote with resources/sample_run (SaveV2, RestoreV2 and one
Assign per variable) and on small graphs in the older layouts."""

from __future__ import annotations

import pytest

from app.formats import protos
from app.formats.bundle import Bundle
from app.formats.saver_graph import drop_keys, rename_keys, restored_keys

from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


@pytest.fixture(scope="module")
def meta():
    return protos.MetaGraphDef.FromString((SAMPLE / "epoch-0.meta").read_bytes())


def nodes(meta) -> dict:
    return {n.name: n for n in meta.graph_def.node}


def names_of(node) -> list[str]:
    return [k.decode() for k in node.attr["value"].tensor.string_val]


def test_the_saver_restores_every_key_of_its_checkpoint_with_its_dtype(meta):
    keys = restored_keys(meta)
    index = Bundle(str(SAMPLE / "epoch-0")).tensors
    assert keys == {k: t.dtype_enum for k, t in index.items()}
    assert keys["global_step"] == 9 and keys["conv/kernel"] == 1


def test_renaming_changes_the_save_and_restore_lists_and_nothing_else(meta):
    before = meta.SerializeToString()
    out = rename_keys(meta, {"conv/kernel": "model/conv/kernel", "absent": "x"})
    assert meta.SerializeToString() == before                 # a copy; the original stays
    n = nodes(out)
    for const in ("save/SaveV2/tensor_names", "save/RestoreV2/tensor_names"):
        want = names_of(nodes(meta)[const])
        want[want.index("conv/kernel")] = "model/conv/kernel"
        assert names_of(n[const]) == want
    keys = restored_keys(out)
    assert "model/conv/kernel" in keys and "conv/kernel" not in keys and len(keys) == 15
    # every other node as it was
    for name, node in nodes(meta).items():
        if name not in ("save/SaveV2/tensor_names", "save/RestoreV2/tensor_names"):
            assert n[name] == node


def _restored_by_assign(meta) -> dict[str, str]:
    """variable → the key its restore Assign reads (through RestoreV2's output index)."""
    n = nodes(meta)
    keys = names_of(n["save/RestoreV2/tensor_names"])
    out = {}
    for node in meta.graph_def.node:
        if node.op == "Assign" and node.name.startswith("save/"):
            ref = node.input[1]
            index = int(ref.split(":")[1]) if ":" in ref else 0
            assert ref.split(":")[0] == "save/RestoreV2"
            out[node.input[0]] = keys[index]
    return out


def test_dropping_keys_leaves_a_saver_that_restores_the_rest_into_the_right_variables(meta):
    dropped = {"beta1_power", "conv/bias/Adam", "dense/kernel/Adam_1"}
    out = drop_keys(meta, dropped)
    n = nodes(out)
    all_keys = names_of(nodes(meta)["save/RestoreV2/tensor_names"])
    stay = [k for k in all_keys if k not in dropped]
    assert names_of(n["save/RestoreV2/tensor_names"]) == stay
    assert len(n["save/RestoreV2/shape_and_slices"].attr["value"].tensor.string_val) == len(stay)
    for const in ("save/RestoreV2/tensor_names", "save/RestoreV2/shape_and_slices"):
        assert n[const].attr["value"].tensor.tensor_shape.dim[0].size == len(stay)
        assert n[const].attr["_output_shapes"].list.shape[0].dim[0].size == len(stay)
    restore = n["save/RestoreV2"]
    assert list(restore.attr["dtypes"].list.type) == [restored_keys(meta)[k] for k in stay]
    old_shapes = nodes(meta)["save/RestoreV2"].attr["_output_shapes"].list.shape
    assert list(restore.attr["_output_shapes"].list.shape) == [old_shapes[all_keys.index(k)] for k in stay]
    # each remaining variable is assigned its own key; the dropped ones are not restored
    assert _restored_by_assign(out) == {k: k for k in stay}
    assert restored_keys(out) == {k: v for k, v in restored_keys(meta).items() if k not in dropped}
    # their Assign ops went, and restore_all no longer waits on them
    kept_assigns = {x.input[0] for x in out.graph_def.node if x.op == "Assign" and x.name.startswith("save/")}
    assert kept_assigns == set(stay)
    restore_all = n["save/restore_all"]
    assert all(i[1:] in n for i in restore_all.input) and len(restore_all.input) == len(stay)
    # saving is left alone, and the variables themselves stay
    assert n["save/SaveV2"] == nodes(meta)["save/SaveV2"]
    assert all(k in n for k in dropped)


def test_dropping_the_first_output_renumbers_the_unsuffixed_reference(meta):
    out = drop_keys(meta, {"beta1_power"})
    n = nodes(out)
    assert "save/Assign" not in n
    assert n["save/Assign_1"].input[1] == "save/RestoreV2"        # was save/RestoreV2:1
    assert n["save/Assign_2"].input[1] == "save/RestoreV2:1"
    out = drop_keys(meta, {"beta2_power"})
    n = nodes(out)
    assert n["save/Assign"].input[1] == "save/RestoreV2" and "save/Assign_1" not in n
    assert n["save/Assign_14"].input[1] == "save/RestoreV2:13"


def test_dropping_nothing_the_saver_restores_changes_nothing(meta):
    assert drop_keys(meta, {"not/a/key"}) == meta
    assert drop_keys(meta, set()) == meta


# -- other layouts -------------------------------------------------------------------------

def graph(*specs) -> protos.MetaGraphDef:
    """specs: (name, op, inputs, string values of a Const or None, extra attrs)."""
    meta = protos.MetaGraphDef()
    for name, op, inputs, values, attrs in specs:
        node = meta.graph_def.node.add(name=name, op=op)
        node.input.extend(inputs)
        if values is not None:
            t = node.attr["value"].tensor
            t.string_val.extend(v.encode() for v in values)
            t.tensor_shape.dim.add(size=len(values))
        for key, value in attrs.items():
            if isinstance(value, list):
                node.attr[key].list.type.extend(value)
            else:
                node.attr[key].type = value
    return meta


def test_older_restore_ops_give_their_keys_and_refuse_a_drop():
    meta = graph(("names", "Const", [], ["a", "b"], {}),
                 ("file", "Const", [], ["f"], {}),
                 ("restore", "RestoreSlice", ["file", "names", "x"], None, {"dt": 3}),
                 ("save", "SaveSlices", ["file", "names", "x", "a", "b"], None, {}))
    assert restored_keys(meta) == {"a": 3, "b": 3}
    renamed = rename_keys(meta, {"a": "A"})
    assert names_of(nodes(renamed)["names"]) == ["A", "b"]
    assert drop_keys(meta, {"a"}) is None
    assert drop_keys(meta, {"zzz"}) == meta
    old = graph(("names", "Const", [], ["w"], {}), ("file", "Const", [], ["f"], {}),
                ("restore", "Restore", ["file", "names"], None, {"dt": 1}))
    assert restored_keys(old) == {"w": 1}
    assert drop_keys(old, {"w"}) is None


def test_key_lists_that_are_not_constants_are_not_read():
    meta = graph(("names", "Placeholder", [], None, {}),
                 ("slices", "Const", [], ["", ""], {}),
                 ("restore", "RestoreV2", ["file", "names", "slices"], None, {"dtypes": [1, 1]}),
                 ("lonely", "RestoreV2", ["file"], None, {"dtypes": [1]}),
                 ("dangling", "RestoreV2", ["file", "nowhere", "slices"], None, {"dtypes": [1]}))
    assert restored_keys(meta) == {}
    assert drop_keys(meta, {"a"}) is None


def _v2(keys, slices=None, extra_user=False):
    specs = [("names", "Const", [], keys, {}),
             ("slices", "Const", [], slices if slices is not None else [""] * len(keys), {}),
             ("restore", "RestoreV2", ["file", "names", "slices"], None, {"dtypes": [1] * len(keys)})]
    specs += [(f"assign_{i}", "Assign", [f"v{i}", "restore" if i == 0 else f"restore:{i}"], None, {})
              for i in range(len(keys))]
    specs += [("after_1", "Identity", ["assign_1"], None, {}),
              ("ctrl", "NoOp", ["^assign_0", "^assign_1", "^after_1"], None, {})]
    if extra_user:
        specs.append(("other", "RestoreV2", ["file", "names", "slices"], None, {"dtypes": [1] * len(keys)}))
    return graph(*specs)


def test_a_drop_removes_what_the_dropped_output_fed_and_keeps_control_edges_of_the_rest():
    out = drop_keys(_v2(["a", "b", "c"]), {"b"})
    n = nodes(out)
    assert set(n) == {"names", "slices", "restore", "assign_0", "assign_2", "ctrl"}
    assert list(n["ctrl"].input) == ["^assign_0"]
    assert n["assign_2"].input[1] == "restore:1" and n["assign_0"].input[1] == "restore"
    assert names_of(n["names"]) == ["a", "c"]


def test_a_drop_is_refused_where_key_lists_are_shared_or_do_not_match():
    assert drop_keys(_v2(["a", "b"], extra_user=True), {"a"}) is None
    assert drop_keys(_v2(["a", "b"], extra_user=True), {"z"}) is not None   # nothing to drop there
    assert drop_keys(_v2(["a", "b"], slices=[""]), {"a"}) is None
    # a restore op without its slice list: left alone
    meta = graph(("names", "Const", [], ["a"], {}), ("restore", "RestoreV2", ["file", "names"], None, {}))
    assert drop_keys(meta, {"a"}) == meta


def test_keys_that_are_not_utf8_are_read_and_renamed_byte_for_byte():
    meta = graph(("names", "Const", [], ["a", "b"], {}), ("slices", "Const", [], ["", ""], {}),
                 ("restore", "RestoreV2", ["file", "names", "slices"], None, {"dtypes": [1, 2]}))
    nodes(meta)["names"].attr["value"].tensor.string_val[0] = b"w\xff"
    assert restored_keys(meta) == {"w\udcff": 1, "b": 2}
    out = rename_keys(meta, {"w\udcff": "v\udcfe", "b": "c"})
    assert list(nodes(out)["names"].attr["value"].tensor.string_val) == [b"v\xfe", b"c"]
    out = drop_keys(meta, {"w\udcff"})
    assert list(nodes(out)["names"].attr["value"].tensor.string_val) == [b"b"]


def test_a_key_list_shared_by_save_and_restore_is_renamed_once():
    meta = graph(("names", "Const", [], ["a", "b"], {}), ("slices", "Const", [], ["", ""], {}),
                 ("save", "SaveV2", ["file", "names", "slices", "va", "vb"], None, {}),
                 ("restore", "RestoreV2", ["file", "names", "slices"], None, {"dtypes": [1, 1]}))
    out = rename_keys(meta, {"a": "b", "b": "a"})
    assert names_of(nodes(out)["names"]) == ["b", "a"]


def test_a_drop_is_refused_when_only_the_key_list_is_shared():
    meta = _v2(["a", "b"])
    meta.graph_def.node.add(name="peek", op="Identity", input=["names"])
    assert drop_keys(meta, {"a"}) is None
    meta = _v2(["a", "b"])
    meta.graph_def.node.add(name="peek", op="Identity", input=["slices"])
    assert drop_keys(meta, {"a"}) is None


def test_what_a_dropped_restore_fed_goes_in_whatever_order_the_graph_lists_its_ops():
    """GraphDefs need not list an op after its inputs: a consumer listed before the op it
    reads (and reading it after a control input) still goes when that op goes."""
    meta = _v2(["a", "b", "c"])
    first = meta.graph_def.node.add(name="uses_after_1", op="Identity", input=["^assign_0", "after_1"])
    meta.graph_def.node.insert(0, first)
    del meta.graph_def.node[-1]
    meta.graph_def.node.insert(0, protos.NodeDef(name="reads_it", op="Identity", input=["uses_after_1"]))
    out = drop_keys(meta, {"b"})
    assert set(nodes(out)) == {"names", "slices", "restore", "assign_0", "assign_2", "ctrl"}
