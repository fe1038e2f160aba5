"""A table model over a 2-D slice of an n-D numpy array.

The array may be a read-only memory-mapped view of a tensor far larger than memory: the
model never copies it, never loops over it, and formats only the cells the view asks for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from .dtype_kinds import kind_of
from .roles import ALIGN, DISPLAY, EDIT, FOREGROUND, TOOLTIP, USER
from .slicing import element_index, slice_2d

# A view lays its sections out in C-int pixels, so 10^8 rows of 30 px overflow it (and hang
# the header). Longer axes are shown as a window of this many rows/columns at an offset.
MAX_SECTIONS = 10_000_000
# Display text of a string element is cut here; the tooltip carries (much) more.
DISPLAY_CHARS = 200
TOOLTIP_CHARS = 4000

FLOAT_DIGITS = {"float16": 4, "bfloat16": 3}          # everything else: 6
_FLOAT8 = "float8"

# Readable on light and dark backgrounds alike.
SPECIAL_COLOR = QColor(214, 88, 64)

_NUMERIC_ALIGN = int(Qt.AlignRight | Qt.AlignVCenter)
_TEXT_ALIGN = int(Qt.AlignLeft | Qt.AlignVCenter)


# --------------------------------------------------------------------------- formatting

def digits_for(dtype_name: str | None) -> int:
    name = (dtype_name or "").lower()
    if name.startswith(_FLOAT8):
        return 3
    return FLOAT_DIGITS.get(name, 6)


def format_float(x: float, digits: int = 6) -> str:
    """Compact `%g` text; NaN and infinities spelled out."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else ""
        text = f"{mantissa}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
    return text


def format_complex(z: complex, digits: int = 6) -> str:
    re_text = format_float(z.real, digits)
    im = z.imag
    if math.isnan(im):
        return f"{re_text}+NaNj"
    sign = "-" if im < 0 or (im == 0 and math.copysign(1.0, im) < 0) else "+"
    return f"{re_text}{sign}{format_float(abs(im), digits)}j"


def decode_bytes(value: Any) -> str:
    """UTF-8 text of a string element; invalid bytes as \\xNN, control characters escaped so
    that one element stays on one line."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="backslashreplace")
    else:
        text = str(value)
    if any(c < " " or c == "\x7f" for c in text):
        out = []
        for c in text:
            if c == "\n":
                out.append("\\n")
            elif c == "\t":
                out.append("\\t")
            elif c == "\r":
                out.append("\\r")
            elif c < " " or c == "\x7f":
                out.append(f"\\x{ord(c):02x}")
            else:
                out.append(c)
        text = "".join(out)
    return text


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def python_value(value: Any, kind: str) -> Any:
    """The element as a plain Python value (float for bfloat16/float8, bytes for strings)."""
    if kind == "float":
        return float(value)
    if kind == "complex":
        return complex(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "string":
        return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else value
    return value.item() if hasattr(value, "item") else value


def format_value(value: Any, kind: str, digits: int = 6) -> str:
    if kind == "float":
        return format_float(float(value), digits)
    if kind == "complex":
        return format_complex(complex(value), digits)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(int(value))
    if kind == "string":
        return truncate(decode_bytes(value), DISPLAY_CHARS)
    return str(value)


def exact_text(value: Any, kind: str) -> str:
    """The value with every digit it has: numpy's shortest round-trip text for IEEE types,
    the exact decimal for the ml_dtypes ones (all of which a double holds exactly)."""
    if kind == "float":
        x = float(value)
        if not math.isfinite(x):
            return format_float(x)
        if getattr(value, "dtype", None) in (np.float16, np.float32, np.float64):
            return str(value)
        return repr(x)
    if kind == "complex":
        z = complex(value)
        if getattr(value, "dtype", None) in (np.complex64, np.complex128):
            return str(value).strip("()")
        return repr(z).strip("()")
    return format_value(value, kind)


def is_special(value: Any, kind: str) -> bool:
    """NaN or ±Inf (in either part of a complex number)."""
    if kind == "float":
        return not math.isfinite(float(value))
    if kind == "complex":
        z = complex(value)
        return not (math.isfinite(z.real) and math.isfinite(z.imag))
    return False


# --------------------------------------------------------------------------- the model

# Asked for every cell at every paint: combined once (an enum OR costs ~10 µs in Python).
_FLAGS = Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemNeverHasChildren
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_CENTER = int(Qt.AlignCenter)

class ArrayTableModel(QAbstractTableModel):
    """Rows and columns are two chosen axes of the array; every other axis is held at an index.

    Rank 0 is one cell, rank 1 one column. `USER` gives the raw Python value of a cell.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._dtype_name = ""
        self._kind = "other"
        self._digits = 6
        self._row_axis = 0
        self._col_axis = 1
        self._index: list[int] = []
        self._offset = [0, 0]          # first row, first column of the window

    # ---- configuration

    def set_array(self, array: np.ndarray | None, dtype_name: str | None = None) -> None:
        """Show `array` (kept by reference, never copied). Rows/columns default to the last two
        axes; every other axis starts at index 0."""
        self.beginResetModel()
        self._array = array
        if array is None:
            self._dtype_name, self._kind, self._index = "", "other", []
        else:
            self._dtype_name = dtype_name or array.dtype.name
            self._kind = kind_of(self._dtype_name, array.dtype)
            self._digits = digits_for(self._dtype_name)
            self._index = [0] * array.ndim
            self._row_axis = max(array.ndim - 2, 0)
            self._col_axis = max(array.ndim - 1, 0)
        self._offset = [0, 0]
        self.endResetModel()

    def set_axes(self, row_axis: int, col_axis: int) -> None:
        """Which axes are the rows and the columns (only meaningful for rank ≥ 2)."""
        rank = self.rank()
        if rank < 2:
            return
        if not (0 <= row_axis < rank and 0 <= col_axis < rank) or row_axis == col_axis:
            raise ValueError(f"bad axes ({row_axis}, {col_axis}) for rank {rank}")
        if (row_axis, col_axis) == (self._row_axis, self._col_axis):
            return
        self.beginResetModel()
        self._row_axis, self._col_axis = row_axis, col_axis
        self._offset = [0, 0]
        self.endResetModel()

    def set_offset(self, first_row: int, first_col: int = 0) -> None:
        """For axes longer than MAX_SECTIONS: the first row/column shown (clamped)."""
        rows, cols = self.total_shape()
        first_row = max(0, min(first_row, rows - MAX_SECTIONS))
        first_col = max(0, min(first_col, cols - MAX_SECTIONS))
        if [first_row, first_col] == self._offset:
            return
        self._offset = [first_row, first_col]
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))
        self.headerDataChanged.emit(Qt.Vertical, 0, max(self.rowCount() - 1, 0))
        self.headerDataChanged.emit(Qt.Horizontal, 0, max(self.columnCount() - 1, 0))

    def offset(self) -> tuple[int, int]:
        return self._offset[0], self._offset[1]

    def set_index(self, axis: int, i: int) -> None:
        """Hold a non-displayed axis at index `i`."""
        if self._array is None or not 0 <= axis < self.rank():
            raise ValueError(f"no axis {axis}")
        n = self._array.shape[axis]
        if not 0 <= i < max(n, 1):
            raise IndexError(f"index {i} out of range for axis {axis} of size {n}")
        if self._index[axis] == i:
            return
        self._index[axis] = i
        if axis in (self._row_axis, self._col_axis):
            return
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    # ---- queries

    def array(self) -> np.ndarray | None:
        return self._array

    def dtype_name(self) -> str:
        return self._dtype_name

    def kind(self) -> str:
        """'float', 'complex', 'bool', 'int', 'string' or 'other'."""
        return self._kind

    def digits(self) -> int:
        """Significant digits shown for floats of this dtype."""
        return self._digits

    def rank(self) -> int:
        return 0 if self._array is None else self._array.ndim

    def axes(self) -> tuple[int, int]:
        return self._row_axis, self._col_axis

    def indices(self) -> tuple[int, ...]:
        """The held index of every axis (entries of the row/column axes are not used)."""
        return tuple(self._index)

    def element_index(self, row: int, col: int) -> tuple[int, ...]:
        """The array index of a model cell (window offset included)."""
        return element_index(self.rank(), self._row_axis, self._col_axis, self._index,
                             row + self._offset[0], col + self._offset[1])

    def current_slice(self) -> np.ndarray | None:
        """The displayed 2-D slice as a view (rows × columns); rank 0 → 1×1, rank 1 → n×1."""
        a = self._array
        return None if a is None else slice_2d(a, self._row_axis, self._col_axis, self._index)

    def value(self, row: int, col: int) -> Any:
        """The raw element of a model cell (numpy scalar, or bytes for strings)."""
        return self._array[self.element_index(row, col)]

    def total_shape(self) -> tuple[int, int]:
        """Rows × columns of the whole slice, before the MAX_SECTIONS window."""
        a = self._array
        if a is None:
            return 0, 0
        if a.ndim == 0:
            return 1, 1
        if a.ndim == 1:
            return a.shape[0], 1
        return a.shape[self._row_axis], a.shape[self._col_axis]

    # ---- QAbstractTableModel

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self.total_shape()[0], MAX_SECTIONS)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self.total_shape()[1], MAX_SECTIONS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY):
        if not index.isValid() or self._array is None:
            return None
        row, col = index.row(), index.column()
        if role == ALIGN:
            return _TEXT_ALIGN if self._kind in ("string", "other") else _NUMERIC_ALIGN
        if role not in (DISPLAY, TOOLTIP, USER, FOREGROUND,
                        EDIT):
            return None
        if not (0 <= row < self.rowCount() and 0 <= col < self.columnCount()):
            return None
        v = self.value(row, col)
        if role in (DISPLAY, EDIT):
            return format_value(v, self._kind, self._digits)
        if role == USER:
            return python_value(v, self._kind)
        if role == FOREGROUND:
            return SPECIAL_COLOR if is_special(v, self._kind) else None
        # tooltip: the full text of a string, the exact value of a number
        where = "[" + ", ".join(map(str, self.element_index(row, col))) + "]"
        if self._kind == "string":
            raw = python_value(v, self._kind)
            text = decode_bytes(raw)
            size = f"{len(raw)} bytes" if isinstance(raw, bytes) else f"{len(text)} chars"
            return f"{where}  ({size})\n{truncate(text, TOOLTIP_CHARS)}"
        return f"{where} = {exact_text(v, self._kind)}"

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY):
        if role == ALIGN:
            return _RIGHT if orientation == Qt.Vertical else _CENTER
        if role not in (DISPLAY, TOOLTIP) or self._array is None:
            return None
        rank = self.rank()
        if orientation == Qt.Horizontal:
            if rank < 2:
                return "value"
            section += self._offset[1]
            if role == TOOLTIP:
                return f"axis {self._col_axis} index {section}"
            return str(section)
        if rank == 0:
            return "scalar" if role == TOOLTIP else ""
        section += self._offset[0]
        if role == TOOLTIP:
            return f"axis {0 if rank == 1 else self._row_axis} index {section}"
        return str(section)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.NoItemFlags
        return _FLAGS
