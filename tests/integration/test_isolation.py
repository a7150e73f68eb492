"""One execution never stalls, starves or exhausts its worker (issue 18)."""

from __future__ import annotations

import json
import os
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


async def _short_latencies(client: Client, arn: str, redis: Any, stream: str, callers: int = 10,
                           each: int = 100) -> tuple[list[float], list[float]]:
    """Sync starts of ``arn`` by ``callers`` concurrent callers, ``each`` one after another.

    Returns two latencies per start: on the worker, from when the worker could have read the start (its stream
    entry's id: Redis's clock when it was added, seen by a plain XREAD beside the consumer group; just before
    it was sent, for the few entries finished and deleted before that XREAD came back) to the execution's
    ``stopDate`` (the worker's clock at its end); and as the caller saw it, to the reply's arrival.
    """
    on_worker: list[float] = []
    seen: list[float] = []
    added: dict[str, float] = {}

    async def observe() -> None:
        last = "$"
        while True:
            for _, entries in await redis.xread({stream: last}, count=100, block=1000):
                for entry_id, fields in entries:
                    last = entry_id
                    added[orjson.loads(fields[b"start"])["arn"]] = int(entry_id.split(b"-")[0]) / 1000

    async def caller() -> None:
        for _ in range(each):
            t0, sent = time.perf_counter(), time.time()
            response = await client.start_sync_execution(arn, '{"a":1}', timeout=30)
            seen.append(time.perf_counter() - t0)
            assert response["status"] == "SUCCEEDED"
            # (both ends are rounded to the millisecond)
            on_worker.append(response["stopDate"] - added.get(response["executionArn"], sent) + 0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(observe)
        await anyio.sleep(0.05)  # (the XREAD is waiting)
        async with anyio.create_task_group() as starts:
            for _ in range(callers):
                starts.start_soon(caller)
        tg.cancel_scope.cancel()
    return on_worker, seen


async def test_a_looping_execution_does_not_stall_short_ones(redis_url: str, namespace: str, redis: Any,
                                                             registry: Registry, client: Client,
                                                             worker_process: Any) -> None:
    loop_arn = (await registry.create("loop", LOOP)).arn
    short_arn = (await registry.create("short", SHORT)).arn
    stream = f"{namespace}:starts"
    worker = worker_process(redis_url, namespace)
    await worker.ready(redis, namespace)
    await _short_latencies(client, short_arn, redis, stream, 10, 10)  # (warm-up: machine cache, connections)
    await client.start_execution(loop_arn, "{}")

    async def looping() -> bool:
        return int((await redis.xpending(stream, "workers"))["pending"]) == 1
    await wait_for(looping, 10)  # the loop is running on the worker
    await anyio.sleep(0.2)  # (long enough to be in the background lane)
    # Beside the loop, 1,000 short executions' p99 stays under 50 ms. The issue is one execution stalling the
    # others on its worker, so this is the worker's latency: from when it could have read each start to the
    # end of its execution (see _short_latencies); what the caller's process and the reply's way back cost on
    # a busy machine is not the worker's doing (reported, not bounded). Best of up to 3 rounds: a shared
    # machine has its moments. A worker whose loop held the event loop fails (its starts in flight wait for
    # the loop's 30 s timeout); one that let it run 50 ms slices fails every round too (p99 60-110 ms).
    rounds: list[tuple[float, float]] = []
    for _ in range(3):
        on_worker, seen = await _short_latencies(client, short_arn, redis, stream)
        # (a loop holding the worker once, until its end, stalls only the 10 starts in flight then: 1 %)
        assert max(on_worker) < 1.0, f"a short execution waited {max(on_worker):.1f} s for the loop"
        rounds.append((_p99(on_worker), _p99(seen)))
        if rounds[-1][0] < 0.050:
            break
    print("short executions' p99 beside a loop, in s (on the worker, as the caller saw it):", rounds)
    assert min(p99 for p99, _ in rounds) < 0.050, (
        f"short executions' p99 per round beside a looping one (on the worker, as the caller saw it): {rounds} s")
    # The loop is still running (not starved out either: still pending, neither finished nor failed).
    assert int((await redis.xpending(stream, "workers"))["pending"]) == 1


#: A loop whose Pass computes a heavy JSONata expression (tens of ms) on every turn.
HEAVY = json.dumps({"QueryLanguage": "JSONata", "StartAt": "H", "TimeoutSeconds": 30, "States": {
    "H": {"Type": "Pass", "Output": "{% $reduce([1..5000], function($a, $b){$a + $b}) %}", "Next": "H2"},
    "H2": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input = 0 %}", "Next": "E"}], "Default": "H"},
    "E": {"Type": "Succeed"}}})


async def test_a_heavy_jsonata_expression_does_not_stall_short_ones(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
        worker_process: Any) -> None:
    heavy_arn = (await registry.create("heavy", HEAVY)).arn
    short_arn = (await registry.create("short", SHORT)).arn
    stream = f"{namespace}:starts"
    worker = worker_process(redis_url, namespace)
    await worker.ready(redis, namespace)
    await _short_latencies(client, short_arn, redis, stream, 10, 10)  # (warm-up)
    await client.start_execution(heavy_arn, "{}")
    await anyio.sleep(0.3)  # (it is evaluating: each evaluation goes to the thread pool after a slice)
    # As beside a Pass/Choice loop (see above), 1,000 short executions beside it: p99 under 50 ms on the worker.
    # Run on the event loop, the evaluations hold the worker for their whole length (measured: p99 9.4 s, the
    # execution timing out at 30 s as its evaluations take turns with nothing).
    rounds: list[tuple[float, float]] = []
    for _ in range(3):
        on_worker, seen = await _short_latencies(client, short_arn, redis, stream)
        assert max(on_worker) < 1.0, f"a short execution waited {max(on_worker):.1f} s for the heavy one"
        rounds.append((_p99(on_worker), _p99(seen)))
        if rounds[-1][0] < 0.050:
            break
    print("short executions' p99 beside a heavy expression, in s (on the worker, as the caller saw it):", rounds)
    assert min(p99 for p99, _ in rounds) < 0.050, (
        f"short executions' p99 per round beside a heavy expression (on the worker, as the caller saw it): "
        f"{rounds} s")
    assert int((await redis.xpending(stream, "workers"))["pending"]) == 1  # (still evaluating, in turns)


#: A Task whose Arguments, and a Map whose ItemSelector (for each of its 2 items), compute a heavy JSONata
#: expression (tens of ms each on a quiet machine): fields of async states, where just the evaluation runs in the
#: pool (the Task is not invoked again for it). The Task's function records each call (see lambdas.py).
HEAVY_FIELDS = json.dumps({"QueryLanguage": "JSONata", "StartAt": "T", "TimeoutSeconds": 30, "States": {
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
          "Arguments": {"execution": "{% $states.context.Execution.Id %}",
                        "n": "{% $reduce([1..5000], function($a, $b){$a + $b}) %}"}, "Next": "M"},
    "M": {"Type": "Map", "Items": "{% [1, 2] %}",
          "ItemSelector": {"i": "{% $states.context.Map.Item.Value %}",
                           "h": "{% $reduce([1..5000], function($a, $b){$a + $b}) %}"},
          "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
          "Output": {"n": "{% $states.input.n %}", "items": "{% $states.result %}"}, "End": True}}})


async def test_heavy_jsonata_in_task_and_map_fields_does_not_stall_short_ones(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
        worker_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .lambdas import CALLS_FILE

    heavy_arn = (await registry.create("heavy-fields", HEAVY_FIELDS)).arn
    short_arn = (await registry.create("short", SHORT)).arn
    stream = f"{namespace}:starts"
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv(CALLS_FILE, str(calls))  # (the worker process inherits it)
    worker = worker_process(redis_url, namespace, "--handler", "echo=tests.integration.lambdas:recorded_echo")
    await worker.ready(redis, namespace)
    await _short_latencies(client, short_arn, redis, stream, 10, 10)  # (warm-up)
    # One heavy execution in flight all along: the next starts as soon as the last has ended.
    heavy: list[dict[str, Any]] = []
    stop = anyio.Event()

    async def heavy_ones() -> None:
        while not stop.is_set():
            heavy.append(await client.start_sync_execution(heavy_arn, "{}", timeout=30))

    # As beside a heavy Pass (above): 1,000 short executions, p99 under 50 ms on the worker. With these fields
    # evaluated on the event loop (their offload disabled), measured: each evaluation holds the worker ~150 ms,
    # the first round fails with a short execution that waited 1.5 s (p99 0.46-0.47 s in rounds of 200).
    rounds: list[tuple[float, float]] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(heavy_ones)
        await anyio.sleep(0.3)  # (it is evaluating: each evaluation goes to the thread pool after a slice)
        for _ in range(3):
            on_worker, seen = await _short_latencies(client, short_arn, redis, stream)
            assert max(on_worker) < 1.0, f"a short execution waited {max(on_worker):.1f} s for the heavy ones"
            rounds.append((_p99(on_worker), _p99(seen)))
            if rounds[-1][0] < 0.050:
                break
        stop.set()  # (the one in flight ends)
    print(f"short executions' p99 beside {len(heavy)} executions with heavy Task/Map fields, in s (on the worker, "
          f"as the caller saw it):", rounds)
    assert min(p99 for p99, _ in rounds) < 0.050, (
        f"short executions' p99 per round beside heavy Task/Map fields (on the worker, as the caller saw it): "
        f"{rounds} s")
    # Each heavy execution succeeded with the values computed in the pool, and its Task's function was invoked
    # exactly once (never again for an evaluation that gave up on the event loop).
    assert heavy  # (one in flight all along: at least the last one ended)
    for result in heavy:
        assert result["status"] == "SUCCEEDED", result
        assert json.loads(result["output"]) == {"n": 12502500, "items": [{"i": 1, "h": 12502500},
                                                                    {"i": 2, "h": 12502500}]}
    invoked = [orjson.loads(line)["execution"] for line in calls.read_bytes().splitlines()]
    assert sorted(invoked) == sorted(r["executionArn"] for r in heavy)


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
