"""Axes of the trend plots: checkpoints as labelled rows, integer steps, plain values."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

from ..array_model import format_float


class RowAxis(pg.AxisItem):
    """An axis labelling rows (one per checkpoint) with their steps. Labels are thinned out
    to every k-th row (k = 1, 2, 5, 10, …) so that they never overlap, the newest always
    labelled; zooming in brings the others back."""

    def __init__(self, orientation: str = "left"):
        super().__init__(orientation)
        self._rows: list[tuple[float, str]] = []   # (position, label), oldest first
        self._text: dict[float, str] = {}

    def set_rows(self, rows: list[tuple[float, str]]) -> None:
        self._rows = list(rows)
        self._text = {round(y, 6): t for y, t in self._rows}
        # room for the widest label now, not after a first paint has measured it
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        widest = max((fm.horizontalAdvance(t) for _y, t in self._rows), default=0.0)
        self._updateMaxTextSize(math.ceil(widest) + 2)
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):
        if minVal > maxVal:        # an inverted view (the heatmap's rows grow downwards)
            minVal, maxVal = maxVal, minVal
        if not self._rows or size <= 0 or maxVal <= minVal:
            return []
        per_row = size / (maxVal - minVal)   # rows are one unit apart
        need = QFontMetricsF(self.font()).height() * 1.25
        k = 1
        for nice in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000):
            k = nice
            if nice * per_row >= need:
                break
        n = len(self._rows)
        values = [y for i, (y, _t) in enumerate(self._rows)
                  if (n - 1 - i) % k == 0 and minVal - 1e-9 <= y <= maxVal + 1e-9]
        return [(float(k), values)]

    def tickStrings(self, values, scale, spacing):
        return [self._text.get(round(v, 6), "") for v in values]


class IntAxis(pg.AxisItem):
    """An axis of steps or checkpoint indices: integer ticks only."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                out.append((spacing, [v for v in values if float(v).is_integer()]))
        if not out:
            lo, hi = math.ceil(minVal), math.floor(maxVal)
            out = [(1.0, [float(v) for v in range(lo, hi + 1)])] if hi >= lo else []
        return out

    def tickStrings(self, values, scale, spacing):
        return [str(int(round(v * scale))) for v in values]


class ValueAxis(pg.AxisItem):
    """An axis of values: plain numbers (no SI prefix moved into the label, which reads
    badly as "value (x0.001)"), in %g form when plain decimals would be long (1e-07)."""

    def __init__(self, orientation: str):
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):
        out = super().tickStrings(values, scale, spacing)
        if not values or max(len(t) for t in out) <= 7 or not spacing > 0:
            return out
        top = max(abs(v * scale) for v in values) or spacing * scale
        digits = max(1, min(6, math.ceil(math.log10(top / (spacing * scale))) + 1))
        return [format_float(v * scale, digits) if v != 0 else "0" for v in values]
