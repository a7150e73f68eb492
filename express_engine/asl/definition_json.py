"""The definition as a JSON document: parsing its text, and the document-wide limits.

:func:`parse_definition` turns definition text into a dict, or into the diagnostics AWS gives for text
that is blank, not JSON (worded like AWS's Jackson parser) or not an object. :func:`too_deep_location`
finds nesting deeper than :data:`MAX_NESTING_DEPTH` in a parsed definition.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Diagnostic
from ..jsonutil import JsonError, loads

__all__ = [
    "MAX_NESTING_DEPTH",
    "NOT_AN_OBJECT_MESSAGE",
    "TOO_DEEP_MESSAGE",
    "jackson_message",
    "parse_definition",
    "too_deep_location",
]

#: Deepest JSON nesting (objects and arrays) a definition may have; deeper ones are rejected with
#: ``TOO_DEEPLY_NESTED`` so that neither the validator nor the compiler can run out of stack.
MAX_NESTING_DEPTH = 128

#: The ``SCHEMA_VALIDATION_FAILED`` message for a definition that is not a JSON object.
NOT_AN_OBJECT_MESSAGE = "Definition must be a valid JSON object"
#: The ``TOO_DEEPLY_NESTED`` message.
TOO_DEEP_MESSAGE = f"Definition nesting depth exceeds the maximum of {MAX_NESTING_DEPTH}"

_SCHEMA = "SCHEMA_VALIDATION_FAILED"

# Jackson's text for an unknown bare word, which AWS returns for non-JSON definitions.
_JACKSON_EXPECTING = "was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_JACKSON_EXCERPT = 500
_ORJSON_POS_RE = re.compile(r":? line \d+ column \d+ \(char (\d+)\)$")
_JACKSON_MAX_TOKEN = 256


def parse_definition(text: str) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """Parse definition text into a dict, or return the diagnostics AWS gives for it.

    Blank text and JSON that is not an object are ``SCHEMA_VALIDATION_FAILED`` ("Definition must be
    a valid JSON object", no location); text that is not JSON is ``INVALID_JSON_DESCRIPTION`` with a
    Jackson-style parser message and ``[Source: ...]`` location, as AWS reports it. Duplicate keys
    keep their last value (Jackson's default, which AWS's parser is; no recorded case says otherwise).
    """
    if not text.strip():
        return None, [Diagnostic(_SCHEMA, NOT_AN_OBJECT_MESSAGE)]
    try:
        value = loads(text)
    except JsonError as exc:
        return None, [_json_error_diagnostic(text, str(exc))]
    if not isinstance(value, dict):
        return None, [Diagnostic(_SCHEMA, NOT_AN_OBJECT_MESSAGE)]
    return value, []


def _json_error_diagnostic(text: str, message: str) -> Diagnostic:
    """An INVALID_JSON_DESCRIPTION diagnostic shaped like AWS's (Jackson) parser report."""
    detail, end = _jackson_detail(text, message)
    if detail.startswith("depth limit exceeded"):
        return Diagnostic("TOO_DEEPLY_NESTED", TOO_DEEP_MESSAGE)
    line = text.count("\n", 0, end) + 1
    column = end - (text.rfind("\n", 0, end) + 1) + 1
    excerpt = text[:_JACKSON_EXCERPT]
    truncated = f"[truncated {len(text) - _JACKSON_EXCERPT} chars]" if len(text) > _JACKSON_EXCERPT else ""
    source = f'[Source: (String)"{excerpt}"{truncated}; line: {line}, column: {column}]'
    return Diagnostic("INVALID_JSON_DESCRIPTION", f"{detail}\n at {source}", source)


def jackson_message(text: str, message: str) -> str:
    """What AWS's (Jackson) parser says of ``text``, given orjson's error ``message`` for it (no location)."""
    return _jackson_detail(text, message)[0]


def _jackson_detail(text: str, message: str) -> tuple[str, int]:
    """The parser message for ``text`` and the offset Jackson reports it at."""
    m = _ORJSON_POS_RE.search(message)
    pos = min(int(m.group(1)), len(text)) if m else 0
    detail = message[: m.start()] if m else message
    end = pos
    if detail.startswith(("invalid literal", "unexpected character, expected a JSON value")):
        limit = min(len(text), pos + _JACKSON_MAX_TOKEN)
        while end < limit and (text[end].isalnum() or text[end] in "_$"):
            end += 1
    if end > pos:
        token = text[pos:end] + ("..." if end - pos >= _JACKSON_MAX_TOKEN else "")
        detail = f"Unrecognized token '{token}': {_JACKSON_EXPECTING}"
    elif detail.startswith("unexpected character, expected a JSON value") and pos < len(text):
        detail = f"Unexpected character ('{text[pos]}' (code {ord(text[pos])})): expected a value"
    elif detail.startswith("trailing comma is not allowed"):  # (orjson points at the comma, Jackson after it)
        rest = text[pos + 1:].lstrip()
        if rest[:1] in ("]", "}"):
            end += len(text) - pos - len(rest)
            wanted = "expected a value" if rest[0] == "]" else "was expecting double-quote to start field name"
            detail = f"Unexpected character ('{rest[0]}' (code {ord(rest[0])})): {wanted}"
    return detail, end


def too_deep_location(value: Any, limit: int) -> str | None:
    """Location of an object/array nested deeper than ``limit``, or None (iterative, no recursion)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, loc = stack.pop()
        if depth > limit:
            return loc or "/"
        if type(node) is dict:
            for key, child in node.items():
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1, f"{loc}/{key}"))
        else:
            for i, child in enumerate(node):
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1, f"{loc}[{i}]"))
    return None
