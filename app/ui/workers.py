"""Background work for the window: one single-thread executor per kind of job.

A new request on a lane makes the previous one stale: it is asked to stop (cooperatively,
through its `Job.cancelled()`), and whatever it returns is dropped, never reaching the UI.
Results come back on the GUI thread through a queued signal.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal, Slot

from ..analysis.progress import Cancelled
from ..formats.errors import FormatError


class Job:
    """What a task sees of itself: whether to stop, and a way to report progress."""

    def __init__(self, lane: "Lane", token: int):
        self._lane = lane
        self.token = token
        self._stop = threading.Event()

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()

    def progress(self, fraction: float, text: str = "") -> None:
        if not self.cancelled():
            self._lane._progress.emit(self.token, float(fraction), text)


class Lane(QObject):
    """Runs one task at a time in its own thread; the newest request wins."""

    _done = Signal(int, object, object)       # token, result, error message (or None)
    _progress = Signal(int, float, str)
    progress = Signal(float, str)              # for the current job only
    busy_changed = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._tokens = itertools.count(1)
        self._current: Job | None = None
        self._callbacks: dict[int, tuple] = {}
        self._done.connect(self._deliver)
        self._progress.connect(self._forward_progress)
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, task, on_done, on_error=None) -> Job | None:
        """Run `task(job)` in the worker; call `on_done(result)` or `on_error(message,
        details)` on the GUI thread unless a newer request came first. After shutdown
        (its view closed while a timer or signal was still on its way) nothing runs."""
        if self._closed:
            return None
        self.cancel()
        job = Job(self, next(self._tokens))
        self._current = job
        self._callbacks[job.token] = (on_done, on_error)
        self.busy_changed.emit(True)
        self._pool.submit(self._run, job, task)
        return job

    def _run(self, job: Job, task) -> None:
        try:
            result, error = task(job), None
        except Cancelled:
            result, error = None, None
        except FormatError as e:
            result, error = None, (str(e), "")
        except MemoryError:
            result, error = None, ("not enough memory for this", "")
        except Exception as e:  # a bug: say it plainly, keep the details for the curious
            result, error = None, (f"unexpected {type(e).__name__}: {e}", traceback.format_exc())
        try:
            self._done.emit(job.token, result, error)
        except RuntimeError:
            pass  # the lane was deleted with its window while this ran

    @Slot(int, object, object)
    def _deliver(self, token: int, result, error) -> None:
        on_done, on_error = self._callbacks.pop(token, (None, None))
        current = self._current is not None and self._current.token == token
        if not current:
            return  # stale: a newer request replaced it
        job, self._current = self._current, None
        self.busy_changed.emit(False)
        if job.cancelled():
            return
        if error is not None:
            if on_error is not None:
                on_error(*error)
        elif on_done is not None:
            on_done(result)

    @Slot(int, float, str)
    def _forward_progress(self, token: int, fraction: float, text: str) -> None:
        if self._current is not None and self._current.token == token:
            self.progress.emit(fraction, text)

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self._current = None
            self.busy_changed.emit(False)

    def shutdown(self) -> None:
        self._closed = True
        self.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
