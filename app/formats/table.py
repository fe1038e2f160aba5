"""Reader for the LevelDB-format immutable table TensorFlow uses for `.index` files and
pre-0.11 checkpoints (tensorflow/core/lib/io/table_format.txt).

Layout: data blocks, a metaindex block, an index block, and a 48-byte footer holding the
handles of the last two and a magic number. Each block ends with a 5-byte trailer
(compression type, masked crc32c) that is verified here; blocks may be snappy-compressed. Every length and offset read from
the file is checked against the file before it is used.
"""

from __future__ import annotations

import struct

import crc32c
import cramjam

from .crc import unmask_crc
from .errors import FormatError
from .files import read_small_file

MAGIC = bytes.fromhex("57fb808b247547db")  # 0xdb4775248b80fb57, little-endian
FOOTER_SIZE = 48
_TRAILER_SIZE = 5


def has_table_magic(tail: bytes) -> bool:
    return len(tail) >= 8 and tail[-8:] == MAGIC


def read_varint(buf, pos: int, limit: int, path) -> tuple[int, int]:
    """Decode a varint64 at buf[pos:limit]; return (value, next position)."""
    result = shift = 0
    while True:
        if pos >= limit or shift > 63:
            raise FormatError(path, "malformed index: bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


class Table:
    """All (key, value) pairs of one table file, in key order."""

    def __init__(self, path: str):
        self.path = path
        self.data = read_small_file(path)
        if len(self.data) < FOOTER_SIZE or not has_table_magic(self.data):
            raise FormatError(path, "not a TensorFlow index/table file (no table magic at the end; "
                                    "truncated or not a checkpoint)")
        footer = memoryview(self.data)[-FOOTER_SIZE:]
        _meta_off, pos = read_varint(footer, 0, 40, path)
        _meta_size, pos = read_varint(footer, pos, 40, path)
        index_off, pos = read_varint(footer, pos, 40, path)
        index_size, pos = read_varint(footer, pos, 40, path)
        self._index_handle = (index_off, index_size)
        # Nothing in the metaindex is used, but its bytes are part of the file: a flip
        # there is corruption all the same.
        self._block(_meta_off, _meta_size)

    def _block(self, offset: int, size: int) -> memoryview:
        end = offset + size
        if offset < 0 or end + _TRAILER_SIZE > len(self.data) - FOOTER_SIZE:
            raise FormatError(self.path, f"malformed index: block at {offset}+{size} lies outside "
                                         f"the file ({len(self.data)} bytes; truncated?)")
        view = memoryview(self.data)
        kind = self.data[end]
        stored = struct.unpack_from("<I", self.data, end + 1)[0]
        actual = crc32c.crc32c(view[offset:end + 1])
        if unmask_crc(stored) != actual:
            raise FormatError(self.path, f"index block at offset {offset} fails its checksum "
                                         "(the file is corrupt)")
        if kind == 0:
            return view[offset:end]
        if kind == 1:  # snappy, as newer TensorFlow writes SavedModel indexes
            try:
                return memoryview(bytes(cramjam.snappy.decompress_raw(view[offset:end])))
            except Exception:
                raise FormatError(self.path, f"index block at offset {offset} does not "
                                             "decompress (corrupt)") from None
        raise FormatError(self.path, f"index block at offset {offset} uses unknown "
                                     f"compression type {kind}")

    def _entries(self, block: memoryview):
        n = len(block)
        if n < 4:
            raise FormatError(self.path, "malformed index: block too short")
        num_restarts = struct.unpack_from("<I", block, n - 4)[0]
        limit = n - 4 - 4 * num_restarts
        if num_restarts == 0 or limit < 0:
            raise FormatError(self.path, "malformed index: bad restart array")
        pos, key = 0, b""
        while pos < limit:
            shared, pos = read_varint(block, pos, limit, self.path)
            unshared, pos = read_varint(block, pos, limit, self.path)
            vlen, pos = read_varint(block, pos, limit, self.path)
            if shared > len(key) or pos + unshared + vlen > limit:
                raise FormatError(self.path, "malformed index: entry overruns its block")
            key = key[:shared] + bytes(block[pos:pos + unshared])
            pos += unshared
            yield key, block[pos:pos + vlen]
            pos += vlen

    def items(self):
        """Yield (key: bytes, value: memoryview) for every entry, verifying every block."""
        index = self._block(*self._index_handle)
        seen = set()
        for _last_key, handle in self._entries(index):
            offset, p = read_varint(handle, 0, len(handle), self.path)
            size, _ = read_varint(handle, p, len(handle), self.path)
            if offset in seen:
                raise FormatError(self.path, "malformed index: a block is listed twice")
            seen.add(offset)
            yield from self._entries(self._block(offset, size))
