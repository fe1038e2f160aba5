"""One TensorFlow graph and session, kept warm between runs.

`Session.run(RunRequest)` imports the request's graph (once: a request for the same graph
reuses it), restores the request's checkpoint (only when it differs from the one the
variables hold now — switching checkpoints is a restore, nothing more), feeds, runs and
returns numpy values. Failures — a missing or misshapen feed, an unknown fetch, an op
that fails, a checkpoint that does not fit — raise `RunError` naming the feed or op at
fault, and the session stays usable.

TensorFlow is imported on first use, inside this module's functions: importing the module
costs nothing. `plan()` (pure) turns a path a user holds into the requests to make.

A TF2 SavedModel (one with an object graph: `tf.saved_model.save`, Keras `model.export`)
run by signature is loaded with `tf.saved_model.load` and its signature function called,
fed by input key: its variables live in the restored objects, which the TF1 loader does
not rebuild. TF1 SavedModels, plain fetches and `.meta`/GraphDef files keep the session.

Graphs are programs: before anything runs, the ops the run would execute (the fetch path,
the saver's restore, a SavedModel's init op) are checked with `graphwalk`, and ops that
touch files, processes or the network are refused unless the request allows them.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..formats import location
from ..formats.errors import FormatError
from ..formats.graph import Graph, load_graph, load_saved_model
from ..formats.model import Model, open_path
from . import feeds as feeds_mod
from . import graphwalk

StatusCallback = Callable[[str], None]


# -- requests, results, errors -----------------------------------------------------------

@dataclass
class RunRequest:
    """One run: which graph, which checkpoint, what to fetch and feed."""
    graph: str                       # .meta / .pb / .pbtxt file, or a SavedModel folder
    kind: str                        # "meta", "graphdef" or "savedmodel"
    fetches: list[str] = field(default_factory=list)   # "name:0", or op names (→ output 0)
    feeds: dict[str, Any] = field(default_factory=dict)  # tensor or placeholder name → value
    checkpoint: str | None = None    # prefix to restore; None: nothing to restore
    step: int | None = None          # for the status text and the result
    signature: str | None = None     # SavedModel: run this signature (feeds by input key)
    tags: tuple[str, ...] = ()       # SavedModel meta graph; () → chosen automatically
    allow_unsafe: bool = False       # run ops that touch files, processes or the network


@dataclass
class RunResult:
    fetches: dict[str, Any]          # by the name asked for (signature: by output key)
    checkpoint: str | None
    step: int | None
    seconds: float                   # this request: graph import and restore (when done)
                                     # + run; TensorFlow's own import not included
    timings: dict[str, float] = field(default_factory=dict)  # "import", "restore", "run"
    imported: bool = False           # the graph was imported for this request
    restored: bool = False           # the checkpoint was restored for this request
    imports: int = 0                 # the session's totals so far
    restores: int = 0


class RunError(Exception):
    """A run that could not be done. `kind`: "feed", "fetch", "unsafe", "graph",
    "checkpoint", "op", "cancelled", "worker", "tensorflow" (not installed) or "write"
    (a file that cannot be written); `name`: the feed, fetch or op at fault;
    `ops`: for "unsafe", one line per op."""

    def __init__(self, message: str, kind: str = "op", name: str | None = None,
                 ops: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.ops = list(ops or [])

    def __reduce__(self):  # crosses the process boundary intact
        return (type(self), (self.message, self.kind, self.name, self.ops))


def unsafe_error(ops: list, what: str) -> RunError:
    lines = [str(u) for u in ops]
    shown = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    return RunError(f"refusing to run: {what} would run ops that reach outside the session: "
                    f"{shown}", "unsafe", ops=lines)


# -- from a user's path to requests (pure) -------------------------------------------------

@dataclass
class Plan:
    """What to run for a path: the graph (as the pure reader sees it, for checks and
    forms) and the checkpoints to restore, in order."""
    model: Model
    kind: str                        # "meta", "graphdef" or "savedmodel"
    graph_path: str                  # for RunRequest.graph
    graph: Graph                     # the first (or only) graph, for names and checks
    tags: tuple[str, ...]
    checkpoints: list[tuple[str | None, int | None, str]]  # (prefix, step, graph path)

    @property
    def restores(self) -> bool:
        """Whether a run restores a checkpoint with the graph's saver (which then runs too)."""
        return self.kind == "meta" and any(prefix for prefix, _step, _graph in self.checkpoints)

    def requests(self, fetches, feeds, signature=None, allow_unsafe=False) -> list[RunRequest]:
        """The runs, on local files: a remote model's graph and checkpoints are copied
        first (exactly their files, through the cache: see location.local_copies)."""
        out = []
        for prefix, step, graph_path in self.checkpoints:
            graph_path, prefix = self._local(graph_path, prefix)
            out.append(RunRequest(graph_path, self.kind, list(fetches), dict(feeds), prefix, step,
                                  signature, self.tags, allow_unsafe))
        return out

    def _local(self, graph_path: str, prefix: str | None) -> tuple[str, str | None]:
        if not location.is_url(graph_path) and not (prefix and location.is_url(prefix)):
            return graph_path, prefix
        if self.kind == "savedmodel":
            raise RunError(f"{location.display(graph_path)}: running a SavedModel from a URL "
                           "is not supported; copy it to this computer first", "graph")
        wanted = [graph_path]
        ckpt = next((c for c in self.model.checkpoints if c.prefix == prefix), None)
        if ckpt is not None:
            wanted += ([ckpt.index] if ckpt.index else []) + list(ckpt.data_files)
        try:
            local = location.local_copies(wanted)
        except FormatError as e:
            raise RunError(str(e), "graph") from None
        if ckpt is None:
            return local[graph_path], prefix
        where = os.path.dirname(local[ckpt.index or ckpt.data_files[0]])
        return local[graph_path], os.path.join(where, os.path.basename(prefix))


def plan(path: str, checkpoint: str | None = None, all_checkpoints: bool = False,
         signature: str | None = None) -> Plan:
    """The runs for `path` (a run folder, a checkpoint prefix or any file of a model, a
    SavedModel, a graph file). Raises FormatError for what cannot be read and RunError
    (kind "graph") for a model there is no graph to run."""
    model = open_path(path)
    if model.kind == "savedmodel":
        graphs = load_saved_model(model.graph_path)
        graph = _pick_meta_graph(graphs, signature)
        prefix = model.selected.prefix if model.selected else None
        return Plan(model, "savedmodel", model.folder, graph, tuple(graph.tags()),
                    [(prefix, None, model.folder)])
    if model.kind == "graph":
        if checkpoint is not None:
            raise RunError(f"{model.graph_path}: a graph without checkpoints; nothing to "
                           f"choose with --checkpoint", "graph")
        graph = load_graph(model.graph_path)
        if graph.format == "savedmodel":
            folder = os.path.dirname(model.graph_path)
            return Plan(model, "savedmodel", folder, graph, tuple(graph.tags()),
                        [(None, None, folder)])
        kind = "meta" if graph.format == "metagraph" else "graphdef"
        return Plan(model, kind, model.graph_path, graph, (), [(None, None, model.graph_path)])
    chosen = ([c for c in model.checkpoints if c.on_disk] if all_checkpoints
              else [model.checkpoint(checkpoint)])
    chosen = [c for c in chosen if c is not None]
    if not chosen:
        raise RunError(f"{model.path}: no checkpoint to run", "graph")
    without = [c.name for c in chosen if not c.meta]
    if without:
        raise RunError(f"{model.path}: no graph (.meta) for {', '.join(without[:3])}; running "
                       f"tensors needs the graph the checkpoint was saved from", "graph")
    graph = load_graph(chosen[0].meta)
    return Plan(model, "meta", chosen[0].meta, graph, (),
                [(c.prefix, c.step, c.meta) for c in chosen])


def _pick_meta_graph(graphs: list[Graph], signature: str | None) -> Graph:
    """A SavedModel's meta graph: the one with `signature`, else the "serve" one."""
    if signature is not None:
        for g in graphs:
            if signature in g.signatures():
                return g
        have = sorted({k for g in graphs for k in g.signatures()})
        raise RunError(f"no signature {signature!r} (signatures: {', '.join(have) or 'none'})",
                       "fetch", signature)
    for g in graphs:
        if "serve" in g.tags():
            return g
    return graphs[0]


def signature_io(graph: Graph, key: str) -> tuple[dict[str, str], dict[str, str]]:
    """(inputs, outputs) of a signature: key → tensor name."""
    sigs = graph.signatures()
    if key not in sigs:
        raise RunError(f"no signature {key!r} (signatures: {', '.join(sorted(sigs)) or 'none'})",
                       "fetch", key)
    sig = sigs[key]
    return ({k: v.name for k, v in sig.inputs.items()},
            {k: v.name for k, v in sig.outputs.items()})


# -- TensorFlow, imported on first use ---------------------------------------------------

_tf = None


def import_tensorflow(quiet: bool = True):
    """`tensorflow`, imported once. With `quiet`, the C++ log lines TensorFlow writes to
    stderr while loading (absl and oneDNN notices) are held back, and shown only if the
    import fails."""
    global _tf
    if _tf is not None:
        return _tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not quiet:
        import tensorflow as tf
    else:
        tf = _import_with_stderr_held()
    tf.get_logger().setLevel("ERROR")
    _tf = tf
    return tf


def no_tensorflow_message(error: BaseException | None = None) -> str:
    why = f" ({error})" if error is not None else ""
    return (f"TensorFlow is not installed{why}; running and freezing need it: install the "
            f"`tf` extra (pip install 'checkpoint-browser[tf]', or '.[tf]' in the source tree)")


def tensorflow_missing() -> bool:
    """Whether `import tensorflow` cannot work here, found without importing it."""
    import importlib.util
    try:
        return importlib.util.find_spec("tensorflow") is None
    except (ImportError, ValueError):
        return True


def _import_with_stderr_held():
    import tempfile
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2
        import tensorflow as tf
        return tf
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


# -- the session -----------------------------------------------------------------------

class Session:
    """A graph imported once and a tf.compat.v1.Session over it, restored on demand.

    `imports`, `restores` and `runs` count what the session did (the tests and the
    epoch loop check that switching checkpoints only restores)."""

    def __init__(self, status: StatusCallback | None = None, config: dict | None = None):
        self.status: StatusCallback = status or (lambda text: None)
        self.config = dict(config or {})
        self.imports = 0
        self.restores = 0
        self.runs = 0
        self._key = None            # what the graph was imported from
        self._graph = None          # tf.Graph
        self._sess = None           # tf.compat.v1.Session
        self._loaded = None         # a TF2 SavedModel's restored root object
        self._saver = None
        self._pure: Graph | None = None  # the same graph for the walks
        self._restored: str | None = None  # the checkpoint the variables hold
        self._dirty = False         # a run changed variables since the restore
        self._walks: dict = {}
        self._restore_problems: list | None = None  # of the imported graph's saver
        self._digests: dict = {}

    # -- public ----------------------------------------------------------------------

    def run(self, request: RunRequest) -> RunResult:
        self._tf()  # importing TensorFlow is the process's cost, not this run's
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        imported = self._ensure_graph(request, timings)
        restored = self._ensure_restored(request, timings)
        values = (self._run_function(request, timings) if self._loaded is not None
                  else self._run(request, timings))
        self.runs += 1
        return RunResult(values, request.checkpoint, request.step, time.perf_counter() - t0,
                         timings, imported, restored, self.imports, self.restores)

    def freeze(self, request) -> "FreezeResult":  # noqa: F821 (app.runner.freeze)
        """Fold the variables of `request.run`'s graph into constants for the request's
        outputs and write the frozen GraphDef to `request.partial` (see app.runner.freeze)."""
        from . import freeze as freeze_mod
        tf = self._tf()
        t0 = time.perf_counter()
        req = request.run
        if request.engine == "function":
            pure = _pick_tagged(_read_saved_model(req.graph), req)
            frozen = freeze_mod.freeze_function(tf, request, pure, self.status)
        else:
            timings: dict[str, float] = {}
            self._ensure_graph(req, timings, engine="session")
            self._ensure_restored(req, timings)
            path = self._walk(list(request.outputs.values()), [])
            if path.unsafe and not req.allow_unsafe:
                raise unsafe_error(path.unsafe, "these outputs")
            frozen = freeze_mod.freeze_session(tf, self._sess, self._graph, request, self.status)
        return freeze_mod.write(frozen, request, t0, self.status)

    def warm(self) -> None:
        """Import TensorFlow now, so that the first run does not wait for it."""
        self._tf()

    def prepare(self, request: RunRequest) -> None:
        """Import and restore for `request` without running anything (to warm up)."""
        timings: dict[str, float] = {}
        self._ensure_graph(request, timings)
        self._ensure_restored(request, timings)

    def close(self) -> None:
        if self._sess is not None:
            try:
                self._sess.close()
            except Exception:  # closing a broken session: nothing left to do
                pass
        self._sess = self._graph = self._saver = self._pure = self._loaded = None
        self._key = self._restored = None
        self._restore_problems = None
        self._walks.clear()

    # -- import ----------------------------------------------------------------------

    def _tf(self):
        if _tf is None:
            self.status("importing TensorFlow")
        try:
            return import_tensorflow()
        except ImportError as e:
            raise RunError(no_tensorflow_message(e), "tensorflow") from None

    def _digest(self, path: str) -> str:
        """A file's content hash, cached by (path, size, mtime): runs that write a .meta
        with every checkpoint share one graph."""
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
        digest = self._digests.get(key)
        if digest is None:
            h = hashlib.sha1()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    h.update(block)
            digest = self._digests[key] = h.hexdigest()
        return digest

    def _graph_key(self, req: RunRequest, engine: str = "session"):
        try:
            if req.kind == "savedmodel":
                pb = _saved_model_file(req.graph)
                return ("savedmodel", self._digest(pb), os.path.realpath(req.graph),
                        tuple(req.tags), req.signature if not req.tags else None, engine)
            return (req.kind, self._digest(req.graph))
        except OSError as e:
            raise RunError(f"{req.graph}: cannot read: {e.strerror or e}", "graph") from None

    def _ensure_graph(self, req: RunRequest, timings: dict, engine: str | None = None) -> bool:
        """Import `req`'s graph, or load it as a TF2 SavedModel. `engine`: "session" for
        a TF1 session whatever the model (freezing one); None: as `req` runs best."""
        if req.kind not in ("meta", "graphdef", "savedmodel"):
            raise RunError(f"unknown kind of graph {req.kind!r}", "graph")
        key = self._graph_key(req, engine or "session")
        if key == self._key and (self._sess is not None or self._loaded is not None):
            return False
        pure = None
        if engine is None and req.kind == "savedmodel" and req.signature is not None:
            pure = _pick_tagged(_read_saved_model(req.graph), req)
            if is_tf2(pure):
                key = self._graph_key(req, "function")
                if key == self._key and self._loaded is not None:
                    return False
            else:
                pure = None
        tf = self._tf()
        self.close()
        self.status("loading the SavedModel" if req.kind == "savedmodel" else "importing the graph")
        t0 = time.perf_counter()
        if pure is not None:
            self._load_function(tf, pure, req)
            self._key = key
            self.imports += 1
            timings["import"] = time.perf_counter() - t0
            return True
        graph = tf.Graph()
        options = dict(allow_soft_placement=True)
        options.update(self.config)
        sess = tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(**options))
        try:
            if req.kind == "meta":
                self._import_meta(tf, graph, req)
            elif req.kind == "graphdef":
                self._import_graphdef(tf, graph, req)
            else:
                self._load_saved_model(tf, graph, sess, req)
        except RunError:
            sess.close()
            raise
        except (tf.errors.OpError, ValueError, TypeError, KeyError) as e:
            sess.close()
            raise RunError(f"{req.graph}: the graph cannot be imported: {first_line(e)}",
                           "graph") from None
        self._graph, self._sess, self._key = graph, sess, key
        self.imports += 1
        timings["import"] = time.perf_counter() - t0
        return True

    def _import_meta(self, tf, graph, req: RunRequest) -> None:
        from tensorflow.core.protobuf import meta_graph_pb2
        mg = _read_proto(meta_graph_pb2.MetaGraphDef, req.graph)
        pure = Graph(mg.graph_def, mg, req.graph, "metagraph")
        with graph.as_default():
            self._saver = tf.compat.v1.train.import_meta_graph(mg, clear_devices=True)
        self._pure = pure

    def _import_graphdef(self, tf, graph, req: RunRequest) -> None:
        from tensorflow.core.framework import graph_pb2
        gd = _read_proto(graph_pb2.GraphDef, req.graph)
        with graph.as_default():
            tf.graph_util.import_graph_def(gd, name="")
        self._pure = Graph(gd, None, req.graph, "graphdef")
        self._saver = None

    def _load_saved_model(self, tf, graph, sess, req: RunRequest) -> None:
        pure = _pick_tagged(_read_saved_model(req.graph), req)
        if not req.allow_unsafe:
            problems = graphwalk.loader_problems(pure)
            if problems:
                raise unsafe_error(problems, "loading this SavedModel")
        with graph.as_default():  # imports the graph and restores its variables
            mg = tf.compat.v1.saved_model.loader.load(sess, pure.tags(), req.graph)
        self._pure = Graph(mg.graph_def, mg, req.graph, "savedmodel")
        self._saver = None
        prefix = os.path.join(req.graph, "variables", "variables")
        if os.path.exists(prefix + ".index"):  # the loader restored them
            self._restored = req.checkpoint or prefix
            self.restores += 1
            self._dirty = False

    def _load_function(self, tf, pure: Graph, req: RunRequest) -> None:
        """A TF2 SavedModel's objects restored with `tf.saved_model.load` (its variables
        from the SavedModel's own checkpoint), for its signature functions."""
        if not req.allow_unsafe:
            problems = graphwalk.loader_problems(pure)
            if problems:
                raise unsafe_error(problems, "loading this SavedModel")
        try:
            loaded = tf.saved_model.load(req.graph, tags=list(pure.tags()) or None)
        except (tf.errors.OpError, ValueError, TypeError, KeyError, AssertionError) as e:
            raise RunError(f"{req.graph}: the SavedModel cannot be loaded: {first_line(e)}",
                           "graph") from None
        self._loaded, self._pure, self._saver = loaded, pure, None
        prefix = os.path.join(req.graph, "variables", "variables")
        if os.path.exists(prefix + ".index"):  # the loader restored them
            self._restored = req.checkpoint or prefix
            self.restores += 1
            self._dirty = False

    # -- restore ---------------------------------------------------------------------

    def _saver_for_restore(self, tf):
        if self._saver is None and self._pure is not None and self._pure.meta_graph is not None \
                and self._pure.meta_graph.HasField("saver_def") and \
                self._pure.meta_graph.saver_def.restore_op_name:
            with self._graph.as_default():
                self._saver = tf.compat.v1.train.Saver(saver_def=self._pure.meta_graph.saver_def)
        return self._saver

    def _ensure_restored(self, req: RunRequest, timings: dict) -> bool:
        if req.checkpoint is None:
            return False
        if self._restored == req.checkpoint and not self._dirty:
            return False
        tf = self._tf()
        if self._loaded is not None:
            return self._restore_objects(tf, req, timings)
        saver = self._saver_for_restore(tf)
        if saver is None:
            if req.kind == "graphdef":
                raise RunError(f"{req.graph}: a GraphDef has no saver to restore "
                               f"{req.checkpoint} with; open the checkpoint's .meta", "graph")
            return False  # a graph without variables: nothing to restore
        if not req.allow_unsafe and req.kind == "meta":
            if self._restore_problems is None:
                self._restore_problems = graphwalk.restore_problems(self._pure)
            if self._restore_problems:
                raise unsafe_error(self._restore_problems,
                                   "restoring a checkpoint with this graph's saver")
        what = f"step {req.step}" if req.step is not None else os.path.basename(req.checkpoint)
        self.status(f"restoring {what}")
        t0 = time.perf_counter()
        self._restored = None
        try:
            with self._graph.as_default():  # outside it, Saver.restore takes the eager path
                saver.restore(self._sess, req.checkpoint)
        except tf.errors.OpError as e:
            raise RunError(f"{req.checkpoint}: cannot be restored into this graph: "
                           f"{first_line(e)}", "checkpoint", _op_name(e)) from None
        except ValueError as e:
            raise RunError(f"{req.checkpoint}: {first_line(e)}", "checkpoint") from None
        self._restored = req.checkpoint
        self._dirty = False
        self.restores += 1
        timings["restore"] = time.perf_counter() - t0
        return True

    def _restore_objects(self, tf, req: RunRequest, timings: dict) -> bool:
        """Another object-based checkpoint of the same objects into a loaded TF2 model."""
        what = f"step {req.step}" if req.step is not None else os.path.basename(req.checkpoint)
        self.status(f"restoring {what}")
        t0 = time.perf_counter()
        self._restored = None
        try:
            tf.train.Checkpoint(root=self._loaded).restore(req.checkpoint).expect_partial()
        except tf.errors.OpError as e:
            raise RunError(f"{req.checkpoint}: cannot be restored into this model: "
                           f"{first_line(e)}", "checkpoint", _op_name(e)) from None
        except (ValueError, AssertionError) as e:
            raise RunError(f"{req.checkpoint}: {first_line(e)}", "checkpoint") from None
        self._restored = req.checkpoint
        self._dirty = False
        self.restores += 1
        timings["restore"] = time.perf_counter() - t0
        return True

    # -- run -------------------------------------------------------------------------

    def _run_function(self, req: RunRequest, timings: dict) -> dict[str, Any]:
        """A TF2 SavedModel's signature called with the feeds by input key; its outputs
        by output key (those of `req.fetches`, else all)."""
        tf = self._tf()
        signatures = self._loaded.signatures
        if req.signature not in signatures:
            raise RunError(f"no signature {req.signature!r} (signatures: "
                           f"{', '.join(sorted(signatures)) or 'none'})", "fetch", req.signature)
        function = signatures[req.signature]
        fetch_names, feed_names = self._names(req)
        specs = function.structured_input_signature[1]
        args = {}
        for label, value in req.feeds.items():
            if label not in specs:
                raise RunError(f"signature has no input {label!r} (inputs: "
                               f"{', '.join(sorted(specs))})", "feed", label)
            spec = specs[label]
            shape = None if spec.shape.rank is None else spec.shape.as_list()
            try:
                args[label] = tf.constant(feeds_mod.coerce(value, spec.dtype.name, shape, label),
                                          dtype=spec.dtype)
            except feeds_mod.FeedError as e:
                raise RunError(str(e), "feed", label) from None
        unfed = [k for k in specs if k not in args]
        if unfed:
            spec = specs[unfed[0]]
            shape = "?" if spec.shape.rank is None else feeds_mod.shape_text(
                tuple(spec.shape.as_list()))
            more = f" (and {', '.join(unfed[1:])})" if len(unfed) > 1 else ""
            raise RunError(f"missing feed for signature input {unfed[0]} ({spec.dtype.name}, "
                           f"{shape}){more}", "feed", unfed[0])
        fed = [feed_names[k] for k in args if k in feed_names]
        path = self._walk(list(fetch_names.values()), fed)
        if path.unsafe and not req.allow_unsafe:
            raise unsafe_error(path.unsafe, "these fetches")
        result = self._execute(lambda: function(**args), path, timings)
        if not isinstance(result, dict):
            result = {"output_0": result}
        return {label: _as_numpy(result[label].numpy()) for label in fetch_names}

    def _run(self, req: RunRequest, timings: dict) -> dict[str, Any]:
        fetch_names, feed_names = self._names(req)
        targets = [self._fetch_target(label, name) for label, name in fetch_names.items()]
        feed_dict = {}
        for label, value in req.feeds.items():
            tensor = self._feed_tensor(label, feed_names)
            shape = None if tensor.shape.rank is None else tensor.shape.as_list()
            try:
                feed_dict[tensor] = feeds_mod.coerce(value, tensor.dtype.base_dtype.name,
                                                     shape, label)
            except feeds_mod.FeedError as e:
                raise RunError(str(e), "feed", label) from None
        path = self._walk(list(fetch_names.values()), [t.name for t in feed_dict])
        if path.unsafe and not req.allow_unsafe:
            raise unsafe_error(path.unsafe, "these fetches")
        missing = path.required
        if missing:
            p = missing[0]
            more = f" (and {', '.join(m.name for m in missing[1:])})" if len(missing) > 1 else ""
            raise RunError(f"missing feed for placeholder {p.describe()}{more}", "feed", p.name)
        values = self._execute(lambda: self._sess.run(targets, feed_dict), path, timings)
        return {label: _as_numpy(v) for label, v in zip(fetch_names, values)}

    def _execute(self, call, path, timings: dict):
        """`call()`, the run itself, timed into `timings["run"]`, TensorFlow's errors as
        RunErrors; a path that assigns leaves the variables no longer the checkpoint's."""
        tf = self._tf()
        self.status("running")
        t0 = time.perf_counter()
        try:
            return call()
        except tf.errors.OpError as e:
            raise _op_error(e) from None
        except (ValueError, TypeError) as e:
            raise RunError(first_line(e), "feed") from None
        finally:
            timings["run"] = time.perf_counter() - t0
            if path.mutating:
                self._dirty = True

    def _names(self, req: RunRequest) -> tuple[dict[str, str], dict[str, str]]:
        """(label → fetch name, feed label → tensor name) for plain and signature runs."""
        if req.signature is None:
            if not req.fetches:
                raise RunError("nothing to fetch", "fetch")
            return {f: f for f in req.fetches}, {}
        inputs, outputs = signature_io(self._pure, req.signature)
        if req.fetches:
            unknown = [f for f in req.fetches if f not in outputs]
            if unknown:
                raise RunError(f"signature {req.signature} has no output {unknown[0]!r} "
                               f"(outputs: {', '.join(sorted(outputs))})", "fetch", unknown[0])
            outputs = {k: outputs[k] for k in req.fetches}
        return outputs, inputs

    def _fetch_target(self, label: str, name: str):
        g = self._graph
        op_name, index = graphwalk.split_tensor(name)
        try:
            op = g.get_operation_by_name(op_name)
        except (KeyError, ValueError):
            raise RunError(f"no op {op_name!r} in the graph{self._similar(op_name)}",
                           "fetch", label) from None
        if ":" not in name:
            return op.outputs[0] if op.outputs else op
        if index >= len(op.outputs):
            raise RunError(f"{op_name} ({op.type}) has {len(op.outputs)} output(s); there is "
                           f"no {name}", "fetch", label)
        return op.outputs[index]

    def _feed_tensor(self, label: str, signature_inputs: dict[str, str]):
        if signature_inputs:
            if label not in signature_inputs:
                raise RunError(f"signature has no input {label!r} (inputs: "
                               f"{', '.join(sorted(signature_inputs))})", "feed", label)
            name = signature_inputs[label]
        else:
            name = label
        op_name, index = graphwalk.split_tensor(name)
        try:
            op = self._graph.get_operation_by_name(op_name)
        except (KeyError, ValueError):
            raise RunError(f"no placeholder or tensor {op_name!r} to feed"
                           f"{self._similar(op_name, placeholders=True)}", "feed", label) from None
        if index >= len(op.outputs):
            raise RunError(f"{op_name} has no output {index} to feed", "feed", label)
        return op.outputs[index]

    def _similar(self, name: str, placeholders: bool = False) -> str:
        if self._pure is None:
            return ""
        if placeholders:  # the ones a user feeds: without a default
            names = [n.name for n in self._pure.nodes if n.op in ("Placeholder", "PlaceholderV2")]
            return f" (placeholders: {', '.join(names[:10]) or 'none'})"
        close = difflib.get_close_matches(name, list(self._pure.index), n=3)
        return f"; similar: {', '.join(close)}" if close else ""

    def _walk(self, fetches: list[str], fed: list[str]) -> graphwalk.FetchPath:
        key = (tuple(fetches), frozenset(fed))
        path = self._walks.get(key)
        if path is None:
            if len(self._walks) > 64:
                self._walks.clear()
            path = self._walks[key] = graphwalk.analyze(self._pure, fetches, fed)
        return path


# -- helpers -----------------------------------------------------------------------------

def is_tf2(graph: Graph) -> bool:
    """Whether a SavedModel's meta graph has an object graph (a TF2 SavedModel), so that
    `tf.saved_model.load` rebuilds its objects and signature functions."""
    return graph.meta_graph is not None and len(graph.meta_graph.object_graph_def.nodes) > 0


def _saved_model_file(folder: str) -> str:
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    raise RunError(f"{folder}: no saved_model.pb in it", "graph")


def _read_saved_model(folder: str) -> list[Graph]:
    from tensorflow.core.protobuf import saved_model_pb2
    sm = _read_proto(saved_model_pb2.SavedModel, _saved_model_file(folder))
    graphs = [Graph(mg.graph_def, mg, folder, "savedmodel") for mg in sm.meta_graphs]
    if not graphs:
        raise RunError(f"{folder}: the SavedModel holds no meta graph", "graph")
    return graphs


def _pick_tagged(graphs: list[Graph], req: RunRequest) -> Graph:
    """The meta graph of `req.tags`, else the one `_pick_meta_graph` chooses."""
    if not req.tags:
        return _pick_meta_graph(graphs, req.signature)
    pure = next((g for g in graphs if set(g.tags()) == set(req.tags)), None)
    if pure is None:
        have = "; ".join(",".join(g.tags()) for g in graphs)
        raise RunError(f"{req.graph}: no meta graph tagged {','.join(req.tags)} "
                       f"(have: {have})", "graph")
    return pure


def _read_proto(cls, path: str):
    """A binary or text proto, told apart as app.formats.graph does."""
    from ..formats.graph import looks_like_text, parse_proto
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RunError(f"{path}: cannot read: {e.strerror or e}", "graph") from None
    msg = parse_proto(cls, data, looks_like_text(path, data))
    if msg is None:
        raise RunError(f"{path}: does not parse as a {cls.__name__}", "graph")
    return msg


# Lines of TensorFlow's error messages that frame the problem rather than state it.
_FRAMING = ("Graph execution error", "Detected at node", "Node:", "[[", "File \"",
            "defined at (most recent call last)")


def first_line(e: BaseException) -> str:
    """The line of an error message that says what went wrong."""
    text = str(getattr(e, "message", None) or e)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if not line.startswith(_FRAMING) and not line.endswith("(most recent call last):"):
            return line
    return lines[0] if lines else type(e).__name__


def _op_name(e) -> str | None:
    op = getattr(e, "op", None)
    return getattr(op, "name", None)


def _op_error(e) -> RunError:
    """TensorFlow's OpError as a short message naming the op (or feed) at fault."""
    message = first_line(e)
    name = _op_name(e)
    lowered = message.lower()
    if "must feed a value for placeholder" in lowered:
        import re
        m = re.search(r"placeholder tensor '([^']+)'", message)
        ph = m.group(1) if m else name
        return RunError(f"missing feed for placeholder {ph}", "feed", ph)
    if "uninitialized" in lowered or "not initialized" in lowered or \
            "could not find variable" in lowered:
        return RunError(f"a variable has no value ({message}); restore a checkpoint first",
                        "checkpoint", name)
    op = f"op {name!r}" if name else "an op"
    try:
        op_type = e.op.type if e.op is not None else None
    except AttributeError:
        op_type = None
    kind = f" ({op_type})" if op_type else ""
    return RunError(f"{op}{kind} failed: {message}", "op", name)


def _as_numpy(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return np.array(value, dtype=object)
    return np.asarray(value)


__all__ = ["RunRequest", "RunResult", "RunError", "Session", "Plan", "plan", "signature_io", "is_tf2",
           "first_line", "no_tensorflow_message", "tensorflow_missing",
           "import_tensorflow"]
