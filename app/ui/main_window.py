"""The main window: a tab per opened model, menus, recent files, drag and drop."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton, QStackedWidget, QTabWidget)

from .. import __version__
from ..formats import location
from . import open_url
from .document import ModelView

MAX_RECENT = 12
APP_NAME = "Checkpoint Browser"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.empty = QLabel("Open a checkpoint folder, a checkpoint file, a SavedModel or a graph:\n"
                            "File ▸ Open Folder… (Ctrl+O), or drop it onto this window.\n"
                            "A run in object storage or on the web: File ▸ Open URL… (Ctrl+L), "
                            "or paste its URL here.")
        self.empty.setAlignment(Qt.AlignCenter)
        self.central = QStackedWidget()
        self.central.addWidget(self.empty)
        self.central.addWidget(self.tabs)
        self.setCentralWidget(self.central)
        self._build_menus()
        open_url.apply_cache_setting(self.settings)
        QShortcut(QKeySequence.Paste, self, self._paste)   # text fields keep their own paste
        self._build_status()
        self.resize(self._first_size())
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._show_empty()

    def _first_size(self) -> QSize:
        """1360×860, or nine tenths of a smaller screen: a window larger than the screen
        opens with its right side and status bar off it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        want = QSize(1360, 860)
        if screen is None:
            return want
        room = screen.availableGeometry().size() * 0.9
        return want.boundedTo(room)

    # -- chrome -------------------------------------------------------------------------

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.act_open_folder = m.addAction("Open &Folder…", self.open_folder_dialog)
        self.act_open_folder.setShortcut(QKeySequence.Open)
        self.act_open_file = m.addAction("Open F&ile…", self.open_file_dialog)
        self.act_open_file.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.act_open_url = m.addAction("Open &URL…", self.open_url_dialog)
        self.act_open_url.setShortcut(QKeySequence("Ctrl+L"))
        self.recent_menu = m.addMenu("Open &Recent")
        self._fill_recent()
        m.addSeparator()
        open_url.add_cache_menu(m, self, self.settings)
        self.act_reload = m.addAction("&Reload", self.reload_current)
        self.act_reload.setShortcut(QKeySequence.Refresh)
        self.act_verify = m.addAction("&Verify Checkpoints", self._verify)
        self.act_verify.setToolTip("Check every tensor of every checkpoint against its crc32c")
        self.act_save_as = m.addAction("&Save Checkpoint As…", lambda: self._on_view(
            lambda v: v.variables.save_as()))
        self.act_average = m.addAction("&Average Checkpoints…", lambda: self._on_view(
            lambda v: v.checkpoints.average()))
        m.aboutToShow.connect(self._update_edit_actions)
        self._update_edit_actions()
        self.act_close = m.addAction("&Close", lambda: self.close_tab(self.tabs.currentIndex()))
        self.act_close.setShortcut(QKeySequence.Close)
        m.addSeparator()
        act_quit = m.addAction("&Quit", self.close)
        act_quit.setShortcut(QKeySequence.Quit)

        v = self.menuBar().addMenu("&View")
        act_find = v.addAction("&Filter the graph", self._focus_filter)
        act_find.setShortcut(QKeySequence.Find)
        act_cancel = v.addAction("&Cancel background work", self._cancel_work)
        act_cancel.setShortcut(QKeySequence(Qt.Key_Escape))
        v.addSeparator()
        self.panels_menu = v.addMenu("&Panels")
        self.panels_menu.aboutToShow.connect(self._fill_panels_menu)
        self.act_maximize = v.addAction("&Maximize Panel", self._maximize_panel)
        self.act_maximize.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.act_maximize.setToolTip("The panel with the keyboard focus over the whole tab; again to "
                                     "restore the others")
        self.act_reset_layout = v.addAction("&Reset Layout", self.reset_layout)
        self.act_reset_layout.setToolTip("Put every panel back where it was at first")

        h = self.menuBar().addMenu("&Help")
        h.addAction("&About", self._about)

    def _build_status(self) -> None:
        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFlat(True)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel_work)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

    def _show_empty(self) -> None:
        self.central.setCurrentWidget(self.tabs if self.tabs.count() else self.empty)
        if not self.tabs.count():
            self.status_label.setText("")

    # -- opening ------------------------------------------------------------------------

    def open_path(self, path: str) -> ModelView:
        path = path if location.is_url(path) else os.path.abspath(path)
        for i in range(self.tabs.count()):
            view = self.tabs.widget(i)
            if view.path == path:
                self.tabs.setCurrentIndex(i)
                view.reload()
                return view
        view = ModelView(path)
        view.title_changed.connect(lambda title, v=view: self._retitle(v, title))
        view.status_changed.connect(lambda text, v=view: self._status(v, text))
        view.open_requested.connect(self.open_path)
        for lane in view.lanes:
            lane.progress.connect(lambda f, t, v=view: self._progress(v, f))
            lane.busy_changed.connect(lambda _b, v=view: self._busy(v))
        i = self.tabs.addTab(view, view.title)
        self._show_empty()
        self.tabs.setTabToolTip(i, location.display(path))
        self.tabs.setCurrentIndex(i)
        self._restore_layout(view)
        self._add_recent(location.display(path))   # a signed URL's query is a secret: not kept
        return view

    def open_url_dialog(self) -> None:
        url = open_url.ask_url(self)
        if url:
            self.open_path(url)

    def _paste(self) -> None:
        url = open_url.url_in_text(QGuiApplication.clipboard().text())
        if url:
            self.open_path(url)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a checkpoint folder", self._start_dir())
        if path:
            self.open_path(path)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a model file", self._start_dir(),
            "TensorFlow models (*.index *.meta *.pb *.pbtxt *.ckpt checkpoint *.data-*);;All files (*)")
        if path:
            self.open_path(path)

    def _start_dir(self) -> str:
        recent = [p for p in self.recent() if not location.is_url(p)]
        return os.path.dirname(recent[0]) if recent else os.path.expanduser("~")

    def reload_current(self) -> None:
        view = self.current()
        if view is not None:
            view.reload()

    def current(self) -> ModelView | None:
        return self.tabs.currentWidget()

    def close_tab(self, index: int, ask: bool = True, remember: bool = True) -> None:
        """Close the tab at `index`; where it holds results of runs, which live nowhere
        else, only once the user says so. `remember`: its arrangement of panels is the
        one the next tab opens with."""
        if index < 0:
            return
        view = self.tabs.widget(index)
        if ask and view.run.results:
            n = view.run.results
            answer = QMessageBox.question(
                self, "Close tab", f"{view.title} holds the results of {n} run{'s' if n != 1 else ''}, "
                "which closing the tab discards. Close it?",
                QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Close:
                return
        if remember:
            self._save_layout(view)
        self.tabs.removeTab(index)
        view.shutdown()
        view.deleteLater()
        self._show_empty()

    # -- recent -------------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def _add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent()
        for p in items:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_path(p))
        if items:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", self._clear_recent)
        self.recent_menu.setEnabled(bool(items))

    def _clear_recent(self) -> None:
        self.settings.setValue("recent", [])
        self._fill_recent()

    # -- per-view signals ---------------------------------------------------------------

    def _retitle(self, view: ModelView, title: str) -> None:
        i = self.tabs.indexOf(view)
        if i >= 0:
            self.tabs.setTabText(i, title)
        if view is self.current():
            self.setWindowTitle(f"{view.window_title} — {APP_NAME}")

    def _status(self, view: ModelView, text: str) -> None:
        if view is self.current():
            self.status_label.setText(text)

    def _progress(self, view: ModelView, fraction: float) -> None:
        if view is self.current():
            self.progress.setValue(int(100 * fraction))

    def _busy(self, view: ModelView) -> None:
        if view is not self.current():
            return
        busy = any(lane.busy for lane in view.lanes)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.progress.setValue(0)

    def _tab_changed(self, _index: int) -> None:
        view = self.current()
        if view is None:
            self.setWindowTitle(APP_NAME)
            self._show_empty()
            return
        self.setWindowTitle(f"{view.window_title} — {APP_NAME}")
        self.status_label.setText(view.status_text())
        self._busy(view)

    def _verify(self) -> None:
        view = self.current()
        if view is not None:
            view.verify()

    def _on_view(self, action):
        return action(self.current()) if self.current() is not None else None

    def _update_edit_actions(self) -> None:
        from .edit_actions import can_average, can_save_as
        view = self.current() if hasattr(self, "tabs") else None
        self.act_save_as.setEnabled(view is not None and can_save_as(view.doc))
        self.act_average.setEnabled(view is not None and can_average(view.doc))

    def _focus_filter(self) -> None:
        view = self.current()
        if view is not None:
            view.focus_filter()

    def _cancel_work(self) -> None:
        view = self.current()
        if view is not None:
            view.cancel_work()
            if view.opening:
                view.cancel_load()

    def _about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__}<br>Look inside TensorFlow checkpoints, "
                          "graphs and SavedModels without writing restore code.")

    # -- state --------------------------------------------------------------------------

    # The arrangement of the panels, one for every tab: the last one closed (or the one
    # shown when the window closes) is the one the next tab, and the next session, open with.

    def _save_layout(self, view: ModelView) -> None:
        saved = view.docks.save()
        self.settings.setValue("layout/state", saved["state"])
        self.settings.setValue("layout/panels", saved["panels"])

    def _restore_layout(self, view: ModelView) -> None:
        state = self.settings.value("layout/state")
        panels = self.settings.value("layout/panels")
        if state is None:
            return
        if isinstance(panels, str):           # QSettings gives a one-item list as its item
            panels = [panels]
        view.restore_layout({"state": state, "panels": panels})

    def reset_layout(self) -> None:
        """Every tab's panels back to the default arrangement, which is also what the next
        session starts with."""
        self.settings.remove("layout")
        for i in range(self.tabs.count()):
            self.tabs.widget(i).reset_layout()

    def _fill_panels_menu(self) -> None:
        """The current tab's panels, checked when open: unchecking closes one, checking
        brings it back."""
        self.panels_menu.clear()
        view = self.current()
        if view is None:
            self.panels_menu.addAction("(no model open)").setEnabled(False)
            return
        for dock in view.docks.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())

    def _maximize_panel(self) -> None:
        view = self.current()
        if view is None:
            return
        area = view.docks
        if area.maximized() is not None:
            area.toggle_maximized(area.maximized())
            return
        focus = self.focusWidget()
        dock = next((d for d in area.docks.values() if focus is not None and d.isAncestorOf(focus)),
                    area.docks["value"])
        area.toggle_maximized(dock)

    def dragEnterEvent(self, event) -> None:
        if open_url.urls_in(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for path in open_url.urls_in(event.mimeData()):
            self.open_path(path)
        event.acceptProposedAction()

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self.current() is not None:
            self._save_layout(self.current())
        while self.tabs.count():
            self.close_tab(0, ask=False, remember=False)      # quitting says it all
        super().closeEvent(event)
