"""The histogram of a tensor's values, from statistics computed elsewhere (a worker)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from ...analysis.stats import DEFAULT_BINS
from ..array_model import format_float
from ..description import Description
from ..widgets.labels import SelectableLabel, html_escape
from ..widgets.layout import SPACING
from ..widgets.spin import MAX_BINS, bins_spin_box
from ..widgets.theme import plot_widget, style_axes
from .base import Display


LOGGED_COLOR = "#e67e22"    # the run's logged histogram: apart from the palette's highlight


class HistogramDisplay(Display):
    """Fits tensors with statistics. `bins_changed(n)`: the user asked for n bins."""

    name = "histogram"
    title = "Histogram"
    tooltip = ""

    bins_changed = Signal(int)

    def __init__(self, font, parent=None):
        super().__init__(parent)
        self._mono = font
        self._info = Description()
        self._stats = None
        self._stopped = ""          # why no statistics are coming (cancelled), if so
        self._bins = DEFAULT_BINS
        self._log = False
        self._logged = None         # the run's logged histogram of this variable, if any

    def priority(self, info: Description) -> int:
        return 30 if info.has_statistics else 0

    def reason(self, info: Description) -> str:
        return f"No histogram for {info.dtype_name} tensors"

    def set_tensor(self, info: Description) -> None:
        self._info = info
        self._stats = None
        self._stopped = ""
        self._logged = None
        self.invalidate()

    def set_stats(self, stats) -> None:
        """An app.analysis.stats.Stats; its number of bins becomes the spin box's."""
        self._stats = stats
        self._stopped = ""
        if stats is not None and stats.counts:
            self._bins = min(len(stats.counts), MAX_BINS)
        self.invalidate()

    def set_logged(self, logged) -> None:
        """An app.analysis.logged.LoggedHistogram to draw beside the values' own (None: none)."""
        self._logged = logged
        self.invalidate()

    def logged_item(self) -> pg.PlotDataItem:
        self.refresh()
        return self.logged_line

    def stop(self, why: str) -> None:
        """No statistics are coming (the computation was cancelled): say so, not 'Computing'."""
        self._stats = None
        self._stopped = why
        self.invalidate()

    def bins(self) -> int:
        return self._bins

    def curve(self) -> pg.PlotDataItem:
        """The histogram as drawn (hidden while there is nothing to draw)."""
        self.refresh()
        return self.histogram_item

    def readout(self) -> str:
        self.refresh()
        return self.hist_readout.text()

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Bins"))
        self.bins_spin = bins_spin_box("Number of histogram bins (recomputed in the background)")
        self.bins_spin.setValue(self._bins)
        self.bins_spin.valueChanged.connect(self._bins_picked)
        bar.addWidget(self.bins_spin)
        bar.addSpacing(12)
        self.log_check = QCheckBox("Log y")
        self.log_check.setToolTip("Logarithmic count axis; empty bins sit on the floor")
        self.log_check.setChecked(self._log)
        self.log_check.toggled.connect(self._log_toggled)
        bar.addWidget(self.log_check)
        bar.addSpacing(12)
        self.hist_readout = SelectableLabel()
        self.hist_readout.setFont(self._mono)
        self.hist_readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        bar.addWidget(self.hist_readout, 1)
        lay.addLayout(bar)

        self.hist_plot = plot_widget()
        pi = self.hist_plot.getPlotItem()
        pi.setLabel("left", "count")
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.getViewBox().setMouseEnabled(x=True, y=False)
        self.histogram_item = pi.plot([0.0, 1.0], [0], stepMode="center", fillLevel=0)
        self.histogram_item.hide()
        # The run's own histogram summary of this variable, outlined over the values' one.
        self.logged_line = pi.plot([0.0, 1.0], [0], stepMode="center")
        self.logged_line.hide()
        self.hist_plot.scene().sigMouseMoved.connect(self._hover)
        lay.addWidget(self.hist_plot, 1)
        self.logged_label = SelectableLabel()
        self.logged_label.setWordWrap(True)
        self.logged_label.hide()
        lay.addWidget(self.logged_label)

    def _style(self, palette: QPalette) -> None:
        self.hist_plot.setBackground(palette.color(QPalette.Base))
        style_axes(self.hist_plot.getPlotItem(), palette)
        accent = palette.color(QPalette.Highlight)
        fill = QColor(accent)
        fill.setAlpha(110)
        self.histogram_item.setPen(pg.mkPen(accent, width=1.5))
        self.histogram_item.setBrush(pg.mkBrush(fill))
        self.logged_line.setPen(pg.mkPen(LOGGED_COLOR, width=2))

    def _bins_picked(self, n: int) -> None:
        self._bins = n
        self.bins_changed.emit(n)

    def _log_toggled(self, on: bool) -> None:
        self._log = on
        self.invalidate()

    # -- drawing --------------------------------------------------------------------------

    def _draw(self) -> None:
        has = self._info.has_statistics
        self.bins_spin.blockSignals(True)
        self.bins_spin.setValue(self._bins)
        self.bins_spin.blockSignals(False)
        self.bins_spin.setEnabled(has)
        self.log_check.setEnabled(has)
        s = self._stats
        if s is None or not s.counts or len(s.edges) != len(s.counts) + 1:
            note = (self._stopped or "Computing statistics…") if s is None and has else \
                ("No finite values to bin." if s is not None else "")
            self._clear(note)
            return
        edges = np.asarray(s.edges, dtype=np.float64)
        counts = np.asarray(s.counts, dtype=np.float64)
        pi = self.hist_plot.getPlotItem()
        pi.setLogMode(False, self._log)
        if self._log:
            # empty bins sit on a floor at 0.5 (log 10 ≈ -0.3) so that a count of 1 still shows
            floor = 0.5
            y = np.where(counts > 0, counts, floor)
            self.histogram_item.setData(edges, y, stepMode="center", fillLevel=math.log10(floor))
            pi.setYRange(math.log10(floor), math.log10(max(counts.max(), 1.0)) + 0.15,
                         padding=0)
        else:
            self.histogram_item.setData(edges, counts, stepMode="center", fillLevel=0)
            pi.setYRange(0, max(counts.max(), 1.0) * 1.05, padding=0)
        span = edges[-1] - edges[0]
        pi.setXRange(edges[0], edges[-1], padding=0.02 if span > 0 else 0.5)
        pi.setLabel("bottom", "|x|" if getattr(s, "of_magnitude", False) else "value")
        self.histogram_item.show()
        self.hist_readout.setText(self._summary())
        self._draw_logged(edges, counts)

    def _draw_logged(self, edges: np.ndarray, counts: np.ndarray) -> None:
        from ...analysis.logged import as_count_per_bin
        logged = self._logged
        if logged is None or not len(logged.counts) or getattr(self._stats, "of_magnitude", False):
            self.logged_line.hide()
            self.logged_label.hide()
            return
        y = as_count_per_bin(logged, float(edges[1] - edges[0]))
        if self._log:
            y = np.where(y > 0, y, 0.5)
        self.logged_line.setData(logged.edges, y, stepMode="center")
        self.logged_line.show()
        pi = self.hist_plot.getPlotItem()
        top = max(float(counts.max()), float(y.max()), 1.0)
        if self._log:
            pi.setYRange(math.log10(0.5), math.log10(top) + 0.15, padding=0)
        else:
            pi.setYRange(0, top * 1.05, padding=0)
        lo, hi = min(edges[0], logged.edges[0]), max(edges[-1], logged.edges[-1])
        pi.setXRange(lo, hi, padding=0.02 if hi > lo else 0.5)
        self.logged_label.setText(
            f"<span style='color:{LOGGED_COLOR}'>━━</span> {html_escape(logged.label())}, "
            f"{int(logged.counts.sum()):,} values in {len(logged.counts)} buckets, scaled to these bins' width"
            + ("" if logged.same_step else " — no histogram was logged at this checkpoint's step"))
        self.logged_label.show()

    def _clear(self, note: str) -> None:
        self.histogram_item.hide()
        self.logged_line.hide()
        self.logged_label.hide()
        self.histogram_item.setData([0.0, 1.0], [0], stepMode="center", fillLevel=0)
        self.hist_readout.setText(note)
        self.hist_plot.getPlotItem().setLabel("bottom", "")

    def _summary(self) -> str:
        s = self._stats
        return f"{len(s.counts)} bins · {sum(s.counts):,} finite values · hover for a bin"

    def bin_text(self, i: int) -> str:
        s = self._stats
        lo, hi = s.edges[i], s.edges[i + 1]
        close = "]" if i == len(s.counts) - 1 else ")"
        total = sum(s.counts)
        share = f" ({100.0 * s.counts[i] / total:.3g}%)" if total else ""
        return (f"bin {i}: [{format_float(lo, 6)}, {format_float(hi, 6)}{close}  "
                f"count {s.counts[i]:,}{share}")

    def scene_pos(self, value: float, count: float) -> QPointF:
        """Where a pointer over (value, count) of the plot would be."""
        self.refresh()
        return self.hist_plot.getPlotItem().getViewBox().mapViewToScene(QPointF(value, count))

    def _hover(self, pos: QPointF) -> None:
        s = self._stats
        if s is None or not s.counts or not self.histogram_item.isVisible():
            return
        vb = self.hist_plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hist_readout.setText(self._summary())
            return
        x = vb.mapSceneToView(pos).x()
        edges = s.edges
        if x < edges[0] or x > edges[-1]:
            self.hist_readout.setText(self._summary())
            return
        i = min(int(np.searchsorted(edges, x, side="right")) - 1, len(s.counts) - 1)
        self.hist_readout.setText(self.bin_text(max(i, 0)))
