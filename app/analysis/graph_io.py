"""What a graph is likely to take and give: its inputs (placeholders) and outputs (ops
nothing else consumes), for a downloaded model with no signature to say so.

Training graphs hold much that is neither: the Saver's ops, gradients, the optimizer's
updates, initialisers. Those are left out by op type and by the scopes TensorFlow puts
them in; outputs whose names say they are results (softmax, probabilities, logits,
predictions, output) come first.
"""

from __future__ import annotations

import re

INPUT_OPS = {"Placeholder", "PlaceholderWithDefault"}
# Ops that are never a model's output: state, saving, training and bookkeeping.
NOT_OUTPUT_OPS = {"NoOp", "Const", "VariableV2", "Variable", "VarHandleOp", "Assign", "AssignAdd", "AssignSub",
                  "AssignVariableOp", "AssignAddVariableOp", "SaveV2", "Save", "SaveSlices", "RestoreV2",
                  "Restore", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "MergeSummary",
                  "ScalarSummary", "HistogramSummary", "ImageSummary", "WriteSummary", "Assert", "Print",
                  "PrintV2", "IsVariableInitialized", "VarIsInitializedOp", "ReadVariableOp", "Placeholder",
                  "PlaceholderWithDefault", "TruncatedNormal", "RandomUniform", "RandomStandardNormal",
                  "Shape", "ShapeN", "Size", "Rank", "LookupTableImportV2", "InitializeTableV2",
                  "InitializeTableFromTextFileV2"}
SKIP_SCOPES = re.compile(r"^(save(_\d+)?|gradients(_\d+)?|training|Adam|Momentum|RMSProp|Adagrad|SGD|GradientDescent|"
                         r"optimizer|init|report_uninitialized_variables|summaries|Summary)(/|$)")
SKIP_NAMES = re.compile(r"(^|/)(init(_\d+)?|Assign(_\d+)?|initializer|read|IsVariableInitialized(_\d+)?)$")
RESULT_NAMES = re.compile(r"(softmax|probabilit|logits|prediction|output|score|classes|argmax)", re.I)


SAVER_INPUTS = re.compile(r"(^|/)(saver_filename|filename|Const)$")


def likely_inputs(graph) -> list[str]:
    return [n.name for n in graph.nodes if n.op in INPUT_OPS and not SKIP_SCOPES.match(n.name)
            and not SAVER_INPUTS.search(n.name)]


def likely_outputs(graph, limit: int = 12) -> list[str]:
    """Ops that nothing consumes and that compute something, result-like names first."""
    found = [n for n in graph.nodes
             if n.op not in NOT_OUTPUT_OPS and not n.op.startswith(("Apply", "ResourceApply"))
             and not SKIP_SCOPES.match(n.name) and not SKIP_NAMES.search(n.name)
             and not graph.consumers(n.name)]
    found.sort(key=lambda n: (not RESULT_NAMES.search(n.name.rsplit("/", 1)[-1])
                              and not RESULT_NAMES.search(n.op),
                              n.name.count("/"), n.name))
    return [n.name for n in found[:limit]]
