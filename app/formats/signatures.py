"""A SavedModel's signatures as people read them: each input and output with its dtype
name and shape (`float32 [-1, 224, 224, 3]`, as TensorFlow's own tools print it), the
method name, and the op TensorFlow runs on loading (`__saved_model_init_op`) kept apart:
it is no signature to call and has no dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import dtypes, tensors

INIT_OP_KEY = "__saved_model_init_op"


@dataclass(frozen=True)
class SignatureTensor:
    key: str            # the name callers use ("x", "scores")
    tensor: str         # the graph tensor behind it ("serving_default_x:0")
    dtype: str          # "float32"
    shape: str          # "[-1, 224, 224, 3]", "<unknown rank>"

    @property
    def spec(self) -> str:
        return f"{self.dtype} {self.shape}"


@dataclass(frozen=True)
class Signature:
    key: str
    method: str
    inputs: list[SignatureTensor]
    outputs: list[SignatureTensor]


def shape_text(proto) -> str:
    dims = tensors.shape_of(proto)
    if dims is None:
        return "<unknown rank>"
    return "[" + ", ".join("-1" if d is None else str(d) for d in dims) + "]"


def _tensors(mapping) -> list[SignatureTensor]:
    return [SignatureTensor(k, t.name, dtypes.enum_name(t.dtype) if t.dtype else "?",
                            shape_text(t.tensor_shape))
            for k, t in sorted(mapping.items())]


def signatures(meta_graph) -> list[Signature]:
    """The signatures to call, by key (the init op left out)."""
    if meta_graph is None:
        return []
    return [Signature(k, s.method_name, _tensors(s.inputs), _tensors(s.outputs))
            for k, s in sorted(meta_graph.signature_def.items()) if not k.startswith(INIT_OP_KEY)]


def init_ops(meta_graph) -> list[str]:
    """The ops a SavedModel's loader runs once (TF2's `__saved_model_init_op`), by name."""
    if meta_graph is None:
        return []
    out = []
    for k, s in meta_graph.signature_def.items():
        if k.startswith(INIT_OP_KEY):
            out += [t.name.split(":", 1)[0] for t in s.outputs.values()]
    return out
