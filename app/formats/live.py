"""Watching a training folder while TensorFlow writes checkpoints into it.

How TensorFlow writes a checkpoint (TF 2.21, traced with strace; the C++ is
tensor_bundle.cc's BundleWriter and MergeBundles, the Python checkpoint_management.py):

* TF1 `Saver` (sharded=False), prefix P = `model.ckpt-N`:
  1. `P.data-00000-of-00001.tempstate<random>` written, then renamed to its final name;
  2. `P.index.tempstate<random>` written, then renamed to `P.index` (atomic);
  3. `checkpoint` (state file) written to `checkpoint.tmp<uuid>`, renamed (atomic);
  4. max_to_keep: the oldest checkpoint's `.meta`, then `.index`, then its data files are
     unlinked;
  5. `P.meta` written to a temporary name and renamed.
* TF1 `Saver(sharded=True)` and TF2 `Checkpoint.write` / `CheckpointManager.save`:
  1. a folder `P_temp` (TF1: `P_temp_<uuid>`) receives one small bundle per device,
     `part-0000i-of-0000n.{data-00000-of-00001,index}`, each via tempstate + rename;
  2. each part's data file is renamed into the run folder as `P.data-0000i-of-0000n`;
  3. `P.index` is opened with O_TRUNC *in place* and written: for a moment it exists,
     empty or half written, next to complete data files;
  4. the part indexes and `P_temp` are removed;
  5. (CheckpointManager / Saver) the state file is replaced atomically, then the oldest
     checkpoint beyond max_to_keep loses its `.index` first, then its data files.

So: data files always reach their final names before the index does, and a checkpoint
disappears with its index. The rules used here follow from that:

* a checkpoint *is* its `.index` in the folder itself (temporary folders and
  `.tempstate`/`.tmp` names are never looked at);
* it is complete when its index parses and every data shard the header declares exists
  and is at least as long as the furthest entry the index places in it. An index that
  does not parse yet, or a shard that is short or missing, is "not complete yet" for a
  grace period after its files last changed; after that it is reported with a problem;
* it is removed when its `.index` leaves the folder (its data files may linger a moment).

The state file is not consulted: it is written after the checkpoint and may be garbage or
stale, and the folder listing already says everything that is needed.

Cost: `poll()` stats the folder; if its modification time has not changed and nothing is
pending, that is all (on network and FUSE mounts, whose folder times are cached, it lists
the folder's names as well: `trust_folder_time=False`). Otherwise it lists the folder (names only) and stats and parses only
prefixes that are new, pending, or whose set of file names changed. Files of checkpoints
already reported are re-stat'ed only every `sweep` seconds, to notice rewrites in place
(which do not touch the folder's own time). A folder at a URL has no time of its own:
each poll lists it afresh (one request) and compares names, sizes and times.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from . import location, protos
from .bundle import HEADER_KEY, data_file_name
from .errors import FormatError
from .run import step_of
from .table import Table

_DATA_RE = re.compile(r"^(.*)\.data-(\d{5})-of-(\d{5})$")


@dataclass
class WatchEvent:
    kind: str                         # "added", "removed" or "changed"
    prefix: str
    step: int | None
    problem: str | None = None        # why an added/changed checkpoint is not readable
    files: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    names: frozenset                  # the file names of this prefix in the folder
    signature: tuple | None = None    # (name, size, mtime_ns) of each, when last stat'ed
    changed_at: float = 0.0           # monotonic time the signature last changed
    decided: tuple | None = None      # the signature last judged complete or overdue
    reported: bool = False
    problem: str | None = None        # the problem it was reported with, if any


def completeness(prefix: str) -> str | None:
    """None when the checkpoint at `prefix` is whole: its index parses and every shard it
    declares exists with at least the bytes its entries need. Else why not, in words."""
    try:
        table = Table(prefix + ".index")
        header, ends = None, {}
        for key, value in table.items():
            if key == HEADER_KEY:
                header = protos.BundleHeaderProto.FromString(value)
                continue
            entry = protos.BundleEntryProto.FromString(value)
            end = entry.offset + entry.size
            if end > ends.get(entry.shard_id, 0):
                ends[entry.shard_id] = end
    except FormatError as e:
        return e.problem
    except Exception:  # a protobuf DecodeError: the index is still being written
        return "index does not parse yet"
    if header is None:
        return "index has no bundle header"
    n = header.num_shards
    if not 1 <= n <= 1_000_000:
        return f"bundle header declares {n} shards"
    for shard in range(n):
        path = data_file_name(prefix, shard, n)
        st = _size_and_time(path)
        if st is None:
            return f"data file {os.path.basename(path)} is missing"
        size = st[0]
        if size < ends.get(shard, 0):
            return (f"data file {os.path.basename(path)} has {size} bytes, the index needs "
                    f"{ends[shard]} (truncated or still being written)")
    if any(s >= n for s in ends):
        return "index places entries in shards its header does not declare"
    return None


def _size_and_time(path: str) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file, None if it is gone."""
    if location.is_url(path):
        try:
            st = location.stat(path)
        except FormatError:
            return None
        return st.size, int(st.mtime * 1e9)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class RunWatcher:
    """The checkpoints of one folder as they come and go; `poll()` says what changed."""

    def __init__(self, folder: str, grace: float = 2.0, sweep: float = 5.0,
                 clock=time.monotonic, wall=time.time, trust_folder_time: bool = True):
        self.folder = folder
        # On NFS and FUSE mounts the folder's time is cached (FUSE's attr_timeout, NFS's
        # acdirmin): a checkpoint can come and go before it moves. There every poll lists
        # the folder (names only; still no stat or read of what is known).
        self.trust_folder_time = trust_folder_time
        self.grace = grace
        self.sweep = sweep
        self._clock = clock
        self._wall = wall
        self._entries: dict[str, _Entry] = {}
        self._dir_sig: tuple | None = None
        self._last_sweep = clock()
        self.reads = 0                # indexes parsed so far (for tests of the cost)
        self.last_change: float | None = None   # wall time of the last event

    @property
    def checkpoints(self) -> list[str]:
        """Prefixes reported and not removed, by step."""
        done = [p for p, e in self._entries.items() if e.reported]
        return sorted(done, key=lambda p: (step_of(p) is None, step_of(p) or 0, p))

    @property
    def present(self) -> set[str]:
        """Prefixes whose index was in the folder at the last poll, judged or not."""
        return set(self._entries)

    @property
    def pending(self) -> bool:
        """Some checkpoint is not judged yet (still being written): worth polling soon."""
        return any(e.signature is None or e.signature != e.decided for e in self._entries.values())

    def poll(self) -> list[WatchEvent]:
        events: list[WatchEvent] = []
        now = self._clock()
        dir_sig = self._folder_signature()
        if dir_sig is None:   # the folder is gone: so is every checkpoint in it
            events += self._forget(set(self._entries))
            self._dir_sig = None
            return self._stamp(events)
        pending = self.pending
        sweeping = now - self._last_sweep >= self.sweep
        if dir_sig == self._dir_sig and not pending and not sweeping and self.trust_folder_time:
            return events
        if self._dir_sig is not None and dir_sig[:2] != self._dir_sig[:2]:
            events += self._forget(set(self._entries))   # deleted and made again
        self._dir_sig = dir_sig
        if sweeping:
            self._last_sweep = now

        by_prefix = self._list()
        if by_prefix is None:
            return self._stamp(events)
        events += self._forget(set(self._entries) - set(by_prefix))
        for prefix in sorted(by_prefix, key=lambda p: (step_of(p) is None, step_of(p) or 0, p)):
            names = by_prefix[prefix]
            entry = self._entries.get(prefix)
            if entry is None:
                entry = self._entries[prefix] = _Entry(names, changed_at=now)
            elif entry.names == names and entry.decided is not None \
                    and entry.decided == entry.signature and not sweeping:
                continue   # the common case: nothing to do for a checkpoint already seen
            entry.names = names
            event = self._check(prefix, entry, now)
            if event is not None:
                events.append(event)
        return self._stamp(events)

    # -- internals -----------------------------------------------------------------------

    def _folder_signature(self) -> tuple | None:
        if location.is_url(self.folder):
            try:
                names = location.listdir(self.folder, fresh=True)
                sig = tuple((n, location.stat(location.join(self.folder, n))) for n in names
                            if n.endswith(".index") or _DATA_RE.match(n))
            except FormatError:
                return None
            return ("remote", 0, hash(sig))
        try:
            st = os.stat(self.folder)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns)

    def _stamp(self, events: list[WatchEvent]) -> list[WatchEvent]:
        if events:
            self.last_change = self._wall()
        return events

    def _list(self) -> dict[str, frozenset] | None:
        """prefix → its file names, for every prefix that has an index in the folder."""
        groups: dict[str, set] = {}
        try:
            if location.is_url(self.folder):
                names = location.listdir(self.folder)
            else:
                with os.scandir(self.folder) as it:
                    names = [d.name for d in it]
        except (OSError, FormatError):
            return None
        for name in names:
            if name.endswith(".index"):
                groups.setdefault(name[: -len(".index")], set()).add(name)
        for name in names:
            m = _DATA_RE.match(name)
            if m and m.group(1) in groups:
                groups[m.group(1)].add(name)
        return {location.join(self.folder, p): frozenset(n) for p, n in groups.items()}

    def _signature(self, entry: _Entry) -> tuple | None:
        sig = []
        for name in sorted(entry.names):
            st = _size_and_time(location.join(self.folder, name))
            if st is None:
                return None   # vanished while we looked: the next listing will say so
            sig.append((name, *st))
        return tuple(sig)

    def _check(self, prefix: str, entry: _Entry, now: float) -> WatchEvent | None:
        sig = self._signature(entry)
        if sig is None:
            return None
        if sig != entry.signature:
            entry.signature = sig
            entry.changed_at = now
        elif sig == entry.decided or (self.trust_folder_time and not self._overdue(entry, sig, now)):
            # Judged already, or unchanged and still within its grace. Where file sizes are
            # cached (network, FUSE), an unchanged size proves nothing: read it again.
            return None
        self.reads += 1
        problem = completeness(prefix)
        if problem is not None and not self._overdue(entry, sig, now):
            return None   # not complete yet: TensorFlow may still be writing it
        entry.decided = sig
        files = [location.join(self.folder, n) for n, _, _ in sig]
        if entry.reported:
            if problem == entry.problem:
                return None
            entry.problem = problem
            return WatchEvent("changed", prefix, step_of(prefix), problem, files)
        entry.reported = True
        entry.problem = problem
        return WatchEvent("added", prefix, step_of(prefix), problem, files)

    def _overdue(self, entry: _Entry, sig: tuple, now: float) -> bool:
        """Past its grace: changed long enough ago, by our clock or by the files' times (a
        broken checkpoint found on start need not wait)."""
        if now - entry.changed_at >= self.grace:
            return True
        newest = max((m for _, _, m in sig), default=0) / 1e9
        return self._wall() - newest >= self.grace

    def _forget(self, prefixes: set) -> list[WatchEvent]:
        events = []
        for p in sorted(prefixes, key=lambda p: (step_of(p) is None, step_of(p) or 0, p)):
            entry = self._entries.pop(p)
            if entry.reported:
                events.append(WatchEvent("removed", p, step_of(p)))
        return events
