"""A non-modal message strip over a model's tab: one line, details on demand, dismissable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout


class Banner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        row = QHBoxLayout()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.toggle = QPushButton("Details")
        self.toggle.setCheckable(True)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(self.text, 1)
        row.addWidget(self.toggle)
        row.addWidget(close)
        lay.addLayout(row)
        self.details = QTextBrowser()
        self.details.setMaximumHeight(140)
        self.details.hide()
        self.toggle.toggled.connect(self.details.setVisible)
        lay.addWidget(self.details)
        self.hide()

    def show_message(self, text: str, more: str = "", error: bool = True) -> None:
        self.setStyleSheet("#banner { background: %s; border-radius: 4px; }"
                           % ("rgba(192,57,43,0.18)" if error else "rgba(241,196,15,0.20)"))
        self.text.setText(text)
        self.details.setPlainText(more)
        self.toggle.setVisible(bool(more))
        self.toggle.setChecked(False)
        self.show()
