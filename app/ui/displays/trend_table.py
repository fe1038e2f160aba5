"""A run's trend as a table: one row per checkpoint, sortable and copyable."""

from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMenu, QVBoxLayout

from ...analysis.compare import Trend, TrendPoint
from ..array_model import SPECIAL_COLOR, format_float
from ..roles import ALIGN, DISPLAY, FOREGROUND, TOOLTIP, USER
from ..widgets.tables import CopyTable
from .trend_base import TrendDisplay
from .trend_text import label

COLUMNS = ("Step", "Mean", "Std", "L2 norm", "Min", "Max", "Δ vs first", "Δ vs previous",
           "Zeros", "NaN", "Inf", "Problem")
(COL_STEP, COL_MEAN, COL_STD, COL_NORM, COL_MIN, COL_MAX, COL_REL_FIRST, COL_REL_PREV,
 COL_ZEROS, COL_NAN, COL_INF, COL_PROBLEM) = range(len(COLUMNS))
FIELDS = (None, "mean", "std", "norm", "min", "max", "rel_change_first", "rel_change_prev",
          "zeros", "nan", "inf", "problem")
FLOAT_COLS = frozenset((COL_MEAN, COL_STD, COL_NORM, COL_MIN, COL_MAX, COL_REL_FIRST,
                        COL_REL_PREV))
COUNT_COLS = frozenset((COL_ZEROS, COL_NAN, COL_INF))
HEADER_TIPS = {
    COL_STEP: "Training step of the checkpoint (its index in the run when it has none)",
    COL_MEAN: "Mean of the finite values",
    COL_STD: "Standard deviation of the finite values",
    COL_NORM: "L2 norm of the finite values",
    COL_MIN: "Smallest finite value",
    COL_MAX: "Largest finite value",
    COL_REL_FIRST: "Relative L2 change to the first checkpoint: ‖x − x₀‖ / ‖x₀‖",
    COL_REL_PREV: "Relative L2 change to the previous checkpoint: ‖x − x_prev‖ / ‖x_prev‖",
    COL_ZEROS: "Elements equal to zero",
    COL_NAN: "NaN elements",
    COL_INF: "Infinite elements",
    COL_PROBLEM: "Why a checkpoint has no values",
}
SORT_ROLE = USER + 1
NUM_ALIGN = int(Qt.AlignRight | Qt.AlignVCenter)
TEXT_ALIGN = int(Qt.AlignLeft | Qt.AlignVCenter)


class TrendTableModel(QAbstractTableModel):
    """One row per checkpoint of a Trend. Sorting reorders rows in place (`sort`); empty
    cells (a checkpoint without values, the first one's change to its predecessor) sort
    last either way."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._points: list[TrendPoint] = []
        self._order: list[int] = []       # row → index of the checkpoint in the run
        self._dim = QColor(128, 128, 128)

    def set_trend(self, trend: Trend | None) -> None:
        self.beginResetModel()
        self._points = list(trend.points) if trend is not None else []
        self._order = list(range(len(self._points)))
        self.endResetModel()

    def set_dim_color(self, color: QColor) -> None:
        self._dim = QColor(color)
        if self._points:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._points) - 1, len(COLUMNS) - 1))

    def run_index(self, row: int) -> int:
        """Index in the run of the checkpoint shown at `row`."""
        return self._order[row]

    def point(self, row: int) -> TrendPoint:
        return self._points[self._order[row]]

    def value(self, row: int, col: int):
        """The raw value of a cell: int, float, str or None (nothing to show)."""
        p = self._points[self._order[row]]
        if col == COL_STEP:
            return p.step
        v = getattr(p, FIELDS[col])
        if col in COUNT_COLS and p.problem is not None:
            return None
        return v

    def copy_text(self, row: int, col: int) -> str:
        """A cell as copied: floats exact (shortest round-trip text), None empty."""
        v = self.value(row, col)
        if col == COL_STEP and v is None:
            return label(self._points[self._order[row]], self._order[row])
        if v is None:
            return ""
        if isinstance(v, float):
            return format_float(v, 17) if not math.isfinite(v) else repr(v)
        return str(v)

    def display_text(self, row: int, col: int) -> str:
        """A cell as shown."""
        i = self._order[row]
        p = self._points[i]
        if col == COL_STEP:
            return label(p, i)
        v = self.value(row, col)
        if col == COL_PROBLEM:
            return f" {v}" if v else ""      # clear of the right-aligned column before it
        if v is None:
            return "—"
        if col in COUNT_COLS:
            return f"{v:,}"
        return format_float(float(v), 6)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == DISPLAY:
                return COLUMNS[section]
            if role == TOOLTIP:
                return HEADER_TIPS[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable

    def data(self, index: QModelIndex, role=DISPLAY):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._order) and 0 <= col < len(COLUMNS)):
            return None
        if role == DISPLAY:
            return self.display_text(row, col)
        if role == ALIGN:
            return TEXT_ALIGN if col == COL_PROBLEM else NUM_ALIGN
        if role == FOREGROUND:
            v = self.value(row, col)
            if col == COL_PROBLEM:
                return SPECIAL_COLOR if v else None
            if col == COL_STEP:
                return None
            if v is None:
                return self._dim
            if col in (COL_NAN, COL_INF) and v or \
                    col in FLOAT_COLS and not math.isfinite(v):
                return SPECIAL_COLOR
            return None
        if role == TOOLTIP:
            p = self._points[self._order[row]]
            if col == COL_STEP:
                return p.prefix + (f"\n{p.key}" if p.key else "")
            if col == COL_PROBLEM:
                return p.problem
            if col == COL_ZEROS and p.problem is None and p.size:
                return f"{100.0 * p.zeros / p.size:.3g}% of {p.size:,} elements"
            if col == COL_REL_PREV and p.problem is None and p.rel_change_prev is None:
                return "No previous checkpoint of the same shape"
            return None
        if role == SORT_ROLE:
            return self._sort_key(self._order[row], col)
        return None

    def _sort_key(self, i: int, col: int):
        """Key of checkpoint `i` in column `col`; None sorts last."""
        p = self._points[i]
        if col == COL_STEP:
            return i
        if col == COL_PROBLEM:
            return p.problem.lower() if p.problem else None
        if col in COUNT_COLS and p.problem is not None:
            return None
        v = getattr(p, FIELDS[col])
        if v is None or v != v:
            return None
        return v

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS) or not self._points:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [(self._order[ix.row()], ix.column()) for ix in persistent]
        keyed = [(self._sort_key(i, column), i) for i in range(len(self._points))]
        present = sorted((k for k in keyed if k[0] is not None), key=lambda k: k[0],
                         reverse=order == Qt.DescendingOrder)
        self._order = [i for _k, i in present] + [i for k, i in keyed if k is None]
        row_of = {i: r for r, i in enumerate(self._order)}
        self.changePersistentIndexList(persistent,
                                       [self.index(row_of[i], c) for i, c in held])
        self.layoutChanged.emit()


class TrendTable(CopyTable):
    """Ctrl+C (and the context menu) copy the selected cells as tab-separated text with a
    header line, floats exact."""

    def contextMenuEvent(self, event):
        menu = QMenu(self)
        sel = self.selectionModel()
        copy = menu.addAction("Copy", self.copy_selection)
        copy.setEnabled(sel is not None and sel.hasSelection())
        menu.addAction("Copy Whole Table", self.copy_all)
        menu.exec(event.globalPos())

    def _text(self, rows: list[int], cols: list[int], selected=None) -> str:
        model = self.model()
        lines = ["\t".join(COLUMNS[c] for c in cols)]
        for r in rows:
            lines.append("\t".join(
                model.copy_text(r, c) if selected is None or (r, c) in selected else ""
                for c in cols))
        return "\n".join(lines)

    def selection_text(self) -> str | None:
        sel = self.selectionModel()
        if not isinstance(self.model(), TrendTableModel) or sel is None or \
                not sel.hasSelection():
            return None
        cells = {(ix.row(), ix.column()) for ix in sel.selectedIndexes()}
        rows = sorted({r for r, _c in cells})
        cols = sorted({c for _r, c in cells})
        return self._text(rows, cols, cells)

    def copy_all(self) -> str:
        model = self.model()
        if not isinstance(model, TrendTableModel):
            return ""
        return self.to_clipboard(self._text(list(range(model.rowCount())),
                                            list(range(len(COLUMNS)))))


class TrendTableDisplay(TrendDisplay):
    name = "table"
    title = "Table"
    tooltip = "One row per checkpoint"
    PRIORITY = 10

    def __init__(self, font, parent=None):
        super().__init__(font, parent)
        self._model = TrendTableModel(self)

    def model(self) -> TrendTableModel:
        """The rows drawn."""
        self.refresh()
        return self._model

    def apply_palette(self, palette: QPalette) -> None:
        super().apply_palette(palette)
        self._model.set_dim_color(palette.color(QPalette.PlaceholderText))

    def _build(self, lay: QVBoxLayout) -> None:
        self.table = TrendTable(self._mono)
        self.table.setModel(self._model)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        # column titles in the application's header font, as they were when the table was
        # built with the panel (built later, it would take the cells' fixed font)
        hh.setFont(QApplication.font(hh))
        hh.setStretchLastSection(True)
        hh.setSortIndicator(COL_STEP, Qt.AscendingOrder)
        self.table.setSortingEnabled(True)
        lay.addWidget(self.table, 1)

    def _draw(self) -> None:
        self._model.set_trend(self._trend)
        if self._trend is None:
            return
        hh = self.table.horizontalHeader()
        self.table.sortByColumn(hh.sortIndicatorSection(), hh.sortIndicatorOrder())
        self._size_columns()

    def _size_columns(self) -> None:
        """Every column as wide as its widest text (header with its sort arrow, or a cell
        of the first rows), so that nothing is cut at the usual sizes."""
        fm = self.table.fontMetrics()
        hfm = self.table.horizontalHeader().fontMetrics()
        model = self._model
        rows = range(min(model.rowCount(), 2000))
        for col in range(len(COLUMNS) - 1):          # the last one (Problem) stretches
            head = hfm.horizontalAdvance(COLUMNS[col]) + 30
            body = max((fm.horizontalAdvance(model.display_text(r, col)) for r in rows),
                       default=0)
            self.table.setColumnWidth(col, max(head, body + 18))
