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


def _paths(graph) -> dict[int, str]:
    """The first path (breadth-first from the root) by which each object is reached."""
    paths, queue = {0: ""}, deque([0])
    while queue:
        node_id = queue.popleft()
        for child in graph.nodes[node_id].children:
            if child.node_id not in paths and 0 <= child.node_id < len(graph.nodes):
                base = paths[node_id]
                paths[child.node_id] = f"{base}/{child.local_name}" if base else child.local_name
                queue.append(child.node_id)
    return paths


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
            readable = attr.full_name or paths.get(node_id) or _strip(key)
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
    for node in graph.nodes:
        for slot in node.slot_variables:
            original = key_of.get(slot.original_variable_node_id)
            slot_key = key_of.get(slot.slot_variable_node_id)
            if original is None or slot_key is None:
                continue
            base = out[original].display_name
            out[slot_key] = Naming(f"{base}/{slot.slot_name}", slot_of=original,
                                   slot_name=slot.slot_name)
    return out
