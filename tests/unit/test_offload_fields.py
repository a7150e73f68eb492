"""Heavy JSONata in a Task's, Map's or Parallel's fields: just that evaluation runs in the pool (issue 18)."""

from __future__ import annotations

import json
from typing import Any

import anyio

from express_engine import Engine
from express_engine.runtime import pool
from express_engine.runtime.executor import LogBatch

HEAVY = "$reduce([1..5000], function($a, $b){$a + $b})"  # (tens of ms: past the slice on any machine)
LIGHT = "12502500"


def _machine(heavy: bool) -> str:
    """A Task with heavy Arguments and Output, a Map with heavy Items, ItemSelector and MaxConcurrency whose
    iterations (a Task each: run concurrently) hold a heavy Pass, and a Parallel with heavy Arguments."""
    e = (lambda text: "{% " + (HEAVY if heavy else LIGHT) + text + " %}")  # noqa: E731
    return json.dumps({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
              "Arguments": {"n": e("")}, "Output": {"n": "{% $states.result.n %}", "m": e(" + 1")},
              "Assign": {"v": e(" + 2")}, "TimeoutSeconds": e(" - 12502490"), "Next": "M"},
        "M": {"Type": "Map", "Items": e(" > 0 ? [1, 2, 3] : []"), "MaxConcurrency": e(" - 12502500"),
              "ItemSelector": {"i": "{% $states.context.Map.Item.Value %}", "h": e("")},
              "ItemProcessor": {"StartAt": "IT", "States": {
                  "IT": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                         "Next": "IP"},
                  "IP": {"Type": "Pass", "Output": e(" + $states.input.i"), "End": True}}},
              "Next": "P"},
        "P": {"Type": "Parallel", "Arguments": e(""), "End": True, "Output": "{% [$states.result, $v] %}",
              "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}}})


async def _run(heavy: bool, calls: list[Any]) -> tuple[dict[str, Any], list[Any], int]:
    batches: list[LogBatch] = []

    async def handler(batch: LogBatch) -> None:
        batches.append(batch)

    engine = Engine(log_handler=handler)

    def echo(event: Any, context: Any) -> Any:
        calls.append(event)
        return event

    engine.register_handler("echo", echo)
    record = engine.create_state_machine("m", _machine(heavy), logging_configuration={
        "level": "ALL", "includeExecutionData": True})
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    before = pool.offloaded
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await engine.start_sync_execution(record, "{}")
        tg.cancel_scope.cancel()
    [batch] = batches
    events = [(e["id"], e["type"], e["previous_event_id"], e["details"].get("name"),
               e["details"].get("parameters")) for e in batch.events]
    return result, events, pool.offloaded - before


async def test_heavy_fields_of_task_map_and_parallel_run_in_the_pool_with_the_same_outcome() -> None:
    heavy_calls: list[Any] = []
    light_calls: list[Any] = []
    heavy, heavy_events, offloaded = await _run(True, heavy_calls)
    light, light_events, light_offloaded = await _run(False, light_calls)
    assert heavy["status"] == "SUCCEEDED", heavy
    assert heavy["output"] == light["output"]
    assert json.loads(light["output"])[1] == 12502502
    # Each task was invoked as often as with light expressions (once each: never again for an expression
    # evaluated after it); the history has the same events (no state entered twice), up to how the concurrent
    # iterations interleave (one waiting for the pool lets another go first).
    assert heavy_calls == light_calls and len(heavy_calls) == 4
    assert sorted((e[1], e[3], e[4]) for e in heavy_events) == sorted((e[1], e[3], e[4]) for e in light_events)
    assert [e[0] for e in heavy_events] == list(range(1, len(light_events) + 1))
    assert heavy_events[:14] == light_events[:14]  # (up to the iterations: event for event)
    # Task: Arguments, TimeoutSeconds, Output, Assign; Map: Items, MaxConcurrency, 3 ItemSelectors, 3 Passes
    # in concurrent iterations; Parallel: Arguments.
    assert offloaded == 13
    assert light_offloaded == 0


async def test_an_error_of_an_evaluation_in_the_pool_is_the_states_error_on_the_loop() -> None:
    engine = Engine()
    engine.register_handler("echo", lambda event, context: event)
    record = engine.create_state_machine("m", json.dumps({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
              "Output": "{% " + HEAVY + " & $undefinedFn() %}", "End": True,
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "C",
                         "Output": "{% $states.errorOutput.Error & ':' & $string(" + HEAVY + ") %}"}]},
        "C": {"Type": "Succeed"}}}))
    before = pool.offloaded
    result = await engine.start_sync_execution(record, "{}")
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == "States.QueryEvaluationError:12502500"
    assert pool.offloaded == before + 2


def _wait_machine(field: str, expression: str) -> str:
    return json.dumps({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", field: "{% " + expression + " %}", "Output": "{% " + HEAVY + " %}", "End": True}}})


async def test_heavy_seconds_or_timestamp_of_a_wait_run_in_the_pool_with_the_same_outcome() -> None:
    """A Wait's Seconds or Timestamp (and its Output after the wait) that compute long are evaluated in the
    pool while the event loop goes on (a ticker beside it ticks), with the outcome of a light one."""
    engine = Engine()
    cases = [("Seconds", f"{HEAVY} - 12502500", "0"), ("Timestamp", f"{HEAVY} > 0 ? '2020-01-01T00:00:00Z' : ''",
                                                         "'2020-01-01T00:00:00Z'")]
    for field, heavy, light in cases:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0)

        before = pool.offloaded
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            result = await engine.start_sync_execution(engine.create_state_machine(
                f"heavy-{field}", _wait_machine(field, heavy)), "{}")
            tg.cancel_scope.cancel()
        assert result["status"] == "SUCCEEDED", result
        assert json.loads(result["output"]) == 12502500
        assert pool.offloaded == before + 2, field  # (the field, then the Output)
        assert ticks > 10  # (held, the loop would let the ticker tick once before and once after)
        plain = await engine.start_sync_execution(engine.create_state_machine(
            f"light-{field}", _wait_machine(field, light).replace(HEAVY, LIGHT)), "{}")
        assert plain["output"] == result["output"]
    # An error of the evaluation in the pool is the same as on the loop.
    failed = []
    for name, expression in (("heavy-bad", f"{HEAVY} - 12502501"), ("light-bad", "-1")):
        result = await engine.start_sync_execution(engine.create_state_machine(
            name, _wait_machine("Seconds", expression)), "{}")
        failed.append((result["status"], result["error"], result["cause"]))
    assert failed[0] == failed[1], failed
    assert failed[0][:2] == ("FAILED", "States.QueryEvaluationError")
    assert "The Seconds field must be a non-negative integer, but was: -1" in failed[0][2]


async def test_a_heavy_catcher_of_a_failed_task_runs_in_the_pool_and_the_task_is_not_invoked_again() -> None:
    engine = Engine()
    calls: list[Any] = []

    def fails(event: Any, context: Any) -> Any:
        calls.append(event)
        raise ValueError("no")

    engine.register_handler("fails", fails)

    def machine(expression: str) -> str:
        return json.dumps({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fails", "End": True,
                  "Catch": [
                {"ErrorEquals": ["States.ALL"], "Next": "C", "Assign": {"n": "{% " + expression + " %}"},
                 "Output": "{% $states.errorOutput.Error & ':' & $string(" + expression + ") %}"}]},
            "C": {"Type": "Pass", "Output": "{% [$states.input, $n] %}", "End": True}}})

    before = pool.offloaded
    heavy = await engine.start_sync_execution(engine.create_state_machine("heavy", machine(HEAVY)), "{}")
    assert pool.offloaded == before + 2  # (the catcher's Output, then its Assign)
    light = await engine.start_sync_execution(engine.create_state_machine("light", machine(LIGHT)), "{}")
    assert heavy["status"] == "SUCCEEDED", heavy
    assert heavy["output"] == light["output"]
    assert json.loads(heavy["output"]) == ["ValueError:12502500", 12502500]
    assert len(calls) == 2  # (once per execution)


async def test_a_map_whose_item_selectors_each_compute_just_under_a_slice_gives_the_loop_turns() -> None:
    """200 ItemSelector evaluations of ~1 ms each (none long enough to give up) hold the loop no longer than a
    slice at a time: a ticker beside them keeps ticking."""
    engine = Engine()
    record = engine.create_state_machine("m", json.dumps({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "Items": "{% [1..200] %}", "End": True,
              "ItemSelector": "{% $reduce([1..30], function($a, $b){$a + $b}) + $states.context.Map.Item.Value %}",
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await engine.start_sync_execution(record, "{}")
        tg.cancel_scope.cancel()
    assert json.loads(result["output"]) == [465 + i for i in range(1, 201)]
    assert ticks > 10, ticks
