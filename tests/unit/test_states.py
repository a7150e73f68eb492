"""Each state type and the JSONPath data-flow rules, run through the Engine."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from express_engine import Engine
from express_engine.jsonutil import dumps
from express_engine.service_errors import InvalidDefinition


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition whose states are given in order; the first one is StartAt."""
    return {"StartAt": states[0][0], "States": dict(states), **top}


# -- Pass and data flow -----------------------------------------------------------------------------

async def test_pass_without_fields_returns_input(run):
    res = await run(machine(("P", {"Type": "Pass", "End": True})), {"a": 1})
    assert res["status"] == "SUCCEEDED"
    assert res["output"] == {"a": 1}


async def test_pass_result_replaces_input_by_default(run):
    res = await run(machine(("P", {"Type": "Pass", "Result": {"x": 1}, "End": True})), {"a": 1})
    assert res["output"] == {"x": 1}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"InputPath": "$.a"}, {"b": 1}),
        ({"InputPath": None}, {}),
        ({"OutputPath": None}, {}),
        ({"OutputPath": "$.a.b"}, 1),
        ({"Result": "r", "ResultPath": None}, {"a": {"b": 1}}),
        ({"Result": "r", "ResultPath": "$.a.c"}, {"a": {"b": 1, "c": "r"}}),
        ({"Result": "r", "ResultPath": "$.new.deep"}, {"a": {"b": 1}, "new": {"deep": "r"}}),
        ({"Result": "r", "ResultPath": "$"}, "r"),
        ({"InputPath": "$.a", "Result": "r", "ResultPath": "$.x"}, {"a": {"b": 1}, "x": "r"}),
        ({"Parameters": {"v.$": "$.a.b", "lit": "$.not-a-path"}}, {"v": 1, "lit": "$.not-a-path"}),
        ({"Parameters": {"nested": {"v.$": "$.a"}, "list": [{"w.$": "$.a.b"}]}},
         {"nested": {"v": {"b": 1}}, "list": [{"w": 1}]}),
    ],
)
async def test_jsonpath_data_flow_rules(run, fields, expected):
    res = await run(machine(("P", {"Type": "Pass", **fields, "End": True})), {"a": {"b": 1}})
    assert res["status"] == "SUCCEEDED", res
    assert res["output"] == expected


async def test_result_path_merges_into_raw_input_not_effective_input(run):
    state = {"Type": "Pass", "InputPath": "$.a", "Parameters": {"v.$": "$.b"}, "ResultPath": "$.out", "End": True}
    res = await run(machine(("P", state)), {"a": {"b": 2}, "keep": True})
    assert res["output"] == {"a": {"b": 2}, "keep": True, "out": {"v": 2}}


async def test_result_path_does_not_mutate_the_execution_input(run, engine):
    res = await run(machine(("P", {"Type": "Pass", "Result": 1, "ResultPath": "$.a.c", "End": True})),
                    {"a": {"b": 1}})
    assert res["input"] == '{"a":{"b":1}}'


async def test_missing_input_path_is_a_runtime_error(run):
    res = await run(machine(("P", {"Type": "Pass", "InputPath": "$.nope", "End": True})), {})
    assert res["status"] == "FAILED"
    assert res["error"] == "States.Runtime"
    assert res["cause"] == ("An error occurred while executing the state 'P' (entered at the event id #2). "
                            "Invalid path '$.nope' : No results for path: $['nope']")


async def test_missing_parameter_path_names_field_and_input(run):
    res = await run(machine(("P", {"Type": "Pass", "Parameters": {"v.$": "$.x"}, "End": True})), {"a": 1})
    assert res["error"] == "States.Runtime"
    assert res["cause"].endswith("The JSONPath '$.x' specified for the field 'v.$' could not be found in the "
                                 "input '{\"a\":1}'")


async def test_result_path_through_a_non_object_fails(run):
    res = await run(machine(("P", {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True})), {"a": 5})
    assert res["error"] == "States.ResultPathMatchFailure"


async def test_wildcard_with_no_match_yields_empty_list(run):
    res = await run(machine(("P", {"Type": "Pass", "Parameters": {"v.$": "$.items[*].x"}, "End": True})), {})
    assert res["output"] == {"v": []}


async def test_context_object_fields(run):
    state = {"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True}
    res = await run(machine(("Ctx", state)), {"in": 1})
    ctx = res["output"]["ctx"]
    assert ctx["Execution"]["Input"] == {"in": 1}
    assert ctx["Execution"]["Id"] == res["executionArn"]
    assert ":express:" in ctx["Execution"]["Id"]
    assert "RedriveCount" not in ctx["Execution"]  # sync executions have none (AWS-recorded)
    assert ctx["State"]["Name"] == "Ctx"
    assert ctx["State"]["EnteredTime"].endswith("Z")
    assert ctx["StateMachine"]["Id"] == res["stateMachineArn"]


# -- Choice, Succeed, Fail, Wait ------------------------------------------------------------------------

CHOICE = machine(
    ("C", {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
        {"And": [{"Variable": "$.s", "IsPresent": True}, {"Variable": "$.s", "StringMatches": "a*"}], "Next": "A"},
    ], "Default": "Other"}),
    ("Big", {"Type": "Pass", "Result": "big", "End": True}),
    ("A", {"Type": "Pass", "Result": "a", "End": True}),
    ("Other", {"Type": "Succeed"}),
)


@pytest.mark.parametrize(("value", "expected"), [
    ({"n": 11}, "big"), ({"n": 1, "s": "abc"}, "a"), ({"n": 1, "s": "xyz"}, {"n": 1, "s": "xyz"}),
])
async def test_choice_routes_to_first_matching_rule_or_default(run, value, expected):
    res = await run(CHOICE, value)
    assert res["output"] == expected


async def test_choice_without_match_or_default_fails(run):
    d = machine(("C", {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "E"}]}),
                ("E", {"Type": "Succeed"}))
    res = await run(d, {"n": 2})
    assert res["status"] == "FAILED"
    assert res["error"] == "States.NoChoiceMatched"


async def test_choice_on_a_missing_field_is_a_runtime_error_not_a_crash(run):
    res = await run(CHOICE, {"s": "abc"})
    assert res["status"] == "FAILED"
    assert res["error"] == "States.Runtime"
    assert "Invalid path '$.n'" in res["cause"]


async def test_fail_state_error_and_cause(run):
    res = await run(machine(("F", {"Type": "Fail", "Error": "MyError", "Cause": "because"})))
    assert (res["status"], res["error"], res["cause"]) == ("FAILED", "MyError", "because")
    assert "output" not in res


async def test_fail_state_paths(run):
    res = await run(machine(("F", {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('x{}', $.c)"})),
                    {"e": "E1", "c": 5})
    assert (res["error"], res["cause"]) == ("E1", "x5")


async def test_fail_state_without_error_has_no_error_field(run):
    res = await run(machine(("F", {"Type": "Fail"})))
    assert res["status"] == "FAILED"
    assert "error" not in res and "cause" not in res


async def test_succeed_applies_input_and_output_path(run):
    res = await run(machine(("S", {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"})), {"a": {"b": 3}})
    assert res["output"] == 3


async def test_wait_seconds_uses_the_engine_clock(run, sleeps):
    d = machine(("W", {"Type": "Wait", "Seconds": 7, "Next": "W2"}),
                ("W2", {"Type": "Wait", "SecondsPath": "$.s", "End": True}))
    res = await run(d, {"s": 3})
    assert res["status"] == "SUCCEEDED"
    assert sleeps.calls == [7, 3]


async def test_wait_timestamp_in_the_past_does_not_wait(run, sleeps):
    res = await run(machine(("W", {"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z", "End": True})))
    assert res["status"] == "SUCCEEDED"
    assert sleeps.calls == []


@pytest.mark.parametrize(("value", "detail"), [
    ({}, "The SecondsPath parameter does not reference an input value: $.s"),
    ({"s": -1}, "The SecondsPath parameter references a negative value: $.s == -1"),
    ({"s": 1.5}, "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"),
])
async def test_wait_seconds_path_errors(run, value, detail):
    res = await run(machine(("W", {"Type": "Wait", "SecondsPath": "$.s", "End": True})), value)
    assert res["error"] == "States.Runtime"
    assert res["cause"] == f"An error occurred while executing the state 'W' (entered at the event id #2). {detail}"


# -- Task, Retry, Catch -----------------------------------------------------------------------------------

class Flaky:
    """Fails ``failures`` times with ``exc``, then echoes its event."""

    def __init__(self, failures: int, exc: type[Exception] = ValueError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"attempt {self.calls}")
        return event


def task(resource: str = "arn:aws:lambda:us-east-1:123456789012:function:fn", **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, **fields}


async def test_task_calls_local_handler_with_parameters_and_result_selector(run, engine):
    engine.register_handler("fn", lambda event, ctx: {"got": event, "fn": ctx.function_name})
    state = task(Parameters={"x.$": "$.a"}, ResultSelector={"g.$": "$.got"}, ResultPath="$.r", End=True)
    res = await run(machine(("T", state)), {"a": 1})
    assert res["output"] == {"a": 1, "r": {"g": {"x": 1}}}


async def test_handler_context_is_lambdas(run, engine):
    seen: list[Any] = []

    def handler(event: Any, ctx: Any) -> Any:
        seen.append((ctx.aws_request_id, ctx.aws_request_id))
        return {"fn": ctx.function_name, "arn": ctx.invoked_function_arn, "version": ctx.function_version,
                "left": 0 < ctx.get_remaining_time_in_millis() <= 60_000}

    engine.register_handler("fn", handler)
    state = task(TimeoutSeconds=60, End=True)
    first = await run(machine(("T", state)), {})
    await run(machine(("T", state)), {})
    assert first["output"] == {"fn": "fn", "arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
                               "version": "$LATEST", "left": True}
    (a, again), (b, _) = seen
    assert a == again != b  # one id per invocation, the same each time it is read
    assert str(uuid.UUID(a)) == a


async def test_async_handler(run, engine):
    async def handler(event: Any, ctx: Any) -> Any:
        return {"async": event}

    engine.register_handler("fn", handler)
    res = await run(machine(("T", task(End=True))), 5)
    assert res["output"] == {"async": 5}


async def test_lambda_invoke_wraps_result_like_aws(run, engine):
    engine.register_handler("fn", lambda event, ctx: {"echo": event})
    state = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "fn", "Payload.$": "$"}, End=True)
    res = await run(machine(("T", state)), {"a": 1})
    out = res["output"]
    assert out["Payload"] == {"echo": {"a": 1}}
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"


async def test_handler_exception_becomes_lambda_error(run, engine):
    engine.register_handler("fn", Flaky(99, KeyError))
    res = await run(machine(("T", task(End=True))))
    assert res["error"] == "KeyError"
    from express_engine.jsonutil import loads

    doc = loads(res["cause"])
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'attempt 1'"
    assert set(doc) == {"errorMessage", "errorType", "requestId", "stackTrace"}


async def test_unknown_lambda_function_is_resource_not_found(run):
    res = await run(machine(("T", task("arn:aws:lambda:us-east-1:123456789012:function:missing", End=True))))
    assert res["error"] == "Lambda.ResourceNotFoundException"


async def test_unknown_non_lambda_resource_fails_at_start_with_a_clear_error(run):
    res = await run(machine(("T", task("arn:aws:states:::dynamodb:putItem", End=True))))
    assert res["status"] == "FAILED"
    assert "No handler is registered for the Task resource 'arn:aws:states:::dynamodb:putItem'" in res["cause"]


async def test_retry_backoff_timing_and_max_delay(run, engine, sleeps):
    flaky = Flaky(4)
    engine.register_handler("fn", flaky)
    retry = [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 5,
              "MaxDelaySeconds": 10}]
    res = await run(machine(("T", task(Retry=retry, End=True))), {"v": 1})
    assert res["status"] == "SUCCEEDED"
    assert flaky.calls == 5
    assert sleeps.calls == [2, 6, 10, 10]


async def test_a_huge_backoff_rate_waits_at_most_the_longest_max_delay(run, engine, sleeps):
    engine.register_handler("fn", Flaky(3))
    retry = [{"ErrorEquals": ["States.ALL"], "BackoffRate": 1e300, "MaxAttempts": 5}]
    res = await run(machine(("T", task(Retry=retry, End=True))))
    assert res["status"] == "SUCCEEDED"
    assert sleeps.calls == [1, 31_622_400, 31_622_400]  # (1e300 ** 2 overflows a float: capped, no engine error)


async def test_retry_defaults_and_exhaustion(run, engine, sleeps):
    engine.register_handler("fn", Flaky(99))
    res = await run(machine(("T", task(Retry=[{"ErrorEquals": ["States.ALL"]}], End=True))))
    assert res["error"] == "ValueError"
    assert sleeps.calls == [1, 2, 4]  # IntervalSeconds 1, BackoffRate 2, MaxAttempts 3


async def test_first_matching_retrier_decides_with_its_own_counter(run, engine, sleeps):
    flaky = Flaky(99)
    engine.register_handler("fn", flaky)
    retry = [{"ErrorEquals": ["ValueError"], "MaxAttempts": 1, "IntervalSeconds": 1},
             {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 9}]
    res = await run(machine(("T", task(Retry=retry, End=True))))
    assert res["status"] == "FAILED"
    assert flaky.calls == 2  # the first retrier matched and was spent: no fall-through to the second
    assert sleeps.calls == [1]


async def test_jitter_full_stays_within_the_computed_delay(run, engine, sleeps):
    engine.register_handler("fn", Flaky(3))
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "JitterStrategy": "FULL"}]
    await run(machine(("T", task(Retry=retry, End=True))))
    assert len(sleeps.calls) == 3
    assert all(0 <= d <= limit for d, limit in zip(sleeps.calls, [4, 8, 16], strict=True))


async def test_retry_count_in_context(run, engine):
    engine.register_handler("fn", Flaky(2))
    state = task(Parameters={"n.$": "$$.State.RetryCount"}, Retry=[{"ErrorEquals": ["States.ALL"]}], End=True)
    res = await run(machine(("T", state)))
    assert res["output"] == {"n": 2}


async def test_catch_routes_to_first_matching_catcher_with_result_path(run, engine):
    engine.register_handler("fn", Flaky(99, KeyError))
    catch = [{"ErrorEquals": ["ValueError"], "Next": "Wrong"},
             {"ErrorEquals": ["KeyError", "TypeError"], "ResultPath": "$.err", "Next": "Handled"}]
    d = machine(("T", task(Catch=catch, End=True)), ("Wrong", {"Type": "Fail", "Error": "Wrong"}),
                ("Handled", {"Type": "Pass", "End": True}))
    res = await run(d, {"in": 1})
    assert res["status"] == "SUCCEEDED"
    assert res["output"]["in"] == 1
    assert res["output"]["err"]["Error"] == "KeyError"


async def test_catch_default_result_path_outputs_error_object(run, engine):
    engine.register_handler("fn", Flaky(99))
    d = machine(("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "N"}], End=True)),
                ("N", {"Type": "Pass", "End": True}))
    res = await run(d, {"in": 1})
    assert set(res["output"]) == {"Error", "Cause"}


async def test_states_runtime_is_never_caught(run, engine):
    engine.register_handler("fn", lambda e, c: {"a": 1})
    d = machine(("T", task(OutputPath="$.missing", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "N"}],
                           Retry=[{"ErrorEquals": ["States.ALL"]}], End=True)),
                ("N", {"Type": "Pass", "End": True}))
    res = await run(d)
    assert res["error"] == "States.Runtime"


async def test_task_failed_wildcard_does_not_match_timeout(run, engine):
    async def slow(event: Any, ctx: Any) -> Any:
        import anyio

        await anyio.sleep(5)

    engine.register_handler("fn", slow)
    d = machine(("T", task(TimeoutSeconds=1, Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "N"},
                                                    {"ErrorEquals": ["States.Timeout"], "Next": "TO"}], End=True)),
                ("N", {"Type": "Pass", "Result": "taskfailed", "End": True}),
                ("TO", {"Type": "Pass", "Result": "timeout", "End": True}))
    engine.max_duration = 30
    res = await run(d)
    assert res["output"] == "timeout"


@pytest.mark.parametrize("seconds", [1e20, 100_000_000, 0, "5"])
async def test_timeout_seconds_path_out_of_range_is_an_invalid_value(seconds):
    events: list[Any] = []

    async def keep(batch: Any) -> None:
        events.extend(batch.events)

    engine = Engine(log_handler=keep)
    engine.register_handler("fn", lambda event, ctx: event)
    record = engine.create_state_machine("m", machine(("T", task(TimeoutSecondsPath="$.t", End=True))),
                                         logging_configuration={"level": "ALL"})
    res = await engine.start_sync_execution(record, dumps({"t": seconds}))
    assert (res["status"], res["error"]) == ("FAILED", "States.Runtime")
    assert "The TimeoutSecondsPath parameter references an invalid value: $.t == " in res["cause"]
    assert events[-1]["type"] == "ExecutionFailed"


async def test_a_failing_log_handler_does_not_change_the_outcome():
    async def broken(batch: Any) -> None:
        raise TypeError("cannot format")

    engine = Engine(log_handler=broken)
    record = engine.create_state_machine("m", machine(("P", {"Type": "Pass", "End": True})),
                                         logging_configuration={"level": "ALL"})
    res = await engine.start_sync_execution(record, '{"a": 1}')
    assert res["status"] == "SUCCEEDED" and res["output"] == '{"a":1}'


# -- Parallel and Map ------------------------------------------------------------------------------------

async def test_parallel_results_in_branch_order(run):
    branches = [{"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", "Result": i, "End": True}}}
                for i in range(3)]
    res = await run(machine(("P", {"Type": "Parallel", "Branches": branches, "End": True})))
    assert res["output"] == [0, 1, 2]


async def test_parallel_failure_cancels_siblings_and_propagates_branch_error(run, engine):
    import anyio

    finished: list[str] = []

    async def slow(event: Any, ctx: Any) -> Any:
        await anyio.sleep(5)
        finished.append("slow")
        return event

    async def boom(event: Any, ctx: Any) -> Any:
        await anyio.sleep(0.01)
        raise RuntimeError("boom")

    engine.register_handler("slow", slow)
    engine.register_handler("boom", boom)
    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    branches = [{"StartAt": "S", "States": {"S": task(fn + "slow", End=True)}},
                {"StartAt": "X", "States": {"X": task(fn + "boom", End=True)}}]
    with anyio.fail_after(3):
        res = await run(machine(("P", {"Type": "Parallel", "Branches": branches, "End": True})))
    assert res["error"] == "RuntimeError"
    assert finished == []


async def test_map_keeps_order_and_uses_item_selector(run):
    d = machine(("M", {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 2,
                       "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
                       "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                       "End": True}))
    res = await run(d, {"xs": ["a", "b", "c"], "k": 0})
    assert res["output"] == [{"v": "a", "i": 0, "k": 0}, {"v": "b", "i": 1, "k": 0}, {"v": "c", "i": 2, "k": 0}]


async def test_map_max_concurrency_is_honoured(run, engine):
    import anyio

    running = 0
    peak = 0

    async def work(event: Any, ctx: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return event

    engine.register_handler("work", work)
    d = machine(("M", {"Type": "Map", "MaxConcurrency": 3, "ItemProcessor": {
        "StartAt": "W", "States": {"W": task("arn:aws:lambda:us-east-1:1:function:work", End=True)}}, "End": True}))
    res = await run(d, list(range(12)))
    assert res["output"] == list(range(12))
    assert peak == 3


async def test_map_failure_cancels_other_iterations(run, engine):
    import anyio

    finished = []

    async def work(event: Any, ctx: Any) -> Any:
        if event == 0:
            raise ValueError("first item fails")
        await anyio.sleep(5)
        finished.append(event)

    engine.register_handler("work", work)
    d = machine(("M", {"Type": "Map", "ItemProcessor": {
        "StartAt": "W", "States": {"W": task("arn:aws:lambda:us-east-1:1:function:work", End=True)}}, "End": True}))
    with anyio.fail_after(3):
        res = await run(d, [0, 1, 2])
    assert res["error"] == "ValueError"
    assert finished == []


async def test_map_tolerated_failures(run):
    proc = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "F"}], "Default": "OK"},
        "F": {"Type": "Fail", "Error": "Bad"}, "OK": {"Type": "Pass", "End": True}}}
    tolerant = machine(("M", {"Type": "Map", "ItemProcessor": proc, "ToleratedFailureCount": 1, "End": True}))
    res = await run(tolerant, [0, 1, 2])
    assert res["status"] == "SUCCEEDED"
    assert res["output"][0] == 0 and res["output"][2] == 2
    res = await run(tolerant, [1, 1, 2])
    assert res["error"] == "States.ExceedToleratedFailureThreshold"


async def test_map_on_non_array_fails(run):
    d = machine(("M", {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass",
                                                                                          "End": True}}},
                       "End": True}))
    res = await run(d, {"not": "a list"})
    assert res["status"] == "FAILED"
    assert "Map state input must be an array" in res["cause"]


async def test_map_item_batcher(run):
    d = machine(("M", {"Type": "Map", "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"b": 1}},
                       "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                         "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                       "End": True}))
    res = await run(d, [1, 2, 3])
    assert res["output"] == [{"Items": [1, 2], "BatchInput": {"b": 1}}, {"Items": [3], "BatchInput": {"b": 1}}]


# -- Express limits and bad input -------------------------------------------------------------------------

async def test_express_timeout_gives_timed_out(engine, run):
    import anyio

    engine._sleep = None
    engine.time_scale = 1.0
    d = machine(("W", {"Type": "Wait", "Seconds": 60, "End": True}), TimeoutSeconds=1)
    with anyio.fail_after(5):
        res = await run(d)
    assert res["status"] == "TIMED_OUT"
    assert res["error"] == "States.Timeout"


async def test_infinite_sync_loop_is_bounded_by_the_express_limit(engine, run):
    engine.max_duration = 0.2
    d = machine(("A", {"Type": "Pass", "Next": "B"}),
                ("B", {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "E"}],
                       "Default": "A"}),
                ("E", {"Type": "Succeed"}))
    res = await run(d)
    assert res["status"] == "TIMED_OUT"


async def test_payload_over_256kib_fails_with_data_limit_exceeded(run):
    d = machine(("P", {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}))
    res = await run(d, {"s": "x" * 140_000})
    assert res["error"] == "States.DataLimitExceeded"


async def test_growing_pass_chain_hits_the_payload_limit_at_the_state_that_crosses_it(run):
    # Each state adds ~100 KB beside its input: sizes are bounded, not re-measured, until the bound nears 256 KiB.
    d = machine(("A", {"Type": "Pass", "Parameters": {"v.$": "$.s"}, "ResultPath": "$.a", "Next": "B"}),
                ("B", {"Type": "Pass", "Parameters": {"v.$": "$.s"}, "ResultPath": "$.b", "Next": "C"}),
                ("C", {"Type": "Pass", "Parameters": {"v.$": "$.s"}, "ResultPath": "$.c", "End": True}))
    res = await run(d, {"s": "x" * 60_000})  # 240 KB at C
    assert res["status"] == "SUCCEEDED"
    assert len(res["output"]["c"]["v"]) == 60_000
    res = await run(d, {"s": "x" * 70_000})  # 280 KB at C
    assert res["error"] == "States.DataLimitExceeded"
    assert "'C'" in res["cause"]


async def test_result_path_null_and_output_path_do_not_count_what_they_drop(run):
    d = machine(("A", {"Type": "Pass", "Parameters": {"v.$": "$.s", "w.$": "$.s"}, "ResultPath": None,
                       "Next": "B"}),
                ("B", {"Type": "Pass", "Parameters": {"v.$": "$.s", "w.$": "$.s"}, "OutputPath": "$.v",
                       "Next": "C"}),
                ("C", {"Type": "Pass", "Parameters": {"v.$": "$", "w.$": "$"}, "End": True}))
    res = await run(d, {"s": "x" * 200_000})  # A's and B's 400 KB results are dropped; C doubles 200 KB
    assert res["error"] == "States.DataLimitExceeded"
    assert "'C'" in res["cause"]
    res = await run(d, {"s": "x" * 100_000})
    assert res["status"] == "SUCCEEDED"
    assert res["output"] == {"v": "x" * 100_000, "w": "x" * 100_000}


async def test_an_output_path_that_matches_more_than_its_input_is_measured_at_its_state(run):
    # ``$..*`` lists every nested value: 4 copies of the 70 KB string. Choice and Succeed pass a size bound on
    # unmeasured, so the Pass state itself must measure what it outputs.
    d = machine(("P", {"Type": "Pass", "OutputPath": "$..*", "Next": "C"}),
                ("C", {"Type": "Choice", "Choices": [{"Variable": "$[0]", "IsPresent": True, "Next": "S"}],
                       "Default": "S"}),
                ("S", {"Type": "Succeed"}))
    res = await run(d, {"a": {"b": {"c": {"d": "x" * 70_000}}}})
    assert res["error"] == "States.DataLimitExceeded"
    assert "'P'" in res["cause"]


async def test_oversized_task_result_is_catchable(run, engine):
    engine.register_handler("fn", lambda e, c: "y" * 300_000)
    d = machine(("T", task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "N"}], End=True)),
                ("N", {"Type": "Pass", "End": True}))
    res = await run(d)
    assert res["status"] == "SUCCEEDED"
    assert res["output"]["Error"] == "States.DataLimitExceeded"


async def test_input_over_the_limit_is_rejected_before_running():
    from express_engine.service_errors import ValidationException

    engine = Engine()
    rec = engine.create_state_machine("m", machine(("P", {"Type": "Pass", "End": True})))
    with pytest.raises(ValidationException):
        await engine.start_sync_execution(rec, '"' + "x" * 10_000_000 + '"')


async def test_deeply_nested_input_is_rejected_cleanly():
    from express_engine.service_errors import InvalidExecutionInput

    engine = Engine()
    rec = engine.create_state_machine("m", machine(("P", {"Type": "Pass", "End": True})))
    with pytest.raises(InvalidExecutionInput):
        await engine.start_sync_execution(rec, "[" * 10_000 + "]" * 10_000)


def test_invalid_definition_is_rejected_at_create_time():
    engine = Engine()
    with pytest.raises(InvalidDefinition) as info:
        engine.create_state_machine("m", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    assert "MISSING_TRANSITION_TARGET" in info.value.message
    assert "/States/A/Next" in info.value.message


def test_recreating_with_same_definition_is_idempotent_but_different_content_conflicts():
    from express_engine.service_errors import StateMachineAlreadyExists

    engine = Engine()
    d = machine(("P", {"Type": "Pass", "End": True}))
    a = engine.create_state_machine("m", d)
    assert engine.create_state_machine("m", d) is a
    with pytest.raises(StateMachineAlreadyExists):
        engine.create_state_machine("m", machine(("Q", {"Type": "Pass", "End": True})))
