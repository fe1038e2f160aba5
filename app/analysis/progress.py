"""Progress and cancellation of long analyses (statistics, comparison, verification).
Pure Python: the window's worker lanes import it without numpy."""

from __future__ import annotations


from ..formats.errors import Cancelled  # noqa: F401  (one class for every layer)


class Ticker:
    """Counts the bytes a job has read against its total: reports the fraction done to
    `progress(fraction)` and stops the job with Cancelled once `cancelled()` says so.
    Call it with the bytes just read (0 to only check for cancellation)."""

    def __init__(self, total_bytes: int, progress=None, cancelled=None):
        self.total = total_bytes
        self.done = 0
        self._progress = progress
        self._cancelled = cancelled

    def __call__(self, n_bytes: int) -> None:
        if self._cancelled is not None and self._cancelled():
            raise Cancelled()
        self.done += n_bytes
        if self._progress is not None and self.total:
            self._progress(min(1.0, self.done / self.total))
