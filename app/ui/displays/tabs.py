"""The tabs of a panel: one per display, the fitting ones first and enabled, in priority
order; the others disabled, their tooltip saying why. Only the display on screen draws."""

from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QTabWidget

from .base import Display


class DisplayTabs(QTabWidget):

    def __init__(self, displays: list[Display], parent=None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self._displays = list(displays)     # registration order: ties keep it
        self._by_page = {}
        self._holding = False
        for d in self._displays:
            page = d.page()
            self._by_page[page] = d
            i = self.addTab(page, d.title)
            self.setTabToolTip(i, d.tooltip)
        self.currentChanged.connect(lambda _i: self._follow_current())
        self._follow_current()

    # -- what is offered ------------------------------------------------------------------

    def offer(self, info) -> None:
        """Arrange the tabs for data described by `info`."""
        ranked = [(d.priority(info), k, d) for k, d in enumerate(self._displays)]
        order = [d for _p, _k, d in sorted(ranked, key=lambda r: (r[0] <= 0, -r[0], r[1]))]
        bar = self.tabBar()
        for to, d in enumerate(order):
            at = self.indexOf(d.page())
            if at != to:
                bar.moveTab(at, to)
        fits = {id(d): p > 0 for p, _k, d in ranked}
        for i, d in enumerate(order):    # in tab order: Qt moves off a disabled tab forwards
            ok = fits[id(d)]
            self.setTabEnabled(i, ok)
            self.setTabToolTip(i, d.tooltip if ok else d.reason(info))

    @contextmanager
    def holding(self):
        """Feed every display new data, then draw only the one on screen, once."""
        was = self._holding
        self._holding = True
        current = self.current()
        if current is not None:
            current.set_on_screen(False)
        try:
            yield
        finally:
            self._holding = was
            if not was:
                self._follow_current()

    def _follow_current(self) -> None:
        if self._holding:
            return
        current = self.current()
        for d in self._displays:
            if d is not current and d.on_screen():
                d.set_on_screen(False)
        if current is not None:
            current.set_on_screen(True)

    # -- looking up -----------------------------------------------------------------------

    def current(self) -> Display | None:
        return self._by_page.get(self.currentWidget())

    def display(self, name: str) -> Display:
        for d in self._displays:
            if d.name == name:
                return d
        raise KeyError(name)

    def offered(self) -> list[str]:
        """Names of the displays whose tabs are enabled, in tab order."""
        return [self._by_page[self.widget(i)].name for i in range(self.count())
                if self.isTabEnabled(i)]

    def tab_tooltip(self, name: str) -> str:
        """The tooltip of a display's tab: what it shows, or why it is not offered."""
        return self.tabToolTip(self.indexOf(self.display(name).page()))

    def show_display(self, name: str) -> Display:
        d = self.display(name)
        self.setCurrentWidget(d.page())
        return d

    def apply_palette(self, palette: QPalette) -> None:
        for d in self._displays:
            d.apply_palette(palette)


class DisplayHost:
    """What a panel made of `DisplayTabs` (its `tabs`) offers its owner and the tests."""

    tabs: DisplayTabs

    def displays(self) -> list[str]:
        """The names of the displays offered for what is shown, in tab order."""
        return self.tabs.offered()

    def display(self, name: str) -> Display:
        return self.tabs.display(name)

    def show_display(self, name: str) -> Display:
        """Bring a display's tab to the front."""
        return self.tabs.show_display(name)
