"""What a benchmark drives: an in-process engine, the Redis stream (the service client), or the HTTP API.

Each target answers :meth:`Target.call` with an outcome ``(status, error)``: ``status`` is the
execution's final status for sync starts (``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``),
``ACCEPTED`` for async starts, or ``ERROR`` when the request itself failed; ``error`` names the
execution's error (``States.TaskFailed``...) or the request's (``ExecutionLimitExceeded``,
``ServiceUnavailable``, ``ClientConnectorError``...), and is None on success.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson

from .. import service_errors as api
from ..runtime.engine import DEFAULT_ACCOUNT, DEFAULT_REGION

Outcome = tuple[str, str | None]

SUCCEEDED: Outcome = ("SUCCEEDED", None)
ACCEPTED: Outcome = ("ACCEPTED", None)
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/express-engine-bench"


class TargetError(Exception):
    """The target cannot be used (unreachable, machine missing, definition invalid): the run does not start."""


def state_machine_arn(name_or_arn: str) -> str:
    """An ARN for a bare state machine name (default region and account), or the ARN itself."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:stateMachine:{name_or_arn}"


def _response_outcome(response: dict[str, Any]) -> Outcome:
    status = response.get("status")
    if status == "SUCCEEDED":
        return SUCCEEDED
    if not isinstance(status, str):
        return ("ERROR", "MalformedResponse")
    return status, response.get("error") or status


class Target:
    """Base class: ``await open()``, then ``await call()`` concurrently, then ``await close()``."""

    kind = ""
    #: the ARN of the machine the run starts (set by :meth:`open`)
    arn = ""
    #: Redis connection of the engine behind this target, for worker statistics (None: not known)
    redis: Any = None
    namespace = "ee"
    #: open loop: starts due within this many seconds leave together (the load generator sleeps instead
    #: of spinning, leaving the CPU to the engine's processes on the same machine)
    send_grain = 0.001

    def __init__(self, *, input_text: str, sync: bool) -> None:
        self.input_text = input_text
        self.sync = sync

    async def open(self) -> None:
        """Connect and create (or find) the state machine."""

    async def call(self) -> Outcome:
        """Start one execution (and, when sync, wait for its end)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections (and, in process, wait for background executions)."""

    async def backlog(self) -> int | None:
        """Unfinished async starts queued behind this target, when known (None otherwise)."""
        if self.redis is None:
            return None
        return int(await self.redis.xlen(f"{self.namespace}:starts"))

    def describe(self) -> dict[str, Any]:
        """The ``target`` section of the report."""
        return {"kind": self.kind, "state_machine_arn": self.arn, "mode": "sync" if self.sync else "async"}


class InProcessTarget(Target):
    """An :class:`~express_engine.Engine` in this process (the engine's own cost, no transport)."""

    kind = "inprocess"
    #: the engine shares this thread: send each start on time (its executions wait for nothing else)
    send_grain = 0.0

    def __init__(self, definition: str, *, name: str, input_text: str, sync: bool, handlers: list[str] | None = None,
                 time_scale: float = 1.0) -> None:
        super().__init__(input_text=input_text, sync=sync)
        from ..runtime.engine import Engine

        self.engine = Engine(time_scale=time_scale)
        for spec in handlers or ():
            self.engine.handlers.register_spec(spec)
        self.definition = definition
        self.name = name
        self.record: Any = None
        self._stack = contextlib.AsyncExitStack()

    async def open(self) -> None:
        try:
            self.record = self.engine.create_state_machine(self.name, self.definition)
        except api.ServiceError as exc:
            raise TargetError(f"{exc.code}: {exc.message}") from None
        self.arn = self.record.arn
        if not self.sync:
            await self._stack.enter_async_context(self.engine)

    async def call(self) -> Outcome:
        try:
            if self.sync:
                return _response_outcome(await self.engine.start_sync_execution(self.record, self.input_text))
            await self.engine.start_execution(self.record, self.input_text)
            return ACCEPTED
        except api.ServiceError as exc:
            return ("ERROR", exc.code)

    async def close(self) -> None:
        await self._stack.aclose()  # waits for the background executions of async starts


class RedisTarget(Target):
    """The Redis start stream through :class:`express_engine.service.client.Client` (workers run the executions)."""

    kind = "redis"

    def __init__(self, redis_url: str, *, namespace: str, definition: str | None, state_machine: str | None,
                 name: str, input_text: str, sync: bool, timeout: float) -> None:
        super().__init__(input_text=input_text, sync=sync)
        self.redis_url = redis_url
        self.namespace = namespace
        self.definition = definition
        self.state_machine = state_machine
        self.name = name
        self.timeout = timeout
        self.client: Any = None

    async def open(self) -> None:
        from ..service.client import Client
        from ..service.keys import RETRYABLE, connect, redact_url
        from ..service.registry import Registry

        self.redis = connect(self.redis_url)
        registry = Registry(self.redis, namespace=self.namespace)
        self.client = Client(self.redis, namespace=self.namespace, registry=registry)
        try:
            if self.definition is not None:
                try:
                    record = await registry.create(self.name, self.definition, role_arn=ROLE_ARN)
                except api.StateMachineAlreadyExists:
                    record = await registry.update(registry.arn(self.name), definition=self.definition)
                self.arn = record.arn
            else:
                assert self.state_machine is not None
                self.arn = (await registry.get(registry.arn(self.state_machine))).arn
        except api.ServiceError as exc:
            await self.close()
            raise TargetError(f"{exc.code}: {exc.message}") from None
        except RETRYABLE as exc:
            await self.close()
            raise TargetError(f"cannot reach Redis at {redact_url(self.redis_url)}: {exc}") from None

    async def call(self) -> Outcome:
        try:
            if self.sync:
                return _response_outcome(await self.client.start_sync_execution(self.arn, self.input_text,
                                                                                timeout=self.timeout))
            await self.client.start_execution(self.arn, self.input_text)
            return ACCEPTED
        except api.ServiceError as exc:
            return ("ERROR", exc.code)
        except Exception as exc:  # Redis errors: counted by name, the run goes on
            return ("ERROR", type(exc).__name__)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    def describe(self) -> dict[str, Any]:
        from ..service.keys import redact_url

        return {**super().describe(), "redis_url": redact_url(self.redis_url), "namespace": self.namespace}


class HttpTarget(Target):
    """The AWS JSON 1.0 HTTP API (``express-engine serve`` / ``api``) over keep-alive aiohttp connections.

    ``redis_url`` (optional) is the engine's Redis, read for the worker statistics only.
    """

    kind = "http"

    def __init__(self, endpoint_url: str, *, definition: str | None, state_machine: str | None, name: str,
                 input_text: str, sync: bool, timeout: float, connections: int, redis_url: str | None = None,
                 namespace: str = "ee") -> None:
        super().__init__(input_text=input_text, sync=sync)
        self.endpoint_url = endpoint_url.rstrip("/") + "/"
        self.definition = definition
        self.state_machine = state_machine
        self.name = name
        self.timeout = timeout
        self.connections = connections
        self.redis_url = redis_url
        self.namespace = namespace
        self.session: Any = None
        self._body = b""
        self._headers: dict[str, str] = {}

    def _headers_for(self, operation: str) -> dict[str, str]:
        return {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{operation}"}

    async def _post(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.session.post(self.endpoint_url, data=orjson.dumps(body),
                                     headers=self._headers_for(operation)) as resp:
            raw = await resp.read()
        try:
            parsed = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            parsed = {"__type": f"HTTP{resp.status}", "message": raw[:200].decode(errors="replace")}
        return resp.status, parsed

    async def open(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=self.connections,
                                         keepalive_timeout=60)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            self.arn = await self._machine()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self.close()
            raise TargetError(f"cannot reach the HTTP API at {self.endpoint_url}: {exc!r}") from None
        except TargetError:
            await self.close()
            raise
        self._body = orjson.dumps({"stateMachineArn": self.arn, "input": self.input_text})
        self._headers = self._headers_for("StartSyncExecution" if self.sync else "StartExecution")
        if self.redis_url:
            from ..service.keys import connect

            self.redis = connect(self.redis_url)

    async def _machine(self) -> str:
        if self.definition is None:
            assert self.state_machine is not None
            arn = state_machine_arn(self.state_machine)
            status, body = await self._post("DescribeStateMachine", {"stateMachineArn": arn})
            if status != 200:
                raise TargetError(f"{body.get('__type')}: {body.get('message')}")
            return arn
        status, body = await self._post("CreateStateMachine", {
            "name": self.name, "definition": self.definition, "roleArn": ROLE_ARN, "type": "EXPRESS"})
        if status == 200:
            return str(body["stateMachineArn"])
        if body.get("__type") != "StateMachineAlreadyExists":
            raise TargetError(f"CreateStateMachine failed: {body.get('__type')}: {body.get('message')}")
        arn = state_machine_arn(self.name)  # exists with another definition: replace it
        status, body = await self._post("UpdateStateMachine", {"stateMachineArn": arn, "definition": self.definition})
        if status != 200:
            raise TargetError(f"UpdateStateMachine failed: {body.get('__type')}: {body.get('message')}")
        return arn

    async def call(self) -> Outcome:
        try:
            async with self.session.post(self.endpoint_url, data=self._body, headers=self._headers) as resp:
                raw = await resp.read()
                status = resp.status
        except Exception as exc:  # connection refused / reset, timeout: counted by name, the run goes on
            return ("ERROR", type(exc).__name__)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return ("ERROR", f"HTTP{status}")
        if status != 200:
            return ("ERROR", str(body.get("__type") or f"HTTP{status}"))
        return _response_outcome(body) if self.sync else ACCEPTED

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.redis is not None:
            await self.redis.aclose()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "endpoint_url": self.endpoint_url, "connections": self.connections,
                "redis_url": self.redis_url, "namespace": self.namespace}
