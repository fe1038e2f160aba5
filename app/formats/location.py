"""Where a model's files are: a local path or a URL, behind one set of file questions.

The readers ask here (is it a folder, list it, how big, read it) instead of `os`: a local
path goes straight to the operating system, unchanged (data shards stay memory-mapped, see
bundle.py); a URL goes to remote.py, which reads it through fsspec, lazily and by range.
Path arithmetic on URLs is POSIX arithmetic after the `scheme://`.
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_module
from typing import NamedTuple

from .urls import display, is_url, local_path, root_and_rest

__all__ = ["is_url", "display", "normalize", "isdir", "isfile", "exists", "listdir", "stat",
           "read_whole", "trust", "read_head", "read_tail", "join", "dirname", "basename",
           "normpath", "commonpath", "inside"]


class Stat(NamedTuple):
    size: int
    mtime: float


def _remote():
    from . import remote  # fsspec and friends are imported only when a URL is opened
    return remote


def normalize(path: str) -> str:
    """A path as the readers name it: local ones absolute; URLs without their secrets
    (held aside to be sent, never shown) and without a trailing '/'."""
    path = local_path(os.fspath(path))
    if is_url(path):
        return _remote().register(path)
    return os.path.abspath(os.path.expanduser(path))


def isdir(path: str) -> bool:
    return _remote().isdir(path) if is_url(path) else os.path.isdir(path)


def isfile(path: str) -> bool:
    return _remote().isfile(path) if is_url(path) else os.path.isfile(path)


def exists(path: str) -> bool:
    if is_url(path):
        r = _remote()
        return r.isfile(path) or r.isdir(path)
    return os.path.exists(path)


def listdir(path: str, fresh: bool = False) -> list[str]:
    """Names in a folder; OSError when it cannot be listed (FormatError for URLs)."""
    return _remote().listdir(path, fresh) if is_url(path) else os.listdir(path)


def stat(path: str, fresh: bool = False) -> Stat:
    """Size and modification time of a regular file; FormatError saying why not."""
    from .errors import FormatError
    if is_url(path):
        e = _remote().stat(path, fresh)
        return Stat(e.size or 0, e.mtime)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror}") from None
    if stat_module.S_ISDIR(st.st_mode):
        raise FormatError(path, "is a folder, expected a file")
    if not stat_module.S_ISREG(st.st_mode):
        raise FormatError(path, "is not a regular file (device, FIFO or socket)")
    return Stat(st.st_size, st.st_mtime)


def read_whole(url: str, limit: int) -> bytes:
    return _remote().read_whole(url, limit)


def cancel_when(stop, progress=None):
    """A context in which remote reads of this thread stop (Cancelled) soon after
    `stop()` turns true, and big downloads report to `progress(fraction, text)`. Local
    reads need none: they never wait on a network."""
    return _remote().cancel_when(stop, progress)


def local_copies(paths: list[str]) -> dict[str, str]:
    """Each path as a local file: itself when local, else a whole copy made through the
    cache (see remote.local_copy). For TensorFlow, which reads only local files here."""
    return {p: (_remote().local_copy(p) if is_url(p) else p) for p in paths}


def event_files_copy(folder: str, depth: int) -> str:
    """A local folder with the event files of a remote run folder (and its subfolders),
    copied whole through the cache; a local folder is returned as it is."""
    if not is_url(folder):
        return folder
    from .event_files import is_event_file_name
    return _remote().mirror(folder, is_event_file_name, depth)


def trust(path: str) -> None:
    """A file read whole has parsed: a remote one may now be kept in the disk cache."""
    if is_url(path):
        _remote().confirm(path)


def read_head(url: str, n: int) -> bytes:
    return _remote().read_head(url, n)


def read_tail(url: str, n: int) -> bytes:
    return _remote().read_tail(url, n)


# -- path arithmetic --------------------------------------------------------------------

def join(folder: str, *names: str) -> str:
    return posixpath.join(folder, *names) if is_url(folder) else os.path.join(folder, *names)


def dirname(path: str) -> str:
    return posixpath.dirname(path) if is_url(path) else os.path.dirname(path)


def basename(path: str) -> str:
    return posixpath.basename(path) if is_url(path) else os.path.basename(path)


def normpath(path: str) -> str:
    if is_url(path):
        root, rest = root_and_rest(path)
        return root + posixpath.normpath(rest).lstrip("/")
    return os.path.normpath(path)


def commonpath(paths: list[str]) -> str:
    if paths and all(is_url(p) for p in paths):
        roots = {root_and_rest(p)[0] for p in paths}
        if len(roots) != 1:
            raise ValueError("URLs of different schemes")
        return roots.pop() + posixpath.commonpath([root_and_rest(p)[1] for p in paths])
    return os.path.commonpath(paths)


def inside(folder: str, path: str) -> bool:
    """Whether `path` lies in `folder` (after normalizing both)."""
    root, cand = normpath(folder), normpath(path)
    try:
        return commonpath([root, cand]) == root
    except ValueError:
        return False
