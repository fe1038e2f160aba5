"""How sizes, shapes and numbers are shown to people, by the window and the command line
alike (so it lives below both, with no Qt and no numpy)."""

from __future__ import annotations

import math


def human_bytes(n: int) -> str:
    """1536 → "1.5 KiB" (binary units, as file managers' "MiB"); under 1 KiB, "500 B"."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover (the loop returns at TiB)


def shape_text(shape, missing: str = "any shape") -> str:
    """[?, 8, 8, 1]: unknown dimensions (None or negative) as "?". `missing` is shown for
    a shape that is None: an unknown rank, or no tensor at all (callers say which)."""
    if shape is None:
        return missing
    return "[" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + "]"


def number_text(value: float | None, spec: str = ".4g", missing: str = "-") -> str:
    """A metric for a table cell: `format(value, spec)`, NaN as "NaN", infinities as
    "inf"/"-inf" whatever the spec, and `missing` for None (no value)."""
    if value is None:
        return missing
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)
