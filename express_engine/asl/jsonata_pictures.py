"""jsonata-js's pictures and dates in jsonata-python: ``$formatInteger``, ``$parseInteger``, ``$fromMillis``,
``$now`` and ``$toMillis`` pictures.

jsonata-python ports jsonata-java's datetime code: its errors are Python ``KeyError``/``IndexError`` or uncoded
jsonata-java texts, and its dates are Python ``datetime`` values (years 1-9999). The replacements here (applied by
:mod:`.jsonata_patches` when the first expression is compiled) throw
jsonata-js's coded errors (D3130-D3136) and to compute as jsonata-js does where it returns a value instead
(``parseInt``, a JavaScript ``Date`` within ±8.64e15 ms, NaN components of an invalid date). The patches reach into
jsonata-python's internals, which is why ``pyproject.toml`` pins its minor version.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonata.datetimeutils import DateTimeUtils
from jsonata.jexception import JException

from .jsonata_numbers import js_number
from .jsonata_runaway import MEMORY, Runaway


def format_integer(value: Any, picture: Any) -> str | None:
    """``$formatInteger``: the value floored (not truncated), as a JavaScript double: words and digits of a number
    past 2^53 are those of the double (``1e46`` is "ten billion trillion trillion trillion", ``1e21`` "1e+21");
    NaN and Infinity format as jsonata-js formats them."""
    if value is None:
        return None
    spec = integer_picture(picture)
    if value != value:
        return _nan_integer(spec)
    try:
        number = float(value)
    except OverflowError:  # a whole number past the largest double is Infinity in JavaScript
        number = math.copysign(math.inf, value)
    if spec.primary is DateTimeUtils.Formats.WORDS:
        if math.isinf(number):
            raise RecursionError  # jsonata-js's numberToWords(Infinity) never reaches its base case
        words = number_to_words(abs(float(math.floor(number))), spec.ordinal)
        if spec.case_type is DateTimeUtils.TCase.UPPER:
            words = words.upper()
        elif spec.case_type is DateTimeUtils.TCase.LOWER:
            words = words.lower()
        return "-" + words if number < 0 else words
    if math.isinf(number):
        if spec.primary is DateTimeUtils.Formats.LETTERS:
            raise Runaway(MEMORY)  # jsonata-js's decimalToLetters(Infinity) grows a string for ever
        if spec.primary is DateTimeUtils.Formats.ROMAN:
            raise RecursionError
        return DateTimeUtils._format_integer(_JsText("Infinity", number < 0), spec)
    floored = math.floor(number)
    if abs(floored) >= 2 ** 53 and spec.primary is DateTimeUtils.Formats.DECIMAL:
        return DateTimeUtils._format_integer(_JsText(js_number(float(abs(floored))), floored < 0), spec)
    return DateTimeUtils._format_integer(floored, spec)


_FEW = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve",
        "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen")
_ORDINALS = ("Zeroth", "First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
             "Tenth", "Eleventh", "Twelfth", "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth", "Seventeenth",
             "Eighteenth", "Nineteenth")
_DECADES = ("Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred")
_MAGNITUDES = ("Thousand", "Million", "Billion", "Trillion")


def number_to_words(value: float, ordinal: bool) -> str:
    """jsonata-js's ``numberToWords``, computed in doubles as JavaScript computes it (jsonata-python mixed in
    Python's exact integers, so a number past 2^53 got the words of digits no double holds)."""
    return _lookup(value, False, ordinal)


def _lookup(num: float, prev: bool, ordinal: bool) -> str:
    if num <= 19:
        return (" and " if prev else "") + (_ORDINALS[int(num)] if ordinal else _FEW[int(num)])
    if num < 100:
        tens, remainder = math.floor(num / 10), math.fmod(num, 10)
        words = (" and " if prev else "") + _DECADES[tens - 2]
        if remainder > 0:
            return words + "-" + _lookup(remainder, False, ordinal)
        return words[:-1] + "ieth" if ordinal else words
    if num < 1000:
        hundreds, remainder = math.floor(num / 100), math.fmod(num, 100)
        words = (", " if prev else "") + _FEW[hundreds] + " Hundred"
    else:
        magnitude = min(math.floor(math.log10(num) / 3), len(_MAGNITUDES))  # "trillion" is the largest word
        factor = math.pow(10, magnitude * 3)
        mantissa = float(math.floor(num / factor))
        remainder = num - mantissa * factor
        words = (", " if prev else "") + _lookup(mantissa, False, False) + " " + _MAGNITUDES[magnitude - 1]
    if remainder > 0:
        return words + _lookup(remainder, True, ordinal)
    return words + "th" if ordinal else words


def parse_integer(value: Any, picture: Any) -> int | float | None:
    """``$parseInteger``: digits read by JavaScript's ``parseInt``; a word or numeral it does not know is NaN."""
    if value is None:
        return None
    try:
        return DateTimeUtils.parse_integer(value, picture)
    except KeyError:  # jsonata-js looks the word or letter up and computes with undefined
        return math.nan


# -- coded errors ------------------------------------------------------------------------------------------------
# jsonata-python raises jsonata-java's texts as RuntimeError from its datetimeutils module, some without their value
# (a "%s" template filled by str.format). Each text is replaced by its jsonata-js code and a "{}" for the value, and
# the module's RuntimeError builds the coded error from that.

PICTURE_ERRORS = {"ERR_MSG_SEQUENCE_UNSUPPORTED": "D3130", "ERR_MSG_DIFF_DECIMAL_GROUP": "D3131",
                   "ERR_MSG_UNKNOWN_COMPONENT_SPECIFIER": "D3132", "ERR_MSG_INVALID_NAME_MODIFIER": "D3133",
                   "ERR_MSG_TIMEZONE_FORMAT": "D3134", "ERR_MSG_NO_CLOSING_BRACKET": "D3135",
                   "ERR_MSG_MISSING_FORMAT": "D3136"}


def picture_error(text: str) -> JException:
    """The coded error for a rewritten picture error text (``D3132\\0Q``: code, then the value if any)."""
    code, has_value, value = text.partition("\0")
    return JException(code, -1, value if has_value else None)



class _UnknownComponent(dict[str, str]):
    """Default presentations: none for a component jsonata-js does not know (then D3132, not a KeyError)."""

    def __missing__(self, key: str) -> None:
        return None


def unknown_component_defaults(original: dict[str, str]) -> dict[str, str]:
    """The default presentations, with none for a component jsonata-js does not know."""
    return _UnknownComponent(original)


_SEQUENCE = DateTimeUtils.Formats.SEQUENCE


def integer_picture(picture: str) -> Any:
    """``analyseIntegerPicture``: a ``;`` that ends the picture is an empty modifier, not an IndexError."""
    return _analyse_integer(picture + " " if picture.endswith(";") else picture)


def datetime_picture(picture: str) -> Any:
    """``analyseDateTimePicture``: an empty marker ``[]`` has the unknown component "" (D3132); a name's width
    without a maximum (``[MNn,3]``) cuts nothing, where jsonata-python compared the length with None."""
    try:
        spec = _analyse_datetime(picture)
    except IndexError:
        raise JException("D3132", -1, "") from None
    for part in spec.parts:
        if part.names is not None and part.width is not None and part.width[1] is None:
            part.width = None
    return spec


def integer_matcher(component: str | None, spec: Any) -> Any:
    """``generateRegex`` of an integer picture: a sequence picture throws D3130 with its token."""
    if spec.primary is _SEQUENCE:
        raise JException("D3130", -1, spec.token)
    return _matcher_of(component, spec)


_REGEX_SPECIAL = re.compile(r"[.*+?^${}()|[\]\\]")


def picture_matcher(spec: Any) -> Any:
    """``generateRegex`` of a date/time picture, its literal text escaped as jsonata-js escapes it."""
    matcher = _generate_regex(spec)
    for part, matcher_part in zip(spec.parts, matcher.parts, strict=True):
        if part.type == "literal":
            matcher_part.regex = _REGEX_SPECIAL.sub(r"\\\g<0>", part.value)
    return matcher


def parse_decimal(self: Any, value: str) -> int | float:
    """A decimal integer as jsonata-js reads it: suffix and separators dropped, then JavaScript's ``parseInt``."""
    spec = self._format_spec
    digits = value[:-2] if spec.ordinal else value
    for separator in [","] if spec.regular else [separator.character for separator in spec.groupingSeparators]:
        digits = digits.replace(separator, "")
    if spec.zeroCode != 0x30:
        digits = "".join(chr(ord(char) - spec.zeroCode + 0x30) for char in digits)
    return _parse_int(digits)


# JavaScript's white space and line terminators, which parseInt skips
_PARSE_INT = re.compile("[\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*([-+]?[0-9]+)")


def _parse_int(text: str) -> int | float:
    """JavaScript's ``parseInt(text)``: the leading decimal digits (a double), NaN when there are none."""
    match = _PARSE_INT.match(text)
    if match is None:
        return math.nan
    number = int(match.group(1))
    return number if abs(number) < 1 << 53 else float(number)


def width(text: str | None) -> int | float | None:
    """A width modifier read by ``parseInt`` (NaN when not a number), ``*`` or none for no limit."""
    return None if text is None or text == "*" else _parse_int(text)


def lookup_name(self: Any, value: str) -> int | None:
    """A month, day or am/pm name jsonata-js does not know is undefined (the component is then not given)."""
    return self._lookup.get(value)


_analyse_integer = DateTimeUtils._analyse_integer_picture
_analyse_datetime = DateTimeUtils._analyse_datetime_picture
_matcher_of = DateTimeUtils._generate_regex_with_component
_generate_regex = DateTimeUtils._generate_regex


class _JsText:
    """A number as jsonata-js's ``_formatInteger`` writes its digits (``'' + value``): NaN, Infinity, or a double
    past 2^53 (``1e+21``); negative as told, its absolute value the same text."""

    __slots__ = ("_negative", "_text")

    def __init__(self, text: str, negative: bool = False) -> None:
        self._text = text
        self._negative = negative

    def __lt__(self, other: Any) -> bool:
        return self._negative

    def __abs__(self) -> _JsText:
        return _JsText(self._text)

    def __str__(self) -> str:
        return self._text


def _nan_integer(spec: Any) -> str:
    """``_formatInteger(NaN, spec)``: 'NaN' padded and grouped as digits; no letters or numerals; words recurse."""
    if spec.primary is DateTimeUtils.Formats.WORDS:
        raise RecursionError  # jsonata-js's numberToWords(NaN) never reaches its base case
    if spec.primary in (DateTimeUtils.Formats.LETTERS, DateTimeUtils.Formats.ROMAN):
        return ""
    return DateTimeUtils._format_integer(_JsText("NaN"), spec)


# -- $fromMillis and $now: a JavaScript Date -------------------------------------------------------------------

_DAY_MS = 86_400_000
_CYCLE_MS = 146_097 * _DAY_MS  # 400 Gregorian years: dates (and weekdays) repeat
_Y2K_MS = 946_684_800_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO8601_PICTURE = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]"
_COMPONENTS = frozenset("YMDdFWwXxHhmsfZzPCE")


class _Instant(datetime):
    """A date moved by whole 400-year cycles into Python's years 1-9999; ``years`` is added back to Y and X."""

    years = 0


def fragment(date: datetime, component: str) -> str:
    value = _fragment_of(date, component)
    return str(int(value) + date.years) if isinstance(date, _Instant) and component in "YX" else value


_fragment_of = DateTimeUtils._get_datetime_fragment


def from_millis(millis: Any, picture: Any, timezone_text: Any) -> str | None:
    """jsonata-js's ``formatDateTime``, for ``$fromMillis`` and ``$now``.

    The timezone is read by ``parseInt`` and split by floor division (``-0530`` is -6 h and -30 min, as in
    jsonata-js); the instant is a JavaScript Date: any year within ±8.64e15 ms, and outside that range or for a
    timezone that is not a number an invalid date, whose components read ``NaN``.
    """
    if millis is None:
        return None
    hours: float = 0
    minutes: float = 0
    if timezone_text is not None:
        offset = _parse_int(timezone_text)
        if offset != offset:
            hours = minutes = math.nan
        else:
            hours, minutes = math.floor(offset / 100), math.fmod(offset, 100)
    spec = _iso8601_spec() if picture is None else DateTimeUtils._analyse_datetime_picture(picture)
    instant = float(millis) + (60 * hours + minutes) * 60_000
    date: datetime | None = None
    if abs(instant) <= 8.64e15:  # false for NaN too
        cycles, ms = divmod(math.trunc(instant) - _Y2K_MS, _CYCLE_MS)
        date = _EPOCH + timedelta(milliseconds=_Y2K_MS + ms)
        if cycles:
            date = _Instant(*date.timetuple()[:6], date.microsecond, UTC)
            date.years = 400 * cycles
    offset_known = hours == hours
    if offset_known:
        hours, minutes = int(hours), int(minutes)
    out = []
    for part in spec.parts:
        if part.type == "literal":
            out.append(part.value)
        elif part.component not in _COMPONENTS:
            out.append("undefined")  # getDateTimeFragment has no value for it
        elif date is not None or (offset_known and part.component in "ZzPCE"):
            out.append(DateTimeUtils._format_component(date or _EPOCH, part, hours, minutes))
        else:
            out.append(_nan_component(part))
    return "".join(out)


@functools.cache
def _iso8601_spec() -> Any:
    return DateTimeUtils._analyse_datetime_picture(_ISO8601_PICTURE)


def _nan_component(part: Any) -> str:
    """``formatComponent`` of an invalid date (or, for Z and z, of a NaN offset)."""
    component = part.component
    if component in "Zz":
        spec = part.integerFormat
        digits = spec.mandatoryDigits
        if spec.regular or digits in (3, 4):
            text = _nan_integer(spec)
        elif digits in (1, 2):
            text = _nan_integer(spec) + ":NaN"
        else:
            raise JException("D3134", -1, digits)
        return "GMT" + text if component == "z" else text
    if component in "PCE":
        return "AM" if component == "P" and part.names is DateTimeUtils.TCase.UPPER else \
            "am" if component == "P" else "ISO"
    if part.names is not None:
        if component not in "MxF":
            raise JException("D3133", -1, component)
        if part.names is not DateTimeUtils.TCase.TITLE:  # months[NaN] is undefined
            method = "toUpperCase" if part.names is DateTimeUtils.TCase.UPPER else "toLowerCase"
            raise TypeError(f"Cannot read properties of undefined (reading '{method}')")
        if part.width is not None:
            raise TypeError("Cannot read properties of undefined (reading 'length')")
        return "undefined"
    return _nan_integer(part.integerFormat)
