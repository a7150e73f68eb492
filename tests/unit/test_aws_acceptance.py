"""Definitions AWS accepts are accepted, definitions AWS refuses are refused, with AWS's texts.

Each test names its AWS evidence: a documentation page, a recorded conformance case (LocalStack's
AWS-validated snapshots, in ../shared/conformance) or a machine AWS deploys (its public samples).
"""

from __future__ import annotations

from typing import Any

import pytest

from express_engine import Engine
from express_engine.asl.optimized_integrations import ENGINE_ACTIONS, OPTIMIZED_ACTIONS
from express_engine.service_errors import InvalidDefinition

SCHEMA = "SCHEMA_VALIDATION_FAILED"
LAMBDA_FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": "X", "States": {"X": state}, **top}


def problems(definition: dict[str, Any], sm_type: str = "EXPRESS") -> list[tuple[str, str, str]]:
    return [(d.code, d.message, d.location) for d in Engine.validate(definition, sm_type=sm_type)]


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return one({"Type": "Task", "Resource": resource, "End": True, **fields})


# -- ErrorEquals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["States.QuorumMet", "States.RanOutOfTime", "States.FauxFailure1",
                                  "States.TaskFailedId"])
def test_error_equals_may_match_unknown_states_names(name: str) -> None:
    # AWS deploys its own sample machines retrying and catching these names (aws-samples step-functions
    # workflows); the ASL text only forbids *raising* "States." names a state did not define.
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA_FN, "Retry": [{"ErrorEquals": [name]}],
              "Catch": [{"ErrorEquals": [name, "States.ALL"][:1], "Next": "H"}], "End": True},
        "H": {"Type": "Pass", "End": True}}}
    assert problems(definition) == []
    assert problems(definition, "STANDARD") == []


def test_states_all_must_still_come_alone_and_last() -> None:
    definition = task(LAMBDA_FN, Retry=[{"ErrorEquals": ["States.ALL", "E"]}])
    assert problems(definition) == [
        (SCHEMA, "States.ALL must appear alone and at end of list", "/States/X/Retry[0]/ErrorEquals")]


# -- Parameters, Credentials, variables, OutputPath -----------------------------------------------------

async def test_parameters_may_be_an_array_and_its_objects_are_templates(run: Any) -> None:
    # An AWS sample Pass state deployed as EXPRESS has an array Parameters (asl-validator's
    # valid-parameters-array fixture holds the same shape).
    state = {"Type": "Pass", "Parameters": [{"id.$": "$$.Execution.Name", "a.$": "$.a"}, 1],
             "ResultPath": "$.d", "End": True}
    res = await run(one(state), {"a": 5})
    assert res["status"] == "SUCCEEDED", res
    assert res["output"]["d"][0]["a"] == 5 and res["output"]["d"][1] == 1


def test_parameters_of_another_type_is_refused() -> None:
    assert problems(one({"Type": "Pass", "Parameters": "x", "End": True})) == [
        (SCHEMA, "Expected value of type [OBJECT]", "/States/X/Parameters")]


def test_credentials_role_arn_may_be_a_path() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-access-cross-acct-resources.html
    # ("Credentials": {"RoleArn.$": "$.roleArn"}).
    assert problems(task(LAMBDA_FN, Credentials={"RoleArn.$": "$.roleArn"})) == []
    # Recorded: credentials_base test_invalid_credentials_field[EMPTY_CREDENTIALS].
    assert problems(task(LAMBDA_FN, Credentials={})) == [
        (SCHEMA, "The field 'RoleArn' is required but was missing", "/States/X/Credentials")]


def test_variable_names_with_a_dash_are_refused() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html: a variable name starts
    # with a Unicode ID_Start character and continues with ID_Continue characters ('-' is neither).
    found = problems(one({"Type": "Pass", "Assign": {"a-b": 1}, "End": True}))
    assert [(code, loc) for code, _, loc in found] == [(SCHEMA, "/States/X/Assign/a-b")]
    assert problems(one({"Type": "Pass", "Assign": {"a_b": 1, "é1": 2}, "End": True})) == []


@pytest.mark.parametrize("name", ["a-b", "1a", "a b", "a.b", "a$", "x" * 81, "states", "-", "\u0301a"])
def test_variable_names_that_are_not_unicode_identifiers_are_refused(name: str) -> None:
    # workflow-variables.html, "Variable name syntax": ID_Start then ID_Continue (Unicode Standard Annex #31),
    # at most 80 characters; $states is reserved. AWS's own wording of this refusal is not recorded.
    found = problems(one({"Type": "Pass", "Assign": {name: 1}, "End": True}))
    assert [(code, loc) for code, _, loc in found] == [(SCHEMA, f"/States/X/Assign/{name}")]


@pytest.mark.parametrize("name", ["a", "_a", "a1", "café", "x" * 80, "Δx", "a\u0301", "名前", "a_b_C9"])
def test_unicode_identifier_variable_names_are_accepted(name: str) -> None:
    assert problems(one({"Type": "Pass", "Assign": {name: 1}, "End": True})) == []


def test_locations_inside_arrays_use_aws_index_notation() -> None:
    # AWS writes array items as ``Name[i]`` (a CloudFormation error quoted in public code:
    # "Field '_comment' is not supported at /States/.../RefreshOneRetailer/Catch[0]"), for the compiler's
    # diagnostics too: a Choice rule, a rule nested in And, a Parallel branch.
    def choice(rule: dict[str, Any]) -> dict[str, Any]:
        return {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule], "Default": "E"},
                                           "E": {"Type": "Pass", "End": True}}}

    bad = {"Variable": "$.a.", "StringEquals": "x", "Next": "E"}
    assert [loc for _, _, loc in problems(choice(bad))] == ["/States/C/Choices[0]/Variable"]
    nested = {"And": [{"Variable": "$.a", "IsPresent": True}, bad], "Next": "E"}
    assert [loc for _, _, loc in problems(choice({**nested, "And": [nested["And"][0], {
        k: v for k, v in bad.items() if k != "Next"}]}))] == ["/States/C/Choices[0]/And[1]/Variable"]
    branch = one({"Type": "Parallel", "End": True, "Branches": [{"StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": "$.a.", "End": True}}}]})
    assert [loc for _, _, loc in problems(branch)] == ["/States/X/Branches[0]/States/P/InputPath"]


async def test_output_path_may_read_the_context_object(run: Any) -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html: paths starting
    # with "$$." select from the context object, in any path field.
    res = await run(one({"Type": "Pass", "OutputPath": "$$.Execution.Input", "Result": 1, "End": True}), {"k": 2})
    assert (res["status"], res["output"]) == ("SUCCEEDED", {"k": 2})


# -- one rule set for both workflow types ----------------------------------------------------------------

SAME_FOR_BOTH_TYPES = [
    # asl-validator's surround-syntax fixtures: AWS treats a string as JSONata only when it starts with "{%" and
    # ends with "%}" (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html), so these
    # are an expression with extra white space and two literal strings.
    one({"Type": "Pass", "Output": "{% \n10         %}", "QueryLanguage": "JSONata", "End": True}),
    one({"Type": "Pass", "Output": "10 %}", "QueryLanguage": "JSONata", "End": True}),
    one({"Type": "Pass", "Output": "{% 10 %", "QueryLanguage": "JSONata", "End": True}),
    one({"Type": "Pass", "Output": "{% $states.input. %}", "End": True}, QueryLanguage="JSONata"),
    one({"Type": "Pass", "Parameters": {"foo.$": "States.MathAdd(1,'-1')"}, "End": True}),
    one({"Type": "Pass", "Parameters": {"foo.$": "States.MathAdd(1)"}, "End": True}),
    one({"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}, "End": True}),
    task("arn:aws:states:::dynamodb:query"),
    task("arn:aws:states:::lambda:invoke", Retry=[{"ErrorEquals": ["States.QuorumMet"]}]),
]


@pytest.mark.parametrize("definition", SAME_FOR_BOTH_TYPES)
def test_standard_and_express_share_one_rule_set(definition: dict[str, Any]) -> None:
    assert problems(definition, "STANDARD") == problems(definition, "EXPRESS")


def test_only_express_refuses_callbacks_and_jobs() -> None:
    # Recorded: test_sfn_api_validation test_validate_state_machine_definition_type_express[ILLEGAL_WFTT].
    definition = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    assert problems(definition, "STANDARD") == []
    assert problems(definition, "EXPRESS") == [
        (SCHEMA, "Express state machine does not support '.waitForTaskToken' service integration ",
         "/States/X/Resource")]


# -- optimized integrations ------------------------------------------------------------------------------

NOT_RECOGNIZED = ("The resource provided {} is not recognized. The value is not a valid resource ARN, or the "
                  "resource is not available in this region.")


@pytest.mark.parametrize("resource", ["arn:aws:states:::dynamodb:query", "arn:aws:states:::dynamodb:scan",
                                      "arn:aws:states:::s3:getObject", "arn:aws:states:::sqs:receiveMessage",
                                      "arn:aws:states:::nosuchservice:doIt", "arn:aws:states:::lambda"])
@pytest.mark.parametrize("sm_type", ["EXPRESS", "STANDARD"])
def test_unknown_optimized_integrations_are_refused(resource: str, sm_type: str) -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html: "Only GetItem, PutItem,
    # UpdateItem, and DeleteItem API actions are available through optimized integration".
    assert problems(task(resource), sm_type) == [(SCHEMA, NOT_RECOGNIZED.format(resource), "/States/X/Resource")]


def test_refused_at_create_time_not_at_run_time() -> None:
    with pytest.raises(InvalidDefinition) as info:
        Engine().create_state_machine("q", task("arn:aws:states:::dynamodb:query"))
    assert "The resource provided arn:aws:states:::dynamodb:query is not recognized" in str(info.value)


DOCUMENTED = sorted(f"arn:aws:states:::{service}:{action}"
                    for table in (OPTIMIZED_ACTIONS, ENGINE_ACTIONS) for service, actions in table.items()
                    for action in actions)


def test_every_documented_optimized_action_and_the_sdk_integrations_are_accepted() -> None:
    accepted = [*DOCUMENTED, "arn:aws:states:::aws-sdk:dynamodb:query", "arn:aws:states:::aws-sdk:s3:getObject",
                "arn:aws-us-gov:states:::dynamodb:getItem", LAMBDA_FN, "arn:aws:lambda:us-east-1:1:function:f:$LATEST"]
    assert {r: problems(task(r), "STANDARD") for r in accepted} == {r: [] for r in accepted}
    patterns = ["arn:aws:states:::states:startExecution.sync:2", "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "arn:aws:states:::aws-sdk:ec2:describeInstances.waitForTaskToken"]
    assert {r: problems(task(r), "STANDARD") for r in patterns} == {r: [] for r in patterns}


@pytest.mark.parametrize("resource", [
    # AWS's refusals as CloudFormation reported them (quoted in public code): DynamoDB has no callback, Glue no
    # ``.sync:2``; and per https://docs.aws.amazon.com/step-functions/latest/dg/connect-supported-services.html
    # Lambda, SNS and SQS have no ``.sync``, Athena and Batch no ``.waitForTaskToken``, the SDK integrations no
    # ``.sync``, and the HTTP Task only Request Response.
    "arn:aws:states:::dynamodb:putItem.waitForTaskToken", "arn:aws:states:::glue:startJobRun.sync:2",
    "arn:aws:states:::lambda:invoke.sync", "arn:aws:states:::sns:publish.sync", "arn:aws:states:::sqs:sendMessage.sync",
    "arn:aws:states:::athena:startQueryExecution.waitForTaskToken", "arn:aws:states:::batch:submitJob.waitForTaskToken",
    "arn:aws:states:::aws-sdk:s3:listBuckets.sync", "arn:aws:states:::http:invoke.waitForTaskToken",
    "arn:aws:states:::ecs:runTask.sync:2",
])
def test_an_integration_pattern_the_service_does_not_offer_is_refused(resource: str) -> None:
    assert problems(task(resource), "STANDARD") == [(SCHEMA, NOT_RECOGNIZED.format(resource), "/States/X/Resource")]


@pytest.mark.parametrize("resource", [
    "arn:aws:states:::glue:startJobRun.sync", "arn:aws:states:::ecs:runTask.waitForTaskToken",
    "arn:aws:states:::ecs:runTask.sync", "arn:aws:states:::batch:submitJob.sync",
    "arn:aws:states:::events:putEvents.waitForTaskToken", "arn:aws:states:::apigateway:invoke.waitForTaskToken",
    "arn:aws:states:::states:startExecution.sync", "arn:aws:states:::states:startExecution.waitForTaskToken",
    "arn:aws:states:::codebuild:startBuild.sync", "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
])
def test_the_documented_integration_patterns_are_accepted(resource: str) -> None:
    assert problems(task(resource), "STANDARD") == []


# -- run-time cause texts of path fields -----------------------------------------------------------------

def _map(**fields: Any) -> dict[str, Any]:
    return one({"Type": "Map", "ItemsPath": "$.items", "End": True, **fields,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}})


PREFIX = "An error occurred while executing the state 'X' (entered at the event id #2). "


@pytest.mark.parametrize(("value", "shown"), [("NoNumber", "NoNumber"), ({"a": 1}, '{"a":1}'), ([1], "[1]"),
                                              (True, "true")])
async def test_tolerated_failure_percentage_path_at_a_non_number(run: Any, value: Any, shown: str) -> None:
    # Worded as AWS's recorded ToleratedFailureCountPath cause (test_map_state_tolerated_failure_count_path
    # [NoNumber]: 'The ToleratedFailureCountPath field refers to value "NoNumber" which is not a valid integer:
    # $.ToleratedFailureCount'), the percentage being a float.
    res = await run(_map(ToleratedFailurePercentagePath="$.pct"), {"items": [1], "pct": value})
    assert (res["status"], res["error"], res["cause"]) == (
        "FAILED", "States.Runtime",
        PREFIX + f'The ToleratedFailurePercentagePath field refers to value "{shown}" which is not a valid float: '
        "$.pct")


async def test_tolerated_failure_count_path_at_an_object(run: Any) -> None:
    res = await run(_map(ToleratedFailureCountPath="$.n"), {"items": [1], "n": {"a": 1}})
    assert res["cause"] == PREFIX + ('The ToleratedFailureCountPath field refers to value "{"a":1}" which is not a '
                                     "valid integer: $.n")


async def test_tolerated_failure_percentage_path_out_of_range(run: Any) -> None:
    # Recorded: test_map_state_tolerated_failure_percentage_path[-1].
    res = await run(_map(ToleratedFailurePercentagePath="$.pct"), {"items": [1], "pct": -1})
    assert res["cause"] == PREFIX + "ToleratedFailurePercentage must be between 0 and 100."


async def test_output_path_selecting_nothing(run: Any) -> None:
    # Recorded: test_catch_states_runtime ("Invalid path '$.no.such.result.path' : Missing property in path
    # $['no']") and test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_INPUTPATH].
    res = await run(one({"Type": "Pass", "OutputPath": "$.no.such.path", "End": True}), {"a": 1})
    assert (res["error"], res["cause"]) == (
        "States.Runtime", PREFIX + "Invalid path '$.no.such.path' : Missing property in path $['no']")
    res = await run(one({"Type": "Pass", "InputPath": "$.nope", "End": True}), {"a": 1})
    assert res["cause"] == PREFIX + "Invalid path '$.nope' : No results for path: $['nope']"


# Jayway JsonPath (AWS's) tells a missing property before the last step ("Missing property in path", up to it)
# from a last step that finds nothing ("No results for path:", the whole path), whichever field reads the path:
# both forms are recorded (test_catch_states_runtime on an OutputPath, test_invalid_jsonpath on an InputPath).
JAYWAY = [
    ("$.nope", {"a": 1}, "No results for path: $['nope']"),
    ("$.a.nope", {"a": {"b": 1}}, "No results for path: $['a']['nope']"),
    ("$.no.such.path", {"a": 1}, "Missing property in path $['no']"),
    ("$.a.no.c", {"a": {"b": 1}}, "Missing property in path $['a']['no']"),
    ("$.a[5]", {"a": [1]}, "No results for path: $['a'][5]"),
]


@pytest.mark.parametrize(("path", "data", "message"), JAYWAY)
@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
async def test_input_and_output_path_selecting_nothing_read_as_jayway_says(
        run: Any, field: str, path: str, data: Any, message: str) -> None:
    res = await run(one({"Type": "Pass", field: path, "End": True}), data)
    assert (res["error"], res["cause"]) == ("States.Runtime", PREFIX + f"Invalid path '{path}' : {message}")


@pytest.mark.parametrize(("path", "data", "message"), JAYWAY)
async def test_items_path_selecting_nothing_reads_as_jayway_says(run: Any, path: str, data: Any, message: str) -> None:
    res = await run(_map(ItemsPath=path), data)
    assert (res["error"], res["cause"]) == ("States.Runtime", PREFIX + f"Invalid path '{path}' : {message}")


async def test_a_dot_before_a_bracket_is_jayways_bracket(run: Any) -> None:
    # AWS's account-vending-machine sample (aws-samples/step-functions-workflows-collection) deploys a
    # ResultSelector "$.[?(@.OU > 0)]"; Jayway reads ``$.[...]`` as ``$[...]``.
    state = {"Type": "Pass", "Parameters": {"hit.$": "$.[?(@.OU > 0)]", "b.$": "$.['x']"}, "End": True}
    assert problems(one(state)) == []
    res = await run(one({"Type": "Pass", "OutputPath": "$.[?(@.OU > 0)]", "End": True}), [{"OU": 1}, {"OU": 0}])
    assert res["output"] == [{"OU": 1}]


@pytest.mark.parametrize("field", ["ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "MaxConcurrencyPath"])
async def test_map_path_fields_selecting_nothing_share_one_wording(run: Any, field: str) -> None:
    # AWS's text for these is not recorded (README, "Where we knowingly differ"): one wording for all three.
    res = await run(_map(**{field: "$.missing"}), {"items": [1]})
    assert (res["error"], res["cause"]) == (
        "States.Runtime", PREFIX + f"The {field} field refers to a path that does not exist: $.missing")


# -- Map batching and reader limits -----------------------------------------------------------------------

def test_item_batcher_and_reader_limits_exclude_their_path_twins() -> None:
    # input-output-itembatcher.html / input-output-itemreader.html: "specify either ..., but not both"
    # (asl-validator's invalid-map-item-batcher-dupe-subfields and invalid-map-distributed fixtures).
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "L",
                 "States": {"L": {"Type": "Pass", "End": True}}}
    batcher = {"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.b", "MaxInputBytesPerBatch": 1024,
               "MaxInputBytesPerBatchPath": "$.b"}
    reader = {"ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 1,
                               "MaxItemsPath": "$.n"},
              "Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}}
    definition = one({"Type": "Map", "ItemProcessor": processor, "ItemBatcher": batcher, "ItemReader": reader,
                      "End": True})
    for sm_type in ("EXPRESS", "STANDARD"):
        assert problems(definition, sm_type) == [
            (SCHEMA, "There should only be one of the following fields: [MaxItemsPerBatch, MaxItemsPerBatchPath]",
             "/States/X/ItemBatcher"),
            (SCHEMA, "There should only be one of the following fields: [MaxInputBytesPerBatch, "
             "MaxInputBytesPerBatchPath]", "/States/X/ItemBatcher"),
            (SCHEMA, "There should only be one of the following fields: [MaxItems, MaxItemsPath]",
             "/States/X/ItemReader/ReaderConfig"),
        ]
    batcher_ok = {"MaxItemsPerBatch": 2, "MaxInputBytesPerBatchPath": "$.b"}
    assert problems(one({"Type": "Map", "ItemProcessor": processor, "ItemBatcher": batcher_ok, "End": True})) == []
