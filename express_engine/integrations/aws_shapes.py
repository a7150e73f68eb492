"""Parameters and results shaped as Step Functions shapes them, driven by botocore's service models.

Parameters: member names are matched case-insensitively, so the PascalCase names Step Functions takes
(``RestApiId``) reach camelCase APIs (``restApiId``); ``EqualsValue`` stands for a member named
``Equals``. A JSON value given for a text or blob member is sent as JSON text; a non-streaming blob
is read as base64, a streaming one (S3 ``Body``) as UTF-8 text.

Results: member names in PascalCase, no ``ResponseMetadata``; timestamps as ISO-8601 UTC text
(``2024-05-01T12:00:00Z``, the form Java's ``Instant`` prints), non-streaming blobs base64, streaming
payloads read whole and decoded as UTF-8 text.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..jsonutil import Json, dumps


def pascal(name: str) -> str:
    """``restApiId`` -> ``RestApiId``."""
    return name[:1].upper() + name[1:]


def _members(shape: Any) -> dict[str, str]:
    """Lower-cased member name -> member name (cached on the shape object)."""
    cached: dict[str, str] | None = getattr(shape, "_ee_members", None)
    if cached is None:
        cached = {name.lower(): name for name in shape.members}
        if "equals" in cached:
            cached["equalsvalue"] = cached["equals"]
        shape._ee_members = cached
    return cached


def to_api(value: Json, shape: Any) -> Any:
    """A Step Functions parameter value -> what botocore takes for ``shape``."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return value  # botocore's validation names the member and the type it wants
        members = _members(shape)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = members.get(str(key).lower(), str(key))
            out[name] = to_api(item, shape.members.get(name))
        return out
    if kind == "list":
        return [to_api(v, shape.member) for v in value] if isinstance(value, list) else value
    if kind == "map":
        return {k: to_api(v, shape.value) for k, v in value.items()} if isinstance(value, Mapping) else value
    if kind == "blob":
        if isinstance(value, (dict, list)):
            return dumps(value).encode()
        if isinstance(value, str):
            if shape.serialization.get("streaming") or getattr(shape, "_ee_streaming", False):
                return value.encode()
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return value.encode()
        return value
    if kind == "string" and isinstance(value, (dict, list)):
        return dumps(value)
    return value


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    micro = value.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"


async def from_api(value: Any, shape: Any) -> Json:
    """A botocore result value -> the JSON Step Functions gives the workflow."""
    if value is None:
        return None
    if hasattr(value, "read") and callable(value.read):  # a streaming body
        async with value as stream:
            raw = await stream.read()
        return bytes(raw).decode("utf-8", "replace")
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    kind = shape.type_name if shape is not None else None
    if isinstance(value, Mapping):
        if kind == "structure":
            out: dict[str, Json] = {}
            for key, item in value.items():
                if key == "ResponseMetadata":
                    continue
                out[pascal(key)] = await from_api(item, shape.members.get(key))
            return out
        inner = shape.value if kind == "map" else None
        return {str(k): await from_api(v, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        inner = shape.member if kind == "list" else None
        return [await from_api(v, inner) for v in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # Decimal and the like
