"""What a tensor is, in the terms the value displays choose by: worked out once per tensor
shown, then asked by every display whether (and how well) it fits."""

from __future__ import annotations

from dataclasses import dataclass

from .dtype_kinds import NUMERIC_KINDS, kind_of

# conv kernels [h, w, in, out] are drawn as images of these kinds; complex has no one colour
FILTER_KINDS = frozenset(("float", "int", "bool"))


@dataclass(frozen=True)
class Description:
    """A tensor's dtype family and geometry. `present` is False for "no tensor"."""

    dtype_name: str = ""
    kind: str = "other"
    shape: tuple[int, ...] = ()
    size: int = 0
    present: bool = False

    @classmethod
    def of(cls, array, dtype_name: str | None = None) -> Description:
        """Describe `array` (None: no tensor). `dtype_name` is the TF name, which tells the
        ml_dtypes types apart where numpy cannot."""
        if array is None:
            return cls(dtype_name=dtype_name or "")
        name = dtype_name or array.dtype.name
        return cls(dtype_name=name, kind=kind_of(name, array.dtype),
                   shape=tuple(int(n) for n in array.shape), size=int(array.size),
                   present=True)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def is_complex(self) -> bool:
        return self.kind == "complex"

    @property
    def is_string(self) -> bool:
        return self.kind == "string"

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def has_statistics(self) -> bool:
        """Statistics and a histogram can be computed (|x| for complex)."""
        return self.present and self.kind not in ("string", "other")

    @property
    def has_slices(self) -> bool:
        """2-D slices of numbers can be drawn as images."""
        return self.present and self.numeric and self.rank >= 2 and not self.empty

    @property
    def conv_kernel(self) -> bool:
        """Shaped like a 2-D convolution kernel [h, w, in, out] with drawable values."""
        return self.present and self.rank == 4 and self.kind in FILTER_KINDS and \
            not self.empty
