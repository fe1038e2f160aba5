"""Graphs: MetaGraphDef (`.meta`), GraphDef (`.pb`, frozen or not), their text forms
(`.pbtxt`), and the meta graphs inside a SavedModel — one `Graph` over any of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable

from google.protobuf import text_format

from . import protos, tensors
from .functions import OP_SEP, Call, FunctionLibrary, split_ref
from .signatures import init_ops
from .signatures import signatures as signature_list
from .errors import FormatError
from .files import read_small_file
from .location import trust

VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp", "AutoReloadVariable",
                          "_VarHandlesOp"})
SAVE_OPS = frozenset({"SaveV2", "SaveSlices", "Save"})
_NAME_RE = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_OP_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def input_node(name: str) -> str:
    """The node an input string refers to: "^ctrl" → "ctrl", "x:1" → "x"."""
    name = name[1:] if name.startswith("^") else name
    return name.split(":", 1)[0]


# Graph ops that call functions through attrs; with an empty library only these are
# looked at (a call to a function the library lacks is still found).
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall", "TPUPartitionedCall", "While",
                      "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase",
                      "SymbolicGradient", "RemoteCall", "For"})


@dataclass(eq=False)
class Scope:
    """One level of the name-scope tree. A name can be an op and a scope at once
    (`dense/kernel` and `dense/kernel/Assign`): then `op` is set and `children` not empty.

    Functions add rows built on demand: `lazy(scope)` fills `children` the first time they
    are asked for (`expand`), so that a call op's function body, or the library of a
    SavedModel, costs nothing until it is opened."""
    name: str
    path: str
    parent: "Scope | None" = field(default=None, repr=False)
    op: int | None = None                     # index into Graph.nodes (or into the body
                                              # of `function`)
    children: dict[str, "Scope"] = field(default_factory=dict, repr=False)
    op_count: int = 0                         # ops at or below this scope
    params: int = 0                           # variable elements at or below this scope
    function: str | None = None               # the function whose body holds this scope
    calls: str | None = None                  # this row stands for that function
    note: str = ""                            # what the Op column says of a non-op row
    rank: int = 0                             # rows of lower rank are listed first
    call_ops: int = 0                         # a call op's row: ops of the functions it calls
    lazy: "Callable[[Scope], None] | None" = field(default=None, repr=False)
    searched: bool = False                    # a filter expands `lazy` (the library does;
                                              # call sites do not: they may recurse)

    def expand(self) -> dict[str, "Scope"]:
        """The children, the lazy ones built now if they were not yet."""
        if self.lazy is not None:
            fill, self.lazy = self.lazy, None
            fill(self)
        return self.children

    @property
    def expandable(self) -> bool:
        return bool(self.children) or self.lazy is not None


class Graph:
    """The nodes of one graph plus what the MetaGraphDef around it says (when there is one)."""

    def __init__(self, graph_def, meta_graph=None, source: str = "", fmt: str = "graphdef"):
        self.graph_def = graph_def
        self.meta_graph = meta_graph
        self.source = source
        self.format = fmt            # "metagraph", "graphdef" or "savedmodel"
        self.nodes = graph_def.node
        self.index: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            self.index.setdefault(node.name, i)
        self._consumers: dict[str, list[str]] | None = None
        self._tree: Scope | None = None
        self._keys: dict[str, str] | None = None
        self._collections: dict[str, list[str]] | None = None
        self._functions: FunctionLibrary | None = None
        self._calls: list[tuple[str, Call]] | None = None
        self._op_types: dict[str, int] | None = None
        self._fn_summary: dict | None = None

    def node(self, name: str):
        """A graph op by name, or an op inside a function by its `function@node` reference."""
        if OP_SEP in name:
            function, node = split_ref(name)
            return self.functions.node(function, node)
        return self.nodes[self.index[name]]

    def has_op(self, name: str) -> bool:
        """Whether `name` is a graph op or (as `function@node`) an op inside a function."""
        if OP_SEP in name:
            return self.functions.has_op(name)
        return name in self.index

    @property
    def functions(self) -> FunctionLibrary:
        """The function library, indexed on first use."""
        if self._functions is None:
            self._functions = FunctionLibrary(self.graph_def)
        return self._functions

    def calls(self) -> list[tuple[str, Call]]:
        """(op name, call) for every function the graph's own ops call."""
        if self._calls is None:
            lib = self.functions
            everything = len(lib) > 0
            if not everything and not CALL_OPS.intersection(self.op_types()):
                self._calls = []      # a TF1 graph: no library, no call op
            else:
                self._calls = [(node.name, c) for node in self.nodes
                               if everything or node.op in CALL_OPS for c in lib.calls_of(node)]
        return self._calls

    def op_types(self) -> dict[str, int]:
        """Op type → how many ops of it, most used first (counted once: the overview, the
        command line and the search for call ops all ask)."""
        if self._op_types is None:
            counts: dict[str, int] = {}
            for node in self.nodes:
                counts[node.op] = counts.get(node.op, 0) + 1
            self._op_types = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return dict(self._op_types)

    def consumers(self, name: str) -> list[str]:
        """Names of the nodes that take `name` as an input (data or control)."""
        if self._consumers is None:
            table: dict[str, list[str]] = {}
            for node in self.nodes:
                for inp in node.input:
                    table.setdefault(input_node(inp), []).append(node.name)
            self._consumers = table
        return self._consumers.get(name, [])

    def tree(self) -> Scope:
        """The name-scope tree, built on first use."""
        if self._tree is None:
            self._tree = scope_tree([node.name for node in self.nodes])
        return self._tree

    def variable_sizes(self) -> dict[str, int]:
        """Variable op → number of elements, from the op's own `shape` attr."""
        out = {}
        for node in self.nodes:
            if node.op in VARIABLE_OPS and "shape" in node.attr:
                shape = tensors.shape_of(node.attr["shape"].shape)
                if shape is not None and all(d is not None for d in shape):
                    n = 1
                    for d in shape:
                        n *= d
                    out[node.name] = n
        return out

    def variables(self) -> list[str]:
        return [n.name for n in self.nodes if n.op in VARIABLE_OPS]

    def checkpoint_keys(self) -> dict[str, str]:
        """Variable op name → the checkpoint key holding its value.

        The graph's own save ops say it exactly (a Saver given a dict stores variables under
        other names); variables no save op mentions are assumed saved under their own name.
        """
        if self._keys is None:
            keys: dict[str, str] = {}
            for node in self.nodes:
                if node.op not in SAVE_OPS or len(node.input) < 3:
                    continue
                try:
                    names = self.node(input_node(node.input[1])).attr["value"].tensor
                except KeyError:
                    continue
                key_names = list(names.string_val)  # a Const of strings: never tensor_content
                first = 3 if node.op in ("SaveV2", "SaveSlices") else 2
                for key, inp in zip(key_names, node.input[first:]):
                    var = self._variable_behind(input_node(inp))
                    if var is not None:
                        keys.setdefault(var, key.decode("utf-8", "surrogateescape"))
            for name in self.variables():
                keys.setdefault(name, name)
            self._keys = keys
        return self._keys

    def _variable_behind(self, name: str) -> str | None:
        """Follow reads and identities back from a saved tensor to its variable."""
        for _ in range(16):
            i = self.index.get(name)
            if i is None:
                return None
            node = self.nodes[i]
            if node.op in VARIABLE_OPS:
                return name
            if node.op not in ("Identity", "ReadVariableOp", "Snapshot") or not node.input:
                return None
            name = input_node(node.input[0])
        return None

    def collections(self) -> dict[str, list[str]]:
        """Collection name → node names it holds (variables' collections as variable ops)."""
        if self._collections is None:
            out: dict[str, list[str]] = {}
            if self.meta_graph is not None:
                for key, col in self.meta_graph.collection_def.items():
                    kind = col.WhichOneof("kind")
                    if kind == "node_list":
                        out[key] = [input_node(v) for v in col.node_list.value]
                    elif kind == "bytes_list":
                        names = []
                        for raw in col.bytes_list.value:
                            var = _variable_def_name(raw)
                            if var:
                                names.append(input_node(var))
                        out[key] = names
                    else:
                        out[key] = []
            self._collections = out
        return self._collections

    def collections_of(self, name: str) -> list[str]:
        return [k for k, v in self.collections().items() if name in v]

    def trainable_keys(self) -> set[str] | None:
        """A SavedModel's trainable variables, by checkpoint key, as its object graph
        records them (`SavedVariable.trainable`); None when it has no object graph."""
        if self.meta_graph is None or not self.meta_graph.HasField("object_graph_def"):
            return None
        from .objectgraph import variable_keys
        objects = self.meta_graph.object_graph_def
        keys = variable_keys(objects)
        variables = [i for i, n in enumerate(objects.nodes) if n.WhichOneof("kind") == "variable"]
        if not variables:
            return None
        return {keys[i] for i in variables if objects.nodes[i].variable.trainable and i in keys}

    def variable_names(self) -> dict[str, str]:
        """A SavedModel's variables' own names (`SavedVariable.name`, e.g. `model/dense/kernel`)
        by checkpoint key; empty without an object graph."""
        if self.meta_graph is None or not self.meta_graph.HasField("object_graph_def"):
            return {}
        from .objectgraph import variable_keys
        objects = self.meta_graph.object_graph_def
        keys = variable_keys(objects)
        return {keys[i]: n.variable.name for i, n in enumerate(objects.nodes)
                if n.WhichOneof("kind") == "variable" and n.variable.name and i in keys}

    def tags(self) -> list[str]:
        return list(self.meta_graph.meta_info_def.tags) if self.meta_graph is not None else []

    def signatures(self):
        return dict(self.meta_graph.signature_def) if self.meta_graph is not None else {}

    def _function_summary(self, make) -> dict:
        if self._fn_summary is None:      # walks every call: once, not per overview shown
            self._fn_summary = make(self.functions, self.calls())
        return self._fn_summary

    def summary(self) -> dict:
        """The facts `inspect` reports about a graph."""
        from .functions import summary as functions_summary
        out = {"source": self.source, "format": self.format, "nodes": len(self.nodes),
               "functions": len(self.graph_def.library.function),
               "function_library": self._function_summary(functions_summary),
               "variables": len(self.variables()), "op_types": self.op_types()}
        if self.meta_graph is not None:
            info = self.meta_graph.meta_info_def
            out.update({
                "tags": list(info.tags), "tensorflow_version": info.tensorflow_version,
                "collections": {k: len(v) for k, v in self.collections().items()},
                "signatures": {s.key: {"inputs": {t.key: t.tensor for t in s.inputs},
                                       "outputs": {t.key: t.tensor for t in s.outputs},
                                       "input_specs": {t.key: t.spec for t in s.inputs},
                                       "output_specs": {t.key: t.spec for t in s.outputs},
                                       "method": s.method}
                               for s in signature_list(self.meta_graph)},
                "init_ops": init_ops(self.meta_graph),
            })
            if self.meta_graph.HasField("saver_def"):
                sd = self.meta_graph.saver_def
                out["saver"] = {"filename_tensor": sd.filename_tensor_name,
                                "save_tensor": sd.save_tensor_name,
                                "restore_op": sd.restore_op_name, "version": int(sd.version),
                                "sharded": sd.sharded, "max_to_keep": sd.max_to_keep}
        return out


def scope_tree(names, sizes: dict[int, int] | None = None, root: Scope | None = None,
               function: str | None = None) -> Scope:
    """The tree of `/`-separated names: `op` of a leaf is its index in `names`; `sizes`
    (index → element count) fills in `params` at every level. With `root`, the tree is
    built beneath that scope (a function's body beneath its row), every scope marked as
    part of `function`."""
    root = root if root is not None else Scope("", "")
    base = root.path
    for i, name in enumerate(names):
        scope = root
        root.op_count += 1
        n = sizes.get(i, 0) if sizes else 0
        root.params += n
        path = base
        for part in name.split("/"):
            path = f"{path}/{part}" if path else part
            child = scope.children.get(part)
            if child is None:
                child = scope.children[part] = Scope(part, path, scope, function=function)
            child.op_count += 1
            child.params += n
            scope = child
        if scope.op is None:
            scope.op = i
    return root


def _variable_def_name(raw: bytes) -> str | None:
    # A VariableDef's first field is variable_name (tag 1, length-delimited).
    if len(raw) < 2 or raw[0] != 0x0A:
        return None
    length, pos, shift = 0, 1, 0
    while pos < len(raw):
        b = raw[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    try:
        return raw[pos:pos + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _plausible(graph_def) -> bool:
    """Does a parse look like a real GraphDef (and not other bytes read as one)?"""
    if not len(graph_def.node):
        return False
    for node in graph_def.node[:50]:
        if not _NAME_RE.match(node.name) or not _OP_RE.match(node.op):
            return False
    return True


def looks_like_text(path: str, data: bytes) -> bool:
    """A text proto: by its name, or by its start (a text proto behind a binary name)."""
    return path.endswith((".pbtxt", ".txt")) or (
        data[:1].isalpha() and b"{" in data[:4096] and b"\x00" not in data[:4096])


def parse_proto(cls, data: bytes, text: bool):
    """The message, or None when the bytes are not one."""
    msg = cls()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), msg, allow_unknown_field=True)
        else:
            msg.ParseFromString(data)
    except Exception:  # DecodeError, ParseError, UnicodeDecodeError, RecursionError...
        return None
    return msg


def load_saved_model(path: str) -> list[Graph]:
    """Every meta graph of a `saved_model.pb` / `saved_model.pbtxt`."""
    data = read_small_file(path)
    sm = parse_proto(protos.SavedModel, data, path.endswith(".pbtxt"))
    if sm is None or not len(sm.meta_graphs):
        raise FormatError(path, "does not parse as a SavedModel (corrupt or not a SavedModel)")
    trust(path)
    return [Graph(mg.graph_def, mg, path, "savedmodel") for mg in sm.meta_graphs]


def load_graph(path: str) -> Graph:
    """A `.meta`, `.pb` or `.pbtxt` file: MetaGraphDef or GraphDef, binary or text.

    The extension says which form is tried first; a file that parses as neither is an error.
    """
    graph = _parse_graph(path, read_small_file(path))
    trust(path)
    return graph


def _parse_graph(path: str, data: bytes) -> Graph:
    text = looks_like_text(path, data)
    first_meta = path.endswith(".meta")
    order = ("meta", "graph") if first_meta else ("graph", "meta")
    for kind in order:
        if kind == "meta":
            mg = parse_proto(protos.MetaGraphDef, data, text)
            if mg is not None and _plausible(mg.graph_def):
                return Graph(mg.graph_def, mg, path, "metagraph")
        else:
            gd = parse_proto(protos.GraphDef, data, text)
            if gd is not None and _plausible(gd):
                return Graph(gd, None, path, "graphdef")
    sm = parse_proto(protos.SavedModel, data, text)
    if sm is not None and len(sm.meta_graphs) and _plausible(sm.meta_graphs[0].graph_def):
        mg = sm.meta_graphs[0]
        return Graph(mg.graph_def, mg, path, "savedmodel")
    what = "MetaGraphDef" if first_meta else "GraphDef"
    name = os.path.basename(path)
    raise FormatError(path, f"does not parse as a {what} ({'text' if text else 'binary'}); "
                            f"{name} is corrupt or not a TensorFlow graph")
