"""The console's ASGI layer: the page and its static files, the executions read from the log stream, and the API.

``GET /`` and ``GET /console/static/...`` serve the page (plain HTML, CSS and JavaScript shipped in the
package, the layout library vendored beside them: nothing is fetched from elsewhere). The page calls
the ordinary AWS JSON API (``POST /``) for state machines, starts and TestState, and two read-only
endpoints for what the API has no operation for (Express executions are not queryable on AWS either):

* ``GET /console/api/executions?stateMachineArn=&status=&nextToken=&since=&until=&limit=``
* ``GET /console/api/execution?executionArn=&logId=``

Both answer JSON; errors are ``{"__type": code, "message": text}`` like the API's. They follow the
API's authentication: with credentials configured they need a SigV4 signature like any request.
Everything else goes to the API application unchanged.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import orjson

from .. import service_errors as api
from ..api.arns import ExecutionDoesNotExist, resource_type
from ..api.server import ApiApp, Receive, Scope, Send
from ..sink_spec import parse_sink_spec
from .logreader import STATUSES, LogStreamReader, state_machine_of

STATIC_PREFIX = "/console/static/"
API_PREFIX = "/console/api/"
_JSON = b"application/json"


def _static_files() -> dict[str, tuple[bytes, bytes]]:
    """Every file under ``static/`` by its path there, with its content type (read once)."""
    root = resources.files(__package__).joinpath("static")
    files: dict[str, tuple[bytes, bytes]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                walk(child, name + "/")
            else:
                kind = mimetypes.guess_type(child.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind == "application/javascript" or child.name.endswith(".js"):
                    kind = ("text/javascript" if child.name.endswith(".js") else kind) + "; charset=utf-8"
                files[name] = (child.read_bytes(), kind.encode())

    walk(root, "")
    return files


class ConsoleApp:
    """Serves the console in front of an :class:`~express_engine.api.server.ApiApp`.

    ``default_sink`` is the workers' log sink for machines whose logging configuration names none
    (``serve --log-sink``); only ``redis:STREAM`` sinks can be read back.
    """

    def __init__(self, api_app: ApiApp, *, default_sink: str | None = None, redis: Any = None) -> None:
        self.api = api_app
        self.default_sink = default_sink
        self.redis = redis if redis is not None else getattr(api_app.operations.client, "redis", None)
        self.files = _static_files()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path in ("/", "/console", "/console/"):
                await self._file(send, "index.html", scope["method"])
                return
            if path.startswith(STATIC_PREFIX):
                await self._file(send, path[len(STATIC_PREFIX):], scope["method"])
                return
            if path.startswith(API_PREFIX):
                await self._api(scope, receive, send, path[len(API_PREFIX):])
                return
        await self.api(scope, receive, send)

    async def _file(self, send: Send, name: str, method: str) -> None:
        found = self.files.get(name)
        if found is None:
            await _respond(send, 404, b"not found", b"text/plain; charset=utf-8")
            return
        body, kind = found
        await _respond(send, 200, b"" if method == "HEAD" else body, kind, length=len(body))

    async def _api(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        handlers: dict[str, Callable[[dict[str, str]], Any]] = {
            "executions": self.executions, "execution": self.execution, "config": self.config}
        try:
            if self.api.verifier is not None and name != "config":  # (config tells the page to sign in)
                self.api.verify(scope, b"")
            handler = handlers.get(name)
            if handler is None:
                raise api.UnknownOperationException(f"Unknown console endpoint {name!r}")
            query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            payload = orjson.dumps(await handler(query))
            status = 200
        except api.ServiceError as exc:
            status, payload = exc.status, orjson.dumps(exc.to_dict())
        except Exception as exc:  # Redis down, a bad stream type...: a message, never a traceback
            status = 503
            payload = orjson.dumps({"__type": "ServiceUnavailable",
                                    "message": f"The log stream could not be read: {exc}"})
        await _respond(send, status, payload, _JSON)

    # -- endpoints ------------------------------------------------------------------------------------

    async def config(self, query: dict[str, str]) -> dict[str, Any]:
        """What the page needs to know about this server."""
        return {"defaultSink": self.default_sink, "redis": self.redis is not None,
                "auth": self.api.verifier is not None}

    async def _reader(self, machine_arn: str) -> tuple[LogStreamReader | None, dict[str, Any]]:
        """The reader of a machine's log stream, or None and why the console cannot read its executions."""
        record = await self.api.operations.registry.get(machine_arn)
        logging = record.logging
        info: dict[str, Any] = {"level": logging.level, "includeExecutionData": logging.include_execution_data,
                                "sink": logging.sink or self.default_sink}
        if logging.level == "OFF":
            info["message"] = ("Logging is OFF for this state machine: no execution is recorded. Set its "
                               "loggingConfiguration level to ALL (with includeExecutionData for inputs and "
                               "outputs) to see executions here.")
            return None, info
        spec = parse_sink_spec(info["sink"]) if info["sink"] else None
        if spec is None or spec.kind != "redis":
            where = info["sink"] or "the workers' default sink"
            info["message"] = (f"This machine's log events go to {where}, which the console cannot read back. "
                               "Run the workers with --log-sink redis:STREAM (e.g. redis:ee:logs) to see "
                               "executions here.")
            return None, info
        if self.redis is None:
            info["message"] = "This server has no Redis connection (--local): the log stream cannot be read."
            return None, info
        info["stream"] = spec.target
        return LogStreamReader(self.redis, spec.target), info

    async def executions(self, query: dict[str, str]) -> dict[str, Any]:
        """A page of a machine's logged executions, newest first."""
        arn = query.get("stateMachineArn", "")
        if not arn:
            raise api.ValidationException("stateMachineArn is required")
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise api.ValidationException(f"status must be one of {', '.join(STATUSES)}")
        try:
            limit = min(max(int(query.get("limit", "50")), 1), 1000)
            since = int(query["since"]) if query.get("since") else None
            until = int(query["until"]) if query.get("until") else None
        except ValueError:
            raise api.ValidationException("limit, since and until must be integers (since/until: epoch ms)") \
                from None
        reader, info = await self._reader(arn)
        if reader is None:
            return {"readable": False, **info, "executions": []}
        token = query.get("nextToken") or None
        if token is not None and not (token.startswith("(") and token[1:].replace("-", "").isdigit()):
            raise api.InvalidToken(f"Invalid Token: '{token}'")
        page = await reader.recent(machine_arn=arn, status=status, before=token, since_ms=since, until_ms=until,
                                 limit=limit)
        return {"readable": True, **info, "executions": [e.to_json() for e in page.executions],
                "nextToken": page.next_token, "scanned": page.scanned, "truncated": page.truncated}

    async def execution(self, query: dict[str, str]) -> dict[str, Any]:
        """One execution's logged events (sorted by id) and the machine it ran."""
        arn = query.get("executionArn", "").strip()
        kind = resource_type(arn)
        if kind != "express":
            raise api.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}' "
                                 "(the console shows Express executions: arn:aws:states:...:express:...)")
        machine_arn = state_machine_of(arn)
        reader, info = await self._reader(machine_arn)
        if reader is None:
            return {"readable": False, **info, "events": []}
        at = query.get("logId") or None
        events = await reader.events(arn, at)
        if events is None and at is not None:
            events = await reader.events(arn)
        if events is None:
            raise _execution_not_found(f"Execution Does Not Exist: '{arn}' (not among the newest "
                                       f"{reader.max_scan} events of log stream {reader.stream})")
        return {"readable": True, **info, "stateMachineArn": machine_arn, "events": events}


def _execution_not_found(message: str) -> api.ServiceError:
    error: api.ServiceError = ExecutionDoesNotExist(message)
    return error


async def _respond(send: Send, status: int, body: bytes, content_type: bytes, *, length: int | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache"),
                            (b"content-length", str(len(body) if length is None else length).encode())]})
    await send({"type": "http.response.body", "body": body})


def with_console(*, default_sink: str | None = None) -> Callable[[ApiApp], ConsoleApp]:
    """A ``wrap`` for :func:`~express_engine.api.server.serve_http` that puts the console in front of the API."""
    def wrap(app: ApiApp) -> ConsoleApp:
        return ConsoleApp(app, default_sink=default_sink)

    return wrap
