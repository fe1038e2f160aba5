"""The file types Checkpoint Browser opens from a file manager, on every platform.

The single list the platform declarations are checked against:

- Linux: `linux/checkpoint-browser-mime.xml` (shared-mime-info) and the `MimeType=` key of
  `linux/checkpoint-browser.desktop`;
- macOS: `CFBundleDocumentTypes` and `UTImportedTypeDeclarations`, built from this module by
  `checkpoint-browser.spec`;
- Windows: the `[Registry]` section of `windows/installer.iss`.

`tests/test_packaging_declarations.py` parses each of those files and compares it with
this module, so a type added here and forgotten elsewhere fails the tests.

Plain Python with no imports beyond the standard library: PyInstaller executes the spec
with its own interpreter state, and the tests import it without Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

APP_NAME = "Checkpoint Browser"           # QCoreApplication.applicationName(), window title
APP_ID = "checkpoint-browser"             # desktop file id, icon name, QGuiApplication.desktopFileName
EXE_NAME = "checkpoint-browser"           # the one-folder app's executable
CONSOLE_EXE_NAME = "ckpt-browser"         # Windows only: a console twin for the headless commands
BUNDLE_ID = "org.checkpointbrowser.checkpoint-browser"   # macOS CFBundleIdentifier
# Qt on X11 sets WM_CLASS's class part to the application name (the instance part is
# argv[0]'s base name, which differs between `python main.py` and the entry points).
STARTUP_WM_CLASS = APP_NAME

FOLDER_MIME = "inode/directory"           # Linux: listed in MimeType=, never made the default
FOLDER_UTI = "public.folder"              # macOS: a document type with rank "Alternate"
WINDOWS_FOLDER_VERB = "Open with Checkpoint Browser"   # Windows: Directory\shell verb


@dataclass(frozen=True)
class FileType:
    key: str                  # short name; also the Windows ProgID suffix
    mime: str                 # the shared-mime-info type (Linux), also declared on macOS
    description: str
    globs: tuple[str, ...]    # shared-mime-info glob patterns (an exact file name is a glob too)
    extension: str | None     # macOS/Windows: the file name extension, without the dot
    claim_default: bool       # macOS/Windows: become the default handler, or only "Open with"
    uti: str | None           # macOS: the imported Uniform Type Identifier
    text: bool = False        # a text file: sub-class of text/plain, UTI conforms to public.text
    magic: tuple[str, ...] = ()   # strings at offset 0 that identify the type (Linux)

    @property
    def progid(self) -> str:
        return "CheckpointBrowser." + "".join(p.capitalize() for p in self.key.split("-"))


# The `.index` and `.ckpt` files are sorted string tables whose magic number is in the
# footer, at the END of the file; shared-mime-info matches magic only at fixed offsets from
# the start, so those types are recognised by name. The `checkpoint` state file is a text
# protobuf that always starts with its first field's name: magic helps there (a copy under
# another name, `checkpoint` fetched with a suffix, …).
FILE_TYPES: tuple[FileType, ...] = (
    FileType(
        key="checkpoint-index",
        mime="application/x-tensorflow-checkpoint-index",
        description="TensorFlow checkpoint index",
        globs=("*.index",),
        extension="index",
        claim_default=True,
        uti="org.tensorflow.checkpoint-index",
    ),
    FileType(
        key="meta-graph",
        mime="application/x-tensorflow-meta-graph",
        description="TensorFlow meta graph",
        globs=("*.meta",),
        extension="meta",
        claim_default=True,
        uti="org.tensorflow.meta-graph",
    ),
    FileType(
        key="checkpoint-v1",
        mime="application/x-tensorflow-checkpoint-v1",
        description="TensorFlow checkpoint (V1)",
        globs=("*.ckpt",),
        extension="ckpt",
        claim_default=True,
        uti="org.tensorflow.checkpoint-v1",
    ),
    FileType(
        key="checkpoint-state",
        mime="application/x-tensorflow-checkpoint-state",
        description="TensorFlow checkpoint state",
        globs=("checkpoint",),
        extension=None,       # no extension: macOS and Windows cannot match it by name
        claim_default=True,
        uti=None,
        text=True,
        magic=("model_checkpoint_path:",),
    ),
    FileType(
        key="saved-model",
        mime="application/x-tensorflow-saved-model",
        description="TensorFlow SavedModel",
        globs=("saved_model.pb",),
        # macOS and Windows associate by extension only; every protobuf is a `.pb`, so there
        # the app is offered in "Open with" for `.pb` but never made its default.
        extension="pb",
        claim_default=False,
        uti="org.tensorflow.saved-model",
    ),
)


def linux_mime_types() -> list[str]:
    """The `MimeType=` list of the desktop entry, in order: the file types, then folders."""
    return [t.mime for t in FILE_TYPES] + [FOLDER_MIME]


def linux_default_mime_types() -> list[str]:
    """The types install.sh makes the app the default for (not folders)."""
    return [t.mime for t in FILE_TYPES]


def extensions() -> list[str]:
    """Extensions declared on macOS and Windows."""
    return [t.extension for t in FILE_TYPES if t.extension]


def default_extensions() -> list[str]:
    return [t.extension for t in FILE_TYPES if t.extension and t.claim_default]


def mac_document_types() -> list[dict]:
    """`CFBundleDocumentTypes`: one entry per type the app opens, and one for folders."""
    docs = []
    for t in FILE_TYPES:
        if not t.uti:
            continue
        docs.append({
            "CFBundleTypeName": t.description,
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Default" if t.claim_default else "Alternate",
            "LSItemContentTypes": [t.uti],
            "CFBundleTypeExtensions": [t.extension],   # for macOS before 10.5; ignored after
            "CFBundleTypeMIMETypes": [t.mime],
        })
    docs.append({
        "CFBundleTypeName": "Folder",
        "CFBundleTypeRole": "Viewer",
        "LSHandlerRank": "Alternate",                  # dropping a folder works; Finder stays its default
        "LSItemContentTypes": [FOLDER_UTI],
    })
    return docs


def mac_imported_types() -> list[dict]:
    """`UTImportedTypeDeclarations`: TensorFlow owns the formats, so the app imports them."""
    return [{
        "UTTypeIdentifier": t.uti,
        "UTTypeDescription": t.description,
        "UTTypeConformsTo": ["public.text" if t.text else "public.data"],
        "UTTypeTagSpecification": {
            "public.filename-extension": [t.extension],
            "public.mime-type": [t.mime],
        },
    } for t in FILE_TYPES if t.uti]


def mac_info_plist(version: str) -> dict:
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleDocumentTypes": mac_document_types(),
        "UTImportedTypeDeclarations": mac_imported_types(),
        "NSHighResolutionCapable": True,
        "NSPrincipalClass": "NSApplication",
        "NSRequiresAquaSystemAppearance": False,   # follow the system's dark mode
    }
