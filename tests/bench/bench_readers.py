"""Benchmark our readers (``python main.py inspect/stats``) against TensorFlow.

Usage, from the repository root, after ``tests/bench/make_models.py``:

    .venv/bin/python tests/bench/bench_readers.py [--repeat 3] [--warmup 1] [--only a,b,c]

Every measured command runs in its own subprocess.  Its wall time is taken around
spawn-and-reap in this process, and its peak resident memory comes from the rusage that
``os.wait4`` returns for exactly that child (``ru_maxrss``).  Each command is run
``--warmup`` times untimed (so both sides see a warm page cache), then ``--repeat``
times; the table shows medians.

Cases (target = our time / TensorFlow's time, whole process):

a. ``main.py inspect out/vgg16 --json``            vs ``tf.train.list_variables``      (<= 1/4)
b. ``main.py inspect out/bigraph/model.meta --json`` vs ``import_meta_graph`` in a fresh
   graph                                                                           (<= 1/10)
c. ``main.py stats out/vgg16 vgg_16/fc6/weights --json`` vs ``load_checkpoint`` +
   ``get_tensor`` + numpy statistics and histogram         (<= 1/3 time, <= 1/3 peak memory)

A second table gives the in-process ("compute-only") times: each TensorFlow child times
its own work after ``import tensorflow``; our side runs ``main.main(argv)`` in a child
that first imports ``main``, numpy and the ``app`` reader modules, and times only the
call.  For case c the statistics printed by both sides are compared as well.

This process never imports TensorFlow or numpy, so spawned children start small and
their ``ru_maxrss`` reflects their own work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(HERE, "out")
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")

STATS_VARIABLE = "vgg_16/fc6/weights"
TIMING_MARK = "BENCH_TIMING "  # children report internal timings on stderr after this

# --------------------------------------------------------------------------- child scripts
# Each script times itself with perf_counter and writes
#   BENCH_TIMING {"import": <s>, "work": <s>}
# as the last stderr line.  "import" is `import tensorflow` (or our module imports),
# "work" is everything after it.

TF_LIST_VARIABLES = r"""
import json, sys, time
t0 = time.perf_counter()
import tensorflow as tf
t1 = time.perf_counter()
names = tf.train.list_variables(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"variables": len(names)}))
sys.stderr.write("BENCH_TIMING " + json.dumps({"import": t1 - t0, "work": t2 - t1}) + "\n")
"""

TF_IMPORT_META_GRAPH = r"""
import json, sys, time
t0 = time.perf_counter()
import tensorflow as tf
t1 = time.perf_counter()
graph = tf.Graph()
with graph.as_default():
    tf.compat.v1.train.import_meta_graph(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"nodes": len(graph.get_operations())}))
sys.stderr.write("BENCH_TIMING " + json.dumps({"import": t1 - t0, "work": t2 - t1}) + "\n")
"""

# The numpy reference for `stats`.  It follows the obvious recipe (read the whole tensor,
# np.histogram over the finite values) but accumulates mean, std and norm in float64
# chunk by chunk: float32 accumulation over 1e8 values is not accurate enough for the
# agreement check, and a full-size float64 temporary would inflate TensorFlow's peak
# memory and make our memory target look easier than it is.
TF_STATS = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import tensorflow as tf
t1 = time.perf_counter()
path, name, bins = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = tf.train.load_checkpoint(path)
a = reader.get_tensor(name).ravel()
t2 = time.perf_counter()

zeros = int(np.count_nonzero(a == 0))
nan = int(np.count_nonzero(np.isnan(a)))
inf = int(np.count_nonzero(np.isinf(a)))
finite = a[np.isfinite(a)]
n = finite.size
mean = float(finite.mean(dtype=np.float64))
sq_dev = sq_sum = 0.0
for i in range(0, n, 1 << 22):
    chunk = finite[i:i + (1 << 22)].astype(np.float64)
    sq_sum += float(np.dot(chunk, chunk))
    chunk -= mean
    sq_dev += float(np.dot(chunk, chunk))
counts, edges = np.histogram(finite, bins=bins)
result = {
    "min": float(finite.min()), "max": float(finite.max()),
    "mean": mean, "std": (sq_dev / n) ** 0.5, "norm": sq_sum ** 0.5,
    "zeros": zeros, "nan": nan, "inf": inf, "size": int(a.size),
    "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
}
t3 = time.perf_counter()
print(json.dumps(result))
sys.stderr.write("BENCH_TIMING " + json.dumps(
    {"import": t1 - t0, "work": t3 - t1, "load": t2 - t1, "stats": t3 - t2}) + "\n")
"""

# Runs our CLI in-process and times only the command itself: `main`, numpy and the
# reader packages are imported first (main.py imports its CLI lazily).
OURS_IN_PROCESS = r"""
import contextlib, importlib, io, json, os, pkgutil, sys, time
sys.path.insert(0, os.getcwd())
t0 = time.perf_counter()
import numpy
import main
for package in ("app.cli", "app.formats", "app.analysis"):
    try:
        module = importlib.import_module(package)
    except Exception:
        continue
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), package + "."):
        try:
            importlib.import_module(info.name)
        except Exception:
            pass
t1 = time.perf_counter()
try:
    code = main.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
t2 = time.perf_counter()
sys.stdout.flush()
sys.stderr.write("BENCH_TIMING " + json.dumps({"import": t1 - t0, "work": t2 - t1}) + "\n")
sys.exit(code if isinstance(code, int) else (0 if code is None else 1))
"""


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    wall: float          # seconds, spawn to reap
    maxrss_kib: int      # peak resident set size of the child (Linux: KiB)
    returncode: int
    stdout: str
    stderr: str
    internal: dict = field(default_factory=dict)  # the child's BENCH_TIMING, if any


def run_once(argv: list[str], env: dict[str, str]) -> Run:
    """Run one command from the repository root; collect its time, memory and output."""
    # Output goes to temporary files, not pipes: we reap the child with os.wait4 (to get
    # its own rusage) and must not let it block on a full pipe meanwhile.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    internal = {}
    for line in reversed(stderr.splitlines()):
        if line.startswith(TIMING_MARK):
            internal = json.loads(line[len(TIMING_MARK):])
            break
    return Run(wall, usage.ru_maxrss, proc.returncode, stdout, stderr, internal)


@dataclass
class Measurement:
    label: str
    runs: list[Run]

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.returncode == 0 for r in self.runs)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def maxrss_mib(self) -> float:
        return statistics.median(r.maxrss_kib for r in self.runs) / 1024

    def internal(self, key: str) -> float | None:
        values = [r.internal[key] for r in self.runs if key in r.internal]
        return statistics.median(values) if len(values) == len(self.runs) else None

    @property
    def last(self) -> Run:
        return self.runs[-1]

    def error(self) -> str:
        bad = next(r for r in self.runs if r.returncode != 0)
        tail = "\n".join(bad.stderr.strip().splitlines()[-8:])
        return f"{self.label}: exit code {bad.returncode}\n{tail}"


def measure(label: str, argv: list[str], env: dict[str, str], repeat: int,
            warmup: int) -> Measurement:
    print(f"  {label} ...", end="", flush=True, file=sys.stderr)
    for _ in range(warmup):
        if run_once(argv, env).returncode != 0:
            break  # the timed runs will fail too and report it
    runs = []
    for _ in range(repeat):
        runs.append(run_once(argv, env))
        if runs[-1].returncode != 0:
            break
    m = Measurement(label, runs)
    print(f" {m.wall:.2f} s, {m.maxrss_mib:.0f} MiB" if m.ok else " FAILED",
          file=sys.stderr)
    return m


# --------------------------------------------------------------------------- checks


def check_inspect_output(m: Measurement) -> str | None:
    """The inspect contract: one JSON object with checkpoints, variables and graph."""
    try:
        doc = json.loads(m.last.stdout)
    except ValueError as exc:
        return f"{m.label}: output is not one JSON object ({exc})"
    missing = [k for k in ("checkpoints", "variables", "graph") if k not in doc]
    return f"{m.label}: JSON lacks {', '.join(missing)}" if missing else None


def _rel(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def compare_stats(ours: dict, ref: dict) -> tuple[bool, list[str]]:
    """Compare our stats JSON with the numpy reference; return (agree, report lines)."""
    lines, agree = [], True

    def check(label: str, good: bool, detail: str) -> None:
        nonlocal agree
        agree &= good
        lines.append(f"- {label}: {'ok' if good else 'MISMATCH'} ({detail})")

    for key in ("min", "max"):
        check(key, float(ours[key]) == ref[key], f"ours {ours[key]!r}, numpy {ref[key]!r}")
    for key in ("mean", "std", "norm"):
        rel = _rel(float(ours[key]), ref[key])
        check(key, rel <= 1e-6, f"relative difference {rel:.2e}, limit 1e-6")
    for key in ("zeros", "nan", "inf", "size"):
        check(key, int(ours[key]) == ref[key], f"ours {ours[key]}, numpy {ref[key]}")
    o_counts, r_counts = ours["histogram"]["counts"], ref["histogram"]["counts"]
    differing = sum(1 for a, b in zip(o_counts, r_counts) if a != b)
    check("histogram counts", list(o_counts) == list(r_counts),
          f"{len(o_counts)} vs {len(r_counts)} bins, {differing} differ")
    # Edges are informative only: the contract is about the counts.
    o_edges, r_edges = ours["histogram"]["edges"], ref["histogram"]["edges"]
    if len(o_edges) == len(r_edges):
        worst = max(_rel(float(a), b) for a, b in zip(o_edges, r_edges))
        lines.append(f"- histogram edges (informative): max relative difference {worst:.2e}")
    return agree, lines


# --------------------------------------------------------------------------- report


def _s(x: float | None) -> str:
    return "n/a" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def _frac(r: float | None) -> str:
    if r is None:
        return "n/a"
    if r <= 0:
        return "0"
    return f"{r:.3f} (1/{1 / r:.1f})" if r < 1 else f"{r:.2f} ({r:.1f}x slower)"


def _verdict(r: float | None, limit: float) -> str:
    return "n/a" if r is None else ("PASS" if r <= limit else "FAIL")


@dataclass
class Case:
    key: str
    title: str
    ours: Measurement | None
    tf: Measurement
    time_target: float
    mem_target: float | None = None
    ours_inproc: Measurement | None = None


def print_report(cases: list[Case], baseline: Measurement, python: str, args) -> None:
    print()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()} ({python}); medians of {args.repeat} runs "
          f"after {args.warmup} warm-up run(s).")
    print(f"Interpreter start alone (`python -c pass`): {_s(baseline.wall)} s, "
          f"{baseline.maxrss_mib:.0f} MiB.")
    print()
    print("Whole process (wall time from spawn to exit; peak RSS of the child):")
    print()
    print("| case | ours (s) | TF (s) | ours/TF | target | time | ours RSS (MiB) "
          "| TF RSS (MiB) | ours/TF RSS | target | memory |")
    print("|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|:---:|")
    for c in cases:
        ours_ok = c.ours is not None and c.ours.ok
        ow = c.ours.wall if ours_ok else None
        om = c.ours.maxrss_mib if ours_ok else None
        tw = c.tf.wall if c.tf.ok else None
        tm = c.tf.maxrss_mib if c.tf.ok else None
        rt, rm = _ratio(ow, tw), _ratio(om, tm)
        mem_target = f"≤ 1/{round(1 / c.mem_target)}" if c.mem_target else "–"
        mem_verdict = _verdict(rm, c.mem_target) if c.mem_target else "–"
        print(f"| {c.key}. {c.title} | {_s(ow)} | {_s(tw)} | {_frac(rt)} "
              f"| ≤ 1/{round(1 / c.time_target)} | {_verdict(rt, c.time_target)} "
              f"| {'n/a' if om is None else f'{om:.0f}'} | {'n/a' if tm is None else f'{tm:.0f}'} "
              f"| {_frac(rm)} | {mem_target} | {mem_verdict} |")
    print()
    print("In-process (excluding interpreter start and module imports, "
          "i.e. `import tensorflow` on the TF side):")
    print()
    print("| case | ours (s) | TF (s) | ours/TF | TF `import tensorflow` (s) |")
    print("|---|---:|---:|---:|---:|")
    for c in cases:
        ours = c.ours_inproc.internal("work") if c.ours_inproc and c.ours_inproc.ok else None
        tf = c.tf.internal("work") if c.tf.ok else None
        tf_import = c.tf.internal("import") if c.tf.ok else None
        extra = ""
        if c.key == "c" and c.tf.ok and c.tf.internal("load") is not None:
            extra = (f" (TF: get_tensor {_s(c.tf.internal('load'))} s"
                     f" + numpy {_s(c.tf.internal('stats'))} s)")
        print(f"| {c.key}. {c.title}{extra} | {_s(ours)} | {_s(tf)} "
              f"| {_frac(_ratio(ours, tf))} | {_s(tf_import)} |")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder written by make_models.py (default: %(default)s)")
    parser.add_argument("--python", default=VENV_PYTHON if os.path.exists(VENV_PYTHON)
                        else sys.executable, help="interpreter for every child process")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per command")
    parser.add_argument("--only", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--bins", type=int, default=100, help="histogram bins for case c")
    parser.add_argument("--tf-only", action="store_true",
                        help="measure only the TensorFlow side")
    args = parser.parse_args(argv)

    py = args.python
    vgg = os.path.join(args.out, "vgg16")
    meta = os.path.join(args.out, "bigraph", "model.meta")
    for path in (vgg, meta):
        if not os.path.exists(path):
            print(f"missing {path}: run tests/bench/make_models.py first", file=sys.stderr)
            return 2
    have_cli = os.path.exists(os.path.join(REPO, "main.py")) and not args.tf_only
    if not have_cli:
        print("main.py not found (or --tf-only): measuring the TensorFlow side only",
              file=sys.stderr)

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")  # quiet TF logging only
    wanted = set(args.only.split(","))
    rep, warm = args.repeat, args.warmup
    ours_cmd = [py, "main.py"]
    ours_inproc = [py, "-c", OURS_IN_PROCESS]

    def ours(label: str, cli_args: list[str]) -> tuple[Measurement | None, Measurement | None]:
        if not have_cli:
            return None, None
        return (measure(label, ours_cmd + cli_args, env, rep, warm),
                measure(label + " (in-process)", ours_inproc + cli_args, env, rep, warm))

    print("Measuring (median wall time, median peak RSS):", file=sys.stderr)
    baseline = measure("python -c pass", [py, "-c", "pass"], env, rep, warm)
    cases: list[Case] = []
    problems: list[str] = []

    if "a" in wanted:
        o, oi = ours("ours: inspect vgg16", ["inspect", vgg, "--json"])
        t = measure("TF: list_variables vgg16", [py, "-c", TF_LIST_VARIABLES, vgg], env, rep, warm)
        cases.append(Case("a", "inspect vgg16 vs list_variables", o, t, 1 / 4, ours_inproc=oi))
    if "b" in wanted:
        o, oi = ours("ours: inspect bigraph", ["inspect", meta, "--json"])
        t = measure("TF: import_meta_graph bigraph",
                    [py, "-c", TF_IMPORT_META_GRAPH, meta], env, rep, warm)
        cases.append(Case("b", "inspect bigraph .meta vs import_meta_graph", o, t, 1 / 10,
                          ours_inproc=oi))
    if "c" in wanted:
        stats_args = ["stats", vgg, STATS_VARIABLE, "--bins", str(args.bins), "--json"]
        o, oi = ours("ours: stats fc6", stats_args)
        t = measure("TF: get_tensor + numpy stats fc6",
                    [py, "-c", TF_STATS, vgg, STATS_VARIABLE, str(args.bins)], env, rep, warm)
        cases.append(Case("c", "stats fc6/weights vs get_tensor + numpy", o, t, 1 / 3, 1 / 3,
                          ours_inproc=oi))

    for c in cases:
        for m in (c.ours, c.ours_inproc, c.tf):
            if m is not None and not m.ok:
                problems.append(m.error())
        if c.key in "ab" and c.ours is not None and c.ours.ok:
            problem = check_inspect_output(c.ours)
            if problem:
                problems.append(problem)

    print_report(cases, baseline, py, args)

    stats_case = next((c for c in cases if c.key == "c"), None)
    if stats_case and stats_case.tf.ok and stats_case.ours is not None and stats_case.ours.ok:
        print()
        try:
            ours_stats = json.loads(stats_case.ours.last.stdout)
            ref_stats = json.loads(stats_case.tf.last.stdout)
            agree, lines = compare_stats(ours_stats, ref_stats)
        except (ValueError, KeyError, TypeError) as exc:
            agree, lines = False, [f"- could not compare: {exc!r}"]
        print(f"Stats of {STATS_VARIABLE}: ours and numpy "
              f"{'AGREE' if agree else 'DISAGREE'}")
        print("\n".join(lines))
        if not agree:
            problems.append("stats disagree with numpy")

    if problems:
        print("\nProblems:")
        for p in problems:
            print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
