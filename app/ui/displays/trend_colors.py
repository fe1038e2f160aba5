"""Colours of the trend plots, readable on a light or a dark palette."""

from __future__ import annotations

from PySide6.QtGui import QColor

from ..widgets.theme import sequential_map


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """a·(1 − t) + b·t, opaque."""
    return QColor(round(a.red() * (1 - t) + b.red() * t),
                  round(a.green() * (1 - t) + b.green() * t),
                  round(a.blue() * (1 - t) + b.blue() * t))


def series_colors(dark: bool) -> dict[str, QColor]:
    """Distinct colours of the curves, readable on the palette's base colour."""
    names = ("mean", "std", "norm", "band", "first", "prev")
    light = ("#1f6fb4", "#d9730d", "#2e8b3d", "#8a96a3", "#7b3fa8", "#c8412f")
    darks = ("#6cb4ff", "#ffab4a", "#72d48a", "#9aa6b2", "#c99bf0", "#ff7f6e")
    return {n: QColor(c) for n, c in zip(names, darks if dark else light)}


def ridge_color(t: float, dark: bool) -> QColor:
    """Colour of the ridge at position t in the run (0 oldest, 1 newest): the newest stands
    out most against the background, the oldest recedes into it."""
    u = 0.2 + 0.78 * t if dark else 0.82 - 0.8 * t
    return sequential_map().mapToQColor(u)
