"""One opened model: checkpoints, scope tree, details, variables and the value of the
selected tensor. All file work runs on worker lanes; the widget only shows results."""

from __future__ import annotations

import html
import os
import re
import time

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFrame, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QSplitter, QStackedWidget, QTabWidget, QTextBrowser, QTreeView,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget, QTableView)

from ..analysis.loading import Loaded, build_tree, load, open_reader
from ..formats import dtypes
from . import details
from .tree_model import ScopeTreeModel
from .variables_model import SortProxy, VariablesModel, human_bytes
from .workers import Lane


class _Page(QWidget):
    """A tab's page whose panel is built when the tab is first shown."""

    def __init__(self):
        super().__init__()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def set_content(self, widget: QWidget) -> None:
        self._layout.addWidget(widget)


def _stats():
    """The statistics module, imported on first use: it needs numpy, which the window
    does not wait for."""
    from ..analysis import stats
    return stats


class Banner(QFrame):
    """A non-modal message strip: one line, details on demand, dismissable."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        row = QHBoxLayout()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.toggle = QPushButton("Details")
        self.toggle.setCheckable(True)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(self.text, 1)
        row.addWidget(self.toggle)
        row.addWidget(close)
        lay.addLayout(row)
        self.details = QTextBrowser()
        self.details.setMaximumHeight(140)
        self.details.hide()
        self.toggle.toggled.connect(self.details.setVisible)
        lay.addWidget(self.details)
        self.hide()

    def show_message(self, text: str, more: str = "", error: bool = True) -> None:
        self.setStyleSheet("#banner { background: %s; border-radius: 4px; }"
                           % ("rgba(192,57,43,0.18)" if error else "rgba(241,196,15,0.20)"))
        self.text.setText(text)
        self.details.setPlainText(more)
        self.toggle.setVisible(bool(more))
        self.toggle.setChecked(False)
        self.show()


class ModelView(QWidget):
    """The view of one model; `title_changed` and `status_changed` feed the main window."""

    title_changed = Signal(str)
    status_changed = Signal(str)
    loaded_changed = Signal()

    def __init__(self, path: str, parent=None):
        super().__init__(parent)
        self.path = path
        self.loaded: Loaded | None = None
        self._current_tensor: str | None = None
        self.load_lane = Lane("load", self)
        self.value_lane = Lane("value", self)
        self.stats_lane = Lane("stats", self)
        self.verify_lane = Lane("verify", self)
        self.compare_lane = Lane("compare", self)
        self.trend_lane = Lane("trend", self)
        self._compare_choices: list = []      # [(label, Checkpoint)] offered as A and B
        self._compare_readers = None          # (reader A, reader B) of the table shown
        self._diff_cache = None
        self._build()
        self.reload()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.stack = QStackedWidget()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 2)
        self.banner = Banner()
        outer.addWidget(self.banner)
        outer.addWidget(self.stack)

        # page 0: loading
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

        # page 1: failed to open
        failed = QWidget()
        fl = QVBoxLayout(failed)
        fl.addStretch(1)
        self.failed_label = QLabel()
        self.failed_label.setWordWrap(True)
        self.failed_label.setAlignment(Qt.AlignCenter)
        self.failed_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        retry = QPushButton("Try again")
        retry.clicked.connect(self.reload)
        fl.addWidget(self.failed_label)
        fl.addWidget(retry, 0, Qt.AlignHCenter)
        fl.addStretch(2)
        self.stack.addWidget(failed)

        # page 2: the model
        content = QSplitter(Qt.Horizontal)
        content.setChildrenCollapsible(False)
        left = QSplitter(Qt.Vertical)
        left.setChildrenCollapsible(False)

        run_box = QWidget()
        rl = QVBoxLayout(run_box)
        rl.setContentsMargins(0, 0, 0, 0)
        self.run_box = run_box
        self.run_title = QLabel("<b>Checkpoints</b>")
        rl.addWidget(self.run_title)
        self.checkpoints = QTreeWidget()
        self.checkpoints.setHeaderLabels(["Step", "Checkpoint", "Modified", "Size"])
        self.checkpoints.setRootIsDecorated(False)
        self.checkpoints.setUniformRowHeights(True)
        self.checkpoints.setAlternatingRowColors(True)
        self.checkpoints.itemSelectionChanged.connect(self._checkpoint_chosen)
        rl.addWidget(self.checkpoints)
        left.addWidget(run_box)

        tree_box = QWidget()
        tl = QVBoxLayout(tree_box)
        tl.setContentsMargins(0, 0, 0, 0)
        trow = QHBoxLayout()
        self.tree_title = QLabel("<b>Graph</b>")
        self.meta_graph = QComboBox()
        self.meta_graph.setToolTip("A SavedModel holds one meta graph per set of tags")
        self.meta_graph.hide()
        self.meta_graph.currentIndexChanged.connect(self._meta_graph_chosen)
        trow.addWidget(self.tree_title, 1)
        trow.addWidget(self.meta_graph)
        tl.addLayout(trow)
        frow = QHBoxLayout()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name or op type (Ctrl+F)")  # see _fill_tree
        self.filter.setToolTip("Keeps matching names (and op types) with the scopes above them")
        self.filter.setClearButtonEnabled(True)
        self.regex = QCheckBox("Regex")
        self.regex.setToolTip("Treat the filter as a regular expression")
        frow.addWidget(self.filter, 1)
        frow.addWidget(self.regex)
        tl.addLayout(frow)
        self.filter_note = QLabel()
        self.filter_note.hide()
        tl.addWidget(self.filter_note)
        self.tree_model = ScopeTreeModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.tree_model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        for c in (1, 2, 3):
            self.tree.header().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.tree.selectionModel().currentChanged.connect(self._tree_selected)
        tl.addWidget(self.tree, 1)
        left.addWidget(tree_box)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 4)
        content.addWidget(left)

        right = QSplitter(Qt.Vertical)
        right.setChildrenCollapsible(False)
        self.side_tabs = QTabWidget()
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._link_clicked)
        self.details.document().setDefaultStyleSheet(details.STYLE)

        var_box = QWidget()
        vl = QVBoxLayout(var_box)
        vl.setContentsMargins(4, 4, 4, 4)
        vrow = QHBoxLayout()
        self.var_filter = QLineEdit()
        self.var_filter.setPlaceholderText("Filter variables")
        self.var_filter.setClearButtonEnabled(True)
        self.var_totals = QLabel()
        vrow.addWidget(self.var_filter, 1)
        vrow.addWidget(self.var_totals)
        vl.addLayout(vrow)
        self.var_model = VariablesModel(self)
        self.var_proxy = SortProxy(self)
        self.var_proxy.setSourceModel(self.var_model)
        self.var_filter.textChanged.connect(self.var_proxy.setFilterFixedString)
        self.var_filter.textChanged.connect(lambda _t: self._update_totals())
        self.var_table = QTableView()
        self.var_table.setModel(self.var_proxy)
        self.var_table.setSortingEnabled(True)
        self.var_table.sortByColumn(0, Qt.AscendingOrder)
        self.var_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.var_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.var_table.setAlternatingRowColors(True)
        self.var_table.verticalHeader().hide()
        self.var_table.verticalHeader().setDefaultSectionSize(22)
        self.var_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        for c in range(1, 5):
            self.var_table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.var_table.horizontalHeader().setSectionResizeMode(5, QHeaderView.Interactive)
        self.var_table.setColumnHidden(5, True)
        self.var_table.selectionModel().currentRowChanged.connect(self._variable_selected)
        vl.addWidget(self.var_table)
        self.side_tabs.addTab(var_box, "Variables")
        self.side_tabs.addTab(self.details, "Details")
        # The Compare and Run panels are built when their tab is first shown: the window
        # shows the model sooner, and the Run panel's modules (numpy) load only if used.
        self._compare = self._run_panel = None
        self._compare_picks = (0, 0)           # A and B offered in the Compare panel
        self._selected_op: str | None = None   # the graph op the Run panel may add
        self.compare_page, self.run_page = _Page(), _Page()
        self.side_tabs.addTab(self.compare_page, "Compare")
        self.side_tabs.addTab(self.run_page, "Run")
        self._sizes_before_run = None
        self.side_tabs.currentChanged.connect(self._side_tab_changed)
        right.addWidget(self.side_tabs)

        value_box = QWidget()
        xl = QVBoxLayout(value_box)
        xl.setContentsMargins(0, 0, 0, 0)
        # The value panel (pyqtgraph) is built on first use, so the window and the tree
        # show without waiting for pyqtgraph's import.
        self._values = None
        self.value_slot = QStackedWidget()
        self.value_placeholder = QLabel()
        self.value_placeholder.setAlignment(Qt.AlignCenter)
        self.value_placeholder.setWordWrap(True)
        self.value_placeholder.setEnabled(False)
        self.value_slot.addWidget(self.value_placeholder)
        # "Value" shows the selected tensor; "Across the run" follows it over the
        # checkpoints (built when first shown).
        self.value_tabs = QTabWidget()
        self.value_tabs.setDocumentMode(True)
        self.value_tabs.addTab(self.value_slot, "Value")
        self._trend_view = None
        self._trend_shown = None               # (key, bins, checkpoint prefixes) on screen
        self.trend_slot = QStackedWidget()
        self.trend_placeholder = QLabel("Select a variable to follow it across the run.")
        self.trend_placeholder.setAlignment(Qt.AlignCenter)
        self.trend_placeholder.setEnabled(False)
        self.trend_slot.addWidget(self.trend_placeholder)
        self.value_tabs.addTab(self.trend_slot, "Across the run")
        self.value_tabs.setTabToolTip(1, "The selected variable at every checkpoint: histograms, "
                                         "statistics and relative change against step")
        self.value_tabs.currentChanged.connect(lambda _i: self._refresh_trend())
        xl.addWidget(self.value_tabs)
        arow = QHBoxLayout()
        arow.addStretch(1)
        self.btn_copy_name = QPushButton("Copy name")
        self.btn_copy_code = QPushButton("Copy Python")
        self.btn_copy_code.setToolTip("Copy a Python snippet that restores the model and fetches this tensor")
        self.btn_export = QPushButton("Export…")
        self.btn_export.setToolTip("Save the value as .npy or .csv")
        for b in (self.btn_copy_name, self.btn_copy_code, self.btn_export):
            b.setEnabled(False)
            arow.addWidget(b)
        self.btn_copy_name.clicked.connect(self.copy_name)
        self.btn_copy_code.clicked.connect(self.copy_snippet)
        self.btn_export.clicked.connect(self.export_value)
        xl.addLayout(arow)
        right.addWidget(value_box)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        content.addWidget(right)
        content.setStretchFactor(0, 2)
        content.setStretchFactor(1, 3)
        content.setSizes([420, 780])
        left.setSizes([150, 600])
        right.setSizes([300, 450])
        self.splitters = {"content": content, "left": left, "right": right}
        self.stack.addWidget(content)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(200)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter.textChanged.connect(lambda _t: self._filter_timer.start())
        self.regex.toggled.connect(lambda _c: self._apply_filter())
        QShortcut(QKeySequence.Find, self, activated=self.focus_filter)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return (self.load_lane, self.value_lane, self.stats_lane, self.verify_lane,
                self.compare_lane, self.trend_lane)

    @property
    def values(self):
        """The value panel, created when first needed."""
        if self._values is None:
            from .values import ValueView
            self._values = ValueView()
            self._values.binsChanged.connect(self._bins_changed)
            self.value_slot.addWidget(self._values)
            self.value_slot.setCurrentWidget(self._values)
        return self._values

    def _value_hint(self, text: str) -> None:
        """Say something in the value panel without building it."""
        if self._values is None:
            self.value_placeholder.setText(text)
        else:
            self._values.show_message(text)

    # -- loading ------------------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.loaded.model.title if self.loaded else os.path.basename(
            os.path.normpath(self.path)) or self.path

    @property
    def window_title(self) -> str:
        """The title, and which checkpoint is shown: the window's title, so that the task
        switcher tells two windows, or two steps, apart."""
        ckpt = self.loaded.checkpoint if self.loaded else None
        return f"{self.title} · {ckpt.name}" if ckpt is not None and ckpt.name else self.title

    def reload(self) -> None:
        keep = self.loaded.checkpoint.prefix if self.loaded and self.loaded.checkpoint else None
        self.value_lane.cancel()
        self.stats_lane.cancel()
        self.stack.setCurrentIndex(0)
        self.loading_label.setText(f"Opening {html.escape(self.path)}…")
        self.loading_bar.setValue(0)
        self.banner.hide()
        self.load_lane.progress.connect(self._load_progress)
        self.load_lane.submit(lambda job: load(self.path, job, keep), self._loaded, self._load_failed)
        self.status_changed.emit(f"Opening {self.path}…")

    def cancel_load(self) -> None:
        self.load_lane.cancel()
        self._load_failed("Opening was cancelled.", "")

    def _load_progress(self, fraction: float, text: str) -> None:
        self.loading_bar.setValue(int(100 * fraction))
        if text:
            self.loading_label.setText(f"{html.escape(os.path.basename(self.path))}: {text}…")

    def _load_failed(self, message: str, more: str) -> None:
        self.stack.setCurrentIndex(1)
        self.failed_label.setText(f"<b>Cannot open this model</b><br><br>{html.escape(message)}")
        if more:
            self.banner.show_message(message, more)
        self.status_changed.emit(message)

    def _loaded(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.stack.setCurrentIndex(2)
        self._fill_checkpoints()
        self._fill_meta_graphs()
        self._fill_tree()
        self._fill_variables()
        self._show_overview()
        self._update_run_panel()
        self._value_hint("Select a variable, or an op in the graph, to see its value."
                         if loaded.tensors else
                         "This graph has no saved values: select an op to see its details.")
        if loaded.problems:
            first = loaded.problems[0]
            more = "\n".join(loaded.problems)
            n = len(loaded.problems)
            self.banner.show_message(first if n == 1 else f"{first} (and {n - 1} more)", more, error=False)
        self.title_changed.emit(self.title)
        self.status_changed.emit(self.status_text())
        self.loaded_changed.emit()

    def status_text(self) -> str:
        if not self.loaded:
            return ""
        l = self.loaded
        tensors = list(l.tensors.values())
        params = sum(t.size for t in tensors)
        size = sum(t.nbytes for t in tensors)
        parts = [l.model.path]
        if l.checkpoint is not None:
            parts.append(l.checkpoint.name)
        if l.graph is not None:
            parts.append(f"{len(l.graph.nodes):,} ops")
        if tensors:
            parts.append(f"{params:,} parameters")
            parts.append(human_bytes(size))
        elif l.tree is not None and l.tree.params:
            parts.append(f"{l.tree.params:,} parameters (shapes from the graph; no values)")
        return "   ·   ".join(parts)

    # -- checkpoints --------------------------------------------------------------------

    def _fill_checkpoints(self) -> None:
        l = self.loaded
        self.checkpoints.blockSignals(True)
        self.checkpoints.clear()
        for c in l.model.checkpoints:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.mtime)) if c.mtime else ""
            step = "" if c.step is None else str(c.step)
            name = c.name + ("  (latest)" if c.latest else "") + ("" if c.on_disk else "  (missing)")
            item = QTreeWidgetItem([step, name, when, human_bytes(c.size) if c.on_disk else ""])
            item.setData(0, Qt.UserRole, c.prefix)
            item.setTextAlignment(0, Qt.AlignRight | Qt.AlignVCenter)
            item.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
            if not c.on_disk:
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
                item.setToolTip(1, "Listed in the state file, but not on disk")
            else:
                item.setToolTip(1, c.prefix)
            if c.latest:
                f = item.font(1)
                f.setBold(True)
                item.setFont(1, f)
            self.checkpoints.addTopLevelItem(item)
            if l.checkpoint is not None and c.prefix == l.checkpoint.prefix:
                item.setSelected(True)
                self.checkpoints.setCurrentItem(item)
        for col in range(4):
            self.checkpoints.resizeColumnToContents(col)
        self.checkpoints.blockSignals(False)
        # as tall as its rows (up to ten), the rest to the tree
        rows = min(max(len(l.model.checkpoints), 2), 10) + 1
        height = (self.checkpoints.header().sizeHint().height()
                  + rows * (self.checkpoints.sizeHintForRow(0) if l.model.checkpoints else 20)
                  + self.run_title.sizeHint().height() + 12)
        left = self.splitters["left"]
        total = sum(left.sizes()) or 750
        left.setSizes([height, max(total - height, 200)])
        n = len(l.model.checkpoints)
        kinds = {"run": "Checkpoints", "savedmodel": "SavedModel variables", "graph": "Checkpoints",
                 "checkpoint": "Checkpoints"}
        self.run_title.setText(f"<b>{kinds.get(l.model.kind, 'Checkpoints')}</b> ({n})" if n else
                               "<b>Checkpoints</b> — none: this is a graph without saved values")

    def _show_overview(self) -> None:
        l = self.loaded
        self.details.setHtml(details.graph_html(l.graph, l.model.path, l.problems))
        has_values = bool(l.tensors)
        self.side_tabs.setTabVisible(0, has_values)
        self.side_tabs.setTabVisible(2, bool(l.model.checkpoints))
        self._fill_compare_choices()
        self.side_tabs.setCurrentIndex(0 if has_values else 1)
        self.run_box.setVisible(bool(l.model.checkpoints))
        if not has_values:  # nothing to plot: give the room to the details
            self.splitters["right"].setSizes([650, 200])

    def _fill_meta_graphs(self) -> None:
        graphs = self.loaded.graphs
        self.meta_graph.blockSignals(True)
        self.meta_graph.clear()
        for g in graphs:
            self.meta_graph.addItem(", ".join(g.tags()) or "(no tags)")
        if self.loaded.graph in graphs:
            self.meta_graph.setCurrentIndex(graphs.index(self.loaded.graph))
        self.meta_graph.setVisible(len(graphs) > 1)
        self.meta_graph.blockSignals(False)

    def _meta_graph_chosen(self, index: int) -> None:
        l = self.loaded
        if l is None or not 0 <= index < len(l.graphs) or l.graphs[index] is l.graph:
            return
        l.graph = l.graphs[index]

        def task(job):
            build_tree(l)
            l.graph.collections()
            return l

        self.load_lane.submit(task, lambda _l: (self._fill_tree(), self._show_overview(),
                                                self._update_run_panel()),
                              lambda m, d: self.banner.show_message(m, d))

    def _checkpoint_chosen(self) -> None:
        items = self.checkpoints.selectedItems()
        if not items or self.loaded is None:
            return
        prefix = items[0].data(0, Qt.UserRole)
        if self.loaded.checkpoint is not None and prefix == self.loaded.checkpoint.prefix:
            return
        ckpt = next(c for c in self.loaded.model.checkpoints if c.prefix == prefix)
        loaded = self.loaded
        loaded.problems = []

        def task(job):
            open_reader(loaded, ckpt)
            build_tree(loaded)
            return loaded

        self.status_changed.emit(f"Reading {ckpt.name}…")
        self.load_lane.submit(task, self._checkpoint_switched, self._checkpoint_failed)

    def _checkpoint_switched(self, loaded: Loaded) -> None:
        self.banner.hide()
        current = self._current_tensor
        self._fill_tree(keep_filter=True)
        self._fill_variables()
        self._update_run_panel()
        if loaded.problems:
            self.banner.show_message(loaded.problems[0], "\n".join(loaded.problems), error=False)
        if current and current in loaded.tensors:
            self.show_tensor(current)
        else:
            self._value_hint(f"{current} is not in {loaded.checkpoint.name}." if current else
                             "Select a variable, or an op in the graph, to see its value.")
        self.title_changed.emit(self.title)
        self.status_changed.emit(self.status_text())
        self.loaded_changed.emit()

    def _checkpoint_failed(self, message: str, more: str) -> None:
        self.banner.show_message(message, more)
        self.status_changed.emit(message)

    # -- tree ---------------------------------------------------------------------------

    def _fill_tree(self, keep_filter: bool = False) -> None:
        l = self.loaded
        nodes = l.graph.nodes if l.graph is not None else None
        op_type = (lambda i: nodes[i].op) if nodes is not None else None
        self.tree_model.set_tree(l.tree, op_type)
        self.tree.setColumnHidden(1, nodes is None)  # no op types in a tree of variable names
        self.filter.setPlaceholderText("Filter by name or op type (Ctrl+F)" if nodes is not None
                                       else "Filter by name (Ctrl+F)")
        if l.tree_kind == "graph":
            src = os.path.basename(l.graph.source)
            tags = f" [{', '.join(l.graph.tags())}]" if l.graph.tags() else ""
            self.tree_title.setText(f"<b>Graph</b> — {html.escape(src)}{html.escape(tags)}, "
                                    f"{len(nodes):,} ops")
        else:
            self.tree_title.setText("<b>Variables by scope</b> — no graph (.meta) for this checkpoint")
        if keep_filter and self.filter.text():
            self._apply_filter()
        else:
            self.filter_note.hide()
        # Open the scope that holds the model (e.g. `vgg_16`, `bert`) so the tree starts
        # where the weights are.
        top = [self.tree_model.index(r, 0) for r in range(self.tree_model.rowCount())]
        if l.tree is not None and top:
            main = max(top, key=lambda i: self.tree_model.scope(i).params)
            if len(top) == 1 or self.tree_model.scope(main).params * 2 > l.tree.params > 0:
                self.tree.expand(main)

    def focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def _apply_filter(self) -> None:
        try:
            matches = self.tree_model.set_filter(self.filter.text(), self.regex.isChecked())
        except re.error as e:
            self.filter_note.setText(f"Invalid regular expression: {e}")
            self.filter_note.show()
            return
        if matches is None:
            self.filter_note.hide()
            return
        self.filter_note.setText(f"{matches:,} match{'es' if matches != 1 else ''}")
        self.filter_note.show()
        if matches and matches <= 200:
            self.tree.expandAll()

    def _tree_selected(self, current: QModelIndex, _previous=None) -> None:
        scope = self.tree_model.scope(current)
        l = self.loaded
        if scope is None or l is None:
            return
        self._selected_op = (l.tree_names[scope.op]
                             if scope.op is not None and l.tree_kind == "graph" else None)
        if self._run_panel is not None:
            self._run_panel.set_selected_op(self._selected_op)
        if scope.op is None:
            self.details.setHtml(details.scope_html(scope, l.tree_kind))
            self.side_tabs.setCurrentWidget(self.details)
            return
        if l.tree_kind == "variables":
            key = l.tree_names[scope.op]
            self.details.setHtml(details.scope_html(scope, l.tree_kind))
            self._select_variable_row(key)
            self.show_tensor(key)
            return
        name = l.tree_names[scope.op]
        key = l.tensor_for_op(name)
        self.details.setHtml(details.op_html(l.graph, name, key))
        self.side_tabs.setCurrentWidget(self.details)
        node = l.graph.node(name)
        if key is not None:
            self.show_tensor(key)
        elif node.op == "Const":
            self.show_const(name)
        else:
            self._value_hint(f"{name} is a {node.op} op: it has no stored value."
                                     + (" Its value lives in a checkpoint not opened here."
                                        if node.op in ("VariableV2", "VarHandleOp") else ""))
            self._set_actions(None)

    def _link_clicked(self, url) -> None:
        text = url.toString()
        if text.startswith(details.LINK_PREFIX):
            self.select_op(text[len(details.LINK_PREFIX):])

    def select_op(self, name: str) -> None:
        if self.filter.text():
            self.filter.clear()
            self._apply_filter()
        index = self.tree_model.index_of(name)
        if index.isValid():
            self.tree.scrollTo(index)
            self.tree.setCurrentIndex(index)

    # -- variables & values -------------------------------------------------------------

    def _fill_variables(self) -> None:
        tensors = list(self.loaded.tensors.values())
        self.var_model.set_tensors(tensors)
        has_raw = any(t.display_name != t.name for t in tensors)
        self.var_table.setColumnHidden(5, not has_raw)
        self._update_totals()
        if not tensors:
            self.var_totals.setText("no saved values" if self.loaded.checkpoint is None else "empty")

    def _update_totals(self) -> None:
        rows = [self.var_model.info(self.var_proxy.mapToSource(self.var_proxy.index(r, 0)).row())
                for r in range(self.var_proxy.rowCount())]
        params = sum(t.size for t in rows)
        size = sum(t.nbytes for t in rows)
        self.var_totals.setText(f"{len(rows):,} tensors · {params:,} params · {human_bytes(size)}")

    def _select_variable_row(self, key: str) -> None:
        row = self.var_model.row_of(key)
        if row < 0:
            return
        index = self.var_proxy.mapFromSource(self.var_model.index(row, 0))
        if index.isValid():
            self.var_table.blockSignals(True)
            self.var_table.selectionModel().blockSignals(True)
            self.var_table.setCurrentIndex(index)
            self.var_table.selectionModel().blockSignals(False)
            self.var_table.blockSignals(False)
            self.var_table.scrollTo(index)

    def _variable_selected(self, current: QModelIndex, _previous=None) -> None:
        if not current.isValid():
            return
        info = self.var_model.info(self.var_proxy.mapToSource(current).row())
        self.show_tensor(info.name)

    def show_tensor(self, key: str) -> None:
        """Read a tensor (crc-checked) in a worker, show it, then compute its statistics."""
        l = self.loaded
        info = l.tensors.get(key)
        if info is None:
            return
        self._current_tensor = key
        self._set_actions(key)
        self._refresh_trend()
        title = info.display_name if info.display_name == key else f"{info.display_name}   ({key})"
        if info.problem:
            self.values.show_message(f"{key} cannot be read: {info.problem}")
            return
        reader = l.reader
        self.stats_lane.cancel()
        # The panel keeps showing the previous tensor until this one is read: switching it
        # to a message and back costs a relayout each way.
        self.status_changed.emit(f"Reading {info.display_name}…")

        def shown(array):
            self.values.show_tensor(title, info.dtype_name, info.shape, array)
            self.status_changed.emit(self.status_text())
            self._compute_stats(key)

        def failed(message, more):
            self.values.show_message(message)
            self.status_changed.emit(message)

        self.value_lane.submit(lambda job: reader.read(key), shown, failed)

    def show_const(self, name: str) -> None:
        from ..formats import tensors as tensors_mod
        node = self.loaded.graph.node(name)
        self._current_tensor = None
        self._set_actions(None)

        def task(job):
            return tensors_mod.to_array(node.attr["value"].tensor)

        def shown(array):
            dtype = str(array.dtype) if array.dtype != object else "string"
            self.values.show_tensor(f"{name}   (Const)", dtype, array.shape, array)
            if dtypes.is_numeric(array.dtype):
                self._stats_of_array(array)

        self.value_lane.submit(task, shown, lambda m, _d: self.values.show_message(m))

    def _compute_stats(self, key: str) -> None:
        l = self.loaded
        info = l.tensors[key]
        if not info.dtype.is_numeric and not info.dtype.is_complex:
            return
        reader, bins = l.reader, self.values.bins()

        def task(job):
            return _stats().compute(lambda: reader.chunks(key), info.nbytes, bins,
                                    progress=lambda f: job.progress(f, "statistics"),
                                    cancelled=job.cancelled)

        def failed(message, more):
            self.values.show_message(message)
            self.banner.show_message(message, more)

        self.stats_lane.submit(task, self.values.show_stats, failed)

    def _stats_of_array(self, array) -> None:
        """Statistics and histogram of a value already in memory (a Const, a delta B − A,
        a result of the Run tab)."""
        flat, bins = array.ravel(), self.values.bins()
        self.stats_lane.submit(
            lambda job: _stats().compute(lambda: iter([flat]), array.nbytes, bins,
                                         cancelled=job.cancelled),
            self.values.show_stats)

    def _bins_changed(self, _bins: int) -> None:
        if self._current_tensor:
            self._compute_stats(self._current_tensor)

    def cancel_work(self) -> None:
        """Stop whatever runs in the background, except opening (cancel_load does that)."""
        for lane in self.lanes:
            if lane is not self.load_lane:
                lane.cancel()
        self._trend_shown = None

    # -- actions ------------------------------------------------------------------------

    def _set_actions(self, key: str | None) -> None:
        for b in (self.btn_copy_name, self.btn_copy_code, self.btn_export):
            b.setEnabled(key is not None)

    def copy_name(self) -> None:
        if self._current_tensor:
            QGuiApplication.clipboard().setText(self._current_tensor)

    def snippet(self) -> str:
        """Python that restores this model and fetches the selected tensor."""
        l, key = self.loaded, self._current_tensor
        prefix = l.checkpoint.prefix if l.checkpoint else None
        op = next((name for name, k in (l.graph.checkpoint_keys().items() if l.graph else [])
                   if k == key), None)
        if l.checkpoint is not None and l.checkpoint.meta and op and l.graph.format == "metagraph":
            return (
                "import tensorflow as tf\n\n"
                "tf.compat.v1.disable_eager_execution()\n"
                "with tf.compat.v1.Session() as sess:\n"
                f"    saver = tf.compat.v1.train.import_meta_graph({l.checkpoint.meta!r})\n"
                f"    saver.restore(sess, {prefix!r})\n"
                f"    value = sess.run(sess.graph.get_tensor_by_name({op + ':0'!r}))\n"
                "print(value.shape, value.dtype)\n")
        if prefix is not None:
            return ("import tensorflow as tf\n\n"
                    f"reader = tf.train.load_checkpoint({prefix!r})\n"
                    f"value = reader.get_tensor({key!r})\n"
                    "print(value.shape, value.dtype)\n")
        return ("import tensorflow as tf\n\n"
                "graph_def = tf.compat.v1.GraphDef()\n"
                f"with open({l.graph.source!r}, 'rb') as f:\n"
                "    graph_def.ParseFromString(f.read())\n"
                "with tf.Graph().as_default() as graph:\n"
                "    tf.compat.v1.import_graph_def(graph_def, name='')\n"
                "    with tf.compat.v1.Session(graph=graph) as sess:\n"
                f"        value = sess.run(graph.get_tensor_by_name({key + ':0'!r}))\n")

    def copy_snippet(self) -> None:
        if self._current_tensor:
            QGuiApplication.clipboard().setText(self.snippet())
            self.status_changed.emit("Python snippet copied to the clipboard")

    def export_value(self) -> None:
        key = self._current_tensor
        if not key:
            return
        safe = re.sub(r"[^\w.-]+", "_", key)
        target, chosen = QFileDialog.getSaveFileName(
            self, "Export value", os.path.join(os.path.expanduser("~"), safe + ".npy"),
            "NumPy array (*.npy);;CSV (*.csv)")
        if not target:
            return
        reader = self.loaded.reader
        csv = target.endswith(".csv") or chosen.startswith("CSV")

        def task(job):
            from ..analysis.export import write_csv, write_npy
            value = reader.read(key)
            (write_csv if csv else write_npy)(target, value)
            return target

        self.value_lane.submit(task, lambda t: self.status_changed.emit(f"Saved {t}"),
                               lambda m, d: self.banner.show_message(m, d))

    def verify(self) -> None:
        """Check every tensor of every checkpoint against its crc32c, in the background."""
        if self.loaded is None or not self.loaded.model.checkpoints:
            self.banner.show_message("Nothing to verify: this model has no checkpoint.", error=False)
            return
        from ..analysis.verify import verify
        checkpoints = self.loaded.model.checkpoints
        self.status_changed.emit("Verifying checkpoints…")

        def done(report):
            n = sum(1 for c in checkpoints if c.on_disk)
            if report.ok:
                text = f"Verified: all {report.checked:,} tensors in {n} checkpoint(s) are intact."
                self.banner.show_message(text, error=False)
            else:
                text = (f"{len(report.corrupt)} of {report.checked:,} tensors are corrupt "
                        "(they fail their crc32c check).")
                self.banner.show_message(text, "\n".join(report.corrupt))
            self.status_changed.emit(text)

        self.verify_lane.submit(
            lambda job: verify(checkpoints, progress=job.progress, cancelled=job.cancelled),
            done, lambda m, d: self.banner.show_message(m, d))

    # -- across the run -----------------------------------------------------------------

    @property
    def trend_view(self):
        if self._trend_view is None:
            from .trend_view import TrendView
            self._trend_view = TrendView()
            self._trend_view.binsChanged.connect(self._trend_bins_changed)
            self.trend_slot.addWidget(self._trend_view)
            self.trend_slot.setCurrentWidget(self._trend_view)
        return self._trend_view

    def _trend_bins_changed(self, _bins: int) -> None:
        self._refresh_trend()

    def _refresh_trend(self) -> None:
        """Follow the selected variable over the run, if that tab is on screen."""
        if self.value_tabs.currentIndex() != 1 or self.loaded is None:
            return
        key = self._current_tensor
        checkpoints = [c for c in self.loaded.model.checkpoints if c.on_disk]
        if key is None:
            (self.trend_view.show_message if self._trend_view else self.trend_placeholder.setText)(
                "Select a variable to follow it across the run.")
            return
        if len(checkpoints) < 2:
            self.trend_view.show_message("This model has a single checkpoint: nothing to follow "
                                         "across a run.")
            return
        wanted = (key, self.trend_view.bins(), tuple(c.prefix for c in checkpoints))
        if wanted == self._trend_shown:
            return
        from ..analysis import compare as compare_mod
        from ..formats.model import open_checkpoint
        if self._diff_cache is None:
            self._diff_cache = compare_mod.ResultCache()
        cache, bins = self._diff_cache, self.trend_view.bins()
        view = self.trend_view
        view.show_message(f"Reading {key} in {len(checkpoints)} checkpoints…")

        def task(job):
            readers = [(c.step, open_checkpoint(c)) for c in checkpoints]
            return compare_mod.trend(readers, key, bins,
                                     progress=lambda f: job.progress(f, "across the run"),
                                     cancelled=job.cancelled, cache=cache)

        def done(result):
            self._trend_shown = wanted
            view.show_trend(result)

        self.trend_lane.submit(task, done, lambda m, d: view.show_message(m))

    # -- comparing ----------------------------------------------------------------------

    def _fill_compare_choices(self, pick_b: int | None = None) -> None:
        l = self.loaded
        own = [(c.name if c.step is None else f"{c.name}  (step {c.step})", c)
               for c in l.model.checkpoints if c.on_disk]
        others = [ch for ch in self._compare_choices if ch[0].startswith("other: ")]
        self._compare_choices = own + others
        if not self._compare_choices:
            return
        latest = next((i for i, (_n, c) in enumerate(own) if c.latest), len(own) - 1)
        self._compare_picks = (0, latest if pick_b is None else pick_b)
        if self._compare is not None:
            self._compare.set_choices([n for n, _c in self._compare_choices], *self._compare_picks)

    @property
    def compare(self):
        """The Compare panel, created when first needed."""
        if self._compare is None:
            from .compare_panel import ComparePanel
            self._compare = ComparePanel()
            self._compare.compare_requested.connect(self._compare_checkpoints)
            self._compare.other_model_requested.connect(self._compare_other)
            self._compare.row_chosen.connect(self._show_diff_row)
            self.compare_page.set_content(self._compare)
            if self._compare_choices:
                self._compare.set_choices([n for n, _c in self._compare_choices],
                                          *self._compare_picks)
        return self._compare

    def _compare_checkpoints(self, a: int, b: int) -> None:
        if not (0 <= a < len(self._compare_choices) and 0 <= b < len(self._compare_choices)):
            return
        ca, cb = self._compare_choices[a][1], self._compare_choices[b][1]
        from ..analysis import compare as compare_mod
        from ..formats.model import open_checkpoint
        if self._diff_cache is None:
            self._diff_cache = compare_mod.ResultCache()
        cache = self._diff_cache

        def task(job):
            ra, rb = open_checkpoint(ca), open_checkpoint(cb)
            rows = compare_mod.diff(ra, rb, progress=lambda f: job.progress(f, "comparing"),
                                    cancelled=job.cancelled, cache=cache)
            return rows, ra, rb

        def done(result):
            rows, ra, rb = result
            self._compare_readers = (ra, rb)
            self.compare.set_rows(rows, ca.name, cb.name)
            self.status_changed.emit(f"Compared {cb.name} with {ca.name}: {len(rows)} variables")

        self.compare.set_busy(f"Comparing {cb.name} with {ca.name}…")
        self.compare_lane.submit(task, done, lambda m, d: (self.compare.set_busy(m),
                                                            self.banner.show_message(m, d)))

    def _compare_other(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Compare with another model",
                                                os.path.dirname(self.loaded.model.folder))
        if path:
            self.compare_with(path)

    def compare_with(self, path: str) -> None:
        """Offer another model's checkpoint (its latest, or the one `path` names) as B."""
        from ..formats.model import open_path

        def done(model):
            if model.selected is None:
                self.banner.show_message(f"{path}: no checkpoint to compare with", error=False)
                return
            label = f"other: {model.title} / {model.selected.name}"
            self._compare_choices = [ch for ch in self._compare_choices if ch[0] != label]
            self._compare_choices.append((label, model.selected))
            self._fill_compare_choices(pick_b=len(self._compare_choices) - 1)
            self.side_tabs.setCurrentWidget(self.compare_page)

        self.compare_lane.submit(lambda job: open_path(path), done,
                                 lambda m, d: self.banner.show_message(m, d))

    def _show_diff_row(self, row) -> None:
        """The delta B − A of one variable (or the side that has it) in the value panel."""
        if self._compare_readers is None:
            return
        ra, rb = self._compare_readers
        from ..analysis import compare as compare_mod
        self.stats_lane.cancel()
        if row.compared and row.rel_l2 is not None:
            title = f"Δ {row.name}   (B − A)"

            def task(job):
                return compare_mod.delta(ra, rb, row.key_a, row.key_b)
        elif row.key_b or row.key_a:
            reader, key = (rb, row.key_b) if row.key_b else (ra, row.key_a)
            title = f"{row.name}   ({'B' if row.key_b else 'A'}, {row.status})"

            def task(job):
                return reader.read(key)
        else:
            return

        def shown(array):
            dtype = "string" if array.dtype == object else str(array.dtype)
            self.values.show_tensor(title, dtype, array.shape, array)
            if array.dtype != object:
                self._stats_of_array(array)

        self._current_tensor = None
        self._set_actions(None)
        self.value_lane.submit(task, shown, lambda m, _d: self.values.show_message(m))

    def _side_tab_changed(self, index: int) -> None:
        """Build the Compare and Run panels when first shown. The Run tab needs height
        (fetches, feeds, results): give it most of the column while it is shown, and the
        previous split back after."""
        right = self.splitters["right"]
        page = self.side_tabs.widget(index)
        if page is self.compare_page:
            _ = self.compare            # built when first shown
        if page is self.run_page:
            _ = self.run_panel
            if self._sizes_before_run is None:
                self._sizes_before_run = right.sizes()
                total = sum(self._sizes_before_run)
                right.setSizes([int(total * 0.72), total - int(total * 0.72)])
        elif self._sizes_before_run is not None:
            right.setSizes(self._sizes_before_run)
            self._sizes_before_run = None

    @property
    def run_panel(self):
        """The Run panel, created when first needed."""
        if self._run_panel is None:
            from .run_panel import RunPanel
            self._run_panel = RunPanel()
            self._run_panel.show_value.connect(self._show_run_value)
            self._run_panel.status_changed.connect(
                lambda t: self.status_changed.emit(f"Run: {t}"))
            self.run_page.set_content(self._run_panel)
            self._run_panel.set_selected_op(self._selected_op)
            l = self.loaded
            if l is not None and l.graph is not None:
                self._run_panel.set_model(l.model, l.graph, l.checkpoint)
        return self._run_panel

    def _update_run_panel(self) -> None:
        """The Run tab follows the model, the meta graph and the checkpoint shown."""
        l = self.loaded
        self.side_tabs.setTabVisible(self.side_tabs.indexOf(self.run_page), l.graph is not None)
        if l.graph is not None and self._run_panel is not None:
            self._run_panel.set_model(l.model, l.graph, l.checkpoint)

    def _show_run_value(self, title: str, array) -> None:
        """A result of the Run tab in the value panel, with its statistics."""
        self._current_tensor = None
        self._set_actions(None)
        self.value_tabs.setCurrentIndex(0)
        dtype = "string" if array.dtype == object else str(array.dtype)
        self.values.show_tensor(title, dtype, array.shape, array)
        if dtypes.is_numeric(array.dtype):
            self._stats_of_array(array)

    def shutdown(self) -> None:
        if self._run_panel is not None:
            self._run_panel.shutdown()
        for lane in self.lanes:
            lane.shutdown()
        if self.loaded is not None and self.loaded.reader is not None:
            self.loaded.reader.close()
