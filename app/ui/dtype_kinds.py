"""The few families the value displays tell dtypes apart by. Pure: no Qt, no numpy import,
so that a tensor can be described before the plotting modules load."""

from __future__ import annotations

KINDS = ("float", "complex", "bool", "int", "string", "other")
NUMERIC_KINDS = frozenset(("float", "int", "bool", "complex"))


def kind_of(dtype_name: str | None, dtype) -> str:
    """'float', 'complex', 'bool', 'int', 'string' or 'other' for a TF dtype name (preferred)
    or, failing that, the numpy dtype. ml_dtypes types report numpy kind 'V', hence the names."""
    name = (dtype_name or dtype.name or "").lower()
    if name == "string" or dtype.kind in "OSU":
        return "string"
    if name == "bool" or dtype.kind == "b":
        return "bool"
    if name.startswith("complex") or dtype.kind == "c":
        return "complex"
    if name.startswith(("float", "bfloat", "half", "double")) or dtype.kind == "f":
        return "float"
    if name.startswith(("int", "uint", "qint", "quint")) or dtype.kind in "iu":
        return "int"
    return "other"
