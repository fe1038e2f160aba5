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

The error policy: a RunError of a kind in FATAL concerns every checkpoint alike (a feed
that does not fit, a fetch not in the graph, an unsafe op, a graph that cannot be
imported, a dead worker), so the run stops at the first; any other (a checkpoint that
cannot be restored, an op that fails on its values) is that checkpoint's, and the
others still run. A cancelled run stops and is reported as cancelled, not as failed.

Pure: no TensorFlow, no Qt. Call `run_requests` from a thread that may block.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..formats import tensors
from ..formats.dtypes import enum_name
from ..formats.graph import Graph
from . import graphwalk
from .feeds import FeedError, coerce, materialize, parse_feed, shape_text
from .session import RunError, RunRequest, RunResult, signature_io

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


def _no_such(what: str, name: str, graph: Graph, kind: str) -> RunError:
    op = graphwalk.split_tensor(name)[0]
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


__all__ = ["FATAL", "FeedSpec", "RunNeeds", "CheckpointRun", "RunOutcome", "analyze",
           "run_kind", "load_feeds", "run_requests", "is_fatal"]
