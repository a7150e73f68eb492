"""Optimized integrations (``arn:aws:states:::<service>:<action>``) calling the real services.

Shapes as AWS documents them per integration ("Integrating services with Step Functions"):

* DynamoDB ``getItem`` / ``putItem`` / ``updateItem`` / ``deleteItem``: the API's parameters and response
  plus ``SdkHttpMetadata`` / ``SdkResponseMetadata``.
* SNS ``publish``, SQS ``sendMessage``: a JSON ``Message`` / ``MessageBody`` is sent as JSON text; the
  response plus the two metadata members.
* EventBridge ``putEvents``: a JSON ``Detail`` is sent as JSON text; ``{Entries, FailedEntryCount}``.
* Step Functions ``startExecution`` (with ``stepfunctions`` real; local by default): a JSON ``Input`` is
  sent as JSON text; the response plus the two metadata members.
* Lambda ``invoke``: ``Payload`` sent as JSON; ``{ExecutedVersion, Payload, StatusCode, SdkHttpMetadata,
  SdkResponseMetadata}`` with the function's answer parsed; a function error fails the task with the
  function's ``errorType`` and its error document as cause.
* API Gateway ``invoke``: :mod:`.aws_apigateway`.
* any other ``<service>:<action>`` without an integration pattern suffix (Athena ``startQueryExecution``,
  Glue ``startJobRun``, Batch ``submitJob``, ECS ``runTask``, ...): the service's API called with the
  parameters as given, the response in PascalCase.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from .. import errors
from ..jsonutil import Json, JsonError, dumps, loads
from .aws_config import canonical_service
from .aws_errors import optimized_error
from .aws_sdk import Operation, ServiceIndex, TaskHandler, call, guard, unsupported_pattern
from .egress import EgressPolicy

OPTIMIZED_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]*:\d*:([a-z0-9-]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$")
#: Resources served elsewhere: not this module's to resolve.
_NOT_OPTIMIZED = frozenset({"aws-sdk", "http", "redis", "activity"})

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

#: ARN service -> botocore service, for the optimized integrations whose names differ.
_SERVICES = {"states": "stepfunctions", "events": "events", "bedrock": "bedrock-runtime",
             "elasticmapreduce": "emr", "apigateway": "apigateway"}


def _text(value: Json) -> Json:
    return value if isinstance(value, str) or value is None else dumps(value)


def _metadata(meta: Mapping[str, Any]) -> dict[str, Json]:
    headers = {str(k): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
    return {"SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                "HttpStatusCode": int(meta.get("HTTPStatusCode") or 200)},
            "SdkResponseMetadata": {"RequestId": str(meta.get("RequestId") or "")}}


def _prepare_sns(params: dict[str, Json]) -> dict[str, Json]:
    return {**params, "Message": _text(params["Message"])} if "Message" in params else params


def _prepare_sqs(params: dict[str, Json]) -> dict[str, Json]:
    return {**params, "MessageBody": _text(params["MessageBody"])} if "MessageBody" in params else params


def _prepare_events(params: dict[str, Json]) -> dict[str, Json]:
    entries = params.get("Entries")
    if not isinstance(entries, list):
        return params
    out = [{**e, "Detail": _text(e["Detail"])} if isinstance(e, dict) and "Detail" in e else e for e in entries]
    return {**params, "Entries": out}


def _prepare_lambda(params: dict[str, Json]) -> dict[str, Json]:
    if "Payload" not in params:
        return params
    payload = params["Payload"]
    # A string Payload is sent as is (raw JSON text), anything else as JSON.
    return {**params, "Payload": payload if isinstance(payload, str) else dumps(payload)}


def _prepare_sfn(params: dict[str, Json]) -> dict[str, Json]:
    return {**params, "Input": _text(params["Input"])} if "Input" in params else params


Prepare = Callable[[dict[str, Json]], dict[str, Json]]
#: (service, action) -> (prepare parameters, add SdkHttpMetadata/SdkResponseMetadata to the result).
_KNOWN: dict[tuple[str, str], tuple[Prepare | None, bool]] = {
    ("dynamodb", "getItem"): (None, True), ("dynamodb", "putItem"): (None, True),
    ("dynamodb", "updateItem"): (None, True), ("dynamodb", "deleteItem"): (None, True),
    ("sns", "publish"): (_prepare_sns, True), ("sqs", "sendMessage"): (_prepare_sqs, True),
    ("events", "putEvents"): (_prepare_events, False), ("lambda", "invoke"): (_prepare_lambda, True),
    ("states", "startExecution"): (_prepare_sfn, True),
}


class OptimizedIntegration:
    """Serves optimized-integration resources whose service is configured ``real`` or ``off``."""

    def __init__(self, index: ServiceIndex, egress: EgressPolicy | None = None) -> None:
        from .aws_apigateway import ApiGatewayInvoke

        self.index = index
        self.clients = index.clients
        self.settings = index.clients.settings
        self.apigateway = ApiGatewayInvoke(index.clients, egress)

    async def aclose(self) -> None:
        """Close what the handlers hold open."""
        await self.apigateway.aclose()

    def resolve(self, arn: str) -> TaskHandler | None:
        """The handler for an optimized-integration ARN (None: not one, or its service is ``local``)."""
        match = OPTIMIZED_ARN.match(arn)
        if match is None or match.group(1) in _NOT_OPTIMIZED:
            return None
        arn_service, action, pattern = match.groups()
        service = canonical_service(_SERVICES.get(arn_service, arn_service))
        if self.settings.mode(service) == "local":
            return None
        if pattern:
            return unsupported_pattern(pattern, arn)
        if (arn_service, action) == ("apigateway", "invoke"):
            return self.apigateway.handler()
        return self.handler(arn_service, service, action)

    def handler(self, arn_service: str, service: str, action: str) -> TaskHandler:
        """The handler calling ``service``'s ``action`` (botocore service name)."""
        prepare, with_metadata = _KNOWN.get((arn_service, action), (None, False))

        async def handle(params: Json, context: Any) -> Json:
            guard(self.settings, service, action)
            op = await self.index.operation(service, action)
            body = params if isinstance(params, dict) else {}
            if prepare is not None:
                body = prepare(body)
            result, meta = await call(self.clients, op, body, context, lambda exc: optimized_error(exc, service))
            if service == "lambda" and action == "invoke":
                return _lambda_result(op, result, meta)
            if with_metadata and isinstance(result, dict):
                result.update(_metadata(meta))
            return result

        return handle


def _lambda_result(op: Operation, result: Json, meta: Mapping[str, Any]) -> Json:
    if not isinstance(result, dict):
        return result
    payload = result.get("Payload")
    if isinstance(payload, str):
        with contextlib.suppress(JsonError):
            payload = loads(payload) if payload else None
    function_error = result.get("FunctionError")
    if function_error:
        doc = payload if isinstance(payload, dict) else {}
        error_type = doc.get("errorType") if isinstance(doc.get("errorType"), str) else "Lambda.Unknown"
        raise errors.CustomError(str(error_type), _text(payload) if payload is not None else None)
    out: dict[str, Json] = {"ExecutedVersion": result.get("ExecutedVersion", "$LATEST"), "Payload": payload,
                            **_metadata(meta), "StatusCode": result.get("StatusCode", 200)}
    return out
