"""A run folder's state file never leads outside the folder, and the project's own files
carry no path of the machine they were made on."""

from __future__ import annotations

import re
import shutil
import subprocess

from app.formats.model import open_path

from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


def test_a_copied_run_shows_its_own_checkpoints_not_the_originals(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    shutil.copytree(SAMPLE, original)
    shutil.copytree(SAMPLE, copy)
    # As a Saver writes it on the training machine: absolute paths, which exist here.
    (copy / "checkpoint").write_text("".join(
        f'all_model_checkpoint_paths: "{original}/epoch-{i}"\n' for i in range(6))
        + f'model_checkpoint_path: "{original}/epoch-5"\n')
    model = open_path(str(copy))
    assert [c.prefix for c in model.checkpoints] == [str(copy / f"epoch-{i}") for i in range(6)]
    assert all(c.on_disk for c in model.checkpoints) and model.selected.prefix == str(copy / "epoch-5")
    assert not model.notes


def test_a_state_file_naming_a_file_outside_says_it_was_not_followed(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    outside = tmp_path / "secret"
    outside.write_text("not a checkpoint")
    (run / "checkpoint").write_text(f'model_checkpoint_path: "{outside}"\n'
                                    'all_model_checkpoint_paths: "../secret"\n')
    model = open_path(str(run))
    gone = [c for c in model.checkpoints if not c.on_disk]
    assert [c.prefix for c in gone] == [str(run / "secret")]
    assert any("outside this folder: not followed" in n and str(outside) in n for n in model.notes)
    assert all(c.prefix.startswith(str(run)) for c in model.checkpoints)


def test_no_committed_file_holds_a_path_of_a_developers_machine():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    if listed.returncode != 0:
        import pytest
        pytest.skip("not a git checkout: nothing committed to look at")
    pattern = re.compile(rb"(/work/main|/home/[a-z_][a-z0-9_-]*/|/Users/[A-Za-z]|/root/|[A-Z]:\\\\Users\\\\)")
    offenders = []
    for name in listed.stdout.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or path.suffix in (".png", ".ico", ".icns"):
            continue
        if name == "tests/test_run_folder.py":
            continue        # the pattern itself
        if pattern.search(path.read_bytes()):
            offenders.append(name)
    assert offenders == []


def test_a_sibling_folder_sharing_the_name_prefix_is_outside_too(tmp_path):
    # "run-old" starts with "run" but is not inside it: a prefix test on strings would follow it.
    run, sibling = tmp_path / "run", tmp_path / "run-old"
    shutil.copytree(SAMPLE, run)
    shutil.copytree(SAMPLE, sibling)
    (run / "epoch-5.index").unlink()
    for f in run.glob("epoch-5.data-*"):
        f.unlink()
    (run / "checkpoint").write_text(f'model_checkpoint_path: "{sibling}/epoch-5"\n'
                                    f'all_model_checkpoint_paths: "{sibling}/epoch-5"\n')
    model = open_path(str(run))
    assert all(c.prefix.startswith(str(run) + "/") for c in model.checkpoints)
    gone = [c for c in model.checkpoints if not c.on_disk]
    assert [c.prefix for c in gone] == [str(run / "epoch-5")]
    assert any("outside this folder: not followed" in n for n in model.notes)


def test_inside_resolves_every_outside_path_to_its_name_in_the_folder(tmp_path):
    from app.formats.run import _inside
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "elsewhere.index").write_text("")
    (run / "here.index").write_text("")
    assert _inside(str(run), str(tmp_path / "elsewhere")) == str(run / "elsewhere")
    assert _inside(str(run), "../elsewhere") == str(run / "elsewhere")
    assert _inside(str(run), "here") == str(run / "here")
    assert _inside(str(run), str(run / "here")) == str(run / "here")
