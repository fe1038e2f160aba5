"""Benchmark running tensors (`main.py run`, app.runner) against the same steps written by
hand with TensorFlow.

Usage, from the repository root, after ``tests/bench/make_models.py --only vgg16``:

    .venv/bin/python tests/bench/bench_runner.py [--repeat 3] [--warmup 1] [--runs 5]
                                                 [--only cold,warm,epochs]

Inputs (``out/`` as for the other benchmarks; built on first use, reused afterwards):

``out/vgg16/``              VGG-16's checkpoint and forward graph (make_models.py).
``out/runner/input.npy``    one random image, float32 [1, 224, 224, 3], fed to ``input``.
``out/cnn10/``              tests/tf_fixtures.cnn_epochs with ten epochs (ten checkpoints,
                            one .meta), its eval batch in ``out/cnn10_eval/``.

Cases:

cold    Whole process, spawn to reap: ``main.py run out/vgg16 --fetch predictions --feed
        input=@input.npy --json`` against a script doing the same by hand: import
        tensorflow, ``import_meta_graph``, ``restore``, ``sess.run`` on ``np.load``, the
        result printed as JSON. Target: ≤ 1.2× the script's wall time.
warm    In one process, after a first run: the median time of a further
        ``Session.run(request)`` against ``sess.run`` alone in the script (``--runs`` each).
        Target: ≤ 1.1×. For information: the two in turn inside one process on the same
        session (our overhead without the noise between processes), and the same through
        ``RunnerClient.run`` (the window's path: the session in a worker process, feeds and
        results pickled across a pipe).
epochs  Ten checkpoints: ``main.py run out/cnn10 --all-checkpoints --fetch accuracy --fetch
        loss --feed x=@… --feed y=@… --json`` against a hand-written loop (import the
        graph once, restore and run ten times), whole process. A separate child runs the
        same through ``Session`` and reports its counters: the graph must be imported once
        and restored ten times.

Both sides' values are compared (VGG predictions and the ten accuracies and losses must
be identical); a disagreement, a failed command or wrong counters make the script exit
with status 1. A missed target only shows as FAIL in the table. Children alternate
(ours, theirs, ours, …) so that drift on a shared machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_readers import (DEFAULT_OUT, REPO, VENV_PYTHON, Measurement,  # noqa: E402
                           _ratio, _s, _verdict, run_once)

VGG = "vgg16"
VGG_PREFIX = "model.ckpt-1"
CNN = "cnn10"
EPOCHS = 10

# -- child scripts ------------------------------------------------------------------------

# Our CLI, as a user runs it.
OURS_CLI = os.path.join(REPO, "main.py")

# The same steps by hand, as a user's script would take them.
HAND_COLD = r"""
import json, sys
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
meta, prefix, fetch, feed, path = sys.argv[1:6]
sess = tf.compat.v1.Session()
saver = tf.compat.v1.train.import_meta_graph(meta)
saver.restore(sess, prefix)
value = sess.run(fetch, {feed: np.load(path)})
json.dump({"fetches": {fetch: value.tolist()}}, sys.stdout)
"""

HAND_WARM = r"""
import json, statistics, sys, time
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
meta, prefix, fetch, feed, path, runs = sys.argv[1:7]
sess = tf.compat.v1.Session()
saver = tf.compat.v1.train.import_meta_graph(meta)
saver.restore(sess, prefix)
x = np.load(path)
sess.run(fetch, {feed: x})
times = []
for _ in range(int(runs)):
    t0 = time.perf_counter()
    sess.run(fetch, {feed: x})
    times.append(time.perf_counter() - t0)
print("BENCH_TIMING " + json.dumps({"warm": statistics.median(times)}), file=sys.stderr)
"""

OURS_WARM = r"""
import json, os, statistics, sys, time
sys.path.insert(0, os.getcwd())
from app.runner.feeds import parse_feed
from app.runner.session import Session, plan
from app.runner.worker import RunnerClient
model, fetch, feed, path, runs, how = sys.argv[1:7]
request = plan(model).requests([fetch], {feed: parse_feed("@" + path)})[0]
if how in ("session", "alternate"):
    runner = Session()
    call = runner.run
else:
    runner = RunnerClient()
    call = runner.run
call(request)
times, raw = [], []
for _ in range(int(runs)):
    t0 = time.perf_counter()
    call(request)
    times.append(time.perf_counter() - t0)
    if how == "alternate":  # the same session's sess.run, alone, in turn with ours
        x = request.feeds[feed]
        t0 = time.perf_counter()
        runner._sess.run(fetch + ":0", {feed + ":0": x})
        raw.append(time.perf_counter() - t0)
if how == "worker":
    runner.close()
timing = {"warm": statistics.median(times)}
if raw:
    timing["raw"] = statistics.median(raw)
print("BENCH_TIMING " + json.dumps(timing), file=sys.stderr)
"""

HAND_EPOCHS = r"""
import glob, json, os, sys
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
folder, eval_dir = sys.argv[1:3]
prefixes = sorted((p[:-len(".index")] for p in glob.glob(os.path.join(folder, "epoch-*.index"))),
                  key=lambda p: int(p.rsplit("-", 1)[1]))
feeds = {"x:0": np.load(os.path.join(eval_dir, "eval_x.npy")),
         "y:0": np.load(os.path.join(eval_dir, "eval_y.npy"))}
sess = tf.compat.v1.Session()
saver = tf.compat.v1.train.import_meta_graph(os.path.join(folder, "epoch-0.meta"))
results = []
for prefix in prefixes:
    saver.restore(sess, prefix)
    acc, loss = sess.run(["accuracy:0", "loss:0"], feeds)
    results.append({"checkpoint": prefix, "fetches": {"accuracy": float(acc), "loss": float(loss)}})
json.dump({"results": results}, sys.stdout)
"""

OURS_EPOCH_COUNTERS = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
from app.runner.feeds import parse_feed
from app.runner.session import Session, plan
folder, eval_dir = sys.argv[1:3]
feeds = {"x": parse_feed("@" + os.path.join(eval_dir, "eval_x.npy")),
         "y": parse_feed("@" + os.path.join(eval_dir, "eval_y.npy"))}
session = Session()
for request in plan(folder, all_checkpoints=True).requests(["accuracy", "loss"], feeds):
    session.run(request)
print("BENCH_TIMING " + json.dumps({"imports": session.imports, "restores": session.restores}),
      file=sys.stderr)
"""

MAKE_INPUT = r"""
import sys
import numpy as np
np.save(sys.argv[1], np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32))
"""

MAKE_CNN = r"""
import os, sys
sys.path.insert(0, os.getcwd())
from tests import tf_fixtures as fx
fx.cnn_epochs(sys.argv[1], epochs=int(sys.argv[3]), eval_dir=sys.argv[2])
"""


# -- measuring ---------------------------------------------------------------------------

def alternate(pairs: list[tuple[str, list[str]]], env, repeat: int, warmup: int):
    """Run the commands of `pairs` in turn, `warmup` rounds untimed, then `repeat` rounds;
    a Measurement for each."""
    for label, _argv in pairs:
        print(f"  {label} ...", file=sys.stderr)
    for _ in range(warmup):
        for _label, argv in pairs:
            run_once(argv, env)
    runs: dict[str, list] = {label: [] for label, _ in pairs}
    for _ in range(repeat):
        for label, argv in pairs:
            runs[label].append(run_once(argv, env))
    out = [Measurement(label, runs[label]) for label, _ in pairs]
    for m in out:
        state = f"{m.wall:.2f} s" if m.ok else "FAILED"
        warm = m.internal("warm")
        print(f"  {m.label}: {state}" + (f", warm run {warm:.3f} s" if warm else ""),
              file=sys.stderr)
    return out


def _json(m: Measurement) -> dict | None:
    try:
        return json.loads(m.last.stdout)
    except (ValueError, AttributeError):
        return None


def _max_abs_diff(a, b) -> float:
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return float("inf")
        return max((_max_abs_diff(x, y) for x, y in zip(a, b)), default=0.0)
    return abs(float(a) - float(b))


def _ensure_inputs(out: str, python: str, env) -> tuple[str, str, str]:
    vgg = os.path.join(out, VGG)
    if not os.path.isfile(os.path.join(vgg, VGG_PREFIX + ".index")):
        sys.exit(f"{vgg} is missing: run tests/bench/make_models.py --only vgg16 first")
    image = os.path.join(out, "runner", "input.npy")
    if not os.path.isfile(image):
        os.makedirs(os.path.dirname(image), exist_ok=True)
        subprocess.run([python, "-c", MAKE_INPUT, image], check=True, env=env, cwd=REPO)
    cnn = os.path.join(out, CNN)
    if not os.path.isfile(os.path.join(cnn, f"epoch-{EPOCHS - 1}.index")):
        print(f"  building {cnn} (ten epochs of a small CNN) ...", file=sys.stderr)
        subprocess.run([python, "-c", MAKE_CNN, cnn, cnn + "_eval", str(EPOCHS)], check=True,
                       env=env, cwd=REPO)
    return vgg, image, cnn


# -- report ------------------------------------------------------------------------------

def _row(case: str, ours_label: str, ours: float | None, theirs_label: str,
         theirs: float | None, limit: float | None) -> str:
    r = _ratio(ours, theirs)
    ratio = "n/a" if r is None else f"{r:.3f}"
    target = f"≤ {limit:g}×" if limit else "—"
    verdict = _verdict(r, limit) if limit else "(info)"
    return (f"| {case} | {ours_label}: {_s(ours)} s | {theirs_label}: {_s(theirs)} s | "
            f"{ratio} | {target} | {verdict} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed processes per side")
    ap.add_argument("--warmup", type=int, default=1, help="untimed processes per side first")
    ap.add_argument("--runs", type=int, default=5, help="warm runs timed inside a process")
    ap.add_argument("--only", default="cold,warm,epochs")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--python", default=VENV_PYTHON if os.path.exists(VENV_PYTHON)
                    else sys.executable)
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    py = args.python
    vgg, image, cnn = _ensure_inputs(args.out, py, env)
    meta = os.path.join(vgg, VGG_PREFIX + ".meta")
    prefix = os.path.join(vgg, VGG_PREFIX)
    rows, failures = [], []

    if "cold" in only:
        print("cold: run-to-result on VGG-16, whole process", file=sys.stderr)
        ours, hand = alternate([
            ("ours", [py, OURS_CLI, "run", vgg, "--fetch", "predictions",
                      "--feed", f"input=@{image}", "--json"]),
            ("by hand", [py, "-c", HAND_COLD, meta, prefix, "predictions:0", "input:0", image]),
        ], env, args.repeat, args.warmup)
        for m in (ours, hand):
            if not m.ok:
                failures.append(m.error())
        a, b = _json(ours), _json(hand)
        if ours.ok and hand.ok:
            if a is None or b is None:
                failures.append("cold: a side printed no JSON")
            else:
                d = _max_abs_diff(a["results"][0]["fetches"]["predictions"],
                                  b["fetches"]["predictions:0"])
                print(f"  predictions: max |ours - by hand| = {d:g}", file=sys.stderr)
                if d != 0:
                    failures.append(f"cold: the predictions differ (max |diff| {d:g})")
        rows.append(_row("cold: import TF + graph + restore + run (VGG-16)",
                         "`main.py run`", ours.wall if ours.ok else None,
                         "script", hand.wall if hand.ok else None, 1.2))

    if "warm" in only:
        print(f"warm: a further run on the warm session, median of {args.runs}",
              file=sys.stderr)
        session, worker, hand, both = alternate([
            ("Session.run", [py, "-c", OURS_WARM, vgg, "predictions", "input", image,
                             str(args.runs), "session"]),
            ("RunnerClient.run", [py, "-c", OURS_WARM, vgg, "predictions", "input", image,
                                  str(args.runs), "worker"]),
            ("sess.run", [py, "-c", HAND_WARM, meta, prefix, "predictions:0", "input:0", image,
                          str(args.runs)]),
            ("Session.run / sess.run in turn", [py, "-c", OURS_WARM, vgg, "predictions",
                                                "input", image, str(args.runs), "alternate"]),
        ], env, args.repeat, 0)
        for m in (session, worker, hand, both):
            if not m.ok:
                failures.append(m.error())
        t_hand = hand.internal("warm") if hand.ok else None
        rows.append(_row("warm: second run (VGG-16), separate processes", "`Session.run`",
                         session.internal("warm") if session.ok else None,
                         "`sess.run`", t_hand, 1.1))
        rows.append(_row("warm: the same, in turn in one process (our overhead alone)",
                         "`Session.run`", both.internal("warm") if both.ok else None,
                         "its `sess.run`", both.internal("raw") if both.ok else None, None))
        rows.append(_row("warm, through the worker process", "`RunnerClient.run`",
                         worker.internal("warm") if worker.ok else None,
                         "`sess.run`", t_hand, None))

    if "epochs" in only:
        print("epochs: ten checkpoints of a small CNN, whole process", file=sys.stderr)
        eval_dir = cnn + "_eval"
        ours, hand = alternate([
            ("ours", [py, OURS_CLI, "run", cnn, "--all-checkpoints", "--fetch",
                      "accuracy", "--fetch", "loss", "--feed",
                      f"x=@{os.path.join(eval_dir, 'eval_x.npy')}", "--feed",
                      f"y=@{os.path.join(eval_dir, 'eval_y.npy')}", "--json"]),
            ("by hand", [py, "-c", HAND_EPOCHS, cnn, eval_dir]),
        ], env, args.repeat, args.warmup)
        for m in (ours, hand):
            if not m.ok:
                failures.append(m.error())
        counters = run_once([py, "-c", OURS_EPOCH_COUNTERS, cnn, eval_dir], env)
        imports = counters.internal.get("imports")
        restores = counters.internal.get("restores")
        print(f"  Session: {imports} graph import(s), {restores} restore(s)", file=sys.stderr)
        if counters.returncode != 0 or imports != 1 or restores != EPOCHS:
            failures.append(f"epochs: expected 1 import and {EPOCHS} restores, got {imports} "
                            f"and {restores} (exit {counters.returncode})\n{counters.stderr[-800:]}")
        a, b = _json(ours), _json(hand)
        if ours.ok and hand.ok:
            mine = [r["fetches"] for r in (a or {}).get("results", [])]
            theirs = [r["fetches"] for r in (b or {}).get("results", [])]
            if len(mine) != EPOCHS or mine != theirs:
                failures.append("epochs: accuracy/loss differ from the hand-written loop")
        rows.append(_row(f"{EPOCHS} epochs, `--all-checkpoints` ({imports} import, "
                         f"{restores} restores)", "`main.py run`", ours.wall if ours.ok else None,
                         "script", hand.wall if hand.ok else None, None))

    print()
    print(f"Runner benchmark — {platform.node()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; whole-process cases: median of "
          f"{args.repeat} (after {args.warmup} warm-up), warm runs: median of {args.runs} "
          f"per process, median over {args.repeat} processes")
    print()
    print("| case | ours | by hand | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    if failures:
        print("\nproblems:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
