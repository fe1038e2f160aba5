"""The checkpoint keys a TF1 graph's Saver restores, and the graph with them renamed.

`Saver.restore` runs the graph's restore ops (`RestoreV2`, older `RestoreSlice`/`Restore`);
each takes the keys to read from a string `Const` (`save/RestoreV2/tensor_names`).
Renaming the keys in those constants, and in the save ops' alike, makes the graph restore
a renamed checkpoint. Dropping a key would need the graph's restore ops cut apart: that
is not done, and callers say so.
"""

from __future__ import annotations

from .graph import input_node

RESTORE_OPS = {"RestoreV2": "dtypes", "RestoreSlice": "dt", "Restore": "dt"}
SAVE_OPS = ("SaveV2", "SaveSlices", "Save")


def _name_consts(graph_def, ops) -> list:
    """The Const nodes that hold the key lists of the given ops (each once)."""
    by_name = {n.name: n for n in graph_def.node}
    seen, out = set(), []
    for node in graph_def.node:
        if node.op in ops and len(node.input) > 1:
            const = by_name.get(input_node(node.input[1]))
            if const is not None and const.op == "Const" and const.name not in seen:
                seen.add(const.name)
                out.append((node, const))
    return out


def restored_keys(meta) -> dict[str, int]:
    """{checkpoint key: DataType enum} of every tensor the graph's saver restores."""
    out: dict[str, int] = {}
    for node, const in _name_consts(meta.graph_def, RESTORE_OPS):
        names = list(const.attr["value"].tensor.string_val)
        attr = node.attr[RESTORE_OPS[node.op]]
        dtypes = list(attr.list.type) if attr.HasField("list") else [attr.type] * len(names)
        for name, dtype in zip(names, dtypes):
            out[name.decode("utf-8", "surrogateescape")] = dtype
    return out


def rename_keys(meta, new_keys: dict[str, str]):
    """A copy of the MetaGraphDef whose save and restore ops use `new_keys[key]` for
    each key they name (keys not in `new_keys` stay)."""
    out = type(meta)()
    out.CopyFrom(meta)
    for _node, const in _name_consts(out.graph_def, set(RESTORE_OPS) | set(SAVE_OPS)):
        values = const.attr["value"].tensor.string_val
        for i, raw in enumerate(values):
            key = raw.decode("utf-8", "surrogateescape")
            if key in new_keys:
                values[i] = new_keys[key].encode("utf-8", "surrogateescape")
    return out
