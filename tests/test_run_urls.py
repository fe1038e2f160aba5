"""A run at a URL: the same questions of location.py, run discovery, open_path and the
live watcher answered through fsspec, on its in-process `memory://` file system (a real
fsspec file system, no server), holding TensorFlow's checkpoints of resources/sample_run."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

from app.formats import location, remote
from app.formats.errors import FormatError
from app.formats.keras import HDF5_MAGIC
from app.formats.live import RunWatcher, completeness
from app.formats.model import open_checkpoint, open_path
from app.formats.run import RunFolder

from .conftest import ROOT

fsspec = pytest.importorskip("fsspec")
SAMPLE = ROOT / "resources" / "sample_run"


@pytest.fixture
def memory(tmp_path, monkeypatch):
    """memory://<fresh bucket>/run holding the sample run; the cache in tmp_path."""
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    remote.reset()
    fs = fsspec.filesystem("memory")
    bucket = f"/b{uuid.uuid4().hex[:12]}"
    for name in os.listdir(SAMPLE):
        fs.pipe(f"{bucket}/run/{name}", (SAMPLE / name).read_bytes())
    yield fs, f"memory:/{bucket}"
    if fs.exists(bucket):
        fs.rm(bucket, recursive=True)
    remote.reset()


def test_file_questions_about_a_url_go_to_its_file_system(memory):
    fs, root = memory
    run = f"{root}/run"
    index = f"{run}/epoch-1.index"
    assert location.isdir(run) and not location.isfile(run)
    assert location.isfile(index) and not location.isdir(index)
    assert location.exists(index) and location.exists(run) and not location.exists(f"{run}/nope")
    assert sorted(location.listdir(run)) == sorted(os.listdir(SAMPLE))
    assert location.stat(index).size == 540
    data = (SAMPLE / "epoch-1.index").read_bytes()
    assert location.read_head(index, 4) == data[:4] and location.read_tail(index, 8) == data[-8:]
    assert location.read_whole(index, 1 << 20) == data
    location.trust(index)
    copies = location.local_copies([index, str(SAMPLE / "epoch-0.meta")])
    assert open(copies[index], "rb").read() == data and not location.is_url(copies[index])
    assert copies[str(SAMPLE / "epoch-0.meta")] == str(SAMPLE / "epoch-0.meta")
    with location.cancel_when(lambda: False):
        assert location.read_head(index, 2) == data[:2]


def test_a_url_runs_event_files_are_copied_to_a_local_folder(memory):
    fs, root = memory
    fs.pipe(root[len("memory:/"):] + "/run/events.out.tfevents.1.host", b"records")
    local = location.event_files_copy(f"{root}/run", 1)
    assert not location.is_url(local)
    assert open(os.path.join(local, "events.out.tfevents.1.host"), "rb").read() == b"records"
    assert not os.path.exists(os.path.join(local, "epoch-0.index"))


def test_a_run_at_a_url_opens_as_the_same_run_on_disk(memory):
    _, root = memory
    model = open_path(f"{root}/run/")
    local = open_path(str(SAMPLE))
    assert model.kind == "run" and model.title == root[len("memory://"):] + "/run"
    assert [c.name for c in model.checkpoints] == [c.name for c in local.checkpoints]
    assert [c.size for c in model.checkpoints] == [c.size for c in local.checkpoints]
    assert model.selected.name == "epoch-5" and model.notes == [] and model.problems == []
    assert model.selected.meta == f"{root}/run/epoch-0.meta"
    reader, want = open_checkpoint(model.selected), open_checkpoint(local.selected)
    for key in want.tensors:
        assert np.array_equal(reader.read(key), want.read(key))
    by_index = open_path(f"{root}/run/epoch-2.index")
    assert by_index.selected.name == "epoch-2" and by_index.folder == f"{root}/run"


def test_a_url_folder_without_a_model_is_not_walked(memory):
    fs, root = memory
    bucket = root[len("memory:/"):]
    fs.pipe(f"{bucket}/top/readme.md", b"hi")
    with pytest.raises(FormatError) as e:
        open_path(f"{root}")     # the run below it is not looked for: a request per folder
    assert "no TensorFlow model found" in str(e.value) and not hasattr(e.value, "below")


@pytest.mark.parametrize("name,head,kind", [
    ("model.keras", b"PK\x03\x04", "a Keras 3 model archive (.keras)"),
    ("weights.bin", HDF5_MAGIC, "an HDF5 file not named .h5, .hdf5 or .keras"),
    ("m.tflite", b"\x1c\0\0\0TFL3", "a TensorFlow Lite model (.tflite)")])
def test_models_of_other_formats_at_a_url_are_named(memory, name, head, kind):
    fs, root = memory
    fs.pipe(root[len("memory:/"):] + f"/other/{name}", head + b"\0" * 32)
    with pytest.raises(FormatError) as e:
        open_path(f"{root}/other/{name}")
    assert f"{kind}: not a TensorFlow checkpoint" in str(e.value)


def test_a_url_state_file_and_its_run(memory):
    fs, root = memory
    bucket = root[len("memory:/"):]
    fs.pipe(f"{bucket}/run/checkpoint", b'model_checkpoint_path: "/train/run/epoch-3"\n')
    run = RunFolder(f"{root}/run")
    assert [c.name for c in run.checkpoints if c.latest] == ["epoch-3"] and run.notes == []


def test_a_url_run_is_watched_by_listing(memory):
    fs, root = memory
    bucket = root[len("memory:/"):]
    fs.rm(f"{bucket}/run/epoch-1.data-00000-of-00001")      # before anything is listed (kept 2 s)
    assert completeness(f"{root}/run/epoch-0") is None
    assert completeness(f"{root}/run/epoch-1") == "data file epoch-1.data-00000-of-00001 is missing"
    w = RunWatcher(f"{root}/run")
    events = w.poll()
    assert [(e.kind, e.step) for e in events] == [("added", i) for i in range(6)]
    assert [e.step for e in events if e.problem] == [1]      # a URL's files are long settled
    fs.rm(f"{bucket}/run/epoch-2.index")
    assert [(e.kind, e.step) for e in w.poll()] == [("removed", 2)]
    fs.rm(f"{bucket}/run", recursive=True)
    assert sorted(e.step for e in w.poll() if e.kind == "removed") == [0, 1, 3, 4, 5]
