"""The real model files beside the checkout: what TensorFlow reads, we read the same; the
rest fails with a clear message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.formats.errors import FormatError
from app.formats.model import load_graphs, open_checkpoint, open_path

from .conftest import ROOT
from .oracle import assert_reader_matches_tf

# (path under realdata, what it is)
CHECKPOINTS = [
    "t2t/transformer_test_ckpt",                                   # 2 data shards, no .meta
    "tfx-2019/tfx/components/testdata/trainer/current/serving_model_dir",  # partitioned, 2 shards
    "tf-onnx/tests/models/regression/checkpoint",
    "tf-onnx/tests/models/assign",
    "tf-serving/tensorflow_serving/servables/tensorflow/testdata/half_plus_two/00000123",
    "tf-serving/tensorflow_serving/servables/tensorflow/testdata/saved_model_half_plus_two_tf2_cpu/00000123",
    "tf-serving/tensorflow_serving/servables/tensorflow/testdata/saved_model_half_plus_two_cpu/00000123",
    "tf-df/tensorflow_decision_forests/test_data/model/saved_model_adult_rf",
    "tf-rust/examples/regression_savedmodel",
    "tf-java/tensorflow-core/tensorflow-core-api/src/test/resources/saved_model_using_python/model",
    "mediapipe/mediapipe/calculators/tensorflow/testdata/tensorflow_saved_model/00000000",
    "mediapipe/mediapipe/calculators/tensorflow/testdata/model.chkpt-0",    # V1 single file
    "mediapipe/mediapipe/calculators/tensorflow/testdata/bundle/00000000",  # V1 sharded
    "tf-serving/tensorflow_serving/servables/tensorflow/testdata/bad_half_plus_two/00000123",
    "v1-vocal-autoencoder/2016-03-17/model.ckpt",
    "v1-vocal-autoencoder/2016-05-04/model.ckpt",
    "v1-nxt-tensorflow/model.ckpt",
    "v1-nxt-tensorflow/video_weights.ckpt",
]


@pytest.mark.parametrize("rel", CHECKPOINTS)
def test_checkpoint_reads_as_tensorflow_reads_it(realdata, tf, rel):
    path = realdata / rel
    if not path.exists():
        pytest.skip(f"{rel} not in this copy of the real data")
    model = open_path(str(path))
    ckpt = model.selected
    assert ckpt is not None
    reader = open_checkpoint(ckpt)
    tf_path = ckpt.prefix if ckpt.format == "bundle" else ckpt.data_files[0]
    if ckpt.format == "v1" and len(ckpt.data_files) > 1:
        tf_path = ckpt.prefix + "-?????-of-%05d" % len(ckpt.data_files)
    assert assert_reader_matches_tf(tf, reader, tf_path) > 0


def test_index_without_data_lists_variables_but_refuses_values(realdata):
    model = open_path(str(realdata / "xdeepfm/exdeepfm/checkpoint"))
    reader = open_checkpoint(model.selected)
    assert len(reader.tensors) == 14
    assert reader.missing_shards
    with pytest.raises(FormatError, match="data-00000-of-00001"):
        reader.read("exDeepFm/linear_part/w")


def test_corrupt_meta_beside_good_bundle_shows_the_good_part(realdata):
    """mediapipe's export.meta was mangled upstream; its variables still read."""
    folder = realdata / "mediapipe/mediapipe/calculators/tensorflow/testdata/bundle/00000000"
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(folder), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["graph"] is None and len(out["variables"]) == 3
    assert "export.meta" in proc.stderr and "does not parse" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("rel,nodes", [
    ("tfnet/graph/InceptionV3.meta", None),
    ("pose-mobile/release/cpm_model/model.pb", None),
    ("tfx-2019/tfx/components/testdata/trainer/current/serving_model_dir/graph.pbtxt", None),
    ("tf-onnx/tests/models/lstm/frozen.pb", None),
])
def test_graph_files_parse_like_tensorflow(realdata, tf, rel, nodes):
    path = realdata / rel
    model = open_path(str(path))
    graphs = load_graphs(model, model.selected)
    ours = graphs[0]
    if path.suffix == ".meta":
        theirs = tf.compat.v1.MetaGraphDef()
        theirs.ParseFromString(path.read_bytes())
        theirs = theirs.graph_def
    elif path.suffix == ".pbtxt":
        from google.protobuf import text_format
        theirs = text_format.Parse(path.read_text(), tf.compat.v1.GraphDef())
    else:
        theirs = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    assert [n.name for n in ours.nodes] == [n.name for n in theirs.node]
    assert [n.op for n in ours.nodes] == [n.op for n in theirs.node]
    assert ours.tree().op_count == len(theirs.node)


@pytest.mark.parametrize("rel", [
    "tfnet/graph/README.md",
    "tf-onnx/tests/models/regression/tflite/model.tflite",
    "mediapipe/mediapipe/calculators/tensorflow/testdata/bundle/00000000/export.meta",
    "t2t/transformer_test_ckpt/hparams.json",
])
def test_files_that_are_not_models_fail_cleanly(realdata, rel):
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(realdata / rel)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and rel.split("/")[-1] in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 2


def test_a_folder_of_several_graphs_says_to_pick_one(realdata):
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(realdata / "tfnet/graph")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "graph files" in proc.stderr and "open one" in proc.stderr
