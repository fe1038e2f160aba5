"""Everything the window shows for one opened model, gathered off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..formats import location
from ..formats.errors import FormatError
from ..formats.event_files import find_event_files
from ..formats.graph import Graph, Scope, scope_tree
from ..formats.keras_layers import Layers, read_layers
from ..formats.model import (ConstReader, Model, apply_variable_names, load_graphs, open_checkpoint,
                             open_path)
from ..formats.reader import TensorReader
from ..formats.run import Checkpoint
from .function_tree import attach_functions, op_name as scope_op_name
from .params import ParameterSplit, split_parameters


@dataclass
class Loaded:
    model: Model
    checkpoint: Checkpoint | None = None
    reader: TensorReader | None = None    # bundle.Bundle, v1.V1Checkpoint or ConstReader
    graphs: list[Graph] = field(default_factory=list)
    graph: Graph | None = None            # the meta graph shown (a SavedModel may have several)
    tree: Scope | None = None
    tree_names: list[str] = field(default_factory=list)  # what tree leaves index into
    tree_kind: str = "graph"              # "graph": leaves are ops; "variables": tensor names
    problems: list[str] = field(default_factory=list)
    params: ParameterSplit = field(default_factory=ParameterSplit)   # model vs optimizer state
    event_files: dict[str, list[str]] = field(default_factory=dict)   # run → its event files
    graph_pending: bool = False           # a remote model: its graph comes in a second step
    layers: Layers | None = None          # a Keras-made SavedModel's layers

    @property
    def tensors(self) -> dict:
        return self.reader.tensors if self.reader is not None else {}

    def tensor_for_op(self, op_name: str) -> str | None:
        """Checkpoint key holding a variable op's value (or a frozen graph's Const)."""
        if self.graph is None or self.reader is None:
            return None
        if isinstance(self.reader, ConstReader):
            return op_name if op_name in self.reader.tensors else None
        key = self.graph.checkpoint_keys().get(op_name)
        return key if key in self.reader.tensors else None

    def op_of(self, scope: Scope) -> str | None:
        """The op a tree row stands for: a graph op's name, `function@node` for an op in a
        function, None for a scope or function row (or, in a tree of variable names, None)."""
        if self.tree_kind != "graph":
            return None
        return scope_op_name(scope, self.tree_names, self.graph)


def _reader_problems(reader: TensorReader) -> list[str]:
    out = [f"{p}: data file missing or unreadable" for p in reader.missing_shards]
    if reader.object_graph_problem:
        out.append(reader.object_graph_problem)
    broken = [t for t in reader.tensors.values() if t.problem]
    if broken and not out:
        out.append(f"{len(broken)} tensor(s) cannot be read, e.g. {broken[0].name}: {broken[0].problem}")
    return out


def open_reader(loaded: Loaded, ckpt: Checkpoint | None) -> None:
    """Open the weights of `ckpt` into `loaded` (the graph stays as it is)."""
    loaded.checkpoint = ckpt
    loaded.reader = None
    if ckpt is not None:
        loaded.reader = open_checkpoint(ckpt)
        loaded.problems += _reader_problems(loaded.reader)
    elif loaded.graph is not None and loaded.graph.format == "graphdef":
        loaded.reader = ConstReader(loaded.graph)


def build_tree(loaded: Loaded) -> None:
    """The scope tree: the graph's, else one from the variable names. Its parameter counts
    are the model's: the optimizer's state is counted apart (`loaded.params`)."""
    if loaded.model.kind == "savedmodel" and loaded.graph is not None and loaded.reader is not None:
        apply_variable_names(loaded.reader, loaded.graph.variable_names())
    loaded.params = split_parameters(loaded.tensors, loaded.graph)
    optimizer = loaded.params.optimizer_keys
    if loaded.graph is not None:
        names = [n.name for n in loaded.graph.nodes]
        sizes = {}
        keys = loaded.graph.checkpoint_keys()
        shape_sizes = loaded.graph.variable_sizes()
        tensors = loaded.tensors
        # a frozen graph's weights are its Const ops, by name; elsewhere an op named like a
        # checkpoint key is no variable (a partitioned variable's Identity, say)
        frozen = isinstance(loaded.reader, ConstReader)
        for name, i in loaded.graph.index.items():
            key = keys.get(name)
            if key in optimizer or name in optimizer:
                continue
            if key is not None and key in tensors:
                sizes[i] = tensors[key].size
            elif name in shape_sizes:
                sizes[i] = shape_sizes[name]
            elif frozen and name in tensors:
                sizes[i] = tensors[name].size
        loaded.tree = scope_tree(names, sizes)
        attach_functions(loaded.tree, loaded.graph)
        loaded.tree_names, loaded.tree_kind = names, "graph"
        loaded.layers = read_layers(loaded.graph.meta_graph, loaded.model.folder,
                                    {k: t.display_name for k, t in loaded.tensors.items()}
                                    ) if loaded.model.kind == "savedmodel" else None
    else:
        infos = list(loaded.tensors.values())
        names = [t.display_name for t in infos]
        loaded.tree = scope_tree(names, {i: t.size for i, t in enumerate(infos) if t.name not in optimizer})
        loaded.tree_names = [t.name for t in infos]
        loaded.tree_kind = "variables"


def _read_graphs(loaded: Loaded, ckpt: Checkpoint | None) -> None:
    try:
        loaded.graphs = load_graphs(loaded.model, ckpt)
    except FormatError as e:
        loaded.problems.append(str(e))
    loaded.graph = loaded.graphs[0] if loaded.graphs else None


def add_graph(loaded: Loaded) -> Loaded:
    """The second step of a `graph_later` load: a copy with the graph and its tree."""
    done = replace(loaded, problems=[], graph_pending=False)
    _read_graphs(done, loaded.checkpoint)
    build_tree(done)
    if done.graph is not None:
        done.graph.collections()
    return done


def load(path: str, job=None, checkpoint: str | None = None, graph_later: bool = False) -> Loaded:
    """Open whatever is at `path`: FormatError if nothing can be; partial problems are
    collected in `problems` and the rest is still shown. `graph_later` (a remote run):
    the variables come from the index alone when a checkpoint has them, and `add_graph`
    reads the graph, which may be large, afterwards."""
    say = (lambda f, t: job.progress(f, t)) if job is not None else (lambda f, t: None)
    say(0.05, "finding the model")
    model = open_path(path)
    loaded = Loaded(model, problems=list(model.problems))
    ckpt = model.checkpoint(checkpoint)
    if graph_later and ckpt is not None and model.graph_sources(ckpt):
        loaded.graph_pending = True
    else:
        say(0.2, "parsing the graph")
        _read_graphs(loaded, ckpt)
    if job is not None and job.cancelled():
        return loaded
    say(0.6, "reading the checkpoint index")
    if loaded.graph_pending:
        open_reader(loaded, ckpt)
        build_tree(loaded)
        return loaded
    try:
        open_reader(loaded, ckpt)
    except FormatError as e:
        if loaded.graph is None:
            raise
        loaded.problems.append(str(e))
    say(0.8, "building the scope tree")
    build_tree(loaded)
    # training curves logged beside the checkpoints (read from local folders only)
    if model.kind == "run" and not location.is_url(model.folder):
        loaded.event_files = find_event_files(model.folder)
    if loaded.graph is not None:
        loaded.graph.collections()
    return loaded
