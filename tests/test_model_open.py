"""What a path opens as (app/formats/model.py open_path): a run, a SavedModel, a graph or a
clear refusal, whichever file of a model the user holds; the checkpoint it selects; its
title; and the readers behind it. The models are TensorFlow's own (resources/sample_run,
the suite's SavedModels and frozen graph, real V1 files where /work's shared data is
present); Keras files are HDF5 written with h5py."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

from app.formats.bundle_writer import BundleWriter, plain
from app.formats.dtypes import BY_NAME
from app.formats.errors import FormatError, ModelsBelow
from app.formats.keras import KerasFile
from app.formats.model import (ConstReader, Model, apply_object_graph, apply_variable_names, load_graphs,
                               open_checkpoint, open_path)
from app.formats.run import Checkpoint
from app.formats.v1 import V1Checkpoint

from . import tf_fixtures as fx
from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


@pytest.fixture
def sample(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    return run


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return fx.saved_models(tmp_path_factory.mktemp("model_open") / "sm")


def _keras_weights(path) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.ones((2, 3), np.float32))


# -- title --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,folder,graph,want", [
    ("run", "/data/mnist", None, "mnist"),
    ("run", "/data/exp1/logs", None, "exp1/logs"),
    ("run", "/data/exp1/Train", None, "exp1/Train"),
    ("run", "/data/logs.old", None, "logs.old"),               # a folder's name is not cut at a dot
    ("run", "/model", None, "model"),                        # no parent to add
    ("run", "/", None, "/"),
    ("savedmodel", "/srv/resnet/00000001", "/srv/resnet/00000001/saved_model.pb", "resnet/00000001"),
    ("graph", "/g", "/g/frozen_graph.pb", "g/frozen_graph.pb"),
    ("graph", "/g", "/g/mobilenet_v2.pb", "mobilenet_v2.pb"),
    ("graph", "/g", "/g/exp/../graph.pbtxt", "g/graph.pbtxt"),
])
def test_a_title_adds_the_parent_where_the_name_says_nothing(kind, folder, graph, want):
    assert Model(folder, kind, folder, graph_path=graph).title == want


def test_the_title_of_one_checkpoint_or_one_keras_file():
    sel = Checkpoint("/r/exp2/model.ckpt-5")
    assert Model("/r/exp2/model.ckpt-5.index", "checkpoint", "/r/exp2", selected=sel).title == "model.ckpt-5"
    assert Model("/r/exp2/x", "checkpoint", "/r/exp2").title == "x"
    keras = Checkpoint("/r/run/best.keras", format="keras")
    assert Model("/r/run", "run", "/r/run", [keras]).title == "best.keras"
    two = [keras, Checkpoint("/r/run/last.keras", format="keras")]
    assert Model("/r/run", "run", "/r/run", two).title == "r/run"
    assert Model("/r/run", "run", "/r/run", [Checkpoint("/r/run/x")]).title == "r/run"


# -- runs and checkpoints ------------------------------------------------------------------

def test_a_run_selects_its_latest_and_finds_checkpoints_by_step_name_or_file(sample):
    model = open_path(str(sample))
    assert (model.kind, model.path, model.folder) == ("run", str(sample), str(sample))
    assert model.selected.name == "epoch-5" and model.checkpoint(None) is model.selected
    assert model.checkpoint("3").name == "epoch-3"
    assert model.checkpoint("epoch-2").step == 2
    assert model.checkpoint(str(sample / "epoch-1")).step == 1
    assert model.checkpoint(str(sample / "epoch-4.index")).step == 4
    assert model.checkpoint(str(sample / "epoch-0.data-00000-of-00001")).step == 0
    with pytest.raises(FormatError) as e:
        model.checkpoint("7")
    assert e.value.path == str(sample)
    assert "no checkpoint '7' here (have: epoch-0, epoch-1, epoch-2, epoch-3, epoch-4, epoch-5)" in str(e.value)
    empty = Model("/x", "graph", "/x")
    with pytest.raises(FormatError, match=r"\(have: none\)"):
        empty.checkpoint("1")
    assert model.graph_sources() == str(sample / "epoch-0.meta")
    assert model.graph_sources(model.checkpoint("2")) == str(sample / "epoch-0.meta")
    assert empty.graph_sources() is None
    assert Model("/x", "graph", "/x", graph_path="/x/g.pb").graph_sources(model.selected) == "/x/g.pb"


@pytest.mark.parametrize("name,step", [("epoch-2.index", 2), ("epoch-3.data-00000-of-00001", 3),
                                       ("epoch-1", 1), ("checkpoint", 5)])
def test_any_file_of_a_checkpoint_selects_it(sample, name, step):
    model = open_path(str(sample / name))
    assert model.kind == "run" and model.folder == str(sample)
    assert model.path == str(sample / name)            # what the user opened, as the title's source
    assert model.selected.step == step and len(model.checkpoints) == 6


def test_a_graph_file_beside_its_checkpoint_selects_the_checkpoint(sample):
    shutil.copy(sample / "epoch-0.meta", sample / "epoch-3.meta")
    model = open_path(str(sample / "epoch-3.meta"))
    assert model.kind == "run" and model.selected.step == 3 and model.path == str(sample / "epoch-3.meta")
    # a .meta with no checkpoint of its name is a graph
    shutil.copy(sample / "epoch-0.meta", sample / "other.meta")
    model = open_path(str(sample / "other.meta"))
    assert (model.kind, model.graph_path) == ("graph", str(sample / "other.meta"))


def test_a_prefix_with_only_its_graph_left_is_looked_for_in_the_run(sample):
    for f in sample.glob("epoch-5.*"):
        f.unlink()
    shutil.copy(sample / "epoch-0.meta", sample / "epoch-5.meta")
    model = open_path(str(sample / "epoch-5"))
    assert model.kind == "run"
    assert model.selected.step == 4          # the state file's latest is gone: the highest left


def test_a_folder_without_checkpoints_opens_its_only_graph_or_says_what_to_do(tmp_path):
    (tmp_path / "a.pb").write_bytes(b"x")
    model = open_path(str(tmp_path))
    assert (model.kind, model.graph_path, model.folder) == ("graph", str(tmp_path / "a.pb"), str(tmp_path))
    assert model.path == str(tmp_path)
    (tmp_path / "b.meta").write_bytes(b"x")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert str(e.value) == f"{tmp_path}: holds 2 graph files and no checkpoint (a.pb, b.meta): open one of them"
    for n in ("c.pbtxt", "d.pb"):
        (tmp_path / n).write_bytes(b"x")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert "holds 4 graph files and no checkpoint (a.pb, b.meta, c.pbtxt, d.pb): open" in str(e.value)
    (tmp_path / "e.pb").write_bytes(b"x")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert "holds 5 graph files and no checkpoint (a.pb, b.meta, c.pbtxt, d.pb, …)" in str(e.value)


def test_a_graph_beside_a_broken_state_file_keeps_the_problem(tmp_path):
    (tmp_path / "a.pb").write_bytes(b"x")
    (tmp_path / "checkpoint").write_bytes(b"\xff garbage")
    model = open_path(str(tmp_path))
    assert model.kind == "graph" and len(model.problems) == 1
    assert "state file does not parse" in model.problems[0]


def test_a_folder_with_no_model_says_why(tmp_path):
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert str(e.value) == f"{tmp_path}: no TensorFlow model found: the folder is empty"
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert str(e.value).endswith("no TensorFlow model found: no checkpoint, SavedModel or graph in it")
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone-1"\n')
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert str(e.value).endswith("no TensorFlow model found: the state file lists gone-1, which is not on disk")
    (tmp_path / "checkpoint").write_text('garbage {')
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path))
    assert "x.data-00000-of-00001: data file without its .index; cannot be read; " in str(e.value)
    assert "state file does not parse" in str(e.value)


def test_a_folder_whose_models_are_below_points_at_them(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(SAMPLE, root / "b_run")
    (root / "a_sm").mkdir()
    (root / "a_sm" / "saved_model.pb").write_bytes(b"")
    (root / "c" / "d").mkdir(parents=True)
    (root / "c" / "d" / "w.keras").write_bytes(b"")
    deep = root / "e" / "1" / "2" / "3" / "4"
    deep.mkdir(parents=True)
    (deep / "x.index").write_bytes(b"")               # too deep to look at
    (root / "e2" / "1" / "2" / "3").mkdir(parents=True)
    (root / "e2" / "1" / "2" / "3" / "y.index").write_bytes(b"")   # as deep as is looked at
    (root / "f").mkdir()
    (root / "f" / "notes.txt").write_text("nothing")
    (root / "g").mkdir()
    (root / "g" / "checkpoint").write_text("")
    (root / "b_run" / "inner").mkdir()
    (root / "b_run" / "inner" / "z.index").write_bytes(b"")   # under a model: not listed
    with pytest.raises(ModelsBelow) as e:
        open_path(str(root))
    assert e.value.below == ["a_sm", "b_run", os.path.join("c", "d"), os.path.join("e2", "1", "2", "3"), "g"]
    assert e.value.path == str(root)
    (root / "h").mkdir()
    (root / "h" / "k.h5").write_bytes(b"")
    with pytest.raises(ModelsBelow) as e:
        open_path(str(root))
    assert e.value.below[-1] == "g"           # five are enough to point the way
    shutil.rmtree(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path / "empty"))
    assert not isinstance(e.value, ModelsBelow)


def test_paths_that_are_nothing_say_so(tmp_path):
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path / "absent"))
    assert str(e.value) == f"{tmp_path / 'absent'}: no such file or folder"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path / "fifo"))
    assert str(e.value).endswith("fifo: is not a regular file or folder")


@pytest.mark.parametrize("name,head,kind", [
    ("weights.bin", b"\x89HDF\r\n\x1a\n", "an HDF5 file not named .h5, .hdf5 or .keras"),
    ("model.tflite", b"\x1c\x00\x00\x00TFL3", "a TensorFlow Lite model (.tflite)"),
    ("model.pb", b"\x1c\x00\x00\x00TFL3", "a TensorFlow Lite model (.tflite)"),
])
def test_models_of_other_formats_are_named_not_parsed(tmp_path, name, head, kind):
    (tmp_path / name).write_bytes(head + b"\0" * 64)
    with pytest.raises(FormatError) as e:
        open_path(str(tmp_path / name))
    assert str(e.value) == (f"{tmp_path / name}: {kind}: not a TensorFlow checkpoint, graph or SavedModel, "
                            "and this version does not read it")


@pytest.mark.parametrize("name", ["frozen.pb", "graph.pbtxt", "notes.txt", "model.onnx2", "g.meta"])
def test_other_files_open_as_graphs(tmp_path, name):
    (tmp_path / name).write_bytes(b"node {}\n")
    model = open_path(str(tmp_path / name))
    assert (model.kind, model.graph_path, model.folder, model.path) == (
        "graph", str(tmp_path / name), str(tmp_path), str(tmp_path / name))
    assert model.checkpoints == [] and model.selected is None


def test_keras_files_open_as_the_runs_epochs_and_read_as_keras(tmp_path):
    for n in ("w.epoch01.weights.h5", "w.epoch02.weights.h5"):
        _keras_weights(tmp_path / n)
    model = open_path(str(tmp_path / "w.epoch01.weights.h5"))
    assert model.kind == "run" and [c.step for c in model.checkpoints] == [1, 2]
    assert model.selected.step == 1
    reader = open_checkpoint(model.selected)
    assert isinstance(reader, KerasFile)
    assert (reader.read("layers/dense/vars/0") == np.ones((2, 3), np.float32)).all()
    (tmp_path / "fake.h5").write_bytes(b"not hdf5 at all")
    assert open_path(str(tmp_path / "fake.h5")).kind == "graph"


# -- SavedModels ---------------------------------------------------------------------------

@pytest.mark.parametrize("part", ["", "saved_model.pb", "variables", "variables/variables.index",
                                  "variables/variables.data-00000-of-00001"])
def test_every_part_of_a_savedmodel_opens_the_savedmodel(saved, part):
    sm = saved.tf2
    model = open_path(str(sm.dir / part) if part else str(sm.dir))
    assert (model.kind, model.folder, model.graph_path) == ("savedmodel", str(sm.dir), str(sm.dir / "saved_model.pb"))
    assert model.path == str(sm.dir)
    assert [c.prefix for c in model.checkpoints] == [str(sm.variables_prefix)]
    assert model.selected is model.checkpoints[0] and model.selected.latest
    assert model.problems == [] and model.notes == []
    reader = open_checkpoint(model.selected)
    for key, value in sm.values.items():
        assert np.array_equal(reader.read(key), value)
    (graph,) = load_graphs(model)
    assert graph.tags() == sm.tags


def test_a_savedmodel_without_variables_and_a_text_one(tmp_path, saved):
    shutil.copy(saved.tf1.dir / "saved_model.pb", tmp_path / "saved_model.pb")
    model = open_path(str(tmp_path))
    assert model.kind == "savedmodel" and model.checkpoints == [] and model.selected is None
    assert [g.tags() for g in load_graphs(model)] == [["serve"]]
    text = tmp_path / "t"
    text.mkdir()
    (text / "saved_model.pbtxt").write_text("meta_graphs { meta_info_def { tags: 'serve' } "
                                            "graph_def { node { name: 'x' op: 'Placeholder' } } }")
    model = open_path(str(text / "saved_model.pbtxt"))
    assert (model.kind, model.graph_path) == ("savedmodel", str(text / "saved_model.pbtxt"))
    assert [g.node("x").op for g in load_graphs(model)] == ["Placeholder"]


def test_load_graphs_of_a_run_is_its_meta_graph(sample):
    model = open_path(str(sample))
    (graph,) = load_graphs(model)
    assert graph.source == str(sample / "epoch-0.meta")
    shutil.copy(sample / "epoch-0.meta", sample / "epoch-3.meta")
    model = open_path(str(sample))
    assert load_graphs(model)[0].source == str(sample / "epoch-3.meta")       # the latest's
    assert load_graphs(model, model.checkpoint("1"))[0].source == str(sample / "epoch-0.meta")
    (sample / "epoch-2.index").unlink()
    model = open_path(str(sample))
    assert model.problems == ["epoch-2.data-00000-of-00001: data file without its .index; cannot be read"]
    assert load_graphs(Model("/x", "run", "/x")) == []


# -- readers -------------------------------------------------------------------------------

def test_a_checkpoint_not_on_disk_is_refused_and_a_bundle_is_read(sample):
    with pytest.raises(FormatError) as e:
        open_checkpoint(Checkpoint(str(sample / "gone-3"), on_disk=False))
    assert str(e.value) == f"{sample / 'gone-3'}: listed in the state file but not on disk"
    reader = open_checkpoint(open_path(str(sample)).selected)
    assert reader.prefix == str(sample / "epoch-5") and reader.object_graph_problem is None


def _bundle(prefix, values: dict):
    w = BundleWriter(str(prefix))
    for key, value in values.items():
        value = np.asarray(value)
        if value.dtype.kind in "SO":
            w.add(key, BY_NAME["string"], value.shape, plain([value.astype(object).ravel()]))
        else:
            w.add(key, BY_NAME["float32"], value.shape, plain([value.ravel()]))
    w.finish()


def test_an_unreadable_object_graph_is_reported_and_the_raw_keys_shown(tmp_path):
    _bundle(tmp_path / "ckpt-1", {"_CHECKPOINTABLE_OBJECT_GRAPH": np.array(b"\xff\xff\xff", dtype=object),
                                  "w/.ATTRIBUTES/VARIABLE_VALUE": np.ones(2, np.float32)})
    reader = open_checkpoint(open_path(str(tmp_path)).selected)
    assert reader.object_graph_problem == ("the object graph cannot be read (the object graph does not "
                                           "parse); showing raw keys")
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in reader.tensors
    assert reader.tensors["w/.ATTRIBUTES/VARIABLE_VALUE"].display_name == "w/.ATTRIBUTES/VARIABLE_VALUE"
    apply_object_graph(reader)     # no object graph left to apply: nothing changes
    assert reader.tensors["w/.ATTRIBUTES/VARIABLE_VALUE"].display_name == "w/.ATTRIBUTES/VARIABLE_VALUE"


def test_tracked_list_paths_take_the_savedmodels_variable_names(tmp_path):
    from app.formats.bundle import Bundle
    keys = ["variables/0/.ATTRIBUTES/VARIABLE_VALUE", "_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE",
            "variables/1/.ATTRIBUTES/VARIABLE_VALUE", "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE",
            "variables/2/.ATTRIBUTES/VARIABLE_VALUE"]
    _bundle(tmp_path / "v", {k: np.ones(1, np.float32) for k in keys})
    reader = Bundle(str(tmp_path / "v"))
    for k in keys:
        reader.tensors[k].display_name = k[: -len("/.ATTRIBUTES/VARIABLE_VALUE")]
    reader.tensors["variables/2/.ATTRIBUTES/VARIABLE_VALUE"].display_name = "dense/kernel"
    apply_variable_names(reader, {keys[0]: "dense/bias", keys[1]: "dense/bias", keys[2]: "",
                                  keys[3]: "renamed", keys[4]: "dense/kernel"})
    assert {k: reader.tensors[k].display_name for k in keys} == {
        keys[0]: "dense/bias",                  # first by key among the two copies
        keys[1]: "_all_variables/0",            # the second copy keeps its path
        keys[2]: "variables/1",                 # no name to give
        keys[3]: "dense/kernel",                # a real path is kept
        keys[4]: "dense/kernel",                # taken already: kept as is
    }


def test_a_frozen_graphs_constants_read_as_tensorflow_froze_them(tmp_path):
    graphs = fx.graphs(tmp_path / "graphs")
    model = open_path(str(graphs.frozen_pb))
    assert model.kind == "graph"
    (graph,) = load_graphs(model)
    reader = ConstReader(graph)
    assert reader.prefix == reader.index_path == str(graphs.frozen_pb) and reader.data_files == [str(graphs.frozen_pb)]
    float_consts = {k for k, v in graphs.frozen_consts.items() if v.dtype.kind == "f" and v.ndim > 0}
    assert set(reader.tensors) == float_consts
    for name in float_consts:
        t = reader.tensors[name]
        assert t.display_name == name and t.shape == graphs.frozen_consts[name].shape
        assert t.nbytes == graphs.frozen_consts[name].nbytes
        assert np.array_equal(reader.read(name), graphs.frozen_consts[name])
    every = ConstReader(graph, numeric_only=False)
    assert set(every.tensors) == set(graphs.frozen_consts)
    with pytest.raises(KeyError, match="no constant named 'nope'"):
        reader.read("nope")


def test_real_v1_checkpoints_open_with_their_graph(realdata, tmp_path):
    src = realdata / "v1-nxt-tensorflow"
    for n in ("model.ckpt", "model.ckpt.meta", "video_weights.ckpt"):
        shutil.copy(src / n, tmp_path / n)
    model = open_path(str(tmp_path / "model.ckpt.meta"))
    assert model.kind == "run" and model.selected.prefix == str(tmp_path / "model.ckpt")
    assert model.selected.meta == str(tmp_path / "model.ckpt.meta")
    reader = open_checkpoint(model.selected)
    assert isinstance(reader, V1Checkpoint) and reader.tensors
    for name in ("model.ckpt", "video_weights.ckpt"):
        model = open_path(str(tmp_path / name))
        assert model.kind == "run" and model.selected.prefix == str(tmp_path / name)
    model = open_path(str(tmp_path))
    assert {c.name for c in model.checkpoints} == {"model.ckpt", "video_weights.ckpt"}


def test_a_v1_shard_selects_its_checkpoint(tmp_path):
    from .tablewriter import table_bytes
    for name in ("model.ckpt-1", "model.ckpt-2-00000-of-00002", "model.ckpt-2-00001-of-00002"):
        (tmp_path / name).write_bytes(table_bytes([(b"", b"")]))
    model = open_path(str(tmp_path / "model.ckpt-2-00001-of-00002"))
    assert model.kind == "run" and model.selected.prefix == str(tmp_path / "model.ckpt-2")
    assert model.path == str(tmp_path / "model.ckpt-2-00001-of-00002")
    model = open_path(str(tmp_path / "model.ckpt-1"))
    assert model.selected.prefix == str(tmp_path / "model.ckpt-1") and model.path == str(tmp_path / "model.ckpt-1")
    # the graph a V1 Saver wrote beside its checkpoint selects that checkpoint, not the latest
    (tmp_path / "model.ckpt-1.meta").write_bytes(b"")
    model = open_path(str(tmp_path / "model.ckpt-1.meta"))
    assert (model.kind, model.path) == ("run", str(tmp_path / "model.ckpt-1.meta"))
    assert model.selected.prefix == str(tmp_path / "model.ckpt-1")
    # a graph named like a file that is no V1 checkpoint is a graph
    (tmp_path / "notes").write_bytes(b"plain text")
    (tmp_path / "notes.meta").write_bytes(b"")
    assert open_path(str(tmp_path / "notes.meta")).kind == "graph"


def _const(graph_def, name, dtype, dims, op="Const", **values):
    node = graph_def.node.add(name=name, op=op)
    t = node.attr["value"].tensor
    t.dtype = dtype
    for d in dims:
        t.tensor_shape.dim.add(size=d)
    for field, v in values.items():
        getattr(t, field).extend(v)
    return node


def test_which_constants_a_graph_reader_lists_and_their_sizes():
    from app.formats import protos
    from app.formats.graph import Graph
    gd = protos.GraphDef()
    _const(gd, "scalar", 1, [], float_val=[2.0])            # a scalar first: skipped, not the end
    _const(gd, "w", 1, [2, 3], float_val=[1, 2, 3, 4, 5, 6])
    _const(gd, "empty", 1, [0, 3])
    _const(gd, "ints", 3, [2], int_val=[1, 2])
    _const(gd, "words", 7, [2], string_val=[b"a", b"bc"])
    _const(gd, "odd", 77, [2])
    _const(gd, "valued", 1, [2], op="Identity", float_val=[1, 2])   # not a Const
    gd.node.add(name="bare", op="Const")                     # a Const with no value
    reader = ConstReader(Graph(gd, source="/g.pb"))
    assert reader.missing_shards == [] and reader.object_graph_problem is None
    assert {n: (t.name, t.dtype.name, t.dtype_enum, t.shape, t.nbytes, t.display_name)
            for n, t in reader.tensors.items()} == {
        "w": ("w", "float32", 1, (2, 3), 24, "w"), "empty": ("empty", "float32", 1, (0, 3), 0, "empty")}
    assert np.array_equal(reader.read("w"), np.arange(1, 7, dtype=np.float32).reshape(2, 3))
    every = ConstReader(Graph(gd, source="/g.pb"), numeric_only=False)
    assert {n: (t.shape, t.nbytes, t.dtype_enum) for n, t in every.tensors.items()} == {
        "scalar": ((), 4, 1), "w": ((2, 3), 24, 1), "empty": ((0, 3), 0, 1), "ints": ((2,), 8, 3),
        "words": ((2,), 0, 7), "odd": ((2,), 0, 77)}
    assert every.tensors["odd"].dtype is None
