"""One variable followed across the checkpoints of a run, as TensorBoard's histogram
dashboard follows a summary, but read from the checkpoints themselves.

Everything drawn here comes ready-made in a `Trend` (app.analysis.compare.trend, run by a
worker owned by others): per checkpoint, the statistics, the relative changes and histogram
counts over edges shared by every checkpoint. Nothing here touches a tensor; the largest
thing handled is the checkpoints × bins matrix of counts.

The tabs are displays (app.ui.displays): Ridge (one histogram per checkpoint), Heatmap
(checkpoints × bins), Curves (statistics against step) and Table (one row per checkpoint).
Only the one on screen draws.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette, QTextDocument
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel

from ..analysis.compare import Trend
from .array_model import SPECIAL_COLOR
from .displays.curves import CurvesDisplay
from .displays.ridge import RidgeDisplay
from .displays.tabs import DisplayHost, DisplayTabs
from .displays.trend_heatmap import TrendHeatmapDisplay
from .displays.trend_table import TrendTableDisplay
from .displays.trend_text import has_values, listing, who
from ..formats.display import shape_text
from .widgets.labels import SelectableLabel, blend_title_field, fixed_font, html_escape, title_field
from .widgets.layout import SPACING
from .widgets.message import MessagePanel
from .widgets.spin import MAX_BINS, bins_spin_box


def _plain(html: str) -> str:
    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


class TrendView(DisplayHost, MessagePanel):
    """One variable across the checkpoints of a run.

    show_trend(trend)    draw an app.analysis.compare.Trend (computed elsewhere)
    show_message(text)   a centred message instead (computing, an error)
    clear()              back to the empty state
    binsChanged(int)     the user asked for another number of bins: recompute, show_trend
    displays()           names of the displays offered, in tab order
    display(name)        one display: "ridge", "heatmap", "curves", "table"
    """

    binsChanged = Signal(int)

    EMPTY_TEXT = "Choose a variable to follow it across the checkpoints of the run."

    def __init__(self, parent=None):
        super().__init__(parent)
        self._trend: Trend | None = None
        self._mono = fixed_font()
        self._displays = [RidgeDisplay(self._mono, self), TrendHeatmapDisplay(self._mono, self),
                          CurvesDisplay(self._mono, self), TrendTableDisplay(self._mono, self)]

        lay = self._build_pages()
        lay.addLayout(self._build_header())

        self.note = SelectableLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.RichText)
        self.note.hide()
        lay.addWidget(self.note)

        self.tabs = DisplayTabs(self._displays)
        lay.addWidget(self.tabs, 1)

        self.apply_palette()
        self.clear()

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

        self._details = SelectableLabel()
        self._details.setFont(self._mono)
        self._details.setWordWrap(True)     # wraps between its items on a narrow panel
        grid.addWidget(self._details, 1, 0)
        self._reads = SelectableLabel()
        small = self._reads.font()
        small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        self._reads.setFont(small)
        self._reads.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        grid.addWidget(self._reads, 1, 1)
        grid.setColumnStretch(0, 1)
        return grid

    # ------------------------------------------------------------------ public API

    def show_trend(self, trend: Trend) -> None:
        """Draw `trend` in the display on screen (the others when shown). Nothing is
        computed over tensors: all of it is in the Trend already."""
        if trend is None or not trend.points:
            self._trend = None
            self.show_message("No checkpoints to follow this variable across."
                              if trend is not None else self.EMPTY_TEXT)
            return
        self._trend = trend
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

        with self.tabs.holding():
            for d in self._displays:
                d.set_trend(trend)
            self.tabs.offer(trend)
        self._show_content()

    def clear(self) -> None:
        self._trend = None
        self._name.clear()
        self._details.clear()
        self._reads.clear()
        self.note.clear()
        self.note.hide()
        with self.tabs.holding():
            for d in self._displays:
                d.set_trend(None)
        self.show_message(self.EMPTY_TEXT)

    def trend(self) -> Trend | None:
        return self._trend

    def bins(self) -> int:
        return self.bins_spin.value()

    def note_text(self) -> str:
        """The note about checkpoints without values, as plain text."""
        return _plain(self.note.text()) if self.note.text() else ""

    def details_text(self) -> str:
        return self._details.text()

    def reads_text(self) -> str:
        return self._reads.text()

    def title_text(self) -> str:
        return self._name.text()

    # ------------------------------------------------------------------ header & notes

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
        valued = sum(1 for p in t.points if has_values(p))
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
                by_reason.setdefault(p.problem, []).append(who(p, i))
            elif p.mean is None:
                by_reason.setdefault("no finite values", []).append(who(p, i))
        if not by_reason:
            return ""
        parts = [f"{html_escape(listing(names))} ({html_escape(why)})"
                 for why, names in by_reason.items()]
        return (f"<span style='color:{SPECIAL_COLOR.name()};font-weight:bold'>Skipped</span>"
                f"&nbsp; no values at " + "; ".join(parts) + ".")

    # ------------------------------------------------------------------ look

    def apply_palette(self) -> None:
        super().apply_palette()
        pal = self.palette()
        blend_title_field(self._name, pal)
        self._reads.setForegroundRole(QPalette.PlaceholderText)
        self.tabs.apply_palette(pal)
        if self._trend is not None:
            self.note.setText(self._note_text())
