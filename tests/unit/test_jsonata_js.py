"""JSONata built-ins and operators behave as jsonata-js (which AWS runs), not as Python would."""

from __future__ import annotations

import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.asl.jsonata_js import js_number
from express_engine.jsonutil import Json

from .jsonata_helpers import ev, threw

# -- number text -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e300, "1.5e+300"), (123.0, "123"), (0.1, "0.1"),
    (1e-6, "0.000001"), (1e-7, "1e-7"), (-1.25e-7, "-1.25e-7"), (0.30000000000000004, "0.30000000000000004"),
    (-0.0, "0"), (5, "5"), (2**60, "1152921504606847000"), (float("inf"), "Infinity"),
])
def test_numbers_read_as_javascript_writes_them(value: float, text: str) -> None:
    assert js_number(value) == text


@pytest.mark.parametrize(("expression", "text"), [
    ("$string(1e20)", "100000000000000000000"),
    ("$string(1e21)", "1e+21"),
    ("$string(1e-7)", "1e-7"),
    ("$string(0.1 + 0.2)", "0.3"),  # 15 significant digits
    ("$string(1/3)", "0.333333333333333"),
    ("$string(123456789012345678)", "123456789012346000"),
    ("$string([0.1 + 0.2, 1e20, {'é': 'ü', 'n': null}])", '[0.3,100000000000000000000,{"é":"ü","n":null}]'),
    ("$string({'a': [1, {'b': 2}], 'c': {}}, true)",
     '{\n  "a": [\n    1,\n    {\n      "b": 2\n    }\n  ],\n  "c": {}\n}'),
    ("$string(function(){1})", ""),
    ("'n=' & 1e20", "n=100000000000000000000"),
    ("'n=' & (0.1 + 0.2)", "n=0.3"),
])
def test_string_conversion_follows_jsonata_js(expression: str, text: str) -> None:
    assert ev(expression) == text


# -- errors jsonata-python let out as Python exceptions -----------------------------------------------------

@pytest.mark.parametrize(("expression", "tail"), [
    ("$number('not-a-number')", '. D3030: Unable to cast value to a number: "not-a-number"'),
    ("$number('  12 ')", '. D3030: Unable to cast value to a number: "  12 "'),  # no blanks in jsonata-js
    ("$number('')", '. D3030: Unable to cast value to a number: ""'),
    ("$number('1e999')", '. D3030: Unable to cast value to a number: "1e999"'),
    # jsonata-js 2.0.6 computes 1/0 as Infinity without throwing; a result JSON cannot hold fails with its D1001
    ("1/0", ". D1001: Number out of range: null"),
    ("{'a': [1/0]}", ". D1001: Number out of range: null"),
    # ... and Infinity flows on, as in jsonata-js: $string throws D3001 for it (functions.js string(): "typeof arg
    # === 'number' && !isFinite(arg)"; suite case function-string/case019), an operand check D1001 (utils.js
    # isNumeric), a JSON.stringify inside $string D1001 (function-string/case020); NaN there is written null
    ("$string(1/0)", ". D3001: Attempting to invoke string function on Infinity or NaN"),
    ("$string(-1/0)", ". D3001: Attempting to invoke string function on Infinity or NaN"),
    ("$string(0/0)", ". D3001: Attempting to invoke string function on Infinity or NaN"),
    ("'a' & 1/0", ". D3001: Attempting to invoke string function on Infinity or NaN"),
    ("1/0 + 1", ". D1001: Number out of range: null"),
    ("$string({'inf': 1/0})", ". D1001: Number out of range: null"),
    ("0/0 + 1", '. T2001: The left side of the "+" operator must evaluate to a number'),
    ("$power(-1, 0.5)", ". D3061: The power function has resulted in a value that cannot be represented as a "
                        "JSON number: base=-1, exponent=0.5"),
    ("$power(10, 400)", ". D3061: The power function has resulted in a value that cannot be represented as a "
                        "JSON number: base=10, exponent=400"),
    ("$toMillis('bad')", ". D3110: The argument of the toMillis function must be an ISO 8601 formatted timestamp. "
                         'Given "bad"'),
    ("$toMillis('2020-13-01')", ". D3110: The argument of the toMillis function must be an ISO 8601 formatted "
                                'timestamp. Given "2020-13-01"'),
    ("$encodeUrlComponent('\\uD800')", '. D3140: Malformed URL passed to $encodeUrlComponent(): "\\ud800"'),
    ("$encodeUrl('\\uDC00')", '. D3140: Malformed URL passed to $encodeUrl(): "\\udc00"'),
    ("$decodeUrlComponent('%')", '. D3140: Malformed URL passed to $decodeUrlComponent(): "%"'),
    ("$decodeUrl('%E0%A4%A')", '. D3140: Malformed URL passed to $decodeUrl(): "%E0%A4%A"'),
])
def test_failures_throw_jsonata_js_coded_errors(expression: str, tail: str) -> None:
    assert threw(expression) == tail


@pytest.mark.parametrize(("expression", "value"), [
    ("$number('012')", 12), ("$number('-1.5e3')", -1500), ("$number('0x1F')", 31), ("$number('0X1f')", 31),
    ("$number('0b101')", 5), ("$number('0o17')", 15), ("$number(true)", 1), ("$number(2.5)", 2.5),
    ("$power(2, 10)", 1024), ("$power(4, 0.5)", 2),
    ("5.5 % 2", 1.5), ("-5.5 % 2", -1.5), ("10 / 4", 2.5), ("6 / 2", 3),
    ("$toMillis('2020-01-01')", 1577836800000), ("$toMillis('2020-01-01T10:00:00.5+01:00')", 1577869200500),
    ("$toMillis('2018', '[Y]')", 1514764800000),
    ("$encodeUrlComponent('a b/é?')", "a%20b%2F%C3%A9%3F"), ("$encodeUrl('a b/é?')", "a%20b/%C3%A9?"),
    ("$decodeUrlComponent('%41%C3%A9%2F')", "Aé/"), ("$decodeUrl('%41%C3%A9%2F%3f')", "Aé%2F%3f"),
])
def test_valid_arguments_still_work(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize(("expression", "value"), [
    ("$exists(1/0)", True), ("$count([1/0, 0/0])", 2), ("1/0 = 1/0", True), ("0/0 = 0/0", False),
    ("1/0 > 1e308", True), ("$string([0/0])", "[null]"), ("1/0 in [1/0]", True),
])
def test_infinity_flows_on_as_in_jsonata_js(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize("expression", ["$each(null, function($v, $k) {$k})", "$sift(null, function($v) {$v})",
                                        "$toMillis(null)", "$length(null)"])
def test_null_is_not_a_missing_argument(expression: str) -> None:
    name = expression[1:expression.index("(")]
    assert threw(expression) == f'. T0410: Argument 1 of function "{name}" does not match function signature'


def test_null_still_passes_where_any_value_does() -> None:
    assert ev("$string(null)") == "null"
    assert ev("$exists(null)") is True
    assert ev("$type(null)") == "null"


# -- $sort --------------------------------------------------------------------------------------------------

_D3070 = (". D3070: The single argument form of the sort function can only be applied to an array of strings or an "
          "array of numbers.  Use the second argument to specify a comparison function")


@pytest.mark.parametrize("expression", ["$sort([1, 'a'])", "$sort([null, 1])", "$sort([true, false])",
                                        "$sort([[2], [1]])", "$sort([{'a': 1}, {'a': 0}])"])
def test_sort_alone_takes_only_numbers_or_strings(expression: str) -> None:
    assert threw(expression) == _D3070


@pytest.mark.parametrize(("expression", "value"), [
    ("$sort([3, 1, 2.5])", [1, 2.5, 3]), ("$sort(['b', 'a'])", ["a", "b"]), ("$sort(['x'])", ["x"]),
    ("$sort(['\uff5e', '\U0001F600'])", ["\U0001F600", "\uff5e"]),  # UTF-16 code units, not code points
    # a comparator's result swaps a pair when truthy, through jsonata-js's merge sort
    ("$sort([3, 1, 2], function($a, $b) {$a - $b})", [2, 1, 3]),
    ("$sort([1, 'a'], function($a, $b) {$a})", ["a", 1]),
    ("$sort([3, 1, 2], function($a, $b) {''})", [3, 1, 2]),
    ("$sort([3, 1, 2], function($a, $b) {[]})", [2, 1, 3]),
    ("$sort([{'k': 1, 'i': 0}, {'k': 1, 'i': 1}, {'k': 0, 'i': 2}], function($a, $b) {$a.k > $b.k}).i", [2, 0, 1]),
])
def test_sort_follows_jsonata_js(expression: str, value: Json) -> None:
    assert ev(expression) == value


# -- integer and date/time pictures -------------------------------------------------------------------------

_NO_CLOSING_BRACKET = ". D3135: No matching closing bracket ']' in date/time picture string"


@pytest.mark.parametrize(("expression", "tail"), [
    ("$formatInteger(12, 'x')", '. D3130: Formatting or parsing an integer as a sequence starting with "x" is not '
                                "supported by this implementation"),
    ("$parseInteger('12', 'x')", '. D3130: Formatting or parsing an integer as a sequence starting with "x" is not '
                                 "supported by this implementation"),
    ("$toMillis('2020', '[Y#]')", '. D3130: Formatting or parsing an integer as a sequence starting with "#" is not '
                                  "supported by this implementation"),
    ("$formatInteger(1, '0\u0661')", ". D3131: In a decimal digit pattern, all digits must be from the same decimal "
                                     "group"),
    ("$fromMillis(0, '[Q]')", '. D3132: Unknown component specifier "Q" in date/time picture string'),
    ("$now('[Q]')", '. D3132: Unknown component specifier "Q" in date/time picture string'),
    ("$toMillis('1', '[Q]')", '. D3132: Unknown component specifier "Q" in date/time picture string'),
    ("$fromMillis(0, '[]')", '. D3132: Unknown component specifier "" in date/time picture string'),
    ("$fromMillis(0, '[dNn]')", ". D3133: The 'name' modifier can only be applied to months and days in the "
                                'date/time picture string, not "d"'),
    ("$fromMillis(0, '[Z#]')", ". D3134: The timezone integer format specifier cannot have more than four digits"),
    ("$fromMillis(0, '[H')", _NO_CLOSING_BRACKET),
    ("$now('[Y', '')", _NO_CLOSING_BRACKET),  # a timezone that is no number is not an error (see below)
])
def test_picture_errors_are_coded(expression: str, tail: str) -> None:
    assert threw(expression) == tail


@pytest.mark.parametrize(("expression", "value"), [
    # $parseInteger reads digits with JavaScript's parseInt
    ("$parseInteger('12abc', '0')", 12), ("$parseInteger(' 12', '0')", 12), ("$parseInteger('1_000', '0')", 1),
    ("$parseInteger('1,234', '#,##0')", 1234), ("$parseInteger('12th', '0;o')", 12),
    ("$parseInteger('xvi', 'i')", 16), ("$parseInteger('99999999999999999999', '0')", 1e20),
    ("$formatInteger($parseInteger('abc', '0'), '000')", "NaN"),
    # $formatInteger floors, and a picture may end with ';'
    ("$formatInteger(-1.5, '0')", "-2"), ("$formatInteger(1, '#0;')", "1"),
    # $toMillis: the picture's literal text is literal; an unknown name leaves its component out
    ("$toMillis('2020.01.01', '[Y].[M].[D]')", 1577836800000),
    ("$toMillis('January 2020', '[MNn,3] [Y]')", 1577836800000),
    ("$fromMillis(0, '[MNn,3] [FNn,2]')", "January Thursday"),
])
def test_integer_and_date_pictures_follow_jsonata_js(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize("expression", ["$parseInteger('abc', '#0')", "$parseInteger('', '0')",
                                        "$parseInteger('foo', 'w')", "$parseInteger('xyz', 'I')",
                                        "7 % 0", "0/0"])  # JavaScript's % and / give NaN: no error in jsonata-js
def test_no_number_is_nan(expression: str) -> None:
    with pytest.raises(errors.QueryEvaluationError, match="returned an unsupported result type"):
        ev(expression)
    assert threw(expression + " + 1") == '. T2001: The left side of the "+" operator must evaluate to a number'


@pytest.mark.parametrize(("expression", "value"), [
    ("$toMillis('2020.01.01', '[Y]+[M]+[D]')", None), ("$toMillis('2020x01x01', '[Y].[M].[D]')", None),
])
def test_to_millis_picture_literals_are_not_regular_expressions(expression: str, value: None) -> None:
    with pytest.raises(errors.QueryEvaluationError, match="returned nothing"):
        ev(expression)


@pytest.mark.parametrize(("expression", "value"), [
    # a JavaScript Date: years beyond 1..9999 ([Y0001] keeps the last four digits, as jsonata-js does)
    ("$fromMillis(8.64e15)", "5760-09-13T00:00:00.000Z"), ("$fromMillis(-8.64e15)", "-1821-04-20T00:00:00.000Z"),
    ("$fromMillis(-1e14)", "-1199-02-15T14:13:20.000Z"), ("$fromMillis(-62135596800001)", "0000-12-31T23:59:59.999Z"),
    ("$fromMillis(1e15, '[Y]')", "33658"), ("$fromMillis(-1.5)", "1969-12-31T23:59:59.999Z"),
    # outside ±8.64e15 ms, or with a timezone parseInt cannot read, every component is NaN
    ("$fromMillis(1e308)", "0NaN-NaN-NaNTNaN:NaN:NaN.NaNZ"),
    ("$fromMillis(8.64e15 + 1)", "0NaN-NaN-NaNTNaN:NaN:NaN.NaNZ"),
    ("$fromMillis(0, (), 'bad')", "0NaN-NaN-NaNTNaN:NaN:NaN.NaN0N:aN"),
    ("$fromMillis(0, '[Y]', '')", "NaN"), ("$now('[Y]', 'bad')", "NaN"),
    ("$fromMillis(1e308, '[M01o] [Ya] [MNn] [Z0] [z] [P] [C] [D\u0661]', 'x')",
     "NaNth  undefined NaN:NaN GMT0N:aN am ISO \u067e\u0691\u067e"),
    ("$fromMillis(1e308, '[Z] [Z0101t]')", "+00:00 Z"),
    # the timezone is parseInt's number, split by floor division
    ("$fromMillis(0, (), '12abc')", "1970-01-01T00:12:00.000+00:12"),
    ("$fromMillis(0, (), '-0530')", "1969-12-31T17:30:00.000-06:30"),
    ("$fromMillis(0, (), '+0530')", "1970-01-01T05:30:00.000+05:30"),
    ("$fromMillis(0, '[Q1]')", "undefined"),
])
def test_from_millis_formats_a_javascript_date(expression: str, value: str) -> None:
    assert ev(expression) == value


def test_invalid_date_names_fail_as_in_jsonata_js() -> None:
    assert threw("$fromMillis(1e308, '[FN]')") == ": Cannot read properties of undefined (reading 'toUpperCase')"
    assert threw("$fromMillis(1e308, '[dN]')") == (". D3133: The 'name' modifier can only be applied to months and "
                                                   'days in the date/time picture string, not "d"')


# -- $round and $formatBase ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    ("$round(1e308, -1)", 1e308), ("$round(-2.5)", -2), ("$round(2.675, 2)", 2.68), ("$round(1.005, 2)", 1),
    ("$formatBase(1e21)", "1e+21"), ("$formatBase(-5, 1.5)", "-101"),  # the radix rounds (half to even) to 2
    ("$formatBase(2e20, 16)", "ad78ebc5ac6200000"),
    ("$formatBase(1e20, 7)", "344015313561621001540000"),  # digits past a double's precision are 0
    ("$length($formatBase(1e308, 2))", 1024), ("$substring($formatBase(1e308, 2), 0, 20)", "10001110011001111001"),
    ("$substring($formatBase(1e308, 3), 0, 36)", "121020221011020021221200100112200100"),
])
def test_round_and_format_base_follow_jsonata_js(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize("expression", ["$round(1e308, 2)", "$round(1e308, 1.5)", "$round(12.5, 1e308)"])
def test_round_past_the_largest_double_is_nan(expression: str) -> None:
    with pytest.raises(errors.QueryEvaluationError, match="returned an unsupported result type"):
        ev(expression)


# -- $replace, $match, $sum, $average -----------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "tail"), [
    ("$replace('abc', '', 'x')", ". D3010: Second argument of replace function cannot be an empty string"),
    ("$replace('abc', 'a', 'x', -1)", ". D3011: Fourth argument of replace function must evaluate to a positive "
                                      "number"),
    # jsonata-js returns Infinity; the engine fails an infinite number as it does for 1/0
    ("$sum([1e308, 1e308])", ". D1001: Number out of range: null"),
    ("$average([1e308, 1e308])", ". D1001: Number out of range: null"),
    ("$sum([1e308, 1e308, -1e308])", ". D1001: Number out of range: null"),  # Infinity - 1e308 (was exact)
])
def test_more_failures_throw_jsonata_js_coded_errors(expression: str, tail: str) -> None:
    assert threw(expression) == tail


@pytest.mark.parametrize(("expression", "value"), [
    ("$match('abcab', /a/, 1e308).index", [0, 3]), ("$match('abcab', /a/, 1.5).index", [0, 3]),
    ("$match('abcab', /a/, 1).index", 0),
    ("$sum([0.1, 0.2])", 0.30000000000000004), ("$sum([1, 2])", 3), ("$sum([])", 0),
    ("$average([1, 2])", 1.5), ("$average([1e308, -1e308])", 0),
])
def test_match_sum_and_average_follow_jsonata_js(expression: str, value: Json) -> None:
    assert ev(expression) == value


def test_a_whole_number_past_the_largest_double_is_an_unsupported_result() -> None:
    template = compile_template("{% $states.input.n %}", "Output", "/States/S/Output")
    with pytest.raises(errors.QueryEvaluationError, match="returned an unsupported result type"):
        template.evaluate({"input": {"n": 10**400}}, {})


# -- $replace with a regex and a limit ---------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    # values from jsonata-js 2.0.6
    ("$replace('aaa', /a/, 'b', 1e308)", "bbb"),  # was an endless loop (one replacement per count up to the limit)
    ("$replace('ab', /a/, 'aa', 2)", "aab"),  # matches of the text as given, not of the replaced output
    ("$replace('abcabc', /(b)(c)/, '[$2$1]', 1)", "a[cb]abc"),
    ("$replace('aaa', /a/, 'b', 0)", "aaa"),
    ("$replace('aaa', /a/, 'b', 1.5)", "bba"),
    ("$replace('aaa', /a/, function($m){$uppercase($m.match) & '!'}, 2)", "A!A!a"),  # a function was made text
])
def test_replace_with_a_regex_and_a_limit_follows_jsonata_js(expression: str, value: str) -> None:
    assert ev(expression) == value
