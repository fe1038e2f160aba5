"""The Layers tab on a real tf.keras SavedModel: layers with classes and weights; a weight
selects its variable and the value panel shows it; a layer shows its config."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


from .test_window import TIMEOUT, idle, opened  # noqa: E402

KERAS = "tfnet/test/TensorFlowNET.Keras.UnitTest/Assets/simple_model_from_auto_compile"


def test_layers_tab_links_weights_to_their_values(qtbot, window, realdata):
    path = realdata / KERAS
    if not path.exists():
        pytest.skip(f"{KERAS} not in this copy of the real data")
    view = opened(qtbot, window, path)
    tabs = view.side_tabs
    assert tabs.isTabVisible(tabs.indexOf(view.layers))
    panel = view.layers
    model = panel.tree.topLevelItem(0)
    assert (model.text(0), model.text(1), model.text(3)) == ("model", "Functional", "79,510")
    rows = [(model.child(i).text(0), model.child(i).text(1)) for i in range(model.childCount())]
    assert rows == [("input_1", "InputLayer"), ("flatten", "Flatten"), ("dense", "Dense"),
                    ("dense_1", "Dense"), ("softmax", "Softmax")]
    dense = model.child(2)
    kernel = dense.child(0)
    assert (kernel.text(0), kernel.text(1), kernel.text(2)) == ("kernel", "float32", "[784, 100]")
    panel.tree.setCurrentItem(kernel)
    key = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert view.doc.selection.key == key
    idle(qtbot, view)
    qtbot.waitUntil(lambda: view.value.view.array() is not None, timeout=TIMEOUT)
    assert view.value.view.array().tobytes() == view.loaded.reader.read(key).tobytes()
    assert '"units": 100' in panel.config.toPlainText()      # the layer's config beside it
    # the tab follows a selection made elsewhere
    view.doc.select_tensor("layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE")
    assert panel.tree.currentItem().text(0) == "bias" and panel.tree.currentItem().parent().text(0) == "dense_1"


def test_no_layers_tab_for_a_model_without_keras_layers(qtbot, window, realdata):
    path = realdata / "tf-serving/tensorflow_serving/servables/tensorflow/testdata/saved_model_half_plus_two_cpu/00000123"
    if not path.exists():
        pytest.skip("half_plus_two_cpu not in this copy of the real data")
    view = opened(qtbot, window, path)
    assert not view.side_tabs.isTabVisible(view.side_tabs.indexOf(view.layers))
