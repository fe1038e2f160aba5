#!/usr/bin/env python3
"""Set up and run Checkpoint Browser from a source checkout, with nothing but python3.

    python3 packaging/bootstrap.py [PATH]   # create .venv if missing, install, open the app
    python3 packaging/bootstrap.py --test   # the same set-up, then the whole test suite

Creates `.venv/` in the project root, installs the project with TensorFlow (for the runner
and the tests' oracle) and the test tools, and, on Debian-like systems where Qt's shared
libraries are missing, installs them with apt-get (as root, or through sudo).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
PY = os.path.join(BIN, "python.exe" if os.name == "nt" else "python")
STAMP = os.path.join(VENV, ".installed")

# Debian packages Qt needs at run time (offscreen for the tests, xcb on a desktop).
QT_SYSTEM_LIBS = [
    "libgl1", "libegl1", "libglib2.0-0", "libfontconfig1", "libfreetype6", "libdbus-1-3",
    "libxkbcommon0", "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4",
    "libxcb-keysyms1", "libxcb-shape0", "libxcb-randr0", "libxcb-render-util0",
    "libxcb-image0", "libxcb-xinerama0", "libxcb-xkb1", "libx11-xcb1", "fonts-dejavu-core",
]


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, **kw)


def make_venv() -> None:
    if os.path.exists(PY):
        return
    say(f"creating {VENV}")
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
    except Exception as e:  # Debian's python3 without python3-venv
        say(f"venv failed ({e}); trying virtualenv")
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv"])
        run([sys.executable, "-m", "virtualenv", VENV])


def install() -> None:
    """pip-install the project once per change of pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if os.path.exists(STAMP) and open(STAMP).read() == digest:
        return
    say("installing dependencies (TensorFlow included; the first time takes a few minutes)")
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([PY, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[tf,test]"])
    with open(STAMP, "w") as f:
        f.write(digest)


def ensure_qt_libs() -> None:
    """Import Qt once; if a shared library is missing, install Debian's packages for it."""
    probe = [PY, "-c", "from PySide6 import QtWidgets, QtGui"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return
    if not shutil.which("apt-get"):
        say("Qt cannot load its system libraries; install your system's OpenGL/EGL, "
            "fontconfig and xkbcommon packages")
        return
    sudo = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if sudo is None:
        say("Qt needs system libraries; run as root: apt-get install " + " ".join(QT_SYSTEM_LIBS))
        return
    say("installing Qt's system libraries with apt-get")
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + ["apt-get", "update", "-qq"], env=apt_env)
    run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *QT_SYSTEM_LIBS],
        env=apt_env, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    make_venv()
    install()
    ensure_qt_libs()
    if argv[:1] == ["--test"]:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        return subprocess.run([PY, "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode
    return subprocess.run([PY, os.path.join(ROOT, "main.py"), *argv], cwd=os.getcwd()).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
