"""TF2 SavedModels run by signature (issue 15): a Keras 3 model exported with
`model.export()`, one inside a tf.Module saved with `tf.saved_model.save`, and the real
TF2 SavedModels beside the checkout — from the command line, the run service and the
session alike, giving what `tf.saved_model.load(p).signatures[key](...)` gives."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .conftest import REALDATA, ROOT, require

tf = require("tensorflow")
keras = require("keras")

from app.runner import service  # noqa: E402
from app.runner.session import RunError, Session, is_tf2, plan  # noqa: E402


def _cnn():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((12, 12, 3), name="image"),
                             keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                             keras.layers.MaxPooling2D(2),
                             keras.layers.Flatten(),
                             keras.layers.Dense(5, activation="softmax", name="probs")])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf2")
    model = _cnn()
    exported = root / "exported"
    model.export(str(exported))

    class Wrapper(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 12, 12, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"scores": self.model(x), "top": tf.argmax(self.model(x), -1)}

    module = Wrapper(model)
    wrapped = root / "wrapped"
    tf.saved_model.save(module, str(wrapped), signatures={"serving_default": module.serve})
    x = np.random.default_rng(5).random((2, 12, 12, 3)).astype(np.float32)
    feed = root / "x.npy"
    np.save(feed, x)
    return {"exported": (exported, "image"), "wrapped": (wrapped, "x")}, x, feed


def _oracle(path, inputs):
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


@pytest.mark.parametrize("which", ["exported", "wrapped"])
def test_cli_runs_a_keras_tf2_savedmodel_as_tensorflow_does(exports, which):
    models, x, feed = exports
    path, key = models[which]
    want = _oracle(path, {key: x})
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "run", str(path),
                           "--signature", "serving_default", "--feed", f"{key}=@{feed}",
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)["results"][0]["fetches"]
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        np.testing.assert_array_equal(np.asarray(got[k], v.dtype), v)
    pl = plan(str(path), signature="serving_default")
    assert is_tf2(pl.graph)


@pytest.mark.parametrize("which", ["exported", "wrapped"])
def test_run_service_gives_exactly_the_signatures_values(exports, which):
    models, x, _feed = exports
    path, key = models[which]
    want = _oracle(path, {key: x})
    pl = plan(str(path), signature="serving_default")
    needs = service.analyze(pl.graph, [], signature="serving_default", kind=pl.kind,
                            restores=pl.restores)
    assert not needs.missing and not needs.unsafe
    session = Session()
    try:
        outcome = service.run_requests(pl.requests([], needs.check({key: x}), "serving_default"),
                                       session.run)
        assert outcome.error is None, outcome.error
        (run,) = outcome.runs
        assert sorted(run.fetches) == sorted(want)
        for k, v in want.items():
            np.testing.assert_array_equal(run.fetches[k], v)
        # one output asked for; the loaded model is reused, not loaded again
        again = session.run(pl.requests([sorted(want)[0]], {key: x * 0.5}, "serving_default")[0])
        assert list(again.fetches) == [sorted(want)[0]] and not again.imported
        np.testing.assert_array_equal(again.fetches[sorted(want)[0]],
                                      _oracle(path, {key: x * 0.5})[sorted(want)[0]])
        # a feed that does not fit, a missing feed, an unknown output: clear errors
        with pytest.raises(RunError, match="image|x") as e:
            session.run(pl.requests([], {key: np.zeros((2, 5), np.float32)}, "serving_default")[0])
        assert e.value.kind == "feed"
        with pytest.raises(RunError, match=f"missing feed for signature input {key}"):
            session.run(pl.requests([], {}, "serving_default")[0])
        with pytest.raises(RunError, match="has no output 'nope'") as e:
            session.run(pl.requests(["nope"], {key: x}, "serving_default")[0])
        assert e.value.kind == "fetch"
    finally:
        session.close()


def _tf2_realdata():
    if not REALDATA.is_dir():
        return []
    from app.formats.graph import load_saved_model
    found = []
    for pb in sorted(REALDATA.rglob("saved_model.pb")):
        try:
            graphs = load_saved_model(str(pb))
        except Exception:  # unreadable ones are other tests' concern
            continue
        for g in graphs:
            sigs = [k for k in g.signatures() if not k.startswith("__")]
            if is_tf2(g) and sigs:
                key = "serving_default" if "serving_default" in sigs else sorted(sigs)[0]
                found.append(pytest.param(pb.parent, key,
                                          id=str(pb.parent.relative_to(REALDATA))))
                break
    return found


def _zeros_for(spec):
    shape = [1 if d is None else d for d in spec.shape.as_list()] if spec.shape.rank is not None \
        else [1]
    if spec.dtype == tf.string:
        return np.full(shape, b"a", object)
    return np.ones(shape, spec.dtype.as_numpy_dtype)


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real-world model files absent ({REALDATA})")
@pytest.mark.parametrize("folder,key", _tf2_realdata() or [pytest.param(None, None, marks=pytest.mark.skip(
    reason="no TF2 SavedModel with signatures among the real-world files"))])
def test_real_tf2_savedmodels_run_their_signature(folder, key):
    try:
        fn = tf.saved_model.load(str(folder)).signatures[key]
        inputs = {k: _zeros_for(s) for k, s in fn.structured_input_signature[1].items()}
        want = {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    except Exception as e:  # noqa: BLE001 - the oracle itself cannot run it here
        pytest.skip(f"TensorFlow itself cannot run {key} of {folder.name}: {str(e)[:200]}")
    pl = plan(str(folder), signature=key)
    session = Session()
    try:
        result = session.run(pl.requests([], inputs, key, allow_unsafe=True)[0])
    finally:
        session.close()
    assert sorted(result.fetches) == sorted(want)
    for k, v in want.items():
        np.testing.assert_array_equal(result.fetches[k], v)


def test_a_tf2_signature_that_writes_files_is_refused_unless_allowed(tmp_path):
    target = tmp_path / "written.txt"

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
        def serve(self, text):
            tf.io.write_file(str(target), text)
            return {"echo": tf.identity(text)}

    module = Writer()
    path = tmp_path / "writer"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    pl = plan(str(path), signature="serving_default")
    session = Session()
    try:
        with pytest.raises(RunError, match="WriteFile") as e:
            session.run(pl.requests([], {"text": "hi"}, "serving_default")[0])
        assert e.value.kind == "unsafe" and not target.exists()
        result = session.run(pl.requests([], {"text": "hi"}, "serving_default",
                                         allow_unsafe=True)[0])
        assert result.fetches["echo"] == b"hi" and target.read_text() == "hi"
    finally:
        session.close()
