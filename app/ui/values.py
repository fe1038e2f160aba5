"""The value panel of one tensor: a header, a statistics line, and the displays that fit
the tensor as tabs — the values as a table, their histogram, a heatmap of the current 2-D
slice and, for convolution kernels, the filters as small images (app.ui.displays).

The arrays handed in may be read-only memory-mapped views of tensors larger than memory.
Nothing here touches every element: the table formats visible cells only, the heatmap reads
a strided sample of one 2-D slice, the filters at most a bounded block of the kernel, and
statistics and histograms arrive ready-made (`show_stats`) from a worker owned by others.
Only the display on screen draws; the others draw when their tab is first shown again.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGridLayout

from ..formats.display import human_bytes, shape_text
from .array_model import SPECIAL_COLOR, format_float
from .description import Description
from .displays.filters import FiltersDisplay
from .displays.histogram import HistogramDisplay
from .displays.slice_heatmap import SliceHeatmapDisplay
from .displays.tabs import DisplayHost, DisplayTabs
from .displays.value_table import TableDisplay
from .widgets.labels import SelectableLabel, blend_title_field, fixed_font, html_escape, title_field
from .widgets.layout import MARGIN
from .widgets.message import MessagePanel


class ValueView(DisplayHost, MessagePanel):
    """Values of one tensor.

    show_tensor(title, dtype_name, shape, array)  header and the displays that fit
    show_stats(stats)       statistics line and histogram (later, from a worker)
    show_message(text)      a centred message instead of the values
    clear()                 back to the empty state
    binsChanged(int)        the user asked for another number of bins: recompute, show_stats
    displays()              names of the displays offered (enabled tabs), in tab order
    display(name)           one display: "table", "histogram", "heatmap", "filters"
    """

    binsChanged = Signal(int)
    statsRetry = Signal()          # the user asks again for statistics that were cancelled

    EMPTY_TEXT = "Select a tensor to see its values."

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._info = Description()
        self._shape: tuple = ()
        self._stats = None
        self._mono = fixed_font()

        self._table = TableDisplay(self._mono, self)
        self._histogram = HistogramDisplay(self._mono, self)
        self._heatmap = SliceHeatmapDisplay(self._mono, self)
        self._filters = FiltersDisplay(self)
        self._table.slice_changed.connect(self._slice_changed)
        self._histogram.bins_changed.connect(self.binsChanged)

        lay = self._build_pages()
        lay.addLayout(self._build_header())
        self._stats_label = SelectableLabel()
        self._stats_label.setWordWrap(True)
        self._stats_label.setTextFormat(Qt.RichText)
        self._stats_label.setTextInteractionFlags(self._stats_label.textInteractionFlags()
                                                  | Qt.LinksAccessibleByMouse)
        self._stats_label.linkActivated.connect(lambda _link: self.statsRetry.emit())
        lay.addWidget(self._stats_label)

        self.tabs = DisplayTabs([self._table, self._histogram, self._heatmap, self._filters])
        lay.addWidget(self.tabs, 1)

        self.apply_palette()
        self.clear()

    # ------------------------------------------------------------------ header

    def _build_header(self) -> QGridLayout:
        """Name, then dtype · shape · size on the same line; below the name when they do not
        both fit (see _place_details)."""
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self._name = title_field()
        grid.addWidget(self._name, 0, 0)
        self._details = SelectableLabel()
        self._details.setFont(self._mono)
        self._details.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self._details.setMinimumWidth(80)     # cut in a narrow panel, not widening its minimum
        grid.addWidget(self._details, 0, 1)
        self._header = grid
        self._details_below = False
        return grid

    def _place_details(self) -> None:
        """Details beside the name when both fit the width, otherwise on a line of their own."""
        name_w = self._name.fontMetrics().horizontalAdvance(self._name.text()) + 16
        need = name_w + self._header.horizontalSpacing() + self._details.sizeHint().width()
        below = need > self.width() - 2 * MARGIN
        if below == self._details_below:
            return
        self._details_below = below
        self._header.removeWidget(self._details)
        if below:
            self._header.addWidget(self._details, 1, 0)
            self._details.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        else:
            self._header.addWidget(self._details, 0, 1)
            self._details.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

    # ------------------------------------------------------------------ public API

    def show_tensor(self, title: str, dtype_name: str, shape: tuple, array: np.ndarray) -> None:
        """Show a tensor's values: header and the displays that fit it now; statistics and
        the histogram wait for show_stats(). `array` is kept by reference, never copied."""
        if array is not None and not isinstance(array, np.ndarray):
            array = np.asarray(array)
        self._array = array
        self._info = info = Description.of(array, dtype_name)
        self._shape = tuple(shape) if shape is not None else \
            (array.shape if array is not None else ())
        self._stats = None

        self._name.setText(title)
        self._name.setCursorPosition(0)
        self._name.setToolTip(title)
        self._details.setText(self._details_text())
        self._place_details()
        self._stats_label.setText(self._stats_placeholder())

        with self.tabs.holding():
            self._histogram.set_tensor(info)
            self._heatmap.set_tensor(array, info)
            self._filters.set_tensor(array, info)
            self._table.set_tensor(array, info)     # → _slice_changed: the heatmap's slice
            self.tabs.offer(info)
        self._show_content()

    def show_stats(self, stats) -> None:
        """Fill the statistics line and the histogram from an app.analysis.stats.Stats."""
        self._stats = stats
        self._stats_label.setText(self._stats_text(stats))
        self._histogram.set_stats(stats)

    def show_logged(self, logged) -> None:
        """The run's logged histogram of this variable (app.analysis.logged), drawn over
        the values' own histogram; None: none."""
        self._histogram.set_logged(logged)

    def stats_stopped(self, why: str) -> None:
        """The statistics of the tensor shown will not come (cancelled): the line and the
        histogram say `why`, with a link that asks for them again (`statsRetry`)."""
        self._stats = None
        dim = self._dim()
        self._stats_label.setText(f"<span style='color:{dim}'>{html_escape(why)}</span> — "
                                  "<a href='retry'>Retry</a>")
        self._histogram.stop(f"{why}.")

    def clear(self) -> None:
        self._array = None
        self._stats = None
        self._shape = ()
        self._info = info = Description()
        self._name.clear()
        self._details.clear()
        self._stats_label.clear()
        with self.tabs.holding():
            self._histogram.set_tensor(info)
            self._heatmap.set_tensor(None, info)
            self._filters.set_tensor(None, info)
            self._table.set_tensor(None, info)
        self.show_message(self.EMPTY_TEXT)

    def snapshot(self) -> tuple:
        """What is shown — (title, dtype name, shape, array, statistics) — for another view
        to show the same (a window of its own); None when no tensor is shown."""
        if self._array is None:
            return None
        return (self._name.text(), self._info.dtype_name, self._shape, self._array, self._stats)

    def bins(self) -> int:
        return self._histogram.bins()

    def array(self) -> np.ndarray | None:
        return self._array

    def set_axes(self, row_axis: int, col_axis: int) -> None:
        """Show `row_axis` as rows and `col_axis` as columns of the table and heatmap."""
        self._table.set_axes(row_axis, col_axis)

    def set_index(self, axis: int, i: int) -> None:
        """Hold `axis` (one not shown as rows/columns) at index `i`."""
        self._table.set_index(axis, i)

    def details_text(self) -> str:
        """The header's dtype · shape · size line."""
        return self._details.text()

    def stats_text(self) -> str:
        """The statistics line (rich text)."""
        return self._stats_label.text()

    def _slice_changed(self) -> None:
        model = self._table.model
        self._heatmap.set_slice(model.axes(), model.indices())

    # ------------------------------------------------------------------ header & stats

    def _details_text(self) -> str:
        info = self._info
        parts = [info.dtype_name or "?", shape_text(self._shape) if self._shape else "scalar"]
        size = int(np.prod(self._shape, dtype=np.int64)) if self._shape else 1
        parts.append(f"{size:,} element{'s' if size != 1 else ''}")
        a = self._array
        if a is not None and info.kind != "string" and a.dtype.kind != "O":
            parts.append(human_bytes(size * a.dtype.itemsize))
        return "  ·  ".join(parts)

    def _dim(self) -> str:
        return self.palette().color(QPalette.PlaceholderText).name()

    def _stats_placeholder(self) -> str:
        dim = self._dim()
        if self._info.kind in ("string", "other"):
            return (f"<span style='color:{dim}'>No statistics for {self._info.dtype_name} "
                    f"tensors.</span>")
        return f"<span style='color:{dim}'>Computing statistics…</span>"

    def _stats_text(self, s) -> str:
        if s is None:
            return self._stats_placeholder()
        dim = self._dim()
        family = html_escape(self._mono.family())
        special = SPECIAL_COLOR.name()

        def item(label, value, alert=False):
            style = f"font-family:'{family}'"
            if alert:
                style += f";color:{special};font-weight:bold"
            return (f"<span style='color:{dim}'>{label}</span>&nbsp;"
                    f"<span style=\"{style}\">{html_escape(value).replace(' ', '&nbsp;')}</span>")

        def num(x):
            return "—" if x is None else format_float(float(x), 6)

        pct = (lambda n: f" ({100.0 * n / s.size:.3g}%)" if s.size and n else "")
        items = [
            item("min", num(s.min)), item("max", num(s.max)), item("mean", num(s.mean)),
            item("std", num(s.std)), item("L2 norm", num(s.norm)),
            item("zeros", f"{s.zeros:,}{pct(s.zeros)}"),
            item("NaN", f"{s.nan:,}{pct(s.nan)}", alert=bool(s.nan)),
            item("Inf", f"{s.inf:,}{pct(s.inf)}", alert=bool(s.inf)),
        ]
        text = "&nbsp;&nbsp;&nbsp; ".join(items)   # wraps between items, never inside
        if getattr(s, "of_magnitude", False):
            text = f"<span style='color:{dim}'>of |x|:</span>&nbsp;&nbsp;&nbsp; " + text
        return text

    # ------------------------------------------------------------------ look

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._place_details()

    def apply_palette(self) -> None:
        super().apply_palette()
        pal = self.palette()
        blend_title_field(self._name, pal)
        self.tabs.apply_palette(pal)
        if self._array is not None:
            self._stats_label.setText(self._stats_text(self._stats))
