"""One running app per user: a second launch hands its paths to the first one and exits.

The first instance listens on a local socket (`InstanceServer`); the protocol, the
socket's name and the client's half (`try_hand_over`, which needs no Qt on Unix) are in
`app.handover`. The server answers from the event loop, so a busy instance (a model
loading in the worker threads) answers as soon as the UI thread is free; connecting
already succeeds before that, as the kernel queues the connection.

macOS opens documents of a running app with a `QFileOpenEvent` instead of a second
launch; `FileOpenFilter` turns those into a callback.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from ..handover import NAME_ENV, default_server_name, server_alive, try_hand_over  # noqa: F401

IDLE_TIMEOUT_MS = 10000      # the server drops a connection that sends no full message
MAX_MESSAGE = 1 << 20


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
        if server_alive(self.name):
            return False
        if self._server.listen(self.name):
            return True
        if self._server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
            return False
        # In use by no one we can reach: a stale socket file. (Checked again: another
        # instance may have started since.)
        if server_alive(self.name):
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
