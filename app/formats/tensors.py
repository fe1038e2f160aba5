"""TensorProto (a graph's Const values, a V1 checkpoint's slices) to numpy, exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dtypes

if TYPE_CHECKING:
    import numpy as np  # imported on first decode: the scope tree needs no values

# Refuse to expand a proto into more elements than this: a Const may legally declare a huge
# shape filled by one repeated value, but a viewer has no business allocating it.
MAX_ELEMENTS = 1 << 28

# Which repeated field of TensorProto holds each dtype's values when tensor_content is empty.
_FIELD = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "uint8": "int_val",
    "int16": "int_val", "int8": "int_val", "uint16": "int_val", "qint8": "int_val",
    "quint8": "int_val", "qint32": "int_val", "qint16": "int_val", "quint16": "int_val",
    "int64": "int64_val", "bool": "bool_val", "uint32": "uint32_val", "uint64": "uint64_val",
    "string": "string_val", "complex64": "scomplex_val", "complex128": "dcomplex_val",
    "float16": "half_val", "bfloat16": "half_val",  # stored as 16-bit patterns in int32s
    "float8_e5m2": "float8_val", "float8_e4m3fn": "float8_val", "int4": "int_val",
    "uint4": "int_val",
}


def shape_of(proto_shape) -> tuple[int, ...] | None:
    """A TensorShapeProto as a tuple with None for unknown dims; None if the rank is unknown."""
    if proto_shape.unknown_rank:
        return None
    return tuple(d.size if d.size >= 0 else None for d in proto_shape.dim)


def to_array(tp, dtype_enum: int | None = None, shape=None) -> np.ndarray:
    """Decode a TensorProto. Raises ValueError for protos that cannot be decoded.

    V1 checkpoints store bare values: their dtype and shape come from elsewhere and are
    passed in."""
    dtype_enum = tp.dtype if dtype_enum is None else dtype_enum
    dtype = dtypes.from_enum(dtype_enum)
    if dtype is None or not dtype.is_array:
        raise ValueError(f"cannot decode a tensor of dtype {dtypes.enum_name(dtype_enum)}")
    shape = shape_of(tp.tensor_shape) if shape is None else tuple(shape)
    if shape is None or any(d is None for d in shape):
        raise ValueError("tensor has an unknown shape")
    n = 1
    for d in shape:
        n *= d
    import numpy as np
    if n > MAX_ELEMENTS:
        raise ValueError(f"tensor declares {n} elements, more than this viewer expands")
    if tp.tensor_content and not dtype.is_string:
        if len(tp.tensor_content) != n * dtype.itemsize:
            raise ValueError("tensor_content size does not match the shape")
        return np.frombuffer(tp.tensor_content, dtype=dtype.numpy).reshape(shape).copy()
    field = _FIELD.get(dtype.name)
    if field is None:
        raise ValueError(f"cannot decode a tensor of dtype {dtype.name}")
    values = getattr(tp, field, ())
    if field == "float8_val":
        flat = np.frombuffer(bytes(values), dtype=np.uint8).view(dtype.numpy)
    elif field == "half_val":
        flat = np.array(values, dtype=np.int32).astype(np.uint16).view(dtype.numpy)
    elif dtype.is_string:
        flat = np.empty(len(values), dtype=object)
        flat[:] = list(values)
    elif dtype.is_complex:
        pairs = np.array(values, dtype=np.float32 if dtype.name == "complex64" else np.float64)
        flat = pairs[0::2] + 1j * pairs[1::2] if len(pairs) else pairs
        flat = flat.astype(dtype.numpy)
    else:
        flat = np.array(values).astype(dtype.numpy) if len(values) else np.empty(0, dtype.numpy)
    if len(flat) > n:
        raise ValueError(f"tensor holds {len(flat)} values for {n} elements")
    if len(flat) < n:
        if len(flat) == 0:
            flat = np.zeros(n, dtype=dtype.numpy) if not dtype.is_string else np.full(n, b"", object)
        else:  # TensorFlow repeats the last value to fill the shape
            flat = np.concatenate([flat, np.repeat(flat[-1:], n - len(flat))])
    return flat.reshape(shape)
