"""Definition checks through a real server with real boto3: one rule set whatever the workflow type."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_support import ROLE
from botocore.exceptions import ClientError

from express_engine.jsonutil import dumps

QUERY = dumps({"StartAt": "Q", "States": {"Q": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query",
                                                "End": True}}})
NOT_RECOGNIZED = ("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided "
                  "arn:aws:states:::dynamodb:query is not recognized. The value is not a valid resource ARN, or the "
                  "resource is not available in this region. at /States/Q/Resource'")


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("sm_type", ["EXPRESS", "STANDARD"])
def test_create_refuses_an_unknown_optimized_integration(sfn: Any, sm_type: str) -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html (getItem, putItem, updateItem,
    # deleteItem only): refused at create time, for either type, not left to fail at run time.
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=f"q-{uuid.uuid4().hex[:8]}", definition=QUERY, roleArn=ROLE, type=sm_type)
    assert _error(exc) == ("InvalidDefinition", NOT_RECOGNIZED)
    for t in ("EXPRESS", "STANDARD"):
        checked = sfn.validate_state_machine_definition(definition=QUERY, type=t)
        assert checked["result"] == "FAIL" and checked["diagnostics"][0]["location"] == "/States/Q/Resource"


def test_update_refuses_an_unknown_optimized_integration(sfn: Any) -> None:
    ok = QUERY.replace("dynamodb:query", "aws-sdk:dynamodb:query")
    arn = sfn.create_state_machine(name=f"q-{uuid.uuid4().hex[:8]}", definition=ok, roleArn=ROLE,
                                   type="EXPRESS")["stateMachineArn"]
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine(stateMachineArn=arn, definition=QUERY)
    assert _error(exc) == ("InvalidDefinition", NOT_RECOGNIZED)


def test_a_valid_standard_definition_meets_only_the_type_limit(sfn: Any) -> None:
    ok = QUERY.replace("dynamodb:query", "dynamodb:getItem")
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=f"s-{uuid.uuid4().hex[:8]}", definition=ok, roleArn=ROLE, type="STANDARD")
    assert _error(exc)[0] == "StateMachineTypeNotSupported"
