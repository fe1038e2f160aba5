"""packaging/linux/install.sh in a throwaway XDG home: the file types resolve to the app,
folders only list it, and --uninstall leaves the home as it found it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, load_filetypes

LINUX = ROOT / "packaging" / "linux"
INSTALL = LINUX / "install.sh"
TEMPLATE = LINUX / "checkpoint-browser.desktop"
DESKTOP = "checkpoint-browser.desktop"
SAMPLE = ROOT / "resources" / "sample_run"
APT = "apt-get install xdg-utils desktop-file-utils shared-mime-info libfile-mimeinfo-perl"

TOOLS = ("xdg-mime", "desktop-file-validate", "update-mime-database", "update-desktop-database")
MISSING = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop.org desktop integration"),
    pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed (Debian/Ubuntu: {APT})"),
]


FT = load_filetypes()

# How `xdg-mime query filetype` finds a type: on no known desktop, with `mimetype` (Perl's
# File::MimeInfo; without it xdg-mime falls back to file(1), which knows nothing of the
# shared MIME database); on GNOME and the like, with `gio info`.
BACKENDS = {
    "generic": ("mimetype", {}),
    "gnome": ("gio", {"XDG_CURRENT_DESKTOP": "GNOME"}),
}


def sample_files(folder):
    """One file of each declared type, named and filled as TensorFlow writes them."""
    folder.mkdir()
    files = {
        "checkpoint-index": ("model.ckpt-5.index", (SAMPLE / "epoch-0.index").read_bytes()),
        "meta-graph": ("model.ckpt-5.meta", (SAMPLE / "epoch-0.meta").read_bytes()),
        "checkpoint-v1": ("model.ckpt", b"\x00\x0a\x03w/a\x12\x00" + bytes(range(256))),
        "checkpoint-state": ("checkpoint", (SAMPLE / "checkpoint").read_bytes()),
        "saved-model": ("saved_model.pb", b"\x08\x01\x12\x04\x0a\x02\x08\x01"),
    }
    assert set(files) == {t.key for t in FT.FILE_TYPES}, "a declared type has no sample here"
    out = {}
    for t in FT.FILE_TYPES:
        name, data = files[t.key]
        (folder / name).write_bytes(data)
        out[folder / name] = t.mime
    # Magic: the state file's text, under a name no glob matches.
    (folder / "state-copy").write_bytes((SAMPLE / "checkpoint").read_bytes())
    out[folder / "state-copy"] = "application/x-tensorflow-checkpoint-state"
    return out


class Home:
    """A throwaway XDG home, with a stand-in file manager installed system-wide."""

    def __init__(self, base, env=None):
        self.base = base
        self.data = base / "data"
        self.config = base / "config"
        self.sys = base / "sys"
        (base / "home").mkdir()
        apps = self.sys / "applications"
        apps.mkdir(parents=True)
        (apps / "fake-files.desktop").write_text(
            "[Desktop Entry]\nType=Application\nName=Files\nExec=true %U\nMimeType=inode/directory;\n")
        path = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                if d and not os.path.exists(os.path.join(d, "ckpt-browser-gui"))]
        self.env = {
            "HOME": str(base / "home"),
            "PATH": os.pathsep.join(path),
            "LANG": "C.UTF-8",
            "XDG_DATA_HOME": str(self.data),
            "XDG_CONFIG_HOME": str(self.config),
            "XDG_CONFIG_DIRS": str(base / "etc-xdg"),
            "XDG_DATA_DIRS": f"{self.sys}:/usr/local/share:/usr/share",
            "GIO_USE_VFS": "local",
            **(env or {}),
        }
        self.run("update-desktop-database", str(apps))
        # What the entry runs: a stand-in (the choice install.sh makes by itself is tested
        # on a checkout of its own, below).
        self.app = base / "opt" / "checkpoint-browser"
        self.app.parent.mkdir()
        self.app.write_text("#!/bin/sh\nexit 0\n")
        self.app.chmod(0o755)

    def run(self, *cmd, check=True, env=None):
        proc = subprocess.run(list(cmd), env=dict(self.env, **(env or {})), capture_output=True,
                              text=True, timeout=120)
        if check:
            assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"
        return proc

    def install(self, *args, script=None, **kw):
        """This checkout's install.sh with ARGS (without any: for the stand-in app), or
        another checkout's `script` with ARGS."""
        if script is None:
            script, args = INSTALL, args or ("--exec", str(self.app))
        return self.run("sh", str(script), *args, **kw)

    def filetype(self, path) -> str:
        return self.run("xdg-mime", "query", "filetype", str(path)).stdout.strip()

    def default(self, mime) -> str:
        return self.run("xdg-mime", "query", "default", mime).stdout.strip()

    def tree(self):
        """Every file and folder under the home, with the files' contents."""
        out = {}
        for p in sorted(self.base.rglob("*")):
            if p.is_relative_to(self.base / "samples") or p.is_relative_to(self.base / "checkout"):
                continue
            out[str(p.relative_to(self.base))] = p.read_bytes() if p.is_file() else None
        return out


@pytest.fixture
def home(tmp_path):
    return Home(tmp_path)


def exec_lines(desktop_file):
    return [line[5:] for line in desktop_file.read_text().splitlines() if line.startswith("Exec=")]


def validate(path):
    proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "error:" in line]
    assert proc.returncode == 0 and not errors, proc.stdout + proc.stderr


def test_the_desktop_entry_template_is_valid():
    validate(TEMPLATE)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_install_makes_each_file_type_open_with_the_app(tmp_path, backend):
    tool, env = BACKENDS[backend]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed: xdg-mime cannot read the shared MIME database "
                    f"on a {backend} desktop here (Debian/Ubuntu: {APT} libglib2.0-bin)")
    home = Home(tmp_path, env)
    samples = sample_files(tmp_path / "samples")
    folder_default = home.default(FT.FOLDER_MIME)
    assert folder_default and folder_default != DESKTOP
    before = {path: home.filetype(path) for path in samples}
    assert all(got != want for (path, want), got in zip(samples.items(), before.values())), before

    out = home.install().stdout
    assert "installed" in out

    installed = home.data / "applications" / DESKTOP
    validate(installed)
    for path, mime in samples.items():
        assert home.filetype(path) == mime, path.name
    for mime in FT.linux_default_mime_types():
        assert home.default(mime) == DESKTOP, mime
    # Folders: listed ("Open With"), but the file manager stays their default.
    assert home.default(FT.FOLDER_MIME) == folder_default
    cache = (home.data / "applications" / "mimeinfo.cache").read_text()
    assert f"{FT.FOLDER_MIME}={DESKTOP};" in cache
    assert exec_lines(installed) == [f"{home.app} %F", f"{home.app} --new-instance"]
    assert (home.data / "icons" / "hicolor" / "scalable" / "apps" / "checkpoint-browser.svg").is_file()
    for size in (16, 48, 256, 512):
        assert (home.data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "checkpoint-browser.png").is_file()

    home.install("--uninstall")
    for path, want in before.items():
        assert home.filetype(path) == want, path.name
    for mime in FT.linux_default_mime_types():
        assert home.default(mime) != DESKTOP, mime
    assert home.default(FT.FOLDER_MIME) == folder_default


def test_uninstall_leaves_an_empty_home_empty(home):
    pristine = home.tree()
    home.install()
    assert home.tree() != pristine
    home.install("--uninstall")
    assert home.tree() == pristine


def test_uninstall_keeps_the_users_own_settings(home):
    home.config.mkdir()
    own = "[Default Applications]\ntext/plain=org.gnome.TextEditor.desktop\n"
    (home.config / "mimeapps.list").write_text(own)
    (home.data / "applications").mkdir(parents=True)
    (home.data / "applications" / "editor.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Editor\nExec=true %F\nMimeType=text/plain;\n")
    home.run("update-desktop-database", str(home.data / "applications"))
    pristine = home.tree()

    home.install()
    listing = (home.config / "mimeapps.list").read_text()
    assert "text/plain=org.gnome.TextEditor.desktop" in listing
    assert f"application/x-tensorflow-checkpoint-index={DESKTOP}" in listing
    # Later, the user also picks the app for another type in a file manager.
    with open(home.config / "mimeapps.list", "a") as f:
        f.write(f"\n[Added Associations]\napplication/json={DESKTOP};org.gnome.TextEditor.desktop;\n")

    home.install("--uninstall")
    after = home.tree()
    listing = (home.config / "mimeapps.list").read_text()
    assert DESKTOP not in listing
    assert "text/plain=org.gnome.TextEditor.desktop" in listing
    assert "application/json=org.gnome.TextEditor.desktop;" in listing
    assert "inode/directory" not in listing              # the folder pin is gone too
    del after["config/mimeapps.list"], pristine["config/mimeapps.list"]
    assert after == pristine


def test_installing_twice_is_installing_once(home):
    pristine = home.tree()
    home.install()
    once = home.tree()
    home.install()
    assert home.tree() == once
    home.install("--uninstall")
    assert home.tree() == pristine


def make_checkout(folder):
    """A checkout as bootstrap.py leaves it: packaging/linux, the icons, main.py, and a
    .venv whose python (a stand-in) writes its arguments, one a line, to $ARGS_OUT."""
    (folder / "packaging").mkdir(parents=True)
    shutil.copytree(LINUX, folder / "packaging" / "linux")
    shutil.copytree(ROOT / "resources" / "icons", folder / "resources" / "icons")
    (folder / "main.py").write_text("")
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$ARGS_OUT.tmp"\n'
                      'mv "$ARGS_OUT.tmp" "$ARGS_OUT"\n')
    python.chmod(0o755)
    return folder


def test_a_checkout_runs_its_own_environment(home, tmp_path):
    checkout = make_checkout(tmp_path / "checkout" / "src")
    home.install(script=checkout / "packaging" / "linux" / "install.sh")
    python, main = checkout / ".venv" / "bin" / "python", checkout / "main.py"
    installed = home.data / "applications" / DESKTOP
    assert exec_lines(installed) == [f"{python} {main} %F", f"{python} {main} --new-instance"]
    assert f"TryExec={python}" in installed.read_text()
    validate(installed)
    assert home.default("application/x-tensorflow-checkpoint-index") == DESKTOP


def test_without_an_app_install_sh_says_what_to_do(home, tmp_path):
    checkout = make_checkout(tmp_path / "checkout" / "src")
    shutil.rmtree(checkout / ".venv")
    proc = home.install(script=checkout / "packaging" / "linux" / "install.sh", check=False)
    assert proc.returncode == 2 and "bootstrap.py" in proc.stderr
    assert not (home.data / "applications" / DESKTOP).exists()


def test_the_entry_point_on_path_is_preferred(home, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gui = bin_dir / "ckpt-browser-gui"
    gui.write_text("#!/bin/sh\nexit 0\n")
    gui.chmod(0o755)
    checkout = make_checkout(tmp_path / "checkout" / "src")
    home.install(script=checkout / "packaging" / "linux" / "install.sh",
                 env={"PATH": f"{bin_dir}{os.pathsep}{home.env['PATH']}"})
    installed = home.data / "applications" / DESKTOP
    assert exec_lines(installed) == [f"{gui} %F", f"{gui} --new-instance"]
    assert f"TryExec={gui}" in installed.read_text()
    validate(installed)


def test_exec_override_and_bad_usage(home, tmp_path):
    home.install("--exec", str(home.app), "--no-default")
    assert exec_lines(home.data / "applications" / DESKTOP)[0] == f"{home.app} %F"
    assert not (home.config / "mimeapps.list").exists()
    assert home.install("--exec", str(tmp_path / "nothing"), check=False).returncode == 2
    assert home.install("--bogus", check=False).returncode == 2
    assert "--uninstall" in home.install("--help").stdout


@pytest.mark.skipif(shutil.which("gio") is None, reason="gio (libglib2.0-bin) launches desktop entries")
def test_a_checkout_path_with_odd_characters_survives_the_desktop_entry(home, tmp_path, qtbot):
    """Quoting in Exec=: a launcher (GLib's, as GNOME's file manager uses) runs the
    checkout's python with main.py and the opened file as they are. (Not with a `%` in
    the path: GLib looks for the program before undoing the `%%` escape.)"""
    checkout = make_checkout(tmp_path / "checkout" / 'my "models" $HOME `x` \\ here')
    home.install(script=checkout / "packaging" / "linux" / "install.sh")
    installed = home.data / "applications" / DESKTOP
    validate(installed)
    args_file = tmp_path / "args"
    opened = tmp_path / "a run" / "model.ckpt-5.index"
    home.run("gio", "launch", str(installed), str(opened), env={"ARGS_OUT": str(args_file)})
    qtbot.waitUntil(args_file.exists, timeout=10000)
    assert args_file.read_text().splitlines() == [str(checkout / "main.py"), str(opened)]
