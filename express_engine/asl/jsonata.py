"""JSONata in ASL fields: ``{% ... %}`` strings parsed once at compile time, evaluated per state.

The evaluator is jsonata-python. Each expression is parsed into a :class:`jsonata.Jsonata` when the
state machine is compiled; an evaluation binds ``$states`` and the workflow variables the expression
actually names (found in its parse tree) and runs the stored tree. AWS specifics (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html):

* extra functions ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``, ``$parse``; ``$eval``
  is unbound, so calling it fails with T1006 as on AWS (:mod:`.jsonata_functions`, with the evaluation
  bounds);
* undefined, a function, a thrown error and runaway evaluation (depth, time, size) all fail with
  ``States.QueryEvaluationError`` and AWS's cause text, minus the interpreter's
  ``An error occurred while executing the state ...`` prefix;
* results are plain JSON: sequences become lists, JSONata ``null`` becomes ``None``, integral
  numbers become ``int`` (JavaScript writes ``3.0`` as ``3``) (:mod:`.jsonata_values`);
* ``$$``, a bare ``$`` or a field name read from the (absent) top-level context and JSONata 2.1
  operators (``??``, ``?:``, AWS runs 2.0.6) are rejected when the definition is compiled.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.parser import Parser
from jsonata.utils import Utils

from .. import errors
from ..jsonutil import Json, dumps
from . import jsonata_patches
from .jsonata_closures import UNDEFINED, Bail, CompiledExpression, compile_closure, direct_states_path, names_from
from .jsonata_functions import (
    ASL_FRAME,
    BUILTIN_NAMES,
    DEFAULT_LIMITS,
    MEMORY,
    STACK_OVERFLOW,
    TIMEOUT,
    EvaluationLimits,
    Runaway,
)
from .jsonata_js import JsFunctions, divide, js_number, js_string_literal
from .jsonata_regex import js_regex
from .jsonata_scope import children as _children
from .jsonata_scope import free_variables
from .jsonata_values import (
    INT64_MAX,
    INT64_MIN,
    NULL,
    NonFiniteNumber,
    UnsupportedResult,
    json_type,
    known_plain,
    plain,
    remember_plain,
    to_json,
    to_jsonata,
)
from .model import JsonataExpr
from .offload import OFFLOAD_AFTER, Offload, may_offload


def is_expression(value: Json) -> bool:
    """Whether ``value`` is a JSONata expression: a string that starts with ``{%`` and ends with ``%}``."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


# ---------------------------------------------------------------------------------------------------
# Error messages


def _catalog_template(code: str) -> str | None:
    # jsonata-python ships jsonata-js's catalog with "function" replaced by "Object" and single quotes by
    # double ones; AWS's causes use the jsonata-js wording.
    template = JException.error_codes.get(code)
    if code == "D2014":  # jsonata-python's bound is 1e6, jsonata-js's 1e7
        template = "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  " \
                   "Attempted to allocate {{value}}."
    return None if template is None else template.replace("Object", "function").replace('"', "'")


# a catalogued message without placeholders -> its code
_CODE_OF_MESSAGE = {text: code for code in JException.error_codes
                    if "{{" not in (text := _catalog_template(code) or "{{")}

# jsonata-js names the element type of a typed-array signature this way (T0412).
_ARRAY_TYPE_NAMES = {"a": "arrays", "b": "booleans", "f": "functions", "n": "numbers", "o": "objects",
                     "s": "strings"}
_PLACEHOLDER = re.compile(r"\{\{\{(\w+)\}\}\}|\{\{(\w+)\}\}")


def _describe(exc: JException) -> tuple[str, bool]:
    """``(text, coded)``: ``"T0410: Argument 1 of ..."`` for a catalogued error, else the bare message."""
    if isinstance(exc, Runaway):
        return exc.message, False
    code = str(exc.error)
    template = _catalog_template(code)
    if template is None:
        # jsonata-python throws a few errors with the message in the code slot ($replace's D3010, D3011)
        code = _CODE_OF_MESSAGE.get(code, code)
        template = _catalog_template(code)
        if template is None:
            return code, False
    args = [exc.current, exc.expected, exc.extra]
    if code == "T0412":
        args[2] = _ARRAY_TYPE_NAMES.get(str(args[2]))
    values: Iterator[Any] = iter(args)

    def substitute(match: re.Match[str]) -> str:
        value = next(values, None)
        if match.group(1) is not None:  # {{{raw}}}
            return "undefined" if value is None else str(value)
        return _js_stringify(value)

    return f"{code}: {_PLACEHOLDER.sub(substitute, template)}", True


def _js_stringify(value: Any) -> str:
    """``JSON.stringify`` as jsonata-js uses it to fill error messages (``undefined`` stays a word)."""
    if value is None:
        return "undefined"
    if value is NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return js_string_literal(value)
    if isinstance(value, Mapping):
        pairs = (f"{js_string_literal(str(k))}:{_js_stringify(v)}"
                 for k, v in value.items() if _is_json_like(v))
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_js_stringify(v) if _is_json_like(v) else "null" for v in value) + "]"
    return "undefined"


def _is_json_like(value: Any) -> bool:
    return value is NULL or isinstance(value, str | int | float | bool | list | Mapping)


def _field_sentence(expression: str, field: str) -> str:
    return f"The JSONata expression '{expression}' specified for the field '{field}'"




# ---------------------------------------------------------------------------------------------------
# Evaluation


class _AslJsonata(Jsonata):
    """A parsed expression whose range operator and string concatenation respect the limits."""

    limits: EvaluationLimits

    def __init__(self, expression: str) -> None:
        try:
            super().__init__(expression, regex_engine=js_regex)
        except JException as exc:
            raise _js_tokenizer_error(expression, exc) from None
        except (IndexError, KeyError, RuntimeError) as exc:
            coded = _coded_parse_error(expression, exc)
            if coded is None:
                raise
            raise coded from None
        _join_surrogate_pairs(self.ast)

    def evaluate_partial_application(self, expr: Any, input: Any, environment: Any) -> Any:
        """jsonata-js's ``evaluatePartialApplication``: a name that evaluates to nothing but is a function's
        (``substring(?, 0, ?)``, the ``$`` forgotten) is T1007; jsonata-python tested the opposite and gave T1008.
        """
        arguments = [arg if arg.type == "operator" and arg.value == "?" else self.eval(arg, input, environment)
                     for arg in expr.arguments]
        procedure = expr.procedure
        proc = self.eval(procedure, input, environment)
        if proc is None and procedure.type == "path" and environment.lookup(str(procedure.steps[0].value)) is not None:
            raise JException("T1007", expr.position, procedure.steps[0].value)
        if Functions.is_lambda(proc):
            return self.partial_apply_procedure(proc, arguments)
        if Utils.is_function(proc):
            return self.partial_apply_native_function(proc, arguments)
        raise JException("T1008", expr.position,
                         procedure.steps[0].value if procedure.type == "path" else procedure.value)

    def evaluate_range_expression(self, lhs: Any, rhs: Any) -> Any:
        if (isinstance(lhs, int) and isinstance(rhs, int) and not isinstance(lhs, bool)
                and not isinstance(rhs, bool)):
            size = rhs - lhs + 1
            if size > 10_000_000:  # jsonata-js's own bound, checked before anything is allocated
                raise JException("D2014", -1, size)
            if size > self.limits.max_sequence_items:
                raise Runaway(MEMORY)
        return super().evaluate_range_expression(lhs, rhs)

    def evaluate_string_concat(self, lhs: Any, rhs: Any) -> str:
        result = (JsFunctions.string(lhs, None) or "") + (JsFunctions.string(rhs, None) or "")
        if len(result) > self.limits.max_string_length:
            raise Runaway(MEMORY)
        return result

    def evaluate_numeric_expression(self, lhs: Any, rhs: Any, op: Any) -> Any:
        if op in ("/", "%") and Utils.is_numeric(lhs) and Utils.is_numeric(rhs):
            return divide(float(lhs), float(rhs), op)  # JavaScript's, not Python's ZeroDivisionError
        return super().evaluate_numeric_expression(lhs, rhs, op)


class _ContextJsonata(_AslJsonata):
    """An expression that reads the context (``$``, ``$$``, a field name at the top), which ASL never gives (AWS
    refuses such expressions when the state machine is created) but the jsonata-js suite's cases do: given one,
    the closures compiled to read it answer where they can, as they do for the engine's own expressions."""

    context_fast: CompiledExpression

    def eval(self, expr: Any, input: Any, environment: Any) -> Any:
        if expr is self.ast and input is not None:
            value = _with_context(self.context_fast, input, environment)
            if value is not _NO_ANSWER:
                return value
        return super().eval(expr, input, environment)


_NUMBER_TOKEN = re.compile(r"-?(0|([1-9][0-9]*))(\.[0-9]+)?([Ee][-+]?[0-9]+)?")


def _js_tokenizer_error(expression: str, exc: JException) -> JException:
    """jsonata-js's code and token where jsonata-python's tokenizer words an error its own way."""
    if exc.error == "S0301" and exc.current is not None:  # an unknown escape ("\y"), not an empty regex
        return JException("S0103", exc.location, exc.current)
    if exc.error == "S0102" and exc.current is None:  # a number past the largest double: jsonata-js names it
        found = _NUMBER_TOKEN.match(expression, exc.location)
        if found is not None:
            return JException("S0102", exc.location, found.group())
    return exc


def _coded_parse_error(expression: str, exc: Exception) -> JException | None:
    """jsonata-js's error for what jsonata-python's parser lets out as a Python error."""
    if isinstance(exc, IndexError):
        start = expression.rfind("/*")
        if start >= 0 and "*/" not in expression[start + 2:]:
            return JException("S0106", start)  # the tokenizer ran past the end of an unclosed comment
        return None
    if isinstance(exc, KeyError):
        token = exc.args[0] if exc.args else None
        return JException("S0204", -1, token) if isinstance(token, str) else None  # an unknown operator
    code = _CODE_OF_MESSAGE.get(str(exc))  # signature errors S0401, S0402 raised as RuntimeError
    return JException(code, -1) if code is not None else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogate_pairs(root: Any) -> None:
    """String literals as JavaScript reads them: ``'\\uD83D\\uDE00'`` is one character (the tokenizer makes two)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, Parser.Symbol):
            continue
        if node.type == "string" and isinstance(node.value, str) and _SURROGATE.search(node.value):
            node.value = node.value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        stack.extend(_children(node))


class _Guard:
    """Per-evaluation depth and time bound, called by jsonata-python on entry and exit of every node.

    Time is the evaluating thread's CPU time: in the offload pool beside a busy event loop a thread waits for
    the GIL most of the time, and that wait is not the expression's (measured: a 50 ms expression took 4.4 s of
    wall time there, and a wall-clock bound failed it)."""

    __slots__ = ("deadline", "depth", "max_depth", "offload_at", "ticks")

    def __init__(self, limits: EvaluationLimits) -> None:
        self.depth = 0
        self.ticks = 0
        self.max_depth = limits.max_depth
        now = time.thread_time()
        self.deadline = now + limits.timeout_ms / 1000
        self.offload_at = now + OFFLOAD_AFTER

    def enter(self, _expr: Any, _input: Any, _env: Any) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise Runaway(STACK_OVERFLOW)
        self.ticks += 1
        if not self.ticks & 31:
            now = time.thread_time()
            if now > self.offload_at and may_offload():
                raise Offload
            if now > self.deadline:
                raise Runaway(TIMEOUT)

    def exit(self, _expr: Any, _input: Any, _env: Any, _result: Any) -> None:
        self.depth -= 1


_RESERVED_NAMES = frozenset({"states", "__evaluate_entry", "__evaluate_exit"})
_NO_ANSWER: Any = object()


def _with_context(fast: CompiledExpression, context: Any, environment: Any) -> Any:
    """The value of ``fast`` for jsonata-python's input ``context`` and the bindings in ``environment``
    (as jsonata-python values), or ``_NO_ANSWER`` where the full evaluator must decide."""
    try:
        if Utils.is_sequence(context) and getattr(context, "outer_wrapper", False):
            context = context[0]  # (jsonata-python wraps an array input; the closures wrap it themselves)
        variables = {}
        for name in fast.variables:
            value = environment.lookup(name)
            if value is not None:
                variables[name] = to_json(value)
        states = environment.lookup("states")
        states = {} if states is None else to_json(states)
        if type(states) is not dict:
            return _NO_ANSWER
        value = fast.with_context(to_json(context), variables, states)
    except (Bail, UnsupportedResult):
        return _NO_ANSWER
    return None if value is UNDEFINED else to_jsonata(value)


def _known_plain_inputs(fast: CompiledExpression, states: Mapping[str, Json], variables: Mapping[str, Json]) -> bool:
    for name in fast.states_fields:
        if not known_plain(states.get(name)):
            return False
    return all(known_plain(variables.get(name)) for name in fast.variables)


def _plain_inputs(fast: CompiledExpression, states: Mapping[str, Json],
                  variables: Mapping[str, Json]) -> tuple[Mapping[str, Json], Mapping[str, Json]]:
    """``states`` and ``variables`` with the values ``fast`` reads in plain form (see jsonata_values.plain)."""
    plain_states = {name: plain(value) if name in fast.states_fields else value for name, value in states.items()}
    plain_variables: Mapping[str, Json] = variables
    if fast.variables:
        plain_variables = {name: plain(value) if name in fast.variables else value
                           for name, value in variables.items()}
    return plain_states, plain_variables


class _Expression:
    """One parsed expression and what its evaluation needs to bind."""

    __slots__ = ("direct_path", "fast", "field", "free_variables", "function", "limits", "local", "parsed",
                 "states_fields", "text", "variables")

    def __init__(self, text: str, field: str, parsed: _AslJsonata, analysis: _Analysis,
                 limits: EvaluationLimits) -> None:
        self.text = text
        self.field = field
        self.parsed = parsed
        self.limits = limits
        self.variables = tuple(sorted(analysis.names - _RESERVED_NAMES))
        self.free_variables = frozenset(analysis.free_variables - _RESERVED_NAMES)
        self.states_fields = analysis.states_fields
        self.local = threading.local()
        self.fast = compile_closure(parsed.ast, limits)
        if self.fast is None:
            context_fast = compile_closure(parsed.ast, limits, context=True)
            if context_fast is not None:
                parsed.__class__ = _ContextJsonata  # (the per-node override costs only these expressions)
                parsed.context_fast = context_fast  # type: ignore[attr-defined]
        #: ``(states, variables) -> value``: :meth:`evaluate`, or for a plain ``$states.a.b`` its walk inline
        self.function: Callable[[Mapping[str, Json], Mapping[str, Json]], Json] = self.evaluate
        #: ``(field, keys)`` of a plain ``$states.<field>.<key>...`` (an object template reads those inline)
        self.direct_path = direct_states_path(parsed.ast)
        if self.direct_path is not None:
            self.function = self._direct(*self.direct_path)

    def _instance(self) -> _AslJsonata:
        # jsonata-python keeps evaluation state (environment, input, timestamp) on the instance that
        # Jsonata.CURRENT names for the running thread: one copy per thread, made current before use.
        instance: _AslJsonata | None = getattr(self.local, "instance", None)
        if instance is None:
            instance = self.local.instance = copy.copy(self.parsed)
        Jsonata.CURRENT.jsonata = instance
        return instance

    def _direct(self, field: str, keys: tuple[str, ...]
                ) -> Callable[[Mapping[str, Json], Mapping[str, Json]], Json]:
        """``$states.<field>.<key>...``, the commonest expression: dict lookups, then what they find normalised
        (3.0 is written 3); from an array on, the steps map over its items (:func:`names_from`)."""
        undefined = UNDEFINED
        full = self._evaluate_full
        nothing = self._undefined

        def finish(value: Any, states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
            if value is undefined:
                raise nothing()
            try:
                return plain(value)
            except UnsupportedResult:
                return full(states, variables)

        if len(keys) == 1:
            (key,) = keys

            def path_1(states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
                value = states.get(field, undefined)
                if type(value) is dict:
                    value = value.get(key, undefined)
                elif type(value) is list:
                    value = names_from(value, keys)
                else:
                    value = undefined
                kind = type(value)
                if kind is str or kind is bool or value is None or (kind is int and INT64_MIN <= value <= INT64_MAX):
                    return value
                return finish(value, states, variables)

            return path_1

        def path(states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
            value = states.get(field, undefined)
            for position, key in enumerate(keys):
                if type(value) is dict:
                    value = value.get(key, undefined)
                elif type(value) is list:  # mapped over its items (sequence semantics)
                    value = names_from(value, keys[position:])
                    break
                else:
                    value = undefined
                    break
            kind = type(value)
            if kind is str or kind is bool or value is None or (kind is int and INT64_MIN <= value <= INT64_MAX):
                return value
            return finish(value, states, variables)

        return path

    def _undefined(self) -> errors.QueryEvaluationError:
        return errors.QueryEvaluationError(f"{_field_sentence(self.text, self.field)} returned nothing (undefined).")

    def evaluate(self, states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
        fast = self.fast
        if fast is not None:
            try:
                # read the inputs normalised (3.0 is written 3; once per payload): the result is plain
                if not _known_plain_inputs(fast, states, variables):
                    states, variables = _plain_inputs(fast, states, variables)
                value = fast(states, variables)
                if type(value) is dict or type(value) is list:
                    remember_plain(value, value)  # the next state, reading it, need not check it
            except (Bail, UnsupportedResult):  # the full evaluator decides (an error, sequence semantics)
                pass
            except Runaway as exc:
                raise self._threw(exc.message, False) from None
            else:
                if value is UNDEFINED:
                    raise self._undefined()
                return value
        return self._evaluate_full(states, variables)

    def _evaluate_full(self, states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
        bindings: dict[str, Any] = {}
        fields = self.states_fields
        if fields is not None:
            bindings["states"] = {key: to_jsonata(value) for key, value in states.items() if key in fields}
        for name in self.variables:
            if name in variables:
                bindings[name] = to_jsonata(variables[name])
        # every evaluation is bounded (the callbacks cost nothing measurable next to jsonata-python's own)
        guard = _Guard(self.limits)
        bindings["__evaluate_entry"] = guard.enter
        bindings["__evaluate_exit"] = guard.exit
        instance = self._instance()
        try:
            result = instance.evaluate(None, bindings)
        except JException as exc:
            text, coded = _describe(exc)
            raise self._threw(text, coded) from None
        except RecursionError:
            raise self._threw(STACK_OVERFLOW, False) from None
        except Exception as exc:  # jsonata-python lets a few Python errors out (1/0 among them)
            raise self._threw(str(exc) or type(exc).__name__, False) from None
        if result is None:
            raise self._undefined()
        try:
            return to_json(result)
        except NonFiniteNumber as exc:  # jsonata-js's code for a number out of JSON's range ("... null")
            raise self._threw(_describe(JException("D1001", -1, exc.value))[0], True) from None
        except UnsupportedResult:
            raise errors.QueryEvaluationError(
                f"{_field_sentence(self.text, self.field)} returned an unsupported result type.") from None

    def _threw(self, text: str, coded: bool) -> errors.QueryEvaluationError:
        # AWS: ". T1006: Attempted to invoke a non-function" after a coded error, ": <message>" otherwise
        separator = ". " if coded else ": "
        return errors.QueryEvaluationError(
            f"{_field_sentence(self.text, self.field)} threw an error during evaluation{separator}{text}")


# ---------------------------------------------------------------------------------------------------
# Compile-time analysis of the parse tree

@dataclass(slots=True)
class _Analysis:
    names: set[str]  # every $name the expression reads (builtins and its own locals included)
    free_variables: set[str]  # those read from outside the expression that are not built-ins: workflow variables
    states_fields: frozenset[str] | None  # fields of $states to bind; None: $states is not read
    explicit_fields: set[str]  # fields read as `$states.<field>`
    problems: list[str]  # UNSUPPORTED_JSONATA_EXPRESSION messages, in the order found


_ALL_STATES_FIELDS = frozenset({"input", "context", "result", "errorOutput"})


def _analyze(root: Any) -> _Analysis:
    names: set[str] = set()
    fields: set[str] = set()
    reads_states = whole_states = False
    problems: list[str] = []
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if not isinstance(node, Parser.Symbol) or id(node) in seen:
            continue
        seen.add(id(node))
        kind = node.type
        children = list(_children(node))
        if kind == "variable":
            if node.value == "$":  # `$$` parses as the variable named "$"
                _add_once(problems, "Reference to '$$' is not supported.")
            elif node.value == "states":
                reads_states = whole_states = True
            elif node.value:
                names.add(str(node.value))
        elif kind == "condition":
            token = _jsonata_21_operator(node)
            if token is not None:
                raise JException("S0211", -1, token)
        elif kind == "path" and _reads_states_field(node):
            # `$states.<field>...`: only that field needs binding; the $states step is not visited
            reads_states = True
            fields.add(str(node.steps[1].value))
            children = [child for child in children if child is not node.steps[0]]
        stack.extend(children)
    states_fields = None
    if reads_states:
        states_fields = _ALL_STATES_FIELDS | fields if whole_states else frozenset(fields)
    for name in _top_level_references(root):
        _add_once(problems, f"Reference to '{name}' at the top level is not supported.")
    free = free_variables(root) - BUILTIN_NAMES
    return _Analysis(names, free, states_fields, fields, problems)


def _reads_states_field(path: Any) -> bool:
    steps = path.steps or []
    return (len(steps) > 1 and steps[0].type == "variable" and steps[0].value == "states"
            and not getattr(steps[0], "stages", None) and not getattr(steps[0], "predicate", None)
            and steps[1].type == "name")


def _add_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _jsonata_21_operator(node: Any) -> str | None:
    """The token JSONata 2.0.6 (AWS) stumbles on for ``a ?: b`` / ``a ?? b``, which jsonata-python
    parses into conditions sharing their branch with the condition."""
    if node.condition is node.then:
        return ":"
    condition = node.condition
    if (condition.type == "function" and condition.procedure.type == "variable"
            and condition.procedure.value == "exists" and condition.arguments
            and condition.arguments[0] is node.then):
        return "?"
    return None


def _top_level_references(root: Any) -> list[str]:
    """Names read from the top-level context, which AWS leaves empty: ``foo`` for ``$states.input.foo``.

    Only what is evaluated against that context counts: the first step of a path, operands, arguments,
    object constructor keys and values, lambda bodies. Later path steps, predicates, sort terms and
    group-by objects read the value before them and are not visited.
    """
    found: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, Parser.Symbol):
            continue
        kind = node.type
        if kind == "path":
            if node.steps:
                stack.append(node.steps[0])
        elif kind == "name":
            _add_once(found, str(node.value))
        elif kind == "variable":
            if node.value == "":
                _add_once(found, "$")
        elif kind == "unary":
            if node.value == "{":
                stack.extend(reversed([part for pair in node.lhs_object or [] for part in pair]))
            elif node.value == "[":
                stack.extend(reversed(node.expressions or []))
            else:
                stack.append(node.expression)
        elif kind in ("binary", "apply", "bind"):
            stack.append(node.rhs)
            if kind != "bind":
                stack.append(node.lhs)
        elif kind in ("function", "partial"):
            stack.extend(reversed(node.arguments or []))
            stack.append(node.procedure)
        elif kind == "lambda":
            stack.append(node.body)
        elif kind == "condition":
            stack.extend((node._else, node.then, node.condition))
        elif kind == "block":
            stack.extend(reversed(node.expressions or []))
    return found


# ---------------------------------------------------------------------------------------------------
# Templates


_Evaluate = Callable[[Mapping[str, Json], Mapping[str, Json]], Json]
_EvaluateSized = Callable[[Mapping[str, Json], Mapping[str, Json]], tuple[Json, int]]


class JsonataTemplate:
    """A JSON value whose ``{% %}`` strings (whole or nested) were parsed once.

    ``expression`` is the JSONata text when the whole value is one expression; ``variables`` the
    workflow variables it may read; ``states_fields`` the ``$states`` fields it reads.

    ``evaluate(states, variables)`` gives the value for one state (``states`` is the ``$states`` binding,
    ``variables`` the workflow's) and raises :class:`errors.QueryEvaluationError` when an expression returned
    undefined or a function, or failed, and :class:`Offload` naming the template when it computed for a slice on
    the event loop (see :mod:`.offload`). ``evaluate_sized`` gives the value and an upper bound of its size as JSON
    in bytes (-1 when none is known): an object template of expressions that give short scalars is not
    serialised to check the payload limit. Both are attributes (the compiled functions in a wrapper that gives
    an answer computed in the pool, :meth:`answer_once`, and names the template in an :class:`Offload`), not
    methods: they run for every state, and a method would add a call.
    """

    __slots__ = ("_answer", "evaluate", "evaluate_sized", "expression", "field", "is_constant", "states_fields",
                 "variables")

    def __init__(self, is_constant: bool, field: str, expression: str | None, variables: frozenset[str],
                 states_fields: frozenset[str], evaluate: _Evaluate, evaluate_sized: _EvaluateSized | None = None
                 ) -> None:
        self.is_constant = is_constant
        self.field = field
        self.expression = expression
        self.variables = variables
        self.states_fields = states_fields
        #: ``(thread, value, error)`` computed in the pool, for the next evaluation on that thread (answer_once)
        self._answer: tuple[int, Json, errors.StatesError | None] | None = None
        self.evaluate: _Evaluate = _naming(self, evaluate, False)
        self.evaluate_sized: _EvaluateSized = _naming(
            self, evaluate_sized if evaluate_sized is not None else _unsized(evaluate), True)

    def __repr__(self) -> str:
        return f"JsonataTemplate({self.field!r}, {self.expression!r})"

    def answer_once(self, value: Json, error: errors.StatesError | None, thread: int) -> Callable[[], None]:
        """Have the next evaluation of this template on ``thread`` give ``value`` (or raise ``error``), as
        computed in the pool (an evaluation is pure), without computing; returns what puts it back. Evaluations
        on other threads (the pool's, for other executions) meanwhile compute as ever."""
        self._answer = (thread, value, error)

        def restore() -> None:
            self._answer = None

        return restore


def _naming(template: JsonataTemplate, fn: Callable[..., Any], sized: bool) -> Callable[..., Any]:
    """``fn`` as the template's evaluation: it gives the answer :meth:`JsonataTemplate.answer_once` set, if any
    (on its thread), and names ``template`` in an :class:`Offload` it gives up with (the runtime then evaluates
    just this template again, in the pool)."""
    get_ident = threading.get_ident

    def named(states: Mapping[str, Json], variables: Mapping[str, Json]) -> Any:
        answer = template._answer
        if answer is not None and answer[0] == get_ident():
            template._answer = None
            if answer[2] is not None:
                raise copy.copy(answer[2])  # (as new: the runtime adds to an error's cause where it is raised)
            return (answer[1], -1) if sized else answer[1]
        try:
            return fn(states, variables)
        except Offload as gave_up:  # (a try costs nothing until it catches)
            gave_up.name(template, states, variables)
            raise

    return named


_Part = tuple[str, Callable[..., Json] | None, Json]


def _sized_object(parts: tuple[_Part, ...]) -> Callable[[Mapping[str, Json], Mapping[str, Json]], tuple[Json, int]]:
    """The object template ``parts`` with an upper bound of its JSON size: the constant part measured once, each
    expression's value bounded by its type (an ASCII string at 6 bytes a character, as ``\\u0001``; a number at
    24, as ``-1.2345678901234567e-308``); a container or another string leaves the size unknown (-1)."""
    constant = 2 + max(0, len(parts) - 1) + sum(len(dumps(key)) + 1 for key, _, _ in parts)
    constant += sum(len(dumps(value)) for _, fn, value in parts if fn is None)

    def build_sized(states: Mapping[str, Json], variables: Mapping[str, Json]) -> tuple[Json, int]:
        out = {}
        size = constant
        known = True
        for key, fn, value in parts:
            if fn is None:
                out[key] = value
                continue
            item = fn(states, variables)
            out[key] = item
            kind = type(item)
            if kind is str:
                if item.isascii():  # type: ignore[union-attr]
                    size += 6 * len(item) + 2  # type: ignore[arg-type]
                else:
                    known = False
            elif kind is int or kind is float or kind is bool or item is None:
                size += 24
            else:
                known = False
        return out, size if known else -1

    return build_sized


def _unsized(build: Callable[[Mapping[str, Json], Mapping[str, Json]], Json]
             ) -> Callable[[Mapping[str, Json], Mapping[str, Json]], tuple[Json, int]]:
    def unsized(states: Mapping[str, Json], variables: Mapping[str, Json]) -> tuple[Json, int]:
        return build(states, variables), -1

    return unsized


#: A size term past any real payload's: the bound is then unknown (a non-ASCII string).
_UNKNOWN_SIZE = 1 << 60


def _direct_object(field: str, parts: tuple[tuple[str, str | None, Json], ...], general: Callable[..., Any],
                   *, sized: bool) -> Callable[..., Any]:
    """An object template whose expressions are all ``$states.<field>.<key>``, read with one lookup of the field:
    what the lookups find, when each is a short scalar, is the answer as it is (``sized``: with the bound that
    :func:`_sized_object` gives); anything else (a container, an integral float, a missing key) is left to
    ``general``.

    The function is generated as Python source, one statement per key (as :mod:`dataclasses` generates
    ``__init__``): for the template of a Map's item processor this runs once per item, and a loop over the
    parts costs about twice as much. Keys and constants reach the source as names bound to their values, never
    as text.
    """
    namespace: dict[str, Any] = {"FIELD": field, "UNDEFINED": UNDEFINED, "general": general, "LOW": INT64_MIN,
                                 "HIGH": INT64_MAX, "isfinite": math.isfinite, "UNKNOWN": _UNKNOWN_SIZE}
    constant = 2 + max(0, len(parts) - 1) + sum(len(dumps(key)) + 1 for key, _, _ in parts)
    constant += sum(len(dumps(value)) for _, read, value in parts if read is None)
    namespace["CONSTANT"] = constant
    lines = ["def build_direct(states, variables):",
             "    source = states.get(FIELD, UNDEFINED)",
             "    if type(source) is not dict:",
             "        return general(states, variables)"]
    members = []
    sizes = ["CONSTANT"]
    for i, (key, read, value) in enumerate(parts):
        namespace[f"K{i}"] = key
        if read is None:
            namespace[f"C{i}"] = value
            members.append(f"K{i}: C{i}")
            continue
        namespace[f"R{i}"] = read
        v, t = f"v{i}", f"t{i}"
        scalar = (f"({t} is int and LOW <= {v} <= HIGH) or {t} is bool or {v} is None or "
                  f"({t} is float and not {v}.is_integer() and isfinite({v}))")
        # (anything else goes to the general path: 3.0 is written 3, a container may hold one, a key may be missing)
        lines += [f"    {v} = source.get(R{i}, UNDEFINED)", f"    {t} = type({v})"]
        if sized:
            lines += [f"    if {t} is str:",
                      f"        n{i} = 6 * len({v}) + 2 if {v}.isascii() else UNKNOWN",
                      f"    elif {scalar}:",
                      f"        n{i} = 24",
                      "    else:",
                      "        return general(states, variables)"]
        else:
            lines += [f"    if not ({t} is str or {scalar}):",
                      "        return general(states, variables)"]
        members.append(f"K{i}: {v}")
        sizes.append(f"n{i}")
    lines.append("    out = {" + ", ".join(members) + "}")
    if sized:
        lines += [f"    size = {' + '.join(sizes)}",
                  "    return out, (size if size < UNKNOWN else -1)"]
    else:
        lines.append("    return out")
    exec("\n".join(lines), namespace)  # (source from the template's shape only, see above)
    build: Callable[..., Any] = namespace["build_direct"]
    return build


@dataclass(slots=True)
class _Compiler:
    limits: EvaluationLimits
    allowed_states_fields: frozenset[str] | None
    diagnostics: list[errors.Diagnostic]
    expressions: list[_Expression]
    #: the size-bounding form of the object template last compiled
    sized: Callable[[Mapping[str, Json], Mapping[str, Json]], tuple[Json, int]] | None = None

    def node(self, node: Json, field: str, location: str) -> Callable[..., Json] | None:
        """The evaluator for ``node``, or None when it holds no expression (a constant)."""
        if isinstance(node, str):
            if not is_expression(node):
                return None
            expression = self.expression(node, field, location)
            return expression.function if expression is not None else _constant(None)
        if isinstance(node, dict):
            parts = [(key, self.node(value, f"{field}/{key}", f"{location}/{_pointer_escape(key)}"), value)
                     for key, value in node.items()]
            if all(fn is None for _, fn, _ in parts):
                return None
            frozen = tuple(parts)

            # Plain loops, not comprehensions: on Python 3.11 a comprehension is a function call of its own.
            def build_object(states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
                out = {}
                for key, fn, value in frozen:
                    out[key] = value if fn is None else fn(states, variables)
                return out

            all_expressions = all(fn is None or is_expression(value) for _, fn, value in frozen)
            self.sized = _sized_object(frozen) if all_expressions else None
            direct = self._direct_parts(frozen)
            if direct is not None:
                field, keyed = direct
                self.sized = _direct_object(field, keyed, self.sized or _unsized(build_object), sized=True)
                return _direct_object(field, keyed, build_object, sized=False)
            return build_object
        if isinstance(node, list):
            items = [(self.node(item, f"{field}[{i}]", f"{location}/{i}"), item)
                     for i, item in enumerate(node)]
            if all(fn is None for fn, _ in items):
                return None
            frozen_items = tuple(items)

            def build_list(states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
                out = []
                for fn, item in frozen_items:
                    out.append(item if fn is None else fn(states, variables))
                return out

            return build_list
        return None

    def _direct_parts(self, parts: tuple[_Part, ...]) -> tuple[str, tuple[tuple[str, str | None, Json], ...]] | None:
        """``(field, ((key, read, constant), ...))`` when every expression of the object template ``parts`` is
        ``$states.<field>.<read>`` for one field (``read`` None for a constant part), else None."""
        by_function = {id(e.function): e for e in self.expressions}
        field = None
        keyed: list[tuple[str, str | None, Json]] = []
        for key, fn, value in parts:
            if fn is None:
                keyed.append((key, None, value))
                continue
            found = by_function.get(id(fn))
            path = found.direct_path if found is not None and found.function is fn else None
            if path is None or len(path[1]) != 1 or (field is not None and path[0] != field):
                return None
            field = path[0]
            keyed.append((key, path[1][0], value))
        return None if field is None else (field, tuple(keyed))

    def expression(self, source: str, field: str, location: str) -> _Expression | None:
        jsonata_patches.apply()
        text = source[2:-2].strip()
        try:
            parsed = _AslJsonata(source[2:-2])
            analysis = _analyze(parsed.ast)
        except JException as exc:
            message, coded = _describe(exc)
            if coded:
                message = message.split(": ", 1)[1]  # AWS drops the S0xxx code here
            self.diagnostics.append(errors.Diagnostic("INVALID_JSONATA_EXPRESSION", message, location))
            return None
        except Exception as exc:  # a tokenizer/parser bug must not escape as anything but a diagnostic
            self.diagnostics.append(errors.Diagnostic("INVALID_JSONATA_EXPRESSION", str(exc), location))
            return None
        problems = list(analysis.problems)
        allowed = self.allowed_states_fields
        if allowed is not None:
            problems += [f"Field '$states.{name}' does not exist."
                         for name in sorted(analysis.explicit_fields)
                         if name in _ALL_STATES_FIELDS and name not in allowed]
        for message in problems:
            self.diagnostics.append(errors.Diagnostic("UNSUPPORTED_JSONATA_EXPRESSION", message, location))
        if problems:
            return None
        parsed.limits = self.limits
        parsed.environment = ASL_FRAME
        parsed.set_output_convert_nulls(False)  # null vs undefined matters: converted by to_json
        compiled = _Expression(text, field, parsed, analysis, self.limits)
        self.expressions.append(compiled)
        return compiled


def _constant(value: Json) -> Callable[..., Json]:
    return lambda _states, _variables: value


def _pointer_escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def compile_template(node: Json, field: str, location: str, *,
                     states_fields: Collection[str] | None = None,
                     limits: EvaluationLimits = DEFAULT_LIMITS) -> JsonataTemplate:
    """Compile a JSON value that may hold ``{% %}`` expressions, as the whole value or nested anywhere.

    Args:
        node: the field's value from the definition.
        field: the AWS field name used in causes (``Output``, ``Assign``, ``Choices[0]/Condition``...);
            nested expressions are named ``Output/a/b[0]``.
        location: JSON pointer of the field, for diagnostics (``/States/X/Output``).
        states_fields: when given, the ``$states`` fields available in this field (``result`` only in a
            Task/Map/Parallel's Output/Assign, ``errorOutput`` only in a Catcher's); reading another
            one is rejected like AWS does.
        limits: evaluation bounds.

    Raises:
        errors.DefinitionError: an expression does not parse (INVALID_JSONATA_EXPRESSION) or reads what
            AWS refuses (UNSUPPORTED_JSONATA_EXPRESSION); every problem in ``node`` is listed.
    """
    allowed = None if states_fields is None else frozenset(states_fields)
    compiler = _Compiler(limits, allowed, [], [])
    fn = compiler.node(node, field, location)
    if compiler.diagnostics:
        raise errors.DefinitionError(compiler.diagnostics)
    variables = frozenset(name for e in compiler.expressions for name in e.free_variables)
    fields = frozenset(name for e in compiler.expressions for name in (e.states_fields or ()))
    whole = compiler.expressions[0].text if is_expression(node) and compiler.expressions else None
    if fn is None:
        return JsonataTemplate(True, field, None, variables, fields, _constant(node))
    sized = compiler.sized if isinstance(node, dict) else None  # (the last object compiled is the outermost)
    return JsonataTemplate(False, field, whole, variables, fields, fn, sized)


def unexpected_type_error(template: JsonataExpr, expected: str,
                          value: Json) -> errors.QueryEvaluationError:
    """AWS's error for a result of the wrong JSON type (``Items`` not an array, a non-boolean Condition)."""
    detail = (f"returned an unexpected result type. Expected '{expected}', but was '{json_type(value)}' "
              f"for value: {dumps(value)}")
    if template.expression is None:
        return errors.QueryEvaluationError(f"The value specified for the field '{template.field}' {detail}")
    return errors.QueryEvaluationError(f"{_field_sentence(template.expression, template.field)} {detail}")


def evaluate_condition(template: JsonataExpr, states: Mapping[str, Json],
                       variables: Mapping[str, Json]) -> bool:
    """A Choice rule's ``Condition``: the template's value, which must be a boolean.

    Raises:
        errors.QueryEvaluationError: evaluation failed or gave something other than true/false.
    """
    value = template.evaluate(states, variables)
    if value is True or value is False:
        return value
    raise unexpected_type_error(template, "boolean", value)
