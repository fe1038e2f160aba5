"""The graph's name scopes and ops (or, without a graph, the variables' names) as a lazy
tree, with a filter on names and op types. Selecting a row selects that op, tensor or
scope in the document; the tree follows selections made elsewhere."""

from __future__ import annotations

import html
import os
import re

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QMenu,
                               QTreeView, QVBoxLayout, QWidget)

from ...analysis import function_tree
from .. import keras_layers
from ...document import Document, Selection
from ..tree_model import ScopeTreeModel
from ..widgets.filter_field import FilterField
from ..widgets.tables import fit_columns_on_change

ORIGIN = "tree"
OP_COLUMN_WIDTH = 110


class ScopeTreePanel(QWidget):
    freeze_requested = Signal(list)   # "Freeze…" from the context menu: the op names chosen

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        trow = QHBoxLayout()
        self.title = QLabel("<b>Graph</b>")
        self.meta_graph = QComboBox()
        self.meta_graph.setToolTip("A SavedModel holds one meta graph per set of tags")
        self.meta_graph.hide()
        self.meta_graph.currentIndexChanged.connect(doc.select_meta_graph)
        trow.addWidget(self.title, 1)
        trow.addWidget(self.meta_graph)
        lay.addLayout(trow)
        frow = QHBoxLayout()
        self.filter = FilterField("Filter by name or op type (Ctrl+F)")
        self.filter.setToolTip("Keeps matching names (and op types) with the scopes above them; "
                               "Esc clears it")
        self.regex = QCheckBox("Regex")
        self.regex.setToolTip("Treat the filter as a regular expression")
        frow.addWidget(self.filter, 1)
        frow.addWidget(self.regex)
        lay.addLayout(frow)
        self.filter_note = QLabel()
        self.filter_note.hide()
        lay.addWidget(self.filter_note)
        self.model = ScopeTreeModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        # Op types can be long (AssignAddVariableOp): a set width, elided, so that names
        # keep the room in a narrow column; the user can widen it.
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.resizeSection(1, OP_COLUMN_WIDTH)
        for c in (2, 3):
            header.setSectionResizeMode(c, QHeaderView.Interactive)
        # fitted when rows change, not at every relayout (see fit_columns_on_change)
        fit_columns_on_change(self.tree, self.model, [2, 3])  # (a scope's counts are its
        # children's sums: the top rows are the widest)
        # Selected, not current: Qt makes the first row current when the view takes the
        # focus (a click on an expander does), which is not the user choosing it.
        self.tree.selectionModel().selectionChanged.connect(self._selection_changed)
        lay.addWidget(self.tree, 1)
        self.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(200)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter.textChanged.connect(lambda _t: self._filter_timer.start())
        self.regex.toggled.connect(lambda _c: self.apply_filter())
        self._following = False
        # Expanded scopes by path: a reload (F5) or another checkpoint keeps them open.
        self._expanded: set[str] = set()
        self.tree.expanded.connect(self._remember_expanded)
        self.tree.collapsed.connect(lambda i: self._expanded.discard(self.model.scope(i).path))

        doc.opened.connect(lambda _l: (self._fill_meta_graphs(), self._fill()))
        doc.checkpoint_changed.connect(lambda _l: self._fill(keep_filter=True))
        doc.graph_changed.connect(lambda _l: self._fill())
        doc.selection_changed.connect(self._follow)

    # -- content ------------------------------------------------------------------------

    def _fill_meta_graphs(self) -> None:
        loaded = self.doc.loaded
        self.meta_graph.blockSignals(True)
        self.meta_graph.clear()
        for g in loaded.graphs:
            self.meta_graph.addItem(", ".join(g.tags()) or "(no tags)")
        if loaded.graph in loaded.graphs:
            self.meta_graph.setCurrentIndex(loaded.graphs.index(loaded.graph))
        self.meta_graph.setVisible(len(loaded.graphs) > 1)
        self.meta_graph.blockSignals(False)

    def _fill(self, keep_filter: bool = False) -> None:
        loaded = self.doc.loaded
        graph = loaded.graph
        nodes = graph.nodes if graph is not None else None
        self.model.set_tree(loaded.tree, (lambda s: function_tree.op_type(s, graph))
                            if graph is not None else None)
        self.tree.setColumnHidden(1, nodes is None)     # no op types in a tree of variable names
        self.filter.setPlaceholderText("Filter by name or op type (Ctrl+F)" if nodes is not None
                                       else "Filter by name (Ctrl+F)")
        if loaded.tree_kind == "graph":
            src = os.path.basename(loaded.graph.source)
            tags = f" [{', '.join(loaded.graph.tags())}]" if loaded.graph.tags() else ""
            functions = len(loaded.graph.functions)
            fn = (f" + {functions:,} function{'s' if functions != 1 else ''}"
                  f" ({loaded.graph.functions.node_count():,} ops)") if functions else ""
            self.title.setText(f"<b>Graph</b> — {html.escape(src)}{html.escape(tags)}, {len(nodes):,} ops{fn}")
        else:
            self.title.setText(keras_layers.title_html(loaded.reader)
                               or "<b>Variables by scope</b> — no graph (.meta) for this checkpoint")
        if keep_filter and self.filter.text():
            self.apply_filter()
        else:
            self.filter_note.hide()
        if self._expanded:
            self._reopen()
            return
        # Open the scope that holds the model (e.g. `vgg_16`, `bert`) so the tree starts
        # where the weights are.
        top = [self.model.index(r, 0) for r in range(self.model.rowCount())]
        if loaded.tree is not None and top:
            main = max(top, key=lambda i: self.model.scope(i).params)
            if len(top) == 1 or self.model.scope(main).params * 2 > loaded.tree.params > 0:
                self.tree.expand(main)

    def _remember_expanded(self, index) -> None:
        if not self.model.filtering:       # a filter opens every match: not the user's choice
            self._expanded.add(self.model.scope(index).path)

    def _reopen(self) -> None:
        """Expand again the scopes that were open, parents first."""
        for path in sorted(self._expanded, key=lambda p: p.count("/")):
            index = self.model.index_of(path)
            if index.isValid():
                self.tree.expand(index)
            else:
                self._expanded.discard(path)

    def _context_menu(self, pos) -> None:
        loaded = self.doc.loaded
        if loaded is None or loaded.tree_kind != "graph":
            return
        from ..freeze_dialog import can_freeze, freezable_op
        scope = self.model.scope(self.tree.indexAt(pos))
        op = freezable_op(loaded, loaded.tree_names[scope.op]
                          if scope is not None and scope.op is not None else None)
        menu = QMenu(self)
        act = menu.addAction(f"Freeze with output {op}…" if op else "Freeze…",
                             lambda: self.freeze_requested.emit([op] if op else []))
        act.setEnabled(can_freeze(loaded))
        if not act.isEnabled():
            act.setToolTip("Freezing needs the graph's variables and a checkpoint with their values")
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def apply_filter(self) -> None:
        self._filter_timer.stop()          # applied now: a pending one would only redo it
        try:
            matches = self.model.set_filter(self.filter.text(), self.regex.isChecked())
        except re.error as e:
            self.filter_note.setText(f"Invalid regular expression: {e}")
            self.filter_note.show()
            return
        if matches is None:
            self.filter_note.hide()
            self._show_current(clear_filter=False)
            return
        self.filter_note.setText(f"{matches:,} match{'es' if matches != 1 else ''}")
        self.filter_note.show()
        if matches and matches <= 200:
            self.tree.expandAll()
        self._show_current(clear_filter=False)

    # -- selection ----------------------------------------------------------------------

    def _selection_changed(self, _selected=None, _deselected=None) -> None:
        if self._following:
            return
        rows = self.tree.selectionModel().selectedRows()
        if not rows:
            return
        scope = self.model.scope(rows[0])
        loaded = self.doc.loaded
        if scope is None or loaded is None:
            return
        if scope.op is None:
            self.doc.select(Selection(scope=scope, origin=ORIGIN))
        elif loaded.tree_kind == "variables":
            self.doc.select(Selection(key=loaded.tree_names[scope.op], scope=scope, origin=ORIGIN))
        else:
            self.doc.select_op(loaded.op_of(scope), origin=ORIGIN)

    def reveal(self, path: str, clear_filter: bool = True) -> bool:
        """Make the row of `path` (an op, or a tensor's display name) current without
        selecting anything anew. A filter that hides it is cleared, unless not to."""
        index = self.model.index_of(path)
        if not index.isValid() and self.filter.text() and clear_filter:
            self.filter.clear()
            self.apply_filter()
            index = self.model.index_of(path)
        if not index.isValid():
            return False
        self._following = True
        try:
            self.tree.scrollTo(index)
            self.tree.setCurrentIndex(index)
        finally:
            self._following = False
        return True

    def _path_of(self, selection: Selection) -> str | None:
        loaded = self.doc.loaded
        if loaded is None:
            return None
        if selection.scope is not None:
            return selection.scope.path
        if loaded.tree_kind == "graph":
            # An op inside a function is shown where the library lists it.
            return function_tree.library_path(selection.op) if selection.op and "@" in selection.op \
                else selection.op
        info = loaded.tensors.get(selection.key) if selection.key is not None else None
        return info.display_name if info is not None else None

    def _show_current(self, clear_filter: bool) -> None:
        path = self._path_of(self.doc.selection)
        if path:
            self.reveal(path, clear_filter)

    def _follow(self, selection: Selection) -> None:
        if selection.origin != ORIGIN:
            self._show_current(clear_filter=True)
