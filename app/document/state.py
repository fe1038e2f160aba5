"""`Document`: one opened model's state and the work that changes it.

Data flows one way. A front end asks (`open`, `select_checkpoint`, `select`, …); the
document runs the file work on a lane, updates its state on the owner's thread when the
result arrives, and emits an event; every panel that shows that state redraws from the
event. A new source of change — a checkpoint that appears while training writes, a
remote fetch that completes — is one more caller of the same methods, and the panels
already understand the events it causes.

Lanes run the work: `lanes(name)` makes one per kind of job (the window passes Qt lanes
whose results come back on its UI thread; tests and headless callers may pass
`InlineLane`). A new request on a lane makes the older one stale.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, replace
from typing import Any, Callable, Protocol

from ..analysis.loading import Loaded, add_graph, build_tree, load, open_reader
from ..analysis.progress import Cancelled
from ..formats import location
from ..formats.display import human_bytes
from ..formats.errors import FormatError, ModelsBelow
from ..formats.run import Checkpoint
from .events import Event


class LaneLike(Protocol):
    busy: bool

    def submit(self, task: Callable, on_done: Callable, on_error: Callable | None = None): ...

    def cancel(self) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True, eq=False)
class Selection:
    """The current item, followed by every panel. One of (`value` aside):
    `key` — a tensor of the current checkpoint (with `op`, the graph op that holds it, if
    any; or, in a tree of variable names, `scope`, its leaf);
    `op` alone — a graph op without a stored value (or a frozen graph's Const);
    `scope` alone — a name scope of the tree (a `Scope`);
    `value` — an array computed here (a delta, a run's result), titled `title`; with
    `key` (and `op`), the variable it is about, where there is one.
    `origin` names the panel that made the selection, so that it need not follow itself."""

    key: str | None = None
    op: str | None = None
    scope: Any = None
    value: Any = None
    title: str = ""
    origin: str = ""

    def same_item(self, other: "Selection") -> bool:
        """Whether both name the same thing (arrays and scopes by identity)."""
        return (self.key == other.key and self.op == other.op and self.scope is other.scope
                and self.value is other.value)

    @property
    def empty(self) -> bool:
        return self.key is None and self.op is None and self.scope is None and self.value is None


NOTHING = Selection()
LANES = ("load", "value", "stats", "verify", "compare", "trend", "run", "events", "live", "graph")
# Not the user's to stop with Esc: following the folder goes on while the run is open.
UNSTOPPABLE = ("load", "live")


class InlineJob:
    def __init__(self):
        self.stopped = False

    def cancelled(self) -> bool:
        return self.stopped

    def progress(self, fraction: float, text: str = "") -> None:
        pass


class InlineLane:
    """A lane that runs each task at once, on the caller's thread: for tests and for
    front ends without an event loop. Errors are reported as the window's lanes report
    them."""

    busy = False

    def submit(self, task, on_done, on_error=None):
        job = InlineJob()
        try:
            result = task(job)
        except Cancelled:
            return job
        except FormatError as e:
            if on_error is not None:
                on_error(str(e), "")
            return job
        except Exception as e:
            if on_error is not None:
                on_error(f"unexpected {type(e).__name__}: {e}", traceback.format_exc())
            return job
        on_done(result)
        return job

    def cancel(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


def _trainable_text(params) -> str:
    """' (all trainable)' or ' (3,000 trainable)', where the graph says which are."""
    if params.trainable is None or not params.model:
        return ""
    if params.trainable == params.model:
        return " (all trainable)"
    return f" ({params.trainable:,} trainable)"


def _stoppable(task: Callable) -> Callable:
    """The task, with remote reads that stop within a moment of the job's cancel."""
    def run(job):
        with location.cancel_when(job.cancelled, job.progress):
            return task(job)
    return run


class Document:
    """Events (each an `Event`; arguments in brackets):
    - opening [path] — reading starts; progress [fraction, text] while it runs
    - opened [Loaded] — the model is read; everything shown is to be rebuilt
    - open_failed [message, details] — nothing could be read
    - checkpoint_changed [Loaded] — another checkpoint's weights are current
    - graph_changed [Loaded] — another meta graph (and so another tree) is current
    - checkpoints_changed [list of Checkpoint] — the run's checkpoint list changed
    - selection_changed [Selection]
    - notice [message, details, error: bool] — something to tell the user, not fatal
    - run_requested [op names, signature key or None] — the user asked to run these
    - scalars_changed [EventData] — the training curves the run's event files hold (again
      each time training appends to them, while the run is followed)
    - live_changed [LiveUpdate] — training changed the run's folder (after the checkpoint
      list and the current checkpoint were updated)
    - work_cancelled [lane names] — the user stopped these kinds of background work
    - working [lane name, text] — work whose result replaces what a pane shows has started
    - status [text] — one line for the status bar
    - busy_changed [] — a lane started or finished
    """

    def __init__(self, path: str, lanes: Callable[[str], LaneLike] | None = None):
        self.path = path
        self.loaded: Loaded | None = None
        self.selection: Selection = NOTHING
        make = lanes or (lambda _name: InlineLane())
        self.lanes: dict[str, LaneLike] = {name: make(name) for name in LANES}
        self._closed = False
        self._results = None
        self.models_below: list[str] = []   # after a failed open: subfolders that hold models
        self.scalars = None                  # EventData of the run's event files, once read
        self._event_log = None               # what reads them, and only what was appended since
        self.live = None                     # LiveRun: the folder followed while training writes
        self._told_gone: set[str] = set()    # deleted checkpoints the user was told about
        self._poll_again = None              # follow_latest of a poll asked for while one ran
        for name in ("opening", "progress", "opened", "open_failed", "checkpoint_changed",
                     "graph_changed", "checkpoints_changed", "selection_changed", "notice", "run_requested",
                     "scalars_changed", "live_changed", "work_cancelled", "working",
                     "status", "busy_changed"):
            setattr(self, name, Event(name))

    # -- work ---------------------------------------------------------------------------

    def submit(self, lane: str, task: Callable, on_done: Callable,
               on_error: Callable | None = None, what: str = "") -> None:
        """Run `task(job)` on the named lane; `on_done(result)` or `on_error(message,
        details)` on the owner's thread, unless a newer request on that lane came first.
        `what` (e.g. "Computing Δ conv/bias…"), if given, is announced as `working`, so
        that the pane the result is for says so instead of showing the previous one."""
        if not self._closed:
            if what:
                self.working.emit(lane, what)
            self.lanes[lane].submit(_stoppable(task), on_done, on_error)

    def cancel(self, lane: str) -> None:
        self.lanes[lane].cancel()

    def cancel_work(self) -> None:
        """Stop whatever runs in the background, except opening (`cancel_open`); say which
        kinds of work were stopped (`work_cancelled`), so that no panel keeps promising a
        result that will not come."""
        stopped = [name for name, lane in self.lanes.items() if name not in UNSTOPPABLE and lane.busy]
        for name, lane in self.lanes.items():
            if name not in UNSTOPPABLE:
                lane.cancel()
        if stopped:
            self.work_cancelled.emit(stopped)

    def result_cache(self):
        """The cache of per-tensor results (statistics, differences) that Compare and
        Across the run share: one per document, made on first use (it needs numpy)."""
        if self._results is None:
            from ..analysis.compare import ResultCache
            self._results = ResultCache()
        return self._results

    @property
    def busy(self) -> bool:
        return any(lane.busy for lane in self.lanes.values())

    def close(self) -> None:
        self._closed = True
        for lane in self.lanes.values():
            lane.shutdown()
        if self.loaded is not None and self.loaded.reader is not None:
            self.loaded.reader.close()

    # -- opening ------------------------------------------------------------------------

    @property
    def title(self) -> str:
        if self.loaded:
            return self.loaded.model.title
        shown = location.display(self.path)
        return location.basename(location.normpath(shown)) or shown

    @property
    def checkpoint(self) -> Checkpoint | None:
        return self.loaded.checkpoint if self.loaded else None

    def open(self) -> None:
        """(Re)read the model; the checkpoint shown before stays current if it still exists."""
        keep = self.checkpoint.prefix if self.checkpoint else None
        self.cancel("value")
        self.cancel("stats")
        self.opening.emit(self.path)
        self.status.emit(f"Opening {self.path}…")
        self.models_below = []
        path = self.path
        later = location.is_url(path)   # remote: variables from the index first, then the graph
        self.cancel("graph")

        def task(job):
            try:
                return load(path, job, keep, graph_later=later)
            except ModelsBelow as e:     # not a failure to report: a choice to offer
                return e

        self.submit("load", task, self._opened, self._open_failed)

    def cancel_open(self) -> None:
        self.cancel("load")
        self._open_failed("Opening was cancelled.", "")

    def _open_failed(self, message: str, details: str) -> None:
        self.open_failed.emit(message, details)
        self.status.emit(message)

    def _opened(self, loaded: Loaded | ModelsBelow) -> None:
        if isinstance(loaded, ModelsBelow):
            self.models_below = [os.path.join(loaded.path, sub) for sub in loaded.below]
            self._open_failed(str(loaded), "")
            return
        previous, self.selection = self.selection, NOTHING
        self.loaded = loaded
        self.scalars = None
        self._event_log = None
        self.live = None
        self._told_gone = set()
        self.opened.emit(loaded)
        # the model's notes too: what its state file lists but was not read, and why
        self._tell_problems(loaded.problems + loaded.model.notes)
        # A reload (F5) keeps the current variable or op where the model still has it.
        if previous.key is not None and previous.key in loaded.tensors:
            self.select_tensor(previous.key, origin=previous.origin)
        elif previous.op is not None and loaded.graph is not None and loaded.graph.has_op(previous.op):
            self.select_op(previous.op, origin=previous.origin)
        self.status.emit(self.status_text())
        if loaded.graph_pending:
            self._read_graph(loaded)

    def _read_graph(self, first: Loaded) -> None:
        """The second step of opening a remote model: its graph, which may be large, read
        (with progress) while the variables are already shown."""
        def done(result: Loaded) -> None:
            current = self.loaded
            if current is None or current.model is not first.model:
                return                      # reopened meanwhile
            if current.checkpoint is not first.checkpoint:   # switched meanwhile: keep it
                result = replace(current, graphs=result.graphs, graph=result.graph,
                                 graph_pending=False)
                build_tree(result)
            self.loaded = result
            self.graph_changed.emit(result)
            self._tell_problems(result.problems)
            self.status.emit(self.status_text())

        self.status.emit("Reading the graph…")
        self.submit("graph", lambda job: add_graph(first), done,
                    lambda m, d: self.notice.emit(m, d, False))

    def read_scalars(self) -> None:
        """The scalar summaries (loss, accuracy, …) of the run's event files, in the
        background: a run folder's own and its subfolders' (train/, eval/)."""
        loaded = self.loaded
        if loaded is None or not loaded.event_files:
            return
        from ..formats.events import EventLog
        if self._event_log is None:
            self._event_log = EventLog(loaded.model.folder)
        log = self._event_log

        def done(data):
            if log is not self._event_log or data is self.scalars:
                return   # another run by now, or nothing new
            self.scalars = data
            self.scalars_changed.emit(data)

        self.submit("events", lambda job: log.update(cancelled=job.cancelled), done,
                    lambda m, d: self.notice.emit(f"training curves: {m}", d, False))

    def refresh_scalars(self) -> None:
        """While training appends to the event files: read what was appended (only that),
        if the curves were read once and no read is under way."""
        if self.scalars is not None and self._event_log is not None and not self.lanes["events"].busy:
            self.read_scalars()

    def _tell_problems(self, problems: list[str]) -> None:
        if problems:
            n = len(problems)
            first = problems[0] if n == 1 else f"{problems[0]} (and {n - 1} more)"
            self.notice.emit(first, "\n".join(problems), False)

    # -- checkpoints and graphs ---------------------------------------------------------

    def select_checkpoint(self, prefix: str) -> None:
        """Make another checkpoint of the run current: its weights are read in the
        background; the graph stays."""
        loaded = self.loaded
        if loaded is None or (loaded.checkpoint is not None and loaded.checkpoint.prefix == prefix):
            return
        ckpt = next((c for c in loaded.model.checkpoints if c.prefix == prefix), None)
        if ckpt is None:
            return

        def task(job):
            # A copy: the panels keep reading the current one until the new one is ready.
            switched = replace(loaded, problems=[])
            open_reader(switched, ckpt)
            build_tree(switched)
            return switched

        def done(result: Loaded) -> None:
            self.loaded = result
            self.checkpoint_changed.emit(result)
            self._tell_problems(result.problems)
            key = self.selection.key
            if key is not None:
                # The same variable, now read from the new checkpoint (or gone from it).
                self.selection = Selection(key=key, op=self.selection.op)
                self.selection_changed.emit(self.selection)
            self.status.emit(self.status_text())

        self.status.emit(f"Reading {ckpt.name}…")
        self.submit("load", task, done, self._checkpoint_failed)

    def _checkpoint_failed(self, message: str, details: str) -> None:
        self.notice.emit(message, details, True)
        self.status.emit(message)

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        """The run's checkpoints as they are now on disk (e.g. training wrote a new one)."""
        if self.loaded is None:
            return
        self.loaded.model.checkpoints = list(checkpoints)
        self.checkpoints_changed.emit(self.loaded.model.checkpoints)

    # -- following a run while training writes it ---------------------------------------

    def follow_run(self, mode: str = "poll", fstype: str | None = None, grace: float = 2.0):
        """Start following the opened run's folder (a `LiveRun`; None for other models).
        What is on disk now is taken as known, on the "live" lane."""
        loaded = self.loaded
        if loaded is None or loaded.model.kind != "run":
            self.live = None
            return None
        from .live import LiveRun
        live = self.live = LiveRun(loaded.model.folder, mode, fstype, grace)
        self._poll_again = None
        known = {c.prefix for c in loaded.model.checkpoints if c.format == "bundle" and c.on_disk}

        def primed(update):
            if live is not self.live:
                return
            if update is not None:   # a checkpoint came or went since the run was read
                self.apply_live(update)
            if self._poll_again is not None:
                self.poll_live(self._poll_again)

        self.submit("live", lambda job: live.prime(known), primed,
                    lambda m, d: self.notice.emit(f"following the run: {m}", d, False))
        return live

    def poll_live(self, follow_latest: bool = False) -> None:
        """Ask the folder what changed, on the "live" lane (skipped while a poll runs); the
        result comes back as `apply_live`."""
        live = self.live
        if live is None:
            return
        if self.lanes["live"].busy:
            self._poll_again = follow_latest   # a change seen while a poll runs is not lost
            return
        self._poll_again = None

        def done(update):
            if live is not self.live:
                return
            if update is not None:
                self.apply_live(update, follow_latest)
            if self._poll_again is not None:
                self.poll_live(self._poll_again)

        self.submit("live", live.poll, done,
                    lambda m, d: self.notice.emit(f"following the run: {m}", d, False))

    def apply_live(self, update, follow_latest: bool = False) -> None:
        """The run's folder as a poll found it: the list changes; with `follow_latest` the
        newest checkpoint becomes current; a current checkpoint deleted from disk (e.g. by
        max_to_keep) stays listed, marked, with what was read of it still shown."""
        from .live import DELETED_NOTE, keep_shown
        if self.loaded is None:
            return
        current = self.checkpoint
        listed = list(update.checkpoints)
        newest = max((c for c in listed if c.on_disk and c.step is not None),
                     key=lambda c: c.step, default=None)
        moving = follow_latest and newest is not None and (current is None or current.prefix != newest.prefix)
        if not moving:
            listed = keep_shown(listed, current)
        self.set_checkpoints(listed)
        if moving:
            self.select_checkpoint(newest.prefix)
        elif current is not None and current.prefix not in self._told_gone and any(
                c.prefix == current.prefix and c.note == DELETED_NOTE for c in listed):
            self._told_gone.add(current.prefix)
            self.notice.emit(f"{current.name} was {DELETED_NOTE}.", "", False)
        self.live_changed.emit(update)

    def select_meta_graph(self, index: int) -> None:
        loaded = self.loaded
        if loaded is None or not 0 <= index < len(loaded.graphs) or loaded.graphs[index] is loaded.graph:
            return
        graph = loaded.graphs[index]

        def task(job):
            switched = replace(loaded, graph=graph)
            build_tree(switched)
            graph.collections()
            return switched

        def done(result: Loaded) -> None:
            self.loaded = result
            self.graph_changed.emit(result)

        self.submit("load", task, done, lambda m, d: self.notice.emit(m, d, True))

    # -- selection ----------------------------------------------------------------------

    def select(self, selection: Selection) -> None:
        if selection.same_item(self.selection):
            return
        self.selection = selection
        self.selection_changed.emit(selection)

    def select_tensor(self, key: str, origin: str = "") -> None:
        """A tensor of the current checkpoint, by its key."""
        op = self.op_for_tensor(key)
        self.select(Selection(key=key, op=op, origin=origin))

    def select_op(self, name: str, origin: str = "") -> None:
        """An op of the graph: its variable's value where the checkpoint holds one."""
        key = self.loaded.tensor_for_op(name) if self.loaded else None
        self.select(Selection(key=key, op=name, origin=origin))

    def select_value(self, title: str, value, origin: str = "", key: str | None = None) -> None:
        """An array computed here (a delta between checkpoints, a run's result); `key`, the
        variable of the current checkpoint it is about, if any — the panels that follow a
        variable (the tree, the table, across the run) follow that one."""
        if key is not None and (self.loaded is None or key not in self.loaded.tensors):
            key = None
        op = self.op_for_tensor(key) if key is not None else None
        self.select(Selection(key=key, op=op, value=value, title=title, origin=origin))

    def request_run(self, names: list[str], signature: str | None = None) -> None:
        """Ask the Run tab to fetch these ops (their outputs), e.g. a graph's likely outputs,
        or to run through a SavedModel's signature."""
        self.run_requested.emit(list(names), signature)

    def op_for_tensor(self, key: str) -> str | None:
        loaded = self.loaded
        if loaded is None or loaded.graph is None:
            return None
        if loaded.tree_kind == "graph" and key in loaded.graph.index:
            return key                     # a frozen graph's Const is its own tensor
        return next((op for op, k in loaded.graph.checkpoint_keys().items() if k == key), None)

    # -- what to say --------------------------------------------------------------------

    def status_text(self) -> str:
        if not self.loaded:
            return ""
        l = self.loaded
        tensors = list(l.tensors.values())
        parts = [l.model.path]
        if l.checkpoint is not None:
            parts.append(l.checkpoint.name)
        if l.graph is not None:
            parts.append(f"{len(l.graph.nodes):,} ops")
        if tensors:
            parts.append(f"{l.params.model:,} parameter{'s' if l.params.model != 1 else ''}"
                         + _trainable_text(l.params))
            if l.params.optimizer:
                parts.append(f"{l.params.optimizer:,} in optimizer state")
            parts.append(human_bytes(sum(t.nbytes for t in tensors)))
        elif l.tree is not None and l.tree.params:
            parts.append(f"{l.tree.params:,} parameters (shapes from the graph; no values)")
        return "   ·   ".join(parts)

    def verify(self) -> None:
        """Check every tensor of every checkpoint against its crc32c, in the background."""
        if self.loaded is None or not self.loaded.model.checkpoints:
            self.notice.emit("Nothing to verify: this model has no checkpoint.", "", False)
            return
        from ..analysis.verify import verify
        checkpoints = self.loaded.model.checkpoints
        self.status.emit("Verifying checkpoints…")

        def done(report):
            text = report.summary(sum(1 for c in checkpoints if c.on_disk)) + "."
            if report.ok:
                text = f"Verified: {text}"
                self.notice.emit(text, "", False)
            else:
                text = text[0].upper() + text[1:]   # the details name each tensor and its problem
                self.notice.emit(text, "\n".join(report.unreadable + report.corrupt), True)
            self.status.emit(text)

        self.submit("verify", lambda job: verify(checkpoints, progress=job.progress, cancelled=job.cancelled),
                    done, lambda m, d: self.notice.emit(m, d, True))
