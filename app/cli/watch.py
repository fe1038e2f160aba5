"""`watch RUN`: say each checkpoint of a training folder as it lands or goes, with the
statistics of some tensors (`--stats`) or what some fetches evaluate to (`--run-fetch`).

Polling, not file-system notifications: a poll that finds the folder unchanged costs one
stat, notifications do not work on network file systems (where runs often live), and the
in-place rewrites that matter (TensorFlow's merged `.index`) need a size check anyway. On
network and FUSE mounts (app.formats.mounts) the folder is listed at every poll, because
their cached folder times may not move when a checkpoint lands.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..analysis import stats as stats_mod
from ..formats import location
from ..formats.errors import FormatError
from ..formats.live import RunWatcher
from ..formats.mounts import watch_mode
from ..formats.model import open_checkpoint
from ..formats.run import Checkpoint
from .common import EXIT_OK, EXIT_PROBLEMS, UsageError, dump_json, statistics_json, tensor_statistics


def _stats_of(reader, names: list[str], bins: int) -> dict:
    """NAME → what `stats --json` prints for it, or {"problem": …} for that name alone."""
    out = {}
    for name in names:
        try:
            out[name] = statistics_json(*tensor_statistics(reader, name, bins))
        except (FormatError, UsageError) as e:
            out[name] = {"problem": str(e)}
    return out


def _describe_added(event, names: list[str], bins: int) -> dict:
    """The JSON object of an added/changed checkpoint: its stats, or why it cannot be read
    (broken, or gone again before it could be read)."""
    out = {"event": event.kind, "step": event.step, "prefix": event.prefix}
    if event.problem:
        out["problem"] = event.problem
        return out
    reader = None
    try:
        reader = open_checkpoint(Checkpoint(event.prefix, index=event.prefix + ".index"))
        if reader.missing_shards:   # deleted between the watcher's look and ours
            raise FormatError(reader.missing_shards[0], "data file gone before it could be read")
        out["tensors"] = len(reader.tensors)
        if names:
            # An unlinked file stays readable through what is already open, and every
            # value is checked against its crc32c: a deletion now cannot mix two writes.
            out["stats"] = _stats_of(reader, names, bins)
    except FormatError as e:
        out.pop("tensors", None)
        out["problem"] = str(e)
    finally:
        if reader is not None:
            reader.close()
    return out


def _line(obj: dict) -> str:
    """One human line per event."""
    step = "-" if obj["step"] is None else obj["step"]
    head = f"{obj['event']:<8} step {step:<8} {os.path.basename(obj['prefix'])}"
    if "problem" in obj:
        return f"{head}  problem: {obj['problem']}"
    parts = [head]
    if "tensors" in obj:
        parts.append(f"  ({obj['tensors']} tensors)")
    for name, s in obj.get("stats", {}).items():
        if "problem" in s:
            parts.append(f"\n    {name}: problem: {s['problem']}")
        else:
            nums = "  ".join(f"{k} {'-' if s[k] is None else f'{s[k]:.6g}'}"
                             for k in ("min", "max", "mean", "std"))
            parts.append(f"\n    {name}: {nums}")
    for name, value in obj.get("fetches", {}).items():
        text = repr(value) if not isinstance(value, list) else \
            np.array2string(np.asarray(value, dtype=object), threshold=8, edgeitems=2, max_line_width=90)
        parts.append(f"\n    {name} = {text}")
    return "".join(parts)


def cmd_watch(args) -> int:
    if args.interval <= 0:
        raise UsageError("--interval must be positive")
    folder = location.normalize(args.path) if location.is_url(args.path) else args.path
    if not location.isdir(folder):
        raise FormatError(folder, "not a folder (watch follows a training run's folder)")
    remote = location.is_url(folder)
    # Network and FUSE mounts cache the folder's time and the files' sizes: look closer
    # there. A URL's listing is asked for afresh at every poll anyway.
    mode = "poll" if remote else watch_mode(folder)[0]
    watcher = RunWatcher(folder, grace=args.grace, trust_folder_time=remote or mode != "poll")
    runner = None
    if args.run_fetch:
        if remote:
            raise UsageError("--run-fetch restores checkpoints in a local folder; "
                             "watch the URL without it, or run on a local copy")
        from .watch_fetch import FetchRunner
        runner = FetchRunner(folder, args.run_fetch, args.feed or [], args.allow_unsafe_ops)
        runner.warm()        # TensorFlow's import is long: before the first look, not during
        print(f"ready: running {', '.join(args.run_fetch)} on each checkpoint of {args.path}",
              file=sys.stderr, flush=True)
    try:
        return _follow(args, watcher, runner)
    finally:
        if runner is not None:
            runner.close()


def _follow(args, watcher, runner) -> int:
    """Poll, and print each event in order once it is complete. Fetches run on one worker
    thread so that polling goes on while TensorFlow starts or restores: a checkpoint that
    lives less long than a run (max_to_keep) is still seen, and said to be gone if it
    went before its turn."""
    from concurrent.futures import ThreadPoolExecutor
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    problems = 0
    queue: list = []              # [(event, object or Future of one)] in the order seen
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch") if runner is not None else None

    def fetched(obj, event):
        obj.update(runner.run(event.prefix, event.step))
        return obj
    try:
        while True:
            for event in watcher.poll():
                if event.kind == "removed":
                    queue.append((event, {"event": "removed", "step": event.step, "prefix": event.prefix}))
                    continue
                obj = _describe_added(event, args.stats or [], args.bins)
                if pool is not None and "problem" not in obj:
                    obj = pool.submit(fetched, obj, event)
                queue.append((event, obj))
            while queue and (isinstance(queue[0][1], dict) or queue[0][1].done()):
                event, obj = queue.pop(0)
                if not isinstance(obj, dict):
                    obj = obj.result()       # a UsageError (a name not in the graph) ends the watch
                problems += "problem" in obj
                if args.json:
                    dump_json(obj)
                else:
                    print(_line(obj))
                sys.stdout.flush()
                if args.until is not None and event.kind == "added" and event.step is not None \
                        and event.step >= args.until:
                    return EXIT_PROBLEMS if problems else EXIT_OK
            if deadline is not None and time.monotonic() >= deadline:
                if args.until is not None:
                    print(f"problem: timed out before step {args.until}", file=sys.stderr)
                    return EXIT_PROBLEMS
                return EXIT_PROBLEMS if problems else EXIT_OK
            time.sleep(args.interval)
    finally:
        if pool is not None:
            for _e, obj in queue:
                if not isinstance(obj, dict):
                    obj.cancel()
            pool.shutdown(wait=True)


def add_parser(sub, name: str, help_text: str) -> None:
    sp = sub.add_parser(name, help=help_text, description=(
        "Print one line per checkpoint as it lands (added) or is deleted (removed), until "
        "Ctrl+C, --until or --timeout. Checkpoints already there are reported first. "
        "Exit status 1 if a checkpoint could not be read or --until was not reached."))
    sp.add_argument("path", metavar="RUN", help="the folder the training writes to")
    sp.add_argument("--stats", metavar="NAME", nargs="+", action="extend",
                    help="statistics of these tensors in each new checkpoint")
    sp.add_argument("--bins", type=int, default=stats_mod.DEFAULT_BINS)
    sp.add_argument("--run-fetch", metavar="NAME", nargs="+", action="extend",
                    help="evaluate these tensors (name:0, or an op's output 0) on each new "
                         "checkpoint, restored into the run's graph, as `run --fetch` does")
    sp.add_argument("--feed", action="append", metavar="NAME=VALUE",
                    help="a placeholder's value for --run-fetch, as `run --feed`; repeatable")
    sp.add_argument("--allow-unsafe-ops", action="store_true",
                    help="--run-fetch even if ops on the way read or write files, run Python "
                         "code or talk to the network")
    sp.add_argument("--json", action="store_true", help="one JSON object per line")
    sp.add_argument("--until", type=int, metavar="STEP",
                    help="stop once a checkpoint of this step or later is reported")
    sp.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    sp.add_argument("--interval", type=float, default=0.2, metavar="S",
                    help="seconds between looks at the folder (default 0.2)")
    sp.add_argument("--grace", type=float, default=2.0, metavar="S",
                    help="how long a checkpoint may look incomplete before it is reported "
                         "with a problem (default 2)")
    sp.set_defaults(func=cmd_watch)
