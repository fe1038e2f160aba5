"""A second launch while the window runs: how long until that process has handed its path
over and ended (issue: ≤ 0.3 s from its start).

    .venv/bin/python tests/bench/bench_handover.py [--runs 11]

Starts the real app (offscreen, with scratch settings and socket folder), then times whole
`python main.py PATH` processes, from spawn to exit, against the same interpreter doing
nothing (`python -c pass`) and against importing the window's modules, which is what a
second launch did before it handed over (`python -c "import app.ui.app"`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "resources", "sample_run")


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd}: exit {proc.returncode}\n{proc.stderr}")
    return wall


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=11)
    args = p.parse_args()
    scratch = tempfile.mkdtemp(prefix="ckpt-handover-")
    os.chmod(scratch, 0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=scratch, XDG_RUNTIME_DIR=scratch)
    env.pop("PYTHONDONTWRITEBYTECODE", None)      # cached bytecode, as users run
    env.pop("CHECKPOINT_BROWSER_INSTANCE", None)
    socket_path = os.path.join(scratch, "checkpoint-browser.sock")
    first = subprocess.Popen([sys.executable, "main.py", SAMPLE], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(socket_path):
            if time.monotonic() > deadline or first.poll() is not None:
                raise SystemExit("the first instance did not start its server")
            time.sleep(0.05)
        time.sleep(2)                     # let it finish opening the sample run
        bare = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs)]
        old = [timed([sys.executable, "-c", "import app.ui.app"], env) for _ in range(args.runs)]
        ours = [timed([sys.executable, "main.py", SAMPLE], env) for _ in range(args.runs)]
    finally:
        first.terminate()
        first.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
    b, o, h = (statistics.median(x) for x in (bare, old, ours))
    print(f"{args.runs} runs each, medians (whole processes, spawn to exit):\n")
    print("| case | time | vs bare Python |")
    print("|---|---:|---:|")
    print(f"| second launch hands over and exits: `main.py PATH` | {h:.3f} s (max {max(ours):.3f}) | {h / b:.2f}× |")
    print(f"| bare Python start-up: `python -c pass` | {b:.3f} s | 1.00× |")
    print(f"| importing the window's modules alone (what the hand-over waited for before) | {o:.3f} s | {o / b:.2f}× |")
    print(f"\ntarget: ≤ 0.300 s — {'met' if h <= 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
