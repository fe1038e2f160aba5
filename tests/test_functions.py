"""The function library: counts as TensorFlow's own parse of every real graph and
SavedModel, call sites that open into function bodies, and hostile libraries (a body that
calls itself, a 10,000-deep call chain, a call to a missing function)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.analysis.function_tree import LIBRARY, attach_functions, call_row_name, library_path
from app.analysis.loading import load
from app.formats import protos
from app.formats.functions import Call, Port, op_ref
from app.formats.graph import Graph, load_graph, load_saved_model, scope_tree
from app.runner import service

from .conftest import REALDATA, ROOT

HALF_PLUS_TWO_TF2 = ("tf-serving/tensorflow_serving/servables/tensorflow/testdata/"
                     "saved_model_half_plus_two_tf2_cpu/00000123")


def _realdata_graphs() -> list[str]:
    """Every SavedModel and graph file of the real data (relative paths)."""
    if not REALDATA.is_dir():
        return []
    found = []
    for p in sorted(REALDATA.rglob("*")):
        if not p.is_file():
            continue
        if p.name in ("saved_model.pb", "saved_model.pbtxt") or p.suffix in (".meta", ".pbtxt") or (
                p.suffix == ".pb" and p.name not in ("fingerprint.pb", "tfhub_module.pb",
                                                      "keras_metadata.pb")
                and "assets" not in p.parts):
            found.append(str(p.relative_to(REALDATA)))
    return found


GRAPHS = _realdata_graphs()


def _tf_graph_defs(tf, path: str):
    """TensorFlow's own parse of the file: [graph_def] per meta graph, or None."""
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
    data = open(path, "rb").read()

    def parse(cls):
        msg = cls()
        try:
            if path.endswith(".pbtxt"):
                text_format.Parse(data.decode("utf-8"), msg)
            else:
                msg.ParseFromString(data)
        except Exception:
            return None
        return msg

    if path.endswith(("saved_model.pb", "saved_model.pbtxt")):
        sm = parse(saved_model_pb2.SavedModel)
        return [mg.graph_def for mg in sm.meta_graphs] if sm is not None else None
    if path.endswith(".meta"):
        mg = parse(meta_graph_pb2.MetaGraphDef)
        return [mg.graph_def] if mg is not None and len(mg.graph_def.node) else None
    gd = parse(graph_pb2.GraphDef)
    if gd is not None and len(gd.node):
        return [gd]
    mg = parse(meta_graph_pb2.MetaGraphDef)
    return [mg.graph_def] if mg is not None and len(mg.graph_def.node) else None


@pytest.mark.skipif(not GRAPHS, reason=f"real-world model files not present ({REALDATA})")
@pytest.mark.parametrize("rel", GRAPHS or ["-"])
def test_function_and_node_counts_equal_tensorflows(tf, rel):
    path = str(REALDATA / rel)
    theirs = _tf_graph_defs(tf, path)
    if theirs is None:
        pytest.skip(f"{rel}: TensorFlow does not parse it as a graph either")
    ours = load_saved_model(path) if rel.endswith(("saved_model.pb", "saved_model.pbtxt")) \
        else [load_graph(path)]
    assert len(ours) == len(theirs)
    for g, gd in zip(ours, theirs):
        assert len(g.nodes) == len(gd.node)
        expected = {f.signature.name: len(f.node_def) for f in gd.library.function}
        assert {name: len(g.functions.nodes(name)) for name in g.functions.names()} == expected
        info = g.summary()["function_library"]
        assert info["count"] == len(expected)
        assert info["nodes"] == sum(expected.values())
        # the graph's calls: every func attr (and list of them) of TensorFlow's parse
        theirs_called = set()
        for n in gd.node:
            for k, v in n.attr.items():
                if v.WhichOneof("value") == "func":
                    theirs_called.add((n.name, k, v.func.name))
                elif v.WhichOneof("value") == "list":
                    theirs_called |= {(n.name, f"{k}[{i}]", f.name) for i, f in enumerate(v.list.func)}
        ours_called = {(n, c.attr, c.function) for n, c in g.calls() if c.attr != "op"}
        assert ours_called == theirs_called


def test_the_realdata_tf2_models_hold_most_of_their_ops_in_functions(realdata):
    """What the issue measured: 29 top-level nodes and 122 ops in 14 functions; 22 and 192
    in 18 — the tree now reaches them."""
    for rel, top, count, ops in [(HALF_PLUS_TWO_TF2, 29, 14, 122),
                                 ("tf-rust/examples/regression_savedmodel", 22, 18, 192)]:
        path = realdata / rel
        if not path.exists():
            pytest.skip(f"{rel} not in this copy of the real data")
        loaded = load(str(path))
        assert len(loaded.graph.nodes) == top
        branch = loaded.tree.children[LIBRARY]
        assert branch.op_count == ops and len(branch.expand()) == count
        assert sum(row.op_count for row in branch.children.values()) == ops


def test_a_call_op_opens_into_its_function_linked_to_its_caller(realdata):
    path = realdata / HALF_PLUS_TWO_TF2
    if not path.exists():
        pytest.skip("half_plus_two_tf2 not in this copy of the real data")
    loaded = load(str(path))
    graph = loaded.graph
    sig = graph.signatures()["serving_default"]
    caller = sig.outputs["y"].name.split(":")[0]          # StatefulPartitionedCall_5
    function = graph.node(caller).attr["f"].func.name
    site = loaded.tree.children[caller]
    assert site.lazy is not None and not site.children  # nothing built before it is opened
    (row,) = site.expand().values()
    assert row.calls == function and row.name == call_row_name(Call("f", function))
    assert row.op_count == len(graph.functions.nodes(function))
    body = row.expand()
    names = {n.name for n in graph.functions.nodes(function)}
    assert {name.split("/")[0] for name in names} == set(body)
    # a leaf of the body is an op of the function, selected as function@node
    node = sorted(names)[0]
    leaf = row
    for part in node.split("/"):
        leaf = leaf.expand()[part]
    assert loaded.op_of(leaf) == op_ref(function, node)
    assert graph.has_op(op_ref(function, node)) and graph.node(op_ref(function, node)).name == node


def test_fetching_an_op_inside_a_function_says_why_it_cannot(realdata):
    path = realdata / HALF_PLUS_TWO_TF2
    if not path.exists():
        pytest.skip("half_plus_two_tf2 not in this copy of the real data")
    graph = load_saved_model(str(path / "saved_model.pb"))[0]
    function = graph.node("StatefulPartitionedCall_5").attr["f"].func.name
    inner = next(n.name for n in graph.functions.nodes(function) if n.name not in graph.index)
    for name in (op_ref(function, inner), f"{op_ref(function, inner)}:0"):
        needs = service.analyze(graph, [name], kind="savedmodel")
        (error,) = needs.missing
        assert "inside function" in str(error) and "TF1 session" in str(error)
        assert "StatefulPartitionedCall_5" in str(error)   # what to fetch instead
    # a name the function lacks, or a function the library lacks: said as such
    assert service.inside_function(graph, op_ref(function, inner.lower() + "_x")).startswith(
        f"no op {inner.lower() + '_x'!r} in function {function}")
    assert service.inside_function(graph, "nowhere@x") == "no function 'nowhere' in the graph's library"
    assert service.inside_function(graph, "StatefulPartitionedCall_5") is None    # a graph op
    # an op reached only through a call made inside another function names the graph op
    # that starts the chain
    deep = next(f for f in graph.functions.names() if f.startswith("__inference_predict_"))
    message = service.inside_function(graph, op_ref(deep, graph.functions.nodes(deep)[0].name))
    assert "(StatefulPartitionedCall_5)" in message


# -- hostile libraries ---------------------------------------------------------------------

def _function(lib, name: str, calls: list[str] = (), op: str = "PartitionedCall"):
    f = lib.function.add()
    f.signature.name = name
    arg = f.signature.input_arg.add()
    arg.name, arg.type = "x", 1
    out = f.signature.output_arg.add()
    out.name, out.type = "y", 1
    prev = "x"
    for i, callee in enumerate(calls):
        n = f.node_def.add()
        n.name, n.op = f"call_{i}", op
        n.input.append(prev)
        n.attr["f"].func.name = callee
        prev = f"call_{i}:output:0"
    ident = f.node_def.add()
    ident.name, ident.op = "Identity", "Identity"
    ident.input.append(prev)
    f.ret["y"] = "Identity:output:0"
    return f


def _graph(calls: dict[str, str], build) -> Graph:
    gd = protos.GraphDef()
    x = gd.node.add()
    x.name, x.op = "x", "Placeholder"
    x.attr["dtype"].type = 1
    for node, function in calls.items():
        n = gd.node.add()
        n.name, n.op = node, "StatefulPartitionedCall"
        n.input.append("x")
        n.attr["f"].func.name = function
    build(gd.library)
    return Graph(gd, None, "hostile.pb")


def _tree(graph: Graph):
    tree = scope_tree([n.name for n in graph.nodes])
    attach_functions(tree, graph)
    return tree


def test_a_function_that_calls_itself_opens_one_level_and_says_so():
    graph = _graph({"call": "selfish"}, lambda lib: _function(lib, "selfish", ["selfish"]))
    assert graph.functions.recursive() == ["selfish"]
    tree = _tree(graph)
    (row,) = tree.children["call"].expand().values()
    assert row.note == "function"
    (again,) = row.expand()["call_0"].expand().values()
    assert again.calls == "selfish" and again.note == "recursive call"
    assert not again.expandable                       # not opened endlessly
    info = graph.summary()["function_library"]
    assert info["recursive"] == ["selfish"] and info["reachable_from_graph"] == 1


def test_mutual_recursion_is_found():
    def build(lib):
        _function(lib, "ping", ["pong"])
        _function(lib, "pong", ["ping"])
        _function(lib, "bystander", ["ping"])
    graph = _graph({"call": "ping"}, build)
    assert graph.functions.recursive() == ["ping", "pong"]


def test_a_ten_thousand_deep_call_chain_costs_no_recursion():
    depth = 10_000

    def build(lib):
        for i in range(depth):
            _function(lib, f"f{i}", [f"f{i + 1}"] if i + 1 < depth else [])
    graph = _graph({"call": "f0"}, build)
    lib = graph.functions
    reached, missing = lib.reachable(["f0"])
    assert len(reached) == depth and not missing
    assert lib.recursive() == []
    info = graph.summary()["function_library"]
    assert info["count"] == depth and info["nodes"] == 2 * depth - 1
    # the tree opens level after level, as far as anyone clicks (here 300 levels)
    row = next(iter(_tree(graph).children["call"].expand().values()))
    for i in range(300):
        assert row.calls == f"f{i}" and row.note == "function"
        row = next(iter(row.expand()["call_0"].expand().values()))
    # the library branch lists all of them, each body built once when searched
    branch = _tree(graph).children[LIBRARY]
    assert len(branch.expand()) == depth


def test_a_call_to_a_missing_function_is_named_not_followed():
    graph = _graph({"call": "nowhere", "fine": "present"},
                   lambda lib: _function(lib, "present", ["also_missing"]))
    tree = _tree(graph)
    (row,) = tree.children["call"].expand().values()
    assert row.note == "missing function" and not row.expandable
    info = graph.summary()["function_library"]
    assert info["missing"] == ["also_missing", "nowhere"]


def test_hostile_libraries_on_the_command_line(tmp_path):
    """`inspect` on a 10,000-deep chain with a self-call and a missing function: it answers,
    with counts and the problems named, in bounded time and without a traceback."""
    depth = 10_000

    def build(lib):
        for i in range(depth):
            _function(lib, f"f{i}", [f"f{i + 1}"] if i + 1 < depth else ["f0"])
        _function(lib, "selfish", ["selfish"])
    graph = _graph({"call": "f0", "gone": "nowhere", "me": "selfish"}, build)
    path = tmp_path / "hostile.pb"
    path.write_bytes(graph.graph_def.SerializeToString())
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"functions: {depth + 1:,} holding" in proc.stdout
    assert "missing from the library: nowhere" in proc.stdout
    assert f"{depth + 1:,} function(s) reach themselves through calls" in proc.stdout
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    lib = json.loads(proc.stdout)["graph"]["function_library"]
    assert lib["count"] == depth + 1 and lib["missing"] == ["nowhere"]
    assert "selfish" in lib["recursive"] and "f0" in lib["recursive"]    # the chain loops back
    assert lib["functions"]["f5"] == {"nodes": 2, "inputs": [["x", "float32"]],
                                      "outputs": [["y", "float32"]]}
    assert sorted(tmp_path.iterdir()) == [path]          # nothing written beside it


def test_library_path_is_where_the_tree_lists_an_inner_op():
    assert library_path(op_ref("fn", "a/b")) == f"{LIBRARY}/fn/a/b"


def test_while_and_if_open_into_their_bodies_conditions_and_branches(tmp_path, tf):
    """A TF2 SavedModel written here with a while loop and a data-dependent cond: the
    While op inside the traced function opens into `body` and `cond`, the If into both
    branches — as TensorFlow's own parse of the file names them."""
    from tensorflow.core.protobuf import saved_model_pb2

    from . import tf_fixtures as fx
    made = fx.loop_saved_model(tmp_path / "loop")
    sm = saved_model_pb2.SavedModel.FromString((made.dir / "saved_model.pb").read_bytes())
    theirs = {}
    for f in sm.meta_graphs[0].graph_def.library.function:
        for n in f.node_def:
            for k, v in n.attr.items():
                if v.WhichOneof("value") == "func" and n.op in ("While", "StatelessWhile", "If", "StatelessIf"):
                    theirs[(f.signature.name, n.name, k)] = v.func.name
    assert {k for _f, _n, k in theirs} >= {"body", "cond", "then_branch", "else_branch"}
    loaded = load(str(made.dir))
    lib = loaded.graph.functions
    ours = {(f, n, c.attr): c.function for f in lib.names() for n, c in lib.calls_in(f)
            if c.attr in ("body", "cond", "then_branch", "else_branch")}
    assert ours == theirs
    # in the tree: the While op's row, in its function's body, opens into body and cond
    (fname, node, _attr), _ = next(iter(theirs.items()))
    row = loaded.tree.children[LIBRARY].expand()[fname]
    leaf = row
    for part in node.split("/"):
        leaf = leaf.expand()[part]
    names = {s.name for s in leaf.expand().values() if s.calls}
    expected = {call_row_name(Call(k, v)) for (f, n, k), v in theirs.items() if (f, n) == (fname, node)}
    assert names == expected and len(names) == 2
    assert all(s.op_count == len(lib.nodes(s.calls)) for s in leaf.children.values() if s.calls)
    # TensorFlow runs it as we read it: 2 * 2**5 = 64 > 10 → 54
    assert made.output_at_2 == 54.0


# -- the library's API on functions TensorFlow wrote ------------------------------------

def test_calls_by_op_type_and_by_a_list_of_branches(tmp_path, tf):
    from . import tf_fixtures as fx
    made = fx.calling_graph(tmp_path / "calls")
    case, branches, twice = made.case, made.branches, made.defun
    g = Graph(protos.GraphDef.FromString(made.graph_def), None, "defun.pb")
    assert sorted(g.calls(), key=lambda nc: (nc[0], nc[1].attr)) == sorted(
        [("call_twice", Call("op", twice))]
        + [(case, Call(f"branches[{i}]", b)) for i, b in enumerate(branches)],
        key=lambda nc: (nc[0], nc[1].attr))
    lib = g.functions
    assert call_row_name(Call("op", twice)) == f"→ {twice}"
    assert call_row_name(Call("branches[1]", branches[1])) == f"→ branches[1]: {branches[1]}"
    info = g.summary()["function_library"]
    assert info["called_by_graph"] == sorted(branches + [twice]) and info["reachable_from_graph"] == 4
    assert info["missing"] == [] and info["recursive"] == [] and info["count"] == len(lib) == 4
    # the Defun's body: its argument, its node, what it returns
    assert lib.inputs(twice) == [Port("x", "float32")] and lib.outputs(twice) == [Port("mul", "float32")]
    assert lib.signature_text(twice) == "(x: float32) → (mul: float32)"
    node = next(n.name for n in lib.nodes(twice) if n.op == "Mul")
    const = next(n.name for n in lib.nodes(twice) if n.op == "Const")
    assert lib.returns(twice) == {"mul": f"{node}:z:0"} and lib.returned_as(twice, node) == ["mul"]
    assert lib.returned_as(twice, "x") == [] and lib.returned_as(twice, const) == []
    assert lib.consumers(twice, "x") == [node] and lib.consumers(twice, const) == [node]
    assert lib.consumers(twice, node) == []
    assert lib.index(twice) == {const: 0, node: 1} and lib.node(twice, node).op == "Mul"
    assert lib.has_op(op_ref(twice, node)) and not lib.has_op(op_ref(twice, "x"))
    assert not lib.has_op(op_ref("nowhere", node)) and not g.has_op(op_ref("nowhere", node))
    assert g.node(op_ref(twice, node)).op == "Mul"
    # the branches hold nodes of the same names: where says which functions
    holders = [f for f in lib.names() if any(n.name == node for n in lib.nodes(f))]
    assert sorted(lib.where(node)) == sorted(holders) and len(holders) >= 2
    assert lib.where("no such node") == []
    assert lib.node_count() == sum(len(lib.nodes(f)) for f in lib.names())
    assert lib.callers(twice) == []          # the graph's call is the Graph's to find
    # in the tree: the Defun's call op opens into it; its row's op is the body's Mul
    tree = _tree(g)
    (row,) = tree.children["call_twice"].expand().values()
    assert row.calls == twice and row.note == "function" and row.op_count == 2
    assert tree.children["call_twice"].call_ops == 2
    leaf = row.expand()[node]
    from app.analysis.function_tree import op_name, op_type
    assert op_name(leaf, [], g) == op_ref(twice, node) and op_type(leaf, g) == "Mul"
    assert op_type(row, g) == "function" and op_name(row, [], g) is None
    graph_leaf = tree.children["x"]
    names = [n.name for n in g.nodes]
    assert op_name(graph_leaf, names, g) == "x" and op_type(graph_leaf, g) == "Placeholder"
    case_site = tree
    for part in case.split("/"):
        case_site = case_site.children[part]
    assert [r.calls for r in case_site.expand().values() if r.calls] == branches


def test_calls_found_with_an_empty_library_and_calls_among_functions():
    # no library: only call ops are looked at, and a call to a missing function is named
    gd = protos.GraphDef()
    gd.node.add(name="call", op="StatefulPartitionedCall").attr["f"].func.name = "gone"
    gd.node.add(name="map", op="MapDataset").attr["f"].func.name = "also_gone"
    g = Graph(gd)
    assert g.calls() == [("call", Call("f", "gone", True))]
    # with a library, every op's func attrs are (a dataset's map function too)
    _function(gd.library, "present")
    g = Graph(gd)
    assert g.calls() == [("call", Call("f", "gone", True)), ("map", Call("f", "also_gone", True))]
    assert g.summary()["function_library"]["missing"] == ["also_gone", "gone"]
    # calls among functions: who calls whom, each caller once per call
    graph = _graph({"top": "a"}, lambda lib: (_function(lib, "a", ["b", "b"]), _function(lib, "b", ["c"]),
                                              _function(lib, "c")))
    lib = graph.functions
    assert lib.callers("b") == [("a", "call_0", "f"), ("a", "call_1", "f")]
    assert lib.callers("c") == [("b", "call_0", "f")] and lib.callers("a") == []
    assert lib.reachable(["a"]) == (["a", "b", "c"], []) and lib.reachable(["b", "zz"]) == (["b", "c"], ["zz"])
    assert lib.calls_in("c") == [] and lib.calls_in("b") == [("call_0", Call("f", "c"))]
    assert graph.tree().children["top"].op == 1
    # a While's two calls come sorted by attr, whatever the attr map's order
    while_op = protos.NodeDef(name="w", op="While")
    while_op.attr["cond"].func.name = "c"
    while_op.attr["body"].func.name = "b"
    while_op.attr["T"].list.type.append(1)
    assert lib.calls_of(while_op) == [Call("body", "b"), Call("cond", "c")]
    empty = protos.NodeDef(name="e", op="If")
    empty.attr["then_branch"].func.name = ""
    assert lib.calls_of(empty) == []


def test_argument_types_read_as_their_attrs_say():
    gd = protos.GraphDef()
    f = gd.library.function.add()
    f.signature.name = "poly"
    for name, kw in [("a", dict(type=3)), ("b", dict(type_attr="T")), ("c", dict(type_attr="T", number_attr="N")),
                     ("d", dict(type_list_attr="Tlist")), ("e", {})]:
        f.signature.input_arg.add(name=name, **kw)
    f.signature.output_arg.add(name="out", type=1, number_attr="N")
    f.signature.output_arg.add(name="flag", type=10)
    body = f.node_def.add(name="scope/op", op="Identity", input=["a", "^b", "c:output:1"])
    f.node_def.add(name="after", op="NoOp", input=["^scope/op"])
    lib = Graph(gd).functions
    # inputs name an argument, a control edge, or a node's output
    assert lib.consumers("poly", "a") == lib.consumers("poly", "b") == lib.consumers("poly", "c") == [body.name]
    assert lib.consumers("poly", "scope/op") == ["after"] and lib.consumers("poly", "^b") == []
    assert [(p.name, p.dtype) for p in lib.inputs("poly")] == [
        ("a", "int32"), ("b", "T"), ("c", "N × T"), ("d", "[Tlist]"), ("e", "?")]
    assert lib.signature_text("poly") == ("(a: int32, b: T, c: N × T, d: [Tlist], e: ?) → "
                                          "(out: N × float32, flag: bool)")
    assert "poly" in lib and "other" not in lib and lib.names() == ["poly"] and len(lib) == 1
    assert lib.gradients == {}
    g = gd.library.gradient.add(function_name="poly", gradient_func="poly_grad")
    assert Graph(gd).functions.gradients == {g.function_name: "poly_grad"}
    info = Graph(gd).summary()["function_library"]
    assert info["functions"]["poly"]["inputs"][2] == ["c", "N × T"] and info["called_by_graph"] == []


def test_the_library_branch_and_call_rows_as_the_tree_lists_them():
    from app.analysis.function_tree import library_row
    graph = _graph({"call": "a", "gone": "nowhere"},
                   lambda lib: (_function(lib, "a", ["b"]), _function(lib, "b"), _empty(lib, "hollow")))
    tree = _tree(graph)
    branch = tree.children[LIBRARY]
    assert (branch.note, branch.rank, branch.searched, branch.op_count) == ("3 functions", -1, True, 3)
    assert branch.path == LIBRARY and branch.parent is tree and branch.lazy is not None
    rows = branch.expand()
    assert list(rows) == ["a", "b", "hollow"] and branch.lazy is None
    a = rows["a"]
    assert (a.path, a.calls, a.note, a.searched, a.op_count, a.parent) == (f"{LIBRARY}/a", "a", "function",
                                                                           True, 2, branch)
    assert a.expandable and not rows["hollow"].expandable and rows["hollow"].op_count == 0
    body = a.expand()
    assert set(body) == {"call_0", "Identity"} and a.op_count == 2      # counted once, not twice
    assert body["call_0"].function == "a" and body["call_0"].path == f"{LIBRARY}/a/call_0"
    (inner,) = body["call_0"].expand().values()
    assert (inner.name, inner.path, inner.rank, inner.calls) == ("→ b", f"{LIBRARY}/a/call_0/→ b", -1, "b")
    assert library_row(tree, "b") is rows["b"] and library_row(tree, "zz") is None
    assert library_row(None, "b") is None and library_row(scope_tree(["x"]), "b") is None
    # a graph call site: its row, and the missing function's row that opens into nothing
    site = tree.children["call"]
    assert site.call_ops == 2 and site.expandable and not site.children
    (row,) = site.expand().values()
    assert row.path == "call/→ a" and row.parent is site and row.op_count == 2
    row.expand()
    assert row.op_count == 2
    (gone,) = tree.children["gone"].expand().values()
    assert (gone.note, gone.op_count, gone.expandable) == ("missing function", 0, False)
    assert tree.children["gone"].call_ops == 0


def _empty(lib, name):
    f = lib.function.add()
    f.signature.name = name
    return f
