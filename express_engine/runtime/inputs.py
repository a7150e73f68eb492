"""Execution inputs as the API gives them: JSON text within the payload limit, with AWS's errors."""

from __future__ import annotations

from .. import service_errors as api
from ..asl.definition_json import jackson_message
from ..jsonutil import (
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    Json,
    JsonError,
    depth_message,
    dumpb,
    is_json,
    loads,
    too_deep,
)

#: How many times longer than JSON text its value can get when written back compactly: orjson writes the 4
#: characters ``1e15`` as the 18 of ``1000000000000000.0``; nothing else grows (whitespace goes, escapes shrink).
TEXT_GROWTH = 5


def checked_input(text: str | None) -> bytes:
    """An execution input checked like :func:`parse_input`, kept as the UTF-8 JSON text it is (to pass on)."""
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= MAX_PAYLOAD_BYTES and is_json(data):
            if too_deep(data):
                raise _too_deep_input()
            return data
    return dumpb(parse_input(text))  # None gives {}; a valid input passes (written back); others raise AWS's error


def parse_input(text: str | None) -> Json:
    """An execution input as given to the API: JSON text (``None`` = ``{}``) within the size limit."""
    if text is None:
        return {}
    if not isinstance(text, str):
        raise api.InvalidExecutionInput("Invalid State Machine Execution Input: input must be a JSON string")
    # (An ASCII text is its own UTF-8: no copy to measure it, and brackets are counted in the text itself.)
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise api.ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {MAX_PAYLOAD_BYTES}")
    try:
        value = loads(text)
    except JsonError as exc:
        raise api.InvalidExecutionInput(
            f"Invalid State Machine Execution Input: '{jackson_message(text, str(exc))}'") from None
    # Fewer opening brackets than the limit (the usual input) cannot nest deeper: only then is the text scanned.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and too_deep(text.encode("utf-8", "surrogatepass")):
        raise _too_deep_input()
    return value


def _too_deep_input() -> api.ServiceError:
    return api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{depth_message()}'")
