"""The app started as a user starts it, on the platform a desktop uses: xcb, under Xvfb.

Every other GUI test runs offscreen, which loads without a single X library; that hid a
set-up that failed on every fresh desktop. Here the README's first command and a
double-click (`xdg-open` on a checkpoint file, after `install.sh`) must map a real window
— seen with X tools, not Qt's word — that shows the run, and quit cleanly on Ctrl+Q.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"
X_TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "xwininfo": "x11-utils"}
DESKTOP_TOOLS = {"xdg-open": "xdg-utils", "xdg-mime": "xdg-utils", "mimetype": "libfile-mimeinfo-perl",
                 "update-desktop-database": "desktop-file-utils", "update-mime-database": "shared-mime-info"}
DEADLINE = 90          # seconds for a window to appear (the first start compiles bytecode)


def need(tools: dict[str, str]) -> None:
    """Skip where the tools are missing — except in CI, which installs them: there a
    missing tool is a failure, not a reason to test nothing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    why = (f"{', '.join(missing)} not installed (Debian/Ubuntu: apt-get install "
           f"{' '.join(sorted({tools[t] for t in missing}))})")
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def display():
    """A private X server: its display name, e.g. ':3'."""
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 desktops: Linux")
    need(X_TOOLS)
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp",
                               "-screen", "0", "1280x800x24"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        assert number.strip().isdigit(), f"Xvfb did not start: {server.stderr.read1(4096)!r}"
        yield f":{number.strip().decode()}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=30)


def desktop_env(display: str, tmp_path, **extra) -> dict[str, str]:
    """This environment as a desktop session has it: X11, no Qt platform forced, and
    settings, sockets and home of the test's own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "CHECKPOINT_BROWSER_INSTANCE")}
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_SESSION_TYPE="x11", LANG="C.UTF-8", **extra)
    return env


def x(display: str, *cmd: str) -> str:
    proc = subprocess.run(list(cmd), env=dict(os.environ, DISPLAY=display), capture_output=True,
                          text=True, timeout=30)
    return proc.stdout


def top_windows(display: str) -> dict[str, str]:
    """Window id → title, for every named window on the display."""
    tree = x(display, "xwininfo", "-root", "-tree")
    return {m.group(1): m.group(2) for m in re.finditer(r'^\s+(0x[0-9a-f]+) "(.*)":', tree, re.M)}


def wait_for_window(display: str, pattern: str, proc) -> tuple[str, str]:
    """The id and title of the first viewable window whose title matches `pattern`."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for wid, title in top_windows(display).items():
            if re.search(pattern, title) and "IsViewable" in x(display, "xwininfo", "-id", wid):
                return wid, title
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    out, err = stop(proc)
    pytest.fail(f"no window titled /{pattern}/ on {display}; windows: {top_windows(display)}; "
                f"exit status {proc.returncode}; stderr: {err[-3000:]}")


def launch(cmd: list[str], **kw) -> subprocess.Popen:
    """A process in a session of its own: stopping it stops what it started too (xdg-open
    and bootstrap start the app as a child, which would hold the output pipes open)."""
    return subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def stop(proc) -> tuple[str, str]:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            continue
    return "", ""


def quit_with_ctrl_q(display: str, wid: str, proc) -> str:
    """Ctrl+Q typed into the window (XTEST, as a keyboard would); the app must end by
    itself with status 0. Its stderr."""
    x(display, "xdotool", "windowfocus", "--sync", wid)
    x(display, "xdotool", "key", "--clearmodifiers", "ctrl+q")
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        out, err = stop(proc)
        pytest.fail(f"the app did not quit on Ctrl+Q; stderr: {err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err
    return err


def system_python() -> str:
    """The `python3` a user types: the system's, not this test run's environment."""
    venv_bin = os.path.dirname(sys.executable)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder, "python3")
        if folder and os.path.abspath(folder) != os.path.abspath(venv_bin) and os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


def test_the_readme_first_command_opens_the_sample_run_on_xcb(display, tmp_path):
    """`python3 packaging/bootstrap.py` in a desktop session: set-up (already done by the
    test command) finds nothing missing for xcb, and the window opens on the sample run
    at its latest checkpoint."""
    env = desktop_env(display, tmp_path)
    proc = launch([system_python(), str(ROOT / "packaging" / "bootstrap.py")], cwd=tmp_path, env=env)
    # The title names the checkpoint shown once the run is read: the latest.
    wid, _title = wait_for_window(display, r"^sample_run · epoch-5 — Checkpoint Browser$", proc)
    # WM_CLASS: what the desktop matches to the app's entry and icon.
    assert '"Checkpoint Browser"' in x(display, "xprop", "-id", wid, "WM_CLASS") or shutil.which("xprop") is None
    err = quit_with_ctrl_q(display, wid, proc)
    assert "qt.qpa" not in err, err
    assert os.listdir(tmp_path / "runtime") == [], "the instance socket outlived the app"


def make_run(folder):
    """The sample run as TensorFlow's Saver names it, with a relative state file."""
    folder.mkdir(parents=True)
    steps = range(6)
    for i in steps:
        shutil.copy(SAMPLE / f"epoch-{i}.index", folder / f"model.ckpt-{i}.index")
        shutil.copy(SAMPLE / f"epoch-{i}.data-00000-of-00001", folder / f"model.ckpt-{i}.data-00000-of-00001")
    shutil.copy(SAMPLE / "epoch-0.meta", folder / "model.ckpt-0.meta")
    (folder / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-5"\n' + "".join(
        f'all_model_checkpoint_paths: "model.ckpt-{i}"\n' for i in steps))
    return folder


def test_a_double_click_on_a_checkpoint_file_opens_it_on_xcb(display, tmp_path):
    """`install.sh` into a throwaway home, then `xdg-open some/run/model.ckpt-1.index`: the
    desktop's own lookup finds the entry, which starts this checkout's app on that
    checkpoint."""
    need(DESKTOP_TOOLS)
    if not (ROOT / ".venv" / "bin" / "python").exists() and shutil.which("ckpt-browser-gui") is None:
        pytest.skip("no installed app for the desktop entry to run (python3 packaging/bootstrap.py sets one up)")
    run = make_run(tmp_path / "some" / "run")
    home = tmp_path / "home"
    home.mkdir()
    env = desktop_env(display, tmp_path, HOME=str(home), XDG_DATA_HOME=str(tmp_path / "data"),
                      XDG_DATA_DIRS="/usr/local/share:/usr/share")
    env.pop("XDG_CURRENT_DESKTOP", None)     # no known desktop: xdg-open's own lookup
    installed = subprocess.run(["sh", str(ROOT / "packaging" / "linux" / "install.sh")], env=env,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    index = run / "model.ckpt-1.index"
    # xdg-open on no known desktop runs the entry's command itself, and waits for it.
    proc = launch(["xdg-open", str(index)], cwd=tmp_path, env=env)
    # "run" says nothing of a model: the tab and the title take its parent folder along.
    wid, _title = wait_for_window(display, r"^some/run · model\.ckpt-1 — Checkpoint Browser$", proc)
    quit_with_ctrl_q(display, wid, proc)
