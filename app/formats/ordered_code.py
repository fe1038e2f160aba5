"""The key under which a bundle stores one slice of a partitioned variable.

TensorFlow builds it with its OrderedCode encoding (tensorflow/core/lib/strings/ordered_code.cc):
a 0, the variable's name, its rank, then (start, length) per dimension with length -1 for
"the whole dimension". Encoding the key we expect and looking it up is simpler and stricter
than decoding every key in the index.
"""

from __future__ import annotations


def _num_increasing(value: int) -> bytes:
    """Unsigned: one length byte, then the value's big-endian bytes."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")  # 0: no bytes
    return bytes([len(body)]) + body


def _string(value: bytes) -> bytes:
    """0x00 and 0xff are escaped (as 0x00 0xff and 0xff 0x00, in one pass: the escape of
    one must not be escaped again as the other); 0x00 0x01 ends the string."""
    escaped = b"\x00\xff".join(part.replace(b"\xff", b"\xff\x00") for part in value.split(b"\x00"))
    return escaped + b"\x00\x01"


def _signed_num_increasing(value: int) -> bytes:
    """Signed: n bytes whose leading n bits (flipped for negatives) give the length n."""
    x = ~value if value < 0 else value
    length = 1
    while x >= 1 << (7 * length - 1):  # an n-byte encoding holds 7n - 1 bits of magnitude
        length += 1
    raw = bytearray(value.to_bytes(length, "big", signed=True))  # two's complement, any length
    header = ((1 << length) - 1) << (16 - length)  # `length` leading ones, as 16 bits
    raw[0] ^= (header >> 8) & 0xFF
    if length > 1:
        raw[1] ^= header & 0xFF
    return bytes(raw)


def slice_key(name: bytes, extents: list[tuple[int, int]]) -> bytes:
    """Key of the slice of `name` given as (start, length) per dimension, length -1 = all."""
    out = _num_increasing(0) + _string(name) + _num_increasing(len(extents))
    for start, length in extents:
        out += _signed_num_increasing(start) + _signed_num_increasing(length)
    return out
