"""Readable text for a NodeDef's attrs: dtypes by name, shapes as [?, 224, 224, 3],
tensors summarised (their values are shown as tensors elsewhere)."""

from __future__ import annotations

from . import display, dtypes, tensors


def shape_text(proto) -> str:
    """A TensorShapeProto as [?, 224, 224, 3]."""
    return display.shape_text(tensors.shape_of(proto), missing="<unknown rank>")


def _scalar(value) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "backslashreplace")
        return repr(text if len(text) <= 120 else text[:117] + "...")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def tensor_text(tp) -> str:
    dtype = dtypes.enum_name(tp.dtype)
    shape = shape_text(tp.tensor_shape)
    try:
        value = tensors.to_array(tp)
    except ValueError as e:
        return f"{dtype} {shape} ({e})"
    if value.size <= 8:
        items = [_scalar(v) for v in value.ravel().tolist()]
        body = items[0] if value.ndim == 0 else "[" + ", ".join(items) + "]"
        return f"{dtype} {shape} = {body}"
    return f"{dtype} {shape}"


def attr_text(value) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "s":
        return _scalar(value.s)
    if kind in ("i", "b"):
        return str(getattr(value, kind))
    if kind == "f":
        return _scalar(value.f)
    if kind == "type":
        return dtypes.enum_name(value.type)
    if kind == "shape":
        return shape_text(value.shape)
    if kind == "tensor":
        return tensor_text(value.tensor)
    if kind == "func":
        return f"function {value.func.name}"
    if kind == "placeholder":
        return f"${value.placeholder}"
    lst = value.list
    parts = ([_scalar(v) for v in lst.s] + [str(v) for v in lst.i] + [_scalar(v) for v in lst.f]
             + [str(v) for v in lst.b] + [dtypes.enum_name(v) for v in lst.type]
             + [shape_text(v) for v in lst.shape] + [tensor_text(v) for v in lst.tensor]
             + [f"function {v.name}" for v in lst.func])
    return "[" + ", ".join(parts) + "]"
