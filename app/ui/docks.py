"""A model tab's panels as docks, arranged as users of silx, Spyder or napari expect:
each panel can be resized, tabbed with others, floated into a window of its own, closed
and brought back (View ▸ Panels), or maximized over the others and restored.

`DockArea` is a QMainWindow used as a widget inside the model's tab. Its default
arrangement is declared once (`DEFAULT`); the arrangement the user makes is saved as Qt's
state blob together with the names of the panels it knows, so that a blob written by an
older version, or for another set of panels, never leaves the window broken: a blob Qt
refuses gives the default layout, panels the blob does not know go to their default
place, and floating panels left on a screen that is gone come back into the window.

`PanelGroup` is what used to be a tab widget of panels (the side tabs, the value tabs):
"bring this panel to the front", "which one was last in front", "is it offered for this
model", with the names of QTabWidget's methods that the view and its callers use.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QMainWindow, QSizePolicy,
                               QStyle, QTabWidget, QToolButton, QWidget)

# Bumped whenever the panels' names or the meaning of the saved blob change: Qt then
# refuses an older blob and the default layout is used.
LAYOUT_VERSION = 1

LEFT, RIGHT = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea

# The default arrangement: per side, a column of tab groups (panel names, the first in
# front), with the relative heights of the groups and the sides' widths in pixels (scaled
# to the window by Qt).
DEFAULT = (
    (LEFT, 420, ((("checkpoints",), 1), (("tree",), 4))),
    (RIGHT, 820, ((("variables", "details", "layers", "compare", "run"), 2),
                  (("value", "trend", "training"), 3))),
)


class PanelTitle(QWidget):
    """A dock's title bar: its name, then maximize, float and close buttons. Presses the
    buttons do not take are left to the dock (drag to move, double-click to float)."""

    def __init__(self, dock: "PanelDock"):
        super().__init__(dock)
        self.dock = dock
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 0, 2, 0)
        lay.setSpacing(1)
        self.label = QLabel(dock.windowTitle())
        self.label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        font = self.label.font()
        font.setBold(True)
        self.label.setFont(font)
        lay.addWidget(self.label, 1)
        style = self.style()
        self.maximize_button = self._button(style.standardIcon(QStyle.SP_TitleBarMaxButton),
                                            "Maximize this panel over the others (again: restore them)",
                                            dock.toggle_maximized)
        self.float_button = self._button(style.standardIcon(QStyle.SP_TitleBarNormalButton),
                                         "Float this panel in a window of its own (again: dock it)",
                                         lambda: dock.setFloating(not dock.isFloating()))
        self.close_button = self._button(style.standardIcon(QStyle.SP_TitleBarCloseButton),
                                         "Close this panel (View ▸ Panels brings it back)", dock.close)
        for b in (self.maximize_button, self.float_button, self.close_button):
            lay.addWidget(b)
        dock.windowTitleChanged.connect(self.label.setText)

    def adopt(self, widgets: list[QWidget]) -> None:
        """Show the panel's own header (its title label first, then its controls) here,
        instead of the plain name: one row instead of two saying the same."""
        lay = self.layout()
        self.label.hide()
        for i, w in enumerate(widgets):
            lay.insertWidget(i, w, 1 if i == 0 else 0)
        # a long title ("Graph — saved_model.pb [serve], 95,000 ops") is cut, rather than
        # widening the column's minimum
        widgets[0].setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        widgets[0].setMinimumWidth(60)
        self._adopted = True

    def follow_tabs(self, tabbed: bool) -> None:
        """Tabbed with others, the tab names the panel: the bar keeps only its buttons."""
        if not getattr(self, "_adopted", False):
            self.label.setText("" if tabbed else self.dock.windowTitle())

    def _button(self, icon, tip: str, slot) -> QToolButton:
        b = QToolButton(self)
        b.setIcon(icon)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.setFocusPolicy(Qt.NoFocus)
        side = self.fontMetrics().height()
        b.setFixedSize(side, side)
        b.clicked.connect(slot)
        return b

    def set_maximized(self, on: bool) -> None:
        icon = QStyle.SP_TitleBarNormalButton if on else QStyle.SP_TitleBarMaxButton
        self.maximize_button.setIcon(self.style().standardIcon(icon))
        self.maximize_button.setToolTip("Restore the other panels" if on else
                                        "Maximize this panel over the others (again: restore them)")


class PanelDock(QDockWidget):
    """One panel. `on_screen()`: its page is what the user sees (not a tab behind another,
    not closed, not hidden by a maximized panel)."""

    shown = Signal(bool)       # on screen or not, as it changes

    def __init__(self, name: str, title: str, widget: QWidget, area: "DockArea"):
        super().__init__(title)
        self.setObjectName(name)
        self.area = area
        self.setWidget(widget)
        self.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.title_bar = PanelTitle(self)
        self.setTitleBarWidget(self.title_bar)
        self.available = True       # offered for the model shown (Run needs a graph, …)
        self._on_screen = False
        self.visibilityChanged.connect(self.set_shown)
        self.topLevelChanged.connect(lambda _f: area.follow_tabs())
        self.dockLocationChanged.connect(lambda _a: area.follow_tabs())

    @property
    def name(self) -> str:
        return self.objectName()

    def on_screen(self) -> bool:
        return self._on_screen

    def set_shown(self, visible: bool) -> None:
        """Qt's visibilityChanged: the panel came on screen or left it."""
        self.area.follow_tabs()
        if visible != self._on_screen:
            self._on_screen = visible
            self.shown.emit(visible)

    def toggle_maximized(self) -> None:
        self.area.toggle_maximized(self)


class DockArea(QMainWindow):
    """The docks of one model tab. `add()` them, then `arrange()` the default layout or
    `restore()` a saved one."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowFlags(Qt.Widget)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowNestedDocks
                            | QMainWindow.AllowTabbedDocks)
        self.setTabPosition(Qt.AllDockWidgetAreas, QTabWidget.North)
        self.docks: dict[str, PanelDock] = {}
        self._maximized: tuple[PanelDock, QByteArray] | None = None

    def add(self, name: str, title: str, widget: QWidget, tooltip: str = "",
            header: list[QWidget] | None = None) -> PanelDock:
        """A panel; `header`: widgets of the panel's own header row to show in the dock's
        title bar (its title label first)."""
        dock = PanelDock(name, title, widget, self)
        if header:
            dock.title_bar.adopt(header)
        if tooltip:
            dock.setToolTip(tooltip)       # shown on its tab when tabbed
        self.docks[name] = dock
        self.addDockWidget(RIGHT, dock)
        return dock

    def follow_tabs(self) -> None:
        try:
            for dock in self.docks.values():
                dock.title_bar.follow_tabs(not dock.isFloating() and bool(self.tabifiedDockWidgets(dock)))
        except RuntimeError:      # the tab is being deleted: its docks tell their hiding
            pass

    # -- the default arrangement ----------------------------------------------------------

    def _default_place(self, name: str) -> tuple[Qt.DockWidgetArea, tuple[str, ...]]:
        for area, _width, groups in DEFAULT:
            for names, _h in groups:
                if name in names:
                    return area, names
        return RIGHT, (name,)

    def arrange(self) -> None:
        """The default layout: every available panel docked where DEFAULT puts it."""
        self._maximized = None
        for dock in self.docks.values():
            self.removeDockWidget(dock)
            dock.setFloating(False)
            dock.title_bar.set_maximized(False)
        # Splits first, tabs after: Qt adds a dock split off a tabbed one as one more tab.
        firsts, widths, tabs = [], [], []
        for area, width, groups in DEFAULT:
            heads, heights = [], []
            for names, height in groups:
                members = [self.docks[n] for n in names if n in self.docks]
                if not members:
                    continue
                if heads:
                    self.splitDockWidget(heads[-1], members[0], Qt.Vertical)
                else:
                    self.addDockWidget(area, members[0])
                heads.append(members[0])
                heights.append(height)
                tabs.append(members)
            if heads:
                firsts.append(heads[0])
                widths.append(width)
                # sizes are relative: Qt scales them to the height the area has
                self.resizeDocks(heads, [h * 150 for h in heights], Qt.Vertical)
        for members in tabs:
            for other in members[1:]:
                self.tabifyDockWidget(members[0], other)
        placed = {n for _a, _w, groups in DEFAULT for names, _h in groups for n in names}
        for name, dock in self.docks.items():
            if name not in placed:
                self.addDockWidget(RIGHT, dock)
        for dock in self.docks.values():
            dock.setVisible(dock.available)
        for _area, _w, groups in DEFAULT:
            for names, _h in groups:
                front = next((self.docks[n] for n in names if n in self.docks and self.docks[n].available), None)
                if front is not None:
                    front.raise_()
        if firsts:
            self.resizeDocks(firsts, widths, Qt.Horizontal)
        self.follow_tabs()

    def default_widths(self) -> None:
        """The default layout's share of the width for each side, applied to the width the
        area has now (sizes given before the tab is laid out are lost)."""
        heads, widths = [], []
        for _area, width, groups in DEFAULT:
            head = next((self.docks[n] for names, _h in groups for n in names
                         if n in self.docks and not self.docks[n].isHidden()
                         and not self.docks[n].isFloating()), None)
            if head is not None:
                heads.append(head)
                widths.append(width)
        total = self.width()
        if len(heads) == len(DEFAULT) and total > 0:
            self.resizeDocks(heads, [int(total * w / sum(widths)) for w in widths], Qt.Horizontal)

    # -- saving and restoring ---------------------------------------------------------------

    def save(self) -> dict:
        """What `restore()` takes: Qt's blob and the panels it knows."""
        state = self._maximized[1] if self._maximized is not None else self.saveState(LAYOUT_VERSION)
        return {"state": state, "panels": sorted(self.docks)}

    def restore(self, saved) -> bool:
        """Apply a layout `save()` gave (maybe from an older version, or damaged). Returns
        whether it was used; if not, the layout is the default one."""
        state = saved.get("state") if isinstance(saved, dict) else None
        known = saved.get("panels") if isinstance(saved, dict) else None
        if isinstance(state, (bytes, bytearray)):
            state = QByteArray(bytes(state))
        if not isinstance(state, QByteArray) or not isinstance(known, (list, tuple)):
            self.arrange()
            return False
        self._maximized = None
        if not self.restoreState(state, LAYOUT_VERSION):
            self.arrange()
            return False
        for name, dock in self.docks.items():
            if name not in known:          # a panel newer than the saved layout
                self._to_default_place(dock)
        self._bring_floating_home()
        for dock in self.docks.values():
            dock.title_bar.set_maximized(False)
            if not dock.available:
                dock.hide()
        if not any(not d.isHidden() for d in self.docks.values() if d.available):
            self.arrange()                 # nothing left to see: not a layout to keep
            return False
        self.follow_tabs()
        return True

    def _to_default_place(self, dock: PanelDock) -> None:
        area, names = self._default_place(dock.name)
        sibling = next((self.docks[n] for n in names if n != dock.name and n in self.docks
                        and not self.docks[n].isHidden() and not self.docks[n].isFloating()), None)
        dock.setFloating(False)
        if sibling is not None:
            self.tabifyDockWidget(sibling, dock)
        else:
            self.addDockWidget(area, dock)
        dock.setVisible(dock.available)

    def _bring_floating_home(self) -> None:
        """A floating panel whose window would open on no screen (a monitor since
        unplugged) is docked again."""
        screens = [s.availableGeometry() for s in QGuiApplication.screens()]
        for dock in self.docks.values():
            if dock.isFloating():
                geometry = dock.frameGeometry()
                if not any(g.intersects(geometry) for g in screens):
                    self._to_default_place(dock)

    # -- showing, availability, maximizing -------------------------------------------------

    def show_panel(self, dock: PanelDock) -> None:
        """Bring a panel to the front (opening it again if the user had closed it)."""
        if not dock.available:
            return
        if self._maximized is not None and self._maximized[0] is not dock:
            self.toggle_maximized(self._maximized[0])
        if dock.isHidden():
            dock.show()
        dock.raise_()
        if not self.window().isVisible():
            # Qt reports visibility only on screen: in a window not shown (yet), the panel
            # brought to the front counts as shown, as a tab made current did before.
            for other in self.tabifiedDockWidgets(dock):
                other.set_shown(False)
            dock.set_shown(True)

    def set_available(self, dock: PanelDock, available: bool) -> None:
        """Whether the panel is offered for the model shown: an unavailable panel is
        hidden and its menu entry disabled; when it becomes available again it comes back
        where it was."""
        if available == dock.available:
            return
        dock.available = available
        dock.toggleViewAction().setEnabled(available)
        dock.setVisible(available)

    def maximized(self) -> PanelDock | None:
        return self._maximized[0] if self._maximized is not None else None

    def toggle_maximized(self, dock: PanelDock) -> None:
        """Show `dock` alone over the whole area; called again (for any dock), put every
        panel back as it was."""
        if self._maximized is not None:
            _was, state = self._maximized
            self._maximized = None
            self.restoreState(state, LAYOUT_VERSION)
            for d in self.docks.values():
                d.title_bar.set_maximized(False)
                if not d.available:
                    d.hide()
            return
        state = self.saveState(LAYOUT_VERSION)
        if dock.isFloating():
            dock.setFloating(False)
        for d in self.docks.values():
            if d is not dock:
                d.hide()
        dock.show()
        dock.raise_()
        dock.title_bar.set_maximized(True)
        self._maximized = (dock, state)


class PanelGroup(QObject):
    """Panels that share a place by default (the side tabs, the value tabs), seen through
    the subset of QTabWidget's methods the view's callers use. The current panel is the
    one last brought on screen."""

    currentChanged = Signal(int)

    def __init__(self, area: DockArea, docks: list[PanelDock], parent=None):
        super().__init__(parent)
        self.area = area
        self._docks = list(docks)
        self._current = self._docks[0]
        for dock in self._docks:
            dock.shown.connect(lambda on, d=dock: on and self._became_current(d))

    def _became_current(self, dock: PanelDock) -> None:
        if dock is not self._current:
            self._current = dock
            self.currentChanged.emit(self._docks.index(dock))

    def count(self) -> int:
        return len(self._docks)

    def widget(self, index: int) -> QWidget | None:
        return self._docks[index].widget() if 0 <= index < len(self._docks) else None

    def dock(self, widget: QWidget) -> PanelDock:
        return self._docks[self.indexOf(widget)]

    def indexOf(self, widget: QWidget) -> int:  # noqa: N802 (QTabWidget's name)
        return next((i for i, d in enumerate(self._docks) if d.widget() is widget), -1)

    def currentIndex(self) -> int:  # noqa: N802
        return self._docks.index(self._current)

    def currentWidget(self) -> QWidget:  # noqa: N802
        return self._current.widget()

    def setCurrentIndex(self, index: int) -> None:  # noqa: N802
        if 0 <= index < len(self._docks):
            dock = self._docks[index]
            self.area.show_panel(dock)
            if dock.available:
                self._became_current(dock)

    def setCurrentWidget(self, widget: QWidget) -> None:  # noqa: N802
        self.setCurrentIndex(self.indexOf(widget))

    def isTabVisible(self, index: int) -> bool:  # noqa: N802
        return self._docks[index].available

    def setTabVisible(self, index: int, visible: bool) -> None:  # noqa: N802
        self.area.set_available(self._docks[index], visible)
