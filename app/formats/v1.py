"""Pre-0.11 ("V1") checkpoints: one table file per shard, mapping `""` to the list of saved
tensors and each slice's key to a SavedSlice holding its values as a TensorProto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dtypes, protos, tensors
from .errors import FormatError
from .files import read_tail
from .ordered_code import slice_key
from .reader import TensorInfo, TensorReader
from .table import Table, has_table_magic

if TYPE_CHECKING:
    import numpy as np


def is_v1_file(path: str) -> bool:
    """A table file that is not a bundle index (bundles end in `.index`)."""
    try:
        return not path.endswith(".index") and has_table_magic(read_tail(path, 8))
    except FormatError:
        return False


class V1Checkpoint(TensorReader):
    """A V1 checkpoint, read as `reader.TensorReader` declares. Values are decoded whole
    from their SavedSlice protos, so `chunks` hands out one array per tensor."""

    big_endian = False

    def __init__(self, paths: list[str]):
        self.prefix = paths[0]
        self.index_path = paths[0]
        self.data_files = list(paths)
        self.missing_shards: list[str] = []
        self.object_graph_problem: str | None = None
        self.tensors: dict[str, TensorInfo] = {}
        self._slices: dict[bytes, tuple[str, bytes]] = {}  # key → (file, serialized SavedSlice)
        self._metas: dict[str, list] = {}
        for path in paths:
            for key, value in Table(path).items():
                if key == b"":
                    self._read_meta(path, value)
                else:
                    self._slices[key] = (path, bytes(value))
        for name, info in self.tensors.items():  # each shard lists only its own slices
            info.partitioned = len(self._metas[name]) > 1
        if not self.tensors:
            raise FormatError(paths[0], "not a checkpoint: the table lists no tensors")

    def _read_meta(self, path: str, value) -> None:
        try:
            meta = protos.SavedTensorSlices.FromString(value).meta
        except Exception:
            raise FormatError(path, "malformed V1 checkpoint: its tensor list does not parse") from None
        for sm in meta.tensor:
            dtype = dtypes.from_enum(sm.type)
            shape = tensors.shape_of(sm.shape)
            info = TensorInfo(name=sm.name, dtype=dtype, dtype_enum=sm.type,
                              shape=tuple(shape or ()), nbytes=0)
            if shape is None or any(d is None for d in shape):
                info.problem = "unknown shape"
            elif dtype is None or not dtype.is_array:
                info.problem = f"tensors of dtype {info.dtype_name} cannot be read"
            elif dtype.itemsize:
                info.nbytes = info.size * dtype.itemsize
            self.tensors.setdefault(sm.name, info)
            self._metas.setdefault(sm.name, []).extend(sm.slice)

    def _slice_keys(self, name: str, sl, rank: int) -> list[bytes]:
        extents = [(e.start, e.length if e.HasField("length") else -1) for e in sl.extent]
        if not extents:
            return [slice_key(name.encode(), [(0, -1)] * rank), slice_key(name.encode(), [])]
        return [slice_key(name.encode(), extents)]

    def read(self, name: str) -> np.ndarray:
        info = self.readable(name)
        shape = info.shape
        out, covered = None, 0
        for sl in self._metas[name]:
            found = next((self._slices[k] for k in self._slice_keys(name, sl, len(shape))
                          if k in self._slices), None)
            if found is None:
                raise FormatError(self.prefix, f"{name}: a saved slice is missing")
            path, raw = found
            if sl.extent and len(sl.extent) != len(shape):
                raise FormatError(path, f"{name}: a slice's rank differs from the tensor's")
            region = []
            for d, full in enumerate(shape):
                ext = sl.extent[d] if sl.extent else None
                start = ext.start if ext else 0
                length = ext.length if ext is not None and ext.HasField("length") else full - start
                if start < 0 or length < 0 or start + length > full:
                    raise FormatError(path, f"{name}: a slice lies outside the tensor")
                region.append(slice(start, start + length))
            lengths = [r.stop - r.start for r in region]
            try:
                data = protos.SavedTensorSlices.FromString(raw).data.data
                value = tensors.to_array(data, info.dtype_enum, lengths)
            except Exception as e:
                raise FormatError(path, f"{name}: slice data does not decode ({e})") from None
            if len(self._metas[name]) == 1 and lengths == list(shape):
                return value
            if out is None:
                import numpy as np
                out = np.zeros(shape, dtype=info.dtype.numpy)
            out[tuple(region)] = value
            covered += value.size
        if out is None:
            raise FormatError(self.prefix, f"{name}: no saved slices")
        if covered != info.size:  # a gap would read as zeros, an overlap twice
            raise FormatError(self.prefix, f"{name}: slices cover {covered} of {info.size} elements")
        return out

    # chunks, extents, verify, close: TensorReader's. V1 has no per-tensor checksum; the
    # table's blocks were checked on open, so verifying is decoding.
