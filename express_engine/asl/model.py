"""The compiled, immutable form of a state machine that executions run.

One dataclass per state type. Transitions are integer indexes into the enclosing :class:`Graph`
(``None`` = the state ends its graph). Paths, templates, intrinsics, Choice rules and JSONata
expressions are already compiled callables; nothing here is re-parsed while an execution runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..jsonutil import Json
from .paths import Env, Path, ReferencePath
from .validation_rules import MAX_DELAY_SECONDS

#: Marks an IO field explicitly set to JSON ``null`` (InputPath/OutputPath → ``{}``, ResultPath → discard).
NULL: Any = type("NullField", (), {"__repr__": lambda self: "NULL", "__slots__": ()})()

#: A compiled JSONPath-mode evaluator: ``(value, env) -> value``.
Evaluator = Callable[[Json, Env], Json]


class JsonataExpr(Protocol):
    """A compiled JSONata template (:class:`express_engine.asl.jsonata.JsonataTemplate`)."""

    @property
    def is_constant(self) -> bool:
        """True when the value holds no expression."""

    @property
    def field(self) -> str:
        """The ASL field the template came from (for error texts)."""

    @property
    def expression(self) -> str | None:
        """The JSONata text when the whole value is one expression."""

    @property
    def states_fields(self) -> frozenset[str]:
        """The ``$states`` fields the template reads."""

    def evaluate(self, states: Mapping[str, Json], variables: Mapping[str, Json]) -> Json:
        """The value for one state."""

    def evaluate_sized(self, states: Mapping[str, Json], variables: Mapping[str, Json]) -> tuple[Json, int]:
        """The value and an upper bound of its size as JSON in bytes (-1 when none is known)."""


@dataclass(frozen=True, slots=True)
class Retrier:
    """One entry of ``Retry``."""

    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based), before jitter.

        At most the largest ``MaxDelaySeconds`` allowed (a huge ``BackoffRate`` must not overflow: the wait
        just outlasts the execution).
        """
        try:
            delay = min(self.interval_seconds * self.backoff_rate ** (attempt - 1), float(MAX_DELAY_SECONDS))
        except OverflowError:
            delay = float(MAX_DELAY_SECONDS)
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        return delay


@dataclass(frozen=True, slots=True)
class Assign:
    """A compiled ``Assign`` block: JSONPath template or JSONata template producing ``{name: value}``."""

    jsonpath: Evaluator | None = None
    jsonata: JsonataExpr | None = None


@dataclass(frozen=True, slots=True)
class Catcher:
    """One entry of ``Catch``."""

    error_equals: tuple[str, ...]
    next: int
    result_path: ReferencePath | None = None  # None: output = error object; NULL: output = raw input
    output: JsonataExpr | None = None
    assign: Assign | None = None


@dataclass(frozen=True, slots=True)
class StateBase:
    """Fields every state has after compilation."""

    name: str
    next: int | None
    jsonata: bool
    input_path: Path | None
    output_path: Path | None
    assign: Assign | None
    output: JsonataExpr | None
    #: JSONata states: whether any expression reads ``$states.context`` (else it is not built).
    needs_context: bool


@dataclass(frozen=True, slots=True)
class Pass(StateBase):
    """A Pass state."""

    result: Json
    has_result: bool
    parameters: Evaluator | None
    result_path: ReferencePath | None


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed Task ``Resource`` ARN."""

    arn: str
    #: ``lambda-arn`` (a function ARN), ``lambda-invoke`` (``arn:aws:states:::lambda:invoke``),
    #: ``service`` (another ``arn:aws:states:::svc:api``), ``other`` (anything else).
    kind: str
    #: Log/event names: resourceType and resource (``lambda``/``invoke``).
    resource_type: str
    resource: str
    #: The handler key for lambda ARNs (function name); the ARN itself otherwise.
    function_name: str | None
    region: str


@dataclass(frozen=True, slots=True)
class Task(StateBase):
    """A Task state."""

    resource: Resource
    parameters: Evaluator | None
    arguments: JsonataExpr | None
    result_selector: Evaluator | None
    result_path: ReferencePath | None
    timeout_seconds: float | None
    timeout_path: Path | None
    timeout_expr: JsonataExpr | None
    heartbeat_seconds: float | None
    credentials: Evaluator | None
    retriers: tuple[Retrier, ...]
    catchers: tuple[Catcher, ...]


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """One top-level Choice rule: predicate (JSONPath rule or JSONata Condition) and target."""

    predicate: Callable[[Json, Env], bool] | None
    condition: JsonataExpr | None
    next: int
    assign: Assign | None
    output: JsonataExpr | None
    index: int


@dataclass(frozen=True, slots=True)
class Choice(StateBase):
    """A Choice state."""

    rules: tuple[ChoiceRule, ...]
    default: int | None


@dataclass(frozen=True, slots=True)
class Wait(StateBase):
    """A Wait state (exactly one of the four wait fields is set)."""

    seconds: float | None
    timestamp: str | None
    seconds_path: Path | None
    timestamp_path: Path | None
    seconds_expr: JsonataExpr | None
    timestamp_expr: JsonataExpr | None


@dataclass(frozen=True, slots=True)
class Succeed(StateBase):
    """A Succeed state."""


@dataclass(frozen=True, slots=True)
class Fail(StateBase):
    """A Fail state: Error/Cause literals, JSONPath ErrorPath/CausePath, or JSONata templates."""

    error: str | None
    cause: str | None
    error_path: Evaluator | None
    cause_path: Evaluator | None
    error_expr: JsonataExpr | None
    cause_expr: JsonataExpr | None


@dataclass(frozen=True, slots=True)
class Parallel(StateBase):
    """A Parallel state."""

    branches: tuple[Graph, ...]
    parameters: Evaluator | None
    arguments: JsonataExpr | None
    result_selector: Evaluator | None
    result_path: ReferencePath | None
    retriers: tuple[Retrier, ...]
    catchers: tuple[Catcher, ...]


@dataclass(frozen=True, slots=True)
class Map(StateBase):
    """A Map state (inline, or distributed over items taken from the input)."""

    processor: Graph
    distributed: bool
    items_path: Path | None
    items_expr: JsonataExpr | None
    item_selector: Evaluator | None
    item_selector_expr: JsonataExpr | None
    max_concurrency: int
    max_concurrency_path: Path | None
    max_concurrency_expr: JsonataExpr | None
    tolerated_count: int | None
    tolerated_count_path: Path | None
    tolerated_count_expr: JsonataExpr | None
    tolerated_percentage: float | None
    tolerated_percentage_path: Path | None
    tolerated_percentage_expr: JsonataExpr | None
    batch_max_items: int | None
    batch_max_bytes: int | None
    batch_input: Evaluator | None
    label: str | None
    result_selector: Evaluator | None
    result_path: ReferencePath | None
    retriers: tuple[Retrier, ...]
    catchers: tuple[Catcher, ...]


State = Pass | Task | Choice | Wait | Succeed | Fail | Parallel | Map


@dataclass(frozen=True, slots=True)
class Graph:
    """A set of states with a start: the machine itself, a Parallel branch or a Map processor."""

    states: tuple[State, ...]
    start: int
    index_of: Mapping[str, int] = field(default_factory=dict)
    #: True when every state is Pass, Choice, Succeed or Fail: the graph never suspends.
    sync: bool = False
    #: True when a state can be reached again from itself (a loop): the graph may run for any length of time.
    loops: bool = False


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A compiled state machine."""

    graph: Graph
    definition: Json
    timeout_seconds: float | None
    jsonata: bool
    #: Every Task resource used anywhere in the machine.
    resources: tuple[Resource, ...]
    #: Variable names referenced per state (for DescribeStateMachine's ``variableReferences``).
    variable_references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Number of Parallel/Map states (used to estimate billed memory).
    fanout_states: int = 0
