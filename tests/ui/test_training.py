"""The Training tab: the curves a run logged beside its checkpoints, on a run TensorFlow
wrote in the test session."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt  # noqa: E402

from app.analysis.curves import smooth  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

from .. import tf_fixtures as fx  # noqa: E402
from ..conftest import ROOT  # noqa: E402

TIMEOUT = 20000


@pytest.fixture(scope="module")
def run(tmp_path_factory, tf):
    return fx.summaries_tf2(tmp_path_factory.mktemp("training") / "run")


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1300, 900)
    w.show()
    yield w
    w.close()


def test_smoothing_is_tensorboards():
    values = [1.0, 2.0, float("nan"), 4.0]
    w = 0.6
    out = smooth(values, w)
    # By hand: the average restarts debiased; NaN passes through and is not averaged.
    last = 0.0
    expected = []
    n = 0
    for y in values:
        if y != y:
            expected.append(y)
            continue
        last = last * w + (1 - w) * y
        n += 1
        expected.append(last / (1 - w ** n))
    assert np.array_equal(out, np.array(expected), equal_nan=True)
    assert out[0] == 1.0 and np.array_equal(smooth(values, 0), np.array(values), equal_nan=True)


def test_the_curves_of_a_run_and_a_click_picks_a_checkpoint(qtbot, window, run):
    view = window.open_path(str(run.dir))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    tab = view.value_tabs.indexOf(view.training)
    assert view.value_tabs.isTabVisible(tab)
    view.value_tabs.setCurrentIndex(tab)
    qtbot.waitUntil(lambda: bool(view.training.plots), timeout=TIMEOUT)
    tags = {tag for _run, tag in run.scalars}
    assert set(view.training.plots) == tags
    # Every checkpoint on disk is marked in every plot; the current one stands out.
    steps = sorted(c.step for c in view.loaded.model.checkpoints if c.on_disk)
    plot = view.training.plots["loss"]
    assert sorted(line.value() for line in plot.markers) == steps
    # A click on the first checkpoint's marker makes it current everywhere.
    first = min(view.loaded.model.checkpoints, key=lambda c: c.step)
    vb = plot.getPlotItem().getViewBox()
    view.training.area.ensureWidgetVisible(plot)
    qtbot.wait(50)
    pos = plot.mapFromScene(vb.mapViewToScene(QPointF(first.step, vb.viewRect().center().y())))
    qtbot.mouseClick(plot.viewport(), Qt.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    qtbot.waitUntil(lambda: view.loaded.checkpoint.prefix == first.prefix, timeout=TIMEOUT)
    assert view.checkpoints.list.currentItem().data(0, Qt.UserRole) == first.prefix


def test_a_run_without_event_files_has_no_training_tab(qtbot, window):
    view = window.open_path(str(ROOT / "resources" / "sample_run"))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    assert not view.value_tabs.isTabVisible(view.value_tabs.indexOf(view.training))
