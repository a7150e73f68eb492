"""``arn:aws:states:::aws-sdk:<service>:<apiAction>``: any API botocore knows, Request Response pattern.

The service is named as Step Functions names it (the SDK client's name in lower case: ``dynamodb``, ``s3``,
``sfn``, ``eventbridge``, ``cloudwatchlogs``, ``acmpca``); the action in camelCase (``putItem``). The call
goes through one pooled aiobotocore client per service (:mod:`.aws_clients`), parameters and results
shaped by :mod:`.aws_shapes`, errors named by :mod:`.aws_errors`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..jsonutil import Json
from .aws_clients import AwsClients
from .aws_config import AwsSettings, canonical_service
from .aws_errors import call_failure, sdk_error, sdk_service_name, task_failed
from .aws_shapes import from_api, to_api

SDK_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]*:\d*:aws-sdk:([A-Za-z0-9-]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$")

TaskHandler = Callable[[Json, Any], Awaitable[Json]]


@dataclass(frozen=True)
class Operation:
    """A resolved API operation of one service."""

    service: str  # botocore name
    name: str  # PascalCase operation name
    method: str  # the client's method name
    model: Any  # botocore OperationModel
    sdk_name: str  # Step Functions' PascalCase service name, for error names


class ServiceIndex:
    """Maps Step Functions service names to botocore's and resolves operations (models loaded on demand).

    A name is botocore's with its hyphens dropped (``acmpca``), or one of :data:`ARN_SERVICE_ALIASES`.
    """

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self._available: dict[str, str] | None = None
        self._operations: dict[tuple[str, str], Operation] = {}

    def _service_model(self, service: str) -> Any:
        return self.clients.models().get_service_model(service)

    def botocore_name(self, arn_service: str) -> str | None:
        """The botocore service for an ARN's service name (None: no such service)."""
        if self._available is None:
            names = self.clients.available_services()
            self._available = {name.replace("-", ""): name for name in names}
            self._available.update({name: name for name in names})
        return self._available.get(canonical_service(arn_service))

    async def operation(self, arn_service: str, action: str) -> Operation:
        """The operation ``action`` of ``arn_service``; raises a task error naming what is unknown."""
        cached = self._operations.get((arn_service, action))
        if cached is not None:
            return cached
        service = self.botocore_name(arn_service)
        if service is None:
            raise task_failed(f"'{arn_service}' is not an AWS service the AWS SDK knows "
                              "(arn:aws:states:::aws-sdk:<service>:<apiAction>)")
        model = self._service_model(service)
        name = action[:1].upper() + action[1:]
        if name not in model.operation_names:
            raise task_failed(f"'{action}' is not an API action of the AWS service '{arn_service}'")
        from botocore import xform_name

        op = Operation(service, name, xform_name(name), model.operation_model(name),
                       sdk_service_name(str(model.service_id)))
        self._operations[(arn_service, action)] = op
        return op


async def call(clients: AwsClients, op: Operation, params: Json, context: Any,
               on_client_error: Callable[[Any], errors.StatesError]) -> tuple[Json, dict[str, Any]]:
    """Make one API call: the shaped result and botocore's ResponseMetadata."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise task_failed(f"The parameters of {op.service}:{op.name} must be a JSON object")
    import botocore.exceptions as bex

    api_params = to_api(params, op.model.input_shape)
    try:
        client = await clients.client(op.service)
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else None
        async with asyncio.timeout(remaining if remaining else None):
            response = await getattr(client, op.method)(**api_params)
            metadata = response.get("ResponseMetadata", {})
            result = await from_api(response, op.model.output_shape)
    except bex.ClientError as exc:
        raise on_client_error(exc) from None
    except TimeoutError:
        raise errors.Timeout(None) from None
    except Exception as exc:
        failure = call_failure(exc, op.service, op.name, clients.settings.endpoint(op.service))
        if failure is None:
            failure = task_failed(f"the {op.service}:{op.name} call failed: {type(exc).__name__}: {exc}")
        raise failure from None
    return (result if result is not None else {}), metadata


def guard(settings: AwsSettings, service: str, action: str) -> None:
    """Fail a call the engine's settings do not allow (mode off, or not on the allow-list)."""
    if settings.mode(service) == "off":
        raise task_failed(f"Calls to the AWS service '{service}' are off on this engine ({settings.source(service)})")
    if not settings.allows(service, action):
        raise task_failed(f"'{service}:{action}' is not on this engine's allow-list of AWS calls "
                          "(EXPRESS_ENGINE_AWS_ALLOW)")


def unsupported_pattern(pattern: str, arn: str) -> TaskHandler:
    """The handler of a resource with an integration pattern (``.sync``, ``.waitForTaskToken``): it fails the task."""
    async def unsupported(params: Json, context: Any) -> Json:
        raise task_failed(f"The {pattern[1:]} integration pattern is not supported for Express workflows ({arn})")
    return unsupported


class SdkIntegration:
    """Serves every ``aws-sdk:*`` resource whose service is configured ``real`` or ``off``."""

    def __init__(self, clients: AwsClients, index: ServiceIndex) -> None:
        self.clients = clients
        self.settings = clients.settings
        self.index = index

    def resolve(self, arn: str) -> TaskHandler | None:
        """The handler for an ``aws-sdk`` ARN (None: not one, or the service is ``local``)."""
        match = SDK_ARN.match(arn)
        if match is None:
            return None
        arn_service, action, pattern = match.groups()
        service = canonical_service(arn_service)
        if self.settings.mode(service) == "local":
            return None
        if pattern:
            return unsupported_pattern(pattern, arn)

        async def handle(params: Json, context: Any) -> Json:
            guard(self.settings, service, action)
            op = await self.index.operation(arn_service, action)
            result, _ = await call(self.clients, op, params, context, lambda exc: sdk_error(exc, op.sdk_name))
            return result

        return handle
