"""Change plans for checkpoints: what an edit does to every variable, then doing it in one
streaming pass (formats.bundle_writer), placed atomically (formats.staging).

One plan composes every operation, applied in this order:
  1. take   — variables matching a pattern come from another checkpoint (replacing a
              variable of the same key, or added);
  2. select — `keep` patterns (none: everything), then `drop` patterns, then the
              optimizer's state when stripping it;
  3. rename — regular-expression substitutions on keys, in order, or a mapping of keys;
  4. cast   — floating variables to one floating dtype, rounding to nearest even as
              `tf.cast` does.
`average` is a plan too: floating variables averaged over checkpoints in float64 and cast
back, everything else from the newest.

Patterns of keep/drop/take match a checkpoint key or its readable name (`re.search`).
A TF2 checkpoint's object graph is rewritten with the new keys and without the dropped
ones, so `tf.train.Checkpoint.restore` still finds every variable kept. A TF1 graph
(`.meta`) follows when the saver's names can be rewritten to the result; when they
cannot, the plan says why in `graph_note` and no `.meta` is written.

For the window: `plan_edit`/`plan_average` are cheap (index only), `write_plan` is the
long job (progress, cancel); the caller opens and closes the readers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..formats import dtypes, objectgraph, saver_graph
from ..formats.bundle import OBJECT_GRAPH_KEY, Bundle
from ..formats.bundle_writer import BundleWriter, piece_regions
from ..formats.errors import FormatError, WriteError
from ..formats.staging import StagedCheckpoint, destination_problem
from . import params
from .progress import Cancelled, Ticker

CAST_TARGETS = ("float16", "bfloat16", "float32", "float64")
# Smaller than the readers' default: an average holds a few chunks of every input at once,
# and copying gains nothing from larger ones.
WRITE_CHUNK_BYTES = 4 << 20

__all__ = ["CAST_TARGETS", "Cancelled", "EditSpec", "Plan", "PlanError", "Row", "WriteResult",
           "plan_average", "plan_edit", "read_rename_map", "write_plan"]


class PlanError(ValueError):
    """An edit that cannot be done as asked (a bad pattern, two variables renamed to one
    key, …): the message says which and why."""


@dataclass
class EditSpec:
    """What the user asks for. Empty: copy unchanged."""
    keep: list[str] = field(default_factory=list)      # regexes; none: keep everything
    drop: list[str] = field(default_factory=list)
    strip_optimizer: bool = False
    renames: list[tuple[str, str]] = field(default_factory=list)  # (regex, replacement)
    rename_map: dict[str, str] | None = None           # exact key → new key
    cast: str | None = None                            # one of CAST_TARGETS
    take: list[tuple[str, object]] = field(default_factory=list)  # (regex, TensorReader)
    max_shard_bytes: int | None = None


@dataclass
class Row:
    """One variable of the plan."""
    key: str                       # its key where it is read from
    display_name: str
    new_key: str | None            # None: dropped
    dtype: str
    new_dtype: str
    shape: tuple[int, ...]
    bytes_before: int
    bytes_after: int
    actions: list[str]             # "kept", "dropped", "renamed", "cast", "taken", "averaged"
    reason: str = ""               # why dropped, where taken from, why not averaged
    inputs: list = field(default_factory=list, repr=False)  # readers it is read from

    @property
    def kept(self) -> bool:
        return self.new_key is not None

    def to_json(self) -> dict:
        return {"key": self.key, "display_name": self.display_name, "new_key": self.new_key,
                "actions": self.actions, "reason": self.reason or None, "dtype": self.dtype,
                "new_dtype": self.new_dtype if self.kept else None, "shape": list(self.shape),
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after}


@dataclass
class Plan:
    """Every variable's fate, plus what follows the tensors (object graph, `.meta`)."""
    source: str                              # label of the main source
    rows: list[Row]
    max_shard_bytes: int | None = None
    source_folders: list[str] = field(default_factory=list)
    object_graph: bytes | None = None        # the rewritten TF2 object graph, if any
    meta: object = None                      # the MetaGraphDef to write beside, if it follows
    graph_note: str | None = None            # what happens to the graph, said plainly
    notes: list[str] = field(default_factory=list)
    bytes_before: int = 0                    # the main source's tensors, on disk

    @property
    def kept(self) -> list[Row]:
        return [r for r in self.rows if r.kept]

    @property
    def bytes_after(self) -> int:
        return sum(r.bytes_after for r in self.kept)

    def read_bytes(self) -> int:
        """What writing it reads (the progress total)."""
        return sum(r.bytes_before * max(1, len(r.inputs)) for r in self.kept)

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in ("kept", "dropped", "renamed", "cast", "taken", "averaged")}
        for r in self.rows:
            for a in r.actions:
                out[a] += 1
        return out

    def to_json(self) -> dict:
        return {"source": self.source, "variables": [r.to_json() for r in self.rows],
                "counts": self.counts(), "bytes_before": self.bytes_before,
                "bytes_after": self.bytes_after, "max_shard_bytes": self.max_shard_bytes,
                "object_graph": self.object_graph is not None,
                "meta": self.meta is not None, "graph_note": self.graph_note, "notes": self.notes}

    def destination_problem(self, prefix: str) -> str | None:
        """Why the result cannot go to `prefix` (None: it can), for a dialog to say
        before anything is written."""
        return destination_problem(os.path.abspath(prefix), self.source_folders)


@dataclass
class WriteResult:
    prefix: str
    files: list[str]
    bytes_written: int


# -- planning ------------------------------------------------------------------------------

def _compile(patterns: list[str], what: str) -> list[re.Pattern]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise PlanError(f"{what} pattern {p!r}: {e}") from None
    return out


def _matches(patterns, info) -> bool:
    return any(p.search(info.name) or p.search(info.display_name) for p in patterns)


def _size_as(info, dtype_name: str) -> int:
    d = dtypes.BY_NAME[dtype_name]
    return info.nbytes if d.is_string or d.enum == info.dtype_enum else info.size * d.itemsize


def _folders(*readers) -> list[str]:
    return sorted({os.path.dirname(os.path.abspath(r.index_path)) for r in readers})


def _on_disk(reader) -> int:
    return sum(t.nbytes for t in reader.tensors.values())


def _new_row(info, reader, actions, reason="") -> Row:
    return Row(info.name, info.display_name, info.name, info.dtype_name, info.dtype_name,
               tuple(info.shape), info.nbytes, info.nbytes, actions, reason, [reader])


def read_rename_map(path: str) -> dict[str, str]:
    """A mapping file: a JSON object {old key: new key}, or lines `OLD NEW` (whitespace
    between; `#` starts a comment line)."""
    import json
    from ..formats.files import read_small_file
    text = read_small_file(path, limit=64 << 20).decode("utf-8", "surrogateescape")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise FormatError(path, f"rename map is not valid JSON: {e}") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise FormatError(path, "rename map: keys and values must be strings")
        return data
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise FormatError(path, f"line {n}: expected `OLD_KEY NEW_KEY`, got {line.strip()!r}")
        out[parts[0]] = parts[1]
    return out


def plan_edit(reader, spec: EditSpec, graph=None) -> Plan:
    """The plan of `spec` over `reader` (any TensorReader; `graph`: its formats.graph.Graph,
    when it has one, to find the optimizer's variables and follow the saver's names).
    Raises PlanError for an edit that cannot be done."""
    keep = _compile(spec.keep, "--keep")
    drop = _compile(spec.drop, "--drop")
    if spec.renames and spec.rename_map:
        raise PlanError("rename by patterns or by a mapping file, not both")
    renames = [(p, repl) for p, (_, repl) in zip(_compile([r[0] for r in spec.renames], "--rename"),
                                                 spec.renames)]
    if spec.cast is not None and spec.cast not in CAST_TARGETS:
        raise PlanError(f"cannot cast to {spec.cast!r}: floating variables cast to one of "
                        f"{', '.join(CAST_TARGETS)}")
    rows: dict[str, Row] = {}
    for info in reader.tensors.values():
        rows[info.name] = _new_row(info, reader, ["kept"])
    others = []
    for pattern, other in spec.take:
        rx = _compile([pattern], "--take")[0]
        found = [t for t in other.tensors.values() if _matches([rx], t)]
        if not found:
            raise PlanError(f"--take {pattern!r}: no variable of {other.prefix} matches")
        others.append(other)
        for info in found:
            replaced = "replacing the source's" if info.name in rows else "added"
            rows[info.name] = _new_row(info, other, ["taken"], f"from {other.prefix} ({replaced})")

    # 2. select
    optimizer: set[str] = set()
    if spec.strip_optimizer:
        by_reader: dict[int, list[Row]] = {}
        for r in rows.values():
            by_reader.setdefault(id(r.inputs[0]), []).append(r)
        for group in by_reader.values():
            src = group[0].inputs[0]
            g = graph if src is reader else None
            optimizer |= params.optimizer_state_keys({r.key: src.tensors[r.key] for r in group}, g)
    for r in rows.values():
        info = r.inputs[0].tensors[r.key]
        why = None
        if keep and not _matches(keep, info):
            why = "not matched by --keep"
        elif drop and _matches(drop, info):
            why = "matched by --drop"
        elif r.key in optimizer:
            why = "optimizer state"
        if why:
            r.new_key, r.actions, r.reason, r.bytes_after = None, ["dropped"], why, 0

    # 3. rename
    for r in rows.values():
        if not r.kept:
            continue
        new = r.key
        if spec.rename_map is not None:
            new = spec.rename_map.get(r.key, r.key)
        for rx, repl in renames:
            try:
                new = rx.sub(repl, new)
            except (re.error, IndexError) as e:
                raise PlanError(f"--rename {rx.pattern!r}={repl!r}: {e}") from None
        if not new:
            raise PlanError(f"renaming {r.key!r} leaves an empty key")
        if new == OBJECT_GRAPH_KEY:
            raise PlanError(f"renaming {r.key!r} would take the object graph's key")
        if new != r.key:
            r.new_key = new
            r.actions.append("renamed")
    if spec.rename_map:
        unknown = [k for k in spec.rename_map if k not in rows]
        if unknown:
            raise PlanError(f"the rename map names {len(unknown)} key(s) the checkpoint does "
                            f"not hold, e.g. {unknown[0]!r}")
    _check_unique(rows.values())

    # 4. cast
    if spec.cast:
        for r in rows.values():
            info = r.inputs[0].tensors[r.key]
            if r.kept and info.dtype is not None and info.dtype.is_float and info.dtype.name != spec.cast:
                r.new_dtype = spec.cast
                r.bytes_after = _size_as(info, spec.cast)
                r.actions.append("cast")

    plan = Plan(reader.prefix, list(rows.values()), spec.max_shard_bytes,
                _folders(reader, *others), bytes_before=_on_disk(reader))
    _unreadable(plan)
    _follow_object_graph(plan, reader)
    _follow_meta(plan, graph)
    cast = [r for r in plan.kept if "cast" in r.actions]
    if cast and plan.object_graph is not None:
        plan.notes.append(f"{len(cast)} variable(s) now hold {spec.cast}: tf.train.Checkpoint "
                          f"restores them only into variables created as {spec.cast}")
    return plan


def _check_unique(rows) -> None:
    seen: dict[str, str] = {}
    for r in rows:
        if r.kept:
            if r.new_key in seen:
                raise PlanError(f"{seen[r.new_key]!r} and {r.key!r} would both be saved as "
                                f"{r.new_key!r}")
            seen[r.new_key] = r.key


def _unreadable(plan: Plan) -> None:
    bad = [r for r in plan.kept if r.inputs[0].tensors[r.key].problem]
    if bad:
        info = bad[0].inputs[0].tensors[bad[0].key]
        raise PlanError(f"{len(bad)} kept variable(s) cannot be read, e.g. {info.name}: "
                        f"{info.problem} (drop them with --drop)")


def _object_graph_bytes(reader) -> bytes | None:
    """The serialized TF2 object graph of a bundle, or None."""
    if not isinstance(reader, Bundle):
        return None
    raw = Bundle(reader.prefix)  # the opened reader shows names, not this key
    try:
        if OBJECT_GRAPH_KEY not in raw.tensors:
            return None
        return raw.read(OBJECT_GRAPH_KEY).item()
    finally:
        raw.close()


def _follow_object_graph(plan: Plan, reader) -> None:
    serialized = _object_graph_bytes(reader)
    if serialized is None:
        return
    new_keys = {r.key: r.new_key for r in plan.rows if r.inputs[0] is reader}
    for r in plan.rows:
        if r.inputs[0] is not reader and r.key in reader.tensors:
            new_keys[r.key] = r.new_key  # taken under a key the source's graph names (None: dropped)
    try:
        plan.object_graph = objectgraph.rewrite(serialized, new_keys)
    except ValueError as e:
        raise PlanError(f"{reader.prefix}: the object graph cannot be rewritten ({e})") from None
    known = set(objectgraph.names(serialized))
    added = [r for r in plan.kept if r.key not in known and r.key not in reader.tensors]
    if added:
        plan.notes.append(f"{len(added)} added variable(s) are not in the object graph (e.g. "
                          f"{added[0].new_key}): tf.train.Checkpoint will not restore them; "
                          "name-based loading (tf.train.load_checkpoint) reads them")
    plan.graph_note = "the TF2 object graph is carried along, rewritten to the new keys"


def _follow_meta(plan: Plan, graph) -> None:
    if graph is None or graph.format != "metagraph" or graph.meta_graph is None:
        return
    meta = graph.meta_graph
    name = os.path.basename(graph.source)
    restored = saver_graph.restored_keys(meta)
    if not restored:
        plan.graph_note = f"{name} has no saver: no .meta written"
        return
    by_key = {r.key: r for r in plan.rows}
    missing, recast = [], []
    for key, dtype in restored.items():
        r = by_key.get(key)
        if r is None or not r.kept:
            missing.append(key)
        elif dtypes.from_enum(dtype) is not None and dtypes.from_enum(dtype).name != r.new_dtype:
            recast.append((key, dtypes.from_enum(dtype).name, r.new_dtype))
    if missing:
        meta = saver_graph.drop_keys(meta, set(missing))
        if meta is None:
            plan.graph_note = (f"no .meta written: {name}'s saver restores {len(missing)} variable(s) "
                               f"the result does not hold (e.g. {missing[0]}) and its restore ops "
                               "are not the kind this can cut out; build the model's graph and "
                               "restore with a Saver over the kept variables (var_list)")
            return
    if recast:
        key, was, now = recast[0]
        plan.graph_note = (f"no .meta written: {name}'s saver restores {key} as {was}, the result "
                           f"holds {now}; restore into a graph built with {now} variables")
        return
    new_keys = {r.key: r.new_key for r in plan.kept if r.new_key != r.key}
    plan.meta = saver_graph.rename_keys(meta, new_keys) if new_keys else meta
    changes = []
    if new_keys:
        changes.append(f"its saver reads the {len(new_keys)} new key(s)")
    if missing:
        changes.append(f"it no longer restores the {len(missing)} dropped variable(s), which a "
                       "session must initialize itself if it uses them")
    plan.graph_note = (f"a .meta from {name} written beside the result: " + "; ".join(changes)
                       if changes else f"{name} copied beside the result as its .meta")
    extra = [r for r in plan.kept if r.key not in restored]
    if extra:
        plan.notes.append(f"{len(extra)} variable(s) the graph's saver does not restore "
                          f"(e.g. {extra[0].new_key})")


def plan_average(readers: list, graph=None) -> Plan:
    """Average checkpoints (`readers`, oldest first): each floating variable the newest
    holds is averaged over every checkpoint holding it with the same shape and dtype
    (float64 sums, cast back); the rest comes from the newest."""
    if len(readers) < 2:
        raise PlanError("averaging needs at least two checkpoints")
    newest = readers[-1]
    rows = []
    for info in newest.tensors.values():
        row = _new_row(info, newest, ["kept"])
        if info.dtype is not None and info.dtype.is_float and not info.problem:
            same = [r for r in readers if info.name in r.tensors
                    and r.tensors[info.name].dtype_enum == info.dtype_enum
                    and tuple(r.tensors[info.name].shape) == tuple(info.shape)
                    and not r.tensors[info.name].problem]
            if len(same) == len(readers):
                row.inputs, row.actions = same, ["averaged"]
                row.reason = f"mean of {len(same)} checkpoints"
            else:
                row.reason = (f"from the newest: only {len(same)} of {len(readers)} checkpoints "
                              "hold it with this shape and dtype")
        elif info.dtype is not None and not info.dtype.is_float:
            row.reason = "not floating: from the newest"
        rows.append(row)
    plan = Plan(newest.prefix, rows, None, _folders(*readers), bytes_before=_on_disk(newest))
    _unreadable(plan)
    _follow_object_graph(plan, newest)
    _follow_meta(plan, graph)
    return plan


# -- writing -------------------------------------------------------------------------------

def _cast(chunk: np.ndarray, target: np.dtype) -> np.ndarray:
    """Round to nearest even, as tf.cast: float64 → 16-bit floats goes through float32
    as TensorFlow's kernels do."""
    if chunk.dtype == target:
        return chunk
    with np.errstate(over="ignore", invalid="ignore"):  # out of range → ±inf, as tf.cast
        if target.itemsize == 2 and chunk.dtype.itemsize == 8:
            chunk = chunk.astype(np.float32)
        return chunk.astype(target)


def _ticked(chunks, tick):
    for c in chunks:
        tick(c.nbytes)
        yield c


def _pieces(row: Row, tick, chunk_bytes: int) -> list:
    """The (region, chunks) pieces of a row's output."""
    src = row.inputs[0]
    info = src.tensors[row.key]
    out_dtype = dtypes.BY_NAME[row.new_dtype]
    if info.dtype.is_string:
        tick(info.nbytes)
        return [(None, [src.read(row.key)])]
    regions = src.extents(row.key)
    if len(row.inputs) == 1:
        stream = _ticked(src.chunks(row.key, chunk_bytes), tick)
        if out_dtype.enum != info.dtype_enum:
            target = out_dtype.numpy
            stream = (_cast(c, target) for c in stream)
    else:
        stream = _averaged(row, regions, tick, chunk_bytes)
    if len(regions) == 1 and not info.partitioned:
        return [(None, stream)]
    return piece_regions(regions, stream)


def _averaged(row: Row, regions, tick, chunk_bytes: int):
    target = dtypes.BY_NAME[row.new_dtype].numpy
    n = len(row.inputs)
    if all(r.extents(row.key) == regions for r in row.inputs):
        streams = [_ticked(r.chunks(row.key, chunk_bytes), tick) for r in row.inputs]
        for parts in zip(*streams):
            acc = parts[0].astype(np.float64)
            for p in parts[1:]:
                acc += p
            acc /= n
            yield _cast(acc, target)
        for s in streams:  # run each to its end: the last piece's checksum is checked there
            if next(s, None) is not None:
                raise FormatError(row.inputs[0].index_path, f"{row.key}: chunks do not line up")
        return
    # stored in different pieces: whole values, walked in the first one's regions
    acc = None
    for r in row.inputs:
        value = r.read(row.key)
        tick(value.nbytes)
        acc = value.astype(np.float64) if acc is None else acc + value
    acc /= n
    for region in regions:
        box = tuple(slice(s, s + k) for s, k in zip(region.starts, region.lengths))
        yield _cast(acc[box].reshape(-1), target)


def write_plan(plan: Plan, prefix: str, progress=None, cancelled=None,
               chunk_bytes: int = WRITE_CHUNK_BYTES) -> WriteResult:
    """Write the plan's result as the checkpoint `prefix` (files `prefix.index`,
    `prefix.data-*`, maybe `prefix.meta`; the folder's `checkpoint` state file records
    it). `progress(fraction)` is called as bytes are read; `cancelled()` returning True
    stops the job with Cancelled. On any error or cancel nothing is left behind.
    Raises WriteError (destination refused, disk full), FormatError (a source turned out
    corrupt), Cancelled."""
    if not plan.kept:
        raise PlanError("the plan keeps no variable: nothing to write")
    tick = Ticker(plan.read_bytes(), progress, cancelled)
    tick(0)
    with StagedCheckpoint(prefix, plan.source_folders) as staged:
        writer = BundleWriter(staged.staged_prefix, plan.max_shard_bytes)
        try:
            for row in plan.kept:
                tick(0)
                info = row.inputs[0].tensors[row.key]
                writer.add(row.new_key, dtypes.BY_NAME[row.new_dtype], info.shape,
                           _pieces(row, tick, chunk_bytes))
            if plan.object_graph is not None:
                writer.add(OBJECT_GRAPH_KEY, dtypes.BY_NAME["string"], (),
                           [(None, [np.array(plan.object_graph, dtype=object)])])
            tick(0)
            writer.finish()
        except BaseException:
            writer.abort()
            raise
        if plan.meta is not None:
            meta_path = staged.staged_prefix + ".meta"
            try:
                with open(meta_path, "xb") as f:
                    f.write(plan.meta.SerializeToString())
            except OSError as e:
                raise WriteError(meta_path, f"cannot write: {e.strerror}") from None
        tick(0)
        final = staged.commit()
    # every file the result holds, its .meta too
    return WriteResult(staged.prefix, final, sum(os.path.getsize(f) for f in final))

