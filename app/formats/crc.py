"""The masked crc32c that TensorFlow's tables, bundles and records store: a crc of data that
itself holds crcs would be weak, so the stored value is rotated and offset."""

from __future__ import annotations

MASK_DELTA = 0xA282EAD8


def mask_crc(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    rot = (masked - MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
