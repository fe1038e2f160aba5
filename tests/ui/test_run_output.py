"""The Run tab on real inputs, read as a person reads them: a classifier SavedModel with a
labels asset run on a PNG picked for its image input shows TensorFlow's top-k with the
labels; the labels file can be changed; image, token and heatmap outputs get their views.
A real worker process runs the model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ..conftest import require  # noqa: E402

tf = require("tensorflow")

from app.formats.model import load_graphs, open_path  # noqa: E402
from app.runner import feeds  # noqa: E402
from app.runner.worker import RunnerClient  # noqa: E402
from app.ui.displays.run_output import RunOutputView  # noqa: E402
from app.ui.run_panel import RunPanel  # noqa: E402

from ..keras_fixtures import LABELS, image_classifier  # noqa: E402

TIMEOUT = 90000
SHOTS = os.environ.get("RUN_PANEL_SHOTS")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return image_classifier(tmp_path_factory.mktemp("run_output"))


@pytest.fixture(scope="module")
def client():
    c = RunnerClient()
    c.start()
    yield c
    c.close()


def test_classifier_on_a_png_shows_tensorflows_top_k_with_labels(qtbot, client, classifier, tmp_path):
    export, png = classifier
    panel = RunPanel(client=client)
    qtbot.addWidget(panel)
    panel.resize(1000, 720)
    panel.show()
    try:
        model = open_path(str(export))
        panel.set_model(model, load_graphs(model)[0], model.selected)
        assert panel.choose_signature("serving_default")
        qtbot.waitUntil(lambda: panel.analysis is not None and not panel.analyzing, timeout=TIMEOUT)
        row = panel.feed_row("image")
        row.set_text(f"@{png}")
        # what the picture becomes is said under the row, and its range can be chosen
        assert "resized and centre-cropped to 32×32" in row.message.text()
        assert row.range_choice.isVisibleTo(panel) and row.range_choice.currentData() == "0..1"
        with qtbot.waitSignal(panel.run_finished, timeout=TIMEOUT) as blocker:
            assert panel.run()
        record = blocker.args[0]
        assert record.error is None, record.error
        view = panel.output_view
        assert view.kind == "scores" and view.labels_path.endswith("labels_src.txt")

        pixels = feeds.coerce(feeds.parse_feed(f"@{png}"), "float32", (None, 32, 32, 3))
        sig = tf.saved_model.load(str(export)).signatures["serving_default"]
        top = tf.math.top_k(sig(image=tf.constant(pixels))["probabilities"][0], k=4)
        want = [(str(i), LABELS[i]) for i in top.indices.numpy()]
        assert [r[:2] for r in view.rows()] == want       # only 4 classes: top 4 of them
        assert float(view.rows()[0][2]) == pytest.approx(float(top.values[0]), rel=1e-5)
        if SHOTS:
            panel.grab().save(os.path.join(SHOTS, "run_output_classifier.png"))

        # labels the user points to replace the shipped ones
        mine = tmp_path / "mine.txt"
        mine.write_text("\n".join(f"kind {i}" for i in range(4)) + "\n")
        assert view.choose_labels(str(mine))
        assert view.rows()[0][1] == f"kind {top.indices.numpy()[0]}"

        # the range chosen becomes the text's suffix (and back)
        row.range_choice.setCurrentIndex(row.range_choice.findData("-1..1"))
        row.range_choice.activated.emit(row.range_choice.currentIndex())
        assert row.text.endswith(":-1..1")
        row.range_choice.setCurrentIndex(row.range_choice.findData("0..1"))
        row.range_choice.activated.emit(row.range_choice.currentIndex())
        assert row.text == f"@{png}"
    finally:
        panel.shutdown()


def test_image_token_and_heatmap_outputs_get_their_views(qtbot, tmp_path):
    view = RunOutputView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    model = tmp_path / "m"
    (model / "assets").mkdir(parents=True)
    (model / "assets" / "vocab.txt").write_text("[PAD]\nthe\ncat\n##s\nsat\n")
    view.set_model_path(str(model))
    view.show_output("ids", np.array([[1, 2, 3, 4, 0]], np.int32))
    assert view.kind == "tokens" and view.text.toPlainText() == "the cats sat"
    image = np.zeros((1, 16, 24, 3), np.float32)
    image[0, :, :12, 0] = 1.0
    view.show_output("picture", image)
    assert view.kind == "image" and view.picture.pixmap() is not None
    assert view.picture.pixmap().width() > 0
    view.show_output("map", np.arange(12, dtype=np.float32).reshape(3, 4))
    assert view.kind == "heatmap" and view.heatmap.image().shape == (3, 4)
    view.show_output("logits", np.array([[0.5, 3.0, -1.0]], np.float32))
    assert view.kind == "scores" and [r[0] for r in view.rows()] == ["1", "0", "2"]
    assert "no labels" in view.labels_note.text()
