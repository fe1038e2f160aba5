"""Statistics against step: mean, std, the min–max band and the L2 norm (own axis, right);
below, the relative L2 change to the first and to the previous checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPalette
from PySide6.QtWidgets import QFrame, QSizePolicy, QVBoxLayout

from ..array_model import format_float
from ..widgets.labels import SelectableLabel
from ..widgets.layout import caption_rows
from ..widgets.message import NotePage
from ..widgets.theme import is_dark, style_axes
from .trend_axes import IntAxis, ValueAxis
from .trend_base import TrendDisplay
from .trend_colors import series_colors
from .trend_text import finite, has_values, listing, readout, who, x_positions

MAX_SYMBOLS = 60        # curves mark their points up to this many checkpoints
HINT = "hover for a checkpoint"


class CurvesDisplay(TrendDisplay):
    name = "curves"
    title = "Curves"
    tooltip = "Statistics and relative change against step"
    PRIORITY = 20
    REDRAWS_ON_PALETTE = True

    def __init__(self, font, parent=None):
        super().__init__(font, parent)
        self._xs = np.zeros(0)

    def curves(self) -> dict[str, pg.PlotDataItem]:
        """The curves drawn: mean, std, norm, min, max, rel_first, rel_prev."""
        self.refresh()
        return dict(self.curve_items)

    def caption(self) -> str:
        self.refresh()
        return self.curves_caption.text()

    def note(self) -> str:
        self.refresh()
        return self._plot_page.note_text()

    def readout(self) -> str:
        return self.curves_readout.text()

    def set_trend(self, trend) -> None:
        self._xs = x_positions(trend.points)[0] if trend is not None else np.zeros(0)
        super().set_trend(trend)

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        self.curves_caption = SelectableLabel()
        self.curves_readout = SelectableLabel()
        self.curves_readout.setFont(self._mono)
        caption_rows(lay, self.curves_caption, self.curves_readout)

        self.curves_widget = pg.GraphicsLayoutWidget()
        self.curves_widget.setFrameShape(QFrame.NoFrame)
        ci = self.curves_widget.ci
        ci.setSpacing(2)
        font = self.page().font()
        size = f"{font.pointSizeF() * 0.95:.1f}pt"
        self.stats_legend = pg.LegendItem(colCount=4, labelTextSize=size, horSpacing=14)
        self.rel_legend = pg.LegendItem(colCount=2, labelTextSize=size, horSpacing=14)
        self.stats_plot = pg.PlotItem(axisItems={"bottom": IntAxis("bottom"),
                                                 "left": ValueAxis("left"),
                                                 "right": ValueAxis("right")})
        self.rel_plot = pg.PlotItem(axisItems={"bottom": IntAxis("bottom"),
                                               "left": ValueAxis("left"),
                                               "right": ValueAxis("right")})
        ci.addItem(self.stats_legend, row=0, col=0)
        ci.addItem(self.stats_plot, row=1, col=0)
        ci.addItem(self.rel_legend, row=2, col=0)
        ci.addItem(self.rel_plot, row=3, col=0)
        ci.layout.setRowStretchFactor(1, 5)
        ci.layout.setRowStretchFactor(3, 4)
        self.rel_plot.setPreferredHeight(10)   # the stretch factors decide
        self.stats_plot.setPreferredHeight(10)
        for legend in (self.stats_legend, self.rel_legend):
            legend.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)   # as wide as its items
            legend.layout.setContentsMargins(2, 0, 2, 0)
            ci.layout.setAlignment(legend, Qt.AlignLeft | Qt.AlignVCenter)
        self.rel_plot.setXLink(self.stats_plot)
        for plot in (self.stats_plot, self.rel_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.showAxis("right")
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        # the same axis widths in both plots, so that their frames line up as their x do
        fm = QFontMetricsF(font)
        side = math.ceil(fm.horizontalAdvance("-0.0000") + 2.2 * fm.height())
        for plot in (self.stats_plot, self.rel_plot):
            plot.getAxis("left").setWidth(side)
            plot.getAxis("right").setWidth(side)
        self.stats_plot.getAxis("bottom").setStyle(showValues=False)
        self.stats_plot.setLabel("left", "value")
        self.stats_plot.setLabel("right", "L2 norm")
        self.rel_plot.setLabel("left", "rel. change")
        self.rel_plot.getAxis("right").setStyle(showValues=False)

        # the norm has its own scale (right axis): a view box over the plot's own
        self.norm_box = pg.ViewBox()
        self.norm_box.setMouseEnabled(x=False, y=False)
        self.norm_box.setZValue(-10)     # behind: the plot's view box gets the mouse
        self.curves_widget.scene().addItem(self.norm_box)
        self.stats_plot.getAxis("right").linkToView(self.norm_box)
        self.norm_box.setXLink(self.stats_plot)
        self.stats_plot.getViewBox().sigResized.connect(self._sync_norm_box)

        self._band_lo = pg.PlotDataItem()
        self._band_hi = pg.PlotDataItem()
        self._band = pg.FillBetweenItem(self._band_lo, self._band_hi)
        for item in (self._band, self._band_lo, self._band_hi):
            self.stats_plot.addItem(item)
        self.curve_items = {"min": self._band_lo, "max": self._band_hi}
        for name in ("mean", "std"):
            self.curve_items[name] = self.stats_plot.plot()
        self.curve_items["norm"] = pg.PlotDataItem()
        self.norm_box.addItem(self.curve_items["norm"])
        for name in ("rel_first", "rel_prev"):
            self.curve_items[name] = self.rel_plot.plot()
        self.stats_legend.addItem(self.curve_items["mean"], "mean")
        self.stats_legend.addItem(self.curve_items["std"], "std")
        # the legend draws a sample of PlotDataItems only: the band has a stand-in, whose
        # visibility (a click on its sample) the band and its edges follow
        self._band_sample = pg.PlotDataItem(fillLevel=0)
        self._band_sample.visibleChanged.connect(self._band_toggled)
        self.stats_legend.addItem(self._band_sample, "min … max")
        self.stats_legend.addItem(self.curve_items["norm"], "L2 norm (right axis)")
        self.rel_legend.addItem(self.curve_items["rel_first"], "‖x − x₀‖ / ‖x₀‖  vs first")
        self.rel_legend.addItem(self.curve_items["rel_prev"],
                                "‖x − x_prev‖ / ‖x_prev‖  vs previous")

        self._cursor_lines = []
        for plot in (self.stats_plot, self.rel_plot):
            line = pg.InfiniteLine(angle=90, movable=False)
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self._cursor_lines.append(line)
        self.curves_widget.scene().sigMouseMoved.connect(self._hover)
        self._plot_page = NotePage(self.curves_widget, margins=24)
        lay.addWidget(self._plot_page, 1)

    def _style(self, palette: QPalette) -> None:
        text = palette.color(QPalette.Text)
        self._plot_page.note.setForegroundRole(QPalette.PlaceholderText)
        self.curves_widget.setBackground(palette.color(QPalette.Base))
        for plot in (self.stats_plot, self.rel_plot):
            style_axes(plot, palette, ("left", "bottom", "right"))
        for legend in (self.stats_legend, self.rel_legend):
            legend.setLabelTextColor(text)
            for _sample, label in legend.items:
                label.setText(label.text)     # redrawn in the new colour
        cursor = QColor(text)
        cursor.setAlpha(90)
        for line in self._cursor_lines:
            line.setPen(pg.mkPen(cursor, width=1, style=Qt.DashLine))

    def _sync_norm_box(self) -> None:
        vb = self.stats_plot.getViewBox()
        self.norm_box.setGeometry(vb.sceneBoundingRect())
        self.norm_box.linkedViewChanged(vb, self.norm_box.XAxis)

    def _band_toggled(self) -> None:
        shown = self._band_sample.isVisible()
        for item in (self._band, self._band_lo, self._band_hi):
            item.setVisible(shown)

    # -- drawing --------------------------------------------------------------------------

    def _clear(self) -> None:
        for item in self.curve_items.values():
            item.setData([], [])
        self._band.updatePath()
        for line in self._cursor_lines:
            line.hide()
        self.curves_caption.setText("")
        self.curves_readout.setText("")

    def _series(self, attr: str) -> np.ndarray:
        """One statistic per checkpoint; NaN where there is none (a gap in the curve)."""
        out = np.full(len(self._trend.points), np.nan)
        for i, p in enumerate(self._trend.points):
            v = getattr(p, attr)
            if p.problem is None and finite(v):
                out[i] = v
        return out

    def _draw(self) -> None:
        self._clear()
        t = self._trend
        if t is None or not t.points:
            return
        if not any(has_values(p) for p in t.points):
            self._plot_page.show_note(
                "No checkpoint holds values of this variable (see the Table tab)."
                if all(p.problem is not None for p in t.points) else
                "No statistics: no checkpoint holds finite values of this variable.")
            return
        xs = self._xs
        c = series_colors(is_dark(self.palette()))
        symbols = len(xs) <= MAX_SYMBOLS

        def style(item, color, width=2.0, dash=False, symbol="o"):
            pen = pg.mkPen(color, width=width)
            if dash:
                pen.setStyle(Qt.DashLine)
            opts = dict(pen=pen, connect="finite")
            if symbols and symbol:
                opts.update(symbol=symbol, symbolSize=6, symbolPen=pg.mkPen(color),
                            symbolBrush=pg.mkBrush(color))
            else:
                opts.update(symbol=None)
            item.setData(xs, ys[item], **opts)

        ys = {}
        items = self.curve_items
        for key, attr in (("mean", "mean"), ("std", "std"), ("norm", "norm"), ("min", "min"),
                          ("max", "max"), ("rel_first", "rel_change_first"),
                          ("rel_prev", "rel_change_prev")):
            ys[items[key]] = self._series(attr)
        band = QColor(c["band"])
        style(items["min"], band, width=1.0, symbol=None)
        style(items["max"], band, width=1.0, symbol=None)
        band_fill = QColor(band)
        band_fill.setAlpha(60)
        self._band.setBrush(pg.mkBrush(band_fill))
        self._band.setPen(pg.mkPen(None))   # the edges are the min and max curves; a pen
        #                                      would widen the band's bounds by half a unit
        self._band_sample.setPen(pg.mkPen(band, width=1.0))
        self._band_sample.setFillBrush(pg.mkBrush(band_fill))
        self._band.updatePath()
        style(items["mean"], c["mean"])
        style(items["std"], c["std"])
        style(items["norm"], c["norm"], dash=True, symbol="s")
        style(items["rel_first"], c["first"])
        style(items["rel_prev"], c["prev"], symbol="t")
        for plot in (self.stats_plot, self.rel_plot):
            plot.enableAutoRange()
        self.norm_box.enableAutoRange(axis=pg.ViewBox.YAxis)
        lo, hi = float(xs.min()), float(xs.max())
        self.stats_plot.setXRange(lo, hi, padding=0.03 if hi > lo else 0.5)
        self.rel_plot.setLabel("bottom", x_positions(t.points)[1])

        notes = []
        valued = [i for i, p in enumerate(t.points) if has_values(p)]
        if len(valued) < len(t.points):
            notes.append(f"{len(valued):,} of {len(t.points):,} checkpoints have values")
        other_shape = [who(t.points[i], i) for i in valued
                       if t.points[i].rel_change_first is None]
        if other_shape:
            notes.append(f"no relative change at {listing(other_shape)}: shape differs "
                         f"from the first")
        odd = [who(t.points[i], i) for i in valued
               if t.points[i].rel_change_first is not None and
               not finite(t.points[i].rel_change_first)]
        if odd:
            notes.append(f"relative change not finite at {listing(odd)} (NaN, Inf or a "
                         f"zero first checkpoint)")
        if not notes:
            notes.append(f"{len(valued):,} checkpoints · statistics of the finite values")
        self.curves_caption.setText(" · ".join(notes))
        self.curves_readout.setText(HINT)
        self._plot_page.show_content()

    # -- hover ----------------------------------------------------------------------------

    def text(self, i: int) -> str:
        """The hover readout of checkpoint `i` (run index)."""
        p = self._trend.points[i]
        if not has_values(p):
            return readout([who(p, i), f"no values ({p.problem or 'no finite values'})"])

        def num(x):
            return "—" if x is None else format_float(float(x), 4)
        items = [who(p, i), f"mean {num(p.mean)}", f"std {num(p.std)}", f"min {num(p.min)}",
                 f"max {num(p.max)}", f"norm {num(p.norm)}",
                 f"Δ first {num(p.rel_change_first)}", f"Δ prev {num(p.rel_change_prev)}"]
        return readout(items)

    def _hover(self, pos: QPointF) -> None:
        if self._trend is None or not len(self._xs):
            return
        inside = None
        for plot in (self.stats_plot, self.rel_plot):
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                inside = vb
        if inside is None:
            for line in self._cursor_lines:
                line.hide()
            self.curves_readout.setText(HINT)
            return
        x = inside.mapSceneToView(pos).x()
        i = int(np.argmin(np.abs(self._xs - x)))
        for line in self._cursor_lines:
            line.setValue(float(self._xs[i]))
            line.show()
        self.curves_readout.setText(self.text(i))
