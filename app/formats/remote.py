"""Files in object storage and on web servers, read through fsspec by byte range.

Every URL fsspec knows works (`s3://` with s3fs, `gs://` with gcsfs, `https://` with
aiohttp, `hf://`…), with each SDK's usual credentials; S3-compatible stores are reached
through `AWS_ENDPOINT_URL`. This module is the only one that talks to them:

- listings of a folder (kept a couple of seconds, and on disk for offline reopening),
- small files read whole (state file, `.index`, `.meta`),
- ranges of a data file, whole or streamed in parts with several requests in flight.

A range is kept in the disk cache (cache.py) only once it passed its crc32c, a whole file
once its reader confirmed it parsed; a query
string (a signed URL's signature, a SAS token) is held here, carried to the files beside
the one it came with, and never appears in a path, a message or the cache's keys.
Failures become FormatError naming the URL (shown without secrets) and what to do;
dropped connections and answers of the wrong length are retried with backoff.
"""

from __future__ import annotations

import json
import os
import posixpath
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitTimeout
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, NamedTuple
from urllib.parse import unquote

import crc32c

from . import cache
from .errors import Cancelled, FormatError
from .crc import mask_crc
from .urls import display, is_url, root_and_rest, scheme, split_secret

LISTING_TTL = 2.0          # seconds a folder listing is trusted before asking again
PART_BYTES = 8 << 20       # one request of a streamed range
IN_FLIGHT = 6              # requests of one stream running at once
ATTEMPTS = 4               # tries of one request when the connection drops
BACKOFF = 0.25             # seconds before the second try; doubles after

# scheme → (the optional extra that installs its filesystem, the package)
EXTRAS = {"s3": ("s3", "s3fs"), "s3a": ("s3", "s3fs"), "gs": ("gcs", "gcsfs"),
          "gcs": ("gcs", "gcsfs"), "http": ("http", "aiohttp"), "https": ("http", "aiohttp")}

# scheme → the environment variable its SDK takes another endpoint from
ENDPOINT_SETTINGS = {"s3": "AWS_ENDPOINT_URL", "s3a": "AWS_ENDPOINT_URL",
                     "gs": "STORAGE_EMULATOR_HOST", "gcs": "STORAGE_EMULATOR_HOST"}

# what crossed the link, for the benchmark and the tests of laziness
counters = {"requests": 0, "bytes": 0}


class Entry(NamedTuple):
    size: int | None
    mtime: float
    is_dir: bool


def timeout() -> float:
    try:
        return float(os.environ.get("CKPT_BROWSER_REMOTE_TIMEOUT", "20"))
    except ValueError:
        return 20.0


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.fs: dict[str, object] = {}
        self.anonymous: set[str] = set()
        self.queries: dict[str, str] = {}            # folder URL → query string to carry
        self.listings: dict[str, tuple[float, dict[str, Entry] | None]] = {}
        self.infos: dict[str, tuple[float, Entry | None]] = {}
        self.dirs: set[str] = set()                  # URLs typed with a trailing '/'
        self.unconfirmed: dict[str, tuple[str, bytes]] = {}   # read whole, not yet parsed
        self.pool: ThreadPoolExecutor | None = None


_state = _State()
_waiting = threading.local()   # .stop: the calling thread's "should I stop?" question


def reset() -> None:
    """Forget filesystems, listings and carried queries (tests start servers anew)."""
    global _state
    old, _state = _state, _State()
    for fs in old.fs.values():
        try:
            type(fs).clear_instance_cache()
        except Exception:
            pass


# -- URLs --------------------------------------------------------------------------------

def register(url: str) -> str:
    """The URL as the readers will name it: no query string (kept here, for this file and
    its neighbours), no trailing '/' (remembered: the user meant a folder)."""
    clean, query = split_secret(url)
    if clean.endswith("/") and len(root_and_rest(clean)[1].strip("/")) > 0:
        clean = clean.rstrip("/")
        _state.dirs.add(clean)
    if query:
        _state.queries[clean] = query
        _state.queries[posixpath.dirname(clean)] = query
    return clean


def _with_query(url: str) -> str:
    q = _state.queries.get(url) or _state.queries.get(posixpath.dirname(url))
    return url + q if q else url


def _filesystem(url: str):
    sch = scheme(url)
    key = sch + ("+anon" if sch in _state.anonymous else "")
    fs = _state.fs.get(key)
    if fs is not None:
        return fs
    extra, package = EXTRAS.get(sch, (None, None))
    hint = (f"pip install 'checkpoint-browser[{extra}]'" if extra
            else f"install the fsspec package that serves {sch}://")
    try:
        import fsspec
    except ImportError:
        raise FormatError(url, f"opening URLs needs the optional package fsspec: {hint}") from None
    try:
        cls = fsspec.get_filesystem_class(sch)
        fs = cls(**_options(sch, sch in _state.anonymous))
        if sch in ("s3", "s3a"):
            fs.retries = 1   # s3fs's own retry loop: ours (_call) does it, bounded
    except ImportError:
        raise FormatError(url, f"{sch}:// URLs need the optional package {package or 'for it'}: "
                               f"{hint}") from None
    except ValueError:
        raise FormatError(url, f"no filesystem knows {sch}:// URLs") from None
    _state.fs[key] = fs
    return fs


def connect(url: str) -> None:
    """Make the filesystem for the URL's scheme now (its SDK's start-up costs a second or
    two), without asking the server anything."""
    _filesystem(url)


def _options(sch: str, anonymous: bool) -> dict:
    t = timeout()
    if sch in ("s3", "s3a"):
        # our own retries (with backoff, bounded) instead of the SDK's longer ones
        return {"anon": anonymous, "config_kwargs": {
            "connect_timeout": t, "read_timeout": t, "retries": {"total_max_attempts": 1}}}
    if sch in ("gs", "gcs"):
        # gcsfs sets no timeout of its own: a silent endpoint would hang. Per connection
        # and per read, not per request: a large part on a slow link takes its time.
        import aiohttp
        opts = {"requests_timeout": aiohttp.ClientTimeout(total=None, sock_connect=t, sock_read=t)}
        if anonymous:
            opts["token"] = "anon"
        return opts
    if sch in ("http", "https"):
        import aiohttp
        return {"client_kwargs": {"timeout": aiohttp.ClientTimeout(
            total=None, sock_connect=t, sock_read=t)}}
    return {}


def _fs_path(fs, url: str) -> str:
    return fs._strip_protocol(url) if scheme(url) not in ("http", "https") else url


# -- calls, retries, messages -------------------------------------------------------------

def _status(exc: BaseException) -> int | None:
    for attr in ("status", "code", "status_code"):
        v = getattr(exc, attr, None)
        if isinstance(v, int):
            return v
    if type(exc) is OSError and str(exc).startswith("Forbidden: "):
        return 403   # gcsfs's 403: a plain OSError, its text the only sign
    return None


def _not_found(exc: BaseException) -> bool:
    """A 404, not a FileNotFoundError that a filesystem made of a dropped connection
    (fsspec's web filesystem says "not found" for any failed HEAD)."""
    if isinstance(exc, FileNotFoundError):
        cause = exc.__cause__
        return cause is None or isinstance(cause, FileNotFoundError) or _status(cause) == 404
    return _status(exc) == 404


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return _not_found(exc)
    if isinstance(exc, (PermissionError, IsADirectoryError,
                        NotADirectoryError, FormatError, ImportError, TypeError)):
        return True
    status = _status(exc)
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _message(url: str, exc: BaseException) -> FormatError:
    status = _status(exc)
    name = type(exc).__name__
    if _not_found(exc):
        return FormatError(url, "not found on the server (404): check the URL")
    if isinstance(exc, FileNotFoundError) and exc.__cause__ is not None:
        exc = exc.__cause__
        status, name = _status(exc), type(exc).__name__
    if isinstance(exc, PermissionError) or status in (401, 403):
        code = status if status in (401, 403) else 403
        return FormatError(url, f"access denied ({code}): check your credentials (the storage "
                                "SDK's environment variables or config files) or that the object "
                                "is public")
    if "Credentials" in name:
        return FormatError(url, "no credentials found for this store: set them the SDK's usual way")
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        endpoint = ENDPOINT_SETTINGS.get(scheme(url))
        check = (f"the network, the address or the endpoint ({endpoint})" if endpoint
                 else "the network or the address")
        return FormatError(url, f"no answer within {timeout():g} s: check {check}")
    text = display(str(exc)).splitlines()[0][:200] if str(exc) else name
    return FormatError(url, f"cannot read ({text}): check the network and the address")


@contextmanager
def cancel_when(stop, progress=None):
    """Within this block, remote reads made by this thread give up (raising Cancelled)
    within a tenth of a second of `stop()` turning true; requests under way are left to
    finish in the background and their bytes are dropped. Large files read whole report
    to `progress(fraction, text)`."""
    previous = getattr(_waiting, "stop", None), getattr(_waiting, "progress", None)
    _waiting.stop, _waiting.progress = stop, progress
    try:
        yield
    finally:
        _waiting.stop, _waiting.progress = previous


def _wait(future):
    stop = getattr(_waiting, "stop", None)
    while True:
        try:
            return future.result(timeout=None if stop is None else 0.1)
        except WaitTimeout:
            if stop():
                future.cancel()
                raise Cancelled() from None


def _call(url: str, fn, *args):
    """fn(fs, *args): retried with backoff when the connection drops; FormatError else.
    A thread that may be told to stop waits for it from beside (see cancel_when)."""
    if getattr(_waiting, "stop", None) is not None:
        return _wait(_pool().submit(_call_here, url, fn, *args))
    return _call_here(url, fn, *args)


def _call_here(url: str, fn, *args):
    delay = BACKOFF
    # gcsfs tries each request six times itself (with backoff up to half a minute)
    attempts = 1 if scheme(url) in ("gs", "gcs") else ATTEMPTS
    tried = 0
    while True:
        fs = _filesystem(url)
        try:
            return fn(fs, *args)
        except FormatError:
            raise
        except Exception as exc:  # every SDK has its own errors; sorted by what they mean
            if "NoCredentials" in type(exc).__name__ and scheme(url) not in _state.anonymous:
                _state.anonymous.add(scheme(url))   # a public bucket: ask again, anonymously
                continue
            tried += 1
            if _permanent(exc) or tried == attempts:
                raise _message(url, exc) from None
        time.sleep(delay)
        delay *= 2


def _mtime(d: dict) -> float:
    for key in ("mtime", "LastModified", "updated", "last_modified", "last_commit"):
        v = d.get(key)
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            try:
                return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return 0.0


# -- listings and file facts ----------------------------------------------------------------

def listing(folder: str, fresh: bool = False) -> dict[str, Entry] | None:
    """name → Entry of a folder's files and subfolders; None when the server gives no
    listing (a plain web server). Offline, the last listing kept on disk answers."""
    now = time.monotonic()
    hit = _state.listings.get(folder)
    if hit is not None and not fresh and now - hit[0] < LISTING_TTL:
        return hit[1]
    key = "list|" + folder
    try:
        found = _call(folder, _ls, folder)
    except FormatError as e:
        if "not found" in e.problem:
            found = {}
        else:
            cached = cache.get(key)
            if cached is None:
                raise
            found = {n: Entry(*v) for n, v in json.loads(cached).items()}
    else:
        if found:
            cache.put(key, json.dumps(found).encode())
    _state.listings[folder] = (now, found)
    return found


def _ls(fs, folder: str) -> dict[str, Entry] | None:
    web = scheme(folder) in ("http", "https")
    try:
        # a web folder is its page at "folder/" (relative links resolve against it)
        target = folder.rstrip("/") + "/" + _state.queries.get(folder, "") if web else folder
        items = fs.ls(_fs_path(fs, target), detail=True)
    except Exception as exc:
        # a web server may refuse its folder pages (no autoindex; a signature made for one
        # file): its files are then asked for one by one, as when it has no pages
        if web and (isinstance(exc, FileNotFoundError) or _status(exc) in (401, 403)):
            return None
        raise
    if hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache(_fs_path(fs, folder))
    out: dict[str, Entry] = {}
    base = _fs_path(fs, folder).rstrip("/") + "/"
    for d in items:
        name = d.get("name", "")
        if web:   # links come back joined to the page's address, query string and all
            if name.startswith(target):
                name = base + name[len(target):].lstrip("/")
            name = split_secret(name)[0]
        if not name.startswith(base):
            continue
        rel = unquote(name[len(base):].rstrip("/"))
        if not rel or "/" in rel:
            continue
        is_dir = d.get("type") == "directory"
        out[rel] = Entry(None if is_dir else d.get("size"), _mtime(d), is_dir)
    if web and not out:
        return None
    return out


def info(url: str, fresh: bool = False) -> Entry | None:
    """What the URL is (a file with its size and time, a folder), None if nothing."""
    if url in _state.dirs:
        return Entry(None, 0.0, True)
    parent, name = posixpath.split(url)
    if is_url(parent) and root_and_rest(parent)[1]:
        lst = listing(parent, fresh)
        if lst is not None and (name not in lst or lst[name].is_dir or lst[name].size is not None):
            return lst.get(name)   # a web server's page gives no sizes: asked below
    now = time.monotonic()
    hit = _state.infos.get(url)
    if hit is not None and not fresh and now - hit[0] < LISTING_TTL:
        return hit[1]
    try:
        d = _call(url, lambda fs: fs.info(_fs_path(fs, _with_query(url))))
        e = Entry(d.get("size"), _mtime(d), d.get("type") == "directory")
        cache.put("info|" + url, json.dumps(e).encode())
    except FormatError as err:
        if "not found" in err.problem:
            e = None
        else:   # offline: what was learnt last time, if anything
            kept = cache.get("info|" + url)
            if kept is None:
                raise
            e = Entry(*json.loads(kept))
    _state.infos[url] = (now, e)
    return e


def isdir(url: str) -> bool:
    if url in _state.dirs:
        return True
    if scheme(url) in ("http", "https"):
        return False   # asked only for what it was typed as: a web server lists by page
    e = info(url)
    if e is not None:
        return e.is_dir
    lst = listing(url)
    return bool(lst)


def isfile(url: str) -> bool:
    if url in _state.dirs:
        return False
    e = info(url)
    return e is not None and not e.is_dir


def listdir(folder: str, fresh: bool = False) -> list[str]:
    """Names in a folder. A web server without listings: the files opened or probed."""
    lst = listing(folder, fresh)
    if lst is not None:
        return sorted(lst)
    seen = set()
    for url, (_, e) in list(_state.infos.items()):
        if e is not None and posixpath.dirname(url) == folder:
            seen.add(posixpath.basename(url))
    for name in list(seen):   # the files of a checkpoint whose index was named
        if name.endswith(".index"):
            stem = name[: -len(".index")]
            for sib in (stem + ".meta", stem + ".data-00000-of-00001"):
                if info(posixpath.join(folder, sib)) is not None:
                    seen.add(sib)
    if info(posixpath.join(folder, "checkpoint")) is not None:
        seen.add("checkpoint")
    return sorted(seen)


def stat(url: str, fresh: bool = False) -> Entry:
    e = info(url, fresh)
    if e is None:
        raise FormatError(url, "file not found")
    if e.is_dir:
        raise FormatError(url, "is a folder, expected a file")
    return e


# -- bytes ---------------------------------------------------------------------------------------

def _fetch(url: str, start: int, end: int, file_size: int | None) -> bytes:
    """Bytes [start, end) of a file, retried until whole."""
    def get(fs):
        data = fs.cat_file(_fs_path(fs, _with_query(url)), start=start, end=end)
        counters["requests"] += 1
        counters["bytes"] += len(data)
        if len(data) != end - start and file_size is not None and len(data) == file_size:
            data = data[start:end]   # a server that ignores Range sent the whole file
        if len(data) != end - start:
            raise ConnectionError(f"got {len(data)} bytes where {end - start} were asked")
        return data
    return _call(url, get)


def read_whole(url: str, limit: int) -> bytes:
    """A small file (state file, index, graph) whole, through the cache."""
    e = stat(url)
    if e.size is not None and e.size > limit:
        raise FormatError(url, f"is {e.size} bytes, too large for this kind of file")
    key = f"file|{url}|{e.size}|{e.mtime}"
    data = _kept_whole(url, e)
    if data is not None:
        return data
    if e.size is None:
        data = _call(url, lambda fs: fs.cat_file(_fs_path(fs, _with_query(url))))
        counters["requests"] += 1
        counters["bytes"] += len(data)
        return data
    if e.size > 2 * PART_BYTES:   # a big graph: in parts, several at once, with progress
        report = getattr(_waiting, "progress", None)
        parts, done = [], 0
        for piece in stream(url, 0, e.size, PART_BYTES, None):
            parts.append(piece)
            done += len(piece)
            if report is not None:
                report(done / e.size, f"downloading {posixpath.basename(url)}: "
                                      f"{done >> 20} of {e.size >> 20} MB")
        data = b"".join(parts)
    else:
        data = _fetch(url, 0, e.size, e.size) if e.size else b""
    with _state.lock:
        _state.unconfirmed[url] = (key, data)
    return data


def confirm(url: str) -> None:
    """The file last read whole from `url` parsed (its own checksums passed): keep it."""
    with _state.lock:
        held = _state.unconfirmed.pop(url, None)
    if held is not None:
        cache.put(*held)


def _kept_whole(url: str, e: Entry) -> bytes | None:
    data = cache.get(f"file|{url}|{e.size}|{e.mtime}") if e.size is not None else None
    return data if data is not None and len(data) == e.size else None


def read_head(url: str, n: int) -> bytes:
    e = stat(url)
    kept = _kept_whole(url, e)
    if kept is not None:
        return kept[:n]
    end = min(n, e.size) if e.size is not None else n
    return _fetch(url, 0, end, e.size) if end else b""


def read_tail(url: str, n: int) -> bytes:
    e = stat(url)
    if e.size is None:
        return read_whole(url, 1 << 30)[-n:]
    kept = _kept_whole(url, e)
    if kept is not None:
        return kept[-n:]
    start = max(0, e.size - n)
    return _fetch(url, start, e.size, e.size) if e.size > start else b""


def _range_key(url: str, e: Entry, offset: int, size: int) -> str:
    return f"range|{url}|{e.size}|{e.mtime}|{offset}|{size}"


def _crc_ok(data, crc: int | None) -> bool:
    return crc is not None and mask_crc(crc32c.crc32c(data)) == crc


def read_range(url: str, offset: int, size: int, crc: int | None = None) -> bytes:
    """Bytes [offset, offset+size). With `crc` (the masked crc32c the index records) they
    are checked: good bytes are cached, bad ones fetched once more and then returned
    uncached, for the caller's own check to report."""
    e = stat(url)
    key = _range_key(url, e, offset, size)
    data = cache.get(key) if crc is not None else None
    if data is not None and len(data) == size and _crc_ok(data, crc):
        return data
    data = _fetch(url, offset, offset + size, e.size)
    if crc is not None and not _crc_ok(data, crc):
        data = _fetch(url, offset, offset + size, e.size)
    if _crc_ok(data, crc):
        cache.put(key, data)
    return data


def local_copy(url: str) -> str:
    """A whole local copy of a remote file, for TensorFlow to open (the runner): kept in
    the cache folder under `files/`, named by its folder's URL, and reused while the
    remote file keeps its size and time. Fetched in parts, several at once, reporting to
    the progress of `cancel_when`."""
    folder = os.path.join(cache.folder(), "files", _digest(posixpath.dirname(url)))
    return _copy_to(url, os.path.join(folder, posixpath.basename(url)))


def _digest(text: str) -> str:
    import hashlib
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def mirror(folder: str, wanted, depth: int) -> str:
    """A local folder holding copies of the files `wanted(name)` picks in a remote folder
    and its subfolders (down to `depth`), laid out as there; reused while they keep their
    size and time. For readers of whole files (event files)."""
    root = os.path.join(cache.folder(), "files", "tree-" + _digest(folder))

    def walk(url: str, local: str, level: int) -> None:
        for name, e in sorted((listing(url) or {}).items()):
            if e.is_dir:
                if level < depth and not name.startswith("."):
                    walk(posixpath.join(url, name), os.path.join(local, name), level + 1)
            elif wanted(name):
                os.makedirs(local, mode=0o700, exist_ok=True)
                _copy_to(posixpath.join(url, name), os.path.join(local, name))
    walk(folder, root, 0)
    return root


def _copy_to(url: str, target: str) -> str:
    e = stat(url)
    folder = os.path.dirname(target)
    try:
        st = os.stat(target)
        if st.st_size == e.size and abs(st.st_mtime - e.mtime) < 1e-3:
            return target
    except OSError:
        pass
    os.makedirs(folder, mode=0o700, exist_ok=True)
    report = getattr(_waiting, "progress", None)
    tmp = target + ".part"
    done = 0
    try:
        with open(tmp, "wb") as out:
            for piece in stream(url, 0, e.size or 0, PART_BYTES, None):
                out.write(piece)
                done += len(piece)
                if report is not None and e.size:
                    report(done / e.size, f"copying {posixpath.basename(url)}: "
                                          f"{done >> 20} of {e.size >> 20} MB")
        os.utime(tmp, (e.mtime, e.mtime))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return target


def _pool() -> ThreadPoolExecutor:
    with _state.lock:
        if _state.pool is None:
            _state.pool = ThreadPoolExecutor(max_workers=IN_FLIGHT * 2,
                                             thread_name_prefix="remote-range")
        return _state.pool


def stream(url: str, offset: int, size: int, part: int, crc: int | None) -> Iterator[bytes]:
    """Bytes [offset, offset+size) in order, in pieces of `part` bytes, with IN_FLIGHT
    requests running ahead of the consumer. The caller checks the crc over the pieces;
    this keeps the range on disk only when it matches too."""
    e = stat(url)
    key = _range_key(url, e, offset, size)
    cached = cache.path_of(key) if crc is not None else None
    if cached is not None and os.path.getsize(cached) == size:
        try:
            with open(cached, "rb") as f:
                while True:
                    piece = f.read(part)
                    if not piece:
                        return
                    yield piece
        except OSError:
            pass
        return
    starts = list(range(offset, offset + size, part))
    pool = _pool()
    pending: list = []
    tmp = cache.new_file() if crc is not None and size <= cache.limit() // 2 else None
    out = open(tmp, "wb") if tmp else None
    running = 0
    done = False
    try:
        nxt = 0
        while nxt < len(starts) and len(pending) < IN_FLIGHT:
            s = starts[nxt]
            pending.append(pool.submit(_fetch, url, s, min(s + part, offset + size), e.size))
            nxt += 1
        while pending:
            piece = _wait(pending.pop(0))
            if nxt < len(starts):
                s = starts[nxt]
                pending.append(pool.submit(_fetch, url, s, min(s + part, offset + size), e.size))
                nxt += 1
            running = crc32c.crc32c(piece, running)
            if out is not None:
                out.write(piece)
            yield piece
        done = True
    finally:
        for f in pending:
            f.cancel()
        if out is not None:
            out.close()
            if done and mask_crc(running) == crc:
                cache.commit(tmp, key)
            else:
                cache.discard(tmp)
