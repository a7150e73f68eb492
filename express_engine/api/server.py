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
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import anyio
import orjson
from anyio.abc import TaskStatus

from .. import service_errors as api
from ..runtime.engine import new_uuid
from ..runtime.mocks import MockConfig
from ..runtime.tasks import HandlerRegistry
from .auth import SigV4Verifier, credentials_from_env
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import ApiMetrics
from .operations import UNSUPPORTED_OPERATIONS, Operations

log = logging.getLogger("express_engine.api")

#: Request bodies larger than this are refused with HTTP 413 (a 1 MiB definition, JSON-escaped, fits).
DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_PORT = 8083
TARGET_PREFIX = "AWSStepFunctions."
_CONTENT_TYPE = b"application/x-amz-json-1.0"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

RequestEntityTooLarge = type("RequestEntityTooLargeException", (api.ServiceError,),
                             {"code": "RequestEntityTooLargeException", "status": 413,
                              "__doc__": "A request body over the server's size limit (HTTP 413)."})


class _BodyTooLarge(Exception):
    pass


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
    """The ASGI application: routes AWS JSON 1.0 requests to :class:`Operations`."""

    def __init__(self, operations: Operations, *, verifier: SigV4Verifier | None = None,
                 max_body: int = DEFAULT_MAX_BODY, metrics: ApiMetrics | None = None) -> None:
        self.operations = operations
        self.verifier = verifier
        self.max_body = max_body
        #: served at ``GET /metrics`` (Prometheus text format) when set
        self.metrics = metrics

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

    async def _read_body(self, receive: Receive) -> bytes:
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
        status = 200
        metrics = self.metrics
        op_label = ""  # the operation the request reached, once known (metrics)
        op_known = "unknown"  # the operation named, when it exists (metrics of requests refused before it)
        started = 0.0
        result: Any = None
        try:
            if scope["method"] != "POST":
                if scope["method"] == "GET" and scope["path"] in ("/health", "/ping"):
                    await _respond(send, 200, b'{"status":"ok"}', request_id)
                    return
                if scope["method"] == "GET" and scope["path"] == "/metrics" and metrics is not None:
                    # Unauthenticated like /health: Prometheus cannot sign SigV4 (turn it off with metrics=False).
                    await _respond(send, 200, await metrics.render(), request_id, METRICS_CONTENT_TYPE)
                    return
                raise api.UnknownOperationException(
                    "Step Functions requests are POST / with an X-Amz-Target header (AWS JSON 1.0 protocol)")
            if length > self.max_body:
                raise RequestEntityTooLarge(f"Request body of {length} bytes exceeds the limit of "
                                            f"{self.max_body} bytes")
            body = await self._read_body(receive)
            if self.verifier is not None:
                self.verify(scope, body)
            op_name = target.decode("latin-1")
            if not op_name.startswith(TARGET_PREFIX):
                raise api.UnknownOperationException(
                    f"Unknown operation: expected 'X-Amz-Target: {TARGET_PREFIX}<Operation>', got '{op_name}'")
            op_name = op_name[len(TARGET_PREFIX):]
            operation = self.operations.get(op_name)
            if operation is None:
                if op_name in UNSUPPORTED_OPERATIONS:
                    raise api.UnknownOperationException(
                        f"Operation {op_name} is not supported by express-engine, which runs EXPRESS state "
                        "machines only")
                raise api.UnknownOperationException(f"Unknown operation {op_name}")
            op_known = op_name
            try:
                request = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError as exc:
                raise api.SerializationException(f"Malformed JSON request body: {exc}") from None
            if not isinstance(request, dict):
                raise api.SerializationException("The request body must be a JSON object")
            if metrics is not None:
                op_label = op_name
                started = metrics.begin(op_name)
            result = await operation(request)
            payload = result if isinstance(result, bytes) else orjson.dumps(result)
        except _BodyTooLarge:
            return
        except api.ServiceError as exc:
            status = exc.status
            error = exc.to_dict()
            extra = getattr(exc, "fields", None)
            if extra:
                error.update(extra)
            payload = orjson.dumps(error)
        except Exception as exc:  # never leak a traceback to the client
            if _unavailable(exc):
                log.warning("Redis unavailable serving %s: %s", target.decode("latin-1", "replace"), exc)
                status = 503
                payload = orjson.dumps(api.ServiceUnavailable(
                    "The engine's Redis server is unreachable; retry later").to_dict())
            else:
                log.exception("internal error serving %s", target.decode("latin-1", "replace"))
                status = 500
                payload = orjson.dumps(api.InternalFailure("An internal error occurred").to_dict())
        except BaseException:  # cancelled (client gone, server stopping): keep the in-flight gauge right
            if op_label:
                metrics.end(op_label, 499, started, None)  # type: ignore[union-attr]
            raise
        if metrics is not None:
            if op_label:
                metrics.end(op_label, status, started, result)
            else:
                metrics.count(op_known, status)
        await _respond(send, status, payload, request_id)

    def verify(self, scope: Scope, body: bytes) -> None:
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
        self.verifier.verify(scope["method"], path, query, headers, body)


async def _respond(send: Send, status: int, payload: bytes, request_id: str,
                   content_type: bytes = _CONTENT_TYPE) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"x-amzn-requestid", request_id.encode()),
                    (b"content-length", str(len(payload)).encode())],
    })
    await send({"type": "http.response.body", "body": payload})


def create_app(registry: Any, client: Any, *, auth: Mapping[str, str] | SigV4Verifier | None = None,
               max_body: int = DEFAULT_MAX_BODY, mocks: MockConfig | None = None,
               handlers: HandlerRegistry | None = None, test_state: bool = True,
               metrics: bool | ApiMetrics = True) -> ApiApp:
    """The ASGI app over a Registry and a Client (the service-layer interfaces).

    ``auth`` is ``{access_key_id: secret}`` (or a verifier) to require SigV4; ``handlers`` serve the
    Task resources TestState invokes when no mock is given. ``metrics`` serves ``GET /metrics``
    (Prometheus): cluster-wide figures come from the Redis of a Redis-backed ``client``.
    """
    verifier = auth if isinstance(auth, SigV4Verifier) else SigV4Verifier(auth) if auth else None
    runner = None
    if test_state:
        from .teststate import TestStateRunner

        runner = TestStateRunner(handlers=handlers).run
    if metrics is True:
        keys = getattr(client, "keys", None)
        metrics = ApiMetrics(getattr(client, "redis", None), getattr(keys, "namespace", "ee"))
    return ApiApp(Operations(registry, client, mocks=mocks, test_state=runner), verifier=verifier,
                  max_body=max_body, metrics=metrics or None)


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


def _protocol_class() -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    return CoalescingHttpToolsProtocol


async def serve_http(registry: Any, client: Any, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                     auth: Mapping[str, str] | SigV4Verifier | None = None, max_body: int = DEFAULT_MAX_BODY,
                     mocks: MockConfig | None = None, handlers: HandlerRegistry | None = None,
                     allow_anonymous: bool = False, log_level: str = "warning",
                     metrics: bool | ApiMetrics = True, wrap: Callable[[ApiApp], Any] | None = None,
                     task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve the API until cancelled (or SIGINT/SIGTERM); ``await tg.start(serve_http, ...)`` gives the port.

    ``port=0`` picks a free port. ``auth=None`` takes credentials from ``EXPRESS_ENGINE_CREDENTIALS``
    (``KEY:SECRET[,...]``); without any the server only listens on loopback addresses unless
    ``allow_anonymous`` is set. Pass ``auth={}`` to turn authentication off explicitly. ``GET /metrics``
    serves Prometheus metrics (unauthenticated, like ``/health``) unless ``metrics=False``. ``wrap`` turns
    the API app into the ASGI app served (the web console: :func:`express_engine.console.with_console`).
    """
    import uvicorn

    if auth is None:
        auth = credentials_from_env()
    if not auth and not allow_anonymous and not is_loopback(host):
        raise ValueError(f"refusing to serve {host}:{port} without authentication: configure credentials "
                         "(SigV4) or allow anonymous access explicitly")
    app = create_app(registry, client, auth=auth, max_body=max_body, mocks=mocks, handlers=handlers,
                     metrics=metrics)
    served = wrap(app) if wrap is not None else app
    config = uvicorn.Config(served, host=host, port=port, http=_protocol_class(), loop="none", lifespan="off",
                            access_log=False, log_level=log_level, server_header=False, backlog=4096,
                            proxy_headers=False,
                            timeout_keep_alive=75, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                exc = None if task.cancelled() else task.exception()
                raise OSError(f"the HTTP API could not listen on {host}:{port}") from exc
            await asyncio.sleep(0.002)
        bound = server.servers[0].sockets[0].getsockname()[1]
        log.info("Step Functions API listening on http://%s:%d", host, bound)
        task_status.started(bound)
        await asyncio.shield(task)
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True):
            # Shutting down: a startup failure was already raised above.
            with contextlib.suppress(Exception, SystemExit):
                await task
