"""Panels as docks on a shown window: moved, tabbed, floated, maximized; the arrangement
kept across sessions in the settings (a scratch file, never the user's), a damaged or
foreign saved layout falling back to the default; the Run tab no longer forcing a tall
window; curves of different scales on axes of their own; heatmaps keeping a shape."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QByteArray, QSettings, Qt  # noqa: E402

from app.ui.docks import LAYOUT_VERSION  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

from ..conftest import ROOT  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_run"
TIMEOUT = 20000


def settings_at(path) -> QSettings:
    return QSettings(str(path), QSettings.IniFormat)


@pytest.fixture
def ini(tmp_path):
    return tmp_path / "settings.ini"


def shown_window(qtbot, ini, size=(1360, 860)):
    w = MainWindow(settings_at(ini))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w


def opened(qtbot, window, path=SAMPLE):
    view = window.open_path(str(path))
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not any(lane.busy for lane in view.lanes), timeout=TIMEOUT)
    return view


def is_default(view) -> bool:
    d = view.docks.docks
    area = view.docks
    return (area.dockWidgetArea(d["checkpoints"]) == Qt.LeftDockWidgetArea
            and area.dockWidgetArea(d["tree"]) == Qt.LeftDockWidgetArea
            and area.dockWidgetArea(d["value"]) == Qt.RightDockWidgetArea
            and {x.objectName() for x in area.tabifiedDockWidgets(d["variables"])} >= {"details", "compare"}
            and d["trend"] in area.tabifiedDockWidgets(d["value"])
            and not any(x.isFloating() for x in d.values())
            and not d["value"].isHidden() and not d["checkpoints"].isHidden())


def test_panels_move_tab_float_and_maximize(qtbot, ini):
    window = shown_window(qtbot, ini)
    view = opened(qtbot, window)
    area, d = view.docks, view.docks.docks
    assert is_default(view)
    # tab "Across the run" beside the graph tree, on the left
    area.tabifyDockWidget(d["tree"], d["trend"])
    assert area.dockWidgetArea(d["trend"]) == Qt.LeftDockWidgetArea
    assert d["trend"] in area.tabifiedDockWidgets(d["tree"])
    # the panel follows where it is: shown in front, it reads the selected variable
    view.doc.select_tensor("conv/kernel")
    view.value_tabs.setCurrentWidget(view.trend)
    qtbot.waitUntil(lambda: view.trend.shown is not None, timeout=TIMEOUT)
    assert d["trend"].on_screen() and not d["tree"].on_screen()
    # float the value panel into a window of its own, and back
    d["value"].title_bar.float_button.click()
    assert d["value"].isFloating() and d["value"].isVisible()
    d["value"].title_bar.float_button.click()
    assert not d["value"].isFloating()
    # maximize: the value panel alone; again: everything back
    d["value"].title_bar.maximize_button.click()
    qtbot.waitUntil(lambda: d["value"].on_screen())
    assert area.maximized() is d["value"]
    assert all(x.isHidden() for n, x in d.items() if n != "value")
    d["value"].title_bar.maximize_button.click()
    assert area.maximized() is None
    assert not d["checkpoints"].isHidden() and not d["tree"].isHidden()
    assert d["trend"] in area.tabifiedDockWidgets(d["tree"])
    # View ▸ Maximize Panel (Ctrl+Shift+M): the panel with the keyboard focus
    view.tree.tree.setFocus()
    qtbot.waitUntil(lambda: view.tree.tree.hasFocus())
    window.act_maximize.trigger()
    assert area.maximized() is d["tree"] and d["value"].isHidden()
    window.act_maximize.trigger()
    assert area.maximized() is None and not d["value"].isHidden()
    # closed from its title bar, brought back from View ▸ Panels
    d["details"].title_bar.close_button.click()
    assert d["details"].isHidden()
    window._fill_panels_menu()
    entry = next(a for a in window.panels_menu.actions() if a.text() == "Details")
    assert not entry.isChecked()
    entry.trigger()
    assert not d["details"].isHidden()


def test_the_layout_round_trips_through_the_settings_and_resets(qtbot, ini):
    window = shown_window(qtbot, ini)
    view = opened(qtbot, window)
    area, d = view.docks, view.docks.docks
    # (Qt resizes a dock, not a group of tabs: resized first)
    area.resizeDocks([d["tree"], d["value"]], [700, area.width() - 700], Qt.Horizontal)
    qtbot.wait(50)
    area.tabifyDockWidget(d["tree"], d["trend"])
    d["checkpoints"].close()
    qtbot.wait(50)
    width = d["tree"].width()
    assert abs(width - 700) <= 12          # not the default third of the width
    window.close()
    assert settings_at(ini).value("layout/state") is not None

    again = shown_window(qtbot, ini)
    view = opened(qtbot, again)
    area, d = view.docks, view.docks.docks
    assert view.layout_restored
    assert d["trend"] in area.tabifiedDockWidgets(d["tree"])
    assert d["checkpoints"].isHidden()
    qtbot.wait(50)
    # Qt rescales sizes restored into an area still being laid out: within 5%, and far
    # from the default third of the width (~450 px)
    assert abs(d["tree"].width() - width) <= 0.05 * width
    # Reset: the default in every tab, and in the next session
    again.reset_layout()
    assert is_default(view)
    assert settings_at(ini).value("layout/state") is None
    again.close()
    third = shown_window(qtbot, ini)
    assert is_default(opened(qtbot, third))


@pytest.mark.parametrize("damage", ["garbage", "older version", "not bytes", "no panel list"])
def test_a_broken_saved_layout_gives_the_default(qtbot, ini, damage):
    window = shown_window(qtbot, ini)
    view = opened(qtbot, window)
    good = view.docks.saveState(LAYOUT_VERSION)
    older = view.docks.saveState(LAYOUT_VERSION - 1)
    window.close()
    s = settings_at(ini)
    s.setValue("layout/panels", sorted(view.docks.docks))
    if damage == "garbage":
        s.setValue("layout/state", QByteArray(b"\x00\x00\x00\xffnot a layout" * 7))
    elif damage == "older version":
        s.setValue("layout/state", older)
    elif damage == "not bytes":
        s.setValue("layout/state", "a string")
    else:
        s.setValue("layout/state", good)
        s.remove("layout/panels")
    s.sync()
    again = shown_window(qtbot, ini)
    view = opened(qtbot, again)
    assert not view.layout_restored
    assert is_default(view)
    assert view.value.isVisible() and view.tree.isVisible()


def test_a_layout_saved_without_a_panel_puts_it_in_its_default_place(qtbot, ini):
    """A layout from a version that had no Training panel: the rest is kept, the new panel
    goes where the default puts it."""
    window = shown_window(qtbot, ini)
    view = opened(qtbot, window)
    area, d = view.docks, view.docks.docks
    area.tabifyDockWidget(d["tree"], d["details"])
    saved = area.save()
    window.close()
    s = settings_at(ini)
    s.setValue("layout/state", saved["state"])
    s.setValue("layout/panels", [n for n in saved["panels"] if n != "trend"])
    s.sync()
    again = shown_window(qtbot, ini)
    view = opened(qtbot, again)
    area, d = view.docks, view.docks.docks
    assert view.layout_restored
    assert d["details"] in area.tabifiedDockWidgets(d["tree"])
    assert d["trend"] in area.tabifiedDockWidgets(d["value"])
    assert not d["trend"].isHidden()


def test_the_run_tab_does_not_force_a_tall_window(qtbot, ini):
    window = shown_window(qtbot, ini, size=(1024, 560))
    view = opened(qtbot, window)
    view.side_tabs.setCurrentWidget(view.run)
    assert view.run._panel is not None
    qtbot.wait(50)
    # before: the Run panel's minimum (~715 px) made the window's minimum taller than 700
    assert view.run.minimumSizeHint().height() < 200
    assert window.minimumSizeHint().height() < 560
    window.resize(1024, 560)
    qtbot.waitUntil(lambda: window.height() == 560)
    # the panel scrolls instead: all of it is still there
    panel = view.run.panel
    assert panel.height() >= panel.minimumSizeHint().height()
    assert panel.result_tabs.height() >= 200
    assert view.run.scroll.verticalScrollBar().maximum() > 0


def test_series_of_different_scales_get_axes_of_their_own(qtbot):
    from app.ui.widgets.scaled_curves import ScaledCurves, scale_groups
    # accuracy 0.72…0.97 and loss 2.5…0.07: each would use a sliver of a shared axis
    assert scale_groups([(0.72, 0.97), (0.07, 2.5)]) == [[0], [1]]
    # two losses of one scale share; a constant inside their range joins them
    assert scale_groups([(0.1, 2.4), (0.2, 2.5), (1.0, 1.0)]) == [[0, 1, 2]]
    # four scales: two plots, each with a left and a right axis
    assert scale_groups([(0, 1), (0, 100), (5e3, 9e3), (1e-6, 3e-6)]) == [[0], [1], [2], [3]]
    plot = ScaledCurves("step")
    qtbot.addWidget(plot)
    steps = list(range(10))
    acc = [0.72, 0.94, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97]
    loss = [2.5, 1.1, 0.6, 0.3, 0.2, 0.12, 0.1, 0.09, 0.08, 0.07]
    val_loss = [2.4, 1.2, 0.7, 0.35, 0.22, 0.15, 0.12, 0.11, 0.1, 0.09]
    plot.set_series([("accuracy", steps, acc, "#2e86de"), ("loss", steps, loss, "#e67e22"),
                     ("val_loss", steps, val_loss, "#27ae60")])
    plot.resize(700, 400)
    plot.show()
    qtbot.waitExposed(plot)
    qtbot.wait(100)         # pyqtgraph ranges its views when it paints
    assert plot.axes() == [(0, "left", ["accuracy"]), (0, "right", ["loss", "val_loss"])]
    # each axis spans its own series: the accuracy's is not stretched to the loss's 2.5
    plot_item = plot.canvas.ci.getItem(1, 0)
    lo, hi = plot_item.getViewBox().viewRange()[1]
    assert 0.6 < lo and hi < 1.1
    lo, hi = plot._boxes[0].viewRange()[1]
    assert lo < 0.1 and 2.4 < hi < 3
    # the legend sits in a row of its own, above the plot, not over the lines
    legend = plot.canvas.ci.getItem(0, 0)
    assert legend.sceneBoundingRect().bottom() <= plot_item.getViewBox().sceneBoundingRect().top() + 1
    # and the plot opens in a window of its own
    window = plot.pop_out()
    qtbot.addWidget(window)
    assert window.isWindow() and window.axes() == plot.axes()


def test_a_heatmap_keeps_a_height_and_a_bounded_aspect(qtbot):
    from app.ui.values import ValueView
    from app.ui.widgets.heatmap import MAX_STRETCH, MIN_HEIGHT, THIN
    view = ValueView()
    qtbot.addWidget(view)
    view.resize(900, 380)
    view.show()
    qtbot.waitExposed(view)
    for shape in [(64, 2), (172, 88), (2, 300), (40, 40), (12, 400), (900, 30)]:
        view.show_tensor("t", "float32", shape, np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
        heat = view.show_display("heatmap")
        qtbot.wait(20)
        assert heat.heatmap.canvas.height() >= MIN_HEIGHT
        stretch = heat.heatmap.stretch()
        (x0, x1), (y0, y1) = heat.heatmap.plot.getViewBox().viewRange()
        # the whole slice is in view
        assert x0 <= 0.01 and x1 >= shape[1] - 0.01 and y0 <= 0.01 and y1 >= shape[0] - 0.01
        if min(shape) >= THIN:     # a shape to keep: cells not stretched beyond the bound
            assert 1 / MAX_STRETCH - 1e-3 <= stretch <= MAX_STRETCH + 1e-3, (shape, stretch)
        else:                      # a few rows or columns: they fill the plot
            assert x1 - x0 <= 1.05 * shape[1] + 0.5 and y1 - y0 <= 1.05 * shape[0] + 0.5
