"""JSONata regex literals as JavaScript reads them, compiled by Python's ``re``.

jsonata-js builds a JavaScript ``RegExp`` (no ``u`` flag); jsonata-python hands the pattern text to ``re`` as it
is, where a few things mean something else or do not compile: ``\\d``, ``\\w`` and ``\\b`` are ASCII in
JavaScript and Unicode in Python; ``\\s`` is JavaScript's own set; ``.`` stops at every line terminator (``\\r``,
U+2028, U+2029, not only ``\\n``); ``$`` without ``m`` is the end of the text (Python's also matches before a last
``\\n``); ``\\y`` is ``y`` (Python: "bad escape"), ``[^]`` any character, ``[]`` nothing, ``\\cA`` a control
character, ``(?<name>...)`` and ``\\k<name>`` a named group. :func:`js_regex` translates those and is passed to
jsonata-python as its regex engine (its public ``regex_engine`` argument).
"""

from __future__ import annotations

import re

from jsonata.regex_engine import RegexFlags

__all__ = ["js_regex", "translate"]

_LINE_TERMINATORS = "\\n\\r\\u2028\\u2029"
_WORD = "A-Za-z0-9_"
_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_IN_CLASS = {"d": "0-9", "w": _WORD, "s": _SPACE}
_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "s": f"[{_SPACE}]",
            "S": f"[^{_SPACE}]",
            "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
            "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"}
# escapes that mean the same in both (the rest of a letter's escapes is the letter itself in JavaScript)
_SAME = set("DWSfnrtv0123456789") | set("^$\\.*+?()[]{}|/-")


def translate(pattern: str, multiline: bool) -> str:
    """The Python pattern that matches what the JavaScript pattern (without the ``u`` flag) matches."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            i += 2
            if in_class and e in _IN_CLASS:
                out.append(_IN_CLASS[e])
            elif not in_class and e in _OUTSIDE:
                out.append(_OUTSIDE[e])
            elif e == "b":  # in a class: backspace
                out.append("\\x08")
            elif e == "c" and i < n and pattern[i].isascii() and pattern[i].isalpha():
                out.append(f"\\x{ord(pattern[i]) % 32:02x}")
                i += 1
            elif e == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i:i + 2]):
                out.append("\\x" + pattern[i:i + 2])
                i += 2
            elif e == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", pattern[i:i + 4]):
                out.append("\\u" + pattern[i:i + 4])
                i += 4
            elif e == "k" and not in_class and (named := re.match(r"<([A-Za-z_][A-Za-z0-9_]*)>", pattern[i:])):
                out.append(f"(?P={named.group(1)})")
                i += named.end()
            elif e in _SAME:
                out.append("\\" + e)
            else:  # an identity escape: the character itself
                out.append(re.escape(e))
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[":
                c = "\\["  # a literal in JavaScript; Python warns of nested sets
            out.append(c)
        elif c == "[":
            if pattern.startswith("[^]", i):
                out.append("[\\s\\S]")
                i += 3
                continue
            if pattern.startswith("[]", i):
                out.append("(?!)")
                i += 2
                continue
            in_class = True
            out.append(c)
            if i + 1 < n and pattern[i + 1] == "^":
                out.append("^")
                i += 1
        elif c == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        elif c == "$":
            out.append(f"(?=[{_LINE_TERMINATORS}]|\\Z)" if multiline else "\\Z")
        elif c == "^" and multiline:
            out.append(f"(?:(?<=[{_LINE_TERMINATORS}])|\\A)")
        elif c == "(" and pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def js_regex(pattern: str, flags: RegexFlags) -> re.Pattern[str]:
    """jsonata-python's regex engine hook: the literal's pattern translated by :func:`translate`."""
    return re.compile(translate(pattern, flags.multiline), re.IGNORECASE if flags.case_insensitive else 0)
