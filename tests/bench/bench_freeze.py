"""Benchmark freezing (`main.py freeze`) against the script a user writes for it with
TensorFlow: import_meta_graph, restore, convert_variables_to_constants, write.

Usage, from the repository root (builds ``out/vgg16`` with make_models.py when missing):

    .venv/bin/python tests/bench/bench_freeze.py [--repeat 2] [--out DIR]

Input: ``out/vgg16/`` — VGG-16's forward graph and a 553 MB checkpoint (make_models.py);
both sides freeze it for ``predictions``. Whole processes, spawn to reap, alternating
(ours, theirs, …). Ours does more: a worker process (so that the window can cancel), a
temporary file renamed into place, and the written graph parsed back and checked. The
peak memory is the largest of the process and the children it waited for (Linux's
wait4), i.e. the worker's for ours.

The two files must hold the same GraphDef (same nodes, same constants); otherwise the
script exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_readers import (DEFAULT_OUT, REPO, VENV_PYTHON, Measurement,  # noqa: E402
                           _ratio, _s, run_once)

HAND = r"""
import sys
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
meta, prefix, output, dest = sys.argv[1:5]
sess = tf.compat.v1.Session()
saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
saver.restore(sess, prefix)
frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
    sess, sess.graph.as_graph_def(), [output])
with open(dest, "wb") as f:
    f.write(frozen.SerializeToString())
"""

SAME = r"""
import sys
import tensorflow as tf
a, b = (tf.compat.v1.GraphDef() for _ in range(2))
a.ParseFromString(open(sys.argv[1], "rb").read())
b.ParseFromString(open(sys.argv[2], "rb").read())
key = lambda gd: sorted((n.name, n.SerializeToString(deterministic=True)) for n in gd.node)
same = key(a) == key(b)
print("same" if same else "different", len(a.node), len(b.node))
sys.exit(0 if same else 1)
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--python", default=VENV_PYTHON)
    args = p.parse_args()
    vgg = os.path.join(args.out, "vgg16")
    if not os.path.exists(os.path.join(vgg, "model.ckpt-1.index")):
        subprocess.run([args.python, os.path.join(HERE, "make_models.py"), "--only", "vgg16",
                        "--out", args.out], check=True)
    work = os.path.join(args.out, "freeze")
    os.makedirs(work, exist_ok=True)
    ours_pb, theirs_pb = os.path.join(work, "ours.pb"), os.path.join(work, "theirs.pb")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    prefix = os.path.join(vgg, "model.ckpt-1")
    ours_argv = [args.python, os.path.join(REPO, "main.py"), "freeze", vgg,
                 "--output", "predictions", "-o", ours_pb]
    theirs_argv = [args.python, "-c", HAND, prefix + ".meta", prefix, "predictions", theirs_pb]
    ours, theirs = Measurement("main.py freeze", []), Measurement("TensorFlow script", [])
    for _ in range(args.repeat):
        for m, argv in ((ours, ours_argv), (theirs, theirs_argv)):
            run = run_once(argv, env)
            if run.returncode != 0:
                print(f"{m.label} failed:\n{run.stderr[-2000:]}", file=sys.stderr)
                return 1
            m.runs.append(run)
    check = subprocess.run([args.python, "-c", SAME, ours_pb, theirs_pb], env=env,
                           capture_output=True, text=True)
    size = os.path.getsize(ours_pb) / 2 ** 20
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; medians of {args.repeat} runs each")
    print(f"Input: VGG-16, 138.4 M float32 in one {os.path.getsize(prefix + '.data-00000-of-00001') / 2**20:.0f} MiB "
          f"shard; frozen graph {size:.0f} MiB ({check.stdout.strip()})\n")
    print("| side | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    for m in (ours, theirs):
        print(f"| {m.label} | {_s(m.wall)} | {m.maxrss_mib:.0f} |")
    print(f"| ratio ours/theirs | {_s(_ratio(ours.wall, theirs.wall))} | "
          f"{_s(_ratio(ours.maxrss_mib, theirs.maxrss_mib))} |")
    for path in (ours_pb, theirs_pb):
        os.remove(path)
    return check.returncode


if __name__ == "__main__":
    sys.exit(main())
