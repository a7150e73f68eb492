"""The AWS-compatible HTTP API: a bare ASGI app speaking AWS JSON 1.0, served by uvicorn (httptools).

Every request is ``POST`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` and a JSON body; every
answer is ``application/x-amz-json-1.0`` with ``x-amzn-RequestId``, errors as
``{"__type": code, "message": text}``. All operations are served whatever the ``Host`` header, so SDKs
that prefix StartSyncExecution / TestState with ``sync-`` work when that name resolves; otherwise turn
the prefix off: ``Config(inject_host_prefix=False)`` in boto3, ``disableHostPrefix: true`` in the JS SDK.

Authentication is off by default and refused off loopback; with credentials every request must carry
a valid AWS SigV4 signature from one of them (:mod:`express_engine.api.auth`). ``GET /health`` and
``GET /metrics`` (Prometheus text format, :mod:`express_engine.api.metrics`) need no signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import signal
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import anyio
import orjson
from anyio.abc import TaskStatus

from .. import service_errors as api
from ..runtime.ids import new_uuid
from ..runtime.interfaces import StartClient, StateMachineRegistry
from ..runtime.mocks import MockConfig
from ..runtime.tasks import HandlerRegistry
from .auth import EVENTS_SERVICE, PIPES_SERVICE, SERVICE, SigV4Verifier, credentials_from_env
from .events import TARGET_PREFIX as EVENTS_TARGET_PREFIX
from .events import EventsOperations
from .health import HealthCheck, WorkerCounter
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import ApiMetrics
from .operations import UNSUPPORTED_OPERATIONS, Operations
from .pipes import PATH_PREFIX as PIPES_PATH
from .pipes import PipesOperations

log = logging.getLogger("express_engine.api")

#: Seconds between two warnings about requests answered 503 because Redis is unreachable.
UNAVAILABLE_WARNING_EVERY = 10.0

#: Request bodies larger than this are refused with HTTP 413 (a 1 MiB definition, JSON-escaped, fits).
DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_PORT = 8083
TARGET_PREFIX = "AWSStepFunctions."
_CONTENT_TYPE = b"application/x-amz-json-1.0"
_EVENTS_CONTENT_TYPE = b"application/x-amz-json-1.1"
_PIPES_CONTENT_TYPE = b"application/json"
_NO_REDIS = ("this server runs executions in process (--local): event buses, rules and pipes need the "
             "Redis-backed server (express-engine serve, or api --redis-url)")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

RequestEntityTooLarge = type("RequestEntityTooLargeException", (api.ServiceError,),
                             {"code": "RequestEntityTooLargeException", "status": 413,
                              "__doc__": "A request body over the server's size limit (HTTP 413)."})


class _BodyTooLarge(Exception):
    pass


def _request_object(body: bytes) -> dict[str, Any]:
    """The JSON object a request body holds (``{}`` for none); SerializationException for anything else."""
    try:
        request = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise api.SerializationException(f"Malformed JSON request body: {exc}") from None
    if not isinstance(request, dict):
        raise api.SerializationException("The request body must be a JSON object")
    return request


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the Redis behind the Registry/Client is unreachable (HTTP 503, which SDKs retry)."""
    if isinstance(exc, ConnectionError):
        return True
    from redis import exceptions as redis_errors  # imported only when something failed

    return isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError))


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiApp:
    """The ASGI application: routes AWS JSON 1.0 requests to :class:`Operations`, EventBridge's
    (``AWSEvents.*``, JSON 1.1) to :class:`EventsOperations` and Pipes' (REST-JSON under ``/v1/pipes``)
    to :class:`PipesOperations` (both only over Redis)."""

    def __init__(self, operations: Operations, *, verifier: SigV4Verifier | None = None,
                 max_body: int = DEFAULT_MAX_BODY, metrics: ApiMetrics | None = None,
                 health: HealthCheck | None = None, events: EventsOperations | None = None,
                 pipes: PipesOperations | None = None) -> None:
        self.operations = operations
        self.events = events
        self.pipes = pipes
        #: answers ``GET /health`` (always 200 without one)
        self.health = health
        self._inflight: set[anyio.CancelScope] = set()
        self._unavailable = 0  # requests answered 503 since the last warning about it
        self._unavailable_warned = -UNAVAILABLE_WARNING_EVERY
        self.verifier = verifier
        self.max_body = max_body
        #: served at ``GET /metrics`` (Prometheus text format) when set
        self.metrics = metrics

    def abort_inflight(self) -> int:
        """Answer every request still being served with ServiceUnavailable (503, which SDKs retry).

        Called when a shutdown's grace is over, so that no caller gets a dropped connection or a
        plain-text error instead of an AWS error body. Returns how many requests were aborted.
        """
        scopes = list(self._inflight)
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _read_body(self, receive: Receive, length: int) -> bytes:
        """The request body, refused over ``max_body`` whether ``length`` (its Content-Length, -1: none) or what
        arrives says so."""
        if length > self.max_body:
            raise RequestEntityTooLarge(f"Request body of {length} bytes exceeds the limit of {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _BodyTooLarge  # the client went away; nothing to answer
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise RequestEntityTooLarge(
                        f"Request body exceeds the limit of {self.max_body} bytes")
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_uuid()
        target = b""
        length = -1
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                target = value
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
        path = scope["path"]
        if path == PIPES_PATH or path.startswith(PIPES_PATH + "/"):
            await self._pipes(scope, receive, send, request_id, length)
            return
        status = 200
        content_type = _CONTENT_TYPE
        metrics = self.metrics
        op_label = ""  # the operation the request reached, once known (metrics)
        op_known = "unknown"  # the operation named, when it exists (metrics of requests refused before it)
        started = 0.0
        result: Any = None
        try:
            if scope["method"] != "POST":
                if scope["method"] == "GET" and scope["path"] in ("/health", "/ping"):
                    healthy, report = (True, {"status": "ok"}) if self.health is None else await self.health.report()
                    await _respond(send, 200 if healthy else 503, orjson.dumps(report), request_id)
                    return
                if scope["method"] == "GET" and scope["path"] == "/metrics" and metrics is not None:
                    # Unauthenticated like /health: Prometheus cannot sign SigV4 (turn it off with metrics=False).
                    await _respond(send, 200, await metrics.render(), request_id, METRICS_CONTENT_TYPE)
                    return
                raise api.UnknownOperationException(
                    "Step Functions requests are POST / with an X-Amz-Target header (AWS JSON 1.0 protocol)")
            body = await self._read_body(receive, length)
            op_name = target.decode("latin-1")
            events = op_name.startswith(EVENTS_TARGET_PREFIX)
            if events:
                content_type = _EVENTS_CONTENT_TYPE
            if self.verifier is not None:
                self.verify(scope, body, EVENTS_SERVICE if events else SERVICE)
            operation: Any
            if events:
                op_name = op_name[len(EVENTS_TARGET_PREFIX):]
                if self.events is None:
                    raise api.UnknownOperationException(f"Operation {op_name}: {_NO_REDIS}")
                operation = self.events.get(op_name)
                if operation is None:
                    raise api.UnknownOperationException(f"Operation {op_name} is not supported by express-engine's "
                                                        "EventBridge API")
            elif not op_name.startswith(TARGET_PREFIX):
                raise api.UnknownOperationException(
                    f"Unknown operation: expected 'X-Amz-Target: {TARGET_PREFIX}<Operation>', got '{op_name}'")
            else:
                op_name = op_name[len(TARGET_PREFIX):]
                operation = self.operations.get(op_name)
            if operation is None:
                if op_name in UNSUPPORTED_OPERATIONS:
                    raise api.UnknownOperationException(
                        f"Operation {op_name} is not supported by express-engine, which runs EXPRESS state "
                        "machines only")
                raise api.UnknownOperationException(f"Unknown operation {op_name}")
            op_known = op_name
            request = _request_object(body)
            if metrics is not None:
                op_label = op_name
                started = metrics.begin(op_name)
            with anyio.CancelScope() as inflight:
                self._inflight.add(inflight)
                try:
                    result = await operation(request)
                finally:
                    self._inflight.discard(inflight)
            if inflight.cancelled_caught:
                raise api.ServiceUnavailable("The server is shutting down: retry the request")
            payload = result if isinstance(result, bytes) else orjson.dumps(result)
        except _BodyTooLarge:
            return
        except Exception as exc:
            status, payload = self._error(exc, target.decode("latin-1", "replace"))
        except BaseException:  # cancelled (client gone, server stopping): keep the in-flight gauge right
            if op_label:
                metrics.end(op_label, 499, started, None)  # type: ignore[union-attr]
            raise
        if metrics is not None:
            if op_label:
                metrics.end(op_label, status, started, result)
            else:
                metrics.count(op_known, status)
        await _respond(send, status, payload, request_id, content_type)

    def _error(self, exc: Exception, what: str) -> tuple[int, bytes]:
        """The HTTP status and AWS error body answering ``exc`` (never a traceback)."""
        if isinstance(exc, api.ServiceError):
            error = exc.to_dict()
            extra = getattr(exc, "fields", None)
            if extra:
                error.update(extra)
            return exc.status, orjson.dumps(error)
        if _unavailable(exc):
            self._unavailable += 1
            now = time.monotonic()
            if now - self._unavailable_warned >= UNAVAILABLE_WARNING_EVERY:  # (not one line per request)
                log.warning("Redis unavailable serving %s: %s (%d requests answered 503 since the last such "
                            "warning)", what, exc, self._unavailable)
                self._unavailable_warned, self._unavailable = now, 0
            return 503, orjson.dumps(api.ServiceUnavailable(
                "The engine's Redis server is unreachable; retry later").to_dict())
        log.exception("internal error serving %s", what)
        return 500, orjson.dumps(api.InternalFailure("An internal error occurred").to_dict())

    async def _pipes(self, scope: Scope, receive: Receive, send: Send, request_id: str, length: int) -> None:
        """A Pipes request (REST-JSON): the operation from the method and path, errors with ``x-amzn-ErrorType``."""
        method, path = scope["method"], scope["path"]
        op = "unknown"
        started = 0.0
        status = 200
        metrics = self.metrics
        try:
            body = await self._read_body(receive, length)
            if self.verifier is not None:
                self.verify(scope, body, PIPES_SERVICE)
            if self.pipes is None:
                raise api.UnknownOperationException(_NO_REDIS)
            route = self.pipes.route(method, path)
            if route is None:
                raise api.UnknownOperationException(f"Unknown operation: {method} {path}")
            op, name = route
            request = _request_object(body)
            query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if metrics is not None:
                started = metrics.begin(op)
            payload = orjson.dumps(await self.pipes.call(op, name, query, request))
        except _BodyTooLarge:
            return
        except Exception as exc:
            status, payload = self._error(exc, f"{method} {path}")
        except BaseException:  # cancelled: keep the in-flight gauge right
            if started:
                metrics.end(op, 499, started, None)  # type: ignore[union-attr]
            raise
        if metrics is not None:
            if started:
                metrics.end(op, status, started, None)
            else:
                metrics.count(op, status)
        headers = [(b"content-type", _PIPES_CONTENT_TYPE), (b"x-amzn-requestid", request_id.encode()),
                   (b"content-length", str(len(payload)).encode())]
        if status >= 400:
            headers.append((b"x-amzn-errortype", orjson.loads(payload)["__type"].encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def verify(self, scope: Scope, body: bytes, service: str = SERVICE) -> None:
        """Raise the AWS error unless the request is correctly signed (only called with a verifier)."""
        assert self.verifier is not None
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
        query = scope.get("query_string", b"").decode("latin-1")
        self.verifier.verify(scope["method"], path, query, headers, body, service=service)


async def _respond(send: Send, status: int, payload: bytes, request_id: str,
                   content_type: bytes = _CONTENT_TYPE) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"x-amzn-requestid", request_id.encode()),
                    (b"content-length", str(len(payload)).encode())],
    })
    await send({"type": "http.response.body", "body": payload})


def create_app(registry: StateMachineRegistry, client: StartClient, *,
               auth: Mapping[str, str] | SigV4Verifier | None = None, max_body: int = DEFAULT_MAX_BODY,
               mocks: MockConfig | None = None,
               handlers: HandlerRegistry | None = None, test_state: bool = True,
               metrics: bool | ApiMetrics = True, workers: WorkerCounter | None = None) -> ApiApp:
    """The ASGI app over a state-machine registry and a start client.

    ``auth`` is ``{access_key_id: secret}`` (or a verifier) to require SigV4; ``handlers`` serve the
    Task resources TestState invokes when no mock is given. ``metrics`` serves ``GET /metrics``
    (Prometheus): cluster-wide figures come from the Redis of a Redis-backed ``client``. ``GET /health``
    pings that Redis, and counts ``workers`` (the supervisor's) when given.
    """
    verifier = auth if isinstance(auth, SigV4Verifier) else SigV4Verifier(auth) if auth else None
    runner = None
    if test_state:
        from .teststate import TestStateRunner

        runner = TestStateRunner(handlers=handlers).run
    if metrics is True:
        keys = getattr(client, "keys", None)
        metrics = ApiMetrics(getattr(client, "redis", None), getattr(keys, "namespace", "ee"))
    health = HealthCheck(getattr(client, "redis", None), workers)
    events = pipes = None
    redis = getattr(client, "redis", None)
    if redis is not None:
        from ..service.event_sources import EventSources
        from ..service.registry import Registry
        from ..service.rules import Rules

        namespace = getattr(getattr(client, "keys", None), "namespace", "ee")
        redis_registry = registry if isinstance(registry, Registry) else Registry(redis, namespace=namespace)
        region, account = redis_registry.region, redis_registry.account
        events = EventsOperations(Rules(redis, namespace=namespace, registry=redis_registry, region=region,
                                        account=account))
        pipes = PipesOperations(EventSources(redis, namespace=namespace, registry=redis_registry), region=region,
                                account=account)
    return ApiApp(Operations(registry, client, mocks=mocks, test_state=runner), verifier=verifier,
                  max_body=max_body, metrics=metrics or None, health=health, events=events, pipes=pipes)


class _CoalescingTransport:
    """A transport whose writes within one turn of the event loop go out as one ``send()``.

    uvicorn writes a response's head and body separately: two system calls, and on loopback two wake-ups
    of the client, for every request. Writes are joined and sent at the end of the turn (or at once when
    the transport is closed).
    """

    __slots__ = ("_buffer", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._buffer: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._buffer:
            self._loop.call_soon(self._flush)
        self._buffer.append(bytes(data))

    def _flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _refusal(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP response with an AWS error body, for a connection closed before the app saw a request."""
    body = orjson.dumps({"__type": code, "message": message})
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/x-amz-json-1.0\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


def _protocol_class(request_timeout: float, max_connections: int) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, with coalesced writes, a request timeout and a connection cap.

    uvicorn times out idle keep-alive connections only: a new connection that sends nothing, or
    sends its headers or body a byte at a time, would hold a file descriptor forever. Here every
    request must arrive whole within ``request_timeout`` seconds of the connection (or of its first
    byte, on a kept-alive connection), or it is answered 408 and closed; connections beyond
    ``max_connections`` are answered 503 at once and closed.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    timed_out = _refusal(408, "Request Timeout", "RequestTimeoutException",
                         f"The request did not arrive whole within {request_timeout:g} seconds")
    too_many = _refusal(503, "Service Unavailable", "ServiceUnavailable",
                        f"Too many connections (at most {max_connections}): retry later")

    class EngineHttpProtocol(HttpToolsProtocol):
        _request_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
            if len(self.connections) > max_connections:
                self.transport.write(too_many)
                self.transport.close()
                return
            self._arm()

        def _arm(self) -> None:
            if self._request_timer is None:
                self._request_timer = self.loop.call_later(request_timeout, self._request_timed_out)

        def _disarm(self) -> None:
            if self._request_timer is not None:
                self._request_timer.cancel()
                self._request_timer = None

        def _request_timed_out(self) -> None:
            self._request_timer = None
            if not self.transport.is_closing():
                if self.cycle is None or not self.cycle.response_started:
                    self.transport.write(timed_out)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return EngineHttpProtocol


def _default_max_connections() -> int:
    """1,000, or fewer when the file-descriptor limit would not leave room for Redis, logs and the workers."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 1000
    return 1000 if soft == resource.RLIM_INFINITY else max(16, min(1000, soft - 128))


def _uvicorn_server(config: Any) -> Any:
    """A uvicorn server that leaves signals alone: the caller decides when and how it stops.

    uvicorn's own handlers would re-raise the signal after shutting down, which a supervisor in
    the same process (``serve``) took for a second signal (an immediate stop).
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return Server(config)


async def _stop_on_signal(server: Any, app: ApiApp) -> None:
    """First SIGTERM/SIGINT: stop accepting and finish what is in flight; second: answer it 503 now."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            if server.should_exit:
                app.abort_inflight()
                server.force_exit = True
                return
            server.should_exit = True


#: Seconds a request has to arrive whole (headers and body), and that an idle kept-alive connection stays open.
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_KEEP_ALIVE = 75
#: Seconds in-flight requests get to finish when the server stops (``serve`` gives its ``--grace``).
DEFAULT_DRAIN = 5.0


async def serve_http(registry: StateMachineRegistry, client: StartClient, *, host: str = "127.0.0.1",
                     port: int = DEFAULT_PORT, auth: Mapping[str, str] | SigV4Verifier | None = None,
                     max_body: int = DEFAULT_MAX_BODY,
                     mocks: MockConfig | None = None, handlers: HandlerRegistry | None = None,
                     allow_anonymous: bool = False, log_level: str = "warning",
                     metrics: bool | ApiMetrics = True, workers: WorkerCounter | None = None,
                     request_timeout: float = DEFAULT_REQUEST_TIMEOUT, keep_alive: int = DEFAULT_KEEP_ALIVE,
                     max_connections: int | None = None, drain: float = DEFAULT_DRAIN,
                     stop: anyio.Event | None = None, wrap: Callable[[ApiApp], Any] | None = None,
                     task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve the API until cancelled, ``stop`` is set, or SIGINT/SIGTERM (main thread, no ``stop``).

    ``await tg.start(serve_http, ...)`` gives the port; ``port=0`` picks a free one. ``auth=None`` takes
    credentials from ``EXPRESS_ENGINE_CREDENTIALS`` (``KEY:SECRET[,...]``); without any the server only
    listens on loopback addresses unless ``allow_anonymous`` is set. Pass ``auth={}`` to turn
    authentication off explicitly. ``GET /metrics`` serves Prometheus metrics (unauthenticated, like
    ``/health``) unless ``metrics=False``. ``wrap`` turns the API app into the ASGI app served (the web
    console: :func:`express_engine.console.with_console`).

    Stopping closes the listening socket at once and gives requests in flight ``drain`` seconds to
    finish; any still running then is answered ServiceUnavailable. See :func:`_protocol_class` for
    ``request_timeout`` and ``max_connections`` (default: 1,000 or what the file-descriptor limit allows).
    """
    import uvicorn

    if auth is None:
        auth = credentials_from_env()
    if not auth and not allow_anonymous and not is_loopback(host):
        raise ValueError(f"refusing to serve {host}:{port} without authentication: configure credentials "
                         "(SigV4) or allow anonymous access explicitly")
    app = create_app(registry, client, auth=auth, max_body=max_body, mocks=mocks, handlers=handlers,
                     metrics=metrics, workers=workers)
    served = wrap(app) if wrap is not None else app
    cap = max_connections if max_connections is not None else _default_max_connections()
    config = uvicorn.Config(served, host=host, port=port, http=_protocol_class(request_timeout, cap), loop="none",
                            lifespan="off", access_log=False, log_level=log_level, server_header=False,
                            backlog=4096, proxy_headers=False, timeout_keep_alive=keep_alive,
                            # (a fallback: in-flight requests are answered by abort_inflight before it)
                            timeout_graceful_shutdown=math.ceil(drain) + 5)
    server = _uvicorn_server(config)
    task = asyncio.get_running_loop().create_task(server.serve())

    async def drain_then_abort() -> None:
        while not server.should_exit:
            await anyio.sleep(0.1)
        await anyio.sleep(drain)
        aborted = app.abort_inflight()
        if aborted:
            log.warning("stopping: %d request(s) still in flight after %.1f s answered ServiceUnavailable",
                        aborted, drain)

    try:
        while not server.started:
            if task.done():
                exc = None if task.cancelled() else task.exception()
                raise OSError(f"the HTTP API could not listen on {host}:{port}") from exc
            await asyncio.sleep(0.002)
        bound = server.servers[0].sockets[0].getsockname()[1]
        log.info("Step Functions API listening on http://%s:%d", host, bound)
        task_status.started(bound)
        async with anyio.create_task_group() as tg:
            if stop is not None:
                async def stop_when_asked() -> None:
                    await stop.wait()
                    server.should_exit = True
                tg.start_soon(stop_when_asked)
            elif threading.current_thread() is threading.main_thread():
                tg.start_soon(_stop_on_signal, server, app)
            tg.start_soon(drain_then_abort)
            await asyncio.shield(task)
            tg.cancel_scope.cancel()
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True):
            # Shutting down (cancelled): in-flight requests get their drain, then an AWS error body.
            with anyio.move_on_after(drain):
                while not task.done():
                    await anyio.sleep(0.05)
            app.abort_inflight()
            # A startup failure was already raised above.
            with contextlib.suppress(Exception, SystemExit):
                await task
