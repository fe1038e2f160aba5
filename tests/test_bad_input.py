"""Broken, lying and hostile inputs: a short message naming the file, exit 2 (or 1 when
part is good), never a traceback, never a hang, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.formats import protos
from app.formats.bundle import Bundle
from app.formats.errors import FormatError
from app.formats.model import open_path

from .conftest import ROOT
from .tablewriter import LYING_ENTRIES, table_bytes, varint
from .tablewriter import bundle_entry as entry


def cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=30)


def header(num_shards=1) -> bytes:
    return protos.BundleHeaderProto(num_shards=num_shards).SerializeToString()


def make_bundle(folder, entries, data=b"\x00" * 64, num_shards=1):
    (folder / "m.index").write_bytes(table_bytes([(b"", header(num_shards))] + entries))
    if data is not None:
        (folder / f"m.data-00000-of-{num_shards:05d}").write_bytes(data)
    return folder / "m"


def snapshot(folder):
    return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in folder.rglob("*")}


@pytest.mark.parametrize("lie", list(LYING_ENTRIES))
def test_lying_entries(tmp_path, lie):
    prefix = make_bundle(tmp_path, [(b"bad", entry(**LYING_ENTRIES[lie])),
                                    (b"good", entry(dtype=1, shape=[2], size=8, offset=0,
                                                    crc32c=0))])
    before = snapshot(tmp_path)
    bundle = Bundle(str(prefix))
    with pytest.raises(FormatError) as err:
        bundle.read("bad")
    assert "bad" in str(err.value)
    proc = cli("dump", prefix, "bad", "-o", tmp_path.parent / f"out_{lie}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "m." in proc.stderr and len(proc.stderr.splitlines()) <= 2
    proc = cli("inspect", prefix)
    # inspect reads only the index: a lie that only the data bytes reveal passes it
    index_level = lie != "string-length-overflow"
    assert proc.returncode in ((1, 2) if index_level else (0,)) and "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("cut", [0, 1, 10, 47, 48, 60, -1, -5, -47])
def test_truncated_index(tmp_path, cut):
    good = table_bytes([(b"", header()), (b"w", entry(dtype=1, shape=[2], size=8))])
    (tmp_path / "m.index").write_bytes(good[:cut] if cut >= 0 else good[:len(good) + cut])
    (tmp_path / "m.data-00000-of-00001").write_bytes(b"\x00" * 8)
    proc = cli("inspect", tmp_path / "m.index")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith("error: ") and "m.index" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_flipped_byte_in_index_block(tmp_path):
    good = bytearray(table_bytes([(b"", header()), (b"w", entry(dtype=1, shape=[2], size=8))]))
    good[3] ^= 0x10
    (tmp_path / "m.index").write_bytes(bytes(good))
    with pytest.raises(FormatError, match="checksum"):
        Bundle(str(tmp_path / "m"))


def test_index_is_not_a_bundle(tmp_path):
    (tmp_path / "m.index").write_bytes(b"\x00" * 100)
    proc = cli("inspect", tmp_path)
    assert proc.returncode == 2 and "m.index" in proc.stderr


@pytest.mark.parametrize("content", [b"", b"\xff\xfe garbage \x00", b"model_checkpoint_path: 42 {"])
def test_garbage_state_file_falls_back_to_disk(tmp_path, content):
    make_bundle(tmp_path, [(b"w", entry(dtype=1, shape=[2], size=8, crc32c=0))])
    (tmp_path / "checkpoint").write_bytes(content)
    model = open_path(str(tmp_path))
    assert [c.name for c in model.checkpoints] == ["m"]
    if content:
        assert any("state file" in p for p in model.problems)


def test_state_file_escaping_the_folder_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    make_bundle(outside, [(b"w", entry(dtype=1, shape=[2], size=8))])
    inside = tmp_path / "run"
    inside.mkdir()
    (inside / "checkpoint").write_text('model_checkpoint_path: "../outside/m"\n'
                                       'all_model_checkpoint_paths: "../outside/m"\n')
    proc = cli("inspect", inside)
    assert proc.returncode == 2 and "not on disk" in proc.stderr


def test_state_file_naming_nothing(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone-5"\n')
    proc = cli("inspect", tmp_path)
    assert proc.returncode == 2 and "gone-5" in proc.stderr


def test_empty_folder_and_missing_path(tmp_path):
    proc = cli("inspect", tmp_path)
    assert proc.returncode == 2 and "empty" in proc.stderr
    proc = cli("inspect", tmp_path / "nope")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_shard_that_is_a_directory_fifo_or_empty(tmp_path):
    for kind in ("dir", "fifo", "empty"):
        folder = tmp_path / kind
        folder.mkdir()
        make_bundle(folder, [(b"w", entry(dtype=1, shape=[2], size=8))], data=None)
        shard = folder / "m.data-00000-of-00001"
        if kind == "dir":
            shard.mkdir()
        elif kind == "fifo":
            os.mkfifo(shard)
        else:
            shard.write_bytes(b"")
        proc = cli("dump", folder, "w", "-o", tmp_path / f"o_{kind}")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (kind, proc.stderr)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_shard(tmp_path):
    make_bundle(tmp_path, [(b"w", entry(dtype=1, shape=[2], size=8))])
    (tmp_path / "m.data-00000-of-00001").chmod(0)
    proc = cli("dump", tmp_path, "w", "-o", tmp_path.parent / "o")
    assert proc.returncode == 2


def test_not_a_model(tmp_path):
    f = tmp_path / "notes.pb"
    f.write_bytes(os.urandom(2000))
    proc = cli("inspect", f)
    assert proc.returncode == 2 and "notes.pb" in proc.stderr and "Traceback" not in proc.stderr


def test_deeply_nested_graph_proto(tmp_path):
    # a NodeDef attr holding a list of lists ... nested far deeper than protobuf allows
    f = tmp_path / "deep.pb"
    nested = b""
    for _ in range(5000):
        nested = b"\x0a" + varint(len(nested)) + nested
    f.write_bytes(nested)
    proc = cli("inspect", f)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr

