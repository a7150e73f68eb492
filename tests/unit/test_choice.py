"""Choice rule predicates (express_engine.asl.choice) and RFC 3339 parsing (express_engine.asl.timestamps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from express_engine import errors
from express_engine.asl.choice import compile_rule
from express_engine.asl.paths import Env, StaticEnv
from express_engine.asl.timestamps import is_timestamp, parse_timestamp, timestamp_nanos
from express_engine.jsonutil import Json

LOC = "/States/Check/Choices[0]"
ENV = StaticEnv({"Execution": {"Input": {"n": 3}}}, {"limit": 10, "cfg": {"mode": "fast"}})


def evaluate(rule: dict[str, Any], value: Json, env: Env = ENV) -> bool:
    return compile_rule({**rule, "Next": "Somewhere"}, LOC)(value, env)


def check_var(op: str, operand: Any, variable: Json) -> bool:
    """Evaluate ``{"Variable": "$.v", op: operand}`` on ``{"v": variable}``."""
    return evaluate({"Variable": "$.v", op: operand}, {"v": variable})


def definition_error(rule: Any) -> errors.Diagnostic:
    with pytest.raises(errors.DefinitionError) as info:
        compile_rule(rule, LOC)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "SCHEMA_VALIDATION_FAILED"
    return diagnostic


# --- string comparisons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "operand", "variable", "expected"),
    [
        ("StringEquals", "Hello", "Hello", True),
        ("StringEquals", "\t\r\n", "\t\n", False),
        ("StringEquals", "", "", True),
        ("StringLessThan", "AB", "A", True),
        ("StringLessThan", "A", "A", False),
        ("StringGreaterThan", "A\t\n\r", "A", False),
        ("StringGreaterThan", "A", "A ", True),
        ("StringLessThanEquals", "", "", True),
        ("StringGreaterThanEquals", "A", "AB", True),
        ("StringGreaterThanEquals", "AB", "A", False),
        # Code-point order, no locale collation: uppercase sorts before lowercase, é after z.
        ("StringLessThan", "a", "Z", True),
        ("StringGreaterThan", "z", "\u00e9", True),
    ],
)
def test_string_comparisons(op: str, operand: str, variable: Json, expected: bool) -> None:
    assert check_var(op, operand, variable) is expected


@pytest.mark.parametrize("variable", [None, 1, 1.5, True, [], ["Hello"], {"A": 0}])
def test_string_comparison_on_non_string_is_false(variable: Json) -> None:
    assert check_var("StringEquals", "Hello", variable) is False
    assert check_var("StringLessThan", "Hello", variable) is False
    assert check_var("StringGreaterThanEquals", "", variable) is False


def test_string_path_twins() -> None:
    rule = {"Variable": "$.a", "StringLessThanEqualsPath": "$.b"}
    assert evaluate(rule, {"a": "A", "b": "AB"}) is True
    assert evaluate(rule, {"a": "AB", "b": "A"}) is False
    assert evaluate(rule, {"a": "A", "b": 1}) is False
    assert evaluate({"Variable": "$.a", "StringEqualsPath": "$.b"}, {"a": "x", "b": "x"}) is True


# --- numeric comparisons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "operand", "variable", "expected"),
    [
        ("NumericEquals", 0, 0.0, True),
        ("NumericEquals", 1.0, 1, True),
        ("NumericEquals", 0, 1, False),
        ("NumericEquals", -2.25, -2.25, True),
        ("NumericLessThan", 1, 0, True),
        ("NumericLessThan", 0, 0, False),
        ("NumericGreaterThan", 0, 1, True),
        ("NumericGreaterThan", 0, 0, False),
        ("NumericLessThanEquals", 1, 1, True),
        ("NumericGreaterThanEquals", 0, 0.0, True),
        ("NumericGreaterThanEquals", 1, 0, False),
        ("NumericEquals", 10**20, 10**20, True),
    ],
)
def test_numeric_comparisons(op: str, operand: float, variable: Json, expected: bool) -> None:
    assert check_var(op, operand, variable) is expected


@pytest.mark.parametrize("variable", [True, False, "0", "", None, [], [0], {"A": 0}])
def test_numeric_comparison_on_non_number_is_false(variable: Json) -> None:
    # bool is not a number: NumericEquals 1 on true is false [AWS-rec].
    assert check_var("NumericEquals", 0, variable) is False
    assert check_var("NumericEquals", 1, variable) is False
    assert check_var("NumericLessThanEquals", 100, variable) is False


def test_numeric_path_twins() -> None:
    assert evaluate({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {"a": 1, "b": 1.0}) is True
    assert evaluate({"Variable": "$.a", "NumericGreaterThanPath": "$.b"}, {"a": 1, "b": 0}) is True
    assert evaluate({"Variable": "$.a", "NumericGreaterThanPath": "$.b"}, {"a": 1, "b": 1}) is False
    assert evaluate({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {"a": True, "b": 1}) is False
    assert evaluate({"Variable": "$.a", "NumericEqualsPath": "$.b"}, {"a": 1, "b": True}) is False
    assert evaluate({"Variable": "$.a", "NumericLessThanPath": "$.b"}, {"a": 0, "b": "1"}) is False


# --- boolean --------------------------------------------------------------------------------------


def test_boolean_equals() -> None:
    assert check_var("BooleanEquals", False, False) is True
    assert check_var("BooleanEquals", True, True) is True
    assert check_var("BooleanEquals", True, False) is False
    for variable in (0, 1, 0.0, "", "true", None, [], {}):
        assert check_var("BooleanEquals", False, variable) is False
        assert check_var("BooleanEquals", True, variable) is False


def test_boolean_equals_path() -> None:
    rule = {"Variable": "$.a", "BooleanEqualsPath": "$.b"}
    assert evaluate(rule, {"a": True, "b": True}) is True
    assert evaluate(rule, {"a": False, "b": True}) is False
    assert evaluate(rule, {"a": 1, "b": True}) is False
    assert evaluate(rule, {"a": 0, "b": False}) is False


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "operand", "variable", "expected"),
    [
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
        # Same instant written with another offset / a zero fraction.
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T20:00:55+01:00", True),
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55.000Z", True),
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", False),
        ("TimestampLessThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", False),
        ("TimestampLessThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:54.999999999Z", True),
        ("TimestampGreaterThan", "2012-10-09T19:00:55.123456788Z", "2012-10-09T19:00:55.123456789Z", True),
        ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
        ("TimestampGreaterThanEquals", "2012-10-09T19:00:56Z", "2012-10-09T19:00:55Z", False),
        ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55-00:01", True),
    ],
)
def test_timestamp_comparisons(op: str, operand: str, variable: Json, expected: bool) -> None:
    assert check_var(op, operand, variable) is expected


@pytest.mark.parametrize(
    "variable",
    [0, 0.0, 1.1, "", False, None, [], {"A": 0}, "2023-02-24 12:15:56.832957", "2012-10-09T19:00:55",
     "2023-02-24", "2012-10-09T25:00:55Z"],
)
def test_timestamp_comparison_on_non_timestamp_is_false(variable: Json) -> None:
    assert check_var("TimestampEquals", "2012-10-09T19:00:55Z", variable) is False
    assert check_var("TimestampLessThanEquals", "2100-01-01T00:00:00Z", variable) is False


def test_timestamp_path_twins() -> None:
    rule = {"Variable": "$.a", "TimestampLessThanPath": "$.b"}
    assert evaluate(rule, {"a": "2012-10-09T19:00:55Z", "b": "2012-10-09T19:00:56Z"}) is True
    assert evaluate(rule, {"a": "2012-10-09T19:00:56Z", "b": "2012-10-09T19:00:55Z"}) is False
    # An operand path holding something that is not a timestamp makes the test false, not an error.
    assert evaluate(rule, {"a": "2012-10-09T19:00:55Z", "b": "tomorrow"}) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC)),
        ("2012-10-09T19:00:55+01:00", datetime(2012, 10, 9, 19, 0, 55, tzinfo=timezone(timedelta(hours=1)))),
        ("2012-10-09T19:00:55-05:30",
         datetime(2012, 10, 9, 19, 0, 55, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("2016-03-05T21:29:29.243167252Z", datetime(2016, 3, 5, 21, 29, 29, 243167, tzinfo=UTC)),
        ("2016-03-05T21:29:29.5Z", datetime(2016, 3, 5, 21, 29, 29, 500000, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_valid(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == expected.utcoffset()
    assert is_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2016-12-05T25:29:29Z",  # hour 25 [AWS-rec]
        "2016-12-05 21:29:29Z",  # no T [AWS-rec]
        "2016-12-05T21:29:29",  # no zone [AWS-rec]
        "05-12-2016T21:29:29Z",  # [AWS-rec]
        "2016-13-05T21:29:29Z",  # month 13
        "2023-02-29T00:00:00Z",  # not a leap year
        "2016-12-05T21:60:29Z",
        "2016-12-05T21:29:60Z",  # leap second
        "2016-12-05t21:29:29Z",  # lowercase t
        "2016-12-05T21:29:29z",  # lowercase z
        "2016-12-05T21:29Z",  # no seconds
        "2016-12-05T21:29:29.Z",  # empty fraction
        "2016-12-05T21:29:29.1234567890Z",  # more than nanoseconds
        "2016-12-05T21:29:29+0100",  # offset without colon
        "2016-12-05T21:29:29+01",
        "2016-12-05T21:29:29+19:00",  # beyond ±18:00
        "2016-12-05T21:29:29+01:60",
        "2016-12-05",
        "",
        " 2016-12-05T21:29:29Z",
        "2016-12-05T21:29:29Z ",
        "\uff12016-12-05T21:29:29Z",  # a non-ASCII digit
    ],
)
def test_parse_timestamp_invalid(text: str) -> None:
    assert parse_timestamp(text) is None
    assert timestamp_nanos(text) is None
    assert not is_timestamp(text)


def test_timestamp_nanos_is_exact() -> None:
    assert timestamp_nanos("1970-01-01T00:00:00Z") == 0
    assert timestamp_nanos("1970-01-01T01:00:00.000000001+01:00") == 1
    assert timestamp_nanos("1969-12-31T23:59:59.999999999Z") == -1
    assert not is_timestamp(20120101)


# --- StringMatches --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "variable", "expected"),
    [
        ("foo*.log", "foo23.log", True),
        ("*.log", "zebra.log", True),
        ("foo*.*", "foobar.zebra", True),
        ("foo*.log", "foo.log", True),
        ("foo*.log", "foo.txt", False),
        ("*", "", True),
        ("", "", True),
        ("", "x", False),
        ("log", "catalog", False),  # anchored at both ends
        ("a*b*c", "a-b-\n-c", True),  # * also spans newlines
        ("a.c", "abc", False),  # regex metacharacters are literal
        ("(a|b)?[x]+", "(a|b)?[x]+", True),
        ("\\*", "*", True),
        ("\\*", "x", False),
        ("\\\\*", "\\anything", True),  # \\ is a literal backslash, then a wildcard
        ("\\\\", "\\", True),
        ("a\\*b*", "a*bcd", True),
        ("a\\*b*", "axbcd", False),
    ],
)
def test_string_matches(pattern: str, variable: Json, expected: bool) -> None:
    assert check_var("StringMatches", pattern, variable) is expected


@pytest.mark.parametrize("variable", [1, None, True, ["a"], {"a": 1}])
def test_string_matches_non_string_is_false(variable: Json) -> None:
    assert check_var("StringMatches", "*", variable) is False


@pytest.mark.parametrize("pattern", ["abc\\", "a\\b", "\\n*", "\\"])
def test_string_matches_bad_escape_is_a_definition_error(pattern: str) -> None:
    diagnostic = definition_error({"Variable": "$.v", "StringMatches": pattern})
    assert diagnostic.location == f"{LOC}/StringMatches"


# --- type tests -----------------------------------------------------------------------------------

VALUES: list[Json] = [None, True, False, 0, 0.0, 1, 1.1, "", " ", "HelloWorld", "2012-10-09T19:00:55Z",
                      "2012-10-09T19:00:55", [], [""], {}, {"A": 0}]


@pytest.mark.parametrize("variable", VALUES)
def test_type_tests(variable: Json) -> None:
    kinds = {
        "IsNull": variable is None,
        "IsBoolean": isinstance(variable, bool),
        "IsNumeric": type(variable) in (int, float),
        "IsString": isinstance(variable, str),
        "IsTimestamp": variable == "2012-10-09T19:00:55Z",
    }
    for op, is_kind in kinds.items():
        assert check_var(op, True, variable) is is_kind, op
        assert check_var(op, False, variable) is (not is_kind), op
    assert check_var("IsPresent", True, variable) is True
    assert check_var("IsPresent", False, variable) is False


def test_is_present_on_missing_values_never_fails() -> None:
    assert evaluate({"Variable": "$.missing", "IsPresent": False}, {}) is True
    assert evaluate({"Variable": "$.a.b.c", "IsPresent": True}, {"a": 1}) is False
    assert evaluate({"Variable": "$nothing", "IsPresent": False}, {}) is True
    assert evaluate({"Variable": "$cfg.mode", "IsPresent": True}, {}) is True
    assert evaluate({"Variable": "$cfg.other", "IsPresent": True}, {}) is False
    assert evaluate({"Variable": "$$.Execution.Input.n", "IsPresent": True}, {}) is True
    assert evaluate({"Variable": "$.items[5]", "IsPresent": True}, {"items": [1]}) is False


# --- roots: variables and context -----------------------------------------------------------------


def test_variable_and_context_roots() -> None:
    assert evaluate({"Variable": "$limit", "NumericEquals": 10}, {}) is True
    assert evaluate({"Variable": "$cfg.mode", "StringEquals": "fast"}, {}) is True
    assert evaluate({"Variable": "$$.Execution.Input.n", "NumericLessThan": 5}, {}) is True
    assert evaluate({"Variable": "$.n", "NumericLessThanPath": "$limit"}, {"n": 3}) is True
    assert evaluate({"Variable": "$.n", "NumericGreaterThanPath": "$$.Execution.Input.n"}, {"n": 4}) is True


# --- And / Or / Not -------------------------------------------------------------------------------


def test_boolean_expressions() -> None:
    between = {"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20},
                       {"Variable": "$.v", "NumericLessThan": 30}]}
    assert evaluate(between, {"v": 25}) is True
    assert evaluate(between, {"v": 30}) is False
    either = {"Or": [{"Variable": "$.v", "StringEquals": "a"}, {"Variable": "$.v", "StringEquals": "b"}]}
    assert evaluate(either, {"v": "b"}) is True
    assert evaluate(either, {"v": "c"}) is False
    assert evaluate({"Not": {"Variable": "$.v", "StringEquals": "a"}}, {"v": "b"}) is True
    assert evaluate({"Not": {"Variable": "$.v", "StringEquals": "a"}}, {"v": "a"}) is False
    nested = {"Not": {"Or": [{"Variable": "$.v", "IsNull": True},
                             {"And": [{"Variable": "$.v", "IsNumeric": True},
                                      {"Variable": "$.v", "NumericEquals": 0}]}]}}
    assert [evaluate(nested, {"v": v}) for v in (None, 0, 0.0, 1, "0")] == [False, False, False, True, True]


def test_boolean_expressions_short_circuit() -> None:
    # The documented guard: IsPresent first, so the comparison never reads a missing path.
    guarded = {"And": [{"Variable": "$.x", "IsPresent": True}, {"Variable": "$.x", "NumericEquals": 1}]}
    assert evaluate(guarded, {}) is False
    assert evaluate(guarded, {"x": 1}) is True
    fallback = {"Or": [{"Variable": "$.x", "IsPresent": False}, {"Variable": "$.x", "NumericEquals": 1}]}
    assert evaluate(fallback, {}) is True


def test_top_level_next_comment_assign_are_ignored() -> None:
    rule = {"Variable": "$.v", "IsNull": True, "Next": "A", "Comment": "c", "Assign": {"x.$": "$.v"}}
    assert compile_rule(rule, LOC)({"v": None}, ENV) is True
    nested_comment = {"Not": {"Variable": "$.v", "IsNull": True, "Comment": "fine"}, "Next": "A"}
    assert compile_rule(nested_comment, LOC)({"v": 1}, ENV) is True


# --- runtime errors: paths that resolve to nothing ------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "path"),
    [
        ({"Variable": "$.missing", "NumericEquals": 1}, {}, "$.missing"),
        ({"Variable": "$.a.b", "StringEquals": "x"}, {"a": "not an object"}, "$.a.b"),
        ({"Variable": "$.missing", "IsNull": True}, {}, "$.missing"),
        ({"Variable": "$.missing", "IsString": False}, {}, "$.missing"),
        ({"Variable": "$.missing", "StringMatches": "*"}, {}, "$.missing"),
        ({"Variable": "$.missing", "BooleanEquals": True}, {}, "$.missing"),
        ({"Variable": "$nothing", "NumericEquals": 1}, {}, "$nothing"),
        ({"Variable": "$cfg.missing", "StringEquals": "x"}, {}, "$cfg.missing"),
        ({"Variable": "$$.Execution.Nope", "StringEquals": "x"}, {}, "$$.Execution.Nope"),
        # A ...Path operand that resolves to nothing fails the same way.
        ({"Variable": "$.left", "NumericLessThanEqualsPath": "$.right"}, {"left": 8}, "$.right"),
        ({"Variable": "$.left", "StringEqualsPath": "$undefinedVar"}, {"left": "x"}, "$undefinedVar"),
        ({"Variable": "$.left", "TimestampEqualsPath": "$.right"}, {"left": 1}, "$.right"),
        ({"And": [{"Variable": "$.x", "IsPresent": False}, {"Variable": "$.x", "IsNull": True}]}, {}, "$.x"),
    ],
)
def test_unresolved_path_is_states_runtime(rule: dict[str, Any], value: Json, path: str) -> None:
    predicate = compile_rule(rule, LOC)
    with pytest.raises(errors.Runtime) as info:
        predicate(value, ENV)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        f"Invalid path '{path}': The choice state's condition path references an invalid value."
    )


def test_wildcard_path_matching_nothing_is_an_empty_list_not_an_error() -> None:
    assert evaluate({"Variable": "$.items[*].id", "IsNull": False}, {"items": []}) is True
    assert evaluate({"Variable": "$.items[*].id", "StringEquals": "a"}, {"items": []}) is False


# --- definition errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "location", "fragment"),
    [
        ({"Variable": "$.v", "Next": "A"}, LOC, "comparison operator"),
        ({"Variable": "$.v", "StringEquals": "a", "NumericEquals": 1, "Next": "A"}, LOC,
         "exactly one comparison operator"),
        ({"Variable": "$.v", "StringEqual": "a", "Next": "A"}, LOC, "'StringEqual'"),
        ({"Variable": "$.v", "StringMatchesPath": "$.p", "Next": "A"}, LOC, "'StringMatchesPath'"),
        ({"Variable": "$.v", "IsPresentPath": "$.p", "Next": "A"}, LOC, "'IsPresentPath'"),
        ({"NumericEquals": 1, "Next": "A"}, LOC, "'Variable' is required"),
        ({"Variable": "v", "NumericEquals": 1}, f"{LOC}/Variable", "valid JSONPath"),
        ({"Variable": "$.[", "NumericEquals": 1}, f"{LOC}/Variable", "valid JSONPath"),
        ({"Variable": 5, "NumericEquals": 1}, f"{LOC}/Variable", "valid JSONPath"),
        ({"Variable": "$.v", "NumericEquals": "1"}, f"{LOC}/NumericEquals", "NUMBER"),
        ({"Variable": "$.v", "NumericEquals": True}, f"{LOC}/NumericEquals", "NUMBER"),
        ({"Variable": "$.v", "NumericLessThan": None}, f"{LOC}/NumericLessThan", "NUMBER"),
        ({"Variable": "$.v", "StringEquals": 1}, f"{LOC}/StringEquals", "STRING"),
        ({"Variable": "$.v", "BooleanEquals": "true"}, f"{LOC}/BooleanEquals", "BOOLEAN"),
        ({"Variable": "$.v", "BooleanEquals": 1}, f"{LOC}/BooleanEquals", "BOOLEAN"),
        ({"Variable": "$.v", "IsNull": "true"}, f"{LOC}/IsNull", "BOOLEAN"),
        ({"Variable": "$.v", "IsPresent": 1}, f"{LOC}/IsPresent", "BOOLEAN"),
        ({"Variable": "$.v", "StringMatches": 5}, f"{LOC}/StringMatches", "STRING"),
        ({"Variable": "$.v", "TimestampEquals": "2016-12-05 21:29:29Z"}, f"{LOC}/TimestampEquals", "RFC3339"),
        ({"Variable": "$.v", "TimestampEquals": 5}, f"{LOC}/TimestampEquals", "STRING"),
        ({"Variable": "$.v", "NumericEqualsPath": "no path"}, f"{LOC}/NumericEqualsPath", "valid JSONPath"),
        ({"Variable": "$.v", "NumericEqualsPath": 3}, f"{LOC}/NumericEqualsPath", "valid JSONPath"),
        ({"And": [], "Next": "A"}, f"{LOC}/And", "non-empty ARRAY"),
        ({"Or": {"Variable": "$.v", "IsNull": True}}, f"{LOC}/Or", "non-empty ARRAY"),
        ({"Not": [{"Variable": "$.v", "IsNull": True}]}, f"{LOC}/Not", "OBJECT"),
        ({"And": [{"Variable": "$.v", "IsNull": True, "Next": "A"}], "Next": "A"}, f"{LOC}/And[0]", "'Next'"),
        ({"Or": [{"Variable": "$.v", "IsNull": True}, {"Variable": "$.v", "IsNull": False, "Assign": {}}]},
         f"{LOC}/Or[1]", "'Assign'"),
        ({"Not": {"Variable": "$.v", "IsNull": True, "Next": "A"}}, f"{LOC}/Not", "'Next'"),
        ({"And": [{"Variable": "$.v"}]}, f"{LOC}/And[0]", "comparison operator"),
        ({"And": [{"Variable": "$.v", "NumericEquals": "x"}]}, f"{LOC}/And[0]/NumericEquals", "NUMBER"),
        ({"Variable": "$.v", "And": [{"Variable": "$.v", "IsNull": True}]}, LOC, "'Variable'"),
        ("not an object", LOC, "OBJECT"),
    ],
)
def test_definition_errors(rule: Any, location: str, fragment: str) -> None:
    diagnostic = definition_error(rule)
    assert diagnostic.location == location
    assert fragment in diagnostic.message


def test_definition_error_renders_like_aws() -> None:
    with pytest.raises(errors.DefinitionError) as info:
        compile_rule({"Variable": "$.v", "TimestampEquals": "2016-12-05T25:29:29Z"}, LOC)
    assert info.value.message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: String does not match RFC3339 "
        f"timestamp at {LOC}/TimestampEquals'"
    )


def test_compiled_predicate_is_reusable_and_does_not_mutate_input() -> None:
    predicate = compile_rule({"Variable": "$.v", "NumericGreaterThan": 1, "Next": "A"}, LOC)
    value = {"v": 2, "w": [1, 2]}
    snapshot = {"v": 2, "w": [1, 2]}
    assert [predicate(value, ENV) for _ in range(3)] == [True, True, True]
    assert predicate({"v": 0}, ENV) is False
    assert value == snapshot
