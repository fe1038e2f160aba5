"""Readable names, slot links and what trains, from a TF2 checkpoint's object graph
(app/formats/objectgraph.py); and the object graph rewritten after an edit.

One checkpoint is TensorFlow's own (a TF1 Adam tracked by tf.train.Checkpoint, whose
object graph links slots); the rest are object graphs laid out as TensorFlow and Keras 3
lay them out, written here so that each rule is met on its own."""

from __future__ import annotations

import pytest

from app.formats import protos
from app.formats.model import open_checkpoint, open_path
from app.formats.objectgraph import ATTRIBUTE_SUFFIX, escape, names, rewrite, trained_nodes, variable_keys

from . import tf_fixtures as fx

V = ATTRIBUTE_SUFFIX


def graph_of(nodes: list[dict]) -> protos.TrackableObjectGraph:
    """nodes[i] = {"children": [(name, id)], "attrs": [(attr name, key, full name)],
    "slots": [(original id, slot id, slot name)]}."""
    g = protos.TrackableObjectGraph()
    for spec in nodes:
        node = g.nodes.add()
        for local, node_id in spec.get("children", []):
            node.children.add(local_name=local, node_id=node_id)
        for name, key, full in spec.get("attrs", []):
            node.attributes.add(name=name, checkpoint_key=key, full_name=full)
        for original, slot, slot_name in spec.get("slots", []):
            node.slot_variables.add(original_variable_node_id=original, slot_variable_node_id=slot,
                                    slot_name=slot_name)
    return g


def var(key: str, full: str = "") -> dict:
    return {"attrs": [("VARIABLE_VALUE", key, full)]}


def display(out) -> dict[str, str]:
    return {k: n.display_name for k, n in out.items()}


# -- TensorFlow's own ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def slots(tmp_path_factory):
    return fx.slot_variables(tmp_path_factory.mktemp("og") / "slots")


def test_tensorflows_slots_are_linked_to_their_variables_and_say_what_trains(slots):
    reader = open_checkpoint(open_path(str(slots.prefix) + ".index").selected)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in reader.tensors
    for (var_name, slot_name), key in slots.slot_keys.items():
        t = reader.tensors[key]
        assert t.slot_of == slots.variable_keys[var_name] and t.slot_name == slot_name
        assert t.display_name == f"{reader.tensors[t.slot_of].display_name}/{slot_name}"
        assert t.trainable is False
    for key in slots.variable_keys.values():
        assert reader.tensors[key].trainable is True and reader.tensors[key].slot_of is None
    # and the values behind the names are TensorFlow's
    for key, want in slots.values.items():
        assert (reader.read(key) == want).all()


# -- names --------------------------------------------------------------------------------

def test_bytes_that_are_no_object_graph_raise_value_error():
    with pytest.raises(ValueError, match="^the object graph does not parse$"):
        names(b"\xff\xff\xff\xff")
    with pytest.raises(ValueError, match="^the object graph does not parse$"):
        rewrite(b"\xff\xff\xff\xff", {})
    assert names(b"") == {}


def test_keras_paths_are_kept_and_a_modules_bare_names_give_way_to_the_object_path():
    g = graph_of([
        {"children": [("model", 1), ("net", 3), ("save_counter", 4)]},
        {"children": [("dense", 2)]},
        var(f"model/dense/kernel{V}", "sequential/dense/kernel"),     # a Keras path: kept
        {"children": [("w", 5)], "attrs": [("VARIABLE_VALUE", f"net/x{V}", "")]},  # no name: its path
        var(f"save_counter{V}", "save_counter"),                      # bare, top level: as is
        var(f"net/w{V}", "w"),                                         # bare, nested: its path
    ])
    out = names(g.SerializeToString())
    assert display(out) == {f"model/dense/kernel{V}": "sequential/dense/kernel",
                            f"net/x{V}": "net",
                            f"save_counter{V}": "save_counter",
                            f"net/w{V}": "net/w"}


def test_an_object_reached_by_no_path_is_named_by_its_key():
    g = graph_of([{"children": [("a", 1)]}, var(f"a{V}", "a"), var(f"lost/thing{V}", "")])
    assert display(names(g.SerializeToString()))[f"lost/thing{V}"] == "lost/thing"


def test_a_non_variable_attribute_adds_its_name():
    g = graph_of([{"children": [("table", 1)]},
                  {"attrs": [("table", "table/.ATTRIBUTES/table", "lookup/hash_table")]}])
    out = names(g.SerializeToString())
    assert display(out) == {"table/.ATTRIBUTES/table": "lookup/hash_table/table"}
    assert out["table/.ATTRIBUTES/table"].trainable is None


def test_names_used_twice_are_told_apart_by_their_object_paths():
    g = graph_of([
        {"children": [("acc", 1), ("auc", 2), ("w", 3)]},
        {"children": [("count", 4)]}, {"children": [("count", 5)]},
        var(f"w{V}", "w"), var(f"acc/count{V}", "count"), var(f"auc/count{V}", "count")])
    assert display(names(g.SerializeToString())) == {
        f"w{V}": "w", f"acc/count{V}": "acc/count", f"auc/count{V}": "auc/count"}


def test_full_names_used_twice_are_told_apart_by_their_keys():
    g = graph_of([{"children": [("a", 1), ("b", 2), ("c", 3)]},
                  var(f"a/count{V}", "metrics/count"), var(f"b/count{V}", "metrics/count"),
                  var(f"c/total{V}", "metrics/total")])
    assert display(names(g.SerializeToString())) == {f"a/count{V}": "a/count", f"b/count{V}": "b/count",
                                                     f"c/total{V}": "metrics/total"}


def test_other_attributes_used_twice_are_told_apart_by_their_whole_keys():
    g = graph_of([{"children": [("a", 1), ("b", 2)]},
                  {"attrs": [("table", "a/.ATTRIBUTES/table", "lookup")]},
                  {"attrs": [("table", "b/.ATTRIBUTES/table", "lookup")]}])
    assert display(names(g.SerializeToString())) == {"a/.ATTRIBUTES/table": "a/.ATTRIBUTES/table",
                                                     "b/.ATTRIBUTES/table": "b/.ATTRIBUTES/table"}


def test_the_first_breadth_first_path_names_an_object_and_bad_child_ids_are_ignored():
    g = graph_of([
        {"children": [("deep", 1), ("opt", 2), ("ghost", 9), ("neg", -1)]},
        {"children": [("inner", 3)]},
        {"children": [("v", 3), ("bad", 7)]},
        var(f"opt/v{V}", ""),
    ])
    assert display(names(g.SerializeToString())) == {f"opt/v{V}": "deep/inner"}
    assert variable_keys(g) == {1: f"deep{V}", 2: f"opt{V}", 3: f"deep/inner{V}"}


def test_variable_keys_escape_dots_and_slashes_as_tensorflow_does():
    assert escape("a.b/c") == "a..b.Sc"
    g = graph_of([{"children": [("layer.1", 1)]}, {"children": [("w/x", 2)]}, var("k")])
    assert variable_keys(g) == {1: f"layer..1{V}", 2: f"layer..1/w.Sx{V}"}


# -- slots and what trains ----------------------------------------------------------------

def _slotted(slot_links):
    return graph_of([
        {"children": [("kernel", 1), ("bias", 2), ("optimizer", 3), ("counter", 6)]},
        var(f"kernel{V}", "dense/kernel"), var(f"bias{V}", "dense/bias"),
        {"children": [("m0", 4), ("m1", 5)], "slots": slot_links},
        var(f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}", "x"),
        var(f"bias/.OPTIMIZER_SLOT/optimizer/m{V}", "y"),
        {"attrs": [("VARIABLE_VALUE", f"counter{V}", "counter"), ("extra", "counter/.ATTRIBUTES/x", "c")]},
    ])


def test_slot_variables_are_linked_named_after_their_variable_and_do_not_train():
    out = names(_slotted([(8, 5, "v"), (1, 4, "m"), (2, 9, "v"), (2, 5, "m")]).SerializeToString())
    k, b = f"kernel{V}", f"bias{V}"
    ks, bs = f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}", f"bias/.OPTIMIZER_SLOT/optimizer/m{V}"
    assert (out[ks].display_name, out[ks].slot_of, out[ks].slot_name) == ("dense/kernel/m", k, "m")
    assert (out[bs].display_name, out[bs].slot_of, out[bs].slot_name) == ("dense/bias/m", b, "m")
    assert out[k].slot_of is None and out[k].slot_name is None
    assert {key: n.trainable for key, n in out.items()} == {
        k: True, b: True, ks: False, bs: False, f"counter{V}": False, "counter/.ATTRIBUTES/x": None}
    assert trained_nodes(_slotted([(1, 4, "m"), (2, 5, "m")])) == {1, 2}


def test_without_an_optimizer_nothing_is_said_to_train():
    out = names(_slotted([]).SerializeToString())
    assert all(n.trainable is None for n in out.values())
    assert all(n.slot_of is None for n in out.values())


def _keras3():
    """As Keras 3 saves `Checkpoint(model=…, optimizer=adam)`: no slot_variables, the
    weights listed under the optimizer's `_trainable_variables`, slots named by path."""
    return graph_of([
        {"children": [("optimizer", 1), ("model", 7)]},
        {"children": [("_trainable_variables", 2), ("_variables", 5), ("_iterations", 8)]},
        {"children": [("0", 3), ("1", 4), ("9", 99)]},
        var(f"optimizer/_trainable_variables/0{V}", "sequential/hidden/kernel"),
        var(f"optimizer/_trainable_variables/1{V}", "sequential/hidden/bias"),
        {"children": [("0", 6), ("1", 9), ("2", 10), ("3", 11)]},
        var(f"optimizer/_variables/0{V}", "adam/sequential_hidden_kernel_momentum"),
        {"children": [("stats", 12)]},
        var(f"optimizer/_iterations{V}", "adam/iteration"),
        var(f"optimizer/_variables/1{V}", "adam/sequential_hidden_bias_velocity"),
        var(f"optimizer/_variables/2{V}", "adam/unknown_thing_velocity"),
        var(f"optimizer/_variables/3{V}", "adam/sequential_hidden_kernel_2x"),
        var(f"model/stats{V}", "sequential/bn/moving_mean"),
    ])


def test_keras_3_slots_are_linked_by_their_names_and_its_list_says_what_trains():
    g = _keras3()
    assert trained_nodes(g) & set(range(len(g.nodes))) == {3, 4}
    out = names(g.SerializeToString())
    kernel, bias = f"optimizer/_trainable_variables/0{V}", f"optimizer/_trainable_variables/1{V}"
    links = {n.display_name: (n.slot_of, n.slot_name) for n in out.values()}
    assert links == {
        "sequential/hidden/kernel": (None, None), "sequential/hidden/bias": (None, None),
        "adam/sequential_hidden_kernel_momentum": (kernel, "momentum"),
        "adam/sequential_hidden_bias_velocity": (bias, "velocity"),
        "adam/iteration": (None, None),
        "adam/unknown_thing_velocity": (None, None),          # no such variable
        "adam/sequential_hidden_kernel_2x": (None, None),     # "2x" is no slot name
        "sequential/bn/moving_mean": (None, None),
    }
    trains = {n.display_name for n in out.values() if n.trainable}
    assert trains == {"sequential/hidden/kernel", "sequential/hidden/bias"}
    assert out[f"model/stats{V}"].trainable is False


def test_keras_3_name_linking_needs_one_level_and_an_underscore():
    g = graph_of([
        {"children": [(str(i), i + 1) for i in range(6)]},
        var("k0", "dense_kernel"),                   # the variable "dense_kernel" (no "/")
        var("k1", "opt/dense_kernel_m"),             # a slot of it
        var("k2", "opt/deep/dense_kernel_m"),         # two levels: not a slot
        var("k3", "opt/nounderscore"),
        var("k4", "dense/kernel"),                   # flattens to "dense_kernel" too
        var("k5", "top"),
    ])
    out = names(g.SerializeToString())
    assert {k: (n.slot_of, n.slot_name) for k, n in out.items() if n.slot_of} == {"k1": ("k4", "m")}


def test_a_variable_named_like_its_own_slot_is_not_its_own_slot():
    g = graph_of([{"children": [("a", 1)]}, var("k", "opt/x_y")])
    # "opt/x_y" flattens to "opt_x_y"; its would-be variable "x" does not exist
    assert names(g.SerializeToString())["k"].slot_of is None
    g = graph_of([{"children": [("a", 1), ("b", 2)]}, var("k", "opt_x/y"), var("j", "opt/x_y")])
    out = names(g.SerializeToString())
    assert (out["j"].slot_of, out["k"].slot_of) == (None, None)


def test_an_out_of_range_trainable_list_is_ignored():
    g = graph_of([{"children": [("_trainable_variables", 5), ("w", 1)]}, var(f"w{V}", "w")])
    assert trained_nodes(g) == set()
    assert names(g.SerializeToString())[f"w{V}"].trainable is None


# -- rewrite ------------------------------------------------------------------------------

def test_rewrite_renames_drops_and_unlinks_the_slots_of_dropped_variables():
    g = _slotted([(1, 4, "m"), (2, 5, "m")])
    out = protos.TrackableObjectGraph.FromString(rewrite(g.SerializeToString(), {
        f"kernel{V}": "renamed/kernel",
        f"bias{V}": None,
        "counter/.ATTRIBUTES/x": None,
    }))
    attrs = [[(a.name, a.checkpoint_key, a.full_name) for a in n.attributes] for n in out.nodes]
    assert attrs == [[], [("VARIABLE_VALUE", "renamed/kernel", "dense/kernel")], [], [],
                     [("VARIABLE_VALUE", f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}", "x")],
                     [("VARIABLE_VALUE", f"bias/.OPTIMIZER_SLOT/optimizer/m{V}", "y")],
                     [("VARIABLE_VALUE", f"counter{V}", "counter")]]
    assert [(s.original_variable_node_id, s.slot_variable_node_id, s.slot_name)
            for s in out.nodes[3].slot_variables] == [(1, 4, "m")]
    # the objects and their paths stay
    assert [[(c.local_name, c.node_id) for c in n.children] for n in out.nodes] == \
        [[(c.local_name, c.node_id) for c in n.children] for n in g.nodes]
    # the renamed variable keeps its slot, under its new key
    assert names(out.SerializeToString())[f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}"].slot_of == "renamed/kernel"


def test_rewrite_drops_a_link_when_the_slot_loses_its_value_and_keeps_what_is_unnamed():
    g = _slotted([(1, 4, "m"), (2, 5, "m")])
    out = protos.TrackableObjectGraph.FromString(rewrite(g.SerializeToString(), {
        f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}": None}))
    assert [(s.original_variable_node_id, s.slot_variable_node_id) for s in out.nodes[3].slot_variables] == [(2, 5)]
    assert list(out.nodes[4].attributes) == []
    assert out.nodes[1].attributes[0].checkpoint_key == f"kernel{V}"
    # the attributes after a dropped one stay
    out = protos.TrackableObjectGraph.FromString(rewrite(g.SerializeToString(), {f"counter{V}": None}))
    assert [(a.name, a.checkpoint_key) for a in out.nodes[6].attributes] == [("extra", "counter/.ATTRIBUTES/x")]
    # dropping an attribute that is no value leaves the links alone
    out = protos.TrackableObjectGraph.FromString(rewrite(g.SerializeToString(), {
        "counter/.ATTRIBUTES/x": None}))
    assert len(out.nodes[3].slot_variables) == 2
    assert [a.name for a in out.nodes[6].attributes] == ["VARIABLE_VALUE"]
    assert rewrite(g.SerializeToString(), {}) == g.SerializeToString()



def test_where_the_object_graph_links_slots_no_link_is_guessed_by_name():
    g = _slotted([(1, 4, "m")])
    extra = graph_of([{}, var(f"w{V}", "w"), var(f"adam_w{V}", "adam/w_m")])
    g.nodes[0].children.add(local_name="w", node_id=len(g.nodes))
    g.nodes[0].children.add(local_name="adam_w", node_id=len(g.nodes) + 1)
    g.nodes.extend(extra.nodes[1:])
    out = names(g.SerializeToString())
    assert out[f"kernel/.OPTIMIZER_SLOT/optimizer/m{V}"].slot_of == f"kernel{V}"
    assert out[f"adam_w{V}"].slot_of is None
    alone = graph_of([{"children": [("w", 1), ("adam_w", 2)]}, var(f"w{V}", "w"), var(f"adam_w{V}", "adam/w_m")])
    assert names(alone.SerializeToString())[f"adam_w{V}"].slot_of == f"w{V}"


def test_child_ids_one_past_the_last_node_are_ignored():
    g = graph_of([{"children": [("w", 1), ("x", 2), ("_trainable_variables", 2)]}, var(f"w{V}", "w")])
    assert display(names(g.SerializeToString())) == {f"w{V}": "w"}
    assert trained_nodes(g) == set()


def test_what_trains_is_every_optimizers_say_together():
    g = graph_of([
        {"children": [("a", 1), ("b", 2), ("opt", 3), ("keras_opt", 4), ("c", 6)]},
        var(f"a{V}", "a"), var(f"b{V}", "b"),
        {"children": [("m", 6)], "slots": [(1, 6, "m")]},
        {"children": [("_trainable_variables", 5)]},
        {"children": [("0", 2)]},
        var(f"c{V}", "c"),
    ])
    assert trained_nodes(g) == {1, 2}
    # a tracked list that is the root itself: its children are what it lists
    g = graph_of([{"children": [("_trainable_variables", 0), ("w", 1)]}, var(f"w{V}", "w")])
    assert trained_nodes(g) == {0, 1}
