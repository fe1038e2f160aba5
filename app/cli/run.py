"""The `run` command: evaluate tensors of a model on given feeds, for one checkpoint or
every checkpoint of a run.

    python main.py run PATH --fetch NAME [--fetch NAME …] [--feed NAME=VALUE | NAME=@FILE.npy …]
        [--checkpoint STEP|PREFIX | --all-checkpoints] [--signature KEY]
        [--allow-unsafe-ops] [--json]

Exit codes: 0 every run gave its values; 1 some checkpoint failed to restore or an op
failed (said on stderr, the other results are still printed); 2 bad usage, a feed that
does not fit, a name not in the graph, a model that cannot be read, or ops on the path
that reach outside the session (refused unless --allow-unsafe-ops).

The session runs in this process, not in the runner's worker process: a command line
needs no second interpreter (one TensorFlow import, results never pickled across a
pipe), and the process is already what the user can stop — while TensorFlow works,
Ctrl+C has its default effect and ends the process at once, even inside a long op.
The checks that need no TensorFlow (names, feeds against their placeholders, unsafe
ops) run first, so a mistake is reported before TensorFlow is even imported. What to
check, and which errors stop the run, is app.runner.service's, as in the Run panel.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import numpy as np

from ..analysis import outputs
from ..formats import dtypes
from ..runner import graphwalk, media, service
from ..runner.feeds import FeedError, parse_feed, split_assignment
from ..runner.session import RunError, Session, plan
from .common import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, StatusLine, UsageError, dump_json, json_safe


# -- feeds as typed ------------------------------------------------------------------

def parse_feeds(items: list[str], image_range: str | None = None) -> dict[str, np.ndarray]:
    """`--feed NAME=VALUE` items as arrays by name (`@file` ones decoded with
    `image_range`); UsageError for a bad one."""
    feeds: dict[str, np.ndarray] = {}
    seen: dict[str, str] = {}
    for item in items:
        try:
            name, text = split_assignment(item)
            canonical = graphwalk.tensor_name(name)
            if canonical in seen:
                raise UsageError(f"{name} is fed twice (also as {seen[canonical]})")
            seen[canonical] = name
            feeds[name] = parse_feed(text, image_range=image_range)
        except FeedError as e:
            raise UsageError(f"feed {item.partition('=')[0]}: {e.problem}") from None
    return feeds


# -- output ----------------------------------------------------------------------------

def _json_value(value):
    if value is None:
        return None
    arr = np.asarray(value)
    if dtypes.is_extension(arr.dtype):
        arr = arr.astype(np.float32 if dtypes.kind(arr.dtype) == "float" else np.int32)
    return json_safe(arr.tolist())


def _print_value(name: str, value) -> None:
    if value is None:
        print(f"  {name}  (an op without outputs: ran)")
        return
    arr = np.asarray(value)
    if arr.ndim == 0:
        item = arr.item()
        if isinstance(item, bytes):
            item = item.decode("utf-8", "backslashreplace")
        print(f"  {name} = {item!r}  ({arr.dtype if arr.dtype != object else 'string'})")
        return
    dtype = "string" if arr.dtype == object else arr.dtype
    print(f"  {name}  {dtype} {list(arr.shape)}")
    text = np.array2string(arr, threshold=200, edgeitems=3, max_line_width=100)
    for line in text.splitlines():
        print(f"    {line}")




@contextlib.contextmanager
def _interruptible():
    """While TensorFlow works, Ctrl+C ends the process (Python's handler would wait for
    the C++ op to return)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- the command -----------------------------------------------------------------------

def cmd_run(args) -> int:
    fetches = list(args.fetch or [])
    if not fetches and not args.signature:
        raise UsageError("nothing to run: give --fetch NAME (or --signature KEY)")
    if len(set(fetches)) != len(fetches):
        raise UsageError("a fetch is named twice")
    if args.image_range:
        try:
            media.parse_range(args.image_range)
        except media.MediaError as e:
            raise UsageError(str(e)) from None
    feeds = parse_feeds(args.feed or [], args.image_range)
    decoded = {k: v for k, v in feeds.items() if isinstance(v, media.MediaFeed)}
    try:
        pl = plan(args.path, args.checkpoint, args.all_checkpoints, args.signature)
        needs = service.analyze(pl.graph, fetches, signature=args.signature, fed=feeds,
                                kind=pl.kind, restores=pl.restores)
        feeds = needs.check(feeds)
    except RunError as e:
        raise UsageError(str(e)) from None
    for name, feed in decoded.items():   # what was made of a media file, and its rate
        print(f"note: feed {name}: {feed.describe(feeds.get(name))}", file=sys.stderr)
    readable = _Readable(args)
    unfed = needs.unfed(feeds)
    if unfed:
        spec = unfed[0]
        label = spec.label if args.signature else spec.op
        who = f"input {label!r} of signature {args.signature}" if args.signature else \
            f"placeholder {spec.describe()}"
        raise UsageError(f"missing feed for {who}; give --feed {label}=VALUE")
    if needs.unsafe and not args.allow_unsafe_ops:
        print("error: refusing to run: these ops reach outside the session "
              "(files, processes or the network):", file=sys.stderr)
        for u in needs.unsafe:
            print(f"  {u}", file=sys.stderr)
        print("run them anyway with --allow-unsafe-ops, if you trust this graph",
              file=sys.stderr)
        return EXIT_FAILED

    requests = pl.requests(fetches, feeds, args.signature, args.allow_unsafe_ops)

    def where(checkpoint: str | None) -> str:
        return f"{os.path.basename(checkpoint)}: " if checkpoint and len(requests) > 1 else ""

    status = StatusLine()

    def show(run: service.CheckpointRun, _done: int, _total: int) -> None:
        status.clear()
        if run.error is not None:
            print(f"error: {where(run.checkpoint)}{run.error}", file=sys.stderr)
        elif not args.json:
            _print_result(run, readable)

    session = Session(status=status)
    try:
        with _interruptible():
            outcome = service.run_requests(requests, session.run, on_run=show)
    finally:
        status.clear()
        session.close()
    if outcome.error is not None:
        print(f"error: {where(outcome.stopped_at.checkpoint)}{outcome.error}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        dump_json({"results": [_run_json(r, readable) for r in outcome.runs]})
    for note in readable.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_PROBLEMS if outcome.failed else EXIT_OK


class _Readable:
    """Class scores as a top-k table with labels (a `--labels` file, else one the model
    ships), as `outputs` reads them."""

    def __init__(self, args):
        self.k = args.top_k
        self.path = args.path
        self.vocabulary: list[str] | None = None    # looked for on the first token output
        self.labels = None
        self.notes: list[str] = []
        self._said: set[str] = set()
        path = args.labels or outputs.find_labels(args.path)
        if path:
            try:
                self.labels = outputs.read_labels(path)
            except (OSError, ValueError) as e:
                if args.labels:
                    raise UsageError(f"--labels {path}: {e}") from None
                self.notes.append(f"{path}: not read as labels ({e})")

    def tokens(self, value) -> str | None:
        """Token ids decoded with the vocabulary the model ships, else None."""
        if outputs.kind(value) != "tokens":
            return None
        if self.vocabulary is None:
            found = outputs.find_labels(self.path, vocabulary=True)
            try:
                self.vocabulary = outputs.read_labels(found).names if found else []
            except (OSError, ValueError):
                self.vocabulary = []
        return outputs.decode_tokens(value, self.vocabulary) if self.vocabulary else None

    def top(self, value) -> tuple[list[outputs.Ranked], str | None] | None:
        if self.k <= 0 or outputs.kind(value) != "scores":
            return None
        classes = outputs.without_batch(np.asarray(value)).shape[-1]
        names, note = self.labels.fit(classes) if self.labels else (None, None)
        if note and note not in self._said:
            self._said.add(note)
            if names is None:
                self.notes.append(note)
        return outputs.top_k(value, self.k, names), (note if names else None)


def _run_json(run: service.CheckpointRun, readable: _Readable) -> dict:
    if run.error is not None:
        return {"checkpoint": run.checkpoint, "step": run.step, "fetches": None,
                "error": str(run.error)}
    out = {"checkpoint": run.checkpoint, "step": run.step,
           "fetches": fetches_json(run.fetches),
           "seconds": run.seconds}
    tops = {k: top for k, v in run.fetches.items() if (top := readable.top(v))}
    if tops:
        out["top_k"] = {k: [{"index": r.index, "label": r.label, "score": r.score,
                             "probability": r.probability} for r in ranked]
                        for k, (ranked, _note) in tops.items()}
    return out


def fetches_json(fetches: dict) -> dict:
    """Fetched values as `run --json` writes them (also `watch --run-fetch --json`)."""
    return {k: _json_value(v) for k, v in fetches.items()}


def _print_result(run: service.CheckpointRun, readable: _Readable) -> None:
    if run.checkpoint:
        name = os.path.basename(run.checkpoint)
        step = f" (step {run.step})" if run.step is not None else ""
        print(f"{name}{step}  {run.seconds:.3f} s")
    else:
        print(f"{run.seconds:.3f} s")
    for key, value in run.fetches.items():
        _print_value(key, value)
        top = readable.top(value)
        if top:
            _print_top(*top)
        text = readable.tokens(value)
        if text is not None:
            print(f"    decoded: {text}")


def _print_top(ranked: list[outputs.Ranked], note: str | None) -> None:
    logits = ranked and ranked[0].probability is not None
    print(f"    top {len(ranked)}{f' ({note})' if note else ''}:")
    width = max(len(r.label or "") for r in ranked)
    for r in ranked:
        extra = f"  p={r.probability:.4f}" if logits else ""
        print(f"    {r.index:>6}  {r.label or '':<{width}}  {r.score:.6g}{extra}")


# -- the parser -----------------------------------------------------------------------

def add_parser(sub, name: str, help_text: str) -> None:
    """Add `run` (as app.cli.commands lists it)."""
    sp = sub.add_parser(name, help=help_text,
                        description="Restore a checkpoint into its graph and evaluate "
                                    "tensors, as a script with import_meta_graph, "
                                    "restore and sess.run would.")
    sp.add_argument("path", help="a run folder, a checkpoint, a SavedModel or a graph file")
    sp.add_argument("--fetch", action="append", metavar="NAME",
                    help="a tensor (name:0) or op (its output 0) to evaluate; repeatable")
    sp.add_argument("--feed", action="append", metavar="NAME=VALUE",
                    help="a placeholder's value: a literal (13, [[1, 2], [3, 4]], \"text\"), "
                         "a constructor (zeros(2, 3), random(4, seed=1), …) or @FILE "
                         "(.npy, .npz[:key], .csv; an image, resized to the input: "
                         "@cat.jpg, @cat.jpg:-1..1; a WAV file: @clip.wav; text lines: "
                         "@lines.txt); repeatable")
    sp.add_argument("--image-range", metavar="RANGE",
                    help="the value range of image feeds that do not name one: 0..1 "
                         "(default for float inputs), 0..255 or -1..1")
    sp.add_argument("--labels", metavar="FILE",
                    help="class names, one a line, for class-score outputs (default: a "
                         "labels file the model ships, in assets/ or beside it)")
    sp.add_argument("--top-k", type=int, default=5, metavar="K",
                    help="how many classes to list for a class-score output (0: none; "
                         "default 5)")
    which = sp.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", metavar="STEP|PREFIX",
                       help="which checkpoint of a run (default: the latest)")
    which.add_argument("--all-checkpoints", action="store_true",
                       help="run on every checkpoint of the run, importing the graph once")
    sp.add_argument("--signature", metavar="KEY",
                    help="SavedModel: run this signature; --feed names its inputs, and "
                         "every output is fetched")
    sp.add_argument("--allow-unsafe-ops", action="store_true",
                    help="run even if ops on the way read or write files, run Python code "
                         "or talk to the network")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_run)
