"""Errors of the Step Functions API (``__type`` codes), raised by the engine, the ingress and the HTTP API.

These are about requests (an unknown state machine, malformed input), never about a running
workflow: those are :class:`express_engine.errors.StatesError`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """An API error: ``code`` is AWS's ``__type``, ``message`` its text; ``status`` the HTTP status."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The AWS JSON error body (``__type`` first: serialised, it starts with :data:`ERROR_BODY_PREFIX`)."""
        return {"__type": self.code, "message": self.message}


#: How a serialised :meth:`ServiceError.to_dict` begins (tells an error reply from a response without parsing).
ERROR_BODY_PREFIX = b'{"__type"'


def _error(code: str, status: int = 400) -> type[ServiceError]:
    return type(code, (ServiceError,), {"code": code, "status": status, "__doc__": f"AWS ``{code}``."})


ExecutionLimitExceeded = _error("ExecutionLimitExceeded")
InvalidArn = _error("InvalidArn")


class InvalidDefinition(ServiceError):
    """AWS ``InvalidDefinition``; ``diagnostics`` lists every problem found (ValidateStateMachineDefinition's)."""

    code = "InvalidDefinition"

    def __init__(self, message: str, diagnostics: list[Any] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


InvalidExecutionInput = _error("InvalidExecutionInput")
InvalidName = _error("InvalidName")
InvalidLoggingConfiguration = _error("InvalidLoggingConfiguration")
InvalidTracingConfiguration = _error("InvalidTracingConfiguration")
InvalidEncryptionConfiguration = _error("InvalidEncryptionConfiguration")
InvalidToken = _error("InvalidToken")
MissingRequiredParameter = _error("MissingRequiredParameter")
ResourceNotFound = _error("ResourceNotFound")
StateMachineAlreadyExists = _error("StateMachineAlreadyExists")
StateMachineDoesNotExist = _error("StateMachineDoesNotExist")
StateMachineTypeNotSupported = _error("StateMachineTypeNotSupported")
TooManyTags = _error("TooManyTags")
ValidationException = _error("ValidationException")
ConflictException = _error("ConflictException")
ServiceQuotaExceededException = _error("ServiceQuotaExceededException")
UnknownOperationException = _error("UnknownOperationException")
SerializationException = _error("SerializationException")
UnrecognizedClientException = _error("UnrecognizedClientException")
InvalidSignatureException = _error("InvalidSignatureException")
ServiceUnavailable = _error("ServiceUnavailable", 503)
InternalFailure = _error("InternalFailure", 500)
