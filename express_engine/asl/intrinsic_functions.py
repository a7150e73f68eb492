"""The bodies of the ASL intrinsic functions and their name -> (min args, max args, body) table.

:mod:`.intrinsics` parses a call and wraps the body in a closure that turns :class:`Invalid` into
``States.Runtime``. AWS runs these functions on Java values (``Map``, ``List``, ``String``,
``Integer``, ``Double``...), and several results show it: ``States.Format`` renders ``{a=1, b=[2]}``,
``States.ArrayContains`` compares elements by their Java text form, ``States.ArrayUnique`` returns
``HashSet`` iteration order, non-integer arguments are cast with Java's ``(int)`` (truncation) except
in ``States.MathAdd`` (``Math.round``). Sources: the recorded conformance cases, the AWS developer
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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..jsonutil import Json, JsonError, dumps, loads, too_deep

__all__ = ["FUNCTIONS", "FormatTemplate", "Invalid", "parse_format_template"]

_MAX_INPUT_CHARS = 10_000  # Base64Encode/Base64Decode/Hash input limit, in Java (UTF-16) chars
_MAX_RANGE_ITEMS = 1000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Invalid(Exception):
    """Raised by a function body; the call wrapper turns it into ``States.Runtime``."""


# --------------------------------------------------------------------------------------------------
# States.Format templates


@dataclass(frozen=True, slots=True)
class FormatTemplate:
    """A ``States.Format`` template split at its ``{}`` placeholders (``None`` when malformed)."""

    parts: tuple[str, ...] | None


def parse_format_template(text: str, escaped: frozenset[int] = frozenset()) -> FormatTemplate:
    """Split a ``States.Format`` template; ``escaped`` holds indexes of backslash-written characters."""
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
            return FormatTemplate(None)
        buf.append(c)
        i += 1
    parts.append("".join(buf))
    return FormatTemplate(tuple(parts))


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
    # The shortest digits (Python's repr, as Java's) moved to one digit before the point.
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    significant = digits.lstrip("0")
    power = (int(exp) if exp else 0) + len(whole) - 1 - (len(digits) - len(significant))
    significant = significant.rstrip("0") or "0"
    return f"{'-' if x < 0 else ''}{significant[0]}.{significant[1:] or '0'}E{power}"


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
    raise Invalid


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
    raise Invalid


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
    raise Invalid


def _number(value: Json) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid
    return value


def _int_arg(value: Json, low: int = _INT32_MIN, high: int = _INT32_MAX) -> int:
    """A numeric argument cast as Java's ``(int)``: 2.6 -> 2, -0.6 -> 0 [3P]."""
    n = int(_number(value))
    if not low <= n <= high:
        raise Invalid
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
# The functions. Each body takes the evaluated arguments and raises Invalid on bad ones.


def _format(args: list[Json]) -> Json:
    template = args[0]
    if isinstance(template, str):
        template = parse_format_template(template)
    if not isinstance(template, FormatTemplate) or template.parts is None:
        raise Invalid
    parts = template.parts
    if len(parts) != len(args):  # n placeholders -> n + 1 parts, and n values after the template
        raise Invalid
    out = [parts[0]]
    for value, text in zip(args[1:], parts[1:], strict=True):
        out.append(_java_str(value))
        out.append(text)
    return "".join(out)


def _string_to_json(args: list[Json]) -> Json:
    (text,) = args
    if not isinstance(text, str):
        raise Invalid
    if not text.strip(" \t\r\n"):
        return None  # recorded on AWS: "" -> null
    try:
        value = loads(text)
    except JsonError:
        raise Invalid from None
    if too_deep(text.encode("utf-8", "surrogatepass")):
        raise Invalid
    return value


def _json_to_string(args: list[Json]) -> Json:
    try:
        return dumps(args[0])
    except JsonError:
        raise Invalid from None


def _array(args: list[Json]) -> Json:
    return list(args)


def _array_partition(args: list[Json]) -> Json:
    array, size = args
    if not isinstance(array, list):
        raise Invalid
    n = _int_arg(size)
    if n <= 0:
        raise Invalid
    return [array[i:i + n] for i in range(0, len(array), n)]


def _array_contains(args: list[Json]) -> Json:
    # Compared by Java text form [3P]: {"a":1,"b":2} does not match {"b":2,"a":1}, but true
    # matches "true" and 9007199254740991 matches "9007199254740991".
    array, target = args
    if not isinstance(array, list):
        raise Invalid
    key = _java_str(target)
    return any(_java_str(item) == key for item in array)


def _array_range(args: list[Json]) -> Json:
    start, end, step = (_int_arg(a) for a in args)
    if step == 0:
        raise Invalid
    if (step > 0 and start > end) or (step < 0 and start < end):
        return []
    if abs(end - start) // abs(step) + 1 > _MAX_RANGE_ITEMS:
        raise Invalid
    return list(range(start, end + (1 if step > 0 else -1), step))


def _array_get_item(args: list[Json]) -> Json:
    array, index = args
    if not isinstance(array, list):
        raise Invalid
    i = _int_arg(index)  # 1.2 -> 1 [3P]
    if not array:
        return None  # AWS returns null for any index into an empty array [3P]
    if not 0 <= i < len(array):
        raise Invalid
    return array[i]


def _array_length(args: list[Json]) -> Json:
    (array,) = args
    if not isinstance(array, list):
        raise Invalid
    return len(array)


def _array_unique(args: list[Json]) -> Json:
    # AWS de-duplicates through a java.util.HashSet, so the result comes in hash-bucket order
    # (recorded [3P]: [true, false] -> [false, true]; [[1,2],[1,2],[2,1]] -> [[2,1],[1,2]]).
    # Bucket = spread(hashCode) & (capacity - 1) with HashSet(Collection)'s capacity; entries of
    # one bucket keep insertion order.
    (array,) = args
    if not isinstance(array, list):
        raise Invalid
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
        raise Invalid
    return base64.b64encode(text.encode("utf-8", "replace")).decode("ascii")


def _base64_decode(args: list[Json]) -> Json:
    (text,) = args
    if not isinstance(text, str) or _java_len(text) > _MAX_INPUT_CHARS:
        raise Invalid
    return _lenient_b64decode(text).decode("utf-8", "replace")


_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5, "SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512,
}


def _hash(args: list[Json]) -> Json:
    data, algorithm = args
    if not isinstance(algorithm, str) or algorithm not in _HASHES:
        raise Invalid  # names are case-sensitive: 'sha-256', 'SHA256', 'MD-5' fail [3P]
    text = _java_str(data)  # AWS hashes numbers and objects by their text form [3P]
    if _java_len(text) > _MAX_INPUT_CHARS:
        raise Invalid
    return _HASHES[algorithm](text.encode("utf-8", "replace")).hexdigest()


def _json_merge(args: list[Json]) -> Json:
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise Invalid
    if deep is True:  # only shallow merging exists; a non-boolean flag is ignored on AWS [3P]
        raise Invalid
    return {**left, **right}


def _math_random(args: list[Json]) -> Json:
    start, end = _int_arg(args[0]), _int_arg(args[1])  # end is exclusive (AWS docs)
    if start >= end or end - start > _INT32_MAX:
        raise Invalid
    if len(args) == 3:
        return start + _java_next_int(_int_arg(args[2], _INT64_MIN, _INT64_MAX), end - start)
    return random.randrange(start, end)


def _math_add(args: list[Json]) -> Json:
    a, b = _java_round(args[0]), _java_round(args[1])
    total = a + b
    # Operands and sum must fit in an int (AWS docs; overflow recorded as a failure [3P]).
    if not (_INT32_MIN <= a <= _INT32_MAX and _INT32_MIN <= b <= _INT32_MAX
            and _INT32_MIN <= total <= _INT32_MAX):
        raise Invalid
    return total


def _string_split(args: list[Json]) -> Json:
    # Every character of the second argument separates; empty pieces are dropped (a StringTokenizer:
    # ",,,," -> [] recorded on AWS, ",a,b" -> ["a", "b"] [3P]).
    text, delimiters = args
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise Invalid
    if not delimiters:
        return [text] if text else []
    return [piece for piece in _splitter(delimiters).split(text) if piece]


def _uuid(args: list[Json]) -> Json:
    return str(uuid.uuid4())  # arguments are ignored on AWS [3P]


_ANY = 1 << 30
#: name -> (min args, max args, body)
FUNCTIONS: dict[str, tuple[int, int, Callable[[list[Json]], Json]]] = {
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
