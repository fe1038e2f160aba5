"""Opening runs by URL in the window: the Open URL dialog, URLs dropped or pasted, and the
Remote Cache menu (its size limit, kept in the settings, and Clear)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QMessageBox, QWidget

from ..formats import cache, location

CACHE_SETTING = "remote/cache_mb"
EXAMPLES = "s3://bucket/run/   gs://bucket/run/   https://host/path/model.ckpt-1000.index"


def ask_url(parent: QWidget, start: str = "") -> str | None:
    """A URL the user typed or pasted, or None."""
    text, ok = QInputDialog.getText(
        parent, "Open URL",
        "A run folder, checkpoint or model file in object storage or on a web server:\n"
        + EXAMPLES, QLineEdit.Normal, start)
    text = text.strip()
    return text if ok and text else None


def url_in_text(text: str) -> str | None:
    """The URL a pasted or dropped text holds (its first line), else None."""
    first = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
    return first if location.is_url(first) else None


def urls_in(mime) -> list[str]:
    """Paths and URLs a drop carries: local files as paths, remote ones as URLs."""
    out = []
    for u in mime.urls() if mime.hasUrls() else []:
        if u.isLocalFile():
            out.append(u.toLocalFile())
        elif location.is_url(u.toString()):
            out.append(u.toString())
    if not out and mime.hasText():
        url = url_in_text(mime.text())
        if url:
            out.append(url)
    return out


def apply_cache_setting(settings: QSettings) -> None:
    try:
        mb = int(settings.value(CACHE_SETTING, 0) or 0)
    except (TypeError, ValueError):
        mb = 0
    cache.set_limit(mb << 20 if mb > 0 else None)


def add_cache_menu(menu: QMenu, parent: QWidget, settings: QSettings) -> QMenu:
    sub = menu.addMenu("Remote &Cache")

    def set_size():
        used, _ = cache.usage()
        mb, ok = QInputDialog.getInt(
            parent, "Remote cache size",
            f"Keep at most this many MB of remote checkpoints on disk\n"
            f"(now {used / (1 << 20):.1f} MB in {cache.folder()}):",
            cache.limit() >> 20, 16, 1 << 22, 256)
        if ok:
            settings.setValue(CACHE_SETTING, mb)
            apply_cache_setting(settings)

    def clear():
        used, files = cache.usage()
        cache.clear()
        QMessageBox.information(parent, "Remote cache",
                                f"Removed {files} cached pieces ({used / (1 << 20):.1f} MB).")

    sub.addAction("Size &Limit…", set_size)
    sub.addAction("C&lear Cache", clear)
    return sub
