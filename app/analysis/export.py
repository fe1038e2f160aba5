"""Writing a tensor out: .npy exactly, .csv as text (2-D at most: higher ranks are
flattened to rows of the last axis)."""

from __future__ import annotations

import os

import numpy as np


def atomic_write(target: str, write) -> None:
    """Write to a temporary name and rename: a failed write leaves no partial file."""
    tmp = target + ".partial"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_npy(target: str, value: np.ndarray) -> None:
    atomic_write(target, lambda f: np.save(f, value, allow_pickle=value.dtype == object))


def write_csv(target: str, value: np.ndarray) -> None:
    rows = value.reshape(1, -1) if value.ndim < 2 else value.reshape(-1, value.shape[-1])

    def cell(v) -> str:
        if isinstance(v, bytes):
            text = v.decode("utf-8", "backslashreplace")
            return '"' + text.replace('"', '""') + '"'
        return repr(v.item()) if hasattr(v, "item") else str(v)

    def write(f):
        for row in rows:
            f.write((",".join(cell(v) for v in row) + "\n").encode("utf-8"))

    atomic_write(target, write)
