"""Feed values (app.runner.feeds): what users type is parsed, never evaluated; hostile
text is refused with a clear message before anything big is allocated; values are fitted
to a placeholder's dtype and shape. Pure: no TensorFlow here."""

from __future__ import annotations

import zipfile

import ml_dtypes
import numpy as np
import pytest

from app.runner import feeds
from app.runner.feeds import FeedError, coerce, parse_feed, split_assignment

from .conftest import run_python


# -- literals ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("13", np.array(13)),
    ("-2.5", np.array(-2.5)),
    ("1e-3", np.array(1e-3)),
    ("  7  ", np.array(7)),
    ("True", np.array(True)),
    ("false", np.array(False)),
    ("[[1, 2], [3, 4]]", np.array([[1, 2], [3, 4]])),
    ("(1, 2.5)", np.array([1.0, 2.5])),
    ("[True, False]", np.array([True, False])),
    ("[]", np.array([])),
    ("-inf", np.array(-np.inf)),
    ("[inf, -inf, 1]", np.array([np.inf, -np.inf, 1.0])),
    ("1+2j", np.array(1 + 2j)),
    ("2**10", np.array(1024)),
    ("2**-2", np.array(0.25)),
    ("-(3)", np.array(-3)),
    ("9223372036854775807", np.array(2 ** 63 - 1)),
    ("18446744073709551615", np.array(2 ** 64 - 1, dtype=np.uint64)),
])
def test_literals(text, expected):
    value = parse_feed(text)
    assert value.dtype == expected.dtype and value.shape == expected.shape
    np.testing.assert_array_equal(value, expected)


def test_nan_and_strings():
    assert np.isnan(parse_feed("nan"))
    assert parse_feed('"text"').item() == "text"
    assert parse_feed("b'raw'").item() == b"raw"
    words = parse_feed('[["a", "b"], ["c", "d"]]')
    assert words.shape == (2, 2) and words.dtype == object and words[1, 0] == "c"
    assert parse_feed('"[not a list]"').item() == "[not a list]"  # brackets in strings


# -- constructors ------------------------------------------------------------------------

def test_constructors():
    np.testing.assert_array_equal(parse_feed("zeros(2, 3)"), np.zeros((2, 3)))
    np.testing.assert_array_equal(parse_feed("zeros((2, 3))"), np.zeros((2, 3)))
    np.testing.assert_array_equal(parse_feed("ones([4])"), np.ones(4))
    np.testing.assert_array_equal(parse_feed("zeros()"), np.zeros(()))
    np.testing.assert_array_equal(parse_feed("full(2, 3, 7.5)"), np.full((2, 3), 7.5))
    np.testing.assert_array_equal(parse_feed("full((2,), -1)"), np.array([-1, -1]))
    np.testing.assert_array_equal(parse_feed("eye(3)"), np.eye(3))
    np.testing.assert_array_equal(parse_feed("eye(2, 4)"), np.eye(2, 4))
    np.testing.assert_array_equal(parse_feed("arange(5)"), np.arange(5))
    np.testing.assert_array_equal(parse_feed("arange(1, 2, 0.25)"), np.arange(1, 2, 0.25))
    np.testing.assert_array_equal(parse_feed("linspace(0, 1, 5)"), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(parse_feed("linspace(0, 1, num=3)"), np.linspace(0, 1, 3))


def test_random_is_seeded_and_repeatable():
    a, b = parse_feed("random(3, 4)"), parse_feed("random((3, 4))")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(0).random((3, 4)))
    c = parse_feed("random(3, 4, seed=7)")
    np.testing.assert_array_equal(c, np.random.default_rng(7).random((3, 4)))
    assert not np.array_equal(a, c)
    n = parse_feed("normal(1, 224, 224, 3, seed=1)")
    assert n.shape == (1, 224, 224, 3)
    np.testing.assert_array_equal(n, np.random.default_rng(1).standard_normal((1, 224, 224, 3)))


# -- hostile or wrong text ---------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("zeros(10**12)", "1,000,000,000,000 elements"),
    ("ones(100000, 100000)", "more than the limit"),
    ("random(10**6, 10**6, seed=1)", "more than the limit"),
    ("full((10**5, 10**5), 1)", "more than the limit"),
    ("eye(10**6)", "more than the limit"),
    ("arange(10**15)", "more than the limit"),
    ("arange(0, 1, 1e-12)", "more than the limit"),
    ("linspace(0, 1, 10**10)", "more than the limit"),
    ("zeros(" + ", ".join(["1"] * 40) + ")", "at most 32 dimensions"),
    ("[" * 1000 + "]" * 1000, "nested 1000 levels"),
    ("[" * 33 + "1" + "]" * 33, "nested"),
    ("np.zeros(3)", "attribute access (np.zeros)"),
    ("numpy.random.rand(2)", "attribute access"),
    ("().__class__.__bases__", "attribute access"),
    ("__import__('os').system('true')", "attribute access ((…).system)"),
    ("__import__('os')", "'__import__' is not allowed"),
    ("__builtins__", "not allowed"),
    ("lambda: 1", "lambdas are not allowed"),
    ("[x for x in (1, 2)]", "comprehensions are not allowed"),
    ("{'a': 1}", "dicts are not allowed"),
    ("[1, 2][0]", "subscripts are not allowed"),
    ("f'{1}'", "f-strings are not allowed"),
    ("1 if True else 2", "conditional expressions"),
    ("1 < 2", "comparisons"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('1')", "unknown function 'exec'"),
    ("zeros(*[3])", "unpacking"),
    ("zeros(**{'shape': 3})", "unpacking"),
    ("zeros(3, dtype='float32')", "no keyword 'dtype'"),
    ("zeros", "is a constructor"),
    ("hello", "unknown name 'hello'"),
    ("None", "None is not a value"),
    ("...", "not a value"),
    ("9**9**9**9", "too large"),
    ("10**400", "too large"),
    ("(2**200) * (2**200)", "too large"),
    ("1" * 5000, "too many digits"),
    ("'a' * 10**9", "arithmetic is allowed on plain numbers only"),
    ("[1] * 10**9", "arithmetic is allowed on plain numbers only"),
    ("-'a'", "plain numbers"),
    ("1 // 2", "not allowed"),
    ("1 / 0", "division by zero"),
    ("[1, 'a']", "mixes"),
    ("[True, 1]", "mixes"),
    ("[[1, 2], [3]]", "ragged"),
    ("[zeros(2), zeros(2)]", "cannot be nested"),
    ("2**70", "64 bits"),
    ("[2**64, 1]", "64 bits"),
    ("[1, 2", "not a value"),
    ("zeros(-1)", "negative"),
    ("zeros(2.5)", "whole number"),
    ("full(2, [1, 2])", "must be a single number"),
    ("full(2)", "takes the shape, then the value"),
    ("arange(0, 10, 0)", "step cannot be 0"),
    ("random(3, seed=-1)", "seed"),
    ("x" * (feeds.MAX_TEXT + 1), "characters long"),
    ("[" + "1," * (feeds.MAX_TEXT // 2) + "]", "characters long"),
])
def test_hostile_or_wrong_text_is_refused(text, message):
    with pytest.raises(FeedError) as info:
        parse_feed(text)
    assert message in str(info.value), str(info.value)


def test_long_but_allowed_literal():
    values = parse_feed("[" + ", ".join(["1.5"] * 50_000) + "]")
    assert values.shape == (50_000,) and values.dtype == np.float64


def test_feed_error_is_a_value_error():
    assert issubclass(FeedError, ValueError)


# -- files -----------------------------------------------------------------------------

def test_npy_npz_csv(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "one.npz", only=a)
    np.savez(tmp_path / "two.npz", first=a, second=a * 2)
    (tmp_path / "t.csv").write_text("c1,c2,c3\n1,2,3\n4,5,6\n")
    (tmp_path / "blank.txt").write_text("1 2\n3 4\n")
    (tmp_path / "col.csv").write_text("1\n2\n3\n")

    loaded = parse_feed(f"@{tmp_path / 'a.npy'}")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, a)
    np.testing.assert_array_equal(parse_feed("@a.npy", base_dir=str(tmp_path)), a)
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'one.npz'}"), a)
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'two.npz'}:second"), a * 2)
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 't.csv'}"), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'blank.txt'}"), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'col.csv'}"), [1, 2, 3])

    with pytest.raises(FeedError, match="holds 2 arrays"):
        parse_feed(f"@{tmp_path / 'two.npz'}")
    with pytest.raises(FeedError, match="no array 'third'"):
        parse_feed(f"@{tmp_path / 'two.npz'}:third")
    with pytest.raises(FeedError, match="no such file"):
        parse_feed(f"@{tmp_path / 'missing.npy'}")
    with pytest.raises(FeedError, match="needs a file"):
        parse_feed("@")
    with pytest.raises(FeedError, match="unknown kind of file"):
        (tmp_path / "a.bin").write_bytes(b"\0")
        parse_feed(f"@{tmp_path / 'a.bin'}")


def test_pickles_are_never_loaded(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FeedError, match="pickle"):
        parse_feed(f"@{tmp_path / 'obj.npy'}")
    with pytest.raises(FeedError, match="pickle"):
        parse_feed(f"@{tmp_path / 'obj.npz'}")


def _npy_header_only(shape, dtype="<f8") -> bytes:
    """A .npy file that declares `shape` but holds no data at all."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_huge_files_are_refused_from_their_header(tmp_path):
    (tmp_path / "huge.npy").write_bytes(_npy_header_only((10 ** 6, 10 ** 6)))
    with pytest.raises(FeedError, match="more than the limit"):
        parse_feed(f"@{tmp_path / 'huge.npy'}")
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("big.npy", _npy_header_only((10 ** 9,)))
    with pytest.raises(FeedError, match="more than the limit"):
        parse_feed(f"@{tmp_path / 'huge.npz'}")
    (tmp_path / "short.npy").write_bytes(_npy_header_only((10,)))
    with pytest.raises(FeedError, match="cannot be read"):
        parse_feed(f"@{tmp_path / 'short.npy'}")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(FeedError, match="cannot be read"):
        parse_feed(f"@{tmp_path / 'junk.npy'}")
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(FeedError, match="cannot be read"):
        parse_feed(f"@{tmp_path / 'bad.csv'}")


def test_split_assignment():
    assert split_assignment("x=[1, 2]") == ("x", "[1, 2]")
    assert split_assignment("x:0=@f.npy") == ("x:0", "@f.npy")
    assert split_assignment("s='a=b'") == ("s", "'a=b'")
    for bad in ("x", "=3", ""):
        with pytest.raises(FeedError, match="NAME=VALUE"):
            split_assignment(bad)


# -- fitting to a placeholder ------------------------------------------------------------

def test_coerce_converts_where_values_keep_their_meaning():
    v = coerce(parse_feed("13"), "float32", None, "w1")
    assert v.dtype == np.float32 and v.shape == () and v == 13
    v = coerce(parse_feed("[1.0, 2.0]"), "int64", [None], "y")
    assert v.dtype == np.int64 and v.tolist() == [1, 2]
    v = coerce(parse_feed("zeros(2, 8, 8, 1)"), "float32", [-1, 8, 8, 1], "x")
    assert v.dtype == np.float32 and v.shape == (2, 8, 8, 1)
    v = coerce(parse_feed("[1, 2]"), "bfloat16", [2], "b")
    assert v.dtype == ml_dtypes.bfloat16
    v = coerce(parse_feed("1+2j"), "complex64", [], "c")
    assert v.dtype == np.complex64
    v = coerce(parse_feed("3"), "complex128", None, "c")
    assert v.dtype == np.complex128
    v = coerce(parse_feed("[True, False]"), "bool", [2], "m")
    assert v.dtype == np.bool_
    v = coerce(parse_feed('["a", "é"]'), "string", [None], "s")
    assert v.dtype == object and v.tolist() == [b"a", "é".encode()]
    v = coerce("plain", "string", [], "s")
    assert v.item() == b"plain"
    v = coerce(np.array([1, 2], np.int32), "int64", [2], "i")
    assert v.dtype == np.int64
    v = coerce([[1, 2]], "float64", [1, 2], "list")  # Python values are accepted too
    assert v.dtype == np.float64
    v = coerce(parse_feed("inf"), "float16", [], "h")
    assert np.isinf(v)


@pytest.mark.parametrize("text, dtype, shape, message", [
    ("1.5", "int32", None, "whole numbers"),
    ("nan", "int64", None, "whole numbers"),
    ("300", "uint8", None, "out of the range of uint8"),
    ("-1", "uint32", None, "out of the range"),
    ("1e300", "float32", None, "out of the range of float32"),
    ("70000", "float16", None, "out of the range of float16"),
    ("True", "float32", None, "expects float32 numbers, got booleans"),
    ("1", "bool", None, "expects booleans"),
    ('"a"', "float32", None, "got strings"),
    ("13", "string", None, "expects strings"),
    ("1+2j", "float64", None, "got complex numbers"),
    ("[1, 2, 3]", "float32", [None, 3], "shape [3] does not fit the placeholder's [?, 3]"),
    ("zeros(2, 3)", "float32", [2, 4], "shape [2, 3] does not fit"),
    ("1", "float32", [1], "shape [] does not fit"),
    ("1", "resource", None, "cannot be fed"),
])
def test_coerce_refuses_with_the_feed_named(text, dtype, shape, message):
    with pytest.raises(FeedError) as info:
        coerce(parse_feed(text), dtype, shape, "my_feed")
    assert str(info.value).startswith("feed my_feed: ") and message in str(info.value), \
        str(info.value)


def test_shape_text():
    assert feeds.shape_text(None) == "any shape"
    assert feeds.shape_text([None, 8, -1]) == "[?, 8, ?]"
    assert feeds.shape_text(()) == "[]"


# -- layering ----------------------------------------------------------------------------

def test_runner_modules_import_no_tensorflow():
    """The window and the command line import these freely: TensorFlow only loads when a
    session is actually used."""
    code = ("import sys, app.runner.feeds, app.runner.graphwalk, app.runner.session, "
            "app.runner.worker, app.runner.service, app.cli.run\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Names that read or write files, or start processes, if typed text could ever reach them:
# numpy's own as much as Python's. None is a constructor, so each must be refused by name,
# before anything is called.
_FILE_AND_PROCESS_NAMES = [
    "fromfile", "load", "save", "savez", "savez_compressed", "savetxt", "loadtxt",
    "genfromtxt", "fromregex", "memmap", "DataSource", "tofile", "open", "exec", "eval",
    "compile", "getattr", "system", "popen", "input", "breakpoint",
]


@pytest.mark.parametrize("name", _FILE_AND_PROCESS_NAMES)
def test_names_that_touch_files_or_processes_are_refused(tmp_path, name):
    target = tmp_path / "written.npy"
    for text in (f"{name}('/etc/hostname', 'uint8')", f"{name}('/etc/hostname')",
                 f"{name}({str(target)!r}, [1, 2])", f"{name}({str(target)!r}, zeros(2))"):
        with pytest.raises(FeedError, match=f"unknown function '{name}'"):
            parse_feed(text)
    assert list(tmp_path.iterdir()) == []


def test_no_numpy_name_but_the_constructors_can_be_called():
    # A fallback to numpy's namespace would make every public name below callable.
    for name in sorted(n for n in dir(np) if not n.startswith("_")):
        if name in feeds._CONSTRUCTORS:
            continue
        with pytest.raises(FeedError, match="unknown function"):
            parse_feed(f"{name}(1)")


def test_dotted_paths_to_numpy_file_functions_are_refused():
    for text in ("lib.npyio.load('/etc/hostname')", "np.fromfile('/etc/hostname')",
                 "zeros(2).tofile('/tmp/x')", "numpy.save('/tmp/x', 1)"):
        with pytest.raises(FeedError, match="attribute access"):
            parse_feed(text)
