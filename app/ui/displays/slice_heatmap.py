"""The current 2-D slice of a tensor as an image, sampled with a stride when larger than
the screen could show: the same slice the table shows, taken from the array itself."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QVBoxLayout

from ..array_model import digits_for, format_value
from ..description import Description
from ..slicing import element_index, slice_2d
from ..widgets.heatmap import Heatmap
from ..widgets.labels import SelectableLabel
from ..widgets.theme import value_colours
from .base import Display

HEATMAP_MAX = 1024            # heatmap pixels per side; larger slices are sampled with a stride


def real_sample(view: np.ndarray, kind: str) -> np.ndarray:
    """A bounded (already small) view as a float array for drawing; complex → |x|."""
    if kind == "complex":
        return np.abs(np.asarray(view)).astype(np.float64)
    if kind == "int" and view.dtype.itemsize >= 8:
        return np.asarray(view).astype(np.float64)
    return np.asarray(view).astype(np.float32)


def finite_range(x: np.ndarray) -> tuple[float, float] | None:
    ok = np.isfinite(x)
    if not ok.any():
        return None
    xs = x[ok] if not ok.all() else x
    return float(xs.min()), float(xs.max())


def sampled(view2d: np.ndarray, limit: int = HEATMAP_MAX) -> tuple[np.ndarray, int, int]:
    """A strided view of at most `limit` × `limit` elements, and its strides in elements."""
    rows, cols = view2d.shape
    sr = max(1, math.ceil(rows / limit))
    sc = max(1, math.ceil(cols / limit))
    return view2d[::sr, ::sc], sr, sc


def why_no_heatmap(info: Description) -> str | None:
    if not info.present:
        return "No tensor"
    if not info.numeric:
        return f"No heatmap for {info.dtype_name} tensors: the values are not numbers"
    if info.rank < 2:
        return "No heatmap: the tensor has fewer than two axes (see the table)"
    if info.empty:
        return "No heatmap: the tensor is empty"
    return None


class SliceHeatmapDisplay(Display):
    """Fits numeric tensors of rank ≥ 2 that are not empty."""

    name = "heatmap"
    title = "Heatmap"
    tooltip = "The current 2-D slice as an image"
    REDRAWS_ON_PALETTE = True      # the diverging map has a light and a dark middle

    def __init__(self, font, parent=None):
        super().__init__(parent)
        self._mono = font
        self._array = None
        self._info = Description()
        self._axes = (0, 1)
        self._indices: tuple[int, ...] = ()
        self._drawn = False
        self._slice_shape = (0, 0)

    def priority(self, info: Description) -> int:
        return 20 if info.has_slices else 0

    def reason(self, info: Description) -> str:
        return why_no_heatmap(info) or ""

    def set_tensor(self, array, info: Description) -> None:
        self._array = array
        self._info = info
        self.invalidate()

    def set_slice(self, axes: tuple[int, int], indices) -> None:
        """Draw the slice with rows along axes[0], columns along axes[1], every other axis
        held at its entry of `indices`."""
        self._axes = tuple(axes)
        self._indices = tuple(indices)
        self.invalidate()

    def image(self) -> np.ndarray | None:
        """The image drawn for the current slice (sampled), None when there is none."""
        self.refresh()
        return self.heatmap.image() if self._drawn else None

    def caption(self) -> str:
        self.refresh()
        return self.heat_caption.text()

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(12)
        self.heat_caption = SelectableLabel()
        bar.addWidget(self.heat_caption, 0)
        self.heat_readout = SelectableLabel()
        self.heat_readout.setFont(self._mono)
        self.heat_readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.heat_readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        bar.addWidget(self.heat_readout, 1)
        lay.addLayout(bar)
        self.heatmap = Heatmap(keep_aspect=True)
        self.heatmap.plot.setLabel("left", "row")
        self.heatmap.plot.setLabel("bottom", "column")
        self.heatmap.hovered.connect(self._hover)
        lay.addWidget(self.heatmap, 1)

    def _style(self, palette: QPalette) -> None:
        self.heatmap.apply_palette(palette)

    def _draw(self) -> None:
        self._drawn = False
        reason = why_no_heatmap(self._info)
        if reason is not None:
            self.heatmap.clear()
            self.heatmap.show_note(reason)
            self.heat_caption.setText("")
            self.heat_readout.setText("")
            return
        r, c = self._axes
        view = slice_2d(self._array, r, c, self._indices)
        sub, sr, sc = sampled(view)
        img = real_sample(sub, self._info.kind)
        rows, cols = view.shape
        self._slice_shape = (rows, cols)
        rng = finite_range(img)
        lo, hi = rng if rng is not None else (0.0, 1.0)
        lo, hi, cmap = value_colours(lo, hi, self.palette())
        if not np.isfinite(img).all():
            img = np.where(np.isposinf(img), hi, np.where(np.isneginf(img), lo, img))
        hm = self.heatmap
        hm.set_image(img, QRectF(0, 0, cols, rows), (lo, hi), cmap)
        hm.fit_aspect()             # no pan limits: a bounded aspect may leave blank sides
        self._drawn = True
        rank = self._info.rank
        cap = f"rows: axis {r} ({rows:,}) · columns: axis {c} ({cols:,})"
        if rank > 2:
            others = ", ".join(f"axis {ax} = {self._indices[ax]}" for ax in range(rank)
                               if ax not in (r, c))
            cap += f" · {others}"
        if sr > 1 or sc > 1:
            cap += f" · sampled every {sr}×{sc}"
        if np.isnan(img).any():
            cap += " · NaN left blank"
        self.heat_caption.setText(cap)
        self.heat_readout.setText("")

    def _hover(self, p: QPointF | None) -> None:
        if not self._drawn:
            return
        rows, cols = self._slice_shape
        r, c = (-1, -1) if p is None else (int(math.floor(p.y())), int(math.floor(p.x())))
        if not (0 <= r < rows and 0 <= c < cols):
            self.heat_readout.setText("")
            return
        idx = element_index(self._info.rank, *self._axes, self._indices, r, c)
        v = self._array[idx]
        where = "[" + ", ".join(map(str, idx)) + "]"
        text = format_value(v, self._info.kind, digits_for(self._info.dtype_name))
        self.heat_readout.setText(f"{where} = {text}")
