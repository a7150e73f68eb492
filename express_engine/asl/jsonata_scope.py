"""Which ``$names`` a parsed JSONata expression reads from outside itself (its free variables).

JSONata binds names in frames: a block ``( ... )`` opens one, ``$x := ...`` binds in the current one
(after its right-hand side is evaluated), a lambda's parameters and the ``@$v`` / ``#$i`` of a path
step bind for what follows. A name read where none of these bound it comes from outside: a workflow
variable, a built-in function or ``$states``. Lambda bodies are resolved last, against the final frames
they close over, so a recursive ``$f := function(){ $f() }`` does not count ``f`` as free.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonata.parser import Parser

# Attributes of Parser.Symbol that hold sub-trees (the others hold scalars, or runtime state).
CHILD_ATTRS = ("steps", "stages", "predicate", "expr", "lhs", "rhs", "expression", "expressions",
               "procedure", "arguments", "body", "condition", "then", "_else", "group", "lhs_object",
               "rhs_object", "terms", "pattern", "update", "delete")


def children(node: Any) -> Iterator[Any]:
    """The sub-trees of ``node``, in evaluation order (near enough: bindings are handled apart)."""
    for attr in CHILD_ATTRS:
        value = getattr(node, attr, None)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, list | tuple):
                    yield from item
                else:
                    yield item
        else:
            yield value


def free_variables(root: Any) -> set[str]:
    """The names ``root`` reads without binding them first (``$`` and ``$$`` excluded)."""
    free: set[str] = set()
    pending: list[tuple[Any, list[set[str]]]] = [(root, [set()])]
    while pending:
        node, scopes = pending.pop()
        _walk(node, scopes, free, pending)
    return free


def _walk(node: Any, scopes: list[set[str]], free: set[str], lambdas: list[tuple[Any, list[set[str]]]]) -> None:
    if not isinstance(node, Parser.Symbol):
        return
    kind = node.type
    if kind == "bind" and getattr(node.lhs, "type", None) == "variable":
        _walk(node.rhs, scopes, free, lambdas)
        scopes[-1].add(str(node.lhs.value))
        return
    if kind == "lambda":
        params = {str(arg.value) for arg in node.arguments or []}
        lambdas.append((node.body, [*scopes, params]))  # walked once the enclosing frames are complete
        return
    if kind == "block":
        scopes = [*scopes, set()]
    elif kind == "path":
        step_names = {str(name) for step in node.steps or [] for name in (getattr(step, "focus", None),
                                                                          getattr(step, "index", None)) if name}
        if step_names:
            scopes = [*scopes, step_names]
    elif kind == "variable":
        name = str(node.value) if node.value else ""
        if name and name != "$" and not any(name in scope for scope in scopes):
            free.add(name)
    for child in children(node):
        _walk(child, scopes, free, lambdas)
