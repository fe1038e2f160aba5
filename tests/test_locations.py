"""Paths and URLs (app/formats/urls.py, location.py): which is which, path arithmetic on
both, a URL's secrets kept out of what is shown, a local file's size and time or why there
is none; and a SavedModel's signatures as people read them (signatures.py), on the
SavedModels TensorFlow wrote for the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.formats import location, protos
from app.formats.errors import FormatError
from app.formats.graph import load_saved_model
from app.formats.signatures import INIT_OP_KEY, init_ops, shape_text, signatures
from app.formats.urls import display, is_url, local_path, root_and_rest, scheme, split_secret

from . import tf_fixtures as fx


@pytest.mark.parametrize("path,url", [
    ("s3://bucket/run", True), ("gs://b/x", True), ("https://host/a.index", True), ("hf://org/repo", True),
    ("a+b.c-d://x", True), ("file:///tmp/run", False), ("/tmp/run", False), ("run/s3://x", False),
    ("1s://x", False), ("://x", False), ("C:\\runs\\x", False), ("s3:/bucket", False),
    (Path("/tmp"), False), (None, False)])
def test_what_is_a_url(path, url):
    assert is_url(path) is url


def test_scheme_root_and_local_path():
    assert scheme("S3://Bucket/x") == "s3" and scheme("/tmp/x") == "" and scheme("hf://a") == "hf"
    assert root_and_rest("s3://bucket/run/x") == ("s3://", "bucket/run/x")
    assert root_and_rest("/tmp/x") == ("", "/tmp/x")
    assert local_path("file:///tmp/x/y") == "/tmp/x/y"
    assert local_path("/tmp/file://x") == "/tmp/file://x"
    assert local_path("s3://b/x") == "s3://b/x"


@pytest.mark.parametrize("url,clean,secret", [
    ("https://h/run/a.index?X-Amz-Signature=abc&b=1", "https://h/run/a.index", "?X-Amz-Signature=abc&b=1"),
    ("https://h/run#frag?x=1", "https://h/run", "#frag?x=1"),
    ("https://h/run?x=1#frag", "https://h/run", "?x=1#frag"),
    ("s3://b/run", "s3://b/run", ""),
    ("https://h/p?a=1?b=2", "https://h/p", "?a=1?b=2"),
    ("https://h/p#a#b", "https://h/p", "#a#b"),
    ("?sig=1", "", "?sig=1"),
])
def test_split_secret_cuts_at_the_first_query_or_fragment(url, clean, secret):
    assert split_secret(url) == (clean, secret)


def test_display_strips_user_passwords_and_queries_from_every_url_in_a_text():
    assert display("plain /tmp/run?x") == "plain /tmp/run?x"
    assert display("https://me:pw@host/run/a.index?sig=SECRET") == "https://host/run/a.index"
    text = ("cannot read 's3://key:secret@b/x?token=T' nor \"https://h/y#k=v\" nor "
            "gs://b/z?sig=1 (ftp://u@h/w)")
    shown = display(text)
    assert shown == "cannot read 's3://b/x' nor \"https://h/y\" nor gs://b/z (ftp://h/w)"
    for secret in ("secret", "token", "k=v", "sig=1", "u@"):
        assert secret not in shown
    assert display("x https://host/path/@not-userinfo") == "x https://host/path/@not-userinfo"


# -- location: paths ------------------------------------------------------------------------

def test_normalize_makes_local_paths_absolute_and_urls_secret_free(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert location.normalize("run") == str(tmp_path / "run")
    assert location.normalize(Path("run") / "x") == str(tmp_path / "run" / "x")
    assert location.normalize(f"file://{tmp_path}/a/../b") == str(tmp_path / "b")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert location.normalize("~/m") == str(tmp_path / "home" / "m")
    assert location.normalize("s3://bucket/run/?X-Amz-Signature=1") == "s3://bucket/run"


def test_path_arithmetic_on_urls_is_posix_after_the_scheme():
    assert location.join("s3://b/run", "ckpt-1.index") == "s3://b/run/ckpt-1.index"
    assert location.join("s3://b", "run", "x") == "s3://b/run/x"
    assert location.dirname("s3://b/run/ckpt-1.index") == "s3://b/run"
    assert location.basename("s3://b/run/ckpt-1.index") == "ckpt-1.index"
    assert location.normpath("s3://b/run/../other/./x") == "s3://b/other/x"
    assert location.normpath("s3:///b//x") == "s3://b/x"
    assert location.commonpath(["s3://b/run/a", "s3://b/run/b/c"]) == "s3://b/run"
    with pytest.raises(ValueError, match="different schemes"):
        location.commonpath(["s3://b/run", "gs://b/run"])


def test_local_path_arithmetic_is_the_systems(tmp_path):
    assert location.join(str(tmp_path), "a", "b") == os.path.join(str(tmp_path), "a", "b")
    assert location.dirname(str(tmp_path / "a")) == str(tmp_path)
    assert location.basename(str(tmp_path / "a")) == "a"
    assert location.normpath(str(tmp_path / "a" / ".." / "b")) == str(tmp_path / "b")
    assert location.commonpath([str(tmp_path / "a"), str(tmp_path / "b")]) == str(tmp_path)


@pytest.mark.parametrize("folder,path,inside", [
    ("/r/run", "/r/run/x", True), ("/r/run", "/r/run", True), ("/r/run", "/r/run/../run/y", True),
    ("/r/run", "/r/run-old/x", False), ("/r/run", "/r/x", False), ("/r/run/", "/r/run/sub/x", True),
    ("s3://b/run", "s3://b/run/x", True), ("s3://b/run", "s3://b/run2/x", False),
    ("s3://b/run", "s3://b/run/../x", False), ("s3://b/run", "gs://b/run/x", False),
    ("s3://b/run", "/r/run/x", False), ("/r/run", "s3://b/run/x", False), ("/r/run", "run/x", False)])
def test_inside_is_by_whole_components_after_normalizing(folder, path, inside):
    assert location.inside(folder, path) is inside


# -- location: local files ------------------------------------------------------------------

def test_a_local_files_size_and_time_or_why_there_is_none(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"12345")
    os.utime(f, (1_500_000_000, 1_500_000_000))
    assert location.stat(str(f)) == (5, 1_500_000_000.0)
    assert location.stat(str(f)).size == 5 and location.stat(str(f)).mtime == 1_500_000_000.0
    cases = {str(tmp_path / "absent"): "file not found",
             str(tmp_path): "is a folder, expected a file",
             str(f / "below"): "cannot read: Not a directory"}
    os.mkfifo(tmp_path / "fifo")
    cases[str(tmp_path / "fifo")] = "is not a regular file (device, FIFO or socket)"
    for path, problem in cases.items():
        with pytest.raises(FormatError) as e:
            location.stat(path)
        assert (e.value.path, e.value.problem) == (path, problem)


def test_local_file_questions_go_to_the_system(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "d").mkdir()
    assert location.isfile(str(tmp_path / "f")) and not location.isfile(str(tmp_path / "d"))
    assert location.isdir(str(tmp_path / "d")) and not location.isdir(str(tmp_path / "f"))
    assert location.exists(str(tmp_path / "f")) and location.exists(str(tmp_path / "d"))
    assert not location.exists(str(tmp_path / "nope"))
    assert sorted(location.listdir(str(tmp_path))) == ["d", "f"]
    with pytest.raises(OSError):
        location.listdir(str(tmp_path / "nope"))
    paths = [str(tmp_path / "f"), str(tmp_path / "d")]
    assert location.local_copies(paths) == {p: p for p in paths}
    assert location.event_files_copy(str(tmp_path), 2) == str(tmp_path)
    assert location.trust(str(tmp_path / "f")) is None


# -- signatures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return fx.saved_models(tmp_path_factory.mktemp("sig") / "sm")


def test_a_tf2_savedmodels_signature_and_its_init_op(saved):
    (graph,) = load_saved_model(str(saved.tf2.dir / "saved_model.pb"))
    meta = graph.meta_graph
    (sig,) = signatures(meta)
    assert (sig.key, sig.method) == ("serving_default", "tensorflow/serving/predict")
    assert [(t.key, t.dtype, t.shape, t.spec) for t in sig.inputs] == [("x", "float32", "[-1, 3]", "float32 [-1, 3]")]
    assert sig.inputs[0].tensor == meta.signature_def["serving_default"].inputs["x"].name
    assert [(t.key, t.dtype, t.shape) for t in sig.outputs] == [("y", "float32", "[-1, 2]")]
    init = meta.signature_def[INIT_OP_KEY].outputs
    assert init_ops(meta) == [t.name.split(":")[0] for t in init.values()] and init_ops(meta)
    (graph1,) = load_saved_model(str(saved.tf1.dir / "saved_model.pb"))
    assert init_ops(graph1.meta_graph) == []
    assert [s.key for s in signatures(graph1.meta_graph)] == ["serving_default"]


def test_signatures_by_key_with_unknown_shapes_and_dtypes_said_plainly():
    meta = protos.MetaGraphDef()
    b = meta.signature_def["b"]
    b.method_name = "m"
    t = b.inputs["z"]
    t.name, t.dtype = "in_z:0", 0
    t.tensor_shape.unknown_rank = True
    t = b.inputs["a"]
    t.name, t.dtype = "in_a:0", 3
    t = b.outputs["out"]
    t.name, t.dtype = "o:0", 1
    t.tensor_shape.dim.add(size=-1)
    t.tensor_shape.dim.add(size=7)
    meta.signature_def["a"].method_name = "n"
    meta.signature_def[INIT_OP_KEY].outputs["x"].name = "init_all:0"
    meta.signature_def[INIT_OP_KEY + "_2"].outputs["y"].name = "init_more"
    sigs = signatures(meta)
    assert [s.key for s in sigs] == ["a", "b"]
    assert [(t.key, t.tensor, t.dtype, t.shape) for t in sigs[1].inputs] == [
        ("a", "in_a:0", "int32", "[]"), ("z", "in_z:0", "?", "<unknown rank>")]
    assert [t.spec for t in sigs[1].outputs] == ["float32 [-1, 7]"]
    assert sorted(init_ops(meta)) == ["init_all", "init_more"]
    assert signatures(None) == [] and init_ops(None) == []
    assert shape_text(meta.signature_def["b"].outputs["out"].tensor_shape) == "[-1, 7]"
