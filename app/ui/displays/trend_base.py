"""What the displays of a run's trend share: they take a whole Trend, and every one of them
fits any trend (each says itself when there is nothing to draw)."""

from __future__ import annotations

from ...analysis.compare import Trend
from .base import Display


class TrendDisplay(Display):
    PRIORITY = 1     # subclasses: their rank among the trend's tabs

    def __init__(self, font, parent=None):
        super().__init__(parent)
        self._mono = font
        self._trend: Trend | None = None

    def priority(self, info: Trend | None) -> int:
        return self.PRIORITY if info is not None else 0

    def reason(self, info) -> str:
        return "No trend"

    def set_trend(self, trend: Trend | None) -> None:
        self._trend = trend
        self.invalidate()
