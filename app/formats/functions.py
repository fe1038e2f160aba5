"""A graph's function library: what each function takes and gives, which functions an op
calls, and where a function's body refers to its arguments and its own nodes.

In a TF2 SavedModel the computation lives here: the top-level graph holds variable
handles and call ops (`StatefulPartitionedCall` with attr `f`, `While` with `cond` and
`body`, `If` with `then_branch`/`else_branch`, `Case` with a list of `branches`, ...).
Any attr of type `func` (or a list of them) names a function; an op whose type is a
function's name calls it too (a TF1 `Defun`). A body's node inputs name an argument
(`x`) or a node's output (`dense/MatMul:product:0`); `ret` maps outputs to such names.

An op inside a function is referred to as `function@node` (`OP_SEP`): `@` never occurs
in TensorFlow's node or function names, so the reference cannot be taken for a graph op.

Everything here iterates (explicit stacks and queues), so a function that calls itself,
or a chain of 10,000 nested calls, costs no Python recursion.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import dtypes

OP_SEP = "@"


def op_ref(function: str, node: str) -> str:
    """How an op inside a function is named in selections and fetch lists."""
    return f"{function}{OP_SEP}{node}"


def split_ref(ref: str) -> tuple[str | None, str]:
    """("function", "node") for a reference made by `op_ref`; (None, name) for a graph op."""
    function, sep, node = ref.partition(OP_SEP)
    return (function, node) if sep else (None, ref)


@dataclass(frozen=True)
class Call:
    """One function an op calls: through which attr (`f`, `body`, `branches[1]`, or
    "op" for an op whose type is the function), and whether the library has it."""
    attr: str
    function: str
    missing: bool = False


@dataclass(frozen=True)
class Port:
    """An argument or a return value of a function."""
    name: str
    dtype: str              # "float32", or the attr that fixes it ("T", "N × T")


def _arg_dtype(arg) -> str:
    if arg.type:
        base = dtypes.enum_name(arg.type)
    elif arg.type_attr:
        base = arg.type_attr
    elif arg.type_list_attr:
        base = f"[{arg.type_list_attr}]"
    else:
        base = "?"
    if arg.number_attr:
        base = f"{arg.number_attr} × {base}"
    return base


def _calls_in_attrs(node, names) -> list[Call]:
    out = []
    for key, value in node.attr.items():       # one pass: this runs over every op of a graph
        kind = value.WhichOneof("value")
        if kind == "func":
            if value.func.name:
                out.append(Call(key, value.func.name, value.func.name not in names))
        elif kind == "list" and len(value.list.func):
            for i, f in enumerate(value.list.func):
                out.append(Call(f"{key}[{i}]", f.name, f.name not in names))
    if len(out) > 1:
        out.sort(key=lambda c: c.attr)
    op = node.op
    if op in names:
        out.append(Call("op", op))
    return out


class FunctionLibrary:
    """The `library` of a GraphDef, indexed by function name."""

    def __init__(self, graph_def):
        self.library = graph_def.library
        self.functions = {}
        for f in self.library.function:
            self.functions.setdefault(f.signature.name, f)
        self.gradients = {g.function_name: g.gradient_func for g in self.library.gradient}
        self._index: dict[str, dict[str, int]] = {}
        self._consumers: dict[str, dict[str, list[str]]] = {}
        self._calls: dict[str, list[tuple[str, Call]]] = {}
        self._callers: dict[str, list[tuple[str | None, str, str]]] | None = None
        self._where: dict[str, list[str]] | None = None

    def __len__(self) -> int:
        return len(self.functions)

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def names(self) -> list[str]:
        return sorted(self.functions)

    # -- one function ----------------------------------------------------------------------

    def nodes(self, function: str):
        return self.functions[function].node_def

    def index(self, function: str) -> dict[str, int]:
        """Node name → its position in the body."""
        idx = self._index.get(function)
        if idx is None:
            idx = {}
            for i, n in enumerate(self.functions[function].node_def):
                idx.setdefault(n.name, i)
            self._index[function] = idx
        return idx

    def node(self, function: str, name: str):
        return self.functions[function].node_def[self.index(function)[name]]

    def has_op(self, ref: str) -> bool:
        function, node = split_ref(ref)
        return function in self.functions and node in self.index(function)

    def inputs(self, function: str) -> list[Port]:
        return [Port(a.name, _arg_dtype(a)) for a in self.functions[function].signature.input_arg]

    def outputs(self, function: str) -> list[Port]:
        return [Port(a.name, _arg_dtype(a)) for a in self.functions[function].signature.output_arg]

    def returns(self, function: str) -> dict[str, str]:
        """Output name → the body tensor it returns (`Identity:output:0`)."""
        return dict(self.functions[function].ret)

    def signature_text(self, function: str) -> str:
        """"(x: float32, w: resource) → (identity: float32)"."""
        ins = ", ".join(f"{p.name}: {p.dtype}" for p in self.inputs(function))
        outs = ", ".join(f"{p.name}: {p.dtype}" for p in self.outputs(function))
        return f"({ins}) → ({outs})"

    def consumers(self, function: str, name: str) -> list[str]:
        """Body nodes that take node (or argument) `name` as an input."""
        table = self._consumers.get(function)
        if table is None:
            table = {}
            for n in self.functions[function].node_def:
                for inp in n.input:
                    table.setdefault(body_source(inp), []).append(n.name)
            self._consumers[function] = table
        return table.get(name, [])

    def returned_as(self, function: str, name: str) -> list[str]:
        """The outputs of `function` that return node `name`'s values."""
        return [out for out, src in self.functions[function].ret.items() if body_source(src) == name]

    def calls_in(self, function: str) -> list[tuple[str, Call]]:
        """(node name, call) for every call made by the body's nodes."""
        found = self._calls.get(function)
        if found is None:
            found = [(n.name, c) for n in self.functions[function].node_def
                     for c in self.calls_of(n)]
            self._calls[function] = found
        return found

    # -- calls --------------------------------------------------------------------------

    def calls_of(self, node) -> list[Call]:
        """The functions a NodeDef calls (missing ones flagged)."""
        return _calls_in_attrs(node, self.functions)

    def callers(self, function: str) -> list[tuple[str | None, str, str]]:
        """(calling function or None for the graph, node name, attr) of every call made in
        the library to `function` (the graph's own call ops are the Graph's to find)."""
        if self._callers is None:
            table: dict[str, list] = {}
            for fname in self.functions:
                for node, call in self.calls_in(fname):
                    table.setdefault(call.function, []).append((fname, node, call.attr))
            self._callers = table
        return self._callers.get(function, [])

    def reachable(self, roots: list[str]) -> tuple[list[str], list[str]]:
        """(functions reached from `roots` through calls, breadth first; names called but
        absent from the library). Each function is visited once: cycles end there."""
        seen: dict[str, None] = {}
        missing: dict[str, None] = {}
        queue = deque(roots)
        while queue:
            name = queue.popleft()
            if name in seen or name in missing:
                continue
            if name not in self.functions:
                missing[name] = None
                continue
            seen[name] = None
            queue.extend(c.function for _n, c in self.calls_in(name))
        return list(seen), list(missing)

    def recursive(self) -> list[str]:
        """Functions that reach themselves through calls (a body that calls itself,
        directly or through others): found with an iterative depth-first search."""
        state: dict[str, int] = {}      # 1: on the stack, 2: done
        on_cycle: set[str] = set()
        for start in self.functions:
            if start in state:
                continue
            stack = [(start, iter(self._callees(start)))]
            path = [start]
            state[start] = 1
            while stack:
                name, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    path.pop()
                    state[name] = 2
                    continue
                s = state.get(nxt)
                if s == 1:             # back edge: every function from nxt up is on a cycle
                    on_cycle.update(path[path.index(nxt):])
                elif s is None:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(self._callees(nxt))))
        return sorted(on_cycle)

    def _callees(self, function: str) -> list[str]:
        return [c.function for _n, c in self.calls_in(function) if c.function in self.functions]

    def where(self, node_name: str) -> list[str]:
        """The functions whose body holds a node of that name."""
        if self._where is None:
            table: dict[str, list[str]] = {}
            for fname, f in self.functions.items():
                for n in f.node_def:
                    table.setdefault(n.name, []).append(fname)
            self._where = table
        return self._where.get(node_name, [])

    def node_count(self) -> int:
        return sum(len(f.node_def) for f in self.functions.values())


def body_source(inp: str) -> str:
    """The body node (or argument) a body input names: "^ctrl" → "ctrl",
    "dense/MatMul:product:0" → "dense/MatMul", "x" → "x"."""
    inp = inp[1:] if inp.startswith("^") else inp
    return inp.split(":", 1)[0]


def summary(lib: FunctionLibrary, graph_calls: list[tuple[str, Call]]) -> dict:
    """The facts `inspect` reports about a library: counts, each function's size and
    signature, which the graph calls, and what is wrong (missing, recursive)."""
    called = [c.function for _n, c in graph_calls]
    reached, missing = lib.reachable(called)      # the graph's calls to missing functions too
    for fname in lib.functions:
        for _node, c in lib.calls_in(fname):
            if c.missing and c.function not in missing:
                missing.append(c.function)
    return {
        "count": len(lib),
        "nodes": lib.node_count(),
        "called_by_graph": sorted(set(called)),
        "reachable_from_graph": len(reached),
        "missing": sorted(set(missing)),
        "recursive": lib.recursive(),
        "functions": {name: {"nodes": len(lib.nodes(name)),
                             "inputs": [[p.name, p.dtype] for p in lib.inputs(name)],
                             "outputs": [[p.name, p.dtype] for p in lib.outputs(name)]}
                      for name in lib.names()},
    }
