"""A run's output as a person reads it, beside the Run tab's results: class scores as a
top-k table with their labels, an image-shaped output as a picture, token ids as text, a
2-D map as a heatmap. What an output is and how it ranks is app.analysis.outputs'; this
is the page, with a button to pick the labels file when the model ships none."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QPushButton, QSizePolicy, QSpinBox, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...analysis import outputs

_NOTE = ("Pick a result to read it here: class scores as the top classes with their labels, "
         "an image output as a picture, token ids as text, a 2-D output as a heatmap.")


def _percent(p: float) -> str:
    """A probability as people read it: 45.93 %, 0.0012 % (small ones keep 2 digits)."""
    if not np.isfinite(p):
        return str(p)
    pct = p * 100
    return f"{pct:.2f} %" if pct >= 0.01 or pct == 0 else f"{pct:.2g} %"


class _Picture(QLabel):
    """An image scaled to the room it has, keeping its aspect; small images stay sharp."""

    def __init__(self):
        super().__init__()
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self._pixmap: QPixmap | None = None

    def set_array(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        c = rgb.shape[2] if rgb.ndim == 3 else 1
        data = np.ascontiguousarray(rgb if c != 1 else rgb[..., 0])
        fmt = {1: QImage.Format_Grayscale8, 3: QImage.Format_RGB888, 4: QImage.Format_RGBA8888}[c]
        self._data = data  # QImage does not own the buffer
        self._pixmap = QPixmap.fromImage(QImage(data.data, w, h, data.strides[0], fmt))
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is None:
            return
        size = self.size()
        small = self._pixmap.width() * 2 <= size.width()
        self.setPixmap(self._pixmap.scaled(size, Qt.KeepAspectRatio,
                                           Qt.FastTransformation if small else Qt.SmoothTransformation))


class RunOutputView(QWidget):
    """`set_model_path(path)` finds the labels (and vocabulary) the model ships;
    `show_output(name, value)` reads one fetched value. `labels_path` is the labels file in
    use; `choose_labels(path)` sets one (the button asks for it)."""

    labels_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.labels_path: str | None = None
        self._labels: outputs.Labels | None = None
        self._vocabulary: list[str] | None = None
        self._chosen = False                 # the user picked the labels: kept across models
        self._current: tuple[str, object] | None = None
        self.kind: str | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        head = QHBoxLayout()
        head.setContentsMargins(4, 2, 4, 0)
        self.title = QLabel()
        self.title.setTextFormat(Qt.RichText)
        self.title.setWordWrap(True)
        self.k = QSpinBox()
        self.k.setRange(1, 100)
        self.k.setValue(5)
        self.k.setPrefix("top ")
        self.k.setToolTip("How many classes to list")
        self.k.valueChanged.connect(self._redraw)
        self.btn_labels = QPushButton("Labels…")
        self.btn_labels.setToolTip("Choose the file of class names (one a line) for class scores")
        self.btn_labels.clicked.connect(self._pick_labels)
        head.addWidget(self.title, 1)
        head.addWidget(self.k)
        head.addWidget(self.btn_labels)
        lay.addLayout(head)
        self.labels_note = QLabel()
        self.labels_note.setStyleSheet("color: palette(mid); padding-left: 4px;")
        self.labels_note.setWordWrap(True)
        lay.addWidget(self.labels_note)

        self.pages = QStackedWidget()
        self.note = QLabel(_NOTE)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignCenter)
        self.note.setEnabled(False)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["#", "Class", "Score", ""])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.picture = _Picture()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.heatmap = None                  # built on first use (pyqtgraph)
        for w in (self.note, self.table, self.picture, self.text):
            self.pages.addWidget(w)
        lay.addWidget(self.pages, 1)
        self._update_head()

    # -- labels -------------------------------------------------------------------------

    def set_model_path(self, path: str | None) -> None:
        """The labels and vocabulary the model at `path` ships (unless the user chose)."""
        self._vocabulary = None
        if path:
            vocab = outputs.find_labels(path, vocabulary=True)
            if vocab:
                try:
                    self._vocabulary = outputs.read_labels(vocab).names
                except (OSError, ValueError):
                    self._vocabulary = None
        if not self._chosen:
            found = outputs.find_labels(path) if path else None
            self._load_labels(found, quiet=True)
        self._redraw()

    def choose_labels(self, path: str) -> bool:
        ok = self._load_labels(path, quiet=False)
        self._chosen = ok or self._chosen
        self._redraw()
        return ok

    def _load_labels(self, path: str | None, quiet: bool) -> bool:
        if path is None:
            self._labels, self.labels_path = None, None
            return False
        try:
            labels = outputs.read_labels(path)
        except (OSError, ValueError) as e:
            if not quiet:
                self.labels_note.setText(f"{os.path.basename(path)} cannot be read as labels: {e}")
            return False
        self._labels, self.labels_path = labels, path
        self.labels_changed.emit(path)
        return True

    def _pick_labels(self) -> None:
        start = os.path.dirname(self.labels_path) if self.labels_path else ""
        path, _f = QFileDialog.getOpenFileName(self, "Class names, one a line", start,
                                               "Labels (*.txt *.json *.labels);;All files (*)")
        if path:
            self.choose_labels(path)

    # -- showing ------------------------------------------------------------------------

    def show_output(self, name: str | None, value) -> None:
        self._current = None if name is None else (name, value)
        self._redraw()

    def _redraw(self, *_args) -> None:
        if self._current is None:
            self.kind = None
            self.pages.setCurrentWidget(self.note)
            self._update_head()
            return
        name, value = self._current
        self.kind = outputs.kind(value)
        if self.kind == "tokens" and not self._vocabulary:
            self.kind = None
        if self.kind == "scores":
            self._show_scores(name, value)
        elif self.kind == "image":
            img = outputs.image_of(value)
            self.picture.set_array(img)
            self.pages.setCurrentWidget(self.picture)
            self.title.setText(f"<b>{name}</b> as an image, {img.shape[1]}×{img.shape[0]}")
            self.labels_note.setText("")
        elif self.kind == "tokens":
            self.text.setPlainText(outputs.decode_tokens(value, self._vocabulary))
            self.pages.setCurrentWidget(self.text)
            self.title.setText(f"<b>{name}</b> decoded with the model's vocabulary")
            self.labels_note.setText("")
        elif self.kind == "heatmap":
            self._show_heatmap(name, value)
        else:
            self.note.setText(f"{name}: nothing to read here beyond the value "
                              f"(shown in the value panel)." if name else _NOTE)
            self.pages.setCurrentWidget(self.note)
            self.title.setText("")
            self.labels_note.setText("")
        self._update_head()

    def _update_head(self) -> None:
        scores = self.kind == "scores"
        self.k.setVisible(scores)
        self.btn_labels.setVisible(scores or self.kind is None)
        self.title.setVisible(bool(self.title.text()) and self.kind is not None)

    def _show_scores(self, name: str, value) -> None:
        arr = np.asarray(value)
        classes = outputs.without_batch(arr).shape[-1]
        names, note = self._labels.fit(classes) if self._labels else (
            None, "no labels: the model ships none — choose a file with Labels…")
        ranked = outputs.top_k(value, self.k.value(), names)
        logits = bool(ranked) and ranked[0].probability is not None
        batch = f" (first of a batch of {arr.shape[0]})" if arr.ndim == 2 and arr.shape[0] > 1 else ""
        self.title.setText(f"<b>{name}</b>: top {len(ranked)} of {classes:,} classes{batch}")
        self.labels_note.setText(note)
        t = self.table
        t.setHorizontalHeaderLabels(["#", "Class", "Logit" if logits else "Probability",
                                     "Softmax" if logits else ""])
        t.setColumnHidden(3, not logits)
        t.setRowCount(len(ranked))
        top = ranked[0].probability if logits else ranked[0].score
        for i, r in enumerate(ranked):
            label = r.label if r.label is not None else f"class {r.index}"
            cells = [str(r.index), label, f"{r.score:.6g}" if logits else _percent(r.score),
                     "" if r.probability is None else _percent(r.probability)]
            share = r.probability if logits else r.score
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c == 1 and r.label is not None:
                    item.setToolTip(f"{label}  (index {r.index})")
                elif c >= 2:
                    item.setToolTip(f"{r.score!r}" if c == 2 else f"{r.probability!r}")
                t.setItem(i, c, item)
            if share is not None and top:
                t.item(i, 1).setData(Qt.UserRole, share)
        self._bars(ranked, logits)
        self.pages.setCurrentWidget(t)

    def _bars(self, ranked, logits: bool) -> None:
        """A bar behind each class name, as long as its probability."""
        from PySide6.QtGui import QBrush, QColor, QLinearGradient
        color = self.palette().highlight().color()
        for i, r in enumerate(ranked):
            p = r.probability if logits else r.score
            if p is None or not np.isfinite(p):
                continue
            p = float(min(max(p, 0.0), 1.0))
            grad = QLinearGradient(0, 0, 1, 0)
            grad.setCoordinateMode(QLinearGradient.ObjectMode)
            fill = QColor(color)
            fill.setAlpha(70)
            grad.setColorAt(0, fill)
            grad.setColorAt(max(p - 1e-3, 0), fill)
            grad.setColorAt(min(p + 1e-3, 1), QColor(0, 0, 0, 0))
            grad.setColorAt(1, QColor(0, 0, 0, 0))
            self.table.item(i, 1).setBackground(QBrush(grad))

    def _show_heatmap(self, name: str, value) -> None:
        from ..widgets.heatmap import Heatmap
        from ..widgets.theme import value_colours
        if self.heatmap is None:
            self.heatmap = Heatmap()
            self.pages.addWidget(self.heatmap)
        img = outputs.without_batch(np.asarray(value)).astype(np.float32)
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        lo, hi, cmap = value_colours(lo, hi, self.palette())
        rows, cols = img.shape
        self.heatmap.set_image(np.nan_to_num(img, nan=lo), QRectF(0, 0, cols, rows), (lo, hi), cmap)
        self.heatmap.plot.autoRange(padding=0.01)
        self.pages.setCurrentWidget(self.heatmap)
        self.title.setText(f"<b>{name}</b> as a heatmap, {rows:,}×{cols:,} (range {lo:.4g} … {hi:.4g})")
        self.labels_note.setText("")

    # -- for tests -----------------------------------------------------------------------

    def rows(self) -> list[tuple[str, str, str]]:
        """The top-k table: (index, label, exact score) per row."""
        t = self.table
        return [(t.item(r, 0).text(), t.item(r, 1).text(), t.item(r, 2).toolTip())
                for r in range(t.rowCount())]
