"""One histogram per checkpoint, each scaled to its own tallest bin so that shapes compare,
offset vertically: the oldest at the back (top), the newest in front (bottom), coloured from
old to new."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout

from ..widgets.labels import SelectableLabel
from ..widgets.layout import caption_rows
from ..widgets.message import NotePage
from ..widgets.theme import is_dark, plot_widget, style_axes
from .trend_axes import RowAxis, ValueAxis
from .trend_base import TrendDisplay
from .trend_colors import mix, ridge_color
from .trend_text import bin_text, histogram_reason, label, x_positions

RIDGE_OVERLAP = 1.6     # least height of a ridge's tallest bin, in rows (they overlap above 1)
HINT = "hover for a bin"


class RidgeDisplay(TrendDisplay):
    name = "ridge"
    title = "Ridge"
    tooltip = "One histogram per checkpoint, oldest at the back"
    PRIORITY = 40
    REDRAWS_ON_PALETTE = True

    def __init__(self, font, parent=None):
        super().__init__(font, parent)
        self._items: list[tuple[int, pg.PlotDataItem, float]] = []   # (index, curve, base)
        self._norm: dict[int, np.ndarray] = {}    # run index → counts / tallest bin
        self._hovered: int | None = None
        self._height = RIDGE_OVERLAP
        self._pen_width = 1.4

    def items(self) -> list[tuple[int, pg.PlotDataItem, float]]:
        """(run index, curve, baseline) of every ridge drawn, oldest first."""
        self.refresh()
        return list(self._items)

    def ridge_height(self) -> float:
        """Height of a ridge's tallest bin, in rows."""
        self.refresh()
        return self._height

    def note(self) -> str:
        """Why nothing is drawn, or ""."""
        self.refresh()
        return self._plot_page.note_text()

    def readout(self) -> str:
        return self.ridge_readout.text()

    def bin_text(self, i: int, b: int) -> str:
        return bin_text(self._trend, i, b)

    def scene_pos(self, x: float, y: float) -> QPointF:
        """Where a pointer over (value x, row y) of the plot would be."""
        self.refresh()
        return self.ridge_plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        self.ridge_caption = SelectableLabel()
        self.ridge_readout = SelectableLabel()
        self.ridge_readout.setFont(self._mono)
        caption_rows(lay, self.ridge_caption, self.ridge_readout)
        self.row_axis = RowAxis("left")
        self.ridge_plot = plot_widget(axisItems={"left": self.row_axis,
                                                 "bottom": ValueAxis("bottom")})
        pi = self.ridge_plot.getPlotItem()
        pi.setLabel("bottom", "value")
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        pi.showGrid(x=True, y=False, alpha=0.15)
        pi.getViewBox().setMouseEnabled(x=True, y=False)
        self.ridge_plot.scene().sigMouseMoved.connect(self._hover)
        self._plot_page = NotePage(self.ridge_plot, margins=24)
        lay.addWidget(self._plot_page, 1)

    def _style(self, palette: QPalette) -> None:
        self._plot_page.note.setForegroundRole(QPalette.PlaceholderText)
        self.ridge_plot.setBackground(palette.color(QPalette.Base))
        style_axes(self.ridge_plot.getPlotItem(), palette, ("left", "bottom", "right"))

    # -- drawing --------------------------------------------------------------------------

    def _clear(self) -> None:
        pi = self.ridge_plot.getPlotItem()
        for _i, item, _b in self._items:
            pi.removeItem(item)
        self._items = []
        self._norm = {}
        self._hovered = None
        self.row_axis.set_rows([])
        self.ridge_caption.setText("")
        self.ridge_readout.setText("")

    def _draw(self) -> None:
        self._clear()
        t = self._trend
        if t is None or not t.points:
            return
        reason = histogram_reason(t)
        if reason is not None:
            self._plot_page.show_note(reason)
            return
        pi = self.ridge_plot.getPlotItem()
        palette = self.palette()
        dark = is_dark(palette)
        base_color = palette.color(QPalette.Base)
        edges = np.asarray(t.edges, dtype=np.float64)
        n = len(t.points)
        # taller ridges over more rows, so that a shape still reads when rows are thin
        self._height = min(max(RIDGE_OVERLAP, n / 10), 5.0) if n > 2 else 0.9
        self._pen_width = 1.4 if n <= 20 else 1.0
        rows = []
        for i, p in enumerate(t.points):
            base = float(n - 1 - i)          # the oldest at the top, the newest at the bottom
            rows.append((base, label(p, i)))
            if len(p.counts) != len(edges) - 1:
                continue
            counts = np.asarray(p.counts, dtype=np.float64)
            peak = counts.max() if counts.size else 0.0
            norm = counts / peak if peak > 0 else np.zeros_like(counts)
            self._norm[i] = norm
            color = ridge_color(i / max(n - 1, 1), dark)
            fill = mix(base_color, color, 0.35 if dark else 0.25)
            item = pg.PlotDataItem(edges, base + norm * self._height, stepMode="center",
                                   fillLevel=base, pen=pg.mkPen(color, width=self._pen_width),
                                   brush=pg.mkBrush(fill))
            item.setZValue(i)                # the newer, the further in front
            pi.addItem(item)
            self._items.append((i, item, base))
        self.row_axis.set_rows(rows[::-1])   # positions ascending: newest first
        pi.setLabel("left", x_positions(t.points)[1].split(" (")[0])
        span = edges[-1] - edges[0]
        pi.setXRange(edges[0], edges[-1], padding=0.02 if span > 0 else 0.5)
        pi.setYRange(-0.08, n - 1 + self._height + 0.1, padding=0)
        shown = len(self._items)
        cap = f"{shown:,} of {n:,} checkpoints" if shown != n else f"{n:,} checkpoints"
        self.ridge_caption.setText(f"{cap} · {t.bins:,} bins · each scaled to its "
                                   f"tallest bin · newest in front")
        self.ridge_readout.setText(HINT)
        self._plot_page.show_content()

    # -- hover ----------------------------------------------------------------------------

    def _hit(self, x: float, y: float) -> tuple[int, int] | None:
        """(run index, bin) under the point (x, y) of the plot: the frontmost ridge
        covering it, else the ridge whose row it is in."""
        t = self._trend
        edges = t.edges
        if not self._items or x < edges[0] or x > edges[-1]:
            return None
        b = min(max(int(np.searchsorted(edges, x, side="right")) - 1, 0), t.bins - 1)
        for i, _item, base in reversed(self._items):   # front (newest) first
            if base <= y <= base + self._norm[i][b] * self._height:
                return i, b
        below = [(i, base) for i, _item, base in self._items if base <= y < base + 1]
        return (below[0][0], b) if below else None

    def _hover(self, pos: QPointF) -> None:
        if self._trend is None or not self._items:
            return
        vb = self.ridge_plot.getPlotItem().getViewBox()
        hit = None
        if vb.sceneBoundingRect().contains(pos):
            v = vb.mapSceneToView(pos)
            hit = self._hit(v.x(), v.y())
        self._highlight(hit[0] if hit else None)
        self.ridge_readout.setText(self.bin_text(*hit) if hit else HINT)

    def _highlight(self, index: int | None) -> None:
        if index == self._hovered:
            return
        for i, item, _base in self._items:
            if i in (index, self._hovered):
                pen = pg.mkPen(item.opts["pen"])
                pen.setWidthF(3.0 if i == index else self._pen_width)
                item.setPen(pen)
        self._hovered = index
