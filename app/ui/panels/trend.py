"""Across the run: the selected variable at every checkpoint — read while the panel is the
tab shown, and again only when the variable, the bins or the run's checkpoints change."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...document import Document
from .lazy import LazySlot

PICK_HINT = "Select a variable to follow it across the run."


class TrendPanel(QWidget):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.slot = LazySlot(self._build_view, PICK_HINT)
        lay.addWidget(self.slot)
        self.shown = None          # (key, bins, checkpoint prefixes) on screen
        self.last_read = ""        # how the trend on screen was made

        # Whether the user sees this panel; the view that docks it says (a dock tabbed
        # behind another is not hidden, only covered).
        self.is_on_screen = lambda: not self.isHidden()
        doc.selection_changed.connect(lambda _s: self.refresh())
        doc.checkpoints_changed.connect(lambda _c: self.refresh())
        doc.opened.connect(lambda _l: self._forget())
        doc.work_cancelled.connect(self._cancelled)

    def _build_view(self):
        from ..trend_view import TrendView
        view = TrendView()
        view.binsChanged.connect(lambda _b: self.refresh())
        return view

    @property
    def view(self):
        return self.slot.content

    def _forget(self) -> None:
        self.shown = None
        self.refresh()

    def _cancelled(self, lanes: list[str]) -> None:
        """Esc: what was being read will not come; say so instead of 'Reading…'."""
        if "trend" in lanes:
            self.shown = None
            self._say("Cancelled. Show this tab again, or select the variable again, to read it.")

    def _say(self, text: str) -> None:
        (self.view.show_message if self.slot.built else self.slot.hint)(text)

    def refresh(self) -> None:
        """Follow the selected variable over the run, if this panel is the tab shown."""
        loaded = self.doc.loaded
        if not self.is_on_screen() or loaded is None:
            return
        key = self.doc.selection.key
        checkpoints = [c for c in loaded.model.checkpoints if c.on_disk]
        if key is None:
            self._say(PICK_HINT)
            return
        if len(checkpoints) < 2:
            self._say("This model has a single checkpoint: nothing to follow across a run.")
            return
        view = self.view
        wanted = (key, view.bins(), tuple(c.prefix for c in checkpoints))
        if wanted == self.shown:
            return
        from ...analysis import compare
        from ...formats.model import open_checkpoint
        cache, bins = self.doc.result_cache(), view.bins()
        shown, previous = self.shown, view.trend()
        # Training wrote new checkpoints after the ones shown: read only those (and the
        # two each is compared with), not the whole run again.
        added = [] if shown is None or previous is None or shown[:2] != wanted[:2] \
            or wanted[2][:len(shown[2])] != shown[2] else checkpoints[len(shown[2]):]
        if not added:
            view.show_message(f"Reading {key} in {len(checkpoints)} checkpoints…")
        by_prefix = {c.prefix: c for c in loaded.model.checkpoints}

        def task(job):
            if added:
                from ...analysis.trend_growth import grow
                grown = grow(previous, key, [(c.step, open_checkpoint(c)) for c in added],
                             lambda prefix: open_checkpoint(by_prefix[prefix]), cancelled=job.cancelled)
                if grown is not None:
                    return grown[0], f"grown by {len(added)}"
            readers = [(c.step, open_checkpoint(c)) for c in checkpoints]
            return compare.trend(readers, key, bins, progress=lambda f: job.progress(f, "across the run"),
                                 cancelled=job.cancelled, cache=cache), "whole"

        def done(result):
            self.shown = wanted
            view.show_trend(result[0])
            self.last_read = result[1]     # "whole" or "grown by N": for tests and probes

        self.doc.submit("trend", task, done, lambda m, _d: view.show_message(m))
