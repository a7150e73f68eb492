"""Structural validation of ASL definitions (express_engine.asl.validate)."""

from __future__ import annotations

import copy
import glob
import json
import os
from typing import Any

import pytest

from express_engine.asl.definition_json import MAX_NESTING_DEPTH, parse_definition
from express_engine.asl.validate import validate_definition
from express_engine.errors import DefinitionError

SCHEMA = "SCHEMA_VALIDATION_FAILED"
TARGET = "MISSING_TRANSITION_TARGET"
LAMBDA = "arn:aws:states:::lambda:invoke"
CASES_DIR = "/work/shared/conformance/cases/public"


def diags(definition: dict[str, Any], **kw: Any) -> list[tuple[str, str, str]]:
    """Diagnostics as (code, message, location) tuples."""
    return [(d.code, d.message, d.location) for d in validate_definition(definition, **kw)]


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    """A definition whose StartAt is the first state unless given."""
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A one-state machine named X."""
    return machine({"X": state}, **top)


def pass_end() -> dict[str, Any]:
    return {"Type": "Pass", "End": True}


# ---- parse_definition ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n"])
def test_blank_text_is_not_a_json_object(text: str) -> None:
    parsed, problems = parse_definition(text)
    assert parsed is None
    assert [(d.code, d.message, d.location) for d in problems] == [
        (SCHEMA, "Definition must be a valid JSON object", "")
    ]


@pytest.mark.parametrize("text", ["[1]", '"x"', "1", "null"])
def test_json_that_is_not_an_object(text: str) -> None:
    parsed, problems = parse_definition(text)
    assert parsed is None
    assert [(d.code, d.message) for d in problems] == [(SCHEMA, "Definition must be a valid JSON object")]


def test_not_json_gives_aws_jackson_diagnostic() -> None:
    # [AWS-rec] ValidateStateMachineDefinition on "not a definition".
    parsed, problems = parse_definition("not a definition")
    assert parsed is None
    source = '[Source: (String)"not a definition"; line: 1, column: 4]'
    assert [d.to_dict() for d in problems] == [
        {
            "severity": "ERROR",
            "code": "INVALID_JSON_DESCRIPTION",
            "message": "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
            f"'null', 'true' or 'false')\n at {source}",
            "location": source,
        }
    ]


def test_unexpected_characters_are_worded_like_jackson() -> None:
    _, (d,) = parse_definition('{"a":\n 1,}')
    assert d.code == "INVALID_JSON_DESCRIPTION"
    assert d.message.startswith("Unexpected character ('}' (code 125)): was expecting double-quote to start field "
                                "name\n at [Source: (String)")
    assert d.location.endswith("line: 2, column: 4]")
    _, (d,) = parse_definition('{"a": [1, ]}')
    assert d.message.startswith("Unexpected character (']' (code 93)): expected a value\n")
    _, (d,) = parse_definition('{"a": }')
    assert d.message.startswith("Unexpected character ('}' (code 125)): expected a value\n")


def test_other_json_errors_keep_the_parser_message_and_position() -> None:
    _, (d,) = parse_definition('{"a":\n 1')
    assert d.code == "INVALID_JSON_DESCRIPTION"
    assert d.message.startswith("unexpected end of data\n at [Source: (String)")
    assert d.location.endswith("line: 2, column: 3]")


def test_long_text_is_truncated_in_the_source_excerpt() -> None:
    text = "[" + " " * 600 + "oops]"
    _, (d,) = parse_definition(text)
    assert d.message.startswith("Unrecognized token 'oops'")
    assert d.location == f'[Source: (String)"{text[:500]}"[truncated 106 chars]; line: 1, column: 606]'


def test_valid_text_parses_and_duplicate_keys_keep_the_last_value() -> None:
    parsed, problems = parse_definition('{"StartAt": "A", "StartAt": "B", "States": {}}')
    assert problems == []
    assert parsed == {"StartAt": "B", "States": {}}


def test_parser_depth_limit_is_too_deeply_nested() -> None:
    _, problems = parse_definition("[" * 2000 + "]" * 2000)
    assert [d.code for d in problems] == ["TOO_DEEPLY_NESTED"]


# ---- top level -----------------------------------------------------------------------------------


def test_minimal_definition_is_valid() -> None:
    assert diags(one(pass_end())) == []


def test_empty_object_requires_states_and_start_at() -> None:
    # [AWS-rec] `These fields are required: [States, StartAt]` at /.
    assert diags({}) == [(SCHEMA, "These fields are required: [States, StartAt]", "/")]


def test_missing_start_at_only() -> None:
    # [AWS-rec] the only diagnostic AWS returns for this definition.
    assert diags({"States": {"StartState": pass_end()}}) == [
        (SCHEMA, "These fields are required: [StartAt]", "/")
    ]


def test_not_a_dict() -> None:
    assert diags([]) == [(SCHEMA, "Definition must be a valid JSON object", "")]  # type: ignore[arg-type]


def test_top_level_fields() -> None:
    definition = one(pass_end(), Foo=1, Version="2.0", TimeoutSeconds=-1, Comment=3, QueryLanguage="jsonata")
    assert diags(definition) == [
        (SCHEMA, "Field 'Foo' is not supported", "/"),
        (SCHEMA, "Value should be one of the following: [1.0]", "/Version"),
        (SCHEMA, "Minimum value is 0", "/TimeoutSeconds"),
        (SCHEMA, "Expected value of type [STRING]", "/Comment"),
        (SCHEMA, "Value should be one of the following: [JSONPath, JSONata]", "/QueryLanguage"),
    ]
    assert (
        diags(one(pass_end(), Version="1.0", TimeoutSeconds=300, Comment="c", QueryLanguage="JSONPath")) == []
    )


def test_states_must_be_an_object() -> None:
    assert diags({"StartAt": "A", "States": []}) == [(SCHEMA, "Expected value of type [OBJECT]", "/States")]


# ---- state types and fields ----------------------------------------------------------------------


def test_invalid_type() -> None:
    # [AWS-rec] message and location.
    assert diags(one({"Type": "Sleep", "End": True})) == [
        (
            SCHEMA,
            "The field 'Type' should have one of these values: "
            "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
            "/States/X/Type",
        )
    ]


def test_missing_type() -> None:
    assert diags(one({"End": True})) == [(SCHEMA, "These fields are required: [Type]", "/States/X")]


def test_state_must_be_an_object() -> None:
    assert (SCHEMA, "Expected value of type [OBJECT]", "/States/X") in diags(one([]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "TimeoutSeconds": 5, "End": True}, "TimeoutSeconds"),
        ({"Type": "Pass", "End": True, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X"}]}, "Catch"),
        ({"Type": "Wait", "Seconds": 1, "End": True, "Retry": [{"ErrorEquals": ["States.ALL"]}]}, "Retry"),
        ({"Type": "Wait", "Seconds": 1, "End": True, "Parameters": {}}, "Parameters"),
        ({"Type": "Succeed", "Next": "X"}, "Next"),
        ({"Type": "Fail", "End": True}, "End"),
        ({"Type": "Fail", "InputPath": "$"}, "InputPath"),
        ({"Type": "Task", "Resource": LAMBDA, "End": True, "Items": []}, "Items"),
        ({"Type": "Pass", "End": True, "Colour": "blue"}, "Colour"),
    ],
)
def test_fields_a_state_type_does_not_support(state: dict[str, Any], field: str) -> None:
    assert (SCHEMA, f"Field '{field}' is not supported", "/States/X") in diags(one(state))


def test_timeout_seconds_on_map_and_parallel() -> None:
    processor = {"StartAt": "P", "States": {"P": pass_end()}}
    definition = machine(
        {
            "M": {"Type": "Map", "TimeoutSeconds": 5, "ItemProcessor": processor, "Next": "Par"},
            "Par": {
                "Type": "Parallel",
                "TimeoutSeconds": 5,
                "Branches": [{"StartAt": "B", "States": {"B": pass_end()}}],
                "End": True,
            },
        }
    )
    assert diags(definition) == [
        (SCHEMA, "Field 'TimeoutSeconds' is not supported", "/States/M"),
        (SCHEMA, "Field 'TimeoutSeconds' is not supported", "/States/Par"),
    ]


def test_choice_with_next_or_end() -> None:
    state = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "Y"}],
        "Next": "Y",
        "End": True,
    }
    definition = machine({"X": state, "Y": pass_end()})
    assert diags(definition) == [
        (SCHEMA, "Field 'Next' is not supported", "/States/X"),
        (SCHEMA, "Field 'End' is not supported", "/States/X"),
    ]


def full_featured_machine() -> dict[str, Any]:
    """Every field of the field matrix, in valid form (JSONPath machine, one JSONata state)."""
    retry = [
        {
            "ErrorEquals": ["Custom", "States.Timeout"],
            "IntervalSeconds": 1,
            "MaxAttempts": 0,
            "BackoffRate": 1.5,
            "MaxDelaySeconds": 10,
            "JitterStrategy": "FULL",
            "Comment": "r",
        },
        {"ErrorEquals": ["States.ALL"]},
    ]
    catch = [
        {
            "ErrorEquals": ["States.ALL"],
            "Next": "Done",
            "ResultPath": "$.err",
            "Assign": {"e.$": "$"},
            "Comment": "c",
        }
    ]
    return {
        "Comment": "all fields",
        "Version": "1.0",
        "TimeoutSeconds": 60,
        "QueryLanguage": "JSONPath",
        "StartAt": "Pass",
        "States": {
            "Pass": {
                "Type": "Pass",
                "Comment": "p",
                "InputPath": "$$.Execution.Input",
                "Parameters": {"a.$": "$"},
                "Result": {"x": 1},
                "ResultPath": "$.r",
                "OutputPath": "$",
                "Assign": {"v": 1},
                "Next": "Task",
            },
            "Task": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": {"FunctionName": "f"},
                "ResultSelector": {"p.$": "$.Payload"},
                "ResultPath": None,
                "TimeoutSeconds": 10,
                "HeartbeatSecondsPath": "$.hb",
                "Credentials": {"RoleArn.$": "$.role"},
                "Retry": retry,
                "Catch": catch,
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "TimestampPath": "$theTime", "Next": "Wait2"},
            "Wait2": {"Type": "Wait", "Timestamp": "2016-03-05T21:29:29.243167252Z", "Next": "Choice"},
            "Choice": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.a",
                        "NumericEquals": 1,
                        "Next": "Par",
                        "Assign": {"x": 1},
                        "Comment": "c",
                    },
                    {
                        "And": [
                            {"Variable": "$.b", "IsNull": False},
                            {"Not": {"Variable": "$.c", "IsPresent": True}},
                        ],
                        "Next": "Map",
                    },
                ],
                "Default": "Ata",
                "Assign": {},
            },
            "Par": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B1", "Comment": "b", "States": {"B1": {"Type": "Succeed"}}}],
                "ResultSelector": {},
                "Retry": retry,
                "Catch": catch,
                "Next": "Map",
            },
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"i.$": "$$.Map.Item.Value"},
                "MaxConcurrencyPath": "$.mc",
                "ToleratedFailurePercentage": 12.5,
                "ToleratedFailureCountPath": "$.tc",
                "Label": "MyLabel",
                "ItemReader": {},
                "ItemBatcher": {},
                "ResultWriter": {},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "M1",
                    "States": {
                        "M1": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('{}', $.c)"}
                    },
                },
                "Next": "Ata",
            },
            "Ata": {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": LAMBDA,
                "Arguments": {"a": "{% $states.input %}"},
                "Output": "{% $states.result %}",
                "TimeoutSeconds": "{% 5 %}",
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "Next": "Done", "Output": "{% $states.errorOutput %}"}
                ],
                "Next": "Done",
            },
            "Done": {"Type": "Fail", "Error": "E", "Cause": "C"},
        },
    }


def test_full_featured_definition_is_valid() -> None:
    assert diags(full_featured_machine()) == []
    assert diags(full_featured_machine(), sm_type="STANDARD") == []


def test_jsonata_machine_with_every_jsonata_field_is_valid() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "W",
        "States": {
            "W": {
                "Type": "Wait",
                "Seconds": "{% 1 %}",
                "Output": {"a": 1},
                "Assign": {"v": "{% 1 %}"},
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "Items": "{% [1, 2] %}",
                "ItemSelector": "{% $states.context.Map.Item.Value %}",
                "MaxConcurrency": "{% 2 %}",
                "ToleratedFailureCount": "{% 0 %}",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Output": 1, "End": True}},
                },
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% true %}", "Next": "T", "Output": {}, "Assign": {}, "Comment": "c"}
                ],
                "Default": "F",
            },
            "T": {"Type": "Wait", "Timestamp": "{% $now() %}", "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "C"},
        },
    }
    assert diags(definition) == []


# ---- Next / End ----------------------------------------------------------------------------------


def test_next_and_end_both_or_neither() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "B", "End": True},
            "B": {"Type": "Pass"},
            "C": {"Type": "Pass", "End": False},
        }
    )
    problems = diags(definition)
    assert problems[:3] == [
        (SCHEMA, "There should only be one of the following fields: [Next, End]", "/States/A"),
        (SCHEMA, "This object should have only one of the following fields: [Next, End]", "/States/B"),
        (SCHEMA, "This object should have only one of the following fields: [Next, End]", "/States/C"),
    ]


def test_end_false_with_next_is_accepted_and_end_must_be_boolean() -> None:
    assert diags(machine({"A": {"Type": "Pass", "Next": "B", "End": False}, "B": pass_end()})) == []
    assert diags(one({"Type": "Pass", "End": "true"})) == [
        (SCHEMA, "This object should have only one of the following fields: [Next, End]", "/States/X"),
        (SCHEMA, "Expected value of type [BOOLEAN]", "/States/X/End"),
        ("MISSING_END_STATE", "Workflow has no terminal state", ""),
    ]


# ---- transitions, names, reachability -----------------------------------------------------------


def test_missing_transition_targets_everywhere() -> None:
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Next": "Ghost1",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Ghost2"}],
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Ghost3"}],
                "Default": "Ghost4",
            },
            "S": {"Type": "Succeed"},
        },
        start="Ghost0",
    )
    problems = diags(definition)
    assert problems[:5] == [
        (TARGET, "Missing 'Next' target: Ghost1", "/States/T/Next"),
        (TARGET, "Missing 'Next' target: Ghost2", "/States/T/Catch[0]/Next"),
        (TARGET, "Missing 'Next' target: Ghost4", "/States/C/Default"),
        (TARGET, "Missing 'Next' target: Ghost3", "/States/C/Choices[0]/Next"),
        (TARGET, "Missing 'Next' target: Ghost0", "/StartAt"),
    ]


def test_dangling_next_then_missing_end_state_in_aws_order() -> None:
    assert diags(machine({"A": {"Type": "Pass", "Next": "NOPE"}})) == [
        (TARGET, "Missing 'Next' target: NOPE", "/States/A/Next"),
        ("MISSING_END_STATE", "Workflow has no terminal state", ""),
    ]
    (d,) = [x for x in validate_definition(machine({"A": {"Type": "Pass", "Next": "A"}}))]
    assert d.to_dict() == {
        "severity": "ERROR",
        "code": "MISSING_END_STATE",
        "message": "Workflow has no terminal state",
    }


def test_unreachable_states() -> None:
    definition = machine({"A": {"Type": "Pass", "Next": "C"}, "B": pass_end(), "C": pass_end()})
    assert diags(definition) == [(TARGET, 'State "B" is not reachable.', "/States/B")]


def test_missing_end_state_suppresses_reachability() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"},
            "U": {"Type": "Pass", "Next": "A"},
        }
    )
    assert [p[0] for p in diags(definition)] == ["MISSING_END_STATE"]


def test_transitions_cannot_leave_a_branch_or_processor() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Next": "After",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "After"}}}],
            },
            "M": {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "P"}}},
            },
            "After": pass_end(),
        }
    )
    problems = diags(definition)
    assert (TARGET, "Missing 'Next' target: After", "/States/P/Branches[0]/States/B/Next") in problems
    assert (TARGET, "Missing 'Next' target: P", "/States/M/ItemProcessor/States/I/Next") in problems


def test_unreachable_inside_branch_and_processor_and_no_end_rule_there() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Next": "M",
                "Branches": [{"StartAt": "W", "States": {"W": pass_end(), "Ghost": pass_end()}}],
            },
            "M": {
                "Type": "Map",
                "End": True,
                "Iterator": {
                    "StartAt": "A",
                    "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
                },
            },
        }
    )
    assert diags(definition) == [
        (TARGET, 'State "Ghost" is not reachable.', "/States/P/Branches[0]/States/Ghost")
    ]


def test_duplicate_state_names_across_the_whole_machine() -> None:
    definition = machine(
        {
            "Final": {
                "Type": "Map",
                "Next": "Other",
                "ItemProcessor": {"StartAt": "Other", "States": {"Other": pass_end()}},
            },
            "Other": pass_end(),
        }
    )
    assert diags(definition) == [("DUPLICATE_STATE_NAME", "Duplicate State name: Other", "/States/Other")]


def test_state_name_length() -> None:
    ok = "n" * 80
    assert diags(machine({ok: pass_end()})) == []
    long = "n" * 81
    assert diags(machine({long: pass_end()})) == [
        (
            "INVALID_STATE_NAME",
            "Invalid State name: State exceeds the 80-character limit allowed by the service",
            f"/States/{long}",
        )
    ]


# ---- Parallel / Map structure --------------------------------------------------------------------


def test_empty_branches() -> None:
    # [AWS-rec] `Value cannot be empty at /States/P/Branches`.
    assert diags(machine({"P": {"Type": "Parallel", "Branches": [], "End": True}})) == [
        (SCHEMA, "Value cannot be empty", "/States/P/Branches")
    ]


def test_required_fields_per_type() -> None:
    definition = machine(
        {
            "T": {"Type": "Task", "Next": "C"},
            "C": {"Type": "Choice", "Default": "P"},
            "P": {"Type": "Parallel", "Next": "M"},
            "M": {"Type": "Map", "End": True},
        }
    )
    assert diags(definition) == [
        (SCHEMA, "These fields are required: [Resource]", "/States/T"),
        (SCHEMA, "These fields are required: [Choices]", "/States/C"),
        (SCHEMA, "These fields are required: [Branches]", "/States/P"),
        (
            SCHEMA,
            "This object should have only one of the following fields: [ItemProcessor, Iterator]",
            "/States/M",
        ),
    ]


def test_branch_and_processor_objects() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Next": "M",
                "Branches": [{"States": {"B": pass_end()}, "QueryLanguage": "JSONata"}],
            },
            "M": {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {"StartAt": "I", "QueryLanguage": "JSONPath", "States": {"I": pass_end()}},
            },
        }
    )
    assert diags(definition)[:3] == [
        (SCHEMA, "These fields are required: [StartAt]", "/States/P/Branches[0]"),
        (SCHEMA, "Field 'QueryLanguage' is not supported", "/States/P/Branches[0]"),
        (SCHEMA, "Field 'QueryLanguage' is not supported", "/States/M/ItemProcessor"),
    ]


def test_processor_config() -> None:
    def with_config(config: dict[str, Any]) -> dict[str, Any]:
        return machine(
            {
                "M": {
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": {"ProcessorConfig": config, "StartAt": "I", "States": {"I": pass_end()}},
                }
            }
        )

    loc = "/States/M/ItemProcessor/ProcessorConfig"
    assert diags(with_config({"Mode": "DISTRIBUTED"})) == [
        (SCHEMA, "These fields are required: [ExecutionType]", loc)
    ]
    assert diags(with_config({"Mode": "INLINE", "ExecutionType": "EXPRESS"})) == [
        (SCHEMA, "Field 'ExecutionType' is not supported", loc)
    ]
    assert diags(with_config({"Mode": "FAST"})) == [
        (SCHEMA, "Value should be one of the following: [INLINE, DISTRIBUTED]", f"{loc}/Mode")
    ]
    assert diags(with_config({"Mode": "INLINE"})) == []


def test_map_values() -> None:
    processor = {"StartAt": "I", "States": {"I": pass_end()}}
    state = {
        "Type": "Map",
        "End": True,
        "ItemProcessor": processor,
        "MaxConcurrency": -1,
        "ToleratedFailurePercentage": 101,
        "ToleratedFailureCount": 1.5,
        "ItemsPath": "$.a[*]",
        "Items": [1],
    }
    assert diags(machine({"M": state})) == [
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Items' is only supported for the "
            "'JSONata' QueryLanguage",
            "/States/M",
        ),
        (SCHEMA, "Minimum value is 0", "/States/M/MaxConcurrency"),
        (SCHEMA, "Maximum value is 100", "/States/M/ToleratedFailurePercentage"),
        (SCHEMA, "Expected value of type [INTEGER]", "/States/M/ToleratedFailureCount"),
        (SCHEMA, "Value is not a Reference Path", "/States/M/ItemsPath"),
    ]


def test_map_labels() -> None:
    def mapped(label: str, name: str = "M", nxt: str | None = None) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Map",
            "Label": label,
            "ItemProcessor": {"StartAt": f"{name}I", "States": {f"{name}I": pass_end()}},
        }
        state.update({"Next": nxt} if nxt else {"End": True})
        return state

    assert diags(machine({"M": mapped("x" * 41)})) == [
        (
            "INVALID_LABEL_NAME",
            "Invalid Label name: Label exceeds the 40-character limit allowed by the service",
            "/States/M/Label",
        )
    ]
    assert diags(machine({"M": mapped("a b")}))[0][0] == "INVALID_LABEL_NAME"
    assert diags(machine({"M": mapped("L", "M", "N"), "N": mapped("L", "N")})) == [
        ("DUPLICATE_LABEL_NAME", "Duplicate Label name: L", "/States/N/Label")
    ]


# ---- mutually exclusive and value checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "pair"),
    [
        (
            {
                "Type": "Task",
                "Resource": LAMBDA,
                "End": True,
                "TimeoutSeconds": 1,
                "TimeoutSecondsPath": "$.t",
            },
            "TimeoutSeconds, TimeoutSecondsPath",
        ),
        (
            {
                "Type": "Task",
                "Resource": LAMBDA,
                "End": True,
                "HeartbeatSeconds": 1,
                "HeartbeatSecondsPath": "$.t",
            },
            "HeartbeatSeconds, HeartbeatSecondsPath",
        ),
        ({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}, "Error, ErrorPath"),
        ({"Type": "Fail", "Cause": "C", "CausePath": "$.c"}, "Cause, CausePath"),
        (
            {
                "Type": "Map",
                "End": True,
                "MaxConcurrency": 1,
                "MaxConcurrencyPath": "$.m",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
            },
            "MaxConcurrency, MaxConcurrencyPath",
        ),
        (
            {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                "Iterator": {"StartAt": "J", "States": {"J": {"Type": "Succeed"}}},
            },
            "ItemProcessor, Iterator",
        ),
        (
            {
                "Type": "Map",
                "End": True,
                "ItemSelector": {},
                "Parameters": {},
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
            },
            "ItemSelector, Parameters",
        ),
    ],
)
def test_mutually_exclusive_fields(state: dict[str, Any], pair: str) -> None:
    assert (SCHEMA, f"There should only be one of the following fields: [{pair}]", "/States/X") in diags(
        one(state)
    )


def test_wait_needs_exactly_one_timing_field() -> None:
    fields = "[SecondsPath, Seconds, TimestampPath, Timestamp]"
    assert diags(one({"Type": "Wait", "End": True})) == [
        (SCHEMA, f"This object should have only one of the following fields: {fields}", "/States/X")
    ]
    assert diags(one({"Type": "Wait", "End": True, "Seconds": 1, "SecondsPath": "$.s"})) == [
        (SCHEMA, f"There should only be one of the following fields: {fields}", "/States/X")
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Seconds", -1, "Minimum value is 0"),
        ("Seconds", 100_000_000, "Maximum value is 99999999"),  # [AWS-rec] via CloudFormation
        ("Seconds", "5", "Expected value of type [INTEGER]"),
        ("Seconds", True, "Expected value of type [INTEGER]"),
        ("Seconds", "{% 5 %}", "Expected value of type [INTEGER]"),  # no JSONata in a JSONPath state
        ("Timestamp", "2016-12-05T25:29:29Z", "String does not match RFC3339 timestamp"),  # [AWS-rec]
        ("Timestamp", "2016-12-05 21:29:29Z", "String does not match RFC3339 timestamp"),  # [AWS-rec]
        ("Timestamp", "{% '2016-03-14T01:59:00Z' %}", "String does not match RFC3339 timestamp"),  # [AWS-rec]
        ("Timestamp", "2016-12-05T21:29:29", "String does not match RFC3339 timestamp"),
        ("Timestamp", 5, "Expected value of type [STRING]"),
        ("SecondsPath", "seconds", "Value is not a Reference Path: Reference path didn't start with '$'"),
        ("TimestampPath", "$.t[*]", "Value is not a Reference Path"),
    ],
)
def test_wait_values(field: str, value: Any, message: str) -> None:
    assert diags(one({"Type": "Wait", field: value, "End": True})) == [
        (SCHEMA, message, f"/States/X/{field}")
    ]


@pytest.mark.parametrize("value", [0, 99_999_999, 1.0])
def test_wait_seconds_in_range(value: Any) -> None:
    assert diags(one({"Type": "Wait", "Seconds": value, "End": True})) == []


def test_task_values() -> None:
    state = {
        "Type": "Task",
        "Resource": "my-function",
        "TimeoutSeconds": 0,
        "HeartbeatSeconds": "10",
        "Parameters": 1,
        "ResultSelector": 1,
        "Credentials": {"InvalidField": "x"},
        "End": True,
    }
    assert diags(one(state)) == [
        (SCHEMA, "Value is not a valid resource ARN", "/States/X/Resource"),
        (SCHEMA, "Minimum value is 1", "/States/X/TimeoutSeconds"),
        (SCHEMA, "Expected value of type [INTEGER]", "/States/X/HeartbeatSeconds"),
        (SCHEMA, "Expected value of type [OBJECT]", "/States/X/Parameters"),
        (SCHEMA, "Expected value of type [OBJECT]", "/States/X/ResultSelector"),
        # [AWS-rec] exact message and location.
        (SCHEMA, "The field 'RoleArn' is required but was missing", "/States/X/Credentials"),
    ]


def test_path_fields() -> None:
    state = {"Type": "Pass", "InputPath": "input", "OutputPath": "$.a b", "ResultPath": "$.a[*]", "End": True}
    assert diags(one(state)) == [
        (SCHEMA, "The value for the field 'InputPath' must be a valid JSONPath", "/States/X/InputPath"),
        (SCHEMA, "The value for the field 'OutputPath' must be a valid JSONPath", "/States/X/OutputPath"),
        (SCHEMA, "Value is not a Reference Path", "/States/X/ResultPath"),
    ]
    assert diags(one({"Type": "Pass", "ResultPath": "r", "End": True})) == [
        (
            SCHEMA,
            "Value is not a Reference Path: Reference path didn't start with '$'",
            "/States/X/ResultPath",
        )
    ]
    ok = {"Type": "Pass", "InputPath": None, "OutputPath": "$var.x", "ResultPath": None, "End": True}
    assert diags(one(ok)) == []


def test_fail_paths() -> None:
    assert diags(one({"Type": "Fail", "ErrorPath": "oops", "CausePath": 5})) == [
        (
            SCHEMA,
            "The value for the field 'ErrorPath' must be a valid JSONPath or a valid intrinsic function call",
            "/States/X/ErrorPath",
        ),
        (SCHEMA, "Expected value of type [STRING]", "/States/X/CausePath"),
    ]
    assert (
        diags(one({"Type": "Fail", "ErrorPath": "$errorVar", "CausePath": "States.Format('{}', $.c)"})) == []
    )


# ---- Retry / Catch -------------------------------------------------------------------------------


def task_with(**fields: Any) -> dict[str, Any]:
    return machine({"T": {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}, "H": pass_end()})


def test_retry_rules() -> None:
    retry = [
        {"ErrorEquals": []},
        {"ErrorEquals": ["States.ALL", "Other"]},
        {
            "IntervalSeconds": 0,
            "MaxAttempts": -1,
            "BackoffRate": 0.5,
            "MaxDelaySeconds": 31_622_401,
            "JitterStrategy": "HALF",
            "Foo": 1,
        },
        {"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 0},
        {"ErrorEquals": ["E"]},
    ]
    loc = "/States/T/Retry"
    assert diags(machine({"T": {"Type": "Task", "Resource": LAMBDA, "End": True, "Retry": retry}})) == [
        (SCHEMA, "Value cannot be empty", f"{loc}[0]/ErrorEquals"),
        (SCHEMA, "States.ALL must appear alone and at end of list", f"{loc}[1]/ErrorEquals"),
        (SCHEMA, "These fields are required: [ErrorEquals]", f"{loc}[2]"),
        (SCHEMA, "Minimum value is 1", f"{loc}[2]/IntervalSeconds"),
        (SCHEMA, "Minimum value is 0", f"{loc}[2]/MaxAttempts"),
        (SCHEMA, "Minimum value is 1.0", f"{loc}[2]/BackoffRate"),
        (SCHEMA, "Maximum value is 31622400", f"{loc}[2]/MaxDelaySeconds"),
        (SCHEMA, "Value should be one of the following: [NONE, FULL]", f"{loc}[2]/JitterStrategy"),
        (SCHEMA, "Field 'Foo' is not supported", f"{loc}[2]"),
        (SCHEMA, "States.ALL must appear alone and at end of list", f"{loc}[3]/ErrorEquals"),
        (SCHEMA, "Minimum value is 1", f"{loc}[3]/MaxDelaySeconds"),
    ]


def test_catch_rules() -> None:
    catch = [
        {"ErrorEquals": ["States.Foo", "States.Runtime", "State.ALL", "States.Http.Socket"], "Next": "H"},
        {"ErrorEquals": ["E"]},
        {"ErrorEquals": ["E"], "Next": "H", "ResultPath": "$.a[0].b[*]", "Output": {}},
        {"Next": "H"},
    ]
    loc = "/States/T/Catch"
    # States.Foo is accepted: AWS only forbids *raising* unknown "States." names (see test_asl_fidelity.py).
    assert diags(task_with(Catch=catch)) == [
        (SCHEMA, "These fields are required: [Next]", f"{loc}[1]"),
        (SCHEMA, "Value is not a Reference Path", f"{loc}[2]/ResultPath"),
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
            "QueryLanguage",
            f"{loc}[2]",
        ),
        (SCHEMA, "These fields are required: [ErrorEquals]", f"{loc}[3]"),
    ]


def test_retry_and_catch_must_be_arrays_of_objects() -> None:
    assert diags(task_with(Retry={}, Catch=[1])) == [
        (SCHEMA, "Expected value of type [ARRAY]", "/States/T/Retry"),
        (SCHEMA, "Expected value of type [OBJECT]", "/States/T/Catch[0]"),
        (TARGET, 'State "H" is not reachable.', "/States/H"),
    ]


# ---- Express-only rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:states:us-east-1:123456789012:activity:act",
            "Express state machine does not support Activity ARN",
        ),
        (
            "arn:aws:states:::ecs:runTask.sync",
            "Express state machine does not support '.sync' service integration ",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "Express state machine does not support '.sync' service integration ",
        ),
        # [AWS-rec] including the trailing space.
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
    ],
)
def test_express_rejects_callbacks_sync_and_activities(resource: str, message: str) -> None:
    definition = one({"Type": "Task", "Resource": resource, "End": True})
    assert diags(definition) == [(SCHEMA, message, "/States/X/Resource")]
    assert diags(definition, sm_type="STANDARD") == []


def test_express_rendering_matches_aws_invalid_definition_message() -> None:
    definition = machine(
        {
            "Publish": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "End": True,
            }
        }
    )
    # [AWS-rec] CreateStateMachine cause (note the two spaces before "at").
    assert DefinitionError(validate_definition(definition)).message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support "
        "'.waitForTaskToken' service integration  at /States/Publish/Resource'"
    )


# ---- QueryLanguage -------------------------------------------------------------------------------


def test_jsonata_machine_cannot_downgrade_a_state() -> None:
    # [AWS-rec] message and location; AWS names no JSONata-only fields on top of it.
    definition = machine(
        {"Pass": {"Type": "Pass", "End": True, "QueryLanguage": "JSONPath", "Output": {}}},
        QueryLanguage="JSONata",
    )
    assert diags(definition) == [
        (
            SCHEMA,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            "/States/Pass",
        )
    ]


def test_jsonpath_machine_may_upgrade_a_state() -> None:
    assert diags(one({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": True})) == []


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "InputPath": "$", "End": True}, "InputPath"),
        ({"Type": "Pass", "OutputPath": "$", "End": True}, "OutputPath"),
        ({"Type": "Pass", "Parameters": {}, "End": True}, "Parameters"),
        ({"Type": "Pass", "Result": 1, "End": True}, "Result"),
        ({"Type": "Pass", "ResultPath": "$.r", "End": True}, "ResultPath"),
        ({"Type": "Task", "Resource": LAMBDA, "ResultSelector": {}, "End": True}, "ResultSelector"),
        (
            {"Type": "Task", "Resource": LAMBDA, "TimeoutSecondsPath": "$.t", "End": True},
            "TimeoutSecondsPath",
        ),
        ({"Type": "Wait", "SecondsPath": "$.s", "End": True}, "SecondsPath"),
        ({"Type": "Fail", "ErrorPath": "$.e"}, "ErrorPath"),
        (
            {
                "Type": "Map",
                "ItemsPath": "$.i",
                "End": True,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
            },
            "ItemsPath",
        ),
    ],
)
def test_jsonpath_only_fields_in_jsonata_states(state: dict[str, Any], field: str) -> None:
    message = (
        f"The QueryLanguage is set to 'JSONata', but field '{field}' is only supported for the "
        "'JSONPath' QueryLanguage"
    )
    assert diags(one(state, QueryLanguage="JSONata")) == [(SCHEMA, message, "/States/X")]


@pytest.mark.parametrize("field", ["Arguments", "Output"])
def test_jsonata_only_fields_in_jsonpath_states(field: str) -> None:
    message = (
        f"The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the "
        "'JSONata' QueryLanguage"
    )
    assert diags(one({"Type": "Task", "Resource": LAMBDA, field: {}, "End": True})) == [
        (SCHEMA, message, "/States/X")
    ]


def test_nested_states_inherit_the_machine_language_not_the_enclosing_state() -> None:
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "End": True,
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Output": {}, "End": True}},
                },
            }
        }
    )
    assert diags(definition) == [
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' "
            "QueryLanguage",
            "/States/M/ItemProcessor/States/P",
        )
    ]


def test_state_query_language_value() -> None:
    assert diags(one({"Type": "Pass", "QueryLanguage": 1, "End": True})) == [
        (SCHEMA, "Expected value of type [STRING]", "/States/X/QueryLanguage")
    ]


def test_choice_rule_languages() -> None:
    jsonata = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.a", "IsPresent": True, "Next": "Y"},
                    {"Next": "Y"},
                    {"Condition": True, "Next": "Y", "X": 1},
                ],
            },
            "Y": pass_end(),
        },
        QueryLanguage="JSONata",
    )
    assert diags(jsonata) == [
        (SCHEMA, "These fields are required: [Condition]", "/States/C/Choices[0]"),
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for the "
            "'JSONPath' QueryLanguage",
            "/States/C/Choices[0]",
        ),
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONata', but field 'IsPresent' is only supported for the "
            "'JSONPath' QueryLanguage",
            "/States/C/Choices[0]",
        ),
        (SCHEMA, "These fields are required: [Condition]", "/States/C/Choices[1]"),
        (SCHEMA, "Field 'X' is not supported", "/States/C/Choices[2]"),
    ]
    jsonpath = machine(
        {"C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "Y"}]}, "Y": pass_end()}
    )
    assert diags(jsonpath) == [
        (
            SCHEMA,
            "The QueryLanguage is set to 'JSONPath', but field 'Condition' is only supported for the "
            "'JSONata' QueryLanguage",
            "/States/C/Choices[0]",
        )
    ]


def test_choice_rule_structure() -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.a", "IsNull": True},
                    {"And": [{"Variable": "$.a", "IsNull": True, "Next": "Y"}], "Next": "Y"},
                    {"Not": {"Variable": "$.a", "IsNull": True, "Assign": {}}, "Next": "Y"},
                    "rule",
                ],
            },
            "Y": pass_end(),
        }
    )
    assert diags(definition) == [
        (SCHEMA, "These fields are required: [Next]", "/States/C/Choices[0]"),
        (SCHEMA, "Field 'Next' is not supported", "/States/C/Choices[1]/And[0]"),
        (SCHEMA, "Field 'Assign' is not supported", "/States/C/Choices[2]/Not"),
        (SCHEMA, "Expected value of type [OBJECT]", "/States/C/Choices[3]"),
    ]
    assert diags(machine({"C": {"Type": "Choice", "Choices": [], "Default": "Y"}, "Y": pass_end()})) == [
        (SCHEMA, "Value cannot be empty", "/States/C/Choices")
    ]


# ---- nesting depth, collection and determinism ---------------------------------------------------


def test_too_deeply_nested_definition_is_rejected_without_recursion() -> None:
    deep: Any = 1
    for _ in range(MAX_NESTING_DEPTH + 10):
        deep = {"k": deep}
    problems = validate_definition(one({"Type": "Pass", "Result": deep, "End": True}))
    assert [d.code for d in problems] == ["TOO_DEEPLY_NESTED"]
    assert problems[0].location.startswith("/States/X/Result/k/k")


def test_deep_parallel_nesting_is_bounded() -> None:
    inner: dict[str, Any] = {"StartAt": "L0", "States": {"L0": pass_end()}}
    for i in range(1, 60):
        inner = {
            "StartAt": f"L{i}",
            "States": {f"L{i}": {"Type": "Parallel", "End": True, "Branches": [inner]}},
        }
    problems = validate_definition(inner)
    assert [d.code for d in problems] == ["TOO_DEEPLY_NESTED"]


def test_nesting_within_the_limit_is_fine() -> None:
    inner: dict[str, Any] = {"StartAt": "L0", "States": {"L0": pass_end()}}
    for i in range(1, 20):
        inner = {
            "StartAt": f"L{i}",
            "States": {f"L{i}": {"Type": "Parallel", "End": True, "Branches": [inner]}},
        }
    assert validate_definition(inner) == []


def test_all_problems_are_collected_in_a_deterministic_order() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "Nowhere", "TimeoutSeconds": 1},
            "B": {"Type": "Wait", "End": True},
            "C": {"Type": "Bogus"},
        }
    )
    first = diags(definition)
    assert first == [
        (SCHEMA, "Field 'TimeoutSeconds' is not supported", "/States/A"),
        (TARGET, "Missing 'Next' target: Nowhere", "/States/A/Next"),
        (
            SCHEMA,
            "This object should have only one of the following fields: [SecondsPath, Seconds, TimestampPath, "
            "Timestamp]",
            "/States/B",
        ),
        (
            SCHEMA,
            "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, "
            "Parallel, Map]",
            "/States/C/Type",
        ),
        (TARGET, 'State "B" is not reachable.', "/States/B"),
        (TARGET, 'State "C" is not reachable.', "/States/C"),
    ]
    assert diags(copy.deepcopy(definition)) == first


def test_the_definition_is_not_mutated() -> None:
    definition = full_featured_machine()
    before = copy.deepcopy(definition)
    validate_definition(definition)
    assert definition == before


# ---- the recorded conformance cases --------------------------------------------------------------


def _case_files() -> list[str]:
    return sorted(glob.glob(os.path.join(CASES_DIR, "*.json")))


@pytest.mark.skipif(not _case_files(), reason="conformance cases not available")
def test_no_recorded_runnable_case_is_rejected() -> None:
    rejected = []
    for path in _case_files():
        with open(path, encoding="utf-8") as fh:
            case = json.load(fh)
        if case["expected"]["status"] == "INVALID_DEFINITION" or "definition" not in case:
            continue
        problems = validate_definition(case["definition"], sm_type="EXPRESS")
        if problems:
            rejected.append((case["id"], [d.render() for d in problems]))
    assert rejected == []


@pytest.mark.skipif(not _case_files(), reason="conformance cases not available")
def test_recorded_validate_api_diagnostics_match_exactly() -> None:
    checked = 0
    for path in _case_files():
        with open(path, encoding="utf-8") as fh:
            case = json.load(fh)
        expected = case["expected"].get("diagnostics")
        if expected is None:
            continue
        text = case.get("definition_text") or json.dumps(case["definition"])
        parsed, problems = parse_definition(text)
        if parsed is not None:
            problems = validate_definition(parsed, sm_type=case["recorded_state_machine_type"])
        assert [d.to_dict() for d in problems] == expected, case["id"]
        checked += 1
    assert checked >= 5
