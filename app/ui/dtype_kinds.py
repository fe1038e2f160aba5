"""The dtype families the value displays tell apart, as `app.formats.dtypes` decides them
(the one owner of that rule); here only the display's own question: which TF name or numpy
dtype to ask about. Pure: no Qt, so a tensor is described before the plotting modules load."""

from __future__ import annotations

from ..formats import dtypes

KINDS = dtypes.KINDS
NUMERIC_KINDS = frozenset(("float", "int", "bool", "complex"))   # what has statistics


def kind_of(dtype_name: str | None, dtype) -> str:
    """The kind of a TF dtype name (preferred: it tells ml_dtypes types apart) or, failing
    that, of the numpy dtype."""
    kind = dtypes.kind(dtype_name) if dtype_name else "other"
    return kind if kind != "other" else dtypes.kind(dtype)
