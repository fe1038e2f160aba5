"""Two checkpoints side by side: every variable ranked by how much it moved."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..formats.display import number_text, shape_text
from .roles import ALIGN, DISPLAY, FOREGROUND, TOOLTIP
from .row_model import RowsModel
from .variables_model import SORT_ROLE, SortProxy
from .widgets.filter_field import FilterField
from .widgets.tables import row_table

if TYPE_CHECKING:
    from ..analysis.compare import DiffRow  # numpy: imported when comparing

COLUMNS = ("Variable", "Status", "‖B−A‖ / ‖A‖", "max |B−A|", "mean |B−A|", "Shape A", "Shape B")
_STATUS_COLOR = {"added": "#2e8b57", "removed": "#c0392b", "reshaped": "#d35400",
                 "unreadable": "#c0392b", "unchanged": None, "changed": None}


RANK_COLUMN = 2


def change_rank(r: "DiffRow") -> tuple:
    """Sort key of the ranking, ascending = moved most. NaN first (something broke); then
    the relative change ‖B−A‖/‖A‖; then tensors that start from zero, which have none (it
    is infinite), by the RMS of their change; then rows without metrics."""
    v = r.rel_l2
    if v is None:
        return (3, 0.0)
    if v != v:
        return (0, 0.0)
    if math.isinf(v):
        rms = (r.l2_delta or 0.0) / math.sqrt(r.size) if r.size else 0.0
        return (2, -rms)
    return (1, -v)


def change_text(r: "DiffRow") -> str:
    if r.rel_l2 is not None and math.isinf(r.rel_l2):
        return "from zero"
    return number_text(r.rel_l2, missing="")


class DiffModel(RowsModel):
    COLUMNS = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self._optimizer: list[bool] = []

    def set_rows(self, rows: list[DiffRow], optimizer: set[str] = frozenset()) -> None:
        """`optimizer`: keys (of A or B) that hold optimizer state."""
        self._optimizer = [r.key_a in optimizer or r.key_b in optimizer for r in rows]
        self.replace_rows(rows)

    def is_optimizer(self, i: int) -> bool:
        return self._optimizer[i]

    def headerData(self, section, orientation, role=DISPLAY):  # noqa: N802 (Qt)
        if orientation == Qt.Horizontal and role == TOOLTIP and 0 <= section < len(COLUMNS):
            return ("Variable (readable name)", "changed, unchanged (identical bytes), reshaped, "
                    "added (only in B), removed (only in A), unreadable",
                    "Relative L2 norm of the change, ‖B−A‖ / ‖A‖: the ranking. Tensors that "
                    "start from zero have none; they follow, ranked by the RMS of their change",
                    "Largest absolute change",
                    "Mean absolute change", "Shape in A", "Shape in B")[section]
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex, role=DISPLAY):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == DISPLAY:
            status = r.status + (" (dtype)" if r.dtype_changed else "")
            return (r.name, status, change_text(r),
                    number_text(r.max_abs_delta, missing=""),
                    number_text(r.mean_abs_delta, missing=""),
                    shape_text(r.shape_a, missing=""), shape_text(r.shape_b, missing=""))[col]
        if role == SORT_ROLE:
            def key(v):  # None last; NaN first among numbers (something broke)
                if v is None:
                    return (2, 0.0)
                return (0, math.inf) if v != v else (1, -v)
            return (r.name.lower(), r.status, change_rank(r), key(r.max_abs_delta),
                    key(r.mean_abs_delta), r.shape_a or [], r.shape_b or [])[col]
        if role == ALIGN and 2 <= col <= 4:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == FOREGROUND and col == 1:
            color = _STATUS_COLOR.get(r.status)
            return QColor(color) if color else None
        if role == TOOLTIP:
            lines = [r.name, f"A: {r.key_a or '—'}  {r.dtype_a or ''} {shape_text(r.shape_a, missing='')}",
                     f"B: {r.key_b or '—'}  {r.dtype_b or ''} {shape_text(r.shape_b, missing='')}"]
            if r.rel_l2 is not None and math.isinf(r.rel_l2) and r.size:
                lines.append(f"A is all zeros: RMS of the change {number_text(r.l2_delta / math.sqrt(r.size))}")
            if self._optimizer[index.row()]:
                lines.append("optimizer state")
            if r.problem:
                lines.append(r.problem)
            return "\n".join(lines)
        return None


class DiffProxy(SortProxy):
    """The ranking's sorting and name filter, hiding the optimizer's state unless asked."""

    def __init__(self, parent=None):
        super().__init__(parent, filter_column=0)
        self.show_optimizer = False

    def set_show_optimizer(self, show: bool) -> None:
        if hasattr(self, "beginFilterChange"):      # Qt ≥ 6.9; invalidateFilter is deprecated there
            self.beginFilterChange()
            self.show_optimizer = show
            self.endFilterChange()
        else:
            self.show_optimizer = show
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:  # noqa: N802 (Qt)
        model = self.sourceModel()
        if not self.show_optimizer and model.is_optimizer(row):
            return False
        return super().filterAcceptsRow(row, parent)


class ComparePanel(QWidget):
    """Choose A and B, see the ranking. The owner does the reading: `compare_requested`
    asks for it, `set_rows` shows the result, `row_chosen` asks for one variable's delta."""

    compare_requested = Signal(int, int)      # indices into the choices
    other_model_requested = Signal()
    row_chosen = Signal(object)               # DiffRow

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.a = QComboBox()
        self.b = QComboBox()
        for combo, tip in ((self.a, "A: the base"), (self.b, "B: compared with A")):
            combo.setToolTip(tip)
            combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.run_button = QPushButton("Compare")
        self.run_button.setToolTip("Rank every variable by how much it changed from A to B")
        self.other_button = QPushButton("Other model…")
        self.other_button.setToolTip("Compare with a checkpoint of another run or model "
                                     "(variables are matched by name)")
        top.addWidget(QLabel("A"))
        top.addWidget(self.a)
        top.addWidget(QLabel("B"))
        top.addWidget(self.b)
        # While training writes the run: A stays, B becomes each new checkpoint as it lands.
        self.follow_b = QCheckBox("B follows newest")
        self.follow_b.setToolTip("Keep A; each new checkpoint training writes becomes B and is "
                                 "compared with A")
        top.addWidget(self.follow_b)
        top.addWidget(self.run_button)
        top.addWidget(self.other_button)
        top.addStretch(1)
        lay.addLayout(top)
        row = QHBoxLayout()
        self.filter = FilterField("Filter variables")
        self.summary = QLabel("Choose two checkpoints and press Compare.")
        self.optimizer_check = QCheckBox("Optimizer state")
        self.optimizer_check.setToolTip("Also list the optimizer's slots (Adam's m and v, momentum…) "
                                        "and step counters")
        row.addWidget(self.filter, 1)
        row.addWidget(self.optimizer_check)
        row.addWidget(self.summary)
        lay.addLayout(row)
        self.model = DiffModel(self)
        self.proxy = DiffProxy(self)
        self.proxy.setSourceModel(self.model)
        self.optimizer_check.toggled.connect(self.proxy.set_show_optimizer)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = row_table(self.proxy)
        self.table.selectionModel().currentRowChanged.connect(self._chosen)
        lay.addWidget(self.table, 1)
        self.run_button.clicked.connect(
            lambda: self.compare_requested.emit(self.a.currentIndex(), self.b.currentIndex()))
        self.other_button.clicked.connect(self.other_model_requested.emit)

    def set_choices(self, names: list[str], a: int, b: int) -> None:
        for combo, pick in ((self.a, a), (self.b, b)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentIndex(pick)
            combo.blockSignals(False)
        self.run_button.setEnabled(len(names) > 0)

    def set_rows(self, rows: list[DiffRow], a_name: str, b_name: str,
                 optimizer: set[str] = frozenset()) -> None:
        """Show `rows` ranked by change (the column's arrow says so); `optimizer`: the keys
        of optimizer state, hidden until asked for."""
        self.model.set_rows(rows, optimizer)
        self.table.sortByColumn(RANK_COLUMN, Qt.AscendingOrder)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        parts = [f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        hidden = sum(self.model.is_optimizer(i) for i in range(len(rows)))
        note = f"; {hidden} optimizer tensors hidden" if hidden and not self.proxy.show_optimizer else ""
        self.summary.setText(f"B {b_name} vs A {a_name}: " + ", ".join(parts) + note)

    def set_busy(self, text: str) -> None:
        self.summary.setText(text)

    def _chosen(self, current: QModelIndex, _previous=None) -> None:
        if current.isValid():
            self.row_chosen.emit(self.model.row(self.proxy.mapToSource(current).row()))
