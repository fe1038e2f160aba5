"""A run open in the window while training writes it: the list grows and shrinks, Follow
latest moves the current checkpoint, the title and status say the run is live."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from app.ui.main_window import MainWindow  # noqa: E402

from ..test_live import start_training  # noqa: E402

TIMEOUT = 30000


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    w.close()


def _steps(view):
    """Steps on disk (the state file, not rewritten here, still names step 1 as missing)."""
    return [c.step for c in view.doc.loaded.model.checkpoints if c.on_disk]


def test_a_live_run_follows_the_latest_checkpoint(qtbot, window, tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    start_training("tf2", run, record, saves=1).wait(timeout=120)
    window.open_path(str(run))
    view = window.current()
    qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
    assert view.live.live and view.checkpoints.follow.isVisible()
    assert "· live" not in window.windowTitle()   # nothing has changed since it opened
    view.checkpoints.follow.setChecked(True)
    # Training goes on in the same folder: steps 2..6, keeping 3.
    for i in range(2, 7):
        for f in ("data-00000-of-00001", "index"):   # data first, as TensorFlow writes
            shutil.copyfile(run / f"ckpt-1.{f}", run / f"ckpt-{i}.{f}")
        qtbot.waitUntil(lambda i=i: view.doc.checkpoint is not None
                        and view.doc.checkpoint.step == i, timeout=TIMEOUT)
    assert _steps(view) == [1, 2, 3, 4, 5, 6]
    assert view.checkpoints.list.topLevelItemCount() == 6
    assert "live: last change" in window.status_label.text()
    assert window.windowTitle().split(" — ")[0].endswith("ckpt-6 · live")
    for i in (1, 2, 3):   # index first, as TensorFlow deletes
        os.remove(run / f"ckpt-{i}.index")
        os.remove(run / f"ckpt-{i}.data-00000-of-00001")
    qtbot.waitUntil(lambda: _steps(view) == [4, 5, 6], timeout=TIMEOUT)
    # A half-written index is not listed until it is whole.
    data = (run / "ckpt-6.index").read_bytes()
    shutil.copyfile(run / "ckpt-6.data-00000-of-00001", run / "ckpt-7.data-00000-of-00001")
    (run / "ckpt-7.index").write_bytes(data[: len(data) // 2])
    qtbot.wait(1200)
    assert _steps(view) == [4, 5, 6] and view.doc.checkpoint.step == 6
    (run / "ckpt-7.index").write_bytes(data)
    qtbot.waitUntil(lambda: view.doc.checkpoint.step == 7, timeout=TIMEOUT)


def test_follow_off_keeps_the_current_checkpoint(qtbot, window, tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    start_training("tf1", run, record, saves=1).wait(timeout=120)
    window.open_path(str(run))
    view = window.current()
    qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
    assert not view.checkpoints.follow.isChecked()
    for f in ("data-00000-of-00001", "index"):
        shutil.copyfile(run / f"model.ckpt-1.{f}", run / f"model.ckpt-2.{f}")
    qtbot.waitUntil(lambda: _steps(view) == [1, 2], timeout=TIMEOUT)
    assert view.doc.checkpoint.step == 1
