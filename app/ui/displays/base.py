"""What every display is: a judge of fit, a lazily built page, and drawing deferred until
the page is on screen."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..widgets.layout import tab_page


class Display(QObject):
    """One way of showing data.

    priority(info)  how well it fits data described by `info`: 0 not at all, higher better
    reason(info)    why it does not fit (a disabled tab's tooltip)
    widget()        its page, built on first call
    invalidate()    the data changed: redraw now if on screen, else when next shown
    refresh()       draw now if anything changed since the last drawing (accessors call it
                    so that what they report is what the page would show)

    Subclasses set `name` (what the panel's `display(name)` finds it by), `title` (the tab)
    and `tooltip`, lay their page out in `_build(layout)` and draw in `_draw()`.
    """

    name = ""
    title = ""
    tooltip = ""
    REDRAWS_ON_PALETTE = False     # colours of the drawing itself follow the palette

    def __init__(self, parent=None):
        super().__init__(parent)
        self._page: QWidget | None = None
        self._layout: QVBoxLayout | None = None
        self._built = False
        self._stale = False
        self._on_screen = False
        self._palette: QPalette | None = None

    # -- fit ------------------------------------------------------------------------------

    def priority(self, info) -> int:
        raise NotImplementedError

    def reason(self, info) -> str:
        return ""

    # -- the page -------------------------------------------------------------------------

    def page(self) -> QWidget:
        """The (empty until built) page a tab holds."""
        if self._page is None:
            self._page, self._layout = tab_page()
        return self._page

    def widget(self) -> QWidget:
        """The page with its content, built on first call."""
        page = self.page()
        if not self._built:
            self._built = True
            self._build(self._layout)
            if self._palette is not None:
                self._style(self._palette)
            self._stale = True
        return page

    def built(self) -> bool:
        return self._built

    def _build(self, lay: QVBoxLayout) -> None:
        raise NotImplementedError

    def _style(self, palette: QPalette) -> None:
        """Restyle the built page for `palette`."""

    # -- drawing --------------------------------------------------------------------------

    def _draw(self) -> None:
        raise NotImplementedError

    def invalidate(self) -> None:
        self._stale = True
        if self._on_screen:
            self.refresh()

    def refresh(self) -> None:
        self.widget()
        if self._stale:
            self._stale = False
            self._draw()

    def needs_drawing(self) -> bool:
        """The page is not drawn for the current data (it is not on screen)."""
        return self._stale or not self._built

    def set_on_screen(self, shown: bool) -> None:
        self._on_screen = shown
        if shown:
            self.refresh()

    def on_screen(self) -> bool:
        return self._on_screen

    # -- look -----------------------------------------------------------------------------

    def apply_palette(self, palette: QPalette) -> None:
        self._palette = QPalette(palette)
        if self._built:
            self._style(palette)
            if self.REDRAWS_ON_PALETTE:
                self.invalidate()

    def palette(self) -> QPalette:
        """The panel's palette (dark or light), as last handed in."""
        return self._palette if self._palette is not None else self.page().palette()
