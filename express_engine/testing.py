"""pytest plugin: test your workflows against an in-process engine, or through boto3, in one line.

Enable it with ``pytest_plugins = ["express_engine.testing"]`` in your ``conftest.py``. Fixtures:

* ``sfn`` - an :class:`InProcessStepFunctions` (async): create machines, register Lambda handlers,
  run executions to completion::

      async def test_order(sfn):
          sfn.register_handler("charge", lambda event, ctx: {"ok": True})
          result = await sfn.run(definition, {"total": 10})
          assert result.status == "SUCCEEDED" and result.output["ok"]

* ``sfn_server`` - a :class:`StepFunctionsServer` (the HTTP API on a free loopback port, in a
  background thread); ``sfn_boto3`` - a boto3 ``stepfunctions`` client pointed at it (sync tests).
* ``aws_server`` - an :class:`AwsTestServer`: one ``moto_server`` (``pip install 'moto[server]'``) per
  session on a free loopback port, for workflows whose Task states call AWS services; its ``env()``
  is the engine configuration that sends every AWS call there.

Mocked task responses (Step Functions Local's ``MockConfigFile.json``) come from the
``--sfn-mock-config FILE`` option, the ``sfn_mock_config`` ini value or ``SFN_MOCK_CONFIG``; select a
test case with ``sfn.run(..., test_case="HappyPath")`` or ``stateMachineArn#HappyPath``.
Wait and Retry delays are skipped (``time_scale=0``) unless ``--sfn-time-scale`` says otherwise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from .jsonutil import Json, dumps, loads

if TYPE_CHECKING:  # the engine is imported when a fixture first needs it: loading the plugin stays cheap
    from .runtime.engine import Engine
    from .runtime.interfaces import StartClient, StateMachineRegistry
    from .runtime.mocks import MockConfig
    from .runtime.records import StateMachineRecord
    from .runtime.tasks import Handler

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["AwsTestServer", "ExecutionResult", "InProcessStepFunctions", "StepFunctionsServer", "free_port",
           "wait_until_healthy"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(port: int, proc: Any, timeout: float = 30.0) -> None:
    """Wait until the engine's HTTP server on ``port`` answers ``GET /health``; fail if ``proc`` (the
    ``subprocess.Popen`` serving it) exits first or ``timeout`` seconds pass."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited with status {proc.returncode} before answering") from None
            if time.monotonic() >= deadline:
                raise AssertionError(f"the server did not answer /health within {timeout} s") from None
            time.sleep(0.1)


@dataclass
class ExecutionResult:
    """A finished execution: the StartSyncExecution response with ``output`` parsed."""

    status: str
    output: Json = None
    error: str | None = None
    cause: str | None = None
    response: dict[str, Json] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """Whether the execution succeeded."""
        return self.status == "SUCCEEDED"


class InProcessStepFunctions:
    """An in-process engine with its registry and client: the ``sfn`` fixture."""

    def __init__(self, engine: Engine, registry: StateMachineRegistry, client: StartClient) -> None:
        self.engine = engine
        self.registry = registry
        self.client = client
        self._n = 0

    def register_handler(self, name: str, fn: Handler, *, blocking: bool = False) -> None:
        """Serve a Lambda function name (or any resource ARN) with ``fn(event, context)``."""
        self.engine.register_handler(name, fn, blocking=blocking)

    async def create(self, definition: str | Mapping[str, Json] | Path, name: str | None = None,
                     **kwargs: Any) -> StateMachineRecord:
        """Create (or re-create identically) an EXPRESS state machine from text, a dict or a file."""
        if isinstance(definition, Path):
            definition = definition.read_text()
        if name is None:
            self._n += 1
            name = f"test-{self._n}"
        text = definition if isinstance(definition, str) else dumps(definition)
        return await self.registry.create(name, text, **kwargs)

    async def run(self, machine: str | Mapping[str, Json] | Path | StateMachineRecord, input: Json = None, *,
                  name: str | None = None, test_case: str | None = None) -> ExecutionResult:
        """Run an execution to completion (``machine``: a record, an ARN or a definition)."""
        from .runtime.mocks import split_test_case
        from .runtime.records import StateMachineRecord

        if isinstance(machine, StateMachineRecord):
            arn = machine.arn
        elif isinstance(machine, str) and machine.startswith("arn:"):
            arn = machine
        else:
            arn = (await self.create(machine)).arn
        arn, case = split_test_case(arn)
        response = await self.client.start_sync_execution(arn, dumps({} if input is None else input), name,
                                                          test_case=test_case or case or None)
        output = loads(response["output"]) if "output" in response else None
        return ExecutionResult(response["status"], output, response.get("error"), response.get("cause"), response)


class StepFunctionsServer:
    """The HTTP API over an in-process engine, served from a background thread (for sync tests).

    ``with StepFunctionsServer() as server: boto3.client(..., endpoint_url=server.endpoint_url)``.
    """

    def __init__(self, *, engine: Engine | None = None, mocks: MockConfig | None = None,
                 auth: Mapping[str, str] | None = None, max_body: int | None = None,
                 backend: Callable[[], Any] | None = None, wrap: Callable[[Any], Any] | None = None) -> None:
        from .runtime.engine import Engine

        self.engine = engine or Engine(time_scale=0)
        #: turns the API app into the app served (e.g. :func:`express_engine.console.with_console`)
        self.wrap = wrap
        self.mocks = mocks
        self.auth = auth
        self.max_body = max_body
        #: An async context manager factory yielding (registry, client); default: the in-process engine.
        self.backend = backend
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def register_handler(self, name: str, fn: Handler, *, blocking: bool = False) -> None:
        """Serve a Lambda function name (or resource ARN) with ``fn`` in the server's engine."""
        self.engine.register_handler(name, fn, blocking=blocking)

    def start(self) -> StepFunctionsServer:
        """Start serving; returns once the port is open."""
        self._thread = threading.Thread(target=self._main, name="express-engine-api", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("the Step Functions test server did not start") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> StepFunctionsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def boto3_client(self, **config: Any) -> Any:
        """A boto3 ``stepfunctions`` client for this server (host prefix off, dummy credentials)."""
        import boto3
        from botocore.config import Config

        key, secret = next(iter(self.auth.items())) if self.auth else ("test", "test")
        return boto3.client("stepfunctions", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(inject_host_prefix=False, retries={"max_attempts": 0}, **config))

    def _main(self) -> None:
        try:
            import uvloop

            uvloop.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from .api.local import local_backend
        from .api.server import DEFAULT_MAX_BODY, serve_http

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        backend = self.backend() if self.backend is not None else local_backend(self.engine, mocks=self.mocks)
        import anyio

        async with backend as (registry, client), anyio.create_task_group() as tg:
            self.port = await tg.start(lambda task_status: serve_http(
                registry, client, port=0, auth=self.auth, mocks=self.mocks, handlers=self.engine.handlers,
                max_body=self.max_body or DEFAULT_MAX_BODY, wrap=self.wrap, task_status=task_status))
            self._ready.set()
            await self._stop.wait()
            tg.cancel_scope.cancel()


class AwsTestServer:
    """An AWS-compatible server (``moto_server``) in a subprocess on a free loopback port."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.url = ""
        self._proc: Any = None

    def start(self, timeout: float = 30.0) -> AwsTestServer:
        """Start the server and wait until it answers."""
        import os
        import shutil
        import subprocess
        import sys
        import time
        import urllib.request

        port = free_port()
        exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
        if exe is None:
            raise RuntimeError("moto_server is not installed: pip install 'moto[server]'")
        self._proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).read()
                return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server."""
        import subprocess

        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def env(self, **extra: str) -> dict[str, str]:
        """Engine settings (:class:`~express_engine.integrations.aws_config.AwsSettings`) calling it for real."""
        return {"EXPRESS_ENGINE_AWS": "real", "AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": self.region, **extra}

    def client(self, service: str) -> Any:
        """A boto3 client on the server (to prepare and check state from a test)."""
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=self.region, aws_access_key_id="testing",
                            aws_secret_access_key="testing")


# -- the pytest plugin -----------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--sfn-mock-config`` / ``--sfn-time-scale`` and their ini twins."""
    group = parser.getgroup("express_engine")
    group.addoption("--sfn-mock-config", default=None, help="MockConfigFile.json for the sfn fixtures")
    group.addoption("--sfn-time-scale", type=float, default=None,
                    help="multiply Wait/Retry delays by this factor in the sfn fixtures (default 0: no waiting)")
    parser.addini("sfn_mock_config", "MockConfigFile.json for the sfn fixtures", default="")


def _mock_config(config: pytest.Config) -> MockConfig | None:
    path = config.getoption("--sfn-mock-config", None)
    if not path:
        try:
            path = config.getini("sfn_mock_config")
        except ValueError:  # the fixtures were imported without the plugin's hooks
            path = None
    from .runtime.mocks import MockConfig

    return MockConfig.load(path) if path else MockConfig.from_env()


def _time_scale(config: pytest.Config) -> float:
    scale = config.getoption("--sfn-time-scale", None)
    return 0.0 if scale is None else scale


try:
    import pytest_asyncio

    # Same event loop as the (function-scoped, by default) test that uses it.
    _fixture: Any = pytest_asyncio.fixture(loop_scope="function")
except ImportError:  # pragma: no cover - plain pytest: async tests need another plugin anyway
    _fixture = pytest.fixture


def _async_fixture(fn: _F) -> _F:
    return cast(_F, _fixture(fn))


@_async_fixture
async def sfn(request: pytest.FixtureRequest) -> AsyncIterator[InProcessStepFunctions]:
    """An in-process engine, registry and client (service integrations installed)."""
    from .api.local import local_backend
    from .runtime.engine import Engine

    engine = Engine(time_scale=_time_scale(request.config))
    # pytest-asyncio may finalize a fixture in another task than the one that set it up, and the
    # engine's task group must be exited where it was entered: hold it in a task of its own.
    ready: asyncio.Future[InProcessStepFunctions] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        async with local_backend(engine, mocks=_mock_config(request.config)) as (registry, client):
            ready.set_result(InProcessStepFunctions(engine, registry, client))
            await done.wait()

    holder = asyncio.create_task(hold())
    try:
        waiting: list[asyncio.Future[Any]] = [ready, holder]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            holder.result()  # raises the setup error
        yield ready.result()
    finally:
        done.set()
        await holder


@pytest.fixture
def sfn_server(request: pytest.FixtureRequest) -> Iterator[StepFunctionsServer]:
    """The HTTP API on a free loopback port (its own engine, in a background thread)."""
    from .runtime.engine import Engine

    engine = Engine(time_scale=_time_scale(request.config))
    with StepFunctionsServer(engine=engine, mocks=_mock_config(request.config)) as server:
        yield server


@pytest.fixture
def sfn_boto3(sfn_server: StepFunctionsServer) -> Any:
    """A boto3 ``stepfunctions`` client talking to ``sfn_server``."""
    pytest.importorskip("boto3")
    return sfn_server.boto3_client()


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsTestServer]:
    """One ``moto_server`` for the session (skips the test when moto is not installed)."""
    pytest.importorskip("moto")
    server = AwsTestServer().start()
    try:
        yield server
    finally:
        server.stop()
