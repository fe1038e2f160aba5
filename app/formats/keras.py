"""Keras model files as a `reader.TensorReader`: `.keras` archives (Keras 3) and HDF5 files
(`.h5`, `.hdf5`, `.weights.h5`) in both of Keras' layouts, read with h5py. No TensorFlow.

Layouts (from Keras' own saving code):

- Keras 3 weights (`model.weights.h5` inside a `.keras` zip, or a `.weights.h5` file):
  `layers/<auto name>/vars/<i>` — the group `vars` carries the layer's real name in its
  `name` attribute, the datasets are the layer's variables by position (trainable ones
  first); nested layers sit below their parent (`layers/lstm/cell/vars`), the optimizer
  under `optimizer/vars`. Variable names (kernel, bias, …) are not stored: they come from
  the layer's class (the config, or the auto name) and what Keras creates for it.
- Keras 2 HDF5 (`model.save("m.h5")`, `save_weights("w.h5")`, Keras' pretrained
  downloads): `[model_weights/]<layer>/<weight path>` with `layer_names` and
  `weight_names` attributes naming everything (`conv_a/kernel:0`); the optimizer's
  weights under `optimizer_weights`, the model config as JSON in `model_config`.

Each weight's `display_name` is its Keras path (`conv_a/kernel`), the key the HDF5 path.

A `.keras` zip is never unpacked into the user's folders: a stored (uncompressed) member
is read in place through the zip; a compressed one is decompressed, with a bound on its
size, into a temporary file in the user's cache that is removed on `close`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import dtypes
from .errors import FormatError
from .files import regular_file_size
from .reader import CHUNK_BYTES, TensorInfo, TensorReader

if TYPE_CHECKING:
    import numpy as np

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
EXTENSIONS = (".keras", ".h5", ".hdf5", ".weights.h5")
WEIGHTS_MEMBER = "model.weights.h5"
MAX_JSON_BYTES = 64 << 20          # config.json / metadata.json
MAX_MEMBER_BYTES = 64 << 30        # a weights member unpacked to the cache
MAX_RATIO = 1000                   # compressed members that claim to grow more: refused


def is_keras_file(path: str) -> bool:
    """An HDF5 file, or a zip named `.keras` (by their first bytes; nothing else read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head == HDF5_MAGIC or (head.startswith(ZIP_MAGIC) and path.lower().endswith(".keras"))


def stem(path: str) -> str:
    """A Keras file's name without its extension(s): `weights.epoch01.weights.h5` →
    `weights.epoch01`."""
    name = os.path.basename(path)
    for ext in (".weights.h5", ".keras", ".hdf5", ".h5"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def step_of(path: str) -> int | None:
    """The epoch or step a Keras checkpoint's name carries: `weights.epoch01.h5` → 1,
    `ckpt-12.keras` → 12, `weights.05-0.43.hdf5` (Keras' ModelCheckpoint pattern) → 5."""
    s = stem(path)
    m = (re.search(r"(?:epoch|step|iter|ckpt)[-_.]?(\d+)", s, re.I)
         or re.search(r"(?:^|[-_.])(\d+)-\d+\.\d+$", s)   # epoch, then a metric's value
         or re.search(r"[-_.](\d+)$", s) or re.search(r"(?:^|[-_.])(\d+)(?:[-_.]|$)", s))
    return int(m.group(1)) if m else None


# -- what Keras names a layer's variables -------------------------------------------------

def _snake(name: str) -> str:
    """A class name as Keras makes a layer's automatic name of it (`Conv2D` → `conv2d`,
    `BatchNormalization` → `batch_normalization`)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _variable_names(class_name: str | None, config: dict, count: int) -> list[str] | None:
    """The names of a layer's `count` stored variables, in the order Keras stores them
    (trainable first), for the layer classes whose variables are known; else None."""
    c = (class_name or "").split(">")[-1]
    bias = ["bias"] if config.get("use_bias", True) else []
    table = {
        "Dense": ["kernel"] + bias, "EinsumDense": ["kernel"] + bias,
        "Conv1D": ["kernel"] + bias, "Conv2D": ["kernel"] + bias, "Conv3D": ["kernel"] + bias,
        "Conv1DTranspose": ["kernel"] + bias, "Conv2DTranspose": ["kernel"] + bias,
        "Conv3DTranspose": ["kernel"] + bias,
        "DepthwiseConv1D": ["depthwise_kernel"] + bias, "DepthwiseConv2D": ["depthwise_kernel"] + bias,
        "SeparableConv1D": ["depthwise_kernel", "pointwise_kernel"] + bias,
        "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel"] + bias,
        "Embedding": ["embeddings"], "PReLU": ["alpha"],
        "BatchNormalization": (["gamma"] if config.get("scale", True) else [])
        + (["beta"] if config.get("center", True) else []) + ["moving_mean", "moving_variance"],
        "LayerNormalization": (["gamma"] if config.get("scale", True) else [])
        + (["beta"] if config.get("center", True) else []),
        "GroupNormalization": (["gamma"] if config.get("scale", True) else [])
        + (["beta"] if config.get("center", True) else []),
        "RMSNormalization": ["scale"], "Normalization": ["mean", "variance", "count"],
        "LSTMCell": ["kernel", "recurrent_kernel"] + bias, "GRUCell": ["kernel", "recurrent_kernel"] + bias,
        "SimpleRNNCell": ["kernel", "recurrent_kernel"] + bias,
    }
    names = table.get(c) or table.get({_snake(k): k for k in table}.get(c, ""))
    if names and names[-1] == "bias" and len(names) == count + 1 and "use_bias" not in config:
        return names[:-1]  # no config to say so: one variable short is a layer without bias
    return names if names is not None and len(names) == count else None


def _configs_by_name(config) -> dict[str, tuple[str, dict]]:
    """Every layer in a model config (nested models too): name → (class, config)."""
    out: dict[str, tuple[str, dict]] = {}

    def walk(node, depth=0):
        if depth > 64 or not isinstance(node, dict):
            return
        cls, cfg = node.get("class_name"), node.get("config")
        if isinstance(cls, str) and isinstance(cfg, dict):
            name = cfg.get("name") or node.get("name")
            if isinstance(name, str):
                out.setdefault(name, (cls, cfg))
            for sub in cfg.get("layers") or []:
                walk(sub, depth + 1)
            for key in ("layer", "cell", "forward_layer", "backward_layer"):
                walk(cfg.get(key), depth + 1)
    walk(config)
    return out


# -- the reader ---------------------------------------------------------------------------

@dataclass
class KerasLayer:
    """One layer as the file and its config describe it."""
    name: str
    class_name: str | None                 # None: no config says
    config: dict = field(default_factory=dict)
    weights: list[str] = field(default_factory=list)   # keys of its weights, in order


class KerasFile(TensorReader):
    """The weights of one Keras file (see the module docstring). `layers` lists the
    model's layers (with class and config where the file has a model config);
    `model_config`, `layout` ("keras3" or "keras2") and `keras_version` say the rest."""

    big_endian = False

    def __init__(self, path: str):
        self.path = self.prefix = self.index_path = os.path.abspath(path)
        self.data_files = [self.path]
        self.missing_shards: list[str] = []
        self.object_graph_problem: str | None = None
        self.tensors: dict[str, TensorInfo] = {}
        self.layers: list[KerasLayer] = []
        self.model_config: dict | None = None
        self.metadata: dict = {}
        self.keras_version: str | None = None
        self.layout = ""
        self._lock = threading.Lock()       # one HDF5 call at a time on a shared handle
        self._zip = None
        self._member = None
        self._temp_dir: str | None = None
        self._h5 = None
        size = regular_file_size(self.path)
        try:
            with open(self.path, "rb") as f:
                head = f.read(8)
        except OSError as e:
            raise FormatError(self.path, f"cannot read: {e.strerror}") from None
        try:
            if head.startswith(ZIP_MAGIC):
                self._open_archive(size)
            elif head == HDF5_MAGIC:
                self._h5 = self._open_h5(self.path)
            else:
                raise FormatError(self.path, "neither an HDF5 file nor a .keras archive")
            self._list()
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------

    def _open_h5(self, source):
        import h5py
        try:
            if isinstance(source, str):
                return h5py.File(source, "r", locking=False)
            return h5py.File(source, "r")
        except OSError as e:
            raise FormatError(self.path, f"an HDF5 file that cannot be opened, truncated or "
                                         f"corrupt ({_h5_reason(e)})") from None

    def _open_archive(self, size: int) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            names = self._zip.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise FormatError(self.path, f"a broken or truncated .keras archive ({e})") from None
        if "config.json" in names:
            self.model_config = self._json("config.json")
        if "metadata.json" in names:
            meta = self._json("metadata.json")
            self.metadata = meta if isinstance(meta, dict) else {}
            self.keras_version = self.metadata.get("keras_version")
        if WEIGHTS_MEMBER not in names:
            raise FormatError(self.path, f"a .keras archive without {WEIGHTS_MEMBER} "
                                         f"(it holds: {', '.join(names[:8]) or 'nothing'})")
        info = self._zip.getinfo(WEIGHTS_MEMBER)
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise FormatError(self.path, f"{WEIGHTS_MEMBER}: stored member with sizes that "
                                             f"disagree ({info.file_size} vs {info.compress_size})")
            if info.header_offset + info.compress_size > size:
                raise FormatError(self.path, f"truncated: {WEIGHTS_MEMBER} runs past the end of "
                                             f"the file")
            self._member = _Window(self.path, _member_data_offset(self.path, info, size),
                                   info.file_size)
            self._h5 = self._open_h5(self._member)
        else:
            self._h5 = self._open_h5(self._unpack(info))

    def _json(self, member: str):
        info = self._zip.getinfo(member)
        if info.file_size > MAX_JSON_BYTES:
            raise FormatError(self.path, f"{member} claims {info.file_size:,} bytes: too large")
        try:
            with self._zip.open(info) as f:
                data = f.read(MAX_JSON_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as e:
            raise FormatError(self.path, f"{member} cannot be read ({e})") from None
        if len(data) > MAX_JSON_BYTES:
            raise FormatError(self.path, f"{member} is larger than it claims")
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise FormatError(self.path, f"{member} is not valid JSON ({e})") from None

    def _unpack(self, info: zipfile.ZipInfo) -> str:
        """A compressed weights member, decompressed into a private temporary folder in
        the user's cache, stopping at the size it claims (a zip bomb stops there too)."""
        claimed = info.file_size
        if claimed > MAX_MEMBER_BYTES or (info.compress_size and
                                          claimed > MAX_RATIO * max(info.compress_size, 1 << 20)):
            raise FormatError(self.path, f"{WEIGHTS_MEMBER} claims {claimed:,} bytes from "
                                         f"{info.compress_size:,} compressed: refused")
        os.makedirs(cache_dir(), exist_ok=True)
        self._temp_dir = tempfile.mkdtemp(prefix="keras-", dir=cache_dir())
        target = os.path.join(self._temp_dir, WEIGHTS_MEMBER)
        written = 0
        try:
            with self._zip.open(info) as src, open(target, "wb") as dst:
                while True:
                    block = src.read(1 << 20)
                    if not block:
                        break
                    written += len(block)
                    if written > claimed:
                        raise FormatError(self.path, f"{WEIGHTS_MEMBER} decompresses to more than "
                                                     f"the {claimed:,} bytes it claims")
                    dst.write(block)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, zlib.error) as e:
            raise FormatError(self.path, f"{WEIGHTS_MEMBER} cannot be decompressed ({e})") from None
        return target

    # -- listing ----------------------------------------------------------------------

    def _list(self) -> None:
        h5 = self._h5
        with self._lock:
            try:
                if self.model_config is None:
                    raw = h5.attrs.get("model_config")
                    if raw is not None:
                        self.model_config = json.loads(_text(raw))
                self.keras_version = self.keras_version or _text_or_none(h5.attrs.get("keras_version"))
                root = h5["model_weights"] if "model_weights" in h5 else h5
                if "layer_names" in root.attrs:
                    self.layout = "keras2"
                    self._list_keras2(root)
                    if "optimizer_weights" in h5:
                        self._list_keras2_optimizer(h5["optimizer_weights"])
                elif "layers" in h5 or "vars" in h5:
                    self.layout = "keras3"
                    self._list_keras3(h5)
                else:
                    raise FormatError(self.path, "an HDF5 file without Keras weights (no "
                                                 "layer_names attribute and no layers group)")
            except FormatError:
                raise
            except (OSError, KeyError, ValueError, TypeError, RuntimeError, RecursionError) as e:
                raise FormatError(self.path, f"the HDF5 structure cannot be read ({_h5_reason(e)})") \
                    from None
        self._link_slots()

    @staticmethod
    def _member_of(group, name: str):
        """The dataset `name` of `group`; None when there is no such link; the reason
        (text) when HDF5 refuses to open it (a header that is corrupt or lies)."""
        try:
            if name not in group:
                return None
            return group[name]
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            return _h5_reason(e)

    def _add(self, key: str, dset, display: str) -> None:
        import h5py
        if isinstance(dset, str):  # listed, but HDF5 cannot open it
            self.tensors[key] = TensorInfo(key, None, 0, (), 0, display_name=display,
                                           problem=f"cannot be opened: {dset}")
            return
        if not isinstance(dset, h5py.Dataset):
            return
        dtype_name = _dtype_name(dset.dtype)
        dtype = dtypes.BY_NAME.get(dtype_name) if dtype_name else None
        shape = tuple(int(d) for d in (dset.shape or ()))
        info = TensorInfo(key, dtype, dtype.enum if dtype else 0, shape, 0, display_name=display)
        info.nbytes = info.size * (dtype.itemsize or 0) if dtype else 0
        info.problem = self._dataset_problem(dset, info, dtype_name)
        self.tensors[key] = info

    def _dataset_problem(self, dset, info: TensorInfo, dtype_name) -> str | None:
        """What the listing alone shows to be wrong: a dtype with no tensor form, or a
        dataset whose declared size the file cannot hold."""
        if dtype_name is None:
            return f"HDF5 type {dset.dtype} is not a tensor dtype"
        if dset.shape is None:  # a null dataspace (h5py.Empty): reading gives no array
            return "an empty HDF5 dataset (null dataspace): it holds no value"
        try:
            offset = dset.id.get_offset()
            stored = dset.id.get_storage_size()
        except (OSError, ValueError, RuntimeError):
            offset, stored = None, 0
        file_size = self._file_size()
        if dset.chunks is None and offset is not None and info.nbytes and \
                (offset + info.nbytes > file_size or stored < info.nbytes):
            return (f"declares {info.nbytes:,} bytes ({list(info.shape)}) but the file holds "
                    f"{max(0, min(stored, file_size - offset)):,} of them: truncated or corrupt")
        if dset.chunks is not None and info.nbytes > MAX_MEMBER_BYTES:
            return f"declares {info.nbytes:,} bytes: too large to be real"
        return None

    def _file_size(self) -> int:
        if self._member is not None:
            return self._member.length
        return os.path.getsize(self._h5.filename)   # only asked while listing: open

    def _list_keras2(self, root) -> None:
        configs = _configs_by_name(self.model_config) if self.model_config else {}
        for lname in _names(root.attrs.get("layer_names")):
            group = root.get(lname)
            layer = KerasLayer(lname, *configs.get(lname, (None, {})))
            if group is not None:
                for wname in _names(group.attrs.get("weight_names")):
                    key = f"{root.name.strip('/')}/{lname}/{wname}".lstrip("/")
                    self._add(key, self._member_of(group, wname), _keras2_path(lname, wname))
                    if key in self.tensors:
                        layer.weights.append(key)
            self.layers.append(layer)

    def _list_keras2_optimizer(self, group) -> None:
        for wname in _names(group.attrs.get("weight_names")):
            self._add(f"optimizer_weights/{wname}", self._member_of(group, wname),
                      "optimizer/" + _strip_output(wname))

    def _list_keras3(self, h5) -> None:
        import h5py
        configs = _configs_by_name(self.model_config) if self.model_config else {}
        top_vars = h5.get("vars")
        top_name = _text_or_none(top_vars.attrs.get("name")) if top_vars is not None else None

        def walk(group, owners: list[str], depth: int) -> None:
            if depth > 32:
                raise FormatError(self.path, "layers nested more than 32 deep")
            for key in sorted(group.keys(), key=_natural):
                child = group[key]
                if not isinstance(child, h5py.Group) or key == "vars":
                    continue
                vars_group = child.get("vars")
                name = _text_or_none(vars_group.attrs.get("name")) if vars_group is not None else None
                # `layers` holds a model's layers: a container, not a layer of the path
                here = owners if vars_group is None and key == "layers" else owners + [name or key]
                if vars_group is not None and isinstance(vars_group, h5py.Group):
                    self._keras3_layer(child.name, vars_group, here, key, configs)
                walk(child, here, depth + 1)

        walk(h5["layers"] if "layers" in h5 else h5, [], 0)
        if configs:  # the file lists layers by their automatic names; the config has their order
            order = {name: i for i, name in enumerate(configs)}
            self.layers.sort(key=lambda layer: order.get(layer.name.split("/")[0], len(order)))
            self.tensors = {k: self.tensors[k] for layer in self.layers for k in layer.weights}
        if top_vars is not None and len(top_vars):
            self._keras3_layer("", top_vars, [top_name or "model"], "", configs)
        opt = h5.get("optimizer")
        if opt is not None and isinstance(opt.get("vars"), h5py.Group):
            oname = _text_or_none(opt["vars"].attrs.get("name")) or "optimizer"
            for i in sorted(opt["vars"].keys(), key=_natural):
                self._add(f"optimizer/vars/{i}", self._member_of(opt["vars"], i), f"optimizer/{oname}/{i}")
            if configs:  # slots follow the trainable weights' order, which only the config gives
                self._name_optimizer_slots(oname)

    def _keras3_layer(self, group_path: str, vars_group, owners: list[str], auto: str,
                      configs) -> None:
        lname = owners[-1]
        cls, cfg = configs.get(lname, (None, {}))
        keys = sorted(vars_group.keys(), key=_natural)
        # No config: the auto name (`conv2d`, `batch_normalization_1`) is the class's.
        guess = cls or re.sub(r"_\d+$", "", auto)
        names = _variable_names(guess, cfg, len(keys)) or [f"vars/{k}" for k in keys]
        if owners[-1:] and auto == "cell" and cls is None:
            names = _variable_names("LSTMCell", cfg, len(keys)) or names
        layer = KerasLayer("/".join(owners), cls, cfg)
        path = "/".join(owners)
        for k, vname in zip(keys, names):
            key = f"{group_path.strip('/')}/vars/{k}".lstrip("/")
            self._add(key, self._member_of(vars_group, k), f"{path}/{vname}")
            if key in self.tensors:
                layer.weights.append(key)
        self.layers.append(layer)

    def _name_optimizer_slots(self, oname: str) -> None:
        """Keras 3 optimizers store iteration and learning rate, then their slots variable
        by variable (Adam: momentum, velocity); where the shapes pair up with the trainable
        weights exactly, the slots get names and links."""
        opt = [t for k, t in self.tensors.items() if k.startswith("optimizer/vars/")]
        weights = [t for k, t in self.tensors.items() if not k.startswith("optimizer/")
                   and not re.search(r"/(moving_mean|moving_variance|count|mean|variance)$",
                                     t.display_name)]
        if len(opt) < 2 or not weights:
            return
        slots = opt[2:]
        per = len(slots) // len(weights) if len(slots) % len(weights) == 0 else 0
        if per not in (1, 2) or any(slots[i].shape != weights[i // per].shape
                                    for i in range(len(slots))):
            return
        kinds = {1: ["momentum"], 2: ["momentum", "velocity"]}[per]
        if oname.lower() not in ("adam", "adamw", "nadam", "adamax", "lamb", "lion") and per == 1:
            kinds = ["slot"]
        opt[0].display_name = f"optimizer/{oname}/iteration"
        opt[1].display_name = f"optimizer/{oname}/learning_rate"
        for i, t in enumerate(slots):
            w = weights[i // per]
            slot = kinds[i % per]
            t.display_name = f"optimizer/{oname}/{w.display_name.replace('/', '_')}_{slot}"
            t.slot_of, t.slot_name = w.name, slot

    def _link_slots(self) -> None:
        """Keras 2/3 HDF5 optimizer weights named after their variable
        (`adam/conv_a_kernel_momentum`, `Adam/conv_a/kernel/m`): linked to it."""
        by_flat = {t.display_name.replace("/", "_"): t.name for t in self.tensors.values()
                   if not t.display_name.startswith("optimizer/")}
        by_path = {t.display_name: t.name for t in self.tensors.values()
                   if not t.display_name.startswith("optimizer/")}
        for t in self.tensors.values():
            if not t.display_name.startswith("optimizer/") or t.slot_of:
                continue
            rest = t.display_name.split("/", 2)[-1]      # after optimizer/<name>/
            head, _sep, slot = rest.rpartition("/")
            if head in by_path:
                t.slot_of, t.slot_name = by_path[head], slot
                continue
            head, _sep, slot = rest.rpartition("_")
            if head in by_flat:
                t.slot_of, t.slot_name = by_flat[head], slot

    # -- reading ------------------------------------------------------------------------

    def read(self, name: str) -> np.ndarray:
        import numpy as np
        info = self.readable(name)
        if self._h5 is None:
            raise FormatError(self.path, "closed")
        with self._lock:
            try:
                out = np.asarray(self._h5[name][()])
            except (OSError, ValueError, TypeError, RuntimeError, KeyError) as e:
                raise FormatError(self.path, f"{name}: the data cannot be read "
                                             f"({_h5_reason(e)})") from None
        if out.shape != info.shape:
            raise FormatError(self.path, f"{name}: read {list(out.shape)}, listed as {list(info.shape)}")
        return out.astype(info.dtype.numpy, copy=False)   # native byte order

    def chunks(self, name: str, chunk_bytes: int = CHUNK_BYTES):
        """Slabs of rows (axis 0) of about `chunk_bytes`: row-major, one region, so a
        statistic over a large embedding never holds it whole."""
        import numpy as np
        info = self.readable(name)
        if info.dtype is None or info.dtype.is_string:
            raise FormatError(self.index_path, f"{name}: no numeric chunks")
        if len(info.shape) < 1 or info.nbytes <= chunk_bytes:
            yield self.read(name).ravel()
            return
        row = max(1, info.nbytes // max(1, info.shape[0]))
        step = max(1, chunk_bytes // row)
        for start in range(0, info.shape[0], step):
            with self._lock:
                if self._h5 is None:
                    raise FormatError(self.path, "closed")
                try:
                    part = np.asarray(self._h5[name][start:start + step])
                except (OSError, ValueError, TypeError, RuntimeError, KeyError) as e:
                    raise FormatError(self.path, f"{name}: the data cannot be read "
                                                 f"({_h5_reason(e)})") from None
            yield part.astype(info.dtype.numpy, copy=False).ravel()

    def close(self) -> None:
        for handle in (self._h5, self._member, self._zip):
            try:
                if handle is not None:
                    handle.close()
            except Exception:  # noqa: BLE001 (closing a broken file must not raise)
                pass
        self._h5 = self._member = self._zip = None
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __del__(self):
        if getattr(self, "_temp_dir", None):
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    # -- the model as described ------------------------------------------------------------

    def model_name(self) -> str | None:
        cfg = self.model_config
        if isinstance(cfg, dict):
            inner = cfg.get("config")
            if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                return inner["name"]
        return None


def _member_data_offset(path: str, info: zipfile.ZipInfo, size: int) -> int:
    """Where a stored member's bytes start: after its local header, whose name and extra
    field lengths may differ from the central directory's."""
    import struct
    try:
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror}") from None
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise FormatError(path, f"{info.filename}: its local header is missing or broken")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > size:
        raise FormatError(path, f"truncated: {info.filename} runs past the end of the file")
    return start


class _Window:
    """A read-only file object over bytes [start, start + length) of a file: a stored zip
    member, seekable at the cost of a seek (zipfile's own member files re-read from the
    start on every backward seek, and HDF5 seeks back and forth). h5py's file-object
    driver needs no more than read/readinto, seek, tell and close."""

    def __init__(self, path: str, start: int, length: int):
        self._f = open(path, "rb")
        self._start, self.length, self._pos = start, length, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = self.length - self._pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        view[len(data):] = bytes(len(view) - len(data))   # past the end: zeros, as on disk
        return len(data)

    def close(self) -> None:
        self._f.close()


def cache_dir() -> str:
    """Where compressed archive members are unpacked (removed again on close)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "checkpoint-browser", "unpacked")


# -- small helpers ------------------------------------------------------------------------

def _natural(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _text_or_none(value) -> str | None:
    return None if value is None else _text(value)


def _names(value) -> list[str]:
    if value is None:
        return []
    try:
        return [_text(v) for v in list(value)]
    except TypeError:
        return []


def _keras2_path(layer: str, weight: str) -> str:
    """A Keras 2 weight name as the weight's path: under its layer's name. Keras 2 named
    weights by the scope they were made in, which may differ from the layer's final name
    (`conv2d_3_1/kernel:0` in layer `conv2d_3`); Keras loads them as `conv2d_3/kernel`."""
    name = _strip_output(weight)
    if name.startswith(layer + "/") or "/" not in name:
        return name if "/" in name else f"{layer}/{name}"
    return f"{layer}/{name.split('/', 1)[1]}"


def _strip_output(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _dtype_name(dtype) -> str | None:
    kind, size = dtype.kind, dtype.itemsize
    if kind == "f":
        return {2: "float16", 4: "float32", 8: "float64"}.get(size)
    if kind == "i":
        return {1: "int8", 2: "int16", 4: "int32", 8: "int64"}.get(size)
    if kind == "u":
        return {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}.get(size)
    if kind == "b":
        return "bool"
    if kind == "c":
        return {8: "complex64", 16: "complex128"}.get(size)
    if kind == "V" and dtype.names is None and size == 2 and "bfloat16" in str(dtype):
        return "bfloat16"
    return None


def _h5_reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    text = re.sub(r"\s+", " ", text)
    if "truncated" in text.lower():
        return "the file is truncated: " + text
    if "file signature" in text.lower():   # not HDF5's "wrong B-tree signature" inside one
        return "not an HDF5 file: " + text
    return text
