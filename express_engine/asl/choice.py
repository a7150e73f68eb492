"""JSONPath Choice rules compiled once into predicates ``(value, env) -> bool``.

A rule is either a boolean expression (``And``/``Or``: non-empty lists of rules, ``Not``: one rule)
or a data test ``{"Variable": path, <one operator>: operand}``. The Choice state itself (``Choices``,
``Next``, ``Default``, ``Assign``) is compiled elsewhere; this module only turns one rule into a
predicate. AWS semantics (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html):

* a value of the wrong type makes a comparison false, never an error (``bool`` is not a number);
* numbers compare by value (``0 == 0.0``), strings by code point, timestamps as instants;
* a ``Variable`` (or ``...Path`` operand) that resolves to nothing fails the execution with
  ``States.Runtime`` for every operator except ``IsPresent``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from .. import errors
from ..jsonutil import Json
from .paths import Env, Path, PathNotFound, PathSyntaxError, VariableNotFound, compile_path
from .timestamps import is_timestamp, timestamp_nanos

#: A compiled Choice rule.
Predicate = Callable[[Json, Env], bool]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _as_string(value: Json) -> str | None:
    return value if type(value) is str else None


def _as_number(value: Json) -> int | float | None:
    # type() rather than isinstance(): True/False must not count as 1/0 [AWS-rec].
    t = type(value)
    return value if t is int or t is float else None


def _as_boolean(value: Json) -> bool | None:
    return value if type(value) is bool else None


def _as_instant(value: Json) -> int | None:
    return timestamp_nanos(value) if type(value) is str else None


# Family -> (operand coercion, JSON type named in messages, comparisons it has).
_FAMILIES: dict[str, tuple[Callable[[Json], Any], str, tuple[str, ...]]] = {
    "String": (_as_string, "STRING", tuple(_COMPARISONS)),
    "Numeric": (_as_number, "NUMBER", tuple(_COMPARISONS)),
    "Timestamp": (_as_instant, "STRING", tuple(_COMPARISONS)),
    "Boolean": (_as_boolean, "BOOLEAN", ("Equals",)),
}

#: Comparison operator name -> (family, comparison, operand is a path).
_COMPARISON_OPERATORS: dict[str, tuple[str, str, bool]] = {
    f"{family}{comparison}{suffix}": (family, comparison, bool(suffix))
    for family, (_, _, comparisons) in _FAMILIES.items()
    for comparison in comparisons
    for suffix in ("", "Path")
}

_TYPE_TESTS: dict[str, Callable[[Json], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": lambda v: _as_number(v) is not None,
    "IsString": lambda v: type(v) is str,
    "IsBoolean": lambda v: type(v) is bool,
    "IsTimestamp": is_timestamp,
}

_BOOLEAN_EXPRESSIONS = frozenset({"And", "Or", "Not"})
_DATA_TESTS = frozenset({*_COMPARISON_OPERATORS, *_TYPE_TESTS, "IsPresent", "StringMatches"})
_OPERATORS = _BOOLEAN_EXPRESSIONS | _DATA_TESTS
# Fields of a top-level rule that belong to the Choice state, not to the predicate.
_TOP_LEVEL_ONLY = frozenset({"Next", "Assign"})


def _invalid(message: str, location: str) -> errors.DefinitionError:
    return errors.DefinitionError([errors.Diagnostic("SCHEMA_VALIDATION_FAILED", message, location)])


def invalid_path_error(path_text: str) -> errors.Runtime:
    """The States.Runtime AWS raises when a Choice rule's path resolves to nothing.

    AWS's cause detail (the interpreter adds the "An error occurred while executing the state ..."
    prefix): ``Invalid path '$.x': The choice state's condition path references an invalid value.``
    """
    return errors.Runtime(
        f"Invalid path '{path_text}': The choice state's condition path references an invalid value."
    )


def compile_rule(rule: dict[str, Any], location: str) -> Predicate:
    """Compile one entry of ``Choices`` into a predicate over ``(value, env)``.

    ``Next``, ``Comment`` and ``Assign`` of the entry are ignored (the Choice state handles them).
    ``location`` is the rule's JSON pointer (``/States/Check/Choices[0]``), used in diagnostics.

    Raises :class:`errors.DefinitionError` (``SCHEMA_VALIDATION_FAILED``) for a malformed rule.
    The predicate raises :class:`errors.Runtime` when a path it must read resolves to nothing.
    """
    return _compile(rule, location, nested=False)


def _compile(rule: Any, location: str, *, nested: bool) -> Predicate:
    if not isinstance(rule, dict):
        raise _invalid("A choice rule must be an OBJECT", location)
    found: list[str] = []
    for key in rule:
        if key in _OPERATORS:
            found.append(key)
        elif key in _TOP_LEVEL_ONLY and nested:
            raise _invalid(f"The field '{key}' is not supported in a nested choice rule", location)
        elif key not in ("Variable", "Comment", "Next", "Assign"):
            raise _invalid(f"The field '{key}' is not supported by Step Functions", location)
    if not found:
        raise _invalid("A choice rule must have a comparison operator or one of 'And', 'Or', 'Not'", location)
    if len(found) > 1:
        names = ", ".join(f"'{name}'" for name in found)
        raise _invalid(f"A choice rule must have exactly one comparison operator, but has {names}", location)
    op = found[0]
    operand = rule[op]
    op_location = f"{location}/{op}"
    if op in _BOOLEAN_EXPRESSIONS:
        if "Variable" in rule:
            raise _invalid(f"The field 'Variable' is not supported with '{op}'", location)
        return _compile_expression(op, operand, op_location)
    if "Variable" not in rule:
        raise _invalid("The field 'Variable' is required but was missing", location)
    variable = _compile_path(rule["Variable"], "Variable", f"{location}/Variable")
    return _compile_data_test(op, operand, variable, op_location)


def _compile_expression(op: str, operand: Any, location: str) -> Predicate:
    if op == "Not":
        inner = _compile(operand, location, nested=True)

        def not_(value: Json, env: Env) -> bool:
            return not inner(value, env)

        return not_
    if not isinstance(operand, list) or not operand:
        raise _invalid(f"The value for the field '{op}' must be a non-empty ARRAY of choice rules", location)
    rules = tuple(_compile(sub, f"{location}[{i}]", nested=True) for i, sub in enumerate(operand))
    if op == "And":

        # Plain loops, not all()/any(): no generator per evaluation on this hot path.
        def and_(value: Json, env: Env) -> bool:
            for rule in rules:  # noqa: SIM110
                if not rule(value, env):
                    return False
            return True

        return and_

    def or_(value: Json, env: Env) -> bool:
        for rule in rules:  # noqa: SIM110
            if rule(value, env):
                return True
        return False

    return or_


def _compile_path(text: Any, field: str, location: str) -> Path:
    if isinstance(text, str):
        try:
            return compile_path(text)
        except PathSyntaxError:
            pass
    raise _invalid(f"The value for the field '{field}' must be a valid JSONPath", location)


def _resolver(path: Path) -> Callable[[Json, Env], Json]:
    """Evaluate ``path``, turning "nothing there" into AWS's States.Runtime."""
    get = path.get
    text = path.text

    def resolve(value: Json, env: Env) -> Json:
        try:
            return get(value, env)
        except (PathNotFound, VariableNotFound):
            raise invalid_path_error(text) from None

    return resolve


def _compile_data_test(op: str, operand: Any, variable: Path, location: str) -> Predicate:
    if op == "IsPresent":
        expected = _boolean_operand(op, operand, location)
        exists = variable.exists

        def is_present(value: Json, env: Env) -> bool:
            return exists(value, env) is expected

        return is_present

    resolve = _resolver(variable)
    if op in _TYPE_TESTS:
        expected = _boolean_operand(op, operand, location)
        check = _TYPE_TESTS[op]

        def type_test(value: Json, env: Env) -> bool:
            return check(resolve(value, env)) is expected

        return type_test

    if op == "StringMatches":
        if type(operand) is not str:
            raise _invalid(f"The value for the field '{op}' must be a STRING", location)
        fullmatch = _compile_pattern(operand, location).fullmatch

        def string_matches(value: Json, env: Env) -> bool:
            v = resolve(value, env)
            return type(v) is str and fullmatch(v) is not None

        return string_matches

    family, comparison, is_path = _COMPARISON_OPERATORS[op]
    coerce, type_name, _ = _FAMILIES[family]
    compare = _COMPARISONS[comparison]
    if is_path:
        resolve_operand = _resolver(_compile_path(operand, op, location))

        def compare_paths(value: Json, env: Env) -> bool:
            # Both paths are resolved (and may fail) before any type check.
            left = coerce(resolve(value, env))
            right = coerce(resolve_operand(value, env))
            return left is not None and right is not None and compare(left, right)

        return compare_paths

    literal = coerce(operand)
    if literal is None:
        if family == "Timestamp" and type(operand) is str:
            raise _invalid("String does not match RFC3339 timestamp", location)
        raise _invalid(f"The value for the field '{op}' must be a {type_name}", location)

    def compare_literal(value: Json, env: Env) -> bool:
        left = coerce(resolve(value, env))
        return left is not None and compare(left, literal)

    return compare_literal


def _boolean_operand(op: str, operand: Any, location: str) -> bool:
    if type(operand) is not bool:
        raise _invalid(f"The value for the field '{op}' must be a BOOLEAN", location)
    return operand


def _compile_pattern(pattern: str, location: str) -> re.Pattern[str]:
    """Translate a StringMatches pattern: ``*`` matches any run of characters; ``\\*`` and ``\\\\``
    are a literal star and backslash; any other backslash is an error (ASL spec)."""
    parts: list[str] = []
    literal: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            escaped = next(chars, "")
            if escaped != "*" and escaped != "\\":
                raise _invalid(
                    "The value for the field 'StringMatches' must be a valid pattern: a backslash may only "
                    "escape '*' or '\\'",
                    location,
                )
            literal.append(escaped)
        elif ch == "*":
            parts.append(re.escape("".join(literal)))
            literal.clear()
            parts.append(".*")
        else:
            literal.append(ch)
    parts.append(re.escape("".join(literal)))
    return re.compile("".join(parts), re.DOTALL)
