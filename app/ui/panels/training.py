"""Training: the curves the run logged (its event files' scalars), one plot per tag, each
subfolder's run (train/, eval/, …) in a colour of its own, smoothed as TensorBoard smooths,
with a marker at every checkpoint's step. A click near a marker makes that checkpoint
current everywhere."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QScrollArea, QSlider,
                               QVBoxLayout, QWidget)

from ...document import Document
from .lazy import LazySlot

PLOT_HEIGHT = 200
# Colours of the runs, in order: distinct on light and dark backgrounds.
RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
CLICK_SLACK = 0.02          # a click this close (fraction of the x range) to a marker picks it
# What of the selected variable's Across-the-run curve can lie over the curves (right axis).
OVERLAYS = (("", "No overlay"), ("norm", "Variable: norm ‖w‖"),
            ("rel_change_first", "Variable: change vs first"),
            ("rel_change_prev", "Variable: change vs previous"))
OVERLAY_COLOR = "#8e44ad"


class TrainingPanel(QWidget):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.slot = LazySlot(self._build, "Reading the run's event files…")
        lay.addWidget(self.slot)
        self.plots: dict[str, object] = {}       # tag → its pyqtgraph PlotWidget
        self.lines: dict[tuple, tuple] = {}     # (tag, run) → (raw line, smoothed line or None)

        # Whether the user sees this panel; the view that docks it says (a dock tabbed
        # behind another is not hidden, only covered).
        self.is_on_screen = lambda: not self.isHidden()
        doc.opened.connect(lambda _l: self._forget())
        doc.scalars_changed.connect(lambda _d: self._grow() if self.plots else self._draw())
        doc.checkpoint_changed.connect(lambda _l: self._draw_markers())
        doc.checkpoints_changed.connect(lambda _c: (self._draw_markers(), self._refresh_overlay()))
        doc.selection_changed.connect(lambda _s: self._refresh_overlay())
        self.trend = None                        # the overlaid variable's Trend, once read
        self._trend_for = None                   # (key, checkpoint prefixes) it was read for

    @property
    def available(self) -> bool:
        """Whether the run has event files to read."""
        return self.doc.loaded is not None and bool(self.doc.loaded.event_files)

    def refresh(self) -> None:
        """Read the curves the first time this tab is shown (and after a reload)."""
        if not self.is_on_screen() or not self.available:
            return
        if self.doc.scalars is None:
            self.slot.hint("Reading the run's event files…")
            self.doc.read_scalars()
        elif not self.plots:
            self._draw()
        self._refresh_overlay()

    def _forget(self) -> None:
        self.plots.clear()
        if self.slot.built:
            self._clear()
        self.refresh()

    # -- widgets ------------------------------------------------------------------------

    def _build(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 4, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing"))
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMaximumWidth(220)
        self.smoothing.setToolTip("An exponential moving average, as TensorBoard smooths (0: none)")
        self.smoothing_value = QLabel()
        self.log_check = QCheckBox("Log scale")
        self.overlay = QComboBox()
        for name, text in OVERLAYS:
            self.overlay.addItem(text, name)
        self.overlay.setToolTip("Lay the selected variable's curve from Across the run over every plot, "
                                "on an axis of its own at the right (one point per checkpoint)")
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.smoothing, self.smoothing_value, self.log_check, self.overlay):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.summary)
        lay.addLayout(row)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        self.column = QWidget()
        self.column_layout = QVBoxLayout(self.column)
        self.column_layout.setContentsMargins(0, 0, 0, 0)
        self.area.setWidget(self.column)
        lay.addWidget(self.area, 1)
        self.smoothing.valueChanged.connect(lambda _v: self._draw())
        self.log_check.toggled.connect(self._set_log)
        self.overlay.currentIndexChanged.connect(lambda _i: self._refresh_overlay())
        return page

    def _clear(self) -> None:
        while self.column_layout.count():
            item = self.column_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.plots.clear()
        self.lines.clear()

    def curve(self, run: str, tag: str):
        """(steps, values) of the raw line drawn for `tag` of `run` (for tests and probes)."""
        raw, _smooth = self.lines[(tag, run)]
        return raw.getData()

    # -- drawing ------------------------------------------------------------------------

    def weight(self) -> float:
        return self.smoothing.value() / 100 if self.slot.built else 0.0

    def _draw(self) -> None:
        data = self.doc.scalars
        if data is None:
            return
        _ = self.slot.content
        import pyqtgraph as pg

        from ...analysis.curves import smooth
        from ..widgets.theme import plot_widget, style_axes
        self._clear()
        weight = self.weight()
        self.smoothing_value.setText(f"{weight:.2f}")
        runs = sorted({s.run for s in data.series})
        colors = {run: RUN_COLORS[i % len(RUN_COLORS)] for i, run in enumerate(runs)}
        by_tag: dict[str, list] = {}
        for s in data.series:
            by_tag.setdefault(s.tag, []).append(s)
        self._summarize(data)
        if not by_tag:
            self.column_layout.addWidget(QLabel("The event files hold no scalar summaries."))
            return
        for tag in sorted(by_tag):
            plot = plot_widget()
            plot.setMinimumHeight(PLOT_HEIGHT)
            plot.setBackground(self.palette().color(QPalette.Base))
            item = plot.getPlotItem()
            style_axes(item, self.palette())
            item.setTitle(tag, color=self.palette().color(QPalette.Text))
            item.setLabel("bottom", "step")
            item.showGrid(x=True, y=True, alpha=0.15)
            item.addLegend(offset=(-10, 10))
            for s in by_tag[tag]:
                series = s.last_per_step()
                color = pg.mkColor(colors[s.run])
                faint = pg.mkColor(colors[s.run])
                faint.setAlpha(70 if weight > 0 else 255)
                raw = item.plot(series.steps, series.values, pen=pg.mkPen(faint, width=1))
                smoothed = None
                if weight > 0:
                    smoothed = item.plot(series.steps, smooth(series.values, weight),
                                         pen=pg.mkPen(color, width=2), name=s.run)
                else:
                    item.legend.addItem(raw, s.run)
                self.lines[(tag, s.run)] = (raw, smoothed)
            item.setLogMode(y=self.log_check.isChecked())
            plot.scene().sigMouseClicked.connect(lambda ev, p=plot: self._clicked(p, ev))
            self._add_right_axis(plot)
            self.column_layout.addWidget(plot)
            self.plots[tag] = plot
        self.column_layout.addStretch(1)
        self._draw_markers()
        self._draw_overlay()

    def _grow(self) -> None:
        """Training appended to the event files: the lines get their new points in place
        (no plot is rebuilt, the zoom stays); a new tag or run draws everything anew."""
        data = self.doc.scalars
        if data is None or {(s.tag, s.run) for s in data.series} != set(self.lines):
            self._draw()
            return
        from ...analysis.curves import smooth
        weight = self.weight()
        for s in data.series:
            raw, smoothed = self.lines[(s.tag, s.run)]
            series = s.last_per_step()
            raw.setData(series.steps, series.values)
            if smoothed is not None:
                smoothed.setData(series.steps, smooth(series.values, weight))
        self._summarize(data)

    def _summarize(self, data) -> None:
        runs = {s.run for s in data.series}
        tags = {s.tag for s in data.series}
        points = sum(len(s) for s in data.series)
        problems = len(data.problems)
        self.summary.setText(f"{len(tags)} tags · {len(runs)} run(s) · {points:,} points"
                             + (f" · {problems} damaged record(s) skipped" if problems else ""))

    def _draw_markers(self) -> None:
        """A dashed line at every checkpoint's step; the current one solid."""
        if not self.plots or self.doc.loaded is None:
            return
        import pyqtgraph as pg
        current = self.doc.checkpoint
        for plot in self.plots.values():
            item = plot.getPlotItem()
            for line in getattr(plot, "markers", []):
                item.removeItem(line)
            plot.markers = []
            for c in self.doc.loaded.model.checkpoints:
                if c.step is None or not c.on_disk:
                    continue
                on = current is not None and c.prefix == current.prefix
                pen = pg.mkPen("#888888" if not on else "#e67e22", width=2 if on else 1,
                               style=Qt.SolidLine if on else Qt.DashLine)
                line = pg.InfiniteLine(pos=c.step, angle=90, pen=pen, movable=False)
                line.setToolTip(f"{c.name} (step {c.step}): click to show it")
                item.addItem(line, ignoreBounds=True)
                plot.markers.append(line)

    def checkpoint_near(self, step: float, span: float):
        """The checkpoint whose step is nearest `step`, if within CLICK_SLACK of `span`."""
        best = None
        for c in self.doc.loaded.model.checkpoints:
            if c.step is None or not c.on_disk:
                continue
            gap = abs(c.step - step)
            if best is None or gap < best[0]:
                best = (gap, c)
        if best is not None and best[0] <= max(span * CLICK_SLACK, 0.5):
            return best[1]
        return None

    def _clicked(self, plot, event) -> None:
        vb = plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        (x0, x1), _ = vb.viewRange()
        ckpt = self.checkpoint_near(x, x1 - x0)
        if ckpt is not None:
            self.doc.select_checkpoint(ckpt.prefix)

    # -- the selected variable across the run, on the same step axis --------------------

    def overlay_kind(self) -> str:
        return self.overlay.currentData() if self.slot.built else ""

    def _add_right_axis(self, plot) -> None:
        """A view box of its own, tied to the plot's steps, with the right axis for it."""
        import pyqtgraph as pg
        item = plot.getPlotItem()
        box = pg.ViewBox()
        box.setMouseEnabled(x=False, y=False)
        item.scene().addItem(box)
        item.getAxis("right").linkToView(box)
        box.setXLink(item)

        def follow():
            box.setGeometry(item.vb.sceneBoundingRect())
            box.linkedViewChanged(item.vb, box.XAxis)
        item.vb.sigResized.connect(follow)
        follow()
        plot.overlay_box = box
        plot.overlay_line = None

    def _refresh_overlay(self) -> None:
        """Read the selected variable across the run's checkpoints (shared with Across the
        run through the result cache) when an overlay is asked for and the tab is shown."""
        loaded = self.doc.loaded
        kind = self.overlay_kind()
        key = self.doc.selection.key
        if not kind or key is None or loaded is None or self.isHidden() or not self.plots:
            self._draw_overlay()
            return
        checkpoints = [c for c in loaded.model.checkpoints if c.on_disk]
        wanted = (key, tuple(c.prefix for c in checkpoints))
        if wanted == self._trend_for:
            self._draw_overlay()
            return
        from ...analysis import compare
        from ...formats.model import open_checkpoint
        cache = self.doc.result_cache()

        def task(job):
            readers = [(c.step, open_checkpoint(c)) for c in checkpoints]
            try:
                return compare.trend(readers, key, compare.DEFAULT_BINS, cancelled=job.cancelled, cache=cache)
            finally:
                for _s, r in readers:
                    r.close()

        def done(trend):
            self.trend, self._trend_for = trend, wanted
            self._draw_overlay()

        self.doc.submit("trend", task, done, lambda m, _d: self.summary.setText(f"overlay: {m}"))

    def _draw_overlay(self) -> None:
        import pyqtgraph as pg
        kind = self.overlay_kind()
        trend = self.trend if self._trend_for and self._trend_for[0] == self.doc.selection.key else None
        points = [] if trend is None or not kind else [
            (p.step, getattr(p, kind)) for p in trend.points
            if p.step is not None and getattr(p, kind) is not None]
        label = dict(OVERLAYS).get(kind, "").replace("Variable: ", "")
        for plot in self.plots.values():
            item, box = plot.getPlotItem(), getattr(plot, "overlay_box", None)
            if box is None:
                continue
            if plot.overlay_line is not None:
                box.removeItem(plot.overlay_line)
                plot.overlay_line = None
            if not points:
                item.hideAxis("right")
                continue
            steps, values = zip(*points)
            plot.overlay_line = pg.PlotDataItem(
                steps, values, pen=pg.mkPen(OVERLAY_COLOR, width=2, style=Qt.DashLine),
                symbol="o", symbolSize=6, symbolBrush=OVERLAY_COLOR, symbolPen=None)
            box.addItem(plot.overlay_line)
            box.enableAutoRange(axis=pg.ViewBox.YAxis)
            item.showAxis("right")
            axis = item.getAxis("right")
            axis.setGrid(False)        # the plot's own grid is enough: two grids read as noise
            axis.setLabel(f"{trend.name}: {label}", color=OVERLAY_COLOR)
            axis.setPen(pg.mkPen(OVERLAY_COLOR))
            axis.setTextPen(pg.mkPen(OVERLAY_COLOR))

    def overlay_points(self, tag: str):
        """(steps, values) of the overlay drawn on `tag`'s plot, or None (for tests)."""
        line = getattr(self.plots.get(tag), "overlay_line", None)
        return None if line is None else line.getData()

    def _set_log(self, on: bool) -> None:
        for plot in self.plots.values():
            plot.getPlotItem().setLogMode(y=on)
