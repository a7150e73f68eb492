"""Delivery guarantees: reclaim after SIGKILL, dead letters, graceful shutdown, Redis restart."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from typing import Any

import anyio
import orjson
import pytest

from express_engine import service_errors as api
from express_engine.service import Client, Registry

from .conftest import RedisServer, log_events, running_worker, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


def waiting(seconds: int) -> str:
    return json.dumps({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": seconds, "Next": "P"},
        "P": {"Type": "Pass", "End": True}}})


async def _create(registry: Registry, namespace: str, definition: str) -> str:
    record = await registry.create("m", definition, logging_configuration={"level": "ALL",
                                                                         "sink": f"redis:{namespace}:log"})
    return record.arn


async def _succeeded(redis: Any, namespace: str) -> Counter[str]:
    """How many times each execution ARN logged ExecutionSucceeded."""
    return Counter(e["execution_arn"] for e in await log_events(redis, f"{namespace}:log")
                   if e["type"] == "ExecutionSucceeded")


async def _pending(redis: Any, namespace: str) -> int:
    return int((await redis.xpending(f"{namespace}:starts", "workers"))["pending"])


async def _all_done(redis: Any, namespace: str, arns: set[str], timeout: float) -> Counter[str]:
    async def done() -> bool:
        return arns <= set(await _succeeded(redis, namespace)) and await redis.xlen(f"{namespace}:starts") == 0
    await wait_for(done, timeout, 0.05)
    return await _succeeded(redis, namespace)


async def test_reclaim_after_sigkill(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                     client: Client, worker_process: Any) -> None:
    arn = await _create(registry, namespace, waiting(1))
    victim = worker_process(redis_url, namespace, "--claim-idle", "1")
    await victim.ready(redis, namespace)
    accepted = {r["executionArn"] for r in await client.start_executions(arn, ["{}"] * 20)}
    sync_result: list[Any] = []

    async def sync_start() -> None:
        try:
            sync_result.append(await client.start_sync_execution(arn, "{}", timeout=15))
        except api.ServiceError as exc:
            sync_result.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sync_start)

        async def all_taken() -> bool:
            return await _pending(redis, namespace) == 21
        await wait_for(all_taken, 10)  # every start is running on the victim, mid-Wait
        victim.kill()  # SIGKILL
        async with running_worker(redis_url, namespace, claim_idle=1.0) as rescuer:
            counts = await _all_done(redis, namespace, accepted, 15)
    duplicates = sum(counts.values()) - len(counts)
    assert accepted <= set(counts), "an accepted start never completed"
    assert duplicates == 0, f"{duplicates} duplicate runs (the victim finished nothing)"
    assert rescuer.stats.redelivered == 20 and rescuer.stats.succeeded == 20
    # The sync start is never re-run: its caller gets an error instead.
    assert isinstance(sync_result[0], api.InternalFailure)
    assert rescuer.stats.sync_abandoned == 1
    assert await _pending(redis, namespace) == 0


async def test_entries_with_the_revision_inside_the_document_still_run(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client) -> None:
    """Entries written by clients before the revision became a field of its own (a rolling upgrade)."""
    arn = await _create(registry, namespace, waiting(0))
    starts = f"{namespace}:starts"
    await redis.xgroup_create(starts, "workers", id="0", mkstream=True)
    current = (await client.start_execution(arn))["executionArn"]
    [(_, fields)] = await redis.xrange(starts)
    assert set(fields) == {b"rev", b"start"}
    doc = orjson.loads(fields[b"start"])
    old = {**doc, "rev": fields[b"rev"].decode(), "arn": doc["arn"][:-36] + "0" * 36, "name": "old-style"}
    await redis.xadd(starts, {"start": orjson.dumps(old)})
    async with running_worker(redis_url, namespace) as worker:
        async def settled() -> bool:
            return await redis.xlen(starts) == 0
        await wait_for(settled, 10)
    assert worker.stats.succeeded == 2 and worker.stats.dead_lettered == 0
    assert current != old["arn"]


async def test_dead_letters(redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client) -> None:
    arn = await _create(registry, namespace, waiting(0))
    starts, dead = f"{namespace}:starts", f"{namespace}:dead"
    await redis.xgroup_create(starts, "workers", id="0", mkstream=True)
    # 1. a start that keeps killing its workers: delivered 7 times already, to consumers now gone
    poison = (await client.start_execution(arn))["executionArn"]
    [[_, [(poison_id, _)]]] = await redis.xreadgroup("workers", "ghost", {starts: ">"}, count=1)
    await redis.execute_command("XCLAIM", starts, "workers", "ghost", 0, poison_id, "IDLE", 60_000,
                                "RETRYCOUNT", 7)
    # 2. an entry nobody can read
    await redis.xadd(starts, {"sm": arn, "rev": "x", "start": "not json"})
    # 3. a start whose state machine was deleted after it was accepted
    await registry.create("gone", waiting(0))
    orphan = (await client.start_execution("gone"))["executionArn"]
    await registry.delete("gone")
    # ... and a good one, which must still run
    good = (await client.start_execution(arn))["executionArn"]

    async with running_worker(redis_url, namespace, claim_idle=0.3, max_deliveries=3) as worker:
        async def settled() -> bool:
            return await redis.xlen(starts) == 0
        await wait_for(settled, 10)
    letters = [fields for _, fields in await redis.xrange(dead)]
    reasons = sorted(f[b"reason"].decode() for f in letters)
    assert len(reasons) == 3 and worker.stats.dead_lettered == 3
    assert reasons[0].startswith("StateMachineDoesNotExist: State Machine Does Not Exist")
    assert reasons[1] == "delivered 8 times without finishing (the limit is 3)"
    assert reasons[2].startswith("malformed start entry")
    by_arn = {orjson.loads(f[b"start"])["arn"]: f for f in letters if f[b"start"] != b"not json"}
    assert set(by_arn) == {poison, orphan}  # the original request is kept with the reason
    assert by_arn[poison][b"deliveries"] == b"8"
    assert set(await _succeeded(redis, namespace)) == {good}
    assert await _pending(redis, namespace) == 0


async def test_graceful_shutdown_finishes_in_flight(redis_url: str, namespace: str, redis: Any,
                                                    registry: Registry, client: Client, worker_process: Any) -> None:
    arn = await _create(registry, namespace, waiting(1))
    proc = worker_process(redis_url, namespace, "--grace", "10")
    await proc.ready(redis, namespace)
    accepted = {r["executionArn"] for r in await client.start_executions(arn, ["{}"] * 10)}
    sync_result: list[Any] = []
    async with anyio.create_task_group() as tg:
        async def sync_start() -> None:
            sync_result.append(await client.start_sync_execution(arn, "{}", timeout=15))
        tg.start_soon(sync_start)

        async def all_taken() -> bool:
            return await _pending(redis, namespace) == 11
        await wait_for(all_taken, 10)
        proc.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        assert await proc.wait(10) == 0
        assert time.monotonic() - t0 < 5
    counts = await _succeeded(redis, namespace)
    assert accepted <= set(counts) and sync_result[0]["status"] == "SUCCEEDED"
    assert await _pending(redis, namespace) == 0 and await redis.xlen(f"{namespace}:starts") == 0
    assert proc.stats()["succeeded"] == 11


async def test_graceful_shutdown_hands_back_unfinished(redis_url: str, namespace: str, redis: Any,
                                                       registry: Registry, client: Client,
                                                       worker_process: Any) -> None:
    arn = await _create(registry, namespace, waiting(2))
    proc = worker_process(redis_url, namespace, "--grace", "0.2")
    await proc.ready(redis, namespace)
    accepted = {r["executionArn"] for r in await client.start_executions(arn, ["{}"] * 10)}

    async def all_taken() -> bool:
        return await _pending(redis, namespace) == 10
    await wait_for(all_taken, 10)
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait(5) == 0
    # Cancelled after the grace period, and never acknowledged: still pending, nothing logged as done.
    assert await _pending(redis, namespace) == 10
    assert not await _succeeded(redis, namespace)
    async with running_worker(redis_url, namespace, claim_idle=0.3):
        counts = await _all_done(redis, namespace, accepted, 10)
    assert set(counts) == accepted


async def test_a_second_stop_signal_cancels_cleanly(redis_url: str, namespace: str, redis: Any,
                                                  registry: Registry, client: Client, worker_process: Any) -> None:
    arn = await _create(registry, namespace, waiting(5))
    proc = worker_process(redis_url, namespace, "--grace", "30")
    await proc.ready(redis, namespace)
    await client.start_executions(arn, ["{}"] * 3)

    async def all_taken() -> bool:
        return await _pending(redis, namespace) == 3
    await wait_for(all_taken, 10)
    proc.proc.send_signal(signal.SIGTERM)
    await anyio.sleep(0.3)
    proc.proc.send_signal(signal.SIGTERM)  # hurry: cancel the running executions now
    assert await proc.wait(10) == 0, proc.stderr()
    assert "Traceback" not in proc.stderr(), proc.stderr()
    assert proc.stats()["succeeded"] == 0
    assert await _pending(redis, namespace) == 3  # handed back, not lost


async def test_redis_restart_during_load(redis_server: RedisServer, redis_url: str, namespace: str, redis: Any,
                                         registry: Registry, client: Client) -> None:
    if not redis_server.restartable:
        pytest.skip("$REDIS_URL points at a server these tests do not own")
    arn = await _create(registry, namespace, waiting(0))
    accepted: set[str] = set()
    sync_ok = 0
    producing = True

    async def produce() -> None:
        while producing:
            accepted.update(r["executionArn"] for r in await client.start_executions(arn, ["{}"] * 20))
            await anyio.sleep(0.01)

    async def sync_starts() -> None:
        nonlocal sync_ok
        while producing:
            if (await client.start_sync_execution(arn, "{}", timeout=20))["status"] == "SUCCEEDED":
                sync_ok += 1

    async with running_worker(redis_url, namespace) as worker, anyio.create_task_group() as tg:
        tg.start_soon(produce)
        tg.start_soon(sync_starts)
        await anyio.sleep(0.5)
        before = len(accepted)
        await anyio.to_thread.run_sync(redis_server.stop)
        await anyio.sleep(0.5)
        await anyio.to_thread.run_sync(redis_server.start)
        await anyio.sleep(1.0)
        producing = False
    assert len(accepted) > before > 0, "production did not resume after the restart"
    async with running_worker(redis_url, namespace):  # (the first worker is gone: any of its leftovers)
        counts = await _all_done(redis, namespace, accepted, 20)
    assert accepted <= set(counts), f"{len(accepted - set(counts))} accepted starts were lost"
    # Duplicates (a batch resent after the connection broke under it) are allowed for async starts.
    duplicates = sum(counts.values()) - len(counts)
    print(f"restart: {len(accepted)} accepted, {duplicates} duplicates, {worker.stats.reconnects} reconnects")
    assert sync_ok > 0 and worker.stats.reconnects > 0


async def test_delivery_lost_in_transit_is_run(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                               client: Client) -> None:
    """An entry Redis delivered to a worker whose reply never arrived is found and run, even a sync one."""
    slow = await _create(registry, namespace, waiting(1))
    fast = (await registry.create("fast", waiting(0))).arn
    async with running_worker(redis_url, namespace, concurrency=1, claim_idle=30,
                              claim_interval=0.2) as worker, anyio.create_task_group() as tg:
        await client.start_execution(slow)

        async def busy() -> bool:
            return await _pending(redis, namespace) == 1
        await wait_for(busy, 5)  # the worker's only slot is taken: it reads nothing now
        result: list[Any] = []

        async def sync_start() -> None:
            result.append(await client.start_sync_execution(fast, "{}", timeout=10))
        tg.start_soon(sync_start)

        async def delivered_but_lost() -> bool:
            # Redis hands the sync start to the worker's consumer; the reply "gets lost" (we read it).
            got = await redis.xreadgroup("workers", worker.consumer, {f"{namespace}:starts": ">"}, count=1)
            return bool(got)
        await wait_for(delivered_but_lost, 5)
    assert result[0]["status"] == "SUCCEEDED"
    assert worker.stats.sync_abandoned == 0 and worker.stats.succeeded == 2
