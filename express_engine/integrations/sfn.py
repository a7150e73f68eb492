"""Nested executions: Step Functions' own integrations, served by this engine's client.

* ``arn:aws:states:::states:startExecution`` (optimized integration, request-response): starts the
  child asynchronously and returns ``{ExecutionArn, StartDate, SdkHttpMetadata, SdkResponseMetadata}``.
* ``arn:aws:states:::aws-sdk:sfn:startExecution`` / ``...:startSyncExecution``: the SDK integrations,
  answering with the API response in PascalCase (``startSyncExecution`` waits for the child).

API errors become task errors the way AWS reports them: ``StepFunctions.<Code>Exception`` for the
optimized integration, ``Sfn.<Code>Exception`` for the SDK one, with the cause ending
``(Service: AWSStepFunctions; Status Code: 400; Error Code: <Code>; Request ID: ...; Proxy: null)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .. import errors
from .. import service_errors as api
from ..jsonutil import Json, dumps
from ..runtime.ids import new_uuid

START_EXECUTION = "arn:aws:states:::states:startExecution"
SDK_START_EXECUTION = "arn:aws:states:::aws-sdk:sfn:startExecution"
SDK_START_SYNC_EXECUTION = "arn:aws:states:::aws-sdk:sfn:startSyncExecution"
SFN_RESOURCES = (START_EXECUTION, SDK_START_EXECUTION, SDK_START_SYNC_EXECUTION)


def _pascal(value: Json) -> Json:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def _metadata(request_id: str) -> dict[str, Json]:
    return {"SdkHttpMetadata": {"AllHttpHeaders": {}, "HttpHeaders": {}, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": request_id}}


class NestedExecutions:
    """Handlers that start child executions through a Client (Redis-backed or in-process)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def handler(self, arn: str) -> Callable[[Json, Any], Awaitable[Json]]:
        """The handler for one of :data:`SFN_RESOURCES`."""
        prefix = "StepFunctions" if arn == START_EXECUTION else "Sfn"
        sync = arn == SDK_START_SYNC_EXECUTION

        async def handle(params: Json, context: Any) -> Json:
            if not isinstance(params, Mapping) or not isinstance(params.get("StateMachineArn"), str):
                raise errors.CustomError("States.Runtime", "The startExecution integration needs a StateMachineArn")
            raw_input = params.get("Input")
            input_text = "{}" if raw_input is None else raw_input if isinstance(raw_input, str) else dumps(raw_input)
            name = params.get("Name")
            request_id = new_uuid()
            try:
                if sync:
                    timeout = context.get_remaining_time_in_millis() / 1000 if context is not None else 300.0
                    response = await self.client.start_sync_execution(params["StateMachineArn"], input_text, name,
                                                                     timeout=timeout)
                else:
                    response = await self.client.start_execution(params["StateMachineArn"], input_text, name)
            except api.ServiceError as exc:
                raise errors.CustomError(
                    f"{prefix}.{exc.code}Exception",
                    f"{exc.message} (Service: AWSStepFunctions; Status Code: {exc.status}; Error Code: {exc.code}; "
                    f"Request ID: {request_id}; Proxy: null)") from None
            if arn == START_EXECUTION:
                # The optimized integration renders dates as epoch milliseconds [unverified].
                return {"ExecutionArn": response["executionArn"],
                        "StartDate": round(float(response["startDate"]) * 1000), **_metadata(request_id)}
            return _pascal(response)

        return handle
