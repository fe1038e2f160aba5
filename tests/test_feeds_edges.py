"""Feed values (app.runner.feeds) at their edges: every limit just inside and just past it,
the whole message a user reads for each refusal, every arithmetic operator, the CSV, npz
and media forms, and coerce's fitting rules one by one. Fast: small files, limits lowered
with monkeypatch where the real ones would need gigabytes."""

from __future__ import annotations

import io
import pickle
import warnings
import wave
import zipfile

import ml_dtypes
import numpy as np
import pytest

from app.runner import feeds, media
from app.runner.feeds import FeedError, coerce, locate_file, materialize, parse_feed, parse_literal

from .conftest import run_python

CONSTRUCTORS = "arange, eye, full, linspace, normal, ones, random, zeros"
LIMIT = "33,554,432"
HINT = " (write a number, a list like [[1, 2], [3, 4]], a string in quotes, or e.g. zeros(2, 3))"


def refusal(text, **kw) -> str:
    with pytest.raises(FeedError) as info:
        parse_feed(text, **kw)
    return str(info.value)


# -- the whole message of each refusal ----------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("1 // 2", "the operator FloorDiv is not allowed in a value (only + - * / ** on numbers)"),
    ("~1", "the operator Invert is not allowed in a value"),
    ("2**300", "2**300 is too large a number"),
    ("(-2)**300", "-2**300 is too large a number"),
    ("2**256", "too large a number"),                     # computed, then found too large
    ("(2**200) * (2**200)", "the product is too large a number"),
    ("2**128 * 2**128", "the product is too large a number"),
    ("2**255 + 2**255", "too large a number"),
    ("10.0 ** 400", "** overflows"),
    ("1 / 0", "division by zero"),
    (str(2 ** 256), "the number 11579208923731619542… is too large"),
    ("1" * 5000, "not a value: a number with too many digits"),
    ("[1, 2", "not a value at column 1: '[' was never closed" + HINT),
    ("1 +", "not a value: invalid syntax" + HINT),
    ("1\x002", "not a value: source code string cannot contain null bytes" + HINT),
    ("-" * 5000 + "1", "not a value: nested or repeated too deeply to read"),
    ("", "the value is empty"),
    ("zeros(2)(3)", "only the listed constructors can be called"),
    ("open('x')", f"unknown function 'open'; the constructors are {CONSTRUCTORS}"),
    ("zeros(*[3])", "'*' unpacking is not allowed in a value"),
    ("zeros(**{'a': 3})", "'**' unpacking is not allowed in a value"),
    ("zeros(3, dtype=1)", "zeros() takes no keyword 'dtype' (allowed: none)"),
    ("random(2, dtype=1)", "random() takes no keyword 'dtype' (allowed: seed)"),
    ("'a' * 2", "arithmetic is allowed on plain numbers only"),
    ("np.pi", "attribute access (np.pi) is not allowed: constructors are called by their "
              "bare names, e.g. zeros(2, 3)"),
    ("(x := 1)", "':=' is not allowed in a value"),
    ("hello", f"unknown name 'hello' (strings need quotes: \"hello\"; constructors: "
              f"{CONSTRUCTORS})"),
    ("arange(1, 2, 3, 4)", "arange() takes stop, or start, stop[, step]: arange(10), "
                           "arange(0, 1, 0.25)"),
    ("arange('a')", "arange(): each argument must be a real number, got 'a'"),
    ("arange(inf)", "arange(): each argument must be finite"),
    ("arange(0, 10, 0)", "arange(): the step cannot be 0"),
    ("arange(10**15)", f"arange(): 1,000,000,000,000,000 elements is more than the limit of {LIMIT}"),
    ("eye(1, 2, 3)", "eye() takes n, or n and m: eye(3), eye(2, 4)"),
    ("eye(2.5)", "eye(): a size must be a whole number, got 2.5"),
    ("eye(2, 2.5)", "eye(): a size must be a whole number, got 2.5"),
    ("eye(-1, 2)", "eye(): sizes cannot be negative"),
    ("eye(2, -1)", "eye(): sizes cannot be negative"),
    ("eye(10**6)", f"eye(): 1,000,000,000,000 elements is more than the limit of {LIMIT}"),
    ("full(2)", "full() takes the shape, then the value: full(2, 3, 7.5) or full((2, 3), 7.5)"),
    ("full(2, [1, 2])", "full(): the value must be a single number or string"),
    ("full(-1, 2)", "full(): dimensions cannot be negative: [-1]"),
    ("zeros(True)", "zeros(): a dimension must be a whole number, got True"),
    ("zeros('a')", "zeros(): a dimension must be a whole number, got 'a'"),
    ("zeros(2.5)", "zeros(): a dimension must be a whole number, got 2.5"),
    ("zeros(inf)", "zeros(): a dimension must be a whole number, got inf"),
    ("zeros(-1)", "zeros(): dimensions cannot be negative: [-1]"),
    ("ones(-1)", "ones(): dimensions cannot be negative: [-1]"),
    ("zeros(10**12)", f"zeros(): 1,000,000,000,000 elements is more than the limit of {LIMIT}"),
    ("normal(-1)", "normal(): dimensions cannot be negative: [-1]"),
    ("random(-1)", "random(): dimensions cannot be negative: [-1]"),
    ("normal(2, seed=-1)", "normal(): the seed must be between 0 and 2**63 - 1"),
    ("random(2, seed=1.5)", "random(): the seed must be a whole number, got 1.5"),
    ("random(2, seed=2**63)", "random(): the seed must be between 0 and 2**63 - 1"),
    ("linspace(0)", "linspace() takes start, stop and the number of points: linspace(0, 1, 5)"),
    ("linspace(0, num=3)", "linspace() takes start, stop and the number of points: "
                           "linspace(0, 1, 5)"),
    ("linspace(0, 1, 5, num=3)", "linspace(): the number of points is given twice"),
    ("linspace('a', 1)", "linspace(): start and stop must be a real number, got 'a'"),
    ("linspace(0, 1, 2.5)", "linspace(): the number of points must be a whole number, got 2.5"),
    ("linspace(0, 1, -1)", "linspace(): the number of points cannot be negative"),
    ("linspace(0, 1, 10**10)", f"linspace(): 10,000,000,000 elements is more than the limit of {LIMIT}"),
    ("[zeros(2), zeros(2)]", "constructors cannot be nested inside lists"),
    ("[True, 1]", "the list mixes booleans and numbers"),
    ("[1, 'a']", "the list mixes numbers and strings"),
    ("[-2**63 - 1]", "a number does not fit in 64 bits"),
    ("[2**63, -1]", "a number does not fit in 64 bits"),
    ("[[1, 2], [3]]", "the nested lists are ragged: every row needs the same length"),
])
def test_each_refusal_says_exactly_what_is_wrong(text, message):
    assert refusal(text) == message


def test_only_text_is_parsed():
    assert str(pytest.raises(FeedError, parse_feed, 5).value) == "expected text, got int"


def test_feed_error_names_its_feed_only_when_known():
    plain = FeedError("the value is empty")
    assert str(plain) == "the value is empty" and plain.name is None
    named = FeedError("bad", "x")
    assert str(named) == "feed x: bad" and named.name == "x" and named.problem == "bad"


# -- arithmetic ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("5 - 2", 3), ("3 * 4", 12), ("+5", 5), ("-+5", -5), ("2.0 ** 300", 2.0 ** 300),
    ("2**200 / 2**190", 1024.0),                     # 2**200 is within the 256-bit bound
    ("2**256 / 2**250", None),                       # just past it: refused
    ("2**128 * 2**127 / 2**250", 32.0),              # a product of exactly 257 bits is allowed
    ("2**200 - 2**200", 0),                          # only products are bounded by their factors
    ("(2**255 + (2**255 - 1)) / 2**250", (2 ** 256 - 1) / 2 ** 250),  # 256 bits: allowed
    (f"{2 ** 256 - 1} / 2**250", (2 ** 256 - 1) / 2 ** 250),          # the same, typed in
    ("0**300 + 1**300 + (-1)**301", 0),
])
def test_arithmetic(text, expected):
    if expected is None:
        assert refusal(text) == "too large a number"
        return
    value = parse_feed(text)
    assert value.item() == expected and type(value.item()) is type(expected)


# -- nesting limits, inside strings and out ------------------------------------------------

def test_nesting_limit_counts_every_level_of_the_value():
    deep = feeds.MAX_DEPTH
    too_deep = f"the value is nested more than {deep} levels deep"
    # unary signs nest without brackets: the interpreter counts them
    assert parse_feed("+" * deep + "1") == 1
    assert refusal("+" * (deep + 1) + "1") == too_deep
    assert parse_feed("[" + "+" * (deep - 1) + "1]").tolist() == [1]
    assert refusal("[" + "+" * deep + "1]") == too_deep
    assert parse_feed("arange(" + "+" * (deep - 1) + "3)").tolist() == [0, 1, 2]
    assert refusal("arange(" + "+" * deep + "3)") == too_deep
    assert parse_feed("random(1, seed=" + "+" * (deep - 1) + "3)").shape == (1,)
    assert refusal("random(1, seed=" + "+" * deep + "3)") == too_deep
    assert parse_feed("1 + " + "+" * (deep - 1) + "1") == 2
    assert refusal("1 + " + "+" * deep + "1") == too_deep


def test_bracket_count_before_parsing():
    deep = feeds.MAX_DEPTH
    brackets = f"the value is nested {deep + 1} levels deep; at most {deep} are allowed"
    assert parse_feed("[" * deep + "1" + "]" * deep).shape == (1,) * deep
    assert parse_feed("[" * deep + "0X1" + "]" * deep).shape == (1,) * deep   # X is no bracket
    assert refusal("0X1, " + "[" * (deep + 1) + "1" + "]" * (deep + 1)) == brackets
    # brackets inside strings do not count, escaped quotes do not end them
    for text in ('"' + "[" * 40 + '"', "'" + "(" * 40 + "'", '"\\"' + "{" * 40 + '"',
                 "['\\\\', '" + "[" * 40 + "']"):
        assert parse_feed(text).dtype == object, text
    assert parse_feed('"\\"' + "[" * 40 + '"').item() == '"' + "[" * 40
    # but a string that ended does not hide the brackets after it
    for text in ('"", ', "'it''s', ", '"\\n", ', '"a\\\\", '):
        assert refusal(text + "[" * (deep + 1) + "1" + "]" * (deep + 1)) == brackets, text
    # a closing bracket gives back exactly one level
    assert parse_feed("(1) + " + "(" * deep + "1" + ")" * deep) == 2
    assert refusal("(1) + " + "(" * (deep + 1) + "1" + ")" * (deep + 1)) == brackets
    assert refusal("zeros(2)" + "()" * 40) == "only the listed constructors can be called"


def test_text_length_limit(monkeypatch):
    monkeypatch.setattr(feeds, "MAX_TEXT", 5)
    assert parse_literal("12345") == 12345
    assert str(pytest.raises(FeedError, parse_literal, "123456").value) == (
        "the value is 6 characters long, more than the 5 typed values may have; load big "
        "arrays from a file (@values.npy)")


def test_typed_lists_cannot_outgrow_the_element_limit():
    # every typed element takes at least a character: the text limit bounds them first
    assert feeds.MAX_TEXT < feeds.MAX_ELEMENTS


# -- constructors at their edges ----------------------------------------------------------

def test_constructor_edges(monkeypatch):
    np.testing.assert_array_equal(parse_feed("arange(2, 5)"), [2, 3, 4])
    np.testing.assert_array_equal(parse_feed("arange(10**8, 10**8 + 3)"), [10**8, 10**8 + 1, 10**8 + 2])
    assert parse_feed("arange(5, 2)").shape == (0,)
    assert parse_feed("eye(0)").shape == (0, 0)
    assert parse_feed("eye(2, 0)").shape == (2, 0)
    assert parse_feed("zeros(0)").shape == (0,)
    assert parse_feed("zeros(2.0)").shape == (2,)
    assert parse_feed("zeros(" + ", ".join(["1"] * feeds.MAX_RANK) + ")").ndim == feeds.MAX_RANK
    np.testing.assert_array_equal(parse_feed("linspace(0, 1)"), np.linspace(0, 1, 50))
    assert parse_feed("linspace(0, 1, 0)").shape == (0,)
    np.testing.assert_array_equal(parse_feed("random(2, seed=200)"),
                                  np.random.default_rng(200).random(2))
    np.testing.assert_array_equal(parse_feed("random(2, seed=2**63 - 1)"),
                                  np.random.default_rng(2 ** 63 - 1).random(2))
    monkeypatch.setattr(feeds, "MAX_ELEMENTS", 6)
    assert parse_feed("zeros(2, 3)").shape == (2, 3)
    assert refusal("zeros(7)") == "zeros(): 7 elements is more than the limit of 6"


def test_wide_integers():
    value = parse_feed("[2**63, 1]")
    assert value.dtype == np.uint64 and value.tolist() == [2 ** 63, 1]
    value = parse_feed("[2**64 - 1, 0]")
    assert value.dtype == np.uint64 and value.tolist() == [2 ** 64 - 1, 0]
    value = parse_feed("[-2**63, -200, 2**63 - 1]")
    assert value.dtype == np.int64 and value.tolist() == [-2 ** 63, -200, 2 ** 63 - 1]


# -- files ----------------------------------------------------------------------------------

def test_csv_forms(tmp_path):
    cases = {
        "plain.csv": ("1,2\n3,4\n", [[1, 2], [3, 4]]),          # numbers first: no header
        "bom.csv": ("\ufeff1,2\n3,4\n", [[1, 2], [3, 4]]),      # a BOM is not a header
        "one.csv": ("5\n", [5]),                                 # one value: still 1-d
        "tabs.tsv": ("a b\tc d\n1\t2\n3\t4\n", [[1, 2], [3, 4]]),
        "lead.csv": ("\n\n1,2\n", [1, 2]),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        value = parse_feed(f"@{name}", base_dir=str(tmp_path))
        assert value.dtype == np.float64 and value.tolist() == expected, name
    # text that is not UTF-8 is reported as such, not taken for a header
    (tmp_path / "latin.csv").write_bytes(b"caf\xe9,x\n1,2\n")
    assert refusal("@latin.csv", base_dir=str(tmp_path)).startswith(
        f"{tmp_path / 'latin.csv'}: cannot be read as csv: 'utf-8' codec can't decode byte 0xe9")


def test_csv_refusals(tmp_path, monkeypatch):
    (tmp_path / "empty.csv").write_text("\n \n")
    assert refusal("@empty.csv", base_dir=str(tmp_path)) == f"{tmp_path / 'empty.csv'}: the file is empty"
    # a missing value between tabs is an error, not a shifted column
    (tmp_path / "gap.tsv").write_text("1\t\t3\n4\t5\n")   # blanks would read [[1, 3], [4, 5]]
    assert "cannot be read as tsv" in refusal("@gap.tsv", base_dir=str(tmp_path))
    monkeypatch.setattr(feeds, "MAX_CSV_BYTES", 1 << 20)
    (tmp_path / "edge.csv").write_text("1\n" * (1 << 19))              # exactly the limit
    assert parse_feed("@edge.csv", base_dir=str(tmp_path)).shape == (1 << 19,)
    (tmp_path / "big.csv").write_text("1\n" * (1 << 20))
    assert refusal("@big.csv", base_dir=str(tmp_path)) == (
        f"{tmp_path / 'big.csv'}: 2 MB of text is more than the 1 MB a CSV may have; save it as .npy")
    monkeypatch.setattr(feeds, "MAX_ELEMENTS", 4)
    (tmp_path / "four.csv").write_text("1,2\n3,4\n")
    assert parse_feed("@four.csv", base_dir=str(tmp_path)).shape == (2, 2)
    (tmp_path / "five.csv").write_text("1\n2\n3\n4\n5\n")
    assert refusal("@five.csv", base_dir=str(tmp_path)) == f"{tmp_path / 'five.csv'}: more than 4 values"


def _npy_header_only(shape, dtype="<f8") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_npy_limits_from_the_header(tmp_path, monkeypatch):
    monkeypatch.setattr(feeds, "MAX_ELEMENTS", 10)
    np.save(tmp_path / "ten.npy", np.arange(10.0))
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'ten.npy'}"), np.arange(10.0))
    np.save(tmp_path / "eleven.npy", np.arange(11.0))
    assert refusal(f"@{tmp_path / 'eleven.npy'}") == (
        f"{tmp_path / 'eleven.npy'}: 11 elements is more than the limit of 10")
    monkeypatch.setattr(feeds, "MAX_ELEMENTS", 1 << 25)
    monkeypatch.setattr(feeds, "MAX_FILE_BYTES", 2 << 20)
    np.save(tmp_path / "edge.npy", np.zeros(1 << 18))                 # exactly 2 MB of data
    assert parse_feed(f"@{tmp_path / 'edge.npy'}").shape == (1 << 18,)
    np.save(tmp_path / "over.npy", np.zeros((1 << 18) + 1))
    assert refusal(f"@{tmp_path / 'over.npy'}") == f"{tmp_path / 'over.npy'}: larger than 2 MB"
    (tmp_path / "wide.npy").write_bytes(_npy_header_only((1 << 16,), "<U64"))  # 16 M of U64
    assert refusal(f"@{tmp_path / 'wide.npy'}") == f"{tmp_path / 'wide.npy'}: larger than 2 MB"


def test_npy_version_2_and_read_errors(tmp_path):
    with open(tmp_path / "v2.npy", "wb") as f:
        np.lib.format.write_array(f, np.arange(3), version=(2, 0))
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'v2.npy'}"), [0, 1, 2])
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with open(tmp_path / "junk.npy", "rb") as f, pytest.raises(ValueError) as numpy_says:
        np.lib.format.read_magic(f)
    assert refusal(f"@{tmp_path / 'junk.npy'}") == (
        f"{tmp_path / 'junk.npy'}: cannot be read as npy: {numpy_says.value}")


def test_pickles_are_refused_with_the_file_named(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert refusal(f"@{tmp_path / 'obj.npy'}") == (
        f"{tmp_path / 'obj.npy'}: holds Python objects (a pickle), which are never loaded")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    assert refusal(f"@{tmp_path / 'obj.npz'}") == (
        f"{tmp_path / 'obj.npz'}:x: holds Python objects (a pickle), which are never loaded")
    # a plain pickle under an .npz name is never unpickled
    (tmp_path / "plain.npz").write_bytes(pickle.dumps([1, 2, 3]))
    assert refusal(f"@{tmp_path / 'plain.npz'}") == (
        f"{tmp_path / 'plain.npz'}: cannot be read as npz: it holds Python objects (a pickle), "
        f"which are never loaded")


def test_npz_names_and_members(tmp_path):
    np.savez(tmp_path / "empty.npz")
    assert refusal(f"@{tmp_path / 'empty.npz'}") == (
        f"{tmp_path / 'empty.npz'} holds 0 arrays (none); name one: @empty.npz:KEY")
    assert refusal(f"@{tmp_path / 'empty.npz'}:x") == (
        f"{tmp_path / 'empty.npz'} has no array 'x' (it has: none)")
    np.savez(tmp_path / "many.npz", **{f"a{i:02}": np.arange(i) for i in range(12)})
    ten = ", ".join(f"a{i:02}" for i in range(10))
    assert refusal(f"@{tmp_path / 'many.npz'}") == (
        f"{tmp_path / 'many.npz'} holds 12 arrays ({ten}); name one: @many.npz:KEY")
    assert refusal(f"@{tmp_path / 'many.npz'}:zz") == (
        f"{tmp_path / 'many.npz'} has no array 'zz' (it has: {ten})")
    # a member stored without the .npy suffix
    buf = io.BytesIO()
    np.save(buf, np.arange(4))
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        z.writestr("raw", buf.getvalue())
    np.testing.assert_array_equal(parse_feed(f"@{tmp_path / 'raw.npz'}"), np.arange(4))


def test_locate_file_forms(tmp_path):
    base = str(tmp_path)
    (tmp_path / "odd.npz:k").write_bytes(b"x")            # a real file with ':' in its name wins
    assert locate_file("odd.npz:k", base) == (str(tmp_path / "odd.npz:k"), None)
    (tmp_path / "p.png:-1..1").write_bytes(b"x")
    assert locate_file("p.png:-1..1", base) == (str(tmp_path / "p.png:-1..1"), None)
    (tmp_path / "w.npz:v.npz").write_bytes(b"x")          # the last '.npz:' splits off the key
    assert locate_file("w.npz:v.npz:z", base) == (str(tmp_path / "w.npz:v.npz"), "z")
    (tmp_path / "x:y").mkdir()
    (tmp_path / "x:y" / "cat.png").write_bytes(b"x")      # the last ':' splits off the range
    assert locate_file("x:y/cat.png:0..255", base) == (str(tmp_path / "x:y" / "cat.png"), "0..255")
    assert locate_file("x:y/cat.png", base) == (str(tmp_path / "x:y" / "cat.png"), None)
    with pytest.raises(FeedError) as info:
        locate_file("x:y/cat.png:0..9", base)
    assert str(info.value) == "unknown value range '0..9' (use 0..1, 0..255, -1..1)"
    with pytest.raises(FeedError) as info:
        locate_file("x:y", base)
    assert str(info.value) == f"not a regular file: {tmp_path / 'x:y'}"
    with pytest.raises(FeedError) as info:
        locate_file("", base)
    assert str(info.value) == "'@' needs a file: @values.npy, @values.npz:key or @values.csv"


# -- media files through parse_feed and coerce ----------------------------------------------

def _png(path, size=(6, 4)):
    from PIL import Image
    Image.fromarray(np.full((size[1], size[0], 3), 255, np.uint8)).save(path)


def test_media_files(tmp_path):
    _png(tmp_path / "white.png")
    feed = parse_feed("@white.png", base_dir=str(tmp_path))
    assert isinstance(feed, media.MediaFeed)
    assert materialize(feed).shape == (4, 6, 3) and materialize(feed).max() == 1.0
    ranged = parse_feed("@white.png:-1..1", base_dir=str(tmp_path))
    assert materialize(ranged).min() == 1.0
    wide = parse_feed("@white.png", base_dir=str(tmp_path), image_range="0..255")
    assert materialize(wide).max() == 255.0
    fitted = coerce(feed, "float32", [1, 2, 2, 3], "img")
    assert fitted.dtype == np.float32 and fitted.shape == (1, 2, 2, 3)
    with pytest.raises(FeedError) as info:
        coerce(parse_feed("@white.png", base_dir=str(tmp_path)), "float32", [2, 4, 6, 3], "img")
    assert str(info.value) == "feed img: the input takes a batch of 2 images; one file gives one"
    assert info.value.name == "img"
    (tmp_path / "broken.png").write_bytes(b"not an image")
    message = refusal("@broken.png", base_dir=str(tmp_path))
    assert message.startswith("broken.png: not an image Pillow can decode"), message

    with wave.open(str(tmp_path / "clip.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.array([0, 16384, -16384], "<i2").tobytes())
    clip = materialize(parse_feed("@clip.wav", base_dir=str(tmp_path)))
    np.testing.assert_allclose(clip.ravel(), [0, 0.5, -0.5])

    (tmp_path / "words.txt").write_text("cat\ndog\n")
    words = parse_feed("@words.txt", base_dir=str(tmp_path))
    assert materialize(words).tolist() == ["cat", "dog"]
    assert coerce(words, "string", [2], "w").tolist() == [b"cat", b"dog"]


# -- coerce ----------------------------------------------------------------------------------

def test_coerce_fitting_rules():
    v = coerce(parse_feed("[1, 2]"), "float32_ref", [2], "r")
    assert v.dtype == np.float32 and v.tolist() == [1, 2]
    v = coerce(parse_feed("[1, -2]"), "qint8", [2], "q")
    assert v.dtype == np.int8 and v.tolist() == [1, -2]
    v = coerce(parse_feed("[1, 2]"), "quint8", [2], "q")
    assert v.dtype == np.uint8
    v = coerce(parse_feed("[-128, 127]"), "int8", [2], "i")
    assert v.dtype == np.int8 and v.tolist() == [-128, 127]
    v = coerce(parse_feed("[0, 255]"), "uint8", [2], "i")
    assert v.tolist() == [0, 255]
    v = coerce(parse_feed("[1.5, 2]"), "float8_e5m2", [2], "f8")
    assert v.dtype == ml_dtypes.float8_e5m2 and v.astype(float).tolist() == [1.5, 2.0]
    assert coerce(5, "int32", [], "s").item() == 5
    assert coerce((1, 2), "int64", [2], "t").tolist() == [1, 2]
    assert coerce(b"a\x00", "string", [], "s").item() == b"a\x00"       # bytes kept whole
    assert coerce(parse_feed('[b"a", b"b"]'), "string", [2], "s").tolist() == [b"a", b"b"]
    assert coerce(parse_feed("zeros(0, 3)"), "float32", [0, 3], "z").shape == (0, 3)


def test_coerce_keeps_arrays_that_already_fit():
    # a big feed of the placeholder's own dtype is passed on, not copied
    for arr, dtype in ((np.zeros(4, np.float32), "float32"), (np.zeros(4, np.int64), "int64"),
                       (np.zeros(4, bool), "bool"), (np.zeros(4, np.complex64), "complex64"),
                       (np.zeros(4, np.float16), "half"),
                       (np.zeros(4, ml_dtypes.float8_e5m2), "float8_e5m2")):
        assert coerce(arr, dtype, [4], "a") is arr, dtype


def test_coerce_overflow_is_an_error_not_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for value, dtype in (("1e300", "float32"), ("1e300 + 1j", "complex64"),
                             ("[1e300]", "bfloat16")):
            with pytest.raises(FeedError) as info:
                coerce(parse_feed(value), dtype, None, "o")
            assert str(info.value) == f"feed o: a value is out of the range of {dtype}"
        assert np.isinf(coerce(parse_feed("[inf, 1]"), "complex64", None, "o")[0])


@pytest.mark.parametrize("value, dtype, shape, message", [
    (np.array(["a"]).astype(object), "float32", None, "expects float32 numbers, got strings"),
    ("[1, 2]", "string", None, "expects strings, got whole numbers"),
    ("1.5", "bool", None, "expects booleans (True/False), got fractional numbers"),
    ('"a"', "int32", None, "expects int32 numbers, got strings"),
    ("1+2j", "int64", None, "expects int64 numbers, got complex numbers"),
    ("[True]", "int8", None, "expects int8 numbers, got booleans"),
    (np.array([None], dtype=object), "string", None, "expects strings, got object values"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "float32", None,
     "expects float32 numbers, got datetime64[D] values"),
    ("1", "variant", None, "a variant tensor cannot be fed a value"),
    ("1", "resource", None, "a resource tensor cannot be fed a value"),
    ("1", "no_such_type", None, "values of dtype no_such_type cannot be typed in"),
    ([1, "a"], "int64", None, "the list mixes numbers and strings"),
    ((True, 1), "int64", None, "the list mixes booleans and numbers"),
    ("[128]", "int8", None, "a value is out of the range of int8 (-128..127)"),
    ("[-129]", "int8", None, "a value is out of the range of int8 (-128..127)"),
    ("zeros(2, 3)", "float32", [0, 3], "shape [2, 3] does not fit the placeholder's [0, 3]"),
])
def test_coerce_refusals_in_full(value, dtype, shape, message):
    if isinstance(value, str):
        value = parse_feed(value)
    with pytest.raises(FeedError) as info:
        coerce(value, dtype, shape, "f")
    assert str(info.value) == f"feed f: {message}" and info.value.name == "f"
    assert info.value.problem == message


def test_bfloat16_in_a_process_that_never_imported_ml_dtypes():
    # numpy knows the name "bfloat16" only once ml_dtypes is imported; feeds must see to it
    code = ("import sys\nfrom app.runner.feeds import coerce\n"
            "assert 'ml_dtypes' not in sys.modules\n"
            "print(coerce([1.5], 'bfloat16', [1], 'b').dtype)\n")
    proc = run_python(code)
    assert proc.stdout.strip() == "bfloat16", proc.stdout + proc.stderr


def test_a_media_error_without_an_input_is_a_feed_error():
    class Unreadable(media.MediaFeed):      # the MediaFeed contract: natural() may raise
        path = "clip.wav"

        def natural(self):
            raise media.MediaError("clip.wav: cannot be read (truncated)")

    with pytest.raises(FeedError) as info:
        materialize(Unreadable())
    assert str(info.value) == "clip.wav: cannot be read (truncated)"
