"""Running tensors, one way for the command line and the Run panel alike.

- `analyze` works out, from the graph alone, what a run of some fetches involves: the
  feeds it takes and the ones it needs, the names that are not in the graph (with
  similar ones), and the ops it would run that reach outside the session — on the fetch
  path, in the saver's restore, in a SavedModel's loader.
- `RunNeeds.check` fits given values to their placeholders; `load_feeds` reads typed
  text (literals, @files) into such values.
- `run_requests` runs the requests of a plan — one checkpoint or every one — through any
  runner (an in-process `Session`, or a `RunnerClient` and its worker process) under
  one error policy, and reports each checkpoint's outcome through a plain callback.
- `plan_freeze` checks what freezing a model for some outputs involves (names, variables,
  destination, unsafe ops) and makes the request; `freeze` has a runner do it and puts
  the file into place atomically (the TensorFlow side: app.runner.freeze).

The error policy: a RunError of a kind in FATAL concerns every checkpoint alike (a feed
that does not fit, a fetch not in the graph, an unsafe op, a graph that cannot be
imported, a dead worker), so the run stops at the first; any other (a checkpoint that
cannot be restored, an op that fails on its values) is that checkpoint's, and the
others still run. A cancelled run stops and is reported as cancelled, not as failed.

Pure: no TensorFlow, no Qt. Call `run_requests` from a thread that may block.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..formats import tensors
from ..formats.dtypes import enum_name
from ..formats.functions import OP_SEP, split_ref
from ..formats.graph import Graph
from . import graphwalk
from .feeds import FeedError, coerce, materialize, parse_feed, shape_text
from .freeze import FreezeRequest, FreezeResult
from .session import (RunError, RunRequest, RunResult, no_tensorflow_message, plan,
                      signature_io, tensorflow_missing, unsafe_error)

FATAL = frozenset({"feed", "fetch", "unsafe", "graph", "worker", "cancelled"})


# -- what a run needs --------------------------------------------------------------------

@dataclass(frozen=True)
class FeedSpec:
    """Something a run can be fed: a placeholder on the fetch path, a tensor given a value,
    or a signature input."""
    label: str                  # what RunRequest.feeds is keyed by: "w1:0" (a placeholder
                                # found on the path), the name as given, or a signature key
    tensor: str                 # the graph tensor behind it, "op:index"
    dtype: str | None           # None: not a placeholder; TensorFlow checks the value
    shape: tuple | None = None  # None: unknown rank
    optional: bool = False      # the run goes without it (a default, or not on the path)

    @property
    def op(self) -> str:
        return graphwalk.split_tensor(self.tensor)[0]

    def describe(self) -> str:
        """"y (int64, [?])", as a placeholder is named in messages."""
        extra = ", optional" if self.optional else ""
        return f"{self.op} ({self.dtype}, {shape_text(self.shape)}{extra})"


@dataclass
class RunNeeds:
    """What running `targets` involves, found without TensorFlow."""
    signature: str | None
    targets: list[str]                  # tensors or ops run: the fetches, or the signature's outputs
    feeds: list[FeedSpec]               # given feeds first, then the placeholders on the path
    unsafe: list[graphwalk.UnsafeOp]    # ops that reach outside the session
    missing: list[RunError]             # fetch and feed names not in the graph, fetches first
    path: graphwalk.FetchPath
    unfed_required: list[FeedSpec] = field(default_factory=list)  # needed, not among the fed

    def unfed(self, given: Iterable[str] = ()) -> list[FeedSpec]:
        """The feeds the run still needs when those labelled `given` have values."""
        given = set(given)
        return [s for s in self.unfed_required if s.label not in given]

    def check(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """`feeds` (label → value) fitted to their placeholders' dtype and shape. Raises
        RunError for the first name not in the graph, then for the first value that does
        not fit (kind "feed", naming it)."""
        if self.missing:
            raise self.missing[0]
        out = dict(feeds)
        for spec in self.feeds:
            if spec.label in feeds:
                try:
                    out[spec.label] = materialize(feeds[spec.label]) if spec.dtype is None \
                        else coerce(feeds[spec.label], spec.dtype, spec.shape, spec.label)
                except FeedError as e:
                    raise RunError(str(e) if e.name else f"feed {spec.label}: {e.problem}",
                                   "feed", spec.label) from None
        return out


def run_kind(model, graph: Graph) -> tuple[str, bool]:
    """(kind, restores) of the runs `session.plan` makes for a model shown with `graph`,
    without making them: which set-up ops (restore, loader) a run executes too."""
    if model.kind == "savedmodel" or graph.format == "savedmodel":
        return "savedmodel", False
    if model.kind == "graph":  # a graph file alone: nothing to restore
        return ("meta" if graph.format == "metagraph" else "graphdef"), False
    return "meta", True


def analyze(graph: Graph, fetches: list[str], *, signature: str | None = None,
            fed: Iterable[str] = (), kind: str = "meta", restores: bool = False) -> RunNeeds:
    """What running `fetches` (or every output of `signature`, when no fetches are given)
    involves when the feeds labelled `fed` have values. `kind` and `restores` say what
    else a run executes (see `run_kind`, `Plan.restores`). Raises RunError (kind "fetch")
    for a signature the graph does not have."""
    fed = list(fed)
    missing: list[RunError] = []
    if signature is not None:
        inputs, outputs = signature_io(graph, signature)
        for f in fetches:
            if f not in outputs:
                missing.append(RunError(f"signature {signature} has no output {f!r} "
                                        f"(outputs: {', '.join(sorted(outputs))})", "fetch", f))
        for label in fed:
            if label not in inputs:
                missing.append(RunError(f"signature {signature} has no input {label!r} "
                                        f"(inputs: {', '.join(sorted(inputs))})", "feed", label))
        targets = [outputs[f] for f in (fetches or outputs) if f in outputs]
        labels = {graphwalk.tensor_name(t): k for k, t in inputs.items()}
    else:
        missing += [_no_such("op", f, graph, "fetch") for f in fetches
                    if graphwalk.split_tensor(f)[0] not in graph.index]
        missing += [_no_such("placeholder or tensor", label, graph, "feed") for label in fed
                    if graphwalk.split_tensor(label)[0] not in graph.index]
        targets = list(fetches)
        labels = {graphwalk.tensor_name(label): label for label in fed}
    fed_tensors = [t for t, label in labels.items() if label in fed]
    path = graphwalk.analyze(graph, targets, fed_tensors)
    required = {p.tensor: p for p in path.required}

    if signature is not None:
        specs = [_input_spec(graph, label, tensor, signature, tensor not in required)
                 for tensor, label in labels.items()]
    else:
        specs = [_given_spec(graph, label, tensor) for tensor, label in labels.items()]
        specs += [FeedSpec(p.tensor, p.tensor, p.dtype, p.shape, p.optional)
                  for p in path.placeholders if p.tensor not in labels]
    by_tensor = {s.tensor: s for s in specs}
    unfed = [by_tensor.get(t) or FeedSpec(p.name, t, p.dtype, p.shape)  # not a signature input
             for t, p in required.items()]
    return RunNeeds(signature, targets, specs, _unsafe(graph, path, kind, restores), missing,
                    path, unfed)


def _graph_callers(graph: Graph, function: str, limit: int = 3) -> list[str]:
    """The graph's own ops that reach `function`, through calls made inside other functions
    too (breadth first up the callers; each function once, so recursion ends)."""
    lib = graph.functions
    direct: dict[str, list[str]] = {}
    for node, call in graph.calls():
        direct.setdefault(call.function, []).append(node)
    found: list[str] = []
    seen, queue = {function}, [function]
    while queue and len(found) < limit:
        name = queue.pop(0)
        found += [n for n in direct.get(name, []) if n not in found]
        for caller, _node, _attr in lib.callers(name):
            if caller is not None and caller not in seen:
                seen.add(caller)
                queue.append(caller)
    return sorted(found)[:limit]


def inside_function(graph: Graph, name: str) -> str | None:
    """Why `name` (`function@node`, or a node name found only in function bodies) cannot be
    fetched by a TF1 session, or None when it is not such an op."""
    op = graphwalk.split_tensor(name)[0] if OP_SEP not in name else name.split(":", 1)[0]
    function, node = split_ref(op)
    lib = graph.functions
    if function is None:
        if op in graph.index or not len(lib):
            return None
        places = lib.where(op)
        if not places:
            return None
        function = places[0]
        where = function + (f" (and {len(places) - 1} more)" if len(places) > 1 else "")
        node = op
    else:
        if function not in lib:
            return f"no function {function!r} in the graph's library"
        if node not in lib.index(function):
            close = difflib.get_close_matches(node, list(lib.index(function)), n=3)
            hint = f"; similar: {', '.join(close)}" if close else ""
            return f"no op {node!r} in function {function}{hint}"
        where = function
    callers = _graph_callers(graph, function)
    via = (f"; fetch the outputs of the graph op that calls it ({', '.join(callers)}) "
           "or run a signature") if callers else "; run a signature, or the op that calls the function"
    return (f"{node} lives inside function {where}: a TF1 session fetches only the graph's own "
            f"ops, not the inside of a function{via}")


def _no_such(what: str, name: str, graph: Graph, kind: str) -> RunError:
    op = graphwalk.split_tensor(name)[0]
    inside = inside_function(graph, name) if kind == "fetch" else None
    if inside is not None:
        return RunError(inside, kind, name)
    close = difflib.get_close_matches(op, list(graph.index), n=3)
    hint = f"; similar: {', '.join(close)}" if close else ""
    return RunError(f"no {what} {name!r} in the graph{hint}", kind, name)


def _placeholder(graph: Graph, tensor: str):
    """The Placeholder behind `tensor` (output 0 of such an op), or None."""
    op, index = graphwalk.split_tensor(tensor)
    if index != 0 or op not in graph.index:
        return None
    node = graph.node(op)
    return graphwalk.placeholder_of(node) if node.op in graphwalk.PLACEHOLDER_OPS else None


def _given_spec(graph: Graph, label: str, tensor: str) -> FeedSpec:
    ph = _placeholder(graph, tensor)
    if ph is None:  # another tensor, fed in place of what computes it
        return FeedSpec(label, tensor, None, None, True)
    return FeedSpec(label, tensor, ph.dtype, ph.shape, ph.optional)


def _input_spec(graph: Graph, key: str, tensor: str, signature: str, optional: bool) -> FeedSpec:
    """A signature input: the placeholder's own dtype and shape (what TensorFlow checks),
    else what the signature declares."""
    ph = _placeholder(graph, tensor)
    if ph is not None:
        return FeedSpec(key, tensor, ph.dtype, ph.shape, optional or ph.optional)
    info = graph.signatures()[signature].inputs[key]
    return FeedSpec(key, tensor, enum_name(info.dtype), tensors.shape_of(info.tensor_shape),
                    optional)


def _unsafe(graph: Graph, path, kind: str, restores: bool) -> list[graphwalk.UnsafeOp]:
    """The fetch path's unsafe ops, and those of what the session runs before it: the
    saver's restore, or a SavedModel's loader — the checks the session itself makes."""
    ops = list(path.unsafe)
    if kind == "meta" and restores:
        ops += graphwalk.restore_problems(graph)
    elif kind == "savedmodel":
        ops += graphwalk.loader_problems(graph)
    return ops


# -- feeds from text ---------------------------------------------------------------------

def load_feeds(specs: Iterable[FeedSpec], texts: Mapping[str, str],
               base_dir: str | None = None) -> dict[str, np.ndarray]:
    """The typed `texts` (label → literal or @FILE, relative to `base_dir`) of `specs`,
    read and fitted to their placeholders. Raises RunError (kind "feed") naming the
    first that cannot be read or does not fit. Files are read here: call it off the UI
    thread."""
    values = {}
    for spec in specs:
        text = texts.get(spec.label)
        if not text:
            continue
        try:
            value = parse_feed(text, base_dir)
            values[spec.label] = materialize(value) if spec.dtype is None else coerce(
                value, spec.dtype, spec.shape, spec.label)
        except FeedError as e:
            raise RunError(f"feed {spec.label}: {e.problem}", "feed", spec.label) from None
    return values


# -- running -----------------------------------------------------------------------------

@dataclass
class CheckpointRun:
    """One checkpoint's outcome: its values, or the error that was its own."""
    checkpoint: str | None
    step: int | None
    fetches: dict[str, Any] | None      # by the name asked for; None when it failed
    error: RunError | None = None
    seconds: float = 0.0


@dataclass
class RunOutcome:
    runs: list[CheckpointRun]           # in order, failed ones included
    total: int                          # the requests there were
    error: RunError | None = None       # a fatal error: the run stopped there
    stopped_at: RunRequest | None = None  # the request that raised it
    cancelled: bool = False

    @property
    def failed(self) -> list[CheckpointRun]:
        return [r for r in self.runs if r.error is not None]


def is_fatal(error: RunError) -> bool:
    return error.kind in FATAL


def run_requests(requests: list[RunRequest], runner: Callable[[RunRequest], RunResult], *,
                 on_run: Callable[[CheckpointRun, int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> RunOutcome:
    """Run `requests` in order with `runner` (Session.run, or a RunnerClient's run),
    under the error policy above. `on_run(run, done, total)` follows each checkpoint
    that ran or failed on its own; `should_stop()` is asked before each request."""
    outcome = RunOutcome([], len(requests))
    for i, req in enumerate(requests):
        if should_stop is not None and should_stop():
            outcome.cancelled = True
            break
        try:
            result = runner(req)
        except RunError as e:
            if e.kind == "cancelled":
                outcome.cancelled = True
                break
            if is_fatal(e):
                outcome.error, outcome.stopped_at = e, req
                break
            run = CheckpointRun(req.checkpoint, req.step, None, e)
        else:
            run = CheckpointRun(req.checkpoint, req.step, result.fetches, None, result.seconds)
        outcome.runs.append(run)
        if on_run is not None:
            on_run(run, i + 1, len(requests))
    return outcome


# -- freezing ----------------------------------------------------------------------------

DEFAULT_SIGNATURE = "serving_default"


def plan_freeze(path: str, outputs: list[str], destination: str, *,
                checkpoint: str | None = None, signature: str | None = None,
                allow_unsafe: bool = False) -> FreezeRequest:
    """The request that freezes the model at `path` (as `session.plan` takes it; the
    checkpoint chosen by `checkpoint`, else the latest) for `outputs` into `destination`.

    `outputs` are op or tensor names of a TF1 graph, or output keys of the SavedModel's
    `signature` (default serving_default; no outputs: all of its outputs) — for a TF2
    SavedModel also op names of the frozen signature, checked when it is frozen.
    Raises RunError ("fetch": a name not in the graph; "graph": nothing to freeze;
    "write": a destination that cannot be; "unsafe": ops that reach outside the session,
    unless `allow_unsafe`, with `ops`) or FormatError (a model that cannot be read).
    Pure: call it before starting TensorFlow, to report mistakes at once."""
    outputs = list(dict.fromkeys(o.strip() for o in outputs if o.strip()))
    pl = plan(path, checkpoint, signature=signature)
    graph, model = pl.graph, pl.model
    prefix = pl.checkpoints[0][0]
    source = model.graph_path or (model.selected.prefix if model.selected else model.path)
    signatures = sorted(k for k in graph.signatures() if not k.startswith("__"))
    if pl.kind == "savedmodel":
        tf2 = graph.meta_graph is not None and len(graph.meta_graph.object_graph_def.nodes) > 0
        key = signature or (DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in signatures else None)
        if key is None and (tf2 or not outputs):
            raise RunError(f"{model.folder}: no {DEFAULT_SIGNATURE} signature; choose one "
                           f"(signatures: {', '.join(signatures) or 'none'})", "fetch")
        if key is not None and key not in signatures:
            raise RunError(f"no signature {key!r} (signatures: {', '.join(signatures) or 'none'})",
                           "fetch", key)
        engine = "function" if tf2 else "session"
    else:
        key, engine = None, "session"
        if signature is not None:
            raise RunError(f"{source}: not a SavedModel; it has no signatures to choose from",
                           "fetch", signature)
    if not graph.variables():
        raise RunError(f"{source}: the graph has no variables, so there is nothing to fold "
                       f"into constants (is it frozen already?)", "graph")
    if prefix is None:
        raise RunError(f"{source}: no checkpoint holds this graph's variables, so they have no "
                       f"values to fold in; freeze the checkpoint or run folder instead", "graph")
    if not outputs and key is None:
        raise RunError("nothing to freeze for: name the outputs (ops or tensors)", "fetch")

    sig_inputs, sig_outputs = signature_io(graph, key) if key is not None else ({}, {})
    keys = [o for o in outputs if o in sig_outputs] if outputs else sorted(sig_outputs)
    labels: dict[str, str] = {}
    for label in outputs or keys:
        if label in sig_outputs:
            labels[label] = label if engine == "function" else sig_outputs[label]
        else:
            labels[label] = label
    # What the run service checks for a run of these outputs: names, and unsafe ops on
    # their path and in the restore or loader.
    if engine == "function":
        needs = analyze(graph, [], signature=key, kind="savedmodel")
    else:
        needs = analyze(graph, list(labels.values()), kind=pl.kind, restores=pl.restores)
    if needs.missing:
        raise needs.missing[0]
    if needs.unsafe and not allow_unsafe:
        raise unsafe_error(needs.unsafe, "freezing these outputs")
    dest = _freeze_destination(destination, pl)
    run = pl.requests([], {}, key, allow_unsafe)[0]
    # Freezing a TF1 signature's outputs cuts the graph at the signature's inputs too.
    cut = sig_inputs if engine == "session" and keys else {}
    return FreezeRequest(run, engine, labels, keys, cut, dest, "", dest.endswith(".pbtxt"))


def _freeze_destination(destination: str, pl) -> str:
    """`destination` made absolute, or RunError ("write") when it is a folder, has no
    folder to go in, or is the model's own file or inside its folder (a model's folder is
    only ever read)."""
    if not destination or not destination.strip():
        raise RunError("no destination file given", "write")
    dest = os.path.abspath(os.path.expanduser(destination))
    if os.path.isdir(dest):
        raise RunError(f"{dest} is a folder; give the file to write, e.g. "
                       f"{os.path.join(dest, 'frozen.pb')}", "write")
    if not os.path.isdir(os.path.dirname(dest)):
        raise RunError(f"{os.path.dirname(dest)}: no such folder to write into", "write")
    real = os.path.realpath(dest)
    model = pl.model
    files = {model.graph_path, *(p for c in model.checkpoints
                                 for p in (c.index, c.meta, *c.data_files))}
    if real in {os.path.realpath(f) for f in files if f}:
        raise RunError(f"{dest} is a file of the model being frozen; write the frozen graph "
                       f"to a new file", "write")
    folder = os.path.realpath(model.folder)
    if os.path.commonpath([folder, real]) == folder:
        raise RunError(f"{dest} is inside the model's folder {model.folder}, which is only "
                       f"read; write the frozen graph elsewhere", "write")
    return dest


def freeze(request: FreezeRequest, runner: Callable[[FreezeRequest], FreezeResult], *,
           on_status: Callable[[str], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> FreezeResult:
    """Freeze with `runner` (a RunnerClient's `freeze`, or a Session's): it writes a
    temporary file beside the destination, which is checked (it reads back as a graph
    without variables, with the outputs in it) and renamed into place. On any failure or
    cancel the temporary file is removed and the destination left as it was. Cancel by
    `should_stop()` (asked before and after) and by cancelling the runner (a RunnerClient
    ends its worker). Raises RunError (kind "cancelled" when cancelled). Blocks: call it
    from a worker thread."""
    from ..formats.errors import FormatError
    from ..formats.graph import load_graph
    from .worker import Cancelled

    if tensorflow_missing():
        raise RunError(no_tensorflow_message(), "tensorflow")
    stop = should_stop or (lambda: False)
    if stop():
        raise Cancelled()
    folder, name = os.path.split(request.destination)
    stem, ext = os.path.splitext(name)
    partial = os.path.join(folder, f".{stem}.partial-{secrets.token_hex(4)}{ext}")
    req = dataclasses.replace(request, partial=partial)
    try:
        result = runner(req)
        if stop():
            raise Cancelled()
        if on_status is not None:
            on_status("checking the frozen graph")
        try:
            written = load_graph(partial)
        except FormatError as e:
            raise RunError(f"the frozen graph does not read back: {e}", "graph") from None
        if written.variables():
            raise RunError("the frozen graph still holds variables: "
                           f"{', '.join(written.variables()[:5])}", "graph")
        absent = [t for t in result.outputs.values()
                  if graphwalk.split_tensor(t)[0] not in written.index]
        if absent:
            raise RunError(f"the frozen graph lacks its outputs: {', '.join(absent)}", "graph")
        try:
            os.replace(partial, request.destination)
        except OSError as e:
            raise RunError(f"{request.destination}: cannot write: {e.strerror or e}",
                           "write") from None
    except BaseException:
        try:
            os.remove(partial)
        except FileNotFoundError:
            pass
        raise
    return result


__all__ = ["FATAL", "FeedSpec", "RunNeeds", "CheckpointRun", "RunOutcome", "analyze", "inside_function",
           "run_kind", "load_feeds", "run_requests", "is_fatal", "FreezeRequest",
           "FreezeResult", "plan_freeze", "freeze", "DEFAULT_SIGNATURE"]
