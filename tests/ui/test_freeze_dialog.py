"""The Freeze dialog in the window: opened from the scope tree's context menu on an op,
frozen by a real worker process, the result opened in a tab of its own; cancel leaves
nothing behind; mistakes are said in the dialog. TensorFlow runs the frozen graph as the
oracle."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from ..conftest import require  # noqa: E402

tf = require("tensorflow")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMenu  # noqa: E402

from app.ui.freeze_dialog import FreezeDialog  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

from .. import tf_fixtures as fx  # noqa: E402

TIMEOUT = 120000
SHOTS = os.environ.get("FREEZE_SHOTS")  # a folder: save screenshots there


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("freeze_ui")
    return argparse.Namespace(seed=fx.seed_w1w2(root / "seed"),
                              saved=fx.saved_models(root / "saved"))


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    yield w
    w.close()


def opened(qtbot, window, path):
    view = window.open_path(str(path))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    return view


def menu_from_tree(qtbot, view, op: str) -> list[str]:
    """Right-click the op's row: the context menu's actions, the first one triggered."""
    assert view.tree.reveal(op)
    index = view.tree.model.index_of(op)
    rect = view.tree.tree.visualRect(index)
    texts = []

    def pick():
        menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu)
                    and w.isVisible())
        texts.extend(a.text() for a in menu.actions())
        menu.actions()[0].trigger()
        menu.close()

    QTimer.singleShot(200, pick)
    view.tree.tree.customContextMenuRequested.emit(rect.center())
    return texts


def test_freeze_from_the_tree_opens_the_result_in_a_new_tab(qtbot, window, models, tmp_path):
    seed = models.seed
    view = opened(qtbot, window, seed.dir)
    texts = menu_from_tree(qtbot, view, "op_to_restore")
    assert texts == ["Freeze with output op_to_restore…"]
    dialog = view.freeze_dialog
    assert isinstance(dialog, FreezeDialog) and dialog.isVisible()
    assert dialog.output_names == ["op_to_restore"]
    # proposed beside the run's folder, never inside it
    assert os.path.dirname(dialog.destination.text()) == str(seed.dir.parent)
    dest = tmp_path / "seed-frozen.pb"
    dialog.destination.setText(str(dest))
    if SHOTS:
        dialog.grab().save(os.path.join(SHOTS, "freeze_dialog.png"))
    tabs = window.tabs.count()
    assert dialog.start()
    if SHOTS:
        qtbot.waitUntil(lambda: dialog.bar.value() > 0, timeout=TIMEOUT)
        dialog.grab().save(os.path.join(SHOTS, "freeze_dialog_running.png"))
    qtbot.waitUntil(lambda: window.tabs.count() == tabs + 1, timeout=TIMEOUT)
    assert not dialog.isVisible() and dialog.result.folded == 1
    frozen = window.tabs.widget(window.tabs.count() - 1)
    assert frozen.path == str(dest)
    qtbot.waitUntil(lambda: frozen.loaded is not None, timeout=TIMEOUT)
    assert frozen.loaded.graph.variables() == [] and "op_to_restore" in frozen.loaded.graph.index
    if SHOTS:
        window.grab().save(os.path.join(SHOTS, "freeze_opened.png"))
    # TensorFlow runs what was written
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(dest.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        assert sess.run("op_to_restore:0", {"w1:0": 13.0, "w2:0": 17.0}) == 60.0


def test_mistakes_are_said_in_the_dialog_and_cancel_leaves_nothing(qtbot, window, models,
                                                                     tmp_path):
    seed = models.seed
    view = opened(qtbot, window, seed.dir)
    view.freeze(["nope"])
    dialog = view.freeze_dialog
    out = tmp_path / "out"
    out.mkdir()
    dialog.destination.setText(str(out / "x.pb"))
    assert not dialog.start()
    assert "no op 'nope'" in dialog.status.text()
    dialog.outputs.clear()
    dialog.add_output("op_to_restore")
    dialog.destination.setText(str(seed.dir / "inside.pb"))
    assert not dialog.start()
    assert "inside the model's folder" in dialog.status.text()
    dialog.destination.setText(str(out / "x.pb"))
    # Cancel at once: the worker is still importing TensorFlow (a cancel between
    # stages is tests/test_freeze.py's; here, what the dialog shows and leaves).
    assert dialog.start()
    assert dialog.btn_cancel.text() == "Stop"
    dialog.btn_cancel.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=TIMEOUT)
    assert "Cancelled" in dialog.status.text(), dialog.status.text()
    assert os.listdir(out) == [] and dialog.isVisible()
    dialog.reject()
    assert not dialog.isVisible()


def test_a_saved_model_lists_its_signatures(qtbot, window, models):
    view = opened(qtbot, window, models.saved.tf2.dir)
    # its graph only calls functions: an op of it is no output, the signature's are
    op = next(n.name for n in view.loaded.graph.nodes if n.op == "StatefulPartitionedCall")
    assert menu_from_tree(qtbot, view, op) == ["Freeze…"]
    dialog = view.freeze_dialog
    assert dialog.signature.currentText() == "serving_default"
    assert dialog.signature.count() == 1
    assert dialog.output_names == []
    dialog.reject()


def test_the_run_tab_freezes_its_fetches(qtbot, window, models):
    view = opened(qtbot, window, models.seed.dir)
    view.side_tabs.setCurrentWidget(view.run)
    panel = view.run.panel
    assert not panel.btn_freeze.isEnabled()  # nothing to freeze for yet
    panel.add_fetch("op_to_restore:0")
    assert panel.btn_freeze.isEnabled()
    if SHOTS:
        qtbot.wait(500)
        window.grab().save(os.path.join(SHOTS, "freeze_run_tab.png"))
    panel.btn_freeze.click()
    dialog = view.freeze_dialog
    assert dialog.isVisible() and dialog.output_names == ["op_to_restore:0"]
    dialog.reject()
