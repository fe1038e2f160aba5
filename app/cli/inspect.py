"""The commands that read one model: `inspect`, `dump`, `stats` and `verify`."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..analysis import stats as stats_mod
from ..analysis import verify as verify_mod
from ..analysis.export import atomic_write, write_npy
from ..formats.display import human_bytes
from ..formats.errors import FormatError
from ..formats.keras import KerasFile
from ..formats.model import load_graphs, open_path
from .common import (EXIT_OK, EXIT_PROBLEMS, UsageError, add_checkpoint_option, dump_json,
                     find_tensor, open_weights, report, statistics_json, tensor_statistics)


# -- inspect ----------------------------------------------------------------------------

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

    layers = _keras_layers(reader) if isinstance(reader, KerasFile) else None
    if args.json:
        dump_json({"path": model.path, "kind": model.kind, "title": model.title,
                   "checkpoints": [_ckpt_json(c) for c in model.checkpoints],
                   "selected": ckpt.prefix if ckpt else None,
                   "variables": [_var_json(t) for t in variables],
                   "graph": graph_info, "problems": problems, "notes": model.notes,
                   **({"layers": layers} if layers is not None else {})})
    else:
        _print_inspect(model, ckpt, variables, graph_info)
        if layers:
            _print_layers(reader, layers)
    return report(problems, model.notes)


def _keras_layers(reader: KerasFile) -> list[dict]:
    return [{"name": layer.name, "class": layer.class_name,
             "weights": [reader.tensors[k].display_name for k in layer.weights],
             "parameters": sum(reader.tensors[k].size for k in layer.weights)}
            for layer in reader.layers]


def _print_layers(reader: KerasFile, layers: list[dict]) -> None:
    name = reader.model_name()
    version = f", Keras {reader.keras_version}" if reader.keras_version else ""
    print(f"\n{len(layers)} layers{f' of {name}' if name else ''} ({reader.layout} layout{version}):")
    width = min(40, max(len(entry["name"]) for entry in layers))
    for entry in layers:
        cls = entry["class"] or "?"
        print(f"  {entry['name']:<{width}}  {cls:<22} {entry['parameters']:>10,}  "
              f"{', '.join(w.rsplit('/', 1)[-1] for w in entry['weights'])}")


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
        lib = graph_info.get("function_library") or {}
        if lib.get("count"):
            print(f"  functions: {lib['count']:,} holding {lib['nodes']:,} ops; the graph calls "
                  f"{len(lib['called_by_graph'])}, which reach {lib['reachable_from_graph']}")
            if lib["missing"]:
                print(f"  !! calls to functions missing from the library: {', '.join(lib['missing'][:5])}")
            if lib["recursive"]:
                rec = lib["recursive"]
                print(f"  {len(rec):,} function(s) reach themselves through calls (recursion): "
                      f"{', '.join(rec[:5])}{', ...' if len(rec) > 5 else ''}")
            biggest = sorted(lib["functions"].items(), key=lambda kv: -kv[1]["nodes"])[:5]
            for name, f in biggest:
                ins = ", ".join(f"{n}: {d}" for n, d in f["inputs"])
                outs = ", ".join(f"{n}: {d}" for n, d in f["outputs"])
                print(f"    {f['nodes']:>6,} ops  {name}({ins}) -> ({outs})")
        elif lib.get("missing"):
            print(f"  !! calls to functions missing from the library: {', '.join(lib['missing'][:5])}")
        for key, sig in graph_info.get("signatures", {}).items():
            print(f"  signature {key} ({sig['method'] or 'no method name'}):")
            for what in ("input", "output"):
                for name, tensor in sig[f"{what}s"].items():
                    print(f"    {what:<6} {name}: {sig[f'{what}_specs'][name]}  ({tensor})")
        if graph_info.get("init_ops"):
            print(f"  run on loading: {', '.join(graph_info['init_ops'])}")


# -- dump and stats ---------------------------------------------------------------------

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
        return EXIT_OK
    values = {}
    for key, t in reader.tensors.items():
        if t.problem:
            raise FormatError(reader.index_path, f"{key}: {t.problem}")
        member = _member_name(key)
        if member in values:
            raise FormatError(reader.index_path, f"{key}: two keys are both written as "
                                                 f"{member!r} in an .npz; dump them one by one")
        values[member] = reader.read(key)
    target = out if out.endswith(".npz") else out + ".npz"
    atomic_write(target, lambda f: np.savez(f, **values))
    print(f"wrote {target}: {len(values)} tensors", file=sys.stderr)
    return EXIT_OK


def _member_name(key: str) -> str:
    """A key as an .npz member name: zip names are UTF-8, so bytes of a key that are not
    (kept as surrogates by the reader) are written escaped, as \\xff."""
    return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def cmd_stats(args) -> int:
    reader = _require_weights(args)
    info, result = tensor_statistics(reader, args.name, args.bins)
    if args.json:
        dump_json(statistics_json(info, result))
        return EXIT_OK
    print(f"{info.display_name}  {info.dtype_name} {list(info.shape)}  ({result.size:,} values)")
    for k in ("min", "max", "mean", "std", "norm"):
        v = getattr(result, k)
        print(f"  {k:<5} {'-' if v is None else f'{v:.8g}'}")
    print(f"  zeros {result.zeros:,}   nan {result.nan:,}   inf {result.inf:,}")
    _print_histogram(result)
    return EXIT_OK


def _print_histogram(result) -> None:
    if not result.counts:
        return
    peak = max(result.counts) or 1
    step = max(1, len(result.counts) // 20)  # at most ~20 rows in a terminal
    for i in range(0, len(result.counts), step):
        c = sum(result.counts[i:i + step])
        bar = "#" * round(40 * c / (peak * step))
        print(f"  {result.edges[i]:>12.5g} {c:>10,} {bar}")


# -- verify -----------------------------------------------------------------------------

def cmd_verify(args) -> int:
    model = open_path(args.path)
    if not model.checkpoints and model.kind == "graph":
        load_graphs(model)
        print(f"{model.graph_path}: graph parses; no checkpoint to verify")
        return EXIT_OK
    ckpts = [model.checkpoint(args.checkpoint)] if args.checkpoint else model.checkpoints
    result = verify_mod.verify(ckpts)
    for line in result.unreadable + result.corrupt:
        print(f"CORRUPT {line}")
    print(result.summary(sum(1 for c in ckpts if c.on_disk)))
    return EXIT_OK if result.ok else EXIT_PROBLEMS


# -- the parser -------------------------------------------------------------------------

def _inspect_arguments(sp) -> None:
    sp.add_argument("path")
    add_checkpoint_option(sp)
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_inspect)


def _dump_arguments(sp) -> None:
    sp.add_argument("path")
    sp.add_argument("name", nargs="?")
    sp.add_argument("-o", "--output", required=True, metavar="OUT")
    add_checkpoint_option(sp)
    sp.set_defaults(func=cmd_dump)


def _stats_arguments(sp) -> None:
    sp.add_argument("path")
    sp.add_argument("name")
    sp.add_argument("--bins", type=int, default=stats_mod.DEFAULT_BINS)
    add_checkpoint_option(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_stats)


def _verify_arguments(sp) -> None:
    sp.add_argument("path")
    add_checkpoint_option(sp)
    sp.set_defaults(func=cmd_verify)


_ARGUMENTS = {"inspect": _inspect_arguments, "dump": _dump_arguments,
              "stats": _stats_arguments, "verify": _verify_arguments}


def add_parser(sub, name: str, help_text: str) -> None:
    """Add command `name` (one of this module's, as app.cli.commands lists them)."""
    _ARGUMENTS[name](sub.add_parser(name, help=help_text))
