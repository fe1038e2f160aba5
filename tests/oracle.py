"""Compare what our readers read with what TensorFlow reads, exactly."""

from __future__ import annotations

import numpy as np

from app.formats.bundle import OBJECT_GRAPH_KEY


def tf_values(tf, prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    out = {}
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if dtypes[name].name == "string":
            # a scalar string comes back as bare bytes: keep it an object array (np.asarray
            # would make it fixed-width and drop trailing NULs)
            value = np.array(value, dtype=object) if isinstance(value, bytes) else value
        out[name] = np.asarray(value)
    return out


def assert_same(ours: np.ndarray, theirs: np.ndarray, name: str) -> None:
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} != {theirs.shape}"
    if theirs.dtype == object:
        assert ours.dtype == object, name
        assert ours.ravel().tolist() == theirs.ravel().tolist(), name
        return
    assert ours.dtype == theirs.dtype, f"{name}: dtype {ours.dtype} != {theirs.dtype}"
    # bit-for-bit: NaN payloads and -0.0 included
    assert ours.tobytes() == theirs.tobytes(), f"{name}: values differ"


def assert_reader_matches_tf(tf, reader, prefix: str) -> int:
    """Every tensor TensorFlow lists is listed and read identically; returns the count."""
    theirs = tf_values(tf, prefix)
    theirs.pop(OBJECT_GRAPH_KEY, None)
    assert set(reader.tensors) == set(theirs)
    for name, value in theirs.items():
        info = reader.tensors[name]
        assert info.shape == value.shape, name
        assert_same(reader.read(name), value, name)
    return len(theirs)
