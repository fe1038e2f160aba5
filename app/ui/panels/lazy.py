"""A place for a panel that is built the first time it is needed: until then it shows a
greyed hint. The window shows a model sooner, and modules such as pyqtgraph and numpy
load only once used."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget


class LazySlot(QStackedWidget):
    def __init__(self, build: Callable[[], QWidget], hint: str = "", parent=None):
        super().__init__(parent)
        self._build = build
        self._content: QWidget | None = None
        self.placeholder = QLabel(hint)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self.addWidget(self.placeholder)

    @property
    def built(self) -> bool:
        return self._content is not None

    @property
    def content(self) -> QWidget:
        """The panel, built now if it was not yet."""
        if self._content is None:
            self._content = self._build()
            self.addWidget(self._content)
            self.setCurrentWidget(self._content)
        return self._content

    def hint(self, text: str) -> None:
        self.placeholder.setText(text)
