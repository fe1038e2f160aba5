"""Spacing shared by the value panels, and the rows their tabs are made of."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

MARGIN = 10
SPACING = 6


def tab_page() -> tuple[QWidget, QVBoxLayout]:
    """A tab's page and its layout, spaced like every other tab of the value panels."""
    page = QWidget()
    lay = QVBoxLayout(page)
    lay.setContentsMargins(0, SPACING, 0, 0)
    lay.setSpacing(SPACING)
    return page, lay


def caption_rows(lay: QVBoxLayout, caption: QLabel, readout: QLabel, *middle: QWidget) -> None:
    """The caption (and `middle` controls) on a line, the hover readout below it: a
    readout is long, and on a line of its own it is never cut."""
    bar = QHBoxLayout()
    bar.setSpacing(12)
    caption.setWordWrap(True)
    bar.addWidget(caption, 1)
    for w in middle:
        bar.addWidget(w, 0)
    lay.addLayout(bar)
    readout.setWordWrap(True)
    lay.addWidget(readout)
