"""The Run panel with a real worker process on TensorFlow-written models: the seed
tutorial (w1 + w2) * bias, a CNN evaluated on every epoch, a missing feed, and a graph
whose fetch path writes a file (refused in the confirmation dialog)."""

from __future__ import annotations

import argparse
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ..conftest import require  # noqa: E402

tf = require("tensorflow")  # noqa: F841  (marks the module as needing TensorFlow)

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app.formats.graph import load_graph  # noqa: E402
from app.formats.model import open_path  # noqa: E402
from app.runner.worker import RunnerClient  # noqa: E402
from app.ui.run_panel import RunPanel  # noqa: E402

from .. import tf_fixtures as fx  # noqa: E402

TIMEOUT = 60000
SHOTS = os.environ.get("RUN_PANEL_SHOTS")  # a folder: save screenshots there


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("run_panel")
    cnn = fx.cnn_epochs(root / "cnn", epochs=3, eval_dir=root / "cnn_eval")
    broken = root / "cnn_broken"  # epoch 1's data cut short: it cannot be restored
    shutil.copytree(cnn.dir, broken)
    data = next(broken.glob("epoch-1.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    return argparse.Namespace(
        seed=fx.seed_w1w2(root / "seed"),
        cnn=cnn,
        broken=broken,
        unsafe=fx.unsafe_graph(root / "unsafe"),
    )


@pytest.fixture(scope="module")
def client():
    c = RunnerClient()
    c.start()  # imports TensorFlow in the worker while the fixtures are built
    yield c
    c.close()


@pytest.fixture
def panel(qtbot, client):
    p = RunPanel(client=client)
    qtbot.addWidget(p)
    p.resize(760, 640)
    p.show()
    yield p
    p.shutdown()


def opened(qtbot, panel, folder):
    model = open_path(str(folder))
    graph = load_graph(model.selected.meta)
    panel.set_model(model, graph, model.selected)
    return model


def analyzed(qtbot, panel):
    qtbot.waitUntil(lambda: panel.analysis is not None and not panel.analyzing, timeout=TIMEOUT)


def run_and_wait(qtbot, panel):
    with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
        assert panel.run()
    return blocker.args[0]


def test_seed_feeds_form_and_run(qtbot, panel, models, tmp_path):
    opened(qtbot, panel, models.seed.dir)
    assert panel.add_fetch("op_to_restore") == ["op_to_restore:0"]
    analyzed(qtbot, panel)
    assert sorted(r.spec.tensor for r in panel._rows) == ["w1:0", "w2:0"]
    assert panel.feed_row("w1").type_label.text().startswith("float32")
    panel.set_feed("w1", "13")
    panel.feed_row("w2").set_text('"text"')          # validation per row
    assert "expects float32" in panel.feed_row("w2").message.text()
    assert not panel.run()                             # refused before running
    assert panel.error.isVisible() and not panel.history
    panel.set_feed("w2", "17")
    assert panel.feed_row("w2").message.isHidden()
    statuses = []
    panel.status_changed.connect(statuses.append)
    record = run_and_wait(qtbot, panel)
    assert record.error is None, record.error
    [run] = record.runs
    assert run.step == 1000
    assert float(run.fetches["op_to_restore:0"]) == models.seed.expected_output == 60.0
    assert panel.results.rowCount() == 1
    assert panel.results.item(0, 3).text() == "60"
    assert "running" in statuses and statuses[-1].startswith("done")
    assert panel.history_list.count() == 1 and "w1=13" in panel.history_list.item(0).text()
    # a click on a result shows it in the value panel
    with qtbot.waitSignal(panel.show_value) as shown:
        panel._result_clicked(0, 0)
    title, array = shown.args
    assert title.startswith("op_to_restore:0") and float(array) == 60.0
    if SHOTS:
        panel.grab().save(os.path.join(SHOTS, "run_panel_seed.png"))


def test_missing_feed_is_a_message_and_the_next_run_works(qtbot, panel, models, tmp_path):
    opened(qtbot, panel, models.seed.dir)
    panel.add_fetch("op_to_restore:0")
    analyzed(qtbot, panel)
    panel.set_feed("w1", "1")
    assert not panel.run()
    assert "missing feed for placeholder w2:0" in panel.error.text()
    assert panel.feed_row("w2").message.text() == "a value is needed"
    # a worker-side error: a file feed whose contents do not fit (checked in the run)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array(["a", "b"]))
    panel.set_feed("w2", f"@{bad}")
    record = run_and_wait(qtbot, panel)
    assert record.error and "w2" in record.error and panel.error.isVisible()
    # then a good run: the worker survived
    np.save(bad, np.float32(4.0))
    record = run_and_wait(qtbot, panel)
    assert record.error is None, record.error
    assert float(record.runs[0].fetches["op_to_restore:0"]) == 10.0
    assert panel.error.isHidden()
    assert len(panel.history) == 2
    # choosing the failed entry shows its message again, the good one its values
    panel.history_list.setCurrentRow(0)
    assert panel.error.isVisible()
    panel.history_list.setCurrentRow(1)
    assert panel.results.item(0, 3).text() == "10"


def test_drop_a_file_on_a_row(qtbot, panel, models):
    opened(qtbot, panel, models.seed.dir)
    panel.add_fetch("op_to_restore:0")
    analyzed(qtbot, panel)
    row = panel.feed_row("w1")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(models.cnn.eval_dir / "eval_x.npy"))])
    event = QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    row.dropEvent(event)
    assert row.text == "@" + str(models.cnn.eval_dir / "eval_x.npy")
    assert row.message.isHidden()


def test_every_checkpoint_gives_the_recorded_accuracy(qtbot, panel, models):
    cnn = models.cnn
    opened(qtbot, panel, cnn.dir)
    panel.add_fetch("accuracy:0")
    panel.add_fetch("loss:0")
    analyzed(qtbot, panel)
    panel.set_feed("x", f"@{cnn.eval_dir / 'eval_x.npy'}")
    panel.set_feed("y", f"@{cnn.eval_dir / 'eval_y.npy'}")
    panel.choose_checkpoint("every")
    record = run_and_wait(qtbot, panel)
    assert record.error is None, record.error
    assert [r.step for r in record.runs] == cnn.epochs
    assert [float(r.fetches["accuracy:0"]) for r in record.runs] == cnn.accuracy
    assert [float(r.fetches["loss:0"]) for r in record.runs] == cnn.loss
    assert panel.epoch_table.rowCount() == 3
    assert panel.plotted == ["accuracy:0", "loss:0"]
    assert panel.result_tabs.currentIndex() == 1
    if SHOTS:
        panel.grab().save(os.path.join(SHOTS, "run_panel_epochs.png"))


def test_a_checkpoint_that_cannot_be_restored_fails_alone(qtbot, panel, models):
    """The run service's policy in the window: the broken checkpoint is reported on its
    row, and the others still give their recorded accuracy."""
    cnn = models.cnn
    opened(qtbot, panel, models.broken)
    panel.add_fetch("accuracy:0")
    analyzed(qtbot, panel)
    panel.set_feed("x", f"@{cnn.eval_dir / 'eval_x.npy'}")
    panel.set_feed("y", f"@{cnn.eval_dir / 'eval_y.npy'}")
    panel.choose_checkpoint("every")
    record = run_and_wait(qtbot, panel)
    assert record.error is None and not record.cancelled
    assert [r.step for r in record.runs] == [0, 1, 2]
    ok = [float(r.fetches["accuracy:0"]) for r in record.runs if r.fetches is not None]
    assert ok == [cnn.accuracy[0], cnn.accuracy[2]]
    assert record.runs[1].error.kind == "checkpoint"
    assert panel.epoch_table.item(1, 2).text() == "failed"
    assert "epoch-1" in panel.epoch_table.item(1, 2).toolTip()
    assert panel.error.isVisible() and panel.error.text().startswith("epoch-1: ")


def test_unsafe_ops_are_confirmed_and_refusing_runs_nothing(qtbot, panel, models, monkeypatch):
    un = models.unsafe
    asked = []

    def answer_no(parent, title, text, *args, **kw):
        asked.append(text)
        return QMessageBox.No

    monkeypatch.setattr(QMessageBox, "warning", answer_no)
    opened(qtbot, panel, un.dir)
    panel.add_fetch(un.output)
    analyzed(qtbot, panel)
    panel.set_feed("x", "[1, 2]")
    assert not panel.run()
    assert asked and un.write_op in asked[0] and "WriteFile" in asked[0]
    assert not panel.running and not panel.history
    assert not panel.run_lane.busy
    assert not un.target.exists()
