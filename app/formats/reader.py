"""The one interface every source of tensors implements: `TensorReader`.

A reader is a checkpoint bundle (bundle.Bundle), a pre-0.11 checkpoint (v1.V1Checkpoint)
or the constants of a frozen graph (model.ConstReader); writers and remote readers to
come implement the same. Each subclasses `TensorReader` explicitly, and callers use only
what is declared here: no probing for attributes, no reaching into a reader's privates.

What a reader holds, fixed once it is open:

``tensors``        {key: TensorInfo}, listed from the index alone (no tensor bytes read).
                   A tensor that cannot be read is still listed, with the reason in its
                   `problem`; the methods below raise FormatError for it.
``prefix``         the label the reader reports to people (a checkpoint prefix, a file).
``index_path``     the file that lists the tensors: its path, mtime and size identify
                   the reader's contents (result caches key on it), and errors found in
                   the listing name it.
``data_files``     every file the values come from.
``missing_shards`` data files that are absent or unreadable (their tensors carry a
                   `problem`); empty for readers with no shards.
``object_graph_problem``  why a TF2 object graph could not name the tensors, else None.

What each method promises:

``info(name)``     the TensorInfo; KeyError (naming the reader) for an unknown key.
``readable(name)`` the TensorInfo of a tensor that can be read; FormatError with its
                   `problem` (naming `index_path`) otherwise.
``read(name)``     the whole value as a numpy array shaped like the tensor, possibly a
                   read-only view of a mapped file. Where the format stores a checksum it
                   is checked before the value is returned: bytes failing it raise
                   CorruptDataError and are never handed out.
``chunks(name, chunk_bytes)``  the elements as flat arrays of about chunk_bytes each, in
                   the order `extents(name)` gives, every stored byte read once. A
                   checksum over a stored piece can only be checked once the piece has
                   been read, so it is checked after that piece's last chunk: a consumer
                   must treat CorruptDataError, raised then, as voiding every chunk it
                   has seen. Fixed-size dtypes only (strings: FormatError).
``extents(name)``  the regions of the tensor, as `Region`s, in the order `chunks` streams
                   them, each region in row-major order. One region covering the whole
                   tensor means `chunks` streams it in row-major order; two tensors with
                   equal extents stream their elements in the same order, so their
                   chunks can be zipped.
``verify(name)``   reads every stored byte and checks it (nothing when the format has no
                   checksum beyond what opening checked); raises as `read` does.
``close()``        releases mapped files; arrays handed out stay valid.

Errors: KeyError for an unknown key; FormatError (CorruptDataError for a failed checksum)
for anything wrong with the files, its text naming the file at fault; ValueError never
escapes for bad files.

Threads: the listing is not changed after opening. `read`, `chunks` and `verify` may run
on several threads at once over one reader (the window shows a value while a comparison
streams); `close` must not run alongside them.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

from . import dtypes
from .dtypes import DType
from .errors import FormatError

if TYPE_CHECKING:
    import numpy as np

CHUNK_BYTES = 16 << 20  # streaming reads touch this much at a time


@dataclass
class TensorInfo:
    """One tensor of a checkpoint, as the index describes it (no data read)."""
    name: str                      # exact checkpoint key
    dtype: DType | None            # None: a dtype this reader does not know
    dtype_enum: int
    shape: tuple[int, ...]
    nbytes: int                    # bytes on disk, all slices included
    partitioned: bool = False
    display_name: str = ""         # readable name (TF2 object graph), else the key
    slot_of: str | None = None     # for optimizer slots: the key of the variable they serve
    slot_name: str | None = None
    problem: str | None = None     # why this entry cannot be read, found from the index alone
    trainable: bool | None = None  # TF2: what the object graph's optimizer trains (None: unknown)

    def __post_init__(self):
        self.display_name = self.display_name or self.name

    @property
    def dtype_name(self) -> str:
        return self.dtype.name if self.dtype else dtypes.enum_name(self.dtype_enum)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Region:
    """A box of a tensor: where a stored piece starts and how long it is, per dimension."""
    starts: tuple[int, ...]
    lengths: tuple[int, ...]


@runtime_checkable
class TensorReader(Protocol):
    """See the module docstring for what each member promises. Subclasses implement
    `read`; the defaults below suit readers that hold or decode a tensor whole."""

    tensors: dict[str, TensorInfo]
    prefix: str
    index_path: str
    data_files: list[str]
    missing_shards: list[str]
    object_graph_problem: str | None

    def info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r} in {self.prefix}") from None

    def readable(self, name: str) -> TensorInfo:
        """The TensorInfo of a tensor that can be read, else FormatError with the reason."""
        info = self.info(name)
        if info.problem:
            raise FormatError(self.index_path, f"{name}: {info.problem}")
        return info

    @abstractmethod
    def read(self, name: str) -> np.ndarray: ...

    def chunks(self, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[np.ndarray]:
        # Decoded whole anyway: one chunk, in row-major order (one region).
        info = self.readable(name)
        if info.dtype is not None and info.dtype.is_string:
            raise FormatError(self.index_path, f"{name}: string tensors have no numeric chunks")
        yield self.read(name).ravel()

    def extents(self, name: str) -> tuple[Region, ...]:
        shape = tuple(self.readable(name).shape)
        return (Region((0,) * len(shape), shape),)

    def verify(self, name: str) -> None:
        self.read(name)

    def close(self) -> None:
        pass
