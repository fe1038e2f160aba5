"""Which logged histogram (a `tf.summary.histogram` or TF1 `HistogramProto` of the run's
event files) shows the same variable as a checkpoint tensor, at the checkpoint's step.

Summary tags name variables loosely: `dense/kernel` as written by hand, `dense/kernel_0` or
`dense/kernel:0` (Keras 2's TensorBoard callback: the variable's name with its output
index), `dense/kernel/histogram` (Keras 3), `weights/dense/kernel` (a name scope around the
summary). A tag matches when, with those suffixes dropped, it equals the variable's name or
one ends with the other at a `/`. The closest match wins: equal names first, then the
longest shared tail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_SUFFIX = re.compile(r"(?::\d+|_\d+|/histograms?|/summary)$")


def _plain(name: str) -> str:
    name = name.strip("/")
    while True:
        cut = _SUFFIX.sub("", name)
        if cut == name:
            return name
        name = cut


def match_score(tag: str, variable: str) -> int:
    """0: no match; else higher for a closer match (equal names score highest)."""
    t, v = _plain(tag), _plain(variable)
    if not t or not v:
        return 0
    if t == v:
        return 1000
    shorter, longer = (t, v) if len(t) < len(v) else (v, t)
    if longer.endswith("/" + shorter):
        return 1 + shorter.count("/")
    return 0


@dataclass
class LoggedHistogram:
    run: str
    tag: str
    step: int              # the logged step shown
    wanted: int | None     # the checkpoint's step
    edges: np.ndarray      # float64, len(counts) + 1
    counts: np.ndarray     # float64

    @property
    def same_step(self) -> bool:
        return self.wanted is not None and self.step == self.wanted

    def label(self) -> str:
        where = self.tag if self.run == "." else f"{self.run}/{self.tag}"
        when = f"step {self.step}" if self.same_step else \
            f"step {self.step}, the nearest logged to {self.wanted}" if self.wanted is not None else \
            f"step {self.step}"
        return f"logged {where} ({when})"


def find_logged(histograms, names, step: int | None, slack: int | None = None) -> LoggedHistogram | None:
    """The logged histogram of the variable called any of `names` (its key, its readable
    name) at `step`: the point of that step, else the nearest (within `slack` steps, if
    given). None when no tag matches or nothing was logged near enough."""
    best = None
    for series in histograms:
        score = max((match_score(series.tag, n) for n in names if n), default=0)
        if score and series.points and (best is None or score > best[0]):
            best = (score, series)
    if best is None:
        return None
    series = best[1]
    if step is None:
        point = series.points[-1]
    else:
        point = min(series.points, key=lambda p: (abs(p.step - step), -p.step))
        if slack is not None and abs(point.step - step) > slack:
            return None
    return LoggedHistogram(series.run, series.tag, point.step, step, *bucket_edges(point))


def bucket_edges(point) -> tuple[np.ndarray, np.ndarray]:
    """(edges, counts) of a logged histogram's buckets, which lie end to end. TF1's first
    bucket starts at -DBL_MAX and its last ends at DBL_MAX: they are cut at the proto's min
    and max (or one neighbour's width beyond the finite limits where those are unknown), and
    so is any other limit at +-DBL_MAX: the edges never run backwards."""
    left = np.asarray(point.left, dtype=np.float64)
    right = np.asarray(point.right, dtype=np.float64)
    counts = np.asarray(point.counts, dtype=np.float64)
    if not len(counts):
        return np.zeros(1), counts
    edges = np.concatenate([left[:1], right])
    big = np.finfo(np.float64).max / 2
    finite = edges[np.abs(edges) < big]
    lo_min = point.min if np.isfinite(point.min) else None
    hi_max = point.max if np.isfinite(point.max) else None
    if abs(edges[0]) >= big:
        edges[0] = lo_min if lo_min is not None else (finite[0] - (finite[1] - finite[0]) if len(finite) > 1
                                                      else (finite[0] - 1 if len(finite) else -1.0))
        edges[0] = min(edges[0], edges[1]) if len(edges) > 1 and abs(edges[1]) < big else edges[0]
    if abs(edges[-1]) >= big:
        edges[-1] = hi_max if hi_max is not None else (finite[-1] + (finite[-1] - finite[-2]) if len(finite) > 1
                                                       else (finite[-1] + 1 if len(finite) else 1.0))
        edges[-1] = max(edges[-1], edges[-2]) if abs(edges[-2]) < big else edges[-1]
    # TF1 keeps an empty bucket ending at -DBL_MAX when a value lies below its finite
    # limits: such a limit is cut where the first bucket now starts (the last, alike).
    inner = edges[1:-1]
    inner[inner <= -big] = edges[0]
    inner[inner >= big] = edges[-1]
    return edges, counts


def as_count_per_bin(logged: LoggedHistogram, width: float) -> np.ndarray:
    """The logged counts scaled to bins of `width` (the weights' own histogram's), so that
    both read on one count axis whatever their bucket widths. A zero-width bucket (all
    values equal) keeps its count."""
    widths = np.diff(logged.edges)
    # (the inner where keeps every divisor positive: no division by zero to silence)
    return np.where(widths > 0, logged.counts * (width / np.where(widths > 0, widths, 1)), logged.counts)
