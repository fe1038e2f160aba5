"""Run outputs as a person reads them: what an output is (class scores, an image, token
ids, a 2-D map), the top-k classes with their labels, token ids decoded, and the labels or
vocabulary file a model ships. Pure: numpy and the file system, nothing written.

Where labels come from, first found first: the file the user names; a SavedModel's
`assets/` (a file whose name says labels, classes or vocabulary); a `labels.txt` (or
`class_names.txt`, `synset*.txt`, …) beside the model file or in its folder. A labels file
is one label per line (`0 tench` and `n01440764 tench` forms are read as the label after
the index), or a JSON list / {index: label} object.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np

LABEL_NAMES = re.compile(r"(label|class|synset|categor|imagenet|vocab|token|words).*\.(txt|json|labels)$"
                         r"|\.labels$", re.I)
VOCAB_NAMES = re.compile(r"(vocab|token|words|wordpiece|spm).*\.txt$", re.I)
MAX_LABEL_BYTES = 64 << 20
MAX_CLASSES = 1 << 20


@dataclass
class Labels:
    path: str
    names: list[str]

    def fit(self, classes: int) -> tuple[list[str] | None, str]:
        """The names for an output of `classes` scores, and a note: used as they are,
        shifted (a file without the `background` class the model has at index 0), or not
        used (a count that does not match)."""
        n = len(self.names)
        base = os.path.basename(self.path)
        if n == classes:
            return self.names, f"labels from {base}"
        if n == classes - 1:
            return ["(background)"] + self.names, f"labels from {base} (index 0: background)"
        if n == classes + 1 and self.names[0].strip().lower() in ("background", "__background__", "none"):
            return self.names[1:], f"labels from {base} (its first line, background, skipped)"
        return None, f"{base} has {n:,} labels, the output {classes:,} scores: not used"


def read_labels(path: str) -> Labels:
    """A labels or vocabulary file (see the module docstring). Raises ValueError."""
    size = os.path.getsize(path)
    if size > MAX_LABEL_BYTES:
        raise ValueError(f"{path}: {size >> 20:,} MB is too large for a labels file")
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        text = f.read()
    if path.lower().endswith(".json"):
        data = json.loads(text)
        if isinstance(data, list):
            return Labels(path, [str(x if not isinstance(x, list) else x[-1]) for x in data])
        if isinstance(data, dict):
            items = {int(k): (v if not isinstance(v, list) else v[-1]) for k, v in data.items()
                     if str(k).lstrip("-").isdigit()}
            if not items or max(items) >= MAX_CLASSES:
                raise ValueError(f"{path}: not a labels object (expected {{index: label}})")
            return Labels(path, [str(items.get(i, i)) for i in range(max(items) + 1)])
        raise ValueError(f"{path}: not a labels list")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_CLASSES:
        raise ValueError(f"{path}: more than {MAX_CLASSES:,} lines")
    # "0 tench", "0: tench", "n01440764 tench": the label is what follows the index
    numbered = sum(bool(re.match(r"^\s*(\d+|n\d{8})[\s:,]+\S", ln)) for ln in lines[:50])
    if lines and numbered >= min(len(lines), 50) * 0.9:
        lines = [re.sub(r"^\s*(\d+|n\d{8})[\s:,]+", "", ln) for ln in lines]
    return Labels(path, [ln.strip() for ln in lines])


def find_labels(model_path: str, vocabulary: bool = False) -> str | None:
    """A labels (or, with `vocabulary`, a vocabulary) file the model ships, or None."""
    pattern = VOCAB_NAMES if vocabulary else LABEL_NAMES
    path = os.path.abspath(model_path)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    if os.path.basename(folder) == "variables":
        folder = os.path.dirname(folder)
    places = [os.path.join(folder, "assets"), folder]
    if os.path.isdir(path) and os.path.dirname(folder) != folder:
        places.append(os.path.dirname(folder))   # beside a SavedModel's folder
    for place in places:
        try:
            names = sorted(os.listdir(place))
        except OSError:
            continue
        hits = [n for n in names if pattern.search(n) and os.path.isfile(os.path.join(place, n))]
        if not vocabulary:
            hits = [n for n in hits if not VOCAB_NAMES.search(n)]  # a vocabulary names tokens
        hits.sort(key=lambda n: (not n.lower().startswith("labels"), len(n), n))
        if hits:
            return os.path.join(place, hits[0])
    return None


# -- what an output is --------------------------------------------------------------------

def kind(value) -> str | None:
    """"scores" (a vector of class scores, or one row of a batch), "image", "tokens",
    "heatmap" (a 2-D float map), or None."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub" or arr.size < 2:
        return None
    squeezed = without_batch(arr)
    if arr.dtype.kind == "f":
        if squeezed.ndim == 1 and 2 <= squeezed.size <= MAX_CLASSES:
            return "scores"
        if squeezed.ndim == 3 and squeezed.shape[-1] in (1, 3, 4) and min(squeezed.shape[:2]) >= 4:
            return "image"
        if squeezed.ndim == 2 and min(squeezed.shape) >= 2:
            return "heatmap"
        return None
    if arr.dtype.kind in "iu":
        if squeezed.ndim == 3 and squeezed.shape[-1] in (1, 3, 4) and min(squeezed.shape[:2]) >= 4 \
                and arr.dtype == np.uint8:
            return "image"
        if squeezed.ndim == 1:
            return "tokens"
    return None


def without_batch(arr: np.ndarray) -> np.ndarray:
    return arr[0] if arr.ndim >= 2 and arr.shape[0] == 1 else arr


@dataclass
class Ranked:
    index: int
    label: str | None
    score: float
    probability: float | None   # softmax of logits; None when the scores are probabilities


def is_probability(scores: np.ndarray) -> bool:
    s = np.asarray(scores, dtype=np.float64)
    return bool(np.all(np.isfinite(s)) and s.min() >= 0 and s.max() <= 1
                and abs(s.sum() - 1.0) < 1e-3)


def top_k(value, k: int = 5, labels: list[str] | None = None) -> list[Ranked]:
    """The k highest scores of a score vector (the first row of a batch), highest first;
    ties keep the lower index first, as tf.math.top_k does. Logits get their softmax."""
    arr = without_batch(np.asarray(value))
    if arr.ndim != 1:
        arr = arr.reshape(arr.shape[0], -1)[0] if arr.ndim > 1 else arr.ravel()
    scores = arr.astype(np.float64)
    finite = np.where(np.isnan(scores), -np.inf, scores)
    order = np.argsort(-finite, kind="stable")[:max(1, k)]
    probs = None
    if not is_probability(scores):
        shifted = np.exp(finite - finite.max()) if np.isfinite(finite.max()) else None
        probs = shifted / shifted.sum() if shifted is not None else None
    return [Ranked(int(i), labels[i] if labels and i < len(labels) else None, float(arr[i]),
                   None if probs is None else float(probs[i])) for i in order]


def decode_tokens(value, vocabulary: list[str]) -> str:
    """Token ids as text with a WordPiece / SentencePiece vocabulary (one token a line)."""
    ids = without_batch(np.asarray(value)).ravel()
    words = []
    for i in ids.tolist():
        token = vocabulary[i] if 0 <= i < len(vocabulary) else f"[{i}?]"
        if token in ("[PAD]", "<pad>"):
            continue
        if token.startswith("##") and words:
            words[-1] += token[2:]
        elif token.startswith("\u2581"):
            words.append(token[1:])
        else:
            words.append(token)
    return " ".join(words)


def image_of(value) -> np.ndarray:
    """An image-shaped output as H×W×C uint8 for display: floats scaled from their own
    range (0..1, -1..1 or 0..255, as the values show), integers clipped."""
    arr = without_batch(np.asarray(value))
    if arr.dtype.kind == "f":
        a = np.nan_to_num(arr.astype(np.float64))
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0 and hi <= 1:
            a = a * 255
        elif lo >= -1 and hi <= 1:
            a = (a + 1) * 127.5
        elif not (lo >= 0 and hi <= 255):
            a = (a - lo) / ((hi - lo) or 1) * 255
        arr = a
    return np.clip(arr, 0, 255).astype(np.uint8)
