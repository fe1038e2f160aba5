"""`pip install .` puts one import package with a name of its own into site-packages, with
its icons and sample run, and every entry point works from it — not modules named `app`
and `main`, which any other project's could shadow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from .conftest import ROOT

PACKAGE = "checkpoint_browser"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_holds_one_distinctive_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {PACKAGE, f"checkpoint_browser-{wheel.name.split('-')[1]}.dist-info"}, tops
    for module in ("launch.py", "__main__.py", "handover.py", "cli/__init__.py", "cli/commands.py",
                   "cli/run.py", "formats/bundle.py", "ui/app.py", "runner/session.py", "analysis/stats.py"):
        assert f"{PACKAGE}/{module}" in names, module
    shipped = {n for n in names if n.startswith(f"{PACKAGE}/resources/")}
    want = {f"{PACKAGE}/resources/{p.relative_to(ROOT / 'resources')}".replace(os.sep, "/")
            for sub in ("icons", "sample_run") for p in (ROOT / "resources" / sub).rglob("*")
            if p.is_file() and p.suffix != ".sh"}
    assert shipped == want
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert f"ckpt-browser = {PACKAGE}.launch:main" in entry_points
    assert f"ckpt-browser-gui = {PACKAGE}.launch:main" in entry_points


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed into a folder of its own, used through PYTHONPATH from a folder
    where the source tree is not importable."""
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    env = dict(os.environ, PYTHONPATH=str(site), QT_QPA_PLATFORM="offscreen")
    return site, env


def run(cmd, env, cwd):
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_installed_package_runs_from_its_own_files(installed, tmp_path):
    site, env = installed
    code = ("import checkpoint_browser, json; from checkpoint_browser.paths import resource; "
            "print(json.dumps([checkpoint_browser.__file__, resource('sample_run'), resource('icons')]))")
    proc = run([sys.executable, "-c", code], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    module, sample, icons = json.loads(proc.stdout)
    assert module.startswith(str(site)) and sample.startswith(str(site)) and icons.startswith(str(site))
    assert os.path.exists(os.path.join(sample, "checkpoint"))


@pytest.mark.parametrize("launcher", ["module", "ckpt-browser"])
def test_the_commands_work_when_installed(installed, tmp_path, launcher):
    site, env = installed
    prefix = ([sys.executable, "-m", PACKAGE] if launcher == "module"
              else [sys.executable, str(site / "bin" / launcher)])
    version = run([*prefix, "--version"], env, tmp_path)
    assert version.returncode == 0 and version.stdout.strip().endswith("0.1.0"), version.stdout + version.stderr
    sample = ROOT / "resources" / "sample_run"
    proc = run([*prefix, "inspect", str(sample), "--json"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["checkpoints"]) == 6


def test_the_gui_entry_point_is_installed(installed, tmp_path):
    site, env = installed
    proc = run([sys.executable, str(site / "bin" / "ckpt-browser-gui"), "--help"], env, tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: ckpt-browser"), proc.stderr
