"""The Run tab's "Run on each new checkpoint": while training writes the run folder, the
panel's fetches (with their feeds) run on each checkpoint as it lands, one row per step
added to one accumulating result, as an every-checkpoint run shows them.

The document says which checkpoints landed complete (`Document.live_changed`, the
watcher's "added" events); `RunFollower` queues them and hands them to the panel one at a
time, after the run in progress. A TF1 `Saver` writes the `.meta` just after the
checkpoint is complete, so a step's run first waits for it a moment (`wait_ready`, on the
run lane); a checkpoint that `max_to_keep` deleted before its turn gets a row saying so.
"""

from __future__ import annotations

import os
import time
from collections import deque

from PySide6.QtCore import QObject

META_WAIT = 3.0        # seconds a step's run waits for its .meta
GONE = "deleted before its turn (max_to_keep?)"


def wait_ready(prefix: str, timeout: float = META_WAIT) -> str | None:
    """None when the checkpoint can be run now (its .meta waited for, bounded), else why
    not: it was deleted before its turn. Called off the UI thread."""
    deadline = time.monotonic() + timeout
    while os.path.exists(prefix + ".index") and not os.path.exists(prefix + ".meta") \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    return None if os.path.exists(prefix + ".index") else GONE


def gone(prefix: str) -> bool:
    """After a failed step: its files were deleted under the run (the failure is that)."""
    return not (os.path.exists(prefix + ".index") and os.path.exists(prefix + ".meta"))


class RunFollower(QObject):
    """Runs the panel's form on each new checkpoint while `panel.follow_new` is ticked.
    `added(events)` takes the watcher's events; unticking stops following (the step in
    flight finishes)."""

    def __init__(self, panel, parent=None):
        super().__init__(parent or panel)
        self.panel = panel
        self.record = None               # the accumulating RunRecord, made on the first step
        self.queue: deque[tuple[str, int | None]] = deque()
        panel.follow_new.toggled.connect(self._toggled)
        panel.run_finished.connect(lambda _r: self._next())

    @property
    def on(self) -> bool:
        return self.panel.follow_new.isChecked() and self.panel.follow_new.isEnabled()

    def _toggled(self, on: bool) -> None:
        self.queue.clear()
        self.record = None               # each time it is ticked: a new result
        if on:
            self.panel.warm_up()         # TensorFlow loads before the next checkpoint lands

    def added(self, events) -> None:
        """The watcher's events of one poll: each complete checkpoint added is queued."""
        if not self.on:
            return
        new = [e for e in events if e.kind == "added" and e.problem is None]
        new.sort(key=lambda e: (e.step is None, e.step or 0))
        self.queue.extend((e.prefix, e.step) for e in new)
        self._next()

    def _next(self) -> None:
        if not self.on or self.panel.running or not self.queue:
            return
        prefix, step = self.queue.popleft()
        if self.record is None:
            self.record = self.panel.follow_record()
        if not self.panel.run(prefix, step=step, into=self.record):
            # the form cannot run (the panel says why): following stops, visibly
            self.panel.follow_new.setChecked(False)
