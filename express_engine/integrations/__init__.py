"""Service integrations that run without AWS: Task resources served by this engine itself.

* ``arn:aws:states:::http:invoke`` - a real HTTP call with AWS's request and response shape.
* ``arn:aws:states:::states:startExecution`` and ``arn:aws:states:::aws-sdk:sfn:startExecution`` /
  ``...:startSyncExecution`` - start a nested Express execution through the engine's own client.
* ``arn:aws:states:::redis:xadd`` - append a message to a Redis stream; with ``aliases`` also
  ``sqs:sendMessage``, ``sns:publish`` and ``events:putEvents`` land in Redis streams, so definitions
  written for AWS publish somewhere useful when self-hosted.

Lambda resources keep resolving to local handlers (:class:`express_engine.runtime.tasks.HandlerRegistry`).

With the engine's AWS settings (:mod:`.aws_config`, ``EXPRESS_ENGINE_AWS``) a service can instead be
``real`` - ``aws-sdk:*`` resources (:mod:`.aws_sdk`) and optimized ones (:mod:`.aws_optimized`) call the
service through the AWS SDK, and Lambda functions with no local handler are invoked on Lambda - or
``off`` (its Tasks fail, naming the setting).
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
from .aws_config import AwsSettings
from .egress import EgressPolicy
from .http import HTTP_INVOKE, HttpInvoke
from .sfn import SDK_START_EXECUTION, SDK_START_SYNC_EXECUTION, SFN_RESOURCES, START_EXECUTION, NestedExecutions
from .streams import EVENTS_PUT, SNS_PUBLISH, SQS_SEND, STREAM_RESOURCES, StreamPublisher

__all__ = ["HTTP_INVOKE", "SFN_RESOURCES", "STREAM_RESOURCES", "AwsSettings", "EgressPolicy", "HttpInvoke",
           "NestedExecutions", "StreamPublisher", "install"]

#: The botocore service each local stand-in replaces (it is installed only while that service is ``local``).
_STAND_IN_SERVICE = {START_EXECUTION: "stepfunctions", SDK_START_EXECUTION: "stepfunctions",
                     SDK_START_SYNC_EXECUTION: "stepfunctions", SQS_SEND: "sqs", SNS_PUBLISH: "sns",
                     EVENTS_PUT: "events"}


@asynccontextmanager
async def install(handlers: HandlerRegistry, *, client: Any = None, redis: Any = None, http: bool = True,
                  http_timeout: float = 60.0, connections: Mapping[str, Mapping[str, str]] | None = None,
                  stream_prefix: str = "", aliases: bool = True,
                  region: str = DEFAULT_REGION, aws: AwsSettings | None = None,
                  egress: EgressPolicy | None = None) -> AsyncIterator[HandlerRegistry]:
    """Register the integrations on ``handlers`` for the duration of the block.

    ``client`` (anything with the Client interface's ``start_execution`` / ``start_sync_execution``)
    enables the nested-execution resources; ``redis`` (a ``redis.asyncio.Redis``) the stream ones.
    ``connections`` maps an EventBridge ConnectionArn to extra headers for http:invoke (e.g. an API key);
    ``region`` goes into its User-Agent; ``egress`` says which addresses it (and apigateway:invoke) may reach
    (default: any). ``aws`` are the engine's AWS settings (default: read from the environment,
    :meth:`AwsSettings.from_env`).
    Handlers already registered under the same ARN (user overrides) are left in place.
    """
    settings = AwsSettings.from_env() if aws is None else aws
    http_invoke = HttpInvoke(timeout=http_timeout, connections=connections, region=region,
                             policy=egress) if http else None
    registered: list[str] = []

    def add(arn: str, fn: Any) -> None:
        service = _STAND_IN_SERVICE.get(arn)
        if service is not None and settings.mode(service) != "local":
            return
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
    clients = resolvers = optimized = None
    if settings.configured:
        from .aws_clients import AwsClients
        from .aws_optimized import OptimizedIntegration
        from .aws_sdk import SdkIntegration, ServiceIndex

        clients = AwsClients(settings)
        index = ServiceIndex(clients)
        optimized = OptimizedIntegration(index, egress)
        resolvers = (SdkIntegration(clients, index).resolve, optimized.resolve)
        for resolver in resolvers:
            handlers.add_resolver(resolver)
    try:
        yield handlers
    finally:
        for arn in registered:
            handlers.unregister(arn)
        for resolver in resolvers or ():
            handlers.remove_resolver(resolver)
        if http_invoke is not None:
            await http_invoke.aclose()
        if optimized is not None:
            await optimized.aclose()
        if clients is not None:
            await clients.aclose()
