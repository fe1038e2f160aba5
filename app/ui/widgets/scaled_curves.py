"""Curves against step where series of different scales each get an axis of their own
(accuracy on one, a loss on another), with the legend in a row above the plot, never over
the lines, and a button that opens the same plot in a window of its own.

Series share an axis only when each still spans a good part of it (`scale_groups`). The
first group is drawn on the left axis and the second on the right one; more groups get
plots of their own below, their step axes linked."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QSizePolicy, QStyle, QToolButton, QVBoxLayout, QWidget

from .theme import style_axes

SHARE = 0.5           # a series shares an axis when it spans at least half of it
MAX_STEP_TICKS = 12   # up to this many steps, each gets its own tick
MIN_PLOT_HEIGHT = 120


def scale_groups(ranges: list[tuple[float, float]], share: float = SHARE) -> list[list[int]]:
    """Group series (given by their (min, max)) for shared axes, in order of first
    appearance: a series joins the first group where it and every member would still span
    at least `share` of the group's range; a constant series joins a group whose range
    holds its value."""
    groups: list[list[int]] = []
    for i, (lo, hi) in enumerate(ranges):
        for group in groups:
            members = [ranges[k] for k in group]
            g_lo = min(r[0] for r in members)
            g_hi = max(r[1] for r in members)
            u_lo, u_hi = min(g_lo, lo), max(g_hi, hi)
            span = u_hi - u_lo
            if span <= 0:                          # all constant and equal
                joined = True
            elif hi - lo <= 0:                     # a constant inside the group's range
                joined = g_lo <= lo <= g_hi and g_hi > g_lo
            else:
                joined = all((r[1] - r[0]) >= share * span or r[1] == r[0] and u_lo <= r[0] <= u_hi
                             for r in members + [(lo, hi)])
            if joined:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


class ScaledCurves(QWidget):
    """`set_series([(name, xs, ys, colour), …])` draws them; `axes()` says which series
    each axis carries; `pop_out()` opens a copy in a window of its own."""

    def __init__(self, x_label: str = "step", parent=None):
        super().__init__(parent)
        self.x_label = x_label
        self.series: list[tuple] = []
        self.windows: list[ScaledCurves] = []
        self._axes: list[tuple[int, str, list[str]]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setFrameShape(QFrame.NoFrame)
        self.canvas.setMinimumHeight(MIN_PLOT_HEIGHT)
        lay.addWidget(self.canvas)
        self.pop_button = QToolButton(self.canvas)
        self.pop_button.setIcon(self.style().standardIcon(QStyle.SP_TitleBarNormalButton))
        self.pop_button.setToolTip("Open this plot in a window of its own")
        self.pop_button.setAutoRaise(True)
        self.pop_button.clicked.connect(self.pop_out)
        self._boxes: list[pg.ViewBox] = []

    # -- drawing --------------------------------------------------------------------------

    def set_series(self, series: list[tuple]) -> None:
        self.series = list(series)
        ci = self.canvas.ci
        ci.clear()
        for box in self._boxes:
            self.canvas.scene().removeItem(box)
        self._boxes = []
        self._axes = []
        pal = self.palette()
        self.canvas.setBackground(pal.color(QPalette.Base))
        drawn = [s for s in self.series if len(s[1])]
        if not drawn:
            return
        ranges = []
        for _n, _xs, ys, _c in drawn:
            finite = [y for y in ys if y is not None and math.isfinite(y)]
            ranges.append((min(finite), max(finite)) if finite else (0.0, 0.0))
        groups = scale_groups(ranges)
        legend = pg.LegendItem(colCount=max(1, min(4, len(drawn))), horSpacing=16,
                               labelTextColor=pal.color(QPalette.Text))
        legend.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        ci.addItem(legend, row=0, col=0)
        ci.layout.setAlignment(legend, Qt.AlignLeft | Qt.AlignVCenter)
        steps = sorted({x for _n, xs, _y, _c in drawn for x in xs})
        first = None
        plots = []
        for p in range((len(groups) + 1) // 2):
            plot = pg.PlotItem()
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.showGrid(x=True, y=True, alpha=0.2)
            style_axes(plot, pal, ("left", "bottom", "right"))
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            ci.addItem(plot, row=1 + p, col=0)
            plots.append(plot)
            for side, g in (("left", 2 * p), ("right", 2 * p + 1)):
                if g >= len(groups):
                    continue
                if side == "left":
                    box = plot.getViewBox()
                else:
                    plot.showAxis("right")
                    box = pg.ViewBox()
                    box.setMouseEnabled(x=False, y=False)
                    self.canvas.scene().addItem(box)
                    plot.getAxis("right").linkToView(box)
                    box.setXLink(plot)
                    plot.getViewBox().sigResized.connect(
                        lambda _v=None, b=box, pl=plot: b.setGeometry(pl.getViewBox().sceneBoundingRect()))
                    self._boxes.append(box)
                names = []
                for k in groups[g]:
                    name, xs, ys, colour = drawn[k]
                    item = pg.PlotDataItem(list(xs), [math.nan if y is None else y for y in ys],
                                           pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                           symbolBrush=colour, symbolPen=None, connect="finite")
                    box.addItem(item)
                    # two axes are told apart by their labels' colours and names
                    label = name if len(groups) <= 2 else f"{name} (plot {p + 1}, {side})"
                    legend.addItem(item, label)
                    names.append(name)
                axis = plot.getAxis(side)
                axis.enableAutoSIPrefix(False)       # "×0.001" on an accuracy axis misleads
                colour = drawn[groups[g][0]][3] if len(groups[g]) == 1 else pal.color(QPalette.Text)
                axis.setLabel(", ".join(names), color=pg.mkColor(colour).name()
                              if not isinstance(colour, str) else colour)
                self._axes.append((p, side, names))
            plot.getAxis("bottom").setStyle(showValues=p == (len(groups) + 1) // 2 - 1)
        plots[-1].setLabel("bottom", self.x_label)
        ticks = [[(x, f"{x:g}") for x in steps]] if len(steps) <= MAX_STEP_TICKS else None
        for plot in plots:
            plot.getAxis("bottom").setTicks(ticks)
            plot.getViewBox().sigResized.emit(plot.getViewBox())
        for box in self._boxes:
            box.enableAutoRange(axis=pg.ViewBox.YAxis)
        self._place_button()

    def axes(self) -> list[tuple[int, str, list[str]]]:
        """(plot index, "left" or "right", the series names) of every axis drawn."""
        return list(self._axes)

    # -- a window of its own -----------------------------------------------------------------

    def pop_out(self) -> "ScaledCurves":
        window = ScaledCurves(self.x_label)
        window.setWindowTitle(self.window().windowTitle() if self.isWindow() else
                              ", ".join(s[0] for s in self.series) or "Plot")
        window.resize(820, 520)
        window.set_series(self.series)
        window.show()
        self.windows = [w for w in self.windows if w.isVisible()] + [window]
        return window

    def _place_button(self) -> None:
        b = self.pop_button
        b.adjustSize()
        b.move(self.canvas.width() - b.width() - 2, 2)
        b.raise_()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._place_button()
