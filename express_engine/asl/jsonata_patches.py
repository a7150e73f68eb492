"""The patches of jsonata-python internals, in one place, applied when the first JSONata expression is compiled.

Everything else jsonata-python gets wrong for AWS is fixed from outside (our own functions bound in the ASL
frame, a subclass of its evaluator, compiled closures). What remains reaches into its modules, so importing
this package changes nothing: :func:`apply` makes the changes, once per process, and only the JSONata compiler
calls it. Each patch first checks that its target still exists, so a jsonata-python release that renamed one
fails loudly (:class:`PatchTargetMissing`) rather than quietly going back to Python errors in causes;
``pyproject.toml`` pins jsonata-python's minor version for the same reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PATCH_NAMES", "Patch", "PatchTargetMissing", "apply", "patches"]


class PatchTargetMissing(RuntimeError):
    """jsonata-python no longer has what a patch replaces (a release changed its internals)."""


@dataclass(frozen=True, slots=True)
class Patch:
    """Replace ``owner.attribute`` by ``make(original)`` for each target. The originals must be there, except
    the names in ``adds``: module globals that shadow a built-in (``print``, ``RuntimeError``) for that module."""

    name: str
    why: str
    targets: tuple[tuple[Any, str, Callable[[Any], Any]], ...]
    adds: tuple[str, ...] = ()

    def check(self) -> None:
        """Raises PatchTargetMissing when a target is gone."""
        for owner, attribute, _ in self.targets:
            if attribute not in self.adds and not hasattr(owner, attribute):
                raise PatchTargetMissing(
                    f"jsonata-python changed: {getattr(owner, '__name__', owner)!s}.{attribute} is gone, which the "
                    f"patch {self.name!r} ({self.why}) replaces; install the jsonata-python version "
                    "pyproject.toml pins")

    def apply(self) -> dict[tuple[int, str], tuple[Any, str, Any]]:
        """Make the replacements; returns the originals (``_MISSING`` where there was none)."""
        originals = {}
        for owner, attribute, make in self.targets:
            original = _raw(owner, attribute)
            originals[(id(owner), attribute)] = (owner, attribute, original)
            setattr(owner, attribute, make(original))
        return originals


_MISSING: Any = object()


def _raw(owner: Any, attribute: str) -> Any:
    """The attribute as stored (a class's staticmethod itself, not the function it gives)."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if attribute in vars(klass):
                return vars(klass)[attribute]
        return _MISSING
    return getattr(owner, attribute, _MISSING)


def patches() -> tuple[Patch, ...]:
    """Every patch, in the order applied (built on demand: importing this module imports no jsonata-python)."""
    import jsonata.jsonata as evaluator_module
    from jsonata import datetimeutils
    from jsonata.constants import Constants
    from jsonata.datetimeutils import DateTimeUtils
    from jsonata.signature import Signature

    from . import jsonata_js
    from . import jsonata_pictures as pictures

    def static(function: Callable[..., Any]) -> Callable[[Any], Any]:
        return lambda _original: staticmethod(function)

    def same(value: Any) -> Callable[[Any], Any]:
        return lambda _original: value

    picture_texts = tuple(
        (Constants, name, _coded(code))
        for name, code in pictures.PICTURE_ERRORS.items())
    return (
        Patch("silent-evaluator", "jsonata-python prints 'Proc not found ...' on stdout before T1006, which "
              "corrupts JSON output and stdout log sinks", ((evaluator_module, "print", same(_no_print)),),
              adds=("print",)),
        Patch("null-signature-type", "a JSON null is type 'l' when arguments are checked (T0410), not 'm'",
              ((Signature, "get_symbol", lambda original: jsonata_js.signature_symbol(original)),)),
        Patch("picture-error-codes", "picture errors carry jsonata-js's codes D3130-D3136, not jsonata-java texts",
              (*picture_texts, (datetimeutils, "RuntimeError", same(pictures.picture_error))), adds=("RuntimeError",)),
        Patch("unknown-component", "a component jsonata-js does not know is D3132, not a KeyError",
              ((DateTimeUtils, "_default_presentation_modifiers", pictures.unknown_component_defaults),)),
        Patch("integer-picture", "a ';' ending an integer picture is an empty modifier, not an IndexError",
              ((DateTimeUtils, "_analyse_integer_picture", static(pictures.integer_picture)),)),
        Patch("datetime-picture", "an empty marker '[]' is D3132; a name width without maximum cuts nothing",
              ((DateTimeUtils, "_analyse_datetime_picture", static(pictures.datetime_picture)),)),
        Patch("sequence-picture", "parsing with a sequence picture throws D3130",
              ((DateTimeUtils, "_generate_regex_with_component", static(pictures.integer_matcher)),)),
        Patch("picture-literals", "literal text of a date/time picture is escaped as jsonata-js escapes it",
              ((DateTimeUtils, "_generate_regex", static(pictures.picture_matcher)),)),
        Patch("picture-width", "a width modifier is read by parseInt ('*' or none: no limit)",
              ((DateTimeUtils, "_parse_width", static(pictures.width)),)),
        Patch("parse-decimal", "decimal digits are read by JavaScript's parseInt",
              ((DateTimeUtils.MatcherPartDecimal, "parse", same(pictures.parse_decimal)),)),
        Patch("parse-name", "a month, day or am/pm name jsonata-js does not know is undefined",
              ((DateTimeUtils.MatcherPartLookup, "parse", same(pictures.lookup_name)),)),
        Patch("date-years", "a date moved by 400-year cycles into Python's years shows its real year",
              ((DateTimeUtils, "_get_datetime_fragment", static(pictures.fragment)),)),
    )


def _coded(code: str) -> Callable[[Any], Any]:
    """A picture error text replaced by its jsonata-js code, and a ``{}`` for the value when it had one."""
    return lambda original: code + ("\0{}" if "%s" in original else "")


def _no_print(*_args: Any, **_kwargs: Any) -> None:
    return None


PATCH_NAMES = ("silent-evaluator", "null-signature-type", "picture-error-codes", "unknown-component",
               "integer-picture", "datetime-picture", "sequence-picture", "picture-literals", "picture-width",
               "parse-decimal", "parse-name", "date-years")

_lock = threading.Lock()
_originals: dict[str, dict[tuple[int, str], tuple[Any, str, Any]]] = {}


def apply() -> None:
    """Apply every patch, once per process (later calls return at once).

    Raises:
        PatchTargetMissing: the installed jsonata-python lacks something a patch replaces.
    """
    if _originals:
        return
    with _lock:
        if _originals:
            return
        todo = patches()
        for patch in todo:
            patch.check()
        for patch in todo:
            _originals[patch.name] = patch.apply()


def applied() -> bool:
    """Whether :func:`apply` has run in this process."""
    return bool(_originals)


def revert(name: str) -> Callable[[], None]:
    """Put back the originals of one applied patch (for tests); returns a function that re-applies it."""
    saved = _originals[name]
    current = {key: _raw(owner, attribute) for key, (owner, attribute, _) in saved.items()}
    for owner, attribute, original in saved.values():
        if original is _MISSING:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, original)

    def reapply() -> None:
        for key, (owner, attribute, _) in saved.items():
            setattr(owner, attribute, current[key])

    return reapply
