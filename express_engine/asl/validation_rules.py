"""The tables ASL structural validation checks definitions against.

The fields each state type accepts (as AWS's CreateStateMachine accepts them, recorded), the fields
each QueryLanguage reserves, required and mutually exclusive fields, Retry/Catch and Choice rule
fields, allowed enum values, numeric limits and the ARN and Label patterns. Used by
:mod:`express_engine.asl.validate`.
"""

from __future__ import annotations

import re

#: AWS's limit on state names.
MAX_STATE_NAME_LENGTH = 80
#: AWS's limit on Map ``Label`` values.
MAX_LABEL_LENGTH = 40
#: The state types, in the order AWS lists them in its error message.
STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
#: Upper bound of the seconds fields (TimeoutSeconds, Seconds, IntervalSeconds, ...).
MAX_SECONDS = 99_999_999
#: Upper bound of a retrier's MaxDelaySeconds.
MAX_DELAY_SECONDS = 31_622_400

#: Fields of the top-level definition object.
TOP_FIELDS = frozenset({"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"})
#: Fields of a Parallel branch.
BRANCH_FIELDS = frozenset({"Comment", "StartAt", "States"})
#: Fields of a Map ItemProcessor/Iterator.
PROCESSOR_FIELDS = frozenset({"Comment", "StartAt", "States", "ProcessorConfig"})

#: Fields every state type accepts.
COMMON_FIELDS = frozenset({"Type", "Comment", "QueryLanguage"})
_IO = ("InputPath", "OutputPath")
#: Fields each state type accepts besides Type/Comment/QueryLanguage (as AWS's
#: CreateStateMachine accepts them: e.g. TimeoutSeconds only on Task, Retry/Catch only on Task/Parallel/Map).
STATE_FIELDS: dict[str, frozenset[str]] = {
    "Pass": frozenset({*_IO, "Result", "ResultPath", "Parameters", "Output", "Assign", "Next", "End"}),
    "Task": frozenset({
        *_IO, "ResultPath", "Parameters", "Arguments", "Output", "Assign", "Resource", "Credentials",
        "ResultSelector", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
        "HeartbeatSecondsPath", "Next", "End",
    }),
    "Wait": frozenset({
        *_IO, "Output", "Assign", "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Next", "End",
    }),
    "Parallel": frozenset({
        *_IO, "ResultPath", "Parameters", "Arguments", "Output", "Assign", "ResultSelector", "Retry", "Catch",
        "Branches", "Next", "End",
    }),
    "Map": frozenset({
        *_IO, "ResultPath", "Parameters", "Output", "Assign", "ResultSelector", "Retry", "Catch",
        "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "ItemReader", "ItemBatcher",
        "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label",
        "Next", "End",
    }),
    "Choice": frozenset({*_IO, "Output", "Assign", "Choices", "Default"}),
    "Succeed": frozenset({*_IO, "Output"}),
    "Fail": frozenset({"Error", "Cause", "ErrorPath", "CausePath"}),
}
#: Fields a JSONata state may not carry.
JSONPATH_ONLY = frozenset({
    "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Result", "ItemsPath",
    "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "ErrorPath", "CausePath",
})
#: Fields a JSONPath state may not carry.
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})
#: Fields required by state type (besides Type and Next/End).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Task": ("Resource",), "Choice": ("Choices",), "Parallel": ("Branches",),
}
#: State types that must have exactly one of Next and End.
TRANSITIONING_TYPES = frozenset({"Task", "Pass", "Wait", "Parallel", "Map"})
#: Pairs of fields a state of the given type may not carry both of.
EXCLUSIVE_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "Task": (("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemProcessor", "Iterator"), ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ),
}
#: ItemBatcher's mutually exclusive pairs.
ITEM_BATCHER_PAIRS = (("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
                      ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"))
#: The Wait state's mutually exclusive fields; AWS lists them in this order in its message.
WAIT_FIELDS = ("SecondsPath", "Seconds", "TimestampPath", "Timestamp")
#: Path fields read as single-node paths on the input, the context ($$) or a variable ($name).
SINGLE_PATH_FIELDS = frozenset({
    "ItemsPath", "SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
    "MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath",
})

#: Fields of a Retry entry.
RETRIER_FIELDS = frozenset({
    "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy",
    "Comment",
})
#: Fields of a Catch entry.
CATCHER_FIELDS = frozenset({"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"})

_CHOICE_OPERATORS = frozenset({
    f"{family}{op}{suffix}"
    for family in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    for suffix in ("", "Path")
} | {"BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString",
     "IsBoolean", "IsTimestamp"})
#: Fields of a JSONPath Choice rule (besides Next, Assign and Comment).
JSONPATH_RULE_FIELDS = frozenset({"Variable", "And", "Or", "Not", *_CHOICE_OPERATORS})
#: Fields of a JSONata Choice rule.
JSONATA_RULE_FIELDS = frozenset({"Condition", "Next", "Assign", "Output", "Comment"})

#: Allowed values of ProcessorConfig ``Mode``.
PROCESSOR_MODES = ("INLINE", "DISTRIBUTED")
#: Allowed values of ProcessorConfig ``ExecutionType``.
EXECUTION_TYPES = ("STANDARD", "EXPRESS")
#: Allowed values of a retrier's ``JitterStrategy``.
JITTER_STRATEGIES = ("NONE", "FULL")
#: Allowed values of ``QueryLanguage``.
QUERY_LANGUAGES = ("JSONPath", "JSONata")

#: A Task Resource must look like an ARN.
RESOURCE_ARN_RE = re.compile(r"^arn:[^:\s]+:[^:\s]+:")
#: An activity ARN (refused by Express state machines).
ACTIVITY_ARN_RE = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:activity:")
#: A service-integration ARN (``arn:<partition>:states:::...``).
SERVICE_ARN_RE = re.compile(r"^arn:[^:]+:states:::")
#: Characters a Map Label may not contain.
LABEL_FORBIDDEN_RE = re.compile(r"[\s?*<>{}\[\]:;,\\|^~$#%&`'\"\x00-\x1f\x7f-\x9f]")
