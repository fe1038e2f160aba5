"""Careful file access: only regular files are opened (a FIFO would block, a directory
cannot be read), sizes are checked before anything is allocated, nothing is ever written.
URLs are read through location.py (whole, or their tail, by range)."""

from __future__ import annotations

from . import location
from .errors import FormatError

# Index files, graphs and state files are read whole; anything larger than this is not one.
MAX_SMALL_FILE = 2 << 30


def regular_file_size(path: str) -> int:
    """Size of a regular file, or FormatError saying why it cannot be read."""
    return location.stat(path).size


def read_small_file(path: str, limit: int = MAX_SMALL_FILE) -> bytes:
    if location.is_url(path):
        return location.read_whole(path, limit)
    size = regular_file_size(path)
    if size > limit:
        raise FormatError(path, f"is {size} bytes, too large for this kind of file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror}") from None


def read_tail(path: str, n: int) -> bytes:
    """The last n bytes of a regular file (fewer if it is shorter)."""
    if location.is_url(path):
        return location.read_tail(path, n)
    size = regular_file_size(path)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, size - n))
            return f.read(n)
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror}") from None
