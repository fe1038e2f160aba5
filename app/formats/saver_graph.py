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


def _ref(node: str, index: int) -> str:
    return node if index == 0 else f"{node}:{index}"


def drop_keys(meta, dropped: set[str]):
    """A copy of the MetaGraphDef whose restore ops no longer read the `dropped` keys:
    they leave each `RestoreV2`'s key, slice and dtype lists, the ops fed by those outputs
    (the assigns, their identities) go, and the outputs after them are renumbered. Save
    ops are left as they are (saving still writes every variable). None when the graph's
    saver is laid out otherwise (older restore ops, key lists shared between ops)."""
    out = type(meta)()
    out.CopyFrom(meta)
    nodes = out.graph_def.node
    by_name = {n.name: n for n in nodes}
    users: dict[str, int] = {}
    for n in nodes:
        for inp in n.input:
            users[input_node(inp)] = users.get(input_node(inp), 0) + 1
    removed: set[str] = set()
    renumber: dict[str, str] = {}   # "R:i" (or "R") → its new reference, "" if gone
    for node in nodes:
        names = list(node.input[1:2])
        if node.op in ("RestoreSlice", "Restore"):
            keys = by_name.get(input_node(names[0])) if names else None
            if keys is not None and any(k.decode("utf-8", "surrogateescape") in dropped
                                        for k in keys.attr["value"].tensor.string_val):
                return None
            continue
        if node.op != "RestoreV2" or len(node.input) < 3:
            continue
        key_const = by_name.get(input_node(node.input[1]))
        slice_const = by_name.get(input_node(node.input[2]))
        if key_const is None or slice_const is None or key_const.op != "Const" \
                or slice_const.op != "Const":
            return None
        keys = [k.decode("utf-8", "surrogateescape") for k in key_const.attr["value"].tensor.string_val]
        gone = [i for i, k in enumerate(keys) if k in dropped]
        if not gone:
            continue
        if users.get(key_const.name, 0) > 1 or users.get(slice_const.name, 0) > 1:
            return None
        stay = [i for i in range(len(keys)) if i not in gone]
        for const in (key_const, slice_const):
            tensor = const.attr["value"].tensor
            values = list(tensor.string_val)
            if len(values) != len(keys):
                return None
            del tensor.string_val[:]
            tensor.string_val.extend(values[i] for i in stay)
            if tensor.tensor_shape.dim:
                tensor.tensor_shape.dim[0].size = len(stay)
            shapes = const.attr["_output_shapes"].list.shape if "_output_shapes" in const.attr else []
            if shapes and shapes[0].dim:
                shapes[0].dim[0].size = len(stay)
        if "_output_shapes" in node.attr:
            shapes = node.attr["_output_shapes"].list.shape
            kept_shapes = [type(shapes[i])() for i in stay if i < len(shapes)]
            for c, i in zip(kept_shapes, stay):
                c.CopyFrom(shapes[i])
            del shapes[:]
            shapes.extend(kept_shapes)
        types = node.attr["dtypes"].list.type
        kept_types = [types[i] for i in stay]
        del types[:]
        types.extend(kept_types)
        for i in range(len(keys)):
            renumber[_ref(node.name, i)] = ""
            renumber[f"{node.name}:{i}"] = ""
        for new, old in enumerate(stay):
            renumber[_ref(node.name, old)] = _ref(node.name, new)
            renumber[f"{node.name}:{old}"] = _ref(node.name, new)
    if not renumber:
        return out
    # the ops fed by a dropped output go, and whatever they alone fed
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if node.name in removed:
                continue
            for inp in node.input:
                if inp.startswith("^"):
                    continue
                if renumber.get(inp) == "" or input_node(inp) in removed:
                    removed.add(node.name)
                    changed = True
                    break
    kept_nodes = []
    for node in nodes:
        if node.name in removed:
            continue
        inputs = []
        for inp in node.input:
            if inp.startswith("^"):
                if inp[1:] not in removed:
                    inputs.append(inp)
            else:
                inputs.append(renumber.get(inp, inp))
        del node.input[:]
        node.input.extend(inputs)
        kept_nodes.append(node)
    copies = [type(n)() for n in kept_nodes]
    for c, n in zip(copies, kept_nodes):
        c.CopyFrom(n)
    del out.graph_def.node[:]
    out.graph_def.node.extend(copies)
    return out
