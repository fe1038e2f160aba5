"""Tensor bundles: the `.index` + `.data-SSSSS-of-NNNNN` checkpoint format (TF ≥ 0.11).

Opening a bundle parses only its index. Tensor bytes are read when asked, through memory
maps of the data shards, and every read is checked against the entry's crc32c first:
bytes that fail it raise CorruptDataError and are never handed out as values. Shards at a
URL are read by range instead (remote.py), through the very same checks.
"""

from __future__ import annotations

import mmap
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import crc32c

from . import dtypes, location, protos
from .dtypes import DType
from .errors import CorruptDataError, FormatError
from .files import regular_file_size
from .location import is_url
from .ordered_code import slice_key
from .reader import CHUNK_BYTES, Region, TensorInfo, TensorReader
from .crc import mask_crc
from .table import Table, read_varint

if TYPE_CHECKING:
    import numpy as np  # imported where values are read: listing needs none

HEADER_KEY = b""
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

_DATA_RE = re.compile(r"\.data-(\d{5})-of-(\d{5})$")


def data_file_name(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def prefix_of(path: str) -> str | None:
    """The bundle prefix a `.index` or `.data-*` file belongs to, else None."""
    if path.endswith(".index"):
        return path[: -len(".index")]
    m = _DATA_RE.search(path)
    return path[: m.start()] if m else None


@dataclass
class _Extent:
    """Where one contiguous piece of a tensor sits: a region of the full tensor."""
    entry: object           # BundleEntryProto of the stored bytes
    starts: tuple[int, ...]
    lengths: tuple[int, ...]


@dataclass
class _Shard:
    path: str
    size: int | None = None
    problem: str | None = None
    mm: mmap.mmap | None = field(default=None, repr=False)

    @property
    def remote(self) -> bool:
        return is_url(self.path)


def _shape(proto) -> tuple[int, ...]:
    if proto.unknown_rank:
        raise ValueError("unknown rank")
    dims = tuple(d.size for d in proto.dim)
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimension in shape {list(dims)}")
    return dims


class Bundle(TensorReader):
    """An opened tensor bundle, read as `reader.TensorReader` declares."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.index_path = prefix + ".index"
        self.object_graph_problem: str | None = None
        self._raw: dict[bytes, object] = {}
        header = None
        for key, value in Table(self.index_path).items():
            try:
                if key == HEADER_KEY:
                    header = protos.BundleHeaderProto.FromString(value)
                else:
                    self._raw[key] = protos.BundleEntryProto.FromString(value)
            except Exception:  # protobuf's DecodeError and friends
                what = "header" if key == HEADER_KEY else repr(key.decode("utf-8", "replace"))
                raise FormatError(self.index_path, f"malformed index: entry {what} "
                                                   "does not parse") from None
        if header is None:
            raise FormatError(self.index_path, "not a tensor bundle index (no bundle header); "
                                               "maybe a pre-0.11 checkpoint")
        if header.num_shards < 1 or header.num_shards > 1_000_000:
            raise FormatError(self.index_path, f"bundle header declares {header.num_shards} shards")
        location.trust(self.index_path)
        self.big_endian = header.endianness == 1
        self.num_shards = header.num_shards
        self.shards = [_Shard(data_file_name(prefix, i, self.num_shards))
                       for i in range(self.num_shards)]
        for shard in self.shards:
            try:
                shard.size = regular_file_size(shard.path)
            except FormatError as e:
                shard.problem = e.problem
        self.tensors: dict[str, TensorInfo] = {}
        self._extents: dict[str, list[_Extent]] = {}
        for key, entry in self._raw.items():
            if key.startswith(b"\x00"):
                continue  # a slice of a partitioned variable, reached through its full entry
            name = key.decode("utf-8", "surrogateescape")
            self.tensors[name] = self._describe(name, key, entry)

    @property
    def data_files(self) -> list[str]:
        return [s.path for s in self.shards]

    @property
    def missing_shards(self) -> list[str]:
        return [s.path for s in self.shards if s.problem]

    # -- index ---------------------------------------------------------------------------

    def _describe(self, name: str, key: bytes, entry) -> TensorInfo:
        dtype = dtypes.from_enum(entry.dtype)
        info = TensorInfo(name=name, dtype=dtype, dtype_enum=entry.dtype, shape=(), nbytes=0,
                          display_name=name, partitioned=len(entry.slices) > 0)
        try:
            info.shape = _shape(entry.shape)
            if dtype is None or not dtype.is_array:
                raise ValueError(f"tensors of dtype {info.dtype_name} cannot be read")
            extents = self._plan(key, entry, info.shape)
            info.nbytes = sum(e.entry.size for e in extents)
            for e in extents:
                self._check_entry(e.entry, dtype, e.lengths)
            self._extents[name] = extents
        except ValueError as e:
            info.problem = str(e)
        return info

    def _plan(self, key: bytes, entry, shape) -> list[_Extent]:
        """The stored pieces that make up a tensor: itself, or its slices."""
        if not entry.slices:
            return [_Extent(entry, (0,) * len(shape), shape)]
        pieces, covered = [], 0
        for sl in entry.slices:
            if len(sl.extent) not in (0, len(shape)):
                raise ValueError("a slice's rank differs from the tensor's")
            starts, lengths, key_extents = [], [], []
            for d, full in enumerate(shape):
                ext = sl.extent[d] if sl.extent else None
                start = ext.start if ext else 0
                has_len = ext is not None and ext.HasField("length")
                length = ext.length if has_len else full - start
                if start < 0 or length < 0 or start + length > full:
                    raise ValueError("a slice lies outside the tensor")
                starts.append(start)
                lengths.append(length)
                key_extents.append((start, length if has_len else -1))
            part = self._raw.get(slice_key(key, key_extents))
            if part is None:
                raise ValueError("a slice of this partitioned variable is missing from the index")
            try:
                part_shape = _shape(part.shape)
            except ValueError as e:
                raise ValueError(f"slice: {e}") from None
            if part_shape != tuple(lengths) or part.dtype != entry.dtype:
                raise ValueError("a slice's shape or dtype disagrees with the tensor's")
            pieces.append(_Extent(part, tuple(starts), tuple(lengths)))
            n = 1
            for v in lengths:
                n *= v
            covered += n
        total = 1
        for v in shape:
            total *= v
        if covered != total:
            raise ValueError(f"slices cover {covered} of {total} elements")
        return pieces

    def _check_entry(self, entry, dtype: DType, shape) -> None:
        if not 0 <= entry.shard_id < self.num_shards:
            raise ValueError(f"shard {entry.shard_id} does not exist (bundle has {self.num_shards})")
        if entry.offset < 0 or entry.size < 0:
            raise ValueError("negative offset or size")
        n = 1
        for d in shape:
            n *= d
        if dtype.is_string:
            # at least one length byte per element, and the crc of the lengths (TensorFlow
            # writes it for no strings too)
            if entry.size < 4 + n:
                raise ValueError(f"{n} strings cannot fit in {entry.size} bytes")
        elif entry.size != n * dtype.itemsize:
            raise ValueError(f"size {entry.size} bytes does not match shape {list(shape)} "
                             f"of {dtype.name} ({n * dtype.itemsize} bytes)")
        shard = self.shards[entry.shard_id]
        if shard.problem:
            raise ValueError(f"data file {os.path.basename(shard.path)}: {shard.problem}")
        if entry.offset + entry.size > shard.size:
            raise ValueError(f"bytes {entry.offset}..{entry.offset + entry.size} lie past the end of "
                             f"{os.path.basename(shard.path)} ({shard.size} bytes; truncated?)")

    # -- data ----------------------------------------------------------------------------

    def _usable(self, name: str) -> tuple[TensorInfo, list[_Extent]]:
        return self.readable(name), self._extents[name]

    def extents(self, name: str) -> tuple[Region, ...]:
        """The stored pieces in the order `chunks` walks them (one for a plain tensor)."""
        return tuple(Region(e.starts, e.lengths) for e in self._usable(name)[1])

    def _bytes(self, entry, crc: int | None = None) -> memoryview:
        """The raw bytes of one entry, mapped (or fetched: `crc` lets the remote cache keep
        only good bytes), not yet checked."""
        if entry.size == 0:
            return memoryview(b"")
        shard = self.shards[entry.shard_id]
        if shard.remote:
            from . import remote
            return memoryview(remote.read_range(shard.path, entry.offset, entry.size, crc))
        if shard.mm is None:
            try:
                with open(shard.path, "rb") as f:
                    shard.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as e:
                raise FormatError(shard.path, f"cannot map: {e}") from None
            if len(shard.mm) < entry.offset + entry.size:  # the file shrank since it was listed
                raise FormatError(shard.path, "is shorter than the index says (truncated?)")
        return memoryview(shard.mm)[entry.offset:entry.offset + entry.size]

    def _verify(self, name: str, entry, crc: int) -> None:
        if mask_crc(crc) != entry.crc32c:
            raise CorruptDataError(self.shards[entry.shard_id].path,
                                   f"tensor {name!r} fails its crc32c check (data corrupt)")

    def _fixed(self, name: str, entry, dtype: DType, shape) -> np.ndarray:
        """A verified, read-only array over the mapped bytes of a fixed-size entry."""
        raw = self._bytes(entry, entry.crc32c)
        crc = 0
        for start in range(0, len(raw), CHUNK_BYTES):
            crc = crc32c.crc32c(raw[start:start + CHUNK_BYTES], crc)
        self._verify(name, entry, crc)
        import numpy as np
        arr = np.frombuffer(raw, dtype=dtype.numpy).reshape(shape)
        if self.big_endian and dtype.itemsize > 1:
            arr = arr.byteswap()  # a copy in native order
        return arr

    def _strings(self, name: str, entry, shape) -> np.ndarray:
        """Decode a string entry: varint64 lengths, their masked crc, then the bytes."""
        raw = self._bytes(entry)
        n = 1
        for d in shape:
            n *= d
        path = self.shards[entry.shard_id].path
        lengths, pos, crc = [], 0, 0
        for _ in range(n):
            try:
                length, pos = read_varint(raw, pos, len(raw), path)
            except FormatError:  # bad data bytes, not a bad index: corrupt like any other
                raise CorruptDataError(path, f"tensor {name!r}: string lengths are corrupt") from None
            if length >= 1 << 32:
                raise CorruptDataError(path, f"tensor {name!r}: impossible string length")
            lengths.append(length)
            crc = crc32c.crc32c(length.to_bytes(4, "little"), crc)  # checksummed as uint32
        if pos + 4 + sum(lengths) != len(raw) or raw[pos:pos + 4] != mask_crc(crc).to_bytes(4, "little"):
            raise CorruptDataError(path, f"tensor {name!r}: string lengths are corrupt")
        crc = crc32c.crc32c(raw[pos:pos + 4], crc)
        pos += 4
        import numpy as np
        out = np.empty(n, dtype=object)
        for i, length in enumerate(lengths):
            out[i] = bytes(raw[pos:pos + length])
            pos += length
        crc = crc32c.crc32c(raw[pos - sum(lengths):pos], crc)
        self._verify(name, entry, crc)
        return out.reshape(shape)

    def read(self, name: str) -> np.ndarray:
        """The tensor's value, verified. Plain tensors come back as read-only views of the
        mapped file (nothing copied); partitioned ones are reassembled into a new array."""
        info, extents = self._usable(name)
        reader = self._strings if info.dtype.is_string else (
            lambda n, e, s: self._fixed(n, e, info.dtype, s))
        if not info.partitioned:
            return reader(name, extents[0].entry, info.shape)
        import numpy as np
        out = np.empty(info.shape, dtype=info.dtype.numpy)
        for ext in extents:
            region = tuple(slice(s, s + n) for s, n in zip(ext.starts, ext.lengths))
            out[region] = reader(name, ext.entry, ext.lengths)
        return out

    def chunks(self, name: str, chunk_bytes: int = CHUNK_BYTES):
        """Yield the tensor's elements as flat arrays of about chunk_bytes each, in no
        particular order, reading each byte once; each array is its own read-only view of
        the mapped file. Pages well behind the reader are given back to the system as it
        goes, so memory stays flat however large the tensor (a consumer still holding an
        old chunk just reads it back from the page cache). The crc32c of each stored piece
        is checked when its last chunk has been read: a consumer must treat
        CorruptDataError, raised then, as voiding everything it has seen. Fixed-size
        dtypes only."""
        info, extents = self._usable(name)
        dtype = info.dtype
        if dtype.is_string:
            raise FormatError(self.index_path, f"{name}: string tensors have no numeric chunks")
        import numpy as np
        step = max(dtype.itemsize, chunk_bytes - chunk_bytes % dtype.itemsize)
        for ext in extents:
            entry, crc = ext.entry, 0
            shard = self.shards[entry.shard_id]
            if shard.remote:
                yield from self._remote_chunks(name, entry, step, dtype)
                continue
            raw = self._bytes(entry)
            for start in range(0, entry.size, step):
                view = raw[start:start + step]
                crc = crc32c.crc32c(view, crc)
                arr = np.frombuffer(view, dtype=dtype.numpy)
                yield arr.byteswap() if self.big_endian and dtype.itemsize > 1 else arr
                self._release(shard, entry.offset + start - 4 * step, step)
            self._verify(name, entry, crc)

    def _remote_chunks(self, name: str, entry, step: int, dtype: DType):
        """A remote entry's elements, fetched in parts with several ranges in flight."""
        from . import remote
        import numpy as np
        crc = 0
        part = min(step, max(dtype.itemsize, remote.PART_BYTES - remote.PART_BYTES % dtype.itemsize))
        if entry.size:
            for piece in remote.stream(self.shards[entry.shard_id].path, entry.offset,
                                       entry.size, part, entry.crc32c):
                crc = crc32c.crc32c(piece, crc)
                arr = np.frombuffer(piece, dtype=dtype.numpy)
                yield arr.byteswap() if self.big_endian and dtype.itemsize > 1 else arr
        self._verify(name, entry, crc)

    @staticmethod
    def _release(shard: _Shard, offset: int, length: int) -> None:
        """Drop mapped pages [offset, offset+length) from this process (not from the page
        cache): they are read back on the next touch."""
        if offset < 0 or shard.mm is None or not hasattr(shard.mm, "madvise"):
            return
        page = mmap.PAGESIZE
        lo = offset - offset % page
        hi = min(len(shard.mm), offset + length)
        if hi > lo:
            shard.mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def verify(self, name: str) -> None:
        """Check every stored byte of the tensor against its crc32c."""
        info, extents = self._usable(name)
        if info.dtype.is_string:
            self.read(name)
            return
        for _ in self.chunks(name):
            pass

    def close(self) -> None:
        for shard in self.shards:
            if shard.mm is not None:
                try:
                    shard.mm.close()
                except BufferError:
                    pass  # arrays handed out still view it; it closes when they go
                shard.mm = None
