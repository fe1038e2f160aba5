"""The run service (app.runner.service), the one the command line and the Run panel share:
what a run needs, feeds, and the error policy over every checkpoint of a run. TensorFlow
is the oracle: values are the ones it computed while training, and a checkpoint the
service reports as broken is one TensorFlow cannot restore either.

Runs go through an in-process Session here (as on the command line); the Run panel's
tests cover the same service through a worker process."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from app.formats.graph import load_graph  # noqa: E402
from app.formats.model import open_path  # noqa: E402
from app.runner import service  # noqa: E402
from app.runner.feeds import parse_feed  # noqa: E402
from app.runner.session import RunError, RunRequest, Session, plan  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    cnn = fx.cnn_epochs(root / "cnn", epochs=3, eval_dir=root / "cnn_eval")
    # the same run with epoch 1's data cut short: its restore fails, the others' do not
    broken = root / "cnn_broken"
    shutil.copytree(cnn.dir, broken)
    data = next(broken.glob("epoch-1.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    return argparse.Namespace(seed=fx.seed_w1w2(root / "seed"), cnn=cnn, broken=broken,
                              saved=fx.saved_models(root / "saved"),
                              unsafe=fx.unsafe_graph(root / "unsafe"))


@pytest.fixture(scope="module")
def session():
    s = Session()
    yield s
    s.close()


class Counting:
    """A runner that counts its calls and hands each to the session."""

    def __init__(self, session):
        self.session = session
        self.calls = []

    def __call__(self, request):
        self.calls.append(request.checkpoint)
        return self.session.run(request)


def tf_can_restore(meta: str, prefix: str) -> bool:
    """TensorFlow's own answer: does import_meta_graph + Saver.restore work?"""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            try:
                saver.restore(sess, prefix)
                return True
            except (tf.errors.OpError, ValueError):
                return False


def cnn_feeds(cnn) -> dict:
    return {"x": cnn.eval_x, "y": cnn.eval_y}


# -- what a run needs ------------------------------------------------------------------

def test_needs_of_the_seed_feeds_and_missing_names(models):
    seed = models.seed
    graph = load_graph(str(seed.checkpoint.meta))
    needs = service.analyze(graph, [seed.output], kind="meta", restores=True)
    assert [(s.label, s.dtype, s.shape, s.optional) for s in needs.feeds] == [
        ("w1:0", "float32", None, False), ("w2:0", "float32", None, False)]
    assert [s.label for s in needs.unfed()] == ["w1:0", "w2:0"]
    assert [s.label for s in needs.unfed(["w1:0"])] == ["w2:0"]
    assert needs.unsafe == [] and needs.missing == []
    # given as typed on a command line: nothing left to feed, values fitted to float32
    given = {"w1": parse_feed("13"), "w2:0": parse_feed("17")}
    needs = service.analyze(graph, [seed.output], fed=given, kind="meta", restores=True)
    assert needs.unfed(given) == []
    fitted = needs.check(given)
    assert {k: (v.dtype, v.tolist()) for k, v in fitted.items()} == {
        "w1": (np.float32, 13.0), "w2:0": (np.float32, 17.0)}
    # names not in the graph, each with what is close
    needs = service.analyze(graph, ["op_to_restor"], fed=["w3"], kind="meta")
    assert [(e.kind, e.name) for e in needs.missing] == [("fetch", "op_to_restor"), ("feed", "w3")]
    assert "similar: op_to_restore" in str(needs.missing[0])
    with pytest.raises(RunError) as info:
        needs.check({})
    assert info.value is needs.missing[0]


def test_a_fed_tensor_cuts_what_is_behind_it_and_the_run_agrees(models, session):
    cnn = models.cnn
    pl = plan(str(cnn.dir), checkpoint="0")
    needs = service.analyze(pl.graph, ["accuracy"], kind=pl.kind, restores=pl.restores)
    assert [s.op for s in needs.unfed()] == ["x", "y"]
    logits = session.run(pl.requests(["logits:0"], {"x": cnn.eval_x})[0]).fetches["logits:0"]
    fed = {"logits:0": logits, "y": cnn.eval_y}
    needs = service.analyze(pl.graph, ["accuracy"], fed=fed, kind=pl.kind, restores=pl.restores)
    assert needs.unfed(fed) == []  # x is behind logits: not needed any more
    outcome = service.run_requests(pl.requests(["accuracy"], needs.check(fed)), session.run)
    (run,) = outcome.runs
    assert run.error is None and run.fetches["accuracy"] == np.float32(cnn.accuracy[0])


def test_a_feed_that_does_not_fit_its_placeholder_is_named(models):
    graph = load_graph(str(models.cnn.meta))
    feeds = {"x": parse_feed("zeros(2, 8, 8)")}
    needs = service.analyze(graph, ["logits"], fed=feeds)
    with pytest.raises(RunError) as info:
        needs.check(feeds)
    assert info.value.kind == "feed" and info.value.name == "x"
    assert "shape [2, 8, 8] does not fit the placeholder's [?, 8, 8, 1]" in str(info.value)


def test_signature_inputs_come_from_the_graph(models, session):
    for info in (models.saved.tf1, models.saved.tf2):
        pl = plan(str(info.dir), signature=info.signature)
        needs = service.analyze(pl.graph, [], signature=info.signature, kind=pl.kind,
                                restores=pl.restores)
        assert [(s.label, s.dtype, s.shape, s.optional) for s in needs.feeds] == [
            (info.input_name, "float32", (None, 3), False)]
        assert [s.label for s in needs.unfed()] == [info.input_name]
        assert needs.unsafe == []  # the loader's restore and init ops are its own
        feeds = needs.check({info.input_name: info.sample_input.tolist()})
        outcome = service.run_requests(pl.requests([], feeds, info.signature), session.run)
        (run,) = outcome.runs
        np.testing.assert_allclose(run.fetches[info.output_name], info.expected_output, rtol=1e-6)


def test_unsafe_ops_of_the_fetch_path_are_found(models):
    u = models.unsafe
    model = open_path(str(u.dir))
    graph = load_graph(str(u.checkpoint.meta))
    kind, restores = service.run_kind(model, graph)
    pl = plan(str(u.dir))
    assert (kind, restores) == (pl.kind, pl.restores) == ("meta", True)
    needs = service.analyze(graph, [u.output], kind=kind, restores=restores)
    assert [(op.name, op.op, op.target) for op in needs.unsafe] == [
        (u.write_op, "WriteFile", str(u.target))]
    assert service.analyze(graph, ["scale"], kind=kind, restores=restores).unsafe == []


def test_load_feeds_reads_files_and_names_the_one_that_fails(models, tmp_path):
    graph = load_graph(str(models.cnn.meta))
    specs = service.analyze(graph, ["accuracy"]).feeds
    eval_dir = models.cnn.eval_dir
    values = service.load_feeds(specs, {"x:0": "@eval_x.npy", "y:0": "@eval_y.npy"},
                                str(eval_dir))
    assert np.array_equal(values["x:0"], models.cnn.eval_x) and values["y:0"].dtype == np.int64
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(RunError) as info:
        service.load_feeds(specs, {"x:0": "@eval_x.npy", "y:0": f"@{tmp_path / 'words.npy'}"},
                           str(eval_dir))
    assert info.value.kind == "feed" and info.value.name == "y:0"
    assert str(info.value).startswith("feed y:0: ") and "expects int64" in str(info.value)
    with pytest.raises(RunError, match="feed x:0: no such file"):
        service.load_feeds(specs, {"x:0": "@nothing.npy"}, str(eval_dir))


# -- the error policy ----------------------------------------------------------------

def test_every_checkpoint_matches_training(models, session):
    cnn = models.cnn
    pl = plan(str(cnn.dir), all_checkpoints=True)
    seen = []
    outcome = service.run_requests(pl.requests(["accuracy", "loss"], cnn_feeds(cnn)),
                                   session.run, on_run=lambda r, d, t: seen.append((r.step, d, t)))
    assert outcome.error is None and not outcome.failed and not outcome.cancelled
    assert [r.step for r in outcome.runs] == cnn.epochs
    assert [r.fetches["accuracy"] for r in outcome.runs] == cnn.accuracy
    assert [r.fetches["loss"] for r in outcome.runs] == cnn.loss
    assert seen == [(s, i + 1, len(cnn.epochs)) for i, s in enumerate(cnn.epochs)]


def test_a_checkpoint_that_fails_to_restore_is_its_own_and_the_others_run(models, session):
    cnn, broken = models.cnn, models.broken
    pl = plan(str(broken), all_checkpoints=True)
    restorable = [tf_can_restore(str(broken / "epoch-0.meta"), prefix)
                  for prefix, _step, _meta in pl.checkpoints]
    assert restorable == [True, False, True]  # TensorFlow agrees which one is broken
    runner = Counting(session)
    outcome = service.run_requests(pl.requests(["accuracy"], cnn_feeds(cnn)), runner)
    assert outcome.error is None and len(runner.calls) == 3
    assert [r.step for r in outcome.runs] == [0, 1, 2]
    failed, = outcome.failed
    assert failed.step == 1 and failed.fetches is None
    assert failed.error.kind == "checkpoint" and "epoch-1" in str(failed.error)
    assert [r.fetches["accuracy"] for r in outcome.runs if r.error is None] == [
        cnn.accuracy[0], cnn.accuracy[2]]


def test_an_op_that_fails_on_the_values_fails_each_checkpoint_on_its_own(models, session):
    pl = plan(str(models.cnn.dir), all_checkpoints=True)
    feeds = {"x": np.zeros((2, 8, 8, 1), np.float32), "y": np.array([0, 7])}  # label 7 of 2
    runner = Counting(session)
    outcome = service.run_requests(pl.requests(["loss"], feeds), runner)
    assert outcome.error is None and len(runner.calls) == 3
    assert [r.error.kind for r in outcome.failed] == ["op"] * 3
    assert "label value of 7" in str(outcome.runs[0].error)


@pytest.mark.parametrize("fetch, feeds, kind", [
    ("logits", {"x": np.zeros((2, 8, 8), np.float32)}, "feed"),    # rank 3 for rank 4
    ("logits:5", {"x": np.zeros((2, 8, 8, 1), np.float32)}, "fetch"),  # no such output
])
def test_a_feed_or_fetch_error_stops_the_whole_run(models, session, fetch, feeds, kind):
    pl = plan(str(models.cnn.dir), all_checkpoints=True)
    requests = pl.requests([fetch], feeds)
    runner = Counting(session)
    outcome = service.run_requests(requests, runner, on_run=lambda *a: pytest.fail("ran"))
    assert outcome.error is not None and outcome.error.kind == kind and service.is_fatal(outcome.error)
    assert outcome.runs == [] and runner.calls == [requests[0].checkpoint]
    assert outcome.stopped_at is requests[0]


def test_cancelling_stops_before_the_next_checkpoint(models, session):
    cnn = models.cnn
    pl = plan(str(cnn.dir), all_checkpoints=True)
    done = []
    outcome = service.run_requests(pl.requests(["accuracy"], cnn_feeds(cnn)), session.run,
                                   should_stop=lambda: len(done) >= 1,
                                   on_run=lambda run, *_: done.append(run))
    assert outcome.cancelled and outcome.error is None
    assert [r.fetches["accuracy"] for r in outcome.runs] == [cnn.accuracy[0]]


def test_a_cancelled_runner_is_a_cancelled_run_not_a_failure():
    from app.runner.worker import Cancelled

    def runner(request):
        raise Cancelled()

    requests = [RunRequest("a.meta", "meta"), RunRequest("b.meta", "meta")]
    outcome = service.run_requests(requests, runner)
    assert outcome.cancelled and outcome.error is None and outcome.runs == []
