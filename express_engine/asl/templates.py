"""Payload templates (Parameters, ResultSelector, ItemSelector, JSONPath Assign): compiled once.

A key ending in ``.$`` takes its value from a path (``$...``, ``$$...``, ``$var...``) or an intrinsic
function call, and loses the suffix; every other key is a literal. Sub-trees without any ``.$`` key are
kept as constants and shared between executions (payloads are never mutated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors
from ..jsonutil import Json, dumps
from .intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic
from .paths import Env, Path, PathNotFound, PathSyntaxError, VariableNotFound, compile_path

#: A compiled template: ``(value, env) -> payload``.
Template = Callable[[Json, Env], Json]


def _diag(message: str, location: str) -> errors.DefinitionError:
    return errors.DefinitionError([errors.Diagnostic("SCHEMA_VALIDATION_FAILED", message, location)])


def path_failure(path_text: str, field: str, value: Json) -> errors.Runtime:
    """The States.Runtime AWS raises when a template path finds nothing (as AWS records it)."""
    return errors.Runtime(
        f"The JSONPath '{path_text}' specified for the field '{field}' could not be found in the input "
        f"'{dumps(value)}'"
    )


def variable_failure(name: str) -> errors.Runtime:
    """The States.Runtime raised when a path reads a variable that was never assigned."""
    return errors.Runtime(f"The variable '${name}' is not defined.")


def compile_dynamic_value(text: Json, field: str, location: str) -> Callable[[Json, Env], Json]:
    """Compile the value of a ``.$`` key: a path or an intrinsic call."""
    if not isinstance(text, str):
        raise _diag(f"The value for the field '{field}' must be a STRING that contains a JSONPath "
                    "or an intrinsic function", location)
    if is_intrinsic(text):
        try:
            fn = compile_intrinsic(text)
        except IntrinsicSyntaxError:
            raise _diag(f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic "
                        "function call", location) from None
        return _wrap_intrinsic(fn, field)
    if text.startswith("$"):
        try:
            path = compile_path(text)
        except PathSyntaxError:
            raise _diag(f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic "
                        "function call", location) from None
        return _wrap_path(path, field)
    raise _diag(f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function "
                "call", location)


_MISSING: Any = object()


def _wrap_path(path: Path, field: str) -> Callable[[Json, Env], Json]:
    get = path.get
    text = path.text

    def evaluate(value: Json, env: Env) -> Json:
        try:
            return get(value, env)
        except PathNotFound as exc:
            raise path_failure(text, field, exc.value) from None
        except VariableNotFound as exc:
            raise variable_failure(exc.name) from None

    steps = path.steps
    if path.root != "input" or not steps or not all(isinstance(s, str) for s in steps):
        return evaluate
    # The common ``$.a`` / ``$.a.b``: a dict lookup per key, inline; anything else takes the general way.
    missing = _MISSING
    if len(steps) == 1:
        (k1,) = steps

        def evaluate_1(value: Json, env: Env) -> Json:
            if type(value) is dict:
                found = value.get(k1, missing)
                if found is not missing:
                    return found
            return evaluate(value, env)

        return evaluate_1
    if len(steps) == 2:
        k1, k2 = steps

        def evaluate_2(value: Json, env: Env) -> Json:
            if type(value) is dict:
                inner = value.get(k1, missing)
                if type(inner) is dict:
                    found = inner.get(k2, missing)
                    if found is not missing:
                        return found
            return evaluate(value, env)

        return evaluate_2
    return evaluate


def _wrap_intrinsic(fn: Callable[[Json, Env], Json], field: str) -> Callable[[Json, Env], Json]:
    def evaluate(value: Json, env: Env) -> Json:
        try:
            return fn(value, env)
        except PathNotFound as exc:
            raise path_failure(exc.path, field, exc.value) from None
        except VariableNotFound as exc:
            raise variable_failure(exc.name) from None

    return evaluate


def _constant(value: Json) -> Template:
    return lambda _value, _env: value


def compile_template(template: Json, location: str) -> Template:
    """Compile a payload template; ``location`` is the JSON pointer of the field (for diagnostics)."""
    fn = _compile_node(template, location)
    return fn if fn is not None else _constant(template)


def _compile_node(node: Json, location: str) -> Template | None:
    """Compiled form of ``node``, or None when it holds no ``.$`` key (a constant)."""
    if isinstance(node, dict):
        parts: list[tuple[str, Any, bool]] = []
        dynamic = False
        seen: set[str] = set()
        for key, val in node.items():
            loc = f"{location}/{key}"
            if key.endswith(".$"):
                name = key[:-2]
                # AWS locates a bad dynamic value at the enclosing object, not at the key.
                parts.append((name, compile_dynamic_value(val, key, location), True))
                dynamic = True
            else:
                name = key
                sub = _compile_node(val, loc)
                if sub is None:
                    parts.append((name, val, False))
                else:
                    parts.append((name, sub, True))
                    dynamic = True
            if name in seen:
                raise _diag(f"The field '{name}' is duplicated (once with and once without '.$')", loc)
            seen.add(name)
        if not dynamic:
            return None
        frozen = tuple(parts)

        # Plain loops, not comprehensions: on Python 3.11 a comprehension is a function call of its own.
        def build_object(value: Json, env: Env) -> Json:
            out = {}
            for name, fn, is_dyn in frozen:
                out[name] = fn(value, env) if is_dyn else fn
            return out

        return build_object
    if isinstance(node, list):
        items = [_compile_node(item, f"{location}[{i}]") for i, item in enumerate(node)]
        if all(item is None for item in items):
            return None
        pairs = tuple((fn, raw) for fn, raw in zip(items, node, strict=True))

        def build_list(value: Json, env: Env) -> Json:
            out = []
            for fn, raw in pairs:
                out.append(fn(value, env) if fn is not None else raw)
            return out

        return build_list
    return None
