"""The window most window tests start from: shown, with its settings in the test's own
folder (never the user's), closed afterwards."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
