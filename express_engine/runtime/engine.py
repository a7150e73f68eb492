"""The :class:`Engine`: holds compiled state machines and runs executions in memory.

Sync starts (:meth:`Engine.start_sync_execution`) wait for the outcome and return AWS's
StartSyncExecution response; async starts (:meth:`Engine.start_execution`) return the execution ARN at
once and run in the engine's task group (use ``async with Engine() as engine``). Each execution's
history events, filtered by the machine's logging level, go to the engine's ``log_handler``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .. import errors
from .. import service_errors as api
from ..asl.compiler import compile_definition
from ..asl.definition_json import NOT_AN_OBJECT_MESSAGE, jackson_message, parse_definition
from ..asl.model import StateMachine
from ..asl.validate import validate_definition
from ..errors import DefinitionError, Diagnostic
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, JsonError, dumpb, dumps, is_json, loads
from ..sink_spec import parse_sink_spec
from .execution import MAX_LOG_BYTES, MAX_LOG_EVENTS, EventRecorder, Execution, Frame, Inspection, Sleep, SliceSpent
from .interpreter import graph_is_sync, resume_graph_sync, run_graph, run_graph_sync
from .tasks import Handler, HandlerRegistry

log = logging.getLogger("express_engine")

#: Express executions may run at most five minutes.
EXPRESS_MAX_SECONDS = 300.0
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
ENCRYPTION_TYPES = ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY")
#: The range AWS allows for ``kmsDataKeyReusePeriodSeconds`` (seconds).
KMS_REUSE_SECONDS = (60, 900)
#: The length AWS allows for ``kmsKeyId``.
KMS_KEY_ID_LENGTH = (1, 2048)

_FATAL_EVENTS = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
_ERROR_EVENTS = _FATAL_EVENTS | frozenset({
    "FailStateEntered", "LambdaFunctionFailed", "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut", "MapIterationAborted", "MapIterationFailed", "MapStateAborted", "MapStateFailed",
    "ParallelStateAborted", "ParallelStateFailed", "TaskFailed", "TaskStartFailed", "TaskStateAborted",
    "TaskSubmitFailed", "TaskTimedOut", "WaitStateAborted", "MapRunAborted", "MapRunFailed", "EvaluationFailed",
})
_NAME_RE = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]{1,80}$")


#: A private generator (seeded from the OS, reseeded in forked children): user code that seeds the global
#: ``random`` for its own purposes must not make two processes mint the same execution or request ids.
_rng = random.Random()
if hasattr(os, "register_at_fork"):  # (POSIX only; elsewhere there is no fork)
    os.register_at_fork(after_in_child=_rng.seed)


#: Version 4 and RFC 4122 variant bits of a UUID, as a 128-bit integer: cleared, then set.
_UUID_CLEAR = ~((0xF << 76) | (0xC << 60))
_UUID_SET = (0x4 << 76) | (0x8 << 60)


def new_uuid() -> str:
    """A random (version 4) UUID string; faster than ``str(uuid.uuid4())`` (no system call) on the hot path."""
    h = (_rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def levels_include(level: str, event_type: str) -> bool:
    """Whether a logging ``level`` emits events of ``event_type``."""
    if level == "ALL":
        return True
    if level == "ERROR":
        return event_type in _ERROR_EVENTS
    if level == "FATAL":
        return event_type in _FATAL_EVENTS
    return False


def check_name(name: str) -> None:
    """Raise InvalidName unless ``name`` is a valid state machine / execution name."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise api.InvalidName(f"Invalid Name: '{name}'")


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


def _parsed(kind: type[Any], value: Any) -> Any:
    """``value`` as a ``kind`` configuration (parsed, and checked, unless it already is one)."""
    return value if isinstance(value, kind) else kind.from_api(value)


@dataclass(frozen=True, slots=True)
class StateMachineRecord:
    """A created state machine: its definition text, settings and compiled form."""

    arn: str
    name: str
    definition: str
    machine: StateMachine
    type: str = "EXPRESS"
    role_arn: str = ""
    logging: LoggingConfiguration = field(default_factory=LoggingConfiguration)
    tracing: TracingConfiguration = field(default_factory=TracingConfiguration)
    encryption: EncryptionConfiguration = field(default_factory=EncryptionConfiguration)
    creation_date: float = field(default_factory=lambda: round(time.time(), 3))
    revision_id: str = field(default_factory=new_uuid)
    tags: Mapping[str, str] = field(default_factory=dict)
    #: whether the machine was updated since it was created (only then does AWS describe a ``revisionId``)
    updated: bool = False

    def describe(self) -> dict[str, Json]:
        """DescribeStateMachine's response (``variableReferences`` only when some state reads a variable; ``revisionId``
        only once the machine was updated, as AWS answers)."""
        response: dict[str, Json] = {
            "stateMachineArn": self.arn,
            "name": self.name,
            "status": "ACTIVE",
            "definition": self.definition,
            "roleArn": self.role_arn,
            "type": self.type,
            "creationDate": self.creation_date,
            "loggingConfiguration": self.logging.to_api(),
            "tracingConfiguration": self.tracing.to_api(),
            "encryptionConfiguration": self.encryption.to_api(),
        }
        if self.updated:
            response["revisionId"] = self.revision_id
        if self.machine.variable_references:
            response["variableReferences"] = {k: list(v) for k, v in self.machine.variable_references.items()}
        return response

    def same_content(self, other: StateMachineRecord) -> bool:
        """Whether creating ``other`` over this machine is idempotent on AWS: same definition, type and logging,
        tracing and encryption configurations (a different role or tags are ignored, and not applied)."""
        return (self.definition, self.type, self.logging, self.tracing, self.encryption) == (
            other.definition, other.type, other.logging, other.tracing, other.encryption)


@dataclass(slots=True)
class LogBatch:
    """The log events of one finished execution, handed to the log handler."""

    execution_arn: str
    state_machine: StateMachineRecord
    events: list[dict[str, Any]]
    redrive_count: int | None


LogHandler = Callable[[LogBatch], Awaitable[None]]


#: How many times longer than JSON text its value can get when written back compactly: orjson writes the 4
#: characters ``1e15`` as the 18 of ``1000000000000000.0``; nothing else grows (whitespace goes, escapes shrink).
TEXT_GROWTH = 5


def checked_input(text: str | None) -> bytes:
    """An execution input checked like :func:`parse_input`, kept as the UTF-8 JSON text it is (to pass on)."""
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= MAX_PAYLOAD_BYTES and is_json(data):
            return data
    return dumpb(parse_input(text))  # None gives {}; a valid input passes (written back); others raise AWS's error


def parse_input(text: str | None) -> Json:
    """An execution input as given to the API: JSON text (``None`` = ``{}``) within the size limit."""
    if text is None:
        return {}
    if not isinstance(text, str):
        raise api.InvalidExecutionInput("Invalid State Machine Execution Input: input must be a JSON string")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        raise api.ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {MAX_PAYLOAD_BYTES}")
    try:
        return loads(text)
    except JsonError as exc:
        raise api.InvalidExecutionInput(
            f"Invalid State Machine Execution Input: '{jackson_message(text, str(exc))}'") from None


def billing(duration_ms: float, machine: StateMachine, definition: str, data_bytes: int) -> dict[str, int]:
    """Express billing: duration rounded up to 100 ms; memory estimated and rounded up to 64 MB."""
    billed_ms = max(100, math.ceil(duration_ms / 100.0) * 100)
    estimate_mb = 50 + (len(definition) + data_bytes * max(1, machine.fanout_states)) / (1024 * 1024)
    billed_mb = math.ceil(estimate_mb / 64.0) * 64
    return {"billedMemoryUsedInMB": billed_mb, "billedDurationInMilliseconds": billed_ms}


class Engine:
    """Compiles state machines once and runs their executions in memory."""

    def __init__(
        self,
        *,
        handlers: HandlerRegistry | None = None,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        sleep: Sleep | None = None,
        time_scale: float = 1.0,
        log_handler: LogHandler | None = None,
        max_duration: float = EXPRESS_MAX_SECONDS,
        max_log_events: int = MAX_LOG_EVENTS,
        max_log_bytes: int = MAX_LOG_BYTES,
    ) -> None:
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.region = region
        self.account = account
        if not 0 <= time_scale < math.inf:  # (also refuses NaN)
            raise ValueError(f"time_scale must be a finite number >= 0, not {time_scale!r}")
        self.time_scale = time_scale
        self._sleep = sleep
        self.log_handler = log_handler
        self.max_duration = max_duration
        #: the log budget of one execution (see :class:`~express_engine.runtime.execution.EventRecorder`)
        self.max_log_events = max_log_events
        self.max_log_bytes = max_log_bytes
        self.machines: dict[str, StateMachineRecord] = {}
        self._task_group: TaskGroup | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> bool | None:
        assert self._task_group is not None
        tg, self._task_group = self._task_group, None
        return await tg.__aexit__(*exc)  # type: ignore[arg-type]

    # -- handlers and machines -------------------------------------------------------------------------

    def register_handler(self, name: str, fn: Handler, *, blocking: bool = False) -> None:
        """Serve a Lambda function name (or a full resource ARN) with ``fn(event, context)``."""
        self.handlers.register(name, fn, blocking=blocking)

    def state_machine_arn(self, name: str) -> str:
        """The ARN a state machine called ``name`` gets."""
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    @staticmethod
    def validate(definition: str | Mapping[str, Json], *, sm_type: str = "EXPRESS") -> list[Diagnostic]:
        """Every problem in ``definition`` (empty when it is valid), as AWS's validator reports them."""
        if isinstance(definition, str):
            parsed, problems = parse_definition(definition)
            if problems or parsed is None:
                return problems
        elif isinstance(definition, Mapping):
            parsed = dict(definition)
        else:
            return [Diagnostic("SCHEMA_VALIDATION_FAILED", NOT_AN_OBJECT_MESSAGE)]
        problems = validate_definition(parsed, sm_type=sm_type)
        if any(p.severity == "ERROR" for p in problems):
            return problems
        try:
            compile_definition(parsed, sm_type=sm_type)
        except DefinitionError as exc:
            return problems + exc.diagnostics
        except Exception as exc:
            log.exception("internal error while compiling a definition")
            return [*problems, Diagnostic("SCHEMA_VALIDATION_FAILED", f"Internal error while compiling: {exc!r}")]
        return problems

    def build_record(self, name: str, definition: str | Mapping[str, Json] | StateMachine, *, type: str = "EXPRESS",
                     role_arn: str = "", logging_configuration: LoggingArg = None,
                     tracing_configuration: TracingArg = None, encryption_configuration: EncryptionArg = None,
                     tags: Mapping[str, str] | None = None) -> StateMachineRecord:
        """Validate and compile a state machine without registering it (raises InvalidDefinition etc.).

        ``definition`` may also be a machine its caller compiled, validated as the caller chose (TestState:
        a test has no workflow type); it is taken as it is.
        """
        check_name(name)
        if type != "EXPRESS":
            raise api.StateMachineTypeNotSupported(
                "This engine runs EXPRESS state machines only; STANDARD workflows are not supported")
        if isinstance(definition, StateMachine):
            machine, text = definition, dumps(definition.definition)
        else:
            text = definition if isinstance(definition, str) else dumps(definition)
            try:
                machine = compile_definition(text)
            except DefinitionError as exc:
                raise api.InvalidDefinition(exc.message, exc.diagnostics) from None
            except Exception as exc:
                log.exception("internal error while compiling a definition")
                raise api.InvalidDefinition(
                    f"Invalid State Machine Definition: 'Internal error: {exc!r}'") from None
        return StateMachineRecord(
            arn=self.state_machine_arn(name), name=name, definition=text, machine=machine, type=type,
            role_arn=role_arn or f"arn:aws:iam::{self.account}:role/express-engine",
            logging=_parsed(LoggingConfiguration, logging_configuration),
            tracing=_parsed(TracingConfiguration, tracing_configuration),
            encryption=_parsed(EncryptionConfiguration, encryption_configuration),
            tags=dict(tags or {}),
        )

    def updated_record(self, old: StateMachineRecord, *, definition: str | None = None, role_arn: str | None = None,
                       logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                       encryption_configuration: EncryptionArg = None) -> StateMachineRecord:
        """``old`` with the given parts replaced (None keeps a part): a new revision, same creation date and tags."""
        new = self.build_record(
            old.name, definition if definition is not None else old.definition, type=old.type,
            role_arn=role_arn or old.role_arn,
            logging_configuration=logging_configuration if logging_configuration is not None else old.logging,
            tracing_configuration=tracing_configuration if tracing_configuration is not None else old.tracing,
            encryption_configuration=encryption_configuration if encryption_configuration is not None
            else old.encryption,
            tags=old.tags)
        return replace(new, creation_date=old.creation_date, updated=True)

    def create_state_machine(self, name: str, definition: str | Mapping[str, Json],
                             **kwargs: Any) -> StateMachineRecord:
        """Validate, compile and register a state machine; returns its record.

        Idempotent like AWS (see :meth:`StateMachineRecord.same_content`): re-creating a machine with the same
        content returns the existing record; the same name with other content raises StateMachineAlreadyExists.
        """
        record = self.build_record(name, definition, **kwargs)
        existing = self.machines.get(record.arn)
        if existing is not None:
            if existing.same_content(record):
                return existing
            raise api.StateMachineAlreadyExists(f"State Machine Already Exists: '{record.arn}'")
        self.machines[record.arn] = record
        return record

    def put_record(self, record: StateMachineRecord) -> None:
        """Register (or replace) an already-built record."""
        self.machines[record.arn] = record

    def update_state_machine(self, arn: str, *, definition: str | None = None, role_arn: str | None = None,
                             logging_configuration: LoggingArg = None, tracing_configuration: TracingArg = None,
                             encryption_configuration: EncryptionArg = None) -> StateMachineRecord:
        """Replace a machine's definition / role / configurations (None keeps one); running executions keep the
        old one."""
        new = self.updated_record(self.get(arn), definition=definition, role_arn=role_arn,
                                  logging_configuration=logging_configuration,
                                  tracing_configuration=tracing_configuration,
                                  encryption_configuration=encryption_configuration)
        self.machines[arn] = new
        return new

    def delete_state_machine(self, arn: str) -> None:
        """Forget a machine (no error when it does not exist, as on AWS)."""
        self.machines.pop(arn, None)

    def get(self, arn_or_name: str) -> StateMachineRecord:
        """The record for an ARN (or a bare name); raises StateMachineDoesNotExist / InvalidArn."""
        if not isinstance(arn_or_name, str):
            raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn_or_name}'")
        if not arn_or_name.startswith("arn:"):
            arn_or_name = self.state_machine_arn(arn_or_name)
        record = self.machines.get(arn_or_name)
        if record is None:
            if ":stateMachine:" not in arn_or_name:
                raise api.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn_or_name}'")
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn_or_name}'")
        return record

    # -- executions -----------------------------------------------------------------------------------

    def execution_arn(self, record: StateMachineRecord, name: str) -> str:
        """AWS's Express execution ARN: ``...:express:<machine>:<name>:<uuid>``."""
        return f"arn:aws:states:{self.region}:{self.account}:express:{record.name}:{name}:{new_uuid()}"

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of workflow time (scaled by ``time_scale``; tests inject their own clock)."""
        if self._sleep is not None:
            await self._sleep(seconds)
        elif self.time_scale > 0:
            await anyio.sleep(seconds * self.time_scale)
        else:
            await anyio.lowlevel.checkpoint()

    async def start_sync_execution(self, state_machine: str | StateMachineRecord, input: str | None = None,
                                   name: str | None = None, *, mock: Any = None) -> dict[str, Json]:
        """Run an execution to its end and return the StartSyncExecution response."""
        record = state_machine if isinstance(state_machine, StateMachineRecord) else self.get(state_machine)
        value = parse_input(input)
        if name is not None:
            check_name(name)
        return await self.run(record, value, name=name or new_uuid(), sync=True, mock=mock)

    async def start_execution(self, state_machine: str | StateMachineRecord, input: str | None = None,
                              name: str | None = None, *, mock: Any = None) -> dict[str, Json]:
        """Start an execution in the background; returns ``{executionArn, startDate}`` at once."""
        if self._task_group is None:
            raise RuntimeError("start_execution needs a running engine: use 'async with Engine() as engine'")
        record = state_machine if isinstance(state_machine, StateMachineRecord) else self.get(state_machine)
        value = parse_input(input)
        if name is not None:
            check_name(name)
        exec_name = name or new_uuid()
        arn = self.execution_arn(record, exec_name)
        start = time.time()
        self._task_group.start_soon(self._run_background, record, value, exec_name, arn, mock)
        return {"executionArn": arn, "startDate": round(start, 3)}

    async def _run_background(self, record: StateMachineRecord, value: Json, name: str, arn: str,
                              mock: Any) -> None:
        await self.run(record, value, name=name, sync=False, arn=arn, mock=mock, respond=False)

    async def run(self, record: StateMachineRecord, value: Json, *, name: str, sync: bool,
                  arn: str | None = None, redrive_count: int = 0, mock: Any = None,
                  respond: bool = True, input_size: int | None = None,
                  inspection: Inspection | None = None, context: dict[str, Json] | None = None) -> dict[str, Json]:
        """Run one execution of ``record`` on ``value``; returns the StartSyncExecution response shape.

        With ``respond=False`` (an async start: nobody reads a response) the result holds only
        ``status`` and, for a failure, ``error`` and ``cause``: input and output are not serialised.
        ``input_size``, when the caller knows one, is an upper bound of the input's compact JSON size in bytes
        (e.g. :data:`TEXT_GROWTH` times the length of the text it was parsed from): payload-limit checks start
        from it. ``inspection``, when given, receives the data-flow steps of the state it names
        (TestState's ``inspectionData``); ``context``, when given, is the context object every state sees
        (TestState's ``context``).
        """
        machine = record.machine
        arn = arn or self.execution_arn(record, name)
        level = record.logging.level
        recorder = EventRecorder(record.logging.include_execution_data, level, max_events=self.max_log_events,
                                 max_bytes=self.max_log_bytes) if (
            level != "OFF" and self.log_handler is not None) else None
        limit = min(self.max_duration, machine.timeout_seconds or self.max_duration)
        # (positional: keyword arguments cost a tenth of a trivial execution here)
        ex = Execution(arn, name, machine, record.arn, record.name, value, record.role_arn, self.handlers, self.sleep,
                       recorder, None if sync else redrive_count, time.monotonic() + limit, mock, inspection, context)
        start = ex.start_time
        frame = Frame({})  # (previous event 0: AWS's first StateEntered has previous_event_id 0)
        input_text = ""
        # Input and output are serialised only for someone to read them: the caller or the log events.
        serialise = respond or (recorder is not None and recorder.include_data)
        if serialise:
            input_bytes = dumpb(value)
            input_text = input_bytes.decode()
            frame.sized = (value, len(input_bytes))
        elif input_size is not None:
            frame.sized = (value, input_size)
        started_details = None
        if recorder is not None:
            started_details = {"roleArn": record.role_arn}
            if recorder.include_data:
                started_details = {"input": input_text, "inputDetails": {"truncated": False},
                                   "roleArn": record.role_arn}
        ex.event(None, "ExecutionStarted", started_details)
        status, output, error, cause = "SUCCEEDED", None, None, None
        try:
            # With a mock (MockConfigFile test case) a resource may be served by the mock alone;
            # an unmocked call to it still fails clearly at the call.
            missing = self.handlers.missing(machine.resources) if mock is None and machine.resources else None
            if missing:
                raise errors.Runtime(
                    f"No handler is registered for the Task resource '{missing[0]}'. Register one with "
                    "Engine.register_handler(ARN, fn) or --handler ARN=module:function.")
            if graph_is_sync(machine.graph):
                # Suspends only to give other tasks a turn: the loop itself checks the deadline, no cancel scope
                # needed.
                try:
                    output = run_graph_sync(ex, machine.graph, value, frame)
                except SliceSpent as spent:
                    output = await resume_graph_sync(ex, machine.graph, spent, frame)
            else:
                with anyio.move_on_after(limit) as scope:
                    output = await run_graph(ex, machine.graph, value, frame)
                if scope.cancelled_caught:
                    raise errors.Timeout(None)
        except errors.Timeout as err:
            if time.monotonic() >= ex.deadline or scope_timed_out(ex):
                status, error, cause = "TIMED_OUT", "States.Timeout", None
            else:
                status, error, cause = "FAILED", err.error, err.cause
        except errors.StatesError as err:
            status, error, cause = "FAILED", err.error or None, err.cause
        except Exception as exc:
            log.exception("internal error in execution %s", arn)
            status, error, cause = "FAILED", "States.Runtime", f"Internal engine error: {type(exc).__name__}: {exc}"
        stop = time.time()
        output_text = dumps(output) if status == "SUCCEEDED" and serialise else None
        if recorder is not None:
            recorder.close()
            if status == "SUCCEEDED":
                details = {"output": output_text, "outputDetails": {"truncated": False}} if recorder.include_data \
                    else {}
                ex.event(frame, "ExecutionSucceeded", details)
            else:
                details = {}
                if error:
                    details["error"] = error
                if cause is not None:
                    details["cause"] = cause
                ex.event(frame, "ExecutionTimedOut" if status == "TIMED_OUT" else "ExecutionFailed", details)
            events = [e for e in recorder.events if levels_include(level, e["type"])]
            if events and self.log_handler is not None:
                try:
                    await self.log_handler(LogBatch(arn, record, events, ex.redrive_count))
                except Exception:  # (a bug in formatting or a sink: the execution's own outcome still stands)
                    log.exception("the log events of execution %s could not be handed to the log handler", arn)
        if not respond:
            brief: dict[str, Json] = {"status": status}
            if error:
                brief["error"] = error
            if cause is not None:
                brief["cause"] = cause
            return brief
        response: dict[str, Json] = {
            "executionArn": arn,
            "stateMachineArn": record.arn,
            "name": name,
            "startDate": round(start, 3),
            "stopDate": round(stop, 3),
            "status": status,
            "input": input_text,
            "inputDetails": {"included": True},
        }
        if status == "SUCCEEDED":
            response["output"] = output_text
        response["outputDetails"] = {"included": True}
        if status != "SUCCEEDED":
            if error:
                response["error"] = error
            if cause is not None:
                response["cause"] = cause
        response["billingDetails"] = billing((stop - start) * 1000, machine, record.definition,
                                             len(input_text) + len(output_text or ""))
        return response


def scope_timed_out(ex: Execution) -> bool:
    """Whether the execution's own deadline has passed."""
    return time.monotonic() >= ex.deadline - 1e-3
