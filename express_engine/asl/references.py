"""The workflow variables each state reads, as DescribeStateMachine's ``variableReferences`` lists them.

Only real reads count (AWS's recordings; https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html):
in a JSONPath state the ``$name`` roots of its paths,
of its ``.$`` template values and of the paths inside intrinsic calls; in a JSONata state the free
variables of its expressions (not ``$states``, built-in functions or names the expression binds itself).
A literal ``"$name"`` without ``.$`` is text, not a reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import DefinitionError
from .intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic
from .jsonata import compile_template as compile_jsonata
from .jsonata import is_expression
from .paths import PathSyntaxError, compile_path

#: State fields holding one JSONPath (``ErrorPath``/``CausePath`` may hold an intrinsic call).
_PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
                "ToleratedFailurePercentagePath", "SecondsPath", "TimestampPath", "TimeoutSecondsPath",
                "HeartbeatSecondsPath", "ErrorPath", "CausePath")
#: State fields holding a payload template (``.$`` keys are dynamic).
_TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign", "Credentials")
#: Distributed Map blocks: their own path fields and template fields.
_BLOCKS = {"ItemReader": (("MaxItemsPath",), ("Parameters", "Arguments")),
           "ItemBatcher": (("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"), ("BatchInput",)),
           "ResultWriter": ((), ("Parameters", "Arguments"))}
#: JSONata fields the compiler does not keep an expression for (it cannot run them).
_UNCOMPILED_JSONATA = ("HeartbeatSeconds", "ItemReader", "ItemBatcher", "ResultWriter")


def state_references(body: Mapping[str, Any], jsonata: bool, templates: Iterable[Any]) -> tuple[str, ...]:
    """Sorted names of the variables the state ``body`` reads; ``templates`` are its compiled JSONata fields."""
    names: set[str] = set()
    if jsonata:
        for template in templates:
            names.update(template.variables)
        for key in _UNCOMPILED_JSONATA:
            if key in body:
                names.update(_jsonata_variables(body[key], key))
    else:
        _jsonpath_fields(body, _PATH_FIELDS, _TEMPLATE_FIELDS, names)
        for key, (paths, templates_) in _BLOCKS.items():
            block = body.get(key)
            if isinstance(block, Mapping):
                _jsonpath_fields(block, paths, templates_, names)
                config = block.get("ReaderConfig")
                if isinstance(config, Mapping):
                    _jsonpath_fields(config, paths, (), names)
        for rule in body.get("Choices") or ():
            _rule(rule, names)
        for catcher in body.get("Catch") or ():
            if isinstance(catcher, Mapping):
                _jsonpath_fields(catcher, (), ("Assign",), names)
    return tuple(sorted(names))


def _jsonpath_fields(node: Mapping[str, Any], paths: Iterable[str], templates: Iterable[str], out: set[str]) -> None:
    for key in paths:
        value = node.get(key)
        if isinstance(value, str):
            _dynamic(value, out)
    for key in templates:
        if key in node:
            _template(node[key], out)


def _rule(rule: Any, out: set[str]) -> None:
    """A JSONPath Choice rule: ``Variable``, the ``...Path`` comparisons, nested And/Or/Not, Assign."""
    if not isinstance(rule, Mapping):
        return
    for key, value in rule.items():
        if key == "Variable" or (key.endswith("Path") and isinstance(value, str)):
            _dynamic(value, out)
        elif key in ("And", "Or") and isinstance(value, list):
            for sub in value:
                _rule(sub, out)
        elif key == "Not":
            _rule(value, out)
        elif key == "Assign":
            _template(value, out)


def _template(node: Any, out: set[str]) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Mapping):
            for key, value in current.items():
                if key.endswith(".$"):
                    _dynamic(value, out)
                else:
                    stack.append(value)
        elif isinstance(current, list):
            stack.extend(current)


def _dynamic(text: Any, out: set[str]) -> None:
    """The variable read by one path, or by the paths of one intrinsic call."""
    if not isinstance(text, str):
        return
    try:
        if is_intrinsic(text):
            out.update(compile_intrinsic(text).variables)
        elif text.startswith("$"):
            variable = compile_path(text).variable
            if variable is not None:
                out.add(variable)
    except (IntrinsicSyntaxError, PathSyntaxError):
        pass  # not a reference (the compiler reports fields it runs)


def _jsonata_variables(node: Any, field: str) -> set[str]:
    if not (is_expression(node) or isinstance(node, Mapping | list)):
        return set()
    try:
        return set(compile_jsonata(node, field, "").variables)
    except DefinitionError:
        return set()
