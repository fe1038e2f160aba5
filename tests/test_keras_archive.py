"""The `.keras` archive and the Keras reader's edges: members read in place or unpacked to
the cache (and the cache cleaned however the reader ends), bounds on what a member may
claim, broken headers, names that are not UTF-8, file names that carry an epoch. Files are
written here with h5py and zipfile (h5py reads them back as the oracle), so no Keras runs."""

from __future__ import annotations

import gc
import json
import os
import shutil
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from .conftest import require, run_python, write_zip

h5py = require("h5py")

from app.formats import keras as keras_format  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.keras import KerasFile, is_keras_file, step_of  # noqa: E402

WEIGHTS = "model.weights.h5"


def _keras3_weights(path, layers, **attrs) -> bytes:
    """A Keras 3 weights file: layers = {group: (the name its `vars` carry, [arrays])}."""
    with h5py.File(path, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for group, (name, values) in layers.items():
            g = f.create_group(f"layers/{group}/vars")
            if name is not None:
                g.attrs["name"] = name
            for i, value in enumerate(values):
                g.create_dataset(str(i), data=value)
    return Path(path).read_bytes()


def _central_entry(raw: bytes, name: str) -> int:
    """Where the central directory's record of `name` starts."""
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack("<H", raw[at + 28: at + 30])[0]
        if raw[at + 46: at + 46 + name_len] == name.encode():
            return at
        at = raw.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the central directory")


def _oracle(path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file, as h5py reads it."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out


def _same(ours, theirs, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, what
    assert ours.tobytes() == theirs.tobytes(), what


@pytest.fixture
def cache(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def unraisable(monkeypatch):
    """What Python could only print: exceptions raised in __del__ and the like."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(f"{u.exc_type.__name__}: {u.exc_value}"))
    return seen


def _unpacked(cache) -> list[Path]:
    return sorted(cache.rglob(WEIGHTS)) if cache.exists() else []


# -- values read through the archive -------------------------------------------------------

SMALL = {"flags": ("flags", [np.array([7], np.uint8), np.array([True]), np.array(-5, np.int8),
                             np.arange(6, dtype=np.float32).reshape(2, 3), np.array(200, np.uint8)])}


@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_one_byte_values_read_from_an_archive_are_the_files_own(tmp_path, cache, compress):
    """HDF5 reads a one-byte dataset with a one-byte read: it must come back, not zero."""
    member = tmp_path / WEIGHTS
    path = write_zip(tmp_path / "flags.keras", {WEIGHTS: _keras3_weights(member, SMALL)}, compress)
    theirs = _oracle(member)
    reader = KerasFile(str(path))
    try:
        assert set(reader.tensors) == set(theirs)
        for key, value in theirs.items():
            _same(reader.read(key), value, key)
        assert [reader.tensors[k].display_name for k in reader.layers[0].weights] == [
            f"flags/vars/{i}" for i in range(5)]
    finally:
        reader.close()


def test_numbered_groups_are_listed_in_numeric_order_before_named_ones(tmp_path):
    one = [np.ones(2, np.float32)]
    path = tmp_path / "order.weights.h5"
    _keras3_weights(path, {"dense": (None, one), "10": (None, one), "2": (None, one),
                           "wide": (None, [np.full(3, i, np.float32) for i in range(12)])})
    reader = KerasFile(str(path))
    try:
        assert [layer.name for layer in reader.layers] == ["2", "10", "dense", "wide"]
        wide = reader.layers[-1]
        assert [reader.tensors[k].display_name for k in wide.weights] == [f"wide/vars/{i}" for i in range(12)]
        for i, key in enumerate(wide.weights):
            _same(reader.read(key), np.full(3, i, np.float32), key)
    finally:
        reader.close()


def test_names_that_are_not_utf8_are_shown_with_replacement_characters(tmp_path):
    """A layer name or version written in Latin-1 by some other tool still opens."""
    path = tmp_path / "latin.weights.h5"
    kernel = np.arange(4, dtype=np.float32).reshape(2, 2)
    _keras3_weights(path, {"dense": (np.bytes_(b"caf\xe9"), [kernel])}, keras_version=np.bytes_(b"3.1\xff"))
    reader = KerasFile(str(path))
    try:
        assert reader.keras_version == "3.1\ufffd"
        assert [layer.name for layer in reader.layers] == ["caf\ufffd"]
        (key,) = reader.layers[0].weights
        assert reader.tensors[key].display_name == "caf\ufffd/kernel"
        _same(reader.read(key), kernel, key)
    finally:
        reader.close()


def test_reader_contract_fields_of_a_plain_hdf5_file(tmp_path):
    path = tmp_path / "plain.weights.h5"
    _keras3_weights(path, {"dense": ("dense", [np.ones((2, 2), np.float32)])})
    reader = KerasFile(str(path))
    try:
        assert reader.data_files == [str(path)] and reader.path == str(path)
        assert reader.object_graph_problem is None
        assert reader.metadata == {} and reader.keras_version is None
        assert reader.model_config is None and reader.layout == "keras3"
    finally:
        reader.close()


def test_archive_metadata_and_config_are_read(tmp_path):
    member = tmp_path / WEIGHTS
    config = {"class_name": "Sequential", "config": {"name": "tiny", "layers": []}}
    path = write_zip(tmp_path / "meta.keras", {
        "metadata.json": json.dumps({"keras_version": "3.4.1", "date_saved": "2024-01-01"}),
        "config.json": json.dumps(config),
        WEIGHTS: _keras3_weights(member, {"dense": ("dense", [np.ones(3, np.float32)])})})
    reader = KerasFile(str(path))
    try:
        assert reader.metadata == {"keras_version": "3.4.1", "date_saved": "2024-01-01"}
        assert reader.keras_version == "3.4.1" and reader.model_name() == "tiny"
        assert reader.data_files == [str(path)]
    finally:
        reader.close()


# -- what is and is not a Keras file ------------------------------------------------------

def test_is_keras_file_by_first_bytes_and_name(tmp_path):
    h5 = tmp_path / "any.name"
    _keras3_weights(h5, {"d": ("d", [np.ones(1)])})
    zipped = write_zip(tmp_path / "m.keras", {"config.json": "{}"})
    shutil.copy(zipped, tmp_path / "m.zip")
    (tmp_path / "text.keras").write_text("not a zip at all")
    (tmp_path / "folder.keras").mkdir()
    assert is_keras_file(str(h5)) and is_keras_file(str(zipped))
    assert not is_keras_file(str(tmp_path / "m.zip"))            # a zip that is not named .keras
    assert not is_keras_file(str(tmp_path / "text.keras"))       # named .keras, not a zip
    assert not is_keras_file(str(tmp_path / "folder.keras"))     # cannot be read
    assert not is_keras_file(str(tmp_path / "missing.keras"))


@pytest.mark.parametrize("name, step", [
    ("model_Epoch12_acc0.5.h5", 12),      # the word, in any case, wins over a trailing number
    ("model_128_12.keras", 12),           # the last number, not the first
    ("net-3-7.weights.h5", 7),
])
def test_step_of_more_file_names(name, step):
    assert step_of(f"/runs/{name}") == step


def test_a_file_that_is_neither_hdf5_nor_zip_is_named_in_the_error(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_bytes(b"just some text, long enough")
    with pytest.raises(FormatError) as e:
        KerasFile(str(path))
    assert e.value.path == str(path)
    assert e.value.problem == "neither an HDF5 file nor a .keras archive"
    assert str(e.value) == f"{path}: neither an HDF5 file nor a .keras archive"


_NO_DESCRIPTORS = r"""
import json, os, resource, sys
from app.formats.errors import FormatError
from app.formats.keras import KerasFile
cases = json.loads(sys.argv[1])
for path, _free in cases:   # once while files can be opened: whatever is imported lazily, is
    KerasFile(path).close()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
held = []
try:
    for _ in range(4096):
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
out = []
for path, free in cases:
    for _ in range(free):
        os.close(held.pop())
    try:
        KerasFile(path)
        out.append("opened")
    except FormatError as e:
        out.append([e.path, e.problem, str(e)])
print(json.dumps(out))
"""


def test_running_out_of_file_descriptors_is_a_clear_error_naming_the_file(tmp_path):
    """The file exists and is regular, but cannot be opened (no descriptor left): first for
    its first bytes, then (one descriptor left, which the zip takes) for the member's header."""
    h5 = tmp_path / "a.weights.h5"
    stored = write_zip(tmp_path / "s.keras", {WEIGHTS: _keras3_weights(h5, {"d": ("d", [np.ones(2)])})})
    cases = [(str(h5), 0), (str(stored), 1)]
    proc = run_python(_NO_DESCRIPTORS, json.dumps(cases))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    problem = f"cannot read: {os.strerror(24)}"       # EMFILE
    assert got == [[str(h5), problem, f"{h5}: {problem}"], [str(stored), problem, f"{stored}: {problem}"]]


# -- broken and hostile archives ----------------------------------------------------------

def test_member_whose_header_lies_past_the_end_is_called_truncated(tmp_path):
    member = _keras3_weights(tmp_path / WEIGHTS, {"d": ("d", [np.ones(64, np.float32)])})
    path = write_zip(tmp_path / "cut.keras", {"config.json": "{}", WEIGHTS: member})
    raw = bytearray(path.read_bytes())
    entry = _central_entry(raw, WEIGHTS)
    raw[entry + 42: entry + 46] = struct.pack("<I", len(raw) - 10)   # its local header's offset
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError) as e:
        KerasFile(str(path))
    assert e.value.path == str(path)
    assert e.value.problem == f"truncated: {WEIGHTS} runs past the end of the file"


@pytest.mark.parametrize("cut", [0, 8, 16, 20, 32, 44, 60, 90, 500])
def test_a_cut_member_is_judged_as_the_same_bytes_on_disk(tmp_path, cut):
    """A stored member cut short, followed in the archive by the rest of the file it was cut
    from: HDF5 sees the member's bytes, zeros past them (as a file on disk reads), never the
    bytes that follow it, so the reason is the one h5py gives for those bytes as a file (it
    was uninitialised memory's: a different complaint from run to run)."""
    whole = _keras3_weights(tmp_path / "whole.h5", SMALL)
    alone = tmp_path / "alone.h5"
    alone.write_bytes(whole[:cut])
    with pytest.raises(OSError) as theirs:
        h5py.File(alone, "r")
    path = write_zip(tmp_path / "cut.keras", {WEIGHTS: whole[:cut], "rest": whole[cut:]})
    with pytest.raises(FormatError) as e:
        KerasFile(str(path))
    assert e.value.path == str(path)
    assert str(theirs.value) in e.value.problem and "cannot be opened" in e.value.problem
    if cut >= 44:   # the superblock's end-of-file address is whole: the cut shows
        assert "the file is truncated" in e.value.problem


def _padded_member(tmp_path, size: int) -> tuple[bytes, dict]:
    """A weights file padded with zeros to exactly `size` bytes (HDF5 ignores bytes past its
    end), and its values."""
    path = tmp_path / "padded.h5"
    data = _keras3_weights(path, {"dense": ("dense", [np.arange(6, dtype=np.float32).reshape(2, 3)])})
    assert len(data) <= size
    path.write_bytes(data + b"\0" * (size - len(data)))
    return path.read_bytes(), _oracle(path)


def _reads_as(path, theirs: dict) -> None:
    reader = KerasFile(str(path))
    try:
        for key, value in theirs.items():
            _same(reader.read(key), value, key)
    finally:
        reader.close()


def test_compression_ratio_bound_admits_a_member_at_the_bound(tmp_path, cache, monkeypatch):
    """The ratio is taken against at least 1 MiB compressed, so small members that compress
    well (zero-initialised weights) are never refused; a member exactly at the bound opens."""
    monkeypatch.setattr(keras_format, "MAX_RATIO", 1)
    data, theirs = _padded_member(tmp_path, 1 << 20)
    path = write_zip(tmp_path / "at.keras", {WEIGHTS: data}, zipfile.ZIP_DEFLATED)
    assert zipfile.ZipFile(path).getinfo(WEIGHTS).compress_size < 100_000
    _reads_as(path, theirs)
    over = write_zip(tmp_path / "over.keras", {WEIGHTS: data + b"\0"}, zipfile.ZIP_DEFLATED)
    with pytest.raises(FormatError) as e:
        KerasFile(str(over))
    assert e.value.path == str(over) and "refused" in e.value.problem
    assert f"{(1 << 20) + 1:,} bytes" in e.value.problem
    assert _unpacked(cache) == []


def test_member_size_bound_admits_a_member_of_exactly_that_size(tmp_path, cache, monkeypatch):
    data, theirs = _padded_member(tmp_path, 300_000)
    path = write_zip(tmp_path / "big.keras", {WEIGHTS: data}, zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(keras_format, "MAX_MEMBER_BYTES", len(data))
    _reads_as(path, theirs)
    monkeypatch.setattr(keras_format, "MAX_MEMBER_BYTES", len(data) - 1)
    with pytest.raises(FormatError) as e:
        KerasFile(str(path))
    assert "refused" in e.value.problem and _unpacked(cache) == []


# -- closing, and the unpacked copy in the cache ---------------------------------------------

def test_close_releases_every_handle_and_later_reads_say_closed(tmp_path):
    member = tmp_path / WEIGHTS
    path = write_zip(tmp_path / "s.keras", {WEIGHTS: _keras3_weights(member, SMALL)})
    key = "layers/flags/vars/3"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = KerasFile(str(path))
        _same(reader.read(key), _oracle(member)[key], key)
        reader.close()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    for attempt in (lambda: reader.read(key), lambda: next(reader.chunks(key))):
        with pytest.raises(FormatError) as e:
            attempt()
        assert e.value.path == str(path) and e.value.problem == "closed"
    reader.close()   # twice: nothing to do, nothing raised


def _deflated(tmp_path) -> tuple[Path, dict]:
    member = tmp_path / WEIGHTS
    path = write_zip(tmp_path / "d.keras", {WEIGHTS: _keras3_weights(member, SMALL)}, zipfile.ZIP_DEFLATED)
    return path, _oracle(member)


def test_a_reader_dropped_without_close_removes_its_unpacked_copy(tmp_path, cache, unraisable):
    path, theirs = _deflated(tmp_path)
    reader = KerasFile(str(path))
    assert len(_unpacked(cache)) == 1
    _same(reader.read("layers/flags/vars/0"), theirs["layers/flags/vars/0"], "read")
    del reader
    gc.collect()
    assert _unpacked(cache) == [] and list((cache / "checkpoint-browser" / "unpacked").iterdir()) == []
    assert unraisable == []


@pytest.mark.parametrize("ending", ["close", "drop"])
def test_cache_cleaned_by_someone_else_while_open_is_no_error(tmp_path, cache, unraisable, ending):
    path, _theirs = _deflated(tmp_path)
    reader = KerasFile(str(path))
    shutil.rmtree(cache)                     # a cache cleaner ran meanwhile
    if ending == "close":
        reader.close()
    del reader
    gc.collect()
    assert unraisable == [] and not cache.exists()


def test_a_wrong_argument_is_a_type_error_and_nothing_more(unraisable):
    def attempt():
        with pytest.raises(TypeError):
            KerasFile(None)
    attempt()
    gc.collect()
    assert unraisable == []
