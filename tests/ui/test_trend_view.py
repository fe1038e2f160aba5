"""The trend panel: one variable across the checkpoints of a run (offscreen Qt)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QPalette  # noqa: E402

from app.analysis.compare import Trend, TrendPoint, trend  # noqa: E402
from app.formats.model import open_checkpoint, open_path  # noqa: E402
from app.ui.displays.trend_table import (COL_MEAN, COL_PROBLEM, COL_REL_PREV,  # noqa: E402
                                        COL_STEP, COLUMNS, TrendTableModel)
from app.ui.trend_view import TrendView  # noqa: E402

from ..conftest import ROOT  # noqa: E402

SAMPLE_RUN = ROOT / "resources" / "sample_run"


@pytest.fixture(scope="module")
def sample_trend() -> Trend:
    model = open_path(str(SAMPLE_RUN))
    readers = [(c.step, open_checkpoint(c)) for c in model.checkpoints]
    return trend(readers, "conv/kernel", bins=30)


def gap_trend(steps=(0, 10, 20, 30)) -> Trend:
    """A hand-made trend of a [4] variable missing in the third checkpoint."""
    def point(step, counts, mean, rel_first, rel_prev):
        return TrendPoint(step, f"/run/ckpt-{step}", key="w", shape=[4], dtype="float32",
                          size=4, mean=mean, std=0.5, norm=2.0 + mean, min=-1.0, max=1.0 + mean,
                          zeros=1, rel_change_first=rel_first, rel_change_prev=rel_prev,
                          counts=counts)
    points = [point(steps[0], [2, 1, 1], 0.1, 0.0, None),
              point(steps[1], [1, 2, 1], 0.2, 0.05, 0.05),
              TrendPoint(steps[2], f"/run/ckpt-{steps[2]}", problem="absent"),
              point(steps[3], [0, 1, 3], 0.4, 0.3, 0.25)]
    return Trend(name="dense/w", bins=3, edges=[-1.0, 0.0, 1.0, 2.0], points=points)


@pytest.fixture
def view(qtbot):
    w = TrendView()
    qtbot.addWidget(w)
    w.resize(1000, 650)
    w.show()
    return w


def shown(view) -> bool:
    return view.showing_content()


# --------------------------------------------------------------------------- table model

@pytest.mark.parametrize("which", ["sample", "gap"])
def test_table_model_passes_qtmodeltester(qtmodeltester, sample_trend, which):
    model = TrendTableModel()
    model.set_trend(sample_trend if which == "sample" else gap_trend())
    qtmodeltester.check(model, force_py=True)
    # the tester keeps watching: resets and sorts must signal properly too
    model.sort(COL_MEAN, Qt.DescendingOrder)
    model.sort(COL_PROBLEM, Qt.AscendingOrder)
    model.set_trend(gap_trend() if which == "sample" else sample_trend)
    model.sort(COL_REL_PREV, Qt.AscendingOrder)
    model.set_trend(None)
    model.sort(COL_MEAN, Qt.AscendingOrder)


def test_table_has_one_row_per_checkpoint(view, sample_trend):
    view.show_trend(sample_trend)
    m = view.display("table").model()
    assert m.rowCount() == len(sample_trend.points)
    assert m.columnCount() == len(COLUMNS)
    for row, p in enumerate(sample_trend.points):
        assert m.data(m.index(row, COL_STEP)) == str(p.step)
        assert m.value(row, COL_MEAN) == p.mean
        assert m.value(row, COLUMNS.index("L2 norm")) == p.norm
        assert m.value(row, COLUMNS.index("Δ vs first")) == p.rel_change_first
        assert m.value(row, COLUMNS.index("Zeros")) == p.zeros
    # the first checkpoint has no previous one
    assert m.data(m.index(0, COL_REL_PREV)) == "—"


def test_table_sorts_and_keeps_empty_cells_last(view):
    view.show_trend(gap_trend())
    m = view.display("table").model()
    table = view.display("table").table
    table.sortByColumn(COL_MEAN, Qt.DescendingOrder)
    steps = [m.point(r).step for r in range(m.rowCount())]
    assert steps == [30, 10, 0, 20]          # the checkpoint without values last
    table.sortByColumn(COL_MEAN, Qt.AscendingOrder)
    assert [m.point(r).step for r in range(m.rowCount())] == [0, 10, 30, 20]
    table.sortByColumn(COL_PROBLEM, Qt.AscendingOrder)
    assert m.point(0).step == 20 and m.value(0, COL_PROBLEM) == "absent"
    table.sortByColumn(COL_STEP, Qt.AscendingOrder)
    assert [m.point(r).step for r in range(m.rowCount())] == [0, 10, 20, 30]


def test_table_copies_the_selection_exactly(view, sample_trend):
    view.show_trend(sample_trend)
    table = view.show_display("table").table
    m = view.display("table").model()
    sel = table.selectionModel()
    from PySide6.QtCore import QItemSelection, QItemSelectionModel
    sel.select(QItemSelection(m.index(1, COL_STEP), m.index(2, COL_MEAN)),
               QItemSelectionModel.Select)
    text = table.copy_selection()
    assert QGuiApplication.clipboard().text() == text
    lines = text.split("\n")
    assert lines[0] == "Step\tMean"
    p1, p2 = sample_trend.points[1:3]
    assert lines[1:] == [f"{p1.step}\t{p1.mean!r}", f"{p2.step}\t{p2.mean!r}"]
    assert float(lines[1].split("\t")[1]) == p1.mean       # round-trips exactly
    whole = table.copy_all().split("\n")
    assert len(whole) == 1 + len(sample_trend.points)
    assert whole[0].split("\t") == list(COLUMNS)


# --------------------------------------------------------------------------- the tabs

def test_ridge_has_one_curve_per_step_with_its_counts(view, sample_trend):
    view.show_trend(sample_trend)
    assert shown(view)
    ridge = view.display("ridge")
    assert len(ridge.items()) == len(sample_trend.points)
    bases = []
    for (index, item, base), p in zip(ridge.items(), sample_trend.points):
        assert sample_trend.points[index] is p
        x, y = item.getData()
        assert np.array_equal(x, np.asarray(sample_trend.edges))     # stepMode="center"
        counts = np.asarray(p.counts, dtype=np.float64)
        heights = (y - base) / ridge.ridge_height()
        assert heights.max() == pytest.approx(1.0)                   # scaled to its peak
        assert np.allclose(heights * counts.max(), counts)
        bases.append(base)
    # the oldest at the top (back), the newest at the bottom, drawn in front
    assert bases == sorted(bases, reverse=True)
    zs = [item.zValue() for _i, item, _b in ridge.items()]
    assert zs == sorted(zs)
    assert ridge.row_axis.tickStrings(bases, 1, 1) == [str(p.step)
                                                        for p in sample_trend.points]


def test_ridge_hover_reads_step_bin_and_count(view, sample_trend):
    view.show_trend(sample_trend)
    ridge = view.show_display("ridge")
    last, item, base = ridge.items()[-1]
    p = sample_trend.points[last]
    b = int(np.argmax(p.counts))
    edges = sample_trend.edges
    pos = ridge.scene_pos((edges[b] + edges[b + 1]) / 2, base + 0.05)
    ridge.ridge_plot.scene().sigMouseMoved.emit(pos)
    text = ridge.readout().replace("\u00a0", " ")
    assert f"step {p.step}" in text and f"count {p.counts[b]:,}" in text
    assert ridge.bin_text(last, b) == ridge.readout()


def test_heatmap_image_is_the_counts_matrix(view, sample_trend, qtbot):
    view.show_trend(sample_trend)
    heat = view.show_display("heatmap")
    counts = np.array([p.counts for p in sample_trend.points], dtype=np.float64)
    img = heat.image()
    assert img.shape == (len(sample_trend.points), sample_trend.bins)   # rows = steps
    assert np.array_equal(img, counts)
    image_item = heat.heatmap.image_item
    rect = image_item.mapRectToParent(image_item.boundingRect())
    assert rect.left() == pytest.approx(sample_trend.edges[0])          # x in value units
    assert rect.right() == pytest.approx(sample_trend.edges[-1])
    heat.log_check.setChecked(True)
    assert np.allclose(heat.image(), np.log10(1 + counts))
    assert "log" in heat.caption()
    heat.log_check.setChecked(False)
    assert np.array_equal(heat.image(), counts)
    assert np.array_equal(heat.counts(), counts)


def test_curves_hold_the_points_values(view, sample_trend):
    view.show_trend(sample_trend)
    curves = view.show_display("curves")
    items = curves.curves()
    steps = np.array([p.step for p in sample_trend.points], dtype=np.float64)
    for key, attr in (("mean", "mean"), ("std", "std"), ("norm", "norm"), ("min", "min"),
                      ("max", "max"), ("rel_first", "rel_change_first")):
        x, y = items[key].getData()
        assert np.array_equal(x, steps), key
        assert np.allclose(y, [getattr(p, attr) for p in sample_trend.points]), key
    x, y = items["rel_prev"].getData()
    assert math.isnan(y[0])                      # no previous checkpoint: a gap
    assert np.allclose(y[1:], [p.rel_change_prev for p in sample_trend.points[1:]])
    assert curves.rel_plot.getViewBox().linkedView(0) is curves.stats_plot.getViewBox()
    # the norm is on its own (right) axis
    assert items["norm"].getViewBox() is curves.norm_box
    assert not view.note.isVisible()


def test_a_step_without_values_is_skipped_with_a_note(view):
    t = gap_trend()
    view.show_trend(t)
    assert view.note.isVisible()
    note = view.note_text()
    assert "step 20" in note and "absent" in note and "Skipped" in note
    assert "4 checkpoints (3 with values)" in view.details_text()
    # ridge: a curve for each checkpoint with values, none for the absent one
    assert [i for i, _item, _b in view.display("ridge").items()] == [0, 1, 3]
    # heatmap: its row is blank
    heat = view.display("heatmap")
    img = heat.image()
    assert np.isnan(img[2]).all()
    assert np.array_equal(img[[0, 1, 3]], [p.counts for p in t.points if p.counts])
    assert "1 without values" in heat.caption()
    # curves: a gap at its step
    curves = view.display("curves")
    x, y = curves.curves()["mean"].getData()
    assert list(x) == [0, 10, 20, 30]
    assert math.isnan(y[2]) and list(y[[0, 1, 3]]) == [0.1, 0.2, 0.4]
    _x, rel = curves.curves()["rel_prev"].getData()
    assert np.isnan(rel[[0, 2]]).all() and list(rel[[1, 3]]) == [0.05, 0.25]
    assert "3 of 4 checkpoints have values" in curves.caption()
    # table: the problem shown
    m = view.display("table").model()
    assert m.data(m.index(2, COL_PROBLEM)).strip() == "absent"
    assert m.data(m.index(2, COL_MEAN)) == "—"
    # hovering the blank heatmap row says why
    view.show_display("heatmap")
    heat.heatmap.canvas.scene().sigMouseMoved.emit(heat.scene_pos(0.5, 2.5))
    readout = heat.readout().replace("\u00a0", " ")
    assert "step 20" in readout and "absent" in readout


def test_checkpoints_without_steps_use_their_index(view):
    t = gap_trend()
    for p in t.points:
        p.step = None
    view.show_trend(t)
    curves = view.display("curves")
    x, _y = curves.curves()["mean"].getData()
    assert list(x) == [0, 1, 2, 3]
    assert curves.rel_plot.getAxis("bottom").labelText.startswith("checkpoint")
    assert "checkpoint #2" in view.note_text()
    m = view.display("table").model()
    assert m.data(m.index(0, COL_STEP)) == "#0"


def test_nothing_to_draw_says_why(view):
    t = Trend(name="gone", bins=10, points=[TrendPoint(1, "/r/a", problem="absent"),
                                           TrendPoint(2, "/r/b", problem="absent")])
    view.show_trend(t)
    assert shown(view)
    for name in ("ridge", "heatmap", "curves"):
        assert "No checkpoint" in view.display(name).note(), name    # the note, not a plot
    assert view.display("heatmap").image() is None
    assert view.display("table").model().rowCount() == 2


# --------------------------------------------------------------------------- the panel

def test_header_names_the_variable_and_the_reads(view, sample_trend):
    view.show_trend(sample_trend)
    assert view.title_text() == "conv/kernel"
    details = view.details_text()
    assert "float32" in details and "[3, 3, 1, 4]" in details and "6 checkpoints" in details
    assert view.reads_text() == "read once per checkpoint"
    assert view.bins() == 30


def test_bins_changed_fires_only_for_the_user(view, sample_trend, qtbot):
    with qtbot.assertNotEmitted(view.binsChanged):
        view.show_trend(sample_trend)
    assert view.bins_spin.value() == sample_trend.bins
    with qtbot.waitSignal(view.binsChanged) as blocker:
        view.bins_spin.setValue(45)
    assert blocker.args == [45]


def test_message_and_clear(view, sample_trend):
    view.show_message("Computing the trend…")
    assert not shown(view) and view.message() == "Computing the trend…"
    view.show_trend(sample_trend)
    assert shown(view)
    view.clear()
    assert not shown(view) and view.message() == TrendView.EMPTY_TEXT
    assert view.trend() is None and view.display("table").model().rowCount() == 0
    assert view.display("ridge").items() == [] and view.display("heatmap").image() is None
    view.show_trend(Trend(name="x", bins=10))
    assert not shown(view)


def test_palette_change_redraws(view, sample_trend):
    view.show_trend(sample_trend)
    ridge = view.display("ridge")
    before = [item.opts["pen"].color().name() for _i, item, _b in ridge.items()]
    dark = QPalette(view.palette())
    for role, color in ((QPalette.Window, "#2b2b2b"), (QPalette.Base, "#1e1e1e"),
                        (QPalette.Text, "#e6e6e6"), (QPalette.WindowText, "#e6e6e6")):
        dark.setColor(role, QColor(color))
    view.setPalette(dark)
    after = [item.opts["pen"].color().name() for _i, item, _b in ridge.items()]
    assert len(after) == len(sample_trend.points) and after != before
    assert ridge.ridge_plot.backgroundBrush().color().name() == "#1e1e1e"


# --------------------------------------------------------------------------- displays

def test_every_trend_display_is_offered_in_order(view, sample_trend):
    view.show_trend(sample_trend)
    assert view.displays() == ["ridge", "heatmap", "curves", "table"]
    tabs = view.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Ridge", "Heatmap", "Curves", "Table"]
    assert tabs.tab_tooltip("ridge") == "One histogram per checkpoint, oldest at the back"


def test_only_the_trend_display_on_screen_draws(view, sample_trend):
    view.show_trend(sample_trend)
    assert view.tabs.current() is view.display("ridge")
    assert not view.display("ridge").needs_drawing()
    for name in ("heatmap", "curves", "table"):
        assert view.display(name).needs_drawing(), name
    view.show_display("curves")
    assert not view.display("curves").needs_drawing()
    assert view.display("heatmap").needs_drawing()
    view.show_trend(gap_trend())                 # new data: the one on screen draws it now
    assert not view.display("curves").needs_drawing()
    assert view.display("ridge").needs_drawing()
