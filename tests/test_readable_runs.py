"""Runs on real inputs, read as a person reads them: a small CNN classifier trained here,
exported as a SavedModel with a labels asset, run on a PNG — TensorFlow's own top-k with
the labels, from the command line and the run service alike; WAV and text feeds."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

from .conftest import ROOT, require

tf = require("tensorflow")
keras = require("keras")
Image = require("PIL.Image")

from app.analysis import outputs  # noqa: E402
from app.runner import feeds, media, service  # noqa: E402
from app.runner.session import Session, plan  # noqa: E402

from .keras_fixtures import LABELS, image_classifier  # noqa: E402


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return image_classifier(tmp_path_factory.mktemp("classifier"))


def _tf_top_k(export, png, k=3):
    """TensorFlow's own answer: the same pixels (as the feed makes them) through the
    loaded signature, ranked by tf.math.top_k."""
    pixels = feeds.coerce(feeds.parse_feed(f"@{png}"), "float32", (None, 32, 32, 3))
    loaded = tf.saved_model.load(str(export))
    probs = loaded.signatures["serving_default"](image=tf.constant(pixels))["probabilities"]
    top = tf.math.top_k(probs[0], k=k)
    return [int(i) for i in top.indices.numpy()], [float(v) for v in top.values.numpy()]


def test_the_labels_asset_is_found_and_read(classifier):
    export, _png = classifier
    found = outputs.find_labels(str(export))
    assert found is not None and found.startswith(str(export / "assets"))
    assert outputs.read_labels(found).names == LABELS


def test_image_feed_pixels_are_resized_and_scaled_as_asked(classifier):
    _export, png = classifier
    raw = np.asarray(Image.open(png).convert("RGB").resize((40, 32), Image.BILINEAR))
    want = raw[:, 4:36] / 255.0
    got = feeds.coerce(feeds.parse_feed(f"@{png}"), "float32", (None, 32, 32, 3))
    assert got.shape == (1, 32, 32, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0], want.astype(np.float32))
    minus = feeds.coerce(feeds.parse_feed(f"@{png}:-1..1"), "float32", (None, 32, 32, 3))
    np.testing.assert_allclose(minus, got * 2 - 1, atol=1e-6)
    ints = feeds.coerce(feeds.parse_feed(f"@{png}"), "uint8", (32, 32, 1))
    assert ints.shape == (32, 32, 1) and ints.dtype == np.uint8 and ints.max() > 100


def test_cli_run_on_a_png_gives_tensorflows_top_k_with_labels(classifier):
    export, png = classifier
    indices, values = _tf_top_k(export, png)
    assert LABELS[indices[0]] == "green disc"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(export),
                           "--signature", "serving_default", "--feed", f"image=@{png}",
                           "--top-k", "3", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)["results"][0]["top_k"]["probabilities"]
    assert [r["index"] for r in top] == indices
    assert [r["label"] for r in top] == [LABELS[i] for i in indices]
    np.testing.assert_allclose([r["score"] for r in top], values, rtol=1e-6)
    assert "resized and centre-cropped to 32×32" in proc.stderr
    # the table as printed, with a labels file the user names instead
    mine = export.parent / "mine.txt"
    mine.write_text("\n".join(f"{i} class-{i}" for i in range(4)) + "\n")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(export),
                           "--signature", "serving_default", "--feed", f"image=@{png}",
                           "--labels", str(mine)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.strip().startswith(tuple("0123"))]
    assert [int(r[0]) for r in rows[:3]] == indices and rows[0][1] == f"class-{indices[0]}"


def test_run_service_on_a_png_gives_tensorflows_top_k_with_labels(classifier):
    export, png = classifier
    indices, values = _tf_top_k(export, png)
    pl = plan(str(export), signature="serving_default")
    needs = service.analyze(pl.graph, [], signature="serving_default", kind=pl.kind,
                            restores=pl.restores)
    values_in = service.load_feeds(needs.feeds, {"image": f"@{png}"}, None)
    session = Session()
    try:
        outcome = service.run_requests(pl.requests([], needs.check(values_in), "serving_default"),
                                       session.run)
    finally:
        session.close()
    (run,) = outcome.runs
    probs = run.fetches["probabilities"]
    assert outputs.kind(probs) == "scores"
    names, _note = outputs.read_labels(outputs.find_labels(str(export))).fit(probs.shape[-1])
    ranked = outputs.top_k(probs, 3, names)
    assert [r.index for r in ranked] == indices
    assert [r.label for r in ranked] == [LABELS[i] for i in indices]
    np.testing.assert_allclose([r.score for r in ranked], values, rtol=1e-6)
    assert ranked[0].probability is None   # softmax output: already probabilities


def test_top_k_of_logits_gives_their_softmax_and_tf_order():
    logits = np.array([[0.5, 3.0, 3.0, -1.0, 2.0]], np.float32)
    ranked = outputs.top_k(logits, 4)
    top = tf.math.top_k(logits[0], k=4)
    assert [r.index for r in ranked] == top.indices.numpy().tolist()
    np.testing.assert_allclose([r.probability for r in ranked],
                               tf.nn.softmax(logits[0]).numpy()[top.indices.numpy()], rtol=1e-5)


def test_wav_feed_samples_and_rate(tmp_path):
    path = tmp_path / "clip.wav"
    samples = (np.sin(np.arange(800) / 10) * 20000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())
    feed = feeds.parse_feed(f"@{path}")
    assert isinstance(feed, media.AudioFeed) and feed.rate == 8000
    out = feeds.coerce(feed, "float32", (None,))
    np.testing.assert_array_equal(out, samples.astype(np.float32) / 32768)
    assert "800 samples at 8,000 Hz" in feed.describe(out)
    padded = feeds.coerce(feeds.parse_feed(f"@{path}"), "float32", (1, 1000))
    assert padded.shape == (1, 1000) and not padded[0, 800:].any()
    with pytest.raises(feeds.FeedError, match="float samples"):
        feeds.coerce(feeds.parse_feed(f"@{path}"), "int32", (None,))


def test_text_lines_feed_a_string_input(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("the cat sat\non the mat\n")
    out = feeds.coerce(feeds.parse_feed(f"@{path}"), "string", (None,))
    assert out.tolist() == [b"the cat sat", b"on the mat"]
    with pytest.raises(feeds.FeedError, match="one string"):
        feeds.coerce(feeds.parse_feed(f"@{path}"), "string", ())


def test_broken_media_files_are_clear_errors_and_feed_rules_hold(tmp_path):
    png = tmp_path / "cut.png"
    buf = tmp_path / "ok.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(buf)
    png.write_bytes(buf.read_bytes()[:45])
    with pytest.raises(feeds.FeedError, match="cut.png"):
        feeds.parse_feed(f"@{png}")
    wav = tmp_path / "bad.wav"
    wav.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    with pytest.raises(feeds.FeedError, match="bad.wav"):
        feeds.parse_feed(f"@{wav}")
    with pytest.raises(feeds.FeedError, match="value range"):
        feeds.parse_feed(f"@{buf}:0..9")
    with pytest.raises(feeds.FeedError, match="unknown function"):
        feeds.parse_feed("load_image('x.png')")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav", "cut.png", "ok.png"]


def test_cli_decodes_token_ids_with_the_vocabulary_asset(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\nthe\ncat\n##s\nsat\n")

    class Echo(tf.Module):
        def __init__(self):
            super().__init__()
            self.vocab = tf.saved_model.Asset(str(vocab))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids")])
        def serve(self, ids):
            return {"tokens": tf.identity(ids)}

    module = Echo()
    export = tmp_path / "echo"
    tf.saved_model.save(module, str(export), signatures={"serving_default": module.serve})
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(export),
                           "--signature", "serving_default", "--feed", "ids=[1, 2, 3, 4, 0]"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "decoded: the cats sat" in proc.stdout
