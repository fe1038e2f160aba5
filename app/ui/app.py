"""Start-up of the window: `main([PATH …])`."""

from __future__ import annotations

import os
import sys
import threading

from PySide6.QtCore import QCoreApplication, QSettings, QSize, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .. import qt_platform
from ..handover import try_hand_over
from ..paths import resource
from .main_window import APP_NAME, MainWindow
from .single_instance import InstanceServer, install_file_open_handler, serve

SAMPLE_RUN = resource("sample_run")
EXIT_NO_WINDOW = 2


def create_app(argv: list[str]) -> QApplication:
    # Workers hand the GIL back between numpy calls; a 1 ms switch interval (5 ms by
    # default) lets the UI thread take it sooner, which halved the longest event-loop
    # stall while a 400 MB tensor's statistics were computed.
    sys.setswitchinterval(0.001)
    QCoreApplication.setOrganizationName("CheckpointBrowser")
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance()
    if app is None:
        # Fusion follows the system's light or dark colour scheme. Asked for on Qt's
        # command line it costs 2 ms at start-up, against 9 for setStyle().
        app = guarded_application([sys.argv[0], "-style", "Fusion", *argv])
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("checkpoint-browser")
    return app


def guarded_application(args: list[str]) -> QApplication:
    """QApplication(args) — or, where Qt cannot load its platform plug-in and would abort
    with a generic message, one line naming the missing system libraries and how to
    install them (on stderr, and as a desktop notification), then exit EXIT_NO_WINDOW."""
    held: list[str] = []

    def handler(kind, _context, text):
        if kind == QtMsgType.QtFatalMsg:
            platform = qt_platform.platform_name()
            qt_platform.tell_user(qt_platform.explain(
                platform, qt_platform.missing_libraries(platform)))
            os._exit(EXIT_NO_WINDOW)
        held.append(text)        # Qt's own warnings: shown below unless the start fails

    qInstallMessageHandler(handler)
    try:
        app = QApplication(args)
    finally:
        qInstallMessageHandler(None)
    for text in held:
        sys.stderr.write(text + "\n")
    return app


def app_icon() -> QIcon:
    """The PNGs, hand-tuned at 16 and 24 px (Qt would render the SVG blurred there); the
    SVG if they are missing."""
    icons = resource("icons")
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = os.path.join(icons, "png", f"checkpoint-browser-{size}.png")
        if os.path.exists(png):
            icon.addFile(png, QSize(size, size))
    svg = os.path.join(icons, "checkpoint-browser.svg")
    if icon.isNull() and os.path.exists(svg):
        icon = QIcon(svg)
    return icon


def prewarm() -> None:
    """Import the plotting modules in the background, so that they are ready by the first
    click. Once only."""
    global _prewarmed
    if _prewarmed:
        return
    _prewarmed = True

    def work():
        try:
            from . import values  # noqa: F401  (pyqtgraph: most of the start-up time)
        except Exception:
            pass  # imported again, with its error, when first needed
    threading.Thread(target=work, name="prewarm", daemon=True).start()


_prewarmed = False


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("-")]
    if any(a in ("-h", "--help") for a in argv):
        print("usage: main.py [--new-instance] [PATH …]   "
              "(or: main.py inspect|dump|stats|verify|diff|trend … — see --help)\n"
              "  PATHs open in the running window, if there is one; --new-instance opens a "
              "window of its own")
        return 0
    new_instance = "--new-instance" in argv
    # (A running window was asked to take the paths before Qt was imported: app.launch.)
    app = create_app(argv)
    server = None
    if not new_instance:
        server = InstanceServer(parent=app)
        # Started before the window, so that a launch racing this one finds it; if that
        # launch won the race, hand the paths to it instead.
        if not server.start() and try_hand_over(paths):
            return 0
    window = MainWindow(QSettings())
    if server is not None:
        serve(window, server)            # later launches' paths: opened here, window raised
    install_file_open_handler(app, window.open_path)   # macOS: Finder, the Dock
    window.show()
    views = [window.open_path(p)
             for p in paths or ([SAMPLE_RUN] if os.path.isdir(SAMPLE_RUN) else [])]
    # The plotting modules load once the first model is on screen (the timer lets its
    # paint go first): importing them alongside the opening held the interpreter from it
    # and delayed the tree and the variables by a third. If nothing opens (an error
    # page), they load a few seconds after start-up all the same.
    for view in views:
        view.loaded_changed.connect(lambda: QTimer.singleShot(0, prewarm))
    QTimer.singleShot(3000 if views else 0, prewarm)
    return app.exec()
