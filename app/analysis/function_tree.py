"""Functions in the scope tree: a call op's row opens into the function it calls (its
body grouped by name scopes), and a "Function library" branch lists every function with
its signature. Rows are built only when opened (`Scope.lazy`), so a graph's load costs
one pass over its call ops; a function that calls itself opens one level per click and
says so, instead of recursing.

The item model shows these rows; what they are is decided here.
"""

from __future__ import annotations

from ..formats.functions import Call, FunctionLibrary, op_ref
from ..formats.graph import Graph, Scope, scope_tree

LIBRARY = "Function library"      # a space: never a TensorFlow node name, so never an op's row


def call_row_name(call: Call) -> str:
    """The row of a called function under its call op: "→ f_name", "→ body: f_name"."""
    if call.attr in ("f", "op"):
        return f"→ {call.function}"
    return f"→ {call.attr}: {call.function}"


def _leaf(root: Scope, name: str) -> Scope | None:
    scope = root
    for part in name.split("/"):
        scope = scope.children.get(part)
        if scope is None:
            return None
    return scope


def _call_note(lib: FunctionLibrary, call: Call) -> str:
    if call.missing or call.function not in lib:
        return "missing function"
    return "function"


def _add_call_rows(lib: FunctionLibrary, site: Scope, calls: list[Call]) -> None:
    """Make `site` (a call op's row) open into the functions it calls."""
    site.call_ops = sum(len(lib.nodes(c.function)) for c in calls if c.function in lib)

    def fill(scope: Scope) -> None:       # a site is a fresh scope-tree leaf: nothing lazy before
        for call in calls:
            name = call_row_name(call)
            path = f"{scope.path}/{name}" if scope.path else name
            row = Scope(name, path, scope, calls=call.function, note=_call_note(lib, call), rank=-1)
            if call.function in lib:
                row.op_count = len(lib.nodes(call.function))
                if _on_call_path(scope, call.function):
                    row.note = "recursive call"     # opened above: not again, endlessly
                elif row.op_count:
                    row.lazy = lambda r, f=call.function: _fill_body(lib, r, f)
            scope.children.setdefault(name, row)

    site.lazy = fill


def _on_call_path(scope: Scope, function: str) -> bool:
    """Whether `function` is already open above `scope` (a call of itself, maybe through
    others). Walks up the parents: the depth is what the user opened, one row per click."""
    node = scope
    while node is not None:
        if node.calls == function:
            return True
        node = node.parent
    return False


def _fill_body(lib: FunctionLibrary, row: Scope, function: str) -> None:
    """A function's nodes beneath its row, by name scope; its call ops open in turn."""
    row.op_count = 0
    scope_tree([n.name for n in lib.nodes(function)], root=row, function=function)
    by_node: dict[str, list[Call]] = {}
    for node, call in lib.calls_in(function):
        by_node.setdefault(node, []).append(call)
    for node, calls in by_node.items():
        leaf = _leaf(row, node)
        if leaf is not None:
            _add_call_rows(lib, leaf, calls)


def _fill_library(lib: FunctionLibrary, branch: Scope) -> None:
    for name in lib.names():
        path = f"{branch.path}/{name}"
        row = Scope(name, path, branch, calls=name, note="function", searched=True,
                    op_count=len(lib.nodes(name)))
        if row.op_count:
            row.lazy = lambda r, f=name: _fill_body(lib, r, f)
        branch.children[name] = row


def attach_functions(tree: Scope, graph: Graph) -> None:
    """Give `tree` (the graph's scope tree) its function rows: every call op opens into the
    functions it calls, and a library branch lists them all. Costs one pass over the
    graph's ops for their calls (none when the library is empty and no op is a call)."""
    lib = graph.functions
    by_node: dict[str, list[Call]] = {}
    for node, call in graph.calls():
        by_node.setdefault(node, []).append(call)
    for node, calls in by_node.items():
        leaf = _leaf(tree, node)
        if leaf is not None:
            _add_call_rows(lib, leaf, calls)
    if len(lib):
        branch = Scope(LIBRARY, LIBRARY, tree, note=f"{len(lib):,} functions", rank=-1,
                       searched=True, op_count=lib.node_count())
        branch.lazy = lambda b: _fill_library(lib, b)
        tree.children[LIBRARY] = branch


def op_name(scope: Scope, graph_names: list[str], graph: Graph | None) -> str | None:
    """What selecting an op row selects: a graph op's name, or `function@node` for an op
    inside a function. None for a row that is no op."""
    if scope.op is None:
        return None
    if scope.function is not None and graph is not None:
        return op_ref(scope.function, graph.functions.nodes(scope.function)[scope.op].name)
    return graph_names[scope.op]


def op_type(scope: Scope, graph: Graph) -> str:
    """The Op column of a row: the op's type, or what a function row is."""
    if scope.op is None:
        return scope.note
    if scope.function is not None:
        return graph.functions.nodes(scope.function)[scope.op].op
    return graph.nodes[scope.op].op


def library_path(ref: str) -> str:
    """The row of an op inside a function, in the library branch: where the tree shows an
    op selected elsewhere (a link in the details)."""
    function, _sep, node = ref.partition("@")
    return f"{LIBRARY}/{function}/{node}"


def library_row(tree: Scope | None, function: str) -> Scope | None:
    """A function's row in the library branch (built if it was not yet)."""
    if tree is None:
        return None
    branch = tree.children.get(LIBRARY)
    return branch.expand().get(function) if branch is not None else None
