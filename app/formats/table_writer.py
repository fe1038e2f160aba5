"""Writer of the LevelDB-format table TensorFlow uses for `.index` files: the inverse of
`table.Table` (tensorflow/core/lib/io/table_format.txt).

Keys go in sorted; entries are prefix-compressed against the previous key with a restart
point every RESTART_INTERVAL entries (every entry in the index block); a block is closed
once it passes BLOCK_SIZE bytes. Every block gets the 5-byte trailer (no compression, masked crc32c); an index block maps
each data block to its handle under a short key between its last key and the next block's
first (as TensorFlow's table builder shortens them: the same bytes as its own index); the
metaindex block is empty; the 48-byte footer holds both handles and the magic number. An
index is small (one entry per tensor), so the whole table is built in memory and written
in one go.
"""

from __future__ import annotations

import struct

import crc32c

from .crc import mask_crc
from .table import FOOTER_SIZE, MAGIC

BLOCK_SIZE = 256 << 10      # TensorFlow's TableOptions default
RESTART_INTERVAL = 16


def varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class _Block:
    def __init__(self, restart_interval: int = RESTART_INTERVAL):
        self.restart_interval = restart_interval
        self.buf = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""
        self.entries = 0

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.restart_interval:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buf))
            self.counter = 0
        self.buf += varint(shared) + varint(len(key) - shared) + varint(len(value))
        self.buf += key[shared:]
        self.buf += value
        self.last_key = key
        self.counter += 1
        self.entries += 1

    def size(self) -> int:
        return len(self.buf) + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        tail = b"".join(struct.pack("<I", r) for r in self.restarts)
        return bytes(self.buf) + tail + struct.pack("<I", len(self.restarts))


def _separator(start: bytes, limit: bytes) -> bytes:
    """A short key >= start and < limit: start cut after its first byte that differs from
    limit's, that byte raised by one, when that stays below limit (else start itself)."""
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
        return start[:i] + bytes([start[i] + 1])
    return start


def _successor(key: bytes) -> bytes:
    """A short key >= key: cut after its first byte below 0xff, raised by one."""
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes([b + 1])
    return key


def _handle(offset: int, size: int) -> bytes:
    return varint(offset) + varint(size)


def table_bytes(items) -> bytes:
    """A complete table of `items`, (key: bytes, value: bytes) pairs in strictly
    increasing key order (ValueError otherwise)."""
    out = bytearray()
    index = _Block(restart_interval=1)
    block = _Block()
    previous = None
    pending = None    # (last key, handle) of the block written last, until the next key

    def flush() -> None:
        nonlocal block, pending
        if not block.entries:
            return
        offset, raw = len(out), block.finish()
        out.extend(_with_trailer(raw))
        pending = (block.last_key, _handle(offset, len(raw)))
        block = _Block()

    for key, value in items:
        key, value = bytes(key), bytes(value)
        if previous is not None and key <= previous:
            raise ValueError(f"table keys out of order or repeated: {key!r} after {previous!r}")
        previous = key
        if pending is not None:
            index.add(_separator(pending[0], key), pending[1])
            pending = None
        block.add(key, value)
        if block.size() >= BLOCK_SIZE:
            flush()
    flush()
    if pending is not None:
        index.add(_successor(pending[0]), pending[1])
    meta_raw = _Block().finish()
    meta_offset = len(out)
    out.extend(_with_trailer(meta_raw))
    index_raw = index.finish()
    index_offset = len(out)
    out.extend(_with_trailer(index_raw))
    handles = _handle(meta_offset, len(meta_raw)) + _handle(index_offset, len(index_raw))
    out.extend(handles + b"\x00" * (FOOTER_SIZE - len(MAGIC) - len(handles)) + MAGIC)
    return bytes(out)


def _with_trailer(raw: bytes) -> bytes:
    kind = b"\x00"  # no compression
    return raw + kind + struct.pack("<I", mask_crc(crc32c.crc32c(raw + kind)))
