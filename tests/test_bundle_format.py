"""The bundle and table readers byte by byte, on crafted files: every check of the index
and the data (checksums, byte order, sizes, slices, hostile values) refuses what it must
and passes what is right. No TensorFlow here (test_readers.py compares real files with
it), so these run in a blink."""

from __future__ import annotations

import struct

import crc32c
import numpy as np
import pytest

from app.formats import protos
from app.formats.bundle import Bundle, data_file_name, prefix_of
from app.formats.crc import MASK_DELTA, mask_crc, unmask_crc
from app.formats.errors import CorruptDataError, FormatError
from app.formats.table import MAGIC, Table, has_table_magic, read_varint

from .tablewriter import table_bytes, varint

DATA = "m.data-00000-of-00001"


def header(num_shards=1, endianness=0) -> bytes:
    return protos.BundleHeaderProto(num_shards=num_shards, endianness=endianness).SerializeToString()


def entry(dtype=1, shape=(2,), data=b"", offset=0, size=None, crc=None, shard_id=0,
          slices=(), unknown_rank=False) -> bytes:
    """A BundleEntryProto over `data` (its crc32c right unless `crc` is given)."""
    e = protos.BundleEntryProto(dtype=dtype, shard_id=shard_id, offset=offset,
                                size=len(data) if size is None else size,
                                crc32c=mask_crc(crc32c.crc32c(data)) if crc is None else crc)
    for d in shape:
        e.shape.dim.add(size=d)
    e.shape.unknown_rank = unknown_rank
    for sl in slices:  # (start, length or None) per dimension, or () for "all of it"
        s = e.slices.add()
        for start, length in sl:
            ext = s.extent.add(start=start)
            if length is not None:
                ext.length = length
    return e.SerializeToString()


def write(folder, entries, data=b"", num_shards=1, endianness=0, name="m"):
    """A bundle: its index holding the header and `entries`, one data shard holding `data`."""
    (folder / f"{name}.index").write_bytes(table_bytes([(b"", header(num_shards, endianness))]
                                                       + list(entries)))
    shard = folder / data_file_name(name, 0, num_shards).split("/")[-1]
    if data is not None:
        shard.write_bytes(data)
    elif shard.exists():
        shard.unlink()
    return str(folder / name)


def strings_bytes(values: list[bytes]) -> tuple[bytes, int]:
    """A string tensor as TensorFlow stores it (tensor_bundle.cc): varint64 lengths, the
    masked crc32c of the lengths taken as uint32s, then the bytes; with the entry's crc32c
    over the uint32 lengths, that crc and the bytes."""
    lens32 = b"".join(struct.pack("<I", len(v)) for v in values)
    crc_of_lengths = struct.pack("<I", mask_crc(crc32c.crc32c(lens32)))
    raw = b"".join(varint(len(v)) for v in values) + crc_of_lengths + b"".join(values)
    return raw, mask_crc(crc32c.crc32c(lens32 + crc_of_lengths + b"".join(values)))


# -- crc ------------------------------------------------------------------------------

def test_masked_crc_is_tensorflows():
    # crc32c("123456789") is the standard check value; masked as crc32c::Mask does
    check = crc32c.crc32c(b"123456789")
    assert check == 0xE3069283
    assert mask_crc(check) == ((((check >> 15) | (check << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert mask_crc(check) == 0xC78AB0E5
    assert mask_crc(0) == MASK_DELTA == 0xA282EAD8
    assert mask_crc(0xFFFFFFFF) == 0xA282EAD7
    for crc in (0, 1, 0x7FFF, 0x8000, 0x1FFFF, 0x20000, 0x80000000, 0xFFFFFFFF, check):
        assert unmask_crc(mask_crc(crc)) == crc
        assert mask_crc(crc) != crc and 0 <= mask_crc(crc) <= 0xFFFFFFFF
        assert 0 <= unmask_crc(crc) <= 0xFFFFFFFF
    assert unmask_crc(0) == 0x8A942EBE and unmask_crc(0xC78AB0E5) == check


# -- names of files -------------------------------------------------------------------

def test_prefix_of_each_file_of_a_bundle():
    assert data_file_name("d/m", 3, 12) == "d/m.data-00003-of-00012"
    assert prefix_of("d/m.index") == "d/m"
    assert prefix_of("d/m.ckpt-5.data-00003-of-00012") == "d/m.ckpt-5"
    assert prefix_of("d/m.data-0003-of-00012") is None
    assert prefix_of("d/m.data-00003-of-00012.tmp") is None
    assert prefix_of("d/m.meta") is None


# -- the table ------------------------------------------------------------------------

def test_varints():
    assert read_varint(b"\x00", 0, 1, "p") == (0, 1)
    assert read_varint(b"\x7f", 0, 1, "p") == (127, 1)
    assert read_varint(b"x\xac\x02", 1, 3, "p") == (300, 3)
    assert read_varint(b"\xff" * 9 + b"\x01", 0, 10, "p") == ((1 << 64) - 1, 10)
    for bad, limit in ((b"", 0), (b"\x80", 1), (b"\x80\x01", 1), (b"\x80" * 10 + b"\x01", 11)):
        with pytest.raises(FormatError, match="bad varint") as err:
            read_varint(bad, 0, limit, "the/path")
        assert (err.value.path, err.value.problem) == ("the/path", "malformed index: bad varint")


def test_table_magic():
    assert has_table_magic(b"xx" + MAGIC) and not has_table_magic(MAGIC[1:])
    assert not has_table_magic(b"\x00" + MAGIC[:-1] + b"\x00")


def _table_file(tmp_path, raw: bytes, name="t.index"):
    (tmp_path / name).write_bytes(raw)
    return str(tmp_path / name)


def test_table_lists_its_entries_in_order(tmp_path):
    pairs = [(b"a", b"1"), (b"ab", b""), (b"b" * 300, b"v" * 200), (b"\x00\xff", b"x")]
    got = [(bytes(k), bytes(v)) for k, v in Table(_table_file(tmp_path, table_bytes(pairs))).items()]
    assert got == sorted(pairs)


def _block(entries, restarts=(0,)) -> bytes:
    """A data block from raw (shared, unshared key bytes, value) entries."""
    body = b"".join(varint(s) + varint(len(k)) + varint(len(v)) + k + v for s, k, v in entries)
    return body + b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))


def _trailer(block: bytes, kind=0) -> bytes:
    return block + bytes([kind]) + struct.pack("<I", mask_crc(crc32c.crc32c(block + bytes([kind]))))


def _table(blocks: list[bytes], index_entries=None, meta=None, kinds=None) -> bytes:
    """A table of the given data blocks (each given as stored, before its trailer)."""
    out, handles = bytearray(), []
    for i, b in enumerate(blocks):
        handles.append(varint(len(out)) + varint(len(b)))
        out += _trailer(b, (kinds or {}).get(i, 0))
    meta_block = _block([]) if meta is None else meta
    meta_off = len(out)
    out += _trailer(meta_block)
    index = _block([(0, b"k%d" % i, h) for i, h in enumerate(handles)] if index_entries is None
                   else index_entries, restarts=(0,))
    index_off = len(out)
    out += _trailer(index)
    footer = varint(meta_off) + varint(len(meta_block)) + varint(index_off) + varint(len(index))
    return bytes(out + footer + b"\x00" * (40 - len(footer)) + MAGIC)


def test_prefix_compressed_keys_and_several_blocks(tmp_path):
    blocks = [_block([(0, b"apple", b"1"), (3, b"ly", b"2"), (5, b"", b"3")]),
              _block([(0, b"zebra", b"4"), (1, b"oo", b"5")])]
    got = [(bytes(k), bytes(v)) for k, v in Table(_table_file(tmp_path, _table(blocks))).items()]
    assert got == [(b"apple", b"1"), (b"apply", b"2"), (b"apply", b"3"), (b"zebra", b"4"),
                   (b"zoo", b"5")]


def test_snappy_block(tmp_path):
    import cramjam
    plain = _block([(0, b"key", b"value" * 20)])
    packed = bytes(cramjam.snappy.compress_raw(plain))
    t = _table_file(tmp_path, _table([packed], kinds={0: 1}))
    assert [(bytes(k), bytes(v)) for k, v in Table(t).items()] == [(b"key", b"value" * 20)]
    t = _table_file(tmp_path, _table([b"\xff\xff\xff\xff\x0fgarbage"], kinds={0: 1}), "bad.index")
    with pytest.raises(FormatError) as err:
        list(Table(t).items())
    assert err.value.problem == "index block at offset 0 does not decompress (corrupt)"
    t = _table_file(tmp_path, _table([plain], kinds={0: 2}), "zstd.index")
    with pytest.raises(FormatError) as err:
        list(Table(t).items())
    assert err.value.problem == "index block at offset 0 uses unknown compression type 2"


@pytest.mark.parametrize("block, why", [
    (b"\x00\x00\x00", "block too short"),
    (struct.pack("<I", 0), "bad restart array"),
    (struct.pack("<I", 2), "bad restart array"),
    (_block([(1, b"a", b"v")]), "entry overruns its block"),   # shares more than the last key
    (_block([(0, b"a", b"v")])[:2] + b"\x09" + _block([(0, b"a", b"v")])[3:], "entry overruns its block"),
    (b"\x80" + struct.pack("<II", 0, 1), "bad varint"),   # a varint cut by the restart array
])
def test_broken_blocks(tmp_path, block, why):
    t = _table_file(tmp_path, _table([block]))
    with pytest.raises(FormatError) as err:
        list(Table(t).items())
    assert (err.value.path, err.value.problem) == (t, f"malformed index: {why}")


def test_a_restart_array_filling_the_block_exactly(tmp_path):
    t = _table_file(tmp_path, _table([struct.pack("<II", 0, 1)]))
    assert list(Table(t).items()) == []


def test_a_block_listed_twice(tmp_path):
    b = _block([(0, b"a", b"v")])
    handle = varint(0) + varint(len(b))
    t = _table_file(tmp_path, _table([b], index_entries=[(0, b"a", handle), (0, b"b", handle)]))
    with pytest.raises(FormatError) as err:
        list(Table(t).items())
    assert err.value.problem == "malformed index: a block is listed twice"


def test_blocks_outside_the_file(tmp_path):
    b = _block([(0, b"a", b"v")])
    raw = _table([b])
    for where, handle in ((f"0+{len(raw)}", varint(0) + varint(len(raw))),
                          (f"{len(raw)}+0", varint(len(raw)) + varint(0))):
        t = _table_file(tmp_path, _table([b], index_entries=[(0, b"a", handle)]))
        with pytest.raises(FormatError) as err:
            list(Table(t).items())
        size = (tmp_path / "t.index").stat().st_size
        assert err.value.problem == (f"malformed index: block at {where} lies outside the file "
                                     f"({size} bytes; truncated?)")
    # the last byte a block may reach: its trailer ends where the footer starts
    good = _table([b])
    end = len(good) - 48
    (tmp_path / "ok.index").write_bytes(good)
    assert len(list(Table(str(tmp_path / "ok.index")).items())) == 1
    assert end == len(_trailer(b)) + len(_trailer(_block([]))) + len(_trailer(_block(
        [(0, b"k0", varint(0) + varint(len(b)))])))


def test_every_flipped_byte_of_a_table_is_refused(tmp_path):
    raw = _table([_block([(0, b"key", b"value")])])
    for i in range(len(raw) - 48):   # every byte of every block, trailers included
        broken = bytearray(raw)
        broken[i] ^= 0x01
        t = _table_file(tmp_path, bytes(broken), f"f{i}.index")
        with pytest.raises(FormatError) as err:
            list(Table(t).items())
        if i == 0:
            assert err.value.problem == "index block at offset 0 fails its checksum (the file is corrupt)"


def test_files_too_short_for_a_footer(tmp_path):
    for raw in (b"", MAGIC, b"\x00" * 39 + MAGIC):
        with pytest.raises(FormatError) as err:
            Table(_table_file(tmp_path, raw))
        assert err.value.problem == ("not a TensorFlow index/table file (no table magic at the end; "
                                     "truncated or not a checkpoint)")


# -- the bundle's index ---------------------------------------------------------------

def test_a_plain_bundle(tmp_path):
    a = np.arange(6, dtype="<f4")
    b = np.arange(3, dtype="<i8") - 1
    data = a.tobytes() + b.tobytes()
    prefix = write(tmp_path, [(b"a", entry(1, (2, 3), a.tobytes())),
                              (b"b", entry(9, (3,), b.tobytes(), offset=24)),
                              (b"e", entry(1, (0, 4), b"", offset=7))], data)
    bundle = Bundle(prefix)
    assert not bundle.big_endian and bundle.num_shards == 1
    assert bundle.data_files == [str(tmp_path / DATA)] and bundle.missing_shards == []
    assert {k: (t.shape, t.nbytes, t.partitioned, t.problem) for k, t in bundle.tensors.items()} == {
        "a": ((2, 3), 24, False, None), "b": ((3,), 24, False, None), "e": ((0, 4), 0, False, None)}
    np.testing.assert_array_equal(bundle.read("a"), a.reshape(2, 3))
    np.testing.assert_array_equal(bundle.read("b"), b)
    from app.formats import dtypes
    from app.formats.reader import Region, TensorInfo
    assert bundle.tensors["a"] == TensorInfo(name="a", dtype=dtypes.from_enum(1), dtype_enum=1, shape=(2, 3),
                                             nbytes=24, display_name="a")
    assert bundle.extents("a") == (Region((0, 0), (2, 3)),)
    assert bundle.read("e").shape == (0, 4) and bundle.read("e").dtype == np.float32
    assert [c.tolist() for c in bundle.chunks("a", 8)] == [[0, 1], [2, 3], [4, 5]]
    assert [c.tolist() for c in bundle.chunks("a", 11)] == [[0, 1], [2, 3], [4, 5]]
    assert [c.tolist() for c in bundle.chunks("a", 1)] == [[v] for v in range(6)]
    assert [c.tolist() for c in bundle.chunks("e")] == []
    for name in ("a", "b", "e"):
        bundle.verify(name)


def test_an_index_without_header_or_with_a_lying_one(tmp_path):
    (tmp_path / "m.index").write_bytes(table_bytes([(b"a", entry(1, (2,), b"\x00" * 8))]))
    with pytest.raises(FormatError) as err:
        Bundle(str(tmp_path / "m"))
    assert err.value.problem == "not a tensor bundle index (no bundle header); maybe a pre-0.11 checkpoint"
    for shards in (0, 1_000_001):
        prefix = write(tmp_path, [], num_shards=shards, data=None)
        with pytest.raises(FormatError) as err:
            Bundle(prefix)
        assert err.value.problem == f"bundle header declares {shards} shards"


def test_entries_that_do_not_parse_are_named(tmp_path):
    prefix = write(tmp_path, [(b"w\xffx", b"\xff\xff\xff")])
    with pytest.raises(FormatError) as err:
        Bundle(prefix)
    assert err.value.path == prefix + ".index"
    assert err.value.problem == "malformed index: entry 'w\ufffdx' does not parse"
    (tmp_path / "m.index").write_bytes(table_bytes([(b"", b"\xff\xff\xff")]))
    with pytest.raises(FormatError) as err:
        Bundle(prefix)
    assert err.value.problem == "malformed index: entry header does not parse"


def test_names_that_are_not_utf8_and_hidden_slice_entries(tmp_path):
    data = np.ones(2, "<f4").tobytes()
    prefix = write(tmp_path, [(b"caf\xe9", entry(1, (2,), data)),
                              (b"\x00slice", entry(1, (2,), data))], data)
    bundle = Bundle(prefix)
    assert list(bundle.tensors) == ["caf\udce9"]
    assert bundle.read("caf\udce9").tolist() == [1, 1]


def test_a_big_endian_header(tmp_path):
    a = np.array([1.5, -2.0], ">f4")
    c = np.array([1 + 2j], ">c8")
    h = np.array([0.5, 3.0], ">f2")
    raw = a.tobytes() + c.tobytes() + b"\x01\x00" + h.tobytes()
    prefix = write(tmp_path, [(b"a", entry(1, (2,), a.tobytes())),
                              (b"c", entry(8, (1,), c.tobytes(), offset=8)),
                              (b"u", entry(4, (2,), b"\x01\x00", offset=16)),
                              (b"h", entry(19, (2,), h.tobytes(), offset=18))], raw, endianness=1)
    bundle = Bundle(prefix)
    assert bundle.big_endian
    assert bundle.read("a").tolist() == [1.5, -2.0] and bundle.read("a").dtype.isnative
    assert bundle.read("c").tolist() == [1 + 2j] and bundle.read("u").tolist() == [1, 0]
    assert np.concatenate(list(bundle.chunks("a", 4))).tolist() == [1.5, -2.0]
    assert np.concatenate(list(bundle.chunks("c", 4))).tolist() == [1 + 2j]
    assert np.concatenate(list(bundle.chunks("u", 1))).tolist() == [1, 0]
    assert bundle.read("h").tolist() == [0.5, 3.0]
    assert np.concatenate(list(bundle.chunks("h", 2))).tolist() == [0.5, 3.0]
    assert not any(c.flags.owndata for c in bundle.chunks("u", 1))
    # one-byte values need no swapping: still a read-only view of the mapped file
    assert not bundle.read("u").flags.owndata and not bundle.read("u").flags.writeable


def test_a_bundle_of_empty_tensors_has_an_empty_data_file(tmp_path):
    bundle = Bundle(write(tmp_path, [(b"e", entry(1, (0, 4), b"")), (b"s", entry(7, (0,), b"", size=0))],
                          b""))
    assert bundle.read("e").shape == (0, 4) and list(bundle.chunks("e")) == []
    bundle.verify("e")
    assert bundle.tensors["s"].problem == "0 strings cannot fit in 0 bytes"
    assert len(list(Bundle(write(tmp_path, [(b"a", entry(1, (2,), b"\x00" * 8))], b"\x00" * 8,
                                 name="n")).chunks("a"))) == 1   # small: one chunk


def _problem(tmp_path, entries, data=b"\x00" * 64, name="bad", **kw) -> str:
    bundle = Bundle(write(tmp_path, entries, data, **kw))
    info = bundle.tensors[name]
    assert info.problem
    for call in (bundle.read, bundle.verify, lambda n: list(bundle.chunks(n)), bundle.extents):
        with pytest.raises(FormatError) as err:
            call(name)
        assert (err.value.path, err.value.problem) == (bundle.index_path, f"{name}: {info.problem}")
    return info.problem


def test_entries_that_lie(tmp_path):
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8, unknown_rank=True))]) == "unknown rank"
    from app.formats import dtypes
    from app.formats.reader import TensorInfo
    assert Bundle(write(tmp_path, [(b"bad", entry(1, (2,), size=8, unknown_rank=True))], b"")).tensors["bad"] == \
        TensorInfo(name="bad", dtype=dtypes.from_enum(1), dtype_enum=1, shape=(), nbytes=0, problem="unknown rank")
    assert _problem(tmp_path, [(b"bad", entry(1, (2, -3), size=8))]) == \
        "negative dimension in shape [2, -3]"
    assert _problem(tmp_path, [(b"bad", entry(20, (2,), size=8))]) == \
        "tensors of dtype resource cannot be read"
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8, shard_id=1))]) == \
        "shard 1 does not exist (bundle has 1)"
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8, shard_id=-1))]).startswith("shard -1 ")
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8, offset=-1))]) == "negative offset or size"
    assert _problem(tmp_path, [(b"bad", entry(1, (0,), size=-1))]) == "negative offset or size"
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=12))]) == \
        "size 12 bytes does not match shape [2] of float32 (8 bytes)"
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8, offset=57))]) == \
        f"bytes 57..65 lie past the end of {DATA} (64 bytes; truncated?)"
    # strings: at least one length byte per element and the 4-byte crc of the lengths
    assert _problem(tmp_path, [(b"bad", entry(7, (3,), size=6))]) == "3 strings cannot fit in 6 bytes"
    assert _problem(tmp_path, [(b"bad", entry(7, (1,), size=4))]) == "1 strings cannot fit in 4 bytes"
    assert _problem(tmp_path, [(b"bad", entry(7, (0,), size=3))]) == "0 strings cannot fit in 3 bytes"
    assert _problem(tmp_path, [(b"bad", entry(1, (2,), size=8))], data=None).startswith(
        f"data file {DATA}: file not found")


def test_entries_at_the_limits_are_fine(tmp_path):
    values, crc = strings_bytes([b"a", b"", b"c"])
    none, none_crc = strings_bytes([])
    assert (none, none_crc) == (b"\xd8\xea\x82\xa2", 1678557686)  # as TensorFlow writes []
    prefix = write(tmp_path, [(b"s", entry(7, (3,), values, crc=crc)),
                              (b"s0", entry(7, (0,), none, offset=len(values), crc=none_crc)),
                              (b"f", entry(1, (2,), b"\x00" * 8, offset=56))], b"\x00" * 64)
    open(tmp_path / DATA, "r+b").write(values + none)
    bundle = Bundle(prefix)
    assert {k: t.problem for k, t in bundle.tensors.items()} == {"s": None, "s0": None, "f": None}
    assert bundle.read("s").tolist() == [b"a", b"", b"c"]
    assert bundle.read("s0").tolist() == [] and bundle.read("s0").shape == (0,)
    assert bundle.read("f").tolist() == [0, 0]
    bundle.verify("s")


def test_a_missing_shard_is_named_and_others_still_read(tmp_path):
    good = np.arange(2, dtype="<f4").tobytes()
    (tmp_path / "m.index").write_bytes(table_bytes([
        (b"", header(2)), (b"a", entry(1, (2,), good)), (b"b", entry(1, (2,), good, shard_id=1))]))
    (tmp_path / "m.data-00000-of-00002").write_bytes(good)
    bundle = Bundle(str(tmp_path / "m"))
    assert bundle.missing_shards == [str(tmp_path / "m.data-00001-of-00002")]
    assert bundle.tensors["a"].problem is None and bundle.read("a").tolist() == [0, 1]
    assert "m.data-00001-of-00002" in bundle.tensors["b"].problem


# -- the data -------------------------------------------------------------------------

def test_corrupt_numbers_are_never_handed_out(tmp_path):
    a = np.arange(4, dtype="<f4")
    prefix = write(tmp_path, [(b"a", entry(1, (4,), a.tobytes(), crc=mask_crc(crc32c.crc32c(a.tobytes())) ^ 1))],
                   a.tobytes())
    bundle = Bundle(prefix)
    with pytest.raises(CorruptDataError) as err:
        bundle.read("a")
    assert err.value.problem == "tensor 'a' fails its crc32c check (data corrupt)"
    assert err.value.path == str(tmp_path / DATA)
    with pytest.raises(CorruptDataError):
        list(bundle.chunks("a", 4))
    with pytest.raises(CorruptDataError):
        bundle.verify("a")


def test_the_crc_covers_every_chunk_of_a_tensor(tmp_path):
    a = np.arange(1000, dtype="<f4")
    raw = bytearray(a.tobytes())
    prefix = write(tmp_path, [(b"a", entry(1, (1000,), bytes(raw)))], bytes(raw))
    for where in (0, 1999, 3999):
        broken = bytearray(raw)
        broken[where] ^= 0x80
        (tmp_path / DATA).write_bytes(bytes(broken))
        bundle = Bundle(prefix)
        for call in (bundle.read, bundle.verify, lambda n: list(bundle.chunks(n, 64))):
            with pytest.raises(CorruptDataError):
                call("a")
        bundle.close()


def test_strings(tmp_path):
    values = [b"", b"x", b"\x00\xff" * 100, "é".encode()]
    raw, crc = strings_bytes(values)
    prefix = write(tmp_path, [(b"s", entry(7, (2, 2), raw, crc=crc))], raw)
    bundle = Bundle(prefix)
    got = bundle.read("s")
    assert got.shape == (2, 2) and got.ravel().tolist() == values
    bundle.verify("s")
    with pytest.raises(FormatError) as err:
        list(bundle.chunks("s"))
    assert (err.value.path, err.value.problem) == (bundle.index_path, "s: string tensors have no numeric chunks")


def _string_problem(tmp_path, raw: bytes, crc: int, n=2) -> str:
    bundle = Bundle(write(tmp_path, [(b"s", entry(7, (n,), raw, crc=crc))], raw))
    for call in (bundle.read, bundle.verify):
        with pytest.raises(CorruptDataError) as err:
            call("s")
        assert err.value.path == str(tmp_path / DATA) and "'s'" in str(err.value)
    return err.value.problem


def test_corrupt_strings_are_never_handed_out(tmp_path):
    raw, crc = strings_bytes([b"ab", b"cde"])
    # a flipped byte of the text: only the entry's crc can tell
    text = raw[:-1] + b"E"
    assert _string_problem(tmp_path, text, crc) == "tensor 's' fails its crc32c check (data corrupt)"
    # a flipped length: the crc of the lengths tells
    assert _string_problem(tmp_path, b"\x01" + raw[1:], crc) == "tensor 's': string lengths are corrupt"
    # a flipped crc of the lengths
    flipped = raw[:2] + bytes([raw[2] ^ 1]) + raw[3:]
    assert _string_problem(tmp_path, flipped, crc) == "tensor 's': string lengths are corrupt"
    # bytes past the strings
    assert _string_problem(tmp_path, raw + b"\x00", crc) == "tensor 's': string lengths are corrupt"
    # lengths that cannot be
    huge = varint(1 << 32) + varint(1) + raw[2:]
    assert _string_problem(tmp_path, huge, crc) == "tensor 's': impossible string length"
    assert _string_problem(tmp_path, b"\x80" * 8, crc) == "tensor 's': string lengths are corrupt"


def test_a_length_crc_right_as_uint32_not_as_varint(tmp_path):
    # a 300-byte string: its varint length (2 bytes) differs from the uint32 one
    values = [b"v" * 300, b"w"]
    raw, crc = strings_bytes(values)
    assert Bundle(write(tmp_path, [(b"s", entry(7, (2,), raw, crc=crc))], raw)).read("s").tolist() == values


def test_a_shard_that_shrank_after_opening(tmp_path):
    a = np.arange(4, dtype="<f4").tobytes()
    bundle = Bundle(write(tmp_path, [(b"a", entry(1, (4,), a))], a))
    (tmp_path / DATA).write_bytes(a[:8])
    with pytest.raises(FormatError) as err:
        bundle.read("a")
    assert err.value.problem == "is shorter than the index says (truncated?)"
    assert err.value.path == str(tmp_path / DATA)
    assert not isinstance(err.value, CorruptDataError)
    (tmp_path / DATA).write_bytes(a)
    bundle = Bundle(str(tmp_path / "m"))
    (tmp_path / DATA).write_bytes(b"")
    with pytest.raises(FormatError) as err:
        bundle.read("a")
    assert err.value.problem.startswith("cannot map: ") and err.value.path == str(tmp_path / DATA)


def _mapped(path: str) -> bool:
    with open("/proc/self/maps") as f:
        return any(line.rstrip("\n").endswith(" " + path) for line in f)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"),
                    reason="mappings are seen through Linux's /proc/self/maps")
def test_close_unmaps_the_shards(tmp_path):
    a = np.arange(4, dtype="<f4")
    bundle = Bundle(write(tmp_path, [(b"a", entry(1, (4,), a.tobytes()))], a.tobytes()))
    assert bundle.read("a").tolist() == [0, 1, 2, 3]
    assert _mapped(str(tmp_path / DATA))
    bundle.close()
    assert not _mapped(str(tmp_path / DATA))


def test_values_outlive_close(tmp_path):
    a = np.arange(4, dtype="<f4")
    bundle = Bundle(write(tmp_path, [(b"a", entry(1, (4,), a.tobytes()))], a.tobytes()))
    kept = bundle.read("a")
    assert not kept.flags.writeable
    bundle.close()
    bundle.close()
    assert kept.tolist() == [0, 1, 2, 3]
    assert bundle.read("a").tolist() == [0, 1, 2, 3]   # opened again on demand
    bundle.close()


# -- partitioned variables -------------------------------------------------------------

def _partitioned(tmp_path, full_shape, parts, slices, dtype=1, part_dtype=None, extra=()):
    """A partitioned tensor 'p': `parts` are (extents, array) stored under their slice keys."""
    from app.formats.ordered_code import slice_key
    data, entries = bytearray(), []
    for extents, arr in parts:
        key = slice_key(b"p", [(s, -1 if n is None else n) for s, n in extents])
        entries.append((key, entry(part_dtype or dtype, arr.shape, arr.tobytes(), offset=len(data))))
        data += arr.tobytes()
    entries.append((b"p", entry(dtype, full_shape, size=0, slices=slices)))
    return Bundle(write(tmp_path, entries + list(extra), bytes(data)))


def test_a_partitioned_tensor_reassembles(tmp_path):
    full = np.arange(24, dtype="<f4").reshape(4, 6)
    parts = [([(0, 1), (0, None)], full[:1]), ([(1, 3), (0, 2)], full[1:, :2]),
             ([(1, None), (2, 4)], full[1:, 2:])]
    bundle = _partitioned(tmp_path, (4, 6), parts, [p[0] for p in parts])
    info = bundle.tensors["p"]
    assert (info.partitioned, info.shape, info.nbytes, info.problem) == (True, (4, 6), 96, None)
    assert list(bundle.tensors) == ["p"]
    np.testing.assert_array_equal(bundle.read("p"), full)
    assert bundle.read("p").dtype == np.float32
    assert [(r.starts, r.lengths) for r in bundle.extents("p")] == [
        ((0, 0), (1, 6)), ((1, 0), (3, 2)), ((1, 2), (3, 4))]
    flat = np.concatenate(list(bundle.chunks("p", 8)))
    assert flat.tolist() == full[:1].ravel().tolist() + full[1:, :2].ravel().tolist() + \
        full[1:, 2:].ravel().tolist()
    bundle.verify("p")


def test_a_slice_without_extents_is_the_whole_tensor(tmp_path):
    full = np.arange(6, dtype="<i4").reshape(2, 3)
    from app.formats.ordered_code import slice_key
    bundle = Bundle(write(tmp_path, [
        (slice_key(b"p", [(0, -1), (0, -1)]), entry(3, (2, 3), full.tobytes())),
        (b"p", entry(3, (2, 3), size=0, slices=[()]))], full.tobytes()))
    assert bundle.tensors["p"].problem is None
    np.testing.assert_array_equal(bundle.read("p"), full)


@pytest.mark.parametrize("parts, slices, problem", [
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(0, 2)]], "slices cover 2 of 4 elements"),
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(0, 2), (0, 1)]], "a slice's rank differs from the tensor's"),
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(3, 2)]], "a slice lies outside the tensor"),
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(-1, 2)]], "a slice lies outside the tensor"),
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(0, -2)]], "a slice lies outside the tensor"),
    ([([(0, 2)], np.zeros(2, "<f4"))], [[(0, 2)], [(2, 2)]],
     "a slice of this partitioned variable is missing from the index"),
    ([([(0, 4)], np.zeros(3, "<f4"))], [[(0, 4)]], "a slice's shape or dtype disagrees with the tensor's"),
])
def test_partitioned_tensors_that_lie(tmp_path, parts, slices, problem):
    bundle = _partitioned(tmp_path, (4,), parts, slices)
    assert bundle.tensors["p"].problem == problem
    with pytest.raises(FormatError) as err:
        bundle.read("p")
    assert err.value.problem == f"p: {problem}"


def test_a_slice_of_another_dtype_or_unknown_rank(tmp_path):
    bundle = _partitioned(tmp_path, (2,), [([(0, 2)], np.zeros(2, "<i4"))], [[(0, 2)]], part_dtype=3)
    assert bundle.tensors["p"].problem == "a slice's shape or dtype disagrees with the tensor's"
    from app.formats.ordered_code import slice_key
    key = slice_key(b"p", [(0, 2)])
    bundle = Bundle(write(tmp_path, [(key, entry(1, (2,), size=8, unknown_rank=True)),
                                     (b"p", entry(1, (2,), size=0, slices=[[(0, 2)]]))], b"\x00" * 8))
    assert bundle.tensors["p"].problem == "slice: unknown rank"


def test_a_corrupt_slice_is_never_handed_out(tmp_path):
    full = np.arange(4, dtype="<f4")
    bundle = _partitioned(tmp_path, (4,), [([(0, 2)], full[:2]), ([(2, 2)], full[2:])],
                          [[(0, 2)], [(2, 2)]])
    raw = bytearray((tmp_path / DATA).read_bytes())
    raw[12] ^= 1
    (tmp_path / DATA).write_bytes(bytes(raw))
    for call in (bundle.read, bundle.verify, lambda n: list(bundle.chunks(n))):
        with pytest.raises(CorruptDataError, match="'p'"):
            call("p")


# -- pre-0.11 (V1) checkpoints ---------------------------------------------------------

def _v1_file(path, metas, slices) -> str:
    """A V1 table: `metas` are (name, dtype, shape, [extents per slice]) for its tensor list,
    `slices` (name, extents, TensorProto field, values) its stored slices. Extents are
    (start, length or None) per dimension; [] is the whole tensor."""
    from app.formats.ordered_code import slice_key
    meta = protos.SavedTensorSlices()
    for name, dtype, shape, slice_list in metas:
        t = meta.meta.tensor.add(name=name, type=dtype)
        if shape is None:
            t.shape.unknown_rank = True
        for d in shape or ():
            t.shape.dim.add(size=d)
        for extents in slice_list:
            s = t.slice.add()
            for start, length in extents:
                ext = s.extent.add(start=start)
                if length is not None:
                    ext.length = length
    entries = [(b"", meta.SerializeToString())]
    for name, extents, field, values in slices:
        saved = protos.SavedTensorSlices()
        saved.data.name = name
        getattr(saved.data.data, field).extend(values)
        key = extents if isinstance(extents, bytes) else \
            slice_key(name.encode(), [(s, -1 if n is None else n) for s, n in extents])
        entries.append((key, saved.SerializeToString()))
    path.write_bytes(table_bytes(entries))
    return str(path)


def test_v1_checkpoint_over_two_files(tmp_path):
    from app.formats.v1 import V1Checkpoint, is_v1_file
    a = _v1_file(tmp_path / "m-00000-of-00002", [("w", 1, [4], [[(0, 2)]]), ("s", 7, [2], [[]])],
                 [("w", [(0, 2)], "float_val", [1, 2]), ("s", [(0, None)], "string_val", [b"x", b"y"])])
    b = _v1_file(tmp_path / "m-00001-of-00002", [("w", 1, [4], [[(2, None)]]), ("b", 10, [2, 2], [[]])],
                 [("w", [(2, None)], "float_val", [3, 4]), ("b", [], "bool_val", [True, False, False, True])])
    assert is_v1_file(a) and is_v1_file(b)
    ckpt = V1Checkpoint([a, b])
    assert (ckpt.prefix, ckpt.index_path, ckpt.data_files, ckpt.missing_shards) == (a, a, [a, b], [])
    assert not ckpt.big_endian and ckpt.object_graph_problem is None
    w = ckpt.tensors["w"]
    assert (w.name, w.display_name) == ("w", "w")
    assert (w.shape, w.nbytes, w.partitioned, w.problem, w.dtype_name) == ((4,), 16, True, None, "float32")
    assert ckpt.tensors["s"].nbytes == 0 and not ckpt.tensors["s"].partitioned
    assert ckpt.tensors["b"].nbytes == 4
    assert ckpt.read("w").tolist() == [1, 2, 3, 4] and ckpt.read("w").dtype == np.float32
    assert ckpt.read("s").tolist() == [b"x", b"y"]
    assert ckpt.read("b").tolist() == [[True, False], [False, True]]
    assert [c.tolist() for c in ckpt.chunks("w")] == [[1, 2, 3, 4]]
    assert [(r.starts, r.lengths) for r in ckpt.extents("b")] == [((0, 0), (2, 2))]
    with pytest.raises(FormatError) as err:
        list(ckpt.chunks("s"))
    assert (err.value.path, err.value.problem) == (a, "s: string tensors have no numeric chunks")
    ckpt.verify("w")
    ckpt.close()
    with pytest.raises(KeyError, match=f"no tensor named 'nope' in {a}"):
        ckpt.info("nope")


def test_v1_tensors_that_cannot_be_read(tmp_path):
    from app.formats.v1 import V1Checkpoint
    path = _v1_file(tmp_path / "m", [("u", 1, [-1, 2], [[]]), ("r", 1, None, [[]]), ("h", 20, [1], [[]]),
                                     ("gone", 1, [2], [[]]), ("out", 1, [2], [[(1, 2)]]),
                                     ("neg", 1, [2], [[(-100, 1)]]), ("bad", 1, [2], [[]]),
                                     ("none", 1, [2], []), ("few", 1, [3], [[]]),
                                     ("half", 1, [4], [[(0, 2)]]), ("twice", 1, [2], [[], [(1, 1)]]),
                                     ("rank", 1, [2, 2], [[(0, 2)]]), ("z", 1, [3, 0], [[]])],
                    [("out", [(1, 2)], "float_val", [1, 2]),
                     # OrderedCode of ("neg", start -100, length 1): its 2-byte negative start
                     ("neg", b"\x00neg\x00\x01\x01\x01?\x9c\x81", "float_val", [1]),
                     ("bad", [], "float_val", [1, 2, 3]), ("few", [], "float_val", [5]),
                     ("half", [(0, 2)], "float_val", [1, 2]), ("twice", [], "float_val", [1, 2]),
                     ("twice", [(1, 1)], "float_val", [9]), ("rank", [(0, 2)], "float_val", [1, 2]),
                     ("z", [], "float_val", [])])
    ckpt = V1Checkpoint([path])
    assert ckpt.tensors["u"].problem == "unknown shape" and ckpt.tensors["u"].nbytes == 0
    assert ckpt.tensors["r"].problem == "unknown shape" and ckpt.tensors["r"].shape == ()
    assert ckpt.tensors["h"].problem == "tensors of dtype resource cannot be read"
    for name in ("u", "r", "h"):
        with pytest.raises(FormatError, match=f"^{path}: {name}: "):
            ckpt.read(name)
    for name, why in (("gone", "a saved slice is missing"), ("out", "a slice lies outside the tensor"),
                      ("neg", "a slice lies outside the tensor"),
                      ("bad", "slice data does not decode (tensor holds 3 values for 2 elements)"),
                      ("none", "no saved slices"), ("half", "slices cover 2 of 4 elements"),
                      ("twice", "slices cover 3 of 2 elements"),
                      ("rank", "a slice's rank differs from the tensor's")):
        with pytest.raises(FormatError) as err:
            ckpt.read(name)
        assert (err.value.path, err.value.problem) == (path, f"{name}: {why}")
    assert ckpt.read("z").shape == (3, 0)
    assert ckpt.read("few").tolist() == [5, 5, 5]   # TensorFlow repeats the last value


def test_v1_files_that_are_not_checkpoints(tmp_path):
    from app.formats.v1 import V1Checkpoint, is_v1_file
    empty = _v1_file(tmp_path / "empty", [], [])
    with pytest.raises(FormatError) as err:
        V1Checkpoint([empty])
    assert (err.value.path, err.value.problem) == (empty, "not a checkpoint: the table lists no tensors")
    (tmp_path / "bad").write_bytes(table_bytes([(b"", b"\xff\xff")]))
    with pytest.raises(FormatError) as err:
        V1Checkpoint([str(tmp_path / "bad")])
    assert err.value.path == str(tmp_path / "bad")
    assert err.value.problem == "malformed V1 checkpoint: its tensor list does not parse"
    (tmp_path / "m.index").write_bytes((tmp_path / "empty").read_bytes())
    (tmp_path / "short").write_bytes(MAGIC[1:])
    assert not is_v1_file(str(tmp_path / "m.index")) and not is_v1_file(str(tmp_path / "short"))
    assert not is_v1_file(str(tmp_path / "absent")) and not is_v1_file(str(tmp_path))


# -- errors and files ------------------------------------------------------------------

def test_error_messages_name_the_file():
    from app.formats.errors import ModelsBelow, WriteError
    e = FormatError("a/b.index", "is broken")
    assert (str(e), e.path, e.problem) == ("a/b.index: is broken", "a/b.index", "is broken")
    e = FormatError(None, "is broken")
    assert (str(e), e.path) == ("is broken", None)
    assert FormatError(tmp := __import__("pathlib").Path("x/y"), "p").path == str(tmp)
    e = FormatError("https://user:secret@host/m.index?sig=abc", "is broken")
    assert "secret" not in str(e) and "sig=abc" not in str(e) and "host/m.index" in str(e)
    e = ModelsBelow("runs", ["a", "b/c"])
    assert e.below == ["a", "b/c"] and e.path == "runs"
    assert str(e) == "runs: no model in this folder itself; found in: a, b/c"
    assert isinstance(WriteError("o", "full"), FormatError)
    assert isinstance(CorruptDataError("o", "bad"), FormatError)


def test_small_files_and_tails(tmp_path):
    from app.formats.files import read_small_file, read_tail, regular_file_size
    f = tmp_path / "f"
    f.write_bytes(b"0123456789")
    assert regular_file_size(str(f)) == 10
    assert read_small_file(str(f), limit=10) == b"0123456789"
    with pytest.raises(FormatError) as err:
        read_small_file(str(f), limit=9)
    assert (err.value.path, err.value.problem) == (str(f), "is 10 bytes, too large for this kind of file")
    assert read_tail(str(f), 3) == b"789" and read_tail(str(f), 10) == b"0123456789"
    assert read_tail(str(f), 50) == b"0123456789" and read_tail(str(f), 0) == b""
    for call in (read_small_file, lambda p: read_tail(p, 4)):
        with pytest.raises(FormatError, match="is a folder"):
            call(str(tmp_path))
        with pytest.raises(FormatError, match="file not found"):
            call(str(tmp_path / "nope"))


def _resident_kb(path: str) -> int:
    """How much of `path` is mapped into this process right now (Linux's smaps)."""
    total, current = 0, None
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                current = fields[5] if len(fields) > 5 else None
            elif fields[0] == "Rss:" and current == path:
                total += int(fields[1])
    return total


@pytest.mark.skipif(not hasattr(mmap_module := __import__("mmap"), "MADV_DONTNEED")
                    or not __import__("os").path.exists("/proc/self/smaps"),
                    reason="page release is measured through Linux's /proc/self/smaps")
def test_streaming_gives_pages_back_so_memory_stays_flat(tmp_path):
    a = np.arange(2 << 20, dtype="<f4")    # 8 MB
    prefix = write(tmp_path, [(b"a", entry(1, a.shape, a.tobytes()))], a.tobytes())
    del a
    bundle = Bundle(prefix)
    total, peak = 0.0, 0
    for i, chunk in enumerate(bundle.chunks("a", 1 << 18)):
        total += float(chunk[-1])
        if i % 8 == 7:
            peak = max(peak, _resident_kb(str(tmp_path / DATA)))
    assert total == sum(float(i * (1 << 16) - 1) for i in range(1, 33))
    assert 0 < peak <= 2 << 10, f"{peak} kB of the 8 MB shard stayed mapped"
    whole = bundle.read("a")   # a plain read keeps its view, of course
    assert float(whole.sum(dtype=np.float64)) > 0
    assert _resident_kb(str(tmp_path / DATA)) >= 7 << 10
    bundle.close()


def test_tensor_protos_are_expanded_up_to_two_hundred_million_elements():
    from app.formats.tensors import to_array
    proto = protos.TensorProto(dtype=1)
    proto.tensor_shape.dim.add(size=1 << 28)
    proto.tensor_content = b"\x00" * 4   # at the limit: its size is checked, nothing allocated
    with pytest.raises(ValueError) as err:
        to_array(proto)
    assert str(err.value) == "tensor_content size does not match the shape"
    proto.tensor_shape.dim[0].size = (1 << 28) + 1
    with pytest.raises(ValueError) as err:
        to_array(proto)
    assert str(err.value) == "tensor declares 268435457 elements, more than this viewer expands"


# -- shards at a URL --------------------------------------------------------------------

@pytest.fixture
def served(tmp_path, monkeypatch):
    """tmp_path/site served over HTTP on 127.0.0.1 (Range honoured); yields (folder, URL, faults)."""
    from app.formats import remote
    from .remote_servers import web_server
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "5")
    remote.reset()
    with web_server(site) as (url, faults):
        yield site, url, faults
    remote.reset()


def test_remote_shards_stream_and_check_as_local_ones(served):
    site, url, faults = served
    a = np.arange(1000, dtype="<f4")
    h = np.array([0.5, -1.5, 2.0], ">f2")
    from app.formats.ordered_code import slice_key
    p = np.array([5, 6, 7, 8], "<i4")
    write(site, [(b"a", entry(1, (10, 100), a.tobytes())), (b"e", entry(1, (0,), b"", offset=4000)),
                 (b"p", entry(3, (4,), size=0, slices=[[(0, 2)], [(2, 2)]])),
                 (slice_key(b"p", [(0, 2)]), entry(3, (2,), p[:2].tobytes(), offset=4000)),
                 (slice_key(b"p", [(2, 2)]), entry(3, (2,), p[2:].tobytes(), offset=4008)),
                 (b"r", entry(3, (2,), b"\x01\x00\x00\x00\x02\x00\x00\x00", offset=4016))],
          a.tobytes() + p.tobytes() + b"\x01\x00\x00\x00\x02\x00\x00\x00")
    write(site, [(b"h", entry(19, (3,), h.tobytes())), (b"u", entry(4, (2,), b"\x07\x09", offset=6))],
          h.tobytes() + b"\x07\x09", endianness=1, name="be")
    faults.corrupt = ".data-"   # the server flips a byte of every range it sends
    for reader, name in ((Bundle(f"{url}/m"), "a"), (Bundle(f"{url}/be"), "h")):
        for call in (reader.read, reader.verify, lambda n: list(reader.chunks(n, 256))):
            with pytest.raises(CorruptDataError) as err:
                call(name)
            assert err.value.path.startswith(url)
            assert err.value.problem == f"tensor '{name}' fails its crc32c check (data corrupt)"
    faults.corrupt = ""
    from app.formats.files import read_tail
    assert read_tail(f"{url}/m.index", 8) == MAGIC
    far, far_be = Bundle(f"{url}/m"), Bundle(f"{url}/be")
    assert far.data_files == [f"{url}/{DATA}"] and far_be.big_endian
    chunks = [c.copy() for c in far.chunks("a", 256)]
    assert [len(c) for c in chunks] == [64] * 15 + [40]
    assert np.concatenate(chunks).tolist() == a.tolist()
    ranges = faults.ranges
    assert np.concatenate(list(far.chunks("a", 256))).tolist() == a.tolist()
    assert faults.ranges == ranges   # checked good, the streamed bytes were kept on disk
    assert far.read("a").tolist() == a.reshape(10, 100).tolist()
    assert list(far.chunks("e")) == [] and far.read("e").shape == (0,)
    assert [c.tolist() for c in far.chunks("p")] == [[5, 6], [7, 8]] and far.read("p").tolist() == p.tolist()
    got = list(far_be.chunks("h", 2))
    assert [c.tolist() for c in got] == [[0.5], [-1.5], [2.0]] and got[0].dtype.isnative
    assert far_be.read("h").tolist() == [0.5, -1.5, 2.0]
    bytes_ = list(far_be.chunks("u"))   # one-byte values need no swapping: nothing copied
    assert [c.tolist() for c in bytes_] == [[7, 9]] and not bytes_[0].flags.owndata
    far.verify("a")
    far_be.verify("h")
    assert far.read("r").tolist() == [1, 2]
    ranges = faults.ranges
    assert far.read("r").tolist() == [1, 2] and faults.ranges == ranges   # kept once checked


def test_a_tensor_larger_than_one_crc_step(tmp_path):
    """Plain reads checksum 16 MiB at a time: the crc runs on over every step."""
    a = np.arange((16 << 18) + 3, dtype="<f4")   # 16 MiB and 12 bytes
    bundle = Bundle(write(tmp_path, [(b"a", entry(1, a.shape, a.tobytes()))], a.tobytes()))
    assert bundle.read("a")[-1] == a[-1]
    bundle.close()
