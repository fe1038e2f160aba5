"""Benchmark the checkpoint writer against TensorFlow doing the same job (run on demand).

Usage, from the repository root:

    .venv/bin/python tests/bench/bench_edit.py [--out DIR] [--repeat N] [--scale S]

Two jobs, each done by `main.py` and by the script a user writes with TensorFlow today,
as child processes of this one, in the same run:

strip   a VGG-16 checkpoint saved with Adam (every weight plus its two slots, beta1/2
        power, global_step: ~1.66 GB) → the model's weights only.
        TensorFlow: `tf.train.load_checkpoint`, then a variable per kept tensor (fed
        through a placeholder, as BERT's and others' strip scripts do) and `Saver.save`.
average the last 5 checkpoints of a VGG-16 run (5 × 553 MB) → one checkpoint.
        TensorFlow: tensor2tensor's avg_checkpoints recipe (sums in float64 numpy
        arrays, then variables fed from them and `Saver.save`).

Figures: wall time and peak resident memory (ru_maxrss of each child, from wait4) and
their ratios ours/TensorFlow. Before timing, each input is read once so both sides start
from a warm page cache. `--scale 0.25` shrinks the fully connected layers (fc6, fc7) so
the checkpoints are about a quarter the size, for busy machines; the table says which.

Inputs are built once into `--out` (default tests/bench/out/edit/, git-ignored) by a
TensorFlow child process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(HERE, "out", "edit")

VGG_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def vgg_shapes(scale: float) -> dict[str, list[int]]:
    """TF-slim VGG-16's variables; `scale` shrinks fc6/fc7's width (1.0: the real one)."""
    shapes, in_ch = {}, 3
    for block, n, ch in VGG_BLOCKS:
        for i in range(1, n + 1):
            base = f"vgg_16/conv{block}/conv{block}_{i}"
            shapes[base + "/weights"] = [3, 3, in_ch, ch]
            shapes[base + "/biases"] = [ch]
            in_ch = ch
    width = max(8, int(4096 * scale))
    for name, k, cin, cout in (("fc6", 7, 512, width), ("fc7", 1, width, width), ("fc8", 1, width, 1000)):
        shapes[f"vgg_16/{name}/weights"] = [k, k, cin, cout]
        shapes[f"vgg_16/{name}/biases"] = [cout]
    return shapes


# -- building the inputs (TensorFlow, in a child) --------------------------------------------

def build(out: str, scale: float) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf1 = tf.compat.v1
    shapes = vgg_shapes(scale)
    for job in ("adam", "run"):
        folder = os.path.join(out, job)
        if os.path.isfile(os.path.join(folder, "checkpoint")):
            continue
        tmp = folder + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        graph = tf.Graph()
        with graph.as_default():
            def var(name, shape):
                return tf1.get_variable(name, shape, tf.float32,
                                        tf1.random_uniform_initializer(-0.05, 0.05), use_resource=False)
            variables = [var(n, s) for n, s in shapes.items()]
            step = tf1.train.get_or_create_global_step()
            if job == "adam":
                for n, s in shapes.items():
                    var(n + "/Adam", s)
                    var(n + "/Adam_1", s)
                var("beta1_power", [])
                var("beta2_power", [])
            saver = tf1.train.Saver(max_to_keep=None)
            with tf1.Session(graph=graph) as sess:
                init = tf1.global_variables_initializer()
                for i in range(1 if job == "adam" else 5):
                    sess.run(init)  # new random values for each checkpoint of the run
                    sess.run(step.assign(1000 * (i + 1)))
                    saver.save(sess, os.path.join(tmp, "model.ckpt"), global_step=1000 * (i + 1),
                               write_meta_graph=False)
        del variables
        os.rename(tmp, folder)


# -- the TensorFlow side (children) ------------------------------------------------------------

def _tf_save(values_of, names, dtypes, shapes, dst) -> None:
    """Variables fed from numpy through placeholders, saved by a Saver (no 2 GB graph limit)."""
    import tensorflow as tf
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        holders, variables = {}, {}
        for n in names:
            holders[n] = tf1.placeholder(dtypes[n], shapes[n])
            variables[n] = tf1.Variable(holders[n], name=n.replace(":", "_"), use_resource=False)
        saver = tf1.train.Saver(variables)
        with tf1.Session(graph=graph) as sess:
            for n in names:
                sess.run(variables[n].initializer, {holders[n]: values_of(n)})
            saver.save(sess, dst, write_meta_graph=False)


def tf_strip(src: str, dst: str) -> None:
    import re
    import tensorflow as tf
    reader = tf.train.load_checkpoint(src)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    slot = re.compile(r"/(Adam|Adam_\d+)$|(^|/)beta[12]_power$")
    keep = sorted(n for n in shapes if not slot.search(n))
    _tf_save(reader.get_tensor, keep, dtypes, shapes, dst)


def tf_average(run: str, n: int, dst: str) -> None:
    import numpy as np
    import tensorflow as tf
    import glob
    import re
    # the run's files (its state file lists only the latest when max_to_keep=None)
    found = glob.glob(os.path.join(run, "*.index"))
    paths = sorted((p[:-len(".index")] for p in found),
                   key=lambda p: int(re.search(r"-(\d+)$", p).group(1)))[-n:]
    readers = [tf.train.load_checkpoint(p) for p in paths]
    shapes = readers[-1].get_variable_to_shape_map()
    dtypes = readers[-1].get_variable_to_dtype_map()
    sums = {}
    for name in shapes:
        if dtypes[name].is_floating:
            acc = np.zeros(shapes[name], np.float64)
            for r in readers:
                acc += r.get_tensor(name)
            sums[name] = (acc / len(readers)).astype(dtypes[name].as_numpy_dtype)
        else:
            sums[name] = readers[-1].get_tensor(name)
    _tf_save(sums.__getitem__, sorted(shapes), dtypes, shapes, dst)


# -- measuring ---------------------------------------------------------------------------------

def measure(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one child process. Linux starts a child's peak
    RSS from its parent's (the forked copy counts): this process maps no tensors."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return wall, usage.ru_maxrss * 1024


def warm(folder: str) -> int:
    total = 0
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                while chunk := f.read(16 << 20):
                    total += len(chunk)
    return total


def same_tensors(a: str, b: str) -> bool:
    """Both results hold the same keys with the same bytes (checked with our reader, in a
    child: a child's peak RSS starts from its parent's, so this process stays small)."""
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "same", a, b],
                          capture_output=True, text=True)
    return proc.stdout.strip() == "True"


def _same_here(a: str, b: str) -> bool:
    sys.path.insert(0, ROOT)
    from app.formats.bundle import Bundle
    ra, rb = Bundle(a), Bundle(b)
    try:
        if set(ra.tensors) != set(rb.tensors):
            return False
        return all(ra.read(k).tobytes() == rb.read(k).tobytes() for k in ra.tensors)
    finally:
        ra.close()
        rb.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "build":
            build(rest[0], float(rest[1]))
        elif kind == "strip":
            tf_strip(*rest)
        elif kind == "average":
            tf_average(rest[0], int(rest[1]), rest[2])
        elif kind == "same":
            print(_same_here(*rest))
        return 0

    out = os.path.join(args.out, f"scale{args.scale:g}")
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([args.python, __file__, "--child", "build", out, str(args.scale)], check=True)
    print(f"inputs ready in {time.perf_counter() - t0:.0f} s ({out})", file=sys.stderr)
    me = [args.python, os.path.abspath(__file__), "--child"]
    main_py = [args.python, os.path.join(ROOT, "main.py")]
    adam = os.path.join(out, "adam")
    src = os.path.join(adam, "model.ckpt-1000")
    run = os.path.join(out, "run")
    results = os.path.join(out, "results")
    jobs = {
        "strip Adam": (
            warm(adam),
            lambda d: main_py + ["edit", src, "--strip-optimizer", "-o", d],
            lambda d: me + ["strip", src, d]),
        "average last 5": (
            warm(run),
            lambda d: main_py + ["average", run, "--last", "5", "-o", d],
            lambda d: me + ["average", run, "5", d]),
    }
    rows = []
    for name, (in_bytes, ours_cmd, tf_cmd) in jobs.items():
        best = {}
        for _ in range(args.repeat):
            for side, make in (("ours", ours_cmd), ("tf", tf_cmd)):
                folder = os.path.join(results, side)
                shutil.rmtree(folder, ignore_errors=True)
                wall, rss = measure(make(os.path.join(folder, "model.ckpt")))
                prev = best.get(side)
                best[side] = (min(wall, prev[0]), max(rss, prev[1])) if prev else (wall, rss)
        equal = same_tensors(os.path.join(results, "ours", "model.ckpt"),
                             os.path.join(results, "tf", "model.ckpt"))
        rows.append((name, in_bytes, best["ours"], best["tf"], equal))
        shutil.rmtree(results, ignore_errors=True)

    print(f"\nscale {args.scale:g} (1 = full VGG-16), best of {args.repeat}, warm page cache\n")
    print("| job | input | ours time | TF time | time ratio | ours peak RSS | TF peak RSS | "
          "memory ratio | same tensors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, in_bytes, ours, theirs, equal in rows:
        print(f"| {name} | {in_bytes / 1e6:.0f} MB | {ours[0]:.1f} s | {theirs[0]:.1f} s | "
              f"{ours[0] / theirs[0]:.2f} | {ours[1] / 1e6:.0f} MB | {theirs[1] / 1e6:.0f} MB | "
              f"{ours[1] / theirs[1]:.2f} | {equal} |")
    print(json.dumps({n: {"ours": o, "tf": t, "equal": e} for n, _, o, t, e in rows}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
