"""TensorFlow's DataType enum mapped to numpy dtypes and TensorFlow's own names, and the
one rule for what sort of values a dtype holds (`kind`), which every layer asks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy (and ml_dtypes) are imported on first use of `DType.numpy`: listing a checkpoint
# needs only names and item sizes, and the window shows sooner without numpy's import.


@dataclass(frozen=True)
class DType:
    enum: int          # the DataType value stored in protos
    name: str          # TensorFlow's name: "float32", "bfloat16", "string", ...
    numpy_type: str | None  # numpy (or ml_dtypes) type of the stored elements; None for
    #                         resource and variant, which have no array form
    width: int         # bytes per stored element (0 for strings and non-array types)

    @cached_property
    def numpy(self) -> np.dtype | None:
        """The numpy dtype of the stored bytes (imports numpy on first use)."""
        if self.numpy_type is None:
            return None
        import numpy as np
        if self.numpy_type == "object" or hasattr(np, self.numpy_type):
            return np.dtype(self.numpy_type)
        import ml_dtypes
        return np.dtype(getattr(ml_dtypes, self.numpy_type))

    @property
    def is_array(self) -> bool:
        """Stored as an array of values (everything but resource and variant)."""
        return self.numpy_type is not None

    @property
    def itemsize(self) -> int | None:
        return self.width or None

    @property
    def kind(self) -> str:
        return kind(self)

    @property
    def is_string(self) -> bool:
        return self.kind == "string"

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_complex(self) -> bool:
        return self.kind == "complex"

    @property
    def is_numeric(self) -> bool:
        """Has an order and an arithmetic: statistics and histograms make sense."""
        return self.kind in NUMERIC_KINDS


# -- kinds ---------------------------------------------------------------------------------

KINDS = ("bool", "int", "float", "complex", "string", "other")
NUMERIC_KINDS = ("bool", "int", "float")   # ordered, with an arithmetic

# numpy's kind letters. ml_dtypes' types (bfloat16, int4, float4_e2m1fn, …) mostly report
# "V", so those are told apart by name.
_LETTERS = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex",
            "O": "string", "S": "string", "U": "string"}
# numpy (and ml_dtypes) type names that numpy has no native arithmetic for
_EXTENSION_PREFIXES = ("bfloat", "float8", "float4", "int4", "uint4", "int2", "uint2")


@lru_cache(maxsize=None)
def _kind_of_name(name: str) -> str:
    name = name.lower()
    if name == "string":
        return "string"
    if name == "bool":
        return "bool"
    if name.startswith("complex"):
        return "complex"
    if name.startswith(("float", "bfloat", "half", "double")):
        return "float"
    if name.startswith(("int", "uint", "qint", "quint")):
        return "int"
    return "other"


def kind(dtype) -> str:
    """What a dtype holds: one of KINDS ("other": resource, variant, unknown types). Takes
    a DType, a TensorFlow or numpy type name ("float32", "qint8", "bfloat16", "half") or a
    numpy dtype (object arrays count as strings: that is how tensors hold them)."""
    if isinstance(dtype, DType):
        return _kind_of_name(dtype.name)
    if isinstance(dtype, str):
        return _kind_of_name(dtype)
    letter = _LETTERS.get(dtype.kind)
    return letter if letter is not None else _kind_of_name(dtype.name)


def is_numeric(dtype) -> bool:
    """Has an order and an arithmetic (see `kind` for what `dtype` may be)."""
    return kind(dtype) in NUMERIC_KINDS


def is_extension(dtype: np.dtype) -> bool:
    """An ml_dtypes type (bfloat16, float8_*, int4, …): numpy stores it but has no native
    arithmetic for it, so code that computes or serialises widens it first."""
    return dtype.kind == "V" or dtype.name.startswith(_EXTENSION_PREFIXES)

# Values from tensorflow/core/framework/types.proto: (enum, TensorFlow's name, numpy type,
# bytes per element). Quantized types are stored as their plain integer counterparts; the
# sub-byte types of ml_dtypes (int4, int2, float4) take a byte each, as TensorFlow stores
# them. A test checks every width against numpy's itemsize.
_TABLE = [
    (1, "float32", "float32", 4),
    (2, "float64", "float64", 8),
    (3, "int32", "int32", 4),
    (4, "uint8", "uint8", 1),
    (5, "int16", "int16", 2),
    (6, "int8", "int8", 1),
    (7, "string", "object", 0),
    (8, "complex64", "complex64", 8),
    (9, "int64", "int64", 8),
    (10, "bool", "bool", 1),
    (11, "qint8", "int8", 1),
    (12, "quint8", "uint8", 1),
    (13, "qint32", "int32", 4),
    (14, "bfloat16", "bfloat16", 2),
    (15, "qint16", "int16", 2),
    (16, "quint16", "uint16", 2),
    (17, "uint16", "uint16", 2),
    (18, "complex128", "complex128", 16),
    (19, "float16", "float16", 2),
    (20, "resource", None, 0),
    (21, "variant", None, 0),
    (22, "uint32", "uint32", 4),
    (23, "uint64", "uint64", 8),
    (24, "float8_e5m2", "float8_e5m2", 1),
    (25, "float8_e4m3fn", "float8_e4m3fn", 1),
    (26, "float8_e4m3fnuz", "float8_e4m3fnuz", 1),
    (27, "float8_e4m3b11fnuz", "float8_e4m3b11fnuz", 1),
    (28, "float8_e5m2fnuz", "float8_e5m2fnuz", 1),
    (29, "int4", "int4", 1),
    (30, "uint4", "uint4", 1),
    (31, "int2", "int2", 1),
    (32, "uint2", "uint2", 1),
    (33, "float4_e2m1fn", "float4_e2m1fn", 1),
]

BY_ENUM: dict[int, DType] = {enum: DType(enum, name, t, width) for enum, name, t, width in _TABLE}
BY_NAME: dict[str, DType] = {d.name: d for d in BY_ENUM.values()}


def from_enum(value: int) -> DType | None:
    """The DType of a proto's DataType field; reference types (value + 100) count as their base."""
    if value > 100:
        value -= 100
    return BY_ENUM.get(value)


def enum_name(value: int) -> str:
    """A readable name even for values we cannot decode."""
    d = from_enum(value)
    return d.name if d else f"unknown dtype {value}"
