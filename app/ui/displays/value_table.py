"""The values as a table, with pickers for the two axes shown and the index held on every
other axis, and a window onto axes longer than a view can lay out."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, \
    QVBoxLayout, QWidget

from ..array_model import MAX_SECTIONS, ArrayTableModel, exact_text
from ..description import Description
from ..widgets.layout import SPACING
from ..widgets.tables import CopyTable
from .base import Display

COPY_LIMIT = 1_000_000        # cells copied to the clipboard at most


class ArrayTable(CopyTable):
    """Copies the selected cells with every digit they have, tab separated."""

    def selection_text(self) -> str | None:
        model = self.model()
        sel = self.selectionModel()
        if not isinstance(model, ArrayTableModel) or sel is None or not sel.hasSelection():
            return None
        ranges = sel.selection()
        if sum(r.height() * r.width() for r in ranges) > COPY_LIMIT:
            return None
        top = min(r.top() for r in ranges)
        left = min(r.left() for r in ranges)
        bottom = max(r.bottom() for r in ranges)
        right = max(r.right() for r in ranges)
        kind = model.kind()
        lines = []
        for row in range(top, bottom + 1):
            out = []
            for col in range(left, right + 1):
                idx = model.index(row, col)
                if not sel.isSelected(idx):
                    out.append("")
                elif kind == "string":
                    out.append(model.data(idx))
                else:
                    out.append(exact_text(model.value(row, col), kind))
            lines.append("\t".join(out))
        return "\n".join(lines)


class TableDisplay(Display):
    """Fits every tensor. `slice_changed` follows the axes and held indices (the heatmap
    draws the same slice)."""

    name = "table"
    title = "Table"
    tooltip = ""

    slice_changed = Signal()

    def __init__(self, font, parent=None):
        super().__init__(parent)
        self._mono = font
        self._info = Description()
        self._index_spins: dict[int, QSpinBox] = {}
        self.model = ArrayTableModel(self)   # the data, whether or not the page is built

    def priority(self, info: Description) -> int:
        return 40 if info.present else 0

    def reason(self, info: Description) -> str:
        return "No tensor"

    def set_tensor(self, array, info: Description) -> None:
        self._info = info
        self.model.set_array(array, info.dtype_name if array is not None else None)
        self.invalidate()
        self.slice_changed.emit()

    # -- slicing (also without the page) --------------------------------------------------

    def set_axes(self, row_axis: int, col_axis: int) -> None:
        """Show `row_axis` as rows and `col_axis` as columns."""
        self.model.set_axes(row_axis, col_axis)
        if self._built and not self._stale:
            for combo, ax in ((self.row_axis_combo, row_axis), (self.col_axis_combo, col_axis)):
                combo.blockSignals(True)
                combo.setCurrentIndex(ax)
                combo.blockSignals(False)
            self._rebuild_index_spins()
            self._update_window_bar()
        self.slice_changed.emit()

    def set_index(self, axis: int, i: int) -> None:
        """Hold `axis` (one not shown as rows/columns) at index `i`."""
        spin = self._index_spins.get(axis)
        if spin is not None and spin.value() != i:
            spin.setValue(i)     # → _index_changed
        else:
            self._index_changed(axis, i)

    def _index_changed(self, axis: int, i: int) -> None:
        if self.model.indices()[axis] == i:
            return
        self.model.set_index(axis, i)
        self.slice_changed.emit()

    def index_axes(self) -> list[int]:
        """The axes that have an index spin box (neither rows nor columns)."""
        self.refresh()
        return sorted(self._index_spins)

    def index_spin(self, axis: int) -> QSpinBox:
        self.refresh()
        return self._index_spins[axis]

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        self.axis_bar = QWidget()
        bar = QHBoxLayout(self.axis_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Rows"))
        self.row_axis_combo = QComboBox()
        self.row_axis_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        bar.addWidget(self.row_axis_combo)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Columns"))
        self.col_axis_combo = QComboBox()
        self.col_axis_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        bar.addWidget(self.col_axis_combo)
        bar.addSpacing(16)
        self._index_box = QHBoxLayout()
        self._index_box.setSpacing(SPACING)
        bar.addLayout(self._index_box)
        bar.addStretch(1)
        self.row_axis_combo.activated.connect(lambda i: self._axes_picked("row"))
        self.col_axis_combo.activated.connect(lambda i: self._axes_picked("col"))
        lay.addWidget(self.axis_bar)

        # only for axes longer than the view can lay out
        self.window_bar = QWidget()
        wb = QHBoxLayout(self.window_bar)
        wb.setContentsMargins(0, 0, 0, 0)
        wb.setSpacing(SPACING)
        self._window_label = QLabel()
        wb.addWidget(self._window_label)
        self._first_row_label = QLabel("first row")
        wb.addWidget(self._first_row_label)
        self.first_row_spin = QSpinBox()
        self.first_row_spin.setKeyboardTracking(False)
        self.first_row_spin.setGroupSeparatorShown(True)
        wb.addWidget(self.first_row_spin)
        self._first_col_label = QLabel("first column")
        wb.addWidget(self._first_col_label)
        self.first_col_spin = QSpinBox()
        self.first_col_spin.setKeyboardTracking(False)
        self.first_col_spin.setGroupSeparatorShown(True)
        wb.addWidget(self.first_col_spin)
        wb.addStretch(1)
        self.first_row_spin.valueChanged.connect(self._window_moved)
        self.first_col_spin.valueChanged.connect(self._window_moved)
        lay.addWidget(self.window_bar)

        self.table = ArrayTable(self._mono)
        self.table.setModel(self.model)
        vh = self.table.verticalHeader()
        vh.setDefaultAlignment(Qt.AlignRight | Qt.AlignVCenter)
        vh.setMinimumWidth(self.table.fontMetrics().horizontalAdvance("0000") + 14)
        vh.setHighlightSections(False)
        hh = self.table.horizontalHeader()
        # Headers size themselves from sampled sections; Qt's default samples 1000 of
        # them per reset (4000 Python calls for a 4096-wide slice): a few suffice.
        hh.setResizeContentsPrecision(16)
        vh.setResizeContentsPrecision(16)
        lay.addWidget(self.table, 1)

    def _draw(self) -> None:
        self._setup_table()
        self._setup_axis_pickers()
        self._update_window_bar()

    def _setup_table(self) -> None:
        fm = self.table.fontMetrics()
        kind = self._info.kind
        samples = {
            "float": "-0.000123457" if self.model.digits() >= 6 else "-0.000123",
            "complex": "-0.123457-0.123457j",
            "int": "-2147483648",
            "bool": "false",
            "string": "x" * 32,
        }
        sample = samples.get(kind, "x" * 12)
        a = self.model.array()
        if kind == "int" and a is not None and a.dtype.itemsize >= 8:
            sample = "-9223372036854775808"
        width = fm.horizontalAdvance(sample) + 18
        hh = self.table.horizontalHeader()
        hh.setDefaultSectionSize(max(width, fm.horizontalAdvance("00000") + 18))
        # one column of text gets the width; numbers keep a readable column width
        hh.setStretchLastSection(self.model.rank() < 2 and kind == "string")
        self.table.scrollToTop()

    def _clear_index_spins(self) -> None:
        while self._index_box.count():
            item = self._index_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._index_spins = {}

    def _setup_axis_pickers(self) -> None:
        rank = self.model.rank()
        a = self.model.array()
        self.axis_bar.setVisible(rank > 2)
        for combo in (self.row_axis_combo, self.col_axis_combo):
            combo.blockSignals(True)
            combo.clear()
        self._clear_index_spins()
        if rank > 2:
            for ax, n in enumerate(a.shape):
                for combo in (self.row_axis_combo, self.col_axis_combo):
                    combo.addItem(f"axis {ax}  ({n})", ax)
            r, c = self.model.axes()
            self.row_axis_combo.setCurrentIndex(r)
            self.col_axis_combo.setCurrentIndex(c)
        for combo in (self.row_axis_combo, self.col_axis_combo):
            combo.blockSignals(False)
        if rank > 2:
            self._rebuild_index_spins()

    def _rebuild_index_spins(self) -> None:
        self._clear_index_spins()
        r, c = self.model.axes()
        held = self.model.indices()
        for ax, n in enumerate(self.model.array().shape):
            if ax in (r, c):
                continue
            label = QLabel(f"axis {ax}")
            spin = QSpinBox()
            spin.setRange(0, max(0, min(n - 1, 2**31 - 1)))
            spin.setValue(held[ax])
            spin.setEnabled(n > 1)
            spin.setKeyboardTracking(False)
            spin.setSuffix(f" / {max(n - 1, 0)}")
            spin.setToolTip(f"Index along axis {ax} (size {n})")
            spin.valueChanged.connect(lambda v, ax=ax: self._index_changed(ax, v))
            self._index_box.addWidget(label)
            self._index_box.addWidget(spin)
            self._index_box.addSpacing(8)
            self._index_spins[ax] = spin

    def _axes_picked(self, which: str) -> None:
        r = self.row_axis_combo.currentData()
        c = self.col_axis_combo.currentData()
        old_r, old_c = self.model.axes()
        if r == c:   # picked the other's axis: swap
            if which == "row":
                c = old_r
            else:
                r = old_c
        self.set_axes(r, c)

    def _update_window_bar(self) -> None:
        rows, cols = self.model.total_shape()
        long_rows, long_cols = rows > MAX_SECTIONS, cols > MAX_SECTIONS
        self.window_bar.setVisible(long_rows or long_cols)
        if not (long_rows or long_cols):
            return
        for spin, total, show, label in ((self.first_row_spin, rows, long_rows,
                                          self._first_row_label),
                                         (self.first_col_spin, cols, long_cols,
                                          self._first_col_label)):
            spin.blockSignals(True)
            spin.setRange(0, min(max(total - MAX_SECTIONS, 0), 2**31 - 1))
            spin.setSingleStep(MAX_SECTIONS // 2)
            spin.setValue(0)
            spin.blockSignals(False)
            spin.setVisible(show)
            label.setVisible(show)
        self._update_window_label()

    def _update_window_label(self) -> None:
        rows, cols = self.model.total_shape()
        r0, c0 = self.model.offset()
        parts = []
        if rows > MAX_SECTIONS:
            parts.append(f"rows {r0:,}–{r0 + MAX_SECTIONS - 1:,} of {rows:,}")
        if cols > MAX_SECTIONS:
            parts.append(f"columns {c0:,}–{c0 + MAX_SECTIONS - 1:,} of {cols:,}")
        self._window_label.setText("Showing " + ", ".join(parts) + ";")

    def _window_moved(self) -> None:
        self.model.set_offset(self.first_row_spin.value(), self.first_col_spin.value())
        self._update_window_label()
