"""Parsers under fuzzing: each target takes arbitrary bytes and must either succeed or
raise FormatError (or ValueError for the pure decoders) — never anything else."""

from __future__ import annotations

import os
import tempfile

from app.formats import objectgraph, tensors
from app.formats.bundle import Bundle
from app.formats.errors import FormatError
from app.formats.graph import load_graph
from app.formats.run import RunFolder
from app.formats import protos
from app.formats.table import MAGIC

from .tablewriter import table_bytes


def _in_folder(files: dict[str, bytes], fn):
    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        return fn(d)


def index_bytes(data: bytes) -> None:
    """Arbitrary bytes as a .index file (with the table magic appended half the time)."""
    if data[:1] == b"\x01":
        data = data[1:] + b"\x00" * 40 + MAGIC
    try:
        _in_folder({"m.index": data, "m.data-00000-of-00001": b"\x00" * 64},
                   lambda d: _read_all(Bundle(os.path.join(d, "m"))))
    except FormatError:
        pass


def bundle_entry(data: bytes) -> None:
    """Arbitrary bytes as one BundleEntryProto in a well-formed index."""
    header = protos.BundleHeaderProto(num_shards=1).SerializeToString()
    index = table_bytes([(b"", header), (b"t", data)])
    try:
        _in_folder({"m.index": index, "m.data-00000-of-00001": bytes(range(256))},
                   lambda d: _read_all(Bundle(os.path.join(d, "m"))))
    except FormatError:
        pass


def entry_fields(data: bytes) -> None:
    """Structured: a BundleEntryProto whose fields come from the bytes, so that lies about
    dtype, shape, offset, size, shard and slices are reached far more often than by
    random bytes alone."""
    import struct
    words = struct.unpack(f"<{len(data) // 8}q", data[: len(data) // 8 * 8]) or (0,)
    w = list(words) + [0] * 12
    e = protos.BundleEntryProto(dtype=w[0] % 40, shard_id=w[1] % 3, offset=w[2] % 300 - 20,
                                size=w[3] % 300 - 20, crc32c=w[4] % (1 << 32))
    for d in w[5:5 + w[6] % 5]:
        e.shape.dim.add(size=d % 9 - 1 if d % 7 else d)
    if w[7] % 3 == 0:
        sl = e.slices.add()
        for d in w[8:8 + len(e.shape.dim)]:
            ext = sl.extent.add(start=d % 5 - 1)
            if d % 2:
                ext.length = d % 7 - 1
    bundle_entry(e.SerializeToString())


def state_file(data: bytes) -> None:
    """Arbitrary bytes as a `checkpoint` state file beside one tiny valid bundle."""
    header = protos.BundleHeaderProto(num_shards=1).SerializeToString()
    index = table_bytes([(b"", header)])
    try:
        _in_folder({"checkpoint": data, "m.index": index, "m.data-00000-of-00001": b""},
                   lambda d: RunFolder(d))
    except FormatError:
        pass


def meta_graph(data: bytes) -> None:
    """Arbitrary bytes as a .meta file: parsed, tree built, keys and collections derived."""
    def go(d):
        g = load_graph(os.path.join(d, "g.meta"))
        g.tree()
        g.checkpoint_keys()
        g.collections()
        for node in g.nodes[:50]:
            g.consumers(node.name)
    try:
        _in_folder({"g.meta": data}, go)
    except FormatError:
        pass


def object_graph(data: bytes) -> None:
    try:
        objectgraph.names(data)
    except ValueError:
        pass


def tensor_proto(data: bytes) -> None:
    try:
        tensors.to_array(protos.TensorProto.FromString(data))
    except Exception as e:  # a DecodeError is the protobuf library saying "not a proto"
        if type(e).__name__ != "DecodeError" and not isinstance(e, ValueError):
            raise


def feed_text(data: bytes) -> None:
    """Arbitrary text typed into a feed box: parsed (never evaluated) or refused."""
    from app.runner import feeds
    text = data.decode("utf-8", "replace")
    try:
        feeds.parse_feed(text, base_dir=tempfile.gettempdir())
    except ValueError:
        pass


def _read_all(bundle: Bundle) -> None:
    for name in list(bundle.tensors):
        try:
            bundle.read(name)
            bundle.verify(name)
        except FormatError:
            pass


TARGETS = {f.__name__: f for f in (index_bytes, bundle_entry, entry_fields, state_file,
                                   meta_graph, object_graph, tensor_proto, feed_text)}
