"""Where a run's event files are (`events.out.tfevents.*`), found without numpy or protobuf:
the window asks this while it opens a model, to know whether to offer its training curves."""

from __future__ import annotations

import os
import re

EVENT_FILE_MARK = "tfevents"      # tensorboard's test for an event file's name
DEFAULT_MAX_DEPTH = 3             # run/, run/train/, run/logs/train/ and one more level
_NAME_TS = re.compile(r"tfevents\.(\d+)")


def is_event_file_name(name: str) -> bool:
    return EVENT_FILE_MARK in name


def _file_order(path: str):
    """Writers put the creation time (seconds) after `tfevents.`; files of one run are read
    in that order, then by name (tensorboard's directory watcher reads by name)."""
    name = os.path.basename(path)
    m = _NAME_TS.search(name)
    return (int(m.group(1)) if m else -1, name)


def find_event_files(run_folder: str, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, list[str]]:
    """Event files under `run_folder`, by run ("." for the folder itself, else the subfolder's
    path relative to it with "/"), each run's files in file order. Subfolders deeper than
    `max_depth` below the run folder, hidden ones and links back up the tree are not
    searched."""
    runs: dict[str, list[str]] = {}
    seen: set[str] = set()

    def walk(folder: str, rel: str, depth: int) -> None:
        real = os.path.realpath(folder)
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        files, subfolders = [], []
        for entry in entries:
            try:
                if entry.is_dir():
                    if not entry.name.startswith("."):
                        subfolders.append(entry)
                elif entry.is_file() and is_event_file_name(entry.name):
                    files.append(entry.path)
            except OSError:
                continue
        if files:
            runs[rel] = sorted(files, key=_file_order)
        if depth < max_depth:
            for entry in subfolders:
                walk(entry.path, entry.name if rel == "." else f"{rel}/{entry.name}", depth + 1)

    walk(os.fspath(run_folder), ".", 0)
    return runs
