"""Execution logs: CloudWatch format, levels, includeExecutionData, truncation, sinks and buffering."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from express_engine.logs import MAX_LOGGED_DATA_BYTES, BufferedSink, FileSink, MemorySink
from express_engine.service import Client, Registry

from .conftest import log_events, running_worker, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

OK = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
FAILING = json.dumps({"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Next": "F"},
    "F": {"Type": "Fail", "Error": "Nope", "Cause": "bad luck"}}})
KEYS = ["id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"]
ROLE = "arn:aws:iam::123456789012:role/express-engine"


async def _run(redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client, definition: str,
               level: str, include: bool, input: str = '{"a":1}') -> tuple[list[dict[str, Any]], str]:
    stream = f"{namespace}:log"
    await registry.create("m", definition, logging_configuration={
        "level": level, "includeExecutionData": include, "sink": f"redis:{stream}"})
    async with running_worker(redis_url, namespace):
        response = await client.start_sync_execution("m", input)
    return await log_events(redis, stream), response["executionArn"]


@pytest.mark.parametrize("include", [True, False])
async def test_level_all(redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
                         include: bool) -> None:
    events, arn = await _run(redis_url, namespace, redis, registry, client, OK, "ALL", include)
    for e in events:
        assert list(e) == KEYS
        assert e["execution_arn"] == arn and e["redrive_count"] == "0"
        assert e["event_timestamp"].isdigit() and len(e["event_timestamp"]) == 13
    chain = [(e["id"], e["type"], e["previous_event_id"]) for e in events]
    assert [(i, t) for i, t, _ in chain] == [("1", "ExecutionStarted"), ("2", "PassStateEntered"),
                                             ("3", "PassStateExited"), ("4", "ExecutionSucceeded")]
    # AWS records previous 0 for both ExecutionStarted and the first StateEntered (its CloudWatch log records).
    previous = [p for _, _, p in chain]
    assert previous == ["0", "0", "2", "3"]
    details = [e["details"] for e in events]
    if include:
        assert details == [
            {"input": '{"a":1}', "inputDetails": {"truncated": False}, "roleArn": ROLE},
            {"name": "P", "input": '{"a":1}', "inputDetails": {"truncated": False}},
            {"name": "P", "output": '{"a":1}', "outputDetails": {"truncated": False}},
            {"output": '{"a":1}', "outputDetails": {"truncated": False}},
        ]
    else:  # AWS deletes exactly input, inputDetails, output and outputDetails
        assert details == [{"roleArn": ROLE}, {"name": "P"}, {"name": "P"}, {}]


@pytest.mark.parametrize(("level", "expected"), [
    ("ALL", ["ExecutionStarted", "PassStateEntered", "PassStateExited", "FailStateEntered", "ExecutionFailed"]),
    ("ERROR", ["FailStateEntered", "ExecutionFailed"]),
    ("FATAL", ["ExecutionFailed"]),
    ("OFF", []),
])
async def test_levels_on_failure(redis_url: str, namespace: str, redis: Any, registry: Registry, client: Client,
                                 level: str, expected: list[str]) -> None:
    events, _ = await _run(redis_url, namespace, redis, registry, client, FAILING, level, False)
    assert [e["type"] for e in events] == expected
    if expected:
        # Filtering keeps the original ids (gaps are expected) and the terminal event carries error/cause.
        assert events[-1]["id"] == "5" and events[-1]["previous_event_id"] == "4"
        assert events[-1]["details"] == {"error": "Nope", "cause": "bad luck"}


async def test_error_level_logs_the_fail_state_input(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                                     client: Client) -> None:
    # The only payload an ERROR level logs (the events of the data flow, which carry the others, are filtered out).
    events, _ = await _run(redis_url, namespace, redis, registry, client, FAILING, "ERROR", True)
    assert [e["details"] for e in events] == [
        {"name": "F", "input": '{"a":1}', "inputDetails": {"truncated": False}},
        {"error": "Nope", "cause": "bad luck"},
    ]


@pytest.mark.parametrize("level", ["ERROR", "FATAL", "OFF"])
async def test_quiet_levels_on_success(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                       client: Client, level: str) -> None:
    events, _ = await _run(redis_url, namespace, redis, registry, client, OK, level, True)
    assert events == []


async def test_large_data_is_truncated(redis_url: str, namespace: str, redis: Any, registry: Registry,
                                       client: Client) -> None:
    big = json.dumps({"s": "x" * 255_000}, separators=(",", ":"))
    events, _ = await _run(redis_url, namespace, redis, registry, client, OK, "ALL", True, big)
    started = events[0]["details"]
    assert started["inputDetails"] == {"truncated": True}
    assert len(started["input"].encode()) == MAX_LOGGED_DATA_BYTES and big.startswith(started["input"])
    assert events[-1]["details"]["outputDetails"] == {"truncated": True}


async def test_file_sink_rotates_by_size(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "events.log", max_bytes=100, backups=2)
    for i in range(10):
        await sink.write([b'{"n":%d,"pad":"%s"}' % (i, b"x" * 20)])  # 37 bytes per line: 2 per file
    await sink.aclose()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["events.log", "events.log.1", "events.log.2"]
    lines = [orjson.loads(line)["n"] for name in ("events.log.2", "events.log.1", "events.log")
             for line in (tmp_path / name).read_bytes().splitlines()]
    assert lines == list(range(4, 10))  # the oldest lines went with the oldest backup
    assert all((tmp_path / f).stat().st_size <= 100 for f in files)


class SlowSink(MemorySink):
    """A sink that takes its time."""

    async def write(self, messages: Sequence[bytes]) -> None:
        await anyio.sleep(0.05)
        await super().write(messages)


async def test_full_buffer_blocks_or_drops_and_counts() -> None:
    # block: the producer waits for room, nothing is lost.
    sink = SlowSink()
    buffered = BufferedSink(sink, max_events=4, policy="block")
    async with anyio.create_task_group() as tg:
        tg.start_soon(buffered.run)
        with anyio.fail_after(5):
            for i in range(10):
                await buffered.put([b"%d" % i, b"%d" % i])
        await buffered.aclose()
    assert len(sink.messages) == 20 and buffered.dropped == 0

    # drop: a batch that does not fit is discarded whole and counted.
    sink = SlowSink()
    buffered = BufferedSink(sink, max_events=4, policy="drop")
    async with anyio.create_task_group() as tg:
        tg.start_soon(buffered.run)
        for i in range(10):
            await buffered.put([b"%d" % i, b"%d" % i])
        await buffered.aclose()
    assert len(sink.messages) + buffered.dropped == 20 and buffered.dropped > 0
    assert buffered.written == len(sink.messages)


class FlakySink(MemorySink):
    """Fails its first two writes."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 2

    async def write(self, messages: Sequence[bytes]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("sink down")
        await super().write(messages)


async def test_failing_sink_is_retried() -> None:
    sink = FlakySink()
    buffered = BufferedSink(sink)
    async with anyio.create_task_group() as tg:
        tg.start_soon(buffered.run)
        await buffered.put([b"1", b"2"])
        await buffered.aclose()
    assert sink.messages == [b"1", b"2"] and buffered.dropped == 0


_WRITER = """
import sys, anyio
from express_engine.logs import FileSink
async def main():
    sink = FileSink(sys.argv[1], max_bytes=2000, backups=1000)
    for i in range(200):
        await sink.write([b'{"w":%s,"n":%d,"pad":"%s"}' % (sys.argv[2].encode(), i, b"x" * 40)])
    await sink.aclose()
anyio.run(main)
"""


async def test_file_sink_rotation_holds_with_several_writer_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "events.log"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w)]) for w in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    files = list(tmp_path.iterdir())
    assert max(f.stat().st_size for f in files) <= 2000
    lines = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    assert sorted((e["w"], e["n"]) for e in lines) == [(w, n) for w in range(3) for n in range(200)]
async def test_a_start_by_alias_logs_its_alias_and_version(redis_url: str, namespace: str, redis: Any,
                                                           registry: Registry, client: Client) -> None:
    stream = f"{namespace}:log"
    record = await registry.create("m", OK, logging_configuration={"level": "ALL", "sink": f"redis:{stream}"})
    version_arn, _ = await registry.publish_version(record.arn)
    alias_arn, _ = await registry.create_alias("live", None, [{"stateMachineVersionArn": version_arn,
                                                               "weight": 100}])
    async with running_worker(redis_url, namespace):
        await client.start_sync_execution(alias_arn, "{}")
        await client.start_sync_execution(version_arn, "{}")
        await client.start_sync_execution(record.arn, "{}")
        await client.start_execution(alias_arn, "{}")

        async def all_logged() -> bool:  # 4 events for each of the 4 executions (the async one comes last)
            return bool(await redis.xlen(stream) >= 16)

        await wait_for(all_logged, 10)
    started = [e["details"] for e in await log_events(redis, stream) if e["type"] == "ExecutionStarted"]
    by_alias = {"roleArn": ROLE, "stateMachineAliasArn": alias_arn, "stateMachineVersionArn": version_arn}
    assert started == [by_alias, {"roleArn": ROLE, "stateMachineVersionArn": version_arn}, {"roleArn": ROLE},
                       by_alias]
