"""The commands that compare checkpoints: `diff A B` and `trend RUN NAME`."""

from __future__ import annotations

import os
import sys

from ..analysis import compare
from ..analysis import stats as stats_mod
from ..formats.display import number_text, shape_text
from ..formats.errors import FormatError
from ..formats.model import open_checkpoint, open_path
from .common import UsageError, dump_json, find_tensor, open_weights_at, report

# -- diff ---------------------------------------------------------------------------------

def cmd_diff(args) -> int:
    problems: list[str] = []
    args.path = args.a  # what run_command names in an unexpected error
    label_a, reader_a = open_weights_at(args.a, problems, "to compare")
    args.path = args.b
    label_b, reader_b = open_weights_at(args.b, problems, "to compare")
    args.path = f"{args.a} vs {args.b}"
    rows = compare.diff(reader_a, reader_b)
    problems += [f"{r.name}: {r.problem}" for r in rows if r.problem]
    summary = {s: sum(r.status == s for r in rows) for s in compare.STATUSES}
    summary["dtype_changed"] = sum(r.dtype_changed for r in rows)
    if args.json:
        dump_json({"a": label_a, "b": label_b, "summary": summary,
                   "variables": [r.to_json() for r in rows]})
    else:
        _print_diff(label_a, label_b, rows, summary)
    return report(problems)


def _print_diff(label_a: str, label_b: str, rows, summary: dict) -> None:
    print(f"A  {label_a}")
    print(f"B  {label_b}")
    compared = [r for r in rows if r.compared]
    if compared:
        width = min(60, max(len(r.name) for r in compared))
        print(f"\n{'rel_l2':>11} {'max|B-A|':>11} {'mean|B-A|':>11}  {'shape':<20} name")
        for r in compared:
            note = "  (identical)" if r.status == "unchanged" else ""
            if r.dtype_changed:
                note += f"  ({r.dtype_a} -> {r.dtype_b})"
            if r.rel_l2 is None:
                note += "  (strings: compared for equality)" if r.status == "changed" else ""
            line = (f"{number_text(r.rel_l2, '.4e'):>11} "
                    f"{number_text(r.max_abs_delta, '.4e'):>11} "
                    f"{number_text(r.mean_abs_delta, '.4e'):>11}  {shape_text(r.shape_a, '-'):<20} "
                    f"{r.name:<{width}}{note}")
            print(line.rstrip())
    sections = (("reshaped", "reshaped"), ("added", "added (only in B)"),
                ("removed", "removed (only in A)"), ("unreadable", "could not be compared"))
    for status, title in sections:
        group = [r for r in rows if r.status == status]
        if not group:
            continue
        print(f"\n{title}:")
        for r in group:
            if status == "reshaped":
                what = (f"{shape_text(r.shape_a, '-')} {r.dtype_a} -> "
                        f"{shape_text(r.shape_b, '-')} {r.dtype_b}")
            elif status == "added":
                what = f"{shape_text(r.shape_b, '-')} {r.dtype_b}"
            elif status == "removed":
                what = f"{shape_text(r.shape_a, '-')} {r.dtype_a}"
            else:
                what = r.problem or ""
            print(f"  {r.name}  {what}")
    parts = [f"{summary[s]} {s}" for s in compare.STATUSES
             if summary[s] or s in ("changed", "unchanged")]
    extra = f" ({summary['dtype_changed']} with a new dtype)" if summary["dtype_changed"] else ""
    print(f"\n{len(rows)} variables: {', '.join(parts)}{extra}")


# -- trend --------------------------------------------------------------------------------

def cmd_trend(args) -> int:
    model = open_path(args.path)
    problems, notes = list(model.problems), []
    ckpts = [c for c in model.checkpoints if c.on_disk]
    if not ckpts:
        raise UsageError(f"{model.path}: no checkpoints to follow")
    readers = []
    for c in ckpts:
        try:
            reader = open_checkpoint(c)
        except FormatError as e:
            problems.append(str(e))
            continue
        readers.append((c.step, reader))
    if not readers:
        raise FormatError(model.path, "none of its checkpoints can be read")
    key, missing = None, None
    for _step, reader in reversed(readers):  # the newest checkpoint that has it names it
        try:
            key = find_tensor(reader, args.name)
            break
        except UsageError as e:
            missing = missing or e
    if key is None:
        raise missing
    result = compare.trend(readers, key, bins=args.bins)
    for p in result.points:
        if p.problem == "not in this checkpoint":
            notes.append(f"{os.path.basename(p.prefix)}: {result.name} is not in this checkpoint")
        elif p.problem:
            problems.append(f"{os.path.basename(p.prefix)}: {p.key}: {p.problem}")
    if args.json:
        dump_json(result.to_json())
    else:
        _print_trend(result)
    return report(problems, notes)


def _spark(counts: list[int], width: int = 24) -> str:
    """A histogram as one line of block characters (ASCII if the terminal can't)."""
    if not counts:
        return ""
    ramp = " ▁▂▃▄▅▆▇█"
    try:
        ramp.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        ramp = " .:-=+*#%@"
    step = max(1, -(-len(counts) // width))
    cols = [sum(counts[i:i + step]) for i in range(0, len(counts), step)]
    top = max(cols) or 1
    return "".join(ramp[min(len(ramp) - 1, -(-c * (len(ramp) - 1) // top))] for c in cols)


def _print_trend(result) -> None:
    first = next((p for p in result.points if p.shape is not None), None)
    what = f"  {first.dtype} {shape_text(first.shape, '-')}" if first else ""
    print(f"{result.name}{what}  over {len(result.points)} checkpoint(s)")
    print(f"\n{'step':>8} {'mean':>11} {'std':>11} {'norm':>11} {'min':>11} {'max':>11} "
          f"{'rel first':>10} {'rel prev':>10}  histogram")
    for p in result.points:
        step = "-" if p.step is None else p.step
        if p.problem:
            print(f"{step!s:>8}  ({os.path.basename(p.prefix)}: {p.problem})")
            continue
        print(f"{step!s:>8} {number_text(p.mean, '.4e'):>11} {number_text(p.std, '.4e'):>11} "
              f"{number_text(p.norm, '.4e'):>11} {number_text(p.min, '.4e'):>11} "
              f"{number_text(p.max, '.4e'):>11} {number_text(p.rel_change_first, '.3e'):>10} "
              f"{number_text(p.rel_change_prev, '.3e'):>10}  "
              f"|{_spark(p.counts)}|")
    if result.edges:
        print(f"\nhistograms: {result.bins} bins shared by every step, "
              f"{result.edges[0]:.6g} .. {result.edges[-1]:.6g}")


# -- the parser ---------------------------------------------------------------------------

def _diff_arguments(sp) -> None:
    sp.add_argument("a", metavar="A", help="checkpoint prefix, any file of it, a folder "
                                           "(its latest checkpoint) or FOLDER@STEP")
    sp.add_argument("b", metavar="B", help="the same forms as A")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_diff)


def _trend_arguments(sp) -> None:
    sp.add_argument("path", metavar="RUN", help="a run folder, or any checkpoint or file in it")
    sp.add_argument("name", help="checkpoint key or readable name of the variable")
    sp.add_argument("--bins", type=int, default=stats_mod.DEFAULT_BINS,
                    help="histogram bins, shared by all steps (default: %(default)s)")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_trend)


_ARGUMENTS = {"diff": _diff_arguments, "trend": _trend_arguments}


def add_parser(sub, name: str, help_text: str) -> None:
    """Add command `name` (one of this module's, as app.cli.commands lists them)."""
    _ARGUMENTS[name](sub.add_parser(name, help=help_text))
