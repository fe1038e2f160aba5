"""The commands that write checkpoints: `edit SRC -o DST` (keep, drop, strip the
optimizer, rename, cast, take from another checkpoint, re-shard) and `average RUN --last N
-o DST`. Both plan first (`--dry-run` prints the plan and stops), then write the result
atomically; the source is never changed."""

from __future__ import annotations

import os
import re

from ..analysis import edit
from ..formats.display import human_bytes
from ..formats.errors import FormatError
from ..formats.model import load_graphs, open_checkpoint, open_path
from .common import (UsageError, dump_json, open_weights, report, split_at_step)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`500M`, `2GiB`, `1.5g`, `65536`: bytes (K, M, G, T are powers of 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise UsageError(f"--max-shard-size {text!r}: expected a size such as 500M or 2G")
    n = float(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower())
    if n < 1:
        raise UsageError(f"--max-shard-size {text!r}: must be at least one byte")
    return int(n)


def _exists(arg: str) -> bool:
    path, _ = split_at_step(arg)
    path = os.path.expanduser(path)
    return os.path.exists(path) or os.path.exists(path + ".index")


def split_take(arg: str) -> tuple[str, str]:
    """`RE:OTHER` → (RE, OTHER). The pattern may hold colons: the split is the last colon
    after which a checkpoint is found."""
    for i in reversed([i for i, c in enumerate(arg) if c == ":"]):
        pattern, other = arg[:i], arg[i + 1:]
        if pattern and other and _exists(other):
            return pattern, other
    raise UsageError(f"--take {arg!r}: expected PATTERN:CHECKPOINT, with a checkpoint that exists")


def _open_source(arg: str, problems: list[str]):
    """(model, checkpoint, reader, graph or None) for a checkpoint argument."""
    path, which = split_at_step(arg)
    model = open_path(path)
    problems += model.problems
    ckpt, reader = open_weights(model, which, problems)
    if ckpt is None:
        raise UsageError(f"{arg}: no checkpoint to edit (a graph file holds no checkpoint)")
    graph = None
    try:
        graphs = load_graphs(model, ckpt)
        graph = graphs[0] if graphs else None
    except FormatError as e:
        problems.append(f"{e}; the result gets no graph")
    return model, ckpt, reader, graph


# -- printing ------------------------------------------------------------------------------

def _print_plan(plan: edit.Plan, written: edit.WriteResult | None) -> None:
    rows = plan.rows
    width = min(60, max((len(r.key) for r in rows), default=4))
    print(f"source  {plan.source}")
    print(f"\n{'action':<18} {'before':>10} {'after':>10}  {'dtype':<20} {'shape':<16} variable")
    for r in rows:
        action = "+".join(r.actions)
        dtype = r.dtype if r.new_dtype == r.dtype or not r.kept else f"{r.dtype}->{r.new_dtype}"
        shape = "[" + ",".join(str(d) for d in r.shape) + "]"
        name = r.key if r.new_key in (None, r.key) else f"{r.key} -> {r.new_key}"
        note = f"  [{r.display_name}]" if r.display_name != r.key else ""
        note += f"  ({r.reason})" if r.reason else ""
        after = human_bytes(r.bytes_after) if r.kept else "-"
        print(f"{action:<18} {human_bytes(r.bytes_before):>10} {after:>10}  {dtype:<20} "
              f"{shape:<16} {name:<{width}}{note}".rstrip())
    counts = ", ".join(f"{n} {a}" for a, n in plan.counts().items() if n)
    print(f"\n{len(rows)} variables: {counts}")
    print(f"size: {human_bytes(plan.bytes_before)} -> {human_bytes(plan.bytes_after)}"
          + (f", shards of at most {human_bytes(plan.max_shard_bytes)}" if plan.max_shard_bytes else ""))
    if plan.graph_note:
        print(f"graph: {plan.graph_note}")
    if written is not None:
        shards = sum(".data-" in f for f in written.files)
        print(f"wrote {written.prefix} ({human_bytes(written.bytes_written)}, "
              f"{shards} data file{'s' if shards != 1 else ''})")
    else:
        print("dry run: nothing written")


def _finish(args, plan: edit.Plan, problems: list[str]) -> int:
    written = None
    if not args.dry_run:
        problem = plan.destination_problem(args.output)
        if problem:
            raise UsageError(f"{os.path.abspath(args.output)}: {problem}")
        try:
            written = edit.write_plan(plan, args.output)
        except edit.PlanError as e:
            raise UsageError(str(e)) from None
    if args.json:
        out = plan.to_json()
        out["written"] = None if written is None else {
            "prefix": written.prefix, "files": written.files, "bytes": written.bytes_written}
        dump_json(out)
    else:
        _print_plan(plan, written)
    return report(problems, plan.notes)


# -- edit ----------------------------------------------------------------------------------

def cmd_edit(args) -> int:
    problems: list[str] = []
    args.path = args.src
    if args.output is None and not args.dry_run:
        raise UsageError("give the result's prefix with -o DST (or --dry-run to see the plan)")
    _model, _ckpt, reader, graph = _open_source(args.src, problems)
    spec = edit.EditSpec(keep=args.keep or [], drop=args.drop or [],
                         strip_optimizer=args.strip_optimizer, cast=args.cast)
    for r in args.rename or []:
        pattern, sep, repl = r.partition("=")
        if not sep or not pattern:
            raise UsageError(f"--rename {r!r}: expected PATTERN=REPLACEMENT")
        spec.renames.append((pattern, repl))
    if args.rename_map:
        spec.rename_map = edit.read_rename_map(args.rename_map)
    others = []
    try:
        for t in args.take or []:
            pattern, other = split_take(t)
            _m, _c, other_reader, _g = _open_source(other, problems)
            others.append(other_reader)
            spec.take.append((pattern, other_reader))
        if args.max_shard_size:
            spec.max_shard_bytes = parse_size(args.max_shard_size)
        try:
            plan = edit.plan_edit(reader, spec, graph)
        except edit.PlanError as e:
            raise UsageError(str(e)) from None
        return _finish(args, plan, problems)
    finally:
        for r in [reader, *others]:
            r.close()


# -- average -------------------------------------------------------------------------------

def cmd_average(args) -> int:
    problems: list[str] = []
    if args.output is None and not args.dry_run:
        raise UsageError("give the result's prefix with -o DST (or --dry-run to see the plan)")
    if args.last < 2:
        raise UsageError("--last must be at least 2")
    model = open_path(args.path)
    problems += model.problems
    ckpts = [c for c in model.checkpoints if c.on_disk]
    if len(ckpts) < args.last:
        raise UsageError(f"{model.path}: asked for the last {args.last} checkpoints, the run has "
                         f"{len(ckpts)}")
    chosen = ckpts[-args.last:]
    readers = []
    try:
        for c in chosen:
            readers.append(open_checkpoint(c))
        graph = None
        try:
            graphs = load_graphs(model, chosen[-1])
            graph = graphs[0] if graphs else None
        except FormatError as e:
            problems.append(f"{e}; the result gets no graph")
        try:
            plan = edit.plan_average(readers, graph)
        except edit.PlanError as e:
            raise UsageError(str(e)) from None
        plan.notes.insert(0, "averaged " + ", ".join(c.name for c in chosen))
        return _finish(args, plan, problems)
    finally:
        for r in readers:
            r.close()


# -- the parser ----------------------------------------------------------------------------

def _edit_arguments(sp) -> None:
    sp.add_argument("src", metavar="SRC", help="checkpoint prefix, any file of it, a folder "
                                               "(its latest checkpoint) or FOLDER@STEP")
    sp.add_argument("-o", "--output", metavar="DST",
                    help="prefix of the result (DST.index, DST.data-*); its folder must not be "
                         "the source's")
    sp.add_argument("--keep", action="append", metavar="RE",
                    help="keep only variables whose key or name matches (repeatable)")
    sp.add_argument("--drop", action="append", metavar="RE",
                    help="drop variables whose key or name matches (repeatable)")
    sp.add_argument("--strip-optimizer", action="store_true",
                    help="drop the optimizer's state (slots, beta powers); step counters stay")
    group = sp.add_mutually_exclusive_group()
    group.add_argument("--rename", action="append", metavar="RE=REPL",
                       help="regular-expression substitution on keys, e.g. '^Conv=encoder/Conv' "
                            "(repeatable, applied in order)")
    group.add_argument("--rename-map", metavar="FILE",
                       help="rename by a file: JSON {old: new} or lines 'OLD NEW'")
    sp.add_argument("--cast", choices=edit.CAST_TARGETS,
                    help="cast floating variables (round to nearest even, as tf.cast)")
    sp.add_argument("--take", action="append", metavar="RE:OTHER",
                    help="take variables matching RE from checkpoint OTHER (repeatable)")
    sp.add_argument("--max-shard-size", metavar="SIZE",
                    help="split the data into files of at most SIZE (e.g. 500M, 2G)")
    sp.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_edit)


def _average_arguments(sp) -> None:
    sp.add_argument("path", metavar="RUN", help="a run folder, or any checkpoint or file in it")
    sp.add_argument("--last", type=int, required=True, metavar="N",
                    help="average the last N checkpoints of the run")
    sp.add_argument("-o", "--output", metavar="DST", help="prefix of the result")
    sp.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_average)


_ARGUMENTS = {"edit": _edit_arguments, "average": _average_arguments}


def add_parser(sub, name: str, help_text: str) -> None:
    """Add command `name` (one of this module's, as app.cli.commands lists them)."""
    _ARGUMENTS[name](sub.add_parser(name, help=help_text))
