"""When the window offers to write checkpoints ("Save as…", "Average checkpoints…"):
kept apart from the dialogs, which load numpy, so that menus can ask without it."""

from __future__ import annotations


def can_save_as(doc) -> bool:
    """A checkpoint with values is open."""
    loaded = doc.loaded
    return bool(loaded is not None and loaded.checkpoint is not None and loaded.tensors)


def can_average(doc) -> bool:
    """The run has at least two checkpoints on disk."""
    loaded = doc.loaded
    return loaded is not None and sum(c.on_disk for c in loaded.model.checkpoints) >= 2
