"""Values in and out of jsonata-python: JSON nulls as its null marker, results back to plain JSON.

jsonata-python reads ``None`` as *undefined*, so JSON nulls go in as :data:`NULL`; results come back as
plain JSON (sequences become lists, integral floats become ``int`` as JavaScript writes them).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from jsonata.utils import Utils

from ..jsonutil import Json

#: jsonata-python's JSON null (its ``None`` is *undefined*)
NULL = Utils.NULL_VALUE
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def nulls_in(value: Json) -> Json:
    """``value`` with JSON nulls as jsonata-python's null (it reads ``None`` as undefined); copies only
    the containers that hold a null."""
    if type(value) is dict:
        out = None
        for key, item in value.items():
            new = NULL if item is None else nulls_in(item) if type(item) in (dict, list) else item
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if type(value) is list:
        out_list = None
        for index, item in enumerate(value):
            new = NULL if item is None else nulls_in(item) if type(item) in (dict, list) else item
            if new is not item:
                if out_list is None:
                    out_list = list(value)
                out_list[index] = new
        return value if out_list is None else out_list
    return value


# The same payload (a state's input, a variable) is read by several expressions: remember its
# null-converted form by identity (the entry keeps the value alive, so its id cannot be reused), and
# map a converted copy back to the caller's value when an expression returns it whole.
_IN_CACHE: dict[int, tuple[Json, Any]] = {}
_OUT_ALIAS: dict[int, tuple[Any, Json]] = {}
_CACHE_SIZE = 32


def to_jsonata(value: Json) -> Any:
    """``value`` as jsonata-python reads it (nulls as :data:`NULL`), converted once per payload."""
    if value is None:
        return NULL
    if type(value) is not dict and type(value) is not list:
        return value
    hit = _IN_CACHE.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    try:
        # serialising is ~10x faster than walking the value in Python to find out there is no null
        converted = nulls_in(value) if b"null" in orjson.dumps(value) else value
    except TypeError:
        converted = nulls_in(value)
    if len(_IN_CACHE) >= _CACHE_SIZE:
        _IN_CACHE.clear()
        _OUT_ALIAS.clear()
    _IN_CACHE[id(value)] = (value, converted)
    if converted is not value:
        _OUT_ALIAS[id(converted)] = (converted, value)
    return converted


class UnsupportedResult(Exception):
    """The result holds a value JSON cannot carry (a function, a regex, a non-finite number)."""


class NonFiniteNumber(UnsupportedResult):
    """The result holds Infinity (``1/0``, ``$sum([1e308, 1e308])``): jsonata-js computes it, JSON has no such
    number. (NaN is no number at all: a plain unsupported result.)"""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


# In orjson's output, a float that may be integral ("3.0", "1e+16"), which JavaScript writes as an
# integer. Two searches: each pattern starts with a literal, which re scans for quickly.
_POINT_ZERO = re.compile(rb"\.0(?:[,\]}]|$)")
_EXPONENT = re.compile(rb"e\+[0-9]")
_POINT_ZERO_TAIL = re.compile(rb"\.0(?=[,\]}]|$)")


def _has_exponent(data: bytes) -> bool:
    # Only a positive exponent can write an integral float (1e-7 is not one). A "+" is rare in JSON text and
    # found with memchr, several times faster than searching for "e+" in a text with many "e"s.
    return b"+" in data and _EXPONENT.search(data) is not None


def _normalise_text(value: Json, data: bytes) -> Json:
    """:func:`_normalise` of a container, given its orjson text holding ``3.0``-like floats and no exponent.

    Deleting each ``.0`` that ends a number and parsing again is a few times faster than walking the value;
    a ``.0,`` inside a string would be deleted too, which the comparison (ints equal their floats) catches.
    """
    candidate = orjson.loads(_POINT_ZERO_TAIL.sub(b"", data))
    if candidate == value:
        return candidate
    return _normalise(value)


def to_json(value: Any) -> Json:
    """Plain JSON from a jsonata-python result; a result that is already plain is returned as it is."""
    kind = type(value)
    if kind is dict or kind is list:
        alias = _OUT_ALIAS.get(id(value))
        if alias is not None and alias[0] is value:
            value = alias[1]
        try:
            # raises on what needs converting: sequences (list subclasses), null markers, functions
            data = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
        except TypeError:
            return _normalise(value)
        # orjson writes Infinity and NaN as null: a result with a null is walked, which finds them
        if b"null" in data or _has_exponent(data):
            return _normalise(value)
        if _POINT_ZERO.search(data) is None:
            return value
        return _normalise_text(value, data)
    return _normalise(value)


# Containers and their plain form (to_json of them), by identity: the entry keeps the value alive, so its id
# cannot be reused. Compiled expressions read their inputs in plain form and build plain results, and a state's
# result is the next state's input: a payload is normalised once per execution, not once per state.
_PLAIN: dict[int, tuple[Json, Json]] = {}
_PLAIN_SIZE = 256


def plain(value: Json) -> Json:
    """:func:`to_json` of a JSON value, remembered for containers.

    Raises:
        UnsupportedResult: a number JSON cannot hold.
    """
    kind = type(value)
    if kind is dict or kind is list:
        hit = _PLAIN.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if kind is dict and len(value) <= _FEW_KEYS:
            out = _from_known_parts(value)
            if out is not None:
                remember_plain(value, out)
                return out
        try:
            data = orjson.dumps(value)
        except TypeError:  # not JSON: the full evaluator reports it
            raise UnsupportedResult from None
        if _has_exponent(data):
            out = _normalise(value)
        else:
            out = value if _POINT_ZERO.search(data) is None else _normalise_text(value, data)
        remember_plain(value, out)
        return out
    if kind is str or kind is bool or value is None:
        return value
    return _normalise(value)


_FEW_KEYS = 16


def _from_known_parts(value: dict[str, Json]) -> Json:
    """The plain form of a dict whose values are all scalars or containers normalised before (a state's input
    after a Map's ``Items`` was read from it), or None when a part would have to be looked into."""
    out = None
    cache = _PLAIN
    for key, item in value.items():
        kind = type(item)
        if kind is str or kind is bool or item is None or (kind is int and INT64_MIN <= item <= INT64_MAX):
            continue
        if kind is dict or kind is list:
            hit = cache.get(id(item))
            if hit is None or hit[0] is not item:
                return None
            new = hit[1]
        elif kind is float and math.isfinite(item):
            new = _normalise(item)
        else:
            return None
        if new is not item:
            if out is None:
                out = dict(value)
            out[key] = new
    return value if out is None else out


def known_plain(value: Json) -> bool:
    """Whether ``value`` is plain JSON as far as can be told without looking inside a container."""
    kind = type(value)
    if kind is dict or kind is list:
        hit = _PLAIN.get(id(value))
        return hit is not None and hit[1] is value
    return kind is str or kind is bool or value is None or _normalise(value) is value


def remember_plain(value: Json, out: Json) -> None:
    """Note that ``out`` is the plain form of the container ``value`` (and of itself)."""
    if len(_PLAIN) >= _PLAIN_SIZE:
        _PLAIN.clear()
    _PLAIN[id(value)] = (value, out)
    if out is not value:
        _PLAIN[id(out)] = (out, out)


def _normalise(value: Any) -> Json:
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        # orjson writes 64-bit integers only; a JSONata number is a double anyway
        if INT64_MIN <= value <= INT64_MAX:
            return value
        try:
            return float(value)
        except OverflowError:  # past the largest double: Infinity in jsonata-js ($sum([1e308, 1e308]))
            raise UnsupportedResult from None
    if kind is float:
        if not math.isfinite(value):
            raise UnsupportedResult if value != value else NonFiniteNumber(value)
        # JavaScript writes 3.0 as 3 and -0 as 0
        return int(value) if value.is_integer() and -9.2e18 < value < 9.2e18 else value
    if value is NULL or value is None:
        return None
    if kind is dict or kind is list:
        hit = _PLAIN.get(id(value))
        if hit is not None and hit[0] is value:  # a part normalised before (a Map's items, a state's input)
            return hit[1]
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            kind_item = type(item)
            if kind_item is str or kind_item is bool or (kind_item is int and INT64_MIN <= item <= INT64_MAX):
                continue
            new = _normalise(item)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        if out is not None:
            return out
        return value if kind is dict else dict(value)
    if kind is list:
        out_list = None
        for index, item in enumerate(value):
            kind_item = type(item)
            if kind_item is str or kind_item is bool or (kind_item is int and INT64_MIN <= item <= INT64_MAX):
                continue
            new = _normalise(item)
            if new is not item:
                if out_list is None:
                    out_list = list(value)
                out_list[index] = new
        return value if out_list is None else out_list
    if isinstance(value, list):  # JList, RangeList (whose storage is empty: iterate, never copy)
        return [_normalise(item) for item in iter(value)]
    raise UnsupportedResult


def json_type(value: Json) -> str:
    """The JSON type name AWS prints in ``Expected 'array', but was 'object'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
