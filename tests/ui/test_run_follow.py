"""The Run tab's "Run on each new checkpoint" on a run a real TF1 training process writes
(Saver, max_to_keep=3, a checkpoint every ~200 ms): one row per new step with the value
TensorFlow saved, a checkpoint deleted before its turn says so in its row, unticking stops."""

from __future__ import annotations

import os
import shutil
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from ..conftest import require  # noqa: E402

tf = require("tensorflow")

from app.formats.live import completeness  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.run_follow import GONE  # noqa: E402

from ..test_live import recorded, start_training  # noqa: E402

TIMEOUT = 60000
SAVES = 80      # ~20 s of training: time to open the run and warm the worker
FETCH = "a/Read/ReadVariableOp:0"


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    w.close()


def test_each_new_checkpoint_is_run_as_it_lands(qtbot, window, tmp_path):
    run, record = tmp_path / "run", tmp_path / "record"
    proc = start_training("tf1", run, record, saves=SAVES)
    try:
        deadline = time.monotonic() + 120
        first = run / "model.ckpt-1"
        while not (os.path.exists(f"{first}.meta") and completeness(str(first)) is None):
            assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
            time.sleep(0.02)
        window.open_path(str(run))
        view = window.current()
        qtbot.waitUntil(lambda: view.doc.loaded is not None, timeout=TIMEOUT)
        panel = view.run.panel
        assert panel.add_fetch(FETCH) == [FETCH]
        qtbot.waitUntil(lambda: panel.analysis is not None and not panel.analyzing, timeout=TIMEOUT)
        with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT):   # one run: the worker is up
            assert panel.run()
        assert panel.follow_new.isEnabled() and not panel.follow_new.isChecked()  # off by default
        panel.follow_new.setChecked(True)
        assert proc.poll() is None, "training ended before the option was on"
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=180000)   # the UI keeps running
        assert proc.returncode == 0, proc.stderr.read()
        qtbot.waitUntil(lambda: panel.follower.record is not None and any(
            r.step == SAVES for r in panel.follower.record.runs), timeout=TIMEOUT)
        qtbot.waitUntil(lambda: not panel.running, timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    rec = panel.follower.record
    steps = [r.step for r in rec.runs]
    # steps that landed after the option was on, once each, in order, up to the last (one
    # written and deleted between two looks at the folder is never seen: not asserted)
    assert steps == sorted(set(steps)) and steps[-1] == SAVES, steps
    assert len(steps) >= 3
    ran = [r for r in rec.runs if r.fetches is not None]
    assert len(ran) >= 3, [(r.step, str(r.error)) for r in rec.runs]
    for r in rec.runs:   # a failure is only ever a checkpoint max_to_keep took first
        assert r.fetches is not None or str(r.error) == GONE, (r.step, str(r.error))
    for r in ran:        # the values TensorFlow saved at that step
        assert np.array_equal(np.asarray(r.fetches[FETCH]), recorded(record, r.step)["a"]), r.step
    for step in (SAVES - 2, SAVES - 1, SAVES):   # still on disk: TensorFlow reads them back
        saved = tf.train.load_checkpoint(str(run / f"model.ckpt-{step}")).get_tensor("a")
        got = next(r for r in rec.runs if r.step == step)
        if got.fetches is not None:
            assert np.array_equal(np.asarray(got.fetches[FETCH]), saved)
    # the results: one accumulating entry, a row per step, the latest value on top
    assert len(panel.history) == 2 and panel.history[-1] is rec
    assert panel.epoch_table.rowCount() == len(steps)
    assert [panel.epoch_table.item(i, 0).text() for i in range(len(steps))] == [str(s) for s in steps]
    for i, r in enumerate(rec.runs):
        if r.fetches is None:
            assert panel.epoch_table.item(i, 2).text() == "deleted"
    assert panel.result_tabs.tabText(0) == f"Results at step {SAVES}"

    # Unticked: a checkpoint landing later is listed, but not run.
    panel.follow_new.setChecked(False)
    for f in ("data-00000-of-00001", "index", "meta"):
        shutil.copyfile(run / f"model.ckpt-{SAVES}.{f}", run / f"model.ckpt-{SAVES + 1}.{f}")
    qtbot.waitUntil(lambda: any(c.step == SAVES + 1 for c in view.doc.loaded.model.checkpoints),
                    timeout=TIMEOUT)
    qtbot.wait(500)
    assert not panel.running and len(rec.runs) == len(steps) and len(panel.history) == 2


def test_a_deleted_checkpoint_is_a_row_not_an_error(qtbot, tmp_path):
    """What the follower hands the panel when max_to_keep was faster than the run."""
    from app.formats.graph import load_graph
    from app.formats.model import open_path
    from app.runner.worker import RunnerClient
    from app.ui.run_panel import RunPanel

    run, record = tmp_path / "run", tmp_path / "record"
    assert start_training("tf1", run, record, saves=2).wait(timeout=120) == 0
    client = RunnerClient()
    panel = RunPanel(client=client)
    qtbot.addWidget(panel)
    try:
        model = open_path(str(run))
        panel.set_model(model, load_graph(model.selected.meta), model.selected)
        panel.add_fetch(FETCH)
        qtbot.waitUntil(lambda: panel.analysis is not None and not panel.analyzing, timeout=TIMEOUT)
        rec = panel.follow_record()
        with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT):
            assert panel.run(str(run / "model.ckpt-9"), step=9, into=rec)
        with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT):
            assert panel.run(str(run / "model.ckpt-2"), step=2, into=rec)
        assert rec.error is None and [r.step for r in rec.runs] == [9, 2]
        assert str(rec.runs[0].error) == GONE and rec.runs[0].fetches is None
        assert np.array_equal(rec.runs[1].fetches[FETCH], recorded(record, 2)["a"])
        assert panel.epoch_table.item(0, 2).text() == "deleted"
        assert len(panel.history) == 1
        # the option belongs to runs: a graph file switches it off and disables it
        assert panel.follow_new.isEnabled()
        panel.follow_new.setChecked(True)
        g = tf.Graph()
        with g.as_default():
            tf.constant(1.0, name="c")
        tf.io.write_graph(g.as_graph_def(), str(tmp_path), "frozen.pb", as_text=False)
        frozen = open_path(str(tmp_path / "frozen.pb"))
        assert frozen.kind == "graph"
        panel.set_model(frozen, load_graph(frozen.graph_path))
        assert not panel.follow_new.isEnabled() and not panel.follow_new.isChecked()
    finally:
        panel.shutdown()
        client.close()
