"""JSON (de)serialisation with orjson, in the compact form AWS uses for payload strings."""

from __future__ import annotations

import re
import threading
from typing import Any

import orjson
import simdjson

#: A JSON value as Python holds it: dict, list, str, int, float, bool or None.
Json = Any

#: AWS's payload size limit for inputs, outputs and task results (256 KiB of UTF-8).
MAX_PAYLOAD_BYTES = 262_144


#: The deepest nesting of arrays and objects accepted in an input or a result. AWS publishes no figure (its
#: Jackson parser stops at 1,000 levels); orjson cannot write more than 255, and every state may add a few
#: (Parameters, ResultPath), so inputs are refused well below that, before anything tries to serialise them.
MAX_JSON_DEPTH = 128

_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")
_RUNS_RE = re.compile(rb"\[+|\]+")
#: Passes that remove the innermost bracket pairs before the runs of brackets that remain are counted.
_PASSES = 4


def too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``data`` nests arrays/objects more than ``limit`` levels deep.

    Costs two byte counts for the usual text (fewer opening brackets than ``limit``); otherwise linear: strings
    are cut out, the innermost bracket pairs removed a few times (each pass lowers the depth by one), and the
    runs of brackets that remain counted (after ``p`` passes, at most one run per ``p + 1`` brackets).
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    if b'"' in data:
        data = _STRING_RE.sub(b"", data)
    brackets = data.translate(_TO_SQUARE, _NOT_BRACKETS)
    for _ in range(min(_PASSES, limit)):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
        limit -= 1
    depth = 0
    for run in _RUNS_RE.findall(brackets):
        if run[0] == 0x5B:  # '['
            depth += len(run)
            if depth > limit:
                return True
        else:
            depth -= len(run)
    return False


def depth_message(limit: int = MAX_JSON_DEPTH) -> str:
    """The parser's message for a text nested deeper than ``limit`` levels."""
    return f"Document nesting depth exceeds the maximum allowed ({limit})"


class JsonError(ValueError):
    """Text that is not valid JSON (or a value that cannot be written as JSON)."""


def loads(text: str | bytes) -> Json:
    """Parse JSON text; raises :class:`JsonError` with the parser's message."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise JsonError(str(exc)) from None


_parsers = threading.local()  # (a simdjson parser holds one document at a time: one per thread)

#: What simdjson skips at the start of a text and orjson refuses.
_UTF8_BOM = b"\xef\xbb\xbf"


def is_json(data: bytes) -> bool:
    """Whether ``data`` is certainly JSON text that :func:`loads` accepts, checked without building any value.

    simdjson validates at a fraction of the cost of parsing into Python objects. It refuses some texts orjson
    accepts (integers beyond 64 bits), so False means "parse it to know", never "invalid". It accepts nothing
    orjson refuses (a differential test holds it to that) except a leading byte-order mark, refused here.
    """
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    if data.startswith(_UTF8_BOM):
        return False
    try:
        parser.parse(data)
    except (ValueError, RuntimeError):  # (simdjson's errors; UnicodeDecodeError is a ValueError)
        return False
    return True


def dumps(value: Json) -> str:
    """Compact JSON text (``{"a":1}``), the form AWS gives inputs and outputs."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        raise JsonError(str(exc)) from None


def dumpb(value: Json) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise JsonError(str(exc)) from None

