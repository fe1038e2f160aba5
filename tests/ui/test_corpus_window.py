"""One running window opens every variant of the broken-input corpus in turn: each ends
in a page that says what is wrong (or shows what is good), and the window stays usable."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402

from app.ui.main_window import MainWindow  # noqa: E402

from ..conftest import ROOT  # noqa: E402
from ..corpus.generate import generate  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_run"


def test_one_window_opens_the_whole_corpus(qtbot, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in SAMPLE.glob("epoch-5.*"):
        (src / f.name).write_bytes(f.read_bytes())
    (src / "epoch-5.meta").write_bytes((SAMPLE / "epoch-0.meta").read_bytes())
    (src / "checkpoint").write_text('model_checkpoint_path: "epoch-5"\n')
    variants = generate(src, tmp_path / "corpus", flips=8, cuts=6)

    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    said_wrong = 0
    for v in variants:
        view = window.open_path(str(v.folder))
        qtbot.waitUntil(lambda: not view.opening, timeout=20000)
        page = view.stack.currentIndex()
        assert page in (1, 2), v.name
        if page == 1:
            assert view.failed_label.text(), v.name
        else:  # opened what is good: a tensor can be asked for without breaking anything
            view.doc.select_tensor("conv/kernel")
            qtbot.waitUntil(lambda: not (view.doc.lanes["value"].busy or view.doc.lanes["stats"].busy),
                            timeout=20000)
        said_wrong += page == 1 or view.banner.isVisible()
        window.close_tab(window.tabs.indexOf(view))
    assert said_wrong > len(variants) // 3
    # and the window still opens a good run
    good = window.open_path(str(SAMPLE))
    qtbot.waitUntil(lambda: good.loaded is not None, timeout=20000)
    assert good.variables.model.rowCount() == 15
