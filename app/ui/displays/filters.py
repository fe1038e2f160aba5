"""A convolution kernel [h, w, in, out] as one small image per output filter, for one input
channel or averaged over them. Reads at most a bounded block of the kernel."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSpinBox, \
    QStyle, QVBoxLayout, QWidget

from ..description import FILTER_KINDS, Description
from ..widgets.labels import SelectableLabel
from ..widgets.layout import SPACING
from ..widgets.theme import diverging_map, sequential_map
from .base import Display

MAX_FILTERS = 64              # filters drawn for a conv kernel
FILTER_COLUMNS = 8
FILTER_MEAN_BUDGET = 16_000_000   # elements read to average a kernel over its input channels
FILTER_MAX_SIDE = 64          # kernel sides above this are sampled with a stride


def why_no_filters(info: Description) -> str | None:
    if not info.present or info.rank != 4:
        return "Filters are drawn for rank-4 convolution kernels [h, w, in, out] only"
    if info.kind not in FILTER_KINDS:
        return f"No filter images for {info.dtype_name} kernels"
    if info.empty:
        return "The kernel is empty"
    return None


class _TileScroll(QScrollArea):
    """The scroll area of the tiles; lays them out again when its width changes."""

    def __init__(self, resized):
        super().__init__()
        self._resized = resized

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._resized()


class FiltersDisplay(Display):
    """Fits rank-4 kernels of floats, ints or bools that are not empty."""

    name = "filters"
    title = "Filters"
    tooltip = "One image per output filter of a [h, w, in, out] kernel"
    REDRAWS_ON_PALETTE = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array = None
        self._info = Description()
        self._channel = -1          # -1: the mean over the input channels
        self._channel_note = ""
        self._scale = (1, 1)
        self._images: list[tuple[QImage, str, str]] = []
        self._tiles: list[tuple[QLabel, QLabel]] = []
        self._tile_px = None

    def priority(self, info: Description) -> int:
        return 10 if info.conv_kernel else 0

    def reason(self, info: Description) -> str:
        return why_no_filters(info) or ""

    def set_tensor(self, array, info: Description) -> None:
        self._array = array
        self._info = info
        self._images = []
        if why_no_filters(info) is None:
            self._channel = -1 if array.shape[2] > 1 else 0
        self.invalidate()

    def count(self) -> int:
        """Filters drawn."""
        self.refresh()
        return len(self._images)

    def caption(self) -> str:
        self.refresh()
        return self.filters_caption.text()

    # -- the page -------------------------------------------------------------------------

    def _build(self, lay: QVBoxLayout) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Input channel"))
        self.channel_spin = QSpinBox()
        self.channel_spin.setMinimum(-1)
        self.channel_spin.setSpecialValueText("mean")
        self.channel_spin.setKeyboardTracking(False)
        self.channel_spin.setToolTip("Input channel drawn for every filter; "
                                     "the lowest value, 'mean', averages over input channels")
        self.channel_spin.valueChanged.connect(self._channel_picked)
        bar.addWidget(self.channel_spin)
        bar.addSpacing(12)
        self.filters_caption = SelectableLabel()
        self.filters_caption.setWordWrap(True)
        bar.addWidget(self.filters_caption, 1)
        lay.addLayout(bar)

        self._scroll = _TileScroll(self._relayout)
        self._scroll.setWidgetResizable(False)
        self._scroll.setFrameShape(QFrame.NoFrame)
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(8)
        self._grid.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self._scroll.setWidget(self._grid_host)
        lay.addWidget(self._scroll, 1)

    def _channel_picked(self, value: int) -> None:
        self._channel = value
        self.invalidate()

    # -- the images -----------------------------------------------------------------------

    def tiles(self) -> np.ndarray | None:
        """The normalised filter images [n, h', w'] (values in [-1, 1] or [0, 1])."""
        if why_no_filters(self._info) is not None:
            return None
        a = self._array
        h, w, n_in, n_out = a.shape
        nf = min(n_out, MAX_FILTERS)
        sh = max(1, math.ceil(h / FILTER_MAX_SIDE))
        sw = max(1, math.ceil(w / FILTER_MAX_SIDE))
        ch = self._channel
        if ch < 0:
            hh, ww = math.ceil(h / sh), math.ceil(w / sw)
            step = max(1, math.ceil(hh * ww * n_in * nf / FILTER_MEAN_BUDGET))
            block = a[::sh, ::sw, ::step, :nf]
            tiles = np.asarray(block).astype(np.float32).mean(axis=2)
            used = block.shape[2]
            self._channel_note = (f"mean over {used:,} input channels" if step == 1 else
                                  f"mean over every {step}th input channel ({used:,} of {n_in:,})")
        else:
            tiles = np.asarray(a[::sh, ::sw, ch, :nf]).astype(np.float32)
            self._channel_note = f"input channel {ch}"
        tiles = np.moveaxis(tiles, -1, 0)            # [nf, h', w']
        flat = tiles.reshape(nf, -1)
        finite = np.where(np.isfinite(flat), flat, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            if _signed(finite):
                scale = np.nanmax(np.abs(finite), axis=1, initial=0.0,
                                  where=~np.isnan(finite))
                scale[scale == 0] = 1.0
                out = finite / scale[:, None]
            else:
                lo = np.nanmin(finite, axis=1, initial=np.inf, where=~np.isnan(finite))
                hi = np.nanmax(finite, axis=1, initial=-np.inf, where=~np.isnan(finite))
                span = np.where(hi > lo, hi - lo, 1.0)
                out = (finite - lo[:, None]) / span[:, None]
        self._scale = (sh, sw)
        return out.reshape(tiles.shape)

    def _draw(self) -> None:
        self._clear_tiles()
        self._images = []
        if why_no_filters(self._info) is not None:
            self.filters_caption.setText("")
            return
        h, w, n_in, n_out = self._array.shape
        self.channel_spin.blockSignals(True)
        self.channel_spin.setRange(-1, max(0, min(n_in - 1, 2**31 - 1)))
        self.channel_spin.setSuffix(f" / {n_in - 1}")
        self.channel_spin.setValue(self._channel)
        self.channel_spin.blockSignals(False)
        tiles = self.tiles()
        signed = _signed(tiles)
        palette = self.palette()
        cmap = diverging_map(palette) if signed else sequential_map()
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
        mid = palette.color(QPalette.Mid)
        nan_rgb = np.array((mid.red(), mid.green(), mid.blue()), np.uint8)
        for k, t in enumerate(tiles):
            u = (t + 1.0) / 2.0 if signed else t
            idx = np.clip(np.nan_to_num(u, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.intp)
            rgb = lut[idx]
            rgb[np.isnan(t)] = nan_rgb
            rgb = np.ascontiguousarray(rgb)
            hgt, wid = rgb.shape[:2]
            qimg = QImage(rgb.data, wid, hgt, 3 * wid, QImage.Format_RGB888).copy()
            self._images.append((qimg, f"{k}", f"output filter {k} · {self._channel_note}"))
        shown = len(self._images)
        cap = f"{shown} of {n_out:,} output filters" if shown < n_out else \
            f"{n_out:,} output filters"
        cap += f" · {h}×{w} · {self._channel_note}"
        cap += (" · each scaled to its own max |w|: blue < 0 < red" if signed else
                " · each scaled to its own range")
        sh, sw = self._scale
        if sh > 1 or sw > 1:
            cap += f" · sampled every {sh}×{sw}"
        self.filters_caption.setText(cap)
        self._layout_tiles()

    def _tile_size(self) -> int:
        bar = self._scroll.style().pixelMetric(QStyle.PM_ScrollBarExtent)
        avail = self._scroll.width() - bar - 8
        spacing = self._grid.horizontalSpacing()
        size = (avail - spacing * (FILTER_COLUMNS - 1)) // FILTER_COLUMNS
        return int(max(40, min(size, 120)))

    def _relayout(self) -> None:
        if self._images and self._tile_size() != self._tile_px:
            self._layout_tiles()

    def _layout_tiles(self) -> None:
        self._clear_tiles()
        size = self._tile_size()
        small = QFont(self._scroll.font())
        small.setPointSizeF(max(small.pointSizeF() * 0.85, 7.0))
        for k, (qimg, label, tip) in enumerate(self._images):
            pix = QPixmap.fromImage(qimg).scaled(QSize(size, size), Qt.KeepAspectRatio,
                                                 Qt.FastTransformation)
            tile = QLabel(self._grid_host)
            tile.setPixmap(pix)
            tile.setFixedSize(size, size)
            tile.setAlignment(Qt.AlignCenter)
            tile.setToolTip(tip)
            cap = QLabel(label, self._grid_host)
            cap.setFont(small)
            cap.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
            cap.setForegroundRole(QPalette.PlaceholderText)
            r, c = divmod(k, FILTER_COLUMNS)
            self._grid.addWidget(tile, 2 * r, c)
            self._grid.addWidget(cap, 2 * r + 1, c)
            tile.show()     # now, not queued: the size hint below must count them
            cap.show()
            self._tiles.append((tile, cap))
        self._tile_px = size
        self._grid_host.resize(self._grid.sizeHint())

    def _clear_tiles(self) -> None:
        for tile, cap in self._tiles:
            self._grid.removeWidget(tile)
            self._grid.removeWidget(cap)
            tile.hide()     # now: deletion waits for the event loop
            cap.hide()
            tile.deleteLater()
            cap.deleteLater()
        self._tiles = []


def _signed(values: np.ndarray) -> bool:
    """Any value below zero (NaN ignored)."""
    with np.errstate(invalid="ignore"):
        return bool(np.nanmin(values, initial=0.0, where=~np.isnan(values)) < 0)
