"""JSONata as jsonata-js 2.0.6 (AWS's version) answers, where jsonata-python answered otherwise.

Each expected value or error was taken from jsonata-js 2.0.6 itself (``npm install jsonata@2.0.6``) and, where
one exists, matches the case of the official suite named in the comment.
"""

from __future__ import annotations

import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.asl.jsonata_functions import TIMEOUT
from express_engine.jsonutil import Json

from .jsonata_helpers import ev, threw


def refused(expression: str) -> list[str]:
    """The INVALID_JSONATA_EXPRESSION messages (AWS drops the S0xxx code from them)."""
    with pytest.raises(errors.DefinitionError) as info:
        compile_template("{% " + expression + " %}", "Output", "/States/S/Output")
    assert {d.code for d in info.value.diagnostics} == {"INVALID_JSONATA_EXPRESSION"}
    return [d.message for d in info.value.diagnostics]


# -- parsing ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "message"), [
    ('"\\y"', 'Unsupported escape sequence: \\"y"'),  # S0103 (literals/case015), not S0301 (empty regex)
    ("'a\\qb'", 'Unsupported escape sequence: \\"q"'),
    ("$string(1e1000)", 'Number out of range: "1e1000"'),  # S0102 names the number
    ("1 /* open", "Comment has no closing tag"),  # S0106, not a Python IndexError
    ("[1!2]", 'Unknown operator: "!"'),  # S0204, not a Python KeyError
    ("/ab/ = //", "Empty regular expressions are not allowed"),  # a real S0301 stays one
])
def test_parse_errors_are_jsonata_js_errors(expression: str, message: str) -> None:
    assert refused(expression) == [message]


# -- partial application --------------------------------------------------------------------------------------

def test_partially_applying_a_builtin_name_without_its_dollar_is_t1007() -> None:
    # partial-application/case003; jsonata-python tested `proc is not None` and gave T1008
    from express_engine.asl import jsonata as ej

    analyze = ej._analyze  # AWS refuses the top-level field reference `substring` before it is evaluated
    ej._analyze = lambda root: _without_problems(analyze(root))
    try:
        assert threw("substring(?, 0, ?)") == (". T1007: Attempted to partially apply a non-function. "
                                               "Did you mean $substring?")
        assert threw("nothing(?, 0)") == ". T1008: Attempted to partially apply a non-function"
    finally:
        ej._analyze = analyze


def _without_problems(analysis: object) -> object:
    analysis.problems.clear()  # type: ignore[attr-defined]
    return analysis


def test_partial_application_still_applies() -> None:
    assert ev("$substring(?, 0, ?)('abcdef', 2)") == "ab"
    assert ev("($f := function($a, $b) {$a - $b}; $f(?, 1)(5))") == 4
    assert threw("$states.input(?, 1)") == ". T1008: Attempted to partially apply a non-function"


# -- $replace with a function ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    # the match object is {match, start, end, groups, next} (jsonata.js evaluateRegex); there is no index
    ("$replace('a1b22', /([0-9])+/, function($m) {$string($keys($m))})",
     'a["match","start","end","groups","next"]b["match","start","end","groups","next"]'),
    ("$replace('a1b22', /[0-9]+/, function($m) {$m.match & '@' & $string($m.start) & '-' & $string($m.end)})",
     "a1@1-2b22@3-5"),
    ("$replace('a1b22', /[0-9]+/, function($m) {'<' & $string($m.index) & '>'})", "a<>b<>"),
    ("$replace('x=1', /(\\w)=(\\d)/, function($m) {$m.groups[1] & $m.groups[0]})", "1x"),
    ("$replace('ab', /(x)?b/, function($m) {$string($m.groups)})", "a[null]"),
    # next() moves the one RegExp's lastIndex on: the match it found is not replaced
    ("$replace('a1b22c3', /[0-9]+/, function($m) {$exists($m.next()) ? 'y' : 'n'})", "ayb22cn"),
    ("$replace('aXbXc', /X/, function($m) {$string($m.next().start)}, 1)", "a3bXc"),
    ("$replace('abab', /b/, function($m) {$m.next() ? 'N' : 'E'})", "aNab"),
    ("$replace('abc', /b/, function($m) {'x'}, 0)", "abc"),
])
def test_replace_with_a_function_gets_jsonata_js_match_objects(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize(("expression", "tail"), [
    ("$replace('abc', /x*/, function($m) {'-'})", ". D1004: Regular expression matches zero length string"),
    ("$match('abc', /b*/)", ". D1004: Regular expression matches zero length string"),
    ("$split('abc', /x*/)", ". D1004: Regular expression matches zero length string"),
    ("$replace('abc', /b/, function($m) {1})", ". D3012: Attempted to replace a matched string with a non-string "
                                               "value"),
    ("$replace('abc', $uppercase, 'x')", '. T1010: The matcher function argument passed to function "replace" does '
                                         "not return the correct object structure"),
])
def test_regex_errors_are_jsonata_js_errors(expression: str, tail: str) -> None:
    assert threw(expression) == tail


# -- surrogate pairs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    ("$length('\\uD834\\uDD1E')", 1), ("'\\uD83D\\uDE00'", "\U0001F600"),
    ("$substring('\\uD83D\\uDE00x', 1)", "x"),  # the full evaluator, not only compiled closures
    ("{'e': '\\uD83D\\uDE00'}", {"e": "\U0001F600"}),
])
def test_surrogate_pair_escapes_are_one_character(expression: str, value: Json) -> None:
    assert ev(expression) == value


# -- $formatInteger words and $formatNumber -------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    ("$formatInteger(1e+46, 'w')", "ten billion trillion trillion trillion"),  # formatInteger.json[43]
    ("$formatInteger(-1e46, 'W')", "-TEN BILLION TRILLION TRILLION TRILLION"),
    ("$formatInteger(123456789012345678901, 'w')",
     "one hundred and twenty-three million, four hundred and fifty-six thousand, seven hundred and eighty-nine "
     "trillion, twelve billion, three hundred and forty-five million, six hundred and eighty-eight thousand and "
     "sixty-four"),  # the words of the double, as JavaScript computes them
    ("$formatInteger(1e15+3, 'Ww')", "One Thousand Trillion and Three"),
    ("$formatInteger(2e12, 'w;o')", "two trillionth"),
    ("$formatInteger(1234567, 'w')",
     "one million, two hundred and thirty-four thousand, five hundred and sixty-seven"),
    ("$formatInteger(1e21, '0')", "1e+21"), ("$formatInteger(2e53+2, '0')", "2e+53"),
    ("$formatInteger(1/0, '0')", "Infinity"), ("$formatInteger(-1/0, '000')", "-Infinity"),
    ("$formatInteger(5, '1;')", "5"),  # a ';' ending the picture is an empty modifier
])
def test_format_integer_computes_in_doubles(expression: str, value: Json) -> None:
    assert ev(expression) == value


@pytest.mark.parametrize(("expression", "value"), [
    ('$formatNumber(0.123, "#.e9")', '0.1e0'),
    ('$formatNumber(1234.5678, "#,##0.00")', '1,234.57'),
    ('$formatNumber(1234.5678, "00.000e0")', '12.346e2'),
    ('$formatNumber(0.234, "0.0e0")', '2.3e-1'),
    ('$formatNumber(0.234, "#.00e0")', '0.23e0'),
    ('$formatNumber(0.123, ".00e0")', '.12e0'),
    ('$formatNumber(0.14, "01%")', '14%'),
    ('$formatNumber(0.4857, "###.###‰")', '485.7‰'),
    ('$formatNumber(1234.5678, "#,###.##", {"decimal-separator": ",", "grouping-separator": "."})', '1234,567.8'),
    ('$formatNumber(-6, "000")', '-006'),
    ('$formatNumber(1234567.891, "#,##,###.##")', '12,34,567.89'),
    ('$formatNumber(12, "pre#suf")', 'pre12suf'),
    ('$formatNumber(-12.345, "#.00;(#.00)")', '(12.34)'),
    ('$formatNumber(1e21, "#")', '1e+21'),
    ('$formatNumber(1/0, "#")', 'Infinity'),
    ('$formatNumber(-1/0, "#,##0.00")', '-NaN.00'),
    ('$formatNumber(0/0, "#")', '-NaN'),
    ('$formatNumber(123.456, "0,00.0,00")', '1,23.4,56'),
    ('$formatNumber(2.5, "0")', '2'),
    ('$formatNumber(3.5, "0")', '4'),
    ('$formatNumber(1.005, "0.00")', '1.00'),
    ('$formatNumber(0, "0.00")', '0.00'),
    ('$formatNumber(-0.5, "0")', '-0'),
    ('$formatNumber(1234, "#0,000")', '1,234'),
    ('$formatNumber(98765.4321, "##0.###e0")', '9.877e4'),
    ('$formatNumber(0.000123, "0.00e00")', '1.23e-04'),
    ('$formatNumber(123456789, "0.0e0")', '1.2e8'),
    ('$formatNumber(5e-324, "0e0")', '5e-324'),
    ('$formatNumber(12345.6, "#,###,##0.0#")', '12,345.6'),
    ('$formatNumber(1, "#")', '1'),
    ('$formatNumber(0.5, "#")', '0'),
    ('$formatNumber(100, "#,##0;-#")', '100'),
    ('$formatNumber(-100, "#,##0;(#)")', '(100)'),
    ('$formatNumber(1e100, "#")', '1e+100'),
    ('$formatNumber(1e20, "#,###")', '100,000,000,000,000,000,000'),
    ('$formatNumber(34.555, "#0.00;(#0.00)")', '34.56'),
    ('$formatNumber(34.565, "#0.00")', '34.56'),
])
def test_format_number_is_jsonata_js(expression: str, value: Json) -> None:
    # (function-formatNumber/case014 is the first)
    assert ev(expression) == value


@pytest.mark.parametrize(("expression", "code"), [
    ('$formatNumber(20,"0,,0")', 'D3089'),
    ('$formatNumber(20,"#0.0e0,0")', 'D3093'),
    ('$formatNumber(1, "0.0.0")', 'D3081'),
    ('$formatNumber(1, "0%%")', 'D3082'),
    ('$formatNumber(1, "0‰‰")', 'D3083'),
    ('$formatNumber(1, "0%‰")', 'D3084'),
    ('$formatNumber(1, "0a0")', 'D3086'),
    ('$formatNumber(1, "0,.0")', 'D3087'),
    ('$formatNumber(1, "0,")', 'D3088'),
    ('$formatNumber(1, "0#")', 'D3090'),
    ('$formatNumber(1, ".#0")', 'D3091'),
    ('$formatNumber(1, "0e0%")', 'D3092'),
    ('$formatNumber(1, "0e")', 'D3093'),
    ('$formatNumber(1, "0;0;0")', 'D3080'),
    ('$formatNumber(1234.5, "#,##0.00", {"zero-digit": "\\u0660"})', 'D3086'),
])
def test_format_number_picture_errors_are_jsonata_js_codes(expression: str, code: str) -> None:
    # (function-formatNumber/case028 and case032 are the first two)
    assert threw(expression).startswith(f". {code}: ")


@pytest.mark.parametrize(("expression", "tail"), [
    ("$formatNumber(20, '0,,0')",
     ". D3089: The sub-picture must not contain two adjacent instances of the 'grouping-separator' character"),
    ("$formatNumber(20, '#0.0e0,0')", ". D3093: The exponent part of the sub-picture must comprise only of one or "
                                      "more characters that are members of the 'decimal digit family'"),
    ("$formatNumber(1, '0a0')", ". D3086: The sub-picture must not contain a passive character that is preceded "
                                "by an active character and that is followed by another active character"),
    ("$formatNumber(1, '.')", ". D3085: The mantissa part of a sub-picture must contain at least one character "
                              "that is either an 'optional digit character' or a member of the 'decimal digit "
                              "family'"),
])
def test_format_number_picture_errors_read_as_jsonata_js(expression: str, tail: str) -> None:
    assert threw(expression) == tail


def test_format_number_that_jsonata_js_never_finishes_is_a_timeout() -> None:
    # jsonata-js scales 0 towards the exponent picture's minimum for ever; AWS's time bound ends it
    assert threw("$formatNumber(0, '0e0')") == ": " + TIMEOUT
    assert threw("$formatNumber(-5, '0e0')") == ": " + TIMEOUT
    assert ev("$formatNumber(5e-324, '0e0')") == "5e-324"


# -- regex literals as JavaScript reads them -------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "value"), [
    ("$match('ay', /\\y/).match", "y"),  # an identity escape (Python: "bad escape \y")
    ("$exists($match('a\\nb\\n', /b$/))", False),  # $ is the end of the text, not before a last \n
    ("$exists($match('a\\rb', /a.b/))", False),  # . stops at every line terminator
    ("$match('a\\rb', /a$/m).match", "a"),
    ("$exists($match('x[]', /[]/))", False), ("$match('ab', /[^]b/).match", "ab"),
    ("$match('ab', /(?<n>a)\\k<n>?b/).groups", ["a"]),
    ("$replace('\u0663' & '4', /\\d/, '#')", "\u0663#"),  # \d is ASCII
    ("$exists($match('\u00e9', /\\w/))", False),  # \w is ASCII
    ("$match('a\u00a0b', /a\\sb/).match", "a\u00a0b"),  # \s is JavaScript's white space
    ("$match('x\u0001', /\\cA/).index", 1),
    ("$match('a-b', /[\\w-]+/).match", "a-b"), ("$split('a1b2c', /\\d/)", ["a", "b", "c"]),
    ("$match('ab\\ncd', /^c/m).index", 3), ("$replace('hello world', /\\bw/, 'W')", "hello World"),
    ("$contains('abc', /B/i)", True),
])
def test_regex_literals_match_as_in_javascript(expression: str, value: Json) -> None:
    assert ev(expression) == value
