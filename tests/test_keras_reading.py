"""Reading values out of Keras HDF5 files, and what the reader says when HDF5 cannot:
closed readers, damaged chunks, datasets whose storage the file cannot hold, files another
process holds open, and the dtypes and names HDF5 gives. Every file is written here with
h5py (the oracle for the values); no Keras runs."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

from .conftest import require, write_zip

h5py = require("h5py")
ml_dtypes = require("ml_dtypes")

from app.formats.errors import FormatError  # noqa: E402
from app.formats.keras import KerasFile  # noqa: E402


def _keras2(path, layers, root=None, **attrs):
    """A Keras 2 layout: layers = {layer: {weight name: array or (shape, dtype, kwargs)}}."""
    with h5py.File(path, "w") as f:
        top = f.create_group(root) if root else f
        for k, v in attrs.items():
            f.attrs[k] = v
        top.attrs["layer_names"] = np.array([n.encode() for n in layers], dtype="S")
        for lname, weights in layers.items():
            g = top.create_group(lname)
            g.attrs["weight_names"] = np.array([w.encode() for w in weights], dtype="S")
            for w, value in weights.items():
                if isinstance(value, tuple):
                    shape, dtype, kw = value
                    g.create_dataset(w, shape=shape, dtype=dtype, **kw)
                else:
                    g.create_dataset(w, data=value)
    return str(path)


def _open(path):
    return KerasFile(str(path))


def _same(ours, theirs):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.tobytes() == theirs.tobytes()


# -- reading values ---------------------------------------------------------------------

def test_chunks_cut_rows_by_the_byte_budget_and_join_to_the_values(tmp_path):
    emb = np.arange(10 * 100, dtype=np.float32).reshape(10, 100)     # 400 bytes a row
    flat = np.arange(50, dtype=np.float64)                             # 1-D, 400 bytes
    small = np.arange(6, dtype=np.int32).reshape(2, 3)
    scalar = np.array(7.5, np.float32)
    tiny_rows = np.arange(100, dtype=np.int8) - 50                      # one byte a row
    one_row = np.arange(300, dtype=np.float32).reshape(1, 300)
    path = _keras2(tmp_path / "w.h5", {"d": {
        "emb:0": emb, "flat:0": flat, "small:0": small, "scalar:0": scalar,
        "bytes:0": tiny_rows, "one:0": one_row}})
    r = _open(path)
    try:
        parts = list(r.chunks("d/emb:0", chunk_bytes=100))    # budget below one row: a row each
        assert len(parts) == 10 and all(p.shape == (100,) for p in parts)
        _same(np.concatenate(parts), emb.ravel())
        parts = list(r.chunks("d/emb:0", chunk_bytes=1200))   # three rows a slab
        assert [p.size for p in parts] == [300, 300, 300, 100]
        _same(np.concatenate(parts), emb.ravel())
        parts = list(r.chunks("d/flat:0", chunk_bytes=80))    # a 1-D tensor is cut too
        assert [p.size for p in parts] == [10] * 5
        _same(np.concatenate(parts), flat)
        parts = list(r.chunks("d/bytes:0", chunk_bytes=10))
        assert [p.size for p in parts] == [10] * 10
        _same(np.concatenate(parts), tiny_rows)
        parts = list(r.chunks("d/one:0", chunk_bytes=100))    # one row larger than the budget
        assert len(parts) == 1
        _same(parts[0], one_row.ravel())
        parts = list(r.chunks("d/small:0"))                     # fits: one chunk, read whole
        assert len(parts) == 1
        _same(parts[0], small.ravel())
        parts = list(r.chunks("d/scalar:0", chunk_bytes=4))     # a scalar: one chunk
        assert len(parts) == 1
        _same(parts[0], scalar.ravel())
        parts = list(r.chunks("d/scalar:0", chunk_bytes=1))
        _same(np.concatenate(parts), scalar.ravel())
    finally:
        r.close()


def test_big_endian_datasets_read_as_native_values(tmp_path):
    value = np.arange(12, dtype=">f4").reshape(3, 4) / 3
    path = _keras2(tmp_path / "be.h5", {"d": {"k:0": value}})
    r = _open(path)
    try:
        out = r.read("d/k:0")
        assert out.dtype == np.dtype("float32") and out.dtype.isnative
        assert np.array_equal(out, value)
        parts = list(r.chunks("d/k:0", chunk_bytes=16))
        assert len(parts) == 3 and all(p.dtype.isnative for p in parts)
        assert np.array_equal(np.concatenate(parts), value.ravel())
    finally:
        r.close()


def test_a_closed_reader_says_so_on_read_and_in_the_middle_of_chunks(tmp_path):
    value = np.arange(400, dtype=np.float32).reshape(40, 10)
    path = _keras2(tmp_path / "c.h5", {"d": {"k:0": value}})
    r = _open(path)
    gen = r.chunks("d/k:0", chunk_bytes=40)
    _same(next(gen), value[0])
    r.close()
    with pytest.raises(FormatError) as e:
        next(gen)
    assert e.value.path == r.path and e.value.problem == "closed"
    assert str(e.value) == f"{r.path}: closed"
    with pytest.raises(FormatError) as e:
        r.read("d/k:0")
    assert e.value.path == r.path and e.value.problem == "closed"
    with pytest.raises(FormatError) as e:       # closed before the first slab
        list(_closed(path).chunks("d/k:0", chunk_bytes=40))
    assert e.value.problem == "closed"


def _closed(path):
    r = _open(path)
    r.close()
    return r


def _damage_first_chunk(path, name):
    with h5py.File(path, "r") as f:
        info = f[name].id.get_chunk_info(0)
    raw = bytearray(open(path, "rb").read())
    raw[info.byte_offset: info.byte_offset + info.size] = b"\xff" * info.size
    open(path, "wb").write(bytes(raw))


def test_a_damaged_compressed_chunk_is_an_error_naming_the_tensor_and_hdf5s_reason(tmp_path):
    value = np.arange(2000, dtype=np.float32).reshape(200, 10)
    path = _keras2(tmp_path / "z.h5", {"d": {
        "k:0": ((200, 10), "f4", {"chunks": (200, 10), "compression": "gzip"})}})
    with h5py.File(path, "r+") as f:
        f["d/k:0"][...] = value
    _damage_first_chunk(path, "d/k:0")
    r = _open(path)
    try:
        info = r.tensors["d/k:0"]
        assert info.problem is None and info.shape == (200, 10)   # only reading shows it
        for call in (lambda: r.read("d/k:0"), lambda: list(r.chunks("d/k:0", chunk_bytes=400))):
            with pytest.raises(FormatError) as e:
                call()
            assert e.value.path == r.path
            problem = e.value.problem
            assert problem.startswith("d/k:0: the data cannot be read (") and problem.endswith(")")
            reason = problem[len("d/k:0: the data cannot be read ("):-1]
            assert "read data" in reason.lower() and "None" not in reason   # HDF5's own words
            assert "XX" not in reason
    finally:
        r.close()


# -- what the listing alone shows ---------------------------------------------------------

def _patch_layout(path, name, address=None, size=None):
    """Rewrite a contiguous dataset's layout message (its data address and byte size)."""
    with h5py.File(path, "r") as f:
        d = f[name]
        old = struct.pack("<QQ", d.id.get_offset(), d.id.get_storage_size())
    raw = bytearray(open(path, "rb").read())
    assert raw.count(old) == 1
    at = raw.index(old)
    new_addr, new_size = struct.unpack("<QQ", old)
    raw[at: at + 16] = struct.pack("<QQ", new_addr if address is None else address,
                                   new_size if size is None else size)
    open(path, "wb").write(bytes(raw))
    return len(raw)


def test_contiguous_data_the_layout_stores_short_is_listed_as_corrupt_with_what_it_holds(tmp_path):
    """HDF5 itself refuses a contiguous dataset that runs past the end of the file (it is
    listed as unopenable); one whose layout stores fewer bytes than its shape needs opens,
    and only the reader's own check catches it."""
    a = np.arange(1000, dtype=np.float32)
    path = _keras2(tmp_path / "p.h5", {"d": {"past:0": a, "short:0": a, "zero:0": a, "ok:0": a}})
    size = len(open(path, "rb").read())
    _patch_layout(path, "d/past:0", address=size - 720)
    _patch_layout(path, "d/short:0", size=400)
    _patch_layout(path, "d/zero:0", size=0)
    r = _open(path)
    try:
        t = r.tensors
        assert t["d/past:0"].problem.startswith("cannot be opened: ")
        assert t["d/short:0"].problem == ("declares 4,000 bytes ([1000]) but the file holds 400 "
                                          "of them: truncated or corrupt")
        assert t["d/zero:0"].problem == ("declares 4,000 bytes ([1000]) but the file holds 0 "
                                         "of them: truncated or corrupt")
        assert t["d/ok:0"].problem is None
        _same(r.read("d/ok:0"), a)
        for name in ("d/past:0", "d/short:0", "d/zero:0"):
            with pytest.raises(FormatError) as e:
                r.read(name)
            assert e.value.path == r.path and name in str(e.value)
    finally:
        r.close()


def test_a_chunked_dataset_exactly_at_the_size_bound_is_not_called_too_large(tmp_path):
    path = _keras2(tmp_path / "bound.h5", {"emb": {
        "at:0": ((1 << 24, 1 << 10), "f4", {"chunks": (64, 64)}),           # 64 GiB exactly
        "over:0": ((1 << 24, (1 << 10) + 1), "f4", {"chunks": (64, 64)})}})
    r = _open(path)
    try:
        assert r.tensors["emb/at:0"].nbytes == 64 << 30
        assert r.tensors["emb/at:0"].problem is None
        assert "too large" in r.tensors["emb/over:0"].problem
    finally:
        r.close()


def test_a_dataset_with_no_dataspace_is_listed_with_its_problem_not_read_as_garbage(tmp_path):
    path = _keras2(tmp_path / "e.h5", {"d": {"empty:0": h5py.Empty("f4"),
                                             "k:0": np.ones(3, np.float32)}})
    r = _open(path)
    try:
        assert r.tensors["d/empty:0"].problem == "an empty HDF5 dataset (null dataspace): it holds no value"
        with pytest.raises(FormatError) as e:
            r.read("d/empty:0")
        assert "d/empty:0" in str(e.value)
        _same(r.read("d/k:0"), np.ones(3, np.float32))
    finally:
        r.close()


def test_a_virtual_dataset_without_storage_offset_is_read_as_hdf5_gives_it(tmp_path):
    path = tmp_path / "v.h5"
    _keras2(path, {"d": {"k:0": np.ones(2, np.float32)}})
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f["x"] = np.arange(4, dtype=np.float32)
    with h5py.File(path, "r+") as f:
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(src), "x", shape=(4,))
        f["d"].create_virtual_dataset("v:0", layout)
        f["d"].attrs["weight_names"] = np.array([b"k:0", b"v:0"])
    r = _open(path)
    try:
        assert r.tensors["d/v:0"].problem is None
        _same(r.read("d/v:0"), np.arange(4, dtype=np.float32))
    finally:
        r.close()


# -- dtypes ---------------------------------------------------------------------------

def _opaque(path, name, tag: bytes, data: np.ndarray):
    from h5py import h5d, h5s, h5t
    with h5py.File(path, "r+") as f:
        t = h5t.create(h5t.OPAQUE, data.dtype.itemsize)
        t.set_tag(tag)
        ds = h5d.create(f["d"].id, name.encode(), t, h5s.create_simple(data.shape))
        ds.write(h5s.ALL, h5s.ALL, np.ascontiguousarray(data).view(f"V{data.dtype.itemsize}"), mtype=t)


def test_bfloat16_is_named_only_when_hdf5_says_bfloat16(tmp_path):
    """An opaque type tagged as numpy's bfloat16 is listed as bfloat16; two-byte opaque
    values without that tag, and records (even with a field named so), are not tensors."""
    path = _keras2(tmp_path / "bf.h5", {"d": {}})
    bf = np.array([1.5, -2, 3], ml_dtypes.bfloat16)
    _opaque(path, "bf:0", b"NUMPY:bfloat16", bf)
    _opaque(path, "v2:0", b"", np.array([1, 2, 3], np.int16))
    with h5py.File(path, "r+") as f:
        f["d"].create_dataset("rec:0", data=np.zeros(2, [("bfloat16", "i1"), ("b", "i1")]))
        f["d"].attrs["weight_names"] = np.array([b"bf:0", b"v2:0", b"rec:0"])
    r = _open(path)
    try:
        t = r.tensors
        assert t["d/bf:0"].dtype is not None and t["d/bf:0"].dtype.name == "bfloat16"
        assert t["d/bf:0"].shape == (3,) and t["d/bf:0"].nbytes == 6
        for name in ("d/v2:0", "d/rec:0"):
            assert t[name].dtype is None, name
            assert "is not a tensor dtype" in t[name].problem, name
    finally:
        r.close()


# -- HDF5's reasons ---------------------------------------------------------------------

def test_a_truncated_h5_says_the_file_is_truncated_with_hdf5s_words(tmp_path):
    path = _keras2(tmp_path / "t.h5", {"d": {"k:0": np.arange(1000, dtype=np.float32)}})
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(FormatError) as e:
        _open(path)
    assert e.value.path == path
    lead = "an HDF5 file that cannot be opened, truncated or corrupt (the file is truncated: "
    assert e.value.problem.startswith(lead)
    assert "truncated file: eof = " in e.value.problem


def test_an_archive_whose_weights_are_not_hdf5_says_so(tmp_path):
    path = str(write_zip(tmp_path / "m.keras", {"config.json": "{}",
                                                "model.weights.h5": b"this is not an HDF5 file at all " * 64}))
    with pytest.raises(FormatError) as e:
        _open(path)
    assert e.value.path == path
    lead = "an HDF5 file that cannot be opened, truncated or corrupt (not an HDF5 file: "
    assert e.value.problem.startswith(lead)
    assert "file signature not found" in e.value.problem


def test_an_hdf5_file_without_keras_weights_is_refused_by_name(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.ones(3)
    with pytest.raises(FormatError) as e:
        _open(path)
    assert e.value.path == str(path)
    assert e.value.problem == ("an HDF5 file without Keras weights (no layer_names attribute "
                               "and no layers group)")


def test_keras3_weights_with_only_top_level_variables_are_read(tmp_path):
    path = tmp_path / "top.weights.h5"
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    with h5py.File(path, "w") as f:
        g = f.create_group("vars")
        g.attrs["name"] = "my_model"
        g["0"] = value
    r = _open(path)
    try:
        assert r.layout == "keras3"
        assert list(r.tensors) == ["vars/0"]
        assert r.tensors["vars/0"].display_name == "my_model/vars/0"
        _same(r.read("vars/0"), value)
    finally:
        r.close()


def test_a_model_config_that_is_not_json_is_an_error_with_the_json_reason(tmp_path):
    path = _keras2(tmp_path / "cfg.h5", {"d": {"k:0": np.ones(2)}}, root="model_weights",
                   model_config="{not json")
    with pytest.raises(FormatError) as e:
        _open(path)
    assert e.value.path == path
    assert e.value.problem.startswith("the HDF5 structure cannot be read (Expecting property name")
    assert "line 1 column 2" in e.value.problem


# -- a file another process is writing ---------------------------------------------------

def test_a_file_another_process_holds_open_for_writing_is_still_read(tmp_path):
    """Keras writing a checkpoint holds an HDF5 write lock: the browser opens without
    locking, so it can look while training runs."""
    value = np.arange(8, dtype=np.float32)
    path = _keras2(tmp_path / "busy.h5", {"d": {"k:0": value}})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, h5py; f = h5py.File(sys.argv[1], 'a', locking=True); "
                               "print('open', flush=True); sys.stdin.read()", path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(OSError, match="lock"):     # the lock is real: a locking reader fails
            h5py.File(path, "r", locking=True).close()
        r = _open(path)
        try:
            _same(r.read("d/k:0"), value)
        finally:
            r.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


# -- Keras 2 weight paths and keys ---------------------------------------------------------

@pytest.mark.parametrize("layer, weight, path", [
    ("lstm", "lstm_1/lstm_cell/kernel:0", "lstm/lstm_cell/kernel"),   # made in another scope
    ("lstm", "lstm/lstm_cell/kernel:0", "lstm/lstm_cell/kernel"),
    ("conv2d_3", "conv2d_3_1/kernel:0", "conv2d_3/kernel"),
    ("d", "dXX/XXk:0", "d/XXk"),
    ("d", "kernel:0", "d/kernel"),
])
def test_keras2_weight_paths_sit_under_their_layer(tmp_path, layer, weight, path):
    file = _keras2(tmp_path / "p.h5", {layer: {weight: np.ones(2, np.float32)}})
    r = _open(file)
    try:
        assert [t.display_name for t in r.tensors.values()] == [path]
    finally:
        r.close()


@pytest.mark.parametrize("root", [None, "model_weights"])
def test_keras2_keys_are_the_hdf5_paths_also_for_names_starting_with_x(tmp_path, root):
    value = np.arange(3, dtype=np.float32)
    file = _keras2(tmp_path / "x.h5", {"Xception_block": {"XX/kernel:0": value}}, root=root)
    r = _open(file)
    key = f"{root + '/' if root else ''}Xception_block/XX/kernel:0"
    try:
        assert list(r.tensors) == [key]
        _same(r.read(key), value)
        with h5py.File(file, "r", locking=False) as f:
            _same(r.read(key), f[key][()])
    finally:
        r.close()


def test_a_damaged_chunk_index_leaves_the_file_open_and_reading_that_tensor_says_why(tmp_path):
    """HDF5 opens a chunked dataset whose chunk index is damaged, but cannot tell its
    storage size: the rest of the file still lists and reads; reading that tensor fails."""
    path = str(tmp_path / "tree.h5")
    ok = np.ones(3, np.float32)
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["layer_names"] = np.array([b"d"])
        g = f.create_group("d")
        g.attrs["weight_names"] = np.array([b"k:0", b"ok:0"])
        g.create_dataset("k:0", data=np.arange(100, dtype=np.float32).reshape(10, 10), chunks=(2, 10))
        g.create_dataset("ok:0", data=ok)
    raw = bytearray(open(path, "rb").read())
    assert raw.count(b"TREE\x01") == 1          # the v1 B-tree node of the chunk index
    at = raw.index(b"TREE\x01")
    raw[at: at + 4] = b"BAD!"
    open(path, "wb").write(bytes(raw))
    r = _open(path)
    try:
        assert r.tensors["d/k:0"].shape == (10, 10)
        _same(r.read("d/ok:0"), ok)
        with pytest.raises(FormatError) as e:
            r.read("d/k:0")
        assert e.value.path == r.path and "B-tree signature" in e.value.problem
        assert "not an HDF5 file" not in e.value.problem    # the file is HDF5; one index is bad
    finally:
        r.close()


def test_a_layer_name_that_points_elsewhere_is_caught_when_read_shapes_disagree(tmp_path):
    """A hostile `layer_names` entry with a leading slash names a group outside
    `model_weights` for the listing, while the key (HDF5 folds the double slash) reads the
    one inside: the shapes disagree and the read says so rather than serve other data."""
    path = str(tmp_path / "elsewhere.h5")
    with h5py.File(path, "w") as f:
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"/x"])
        outside = f.create_group("x")
        outside.attrs["weight_names"] = np.array([b"w:0"])
        outside["w:0"] = np.ones(2, np.float32)
        mw.create_group("x")["w:0"] = np.zeros(3, np.float32)
    r = _open(path)
    try:
        (key,) = r.tensors
        assert r.tensors[key].shape == (2,)
        with pytest.raises(FormatError) as e:
            r.read(key)
        assert e.value.path == r.path
        assert e.value.problem == f"{key}: read [3], listed as [2]"
    finally:
        r.close()
