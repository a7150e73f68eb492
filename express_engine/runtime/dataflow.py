"""JSONPath-mode data flow: InputPath, ResultPath, OutputPath and payload size, as pure functions.

AWS's rules (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html):
InputPath/OutputPath ``null`` give ``{}``; ResultPath ``null`` keeps the raw
input; ResultPath merges into the state's *raw* input, creating missing objects on the way.
"""

from __future__ import annotations

import orjson

from .. import errors
from ..asl.model import NULL
from ..asl.paths import Env, Path, PathNotFound, ReferencePath, VariableNotFound
from ..jsonutil import MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, Json, dumps, too_deep


def bracket_path(steps: tuple[str | int, ...] | None, text: str) -> str:
    """Jayway's bracket rendering of a plain path: ``$['a']['b'][0]``."""
    if steps is None:
        return text
    return "$" + "".join(f"['{s}']" if isinstance(s, str) else f"[{s}]" for s in steps)


def not_found_cause(path: Path, value: Json) -> str:
    """AWS's cause for a path that selects nothing: ``Invalid path '<path>' : `` and Jayway JsonPath's message.

    Jayway (AWS's JSONPath library) says ``Missing property in path $['a']`` when a property *before* the last
    step is missing (up to that property), and ``No results for path: $['a']['b']`` (the whole path) when the
    last step finds nothing. Both recorded against AWS: an OutputPath ``$.no.such.result.path`` on ``{}``
    gave ``Missing property in path $['no']``, an InputPath ``$.NoSuchInputPath`` gave ``No results for path:
    $['NoSuchInputPath']`` (the conformance cases test_catch_states_runtime and test_invalid_jsonpath).
    """
    steps = path.steps or ()
    cur = value
    for i, step in enumerate(steps[:-1]):
        if isinstance(step, str):
            if not isinstance(cur, dict):
                break
            if step not in cur:
                missing = bracket_path(steps[: i + 1], path.text)
                return f"Invalid path '{path.text}' : Missing property in path {missing}"
            cur = cur[step]
        else:
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                break
            cur = cur[step]
    return f"Invalid path '{path.text}' : No results for path: {bracket_path(path.steps, path.text)}"


def apply_input_path(path: Path | None, raw: Json, env: Env) -> Json:
    """The state's input after InputPath."""
    if path is None:
        return raw
    if path is NULL:
        return {}
    try:
        return path.get(raw, env)
    except PathNotFound as exc:
        raise errors.Runtime(not_found_cause(path, exc.value)) from None
    except VariableNotFound as exc:
        raise errors.Runtime(f"The variable '${exc.name}' is not defined.") from None


def apply_output_path(path: Path | None, value: Json, env: Env) -> Json:
    """The state's output after OutputPath."""
    if path is None:
        return value
    if path is NULL:
        return {}
    try:
        return path.get(value, env)
    except PathNotFound as exc:
        raise errors.Runtime(not_found_cause(path, exc.value)) from None
    except VariableNotFound as exc:
        raise errors.Runtime(f"The variable '${exc.name}' is not defined.") from None


def apply_result_path(path: ReferencePath | None, raw: Json, result: Json) -> Json:
    """Merge ``result`` into the raw input as ResultPath says."""
    if path is None:
        return result
    if path is NULL:
        return raw
    try:
        return path.set(raw, result)
    except PathNotFound:
        raise errors.ResultPathMatchFailure(
            f"Unable to apply ReferencePath {path.text} to input {dumps(raw)}"
        ) from None


def check_size(value: Json, what: str) -> int:
    """Raise States.DataLimitExceeded when ``value`` exceeds 256 KiB as JSON; returns its size in bytes.

    A value too deep to be written as JSON at all is refused (States.Runtime), before a log or a reply
    tries to write it.
    """
    return len(checked_text(value, what))


def checked_text(value: Json, what: str) -> bytes:
    """:func:`check_size`, returning the JSON text it measured (a state's output: the reply or a log event may
    need it)."""
    try:
        data = orjson.dumps(value)  # (not jsonutil.dumpb: this runs for many states)
    except TypeError as exc:  # (orjson.JSONEncodeError)
        raise _not_json(what, exc) from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise _too_big(what)
    return data


def check_result(value: Json, what: str) -> int:
    """:func:`check_size` for a value that comes from outside the workflow (a task's result), which is also
    refused when nested deeper than :data:`~express_engine.jsonutil.MAX_JSON_DEPTH` levels, as inputs are.

    (A state's own output can only grow a few levels deeper than what it was built from, so only what enters
    is measured: a depth scan of every state output would cost the fast path a fifth of its speed.)
    """
    try:
        data = orjson.dumps(value)
    except TypeError as exc:
        raise _not_json(what, exc) from None
    if too_deep(data):
        raise _too_deep(what)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise _too_big(what)
    return len(data)


def _not_json(what: str, exc: TypeError) -> errors.StatesError:
    if "ecursion" in str(exc):
        return _too_deep(what)
    return errors.Runtime(f"The state/task '{what}' produced a value that is not JSON: {exc}")


def _too_big(what: str) -> errors.StatesError:
    return errors.DataLimitExceeded(
        f"The state/task '{what}' returned a result with a size exceeding the maximum number of bytes service "
        "limit.")


def _too_deep(what: str) -> errors.StatesError:
    return errors.Runtime(f"The state/task '{what}' returned a result nested deeper than {MAX_JSON_DEPTH} "
                          "levels.")


def result_path_size_bound(path: ReferencePath | None, raw: Json, raw_size: int, result: Json) -> int:
    """An upper bound of the JSON size of ``apply_result_path(path, raw, result)`` given ``raw``'s size bound.

    Saves serialising a state's whole output just to check the payload limit: only the (usually small)
    result is measured. Returns -1 when ``result`` is not JSON (the exact check then reports it).
    """
    if path is NULL:
        return raw_size
    if result is raw:
        result_size = raw_size
    else:
        try:
            result_size = len(orjson.dumps(result))  # (not jsonutil.dumpb: this runs for most states)
        except TypeError:
            return -1
    if path is None:
        return result_size
    # Merging adds the result plus, per missing key on the path, the key and its punctuation.
    return raw_size + result_size + 8 * len(path.text) + 8
