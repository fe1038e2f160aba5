"""The model as its author built it: the Keras layers of a SavedModel, with their weights
linked to the checkpoint keys that hold their values.

Three sources, best first:
- `keras_metadata.pb` beside `saved_model.pb` (tf.keras 2 writes it): one JSON per object
  of the SavedModel's object graph — `class_name`, `name`, `config` — by node id;
- the object graph's own `user_object` metadata (tf.keras before 2.5 kept the JSON there);
- the variables' names alone (Keras 3's `model.export()` keeps no layer objects: only
  variables named by their Keras path, `tiny_cnn/conv_a/kernel`): layers are the paths'
  parents and their classes are unknown.

A weight's value is read from `variables/`: its key is the object's path through the
object graph (breadth first, as TensorFlow names checkpoint keys) + `/.ATTRIBUTES/
VARIABLE_VALUE`; where that key is absent, the variable's name is matched to a tensor's
readable name.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from . import dtypes, location, protos, tensors
from .files import read_small_file
from .objectgraph import ATTRIBUTE_SUFFIX

METADATA_FILE = "keras_metadata.pb"
LAYER_IDS = ("_tf_keras_layer", "_tf_keras_input_layer", "_tf_keras_model", "_tf_keras_network",
             "_tf_keras_sequential", "_tf_keras_rnn_layer")
MODEL_IDS = ("_tf_keras_model", "_tf_keras_network", "_tf_keras_sequential")


@dataclass
class Weight:
    name: str                  # as the layer calls it: "kernel", "moving_mean"
    variable: str              # the variable's own name: "dense/kernel"
    dtype: str
    shape: tuple
    trainable: bool
    key: str | None = None     # the checkpoint key of its value (None: not found)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= max(d or 0, 0)
        return n


@dataclass
class Layer:
    name: str
    class_name: str            # "Dense"; "" where the SavedModel does not say
    path: str                  # where it sits: "layer_with_weights-0", "tiny_cnn/conv_a"
    depth: int = 0             # nested models' layers are deeper
    config: dict | None = None
    weights: list[Weight] = field(default_factory=list)
    is_model: bool = False

    @property
    def params(self) -> int:
        return sum(w.size for w in self.weights)


@dataclass
class Layers:
    layers: list[Layer]
    source: str                # "keras_metadata.pb", "object graph" or "variable names"
    note: str = ""


def _paths(nodes) -> dict[int, str]:
    """The first path (breadth first from the root) by which each object is reached."""
    paths, queue = {0: ""}, deque([0])
    while queue:
        node_id = queue.popleft()
        for child in nodes[node_id].children:
            if child.node_id not in paths and 0 <= child.node_id < len(nodes):
                base = paths[node_id]
                paths[child.node_id] = f"{base}/{child.local_name}" if base else child.local_name
                queue.append(child.node_id)
    return paths


def _child_order(child) -> tuple:
    """Keras links a model's layers as `layer-N` (in the model's order) and again as
    `layer_with_weights-N`: follow `layer-N` first so that layers come in the model's order."""
    name = child.local_name
    for rank, prefix in enumerate(("layer-", "layer_with_weights-")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return (rank, int(name[len(prefix):]))
    return (2, 0)


def _model_order(nodes, layer_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Layer node id → (position in a depth-first walk from the root, how many layers
    enclose it). Iterative: a deep or cyclic object graph costs no recursion."""
    out: dict[int, tuple[int, int]] = {}
    seen: set[int] = set()
    stack = [(0, 0)]
    while stack:
        node_id, depth = stack.pop()
        if node_id in seen:          # reached again by another link: its first place stands
            continue
        seen.add(node_id)
        if node_id in layer_ids:
            out[node_id] = (len(out), depth)
            depth += 1
        kids = sorted(nodes[node_id].children, key=_child_order)
        stack.extend((c.node_id, depth) for c in reversed(kids)
                     if 0 <= c.node_id < len(nodes) and c.node_id not in seen)
    return out


def _weight(nodes, node_id: int, local: str, paths, tensor_names, by_display) -> Weight:
    var = nodes[node_id].variable
    shape = tensors.shape_of(var.shape) or ()
    key = paths.get(node_id, "") + ATTRIBUTE_SUFFIX
    if key not in tensor_names:
        key = by_display.get(var.name) or by_display.get(var.name.split(":")[0])
    return Weight(local, var.name, dtypes.enum_name(var.dtype), tuple(d or 0 for d in shape),
                  var.trainable, key)


def _metadata(folder: str | None, nodes) -> tuple[dict[int, tuple[str, str]], str, str]:
    """node id → (identifier, JSON) from keras_metadata.pb, else from the object graph."""
    if folder:
        path = location.join(folder, METADATA_FILE)
        if location.isfile(path):   # a remote SavedModel's too
            try:
                meta = protos.SavedMetadata.FromString(read_small_file(path))
            except Exception:  # DecodeError and kin: said, and the object graph used instead
                meta = None
            if meta is not None:
                return ({n.node_id: (n.identifier, n.metadata) for n in meta.nodes},
                        METADATA_FILE, "")
            note = f"{METADATA_FILE} does not parse; layers from the object graph"
        else:
            note = ""
    else:
        note = ""
    found = {i: (n.user_object.identifier, n.user_object.metadata) for i, n in enumerate(nodes)
             if n.WhichOneof("kind") == "user_object" and n.user_object.identifier in LAYER_IDS}
    return found, "object graph", note


def read_layers(meta_graph, folder: str | None, tensor_display: dict[str, str]) -> Layers | None:
    """The Keras layers of a SavedModel's meta graph (None when it holds no Keras model or
    variable named as one). `tensor_display`: checkpoint key → readable name of the
    tensors in `variables/`, to link weights to their values."""
    if meta_graph is None or not meta_graph.HasField("object_graph_def"):
        return None
    nodes = meta_graph.object_graph_def.nodes
    if not len(nodes):
        return None
    paths = _paths(nodes)
    tensor_names = set(tensor_display)
    by_display = {name: key for key, name in tensor_display.items()}
    meta, source, note = _metadata(folder, nodes)
    layer_ids = {i for i, (ident, _t) in meta.items() if ident in LAYER_IDS and 0 <= i < len(nodes)}
    order = _model_order(nodes, layer_ids)
    layers = []
    for node_id in sorted(layer_ids, key=lambda i: (order.get(i, (len(nodes), 0))[0], i)):
        identifier, text = meta[node_id]
        try:
            info = json.loads(text) if text else {}
        except ValueError:
            info = {}
        if not isinstance(info, dict):
            info = {}
        config = info.get("config") if isinstance(info.get("config"), dict) else None
        path = paths.get(node_id, f"node {node_id}")
        layer = Layer(str(info.get("name") or path.rsplit("/", 1)[-1] or "model"),
                      str(info.get("class_name") or ""), path or "(root)",
                      order.get(node_id, (0, 0))[1], config, is_model=identifier in MODEL_IDS)
        seen = set()
        for child in nodes[node_id].children:      # the layer's own weights: its variable children
            cid = child.node_id
            if 0 <= cid < len(nodes) and nodes[cid].WhichOneof("kind") == "variable" and cid not in seen:
                seen.add(cid)
                layer.weights.append(_weight(nodes, cid, child.local_name, paths, tensor_names, by_display))
        if not info.get("name") and layer.weights and "/" in layer.weights[0].variable:
            # no metadata: the variables' names carry the layer's (`dense/kernel` → dense)
            layer.name = layer.weights[0].variable.rsplit("/", 1)[0].rsplit("/", 1)[-1]
        layers.append(layer)
    if layers:
        return Layers(layers, source, note)
    return _from_variable_names(nodes, paths, tensor_names, by_display)


def _from_variable_names(nodes, paths, tensor_names, by_display) -> Layers | None:
    """Layers as the variables' Keras paths say (`model/layer/weight`): Keras 3 exports."""
    by_layer: dict[str, Layer] = {}
    seen_names = set()
    for node_id in paths:             # breadth first: `variables/N` before `_all_variables/N`
        node = nodes[node_id]
        if node.WhichOneof("kind") != "variable":
            continue
        name = node.variable.name.split(":")[0]
        # model/layer/weight: a bare `w` (a tf.Module's) or `SGD/iter` (an optimizer's
        # state) is no layer's weight
        if name.count("/") < 2 or name in seen_names:
            continue
        seen_names.add(name)
        parent, _, local = name.rpartition("/")
        layer = by_layer.get(parent)
        if layer is None:
            parts = parent.split("/")
            for depth in range(1, len(parts)):     # the models that hold it, outermost first
                outer = "/".join(parts[:depth])
                if outer not in by_layer:
                    by_layer[outer] = Layer(parts[depth - 1], "", outer, depth - 1, is_model=True)
            layer = by_layer[parent] = Layer(parts[-1], "", parent, len(parts) - 1)
        layer.weights.append(_weight(nodes, node_id, local, paths, tensor_names, by_display))
    if not by_layer:
        return None
    return Layers(list(by_layer.values()), "variable names",
                  "this SavedModel keeps no Keras layer objects (a Keras 3 export): layers are "
                  "the variables' paths, their classes and configs unknown")
