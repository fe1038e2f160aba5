"""A graph's likely inputs and outputs, on graphs whose real ones are known."""

from __future__ import annotations

from app.analysis.graph_io import likely_inputs, likely_outputs
from app.analysis.loading import load

from .conftest import ROOT


def test_a_training_graph_offers_its_placeholders_and_its_results():
    graph = load(str(ROOT / "resources" / "sample_run")).graph
    assert likely_inputs(graph) == ["x", "y"]
    assert likely_outputs(graph) == ["accuracy", "loss"]     # not the Saver's, gradients' or Adam's ops


def test_frozen_and_saved_graphs_of_real_projects(realdata):
    cases = {
        "tf-rust/tensorflow-sys/examples/assets/multiplication.pb": (["a", "b"], ["c"]),
        "tf-rust/examples/addition/model.pb": (["x", "y"], ["z"]),
        "tf-rust/examples/regression_checkpoint/model.pb": (["x", "y"], ["Mean"]),
    }
    for rel, (inputs, outputs) in cases.items():
        graph = load(str(realdata / rel)).graph
        assert likely_inputs(graph) == inputs, rel
        assert likely_outputs(graph)[:len(outputs)] == outputs, rel
