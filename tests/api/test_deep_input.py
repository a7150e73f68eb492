"""Deeply nested JSON is refused where it enters (API input, TestState, task results, StringToJson)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_support import ROLE, definition
from botocore.exceptions import ClientError

from express_engine.jsonutil import MAX_JSON_DEPTH, dumps

#: Valid JSON of about 600 bytes that orjson reads but cannot write back.
DEEP = "[" * 300 + "]" * 300
JUST_TOO_DEEP = '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
DEEPEST = '{"a":' * MAX_JSON_DEPTH + '"[[[[{"' + "}" * MAX_JSON_DEPTH


def _machine(sfn: Any, states: dict[str, Any], **top: Any) -> str:
    return str(sfn.create_state_machine(name=f"deep-{uuid.uuid4().hex[:10]}", definition=definition(states, **top),
                                        roleArn=ROLE, type="EXPRESS")["stateMachineArn"])


@pytest.mark.parametrize("text", [DEEP, JUST_TOO_DEEP])
def test_deep_input_is_refused_at_the_door(sfn: Any, text: str) -> None:
    arn = _machine(sfn, {"P": {"Type": "Pass", "End": True}})
    for start in (sfn.start_sync_execution, sfn.start_execution):
        with pytest.raises(ClientError) as exc:
            start(stateMachineArn=arn, input=text)
        err = exc.value.response["Error"]
        assert err["Code"] == "InvalidExecutionInput"
        assert err["Message"] == (f"Invalid State Machine Execution Input: 'Document nesting depth exceeds the "
                                  f"maximum allowed ({MAX_JSON_DEPTH})'")


def test_input_at_the_limit_runs(sfn: Any) -> None:
    arn = _machine(sfn, {"P": {"Type": "Pass", "End": True}})
    resp = sfn.start_sync_execution(stateMachineArn=arn, input=DEEPEST)
    assert resp["status"] == "SUCCEEDED" and resp["output"] == DEEPEST


def test_test_state_refuses_deep_input(sfn: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps({"Type": "Pass", "End": True}), roleArn=ROLE, input=DEEP)
    assert exc.value.response["Error"]["Code"] == "InvalidExecutionInput"


def _wrap(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def test_deep_results_fail_the_state_cleanly(server: Any, sfn: Any) -> None:
    server.register_handler("deepen", lambda event, ctx: _wrap(event, 40))
    task = _machine(sfn, {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:deepen",
                                "End": True}})
    resp = sfn.start_sync_execution(stateMachineArn=task, input=dumps({"a": _wrap(1, 100)}))
    assert (resp["status"], resp["error"]) == ("FAILED", "States.Runtime")
    assert "nested deeper than" in resp["cause"]

    parse = _machine(sfn, {"P": {"Type": "Pass", "Parameters": {"v.$": "States.StringToJson($.s)"}, "End": True}})
    resp = sfn.start_sync_execution(stateMachineArn=parse, input=dumps({"s": JUST_TOO_DEEP}))
    assert (resp["status"], resp["error"]) == ("FAILED", "States.Runtime")


def test_jsonata_parse_refuses_deep_text(sfn: Any) -> None:
    parse = _machine(sfn, {"P": {"Type": "Pass", "Output": "{% $parse($states.input.s) %}", "End": True}},
                     QueryLanguage="JSONata")
    resp = sfn.start_sync_execution(stateMachineArn=parse, input=dumps({"s": JUST_TOO_DEEP}))
    assert resp["status"] == "FAILED" and resp["error"] == "States.QueryEvaluationError"
