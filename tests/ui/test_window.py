"""The main window with real worker lanes on real (TensorFlow-written) runs."""

from __future__ import annotations

import gc
import math
import time
import os
import shutil
import weakref

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QUrl  # noqa: E402

from app.ui.main_window import MainWindow  # noqa: E402

from ..conftest import ROOT  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_run"
TIMEOUT = 20000


def opened(qtbot, window, path):
    view = window.open_path(str(path))
    qtbot.waitUntil(lambda: view.loaded is not None or view.stack.currentIndex() == 1,
                    timeout=TIMEOUT)
    return view


def idle(qtbot, view):
    qtbot.waitUntil(lambda: not any(view.doc.lanes[n].busy for n in ("load", "value", "stats")),
                    timeout=TIMEOUT)


def test_opens_a_run_with_checkpoints_tree_and_variables(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    assert view.stack.currentIndex() == 2
    assert view.checkpoints.list.topLevelItemCount() == 6
    assert view.loaded.checkpoint.step == 5
    assert view.tree.model.rowCount() > 10
    assert view.variables.model.rowCount() == len(view.loaded.tensors) == 15
    assert "sample_run" in window.windowTitle()
    assert "parameters" in window.status_label.text()


def test_selecting_a_variable_shows_value_and_stats(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    view.variables.select_key("conv/kernel")
    idle(qtbot, view)
    expected = view.loaded.reader.read("conv/kernel")
    assert view.value.view.array() is not None
    assert view.value.view.array().tobytes() == expected.tobytes()
    counts = view.value.view.display("histogram").curve().getData()[1]
    assert counts is not None and int(sum(counts)) == expected.size
    assert view.value.copy_code_button.isEnabled()
    assert "import_meta_graph" in view.value.snippet() and "conv/kernel:0" in view.value.snippet()


def test_tree_selection_drives_details_and_value(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    view.doc.select_op("conv/kernel")
    idle(qtbot, view)
    html = view.details.toPlainText()
    assert "VariableV2" in html and "Consumers" in html and "trainable_variables" in html
    assert view.value.view.array().tobytes() == view.loaded.reader.read("conv/kernel").tobytes()
    # an input link navigates the tree
    view.doc.select_op("conv/Conv2D")
    assert view.tree.model.scope(view.tree.tree.currentIndex()).path == "conv/Conv2D"


def test_filter_keeps_matches_and_ancestors(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    view.tree.filter.setText("Conv2D")
    view.tree.apply_filter()
    top = [view.tree.model.index(r, 0).data() for r in range(view.tree.model.rowCount())]
    assert "conv" in top and "loss" not in top
    assert "match" in view.tree.filter_note.text()
    view.tree.regex.setChecked(True)
    view.tree.filter.setText("(")
    view.tree.apply_filter()
    assert "Invalid regular expression" in view.tree.filter_note.text()


def test_switching_checkpoints_keeps_the_graph(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    graph = view.loaded.graph
    view.doc.select_tensor("conv/kernel")
    idle(qtbot, view)
    latest = view.value.view.array().copy()
    view.checkpoints.select_row(0)
    qtbot.waitUntil(lambda: view.loaded.checkpoint.step == 0, timeout=TIMEOUT)
    idle(qtbot, view)
    assert view.loaded.graph is graph
    assert view.value.view.array().tobytes() == view.loaded.reader.read("conv/kernel").tobytes()
    assert view.value.view.array().tobytes() != latest.tobytes()


def test_broken_file_shows_an_error_and_the_app_keeps_working(qtbot, window, tmp_path):
    bad = tmp_path / "broken.index"
    bad.write_bytes(b"not a table at all" * 10)
    view = opened(qtbot, window, bad)
    assert view.stack.currentIndex() == 1
    assert "broken.index" in view.failed_label.text()
    good = opened(qtbot, window, SAMPLE)
    assert good.stack.currentIndex() == 2 and window.tabs.count() == 2


def test_open_cancel_reopen(qtbot, window):
    view = window.open_path(str(SAMPLE))
    view.cancel_load()
    assert view.stack.currentIndex() == 1 and view.loaded is None
    view.reload()
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    assert view.stack.currentIndex() == 2


def test_stale_load_never_reaches_the_ui(qtbot, window, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(SAMPLE, other)
    view = window.open_path(str(SAMPLE))
    view.path = str(other)  # a second request replaces the first before it lands
    view.reload()
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    idle(qtbot, view)
    assert view.loaded.model.folder == str(other)


def test_recent_files_persist(qtbot, window, tmp_path):
    opened(qtbot, window, SAMPLE)
    assert window.recent()[0] == str(SAMPLE)
    again = MainWindow(window.settings)
    qtbot.addWidget(again)
    assert again.recent()[0] == str(SAMPLE)


def test_window_is_garbage_collected_after_closing(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    w.show()
    view = w.open_path(str(SAMPLE))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    ref = weakref.ref(w)
    view_ref = weakref.ref(view)
    w.close()
    w.deleteLater()
    del w, view
    qtbot.waitUntil(lambda: (gc.collect() or True) and ref() is None and view_ref() is None,
                    timeout=TIMEOUT)


def test_verify_reports_a_corrupt_tensor_by_name(qtbot, window, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    from app.formats.bundle import Bundle
    bundle = Bundle(str(run / "epoch-3"))
    entry = bundle._raw[b"conv/kernel"]
    data = run / "epoch-3.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 3] ^= 0x20
    data.write_bytes(bytes(raw))
    view = opened(qtbot, window, run)
    view.verify()
    qtbot.waitUntil(lambda: not view.doc.lanes["verify"].busy, timeout=TIMEOUT)
    assert view.banner.isVisible() and "1 of 90 tensors are corrupt" in view.banner.text.text()
    assert "epoch-3: conv/kernel" in view.banner.details.toPlainText()


def test_compare_ranks_variables_and_shows_the_delta(qtbot, qtmodeltester, window):
    import numpy as np
    view = opened(qtbot, window, SAMPLE)
    names = [view.compare.panel.a.itemText(i) for i in range(view.compare.panel.a.count())]
    assert len(names) == 6 and view.compare.panel.b.currentIndex() == 5
    view.compare.readers = None
    view.compare.panel.run_button.click()
    qtbot.waitUntil(lambda: view.compare.panel.model.rowCount() > 0, timeout=TIMEOUT)
    qtmodeltester.check(view.compare.panel.model)
    rows = view.compare.panel.model.rows()
    rels = [r.rel_l2 for r in rows if r.rel_l2 is not None]
    assert rels == sorted(rels, reverse=True)
    top = rows[0]
    ra, rb = view.compare.readers
    a = np.asarray(ra.read(top.key_a), dtype=np.float64)
    b = np.asarray(rb.read(top.key_b), dtype=np.float64)
    assert top.rel_l2 == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=1e-12)
    view.doc.select_tensor("conv/kernel")          # a value on screen before the delta
    idle(qtbot, view)
    said = []
    view.doc.working.connect(lambda lane, text: said.append((lane, text)))
    view.compare.panel.table.setCurrentIndex(view.compare.panel.proxy.index(0, 0))
    # Until the delta is there, the value pane says it is coming, not the previous value.
    assert said and said[0][0] == "value" and said[0][1].startswith("Computing Δ")
    assert not view.value.view.showing_content() and view.value.view.message().startswith("Computing Δ")
    idle(qtbot, view)
    assert view.value.view.showing_content()
    assert np.array_equal(view.value.view.array(), b - a)


def test_an_array_of_an_ml_dtype_gets_its_statistics(qtbot, window):
    """float8 and int4 have numpy kind "V": the value panel computes their statistics all
    the same, as the value view announces (it used to wait forever)."""
    import ml_dtypes
    import numpy as np
    view = opened(qtbot, window, SAMPLE)
    array = np.arange(12, dtype=np.float32).reshape(3, 4).astype(ml_dtypes.float8_e4m3fn)
    view.doc.select_value("float8 value", array)
    idle(qtbot, view)
    shown = view.value.view
    qtbot.waitUntil(lambda: "Computing" not in shown.stats_text(), timeout=TIMEOUT)
    assert "histogram" in shown.displays()
    counts = shown.display("histogram").curve().getData()[1]
    assert int(sum(counts)) == array.size


def test_across_the_run_follows_the_selected_variable(qtbot, window):
    import numpy as np
    view = opened(qtbot, window, SAMPLE)
    view.doc.select_tensor("conv/kernel")
    idle(qtbot, view)
    view.value_tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: view.trend.shown is not None, timeout=TIMEOUT)
    trend = view.trend.view.trend()
    assert [p.step for p in trend.points] == [0, 1, 2, 3, 4, 5]
    values = [np.asarray(open_reader_for(view, c).read("conv/kernel"), np.float64)
              for c in view.loaded.model.checkpoints]
    assert [p.mean for p in trend.points] == pytest.approx([v.mean() for v in values], rel=1e-12)
    for point, v in zip(trend.points, values):
        counts, _ = np.histogram(v.astype(np.float32), bins=np.asarray(trend.edges, np.float32))
        assert point.counts == counts.tolist()


def open_reader_for(view, ckpt):
    from app.formats.model import open_checkpoint
    return open_checkpoint(ckpt)


def test_one_selection_is_followed_by_every_panel(qtbot, window):
    """A row of the table moves the tree and the details; a consumer link in the details
    moves the tree and the table; a scope in the tree shows its details and keeps the value."""
    view = opened(qtbot, window, SAMPLE)
    tree = view.tree
    view.variables.select_key("dense/kernel")
    idle(qtbot, view)
    assert tree.model.scope(tree.tree.currentIndex()).path == "dense/kernel"
    assert "VariableV2" in view.details.toPlainText()
    assert view.value.key == "dense/kernel"
    # A link in the details (as a click on it does), with a filter that hides the target.
    tree.filter.setText("conv")
    tree.apply_filter()
    view.details.anchorClicked.emit(QUrl("op:conv/kernel"))
    idle(qtbot, view)
    assert tree.model.scope(tree.tree.currentIndex()).path == "conv/kernel"
    row = view.variables.proxy.mapToSource(view.variables.table.currentIndex()).row()
    assert view.variables.model.info(row).name == "conv/kernel"
    assert view.value.view.array().tobytes() == view.loaded.reader.read("conv/kernel").tobytes()
    # Clearing the filter keeps the current row; a scope: its details, the value stays.
    tree.filter.clear()
    tree.apply_filter()
    assert tree.model.scope(tree.tree.currentIndex()).path == "conv/kernel"
    tree.tree.setCurrentIndex(tree.model.index_of("dense"))
    assert "dense" in view.details.toPlainText() and view.value.key == "conv/kernel"
    assert view.side_tabs.currentWidget() is view.details


def test_ctrl_f_puts_the_cursor_in_the_tree_filter_and_esc_clears_it(qtbot, window):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    view = opened(qtbot, window, SAMPLE)
    window.activateWindow()
    view.variables.table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.variables.table, timeout=TIMEOUT)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_F, Qt.ControlModifier)
    assert QApplication.focusWidget() is view.tree.filter
    qtbot.keyClicks(view.tree.filter, "Conv2D")
    assert view.tree.filter.text() == "Conv2D"
    view.tree.apply_filter()
    assert view.tree.filter_note.isVisible()
    qtbot.keyClick(view.tree.filter, Qt.Key_Escape)
    assert view.tree.filter.text() == ""
    view.tree.apply_filter()
    assert not view.tree.filter_note.isVisible()


def test_expanding_a_scope_is_not_selecting(qtbot, window):
    """Qt makes the first row current when the tree takes the focus from the keyboard;
    that, and a click on a scope's expander, must neither select a row nor flip the side
    pane."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication
    view = opened(qtbot, window, SAMPLE)
    tree = view.tree.tree
    window.activateWindow()
    tree.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is tree, timeout=TIMEOUT)
    assert tree.currentIndex().isValid()          # Qt's doing: current, not selected
    conv = view.tree.model.index_of("conv")
    rect = tree.visualRect(conv)
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=QPoint(rect.left() - tree.indentation() // 2,
                                                                 rect.center().y()))
    qtbot.waitUntil(lambda: tree.isExpanded(conv), timeout=TIMEOUT)
    assert view.doc.selection.empty
    assert view.side_tabs.currentWidget() is view.variables
    qtbot.keyClick(tree, Qt.Key_Down)          # a real move does select
    assert not view.doc.selection.empty


def test_a_compare_row_carries_its_variable_across_the_run(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    panel = view.compare.panel
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0, timeout=TIMEOUT)
    row = next(i for i, r in enumerate(panel.model.rows()) if r.name == "conv/kernel")
    panel.table.setCurrentIndex(panel.proxy.mapFromSource(panel.model.index(row, 0)))
    idle(qtbot, view)
    assert view.doc.selection.key == "conv/kernel" and view.doc.selection.value is not None
    assert view.value.view.array().shape == (3, 3, 1, 4)
    view.value_tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: view.trend.shown is not None, timeout=TIMEOUT)
    assert view.trend.shown[0] == "conv/kernel"
    assert view.tree.model.scope(view.tree.tree.currentIndex()).path == "conv/kernel"


def test_reload_keeps_what_was_open_selected_and_shown(qtbot, window):
    """F5 re-reads the model; the scopes opened, the current variable and the side tab stay."""
    view = opened(qtbot, window, SAMPLE)
    tree = view.tree
    tree.tree.expand(tree.model.index_of("dense"))
    view.doc.select_op("dense/kernel")
    idle(qtbot, view)
    view.side_tabs.setCurrentWidget(view.details)
    first = view.loaded
    window.reload_current()
    qtbot.waitUntil(lambda: view.loaded is not first and view.stack.currentIndex() == 2, timeout=TIMEOUT)
    idle(qtbot, view)
    assert tree.tree.isExpanded(tree.model.index_of("dense"))
    assert view.doc.selection.key == "dense/kernel"
    assert tree.model.scope(tree.tree.currentIndex()).path == "dense/kernel"
    assert view.side_tabs.currentWidget() is view.details
    assert view.value.view.array().shape == (64, 2)


def test_closing_a_tab_with_run_results_asks_first(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    view = opened(qtbot, window, SAMPLE)
    view.run.panel.history.append(object())     # as a finished run leaves it
    asked = []

    def answer(choice):
        def question(parent, title, text, buttons, default):
            asked.append(text)
            return choice
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    window.close_tab(window.tabs.indexOf(view))
    assert window.tabs.count() == 1 and "results of 1 run" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Close))
    window.close_tab(window.tabs.indexOf(view))
    assert window.tabs.count() == 0 and len(asked) == 2


def test_compare_ranks_moved_weights_first_and_hides_optimizer_state(qtbot):
    """Zero-initialised tensors have an infinite relative change; they follow the finite
    ones, ranked by their own RMS change, and the optimizer's state waits behind a toggle."""
    from app.analysis.compare import DiffRow
    from app.ui.compare_panel import ComparePanel

    def row(name, rel, l2=None, size=4, status="changed"):
        return DiffRow(name=name, status=status, key_a=name, key_b=name, rel_l2=rel, l2_delta=l2,
                       size=size, max_abs_delta=0.0, mean_abs_delta=0.0)
    rows = [row("conv/bias", math.inf, l2=0.1), row("global_step", 5.0, size=1),
            row("conv/kernel/Adam", math.inf, l2=4.0), row("conv/kernel", 0.7, l2=0.3, size=36),
            row("dense/bias", math.inf, l2=0.4), row("old", None, status="removed"),
            row("dense/kernel", 0.2, l2=0.1, size=8)]
    panel = ComparePanel()
    qtbot.addWidget(panel)
    panel.set_rows(rows, "epoch-0", "epoch-9", optimizer={"global_step", "conv/kernel/Adam"})

    def shown():
        return [panel.proxy.index(i, 0).data() for i in range(panel.proxy.rowCount())]
    assert shown() == ["conv/kernel", "dense/kernel", "dense/bias", "conv/bias", "old"]
    assert panel.table.horizontalHeader().sortIndicatorSection() == 2
    assert panel.proxy.index(2, 2).data() == "from zero"
    assert "2 optimizer tensors hidden" in panel.summary.text()
    panel.optimizer_check.setChecked(True)
    assert shown() == ["global_step", "conv/kernel", "dense/kernel", "conv/kernel/Adam", "dense/bias",
                       "conv/bias", "old"]


def test_compare_names_two_same_named_checkpoints_by_their_folders(tmp_path):
    from app.formats.run import Checkpoint
    from app.ui.panels.compare import side_labels
    a = Checkpoint(prefix=str(tmp_path / "download" / "vgg_16.ckpt"))
    b = Checkpoint(prefix=str(tmp_path / "finetuned" / "vgg_16.ckpt"))
    assert side_labels(a, b) == ("download/vgg_16.ckpt", "finetuned/vgg_16.ckpt")


def test_a_folder_of_models_offers_each_as_a_link(qtbot, window, tmp_path):
    for name in ("first", "second"):
        shutil.copytree(SAMPLE, tmp_path / "models" / name)
    view = opened(qtbot, window, tmp_path / "models")
    assert view.stack.currentIndex() == 1
    assert 'href="' + str(tmp_path / "models" / "second") + '"' in view.failed_label.text()
    view.failed_label.linkActivated.emit(str(tmp_path / "models" / "second"))
    assert window.tabs.count() == 2 and window.current().path == str(tmp_path / "models" / "second")


def test_the_overview_lists_each_unreadable_tensor(qtbot, window, tmp_path):
    """The banner counts them; the details say which and why."""
    from app.formats import protos
    from tests.tablewriter import LYING_ENTRIES, bundle_entry, table_bytes
    header = protos.BundleHeaderProto(num_shards=1)
    entries = [(b"", header.SerializeToString()),
               (b"good", bundle_entry(dtype=1, shape=[0], size=0))]
    entries += [(name.encode(), bundle_entry(**LYING_ENTRIES[name]))
                for name in ("negative-dim", "shard-out-of-range", "unknown-dtype")]
    (tmp_path / "m.index").write_bytes(table_bytes(entries))
    (tmp_path / "m.data-00000-of-00001").write_bytes(b"")
    view = opened(qtbot, window, tmp_path / "m.index")
    assert view.stack.currentIndex() == 2 and view.banner.isVisible()
    text = view.details.toPlainText()
    assert "Unreadable tensors (3)" in text
    for name in ("negative-dim", "shard-out-of-range", "unknown-dtype"):
        assert name in text
    assert "good" not in text.split("Unreadable tensors")[1]


def test_the_overview_names_likely_inputs_and_outputs_and_runs_one(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    text = view.details.toPlainText()
    assert "Likely inputs and outputs" in text
    io = text.split("Likely inputs and outputs")[1]
    assert "x" in io and "accuracy" in io and "loss" in io
    assert "save/" not in io and "gradients/" not in io
    view.details.anchorClicked.emit(QUrl("run:accuracy"))
    assert view.side_tabs.currentWidget() is view.run
    assert view.run.panel.fetches == ["accuracy:0"]


def test_esc_leaves_no_pane_promising_a_result(qtbot, window):
    """Statistics stopped with Esc say so, with a Retry that brings them."""
    from app.analysis import stats as stats_mod
    view = opened(qtbot, window, SAMPLE)
    view.doc.select_tensor("dense/kernel")
    idle(qtbot, view)
    values = view.value.view
    slow = stats_mod.compute

    def stuck(*args, cancelled=None, **kw):       # statistics that wait to be cancelled
        while not cancelled():
            time.sleep(0.005)
        raise stats_mod.Cancelled()
    stats_mod.compute = stuck
    try:
        view.doc.select_tensor("conv/kernel")
        qtbot.waitUntil(lambda: view.doc.lanes["stats"].busy, timeout=TIMEOUT)
        assert "Computing statistics" in values.stats_text()
        window.cancel_button.click()             # as Esc does
        qtbot.waitUntil(lambda: not view.doc.lanes["stats"].busy, timeout=TIMEOUT)
        assert "Statistics cancelled" in values.stats_text() and "Retry" in values.stats_text()
        assert "Computing" not in values.stats_text()
    finally:
        stats_mod.compute = slow
    values.statsRetry.emit()
    idle(qtbot, view)
    assert "Cancelled" not in values.stats_text() and "max" in values.stats_text()


def test_a_savedmodels_signatures_apart_from_its_init_op_each_usable_in_run(qtbot, window, tmp_path, tf):
    from .. import tf_fixtures as fx
    saved = fx.saved_models(tmp_path / "saved").tf2
    view = opened(qtbot, window, saved.dir)
    text = view.details.toPlainText()
    assert "serving_default" in text and "Run…" in text
    sigs = text.split("Signatures")[1].split("Run once on loading")[0]
    assert "__saved_model_init_op" not in sigs and "NoOp" not in sigs and "unknown dtype" not in sigs
    assert "x float32 [-1, 3]" in " ".join(sigs.split())      # dtype name and shape of input x
    assert "Run once on loading (not a signature)" in text
    view.details.anchorClicked.emit(QUrl("signature:serving_default"))
    assert view.side_tabs.currentWidget() is view.run
    assert view.run.panel.signature_key == "serving_default"


def test_a_histogram_gets_bins_that_suit_its_tensor(qtbot, window):
    """144 bytes of float32 (36 values) are not drawn in 100 bins; the bins a user picks
    hold for that tensor."""
    from app.analysis.stats import suggested_bins
    view = opened(qtbot, window, SAMPLE)
    view.doc.select_tensor("conv/kernel")                  # 36 values
    idle(qtbot, view)
    assert view.value.view.bins() == suggested_bins(36) == 10
    view.doc.select_tensor("dense/kernel")                 # 128 values
    idle(qtbot, view)
    assert view.value.view.bins() == suggested_bins(128) == 12
    view.value.view.binsChanged.emit(40)                   # the user's choice, for this tensor
    idle(qtbot, view)
    assert view.value.view.bins() == 40
    assert suggested_bins(144) == 12 and suggested_bins(10**8) == 100 and suggested_bins(3) == 3


def test_a_value_opens_in_a_window_of_its_own(qtbot, window):
    view = opened(qtbot, window, SAMPLE)
    view.doc.select_tensor("dense/kernel")
    idle(qtbot, view)
    popped = view.value.pop_out()
    qtbot.addWidget(popped)
    assert popped.isVisible() and popped.array() is view.value.view.array()
    assert popped.stats_text() == view.value.view.stats_text()
    view.doc.select_tensor("conv/kernel")          # the window keeps what it was given
    idle(qtbot, view)
    assert popped.array().shape == (64, 2)
    popped.close()
