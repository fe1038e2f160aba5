"""A run folder followed while training writes it, without Qt: what one poll found.

`LiveRun.poll()` runs on the document's "live" lane (never on the UI thread): it asks the
`RunWatcher` what changed (an idle poll is one stat of the folder) and, when something
did, lists the run again and keeps only the checkpoints the watcher judged complete. The
document applies the result on its owner's thread (`Document.apply_live`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..formats.errors import FormatError
from ..formats.live import RunWatcher, WatchEvent
from ..formats.run import Checkpoint, RunFolder

DELETED_NOTE = "deleted from disk; showing what was read"


@dataclass
class LiveUpdate:
    events: list[WatchEvent]
    checkpoints: list[Checkpoint] = field(default_factory=list)   # as the folder holds them now
    when: float = 0.0                                              # wall time of the poll


class LiveRun:
    """The watcher of one run folder. `poll` is called from one lane at a time."""

    def __init__(self, folder: str, mode: str = "poll", fstype: str | None = None, grace: float = 2.0):
        self.folder = folder
        self.mode = mode            # "notify" (file-system notifications) or "poll"
        self.fstype = fstype        # the folder's file system type, where known
        self.watcher = RunWatcher(folder, grace=grace, trust_folder_time=(mode != "poll"))
        self.last_change: float | None = None

    def prime(self, known) -> LiveUpdate | None:
        """Start from what is on disk now. `known`: the prefixes of the checkpoints the
        document read a moment before. A checkpoint completed or removed in between comes
        back as an update (else it would wait for the next change to be listed); one the
        document read that is not judged yet (being written, or broken and still within
        its grace) stays as the document read it."""
        events = self.watcher.poll()
        known = set(known)
        came = set(self.watcher.checkpoints) - known
        went = known - self.watcher.present
        if not came and not went:
            return None
        return self._update(events, keep=known - went)

    @property
    def pending(self) -> bool:
        """A checkpoint is being written: poll again soon even without a notification."""
        return self.watcher.pending

    def poll(self, job=None) -> LiveUpdate | None:
        """What changed since the last poll, or None when nothing did."""
        events = self.watcher.poll()
        return self._update(events) if events else None

    def _update(self, events: list[WatchEvent], keep=frozenset()) -> LiveUpdate:
        complete = set(self.watcher.checkpoints) | set(keep)
        try:
            run = RunFolder(self.folder)
            # Only what the watcher judged complete, or listed elsewhere (V1, missing): an
            # index TensorFlow is still writing must not reach the list.
            listed = [c for c in run.checkpoints
                      if c.prefix in complete or c.format != "bundle" or not c.on_disk]
        except FormatError:   # the folder is gone for now
            listed = []
        self.last_change = time.time()
        return LiveUpdate(events, listed, self.last_change)


def keep_shown(listed: list[Checkpoint], current: Checkpoint | None) -> list[Checkpoint]:
    """`listed`, plus the checkpoint on screen if it left the disk: what was read of it
    stays visible, marked, instead of vanishing under the user."""
    if current is None or any(c.prefix == current.prefix for c in listed):
        return listed
    gone = Checkpoint(current.prefix, step=current.step, meta=current.meta, index=current.index,
                      data_files=list(current.data_files), format=current.format, on_disk=False,
                      mtime=current.mtime, size=current.size, note=DELETED_NOTE)
    out = listed + [gone]
    out.sort(key=lambda c: (c.step is None, c.step or 0, c.prefix))
    return out
