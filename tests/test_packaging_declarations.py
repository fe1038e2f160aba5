"""The file types declared for Linux, macOS and Windows agree with packaging/filetypes.py,
and so with each other. macOS and Windows cannot be exercised here: their declarations
are parsed (the .iss) or produced by running the PyInstaller spec against stand-ins."""

from __future__ import annotations

import ast
import configparser
import fnmatch
import plistlib
import re
import struct
import sys
import types
import xml.etree.ElementTree as ET

import pytest

from .conftest import ROOT, load_filetypes

PACKAGING = ROOT / "packaging"
MIME_XML = PACKAGING / "linux" / "checkpoint-browser-mime.xml"
DESKTOP = PACKAGING / "linux" / "checkpoint-browser.desktop"
INSTALL = PACKAGING / "linux" / "install.sh"
SPEC = PACKAGING / "checkpoint-browser.spec"
ISS = PACKAGING / "windows" / "installer.iss"
ICONS = ROOT / "resources" / "icons"
NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}


FT = load_filetypes()
WITH_EXTENSION = [t for t in FT.FILE_TYPES if t.extension]


def matches_extension(globs, extension) -> bool:
    """Whether a file named by one of the Linux globs has this extension."""
    return any(fnmatch.fnmatchcase(g.replace("*", "x"), f"*.{extension}") for g in globs)


# -- the list itself ------------------------------------------------------------------------

def test_the_list_is_sound():
    assert len({t.mime for t in FT.FILE_TYPES}) == len(FT.FILE_TYPES)
    assert len({t.progid for t in FT.FILE_TYPES}) == len(FT.FILE_TYPES)
    for t in FT.FILE_TYPES:
        assert t.mime.startswith("application/x-tensorflow-"), t
        assert t.globs, t
        if t.extension:
            assert matches_extension(t.globs, t.extension), t
            assert t.uti, t
    # the four the issue names by extension or file name, and the state file by name
    globs = {g for t in FT.FILE_TYPES for g in t.globs}
    assert {"*.index", "*.meta", "*.ckpt", "checkpoint", "saved_model.pb"} <= globs


# -- Linux ----------------------------------------------------------------------------------

def mime_xml():
    root = ET.parse(MIME_XML).getroot()
    assert root.tag == f"{{{NS['m']}}}mime-info"
    out = {}
    for node in root.findall("m:mime-type", NS):
        out[node.get("type")] = {
            "comment": node.findtext("m:comment", namespaces=NS),
            "globs": tuple(g.get("pattern") for g in node.findall("m:glob", NS)),
            "case_sensitive": {g.get("pattern"): g.get("case-sensitive") == "true"
                               for g in node.findall("m:glob", NS)},
            "subclass": [s.get("type") for s in node.findall("m:sub-class-of", NS)],
            "magic": tuple(m.get("value") for m in node.findall("m:magic/m:match", NS)
                           if m.get("offset") == "0" and m.get("type") == "string"),
        }
    return out


def test_the_mime_xml_declares_exactly_the_listed_types():
    xml = mime_xml()
    assert set(xml) == {t.mime for t in FT.FILE_TYPES}
    for t in FT.FILE_TYPES:
        got = xml[t.mime]
        assert got["comment"] == t.description
        assert got["globs"] == t.globs
        assert got["subclass"] == (["text/plain"] if t.text else [])
        assert got["magic"] == t.magic
        for pattern, sensitive in got["case_sensitive"].items():
            # exact file names are TensorFlow's own, in lower case; extensions match any case
            assert sensitive == ("*" not in pattern), pattern


def desktop_entry():
    parser = configparser.RawConfigParser(strict=True, delimiters=("=",), interpolation=None)
    parser.optionxform = str
    parser.read(DESKTOP, encoding="utf-8")
    return parser


def test_the_desktop_entry_lists_the_types_and_folders():
    entry = desktop_entry()["Desktop Entry"]
    listed = [m for m in entry["MimeType"].split(";") if m]
    assert listed == FT.linux_mime_types()
    assert FT.FOLDER_MIME in listed
    assert entry["Icon"] == FT.APP_ID
    assert entry["Exec"] == "ckpt-browser-gui %F"
    assert entry["StartupWMClass"] == FT.STARTUP_WM_CLASS
    assert DESKTOP.name == f"{FT.APP_ID}.desktop"


def test_install_sh_defaults_every_file_type_but_not_folders():
    text = INSTALL.read_text()
    # install.sh reads MimeType= from the entry and skips folders when setting defaults
    assert 'sed -n \'s/^MimeType=//p\' "$HERE/$DESKTOP_NAME"' in text
    assert 'FOLDER=inode/directory' in text
    assert f"APP_ID={FT.APP_ID}\n" in text
    sizes = re.search(r'^ICON_SIZES="([0-9 ]+)"', text, re.M).group(1).split()
    assert sizes == ["16", "24", "32", "48", "64", "128", "256", "512"]


def _assignment(path, name):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned in {path}")


def test_the_window_matches_the_desktop_entry():
    """Wayland matches the app id (desktopFileName) to the entry's name, X11 the WM_CLASS
    (whose class Qt takes from the application name) to StartupWMClass."""
    assert _assignment(ROOT / "app" / "ui" / "main_window.py", "APP_NAME") == FT.APP_NAME
    assert FT.STARTUP_WM_CLASS == FT.APP_NAME
    app_py = (ROOT / "app" / "ui" / "app.py").read_text()
    assert f'setDesktopFileName("{FT.APP_ID}")' in app_py
    assert "setApplicationName(APP_NAME)" in app_py


def test_the_gui_entry_point_exists():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["gui-scripts"]["ckpt-browser-gui"] == "checkpoint_browser.launch:main"
    assert project["scripts"]["ckpt-browser"] == "checkpoint_browser.launch:main"


# -- macOS: the spec, run against stand-ins for PyInstaller ----------------------------------

def run_spec(monkeypatch, platform):
    calls = {}

    def recorder(kind):
        def record(*args, **kwargs):
            calls.setdefault(kind, []).append((args, kwargs))
            return types.SimpleNamespace(kind=kind, args=args, kwargs=kwargs, pure=[], scripts=[],
                                         binaries=[], datas=kwargs.get("datas", []))
        return record

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [f"{package}.collected"]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "path", list(sys.path))
    namespace = {"SPECPATH": str(PACKAGING), "__file__": str(SPEC), "__name__": "__main__"}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = recorder(kind)
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    return calls


@pytest.fixture
def mac(monkeypatch):
    calls = run_spec(monkeypatch, "darwin")
    assert len(calls["BUNDLE"]) == 1
    return calls["BUNDLE"][0][1]


def test_the_macos_bundle_declares_the_types_and_folders(mac):
    plist = mac["info_plist"]
    plistlib.dumps(plist)       # serialisable as an Info.plist
    assert mac["name"] == f"{FT.APP_NAME}.app"
    assert mac["bundle_identifier"] == plist["CFBundleIdentifier"] == FT.BUNDLE_ID
    version = _assignment(ROOT / "app" / "__init__.py", "__version__")
    assert mac["version"] == plist["CFBundleShortVersionString"] == version

    imported = {u["UTTypeIdentifier"]: u for u in plist["UTImportedTypeDeclarations"]}
    xml = mime_xml()
    docs = plist["CFBundleDocumentTypes"]
    folders = [d for d in docs if d["LSItemContentTypes"] == [FT.FOLDER_UTI]]
    assert len(folders) == 1 and folders[0]["LSHandlerRank"] == "Alternate"   # never Finder's replacement
    files = [d for d in docs if d not in folders]
    assert len(files) == len(WITH_EXTENSION)
    for t, doc in zip(WITH_EXTENSION, files):
        (uti,) = doc["LSItemContentTypes"]
        assert uti == t.uti and uti in imported
        tags = imported[uti]["UTTypeTagSpecification"]
        assert tags["public.filename-extension"] == [t.extension] == doc["CFBundleTypeExtensions"]
        assert tags["public.mime-type"] == [t.mime] == doc["CFBundleTypeMIMETypes"]
        # the same files as on Linux
        assert t.mime in xml and matches_extension(xml[t.mime]["globs"], t.extension)
        assert doc["CFBundleTypeRole"] == "Viewer"
        assert doc["LSHandlerRank"] == ("Default" if t.claim_default else "Alternate")
    assert set(imported) == {t.uti for t in WITH_EXTENSION}


def test_the_spec_bundles_resources_and_the_proto_modules(monkeypatch):
    calls = run_spec(monkeypatch, "linux")
    (args, analysis), = calls["Analysis"]
    assert args[0] == [str(ROOT / "main.py")]
    targets = {(src.replace(str(ROOT) + "/", ""), dest) for src, dest in analysis["datas"]}
    assert ("resources/icons/checkpoint-browser.svg", "resources/icons") in targets
    assert ("resources/sample_run/checkpoint", "resources/sample_run") in targets
    assert not any("screenshots" in src for src, _ in targets)
    assert "tensorboard.compat.proto.collected" in analysis["hiddenimports"]
    assert {"PySide6.QtSvg", "PySide6.QtNetwork"} <= set(analysis["hiddenimports"])
    # the commands' modules are imported by name from the table: listed for PyInstaller
    assert {"app.cli.inspect", "app.cli.compare", "app.cli.run"} <= set(analysis["hiddenimports"])
    assert "tensorflow" in analysis["excludes"]
    (_, exe), = calls["EXE"]
    assert exe["name"] == FT.EXE_NAME and exe["console"] is True
    (_, coll), = calls["COLLECT"]
    assert coll["name"] == FT.EXE_NAME
    assert "BUNDLE" not in calls


def test_the_spec_builds_a_windowed_and_a_console_exe_on_windows(monkeypatch):
    calls = run_spec(monkeypatch, "win32")
    exes = {kw["name"]: kw for _, kw in calls["EXE"]}
    assert exes[FT.EXE_NAME]["console"] is False
    assert exes[FT.CONSOLE_EXE_NAME]["console"] is True
    assert exes[FT.EXE_NAME]["icon"] == str(ICONS / "checkpoint-browser.ico")
    (args, _), = calls["COLLECT"]
    assert len([a for a in args if getattr(a, "kind", None) == "EXE"]) == 2


# -- Windows: the Inno Setup script -----------------------------------------------------------

def iss():
    text = ISS.read_text(encoding="utf-8")
    defines = dict(re.findall(r'^\s*#define\s+(\w+)\s+"([^"]*)"', text, re.M))
    section, registry = None, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Registry":
            continue
        entry = {}
        for key, value in re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)', line):
            value = value.strip()
            if value.startswith('"'):
                value = value[1:-1].replace('""', '"')
            entry[key] = re.sub(r"\{#(\w+)\}", lambda m: defines[m.group(1)], value)
        registry.append(entry)
    return defines, registry


def test_the_windows_installer_registers_the_same_types():
    defines, registry = iss()
    exe = f"{FT.EXE_NAME}.exe"
    assert defines["AppExe"] == exe and defines["AppName"] == FT.APP_NAME
    assert all(e["Root"] == "HKA" for e in registry)
    values = {(e["Subkey"], e["ValueName"]): e for e in registry}
    command = f'"{{app}}\\{exe}" "%1"'
    classes = "Software\\Classes\\"

    for t in WITH_EXTENSION:
        progid = values[(classes + t.progid, "")]
        assert progid["ValueData"] == t.description and "uninsdeletekey" in progid["Flags"]
        assert values[(classes + t.progid + "\\shell\\open\\command", "")]["ValueData"] == command
        assert (classes + f".{t.extension}\\OpenWithProgids", t.progid) in values
        assert (classes + f"Applications\\{exe}\\SupportedTypes", f".{t.extension}") in values

    progids = {e["Subkey"][len(classes):] for e in registry
               if e["Subkey"].startswith(classes + "CheckpointBrowser.") and e["ValueName"] == ""
               and "\\" not in e["Subkey"][len(classes):]}
    assert progids == {t.progid for t in WITH_EXTENSION}
    # default handler: exactly the extensions the app claims; `.pb` is "Open with" only
    defaults = {e["Subkey"][len(classes) + 1:]: e for e in registry
                if re.fullmatch(r"Software\\Classes\\\.\w+", e["Subkey"]) and e["ValueName"] == ""}
    assert set(defaults) == set(FT.default_extensions())
    for ext, e in defaults.items():
        t = next(t for t in WITH_EXTENSION if t.extension == ext)
        assert e["ValueData"] == t.progid
        assert "uninsdeletevalue" in e["Flags"] and e["Tasks"] == "associate"
    opened_by_extension = {re.match(r"Software\\Classes\\\.(\w+)\\OpenWithProgids", e["Subkey"]).group(1)
                           for e in registry if e["Subkey"].endswith("\\OpenWithProgids")}
    assert opened_by_extension == set(FT.extensions())


def test_the_windows_installer_adds_a_folder_verb_but_not_a_default():
    _, registry = iss()
    verb = [e for e in registry if e["Subkey"] == "Software\\Classes\\Directory\\shell\\CheckpointBrowser"
            and e["ValueName"] == ""]
    assert len(verb) == 1 and verb[0]["ValueData"] == FT.WINDOWS_FOLDER_VERB
    assert "uninsdeletekey" in verb[0]["Flags"]
    command = [e for e in registry
               if e["Subkey"] == "Software\\Classes\\Directory\\shell\\CheckpointBrowser\\command"]
    assert command[0]["ValueData"] == f'"{{app}}\\{FT.EXE_NAME}.exe" "%1"'
    # a folder's default verb is the value of Directory\shell itself: left alone
    assert not [e for e in registry if e["Subkey"] in ("Software\\Classes\\Directory\\shell",
                                                       "Software\\Classes\\Directory")]


# -- icons ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_png_icons(size):
    data = (ICONS / "png" / f"checkpoint-browser-{size}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height) == (size, size)
    assert colour == 6      # RGBA: transparent corners


def test_svg_and_ico_icons():
    root = ET.parse(ICONS / "checkpoint-browser.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 512 512"
    ico = (ICONS / "checkpoint-browser.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 5
