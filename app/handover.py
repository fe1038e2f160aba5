"""A second launch hands its paths to the running window, before anything heavy is imported.

The running instance listens on a local socket (`app.ui.single_instance.InstanceServer`): a
Unix socket in a folder only the user can enter ($XDG_RUNTIME_DIR, else a private folder in
the temp directory), a named pipe on Windows. A later launch connects, sends one line of
JSON — `{"protocol": 1, "paths": [absolute paths…], "activation_token": …}` — and waits for
the line `ok`.

This module is the client's half and the names both halves use. On Unix it speaks through
the standard library alone, so a double-click on a second file costs a Python start-up and
a round trip, not an import of Qt; on Windows it uses QtNetwork's local socket, the one
client of a named pipe that honours a time-out.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import stat
import sys
import tempfile
import time
from typing import Iterable

APP_ID = "checkpoint-browser"
# Overrides the server name (a path on Unix, a pipe name on Windows): tests, or two
# independent sets of instances.
NAME_ENV = "CHECKPOINT_BROWSER_INSTANCE"
PROTOCOL = 1

CONNECT_TIMEOUT_MS = 500
# Once connected, an instance is alive; a busy one may take a while to answer.
ACK_TIMEOUT_MS = 15000


def _user_tag() -> str:
    if hasattr(os, "getuid"):
        return str(os.getuid())
    try:
        user = getpass.getuser()
    except Exception:
        user = os.environ.get("USERNAME", "user")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", user) or "user"


def _private_dir(path: str) -> bool:
    """Whether `path` is a directory owned by this user that no one else can enter
    (creating it if need be). The socket in it is then the user's alone."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def default_server_name() -> str | None:
    """The per-user name of the running instance's server, or None when there is no safe
    place for it (then every launch is a new instance)."""
    override = os.environ.get(NAME_ENV)
    if override:
        return override
    if sys.platform == "win32":
        return f"{APP_ID}-{_user_tag()}"      # a named pipe; the server restricts it to the user
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK | os.X_OK):
        return os.path.join(runtime, f"{APP_ID}.sock")
    folder = os.path.join(tempfile.gettempdir(), f"{APP_ID}-{_user_tag()}")
    return os.path.join(folder, "instance.sock") if _private_dir(folder) else None


def message(paths: Iterable[str]) -> bytes:
    return json.dumps({
        "protocol": PROTOCOL,
        "paths": [os.path.abspath(p) for p in paths],
        # Wayland: the launcher's token lets the running instance raise its window
        "activation_token": os.environ.get("XDG_ACTIVATION_TOKEN", ""),
    }).encode("utf-8") + b"\n"


class _UnixClient:
    def __init__(self, sock):
        self.sock = sock

    def exchange(self, data: bytes, deadline: float) -> bytes:
        """Send `data`, then read up to the first newline (or until the server hangs up or
        the deadline passes)."""
        sock = self.sock
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(data)
        reply = b""
        while b"\n" not in reply:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
        return reply

    def close(self) -> None:
        self.sock.close()


def _connect(name: str, timeout_ms: int):
    """A connected client, or None when no server answers under `name`."""
    if sys.platform == "win32":
        return _connect_pipe(name, timeout_ms)
    import socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_ms / 1000)
    try:
        sock.connect(name)
    except OSError:
        sock.close()
        return None
    return _UnixClient(sock)


class _PipeClient:
    def __init__(self, sock):
        self.sock = sock

    def exchange(self, data: bytes, deadline: float) -> bytes:
        sock = self.sock

        def left_ms() -> int:
            return max(0, int((deadline - time.monotonic()) * 1000))
        sock.write(data)
        while sock.bytesToWrite() > 0:
            if not sock.waitForBytesWritten(left_ms()):
                return b""
        while not sock.canReadLine():
            if not sock.waitForReadyRead(left_ms()):     # timed out, or the server hung up
                break
        return bytes(sock.readLine()) if sock.canReadLine() else b""

    def close(self) -> None:
        self.sock.abort()


def _connect_pipe(name: str, timeout_ms: int):
    from PySide6.QtNetwork import QLocalSocket
    sock = QLocalSocket()
    sock.connectToServer(name)
    if sock.waitForConnected(timeout_ms):
        return _PipeClient(sock)
    sock.abort()
    return None


def server_alive(name: str, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
    """Whether a server answers under `name` (connecting is enough; nothing is sent)."""
    client = _connect(name, timeout_ms)
    if client is None:
        return False
    client.close()
    return True


def try_hand_over(paths: Iterable[str], name: str | None = None, *,
                  connect_timeout_ms: int = CONNECT_TIMEOUT_MS,
                  ack_timeout_ms: int = ACK_TIMEOUT_MS) -> bool:
    """Give `paths` to the running instance. True if it took them (this launch should then
    exit); False if none is running, or it did not answer in time."""
    name = name or default_server_name()
    if not name:
        return False
    data = message(paths)
    client = _connect(name, connect_timeout_ms)
    if client is None:
        return False
    try:
        reply = client.exchange(data, time.monotonic() + ack_timeout_ms / 1000)
    except OSError:
        return False
    finally:
        client.close()
    return reply.split(b"\n", 1)[0].strip() == b"ok"
