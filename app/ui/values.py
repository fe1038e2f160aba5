"""The value panel of one tensor: a header, a statistics line, and tabs with the values as a
table, their histogram, a heatmap of the current 2-D slice and, for convolution kernels, the
filters as small images.

The arrays handed in may be read-only memory-mapped views of tensors larger than memory.
Nothing here touches every element: the table formats visible cells only, the heatmap reads
a strided sample of one 2-D slice, the filters at most a bounded block of the kernel, and
statistics and histograms arrive ready-made (`show_stats`) from a worker owned by others.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QImage, QKeySequence, \
    QPalette, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QComboBox, QFrame, QGridLayout, \
    QHBoxLayout, QHeaderView, QLabel, QLineEdit, QScrollArea, QSizePolicy, QSpinBox, \
    QStackedWidget, QTableView, QTabWidget, QVBoxLayout, QWidget

from ..analysis.stats import DEFAULT_BINS
from ..formats import dtypes
from ..formats.display import human_bytes, shape_text
from .array_model import MAX_SECTIONS, SPECIAL_COLOR, ArrayTableModel, exact_text, format_float, \
    format_value, kind_of

pg.setConfigOptions(antialias=True)

HEATMAP_MAX = 1024            # heatmap pixels per side; larger slices are sampled with a stride
MAX_FILTERS = 64              # filters drawn for a conv kernel
FILTER_COLUMNS = 8
FILTER_MEAN_BUDGET = 16_000_000   # elements read to average a kernel over its input channels
FILTER_MAX_SIDE = 64          # kernel sides above this are sampled with a stride
MAX_BINS = 10_000
COPY_LIMIT = 1_000_000        # cells copied to the clipboard at most

MARGIN = 10
SPACING = 6

TAB_TABLE, TAB_HISTOGRAM, TAB_HEATMAP, TAB_FILTERS = range(4)


# --------------------------------------------------------------------------- helpers

def fixed_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    font.setStyleHint(QFont.Monospace)
    return font


def title_field() -> QLineEdit:
    """A panel's title line: bold, a little larger, frameless, selectable for copying."""
    field = QLineEdit()
    field.setReadOnly(True)
    field.setFrame(False)
    field.setTextMargins(0, 0, 0, 0)
    font = field.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    field.setFont(font)
    field.setFocusPolicy(Qt.ClickFocus)
    field.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
    field.setMinimumWidth(80)
    return field


def bins_spin_box(tooltip: str) -> QSpinBox:
    """The number of histogram bins: changes only when the user commits one (no
    recomputation per keystroke)."""
    spin = QSpinBox()
    spin.setRange(1, MAX_BINS)
    spin.setValue(DEFAULT_BINS)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    spin.setToolTip(tooltip)
    return spin


def plot_widget(**kwargs) -> pg.PlotWidget:
    """A frameless plot without pyqtgraph's context menu and "A" button."""
    w = pg.PlotWidget(**kwargs)
    w.setMenuEnabled(False)
    w.getPlotItem().hideButtons()
    w.setFrameShape(QFrame.NoFrame)
    return w


def tab_page() -> tuple[QWidget, QVBoxLayout]:
    """A tab's page and its layout, spaced like every other tab of the value panels."""
    page = QWidget()
    lay = QVBoxLayout(page)
    lay.setContentsMargins(0, SPACING, 0, 0)
    lay.setSpacing(SPACING)
    return page, lay


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.Window).lightness() < 128


def diverging_map(palette: QPalette) -> pg.ColorMap:
    """Blue below zero, red above; the middle is light on a light palette, dark on a dark one."""
    return pg.colormap.get("CET-D4" if is_dark(palette) else "CET-D1A")


def sequential_map() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


class Label(QLabel):
    """A label whose text can be selected and copied."""

    def __init__(self, text: str = "", parent=None, selectable: bool = True):
        super().__init__(text, parent)
        if selectable:
            self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)


class _ArrayTable(QTableView):
    """QTableView that copies the selected cells (exact values, tab separated)."""

    def keyPressEvent(self, event):
        if event.matches(QKeySequence.Copy):
            self.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def copy_selection(self) -> str:
        model = self.model()
        sel = self.selectionModel()
        if not isinstance(model, ArrayTableModel) or sel is None or not sel.hasSelection():
            return ""
        ranges = sel.selection()
        cells = sum(r.height() * r.width() for r in ranges)
        if cells > COPY_LIMIT:
            return ""
        top = min(r.top() for r in ranges)
        left = min(r.left() for r in ranges)
        bottom = max(r.bottom() for r in ranges)
        right = max(r.right() for r in ranges)
        lines = []
        for row in range(top, bottom + 1):
            out = []
            for col in range(left, right + 1):
                idx = model.index(row, col)
                if sel.isSelected(idx):
                    v = model.value(row, col)
                    out.append(exact_text(v, model.kind()) if model.kind() != "string"
                               else model.data(idx))
                else:
                    out.append("")
            lines.append("\t".join(out))
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text


# --------------------------------------------------------------------------- the panel

class MessagePanel(QWidget):
    """A panel whose content gives way to a centred message (nothing chosen, computing,
    an error). Subclasses set EMPTY_TEXT and lay their content out in `_build_pages()`."""

    EMPTY_TEXT = ""

    def _build_pages(self) -> QVBoxLayout:
        """The message page and the content page; returns the content's layout."""
        self._stack = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)

        self._message = QLabel(self.EMPTY_TEXT)
        self._message.setAlignment(Qt.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._message.setContentsMargins(24, 24, 24, 24)
        mfont = self._message.font()
        mfont.setPointSizeF(mfont.pointSizeF() * 1.1)
        self._message.setFont(mfont)
        self._stack.addWidget(self._message)

        self._content = QWidget()
        self._stack.addWidget(self._content)
        lay = QVBoxLayout(self._content)
        lay.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        lay.setSpacing(SPACING)
        return lay

    def show_message(self, text: str) -> None:
        """A centred message in place of the content."""
        self._message.setText(text)
        self._stack.setCurrentWidget(self._message)


class ValueView(MessagePanel):
    """Values of one tensor.

    show_tensor(title, dtype_name, shape, array)  header, table and heatmap at once
    show_stats(stats)       statistics line and histogram (later, from a worker)
    show_message(text)      a centred message instead of the values
    clear()                 back to the empty state
    binsChanged(int)        the user asked for another number of bins: recompute, show_stats
    """

    binsChanged = Signal(int)

    EMPTY_TEXT = "Select a tensor to see its values."

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._dtype_name = ""
        self._kind = "other"
        self._shape: tuple = ()
        self._stats = None
        self._filters_dirty = False
        self._heat_dirty = False   # the heatmap is drawn when its tab is shown, not before
        self._heat_info: tuple | None = None   # (sampled image, sr, sc) of the drawn slice
        self._filter_images: list[tuple[QImage, str, str]] = []
        self._index_spins: dict[int, QSpinBox] = {}
        self._applying_palette = False
        self._mono = fixed_font()

        self.model = ArrayTableModel(self)

        lay = self._build_pages()

        lay.addLayout(self._build_header())
        self._stats_label = Label()
        self._stats_label.setWordWrap(True)
        self._stats_label.setTextFormat(Qt.RichText)
        lay.addWidget(self._stats_label)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_table_tab(), "Table")
        self.tabs.addTab(self._build_histogram_tab(), "Histogram")
        self.tabs.addTab(self._build_heatmap_tab(), "Heatmap")
        self.tabs.addTab(self._build_filters_tab(), "Filters")
        self.tabs.currentChanged.connect(self._tab_changed)
        lay.addWidget(self.tabs, 1)

        self._apply_palette()
        self.clear()

    # ------------------------------------------------------------------ construction

    def _build_header(self) -> QGridLayout:
        """Name, then dtype · shape · size on the same line; below the name when they do not
        both fit (see _place_details)."""
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self._name = title_field()
        grid.addWidget(self._name, 0, 0)
        self._details = Label()
        self._details.setFont(self._mono)
        self._details.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
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

    def _build_table_tab(self) -> QWidget:
        page, lay = tab_page()

        self._axis_bar = QWidget()
        bar = QHBoxLayout(self._axis_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Rows"))
        self.row_axis_combo = QComboBox()
        self.row_axis_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        bar.addWidget(self.row_axis_combo)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Columns"))
        self.col_axis_combo = QComboBox()
        self.col_axis_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        bar.addWidget(self.col_axis_combo)
        bar.addSpacing(16)
        self._index_box = QHBoxLayout()
        self._index_box.setSpacing(SPACING)
        bar.addLayout(self._index_box)
        bar.addStretch(1)
        self.row_axis_combo.activated.connect(lambda i: self._axes_picked("row"))
        self.col_axis_combo.activated.connect(lambda i: self._axes_picked("col"))
        lay.addWidget(self._axis_bar)

        # only for axes longer than the view can lay out
        self._window_bar = QWidget()
        wb = QHBoxLayout(self._window_bar)
        wb.setContentsMargins(0, 0, 0, 0)
        wb.setSpacing(SPACING)
        self._window_label = QLabel()
        wb.addWidget(self._window_label)
        self._first_row_label = QLabel("first row")
        wb.addWidget(self._first_row_label)
        self.first_row_spin = QSpinBox()
        self.first_row_spin.setKeyboardTracking(False)
        self.first_row_spin.setGroupSeparatorShown(True)
        wb.addWidget(self.first_row_spin)
        self._first_col_label = QLabel("first column")
        wb.addWidget(self._first_col_label)
        self.first_col_spin = QSpinBox()
        self.first_col_spin.setKeyboardTracking(False)
        self.first_col_spin.setGroupSeparatorShown(True)
        wb.addWidget(self.first_col_spin)
        wb.addStretch(1)
        self.first_row_spin.valueChanged.connect(self._window_moved)
        self.first_col_spin.valueChanged.connect(self._window_moved)
        lay.addWidget(self._window_bar)

        self.table = _ArrayTable()
        self.table.setModel(self.model)
        self.table.setFont(self._mono)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideRight)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        vh.setDefaultAlignment(Qt.AlignRight | Qt.AlignVCenter)
        vh.setMinimumWidth(self.table.fontMetrics().horizontalAdvance("0000") + 14)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setDefaultAlignment(Qt.AlignCenter)
        hh.setHighlightSections(False)
        vh.setHighlightSections(False)
        # Headers size themselves from sampled sections; Qt's default samples 1000 of
        # them per reset (4000 Python calls for a 4096-wide slice): a few suffice.
        hh.setResizeContentsPrecision(16)
        vh.setResizeContentsPrecision(16)
        lay.addWidget(self.table, 1)
        return page

    def _build_histogram_tab(self) -> QWidget:
        page, lay = tab_page()

        bar = QHBoxLayout()
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Bins"))
        self.bins_spin = bins_spin_box("Number of histogram bins (recomputed in the background)")
        self.bins_spin.valueChanged.connect(self.binsChanged)
        bar.addWidget(self.bins_spin)
        bar.addSpacing(12)
        self.log_check = QCheckBox("Log y")
        self.log_check.setToolTip("Logarithmic count axis; empty bins sit on the floor")
        self.log_check.toggled.connect(self._draw_histogram)
        bar.addWidget(self.log_check)
        bar.addSpacing(12)
        self.hist_readout = Label()
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
        self.hist_plot.scene().sigMouseMoved.connect(self._hist_hover)
        lay.addWidget(self.hist_plot, 1)
        return page

    def _build_heatmap_tab(self) -> QWidget:
        page, lay = tab_page()
        bar = QHBoxLayout()
        bar.setSpacing(12)
        self.heat_caption = Label()
        bar.addWidget(self.heat_caption, 0)
        self.heat_readout = Label()
        self.heat_readout.setFont(self._mono)
        self.heat_readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.heat_readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        bar.addWidget(self.heat_readout, 1)
        lay.addLayout(bar)

        self.heat_widget = pg.GraphicsLayoutWidget()
        self.heat_widget.setFrameShape(QFrame.NoFrame)
        self.heat_plot = self.heat_widget.addPlot()
        self.heat_plot.setMenuEnabled(False)
        self.heat_plot.hideButtons()
        self.heat_plot.invertY(True)
        self.heat_plot.setLabel("left", "row")
        self.heat_plot.setLabel("bottom", "column")
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat_image)
        bar_args = dict(values=(0, 1), colorMap=sequential_map(), width=14, interactive=True,
                        rounding=1e-6)
        try:
            self.heat_bar = pg.ColorBarItem(**bar_args, colorMapMenu=False)
        except TypeError:     # pyqtgraph before the colour map menu
            self.heat_bar = pg.ColorBarItem(**bar_args)
        self.heat_bar.setImageItem(self.heat_image, insert_in=self.heat_plot)
        self.heat_widget.scene().sigMouseMoved.connect(self._heat_hover)
        self._heat_page = QStackedWidget()
        self._heat_page.addWidget(self.heat_widget)
        self._heat_note = QLabel()
        self._heat_note.setAlignment(Qt.AlignCenter)
        self._heat_note.setWordWrap(True)
        self._heat_page.addWidget(self._heat_note)
        lay.addWidget(self._heat_page, 1)
        return page

    def _build_filters_tab(self) -> QWidget:
        page, lay = tab_page()
        bar = QHBoxLayout()
        bar.setSpacing(SPACING)
        bar.addWidget(QLabel("Input channel"))
        self.channel_spin = QSpinBox()
        self.channel_spin.setMinimum(-1)
        self.channel_spin.setSpecialValueText("mean")
        self.channel_spin.setKeyboardTracking(False)
        self.channel_spin.setToolTip("Input channel drawn for every filter; "
                                     "the lowest value, 'mean', averages over input channels")
        self.channel_spin.valueChanged.connect(self._channel_changed)
        bar.addWidget(self.channel_spin)
        bar.addSpacing(12)
        self.filters_caption = Label()
        self.filters_caption.setWordWrap(True)
        bar.addWidget(self.filters_caption, 1)
        lay.addLayout(bar)

        self._filter_scroll = QScrollArea()
        self._filter_scroll.setWidgetResizable(False)
        self._filter_scroll.setFrameShape(QFrame.NoFrame)
        self._filter_grid_host = QWidget()
        self._filter_grid = QGridLayout(self._filter_grid_host)
        self._filter_grid.setContentsMargins(0, 0, 0, 0)
        self._filter_grid.setHorizontalSpacing(10)
        self._filter_grid.setVerticalSpacing(8)
        self._filter_grid.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self._filter_scroll.setWidget(self._filter_grid_host)
        self._filter_tiles: list[tuple[QLabel, QLabel]] = []
        lay.addWidget(self._filter_scroll, 1)
        return page

    # ------------------------------------------------------------------ public API

    def show_tensor(self, title: str, dtype_name: str, shape: tuple, array: np.ndarray) -> None:
        """Show a tensor's values: header, table and heatmap now; statistics and the histogram
        wait for show_stats(). `array` is kept by reference and never copied."""
        if array is not None and not isinstance(array, np.ndarray):
            array = np.asarray(array)
        self._array = array
        self._dtype_name = dtype_name or (array.dtype.name if array is not None else "")
        self._shape = tuple(shape) if shape is not None else \
            (array.shape if array is not None else ())
        self._kind = kind_of(self._dtype_name, array.dtype) if array is not None else "other"
        self._stats = None

        self._name.setText(title)
        self._name.setCursorPosition(0)
        self._name.setToolTip(title)
        self._details.setText(self._details_text())
        self._place_details()

        self.model.set_array(array, self._dtype_name)
        self._setup_table()
        self._setup_axis_pickers()
        self._update_window_bar()

        numeric = self._kind in ("float", "int", "bool", "complex")
        has_stats = array is not None and self._kind != "string" and self._kind != "other"
        self.tabs.setTabEnabled(TAB_HISTOGRAM, has_stats)
        self.tabs.setTabToolTip(TAB_HISTOGRAM, "" if has_stats else
                                f"No histogram for {self._dtype_name} tensors")
        self._stats_label.setText(self._stats_placeholder())
        self.bins_spin.setEnabled(has_stats)
        self.log_check.setEnabled(has_stats)
        self._clear_histogram("Computing statistics…" if has_stats else "")

        heat_reason = self._heatmap_reason(numeric)
        self.tabs.setTabEnabled(TAB_HEATMAP, heat_reason is None)
        self.tabs.setTabToolTip(TAB_HEATMAP, heat_reason or "The current 2-D slice as an image")
        self._request_heatmap(heat_reason)

        filt_reason = self._filters_reason()
        self.tabs.setTabEnabled(TAB_FILTERS, filt_reason is None)
        self.tabs.setTabToolTip(TAB_FILTERS, filt_reason or
                                "One image per output filter of a [h, w, in, out] kernel")
        self._setup_filters(filt_reason)

        self._stack.setCurrentWidget(self._content)

    def show_stats(self, stats) -> None:
        """Fill the statistics line and the histogram from an app.analysis.stats.Stats."""
        self._stats = stats
        self._stats_label.setText(self._stats_text(stats))
        if stats is not None and stats.counts:
            self.bins_spin.blockSignals(True)
            self.bins_spin.setValue(min(len(stats.counts), MAX_BINS))
            self.bins_spin.blockSignals(False)
        self._draw_histogram()

    def clear(self) -> None:
        self._array = None
        self._stats = None
        self._heat_info = None
        self._shape = ()
        self._kind = "other"
        self.model.set_array(None)
        self._name.clear()
        self._details.clear()
        self._stats_label.clear()
        self._clear_histogram("")
        self.heat_image.clear()
        self._clear_filter_tiles()
        self._filter_images = []
        self._setup_axis_pickers()
        self._update_window_bar()
        self.show_message(self.EMPTY_TEXT)

    def bins(self) -> int:
        return self.bins_spin.value()

    def array(self) -> np.ndarray | None:
        return self._array

    # ------------------------------------------------------------------ header & stats

    def _details_text(self) -> str:
        parts = [self._dtype_name or "?", shape_text(self._shape) if self._shape else "scalar"]
        size = int(np.prod(self._shape, dtype=np.int64)) if self._shape else 1
        parts.append(f"{size:,} element{'s' if size != 1 else ''}")
        a = self._array
        if a is not None and self._kind != "string" and dtypes.kind(a.dtype) != "string":
            parts.append(human_bytes(size * a.dtype.itemsize))
        return "  ·  ".join(parts)

    def _dim(self) -> str:
        return self.palette().color(QPalette.PlaceholderText).name()

    def _stats_placeholder(self) -> str:
        dim = self._dim()
        if self._kind in ("string", "other"):
            return f"<span style='color:{dim}'>No statistics for {self._dtype_name} tensors.</span>"
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

    # ------------------------------------------------------------------ table

    def _setup_table(self) -> None:
        fm = self.table.fontMetrics()
        samples = {
            "float": "-0.000123457" if self.model.digits() >= 6 else "-0.000123",
            "complex": "-0.123457-0.123457j",
            "int": "-2147483648",
            "bool": "false",
            "string": "x" * 32,
        }
        sample = samples.get(self._kind, "x" * 12)
        a = self._array
        if self._kind == "int" and a is not None and a.dtype.itemsize >= 8:
            sample = "-9223372036854775808"
        width = fm.horizontalAdvance(sample) + 18
        hh = self.table.horizontalHeader()
        hh.setDefaultSectionSize(max(width, fm.horizontalAdvance("00000") + 18))
        # one column of text gets the width; numbers keep a readable column width
        hh.setStretchLastSection(self.model.rank() < 2 and self._kind == "string")
        self.table.scrollToTop()

    def _setup_axis_pickers(self) -> None:
        rank = self.model.rank()
        self._axis_bar.setVisible(rank > 2)
        for combo in (self.row_axis_combo, self.col_axis_combo):
            combo.blockSignals(True)
            combo.clear()
        while self._index_box.count():
            item = self._index_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._index_spins = {}
        if rank > 2 and self._array is not None:
            for ax, n in enumerate(self._array.shape):
                for combo in (self.row_axis_combo, self.col_axis_combo):
                    combo.addItem(f"axis {ax}  ({n})", ax)
            r, c = self.model.axes()
            self.row_axis_combo.setCurrentIndex(r)
            self.col_axis_combo.setCurrentIndex(c)
        for combo in (self.row_axis_combo, self.col_axis_combo):
            combo.blockSignals(False)
        if rank > 2 and self._array is not None:
            self._rebuild_index_spins()

    def _rebuild_index_spins(self) -> None:
        while self._index_box.count():
            item = self._index_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._index_spins = {}
        r, c = self.model.axes()
        held = self.model.indices()
        for ax, n in enumerate(self._array.shape):
            if ax in (r, c):
                continue
            label = QLabel(f"axis {ax}")
            spin = QSpinBox()
            spin.setRange(0, max(0, min(n - 1, 2**31 - 1)))
            spin.setValue(held[ax])
            spin.setEnabled(n > 1)
            spin.setKeyboardTracking(False)
            spin.setSuffix(f" / {max(n - 1, 0)}")
            spin.setToolTip(f"Index along axis {ax} (size {n})")
            spin.valueChanged.connect(lambda v, ax=ax: self._index_changed(ax, v))
            self._index_box.addWidget(label)
            self._index_box.addWidget(spin)
            self._index_box.addSpacing(8)
            self._index_spins[ax] = spin

    def _axes_picked(self, which: str) -> None:
        r = self.row_axis_combo.currentData()
        c = self.col_axis_combo.currentData()
        old_r, old_c = self.model.axes()
        if r == c:   # picked the other's axis: swap
            if which == "row":
                c = old_r
            else:
                r = old_c
        self.set_axes(r, c)

    def set_axes(self, row_axis: int, col_axis: int) -> None:
        """Show `row_axis` as rows and `col_axis` as columns of the table and heatmap."""
        self.model.set_axes(row_axis, col_axis)
        for combo, ax in ((self.row_axis_combo, row_axis), (self.col_axis_combo, col_axis)):
            combo.blockSignals(True)
            combo.setCurrentIndex(ax)
            combo.blockSignals(False)
        self._rebuild_index_spins()
        self._update_window_bar()
        self._request_heatmap(self._heatmap_reason(self._kind in ("float", "int", "bool", "complex")))

    def set_index(self, axis: int, i: int) -> None:
        """Hold `axis` (one not shown as rows/columns) at index `i`."""
        spin = self._index_spins.get(axis)
        if spin is not None and spin.value() != i:
            spin.setValue(i)     # → _index_changed
        else:
            self._index_changed(axis, i)

    def _index_changed(self, axis: int, i: int) -> None:
        if self.model.indices()[axis] == i:
            return
        self.model.set_index(axis, i)
        self._request_heatmap(self._heatmap_reason(self._kind in ("float", "int", "bool", "complex")))

    def _update_window_bar(self) -> None:
        rows, cols = self.model.total_shape()
        long_rows, long_cols = rows > MAX_SECTIONS, cols > MAX_SECTIONS
        self._window_bar.setVisible(long_rows or long_cols)
        if not (long_rows or long_cols):
            return
        for spin, total, show, label in ((self.first_row_spin, rows, long_rows,
                                          self._first_row_label),
                                         (self.first_col_spin, cols, long_cols,
                                          self._first_col_label)):
            spin.blockSignals(True)
            spin.setRange(0, min(max(total - MAX_SECTIONS, 0), 2**31 - 1))
            spin.setSingleStep(MAX_SECTIONS // 2)
            spin.setValue(0)
            spin.blockSignals(False)
            spin.setVisible(show)
            label.setVisible(show)
        self._update_window_label()

    def _update_window_label(self) -> None:
        rows, cols = self.model.total_shape()
        r0, c0 = self.model.offset()
        parts = []
        if rows > MAX_SECTIONS:
            parts.append(f"rows {r0:,}–{r0 + MAX_SECTIONS - 1:,} of {rows:,}")
        if cols > MAX_SECTIONS:
            parts.append(f"columns {c0:,}–{c0 + MAX_SECTIONS - 1:,} of {cols:,}")
        self._window_label.setText("Showing " + ", ".join(parts) + ";")

    def _window_moved(self) -> None:
        self.model.set_offset(self.first_row_spin.value(), self.first_col_spin.value())
        self._update_window_label()

    # ------------------------------------------------------------------ histogram

    def _clear_histogram(self, note: str) -> None:
        self.histogram_item.hide()
        self.histogram_item.setData([0.0, 1.0], [0], stepMode="center", fillLevel=0)
        self.hist_readout.setText(note)
        self.hist_plot.getPlotItem().setLabel("bottom", "")

    def _draw_histogram(self) -> None:
        s = self._stats
        if s is None or not s.counts or len(s.edges) != len(s.counts) + 1:
            note = "Computing statistics…" if s is None and self._array is not None and \
                self._kind not in ("string", "other") else \
                ("No finite values to bin." if s is not None else "")
            self._clear_histogram(note)
            return
        edges = np.asarray(s.edges, dtype=np.float64)
        counts = np.asarray(s.counts, dtype=np.float64)
        pi = self.hist_plot.getPlotItem()
        log = self.log_check.isChecked()
        pi.setLogMode(False, log)
        if log:
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
        self.hist_readout.setText(self._hist_summary())

    def _hist_summary(self) -> str:
        s = self._stats
        total = sum(s.counts)
        return f"{len(s.counts)} bins · {total:,} finite values · hover for a bin"

    def _hist_hover(self, pos: QPointF) -> None:
        s = self._stats
        if s is None or not s.counts or not self.histogram_item.isVisible():
            return
        vb = self.hist_plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hist_readout.setText(self._hist_summary())
            return
        x = vb.mapSceneToView(pos).x()
        edges = s.edges
        if x < edges[0] or x > edges[-1]:
            self.hist_readout.setText(self._hist_summary())
            return
        i = min(int(np.searchsorted(edges, x, side="right")) - 1, len(s.counts) - 1)
        i = max(i, 0)
        self.hist_readout.setText(self.bin_text(i))

    def bin_text(self, i: int) -> str:
        s = self._stats
        lo, hi = s.edges[i], s.edges[i + 1]
        close = "]" if i == len(s.counts) - 1 else ")"
        total = sum(s.counts)
        share = f" ({100.0 * s.counts[i] / total:.3g}%)" if total else ""
        return (f"bin {i}: [{format_float(lo, 6)}, {format_float(hi, 6)}{close}  "
                f"count {s.counts[i]:,}{share}")

    # ------------------------------------------------------------------ heatmap

    def _heatmap_reason(self, numeric: bool) -> str | None:
        a = self._array
        if a is None:
            return "No tensor"
        if not numeric:
            return f"No heatmap for {self._dtype_name} tensors: the values are not numbers"
        if a.ndim < 2:
            return "No heatmap: the tensor has fewer than two axes (see the table)"
        if a.size == 0:
            return "No heatmap: the tensor is empty"
        return None

    def _request_heatmap(self, reason: str | None) -> None:
        """Draw now if the heatmap is on screen (or cannot be drawn), else when it is."""
        self._heat_dirty = reason is None and self.tabs.currentIndex() != TAB_HEATMAP
        if not self._heat_dirty:
            self._draw_heatmap(reason)

    def _draw_heatmap(self, reason: str | None) -> None:
        self._heat_dirty = False
        self._heat_info = None
        if reason is not None:
            self.heat_image.clear()
            self._heat_note.setText(reason)
            self._heat_page.setCurrentWidget(self._heat_note)
            self.heat_caption.setText("")
            self.heat_readout.setText("")
            return
        view = self.model.current_slice()
        sub, sr, sc = sampled(view)
        img = real_sample(sub, self._kind)
        rows, cols = view.shape
        rng = finite_range(img)
        lo, hi = rng if rng is not None else (0.0, 1.0)
        if lo < 0 < hi:
            m = max(-lo, hi)
            lo, hi, cmap = -m, m, diverging_map(self.palette())
        else:
            cmap = sequential_map()
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
        if not np.isfinite(img).all():
            img = np.where(np.isposinf(img), hi, np.where(np.isneginf(img), lo, img))
        self.heat_image.setImage(img, autoLevels=False, levels=(lo, hi))
        self.heat_image.setRect(QRectF(0, 0, cols, rows))
        self.heat_bar.rounding = (hi - lo) / 1000.0
        self.heat_bar.setColorMap(cmap)
        self.heat_bar.setLevels((lo, hi))
        self.heat_plot.setLimits(xMin=-0.05 * cols, xMax=1.05 * cols,
                                 yMin=-0.05 * rows, yMax=1.05 * rows)
        self.heat_plot.autoRange(padding=0.01)
        self._heat_info = (img, sr, sc)
        r, c = self.model.axes()
        rank = self.model.rank()
        cap = f"rows: axis {r} ({rows:,}) · columns: axis {c} ({cols:,})"
        if rank > 2:
            held = self.model.indices()
            others = ", ".join(f"axis {ax} = {held[ax]}" for ax in range(rank) if ax not in (r, c))
            cap += f" · {others}"
        if sr > 1 or sc > 1:
            cap += f" · sampled every {sr}×{sc}"
        if np.isnan(img).any():
            cap += " · NaN left blank"
        self.heat_caption.setText(cap)
        self.heat_readout.setText("")
        self._heat_page.setCurrentWidget(self.heat_widget)

    def heatmap_image(self) -> np.ndarray | None:
        """The image drawn for the current slice (sampled), for tests and export."""
        if self._heat_dirty:
            self._draw_heatmap(None)
        return None if self._heat_info is None else self.heat_image.image

    def _heat_hover(self, pos: QPointF) -> None:
        if self._heat_info is None:
            return
        vb = self.heat_plot.getViewBox()
        rows, cols = self.model.total_shape()
        if not vb.sceneBoundingRect().contains(pos):
            self.heat_readout.setText("")
            return
        p = vb.mapSceneToView(pos)
        r, c = int(math.floor(p.y())), int(math.floor(p.x()))
        if not (0 <= r < rows and 0 <= c < cols):
            self.heat_readout.setText("")
            return
        idx = self.model.element_index(r - self.model.offset()[0], c - self.model.offset()[1])
        v = self._array[idx]
        where = "[" + ", ".join(map(str, idx)) + "]"
        self.heat_readout.setText(f"{where} = {format_value(v, self._kind, self.model.digits())}")

    # ------------------------------------------------------------------ filters

    def _filters_reason(self) -> str | None:
        a = self._array
        if a is None or a.ndim != 4:
            return "Filters are drawn for rank-4 convolution kernels [h, w, in, out] only"
        if self._kind not in ("float", "int", "bool"):
            return f"No filter images for {self._dtype_name} kernels"
        if a.size == 0:
            return "The kernel is empty"
        return None

    def _setup_filters(self, reason: str | None) -> None:
        self._clear_filter_tiles()
        self._filter_images = []
        if reason is not None:
            self.filters_caption.setText("")
            self._filters_dirty = False
            return
        h, w, n_in, n_out = self._array.shape
        self.channel_spin.blockSignals(True)
        self.channel_spin.setRange(-1, max(0, min(n_in - 1, 2**31 - 1)))
        self.channel_spin.setSuffix(f" / {n_in - 1}")
        self.channel_spin.setValue(-1 if n_in > 1 else 0)
        self.channel_spin.blockSignals(False)
        self._filters_dirty = True
        if self.tabs.currentIndex() == TAB_FILTERS:
            self._draw_filters()

    def _tab_changed(self, index: int) -> None:
        if index == TAB_FILTERS and self._filters_dirty:
            self._draw_filters()
        if index == TAB_HEATMAP and self._heat_dirty:
            self._draw_heatmap(None)

    def _channel_changed(self, _value: int) -> None:
        self._filters_dirty = True
        if self.tabs.currentIndex() == TAB_FILTERS:
            self._draw_filters()

    def filter_tiles(self) -> np.ndarray | None:
        """Compute the normalised filter images [n, h', w'] (values in [-1, 1] or [0, 1])."""
        a = self._array
        if self._filters_reason() is not None:
            return None
        h, w, n_in, n_out = a.shape
        nf = min(n_out, MAX_FILTERS)
        sh = max(1, math.ceil(h / FILTER_MAX_SIDE))
        sw = max(1, math.ceil(w / FILTER_MAX_SIDE))
        ch = self.channel_spin.value()
        self._channel_note = ""
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
            if self._signed_kernel(finite):
                scale = np.nanmax(np.abs(finite), axis=1, initial=0.0,
                                  where=~np.isnan(finite))
                scale[scale == 0] = 1.0
                out = finite / scale[:, None]
            else:
                lo = np.nanmin(finite, axis=1, initial=np.inf, where=~np.isnan(finite))
                hi = np.nanmax(finite, axis=1, initial=-np.inf, where=~np.isnan(finite))
                span = np.where(hi > lo, hi - lo, 1.0)
                out = (finite - lo[:, None]) / span[:, None]
        self._filter_scale = (sh, sw)
        return out.reshape(tiles.shape)

    @staticmethod
    def _signed_kernel(flat: np.ndarray) -> bool:
        with np.errstate(invalid="ignore"):
            return bool(np.nanmin(flat, initial=0.0, where=~np.isnan(flat)) < 0)

    def _draw_filters(self) -> None:
        self._filters_dirty = False
        self._clear_filter_tiles()
        tiles = self.filter_tiles()
        if tiles is None:
            return
        signed = bool(np.nanmin(tiles, initial=0.0, where=~np.isnan(tiles)) < 0)
        cmap = diverging_map(self.palette()) if signed else sequential_map()
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
        nan_rgb = np.array(self._qcolor_rgb(self.palette().color(QPalette.Mid)), np.uint8)
        images = []
        for k, t in enumerate(tiles):
            u = (t + 1.0) / 2.0 if signed else t
            idx = np.clip(np.nan_to_num(u, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.intp)
            rgb = lut[idx]
            rgb[np.isnan(t)] = nan_rgb
            rgb = np.ascontiguousarray(rgb)
            hgt, wid = rgb.shape[:2]
            qimg = QImage(rgb.data, wid, hgt, 3 * wid, QImage.Format_RGB888).copy()
            images.append((qimg, f"{k}", f"output filter {k} · {self._channel_note}"))
        self._filter_images = images
        h, w, n_in, n_out = self._array.shape
        shown = len(images)
        cap = f"{shown} of {n_out:,} output filters" if shown < n_out else \
            f"{n_out:,} output filters"
        cap += f" · {h}×{w} · {self._channel_note}"
        cap += (" · each scaled to its own max |w|: blue < 0 < red" if signed else
                " · each scaled to its own range")
        sh, sw = self._filter_scale
        if sh > 1 or sw > 1:
            cap += f" · sampled every {sh}×{sw}"
        self.filters_caption.setText(cap)
        self._layout_filter_tiles()

    def _qcolor_rgb(self, c: QColor) -> tuple[int, int, int]:
        return c.red(), c.green(), c.blue()

    def _tile_size(self) -> int:
        bar = self._filter_scroll.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        avail = self._filter_scroll.width() - bar - 8
        spacing = self._filter_grid.horizontalSpacing()
        size = (avail - spacing * (FILTER_COLUMNS - 1)) // FILTER_COLUMNS
        return int(max(40, min(size, 120)))

    def _layout_filter_tiles(self) -> None:
        self._clear_filter_tiles()
        size = self._tile_size()
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() * 0.85, 7.0))
        for k, (qimg, label, tip) in enumerate(self._filter_images):
            pix = QPixmap.fromImage(qimg).scaled(QSize(size, size), Qt.KeepAspectRatio,
                                                 Qt.FastTransformation)
            tile = QLabel(self._filter_grid_host)
            tile.setPixmap(pix)
            tile.setFixedSize(size, size)
            tile.setAlignment(Qt.AlignCenter)
            tile.setToolTip(tip)
            cap = QLabel(label, self._filter_grid_host)
            cap.setFont(small)
            cap.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
            cap.setForegroundRole(QPalette.PlaceholderText)
            r, c = divmod(k, FILTER_COLUMNS)
            self._filter_grid.addWidget(tile, 2 * r, c)
            self._filter_grid.addWidget(cap, 2 * r + 1, c)
            tile.show()     # now, not queued: the size hint below must count them
            cap.show()
            self._filter_tiles.append((tile, cap))
        self._tile_px = size
        self._filter_grid_host.resize(self._filter_grid.sizeHint())

    def _clear_filter_tiles(self) -> None:
        for tile, cap in self._filter_tiles:
            self._filter_grid.removeWidget(tile)
            self._filter_grid.removeWidget(cap)
            tile.deleteLater()
            cap.deleteLater()
        self._filter_tiles = []

    def filter_count(self) -> int:
        return len(self._filter_images)

    # ------------------------------------------------------------------ look

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._place_details()
        if self._filter_images and self._tile_size() != getattr(self, "_tile_px", None):
            self._layout_filter_tiles()

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and not self._applying_palette:
            self._apply_palette()

    def _apply_palette(self) -> None:
        self._applying_palette = True
        try:
            pal = self.palette()
            base = pal.color(QPalette.Base)
            text = pal.color(QPalette.Text)
            accent = pal.color(QPalette.Highlight)
            # the name field reads as a label
            npal = self._name.palette()
            npal.setColor(QPalette.Base, pal.color(QPalette.Window))
            self._name.setPalette(npal)
            for w in (self.hist_plot, self.heat_widget):
                w.setBackground(base)
            axis_pen = pg.mkPen(pal.color(QPalette.Mid))
            for plot in (self.hist_plot.getPlotItem(), self.heat_plot):
                for name in ("left", "bottom"):
                    ax = plot.getAxis(name)
                    ax.setPen(axis_pen)
                    ax.setTextPen(pg.mkPen(text))
            fill = QColor(accent)
            fill.setAlpha(110)
            self.histogram_item.setPen(pg.mkPen(accent, width=1.5))
            self.histogram_item.setBrush(pg.mkBrush(fill))
            for name in ("left", "right", "top", "bottom"):
                self.heat_bar.getAxis(name).setPen(axis_pen)
                self.heat_bar.getAxis(name).setTextPen(pg.mkPen(text))
            self.heat_bar.region.setBrush(pg.mkBrush(QColor(0, 0, 0, 0)))
            for line in self.heat_bar.region.lines:
                line.setPen(pg.mkPen(text, width=2))
                line.setHoverPen(pg.mkPen(accent, width=3))
            self._heat_note.setForegroundRole(QPalette.PlaceholderText)
            self._message.setForegroundRole(QPalette.PlaceholderText)
            if self._array is not None:
                self._stats_label.setText(self._stats_text(self._stats))
                if self.tabs.isTabEnabled(TAB_HEATMAP):
                    self._request_heatmap(None)
                if self._filter_images:
                    self._draw_filters()
        finally:
            self._applying_palette = False
