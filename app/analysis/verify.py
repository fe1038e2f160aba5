"""Checking every stored byte of a run against its crc32c."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..formats.errors import FormatError
from ..formats.model import open_checkpoint
from .progress import Cancelled


@dataclass
class Report:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)   # "checkpoint: tensor: problem"
    unreadable: list[str] = field(default_factory=list)  # "checkpoint: problem" (its index)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.unreadable)

    def summary(self, checkpoints: int) -> str:
        """One line for the command line and the window alike."""
        if self.ok:
            return f"all {self.checked:,} tensors in {checkpoints} checkpoint(s) are intact"
        parts = []
        if self.corrupt:
            parts.append(f"{len(self.corrupt)} of {self.checked:,} tensors are corrupt or unreadable")
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} of {checkpoints} checkpoint(s) cannot be read at all")
        return "; ".join(parts)


def verify(checkpoints, progress=None, cancelled=None) -> Report:
    """Read every tensor of every checkpoint; report each that fails. `progress(fraction,
    text)` is called as it goes; `cancelled()` returning True stops with Cancelled."""
    report = Report()
    present = [c for c in checkpoints if c.on_disk]
    total = sum(c.size for c in present) or 1
    done = 0
    for ckpt in present:
        try:
            reader = open_checkpoint(ckpt)
        except FormatError as e:
            report.unreadable.append(f"{ckpt.name}: {e.problem}")
            continue
        try:
            for key, info in reader.tensors.items():
                if cancelled is not None and cancelled():
                    raise Cancelled()
                report.checked += 1
                try:
                    if info.problem:
                        raise FormatError(reader.index_path, info.problem)
                    reader.verify(key)
                except FormatError as e:
                    report.corrupt.append(f"{ckpt.name}: {key}: {e.problem}")
                done += info.nbytes
                if progress is not None:
                    progress(min(1.0, done / total), f"verifying {ckpt.name}")
        finally:
            reader.close()
    return report
