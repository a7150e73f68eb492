"""Real HTTP servers on free loopback ports (one per session and configuration) and boto3 clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import CREDENTIALS, MOCKS, echo
from redis_backends import embedded_valkey, redis_backend

from express_engine import Engine
from express_engine.runtime.mocks import MockConfig
from express_engine.testing import StepFunctionsServer


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """A real (embedded) Valkey server for the session."""
    with embedded_valkey() as url:
        yield url


@pytest.fixture(scope="session", params=["local", "redis"])
def server(request: pytest.FixtureRequest) -> Iterator[StepFunctionsServer]:
    """The API over the in-process engine, and over Redis with a worker (every test runs on both)."""
    engine = Engine(time_scale=0)
    engine.register_handler("echo", echo)
    mocks = MockConfig.from_dict(MOCKS)
    backend = redis_backend(request.getfixturevalue("valkey_url"), engine.handlers, mocks=mocks) \
        if request.param == "redis" else None
    with StepFunctionsServer(engine=engine, mocks=mocks, max_body=512 * 1024, backend=backend) as srv:
        yield srv


@pytest.fixture(scope="session")
def sfn(server: StepFunctionsServer) -> Any:
    return server.boto3_client()


@pytest.fixture(scope="session")
def auth_server() -> Iterator[StepFunctionsServer]:
    with StepFunctionsServer(engine=Engine(time_scale=0), auth=CREDENTIALS) as srv:
        yield srv
