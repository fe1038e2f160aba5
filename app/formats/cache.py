"""The on-disk cache of remote bytes: a size-bounded LRU folder in the user's cache folder.

It keeps only what was checked: tensor ranges whose crc32c matched the index, whole small
files (state file, `.index`, `.meta`) whose length matched their listing, and listings.
Keys name the object's URL (without query string) with its size and modification time, so
a file that changed on the server is a new key. Recency is each file's mtime, touched on a
hit; the oldest go first when the total passes the limit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading

DEFAULT_LIMIT = 2 << 30
_lock = threading.Lock()
_limit: int | None = None


def folder() -> str:
    """$CKPT_BROWSER_CACHE_DIR, else $XDG_CACHE_HOME/checkpoint-browser/remote (~/.cache…)."""
    explicit = os.environ.get("CKPT_BROWSER_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "checkpoint-browser", "remote")


def limit() -> int:
    """The size bound in bytes: set_limit(), else $CKPT_BROWSER_CACHE_MB, else 2 GiB."""
    if _limit is not None:
        return _limit
    try:
        return int(float(os.environ["CKPT_BROWSER_CACHE_MB"]) * (1 << 20))
    except (KeyError, ValueError):
        return DEFAULT_LIMIT


def set_limit(nbytes: int | None) -> None:
    global _limit
    _limit = None if nbytes is None else max(0, int(nbytes))
    trim()


def _file(key: str) -> str:
    return os.path.join(folder(), hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest())


def get(key: str) -> bytes | None:
    path = _file(key)
    try:
        with open(path, "rb") as f:
            data = f.read()
        os.utime(path)
    except OSError:
        return None
    return data


def path_of(key: str) -> str | None:
    """The cached file of a key (touched as used), for reading large entries in parts."""
    path = _file(key)
    try:
        os.utime(path)
    except OSError:
        return None
    return path


def put(key: str, data: bytes) -> None:
    if len(data) > limit() // 2:
        return
    try:
        tmp = new_file()
        with open(tmp, "wb") as f:
            f.write(data)
        commit(tmp, key)
    except OSError:
        pass  # a full or read-only disk makes the cache cold, nothing worse


def new_file() -> str:
    """A fresh temporary file in the cache folder, to be `commit`ted or `discard`ed."""
    os.makedirs(folder(), mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder())
    os.close(fd)
    return tmp


def commit(tmp: str, key: str) -> None:
    try:
        if os.path.getsize(tmp) > limit() // 2:
            discard(tmp)
            return
        os.replace(tmp, _file(key))
    except OSError:
        discard(tmp)
        return
    trim()


def discard(tmp: str) -> None:
    try:
        os.remove(tmp)
    except OSError:
        pass


def usage() -> tuple[int, int]:
    """(bytes, files) held now."""
    total = count = 0
    for entry in _entries():
        total += entry[2]
        count += 1
    return total, count


def _entries() -> list[tuple[float, str, int]]:
    out = []
    try:
        with os.scandir(folder()) as it:
            for d in it:
                if d.name.startswith(".part-") or not d.is_file(follow_symlinks=False):
                    continue   # pieces being written; files/ holds the runner's copies
                try:
                    st = d.stat()
                except OSError:
                    continue
                out.append((st.st_mtime, d.path, st.st_size))
    except OSError:
        pass
    return out


def trim() -> None:
    """Remove the least recently used files until the total fits the limit."""
    with _lock:
        entries = sorted(_entries())
        total = sum(e[2] for e in entries)
        bound = limit()
        for _, path, size in entries:
            if total <= bound:
                break
            try:
                os.remove(path)
            except OSError:
                continue
            total -= size


def clear() -> None:
    """Empty the cache ("Clear cache")."""
    with _lock:
        for _, path, _ in _entries():
            try:
                os.remove(path)
            except OSError:
                pass
