"""JavaScript behaviour jsonata-python lacks: number text, ``$string``, and the built-ins that let Python errors out.

AWS runs jsonata-js, so a number reads as JavaScript writes it (``1e20`` is ``100000000000000000000``, exponent
form from ``1e21`` and below ``1e-6``) and ``$string`` rounds numbers to 15 significant digits. Where
jsonata-python raises a bare Python error (``$number('x')``, ``$power(-1, 0.5)``, ``$toMillis('bad')``,
``$encodeUrlComponent`` of a lone surrogate) these functions throw jsonata-js's coded error instead (D3030,
D3061, D3110, D3140), so causes read ``... threw an error during evaluation. D3030: ...``; ``1/0`` is
JavaScript's Infinity. ``$sort``, ``$round``, ``$formatBase``, ``$sum``, ``$average``, ``$match`` and the picture
functions (``$formatInteger``, ``$formatNumber``, ``$parseInteger``, ``$fromMillis``, ``$now``, ``$toMillis``)
follow jsonata-js too: D3070, D3080-D3093, D3130-D3136, and NaN or a JavaScript Date where jsonata-js computes
one rather than throwing."""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.parser import Parser
from jsonata.signature import Signature
from jsonata.utils import Utils

from . import jsonata_pictures as pictures
from .jsonata_format_number import format_number
from .jsonata_numbers import js_number as js_number
from .jsonata_numbers import js_round as js_round

_NULL = Utils.NULL_VALUE


def signature_symbol(original: Callable[[Signature, Any], str]) -> Callable[[Signature, Any], str]:
    """``Signature.get_symbol`` typing a JSON null ``l`` when arguments are checked, as in jsonata-js.

    jsonata-python typed it ``m`` (missing), so ``$each(null, f)`` reached the function and failed with a
    Python error instead of T0410 (argument does not match the function signature). Applied by
    :mod:`.jsonata_patches`.
    """
    def get_symbol(self: Signature, value: Any) -> str:
        return "l" if value is _NULL else original(self, value)

    return get_symbol


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def js_string_literal(text: str) -> str:
    """``JSON.stringify`` of a string: non-ASCII kept, lone surrogates escaped (``"\\ud800"``)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _is_function(value: Any) -> bool:
    return isinstance(value, Jsonata.JFunctionCallable | Parser.Symbol)


def _stringify(value: Any, indent: str, level: int) -> str | None:
    """``JSON.stringify`` with jsonata-js's ``$string`` replacer; None where JavaScript has undefined."""
    if value is None:
        return None
    if value is _NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            if value != value:
                return "null"
            raise JException("D1001", -1, value)  # the replacer's isNumeric check (NaN passes: "null")
        return js_number(float(format(value, ".14e")))  # Number(value.toPrecision(15))
    if isinstance(value, str):
        return js_string_literal(value)
    if _is_function(value):
        return '""'
    inner = "\n" + indent * (level + 1) if indent else ""
    close = "\n" + indent * level if indent else ""
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [_stringify(item, indent, level + 1) or "null" for item in value]
        return "[" + inner + ("," + inner).join(items) + close + "]"
    if isinstance(value, dict):
        colon = ": " if indent else ":"
        pairs = []
        for key, item in value.items():
            text = _stringify(item, indent, level + 1)
            if text is not None:
                pairs.append(js_string_literal(str(key)) + colon + text)
        if not pairs:
            return "{}"
        return "{" + inner + ("," + inner).join(pairs) + close + "}"
    return "{}"  # a regex or other object: JSON.stringify sees no own enumerable properties


class JsFunctions:
    """Replacements bound over jsonata-python's built-ins of the same names (see :func:`bind`)."""

    @staticmethod
    def string(arg: Any, prettify: Any) -> str | None:
        """``$string``: strings unchanged, functions empty, everything else JSON with 15-digit numbers."""
        if isinstance(arg, Utils.JList) and arg.outer_wrapper:
            arg = arg[0]
        if arg is None:
            return None
        if isinstance(arg, str):
            return arg
        if _is_function(arg):
            return ""
        if isinstance(arg, int | float) and not isinstance(arg, bool) and not math.isfinite(arg):
            raise JException("D3001", -1, arg)
        return _stringify(arg, "  " if prettify is True else "", 0) or ""

    @staticmethod
    def number(arg: Any) -> int | float | None:
        """``$number``: decimal strings (no blanks, ``0x``/``0o``/``0b`` prefixes), booleans, numbers."""
        if arg is None:
            return None
        if arg is _NULL:
            raise JException("T0410", -1, 1, "number")
        if isinstance(arg, bool):
            return 1 if arg else 0
        if isinstance(arg, int | float):
            return arg
        if isinstance(arg, str):
            if _DECIMAL.match(arg):
                value = float(arg)
                if math.isfinite(value):
                    return value
            elif _PREFIXED.match(arg):
                return int(arg[2:], _RADIX[arg[1].lower()])
        raise JException("D3030", -1, arg)

    @staticmethod
    def power(arg: Any, exp: Any) -> float | None:
        """``$power``: a result JSON cannot hold (NaN, infinite) throws D3061."""
        if arg is None:
            return None
        try:
            result = math.pow(arg, exp)
        except (ValueError, ZeroDivisionError, OverflowError):
            result = math.nan
        if not math.isfinite(result):
            raise JException("D3061", -1, arg, exp)
        return result

    @staticmethod
    def round(arg: Any, precision: Any) -> float | None:
        """``$round``: jsonata-js's (huge or odd precisions give NaN or Infinity, not a Python error)."""
        return None if arg is None else js_round(arg, precision)

    @staticmethod
    def format_base(value: Any, radix: Any) -> str | None:
        """``$formatBase``: value and radix rounded as ``$round`` does, then ``Number.prototype.toString(radix)``."""
        if value is None:
            return None
        value = js_round(value, None)
        radix = 10 if radix is None else js_round(radix, None)
        if radix < 2 or radix > 36:
            raise JException("D3100", -1, radix)
        return _to_radix(value, int(radix))

    @staticmethod
    def to_millis(timestamp: Any, picture: Any) -> int | None:
        """``$toMillis``: without a picture, text that is not ISO 8601 throws D3110."""
        if timestamp is None:
            return None
        if picture is None and not _ISO8601.match(timestamp):
            raise JException("D3110", -1, timestamp)
        try:
            return Functions.datetime_to_millis(timestamp, picture)
        except (ValueError, OverflowError):
            if picture is None:
                raise JException("D3110", -1, timestamp) from None
            raise

    @staticmethod
    def sort(arr: Any, comparator: Any) -> Any:
        """``$sort``: jsonata-js's merge sort.

        Alone, it sorts only an array of numbers or of strings (strings by UTF-16 code units), else D3070;
        with a comparator, a pair is swapped when its result is truthy in JavaScript's sense.
        """
        if arr is None or len(arr) <= 1:
            return arr
        if comparator is None:
            if all(isinstance(item, str) for item in arr):
                return sorted(arr, key=_utf16)
            if all(_is_number(item) for item in arr):
                return sorted(arr)  # a total order: any stable sort agrees with jsonata-js's
            raise JException("D3070", -1)
        return _merge_sort(list(arr), lambda a, b: _js_truthy(Functions.func_apply(comparator, [a, b])))

    @staticmethod
    def sum(args: Any) -> float | None:
        """``$sum``: doubles added left to right; past the largest double it is Infinity, as in jsonata-js."""
        return None if args is None else _result_number(_double_sum(args))

    @staticmethod
    def average(args: Any) -> float | None:
        """``$average``: the double sum over the count (jsonata-python summed whole numbers exactly)."""
        return _result_number(_double_sum(args) / len(args)) if args else None

    @staticmethod
    def match(text: Any, regex: Any, limit: Any) -> Any:
        """``$match``: a limit beyond the possible matches is no limit (jsonata-python's islice refused 1e308); a
        regex that matches the empty string where it cannot progress throws D1004; a function that is no matcher
        T1010."""
        if limit is not None and text is not None and text is not _NULL and limit > len(text):
            limit = None
        if isinstance(text, str) and (limit is None or limit >= 0):
            if _is_function(regex):
                return _custom_match(text, regex, limit)
            _check_matcher(regex, text, "match", limit)
        return Functions.match_(text, regex, limit)

    @staticmethod
    def split(text: Any, separator: Any, limit: Any) -> Any:
        """``$split``: a regex separator follows jsonata-js's matcher (D1004, T1010), as in ``$match``."""
        if isinstance(text, str) and not isinstance(separator, str) and (limit is None or limit > 0):
            _check_matcher(separator, text, "split", None if limit is None else math.ceil(limit))
        return Functions.split(text, separator, limit)

    @staticmethod
    def replace(text: Any, pattern: Any, replacement: Any, limit: Any) -> str | None:
        """``$replace``: with a regex and a limit, at most ``limit`` matches of the text as given are replaced.

        jsonata-python replaced the first match of its own output ``limit`` times: a replacement that matched was
        replaced again, and a huge limit looped for ever.
        """
        if isinstance(text, str) and not isinstance(pattern, str) and (limit is None or limit >= 0):
            count = None if limit is None else min(math.ceil(limit), len(text) + 1)
            if _is_function(replacement) and hasattr(pattern, "search"):
                return text if count == 0 else _replace_with_function(text, pattern, replacement, count)
            _check_matcher(pattern, text, "replace", count)
        if isinstance(pattern, str) or limit is None or limit < 0 or text is None or text is _NULL:
            return Functions.replace(text, pattern, replacement, limit)
        # (jsonata-js counts matches while count < limit; a text has at most len + 1 of them)
        count = min(math.ceil(limit), len(text) + 1)
        return text if count == 0 else Functions.safe_replace_all(text, _FirstMatches(pattern, count), replacement)

    format_number = staticmethod(format_number)
    format_integer = staticmethod(pictures.format_integer)
    parse_integer = staticmethod(pictures.parse_integer)
    from_millis = staticmethod(pictures.from_millis)

    @staticmethod
    def now(picture: Any, timezone_text: Any) -> str:
        """``$now``: the evaluation's timestamp, written as ``$fromMillis`` writes it."""
        return pictures.from_millis(Jsonata.CURRENT.jsonata.timestamp, picture, timezone_text) or ""

    @staticmethod
    def encode_url_component(text: Any) -> str | None:
        return _encode(text, "encodeUrlComponent", "~()*!.'")

    @staticmethod
    def encode_url(text: Any) -> str | None:
        return _encode(text, "encodeUrl", "~@#$&()*!+=:;,.?/'")

    @staticmethod
    def decode_url_component(text: Any) -> str | None:
        return _decode(text, "decodeUrlComponent", "")

    @staticmethod
    def decode_url(text: Any) -> str | None:
        return _decode(text, "decodeUrl", ";/?:@&=+$,#")


# jsonata-js 2.0: /^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/, then Number() of 0x/0o/0b literals
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?\Z")
_PREFIXED = re.compile(r"0(?:[xX][0-9A-Fa-f]+|[oO][0-7]+|[bB][01]+)\Z")
_RADIX = {"x": 16, "o": 8, "b": 2}
# jsonata-js datetime.js
_ISO8601 = re.compile(r"\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?\Z")


_RADIX_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _to_radix(value: float, radix: int) -> str:
    """``Number.prototype.toString(radix)`` of a whole number (V8: digits past a double's precision are 0)."""
    if radix == 10 or not math.isfinite(value):
        return js_number(value)
    integer = abs(value)
    digits = []
    while integer / radix >= 2.0 ** 53:
        integer /= radix
        digits.append("0")
    while True:
        remainder = math.fmod(integer, radix)
        digits.append(_RADIX_DIGITS[int(remainder)])
        integer = (integer - remainder) / radix
        if integer <= 0:
            break
    return ("-" if value < 0 else "") + "".join(reversed(digits))


def _double_sum(numbers: Any) -> float:
    total = 0.0
    for number in numbers:
        try:
            total += float(number)
        except OverflowError:  # a whole number past the largest double
            total += math.copysign(math.inf, number)
    return total


def _result_number(value: float) -> Any:
    """A finite result as jsonata-python holds numbers (whole ones as int); Infinity as it is."""
    return Utils.convert_number(value) if math.isfinite(value) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utf16(text: str) -> bytes:
    """A key that orders strings as JavaScript's ``<`` does (by UTF-16 code units)."""
    return text.encode("utf-16-be", "surrogatepass")


def _js_truthy(value: Any) -> bool:
    """JavaScript truthiness: false, 0, NaN, '', null and undefined are false; arrays and objects true."""
    if value is None or value is _NULL:
        return False
    if isinstance(value, bool | int | float | str):
        return bool(value) and value == value
    return True


def _merge_sort(items: list[Any], swap: Callable[[Any, Any], bool]) -> list[Any]:
    """jsonata-js's ``msort``: split in halves, merge taking the right item first when ``swap(left, right)``."""
    if len(items) <= 1:
        return items
    middle = len(items) // 2
    left, right = _merge_sort(items[:middle], swap), _merge_sort(items[middle:], swap)
    merged: list[Any] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if swap(left[i], right[j]):
            merged.append(right[j])
            j += 1
        else:
            merged.append(left[i])
            i += 1
    return merged + left[i:] + right[j:]


def _regex_matches(pattern: Any, text: str, limit: int | None) -> list[re.Match[str]]:
    """The matches jsonata-js's regex matcher gives, each searched from the end of the one before (at most
    ``limit``): one found empty that way would never progress, which jsonata-js reports as D1004."""
    found: list[re.Match[str]] = []
    match = pattern.search(text)
    while match is not None and (limit is None or len(found) < limit):
        found.append(match)
        end = match.end()
        if end >= len(text):
            break
        match = pattern.search(text, end)
        if match is not None and match.start() == match.end():
            raise JException("D1004", -1, getattr(pattern, "pattern", None))
    return found


def _check_matcher(pattern: Any, text: str, name: str, limit: int | None) -> list[re.Match[str]]:
    """The regex's matches (see _regex_matches); a function that does not answer as a matcher throws T1010."""
    if hasattr(pattern, "search"):
        return _regex_matches(pattern, text, limit)
    if _is_function(pattern):
        answer = Functions.func_apply(pattern, [text])
        if answer is not None and not _is_match_answer(answer):
            raise _matcher_error(name)
    return []


def _is_match_answer(answer: Any) -> bool:
    return isinstance(answer, dict) and all(key in answer for key in ("match", "start", "end", "next"))


def _custom_match(text: str, matcher: Any, limit: Any) -> Any:
    """``$match`` with a function as the matcher: it answers ``{match, start, end, groups, next}`` (T1010 if not),
    and ``next()`` gives the following match, as jsonata-js drives it."""
    result = Utils.create_sequence()
    answer = Functions.func_apply(matcher, [text])
    while answer is not None and (limit is None or len(result) < limit):
        if not _is_match_answer(answer):
            raise _matcher_error("match")
        result.append({"match": answer["match"], "index": answer["start"], "groups": answer.get("groups")})
        answer = Functions.func_apply(answer["next"], [])
    return result


def _matcher_error(name: str) -> JException:
    error = JException("T1010", -1)
    error.current = name  # {{token}}: the function's name
    return error


def _replace_with_function(text: str, pattern: Any, function: Any, limit: int | None) -> str:
    """``$replace`` with a regex and a function, as jsonata-js's ``replace`` drives it: the function gets each
    match object (``match``, ``start``, ``end``, ``groups`` - the captures only -, ``next``) and must return a
    string (D3012); the next match is the one ``next()`` of the last gives, so a function calling ``next()``
    moves the search on (see :class:`_RegexMatcher`)."""
    matcher = _RegexMatcher(pattern, text)
    out: list[str] = []
    position = count = 0
    match = matcher.exec(0)
    while match is not None and (limit is None or count < limit):
        out.append(text[position:match["start"]])
        replaced = Functions.func_apply(function, [match])
        if not isinstance(replaced, str):
            raise JException("D3012", -1)
        out.append(replaced)
        position = match["start"] + len(match["match"])
        count += 1
        match = Functions.func_apply(match["next"], [])
    out.append(text[position:])
    return "".join(out)


class _RegexMatcher:
    """jsonata-js's ``evaluateRegex`` closure over one text: a global RegExp whose ``lastIndex`` every match's
    ``next()`` shares (a match is searched from the end of the last one found, by anyone)."""

    __slots__ = ("_pattern", "_text", "last_index")

    def __init__(self, pattern: Any, text: str) -> None:
        self._pattern = pattern
        self._text = text
        self.last_index = 0

    def exec(self, start: int) -> dict[str, Any] | None:
        found = self._pattern.search(self._text, start) if start <= len(self._text) else None
        if found is None:
            self.last_index = 0  # RegExp.prototype.exec resets lastIndex when nothing matches
            return None
        self.last_index = found.end()
        return {"match": found.group(0), "start": found.start(), "end": found.end(),
                "groups": list(found.groups()), "next": Jsonata.JLambda(self._following)}

    def _following(self, *_args: Any) -> dict[str, Any] | None:
        if self.last_index >= len(self._text):
            return None
        match = self.exec(self.last_index)
        if match is not None and match["match"] == "":  # it would never progress
            raise JException("D1004", -1, getattr(self._pattern, "pattern", None))
        return match


class _FirstMatches:
    """A compiled regex whose ``sub`` replaces only its first ``count`` matches (for jsonata-python's replace-all)."""

    __slots__ = ("_count", "_pattern")

    def __init__(self, pattern: Any, count: int) -> None:
        self._pattern = pattern
        self._count = count

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return self._pattern.sub(repl, string, self._count)


def _encode(text: Any, name: str, safe: str) -> str | None:
    """``encodeURIComponent`` / ``encodeURI``: a lone surrogate is a URIError, thrown as D3140."""
    if text is None:
        return None
    try:
        return urllib.parse.quote(text, safe=safe)
    except UnicodeEncodeError:
        raise JException("D3140", -1, name, text) from None


def _decode(text: Any, name: str, reserved: str) -> str | None:
    """``decodeURIComponent`` / ``decodeURI`` (which keeps escapes of ``reserved``); malformed input throws D3140."""
    if text is None:
        return None
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        first = _escaped_byte(text, i, name)
        length = 1 if first < 0x80 else 2 if 0xC0 <= first < 0xE0 else 3 if 0xE0 <= first < 0xF0 else \
            4 if 0xF0 <= first < 0xF8 else 0
        if length == 0:
            raise JException("D3140", -1, name, text)
        raw = bytes([first, *(_escaped_byte(text, i + 3 * n, name) for n in range(1, length))])
        try:
            char = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JException("D3140", -1, name, text) from None
        out.append(text[i:i + 3] if char in reserved else char)
        i += 3 * length
    return "".join(out)


def _escaped_byte(text: str, i: int, name: str) -> int:
    hex_digits = text[i + 1:i + 3]
    if text[i:i + 1] != "%" or len(hex_digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in hex_digits):
        raise JException("D3140", -1, name, text)
    return int(hex_digits, 16)


def divide(lhs: float, rhs: float, op: str) -> Any:
    """``/`` and ``%`` as JavaScript computes them: a zero divisor gives Infinity or NaN, not Python's
    ZeroDivisionError. As in jsonata-js, the value flows on: ``$string(1/0)`` throws D3001, ``1/0 + 1`` D1001
    (where an operand is checked), ``$exists(1/0)`` is true."""
    if rhs == 0:
        if op == "%" or lhs == 0 or lhs != lhs:
            return math.nan
        return math.copysign(math.inf, lhs) * math.copysign(1.0, rhs)
    return Utils.convert_number(lhs / rhs if op == "/" else math.fmod(lhs, rhs))


_SIGNATURES = (("string", "<x-b?:s>", "string"), ("number", "<(nsb)-:n>", "number"), ("power", "<n-n:n>", "power"),
               ("toMillis", "<s-s?:n>", "to_millis"), ("encodeUrlComponent", "<s-:s>", "encode_url_component"),
               ("encodeUrl", "<s-:s>", "encode_url"), ("decodeUrlComponent", "<s-:s>", "decode_url_component"),
               ("decodeUrl", "<s-:s>", "decode_url"), ("sort", "<af?:a>", "sort"),
               ("formatInteger", "<n-s:s>", "format_integer"), ("parseInteger", "<s-s:n>", "parse_integer"),
               ("fromMillis", "<n-s?s?:s>", "from_millis"), ("now", "<s?s?:s>", "now"),
               ("round", "<n-n?:n>", "round"), ("match", "<s-f<s:o>n?:a<o>>", "match"),
               ("sum", "<a<n>:n>", "sum"), ("average", "<a<n>:n>", "average"),
               ("replace", "<s-(sf)(sf)n?:s>", "replace"), ("split", "<s-(sf)n?:a<s>>", "split"),
               ("formatBase", "<n-n?:s>", "format_base"), ("formatNumber", "<n-so?:s>", "format_number"))


def bind(frame: Jsonata.Frame) -> None:
    """Bind the JavaScript-faithful built-ins in ``frame``, over jsonata-python's own."""
    for name, signature, method in _SIGNATURES:
        frame.bind(name, Jsonata.function(name, signature, JsFunctions, method))
