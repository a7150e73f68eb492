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
