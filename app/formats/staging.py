"""Putting a written checkpoint in place atomically, never over or inside its source.

Everything is written into a hidden folder beside the destination (same filesystem, so
renames are atomic). When the destination folder does not exist yet, it is built in there
(with any missing folders above it) and renamed into place whole. When it does, the files move in one by one, data shards first
and the `.index` last — a checkpoint exists for TensorFlow and for this app only once its
index does — and then the folder's `checkpoint` state file is replaced atomically. On any
error or cancel, whatever had moved is taken back and the hidden folder removed: nothing
partial is left behind.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid

from google.protobuf import text_format

from . import protos
from .errors import FormatError, WriteError
from .run import STATE_FILE, read_state


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def _within(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def destination_problem(prefix: str, source_folders=()) -> str | None:
    """Why a checkpoint cannot be written at `prefix`, or None. A destination inside a
    source's folder is refused: the result would change that run (its state file, its
    listing)."""
    if not os.path.basename(prefix):
        return "names a folder: give the result's prefix, e.g. out/model.ckpt"
    folder = _real(os.path.dirname(prefix) or ".")
    for src in source_folders:
        src = _real(src)
        if _within(folder, src):
            return (f"is inside the source's folder {src}: write the result elsewhere "
                    "(an edit never changes the folder it reads from)")
    if not os.path.isdir(folder):
        top = _missing_top(folder)
        if os.path.exists(top):
            return f"{top} is not a folder"
        if not os.path.isdir(os.path.dirname(top)):
            return f"{os.path.dirname(top)} is not a folder"
        return None
    taken = [p for p in (prefix + ".index", prefix + ".meta") if os.path.lexists(p)]
    taken += glob.glob(glob.escape(prefix) + ".data-*")
    if taken:
        return f"{os.path.basename(taken[0])} already exists there: choose another name"
    return None


def _missing_top(folder: str) -> str:
    """The outermost folder on the way to `folder` that does not exist (or is no folder)."""
    top = folder
    while not os.path.exists(os.path.dirname(top)) and os.path.dirname(top) != top:
        top = os.path.dirname(top)
    return top


class StagedCheckpoint:
    """A checkpoint written at `staged_prefix`, moved to `prefix` by `commit`; `abort`
    (also on leaving a `with` block by an exception) removes every trace."""

    def __init__(self, prefix: str, source_folders=()):
        prefix = os.path.abspath(os.path.expanduser(prefix))
        problem = destination_problem(prefix, source_folders)
        if problem:
            raise WriteError(prefix, problem)
        self.prefix = prefix
        self.folder = os.path.dirname(prefix)
        self._new_folder = not os.path.isdir(self.folder)
        # a new folder (and any missing folders above it) is built whole, then renamed in
        self._top = _missing_top(self.folder) if self._new_folder else self.folder
        parent = os.path.dirname(self._top) if self._new_folder else self.folder
        base = os.path.basename(self._top if self._new_folder else prefix)
        self.staging = os.path.join(parent, f".{base}.partial-{uuid.uuid4().hex[:8]}")
        inner = os.path.join(self.staging, os.path.relpath(self.folder, self._top)) \
            if self._new_folder else self.staging
        try:
            os.makedirs(inner)
        except OSError as e:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise WriteError(self.staging, f"cannot write: {e.strerror}") from None
        self._inner = os.path.normpath(inner)
        self.staged_prefix = os.path.join(self._inner, os.path.basename(prefix))
        self._done = False

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.abort()
        return False

    def commit(self, state_file: bool = True) -> list[str]:
        """Move the staged files into place (the index last) and record the checkpoint
        in the folder's state file. Returns the final paths."""
        names = sorted(os.listdir(self._inner), key=_move_order)
        if state_file:
            self._stage_state_file()
        if self._new_folder:
            try:
                os.rename(self.staging, self._top)
            except OSError as e:
                self.abort()
                raise WriteError(self._top, f"cannot move the result into place: {e.strerror}") from None
            self._done = True
            return [os.path.join(self.folder, n) for n in names]
        moved: list[str] = []
        try:
            for name in names:
                target = os.path.join(self.folder, name)
                if os.path.lexists(target):
                    raise WriteError(target, "appeared while the result was written: not replaced")
                os.rename(os.path.join(self._inner, name), target)
                moved.append(target)
            if state_file:
                os.replace(os.path.join(self._inner, STATE_FILE),
                           os.path.join(self.folder, STATE_FILE))
        except (OSError, WriteError) as e:
            for target in reversed(moved):
                try:
                    os.remove(target)
                except OSError:
                    pass
            self.abort()
            if isinstance(e, WriteError):
                raise
            raise WriteError(self.prefix, f"cannot move the result into place: {e.strerror}") from None
        self._done = True
        shutil.rmtree(self.staging, ignore_errors=True)
        return moved

    def _stage_state_file(self) -> None:
        """The folder's state file with this checkpoint added and made the latest (as
        TensorFlow's Saver does), paths relative to the folder."""
        listed: list[str] = []
        if not self._new_folder and os.path.isfile(os.path.join(self.folder, STATE_FILE)):
            try:
                listed, _latest = read_state(self.folder)
            except FormatError:
                listed = []  # a state file that does not parse is replaced by a good one
        name = os.path.basename(self.prefix)
        state = protos.CheckpointState(model_checkpoint_path=name)
        state.all_model_checkpoint_paths.extend([p for p in listed if p != name] + [name])
        path = os.path.join(self._inner, STATE_FILE)
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text_format.MessageToString(state))
        except OSError as e:
            self.abort()
            raise WriteError(path, f"cannot write: {e.strerror}") from None

    def abort(self) -> None:
        if not self._done:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._done = True


def _move_order(name: str) -> tuple[int, str]:
    if name.endswith(".index"):
        return (2, name)
    if name == STATE_FILE:
        return (3, name)
    return (1, name)
