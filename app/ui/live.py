"""Following a run folder while training writes it. The looking is the document's (a
`LiveRun` polled on its "live" lane, never on the UI thread); this module only says when
to look:

* on a local file system, when the kernel says the folder (or an event file) changed —
  Qt's `QFileSystemWatcher`, inotify on Linux — then every POLL_MS for BUSY_S seconds and
  while a checkpoint is still being written (TensorFlow writes a sharded checkpoint's
  `.index` in place, which tells the folder nothing), plus a slow SWEEP_MS safety poll;
* on NFS, SMB, FUSE and other mounts where changes made elsewhere never reach this
  kernel's notifications (`app.formats.mounts`), every POLL_MS; an idle poll there is one
  stat of the folder.

Qt's watcher rather than the `watchdog` package: it is already here (no new dependency),
it delivers on the UI thread, and the watcher's own checks (completeness, sweeps for
rewrites in place) are needed either way, so notifications only need to say "look now".
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from ..formats.mounts import watch_mode

POLL_MS = 500          # polling mode, and while a checkpoint is being written
SWEEP_MS = 5000        # notification mode: the slow safety poll
EVENTS_MS = 2000       # how often appended event records are looked for, at most
NOTIFY_DELAY_MS = 50   # a burst of notifications (TensorFlow's renames) makes one poll
EVENTS_SOON_MS = 300   # an appended event file is read this long after it was written to
BUSY_S = 3.0           # notification mode: poll at POLL_MS this long after a notification


class LiveFollower(QObject):
    """Follows the folder of the document's run; `changed` after each update. `force_mode`
    ("poll" or "notify") overrides what the folder's file system suggests."""

    changed = Signal()

    def __init__(self, doc, follow_latest, parent=None, force_mode: str | None = None):
        super().__init__(parent)
        self.doc = doc
        self._follow_latest = follow_latest   # () → bool: the panel's toggle
        self.force_mode = force_mode or os.environ.get("CHECKPOINT_BROWSER_WATCH") or None
        self.mode: str | None = None
        self.fstype: str | None = None
        self._events_at = 0.0
        self._busy_until = 0.0              # notification mode: poll often until then
        self._swept_at = 0.0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.soon = QTimer(self)             # notifications come in bursts: one poll for each
        self.soon.setSingleShot(True)
        self.soon.setInterval(NOTIFY_DELAY_MS)
        self.soon.timeout.connect(self.poll)
        self.events_soon = QTimer(self)
        self.events_soon.setSingleShot(True)
        self.events_soon.setInterval(EVENTS_SOON_MS)
        self.events_soon.timeout.connect(self._read_events)
        self.notifier: QFileSystemWatcher | None = None
        doc.opened.connect(self._opened)
        doc.live_changed.connect(lambda _u: self._after_change())

    @property
    def live(self) -> bool:
        """The folder is followed (any run folder is)."""
        return self.doc.live is not None

    @property
    def last_change(self) -> float | None:
        return self.doc.live.last_change if self.doc.live is not None else None

    @property
    def changing(self) -> bool:
        """Training wrote it since it was opened: what title and status call "live"."""
        return self.last_change is not None

    def _opened(self, loaded) -> None:
        self._drop_notifier()
        if loaded.model.kind != "run":
            self.stop()
            return
        folder = loaded.model.folder
        self.mode, self.fstype = watch_mode(folder)
        if self.force_mode in ("poll", "notify"):
            self.mode = self.force_mode
        self.doc.follow_run(self.mode, self.fstype)
        if self.mode == "notify":
            self.notifier = QFileSystemWatcher(self)
            self.notifier.addPath(folder)
            self._watch_event_files()
            self.notifier.directoryChanged.connect(lambda _p: self._notified())
            self.notifier.fileChanged.connect(lambda _p: self._events_changed())
        self.timer.setInterval(POLL_MS)
        self.timer.start()
        self.changed.emit()

    def _watch_event_files(self) -> None:
        loaded = self.doc.loaded
        if self.notifier is None or loaded is None:
            return
        have = set(self.notifier.files())
        new = [p for p in loaded.event_files if p not in have and os.path.exists(p)]
        if new:
            self.notifier.addPaths(new)

    def _drop_notifier(self) -> None:
        if self.notifier is not None:
            self.notifier.deleteLater()
            self.notifier = None

    def stop(self) -> None:
        self.timer.stop()
        self.soon.stop()
        self.events_soon.stop()
        self._drop_notifier()
        self.doc.live = None
        self.changed.emit()

    def _notified(self) -> None:
        self._busy_until = time.monotonic() + BUSY_S
        self.soon.start(NOTIFY_DELAY_MS)

    def poll(self) -> None:
        """Look now (on the document's lane); also look at the event files now and then.
        In notification mode the timer's ticks look only shortly after a notification,
        while a checkpoint is pending, or every SWEEP_MS."""
        live = self.doc.live
        if live is None or self.doc.loaded is None:
            return
        now = time.monotonic()
        if self.mode == "notify" and self.sender() is self.timer and now >= self._busy_until \
                and not live.pending and now - self._swept_at < SWEEP_MS / 1000:
            return
        if now - self._swept_at >= SWEEP_MS / 1000:
            self._swept_at = now
        self.doc.poll_live(self._follow_latest())
        if time.monotonic() - self._events_at >= EVENTS_MS / 1000:
            self._read_events()

    def _events_changed(self) -> None:
        """An event file was appended to: read what was appended, once per burst."""
        if not self.events_soon.isActive():
            self.events_soon.start()

    def _read_events(self) -> None:
        self._events_at = time.monotonic()
        self.doc.refresh_scalars()

    def _after_change(self) -> None:
        self._watch_event_files()
        self._busy_until = time.monotonic() + BUSY_S   # training is writing: look often a while
        self.changed.emit()

    def describe(self) -> str:
        """For the status bar: that the run is live, and when it last changed."""
        if not self.changing:
            return ""   # a finished run reads as before
        how = "" if self.mode != "poll" else " (polled" + (f": {self.fstype}" if self.fstype else "") + ")"
        return f"live{how}: last change {time.strftime('%H:%M:%S', time.localtime(self.last_change))}"
