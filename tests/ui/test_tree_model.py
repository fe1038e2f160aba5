"""The lazy scope-tree model: Qt's model checks, laziness, filtering."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from app.formats.graph import scope_tree  # noqa: E402
from app.ui.tree_model import ScopeTreeModel  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from app.ui.variables_model import COLUMNS, SortProxy, VariablesModel  # noqa: E402
from app.formats.bundle import TensorInfo  # noqa: E402
from app.formats import dtypes  # noqa: E402

NAMES = ["input", "conv1/weights", "conv1/weights/read", "conv1/Conv2D", "conv1/Relu",
         "dense/kernel", "dense/kernel/Assign", "dense/MatMul", "loss", "layer_10/w", "layer_2/w"]
OPS = ["Placeholder", "VariableV2", "Identity", "Conv2D", "Relu", "VariableV2", "Assign",
       "MatMul", "Mean", "VariableV2", "VariableV2"]


@pytest.fixture
def model(qtbot):
    m = ScopeTreeModel()
    m.set_tree(scope_tree(NAMES, {1: 864, 5: 100}), lambda s: OPS[s.op] if s.op is not None else "")
    return m


def test_qt_model_checks(qtmodeltester, model):
    qtmodeltester.check(model)
    model.set_filter("relu")
    qtmodeltester.check(model)


def test_top_level_is_sorted_naturally_with_counts(model):
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert names == ["conv1", "dense", "input", "layer_2", "layer_10", "loss"]
    conv1 = model.index(0, 0)
    assert model.index(0, 2).data() == "4" and model.index(0, 3).data() == "864"
    assert model.rowCount(conv1) == 3


def test_an_op_that_is_also_a_scope(model):
    kernel = model.index_of("dense/kernel")
    assert kernel.isValid() and model.rowCount(kernel) == 1
    assert model.index(kernel.row(), 1, kernel.parent()).data() == "VariableV2"


def test_children_are_built_only_when_asked(model):
    assert len(model._kids) == 0
    model.rowCount()
    assert len(model._kids) == 1  # the root's children, for the top level
    model.rowCount(model.index(0, 0))
    assert len(model._kids) == 2


def test_filter_keeps_ancestors_and_matches_op_types(model):
    assert model.set_filter("MatMul") == 1
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["dense"]
    dense = model.index(0, 0)
    assert [model.index(r, 0, dense).data() for r in range(model.rowCount(dense))] == ["MatMul"]
    assert model.set_filter("^layer_\\d+/w$", regex=True) == 2
    assert model.set_filter("") is None
    assert model.rowCount() == 6


def test_bad_regex_raises(model):
    import re
    with pytest.raises(re.error):
        model.set_filter("(", regex=True)


def test_variables_model(qtmodeltester, qtbot):
    m = VariablesModel()
    f32 = dtypes.BY_NAME["float32"]
    m.set_tensors([TensorInfo("b", f32, 1, (10,), 40), TensorInfo("a", f32, 1, (2, 3), 24,
                                                                 display_name="readable/a")])
    qtmodeltester.check(m)
    proxy = SortProxy()
    proxy.setSourceModel(m)
    proxy.sort(3)
    assert [proxy.index(r, 0).data() for r in range(2)] == ["readable/a", "b"]
    proxy.setFilterFixedString("READ")
    assert proxy.rowCount() == 1


def test_params_and_bytes_sort_by_their_own_values(qtbot):
    # The int8 tensor has the most values, the float64 one the most bytes, the complex one
    # the longest shape: every numeric column orders these rows differently.
    m = VariablesModel()
    by = dtypes.BY_NAME
    m.set_tensors([TensorInfo("many_small", by["int8"], 6, (1000,), 1000),
                   TensorInfo("few_wide", by["float64"], 2, (300,), 2400),
                   TensorInfo("middle", by["complex64"], 8, (20, 20, 2), 6400),
                   TensorInfo("tiny", by["float32"], 1, (3,), 12)])
    proxy = SortProxy()
    proxy.setSourceModel(m)

    def order(column, descending=False):
        proxy.sort(column, Qt.DescendingOrder if descending else Qt.AscendingOrder)
        return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]

    params, nbytes = COLUMNS.index("Params"), COLUMNS.index("Bytes")
    assert order(params) == ["tiny", "few_wide", "middle", "many_small"]
    assert order(nbytes) == ["tiny", "many_small", "few_wide", "middle"]
    assert order(params, descending=True) == ["many_small", "middle", "few_wide", "tiny"]
    assert order(nbytes, descending=True) == ["middle", "few_wide", "many_small", "tiny"]
    assert order(COLUMNS.index("Name")) == ["few_wide", "many_small", "middle", "tiny"]
