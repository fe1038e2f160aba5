"""Functions in the window, on a real TF2 SavedModel: call ops open into their function,
the filter finds an op that lives only inside a function, its details link its inputs and
consumers, and "Add selected op" says why it cannot be fetched."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QItemSelectionModel, QUrl  # noqa: E402

from app.analysis.function_tree import LIBRARY, op_type  # noqa: E402
from app.analysis.loading import load  # noqa: E402
from app.formats.functions import op_ref  # noqa: E402
from app.ui.tree_model import ScopeTreeModel  # noqa: E402

from app.formats.errors import FormatError  # noqa: E402

from ..test_functions import GRAPHS  # noqa: E402
from .test_window import TIMEOUT, opened  # noqa: E402

HALF_PLUS_TWO_TF2 = ("tf-serving/tensorflow_serving/servables/tensorflow/testdata/"
                     "saved_model_half_plus_two_tf2_cpu/00000123")


@pytest.fixture
def model_path(realdata):
    path = realdata / HALF_PLUS_TWO_TF2
    if not path.exists():
        pytest.skip(f"{HALF_PLUS_TWO_TF2} not in this copy of the real data")
    return path


def _select(tree, index) -> None:
    flags = QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows
    tree.tree.selectionModel().select(index, flags)


def _inner_op(graph):
    """(function, node) of an op that lives only inside a function: a name no graph op has."""
    function = graph.node("StatefulPartitionedCall_5").attr["f"].func.name
    # serving_default's wrapper calls the function that computes: find a Mul there
    for fname in graph.functions.reachable([function])[0]:
        for n in graph.functions.nodes(fname):
            if n.op == "Mul" and n.name not in graph.index:
                return fname, n.name
    raise AssertionError("no Mul inside the functions")


def test_the_model_with_function_rows_passes_qts_checks(qtmodeltester, qtbot, model_path):
    loaded = load(str(model_path))
    m = ScopeTreeModel()
    m.set_tree(loaded.tree, lambda s: op_type(s, loaded.graph))
    qtmodeltester.check(m)
    # open a call op and the library, then check again with the rows they built
    call = m.index_of("StatefulPartitionedCall_5")
    assert m.hasChildren(call) and m.rowCount(call) == 1
    row = m.index(0, 0, call)
    assert m.data(row).startswith("→ __inference") and m.data(m.index(0, 1, call)) == "function"
    assert m.rowCount(row) > 0
    lib = m.index_of(LIBRARY)
    assert m.rowCount(lib) == len(loaded.graph.functions) == 14
    assert lib.row() == 0                                 # listed first
    qtmodeltester.check(m)


def test_filter_finds_an_op_inside_a_function_and_details_link_it(qtbot, window, model_path):
    view = opened(qtbot, window, model_path)
    graph = view.loaded.graph
    function, node = _inner_op(graph)
    assert node not in graph.index
    tree = view.tree
    tree.filter.setText(node)
    tree.apply_filter()
    assert tree.model.filtering and "match" in tree.filter_note.text()
    path = f"{LIBRARY}/{function}/{node}"
    index = tree.model.index_of(path)
    assert index.isValid() and tree.model.data(tree.model.index(index.row(), 1, index.parent())) == "Mul"
    _select(tree, index)
    ref = op_ref(function, node)
    assert view.doc.selection.op == ref
    text = view.details.toPlainText()
    assert f"In function {function}" in " ".join(text.split())
    assert "Inputs (2)" in text and "Consumers" in text
    # an input that is another body op is a link that selects it
    html = view.details.toHtml()
    producer = next(i for i in graph.node(ref).input if ":" in i).split(":")[0]
    assert f"op:{op_ref(function, producer)}" in html
    view.details.anchorClicked.emit(QUrl(f"op:{op_ref(function, producer)}"))
    assert view.doc.selection.op == op_ref(function, producer)
    # the function link shows the function: signature, call sites
    view.details.anchorClicked.emit(QUrl(f"function:{function}"))
    assert view.doc.selection.scope is not None and view.doc.selection.scope.calls == function
    text = " ".join(view.details.toPlainText().split())
    assert "Signature (" in text and "Call sites" in text


def test_add_selected_op_inside_a_function_says_why_it_cannot_run(qtbot, window, model_path):
    view = opened(qtbot, window, model_path)
    function, node = _inner_op(view.loaded.graph)
    view.doc.select_op(op_ref(function, node))
    panel = view.run.panel
    panel.signature.setCurrentIndex(0)                    # fetch tensors, not a signature
    qtbot.waitUntil(lambda: panel.btn_add_selected.isEnabled(), timeout=TIMEOUT)
    panel.btn_add_selected.click()
    assert panel.fetches == []
    assert "inside function" in panel.error.text() and "TF1 session" in panel.error.text()


def test_a_call_op_row_shows_its_caller_links(qtbot, window, model_path):
    view = opened(qtbot, window, model_path)
    tree = view.tree
    call = tree.model.index_of("StatefulPartitionedCall_5")
    tree.tree.expand(call)
    row = tree.model.index(0, 0, call)
    _select(tree, row)
    text = " ".join(view.details.toPlainText().split())
    assert "Called by StatefulPartitionedCall_5" in text
    assert "Arguments (← the caller's inputs)" in text and "serving_default_x" in text
    assert "Return values" in text
    # the row stays open across a reload (its path is remembered)
    view.doc.open()
    qtbot.waitUntil(lambda: view.loaded is not None and not view.doc.lanes["load"].busy, timeout=TIMEOUT)
    call = tree.model.index_of("StatefulPartitionedCall_5")
    assert tree.tree.isExpanded(call)


@pytest.mark.parametrize("rel", GRAPHS or ["-"])
def test_the_filter_finds_an_op_only_a_function_holds_in_every_real_graph(qtbot, realdata, rel):
    try:
        loaded = load(str(realdata / rel))
    except FormatError as e:
        pytest.skip(f"{rel}: not a graph ({e})")
    graph = loaded.graph
    if graph is None:
        pytest.skip(f"{rel}: no graph could be read ({'; '.join(loaded.problems)})")
    inner = next(((f, n.name) for f in graph.functions.names() for n in graph.functions.nodes(f)
                  if n.name not in graph.index), None)
    if inner is None:
        pytest.skip(f"{rel}: its function library ({len(graph.functions)} functions) holds no op "
                    "that the graph itself lacks")
    m = ScopeTreeModel()
    m.set_tree(loaded.tree, lambda s: op_type(s, graph))
    function, node = inner
    assert m.set_filter(f"^{function}/{node}$", regex=True) == 1
    index = m.index_of(f"{LIBRARY}/{function}/{node}")
    assert index.isValid() and loaded.op_of(m.scope(index)) == op_ref(function, node)
    # the library's own name matches nothing inside it
    assert m.set_filter(LIBRARY) == 1


def test_the_signatures_run_link_fills_the_run_tab(qtbot, window, model_path):
    view = opened(qtbot, window, model_path)
    view.side_tabs.setCurrentWidget(view.details)
    text = " ".join(view.details.toPlainText().split())
    assert "serving_default tensorflow/serving/predict Run…" in text
    assert "in x float32 [1] serving_default_x:0" in text
    assert "out scores float32 [-1, 1] StatefulPartitionedCall_1:0" in text
    assert "Run once on loading (not a signature): NoOp" in text
    view.details.anchorClicked.emit(QUrl("signature:regress_x_to_y"))
    panel = view.run.panel
    assert view.side_tabs.currentWidget() is view.run and panel.signature_key == "regress_x_to_y"
    keys = [panel.signature.itemData(i) for i in range(panel.signature.count())]
    assert "__saved_model_init_op" not in keys and len(keys) == 1 + 6
    shown = panel.signature_io.text().replace("<code>", "").replace("</code>", "")
    assert shown == "inputs: inputs string [-1]<br>outputs: outputs float32 [-1, 1]"
