"""The one rule for sizes, shapes and metric numbers (formats/display.py) and for dtype
kinds (formats/dtypes.py), with the cases where the old copies disagreed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.formats import dtypes
from app.formats.display import human_bytes, number_text, shape_text


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (500, "500 B"),          # the value panel said "500 bytes"
    (1000, "1000 B"),                    # … and "1,000 bytes"
    (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (5 << 20, "5.0 MiB"), (3 << 30, "3.0 GiB"), (2048 << 40, "2048.0 TiB"),
])
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_shape_text():
    assert shape_text([3, 4]) == "[3, 4]" and shape_text(()) == "[]"
    assert shape_text([None, 8, -1]) == "[?, 8, ?]"
    assert shape_text([0, 1, 2]) == "[0, 1, 2]"     # an empty dimension is known, not "?"
    # None: the caller says what it means (unknown rank, or no tensor on that side)
    assert shape_text(None) == "any shape"
    assert shape_text(None, "-") == "-" and shape_text(None, missing="") == ""


def test_number_text():
    assert number_text(0.000123456, ".4e") == "1.2346e-04"
    assert number_text(12345.678) == "1.235e+04" and number_text(3) == "3"
    assert number_text(None) == "-" and number_text(None, missing="") == ""
    # the CLI printed "nan" where the window showed "NaN"
    assert number_text(math.nan, ".4e") == "NaN" and number_text(float("nan")) == "NaN"
    assert number_text(math.inf, ".4e") == "inf" and number_text(-math.inf) == "-inf"


@pytest.mark.parametrize("dtype, kind", [
    ("float32", "float"), ("bfloat16", "float"), ("float8_e4m3fn", "float"), ("half", "float"),
    ("float4_e2m1fn", "float"), ("qint8", "int"), ("quint16", "int"), ("int4", "int"),
    ("uint2", "int"), ("bool", "bool"), ("complex128", "complex"), ("string", "string"),
    ("resource", "other"), ("variant", "other"),
])
def test_kind_of_names(dtype, kind):
    assert dtypes.kind(dtype) == kind
    d = dtypes.BY_NAME.get(dtype)
    if d is not None:
        assert d.kind == kind and dtypes.kind(d) == kind


def test_kind_of_numpy_dtypes():
    import ml_dtypes
    assert dtypes.kind(np.dtype(np.float16)) == "float"
    assert dtypes.kind(np.dtype(np.uint8)) == "int" and dtypes.kind(np.dtype(bool)) == "bool"
    assert dtypes.kind(np.dtype(np.complex64)) == "complex"
    assert dtypes.kind(np.dtype(object)) == "string" and dtypes.kind(np.dtype("S3")) == "string"
    # ml_dtypes report numpy kind "V": told apart by name. The feeds called int4 and
    # float4 values an unknown type while the value table called them int and float.
    assert dtypes.kind(np.dtype(ml_dtypes.int4)) == "int"
    assert dtypes.kind(np.dtype(ml_dtypes.float4_e2m1fn)) == "float"
    assert dtypes.kind(np.dtype(ml_dtypes.bfloat16)) == "float"
    assert dtypes.kind(np.dtype([("a", np.int8)])) == "other"
    assert dtypes.is_extension(np.dtype(ml_dtypes.bfloat16))
    assert dtypes.is_extension(np.dtype(ml_dtypes.float8_e5m2))   # numpy kind "f" here
    assert not dtypes.is_extension(np.dtype(np.float16))
    # a newer ml_dtypes type whose name no rule lists still needs widening before arithmetic
    assert dtypes.is_extension(np.dtype(ml_dtypes.float6_e3m2fn))


def test_enum_name_for_known_and_unknown_values():
    assert dtypes.enum_name(1) == "float32" and dtypes.enum_name(14) == "bfloat16"
    assert dtypes.enum_name(7) == "string" and dtypes.enum_name(20) == "resource"
    assert dtypes.enum_name(999) == "unknown dtype 999"
    # reference types (TF1's VariableV2 outputs) are their base type + 100
    assert dtypes.enum_name(101) == "float32" and dtypes.enum_name(114) == "bfloat16"
    assert dtypes.from_enum(120) is dtypes.from_enum(20) and dtypes.from_enum(100) is None


def test_dtype_predicates_follow_kind():
    for d in dtypes.BY_ENUM.values():
        assert d.is_string == (d.kind == "string") and d.is_complex == (d.kind == "complex")
        assert d.is_float == (d.kind == "float")
        assert d.is_numeric == (d.kind in ("bool", "int", "float")) == dtypes.is_numeric(d)
        if d.is_array and not d.is_string:   # the name rule agrees with numpy's own type
            assert dtypes.kind(d.numpy) == d.kind, d.name
