"""Benchmark `main.py diff` and `main.py trend` against TensorFlow's reader + numpy.

Usage, from the repository root, after ``tests/bench/make_models.py`` (for ``out/vgg16``):

    .venv/bin/python tests/bench/bench_compare.py [--repeat 3] [--warmup 1] [--only diff,trend,trend_small]

Inputs (built on first use in a child process, reused afterwards; ``--force`` rebuilds):

``out/vgg16_b/model.ckpt-2``
    VGG-16's variables again (same names, shapes, dtypes), written with
    ``tf.raw_ops.SaveV2``: conv1 is copied bit for bit (a frozen block), fc8 moves by 10 %
    of its spread, everything else by 0.1 %, ``global_step`` becomes 2. So ``diff`` of
    ``out/vgg16`` and ``out/vgg16_b`` compares 2 × 553 MB.
``out/trend10/model.ckpt-1 … -10``
    A random walk of ten checkpoints: ``big/kernel`` [4096, 4096] (64 MB each: 640 MB
    over the run, more than the trend keeps between passes, so it is read twice) and
    ``small/kernel`` [512, 512] (1 MB each: read once), plus a bias.

Cases (whole process; wall time and peak RSS from ``os.wait4``, as bench_readers.py):

diff         ``main.py diff vgg16 vgg16_b --json`` against a process that opens both with
             ``tf.train.load_checkpoint`` and, for every variable, takes both tensors with
             ``get_tensor`` and computes the same metrics with numpy in float64 (in 4M-element
             chunks, so that no full-size float64 temporary inflates its memory).
             Target: ≤ 1/3 of TensorFlow's wall time and ≤ 1/3 of its peak memory.
trend        ``main.py trend trend10 big/kernel --bins 100 --json`` against ``get_tensor`` of
             the variable from each of the ten checkpoints (kept, as a script would, for the
             shared histogram range) + numpy statistics, changes and ``np.histogram``.
trend_small  the same for ``small/kernel``.

Both sides' results are compared (rel_l2 and means to 1e-9 relative, max |Δ|, min, max
and histogram counts exactly); a disagreement makes the script exit with status 1.

Our side runs `main.py` as a user would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_readers import (DEFAULT_OUT, REPO, VENV_PYTHON, _frac, _ratio, _s,  # noqa: E402
                           _verdict, measure)

VGG_A = "vgg16"
VGG_B = "vgg16_b"
VGG_B_PREFIX = "model.ckpt-2"
TREND_RUN = "trend10"
TREND_STEPS = 10
TREND_SHAPES = {"big/kernel": (4096, 4096), "small/kernel": (512, 512), "big/bias": (4096,)}

# -- child scripts ------------------------------------------------------------------------

# Our CLI, as a user runs it.
OURS = os.path.join(REPO, "main.py")

TF_DIFF = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import tensorflow as tf
t1 = time.perf_counter()
ra, rb = tf.train.load_checkpoint(sys.argv[1]), tf.train.load_checkpoint(sys.argv[2])
shapes_a, shapes_b = ra.get_variable_to_shape_map(), rb.get_variable_to_shape_map()
rows = []
C = 1 << 22
for name in sorted(set(shapes_a) | set(shapes_b)):
    if name not in shapes_b or name not in shapes_a:
        rows.append({"name": name, "status": "removed" if name in shapes_a else "added"})
        continue
    if shapes_a[name] != shapes_b[name]:
        rows.append({"name": name, "status": "reshaped"})
        continue
    a = np.asarray(ra.get_tensor(name)).ravel()
    b = np.asarray(rb.get_tensor(name)).ravel()
    same = a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    sq_a = sq_d = abs_sum = top = 0.0
    for i in range(0, a.size, C):
        a64 = a[i:i + C].astype(np.float64)
        d = b[i:i + C].astype(np.float64) - a64
        sq_a += float(np.dot(a64, a64))
        sq_d += float(np.dot(d, d))
        np.abs(d, out=d)
        abs_sum += float(d.sum())
        top = max(top, float(d.max()))
    rel = (sq_d ** 0.5) / (sq_a ** 0.5) if sq_a > 0 else (0.0 if sq_d == 0 else float("inf"))
    rows.append({"name": name, "status": "unchanged" if same else "changed", "rel_l2": rel,
                 "max_abs_delta": top, "mean_abs_delta": abs_sum / a.size if a.size else 0.0})
t2 = time.perf_counter()
print(json.dumps({"variables": rows}))
sys.stderr.write("BENCH_TIMING " + json.dumps({"import": t1 - t0, "work": t2 - t1}) + "\n")
"""

TF_TREND = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import tensorflow as tf
t1 = time.perf_counter()
prefixes, name, bins = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
values = [tf.train.load_checkpoint(p).get_tensor(name).ravel() for p in prefixes]
lo = min(v.min() for v in values)
hi = max(v.max() for v in values)
C = 1 << 22

def sq(x, base=None):
    total = 0.0
    for i in range(0, x.size, C):
        v = x[i:i + C].astype(np.float64)
        if base is not None:
            v -= base[i:i + C]
        total += float(np.dot(v, v))
    return total

steps = []
for i, x in enumerate(values):
    mean = float(x.mean(dtype=np.float64))
    dev = 0.0
    for j in range(0, x.size, C):
        v = x[j:j + C].astype(np.float64) - mean
        dev += float(np.dot(v, v))
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    first = (sq(x, values[0]) / sq(values[0])) ** 0.5
    prev = (sq(x, values[i - 1]) / sq(values[i - 1])) ** 0.5 if i else None
    steps.append({"mean": mean, "std": (dev / x.size) ** 0.5, "norm": sq(x) ** 0.5,
                  "min": float(x.min()), "max": float(x.max()), "rel_change_first": first,
                  "rel_change_prev": prev,
                  "histogram": {"edges": [float(e) for e in edges],
                                "counts": [int(c) for c in counts]}})
t2 = time.perf_counter()
print(json.dumps({"steps": steps}))
sys.stderr.write("BENCH_TIMING " + json.dumps({"import": t1 - t0, "work": t2 - t1}) + "\n")
"""


# -- building the inputs (run in a child: this process stays free of TF and numpy) --------

def _write_state(folder: str, latest: str) -> None:
    """The `checkpoint` state file (relative paths), which tf.train.load_checkpoint needs
    to open a folder."""
    with open(os.path.join(folder, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{latest}"\nall_model_checkpoint_paths: "{latest}"\n')


def build_vgg16_b(out: str) -> None:
    """A perturbed copy of out/vgg16, written with SaveV2 under the same names."""
    import numpy as np
    import tensorflow as tf

    source = os.path.join(out, VGG_A)
    reader = tf.train.load_checkpoint(source)
    rng = np.random.default_rng(7)
    names, values = [], []
    for name in sorted(reader.get_variable_to_shape_map()):
        a = reader.get_tensor(name)
        if name == "global_step":
            b = np.asarray(a + 1)
        elif "/conv1/" in name:
            b = a.copy()  # a frozen block: identical bytes
        else:
            scale = (0.1 if "/fc8/" in name else 1e-3) * float(np.std(a))
            b = a + rng.standard_normal(a.shape, dtype=np.float32) * np.float32(scale)
        names.append(name)
        values.append(tf.constant(b))
    tmp = os.path.join(out, VGG_B + ".tmp")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    tf.raw_ops.SaveV2(prefix=os.path.join(tmp, VGG_B_PREFIX), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=values)
    _write_state(tmp, VGG_B_PREFIX)
    final = os.path.join(out, VGG_B)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)


def build_trend_run(out: str) -> None:
    """Ten checkpoints of a random walk, model.ckpt-1 … -10."""
    import shutil

    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(11)
    tmp = os.path.join(out, TREND_RUN + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    current = {k: rng.standard_normal(s, dtype=np.float32) * np.float32(0.05)
               for k, s in TREND_SHAPES.items()}
    for step in range(1, TREND_STEPS + 1):
        names = sorted(current)
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp, f"model.ckpt-{step}"), tensor_names=names,
                          shape_and_slices=[""] * len(names),
                          tensors=[tf.constant(current[k]) for k in names])
        for k, v in current.items():
            v += rng.standard_normal(v.shape, dtype=np.float32) * np.float32(0.002 * step)
    _write_state(tmp, f"model.ckpt-{TREND_STEPS}")
    final = os.path.join(out, TREND_RUN)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)


def _complete(out: str) -> dict[str, bool]:
    b = os.path.join(out, VGG_B, VGG_B_PREFIX)
    t = os.path.join(out, TREND_RUN, f"model.ckpt-{TREND_STEPS}")
    return {"vgg16_b": os.path.isfile(b + ".index") and os.path.isfile(b + ".data-00000-of-00001")
            and os.path.isfile(os.path.join(out, VGG_B, "checkpoint")),
            "trend10": os.path.isfile(t + ".index")
            and os.path.isfile(os.path.join(out, TREND_RUN, "checkpoint"))}


def ensure_inputs(out: str, python: str, force: bool) -> None:
    if not os.path.isfile(os.path.join(out, VGG_A, "model.ckpt-1.index")):
        raise SystemExit(f"missing {out}/vgg16: run tests/bench/make_models.py first")
    have = _complete(out)
    for what, ok in have.items():
        if ok and not force:
            continue
        print(f"building {what} in {out} ...", file=sys.stderr)
        subprocess.run([python, os.path.abspath(__file__), "--out", out, "--build", what],
                       check=True, cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


# -- checking the two sides agree ---------------------------------------------------------

def _close(a, b, rel: float) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b or (str(a) == "inf" and b == float("inf"))
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def check_diff(ours: dict, ref: dict) -> list[str]:
    bad = []
    mine = {v["name"]: v for v in ours["variables"]}
    theirs = {v["name"]: v for v in ref["variables"]}
    if set(mine) != set(theirs):
        return [f"variables differ: {sorted(set(mine) ^ set(theirs))}"]
    for name, t in theirs.items():
        m = mine[name]
        if m["status"] != t["status"]:
            bad.append(f"{name}: status {m['status']} vs {t['status']}")
            continue
        if "rel_l2" not in t:
            continue
        if m["max_abs_delta"] != t["max_abs_delta"]:
            bad.append(f"{name}: max_abs_delta {m['max_abs_delta']} vs {t['max_abs_delta']}")
        for k in ("rel_l2", "mean_abs_delta"):
            if not _close(m[k], t[k], 1e-9):
                bad.append(f"{name}: {k} {m[k]} vs {t[k]}")
    return bad


def check_trend(ours: dict, ref: dict) -> list[str]:
    bad = []
    if len(ours["steps"]) != len(ref["steps"]):
        return ["step counts differ"]
    for i, (m, t) in enumerate(zip(ours["steps"], ref["steps"])):
        for k in ("min", "max"):
            if m[k] != t[k]:
                bad.append(f"step {i}: {k} {m[k]} vs {t[k]}")
        for k in ("mean", "std", "norm", "rel_change_first", "rel_change_prev"):
            if not _close(m[k], t[k], 1e-9):
                bad.append(f"step {i}: {k} {m[k]} vs {t[k]}")
        if m["histogram"]["counts"] != t["histogram"]["counts"]:
            bad.append(f"step {i}: histogram counts differ")
        if m["histogram"]["edges"] != ours["steps"][0]["histogram"]["edges"]:
            bad.append(f"step {i}: edges not shared")
    return bad


# -- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="cache folder (default: %(default)s)")
    parser.add_argument("--python", default=VENV_PYTHON if os.path.exists(VENV_PYTHON)
                        else sys.executable, help="interpreter for every child process")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per command")
    parser.add_argument("--only", default="diff,trend,trend_small")
    parser.add_argument("--force", action="store_true", help="rebuild the inputs")
    parser.add_argument("--build", choices=("vgg16_b", "trend10"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.build:  # the child that writes an input
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        (build_vgg16_b if args.build == "vgg16_b" else build_trend_run)(args.out)
        return 0

    ensure_inputs(args.out, args.python, args.force)
    py, rep, warm = args.python, args.repeat, args.warmup
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    vgg_a, vgg_b = os.path.join(args.out, VGG_A), os.path.join(args.out, VGG_B)
    run = os.path.join(args.out, TREND_RUN)
    prefixes = ",".join(os.path.join(run, f"model.ckpt-{i}") for i in range(1, TREND_STEPS + 1))
    wanted = args.only.split(",")

    cases = []  # (key, title, ours, TF, checker, time target, memory target)
    print("Measuring (median wall time, median peak RSS):", file=sys.stderr)
    baseline = measure("python -c pass", [py, "-c", "pass"], env, rep, warm)
    if "diff" in wanted:
        o = measure("ours: diff vgg16 vgg16_b", [py, OURS, "diff", vgg_a, vgg_b, "--json"],
                    env, rep, warm)
        t = measure("TF: load_checkpoint x2 + numpy", [py, "-c", TF_DIFF, vgg_a, vgg_b],
                    env, rep, warm)
        cases.append(("diff", "diff vgg16 vs vgg16_b (2 × 553 MB)", o, t, check_diff, 1 / 3, 1 / 3))
    for case, name in (("trend", "big/kernel"), ("trend_small", "small/kernel")):
        if case not in wanted:
            continue
        o = measure(f"ours: trend {name}", [py, OURS, "trend", run, name, "--bins", "100",
                                            "--json"], env, rep, warm)
        t = measure(f"TF: get_tensor x10 + numpy {name}", [py, "-c", TF_TREND, prefixes, name, "100"],
                    env, rep, warm)
        mb = TREND_STEPS * 4 * TREND_SHAPES[name][0] * TREND_SHAPES[name][1] / 1e6
        cases.append((case, f"trend {name} over 10 checkpoints ({mb:.0f} MB)", o, t, check_trend,
                      None, None))

    problems = []
    print()
    print(f"Python {py}; medians of {rep} runs after {warm} warm-up run(s); "
          f"interpreter start alone: {_s(baseline.wall)} s, {baseline.maxrss_mib:.0f} MiB.")
    print()
    print("| case | ours (s) | TF (s) | ours/TF time | target | ours RSS (MiB) | TF RSS (MiB) "
          "| ours/TF RSS | target | in-process ours (s) | in-process TF (s) | TF import (s) |")
    print("|---|---:|---:|---:|:---:|---:|---:|---:|:---:|---:|---:|---:|")
    for key, title, o, t, check, time_target, mem_target in cases:
        for m in (o, t):
            if not m.ok:
                problems.append(m.error())
        if not (o.ok and t.ok):
            continue
        rt, rm = _ratio(o.wall, t.wall), _ratio(o.maxrss_mib, t.maxrss_mib)
        tt = f"≤ 1/3 {_verdict(rt, time_target)}" if time_target else "–"
        mt = f"≤ 1/3 {_verdict(rm, mem_target)}" if mem_target else "–"
        print(f"| {title} | {_s(o.wall)} | {_s(t.wall)} | {_frac(rt)} | {tt} "
              f"| {o.maxrss_mib:.0f} | {t.maxrss_mib:.0f} | {_frac(rm)} | {mt} "
              f"| {_s(o.internal('work'))} | {_s(t.internal('work'))} | {_s(t.internal('import'))} |")
        try:
            bad = check(json.loads(o.last.stdout), json.loads(t.last.stdout))
        except (ValueError, KeyError, TypeError) as exc:
            bad = [f"could not compare: {exc!r}"]
        if bad:
            problems.append(f"{key}: ours and numpy DISAGREE:\n  " + "\n  ".join(bad[:20]))
        else:
            print("|   ↳ results agree with TensorFlow + numpy | | | | | | | | | | | |")
        if key.startswith("trend"):
            reads = json.loads(o.last.stdout).get("reads_per_checkpoint")
            print(f"|   ↳ our reads per checkpoint: {reads} | | | | | | | | | | | |")
    if problems:
        print("\nProblems:")
        for p in problems:
            print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
