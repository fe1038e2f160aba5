"""Following a run folder while training writes it: a timer on the UI thread polls a
`RunWatcher` (a poll of an unchanged folder is one stat) and hands the document the
checkpoints as they are now. The document stays Qt-free; the timer lives here."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from ..formats.errors import FormatError
from ..formats.live import RunWatcher
from ..formats.run import RunFolder

POLL_MS = 500


class LiveFollower(QObject):
    """Watches the folder of the document's run; `changed` after each update."""

    changed = Signal()

    def __init__(self, doc, follow_latest, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._follow_latest = follow_latest   # () → bool: the panel's toggle
        self.watcher: RunWatcher | None = None
        self.last_change: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        doc.opened.connect(self._opened)

    @property
    def live(self) -> bool:
        """The folder is followed (any run folder is)."""
        return self.watcher is not None

    @property
    def changing(self) -> bool:
        """Training wrote it since it was opened: what title and status call "live"."""
        return self.watcher is not None and self.last_change is not None

    def _opened(self, loaded) -> None:
        model = loaded.model
        if model.kind != "run":
            self.stop()
            return
        self.watcher = RunWatcher(model.folder)
        self.watcher.poll()   # what is there now is what the document just read
        self.last_change = None
        self.timer.start()
        self.changed.emit()

    def stop(self) -> None:
        self.timer.stop()
        self.watcher = None
        self.changed.emit()

    def poll(self) -> None:
        if self.watcher is None or self.doc.loaded is None:
            return
        events = self.watcher.poll()
        if not events:
            return
        self.last_change = time.time()
        complete = set(self.watcher.checkpoints)
        try:
            run = RunFolder(self.watcher.folder)
            # Only what the watcher judged complete, or listed elsewhere (V1, missing):
            # an index TensorFlow is still writing must not reach the list.
            listed = [c for c in run.checkpoints if c.prefix in complete or c.format != "bundle"
                      or not c.on_disk]
        except FormatError:   # the folder is gone for now
            listed = []
        self.doc.set_checkpoints(listed)
        newest = max((c for c in listed if c.on_disk and c.step is not None),
                     key=lambda c: c.step, default=None)
        current = self.doc.checkpoint
        if self._follow_latest() and newest is not None and (
                current is None or current.prefix != newest.prefix):
            self.doc.select_checkpoint(newest.prefix)
        self.changed.emit()

    def describe(self) -> str:
        """For the status bar: that the run is live, and when it last changed."""
        if not self.changing:
            return ""   # a finished run reads as before
        return f"live: last change {time.strftime('%H:%M:%S', time.localtime(self.last_change))}"
