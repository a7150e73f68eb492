"""AWS-service fixtures: ONE real moto server per session (``moto_server`` on a free loopback port).

Nothing is mocked in-process: the engine's aiobotocore clients talk HTTP to the server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from express_engine import Engine
from express_engine.integrations import install
from express_engine.integrations.aws_config import AwsSettings
from express_engine.jsonutil import dumps, loads

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MotoServer:
    url: str
    proc: subprocess.Popen[bytes]

    def client(self, service: str) -> Any:
        """A boto3 client on the server (to prepare and check state from the test)."""
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def env(self, **extra: str) -> dict[str, str]:
        """Engine settings calling every AWS service on this server."""
        return {"EXPRESS_ENGINE_AWS": "real", "AWS_ENDPOINT_URL": self.url, **CREDENTIALS, **extra}


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    port = free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
    cmd = [exe] if exe else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    try:
        yield MotoServer(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class AwsRunner:
    """Runs definitions on an in-process engine whose AWS calls go where ``settings`` say."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._n = 0

    async def __call__(self, definition: dict[str, Any], input: Any = None, *, mock: Any = None) -> dict[str, Any]:
        self._n += 1
        record = self.engine.create_state_machine(f"aws{self._n}", definition)
        response = await self.engine.start_sync_execution(record, dumps({} if input is None else input), mock=mock)
        if "output" in response:
            response["output"] = loads(response["output"])
        return response


async def _noop_sleep(seconds: float) -> None:
    return None


def aws_runner(settings: AwsSettings) -> Any:
    """An async context manager yielding an :class:`AwsRunner` with the integrations installed."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def cm() -> AsyncIterator[AwsRunner]:
        engine = Engine(sleep=_noop_sleep)
        async with install(engine.handlers, aws=settings):
            yield AwsRunner(engine)

    return cm()


@pytest.fixture
async def aws_run(moto: MotoServer) -> AsyncIterator[AwsRunner]:
    async with aws_runner(AwsSettings.from_env(moto.env())) as runner:
        yield runner
