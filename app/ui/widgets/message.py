"""Content that gives way to a centred message: a whole panel (nothing chosen, computing,
an error) or one plot (nothing to draw, and why)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from .layout import MARGIN, SPACING


class NotePage(QStackedWidget):
    """`content`, or a centred note in its place."""

    def __init__(self, content: QWidget, margins: int = 0, parent=None):
        super().__init__(parent)
        self.content = content
        self.addWidget(content)
        self.note = QLabel()
        self.note.setAlignment(Qt.AlignCenter)
        self.note.setWordWrap(True)
        if margins:
            self.note.setContentsMargins(margins, margins, margins, margins)
        self.addWidget(self.note)

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.setCurrentWidget(self.note)

    def show_content(self) -> None:
        self.setCurrentWidget(self.content)

    def note_text(self) -> str:
        """The note on screen, or "" while the content is."""
        return self.note.text() if self.currentWidget() is self.note else ""


class MessagePanel(QWidget):
    """A panel whose content gives way to a centred message. Subclasses set EMPTY_TEXT, lay
    their content out in `_build_pages()`, and restyle in `apply_palette()`, which runs once
    per palette change (dark mode) for the whole panel."""

    EMPTY_TEXT = ""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._applying_palette = False

    def _build_pages(self) -> QVBoxLayout:
        """The message page and the content page; returns the content's layout."""
        self._content = QWidget()
        self._pages = NotePage(self._content, margins=24)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._pages)
        message = self._pages.note
        message.setText(self.EMPTY_TEXT)
        message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        mfont = message.font()
        mfont.setPointSizeF(mfont.pointSizeF() * 1.1)
        message.setFont(mfont)
        lay = QVBoxLayout(self._content)
        lay.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        lay.setSpacing(SPACING)
        return lay

    def show_message(self, text: str) -> None:
        """A centred message in place of the content."""
        self._pages.show_note(text)

    def _show_content(self) -> None:
        self._pages.show_content()

    def message(self) -> str:
        """The message on screen, or "" while the content is."""
        return self._pages.note_text()

    def showing_content(self) -> bool:
        return self._pages.currentWidget() is self._content

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and not self._applying_palette:
            self._applying_palette = True
            try:
                self.apply_palette()
            finally:
                self._applying_palette = False

    def apply_palette(self) -> None:
        self._pages.note.setForegroundRole(QPalette.PlaceholderText)


def confirm_unsafe_ops(parent: QWidget, title: str, lead: str, ops: list[str], advice: str) -> bool:
    """Ask before ops that touch files, processes or the network run: `lead`, the ops (the
    first 12), `advice`. No is the default."""
    shown = "\n".join(f"• {op}" for op in ops[:12])
    if len(ops) > 12:
        shown += f"\n… and {len(ops) - 12} more"
    answer = QMessageBox.warning(parent, title, f"{lead}\n\n{shown}\n\n{advice}",
                                 QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes
