"""Numbers as JavaScript writes and rounds them (``Number.prototype.toString``, jsonata-js's ``round``)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

__all__ = ["js_number", "js_round"]


def js_number(value: float | int) -> str:
    """``Number.prototype.toString()``: shortest round-trip digits, exponent form below 1e-6 and from 1e21."""
    if isinstance(value, int):
        if abs(value) < 1 << 53:
            return str(value)
        value = float(value)  # JavaScript only has doubles
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent  # the decimal point sits after this many digits
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    e = point - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def js_round(arg: float, precision: Any) -> float:
    """jsonata-js's ``round``: the decimal point moved in the number's text, ``Math.round``, ties to even."""
    if precision:  # JavaScript truthiness: 0 and NaN move nothing
        arg = _shift(arg, precision)
    result = float(arg)
    if math.isfinite(result):
        result = float(math.floor(result) + (1 if result - math.floor(result) >= 0.5 else 0))  # Math.round
        if abs(result - arg) == 0.5 and abs(math.fmod(result, 2)) == 1:
            result -= 1
    if precision:
        result = _shift(result, -precision)
    return result + 0.0  # no -0


def _shift(value: float, places: float) -> float:
    """``+(mantissa + 'e' + (exponent + places))`` on the JavaScript text of ``value``; NaN when it is no number."""
    # Python's repr has the same shortest digits as JavaScript's text, only in another notation
    mantissa, _, exponent = repr(float(value)).partition("e")
    try:
        return float(f"{mantissa}e{js_number(int(exponent or 0) + places)}")
    except ValueError:  # "infe2", "1e1e+21", "1e309.5": Number() of them is NaN
        return math.nan
