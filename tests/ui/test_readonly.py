"""Opening, browsing, comparing, following a variable, running and verifying never write
into the opened folder."""

from __future__ import annotations

import os
import shutil
import stat

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402

from app.cli import main as cli_main  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

from ..conftest import ROOT  # noqa: E402


def snapshot(folder):
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))} | {".": folder.stat().st_mtime_ns}


def test_a_read_only_run_is_left_exactly_as_it_was(qtbot, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ROOT / "resources" / "sample_run", run)
    for p in [run, *run.iterdir()]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = snapshot(run)
    try:
        assert cli_main(["inspect", str(run), "--json"]) == 0
        assert cli_main(["stats", str(run), "conv/kernel", "--json"]) == 0
        assert cli_main(["verify", str(run)]) == 0
        assert cli_main(["dump", str(run), "-o", str(tmp_path / "all")]) == 0
        assert cli_main(["diff", f"{run}@0", f"{run}@5", "--json"]) == 0
        assert cli_main(["trend", str(run), "conv/kernel", "--json"]) == 0
        eval_x = ROOT / "resources" / "sample_eval" / "eval_x.npy"
        eval_y = ROOT / "resources" / "sample_eval" / "eval_y.npy"
        assert cli_main(["run", str(run), "--fetch", "accuracy", "--all-checkpoints",
                         "--feed", f"x=@{eval_x}", "--feed", f"y=@{eval_y}", "--json"]) == 0

        window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
        qtbot.addWidget(window)
        view = window.open_path(str(run))
        qtbot.waitUntil(lambda: view.loaded is not None, timeout=20000)
        view.doc.select_op("conv/kernel")
        view.checkpoints.select_row(0)
        qtbot.waitUntil(lambda: view.loaded.checkpoint.step == 0, timeout=20000)
        view.compare.panel.run_button.click()
        qtbot.waitUntil(lambda: view.compare.panel.model.rowCount() > 0, timeout=20000)
        view.value_tabs.setCurrentIndex(1)
        qtbot.waitUntil(lambda: view.trend.shown is not None, timeout=20000)
        view.verify()
        qtbot.waitUntil(lambda: not any(lane.busy for lane in view.lanes), timeout=20000)
        window.close()
        assert snapshot(run) == before
    finally:
        for p in [run, *run.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
