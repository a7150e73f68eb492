"""JSONata states and workflow variables, in both query languages, through the Engine."""

from __future__ import annotations

from typing import Any

import pytest

from express_engine import Engine
from express_engine.service_errors import InvalidDefinition


def jsonata(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": states[0][0], "States": dict(states), **top}


def jsonpath(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states)}


FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


# -- fields ------------------------------------------------------------------------------------------------

async def test_pass_output_reads_states_input(run):
    res = await run(jsonata(("P", {"Type": "Pass", "Output": {"sum": "{% $states.input.a + 1 %}", "k": 1},
                                   "End": True})), {"a": 2})
    assert res["output"] == {"sum": 3, "k": 1}


async def test_default_output_is_input_for_pass_and_result_for_task(run, engine):
    engine.register_handler("fn", lambda e, c: {"r": e})
    res = await run(jsonata(("P", {"Type": "Pass", "Next": "T"}), ("T", {"Type": "Task", "Resource": FN,
                                                                         "End": True})), {"a": 1})
    assert res["output"] == {"r": {"a": 1}}


async def test_task_arguments_output_and_states_result(run, engine):
    engine.register_handler("fn", lambda e, c: {"doubled": e["x"] * 2})
    state = {"Type": "Task", "Resource": FN, "Arguments": {"x": "{% $states.input.v %}"},
             "Output": {"res": "{% $states.result.doubled %}", "in": "{% $states.input.v %}"}, "End": True}
    res = await run(jsonata(("T", state)), {"v": 21})
    assert res["output"] == {"res": 42, "in": 21}


async def test_task_timeout_seconds_expression(run, engine):
    import anyio

    async def slow(e: Any, c: Any) -> Any:
        await anyio.sleep(3)

    engine.register_handler("fn", slow)
    state = {"Type": "Task", "Resource": FN, "TimeoutSeconds": "{% $states.input.t %}", "End": True}
    with anyio.fail_after(3):
        res = await run(jsonata(("T", state)), {"t": 1})
    assert res["error"] == "States.Timeout"


async def test_choice_condition_with_rule_output_and_assign(run):
    d = jsonata(
        ("C", {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.n > 5 %}", "Next": "Big", "Output": {"size": "big"},
             "Assign": {"chosen": "{% $states.input.n %}"}}], "Default": "Small"}),
        ("Big", {"Type": "Pass", "Output": "{% $merge([$states.input, {'chosen': $chosen}]) %}", "End": True}),
        ("Small", {"Type": "Pass", "End": True}))
    assert (await run(d, {"n": 9}))["output"] == {"size": "big", "chosen": 9}
    assert (await run(d, {"n": 1}))["output"] == {"n": 1}


async def test_choice_condition_must_be_boolean(run):
    d = jsonata(("C", {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}],
                       "Default": "E"}), ("E", {"Type": "Succeed"}))
    res = await run(d, {"n": 1})
    assert res["error"] == "States.QueryEvaluationError"


async def test_wait_seconds_and_timestamp_expressions(run, sleeps):
    d = jsonata(("W", {"Type": "Wait", "Seconds": "{% $states.input.s * 2 %}", "Next": "W2"}),
                ("W2", {"Type": "Wait", "Timestamp": "{% $states.input.ts %}", "End": True}))
    res = await run(d, {"s": 2, "ts": "2001-01-01T00:00:00Z"})
    assert res["status"] == "SUCCEEDED"
    assert sleeps.calls == [4]


async def test_wait_timestamp_expression_must_be_iso(run):
    d = jsonata(("W", {"Type": "Wait", "Timestamp": "{% $states.input.ts %}", "End": True}))
    res = await run(d, {"ts": "2016-12-05T21:29:29"})
    assert res["error"] == "States.QueryEvaluationError"
    assert res["cause"].endswith("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
                                 "format string: 2016-12-05T21:29:29")


async def test_map_items_item_selector_and_max_concurrency(run):
    d = jsonata(("M", {"Type": "Map", "Items": "{% $states.input.xs %}", "MaxConcurrency": "{% 2 %}",
                       "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}",
                                        "i": "{% $states.context.Map.Item.Index %}"},
                       "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                       "Output": "{% $states.result %}", "End": True}))
    res = await run(d, {"xs": [1, 2]})
    assert res["output"] == [{"v": 10, "i": 0}, {"v": 20, "i": 1}]


async def test_map_items_must_be_an_array(run):
    d = jsonata(("M", {"Type": "Map", "Items": "{% $states.input.x %}",
                       "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                       "End": True}))
    res = await run(d, {"x": {"a": 1}})
    assert res["error"] == "States.QueryEvaluationError"
    assert "Expected 'array', but was 'object' for value: {\"a\":1}" in res["cause"]


async def test_fail_error_and_cause_expressions(run):
    d = jsonata(("F", {"Type": "Fail", "Error": "{% 'E_' & $states.input.code %}", "Cause": "{% $states.input.msg %}"}))
    res = await run(d, {"code": "42", "msg": "bad"})
    assert (res["error"], res["cause"]) == ("E_42", "bad")


async def test_catch_output_and_assign_see_error_output(run, engine):
    def boom(e: Any, c: Any) -> Any:
        raise ValueError("nope")

    engine.register_handler("fn", boom)
    d = jsonata(("T", {"Type": "Task", "Resource": FN, "Catch": [{
        "ErrorEquals": ["States.ALL"], "Next": "After",
        "Output": {"err": "{% $states.errorOutput.Error %}", "in": "{% $states.input.v %}"},
        "Assign": {"lastError": "{% $states.errorOutput.Error %}"}}], "End": True}),
        ("After", {"Type": "Pass", "Output": {"o": "{% $states.input %}", "var": "{% $lastError %}"}, "End": True}))
    res = await run(d, {"v": 1})
    assert res["output"] == {"o": {"err": "ValueError", "in": 1}, "var": "ValueError"}


async def test_extra_aws_functions(run):
    d = jsonata(("P", {"Type": "Pass", "Output": {
        "part": "{% $partition([1,2,3], 2) %}", "range": "{% $range(0, 4, 2) %}",
        "hash": "{% $hash('a', 'SHA-256') %}", "parsed": "{% $parse('{\"k\":1}') %}",
        "uuid": "{% $length($uuid()) %}", "rand": "{% $random() < 1 %}"}, "End": True}))
    out = (await run(d))["output"]
    assert out["part"] == [[1, 2], [3]]
    assert out["range"] == [0, 2, 4]
    assert out["hash"] == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    assert out["parsed"] == {"k": 1}
    assert out["uuid"] == 36
    assert out["rand"] is True


# -- errors --------------------------------------------------------------------------------------------

async def test_undefined_result_fails_naming_the_field(run):
    res = await run(jsonata(("S", {"Type": "Pass", "Output": {"a": {"b": "{% $states.input.nope %}"}},
                                   "End": True})))
    assert res["error"] == "States.QueryEvaluationError"
    assert res["cause"] == ("An error occurred while executing the state 'S' (entered at the event id #2). The "
                            "JSONata expression '$states.input.nope' specified for the field 'Output/a/b' returned "
                            "nothing (undefined).")


async def test_evaluation_error_is_catchable(run, engine):
    engine.register_handler("fn", lambda e, c: e)
    d = jsonata(("T", {"Type": "Task", "Resource": FN, "Arguments": "{% $undefinedFn() %}",
                       "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught"}], "End": True}),
                ("Caught", {"Type": "Pass", "Output": "caught", "End": True}))
    res = await run(d)
    assert res["output"] == "caught"


async def test_runaway_recursion_is_bounded(run):
    expr = "{% ($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000)) %}"
    res = await run(jsonata(("P", {"Type": "Pass", "Output": expr, "End": True})))
    assert res["error"] == "States.QueryEvaluationError"


async def test_huge_range_is_bounded(run):
    res = await run(jsonata(("P", {"Type": "Pass", "Output": "{% $count([1..100000000]) %}", "End": True})))
    assert res["error"] == "States.QueryEvaluationError"


# -- validation ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("definition", "fragment"), [
    (jsonata(("P", {"Type": "Pass", "InputPath": "$.a", "End": True})),
     "field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"),
    (jsonpath(("P", {"Type": "Pass", "Output": {"a": 1}, "End": True})), "Output"),
    (jsonata(("P", {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True})), "INVALID_JSONATA_EXPRESSION"),
    (jsonata(("P", {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True})),
     "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"),
    (jsonata(("P", {"Type": "Pass", "Output": "{% $$.Execution %}", "End": True})), "$$"),
    (jsonata(("P", {"Type": "Pass", "Output": "{% foo %}", "End": True})), "top level"),
    (jsonata(("P", {"Type": "Pass", "Output": "{% $states.result %}", "End": True})), "result"),
    (jsonata(("P", {"Type": "Pass", "Assign": {"states": 1}, "End": True})), "reserved"),
    (jsonpath(("P", {"Type": "Pass", "Assign": {"1bad": 1}, "End": True})), "not valid"),
])
def test_invalid_jsonata_definitions_are_rejected_at_create_time(definition, fragment):
    with pytest.raises(InvalidDefinition) as info:
        Engine().create_state_machine("m", definition)
    assert fragment in info.value.message


async def test_jsonpath_machine_may_switch_one_state_to_jsonata(run):
    d = jsonpath(("A", {"Type": "Pass", "Parameters": {"v.$": "$.x"}, "Next": "B"}),
                 ("B", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.v * 2 %}",
                        "End": True}))
    assert (await run(d, {"x": 4}))["output"] == 8


# -- variables ------------------------------------------------------------------------------------------

async def test_jsonpath_assign_and_reference(run):
    d = jsonpath(("A", {"Type": "Pass", "Result": {"n": 5}, "Assign": {"fromResult.$": "$.n", "lit": "x"},
                        "Next": "B"}),
                 ("B", {"Type": "Pass", "Parameters": {"a.$": "$fromResult", "b.$": "$lit",
                                                      "c.$": "States.Format('{}-{}', $lit, $fromResult)"},
                        "End": True}))
    assert (await run(d))["output"] == {"a": 5, "b": "x", "c": "x-5"}


async def test_assign_reads_values_from_before_the_state(run):
    d = jsonata(("A", {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"}),
                ("B", {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "old": "{% $x %}"},
                       "Output": {"seen": "{% $x %}"}, "Next": "C"}),
                ("C", {"Type": "Pass", "Output": {"x": "{% $x %}", "old": "{% $old %}"}, "End": True}))
    res = await run(d)
    assert res["output"] == {"x": 2, "old": 1}


async def test_jsonpath_output_path_sees_the_pre_state_variable(run):
    d = jsonpath(("A", {"Type": "Pass", "Assign": {"answer": 1}, "Next": "B"}),
                 ("B", {"Type": "Pass", "Assign": {"answer": 2}, "OutputPath": "$answer", "End": True}))
    assert (await run(d))["output"] == 1


async def test_variables_in_input_path_and_choice(run):
    d = jsonpath(("A", {"Type": "Pass", "Assign": {"limit": 3, "doc": {"k": "v"}}, "Next": "C"}),
                 ("C", {"Type": "Choice", "Choices": [
                     {"Variable": "$.n", "NumericGreaterThanPath": "$limit", "Next": "Big"}], "Default": "Small"}),
                 ("Big", {"Type": "Pass", "InputPath": "$doc", "End": True}),
                 ("Small", {"Type": "Succeed"}))
    assert (await run(d, {"n": 5}))["output"] == {"k": "v"}


async def test_undefined_variable_reference_fails(run):
    d = jsonpath(("A", {"Type": "Pass", "Parameters": {"v.$": "$missing"}, "End": True}))
    res = await run(d)
    assert res["error"] == "States.Runtime"


async def test_parallel_branches_read_outer_variables_but_their_assignments_stay_inside(run):
    d = jsonata(
        ("A", {"Type": "Pass", "Assign": {"outer": 10}, "Next": "P"}),
        ("P", {"Type": "Parallel", "Branches": [
            {"StartAt": "B1", "States": {
                "B1": {"Type": "Pass", "Assign": {"inner": "{% $outer + 1 %}"}, "Next": "B2"},
                "B2": {"Type": "Pass", "Output": "{% $inner %}", "End": True}}},
            {"StartAt": "C1", "States": {"C1": {"Type": "Pass", "Output": "{% $outer %}", "End": True}}},
        ], "Next": "After"}),
        ("After", {"Type": "Pass", "Output": {"r": "{% $states.input %}",
                                              "innerVisible": "{% $exists($inner) %}"}, "End": True}))
    res = await run(d)
    assert res["output"] == {"r": [11, 10], "innerVisible": False}


async def test_map_iteration_cannot_assign_an_outer_variable(run):
    d = jsonata(
        ("A", {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"}),
        ("M", {"Type": "Map", "Items": [1, 2], "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"outer": 2}, "End": True}}}, "End": True}))
    res = await run(d)
    assert res["status"] == "FAILED"
    assert "outer" in res["cause"]


async def test_map_iterations_see_outer_variables(run):
    d = jsonata(
        ("A", {"Type": "Pass", "Assign": {"factor": 3}, "Next": "M"}),
        ("M", {"Type": "Map", "Items": [1, 2], "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Output": "{% $states.input * $factor %}", "End": True}}}, "End": True}))
    assert (await run(d))["output"] == [3, 6]


async def test_variable_size_limit(run):
    d = jsonata(("A", {"Type": "Pass", "Assign": {"big": "{% $pad('', 300000, 'x') %}"}, "End": True}))
    res = await run(d)
    assert res["error"] == "States.DataLimitExceeded"


@pytest.mark.parametrize(("size", "fails"), [(270_000, True), (200_000, False), (50_000, False)])
async def test_output_object_template_size_limit(run, size, fails):
    # an object template of scalars is measured by a bound, serialised only when the bound passes 256 KiB (a
    # 200,000-character string is bounded at 1.2 MB but is 200 KB: it passes)
    output = {"s": "{% $pad('', " + str(size) + ", 'x') %}", "n": "{% 1 %}", "k": True}
    d = jsonata(("A", {"Type": "Pass", "Output": output, "End": True}))
    res = await run(d)
    if fails:
        assert res["error"] == "States.DataLimitExceeded"
        assert res["cause"] == ("The state/task 'A' returned a result with a size exceeding the maximum number of "
                                "bytes service limit.")
    else:
        assert res["status"] == "SUCCEEDED" and len(res["output"]["s"]) == size


# -- variable size limits (AWS: 256 KiB per variable and per Assign block, 10 MiB per execution) ---------------

def _assigner(names: list[str], size: int, then: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chain of Pass states, each assigning one ``size``-character string to the next name."""
    states = []
    for i, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Pass", "Assign": {name: "{% $pad($states.input.s, " + str(size) + ") %}"}}
        if i + 1 < len(names):
            state["Next"] = f"S{i + 1}"
        elif then is not None:
            state["Next"] = "Then"
        else:
            state["End"] = True
        states.append((f"S{i}", state))
    if then is not None:
        states.append(("Then", then))
    return jsonata(*states)


async def test_one_variable_over_256_kib_fails(run):
    res = await run(_assigner(["big"], 262_144), {"s": "x"})
    assert res["error"] == "States.DataLimitExceeded" and "'big'" in res["cause"]
    ok = await run(_assigner(["big"], 262_142), {"s": "x"})  # + 2 quotes = 262,144 bytes of JSON
    assert ok["status"] == "SUCCEEDED"


async def test_all_variables_over_10_mib_fail(run):
    names = [f"v{i}" for i in range(41)]  # 41 x 256 KiB > 10 MiB; 40 fit exactly
    res = await run(_assigner(names, 262_142), {"s": "x"})
    assert res["error"] == "States.DataLimitExceeded" and "10485760" in res["cause"]
    assert (await run(_assigner(names[:40], 262_142), {"s": "x"}))["status"] == "SUCCEEDED"


async def test_reassigning_a_variable_replaces_its_size(run):
    res = await run(_assigner(["same"] * 60, 262_142), {"s": "x"})
    assert res["status"] == "SUCCEEDED"


async def test_variables_of_ended_iterations_no_longer_count(run):
    # Each of 60 iterations holds a 256 KiB variable; they never exist at once beyond the 10 MiB total.
    iteration = _assigner(["local"], 262_142)
    definition = jsonata(("M", {"Type": "Map", "Items": "{% $states.input.items %}", "MaxConcurrency": 1,
                                "ItemProcessor": {"StartAt": "S0", "States": iteration["States"]},
                                "Output": "{% $count($states.result) %}", "End": True}))
    res = await run(definition, {"items": [{"s": "x"}] * 60})
    assert res["status"] == "SUCCEEDED" and res["output"] == 60, res
