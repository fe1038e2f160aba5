"""Child process for bench_gui.py: times the window on one model, prints one JSON line.

    python tests/bench/gui_probe.py qt-only
    python tests/bench/gui_probe.py skeleton
    python tests/bench/gui_probe.py open PATH [TENSOR]

`qt-only` is Python + Qt start-up alone: an empty main window shown. `skeleton` is what
any window like ours costs before it reads a byte: a main window with menus, status bar,
splitters, a tree, a table over a 33-row model and tabs, no data. `open` starts the app
as a double-click does (`main.py PATH`: single-instance check, settings, window) and
exits once the tree and the variables are shown; with TENSOR it then selects it and
records the longest event-loop gap (a 5 ms QTimer probe) until its histogram has been
computed. bench_gui.py points XDG_CONFIG_HOME and XDG_RUNTIME_DIR at a scratch folder,
so neither the user's settings nor a running window are touched.
"""

from __future__ import annotations

import json
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def finish(result: dict) -> None:
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


def qt_only() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow
    app = QApplication([])
    w = QMainWindow()
    w.show()
    app.processEvents()
    finish({"shown": time.perf_counter() - T0})


def skeleton() -> None:
    from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
    from PySide6.QtWidgets import (QApplication, QHeaderView, QLineEdit, QMainWindow, QSplitter,
                                   QTableView, QTabWidget, QTextBrowser, QTreeView, QVBoxLayout,
                                   QWidget)

    class Rows(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else 33

        def columnCount(self, parent=QModelIndex()):
            return 5

        def data(self, index, role=0):
            return f"{index.row()}:{index.column()}" if role == 0 else None

    app = QApplication([])
    w = QMainWindow()
    w.resize(1360, 860)
    w.menuBar().addMenu("&File").addAction("&Open…")
    w.statusBar().showMessage("ready")
    split = QSplitter(Qt.Horizontal)
    tree, table = QTreeView(), QTableView()
    tree.setModel(Rows(tree))
    table.setModel(Rows(table))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.addWidget(QLineEdit())
    lay.addWidget(table)
    tabs = QTabWidget()
    tabs.addTab(box, "Variables")
    tabs.addTab(QTextBrowser(), "Details")
    split.addWidget(tree)
    split.addWidget(tabs)
    w.setCentralWidget(split)
    w.show()
    app.processEvents()
    finish({"shown": time.perf_counter() - T0})


def open_model(path: str, tensor: str | None) -> None:
    from PySide6.QtCore import Qt
    from app.ui import app as app_mod
    from app.ui.main_window import MainWindow

    opened = MainWindow.open_path

    def open_path(window, p):
        # The size the window takes on a 1920×1080 desktop by default; CKPT_PROBE_SIZE=WxH
        # asks for another (e.g. one smaller than the layout's minimum).
        window.resize(*SIZE)
        view = opened(window, p)
        view.loaded_changed.connect(lambda: shown(view), type=Qt.SingleShotConnection)
        return view

    MainWindow.open_path = open_path
    app_mod.main([path])


def shown(view) -> None:
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()     # the tree and the table painted
    out = {"shown": time.perf_counter() - T0, "size": [view.window().width(), view.window().height()],
           "tree_rows": view.tree.model.rowCount(), "variables": view.variables.model.rowCount()}
    if TENSOR:
        out.update(stall(view, TENSOR))
        out.update(relayout(view.window()))
    view.window().close()
    finish(out)


def stall(view, tensor: str) -> dict:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication
    # As the app does once the model is shown: plotting modules load in the background;
    # a user's first click comes after that.
    import threading
    from app.ui.app import prewarm
    prewarm()
    for t in threading.enumerate():
        if t.name == "prewarm":
            t.join()
    # The panel and its displays exist once the user has looked at a first tensor: look at
    # the smallest one, and wait for its statistics.
    first = min(view.loaded.tensors.values(), key=lambda t: t.nbytes).name
    settled = QEventLoop()
    view.doc.lanes["stats"].busy_changed.connect(lambda busy: None if busy else settled.quit())
    view.doc.select_tensor(first)
    QTimer.singleShot(10000, settled.quit)
    settled.exec()
    QApplication.processEvents()
    clock = QElapsedTimer()
    gaps = []
    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(lambda: gaps.append(clock.restart()))
    done = QEventLoop()
    # the value read hands over to the stats lane; wait for the stats lane to finish
    view.doc.lanes["stats"].busy_changed.connect(lambda busy: None if busy else done.quit())
    start = time.perf_counter()
    clock.start()
    probe.start()
    view.doc.select_tensor(tensor)
    done.exec()
    probe.stop()
    return {"stats_seconds": time.perf_counter() - start,
            "max_gap_ms": max(gaps) if gaps else None, "ticks": len(gaps)}


SIZE = tuple(int(v) for v in os.environ.get("CKPT_PROBE_SIZE", "1360x860").split("x"))

def relayout(window) -> dict:
    """What one relayout of the whole window costs the UI thread (its CPU time, which other
    processes on a busy machine do not inflate): the window is resized by 2 px and back,
    20 times, each followed by the layout and paint it triggers."""
    from PySide6.QtWidgets import QApplication
    w, h = window.width(), window.height()
    cpu, wall = [], []
    for i in range(20):
        t0, c0 = time.perf_counter(), time.thread_time()
        window.resize(w + 2 * (i % 2), h + 2 * (i % 2))
        QApplication.processEvents()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    cpu.sort()
    wall.sort()
    return {"relayout_cpu_ms": 1000 * cpu[len(cpu) // 2], "relayout_wall_ms": 1000 * wall[len(wall) // 2],
            "min_size": [window.minimumSizeHint().width(), window.minimumSizeHint().height()]}


if __name__ == "__main__":
    TENSOR = sys.argv[3] if len(sys.argv) > 3 else None
    {"qt-only": qt_only, "skeleton": skeleton}.get(
        sys.argv[1], lambda: open_model(sys.argv[2], TENSOR))()
