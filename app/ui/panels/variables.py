"""The current checkpoint's tensors as a sortable, filterable table with totals. Choosing a
row selects that tensor in the document; the table follows selections made elsewhere."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QMenu, QVBoxLayout, QWidget

from ...formats.display import human_bytes
from ...document import Document, Selection
from ..variables_model import SortProxy, VariablesModel
from ..widgets.tables import row_table
from ..widgets.filter_field import FilterField

ORIGIN = "variables"


class VariablesPanel(QWidget):
    open_requested = Signal(str)      # a written result, to open in a tab of its own

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.filter = FilterField("Filter variables")
        self.totals = QLabel()
        self.totals.setMinimumWidth(80)       # cut in a narrow panel (the tooltip has it all)
        row.addWidget(self.filter, 1)
        row.addWidget(self.totals)
        lay.addLayout(row)
        self.model = VariablesModel(self)
        self.proxy = SortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.filter.textChanged.connect(lambda _t: self._update_totals())
        self.table = row_table(self.proxy)
        self.table.sortByColumn(0, Qt.AscendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.Interactive)   # raw keys: long
        self.table.setColumnHidden(5, True)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        lay.addWidget(self.table)
        self.table.setContextMenuPolicy(Qt.CustomContextMenu)
        self.table.customContextMenuRequested.connect(
            lambda pos: QMenu.exec([self.save_as_action()], self.table.viewport().mapToGlobal(pos)))
        self._following = False
        doc.opened.connect(lambda _l: self._fill())
        doc.checkpoint_changed.connect(lambda _l: self._fill())
        doc.selection_changed.connect(self._follow)

    def _fill(self) -> None:
        loaded = self.doc.loaded
        tensors = list(loaded.tensors.values())
        self.model.set_tensors(tensors)
        self.table.setColumnHidden(5, not any(t.display_name != t.name for t in tensors))
        self._update_totals()
        if not tensors:
            self.totals.setText("no saved values" if loaded.checkpoint is None else "empty")
        if self.doc.selection.key is not None:
            self._follow(self.doc.selection)

    def _update_totals(self) -> None:
        rows = [self.model.info(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]
        split = self.doc.loaded.params
        params = sum(t.size for t in rows if not split.is_optimizer(t.name))
        state = sum(t.size for t in rows if split.is_optimizer(t.name))
        size = sum(t.nbytes for t in rows)
        optimizer = f" + {state:,} optimizer state" if state else ""
        self.totals.setText(f"{len(rows):,} tensors · {params:,} params{optimizer} · {human_bytes(size)}")
        self.totals.setToolTip("Parameters of the model; the optimizer's slots (Adam's m and v, "
                               "momentum…) and step counters are counted apart")

    def save_as_action(self):
        from ..edit_actions import can_save_as
        act = QAction("Save checkpoint as…")     # lives as long as its menu
        act.setEnabled(can_save_as(self.doc))
        act.triggered.connect(self.save_as)
        return act

    def save_as(self):
        """The "Save as…" dialog over the current checkpoint; returns it (shown)."""
        from ..edit_actions import can_save_as
        from ..edit_dialog import SaveAsDialog
        if not can_save_as(self.doc):
            return None
        dialog = SaveAsDialog(self.doc, self)
        dialog.written.connect(self.open_requested)
        dialog.open()
        return dialog

    def select_key(self, key: str) -> None:
        """Choose the row of tensor `key`, as a click does."""
        row = self.model.row_of(key)
        if row >= 0:
            self.table.setCurrentIndex(self.proxy.mapFromSource(self.model.index(row, 0)))

    def _selection_changed(self, _selected=None, _deselected=None) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self._following or not rows:
            return
        info = self.model.info(self.proxy.mapToSource(rows[0]).row())
        self.doc.select_tensor(info.name, origin=ORIGIN)

    def _follow(self, selection: Selection) -> None:
        if selection.origin == ORIGIN or selection.key is None:
            return
        row = self.model.row_of(selection.key)
        index = self.proxy.mapFromSource(self.model.index(row, 0)) if row >= 0 else QModelIndex()
        if not index.isValid():
            return
        self._following = True
        try:
            self.table.setCurrentIndex(index)
            self.table.scrollTo(index)
        finally:
            self._following = False
