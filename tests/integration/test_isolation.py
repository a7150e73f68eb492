"""One execution never stalls, starves or exhausts its worker (issue 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from express_engine.service import Client, Registry

from .conftest import log_events, running_worker, wait_for

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


async def _short_latencies(client: Client, arn: str, callers: int = 10, each: int = 100) -> list[float]:
    """Sync starts of ``arn`` by ``callers`` concurrent callers, ``each`` one after another: their latencies."""
    latencies: list[float] = []

    async def caller() -> None:
        for _ in range(each):
            t0 = time.perf_counter()
            response = await client.start_sync_execution(arn, '{"a":1}', timeout=30)
            latencies.append(time.perf_counter() - t0)
            assert response["status"] == "SUCCEEDED"

    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(caller)
    return latencies


async def test_a_looping_execution_does_not_stall_short_ones(redis_url: str, namespace: str, redis: Any,
                                                             registry: Registry, client: Client,
                                                             worker_process: Any) -> None:
    loop_arn = (await registry.create("loop", LOOP)).arn
    short_arn = (await registry.create("short", SHORT)).arn
    worker = worker_process(redis_url, namespace)
    await worker.ready(redis, namespace)
    await _short_latencies(client, short_arn, 10, 10)  # (warm-up: machine cache, connections)
    # The floor: the same short executions while a process outside the worker burns a core as the loop will, so
    # that what the machine's CPU contention costs (tens of ms at the 99th percentile on a busy shared machine)
    # is not charged to the worker's scheduling.
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        floor = _p99(await _short_latencies(client, short_arn))
    finally:
        hog.kill()
        hog.wait()
    await client.start_execution(loop_arn, "{}")

    async def looping() -> bool:
        return int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"]) == 1
    await wait_for(looping, 10)  # the loop is running on the worker
    await anyio.sleep(0.2)
    # Beside the loop, 1,000 short executions' p99 stays within 50 ms (of the floor): best of up to 3 rounds, a
    # shared machine has its moments. Were the loop holding the worker, every round would take its 30 s.
    rounds = []
    for _ in range(3):
        rounds.append(_p99(await _short_latencies(client, short_arn)))
        if rounds[-1] < 0.050 + floor:
            break
    assert min(rounds) < 0.050 + floor, (f"short executions' p99 per round beside a looping one: {rounds} s; "
                                         f"beside a busy process instead: {floor} s (bound: 50 ms more)")
    # The loop is still running (not starved out either: still pending, neither finished nor failed).
    assert int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"]) == 1


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
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


async def test_a_worker_killed_before_its_logs_are_written_leaves_the_start_to_run_again(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client, worker_process: Any,
        tmp_path: Path) -> None:
    # The victim's file sink is a FIFO nobody reads: opening it blocks, so the execution finishes but its
    # events are never written.
    fifo = tmp_path / "never-read.fifo"
    os.mkfifo(fifo)
    arn = (await registry.create("m", SHORT, logging_configuration={"level": "ALL"})).arn
    victim = worker_process(redis_url, namespace, "--log-sink", f"file:{fifo}", "--stats-interval", "0.1")
    await victim.ready(redis, namespace)
    execution = (await client.start_execution(arn, "{}"))["executionArn"]

    async def finished() -> bool:
        raw = await redis.hget(f"{namespace}:stats", victim.consumer)
        return raw is not None and orjson.loads(raw).get("succeeded") == 1
    await wait_for(finished, 10)
    await anyio.sleep(0.3)  # (time enough to acknowledge, were it not waiting for the sink)
    assert int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"]) == 1, \
        "acknowledged before its log events were written"
    victim.kill()  # SIGKILL between finishing and flushing
    stream = f"{namespace}:log"
    async with running_worker(redis_url, namespace, claim_idle=0.5, log_sink=f"redis:{stream}") as rescuer:
        async def logged() -> bool:
            return any(e["type"] == "ExecutionSucceeded" and e["execution_arn"] == execution
                       for e in await log_events(redis, stream)) and await redis.xlen(f"{namespace}:starts") == 0
        await wait_for(logged, 15)
    assert rescuer.stats.redelivered == 1
    types = [e["type"] for e in await log_events(redis, stream)]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def _metric(text: bytes, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    raise AssertionError(f"no {name} in /metrics")


async def test_metrics_count_each_execution_once_across_worker_kills(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
        worker_process: Any) -> None:
    from express_engine.api.metrics import ApiMetrics

    waiting = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    arn = (await registry.create("m", waiting)).arn
    accepted = 0
    for _ in range(2):  # twice: start a batch, kill its worker while some of it has finished and some not
        victim = worker_process(redis_url, namespace, "--claim-idle", "1", "--concurrency", "60")
        await victim.ready(redis, namespace)
        accepted += len(await client.start_executions(arn, ["{}"] * 100))
        await anyio.sleep(1.3)  # (the first 60 finish and are acknowledged, the next 40 are mid-Wait)
        victim.kill()
    async with running_worker(redis_url, namespace, claim_idle=1.0) as rescuer:
        async def drained() -> bool:
            return await redis.xlen(f"{namespace}:starts") == 0
        await wait_for(drained, 20)
    assert rescuer.stats.redelivered > 0  # (the kills did interrupt executions)
    text = await ApiMetrics(redis, namespace).render()
    assert _metric(text, "express_engine_executions_started_total") == accepted == 200
    # Every accepted start succeeded exactly once as far as the counters are concerned, whoever ran it.
    assert _metric(text, "express_engine_executions_succeeded_total") == accepted
    assert _metric(text, "express_engine_execution_duration_seconds_count") == accepted
    assert _metric(text, "express_engine_execution_duration_seconds_sum") >= accepted * 1.0
