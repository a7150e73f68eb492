"""Service integrations that run without AWS: Task resources served by this engine itself.

* ``arn:aws:states:::http:invoke`` - a real HTTP call with AWS's request and response shape.
* ``arn:aws:states:::states:startExecution`` and ``arn:aws:states:::aws-sdk:sfn:startExecution`` /
  ``...:startSyncExecution`` - start a nested Express execution through the engine's own client.
* ``arn:aws:states:::redis:xadd`` - append a message to a Redis stream; with ``aliases`` also
  ``sqs:sendMessage``, ``sns:publish`` and ``events:putEvents`` land in Redis streams, so definitions
  written for AWS publish somewhere useful when self-hosted.

Lambda resources keep resolving to local handlers (:class:`express_engine.runtime.tasks.HandlerRegistry`).
Use :func:`install` around the code that runs executions::

    async with install(engine.handlers, client=client, redis=redis):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..runtime.engine import DEFAULT_REGION
from ..runtime.tasks import HandlerRegistry
from .egress import EgressPolicy
from .http import HTTP_INVOKE, HttpInvoke
from .sfn import SFN_RESOURCES, NestedExecutions
from .streams import STREAM_RESOURCES, StreamPublisher

__all__ = [
    "HTTP_INVOKE",
    "SFN_RESOURCES",
    "STREAM_RESOURCES",
    "EgressPolicy",
    "HttpInvoke",
    "NestedExecutions",
    "StreamPublisher",
    "install",
]


@asynccontextmanager
async def install(handlers: HandlerRegistry, *, client: Any = None, redis: Any = None, http: bool = True,
                  http_timeout: float = 60.0, connections: Mapping[str, Mapping[str, str]] | None = None,
                  stream_prefix: str = "", aliases: bool = True,
                  region: str = DEFAULT_REGION,
                  egress: EgressPolicy | None = None) -> AsyncIterator[HandlerRegistry]:
    """Register the integrations on ``handlers`` for the duration of the block.

    ``client`` (anything with the Client interface's ``start_execution`` / ``start_sync_execution``)
    enables the nested-execution resources; ``redis`` (a ``redis.asyncio.Redis``) the stream ones.
    ``connections`` maps an EventBridge ConnectionArn to extra headers for http:invoke (e.g. an API key);
    ``region`` goes into its User-Agent; ``egress`` says which addresses it may reach (default: any).
    Handlers already registered under the same ARN (user overrides) are left in place.
    """
    http_invoke = HttpInvoke(timeout=http_timeout, connections=connections, region=region,
                             policy=egress) if http else None
    registered: list[str] = []

    def add(arn: str, fn: Any) -> None:
        if arn not in handlers:
            handlers.register(arn, fn)
            registered.append(arn)

    if http_invoke is not None:
        add(HTTP_INVOKE, http_invoke)
    if client is not None:
        nested = NestedExecutions(client)
        for arn in SFN_RESOURCES:
            add(arn, nested.handler(arn))
    if redis is not None:
        publisher = StreamPublisher(redis, prefix=stream_prefix)
        for arn in STREAM_RESOURCES if aliases else STREAM_RESOURCES[:1]:
            add(arn, publisher.handler(arn))
    try:
        yield handlers
    finally:
        for arn in registered:
            handlers.unregister(arn)
        if http_invoke is not None:
            await http_invoke.aclose()
