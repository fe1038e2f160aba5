"""The format and analysis layers stay free of Qt and TensorFlow."""

import ast
import pathlib

from .conftest import ROOT, run_python

PURE = ["app/formats", "app/analysis", "app/document"]
BANNED = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "tensorflow", "keras", "tf_keras")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_pure_layers_import_no_qt_or_tensorflow_in_source():
    offenders = []
    for folder in PURE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(path):
                if name.split(".")[0] in BANNED:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_pure_layers_and_cli_load_nothing_heavy_at_run_time():
    code = (
        "import sys, pkgutil, importlib, app.formats, app.analysis, app.document\n"
        "for pkg in (app.formats, app.analysis, app.document):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
        "import app.cli\n"
        "for m in pkgutil.iter_modules(app.cli.__path__):\n"
        "    importlib.import_module(f'app.cli.{m.name}')\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {BANNED!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = run_python(code, timeout=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_opening_a_model_in_the_window_waits_for_neither_numpy_nor_the_run_panel(tmp_path):
    """The window shows a model's tree and variables without numpy, pyqtgraph or the Run
    tab's modules (their imports would be most of the start-up time); they load when the
    first value is shown."""
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtCore import QEventLoop, QSettings\n"
        "from app.ui.app import create_app\n"
        "from app.ui.main_window import MainWindow\n"
        "app = create_app([])\n"
        "w = MainWindow(QSettings(sys.argv[2], QSettings.IniFormat))\n"
        "w.show()\n"
        "view = w.open_path(sys.argv[1])\n"
        "loop = QEventLoop(); view.loaded_changed.connect(loop.quit); loop.exec()\n"
        "app.processEvents()\n"
        "assert view.variables.model.rowCount() > 0 and view.tree.model.rowCount() > 0\n"
        "heavy = ('numpy', 'ml_dtypes', 'pyqtgraph', 'app.ui.run_panel', 'app.runner')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
        "sys.stdout.flush(); os._exit(0)\n"
    )
    sample = ROOT / "resources" / "sample_run"
    settings = tmp_path / "settings.ini"
    proc = run_python(code, str(sample), str(settings))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
