"""A second launch hands its paths to the running instance over a local socket."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings, QUrl  # noqa: E402
from PySide6.QtGui import QFileOpenEvent  # noqa: E402
from PySide6.QtNetwork import QLocalSocket  # noqa: E402

from app.ui import single_instance as si  # noqa: E402

from ..conftest import ROOT  # noqa: E402

TIMEOUT = 15000
SAMPLE = ROOT / "resources" / "sample_run"

# A second launch in its own process: try_hand_over, reporting when it has connected.
CLIENT = r"""
import sys
from app import handover
real_connect = handover._connect
def connect(name, timeout_ms):
    sock = real_connect(name, timeout_ms)
    print("connected" if sock is not None else "no server", flush=True)
    return sock
handover._connect = connect
ok = handover.try_hand_over(sys.argv[2:], sys.argv[1])
print("handed over" if ok else "not handed over", flush=True)
sys.exit(0 if ok else 1)
"""


@pytest.fixture
def name():
    """A server name of its own: a socket path short enough for AF_UNIX (108 bytes)."""
    if sys.platform == "win32":
        yield f"checkpoint-browser-test-{os.getpid()}-{id(object())}"
        return
    folder = tempfile.mkdtemp(prefix="cb-si-")
    yield os.path.join(folder, "s.sock")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(qapp, name):
    srv = si.InstanceServer(name)
    yield srv
    srv.close()
    srv.deleteLater()


def launch(name, paths, cwd, env=None):
    """The second launch, as a process (it blocks in waitFor…, as a real one does)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-c", CLIENT, name, *paths], cwd=cwd,
                            env=full_env, stdout=subprocess.PIPE, text=True)


def finished(qtbot, proc) -> str:
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=TIMEOUT)
    out = proc.stdout.read()
    proc.stdout.close()
    return out


def test_without_a_running_instance_nothing_is_handed_over(name):
    assert si.try_hand_over(["model.ckpt-1.index"], name) is False


def test_a_second_launch_hands_over_absolute_paths_and_exits(qtbot, server, name, tmp_path):
    assert server.start()
    (tmp_path / "run").mkdir()
    with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT) as got:
        proc = launch(name, ["run/model.ckpt-5.index", "run"], cwd=tmp_path)
    assert got.args == [[str(tmp_path / "run" / "model.ckpt-5.index"), str(tmp_path / "run")]]
    out = finished(qtbot, proc)
    assert proc.returncode == 0, out
    assert out.split() == ["connected", "handed", "over"]


def test_a_launch_without_paths_hands_over_an_empty_list(qtbot, server, name, tmp_path):
    assert server.start()
    with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT) as got:
        proc = launch(name, [], cwd=tmp_path)
    assert got.args == [[]]
    assert finished(qtbot, proc).endswith("handed over\n")


def test_a_busy_instance_still_takes_the_paths(qtbot, server, name, tmp_path):
    """The UI thread stalls (here: blocked until the second launch has connected and
    written) while a worker holds the GIL in slices, as when a model loads."""
    assert server.start()
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(range(20000))

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    try:
        proc = launch(name, ["model.ckpt-100.index"], cwd=tmp_path)
        # The event loop is not running: the kernel queues the connection meanwhile.
        assert proc.stdout.readline().strip() == "connected"
        with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT) as got:
            pass   # the event loop runs again; the queued message arrives
        assert got.args == [[str(tmp_path / "model.ckpt-100.index")]]
        out = finished(qtbot, proc)
        assert proc.returncode == 0, out
    finally:
        stop.set()
        worker.join()


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket files")
def test_a_stale_socket_file_is_replaced(qtbot, qapp, name, tmp_path):
    # What a crashed instance leaves: a socket file that nobody listens on.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(name)
    stale.close()
    assert os.path.exists(name)
    assert si.try_hand_over(["x.index"], name) is False
    srv = si.InstanceServer(name)
    try:
        assert srv.start()
        with qtbot.waitSignal(srv.paths_received, timeout=TIMEOUT) as got:
            proc = launch(name, ["y.meta"], cwd=tmp_path)
        assert got.args == [[str(tmp_path / "y.meta")]]
        assert finished(qtbot, proc).endswith("handed over\n")
    finally:
        srv.close()
    assert not os.path.exists(name)     # closing removes the socket file


def test_a_second_server_does_not_take_over_a_live_one(qtbot, server, name, tmp_path):
    assert server.start()
    other = si.InstanceServer(name)
    try:
        assert other.start() is False
        assert not other.is_listening()
    finally:
        other.close()
    with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT):
        proc = launch(name, ["z.ckpt"], cwd=tmp_path)
    finished(qtbot, proc)


def test_a_malformed_message_is_refused(qtbot, server, name):
    """A client in this process, driven by the event loop (blocking waitFor… calls in
    another thread would keep the GIL from the server)."""
    assert server.start()
    received = []
    server.paths_received.connect(received.append)
    sock = QLocalSocket()
    with qtbot.waitSignal(sock.connected, timeout=TIMEOUT):
        sock.connectToServer(name)
    with qtbot.waitSignal(sock.disconnected, timeout=TIMEOUT):
        sock.write(json.dumps({"paths": "not a list"}).encode() + b"\n")
    assert bytes(sock.readAll()) == b"error\n"
    assert received == []


def test_the_running_window_opens_the_paths(qtbot, qapp, name, tmp_path, monkeypatch):
    """What main() wires up: `serve(window, server)`."""
    from app.ui.main_window import MainWindow
    monkeypatch.setenv("XDG_ACTIVATION_TOKEN", "")     # restored after the test
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.showMinimized()
    srv = si.InstanceServer(name)
    try:
        assert srv.start()
        si.serve(window, srv)
        with qtbot.waitSignal(srv.paths_received, timeout=TIMEOUT):
            proc = launch(name, [str(SAMPLE)], cwd=tmp_path,
                          env={"XDG_ACTIVATION_TOKEN": "token-from-the-launcher"})
        assert finished(qtbot, proc).endswith("handed over\n")
        assert window.tabs.count() == 1
        view = window.current()
        assert view.path == str(SAMPLE)
        qtbot.waitUntil(lambda: view.loaded is not None, timeout=TIMEOUT)
        assert not window.isMinimized()
        assert srv.activation_token == "token-from-the-launcher"
        assert os.environ["XDG_ACTIVATION_TOKEN"] == "token-from-the-launcher"
    finally:
        srv.close()
        window.close()


def test_file_open_events_reach_the_callback(qapp, tmp_path):
    opened = []
    handler = si.install_file_open_handler(qapp, opened.append, force=True)
    try:
        path = str(tmp_path / "model.ckpt-1.index")
        assert QCoreApplication.sendEvent(qapp, QFileOpenEvent(path)) is True
        folder = str(tmp_path / "run")
        QCoreApplication.sendEvent(qapp, QFileOpenEvent(QUrl.fromLocalFile(folder)))
        assert opened == [path, folder]
    finally:
        qapp.removeEventFilter(handler)
        handler.deleteLater()


@pytest.mark.skipif(sys.platform == "darwin", reason="installed on macOS")
def test_the_file_open_filter_is_installed_only_on_macos(qapp):
    assert si.install_file_open_handler(qapp, lambda path: None) is None


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket paths")
def test_the_server_name_is_private_to_the_user(tmp_path, monkeypatch):
    monkeypatch.delenv(si.NAME_ENV, raising=False)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert si.default_server_name() == str(runtime / "checkpoint-browser.sock")

    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    name = si.default_server_name()
    folder = tmp_path / f"checkpoint-browser-{os.getuid()}"
    assert name == str(folder / "instance.sock")
    assert folder.stat().st_mode & 0o777 == 0o700

    folder.chmod(0o755)      # someone could read or replace the socket: no single instance
    assert si.default_server_name() is None
    assert si.try_hand_over(["x"]) is False

    monkeypatch.setenv(si.NAME_ENV, "/elsewhere/x.sock")
    assert si.default_server_name() == "/elsewhere/x.sock"


def test_main_py_hands_over_to_the_running_instance_and_exits(qtbot, server, name, tmp_path):
    """Another double-click: `python main.py PATH` with an instance running."""
    assert server.start()
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), **{si.NAME_ENV: name})
    with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT) as got:
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "my_run"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, text=True)
    assert got.args == [[str(tmp_path / "my_run")]]
    finished(qtbot, proc)
    assert proc.returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="Windows hands over through QtNetwork")
def test_a_hand_over_imports_neither_qt_nor_numpy(qtbot, server, name, tmp_path):
    """What makes a second double-click fast: the launch ends before anything heavy loads."""
    assert server.start()
    code = ("import sys; from app.launch import main; rc = main(['my_run']); "
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'shiboken6', 'numpy'}))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{si.NAME_ENV: name})
    with qtbot.waitSignal(server.paths_received, timeout=TIMEOUT) as got:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                text=True)
    assert got.args == [[str(tmp_path / "my_run")]]
    assert finished(qtbot, proc).strip() == "0 []"
