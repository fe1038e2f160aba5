"""Writing tensor bundles (`.index` + `.data-SSSSS-of-NNNNN`), the inverse of bundle.Bundle,
without TensorFlow.

Tensors stream in chunk by chunk: each chunk is written to its data shard and folded into
the entry's crc32c as it passes, so memory holds one chunk, never a tensor. String
tensors are the exception (their lengths precede their bytes): one piece is held whole.
A partitioned tensor is written as TensorFlow writes one: an entry under its own key with
the full shape and the slices' extents, and one entry per slice under its OrderedCode key.

Shards fill up to `max_shard_bytes` (a tensor larger than that gets a shard of its own;
it is not cut into slices). Their count is known only at the end, so they are written
under provisional names and renamed in `finish`, which writes the index last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import crc32c

from . import protos
from .bundle import HEADER_KEY, data_file_name
from .dtypes import DType
from .errors import WriteError
from .ordered_code import slice_key
from .reader import Region
from .crc import mask_crc
from .table_writer import table_bytes, varint

if TYPE_CHECKING:
    import numpy as np

BUNDLE_VERSION = 1  # TensorFlow's kTensorBundleVersion


def encode_key(key: str) -> bytes:
    """A checkpoint key as stored (the reader decodes undecodable bytes as surrogates)."""
    return key.encode("utf-8", "surrogateescape")


@dataclass
class _ShardFile:
    path: str
    f: object
    size: int = 0


class BundleWriter:
    """Writes one bundle at `prefix`. Call `add` per tensor, then `finish`; `abort`
    removes everything written so far. Not thread-safe."""

    def __init__(self, prefix: str, max_shard_bytes: int | None = None):
        if max_shard_bytes is not None and max_shard_bytes < 1:
            raise ValueError("max_shard_bytes must be positive")
        self.prefix = prefix
        self.max_shard_bytes = max_shard_bytes
        self._entries: dict[bytes, object] = {}
        self._shards: list[_ShardFile] = []
        self._written: list[str] = []   # final files, for abort
        self._done = False

    # -- shards ----------------------------------------------------------------------------

    def _shard_for(self, nbytes: int) -> int:
        """The shard a tensor of nbytes goes into, opening a new one when it would overflow."""
        if self._shards:
            current = self._shards[-1]
            if self.max_shard_bytes is None or current.size == 0 or \
                    current.size + nbytes <= self.max_shard_bytes:
                return len(self._shards) - 1
        path = f"{self.prefix}.data-partial-{len(self._shards):05d}"
        try:
            f = open(path, "xb")
        except OSError as e:
            raise WriteError(path, f"cannot write: {e.strerror}") from None
        self._shards.append(_ShardFile(path, f))
        return len(self._shards) - 1

    def _write(self, shard: _ShardFile, data) -> None:
        try:
            shard.f.write(data)
        except OSError as e:
            raise WriteError(shard.path, f"cannot write: {e.strerror}") from None
        shard.size += len(data)   # bytes, or a flat uint8 array

    # -- tensors ---------------------------------------------------------------------------

    def add(self, key: str, dtype: DType, shape, pieces: Iterable) -> None:
        """Add tensor `key` of `dtype` and `shape` from `pieces`: (region, chunks) pairs,
        region None for a plain tensor (then exactly one pair), else one pair per slice of
        a partitioned tensor. `chunks` yields flat arrays of `dtype.numpy` in row-major
        order of the region (either byte order); strings: object arrays of bytes. A
        tensor that would overflow the current shard starts a new one."""
        if self._done:
            raise ValueError("the bundle is finished")
        name = encode_key(key)
        if name == HEADER_KEY or name in self._entries:
            raise ValueError(f"key {key!r} is empty or added twice")
        if dtype.numpy is None:
            raise ValueError(f"tensors of dtype {dtype.name} cannot be written")
        shape = tuple(int(d) for d in shape)
        pieces = list(pieces)
        if not pieces:
            raise ValueError(f"{key}: no pieces")
        partitioned = pieces[0][0] is not None
        if not partitioned:
            if len(pieces) != 1:
                raise ValueError(f"{key}: a plain tensor is one piece")
            entry = self._piece(key, dtype, shape, pieces[0][1])
            self._entries[name] = entry
            return
        full = protos.BundleEntryProto(dtype=dtype.enum)
        for d in shape:
            full.shape.dim.add(size=d)
        for region, chunks in pieces:
            if region is None or len(region.starts) != len(shape):
                raise ValueError(f"{key}: every slice needs a region of the tensor's rank")
            sl = full.slices.add()
            key_extents = []
            for start, length, dim in zip(region.starts, region.lengths, shape):
                ext = sl.extent.add()
                if start == 0 and length == dim:
                    key_extents.append((0, -1))   # TensorFlow's "whole dimension"
                else:
                    ext.start, ext.length = start, length
                    key_extents.append((start, length))
            part_key = slice_key(name, key_extents)
            if part_key in self._entries:
                raise ValueError(f"{key}: two slices with the same extents")
            self._entries[part_key] = self._piece(key, dtype, region.lengths, chunks)
        self._entries[name] = full

    def _piece(self, key: str, dtype: DType, shape, chunks):
        """Write one stored piece; return its entry."""
        n = 1
        for d in shape:
            n *= d
        entry = protos.BundleEntryProto(dtype=dtype.enum)
        entry.shape.SetInParent()   # a scalar's empty shape is written too, as TensorFlow does
        for d in shape:
            entry.shape.dim.add(size=d)
        if dtype.is_string:
            return self._strings(key, entry, n, chunks)
        expected = n * dtype.itemsize
        sid = self._shard_for(expected)
        shard = self._shards[sid]
        entry.shard_id, entry.offset = sid, shard.size
        crc, count = 0, 0
        import numpy as np
        want = dtype.numpy.newbyteorder("<")
        swapped = dtype.numpy.newbyteorder(">")
        for chunk in chunks:
            chunk = np.asarray(chunk)
            if chunk.dtype != dtype.numpy and chunk.dtype != swapped:
                raise ValueError(f"{key}: a chunk of {chunk.dtype} for a {dtype.name} tensor")
            if chunk.dtype.byteorder == ">":
                chunk = chunk.astype(want)
            raw = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
            count += chunk.size
            if count > n:
                raise ValueError(f"{key}: more elements than its shape {list(shape)} holds")
            crc = crc32c.crc32c(raw, crc)
            self._write(shard, raw)
        if count != n:
            raise ValueError(f"{key}: {count} elements written for shape {list(shape)}")
        entry.size, entry.crc32c = expected, mask_crc(crc)
        return entry

    def _strings(self, key: str, entry, n: int, chunks):
        """varint64 lengths, the masked crc32c of the lengths (each as uint32), the bytes;
        the entry's crc32c runs over the lengths as uint32, that crc and the bytes."""
        import numpy as np
        values = [v for chunk in chunks for v in np.asarray(chunk, dtype=object).reshape(-1)]
        if len(values) != n:
            raise ValueError(f"{key}: {len(values)} strings for {n} elements")
        values = [bytes(v) if not isinstance(v, str) else v.encode() for v in values]
        head, crc = bytearray(), 0
        for v in values:
            if len(v) >= 1 << 32:
                raise ValueError(f"{key}: a string of 4 GiB or more")
            head += varint(len(v))
            crc = crc32c.crc32c(len(v).to_bytes(4, "little"), crc)
        length_crc = mask_crc(crc).to_bytes(4, "little")   # TensorFlow writes it for no strings too
        crc = crc32c.crc32c(length_crc, crc)
        size = len(head) + len(length_crc) + sum(len(v) for v in values)
        sid = self._shard_for(size)
        shard = self._shards[sid]
        entry.shard_id, entry.offset, entry.size = sid, shard.size, size
        self._write(shard, bytes(head) + length_crc)
        for v in values:
            crc = crc32c.crc32c(v, crc)
            self._write(shard, v)
        entry.crc32c = mask_crc(crc)
        return entry

    # -- the end -----------------------------------------------------------------------------

    def finish(self) -> list[str]:
        """Close the shards under their final names and write the index last. Returns
        the files written (data shards, then the index)."""
        if self._done:
            raise ValueError("the bundle is finished")
        if not self._shards:
            self._shard_for(0)  # TensorFlow writes a data file even for an empty bundle
        total = len(self._shards)
        for sid, shard in enumerate(self._shards):
            final = data_file_name(self.prefix, sid, total)
            try:
                shard.f.flush()
                os.fsync(shard.f.fileno())
                shard.f.close()
                os.rename(shard.path, final)
            except OSError as e:
                raise WriteError(shard.path, f"cannot write: {e.strerror}") from None
            shard.path = final
            self._written.append(final)
        header = protos.BundleHeaderProto(num_shards=total, endianness=0)
        header.version.producer = BUNDLE_VERSION
        items = [(HEADER_KEY, header.SerializeToString())]
        items += [(k, self._entries[k].SerializeToString()) for k in sorted(self._entries)]
        index = self.prefix + ".index"
        try:
            with open(index, "xb") as f:
                self._written.append(index)
                f.write(table_bytes(items))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise WriteError(index, f"cannot write: {e.strerror}") from None
        self._done = True
        return list(self._written)

    def abort(self) -> None:
        """Remove every file this writer made (idempotent)."""
        for shard in self._shards:
            try:
                shard.f.close()
            except OSError:
                pass  # a full disk fails the final flush too
            _remove(shard.path)
        for path in self._written:
            _remove(path)
        self._done = True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass  # gone already, or left for the staging folder's removal


def plain(chunks) -> list:
    """The pieces of a plain (not partitioned) tensor, for `BundleWriter.add`."""
    return [(None, chunks)]


def piece_regions(regions: Iterable[Region], chunks) -> list:
    """Split one stream of chunks (walking `regions` in order, as `TensorReader.chunks`
    does) into the (region, chunks) pieces `BundleWriter.add` takes. The pieces must be
    consumed in order, each to its end. The last one runs the stream to its end: a reader
    checks a piece's checksum only when asked for what follows it."""
    stream = iter(chunks)
    carry: list = []

    def take(count: int, last: bool):
        while count > 0:
            chunk = carry.pop() if carry else next(stream, None)
            if chunk is None:
                raise ValueError("the chunks end before the regions do")
            chunk = chunk.reshape(-1)
            if chunk.size > count:
                carry.append(chunk[count:])
                chunk = chunk[:count]
            count -= chunk.size
            yield chunk
        if last and (carry or next(stream, None) is not None):
            raise ValueError("the chunks hold more than the regions")

    regions = list(regions)
    out = []
    for i, region in enumerate(regions):
        n = 1
        for d in region.lengths:
            n *= d
        out.append((region, take(n, i == len(regions) - 1)))
    return out
