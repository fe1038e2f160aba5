"""HTML for the details panel: an op (attrs, inputs and consumers as links, collections),
or a scope (what is beneath it)."""

from __future__ import annotations

import html
import os

from ..formats import dtypes
from ..formats.attrs import attr_text, shape_text
from ..formats.graph import Graph, Scope, input_node

LINK_PREFIX = "op:"
RUN_PREFIX = "run:"        # a link that adds the op to the Run tab's fetches
SIGNATURE_PREFIX = "signature:"   # a link that runs through a SavedModel's signature
INIT_OP_KEY = "__saved_model_init_op"
MAX_LINKS = 200


def _link(name: str, label: str | None = None) -> str:
    return f'<a href="{LINK_PREFIX}{html.escape(name, quote=True)}">{html.escape(label or name)}</a>'


def _rows(rows) -> str:
    body = "".join(f"<tr><td class='k'>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0' cellpadding='3'>{body}</table>"


def op_html(graph: Graph, name: str, checkpoint_key: str | None) -> str:
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
    return "".join(out)


def scope_html(scope: Scope, kind: str) -> str:
    what = "ops" if kind == "graph" else "tensors"
    rows = [(f"{what.capitalize()} beneath", f"{scope.op_count:,}"),
            ("Parameters beneath", f"{scope.params:,}"),
            ("Children", f"{len(scope.children):,}")]
    return f"<h3>{html.escape(scope.path or '(root)')}</h3>" + _rows(rows)


MAX_UNREADABLE = 500


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
        rows.append(("Functions", f"{info['functions']:,}"))
    if info.get("tags"):
        rows.append(("Tags", html.escape(", ".join(info["tags"]))))
    if info.get("tensorflow_version"):
        rows.append(("Written by", "TensorFlow " + html.escape(info["tensorflow_version"])))
    out = [f"<h3>{html.escape(os.path.basename(info['source']))}</h3>", _rows(rows), _io_html(*io)]
    sigs = graph.signatures()
    init = {k: v for k, v in sigs.items() if k.startswith(INIT_OP_KEY)}
    sigs = {k: v for k, v in sigs.items() if k not in init}
    if sigs:
        out.append("<h4>Signatures</h4>")
        for key, sig in sorted(sigs.items()):
            def io(tensors):
                return "<br>".join(
                    f"<code>{html.escape(k)}</code>: {_link(input_node(t.name), t.name)} "
                    f"{html.escape(dtypes.enum_name(t.dtype))} {html.escape(shape_text(t.tensor_shape))}"
                    for k, t in tensors.items()) or "<i>none</i>"
            use = f' <a href="{SIGNATURE_PREFIX}{html.escape(key, quote=True)}">use in Run</a>'
            out.append(f"<p><b>{html.escape(key)}</b> <i>{html.escape(sig.method_name)}</i>{use}"
                       f"<br>inputs:<br>{io(sig.inputs)}<br>outputs:<br>{io(sig.outputs)}</p>")
    for key, sig in init.items():        # the op TF runs when it loads: not a signature to call
        ops = ", ".join(input_node(t.name) for t in sig.outputs.values()) or "none"
        out.append(f"<p><i>initialisation op run on loading:</i> <code>{html.escape(ops)}</code></p>")
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
