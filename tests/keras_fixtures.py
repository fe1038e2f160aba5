"""Keras-made test models for the readable-output tests (TensorFlow imported: test-only)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

LABELS = ["red square", "green disc", "blue bar", "noise"]


def _pictures(rng, n):
    x = np.zeros((n, 32, 32, 3), np.float32)
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        if c == 0:
            x[i, 8:24, 8:24, 0] = 1
        elif c == 1:
            yy, xx = np.mgrid[:32, :32]
            x[i, ((yy - 16) ** 2 + (xx - 16) ** 2) < 64, 1] = 1
        elif c == 2:
            x[i, :, 12:20, 2] = 1
        else:
            x[i] = rng.random((32, 32, 3))
    return x, y


def image_classifier(root: Path):
    """A small CNN trained here on four kinds of 32×32 pictures, exported as a SavedModel
    (signature serving_default: image → probabilities) with a labels asset; and a PNG of
    a green disc, 80×64, for the feeds to resize. Returns (SavedModel folder, PNG)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    model = keras.Sequential([keras.Input((32, 32, 3), name="image"),
                              keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
                              keras.layers.MaxPooling2D(4),
                              keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax", name="probs")],
                             name="shapes")
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _pictures(rng, 256)
    model.fit(x, y, epochs=4, verbose=0)
    labels = root / "labels_src.txt"
    labels.write_text("\n".join(LABELS) + "\n")

    # The trained Keras model itself in a tf.Module, which also carries the labels asset
    # (`model.export` has no place for one); the runner loads it as a TF2 SavedModel.
    class Classifier(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.labels = tf.saved_model.Asset(str(labels))

        @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32, name="image")])
        def serve(self, image):
            return {"probabilities": self.model(image)}

    module = Classifier()
    export = root / "shapes_classifier"
    tf.saved_model.save(module, str(export), signatures={"serving_default": module.serve})
    # a picture bigger than the input, of a green disc: resized and cropped by the feed
    pic = np.zeros((64, 80, 3), np.uint8)
    yy, xx = np.mgrid[:64, :80]
    pic[((yy - 32) ** 2 + (xx - 40) ** 2) < 256, 1] = 255
    png = root / "disc.png"
    Image.fromarray(pic).save(png)
    return export, png
