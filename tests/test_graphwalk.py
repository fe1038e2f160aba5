"""The fetch-path walk (app.runner.graphwalk) on small graphs built from protos by hand, no
TensorFlow: which placeholders a fetch needs, where the walk stops, the file an unsafe op
names, what restoring and loading run. Each graph is shaped so that a wrong walk gives a
different answer (order, a missed or an extra op); tests/test_runner.py checks the same
walk against graphs TensorFlow wrote and runs."""

from __future__ import annotations

import pytest

from app.formats.graph import Graph
from app.formats.protos import GraphDef, MetaGraphDef, NodeDef
from app.runner import graphwalk
from app.runner.graphwalk import CODE, NETWORK, READS, WRITES, FetchPath, Placeholder, UnsafeOp

DT_FLOAT, DT_INT32, DT_STRING = 1, 3, 7


def node(name: str, op: str, *inputs: str, **attrs) -> NodeDef:
    """A NodeDef; attrs given as bytes are string attrs, as ints dtypes."""
    n = NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        if isinstance(value, bytes):
            n.attr[key].s = value
        elif isinstance(value, int):
            n.attr[key].type = value
    return n


def placeholder(name: str, op: str = "Placeholder", dtype: int = DT_FLOAT, shape=None) -> NodeDef:
    n = node(name, op, dtype=dtype)
    if shape == "unknown":
        n.attr["shape"].shape.unknown_rank = True
    elif shape is not None:
        n.attr["shape"].shape.SetInParent()
        for d in shape:
            n.attr["shape"].shape.dim.add().size = d
    return n


def string_const(name: str, *values: bytes, shape=None) -> NodeDef:
    n = node(name, "Const")
    t = n.attr["value"].tensor
    t.dtype = DT_STRING
    t.string_val.extend(values)
    for d in (len(values),) if shape is None else shape:
        t.tensor_shape.dim.add().size = d
    return n


def graph(*nodes: NodeDef, functions=(), meta: MetaGraphDef | None = None) -> Graph:
    gd = GraphDef()
    gd.node.extend(nodes)
    for f in functions:
        gd.library.function.add().CopyFrom(f)
    if meta is not None:
        meta.graph_def.CopyFrom(gd)
        return Graph(meta.graph_def, meta)
    return Graph(gd)


def function(name: str, args=(), *nodes: NodeDef):
    f = GraphDef().library.function.add()
    f.signature.name = name
    for a in args:
        f.signature.input_arg.add(name=a)
    f.node_def.extend(nodes)
    return f


def calls(n: NodeDef, attr: str, *names: str) -> NodeDef:
    """`n` calling function(s) through a func attr (one name) or a list of funcs."""
    if len(names) == 1:
        n.attr[attr].func.name = names[0]
    else:
        for fname in names:
            n.attr[attr].list.func.add(name=fname)
    return n


def names(items) -> list[str]:
    return [p.name for p in items]


# -- tensor names ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("x", ("x", 0)), ("x:0", ("x", 0)), ("x:12", ("x", 12)), ("^x", ("x", 0)),
    ("scope/x:3", ("scope/x", 3)), ("a:b", ("a:b", 0)), ("a:b:2", ("a:b", 2)), ("x:", ("x:", 0)),
])
def test_split_tensor(text, expected):
    assert graphwalk.split_tensor(text) == expected


def test_tensor_name_is_canonical():
    assert [graphwalk.tensor_name(t) for t in ("x", "x:0", "x:2", "^x", "s/y:10")] == [
        "x:0", "x:0", "x:2", "x:0", "s/y:10"]


# -- placeholders and where the walk stops -----------------------------------------------

def test_placeholders_in_input_order_with_dtype_shape_and_optional():
    g = graph(placeholder("a", shape=(2, -1)), placeholder("b", "PlaceholderV2", DT_INT32, ()),
              placeholder("c", "PlaceholderWithDefault", shape="unknown"),
              node("d", "Placeholder"),                     # no dtype, no shape
              node("out", "AddN", "a", "b:0", "c", "d"))
    path = graphwalk.analyze(g, ["out"])
    assert path.placeholders == [Placeholder("a", "float32", (2, None)),
                                 Placeholder("b", "int32", ()),
                                 Placeholder("c", "float32", None, True),
                                 Placeholder("d", "unknown", None)]
    assert names(path.required) == ["a", "b", "d"]
    assert path.fetches == ["out"] and path.missing == [] and path.unsafe == []


def test_fetches_in_order_and_each_op_once():
    # a diamond: "shared" is reached twice; what comes after the second time still counts
    g = graph(placeholder("p1"), placeholder("p2"), placeholder("p3"),
              node("shared", "Neg", "p1"), node("left", "Neg", "shared"),
              node("right", "Add", "shared", "p2"), node("out", "Add", "left", "right"),
              node("second", "Neg", "p3"))
    path = graphwalk.analyze(g, ["out:0", "second"])
    assert names(path.placeholders) == ["p1", "p2", "p3"]
    assert path.fetches == ["out", "second"]


def test_cycles_end():
    g = graph(placeholder("p"), node("merge", "Merge", "p", "next"),
              node("body", "Neg", "merge"), node("next", "NextIteration", "body"),
              node("out", "Exit", "merge"))
    assert names(graphwalk.analyze(g, ["out"]).placeholders) == ["p"]


def test_missing_names_are_listed_and_the_walk_goes_on():
    g = graph(placeholder("p"), placeholder("q"), node("out", "Add", "gone:1", "p"))
    path = graphwalk.analyze(g, ["nothing:0", "out", "q"])
    assert path.missing == ["nothing", "gone"]
    assert names(path.placeholders) == ["p", "q"]


@pytest.mark.parametrize("op", ["VariableV2", "VarHandleOp", "Const", "HostConst"])
def test_variables_and_constants_end_data_edges_not_control_edges(op):
    g = graph(placeholder("data"), placeholder("ctrl"), node("v", op, "data", "^ctrl"),
              node("out", "Identity", "v"))
    assert names(graphwalk.analyze(g, ["out"]).placeholders) == ["ctrl"]


def test_control_inputs_are_followed():
    g = graph(placeholder("p"), placeholder("q"), node("out", "NoOp", "^p", "^q"))
    assert names(graphwalk.analyze(g, ["out"]).placeholders) == ["p", "q"]


def test_a_fed_tensor_cuts_the_walk_behind_it():
    g = graph(placeholder("p"), placeholder("q"), node("split", "Split", "p"),
              node("mid", "Neg", "q"), node("out", "AddN", "split:1", "mid", "split"))
    # only the fed output of an op is cut: split:0 still needs p
    assert names(graphwalk.analyze(g, ["out"], fed=["split:1", "mid"]).placeholders) == ["p"]
    assert names(graphwalk.analyze(g, ["out"], fed=["split", "split:1", "mid:0"]).placeholders) == []
    assert names(graphwalk.analyze(g, ["out"], fed=["q"]).placeholders) == ["p"]


def test_fetching_a_fed_tensor_runs_nothing():
    g = graph(placeholder("p"), node("mid", "Neg", "p"), node("w", "WriteFile"),
              node("out", "Neg", "mid", "^w"))
    path = graphwalk.analyze(g, ["out:0", "mid"], fed=["out"])
    assert path.fetches == ["mid"] and names(path.placeholders) == ["p"] and path.unsafe == []
    path = graphwalk.analyze(g, ["out:1"], fed=["out"])   # another output of a fed op runs it
    assert [u.op for u in path.unsafe] == ["WriteFile"]


# -- unsafe ops on the path, and the file they name -----------------------------------------

def test_unsafe_ops_found_on_data_and_control_edges_only_on_the_path():
    g = graph(string_const("fname", b"/tmp/out.txt"), string_const("text", b"hi"),
              node("write", "WriteFile", "fname", "text"), node("py", "PyFunc"),
              node("send", "_Send"), node("out", "Neg", "py", "^write"),
              node("clean", "Neg", "text"))
    path = graphwalk.analyze(g, ["out"])
    assert path.unsafe == [UnsafeOp("py", "PyFunc", CODE),
                           UnsafeOp("write", "WriteFile", WRITES, "/tmp/out.txt")]
    assert graphwalk.analyze(g, ["clean"]).unsafe == []


# What each op's target is taken from: its first input, or the second for table loads.
FILE_INPUT = ["WriteFile", "ReadFile", "MatchingFiles", "Save", "SaveV2", "SaveSlices", "Restore",
              "RestoreV2", "RestoreSlice", "CreateSummaryFileWriter"]
TABLE_FILE = ["InitializeTableFromTextFile", "InitializeTableFromTextFileV2"]


@pytest.mark.parametrize("op", FILE_INPUT + TABLE_FILE)
def test_the_file_an_op_names_is_shown(op):
    first, second = ("table", "fname") if op in TABLE_FILE else ("fname", "table")
    g = graph(string_const("fname", b"/data/file"), string_const("table", b"not it"),
              node("op", op, first, second))
    (u,) = graphwalk.analyze(g, ["op"]).unsafe
    assert (u.op, u.target) == (op, "/data/file")
    assert str(u) == f"op ({op}) {u.risk}: /data/file"


def test_no_file_shown_for_ops_that_take_none_or_when_it_is_not_a_string_constant():
    no_file = node("ds", "TFRecordDataset", "fname")               # unsafe, but no file input
    bare = node("bare", "WriteFile")                               # no inputs at all
    computed = node("computed", "ReadFile", "join")                # a name made at run time
    numeric = node("numeric", "ReadFile", "number")
    number = node("number", "Const")
    number.attr["value"].tensor.dtype = DT_INT32
    number.attr["value"].tensor.int_val.append(3)
    empty = node("empty", "ReadFile", "nothing")
    no_value = node("no_value", "ReadFile", "valueless")
    undecodable = node("undecodable", "ReadFile", "odd")
    odd = node("odd", "Const")
    odd.attr["value"].tensor.dtype = 1000                          # not a dtype at all
    g = graph(string_const("fname", b"/data/file"), node("join", "StringJoin", "fname"),
              number, string_const("nothing", shape=(0,)), node("valueless", "Const"), odd,
              no_file, bare, computed, numeric, empty, no_value, undecodable,
              node("lost", "ReadFile", "gone"), node("idle", "ReadFile", "stub"),
              node("stub", "Identity"), node("valued", "ReadFile", "not_const"),
              string_const("not_const", b"/looks/like/a/file"))
    not_const = g.node("not_const")
    not_const.op = "StringJoin"                                    # a value attr does not make a constant
    fetched = ["ds", "bare", "computed", "numeric", "empty", "no_value", "undecodable", "lost", "idle",
               "valued"]
    path = graphwalk.analyze(g, fetched)
    assert [(u.name, u.target) for u in path.unsafe] == [(n, "") for n in fetched]
    assert str(path.unsafe[0]) == f"ds (TFRecordDataset) {READS}"


def test_file_names_through_identity_ops_many_and_not_utf8():
    g = graph(string_const("c", b"/a", b"/b", b"/c"), string_const("four", b"1", b"2", b"3", b"4"),
              string_const("latin", b"/caf\xe9"),
              node("i1", "Identity", "c"), node("i2", "Snapshot", "i1:0"),
              node("i3", "StopGradient", "i2"), node("i4", "IdentityN", "i3"),
              node("three", "MatchingFiles", "i4"), node("more", "MatchingFiles", "four"),
              node("bytes", "ReadFile", "latin"))
    path = graphwalk.analyze(g, ["three", "more", "bytes"])
    assert [u.target for u in path.unsafe] == ["/a, /b, /c", "1, 2, 3, …", "/caf\ufffd"]


def test_a_chain_of_identities_is_followed_to_a_bound():
    def chain(length: int) -> Graph:
        ids = [node(f"i{k}", "Identity", f"i{k - 1}" if k else "c") for k in range(length)]
        return graph(string_const("c", b"/far"), *ids,
                     node("read", "ReadFile", f"i{length - 1}" if length else "c"))
    assert graphwalk.analyze(chain(7), ["read"]).unsafe[0].target == "/far"
    assert graphwalk.analyze(chain(8), ["read"]).unsafe[0].target == ""
    loop = graph(node("a", "Identity", "b"), node("b", "Identity", "a"),
                 node("read", "ReadFile", "a"))
    assert graphwalk.analyze(loop, ["read"], fed=["a"]).unsafe[0].target == ""


def test_print_and_immutable_const_targets_come_from_attrs():
    g = graph(node("log", "PrintV2", "x", output_stream=b"file:///var/log/\xff.txt"),
              node("mapped", "ImmutableConst", memory_region_name=b"/models/w\xfe.bin"),
              node("mapped2", "ImmutableConst"), node("x", "Neg"), string_const("c", b"/real"),
              node("write", "WriteFile", "c", memory_region_name=b"/decoy"))
    path = graphwalk.analyze(g, ["log", "mapped", "mapped2", "write"])
    assert [(u.op, u.risk, u.target) for u in path.unsafe] == [
        ("PrintV2", WRITES, "/var/log/\ufffd.txt"), ("ImmutableConst", READS, "/models/w\ufffd.bin"),
        ("ImmutableConst", READS, ""), ("WriteFile", WRITES, "/real")]


def test_attrs_that_are_not_utf8_still_classify():
    assert graphwalk.classify(node("p", "PrintV2", output_stream=b"file://\xff")) == WRITES
    assert graphwalk.classify(node("p", "PrintV2", output_stream=b"\xffile://x")) is None
    assert graphwalk.classify(node("p", "PrintV2")) is None
    assert graphwalk.classify(node("p", "StringFormat", output_stream=b"file:///x")) is None
    assert graphwalk.classify(node("d", "DecodeProtoV2", descriptor_source=b"\xff")) == READS
    assert graphwalk.classify(node("d", "DecodeProtoV2", descriptor_source=b"")) is None
    assert graphwalk.classify(node("d", "EncodeProto", descriptor_source=b"local://")) is None
    assert graphwalk.classify(node("d", "EncodeProto")) is None
    assert graphwalk.classify(node("d", "DecodeProto", descriptor_source=b"/x.pb")) is None
    assert graphwalk.classify(node("n", "NcclReduce")) == NETWORK
    assert graphwalk.classify(node("n", "CollectiveBcastSend")) == NETWORK
    assert graphwalk.classify(node("n", "MyCollective")) is None


# -- ops that change state -------------------------------------------------------------

@pytest.mark.parametrize("op", ["Assign", "AssignAdd", "AssignVariableOp", "ApplyAdam",
                                "ResourceApplyAdam", "SparseApplyFtrl", "ResourceSparseApplyAdagrad",
                                "ScatterUpdate", "ResourceScatterAdd", "StridedSliceAssign",
                                "ResourceStridedSliceAssign", "CountUpTo", "ResourceCountUpTo",
                                "LookupTableInsertV2", "LookupTableRemoveV2", "LookupTableImportV2",
                                "InitializeTableV2", "DestroyResourceOp"])
def test_mutating_ops(op):
    assert graphwalk.is_mutating(op)


@pytest.mark.parametrize("op", ["ScatterNd", "ScatterNdNonAliasingAdd", "ReadVariableOp",
                                "LookupTableFindV2", "MatMul", "Identity", "TensorScatterUpdate"])
def test_ops_that_do_not_mutate(op):
    assert not graphwalk.is_mutating(op)


def test_mutating_ops_on_the_path_in_the_graph_and_in_functions():
    inner = function("step", (), node("upd", "AssignAddVariableOp"), node("read", "ReadVariableOp"))
    g = graph(node("assign", "Assign"), node("scatter", "ScatterNd"),
              calls(node("call", "PartitionedCall", "^assign", "scatter"), "f", "step"),
              node("other", "Assign"), functions=[inner])
    # the call's function is scanned when the call is reached, before its inputs
    assert graphwalk.analyze(g, ["call"]).mutating == ["step/upd", "assign"]


# -- functions ---------------------------------------------------------------------------

def test_every_op_of_every_function_called_counts():
    lib = [function("outer", (), calls(node("loop", "While"), "body", "body"),
                    calls(node("branches", "If"), "then_branch", "a", "b"), node("direct", "leaf")),
           function("body", (), node("w", "WriteFile"), calls(node("again", "PartitionedCall"),
                                                              "f", "outer")),
           function("a", (), node("py", "EagerPyFunc")),
           function("b", (), node("read", "ReadFile")),
           function("leaf", (), node("send", "_Send")),
           function("unused", (), node("r", "Rpc"))]
    g = graph(placeholder("x"), calls(node("call", "StatefulPartitionedCall", "x"), "f", "outer"),
              calls(node("safe_call", "PartitionedCall"), "f", "missing_fn"), functions=lib)
    path = graphwalk.analyze(g, ["call", "safe_call"])
    assert sorted((u.function, u.name, u.op, u.risk, u.target) for u in path.unsafe) == [
        ("a", "py", "EagerPyFunc", CODE, ""), ("b", "read", "ReadFile", READS, ""),
        ("body", "w", "WriteFile", WRITES, ""), ("leaf", "send", "_Send", NETWORK, "")]
    assert str(next(u for u in path.unsafe if u.op == "EagerPyFunc")) == f"py (EagerPyFunc in function a) {CODE}"
    assert names(path.placeholders) == ["x"] and path.missing == []


def test_a_function_called_as_an_op_type():
    # inside a function, input names are the function's own: not the graph's constant "c"
    lib = [function("my_fn", ("c",), node("w", "WriteFile", "c"))]
    g = graph(string_const("c", b"/graph/const"), node("call", "my_fn"), node("plain", "Neg"),
              functions=lib)
    assert [(u.function, u.op, u.target) for u in graphwalk.analyze(g, ["call"]).unsafe] == [
        ("my_fn", "WriteFile", "")]
    assert graphwalk.analyze(g, ["plain"]).unsafe == []


def test_functions_scanned_once_even_when_called_twice():
    lib = [function("f", (), node("w", "WriteFile")), function("g", (), node("r", "ReadFile"))]
    g = graph(calls(node("c1", "PartitionedCall"), "f", "f"),
              calls(node("c2", "PartitionedCall"), "f", "f"),
              calls(node("c3", "PartitionedCall"), "fs", "g", "f"), functions=lib)
    assert [(u.function, u.op) for u in graphwalk.analyze(g, ["c1", "c2", "c3"]).unsafe] == [
        ("f", "WriteFile"), ("g", "ReadFile")]


# -- restoring: the saver's restore op may read only the checkpoint it is given ------------

def saver_meta(restore_op: str = "save/restore_all", filename: str = "save/Const:0") -> MetaGraphDef:
    mg = MetaGraphDef()
    mg.saver_def.filename_tensor_name = filename
    mg.saver_def.restore_op_name = restore_op
    return mg


def saver_nodes(*extra_restore_inputs: str, restore_op: str = "RestoreV2", file_input="save/Const"):
    return [string_const("save/Const", b"model"), string_const("other", b"/etc/passwd"),
            node("save/id", "Identity", "save/Const"),
            node("save/RestoreV2", restore_op, file_input, "names"),
            node("v", "VariableV2"), node("save/Assign", "Assign", "v", "save/RestoreV2"),
            node("save/restore_all", "NoOp", "^save/Assign", *extra_restore_inputs)]


@pytest.mark.parametrize("op", ["RestoreV2", "Restore", "RestoreSlice"])
@pytest.mark.parametrize("file_input", ["save/Const", "save/Const:0", "save/id"])
def test_an_honest_restore_has_no_problems(op, file_input):
    g = graph(*saver_nodes(restore_op=op, file_input=file_input), meta=saver_meta())
    assert graphwalk.restore_problems(g) == []


def test_a_restore_op_name_with_an_output_index_is_walked():
    g = graph(*saver_nodes("^w"), node("w", "WriteFile"), meta=saver_meta("save/restore_all:0"))
    assert [u.name for u in graphwalk.restore_problems(g)] == ["w"]


def test_a_restore_that_reads_another_file_or_writes_is_a_problem():
    g = graph(*saver_nodes("^w", "^r"), node("w", "WriteFile", "other"),
              node("r", "RestoreV2", "other"), meta=saver_meta())
    assert [(u.name, u.op, u.target) for u in graphwalk.restore_problems(g)] == [
        ("w", "WriteFile", "/etc/passwd"), ("r", "RestoreV2", "/etc/passwd")]
    g = graph(*saver_nodes(file_input="other"), meta=saver_meta())
    assert [u.name for u in graphwalk.restore_problems(g)] == ["save/RestoreV2"]
    # the filename is fed, so what made the saver's constant does not run
    g = graph(*saver_nodes(), node("w", "WriteFile"), meta=saver_meta())
    g.node("save/Const").input.append("^w")
    assert graphwalk.restore_problems(g) == []
    g = graph(*saver_nodes(), node("bare", "RestoreV2"), meta=saver_meta())
    g.node("save/restore_all").input.append("^bare")
    assert [u.name for u in graphwalk.restore_problems(g)] == ["bare"]


def test_restores_only_of_what_a_graph_has():
    assert graphwalk.restore_problems(graph(*saver_nodes("^w"), node("w", "WriteFile"))) == []
    assert graphwalk.restore_problems(graph(*saver_nodes("^w"), node("w", "WriteFile"),
                                            meta=MetaGraphDef())) == []
    assert graphwalk.restore_problems(graph(*saver_nodes("^w"), node("w", "WriteFile"),
                                            meta=saver_meta(restore_op=""))) == []


def traced_restore(file_arg: int = 0, pass_through: bool = True, restore_op: str = "RestoreV2"):
    """TF2's restore: a function whose argument is the file name, called by the restore op."""
    body = [node("restore", restore_op, "id:output:0" if pass_through else f"arg{file_arg}", "names")]
    if pass_through:
        body.insert(0, node("id", "Identity", f"arg{file_arg}"))
    return function("restore_fn", ("arg0", "arg1"), *body)


def call_restore(*inputs: str) -> list[NodeDef]:
    return [string_const("save/Const", b"model"), string_const("other", b"/etc/passwd"),
            calls(node("save/restore_all", "StatefulPartitionedCall", *inputs), "f", "restore_fn")]


@pytest.mark.parametrize("pass_through", [True, False])
def test_a_traced_restore_reading_its_argument_is_honest(pass_through):
    g = graph(*call_restore("^other", "save/Const", "other"),
              functions=[traced_restore(0, pass_through)], meta=saver_meta())
    assert graphwalk.restore_problems(g) == []


def test_a_traced_restore_reading_something_else_is_a_problem():
    cases = [
        (call_restore("other", "save/Const"), traced_restore(0)),      # the file it reads is not the checkpoint
        (call_restore("save/Const", "other"), traced_restore(1)),
        (call_restore("save/Const"), traced_restore(1)),               # no such argument passed
        (call_restore("save/Const"), function("restore_fn", ("arg0",), node("restore", "RestoreV2"))),
        (call_restore("save/Const"), function("restore_fn", ("arg0",), node("c", "Const"),
                                              node("restore", "RestoreV2", "c:output:0"))),
        (call_restore("save/Const"), function("restore_fn", ("arg0",),
                                              node("restore", "RestoreV2", "gone:output:0"))),
    ]
    for nodes, fdef in cases:
        g = graph(*nodes, functions=[fdef], meta=saver_meta())
        assert [(u.function, u.name) for u in graphwalk.restore_problems(g)] == [("restore_fn", "restore")]


@pytest.mark.parametrize("order", [("^save/restore_all", "^evil"), ("^evil", "^save/restore_all")])
def test_a_restore_function_also_called_with_another_file_is_a_problem(order):
    # the honest call does not vouch for a second call of the same function
    g = graph(*call_restore("save/Const"), node("first", "NoOp", *order),
              calls(node("evil", "StatefulPartitionedCall", "other"), "f", "restore_fn"),
              functions=[traced_restore(0)], meta=saver_meta("first"))
    assert [u.name for u in graphwalk.restore_problems(g)] == ["restore"]


def test_a_restore_function_called_from_another_function_is_a_problem():
    # the file it reads is whatever the outer function passes: not checked, so not trusted
    outer = function("outer", (), string_const("c", b"/etc/passwd"),
                     calls(node("inner_call", "PartitionedCall", "c:output:0"), "f", "restore_fn"))
    g = graph(*call_restore("save/Const"), node("first", "NoOp", "^save/restore_all", "^evil"),
              calls(node("evil", "PartitionedCall"), "f", "outer"),
              functions=[traced_restore(0), outer], meta=saver_meta("first"))
    assert [u.name for u in graphwalk.restore_problems(g)] == ["restore"]
    only_inner = graph(*call_restore("save/Const"), calls(node("evil", "PartitionedCall"), "f", "outer"),
                       functions=[traced_restore(0), outer], meta=saver_meta("evil"))
    assert [u.name for u in graphwalk.restore_problems(only_inner)] == ["restore"]


def test_a_restore_function_repeating_a_name_is_judged_by_every_op_of_it():
    twice = function("restore_fn", ("arg0",), string_const("c", b"/etc/passwd"),
                     node("restore", "RestoreV2", "arg0"), node("restore", "RestoreV2", "c:output:0"))
    g = graph(*call_restore("save/Const"), functions=[twice], meta=saver_meta())
    assert [u.name for u in graphwalk.restore_problems(g)] == ["restore", "restore"]
    # of two functions with one name, the one the walk scanned is the one checked
    honest, hostile = traced_restore(0), function("restore_fn", ("arg0",), string_const("c", b"/x"),
                                                  node("restore", "RestoreV2", "c:output:0"))
    for fns, problems in (([honest, hostile], ["restore"]), ([hostile, honest], [])):
        g = graph(*call_restore("save/Const"), functions=fns, meta=saver_meta())
        assert [u.name for u in graphwalk.restore_problems(g)] == problems


def test_an_argument_found_through_a_long_identity_chain_is_bounded():
    def fn(length: int):
        ids = [node(f"i{k}", "Identity", f"i{k - 1}:output:0" if k else "arg0") for k in range(length)]
        return function("restore_fn", ("arg0",), *ids, node("restore", "RestoreV2", f"i{length - 1}:output:0"))
    assert graphwalk.restore_problems(graph(*call_restore("save/Const"), functions=[fn(15)],
                                            meta=saver_meta())) == []
    assert len(graphwalk.restore_problems(graph(*call_restore("save/Const"), functions=[fn(16)],
                                                meta=saver_meta()))) == 1
    loop = function("restore_fn", ("arg0",), node("a", "Identity", "b:output:0"),
                    node("b", "Identity", "a:output:0"), node("restore", "RestoreV2", "a:output:0"))
    assert len(graphwalk.restore_problems(graph(*call_restore("save/Const"), functions=[loop],
                                                meta=saver_meta()))) == 1
    bare = function("restore_fn", ("arg0",), node("a", "Identity"), node("restore", "RestoreV2", "a"))
    assert len(graphwalk.restore_problems(graph(*call_restore("save/Const"), functions=[bare],
                                                meta=saver_meta()))) == 1


def test_a_graph_file_input_through_a_long_identity_chain_is_bounded():
    def g(length: int, start: str = "save/Const") -> Graph:
        ids = [node(f"i{k}", "Identity", f"i{k - 1}" if k else start) for k in range(length)]
        nodes = [string_const("save/Const", b"model"), *ids,
                 node("save/restore_all", "RestoreV2", f"i{length - 1}" if length else start)]
        return graph(*nodes, meta=saver_meta(filename="save/Const"))
    assert graphwalk.restore_problems(g(15)) == []
    assert len(graphwalk.restore_problems(g(16))) == 1
    assert len(graphwalk.restore_problems(g(2, "gone"))) == 1
    cyclic = graph(node("a", "Identity", "b"), node("b", "Identity", "a"),
                   node("save/restore_all", "RestoreV2", "a"), meta=saver_meta(filename="x:0"))
    assert len(graphwalk.restore_problems(cyclic)) == 1
    bare = graph(node("a", "Identity"), node("save/restore_all", "RestoreV2", "a"),
                 meta=saver_meta(filename="x:0"))
    assert len(graphwalk.restore_problems(bare)) == 1


# -- loading a SavedModel: restore, then its init op, which may read the model's assets -----

def with_init(mg: MetaGraphDef, how: str, op: str = "init") -> MetaGraphDef:
    if how == "signature":
        mg.signature_def["__saved_model_init_op"].outputs["__saved_model_init_op"].name = op
    else:
        mg.collection_def[how].node_list.value.append(op)
    return mg


def asset(mg: MetaGraphDef, tensor: str) -> MetaGraphDef:
    mg.asset_file_def.add().tensor_info.name = tensor
    return mg


def test_init_ops_where_loaders_find_them():
    assert graphwalk.init_ops(graph(node("init", "NoOp"))) == []
    for how in ("saved_model_main_op", "legacy_init_op", "signature"):
        assert graphwalk.init_ops(graph(meta=with_init(MetaGraphDef(), how, "init:0"))) == ["init"]
    main_first = with_init(with_init(MetaGraphDef(), "legacy_init_op", "legacy"), "saved_model_main_op")
    assert graphwalk.init_ops(graph(meta=main_first)) == ["init"]
    legacy_first = with_init(with_init(MetaGraphDef(), "signature", "sig"), "legacy_init_op", "legacy")
    assert graphwalk.init_ops(graph(meta=legacy_first)) == ["legacy"]
    empty = with_init(MetaGraphDef(), "signature", "sig")
    empty.collection_def["saved_model_main_op"].node_list.SetInParent()
    assert graphwalk.init_ops(graph(meta=empty)) == ["sig"]
    other = MetaGraphDef()
    other.signature_def["__saved_model_init_op"].outputs["other"].name = "x:0"
    other.signature_def["serving_default"].outputs["__saved_model_init_op"].name = "y:0"
    assert graphwalk.init_ops(graph(meta=other)) == []


def table_init(file_input: str, name: str = "init") -> list[NodeDef]:
    return [node("table", "HashTableV2"),
            node(name, "InitializeTableFromTextFileV2", "table", file_input)]


def test_an_init_op_reading_the_models_assets_is_expected():
    nodes = [string_const("asset", b"vocab.txt"), node("asset_id", "Identity", "asset"),
             *table_init("asset_id")]
    for how in ("saved_model_main_op", "legacy_init_op", "signature"):
        mg = asset(with_init(MetaGraphDef(), how), "asset:0")
        assert graphwalk.loader_problems(graph(*nodes, meta=mg)) == []


def test_an_init_op_reading_other_files_or_writing_is_a_problem():
    nodes = [string_const("asset", b"vocab.txt"), string_const("other", b"/etc/passwd"),
             node("w", "WriteFile", "other"), *table_init("other"),
             node("init2", "NoOp", "^init", "^w")]
    mg = asset(with_init(MetaGraphDef(), "legacy_init_op", "init2"), "asset:0")
    assert [(u.name, u.target) for u in graphwalk.loader_problems(graph(*nodes, meta=mg))] == [
        ("init", "/etc/passwd"), ("w", "/etc/passwd")]
    # the table's first input is its handle: a handle named like the asset is no licence
    nodes = [string_const("asset", b"vocab.txt"), string_const("other", b"/etc/passwd"),
             node("init", "InitializeTableFromTextFileV2", "asset", "other")]
    mg = asset(with_init(MetaGraphDef(), "legacy_init_op"), "asset:0")
    assert [u.name for u in graphwalk.loader_problems(graph(*nodes, meta=mg))] == ["init"]
    nodes = [node("init", "InitializeTableFromTextFileV2", "asset")]
    mg = asset(with_init(MetaGraphDef(), "legacy_init_op"), "asset:0")
    assert [u.name for u in graphwalk.loader_problems(graph(*nodes, meta=mg))] == ["init"]


def test_loader_problems_add_the_restores_to_the_init_ops():
    nodes = [*saver_nodes("^w1"), node("w1", "WriteFile"), node("w2", "WriteFile"),
             node("init", "NoOp", "^w2")]
    mg = with_init(saver_meta(), "legacy_init_op")
    assert [u.name for u in graphwalk.loader_problems(graph(*nodes, meta=mg))] == ["w1", "w2"]
    assert [u.name for u in graphwalk.loader_problems(graph(*nodes, meta=saver_meta()))] == ["w1"]


def test_init_functions_reading_their_asset_argument_are_expected():
    fn = function("init_fn", ("path",), node("table", "HashTableV2"),
                  node("load", "InitializeTableFromTextFileV2", "table:table_handle:0", "path"))
    nodes = [string_const("asset", b"vocab.txt"), string_const("other", b"/etc/passwd")]
    good = calls(node("init", "StatefulPartitionedCall", "asset"), "f", "init_fn")
    mg = asset(with_init(MetaGraphDef(), "signature"), "asset:0")
    assert graphwalk.loader_problems(graph(*nodes, good, functions=[fn], meta=mg)) == []
    bad = calls(node("init", "StatefulPartitionedCall", "other"), "f", "init_fn")
    mg = asset(with_init(MetaGraphDef(), "signature"), "asset:0")
    assert [u.name for u in graphwalk.loader_problems(graph(*nodes, bad, functions=[fn], meta=mg))] \
        == ["load"]


# -- the records -------------------------------------------------------------------------

def test_records_read_as_users_see_them():
    p = Placeholder("x", "float32", (None, 3), optional=True)
    assert p.tensor == "x:0" and p.describe() == "x (float32, [?, 3], optional)"
    assert Placeholder("n", "int32", None).describe() == "n (int32, any shape)"
    assert str(UnsafeOp("w", "WriteFile", WRITES, "/tmp/f", "fn")) == \
        f"w (WriteFile in function fn) {WRITES}: /tmp/f"
    assert FetchPath(["a"]).required == [] and FetchPath(["a"]).placeholders == []
