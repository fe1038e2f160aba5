"""Every reader implements formats/reader.TensorReader, and keeps its promises: the
chunks of a tensor, laid into its extents, are exactly the bytes `read` returns."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from app.formats.bundle import Bundle  # noqa: E402
from app.formats.errors import FormatError  # noqa: E402
from app.formats.graph import load_graph  # noqa: E402
from app.formats.model import ConstReader, open_checkpoint, open_path  # noqa: E402
from app.formats.reader import Region, TensorReader  # noqa: E402
from app.formats.v1 import V1Checkpoint  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402

CHUNK = 256   # bytes: every tensor below spans several chunks


def _values():
    rng = np.random.RandomState(3)
    return {"plain": rng.standard_normal((60, 70)).astype(np.float32),
            "ints": np.arange(500, dtype=np.int64).reshape(5, 100),
            "part": rng.standard_normal((8, 50)).astype(np.float32)}


def _bundle(folder):
    v = _values()
    names = ["plain", "ints", "part", "part"]
    specs = ["", "", "8 50 0,3:-", "8 50 3,5:-"]   # "part": stored as two slices
    tensors = [v["plain"], v["ints"], v["part"][:3], v["part"][3:]]
    tf.raw_ops.SaveV2(prefix=str(folder / "bundle"), tensor_names=names,
                      shape_and_slices=specs, tensors=[tf.constant(t) for t in tensors])
    return open_checkpoint(open_path(str(folder / "bundle")).selected)


def _v1(folder):
    # written in a session: a cached builder, so forked mutation runs can use it too
    model = open_path(str(fx.v1_format(folder).prefix))
    assert model.selected.format == "v1"
    return open_checkpoint(model.selected)


def _consts(folder):
    v = _values()
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(v["plain"], name="plain")
        tf.constant(v["ints"].astype(np.float64), name="wide")
    tf.io.write_graph(graph.as_graph_def(), str(folder), "frozen.pb", as_text=False)
    return ConstReader(load_graph(str(folder / "frozen.pb")))


def _keras(folder):
    import h5py
    v = _values()
    with h5py.File(folder / "model.h5", "w") as f:   # Keras 2's HDF5 layout
        f.attrs["layer_names"] = np.array([b"dense"])
        g = f.create_group("dense")
        g.attrs["weight_names"] = np.array([b"dense/plain:0", b"dense/ints:0"])
        g.create_dataset("dense/plain:0", data=v["plain"])
        g.create_dataset("dense/ints:0", data=v["ints"])
    return open_checkpoint(open_path(str(folder / "model.h5")).selected)


@pytest.fixture(scope="module")
def readers(tmp_path_factory):
    root = tmp_path_factory.mktemp("readers")
    made = {}
    for kind, make in (("bundle", _bundle), ("v1", _v1), ("const", _consts), ("keras", _keras)):
        folder = root / kind
        folder.mkdir()
        made[kind] = make(folder)
    yield made
    for r in made.values():
        r.close()


def test_each_reader_class_declares_the_interface(readers):
    assert isinstance(readers["bundle"], Bundle) and isinstance(readers["v1"], V1Checkpoint)
    for kind, reader in readers.items():
        assert isinstance(reader, TensorReader), kind
        assert TensorReader in type(reader).__mro__, f"{kind}: implements it explicitly"
        assert reader.tensors and reader.missing_shards == [], kind
        assert reader.object_graph_problem is None and reader.prefix and reader.index_path
        assert reader.data_files, kind


def test_a_reader_without_read_cannot_be_made():
    class Half(TensorReader):
        pass
    with pytest.raises(TypeError):
        Half()


def _reassembled(reader, name) -> np.ndarray:
    """The tensor rebuilt from `chunks`, each chunk laid into `extents` in order."""
    info = reader.info(name)
    regions = reader.extents(name)
    flat = np.concatenate(list(reader.chunks(name, CHUNK)))
    out = np.empty(info.shape, dtype=info.dtype.numpy)
    pos = 0
    for region in regions:
        n = int(np.prod(region.lengths, dtype=np.int64))
        box = tuple(slice(s, s + k) for s, k in zip(region.starts, region.lengths))
        out[box] = flat[pos:pos + n].reshape(region.lengths)
        pos += n
    assert pos == flat.size == info.size
    return out


@pytest.mark.parametrize("kind", ["bundle", "v1", "const", "keras"])
def test_chunks_laid_into_extents_are_the_bytes_read_returns(readers, kind):
    reader = readers[kind]
    for name, info in reader.tensors.items():
        whole = reader.read(name)
        assert whole.shape == info.shape
        rebuilt = _reassembled(reader, name)
        assert rebuilt.tobytes() == np.ascontiguousarray(whole).tobytes(), f"{kind}: {name}"
        reader.verify(name)


def test_bundle_streams_in_many_chunks_and_reports_its_slices(readers):
    b = readers["bundle"]
    assert len(list(b.chunks("plain", CHUNK))) == 60 * 70 * 4 // CHUNK + 1
    assert b.extents("plain") == (Region((0, 0), (60, 70)),)
    assert b.extents("part") == (Region((0, 0), (3, 50)), Region((3, 0), (5, 50)))
    # the others read whole: one region, row-major
    assert readers["v1"].extents("plain") == (Region((0, 0), (60, 70)),)


@pytest.mark.parametrize("kind", ["bundle", "v1", "const", "keras"])
def test_unknown_names_raise_key_error_naming_the_reader(readers, kind):
    reader = readers[kind]
    with pytest.raises(KeyError, match="nope"):
        reader.info("nope")
    with pytest.raises(KeyError):
        reader.read("nope")
    with pytest.raises(KeyError):
        list(reader.chunks("nope"))


def test_a_tensor_with_a_problem_raises_format_error(readers):
    b = readers["bundle"]
    b.tensors["plain"].problem = "broken for the test"
    try:
        for call in (b.read, b.extents, lambda n: list(b.chunks(n)), b.verify):
            with pytest.raises(FormatError, match="broken for the test"):
                call("plain")
    finally:
        b.tensors["plain"].problem = None
