"""The model's parameters apart from the optimizer's state, checked against what
TensorFlow recorded: the graph's trainable variables, Keras' own weights."""

from __future__ import annotations

import pytest

from app.analysis.loading import load
from app.analysis.params import split_parameters
from app.formats.model import open_checkpoint, open_path

from . import tf_fixtures as fx
from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


def test_a_tf1_adam_run_counts_its_trainable_variables_as_the_model():
    loaded = load(str(SAMPLE))
    graph = loaded.graph
    keys = graph.checkpoint_keys()
    trainable = {keys.get(op, op) for op in graph.collections()["trainable_variables"]}
    split = split_parameters(loaded.tensors, graph)
    assert split.model == sum(loaded.tensors[k].size for k in trainable) == 170
    assert split.optimizer_keys == set(loaded.tensors) - trainable
    assert split.trainable == 170          # every model variable of this CNN trains
    # The tree counts the model only: its root is the model's size.
    assert loaded.tree.params == 170


def test_without_a_graph_the_names_tell_the_same():
    loaded = load(str(SAMPLE))
    with_graph = split_parameters(loaded.tensors, loaded.graph)
    assert split_parameters(loaded.tensors).optimizer_keys == with_graph.optimizer_keys


@pytest.fixture(scope="module")
def keras(tmp_path_factory, tf):
    return fx.tf2_keras(tmp_path_factory.mktemp("params_keras") / "keras")


def test_keras_3_adam_state_is_not_the_model(keras):
    reader = open_checkpoint(open_path(str(keras.dir)).selected)
    split = split_parameters(reader.tensors)
    assert split.model == sum(reader.tensors[k].size for k in keras.weight_keys.values()) == 37
    save_counter = {k for k, t in reader.tensors.items() if t.display_name == "save_counter"}
    assert split.optimizer_keys == set(keras.optimizer_keys.values()) | save_counter


@pytest.fixture(scope="module")
def cases(tmp_path_factory, tf):
    """Built once (and, in mutation runs, once for all runs): no TensorFlow in a test body."""
    return fx.param_checkpoints(tmp_path_factory.mktemp("params_cases") / "cases")


def test_non_trainable_model_variables_are_the_models_but_not_trainable(cases):
    """Batch norm's moving statistics: part of the model, not trained (Keras' summary says
    'Non-trainable params')."""
    loaded = load(str(cases.tf1_frozen))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.model == 12 + 3 and split.trainable == 12
    assert split.optimizer == 2 * 12 + 2 + 1        # Adam's m and v, its beta powers, the step


def test_a_tf2_checkpoint_says_what_trains_through_its_optimizer(cases):
    """TF2 checkpoints keep no `trainable` flag: the optimizer's own list says, and batch
    norm's moving statistics are the model's but do not train (Keras' own counts)."""
    loaded = load(str(cases.keras_bn))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.trainable == cases.keras_trainable == 3 * 4 + 3 + 2 * 3 + 3 * 2 + 2
    assert split.model - split.trainable == cases.keras_frozen == 2 * 3


def test_a_savedmodel_says_what_trains_through_its_object_graph(cases):
    loaded = load(str(cases.saved_model))
    split = split_parameters(loaded.tensors, loaded.graph)
    assert split.model == 12 + 3 + 1
    assert split.trainable == 12 + 1


def test_a_tf2_checkpoint_without_an_optimizer_does_not_guess(cases):
    loaded = load(str(cases.no_optimizer))
    assert split_parameters(loaded.tensors, loaded.graph).trainable is None


def _infos(names: dict):
    """TensorInfo by key, as an index describes them: key -> (display name, size)."""
    from app.formats.dtypes import from_enum
    from app.formats.reader import TensorInfo
    return {k: TensorInfo(name=k, dtype=from_enum(1), dtype_enum=1, shape=(size,), nbytes=4 * size,
                          display_name=shown) for k, (shown, size) in names.items()}


OPTIMIZER_NAMES = [
    "dense/kernel/Adam", "dense/kernel/Adam_1", "w/adam_m", "w/adam_v", "w/Momentum", "w/RMSProp",
    "w/RMSProp_1", "w/Adagrad", "w/Adadelta", "w/Adadelta_2", "w/Ftrl", "w/Ftrl_1", "w/LazyAdam",
    "w/LazyAdam_1", "w/Nadam", "w/Nadam_3", "w/Adamax", "w/Adamax_1",
    "w/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", "beta1_power", "beta2_power",
    "global_step", "step", "iter", "iteration", "iterations", "save_counter",
    "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", "training/Adam/lr",
    "optimizer/_variables/3/.ATTRIBUTES/VARIABLE_VALUE", "model/optimizer/_iterations/x",
    "optimizer/_learning_rate/x", "a/optimizer/_momentums/0", "a/optimizer/_velocities/1",
    "scope/beta1_power", "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
]
MODEL_NAMES = [
    "dense/kernel", "dense/Adam_kernel", "w/Adamx", "w/adam", "my_step/x", "steps", "iter2",
    "stepper", "the_optimizer/x", "pretraining/w", "w/Momentum_1x", "Adam", "x/RMSProp_a",
    "optimizer_weights/x", "a/optimizer/_trainable_variables/0",
]


def test_optimizer_state_is_known_by_its_names():
    tensors = _infos({n: (n, 2) for n in OPTIMIZER_NAMES + MODEL_NAMES})
    split = split_parameters(tensors)
    assert split.optimizer_keys == set(OPTIMIZER_NAMES)
    assert split.model == 2 * len(MODEL_NAMES) and split.optimizer == 2 * len(OPTIMIZER_NAMES)
    assert split.trainable is None and split.is_optimizer("beta1_power") and not split.is_optimizer("Adam")
    # a TF2 key whose readable name says so
    tf2 = _infos({"layer/x/.ATTRIBUTES/VARIABLE_VALUE": ("dense/kernel/Momentum", 3),
                  "o/y": ("optimizer/beta_1", 1), "m/z": ("dense/kernel", 5)})
    assert split_parameters(tf2).optimizer_keys == {"layer/x/.ATTRIBUTES/VARIABLE_VALUE", "o/y"}


def test_stripping_keeps_step_counters():
    from app.analysis.params import optimizer_state_keys
    tensors = _infos({n: (n, 1) for n in OPTIMIZER_NAMES + MODEL_NAMES + ["beta1_power_3", "x/beta2_power_1"]})
    state = optimizer_state_keys(tensors)
    counters = {"global_step", "step", "iter", "iteration", "iterations", "save_counter",
                "save_counter/.ATTRIBUTES/VARIABLE_VALUE"}
    assert state == (set(OPTIMIZER_NAMES) - counters) | {"beta1_power_3", "x/beta2_power_1"}


def _graph(*nodes):
    """A GraphDef built by hand: (name, op, inputs) per node."""
    from app.formats import protos
    from app.formats.graph import Graph
    gd = protos.GraphDef()
    for name, op, inputs in nodes:
        node = gd.node.add()
        node.name, node.op = name, op
        node.input.extend(inputs)
    return Graph(gd, None, "hand.pb")


def test_a_control_input_of_an_update_op_is_not_optimizer_state():
    """`^scale` only orders the update: the model variable it names is not fed to it."""
    graph = _graph(("w", "VariableV2", []), ("scale", "VariableV2", []), ("acc", "VariableV2", []),
                   ("scale_read", "Identity", ["scale"]), ("lr", "Const", []), ("g", "Const", []),
                   ("update", "ApplyAdagrad", ["w", "acc", "lr", "g", "^scale", "^scale_read"]))
    tensors = _infos({k: (k, 1) for k in ("w", "scale", "acc")})
    assert split_parameters(tensors, graph).optimizer_keys == {"acc"}


@pytest.fixture(scope="module")
def named(tmp_path_factory, tf):
    return fx.named_optimizers(tmp_path_factory.mktemp("params_named") / "named")


def test_optimizers_under_their_own_names_are_found_through_their_update_ops(named):
    """Slots named `gen/w/G_opt`, `emb_res/Push` and a second Adam's `beta1_power_1` match no
    name pattern: the update ops (ApplyAdam, ResourceApplyAdam through ReadVariableOp and
    Cast, SparseApplyMomentum, ResourceSparseApplyMomentum) say what they are, and so does
    the `E_opt/update_adam_emb/…` scope where sparse Adam scatters into its slots. Keys are the
    Saver's own (`ckpt/…`), not the op names. TensorFlow's `optimizer.variables()` and
    trainable variables are the oracle."""
    from app.analysis.params import optimizer_keys, optimizer_state_keys, trainable_keys
    loaded = load(str(named.dir))
    tensors, graph = loaded.tensors, loaded.graph
    assert set(tensors) == set(named.sizes)
    split = split_parameters(tensors, graph)
    assert split.optimizer_keys == named.optimizer_keys
    assert split.model == sum(n for k, n in named.sizes.items() if k not in named.optimizer_keys) == 12 + 6 + 10 + 10 + 1 + 8 + 8
    assert split.optimizer == sum(named.sizes[k] for k in named.optimizer_keys)
    assert split.trainable == sum(named.sizes[k] for k in named.trainable_keys) == split.model
    assert optimizer_keys(tensors, graph) == named.optimizer_keys
    # no step counter here: stripping removes exactly what the optimizers own
    assert optimizer_state_keys(tensors, graph) == named.optimizer_keys
    assert trainable_keys(tensors, graph) == named.trainable_keys
    # without the graph the names alone find only the first Adam's beta powers
    assert optimizer_keys(tensors) == {"ckpt/beta1_power", "ckpt/beta2_power"}


def test_update_op_inputs_are_followed_through_reads_by_name_and_output():
    """A legacy `Variable` op, an input naming an output (`m:0`), a read through an Identity;
    a variable that only feeds the gradient's arithmetic (`Mul`) is the model's."""
    graph = _graph(("w", "Variable", []), ("m", "Variable", []), ("acc", "VarHandleOp", []),
                   ("other", "VariableV2", []), ("acc_read", "ReadVariableOp", ["acc:0"]),
                   ("lr", "Const", []), ("g", "Mul", ["other", "lr"]),
                   ("update", "ApplyMomentum", ["w", "m:0", "lr", "g", "acc_read:0"]))
    tensors = _infos({k: (k, 1) for k in ("w", "m", "acc", "other")})
    assert split_parameters(tensors, graph).optimizer_keys == {"m", "acc"}


def _chain(depth: int):
    """`update` reads slot `s` through `depth` Identity ops."""
    reads = [(f"r{i}", "Identity", [f"r{i + 1}" if i + 1 < depth else "s"]) for i in range(depth)]
    return _graph(("w", "VariableV2", []), ("s", "VariableV2", []), *reads,
                  ("update", "ApplyGradientDescent", ["w", "r0" if depth else "s", "g"]))


def test_the_walk_through_reads_is_bounded():
    tensors = _infos({"w": ("w", 1), "s": ("s", 1)})
    assert split_parameters(tensors, _chain(8)).optimizer_keys == {"s"}
    assert split_parameters(tensors, _chain(9)).optimizer_keys == set()   # deeper: given up


def test_hostile_update_op_inputs_end_the_walk():
    """A cycle of identities, an Identity without inputs or with only a control input, an
    input naming no node: nothing is found and nothing hangs or raises."""
    graph = _graph(("w", "VariableV2", []), ("v", "VariableV2", []), ("a", "Identity", ["b"]),
                   ("b", "Identity", ["a"]), ("empty", "Identity", []), ("ctl", "Identity", ["^v"]),
                   ("update", "ApplyAdam", ["w", "a", "empty", "ctl", "gone", "gone:1"]))
    tensors = _infos({"w": ("w", 1), "v": ("v", 1)})
    assert split_parameters(tensors, graph).optimizer_keys == set()


def test_state_is_known_by_its_key_or_by_its_readable_name():
    tensors = _infos({"o/z": ("global_step", 1), "x/step": ("counter", 1), "m/k": ("dense/kernel", 4)})
    assert split_parameters(tensors).optimizer_keys == {"o/z", "x/step"}


def test_a_trainable_variable_the_graph_lacks_is_known_by_its_name():
    """The collection names `gone`, which no op of the (stripped) graph defines: its value
    is assumed saved under its own name, as for any variable no save op mentions."""
    from app.analysis.params import trainable_keys
    from app.formats import protos
    from app.formats.graph import Graph
    meta = protos.MetaGraphDef()
    node = meta.graph_def.node.add()
    node.name, node.op = "w", "VariableV2"
    for name in ("w:0", "gone:0"):     # VariableDef: field 1, variable_name
        meta.collection_def["trainable_variables"].bytes_list.value.append(
            b"\n" + bytes([len(name)]) + name.encode())
    graph = Graph(meta.graph_def, meta, "stripped.meta", "metagraph")
    tensors = _infos({"w": ("w", 2), "gone": ("gone", 3), "b": ("b", 1)})
    assert trainable_keys(tensors, graph) == {"w", "gone"}
    assert split_parameters(tensors, graph).trainable == 5


def test_an_object_graph_naming_none_of_the_tensors_says_nothing_of_them(cases):
    """A SavedModel's trainable flags speak of its own variables only: beside tensors it
    does not hold, nothing says what trains."""
    from app.analysis.params import trainable_keys
    saved = load(str(cases.saved_model)).graph
    other = load(str(cases.no_optimizer)).tensors
    assert saved.trainable_keys() and not saved.trainable_keys() & set(other)
    assert trainable_keys(other, saved) is None


def test_what_an_update_scope_touches_besides_its_variable_is_optimizer_state():
    """Sparse Adam scatters into its slots under `<optimizer>/update_<variable>/`: what an
    op there reads or writes is optimizer state, except the variable updated; a name that
    merely contains `update_` is no such scope."""
    graph = _graph(("dense/w", "VariableV2", []), ("dense/w/E", "VarHandleOp", []), ("s2", "VariableV2", []),
                   ("other", "VariableV2", []), ("mine", "VariableV2", []),
                   ("E/update_dense/w/ResourceScatterAdd", "ResourceScatterAdd", ["dense/w/E", "i", "g"]),
                   ("E/update_dense/w/read", "Identity", ["dense/w"]),
                   ("update_dense/w/Assign", "Assign", ["s2", "g"]),
                   ("preupdate_x/Mul", "Mul", ["other", "g"]), ("my_update_y/Mul", "Mul", ["mine", "g"]),
                   # TF2 numbers its update scopes: `update_1/` names no variable
                   ("k", "VarHandleOp", []), ("k/m", "VarHandleOp", []),
                   ("Adam/update_1/ResourceApplyAdam", "ResourceApplyAdam", ["k", "k/m", "lr", "g"]),
                   ("Adam/update_1/ReadVariableOp", "ReadVariableOp", ["k"]),
                   # a variable `dense` beside `dense/w`: the scope names the longer one
                   ("dense", "VariableV2", []), ("E/update_dense/w/mul", "Mul", ["dense/w", "g"]))
    tensors = _infos({k: (k, 1) for k in ("dense/w", "dense/w/E", "s2", "other", "mine", "k", "k/m", "dense")})
    assert split_parameters(tensors, graph).optimizer_keys == {"dense/w/E", "s2", "k/m"}


def test_every_kind_of_update_op_names_its_slots():
    """Dense and sparse, ref and resource update ops, under TF2's numbered `update/`,
    `update_1/` scopes (which name no variable): their inputs besides the variable."""
    kinds = ["ApplyAdagrad", "ResourceApplyAdagrad", "SparseApplyAdagrad", "ResourceSparseApplyAdagrad"]
    nodes = [("lr", "Const", []), ("g", "Const", [])]
    for i, op in enumerate(kinds):
        scope = "Adagrad/update" + (f"_{i}" if i else "")
        var_op = "VarHandleOp" if op.startswith("Resource") else "VariableV2"
        nodes += [(f"v{i}", var_op, []), (f"acc{i}", var_op, []),
                  (f"{scope}/{op}", op, [f"v{i}", f"acc{i}", "lr", "g"])]
    tensors = _infos({f"{k}{i}": (f"{k}{i}", 1) for i in range(4) for k in ("v", "acc")})
    assert split_parameters(tensors, _graph(*nodes)).optimizer_keys == {f"acc{i}" for i in range(4)}
