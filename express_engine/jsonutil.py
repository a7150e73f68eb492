"""JSON (de)serialisation with orjson, in the compact form AWS uses for payload strings."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import simdjson

#: A JSON value as Python holds it: dict, list, str, int, float, bool or None.
Json = Any

#: AWS's payload size limit for inputs, outputs and task results (256 KiB of UTF-8).
MAX_PAYLOAD_BYTES = 262_144


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

