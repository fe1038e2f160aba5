"""Text pieces of the panels: fonts, the title line, selectable labels."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QLabel, QLineEdit, QSizePolicy


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


def blend_title_field(field: QLineEdit, palette: QPalette) -> None:
    """A title field reads as a label: its background is the window's (again after each
    palette change: light or dark)."""
    own = field.palette()
    own.setColor(QPalette.Base, palette.color(QPalette.Window))
    field.setPalette(own)


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SelectableLabel(QLabel):
    """A label whose text can be selected and copied."""

    def __init__(self, text: str = "", parent=None, selectable: bool = True):
        super().__init__(text, parent)
        if selectable:
            self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
