"""EventBridge Pipes input templates: ``InputTemplate`` text with ``<$.path>`` placeholders.

As Pipes define them (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-input-transformation.html),
a template is static text, a lone JSON path (``<$.data>``), or JSON with inline paths
(``{"id": "<$.data.id>", "order": <$.data.order>}``). A placeholder inside a JSON string is replaced by
the value's text (a string as is, anything else as its JSON), one outside a string by the value's JSON;
a path that matches nothing gives ``null`` (or nothing, inside a string). A template that is not JSON
(``Hello, <$.data.name>``) gives its text as a JSON string. Reserved variables: ``<aws.pipes.pipe-arn>``,
``<aws.pipes.pipe-name>``, ``<aws.pipes.source-arn>``, ``<aws.pipes.target-arn>``,
``<aws.pipes.enrichment-arn>`` (empty: pipes here have no enrichment), ``<aws.pipes.event.ingestion-time>``
(the entry's time), ``<aws.pipes.event>`` and ``<aws.pipes.event.json>`` (the whole record).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import service_errors as api
from ..asl.paths import PathNotFound, PathSyntaxError, compile_path
from ..jsonutil import Json, dumps, loads

__all__ = ["compile_input_template"]

MAX_TEMPLATE_CHARS = 8192
_PLACEHOLDER = re.compile(r"<(\$[^<>\"]*|aws\.pipes\.[a-z.\-]+)>")
_STATIC_VARIABLES = ("aws.pipes.pipe-arn", "aws.pipes.pipe-name", "aws.pipes.source-arn", "aws.pipes.target-arn",
                     "aws.pipes.enrichment-arn")
_EVENT_VARIABLES = ("aws.pipes.event", "aws.pipes.event.json", "aws.pipes.event.ingestion-time")

#: One placeholder: how to get its value from a record, and whether it stands inside a JSON string.
_Slot = tuple[Callable[[Json], Any], bool]


def _in_strings(text: str) -> list[bool]:
    """For each character of ``text``, whether it lies inside a double-quoted string."""
    inside, escaped, out = False, False, []
    for ch in text:
        out.append(inside)
        if escaped:
            escaped = False
        elif ch == "\\" and inside:
            escaped = True
        elif ch == '"':
            inside = not inside
    return out


_MISSING = object()


def _getter(name: str, variables: Mapping[str, str]) -> Callable[[Json], Any]:
    if name.startswith("$"):
        try:
            path = compile_path(name, allow_context=False, allow_variables=False)
        except PathSyntaxError as exc:
            raise api.ValidationException(f"Invalid InputTemplate: the JSON path <{name}> is not valid: {exc}") \
                from None

        def get(record: Json) -> Any:
            try:
                return path.get(record)
            except (PathNotFound, LookupError):
                return _MISSING
        return get
    if name in _STATIC_VARIABLES:
        value = variables.get(name, "")
        return lambda _record: value
    if name == "aws.pipes.event.ingestion-time":
        def ingestion(record: Json) -> Any:
            ms = record.get("timestamp") if isinstance(record, dict) else None
            seconds = ms / 1000 if isinstance(ms, (int, float)) else time.time()
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
        return ingestion
    if name in _EVENT_VARIABLES:
        return lambda record: record
    raise api.ValidationException(f"Invalid InputTemplate: unknown reserved variable <{name}>")


def compile_input_template(template: str, variables: Mapping[str, str] | None = None) -> Callable[[Json], Json]:
    """The function turning one record into its input, per ``template``; ``variables`` give the static
    reserved variables (``aws.pipes.pipe-arn`` ...). Raises ValidationException for a template that
    cannot compile; the function raises ValueError when its result is not valid JSON."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise api.ValidationException(f"InputTemplate must be at most {MAX_TEMPLATE_CHARS} characters")
    quoted = _in_strings(template)
    pieces: list[str] = []
    slots: list[_Slot] = []
    at = 0
    for m in _PLACEHOLDER.finditer(template):
        pieces.append(template[at:m.start()])
        slots.append((_getter(m.group(1), variables or {}), quoted[m.start()]))
        at = m.end()
    pieces.append(template[at:])
    # JSON when the template with every placeholder filled in is JSON; otherwise plain text.
    probe = pieces[0] + "".join(("" if inside else "null") + piece for (_, inside), piece in zip(slots, pieces[1:],
                                                                                                 strict=True))
    try:
        loads(probe)
        is_json = True
    except ValueError:
        is_json = False
    tail = pieces[1:]

    def render(record: Json) -> Json:
        out = [pieces[0]]
        for (get, inside), piece in zip(slots, tail, strict=True):
            value = get(record)
            if value is _MISSING:
                text = "" if inside or not is_json else "null"
            elif inside:
                text = dumps(value if isinstance(value, str) else dumps(value))[1:-1]
            elif is_json:
                text = dumps(value)
            else:
                text = value if isinstance(value, str) else dumps(value)
            out.append(text)
            out.append(piece)
        result = "".join(out)
        if not is_json:
            return result
        try:
            return loads(result)
        except ValueError:
            raise ValueError("the input template did not produce valid JSON for this entry") from None

    return render
