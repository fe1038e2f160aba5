"""The number of histogram bins, as both panels ask for it."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox

from ...analysis.stats import DEFAULT_BINS

MAX_BINS = 10_000


def bins_spin_box(tooltip: str) -> QSpinBox:
    """Changes only when the user commits a number (no recomputation per keystroke)."""
    spin = QSpinBox()
    spin.setRange(1, MAX_BINS)
    spin.setValue(DEFAULT_BINS)
    spin.setKeyboardTracking(False)
    spin.setAccelerated(True)
    spin.setToolTip(tooltip)
    return spin
