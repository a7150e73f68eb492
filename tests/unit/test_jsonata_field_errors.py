"""How JSONata fields outside a state's own Output/Assign fail: the field named in the cause, the state located."""

from __future__ import annotations

from typing import Any

from express_engine import Engine

FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
MISSING = "$states.input.missing"


def jsonata(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", "StartAt": states[0][0], "States": dict(states)}


def undefined(state: str, field: str) -> str:
    return (f"An error occurred while executing the state '{state}' (entered at the event id #2). "
            f"The JSONata expression '{MISSING}' specified for the field '{field}' returned nothing (undefined).")


# -- Catch and Choice rules --------------------------------------------------------------------------------

async def test_catcher_output_error_names_the_catcher_and_locates_the_state(run, engine: Engine):
    engine.register_handler("fn", lambda e, c: e)
    boom = {"Type": "Task", "Resource": FN, "Arguments": {"g": "{% " + MISSING + " %}"}, "Catch": [
        {"ErrorEquals": ["States.Timeout"], "Next": "Caught"},
        {"ErrorEquals": ["States.QueryEvaluationError"], "Output": {"v": "{% " + MISSING + " %}"},
         "Next": "Caught"}], "End": True}
    res = await run(jsonata(("Boom", boom), ("Caught", {"Type": "Pass", "End": True})))
    assert res["error"] == "States.QueryEvaluationError"
    assert res["cause"] == undefined("Boom", "Catch[1]/Output/v")


async def test_catcher_assign_error_names_the_catcher(run, engine: Engine):
    def boom(e: Any, c: Any) -> Any:
        raise RuntimeError("x")

    engine.register_handler("fn", boom)
    task = {"Type": "Task", "Resource": FN, "Catch": [
        {"ErrorEquals": ["States.ALL"], "Assign": {"x": "{% " + MISSING + " %}"}, "Next": "C"}], "End": True}
    res = await run(jsonata(("T", task), ("C", {"Type": "Pass", "End": True})))
    assert res["cause"] == undefined("T", "Catch[0]/Assign/x")


async def test_choice_rule_output_and_assign_errors_name_the_rule(run):
    def machine(rule: dict[str, Any]) -> dict[str, Any]:
        return jsonata(("Pick", {"Type": "Choice", "Choices": [{"Condition": "{% false %}", "Next": "F"}, rule],
                                 "Default": "F"}), ("F", {"Type": "Pass", "End": True}))

    output = {"Condition": "{% true %}", "Output": {"v": "{% " + MISSING + " %}"}, "Next": "F"}
    assert (await run(machine(output)))["cause"] == undefined("Pick", "Choices[1]/Output/v")
    assign = {"Condition": "{% true %}", "Assign": {"x": "{% " + MISSING + " %}"}, "Next": "F"}
    assert (await run(machine(assign)))["cause"] == undefined("Pick", "Choices[1]/Assign/x")


async def test_state_level_fields_keep_their_plain_names(run):
    pick = {"Type": "Choice", "Choices": [{"Condition": "{% false %}", "Next": "F"}], "Default": "F",
            "Output": {"v": "{% " + MISSING + " %}"}}
    res = await run(jsonata(("Pick", pick), ("F", {"Type": "Pass", "End": True})))
    assert res["cause"] == undefined("Pick", "Output/v")


# -- Map numbers given as expressions ----------------------------------------------------------------------

def failing_map(**fields: Any) -> dict[str, Any]:
    processor = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}
    return jsonata(("M", {"Type": "Map", "Items": [1, 2], **fields, "ItemProcessor": processor, "End": True}))


async def test_tolerated_failure_expressions_are_evaluated(run):
    failures = [{"Error": "E", "Cause": "C"}] * 2
    assert (await run(failing_map(ToleratedFailureCount="{% $states.input.n %}"), {"n": 5}))["output"] == failures
    assert (await run(failing_map(ToleratedFailureCount="{% $states.input.n %}"), {"n": 1}))["error"] == \
        "States.ExceedToleratedFailureThreshold"
    assert (await run(failing_map(ToleratedFailurePercentage="{% 100 %}")))["output"] == failures
    assert (await run(failing_map(ToleratedFailurePercentage="{% 49.5 %}")))["error"] == \
        "States.ExceedToleratedFailureThreshold"


async def test_undefined_map_numbers_fail_naming_the_field(run):
    for field in ("ToleratedFailureCount", "ToleratedFailurePercentage", "MaxConcurrency"):
        res = await run(failing_map(**{field: "{% " + MISSING + " %}"}))
        assert res["error"] == "States.QueryEvaluationError"
        assert res["cause"] == undefined("M", field)


PREFIX = "An error occurred while executing the state 'M' (entered at the event id #2). "


async def test_map_numbers_of_the_wrong_type_or_range_fail(run):
    for field in ("MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"):
        res = await run(failing_map(**{field: "{% 'x' %}"}))
        assert res["error"] == "States.QueryEvaluationError"
        assert res["cause"] == PREFIX + f"The JSONata expression ''x'' specified for the field '{field}' returned an " \
            "unexpected result type. Expected 'number', but was 'string' for value: \"x\""
    cases = [("MaxConcurrency", "-1", "a non-negative integer, but was: -1"),
             ("MaxConcurrency", "1.5", "a non-negative integer, but was: 1.5"),
             ("ToleratedFailureCount", "-1", "a non-negative integer, but was: -1"),
             ("ToleratedFailurePercentage", "101", "a number between 0 and 100, but was: 101"),
             ("ToleratedFailurePercentage", "-0.5", "a number between 0 and 100, but was: -0.5")]
    for field, expression, tail in cases:
        res = await run(failing_map(**{field: "{% " + expression + " %}"}))
        assert res["error"] == "States.QueryEvaluationError"
        assert res["cause"] == PREFIX + f"The {field} field must be {tail}"


async def test_max_concurrency_expression_is_used(run):
    definition = jsonata(("M", {"Type": "Map", "Items": "{% [1, 2, 3] %}", "MaxConcurrency": "{% $states.input.c %}",
                                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                                "End": True}))
    assert (await run(definition, {"c": 1}))["output"] == [1, 2, 3]
    assert (await run(definition, {"c": 0}))["output"] == [1, 2, 3]
