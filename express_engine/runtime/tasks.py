"""Task handlers: local Python callables that stand in for Lambda functions and other resources.

A handler is ``handler(event, context)``, sync or async, exactly like a Python Lambda function.
Lambda function ARNs and ``arn:aws:states:::lambda:invoke`` resolve to the handler registered under
the function's name; any other resource resolves to a handler registered under its full ARN.
"""

from __future__ import annotations

import importlib
import inspect
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from .. import errors
from ..asl.model import Resource
from ..jsonutil import Json, JsonError, dumps, loads
from .ids import new_uuid

Handler = Callable[[Json, Any], Json | Awaitable[Json]]
#: Serves a whole family of resource ARNs (e.g. every ``aws-sdk:*`` one): the handler for an ARN, or None.
Resolver = Callable[[str], Handler | None]

_FUNCTION_NAME_ARN_SUFFIX = ":function:"


class LambdaContext:
    """The ``context`` argument handlers receive (the useful subset of AWS Lambda's).

    ``aws_request_id`` is made when first read (a handler that never reads it never pays for a UUID), unless
    one is given.
    """

    __slots__ = ("_request_id", "deadline", "function_name", "function_version", "inspection",
                 "invoked_function_arn", "log_group_name", "log_stream_name", "memory_limit_in_mb")

    def __init__(self, function_name: str, aws_request_id: str | None, invoked_function_arn: str, deadline: float,
                 function_version: str = "$LATEST", memory_limit_in_mb: int = 128, log_group_name: str = "",
                 log_stream_name: str = "", inspection: Any = None) -> None:
        self.function_name = function_name
        self._request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.deadline = deadline
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        #: TestState's :class:`~express_engine.runtime.execution.Inspection` of this task's state (None
        #: otherwise): integrations that make HTTP calls record them there
        self.inspection = inspection

    @property
    def aws_request_id(self) -> str:
        """The invocation's request id (a UUID, as Lambda's)."""
        if self._request_id is None:
            self._request_id = new_uuid()
        return self._request_id

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the task times out."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, {self.invoked_function_arn!r})"


@dataclass(frozen=True, slots=True)
class _Entry:
    fn: Handler
    is_async: bool
    blocking: bool


@dataclass
class HandlerRegistry:
    """Maps Task resources to handlers."""

    _handlers: dict[str, _Entry] = field(default_factory=dict)
    _resolvers: list[Resolver] = field(default_factory=list)
    _resolved: dict[str, _Entry | None] = field(default_factory=dict)

    def register(self, name: str, fn: Handler, *, blocking: bool = False) -> None:
        """Register ``fn`` under a function name (Lambda) or a full resource ARN.

        Sync handlers run on the event loop unless ``blocking`` is true, in which case they run in a
        worker thread (use that for handlers doing blocking I/O).
        """
        self._handlers[name] = _Entry(fn, inspect.iscoroutinefunction(fn), blocking)

    def unregister(self, name: str) -> None:
        """Forget the handler registered under ``name`` (no error when there is none)."""
        self._handlers.pop(name, None)

    def add_resolver(self, resolver: Resolver) -> None:
        """Consult ``resolver`` for resource ARNs no handler is registered under (results are cached)."""
        self._resolvers.append(resolver)
        self._resolved.clear()

    def remove_resolver(self, resolver: Resolver) -> None:
        """Stop consulting ``resolver`` (no error when it was not added)."""
        if resolver in self._resolvers:
            self._resolvers.remove(resolver)
        self._resolved.clear()

    def _resolve(self, key: str) -> _Entry | None:
        if key in self._resolved:
            return self._resolved[key]
        entry = None
        for resolver in self._resolvers:
            fn = resolver(key)
            if fn is not None:
                entry = _Entry(fn, inspect.iscoroutinefunction(fn), False)
                break
        self._resolved[key] = entry
        return entry

    def register_spec(self, spec: str) -> None:
        """Register from a CLI spec ``NAME=module:function``."""
        name, sep, target = spec.partition("=")
        module_name, sep2, attr = target.partition(":")
        if not (sep and sep2 and name and module_name and attr):
            raise ValueError(f"handler spec must be NAME=module:function, got {spec!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"cannot import handler module {module_name!r}: {exc}") from None
        fn = getattr(module, attr, None)
        if not callable(fn):
            raise ValueError(f"{module_name}:{attr} is not a callable")
        self.register(name, fn)

    def __contains__(self, name: str) -> bool:
        return name in self._handlers

    def names(self) -> list[str]:
        """The registered names."""
        return sorted(self._handlers)

    def lookup(self, key: str) -> _Entry | None:
        """The handler for a function name / ARN; a function ARN also resolves by its bare name."""
        entry = self._handlers.get(key)
        if entry is None and _FUNCTION_NAME_ARN_SUFFIX in key:
            name = key.split(_FUNCTION_NAME_ARN_SUFFIX, 1)[1].split(":", 1)[0]
            entry = self._handlers.get(name)
        if entry is None and self._resolvers:
            entry = self._resolve(key)
        return entry

    def missing(self, resources: tuple[Resource, ...]) -> list[str]:
        """Non-Lambda resources that no handler serves (these cannot run at all)."""
        out = []
        for res in resources:
            if res.kind in ("lambda-arn", "lambda-invoke"):
                continue  # a missing function is a runtime Lambda.ResourceNotFoundException, as on AWS
            if self.lookup(res.arn) is None and res.arn not in out:
                out.append(res.arn)
        return out


def lambda_error(exc: BaseException) -> errors.CustomError:
    """The task error AWS reports for a Lambda function that raised ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    doc = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": new_uuid(),
        "stackTrace": traceback.format_list(frames),
    }
    return errors.CustomError(type(exc).__name__, dumps(doc))


def function_not_found(function: str, region: str) -> errors.CustomError:
    """``Lambda.ResourceNotFoundException`` as AWS reports it for an unknown function."""
    arn = function if function.startswith("arn:") else f"arn:aws:lambda:{region}:123456789012:function:{function}"
    return errors.CustomError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
        f"ResourceNotFoundException; Request ID: {new_uuid()}; Proxy: null)",
    )


async def call_handler(entry: _Entry, event: Json, context: LambdaContext) -> Json:
    """Run a handler; its exceptions become Lambda-style task errors, its bytes are parsed as JSON."""
    try:
        if entry.is_async:
            result = await entry.fn(event, context)
        elif entry.blocking:
            result = await anyio.to_thread.run_sync(entry.fn, event, context)
        else:
            result = entry.fn(event, context)
            if inspect.isawaitable(result):
                result = await result
    except errors.StatesError:
        raise
    except Exception as exc:
        raise lambda_error(exc) from None
    if isinstance(result, (bytes, bytearray)):
        # The Lambda runtime passes bytes through as the raw response payload.
        try:
            return loads(bytes(result))
        except JsonError:
            return bytes(result).decode("utf-8", "replace")
    return result
