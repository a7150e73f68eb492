"""EventBridge event patterns: compiled once, matched against parsed JSON events.

The language of https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
its comparison operators (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html),
with the semantics of AWS's reference implementation (aws/event-ruler):

* an object names fields, all of which must match (AND); a field's array lists matchers, any of which
  may match (OR); ``"$or": [{...}, {...}]`` (two or more objects) ORs whole sub-patterns;
* matchers: a literal (string, number compared by value, ``true``/``false``/``null``), ``prefix``,
  ``suffix`` (both also with ``{"equals-ignore-case": ...}``), ``equals-ignore-case``, ``wildcard``
  (``*``; ``\\*`` and ``\\\\`` escape), ``anything-but`` (a value, a list of values, or a ``prefix`` /
  ``suffix`` / ``equals-ignore-case`` / ``wildcard`` matcher), ``numeric`` (``=``, ``<``, ``<=``,
  ``>``, ``>=``; one or two comparisons), ``exists`` and ``cidr``;
* an event array matches when one of its elements does (a nested pattern must match within one
  element: fields from different elements of the same array never combine);
* ``exists`` works on leaves only: ``{"exists": false}`` matches a field that is absent or is an object.

:func:`compile_pattern` raises :class:`InvalidEventPattern` (AWS's ``InvalidEventPatternException``)
with AWS's ``Event pattern is not valid. Reason: ...`` message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from .. import service_errors as api
from ..jsonutil import Json, dumps, loads

__all__ = ["EventPattern", "InvalidEventPattern", "compile_pattern", "matches"]


class InvalidEventPattern(api.ServiceError):
    """AWS ``InvalidEventPatternException``."""

    code = "InvalidEventPatternException"


#: A compiled leaf matcher: ``(value present, value) -> matched``.
_Leaf = Callable[[bool, Json], bool]
#: A compiled (sub-)pattern: ``event object -> matched``.
Matcher = Callable[[Json], bool]

_MISSING: Any = object()
_NUMERIC_LIMIT = 5.0e9
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _invalid(reason: str) -> InvalidEventPattern:
    return InvalidEventPattern(f"Event pattern is not valid. Reason: {reason}")


def _is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_literal(a: Json, b: Json) -> bool:
    """JSON equality of two leaf values: numbers by value, never a boolean for a number."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


# -- leaf matchers --------------------------------------------------------------------------------


def _string_test(kind: str, arg: Json) -> Callable[[str], bool]:
    """A test on string values for ``prefix`` / ``suffix`` / ``equals-ignore-case`` / ``wildcard``."""
    if kind in ("prefix", "suffix") and isinstance(arg, dict):
        if list(arg) != ["equals-ignore-case"] or not isinstance(arg["equals-ignore-case"], str):
            raise _invalid(f"Value of {kind} must be a string or an equals-ignore-case object with a string")
        folded = arg["equals-ignore-case"].casefold()
        if kind == "prefix":
            return lambda s: s.casefold().startswith(folded)
        return lambda s: s.casefold().endswith(folded)
    if not isinstance(arg, str):
        raise _invalid(f"{kind} match pattern must be a string")
    if kind == "prefix":
        return lambda s: s.startswith(arg)
    if kind == "suffix":
        return lambda s: s.endswith(arg)
    if kind == "equals-ignore-case":
        folded = arg.casefold()
        return lambda s: s.casefold() == folded
    return _wildcard(arg)


def _wildcard(text: str) -> Callable[[str], bool]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in ("*", "\\"):
                raise _invalid("Wildcard escape character '\\' must be followed by '*' or '\\'")
            out.append(re.escape(nxt))
            i += 2
            continue
        if ch == "*":
            if text[i + 1:i + 2] == "*":
                raise _invalid("Consecutive wildcard characters at pos " + str(i + 1))
            out.append(".*")
        else:
            out.append(re.escape(ch))
        i += 1
    regex = re.compile("".join(out), re.DOTALL)
    return lambda s: regex.fullmatch(s) is not None


def _numeric(args: Json) -> Callable[[float], bool]:
    if not isinstance(args, list) or len(args) not in (2, 4):
        raise _invalid("Value of numeric must be an array of one or two comparisons")
    tests: list[tuple[Callable[[float, float], bool], float]] = []
    for k in range(0, len(args), 2):
        op, bound = args[k], args[k + 1]
        if not isinstance(op, str) or op not in _COMPARISONS:
            raise _invalid(f"Unrecognized numeric range operator: {op}")
        if not _is_number(bound):
            raise _invalid(f"Value of {op} must be numeric")
        if not -_NUMERIC_LIMIT <= bound <= _NUMERIC_LIMIT:
            raise _invalid(f"Value of {op} must be between -5.0E9 and 5.0E9")
        tests.append((_COMPARISONS[op], float(bound)))
    if len(tests) == 2:
        (first, _), (second, _) = tests
        lower = {_COMPARISONS[">"], _COMPARISONS[">="]}
        upper = {_COMPARISONS["<"], _COMPARISONS["<="]}
        if not (first in lower and second in upper) or tests[0][1] >= tests[1][1]:
            raise _invalid("Bad numeric range: give a lower bound (> or >=) then a greater upper bound (< or <=)")
    return lambda v: all(test(v, bound) for test, bound in tests)


def _anything_but(arg: Json) -> _Leaf:
    if isinstance(arg, dict):
        if len(arg) != 1:
            raise _invalid("Value of anything-but must be a single matcher")
        ((kind, sub),) = arg.items()
        if kind not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise _invalid(f"Unsupported anything-but pattern: {kind}")
        values = sub if isinstance(sub, list) and kind in ("equals-ignore-case", "wildcard") else [sub]
        if not values:
            raise _invalid("Empty arrays are not allowed")
        if kind in ("prefix", "suffix") and isinstance(sub, dict):
            raise _invalid(f"Value of anything-but {kind} must be a string")
        str_tests = [_string_test(kind, v) for v in values]
        return lambda present, v: present and isinstance(v, str) and not any(t(v) for t in str_tests)
    items = arg if isinstance(arg, list) else [arg]
    if not items:
        raise _invalid("Empty arrays are not allowed")
    if not (all(isinstance(x, str) for x in items) or all(_is_number(x) for x in items)):
        raise _invalid("Inside anything-but list, mixed types are not allowed: give only strings or only numbers")
    return lambda present, v: present and not any(_same_literal(v, x) for x in items)


def _cidr(arg: Json) -> Callable[[str], bool]:
    if not isinstance(arg, str):
        raise _invalid("Value of cidr must be a string")
    try:
        network = ipaddress.ip_network(arg, strict=False)
    except ValueError:
        raise _invalid(f"Nonstandard IP address: {arg}") from None

    def test(s: str) -> bool:
        try:
            return ipaddress.ip_address(s) in network
        except ValueError:
            return False

    return test


def _leaf(matcher: Json) -> _Leaf:
    """Compile one element of a field's matcher array."""
    if not isinstance(matcher, dict):
        if isinstance(matcher, list):
            raise _invalid("Match value must be a string, number, true, false, null or an object")
        return lambda present, v: present and _same_literal(v, matcher)
    if len(matcher) != 1:
        raise _invalid("A match object must contain exactly one match type")
    ((kind, arg),) = matcher.items()
    if kind == "exists":
        if not isinstance(arg, bool):
            raise _invalid("exists match pattern must be either true or false")
        # (an object value is not a leaf: it counts as absent for exists)
        if arg:
            return lambda present, v: present and not isinstance(v, dict)
        return lambda present, v: not present or isinstance(v, dict)
    if kind == "anything-but":
        return _anything_but(arg)
    if kind == "numeric":
        num = _numeric(arg)
        return lambda present, v: present and _is_number(v) and num(float(v))
    if kind in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        s_test = _string_test(kind, arg)
        return lambda present, v: present and isinstance(v, str) and s_test(v)
    if kind == "cidr":
        ip_test = _cidr(arg)
        return lambda present, v: present and isinstance(v, str) and ip_test(v)
    raise _invalid(f"Unrecognized match type {kind}")


def _flat(values: list[Json]) -> list[Json]:
    """The elements of an event array, arrays within it flattened (AWS "crushes" nested arrays)."""
    if not any(isinstance(v, list) for v in values):
        return values
    out: list[Json] = []
    for v in values:
        out.extend(_flat(v) if isinstance(v, list) else (v,))
    return out


def _field_leaf(matchers: list[Json], key: str) -> Matcher:
    if not matchers:
        raise _invalid(f"Empty arrays are not allowed (field '{key}')")
    leaves = [_leaf(m) for m in matchers]

    def test(event: Json) -> bool:
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if value is _MISSING:
            return any(leaf(False, None) for leaf in leaves)
        if isinstance(value, list):
            value = _flat(value)
            if not value:  # an empty array holds no value: like an absent field
                return any(leaf(False, None) for leaf in leaves)
            return any(leaf(True, v) for v in value for leaf in leaves)
        return any(leaf(True, value) for leaf in leaves)

    return test


def _nested(sub: Matcher, key: str) -> Matcher:
    def test(event: Json) -> bool:
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(value, list):
            value = _flat(value)
            return any(sub(v) for v in value) if value else sub({})
        if isinstance(value, dict):
            return sub(value)
        return sub({})  # absent (or a leaf): only exists-false matchers below can match

    return test


def _any_of(alternatives: list[Matcher]) -> Matcher:
    return lambda event: any(alt(event) for alt in alternatives)


def _is_or(key: str, value: Json) -> bool:
    return key == "$or" and isinstance(value, list) and len(value) >= 2 and all(isinstance(v, dict) for v in value)


def _compile_object(pattern: dict[str, Json], depth: int = 0) -> Matcher:
    if depth > 64:
        raise _invalid("Event pattern is nested too deeply")
    tests: list[Matcher] = []
    for key, value in pattern.items():
        if _is_or(key, value):
            tests.append(_any_of([_compile_object(v, depth + 1) for v in value]))
        elif isinstance(value, dict):
            if not value:
                raise _invalid(f"Empty objects are not allowed (field '{key}')")
            tests.append(_nested(_compile_object(value, depth + 1), key))
        elif isinstance(value, list):
            tests.append(_field_leaf(value, key))
        else:
            raise _invalid(f"Match value for field '{key}' must be an array or an object")
    return lambda event: all(test(event) for test in tests)


class EventPattern:
    """A compiled event pattern; ``pattern.matches(event)`` for a parsed JSON event."""

    __slots__ = ("_match", "text")

    def __init__(self, text: str, match: Matcher) -> None:
        self.text = text
        self._match = match

    def matches(self, event: Json) -> bool:
        """Whether ``event`` (a parsed JSON object) matches."""
        return self._match(event)


def compile_pattern(pattern: str | dict[str, Json]) -> EventPattern:
    """Compile an event pattern given as JSON text or as a parsed object; raises :class:`InvalidEventPattern`."""
    if isinstance(pattern, str):
        try:
            parsed = loads(pattern)
        except ValueError:
            raise _invalid("Filter is not valid JSON") from None
        text = pattern
    else:
        parsed, text = pattern, dumps(pattern)
    if not isinstance(parsed, dict):
        raise _invalid("Filter is not an object")
    if not parsed:
        raise _invalid("Empty objects are not allowed")
    return EventPattern(text, _compile_object(parsed))


def matches(pattern: str | dict[str, Json], event: Json) -> bool:
    """One-shot :func:`compile_pattern` + :meth:`EventPattern.matches` (like AWS's TestEventPattern)."""
    return compile_pattern(pattern).matches(event)
