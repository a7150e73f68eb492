"""JSON (de)serialisation with orjson, in the compact form AWS uses for payload strings."""

from __future__ import annotations

from typing import Any

import orjson

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


def size_of(value: Json) -> int:
    """Size in bytes of ``value`` serialised as compact UTF-8 JSON."""
    return len(dumpb(value))
