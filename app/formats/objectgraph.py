"""Readable names for TF2 object-based checkpoints.

Such a checkpoint stores, under `_CHECKPOINTABLE_OBJECT_GRAPH`, the graph of Python objects
that was saved: every tensor's key is a path through it (`optimizer/_trainable_variables/0/
.ATTRIBUTES/VARIABLE_VALUE`), and variables carry the name they had (`sequential/hidden/
kernel`). Optimizer slots (Adam's momentum and velocity) are linked to their variable.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import protos

ATTRIBUTE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@dataclass
class Naming:
    display_name: str
    slot_of: str | None = None    # checkpoint key of the variable this slot belongs to
    slot_name: str | None = None
    trainable: bool | None = None  # None: the checkpoint does not say


def _paths(graph, name=lambda local_name: local_name) -> dict[int, str]:
    """The first path (breadth-first from the root) by which each object is reached, its
    parts as `name` gives them."""
    paths, queue = {0: ""}, deque([0])
    while queue:
        node_id = queue.popleft()
        for child in graph.nodes[node_id].children:
            if child.node_id not in paths and 0 <= child.node_id < len(graph.nodes):
                base, part = paths[node_id], name(child.local_name)
                paths[child.node_id] = f"{base}/{part}" if base else part
                queue.append(child.node_id)
    return paths


def escape(local_name: str) -> str:
    """A name as it appears in a checkpoint key (TensorFlow escapes "." and "/")."""
    return local_name.replace(".", "..").replace("/", ".S")


def variable_keys(graph) -> dict[int, str]:
    """Node id → checkpoint key of each object of a SavedModel's object graph, as its
    variables' checkpoint names them: the first breadth-first path, escaped."""
    paths = _paths(graph, escape)
    return {i: p + ATTRIBUTE_SUFFIX for i, p in paths.items() if i}


def trained_nodes(graph) -> set[int]:
    """The variables an optimizer trains, by node id: those with slot variables (TF2
    optimizers), and those an optimizer lists as `_trainable_variables` (Keras 3). Empty
    when the checkpoint holds no optimizer that says."""
    out = {slot.original_variable_node_id for node in graph.nodes for slot in node.slot_variables}
    for node in graph.nodes:
        for child in node.children:
            if child.local_name == "_trainable_variables" and 0 <= child.node_id < len(graph.nodes):
                out |= {c.node_id for c in graph.nodes[child.node_id].children}
    return out


def _strip(key: str) -> str:
    return key[: -len(ATTRIBUTE_SUFFIX)] if key.endswith(ATTRIBUTE_SUFFIX) else key


def names(serialized: bytes) -> dict[str, Naming]:
    """Checkpoint key → readable naming, from a serialized TrackableObjectGraph.

    Raises ValueError if the bytes are not an object graph.
    """
    try:
        graph = protos.TrackableObjectGraph.FromString(serialized)
    except Exception:
        raise ValueError("the object graph does not parse") from None
    if not graph.nodes:
        return {}
    paths = _paths(graph)
    key_of: dict[int, str] = {}
    out: dict[str, Naming] = {}
    for node_id, node in enumerate(graph.nodes):
        for attr in node.attributes:
            key = attr.checkpoint_key
            if attr.name == "VARIABLE_VALUE":
                key_of.setdefault(node_id, key)
            path = paths.get(node_id) or _strip(key)
            # Keras and TF1 names are paths; a tf.Module's are bare names, where the
            # object path says more.
            readable = attr.full_name if "/" in attr.full_name or "/" not in path else path
            readable = readable or path
            if attr.name != "VARIABLE_VALUE":
                readable = f"{readable}/{attr.name}"
            out[key] = Naming(readable)
    # Names a layer gives its variables ("count", "total") may repeat across objects:
    # where they do, the object's path says which is which.
    seen: dict[str, int] = {}
    for n in out.values():
        seen[n.display_name] = seen.get(n.display_name, 0) + 1
    for key, n in out.items():
        if seen[n.display_name] > 1:
            n.display_name = _strip(key)
    linked = False
    for node in graph.nodes:
        for slot in node.slot_variables:
            original = key_of.get(slot.original_variable_node_id)
            slot_key = key_of.get(slot.slot_variable_node_id)
            if original is None or slot_key is None:
                continue
            linked = True
            base = out[original].display_name
            out[slot_key] = Naming(f"{base}/{slot.slot_name}", slot_of=original,
                                   slot_name=slot.slot_name)
    if not linked:
        _link_keras3_slots(out)
    # What trains: only an optimizer in the checkpoint says (TF2 checkpoints keep no
    # `trainable` flag); the model's other variables (batch norm's statistics) do not.
    trained = {key_of[i] for i in trained_nodes(graph) if i in key_of}
    if trained:
        for key, n in out.items():
            if key.endswith(ATTRIBUTE_SUFFIX):
                n.trainable = key in trained
    return out


def _link_keras3_slots(out: dict[str, Naming]) -> None:
    """Keras 3 optimizers keep slots as plain variables named `adam/<variable path with _
    for />_<slot>` (e.g. `adam/sequential_hidden_kernel_momentum`): link them by name."""
    by_flat = {n.display_name.replace("/", "_"): key for key, n in out.items()}
    for key, n in out.items():
        opt, sep, rest = n.display_name.partition("/")
        if not sep or "/" in rest or "_" not in rest:
            continue
        flat, _, slot = rest.rpartition("_")
        original = by_flat.get(flat)
        if original is not None and original != key and slot.isidentifier():
            n.slot_of, n.slot_name = original, slot


def rewrite(serialized: bytes, new_keys: dict[str, str | None]) -> bytes:
    """The object graph after an edit: each attribute's checkpoint key replaced by
    `new_keys[key]`, dropped where that is None (keys not in `new_keys` stay), and the
    slot links of variables that lost their value removed. The objects and their paths
    stay: `tf.train.Checkpoint` finds its variables by path, then reads them by the new
    keys; objects left without values are simply not restored.

    Raises ValueError if the bytes are not an object graph."""
    try:
        graph = protos.TrackableObjectGraph.FromString(serialized)
    except Exception:
        raise ValueError("the object graph does not parse") from None
    lost_value: set[int] = set()
    for node_id, node in enumerate(graph.nodes):
        kept = []
        for attr in node.attributes:
            new = new_keys.get(attr.checkpoint_key, attr.checkpoint_key)
            if new is None:
                if attr.name == "VARIABLE_VALUE":
                    lost_value.add(node_id)
                continue
            attr.checkpoint_key = new
            kept.append(attr)
        if len(kept) != len(node.attributes):
            copies = [type(a)() for a in kept]
            for c, a in zip(copies, kept):
                c.CopyFrom(a)
            del node.attributes[:]
            node.attributes.extend(copies)
    # slot links are listed on the optimizer's node, which may come before the variables
    for node in graph.nodes:
        if any(s.original_variable_node_id in lost_value or s.slot_variable_node_id in lost_value
               for s in node.slot_variables):
            slots = [s for s in node.slot_variables
                     if s.original_variable_node_id not in lost_value
                     and s.slot_variable_node_id not in lost_value]
            copies = [type(s)() for s in slots]
            for c, s in zip(copies, slots):
                c.CopyFrom(s)
            del node.slot_variables[:]
            node.slot_variables.extend(copies)
    return graph.SerializeToString()
