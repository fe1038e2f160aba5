"""HTML for the details panel: an op (attrs, inputs and consumers as links, collections),
or a scope (what is beneath it)."""

from __future__ import annotations

import html
import os

from ..formats.attrs import attr_text
from ..formats.functions import body_source, op_ref, split_ref
from ..formats.graph import Graph, Scope, input_node
from ..formats.signatures import init_ops
from ..formats.signatures import signatures as signature_list

LINK_PREFIX = "op:"
RUN_PREFIX = "run:"        # a link that adds the op to the Run tab's fetches
SIGNATURE_PREFIX = "signature:"   # a link that runs through a SavedModel's signature
FUNCTION_PREFIX = "function:"     # a link that shows a function (its row in the library)
MAX_LINKS = 200


def _link(name: str, label: str | None = None) -> str:
    return f'<a href="{LINK_PREFIX}{html.escape(name, quote=True)}">{html.escape(label or name)}</a>'


def _rows(rows) -> str:
    body = "".join(f"<tr><td class='k'>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0' cellpadding='3'>{body}</table>"


def _function_link(name: str) -> str:
    return f'<a href="{FUNCTION_PREFIX}{html.escape(name, quote=True)}">{html.escape(name)}</a>'


def _source_link(inp: str, function: str | None, graph: Graph) -> str:
    """An input of an op, as a link: a graph tensor, a body node's output, or (inside a
    function) one of the function's arguments."""
    control = inp.startswith("^")
    label = inp[1:] if control else inp
    tail = " <i>(control)</i>" if control else ""
    if function is None:
        return _link(input_node(inp), label) + tail
    source = body_source(inp)
    if source in graph.functions.index(function):
        return _link(op_ref(function, source), label) + tail
    return f"<code>{html.escape(label)}</code> <i>(argument of {html.escape(function)})</i>{tail}"


def _calls_html(graph: Graph, node) -> str:
    calls = graph.functions.calls_of(node)
    if not calls:
        return ""
    items = [f"{html.escape(c.attr)}: " + (f"{html.escape(c.function)} <b>missing from the library</b>"
                                          if c.missing else _function_link(c.function))
             for c in calls]
    return "<h4>Calls</h4>" + "<br>".join(items)


def op_html(graph: Graph, name: str, checkpoint_key: str | None) -> str:
    function, node_name = split_ref(name)
    if function is not None:
        return function_op_html(graph, function, node_name)
    node = graph.node(name)
    rows = [("Op", html.escape(node.op)), ("Device", html.escape(node.device) or "<i>any</i>")]
    if checkpoint_key:
        rows.append(("Checkpoint key", f"<code>{html.escape(checkpoint_key)}</code>"))
    cols = graph.collections_of(name)
    if cols:
        rows.append(("Collections", html.escape(", ".join(cols))))
    out = [f"<h3>{html.escape(name)}</h3>", _rows(rows)]
    if node.attr:
        attrs = [(k, f"<code>{html.escape(attr_text(node.attr[k]))}</code>") for k in sorted(node.attr)]
        out += ["<h4>Attributes</h4>", _rows(attrs)]
    inputs = []
    for inp in node.input[:MAX_LINKS]:
        control = inp.startswith("^")
        target = input_node(inp)
        label = inp[1:] if control else inp
        inputs.append(_link(target, label) + (" <i>(control)</i>" if control else ""))
    more = len(node.input) - MAX_LINKS
    out.append(f"<h4>Inputs ({len(node.input)})</h4>" + ("<br>".join(inputs) or "<i>none</i>")
               + (f"<br><i>… {more} more</i>" if more > 0 else ""))
    consumers = graph.consumers(name)
    links = "<br>".join(_link(c) for c in consumers[:MAX_LINKS]) or "<i>none</i>"
    more = len(consumers) - MAX_LINKS
    out.append(f"<h4>Consumers ({len(consumers)})</h4>{links}"
               + (f"<br><i>… {more} more</i>" if more > 0 else ""))
    out.append(_calls_html(graph, node))
    return "".join(out)


def function_op_html(graph: Graph, function: str, name: str) -> str:
    """An op inside a function's body: inputs from the body or the arguments, consumers in
    the body, and the outputs that return it."""
    lib = graph.functions
    node = lib.node(function, name)
    rows = [("Op", html.escape(node.op)), ("In function", _function_link(function))]
    if node.device:
        rows.append(("Device", html.escape(node.device)))
    out = [f"<h3>{html.escape(name)}</h3>", _rows(rows)]
    if node.attr:
        attrs = [(k, f"<code>{html.escape(attr_text(node.attr[k]))}</code>") for k in sorted(node.attr)]
        out += ["<h4>Attributes</h4>", _rows(attrs)]
    inputs = [_source_link(inp, function, graph) for inp in node.input[:MAX_LINKS]]
    more = len(node.input) - MAX_LINKS
    out.append(f"<h4>Inputs ({len(node.input)})</h4>" + ("<br>".join(inputs) or "<i>none</i>")
               + (f"<br><i>… {more} more</i>" if more > 0 else ""))
    consumers = lib.consumers(function, name)
    links = [_link(op_ref(function, c), c) for c in consumers[:MAX_LINKS]]
    links += [f"returned as output <code>{html.escape(r)}</code> of {html.escape(function)}"
              for r in lib.returned_as(function, name)]
    out.append(f"<h4>Consumers ({len(consumers)})</h4>" + ("<br>".join(links) or "<i>none</i>"))
    out.append(_calls_html(graph, node))
    out.append("<p><i>An op inside a function: a TF1 session cannot fetch it; run the op that "
               "calls the function (or a signature) to see its results.</i></p>")
    return "".join(out)


def _caller(graph: Graph, scope: Scope):
    """(reference, NodeDef, function it sits in) of the call op a function row hangs under."""
    site = scope.parent
    if site is None or site.op is None:
        return None
    if site.function is not None:
        node = graph.functions.nodes(site.function)[site.op]
        return op_ref(site.function, node.name), node, site.function
    node = graph.nodes[site.op]
    return node.name, node, None


# Ops whose first input is not an argument of the function they call (If's condition,
# Case's branch index).
_SELECTOR_FIRST = {"If", "StatelessIf", "Case", "StatelessCase"}


def _output_users(graph: Graph, caller: str, node_name: str, function: str | None, i: int) -> list[str]:
    """Links to what consumes output `i` of a call op."""
    if function is None:
        want = {f"{node_name}:{i}"} | ({node_name} if i == 0 else set())
        users = [c for c in graph.consumers(node_name)
                 if any(inp in want for inp in graph.node(c).input)]
        out = [_link(u) for u in users]
        for key, sig in graph.signatures().items():   # a signature returns it
            out += [f"signature <code>{html.escape(key)}</code> output <code>{html.escape(k)}</code>"
                    for k, t in sig.outputs.items() if t.name in want or t.name == f"{node_name}:{i}"]
        return out
    lib = graph.functions
    users = [c for c in lib.consumers(function, node_name)
             if any(body_source(inp) == node_name and inp.rsplit(":", 1)[-1] == str(i)
                    for inp in lib.node(function, c).input)]
    out = [_link(op_ref(function, u), u) for u in users]
    out += [f"returned as <code>{html.escape(r)}</code>"
            for r, src in lib.returns(function).items()
            if body_source(src) == node_name and src.rsplit(":", 1)[-1] == str(i)]
    return out


def function_html(graph: Graph, scope: Scope) -> str:
    """A function: its signature with the caller's inputs and outputs beside the arguments
    and return values (when the row hangs under a call op), who calls it, what it calls."""
    lib = graph.functions
    name = scope.calls
    if name not in lib:
        return (f"<h3>{html.escape(name)}</h3><p><b>Missing function</b>: the graph calls it, "
                "but its library has no function of that name; TensorFlow would refuse to "
                "load or run this call.</p>")
    body = lib.nodes(name)
    counts: dict[str, int] = {}
    for n in body:
        counts[n.op] = counts.get(n.op, 0) + 1
    rows = [("Ops in body", f"{len(body):,}"), ("Signature", html.escape(lib.signature_text(name)))]
    if name in lib.gradients:
        rows.append(("Gradient function", _function_link(lib.gradients[name])))
    out = [f"<h3>{html.escape(name)}</h3>", _rows(rows)]
    if scope.note == "recursive call":
        out.append("<p><b>Recursive call</b>: this function is already open above this row "
                   "(it calls itself, directly or through others); it is not expanded again.</p>")
    caller = _caller(graph, scope)
    args, rets = lib.inputs(name), lib.outputs(name)
    if caller is not None:
        ref, node, in_function = caller
        data_inputs = [i for i in node.input if not i.startswith("^")]
        if node.op in _SELECTOR_FIRST:
            data_inputs = data_inputs[1:]
        out.append(f"<h4>Called by {_link(ref, split_ref(ref)[1])} ({html.escape(node.op)})</h4>")
        arg_rows = [(f"{a.name}: {a.dtype}",
                     "← " + _source_link(data_inputs[i], in_function, graph) if i < len(data_inputs)
                     else "<i>no input for it</i>") for i, a in enumerate(args)]
        out.append("<p><b>Arguments</b> (← the caller's inputs)</p>" + (_rows(arg_rows) if arg_rows else "<i>none</i>"))
        ret_src = lib.returns(name)
        ret_rows = []
        for i, r in enumerate(rets):
            src = ret_src.get(r.name, "")
            inner = _source_link(src, name, graph) if src else "<i>?</i>"
            users = _output_users(graph, ref, node.name, in_function, i)
            used = ("→ " + ", ".join(users[:20])) if users else "→ <i>unused</i>"
            ret_rows.append((f"{r.name}: {r.dtype}", f"{inner} {used}"))
        out.append(f"<p><b>Return values</b> (body tensor → consumers of "
                   f"<code>{html.escape(node.name)}:i</code>)</p>" + (_rows(ret_rows) if ret_rows else "<i>none</i>"))
    else:
        out.append("<h4>Arguments</h4>" + (_rows([(a.name, html.escape(a.dtype)) for a in args]) or "<i>none</i>"))
        ret_src = lib.returns(name)
        out.append("<h4>Return values</h4>" + (_rows([(r.name, f"{html.escape(r.dtype)} ← "
                                                        + _source_link(ret_src.get(r.name, ""), name, graph))
                                                       for r in rets]) or "<i>none</i>"))
    callers = [_link(n) + f" <i>({html.escape(c.attr)})</i>" for n, c in graph.calls() if c.function == name]
    callers += [_link(op_ref(f, n), f"{n} in {f}") + f" <i>({html.escape(a)})</i>"
                for f, n, a in lib.callers(name)]
    out.append(f"<h4>Call sites ({len(callers)})</h4>" + ("<br>".join(callers[:MAX_LINKS]) or "<i>none</i>"))
    inner = lib.calls_in(name)
    if inner:
        out.append("<h4>Calls</h4>" + "<br>".join(
            f"{_link(op_ref(name, n), n)} → " + (f"{html.escape(c.function)} <b>missing</b>" if c.missing
                                                   else _function_link(c.function))
            for n, c in inner[:MAX_LINKS]))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    out.append("<h4>Op types</h4>" + _rows([(k, f"{v:,}") for k, v in top]))
    return "".join(out)


def scope_html(scope: Scope, kind: str, graph: Graph | None = None) -> str:
    if scope.calls is not None and graph is not None:
        return function_html(graph, scope)
    what = "ops" if kind == "graph" else "tensors"
    rows = [(f"{what.capitalize()} beneath", f"{scope.op_count:,}"),
            ("Parameters beneath", f"{scope.params:,}"),
            ("Children", f"{len(scope.expand()):,}")]
    return f"<h3>{html.escape(scope.path or '(root)')}</h3>" + _rows(rows)


MAX_UNREADABLE = 500


def signatures_html(graph: Graph) -> str:
    """Each signature: method, inputs and outputs with dtype and shape, a Run link that
    fills the Run tab from it; the op run on loading apart."""
    out = []
    sigs = signature_list(graph.meta_graph)
    if sigs:
        out.append(f"<h4>Signatures ({len(sigs)})</h4>")
    for sig in sigs:
        def io(items):
            return [(t.key, f"<code>{html.escape(t.spec)}</code> &nbsp;"
                            f"{_link(input_node(t.tensor), t.tensor)}") for t in items]
        run = f'<a href="{SIGNATURE_PREFIX}{html.escape(sig.key, quote=True)}"><b>Run…</b></a>'
        method = html.escape(sig.method) if sig.method else "no method name"
        out.append(f"<p><b>{html.escape(sig.key)}</b> &nbsp;<i>{method}</i> &nbsp;{run}</p>")
        rows = [("inputs", "<i>none</i>")] if not sig.inputs else []
        rows += [(f"in  {k}", v) for k, v in io(sig.inputs)]
        rows += [(f"out {k}", v) for k, v in io(sig.outputs)] or [("outputs", "<i>none</i>")]
        out.append(_rows(rows))
    inits = init_ops(graph.meta_graph)
    if inits:        # the op TF runs when it loads: not a signature to call
        out.append("<p><i>Run once on loading (not a signature):</i> "
                   + ", ".join(_link(n) for n in inits) + "</p>")
    return "".join(out)


def _unreadable_html(unreadable: list[tuple[str, str]]) -> str:
    """Each tensor that cannot be read, with why: what the banner only counts."""
    if not unreadable:
        return ""
    shown = unreadable[:MAX_UNREADABLE]
    more = len(unreadable) - len(shown)
    return (f"<h4>Unreadable tensors ({len(unreadable):,})</h4>"
            + _rows([(name, html.escape(problem)) for name, problem in shown])
            + (f"<p>… and {more:,} more</p>" if more else ""))


def _io_html(inputs: list[str], outputs: list[str]) -> str:
    """A downloaded model's likely inputs and outputs, as Netron shows them first."""
    if not inputs and not outputs:
        return ""
    def run_link(name):
        return f' <a href="{RUN_PREFIX}{html.escape(name, quote=True)}">run it</a>'
    rows = [("Inputs", "<br>".join(_link(n) for n in inputs) or "<i>none found</i>"),
            ("Outputs", "<br>".join(_link(n) + run_link(n) for n in outputs) or "<i>none found</i>")]
    return ("<h4>Likely inputs and outputs</h4><p><i>placeholders, and ops nothing consumes "
            "(results first)</i></p>" + _rows(rows))


def graph_html(graph: Graph | None, model_path: str, problems: list[str],
               unreadable: list[tuple[str, str]] = (), io: tuple[list[str], list[str]] = ([], [])) -> str:
    """The overview shown before anything is selected: what this graph is, and which
    tensors (name, problem) cannot be read."""
    if graph is None:
        return (f"<h3>{html.escape(model_path)}</h3><p>No graph: this checkpoint has no "
                "<code>.meta</code>, so the tree on the left is built from the variable names.</p>"
                + _unreadable_html(list(unreadable)))
    info = graph.summary()
    rows = [("Source", html.escape(info["source"])), ("Format", html.escape(info["format"])),
            ("Ops", f"{info['nodes']:,}"), ("Variables", f"{info['variables']:,}")]
    if info.get("functions"):
        lib = info["function_library"]
        rows.append(("Functions", f"{info['functions']:,} holding {lib['nodes']:,} ops "
                                  "(open “Function library” or a call op in the tree)"))
        if lib["missing"]:
            rows.append(("Missing functions", "<b>" + html.escape(", ".join(lib["missing"][:10])) + "</b>"
                         " (called, not in the library)"))
        if lib["recursive"]:
            rows.append(("Recursive functions", html.escape(", ".join(lib["recursive"][:10]))
                         + (" …" if len(lib["recursive"]) > 10 else "")))
    if info.get("tags"):
        rows.append(("Tags", html.escape(", ".join(info["tags"]))))
    if info.get("tensorflow_version"):
        rows.append(("Written by", "TensorFlow " + html.escape(info["tensorflow_version"])))
    # A SavedModel says what it takes and gives: its signatures come before our guesses.
    out = [f"<h3>{html.escape(os.path.basename(info['source']))}</h3>", _rows(rows),
           signatures_html(graph), _io_html(*io)]
    ops = list(info["op_types"].items())[:15]
    out.append("<h4>Most used op types</h4>" + _rows([(k, f"{v:,}") for k, v in ops]))
    cols = graph.collections()
    if cols:
        out.append("<h4>Collections</h4>" + _rows([(k, f"{len(v):,}") for k, v in sorted(cols.items())]))
    if problems:
        out.append("<h4>Problems</h4>" + "<br>".join(html.escape(p) for p in problems))
    out.append(_unreadable_html(list(unreadable)))
    return "".join(out)


STYLE = """
h3 { margin: 0 0 6px 0; }
h4 { margin: 10px 0 2px 0; }
td.k { color: palette(mid); padding-right: 12px; white-space: nowrap; }
code { font-family: monospace; }
"""
