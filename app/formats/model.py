"""Find the model behind any path a user may hold — a folder, a checkpoint prefix, or any
one file of a model — and open its parts: checkpoints, graphs, weights."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from . import keras, location, objectgraph, tensors
from .bundle import OBJECT_GRAPH_KEY, Bundle, prefix_of
from .errors import FormatError, ModelsBelow
from .graph import Graph, load_graph, load_saved_model
from .reader import TensorInfo, TensorReader
from .run import STATE_FILE, Checkpoint, RunFolder
from .v1 import V1Checkpoint, is_v1_file

if TYPE_CHECKING:
    import numpy as np

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
GRAPH_EXTENSIONS = (".meta", ".pb", ".pbtxt")
# Folder and file names that say nothing of the model in them.
GENERIC_NAMES = {"model", "models", "logdir", "logs", "log", "checkpoint", "checkpoints", "ckpt", "ckpts",
                 "export", "exports", "saved_model", "savedmodel", "variables", "train", "output",
                 "outputs", "out", "run", "runs", "model_dir", "frozen", "frozen_graph", "graph", "tmp"}


@dataclass
class Model:
    """What was found at a path. `kind`: "run" (a folder of checkpoints; one checkpoint
    opened alone is its folder's run), "savedmodel" or "graph" (a graph file with no
    checkpoint)."""
    path: str
    kind: str
    folder: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    graph_path: str | None = None       # for "graph" and "savedmodel"
    selected: Checkpoint | None = None  # the checkpoint the user pointed at, else the latest
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """A short name that tells this model apart: its folder's (or file's) name, with
        the parent folder's in front where the name alone says nothing ("model", "logdir",
        a SavedModel's version number "00000001")."""
        base = self.folder if self.kind in ("run", "savedmodel") else (
            self.graph_path or (self.selected.prefix if self.selected else self.path))
        if self.kind == "run" and len(self.checkpoints) == 1 and self.checkpoints[0].format == "keras":
            return os.path.basename(self.checkpoints[0].prefix)   # one Keras file: its name
        base = location.normpath(base)
        name = location.basename(base)
        if not name:
            return base
        stem = os.path.splitext(name)[0] if self.kind == "graph" else name
        if stem.lower() in GENERIC_NAMES or stem.isdigit():
            parent = location.basename(location.dirname(base))
            if parent:
                return f"{parent}/{name}"
        return name

    def checkpoint(self, which: str | None) -> Checkpoint | None:
        """A checkpoint by step number, prefix or name; None → the selected one."""
        if which is None:
            return self.selected
        for c in self.checkpoints:
            if which in (c.prefix, c.name) or (c.step is not None and which == str(c.step)):
                return c
        full = location.normalize(which)
        for c in self.checkpoints:
            if full in (c.prefix, c.index, *c.data_files):
                return c
        raise FormatError(self.path, f"no checkpoint {which!r} here (have: "
                                     f"{', '.join(c.name for c in self.checkpoints) or 'none'})")

    def graph_sources(self, ckpt: Checkpoint | None = None) -> str | None:
        ckpt = ckpt or self.selected
        if self.kind in ("graph", "savedmodel"):
            return self.graph_path
        return ckpt.meta if ckpt else None


def _is_saved_model_dir(folder: str) -> str | None:
    for name in SAVED_MODEL_FILES:
        p = location.join(folder, name)
        if location.isfile(p):
            return p
    return None


def _run(folder: str, path: str, pick: str | None = None) -> Model:
    run = RunFolder(folder)
    usable = [c for c in run.checkpoints if c.on_disk]
    model = Model(path, "run", folder, run.checkpoints, problems=run.problems, notes=run.notes)
    if not usable:
        metas = [n for n in run.names if n.endswith(GRAPH_EXTENSIONS)]
        if len(metas) == 1:
            return Model(path, "graph", folder, graph_path=location.join(folder, metas[0]),
                         problems=run.problems)
        if len(metas) > 1:
            shown = ", ".join(metas[:4]) + (", …" if len(metas) > 4 else "")
            raise FormatError(folder, f"holds {len(metas)} graph files and no checkpoint "
                                      f"({shown}): open one of them")
        detail = "; ".join(run.problems + run.notes) if run.problems or run.notes else (
            "the folder is empty" if not run.names else "no checkpoint, SavedModel or graph in it")
        raise FormatError(folder, f"no TensorFlow model found: {detail}")
    model.selected = next((c for c in usable if c.prefix == pick), None) or next(
        (c for c in usable if c.latest), None)
    return model


def open_path(path: str) -> Model:
    """Find the model at `path`. Raises FormatError when there is none."""
    path = location.normalize(path)
    if location.isdir(path):
        sm = _is_saved_model_dir(path) or (
            location.basename(path) == "variables" and _is_saved_model_dir(location.dirname(path)))
        if sm:
            return _saved_model(location.dirname(sm), sm)
        try:
            return _run(path, path)
        except FormatError as e:
            below = _models_below(path)
            if below:
                raise ModelsBelow(path, below) from None
            raise e
    folder, name = location.dirname(path), location.basename(path)
    if not location.isfile(path):
        if location.isfile(path + ".index") or location.isfile(path + ".meta"):
            return _run(folder, path, pick=path)  # a checkpoint prefix
        if not location.exists(path):
            raise FormatError(path, "no such file or folder")
        raise FormatError(path, "is not a regular file or folder")
    if name == STATE_FILE:
        return _run(folder, path)
    if name in SAVED_MODEL_FILES:
        return _saved_model(folder, path)
    if name.lower().endswith(keras.EXTENSIONS) and keras.is_keras_file(path):
        return _run(folder, path, pick=path)  # the folder's Keras files are the run's epochs
    kind = _foreign_kind(path)
    if kind:
        raise FormatError(path, f"{kind}: not a TensorFlow checkpoint, graph or SavedModel, and this "
                                "version does not read it")
    if location.basename(folder) == "variables":
        parent = location.dirname(folder)
        sm = _is_saved_model_dir(parent)
        if sm:
            return _saved_model(parent, sm)
    prefix = prefix_of(path)
    if prefix is not None:
        return _run(folder, path, pick=prefix)
    if name.endswith(".meta"):
        base = path[: -len(".meta")]
        if location.isfile(base + ".index"):
            return _run(folder, path, pick=base)
        if location.isfile(base) and is_v1_file(base):
            model = _run(folder, path)
            model.selected = next((c for c in model.checkpoints if c.prefix == base), model.selected)
            return model
    if is_v1_file(path):
        model = _run(folder, path)
        model.selected = next((c for c in model.checkpoints
                               if path in c.data_files or c.prefix == path), model.selected)
        return model
    return Model(path, "graph", folder, graph_path=path)  # load_graph says if it is not one


# Files users open that are models, but not TensorFlow's formats: said plainly, instead of
# the parse errors of each format tried in turn.
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def _foreign_kind(path: str) -> str | None:
    if location.is_url(path):
        head = location.read_head(path, 8)
        return _foreign_head(head, path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    return _foreign_head(head, path)


def _foreign_head(head: bytes, path: str) -> str | None:
    if head == _HDF5_MAGIC:  # with another name than Keras gives its files
        return "an HDF5 file not named .h5, .hdf5 or .keras"
    if head.startswith(_ZIP_MAGIC) and path.endswith(".keras"):
        return "a Keras 3 model archive (.keras)"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite model (.tflite)"
    return None


def _models_below(folder: str, limit: int = 5) -> list[str]:
    """Subfolders (a few levels down) that hold a model, to point a lost user at them."""
    if location.is_url(folder):
        return []   # a walk would be a request per folder
    found = []
    for root, dirs, files in os.walk(folder):
        depth = root[len(folder):].count(os.sep)
        if depth >= 4:
            dirs[:] = []
        dirs.sort()
        if root != folder and (STATE_FILE in files or any(f.endswith((".index", *keras.EXTENSIONS))
                                                          for f in files)
                               or any(f in SAVED_MODEL_FILES for f in files)):
            found.append(os.path.relpath(root, folder))
            dirs[:] = []
            if len(found) >= limit:
                break
    return found


def _saved_model(folder: str, pb: str) -> Model:
    prefix = location.join(folder, "variables", "variables")
    model = Model(folder, "savedmodel", folder, graph_path=pb)
    if location.isfile(prefix + ".index"):
        run = RunFolder(location.dirname(prefix))
        model.checkpoints = [c for c in run.checkpoints if c.prefix == prefix]
        model.problems, model.notes = run.problems, run.notes
        if model.checkpoints:
            model.selected = model.checkpoints[0]
            model.selected.latest = True
    return model


# -- opening the parts -------------------------------------------------------------------

def open_checkpoint(ckpt: Checkpoint) -> TensorReader:
    """A reader (bundle.Bundle or v1.V1Checkpoint) with readable names applied."""
    if not ckpt.on_disk:
        raise FormatError(ckpt.prefix, "listed in the state file but not on disk")
    if ckpt.format == "v1":
        return V1Checkpoint(ckpt.data_files)
    if ckpt.format == "keras":
        return keras.KerasFile(ckpt.prefix)
    reader = Bundle(ckpt.prefix)
    apply_object_graph(reader)
    return reader


def apply_object_graph(reader: Bundle) -> None:
    """For TF2 checkpoints: readable names and slot links from the object graph, which is
    metadata and leaves the tensor list."""
    info = reader.tensors.get(OBJECT_GRAPH_KEY)
    if info is None:
        return
    try:
        naming = objectgraph.names(reader.read(OBJECT_GRAPH_KEY).item())
    except (FormatError, ValueError) as e:
        reader.object_graph_problem = f"the object graph cannot be read ({e}); showing raw keys"
        return
    del reader.tensors[OBJECT_GRAPH_KEY]
    for key, t in reader.tensors.items():
        n = naming.get(key)
        if n is not None:
            t.display_name, t.slot_of, t.slot_name = n.display_name, n.slot_of, n.slot_name
            t.trainable = n.trainable


# A path through a tracked list (`variables/0`, `_all_variables/3`) says nothing of what
# the variable is: Keras 3 exports name every variable so.
_LIST_PATH = re.compile(r"^(.*/)?\d+$")


def apply_variable_names(reader: TensorReader, names: dict[str, str]) -> None:
    """Give a SavedModel's variables that its object graph reaches only through tracked lists
    their own names (`names`: checkpoint key → `SavedVariable.name`). A name goes to one
    variable only, the first by key among those with it: Keras 3 tracks each variable twice
    (`variables/N` and `_all_variables/N`), and the second copy keeps its path."""
    taken = {t.display_name for t in reader.tensors.values()}
    for key in sorted(reader.tensors, key=lambda k: (k.startswith("_"), k)):
        info, name = reader.tensors[key], names.get(key)
        if name and name not in taken and _LIST_PATH.match(info.display_name):
            info.display_name = name
            taken.add(name)


def load_graphs(model: Model, ckpt: Checkpoint | None = None) -> list[Graph]:
    """The graphs of a model: one, or a SavedModel's meta graphs (one per tag set)."""
    source = model.graph_sources(ckpt)
    if source is None:
        return []
    if model.kind == "savedmodel" or location.basename(source) in SAVED_MODEL_FILES:
        return load_saved_model(source)
    return [load_graph(source)]


class ConstReader(TensorReader):
    """The weights of a frozen graph: its Const ops, read as `reader.TensorReader`
    declares. A graph stores no checksum of its constants: verifying is decoding."""

    big_endian = False

    def __init__(self, graph: Graph, numeric_only: bool = True):
        self.graph = graph
        self.prefix = graph.source
        self.index_path = graph.source
        self.data_files = [graph.source]
        self.missing_shards: list[str] = []
        self.object_graph_problem: str | None = None
        self.tensors: dict[str, TensorInfo] = {}
        from . import dtypes
        for node in graph.nodes:
            if node.op != "Const" or "value" not in node.attr:
                continue
            tp = node.attr["value"].tensor
            dtype = dtypes.from_enum(tp.dtype)
            shape = tensors.shape_of(tp.tensor_shape) or ()
            if numeric_only and (dtype is None or not dtype.is_float or len(shape) == 0):
                continue
            info = TensorInfo(node.name, dtype, tp.dtype, tuple(d or 0 for d in shape), 0,
                              display_name=node.name)
            info.nbytes = info.size * (dtype.itemsize or 0) if dtype else 0
            self.tensors[node.name] = info

    def read(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise KeyError(f"no constant named {name!r} in {self.prefix}")
        try:
            return tensors.to_array(self.graph.node(name).attr["value"].tensor)
        except ValueError as e:
            raise FormatError(self.prefix, f"{name}: {e}") from None
