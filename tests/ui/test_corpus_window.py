"""One running window opens every variant of the broken-input corpus in turn. Every variant
whose checkpoint bytes are damaged says so: on opening (the failure page or the banner) or,
when the damage is in tensor bytes only a read can find, when the window's Verify runs. A
broken state file says what it lists and did not read. The window stays usable."""

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
    unsaid = []
    for v in variants:
        view = window.open_path(str(v.folder))
        qtbot.waitUntil(lambda: not view.opening, timeout=20000)
        page = view.stack.currentIndex()
        assert page in (1, 2), v.name
        said = (page == 1 and view.failed_label.text()) or (view.banner.isVisible() and view.banner.text.text())
        if page == 2:   # opened what is good: a tensor can be asked for without breaking anything
            view.doc.select_tensor("conv/kernel")
            qtbot.waitUntil(lambda: not (view.doc.lanes["value"].busy or view.doc.lanes["stats"].busy),
                            timeout=20000)
        if v.bundle_damaged and page == 2:
            view.banner.hide()
            view.verify()
            qtbot.waitUntil(lambda: not view.doc.lanes["verify"].busy and view.banner.isVisible(), timeout=20000)
            verdict = view.banner.text.text()
            assert "intact" not in verdict and " of 0 tensors" not in verdict, (v.name, verdict)
            said = said or verdict
        if (v.bundle_damaged or v.name.startswith("state-")) and not said:
            unsaid.append(v.name)
        window.close_tab(window.tabs.indexOf(view))
    assert not unsaid, f"broken inputs the window did not say anything about: {unsaid}"
    # and the window still opens a good run
    good = window.open_path(str(SAMPLE))
    qtbot.waitUntil(lambda: good.loaded is not None, timeout=20000)
    assert good.variables.model.rowCount() == 15
