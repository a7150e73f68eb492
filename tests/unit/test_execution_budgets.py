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
