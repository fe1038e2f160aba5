"""Benchmark following a live run: how soon a new checkpoint is reported, and what an
idle watch costs.

Usage, from the repository root:

    .venv/bin/python tests/bench/bench_watch.py [--checkpoints 500] [--idle 30] [--landings 40]

A run folder of N checkpoints is made in a temporary folder by copying one small bundle
that TensorFlow writes (in a child process, so this one stays free of it).

- idle CPU: a `RunWatcher` polls the untouched folder every 0.2 s (as `watch` does) for
  `--idle` seconds; CPU time (user + system, `time.process_time`) over wall time. This
  includes the full re-stat of every file that the watcher makes every 5 s.
- detection latency: a thread lands `--landings` new checkpoints, one every ~0.3 s, as
  TensorFlow does (data under a temporary name then renamed, then the index); the time
  from the index's rename to the poll that reports it, at interval 0.2 s and 0.05 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from app.formats.live import RunWatcher  # noqa: E402

WRITE_ONE = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
ck = tf.train.Checkpoint(a=tf.Variable(tf.ones([1000])), b=tf.Variable(tf.ones([100, 10])))
ck.write(os.path.join(sys.argv[1], "ckpt-0"))
"""


def make_run(folder: str, n: int) -> None:
    subprocess.run([sys.executable, "-c", WRITE_ONE, folder], check=True)
    for i in range(1, n + 1):
        for f in ("data-00000-of-00001", "index"):
            shutil.copyfile(os.path.join(folder, f"ckpt-0.{f}"), os.path.join(folder, f"ckpt-{i}.{f}"))


def land(folder: str, step: int) -> float:
    """One checkpoint as TF1's Saver writes it; the time its index appears."""
    for f in ("data-00000-of-00001", "index"):
        tmp = os.path.join(folder, f"ckpt-{step}.{f}.tempstate{random.getrandbits(32)}")
        shutil.copyfile(os.path.join(folder, f"ckpt-0.{f}"), tmp)
        if f == "index":
            t = time.time()
        os.rename(tmp, os.path.join(folder, f"ckpt-{step}.{f}"))
    return t


def idle_cpu(folder: str, seconds: float, interval: float = 0.2) -> tuple[float, float]:
    watcher = RunWatcher(folder)
    t0 = time.perf_counter()
    first = len(watcher.poll())
    first_s = time.perf_counter() - t0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        assert watcher.poll() == []
        time.sleep(interval)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    print(f"  first poll: {first} checkpoints in {first_s * 1000:.0f} ms")
    return cpu, first_s


def latency(folder: str, landings: int, interval: float, start: int) -> list[float]:
    watcher = RunWatcher(folder)
    watcher.poll()
    landed: dict[int, float] = {}
    seen: dict[int, float] = {}

    def writer():
        for k in range(landings):
            time.sleep(0.3 + random.random() * 0.05)
            landed[start + k] = land(folder, start + k)

    th = threading.Thread(target=writer)
    th.start()
    while th.is_alive() or len(seen) < landings:
        for e in watcher.poll():
            if e.kind == "added":
                seen[e.step] = time.time()
        time.sleep(interval)
    th.join()
    return [seen[s] - landed[s] for s in landed]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoints", type=int, default=500)
    p.add_argument("--idle", type=float, default=30)
    p.add_argument("--landings", type=int, default=40)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        make_run(folder, a.checkpoints)
        print(f"run of {a.checkpoints + 1} checkpoints ({len(os.listdir(folder))} files)")
        cpu, _ = idle_cpu(folder, a.idle)
        print(f"  idle watch at 0.2 s: {cpu * 100:.3f}% of one core over {a.idle:.0f} s")
        start = a.checkpoints + 1
        for interval in (0.2, 0.05):
            lat = sorted(latency(folder, a.landings, interval, start))
            start += a.landings
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
            print(f"  detection at interval {interval} s: median {statistics.median(lat) * 1000:.0f} ms, "
                  f"p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms ({len(lat)} landings)")


if __name__ == "__main__":
    main()
