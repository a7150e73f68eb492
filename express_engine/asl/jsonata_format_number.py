"""``$formatNumber`` as jsonata-js 2.0.6 computes it (its ``formatNumber``, XPath F&O 4.7, with its own quirks).

jsonata-python ports another implementation (elementpath's ``format-number``): it checks pictures in another
order and with other rules (``"0,,0"`` passed, ``"#0.0e0,0"`` was D3086, ``"#.e9"`` formatted ``.1e0``), writes
Infinity as ``∞`` and raises uncoded errors. This is jsonata-js's function, step for step, string indices and
all (``substring`` clamps and swaps its bounds, ``charAt`` out of range is empty), bound over jsonata-python's.
"""

from __future__ import annotations

import copy
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jsonata.jexception import JException

from .jsonata_numbers import js_number, js_round
from .jsonata_runaway import TIMEOUT, Runaway

_DEFAULTS = {"decimal-separator": ".", "grouping-separator": ",", "exponent-separator": "e",
             "infinity": "Infinity", "minus-sign": "-", "NaN": "NaN", "percent": "%", "per-mille": "\u2030",
             "zero-digit": "0", "digit": "#", "pattern-separator": ";"}


def _substring(text: str, start: int, end: int | None = None) -> str:
    """``String.prototype.substring``: bounds clamped to the text, swapped when the first is past the second."""
    end = len(text) if end is None else end
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    return text[min(start, end):max(start, end)]


def _char_at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else ""


def format_number(value: Any, picture: Any, options: Any) -> str | None:
    """``$formatNumber(value, picture, options?)``: jsonata-js's result and error codes (D3080-D3093)."""
    if value is None:
        return None
    props = dict(_DEFAULTS)
    if isinstance(options, dict):
        props.update(options)
    zero = ord(props["zero-digit"][0])
    digits = [chr(code) for code in range(zero, zero + 10)]
    digit_set = set(digits)
    active = set(digits) | {props["decimal-separator"], props["exponent-separator"], props["grouping-separator"],
                            props["digit"], props["pattern-separator"]}
    sub_pictures = picture.split(props["pattern-separator"])
    if len(sub_pictures) > 2:
        raise JException("D3080", -1)
    parts = [_split_parts(sub, props, active) for sub in sub_pictures]
    for part in parts:
        _validate(part, props, active, digit_set)
    variables = [_analyse(part, props, digit_set) for part in parts]
    minus_sign, zero_digit = props["minus-sign"], props["zero-digit"]
    decimal_separator, grouping_separator = props["decimal-separator"], props["grouping-separator"]
    if len(variables) == 1:
        variables.append(copy.deepcopy(variables[0]))
        variables[1]["prefix"] = minus_sign + variables[1]["prefix"]
    pic = variables[0] if value >= 0 else variables[1]
    if props["percent"] in pic["picture"]:
        adjusted = value * 100
    elif props["per-mille"] in pic["picture"]:
        adjusted = value * 1000
    else:
        adjusted = value
    exponent: int | None = None
    if pic["minimumExponentSize"] == 0:
        mantissa = adjusted
    else:
        max_mantissa = math.pow(10, pic["scalingFactor"])
        min_mantissa = math.pow(10, pic["scalingFactor"] - 1)
        mantissa, exponent = adjusted, 0
        if mantissa <= 0 or math.isinf(mantissa):  # jsonata-js scales it for ever: AWS's time bound ends that
            raise Runaway(TIMEOUT)
        while mantissa < min_mantissa:
            mantissa *= 10
            exponent -= 1
        while mantissa > max_mantissa:
            mantissa /= 10
            exponent += 1
    rounded = js_round(mantissa, pic["maximumFactionalPartSize"])

    def make_string(number: float, places: int) -> str:
        text = _to_fixed(abs(number), places)
        if zero_digit != "0":
            text = "".join(digits[ord(c) - 48] if "0" <= c <= "9" else c for c in text)
        return text

    text = make_string(rounded, pic["maximumFactionalPartSize"])
    text = text + decimal_separator if "." not in text else text.replace(".", decimal_separator, 1)
    while text[:1] == zero_digit:
        text = text[1:]
    while text[-1:] == zero_digit:
        text = text[:-1]
    point = text.find(decimal_separator)
    pad_left = pic["minimumIntegerPartSize"] - point
    pad_right = pic["minimumFactionalPartSize"] - (len(text) - point - 1)
    text = (zero_digit * pad_left if pad_left > 0 else "") + text + (zero_digit * pad_right if pad_right > 0 else "")
    point = text.find(decimal_separator)
    if pic["regularGrouping"] > 0:
        for group in range(1, math.floor((point - 1) / pic["regularGrouping"]) + 1):
            at = point - group * pic["regularGrouping"]
            text = _slice(text, 0, at) + grouping_separator + _slice(text, at)
    else:
        for position in pic["integerPartGroupingPositions"]:
            text = _slice(text, 0, point - position) + grouping_separator + _slice(text, point - position)
            point += 1
    point = text.find(decimal_separator)
    for position in pic["fractionalPartGroupingPositions"]:
        text = _slice(text, 0, position + point + 1) + grouping_separator + _slice(text, position + point + 1)
    point = text.find(decimal_separator)
    if decimal_separator not in pic["picture"] or point == len(text) - 1:
        text = text[:-1]
    if exponent is not None:
        exponent_text = make_string(exponent, 0)
        pad = pic["minimumExponentSize"] - len(exponent_text)
        if pad > 0:
            exponent_text = zero_digit * pad + exponent_text
        text = text + props["exponent-separator"] + (minus_sign if exponent < 0 else "") + exponent_text
    return str(pic["prefix"]) + text + str(pic["suffix"])


def _slice(text: str, start: int, end: int | None = None) -> str:
    """``String.prototype.slice``: negative bounds count from the end."""
    return text[slice(start if start >= 0 else max(0, len(text) + start),
                      None if end is None else (end if end >= 0 else max(0, len(text) + end)))]


def _to_fixed(number: float, places: int) -> str:
    """``Number.prototype.toFixed`` of a number not below 0: exact decimal rounding, ties away from zero; from
    1e21 (and for NaN, Infinity) the number's own text."""
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity"
    if number >= 1e21:
        return js_number(number)
    if places > 100:
        raise JException("D3080", -1)  # toFixed throws a RangeError; no picture the checks pass reaches it
    return format(Decimal(number).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def _split_parts(sub: str, props: dict[str, str], active: set[str]) -> dict[str, Any]:
    exponent_separator = props["exponent-separator"]
    prefix = next((sub[:i] for i, c in enumerate(sub) if c in active and c != exponent_separator), None)
    suffix = next((sub[i + 1:] for i in range(len(sub) - 1, -1, -1)
                   if sub[i] in active and sub[i] != exponent_separator), None)
    if prefix is None or suffix is None:  # jsonata-js reads .length of undefined: a TypeError, not a code
        raise JException("D3085", -1)
    active_part = _substring(sub, len(prefix), len(sub) - len(suffix))
    exponent_position = sub.find(exponent_separator, len(prefix))
    if exponent_position == -1 or exponent_position > len(sub) - len(suffix):
        mantissa_part, exponent_part = active_part, None
    else:
        mantissa_part = _substring(active_part, 0, exponent_position)
        exponent_part = _substring(active_part, exponent_position + 1)
    decimal_position = mantissa_part.find(props["decimal-separator"])
    if decimal_position == -1:
        integer_part, fractional_part = mantissa_part, suffix
    else:
        integer_part = _substring(mantissa_part, 0, decimal_position)
        fractional_part = _substring(mantissa_part, decimal_position + 1)
    return {"prefix": prefix, "suffix": suffix, "activePart": active_part, "mantissaPart": mantissa_part,
            "exponentPart": exponent_part, "integerPart": integer_part, "fractionalPart": fractional_part,
            "subpicture": sub}


def _validate(parts: dict[str, Any], props: dict[str, str], active: set[str], digits: set[str]) -> None:
    """F&O 4.7.3 as jsonata-js checks it: every rule is tried and the last one broken gives the code."""
    error = None
    sub = parts["subpicture"]
    decimal, grouping, digit = props["decimal-separator"], props["grouping-separator"], props["digit"]
    percent, per_mille = props["percent"], props["per-mille"]
    decimal_position = sub.find(decimal)
    if decimal_position != sub.rfind(decimal):
        error = "D3081"
    if sub.find(percent) != sub.rfind(percent):
        error = "D3082"
    if sub.find(per_mille) != sub.rfind(per_mille):
        error = "D3083"
    if percent in sub and per_mille in sub:
        error = "D3084"
    if not any(c in digits or c == digit for c in parts["mantissaPart"]):
        error = "D3085"
    if any(c not in active for c in parts["activePart"]):
        error = "D3086"
    integer_part, fractional_part = parts["integerPart"], parts["fractionalPart"]
    if decimal_position != -1:
        if grouping in (_char_at(sub, decimal_position - 1), _char_at(sub, decimal_position + 1)):
            error = "D3087"
    elif _char_at(integer_part, len(integer_part) - 1) == grouping:
        error = "D3088"
    if grouping + grouping in sub:
        error = "D3089"
    optional = integer_part.find(digit)
    if optional != -1 and any(c in digits for c in integer_part[:optional]):
        error = "D3090"
    optional = fractional_part.rfind(digit)
    if optional != -1 and any(c in digits for c in fractional_part[optional:]):
        error = "D3091"
    exponent_part = parts["exponentPart"]
    if exponent_part is not None and exponent_part and (percent in sub or per_mille in sub):
        error = "D3092"
    if exponent_part is not None and (not exponent_part or any(c not in digits for c in exponent_part)):
        error = "D3093"
    if error is not None:
        raise JException(error, -1)


def _analyse(parts: dict[str, Any], props: dict[str, str], digits: set[str]) -> dict[str, Any]:
    """F&O 4.7.4 as jsonata-js analyses a sub-picture."""
    grouping, digit = props["grouping-separator"], props["digit"]
    integer_part, fractional_part = parts["integerPart"], parts["fractionalPart"]

    def grouping_positions(part: str, to_left: bool) -> list[int]:
        positions = []
        position = part.find(grouping)
        while position != -1:
            side = part[:position] if to_left else part[position:]
            positions.append(sum(1 for c in side if c in digits or c == digit))
            position = integer_part.find(grouping, position + 1)  # (sic: jsonata-js searches the integer part)
        return positions

    integer_positions = grouping_positions(integer_part, False)
    minimum_integer = sum(1 for c in integer_part if c in digits)
    scaling_factor = minimum_integer
    minimum_fraction = sum(1 for c in fractional_part if c in digits)
    maximum_fraction = sum(1 for c in fractional_part if c in digits or c == digit)
    exponent_present = parts["exponentPart"] is not None
    if minimum_integer == 0 and maximum_fraction == 0:
        if exponent_present:
            minimum_fraction = maximum_fraction = 1
        else:
            minimum_integer = 1
    if exponent_present and minimum_integer == 0 and digit in integer_part:
        minimum_integer = 1
    if minimum_integer == 0 and minimum_fraction == 0:
        minimum_fraction = 1
    minimum_exponent = sum(1 for c in parts["exponentPart"] if c in digits) if exponent_present else 0
    return {"integerPartGroupingPositions": integer_positions, "regularGrouping": _regular(integer_positions),
            "minimumIntegerPartSize": minimum_integer, "scalingFactor": scaling_factor, "prefix": parts["prefix"],
            "fractionalPartGroupingPositions": grouping_positions(fractional_part, True),
            "minimumFactionalPartSize": minimum_fraction, "maximumFactionalPartSize": maximum_fraction,
            "minimumExponentSize": minimum_exponent, "suffix": parts["suffix"], "picture": parts["subpicture"]}


def _regular(indexes: list[int]) -> int:
    """The interval of evenly spaced grouping positions, or 0."""
    if not indexes:
        return 0
    factor = 0
    for index in indexes:
        factor = math.gcd(factor, index)
    for n in range(1, len(indexes) + 1):
        if n * factor not in indexes:
            return 0
    return factor
