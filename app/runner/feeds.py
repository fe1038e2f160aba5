"""Values for placeholders, from the text a user types. Pure: numpy only.

Text is parsed, never evaluated. Three forms are understood:

- literals, read with Python's own parser but interpreted here, node by node: numbers
  (`13`, `-2.5`, `1e-3`, `1+2j`, `2**10`), `True`/`False`, strings (`"text"`, `b"raw"`),
  the words `inf` and `nan`, and nested lists or tuples of these (`[[1, 2], [3, 4]]`);
- a few constructors called by their bare names: `zeros(2, 3)`, `ones((2, 3))`,
  `full(2, 3, 7.5)` (the last argument is the fill value), `eye(3)`, `arange(10)`,
  `arange(0, 1, 0.1)`, `linspace(0, 1, 5)`, `random(2, 3)` (uniform in [0, 1)) and
  `normal(2, 3)` (standard normal), both with `seed=0` unless given another;
- files: `@x.npy`, `@x.npz` (its only array) or `@x.npz:key`, `@x.csv` (numbers separated
  by commas, or by blanks; a header line is skipped); media files (app.runner.media):
  `@cat.jpg` (PNG, JPEG, …; `@cat.jpg:-1..1` picks the value range), `@clip.wav`, and
  `@lines.txt` (its numbers, or its lines as strings when they are not numbers). A media
  file is fitted to its input (size, channels, length) by `coerce`.

Anything else — attribute access, names outside that list, lambdas, comprehensions,
subscripts, `**`-bombs, pickles in .npy files — is refused with a ValueError (`FeedError`)
that says what was wrong. Sizes are checked before anything is allocated.

`coerce(value, dtype, shape)` then fits a parsed value to a placeholder: the dtype is
converted where no value changes meaning (an int literal into a float placeholder, a
float array with whole values into an int one), and the shape must match wherever the
placeholder's shape is known.
"""

from __future__ import annotations

import ast
import math
import os
import zipfile

import numpy as np

from ..formats import dtypes
from . import media
from ..formats.display import shape_text  # noqa: F401  (callers format feed shapes with it)

# Limits on what typed text may ask for. Bigger inputs belong in a .npy file.
MAX_TEXT = 1_000_000          # characters of literal text
MAX_DEPTH = 32                # nesting of lists / tuples / calls
MAX_ELEMENTS = 1 << 25        # elements of one constructed or loaded array (~33.5 M)
MAX_RANK = 32
MAX_INT_BITS = 256            # integer arithmetic in a literal stays below 2**256
MAX_FILE_BYTES = 4 << 30      # .npy / .npz members
MAX_CSV_BYTES = 256 << 20     # text files are parsed into Python objects first: smaller

DEFAULT_SEED = 0


class FeedError(ValueError):
    """A value that cannot be read, or does not fit its placeholder. `str()` is a short
    message fit for a user; `name` is the feed it concerns, when known."""

    def __init__(self, message: str, name: str | None = None):
        self.name = name
        self.problem = message
        super().__init__(f"feed {name}: {message}" if name else message)


# -- entry points ----------------------------------------------------------------------

def parse_feed(text: str, base_dir: str | None = None, image_range: str | None = None):
    """The array a feed's text stands for, or a `media.MediaFeed` that `coerce` fits to its
    input. `@FILE` paths are relative to `base_dir` (default: the current directory);
    `image_range` is the value range of images that do not name one. Raises FeedError."""
    if not isinstance(text, str):
        raise FeedError(f"expected text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise FeedError("the value is empty")
    if stripped.startswith("@"):
        return load_file(stripped[1:].strip(), base_dir, image_range)
    return parse_literal(stripped)


def materialize(value) -> np.ndarray:
    """A parsed value as an array where no input says how to fit it."""
    if isinstance(value, media.MediaFeed):
        try:
            return value.natural()
        except media.MediaError as e:
            raise FeedError(str(e)) from None
    return value


def split_assignment(arg: str) -> tuple[str, str]:
    """`NAME=VALUE` → (NAME, VALUE), for command-line feeds."""
    name, sep, value = arg.partition("=")
    name = name.strip()
    if not sep or not name:
        raise FeedError(f"{arg!r}: expected NAME=VALUE (e.g. x=[1, 2] or x=@values.npy)")
    return name, value


# -- literals and constructors ---------------------------------------------------------

_WORDS = {"inf": math.inf, "nan": math.nan, "true": True, "false": False,
          "infinity": math.inf}

_NOT_ALLOWED = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
    ast.Dict: "dicts", ast.Set: "sets", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions", ast.Compare: "comparisons",
    ast.BoolOp: "'and'/'or'", ast.IfExp: "conditional expressions",
    ast.JoinedStr: "f-strings", ast.Starred: "'*' unpacking", ast.NamedExpr: "':='",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices",
}


def parse_literal(text: str) -> np.ndarray:
    """A literal or constructor call as an array (0-d for scalars)."""
    if len(text) > MAX_TEXT:
        raise FeedError(f"the value is {len(text):,} characters long, more than the "
                        f"{MAX_TEXT:,} typed values may have; load big arrays from a file "
                        f"(@values.npy)")
    depth = _bracket_depth(text)
    if depth > MAX_DEPTH:
        raise FeedError(f"the value is nested {depth} levels deep; at most {MAX_DEPTH} are "
                        f"allowed")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        if "digits" in str(e.msg):  # an int literal of thousands of digits
            raise FeedError("not a value: a number with too many digits") from None
        where = f" at column {e.offset}" if e.offset else ""
        raise FeedError(f"not a value{where}: {e.msg} (write a number, a list like "
                        f"[[1, 2], [3, 4]], a string in quotes, or e.g. zeros(2, 3))") from None
    except ValueError as e:  # e.g. an int literal of 10,000 digits
        problem = "a number with too many digits" if "digits" in str(e) else str(e)
        raise FeedError(f"not a value: {problem}") from None
    except (RecursionError, MemoryError):
        raise FeedError("not a value: nested or repeated too deeply to read") from None
    value = _Interpreter().value(tree.body)
    return _to_array(value)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of (), [] and {} outside string literals — checked before the
    text reaches Python's parser, which has its own, less friendly limits."""
    depth = deepest = 0
    quote = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


class _Interpreter:
    """Walks the syntax tree of a literal, allowing only the node kinds listed above."""

    def value(self, node, depth: int = 0):
        if depth > MAX_DEPTH:
            raise FeedError(f"the value is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, (ast.List, ast.Tuple)):
            # no count here: every element takes a character or two of at most MAX_TEXT
            return [self.value(e, depth + 1) for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        what = _NOT_ALLOWED.get(type(node), type(node).__name__)
        if isinstance(node, ast.Attribute):
            raise FeedError(f"attribute access ({_dotted(node)}) is not allowed: constructors "
                            f"are called by their bare names, e.g. zeros(2, 3)")
        raise FeedError(f"{what} are not allowed in a value" if what.endswith("s")
                        else f"{what} is not allowed in a value")

    @staticmethod
    def _constant(v):
        if isinstance(v, bool) or isinstance(v, (int, float, complex, str, bytes)):
            if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > MAX_INT_BITS:
                raise FeedError(f"the number {str(v)[:20]}… is too large")
            return v
        raise FeedError(f"{v!r} is not a value a tensor can hold")

    def _number(self, node, depth):
        v = self.value(node, depth + 1)
        if isinstance(v, bool) or not isinstance(v, (int, float, complex)):
            raise FeedError("arithmetic is allowed on plain numbers only")
        return v

    def _unary(self, node, depth):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise FeedError(f"the operator {type(node.op).__name__} is not allowed in a value")
        v = self._number(node.operand, depth)
        return -v if isinstance(node.op, ast.USub) else +v

    def _binary(self, node, depth):
        ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
        sym = ops.get(type(node.op))
        if sym is None:
            raise FeedError(f"the operator {type(node.op).__name__} is not allowed in a value "
                            f"(only + - * / ** on numbers)")
        a, b = self._number(node.left, depth), self._number(node.right, depth)
        # Bound integer results before computing them: 9**9**9 must not run for minutes.
        # (Float and complex powers take constant time; they overflow or they don't.)
        if isinstance(a, int) and isinstance(b, int):
            if sym == "**" and b > 0 and a not in (0, 1, -1) and (
                    abs(a).bit_length() - 1) * b > MAX_INT_BITS:
                raise FeedError(f"{a}**{b} is too large a number")
            if sym == "*" and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
                raise FeedError("the product is too large a number")
        try:
            if sym == "+":
                r = a + b
            elif sym == "-":
                r = a - b
            elif sym == "*":
                r = a * b
            elif sym == "/":
                r = a / b
            else:
                r = a ** b
        except ZeroDivisionError:
            raise FeedError("division by zero") from None
        except OverflowError:
            raise FeedError(f"{sym} overflows") from None
        if isinstance(r, int) and r.bit_length() > MAX_INT_BITS:
            raise FeedError("too large a number")
        return r

    @staticmethod
    def _name(name: str):
        if "__" in name:
            raise FeedError(f"the name {name!r} is not allowed")
        word = _WORDS.get(name.lower())
        if word is not None:
            return word
        if name in _CONSTRUCTORS:
            raise FeedError(f"{name} is a constructor: call it, e.g. {name}(2, 3)")
        raise FeedError(f"unknown name {name!r} (strings need quotes: \"{name}\"; "
                        f"constructors: {', '.join(sorted(_CONSTRUCTORS))})")

    def _call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise FeedError(f"attribute access ({_dotted(node.func)}) is not allowed: "
                                f"constructors are called by their bare names, e.g. zeros(2, 3)")
            raise FeedError("only the listed constructors can be called")
        name = node.func.id
        spec = _CONSTRUCTORS.get(name)
        if spec is None:
            if "__" in name:
                raise FeedError(f"the name {name!r} is not allowed")
            raise FeedError(f"unknown function {name!r}; the constructors are "
                            f"{', '.join(sorted(_CONSTRUCTORS))}")
        fn, keywords = spec
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise FeedError("'*' unpacking is not allowed in a value")
            args.append(self.value(a, depth + 1))
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                raise FeedError("'**' unpacking is not allowed in a value")
            if k.arg not in keywords:
                allowed = ", ".join(keywords) or "none"
                raise FeedError(f"{name}() takes no keyword {k.arg!r} (allowed: {allowed})")
            kwargs[k.arg] = self.value(k.value, depth + 1)
        return fn(name, args, kwargs)


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "(…)")
    return ".".join(reversed(parts))


# The constructors. Each checks its arguments and the size of its result before allocating.

def _int_arg(fname: str, v, what: str = "a size") -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (
            isinstance(v, float) and (not math.isfinite(v) or v != int(v))):
        raise FeedError(f"{fname}(): {what} must be a whole number, got {v!r}")
    return int(v)


def _shape(fname: str, args: list) -> tuple[int, ...]:
    """`f(2, 3)` and `f((2, 3))` alike; every dimension checked, the total too."""
    if len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    if len(args) > MAX_RANK:
        raise FeedError(f"{fname}(): at most {MAX_RANK} dimensions")
    shape = tuple(_int_arg(fname, a, "a dimension") for a in args)
    if any(d < 0 for d in shape):
        raise FeedError(f"{fname}(): dimensions cannot be negative: {list(shape)}")
    _check_size(fname, shape)
    return shape


def _check_size(fname: str, shape) -> None:
    n = 1
    for d in shape:
        n *= d
    if n > MAX_ELEMENTS:
        raise FeedError(f"{fname}(): {n:,} elements is more than the limit of "
                        f"{MAX_ELEMENTS:,}")


def _scalar(fname: str, v, what="the value"):
    if isinstance(v, list):
        raise FeedError(f"{fname}(): {what} must be a single number or string")
    return v


def _zeros(name, args, kwargs):
    return np.zeros(_shape(name, args))


def _ones(name, args, kwargs):
    return np.ones(_shape(name, args))


def _full(name, args, kwargs):
    if len(args) < 2:
        raise FeedError("full() takes the shape, then the value: full(2, 3, 7.5) or "
                        "full((2, 3), 7.5)")
    value = _scalar(name, args[-1])
    return np.full(_shape(name, args[:-1]), value)


def _eye(name, args, kwargs):
    if not 1 <= len(args) <= 2:
        raise FeedError("eye() takes n, or n and m: eye(3), eye(2, 4)")
    n = _int_arg(name, args[0])
    m = _int_arg(name, args[1]) if len(args) > 1 else n
    if n < 0 or m < 0:
        raise FeedError("eye(): sizes cannot be negative")
    _check_size(name, (n, m))
    return np.eye(n, m)


def _real(fname: str, v, what: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FeedError(f"{fname}(): {what} must be a real number, got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise FeedError(f"{fname}(): {what} must be finite")
    return v


def _arange(name, args, kwargs):
    if not 1 <= len(args) <= 3:
        raise FeedError("arange() takes stop, or start, stop[, step]: arange(10), "
                        "arange(0, 1, 0.25)")
    nums = [_real(name, a, "each argument") for a in args]
    start, stop, step = (0, nums[0], 1) if len(nums) == 1 else (
        nums[0], nums[1], nums[2] if len(nums) > 2 else 1)
    if step == 0:
        raise FeedError("arange(): the step cannot be 0")
    count = max(0, math.ceil((stop - start) / step))
    _check_size(name, (count,))
    return np.arange(start, stop, step)


def _linspace(name, args, kwargs):
    if len(args) not in (2, 3):
        raise FeedError("linspace() takes start, stop and the number of points: "
                        "linspace(0, 1, 5)")
    if len(args) == 3 and "num" in kwargs:
        raise FeedError("linspace(): the number of points is given twice")
    start, stop = (_real(name, a, "start and stop") for a in args[:2])
    num = args[2] if len(args) > 2 else kwargs.get("num", 50)
    num = _int_arg(name, num, "the number of points")
    if num < 0:
        raise FeedError("linspace(): the number of points cannot be negative")
    _check_size(name, (num,))
    return np.linspace(start, stop, num)


def _seed(name, kwargs) -> int:
    seed = _int_arg(name, kwargs.get("seed", DEFAULT_SEED), "the seed")
    if not 0 <= seed < 2 ** 63:
        raise FeedError(f"{name}(): the seed must be between 0 and 2**63 - 1")
    return seed


def _random(name, args, kwargs):
    shape = _shape(name, args)
    return np.random.default_rng(_seed(name, kwargs)).random(shape)


def _normal(name, args, kwargs):
    shape = _shape(name, args)
    return np.random.default_rng(_seed(name, kwargs)).standard_normal(shape)


_CONSTRUCTORS = {
    "zeros": (_zeros, ()), "ones": (_ones, ()), "full": (_full, ()), "eye": (_eye, ()),
    "arange": (_arange, ()), "linspace": (_linspace, ("num",)),
    "random": (_random, ("seed",)), "normal": (_normal, ("seed",)),
}


def _to_array(value) -> np.ndarray:
    """A parsed value (scalar, string, nested lists, or an array from a constructor) as an
    array. Nested lists must be rectangular and hold one kind of leaf."""
    if isinstance(value, np.ndarray):
        return value
    leaves = list(_leaves(value))
    if any(isinstance(v, np.ndarray) for v in leaves):
        raise FeedError("constructors cannot be nested inside lists")
    kinds = {_leaf_kind(v) for v in leaves}
    if len(kinds) > 1:
        raise FeedError(f"the list mixes {' and '.join(sorted(kinds))}")
    # numpy would quietly turn ints past int64 into floats; uint64 holds them exactly
    wide = kinds == {"numbers"} and any(isinstance(v, int) and not -2**63 <= v < 2**63
                                       for v in leaves)
    if wide and not all(isinstance(v, int) and 0 <= v < 2**64 for v in leaves):
        raise FeedError("a number does not fit in 64 bits")
    ragged = FeedError("the nested lists are ragged: every row needs the same length")
    try:
        if kinds == {"strings"}:
            arr = np.array(value, dtype=object)
            if any(isinstance(x, list) for x in arr.flat):
                raise ragged
            return arr
        arr = np.array(value, dtype=np.uint64) if wide else np.array(value)
    except (ValueError, OverflowError):
        raise ragged from None
    if arr.dtype == object:
        raise ragged
    return arr


def _leaves(value):
    if isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _leaf_kind(v) -> str:
    if isinstance(v, bool):
        return "booleans"
    if isinstance(v, (str, bytes)):
        return "strings"
    return "numbers"


# -- files -------------------------------------------------------------------------------

def locate_file(spec: str, base_dir: str | None = None) -> tuple[str, str | None]:
    """The file a `@` feed names (`spec` without the `@`), as an absolute path, and the
    key of `path.npz:key`; a file named with ':' in it wins over that form. Raises
    FeedError when there is no such regular file. Reads nothing: a form can check a
    file as it is typed, and leave the loading to the run."""
    if not spec:
        raise FeedError("'@' needs a file: @values.npy, @values.npz:key or @values.csv")
    path, key = spec, None
    lowered = spec.lower()
    if ".npz:" in lowered and not os.path.exists(resolve_path(spec, base_dir)):
        cut = lowered.rindex(".npz:") + len(".npz")
        path, key = spec[:cut], spec[cut + 1:]
    elif ":" in spec and not os.path.exists(resolve_path(spec, base_dir)):
        head, _sep, tail = spec.rpartition(":")   # an image's value range: @cat.jpg:-1..1
        if head.lower().endswith(media.IMAGE_EXTENSIONS):
            try:
                path, key = head, media.parse_range(tail)
            except media.MediaError as e:
                raise FeedError(str(e)) from None
    full = resolve_path(path, base_dir)
    if not os.path.exists(full):
        raise FeedError(f"no such file: {full}")
    if not os.path.isfile(full):
        raise FeedError(f"not a regular file: {full}")
    return full, key


def load_file(spec: str, base_dir: str | None = None, image_range: str | None = None):
    """`path.npy`, `path.npz[:key]` or `path.csv` as an array, or a media file decoded
    (`spec` without the `@`)."""
    full, key = locate_file(spec, base_dir)
    ext = os.path.splitext(full)[1].lower()
    try:
        if ext == ".npy":
            return _load_npy(full)
        if ext == ".npz":
            return _load_npz(full, key)
        if ext in (".csv", ".tsv"):
            return _load_csv(full)
        if ext == ".txt":
            try:
                return _load_csv(full)
            except FeedError:
                raise
            except ValueError:        # not numbers: the lines, for string inputs
                return media.load(full)
        if ext in media.IMAGE_EXTENSIONS:
            return media.load(full, key or (media.parse_range(image_range) if image_range else None))
        if ext in media.AUDIO_EXTENSIONS:
            return media.load(full)
    except FeedError:
        raise
    except media.MediaError as e:
        raise FeedError(str(e)) from None
    except MemoryError:
        raise FeedError(f"{full}: not enough memory to load it") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise FeedError(f"{full}: cannot be read as {ext[1:]}: {_pickle_hint(e)}") from None
    raise FeedError(f"{full}: unknown kind of file (use .npy, .npz, .csv, an image, .wav "
                    f"or .txt)")


def resolve_path(path: str, base_dir: str | None) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base_dir or os.getcwd(), path)
    return os.path.abspath(path)


def _pickle_hint(e: Exception) -> str:
    text = str(e)
    if "pickle" in text.lower():
        return "it holds Python objects (a pickle), which are never loaded"
    return text


def _check_header(shape, dtype, what: str) -> None:
    if dtype.hasobject:
        raise FeedError(f"{what}: holds Python objects (a pickle), which are never loaded")
    n = 1
    for d in shape:
        n *= d
    if n > MAX_ELEMENTS:
        raise FeedError(f"{what}: {n:,} elements is more than the limit of {MAX_ELEMENTS:,}")
    if n * dtype.itemsize > MAX_FILE_BYTES:
        raise FeedError(f"{what}: larger than {MAX_FILE_BYTES >> 20:,} MB")


def _read_header(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def _load_npy(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        shape, _fortran, dtype = _read_header(f)  # the size is known before any data is read
    _check_header(shape, dtype, path)
    return np.load(path, allow_pickle=False)


def _load_npz(path: str, key: str | None) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:
        names = list(npz.files)
        if key is None:
            if len(names) != 1:
                raise FeedError(f"{path} holds {len(names)} arrays "
                                f"({', '.join(names[:10]) or 'none'}); "
                                f"name one: @{os.path.basename(path)}:KEY")
            key = names[0]
        if key not in names:
            raise FeedError(f"{path} has no array {key!r} (it has: "
                            f"{', '.join(names[:10]) or 'none'})")
        member = key if key in npz.zip.namelist() else key + ".npy"
        with npz.zip.open(member) as f:
            shape, _fortran, dtype = _read_header(f)
        _check_header(shape, dtype, f"{path}:{key}")
        return npz[key]


def _load_csv(path: str) -> np.ndarray:
    size = os.path.getsize(path)
    if size > MAX_CSV_BYTES:
        raise FeedError(f"{path}: {size >> 20:,} MB of text is more than the "
                        f"{MAX_CSV_BYTES >> 20} MB a CSV may have; save it as .npy")
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        first = ""
        for line in f:
            if line.strip():
                first = line
                break
    if not first:
        raise FeedError(f"{path}: the file is empty")
    delimiter = "," if "," in first else ("\t" if "\t" in first else None)
    cells = [c.strip() for c in (first.split(delimiter) if delimiter else first.split())]
    header = any(c and not _is_number(c) for c in cells)
    data = np.loadtxt(path, delimiter=delimiter, skiprows=1 if header else 0, ndmin=1,
                      dtype=np.float64, encoding="utf-8-sig")
    if data.size > MAX_ELEMENTS:
        raise FeedError(f"{path}: more than {MAX_ELEMENTS:,} values")
    return data


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# -- fitting a value to a placeholder --------------------------------------------------

_FLOATS = {"float16", "float32", "float64", "bfloat16", "half", "double"}
_INTS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "qint8", "quint8", "qint16", "quint16", "qint32"}
_COMPLEX = {"complex64", "complex128"}
_NUMPY = {"half": "float16", "double": "float64", "qint8": "int8", "quint8": "uint8",
          "qint16": "int16", "quint16": "uint16", "qint32": "int32"}


def _numpy_dtype(name: str) -> np.dtype:
    name = _NUMPY.get(name, name)
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def coerce(value, dtype: str, shape=None, name: str | None = None) -> np.ndarray:
    """`value` as an array of the placeholder's `dtype` (TensorFlow's name: "float32",
    "int64", "string", "bool", ...) and `shape` (a sequence with None or -1 for unknown
    dimensions, or None for an unknown rank). Raises FeedError naming `name`."""
    dtype = dtype[:-4] if dtype.endswith("_ref") else dtype
    if isinstance(value, media.MediaFeed):
        try:
            value = value.fit(dtype, shape)
        except media.MediaError as e:
            raise FeedError(str(e), name) from None
    arr = value if isinstance(value, np.ndarray) else _as_array(value, name)
    kind = _kind(arr)
    if dtype in ("resource", "variant"):
        raise FeedError(f"a {dtype} tensor cannot be fed a value", name)

    if dtype == "string":
        if kind != "string":
            raise FeedError(f"expects strings, got {_kind_text(kind, arr)}", name)
        out = _as_bytes(arr)
    elif dtype == "bool":
        if kind != "bool":
            raise FeedError(f"expects booleans (True/False), got {_kind_text(kind, arr)}", name)
        out = arr.astype(np.bool_, copy=False)
    elif dtype in _FLOATS or dtype in _COMPLEX:
        if kind not in ("int", "float") and not (kind == "complex" and dtype in _COMPLEX):
            raise FeedError(f"expects {dtype} numbers, got {_kind_text(kind, arr)}", name)
        target = _numpy_dtype(dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            out = arr.astype(target, copy=False)
        # a finite value that became inf did not fit (complex64 overflows as float32 does)
        if arr.dtype != target and not np.array_equal(np.isfinite(arr), np.isfinite(out)):
            raise FeedError(f"a value is out of the range of {dtype}", name)
    elif dtype in _INTS:
        target = _numpy_dtype(dtype)
        if kind == "float":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.trunc(arr)):
                raise FeedError(f"expects whole numbers ({dtype}), got fractions or inf/nan",
                                name)
        elif kind != "int":
            raise FeedError(f"expects {dtype} numbers, got {_kind_text(kind, arr)}", name)
        info = np.iinfo(target)
        if arr.dtype != target and arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise FeedError(f"a value is out of the range of {dtype} "
                            f"({info.min}..{info.max})", name)
        out = arr.astype(target, copy=False)
    else:
        try:
            out = arr.astype(_numpy_dtype(dtype), copy=False)
        except (TypeError, ValueError):
            raise FeedError(f"values of dtype {dtype} cannot be typed in", name) from None

    if shape is not None:
        want = [None if d is None or d < 0 else int(d) for d in shape]
        got = list(out.shape)
        if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
            raise FeedError(f"shape {got} does not fit the placeholder's "
                            f"{shape_text(want)}", name)
    return out


def _as_array(value, name):
    if isinstance(value, (str, bytes)):
        return np.array(value, dtype=object)
    try:
        return _to_array(value if not isinstance(value, tuple) else list(value))
    except FeedError as e:
        raise FeedError(e.problem, name) from None


def _kind(arr: np.ndarray) -> str:
    if arr.dtype.kind == "O":  # an object array is what it holds
        if all(isinstance(x, (str, bytes)) for x in arr.flat):
            return "string"
        return "objects"
    kind = dtypes.kind(arr.dtype)
    return kind if kind != "other" else arr.dtype.name


def _kind_text(kind: str, arr: np.ndarray) -> str:
    return {"bool": "booleans", "int": "whole numbers", "float": "fractional numbers",
            "complex": "complex numbers", "string": "strings"}.get(kind, f"{arr.dtype} values")


def _as_bytes(arr: np.ndarray) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for i, x in enumerate(arr.flat):
        out.flat[i] = x.encode("utf-8") if isinstance(x, str) else bytes(x)
    return out
