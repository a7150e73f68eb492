"""Event sources on a real server: users' own streams in, executions out (one per entry or per batch),
filters, dead letters, a worker killed mid-batch."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import orjson
import pytest

from express_engine.integrations import install
from express_engine.runtime.tasks import HandlerRegistry
from express_engine.service import Client, Registry, connect
from express_engine.service.event_sources import (
    ConsumerOptions,
    EventSource,
    EventSources,
    SourceRunner,
    dead_letter_stream,
    group_name,
)

from .conftest import running_worker, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


def capture(stream: str, wait: int = 0) -> str:
    """A machine writing its whole input to ``stream`` (after ``wait`` seconds)."""
    states: dict[str, Any] = {"Out": {"Type": "Task", "Resource": "arn:aws:states:::redis:xadd",
                                      "Parameters": {"Stream": stream, "Message.$": "$"}, "End": True}}
    start = "Out"
    if wait:
        states["W"] = {"Type": "Wait", "Seconds": wait, "Next": "Out"}
        start = "W"
    return json.dumps({"StartAt": start, "States": states})


def failing_on_poison(stream: str, kind: str = "$.data.kind") -> str:
    """Fails when the input's ``kind`` (the record's data's by default) says ``poison``; otherwise captures it."""
    return json.dumps({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": kind, "StringEquals": "poison",
                                             "Next": "F"}], "Default": "Out"},
        "F": {"Type": "Fail", "Error": "Poison", "Cause": "cannot process this order"},
        "Out": {"Type": "Task", "Resource": "arn:aws:states:::redis:xadd",
                "Parameters": {"Stream": stream, "Message.$": "$"}, "End": True}}})


async def captured(redis: Any, stream: str) -> list[Any]:
    return [orjson.loads(f[b"message"]) for _, f in await redis.xrange(stream)]


@asynccontextmanager
async def engine(url: str, namespace: str, *, claim_idle: float = 30.0, handlers: HandlerRegistry | None = None,
                 local: bool = True) -> AsyncIterator[None]:
    """A worker and the event-source runner of one process, in this one (``local``: executions run in the
    worker, as in a worker process; else the runner starts them through the start stream)."""
    handlers = handlers if handlers is not None else HandlerRegistry()
    r = connect(url)
    try:
        async with (install(handlers, redis=r),
                    running_worker(url, namespace, handlers=handlers, claim_idle=claim_idle, time_scale=0,
                                   log_sink="none") as worker):
            client = Client(r, namespace=namespace)
            runner = SourceRunner(r, client, namespace=namespace, consumer=worker.consumer,
                                  options=ConsumerOptions(block=0.05, claim_idle=claim_idle, refresh=0.1, grace=2),
                                  local=worker if local else None)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(runner.run)
                    try:
                        yield
                    finally:
                        runner.stop()
            finally:
                await client.aclose()
    finally:
        await r.aclose()


async def stream_count(redis: Any, stream: str, n: int, timeout: float = 10) -> None:
    async def enough() -> bool:
        return bool(await redis.xlen(stream) >= n)
    await wait_for(enough, timeout)


@pytest.mark.parametrize("local", [True, False], ids=["in-worker", "through-start-stream"])
async def test_one_execution_per_entry_with_the_entry_as_input(redis_url: str, namespace: str, redis: Any,
                                                               registry: Registry, local: bool) -> None:
    machine = await registry.create("capture", capture(f"{namespace}:out"))
    orders = f"{namespace}:orders"
    sources = EventSources(redis, namespace=namespace)
    source = await sources.create(EventSource(name="orders", stream=orders, state_machine_arn="capture"))
    assert source.state_machine_arn == machine.arn
    ids = [(await redis.xadd(orders, {"order": f"o-{i}", "amount": str(i * 10)})).decode() for i in range(20)]
    async with engine(redis_url, namespace, local=local):
        await stream_count(redis, f"{namespace}:out", 20)
        got = {r["id"]: r for r in await captured(redis, f"{namespace}:out")}
        assert sorted(got) == sorted(ids)
        for i, entry_id in enumerate(ids):
            assert got[entry_id] == {"eventSource": "redis:stream", "stream": orders, "id": entry_id,
                                     "timestamp": int(entry_id.split("-")[0]),
                                     "data": {"order": f"o-{i}", "amount": str(i * 10)}}

        async def acknowledged() -> bool:
            info = await redis.xinfo_groups(orders)
            return bool(info[0]["pending"] == 0 and info[0]["lag"] == 0)
        await wait_for(acknowledged, 5)
    stats = await sources.stats("orders")
    assert (stats["read"], stats["started"], stats["filtered"]) == (20, 20, 0)
    assert await redis.xlen(orders) == 20  # the user's entries stay in the user's stream
    # in a worker, the executions ran there; otherwise they went through the engine's start stream
    assert (await redis.xinfo_stream(f"{namespace}:starts"))["entries-added"] == (0 if local else 20)


async def test_json_field_and_input_template(redis_url: str, namespace: str, redis: Any, registry: Registry) -> None:
    await registry.create("capture", capture(f"{namespace}:out"))
    stream = f"{namespace}:webhooks"
    await EventSources(redis, namespace=namespace).create(EventSource(
        name="hooks", stream=stream, state_machine_arn="capture", json_field="data",
        input_template='{"orderId.$": "$.data.order.id", "from.$": "$.attributes.sender", "entry.$": "$.id"}'))
    entry = (await redis.xadd(stream, {"data": '{"order": {"id": 42}}', "sender": "shop"})).decode()
    async with engine(redis_url, namespace):
        await stream_count(redis, f"{namespace}:out", 1)
    assert await captured(redis, f"{namespace}:out") == [{"orderId": 42, "from": "shop", "entry": entry}]


async def test_batches_by_size_then_by_window(redis_url: str, namespace: str, redis: Any,
                                              registry: Registry) -> None:
    await registry.create("capture", capture(f"{namespace}:out"))
    stream = f"{namespace}:clicks"
    await EventSources(redis, namespace=namespace).create(EventSource(
        name="clicks", stream=stream, state_machine_arn="capture", batch_size=4, batch_window=0.5))
    async with engine(redis_url, namespace):
        for i in range(10):
            await redis.xadd(stream, {"n": str(i)})
        await stream_count(redis, f"{namespace}:out", 2)  # two full batches
        await stream_count(redis, f"{namespace}:out", 3)  # the rest, once its window is over
        batches = await captured(redis, f"{namespace}:out")
    assert sorted(len(b) for b in batches) == [2, 4, 4]
    assert sorted(int(r["data"]["n"]) for b in batches for r in b) == list(range(10))
    assert all(isinstance(b, list) and b[0]["stream"] == stream for b in batches)


async def test_filter_drops_non_matching_entries(redis_url: str, namespace: str, redis: Any,
                                                 registry: Registry) -> None:
    await registry.create("capture", capture(f"{namespace}:out"))
    stream = f"{namespace}:mixed"
    sources = EventSources(redis, namespace=namespace)
    await sources.create(EventSource(name="big-orders", stream=stream, state_machine_arn="capture",
                                     json_field="data", filter=json.dumps(
                                         {"data": {"type": ["order"], "total": [{"numeric": [">=", 100]}]}})))
    events = [{"type": "order", "total": 150}, {"type": "refund", "total": 150}, {"type": "order", "total": 5},
              {"type": "order", "total": 100}, {"kind": "other"}]
    for e in events:
        await redis.xadd(stream, {"data": json.dumps(e)})
    before = await scrape(redis, namespace)
    assert before['express_engine_event_source_lag{source="big-orders"}'] == 5
    async with engine(redis_url, namespace):
        async def all_read() -> bool:
            return (await sources.stats("big-orders"))["read"] == 5
        await wait_for(all_read, 10)
        await stream_count(redis, f"{namespace}:out", 2)
    assert sorted(r["data"]["total"] for r in await captured(redis, f"{namespace}:out")) == [100, 150]
    stats = await sources.stats("big-orders")
    assert (stats["started"], stats["filtered"]) == (2, 3)
    assert (await redis.xinfo_groups(stream))[0]["pending"] == 0
    after = await scrape(redis, namespace)
    assert after['express_engine_event_source_lag{source="big-orders"}'] == 0
    assert after['express_engine_event_source_pending{source="big-orders"}'] == 0
    assert after['express_engine_event_source_entries_total{outcome="read",source="big-orders"}'] == 5
    assert after['express_engine_event_source_entries_total{outcome="filtered",source="big-orders"}'] == 3
    assert after['express_engine_event_source_executions_total{outcome="started",source="big-orders"}'] == 2
    assert after['express_engine_event_source_dead_letter_stream_length{source="big-orders"}'] == 0


async def scrape(redis: Any, namespace: str) -> dict[str, float]:
    """The /metrics exposition of the namespace, as {series: value}."""
    from express_engine.api.metrics import ApiMetrics

    body = (await ApiMetrics(redis, namespace).render()).decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
            if line and not line.startswith("#")}


@pytest.mark.parametrize("local", [True, False], ids=["in-worker", "through-start-stream"])
async def test_poison_entries_go_to_the_dead_letter_stream(redis_url: str, namespace: str, redis: Any,
                                                           registry: Registry, local: bool) -> None:
    await registry.create("picky", failing_on_poison(f"{namespace}:out"))
    stream = f"{namespace}:work"
    sources = EventSources(redis, namespace=namespace)
    # wait mode: an execution that fails is retried, then dead-lettered
    await sources.create(EventSource(name="work", stream=stream, state_machine_arn="picky", mode="wait",
                                     max_retries=1, retry_delay=0.0))
    # async mode: an entry that cannot become an input at all is dead-lettered at once
    json_stream = f"{namespace}:json-work"
    await sources.create(EventSource(name="json-work", stream=json_stream, state_machine_arn="picky",
                                     json_field="data"))
    for kind in ("good", "poison", "good"):
        await redis.xadd(stream, {"kind": kind})
    bad_id = (await redis.xadd(json_stream, {"data": "{not json"})).decode()
    await redis.xadd(json_stream, {"data": '{"kind": "fine"}'})
    async with engine(redis_url, namespace, local=local):
        await stream_count(redis, dead_letter_stream(namespace, "work"), 1)
        await stream_count(redis, dead_letter_stream(namespace, "json-work"), 1)
        await stream_count(redis, f"{namespace}:out", 3)
    [(_, dead)] = await redis.xrange(dead_letter_stream(namespace, "work"))
    assert dead[b"kind"] == b"poison"
    assert b"execution failed after 2 attempts" in dead[b"x-reason"] and b"Poison" in dead[b"x-reason"]
    [(_, dead)] = await redis.xrange(dead_letter_stream(namespace, "json-work"))
    assert (dead[b"x-entry-id"].decode(), dead[b"data"]) == (bad_id, b"{not json")
    assert b"not JSON" in dead[b"x-reason"]
    stats = await sources.stats("work")
    assert (stats["succeeded"], stats["failed"], stats["retried"], stats["dead_lettered"]) == (2, 2, 1, 1)
    for s in (stream, json_stream):
        assert (await redis.xinfo_groups(s))[0]["pending"] == 0


@pytest.mark.parametrize("local", [True, False], ids=["in-worker", "through-start-stream"])
async def test_a_deleted_machine_ends_wait_mode_without_retries(redis_url: str, namespace: str, redis: Any,
                                                                registry: Registry, local: bool) -> None:
    await registry.create("gone", capture(f"{namespace}:out"))
    stream = f"{namespace}:orphans"
    sources = EventSources(redis, namespace=namespace)
    await sources.create(EventSource(name="orphans", stream=stream, state_machine_arn="gone", mode="wait",
                                     max_retries=3, retry_delay=0.0))
    await registry.delete("gone")
    await redis.xadd(stream, {"job": "1"})
    async with engine(redis_url, namespace, local=local):
        await stream_count(redis, dead_letter_stream(namespace, "orphans"), 1)
    [(_, dead)] = await redis.xrange(dead_letter_stream(namespace, "orphans"))
    assert dead[b"job"] == b"1"
    assert b"StateMachineDoesNotExist" in dead[b"x-reason"]
    stats = await sources.stats("orphans")
    assert (stats["started"], stats["retried"], stats["dead_lettered"]) == (0, 0, 1)
    assert (await redis.xinfo_groups(stream))[0]["pending"] == 0
    assert await redis.xlen(f"{namespace}:out") == 0


@pytest.mark.parametrize("local", [True, False], ids=["in-worker", "through-start-stream"])
async def test_an_input_over_the_size_limit_is_dead_lettered_in_both_modes(redis_url: str, namespace: str,
                                                                          redis: Any, registry: Registry,
                                                                          local: bool) -> None:
    await registry.create("capture", capture(f"{namespace}:out"))
    sources = EventSources(redis, namespace=namespace)
    for mode in ("async", "wait"):
        await sources.create(EventSource(name=mode, stream=f"{namespace}:{mode}", state_machine_arn="capture",
                                         mode=mode))
        await redis.xadd(f"{namespace}:{mode}", {"blob": "x" * 300_000})
        await redis.xadd(f"{namespace}:{mode}", {"blob": "small"})
    async with engine(redis_url, namespace, local=local):
        for mode in ("async", "wait"):
            await stream_count(redis, dead_letter_stream(namespace, mode), 1)
        await stream_count(redis, f"{namespace}:out", 2)
    for mode in ("async", "wait"):
        [(_, dead)] = await redis.xrange(dead_letter_stream(namespace, mode))
        assert len(dead[b"blob"]) == 300_000 and dead[b"x-reason"].startswith(b"ValidationException: ")
        assert b"262144" in dead[b"x-reason"]
        stats = await sources.stats(mode)
        assert (stats["started"], stats["dead_lettered"]) == (1, 1)
        assert (await redis.xinfo_groups(f"{namespace}:{mode}"))[0]["pending"] == 0
    assert sorted(r["data"]["blob"] for r in await captured(redis, f"{namespace}:out")) == ["small", "small"]


async def test_sigkill_mid_batch_loses_nothing(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                               worker_process: Any) -> None:
    await registry.create("slow", capture(f"{namespace}:out", wait=3))
    stream = f"{namespace}:jobs"
    await EventSources(redis, namespace=namespace).create(EventSource(
        name="jobs", stream=stream, state_machine_arn="slow", mode="wait", batch_size=5, batch_window=1))
    for i in range(10):
        await redis.xadd(stream, {"job": str(i)})
    victim = worker_process(redis_url, namespace, "--claim-idle", "1")
    await victim.ready(redis, namespace)
    group = group_name(namespace, "jobs")

    async def all_in_hand() -> bool:  # every entry read by the victim
        return bool((await redis.xpending(stream, group))["pending"] == 10)
    await wait_for(all_in_hand, 15)
    await anyio.sleep(1.5)  # both batches out of their 1 s window: their executions are mid-Wait (3 s)
    victim.kill()  # SIGKILL
    assert await redis.xlen(f"{namespace}:out") == 0
    async with engine(redis_url, namespace, claim_idle=1.0):
        async def all_done() -> bool:
            done = {r["data"]["job"] for b in await captured(redis, f"{namespace}:out") for r in b}
            return done == {str(i) for i in range(10)} and (await redis.xpending(stream, group))["pending"] == 0
        await wait_for(all_done, 20, 0.1)
    runs = Counter(r["data"]["job"] for b in await captured(redis, f"{namespace}:out") for r in b)
    assert set(runs) == {str(i) for i in range(10)}
    assert await redis.xlen(dead_letter_stream(namespace, "jobs")) == 0


async def test_definitions_are_checked(redis: Any, namespace: str, registry: Registry) -> None:
    from express_engine import service_errors as api
    from express_engine.service.event_patterns import InvalidEventPattern
    from express_engine.service.event_sources import ResourceConflict

    await registry.create("capture", capture(f"{namespace}:out"))
    sources = EventSources(redis, namespace=namespace)
    with pytest.raises(api.StateMachineDoesNotExist):
        await sources.create(EventSource(name="x", stream="s", state_machine_arn="nope"))
    with pytest.raises(InvalidEventPattern):
        await sources.create(EventSource(name="x", stream="s", state_machine_arn="capture", filter='{"a": 1}'))
    with pytest.raises(api.ValidationException):
        await sources.create(EventSource(name="x", stream="s", state_machine_arn="capture", batch_size=0))
    with pytest.raises(api.ValidationException):
        await sources.create(EventSource(name="x", stream="s", state_machine_arn="capture", start_position="soon"))
    s = f"{namespace}:s"
    first = await sources.create(EventSource(name="x", stream=s, state_machine_arn="capture"))
    assert await sources.create(EventSource(name="x", stream=s, state_machine_arn="capture")) == first
    with pytest.raises(ResourceConflict):
        await sources.create(EventSource(name="x", stream=s, state_machine_arn="capture", batch_size=2))
    assert [x.name for x in await sources.list()] == ["x"]
    await sources.delete("x")
    assert await sources.list() == []
    assert await redis.xinfo_groups(s) == []
    with pytest.raises(api.ResourceNotFound):
        await sources.delete("x")
