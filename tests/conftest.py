"""Shared test set-up: offscreen Qt, the real-world model files beside the checkout, and
TensorFlow (the oracle) imported only by the tests that ask for it."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parent.parent
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> pathlib.Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real-world model files not present ({REALDATA} is absent in this clone)")
    return REALDATA


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, for writing fixtures and reading them back as the oracle."""
    return pytest.importorskip("tensorflow")


def load_filetypes():
    """packaging/filetypes.py (not a package), under the name the PyInstaller spec uses."""
    path = ROOT / "packaging" / "filetypes.py"
    module = sys.modules.get("filetypes")
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location("filetypes", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["filetypes"] = module
    spec.loader.exec_module(module)
    return module
