"""Child process for bench_gui.py: times the window on one model, prints one JSON line.

    python tests/bench/gui_probe.py qt-only
    python tests/bench/gui_probe.py open PATH [TENSOR]

`open` starts the app, opens PATH and exits once the tree and the variables are shown; with
TENSOR it then selects it and records the longest event-loop gap (a 5 ms QTimer probe) until
its histogram has been computed.
"""

from __future__ import annotations

import json
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def qt_only() -> dict:
    from PySide6.QtWidgets import QApplication, QMainWindow
    app = QApplication([])
    w = QMainWindow()
    w.show()
    app.processEvents()
    return {"shown": time.perf_counter() - T0}


def open_model(path: str, tensor: str | None) -> dict:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from app.ui.app import create_app
    from app.ui.main_window import MainWindow

    app = create_app([])
    settings = QSettings(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ckpt_bench.ini"),
                         QSettings.IniFormat)
    window = MainWindow(settings)
    window.show()
    view = window.open_path(path)
    loop = QEventLoop()
    view.loaded_changed.connect(loop.quit)
    loop.exec()
    app.processEvents()
    out = {"shown": time.perf_counter() - T0,
           "tree_rows": view.tree_model.rowCount(), "variables": view.var_model.rowCount()}
    if tensor:
        # As the app does after showing its window: plotting modules load in the
        # background; a user's first click comes after that.
        from app.ui.app import prewarm
        import threading
        prewarm()
        for t in threading.enumerate():
            if t.name == "prewarm":
                t.join()
        view.values  # the panel exists once the user has looked at a first tensor
        app.processEvents()
        clock = QElapsedTimer()
        gaps = []
        probe = QTimer()
        probe.setInterval(5)

        def tick():
            gaps.append(clock.restart())

        probe.timeout.connect(tick)
        done = QEventLoop()

        def finished(busy):
            if not busy:
                done.quit()

        start = time.perf_counter()
        clock.start()
        probe.start()
        view.show_tensor(tensor)
        # the value read hands over to the stats lane; wait for the stats lane to finish
        view.stats_lane.busy_changed.connect(finished)
        done.exec()
        probe.stop()
        out.update({"stats_seconds": time.perf_counter() - start,
                    "max_gap_ms": max(gaps) if gaps else None, "ticks": len(gaps)})
    window.close()
    return out


if __name__ == "__main__":
    if sys.argv[1] == "qt-only":
        result = qt_only()
    else:
        result = open_model(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)
