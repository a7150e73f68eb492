"""Per-execution state: identity, clock, variables scopes, context object and history events.

Events are always *counted* (their ids appear in AWS error causes: "entered at the event id #2");
they are only *built* when a recorder is attached, so an execution with logging off pays for an
integer increment per event and nothing else.
"""

from __future__ import annotations

import sys
import time
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from .. import errors
from ..asl.model import StateMachine
from ..jsonutil import Json, dumps
from .tasks import HandlerRegistry

Sleep = Callable[[float], Awaitable[None]]

#: Longest stretch of computing (seconds) one execution does before it lets the event loop run the others.
SLICE_SECONDS = 0.002


class SliceSpent(Exception):
    """A graph of never-suspending states used up its execution's slice: resume at ``idx`` with ``value``."""

    def __init__(self, idx: int, value: Json) -> None:
        super().__init__(idx)
        self.idx = idx
        self.value = value


def iso_millis(epoch: float) -> str:
    """``2024-07-15T13:00:19.123Z``: the timestamp format of the context object."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


#: Log events one execution may buffer (they are handed to the sink when it ends) ...
MAX_LOG_EVENTS = 100_000
#: ... and their estimated size in bytes: past either, the execution fails with ``States.Runtime``.
MAX_LOG_BYTES = 64 * 1024 * 1024
#: Estimated bytes of one buffered event besides its input/output text (its dicts, ids and timestamp).
_EVENT_OVERHEAD = 400


class EventRecorder:
    """Collects history events of one execution: ``{id, type, details, previous_event_id, timestamp}``.

    The events are buffered until the execution ends, within a budget (:data:`MAX_LOG_EVENTS`,
    :data:`MAX_LOG_BYTES`): an execution that would go past it fails with ``States.Runtime`` rather than take
    its worker's memory (a loop at level ``ALL`` records millions of events a minute).
    """

    __slots__ = ("bytes", "events", "fail_input", "include_data", "max_bytes", "max_events")

    def __init__(self, include_data: bool = True, level: str = "ALL", max_events: int = MAX_LOG_EVENTS,
                 max_bytes: int = MAX_LOG_BYTES) -> None:
        self.events: list[dict[str, Any]] = []
        #: whether events carry input/output payloads: only when the level logs the events that carry them (ALL;
        #: at ERROR and FATAL the events of a state's data flow are recorded for their ids, then filtered out)
        self.include_data = include_data and level == "ALL"
        #: whether a FailStateEntered carries its input (the only payload an ERROR level logs)
        self.fail_input = include_data and level in ("ALL", "ERROR")
        self.max_events = max_events
        self.max_bytes = max_bytes
        #: estimated size of the events so far
        self.bytes = 0

    def add(self, event_id: int, type_: str, previous: int, details: dict[str, Any] | None) -> None:
        """Record one event; raises ``States.Runtime`` when the execution's log budget is spent."""
        size = self.size(details)
        self.bytes += size
        if len(self.events) >= self.max_events or self.bytes > self.max_bytes:
            self.bytes -= size
            raise errors.Runtime(
                f"The execution exceeded its log buffer of {self.max_events} events or {self.max_bytes} bytes "
                f"(at {len(self.events)} events, {self.bytes} bytes): log less (a lower level, or "
                "includeExecutionData false) or loop less")
        self.events.append({
            "id": event_id,
            "type": type_,
            "details": details or {},
            "previous_event_id": previous,
            "timestamp": time.time(),
        })

    @staticmethod
    def size(details: dict[str, Any] | None) -> int:
        """The estimated size of an event with ``details`` (what counts against the budget)."""
        size = _EVENT_OVERHEAD
        if details:
            for key in ("input", "output", "cause"):
                text = details.get(key)
                if type(text) is str:
                    size += len(text)
        return size

    def close(self) -> None:
        """Lift the budget: the events that end the execution are always recorded."""
        self.max_events = self.max_bytes = sys.maxsize


class Inspection:
    """TestState's inspection data: the data-flow steps of one state, as JSON text keyed as AWS's InspectionData."""

    __slots__ = ("data", "state")

    def __init__(self, state: str) -> None:
        self.state = state
        self.data: dict[str, Any] = {}

    def record(self, state: str, **steps: Json) -> None:
        """Record ``steps`` (``afterInputPath=value``...) when ``state`` is the inspected one."""
        if state == self.state:
            for key, value in steps.items():
                self.data[key] = dumps(value)

    def exchange(self, request: dict[str, str], response: dict[str, str]) -> None:
        """Record the HTTP ``request`` / ``response`` of the inspected state's task (shown at TRACE level)."""
        self.data["request"] = request
        self.data["response"] = response


class Execution:
    """One running execution (shared by all its branches and iterations)."""

    __slots__ = (
        "_execution_ctx",
        "_state_machine_ctx",
        "arn",
        "context",
        "deadline",
        "handlers",
        "input",
        "inspection",
        "last_event_id",
        "machine",
        "mock",
        "name",
        "recorder",
        "redrive_count",
        "role_arn",
        "sleep",
        "slice_end",
        "start_time",
        "state_machine_arn",
        "state_machine_name",
        "time_scale",
        "turns",
        "variables_bytes",
    )

    def __init__(
        self,
        arn: str,
        name: str,
        machine: StateMachine,
        state_machine_arn: str,
        state_machine_name: str,
        input: Json,
        role_arn: str,
        handlers: HandlerRegistry,
        sleep: Sleep,
        recorder: EventRecorder | None = None,
        redrive_count: int | None = None,
        deadline: float | None = None,
        mock: Any = None,
        inspection: Inspection | None = None,
        context: dict[str, Json] | None = None,
    ) -> None:
        self.arn = arn
        self.name = name
        self.machine = machine
        self.state_machine_arn = state_machine_arn
        self.state_machine_name = state_machine_name
        self.input = input
        self.start_time = time.time()
        self.role_arn = role_arn
        self.redrive_count = redrive_count
        self.handlers = handlers
        self.sleep = sleep
        self.recorder = recorder
        self.last_event_id = 0
        self.deadline = deadline if deadline is not None else float("inf")
        #: (monotonic) when the execution should next let other tasks run (see :data:`SLICE_SECONDS`)
        self.slice_end = time.monotonic() + SLICE_SECONDS
        #: how many times it gave the event loop a turn
        self.turns = 0
        self._execution_ctx: dict[str, Json] | None = None
        self._state_machine_ctx: dict[str, Json] | None = None
        self.mock = mock
        #: TestState's inspection (DEBUG/TRACE levels); None otherwise
        self.inspection = inspection
        #: the context object every state sees instead of the one built from the execution (TestState's
        #: ``context``: AWS uses the given object as it is, nothing merged in); None otherwise
        self.context = context
        #: JSON size of the variables assigned so far and still in scope (AWS: 10 MiB per execution at most)
        self.variables_bytes = 0

    def event(self, frame: Frame | None, type_: str, details: dict[str, Any] | None = None,
              previous: int | None = None) -> int:
        """Count (and, when recording, record) one history event; returns its id."""
        self.last_event_id += 1
        eid = self.last_event_id
        if self.recorder is not None:
            prev = previous if previous is not None else (frame.prev if frame is not None else 0)
            self.recorder.add(eid, type_, prev, details)
        if frame is not None:
            frame.prev = eid
        return eid

    @property
    def recording(self) -> bool:
        """Whether events are being built (callers skip building details otherwise)."""
        return self.recorder is not None

    @property
    def include_data(self) -> bool:
        """Whether recorded events carry input/output payloads."""
        return self.recorder is not None and self.recorder.include_data

    def execution_context(self) -> dict[str, Json]:
        """``$$.Execution`` (built once per execution, on first use)."""
        if self._execution_ctx is None:
            ctx: dict[str, Json] = {
                "Id": self.arn,
                "Input": self.input,
                "StartTime": iso_millis(self.start_time),
                "Name": self.name,
                "RoleArn": self.role_arn,
            }
            # StartSyncExecution runs have no RedriveCount; async Express runs do
            # (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
            if self.redrive_count is not None:
                ctx["RedriveCount"] = self.redrive_count
            self._execution_ctx = ctx
        return self._execution_ctx

    def state_machine_context(self) -> dict[str, Json]:
        """``$$.StateMachine``."""
        if self._state_machine_ctx is None:
            self._state_machine_ctx = {"Id": self.state_machine_arn, "Name": self.state_machine_name}
        return self._state_machine_ctx


class Frame:
    """One running graph (the machine, a Parallel branch or a Map iteration)."""

    #: ``active`` (set by the Task, Wait, Parallel and Map steps, read with ``getattr(frame, "active", None)``):
    #: the state of this graph that is running, and could be aborted: ``"Task"`` / ``"Wait"``, or the
    #: :class:`~express_engine.runtime.fanout.Fan` of a running Parallel / Map. Not set in ``__init__``: a graph
    #: of Pass/Choice states never pays for it.
    active: str | Any

    __slots__ = ("active", "map_item", "prev", "sized", "text", "variable_sizes", "variables")

    def __init__(self, variables: MutableMapping[str, Json], prev: int = 0,
                 map_item: dict[str, Json] | None = None) -> None:
        self.variables = variables
        self.prev = prev
        self.map_item = map_item
        #: the last state output known to fit the payload limit, and an upper bound of its JSON size in bytes
        self.sized: tuple[Json, int] | None = None
        #: the last state output and its JSON text, when it was serialised to be measured (else None)
        self.text: tuple[Json, bytes] | None = None
        #: JSON size of each variable assigned in this scope (counted in ``Execution.variables_bytes``)
        self.variable_sizes: dict[str, int] | None = None

    @property
    def outer_names(self) -> Mapping[str, Json] | None:
        """Names visible from enclosing scopes (read-only here); None at the top.

        Looked up only when a state assigns variables: a branch or iteration that assigns none never pays for
        it. (``type() is``, not isinstance(): ChainMap is an ABC, and an ABC isinstance check is slow.)
        """
        variables = self.variables
        return variables.parents if type(variables) is ChainMap else None

    def child(self, prev: int, map_item: dict[str, Json] | None = None) -> Frame:
        """A nested scope: outer variables readable, new assignments local."""
        return Frame(ChainMap({}, self.variables), prev, map_item)


class StateEnv:
    """The :class:`~express_engine.asl.paths.Env` of one state: the context object is built lazily."""

    __slots__ = ("_context", "entered", "ex", "frame", "retry_count", "state_name")

    def __init__(self, ex: Execution, frame: Frame, state_name: str, entered: float,
                 retry_count: int | None = None) -> None:
        self.ex = ex
        self.frame = frame
        self.state_name = state_name
        self.entered = entered
        self.retry_count = retry_count
        self._context: dict[str, Json] | None = None

    @property
    def variables(self) -> MutableMapping[str, Json]:
        """The variables visible to the state."""
        return self.frame.variables

    @property
    def context(self) -> dict[str, Json]:
        """The context object (``$$``): the execution's given one, or built from the execution and state."""
        if self._context is None:
            ctx: dict[str, Json]
            if self.ex.context is not None:
                ctx = dict(self.ex.context)  # (a copy: ``Map`` below is this state's own)
            else:
                state: dict[str, Json] = {"Name": self.state_name, "EnteredTime": iso_millis(self.entered)}
                if self.retry_count is not None:
                    state["RetryCount"] = self.retry_count
                ctx = {
                    "Execution": self.ex.execution_context(),
                    "StateMachine": self.ex.state_machine_context(),
                    "State": state,
                }
            if self.frame.map_item is not None:
                ctx["Map"] = {"Item": self.frame.map_item}
            self._context = ctx
        return self._context

    def retried(self) -> StateEnv:
        """The environment of the next attempt (``$$.State.RetryCount`` one higher)."""
        return StateEnv(self.ex, self.frame, self.state_name, self.entered, (self.retry_count or 0) + 1)

    def with_map_item(self, item: dict[str, Json]) -> StateEnv:
        """A copy that exposes ``$$.Map.Item`` (for ItemSelector evaluation)."""
        env = StateEnv(self.ex, Frame(self.frame.variables, self.frame.prev, item), self.state_name,
                       self.entered, self.retry_count)
        return env
