"""Where Qt cannot load its platform plug-in, set-up and the app name the missing system
libraries and how to install them — instead of Qt's generic abort.

A library is made missing without touching the machine: a copy of PySide6's xcb plug-in
whose dependency list names a library that no system has (same length, so the ELF stays
valid), loaded from a folder of the test's own as QT_QPA_PLATFORM_PLUGIN_PATH allows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from app import qt_platform

from .conftest import ROOT

REAL = "libxcb-icccm.so.4"
GONE = "libxcb-icccm.so.7"        # no distribution ships this one

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF plug-ins: Linux")


def test_the_platform_is_the_one_qt_will_pick():
    assert qt_platform.platform_name({"DISPLAY": ":0"}) == ("xcb" if sys.platform.startswith("linux") else None)
    if sys.platform.startswith("linux"):
        assert qt_platform.platform_name({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}) == "wayland"
        assert qt_platform.platform_name({"WAYLAND_DISPLAY": "w", "XDG_SESSION_TYPE": "x11"}) == "xcb"
        assert qt_platform.platform_name({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}) == "offscreen"
        assert qt_platform.platform_name({"QT_QPA_PLATFORM": "wayland;xcb"}) == "wayland"
        assert qt_platform.platform_name({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == "vnc"


def test_the_install_hint_names_each_distributions_packages():
    hint = qt_platform.install_hint(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"])
    assert hint == ("Debian/Ubuntu: sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0; "
                    "Fedora: sudo dnf install xcb-util-wm xcb-util-keysyms xcb-util-cursor; "
                    "Arch: sudo pacman -S xcb-util-wm xcb-util-keysyms xcb-util-cursor")
    # Two sonames of one package: the package once.
    assert qt_platform.packages(["libxcb-shm.so.0", "libxcb-sync.so.1"], 1) == ["libxcb"]
    assert qt_platform.packages(["libunknown.so.3"], 0) == ["libunknown.so.3"]


@pytest.fixture
def broken_plugins(tmp_path):
    """A platforms folder whose xcb plug-in needs a library no machine has, beside a link to
    PySide6's Qt libraries (the plug-in finds them through its run path, $ORIGIN/../../lib)."""
    qt = qt_platform.qt_dir()
    if qt is None:
        pytest.fail("PySide6 is not installed")
    plugin = os.path.join(qt, "plugins", "platforms", "libqxcb.so")
    data = open(plugin, "rb").read()
    needle = REAL.encode() + b"\0"
    assert needle in data, f"{plugin} no longer links {REAL}: pick another library for this test"
    folder = tmp_path / "qt" / "plugins" / "platforms"
    folder.mkdir(parents=True)
    (folder / "libqxcb.so").write_bytes(data.replace(needle, GONE.encode() + b"\0"))
    os.symlink(os.path.join(qt, "lib"), tmp_path / "qt" / "lib")
    return folder


@linux_only
def test_missing_libraries_are_found_by_name(broken_plugins, monkeypatch):
    assert qt_platform.missing_libraries("xcb") == []          # set-up installed what xcb needs
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", str(broken_plugins))
    assert qt_platform.missing_libraries("xcb") == [GONE]
    line = qt_platform.explain("xcb", [GONE])
    assert GONE in line and "sudo apt-get install" in line and "\n" not in line


@linux_only
def test_the_app_says_what_is_missing_instead_of_aborting(broken_plugins, tmp_path):
    """From a desktop entry there is no terminal: the line goes to a notifier too."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    told = tmp_path / "notified"
    notifier = bin_dir / "notify-send"
    notifier.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{told}"\n')
    notifier.chmod(0o755)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM_PLUGIN_PATH=str(broken_plugins), DISPLAY=":99",
               PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), str(ROOT / "resources" / "sample_run")],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Checkpoint Browser cannot open a window: Qt's xcb platform plug-in "
                               f"needs system libraries that are missing ({GONE})")
    assert "Traceback" not in proc.stderr and "Reinstalling the application" not in proc.stderr
    assert told.read_text().splitlines()[-1] == lines[0]


@linux_only
def test_set_up_stops_with_the_message_where_it_cannot_install(broken_plugins, tmp_path):
    """No apt-get on PATH (another distribution): bootstrap names the library and every
    distribution's command, and exits non-zero without starting the app."""
    python = os.path.realpath(getattr(sys, "_base_executable", sys.executable))   # not a venv's, nor a shim
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ldd", "sh", "env", "uname"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM_PLUGIN_PATH=str(broken_plugins), DISPLAY=":99", PATH=str(bin_dir))
    proc = subprocess.run([python, str(ROOT / "packaging" / "bootstrap.py")], env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert GONE in proc.stdout and "Fedora: sudo dnf install" in proc.stdout and "Arch:" in proc.stdout
    assert "window" in proc.stdout.splitlines()[-1]
