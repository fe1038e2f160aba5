"""One variable followed across the checkpoints of a run, as TensorBoard's histogram
dashboard follows a summary, but read from the checkpoints themselves.

Everything drawn here comes ready-made in a `Trend` (app.analysis.compare.trend, run by a
worker owned by others): per checkpoint, the statistics, the relative changes and histogram
counts over edges shared by every checkpoint. Nothing here touches a tensor; the largest
thing handled is the checkpoints × bins matrix of counts.

Four tabs:

* Ridge: one histogram per checkpoint, each scaled to its own tallest bin so that shapes
  compare, offset vertically: the oldest at the back (top), the newest in front (bottom),
  coloured from old to new.
* Heatmap: checkpoints × bins as an image (rows in run order, columns in value units),
  counts or log counts.
* Curves: mean, std, min–max band and L2 norm (own axis, right) against step; below, the
  relative L2 change to the first and to the previous checkpoint.
* Table: one row per checkpoint, sortable and copyable.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QGuiApplication, QKeySequence, QPalette, \
    QTextDocument
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QFrame, QGridLayout, QHBoxLayout, \
    QHeaderView, QLabel, QMenu, QSizePolicy, QStackedWidget, QTableView, QTabWidget, QVBoxLayout, \
    QWidget

from ..analysis.compare import Trend, TrendPoint
from .array_model import SPECIAL_COLOR, format_float
from .roles import ALIGN, DISPLAY, FOREGROUND, TOOLTIP, USER
from .values import MAX_BINS, SPACING, MessagePanel, html_escape, Label, bins_spin_box, \
    fixed_font, is_dark, plot_widget, sequential_map, tab_page, title_field
from .variables_model import shape_text

TAB_RIDGE, TAB_HEATMAP, TAB_CURVES, TAB_TABLE = range(4)

RIDGE_OVERLAP = 1.6     # least height of a ridge's tallest bin, in rows (they overlap above 1)
MAX_LISTED = 8          # checkpoints named in a note before "and N more"
MAX_SYMBOLS = 60        # curves mark their points up to this many checkpoints

# --------------------------------------------------------------------------- helpers


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _has_values(p: TrendPoint) -> bool:
    return p.problem is None and p.mean is not None


def _label(p: TrendPoint, i: int) -> str:
    """The short name of checkpoint `i` on an axis: its step, else its index."""
    return str(p.step) if p.step is not None else f"#{i}"


def _who(p: TrendPoint, i: int) -> str:
    """The name of checkpoint `i` in a sentence."""
    if p.step is not None:
        return f"step {p.step}"
    return f"checkpoint #{i} ({os.path.basename(p.prefix) or p.prefix})"


def _x_positions(points: list[TrendPoint]) -> tuple[np.ndarray, str]:
    """Where each checkpoint sits on the curves' x axis and the axis title: the steps when
    every checkpoint has one and they increase, else the checkpoint's index in the run."""
    steps = [p.step for p in points]
    if steps and None not in steps and all(a < b for a, b in zip(steps, steps[1:])):
        return np.asarray(steps, dtype=np.float64), "step"
    why = "no step numbers" if None in steps else "steps out of order"
    return np.arange(len(points), dtype=np.float64), f"checkpoint # ({why})"


def _plain(html: str) -> str:
    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


def _items(items: list[str]) -> str:
    """A readout: items joined by " · ", wrapping between items, never inside one."""
    return " · ".join(t.replace(" ", "\u00a0") for t in items)


def _listing(names: list[str]) -> str:
    if len(names) <= MAX_LISTED:
        return ", ".join(names)
    return ", ".join(names[:MAX_LISTED]) + f" and {len(names) - MAX_LISTED} more"


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """a·(1 − t) + b·t, opaque."""
    return QColor(round(a.red() * (1 - t) + b.red() * t),
                  round(a.green() * (1 - t) + b.green() * t),
                  round(a.blue() * (1 - t) + b.blue() * t))


def _series_colors(dark: bool) -> dict[str, QColor]:
    """Distinct colours of the curves, readable on the palette's base colour."""
    names = ("mean", "std", "norm", "band", "first", "prev")
    light = ("#1f6fb4", "#d9730d", "#2e8b3d", "#8a96a3", "#7b3fa8", "#c8412f")
    darks = ("#6cb4ff", "#ffab4a", "#72d48a", "#9aa6b2", "#c99bf0", "#ff7f6e")
    return {n: QColor(c) for n, c in zip(names, darks if dark else light)}


def _ridge_color(t: float, dark: bool) -> QColor:
    """Colour of the ridge at position t in the run (0 oldest, 1 newest): the newest stands
    out most against the background, the oldest recedes into it."""
    u = 0.2 + 0.78 * t if dark else 0.82 - 0.8 * t
    return sequential_map().mapToQColor(u)


class _RowAxis(pg.AxisItem):
    """An axis labelling rows (one per checkpoint) with their steps. Labels are thinned out
    to every k-th row (k = 1, 2, 5, 10, …) so that they never overlap, the newest always
    labelled; zooming in brings the others back."""

    def __init__(self, orientation: str = "left"):
        super().__init__(orientation)
        self._rows: list[tuple[float, str]] = []   # (position, label), oldest first
        self._text: dict[float, str] = {}

    def set_rows(self, rows: list[tuple[float, str]]) -> None:
        self._rows = list(rows)
        self._text = {round(y, 6): t for y, t in self._rows}
        # room for the widest label now, not after a first paint has measured it
        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        widest = max((fm.horizontalAdvance(t) for _y, t in self._rows), default=0.0)
        self._updateMaxTextSize(math.ceil(widest) + 2)
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):
        if minVal > maxVal:        # an inverted view (the heatmap's rows grow downwards)
            minVal, maxVal = maxVal, minVal
        if not self._rows or size <= 0 or maxVal <= minVal:
            return []
        per_row = size / (maxVal - minVal)   # rows are one unit apart
        need = QFontMetricsF(self.font()).height() * 1.25
        k = 1
        for nice in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000):
            k = nice
            if nice * per_row >= need:
                break
        n = len(self._rows)
        values = [y for i, (y, _t) in enumerate(self._rows)
                  if (n - 1 - i) % k == 0 and minVal - 1e-9 <= y <= maxVal + 1e-9]
        return [(float(k), values)]

    def tickStrings(self, values, scale, spacing):
        return [self._text.get(round(v, 6), "") for v in values]


class _IntAxis(pg.AxisItem):
    """An axis of steps or checkpoint indices: integer ticks only."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                out.append((spacing, [v for v in values if float(v).is_integer()]))
        if not out:
            lo, hi = math.ceil(minVal), math.floor(maxVal)
            out = [(1.0, [float(v) for v in range(lo, hi + 1)])] if hi >= lo else []
        return out

    def tickStrings(self, values, scale, spacing):
        return [str(int(round(v * scale))) for v in values]


class _ValueAxis(pg.AxisItem):
    """An axis of values: plain numbers (no SI prefix moved into the label, which reads
    badly as "value (x0.001)"), in %g form when plain decimals would be long (1e-07)."""

    def __init__(self, orientation: str):
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):
        out = super().tickStrings(values, scale, spacing)
        if not values or max(len(t) for t in out) <= 7 or not spacing > 0:
            return out
        top = max(abs(v * scale) for v in values) or spacing * scale
        digits = max(1, min(6, math.ceil(math.log10(top / (spacing * scale))) + 1))
        return [format_float(v * scale, digits) if v != 0 else "0" for v in values]


# --------------------------------------------------------------------------- table

COLUMNS = ("Step", "Mean", "Std", "L2 norm", "Min", "Max", "Δ vs first", "Δ vs previous",
           "Zeros", "NaN", "Inf", "Problem")
(COL_STEP, COL_MEAN, COL_STD, COL_NORM, COL_MIN, COL_MAX, COL_REL_FIRST, COL_REL_PREV,
 COL_ZEROS, COL_NAN, COL_INF, COL_PROBLEM) = range(len(COLUMNS))
_FIELDS = (None, "mean", "std", "norm", "min", "max", "rel_change_first", "rel_change_prev",
           "zeros", "nan", "inf", "problem")
_FLOAT_COLS = frozenset((COL_MEAN, COL_STD, COL_NORM, COL_MIN, COL_MAX, COL_REL_FIRST,
                         COL_REL_PREV))
_COUNT_COLS = frozenset((COL_ZEROS, COL_NAN, COL_INF))
HEADER_TIPS = {
    COL_STEP: "Training step of the checkpoint (its index in the run when it has none)",
    COL_MEAN: "Mean of the finite values",
    COL_STD: "Standard deviation of the finite values",
    COL_NORM: "L2 norm of the finite values",
    COL_MIN: "Smallest finite value",
    COL_MAX: "Largest finite value",
    COL_REL_FIRST: "Relative L2 change to the first checkpoint: ‖x − x₀‖ / ‖x₀‖",
    COL_REL_PREV: "Relative L2 change to the previous checkpoint: ‖x − x_prev‖ / ‖x_prev‖",
    COL_ZEROS: "Elements equal to zero",
    COL_NAN: "NaN elements",
    COL_INF: "Infinite elements",
    COL_PROBLEM: "Why a checkpoint has no values",
}
SORT_ROLE = USER + 1
_NUM_ALIGN = int(Qt.AlignRight | Qt.AlignVCenter)
_TEXT_ALIGN = int(Qt.AlignLeft | Qt.AlignVCenter)
_HORIZONTAL = Qt.Orientation.Horizontal


class TrendTableModel(QAbstractTableModel):
    """One row per checkpoint of a Trend. Sorting reorders rows in place (`sort`); empty
    cells (a checkpoint without values, the first one's change to its predecessor) sort
    last either way."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._points: list[TrendPoint] = []
        self._order: list[int] = []       # row → index of the checkpoint in the run
        self._dim = QColor(128, 128, 128)

    def set_trend(self, trend: Trend | None) -> None:
        self.beginResetModel()
        self._points = list(trend.points) if trend is not None else []
        self._order = list(range(len(self._points)))
        self.endResetModel()

    def set_dim_color(self, color: QColor) -> None:
        self._dim = QColor(color)
        if self._points:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._points) - 1, len(COLUMNS) - 1))

    def run_index(self, row: int) -> int:
        """Index in the run of the checkpoint shown at `row`."""
        return self._order[row]

    def point(self, row: int) -> TrendPoint:
        return self._points[self._order[row]]

    def value(self, row: int, col: int):
        """The raw value of a cell: int, float, str or None (nothing to show)."""
        i = self._order[row]
        p = self._points[i]
        if col == COL_STEP:
            return p.step
        v = getattr(p, _FIELDS[col])
        if col in _COUNT_COLS and p.problem is not None:
            return None
        return v

    def copy_text(self, row: int, col: int) -> str:
        """A cell as copied: floats exact (shortest round-trip text), None empty."""
        v = self.value(row, col)
        if col == COL_STEP and v is None:
            return _label(self._points[self._order[row]], self._order[row])
        if v is None:
            return ""
        if isinstance(v, float):
            return format_float(v, 17) if not math.isfinite(v) else repr(v)
        return str(v)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == _HORIZONTAL and 0 <= section < len(COLUMNS):
            if role == DISPLAY:
                return COLUMNS[section]
            if role == TOOLTIP:
                return HEADER_TIPS[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable

    def _display(self, row: int, col: int) -> str:
        i = self._order[row]
        p = self._points[i]
        if col == COL_STEP:
            return _label(p, i)
        v = self.value(row, col)
        if col == COL_PROBLEM:
            return f" {v}" if v else ""      # clear of the right-aligned column before it
        if v is None:
            return "—"
        if col in _COUNT_COLS:
            return f"{v:,}"
        return format_float(float(v), 6)

    def data(self, index: QModelIndex, role=DISPLAY):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._order) and 0 <= col < len(COLUMNS)):
            return None
        if role == DISPLAY:
            return self._display(row, col)
        if role == ALIGN:
            return _TEXT_ALIGN if col == COL_PROBLEM else _NUM_ALIGN
        if role == FOREGROUND:
            v = self.value(row, col)
            if col == COL_PROBLEM:
                return SPECIAL_COLOR if v else None
            if col == COL_STEP:
                return None
            if v is None:
                return self._dim
            if col in (COL_NAN, COL_INF) and v or \
                    col in _FLOAT_COLS and not math.isfinite(v):
                return SPECIAL_COLOR
            return None
        if role == TOOLTIP:
            i = self._order[row]
            p = self._points[i]
            if col == COL_STEP:
                return p.prefix + (f"\n{p.key}" if p.key else "")
            if col == COL_PROBLEM:
                return p.problem
            if col == COL_ZEROS and p.problem is None and p.size:
                return f"{100.0 * p.zeros / p.size:.3g}% of {p.size:,} elements"
            if col == COL_REL_PREV and p.problem is None and p.rel_change_prev is None:
                return "No previous checkpoint of the same shape"
            return None
        if role == SORT_ROLE:
            return self._sort_key(self._order[row], col)
        return None

    def _sort_key(self, i: int, col: int):
        """Key of checkpoint `i` in column `col`; None sorts last."""
        p = self._points[i]
        if col == COL_STEP:
            return i
        if col == COL_PROBLEM:
            return p.problem.lower() if p.problem else None
        if col in _COUNT_COLS and p.problem is not None:
            return None
        v = getattr(p, _FIELDS[col])
        if v is None or v != v:
            return None
        return v

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS) or not self._points:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [(self._order[ix.row()], ix.column()) for ix in persistent]
        keyed = [(self._sort_key(i, column), i) for i in range(len(self._points))]
        present = sorted((k for k in keyed if k[0] is not None), key=lambda k: k[0],
                         reverse=order == Qt.DescendingOrder)
        self._order = [i for _k, i in present] + [i for k, i in keyed if k is None]
        row_of = {i: r for r, i in enumerate(self._order)}
        self.changePersistentIndexList(persistent,
                                       [self.index(row_of[i], c) for i, c in held])
        self.layoutChanged.emit()


class _TrendTable(QTableView):
    """The table; Ctrl+C (and the context menu) copy the selected cells as tab-separated
    text with a header line, floats exact."""

    def keyPressEvent(self, event):
        if event.matches(QKeySequence.Copy):
            self.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event):
        menu = QMenu(self)
        sel = self.selectionModel()
        copy = menu.addAction("Copy", self.copy_selection)
        copy.setEnabled(sel is not None and sel.hasSelection())
        menu.addAction("Copy Whole Table", self.copy_all)
        menu.exec(event.globalPos())

    def _copy(self, rows: list[int], cols: list[int], selected=None) -> str:
        model = self.model()
        lines = ["\t".join(COLUMNS[c] for c in cols)]
        for r in rows:
            lines.append("\t".join(
                model.copy_text(r, c) if selected is None or (r, c) in selected else ""
                for c in cols))
        text = "\n".join(lines)
        QGuiApplication.clipboard().setText(text)
        return text

    def copy_selection(self) -> str:
        sel = self.selectionModel()
        if not isinstance(self.model(), TrendTableModel) or sel is None or \
                not sel.hasSelection():
            return ""
        cells = {(ix.row(), ix.column()) for ix in sel.selectedIndexes()}
        rows = sorted({r for r, _c in cells})
        cols = sorted({c for _r, c in cells})
        return self._copy(rows, cols, cells)

    def copy_all(self) -> str:
        model = self.model()
        if not isinstance(model, TrendTableModel):
            return ""
        return self._copy(list(range(model.rowCount())), list(range(len(COLUMNS))))


# --------------------------------------------------------------------------- the panel

class TrendView(MessagePanel):
    """One variable across the checkpoints of a run.

    show_trend(trend)    draw an app.analysis.compare.Trend (computed elsewhere)
    show_message(text)   a centred message instead (computing, an error)
    clear()              back to the empty state
    binsChanged(int)     the user asked for another number of bins: recompute, show_trend
    """

    binsChanged = Signal(int)

    EMPTY_TEXT = "Choose a variable to follow it across the checkpoints of the run."

    def __init__(self, parent=None):
        super().__init__(parent)
        self._trend: Trend | None = None
        self._applying_palette = False
        self._mono = fixed_font()
        self._heat_matrix: np.ndarray | None = None    # checkpoints × bins, NaN: no values
        self._ridge_norm: dict[int, np.ndarray] = {}    # run index → counts / tallest bin
        self._ridge_hover: int | None = None
        self._xs = np.zeros(0)
        self._x_title = "step"
        self._ridge_pen_width = 1.4

        self.ridge_items: list[tuple[int, pg.PlotDataItem, float]] = []  # (index, curve, base)
        self.ridge_height = RIDGE_OVERLAP
        self.curve_items: dict[str, pg.PlotDataItem] = {}

        lay = self._build_pages()
        lay.addLayout(self._build_header())

        self.note = Label()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.RichText)
        self.note.hide()
        lay.addWidget(self.note)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_ridge_tab(), "Ridge")
        self.tabs.addTab(self._build_heatmap_tab(), "Heatmap")
        self.tabs.addTab(self._build_curves_tab(), "Curves")
        self.tabs.addTab(self._build_table_tab(), "Table")
        self.tabs.setTabToolTip(TAB_RIDGE, "One histogram per checkpoint, oldest at the back")
        self.tabs.setTabToolTip(TAB_HEATMAP, "Histogram counts: checkpoints × value bins")
        self.tabs.setTabToolTip(TAB_CURVES, "Statistics and relative change against step")
        self.tabs.setTabToolTip(TAB_TABLE, "One row per checkpoint")
        lay.addWidget(self.tabs, 1)

        self._apply_palette()
        self.clear()

    # ------------------------------------------------------------------ construction

    def _build_header(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self._name = title_field()
        grid.addWidget(self._name, 0, 0)

        bins = QHBoxLayout()
        bins.setSpacing(SPACING)
        bins.addWidget(QLabel("Bins"))
        self.bins_spin = bins_spin_box("Number of histogram bins, shared by every checkpoint "
                                       "(recomputed in the background)")
        self.bins_spin.valueChanged.connect(self.binsChanged)
        bins.addWidget(self.bins_spin)
        grid.addLayout(bins, 0, 1, Qt.AlignRight | Qt.AlignVCenter)

        self._details = Label()
        self._details.setFont(self._mono)
        self._details.setWordWrap(True)     # wraps between its items on a narrow panel
        grid.addWidget(self._details, 1, 0)
        self._reads = Label()
        small = self._reads.font()
        small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        self._reads.setFont(small)
        self._reads.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        grid.addWidget(self._reads, 1, 1)
        grid.setColumnStretch(0, 1)
        return grid

    def _bar(self, lay: QVBoxLayout, caption: QLabel, readout: QLabel, *middle) -> None:
        """The caption (and `middle` controls) on a line, the hover readout below it: a
        readout is long, and on a line of its own it is never cut."""
        bar = QHBoxLayout()
        bar.setSpacing(12)
        caption.setWordWrap(True)
        bar.addWidget(caption, 1)
        for w in middle:
            bar.addWidget(w, 0)
        lay.addLayout(bar)
        readout.setFont(self._mono)
        readout.setWordWrap(True)
        lay.addWidget(readout)

    def _note_page(self, plot: QWidget) -> tuple[QStackedWidget, QLabel]:
        """A plot, or a centred note saying why there is nothing to plot."""
        stack = QStackedWidget()
        stack.addWidget(plot)
        note = QLabel()
        note.setAlignment(Qt.AlignCenter)
        note.setWordWrap(True)
        note.setContentsMargins(24, 24, 24, 24)
        stack.addWidget(note)
        return stack, note

    def _build_ridge_tab(self) -> QWidget:
        page, lay = tab_page()
        self.ridge_caption = Label()
        self.ridge_readout = Label()
        self._bar(lay, self.ridge_caption, self.ridge_readout)
        self._ridge_axis = _RowAxis("left")
        self.ridge_plot = plot_widget(axisItems={"left": self._ridge_axis,
                                                       "bottom": _ValueAxis("bottom")})
        pi = self.ridge_plot.getPlotItem()
        pi.setLabel("bottom", "value")
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        pi.showGrid(x=True, y=False, alpha=0.15)
        pi.getViewBox().setMouseEnabled(x=True, y=False)
        self.ridge_plot.scene().sigMouseMoved.connect(self._ridge_hover_at)
        self._ridge_page, self._ridge_note = self._note_page(self.ridge_plot)
        lay.addWidget(self._ridge_page, 1)
        return page

    def _build_heatmap_tab(self) -> QWidget:
        page, lay = tab_page()
        self.heat_caption = Label()
        self.heat_readout = Label()
        self.log_check = QCheckBox("Log colour")
        self.log_check.setToolTip("Colour by log₁₀(1 + count): shows sparse tails next to "
                                  "a tall peak")
        self.log_check.toggled.connect(self._draw_heatmap)
        self._bar(lay, self.heat_caption, self.heat_readout, self.log_check)

        self._heat_axis = _RowAxis("left")
        self.heat_widget = pg.GraphicsLayoutWidget()
        self.heat_widget.setFrameShape(QFrame.NoFrame)
        self.heat_plot = self.heat_widget.addPlot(axisItems={"left": self._heat_axis,
                                                             "bottom": _ValueAxis("bottom")})
        self.heat_plot.setMenuEnabled(False)
        self.heat_plot.hideButtons()
        self.heat_plot.invertY(True)
        self.heat_plot.setLabel("bottom", "value")
        self.heat_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.heat_plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat_image)
        bar_args = dict(values=(0, 1), colorMap=sequential_map(), width=14, interactive=True,
                        rounding=1e-6)
        try:
            self.heat_bar = pg.ColorBarItem(**bar_args, colorMapMenu=False)
        except TypeError:     # pyqtgraph before the colour map menu
            self.heat_bar = pg.ColorBarItem(**bar_args)
        self.heat_bar.setImageItem(self.heat_image, insert_in=self.heat_plot)
        self.heat_widget.scene().sigMouseMoved.connect(self._heat_hover_at)
        self._heat_page, self._heat_note = self._note_page(self.heat_widget)
        lay.addWidget(self._heat_page, 1)
        return page

    def _build_curves_tab(self) -> QWidget:
        page, lay = tab_page()
        self.curves_caption = Label()
        self.curves_readout = Label()
        self._bar(lay, self.curves_caption, self.curves_readout)

        self.curves_widget = pg.GraphicsLayoutWidget()
        self.curves_widget.setFrameShape(QFrame.NoFrame)
        ci = self.curves_widget.ci
        ci.setSpacing(2)
        size = f"{self.font().pointSizeF() * 0.95:.1f}pt"
        self.stats_legend = pg.LegendItem(colCount=4, labelTextSize=size, horSpacing=14)
        self.rel_legend = pg.LegendItem(colCount=2, labelTextSize=size, horSpacing=14)
        self._step_axes = (_IntAxis("bottom"), _IntAxis("bottom"))
        self.stats_plot = pg.PlotItem(axisItems={"bottom": self._step_axes[0],
                                                 "left": _ValueAxis("left"),
                                                 "right": _ValueAxis("right")})
        self.rel_plot = pg.PlotItem(axisItems={"bottom": self._step_axes[1],
                                               "left": _ValueAxis("left"),
                                               "right": _ValueAxis("right")})
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
        fm = QFontMetricsF(self.font())
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
        self.curves_widget.scene().sigMouseMoved.connect(self._curves_hover_at)
        self._curves_page, self._curves_note = self._note_page(self.curves_widget)
        lay.addWidget(self._curves_page, 1)
        return page

    def _build_table_tab(self) -> QWidget:
        page, lay = tab_page()
        self.table_model = TrendTableModel(self)
        self.table = _TrendTable()
        self.table.setModel(self.table_model)
        self.table.setFont(self._mono)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideRight)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setDefaultAlignment(Qt.AlignCenter)
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSortIndicator(COL_STEP, Qt.AscendingOrder)
        self.table.setSortingEnabled(True)
        lay.addWidget(self.table, 1)
        return page

    # ------------------------------------------------------------------ public API

    def show_trend(self, trend: Trend) -> None:
        """Draw `trend` in every tab. Nothing is computed over tensors: all of it is in
        the Trend already."""
        if trend is None or not trend.points:
            self._trend = None
            self.show_message("No checkpoints to follow this variable across."
                              if trend is not None else self.EMPTY_TEXT)
            return
        self._trend = trend
        self._xs, self._x_title = _x_positions(trend.points)
        self._name.setText(trend.name)
        self._name.setCursorPosition(0)
        self._name.setToolTip(trend.name)
        self._details.setText(self._details_text())
        self._details.setToolTip(self._details.text())
        self._reads.setText(self._reads_text())
        self._reads.setToolTip(
            "Each checkpoint's tensor was read once: statistics and histogram together"
            if trend.reads_per_checkpoint == 1 else
            "The tensors were too large to keep between the two passes: each checkpoint "
            "was read again for its histogram")
        self.bins_spin.blockSignals(True)
        self.bins_spin.setValue(min(max(trend.bins, 1), MAX_BINS))
        self.bins_spin.blockSignals(False)
        self.bins_spin.setEnabled(True)
        self.note.setText(self._note_text())
        self.note.setVisible(bool(self.note.text()))

        self.table_model.set_trend(trend)
        hh = self.table.horizontalHeader()
        self.table.sortByColumn(hh.sortIndicatorSection(), hh.sortIndicatorOrder())
        self._size_table()

        self._draw_ridge()
        self._draw_heatmap()
        self._draw_curves()
        self._stack.setCurrentWidget(self._content)

    def clear(self) -> None:
        self._trend = None
        self._xs = np.zeros(0)
        self._name.clear()
        self._details.clear()
        self._reads.clear()
        self.note.clear()
        self.note.hide()
        self.table_model.set_trend(None)
        self._clear_ridge()
        self._heat_matrix = None
        self.heat_image.clear()
        self._clear_curves()
        self.show_message(self.EMPTY_TEXT)

    def trend(self) -> Trend | None:
        return self._trend

    def bins(self) -> int:
        return self.bins_spin.value()

    def note_text(self) -> str:
        """The note about checkpoints without values, as plain text."""
        return _plain(self.note.text()) if self.note.text() else ""

    def heatmap_image(self) -> np.ndarray | None:
        """The checkpoints × bins matrix drawn in the heatmap: counts (log₁₀(1 + count) with
        'Log colour'), NaN for checkpoints without values."""
        return None if self._heat_matrix is None else self.heat_image.image

    def counts_matrix(self) -> np.ndarray | None:
        """Counts, checkpoints × bins, in run order; NaN rows: no values."""
        return None if self._heat_matrix is None else self._heat_matrix.copy()

    # ------------------------------------------------------------------ header & notes

    def _dim(self) -> str:
        return self.palette().color(QPalette.PlaceholderText).name()

    def _details_text(self) -> str:
        t = self._trend
        with_info = [p for p in t.points if p.dtype is not None]
        parts = []
        dtypes = list(dict.fromkeys(p.dtype for p in with_info))
        shapes = list(dict.fromkeys(tuple(p.shape) for p in with_info if p.shape is not None))
        if dtypes:
            parts.append(" / ".join(dtypes))
        if len(shapes) == 1:
            shape = shapes[0]
            parts.append(shape_text(shape) if shape else "scalar")
            size = with_info[0].size
            parts.append(f"{size:,} element{'s' if size != 1 else ''}")
        elif shapes:
            parts.append("shapes " + " → ".join(shape_text(s) for s in shapes[:3]) +
                         (" …" if len(shapes) > 3 else ""))
        n = len(t.points)
        valued = sum(1 for p in t.points if _has_values(p))
        ck = f"{n:,} checkpoint{'s' if n != 1 else ''}"
        if valued != n:
            ck += f" ({valued:,} with values)"
        parts.append(ck)
        return "  ·  ".join(parts)

    def _reads_text(self) -> str:
        k = self._trend.reads_per_checkpoint
        return {1: "read once per checkpoint", 2: "read twice per checkpoint"}.get(
            k, f"read {k}× per checkpoint")

    def _note_text(self) -> str:
        """Which checkpoints are skipped and why, grouped by reason (rich text)."""
        t = self._trend
        by_reason: dict[str, list[str]] = {}
        for i, p in enumerate(t.points):
            if p.problem is not None:
                by_reason.setdefault(p.problem, []).append(_who(p, i))
            elif p.mean is None:
                by_reason.setdefault("no finite values", []).append(_who(p, i))
        if not by_reason:
            return ""
        parts = [f"{html_escape(_listing(who))} ({html_escape(why)})"
                 for why, who in by_reason.items()]
        return (f"<span style='color:{SPECIAL_COLOR.name()};font-weight:bold'>Skipped</span>"
                f"&nbsp; no values at " + "; ".join(parts) + ".")

    # ------------------------------------------------------------------ ridge

    def _clear_ridge(self) -> None:
        pi = self.ridge_plot.getPlotItem()
        for _i, item, _b in self.ridge_items:
            pi.removeItem(item)
        self.ridge_items = []
        self._ridge_norm = {}
        self._ridge_hover = None
        self._ridge_axis.set_rows([])
        self.ridge_caption.setText("")
        self.ridge_readout.setText("")

    def _histogram_reason(self) -> str | None:
        """Why there are no histograms to draw, or None."""
        t = self._trend
        if t is None:
            return "No trend"
        if len(t.edges) != t.bins + 1 or not any(p.counts for p in t.points):
            if all(p.problem is not None for p in t.points):
                return "No checkpoint holds values of this variable (see the Table tab)."
            return "No histograms: no checkpoint holds finite values of this variable."
        return None

    def _draw_ridge(self) -> None:
        self._clear_ridge()
        reason = self._histogram_reason()
        if reason is not None:
            self._ridge_note.setText(reason)
            self._ridge_page.setCurrentWidget(self._ridge_note)
            return
        t = self._trend
        pi = self.ridge_plot.getPlotItem()
        dark = is_dark(self.palette())
        base_color = self.palette().color(QPalette.Base)
        edges = np.asarray(t.edges, dtype=np.float64)
        n = len(t.points)
        # taller ridges over more rows, so that a shape still reads when rows are thin
        self.ridge_height = min(max(RIDGE_OVERLAP, n / 10), 5.0) if n > 2 else 0.9
        self._ridge_pen_width = 1.4 if n <= 20 else 1.0
        rows = []
        for i, p in enumerate(t.points):
            base = float(n - 1 - i)          # the oldest at the top, the newest at the bottom
            rows.append((base, _label(p, i)))
            if len(p.counts) != len(edges) - 1:
                continue
            counts = np.asarray(p.counts, dtype=np.float64)
            peak = counts.max() if counts.size else 0.0
            norm = counts / peak if peak > 0 else np.zeros_like(counts)
            self._ridge_norm[i] = norm
            color = _ridge_color(i / max(n - 1, 1), dark)
            fill = _mix(base_color, color, 0.35 if dark else 0.25)
            item = pg.PlotDataItem(edges, base + norm * self.ridge_height, stepMode="center",
                                   fillLevel=base, pen=pg.mkPen(color, width=self._ridge_pen_width),
                                   brush=pg.mkBrush(fill))
            item.setZValue(i)                # the newer, the further in front
            pi.addItem(item)
            self.ridge_items.append((i, item, base))
        self._ridge_axis.set_rows(rows[::-1])   # positions ascending: newest first
        pi.setLabel("left", self._x_title.split(" (")[0])
        span = edges[-1] - edges[0]
        pi.setXRange(edges[0], edges[-1], padding=0.02 if span > 0 else 0.5)
        pi.setYRange(-0.08, n - 1 + self.ridge_height + 0.1, padding=0)
        shown = len(self.ridge_items)
        cap = f"{shown:,} of {n:,} checkpoints" if shown != n else f"{n:,} checkpoints"
        self.ridge_caption.setText(f"{cap} · {t.bins:,} bins · each scaled to its "
                                   f"tallest bin · newest in front")
        self.ridge_readout.setText("hover for a bin")
        self._ridge_page.setCurrentWidget(self.ridge_plot)

    def _ridge_hit(self, x: float, y: float) -> tuple[int, int] | None:
        """(run index, bin) under the point (x, y) of the ridge plot: the frontmost ridge
        covering it, else the ridge whose row it is in."""
        t = self._trend
        edges = t.edges
        if not self.ridge_items or x < edges[0] or x > edges[-1]:
            return None
        b = min(max(int(np.searchsorted(edges, x, side="right")) - 1, 0), t.bins - 1)
        for i, _item, base in reversed(self.ridge_items):   # front (newest) first
            if base <= y <= base + self._ridge_norm[i][b] * self.ridge_height:
                return i, b
        below = [(i, base) for i, _item, base in self.ridge_items if base <= y < base + 1]
        return (below[0][0], b) if below else None

    def ridge_bin_text(self, i: int, b: int) -> str:
        t = self._trend
        p = t.points[i]
        lo, hi = t.edges[b], t.edges[b + 1]
        close = "]" if b == t.bins - 1 else ")"
        total = sum(p.counts)
        share = f" ({100.0 * p.counts[b] / total:.3g}%)" if total else ""
        return _items([_who(p, i), f"[{format_float(lo, 6)}, {format_float(hi, 6)}{close}",
                       f"count {p.counts[b]:,}{share}"])

    def _ridge_hover_at(self, pos: QPointF) -> None:
        if self._trend is None or not self.ridge_items:
            return
        vb = self.ridge_plot.getPlotItem().getViewBox()
        hit = None
        if vb.sceneBoundingRect().contains(pos):
            v = vb.mapSceneToView(pos)
            hit = self._ridge_hit(v.x(), v.y())
        self._highlight_ridge(hit[0] if hit else None)
        self.ridge_readout.setText(self.ridge_bin_text(*hit) if hit else "hover for a bin")

    def _highlight_ridge(self, index: int | None) -> None:
        if index == self._ridge_hover:
            return
        for i, item, _base in self.ridge_items:
            if i in (index, self._ridge_hover):
                pen = pg.mkPen(item.opts["pen"])
                pen.setWidthF(3.0 if i == index else self._ridge_pen_width)
                item.setPen(pen)
        self._ridge_hover = index

    # ------------------------------------------------------------------ heatmap

    def _draw_heatmap(self) -> None:
        reason = self._histogram_reason()
        if reason is not None:
            self._heat_matrix = None
            self.heat_image.clear()
            self._heat_axis.set_rows([])
            self.heat_caption.setText("")
            self.heat_readout.setText("")
            self._heat_note.setText(reason)
            self._heat_page.setCurrentWidget(self._heat_note)
            return
        t = self._trend
        n, bins = len(t.points), t.bins
        matrix = np.full((n, bins), np.nan)
        for i, p in enumerate(t.points):
            if len(p.counts) == bins:
                matrix[i] = p.counts
        self._heat_matrix = matrix
        log = self.log_check.isChecked()
        img = np.log10(1.0 + matrix) if log else matrix
        hi = float(np.nanmax(img)) if np.isfinite(img).any() else 1.0
        hi = hi if hi > 0 else 1.0
        self.heat_image.setImage(img, autoLevels=False, levels=(0.0, hi))
        lo_e, hi_e = t.edges[0], t.edges[-1]
        width = hi_e - lo_e if hi_e > lo_e else 1.0
        self.heat_image.setRect(QRectF(lo_e, 0.0, width, float(n)))
        self.heat_bar.rounding = hi / 1000.0
        self.heat_bar.setLevels((0.0, hi))
        self._heat_axis.set_rows([(i + 0.5, _label(p, i)) for i, p in enumerate(t.points)])
        self.heat_plot.setLabel("left", self._x_title.split(" (")[0])
        self.heat_plot.setLimits(xMin=lo_e - 0.05 * width, xMax=lo_e + 1.05 * width,
                                 yMin=-0.05 * n, yMax=1.05 * n)
        self.heat_plot.setXRange(lo_e, lo_e + width, padding=0.01)
        self.heat_plot.setYRange(0, n, padding=0.01)
        blank = int(np.isnan(matrix[:, 0]).sum())
        cap = (f"{n:,} checkpoints × {bins:,} bins · oldest at the top · colour: "
               f"{'log₁₀(1 + count)' if log else 'count'}")
        if blank:
            cap += f" · {blank} without values left blank"
        self.heat_caption.setText(cap)
        self.heat_readout.setText("hover for a bin")
        self._heat_page.setCurrentWidget(self.heat_widget)

    def _heat_hover_at(self, pos: QPointF) -> None:
        t = self._trend
        if t is None or self._heat_matrix is None:
            return
        vb = self.heat_plot.getViewBox()
        text = "hover for a bin"
        if vb.sceneBoundingRect().contains(pos):
            v = vb.mapSceneToView(pos)
            i = int(math.floor(v.y()))
            x = v.x()
            if 0 <= i < len(t.points) and t.edges[0] <= x <= t.edges[-1]:
                b = min(max(int(np.searchsorted(t.edges, x, side="right")) - 1, 0), t.bins - 1)
                p = t.points[i]
                if len(p.counts) == t.bins:
                    text = self.ridge_bin_text(i, b)
                else:
                    text = _items([_who(p, i), f"no values ({p.problem or 'no finite values'})"])
        self.heat_readout.setText(text)

    # ------------------------------------------------------------------ curves

    def _sync_norm_box(self) -> None:
        vb = self.stats_plot.getViewBox()
        self.norm_box.setGeometry(vb.sceneBoundingRect())
        self.norm_box.linkedViewChanged(vb, self.norm_box.XAxis)

    def _band_toggled(self) -> None:
        shown = self._band_sample.isVisible()
        for item in (self._band, self._band_lo, self._band_hi):
            item.setVisible(shown)

    def _clear_curves(self) -> None:
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
            if p.problem is None and _finite(v):
                out[i] = v
        return out

    def _draw_curves(self) -> None:
        self._clear_curves()
        t = self._trend
        if not any(_has_values(p) for p in t.points):
            self._curves_note.setText(
                "No checkpoint holds values of this variable (see the Table tab)."
                if all(p.problem is not None for p in t.points) else
                "No statistics: no checkpoint holds finite values of this variable.")
            self._curves_page.setCurrentWidget(self._curves_note)
            return
        xs = self._xs
        c = _series_colors(is_dark(self.palette()))
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
        self.rel_plot.setLabel("bottom", self._x_title)

        notes = []
        valued = [i for i, p in enumerate(t.points) if _has_values(p)]
        if len(valued) < len(t.points):
            notes.append(f"{len(valued):,} of {len(t.points):,} checkpoints have values")
        other_shape = [_who(t.points[i], i) for i in valued
                       if t.points[i].rel_change_first is None]
        if other_shape:
            notes.append(f"no relative change at {_listing(other_shape)}: shape differs "
                         f"from the first")
        odd = [_who(t.points[i], i) for i in valued
               if t.points[i].rel_change_first is not None and
               not _finite(t.points[i].rel_change_first)]
        if odd:
            notes.append(f"relative change not finite at {_listing(odd)} (NaN, Inf or a "
                         f"zero first checkpoint)")
        if not notes:
            notes.append(f"{len(valued):,} checkpoints · statistics of the finite values")
        self.curves_caption.setText(" · ".join(notes))
        self.curves_readout.setText("hover for a checkpoint")
        self._curves_page.setCurrentWidget(self.curves_widget)

    def curves_text(self, i: int) -> str:
        """The hover readout of checkpoint `i` (run index)."""
        p = self._trend.points[i]
        if not _has_values(p):
            return _items([_who(p, i), f"no values ({p.problem or 'no finite values'})"])

        def num(x):
            return "—" if x is None else format_float(float(x), 4)
        items = [_who(p, i), f"mean {num(p.mean)}", f"std {num(p.std)}", f"min {num(p.min)}",
                 f"max {num(p.max)}", f"norm {num(p.norm)}",
                 f"Δ first {num(p.rel_change_first)}", f"Δ prev {num(p.rel_change_prev)}"]
        return _items(items)

    def _curves_hover_at(self, pos: QPointF) -> None:
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
            self.curves_readout.setText("hover for a checkpoint")
            return
        x = inside.mapSceneToView(pos).x()
        i = int(np.argmin(np.abs(self._xs - x)))
        for line in self._cursor_lines:
            line.setValue(float(self._xs[i]))
            line.show()
        self.curves_readout.setText(self.curves_text(i))

    # ------------------------------------------------------------------ table

    def _size_table(self) -> None:
        """Every column as wide as its widest text (header with its sort arrow, or a cell
        of the first rows), so that nothing is cut at the usual sizes."""
        fm = self.table.fontMetrics()
        hfm = self.table.horizontalHeader().fontMetrics()
        model = self.table_model
        rows = range(min(model.rowCount(), 2000))
        for col in range(len(COLUMNS) - 1):          # the last one (Problem) stretches
            head = hfm.horizontalAdvance(COLUMNS[col]) + 30
            body = max((fm.horizontalAdvance(model._display(r, col)) for r in rows), default=0)
            self.table.setColumnWidth(col, max(head, body + 18))

    # ------------------------------------------------------------------ look

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
            dim = pal.color(QPalette.PlaceholderText)
            accent = pal.color(QPalette.Highlight)
            npal = self._name.palette()
            npal.setColor(QPalette.Base, pal.color(QPalette.Window))
            self._name.setPalette(npal)
            for label in (self._reads, self._message, self._ridge_note, self._heat_note,
                          self._curves_note):
                label.setForegroundRole(QPalette.PlaceholderText)
            for w in (self.ridge_plot, self.heat_widget, self.curves_widget):
                w.setBackground(base)
            axis_pen = pg.mkPen(pal.color(QPalette.Mid))
            plots = (self.ridge_plot.getPlotItem(), self.heat_plot, self.stats_plot,
                     self.rel_plot)
            for plot in plots:
                for name in ("left", "bottom", "right"):
                    ax = plot.getAxis(name)
                    ax.setPen(axis_pen)
                    ax.setTextPen(pg.mkPen(text))
            for name in ("left", "right", "top", "bottom"):
                self.heat_bar.getAxis(name).setPen(axis_pen)
                self.heat_bar.getAxis(name).setTextPen(pg.mkPen(text))
            self.heat_bar.region.setBrush(pg.mkBrush(QColor(0, 0, 0, 0)))
            for line in self.heat_bar.region.lines:
                line.setPen(pg.mkPen(text, width=2))
                line.setHoverPen(pg.mkPen(accent, width=3))
            for legend in (self.stats_legend, self.rel_legend):
                legend.setLabelTextColor(text)
                for _sample, label in legend.items:
                    label.setText(label.text)     # redrawn in the new colour
            cursor = QColor(text)
            cursor.setAlpha(90)
            for line in self._cursor_lines:
                line.setPen(pg.mkPen(cursor, width=1, style=Qt.DashLine))
            self.table_model.set_dim_color(dim)
            if self._trend is not None:
                self.note.setText(self._note_text())
                self._draw_ridge()
                self._draw_curves()
        finally:
            self._applying_palette = False

