"""Parsed JSONata trees compiled into Python closures over plain JSON, for the shapes workflows write.

jsonata-python walks its tree node by node, converting values to its own null marker and sequences on the way
(hundreds of microseconds for a ``$merge`` of a 1 KB input). The expressions Step Functions users write are
mostly paths from ``$states`` or a variable, object and array constructors, literals, arithmetic, comparisons,
``&``, conditionals and a few built-ins: :func:`compile_closure` turns such a tree, once, into nested closures that
read the plain JSON the engine holds (``None`` is JSON null, :data:`UNDEFINED` is JSONata's undefined).

Exactness comes first: a closure computes only what jsonata-js 2.0.6 defines unambiguously for the values it
meets. Anything else - an error to report, a path over an array (sequence semantics), an unusual operand type -
raises :class:`Bail`, and the caller evaluates the whole expression again with the full evaluator, which knows
every rule and error code. Evaluation has no side effects (impure built-ins such as ``$random`` are never
compiled), so starting again is safe. A tree with any node this module does not know is not compiled at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from jsonata.jexception import JException
from jsonata.parser import Parser

from .jsonata_functions import MEMORY, TIMEOUT, EvaluationLimits, Runaway
from .jsonata_js import JsFunctions
from .jsonata_values import NULL, nulls_in
from .offload import OFFLOAD_AFTER, Offload, may_offload

UNDEFINED: Any = type("Undefined", (), {"__repr__": lambda self: "UNDEFINED", "__slots__": ()})()
"""JSONata's *undefined* (no value) in compiled evaluation; ``None`` is JSON null there."""


class Bail(Exception):
    """The compiled form cannot answer exactly here: evaluate the expression with the full evaluator."""


class Run:
    """One evaluation: what ``$states`` and the workflow variables hold, and its time bound."""

    __slots__ = ("context", "deadline", "limits", "root", "states", "ticks", "variables")

    def __init__(self, states: Mapping[str, Any], variables: Mapping[str, Any], limits: EvaluationLimits,
                 context: Any = UNDEFINED) -> None:
        self.context = context  # ``$``: the item a path step is evaluated for
        self.root = context  # ``$$``
        self.states = states
        self.variables = variables
        self.limits = limits
        self.deadline = 0.0  # set when a loop first checks it: nothing before a loop takes time
        self.ticks = 0

    def check_time(self) -> None:
        """Every 256 calls, ``Runaway`` once the evaluation has run past its time bound (in its thread's CPU
        time, as :class:`express_engine.asl.jsonata._Guard`)."""
        self.ticks += 1
        if not self.ticks & 255:
            now = time.thread_time()
            if not self.deadline:
                self.deadline = now + self.limits.timeout_ms / 1000
            elif now > self.deadline:
                raise Runaway(TIMEOUT)
            elif now > self.deadline - self.limits.timeout_ms / 1000 + OFFLOAD_AFTER and may_offload():
                raise Offload


Locals = dict[str, Any]
Closure = Callable[[Run, Locals], Any]


class CompiledExpression:
    """A compiled tree: call it with ``(states, variables)``; ``states_fields`` and ``variables`` are the
    ``$states`` fields and workflow variables it reads (its results are built from those and from literals)."""

    __slots__ = ("body", "limits", "states_fields", "variables")

    def __init__(self, body: Closure, limits: EvaluationLimits, states_fields: frozenset[str],
                 variables: frozenset[str]) -> None:
        self.body = body
        self.limits = limits
        self.states_fields = states_fields
        self.variables = variables

    def __call__(self, states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
        return self.body(Run(states, variables, self.limits), {})

    def with_context(self, context: Any, variables: Mapping[str, Any], states: Mapping[str, Any] | None = None
                     ) -> Any:
        """The value with ``context`` as ``$`` and ``$$`` (compiled with ``context=True``; ASL binds none)."""
        return self.body(Run(states or {}, variables, self.limits, context), {})

#: deepest tree compiled: evaluation depth stays far below the depth bound AWS applies (100)
MAX_TREE_DEPTH = 40
# modifiers of a node that change its meaning beyond what is compiled here
_MODIFIERS = ("stages", "predicate", "group", "focus", "index", "tuple", "keep_array", "keep_singleton_array",
              "seeking_parent", "ancestor", "thunk", "signature", "next_function")


class _NotCompiled(Exception):
    pass


def compile_closure(root: Any, limits: EvaluationLimits, *, context: bool = False) -> CompiledExpression | None:
    """A function of ``(states, variables)`` giving the value of the tree ``root``, or None when the tree holds
    something not compiled here. The function returns plain JSON or :data:`UNDEFINED`, raises :class:`Bail`
    where the full evaluator must decide, and ``Runaway`` past the string and time bounds.

    ``context``: compile reads of the context (``$``, ``$$``, a path from a field name), which ASL has not (AWS
    refuses them when the state machine is created); for testing against the jsonata-js suite, whose cases read
    their input that way (see :meth:`CompiledExpression.with_context`).
    """
    compiler = _Compiler(context)
    try:
        if _depth(root) > MAX_TREE_DEPTH:
            return None
        body = compiler.node(root, frozenset())
    except _NotCompiled:
        return None
    return CompiledExpression(body, limits, frozenset(compiler.states_fields), frozenset(compiler.variables))


def direct_states_path(root: Any) -> tuple[str, tuple[str, ...]] | None:
    """``(field, keys)`` when ``root`` is the plain path ``$states.<field>.<key>...`` (the commonest expression),
    which the caller walks inline."""
    steps = getattr(root, "steps", None) or []
    if (root.type != "path" or len(steps) < 2 or steps[0].type != "variable" or steps[0].value != "states"
            or any(step.type != "name" or not isinstance(step.value, str) for step in steps[1:])):
        return None
    for step in steps:
        for attr in _MODIFIERS:
            if getattr(step, attr, None):
                return None
    return str(steps[1].value), tuple(str(step.value) for step in steps[2:])


def _depth(node: Any) -> int:
    from .jsonata_scope import children
    best = 0
    stack = [(node, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, Parser.Symbol):
            continue
        best = max(best, level)
        if best > MAX_TREE_DEPTH:
            break
        stack.extend((child, level + 1) for child in children(item))
    return best


def _plain(node: Any, allowed: tuple[str, ...] = ()) -> None:
    for attr in _MODIFIERS:
        if attr not in allowed and getattr(node, attr, None):
            raise _NotCompiled


def _has_modifiers(node: Any) -> bool:
    return any(getattr(node, attr, None) for attr in _MODIFIERS)


#: what a path step may carry: predicates (``[expr]``) and a positional binding (``#$i``)
_STEP_MODIFIERS = ("stages", "index", "tuple")

Filter = Callable[[Run, Locals, Any, bool], Any]


class _Compiler:
    def __init__(self, context: bool) -> None:
        self.context = context
        self.relative = 0  # > 0 inside a path step: ``$`` and names read the step's item
        self.states_fields: set[str] = set()
        self.variables: set[str] = set()

    def reads_context(self) -> bool:
        return self.context or self.relative > 0

    def node(self, node: Any, local: frozenset[str]) -> Closure:
        if not isinstance(node, Parser.Symbol):
            raise _NotCompiled
        predicate = getattr(node, "predicate", None)
        _plain(node, ("predicate",) if predicate and node.type == "variable" else ())
        method = getattr(self, "_" + str(node.type), None)
        if method is None:
            raise _NotCompiled
        result: Closure = method(node, local)
        if predicate:  # `$x[...]`: the value filtered, then collapsed (jsonata-js ``evaluate``)
            filters = self._filters(predicate, local)
            inner = result

            def filtered(run: Run, lo: Locals) -> Any:
                value = inner(run, lo)
                for apply in filters:
                    value = apply(run, lo, value, False)
                return _collapse(value)

            return filtered
        return result

    def _filters(self, stages: list[Any], local: frozenset[str]) -> tuple[Filter, ...]:
        """jsonata-js ``evaluateFilter`` for each ``[expr]`` stage: ``(run, locals, value, tuples) -> _Seq``."""
        out = []
        for stage in stages:
            if getattr(stage, "type", None) != "filter" or not isinstance(stage.expr, Parser.Symbol):
                raise _NotCompiled  # a positional binding after a predicate (an 'index' stage)
            out.append(self._filter(stage.expr, local))
        return tuple(out)

    def _filter(self, expr: Any, local: frozenset[str]) -> Filter:
        if expr.type == "number" and not _has_modifiers(expr):
            if not isinstance(expr.value, int | float) or isinstance(expr.value, bool) or not math.isfinite(
                    expr.value):
                raise _NotCompiled
            position = math.floor(expr.value)

            def by_position(_run: Run, _lo: Locals, value: Any, _tuples: bool) -> Any:
                if value is UNDEFINED:
                    raise Bail  # jsonata-js filters a sequence holding undefined
                items = value if type(value) is list or type(value) is _Seq else [value]
                index = position + len(items) if position < 0 else position
                out = _Seq()
                if 0 <= index < len(items):
                    item = items[index]
                    if type(item) is list:
                        raise Bail  # the array itself is the result, not a sequence
                    out.append(item)
                return out

            return by_position
        self.relative += 1
        try:
            body = self.node(expr, local)
        finally:
            self.relative -= 1

        def by_predicate(run: Run, lo: Locals, value: Any, tuples: bool) -> Any:
            if value is UNDEFINED:
                raise Bail
            items = value if type(value) is list or type(value) is _Seq else [value]
            out = _Seq()
            saved = run.context
            try:
                for index, item in enumerate(items):
                    run.check_time()
                    if tuples:
                        run.context, env = item
                    else:
                        run.context, env = item, lo
                    result = body(run, env)
                    kind = type(result)
                    if kind is int or kind is float:
                        selected = math.floor(result)
                        if (selected + len(items) if selected < 0 else selected) == index:
                            out.append(item)
                    elif kind is list and all(type(n) is int or type(n) is float for n in result):
                        for number in result:  # an array of numbers selects by position (an index twice, twice)
                            selected = math.floor(number)
                            if (selected + len(items) if selected < 0 else selected) == index:
                                out.append(item)
                    elif _boolean(result) is True:
                        out.append(item)
            finally:
                run.context = saved
            return out

        return by_predicate

    # -- literals, variables, paths ---------------------------------------------------------------------------

    def _string(self, node: Any, _local: frozenset[str]) -> Closure:
        return _constant(node.value)

    def _number(self, node: Any, _local: frozenset[str]) -> Closure:
        if not isinstance(node.value, int | float) or isinstance(node.value, bool) or not math.isfinite(node.value):
            raise _NotCompiled
        return _constant(_whole(node.value))

    def _value(self, node: Any, _local: frozenset[str]) -> Closure:
        if node.value is not None and not isinstance(node.value, bool):
            raise _NotCompiled
        return _constant(node.value)

    def _variable(self, node: Any, local: frozenset[str]) -> Closure:
        name = node.value
        if name == "" and self.reads_context():
            return lambda run, _lo: run.context
        if name == "$" and self.context:
            return lambda run, _lo: run.root
        if not isinstance(name, str) or name in ("", "$", "states"):
            raise _NotCompiled  # the context, $$, the whole of $states
        if name in local:
            return lambda run, lo: lo[name]
        from .jsonata_functions import BUILTIN_NAMES
        if name in BUILTIN_NAMES:
            raise _NotCompiled  # a built-in function as a value

        self.variables.add(name)

        def variable(run: Run, _lo: Locals) -> Any:
            return run.variables.get(name, UNDEFINED)

        return variable

    def _path(self, node: Any, local: frozenset[str]) -> Closure:
        steps = list(node.steps or [])
        if not steps:
            raise _NotCompiled
        for step in steps:
            _plain(step, _STEP_MODIFIERS)
            if step.type != "name" and getattr(step, "stages", None) and step.type not in (
                    "variable", "function", "block"):
                raise _NotCompiled
        first = steps[0]
        rest = steps[1:]
        if any(getattr(step, "index", None) or getattr(step, "tuple", None) for step in steps):
            return self._tuple_path(steps, local)
        if _has_modifiers(first) and first.type != "name":
            raise _NotCompiled
        if rest and all(step.type == "name" and isinstance(step.value, str) and not _has_modifiers(step)
                        for step in rest) and not _has_modifiers(first):
            keys = tuple(str(step.value) for step in rest)
            if first.type == "variable" and first.value == "states" and "states" not in local:
                field, more = keys[0], keys[1:]
                self.states_fields.add(field)

                def states_path(run: Run, _lo: Locals) -> Any:
                    value = run.states.get(field, UNDEFINED)
                    for key in more:  # (names_from inline for objects, the commonest case)
                        if type(value) is dict:
                            value = value.get(key, UNDEFINED)
                        elif type(value) is list:
                            return names_from(run.states.get(field, UNDEFINED), more)
                        else:
                            return UNDEFINED
                    return value

                return states_path
            if first.type == "variable":
                start = self._variable(first, local)
                return lambda run, lo: names_from(start(run, lo), keys)
        begin: Closure
        if first.type == "name":
            if not self.reads_context():
                raise _NotCompiled  # a path from the context, which ASL has not
            if all(step.type == "name" and isinstance(step.value, str) and not _has_modifiers(step)
                   for step in steps):
                names = tuple(str(step.value) for step in steps)
                return lambda run, _lo: names_from(run.context, names)
            rest = steps  # every step, the first included, is evaluated for each item of the context
            # (jsonata-js wraps an array input in a sequence of one: a predicate filters the array's values as one)
            wrapped = self.relative == 0 and any(getattr(step, "stages", None) for step in steps)

            def begin(run: Run, _lo: Locals) -> Any:
                context = run.context
                return context if type(context) is list and not wrapped else [context]

        elif not rest:
            raise _NotCompiled
        elif getattr(first, "consarray", False):  # an array constructor: its value is the first sequence
            if first.type != "unary" or first.value != "[":
                raise _NotCompiled
            saved, self.context, self.relative = (self.context, self.relative), False, 0  # (it reads no context)
            try:
                array = self.node(first, local)
            finally:
                self.context, self.relative = saved

            def begin(run: Run, lo: Locals) -> Any:
                value = array(run, lo)
                if not value:
                    raise Bail  # an empty array ends the path as that array
                return value

        elif first.type == "variable" and first.value == "states" and "states" not in local:
            # `$states.<field>.<name>...` up to the first other step: its value is the first sequence
            count = next(i for i, step in enumerate(rest)
                         if step.type != "name" or not isinstance(step.value, str) or _has_modifiers(step))
            if count == 0:
                raise _NotCompiled  # the whole of $states
            field = str(rest[0].value)
            more = tuple(str(step.value) for step in rest[1:count])
            self.states_fields.add(field)
            rest = rest[count:]

            def begin(run: Run, _lo: Locals) -> Any:
                value = names_from(run.states.get(field, UNDEFINED), more)
                if value is UNDEFINED:
                    return []
                return value if type(value) is list else [value]

        elif first.type == "variable":
            variable = self.node(first, local)

            def begin(run: Run, lo: Locals) -> Any:
                value = variable(run, lo)
                if value is UNDEFINED:
                    return []
                return value if type(value) is list else [value]

        else:
            raise _NotCompiled
        compiled = tuple(self._step(step, local, i == len(rest) - 1) for i, step in enumerate(rest))
        last = len(compiled) - 1

        def path(run: Run, lo: Locals) -> Any:
            sequence = begin(run, lo)
            for index, step in enumerate(compiled):
                if not sequence:
                    return UNDEFINED
                sequence = step(run, lo, sequence, index == last)
                if type(sequence) is list:  # the last step's single array, as it is
                    return sequence
            return _collapse(sequence)

        return path

    def _step(self, step: Any, local: frozenset[str], last: bool) -> Callable[[Run, Locals, list[Any], bool], Any]:
        """A path step after the first: ``(run, locals, sequence, last) -> _Seq``, or the one array the last step
        found (returned as it is)."""
        stages = getattr(step, "stages", None)
        if stages:
            return self._staged_step(step, local)
        if step.type == "name":
            if not isinstance(step.value, str):
                raise _NotCompiled
            key = str(step.value)

            def name_step(_run: Run, _lo: Locals, sequence: list[Any], last: bool) -> Any:
                return _names_step(sequence, key, last)

            return name_step
        if step.type not in ("function", "unary", "block", "variable", "condition", "binary", "string", "number",
                             "value"):
            raise _NotCompiled
        if step.type == "block" and step.consarray:
            raise _NotCompiled
        cons = last and step.type == "unary" and step.value == "[" and bool(getattr(step, "consarray", False))
        self.relative += 1
        try:
            body = self.node(step, local)
        finally:
            self.relative -= 1

        def each(run: Run, lo: Locals, sequence: list[Any], last: bool) -> Any:
            results = []
            saved = run.context
            try:
                for item in sequence:
                    run.check_time()
                    run.context = item
                    value = body(run, lo)
                    if value is not UNDEFINED:
                        results.append(value)
            finally:
                run.context = saved
            if last and len(results) == 1 and type(results[0]) is list:
                return results[0]
            out = _Seq()
            for value in results:
                if type(value) is list and not cons:
                    out.extend(value)
                else:
                    out.append(value)
            return out

        return each

    def _step_value(self, step: Any, local: frozenset[str]) -> Callable[[Run, Locals, Any], Any]:
        """A step's value for one item (jsonata-js ``evaluate(step, item)``, collapsed)."""
        if step.type == "name":
            if not isinstance(step.value, str):
                raise _NotCompiled
            key = str(step.value)

            def name_value(_run: Run, _lo: Locals, item: Any) -> Any:
                found = _lookup(item, key)
                return _collapse(found) if type(found) is _Seq else found

            return name_value
        if step.type == "unary" and step.value == "[":
            raise _NotCompiled  # an array constructor as a step keeps its array (not compiled with stages)
        self.relative += 1
        try:
            body = self.node(step, local)
        finally:
            self.relative -= 1

        def value(run: Run, lo: Locals, item: Any) -> Any:
            saved = run.context
            run.context = item
            try:
                return body(run, lo)
            finally:
                run.context = saved

        return value

    def _staged_step(self, step: Any, local: frozenset[str]) -> Callable[[Run, Locals, list[Any], bool], Any]:
        """A step with predicates (jsonata-js ``evaluateStep``): each item's value filtered, the results flattened."""
        value_of = self._step_value(step, local)
        filters = self._filters(step.stages, local)

        def staged(run: Run, lo: Locals, sequence: list[Any], _last: bool) -> Any:
            out = _Seq()
            for item in sequence:
                run.check_time()
                value = value_of(run, lo, item)
                for apply in filters:
                    value = apply(run, lo, value, False)
                out.extend(value)
            return out

        return staged

    def _tuple_path(self, steps: list[Any], local: frozenset[str]) -> Closure:
        """A path with positional bindings (``#$i``): from the first such step on, a tuple stream of
        ``(item, locals)`` as jsonata-js ``evaluateTupleStep`` builds it; the result is the items."""
        first = steps[0]
        if first.type != "name" or not self.reads_context():
            raise _NotCompiled  # (a path from a variable or $states with #: not compiled)
        start = next(i for i, step in enumerate(steps) if getattr(step, "index", None) or getattr(step, "tuple", None))
        plain_steps = tuple(self._step(step, local, False) for step in steps[:start])
        tuple_steps = []
        scope = local
        for step in steps[start:]:
            index = getattr(step, "index", None)
            if index is not None and (not isinstance(index, str) or not index or index in ("$", "states")
                                      or _is_builtin(index)):
                raise _NotCompiled
            value_of = self._step_value(step, scope)
            if index is not None:
                scope = scope | {index}
            filters = self._filters(getattr(step, "stages", None) or [], scope)
            tuple_steps.append((value_of, index, filters))
        frozen = tuple(tuple_steps)

        wrapped = self.relative == 0

        def tuple_path(run: Run, lo: Locals) -> Any:
            context = run.context
            sequence: Any = [context] if wrapped or type(context) is not list else context
            for step in plain_steps:
                sequence = step(run, lo, sequence, False)
                if not sequence:
                    return UNDEFINED
            tuples: Any = [(item, lo) for item in sequence]
            for value_of, index, filters in frozen:
                out = []
                for item, env in tuples:
                    run.check_time()
                    value = value_of(run, env, item)
                    if value is UNDEFINED:
                        continue
                    values = value if type(value) is list or type(value) is _Seq else [value]
                    for position, each in enumerate(values):
                        if index is None:
                            out.append((each, env))
                        else:
                            bound = dict(env)
                            bound[index] = position
                            out.append((each, bound))
                tuples = out
                for apply in filters:
                    tuples = apply(run, lo, tuples, True)
            return _collapse(_Seq(item for item, _env in tuples))

        return tuple_path

    def _block(self, node: Any, local: frozenset[str]) -> Closure:
        parts: list[tuple[str | None, Closure]] = []
        scope = local
        for expression in node.expressions or []:
            if isinstance(expression, Parser.Symbol) and expression.type == "bind":
                _plain(expression)
                target = expression.lhs
                name = getattr(target, "value", None)
                if (not isinstance(target, Parser.Symbol) or target.type != "variable" or not isinstance(name, str)
                        or name in ("", "$", "states") or _is_builtin(name)):
                    raise _NotCompiled
                value = self.node(expression.rhs, scope)
                parts.append((name, value))
                scope = scope | {name}
            else:
                parts.append((None, self.node(expression, scope)))
        frozen = tuple(parts)

        def block(run: Run, lo: Locals) -> Any:
            inner = dict(lo)
            result = UNDEFINED
            for name, fn in frozen:
                result = fn(run, inner)
                if name is not None:
                    inner[name] = result
            return result

        return block

    # -- constructors -----------------------------------------------------------------------------------------

    def _unary(self, node: Any, local: frozenset[str]) -> Closure:
        if node.value == "[":
            return self._array(node, local)
        if node.value == "{":
            return self._object(node, local)
        if node.value == "-":
            operand = self.node(node.expression, local)

            def negate(run: Run, lo: Locals) -> Any:
                value = operand(run, lo)
                if value is UNDEFINED:
                    return UNDEFINED
                if not _is_number(value):
                    raise Bail
                return -value

            return negate
        raise _NotCompiled

    def _array(self, node: Any, local: frozenset[str]) -> Closure:
        items = tuple((self.node(item, local), item.type == "unary" and item.value == "[")
                      for item in node.expressions or [])

        def array(run: Run, lo: Locals) -> Any:
            out: list[Any] = []
            for item, nested in items:
                value = item(run, lo)
                if value is UNDEFINED:
                    continue
                if not nested and type(value) is list:
                    out.extend(value)
                else:
                    out.append(value)
            return out

        return array

    def _object(self, node: Any, local: frozenset[str]) -> Closure:
        pairs = []
        seen: set[str] = set()
        for key, value in node.lhs_object or []:
            if not isinstance(key, Parser.Symbol) or key.type != "string" or key.value in seen:
                raise _NotCompiled  # computed keys, duplicates (D1009)
            _plain(key)
            seen.add(key.value)
            pairs.append((str(key.value), self.node(value, local)))
        frozen = tuple(pairs)
        grouping = self.reads_context()

        def build(run: Run, lo: Locals) -> Any:
            if grouping and type(run.context) is list:
                raise Bail  # an object constructor groups the items of an array context
            out = {}
            for key, fn in frozen:
                value = fn(run, lo)
                if value is not UNDEFINED:
                    out[key] = value
            return out

        return build

    # -- operators --------------------------------------------------------------------------------------------

    def _binary(self, node: Any, local: frozenset[str]) -> Closure:
        op = node.value
        if op == "..":
            return _range(self.node(node.lhs, local), self.node(node.rhs, local))
        make = _BINARY.get(op)
        if make is None:
            raise _NotCompiled
        return make(self.node(node.lhs, local), self.node(node.rhs, local))

    def _condition(self, node: Any, local: frozenset[str]) -> Closure:
        condition = self.node(node.condition, local)
        then = self.node(node.then, local)
        otherwise = self.node(node._else, local) if node._else is not None else _constant(UNDEFINED)

        def choose(run: Run, lo: Locals) -> Any:
            return then(run, lo) if _boolean(condition(run, lo)) is True else otherwise(run, lo)

        return choose

    # -- function calls ---------------------------------------------------------------------------------------

    def _function(self, node: Any, local: frozenset[str]) -> Closure:
        procedure = node.procedure
        if not isinstance(procedure, Parser.Symbol) or procedure.type != "variable":
            raise _NotCompiled
        _plain(procedure)
        name = procedure.value
        arguments = list(node.arguments or [])
        if name in local:
            raise _NotCompiled
        if name in ("map", "filter"):
            return self._higher_order(name, arguments, local)
        builtin = _BUILTINS.get(name)
        if builtin is not None and not arguments and name in _CONTEXT_ARGUMENT and self.reads_context():
            context_fn = builtin[0]

            def call_on_context(run: Run, _lo: Locals) -> Any:
                if name in run.variables or run.context is UNDEFINED:
                    raise Bail
                return context_fn(run, run.context)

            return call_on_context
        if builtin is None or len(arguments) not in builtin[1]:
            raise _NotCompiled
        fn = builtin[0]
        args = tuple(self.node(argument, local) for argument in arguments)
        if len(args) == 1:
            only = args[0]

            def call1(run: Run, lo: Locals) -> Any:
                if name in run.variables:
                    raise Bail  # a workflow variable of that name hides the built-in
                return fn(run, only(run, lo))

            return call1

        def call(run: Run, lo: Locals) -> Any:
            if name in run.variables:
                raise Bail
            return fn(run, *(arg(run, lo) for arg in args))

        return call

    def _higher_order(self, name: str, arguments: list[Any], local: frozenset[str]) -> Closure:
        if len(arguments) != 2:
            raise _NotCompiled
        array, function = arguments
        if not isinstance(function, Parser.Symbol) or function.type != "lambda":
            raise _NotCompiled
        _plain(function)
        params = [arg.value for arg in function.arguments or []]
        if len(params) > 3 or not all(isinstance(p, str) and p for p in params) or len(set(params)) < len(params):
            raise _NotCompiled
        items = self.node(array, local)
        inner = function.body
        if isinstance(inner, Parser.Symbol) and inner.type == "lambda" and inner.thunk and not inner.arguments:
            inner = inner.body  # a tail call, wrapped for jsonata-python's trampoline: the same value here
        body = self.node(inner, local | frozenset(params))
        keep = name == "filter"

        def apply(run: Run, lo: Locals) -> Any:
            if name in run.variables:
                raise Bail
            values = items(run, lo)
            if values is UNDEFINED:
                return UNDEFINED
            if type(values) is not list:
                values = [values]
            out = []
            for index, value in enumerate(values):
                run.check_time()
                scope = dict(lo)
                for param, arg in zip(params, (value, index, values), strict=False):
                    scope[param] = arg
                result = body(run, scope)
                if keep:
                    if _boolean(result) is True:
                        out.append(value)
                elif result is not UNDEFINED:
                    out.append(result)
            return _collapse(out)

        return apply


# ---------------------------------------------------------------------------------------------------------------
# Values


def _constant(value: Any) -> Closure:
    return lambda _run, _lo: value


class _Seq(list[Any]):
    """A sequence within a path (flattened into the next step, collapsed at the end), never a result."""

    __slots__ = ()


def names_from(value: Any, keys: tuple[str, ...]) -> Any:
    """``<value>.<key>...`` as jsonata-js walks it: a field of each item, arrays mapped over and flattened, a single
    array found by the last step returned as it is, and the sequence found collapsed (nothing is undefined, one item
    is that item)."""
    for position, key in enumerate(keys):
        kind = type(value)
        if kind is dict:
            value = value.get(key, UNDEFINED)
            if value is UNDEFINED:
                return UNDEFINED
        elif kind is list:
            sequence: Any = value
            last = len(keys) - 1
            for index in range(position, len(keys)):
                sequence = _names_step(sequence, keys[index], index == last)
                if type(sequence) is list:
                    return sequence
                if not sequence:
                    return UNDEFINED
            return _collapse(sequence)
        else:
            return UNDEFINED  # a field of a string, number, null or undefined
    return value


def _lookup(value: Any, key: str) -> Any:
    """jsonata-js ``lookup``: a field of an object, of every object in an array (a sequence), else undefined."""
    kind = type(value)
    if kind is dict:
        return value.get(key, UNDEFINED)
    if kind is list or kind is _Seq:
        return _lookup_all(value, key)
    return UNDEFINED


def _lookup_all(items: list[Any], key: str) -> Any:
    out = _Seq()
    for item in items:
        found = _lookup(item, key)
        if found is not UNDEFINED:
            if type(found) is list or type(found) is _Seq:
                out.extend(found)
            else:
                out.append(found)
    return out


def _names_step(sequence: list[Any], key: str, last: bool) -> Any:
    results = []
    for item in sequence:
        found = _lookup(item, key)
        if type(found) is _Seq:  # (an array item's fields: collapsed as every evaluation's sequence is)
            if not found:
                continue
            if len(found) == 1:
                found = found[0]
        if found is not UNDEFINED:
            results.append(found)
    if last and len(results) == 1 and type(results[0]) is list:
        return results[0]  # one array, not a sequence: as it is
    out = _Seq()
    for found in results:
        if type(found) is list or type(found) is _Seq:
            out.extend(found)
        else:
            out.append(found)
    return out


def _is_builtin(name: str) -> bool:
    from .jsonata_functions import BUILTIN_NAMES
    return name in BUILTIN_NAMES


def _range(lhs: Closure, rhs: Closure) -> Closure:
    def numbers(run: Run, lo: Locals) -> Any:
        start = lhs(run, lo)
        end = rhs(run, lo)
        if type(start) is not int or type(end) is not int:
            raise Bail  # undefined, T2003 / T2004 (an integral float was made an int when compiled or computed)
        if start > end:
            return UNDEFINED
        size = end - start + 1
        if size > 10_000_000 or size > run.limits.max_sequence_items:
            raise Bail  # D2014, or past the engine's bound: the full evaluator reports it
        return list(range(start, end + 1))

    return numbers


def _collapse(items: list[Any]) -> Any:
    """A sequence's value: nothing is undefined, one item is that item (a plain list)."""
    if not items:
        return UNDEFINED
    if len(items) == 1:
        return items[0]
    return list(items) if type(items) is _Seq else items


def _whole(number: float) -> Any:
    """A computed number as plain JSON holds it: a whole double as ``int`` (JavaScript writes 3.0 as 3)."""
    if type(number) is float and number.is_integer() and -9.2e18 < number < 9.2e18:
        return int(number)
    if type(number) is int and not -(1 << 63) <= number < 1 << 63:
        return float(number)  # past 64 bits a JSON number is a double (orjson writes no more)
    return number


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _boolean(value: Any) -> Any:
    """jsonata-js ``$boolean``: UNDEFINED stays undefined."""
    kind = type(value)
    if kind is bool:
        return value
    if value is UNDEFINED:
        return UNDEFINED
    if kind is str:
        return value != ""
    if kind is int or kind is float:
        return value != 0
    if value is None:
        return False
    if kind is list:
        if len(value) == 1:
            return _boolean(value[0])
        return any(_boolean(item) is True for item in value)
    if kind is dict:
        return bool(value)
    raise Bail


def _string(run: Run, value: Any, prettify: Any = None) -> Any:
    kind = type(value)
    if kind is str:
        return value
    if kind is int and -_EXACT_DIGITS < value < _EXACT_DIGITS and (prettify is None or type(prettify) is bool):
        return str(value)  # (jsonata-js writes numbers with 15 significant digits: these are exact)
    if value is UNDEFINED:
        return UNDEFINED
    if prettify is not None and type(prettify) is not bool:
        raise Bail
    try:
        text = JsFunctions.string(NULL if value is None else nulls_in(value), prettify)
    except JException:
        raise Bail from None
    if text is None:
        raise Bail
    if len(text) > run.limits.max_string_length:
        raise Runaway(MEMORY)
    return text


_EXACT_DIGITS = 10**15


def _concat(lhs: Closure, rhs: Closure) -> Closure:
    def concat(run: Run, lo: Locals) -> Any:
        left = lhs(run, lo)
        right = rhs(run, lo)
        left = "" if left is UNDEFINED else left if type(left) is str else _string(run, left)
        right = "" if right is UNDEFINED else right if type(right) is str else _string(run, right)
        text = left + right
        if len(text) > run.limits.max_string_length:
            raise Runaway(MEMORY)
        return text

    return concat


def _arithmetic(op: str) -> Callable[[Closure, Closure], Closure]:
    def make(lhs: Closure, rhs: Closure) -> Closure:
        def arithmetic(run: Run, lo: Locals) -> Any:
            left = lhs(run, lo)
            right = rhs(run, lo)
            if (left is not UNDEFINED and not _is_number(left)) or (right is not UNDEFINED and not _is_number(right)):
                raise Bail  # T2001 / T2002
            if left is UNDEFINED or right is UNDEFINED:
                return UNDEFINED
            a, b = float(left), float(right)
            if op == "+":
                result = a + b
            elif op == "-":
                result = a - b
            elif op == "*":
                result = a * b
            elif b == 0:
                raise Bail  # D1001
            elif op == "/":
                result = a / b
            else:
                result = math.fmod(a, b)
            if not math.isfinite(result):
                raise Bail  # D1001
            return _whole(result)

        return arithmetic

    return make


def _js_equal(a: Any, b: Any) -> bool:
    ka, kb = type(a), type(b)
    if ka is bool or kb is bool:
        return ka is kb and a == b
    if ka is dict:
        return kb is dict and a.keys() == b.keys() and all(_js_equal(a[k], b[k]) for k in a)
    if ka is list:
        return kb is list and len(a) == len(b) and all(_js_equal(x, y) for x, y in zip(a, b, strict=True))
    if kb is dict or kb is list:
        return False
    if (ka is str) != (kb is str):
        return False
    return bool(a == b)


def _equality(negate: bool) -> Callable[[Closure, Closure], Closure]:
    def make(lhs: Closure, rhs: Closure) -> Closure:
        def equality(run: Run, lo: Locals) -> Any:
            left = lhs(run, lo)
            right = rhs(run, lo)
            if left is UNDEFINED or right is UNDEFINED:
                return False
            return _js_equal(left, right) is not negate

        return equality

    return make


def _comparison(op: str) -> Callable[[Closure, Closure], Closure]:
    def make(lhs: Closure, rhs: Closure) -> Closure:
        def comparison(run: Run, lo: Locals) -> Any:
            left = lhs(run, lo)
            right = rhs(run, lo)
            kl, kr = type(left), type(right)
            numbers = (kl is int or kl is float) and (kr is int or kr is float)
            strings = kl is str and kr is str and left.isascii() and right.isascii()  # else: UTF-16 order
            if not (numbers or strings):
                comparable = (left is UNDEFINED or kl in (str, int, float)) and (
                    right is UNDEFINED or kr in (str, int, float))
                if comparable and (left is UNDEFINED or right is UNDEFINED):
                    return UNDEFINED
                raise Bail  # T2009 / T2010, or strings past ASCII
            if op == "<":
                return left < right
            if op == "<=":
                return left <= right
            if op == ">":
                return left > right
            return left >= right

        return comparison

    return make


def _logical(is_and: bool) -> Callable[[Closure, Closure], Closure]:
    def make(lhs: Closure, rhs: Closure) -> Closure:
        def logical(run: Run, lo: Locals) -> Any:
            left = _boolean(lhs(run, lo)) is True
            if is_and and not left:
                return False
            if not is_and and left:
                return True
            return _boolean(rhs(run, lo)) is True

        return logical

    return make


def _includes(lhs: Closure, rhs: Closure) -> Closure:
    def includes(run: Run, lo: Locals) -> Any:
        left = lhs(run, lo)
        right = rhs(run, lo)
        if left is UNDEFINED or right is UNDEFINED:
            return False
        for item in right if type(right) is list else [right]:
            kind = type(item)
            if kind is dict or kind is list or type(left) in (dict, list):
                if item is left:
                    return True
            elif (kind is bool) == (type(left) is bool) and (kind is str) == (type(left) is str) and item == left:
                return True
        return False

    return includes


_BINARY: dict[str, Callable[[Closure, Closure], Closure]] = {
    "&": _concat, "+": _arithmetic("+"), "-": _arithmetic("-"), "*": _arithmetic("*"), "/": _arithmetic("/"),
    "%": _arithmetic("%"), "=": _equality(False), "!=": _equality(True), "<": _comparison("<"),
    "<=": _comparison("<="), ">": _comparison(">"), ">=": _comparison(">="), "and": _logical(True),
    "or": _logical(False), "in": _includes,
}


# ---------------------------------------------------------------------------------------------------------------
# Built-ins: each answers the values it is sure of and bails on the rest (signature errors and the like)


def _merge(_run: Run, value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if type(value) is dict:
        return dict(value)
    if type(value) is not list or not all(type(item) is dict for item in value):
        raise Bail
    out: dict[str, Any] = {}
    for item in value:
        out.update(item)
    return out


def _count(_run: Run, value: Any) -> Any:
    if value is UNDEFINED:
        return 0
    return len(value) if type(value) is list else 1


def _sum(_run: Run, value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    values = value if type(value) is list else [value]
    if not all(_is_number(item) for item in values):
        raise Bail
    total = 0.0
    for item in values:
        total += float(item)
    if not math.isfinite(total):
        raise Bail
    return _whole(total)


def _number(_run: Run, value: Any) -> Any:
    kind = type(value)
    if kind is int or kind is float or value is UNDEFINED:
        return value
    if kind is bool:
        return 1 if value else 0
    if kind is str:
        try:
            number = JsFunctions.number(value)
        except JException:
            raise Bail from None
        if number is None:
            raise Bail
        return _whole(number)
    raise Bail


def _exists(_run: Run, value: Any) -> Any:
    return value is not UNDEFINED


def _length(_run: Run, value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    if type(value) is not str:
        raise Bail
    if not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        raise Bail  # surrogate code units: counted as jsonata-js counts them by the full evaluator
    return len(value)


def _case(upper: bool) -> Callable[[Run, Any], Any]:
    def change(_run: Run, value: Any) -> Any:
        if value is UNDEFINED:
            return UNDEFINED
        if type(value) is not str or not value.isascii():
            raise Bail
        return value.upper() if upper else value.lower()

    return change


def _join(run: Run, value: Any, separator: Any = "") -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    values = value if type(value) is list else [value]
    if type(separator) is not str or not all(type(item) is str for item in values):
        raise Bail
    text = separator.join(values)
    if len(text) > run.limits.max_string_length:
        raise Runaway(MEMORY)
    return text


def _not(_run: Run, value: Any) -> Any:
    if value is UNDEFINED:
        return UNDEFINED
    return not _boolean(value)


def _to_boolean(_run: Run, value: Any) -> Any:
    return _boolean(value)


def _lookup_function(_run: Run, value: Any, key: Any) -> Any:
    if type(key) is not str:
        raise Bail
    if value is UNDEFINED:
        return UNDEFINED
    found = _lookup(value, key)
    return _collapse(found) if type(found) is _Seq else found


#: built-ins whose first argument, when none is given, is the context (``-`` in their signature)
_CONTEXT_ARGUMENT = frozenset({"string", "number", "length", "uppercase", "lowercase", "boolean", "not"})

_BUILTINS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "merge": (_merge, (1,)), "count": (_count, (1,)), "sum": (_sum, (1,)), "string": (_string, (1, 2)),
    "number": (_number, (1,)), "exists": (_exists, (1,)), "length": (_length, (1,)),
    "uppercase": (_case(True), (1,)), "lowercase": (_case(False), (1,)), "join": (_join, (1, 2)),
    "not": (_not, (1,)), "boolean": (_to_boolean, (1,)), "lookup": (_lookup_function, (2,)),
}
