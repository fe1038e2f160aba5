"""The Run tab: `RunPanel` (fetches, typed feeds, results) kept on the document's model,
graph and checkpoint; its results become the current item, shown in the value panel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from ...document import Document, Selection

ORIGIN = "run"


class RunTab(QWidget):
    freeze_requested = Signal(list, object)   # the panel's "Freeze…": fetches, signature

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._panel = None
        self._selected_op: str | None = None        # the graph op "Add selected" would add
        doc.opened.connect(lambda _l: self._follow_model())
        doc.graph_changed.connect(lambda _l: self._follow_model())
        doc.checkpoint_changed.connect(lambda _l: self._follow_model())
        doc.selection_changed.connect(self._follow_selection)
        doc.run_requested.connect(self._add_fetches)
        # checkpoints training just wrote: "Run on each new checkpoint" runs them
        doc.live_changed.connect(lambda u: self._panel is not None and self._panel.follower.added(u.events))

    @property
    def available(self) -> bool:
        """Whether there is a graph to run."""
        return self.doc.loaded is not None and self.doc.loaded.graph is not None

    @property
    def panel(self):
        """The Run panel, built when first shown: its modules (numpy, the runner's) load
        only if used."""
        if self._panel is None:
            from ..run_panel import RunPanel
            self._panel = RunPanel()
            self._panel.show_value.connect(lambda title, array: self.doc.select_value(title, array, ORIGIN))
            self._panel.status_changed.connect(lambda t: self.doc.status.emit(f"Run: {t}"))
            self._panel.freeze_requested.connect(self.freeze_requested.emit)
            # In a scroll area: the form and its results need more height than a small
            # window has, and a panel's minimum would force the whole window that tall.
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.NoFrame)
            scroll.setWidget(self._panel)
            self._layout.addWidget(scroll)
            self.scroll = scroll
            # a finished run's results in view, when the form above them does not leave room
            self._panel.run_finished.connect(
                lambda _r: scroll.ensureWidgetVisible(self._panel.result_tabs, 0, 0))
            self._panel.set_selected_op(self._selected_op)
            self._follow_model()
        return self._panel

    def _follow_model(self) -> None:
        loaded = self.doc.loaded
        if self._panel is not None and loaded is not None and loaded.graph is not None:
            self._panel.set_model(loaded.model, loaded.graph, loaded.checkpoint)

    def _follow_selection(self, selection: Selection) -> None:
        loaded = self.doc.loaded
        if selection.value is not None or loaded is None:
            return
        self._selected_op = (selection.op if selection.op is not None and loaded.tree_kind == "graph"
                             and loaded.graph.has_op(selection.op) else None)
        if self._panel is not None:
            self._panel.set_selected_op(self._selected_op)

    def _add_fetches(self, names: list[str], signature: str | None = None) -> None:
        if self.available:
            if signature is not None:
                self.panel.choose_signature(signature)
            for name in names:
                self.panel.add_fetch(name)

    @property
    def results(self) -> int:
        """How many runs this tab holds results of (lost when the tab closes)."""
        return len(self._panel.history) if self._panel is not None else 0

    def shutdown(self) -> None:
        if self._panel is not None:
            self._panel.shutdown()
