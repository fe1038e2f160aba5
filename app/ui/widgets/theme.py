"""Plots that follow the palette (light or dark): colour maps and the styling every plot
of the panels shares, written once."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame

pg.setConfigOptions(antialias=True)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.Window).lightness() < 128


def diverging_map(palette: QPalette) -> pg.ColorMap:
    """Blue below zero, red above; the middle is light on a light palette, dark on a dark one."""
    return pg.colormap.get("CET-D4" if is_dark(palette) else "CET-D1A")


def sequential_map() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def value_colours(lo: float, hi: float, palette: QPalette) -> tuple[float, float, pg.ColorMap]:
    """The levels and colour map for values in [lo, hi]: signed values on a diverging map
    centred on zero, others on a sequential one; a single value gets a unit-wide range."""
    if lo < 0 < hi:
        m = max(-lo, hi)
        return -m, m, diverging_map(palette)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi, sequential_map()


def plot_widget(**kwargs) -> pg.PlotWidget:
    """A frameless plot without pyqtgraph's context menu and "A" button."""
    w = pg.PlotWidget(**kwargs)
    w.setMenuEnabled(False)
    w.getPlotItem().hideButtons()
    w.setFrameShape(QFrame.NoFrame)
    return w


def style_axes(plot: pg.PlotItem, palette: QPalette, sides=("left", "bottom")) -> None:
    """Axis lines in the palette's mid tone, their text in its text colour."""
    pen = pg.mkPen(palette.color(QPalette.Mid))
    text = pg.mkPen(palette.color(QPalette.Text))
    for name in sides:
        ax = plot.getAxis(name)
        ax.setPen(pen)
        ax.setTextPen(text)


def style_colour_bar(bar: pg.ColorBarItem, palette: QPalette) -> None:
    """The bar's axes like the plots'; its level handles in the text colour, the accent
    when hovered."""
    text = palette.color(QPalette.Text)
    accent = palette.color(QPalette.Highlight)
    pen = pg.mkPen(palette.color(QPalette.Mid))
    for name in ("left", "right", "top", "bottom"):
        bar.getAxis(name).setPen(pen)
        bar.getAxis(name).setTextPen(pg.mkPen(text))
    bar.region.setBrush(pg.mkBrush(QColor(0, 0, 0, 0)))
    for line in bar.region.lines:
        line.setPen(pg.mkPen(text, width=2))
        line.setHoverPen(pg.mkPen(accent, width=3))
