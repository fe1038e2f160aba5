"""Discovery of the checkpoints of a training run folder.

A folder may hold a `checkpoint` state file (text CheckpointState) whose paths are often
absolute paths of the machine that trained; they are resolved by name in the folder the
state file sits in, and never followed outside it. Checkpoints on disk that the state file
does not list are found too, as are listed ones that are gone.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field

from google.protobuf import text_format

from . import keras, location, protos
from .bundle import data_file_name
from .errors import FormatError
from .files import read_small_file
from .v1 import is_v1_file

STATE_FILE = "checkpoint"
_DATA_RE = re.compile(r"^(.*)\.data-(\d{5})-of-(\d{5})$")
_V1_SHARD_RE = re.compile(r"^(.*)-(\d{5})-of-(\d{5})$")
_NOT_V1 = (".index", ".meta", ".pb", ".pbtxt", ".json", ".txt", ".npy", ".npz", ".h5", ".hdf5", ".keras", ".py",
           ".md", ".csv", ".png", ".jpg", ".tflite", ".onnx", ".zip", ".gz", ".log")
_MAX_V1_PROBES = 200


@dataclass
class Checkpoint:
    prefix: str                        # path prefix, as TensorFlow's Saver names it
    step: int | None = None
    meta: str | None = None            # the .meta that describes its graph, if any
    index: str | None = None           # None for V1 checkpoints
    data_files: list[str] = field(default_factory=list)
    latest: bool = False
    format: str = "bundle"             # "bundle", "v1" or "keras" (one Keras file)
    on_disk: bool = True               # False: named by the state file but not found
    mtime: float | None = None
    size: int = 0                      # bytes on disk
    note: str = ""                     # why it is listed although not on disk (e.g. deleted while shown)

    @property
    def name(self) -> str:
        # A prefix may end in a separator (files "run/.index"): then the folder names it.
        return os.path.basename(self.prefix) or os.path.basename(os.path.dirname(self.prefix)) + "/"


def step_of(prefix: str) -> int | None:
    """The global step in a checkpoint's name: `epoch-7` → 7, `model.ckpt-1000` → 1000,
    `epoch_3` → 3; a Keras file's epoch (`weights.epoch01.h5` → 1)."""
    if prefix.lower().endswith(keras.EXTENSIONS):
        return keras.step_of(prefix)
    m = re.search(r"[-_](\d+)$", os.path.basename(prefix))
    return int(m.group(1)) if m else None


def read_state(folder: str) -> tuple[list[str], str | None]:
    """(all listed paths, model_checkpoint_path) of a folder's state file. FormatError if
    it exists but does not parse."""
    path = location.join(folder, STATE_FILE)
    data = read_small_file(path, limit=16 << 20)
    state = protos.CheckpointState()
    try:
        text_format.Parse(data.decode("utf-8"), state)
    except Exception:
        raise FormatError(path, "checkpoint state file does not parse (garbage or not a state file)") from None
    location.trust(path)
    listed = list(state.all_model_checkpoint_paths)
    latest = state.model_checkpoint_path or None
    if latest and latest not in listed:
        listed.append(latest)
    return listed, latest


def _inside(folder: str, listed: str) -> str:
    """Where a state file's path is, resolved inside `folder`: its own place when that is
    in the folder, else its last component in the folder (paths of the training machine)."""
    candidate = location.normpath(location.join(folder, listed))
    if location.inside(folder, candidate) and (
            location.exists(candidate + ".index") or location.exists(candidate)
            or any(c in listed for c in "*?[")):
        return candidate
    base = re.split(r"[\\/]", listed.rstrip("/\\"))[-1]
    return location.join(folder, base)


class RunFolder:
    """Every checkpoint in one folder, by step, with the problems met on the way."""

    def __init__(self, folder: str):
        self.folder = folder
        self.problems: list[str] = []   # what could not be read
        self.notes: list[str] = []      # what is worth knowing but not wrong
        try:
            names = sorted(location.listdir(folder))
        except OSError as e:
            raise FormatError(folder, f"cannot list folder: {e.strerror}") from None
        self.names = names
        by_prefix: dict[str, Checkpoint] = {}

        for name in names:
            full = location.join(folder, name)
            if name.endswith(".index"):
                p = full[: -len(".index")]
                by_prefix[p] = Checkpoint(p, index=full)
            else:
                m = _DATA_RE.match(name)
                if m and location.join(folder, m.group(1)) not in by_prefix and \
                        m.group(1) + ".index" not in names:
                    self.problems.append(f"{name}: data file without its .index; cannot be read")

        self._find_v1(names, by_prefix)
        for name in names:  # Keras files: each one a checkpoint of the run (by epoch)
            full = os.path.join(folder, name)
            if name.lower().endswith(keras.EXTENSIONS) and os.path.isfile(full) \
                    and keras.is_keras_file(full):
                by_prefix[full] = Checkpoint(full, index=full, data_files=[full], format="keras")

        listed, latest = [], None
        if STATE_FILE in names and location.isfile(location.join(folder, STATE_FILE)):
            try:
                listed, latest = read_state(folder)
            except FormatError as e:
                self.problems.append(str(e) + "; listing the checkpoints found on disk")
        latest_prefix = None
        for entry in listed:
            p = _inside(folder, entry)
            if any(c in p for c in "*?["):  # V1 sharded saves name their files by pattern
                hits = [q for q in by_prefix if fnmatch.fnmatch(os.path.basename(
                        by_prefix[q].data_files[0] if by_prefix[q].data_files else q),
                        os.path.basename(p))]
                p = hits[0] if hits else p
            if p not in by_prefix:
                by_prefix[p] = Checkpoint(p, on_disk=False)
                elsewhere = location.normpath(location.join(folder, entry))
                if not location.inside(folder, elsewhere) \
                        and (location.exists(elsewhere) or location.exists(elsewhere + ".index")):
                    # It exists there: say plainly that it was not read, and why.
                    where = entry if os.path.isabs(entry) else f"{entry} ({elsewhere})"
                    self.notes.append(f"the state file lists {where}, outside this folder: not followed "
                                      f"(looked for {os.path.basename(p)} here, which is not on disk)")
                else:
                    self.notes.append(f"the state file lists {os.path.basename(p)}, which is not on disk")
            if entry == latest:
                latest_prefix = p

        self.checkpoints = sorted(by_prefix.values(), key=lambda c: (
            step_of(c.prefix) is None, step_of(c.prefix) or 0, c.prefix))
        metas = [n for n in names if n.endswith(".meta")]
        for c in self.checkpoints:
            c.step = step_of(c.prefix)
            c.meta = self._meta_for(c, metas) if c.format != "keras" else None
            if c.format == "bundle" and c.on_disk:
                c.data_files = self._bundle_data(c)
            self._measure(c)
        self._mark_latest(latest_prefix)

    def _find_v1(self, names: list[str], by_prefix: dict[str, Checkpoint]) -> None:
        probes = 0
        groups: dict[str, list[str]] = {}
        for name in names:
            if name == STATE_FILE or name.endswith(_NOT_V1) or _DATA_RE.match(name) \
                    or name.startswith("events.out"):
                continue
            full = location.join(self.folder, name)
            if not location.isfile(full) or probes >= _MAX_V1_PROBES:
                continue
            probes += 1
            if not is_v1_file(full):
                continue
            m = _V1_SHARD_RE.match(name)
            prefix = location.join(self.folder, m.group(1)) if m else full
            groups.setdefault(prefix, []).append(full)
        for prefix, files in groups.items():
            if prefix not in by_prefix:
                by_prefix[prefix] = Checkpoint(prefix, format="v1", data_files=sorted(files))

    def _bundle_data(self, c: Checkpoint) -> list[str]:
        """The data shards named next to an index (the header gives their count; here the
        folder listing does, and the reader checks it against the header)."""
        base = os.path.basename(c.prefix)
        found = []
        for name in self.names:
            m = _DATA_RE.match(name)
            if m and m.group(1) == base:
                found.append(location.join(self.folder, name))
        if not found:
            found = [data_file_name(c.prefix, 0, 1)]
        return found

    def _meta_for(self, c: Checkpoint, metas: list[str]) -> str | None:
        """Its own .meta, else the nearest one of the same run (runs often write it once).
        A sharded V1 checkpoint's prefix is its shards' name without `-0000i-of-0000n`, so
        its own .meta is the one Saver wrote beside the shards."""
        own = c.prefix + ".meta"
        if os.path.basename(own) in metas:
            return own
        stem = re.sub(r"[-_]\d+$", "", os.path.basename(c.prefix))
        same_run = []
        for m in metas:
            mstem = re.sub(r"[-_]\d+$", "", m[: -len(".meta")])
            if mstem == stem:
                same_run.append((step_of(m[: -len(".meta")]), m))
        if same_run:
            step = c.step if c.step is not None else 0
            below = [s for s in same_run if s[0] is not None and s[0] <= step]
            pick = max(below) if below else min(same_run, key=lambda s: (s[0] is None, s[0] or 0))
            return location.join(self.folder, pick[1])
        if len(metas) == 1:
            return location.join(self.folder, metas[0])
        return None

    def _measure(self, c: Checkpoint) -> None:
        # A Keras file is its own index and data file: counted once.
        files = dict.fromkeys(([c.index] if c.index else []) + c.data_files)
        for f in files:
            try:
                st = location.stat(f)
            except FormatError:
                continue
            c.size += st.size
            c.mtime = max(c.mtime or 0.0, st.mtime)

    def _mark_latest(self, latest_prefix: str | None) -> None:
        present = [c for c in self.checkpoints if c.on_disk]
        if not present:
            return
        pick = next((c for c in present if c.prefix == latest_prefix), None)
        if pick is None:
            with_steps = [c for c in present if c.step is not None]
            pick = max(with_steps, key=lambda c: c.step) if with_steps else max(
                present, key=lambda c: c.mtime or 0.0)
        pick.latest = True
