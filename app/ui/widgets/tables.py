"""The read-only tables of the panels: one look, and Ctrl+C copying what is selected."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Qt
from PySide6.QtGui import QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


class CopyTable(QTableView):
    """A table in a fixed-width font whose Ctrl+C copies `selection_text()` (tab-separated
    text chosen by the subclass) to the clipboard."""

    def __init__(self, font: QFont, parent=None):
        super().__init__(parent)
        self.setFont(font)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setDefaultAlignment(Qt.AlignCenter)
        hh.setHighlightSections(False)

    def keyPressEvent(self, event):
        if event.matches(QKeySequence.Copy):
            self.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def selection_text(self) -> str | None:
        """The selected cells as text; None copies nothing."""
        return None

    def copy_selection(self) -> str:
        """Copy the selection to the clipboard; returns what was copied."""
        return self.to_clipboard(self.selection_text())

    @staticmethod
    def to_clipboard(text: str | None) -> str:
        if text is None:
            return ""
        QGuiApplication.clipboard().setText(text)
        return text


def row_table(model, stretch_column: int = 0) -> QTableView:
    """A sortable list of records, one selected at a time: the variables table and the
    Compare ranking. `stretch_column` takes the spare width; the others fit their text."""
    table = QTableView()
    table.setModel(model)
    table.setSortingEnabled(True)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(22)
    header = table.horizontalHeader()
    for c in range(model.columnCount()):
        header.setSectionResizeMode(c, QHeaderView.Stretch if c == stretch_column
                                    else QHeaderView.Interactive)
    fit_columns_on_change(table, model, [c for c in range(model.columnCount()) if c != stretch_column])
    return table


def fit_columns_on_change(view, model, columns: list[int]) -> None:
    """Fit `columns` of `view` to their text whenever the rows change, once per change.
    Qt's ResizeToContents asks the model for every row's text at every relayout instead:
    ~2,700 calls per resize of the window for a 33-row table, which made resizing a small
    window (and each relayout while statistics stream) take 100+ ms."""
    timer = QTimer(view)
    timer.setSingleShot(True)
    timer.setInterval(0)

    def fit():
        for c in columns:
            if not view.isColumnHidden(c):
                view.resizeColumnToContents(c)

    timer.timeout.connect(fit)
    for signal in (model.modelReset, model.layoutChanged, model.rowsInserted, model.rowsRemoved,
                   model.dataChanged):
        signal.connect(timer.start)
    timer.start()
