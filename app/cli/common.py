"""What every command shares: usage errors, finding a tensor by name, opening the weights
an argument names, JSON output, and the exit-status policy.

Exit status: EXIT_OK (0) all good; EXIT_PROBLEMS (1) opened, but something in it is
broken (said on stderr, the rest still printed); EXIT_FAILED (2) nothing could be read,
or bad usage; EXIT_BUG (3) an unexpected exception, said in one line.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ..formats import location
from ..formats.errors import FormatError
from ..formats.model import (ConstReader, Model, apply_variable_names, load_graphs, open_checkpoint,
                             open_path)

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_FAILED = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command line that asks for something there is not: exit status 2."""


# -- the exit-status policy ------------------------------------------------------------

def run_command(args) -> int:
    """`args.func(args)`, with every failure turned into a message and an exit status."""
    try:
        return args.func(args)
    except (FormatError, UsageError) as e:  # FormatError covers CorruptDataError
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        return EXIT_OK
    except MemoryError:
        print(location.display(f"error: {args.path}: out of memory"), file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # a bug of ours: one line, not a traceback
        if os.environ.get("CKPT_BROWSER_DEBUG"):
            raise
        print(location.display(f"error: {args.path}: unexpected {type(e).__name__}: {e}"),
              file=sys.stderr)
        return EXIT_BUG


def report(problems: list[str], notes: list[str] = ()) -> int:
    """Notes and problems on stderr; the exit status they make."""
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return EXIT_PROBLEMS if problems else EXIT_OK


# -- JSON ------------------------------------------------------------------------------

def json_safe(value):
    """Values as nested lists for JSON: bytes as text, non-finite floats as strings."""
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, complex):
        return [value.real, value.imag]
    return value


def dump_json(out) -> None:
    """One JSON document on stdout, strict: a NaN that slipped through is a bug, not output."""
    json.dump(json_safe(out), sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


# -- arguments that name weights -------------------------------------------------------

def add_checkpoint_option(sp) -> None:
    sp.add_argument("--checkpoint", metavar="STEP|PREFIX",
                    help="which checkpoint of a run (default: the latest)")


def open_weights(model: Model, ckpt_arg: str | None, problems: list[str]):
    """(checkpoint, reader) of the chosen checkpoint, or (None, reader of a frozen graph's
    Const weights), or (None, None) for a graph without values. What is broken in the
    checkpoint is appended to `problems`."""
    ckpt = model.checkpoint(ckpt_arg)
    if ckpt is not None:
        reader = open_checkpoint(ckpt)
        if reader.object_graph_problem:
            problems.append(f"{ckpt.index}: {reader.object_graph_problem}")
        for path in reader.missing_shards:
            problems.append(f"{path}: data file missing or unreadable; its tensors cannot be read")
        if model.kind == "savedmodel":   # the names of variables tracked only by list index
            try:
                graphs = load_graphs(model, ckpt)
            except FormatError:
                graphs = []              # the graph's problem is the graph's commands' to report
            if graphs:
                apply_variable_names(reader, graphs[0].variable_names())
        return ckpt, reader
    if ckpt_arg is not None:
        raise UsageError("this model has no checkpoints to choose from")
    if model.kind == "graph":
        graph = load_graphs(model)[0]
        if graph.format == "graphdef":  # a frozen graph's weights are its Const ops
            return None, ConstReader(graph)
    return None, None


def split_at_step(arg: str) -> tuple[str, str | None]:
    """`FOLDER@STEP` → (FOLDER, STEP). A path that exists as typed wins over the form, so
    folders with an '@' in their name still open."""
    if location.is_url(arg):   # a URL's '@' may be its user name; STEP follows the last '/'
        head, _, tail = arg.rpartition("/")
        if "@" not in tail or "?" in tail:
            return arg, None
        name, which = tail.rsplit("@", 1)
        return (f"{head}/{name}" if name else head), which or None
    path = os.path.expanduser(arg)
    if "@" not in arg or os.path.exists(path) or os.path.exists(path + ".index"):
        return arg, None
    folder, which = arg.rsplit("@", 1)
    if not folder or not which:
        raise UsageError(f"{arg!r}: expected FOLDER@STEP (a step number or checkpoint name)")
    return folder, which


def open_weights_at(arg: str, problems: list[str], what_for: str):
    """(label, reader) for an argument naming weights: a checkpoint prefix, any file of a
    checkpoint, a folder (its latest checkpoint), `FOLDER@STEP`, or a frozen graph (its
    constants). `what_for` ("to compare") words the error for a graph without values."""
    path, which = split_at_step(arg)
    model = open_path(path)
    ckpt, reader = open_weights(model, which, problems)
    if reader is None:
        raise UsageError(f"{arg}: no weights {what_for} (a graph without values)")
    return (ckpt.prefix if ckpt else (model.graph_path or model.path)), reader


def find_tensor(reader, name: str) -> str:
    """The checkpoint key for a name given as key, readable name, or op name with `:0`."""
    if name in reader.tensors:
        return name
    candidates = [name, name[:-2] if name.endswith(":0") else name]
    for t in reader.tensors.values():
        if t.display_name in candidates or t.name in candidates:
            return t.name
    close = [t.name for t in reader.tensors.values() if name.lower() in t.name.lower()
             or name.lower() in t.display_name.lower()][:5]
    hint = f"; similar: {', '.join(close)}" if close else ""
    raise UsageError(f"no tensor {name!r} in {reader.prefix}{hint}")


def tensor_statistics(reader, name: str, bins: int):
    """(info, Stats) of the tensor NAME finds, as `stats` and `watch --stats` report it.
    FormatError for a tensor that cannot be read, UsageError for strings."""
    from ..analysis import stats
    key = find_tensor(reader, name)
    info = reader.tensors[key]
    if info.problem:
        raise FormatError(reader.index_path, f"{key}: {info.problem}")
    if info.dtype.is_string:
        raise UsageError(f"{key} holds strings: statistics need numbers")
    return info, stats.compute(lambda: reader.chunks(key), info.nbytes, bins=bins)


def statistics_json(info, result) -> dict:
    """The object `stats --json` prints."""
    return {"name": info.name, "display_name": info.display_name, "dtype": info.dtype_name,
            "shape": list(info.shape), **result.to_json()}


class StatusLine:
    """Status texts as one transient line on an interactive stderr; silent otherwise."""

    def __init__(self):
        self.on = sys.stderr.isatty()
        self.shown = False

    def __call__(self, text: str) -> None:
        if self.on:
            sys.stderr.write(f"\r\x1b[K{text}…")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
