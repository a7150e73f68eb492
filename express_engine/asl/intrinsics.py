"""ASL intrinsic functions (JSONPath mode): ``States.Format(...)`` and the other 17, compiled once.

A call such as ``States.Format('{} items', States.ArrayLength($.items))`` is tokenized and parsed
here (the call grammar is not JSONPath; argument paths go to :mod:`.paths`) into one closure per
call. :func:`compile_intrinsic` rejects only what AWS rejects when a definition is created: bad
syntax (including a lone backslash in a string), unknown function names and nesting deeper than 10.

Everything else fails at run time with ``States.Runtime`` and the cause ``Invalid arguments in
States.<Name>``, as recorded on AWS: wrong argument counts, wrong argument types (even for
literals), out-of-range values. A path argument that matches nothing raises
:class:`.paths.PathNotFound` / :class:`.paths.VariableNotFound` unchanged, so the caller can word
the cause with the field name.

AWS runs these functions on Java values (``Map``, ``List``, ``String``, ``Integer``, ``Double``...),
and several results show it: ``States.Format`` renders ``{a=1, b=[2]}``, ``States.ArrayContains``
compares elements by their Java text form, ``States.ArrayUnique`` returns ``HashSet`` iteration
order, non-integer arguments are cast with Java's ``(int)`` (truncation) except in
``States.MathAdd`` (``Math.round``). Sources: the recorded conformance cases, the AWS developer
guide, and a third-party suite whose cases were executed against AWS (marked [3P] below).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, NoReturn

from .. import errors
from ..jsonutil import Json, JsonError, dumps, loads
from .paths import Env, PathSyntaxError, compile_path

__all__ = [
    "FUNCTION_NAMES",
    "MAX_NESTING",
    "Intrinsic",
    "IntrinsicSyntaxError",
    "compile_intrinsic",
    "is_intrinsic",
]

#: Deepest allowed nesting of calls inside one field (AWS docs: "up to 10").
MAX_NESTING = 10

_MAX_INPUT_CHARS = 10_000  # Base64Encode/Base64Decode/Hash input limit, in Java (UTF-16) chars
_MAX_RANGE_ITEMS = 1000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: A compiled argument or call: ``(value, env) -> result``.
Evaluator = Callable[[Json, Env], Json]

_CALL_START = re.compile(r"States\.[A-Za-z0-9]+\s*\(")
_NAME = re.compile(r"[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: dict[str, Json] = {"true": True, "false": False, "null": None}
_STRING_ESCAPES = frozenset("'{}\\")


class IntrinsicSyntaxError(ValueError):
    """An intrinsic call that AWS would reject when the definition is created."""


class _Invalid(Exception):
    """Raised by a function body; the call wrapper turns it into ``States.Runtime``."""


def is_intrinsic(text: str) -> bool:
    """Whether ``text`` is meant as an intrinsic call (``States.Name(`` at its start)."""
    return isinstance(text, str) and _CALL_START.match(text) is not None


@dataclass(frozen=True, slots=True)
class Intrinsic:
    """A compiled intrinsic call; call it with the value ``$`` refers to and the :class:`.Env`."""

    text: str
    _evaluate: Evaluator = field(repr=False, compare=False)

    def __call__(self, value: Json, env: Env) -> Json:
        """Evaluate the call.

        Raises ``errors.Runtime`` (``Invalid arguments in States.<Name>``) when a function rejects
        its arguments, and ``PathNotFound`` / ``VariableNotFound`` when an argument path fails.
        """
        return self._evaluate(value, env)


def compile_intrinsic(text: str) -> Intrinsic:
    """Compile an intrinsic call such as ``States.Array($.a, 'b', 3)``.

    Raises :class:`IntrinsicSyntaxError` for bad syntax, an invalid argument path, an unknown
    function or nesting deeper than :data:`MAX_NESTING`.
    """
    if not isinstance(text, str):
        raise IntrinsicSyntaxError(f"an intrinsic function call must be a string: {text!r}")
    parser = _Parser(text)
    evaluate = parser.call(1)
    parser.skip_ws()
    if parser.pos != len(text):
        parser.fail("unexpected text after the call")
    return Intrinsic(text, evaluate)


# --------------------------------------------------------------------------------------------------
# Parsing: text -> closures


@dataclass(frozen=True, slots=True)
class _Template:
    """A ``States.Format`` template split at its ``{}`` placeholders (``None`` when malformed)."""

    parts: tuple[str, ...] | None


def _template(text: str, escaped: frozenset[int] = frozenset()) -> _Template:
    # Unescaped "{}" is a placeholder; any other unescaped brace makes the call fail at run time
    # ('Hello {', 'Hello {{}}' and '}' all end in States.Runtime on AWS [3P]).
    parts: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "{}" and i not in escaped:
            if c == "{" and i + 1 < n and text[i + 1] == "}" and i + 1 not in escaped:
                parts.append("".join(buf))
                buf.clear()
                i += 2
                continue
            return _Template(None)
        buf.append(c)
        i += 1
    parts.append("".join(buf))
    return _Template(tuple(parts))


@dataclass(frozen=True, slots=True)
class _StringLiteral:
    value: str
    escaped: frozenset[int]  # indexes in ``value`` of characters written with a backslash


class _Parser:
    """Recursive-descent parser for ``States.Name(arg, ...)``."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> NoReturn:
        """Raise :class:`IntrinsicSyntaxError` pointing at the current position."""
        raise IntrinsicSyntaxError(f"invalid intrinsic function call {self.text!r}: {message} "
                                   f"at position {self.pos}")

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def call(self, depth: int) -> Evaluator:
        if depth > MAX_NESTING:
            self.fail(f"intrinsic functions can be nested at most {MAX_NESTING} deep")
        if not self.text.startswith("States.", self.pos):
            self.fail("expected 'States.<Function>('")
        self.pos += len("States.")
        m = _NAME.match(self.text, self.pos)
        if m is None:
            self.fail("expected a function name")
        name = "States." + m.group()
        if name not in _FUNCTIONS:
            self.fail(f"unknown intrinsic function {name}")
        self.pos = m.end()
        self.skip_ws()
        if not self.text.startswith("(", self.pos):
            self.fail("expected '('")
        self.pos += 1
        self.skip_ws()
        args: list[Evaluator | _StringLiteral | Json] = []
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                args.append(self.argument(depth))
                self.skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    self.skip_ws()
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    self.fail("expected ',' or ')'")
        return _compile_call(name, args)

    def argument(self, depth: int) -> Evaluator | _StringLiteral | Json:
        """One argument: a closure for paths and calls, the value itself for literals."""
        text, pos = self.text, self.pos
        c = text[pos] if pos < len(text) else ""
        if c == "'":
            return self.string()
        if c == "$":
            return self.path()
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        m = _NUMBER.match(text, pos)
        if m is not None:
            self.pos = m.end()
            self.expect_delimiter()
            token = m.group()
            return float(token) if any(ch in token for ch in ".eE") else int(token)
        for word, literal in _KEYWORDS.items():
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                self.expect_delimiter()
                return literal
        self.fail("expected a string, number, true, false, null, path or intrinsic function call")

    def expect_delimiter(self) -> None:
        if self.pos < len(self.text) and self.text[self.pos] not in " \t\r\n,)":
            self.fail("unexpected character")

    def string(self) -> _StringLiteral:
        text = self.text
        i = self.pos + 1
        out: list[str] = []
        escaped: set[int] = set()
        while i < len(text):
            c = text[i]
            if c == "'":
                self.pos = i + 1
                return _StringLiteral("".join(out), frozenset(escaped))
            if c == "\\":
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if nxt not in _STRING_ESCAPES:
                    self.pos = i
                    self.fail("a backslash must be followed by ', {, } or \\")
                escaped.add(len(out))
                out.append(nxt)
                i += 2
                continue
            out.append(c)
            i += 1
        self.fail("unterminated string")

    def path(self) -> Evaluator:
        # A path runs to the first ',', ')' or blank outside brackets, parentheses and quotes
        # (so $.a['x, y'] and $.a[?(@.b == 1)] stay whole).
        text, start = self.text, self.pos
        i, depth, quote = start, 0, ""
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"" and depth:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and c in ", \t\r\n":
                break
            i += 1
        try:
            path = compile_path(text[start:i])
        except PathSyntaxError as exc:
            self.fail(str(exc))
        self.pos = i
        return path.get


def _compile_call(name: str, args: list[Evaluator | _StringLiteral | Json]) -> Evaluator:
    min_args, max_args, body = _FUNCTIONS[name]
    if name == "States.Format" and args and isinstance(args[0], _StringLiteral):
        # Keep track of escaped braces: '\{}' is text, not a placeholder.
        args[0] = _template(args[0].value, args[0].escaped)
    cause = f"Invalid arguments in {name}"
    if not min_args <= len(args) <= max_args:
        # AWS accepts the definition and fails the state when it runs [3P].
        def wrong_arity(value: Json, env: Env) -> Json:
            raise errors.Runtime(cause)

        return wrong_arity

    if not any(callable(arg) for arg in args):
        fixed = [arg.value if isinstance(arg, _StringLiteral) else arg for arg in args]

        def literal_call(value: Json, env: Env) -> Json:
            try:
                return body(fixed)
            except _Invalid:
                raise errors.Runtime(cause) from None

        return literal_call
    fns = tuple(arg if callable(arg) else _constant(arg.value if isinstance(arg, _StringLiteral) else arg)
                for arg in args)

    def call(value: Json, env: Env) -> Json:
        evaluated = [f(value, env) for f in fns]
        try:
            return body(evaluated)
        except _Invalid:
            raise errors.Runtime(cause) from None

    return call


def _constant(value: Json) -> Evaluator:
    def constant(_value: Json, _env: Env) -> Json:
        return value

    return constant


# --------------------------------------------------------------------------------------------------
# Java-flavoured helpers


def _java_double(x: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``1.5E10`` style."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python's repr has the same digits and never uses an exponent here
    sign, digit_tuple, exponent = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    power = int(exponent) + len(digits) - 1
    digits = digits.rstrip("0") or "0"
    return f"{'-' if sign else ''}{digits[0]}.{digits[1:] or '0'}E{power}"


def _java_str(value: Json) -> str:
    """``String.valueOf`` of the Java value AWS holds: ``[a, b]``, ``{k=v}``, ``null``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_java_str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_str(v)}" for k, v in value.items()) + "}"
    raise _Invalid


def _java_len(s: str) -> int:
    """Length in UTF-16 code units, as Java's ``String.length()``."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _to_int32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _java_hash(value: Json) -> int:
    """``hashCode()`` of the Java value (Integer/Long/BigInteger/Double/String/List/Map)."""
    if value is None:
        return 0
    if value is True:
        return 1231
    if value is False:
        return 1237
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return value
        if _INT64_MIN <= value <= _INT64_MAX:
            bits = value & 0xFFFFFFFFFFFFFFFF
            return _to_int32(bits ^ (bits >> 32))
        return _big_integer_hash(value)
    if isinstance(value, float):
        bits = 0x7FF8000000000000 if value != value else struct.unpack(">Q", struct.pack(">d", value))[0]
        return _to_int32(bits ^ (bits >> 32))
    if isinstance(value, str):
        h = 0
        for unit in struct.unpack(f"<{_java_len(value)}H", value.encode("utf-16-le", "surrogatepass")):
            h = (31 * h + unit) & 0xFFFFFFFF
        return _to_int32(h)
    if isinstance(value, list):
        h = 1
        for item in value:
            h = (31 * h + _java_hash(item)) & 0xFFFFFFFF
        return _to_int32(h)
    if isinstance(value, dict):
        return _to_int32(sum(_java_hash(k) ^ _java_hash(v) for k, v in value.items()))
    raise _Invalid


def _big_integer_hash(value: int) -> int:
    magnitude = abs(value)
    words = []
    while magnitude:
        words.append(magnitude & 0xFFFFFFFF)
        magnitude >>= 32
    h = 0
    for word in reversed(words):
        h = (31 * h + word) & 0xFFFFFFFF
    return _to_int32(_to_int32(h) * (1 if value > 0 else -1))


def _java_key(value: Json) -> object:
    """A hashable key that is equal exactly when the Java values are ``equals``."""
    if value is None or isinstance(value, (bool, str)):
        return (type(value), value)
    if isinstance(value, int):
        kind = 0 if _INT32_MIN <= value <= _INT32_MAX else 1 if _INT64_MIN <= value <= _INT64_MAX else 2
        return (int, kind, value)
    if isinstance(value, float):
        return (float, struct.pack(">d", value) if value == value else b"nan")
    if isinstance(value, list):
        return (list, tuple(map(_java_key, value)))
    if isinstance(value, dict):
        return (dict, frozenset((k, _java_key(v)) for k, v in value.items()))
    raise _Invalid


def _number(value: Json) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid
    return value


def _int_arg(value: Json, low: int = _INT32_MIN, high: int = _INT32_MAX) -> int:
    """A numeric argument cast as Java's ``(int)``: 2.6 -> 2, -0.6 -> 0 [3P]."""
    n = int(_number(value))
    if not low <= n <= high:
        raise _Invalid
    return n


def _java_round(value: Json) -> int:
    """``Math.round``: halves go up (2.5 -> 3, -2.5 -> -2), as recorded for MathAdd on AWS."""
    x = _number(value)
    if isinstance(x, int):
        return x
    r = math.floor(x)
    return int(r) + 1 if x - r >= 0.5 else int(r)


def _java_next_int(seed: int, bound: int) -> int:
    """``new java.util.Random(seed).nextInt(bound)`` (seed 42 over [-5, 5) gives -5 on AWS [3P])."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask

    def next31() -> int:
        nonlocal state
        state = (state * 0x5DEECE66D + 0xB) & mask
        return state >> 17

    r = next31()
    m = bound - 1
    if bound & m == 0:
        return (bound * r) >> 31
    u = r
    while True:
        r = u % bound
        if u - r + m <= _INT32_MAX:  # Java rejects the draw when this int sum overflows
            return r
        u = next31()


def _lenient_b64decode(text: str) -> bytes:
    # AWS decodes like commons-codec: characters outside the alphabet are skipped, '=' ends the
    # data, a dangling 6-bit group is dropped ('!!!invalid!!!', 'abc', 'ab==cd' and ' YWJjZA== '
    # all decode on AWS [3P]).
    data = text.split("=", 1)[0].translate(_URLSAFE_TO_STD)
    if not _B64_CLEAN.fullmatch(data):
        data = "".join(ch for ch in data if ch in _B64_ALPHABET)
    if len(data) % 4 == 1:
        data = data[:-1]
    return base64.b64decode(data + "=" * (-len(data) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B64_CLEAN = re.compile(r"[A-Za-z0-9+/]*")
_URLSAFE_TO_STD = str.maketrans("-_", "+/")


@lru_cache(maxsize=256)
def _splitter(delimiters: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(delimiters) + "]+")


# --------------------------------------------------------------------------------------------------
# The functions. Each body takes the evaluated arguments and raises _Invalid on bad ones.


def _format(args: list[Json]) -> Json:
    template = args[0]
    if isinstance(template, str):
        template = _template(template)
    if not isinstance(template, _Template) or template.parts is None:
        raise _Invalid
    parts = template.parts
    if len(parts) != len(args):  # n placeholders -> n + 1 parts, and n values after the template
        raise _Invalid
    out = [parts[0]]
    for value, text in zip(args[1:], parts[1:], strict=True):
        out.append(_java_str(value))
        out.append(text)
    return "".join(out)


def _string_to_json(args: list[Json]) -> Json:
    (text,) = args
    if not isinstance(text, str):
        raise _Invalid
    if not text.strip(" \t\r\n"):
        return None  # recorded on AWS: "" -> null
    try:
        return loads(text)
    except JsonError:
        raise _Invalid from None


def _json_to_string(args: list[Json]) -> Json:
    try:
        return dumps(args[0])
    except JsonError:
        raise _Invalid from None


def _array(args: list[Json]) -> Json:
    return list(args)


def _array_partition(args: list[Json]) -> Json:
    array, size = args
    if not isinstance(array, list):
        raise _Invalid
    n = _int_arg(size)
    if n <= 0:
        raise _Invalid
    return [array[i:i + n] for i in range(0, len(array), n)]


def _array_contains(args: list[Json]) -> Json:
    # Compared by Java text form [3P]: {"a":1,"b":2} does not match {"b":2,"a":1}, but true
    # matches "true" and 9007199254740991 matches "9007199254740991".
    array, target = args
    if not isinstance(array, list):
        raise _Invalid
    key = _java_str(target)
    return any(_java_str(item) == key for item in array)


def _array_range(args: list[Json]) -> Json:
    start, end, step = (_int_arg(a) for a in args)
    if step == 0:
        raise _Invalid
    if (step > 0 and start > end) or (step < 0 and start < end):
        return []
    if abs(end - start) // abs(step) + 1 > _MAX_RANGE_ITEMS:
        raise _Invalid
    return list(range(start, end + (1 if step > 0 else -1), step))


def _array_get_item(args: list[Json]) -> Json:
    array, index = args
    if not isinstance(array, list):
        raise _Invalid
    i = _int_arg(index)  # 1.2 -> 1 [3P]
    if not array:
        return None  # AWS returns null for any index into an empty array [3P]
    if not 0 <= i < len(array):
        raise _Invalid
    return array[i]


def _array_length(args: list[Json]) -> Json:
    (array,) = args
    if not isinstance(array, list):
        raise _Invalid
    return len(array)


def _array_unique(args: list[Json]) -> Json:
    # AWS de-duplicates through a java.util.HashSet, so the result comes in hash-bucket order
    # (recorded [3P]: [true, false] -> [false, true]; [[1,2],[1,2],[2,1]] -> [[2,1],[1,2]]).
    # Bucket = spread(hashCode) & (capacity - 1) with HashSet(Collection)'s capacity; entries of
    # one bucket keep insertion order.
    (array,) = args
    if not isinstance(array, list):
        raise _Invalid
    seen: set[object] = set()
    unique: list[tuple[int, Json]] = []
    for item in array:
        key = _java_key(item)
        if key not in seen:
            seen.add(key)
            h = _java_hash(item) & 0xFFFFFFFF
            unique.append((h ^ (h >> 16), item))
    capacity = 16
    while capacity < int(len(array) / 0.75) + 1:
        capacity *= 2
    mask = capacity - 1
    order = sorted(range(len(unique)), key=lambda i: unique[i][0] & mask)
    return [unique[i][1] for i in order]


def _base64_encode(args: list[Json]) -> Json:
    (text,) = args
    if not isinstance(text, str) or _java_len(text) > _MAX_INPUT_CHARS:
        raise _Invalid
    return base64.b64encode(text.encode("utf-8", "replace")).decode("ascii")


def _base64_decode(args: list[Json]) -> Json:
    (text,) = args
    if not isinstance(text, str) or _java_len(text) > _MAX_INPUT_CHARS:
        raise _Invalid
    return _lenient_b64decode(text).decode("utf-8", "replace")


_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5, "SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512,
}


def _hash(args: list[Json]) -> Json:
    data, algorithm = args
    if not isinstance(algorithm, str) or algorithm not in _HASHES:
        raise _Invalid  # names are case-sensitive: 'sha-256', 'SHA256', 'MD-5' fail [3P]
    text = _java_str(data)  # AWS hashes numbers and objects by their text form [3P]
    if _java_len(text) > _MAX_INPUT_CHARS:
        raise _Invalid
    return _HASHES[algorithm](text.encode("utf-8", "replace")).hexdigest()


def _json_merge(args: list[Json]) -> Json:
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise _Invalid
    if deep is True:  # only shallow merging exists; a non-boolean flag is ignored on AWS [3P]
        raise _Invalid
    return {**left, **right}


def _math_random(args: list[Json]) -> Json:
    start, end = _int_arg(args[0]), _int_arg(args[1])  # end is exclusive (AWS docs)
    if start >= end or end - start > _INT32_MAX:
        raise _Invalid
    if len(args) == 3:
        return start + _java_next_int(_int_arg(args[2], _INT64_MIN, _INT64_MAX), end - start)
    return random.randrange(start, end)


def _math_add(args: list[Json]) -> Json:
    a, b = _java_round(args[0]), _java_round(args[1])
    total = a + b
    # Operands and sum must fit in an int (AWS docs; overflow recorded as a failure [3P]).
    if not (_INT32_MIN <= a <= _INT32_MAX and _INT32_MIN <= b <= _INT32_MAX
            and _INT32_MIN <= total <= _INT32_MAX):
        raise _Invalid
    return total


def _string_split(args: list[Json]) -> Json:
    # Every character of the second argument separates; empty pieces are dropped (a StringTokenizer:
    # ",,,," -> [] recorded on AWS, ",a,b" -> ["a", "b"] [3P]).
    text, delimiters = args
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise _Invalid
    if not delimiters:
        return [text] if text else []
    return [piece for piece in _splitter(delimiters).split(text) if piece]


def _uuid(args: list[Json]) -> Json:
    return str(uuid.uuid4())  # arguments are ignored on AWS [3P]


_ANY = 1 << 30
#: name -> (min args, max args, body)
_FUNCTIONS: dict[str, tuple[int, int, Callable[[list[Json]], Json]]] = {
    "States.Format": (1, _ANY, _format),
    "States.StringToJson": (1, 1, _string_to_json),
    "States.JsonToString": (1, 1, _json_to_string),
    "States.Array": (0, _ANY, _array),
    "States.ArrayPartition": (2, 2, _array_partition),
    "States.ArrayContains": (2, 2, _array_contains),
    "States.ArrayRange": (3, 3, _array_range),
    "States.ArrayGetItem": (2, 2, _array_get_item),
    "States.ArrayLength": (1, 1, _array_length),
    "States.ArrayUnique": (1, 1, _array_unique),
    "States.Base64Encode": (1, 1, _base64_encode),
    "States.Base64Decode": (1, 1, _base64_decode),
    "States.Hash": (2, 2, _hash),
    "States.JsonMerge": (3, 3, _json_merge),
    "States.MathRandom": (2, 3, _math_random),
    "States.MathAdd": (2, 2, _math_add),
    "States.StringSplit": (2, 2, _string_split),
    "States.UUID": (0, _ANY, _uuid),
}

#: The names of all intrinsic functions, e.g. ``"States.Format"``.
FUNCTION_NAMES: frozenset[str] = frozenset(_FUNCTIONS)
