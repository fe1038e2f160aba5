"""The run's story on one axis: the selected variable's Across-the-run curve over the
Training tab's plots, and the run's logged histogram beside the weights' own. The run is
written by a real TensorFlow process (tests/live_train.py, mode tf2ev)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from app.ui.main_window import MainWindow  # noqa: E402

from ..test_live import recorded, start_training  # noqa: E402

TIMEOUT = 30000
SAVES = 6


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    base = tmp_path_factory.mktemp("story")
    run, record = base / "run", base / "record"
    proc = start_training("tf2ev", run, record, saves=SAVES)
    assert proc.wait(timeout=180) == 0, proc.stderr.read()
    return run, record


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1300, 900)
    w.show()
    yield w
    w.close()


def _open(qtbot, window, run):
    view = window.open_path(str(run))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    key = next(t.name for t in view.loaded.tensors.values() if t.display_name == "a")
    return view, key


def test_the_variables_norm_and_change_lie_over_the_training_curves(qtbot, window, story):
    run, record = story
    view, key = _open(qtbot, window, run)
    view.doc.select_tensor(key)
    view.value_tabs.setCurrentIndex(view.value_tabs.indexOf(view.training))
    qtbot.waitUntil(lambda: "loss" in view.training.plots, timeout=TIMEOUT)
    assert view.training.overlay_points("loss") is None            # off until asked for
    view.training.overlay.setCurrentIndex(view.training.overlay.findData("norm"))
    qtbot.waitUntil(lambda: view.training.overlay_points("loss") is not None, timeout=TIMEOUT)
    steps, norms = view.training.overlay_points("loss")
    kept = sorted(c.step for c in view.loaded.model.checkpoints if c.on_disk)
    assert list(steps) == kept == [SAVES - 2, SAVES - 1, SAVES]
    want = [float(np.linalg.norm(recorded(record, s)["a"].astype(np.float64))) for s in kept]
    assert np.allclose(norms, want, rtol=1e-12)
    assert view.training.plots["loss"].getPlotItem().getAxis("right").isVisible()
    # Relative change to the first checkpoint shown: ‖a_s − a_first‖ / ‖a_first‖ = (s − first) / first.
    view.training.overlay.setCurrentIndex(view.training.overlay.findData("rel_change_first"))
    qtbot.waitUntil(lambda: view.training.overlay_points("loss") is not None, timeout=TIMEOUT)
    _steps, changes = view.training.overlay_points("loss")
    assert np.allclose(changes, [(s - kept[0]) / kept[0] for s in kept], rtol=1e-5)
    view.training.overlay.setCurrentIndex(0)
    assert view.training.overlay_points("loss") is None
    assert not view.training.plots["loss"].getPlotItem().getAxis("right").isVisible()


def test_the_logged_histogram_appears_beside_the_weights_own(qtbot, window, story):
    run, _record = story
    view, key = _open(qtbot, window, run)
    view.doc.select_tensor(key)
    qtbot.waitUntil(lambda: view.value.slot.built and view.value.view.snapshot() is not None, timeout=TIMEOUT)
    hist = view.value.view.display("histogram")
    view.value.view.show_display("histogram")
    qtbot.waitUntil(lambda: hist.logged_item().isVisible(), timeout=TIMEOUT)
    step = view.doc.checkpoint.step
    assert f"logged train/a (step {step})" in hist.logged_label.text()
    x, _y = hist.logged_item().getData()
    # The weights at step s are linspace(-1, 1) * s: TensorFlow's buckets span that range.
    assert np.isclose(x[0], -step) and np.isclose(x[-1], step)
    # Another checkpoint: the logged histogram of its own step.
    other = min((c for c in view.loaded.model.checkpoints if c.on_disk and c.step != step), key=lambda c: c.step)
    view.doc.select_checkpoint(other.prefix)
    qtbot.waitUntil(lambda: f"step {other.step})" in hist.logged_label.text(), timeout=TIMEOUT)
