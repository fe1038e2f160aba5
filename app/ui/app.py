"""Start-up of the window: `main([PATH …])`."""

from __future__ import annotations

import os
import sys
import threading

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .main_window import APP_NAME, MainWindow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_RUN = os.path.join(ROOT, "resources", "sample_run")


def create_app(argv: list[str]) -> QApplication:
    # Workers hand the GIL back between numpy calls; a 1 ms switch interval (5 ms by
    # default) lets the UI thread take it sooner, which halved the longest event-loop
    # stall while a 400 MB tensor's statistics were computed.
    sys.setswitchinterval(0.001)
    QCoreApplication.setOrganizationName("CheckpointBrowser")
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setStyle("Fusion")  # follows the system's light or dark colour scheme
    icon = os.path.join(ROOT, "resources", "icons", "checkpoint-browser.svg")
    if os.path.exists(icon):
        app.setWindowIcon(QIcon(icon))
    app.setDesktopFileName("checkpoint-browser")
    return app


def prewarm() -> None:
    """Import the plotting modules in the background while the first model loads: the
    window shows without waiting for them, and they are ready by the first click."""
    def work():
        try:
            from . import values  # noqa: F401  (pyqtgraph: most of the start-up time)
        except Exception:
            pass  # imported again, with its error, when first needed
    threading.Thread(target=work, name="prewarm", daemon=True).start()


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("-")]
    if any(a in ("-h", "--help") for a in argv):
        print("usage: main.py [PATH …]   (or: main.py inspect|dump|stats|verify … — see --help)")
        return 0
    app = create_app(argv)
    window = MainWindow(QSettings())
    window.show()
    prewarm()
    for p in paths or ([SAMPLE_RUN] if os.path.isdir(SAMPLE_RUN) else []):
        window.open_path(p)
    return app.exec()
