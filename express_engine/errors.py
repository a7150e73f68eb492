"""ASL runtime errors (one class per predefined ``States.*`` name) and definition errors.

Every error an execution can fail with is a :class:`StatesError`; its ``name`` is exactly the string
that ``ErrorEquals`` in a Retry/Catch matches and that a failed execution reports as ``error``.
Problems found in a definition before anything runs are :class:`DefinitionError`, a separate branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class StatesError(Exception):
    """An error raised while running a state; ``name`` is the ASL error name."""

    name: ClassVar[str] = "States.TaskFailed"
    #: ``States.ALL`` / ``States.TaskFailed`` wildcards match this error.
    caught_by_all: ClassVar[bool] = True
    #: Set once the interpreter prefixed ``cause`` with the state it occurred in.
    located: bool = False

    def __init__(self, cause: str | None = None) -> None:
        super().__init__(cause or "")
        self.cause: str | None = cause

    @property
    def error(self) -> str:
        """The ASL error name of this instance (custom errors override it per instance)."""
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, cause={self.cause!r})"


class TaskFailed(StatesError):
    """Generic task failure."""

    name = "States.TaskFailed"


class Timeout(StatesError):
    """A Task ran longer than its TimeoutSeconds, or the execution hit its time limit."""

    name = "States.Timeout"


class HeartbeatTimeout(StatesError):
    """A Task missed its heartbeat (callbacks only; never raised for Express tasks)."""

    name = "States.HeartbeatTimeout"


class Runtime(StatesError):
    """Path, type and similar failures; AWS never retries or catches these."""

    name = "States.Runtime"
    caught_by_all = False


class DataLimitExceeded(StatesError):
    """A payload exceeded 256 KiB."""

    name = "States.DataLimitExceeded"


class ResultPathMatchFailure(StatesError):
    """ResultPath cannot be applied to the state's input."""

    name = "States.ResultPathMatchFailure"


class ParameterPathFailure(StatesError):
    """A path inside a payload template failed."""

    name = "States.ParameterPathFailure"


class IntrinsicFailure(StatesError):
    """An intrinsic function failed at run time."""

    name = "States.IntrinsicFailure"


class BranchFailed(StatesError):
    """A Parallel branch failed (AWS propagates the branch's own error instead)."""

    name = "States.BranchFailed"


class NoChoiceMatched(StatesError):
    """No Choice rule matched and the Choice state has no Default."""

    name = "States.NoChoiceMatched"


class ExceedToleratedFailureThreshold(StatesError):
    """More Map iterations failed than ToleratedFailureCount/Percentage allow."""

    name = "States.ExceedToleratedFailureThreshold"


class ItemReaderFailed(StatesError):
    """A Distributed Map could not read its items."""

    name = "States.ItemReaderFailed"


class ResultWriterFailed(StatesError):
    """A Distributed Map could not write its results."""

    name = "States.ResultWriterFailed"


class Permissions(StatesError):
    """The task lacked privileges."""

    name = "States.Permissions"


class QueryEvaluationError(StatesError):
    """A JSONata expression failed, returned undefined or returned the wrong type."""

    name = "States.QueryEvaluationError"


class HttpSocket(StatesError):
    """An ``http:invoke`` task could not reach its endpoint."""

    name = "States.Http.Socket"


class CustomError(StatesError):
    """An error whose name is chosen at run time: a Fail state's Error, a handler's exception name."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(cause)
        self._error = error

    @property
    def error(self) -> str:
        return self._error


PREDEFINED: dict[str, type[StatesError]] = {
    cls.name: cls
    for cls in (
        TaskFailed, Timeout, HeartbeatTimeout, Runtime, DataLimitExceeded, ResultPathMatchFailure,
        ParameterPathFailure, IntrinsicFailure, BranchFailed, NoChoiceMatched,
        ExceedToleratedFailureThreshold, ItemReaderFailed, ResultWriterFailed, Permissions,
        QueryEvaluationError, HttpSocket,
    )
}


def make_error(error: str, cause: str | None = None) -> StatesError:
    """Build the error instance for an error name (a predefined class when one exists)."""
    cls = PREDEFINED.get(error)
    if cls is not None:
        return cls(cause)
    return CustomError(error, cause)


def error_matches(error_equals: tuple[str, ...], err: StatesError) -> bool:
    """Whether a Retrier/Catcher ``ErrorEquals`` list matches ``err``.

    ``States.Runtime`` matches nothing at all: AWS neither retries nor catches it, even when it is named.
    ``States.ALL`` matches every other error; ``States.TaskFailed`` matches everything but
    ``States.Timeout`` (AWS docs).
    """
    if isinstance(err, Runtime):
        return False
    name = err.error
    for candidate in error_equals:
        if candidate == name:
            return True
        if candidate == "States.ALL" and err.caught_by_all:
            return True
        if candidate == "States.TaskFailed" and name != "States.Timeout" and err.caught_by_all:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a definition, in ValidateStateMachineDefinition's shape."""

    code: str
    message: str
    location: str = ""
    severity: str = "ERROR"

    def to_dict(self) -> dict[str, str]:
        """The AWS API shape ``{severity, code, message, location}`` (location omitted when empty)."""
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location:
            out["location"] = self.location
        return out

    def render(self) -> str:
        """``CODE: message at /location``, as AWS writes it inside InvalidDefinition messages.

        A JSON parser message already ends with its location (``\n at [Source: ...]``): it is not repeated.
        """
        shown = self.location and not self.message.endswith(self.location)
        return f"{self.code}: {self.message}" + (f" at {self.location}" if shown else "")


class DefinitionError(Exception):
    """A definition was rejected; ``diagnostics`` lists every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """AWS's InvalidDefinition message: every problem, joined with ", " as CreateStateMachine does."""
        rendered = ", ".join(d.render() for d in self.diagnostics) or "Unknown problem"
        return f"Invalid State Machine Definition: '{rendered}'"
