"""EventBridge input templates: Pipes' ``InputTemplate`` (``<$.path>`` placeholders) and rule targets'
``InputTransformer`` (``<name>`` placeholders for the JSON paths of an ``InputPathsMap``).

As Pipes define them (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-input-transformation.html),
a template is static text, a lone JSON path (``<$.data>``), or JSON with inline paths
(``{"id": "<$.data.id>", "order": <$.data.order>}``). A placeholder inside a JSON string is replaced by
the value's text (a string as is, anything else as its JSON), one outside a string by the value's JSON;
a path that matches nothing gives ``null`` (or nothing, inside a string). A template that is not JSON
(``Hello, <$.data.name>``) gives its text as a JSON string. Reserved variables: ``<aws.pipes.pipe-arn>``,
``<aws.pipes.pipe-name>``, ``<aws.pipes.source-arn>``, ``<aws.pipes.target-arn>``,
``<aws.pipes.enrichment-arn>`` (empty: pipes here have no enrichment), ``<aws.pipes.event.ingestion-time>``
(the entry's time), ``<aws.pipes.event>`` and ``<aws.pipes.event.json>`` (the whole record). A rule
target's template (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html)
follows the same rules with its ``<name>`` placeholders and ``<aws.events.rule-arn>``,
``<aws.events.rule-name>``, ``<aws.events.event.ingestion-time>``, ``<aws.events.event>`` and
``<aws.events.event.json>``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import service_errors as api
from ..asl.paths import PathSyntaxError, compile_path
from ..jsonutil import Json, dumps, loads

__all__ = ["compile_input_template"]

MAX_TEMPLATE_CHARS = 8192
_PIPES_PLACEHOLDER = re.compile(r"<(\$[^<>\"]*|aws\.pipes\.[a-z.\-]+)>")
_RULES_PLACEHOLDER = re.compile(r"<(aws\.events\.[a-z.\-]+|[A-Za-z0-9_\-]+)>")
_STATIC_VARIABLES = ("aws.pipes.pipe-arn", "aws.pipes.pipe-name", "aws.pipes.source-arn", "aws.pipes.target-arn",
                     "aws.pipes.enrichment-arn", "aws.events.rule-arn", "aws.events.rule-name")
_EVENT_VARIABLES = ("aws.pipes.event", "aws.pipes.event.json", "aws.events.event", "aws.events.event.json")
_INGESTION = ("aws.pipes.event.ingestion-time", "aws.events.event.ingestion-time")
#: InputPathsMap limits (EventBridge's InputTransformer)
MAX_PATHS = 100
_PATH_KEY = re.compile(r"[A-Za-z0-9_\-]{1,256}")

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


def _path_getter(text: str, what: str) -> Callable[[Json], Any]:
    try:
        path = compile_path(text, allow_context=False, allow_variables=False)
    except PathSyntaxError as exc:
        raise api.ValidationException(f"Invalid {what}: the JSON path {text} is not valid: {exc}") from None

    def get(record: Json) -> Any:
        try:
            return path.get(record)
        except LookupError:
            return _MISSING
    return get


def _getter(name: str, variables: Mapping[str, str], paths: Mapping[str, Callable[[Json], Any]] | None
            ) -> Callable[[Json], Any] | None:
    """How to get a placeholder's value (None: not a placeholder, the text stays as it is)."""
    if paths is not None and not name.startswith("aws."):
        return paths.get(name)
    if name.startswith("$"):
        return _path_getter(name, "InputTemplate")
    if name in _STATIC_VARIABLES:
        value = variables.get(name, "")
        return lambda _record: value
    if name in _INGESTION:
        def ingestion(record: Json) -> Any:
            if isinstance(record, dict) and isinstance(record.get("time"), str):  # (an EventBridge event)
                return record["time"]
            ms = record.get("timestamp") if isinstance(record, dict) else None
            seconds = ms / 1000 if isinstance(ms, (int, float)) else time.time()
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
        return ingestion
    if name in _EVENT_VARIABLES:
        return lambda record: record
    raise api.ValidationException(f"Invalid InputTemplate: unknown reserved variable <{name}>")


def compile_input_template(template: str, variables: Mapping[str, str] | None = None,
                           paths: Mapping[str, str] | None = None) -> Callable[[Json], Json]:
    """The function turning one record into its input, per ``template``; ``variables`` give the static
    reserved variables (``aws.pipes.pipe-arn`` ...); ``paths`` (a rule target's ``InputPathsMap``) makes it
    an InputTransformer template. Raises ValidationException for a template that cannot compile; the
    function raises ValueError when its result is not valid JSON."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise api.ValidationException(f"InputTemplate must be at most {MAX_TEMPLATE_CHARS} characters")
    getters = None
    if paths is not None:
        if len(paths) > MAX_PATHS:
            raise api.ValidationException(f"InputPathsMap can hold at most {MAX_PATHS} paths")
        getters = {}
        for key, text in paths.items():
            if not isinstance(key, str) or not _PATH_KEY.fullmatch(key) or key.startswith("AWS."):
                raise api.ValidationException(f"Invalid InputPathsMap key '{key}'")
            if not isinstance(text, str):
                raise api.ValidationException(f"InputPathsMap value for '{key}' must be a JSON path")
            getters[key] = _path_getter(text, "InputPathsMap")
    quoted = _in_strings(template)
    pieces: list[str] = []
    slots: list[_Slot] = []
    at = 0
    for m in (_RULES_PLACEHOLDER if paths is not None else _PIPES_PLACEHOLDER).finditer(template):
        get = _getter(m.group(1), variables or {}, getters)
        if get is None:
            continue
        pieces.append(template[at:m.start()])
        slots.append((get, quoted[m.start()]))
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
