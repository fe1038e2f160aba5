"""The "Save as…" and "Average checkpoints…" dialogs, driven as a user would, on real
checkpoints; results read back with the app's readers and TensorFlow."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from app.analysis import edit  # noqa: E402
from app.formats import dtypes  # noqa: E402
from app.formats.bundle_writer import BundleWriter, plain  # noqa: E402
from app.formats.model import open_checkpoint, open_path  # noqa: E402
from app.ui.edit_dialog import AverageDialog, SaveAsDialog  # noqa: E402

from ..conftest import ROOT  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_run"
TIMEOUT = 20000


@pytest.fixture
def run(tmp_path):
    """A copy of the sample run, so that results written beside it stay in tmp_path."""
    dest = tmp_path / "run"
    shutil.copytree(SAMPLE, dest)
    return dest


def opened(qtbot, window, path):
    view = window.open_path(str(path))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    return view


def planned(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog.lane.busy, timeout=TIMEOUT)


def read_all(prefix) -> dict:
    model = open_path(str(prefix))
    ckpt = next(c for c in model.checkpoints if c.prefix == os.path.abspath(prefix))
    reader = open_checkpoint(ckpt)
    try:
        return {k: reader.read(k) for k in reader.tensors}
    finally:
        reader.close()


def files_under(folder) -> set:
    return {os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs}


def toggle(dialog, key: str, keep: bool) -> None:
    row = dialog.model.row_of(key)
    assert row >= 0, key
    dialog.model.setData(dialog.model.index(row, 0), Qt.Checked if keep else Qt.Unchecked,
                         Qt.CheckStateRole)


def test_save_as_uncheck_rename_strip_writes_and_opens_the_result(qtbot, window, run, tmp_path, tf):
    view = opened(qtbot, window, run)
    source = read_all(run / "epoch-5")
    window._update_edit_actions()
    assert window.act_save_as.isEnabled() and window.act_average.isEnabled()
    assert view.variables.save_as_action().isEnabled() and view.checkpoints.average_action().isEnabled()
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    assert dialog.model.rowCount() == 15
    toggle(dialog, "dense/bias", False)
    dialog.rename.setText("^conv/=encoder/conv/")
    dialog.strip.setChecked(True)
    qtbot.waitUntil(lambda: dialog.plan is not None and "renamed" in dialog.plan.counts()
                    and dialog.plan.counts()["renamed"] == 2 and dialog.plan.counts()["dropped"] == 11,
                    timeout=TIMEOUT)
    # The live preview: new names, the dropped row greyed with why, the summary.
    names = {dialog.model.rows[r].key: dialog.model.data(dialog.model.index(r, 1))
             for r in range(dialog.model.rowCount())}
    assert names["conv/kernel"] == "encoder/conv/kernel" and names["dense/bias"] == "—"
    note = dialog.model.data(dialog.model.index(dialog.model.row_of("dense/bias"), 5))
    assert "unchecked" in note
    assert "2.0 KiB → " in dialog.summary.text() and "4 kept" in dialog.summary.text()
    # an optimizer slot, dropped by the strip, cannot be ticked back on its own
    slot = dialog.model.index(dialog.model.row_of("conv/kernel/Adam"), 0)
    assert not dialog.model.flags(slot) & Qt.ItemIsUserCheckable

    out = tmp_path / "out" / "small.ckpt"
    dialog.destination.setText(str(out))
    assert dialog.write_button.isEnabled()
    tabs = window.tabs.count()
    dialog.write_button.click()
    qtbot.waitUntil(lambda: window.tabs.count() == tabs + 1, timeout=TIMEOUT)
    result = window.current()
    qtbot.waitUntil(lambda: result.loaded is not None, timeout=TIMEOUT)
    assert set(result.loaded.tensors) == {"encoder/conv/kernel", "encoder/conv/bias",
                                          "dense/kernel", "global_step"}

    ours = read_all(out)
    theirs = {k: tf.train.load_checkpoint(str(out)).get_tensor(k)
              for k in tf.train.load_checkpoint(str(out)).get_variable_to_shape_map()}
    expected = {"encoder/conv/kernel": source["conv/kernel"], "encoder/conv/bias": source["conv/bias"],
                "dense/kernel": source["dense/kernel"], "global_step": source["global_step"]}
    for values in (ours, theirs):
        assert set(values) == set(expected)
        for k, v in expected.items():
            np.testing.assert_array_equal(values[k], v)
    assert set(read_all(run / "epoch-5")) == set(source)        # the source is untouched


def test_invalid_rename_is_said_inline_and_blocks_writing(qtbot, window, run):
    view = opened(qtbot, window, run)
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    dialog.rename.setText("conv(=x")
    qtbot.waitUntil(lambda: dialog.plan_error.isVisible(), timeout=TIMEOUT)
    assert "not a valid regular expression" in dialog.plan_error.text()
    assert not dialog.write_button.isEnabled()
    dialog.rename.setText("kernel")
    qtbot.waitUntil(lambda: "PATTERN=REPLACEMENT" in dialog.plan_error.text(), timeout=TIMEOUT)
    # two variables renamed to one key: the plan's own refusal, inline
    dialog.rename.setText("(kernel|bias)$=w")
    qtbot.waitUntil(lambda: "would both be saved as" in dialog.plan_error.text(), timeout=TIMEOUT)
    assert not dialog.write_button.isEnabled()
    dialog.rename.setText("^dense=head")
    planned(qtbot, dialog)
    assert not dialog.plan_error.isVisible() and dialog.plan.counts()["renamed"] == 6
    dialog.reject()


def test_bad_destination_is_refused_and_writes_nothing(qtbot, window, run):
    view = opened(qtbot, window, run)
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    before = files_under(run)
    dialog.destination.setText(str(run / "edited"))       # inside the source's folder
    assert dialog.dest_error.isVisible() and "inside the source's folder" in dialog.dest_error.text()
    assert not dialog.write_button.isEnabled()
    dialog.write()                                         # even asked directly: nothing
    dialog.destination.setText(str(run / "epoch-5"))
    assert dialog.dest_error.isVisible()
    assert files_under(run) == before
    assert not dialog.lane.busy
    dialog.reject()


def _big_checkpoint(folder, n=8, mib=4) -> str:
    os.makedirs(folder)
    prefix = os.path.join(folder, "big-1")
    writer = BundleWriter(prefix)
    rng = np.random.default_rng(0)
    for i in range(n):
        value = rng.standard_normal(mib << 18).astype(np.float32)
        writer.add(f"layer{i}/kernel", dtypes.BY_NAME["float32"], value.shape, plain([value]))
    writer.finish()
    with open(os.path.join(folder, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "big-1"\n')
    return prefix


def test_cancel_halfway_leaves_nothing(qtbot, window, tmp_path, monkeypatch):
    _big_checkpoint(str(tmp_path / "big"))
    real = edit.write_plan

    def slow(plan, prefix, progress=None, cancelled=None):
        # small chunks and a pause per chunk: the cancel lands while tensors are written
        import time

        def paced(f):
            progress(f)
            time.sleep(0.01)
        return real(plan, prefix, progress=paced, cancelled=cancelled, chunk_bytes=64 << 10)

    monkeypatch.setattr(edit, "write_plan", slow)
    view = opened(qtbot, window, tmp_path / "big")
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    dialog.cast.setCurrentIndex(dialog.cast.findData("float16"))
    planned(qtbot, dialog)
    out_folder = tmp_path / "out"
    dialog.destination.setText(str(out_folder / "half"))
    dialog.write_button.click()
    qtbot.waitUntil(lambda: dialog.progress.value() > 200, timeout=TIMEOUT)
    assert dialog.progress.isVisible() and dialog.cancel_button.text() == "Stop writing"
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: "nothing was written" in dialog.state.text(), timeout=TIMEOUT)
    assert dialog.progress.value() < 1000
    assert not out_folder.exists() or files_under(out_folder) == set()
    assert [p for p in os.listdir(tmp_path) if p not in ("big", "settings.ini", "out")] == []
    assert dialog.write_button.isEnabled()          # the user may try again
    assert dialog.cancel_button.isEnabled() and dialog.cancel_button.text() == "Cancel"
    dialog.reject()


def test_average_of_the_sample_run_is_the_numpy_mean(qtbot, window, run, tmp_path, tf):
    view = opened(qtbot, window, run)
    dialog = view.checkpoints.average()
    planned(qtbot, dialog)
    assert dialog.last.value() == 5 and len(dialog.chosen()) == 5
    dialog.last.setValue(3)
    planned(qtbot, dialog)
    assert [c.name for c in dialog.chosen()] == ["epoch-3", "epoch-4", "epoch-5"]
    assert dialog.destination.text().endswith(os.path.join("run-averaged", "epoch-5-avg3"))
    # ticking by hand: epoch-1 too
    dialog.list.topLevelItem(1).setCheckState(0, Qt.Checked)
    qtbot.waitUntil(lambda: dialog.plan is not None and "epoch-1" in dialog.plan.notes[0], timeout=TIMEOUT)
    chosen = [c.name for c in dialog.chosen()]
    assert chosen == ["epoch-1", "epoch-3", "epoch-4", "epoch-5"]
    out = tmp_path / "avg" / "mean.ckpt"
    dialog.destination.setText(str(out))
    tabs = window.tabs.count()
    dialog.write_button.click()
    qtbot.waitUntil(lambda: window.tabs.count() == tabs + 1, timeout=TIMEOUT)

    inputs = [read_all(run / name) for name in chosen]
    ours = read_all(out)
    reader = tf.train.load_checkpoint(str(out))
    assert set(ours) == set(inputs[-1]) == set(reader.get_variable_to_shape_map())
    for k, newest in inputs[-1].items():
        if newest.dtype.kind == "f":
            want = (np.mean([i[k].astype(np.float64) for i in inputs], axis=0)).astype(newest.dtype)
        else:
            want = newest                  # global_step: from the newest
        np.testing.assert_array_equal(ours[k], want)
        np.testing.assert_array_equal(reader.get_tensor(k), want)
    assert not np.array_equal(ours["conv/kernel"], inputs[-1]["conv/kernel"])


def test_average_needs_two_ticked(qtbot, window, run):
    view = opened(qtbot, window, run)
    dialog = view.checkpoints.average()
    planned(qtbot, dialog)
    for i in range(dialog.list.topLevelItemCount() - 1):
        dialog.list.topLevelItem(i).setCheckState(0, Qt.Unchecked)
    qtbot.waitUntil(lambda: dialog.plan_error.isVisible(), timeout=TIMEOUT)
    assert "at least two" in dialog.plan_error.text()
    assert not dialog.write_button.isEnabled()
    dialog.reject()


def test_mapping_file_renames_and_a_bad_one_is_said(qtbot, window, run, tmp_path):
    view = opened(qtbot, window, run)
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    good = tmp_path / "names.json"
    good.write_text('{"dense/kernel": "head/w", "dense/bias": "head/b"}')
    dialog.rename.setText("^conv=c")
    dialog._set_map(str(good))
    assert dialog.rename.text() == "" and not dialog.rename.isEnabled()
    planned(qtbot, dialog)
    assert not dialog.plan_error.isVisible()
    renamed = {r.key: r.new_key for r in dialog.plan.rows if "renamed" in r.actions}
    assert renamed == {"dense/kernel": "head/w", "dense/bias": "head/b"}
    bad = tmp_path / "bad.txt"
    bad.write_text("dense/kernel\n")
    dialog._set_map(None)
    dialog._set_map(str(bad))
    qtbot.waitUntil(lambda: dialog.plan_error.isVisible(), timeout=TIMEOUT)
    assert "expected `OLD_KEY NEW_KEY`" in dialog.plan_error.text()
    assert not dialog.write_button.isEnabled()
    dialog._set_map(None)                      # back to the pattern field
    planned(qtbot, dialog)
    assert dialog.rename.isEnabled() and dialog.plan.counts()["renamed"] == 0
    dialog.reject()


def test_ticking_back_keeps_the_variable_and_typing_holds_the_write(qtbot, window, run):
    view = opened(qtbot, window, run)
    dialog = view.variables.save_as()
    planned(qtbot, dialog)
    toggle(dialog, "dense/bias", False)
    planned(qtbot, dialog)
    assert dialog.plan.counts()["dropped"] == 1
    index = dialog.model.index(dialog.model.row_of("dense/bias"), 0)
    toggle(dialog, "dense/bias", True)
    assert dialog.model.data(index, Qt.CheckStateRole) == Qt.Checked      # at once
    planned(qtbot, dialog)
    assert dialog.plan.counts()["dropped"] == 0
    dialog.rename.setText("^dense=head")
    assert not dialog.write_button.isEnabled()     # until the plan has the new names
    planned(qtbot, dialog)
    assert dialog.write_button.isEnabled() and dialog.plan.counts()["renamed"] == 6
    dialog.reject()
