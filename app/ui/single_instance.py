"""One running app per user: a second launch hands its paths to the first one and exits.

The first instance listens on a local socket (`InstanceServer`): a Unix socket in a
directory only the user can enter ($XDG_RUNTIME_DIR, else a private folder in the temp
directory), a named pipe on Windows. A later launch (`try_hand_over`) connects, sends one
line of JSON — `{"paths": [absolute paths…], "activation_token": …}` — and waits for the
line `ok`. The server answers from the event loop, so a busy instance (a model loading in
the worker threads) answers as soon as the UI thread is free; connecting already
succeeds before that, as the kernel queues the connection.

macOS opens documents of a running app with a `QFileOpenEvent` instead of a second
launch; `FileOpenFilter` turns those into a callback.
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
from typing import Callable, Iterable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

APP_ID = "checkpoint-browser"
# Overrides the server name (a path on Unix, a pipe name on Windows): tests, or two
# independent sets of instances.
NAME_ENV = "CHECKPOINT_BROWSER_INSTANCE"

CONNECT_TIMEOUT_MS = 500
# Once connected, an instance is alive; a busy one may take a while to answer.
ACK_TIMEOUT_MS = 15000
IDLE_TIMEOUT_MS = 10000      # the server drops a connection that sends no full message
MAX_MESSAGE = 1 << 20
PROTOCOL = 1


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
        return f"{APP_ID}-{_user_tag()}"      # a named pipe; QLocalServer restricts it to the user
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK | os.X_OK):
        return os.path.join(runtime, f"{APP_ID}.sock")
    folder = os.path.join(tempfile.gettempdir(), f"{APP_ID}-{_user_tag()}")
    return os.path.join(folder, "instance.sock") if _private_dir(folder) else None


def _connect(name: str, timeout_ms: int) -> QLocalSocket | None:
    sock = QLocalSocket()
    sock.connectToServer(name)
    if sock.waitForConnected(timeout_ms):
        return sock
    sock.abort()
    return None


def try_hand_over(paths: Iterable[str], name: str | None = None, *,
                  connect_timeout_ms: int = CONNECT_TIMEOUT_MS,
                  ack_timeout_ms: int = ACK_TIMEOUT_MS) -> bool:
    """Give `paths` to the running instance. True if it took them (this launch should then
    exit); False if none is running, or it did not answer in time.

    Needs no QCoreApplication: call it before creating the window."""
    name = name or default_server_name()
    if not name:
        return False
    message = {
        "protocol": PROTOCOL,
        "paths": [os.path.abspath(p) for p in paths],
        # Wayland: the launcher's token lets the running instance raise its window
        "activation_token": os.environ.get("XDG_ACTIVATION_TOKEN", ""),
    }
    sock = _connect(name, connect_timeout_ms)
    if sock is None:
        return False
    deadline = time.monotonic() + ack_timeout_ms / 1000

    def left_ms() -> int:
        return max(0, int((deadline - time.monotonic()) * 1000))

    try:
        sock.write(json.dumps(message).encode("utf-8") + b"\n")
        while sock.bytesToWrite() > 0:
            if not sock.waitForBytesWritten(left_ms()):
                return False
        while not sock.canReadLine():
            if not sock.waitForReadyRead(left_ms()):     # timed out, or the server hung up
                break
        if not sock.canReadLine():
            return False
        return bytes(sock.readLine()).strip() == b"ok"
    finally:
        sock.abort()


class InstanceServer(QObject):
    """The first instance's end: `start()`, then `paths_received(list)` for each later
    launch (an empty list: launched without paths — just come to the front)."""

    paths_received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or default_server_name()
        # The latest launch's Wayland activation token, for `bring_to_front`.
        self.activation_token = ""
        self._server = QLocalServer(self)
        if sys.platform == "win32":
            # A pipe's default ACL lets others connect; on Unix the folder is private
            # (and this option would make listen() replace a live server's socket).
            self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytearray] = {}
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close)

    def is_listening(self) -> bool:
        return self._server.isListening()

    def start(self) -> bool:
        """Listen under the name. False if another live instance holds it (or no name):
        this one then runs on its own. A socket file left by a crashed instance is
        replaced."""
        if self._server.isListening():
            return True
        if not self.name:
            return False
        if _alive(self.name):
            return False
        if self._server.listen(self.name):
            return True
        if self._server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
            return False
        # In use by no one we can reach: a stale socket file. (Checked again: another
        # instance may have started since.)
        if _alive(self.name):
            return False
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def close(self) -> None:
        if self._server.isListening():
            self._server.close()      # removes the socket file

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = bytearray()
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            timer = QTimer(sock)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda s=sock: s.abort())
            timer.start(IDLE_TIMEOUT_MS)
            if sock.bytesAvailable():
                self._read(sock)

    def _drop(self, sock: QLocalSocket) -> None:
        if self._buffers.pop(sock, None) is not None:
            sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        buf = self._buffers.get(sock)
        if buf is None:
            return
        buf += bytes(sock.readAll())
        if b"\n" not in buf:
            if len(buf) > MAX_MESSAGE:
                sock.abort()
            return
        line = bytes(buf[:buf.index(b"\n")])
        buf.clear()
        try:
            message = json.loads(line.decode("utf-8"))
            paths = message["paths"]
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ValueError("paths is not a list of strings")
        except (ValueError, KeyError, TypeError):
            sock.write(b"error\n")
            sock.disconnectFromServer()
            return
        # Answer first: the sender exits at once, while this instance opens the paths.
        sock.write(b"ok\n")
        sock.flush()
        sock.disconnectFromServer()
        token = message.get("activation_token")
        self.activation_token = token if isinstance(token, str) else ""
        self.paths_received.emit(paths)


def _alive(name: str) -> bool:
    """Whether a server answers under `name` (connecting is enough; nothing is sent)."""
    sock = _connect(name, CONNECT_TIMEOUT_MS)
    if sock is None:
        return False
    sock.abort()
    return True


def bring_to_front(window, activation_token: str = "") -> None:
    """Show, un-minimise, raise and activate `window`. On Wayland the compositor lets an
    app take the focus only with a token from the launch; Qt reads it from the
    environment when activating."""
    if activation_token:
        os.environ["XDG_ACTIVATION_TOKEN"] = activation_token
    if window.isMinimized():
        window.setWindowState((window.windowState() & ~Qt.WindowState.WindowMinimized)
                              | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


def open_in_window(window, paths: list[str], activation_token: str = "") -> None:
    """What the running instance does with a later launch's paths."""
    for path in paths:
        window.open_path(path)
    bring_to_front(window, activation_token)


def serve(window, server: InstanceServer) -> None:
    """Open what later launches hand to `server` in `window`, and raise it."""
    server.paths_received.connect(
        lambda paths: open_in_window(window, paths, server.activation_token))


class FileOpenFilter(QObject):
    """An event filter for the QApplication that passes the path of each `QFileOpenEvent`
    (macOS: a document or folder opened from Finder or dropped on the Dock icon) to
    `callback`."""

    _FILE_OPEN = QEvent.Type.FileOpen

    def __init__(self, callback: Callable[[str], object], parent: QObject | None = None):
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != self._FILE_OPEN:
            return False
        path = event.file() or event.url().toLocalFile()
        if not path:
            return False
        self._callback(path)
        return True


def install_file_open_handler(app, callback: Callable[[str], object],
                              force: bool = False) -> FileOpenFilter | None:
    """Install a `FileOpenFilter` on `app`. Only macOS sends these events, and a filter on
    the application sees every event of every object, so elsewhere nothing is installed
    unless `force`."""
    if sys.platform != "darwin" and not force:
        return None
    handler = FileOpenFilter(callback, app)
    app.installEventFilter(handler)
    return handler
