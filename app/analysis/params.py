"""Which saved tensors are the model's parameters and which are the optimizer's state.

A checkpoint saved during training holds both: Adam keeps two slots per variable, so a
92k-parameter CNN's checkpoint holds 276k numbers. People count a model by its parameters
(as Keras' summary does); the optimizer's state is shown apart.

Which of the model's variables train (Keras' "Trainable params") is known from a TF1
graph's collection, a SavedModel's object graph, or a TF2 checkpoint's optimizer
(`trainable_keys`).

How a tensor is known to be optimizer state, most certain first:
- a TF2 object graph links it to the variable it serves (`TensorInfo.slot_of`);
- in a TF1 graph, it is an input of an optimizer's update op (`ApplyAdam`,
  `ResourceApplyMomentum`, …) other than the variable being updated, or what an op under
  `<optimizer>/update_<variable>/` touches besides that variable (sparse Adam's slots);
- its name says so: the slot names TensorFlow's optimizers use (`…/Adam`, `…/Adam_1`,
  `…/Momentum`, BERT's `…/adam_m`), Adam's `beta1_power`/`beta2_power`, a step counter
  (`global_step`, a TF2 checkpoint's `step`, `…/iter`, `save_counter`), a Keras optimizer's own scope
  (`optimizer/…`, `training/…`), or a TF2 key under the optimizer's own variables
  (`optimizer/_variables/N/…`: Keras 3 keeps Adam's moments there, not as slots).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SLOT_NAME = re.compile(
    r"/(Adam|Adam_\d+|adam_m|adam_v|Momentum|RMSProp|RMSProp_\d+|Adagrad|Adadelta|Adadelta_\d+|"
    r"Ftrl|Ftrl_\d+|LazyAdam|LazyAdam_\d+|Nadam|Nadam_\d+|Adamax|Adamax_\d+|\.OPTIMIZER_SLOT/.*)$")
STATE_NAME = re.compile(r"(^|/)(beta1_power|beta2_power|global_step|step|iter|iteration|iterations|"
                        r"save_counter)(/\.ATTRIBUTES.*)?$")
OPTIMIZER_SCOPE = re.compile(r"^(optimizer|training)/")
# TF2 object graphs: what an optimizer owns itself (Keras 3 keeps Adam's moments there,
# not as slot variables); the model's weights hang under `_trainable_variables`.
OPTIMIZER_OWNED = re.compile(r"(^|/)optimizer/_(variables|iterations|learning_rate|momentums|velocities)/")
# Ops that read through to the variable they are given.
PASS_THROUGH = {"Identity", "ReadVariableOp", "Cast", "Snapshot"}


@dataclass
class ParameterSplit:
    model: int = 0               # numbers in the model's own tensors
    optimizer: int = 0           # numbers in the optimizer's state
    trainable: int | None = None  # of `model`, those the graph marks trainable (None: unknown)
    optimizer_keys: set[str] = field(default_factory=set)

    def is_optimizer(self, key: str) -> bool:
        return key in self.optimizer_keys


# Variable ops whose output is one variable (a checkpoint key of its own).
FED_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")


def _variable_fed(graph, ref: str) -> str | None:
    """The variable op an input reads, directly or through at most 8 reads (a cycle of
    identities in a hostile graph ends); None for anything else. A control input's `^x`
    names no node: it only orders, it feeds nothing."""
    name = ref.split(":")[0]
    seen = 0
    while name in graph.index and graph.node(name).op in PASS_THROUGH and seen < 8:
        inputs = graph.node(name).input
        if not inputs:
            break
        name, seen = inputs[0].split(":")[0], seen + 1
    if name in graph.index and graph.node(name).op in FED_VARIABLE_OPS:
        return name
    return None


def _update_op_inputs(graph) -> set[str]:
    """Variable ops fed to an optimizer's update op other than as the variable updated,
    and those any op under an optimizer's `…/update_<variable>/` scope touches other than
    that variable (sparse Adam updates its slots there with Assign and ScatterAdd ops,
    not with an Apply op)."""
    out: set[str] = set()
    for node in graph.nodes:
        if node.op.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")):
            out |= {v for v in (_variable_fed(graph, ref) for ref in node.input[1:]) if v}
        at = node.name.find("update_")
        if at == 0 or (at > 0 and node.name[at - 1] == "/"):
            updated = _updated_variable(graph, node.name[at + len("update_"):])
            if updated is not None:   # not TF2's `update_1/` scopes, which name no variable
                out |= {v for v in (_variable_fed(graph, ref) for ref in node.input)
                        if v and v != updated}
    return out


def _updated_variable(graph, rest: str) -> str | None:
    """The variable an `update_<variable>/…` scope is named for: the longest leading part
    of `rest` that is a variable op; None when there is none."""
    parts = rest.split("/")
    for i in range(len(parts) - 1, 0, -1):
        name = "/".join(parts[:i])
        if name in graph.index and graph.node(name).op in FED_VARIABLE_OPS:
            return name
    return None


def optimizer_keys(tensors: dict, graph=None) -> set[str]:
    """The checkpoint keys among `tensors` (key → TensorInfo) that hold optimizer state."""
    return _optimizer_owned(tensors, graph, STATE_NAME)


def _optimizer_owned(tensors: dict, graph, state_name: re.Pattern) -> set[str]:
    """Slots (linked, or named as TensorFlow's optimizers name them), what a Keras
    optimizer owns, the optimizer's own state as `state_name` matches it, and, given the
    training graph, the inputs of its update ops."""
    keys = {k for k, t in tensors.items()
            if t.slot_of or SLOT_NAME.search(t.display_name) or SLOT_NAME.search(k)
            or state_name.search(t.display_name) or state_name.search(k)
            or OPTIMIZER_SCOPE.match(t.display_name) or OPTIMIZER_OWNED.search(k)}
    if graph is not None:
        by_op = graph.checkpoint_keys()
        keys |= {by_op.get(op, op) for op in _update_op_inputs(graph)} & set(tensors)
    return keys


def split_parameters(tensors: dict, graph=None) -> ParameterSplit:
    keys = optimizer_keys(tensors, graph)
    split = ParameterSplit(optimizer_keys=keys)
    for key, info in tensors.items():
        if key in keys:
            split.optimizer += info.size
        else:
            split.model += info.size
    trainable = trainable_keys(tensors, graph)
    if trainable is not None:   # as Keras' summary: trainable and not (batch norm's statistics…)
        split.trainable = sum(tensors[k].size for k in trainable - keys if k in tensors)
    return split


# What stripping the optimizer removes. Step counters (`global_step`, a TF2 `step`,
# `save_counter`) stay: restoring a model (an Estimator, a CheckpointManager) may want
# them, and a tf.Module's `step` may be the model's own.
BETA_POWER = re.compile(r"(^|/)(beta1_power|beta2_power)(_\d+)?(/\.ATTRIBUTES.*)?$")


def optimizer_state_keys(tensors: dict, graph=None) -> set[str]:
    """The keys among `tensors` that hold an optimizer's state: its slots (linked, or
    named as TensorFlow's optimizers name them), Adam's beta powers, what a Keras
    optimizer owns, and, given the training graph, the inputs of its update ops."""
    return _optimizer_owned(tensors, graph, BETA_POWER)


def trainable_keys(tensors: dict, graph=None) -> set[str] | None:
    """The keys of the variables that train, None where nothing says. Sources: a TF1
    graph's `trainable_variables` collection; a SavedModel's object graph
    (`SavedVariable.trainable`); a TF2 checkpoint's optimizer (the variables it keeps
    slots for or lists as its trainable ones, `TensorInfo.trainable`)."""
    trainable_ops = graph.collections().get("trainable_variables") if graph is not None else None
    if trainable_ops:
        by_op = graph.checkpoint_keys()
        return {by_op.get(op, op) for op in trainable_ops}
    saved = graph.trainable_keys() if graph is not None else None
    if saved is not None and saved & set(tensors):
        return saved
    if any(t.trainable for t in tensors.values()):
        return {k for k, t in tensors.items() if t.trainable}
    return None
