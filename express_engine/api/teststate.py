"""The TestState operation: run one state on a given input, optionally with a mocked task result.

The state is compiled into a one-state machine whose transitions lead to placeholder Succeed states,
run once on an in-process engine with full event recording, and the events tell the outcome:

* ``SUCCEEDED`` with ``output`` and ``nextState`` (the transition taken);
* ``FAILED`` with ``error`` / ``cause`` (a Fail state, or an error no Retry/Catch handles);
* ``RETRIABLE`` when a Retrier matches the error and has attempts left (TestState never retries:
  ``stateConfiguration.retrierRetryCount`` says how many retries already happened);
* ``CAUGHT_ERROR`` when a Catcher handles it (``output`` is the Catcher's output, ``nextState`` its target).

Map and Parallel states need a ``mock`` (their result is the mocked value), and so do Tasks using what only
STANDARD workflows have (activities, ``.sync`` and ``.waitForTaskToken`` integrations: the mock is what the
job or the callback answered). Wait states do not wait. With a mock, a ``context`` is the test's whole
context object (``$$``, ``$states.context``, e.g. a ``Task.Token`` to read), as given.
``inspectionData`` (DEBUG and TRACE levels) carries ``input`` and the data-flow steps the state went
through, as AWS reports them: JSONPath states ``afterInputPath``, ``afterParameters``, ``result``,
``afterResultSelector``, ``afterResultPath`` (a Pass with ``Result`` reports no input steps; Choice,
Succeed and Fail only ``afterInputPath``); JSONata Tasks ``afterArguments`` and ``result``; Map states
``afterItemsPath``, ``maxConcurrency`` and their tolerated failures (a mocked JSONPath Map first selects its
items: an ItemsPath that selects no array fails the test with ``States.Runtime``, as AWS does); ``variables``
when the request passed variables or the state assigned some; ``errorDetails`` for caught and retriable
errors. At TRACE, an ``http:invoke`` Task that really ran also reports its HTTP ``request`` and ``response``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import errors
from .. import service_errors as api
from ..asl.compiler import compile_definition
from ..asl.definition_json import parse_definition
from ..asl.model import Map, Retrier, StateMachine
from ..asl.validate import express_refusal, integration_pattern
from ..errors import DefinitionError
from ..eventloop import offload
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, JsonError, depth_message, dumps, loads, too_deep
from ..runtime.configuration import LoggingConfiguration
from ..runtime.engine import Engine
from ..runtime.execution import Inspection, StateEnv
from ..runtime.executor import LogBatch
from ..runtime.fanout import items_at
from ..runtime.ids import new_uuid
from ..runtime.records import StateMachineRecord
from ..runtime.tasks import HandlerRegistry
from .operations import MAX_DEFINITION_CHARS, Checker, check_role_arn

_MOCK_RESOURCE = "arn:aws:states:::express-engine:testState"
_PLACEHOLDER = "__ee_next_{}"
_VARIABLES_STATE = "__ee_variables"
_TASK_FIELDS = ("Comment", "QueryLanguage", "InputPath", "OutputPath", "ResultPath", "ResultSelector", "Catch",
                "Assign", "Output", "Next", "End")
_FAILURE_EVENTS = frozenset({"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"})
#: the order of the InspectionData members in AWS's API model
_INSPECTION_ORDER = ("input", "afterArguments", "afterInputPath", "afterParameters", "result", "afterResultSelector",
                     "afterResultPath", "request", "response", "variables", "errorDetails", "afterItemsPath",
                     "toleratedFailureCount", "toleratedFailurePercentage", "maxConcurrency")
_UNSUPPORTED = ("TestState API does not support Map or Parallel states. Supported state types include: "
                "[Task, Wait, Pass, Succeed, Fail, Choice]")
#: Not recorded against AWS: the sentence of AWS's API reference that says so, as InvalidDefinition (as _UNSUPPORTED).
_MOCK_ONLY = ("TestState only supports the following when a mock is specified: Activity tasks, .sync or "
              ".waitForTaskToken service integration patterns, Parallel, or Map states.")
#: The members a given context object may have, with the JSON type each must have (None: any value).
#: AWS refuses any other member (recorded: ``Field 'pokemon' is not allowed``). Not recorded either way, chosen here:
#: RedriveCount/RedriveTime, which real context objects carry, are accepted; null is not a string (nor an integer).
_STRING, _INTEGER = "a string", "an integer"
_CONTEXT_MEMBERS: dict[str, dict[str, str | None]] = {
    "Execution": {"Id": _STRING, "Input": None, "Name": _STRING, "RoleArn": _STRING, "StartTime": _STRING,
                  "RedriveCount": _INTEGER, "RedriveTime": _STRING},
    "State": {"EnteredTime": _STRING, "Name": _STRING, "RetryCount": _INTEGER},
    "StateMachine": {"Id": _STRING, "Name": _STRING},
    "Task": {"Token": _STRING},
}
_CONTEXT_TYPES: dict[str, Callable[[Json], bool]] = {
    _STRING: lambda v: isinstance(v, str),
    _INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
}


async def _no_sleep(seconds: float) -> None:
    return None


#: A mocked state's answer to an attempt, given the attempt's payload and environment.
_Answer = Callable[[Json, StateEnv], Json]


class _StateMock:
    """Answers every attempt of one state with the mocked result or error."""

    __slots__ = ("_answer", "_state")

    def __init__(self, state: str, answer: _Answer) -> None:
        self._state = state
        self._answer = answer

    def response_for(self, state_name: str, payload: Json = None, env: Any = None) -> Callable[[], Json] | None:
        return (lambda: self._answer(payload, env)) if state_name == self._state else None


def _selecting_items(st: Map, answer: _Answer) -> _Answer:
    """A mocked JSONPath Map's ``answer``, once its ItemsPath selected an array in its effective input (recorded
    as ``afterItemsPath``). Otherwise States.Runtime, as AWS answers (recorded: ``Reference path "$" must point
    to array.`` for ItemsPath ``$$``, ``"$.Execution.Input"`` for ``$$.Execution.Input``: a context path is
    shown from the context object's root). A path that selects nothing fails as in a real run (not recorded)."""
    text = st.items_path.text if st.items_path is not None else "$"
    shown = text[1:] if text.startswith("$$") else text

    def answer_with_items(value: Json, env: StateEnv) -> Json:
        items = items_at(st.items_path, value, env) if st.items_path is not None else value
        if not isinstance(items, list):
            raise errors.Runtime(f'Reference path "{shown}" must point to array.')
        if env.ex.inspection is not None:
            env.ex.inspection.record(st.name, afterItemsPath=items)
        return answer(value, env)

    return answer_with_items


def _parse_json_field(value: Any, field: str, *, want_object: bool = False) -> Json:
    if not isinstance(value, str):
        raise api.SerializationException(f"Expected a string for '{field}'")
    try:
        parsed = loads(value)
    except JsonError as exc:
        raise api.ValidationException(f"The field '{field}' is not valid JSON: {exc}") from None
    if too_deep(value.encode("utf-8", "surrogatepass")):
        if field == "input":
            raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{depth_message()}'")
        raise api.ValidationException(f"The field '{field}' is not valid JSON: {depth_message()}")
    if want_object and not isinstance(parsed, dict):
        raise api.ValidationException(f"The field '{field}' must be a JSON object")
    return parsed


def _checked_context(context: Json, state: dict[str, Any], kind: Any, *, mocked: bool) -> dict[str, Json]:
    """The request's ``context``, checked as AWS checks it: only with a mock, only known members, typed.

    The object becomes the whole context object of the test, as it is: AWS merges no defaults in (recorded:
    a given ``{}`` makes ``$$`` ``{}``). Messages are AWS's where recorded (``Execution.Id must be a string``,
    ``Field 'X' is not allowed``, the ``Map`` and ``Task`` ones); the others follow them.
    """
    if not mocked:
        # AWS's API reference: "This field may only be specified if a mock is specified in the same request."
        # The error text is not recorded. Refused rather than ignored (as LocalStack does) or applied: a test
        # passing here and refused by AWS would surprise more.
        raise api.ValidationException("A context may only be specified if a mock is specified in the same request.")

    def invalid(problem: str) -> api.ServiceError:
        return api.ValidationException(f"Invalid Context object provided: {problem}")

    if not isinstance(context, dict):
        raise invalid("Context object must be an object")
    for section, members in context.items():
        if section == "Map":
            raise invalid("'Map' field is not supported when mocking a Context object")
        allowed = _CONTEXT_MEMBERS.get(section)
        if allowed is None:
            raise invalid(f"Field '{section}' is not allowed")
        if not isinstance(members, dict):
            raise invalid(f"{section} must be an object")
        for key, value in members.items():
            if key not in allowed:
                raise invalid(f"Field '{key}' is not allowed")
            expected = allowed[key]
            if expected is not None and not _CONTEXT_TYPES[expected](value):
                raise invalid(f"{section}.{key} must be {expected}")
    if "Task" in context and not (kind == "Task" and integration_pattern(state.get("Resource"))):
        raise invalid("Context object contains 'Task' when state is not a Task state with a '.sync' or "
                      "'.waitForTaskToken' service integration pattern")
    return context


def _invalid_definition(exc: DefinitionError) -> api.InvalidDefinition:
    return api.InvalidDefinition(exc.message, exc.diagnostics)


def _check_definition(definition: dict[str, Any]) -> StateMachine:
    """``definition`` compiled as any workflow (a test has no type), or AWS's InvalidDefinition with every problem
    it has. What only STANDARD workflows allow is checked apart: TestState runs it only on a mock."""
    try:
        return compile_definition(definition, sm_type="STANDARD")
    except DefinitionError as exc:
        raise _invalid_definition(exc) from None


@dataclass(frozen=True, slots=True)
class _Test:
    """A checked TestState request: the machine to run once and what reading its outcome needs."""

    record: StateMachineRecord
    name: str
    state: dict[str, Any]
    kind: Any
    level: str
    input_value: Json
    variables: dict[str, Json] | None
    context: Any
    state_mock: Any
    targets: dict[str, str]
    retriers: tuple[Retrier, ...]
    retry_count: int
    selects_items: bool


class TestStateRunner:
    """Runs TestState requests on a private engine (Task resources resolve through ``handlers``)."""

    __test__ = False  # not a pytest test class

    def __init__(self, handlers: HandlerRegistry | None = None) -> None:
        self._events: dict[str, list[dict[str, Any]]] = {}
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.engine = Engine(handlers=self.handlers, sleep=_no_sleep, log_handler=self._capture)

    async def _capture(self, batch: LogBatch) -> None:
        self._events[batch.execution_arn] = batch.events

    async def run(self, body: dict[str, Any]) -> dict[str, Json]:
        """Serve one TestState request body; returns the TestState response.

        Checking and compiling a large definition takes CPU seconds: it runs in a worker thread then.
        """
        definition = body.get("definition") if isinstance(body, dict) else None
        t = await offload(len(definition) if isinstance(definition, str) else 0, self._prepare, body)
        inspection = Inspection(t.name)
        response = await self.engine.run(t.record, t.input_value, name=new_uuid(), sync=True, mock=t.state_mock,
                                         inspection=inspection, context=t.context)
        events = self._events.pop(response["executionArn"], [])
        out, found = self._answer(t.name, t.state, response, events, t.targets, t.retriers, t.retry_count)
        if t.level != "INFO":
            selected = not t.selects_items or "afterItemsPath" in inspection.data
            out["inspectionData"] = _inspection_data(t.state, t.kind, t.level, t.input_value, t.variables, selected,
                                                     inspection.data, found)
        return out

    def _prepare(self, body: dict[str, Any]) -> _Test:
        """The request checked and its one-state machine compiled (AWS's errors for a bad request)."""
        c = Checker(body)
        definition = c.string("definition", required=True, max_len=MAX_DEFINITION_CHARS)
        role_arn = c.string("roleArn", max_len=256)
        input_text = c.string("input", min_len=0)
        level = c.enum("inspectionLevel", ("INFO", "DEBUG", "TRACE"), "INFO")
        reveal_secrets = c.boolean("revealSecrets")
        state_name = c.string("stateName", max_len=80)
        variables_text = c.string("variables", min_len=0, max_len=MAX_PAYLOAD_BYTES)  # (AWS model: 262144 characters)
        config = c.obj("stateConfiguration") or {}
        mock = c.obj("mock")
        context_text = c.string("context", min_len=0, max_len=MAX_PAYLOAD_BYTES)  # (AWS model: 262144 characters)
        nested = Checker(config, "stateConfiguration.")
        retry_count = nested.integer("retrierRetryCount", lo=0, hi=2**31 - 1) or 0
        c.problems += nested.problems
        if input_text is not None and len(input_text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
            c.fail("input", input_text, f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}")
        if mock is not None:
            m = Checker(mock, "mock.")
            m.enum("fieldValidationMode", ("STRICT", "PRESENT", "NONE"))
            error_output = m.obj("errorOutput")
            if error_output is not None:
                e = Checker(error_output, "mock.errorOutput.")
                e.string("error", min_len=0, max_len=256)
                e.string("cause", min_len=0, max_len=32768)
            c.problems += m.problems
        c.done()
        assert definition is not None and level is not None
        check_role_arn(role_arn)
        context_value = _parse_json_field(context_text, "context") if context_text is not None else None
        parsed, problems = parse_definition(definition)
        if problems or parsed is None:
            raise _invalid_definition(DefinitionError(problems))
        query_language = None
        if "States" in parsed:
            states = parsed.get("States")
            name = state_name if state_name is not None else parsed.get("StartAt")
            if not isinstance(states, dict) or not isinstance(name, str) or not isinstance(states.get(name), dict):
                raise api.ValidationException(f"State '{name}' was not found in the state machine definition")
            _check_definition(parsed)
            state = states[name]
            query_language = parsed.get("QueryLanguage")
        else:
            name, state = (state_name or "TestState"), parsed
        kind = state.get("Type")
        if mock is not None:
            if "result" in mock and "errorOutput" in mock:
                raise api.ValidationException(
                    "A test mock should have only one of the following fields: [result, errorOutput].")
            if "result" not in mock and "errorOutput" not in mock:
                raise api.ValidationException("A test mock must have one of the following fields: [result, "
                                              "errorOutput].")
            if kind not in ("Task", "Map", "Parallel"):
                raise api.ValidationException(f"State type '{kind}' is not supported when a mock is specified")
            if reveal_secrets:
                raise api.ValidationException("TestState does not support RevealSecrets when a mock is specified.")
        elif kind in ("Map", "Parallel"):
            raise api.InvalidDefinition(_UNSUPPORTED)
        elif kind == "Task" and express_refusal(state.get("Resource")):
            raise api.InvalidDefinition(_MOCK_ONLY)
        elif kind == "Task" and not role_arn:
            raise api.ValidationException("RoleArn must be specified when testing a Task state")
        context = (_checked_context(context_value, state, kind, mocked=mock is not None)
                   if context_text is not None else None)
        input_value = _parse_json_field(input_text, "input") if input_text is not None else {}
        variables = (_parse_json_field(variables_text, "variables", want_object=True)
                     if variables_text is not None else None)

        machine, targets = self._machine(name, state, query_language, variables)
        # Checked with its Retry (a test never retries: the run leaves it out, the answer reads it).
        compiled = _check_definition(machine).graph
        tested = compiled.states[compiled.index_of[name]]
        retriers = getattr(tested, "retriers", ())
        # (a distributed Map reading an ItemReader, or a JSONata one, has no ItemsPath to select its items)
        selects_items = isinstance(tested, Map) and not tested.jsonata and "ItemReader" not in state
        machine["States"][name].pop("Retry", None)
        state_mock: Any = None
        if mock is not None:
            machine["States"][name] = self._mockable(machine["States"][name], kind)
            answer = self._mock_response(state, kind, mock)
            # (a mocked resource needs no handler: Engine.run checks handlers only for unmocked executions)
            if selects_items and isinstance(tested, Map):
                answer = _selecting_items(tested, answer)
            state_mock = _StateMock(name, answer)
        record = self.engine.build_record("TestState", _check_definition(machine), role_arn=role_arn or "",
                                          logging_configuration=LoggingConfiguration("ALL", True))
        return _Test(record, name, state, kind, level, input_value, variables, context, state_mock, targets,
                     retriers, retry_count, selects_items)

    @staticmethod
    def _machine(name: str, state: dict[str, Any], query_language: Any,
                 variables: dict[str, Json] | None) -> tuple[dict[str, Any], dict[str, str]]:
        """A machine running ``state`` once, its transitions rewritten to placeholder Succeed states."""
        counter = itertools.count()
        targets: dict[str, str] = {}  # placeholder -> original target

        def placeholder(target: Any) -> Any:
            if not isinstance(target, str):
                return target
            for key, value in targets.items():
                if value == target:
                    return key
            key = _PLACEHOLDER.format(next(counter))
            targets[key] = target
            return key

        copy = dict(state)
        if "Next" in copy:
            copy["Next"] = placeholder(copy["Next"])
        if "Default" in copy:
            copy["Default"] = placeholder(copy["Default"])
        if isinstance(copy.get("Choices"), list):
            copy["Choices"] = [{**rule, "Next": placeholder(rule.get("Next"))} if isinstance(rule, dict) else rule
                               for rule in copy["Choices"]]
        if isinstance(copy.get("Catch"), list):
            copy["Catch"] = [{**c, "Next": placeholder(c.get("Next"))} if isinstance(c, dict) else c
                             for c in copy["Catch"]]
        states: dict[str, Any] = {name: copy}
        for key in targets:
            states[key] = {"Type": "Succeed"}
        machine: dict[str, Any] = {"StartAt": name, "States": states}
        if query_language is not None:
            machine["QueryLanguage"] = query_language
        if variables:
            states[_VARIABLES_STATE] = {"Type": "Pass", "Assign": variables, "Next": name}
            machine["StartAt"] = _VARIABLES_STATE
        return machine, targets

    @staticmethod
    def _mockable(rewritten: dict[str, Any], kind: str) -> dict[str, Any]:
        """Map/Parallel become a Task on a placeholder resource whose only answer is the mock."""
        if kind == "Task":
            return rewritten
        task = {k: rewritten[k] for k in _TASK_FIELDS if k in rewritten}
        task["Type"] = "Task"
        task["Resource"] = _MOCK_RESOURCE
        return task

    @staticmethod
    def _mock_response(state: dict[str, Any], kind: str, mock: dict[str, Any]) -> _Answer:
        if "errorOutput" in mock:
            error_output = mock["errorOutput"]
            if not isinstance(error_output, dict) or not isinstance(error_output.get("error", ""), str):
                raise api.ValidationException("Mock errorOutput must be an object with string error and cause")
            err = errors.make_error(error_output.get("error", ""), error_output.get("cause"))

            def fail(value: Json, env: StateEnv) -> Json:
                raise err

            return fail
        result = _parse_json_field(mock["result"], "mock.result")
        if kind == "Map":
            if "ResultWriter" in state and not isinstance(result, dict):
                raise api.ValidationException("Mocked result must be a JSON object.")
            if "ResultWriter" not in state and not isinstance(result, list):
                raise api.ValidationException("Mocked result must be an array.")
        elif kind == "Parallel":
            branches = state.get("Branches")
            if not isinstance(result, list) or not isinstance(branches, list) or len(result) != len(branches):
                raise api.ValidationException(
                    "Mocked result must contain the same number of items as number of Parallel branches.")
        return lambda value, env: result

    @staticmethod
    def _answer(name: str, state: dict[str, Any], response: dict[str, Json], events: list[dict[str, Any]],
                targets: dict[str, str], retriers: tuple[Retrier, ...],
                retry_count: int) -> tuple[dict[str, Json], dict[str, Any]]:
        """The response without ``inspectionData``, and what the events told for it (errorDetails, assigned)."""
        exited_output: str | None = None
        next_state: str | None = None
        failure: dict[str, Any] | None = None
        found: dict[str, Any] = {}
        for event in events:
            details = event.get("details") or {}
            etype = event["type"]
            if etype.endswith("StateEntered") and details.get("name") in targets:
                next_state = targets[details["name"]]
                break
            if etype in _FAILURE_EVENTS:
                failure = details
            elif etype.endswith("StateExited") and details.get("name") == name:
                exited_output = details.get("output")
                if details.get("assignedVariables"):
                    found["assigned"] = {k: loads(v) for k, v in details["assignedVariables"].items()}
        out: dict[str, Json] = {}
        status = response["status"]
        error = failure.get("error") if failure else response.get("error")
        cause = failure.get("cause") if failure else response.get("cause")
        if error is not None and (failure is not None or status != "SUCCEEDED"):
            err = errors.make_error(error, cause)
            for index, retrier in enumerate(retriers):
                if errors.error_matches(retrier.error_equals, err):
                    if retry_count < retrier.max_attempts:
                        out.update(error=error, status="RETRIABLE")
                        if cause is not None:
                            out["cause"] = cause
                        found["errorDetails"] = {"retryIndex": index,
                                                 "retryBackoffIntervalSeconds": int(retrier.delay(retry_count + 1))}
                        return out, found
                    found["errorDetails"] = {"retryIndex": index}  # (its retries are spent: the error stands)
                    break
        if status == "SUCCEEDED":
            caught = failure is not None or (next_state is not None and next_state != state.get("Next") and any(
                isinstance(c, dict) and c.get("Next") == next_state for c in state.get("Catch") or ()))
            out["output"] = exited_output if exited_output is not None else response.get("output")
            if next_state is not None:
                out["nextState"] = next_state
            if caught:
                out["status"] = "CAUGHT_ERROR"
                if error is not None:
                    out["error"] = error
                if cause is not None:
                    out["cause"] = cause
                for index, catcher in enumerate(state.get("Catch") or ()):
                    if isinstance(catcher, dict) and catcher.get("Next") == next_state:
                        found["errorDetails"] = {"catchIndex": index}
                        break
            else:
                out["status"] = "SUCCEEDED"
        else:
            out["status"] = "FAILED"
            if error is not None:
                out["error"] = error
            if cause is not None:
                out["cause"] = cause
        return out, found


def _inspection_data(state: dict[str, Any], kind: Any, level: str, input_value: Json,
                     variables: dict[str, Json] | None, selected: bool, steps: dict[str, Any],
                     found: dict[str, Any]) -> dict[str, Json]:
    """The response's ``inspectionData``: the recorded steps completed for the state type, in AWS's order
    (a Map's settings once it ``selected`` its items: recorded, AWS reports none after an ItemsPath failure)."""
    data: dict[str, Any] = {"input": dumps(input_value), **steps}
    if "errorDetails" in found:
        data["errorDetails"] = found["errorDetails"]
    assigned = found.get("assigned")
    if variables or assigned:
        data["variables"] = dumps({**(variables or {}), **(assigned or {})})
    if level != "TRACE":
        data.pop("request", None)
        data.pop("response", None)
    if kind in ("Map", "Parallel"):  # (run as a mocked Task: no payload step, no raw result reported)
        for key in ("afterParameters", "afterArguments", "result"):
            data.pop(key, None)
    if kind == "Map" and selected:
        data.update(_map_settings(state))
    return {key: data[key] for key in _INSPECTION_ORDER if key in data}


def _map_settings(state: dict[str, Any]) -> dict[str, Json]:
    """The run settings TestState reports for a Map state."""
    out: dict[str, Json] = {}
    concurrency = state.get("MaxConcurrency")
    out["maxConcurrency"] = concurrency if isinstance(concurrency, int) and not isinstance(concurrency, bool) else 0
    for field, key in (("ToleratedFailureCount", "toleratedFailureCount"),
                       ("ToleratedFailurePercentage", "toleratedFailurePercentage")):
        value = state.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    return out
