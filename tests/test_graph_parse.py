"""Graph files as TensorFlow writes them: a TF1 meta graph (a Saver given a dict, resource
and ref variables, collections of every kind), its GraphDef in binary and text under any
name, a TF1 SavedModel, and bytes that are no graph — each checked against what
TensorFlow itself reads from the same file."""

from __future__ import annotations

import numpy as np
import pytest

from app.formats import protos
from app.formats.errors import FormatError
from app.formats.graph import (Graph, input_node, load_graph, load_saved_model,
                               looks_like_text, parse_proto, scope_tree)



# protos.py declares what the tensorboard package lacks; described the same way here and in
# a fresh process (where the declarations are built, not found in this one's pool)
DESCRIBE = """
import importlib, json, sys
from app.formats import protos
protos = importlib.reload(protos)          # declared once in the pool, found there again
def reachable(d, out):
    if d.name not in out:
        out[d.name] = d
        for f in d.fields:
            if f.message_type is not None:
                reachable(f.message_type, out)
    return out
def describe(roots, names):
    found = {}
    for d in roots:
        reachable(d, found)
    return {n: {f.name: [f.number, {14: 5}.get(f.type, f.type), f.is_repeated,
                         f.message_type.name if f.message_type else None,
                         f.containing_oneof is not None, f.has_presence, f.is_packed]
                for f in found[n].fields} for n in names}
print(json.dumps(describe([getattr(protos, n).DESCRIPTOR for n in sys.argv[1].split()],
                          sys.argv[2].split())))
"""
MESSAGES = ("TensorSliceProto Extent BundleHeaderProto BundleEntryProto CheckpointState SavedModel "
            "SavedTensorSlices SavedTensorSliceMeta SavedSliceMeta SavedSlice").split()


def test_declared_schemas_are_tensorflows(tf):
    """Each message protos.py declares has TensorFlow's own field numbers, names, types
    (an enum read as the int it is on the wire), labels and oneofs."""
    import json
    import subprocess
    import sys

    from tensorflow.core.framework import tensor_slice_pb2
    from tensorflow.core.protobuf import saved_model_pb2, tensor_bundle_pb2
    from tensorflow.core.util import saved_tensor_slice_pb2
    from tensorflow.python.training import checkpoint_state_pb2

    from .conftest import ROOT
    theirs = {"TensorSliceProto": tensor_slice_pb2.TensorSliceProto,
              "BundleHeaderProto": tensor_bundle_pb2.BundleHeaderProto,
              "BundleEntryProto": tensor_bundle_pb2.BundleEntryProto,
              "CheckpointState": checkpoint_state_pb2.CheckpointState,
              "SavedModel": saved_model_pb2.SavedModel,
              "SavedTensorSlices": saved_tensor_slice_pb2.SavedTensorSlices}
    proc = subprocess.run([sys.executable, "-c", DESCRIBE, " ".join(theirs) + " SavedMetadata",
                           " ".join(MESSAGES + ["KerasSavedObject"])], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)
    scope: dict = {}
    exec(DESCRIBE.split("def reachable")[1].join(["def reachable", ""]).split("print(")[0], scope)
    expected = scope["describe"]([cls.DESCRIPTOR for cls in theirs.values()], MESSAGES)
    for name in MESSAGES:
        assert ours[name] == expected[name], name
    assert ours["SavedModel"]["meta_graphs"] == [2, 11, True, "MetaGraphDef", False, False, False]
    assert ours["CheckpointState"]["all_model_checkpoint_timestamps"][-1]                 # packed
    assert not ours["BundleEntryProto"]["shard_id"][-2]          # proto3: a zero is not written
    assert ours["Extent"]["length"][4] and ours["BundleEntryProto"]["crc32c"][1] == 7     # fixed32
    assert ours["KerasSavedObject"]["metadata"][:3] == [5, 9, False]                       # a string


@pytest.fixture(scope="module")
def tf1(tmp_path_factory, tf):
    """The TF1 graph files TensorFlow wrote, and its MetaGraphDef as TensorFlow parses it."""
    from tensorflow.core.protobuf import meta_graph_pb2

    from . import tf_fixtures as fx
    made = fx.tf1_graph_files(tmp_path_factory.mktemp("tf1") / "files")
    return made.dir, meta_graph_pb2.MetaGraphDef.FromString(made.meta), made


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tf):
    from . import tf_fixtures as fx
    return fx.saved_models(tmp_path_factory.mktemp("saved") / "saved")


def test_a_meta_graph_reads_as_tensorflow_wrote_it(tf1):
    dest, meta, made = tf1
    variables, trainable = made.variables, made.trainable
    g = load_graph(str(dest / "model.meta"))
    assert g.format == "metagraph" and g.source == str(dest / "model.meta")
    assert [n.name for n in g.nodes] == [n.name for n in meta.graph_def.node]
    assert set(g.variables()) == set(variables)
    # each variable op's own shape attr, counted
    assert g.variable_sizes() == {name: int(np.prod(shape)) for name, shape in variables.items()}
    # collections: variables by their ops (VariableDef bytes, a name past 127 bytes too),
    # ops by name, and a kind that holds no nodes as empty
    cols = g.collections()
    assert set(cols) == set(meta.collection_def)
    assert sorted(cols["variables"]) == sorted(variables)
    assert sorted(cols["trainable_variables"]) == sorted(trainable)
    assert cols["outputs_ops"] == ["logits"] and cols["my_ints"] == []
    assert sorted(g.collections_of("dense/kernel")) == ["trainable_variables", "variables"]
    assert g.collections_of("unsaved") == ["variables"] and g.collections_of("x") == []
    assert g.tags() == [] and g.signatures() == {}


def test_checkpoint_keys_follow_the_savers_dict(tf1):
    dest, _meta, made = tf1
    g = load_graph(str(dest / "model.meta"))
    keys = g.checkpoint_keys()
    # the dict's keys for what the Saver saves (through the resource variable's read too),
    # the variable's own name for the rest
    expected = {var: key for key, var in made.saved_as.items()}
    assert set(expected) == {"dense/kernel", "dense/bias", "res"}
    expected.update({name: name for name in made.variables if name not in expected})
    assert keys == expected


def test_the_savers_facts_and_op_counts_in_the_summary(tf1):
    dest, meta, made = tf1
    variables = made.variables
    g = load_graph(str(dest / "model.meta"))
    info = g.summary()
    sd = meta.saver_def
    assert info["saver"] == {"filename_tensor": sd.filename_tensor_name, "save_tensor": sd.save_tensor_name,
                             "restore_op": sd.restore_op_name, "version": int(sd.version),
                             "sharded": sd.sharded, "max_to_keep": sd.max_to_keep}
    assert info["saver"]["restore_op"] and info["saver"]["max_to_keep"] == 5
    assert info["nodes"] == len(meta.graph_def.node) and info["variables"] == len(variables)
    assert info["format"] == "metagraph" and info["functions"] == 0
    assert info["tensorflow_version"] == meta.meta_info_def.tensorflow_version != ""
    assert info["collections"] == {k: len(g.collections()[k]) for k in meta.collection_def}
    counts: dict[str, int] = {}
    for n in meta.graph_def.node:
        counts[n.op] = counts.get(n.op, 0) + 1
    # most used first, ties by name
    assert list(info["op_types"].items()) == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert info["op_types"]["VariableV2"] == 4 and info["op_types"]["VarHandleOp"] == 1
    assert g.calls() == []                     # a TF1 graph calls no function


def test_binary_text_and_text_behind_a_binary_name_are_one_graph(tf1):
    dest, meta, _made = tf1
    names = [n.name for n in meta.graph_def.node]
    for name in ("graph.pb", "graph.pbtxt", "text_behind.pb"):
        g = load_graph(str(dest / name))
        assert g.format == "graphdef" and g.meta_graph is None, name
        assert [n.name for n in g.nodes] == names, name
        assert g.collections() == {} and g.summary().get("saver") is None
    assert looks_like_text("a.pb", (dest / "text_behind.pb").read_bytes())
    assert not looks_like_text("a.pb", (dest / "graph.pb").read_bytes())
    assert looks_like_text("a.txt", b"\x00binary")
    # a meta graph behind a GraphDef's name is still read as the meta graph
    (dest / "meta_as.pb").write_bytes((dest / "model.meta").read_bytes())
    g = load_graph(str(dest / "meta_as.pb"))
    assert g.format == "metagraph" and g.meta_graph.saver_def.restore_op_name == meta.saver_def.restore_op_name


def test_consumers_and_inputs_by_node(tf1):
    dest, meta, _made = tf1
    g = load_graph(str(dest / "model.meta"))
    theirs: dict[str, set[str]] = {}
    for n in meta.graph_def.node:
        for inp in n.input:
            theirs.setdefault(inp.lstrip("^").split(":")[0], set()).add(n.name)
    for name in g.index:
        assert set(g.consumers(name)) == theirs.get(name, set()), name
    assert "probs" in g.consumers("logits") and g.consumers("probs") == []
    assert input_node("^ctrl") == "ctrl" and input_node("a/b:1") == "a/b" and input_node("c") == "c"


def test_a_tf1_saved_model_keeps_its_tags_and_signatures(saved, tmp_path):
    info1 = saved.tf1
    (g,) = load_saved_model(str(info1.dir / "saved_model.pb"))
    assert g.format == "savedmodel" and g.tags() == info1.tags == ["serve"]
    assert set(g.signatures()) == {info1.signature}
    info = g.summary()
    sig = info["signatures"][info1.signature]
    assert info["tags"] == ["serve"]
    assert sig["inputs"] == {"x": "x:0"} and sig["outputs"] == {"y": "y:0"}
    assert sig["input_specs"] == {"x": "float32 [-1, 3]"} and sig["output_specs"] == {"y": "float32 [-1, 1]"}
    assert sig["method"] == "tensorflow/serving/predict"
    assert "saver" in info and g.checkpoint_keys() == {"w": "w", "b": "b"} == {k: k for k in info1.values}
    assert g.trainable_keys() is None and g.variable_names() == {}   # TF1: no object graph
    # the same file under a graph's name opens as its first meta graph
    (tmp_path / "sm.pb").write_bytes((info1.dir / "saved_model.pb").read_bytes())
    again = load_graph(str(tmp_path / "sm.pb"))
    assert again.format == "savedmodel" and again.tags() == ["serve"]


def test_a_tf2_saved_model_says_which_variables_train(saved):
    info2 = saved.tf2
    (g,) = load_saved_model(str(info2.dir / "saved_model.pb"))
    assert set(info2.values) == {f"{n}/.ATTRIBUTES/VARIABLE_VALUE" for n in ("w", "b", "calls")}
    assert g.trainable_keys() == {"w/.ATTRIBUTES/VARIABLE_VALUE", "b/.ATTRIBUTES/VARIABLE_VALUE"}
    assert g.variable_names() == {f"{n}/.ATTRIBUTES/VARIABLE_VALUE": n for n in ("w", "b", "calls")}
    assert g.functions.names() and g.calls()     # the signature's call ops
    assert g.tags() == ["serve"] and g.summary()["init_ops"] == ["NoOp"]   # TF2 writes one


def test_bytes_that_are_no_graph_are_refused_by_name(tmp_path):
    for name, data, what in [("junk.pb", bytes(range(256)) * 4, "GraphDef (binary)"),
                             ("junk.meta", b"\x0a\x05hello" + b"\xff" * 40, "MetaGraphDef (binary)"),
                             ("junk.pbtxt", b"node { name: 'a' op: ", "GraphDef (text)"),
                             ("empty.pb", b"", "GraphDef (binary)")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(FormatError) as err:
            load_graph(str(path))
        assert what in str(err.value) and f"{name} is corrupt" in str(err.value), name
    (tmp_path / "saved_model.pb").write_bytes(b"\x12\x03abc")
    with pytest.raises(FormatError, match="does not parse as a SavedModel"):
        load_saved_model(str(tmp_path / "saved_model.pb"))
    (tmp_path / "none.pb").write_bytes(protos.SavedModel(saved_model_schema_version=1).SerializeToString())
    with pytest.raises(FormatError, match="does not parse as a SavedModel"):
        load_saved_model(str(tmp_path / "none.pb"))


def test_a_parse_with_names_no_graph_has_is_not_taken_for_one(tmp_path):
    def graph_of(*pairs):
        gd = protos.GraphDef()
        for name, op in pairs:
            gd.node.add(name=name, op=op)
        return gd.SerializeToString()

    good = [("a/b-1.c_d>e", "MatMul"), ("9start", "_Underscored2")]
    (tmp_path / "good.pb").write_bytes(graph_of(*good))
    assert [n.name for n in load_graph(str(tmp_path / "good.pb")).nodes] == ["a/b-1.c_d>e", "9start"]
    for bad in [("_a", "Op"), ("a b", "Op"), ("a", "1Op"), ("a", "Op-x"), ("", "Op"), ("a", "")]:
        (tmp_path / "bad.pb").write_bytes(graph_of(("ok", "Const"), bad))
        with pytest.raises(FormatError):
            load_graph(str(tmp_path / "bad.pb"))


def test_parse_proto_gives_none_for_what_does_not_parse():
    assert parse_proto(protos.GraphDef, b"\xff\xff", False) is None
    assert parse_proto(protos.GraphDef, b"node {", True) is None
    assert parse_proto(protos.GraphDef, b"\xff", True) is None          # not UTF-8
    msg = parse_proto(protos.GraphDef, b"node { name: 'a' op: 'B' } future_field: 3", True)
    assert [n.name for n in msg.node] == ["a"]                         # unknown fields let pass


def test_scope_tree_counts_ops_and_params_at_every_level():
    names = ["a/b/w", "a/b/w/Assign", "a/c", "d"]
    tree = scope_tree(names, sizes={0: 12, 2: 5})
    assert (tree.op_count, tree.params) == (4, 17)
    a = tree.children["a"]
    assert (a.op_count, a.params, a.path, a.op) == (3, 17, "a", None)
    w = a.children["b"].children["w"]
    assert (w.op, w.op_count, w.params, w.path) == (0, 2, 12, "a/b/w")
    assert w.children["Assign"].op == 1 and w.children["Assign"].parent is w
    assert a.children["c"].op == 2 and tree.children["d"].op == 3 and tree.children["d"].params == 0
    assert w.expandable and not a.children["c"].expandable
    # a duplicate name keeps the first op; beneath a root, paths and the function carry on
    dup = scope_tree(["x", "x"])
    assert dup.children["x"].op == 0 and dup.children["x"].op_count == 2
    root = scope_tree(["k/m"], root=scope_tree(["top"]).children["top"], function="fn")
    k = root.children["k"]
    assert k.path == "top/k" and k.function == "fn" and k.children["m"].path == "top/k/m"
    assert root.op_count == 2


def test_a_graph_made_in_memory_indexes_the_first_of_duplicate_names():
    gd = protos.GraphDef()
    gd.node.add(name="a", op="Const")
    gd.node.add(name="a", op="Identity")
    g = Graph(gd)
    assert g.node("a").op == "Const" and g.has_op("a") and not g.has_op("b")
    assert g.format == "graphdef" and g.source == ""


# -- attrs as the details pane shows them ----------------------------------------------

def test_attrs_of_ops_tensorflow_made_read_as_text(tmp_path, tf):
    from app.formats.attrs import attr_text

    from . import tf_fixtures as fx
    made = fx.attr_graph(tmp_path / "attrs")
    nodes = {n.name: n for n in protos.GraphDef.FromString(made.graph_def).node}
    attrs = {k: attr_text(v) for k, v in nodes["conv"].attr.items()}
    assert attrs["strides"] == "[" + ", ".join(str(s) for s in made.strides) + "]" == "[1, 2, 2, 1]"
    assert attrs["padding"] == "'SAME'" and attrs["data_format"] == "'NHWC'"
    assert attrs["T"] == "float32" and attrs["use_cudnn_on_gpu"] == "True"
    assert attrs["explicit_paddings"] == "[]"
    assert attr_text(nodes["x"].attr["shape"]) == "[?, 8, 8, 3]"
    assert attr_text(nodes["anything"].attr["shape"]) == "<unknown rank>"
    assert attr_text(nodes["scalar"].attr["value"]) == "float32 [] = 2.5"
    assert attr_text(nodes["eight"].attr["value"]) == "int32 [2, 4] = [0, 1, 2, 3, 4, 5, 6, 7]"
    assert attr_text(nodes["nine"].attr["value"]) == "int64 [9]"          # too many: shape only
    assert attr_text(nodes["strings"].attr["value"]) == "string [2] = ['ab', 'c']"


def test_every_kind_of_attr_value_reads_as_text():
    from app.formats.attrs import attr_text, shape_text
    av = protos.attr_value_pb2.AttrValue
    assert attr_text(av()) == ""
    assert attr_text(av(s=b"x" * 120)) == repr("x" * 120)
    assert attr_text(av(s=b"y" * 121)) == repr("y" * 117 + "...")
    assert attr_text(av(s=b"\xffa")) == repr("\\xffa")
    assert attr_text(av(i=-3)) == "-3" and attr_text(av(b=False)) == "False"
    assert attr_text(av(f=0.1)) == "0.1" and attr_text(av(f=1234567.0)) == "1.23457e+06"
    assert attr_text(av(type=9)) == "int64"
    assert attr_text(av(placeholder="T")) == "$T"
    fn = av()
    fn.func.name = "__inference_f_12"
    assert attr_text(fn) == "function __inference_f_12"
    lst = av()
    lst.list.s.extend([b"a", b"b"])
    lst.list.i.append(4)
    lst.list.f.append(0.5)
    lst.list.b.append(True)
    lst.list.type.append(1)
    lst.list.shape.add().dim.add(size=-1)
    lst.list.shape.add(unknown_rank=True)
    t = lst.list.tensor.add(dtype=3)
    t.int_val.append(7)
    lst.list.func.add(name="g")
    assert attr_text(lst) == ("['a', 'b', 4, 0.5, True, float32, [?], <unknown rank>, int32 [] = 7, "
                              "function g]")
    bad = av()
    bad.tensor.dtype = 1
    bad.tensor.tensor_shape.unknown_rank = True
    assert attr_text(bad) == "float32 <unknown rank> (tensor has an unknown shape)"
    shape = protos.tensor_shape_pb2.TensorShapeProto()
    shape.dim.add(size=2)
    assert shape_text(shape) == "[2]"


# -- made by hand: what TensorFlow's own writers do not show -----------------------------

def _node(gd, name, op, inputs=(), **attrs):
    n = gd.node.add(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        n.attr[key].CopyFrom(value)
    return n


def _strings(*values):
    av = protos.attr_value_pb2.AttrValue()
    av.tensor.dtype = 7
    av.tensor.string_val.extend(values)
    return av


def _shape(*dims):
    av = protos.attr_value_pb2.AttrValue()
    for d in dims:
        av.shape.dim.add(size=d)
    return av


def test_checkpoint_keys_through_every_save_op_and_read():
    gd = protos.GraphDef()
    for name, op in [("a", "VariableV2"), ("b", "VarHandleOp"), ("c", "Variable"), ("d", "VariableV2"),
                     ("e", "VariableV2")]:
        _node(gd, name, op, shape=_shape(2))
    _node(gd, "a/snap", "Snapshot", ["a"])
    _node(gd, "b/read", "ReadVariableOp", ["b"])
    _node(gd, "c/id", "Identity", ["c"])
    _node(gd, "d/add", "Add", ["d", "d"])                 # not a read: no variable behind it
    _node(gd, "names", "Const", value=_strings(b"key_a", b"key_b", b"k\xffc", b"key_d"))
    _node(gd, "names2", "Const", value=_strings(b"second_a", b"key_e"))
    _node(gd, "save", "SaveV2", ["file", "names", "slices", "a/snap", "^ctrl", "c/id:0", "d/add"])
    _node(gd, "save_1", "Save", ["file", "names2", "a", "e"])           # no shapes input: names, then tensors
    _node(gd, "save_2", "SaveSlices", ["file", "missing_names", "slices", "e"])  # names no node holds
    _node(gd, "save_3", "SaveV2", ["file", "names"])                     # too few inputs
    _node(gd, "save_4", "SaveV2", ["file", "b/read", "slices", "b/read"])  # names not a Const of strings
    for name in ("f", "g", "h"):
        _node(gd, name, "VariableV2")
    _node(gd, "names3", "Const", value=_strings(b"key_f"))
    _node(gd, "save_5", "SaveSlices", ["file", "names3", "shapes", "f"])   # after one that failed
    _node(gd, "names4", "Const", value=_strings(b"key_h"))
    _node(gd, "save_6", "Save", ["file", "names4", "h"])                  # three inputs: one tensor
    _node(gd, "bogus", "Const", value=_strings(b"not_a_key"))
    _node(gd, "concat", "ConcatV2", ["x", "bogus", "axis", "g"])          # no save op
    keys = Graph(gd).checkpoint_keys()
    # the first save op naming a variable wins; a name not UTF-8 survives as it was
    assert keys == {"a": "key_a", "b": "b", "c": "k\udcffc", "d": "d", "e": "key_e", "f": "key_f",
                    "g": "g", "h": "key_h"}


def test_variable_reads_are_followed_a_bounded_way():
    gd = protos.GraphDef()
    _node(gd, "v", "VariableV2")
    prev = "v"
    for i in range(15):
        _node(gd, f"r{i}", "Identity", [prev])
        prev = f"r{i}"
    _node(gd, "loop_a", "Identity", ["loop_b"])
    _node(gd, "loop_b", "Identity", ["loop_a"])
    _node(gd, "lone", "Identity", [])
    _node(gd, "names", "Const", value=_strings(b"deep", b"loop", b"lone", b"gone"))
    _node(gd, "save", "SaveV2", ["f", "names", "s", prev, "loop_a", "lone", "nowhere"])
    assert Graph(gd).checkpoint_keys() == {"v": "deep"}


def test_variable_sizes_only_where_the_shape_is_known():
    gd = protos.GraphDef()
    _node(gd, "known", "VariableV2", shape=_shape(3, 4))
    _node(gd, "scalar", "VarHandleOp", shape=_shape())
    _node(gd, "partial", "VariableV2", shape=_shape(-1, 4))
    unknown = protos.attr_value_pb2.AttrValue()
    unknown.shape.unknown_rank = True
    _node(gd, "unknown", "VariableV2", shape=unknown)
    _node(gd, "no_attr", "VariableV2")
    _node(gd, "not_a_variable", "Const", shape=_shape(5))
    g = Graph(gd)
    assert g.variable_sizes() == {"known": 12, "scalar": 1}
    assert g.variables() == ["known", "scalar", "partial", "unknown", "no_attr"]


def test_collections_of_variable_defs_and_tensors_by_their_ops():
    mg = protos.MetaGraphDef()
    _node(mg.graph_def, "v", "VariableV2")
    vdef = mg.collection_def["variables"].bytes_list.value
    vdef.append(b"\x0a\x03v:0\x12\x08v/Assign")    # a VariableDef: its name first
    vdef.append(b"\x12\x03abc")                     # no name first: not a variable
    vdef.append(b"\x0a")                             # too short
    vdef.append(b"\x0a\x02\xff\xfe")                 # a name that is not UTF-8
    vdef.append(b"\x0a\x05w:0")                      # a length past the end: what is there
    vdef.append(b"\x0a\xff")                          # a length that never ends
    vdef.append(b"\x0a\x01u\x12\x02ab")              # the name, then other fields
    for size in (128, 20000):                          # two- and three-byte lengths
        name = (f"n{size}" + "x" * size)[:size].encode()
        length = bytes([0x80 | (size & 0x7F), size >> 7]) if size < 16384 else \
            bytes([0x80 | (size & 0x7F), 0x80 | ((size >> 7) & 0x7F), size >> 14])
        vdef.append(b"\x0a" + length + name + b"\x12\x01z")
    mg.collection_def["losses"].node_list.value.extend(["loss:0", "^ctrl", "op"])
    mg.collection_def["floats"].float_list.value.append(1.0)
    mg.collection_def["empty"].SetInParent()
    g = Graph(mg.graph_def, mg, "x.meta", "metagraph")
    n128, n20000 = ("n128" + "x" * 128)[:128], ("n20000" + "x" * 20000)[:20000]
    assert g.collections() == {"variables": ["v", "w", "u", n128, n20000], "losses": ["loss", "ctrl", "op"],
                               "floats": [], "empty": []}
    assert g.collections_of("loss") == ["losses"] and g.collections_of("v") == ["variables"]
    # without a meta graph: none, and no tags, signatures, object graph
    bare = Graph(mg.graph_def)
    assert bare.collections() == {} and bare.tags() == [] and bare.signatures() == {}
    assert bare.trainable_keys() is None and bare.variable_names() == {}
    assert "saver" not in g.summary() and "tags" not in bare.summary()


def test_an_object_graph_without_variables_says_nothing_of_training():
    mg = protos.MetaGraphDef()
    _node(mg.graph_def, "x", "Placeholder")
    mg.object_graph_def.nodes.add().user_object.identifier = "module"
    g = Graph(mg.graph_def, mg, "saved_model.pb", "savedmodel")
    assert g.trainable_keys() is None and g.variable_names() == {}
    var = mg.object_graph_def.nodes.add()
    var.variable.trainable = True
    mg.object_graph_def.nodes[0].children.add(local_name="v", node_id=1)
    g = Graph(mg.graph_def, mg, "saved_model.pb", "savedmodel")
    assert g.trainable_keys() == {"v/.ATTRIBUTES/VARIABLE_VALUE"}
    assert g.variable_names() == {}                 # a variable without a name of its own


def test_a_text_saved_model_and_a_graph_after_its_fiftieth_node(tmp_path):
    from google.protobuf import text_format
    sm = protos.SavedModel()
    mg = sm.meta_graphs.add()
    mg.meta_info_def.tags.append("serve")
    _node(mg.graph_def, "x", "Placeholder")
    (tmp_path / "saved_model.pbtxt").write_text(text_format.MessageToString(sm))
    (g,) = load_saved_model(str(tmp_path / "saved_model.pbtxt"))
    assert g.tags() == ["serve"] and g.source == str(tmp_path / "saved_model.pbtxt")
    # only the first 50 names are looked at to tell a graph from other bytes
    gd = protos.GraphDef()
    for i in range(50):
        _node(gd, f"n{i}", "NoOp")
    _node(gd, "not a name", "NoOp")
    (tmp_path / "long.pb").write_bytes(gd.SerializeToString())
    assert len(load_graph(str(tmp_path / "long.pb")).nodes) == 51


def _forms():
    """A GraphDef, the MetaGraphDef and the SavedModel holding it."""
    gd = protos.GraphDef()
    _node(gd, "x", "Placeholder")
    _node(gd, "scope/y", "Identity")
    mg = protos.MetaGraphDef()
    mg.graph_def.CopyFrom(gd)
    mg.meta_info_def.tags.append("serve")
    sm = protos.SavedModel()
    sm.meta_graphs.add().CopyFrom(mg)
    return {"graphdef": gd, "metagraph": mg, "savedmodel": sm}


@pytest.mark.parametrize("name, kind, form", [
    ("g.pb", "graphdef", "binary"), ("g.pbtxt", "graphdef", "text"), ("g.meta", "graphdef", "binary"),
    ("g.pbtxt", "graphdef", "commented"), ("g.txt", "graphdef", "commented"),
    ("frozen.model", "graphdef", "text"),
    ("m.meta", "metagraph", "binary"), ("m.meta", "metagraph", "text"), ("m.pbtxt", "metagraph", "text"),
    ("m.pb", "metagraph", "binary"), ("m.pbtxt", "metagraph", "commented"),
    ("s.pb", "savedmodel", "binary"), ("s.pbtxt", "savedmodel", "text"), ("s.meta", "savedmodel", "text"),
])
def test_every_graph_form_under_any_name_reads_as_what_it_is(tmp_path, name, kind, form):
    """Binary or text (known by the name, or by the start of the bytes when the name does
    not say), tried in the order the name suggests."""
    from google.protobuf import text_format
    msg = _forms()[kind]
    text = text_format.MessageToString(msg)
    data = {"binary": msg.SerializeToString(), "text": text.encode(),
            "commented": ("# written by hand\n" + text).encode()}[form]   # only the name says text
    path = tmp_path / name
    path.write_bytes(data)
    g = load_graph(str(path))
    assert (g.format, g.source) == (kind, str(path))
    assert [n.name for n in g.nodes] == ["x", "scope/y"]
    assert (g.meta_graph is None) == (kind == "graphdef")


@pytest.mark.parametrize("name, data, what", [
    ("a.pb", b"abc\x00\xff\xfe\x01", "GraphDef (binary)"),         # a letter first, no brace
    ("b.pb", b"ab {\x00\xff\xfe\x01", "GraphDef (binary)"),        # a brace, but a NUL too
    ("c.meta", b"meta_info_def { tags: ", "MetaGraphDef (text)"),
])
def test_bytes_that_only_look_like_a_graph_are_refused_naming_the_file(tmp_path, name, data, what):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FormatError) as err:
        load_graph(str(path))
    assert err.value.path == str(path)
    assert err.value.problem == f"does not parse as a {what}; {name} is corrupt or not a TensorFlow graph"
