"""Benchmark Across the run growing by one checkpoint against computing it again.

Usage, from the repository root:

    .venv/bin/python tests/bench/bench_trend_growth.py [--steps 500] [--size 100000] [--repeat 5]

A child TensorFlow process writes a run of `--steps` + 1 checkpoints of one float32
variable of `--size` values (values shrinking a little each step, as weights under
weight decay, so the shared histogram range holds). Then, with the first `--steps` shown:

- whole: what the window did before for a new checkpoint, and still does when the range
  moves: open every checkpoint and compute the trend over all of them (no result cache);
- grown: `trend_growth.grow` with the new checkpoint only.

Also the growth on a run a tenth as long, to show that its cost does not follow the number
of steps already shown. Medians of `--repeat` runs, page cache warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from app.analysis import compare  # noqa: E402
from app.analysis.trend_growth import grow  # noqa: E402
from app.formats.model import open_checkpoint  # noqa: E402
from app.formats.run import Checkpoint  # noqa: E402

WRITE = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
folder, steps, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = np.random.RandomState(0).normal(size=[size]).astype(np.float32)
v = tf.Variable(base)
ck = tf.train.Checkpoint(v=v)
for step in range(1, steps + 1):
    v.assign(base * np.float32(1 - 1e-4 * step))
    ck.write(os.path.join(folder, f"ckpt-{step}"))
"""
KEY = "v/.ATTRIBUTES/VARIABLE_VALUE"


def _open(prefix):
    return open_checkpoint(Checkpoint(prefix, index=prefix + ".index"))


def _median(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(folder, steps, repeat):
    prefixes = [os.path.join(folder, f"ckpt-{s}") for s in range(1, steps + 2)]
    shown = compare.trend([(i + 1, _open(p)) for i, p in enumerate(prefixes[:steps])], KEY)

    def whole():
        readers = [(i + 1, _open(p)) for i, p in enumerate(prefixes)]
        compare.trend(readers, KEY)
        for _s, r in readers:
            r.close()

    def grown():
        reader = _open(prefixes[-1])
        assert grow(shown, KEY, [(steps + 1, reader)], _open) is not None
        reader.close()
    return _median(whole, repeat), _median(grown, repeat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", WRITE, tmp, str(args.steps + 1), str(args.size)], check=True)
        short = max(args.steps // 10, 2)
        with tempfile.TemporaryDirectory() as tmp2:
            for s in range(1, short + 2):   # the same bytes: a run a tenth as long
                for f in (f"ckpt-{s}.index", f"ckpt-{s}.data-00000-of-00001"):
                    os.link(os.path.join(tmp, f), os.path.join(tmp2, f))
            whole, grown = measure(tmp, args.steps, args.repeat)
            whole_s, grown_s = measure(tmp2, short, args.repeat)
    print(f"| {args.steps} steps shown, {args.size:,} float32 values each | seconds | vs whole |")
    print("|---|---:|---:|")
    print(f"| whole trend over {args.steps + 1} steps (before) | {whole:.3f} | 1× |")
    print(f"| grown by the new step | {grown:.4f} | 1/{whole / grown:.0f} |")
    print(f"| grown by the new step, {short} steps shown | {grown_s:.4f} | "
          f"(whole over {short + 1}: {whole_s:.3f}) |")
    print(f"\ngrowth time at {args.steps} steps / at {short} steps: {grown / grown_s:.2f} "
          "(1.0 = independent of the steps shown)")


if __name__ == "__main__":
    main()
