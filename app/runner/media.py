"""Feeds from the files people have at hand: images (PNG, JPEG, … via Pillow), WAV audio
(the standard library's `wave`) and text lines. Pure: numpy and Pillow, no Qt, no
TensorFlow, nothing written.

A media file is decoded once into a `MediaFeed`; what array it becomes depends on the
input it is fed to, so `fit(dtype, shape)` makes it then (app.runner.feeds.coerce calls
it): an image is resized (shorter side) and centre-cropped to the input's H×W, given its
channels (1 grey, 3 RGB, 4 RGBA) and batch dimension, scaled to the value range chosen
("0..1", "0..255" or "-1..1"; integer inputs take 0..255) and cast; a WAV file's samples
become floats in [-1, 1], mixed down to mono for a 1-channel input, padded or cut to a
fixed length; text lines become a vector of strings. `describe()` says what was done.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
AUDIO_EXTENSIONS = (".wav",)
TEXT_EXTENSIONS = (".txt",)
RANGES = {"0..1": (0.0, 1.0), "0..255": (0.0, 255.0), "-1..1": (-1.0, 1.0)}
DEFAULT_RANGE = "0..1"
MAX_PIXELS = 64_000_000        # decoded pixels of one image (Pillow's own bomb limit is 179 M)
MAX_SAMPLES = 1 << 27          # samples × channels of one WAV file
MAX_TEXT_BYTES = 64 << 20


class MediaError(ValueError):
    """A media file that cannot be decoded or does not fit an input (`str()` says why)."""


def is_media(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS + AUDIO_EXTENSIONS + TEXT_EXTENSIONS)


def parse_range(text: str) -> str:
    """A value range as typed ("0..1", "0-1", "-1..1", "0..255") → its canonical name."""
    key = text.strip().replace(" ", "")
    for name in RANGES:
        if key in (name, name.replace("..", "-"), name.replace("..", ":"), name.replace("..", ",")):
            return name
    raise MediaError(f"unknown value range {text!r} (use {', '.join(RANGES)})")


def image_range_of(text: str) -> str | None:
    """For a feed's text naming an image (`@cat.jpg`, `@cat.jpg:-1..1`): the value range
    it asks for (the default when it names none); else None."""
    spec = text.strip()
    if not spec.startswith("@"):
        return None
    head, sep, tail = spec[1:].rpartition(":")
    if sep and head.lower().endswith(IMAGE_EXTENSIONS):
        try:
            return parse_range(tail)
        except MediaError:
            return None
    return DEFAULT_RANGE if spec.lower().endswith(IMAGE_EXTENSIONS) else None


def with_range(text: str, value_range: str) -> str:
    """A feed's text naming an image, with `value_range` as its suffix."""
    spec = text.strip()
    head, sep, tail = spec.rpartition(":")
    if sep and head.lower().endswith(IMAGE_EXTENSIONS):
        spec = head
    return spec if value_range == DEFAULT_RANGE else f"{spec}:{value_range}"


def is_small_media(text: str, base_dir: str | None, limit: int = 16 << 20) -> bool:
    """A feed's text naming a media file small enough to decode as it is typed (to show
    what it becomes); bigger ones are decoded by the run."""
    spec = text.strip()[1:].strip()
    head, sep, _tail = spec.rpartition(":")
    if sep and head.lower().endswith(IMAGE_EXTENSIONS):
        spec = head
    if not is_media(spec):
        return False
    path = os.path.expanduser(spec)
    path = path if os.path.isabs(path) else os.path.join(base_dir or os.getcwd(), path)
    try:
        return os.path.isfile(path) and os.path.getsize(path) <= limit
    except OSError:
        return False


class MediaFeed:
    """A decoded file, fitted to an input by `fit`."""
    path: str

    def fit(self, dtype: str, shape) -> np.ndarray:
        raise NotImplementedError

    def natural(self) -> np.ndarray:
        """The value with no input to fit (a tensor fed in place of what computes it)."""
        raise NotImplementedError

    def describe(self, fitted: np.ndarray | None = None) -> str:
        raise NotImplementedError


class SteppedFeed(MediaFeed):
    """A feed whose `fit` records what it did in `steps` (a list field of the subclass):
    its natural value is the float32 one, its description those steps."""

    def natural(self) -> np.ndarray:
        return self.fit("float32", None)

    def describe(self, fitted: np.ndarray | None = None) -> str:
        text = ", ".join(self.steps) or os.path.basename(self.path)
        return text + (f" → {list(fitted.shape)}" if fitted is not None else "")


def load(path: str, value_range: str | None = None) -> MediaFeed:
    """Decode `path` by its extension. Raises MediaError."""
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return ImageFeed.open(path, value_range)
    if value_range is not None:
        raise MediaError(f"{os.path.basename(path)}: a value range applies to images only")
    if ext in AUDIO_EXTENSIONS:
        return AudioFeed.open(path)
    if ext in TEXT_EXTENSIONS:
        return TextFeed.open(path)
    raise MediaError(f"{path}: not an image, WAV or text file")


def _known(d) -> int | None:
    return None if d is None or d < 0 else int(d)


def _is_int(dtype: str) -> bool:
    return dtype.startswith(("int", "uint", "qint", "quint"))


# -- images ------------------------------------------------------------------------------

@dataclass
class ImageFeed(SteppedFeed):
    path: str
    image: object                      # a loaded PIL.Image
    value_range: str | None = None     # None: 0..1 for floats, 0..255 for integers
    steps: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: str, value_range: str | None = None) -> ImageFeed:
        from PIL import Image, UnidentifiedImageError
        name = os.path.basename(path)
        try:
            with Image.open(path) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise MediaError(f"{name}: {w}×{h} pixels is more than the "
                                     f"{MAX_PIXELS:,} an image feed may have")
                img.seek(0)  # an animation: its first frame
                img.load()
                decoded = img.copy()
        except MediaError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise MediaError(f"{name}: not an image Pillow can decode ({e})") from None
        except (OSError, ValueError, EOFError, SyntaxError) as e:
            raise MediaError(f"{name}: the image is broken or truncated ({e})") from None
        return cls(path, decoded, value_range)

    def _layout(self, shape):
        """(batch, channels-first, H, W, C) of an input shape, or None for any image."""
        if shape is None:
            return None
        dims = [_known(d) for d in shape]
        if len(dims) == 4:
            batch, rest = True, dims[1:]
        elif len(dims) == 3:
            batch, rest = False, dims
        elif len(dims) == 2:   # a grey image [H, W]
            return False, False, dims[0], dims[1], 0
        else:
            raise MediaError(f"an image does not fit an input of rank {len(dims)} "
                             f"(expected [H, W], [H, W, C] or [N, H, W, C])")
        first = rest[0] in (1, 3, 4) and rest[2] not in (1, 3, 4)
        h, w, c = (rest[1], rest[2], rest[0]) if first else tuple(rest)
        return batch, first, h, w, c

    def fit(self, dtype: str, shape) -> np.ndarray:
        from PIL import Image
        layout = self._layout(shape)
        batch, first, h, w, c = layout if layout else (False, False, None, None, None)
        if len(shape or ()) == 4 and _known(shape[0]) not in (None, 1):
            raise MediaError(f"the input takes a batch of {shape[0]} images; one file gives one")
        img = self.image
        self.steps = [f"{os.path.basename(self.path)} {img.width}×{img.height} {img.mode}"]
        mode = {0: "L", 1: "L", 3: "RGB", 4: "RGBA", None: "RGB"}.get(c)
        if mode is None:
            raise MediaError(f"an input with {c} channels does not take an image (1, 3 or 4)")
        if img.mode != mode:
            img = img.convert(mode)
            self.steps.append(mode)
        if h or w:
            th, tw = h or img.height, w or img.width
            scale = max(th / img.height, tw / img.width)
            rw, rh = max(tw, round(img.width * scale)), max(th, round(img.height * scale))
            if (rw, rh) != img.size:
                img = img.resize((rw, rh), Image.BILINEAR)
            left, top = (rw - tw) // 2, (rh - th) // 2
            if (tw, th) != (rw, rh):
                img = img.crop((left, top, left + tw, top + th))
            if (tw, th) != self.image.size:
                self.steps.append(f"resized and centre-cropped to {tw}×{th}")
        arr = np.asarray(img, dtype=np.uint8)
        if c == 1:
            arr = arr[..., None]
        if first:
            arr = np.moveaxis(arr, -1, 0)
            self.steps.append("channels first")
        if _is_int(dtype) or dtype == "bool":
            if self.value_range not in (None, "0..255"):
                raise MediaError(f"an {dtype} input takes pixel values 0..255, not "
                                 f"{self.value_range}")
            self.steps.append("values 0..255")
            out = arr
        else:
            name = self.value_range or DEFAULT_RANGE
            lo, hi = RANGES[name]
            out = arr.astype(np.float64) * ((hi - lo) / 255.0) + lo
            self.steps.append(f"values {name}")
        if batch:
            out = out[None]
        return out


# -- audio -------------------------------------------------------------------------------

@dataclass
class AudioFeed(SteppedFeed):
    path: str
    samples: np.ndarray                # float32 [frames, channels] in [-1, 1]
    rate: int
    steps: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: str) -> AudioFeed:
        name = os.path.basename(path)
        try:
            with wave.open(path, "rb") as w:
                channels, width, rate, frames = (w.getnchannels(), w.getsampwidth(),
                                                 w.getframerate(), w.getnframes())
                if channels < 1 or width not in (1, 2, 3, 4) or rate < 1:
                    raise MediaError(f"{name}: {channels} channels of {width}-byte samples at "
                                     f"{rate} Hz is not PCM audio this reader takes")
                if frames * channels > MAX_SAMPLES:
                    raise MediaError(f"{name}: {frames * channels:,} samples is more than the "
                                     f"{MAX_SAMPLES:,} an audio feed may have")
                raw = w.readframes(frames)
        except MediaError:
            raise
        except (wave.Error, EOFError) as e:
            raise MediaError(f"{name}: not a PCM WAV file ({e}); convert it to 16-bit PCM") from None
        except OSError as e:
            raise MediaError(f"{name}: cannot be read ({e})") from None
        usable = len(raw) // (width * channels) * width * channels  # a truncated last frame
        raw = raw[:usable]
        if width == 1:
            data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif width == 3:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            data = (np.where(v & 0x800000, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
        else:
            ints = np.frombuffer(raw, "<i2" if width == 2 else "<i4")
            data = (ints.astype(np.float64) / float(1 << (8 * width - 1))).astype(np.float32)
        return cls(path, data.reshape(-1, channels), rate)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def fit(self, dtype: str, shape) -> np.ndarray:
        if _is_int(dtype) or dtype in ("string", "bool"):
            raise MediaError(f"a WAV file gives float samples; this input takes {dtype}")
        frames, channels = self.samples.shape
        self.steps = [f"{os.path.basename(self.path)}: {frames:,} samples at {self.rate:,} Hz "
                      f"({self.seconds:.2f} s, {channels} channel{'s' if channels > 1 else ''})"]
        dims = None if shape is None else [_known(d) for d in shape]
        mono = self.samples.mean(axis=1) if channels > 1 else self.samples[:, 0]
        if dims is None or len(dims) == 1:
            out, length, axis = mono, (dims[0] if dims else None), 0
            if channels > 1:
                self.steps.append("mixed to mono")
        elif len(dims) == 2 and dims[1] == channels and dims[0] != 1:
            out, length, axis = self.samples, dims[0], 0      # [samples, channels]
        elif len(dims) == 2:
            if dims[0] not in (None, 1):
                raise MediaError(f"the input takes a batch of {dims[0]} clips; one file gives one")
            out, length, axis = mono[None], dims[1], 1         # [1, samples]
            if channels > 1:
                self.steps.append("mixed to mono")
        else:
            raise MediaError(f"audio does not fit an input of rank {len(dims)} "
                             f"(expected [samples], [1, samples] or [samples, channels])")
        if length is not None:
            have = out.shape[axis]
            if have > length:
                out = np.take(out, np.arange(length), axis=axis)
                self.steps.append(f"cut to the first {length:,} samples")
            elif have < length:
                pad = [(0, 0)] * out.ndim
                pad[axis] = (0, length - have)
                out = np.pad(out, pad)
                self.steps.append(f"padded with silence to {length:,} samples")
        return out.astype(np.float32)


# -- text lines --------------------------------------------------------------------------

@dataclass
class TextFeed(MediaFeed):
    """A text file: its lines for a string input, its numbers for a numeric one."""
    path: str
    lines: list[str]
    numbers: object = None             # set by feeds for numeric inputs (CSV rules)

    @classmethod
    def open(cls, path: str) -> TextFeed:
        size = os.path.getsize(path)
        if size > MAX_TEXT_BYTES:
            raise MediaError(f"{os.path.basename(path)}: {size >> 20:,} MB of text is more than "
                             f"the {MAX_TEXT_BYTES >> 20} MB a text feed may have")
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            lines = [line.rstrip("\r\n") for line in f]
        while lines and not lines[-1].strip():
            lines.pop()
        return cls(path, lines)

    def fit(self, dtype: str, shape) -> np.ndarray:
        arr = np.empty(len(self.lines), dtype=object)
        arr[:] = self.lines
        dims = None if shape is None else [_known(d) for d in shape]
        if dims is not None and len(dims) == 0:
            if len(self.lines) != 1:
                raise MediaError(f"the input takes one string; {os.path.basename(self.path)} "
                                 f"has {len(self.lines)} lines")
            return arr.reshape(())
        if dims is not None and len(dims) == 2 and dims[1] in (None, 1) and dims[0] != 1:
            return arr[:, None]
        if dims is not None and len(dims) == 2:
            return arr[None]
        return arr

    def natural(self) -> np.ndarray:
        return self.fit("string", None)

    def describe(self, fitted: np.ndarray | None = None) -> str:
        n = len(self.lines)
        return f"{os.path.basename(self.path)}: {n} line{'s' if n != 1 else ''}" + (
            f" → {list(fitted.shape)}" if fitted is not None else "")
