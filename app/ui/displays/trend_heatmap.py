"""A run's histograms as one image: checkpoints × bins (rows in run order, columns in value
units), coloured by count or log count."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QVBoxLayout

from ..widgets.heatmap import Heatmap
from ..widgets.labels import SelectableLabel
from ..widgets.layout import caption_rows
from .trend_axes import RowAxis, ValueAxis
from .trend_base import TrendDisplay
from .trend_text import bin_text, histogram_reason, label, readout, who, x_positions

HINT = "hover for a bin"


class TrendHeatmapDisplay(TrendDisplay):
    name = "heatmap"
    title = "Heatmap"
    tooltip = "Histogram counts: checkpoints × value bins"
    PRIORITY = 30

    def __init__(self, font, parent=None):
        super().__init__(font, parent)
        self._matrix: np.ndarray | None = None    # checkpoints × bins, NaN: no values
        self._log = False

    def image(self) -> np.ndarray | None:
        """The checkpoints × bins matrix drawn: counts (log₁₀(1 + count) with 'Log colour'),
        NaN for checkpoints without values."""
        self.refresh()
        return None if self._matrix is None else self.heatmap.image()

    def counts(self) -> np.ndarray | None:
        """Counts, checkpoints × bins, in run order; NaN rows: no values."""
        self.refresh()
        return None if self._matrix is None else self._matrix.copy()

    def caption(self) -> str:
        self.refresh()
        return self.heat_caption.text()

    def readout(self) -> str:
        return self.heat_readout.text()

    def note(self) -> str:
        self.refresh()
        return self.heatmap.note_text()

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        self.heat_caption = SelectableLabel()
        self.heat_readout = SelectableLabel()
        self.heat_readout.setFont(self._mono)
        self.log_check = QCheckBox("Log colour")
        self.log_check.setToolTip("Colour by log₁₀(1 + count): shows sparse tails next to "
                                  "a tall peak")
        self.log_check.setChecked(self._log)
        self.log_check.toggled.connect(self._log_toggled)
        caption_rows(lay, self.heat_caption, self.heat_readout, self.log_check)

        self.row_axis = RowAxis("left")
        self.heatmap = Heatmap({"left": self.row_axis, "bottom": ValueAxis("bottom")},
                               note_margins=24)
        plot = self.heatmap.plot
        plot.setLabel("bottom", "value")
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.heatmap.hovered.connect(self._hover)
        lay.addWidget(self.heatmap, 1)

    def _style(self, palette: QPalette) -> None:
        self.heatmap.apply_palette(palette)

    def _log_toggled(self, on: bool) -> None:
        self._log = on
        self.invalidate()

    # -- drawing --------------------------------------------------------------------------

    def _draw(self) -> None:
        t = self._trend
        reason = histogram_reason(t) if t is not None and t.points else ""
        if reason is not None:
            self._matrix = None
            self.heatmap.clear()
            self.row_axis.set_rows([])
            self.heat_caption.setText("")
            self.heat_readout.setText("")
            if reason:
                self.heatmap.show_note(reason)
            return
        n, bins = len(t.points), t.bins
        matrix = np.full((n, bins), np.nan)
        for i, p in enumerate(t.points):
            if len(p.counts) == bins:
                matrix[i] = p.counts
        self._matrix = matrix
        img = np.log10(1.0 + matrix) if self._log else matrix
        hi = float(np.nanmax(img)) if np.isfinite(img).any() else 1.0
        hi = hi if hi > 0 else 1.0
        lo_e, hi_e = t.edges[0], t.edges[-1]
        width = hi_e - lo_e if hi_e > lo_e else 1.0
        self.heatmap.set_image(img, QRectF(lo_e, 0.0, width, float(n)), (0.0, hi))
        self.row_axis.set_rows([(i + 0.5, label(p, i)) for i, p in enumerate(t.points)])
        plot = self.heatmap.plot
        plot.setLabel("left", x_positions(t.points)[1].split(" (")[0])
        plot.setLimits(xMin=lo_e - 0.05 * width, xMax=lo_e + 1.05 * width,
                       yMin=-0.05 * n, yMax=1.05 * n)
        plot.setXRange(lo_e, lo_e + width, padding=0.01)
        plot.setYRange(0, n, padding=0.01)
        blank = int(np.isnan(matrix[:, 0]).sum())
        cap = (f"{n:,} checkpoints × {bins:,} bins · oldest at the top · colour: "
               f"{'log₁₀(1 + count)' if self._log else 'count'}")
        if blank:
            cap += f" · {blank} without values left blank"
        self.heat_caption.setText(cap)
        self.heat_readout.setText(HINT)

    def scene_pos(self, x: float, y: float) -> QPointF:
        """Where a pointer over (value x, row y) of the plot would be."""
        self.refresh()
        return self.heatmap.scene_pos(QPointF(x, y))

    def _hover(self, v: QPointF | None) -> None:
        t = self._trend
        if t is None or self._matrix is None:
            return
        text = HINT
        if v is not None:
            i = int(math.floor(v.y()))
            x = v.x()
            if 0 <= i < len(t.points) and t.edges[0] <= x <= t.edges[-1]:
                b = min(max(int(np.searchsorted(t.edges, x, side="right")) - 1, 0), t.bins - 1)
                p = t.points[i]
                if len(p.counts) == t.bins:
                    text = bin_text(t, i, b)
                else:
                    text = readout([who(p, i), f"no values ({p.problem or 'no finite values'})"])
        self.heat_readout.setText(text)
