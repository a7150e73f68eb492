"""JSONata as jsonata-js 2.0.6 (AWS's version) answers, where jsonata-python answered otherwise.

Each expected value or error was taken from jsonata-js 2.0.6 itself (``npm install jsonata@2.0.6``) and, where
one exists, matches the case of the official suite named in the comment.
"""

from __future__ import annotations

import pytest

from express_engine import errors
from express_engine.asl.jsonata import compile_template
from express_engine.jsonutil import Json


def ev(expression: str) -> Json:
    return compile_template("{% " + expression + " %}", "Output", "/States/S/Output").evaluate({"input": {}}, {})


def threw(expression: str) -> str:
    """The part of the cause after "threw an error during evaluation"."""
    with pytest.raises(errors.QueryEvaluationError) as info:
        ev(expression)
    cause = info.value.cause or ""
    prefix = f"The JSONata expression '{expression}' specified for the field 'Output' threw an error during evaluation"
    assert cause.startswith(prefix)
    return cause[len(prefix):]


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
