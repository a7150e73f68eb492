"""JSONPath for ASL: paths compiled once with jsonpath-ng, evaluated many times.

Three roots are possible: ``$`` (the value the field reads from), ``$$`` (the context object) and
``$name`` (a workflow variable). Plain paths made only of field names and integer indexes
(``$.a.b[0]``) are evaluated by walking a tuple of steps; anything else (wildcards, slices, filters,
recursive descent) goes through jsonpath-ng. AWS's result rules (https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html):

* a path that matches nothing fails (:class:`PathNotFound`), unless it contains a wildcard, slice or
  filter, in which case it yields ``[]``;
* a path with a wildcard, slice, filter or several indexes always yields a list;
* otherwise the single match itself is returned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from jsonpath_ng import jsonpath as jp
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import ExtendedJsonPathParser

from ..jsonutil import Json

_VARIABLE_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.S)


class Env(Protocol):
    """What a compiled expression may read besides its main value: context object and variables."""

    @property
    def context(self) -> Mapping[str, Json]:
        """The context object (``$$``)."""

    @property
    def variables(self) -> Mapping[str, Json]:
        """The workflow variables in scope."""


class StaticEnv:
    """An :class:`Env` over a given context object and variables."""

    __slots__ = ("context", "variables")

    def __init__(self, context: Mapping[str, Json], variables: Mapping[str, Json]) -> None:
        self.context = context
        self.variables = variables


class PathSyntaxError(ValueError):
    """A path that does not parse, or that uses steps the field does not allow."""


class PathNotFound(LookupError):
    """A path matched nothing in the value it was evaluated on."""

    def __init__(self, path: str, value: Json) -> None:
        super().__init__(path)
        self.path = path
        self.value = value


class VariableNotFound(LookupError):
    """A ``$name`` path named a variable that has not been assigned."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


_MISSING: Any = object()


def _steps_of(expr: Any) -> tuple[str | int, ...] | None:
    """The field/index steps of a plain path, or None when the path needs jsonpath-ng."""
    steps: list[str | int] = []
    node = expr
    while True:
        if isinstance(node, jp.Root):
            steps.reverse()
            return tuple(steps)
        if not isinstance(node, jp.Child):
            return None
        right = node.right
        if isinstance(right, jp.Fields) and len(right.fields) == 1 and right.fields[0] != "*":
            steps.append(right.fields[0])
        elif isinstance(right, jp.Index) and len(right.indices) == 1:
            steps.append(int(right.indices[0]))
        else:
            return None
        node = node.left


#: Node types that can match several values (by name: jsonpath-ng added ``Wildcard`` in 1.16).
_MULTI_NODES = frozenset({"Slice", "Wildcard", "Descendants", "Where", "WhereNot", "Union", "Filter"})


def _is_multi(expr: Any) -> bool:
    """Whether a parsed path can match several values (so its result is always a list)."""
    if type(expr).__name__ in _MULTI_NODES:
        return True
    if isinstance(expr, jp.Fields):
        return len(expr.fields) != 1 or expr.fields[0] == "*"
    if isinstance(expr, jp.Index):
        return len(expr.indices) != 1
    for attr in ("left", "right"):
        child = getattr(expr, attr, None)
        if child is not None and _is_multi(child):
            return True
    return False


def _walk(value: Json, steps: tuple[str | int, ...]) -> Json:
    for step in steps:
        if isinstance(step, str):
            if type(value) is not dict:
                return _MISSING
            value = value.get(step, _MISSING)
            if value is _MISSING:
                return _MISSING
        else:
            if type(value) is not list:
                return _MISSING
            try:
                value = value[step]
            except IndexError:
                return _MISSING
    return value


@dataclass(frozen=True, slots=True)
class Path:
    """A compiled JSONPath. Call :meth:`get` to evaluate it."""

    text: str
    #: ``"input"``, ``"context"`` or ``"variable"``.
    root: str
    variable: str | None
    steps: tuple[str | int, ...] | None
    expr: Any
    multi: bool

    @property
    def is_root(self) -> bool:
        """True for the bare ``$`` path."""
        return self.root == "input" and self.steps == ()

    def get(self, value: Json, env: Env | None = None) -> Json:
        """Evaluate on ``value`` (or on the context object / a variable, depending on the root).

        Raises :class:`PathNotFound` when a single-valued path matches nothing, and
        :class:`VariableNotFound` for an unassigned variable.
        """
        if self.root == "context":
            value = env.context if env is not None else {}
        elif self.root == "variable":
            variables = env.variables if env is not None else {}
            name = self.variable or ""
            if name not in variables:
                raise VariableNotFound(name)
            value = variables[name]
        if self.steps is not None:
            found = _walk(value, self.steps)
            if found is _MISSING:
                raise PathNotFound(self.text, value)
            return found
        matches = [m.value for m in self.expr.find(value)]
        if self.multi:
            return matches
        if not matches:
            raise PathNotFound(self.text, value)
        return matches[0] if len(matches) == 1 else matches

    def exists(self, value: Json, env: Env | None = None) -> bool:
        """Whether the path matches something (used by Choice ``IsPresent``)."""
        try:
            found = self.get(value, env)
        except (PathNotFound, VariableNotFound):
            return False
        return not (self.multi and found == [])


_PARSER = ExtendedJsonPathParser()


#: What ends a dot-notation name (outside quotes).
_NAME_END = frozenset(".[]()'\" \t\r\n=<>!&|,")


def _as_jayway_reads_it(text: str) -> str:
    """Rewrite path ``text`` so that jsonpath-ng reads it as AWS (Jayway) does.

    * A backslash inside a quoted bracket key stays as it is, escape and all: ``$['a\\"b']`` names the
      key ``a\\"b``; the backslash only stops the next character from closing the string. jsonpath-ng
      drops the backslash, so each ``\\c`` there becomes ``\\\\\\c``. String literals inside filters
      (``?(...)``) are unescaped by Jayway too and are left alone.
    * A dot-notation name may hold any character (``$.café``); jsonpath-ng's lexer takes only ASCII
      ones, so such a name becomes ``['café']``.
    * A dot before a bracket (``$.[?(@.OU > 0)]``, ``$.['a']``) is Jayway's spelling of the bracket alone
      (an AWS sample machine, account-vending-machine in aws-samples/step-functions-workflows-collection,
      deploys with ``$.[?(...)]``); jsonpath-ng refuses it, so the dot is dropped.
    """
    if "\\" not in text and text.isascii() and ".[" not in text:
        return text
    out: list[str] = []
    quote = ""
    depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and i + 1 < len(text):
                out.append("\\\\" + "\\" + text[i + 1] if depth == 0 else c + text[i + 1])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "." and text[i + 1:i + 2] == "[" and text[i - 1:i] != "." and depth == 0:
            i += 1
            continue
        elif c == "." and text[i + 1:i + 2] != ".":
            j = i + 1
            while j < len(text) and text[j] not in _NAME_END:
                j += 1
            name = text[i + 1:j]
            if not name.isascii():
                out.append(f".['{name}']" if text[i - 1:i] == "." else f"['{name}']")  # (``$..name`` stays deep)
                i = j
                continue
        out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    # One parser instance: building jsonpath-ng's ply tables costs ~17 ms per parser.
    try:
        return _PARSER.parse(_as_jayway_reads_it(text))
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # jsonpath-ng raises plain Exception too
        raise PathSyntaxError(f"invalid JSONPath {text!r}: {exc}") from None


def compile_path(text: str, *, allow_context: bool = True, allow_variables: bool = True) -> Path:
    """Compile a JSONPath (``$...``, ``$$...`` or ``$var...``).

    Raises :class:`PathSyntaxError` when ``text`` is not a valid path for the field.
    """
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a path must start with '$': {text!r}")
    if text.startswith("$$"):
        if not allow_context:
            raise PathSyntaxError(f"the context object cannot be used here: {text!r}")
        root, variable, rest = "context", None, "$" + text[2:]
    else:
        m = _VARIABLE_RE.match(text)
        if m:
            if not allow_variables:
                raise PathSyntaxError(f"variables cannot be used here: {text!r}")
            root, variable, rest = "variable", m.group(1), "$" + m.group(2)
        else:
            root, variable, rest = "input", None, text
    expr = _parse(rest)
    steps = _steps_of(expr)
    multi = steps is None and _is_multi(expr)
    return Path(text, root, variable, steps, expr, multi)


@dataclass(frozen=True, slots=True)
class ReferencePath:
    """A reference path (field and index steps only), as ResultPath and ``*Path`` fields need."""

    text: str
    steps: tuple[str | int, ...]

    def set(self, target: Json, value: Json) -> Json:
        """Return a copy of ``target`` with ``value`` placed at this path.

        Only the containers along the path are copied; missing objects on the way are created.
        Raises :class:`PathNotFound` when the path crosses a value that is not an object (or a list
        index that does not exist).
        """
        steps = self.steps
        if not steps:
            return value
        if len(steps) == 1 and type(target) is dict and type(steps[0]) is str:  # the common ``$.key``, inline
            out = dict(target)
            out[steps[0]] = value
            return out
        return _set_in(target, steps, 0, value, self.text)


def _set_in(node: Json, steps: tuple[str | int, ...], i: int, value: Json, text: str) -> Json:
    step = steps[i]
    last = i == len(steps) - 1
    if isinstance(step, str):
        if node is None or node is _MISSING:
            node = {}
        if type(node) is not dict:
            raise PathNotFound(text, node)
        out = dict(node)
        out[step] = value if last else _set_in(node.get(step, _MISSING), steps, i + 1, value, text)
        return out
    if type(node) is not list or not -len(node) <= step < len(node):
        raise PathNotFound(text, node)
    out_list = list(node)
    out_list[step] = value if last else _set_in(node[step], steps, i + 1, value, text)
    return out_list


def compile_reference_path(text: str) -> ReferencePath:
    """Compile a reference path such as ``$.a.b[0]`` (no wildcards, slices, filters or ``$$``)."""
    if not isinstance(text, str) or not text.startswith("$") or text.startswith("$$"):
        raise PathSyntaxError(f"invalid reference path {text!r}")
    if _VARIABLE_RE.match(text):
        raise PathSyntaxError(f"invalid reference path {text!r}")
    steps = _steps_of(_parse(text))
    if steps is None:
        raise PathSyntaxError(f"a reference path may only use field names and indexes: {text!r}")
    return ReferencePath(text, steps)
