"""The value panel: the array table model and the ValueView widget (offscreen Qt)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import tracemalloc  # noqa: E402

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from app.analysis.stats import compute  # noqa: E402
from app.ui.array_model import MAX_SECTIONS, ArrayTableModel  # noqa: E402
from app.ui.displays.filters import MAX_FILTERS  # noqa: E402
from app.ui.displays.slice_heatmap import HEATMAP_MAX  # noqa: E402
from app.ui.values import ValueView  # noqa: E402

BIG_SHAPE = (7, 7, 512, 4096)          # 102,760,448 float32 elements: 392 MiB if allocated
BIG_BYTES = int(np.prod(BIG_SHAPE)) * 4
ALLOC_LIMIT = 64 * 2**20               # what showing it may allocate at most


def model_of(array, dtype_name=None):
    m = ArrayTableModel()
    m.set_array(array, dtype_name)
    return m


def cell(m, r=0, c=0, role=Qt.DisplayRole):
    return m.data(m.index(r, c), role)


def stats_of(a, bins=100):
    return compute(lambda: iter([a.ravel()]), a.nbytes, bins=bins)


def fake_big(shape=BIG_SHAPE):
    """A read-only float32 array of 10^8 elements over a 16 KiB buffer: element [..., l] = l."""
    buf = np.arange(shape[-1], dtype=np.float32)
    strides = (0,) * (len(shape) - 1) + (4,)
    return np.lib.stride_tricks.as_strided(buf, shape=shape, strides=strides, writeable=False)


@pytest.fixture
def view(qtbot):
    w = ValueView()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    return w


# --------------------------------------------------------------------------- model checks

@pytest.mark.parametrize("array, dtype_name", [
    (np.array(3.5, dtype=np.float32), "float32"),                       # rank 0
    (np.arange(7, dtype=np.int64), "int64"),                            # rank 1
    (np.arange(12, dtype=np.float64).reshape(3, 4), "float64"),         # rank 2
    (np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5), "float32"),  # rank 4
    (np.array([b"a", b"\xff\xfe", b"long" * 100], dtype=object), "string"),
    (np.array([[b"x", b"y"], [b"", b"z"]], dtype=object), "string"),
    (np.zeros((0, 3), dtype=np.float32), "float32"),                    # empty
])
def test_model_passes_qt_model_tester(qtmodeltester, array, dtype_name):
    m = model_of(array, dtype_name)
    qtmodeltester.check(m)


def test_model_shapes_by_rank():
    assert (model_of(np.array(1.0)).rowCount(), model_of(np.array(1.0)).columnCount()) == (1, 1)
    m = model_of(np.arange(5))
    assert (m.rowCount(), m.columnCount()) == (5, 1)
    m = model_of(np.zeros((3, 4, 5, 6)))
    assert (m.rowCount(), m.columnCount()) == (5, 6)      # the last two axes by default
    assert m.headerData(4, Qt.Horizontal) == "4"
    assert m.headerData(2, Qt.Vertical) == "2"
    empty = ArrayTableModel()
    assert (empty.rowCount(), empty.columnCount()) == (0, 0)


# --------------------------------------------------------------------------- formatting

def test_float_formatting_and_specials():
    a = np.array([0.1, -1234567.0, 1e-7, 0.0, np.nan, np.inf, -np.inf, 3.0], dtype=np.float32)
    m = model_of(a, "float32")
    texts = [cell(m, r) for r in range(len(a))]
    assert texts == ["0.1", "-1.23457e6", "1e-7", "0", "NaN", "Inf", "-Inf", "3"]
    # NaN/Inf stand out; ordinary numbers use the default colour
    assert cell(m, 4, role=Qt.ForegroundRole) is not None
    assert cell(m, 5, role=Qt.ForegroundRole) is not None
    assert cell(m, 0, role=Qt.ForegroundRole) is None
    # numbers are right-aligned
    assert cell(m, 0, role=Qt.TextAlignmentRole) & int(Qt.AlignRight)
    # the raw value
    assert cell(m, 0, role=Qt.UserRole) == pytest.approx(0.1, rel=1e-7)
    assert np.isnan(cell(m, 4, role=Qt.UserRole))
    # the tooltip carries the exact value
    assert "0.1" in cell(m, 0, role=Qt.ToolTipRole)


def test_bfloat16_and_float16_use_fewer_digits():
    bf = np.array([np.pi, 0.1, np.nan, -np.inf], dtype=ml_dtypes.bfloat16)
    m = model_of(bf, "bfloat16")
    assert [cell(m, r) for r in range(4)] == ["3.14", "0.1", "NaN", "-Inf"]
    raw = cell(m, 0, role=Qt.UserRole)
    assert isinstance(raw, float) and raw == float(bf[0]) == 3.140625
    assert "3.140625" in cell(m, 0, role=Qt.ToolTipRole)     # exact bfloat16 value

    h = np.array([np.pi, 65504.0, 1e-4], dtype=np.float16)
    m = model_of(h, "float16")
    assert [cell(m, r) for r in range(3)] == ["3.141", "6.55e4", "0.0001"]

    f8 = np.array([0.3, -2.0], dtype=ml_dtypes.float8_e4m3fn)
    m = model_of(f8, "float8_e4m3fn")
    assert [cell(m, r) for r in range(2)] == ["0.312", "-2"]
    assert cell(m, 0, role=Qt.UserRole) == 0.3125


def test_complex_bool_int_formatting():
    m = model_of(np.array([1 - 2j, -0.5 + 0.25j, complex(np.nan, 1)], dtype=np.complex64),
                 "complex64")
    assert [cell(m, r) for r in range(3)] == ["1-2j", "-0.5+0.25j", "NaN+1j"]
    assert cell(m, 0, role=Qt.UserRole) == 1 - 2j

    m = model_of(np.array([True, False]), "bool")
    assert [cell(m, r) for r in range(2)] == ["true", "false"]
    assert cell(m, 0, role=Qt.UserRole) is True

    m = model_of(np.array([-(2**63), 2**63 - 1], dtype=np.int64), "int64")
    assert [cell(m, r) for r in range(2)] == [str(-(2**63)), str(2**63 - 1)]
    assert cell(m, 1, role=Qt.UserRole) == 2**63 - 1

    m = model_of(np.array([-8, 7], dtype=ml_dtypes.int4), "int4")
    assert [cell(m, r) for r in range(2)] == ["-8", "7"]


def test_string_formatting():
    long = ("é" * 300).encode()
    a = np.array([b"plain", b"bad \xff\xfe bytes", b"two\nlines", long], dtype=object)
    m = model_of(a, "string")
    assert cell(m, 0) == "plain"
    assert cell(m, 1) == "bad \\xff\\xfe bytes"
    assert cell(m, 2) == "two\\nlines"
    shown = cell(m, 3)
    assert len(shown) == 200 and shown.endswith("…") and shown.startswith("é" * 199)
    assert "é" * 300 in cell(m, 3, role=Qt.ToolTipRole)           # full text in the tooltip
    assert cell(m, 1, role=Qt.UserRole) == b"bad \xff\xfe bytes"
    assert cell(m, 0, role=Qt.TextAlignmentRole) & int(Qt.AlignLeft)


# --------------------------------------------------------------------------- slicing

def test_axis_selection_on_rank3_shows_the_right_slice():
    a = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
    m = model_of(a, "int32")

    def table():
        return np.array([[int(cell(m, r, c)) for c in range(m.columnCount())]
                         for r in range(m.rowCount())])

    np.testing.assert_array_equal(table(), a[0])
    m.set_index(0, 1)
    np.testing.assert_array_equal(table(), a[1])
    m.set_axes(0, 2)
    m.set_index(1, 2)
    np.testing.assert_array_equal(table(), a[:, 2, :])
    m.set_axes(2, 0)                         # transposed
    np.testing.assert_array_equal(table(), a[:, 2, :].T)
    np.testing.assert_array_equal(m.current_slice(), a[:, 2, :].T)
    with pytest.raises(ValueError):
        m.set_axes(1, 1)
    with pytest.raises(IndexError):
        m.set_index(1, 3)


def test_value_view_axis_pickers(view):
    a = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    view.show_tensor("t", "float32", a.shape, a)
    table, heatmap = view.display("table"), view.display("heatmap")
    assert table.axis_bar.isVisible()
    assert table.index_axes() == [0]
    table.index_spin(0).setValue(1)
    assert cell(table.model, 2, 3) == "23"
    np.testing.assert_array_equal(heatmap.image(), a[1])

    # pick axis 0 as rows: the columns stay axis 2, axis 1 gets a spin box
    table.row_axis_combo.setCurrentIndex(0)
    table.row_axis_combo.activated.emit(0)
    assert table.model.axes() == (0, 2)
    assert table.index_axes() == [1]
    table.index_spin(1).setValue(2)
    np.testing.assert_array_equal(heatmap.image(), a[:, 2, :])
    assert cell(table.model, 1, 3) == format(a[1, 2, 3], "g")

    # picking the columns' axis for the rows swaps them
    table.row_axis_combo.setCurrentIndex(2)
    table.row_axis_combo.activated.emit(2)
    assert table.model.axes() == (2, 0)
    np.testing.assert_array_equal(heatmap.image(), a[:, 2, :].T)

    view.show_tensor("m", "float32", (3, 4), a[0])
    assert not table.axis_bar.isVisible()


# --------------------------------------------------------------------------- big arrays

def test_huge_read_only_array_is_shown_without_allocating_it(view):
    big = fake_big()
    assert big.size == 102_760_448 and not big.flags.writeable
    tracemalloc.start()
    try:
        view.show_tensor("vgg/fc6/kernel", "float32", big.shape, big)
        view.show_display("filters")        # filters draw on demand
        view.show_display("heatmap")
        view.show_display("table").table.scrollToBottom()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ALLOC_LIMIT, f"showing the tensor allocated {peak / 2**20:.0f} MiB"
    m = view.display("table").model
    assert (m.rowCount(), m.columnCount()) == (512, 4096)
    assert cell(m, 511, 4095) == "4095"
    assert cell(m, 3, 17, Qt.UserRole) == 17.0
    assert view.display("heatmap").image().shape == (512, 1024)    # 4096 columns every 4th
    assert view.display("filters").count() == MAX_FILTERS


def test_memmap_of_a_big_file(view, tmp_path):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:          # sparse: no disk blocks written
        f.truncate(BIG_BYTES)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=BIG_SHAPE)
    tracemalloc.start()
    try:
        view.show_tensor("mm", "float32", mm.shape, mm)
        view.set_axes(0, 3)
        view.set_index(2, 511)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ALLOC_LIMIT
    m = view.display("table").model
    assert (m.rowCount(), m.columnCount()) == (7, 4096)
    assert cell(m, 6, 4095) == "0"
    assert view.display("heatmap").image().shape == (7, 1024)
    del mm


def test_very_long_axis_is_shown_as_a_window(view):
    flat = np.broadcast_to(np.float32(1.5), (100_000_000,))      # read-only, one element
    tracemalloc.start()
    try:
        view.show_tensor("flat", "float32", flat.shape, flat)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ALLOC_LIMIT
    table = view.display("table")
    m = table.model
    assert m.rowCount() == MAX_SECTIONS and m.total_shape() == (100_000_000, 1)
    assert table.window_bar.isVisible()
    table.first_row_spin.setValue(90_000_000)
    assert m.offset() == (90_000_000, 0)
    assert m.headerData(5, Qt.Vertical) == "90000005"
    assert cell(m, 5) == "1.5"
    assert m.element_index(5, 0) == (90_000_005,)


def test_heatmap_is_sampled_and_bounded(view):
    a = np.ones((3000, 5000), dtype=np.float32)
    view.show_tensor("wide", "float32", a.shape, a)
    img = view.display("heatmap").image()
    assert img.shape[0] <= HEATMAP_MAX and img.shape[1] <= HEATMAP_MAX
    assert "sampled" in view.display("heatmap").caption()


def test_heatmap_disabled_for_strings_with_a_reason(view):
    s = np.array([[b"a", b"b"], [b"c", b"d"]], dtype=object)
    view.show_tensor("s", "string", s.shape, s)
    assert "heatmap" not in view.displays()
    assert "string" in view.tabs.tab_tooltip("heatmap")
    assert "histogram" not in view.displays()
    assert view.display("heatmap").image() is None


# --------------------------------------------------------------------------- statistics

def test_show_stats_draws_the_histogram(view, qtbot):
    a = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
    a[0, 0] = np.nan
    view.show_tensor("w", "float32", a.shape, a)
    hist = view.display("histogram")
    assert not hist.curve().isVisible()          # waiting for the worker
    assert "Computing" in view.stats_text()
    stats = stats_of(a, bins=40)
    view.show_stats(stats)
    x, y = hist.curve().getData()
    np.testing.assert_array_equal(y, stats.counts)
    np.testing.assert_allclose(x, stats.edges)
    assert hist.curve().opts["stepMode"] == "center"
    assert view.bins() == 40                            # follows the stats, no signal
    text = view.stats_text()
    for word in ("min", "max", "mean", "std", "L2 norm", "zeros", "NaN", "Inf"):
        assert word in text

    # log y: empty bins sit on a floor, the counts stay
    hist.log_check.setChecked(True)
    x, log_y = hist.curve().getData()      # pyqtgraph hands back log10 of the data
    y = 10.0 ** log_y
    counts = np.asarray(stats.counts, dtype=float)
    np.testing.assert_allclose(y[counts > 0], counts[counts > 0])
    assert np.all(np.isfinite(log_y)) and np.all(y[counts == 0] < 1)
    hist.log_check.setChecked(False)

    # the hover readout names the bin under the mouse
    view.show_display("histogram")
    mid = (stats.edges[10] + stats.edges[11]) / 2
    hist.hist_plot.scene().sigMouseMoved.emit(hist.scene_pos(mid, max(stats.counts) / 2))
    assert hist.readout() == hist.bin_text(10)
    assert f"count {stats.counts[10]:,}" in hist.readout()

    with qtbot.waitSignal(view.binsChanged) as blocker:
        hist.bins_spin.setValue(250)
    assert blocker.args == [250]


def test_stats_of_constant_and_all_nan(view):
    a = np.full((4, 4), 2.0, dtype=np.float32)
    view.show_tensor("c", "float32", a.shape, a)
    view.show_stats(stats_of(a))
    assert view.display("histogram").curve().isVisible()
    b = np.full((4,), np.nan, dtype=np.float32)
    view.show_tensor("n", "float32", b.shape, b)
    view.show_stats(stats_of(b))
    assert not view.display("histogram").curve().isVisible()
    assert "—" in view.stats_text()


# --------------------------------------------------------------------------- filters

@pytest.mark.parametrize("shape, enabled", [
    ((), False), ((5,), False), ((4, 6), False), ((2, 3, 4), False),
    ((3, 3, 8, 100), True), ((1, 1, 2, 3, 4), False),
])
def test_filters_tab_only_for_rank4(view, shape, enabled):
    a = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    view.show_tensor("k", "float32", a.shape, a)
    assert ("filters" in view.displays()) is enabled


def test_filters_images(view):
    a = np.random.default_rng(3).standard_normal((3, 3, 8, 100)).astype(np.float32)
    view.show_tensor("conv/kernel", "float32", a.shape, a)
    filters = view.display("filters")
    tiles = filters.tiles()                    # mean over the input channels
    assert tiles.shape == (MAX_FILTERS, 3, 3)
    mean = a[:, :, :, :MAX_FILTERS].mean(axis=2)
    np.testing.assert_allclose(tiles[5], mean[..., 5] / np.abs(mean[..., 5]).max(), rtol=1e-5)
    assert np.nanmax(np.abs(tiles)) <= 1.0 + 1e-6
    filters.widget()
    filters.channel_spin.setValue(2)
    tiles = filters.tiles()
    np.testing.assert_allclose(tiles[7], a[:, :, 2, 7] / np.abs(a[:, :, 2, 7]).max(), rtol=1e-6)
    view.show_display("filters")
    assert filters.count() == MAX_FILTERS
    assert "64 of 100" in filters.caption()
    assert "input channel 2" in filters.caption()

    s = np.array([b"x"] * 16, dtype=object).reshape(2, 2, 2, 2)
    view.show_tensor("strings", "string", s.shape, s)
    assert "filters" not in view.displays()


# --------------------------------------------------------------------------- states

def test_message_and_clear(view):
    view.show_message("Nothing selected")
    assert not view.showing_content()
    assert view.message() == "Nothing selected"
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    view.show_tensor("x", "float32", a.shape, a)
    assert view.showing_content()
    assert "float32" in view.details_text() and "[2, 3]" in view.details_text()
    assert "6 elements" in view.details_text()
    view.clear()
    assert view.display("table").model.rowCount() == 0 and view.array() is None
    assert not view.showing_content()


def test_copy_selection(view):
    a = np.array([[0.1, 2.0], [3.5, np.nan]], dtype=np.float32)
    view.show_tensor("x", "float32", a.shape, a)
    table = view.display("table").table
    table.selectAll()
    text = table.copy_selection()
    assert text == "0.1\t2.0\n3.5\tNaN"


def test_other_dtypes_show(view):
    for a, name in [
        (np.array(7, dtype=np.int32), "int32"),
        (np.array([[True, False]]), "bool"),
        (np.array([[1 + 1j, 2]], dtype=np.complex128), "complex128"),
        (np.arange(6, dtype=ml_dtypes.bfloat16).reshape(2, 3), "bfloat16"),
        (np.arange(6, dtype=np.uint64).reshape(2, 3), "uint64"),
    ]:
        view.show_tensor(name, name, a.shape, a)
        view.show_stats(stats_of(a))
        assert view.display("table").model.rowCount() >= 1
    assert "heatmap" in view.displays()     # uint64 2×3


# --------------------------------------------------------------------------- displays offered

@pytest.mark.parametrize("array, dtype_name, offered", [
    (np.ones((4, 6), np.float32), "float32", ["table", "histogram", "heatmap"]),
    (np.ones((3, 3, 2, 5), np.float32), "float32", ["table", "histogram", "heatmap", "filters"]),
    (np.ones((5,), np.float32), "float32", ["table", "histogram"]),
    (np.array(2.5, np.float64), "float64", ["table", "histogram"]),
    (np.array([[b"a", b"b"]], dtype=object), "string", ["table"]),
    (np.ones((2, 3), bool), "bool", ["table", "histogram", "heatmap"]),
    (np.ones((3, 3, 2, 2), np.complex64), "complex64", ["table", "histogram", "heatmap"]),
    (np.zeros((0, 3), np.float32), "float32", ["table", "histogram"]),
])
def test_displays_offered_follow_the_tensor(view, array, dtype_name, offered):
    view.show_tensor("t", dtype_name, array.shape, array)
    assert view.displays() == offered
    # the tabs shown: every display keeps its tab, in the same order; those that do not
    # fit are disabled and say why
    tabs = view.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == \
        ["Table", "Histogram", "Heatmap", "Filters"]
    enabled = [tabs.tabText(i).lower() for i in range(tabs.count()) if tabs.isTabEnabled(i)]
    assert enabled == offered
    for name in ("histogram", "heatmap", "filters"):
        if name not in offered:
            assert tabs.tab_tooltip(name), name


def test_a_hidden_display_draws_only_when_shown(view):
    a = np.random.default_rng(4).standard_normal((3, 3, 4, 8)).astype(np.float32)
    view.show_tensor("k", "float32", a.shape, a)
    heatmap, filters = view.display("heatmap"), view.display("filters")
    assert view.tabs.current() is view.display("table")
    assert heatmap.needs_drawing() and filters.needs_drawing()
    assert not filters.built()                     # not even built before it is shown
    view.show_display("heatmap")
    assert not heatmap.needs_drawing() and filters.needs_drawing()
    # moving the slice redraws the heatmap on screen at once …
    view.set_index(0, 2)
    assert not heatmap.needs_drawing()
    np.testing.assert_array_equal(heatmap.heatmap.image(), a[2, 0])
    # … and a hidden one only when shown again
    view.show_display("table")
    view.set_index(0, 1)
    assert heatmap.needs_drawing()
    view.show_display("heatmap")
    assert not heatmap.needs_drawing()
    np.testing.assert_array_equal(heatmap.heatmap.image(), a[1, 0])
