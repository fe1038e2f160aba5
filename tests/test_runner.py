"""Running tensors (app.runner, `main.py run`), with TensorFlow as the oracle: the values
must be the ones TensorFlow computed when the fixtures were written.

One worker process serves the whole module (it stays warm between tests, as it does in
the window), and the fixtures are built once per module."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from .conftest import ROOT

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from app import cli  # noqa: E402
from app.cli import run as cli_run  # noqa: E402
from app.formats.graph import Graph, load_graph  # noqa: E402
from app.runner import graphwalk  # noqa: E402
from app.runner.feeds import parse_feed  # noqa: E402
from app.runner.session import RunError, RunRequest, Session, plan  # noqa: E402
from app.runner.worker import Cancelled, RunnerClient  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402


# -- fixtures --------------------------------------------------------------------------

def _loop_graph(dest, v2: bool) -> dict:
    """A while loop that reads placeholders from inside its body, a variable, a
    PlaceholderWithDefault and a placeholder the output does not need. Control flow v1
    builds Enter/Merge/NextIteration cycles; v2 a While op with function bodies."""
    dest.mkdir(parents=True, exist_ok=True)
    was_v2 = tf.compat.v1.control_flow_v2_enabled()
    (tf.compat.v1.enable_control_flow_v2 if v2 else tf.compat.v1.disable_control_flow_v2)()
    try:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
            n = tf.compat.v1.placeholder(tf.int32, [], name="n")
            k = tf.compat.v1.placeholder_with_default(np.float32(0.5), [], name="k")
            unused = tf.compat.v1.placeholder(tf.float32, [], name="unused")
            scale = tf.compat.v1.Variable(1.5, name="scale", use_resource=False)

            def body(i, acc):
                return i + 1, acc * k + x * scale

            _, acc = tf.compat.v1.while_loop(lambda i, acc: i < n, body,
                                             [tf.constant(0), tf.zeros_like(x)])
            tf.identity(acc, name="out")
            tf.identity(unused * 2, name="other")
            saver = tf.compat.v1.train.Saver()
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                expected = sess.run("out:0", {x: [1.0, 2.0], n: 3})
                prefix = saver.save(sess, str(dest / "loop"))
            ops = {op.type for op in graph.get_operations()}
    finally:
        (tf.compat.v1.enable_control_flow_v2 if was_v2 else tf.compat.v1.disable_control_flow_v2)()
    return {"dir": dest, "prefix": prefix, "expected": expected, "ops": ops}


def _spin_graph(dest) -> str:
    """A graph-only .meta whose `count` runs a while loop `n` times: with n = 10**15 it
    runs for days, in C++, where nothing in-process can stop it."""
    dest.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        n = tf.compat.v1.placeholder(tf.int64, [], name="n")
        count = tf.compat.v1.while_loop(lambda i: i < n, lambda i: i + 1,
                                        [tf.constant(0, tf.int64)])
        tf.identity(count, name="count")
        tf.compat.v1.train.export_meta_graph(filename=str(dest / "spin.meta"))
    return str(dest / "spin.meta")


def _hostile_restore(dest) -> dict:
    """A checkpoint whose .meta makes the saver's restore op depend on a WriteFile: a
    graph that attacks at restore time, whatever is fetched."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "RESTORE_PWNED.txt"
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.Variable(4.0, name="v", use_resource=False)
        tf.multiply(v, 2.0, name="double")
        tf.io.write_file(str(target), "written at restore", name="sneaky_write")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(v.initializer)
            prefix = saver.save(sess, str(dest / "model"), write_meta_graph=False)
        meta = saver.export_meta_graph()
    restore_op = graphwalk.split_tensor(meta.saver_def.restore_op_name)[0]
    node = next(n for n in meta.graph_def.node if n.name == restore_op)
    node.input.append("^sneaky_write")
    (dest / "model.meta").write_bytes(meta.SerializeToString())
    return {"dir": dest, "prefix": prefix, "target": target}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("runner")
    return argparse.Namespace(
        seed=fx.seed_w1w2(root / "seed"),
        cnn=fx.cnn_epochs(root / "cnn", epochs=4, eval_dir=root / "cnn_eval"),
        saved=fx.saved_models(root / "saved"),
        graphs=fx.graphs(root / "graphs"),
        unsafe=fx.unsafe_graph(root / "unsafe"),
        loop_v1=_loop_graph(root / "loop_v1", v2=False),
        loop_v2=_loop_graph(root / "loop_v2", v2=True),
        spin=_spin_graph(root / "spin"),
        hostile=_hostile_restore(root / "hostile"),
    )


@pytest.fixture(scope="module")
def client():
    """One worker for the module, started at once so that TensorFlow is being imported
    in it while the fixtures are built."""
    statuses: list[str] = []
    c = RunnerClient(on_status=statuses.append)
    c.statuses = statuses
    c.start()
    yield c
    c.close()


def request(path, fetches, feeds=None, **kw) -> RunRequest:
    """The request for one checkpoint (the selected one unless `checkpoint=`)."""
    which = kw.pop("checkpoint", None)
    pl = plan(str(path), checkpoint=which)
    return pl.requests(fetches, feeds or {}, **kw)[0]


# -- the command line ------------------------------------------------------------------

def cli_main(monkeypatch, *argv) -> int:
    """app.cli.main in this process (fast); `monkeypatch` keeps call sites uniform."""
    return cli.main([str(a) for a in argv])


def cli_process(*args, cwd=ROOT):
    """`python main.py ARGS` as a whole process."""
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def test_seed_end_to_end_on_the_command_line(models):
    seed = models.seed
    proc = cli_process("run", seed.dir, "--fetch", "op_to_restore:0", "--feed", "w1=13",
                       "--feed", "w2:0=17", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # TensorFlow's start-up chatter is held back
    out = json.loads(proc.stdout)
    assert len(out["results"]) == 1
    result = out["results"][0]
    assert result["checkpoint"] == str(seed.checkpoint.prefix) and result["step"] == 1000
    assert result["fetches"] == {"op_to_restore:0": seed.expected_output} == {
        "op_to_restore:0": 60.0}
    assert result["seconds"] > 0


def test_cnn_every_epoch_matches_training_and_imports_once(models, monkeypatch, capsys):
    cnn = models.cnn
    sessions = []

    class Counted(Session):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            sessions.append(self)

    monkeypatch.setattr(cli_run, "Session", Counted)
    monkeypatch.chdir(cnn.eval_dir)  # the feeds name files relative to the working folder
    code = cli_main(monkeypatch, "run", cnn.dir, "--all-checkpoints", "--fetch", "accuracy",
                    "--fetch", "loss:0", "--feed", "x=@eval_x.npy", "--feed", "y=@eval_y.npy",
                    "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = json.loads(captured.out)["results"]
    assert [r["step"] for r in results] == cnn.epochs
    assert [r["checkpoint"] for r in results] == [str(c.prefix) for c in cnn.checkpoints]
    assert [r["fetches"]["accuracy"] for r in results] == cnn.accuracy
    assert [r["fetches"]["loss:0"] for r in results] == cnn.loss
    (session,) = sessions
    assert session.imports == 1 and session.restores == len(cnn.epochs)


def test_cli_human_output_and_one_checkpoint(models, monkeypatch, capsys):
    cnn = models.cnn
    code = cli_main(monkeypatch, "run", cnn.dir, "--checkpoint", "1", "--fetch", "conv/bias",
                    "--fetch", "logits", "--feed", f"x=@{cnn.eval_dir / 'eval_x.npy'}")
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("epoch-1 (step 1)")
    assert "conv/bias  float32 [4]" in out and "logits  float32 [32, 2]" in out
    # accuracy needs y: refused before TensorFlow runs anything, naming the placeholder
    code = cli_main(monkeypatch, "run", cnn.dir, "--fetch", "accuracy",
                    "--feed", f"x=@{cnn.eval_dir / 'eval_x.npy'}")
    err = capsys.readouterr().err
    assert code == 2 and "missing feed for placeholder y (int64, [?])" in err


@pytest.mark.parametrize("argv, message", [
    (["--fetch", "op_to_restor"], "no op 'op_to_restor' in the graph; similar: op_to_restore"),
    (["--fetch", "op_to_restore", "--feed", "w1=13"], "missing feed for placeholder w2"),
    (["--fetch", "op_to_restore", "--feed", "w1=13", "--feed", "w3=1"],
     "no placeholder or tensor 'w3'"),
    (["--fetch", "op_to_restore", "--feed", "w1='a'", "--feed", "w2=1"],
     "feed w1: expects float32 numbers, got strings"),
    (["--fetch", "op_to_restore", "--feed", "w1=np.ones(2)", "--feed", "w2=1"],
     "feed w1: attribute access (np.ones)"),
    (["--fetch", "op_to_restore", "--feed", "w1=zeros(10**12)", "--feed", "w2=1"],
     "more than the limit"),
    (["--fetch", "op_to_restore", "--feed", "w1=1", "--feed", "w1:0=2"], "fed twice"),
    (["--fetch", "op_to_restore", "--checkpoint", "7"], "no checkpoint '7'"),
    (["--signature", "serving_default"], "no signature 'serving_default'"),
    ([], "nothing to run"),
])
def test_cli_errors_name_the_feed_or_op(models, monkeypatch, capsys, argv, message):
    code = cli_main(monkeypatch, "run", models.seed.dir, *argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err, err


def test_cli_op_failure_exits_1_naming_the_op(models, monkeypatch, capsys):
    cnn = models.cnn
    code = cli_main(monkeypatch, "run", cnn.dir, "--checkpoint", "0", "--fetch", "loss",
                    "--feed", "x=zeros(2, 8, 8, 1)", "--feed", "y=[0, 7]")  # label 7 of 2
    err = capsys.readouterr().err
    assert code == 1
    assert "SparseSoftmaxCrossEntropyWithLogits" in err and "label value of 7" in err, err


def test_cli_signature_and_frozen_graph(models, monkeypatch, capsys):
    for info in (models.saved.tf1, models.saved.tf2):
        code = cli_main(monkeypatch, "run", info.dir, "--signature", info.signature,
                        "--feed", f"x={info.sample_input.tolist()}", "--json")
        captured = capsys.readouterr()
        assert code == 0, captured.err
        (result,) = json.loads(captured.out)["results"]
        assert set(result["fetches"]) == {info.output_name}
        np.testing.assert_allclose(result["fetches"][info.output_name], info.expected_output,
                                   rtol=1e-6)
    g = models.graphs
    code = cli_main(monkeypatch, "run", g.frozen_pb, "--fetch", "output",
                    "--feed", f"input={g.sample_input.tolist()}", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (result,) = json.loads(captured.out)["results"]
    assert result["checkpoint"] is None and result["step"] is None
    assert np.array_equal(np.float32(result["fetches"]["output"]), g.expected_output)


# -- safety ------------------------------------------------------------------------------

def test_unsafe_graph_is_refused_and_writes_nothing(models):
    u = models.unsafe
    proc = cli_process("run", u.dir, "--fetch", u.output, "--feed", "x=[1.0, 2.0]", "--json")
    assert proc.returncode == 2
    assert u.write_op in proc.stderr and "WriteFile" in proc.stderr
    assert str(u.target) in proc.stderr and "--allow-unsafe-ops" in proc.stderr
    assert proc.stdout == ""
    assert not u.target.exists()


def test_unsafe_ops_found_on_the_fetch_path(models):
    u = models.unsafe
    graph = load_graph(str(u.checkpoint.meta))
    path = graphwalk.analyze(graph, [u.output])
    assert [(op.name, op.op, op.risk, op.target) for op in path.unsafe] == [
        (u.write_op, "WriteFile", graphwalk.WRITES, str(u.target))]
    assert graphwalk.analyze(graph, ["scale"]).unsafe == []  # a path without it is clean
    assert graphwalk.restore_problems(graph) == []            # its saver is an honest one


def test_unsafe_ops_inside_functions_and_py_func():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")

        @tf.function
        def leaky(a):
            tf.io.write_file("/tmp/should-not-exist", "x")
            return a * 2

        tf.identity(leaky(x), name="through_function")
        tf.identity(tf.compat.v1.py_func(lambda a: a, [x], tf.float32), name="through_py")
        tf.identity(tf.strings.format("{}", x), name="harmless")
    g = Graph(graph.as_graph_def())
    inside = graphwalk.analyze(g, ["through_function"])
    assert [(u.op, u.risk) for u in inside.unsafe] == [("WriteFile", graphwalk.WRITES)]
    assert inside.unsafe[0].function is not None
    py = graphwalk.analyze(g, ["through_py"])
    assert [(u.op, u.risk) for u in py.unsafe] == [("PyFunc", graphwalk.CODE)]
    assert graphwalk.analyze(g, ["harmless"]).unsafe == []
    assert {p.name for p in py.placeholders} == {"x"}


def test_a_hostile_saver_is_refused_before_restoring(models, monkeypatch, capsys, client):
    h = models.hostile
    problems = graphwalk.restore_problems(load_graph(str(h["dir"] / "model.meta")))
    assert [(u.name, u.op) for u in problems] == [("sneaky_write", "WriteFile")]
    code = cli_main(monkeypatch, "run", h["dir"], "--fetch", "double")
    err = capsys.readouterr().err
    assert code == 2 and "sneaky_write (WriteFile)" in err
    with pytest.raises(RunError) as info:
        client.run(request(h["dir"], ["double"]))
    assert info.value.kind == "unsafe" and "sneaky_write" in str(info.value)
    assert not h["target"].exists()


def test_saved_model_restores_and_init_ops_are_recognised_as_safe(models):
    for info in (models.saved.tf1, models.saved.tf2):
        pl = plan(str(info.dir))
        assert pl.kind == "savedmodel" and graphwalk.loader_problems(pl.graph) == []


# -- placeholder discovery -------------------------------------------------------------

def test_placeholders_of_the_seed_and_the_cnn(models):
    seed = load_graph(str(models.seed.checkpoint.meta))
    path = graphwalk.analyze(seed, ["op_to_restore:0"])
    assert [(p.name, p.dtype, p.shape, p.optional) for p in path.placeholders] == [
        ("w1", "float32", None, False), ("w2", "float32", None, False)]
    cnn = load_graph(str(models.cnn.meta))
    assert [(p.name, p.dtype, p.shape) for p in graphwalk.analyze(cnn, ["accuracy"]).required] \
        == [("x", "float32", (None, 8, 8, 1)), ("y", "int64", (None,))]
    assert [p.name for p in graphwalk.analyze(cnn, ["logits:0"]).placeholders] == ["x"]
    # a fed tensor replaces what is behind it
    assert [p.name for p in graphwalk.analyze(cnn, ["accuracy"], fed=["logits:0"]).placeholders] \
        == ["y"]
    assert graphwalk.analyze(cnn, ["accuracy", "no_such_op:0"]).missing == ["no_such_op"]


@pytest.mark.parametrize("version", ["loop_v1", "loop_v2"])
def test_placeholders_through_a_while_loop(models, client, version):
    loop = getattr(models, version)
    if version == "loop_v1":
        assert "NextIteration" in loop["ops"]  # the graph really has cycles
    else:
        assert {"While", "StatelessWhile"} & loop["ops"]
    graph = load_graph(loop["prefix"] + ".meta")
    path = graphwalk.analyze(graph, ["out:0"])
    found = {p.name: p for p in path.placeholders}
    assert set(found) == {"x", "n", "k"}  # not "unused"
    assert found["k"].optional and not found["x"].optional and not found["n"].optional
    assert (found["x"].dtype, found["x"].shape) == ("float32", (None,))
    assert (found["n"].dtype, found["n"].shape) == ("int32", ())
    # TensorFlow agrees: the required ones are enough to run it, and give its value
    feeds = {p.name: parse_feed("[1.0, 2.0]" if p.name == "x" else "3") for p in path.required}
    result = client.run(request(loop["dir"], ["out:0"], feeds))
    np.testing.assert_array_equal(result.fetches["out:0"], loop["expected"])


# -- the worker ------------------------------------------------------------------------

def test_seed_through_the_worker(models, client):
    seed = models.seed
    client.statuses.clear()
    result = client.run(request(seed.dir, [seed.output], {"w1": parse_feed("13"),
                                                          "w2": parse_feed("17")}))
    assert result.fetches[seed.output] == np.float32(60.0)
    assert result.fetches[seed.output].dtype == np.float32
    assert result.step == 1000 and result.checkpoint == str(seed.checkpoint.prefix)
    assert "running" in client.statuses and "restoring step 1000" in client.statuses


def test_prepare_imports_and_restores_ahead_of_the_run(models, client):
    seed = models.seed
    req = request(seed.dir, [seed.output], {"w1": 1.0, "w2": 2.0})
    client.run(request(models.graphs.frozen_pb, ["output"],
                       {"input": models.graphs.sample_input}))  # another graph first
    client.statuses.clear()
    assert client.prepare(req) is None
    assert "importing the graph" in client.statuses and "restoring step 1000" in client.statuses
    result = client.run(req)
    assert not result.imported and not result.restored
    assert result.fetches[seed.output] == 6.0


def test_switching_checkpoints_restores_only(models, client):
    cnn = models.cnn
    feeds = {"x": cnn.eval_x, "y": cnn.eval_y}
    first = client.run(request(cnn.dir, ["accuracy", "loss"], feeds, checkpoint="0"))
    imports = first.imports
    seen = []
    for step in (2, 2, 1, 3, 0):
        r = client.run(request(cnn.dir, ["accuracy", "loss"], feeds, checkpoint=str(step)))
        seen.append(r.restored)
        assert r.fetches["accuracy"] == np.float32(cnn.accuracy[step])
        assert r.fetches["loss"] == np.float32(cnn.loss[step])
        assert r.imports == imports and not r.imported
    assert seen == [True, False, True, True, True]


def test_a_run_that_changes_variables_makes_the_next_run_restore(models, client):
    cnn = models.cnn
    feeds = {"x": cnn.eval_x, "y": cnn.eval_y}
    client.run(request(cnn.dir, ["accuracy"], feeds))
    client.run(request(cnn.dir, ["Adam"], feeds))  # one training step, in the session
    again = client.run(request(cnn.dir, ["accuracy", "loss"], feeds))
    assert again.restored
    assert again.fetches["loss"] == np.float32(cnn.loss[-1])


def test_errors_leave_the_session_usable(models, client):
    cnn, seed = models.cnn, models.seed
    cases = [
        (request(seed.dir, [seed.output], {"w1": 13.0}), "feed", "w2"),
        (request(cnn.dir, ["logits"], {"x": np.zeros((2, 8, 8), np.float32)}), "feed", "x"),
        (request(cnn.dir, ["accuracy"], {"x": cnn.eval_x, "y": cnn.eval_x}), "feed", "y"),
        (request(cnn.dir, ["logitz"], {"x": cnn.eval_x}), "fetch", "logitz"),
        (request(cnn.dir, ["logits:3"], {"x": cnn.eval_x}), "fetch", "logits:3"),
        (request(cnn.dir, ["loss"], {"x": cnn.eval_x[:2], "y": np.array([0, 9])}), "op", None),
    ]
    for req, kind, name in cases:
        with pytest.raises(RunError) as info:
            client.run(req)
        assert info.value.kind == kind, info.value
        if name:
            assert info.value.name == name and name.split(":")[0] in str(info.value)
    assert "SparseSoftmaxCrossEntropyWithLogits" in (info.value.name or "")
    ok = client.run(request(cnn.dir, ["accuracy"], {"x": cnn.eval_x, "y": cnn.eval_y}))
    assert ok.fetches["accuracy"] == np.float32(cnn.accuracy[-1]) and not ok.imported


def test_graph_with_variables_but_no_checkpoint(models, client):
    with pytest.raises(RunError) as info:
        client.run(request(models.graphs.graph_pb, ["output"],
                           {"input": models.graphs.sample_input}))
    assert info.value.kind == "checkpoint" and "restore a checkpoint" in str(info.value)


def test_saved_model_signatures_through_the_worker(models, client):
    for info in (models.saved.tf1, models.saved.tf2):
        result = client.run(request(info.dir, [], {info.input_name: info.sample_input},
                                    signature=info.signature))
        assert set(result.fetches) == {info.output_name}
        np.testing.assert_allclose(result.fetches[info.output_name], info.expected_output,
                                   rtol=1e-6)
    with pytest.raises(RunError) as e:
        client.run(request(models.saved.tf1.dir, [], {"z": info.sample_input},
                           signature="serving_default"))
    assert e.value.kind == "feed" and "no input 'z'" in str(e.value)


def test_frozen_graph_through_the_worker(models, client):
    g = models.graphs
    result = client.run(request(g.frozen_pb, [g.output_name], {g.input_name: g.sample_input}))
    np.testing.assert_array_equal(result.fetches[g.output_name], g.expected_output)


def test_the_worker_refuses_unsafe_ops_unless_allowed(models, client):
    u = models.unsafe
    feeds = {"x": np.array([1.0, 2.0], np.float32)}
    with pytest.raises(RunError) as info:
        client.run(request(u.dir, [u.output], feeds))
    assert info.value.kind == "unsafe" and info.value.ops and u.write_op in info.value.ops[0]
    assert not u.target.exists()
    # the check is what stood in the way: allowed, the graph does write its file
    try:
        result = client.run(request(u.dir, [u.output], feeds, allow_unsafe=True))
        np.testing.assert_array_equal(result.fetches[u.output], [3.0, 6.0])
        assert u.target.read_bytes() == u.payload
    finally:  # the fixture may be a cached one that later test runs reuse
        u.target.unlink(missing_ok=True)


def _wait_for(predicate, what: str, limit: float = 120.0) -> None:
    """Poll until `predicate()`; fail after `limit` seconds."""
    done = threading.Event()
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        done.wait(0.05)
    pytest.fail(f"gave up waiting for {what}")


def test_cancel_kills_a_run_that_cannot_stop_and_the_next_run_works(models, client):
    starts = client.starts
    outcome = {}

    def spin():
        try:
            outcome["result"] = client.run(request(models.spin, ["count"],
                                                   {"n": np.int64(10 ** 15)}))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = e

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    _wait_for(lambda: client.busy and client.status == "running", "the run to start")
    pid = client.pid
    assert client.cancel()
    thread.join(60)
    assert not thread.is_alive(), "cancel did not end the run"
    assert isinstance(outcome.get("error"), Cancelled)
    assert outcome["error"].kind == "cancelled"
    assert not client.busy and not client.cancel()  # nothing left to cancel

    seed = models.seed
    result = client.run(request(seed.dir, [seed.output], {"w1": 13.0, "w2": 17.0}))
    assert result.fetches[seed.output] == 60.0
    assert client.starts == starts + 1 and client.pid != pid
    assert result.imports == 1  # a fresh worker, a fresh session


def test_timeout_cancels_too(models, client):
    with pytest.raises(Cancelled, match="longer than"):
        client.run(request(models.spin, ["count"], {"n": np.int64(10 ** 15)}), timeout=0.5)
    assert not client.busy
