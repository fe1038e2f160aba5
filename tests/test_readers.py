"""The readers against TensorFlow: checkpoints written by TensorFlow in this session, every
tensor compared with tf.train.load_checkpoint exactly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import require  # noqa: E402

tf = require("tensorflow")

from app.formats.bundle import OBJECT_GRAPH_KEY, Bundle  # noqa: E402
from app.formats.errors import CorruptDataError, FormatError  # noqa: E402
from app.formats.graph import load_graph  # noqa: E402
from app.formats.model import (ConstReader, load_graphs, open_checkpoint,  # noqa: E402
                               open_path)

from . import tf_fixtures as fx  # noqa: E402
from .oracle import assert_reader_matches_tf, assert_same, tf_values  # noqa: E402


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfmodels")
    return {
        "seed": fx.seed_w1w2(root / "seed"),
        "cnn": fx.cnn_epochs(root / "cnn", epochs=4, eval_dir=root / "cnn_eval"),
        "v1": fx.v1_variants(root / "v1"),
        "dtypes": fx.all_dtypes(root / "dtypes"),
        "keras": fx.tf2_keras(root / "keras"),
        "saved": fx.saved_models(root / "saved"),
        "graphs": fx.graphs(root / "graphs"),
    }


# -- bundles --------------------------------------------------------------------------

def test_every_dtype_reads_exactly(built):
    d = built["dtypes"]
    for prefix, values in ((d.prefix, d.values), (d.exotic_prefix, d.exotic_values)):
        bundle = Bundle(str(prefix))
        assert set(bundle.tensors) == set(values)
        for key, value in values.items():
            assert_same(bundle.read(key), value, key)
        assert_reader_matches_tf(tf, bundle, str(prefix))


def test_dtype_names_are_tensorflows(built):
    d = built["dtypes"]
    bundle = Bundle(str(d.prefix))
    for key, name in d.dtype_names.items():
        assert bundle.tensors[key].dtype_name == tf.dtypes.as_dtype(name).name


def test_dtype_table_widths_and_numpy_types_agree_with_tensorflow():
    """The listing sizes tensors from the table's widths without numpy; each must be the
    width of the numpy type values are read as, and of TensorFlow's own numpy type."""
    from app.formats import dtypes
    checked = 0
    for enum, d in dtypes.BY_ENUM.items():
        if not d.is_array:
            assert d.numpy is None and d.itemsize is None
            continue
        if d.is_string:
            assert d.numpy == np.dtype(object) and d.itemsize is None
            continue
        assert d.numpy.itemsize == d.width, d.name
        try:
            theirs = tf.dtypes.as_dtype(enum)
        except TypeError:
            continue  # a type this TensorFlow does not know (int2, uint2)
        assert theirs.name == d.name
        assert np.dtype(theirs.as_numpy_dtype).itemsize == d.width, d.name
        checked += 1
    assert checked >= 25


def test_variant_tensor_is_listed_but_not_readable(built):
    d = built["dtypes"]
    bundle = Bundle(str(d.variant_prefix))
    info = bundle.tensors[d.variant_key]
    assert info.dtype_name == "variant" and info.problem
    with pytest.raises(FormatError, match="variant"):
        bundle.read(d.variant_key)


def test_reads_are_memory_mapped_views(built):
    bundle = Bundle(str(built["dtypes"].prefix))
    key = next(k for k, t in bundle.tensors.items() if t.dtype_name == "float32" and t.size > 1)
    value = bundle.read(key)
    assert not value.flags.writeable and not value.flags.owndata


def test_streamed_chunks_cover_the_tensor(built):
    bundle = Bundle(str(built["dtypes"].prefix))
    for key, t in bundle.tensors.items():
        if t.dtype.is_string:
            continue
        pieces = [c.copy() for c in bundle.chunks(key, chunk_bytes=16)]
        joined = np.concatenate(pieces) if pieces else np.empty(0, t.dtype.numpy)
        assert joined.tobytes() == np.ascontiguousarray(bundle.read(key)).tobytes(), key


@pytest.mark.parametrize("variant", ["sharded", "custom_names", "partitioned", "resource"])
def test_tf1_saver_variants(built, variant):
    ckpt = getattr(built["v1"], variant)
    model = open_path(str(ckpt.prefix) + ".index")
    reader = open_checkpoint(model.selected)
    assert model.selected.prefix == str(ckpt.prefix)
    assert assert_reader_matches_tf(tf, reader, str(ckpt.prefix)) == len(ckpt.values)
    for key, value in ckpt.values.items():
        assert_same(reader.read(key), value, key)


def test_sharded_saver_lists_every_data_file(built):
    v = built["v1"]
    model = open_path(str(v.sharded.dir))
    assert len(model.selected.data_files) == v.sharded_num_shards == 2


def test_partitioned_variables_appear_once_with_full_shape(built):
    v = built["v1"]
    reader = open_checkpoint(open_path(str(v.partitioned.dir)).selected)
    for key, parts in v.partitions.items():
        info = reader.tensors[key]
        assert info.partitioned and info.shape == v.partitioned.values[key].shape
        assert sum(int(np.prod(shape)) for _n, shape in parts) == info.size
    assert not any(name.startswith("\x00") for name in reader.tensors)


def test_saver_dict_names_map_ops_to_their_keys(built):
    v = built["v1"]
    graph = load_graph(str(v.custom_names.meta))
    keys = graph.checkpoint_keys()
    for key, op in v.custom_names_map.items():
        assert keys[op] == key


def test_state_file_with_paths_of_another_machine(built):
    v = built["v1"]
    model = open_path(str(v.abs_paths.dir))
    names = [c.prefix for c in model.checkpoints]
    assert names == [str(p) for p in v.abs_paths_prefixes]
    assert model.selected.prefix == str(v.abs_paths_prefixes[-1]) and model.selected.latest
    assert all(c.on_disk for c in model.checkpoints) and not model.problems


def test_tf2_sharding_policy_slices_are_reassembled(built):
    k = built["keras"]
    reader = open_checkpoint(open_path(str(k.sharded_policy.prefix) + ".index").selected)
    assert len(reader.data_files) == k.sharded_num_shards
    for key in k.sliced_keys:
        assert reader.tensors[key].partitioned
    assert_reader_matches_tf(tf, reader, str(k.sharded_policy.prefix))


# -- runs -----------------------------------------------------------------------------

def test_epoch_run_with_meta_written_once(built):
    c = built["cnn"]
    model = open_path(str(c.dir))
    assert model.kind == "run"
    assert [ck.step for ck in model.checkpoints] == c.epochs
    assert all(ck.meta == str(c.meta) for ck in model.checkpoints)
    assert [ck.latest for ck in model.checkpoints] == [False] * (len(c.epochs) - 1) + [True]
    for ck, expected in zip(model.checkpoints, c.checkpoints):
        reader = open_checkpoint(ck)
        for key, value in expected.values.items():
            assert_same(reader.read(key), value, key)


@pytest.mark.parametrize("which", ["index", "data", "meta", "state", "prefix", "folder"])
def test_any_file_of_a_checkpoint_finds_it(built, which):
    seed = built["seed"].checkpoint
    path = {"index": str(seed.prefix) + ".index", "data": str(seed.data_files[0]),
            "meta": str(seed.meta), "state": str(seed.state_file), "prefix": str(seed.prefix),
            "folder": str(seed.dir)}[which]
    model = open_path(path)
    assert model.kind == "run" and model.selected.prefix == str(seed.prefix)
    assert model.selected.step == 1000 and model.selected.meta == str(seed.meta)


# -- TF2 ------------------------------------------------------------------------------

def test_keras_checkpoint_readable_names_and_slots(built):
    k = built["keras"]
    model = open_path(str(k.dir))
    assert [c.step for c in model.checkpoints] == [1, 2, 3] and model.selected.step == 3
    reader = open_checkpoint(model.selected)
    assert OBJECT_GRAPH_KEY not in reader.tensors
    assert reader.tensors["optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"] \
        .display_name == "sequential/hidden/kernel"
    for path, key in k.weight_keys.items():
        assert reader.tensors[key].display_name == path
    kernel = k.weight_keys["sequential/hidden/kernel"]
    slots = {t.slot_name: t for t in reader.tensors.values() if t.slot_of == kernel}
    assert set(slots) == {"momentum", "velocity"}
    assert_reader_matches_tf(tf, reader, str(k.checkpoints[-1].prefix))


def test_module_checkpoint_names_are_object_paths(built):
    k = built["keras"]
    reader = open_checkpoint(open_path(str(k.module.prefix) + ".index").selected)
    names = [t.display_name for t in reader.tensors.values()]
    assert len(set(names)) == len(names)
    assert_reader_matches_tf(tf, reader, str(k.module.prefix))


# -- SavedModels and graphs -----------------------------------------------------------

@pytest.mark.parametrize("which", ["tf1", "tf2"])
def test_saved_models(built, which):
    info = getattr(built["saved"], which)
    model = open_path(str(info.dir))
    assert model.kind == "savedmodel"
    reader = open_checkpoint(model.selected)
    assert_reader_matches_tf(tf, reader, str(info.variables_prefix))
    graphs = load_graphs(model)
    assert any(info.signature in g.signatures() for g in graphs)
    sig = next(g for g in graphs if info.signature in g.signatures()).signatures()[info.signature]
    assert info.input_name in sig.inputs and info.output_name in sig.outputs
    assert info.tags == graphs[0].tags()


def test_graph_files_and_frozen_weights(built):
    g = built["graphs"]
    text, binary = load_graph(str(g.graph_pbtxt)), load_graph(str(g.graph_pb))
    assert [n.name for n in text.nodes] == [n.name for n in binary.nodes]
    frozen = load_graph(str(g.frozen_pb))
    consts = ConstReader(frozen, numeric_only=False)
    assert set(consts.tensors) == set(g.frozen_consts)
    for name, value in g.frozen_consts.items():
        assert_same(consts.read(name), value, name)
    model = open_path(str(g.frozen_pb))
    assert model.kind == "graph" and not model.checkpoints


def test_graph_alone_gives_graph_and_no_checkpoints(built):
    c = built["cnn"]
    lone = c.dir.parent / "lone_meta"
    lone.mkdir(exist_ok=True)
    target = lone / "model.meta"
    target.write_bytes(c.meta.read_bytes())
    model = open_path(str(target))
    assert model.kind == "graph" and model.checkpoints == []
    graph = load_graphs(model)[0]
    assert graph.format == "metagraph" and "accuracy" in graph.index
    assert "trainable_variables" in graph.collections()


# -- integrity ------------------------------------------------------------------------

def test_flipped_byte_is_reported_never_returned(built, tmp_path):
    src = built["dtypes"]
    for f in os.listdir(src.dir):
        if f.startswith("dtypes.") :
            (tmp_path / f).write_bytes((src.dir / f).read_bytes())
    bundle = Bundle(str(tmp_path / "dtypes"))
    key = max((t for t in bundle.tensors.values() if t.dtype_name == "float32"), key=lambda t: t.nbytes).name
    entry = bundle._raw[key.encode()]
    data = tmp_path / "dtypes.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 1] ^= 0x40
    data.write_bytes(bytes(raw))
    bundle = Bundle(str(tmp_path / "dtypes"))
    with pytest.raises(CorruptDataError, match=key):
        bundle.read(key)
    with pytest.raises(CorruptDataError):
        list(bundle.chunks(key))
    others = [k for k in bundle.tensors if k != key and not bundle.tensors[k].problem]
    for k in others:
        bundle.verify(k)


def test_slot_variables_of_the_object_graph_link_each_slot_to_its_variable(tmp_path):
    s = fx.slot_variables(tmp_path)
    assert any(node.slot_variables for node in fx.read_object_graph(s.prefix).nodes)
    model = open_path(str(s.prefix) + ".index")
    reader = open_checkpoint(model.selected)
    for name, key in s.variable_keys.items():
        assert reader.tensors[key].slot_of is None and reader.tensors[key].display_name == name
    for (name, slot), key in s.slot_keys.items():
        t = reader.tensors[key]
        assert (t.slot_of, t.slot_name) == (s.variable_keys[name], slot), key
        assert t.display_name == f"{name}/{slot}"
        assert_same(reader.read(key), s.values[key], key)


def _big_endian_copy(src_prefix, dest_prefix) -> list[str]:
    """The bundle at `src_prefix` as a big-endian machine writes it: the header says BIG and
    every numeric element's bytes are reversed (each half of a complex number on its own),
    with each entry's crc32c recomputed. String tensors are left out: their length
    checksums are native-endian words, which this copy does not model. Returns the keys."""
    import crc32c

    from app.formats import dtypes, protos
    from app.formats.crc import mask_crc
    from app.formats.table import Table

    from .tablewriter import table_bytes

    data = bytearray(open(fx._data_files(src_prefix)[0], "rb").read())
    entries, keys = [], []
    for key, value in Table(str(src_prefix) + ".index").items():
        key, value = bytes(key), bytes(value)
        if key == b"":
            header = protos.BundleHeaderProto.FromString(value)
            header.endianness = 1  # BundleHeaderProto.BIG
            entries.append((key, header.SerializeToString()))
            continue
        entry = protos.BundleEntryProto.FromString(value)
        dt = dtypes.from_enum(entry.dtype)
        if dt.is_string:
            continue
        part = np.frombuffer(bytes(data[entry.offset:entry.offset + entry.size]), np.uint8)
        width = dt.numpy.itemsize // (2 if dt.numpy.kind == "c" else 1)
        if width > 1:
            part = part.view(f"<u{width}").byteswap()
        swapped = part.tobytes()
        data[entry.offset:entry.offset + entry.size] = swapped
        entry.crc32c = mask_crc(crc32c.crc32c(swapped))
        entries.append((key, entry.SerializeToString()))
        keys.append(key.decode())
    open(str(dest_prefix) + ".index", "wb").write(table_bytes(entries))
    open(str(dest_prefix) + ".data-00000-of-00001", "wb").write(bytes(data))
    return keys


def test_a_big_endian_bundle_reads_as_tensorflow_reads_the_original(tmp_path):
    src = fx.all_dtypes(tmp_path / "src")
    theirs = tf_values(tf, str(src.prefix))
    keys = _big_endian_copy(src.prefix, tmp_path / "be")
    widths = {theirs[k].dtype.itemsize for k in keys}
    assert {1, 2, 4, 8, 16} <= widths  # bool/int8, float16/bfloat16, …, complex128
    reader = Bundle(str(tmp_path / "be"))
    assert reader.big_endian
    for key in keys:
        assert_same(reader.read(key), theirs[key], key)
        # the chunked path (statistics, verify) swaps each chunk on its own
        pieces = list(reader.chunks(key, chunk_bytes=16))
        got = np.concatenate(pieces) if pieces else np.empty(0, theirs[key].dtype)
        assert got.tobytes() == theirs[key].tobytes(), key
        reader.verify(key)


def test_slice_keys_are_the_ones_tensorflow_writes(tmp_path):
    """Every width of OrderedCode's signed numbers (1 to 10 bytes), and a name holding the
    bytes it escapes (0x00, 0xff): the keys TensorFlow gives the slices are the keys the
    reader looks up, and the partitioned tensors read back whole. Zero-size tensors let a
    dimension be as long as 2^63 - 1 without a byte of data."""
    from app.formats.ordered_code import slice_key
    from app.formats.table import Table

    full = (1 << 63) - 1
    starts = [1, 63, 64, 8191, 8192, (1 << 20) - 1, 1 << 20, 1 << 27, 1 << 34, 1 << 41,
              1 << 48, 1 << 55, (1 << 62) - 1, 1 << 62]
    names, specs, values = [], [], []
    for i, start in enumerate(starts):
        names.append(f"z{i}".encode())
        specs.append(f"{full} 0 {start},{full - start}:-")
        values.append(tf.zeros([full - start, 0]))
    # rank 128: the first rank whose count takes two bytes
    names += [b"deep", b"deep"]
    specs += [" ".join(["1"] * 127 + ["2"]) + " " + ":".join(["-"] * 127 + [part]) for part in ("0,1", "1,1")]
    values += [tf.zeros([1] * 128), tf.zeros([1] * 128)]
    odd = b"n\x00a\xffb\xff\x00"
    for spec, part in (("4 0,2", [1.0, 2.0]), ("4 2,2", [3.0, 4.0])):
        names.append(odd)
        specs.append(spec)
        values.append(tf.constant(part))
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "m"), tensor_names=names, shape_and_slices=specs,
                      tensors=values)
    written = {bytes(k) for k, _v in Table(str(tmp_path / "m.index")).items() if k.startswith(b"\x00")}
    expected = {slice_key(f"z{i}".encode(), [(start, full - start), (0, -1)])
                for i, start in enumerate(starts)}
    expected |= {slice_key(odd, [(0, 2)]), slice_key(odd, [(2, 2)])}
    expected |= {slice_key(b"deep", [(0, -1)] * 127 + [(start, 1)]) for start in (0, 1)}
    assert written == expected
    bundle = Bundle(str(tmp_path / "m"))
    assert all(t.problem is None and t.partitioned for t in bundle.tensors.values())
    assert bundle.tensors["deep"].shape == (1,) * 127 + (2,)
    assert bundle.tensors["z0"].shape == (full, 0)
    assert bundle.read(odd.decode("utf-8", "surrogateescape")).tolist() == [1, 2, 3, 4]


# -- TensorProto values (graph constants, V1 slices) ----------------------------------

_PROTO_DTYPES = ["float32", "float64", "int32", "uint8", "int16", "int8", "uint16", "int64", "bool",
                 "uint32", "uint64", "complex64", "complex128", "float16", "bfloat16", "string",
                 "qint8", "quint8", "qint32", "float8_e5m2", "float8_e4m3fn", "int4", "uint4"]


def _sample(dtype, n: int) -> np.ndarray:
    if dtype == tf.string:
        return np.array([b"", b"a\x00b", b"\xff" * 3, b"xyz", b"q", b"w"][:n], dtype=object)
    numpy = dtype.as_numpy_dtype
    if dtype.is_bool:
        return np.array([True, False, True, True, False, False][:n])
    if dtype.is_complex:
        return (np.arange(n) * (1.5 - 2.25j) - 1j).astype(numpy)
    if dtype.is_quantized:
        return np.arange(1, n + 1).astype(numpy)
    span = 7 if dtype.name in ("int4", "uint4") else 100
    low = 0 if dtype.is_unsigned or dtype.name == "uint4" else -3
    return (np.arange(n) % span + low).astype(numpy) if dtype.is_integer or dtype.name in ("int4", "uint4") \
        else (np.arange(n) * 0.75 - 1.5).astype(numpy)


@pytest.mark.parametrize("name", _PROTO_DTYPES)
def test_tensor_protos_decode_as_tensorflow_decodes_them(name):
    """Every layout a TensorProto may hold its values in (packed bytes, a repeated field,
    fewer values than elements with the last one repeated, none at all), decoded as
    TensorFlow's own make_ndarray decodes it."""
    from app.formats.tensors import to_array

    dtype = tf.dtypes.as_dtype(name)
    value = _sample(dtype, 6).reshape(2, 3)
    protos = [tf.make_tensor_proto(value, dtype=dtype)]
    # one element is held in the dtype's repeated field; two merged hold two values there …
    repeated = tf.make_tensor_proto(value.ravel()[0], dtype=dtype, shape=[1])
    assert not repeated.tensor_content, name
    repeated.MergeFrom(tf.make_tensor_proto(value.ravel()[1], dtype=dtype, shape=[1]))
    repeated.tensor_shape.ClearField("dim")
    repeated.tensor_shape.dim.add(size=5)   # … for five elements: the last one repeats
    protos += [repeated, tf.make_tensor_proto(value.ravel()[0], dtype=dtype, shape=[3])]
    empty = tf.make_tensor_proto(value[:1, :2].ravel(), dtype=dtype)
    empty.ClearField("tensor_content")
    for field in ("float_val", "double_val", "int_val", "int64_val", "bool_val", "uint32_val",
                  "uint64_val", "string_val", "scomplex_val", "dcomplex_val", "half_val",
                  "float8_val"):
        if empty.DESCRIPTOR.fields_by_name.get(field) is not None:
            empty.ClearField(field)
    protos.append(empty)                                                    # zeros
    for proto in protos:
        theirs = tf.make_ndarray(proto)
        if dtype == tf.string:
            # with no values TensorFlow pads with the str "", its other elements are bytes
            theirs = np.array([b"" if v == "" else v for v in theirs.ravel()],
                              dtype=object).reshape(theirs.shape)
        if dtype.is_quantized:   # TensorFlow's numpy type for these is a one-field record
            theirs = theirs.view(dtype.as_numpy_dtype.fields[name][0])
        ours = to_array(proto)
        assert_same(ours, theirs, f"{name} {proto.tensor_shape}")
        # as a V1 slice stores it: the values without dtype or shape
        bare = type(proto)()
        bare.CopyFrom(proto)
        bare.ClearField("dtype")
        bare.ClearField("tensor_shape")
        assert_same(to_array(bare, proto.dtype, theirs.shape), theirs, f"{name} bare")


def test_tensor_protos_that_cannot_be_decoded():
    from app.formats.tensors import MAX_ELEMENTS, shape_of, to_array

    too_many = tf.make_tensor_proto(np.arange(3, dtype=np.float32))
    too_many.tensor_shape.dim[0].size = 2
    too_many.ClearField("tensor_content")
    too_many.float_val.extend([1, 2, 3])
    with pytest.raises(ValueError, match="holds 3 values for 2 elements"):
        to_array(too_many)
    short = tf.make_tensor_proto(np.arange(3, dtype=np.float32))
    short.tensor_shape.dim[0].size = 4
    with pytest.raises(ValueError, match="tensor_content size does not match"):
        to_array(short)
    huge = tf.make_tensor_proto(1.0, shape=[MAX_ELEMENTS + 1])
    with pytest.raises(ValueError, match=f"declares {MAX_ELEMENTS + 1} elements"):
        to_array(huge)
    unknown = tf.make_tensor_proto(1.0, shape=[2])
    unknown.tensor_shape.dim[0].size = -1
    assert shape_of(unknown.tensor_shape) == (None,)
    with pytest.raises(ValueError, match="unknown shape"):
        to_array(unknown)
    unknown.tensor_shape.unknown_rank = True
    assert shape_of(unknown.tensor_shape) is None
    with pytest.raises(ValueError, match="unknown shape"):
        to_array(unknown)
    for dtype in (tf.resource, tf.variant):
        proto = tf.make_tensor_proto(1.0, shape=[1])
        proto.dtype = dtype.as_datatype_enum
        with pytest.raises(ValueError, match=f"cannot decode a tensor of dtype {dtype.name}"):
            to_array(proto)
