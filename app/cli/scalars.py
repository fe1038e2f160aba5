"""`scalars RUN`: the training curves a run logged (its event files' scalar summaries)."""

from __future__ import annotations

import os
import re

from ..formats.display import number_text
from ..formats import location
from ..formats.errors import FormatError
from ..formats.event_files import DEFAULT_MAX_DEPTH
from ..formats.events import read_scalars
from .common import UsageError, dump_json, report


def _remote_folder(url: str) -> str:
    url = location.normalize(url)
    return url if location.isdir(url) else location.dirname(url)


def _run_folder(path: str) -> str:
    """RUN as typed: a folder, or any file in it (a checkpoint, an event file)."""
    if location.is_url(path):   # read from local copies of its event files
        return location.event_files_copy(_remote_folder(path), DEFAULT_MAX_DEPTH)
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        return path
    if os.path.isfile(path) or os.path.isfile(path + ".index"):    # a file, or a checkpoint prefix
        return os.path.dirname(path)
    raise FormatError(path, "no such file or folder")


def cmd_scalars(args) -> int:
    folder = _run_folder(args.path)
    # a remote run is read from local copies; messages name the remote files
    shown = _remote_folder(args.path) if location.is_url(args.path) else folder
    try:
        pattern = re.compile(args.tag) if args.tag else None
    except re.error as e:
        raise UsageError(f"--tag {args.tag!r}: not a regular expression ({e})") from None
    data = read_scalars(folder, pattern)
    if not data.files:
        raise FormatError(shown, "no event files (events.out.tfevents.*) here or in its subfolders")
    notes = [str(n).replace(folder, shown) for n in data.notes if not n.is_problem]
    problems = [str(n).replace(folder, shown) for n in data.problems]
    if args.json:
        dump_json({"series": [{"run": s.run, "tag": s.tag, "points": [
            {"step": int(step), "wall_time": float(wall), "value": float(value)}
            for step, wall, value in zip(s.steps, s.wall_times, s.values)]} for s in data.series]})
    else:
        _print_table(data.series)
    return report(problems, notes)


def _print_table(series) -> None:
    if not series:
        print("no scalar summaries")
        return
    rows = [(s.tag, s.run, f"{len(s):,}", str(int(s.steps[0])), str(int(s.steps[-1])),
             number_text(float(s.values[-1]), ".6g")) for s in series]
    head = ("tag", "run", "points", "first step", "last step", "last value")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for i, r in enumerate([head, *rows]):
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())


def add_parser(sub, name: str, help_text: str) -> None:
    sp = sub.add_parser(name, help=help_text)
    sp.add_argument("path", metavar="RUN", help="a run folder (its subfolders too, e.g. train/ and eval/), "
                                                "or any file in it")
    sp.add_argument("--tag", metavar="REGEX", help="only the tags this regular expression finds")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_scalars)
