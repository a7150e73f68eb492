"""Every operation through a real server with real boto3, including the error paths."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from api_support import ROLE, definition, raw_post
from botocore.exceptions import ClientError

from express_engine.jsonutil import dumps, loads

PASS = definition({"P": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}})


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def new_name() -> str:
    return f"sm-{uuid.uuid4().hex[:12]}"


def create(sfn: Any, text: str = PASS, name: str | None = None, **kwargs: Any) -> str:
    return sfn.create_state_machine(name=name or new_name(), definition=text, roleArn=ROLE, type="EXPRESS",
                                    **kwargs)["stateMachineArn"]


# -- state machines ----------------------------------------------------------------------------------


def test_create_describe_update_delete(sfn: Any) -> None:
    name = new_name()
    created = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE, type="EXPRESS",
                                       tags=[{"key": "team", "value": "core"}])
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["definition"] == PASS
    assert described["type"] == "EXPRESS" and described["status"] == "ACTIVE" and described["roleArn"] == ROLE
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["creationDate"] == created["creationDate"]
    assert "revisionId" not in described  # AWS describes one only after an update
    assert sfn.describe_state_machine(stateMachineArn=arn, includedData="METADATA_ONLY")["definition"] == "{}"

    # Same name and definition: idempotent, same ARN and creation date (AWS).
    again = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE, type="EXPRESS")
    assert again["creationDate"] == created["creationDate"]

    new_def = definition({"Q": {"Type": "Pass", "End": True}})
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=new_def)
    assert updated["revisionId"] and updated["updateDate"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["definition"] == new_def and described["revisionId"] == updated["revisionId"]

    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine(stateMachineArn=arn)
    assert code_of(exc) == ("MissingRequiredParameter", "Either the definition, the role ARN, the "
                            "LoggingConfiguration, or the TracingConfiguration must be specified")

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert code_of(exc) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting again is not an error (AWS)


CMK = {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/sfn", "kmsDataKeyReusePeriodSeconds": 300}
DEFAULTS = {"tracingConfiguration": {"enabled": False}, "encryptionConfiguration": {"type": "AWS_OWNED_KEY"}}


def configurations(sfn: Any, arn: str) -> dict[str, Any]:
    described = sfn.describe_state_machine(stateMachineArn=arn)
    return {k: described[k] for k in ("tracingConfiguration", "encryptionConfiguration")}


def test_tracing_and_encryption_defaults_are_described(sfn: Any) -> None:
    # As AWS describes a machine created without them: tracing off, an AWS owned key.
    assert configurations(sfn, create(sfn)) == DEFAULTS


def test_tracing_and_encryption_round_trip_and_update(sfn: Any) -> None:
    arn = create(sfn, tracingConfiguration={"enabled": True}, encryptionConfiguration=CMK)
    assert configurations(sfn, arn) == {"tracingConfiguration": {"enabled": True}, "encryptionConfiguration": CMK}
    # Each configuration alone is an update (a new revision); what is not given is kept.
    updated = sfn.update_state_machine(stateMachineArn=arn, tracingConfiguration={"enabled": False})
    assert configurations(sfn, arn) == {"tracingConfiguration": {"enabled": False}, "encryptionConfiguration": CMK}
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == updated["revisionId"]
    again = sfn.update_state_machine(stateMachineArn=arn, encryptionConfiguration={"type": "AWS_OWNED_KEY"})
    assert configurations(sfn, arn) == DEFAULTS
    assert again["revisionId"] != updated["revisionId"]

    sfn.update_state_machine(stateMachineArn=arn, encryptionConfiguration={**CMK, "kmsDataKeyReusePeriodSeconds": 900},
                             tracingConfiguration={"enabled": True})
    sfn.update_state_machine(stateMachineArn=arn, definition=definition({"Q": {"Type": "Succeed"}}))
    assert configurations(sfn, arn) == {"tracingConfiguration": {"enabled": True},
                                        "encryptionConfiguration": {**CMK, "kmsDataKeyReusePeriodSeconds": 900}}
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == definition({"Q": {"Type": "Succeed"}})


def test_create_is_idempotent_on_tracing_and_encryption_but_not_on_role_or_tags(sfn: Any) -> None:
    # AWS: the check is on name, definition, type, logging, tracing and encryption configurations; a different
    # roleArn or tags is ignored (and not applied).
    name = new_name()
    settings = {"tracingConfiguration": {"enabled": True}, "encryptionConfiguration": CMK}
    created = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE, type="EXPRESS",
                                       tags=[{"key": "team", "value": "core"}], **settings)
    again = sfn.create_state_machine(name=name, definition=PASS, roleArn="arn:aws:iam::123456789012:role/other",
                                     type="EXPRESS", tags=[{"key": "team", "value": "other"}], **settings)
    assert again == {**created, "ResponseMetadata": again["ResponseMetadata"]}
    arn = created["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "core"}]

    for other in ({**settings, "tracingConfiguration": {"enabled": False}},
                  {**settings, "encryptionConfiguration": {"type": "AWS_OWNED_KEY"}},
                  {**settings, "encryptionConfiguration": {**CMK, "kmsKeyId": "alias/other"}},
                  {**settings, "encryptionConfiguration": {**CMK, "kmsDataKeyReusePeriodSeconds": 600}},
                  {"tracingConfiguration": {"enabled": True}}):  # (no encryption: the default, another key)
        with pytest.raises(ClientError) as exc:
            create(sfn, name=name, **other)
        assert code_of(exc) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")

    # Not giving a configuration is the same as giving its default.
    plain = create(sfn)
    assert create(sfn, name=plain.rsplit(":", 1)[1], **DEFAULTS) == plain


def test_a_machine_stored_without_tracing_and_encryption_reads_as_the_defaults(
        request: pytest.FixtureRequest, server: Any, sfn: Any) -> None:
    if request.node.callspec.params["server"] != "redis":
        pytest.skip("about documents stored in Redis by an earlier version")
    import redis

    name = new_name()
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    stored = {"name": name, "definition": PASS, "type": "EXPRESS", "roleArn": ROLE,
              "logging": {"level": "OFF", "includeExecutionData": False}, "creationDate": 1700000000.0,
              "revisionId": "rev-0", "tags": {}}
    with redis.Redis.from_url(request.getfixturevalue("valkey_url")) as r:
        r.hset("ee:machines", arn, dumps(stored))
        r.hset("ee:revisions", arn, "rev-0")
    assert configurations(sfn, arn) == DEFAULTS
    assert create(sfn, name=name) == arn  # idempotent with a request that gives neither
    sfn.update_state_machine(stateMachineArn=arn, tracingConfiguration={"enabled": True})
    assert configurations(sfn, arn) == {**DEFAULTS, "tracingConfiguration": {"enabled": True}}


def test_create_errors(sfn: Any) -> None:
    name = new_name()
    create(sfn, name=name)
    with pytest.raises(ClientError) as exc:
        create(sfn, definition({"Other": {"Type": "Succeed"}}), name=name)
    assert code_of(exc)[0] == "StateMachineAlreadyExists"
    assert code_of(exc)[1].startswith("State Machine Already Exists: 'arn:aws:states:")

    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=new_name(), definition=PASS, roleArn=ROLE)  # type defaults to STANDARD
    assert code_of(exc)[0] == "StateMachineTypeNotSupported"
    assert "EXPRESS" in code_of(exc)[1]

    with pytest.raises(ClientError) as exc:
        create(sfn, '{"StartAt": "X", "States": {"X": {"Type": "Nope", "End": true}}}')
    assert code_of(exc) == ("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                            "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, "
                            "Choice, Parallel, Map] at /States/X/Type'")

    with pytest.raises(ClientError) as exc:
        create(sfn, "{}")
    assert code_of(exc)[0] == "InvalidDefinition"

    with pytest.raises(ClientError) as exc:
        create(sfn, name="bad name")
    assert code_of(exc) == ("InvalidName", "Invalid Name: 'bad name'")

    with pytest.raises(ClientError) as exc:
        create(sfn, loggingConfiguration={"level": "LOUD"})
    assert code_of(exc)[0] == "InvalidLoggingConfiguration"


def test_bad_arns(sfn: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    assert code_of(exc) == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: not-an-arn'")
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:123456789012:activity:a")
    assert code_of(exc) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: activity'")
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn="arn:aws:lambda:us-east-1:123456789012:function:f")
    assert code_of(exc)[0] == "InvalidArn"


def test_list_state_machines_paginates_by_name(sfn: Any) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    for i in (3, 1, 2):
        create(sfn, name=f"{prefix}-{i}")
    pages = sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
    names = [m["name"] for page in pages for m in page["stateMachines"]]
    assert names == sorted(names)
    assert [n for n in names if n.startswith(prefix)] == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
    first = sfn.list_state_machines(maxResults=1)
    assert len(first["stateMachines"]) == 1 and "nextToken" in first
    with pytest.raises(ClientError) as exc:
        sfn.list_state_machines(nextToken="garbage")
    assert code_of(exc)[0] == "InvalidToken"


def test_list_validation_message(server: Any) -> None:
    status, body, _ = raw_post(server.port, b'{"maxResults": 1001}')
    assert status == 400
    assert body == {"__type": "ValidationException", "message": "1 validation error detected: Value '1001' at "
                    "'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"}


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=PASS, type="EXPRESS")["result"] == "OK"
    bad = sfn.validate_state_machine_definition(definition="{}")
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"] == [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                                   "message": "These fields are required: [States, StartAt]", "location": "/"}]
    token = definition({"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                              "End": True}})
    express = sfn.validate_state_machine_definition(definition=token, type="EXPRESS")
    assert express["result"] == "FAIL"
    assert express["diagnostics"][0]["location"] == "/States/T/Resource"


def test_tags(sfn: Any) -> None:
    arn = create(sfn)
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    missing = arn + "-missing"
    with pytest.raises(ClientError) as exc:
        sfn.list_tags_for_resource(resourceArn=missing)
    assert code_of(exc) == ("ResourceNotFound", f"Resource not found: '{missing}'")
    assert exc.value.response["Error"].get("resourceName") in (None, missing)
    with pytest.raises(ClientError) as exc:
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    assert code_of(exc)[0] == "TooManyTags"
    with pytest.raises(ClientError) as exc:
        sfn.tag_resource(resourceArn="nope", tags=[])
    assert code_of(exc)[0] == "InvalidArn"


# -- executions ---------------------------------------------------------------------------------------


def test_start_sync_execution(sfn: Any) -> None:
    arn = create(sfn)
    resp = sfn.start_sync_execution(stateMachineArn=arn, input='{"a": 1}', name="run-1")
    assert resp["status"] == "SUCCEEDED"
    assert loads(resp["output"]) == {"a": 1, "r": {"ok": True}}
    assert resp["input"] == '{"a":1}' and resp["name"] == "run-1"
    assert resp["executionArn"].startswith(arn.replace(":stateMachine:", ":express:") + ":run-1:")
    assert resp["billingDetails"] == {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}
    assert resp["stopDate"] >= resp["startDate"]

    meta = sfn.start_sync_execution(stateMachineArn=arn, input="{}", includedData="METADATA_ONLY")
    assert "output" not in meta and "input" not in meta and meta["status"] == "SUCCEEDED"
    assert meta["inputDetails"] == meta["outputDetails"] == {"included": False}

    with pytest.raises(ClientError) as exc:  # refused before anything runs
        sfn.start_sync_execution(stateMachineArn=arn, input="{}", includedData="SOME_DATA")
    assert code_of(exc)[0] == "ValidationException" and "includedData" in code_of(exc)[1]


def test_start_sync_execution_failures(sfn: Any) -> None:
    fail = create(sfn, definition({"F": {"Type": "Fail", "Error": "Oops", "Cause": "bad"}}))
    resp = sfn.start_sync_execution(stateMachineArn=fail)
    assert (resp["status"], resp["error"], resp["cause"]) == ("FAILED", "Oops", "bad")
    assert "output" not in resp and resp["outputDetails"] == {"included": True}

    arn = create(sfn)
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=arn, input="not json")
    assert code_of(exc)[0] == "InvalidExecutionInput"
    assert code_of(exc)[1].startswith("Invalid State Machine Execution Input: '")
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=arn + "nope")
    assert code_of(exc)[0] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=arn, name="a/b")
    assert code_of(exc) == ("InvalidName", "Invalid Name: 'a/b'")


def test_lambda_handler_and_async_start(server: Any, sfn: Any) -> None:
    seen: list[Any] = []
    server.register_handler("record", lambda event, ctx: seen.append(event) or {"n": len(seen)})
    arn = create(sfn, definition({"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:"
                                        "function:record", "End": True}}))
    started = sfn.start_execution(stateMachineArn=arn, input='{"k": "v"}')
    assert ":express:" in started["executionArn"] and started["startDate"]
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [{"k": "v"}]
    sync = create(sfn, definition({"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:"
                                         "function:echo", "End": True}}))
    assert loads(sfn.start_sync_execution(stateMachineArn=sync, input="[1]")["output"]) == {"echo": [1]}


def test_express_only_answers(sfn: Any) -> None:
    arn = create(sfn)
    express_arn = sfn.start_sync_execution(stateMachineArn=arn)["executionArn"]
    for call in (sfn.describe_execution, sfn.stop_execution, sfn.get_execution_history):
        with pytest.raises(ClientError) as exc:
            call(executionArn=express_arn)
        assert code_of(exc) == ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'")
    standard = arn.replace(":stateMachine:", ":execution:") + ":x"
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=standard)
    assert code_of(exc) == ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{standard}'")
    with pytest.raises(ClientError) as exc:
        sfn.list_executions(stateMachineArn=arn)
    assert code_of(exc) == ("StateMachineTypeNotSupported",
                            "This operation is not supported by this type of state machine")
    with pytest.raises(ClientError) as exc:
        sfn.create_activity(name="a")
    assert code_of(exc)[0] == "UnknownOperationException"


# -- mocked integrations (MockConfigFile.json) ---------------------------------------------------------


MOCKED = definition({
    "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
               "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}],
               "ResultSelector": {"charged.$": "$.Payload.charged"}, "End": True},
})


def test_mock_config_test_cases(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="Mocked", definition=MOCKED, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    happy = sfn.start_sync_execution(stateMachineArn=f"{arn}#HappyPath", input="{}")
    assert loads(happy["output"]) == {"charged": True}
    retried = sfn.start_sync_execution(stateMachineArn=f"{arn}#RetryPath", input="{}")
    assert loads(retried["output"]) == {"charged": "late"}  # attempts 0, 1-2 throw; 3 returns
    started = sfn.start_execution(stateMachineArn=f"{arn}#HappyPath")
    assert started["executionArn"]
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=f"{arn}#NoSuchCase")
    assert code_of(exc)[0] == "ValidationException"
    # Without a test case the real resource runs: no 'charge' function exists here.
    real = sfn.start_sync_execution(stateMachineArn=arn)
    assert real["status"] == "FAILED" and real["error"] == "Lambda.ResourceNotFoundException"


# -- TestState -------------------------------------------------------------------------------------------


def test_test_state(sfn: Any) -> None:
    passed = sfn.test_state(definition=dumps({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Next": "After"}),
                            input='{"a": 5}')
    assert (passed["status"], loads(passed["output"]), passed["nextState"]) == ("SUCCEEDED", {"x": 5}, "After")

    choice = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 20, "Next": "Big"}],
              "Default": "Small"}
    assert sfn.test_state(definition=dumps(choice), input='{"n": 25}')["nextState"] == "Big"
    assert sfn.test_state(definition=dumps(choice), input='{"n": 2}')["nextState"] == "Small"

    failed = sfn.test_state(definition=dumps({"Type": "Fail", "Error": "SomeFailure", "Cause": "why"}))
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "SomeFailure", "why")

    task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://q/queue", "MessageBody.$": "$"},
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}], "End": True}
    ok = sfn.test_state(definition=dumps(task), input='{"m": 1}', inspectionLevel="DEBUG",
                        mock={"result": '{"MessageId": "id-1"}'})
    assert ok["status"] == "SUCCEEDED" and loads(ok["output"]) == {"MessageId": "id-1"}
    assert loads(ok["inspectionData"]["afterParameters"]) == {"QueueUrl": "https://q/queue", "MessageBody": {"m": 1}}
    retriable = sfn.test_state(definition=dumps(task), mock={"errorOutput": {"error": "Boom", "cause": "c"}})
    assert (retriable["status"], retriable["error"]) == ("RETRIABLE", "Boom")
    exhausted = sfn.test_state(definition=dumps(task), mock={"errorOutput": {"error": "Boom", "cause": "c"}},
                               stateConfiguration={"retrierRetryCount": 1})
    assert (exhausted["status"], exhausted["nextState"]) == ("CAUGHT_ERROR", "Handler")
    assert loads(exhausted["output"]) == {"Error": "Boom", "Cause": "c"}

    par = {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}],
           "End": True}
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps(par))
    assert code_of(exc)[0] == "InvalidDefinition"
    assert loads(sfn.test_state(definition=dumps(par), mock={"result": "[7]"})["output"]) == [7]
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps(par), mock={"result": "[1, 2]"})
    assert code_of(exc) == ("ValidationException",
                            "Mocked result must contain the same number of items as number of Parallel branches.")
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps(task))
    assert code_of(exc) == ("ValidationException", "RoleArn must be specified when testing a Task state")
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps({"Type": "Pass", "End": True}), mock={"result": "{}"})
    assert code_of(exc) == ("ValidationException", "State type 'Pass' is not supported when a mock is specified")

    full = definition({"S": {"Type": "Pass", "Next": "T"}, "T": {"Type": "Pass", "Result": 1, "End": True}})
    in_machine = sfn.test_state(definition=full, stateName="T", input="{}")
    assert (in_machine["status"], in_machine["output"]) == ("SUCCEEDED", "1")
    with_vars = sfn.test_state(definition=dumps({"Type": "Pass", "Parameters": {"v.$": "$x"}, "End": True}),
                               variables='{"x": 42}')
    assert loads(with_vars["output"]) == {"v": 42}
    # AWS's model limits the member to 262144 characters (the value, that long, is not shown).
    var_pass = dumps({"Type": "Pass", "End": True})
    room = 262144 - len(dumps({"x": ""}))
    assert sfn.test_state(definition=var_pass, variables=dumps({"x": "x" * room}))["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=var_pass, variables=dumps({"x": "x" * (room + 1)}))
    assert code_of(exc) == ("ValidationException", "1 validation error detected: Value at 'variables' failed to "
                            "satisfy constraint: Member must have length less than or equal to 262144")


def _inspect(sfn: Any, state: dict[str, Any], data: Any = None, **kwargs: Any) -> dict[str, Any]:
    """TestState at DEBUG: the response, with every inspectionData string member parsed as JSON."""
    if data is not None:
        kwargs["input"] = dumps(data)
    response = sfn.test_state(definition=dumps(state), inspectionLevel="DEBUG", **kwargs)
    return {**response, "inspection": {k: loads(v) if isinstance(v, str) else v
                                       for k, v in response["inspectionData"].items()}}


HELLO = {"Value": "HelloWorld"}
NESTED = {"initialData": {"fieldFromInput": "value from input", "otherField": "other"},
          "unrelatedData": {"someOtherField": 1234}}


def test_test_state_inspection_data_follows_the_data_flow(sfn: Any, server: Any) -> None:
    """The members AWS reports per state type (as recorded against AWS), in AWS's member order."""
    bare = _inspect(sfn, {"Type": "Pass", "End": True}, HELLO)["inspection"]
    assert bare == {"input": HELLO, "afterInputPath": HELLO, "afterParameters": HELLO,
                    "afterResultSelector": HELLO, "afterResultPath": HELLO}
    # (member order on the wire: boto3 reorders members by its model, so read the raw body)
    status, raw, _ = raw_post(server.port, dumps({"definition": dumps({"Type": "Pass", "End": True}),
                                                  "input": dumps(HELLO), "inspectionLevel": "DEBUG"}).encode(),
                              "AWSStepFunctions.TestState")
    assert status == 200 and list(raw["inspectionData"]) == ["input", "afterInputPath", "afterParameters",
                                                             "afterResultSelector", "afterResultPath"]

    result = {"resultKey": "result value"}
    with_result = _inspect(sfn, {"Type": "Pass", "Result": result, "End": True}, HELLO)["inspection"]
    assert with_result == {"input": HELLO, "result": result, "afterResultSelector": result,
                           "afterResultPath": result}

    io = {"Type": "Pass", "InputPath": "$.initialData", "ResultPath": "$.modifiedData", "End": True,
          "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"}}
    params = {"staticValue": "some value", "inputValue": "value from input"}
    got = _inspect(sfn, io, NESTED)["inspection"]
    assert got == {"input": NESTED, "afterInputPath": NESTED["initialData"], "afterParameters": params,
                   "afterResultSelector": params, "afterResultPath": {**NESTED, "modifiedData": params}}
    io_result = _inspect(sfn, {**io, "Result": result}, NESTED)["inspection"]
    assert "afterInputPath" not in io_result and "afterParameters" not in io_result
    assert io_result["afterResultPath"] == {**NESTED, "modifiedData": result}

    for state in ({"Type": "Succeed"}, {"Type": "Fail", "Error": "SomeFailure", "Cause": "why"},
                  {"Type": "Choice", "Choices": [{"Variable": "$.Value", "IsPresent": True, "Next": "Yes"}]}):
        assert _inspect(sfn, state, HELLO)["inspection"] == {"input": HELLO, "afterInputPath": HELLO}, state

    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.initialData",
            "Parameters": {"FunctionName": "f", "Payload.$": "$.fieldFromInput"},
            "ResultSelector": {"out.$": "$.Payload"}, "ResultPath": "$.done", "End": True}
    mocked = {"Payload": "ok", "StatusCode": 200}
    got = _inspect(sfn, task, NESTED, mock={"result": dumps(mocked)}, roleArn=ROLE)["inspection"]
    assert got == {"input": NESTED, "afterInputPath": NESTED["initialData"],
                   "afterParameters": {"FunctionName": "f", "Payload": "value from input"}, "result": mocked,
                   "afterResultSelector": {"out": "ok"}, "afterResultPath": {**NESTED, "done": {"out": "ok"}}}
    assert "inspectionData" not in sfn.test_state(definition=dumps(task), input=dumps(NESTED), roleArn=ROLE,
                                                  mock={"result": dumps(mocked)})


def test_test_state_inspection_data_of_jsonata_states_errors_and_maps(sfn: Any, server: Any) -> None:
    task = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "foo", "Payload": "{% $states.input.Value %}"},
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["MockException"], "Next": "Handle"}], "End": True}
    arguments = {"FunctionName": "foo", "Payload": "HelloWorld"}
    ok = _inspect(sfn, task, HELLO, mock={"result": '{"r": 1}'}, roleArn=ROLE)
    assert ok["inspection"] == {"input": HELLO, "afterArguments": arguments, "result": {"r": 1}}
    caught = _inspect(sfn, task, HELLO, mock={"errorOutput": {"error": "MockException", "cause": "c"}},
                      roleArn=ROLE)
    assert caught["status"] == "CAUGHT_ERROR"
    assert caught["inspection"] == {"input": HELLO, "afterArguments": arguments, "errorDetails": {"catchIndex": 0}}
    flaky = {"mock": {"errorOutput": {"error": "Flaky", "cause": "c"}}, "roleArn": ROLE}
    retriable = _inspect(sfn, task, HELLO, stateConfiguration={"retrierRetryCount": 4}, **flaky)
    assert retriable["status"] == "RETRIABLE"
    assert retriable["inspection"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 16}
    spent = _inspect(sfn, task, HELLO, stateConfiguration={"retrierRetryCount": 5}, **flaky)
    assert spent["status"] == "FAILED" and spent["inspection"]["errorDetails"] == {"retryIndex": 0}

    output = {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $x + 1 %}", "End": True}
    with_vars = _inspect(sfn, output, {"a": 1}, variables='{"x": 15}')
    assert loads(with_vars["output"]) == 16
    assert with_vars["inspection"] == {"input": {"a": 1}, "variables": {"x": 15}}
    assign = {**output, "Assign": {"y": "{% $x * 2 %}"}}
    assert _inspect(sfn, assign, {}, variables='{"x": 15}')["inspection"]["variables"] == {"x": 15, "y": 30}

    items = {"Type": "Map", "ItemsPath": "$.Values", "ToleratedFailureCount": 2, "End": True,
             "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    mapped = _inspect(sfn, items, {"Values": ["first", "second"]}, mock={"result": "[1, 2]"})
    assert mapped["inspection"] == {"input": {"Values": ["first", "second"]},
                                    "afterInputPath": {"Values": ["first", "second"]},
                                    "afterResultSelector": [1, 2], "afterResultPath": [1, 2],
                                    "afterItemsPath": ["first", "second"], "maxConcurrency": 0,
                                    "toleratedFailureCount": 2}
    status, raw, _ = raw_post(server.port, dumps({"definition": dumps(items), "inspectionLevel": "DEBUG",
                                                  "input": '{"Values": []}', "mock": {"result": "[]"}}).encode(),
                              "AWSStepFunctions.TestState")
    assert status == 200 and list(raw["inspectionData"])[-2:] == ["toleratedFailureCount", "maxConcurrency"]


# A context object as AWS's TestState takes it (the shape recorded against AWS).
CONTEXT = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:MyStateMachine:run-1",
                         "Input": {"message": "test data", "values": ["charizard", "pikachu", "bulbasaur"]},
                         "Name": "run-1", "RoleArn": ROLE, "StartTime": "2025-01-15T10:30:00.000Z"},
           "State": {"EnteredTime": "2025-01-15T10:30:01.500Z", "Name": "MyTaskState", "RetryCount": 0},
           "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:MyStateMachine",
                            "Name": "MyStateMachine"}}
WITH_MOCK = {"mock": {"result": '{"Payload": "ok"}'}, "roleArn": ROLE}


def test_test_state_context_is_the_whole_context_object(sfn: Any) -> None:
    """A given ``context`` is what ``$$`` reads, as it is (AWS merges no defaults in); without one, the run's own."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"FunctionName": "f", "Payload": {"input.$": "$$.Execution.Input",
                                                             "state.$": "$$.State.Name", "context.$": "$$"}}}
    given = _inspect(sfn, task, {"a": 1}, context=dumps(CONTEXT), **WITH_MOCK)
    assert given["status"] == "SUCCEEDED"
    assert given["inspection"]["afterParameters"]["Payload"] == {
        "input": CONTEXT["Execution"]["Input"], "state": "MyTaskState", "context": CONTEXT}

    # Nothing is filled in: empty members stay empty, an empty context is an empty $$ (both recorded against AWS),
    # and a member the caller left out is not there to read.
    whole = {**task, "Parameters": {"FunctionName": "f", "Payload.$": "$$"}}
    for context in ({"Execution": {}, "State": {}, "StateMachine": {}}, {}):
        got = _inspect(sfn, whole, {"a": 1}, context=dumps(context), **WITH_MOCK)
        assert got["inspection"]["afterParameters"]["Payload"] == context
    partial = sfn.test_state(definition=dumps(task), input='{"a": 1}', context='{"State": {"Name": "S"}}', **WITH_MOCK)
    assert (partial["status"], partial["error"]) == ("FAILED", "States.Runtime")

    # Omitted: the test run's own context object, as before.
    own = _inspect(sfn, task, {"a": 1}, **WITH_MOCK)["inspection"]["afterParameters"]["Payload"]
    assert own["input"] == {"a": 1} and own["state"] == "TestState"
    assert set(own["context"]) == {"Execution", "StateMachine", "State"}
    assert own["context"]["Execution"]["Id"].startswith("arn:aws:states:us-east-1:123456789012:express:TestState:")
    assert own["context"]["State"]["RetryCount"] == 0 and "EnteredTime" in own["context"]["State"]


def test_test_state_context_of_jsonata_states_and_map_items_path(sfn: Any) -> None:
    task = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "f", "Payload": "{% $states.context.Execution.Input.values[1] %}"},
            "Output": "{% $states.context %}", "End": True}
    given = _inspect(sfn, task, {"a": 1}, context=dumps(CONTEXT), **WITH_MOCK)
    assert given["inspection"]["afterArguments"] == {"FunctionName": "f", "Payload": "pikachu"}
    assert loads(given["output"]) == CONTEXT
    own = loads(sfn.test_state(definition=dumps(task), input='{"values": [1, 2]}', **WITH_MOCK)["output"])
    assert own["Execution"]["Input"] == {"values": [1, 2]} and own["State"]["Name"] == "TestState"

    # A Map's ItemsPath reads the given context too (recorded against AWS: afterItemsPath is the context's items).
    items = {"Type": "Map", "ItemsPath": "$$.Execution.Input.values", "End": True,
             "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    mapped = _inspect(sfn, items, ["fire", "grass"], context=dumps(CONTEXT), mock={"result": '["A", "B", "C"]'})
    assert mapped["inspection"]["afterItemsPath"] == ["charizard", "pikachu", "bulbasaur"]
    assert loads(mapped["output"]) == ["A", "B", "C"]


def test_test_state_context_is_checked(sfn: Any) -> None:
    """Only with a mock, only the context object's own members, each of its JSON type (AWS's messages)."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    invalid = "Invalid Context object provided: "
    for context, message in (
        ("[1, 2]", "Context object must be an object"),
        ('"text"', "Context object must be an object"),
        ('{"Execution": 5}', "Execution must be an object"),
        ('{"Execution": {"Id": 1}}', "Execution.Id must be a string"),
        ('{"State": {"RetryCount": true}}', "State.RetryCount must be an integer"),
        ('{"Execution": {"pokemon": "squirtle"}}', "Field 'pokemon' is not allowed"),
        ('{"Pokedex": {}}', "Field 'Pokedex' is not allowed"),
        ('{"Map": {}}', "'Map' field is not supported when mocking a Context object"),
        ('{"Task": {"Token": "abcd123"}}', "Context object contains 'Task' when state is not a Task state with a "
                                           "'.sync' or '.waitForTaskToken' service integration pattern"),
    ):
        with pytest.raises(ClientError) as exc:
            sfn.test_state(definition=dumps(task), context=context, **WITH_MOCK)
        assert code_of(exc) == ("ValidationException", invalid + message), context
    # AWS's model limits the member to 262144 characters (the value, that long, is not shown).
    room = 262144 - len(dumps({"Execution": {"Input": ""}}))
    fits = sfn.test_state(definition=dumps(task), context=dumps({"Execution": {"Input": "x" * room}}), **WITH_MOCK)
    assert fits["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=dumps(task), context=dumps({"Execution": {"Input": "x" * (room + 1)}}), **WITH_MOCK)
    assert code_of(exc) == ("ValidationException", "1 validation error detected: Value at 'context' failed to satisfy "
                            "constraint: Member must have length less than or equal to 262144")
    pass_state = dumps({"Type": "Pass", "Parameters": {"name.$": "$$.State.Name"}, "End": True})
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=pass_state, context=dumps(CONTEXT))
    assert code_of(exc) == ("ValidationException",
                            "A context may only be specified if a mock is specified in the same request.")
    with pytest.raises(ClientError) as exc:  # (and a Pass state takes no mock)
        sfn.test_state(definition=pass_state, context=dumps(CONTEXT), mock={"result": "{}"})
    assert code_of(exc) == ("ValidationException", "State type 'Pass' is not supported when a mock is specified")


# A callback Task as recorded against AWS (LocalStack's snapshot test_state_wait_task_context_object).
CALLBACK = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/test-queue",
                           "MessageBody": {"Message": "Hello from Step Functions!", "TaskToken.$": "$$.Task.Token"}},
            "ResultPath": "$.SQS", "Next": "NEXT_STATE"}
POKEMON = {"pokemon": ["charizard", "pikachu", "bulbasaur"]}


def _ending(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as the last state of a machine."""
    return {**{k: v for k, v in state.items() if k != "Next"}, "End": True}


def test_test_state_runs_callback_and_job_tasks_on_a_mock(sfn: Any) -> None:
    """With a mock, what only STANDARD workflows have runs: the mock is what the callback or job answered."""
    token = {**CONTEXT, "Task": {"Token": "abcd123"}}
    got = _inspect(sfn, CALLBACK, context=dumps(token), mock={"result": dumps(POKEMON)})  # (no roleArn needed)
    assert (got["status"], got["nextState"], loads(got["output"])) == ("SUCCEEDED", "NEXT_STATE", {"SQS": POKEMON})
    assert got["inspection"] == {
        "input": {}, "afterInputPath": {}, "afterParameters": {**CALLBACK["Parameters"], "MessageBody": {
            "Message": "Hello from Step Functions!", "TaskToken": "abcd123"}},
        "result": POKEMON, "afterResultSelector": POKEMON, "afterResultPath": {"SQS": POKEMON}}
    jsonata = {"Type": "Task", "QueryLanguage": "JSONata",
               "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
               "Arguments": {"FunctionName": "f", "Payload": {"token": "{% $states.context.Task.Token %}"}},
               "HeartbeatSeconds": 5, "TimeoutSeconds": 10, "End": True}
    got = _inspect(sfn, jsonata, context=dumps(token), mock={"result": '"done"'})
    assert got["inspection"]["afterArguments"]["Payload"] == {"token": "abcd123"} and got["output"] == '"done"'
    # Without a context the run's own context object has no Task.Token (chosen: AWS's answer is not recorded).
    bare = sfn.test_state(definition=dumps(CALLBACK), mock={"result": "{}"})
    assert (bare["status"], bare["error"]) == ("FAILED", "States.Runtime") and "$$.Task.Token" in bare["cause"]

    # A mocked error is the job's or the callback's failure: Retry and Catch read it as for any Task.
    job = {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "Parameters": {"Cluster": "c"},
           "Retry": [{"ErrorEquals": ["ECS.Stopped"], "MaxAttempts": 1}],
           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}], "End": True}
    failed = {"errorOutput": {"error": "ECS.Stopped", "cause": "exit 1"}}
    assert sfn.test_state(definition=dumps(job), mock=failed)["status"] == "RETRIABLE"
    caught = sfn.test_state(definition=dumps(job), mock=failed, stateConfiguration={"retrierRetryCount": 1})
    assert (caught["status"], caught["nextState"]) == ("CAUGHT_ERROR", "Handler")
    assert loads(caught["output"]) == {"Error": "ECS.Stopped", "Cause": "exit 1"}
    plain = {k: v for k, v in job.items() if k not in ("Retry", "Catch")}
    assert sfn.test_state(definition=dumps(plain), mock=failed)["status"] == "FAILED"
    for resource in ("arn:aws:states:::states:startExecution.sync:2",
                     "arn:aws:states:us-east-1:123456789012:activity:review"):
        ran = sfn.test_state(definition=dumps({"Type": "Task", "Resource": resource, "End": True}),
                             mock={"result": '{"Output": "ok"}'})
        assert loads(ran["output"]) == {"Output": "ok"}, resource

    # Without a mock: refused (the sentence of AWS's API reference; the exact text is not recorded), in a whole
    # definition too. Express workflows still refuse them with AWS's recorded message.
    for state in (CALLBACK, plain, {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                                  "End": True}):
        for request in ({"definition": dumps(state)},
                        {"definition": definition({"S": _ending(state)}), "stateName": "S"}):
            with pytest.raises(ClientError) as exc:
                sfn.test_state(roleArn=ROLE, **request)
            assert code_of(exc) == ("InvalidDefinition", "TestState only supports the following when a mock is "
                                    "specified: Activity tasks, .sync or .waitForTaskToken service integration "
                                    "patterns, Parallel, or Map states."), request
    with pytest.raises(ClientError) as exc:
        create(sfn, definition({"T": _ending(CALLBACK)}))
    assert code_of(exc)[0] == "InvalidDefinition"
    assert "Express state machine does not support '.waitForTaskToken' service integration" in code_of(exc)[1]


def test_test_state_mocked_map_needs_its_items_path_to_select_an_array(sfn: Any) -> None:
    """As recorded against AWS (LocalStack's snapshot test_state_map_context_object): States.Runtime, and no
    Map settings reported; a context path is shown from the context object's root."""
    items = ["fire", "grass"]
    mapped = {"Type": "Map", "MaxConcurrency": 1, "End": True,
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
    mock = {"result": '["A", "B"]'}
    for path, shown in (("$$", "$"), ("$$.Execution.Input", "$.Execution.Input"), ("$.Values", "$.Values")):
        got = _inspect(sfn, {**mapped, "ItemsPath": path}, {"Values": {"a": 1}}, context=dumps(CONTEXT), mock=mock)
        assert (got["status"], got["error"], got["cause"]) == (
            "FAILED", "States.Runtime", f'Reference path "{shown}" must point to array.'), path
        assert got["inspection"] == {"input": {"Values": {"a": 1}}, "afterInputPath": {"Values": {"a": 1}}}
    # Without ItemsPath the effective input is the items; a mocked error comes after them, and States.Runtime is
    # never caught.
    caught = {**mapped, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]}
    for request in ({"mock": mock}, {"mock": {"errorOutput": {"error": "E", "cause": "c"}}}):
        got = sfn.test_state(definition=dumps(caught), input='{"a": 1}', **request)
        assert (got["status"], got["cause"]) == ("FAILED", 'Reference path "$" must point to array.'), request
    assert sfn.test_state(definition=dumps(caught), input=dumps(items),
                          mock={"errorOutput": {"error": "E", "cause": "c"}})["status"] == "CAUGHT_ERROR"
    # A path that selects nothing fails as in a real run.
    missing = sfn.test_state(definition=dumps({**mapped, "ItemsPath": "$.nope"}), input="{}", mock=mock)
    assert (missing["status"], missing["error"], missing["cause"]) == (
        "FAILED", "States.Runtime", "Invalid path '$.nope' : No results for path: $['nope']")
    # The items found are afterItemsPath, $$ read in the run's own context object when none is given.
    own = _inspect(sfn, {**mapped, "ItemsPath": "$$.Execution.Input.Values"}, {"Values": items}, mock=mock)
    assert (own["status"], loads(own["output"])) == ("SUCCEEDED", ["A", "B"])
    assert own["inspection"]["afterItemsPath"] == items and own["inspection"]["maxConcurrency"] == 1
