"""The "Layers" tab of a Keras-made SavedModel: its layers as Keras lists them (nested
models indented), each with its class, parameter count and weights; a weight's row selects
its variable (the value panel shows its values), a layer's row shows its config. What the
layers are is app.formats.keras_layers'; this is the view."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHeaderView, QLabel, QSplitter, QTextBrowser, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ...document import Document, Selection

ORIGIN = "layers"
KEY_ROLE = Qt.UserRole
LAYER_ROLE = Qt.UserRole + 1


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class LayersPanel(QWidget):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.source = QLabel()
        self.source.setWordWrap(True)
        lay.addWidget(self.source)
        split = QSplitter(Qt.Vertical)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Layer / weight", "Class / dtype", "Shape", "Params"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for c in (1, 2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.tree.currentItemChanged.connect(self._chosen)
        split.addWidget(self.tree)
        self.config = QTextBrowser()
        self.config.setPlaceholderText("Select a layer to see its config, a weight to see its values.")
        split.addWidget(self.config)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self._items: dict[str, QTreeWidgetItem] = {}   # checkpoint key → its weight's row
        self._following = False
        doc.opened.connect(lambda _l: self._fill())
        doc.graph_changed.connect(lambda _l: self._fill())
        doc.selection_changed.connect(self._follow)

    @property
    def available(self) -> bool:
        loaded = self.doc.loaded
        return loaded is not None and loaded.layers is not None and bool(loaded.layers.layers)

    def _fill(self) -> None:
        self.tree.clear()
        self._items.clear()
        self.config.clear()
        if not self.available:
            return
        layers = self.doc.loaded.layers
        count = len([la for la in layers.layers if not la.is_model])
        text = f"<b>{count} layer{'s' if count != 1 else ''}</b> — from {html.escape(layers.source)}"
        if layers.note:
            text += f"<br><i>{html.escape(layers.note)}</i>"
        self.source.setText(text)
        parents: list[QTreeWidgetItem] = []       # the open layer at each depth
        totals: list[list] = []                    # [item, parameters beneath] of the open layers
        for layer in layers.layers:
            item = QTreeWidgetItem([layer.name, layer.class_name or ("model" if layer.is_model else "?"), "",
                                    f"{layer.params:,}" if layer.params else ""])
            item.setData(0, LAYER_ROLE, layer)
            item.setToolTip(0, layer.path)
            item.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
            depth = min(layer.depth, len(parents))   # never below a layer that is not its parent
            del parents[depth:]
            del totals[depth:]
            if parents:
                parents[-1].addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            parents.append(item)
            for entry in totals:                    # a model's row counts its layers' weights
                entry[1] += layer.params
                if entry[1]:
                    entry[0].setText(3, f"{entry[1]:,}")
            totals.append([item, layer.params])
            for w in layer.weights:
                child = QTreeWidgetItem([w.name, w.dtype, _shape(w.shape), f"{w.size:,}"])
                child.setData(0, KEY_ROLE, w.key)
                child.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
                tip = f"variable {w.variable}" + ("" if w.trainable else " (not trainable)")
                child.setToolTip(0, tip + (f"\nvalue: {w.key}" if w.key else "\nno saved value found"))
                if not w.key:
                    child.setForeground(0, self.palette().mid())
                item.addChild(child)
                if w.key:
                    self._items.setdefault(w.key, child)
        self.tree.expandAll()

    def _chosen(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        if item is None or self._following:
            return
        layer = item.data(0, LAYER_ROLE)
        if layer is not None:
            self.config.setHtml(self._config_html(layer))
            return
        key = item.data(0, KEY_ROLE)
        parent = item.parent().data(0, LAYER_ROLE) if item.parent() is not None else None
        if parent is not None:
            self.config.setHtml(self._config_html(parent))
        if key:
            self.doc.select(Selection(key=key, op=self.doc.op_for_tensor(key), origin=ORIGIN))

    @staticmethod
    def _config_html(layer) -> str:
        head = (f"<b>{html.escape(layer.name)}</b> &nbsp;<i>{html.escape(layer.class_name or 'class unknown')}</i>"
                f" &nbsp;<code>{html.escape(layer.path)}</code><br>{layer.params:,} parameters in "
                f"{len(layer.weights)} weight{'s' if len(layer.weights) != 1 else ''}")
        if layer.config is None:
            return head + "<p><i>No config saved for this layer.</i></p>"
        config = {k: v for k, v in layer.config.items() if k != "layers"}   # a model's layers are listed above
        text = json.dumps(config, indent=2, sort_keys=True, default=str)
        return head + f"<pre>{html.escape(text)}</pre>"

    def _follow(self, selection: Selection) -> None:
        if selection.origin == ORIGIN or selection.key is None:
            return
        item = self._items.get(selection.key)
        if item is not None:
            self._following = True
            try:
                self.tree.setCurrentItem(item)
            finally:
                self._following = False
