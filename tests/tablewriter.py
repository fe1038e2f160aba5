"""A minimal writer of TensorFlow's table format, for crafting broken and lying indexes in
tests (one data block, a restart point at every entry, no compression)."""

from __future__ import annotations

import struct

import crc32c

from app.formats import protos
from app.formats.crc import mask_crc
from app.formats.table import MAGIC


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(entries) -> bytes:
    body, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(body))
        body += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    for r in restarts or [0]:
        body += struct.pack("<I", r)
    body += struct.pack("<I", len(restarts or [0]))
    return bytes(body)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", mask_crc(crc32c.crc32c(block + b"\x00")))


def table_bytes(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A complete table holding `entries` (sorted by key)."""
    entries = sorted(entries)
    data = _block(entries)
    out = bytearray(_with_trailer(data))
    meta_off = len(out)
    meta = _block([])
    out += _with_trailer(meta)
    last_key = entries[-1][0] if entries else b""
    index = _block([(last_key, varint(0) + varint(len(data)))])
    index_off = len(out)
    out += _with_trailer(index)
    handles = varint(meta_off) + varint(len(meta)) + varint(index_off) + varint(len(index))
    out += handles + b"\x00" * (40 - len(handles)) + MAGIC
    return bytes(out)


def bundle_entry(**fields) -> bytes:
    """A serialized BundleEntryProto; `shape` is a list of dims, the rest its fields."""
    shape = fields.pop("shape", [2])
    e = protos.BundleEntryProto(**fields)
    for d in shape:
        e.shape.dim.add(size=d)
    return e.SerializeToString()


# Index entries that lie about their tensor, each in its own way.
LYING_ENTRIES = {
    "shape-2^40x2^40": dict(dtype=1, shape=[1 << 40, 1 << 40], size=8),
    "negative-dim": dict(dtype=1, shape=[-3], size=8),
    "unknown-dtype": dict(dtype=77, shape=[2], size=8),
    "shard-out-of-range": dict(dtype=1, shape=[2], size=8, shard_id=9),
    "size-mismatch": dict(dtype=1, shape=[2], size=12),
    "offset-past-eof": dict(dtype=1, shape=[2], size=8, offset=1 << 40),
    "string-length-overflow": dict(dtype=7, shape=[3], size=20),  # only the data shows it
    "negative-offset": dict(dtype=1, shape=[2], size=8, offset=-5),
}
