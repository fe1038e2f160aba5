"""The table of a checkpoint's tensors: readable name, dtype, shape, size, bytes, raw key."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt

from .roles import ALIGN, DISPLAY, FOREGROUND, TOOLTIP, USER
from .row_model import RowsModel

from ..formats.reader import TensorInfo
from ..formats.display import human_bytes, shape_text  # noqa: F401  (re-exported for the views)

COLUMNS = ("Name", "DType", "Shape", "Params", "Bytes", "Checkpoint key")
SORT_ROLE = USER + 1


_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)     # asked for at every paint: made once

class VariablesModel(RowsModel):
    COLUMNS = COLUMNS

    def set_tensors(self, tensors: list[TensorInfo]) -> None:
        self.replace_rows(tensors)

    def info(self, row: int) -> TensorInfo:
        return self.row(row)

    def row_of(self, name: str) -> int:
        for i, t in enumerate(self._rows):
            if t.name == name:
                return i
        return -1

    def data(self, index: QModelIndex, role=DISPLAY):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        t = self._rows[index.row()]
        col = index.column()
        if role == DISPLAY:
            return (t.display_name, t.dtype_name, shape_text(t.shape), f"{t.size:,}",
                    human_bytes(t.nbytes), t.name)[col]
        if role == SORT_ROLE:
            return (t.display_name.lower(), t.dtype_name, t.shape, t.size, t.nbytes, t.name)[col]
        if role == ALIGN and col in (3, 4):
            return _RIGHT
        if role == TOOLTIP:
            lines = [t.display_name, f"key: {t.name}"]
            if t.slot_of:
                lines.append(f"optimizer slot '{t.slot_name}' of {t.slot_of}")
            if t.partitioned:
                lines.append("partitioned: reassembled from its slices")
            if t.problem:
                lines.append(f"cannot be read: {t.problem}")
            return "\n".join(lines)
        if role == FOREGROUND and t.problem:
            from PySide6.QtGui import QColor
            return QColor("#c0392b")
        return None


class SortProxy(QSortFilterProxyModel):
    """Sorting by the real values a model gives under SORT_ROLE (shapes, sizes, numbers),
    case-insensitive filtering on `filter_column` (-1: every column)."""

    def __init__(self, parent=None, filter_column: int = -1):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.setFilterKeyColumn(filter_column)

    def lessThan(self, left, right) -> bool:
        a = left.data(SORT_ROLE)
        b = right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
