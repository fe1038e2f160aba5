"""Headless commands over the readers: inspect, dump, stats, verify.

Exit codes: 0 all good; 1 opened, but something in it is broken (said on stderr; what is
good is still printed); 2 nothing could be read, or bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from . import __version__
from .analysis import stats as stats_mod
from .analysis import verify as verify_mod
from .analysis.export import atomic_write, write_npy
from .formats.display import human_bytes
from .formats.errors import CorruptDataError, FormatError
from .formats.model import ConstReader, Model, load_graphs, open_checkpoint, open_path


class UsageError(Exception):
    pass


# -- helpers ----------------------------------------------------------------------------

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


def open_weights(model: Model, ckpt_arg: str | None, problems: list[str]):
    """The reader of the chosen checkpoint, or of a frozen graph's Const weights."""
    ckpt = model.checkpoint(ckpt_arg)
    if ckpt is not None:
        reader = open_checkpoint(ckpt)
        if reader.object_graph_problem:
            problems.append(f"{ckpt.index}: {reader.object_graph_problem}")
        for path in reader.missing_shards:
            problems.append(f"{path}: data file missing or unreadable; its tensors cannot be read")
        return ckpt, reader
    if ckpt_arg is not None:
        raise UsageError("this model has no checkpoints to choose from")
    if model.kind == "graph":
        graph = load_graphs(model)[0]
        if graph.format == "graphdef":  # a frozen graph's weights are its Const ops
            return None, ConstReader(graph)
    return None, None


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


def _tensor_problems(reader, variables) -> list[str]:
    """One line per distinct problem (a missing shard breaks many tensors the same way)."""
    by_problem: dict[str, list[str]] = {}
    for t in variables:
        if t.problem:
            by_problem.setdefault(t.problem, []).append(t.name)
    lines = []
    for problem, names in by_problem.items():
        if any(os.path.basename(p) in problem for p in reader.missing_shards):
            continue  # already said, once, for the file
        who = names[0] if len(names) == 1 else f"{len(names)} tensors ({names[0]}, ...)"
        lines.append(f"{reader.index_path}: {who}: {problem}")
    return lines


def _ckpt_json(c) -> dict:
    return {"prefix": c.prefix, "step": c.step, "meta": c.meta, "index": c.index,
            "data_files": c.data_files, "latest": c.latest, "format": c.format,
            "on_disk": c.on_disk, "size": c.size, "mtime": c.mtime}


def _var_json(t) -> dict:
    return {"name": t.name, "display_name": t.display_name, "dtype": t.dtype_name,
            "shape": list(t.shape), "size": t.size, "nbytes": t.nbytes,
            "partitioned": t.partitioned, "slot_of": t.slot_of, "slot_name": t.slot_name,
            "problem": t.problem}


# -- commands ---------------------------------------------------------------------------

def cmd_inspect(args) -> int:
    model = open_path(args.path)
    problems = list(model.problems)
    ckpt, reader = open_weights(model, args.checkpoint, problems)
    variables = list(reader.tensors.values()) if reader else []
    problems += _tensor_problems(reader, variables)
    graph_info = None
    try:
        graphs = load_graphs(model, ckpt)
    except FormatError as e:
        graphs = []
        problems.append(str(e))
    if graphs:
        graph_info = graphs[0].summary()
        if len(graphs) > 1:
            graph_info["meta_graphs"] = [g.tags() for g in graphs]

    if args.json:
        out = {"path": model.path, "kind": model.kind, "title": model.title,
               "checkpoints": [_ckpt_json(c) for c in model.checkpoints],
               "selected": ckpt.prefix if ckpt else None,
               "variables": [_var_json(t) for t in variables],
               "graph": graph_info, "problems": problems, "notes": model.notes}
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        _print_inspect(model, ckpt, variables, graph_info)
    for n in model.notes:
        print(f"note: {n}", file=sys.stderr)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if problems else 0


def _print_inspect(model, ckpt, variables, graph_info) -> None:
    print(f"{model.title}  ({model.kind})  {model.folder}")
    if model.checkpoints:
        print(f"\n{len(model.checkpoints)} checkpoint(s):")
        for c in model.checkpoints:
            mark = "*" if c.latest else " "
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.mtime)) if c.mtime else "-"
            graph = model.graph_sources(c)
            meta = os.path.basename(graph) if graph else "no graph"
            state = "" if c.on_disk else "  (missing)"
            step = "-" if c.step is None else c.step
            print(f" {mark} {step!s:>8}  {c.name:<32} {human_bytes(c.size):>10}  {when}  {meta}{state}")
    if variables:
        total = sum(t.size for t in variables)
        nbytes = sum(t.nbytes for t in variables)
        where = f" of {ckpt.name}" if ckpt else " (graph constants)"
        print(f"\n{len(variables)} tensors{where}: {total:,} values, {human_bytes(nbytes)}")
        width = min(60, max(len(t.display_name) for t in variables))
        for t in sorted(variables, key=lambda t: t.display_name):
            shape = "[" + ", ".join(map(str, t.shape)) + "]"
            extra = "  (partitioned)" if t.partitioned else ""
            if t.display_name != t.name:
                extra += f"  key: {t.name}"
            if t.problem:
                extra += f"  !! {t.problem}"
            print(f"  {t.display_name:<{width}}  {t.dtype_name:<9} {shape:<20}{extra}")
    if graph_info:
        ops = ", ".join(f"{k} {v}" for k, v in list(graph_info["op_types"].items())[:8])
        print(f"\ngraph {os.path.basename(graph_info['source'])} ({graph_info['format']}): "
              f"{graph_info['nodes']:,} ops, {graph_info['variables']} variables")
        print(f"  op types: {ops}")
        for key, sig in graph_info.get("signatures", {}).items():
            print(f"  signature {key}: {sig['inputs']} -> {sig['outputs']}")


def _require_weights(args):
    """The weights `dump` and `stats` work on, or a UsageError for a graph without values."""
    model = open_path(args.path)
    _ckpt, reader = open_weights(model, args.checkpoint, [])
    if reader is None:
        raise UsageError(f"{model.path}: no weights (a graph without saved values)")
    return reader


def cmd_dump(args) -> int:
    reader = _require_weights(args)
    out = args.output
    if args.name:
        key = find_tensor(reader, args.name)
        value = reader.read(key)
        target = out if out.endswith(".npy") else out + ".npy"
        write_npy(target, value)
        print(f"wrote {target}: {key} {value.dtype} {list(value.shape)}", file=sys.stderr)
        return 0
    values = {}
    for key, t in reader.tensors.items():
        if t.problem:
            raise FormatError(reader.index_path, f"{key}: {t.problem}")
        values[key] = reader.read(key)
    target = out if out.endswith(".npz") else out + ".npz"
    atomic_write(target, lambda f: np.savez(f, **values))
    print(f"wrote {target}: {len(values)} tensors", file=sys.stderr)
    return 0


def cmd_stats(args) -> int:
    reader = _require_weights(args)
    key = find_tensor(reader, args.name)
    info = reader.tensors[key]
    if info.problem:
        raise FormatError(reader.index_path, f"{key}: {info.problem}")
    if info.dtype.is_string:
        raise UsageError(f"{key} holds strings: statistics need numbers")
    result = stats_mod.compute(lambda: reader.chunks(key), info.nbytes, bins=args.bins)
    out = {"name": key, "display_name": info.display_name, "dtype": info.dtype_name,
           "shape": list(info.shape), **result.to_json()}
    if args.json:
        json.dump(json_safe(out), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{info.display_name}  {info.dtype_name} {list(info.shape)}  ({result.size:,} values)")
        for k in ("min", "max", "mean", "std", "norm"):
            v = getattr(result, k)
            print(f"  {k:<5} {'-' if v is None else f'{v:.8g}'}")
        print(f"  zeros {result.zeros:,}   nan {result.nan:,}   inf {result.inf:,}")
        _print_histogram(result)
    return 0


def _print_histogram(result) -> None:
    if not result.counts:
        return
    peak = max(result.counts) or 1
    step = max(1, len(result.counts) // 20)  # at most ~20 rows in a terminal
    for i in range(0, len(result.counts), step):
        c = sum(result.counts[i:i + step])
        bar = "#" * round(40 * c / (peak * step))
        print(f"  {result.edges[i]:>12.5g} {c:>10,} {bar}")


def cmd_verify(args) -> int:
    model = open_path(args.path)
    if not model.checkpoints and model.kind == "graph":
        load_graphs(model)
        print(f"{model.graph_path}: graph parses; no checkpoint to verify")
        return 0
    ckpts = [model.checkpoint(args.checkpoint)] if args.checkpoint else model.checkpoints
    report = verify_mod.verify(ckpts)
    for line in report.corrupt:
        print(f"CORRUPT {line}")
    n = sum(1 for c in ckpts if c.on_disk)
    print(f"{report.checked} tensors in {n} checkpoint(s) checked: "
          f"{'all good' if report.ok else f'{len(report.corrupt)} corrupt'}")
    return 0 if report.ok else 1


# -- entry ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ckpt-browser", description=(
        "Look inside TensorFlow checkpoints, graphs and SavedModels. "
        "With no command (or just a PATH) the window opens."))
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def with_ckpt(sp):
        sp.add_argument("--checkpoint", metavar="STEP|PREFIX",
                        help="which checkpoint of a run (default: the latest)")

    sp = sub.add_parser("inspect", help="summary of a model: checkpoints, variables, graph")
    sp.add_argument("path")
    with_ckpt(sp)
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_inspect)

    sp = sub.add_parser("dump", help="write a tensor to OUT.npy, or every variable to OUT.npz")
    sp.add_argument("path")
    sp.add_argument("name", nargs="?")
    sp.add_argument("-o", "--output", required=True, metavar="OUT")
    with_ckpt(sp)
    sp.set_defaults(func=cmd_dump)

    sp = sub.add_parser("stats", help="statistics and histogram of one tensor")
    sp.add_argument("path")
    sp.add_argument("name")
    sp.add_argument("--bins", type=int, default=stats_mod.DEFAULT_BINS)
    with_ckpt(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_stats)

    sp = sub.add_parser("verify", help="check every tensor's crc32c in every checkpoint")
    sp.add_argument("path")
    with_ckpt(sp)
    sp.set_defaults(func=cmd_verify)

    from . import cli_compare  # here, not at the top: it imports this module's helpers
    cli_compare.add_parsers(sub)
    from . import cli_run  # `run`: TensorFlow is imported only once a run starts
    cli_run.add_parsers(sub)
    return p


def main(argv: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):
        # checkpoint keys need not be UTF-8: print undecodable bytes as escapes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "bins", 1) < 1:
        parser.error("--bins must be at least 1")
    try:
        return args.func(args)
    except CorruptDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (FormatError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print(f"error: {args.path}: out of memory", file=sys.stderr)
        return 2
    except Exception as e:  # a bug of ours: one line, not a traceback
        if os.environ.get("CKPT_BROWSER_DEBUG"):
            raise
        print(f"error: {args.path}: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        return 3
