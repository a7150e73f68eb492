"""Compiled JSONata closures (express_engine.asl.jsonata_closures) against jsonata-js 2.0.6's own suite, and in use.

Every suite case whose expression compiles is evaluated by the closures alone, with the case's input as the
context: each answer they give (rather than bailing to the full evaluator) must be jsonata-js's.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonata import Jsonata

from express_engine.asl import jsonata as ej
from express_engine.asl.jsonata_closures import UNDEFINED, Bail, compile_closure
from express_engine.asl.jsonata_functions import DEFAULT_LIMITS, Runaway
from express_engine.asl.jsonata_values import to_json

from .jsonata_helpers import SUITE, suite_runner


@pytest.mark.skipif(not (SUITE / "run_suite.py").is_file(), reason="../shared/jsonata-suite is not beside the checkout")
def test_closures_answer_as_jsonata_js_on_its_suite():
    runner = suite_runner("jsonata_suite_runner_closures")
    datasets = runner.load_datasets(SUITE)
    answered = bailed = 0
    wrong = []
    for case in runner.load_cases(SUITE):
        try:
            tree = Jsonata(case["expr"]).ast
        except Exception:  # a parse error is the full path's business
            continue
        compiled = compile_closure(tree, DEFAULT_LIMITS, context=True)
        if compiled is None:
            continue
        data = runner.case_input(case, datasets)
        try:
            value = compiled.with_context(UNDEFINED if data is runner._MISSING else data, case.get("bindings") or {})
        except (Bail, Runaway):
            bailed += 1
            continue
        answered += 1
        answer = {"outcome": "undefined"} if value is UNDEFINED else {"outcome": "result", "value": to_json(value)}
        passed, why = runner.verdict(case, answer)
        if not passed:
            wrong.append(f"{case['id']} {case['expr']!r}: {why} ({answer})")
    assert not wrong, "\n".join(wrong)
    print(f"closures answered {answered} suite cases, bailed on {bailed}")
    assert answered > 250 and bailed > 20  # the test exercises both ways out (a test that cannot fail is none)


def _evaluate(expression: str, states: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    return ej.compile_template("{% " + expression + " %}", "Output", "/States/S/Output").evaluate(
        states, variables or {})


def test_common_shapes_are_compiled():
    for text in ("$merge([$states.input, {'a': $states.input.x.y}])", "$states.input.a & '-' & $v",
                 "$count($states.input.items) > 2 ? 'many' : 'few'", "$map($states.input.items, function($i) {$i * 2})",
                 "$filter($states.input.items, function($i) {$i > 1})", "{'n': $number($states.input.s) + 1}"):
        assert compile_closure(Jsonata(text).ast, DEFAULT_LIMITS) is not None, text


def test_compiled_results_are_normalised_plain_json():
    states = {"input": {"price": 3.0, "items": [1.0, 2.5], "s": "4"}}
    assert _evaluate("$merge([$states.input, {'n': $number($states.input.s) * 2}])", states) == {
        "price": 3, "items": [1, 2.5], "s": "4", "n": 8}
    out = _evaluate("$states.input", states)
    assert type(out["price"]) is int and out is not states["input"]  # 3.0 is written 3, as JavaScript does


def test_a_bail_gives_the_full_evaluators_error():
    # arithmetic on a string: the closure bails, jsonata-python reports T2001 as jsonata-js does
    with pytest.raises(Exception, match="T2001"):
        _evaluate("$states.input.s + 1", {"input": {"s": "x"}})
    # a predicate is not compiled: the full evaluator answers
    assert _evaluate("$states.input.items[sku='b'].sku", {"input": {"items": [{"sku": "a"}, {"sku": "b"}]}}) == "b"


def test_a_workflow_variable_hides_a_builtin_of_its_name():
    assert _evaluate("$count($states.input)", {"input": [1, 2]}) == 2
    with pytest.raises(Exception, match="T1006: Attempted to invoke a non-function"):
        _evaluate("$count($states.input)", {"input": [1, 2]}, {"count": 5})


@pytest.mark.parametrize(("expression", "expected"), [
    (r"$length('\uD834\uDD1E')", 1),  # a surrogate-pair escape is one character, as in JavaScript
    (r"'\uD83D\uDE00'", "\U0001F600"),
    # jsonata-js 2.0.6's match object is {match, start, end, groups, next} (jsonata.js evaluateRegex): no index
    ("$replace('a1b22', /[0-9]+/, function($m) {$m.match & '@' & $string($m.start) & $string($m.groups)})",
     "a1@1[]b22@3[]"),
    ("$replace('x=1', /(\\w)=(\\d)/, function($m) {$m.groups[1] & $m.groups[0]})", "1x"),
])
def test_jsonata_js_values(expression, expected):
    assert _evaluate(expression, {"input": {}}) == expected


@pytest.mark.parametrize(("expression", "code"), [
    ("$match('abc', /b*/)", "D1004"), ("$split('abc', /x*/)", "D1004"), ("$replace('abc', /x*/, '-')", "D1004"),
    ("$split('some text', $uppercase)", "T1010"), ("[0..10000000] ~> $count()", "D2014"),
])
def test_jsonata_js_error_codes(expression, code):
    with pytest.raises(Exception, match=f"evaluation. {code}: "):
        _evaluate(expression, {"input": {}})


@pytest.mark.parametrize(("text", "message"), [
    ("1 /* open", "Comment has no closing tag"), ("[1!2]", 'Unknown operator: "!"'),
    ("λ($arg)<n<n>>{$arg}(5)", "Type parameters can only be applied to functions and arrays"),
])
def test_parser_errors_are_jsonata_js_errors(text, message):
    from express_engine import errors as engine_errors

    with pytest.raises(engine_errors.DefinitionError) as caught:
        ej.compile_template("{% " + text + " %}", "Output", "/States/S/Output")
    assert [d.message for d in caught.value.diagnostics] == [message]


_SEQUENCE_INPUTS = [
    {"items": [{"sku": "a", "tags": ["x", "y"]}, {"sku": "b", "tags": ["z"]}, {"n": 1}], "one": [{"sku": "s"}],
     "nested": [[{"sku": "p"}], [{"sku": "q"}, [{"sku": "r"}]]], "empty": [], "obj": {"sku": "o", "tags": ["t"]},
     "single": [{"tags": ["only"]}], "nums": [1, 2.0, 3.5],
     # an array item's fields are collapsed like any evaluation's sequence: [] of nothing, [5] of one
     "mixed": ["s", {"b": []}, []], "deep": [[{"b": [5]}]], "deep2": [[{"b": [5, 6]}], {"b": 7}]},
]


@pytest.mark.parametrize("expression", [
    "$states.input.items.sku", "$states.input.items.tags", "$states.input.one.sku", "$states.input.one",
    "$states.input.nested.sku", "$states.input.empty.sku", "$states.input.obj.tags", "$states.input.single.tags",
    "$states.input.items.{'s': sku, 't': tags}", "$states.input.items.[sku]", "$states.input.items.(sku & '!')",
    "$states.input.nums.$string()", "$states.input.nums.($ * 2)", "$states.input.items.tags.$uppercase()",
    "($x := $states.input.items; $y := $x.sku; $count($y))", "[1..4].($ * $)", "[1..3].$string()",
    "$lookup($states.input.items, 'sku')", "$lookup($states.input.obj, 'tags')", "$states.input.single.tags[0]",
    "($a := 1; ($a := 2); $a)", "{'n': [0..2]}", "$states.input.items.sku.$length()", "$states.input.mixed.b",
    "$states.input.deep.b", "$states.input.deep2.b",
])
def test_compiled_sequences_answer_as_the_full_evaluator(expression):
    from jsonata import Jsonata

    from express_engine.asl.jsonata_values import to_jsonata

    for data in _SEQUENCE_INPUTS:
        reference = Jsonata(expression).evaluate(None, {"states": {"input": to_jsonata(data)}})
        expected = "undefined" if reference is None else to_json(reference)
        compiled = compile_closure(Jsonata(expression).ast, DEFAULT_LIMITS)
        if "[0]" not in expression:
            assert compiled is not None, expression  # the shape is compiled
        try:
            got = _evaluate(expression, {"input": data})
        except Exception as exc:
            got = "undefined" if "returned nothing" in str(exc) else exc
        assert got == expected, expression


def test_predicates_and_positional_bindings_are_compiled():
    for text in ("$states.input.items[qty > 1]", "$states.input.items[qty > 1 and sku != 'a'].sku",
                 "$states.input.items[-1]", "$count($states.input.items[qty = 0])", "$v[0]"):
        assert compile_closure(Jsonata(text).ast, DEFAULT_LIMITS) is not None, text
    assert compile_closure(Jsonata("items#$i.{'i': $i}").ast, DEFAULT_LIMITS, context=True) is not None


def test_predicates_select_as_jsonata_js():
    items = [{"sku": "a", "qty": 0}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 5}]
    states = {"input": {"items": items}}
    assert _evaluate("$states.input.items[qty > 1].sku", states) == ["b", "c"]
    assert _evaluate("$states.input.items[qty > 1 and sku != 'c']", states) == {"sku": "b", "qty": 2}
    assert _evaluate("$states.input.items[-1.5].sku", states) == "b"  # floored: -2, counted from the end
    assert _evaluate("$states.input.items[[0, 2]].sku", states) == ["a", "c"]
    assert _evaluate("$states.input.items[sku].qty", states) == [0, 2, 5]  # a string is cast to boolean
    assert _evaluate("$states.input.items[qty < 1 or qty > 4].sku", states) == ["a", "c"]


def test_predicate_type_errors_reach_the_full_evaluator():
    states = {"input": {"items": [{"qty": 1}, {"qty": "2"}]}}
    with pytest.raises(ej.errors.QueryEvaluationError, match="T2009"):
        _evaluate("$states.input.items[qty > 1]", states)


def test_positional_bindings_with_the_suite_context():
    compiled = compile_closure(Jsonata("items#$i.{'i': $i, 'next': $$.items[$i + 1].n}").ast, DEFAULT_LIMITS,
                               context=True)
    assert compiled is not None
    assert compiled.with_context({"items": [{"n": 1}, {"n": 2}]}, {}) == [{"i": 0, "next": 2}, {"i": 1}]
