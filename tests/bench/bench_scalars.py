"""Benchmark loading a run's scalar summaries: app.formats.events against tensorboard's
EventAccumulator and TensorFlow's summary_iterator.

Usage, from the repository root:

    .venv/bin/python tests/bench/bench_scalars.py [--repeat 3] [--warmup 1] [--events 1000000]

The first run builds ``out/scalars-<N>/`` (git-ignored; reused later, ``--force`` rebuilds):
a run folder with ``train/`` (80% of the events: TF2-style scalars-plugin float32 tensors,
as ``tf.summary.scalar`` writes them) and ``eval/`` (20%: TF1 ``simple_value``s), four
tags each. The records are framed here directly, which takes seconds where a summary
writer takes many minutes; a sample of each file is checked against summary_iterator.

Each loader runs in its own child process (this one imports neither TensorFlow nor numpy,
so a child's peak memory is its own); wall time is spawn to reap, peak memory is
the child's ``ru_maxrss`` from ``os.wait4``; the table shows medians. Every child prints
how many points it loaded and their sum, which must agree.

- ours: ``read_scalars(run_folder)``: numpy arrays per (run, tag).
- EventAccumulator: one per run folder, ``size_guidance`` 0 (keep everything) for
  scalars *and* tensors: tensorboard turns every scalar into a scalars-plugin tensor on
  load, so with scalars alone it would keep a sample of 10 per tag. Then ``Reload()``
  and every tensor decoded to a float.
- summary_iterator: TensorFlow's own record reader and proto parsing in a loop, values
  into Python lists per tag.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(HERE, "out")
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
TRAIN_TAGS = ["loss", "accuracy", "learning_rate", "grad_norm"]
EVAL_TAGS = ["loss", "accuracy", "precision", "recall"]

OURS = r"""
import json, sys
from app.formats.events import read_scalars
r = read_scalars(sys.argv[1])
print(json.dumps({"points": sum(len(s) for s in r.series), "series": len(r.series),
                  "sum": sum(float(s.values.sum()) for s in r.series), "notes": len(r.notes)}))
"""

EVENT_ACCUMULATOR = r"""
import json, os, sys
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util
points = series = 0
total = 0.0
for run in ("train", "eval"):
    acc = ea.EventAccumulator(os.path.join(sys.argv[1], run), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in tags[ea.SCALARS]:
        values = [e.value for e in acc.Scalars(tag)]
        points += len(values); series += 1; total += sum(values)
    for tag in tags[ea.TENSORS]:
        values = [tensor_util.make_ndarray(e.tensor_proto).item() for e in acc.Tensors(tag)]
        points += len(values); series += 1; total += sum(values)
print(json.dumps({"points": points, "series": series, "sum": total}))
"""

SUMMARY_ITERATOR = r"""
import glob, json, os, sys
import tensorflow as tf
out = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "*tfevents*"))):
    run = os.path.basename(os.path.dirname(path))
    for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                x = value.simple_value
            elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                x = tf.make_ndarray(value.tensor).item()
            else:
                continue
            steps, walls, values = out.setdefault((run, value.tag), ([], [], []))
            steps.append(event.step); walls.append(event.wall_time); values.append(x)
print(json.dumps({"points": sum(len(v[0]) for v in out.values()), "series": len(out),
                  "sum": sum(sum(v[2]) for v in out.values())}))
"""


# --------------------------------------------------------------------------- the input

def _events(count: int, tags: list[str], tensors: bool, t0: float):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    scalars = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    yield event_pb2.Event(wall_time=t0, file_version="brain.Event:2")
    for i in range(count):
        step, tag = i // len(tags), tags[i % len(tags)]
        x = 1.0 / (1.0 + step * 1e-3) + (i % len(tags)) * 0.25
        if tensors:
            value = summary_pb2.Summary.Value(tag=tag, metadata=scalars)
            value.tensor.dtype = 1                      # DT_FLOAT, shape [], as TF2 writes it
            value.tensor.tensor_content = struct.pack("<f", x)
        else:
            value = summary_pb2.Summary.Value(tag=tag, simple_value=x)
        yield event_pb2.Event(wall_time=t0 + i * 0.01, step=step, summary=summary_pb2.Summary(value=[value]))


def build(folder: str, count: int) -> dict:
    """The run folder, built once; its info.json records what it holds."""
    info_path = os.path.join(folder, "info.json")
    if os.path.exists(info_path):
        with open(info_path) as f:
            return json.load(f)
    sys.path.insert(0, REPO)
    from tests.tf_fixtures import tf, write_event_records

    t = time.perf_counter()
    n_train = count * 4 // 5
    info = {"events": count, "files": {}}
    for run, n, tags, tensors, t0 in (("train", n_train, TRAIN_TAGS, True, 1.7e9),
                                      ("eval", count - n_train, EVAL_TAGS, False, 1.7e9 + 1)):
        os.makedirs(os.path.join(folder, run), exist_ok=True)
        path = os.path.join(folder, run, f"events.out.tfevents.{int(t0)}.bench.{run}")
        batch, first = [], True
        for event in _events(n, tags, tensors, t0):
            batch.append(event)
            if len(batch) == 50_000:
                write_event_records(path, batch, append=not first)
                batch, first = [], False
        write_event_records(path, batch, append=not first)
        # TensorFlow reads back what was meant, in the form it was meant.
        sample = list(_events(2000, tags, tensors, t0))
        for i, event in enumerate(tf.compat.v1.train.summary_iterator(path)):
            if i == len(sample):
                break
            if event.SerializeToString() != sample[i].SerializeToString():
                raise SystemExit(f"{path}: record {i} reads back differently in TensorFlow")
        info["files"][run] = {"path": os.path.relpath(path, folder), "bytes": os.path.getsize(path), "events": n}
    info["build_seconds"] = round(time.perf_counter() - t, 1)
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    return info


# --------------------------------------------------------------------------- measuring

def run_once(argv: list[str]) -> tuple[float, int, int, str, str]:
    """(wall s, peak RSS KiB, exit code, stdout, stderr) of one child started from the repo."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)   # the child's own rusage
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return (wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
                out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def measure(label: str, argv: list[str], repeat: int, warmup: int) -> dict:
    print(f"  {label} ...", end="", flush=True, file=sys.stderr)
    for _ in range(warmup):
        run_once(argv)
    runs = [run_once(argv) for _ in range(repeat)]
    bad = [r for r in runs if r[2] != 0]
    if bad:
        print(" FAILED", file=sys.stderr)
        return {"label": label, "error": "\n".join(bad[0][4].strip().splitlines()[-6:])}
    result = {"label": label, "wall": statistics.median(r[0] for r in runs),
              "rss": statistics.median(r[1] for r in runs) / 1024,
              "output": json.loads(runs[-1][3].strip().splitlines()[-1])}
    print(f" {result['wall']:.2f} s, {result['rss']:.0f} MiB", file=sys.stderr)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--python", default=VENV_PYTHON)
    ap.add_argument("--force", action="store_true", help="rebuild the input")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    folder = os.path.join(args.out, f"scalars-{args.events}")
    if args.force and os.path.exists(os.path.join(folder, "info.json")):
        import shutil
        shutil.rmtree(folder)
    if args.build_only:
        build(folder, args.events)
        return 0
    print(f"input: {folder}", file=sys.stderr)
    if not os.path.exists(os.path.join(folder, "info.json")):
        # In a child: this process stays small, as a forked child's ru_maxrss starts at
        # its parent's size.
        subprocess.run([args.python, os.path.abspath(__file__), "--build-only", "--events", str(args.events),
                        "--out", args.out], check=True)
    with open(os.path.join(folder, "info.json")) as f:
        info = json.load(f)
    size = sum(f["bytes"] for f in info["files"].values())

    results = [measure(label, [args.python, "-c", code, folder], args.repeat, args.warmup)
               for label, code in (("ours: read_scalars", OURS),
                                   ("EventAccumulator (size_guidance 0) + Reload", EVENT_ACCUMULATOR),
                                   ("summary_iterator loop", SUMMARY_ITERATOR))]
    ours = results[0]
    print(f"\n{info['events']:,} scalar events, {size / 2**20:.1f} MiB in 2 runs, 8 series; "
          f"medians of {args.repeat} whole-process runs\n")
    print("| loader | wall s | peak RSS MiB | wall / ours | RSS / ours | points | agrees |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['label']} | failed | | | | | {r['error'].splitlines()[-1] if r['error'] else ''} |")
            continue
        agrees = "error" not in ours and r["output"]["points"] == ours["output"]["points"] == info["events"] \
            and r["output"]["series"] == ours["output"]["series"] \
            and abs(r["output"]["sum"] - ours["output"]["sum"]) <= 1e-9 * abs(ours["output"]["sum"])
        ratio = (f"{r['wall'] / ours['wall']:.1f}x", f"{r['rss'] / ours['rss']:.1f}x") if "error" not in ours else ("", "")
        print(f"| {r['label']} | {r['wall']:.2f} | {r['rss']:.0f} | {ratio[0]} | {ratio[1]} | "
              f"{r['output']['points']:,} | {'yes' if agrees else 'NO'} |")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
