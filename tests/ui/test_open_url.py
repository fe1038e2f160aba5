"""Opening runs by URL in the window: Open URL, a dropped or pasted URL, the recent list
(without secrets), values read by range, the remote cache's menu."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QUrl  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

pytest.importorskip("aiohttp")

from app.formats import cache, remote  # noqa: E402
from app.ui import open_url  # noqa: E402

from ..conftest import ROOT  # noqa: E402
from ..remote_servers import web_server  # noqa: E402

TIMEOUT = 30000


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    remote.reset()
    with web_server(ROOT / "resources") as (url, faults):
        yield f"{url}/sample_run/", faults
    remote.reset()


def test_open_url_shows_the_run_and_values_read_by_range(qtbot, window, served, monkeypatch):
    url, faults = served
    signed = url + "?X-Amz-Signature=SECRETSECRET"
    monkeypatch.setattr(open_url, "ask_url", lambda parent, start="": signed)
    window.act_open_url.trigger()
    view = window.current()
    qtbot.waitUntil(lambda: view.loaded is not None or view.stack.currentIndex() == 1, timeout=TIMEOUT)
    assert view.stack.currentIndex() == 2
    assert view.checkpoints.list.topLevelItemCount() == 6
    assert view.variables.model.rowCount() == 15
    # the graph comes in a second step, after the variables
    qtbot.waitUntil(lambda: view.loaded.graph is not None, timeout=TIMEOUT)
    assert view.loaded.tree_kind == "graph" and view.tree.model.rowCount() > 10
    view.variables.select_key("conv/kernel")
    qtbot.waitUntil(lambda: view.value.view.array() is not None, timeout=TIMEOUT)
    assert view.value.view.array().tobytes() == view.loaded.reader.read("conv/kernel").tobytes()
    assert faults.ranges > 0
    # the settings file holds no secret: the recent list keeps the URL without its query
    assert window.recent()[0] == url.rstrip("/") or window.recent()[0] == url
    with open(window.settings.fileName()) as f:
        window.settings.sync()
        assert "SECRETSECRET" not in f.read()
    assert "SECRETSECRET" not in window.tabs.tabToolTip(window.tabs.currentIndex())


def test_dropped_and_pasted_urls_are_opened(qtbot, window, served):
    url, _ = served
    mime = QMimeData()
    mime.setUrls([QUrl(url)])
    assert open_url.urls_in(mime) == [url]
    text = QMimeData()
    text.setText(url + "\n")
    assert open_url.urls_in(text) == [url]
    QGuiApplication.clipboard().setText(url)
    window._paste()
    view = window.current()
    qtbot.waitUntil(lambda: view.loaded is not None or view.stack.currentIndex() == 1, timeout=TIMEOUT)
    assert view.stack.currentIndex() == 2


def test_cache_size_setting_applies(window, tmp_path, monkeypatch):
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "c"))
    window.settings.setValue(open_url.CACHE_SETTING, 64)
    open_url.apply_cache_setting(window.settings)
    try:
        assert cache.limit() == 64 << 20
    finally:
        cache.set_limit(None)
