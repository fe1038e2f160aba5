"""Which Qt platform plug-in will draw the window, and which system libraries it lacks.

Qt's own message when a plug-in cannot load names the wrong library as often as the right
one ("xcb-cursor0 … is needed" on a machine that has it and lacks libxcb-icccm4) and then
aborts. Set-up (`packaging/bootstrap.py`) uses this module to install what is missing; the
app uses it to say, in one line, what to install before Qt would abort.

Standard library only: set-up imports it with the system's Python, before any dependency
is installed, and the app imports it before Qt.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

# soname → its package on Debian/Ubuntu, Fedora, Arch. The libraries Qt's xcb, wayland and
# offscreen plug-ins and QtGui link against, beyond what every desktop has.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client", "wayland"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor", "wayland"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl", "wayland"),
}
DISTROS = ("Debian/Ubuntu", "Fedora", "Arch")
INSTALL_COMMANDS = ("sudo apt-get install {}", "sudo dnf install {}", "sudo pacman -S {}")

# The plug-in's file in PySide6's Qt/plugins/platforms, by platform name.
PLUGIN_FILES = {"xcb": "libqxcb.so", "wayland": "libqwayland.so", "offscreen": "libqoffscreen.so"}
# Libraries every window needs whatever the plug-in: QtGui links these.
GUI_LIBRARIES = ("libQt6Gui.so.6",)


def platform_name(env: dict[str, str] | None = None) -> str | None:
    """The platform plug-in Qt will pick on this machine: QT_QPA_PLATFORM's first choice,
    else wayland in a Wayland session, else xcb. None off Linux (other systems ship their
    plug-in's libraries with the OS)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE", "wayland") == "wayland":
        return "wayland"
    return "xcb"


def qt_dir(pyside_dir: str | None = None) -> str | None:
    """PySide6's Qt folder (its libraries and plug-ins), found without importing Qt."""
    if pyside_dir is None:
        spec = importlib.util.find_spec("PySide6")
        if spec is None or not spec.origin:
            return None
        pyside_dir = os.path.dirname(spec.origin)
    folder = os.path.join(pyside_dir, "Qt")
    return folder if os.path.isdir(folder) else None


def _plugin_path(platform: str, qt: str) -> str | None:
    """The plug-in file Qt will load: from QT_QPA_PLATFORM_PLUGIN_PATH or QT_PLUGIN_PATH
    where they are set, else PySide6's own."""
    name = PLUGIN_FILES.get(platform, f"libq{platform}.so")
    folders = [os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")]
    folders += [os.path.join(p, "platforms") for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders.append(os.path.join(qt, "plugins", "platforms"))
    for folder in folders:
        if folder and os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def _ldd_missing(path: str) -> list[str]:
    proc = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30)
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", proc.stdout, re.M)
    return list(dict.fromkeys(found))


def _dlopen_missing(path: str) -> list[str]:
    """Without ldd: the first library the loader cannot find (all it says)."""
    import ctypes
    try:
        ctypes.CDLL(path)
    except OSError as e:
        m = re.match(r"(\S+?): cannot open shared object file", str(e))
        return [m.group(1)] if m else []
    return []


def missing_libraries(platform: str | None = None, pyside_dir: str | None = None) -> list[str]:
    """The shared libraries (sonames) that the platform plug-in, or QtGui itself, cannot
    find on this machine. Empty when nothing is missing or nothing can be checked."""
    platform = platform or platform_name()
    qt = qt_dir(pyside_dir)
    if not platform or qt is None or not sys.platform.startswith("linux"):
        return []
    targets = [p for p in (_plugin_path(platform, qt),) if p]
    targets += [os.path.join(qt, "lib", lib) for lib in GUI_LIBRARIES
                if os.path.exists(os.path.join(qt, "lib", lib))]
    check = _ldd_missing if shutil.which("ldd") else _dlopen_missing
    missing: list[str] = []
    for target in targets:
        try:
            missing += [lib for lib in check(target) if lib not in missing]
        except (OSError, subprocess.SubprocessError):
            continue
    return missing


def packages(sonames: list[str], distro: int) -> list[str]:
    """The packages of `DISTROS[distro]` that hold `sonames` (a soname with no known
    package stands for itself)."""
    return list(dict.fromkeys(PACKAGES[s][distro] if s in PACKAGES else s for s in sonames))


def install_hint(sonames: list[str]) -> str:
    """'Debian/Ubuntu: sudo apt-get install …; Fedora: …; Arch: …'"""
    return "; ".join(f"{name}: " + cmd.format(" ".join(packages(sonames, i)))
                     for i, (name, cmd) in enumerate(zip(DISTROS, INSTALL_COMMANDS)))


def explain(platform: str | None, sonames: list[str]) -> str:
    """One line for a user whose window cannot open."""
    where = f"Qt's {platform} platform plug-in" if platform else "Qt"
    if not sonames:
        return (f"Checkpoint Browser cannot open a window: {where} could not start"
                + (" (is the display reachable? DISPLAY=" + os.environ.get("DISPLAY", "")
                   + ")" if platform == "xcb" else "") + ".")
    return (f"Checkpoint Browser cannot open a window: {where} needs system libraries that "
            f"are missing ({', '.join(sonames)}). Install them — {install_hint(sonames)}")


def tell_user(line: str) -> None:
    """Print `line` on stderr and, where a desktop notifier exists (a launch from a desktop
    entry has no terminal), show it as a notification too."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    notifier = shutil.which("notify-send")
    if notifier and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        try:
            subprocess.run([notifier, "--app-name=Checkpoint Browser", "--urgency=critical",
                            "Checkpoint Browser cannot open a window", line],
                           timeout=5, capture_output=True)
        except (OSError, subprocess.SubprocessError):
            pass


if __name__ == "__main__":     # `python -m app.qt_platform [PLATFORM]`: what is missing
    wanted = sys.argv[1] if len(sys.argv) > 1 else platform_name()
    lacking = missing_libraries(wanted)
    print(explain(wanted, lacking) if lacking else f"{wanted}: nothing missing")
    sys.exit(1 if lacking else 0)
