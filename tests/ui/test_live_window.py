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


def test_polled_run_keeps_the_deleted_current_checkpoint_and_its_curves_grow(qtbot, window, tmp_path,
                                                                              monkeypatch):
    """A real TF2 training process (CheckpointManager, max_to_keep=3, tf.summary into train/)
    with polling forced: the checkpoint on screen is deleted under it and stays, marked,
    with its value still shown; the Training tab's loss curve grows to every step."""
    import time

    import numpy as np

    from app.document.live import DELETED_NOTE
    from app.formats.live import completeness
    from ..test_live import SAVES, recorded

    monkeypatch.setenv("CHECKPOINT_BROWSER_WATCH", "poll")
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf2ev", run, record)
    try:
        deadline = time.monotonic() + 120
        while not ((run / "ckpt-1.index").exists() and completeness(str(run / "ckpt-1")) is None):
            assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
            time.sleep(0.02)
        window.open_path(str(run))
        view = window.current()
        qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
        assert view.live.mode == "poll"
        shown = view.doc.checkpoint
        key = next(t.name for t in view.doc.loaded.tensors.values() if t.display_name == "a")
        view.doc.select_tensor(key)
        qtbot.waitUntil(lambda: view.value.slot.built and view.value.view.snapshot() is not None,
                        timeout=TIMEOUT)
        tab = view.value_tabs.indexOf(view.training)
        assert view.value_tabs.isTabVisible(tab)
        view.value_tabs.setCurrentIndex(tab)
        qtbot.waitUntil(lambda: "loss" in view.training.plots, timeout=TIMEOUT)
        assert proc.poll() is None, "training ended before the window followed it"
        first_points = len(view.training.curve("train", "loss")[0])
        proc.wait(timeout=120)
        assert proc.returncode == 0, proc.stderr.read()
        # The loss curve grew to every step, as TensorFlow logged it (1/step in float32).
        qtbot.waitUntil(lambda: len(view.training.curve("train", "loss")[0]) == SAVES, timeout=TIMEOUT)
        steps, values = view.training.curve("train", "loss")
        assert list(steps) == list(range(1, SAVES + 1)) and first_points < SAVES
        assert np.array_equal(values, np.float32(1.0) / np.arange(1, SAVES + 1, dtype=np.float32))
        # The checkpoint on screen was deleted by max_to_keep: still listed, marked, current.
        qtbot.waitUntil(lambda: _steps(view) == [SAVES - 2, SAVES - 1, SAVES], timeout=TIMEOUT)
        kept = [c for c in view.doc.loaded.model.checkpoints if c.prefix == shown.prefix]
        assert kept and kept[0].note == DELETED_NOTE and not kept[0].on_disk
        assert view.doc.checkpoint.prefix == shown.prefix
        rows = [view.checkpoints.list.topLevelItem(i).text(1)
                for i in range(view.checkpoints.list.topLevelItemCount())]
        assert any(DELETED_NOTE in r and shown.name in r for r in rows), rows
        assert DELETED_NOTE in view.banner.text.text()
        # What was read of it is still on screen, equal to what TensorFlow saved.
        snap = view.value.view.snapshot()
        assert np.array_equal(snap[3], recorded(record, shown.step)["a"])
    finally:
        if proc.poll() is None:
            proc.kill()


def test_compare_keeps_a_and_b_follows_the_newest_checkpoint(qtbot, window, tmp_path):
    """Checkpoints TensorFlow wrote land one by one (data first, index last): with "B follows
    newest", A stays pinned and each new one is compared with it."""
    import numpy as np

    train, record, run = tmp_path / "train", tmp_path / "record", tmp_path / "run"
    proc = start_training("tf2", train, record, saves=12)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    run.mkdir()

    def land(step, as_step=None):
        for f in ("data-00000-of-00001", "index"):
            shutil.copyfile(train / f"ckpt-{step}.{f}", run / f"ckpt-{as_step or step}.{f}")
    land(10)
    window.open_path(str(run))
    view = window.current()
    qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
    land(11)
    qtbot.waitUntil(lambda: _steps(view) == [10, 11], timeout=TIMEOUT)
    compare = view.compare
    panel = compare.panel
    panel.a.setCurrentIndex(0)
    panel.b.setCurrentIndex(1)
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.summary.text().startswith("B ckpt-11"), timeout=TIMEOUT)
    panel.follow_b.setChecked(True)
    land(12)
    qtbot.waitUntil(lambda: panel.summary.text().startswith("B ckpt-12"), timeout=TIMEOUT)
    assert panel.a.currentText().startswith("ckpt-10") and panel.b.currentText().startswith("ckpt-12")
    row = next(r for r in (panel.model.row(i) for i in range(panel.model.rowCount())) if r.name == "a")
    assert np.isclose(row.rel_l2, 0.2, rtol=1e-6)          # ‖a·12 − a·10‖ / ‖a·10‖
    # Unticked, B stays where it is.
    panel.follow_b.setChecked(False)
    land(10, as_step=13)
    qtbot.waitUntil(lambda: 13 in _steps(view), timeout=TIMEOUT)
    assert panel.b.currentText().startswith("ckpt-12")


def test_across_the_run_grows_by_the_new_checkpoint_only(qtbot, window, tmp_path):
    import numpy as np

    from app.analysis import compare
    from app.formats.model import open_checkpoint

    train, record, run = tmp_path / "train", tmp_path / "record", tmp_path / "run"
    proc = start_training("tf2", train, record, saves=12)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    run.mkdir()
    for step in (12, 11):      # the range of a·step shrinks from 12 to 10: no bin moves
        for f in ("data-00000-of-00001", "index"):
            shutil.copyfile(train / f"ckpt-{step}.{f}", run / f"ckpt-{step}.{f}")
    window.open_path(str(run))
    view = window.current()
    qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
    key = next(t.name for t in view.doc.loaded.tensors.values() if t.display_name == "a")
    view.doc.select_tensor(key)
    view.value_tabs.setCurrentIndex(view.value_tabs.indexOf(view.trend))
    qtbot.waitUntil(lambda: view.trend.view.trend() is not None
                    and len(view.trend.view.trend().points) == 2, timeout=TIMEOUT)
    assert view.trend.last_read == "whole"
    for f in ("data-00000-of-00001", "index"):
        shutil.copyfile(train / f"ckpt-10.{f}", run / f"ckpt-13.{f}")   # a new step, values of 10
    qtbot.waitUntil(lambda: len(view.trend.view.trend().points) == 3, timeout=TIMEOUT)
    assert view.trend.last_read == "grown by 1"
    grown = view.trend.view.trend()
    whole = compare.trend([(c.step, open_checkpoint(c)) for c in view.doc.loaded.model.checkpoints],
                          key, view.trend.view.bins())
    assert grown.edges == whole.edges
    assert [p.counts for p in grown.points] == [p.counts for p in whole.points]
    assert np.allclose([p.rel_change_prev or 0 for p in grown.points],
                       [p.rel_change_prev or 0 for p in whole.points], rtol=1e-12)
