"""What the window shows for one opened model (app.analysis.loading.load): the checkpoint
picked, its reader, the graph and its scope tree with the model's parameter counts, and
the problems of a partly readable model, checked against the training run's own values."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.analysis import loading
from app.formats.errors import FormatError

from . import tf_fixtures as fx


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return fx.cnn_epochs(tmp_path_factory.mktemp("load") / "cnn", epochs=3)


class Job:
    def __init__(self, cancel_after=None):
        self.said = []
        self.cancel_after = cancel_after

    def progress(self, fraction, text):
        self.said.append((fraction, text))

    def cancelled(self):
        return self.cancel_after is not None and len(self.said) >= self.cancel_after


def test_a_run_opens_at_its_latest_checkpoint_with_graph_and_tree(run):
    job = Job()
    loaded = loading.load(str(run.dir), job=job)
    assert job.said == [(0.05, "finding the model"), (0.2, "parsing the graph"),
                        (0.6, "reading the checkpoint index"), (0.8, "building the scope tree")]
    assert loaded.checkpoint.prefix == str(run.checkpoints[-1].prefix)
    assert loaded.problems == [] and not loaded.graph_pending
    assert loaded.graph is not None and loaded.graphs and loaded.graph is loaded.graphs[0]
    assert loaded.tree_kind == "graph" and loaded.tree_names == [n.name for n in loaded.graph.nodes]
    values = run.checkpoints[-1].values
    assert set(loaded.tensors) == set(values)
    for key, value in values.items():
        assert loaded.tensors[key].size == value.size
    # the model's parameters are its trainable weights; Adam's slots and the step apart
    model = sum(values[k].size for k in run.trainable)
    assert loaded.params.model == model
    assert loaded.params.optimizer == sum(v.size for v in values.values()) - model
    assert loaded.tree.params == model
    kernel = loaded.tree.children["conv"].children["kernel"]
    assert kernel.params == values["conv/kernel"].size and loaded.op_of(kernel) == "conv/kernel"
    assert loaded.tensor_for_op("conv/kernel") == "conv/kernel"
    assert loaded.tensor_for_op("conv/kernel/Adam") == "conv/kernel/Adam"
    assert loaded.tensor_for_op("logits") is None and loaded.tensor_for_op("no/such") is None
    assert loaded.op_of(loaded.tree) is None


def test_an_earlier_checkpoint_and_a_cancelled_load(run):
    loaded = loading.load(str(run.dir), checkpoint="1")
    assert loaded.checkpoint.prefix == str(run.checkpoints[1].prefix)
    key = "dense/kernel"
    assert np.array_equal(loaded.reader.read(key), run.checkpoints[1].values[key])
    job = Job(cancel_after=2)
    early = loading.load(str(run.dir), job=job)
    assert len(job.said) == 2 and early.reader is None and early.graph is not None


def test_without_its_graph_the_tree_is_of_variable_names(run, tmp_path):
    for f in run.checkpoints[-1].prefix.parent.glob(run.checkpoints[-1].prefix.name + ".*"):
        shutil.copy(f, tmp_path / f.name)
    loaded = loading.load(str(tmp_path / run.checkpoints[-1].prefix.name))
    assert loaded.graph is None and loaded.tree_kind == "variables"
    assert sorted(loaded.tree_names) == sorted(run.checkpoints[-1].values)
    assert loaded.tensor_for_op("conv/kernel") is None and loaded.op_of(loaded.tree) is None
    model = sum(run.checkpoints[-1].values[k].size for k in run.trainable)
    assert loaded.params.model == model and loaded.tree.params == model


def test_a_checkpoint_missing_its_data_is_a_problem_not_a_failure(run, tmp_path):
    shutil.copytree(run.dir, tmp_path / "r")
    last = run.checkpoints[-1].prefix.name
    for f in (tmp_path / "r").glob(last + ".data-*"):
        f.unlink()
    loaded = loading.load(str(tmp_path / "r"))
    assert loaded.graph is not None
    assert any("data file missing or unreadable" in p for p in loaded.problems)
    (tmp_path / "r" / (last + ".index")).write_bytes(b"garbage" * 20)
    loaded = loading.load(str(tmp_path / "r"))
    assert loaded.graph is not None and loaded.reader is None and loaded.problems
    with pytest.raises(FormatError):
        loading.load(str(tmp_path / "nothing here"))
