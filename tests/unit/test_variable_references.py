"""DescribeStateMachine's ``variableReferences``: the recorded AWS cases, one per template.

Source: localstack tests/aws/services/stepfunctions/v2/test_sfn_api_variable_references.snapshot.json
(recorded against AWS, 2024-11-20); definitions from its templates/assign/statemachines/*.json5.
"""

from __future__ import annotations

from typing import Any

import pytest

from express_engine import Engine
from express_engine.asl.compiler import compile_definition


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def inline(start: str, **states: dict[str, Any]) -> dict[str, Any]:
    return {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": start, "States": states}


def distributed(start: str, **states: dict[str, Any]) -> dict[str, Any]:
    return {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": start,
            "States": states}


END = {"Type": "Pass", "End": True}
INTRINSIC_PARAMETERS = {
    "encodingOps": {"encoded.$": "States.Base64Encode($rawString)", "decoded.$": "States.Base64Decode($encodedString)"},
    "hashOps": {"hashValue.$": "States.Hash($inputString, 'SHA-256')"},
    "jsonOps": {"mergedJson.$": "States.JsonMerge($json1, $json2, false)",
                "parsedJson.$": "States.StringToJson($jsonString)",
                "stringifiedJson.$": "States.JsonToString($jsonObject)"},
    "mathOps": {"sum.$": "States.MathAdd($value1, $value2)"},
    "stringOps": {"splitString.$": "States.StringSplit($csvString, ',')",
                  "formattedString.$": "States.Format('Hello {}, welcome to {}!', $name, $place)"},
    "uuidOp": {"uniqueId.$": "States.UUID()"}}
ASSIGN_FROM_INTRINSICS = {
    "arrayOps": {"simpleArray.$": "States.Array('a', 'b', 'c')",
                 "partitionedArray.$": "States.ArrayPartition($.inputArray, 2)",
                 "numberRange.$": "States.ArrayRange(1, 10, 2)", "arraySize.$": "States.ArrayLength($.inputArray)"},
    "stringOps": {"formattedString.$": "States.Format('Hello {}, welcome to {}!', $.name, $.place)"},
    "uuidOp": {"uniqueId.$": "States.UUID()"}}
S3_READER = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}}

RECORDED: list[tuple[str, dict[str, Any], dict[str, list[str]] | None]] = [
    ("BASE_REFERENCE_IN_PARAMETERS", machine(
        State0={"Type": "Pass", "Parameters": {"result": "$result"}, "Assign": {"result": "foobar"}, "Next": "State1"},
        State1={"Type": "Pass", "ResultPath": "$.result", "Parameters": {"result.$": "$result"}, "End": True}),
     {"State1": ["result"]}),
    ("BASE_REFERENCE_IN_CHOICE", machine(
        Setup={"Type": "Pass", "Assign": {"guess": "the_guess", "answer": "the_answer"}, "Next": "CheckAnswer"},
        CheckAnswer={"Type": "Choice", "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer",
                                                    "Next": "CorrectAnswer"}], "Default": "WrongAnswer"},
        CorrectAnswer={"Type": "Pass", "Result": {"state": "CORRECT"}, "End": True},
        WrongAnswer={"Type": "Pass", "Assign": {"guess.$": "$answer"}, "Result": {"state": "WRONG"},
                     "Next": "CheckAnswer"}),
     {"CheckAnswer": ["answer", "guess"], "WrongAnswer": ["answer"]}),
    ("BASE_REFERENCE_IN_WAIT", machine(
        Start={"Type": "Pass", "Assign": {"waitTime": 0, "startAt": "2024-11-06T09:42:03Z"},
               "Next": "WaitSecondsState"},
        WaitSecondsState={"Type": "Wait", "SecondsPath": "$waitTime", "Next": "WaitUntilState"},
        WaitUntilState={"Type": "Wait", "TimestampPath": "$startAt", "End": True}),
     {"WaitSecondsState": ["waitTime"], "WaitUntilState": ["startAt"]}),
    ("BASE_REFERENCE_IN_ITERATOR_OUTER_SCOPE", machine(
        Input={"Type": "Pass", "Result": [[9, 44, 6], [82, 25, 76]], "Assign": {"bias": 4.3}, "Next": "IterateLevels"},
        IterateLevels={"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": inline(
            "AssignCurrentVector",
            AssignCurrentVector={"Type": "Pass", "Assign": {"xCurrent.$": "$[0]", "yCurrent.$": "$[1]",
                                                            "zCurrent.$": "$[2]"}, "Next": "Calculate"},
            Calculate={"Type": "Map", "MaxConcurrency": 1, "End": True, "ItemProcessor": inline(
                "Summate", Summate={"Type": "Pass", "End": True, "Assign": {"Sum.$": (
                    "States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)")}})})}),
     {"Summate": ["bias", "xCurrent", "yCurrent", "zCurrent"]}),
    ("BASE_REFERENCE_IN_INPUTPATH", machine(
        State0={"Type": "Pass", "Assign": {"theAnswer": 42}, "Next": "State1"},
        State1={"Type": "Pass", "InputPath": "$theAnswer", "End": True}),
     {"State1": ["theAnswer"]}),
    ("BASE_REFERENCE_IN_OUTPUTPATH", machine(
        State0={"Type": "Pass", "Result": {"answer": 42}, "Assign": {"theAnswer.$": "$.answer"}, "Next": "State1"},
        State1={"Type": "Pass", "OutputPath": "$theAnswer", "End": True}),
     {"State1": ["theAnswer"]}),
    ("BASE_REFERENCE_IN_INTRINSIC_FUNCTION", machine(
        State0={"Type": "Pass", "Assign": {"rawString": "Hello World", "value1": 5}, "Next": "State1"},
        State1={"Type": "Pass", "Parameters": INTRINSIC_PARAMETERS, "End": True}),
     {"State1": ["csvString", "encodedString", "inputString", "json1", "json2", "jsonObject", "jsonString", "name",
                 "place", "rawString", "value1", "value2"]}),
    ("BASE_REFERENCE_IN_FAIL", machine(
        Pass={"Type": "Pass", "Assign": {"errorVar": "Exception", "causeVar": "An Exception was encountered"},
              "Next": "Fail"},
        Fail={"Type": "Fail", "CausePath": "$causeVar", "ErrorPath": "$errorVar"}),
     {"Fail": ["causeVar", "errorVar"]}),
    ("BASE_ASSIGN_FROM_PARAMETERS", machine(
        State0={"Type": "Pass", "Parameters": {"input": "PENDING"}, "Assign": {"result.$": "$.input"},
                "Next": "State1"},
        State1={"Type": "Pass", "Assign": {"result": "SUCCESS", "originalResult.$": "$.input"}, "End": True}),
     None),
    ("BASE_ASSIGN_FROM_RESULT", machine(
        State0={"Type": "Pass", "Result": {"answer": 42}, "Assign": {"theAnswer.$": "$.answer"}, "End": True}),
     None),
    ("BASE_ASSIGN_FROM_INTRINSIC_FUNCTION", machine(
        State0={"Type": "Pass", "Result": {"inputArray": [1, 2, 3], "name": "John", "place": "LocalStack"},
                "Assign": ASSIGN_FROM_INTRINSICS, "End": True}),
     None),
    ("BASE_EVALUATION_ORDER_PASS_STATE", machine(
        State0={"Type": "Pass", "Result": {"theQuestion": "What is the answer?"},
                "Assign": {"question.$": "$.theQuestion", "answer": 42}, "Next": "State1"},
        State1={"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer", "OutputPath": "$answer",
                "Assign": {"answer": ""}, "End": True}),
     {"State1": ["answer"]}),
    ("MAP_STATE_REFERENCE_IN_INTRINSIC_FUNCTION", machine(
        Start={"Type": "Pass", "Assign": {"AnswerTemplate": "It's {}!", "Question": "Who's that Pokemon?"},
               "Result": ["Charizard", "Pikachu"], "Next": "MapIterateState"},
        MapIterateState={"Type": "Map", "MaxConcurrency": 1, "End": True,
                         "ItemSelector": {"AnnouncePokemon.$": "States.Format($AnswerTemplate, $$.Map.Item.Value)"},
                         "ItemProcessor": inline("Pass", Pass={"Type": "Pass", "End": True, "Parameters": {
                             "Question.$": "$Question", "Answer.$": "$.AnnouncePokemon"}})}),
     {"MapIterateState": ["AnswerTemplate"], "Pass": ["Question"]}),
    ("MAP_STATE_REFERENCE_IN_ITEMS_PATH", machine(
        Start={"Type": "Pass", "Assign": {"Question": "Who's that Pokemon?", "PokemonList": ["Charizard"]},
               "Result": {"AnswerTemplate": "It's {}!"}, "Next": "MapIterateState"},
        MapIterateState={"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$PokemonList", "End": True,
                         "ItemSelector": {"AnnouncePokemon.$": "States.Format($.AnswerTemplate, $$.Map.Item.Value)"},
                         "ItemProcessor": inline("Pass", Pass={"Type": "Pass", "End": True, "Parameters": {
                             "Question.$": "$Question", "Answer.$": "$.AnnouncePokemon"}})}),
     {"MapIterateState": ["PokemonList"], "Pass": ["Question"]}),
    ("MAP_STATE_REFERENCE_IN_MAX_CONCURRENCY_PATH", machine(
        Start={"Type": "Pass", "Assign": {"maxConcurrency": "1"}, "Result": {"Values": [1, 2, 3]},
               "Next": "MapState"},
        MapState={"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$maxConcurrency", "End": True,
                  "ItemProcessor": inline("HandleItem", HandleItem=END)}),
     {"MapState": ["maxConcurrency"]}),
    ("MAP_STATE_REFERENCE_IN_TOLERATED_FAILURE_PATH", machine(
        Start={"Type": "Pass", "Assign": {"toleratedFailurePercentage": "1", "toleratedFailureCount": "1"},
               "Result": {"Values": [1, 2, 3]}, "Next": "MapState"},
        MapState={"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrency": 1, "End": True,
                  "ItemProcessor": distributed("HandleItem", HandleItem=END),
                  "ToleratedFailurePercentagePath": "$toleratedFailurePercentage",
                  "ToleratedFailureCountPath": "$toleratedFailureCount"}),
     {"MapState": ["toleratedFailureCount", "toleratedFailurePercentage"]}),
    ("MAP_STATE_REFERENCE_IN_ITEM_SELECTOR", machine(
        Start={"Type": "Pass", "Assign": {"bucket": "test-name"}, "Result": {"Values": [1, 2, 3]},
               "Next": "MapState"},
        MapState={"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$.Values", "End": True,
                  "ItemSelector": {"value.$": "$$.Map.Item.Value", "bucketName": "$bucket"},
                  "ItemProcessor": distributed("MapPass", MapPass=END)}),
     None),
    ("MAP_STATE_REFERENCE_IN_MAX_ITEMS_PATH", machine(
        Start={"Type": "Pass", "Assign": {"maxItems": "2"}, "Next": "MapState"},
        MapState={"Type": "Map", "MaxConcurrency": 1, "End": True,
                  "ItemReader": {"ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$maxItems"}, **S3_READER},
                  "ItemProcessor": distributed("PassItem", PassItem=END)}),
     {"MapState": ["maxItems"]}),
    ("CHOICE_CONDITION_CONSTANT_JSONATA", machine(
        ChoiceState={"Type": "Choice", "QueryLanguage": "JSONata", "Default": "DefaultState",
                     "Choices": [{"Condition": True, "Next": "ConditionTrue"}]},
        ConditionTrue=END, DefaultState={"Type": "Fail", "Cause": "Condition is false"}),
     None),
    ("CHOICE_STATE_UNSORTED_CHOICE_PARAMETERS_JSONATA", machine(
        CheckResult={"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [
            {"Condition": "{% $states.input.result.done %}", "Next": "FinishTrue"},
            {"Condition": "{% $not($states.input.result.done) %}", "Next": "FinishFalse"}]},
        FinishTrue={"End": True, "Type": "Pass"}, FinishFalse={"End": True, "Type": "Pass"}),
     None),
]


@pytest.mark.parametrize(("definition", "expected"), [pytest.param(d, e, id=name) for name, d, e in RECORDED])
def test_recorded_variable_references(definition: dict[str, Any], expected: dict[str, list[str]] | None) -> None:
    references = compile_definition(definition, sm_type="STANDARD").variable_references
    assert {k: list(v) for k, v in references.items()} == (expected or {})


def test_describe_omits_variable_references_when_there_are_none() -> None:
    engine = Engine()
    none = engine.create_state_machine("none", machine(P={"Type": "Pass", "Parameters": {"a": "$notAReference"},
                                                          "End": True}))
    assert "variableReferences" not in none.describe()
    some = engine.create_state_machine("some", machine(P={"Type": "Pass", "InputPath": "$v", "End": True}))
    assert some.describe()["variableReferences"] == {"P": ["v"]}


@pytest.mark.parametrize(("expression", "expected"), [
    ("$x + $y + $count([1]) + ($z := 3; $z)", ["x", "y"]),  # built-ins and names bound inside do not count
    ("$states.input.a", []),
    ("($a := $a + 1; $a)", ["a"]),  # read before being bound: the outer (workflow) variable
    ("($f := function($n){ $n <= 0 ? $k : $f($n - 1) }; $f(3))", ["k"]),  # recursion, parameters
    ("$states.input.items@$i#$pos.[$i, $pos, $w]", ["w"]),  # focus and index bindings
    ("$string($v) & 'literal $notRead'", ["v"]),
])
def test_jsonata_references_are_the_free_variables(expression: str, expected: list[str]) -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "S", "States": {
        "S": {"Type": "Pass", "Output": "{% " + expression + " %}", "End": True}}}
    assert list(compile_definition(definition).variable_references.get("S", ())) == expected


def test_jsonata_references_in_every_field_of_the_state() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $c %}", "Output": "{% $o %}", "Assign": {"x": "{% $a %}"},
                                             "Next": "M"}], "Default": "M"},
        "M": {"Type": "Map", "Items": "{% $items %}", "MaxConcurrency": "{% $mc %}",
              "ToleratedFailureCount": "{% $tc %}",
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $co %}", "Next": "T"}], "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
              "Arguments": {"a": ["{% $arg %}"]}, "TimeoutSeconds": "{% $t %}", "HeartbeatSeconds": "{% $hb %}",
              "End": True}}}
    references = compile_definition(definition).variable_references
    assert references == {"C": ("a", "c", "o"), "M": ("co", "items", "mc", "tc"), "T": ("arg", "hb", "t")}


def test_jsonpath_references_in_choice_rules_catchers_and_intrinsics() -> None:
    definition = machine(
        C={"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$v1", "IsPresent": True}, {"Not": {"Variable": "$.x", "NumericEqualsPath": "$v2"}}],
             "Assign": {"n.$": "States.Format('{} $literal', $v3)", "plain": "$literal"}, "Next": "T"}],
           "Default": "T"},
        T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
           "Parameters": {"deep": [{"k.$": "$$.Execution.Id"}, {"k2.$": "$v4.field[0]"}]},
           "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"e.$": "$v5"}, "Next": "E"}], "End": True},
        E={"Type": "Succeed"})
    references = compile_definition(definition).variable_references
    assert references == {"C": ("v1", "v2", "v3"), "T": ("v4", "v5")}
