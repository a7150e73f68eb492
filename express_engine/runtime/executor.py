"""Running one execution of a state machine to its end: events, timeout, outcome, logs and response.

:func:`run_execution` is what :meth:`Engine.run <express_engine.runtime.engine.Engine.run>` does: start the
execution (its ``ExecutionStarted`` event), run its graph under the Express time limit, record how it ended,
hand its log events to the log handler and shape the StartSyncExecution response.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from .. import errors
from ..asl import model as m
from ..jsonutil import Json, dumpb, dumps
from .execution import EventRecorder, Execution, Frame, Inspection, SliceSpent
from .interpreter import resume_graph_sync, run_graph, run_graph_sync
from .records import StateMachineRecord
from .tasks import HandlerRegistry

log = logging.getLogger("express_engine")

_FATAL_EVENTS = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
_ERROR_EVENTS = _FATAL_EVENTS | frozenset({
    "FailStateEntered", "LambdaFunctionFailed", "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut", "MapIterationAborted", "MapIterationFailed", "MapStateAborted", "MapStateFailed",
    "ParallelStateAborted", "ParallelStateFailed", "TaskFailed", "TaskStartFailed", "TaskStateAborted",
    "TaskSubmitFailed", "TaskTimedOut", "WaitStateAborted", "MapRunAborted", "MapRunFailed", "EvaluationFailed",
})


def levels_include(level: str, event_type: str) -> bool:
    """Whether a logging ``level`` emits events of ``event_type``."""
    if level == "ALL":
        return True
    if level == "ERROR":
        return event_type in _ERROR_EVENTS
    if level == "FATAL":
        return event_type in _FATAL_EVENTS
    return False


@dataclass(slots=True)
class LogBatch:
    """The log events of one finished execution, handed to the log handler."""

    execution_arn: str
    state_machine: StateMachineRecord
    events: list[dict[str, Any]]
    redrive_count: int | None


LogHandler = Callable[[LogBatch], Awaitable[None]]


def scope_timed_out(ex: Execution) -> bool:
    """Whether the execution's own deadline has passed."""
    return time.monotonic() >= ex.deadline - 1e-3


@dataclass(slots=True)
class _Outcome:
    """How an execution ended."""

    status: str = "SUCCEEDED"
    output: Json = None
    error: str | None = None
    cause: str | None = None


class Host(Protocol):
    """What an execution takes from the engine running it (:class:`~express_engine.runtime.engine.Engine`)."""

    handlers: HandlerRegistry
    log_handler: LogHandler | None
    max_duration: float
    max_log_events: int
    max_log_bytes: int

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of workflow time."""


async def run_execution(host: Host, record: StateMachineRecord, value: Json, arn: str, name: str, sync: bool,
                        redrive_count: int, mock: Any, respond: bool, input_size: int | None,
                        inspection: Inspection | None, context: dict[str, Json] | None) -> dict[str, Json]:
    """Run one execution of ``record`` on ``value`` on ``host``; see :meth:`Engine.run` for the arguments and the
    result. (Positional: keyword arguments cost a tenth of a trivial execution here.)"""
    machine = record.machine
    level = record.logging.level
    handlers, log_handler, max_duration = host.handlers, host.log_handler, host.max_duration
    recorder = EventRecorder(record.logging.include_execution_data, level, host.max_log_events,
                             host.max_log_bytes) if (level != "OFF" and log_handler is not None) else None
    limit = min(max_duration, machine.timeout_seconds or max_duration)
    # (positional: keyword arguments cost a tenth of a trivial execution here)
    ex = Execution(arn, name, machine, record.arn, record.name, value, record.role_arn, handlers, host.sleep,
                   recorder, None if sync else redrive_count, time.monotonic() + limit, mock, inspection, context)
    frame = Frame({})  # (previous event 0: AWS's first StateEntered has previous_event_id 0)
    # Input and output are serialised only for someone to read them: the caller or the log events.
    serialise = respond or (recorder is not None and recorder.include_data)
    input_text = ""
    if serialise:
        input_bytes = dumpb(value)
        input_text = input_bytes.decode()
        frame.sized = (value, len(input_bytes))
    elif input_size is not None:
        frame.sized = (value, input_size)
    if recorder is None:
        ex.last_event_id += 1  # (ExecutionStarted, only counted: inline, as every call here costs)
    else:
        _started(ex, record, recorder, input_text)
    graph = machine.graph
    if graph.sync:  # (no coroutine for a graph that never suspends: its outcome is most often known at once)
        try:
            outcome = _Outcome("SUCCEEDED", run_graph_sync(ex, graph, value, frame))
        except SliceSpent as spent:
            outcome = await _resume_sync(ex, graph, spent, frame)
        except Exception as exc:
            outcome = _failed(ex, exc)
    else:
        outcome = await _run_graph(ex, handlers, value, frame, limit, mock)
    stop = time.time()
    output_text = None
    if outcome.status == "SUCCEEDED" and serialise:
        last = frame.text  # (the last state's output, when it was serialised to be measured)
        output_text = last[1].decode() if last is not None and last[0] is outcome.output else dumps(outcome.output)
    if recorder is not None:
        await _ended(ex, record, recorder, frame, outcome, output_text, log_handler)
    if not respond:
        brief: dict[str, Json] = {"status": outcome.status}
        _add_error(brief, outcome)
        return brief
    return _response(ex, record, outcome, input_text, output_text, stop)


def _started(ex: Execution, record: StateMachineRecord, recorder: EventRecorder, input_text: str) -> None:
    """Record ``ExecutionStarted`` (``input_text``: the input's JSON text when it is serialised, else ``""``)."""
    details: dict[str, Json] = {"roleArn": record.role_arn}
    if recorder.include_data:
        details = {"input": input_text, "inputDetails": {"truncated": False}, "roleArn": record.role_arn}
    if record.version_arn:  # (a start by version or alias ARN: AWS's ExecutionStartedEventDetails)
        if record.alias_arn:
            details["stateMachineAliasArn"] = record.alias_arn
        details["stateMachineVersionArn"] = record.version_arn
    ex.event(None, "ExecutionStarted", details)


async def _resume_sync(ex: Execution, graph: m.Graph, spent: SliceSpent, frame: Frame) -> _Outcome:
    """Go on with a sync graph that spent its slice; how it ended."""
    try:
        return _Outcome("SUCCEEDED", await resume_graph_sync(ex, graph, spent, frame))
    except Exception as exc:
        return _failed(ex, exc)


async def _run_graph(ex: Execution, handlers: HandlerRegistry, value: Json, frame: Frame, limit: float,
                     mock: Any) -> _Outcome:
    """Run the machine's graph within ``limit`` seconds; how it ended (never raises for the execution's errors)."""
    machine = ex.machine
    try:
        # With a mock (MockConfigFile test case) a resource may be served by the mock alone;
        # an unmocked call to it still fails clearly at the call.
        missing = handlers.missing(machine.resources) if mock is None and machine.resources else None
        if missing:
            raise errors.Runtime(
                f"No handler is registered for the Task resource '{missing[0]}'. Register one with "
                "Engine.register_handler(ARN, fn) or --handler ARN=module:function"
                + (", or set EXPRESS_ENGINE_AWS=real to call the AWS service." if ":states:::" in missing[0]
                   else "."))
        with anyio.move_on_after(limit) as scope:
            output = await run_graph(ex, machine.graph, value, frame)
        if scope.cancelled_caught:
            raise errors.Timeout(None)
        return _Outcome("SUCCEEDED", output)
    except Exception as exc:
        return _failed(ex, exc)


def _failed(ex: Execution, exc: Exception) -> _Outcome:
    """How an execution ended that raised ``exc``: its States error, a timeout, or an internal error (logged)."""
    if isinstance(exc, errors.Timeout):
        if time.monotonic() >= ex.deadline or scope_timed_out(ex):
            return _Outcome("TIMED_OUT", None, "States.Timeout", None)
        return _Outcome("FAILED", None, exc.error, exc.cause)
    if isinstance(exc, errors.StatesError):
        return _Outcome("FAILED", None, exc.error or None, exc.cause)
    log.error("internal error in execution %s", ex.arn, exc_info=exc)
    return _Outcome("FAILED", None, "States.Runtime", f"Internal engine error: {type(exc).__name__}: {exc}")


async def _ended(ex: Execution, record: StateMachineRecord, recorder: EventRecorder, frame: Frame,
                 outcome: _Outcome, output_text: str | None, log_handler: LogHandler | None) -> None:
    """Record the final event and hand the events the level keeps to the log handler."""
    recorder.close()
    details: dict[str, Json]
    if outcome.status == "SUCCEEDED":
        details = {"output": output_text, "outputDetails": {"truncated": False}} if recorder.include_data else {}
        ex.event(frame, "ExecutionSucceeded", details)
    else:
        details = {}
        _add_error(details, outcome)
        ex.event(frame, "ExecutionTimedOut" if outcome.status == "TIMED_OUT" else "ExecutionFailed", details)
    level = record.logging.level
    events = [e for e in recorder.events if levels_include(level, e["type"])]
    if events and log_handler is not None:
        try:
            await log_handler(LogBatch(ex.arn, record, events, ex.redrive_count))
        except Exception:  # (a bug in formatting or a sink: the execution's own outcome still stands)
            log.exception("the log events of execution %s could not be handed to the log handler", ex.arn)


def _add_error(out: dict[str, Json], outcome: _Outcome) -> None:
    if outcome.error:
        out["error"] = outcome.error
    if outcome.cause is not None:
        out["cause"] = outcome.cause


def _response(ex: Execution, record: StateMachineRecord, outcome: _Outcome, input_text: str,
              output_text: str | None, stop: float) -> dict[str, Json]:
    """The StartSyncExecution response."""
    start = ex.start_time
    response: dict[str, Json] = {
        "executionArn": ex.arn,
        "stateMachineArn": record.arn,
        "name": ex.name,
        "startDate": round(start, 3),
        "stopDate": round(stop, 3),
        "status": outcome.status,
        "input": input_text,
        "inputDetails": {"included": True},
    }
    if outcome.status == "SUCCEEDED":
        response["output"] = output_text
    response["outputDetails"] = {"included": True}
    if outcome.status != "SUCCEEDED":
        _add_error(response, outcome)
    # Express billing: duration rounded up to 100 ms; memory estimated and rounded up to 64 MB (inline, as every
    # call here costs).
    duration_ms = (stop - start) * 1000
    data_bytes = len(input_text) + len(output_text or "")
    estimate_mb = 50 + (len(record.definition) + data_bytes * max(1, record.machine.fanout_states)) / (1024 * 1024)
    response["billingDetails"] = {"billedMemoryUsedInMB": math.ceil(estimate_mb / 64.0) * 64,
                                  "billedDurationInMilliseconds": max(100, math.ceil(duration_ms / 100.0) * 100)}
    return response
