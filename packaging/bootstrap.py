#!/usr/bin/env python3
"""Set up and run Checkpoint Browser from a source checkout, with nothing but python3.

    python3 packaging/bootstrap.py [PATH]   # create .venv if missing, install, open the app
    python3 packaging/bootstrap.py --test   # the same set-up, then the whole test suite

Creates `.venv/` in the project root, installs the project with TensorFlow (for the runner
and the tests' oracle) and the test tools. Then it checks the Qt platform plug-in that will
really run — xcb under X11, wayland in a Wayland session; for the tests offscreen and xcb
(the real-window tests run under Xvfb) — and installs the system libraries it lacks with
apt-get (as root, or through sudo). Where it cannot, it stops with one
message naming them and the install command for Debian/Ubuntu, Fedora and Arch.
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

sys.path.insert(0, ROOT)
from app import qt_platform  # noqa: E402  (standard library only: safe before set-up)

# Debian packages every Qt window needs beyond the libraries the platform plug-in links:
# fonts (without any, Qt draws no text).
BASE_DEBIAN_PACKAGES = ["fonts-dejavu-core", "libfontconfig1"]


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
    run([PY, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[tf,test,s3,gcs]"])
    with open(STAMP, "w") as f:
        f.write(digest)


def pyside_dir() -> str | None:
    """Where the environment's PySide6 is (found without importing Qt)."""
    code = ("import importlib.util, os; s = importlib.util.find_spec('PySide6'); "
            "print(os.path.dirname(s.origin) if s and s.origin else '')")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True).stdout.strip()
    return out or None


def platforms_to_check(testing: bool) -> list[str]:
    """The platform plug-ins that will really run: the one this desktop uses (Wayland
    sessions fall back to xcb through XWayland), and for the tests offscreen plus xcb,
    which the real-window tests start under Xvfb."""
    if testing:
        return ["offscreen", "xcb"]
    name = qt_platform.platform_name()
    if name is None:
        return []
    return [name, "xcb"] if name == "wayland" else [name]


def missing_libraries(platforms: list[str]) -> list[str]:
    folder = pyside_dir()
    missing: list[str] = []
    for platform in platforms:
        missing += [s for s in qt_platform.missing_libraries(platform, folder) if s not in missing]
    return missing


def ensure_qt_libs(testing: bool) -> bool:
    """Install the system libraries that Qt's platform plug-ins lack on this machine (with
    apt-get, as root or through sudo). False, after one message naming the libraries and
    each distribution's install command, where that cannot be done here."""
    platforms = platforms_to_check(testing)
    missing = missing_libraries(platforms)
    if not missing:
        return True
    sudo = [] if os.name != "posix" or os.geteuid() == 0 else (
        (["sudo"] if sys.stdin.isatty() else ["sudo", "-n"]) if shutil.which("sudo") else None)
    if shutil.which("apt-get") and sudo is not None:
        packages = qt_platform.packages(missing, 0) + BASE_DEBIAN_PACKAGES
        say(f"installing the system libraries Qt's {'/'.join(platforms)} plug-in needs: "
            + " ".join(packages))
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            run(sudo + ["apt-get", "update", "-qq"], env=apt_env)
            run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                env=apt_env, stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError as e:
            say(f"apt-get failed ({e})")
        missing = missing_libraries(platforms)
        if not missing:
            return True
    say(qt_platform.explain("/".join(platforms), missing))
    return False


def main(argv: list[str]) -> int:
    make_venv()
    install()
    testing = argv[:1] == ["--test"]
    if not ensure_qt_libs(testing):
        return 1
    if testing:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        return subprocess.run([PY, "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode
    return subprocess.run([PY, os.path.join(ROOT, "main.py"), *argv], cwd=os.getcwd()).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
