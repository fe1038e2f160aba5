"""An image on a plot with an interactive colour bar beside it, or a note saying why there
is no image. The caller hands in the image, its place and its levels; this widget knows
nothing of tensors or checkpoints."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame

from .message import NotePage
from .theme import sequential_map, style_axes, style_colour_bar


MAX_STRETCH = 4.0     # a cell is drawn at most this many times taller than wide, or wider
MIN_HEIGHT = 130      # below this the colour bar's labels overlap
THIN = 8              # a slice with fewer rows or columns than this fills the plot


class Heatmap(NotePage):
    """`hovered(point)`: the mouse is over the plot at `point` (plot coordinates), or has
    left it (None)."""

    hovered = Signal(object)

    def __init__(self, axis_items: dict | None = None, note_margins: int = 0, keep_aspect: bool = False,
                 parent=None):
        canvas = pg.GraphicsLayoutWidget()
        canvas.setFrameShape(QFrame.NoFrame)
        super().__init__(canvas, margins=note_margins, parent=parent)
        self.canvas = canvas
        self.plot = self.canvas.addPlot(axisItems=axis_items)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        bar_args = dict(values=(0, 1), colorMap=sequential_map(), width=14, interactive=True,
                        rounding=1e-6)
        try:
            self.bar = pg.ColorBarItem(**bar_args, colorMapMenu=False)
        except TypeError:     # pyqtgraph before the colour map menu
            self.bar = pg.ColorBarItem(**bar_args)
        self.bar.setImageItem(self.image_item, insert_in=self.plot)
        self.canvas.scene().sigMouseMoved.connect(self._moved)
        canvas.setMinimumHeight(MIN_HEIGHT)
        self._rect: QRectF | None = None
        self.keep_aspect = keep_aspect     # cells of an image of data, not of a chart
        self.plot.getViewBox().sigResized.connect(lambda _vb: self.fit_aspect())

    def set_image(self, image, rect: QRectF, levels: tuple[float, float],
                  colour_map: pg.ColorMap | None = None) -> None:
        """Draw `image` (rows × columns) over `rect`, coloured from levels[0] to levels[1]."""
        lo, hi = levels
        self.image_item.setImage(image, autoLevels=False, levels=(lo, hi))
        self.image_item.setRect(rect)
        self.bar.rounding = (hi - lo) / 1000.0
        if colour_map is not None:
            self.bar.setColorMap(colour_map)
        self.bar.setLevels((lo, hi))
        self._rect = QRectF(rect)
        self.show_content()
        self.fit_aspect()

    def stretch(self) -> float | None:
        """How many times taller than wide a cell is drawn (None: no image)."""
        vb = self.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        w, h = vb.width(), vb.height()
        if self._rect is None or w <= 0 or h <= 0 or x1 <= x0 or y1 <= y0:
            return None
        return (h / (y1 - y0)) / (w / (x1 - x0))

    def fit_aspect(self) -> None:
        """Fill the plot when that draws cells at most MAX_STRETCH times taller than wide
        (or wider than tall), or when the slice has fewer than THIN rows or columns;
        otherwise keep that bound and leave the rest blank: a 172 × 88 slice squeezed into
        a strip 40 px tall shows nothing of its shape."""
        vb = self.plot.getViewBox()
        rect, w, h = self._rect, vb.width(), vb.height()
        if not self.keep_aspect or rect is None or w <= 0 or h <= 0 or rect.width() <= 0 or rect.height() <= 0:
            return
        fill = (h / rect.height()) / (w / rect.width())
        bounded = min(max(fill, 1 / MAX_STRETCH), MAX_STRETCH)
        if min(rect.width(), rect.height()) < THIN:
            bounded = fill      # a few rows or columns: bars to read, not a shape to keep
        if bounded == fill:
            if vb.state["aspectLocked"]:
                vb.setAspectLocked(False)
        else:
            vb.setAspectLocked(True, ratio=1 / bounded)     # pyqtgraph: x scale / y scale
        vb.autoRange(padding=0.01)

    def image(self):
        """The image drawn (None when cleared)."""
        return self.image_item.image

    def clear(self) -> None:
        self.image_item.clear()
        self._rect = None

    def point_at(self, scene_pos: QPointF) -> QPointF | None:
        """The plot coordinates of a scene position, None outside the plot."""
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        return vb.mapSceneToView(scene_pos)

    def scene_pos(self, point: QPointF) -> QPointF:
        """The scene position of plot coordinates (where a pointer would be)."""
        return self.plot.getViewBox().mapViewToScene(point)

    def _moved(self, scene_pos: QPointF) -> None:
        self.hovered.emit(self.point_at(scene_pos))

    def apply_palette(self, palette: QPalette) -> None:
        self.canvas.setBackground(palette.color(QPalette.Base))
        style_axes(self.plot, palette, ("left", "bottom", "right"))
        style_colour_bar(self.bar, palette)
        self.note.setForegroundRole(QPalette.PlaceholderText)
