"""The run's checkpoints by step: modified time, size, the latest in bold. Choosing one
makes it current in the document."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QMenu, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ...formats.display import human_bytes
from ...document import Document

KIND_TITLES = {"run": "Checkpoints", "savedmodel": "SavedModel variables", "graph": "Checkpoints",
               "checkpoint": "Checkpoints"}


class CheckpointsPanel(QWidget):
    open_requested = Signal(str)      # a written result, to open in a tab of its own

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Checkpoints</b>")
        # Shown while the run is live: each new checkpoint becomes the current one.
        self.follow = QCheckBox("Follow latest")
        self.follow.setToolTip("While training writes this folder, show each new checkpoint "
                               "as it lands")
        self.follow.setVisible(False)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.follow)
        lay.addLayout(head)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Step", "Checkpoint", "Modified", "Size"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.itemSelectionChanged.connect(self._chosen)
        lay.addWidget(self.list)
        self.list.setContextMenuPolicy(Qt.CustomContextMenu)
        self.list.customContextMenuRequested.connect(
            lambda pos: QMenu.exec([self.average_action()], self.list.viewport().mapToGlobal(pos)))
        doc.opened.connect(lambda _l: self._fill())
        doc.checkpoints_changed.connect(lambda _c: self._fill())
        doc.checkpoint_changed.connect(lambda _l: self._mark_current())

    def preferred_height(self) -> int:
        """As tall as its rows (up to ten): the rest of the column goes to the tree."""
        n = self.list.topLevelItemCount()
        rows = min(max(n, 2), 10) + 1
        return (self.list.header().sizeHint().height()
                + rows * (self.list.sizeHintForRow(0) if n else 20)
                + self.title.sizeHint().height() + 12)

    def set_live(self, live: bool) -> None:
        self.follow.setVisible(live)

    def _fill(self) -> None:
        loaded = self.doc.loaded
        checkpoints = loaded.model.checkpoints
        self.list.blockSignals(True)
        self.list.clear()
        for c in checkpoints:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.mtime)) if c.mtime else ""
            step = "" if c.step is None else str(c.step)
            gone = "" if c.on_disk else f"  ({c.note or 'missing'})"
            name = c.name + ("  (latest)" if c.latest else "") + gone
            item = QTreeWidgetItem([step, name, when, human_bytes(c.size) if c.on_disk else ""])
            item.setData(0, Qt.UserRole, c.prefix)
            item.setTextAlignment(0, Qt.AlignRight | Qt.AlignVCenter)
            item.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
            if c.note:   # the one on screen, deleted under it: it stays current, marked
                item.setToolTip(1, f"{c.prefix}: {c.note}")
                item.setForeground(1, self.palette().placeholderText())
            elif not c.on_disk:
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
                item.setToolTip(1, "Listed in the state file, but not on disk")
            else:
                item.setToolTip(1, c.prefix)
            if c.latest:
                f = item.font(1)
                f.setBold(True)
                item.setFont(1, f)
            self.list.addTopLevelItem(item)
        for col in range(4):
            self.list.resizeColumnToContents(col)
        self.list.blockSignals(False)
        self._mark_current()
        n = len(checkpoints)
        self.title.setText(f"<b>{KIND_TITLES.get(loaded.model.kind, 'Checkpoints')}</b> ({n})" if n else
                           "<b>Checkpoints</b> — none: this is a graph without saved values")
        self.setVisible(bool(n))

    def _mark_current(self) -> None:
        current = self.doc.checkpoint
        self.list.blockSignals(True)
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if current is not None and item.data(0, Qt.UserRole) == current.prefix:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def average_action(self):
        from ..edit_actions import can_average
        act = QAction("Average checkpoints…")     # lives as long as its menu
        act.setEnabled(can_average(self.doc))
        act.triggered.connect(self.average)
        return act

    def average(self):
        """The "Average checkpoints…" dialog over this run; returns it (shown)."""
        from ..edit_actions import can_average
        from ..edit_dialog import AverageDialog
        if not can_average(self.doc):
            return None
        dialog = AverageDialog(self.doc, self)
        dialog.written.connect(self.open_requested)
        dialog.open()
        return dialog

    def select_row(self, row: int) -> None:
        """Choose the checkpoint in `row`, as a click does."""
        self.list.setCurrentItem(self.list.topLevelItem(row))

    def _chosen(self) -> None:
        items = self.list.selectedItems()
        if items:
            self.doc.select_checkpoint(items[0].data(0, Qt.UserRole))
