"""TensorFlow's DataType enum mapped to numpy dtypes and TensorFlow's own names."""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class DType:
    enum: int          # the DataType value stored in protos
    name: str          # TensorFlow's name: "float32", "bfloat16", "string", ...
    numpy: np.dtype | None  # element type of the stored bytes; None for non-array types

    @property
    def itemsize(self) -> int | None:
        return None if self.numpy is None or self.is_string else self.numpy.itemsize

    @property
    def is_string(self) -> bool:
        return self.name == "string"

    @property
    def is_float(self) -> bool:
        return self.name in _FLOATS

    @property
    def is_complex(self) -> bool:
        return self.name in ("complex64", "complex128")

    @property
    def is_numeric(self) -> bool:
        """Has an order and an arithmetic: statistics and histograms make sense."""
        return self.numpy is not None and not self.is_string and not self.is_complex


_FLOATS = {"float16", "bfloat16", "float32", "float64",
           "float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
           "float4_e2m1fn"}

# Values from tensorflow/core/framework/types.proto. Quantized types are stored as their
# plain integer counterparts.
_TABLE = [
    (1, "float32", np.float32),
    (2, "float64", np.float64),
    (3, "int32", np.int32),
    (4, "uint8", np.uint8),
    (5, "int16", np.int16),
    (6, "int8", np.int8),
    (7, "string", np.object_),
    (8, "complex64", np.complex64),
    (9, "int64", np.int64),
    (10, "bool", np.bool_),
    (11, "qint8", np.int8),
    (12, "quint8", np.uint8),
    (13, "qint32", np.int32),
    (14, "bfloat16", ml_dtypes.bfloat16),
    (15, "qint16", np.int16),
    (16, "quint16", np.uint16),
    (17, "uint16", np.uint16),
    (18, "complex128", np.complex128),
    (19, "float16", np.float16),
    (20, "resource", None),
    (21, "variant", None),
    (22, "uint32", np.uint32),
    (23, "uint64", np.uint64),
    (24, "float8_e5m2", ml_dtypes.float8_e5m2),
    (25, "float8_e4m3fn", ml_dtypes.float8_e4m3fn),
    (26, "float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz),
    (27, "float8_e4m3b11fnuz", ml_dtypes.float8_e4m3b11fnuz),
    (28, "float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
    (29, "int4", ml_dtypes.int4),
    (30, "uint4", ml_dtypes.uint4),
    (31, "int2", ml_dtypes.int2),
    (32, "uint2", ml_dtypes.uint2),
    (33, "float4_e2m1fn", ml_dtypes.float4_e2m1fn),
]

BY_ENUM: dict[int, DType] = {
    enum: DType(enum, name, None if t is None else np.dtype(t)) for enum, name, t in _TABLE
}
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
