"""A corpus of broken and hostile model folders, derived from a valid TensorFlow-written
run: every file truncated at many points, bytes flipped, blocks zeroed, footers and
headers lying, state files pointing elsewhere, shards that are not files.

    python -m tests.corpus.generate SOURCE_RUN OUT_DIR     # writes one folder per variant

Nothing here is committed as binaries: tests build the corpus in a temporary folder.
Each variant is (name, folder, damaged) where `damaged` says whether the damage is in the
checkpoint's bytes (then `verify` must fail) or only in what may still parse.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from app.formats import protos

from ..tablewriter import LYING_ENTRIES, bundle_entry, table_bytes


@dataclass
class Variant:
    name: str
    folder: Path
    bundle_damaged: bool   # the index or a data shard is corrupt: verify must say so


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _files(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(suffix) or suffix in p.name)


def generate(src: Path, out: Path, seed: int = 7, flips: int = 40, cuts: int = 24) -> list[Variant]:
    """Write the corpus for the run at `src` (one checkpoint + .meta + state file) into
    `out`; return the variants."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    variants: list[Variant] = []
    index = next(iter(_files(src, ".index")))
    data = next(iter(_files(src, ".data-")))
    meta = next(iter(_files(src, ".meta")), None)

    def variant(name: str, damaged: bool, edit) -> None:
        folder = _copy(src, out / name)
        edit(folder)
        variants.append(Variant(name, folder, damaged))

    def rewrite(rel: str, fn):
        def edit(folder: Path):
            p = folder / rel
            p.write_bytes(fn(bytearray(p.read_bytes())))
        return edit

    # truncations: every file cut at evenly spread points (and one byte short)
    for f, damaged in ((index, True), (data, True), (meta, False)):
        if f is None:
            continue
        size = f.stat().st_size
        points = sorted({0, 1, size - 1, *(size * k // cuts for k in range(1, cuts))})
        for cut in points:
            variant(f"cut-{f.suffix.strip('.')[:5]}-{cut}", damaged and cut < size,
                    rewrite(f.name, lambda b, cut=cut: bytes(b[:cut])))

    # single flipped bytes at random places (the index footer's zero padding carries
    # nothing: a flip there is harmless, so it does not count as damage)
    padding = _footer_padding(index.read_bytes())
    for f, damaged in ((index, True), (data, True), (meta, False)):
        if f is None:
            continue
        size = f.stat().st_size
        for i in range(flips):
            pos, bit = rng.randrange(size), 1 << rng.randrange(8)

            def flip(b, pos=pos, bit=bit):
                b[pos] ^= bit
                return bytes(b)
            hurt = damaged and not (f == index and pos in padding)
            variant(f"flip-{f.suffix.strip('.')[:5]}-{i}-at-{pos}", hurt, rewrite(f.name, flip))

    # zeroed blocks of 64 bytes
    for f, damaged in ((index, True), (data, True)):
        size = f.stat().st_size
        for start in range(0, size, max(64, size // 8)):
            def zero(b, start=start):
                end = min(len(b), start + 64)
                if not any(b[start:end]):
                    b[start] = 1  # make sure something changes
                else:
                    b[start:end] = bytes(end - start)
                return bytes(b)
            variant(f"zero-{f.suffix.strip('.')[:5]}-{start}", damaged, rewrite(f.name, zero))

    # wrong footer magic; a footer whose handles point at itself or outside the file
    variant("magic-wrong", True, rewrite(index.name, lambda b: bytes(b[:-8]) + b"\x00" * 8))
    variant("footer-self", True, rewrite(index.name, lambda b: bytes(b[:-48]) + _handles(
        len(b) - 48, 48, len(b) - 48, 48) + bytes(b[-8:])))
    variant("footer-outside", True, rewrite(index.name, lambda b: bytes(b[:-48]) + _handles(
        1 << 40, 10, 1 << 41, 1 << 30) + bytes(b[-8:])))

    # lying index entries, written as well-formed tables
    for name, entry in LYING_ENTRIES.items():
        variant(f"lie-{name}", True, rewrite(index.name, lambda b, entry=entry: _lying_index(entry)))
    variant("lie-nonutf8-name", True, rewrite(index.name, lambda b: table_bytes([
        (b"", protos.BundleHeaderProto(num_shards=1).SerializeToString()),
        (b"w\xff\xfe", bundle_entry(dtype=1, shape=[2], size=8, crc32c=1))])))
    variant("lie-num-shards-huge", True, rewrite(index.name, lambda b: table_bytes([
        (b"", protos.BundleHeaderProto(num_shards=1 << 30).SerializeToString())])))

    # state files: garbage, non-UTF-8, naming nothing, escaping the folder
    for name, text in (("state-garbage", b"\x00\xff garbage {{{"),
                       ("state-nonutf8", b'model_checkpoint_path: "\xff\xfe"\n'),
                       ("state-gone", b'model_checkpoint_path: "gone-99"\n'),
                       ("state-escape", b'model_checkpoint_path: "../../etc/passwd"\n'
                                        b'all_model_checkpoint_paths: "/etc/passwd"\n')):
        variant(name, False, rewrite("checkpoint", lambda b, text=text: text))

    # shards that are not regular files
    def as_dir(folder: Path):
        p = folder / data.name
        p.unlink()
        p.mkdir()

    def as_fifo(folder: Path):
        p = folder / data.name
        p.unlink()
        os.mkfifo(p)

    def as_empty(folder: Path):
        (folder / data.name).write_bytes(b"")

    def as_missing(folder: Path):
        (folder / data.name).unlink()

    for name, edit in (("shard-dir", as_dir), ("shard-fifo", as_fifo), ("shard-empty", as_empty),
                       ("shard-missing", as_missing)):
        variant(name, True, edit)

    # graphs: deeply nested protobuf, and a graph whose inputs form a cycle
    if meta is not None:
        def deep(b):
            nested = b""
            for _ in range(20000):
                nested = b"\x0a" + _varint(len(nested)) + nested
            return nested
        variant("meta-deep-nesting", False, rewrite(meta.name, deep))
        variant("meta-cycle", False, rewrite(meta.name, lambda b: _cycle_meta()))
    return variants


def _footer_padding(index: bytes) -> range:
    """Byte positions of the footer's zero padding (after the two block handles)."""
    start = len(index) - 48
    pos, seen = start, 0
    while seen < 4:  # four varints: metaindex offset, size, index offset, size
        if index[pos] < 0x80:
            seen += 1
        pos += 1
    return range(pos, len(index) - 8)


def _varint(n: int) -> bytes:
    from ..tablewriter import varint
    return varint(n)


def _handles(a: int, b: int, c: int, d: int) -> bytes:
    h = _varint(a) + _varint(b) + _varint(c) + _varint(d)
    return h + b"\x00" * (40 - len(h))


def _lying_index(entry: dict) -> bytes:
    return table_bytes([(b"", protos.BundleHeaderProto(num_shards=1).SerializeToString()),
                        (b"lying/tensor", bundle_entry(**dict(entry)))])


def _cycle_meta() -> bytes:
    mg = protos.MetaGraphDef()
    for name, inp in (("a", "c"), ("b", "a"), ("c", "b")):
        node = mg.graph_def.node.add(name=name, op="Identity")
        node.input.append(inp)
    return mg.SerializeToString()


if __name__ == "__main__":
    made = generate(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{len(made)} variants in {sys.argv[2]}")
