"""One opened model's tab: it owns the model's `Document` and lays out the panels that
follow it — checkpoints, scope tree, variables, details, compare, run, value, across the
run. The panels subscribe to the document; this widget only arranges them, shows the
loading and failure pages, and passes the document's title, status and notices on to the
main window."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QLabel, QProgressBar, QPushButton, QSplitter, QStackedWidget, QTabWidget,
                               QVBoxLayout, QWidget)

from ..document import Document, Selection
from .panels.banner import Banner
from .panels.checkpoints import CheckpointsPanel
from .panels.compare import CompareTab
from .panels.details import DetailsPanel
from .panels.layers import LayersPanel
from .panels.run import RunTab
from .panels.scope_tree import ORIGIN as TREE
from .panels.scope_tree import ScopeTreePanel
from .panels.training import TrainingPanel
from .panels.trend import TrendPanel
from .panels.value import ValuePanel
from .panels.variables import VariablesPanel
from .workers import Lane

LOADING, FAILED, CONTENT = range(3)


class ModelView(QWidget):
    """The tab of one model; `title_changed` and `status_changed` feed the main window,
    `loaded_changed` says the model (or its checkpoint) on screen changed."""

    title_changed = Signal(str)
    status_changed = Signal(str)
    loaded_changed = Signal()
    open_requested = Signal(str)      # a path to open in a tab of its own

    def __init__(self, path: str, parent=None):
        super().__init__(parent)
        self.doc = Document(path, lanes=lambda name: Lane(name, self))
        self._shown_before = False        # the model was on screen once: a reload keeps the tabs
        self._build()
        doc = self.doc
        doc.opening.connect(self._opening)
        doc.open_failed.connect(self._failed)
        doc.opened.connect(self._opened)
        doc.checkpoint_changed.connect(self._checkpoint_changed)
        doc.graph_changed.connect(lambda _l: self._arrange_tabs())
        doc.selection_changed.connect(self._selection_changed)
        doc.notice.connect(self.banner.show_message)
        doc.run_requested.connect(lambda *_: self.run.available and self.side_tabs.setCurrentWidget(self.run))
        doc.status.connect(lambda text: self.status_changed.emit(self._with_live(text)))
        doc.lanes["load"].progress.connect(self._load_progress)
        from .live import LiveFollower
        self.live = LiveFollower(doc, self.checkpoints.follow.isChecked, self)
        self.live.changed.connect(self._live_changed)
        self.reload()

    # -- what the main window sees ------------------------------------------------------

    @property
    def path(self) -> str:
        return self.doc.path

    @path.setter
    def path(self, value: str) -> None:
        self.doc.path = value

    @property
    def loaded(self):
        return self.doc.loaded

    @property
    def title(self) -> str:
        return self.doc.title

    @property
    def window_title(self) -> str:
        """The title, and which checkpoint is shown: the window's title, so that the task
        switcher tells two windows, or two steps, apart."""
        ckpt = self.doc.checkpoint
        title = f"{self.title} · {ckpt.name}" if ckpt is not None and ckpt.name else self.title
        return f"{title} · live" if self.live.changing else title

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(self.doc.lanes.values())

    @property
    def opening(self) -> bool:
        return self.doc.lanes["load"].busy

    def status_text(self) -> str:
        return self._with_live(self.doc.status_text())

    def _with_live(self, text: str) -> str:
        live = self.live.describe() if hasattr(self, "live") else ""
        return f"{text} · {live}" if live else text

    def _live_changed(self) -> None:
        self.checkpoints.set_live(self.live.live)
        self.title_changed.emit(self.title)
        if self.live.changing and self.doc.loaded is not None:
            self.status_changed.emit(self.status_text())

    def reload(self) -> None:
        self.doc.open()

    def cancel_load(self) -> None:
        self.doc.cancel_open()

    def cancel_work(self) -> None:
        self.doc.cancel_work()

    def verify(self) -> None:
        self.doc.verify()

    def focus_filter(self) -> None:
        self.tree.focus_filter()

    def shutdown(self) -> None:
        self.live.stop()
        self.run.shutdown()
        self.doc.close()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        doc = self.doc
        self.stack = QStackedWidget()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 2)
        self.banner = Banner()
        outer.addWidget(self.banner)
        outer.addWidget(self.stack)

        loading = QWidget()
        ll = QVBoxLayout(loading)
        ll.addStretch(1)
        self.loading_label = QLabel("Opening…")
        self.loading_label.setAlignment(Qt.AlignCenter)
        self.loading_bar = QProgressBar()
        self.loading_bar.setRange(0, 100)
        self.loading_bar.setMaximumWidth(420)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.cancel_load)
        for w in (self.loading_label, self.loading_bar, cancel):
            ll.addWidget(w, 0, Qt.AlignHCenter)
        ll.addStretch(2)
        self.stack.addWidget(loading)

        failed = QWidget()
        fl = QVBoxLayout(failed)
        fl.addStretch(1)
        self.failed_label = QLabel()
        self.failed_label.setWordWrap(True)
        self.failed_label.setAlignment(Qt.AlignCenter)
        self.failed_label.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.LinksAccessibleByMouse)
        self.failed_label.linkActivated.connect(self.open_requested.emit)
        retry = QPushButton("Try again")
        retry.clicked.connect(self.reload)
        fl.addWidget(self.failed_label)
        fl.addWidget(retry, 0, Qt.AlignHCenter)
        fl.addStretch(2)
        self.stack.addWidget(failed)

        self.checkpoints = CheckpointsPanel(doc)
        self.tree = ScopeTreePanel(doc)
        left = QSplitter(Qt.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(self.checkpoints)
        left.addWidget(self.tree)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 4)

        self.variables = VariablesPanel(doc)
        for panel in (self.checkpoints, self.variables):      # results of Save as…, Average…
            panel.open_requested.connect(self.open_requested)
        self.details = DetailsPanel(doc)
        self.layers = LayersPanel(doc)
        # Compare and Run build their panels when first shown: the window shows the model
        # sooner, and the Run panel's modules (numpy) load only if used.
        self.compare = CompareTab(doc)
        self.run = RunTab(doc)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.variables, "Variables")
        self.side_tabs.addTab(self.details, "Details")
        self.side_tabs.addTab(self.layers, "Layers")
        self.side_tabs.setTabToolTip(self.side_tabs.indexOf(self.layers),
                                     "The Keras layers of this SavedModel, with their weights and configs")
        self.side_tabs.addTab(self.compare, "Compare")
        self.side_tabs.addTab(self.run, "Run")
        self._sizes_before_run = None
        self.side_tabs.currentChanged.connect(self._side_tab_changed)

        self.value = ValuePanel(doc)
        self.trend = TrendPanel(doc)
        self.value_tabs = QTabWidget()
        self.value_tabs.setDocumentMode(True)
        self.value_tabs.addTab(self.value, "Value")
        self.value_tabs.addTab(self.trend, "Across the run")
        self.value_tabs.setTabToolTip(1, "The selected variable at every checkpoint: histograms, "
                                         "statistics and relative change against step")
        self.training = TrainingPanel(doc)
        self.value_tabs.addTab(self.training, "Training")
        self.value_tabs.setTabToolTip(2, "The curves the run logged (loss, accuracy, …) against step, "
                                         "with its checkpoints marked")
        self.value_tabs.currentChanged.connect(lambda _i: (self.trend.refresh(), self.training.refresh()))
        right = QSplitter(Qt.Vertical)
        right.setChildrenCollapsible(False)
        right.addWidget(self.side_tabs)
        right.addWidget(self.value_tabs)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)

        content = QSplitter(Qt.Horizontal)
        content.setChildrenCollapsible(False)
        content.addWidget(left)
        content.addWidget(right)
        content.setStretchFactor(0, 2)
        content.setStretchFactor(1, 3)
        content.setSizes([460, 740])        # scaled to the window: ~390 px of names at 1024
        left.setSizes([150, 600])
        right.setSizes([300, 450])
        self.splitters = {"content": content, "left": left, "right": right}
        self.stack.addWidget(content)
        # Ctrl+F belongs to the View menu's action, which calls focus_filter: a shortcut
        # here too made Qt call the key ambiguous and do neither.

    # -- following the document ---------------------------------------------------------

    def _opening(self, path: str) -> None:
        self.stack.setCurrentIndex(LOADING)
        self.loading_label.setText(f"Opening {html.escape(path)}…")
        self.loading_bar.setValue(0)
        self.banner.hide()

    def _load_progress(self, fraction: float, text: str) -> None:
        self.loading_bar.setValue(int(100 * fraction))
        if text:
            self.loading_label.setText(f"{html.escape(self.title)}: {text}…")

    def _failed(self, message: str, details: str) -> None:
        self.stack.setCurrentIndex(FAILED)
        below = self.doc.models_below
        if below:
            links = "<br>".join(f'<a href="{html.escape(p, quote=True)}">{html.escape(os.path.relpath(p, self.path))}</a>'
                                for p in below)
            self.failed_label.setText(f"<b>No model in this folder itself</b><br><br>{html.escape(self.path)}"
                                      f"<br><br>Models in its subfolders — click one to open it:<br>{links}")
            return
        self.failed_label.setText(f"<b>Cannot open this model</b><br><br>{html.escape(message)}")
        if details:
            self.banner.show_message(message, details)

    def _opened(self, loaded) -> None:
        reloaded = self.stack.currentIndex() == LOADING and self._shown_before
        self._shown_before = True
        self.stack.setCurrentIndex(CONTENT)
        self._arrange_tabs()
        if not (reloaded and self.side_tabs.isTabVisible(self.side_tabs.currentIndex())):
            self.side_tabs.setCurrentIndex(0 if loaded.tensors else 1)
        if not loaded.tensors:  # nothing to plot: give the room to the details
            self.splitters["right"].setSizes([650, 200])
        left = self.splitters["left"]
        height = self.checkpoints.preferred_height()
        total = sum(left.sizes()) or 750
        left.setSizes([height, max(total - height, 200)])
        self.title_changed.emit(self.title)
        self.loaded_changed.emit()

    def _checkpoint_changed(self, _loaded) -> None:
        self.banner.hide()
        self.title_changed.emit(self.title)
        self.loaded_changed.emit()

    def _arrange_tabs(self) -> None:
        loaded = self.doc.loaded
        self.value_tabs.setTabVisible(self.value_tabs.indexOf(self.training), self.training.available)
        self.side_tabs.setTabVisible(self.side_tabs.indexOf(self.variables), bool(loaded.tensors))
        self.side_tabs.setTabVisible(self.side_tabs.indexOf(self.compare), bool(loaded.model.checkpoints))
        self.side_tabs.setTabVisible(self.side_tabs.indexOf(self.run), self.run.available)
        self.side_tabs.setTabVisible(self.side_tabs.indexOf(self.layers), self.layers.available)

    def _selection_changed(self, selection: Selection) -> None:
        if selection.value is not None:
            self.value_tabs.setCurrentIndex(0)
        # An op or a scope picked in the tree: its details are what the user asked for.
        elif selection.origin == TREE and (selection.op is not None or selection.key is None):
            self.side_tabs.setCurrentWidget(self.details)

    def _side_tab_changed(self, index: int) -> None:
        """The Run tab needs height (fetches, feeds, results): give it most of the column
        while it is shown, and the previous split back after."""
        right = self.splitters["right"]
        page = self.side_tabs.widget(index)
        if page in (self.compare, self.run):
            _ = page.panel                 # built when first shown
        if page is self.run:
            if self._sizes_before_run is None:
                self._sizes_before_run = right.sizes()
                total = sum(self._sizes_before_run)
                right.setSizes([int(total * 0.72), total - int(total * 0.72)])
        elif self._sizes_before_run is not None:
            right.setSizes(self._sizes_before_run)
            self._sizes_before_run = None
