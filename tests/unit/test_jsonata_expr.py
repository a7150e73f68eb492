"""JSONata templates (express_engine.asl.jsonata): parse once, evaluate with $states and variables.

Expected causes are AWS's (conformance cases recorded against AWS), without the interpreter's
``An error occurred while executing the state ...`` prefix.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import jsonata.parser
import pytest

from express_engine import errors
from express_engine.asl.jsonata import (
    EvaluationLimits,
    compile_template,
    evaluate_condition,
    is_expression,
    unexpected_type_error,
)
from express_engine.jsonutil import Json, dumps

LOC = "/States/S/Output"
STATES: dict[str, Json] = {
    "input": {"a": 1, "n": None, "arr": [1, 2, 3], "s": "abc", "nested": {"k": None, "v": [None, 2]}},
    "context": {"Execution": {"Id": "arn:exec", "Input": {"a": 1}}, "State": {"Name": "S"}},
}
VARIABLES: dict[str, Json] = {"v": 5, "obj": {"k": None}, "nothing": None, "list": [1, None]}


def ev(node: Json, states: dict[str, Json] | None = None, variables: dict[str, Json] | None = None,
       field: str = "Output", **options: Any) -> Json:
    template = compile_template(node, field, LOC, **options)
    return template.evaluate(STATES if states is None else states,
                             VARIABLES if variables is None else variables)


def cause(node: Json, states: dict[str, Json] | None = None, variables: dict[str, Json] | None = None,
          field: str = "Output", **options: Any) -> str:
    with pytest.raises(errors.QueryEvaluationError) as info:
        ev(node, states, variables, field, **options)
    assert info.value.error == "States.QueryEvaluationError"
    assert info.value.cause is not None
    return info.value.cause


def diagnostics(node: Json, location: str = LOC, **options: Any) -> list[str]:
    with pytest.raises(errors.DefinitionError) as info:
        compile_template(node, "Output", location, **options)
    return [d.render() for d in info.value.diagnostics]


def threw(expression: str, tail: str, field: str = "Output") -> str:
    return f"The JSONata expression '{expression}' specified for the field '{field}' threw an error during " \
           f"evaluation{tail}"


# --- what is an expression ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("{% $states.input %}", True),
    ("{%$states.input%}", True),
    ("{%%}", True),
    ("{%}", False),
    (" {% 1 %}", False),
    ("{% 1 %} ", False),
    ("Hello {% $x %}", False),
    ("{% incomplete", False),
    (5, False),
    (None, False),
])
def test_is_expression(value: Json, expected: bool) -> None:
    assert is_expression(value) is expected


def test_a_value_without_expressions_is_a_constant_returned_as_is() -> None:
    literal = {"a": [1, {"b": "{%x"}], "c": None, "d": "$.notapath"}
    template = compile_template(literal, "Output", LOC)
    assert template.is_constant and template.expression is None
    assert template.evaluate(STATES, VARIABLES) is literal
    for scalar in (True, None, "string literal", 3):
        assert compile_template(scalar, "Output", LOC).evaluate(STATES, {}) == scalar


def test_template_describes_what_it_reads() -> None:
    template = compile_template({"a": "{% $states.input.a + $v %}", "b": "{% $sum($list) %}",
                                 "c": "{% ($t := 1; $map([1], function($p){ $p + $t })) %}"}, "Output", LOC)
    assert not template.is_constant and template.expression is None
    assert template.variables == {"v", "list"}  # builtins, locals and parameters are not variables
    assert template.states_fields == {"input"}
    whole = compile_template("{%  $states.context.State.Name  %}", "Output", LOC)
    assert whole.expression == "$states.context.State.Name"
    assert whole.states_fields == {"context"}


def test_expressions_are_parsed_at_compile_time_only(monkeypatch: pytest.MonkeyPatch) -> None:
    template = compile_template({"x": "{% $states.input.a %}", "y": ["{% $v * 2 %}"]}, "Output", LOC)

    def no_parsing(*_args: Any) -> None:
        raise AssertionError("parsed during evaluation")

    monkeypatch.setattr(jsonata.parser.Parser, "parse", no_parsing)
    for _ in range(3):
        assert template.evaluate(STATES, VARIABLES) == {"x": 1, "y": [10]}


# --- evaluation -------------------------------------------------------------------------------------


def test_states_and_variables_are_bound() -> None:
    assert ev("{% $states.input.a %}") == 1
    assert ev("{% $states.context.Execution.Id %}") == "arn:exec"
    assert ev("{% $v + $states.input.a %}") == 6
    assert ev("{% $states.result.x %}", {**STATES, "result": {"x": [1]}}) == [1]
    error_output = {"Error": "E", "Cause": "c"}
    assert ev("{% $states.errorOutput.Error %}", {**STATES, "errorOutput": error_output}) == "E"
    assert ev("{% $keys($states) %}") == ["input", "context"]


def test_json_null_is_a_value_and_only_undefined_fails() -> None:
    assert ev("{% $states.input.n %}") is None
    assert ev("{% null %}") is None
    assert ev("{% $nothing %}") is None
    assert ev("{% $exists($nothing) %}") is True
    assert ev("{% $obj %}") == {"k": None}
    assert ev("{% $list[1] = null %}") is True
    assert ev("{% $states.input.nested.v[$ = null] %}") is None
    assert ev("{% $count($states.input.nested.*) %}") == 3  # null, and the flattened [null, 2]
    assert ev("{% {'a': null, 'b': $states.input.missing} %}") == {"a": None}  # JSONata drops undefined keys


def test_undefined_fails_with_aws_cause() -> None:
    # conformance: assign/test_assign_reference_variables (BASE_UNDEFINED_OUTPUT, _FIELD, _ASSIGN)
    assert cause("{% $doesNotExist %}") == "The JSONata expression '$doesNotExist' specified for the field " \
        "'Output' returned nothing (undefined)."
    assert cause({"result": "{% $doesNotExist %}"}) == \
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing " \
        "(undefined)."
    assert cause({"result": "{% $doesNotExist %}"}, field="Assign") == \
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' returned nothing " \
        "(undefined)."
    assert cause({"a": {"b": [1, "{% $states.input.missing %}"]}}) == \
        "The JSONata expression '$states.input.missing' specified for the field 'Output/a/b[1]' returned " \
        "nothing (undefined)."
    assert "'$states.errorOutput'" in cause("{% $states.errorOutput %}")


def test_nested_templates_keep_literals_and_order() -> None:
    node = {"lit": "x", "e": "{% $states.input.s %}", "arr": [1, "{% $v %}", {"deep": "{% [1] %}"}],
            "n": None}
    result = ev(node)
    assert result == {"lit": "x", "e": "abc", "arr": [1, 5, {"deep": [1]}], "n": None}
    assert list(result) == ["lit", "e", "arr", "n"]
    # conformance evaluate_jsonata ITEMS_DOUBLE_QUOTES: an expression as one array element
    assert ev([1, "{% $number('2') %}", 3]) == [1, 2, 3]


def test_results_are_plain_json() -> None:
    for expression, expected in [
        ("{% 6/2 %}", 3), ("{% 1.5 * 2 %}", 3), ("{% 7/2 %}", 3.5), ("{% -0 %}", 0),
        ("{% $parse('1.0') %}", 1), ("{% $parse('1.1') %}", 1.1), ("{% 1e21 %}", 1e21),
        ("{% $string(6/2) %}", "3"),
    ]:
        value = ev(expression)
        assert value == expected and type(value) is type(expected), expression
    sequence = ev("{% $states.input.arr.($ * 2) %}")
    assert sequence == [2, 4, 6] and type(sequence) is list
    ranged = ev("{% [1..3] %}")
    assert ranged == [1, 2, 3] and type(ranged) is list
    nested = ev("{% {'a': [1..2], 'b': $states.input.arr[$ > 1], 'c': [null]} %}")
    assert nested == {"a": [1, 2], "b": [2, 3], "c": [None]}
    assert type(nested["b"]) is list
    assert dumps(ev("{% {'x': [1.0, 2.5, {'y': 4.0}]} %}")) == '{"x":[1,2.5,{"y":4}]}'


def test_input_values_come_back_unchanged() -> None:
    payload = {"items": [{"v": None, "f": 1.25}, {"v": 2, "f": 0.5, "s": "null"}]}
    states = {"input": payload}
    assert ev("{% $states.input %}", states) is payload
    assert ev("{% $states.input.items %}", states) == payload["items"]
    before = dumps(payload)
    ev("{% [$sort($states.input.items, function($l, $r){ $l.f > $r.f }), $append($states.input.items, 1), "
       "$states.input ~> | items | {'v': 9} |, $reverse($states.input.items)] %}", states)
    assert dumps(payload) == before


def test_a_function_result_is_unsupported() -> None:
    # conformance scenarios test_map_state_items_eval_jsonata_fail[function]
    assert cause("{% $fn := function($x){$x} %}", field="Items") == \
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' returned an " \
        "unsupported result type."
    assert "unsupported result type" in cause("{% $sum %}")
    assert "unsupported result type" in cause("{% {'f': function(){1}} %}")


@pytest.mark.parametrize(("expression", "tail"), [
    ("$eval('1+1')", ". T1006: Attempted to invoke a non-function"),
    ("$randomSeeded(1)", ". T1006: Attempted to invoke a non-function"),
    ("$each('x', function($v){$v})",
     '. T0410: Argument 1 of function "each" does not match function signature'),
    ("$sum(['a'])", '. T0412: Argument 1 of function "sum" must be an array of "numbers"'),
    ("$sqrt(-1)", ". D3060: The sqrt function cannot be applied to a negative number: -1"),
    ("1 + {}", '. T2002: The right side of the "+" operator must evaluate to a number'),
    ("$split('a','b',-1)", ". D3020: Third argument of split function must evaluate to a positive number"),
    ("$single([1,2], function($x){true})",
     ". D3138: The $single() function expected exactly 1 matching result.  Instead it matched more."),
    ("$replace('a','','b')", ". D3010: Second argument of replace function cannot be an empty string"),
])
def test_thrown_errors_carry_the_jsonata_message(expression: str, tail: str) -> None:
    assert cause("{% " + expression + " %}") == threw(expression, tail)


def test_conditions_must_be_boolean() -> None:
    true = compile_template("{% $states.input.a = 1 %}", "Choices[0]/Condition", LOC)
    assert evaluate_condition(true, STATES, VARIABLES) is True
    assert evaluate_condition(compile_template(False, "Choices[0]/Condition", LOC), STATES, {}) is False
    number = compile_template("{% $states.input.a %}", "Choices[1]/Condition", LOC)
    with pytest.raises(errors.QueryEvaluationError) as info:
        evaluate_condition(number, STATES, VARIABLES)
    assert info.value.cause == "The JSONata expression '$states.input.a' specified for the field " \
        "'Choices[1]/Condition' returned an unexpected result type. Expected 'boolean', but was 'number' " \
        "for value: 1"


@pytest.mark.parametrize(("expression", "kind", "shown"), [
    ("true", "boolean", "true"), ("null", "null", "null"), ("1", "number", "1"),
    ("{'foo': 'bar'}", "object", '{"foo":"bar"}'), ("'string'", "string", '"string"'),
])
def test_unexpected_type_error_matches_the_items_cases(expression: str, kind: str, shown: str) -> None:
    # conformance scenarios test_map_state_items_eval_jsonata_fail[*] and ..._variable_sampling_fail[*]
    template = compile_template("{% " + expression + " %}", "Items", LOC)
    error = unexpected_type_error(template, "array", template.evaluate(STATES, {}))
    assert error.error == "States.QueryEvaluationError"
    assert error.cause == f"The JSONata expression '{expression}' specified for the field 'Items' returned " \
        f"an unexpected result type. Expected 'array', but was '{kind}' for value: {shown}"


def test_aws_recorded_expressions() -> None:
    # conformance evaluate_jsonata BASE_SINGLE_QUOTE and scenarios ESCAPE_SEQUENCES_JSONATA_COMPARISON_ASSIGN
    assert ev("{% $contains('hello$world', /^hello\\$/) %}") is True
    assert ev("{% $var = '\"' %}", variables={"var": '"'}) is True
    assert ev("{% $not($states.input.type = 'Private') %}", {"input": {"type": "Public"}}) is True
    assert ev('{% $states.input.str_value = "string literal" %}', {"input": {"str_value": "string literal"}})
    assert ev("{% $exists($status) ? 'completed' : 'running' %}", variables={}) == "running"
    states = {"input": {"input_values": [1, 2]}}
    assert ev("{% $sum($states.input.input_values) + $c %}", states, {"c": 3}) == 6


def test_now_and_millis_read_the_evaluation_time() -> None:
    before = int(time.time() * 1000)
    millis = ev("{% $millis() %}")
    assert before - 5 <= millis <= int(time.time() * 1000) + 5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev("{% $now() %}"))


# --- functions AWS adds -----------------------------------------------------------------------------


@pytest.mark.parametrize(("items", "size", "expected"), [
    # conformance intrinsic_functions/test_array_jsonata test_array_partition (AWS-recorded)
    ([0, 1, 2], 1, [[0], [1], [2]]), ([0, 1, 2], 4, [[0, 1, 2]]), ([0, 1, 2], 5, [[0, 1, 2]]),
    ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]), ([0], 3, [[0]]), ([0], 5, [[0]]), ([0, 1], 2, [[0, 1]]),
    ([0, 1], 3, [[0, 1]]), ([0], 1, [[0]]),
    ([1, 2, 3, 4, 5], 2.9, [[1, 2], [3, 4], [5]]),
])
def test_partition(items: list[int], size: float, expected: list[list[int]]) -> None:
    states = {"input": {"fst": items, "snd": size}}
    assert ev("{% $partition($states.input.fst, $states.input.snd) %}", states) == expected


def test_partition_edge_cases() -> None:
    assert ev("{% $partition([1,2,3]) %}") == [[1, 2, 3]]
    for expression in ("$partition([1,2,3], 0)", "$partition([], 2)", "$partition([1,2,3,4], -0.5)",
                       "$partition($missing, 2)"):
        assert "returned nothing (undefined)" in cause("{% " + expression + " %}")
    assert cause("{% $partition([1,2,3], -1) %}").endswith(". D3137: Second argument must be zero or greater")
    assert cause("{% $partition(null, 2) %}").endswith(
        '. T0412: Argument 1 of function "partition" must be an array of undefined')
    for expression, position in (("$partition([1], '2')", 2), ("$partition([1], null)", 2),
                                 ("$partition([1], 2, 'x')", 3)):
        assert cause("{% " + expression + " %}").endswith(
            f'. T0410: Argument {position} of function "partition" does not match function signature')


@pytest.mark.parametrize(("start", "end", "step", "expected"), [
    # conformance test_array_range (AWS-recorded, including the single number for (1, 9, 9))
    (0, 9, 3, [0, 3, 6, 9]), (0, 10, 3, [0, 3, 6, 9]), (1, 9, 9, 1), (1, 9, 2, [1, 3, 5, 7, 9]),
    (10, 0, -2, [10, 8, 6, 4, 2, 0]), (1.7, 5, 1, [1, 2, 3, 4, 5]), (-1.7, 2, 1, [-1, 0, 1, 2]),
    (5, 1, -1.5, [5, 4, 3, 2, 1]),
])
def test_range(start: float, end: float, step: float, expected: Json) -> None:
    states = {"input": {"fst": start, "snd": end, "trd": step}}
    assert ev("{% $range($states.input.fst, $states.input.snd, $states.input.trd) %}", states) == expected


def test_range_edge_cases() -> None:
    for expression in ("$range(5, 1, 1)", "$range(1, 5, 0)", "$range(1, 5)", "$range(1, $missing, 1)"):
        assert "returned nothing (undefined)" in cause("{% " + expression + " %}")
    mismatch = ' of function "range" does not match function signature'
    assert cause("{% $range(1) %}").endswith(". T0410: Argument 2" + mismatch)
    assert cause("{% $range('a', 5, 1) %}").endswith(". T0410: Argument 1" + mismatch)
    assert "Argument 4 of function" in cause("{% $range(1, 5, 1, 9) %}")
    assert ev("{% $count($range(1, 360145, 1)) %}") == 360145
    memory = ": Expression evaluation memory limit exceeded: Check for excessive memory usage"
    assert cause("{% $range(1, 360146, 1) %}") == threw("$range(1, 360146, 1)", memory)


def test_hash() -> None:
    digests = {
        "MD5": "8b1a9953c4611296a827abf8c47804d7",
        "SHA-1": "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0",
        "SHA-256": "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969",
        "SHA-384": "3519fe5ad2c596efe3e276a6f351b8fc0b03db861782490d45f7598ebd0ab5fd"
                   "5520ed102f38c4a5ec834e98668035fc",
        "SHA-512": "3615f80c9d293ed7402687f94b22d58e529b8cc7916f8fac7fddf7fbd5af4cf7"
                   "77d3d795a7a00a16bf7e7f3fb9561ee9baae480da9fe7a18769e71886b03f315",
    }
    for algorithm, digest in digests.items():
        assert ev("{% $hash('Hello', '" + algorithm + "') %}") == digest
    assert ev("{% $hash('ñ', 'MD5') %}") == "94e9342ecbb1458b6043ecd3bfcbc192"  # UTF-8 bytes
    assert cause("{% $hash('Hello', 'md5') %}").endswith(
        ". D3137: Hash algorithm 'md5' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5")
    assert "Hash algorithm 'null'" in cause("{% $hash('a', $missing) %}")
    assert "returned nothing" in cause("{% $hash('Hello') %}")
    assert 'Argument 1 of function "hash"' in cause("{% $hash(42, 'MD5') %}")
    assert 'Argument 2 of function "hash"' in cause("{% $hash('a', 5) %}")
    assert 'Argument 1 of function "hash"' in cause("{% $hash() %}")


def test_random_and_uuid() -> None:
    for _ in range(20):
        assert 0 <= ev("{% $random() %}") < 1
    # AWS draws a seeded $random from java.util.Random
    assert ev("{% $random(42) %}") == 0.7275636800328681
    assert ev("{% $random(0) %}") == 0.730967787376657
    assert ev("{% $random(7) %}") == 0.7306990420600421
    assert ev("{% $random(0.9) %}") == ev("{% $random(0) %}")
    assert ev("{% $random() = $random() %}") is False
    assert 'Argument 1 of function "random"' in cause("{% $random('seed') %}")
    assert 'Argument 2 of function "random"' in cause("{% $random(1, 2) %}")
    v4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(v4, ev("{% $uuid() %}"))
    assert ev("{% $uuid() = $uuid() %}") is False
    assert 'Argument 1 of function "uuid"' in cause("{% $uuid('x') %}")


@pytest.mark.parametrize(("text", "expected"), [
    # conformance test_json_manipulation_jsonata test_parse (AWS-recorded)
    ("-0", 0), ("1", 1), ("1.1", 1.1), ("true", True), ('"HelloWorld"', "HelloWorld"),
    ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]), ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
    ("null", None), ('{"a": null}', {"a": None}), ("9223372036854775807", 9223372036854775807),
    ("123456789012345678901234567890", 1.2345678901234568e29),
])
def test_parse(text: str, expected: Json) -> None:
    value = ev("{% $parse($states.input.FunctionInput) %}", {"input": {"FunctionInput": text}})
    assert value == expected and type(value) is type(expected)


def test_parse_edge_cases() -> None:
    assert ev("{% $exists($parse('null')) %}") is True
    assert ev("{% $map(['{\"a\":1}', '{\"a\":2}'], $parse).a %}") == [1, 2]
    for text in ("''", "'  '", "'{\"a\":1}{\"b\":2}'", "'{\"a\":1,\"a\":2}'", "'1e400'", "'NaN'", "'{'"):
        assert cause("{% $parse(" + text + ") %}").endswith(". D3137: Invalid JSON"), text
    assert 'Argument 1 of function "parse"' in cause("{% $parse(null) %}")
    assert "returned nothing" in cause("{% $parse() %}")


# --- definition errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "message"), [
    ("a[1,2)", 'Expected "]", got ","'),
    ('"unterminated', "String literal must be terminated by a matching quote"),
    ("1 +", "Unexpected end of expression"),
    ('{"a":}', 'The symbol "}" cannot be used as a unary operator'),
    ("$x :=", "Unexpected end of expression"),
    ('$match("a", /abc', "No terminating / in regular expression"),
    ("", "Unexpected end of expression"),
    # JSONata 2.1 operators; AWS runs 2.0.6, whose parser stops at the second token
    ("$x ?? 1", 'The symbol "?" cannot be used as a unary operator'),
    ("$x ?: 1", 'The symbol ":" cannot be used as a unary operator'),
])
def test_unparseable_expressions_are_rejected(expression: str, message: str) -> None:
    assert diagnostics("{%" + expression + "%}") == [f"INVALID_JSONATA_EXPRESSION: {message} at {LOC}"]


@pytest.mark.parametrize(("expression", "message"), [
    ("$$", "Reference to '$$' is not supported."),
    ("$$.a", "Reference to '$$' is not supported."),
    ("phone", "Reference to 'phone' at the top level is not supported."),
    ("phone[0]", "Reference to 'phone' at the top level is not supported."),
    ("$", "Reference to '$' at the top level is not supported."),
    ("$.foo", "Reference to '$' at the top level is not supported."),
    ("{aaa: 1}", "Reference to 'aaa' at the top level is not supported."),
    ("$map($states.input.a, function($x){ b })", "Reference to 'b' at the top level is not supported."),
    ("1 + (x ? y : 2)", "Reference to 'x' at the top level is not supported."),
])
def test_top_level_references_are_rejected(expression: str, message: str) -> None:
    assert diagnostics("{% " + expression + " %}")[0] == f"UNSUPPORTED_JSONATA_EXPRESSION: {message} at {LOC}"


@pytest.mark.parametrize("expression", [
    "$states.input.items[value > 3]", "$states.input.items^(value).name", "$states.input.items{name: value}",
    "$states.input.(a + b)", "$states.input.items[$ > 1]", "$map($states.input.a, function($x){ $x.b })",
    "$states.input.items.$string()", "{'key': $states.input.a}",
])
def test_names_read_from_a_step_are_legal(expression: str) -> None:
    compile_template("{% " + expression + " %}", "Output", LOC)


def test_every_problem_is_reported_with_its_nested_location() -> None:
    node = {"v": "{% phone %}", "w": ["ok", "{% 1 + %}"], "x": "{% a + b + a %}", "y/z": "{% $$ %}"}
    assert diagnostics(node) == [
        f"UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is not supported. at {LOC}/v",
        f"INVALID_JSONATA_EXPRESSION: Unexpected end of expression at {LOC}/w/1",
        f"UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'a' at the top level is not supported. at {LOC}/x",
        f"UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'b' at the top level is not supported. at {LOC}/x",
        f"UNSUPPORTED_JSONATA_EXPRESSION: Reference to '$$' is not supported. at {LOC}/y~1z",
    ]
    with pytest.raises(errors.DefinitionError) as info:
        compile_template("{% foo %}", "Output", LOC)
    assert info.value.message == "Invalid State Machine Definition: 'UNSUPPORTED_JSONATA_EXPRESSION: " \
        f"Reference to 'foo' at the top level is not supported. at {LOC}'"


def test_states_fields_not_available_in_the_field_are_rejected() -> None:
    plain = {"input", "context"}
    assert diagnostics("{% $states.errorOutput %}", states_fields=plain) == [
        f"UNSUPPORTED_JSONATA_EXPRESSION: Field '$states.errorOutput' does not exist. at {LOC}"]
    assert diagnostics({"r": "{% $states.result.Payload %}"}, states_fields=plain) == [
        f"UNSUPPORTED_JSONATA_EXPRESSION: Field '$states.result' does not exist. at {LOC}/r"]
    compile_template("{% $states.result %}", "Output", LOC, states_fields=plain | {"result"})
    compile_template("{% $states.input %}", "Output", LOC, states_fields=plain)


# --- bounds -----------------------------------------------------------------------------------------

STACK_OVERFLOW = ": Stack overflow error: Check for non-terminating recursive function. Consider rewriting " \
                 "as tail-recursive."
RECURSION = "($f := function($x){ $x <= 0 ? 0 : 1 + $f($x-1) }; $f(%d))"


def test_deep_recursion_fails_like_aws() -> None:
    # AWS accepts $f(30) (nesting depth 95) and refuses $f(40) (125) and a 200-term sum [3P, measured]
    assert ev("{% " + RECURSION % 30 + " %}") == 30
    assert cause("{% " + RECURSION % 40 + " %}") == threw(RECURSION % 40, STACK_OVERFLOW)
    chain = "+".join(["1"] * 200)
    assert cause("{% " + chain + " %}") == threw(chain, STACK_OVERFLOW)
    assert ev("{% " + "+".join(["1"] * 90) + " %}") == 90


def test_endless_evaluation_times_out() -> None:
    loop = "($f := function($x){ $f($x + 1) }; $f(1))"  # a tail call: loops without growing the stack
    started = time.monotonic()
    text = cause("{% " + loop + " %}", limits=EvaluationLimits(timeout_ms=200))
    assert text == threw(loop, ": Expression evaluation timeout: Check for infinite loop")
    assert time.monotonic() - started < 5
    guarded_inside_and = "true and " + loop
    assert cause("{% " + guarded_inside_and + " %}", limits=EvaluationLimits(timeout_ms=100)).endswith(
        "Check for infinite loop")


def test_huge_values_fail_on_the_memory_bound() -> None:
    memory = ": Expression evaluation memory limit exceeded: Check for excessive memory usage"
    assert ev("{% [1..873782] ~> $count() %}") == 873782
    assert cause("{% [1..900000] ~> $count() %}") == threw("[1..900000] ~> $count()", memory)
    doubling = "($p := function($s, $n) { $n = 0 ? $s : $p($s & $s, $n - 1) }; $length($p('x', 31)))"
    assert cause("{% " + doubling + " %}") == threw(doubling, memory)


def test_a_failed_evaluation_leaves_the_next_one_unaffected() -> None:
    template = compile_template("{% " + RECURSION.replace("%d", "$states.input.n") + " %}", "Output", LOC)
    with pytest.raises(errors.QueryEvaluationError):
        template.evaluate({"input": {"n": 50}}, {})
    assert template.evaluate({"input": {"n": 20}}, {}) == 20


# --- concurrency -------------------------------------------------------------------------------------


def test_one_template_evaluates_correctly_from_several_threads() -> None:
    template = compile_template("{% $map($states.input.arr, function($v){ $v * $k }) %}", "Output", LOC)
    failures: list[str] = []

    def work(k: int) -> None:
        for _ in range(200):
            result = template.evaluate({"input": {"arr": [1, 2, 3]}}, {"k": k})
            if result != [k, 2 * k, 3 * k]:
                failures.append(f"{k}: {result}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
