"""AWS-service fixtures: ONE real moto server per session (``moto_server`` on a free loopback port,
started by the ``aws_server`` fixture of express_engine's pytest plugin).

Nothing is mocked in-process: the engine's aiobotocore clients talk HTTP to the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from express_engine import Engine
from express_engine.integrations import install
from express_engine.integrations.aws_config import AwsSettings
from express_engine.jsonutil import dumps, loads
from express_engine.testing import AwsTestServer

MotoServer = AwsTestServer


@pytest.fixture(scope="session")
def moto(aws_server: AwsTestServer) -> AwsTestServer:
    """The session's moto server (the ``aws_server`` fixture of express_engine's pytest plugin)."""
    return aws_server


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
async def aws_run(moto: AwsTestServer) -> AsyncIterator[AwsRunner]:
    async with aws_runner(AwsSettings.from_env(moto.env())) as runner:
        yield runner
