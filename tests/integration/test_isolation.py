"""One execution never stalls, starves or exhausts its worker (issue 18)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import anyio
import pytest

from express_engine.service import Client, Registry

from .conftest import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: A Pass/Choice loop that never exits (until its own timeout): never awaits anything.
LOOP = json.dumps({"StartAt": "L", "TimeoutSeconds": 30, "States": {
    "L": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.never", "IsPresent": True, "Next": "E"}],
          "Default": "L"},
    "E": {"Type": "Succeed"}}})
SHORT = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


async def test_a_looping_execution_does_not_stall_short_ones(redis_url: str, namespace: str, redis: Any,
                                                             registry: Registry, client: Client,
                                                             worker_process: Any) -> None:
    loop_arn = (await registry.create("loop", LOOP)).arn
    short_arn = (await registry.create("short", SHORT)).arn
    worker = worker_process(redis_url, namespace)
    await worker.ready(redis, namespace)
    # Warm the worker up (machine cache, connections) before measuring.
    for _ in range(20):
        assert (await client.start_sync_execution(short_arn, "{}"))["status"] == "SUCCEEDED"
    await client.start_execution(loop_arn, "{}")

    async def looping() -> bool:
        return int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"]) == 1
    await wait_for(looping, 10)  # the loop is running on the worker
    await anyio.sleep(0.2)
    latencies: list[float] = []
    statuses: list[str] = []

    async def caller(n: int) -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            response = await client.start_sync_execution(short_arn, '{"a":1}', timeout=30)
            latencies.append(time.perf_counter() - t0)
            statuses.append(response["status"])

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(caller, 100)
    p99 = _p99(latencies)
    assert p99 < 0.050, f"short executions' p99 {p99 * 1000:.1f} ms beside a looping one (bound: 50 ms)"
    assert statuses == ["SUCCEEDED"] * 1000
    # The loop is still running (not starved out either: still pending, neither finished nor failed).
    assert int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"]) == 1


def _peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):  # noqa: SIM115 - a one-off read
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
async def test_an_execution_buffering_unbounded_log_events_fails_cleanly(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
        worker_process: Any) -> None:
    loop_arn = (await registry.create("loop", LOOP, logging_configuration={
        "level": "ALL", "includeExecutionData": True})).arn
    short_arn = (await registry.create("short", SHORT)).arn
    worker = worker_process(redis_url, namespace)
    await worker.ready(redis, namespace)
    assert (await client.start_sync_execution(short_arn, "{}"))["status"] == "SUCCEEDED"
    before = _peak_rss_mb(worker.proc.pid)
    result = await client.start_sync_execution(loop_arn, json.dumps({"data": "x" * 200}), timeout=25)
    assert result["status"] == "FAILED", result
    assert result["error"] == "States.Runtime"
    assert "exceeded its log buffer" in result["cause"]
    # The worker is alive and well, and its memory grew by the execution's budget at most (64 MiB of data plus
    # the events' own overhead), not by what the loop would have logged in its 30 s.
    assert (await client.start_sync_execution(short_arn, "{}"))["status"] == "SUCCEEDED"
    grown = _peak_rss_mb(worker.proc.pid) - before
    assert grown < 300, f"worker RSS grew by {grown:.0f} MB"
