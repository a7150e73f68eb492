"""Per-execution budgets and fair scheduling, in process (issue 18)."""

from __future__ import annotations

import json

import anyio

from express_engine import Engine
from express_engine.runtime.execution import SLICE_SECONDS
from express_engine.runtime.executor import LogBatch

LOOP = json.dumps({"StartAt": "L", "TimeoutSeconds": 60, "States": {
    "L": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.never", "IsPresent": True, "Next": "E"}],
          "Default": "L"},
    "E": {"Type": "Succeed"}}})


async def test_an_execution_logging_without_end_fails_at_its_log_budget() -> None:
    batches: list[LogBatch] = []

    async def handler(batch: LogBatch) -> None:
        batches.append(batch)

    engine = Engine(log_handler=handler, max_log_events=5_000)
    record = engine.create_state_machine("loop", LOOP, logging_configuration={
        "level": "ALL", "includeExecutionData": True})
    result = await engine.start_sync_execution(record, '{"a": 1}')
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Runtime"
    assert "exceeded its log buffer of 5000 events" in result["cause"]
    [batch] = batches
    assert len(batch.events) == 5_001  # the budget, then the ExecutionFailed event that ends it
    assert batch.events[-1]["type"] == "ExecutionFailed"
    assert batch.events[-1]["details"]["error"] == "States.Runtime"


async def test_the_byte_budget_counts_logged_data() -> None:
    async def handler(batch: LogBatch) -> None:
        pass

    engine = Engine(log_handler=handler, max_log_bytes=1_000_000)
    record = engine.create_state_machine("loop", LOOP, logging_configuration={
        "level": "ALL", "includeExecutionData": True})
    result = await engine.start_sync_execution(record, json.dumps({"blob": "x" * 10_000}))
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime"
    assert "1000000 bytes" in result["cause"]


async def test_a_looping_execution_lets_other_tasks_run() -> None:
    """A Pass/Choice loop gives the event loop a turn every slice: a ticker beside it keeps ticking."""
    engine = Engine(max_duration=0.5)
    record = engine.create_state_machine("loop", LOOP)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(anyio.current_time())
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await engine.start_sync_execution(record, "{}")
        tg.cancel_scope.cancel()
    assert result["status"] == "TIMED_OUT"
    # Without turns the ticker would tick once before the loop and once after its 0.5 s; with them, every slice.
    assert len(ticks) > 0.5 / SLICE_SECONDS / 4


def _heavy(rest: dict[str, object]) -> str:
    """A JSONata machine whose state ``H`` computes for a good while (tens of ms) before ``rest``."""
    return json.dumps({"QueryLanguage": "JSONata", "StartAt": "H", "States": {
        "H": {"Type": "Pass", "Assign": {"n": "{% $count($states.input.seen) %}"},
              "Output": "{% $reduce([1..5000], function($a, $b){$a + $b}) %}", **rest},
        **({} if "End" in rest else {"D": {"Type": "Pass", "End": True}})}})


async def test_a_heavy_expression_runs_in_the_pool_while_other_tasks_run() -> None:
    """An evaluation that computes for more than a slice on the event loop is run again in a thread: a ticker
    beside it keeps ticking, and the execution's history is as if it had run in one go."""
    from express_engine.runtime import pool

    batches: list[LogBatch] = []

    async def handler(batch: LogBatch) -> None:
        batches.append(batch)

    engine = Engine(log_handler=handler)
    record = engine.create_state_machine("heavy", _heavy({"Next": "D"}), logging_configuration={
        "level": "ALL", "includeExecutionData": True})
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(anyio.current_time())
            await anyio.sleep(0)

    before = pool.offloaded
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await engine.start_sync_execution(record, '{"seen": [1, 2]}')
        tg.cancel_scope.cancel()
    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == "12502500"
    assert pool.offloaded == before + 1
    assert len(ticks) > 10  # (held, the loop would let the ticker tick once before and once after)
    # The same history as the same machine whose expression is light (run on the event loop in one go).
    light = engine.create_state_machine("light", _heavy({"Next": "D"}).replace(
        "$reduce([1..5000], function($a, $b){$a + $b})", "12502500"), logging_configuration={
        "level": "ALL", "includeExecutionData": True})
    assert (await engine.start_sync_execution(light, '{"seen": [1, 2]}'))["output"] == "12502500"
    assert pool.offloaded == before + 1
    heavy, plain = batches

    def history(batch: LogBatch) -> list[tuple[object, ...]]:
        return [(e["id"], e["type"], e["previous_event_id"], e["details"]) for e in batch.events]
    assert [e[1] for e in history(heavy)] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                             "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert history(heavy) == history(plain)
    assert heavy.events[2]["details"]["assignedVariables"] == {"n": "2"}


async def test_a_heavy_expression_in_a_loop_or_beside_branches() -> None:
    """In a loop, the state runs in the pool every time; in concurrent Parallel branches (which share their
    execution), just the expression runs in the pool and the state again on the event loop; the results are
    the same."""
    from express_engine.runtime import pool

    # (60 s, not AWS's 5 minutes, and not less: beside the ticker, which spins the asyncio loop, the expression in
    # the pool gets a small share of the GIL — 4.1 s for ~40 ms of computing seen on a quiet machine, 0.2 s with
    # uvloop, which the engine runs on)
    engine = Engine(max_duration=60)
    looping = engine.create_state_machine("loop", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "H", "States": {
            "H": {"Type": "Pass", "Output": "{% $append($states.input, [$reduce([1..5000], "
                  "function($a, $b){$a + $b})]) %}", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $count($states.input) < 3 %}", "Next": "H"}],
                  "Default": "E"},
            "E": {"Type": "Succeed"}}}))
    before = pool.offloaded
    result = await engine.start_sync_execution(looping, "[]")
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == [12502500] * 3
    assert pool.offloaded == before + 3
    branches = engine.create_state_machine("par", json.dumps({
        "QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "H", "States": {"H": {"Type": "Pass", "End": True,
                                              "Output": "{% $reduce([1..5000], function($a, $b){$a + $b}) %}"}}},
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "End": True}}}]}}}))
    before = pool.offloaded
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await engine.start_sync_execution(branches, "{}")
        tg.cancel_scope.cancel()
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == [12502500, {}]
    assert pool.offloaded == before + 1
    assert ticks > 10  # (held, the loop would let the ticker tick a few times at most)


async def test_long_running_executions_take_turns_in_the_background_lane() -> None:
    """Two loops that have computed long wait in the background lane, in turns: a ticker beside them ticks on,
    and both go on to their timeout (neither starves the other)."""
    engine = Engine(max_duration=0.4)
    record = engine.create_state_machine("loop", LOOP)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(anyio.current_time())
            await anyio.sleep(0)

    results = []

    async def run() -> None:
        results.append(await engine.start_sync_execution(record, "{}"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        async with anyio.create_task_group() as loops:
            loops.start_soon(run)
            loops.start_soon(run)
        tg.cancel_scope.cancel()
    assert [r["status"] for r in results] == ["TIMED_OUT", "TIMED_OUT"]
    assert len(ticks) > 10  # (loops holding the event loop would let it tick once before and once after)
