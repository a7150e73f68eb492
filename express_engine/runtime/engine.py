"""The :class:`Engine`: holds compiled state machines and runs executions in memory.

Sync starts (:meth:`Engine.start_sync_execution`) wait for the outcome and return AWS's
StartSyncExecution response; async starts (:meth:`Engine.start_execution`) return the execution ARN at
once and run in the engine's task group (use ``async with Engine() as engine``). Each execution's
history events, filtered by the machine's logging level, go to the engine's ``log_handler``.
Records and ids (:mod:`.records`, :mod:`.ids`), configuration parsing (:mod:`.configuration`), input checks
(:mod:`.inputs`) and running one execution (:mod:`.executor`) live beside it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import anyio
from anyio.abc import TaskGroup

from .. import service_errors as api
from ..asl.compiler import compile_definition
from ..asl.definition_json import NOT_AN_OBJECT_MESSAGE, parse_definition
from ..asl.model import StateMachine
from ..asl.validate import validate_definition
from ..errors import DefinitionError, Diagnostic
from ..jsonutil import Json, dumps
from .configuration import (
    EncryptionArg,
    EncryptionConfiguration,
    LoggingArg,
    LoggingConfiguration,
    TracingArg,
    TracingConfiguration,
    parsed_configuration,
)
from .execution import MAX_LOG_BYTES, MAX_LOG_EVENTS, Inspection, Sleep
from .executor import LogHandler, run_execution
from .ids import check_name, new_uuid, new_uuid_pair
from .inputs import parse_input
from .records import StateMachineRecord
from .tasks import Handler, HandlerRegistry

log = logging.getLogger("express_engine")

#: Express executions may run at most five minutes.
EXPRESS_MAX_SECONDS = 300.0
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


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
            logging=parsed_configuration(LoggingConfiguration, logging_configuration),
            tracing=parsed_configuration(TracingConfiguration, tracing_configuration),
            encryption=parsed_configuration(EncryptionConfiguration, encryption_configuration),
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

    def execution_arn(self, record: StateMachineRecord, name: str, suffix: str | None = None) -> str:
        """AWS's Express execution ARN: ``...:express:<machine>:<name>:<uuid>`` (``suffix``: that UUID)."""
        return f"arn:aws:states:{self.region}:{self.account}:express:{record.name}:{name}:{suffix or new_uuid()}"

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
        suffix = None
        if name is None:
            name, suffix = new_uuid_pair()
        return await run_execution(self, record, value, self.execution_arn(record, name, suffix), name, True, 0, mock,
                                   True, None, None, None)  # (what self.run does, without its layer)

    async def start_execution(self, state_machine: str | StateMachineRecord, input: str | None = None,
                              name: str | None = None, *, mock: Any = None) -> dict[str, Json]:
        """Start an execution in the background; returns ``{executionArn, startDate}`` at once."""
        if self._task_group is None:
            raise RuntimeError("start_execution needs a running engine: use 'async with Engine() as engine'")
        record = state_machine if isinstance(state_machine, StateMachineRecord) else self.get(state_machine)
        value = parse_input(input)
        if name is not None:
            check_name(name)
        suffix = None
        if name is None:
            name, suffix = new_uuid_pair()
        exec_name = name
        arn = self.execution_arn(record, exec_name, suffix)
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
        (e.g. ``inputs.TEXT_GROWTH`` times the length of the text it was parsed from): payload-limit checks start
        from it. ``inspection``, when given, receives the data-flow steps of the state it names
        (TestState's ``inspectionData``); ``context``, when given, is the context object every state sees
        (TestState's ``context``).
        """
        return await run_execution(self, record, value, arn or self.execution_arn(record, name), name, sync,
                                   redrive_count, mock, respond, input_size, inspection, context)
