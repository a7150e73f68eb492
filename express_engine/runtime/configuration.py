"""A state machine's configurations as the API gives them: logging, tracing and encryption, parsed and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import service_errors as api
from ..jsonutil import Json
from ..sink_spec import parse_sink_spec

LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
ENCRYPTION_TYPES = ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY")
#: The range AWS allows for ``kmsDataKeyReusePeriodSeconds`` (seconds).
KMS_REUSE_SECONDS = (60, 900)
#: The length AWS allows for ``kmsKeyId``.
KMS_KEY_ID_LENGTH = (1, 2048)


@dataclass(frozen=True, slots=True)
class LoggingConfiguration:
    """A state machine's ``loggingConfiguration`` (plus our own ``sink`` choice)."""

    level: str = "OFF"
    include_execution_data: bool = False
    destinations: tuple[Json, ...] = ()
    #: Where events go in this engine: None (the engine's default handler) or a sink spec
    #: (:func:`express_engine.sink_spec.parse_sink_spec`).
    sink: str | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> LoggingConfiguration:
        """Parse the API shape, raising InvalidLoggingConfiguration for bad values."""
        if not raw:
            return cls()
        if not isinstance(raw, Mapping):
            raise api.InvalidLoggingConfiguration("Invalid Logging Configuration: expected an object "
                                                  "{level, includeExecutionData, destinations}")
        level = raw.get("level", "OFF")
        if level not in LOG_LEVELS:
            raise api.InvalidLoggingConfiguration(f"Invalid Logging Configuration: level '{level}' is not one of "
                                                  f"{', '.join(LOG_LEVELS)}")
        include = raw.get("includeExecutionData", False)
        if not isinstance(include, bool):
            raise api.InvalidLoggingConfiguration("Invalid Logging Configuration: includeExecutionData must be a "
                                                  "boolean")
        destinations = raw.get("destinations") or ()
        if not isinstance(destinations, list | tuple) or not all(
                isinstance(d, dict) and isinstance(d.get("cloudWatchLogsLogGroup", {}), dict) for d in destinations):
            raise api.InvalidLoggingConfiguration("Invalid Logging Configuration: destinations must be a list of "
                                                  "{\"cloudWatchLogsLogGroup\": {\"logGroupArn\": ARN}} objects")
        sink = raw.get("sink")
        if sink is not None:
            try:
                parse_sink_spec(sink)
            except ValueError as exc:
                raise api.InvalidLoggingConfiguration(f"Invalid Logging Configuration: {exc}") from None
        return cls(level, include, tuple(destinations), sink)

    def to_api(self) -> dict[str, Json]:
        """The API shape, as DescribeStateMachine returns it."""
        out: dict[str, Json] = {"level": self.level, "includeExecutionData": self.include_execution_data}
        if self.destinations:
            out["destinations"] = list(self.destinations)
        if self.sink:
            out["sink"] = self.sink
        return out


@dataclass(frozen=True, slots=True)
class TracingConfiguration:
    """A state machine's ``tracingConfiguration``: stored and reported as given (no X-Ray tracing here)."""

    enabled: bool = False

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> TracingConfiguration:
        """Parse the API shape (None: the default, disabled); raises InvalidTracingConfiguration."""
        if raw is None:
            return cls()
        enabled = raw.get("enabled") if isinstance(raw, Mapping) else None
        if not isinstance(enabled, bool):
            raise api.InvalidTracingConfiguration("Invalid Tracing Configuration: 'enabled' must be set to true or "
                                                  "false")
        return cls(enabled)

    def to_api(self) -> dict[str, Json]:
        """The API shape, as DescribeStateMachine returns it."""
        return {"enabled": self.enabled}


@dataclass(frozen=True, slots=True)
class EncryptionConfiguration:
    """A state machine's ``encryptionConfiguration``: stored and reported as given (no KMS here)."""

    type: str = "AWS_OWNED_KEY"
    kms_key_id: str | None = None
    kms_data_key_reuse_period_seconds: int | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> EncryptionConfiguration:
        """Parse the API shape (None: the default, an AWS owned key); raises InvalidEncryptionConfiguration."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise api.InvalidEncryptionConfiguration("Invalid Encryption Configuration: expected an object {type, "
                                                     "kmsKeyId, kmsDataKeyReusePeriodSeconds}")
        kind, key, period = raw.get("type"), raw.get("kmsKeyId"), raw.get("kmsDataKeyReusePeriodSeconds")
        if kind not in ENCRYPTION_TYPES:
            raise api.InvalidEncryptionConfiguration(f"Invalid Encryption Configuration: type must be one of "
                                                     f"{', '.join(ENCRYPTION_TYPES)}")
        lo, hi = KMS_KEY_ID_LENGTH
        if key is not None and not (isinstance(key, str) and lo <= len(key) <= hi):
            raise api.InvalidEncryptionConfiguration(f"Invalid Encryption Configuration: kmsKeyId must be a string "
                                                     f"of {lo} to {hi} characters")
        lo, hi = KMS_REUSE_SECONDS
        if period is not None and (isinstance(period, bool) or not isinstance(period, int) or not lo <= period <= hi):
            raise api.InvalidEncryptionConfiguration(f"Invalid Encryption Configuration: kmsDataKeyReusePeriodSeconds "
                                                     f"must be between {lo} and {hi}")
        if kind == "CUSTOMER_MANAGED_KMS_KEY" and key is None:
            raise api.InvalidEncryptionConfiguration("Invalid Encryption Configuration: kmsKeyId is required when "
                                                     "type is CUSTOMER_MANAGED_KMS_KEY")
        return cls(kind, key, period)

    def to_api(self) -> dict[str, Json]:
        """The API shape, as DescribeStateMachine returns it (members that were not given are left out)."""
        out: dict[str, Json] = {"type": self.type}
        if self.kms_key_id is not None:
            out["kmsKeyId"] = self.kms_key_id
        if self.kms_data_key_reuse_period_seconds is not None:
            out["kmsDataKeyReusePeriodSeconds"] = self.kms_data_key_reuse_period_seconds
        return out


#: Each configuration as the API gives it (None: the default, or "keep" in an update), or already parsed.
LoggingArg = Mapping[str, Any] | LoggingConfiguration | None
TracingArg = Mapping[str, Any] | TracingConfiguration | None
EncryptionArg = Mapping[str, Any] | EncryptionConfiguration | None


def parsed_configuration(kind: type[Any], value: Any) -> Any:
    """``value`` as a ``kind`` configuration (parsed, and checked, unless it already is one)."""
    return value if isinstance(value, kind) else kind.from_api(value)
