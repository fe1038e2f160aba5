"""The one exception the readers raise for files they cannot read."""

from __future__ import annotations

import os

from .urls import display


class FormatError(Exception):
    """A model file is missing, unreadable, truncated, corrupt or not what it claims.

    `path` names the file at fault; `str(err)` is a short message fit for a user.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        # A signed URL's query string or a URL's user:password never reach a message.
        super().__init__(display(f"{self.path}: {problem}" if self.path else problem))


class Cancelled(Exception):
    """The caller asked to stop (analysis.progress re-exports it; a remote read raises it
    too, when its waiting thread is told to stop)."""


class CorruptDataError(FormatError):
    """Tensor bytes whose checksum does not match the index: never shown as data."""


class ModelsBelow(FormatError):
    """A folder that holds no model itself, but some of its subfolders do: `below` lists
    them (relative to the folder), so that a front end can offer to open one."""

    def __init__(self, path: str, below: list[str]):
        self.below = list(below)
        super().__init__(path, "no model in this folder itself; found in: " + ", ".join(below))


class WriteError(FormatError):
    """A result could not be written (refused destination, full disk, no permission):
    `path` names the destination; nothing partial is left behind."""
