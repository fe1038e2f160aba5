"""One opened model's tab: it owns the model's `Document` and lays out the panels that
follow it — checkpoints, scope tree, variables, details, compare, run, value, across the
run. The panels subscribe to the document; this widget only arranges them, shows the
loading and failure pages, and passes the document's title, status and notices on to the
main window."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from ..formats import location
from ..document import Document, Selection
from .docks import DockArea, PanelGroup
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
        self.freeze_dialog = None         # the latest Freeze dialog, ended with the tab
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
        """The lanes whose work the window shows (progress, Stop): not the live folder's
        polls, which run every half second while the run is followed."""
        return tuple(lane for name, lane in self.doc.lanes.items() if name != "live")

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
        if self.freeze_dialog is not None:
            self.freeze_dialog.shutdown()
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
        self.tree.freeze_requested.connect(self.freeze)
        self.variables = VariablesPanel(doc)
        for panel in (self.checkpoints, self.variables):      # results of Save as…, Average…
            panel.open_requested.connect(self.open_requested)
        self.details = DetailsPanel(doc)
        self.layers = LayersPanel(doc)
        # Compare and Run build their panels when first shown: the window shows the model
        # sooner, and the Run panel's modules (numpy) load only if used.
        self.compare = CompareTab(doc)
        self.run = RunTab(doc)
        self.run.freeze_requested.connect(self.freeze)
        self.value = ValuePanel(doc)
        self.trend = TrendPanel(doc)
        self.training = TrainingPanel(doc)

        # Every panel is a dock: resized, tabbed, floated, maximized as the user likes;
        # the main window saves and restores the arrangement (app.ui.docks).
        self.docks = area = DockArea()
        panels = {"checkpoints": (self.checkpoints, "Checkpoints", ""),
                  "tree": (self.tree, "Graph", ""),
                  "variables": (self.variables, "Variables", ""),
                  "details": (self.details, "Details", ""),
                  "layers": (self.layers, "Layers",
                             "The Keras layers of this SavedModel, with their weights and configs"),
                  "compare": (self.compare, "Compare", ""),
                  "run": (self.run, "Run", ""),
                  "value": (self.value, "Value", ""),
                  "trend": (self.trend, "Across the run",
                            "The selected variable at every checkpoint: histograms, "
                            "statistics and relative change against step"),
                  "training": (self.training, "Training",
                               "The curves the run logged (loss, accuracy, …) against step, "
                               "with its checkpoints marked")}
        headers = {"checkpoints": [self.checkpoints.title, self.checkpoints.follow],
                   "tree": [self.tree.title, self.tree.meta_graph]}
        for name, (widget, title, tip) in panels.items():
            area.add(name, title, widget, tip, headers.get(name))
        area.arrange()
        d = area.docks
        self.side_tabs = PanelGroup(area, [d["variables"], d["details"], d["layers"], d["compare"], d["run"]],
                                    self)
        self.value_tabs = PanelGroup(area, [d["value"], d["trend"], d["training"]], self)
        self.trend.is_on_screen = d["trend"].on_screen
        self.training.is_on_screen = d["training"].on_screen
        d["trend"].shown.connect(lambda on: on and self.trend.refresh())
        d["training"].shown.connect(lambda on: on and self.training.refresh())
        d["compare"].shown.connect(lambda on: on and self.compare.panel)
        d["run"].shown.connect(self._run_shown)
        self._sizes_before_run = None
        self.layout_restored = False      # the user's saved layout is on screen: keep its sizes
        self._saved_layout = None
        self.stack.addWidget(area)
        # Ctrl+F belongs to the View menu's action, which calls focus_filter: a shortcut
        # here too made Qt call the key ambiguous and do neither.

    def restore_layout(self, saved) -> None:
        """Apply a saved arrangement of the docks (see DockArea.restore) once the model is
        on screen: sizes restored into a tab not yet laid out come out scaled wrong."""
        self._saved_layout = saved
        if self.stack.currentIndex() == CONTENT:
            self._apply_saved_layout()

    def _apply_saved_layout(self) -> None:
        saved, self._saved_layout = self._saved_layout, None
        if saved is not None:
            self.layout_restored = self.docks.restore(saved)
            if self.doc.loaded is not None:
                self._arrange_tabs()

    def reset_layout(self) -> None:
        self.layout_restored = False
        self._sizes_before_run = None
        self.docks.arrange()
        if self.doc.loaded is not None:
            self._arrange_tabs()
            self._default_sizes(self.doc.loaded)

    def freeze(self, outputs: list[str], signature: str | None = None) -> None:
        """The Freeze dialog for this model with `outputs` listed (and `signature` chosen);
        what it writes opens in a tab of its own."""
        from .freeze_dialog import freeze_dialog_for
        if self.doc.loaded is None:
            return
        dialog = self.freeze_dialog = freeze_dialog_for(self.doc.loaded, self.title, outputs, self)
        if signature is not None:
            dialog.signature.setCurrentText(signature)
        dialog.frozen.connect(self.open_requested.emit)
        dialog.warm_up()
        dialog.open()

    # -- following the document ---------------------------------------------------------

    def _opening(self, path: str) -> None:
        self.stack.setCurrentIndex(LOADING)
        self.loading_label.setText(f"Opening {html.escape(location.display(path))}…")
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
        self._apply_saved_layout()
        self._arrange_tabs()
        if not (reloaded and self.side_tabs.isTabVisible(self.side_tabs.currentIndex())):
            self.side_tabs.setCurrentIndex(0 if loaded.tensors else 1)
        if not self.layout_restored:
            self._default_sizes(loaded)
        self.title_changed.emit(self.title)
        self.loaded_changed.emit()

    def _default_sizes(self, loaded) -> None:
        """The default layout's heights for this model: the checkpoint list as tall as its
        rows; without tensors, the room goes to the details."""
        d = self.docks.docks
        docked = [d[n] for n in ("checkpoints", "tree", "details", "value")]
        if any(x.isFloating() or x.isHidden() for x in docked):
            return
        self.docks.default_widths()
        if not loaded.tensors:
            self.docks.resizeDocks([d["details"], d["value"]], [650, 200], Qt.Vertical)
        height = self.checkpoints.preferred_height()
        total = d["checkpoints"].height() + d["tree"].height() or 750
        self.docks.resizeDocks([d["checkpoints"], d["tree"]], [height, max(total - height, 200)],
                               Qt.Vertical)

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

    def _run_shown(self, on: bool) -> None:
        """The Run panel needs height (fetches, feeds, results): while it is on screen in the
        default place, above the value panel, it gets most of that column; the previous
        split comes back after. (It scrolls when it has less.)"""
        d = self.docks.docks
        run, value = d["run"], d["value"]
        if on:
            _ = self.run.panel                 # built when first shown
        beside = (not run.isFloating() and not value.isFloating() and not value.isHidden()
                  and self.docks.dockWidgetArea(run) == self.docks.dockWidgetArea(value)
                  and value not in self.docks.tabifiedDockWidgets(run)
                  and self.docks.maximized() is None)
        if on and beside and self._sizes_before_run is None:
            self._sizes_before_run = [run.height(), value.height()]
            total = sum(self._sizes_before_run)
            self.docks.resizeDocks([run, value], [int(total * 0.68), total - int(total * 0.68)],
                                   Qt.Vertical)
        elif not on and self._sizes_before_run is not None:
            if beside:
                self.docks.resizeDocks([run, value], self._sizes_before_run, Qt.Vertical)
            self._sizes_before_run = None
