"""Shared test set-up: offscreen Qt, the real-world model files beside the checkout, and
TensorFlow (the oracle) imported only by the tests that ask for it."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys
import zipfile

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


def require(module: str):
    """Import a package the tests depend on. Missing, it fails the run instead of skipping:
    a skipped oracle would leave the tests green while testing nothing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"the tests need {module} (pip install -e '.[tf,test]'); to run "
                          f"only the tests that do not: pytest -m 'not tensorflow'") from e


def run_python(code: str, *args: str, timeout: float | None = 120) -> subprocess.CompletedProcess:
    """`python -c code args` from the checkout, in a fresh process (nothing this one
    imported or set up leaks in); its output as text."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def write_zip(path, members: dict, compress: int = zipfile.ZIP_STORED) -> pathlib.Path:
    """A zip at `path` holding `members`: name -> bytes or text, or a Path whose file goes in."""
    with zipfile.ZipFile(path, "w", compress) as z:
        for name, data in members.items():
            if isinstance(data, pathlib.Path):
                z.write(data, name)
            else:
                z.writestr(name, data)
    return pathlib.Path(path)


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, for writing fixtures and reading them back as the oracle."""
    return require("tensorflow")


def pytest_collection_modifyitems(items):
    # Tests that need TensorFlow say so: the `tf` fixture, or a module that imports it
    # (directly or through tf_fixtures) carries the `tensorflow` marker.
    for item in items:
        module = getattr(item, "module", None)
        imports_tf = module is not None and any(
            getattr(getattr(module, n, None), "__name__", "") in ("tensorflow", "tests.tf_fixtures")
            for n in ("tf", "fx"))
        if imports_tf or "tf" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tensorflow)


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
