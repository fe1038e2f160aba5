"""Freezing in the worker: a model's variables folded into constants and the graph pruned
to what chosen outputs need, written as one GraphDef (`.pb`, or `.pbtxt` as text).

Two ways, by what the model keeps its computation in:

- "session": a TF1 graph (a `.meta` with its checkpoint, or a TF1 SavedModel) imported
  and restored by `Session`, then `convert_variables_to_constants` for the output ops —
  what freeze_graph.py does.
- "function": a TF2 SavedModel, whose computation lives in functions: the chosen
  signature's concrete function frozen with `convert_variables_to_constants_v2` (which
  inlines the calls), then pruned to the chosen outputs.

Signature outputs are named by their keys; where the frozen tensor of a key has another
name, an Identity op named after the key is added (when that name is free), so a serving
tool can fetch "probabilities:0" instead of "Identity_3:0".

The request and result cross the process boundary; the file itself is written here, in
the worker, to the temporary name the caller chose beside the destination. Renaming it
into place (and removing it on failure or cancel) is the caller's: app.runner.service.
TensorFlow is passed in by `Session`; this module imports none of it at import time.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import dataclass, field

from ..formats.graph import VARIABLE_OPS
from . import graphwalk
from .session import RunError, RunRequest, StatusCallback, first_line, unsafe_error

# Ops that hold or read variables; none may be left in a frozen graph.
_STATEFUL_VARIABLE_OPS = VARIABLE_OPS | {"ReadVariableOp", "ResourceGather", "VariableShape",
                                         "VarIsInitializedOp", "AssignVariableOp"}


@dataclass
class FreezeRequest:
    """What to freeze and where. Made by `service.plan_freeze`."""
    run: RunRequest                  # graph, kind, checkpoint, signature, tags, allow_unsafe
    engine: str                      # "session" or "function" (see the module's docstring)
    outputs: dict[str, str]          # label as the user gave it → tensor or op name in the
                                     # source graph ("op:0", "op"), or a signature output
                                     # key ("function" engine: an op of the frozen graph)
    keys: list[str] = field(default_factory=list)  # the labels that are signature keys
    inputs: dict[str, str] = field(default_factory=dict)  # "session" engine with a
                                     # signature: its inputs (key → tensor), which become
                                     # the frozen graph's placeholders
    destination: str = ""            # the file asked for (absolute)
    partial: str = ""                # the temporary file beside it the worker writes
    text: bool = False               # text format (a .pbtxt destination)


@dataclass
class FreezeResult:
    destination: str
    nodes: int                       # in the frozen graph
    folded: int                      # variables turned into constants
    constants: int                   # Const ops in all
    inputs: list[tuple[str, str, tuple | None]]  # placeholders left: (tensor, dtype, shape)
    outputs: dict[str, str]          # label → tensor to fetch in the frozen graph
    size: int                        # bytes written
    seconds: float
    checkpoint: str | None = None
    step: int | None = None
    signature: str | None = None


@dataclass
class Frozen:
    """A frozen graph before it is written."""
    graph_def: object
    targets: dict[str, str]          # label → tensor in graph_def
    dtypes: dict[str, int]           # signature key → its tensor's DataType enum
    folded: int                      # variables turned into constants


# -- the two ways ------------------------------------------------------------------------

def freeze_session(tf, sess, graph, request: FreezeRequest,
                   status: StatusCallback) -> Frozen:
    """The frozen graph of a restored TF1 session."""
    targets, dtypes = {}, {}
    for label, name in request.outputs.items():
        op_name, index = graphwalk.split_tensor(name)
        try:
            op = graph.get_operation_by_name(op_name)
        except (KeyError, ValueError):
            raise RunError(f"no op {op_name!r} in the graph", "fetch", label) from None
        if ":" in name and index >= len(op.outputs):
            raise RunError(f"{op_name} ({op.type}) has {len(op.outputs)} output(s); there "
                           f"is no {name}", "fetch", label)
        targets[label] = f"{op_name}:{index}" if op.outputs else op_name
        if label in request.keys and op.outputs:
            dtypes[label] = op.outputs[index].dtype.as_datatype_enum
    op_names = list(dict.fromkeys(graphwalk.split_tensor(t)[0] for t in targets.values()))
    status("folding variables into constants")
    source = graph.as_graph_def()
    variables = {n.name for n in source.node if n.op in VARIABLE_OPS}
    try:
        with graph.as_default():
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, source, op_names)
    except tf.errors.OpError as e:
        raise RunError(f"a variable cannot be read: {first_line(e)}", "checkpoint",
                       getattr(getattr(e, "op", None), "name", None)) from None
    except (ValueError, TypeError, KeyError, AssertionError) as e:
        raise RunError(f"the graph cannot be frozen: {first_line(e)}", "graph") from None
    if request.inputs:
        frozen = _cut_at_inputs(tf, graph, frozen, request.inputs, op_names)
    folded = sum(1 for n in frozen.node if n.op == "Const" and n.name in variables)
    return Frozen(frozen, targets, dtypes, folded)


def _cut_at_inputs(tf, graph, graph_def, inputs: dict[str, str], op_names: list[str]):
    """A signature's inputs as placeholders: an input that is not one already (the
    parsed feature behind a tf.Example parser, say) has its op replaced by a Placeholder
    of its dtype and shape, and what only fed it is pruned away — the graph a serving
    tool feeds the way the signature says."""
    nodes = {n.name: n for n in graph_def.node}
    changed = False
    for tensor in inputs.values():
        op_name, index = graphwalk.split_tensor(tensor)
        node = nodes.get(op_name)
        if node is None or index != 0 or node.op in graphwalk.PLACEHOLDER_OPS:
            continue
        t = graph.get_tensor_by_name(f"{op_name}:0")
        node.Clear()
        node.name, node.op = op_name, "Placeholder"
        node.attr["dtype"].type = t.dtype.base_dtype.as_datatype_enum
        node.attr["shape"].shape.CopyFrom(t.shape.as_proto())
        changed = True
    if not changed:
        return graph_def
    return tf.compat.v1.graph_util.extract_sub_graph(graph_def, op_names)


def freeze_function(tf, request: FreezeRequest, pure_graph,
                    status: StatusCallback) -> Frozen:
    """The frozen graph of a TF2 SavedModel's signature."""
    from tensorflow.python.framework.convert_to_constants import \
        convert_variables_to_constants_v2

    req = request.run
    if not req.allow_unsafe:
        problems = graphwalk.loader_problems(pure_graph)
        if problems:
            raise unsafe_error(problems, "loading this SavedModel")
    status("loading the SavedModel")
    try:
        loaded = tf.saved_model.load(req.graph, tags=list(req.tags) or None)
    except (tf.errors.OpError, ValueError, TypeError, KeyError, AssertionError) as e:
        raise RunError(f"{req.graph}: the SavedModel cannot be loaded: {first_line(e)}",
                       "graph") from None
    signatures = getattr(loaded, "signatures", {})
    if req.signature not in signatures:
        raise RunError(f"no signature {req.signature!r} (signatures: "
                       f"{', '.join(sorted(signatures)) or 'none'})", "fetch", req.signature)
    function = signatures[req.signature]
    status("folding variables into constants")
    try:
        frozen = convert_variables_to_constants_v2(function)
    except (tf.errors.OpError, ValueError, TypeError, KeyError, AssertionError) as e:
        raise RunError(f"signature {req.signature} cannot be frozen: {first_line(e)}",
                       "graph") from None
    graph_def = frozen.graph.as_graph_def()
    renamed = rename_nodes(graph_def, _variable_names(tf, loaded, function))

    structured = function.structured_outputs
    keys = sorted(structured) if isinstance(structured, dict) else []
    by_key = dict(zip(keys, frozen.outputs))
    names = {n.name: n for n in graph_def.node}
    targets, dtypes = {}, {}
    for label, name in request.outputs.items():
        if label in request.keys:
            op_name, index = graphwalk.split_tensor(by_key[name].name)
            targets[label] = f"{renamed.get(op_name, op_name)}:{index}"
            dtypes[label] = by_key[name].dtype.as_datatype_enum
            continue
        op_name, index = graphwalk.split_tensor(name)
        if op_name not in names:
            close = difflib.get_close_matches(op_name, list(names), n=3)
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise RunError(f"no op {op_name!r} in the frozen signature {req.signature} "
                           f"(outputs: {', '.join(keys)}){hint}", "fetch", label)
        targets[label] = f"{op_name}:{index}"
    ops = list(dict.fromkeys(graphwalk.split_tensor(t)[0] for t in targets.values()))
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, ops)
    captured = {internal.op.name for _external, internal in function.graph.captures}
    captured = {renamed.get(c, c) for c in captured}
    folded = sum(1 for n in graph_def.node if n.op == "Const" and n.name in captured)
    return Frozen(graph_def, targets, dtypes, folded)


def _variable_names(tf, loaded, function) -> dict[str, str]:
    """Captured placeholder (what the frozen constant is named after: "unknown_3") → the
    name of the variable behind it ("dense/kernel"), so the constants read as the model's
    weights."""
    try:
        variables = [t for t in tf.train.TrackableView(loaded).descendants()
                     if isinstance(t, tf.Variable)]
    except Exception:  # an object graph TensorFlow cannot walk: keep its names
        return {}
    by_handle = {id(v.handle): v for v in variables}
    names = {}
    for external, internal in function.graph.captures:
        v = by_handle.get(id(external))
        if v is not None:
            names[internal.op.name] = v.name.rsplit(":", 1)[0]
    return names


def rename_nodes(graph_def, names: dict[str, str]) -> dict[str, str]:
    """Rename nodes of `graph_def` in place by `names` (old → new), their inputs and
    colocation attrs following; a new name already taken gets a numbered suffix. Returns
    old → the name given."""
    taken = {n.name for n in graph_def.node} - set(names)
    final = {}
    for old, new in names.items():
        candidate, i = new, 1
        while candidate in taken or not _OP_NAME.fullmatch(candidate):
            candidate = f"{new}_{i}"
            i += 1
            if i > 1000:
                candidate = old
                break
        taken.add(candidate)
        final[old] = candidate

    def renamed(inp: str) -> str:
        control = inp.startswith("^")
        name, sep, index = inp.lstrip("^").partition(":")
        name = final.get(name, name)
        return ("^" if control else "") + name + sep + index

    for node in graph_def.node:
        node.name = final.get(node.name, node.name)
        for i, inp in enumerate(node.input):
            node.input[i] = renamed(inp)
        if "_class" in node.attr:
            values = node.attr["_class"].list.s
            for i, v in enumerate(values):
                text = v.decode("utf-8", "replace")
                if text.startswith("loc:@"):
                    values[i] = ("loc:@" + final.get(text[5:], text[5:])).encode("utf-8")
    return final


# -- naming the outputs, writing, and what was written ----------------------------------

def name_outputs(graph_def, targets: dict[str, str], dtypes: dict[str, int]) -> dict[str, str]:
    """Add an Identity named after each signature key (in `dtypes`: key → DataType enum of
    its tensor) whose tensor has another name, when no op has that name yet. Returns
    label → the tensor to fetch."""
    names = {n.name for n in graph_def.node}
    out = dict(targets)
    for key, dtype in dtypes.items():
        op_name, index = graphwalk.split_tensor(targets[key])
        if op_name == key or key in names or not _OP_NAME.fullmatch(key):
            continue
        node = graph_def.node.add()
        node.name, node.op = key, "Identity"
        node.input.append(op_name if index == 0 else f"{op_name}:{index}")
        node.attr["T"].type = dtype
        names.add(key)
        out[key] = f"{key}:0"
    return out


_OP_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/]*")


def write(frozen: Frozen, request: FreezeRequest, t0: float,
          status: StatusCallback) -> FreezeResult:
    """Check the frozen graph, write it to `request.partial`, and describe it."""
    graph_def = frozen.graph_def
    from ..formats import tensors
    from ..formats.dtypes import enum_name

    left = sorted({n.op for n in graph_def.node if n.op in _STATEFUL_VARIABLE_OPS})
    if left:
        raise RunError(f"the frozen graph still holds variable ops ({', '.join(left)}): "
                       f"they are behind ops freezing cannot convert", "graph")
    outputs = name_outputs(graph_def, frozen.targets, frozen.dtypes)
    status(f"writing {os.path.basename(request.destination)}")
    try:
        if request.text:
            from google.protobuf import text_format
            data = text_format.MessageToString(graph_def).encode("utf-8")
        else:
            data = graph_def.SerializeToString()
    except Exception as e:  # EncodeError: a message over 2 GB
        raise RunError(f"the frozen graph cannot be serialized ({first_line(e)}); a "
                       f"GraphDef is limited to 2 GB", "graph") from None
    try:
        with open(request.partial, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise RunError(f"{request.destination}: cannot write: {e.strerror or e}",
                       "write") from None
    inputs = []
    for n in graph_def.node:
        if n.op in ("Placeholder", "PlaceholderV2", "PlaceholderWithDefault"):
            dtype = enum_name(n.attr["dtype"].type) if "dtype" in n.attr else "unknown"
            shape = tensors.shape_of(n.attr["shape"].shape) if "shape" in n.attr else None
            inputs.append((f"{n.name}:0", dtype, shape))
    req = request.run
    return FreezeResult(request.destination, len(graph_def.node), frozen.folded,
                        sum(1 for n in graph_def.node if n.op == "Const"), inputs, outputs,
                        len(data), time.perf_counter() - t0, req.checkpoint, req.step,
                        req.signature)


__all__ = ["FreezeRequest", "FreezeResult", "freeze_session", "freeze_function", "write",
           "name_outputs"]
