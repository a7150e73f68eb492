"""ASL intrinsic functions (JSONPath mode): ``States.Format(...)`` and the other 17, compiled once.

A call such as ``States.Format('{} items', States.ArrayLength($.items))`` is tokenized and parsed
here (the call grammar is not JSONPath; argument paths go to :mod:`.paths`) into one closure per
call. :func:`compile_intrinsic` rejects only what AWS rejects when a definition is created: bad
syntax (including a lone backslash in a string), unknown function names and nesting deeper than 10.

Everything else fails at run time with ``States.Runtime`` and the cause ``Invalid arguments in
States.<Name>``, as recorded on AWS: wrong argument counts, wrong argument types (even for
literals), out-of-range values. A path argument that matches nothing raises
:class:`.paths.PathNotFound` / :class:`.paths.VariableNotFound` unchanged, so the caller can word
the cause with the field name.

The function bodies, their argument counts and AWS's Java-flavoured results are in
:mod:`.intrinsic_functions`. [3P] marks behaviour taken from a third-party suite whose cases were
executed against AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import get_ident
from typing import NoReturn

from .. import errors
from ..jsonutil import Json, JsonError, loads
from .intrinsic_cost import HEAVY, JUDGED_WHEN_NESTED, MANY_ARGS
from .intrinsic_functions import FUNCTIONS, Invalid, parse_format_template
from .offload import RESTARTABLE, Offload, may_offload
from .paths import Env, PathSyntaxError, compile_path

__all__ = [
    "FUNCTION_NAMES",
    "MAX_NESTING",
    "Intrinsic",
    "IntrinsicSyntaxError",
    "compile_intrinsic",
    "is_intrinsic",
]

#: Deepest allowed nesting of calls inside one field (AWS docs: "up to 10").
MAX_NESTING = 10

#: A compiled argument or call: ``(value, env) -> result``.
Evaluator = Callable[[Json, Env], Json]

_CALL_START = re.compile(r"States\.[A-Za-z0-9]+\s*\(")
_NAME = re.compile(r"[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: dict[str, Json] = {"true": True, "false": False, "null": None}
_STRING_ESCAPES = frozenset("'{}\\")


class IntrinsicSyntaxError(ValueError):
    """An intrinsic call that AWS would reject when the definition is created."""


def is_intrinsic(text: str) -> bool:
    """Whether ``text`` is meant as an intrinsic call (``States.Name(`` at its start)."""
    return isinstance(text, str) and _CALL_START.match(text) is not None


@dataclass(frozen=True, slots=True)
class Intrinsic:
    """A compiled intrinsic call; call it with the value ``$`` refers to and the :class:`.Env`."""

    text: str
    _evaluate: Evaluator = field(repr=False, compare=False)
    #: the workflow variables its argument paths read (``$name...``)
    variables: frozenset[str] = frozenset()

    def __call__(self, value: Json, env: Env) -> Json:
        """Evaluate the call.

        Raises ``errors.Runtime`` (``Invalid arguments in States.<Name>``) when a function rejects
        its arguments, and ``PathNotFound`` / ``VariableNotFound`` when an argument path fails.
        """
        return self._evaluate(value, env)


def compile_intrinsic(text: str) -> Intrinsic:
    """Compile an intrinsic call such as ``States.Array($.a, 'b', 3)``.

    Raises :class:`IntrinsicSyntaxError` for bad syntax, an invalid argument path, an unknown
    function or nesting deeper than :data:`MAX_NESTING`.
    """
    if not isinstance(text, str):
        raise IntrinsicSyntaxError(f"an intrinsic function call must be a string: {text!r}")
    parser = _Parser(text)
    evaluate = parser.call(1)
    parser.skip_ws()
    if parser.pos != len(text):
        parser.fail("unexpected text after the call")
    parser.judged[0] = max(1, parser.judged[0])  # (their calls share the slice on the event loop)
    return Intrinsic(text, evaluate, frozenset(parser.variables))


# --------------------------------------------------------------------------------------------------
# Parsing: text -> closures


@dataclass(frozen=True, slots=True)
class _StringLiteral:
    value: str
    escaped: frozenset[int]  # indexes in ``value`` of characters written with a backslash


@dataclass(frozen=True, slots=True)
class _NestedCall:
    """A call as another call's argument (its result, unlike a path's, may be larger than any document)."""

    evaluate: Evaluator


class _Parser:
    """Recursive-descent parser for ``States.Name(arg, ...)``."""

    __slots__ = ("judged", "pos", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.variables: set[str] = set()
        #: how many calls of this field are judged by their arguments' size (one cell, filled in at the end)
        self.judged = [0]

    def fail(self, message: str) -> NoReturn:
        """Raise :class:`IntrinsicSyntaxError` pointing at the current position."""
        raise IntrinsicSyntaxError(f"invalid intrinsic function call {self.text!r}: {message} "
                                   f"at position {self.pos}")

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def call(self, depth: int) -> Evaluator:
        if depth > MAX_NESTING:
            self.fail(f"intrinsic functions can be nested at most {MAX_NESTING} deep")
        if not self.text.startswith("States.", self.pos):
            self.fail("expected 'States.<Function>('")
        self.pos += len("States.")
        m = _NAME.match(self.text, self.pos)
        if m is None:
            self.fail("expected a function name")
        name = "States." + m.group()
        if name not in FUNCTIONS:
            self.fail(f"unknown intrinsic function {name}")
        self.pos = m.end()
        self.skip_ws()
        if not self.text.startswith("(", self.pos):
            self.fail("expected '('")
        self.pos += 1
        self.skip_ws()
        args: list[_NestedCall | Evaluator | _StringLiteral | Json] = []
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                args.append(self.argument(depth))
                self.skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    self.skip_ws()
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    self.fail("expected ',' or ')'")
        return _compile_call(name, args, self.judged)

    def argument(self, depth: int) -> _NestedCall | Evaluator | _StringLiteral | Json:
        """One argument: a closure for paths and calls, the value itself for literals."""
        text, pos = self.text, self.pos
        c = text[pos] if pos < len(text) else ""
        if c == "'":
            return self.string()
        if c == "$":
            return self.path()
        if text.startswith("States.", pos):
            return _NestedCall(self.call(depth + 1))
        m = _NUMBER.match(text, pos)
        if m is not None:
            self.pos = m.end()
            self.expect_delimiter()
            token = m.group()
            try:
                return loads(token)  # (as any JSON number: an integer beyond 64 bits becomes a float)
            except JsonError:
                return float(token)  # beyond the range of a double: infinity, as Java parses it
        for word, literal in _KEYWORDS.items():
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                self.expect_delimiter()
                return literal
        self.fail("expected a string, number, true, false, null, path or intrinsic function call")

    def expect_delimiter(self) -> None:
        if self.pos < len(self.text) and self.text[self.pos] not in " \t\r\n,)":
            self.fail("unexpected character")

    def string(self) -> _StringLiteral:
        text = self.text
        i = self.pos + 1
        out: list[str] = []
        escaped: set[int] = set()
        while i < len(text):
            c = text[i]
            if c == "'":
                self.pos = i + 1
                return _StringLiteral("".join(out), frozenset(escaped))
            if c == "\\":
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if nxt not in _STRING_ESCAPES:
                    self.pos = i
                    self.fail("a backslash must be followed by ', {, } or \\")
                escaped.add(len(out))
                out.append(nxt)
                i += 2
                continue
            out.append(c)
            i += 1
        self.fail("unterminated string")

    def path(self) -> Evaluator:
        # A path runs to the first ',', ')' or blank outside brackets, parentheses and quotes
        # (so $.a['x, y'] and $.a[?(@.b == 1)] stay whole).
        text, start = self.text, self.pos
        i, depth, quote = start, 0, ""
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"" and depth:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and c in ", \t\r\n":
                break
            i += 1
        try:
            path = compile_path(text[start:i])
        except PathSyntaxError as exc:
            self.fail(str(exc))
        self.pos = i
        if path.variable is not None:
            self.variables.add(path.variable)
        return path.get


def _compile_call(name: str, parsed: list[_NestedCall | Evaluator | _StringLiteral | Json],
                  judged: list[int]) -> Evaluator:
    min_args, max_args, body = FUNCTIONS[name]
    nested = any(isinstance(arg, _NestedCall) for arg in parsed)
    args = [arg.evaluate if isinstance(arg, _NestedCall) else arg for arg in parsed]
    if name == "States.Format" and args and isinstance(args[0], _StringLiteral):
        # Keep track of escaped braces: '\{}' is text, not a placeholder.
        args[0] = parse_format_template(args[0].value, args[0].escaped)
    cause = f"Invalid arguments in {name}"
    if not min_args <= len(args) <= max_args:
        # AWS accepts the definition and fails the state when it runs [3P].
        def wrong_arity(value: Json, env: Env) -> Json:
            raise errors.Runtime(cause)

        return wrong_arity

    many = len(args) > MANY_ARGS
    heavy = HEAVY.get(name)
    if heavy is not None and name in JUDGED_WHEN_NESTED and not nested:
        heavy = None
    if not any(callable(arg) for arg in args):
        fixed = [arg.value if isinstance(arg, _StringLiteral) else arg for arg in args]
        # (literals: judged once; a heavy call gives up where a sync state runs it on the event loop)
        if many or (heavy is not None and heavy(fixed, 1)):
            def heavy_literal_call(value: Json, env: Env) -> Json:
                if may_offload():
                    raise Offload
                try:
                    return body(fixed)
                except Invalid:
                    raise errors.Runtime(cause) from None

            return heavy_literal_call

        def literal_call(value: Json, env: Env) -> Json:
            try:
                return body(fixed)
            except Invalid:
                raise errors.Runtime(cause) from None

        return literal_call
    fns = tuple(arg if callable(arg) else _constant(arg.value if isinstance(arg, _StringLiteral) else arg)
                for arg in args)
    if many:
        def many_call(value: Json, env: Env) -> Json:
            if may_offload():
                raise Offload
            evaluated = [f(value, env) for f in fns]
            try:
                return body(evaluated)
            except Invalid:
                raise errors.Runtime(cause) from None

        return many_call
    if heavy is not None:
        judge = heavy
        judged[0] += 1
        restartable = RESTARTABLE

        def judged_call(value: Json, env: Env) -> Json:
            evaluated = [f(value, env) for f in fns]
            if restartable.thread == get_ident() and judge(evaluated, judged[0]):  # (may_offload, inlined)
                raise Offload
            try:
                return body(evaluated)
            except Invalid:
                raise errors.Runtime(cause) from None

        return judged_call

    def call(value: Json, env: Env) -> Json:
        evaluated = [f(value, env) for f in fns]
        try:
            return body(evaluated)
        except Invalid:
            raise errors.Runtime(cause) from None

    return call


def _constant(value: Json) -> Evaluator:
    def constant(_value: Json, _env: Env) -> Json:
        return value

    return constant


#: The names of all intrinsic functions, e.g. ``"States.Format"``.
FUNCTION_NAMES: frozenset[str] = frozenset(FUNCTIONS)
