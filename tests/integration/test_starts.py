"""Async and sync starts through Redis: responses, errors, the registry and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import anyio
import orjson
import pytest

from express_engine import Engine
from express_engine import service_errors as api
from express_engine.jsonutil import MAX_PAYLOAD_BYTES
from express_engine.service import Client, ExecutionLimitExceeded, Registry

from .conftest import ROOT, log_events, running_worker, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}}})
FAIL = json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}})


async def test_sync_start_returns_the_outcome(redis_url: str, namespace: str, registry: Registry,
                                              client: Client) -> None:
    ok = await registry.create("ok", PASS)
    bad = await registry.create("bad", FAIL)
    async with running_worker(redis_url, namespace):
        out = await client.start_sync_execution(ok.arn, '{"x": [1, 2]}', "first")
        failed = await client.start_sync_execution("bad")
    assert out["status"] == "SUCCEEDED"
    assert out["output"] == '{"got":[1,2]}'
    assert out["input"] == '{"x":[1,2]}'
    assert out["name"] == "first"
    assert out["stateMachineArn"] == ok.arn
    assert out["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:ok:first:")
    assert out["billingDetails"] == {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}
    assert failed["status"] == "FAILED"
    assert (failed["error"], failed["cause"]) == ("Boom", "it broke")
    assert "output" not in failed and failed["stateMachineArn"] == bad.arn


async def test_workers_measure_payloads_as_the_engine_does(redis_url: str, namespace: str, redis: Any,
                                                           registry: Registry, client: Client) -> None:
    # Clients pass inputs on as the text they came as, and orjson writes 1e15 back 4.5 times longer: this output
    # is over the limit although the input text is well under it. An async start (whose input a worker never
    # writes back) fails like the same start in process.
    text = orjson.dumps({"x": ["1e15"] * 14_500}).decode().replace('"1e15"', "1e15")
    assert len(text) < MAX_PAYLOAD_BYTES / 3 and len(orjson.dumps(orjson.loads(text))) > MAX_PAYLOAD_BYTES
    echo = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})  # output = input
    stream = f"{namespace}:logs"
    await registry.create("growth", echo, logging_configuration={"level": "ERROR", "sink": f"redis:{stream}"})
    async with Engine() as engine:
        engine.create_state_machine("growth", echo)
        local = await engine.start_sync_execution("growth", text)
    async with running_worker(redis_url, namespace):
        started = await client.start_execution("growth", text)

        async def logged() -> bool:
            return bool(await redis.xlen(stream))
        await wait_for(logged, 10)
    events = await log_events(redis, stream)
    assert [(e["type"], e["execution_arn"]) for e in events] == [("ExecutionFailed", started["executionArn"])]
    assert events[0]["details"]["error"] == local["error"] == "States.DataLimitExceeded"


async def test_concurrent_sync_starts_share_one_reply_channel_that_cleans_up(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client) -> None:
    ok = await registry.create("many", PASS)
    results: dict[int, dict[str, Any]] = {}

    async def one(i: int) -> None:
        results[i] = await client.start_sync_execution(ok.arn, json.dumps({"x": i}))

    async with running_worker(redis_url, namespace):
        async with anyio.create_task_group() as tg:
            for i in range(300):
                tg.start_soon(one, i)
        await one(300)  # a later call removes the outcomes recorded for the finished ones
    # every caller got its own execution's reply, not a neighbour's
    assert all(results[i]["output"] == json.dumps({"got": i}, separators=(",", ":")) for i in range(301))
    sent = client.keys.sent(client.client_id)
    assert await redis.hlen(sent) <= 10  # finished requests are forgotten, not accumulated
    assert await redis.ttl(sent) > 0  # a crashed client leaves nothing forever


async def test_sync_starts_arriving_while_the_reply_reader_winds_down_are_answered(
        redis_url: str, namespace: str, registry: Registry, client: Client) -> None:
    ok = await registry.create("bursts", PASS)
    async with running_worker(redis_url, namespace):
        for burst in range(30):  # the reader stops when nothing waits; each burst lands as it does
            async with anyio.create_task_group() as tg:
                for i in range(5):
                    tg.start_soon(client.start_sync_execution, ok.arn, json.dumps({"x": i}), None)
            await anyio.sleep(0.001 * (burst % 7))
        out = await client.start_sync_execution(ok.arn, '{"x": 1}', timeout=5)
    assert out["status"] == "SUCCEEDED"


@pytest.mark.parametrize("reply_skip", [True, False])
async def test_acknowledgements_with_and_without_skipped_answers(
        redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client, reply_skip: bool) -> None:
    ok = await registry.create("acks", PASS)
    async with running_worker(redis_url, namespace, reply_skip=reply_skip) as worker:
        assert worker._skip_replies is reply_skip
        outs = [await client.start_sync_execution(ok.arn, json.dumps({"x": i}), timeout=5) for i in range(5)]
        await client.start_executions(ok.arn, ['{"x": 0}'] * 50)

        async def drained() -> bool:
            return await redis.xlen(f"{namespace}:starts") == 0
        await wait_for(drained, 10)
    assert [o["output"] for o in outs] == [json.dumps({"got": i}, separators=(",", ":")) for i in range(5)]
    assert worker.stats.succeeded == 55
    pending = await redis.xpending(f"{namespace}:starts", "workers")
    assert pending["pending"] == 0  # every entry was acknowledged (and deleted)


async def test_reply_recorded_while_the_reply_channel_was_down_is_delivered(
        namespace: str, redis: Any, registry: Registry, client: Client) -> None:
    await registry.create("ok", PASS)
    sent = client.keys.sent(client.client_id)
    result: list[dict[str, Any]] = []

    async def sync_start() -> None:
        result.append(await client.start_sync_execution("ok", "{}", timeout=10))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sync_start)  # no worker runs: the start waits in the stream

        async def enqueued() -> bool:
            return await redis.hlen(sent) == 1
        await wait_for(enqueued, 5)
        [rid] = await redis.hkeys(sent)
        # A worker's reply lands while the client's subscription is gone: recorded, its message unseen.
        await redis.hset(sent, rid, b'{"status":"SUCCEEDED","output":"{}"}')
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert result == [{"status": "SUCCEEDED", "output": "{}"}]

    async def forgotten() -> bool:  # nothing waits any more: the finished request is forgotten
        return await redis.hlen(sent) == 0
    await wait_for(forgotten, 5)


async def test_async_start_runs_in_the_background(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                                  client: Client) -> None:
    stream = f"{namespace}:logs"
    await registry.create("ok", PASS, logging_configuration={"level": "FATAL", "sink": f"redis:{stream}"})
    await registry.create("bad", FAIL, logging_configuration={"level": "FATAL", "sink": f"redis:{stream}"})
    async with running_worker(redis_url, namespace):
        started = await client.start_execution("bad", "{}")
        many = await client.start_executions(registry.arn("ok"), ['{"x": 1}'] * 50)

        async def drained() -> bool:
            return await redis.xlen(f"{namespace}:starts") == 0 and bool(await redis.xlen(stream))
        await wait_for(drained, 10)
    assert set(started) == {"executionArn", "startDate"}
    assert len({m["executionArn"] for m in many}) == 50
    events = await log_events(redis, stream)
    # FATAL level: only the failed execution logs, exactly its ExecutionFailed event.
    assert [(e["type"], e["execution_arn"]) for e in events] == [("ExecutionFailed", started["executionArn"])]
    assert events[0]["details"] == {"error": "Boom", "cause": "it broke"}


async def test_concurrent_async_starts_are_batched(redis_url: str, namespace: str, redis: Any,
                                                   registry: Registry, client: Client) -> None:
    await registry.create("ok", PASS)
    results: list[dict[str, Any]] = []

    async def one() -> None:
        results.append(await client.start_execution("ok", '{"x": 0}'))

    async with anyio.create_task_group() as tg:
        for _ in range(300):
            tg.start_soon(one)
    assert len({r["executionArn"] for r in results}) == 300
    assert await redis.xlen(f"{namespace}:starts") == 300
    async with running_worker(redis_url, namespace) as worker:
        async def drained() -> bool:
            return await redis.xlen(f"{namespace}:starts") == 0
        await wait_for(drained, 10)
    assert worker.stats.succeeded == 300


async def test_start_errors(namespace: str, redis: Any, registry: Registry, client: Client) -> None:
    await registry.create("ok", PASS)
    with pytest.raises(api.StateMachineDoesNotExist, match="State Machine Does Not Exist: 'arn:aws:states:"):
        await client.start_execution("missing")
    with pytest.raises(api.StateMachineDoesNotExist):
        await client.start_sync_execution("missing", timeout=5)
    with pytest.raises(api.InvalidExecutionInput, match="Invalid State Machine Execution Input"):
        await client.start_execution("ok", "not json")
    with pytest.raises(api.InvalidName):
        await client.start_execution("ok", "{}", "bad name")
    with pytest.raises(api.InvalidArn, match="Invalid ARN prefix"):
        await client.start_execution("arn:nope")
    with pytest.raises(api.ServiceUnavailable, match="No worker replied"):
        await client.start_sync_execution("ok", timeout=0.2)  # no worker is running

    small = Client(redis, namespace=namespace, registry=registry, max_backlog=2)
    await small.start_execution("ok")  # the sync start above is still waiting in the stream
    with pytest.raises(ExecutionLimitExceeded, match="Execution Limit Exceeded"):
        await small.start_execution("ok")
    with pytest.raises(ExecutionLimitExceeded):
        await small.start_sync_execution("ok", timeout=5)
    await small.aclose()


async def test_closing_a_client_answers_its_waiting_sync_starts_and_stops_its_tasks(
        namespace: str, redis: Any, registry: Registry) -> None:
    await registry.create("waits", PASS)
    own = Client(redis, namespace=namespace, registry=registry)
    outcome: list[BaseException] = []

    async def start() -> None:
        try:
            await own.start_sync_execution("waits", timeout=60)  # no worker: it waits for a reply
        except api.ServiceError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(start)
        await wait_for(lambda: redis.xlen(f"{namespace}:starts"), 10)
        with anyio.fail_after(10):
            await own.aclose()
    assert isinstance(outcome[0], api.ServiceUnavailable) and "client was closed" in str(outcome[0])
    # nothing of the client runs on: it would open a connection of the pool again after that closed
    assert own._reader is None and own._sync_sender is None


@pytest.mark.parametrize(("closed_during", "cancelled_again"), [(1, False), (2, False), (1, True)])
async def test_closing_a_client_stops_its_tasks_even_if_a_command_loses_the_cancellation(
        namespace: str, redis: Any, registry: Registry, monkeypatch: pytest.MonkeyPatch,
        closed_during: int, cancelled_again: bool) -> None:
    """On Python 3.11 a redis-py command can end normally although its task was cancelled meanwhile (its write's
    ``asyncio.wait_for``); here the reply lookups always do so. Closed while the subscription's first lookup runs
    (in the task reading the channel) or while a later one runs (in the reply reader itself), and with the reader
    cancelled again while it cleans up, the client's tasks still end and its connection is closed."""
    await registry.create("waits", PASS)
    own = Client(redis, namespace=namespace, registry=registry)
    hmget = redis.hmget
    calls: list[int] = []
    looking_up, lost = anyio.Event(), anyio.Event()

    async def loses_the_cancellation(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == closed_during:
            looking_up.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:  # (as asyncio.wait_for does when the write completes in that turn)
            lost.set()
        return await hmget(*args)

    monkeypatch.setattr(redis, "hmget", loses_the_cancellation)

    async def start() -> None:
        with pytest.raises(api.ServiceUnavailable, match="client was closed"):
            await own.start_sync_execution("waits", timeout=60)  # no worker: it waits for a reply

    async with anyio.create_task_group() as tg:
        tg.start_soon(start)
        with anyio.fail_after(10):
            await looking_up.wait()
            if cancelled_again:
                tg.start_soon(own.aclose)
                await lost.wait()
                assert own._reader is not None
                own._reader.cancel()  # (the reader is closing the subscription by now)
            else:
                await own.aclose()
    assert own._reader is None and own._sync_sender is None

    async def unsubscribed() -> bool:
        return not [c for c in await redis.client_list() if c.get("cmd") == "subscribe"]
    await wait_for(unsubscribed, 5)


async def test_registry(redis: Any, namespace: str, registry: Registry) -> None:
    rec = await registry.create("m", PASS, tags={"team": "a"})
    again = await registry.create("m", PASS, tags={"other": "ignored"})
    assert (again.arn, again.creation_date, again.revision_id) == (rec.arn, rec.creation_date, rec.revision_id)
    with pytest.raises(api.StateMachineAlreadyExists):
        await registry.create("m", FAIL)
    with pytest.raises(api.InvalidDefinition):
        await registry.create("x", '{"StartAt": "Nope", "States": {}}')

    # A second registry (another process) compiles the stored document and sees updates.
    other = Registry(redis, namespace=namespace)
    assert (await other.get("m")).machine is not rec.machine
    updated = await registry.update(rec.arn, definition=FAIL)
    assert updated.revision_id != rec.revision_id and updated.creation_date == rec.creation_date
    assert (await other.get(rec.arn)).definition == FAIL
    with pytest.raises(api.MissingRequiredParameter):
        await registry.update(rec.arn)

    await registry.tag(rec.arn, {"env": "prod"})
    await registry.untag(rec.arn, ["team"])
    assert await registry.tags(rec.arn) == {"env": "prod"}
    assert (await other.get(rec.arn)).revision_id == updated.revision_id  # tags do not make a new revision

    await registry.create("a", PASS)
    assert [r.name for r in await registry.list()] == ["a", "m"]
    await registry.delete(rec.arn)
    await registry.delete(rec.arn)  # deleting twice is fine, as on AWS
    with pytest.raises(api.StateMachineDoesNotExist):
        await other.get(rec.arn)
    with pytest.raises(api.ResourceNotFound):
        await registry.tags(rec.arn)


async def test_worker_runs_the_new_revision(redis_url: str, namespace: str, registry: Registry,
                                            client: Client) -> None:
    rec = await registry.create("m", PASS)
    async with running_worker(redis_url, namespace):
        first = await client.start_sync_execution(rec.arn, '{"x": 1}')
        await registry.update(rec.arn, definition=FAIL)
        second = await client.start_sync_execution(rec.arn, '{"x": 1}')
    assert first["status"] == "SUCCEEDED" and second["status"] == "FAILED"


def _cli(*args: str) -> tuple[int, Any]:
    done = subprocess.run([sys.executable, "-m", "express_engine", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    return done.returncode, orjson.loads(done.stdout.strip().splitlines()[-1])


async def test_cli_commands(redis_url: str, namespace: str, tmp_path: Any) -> None:
    definition = tmp_path / "sm.json"
    definition.write_text(PASS)
    common = ("--redis-url", redis_url, "--namespace", namespace)
    code, created = await anyio.to_thread.run_sync(
        lambda: _cli("create-state-machine", *common, "--name", "cli", "--definition", str(definition),
                     "--log-level", "ALL"))
    assert code == 0 and created["stateMachineArn"].endswith(":stateMachine:cli")
    code, started = await anyio.to_thread.run_sync(
        lambda: _cli("start", *common, "--state-machine", "cli", "--input", '{"x": 2}'))
    assert code == 0 and ":express:cli:" in started["executionArn"]
    async with running_worker(redis_url, namespace):
        code, out = await anyio.to_thread.run_sync(
            lambda: _cli("start-sync", *common, "--state-machine", "cli", "--input", '{"x": 3}'))
    assert code == 0 and out["output"] == '{"got":3}'
    code, err = await anyio.to_thread.run_sync(lambda: _cli("start", *common, "--state-machine", "nope"))
    assert code == 2 and err["error"] == "StateMachineDoesNotExist"
