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


def _graph_of(nodes):
    from app.formats import protos
    from app.formats.graph import Graph
    gd = protos.GraphDef()
    for name, op, inputs in nodes:
        gd.node.add(name=name, op=op, input=inputs)
    return Graph(gd)


def test_each_rule_of_what_is_no_input_and_no_output():
    graph = _graph_of([
        ("x", "Placeholder", []), ("keep_prob", "PlaceholderWithDefault", []),
        ("save/Const", "PlaceholderWithDefault", []), ("save_12/x", "Placeholder", []),
        ("saver_filename", "Placeholder", []), ("a/filename", "Placeholder", []),
        ("gradients_1/grad_ys", "Placeholder", []), ("feed/Const", "Placeholder", []),
        ("saveX", "Placeholder", []),
        ("h", "MatMul", ["x:0"]), ("net/logits", "BiasAdd", ["h"]), ("deep/a/b", "Softmax", ["^x"]),
        ("z", "Mul", ["keep_prob"]), ("output_scope/z", "Mul", []), ("m/n/o", "AddV2", []), ("m/logits/z", "Mul", []),
        ("Scores", "Identity", []), ("initial_value", "Identity", []),
        # never outputs: by op, by scope, by name
        ("Const", "Const", []), ("train/ApplyAdam", "ApplyAdam", []),
        ("rgd", "ResourceApplyGradientDescent", []), ("w/read", "Identity", []),
        ("w/Assign", "Identity", []), ("w/Assign_3", "Identity", []), ("v/initializer", "Identity", []),
        ("init", "Identity", []), ("init_2", "Identity", []), ("IsVariableInitialized_4", "Identity", []),
        ("report_uninitialized_variables/x", "Identity", []), ("Adam/x", "Identity", []),
        ("training/x", "Identity", []), ("Summary", "Identity", []), ("gradients/y", "Identity", []),
    ])
    assert likely_inputs(graph) == ["x", "keep_prob", "saveX"]
    assert likely_outputs(graph) == ["Scores", "net/logits", "deep/a/b", "initial_value", "z",
                                     "output_scope/z", "m/logits/z", "m/n/o"]
    assert likely_outputs(graph, limit=3) == ["Scores", "net/logits", "deep/a/b"]


def test_at_most_twelve_outputs_unless_asked():
    graph = _graph_of([(f"out_{i:02}", "Identity", []) for i in range(15)])
    assert likely_outputs(graph) == [f"out_{i:02}" for i in range(12)]
    assert len(likely_outputs(graph, limit=20)) == 15
