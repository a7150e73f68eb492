"""Execution log events compared with AWS's recordings (LocalStack's AWS-validated snapshots).

Each test names the recording it follows. Events are taken as the log sink receives them (CloudWatch format).
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from express_engine import Engine
from express_engine.jsonutil import dumps
from express_engine.logs import format_batch

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states), **top}


def invoke(fn: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": fn, "Payload.$": "$"}, **fields}


def boom(event: Any, ctx: Any) -> Any:
    raise ValueError("kaboom")


async def slow(event: Any, ctx: Any) -> Any:
    await anyio.sleep(5)


async def fail_soon(event: Any, ctx: Any) -> Any:
    await anyio.sleep(0.05)
    raise ValueError("later")


class Logged:
    """Runs definitions on an engine whose log handler keeps the formatted messages of the last execution."""

    def __init__(self, time_scale: float = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.engine = Engine(log_handler=self._keep, time_scale=time_scale)
        self.engine.register_handler("boom", boom)
        self.engine.register_handler("slow", slow)
        self.engine.register_handler("fail_soon", fail_soon)
        self.engine.register_handler("ok", lambda event, ctx: {"ok": True})
        self._n = 0

    async def _keep(self, batch: Any) -> None:
        self.events = [orjson.loads(m) for m in format_batch(batch)]

    async def __call__(self, definition: dict[str, Any], input: Any = None, level: str = "ALL",
                       include: bool = True) -> dict[str, Any]:
        self._n += 1
        self.events = []
        record = self.engine.create_state_machine(
            f"m{self._n}", definition, logging_configuration={"level": level, "includeExecutionData": include})
        return await self.engine.start_sync_execution(record, dumps({} if input is None else input))

    def chain(self) -> list[tuple[int, str, int]]:
        """``(id, type, previous_event_id)`` of every event, ids as integers."""
        return [(int(e["id"]), e["type"], int(e["previous_event_id"])) for e in self.events]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]


@pytest.fixture
def logged() -> Logged:
    return Logged()


# -- Task failure details ----------------------------------------------------------------------------

async def test_task_timed_out_has_no_cause(logged):
    # test_timeouts.snapshot.json, test_fixed_timeout_service_lambda: taskTimedOutEventDetails is
    # {error: States.Timeout, resource, resourceType}; ExecutionFailed {error: States.Timeout}.
    res = await logged(machine(("T", invoke("slow", TimeoutSeconds=1, End=True))))
    assert res["status"] == "FAILED"
    [timed_out] = logged.of_type("TaskTimedOut")
    assert timed_out["details"] == {"resourceType": "lambda", "resource": "invoke", "error": "States.Timeout"}
    assert logged.events[-1]["details"] == {"error": "States.Timeout"}


async def test_lambda_function_timed_out_has_no_cause(logged):
    # test_timeouts.snapshot.json, test_fixed_timeout_lambda: lambdaFunctionTimedOutEventDetails {error}.
    res = await logged(machine(("T", {"Type": "Task", "Resource": FN + "slow", "TimeoutSeconds": 1, "End": True})))
    assert res["status"] == "FAILED"
    [timed_out] = logged.of_type("LambdaFunctionTimedOut")
    assert timed_out["details"] == {"error": "States.Timeout"}


# -- Map ----------------------------------------------------------------------------------------------

PASS_ITEM = machine(("I", {"Type": "Pass", "End": True}))


async def test_map_iterations_chain_like_aws(logged):
    # test_base_scenarios.snapshot.json, test_map_state: iteration k+1's MapIterationStarted points at the last
    # event inside iteration k (not at its MapIterationSucceeded); MapStateSucceeded points at the last
    # MapIterationSucceeded, and so does MapStateExited (both 37 there).
    d = machine(("Map", {"Type": "Map", "ItemsPath": "$.items", "Iterator": PASS_ITEM, "End": True}))
    res = await logged(d, {"items": [1, 2, 3]})
    assert res["status"] == "SUCCEEDED"
    assert logged.chain() == [
        (1, "ExecutionStarted", 0), (2, "MapStateEntered", 0), (3, "MapStateStarted", 2),
        (4, "MapIterationStarted", 3), (5, "PassStateEntered", 4), (6, "PassStateExited", 5),
        (7, "MapIterationSucceeded", 6),
        (8, "MapIterationStarted", 6), (9, "PassStateEntered", 8), (10, "PassStateExited", 9),
        (11, "MapIterationSucceeded", 10),
        (12, "MapIterationStarted", 10), (13, "PassStateEntered", 12), (14, "PassStateExited", 13),
        (15, "MapIterationSucceeded", 14),
        (16, "MapStateSucceeded", 15), (17, "MapStateExited", 15), (18, "ExecutionSucceeded", 17),
    ]
    assert [e["details"] for e in logged.of_type("MapIterationStarted")] == [
        {"index": i, "name": "Map"} for i in range(3)]


BREAK_AT_2 = machine(
    ("C", {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Break"}], "Default": "P"}),
    ("P", {"Type": "Pass", "End": True}),
    ("Break", {"Type": "Fail", "Error": "SomeFailure", "Cause": "c"}))


async def test_map_failure_chains_like_aws(logged):
    # test_base_scenarios.snapshot.json, test_map_state_break_condition: MapIterationFailed and MapStateFailed
    # both point at the failing iteration's last event (34 -> 33, 35 -> 33); ExecutionFailed at MapStateFailed.
    d = machine(("Map", {"Type": "Map", "ItemsPath": "$.items", "Iterator": BREAK_AT_2, "End": True}))
    res = await logged(d, {"items": [1, 2, 3]})
    assert res["status"] == "FAILED"
    chain = logged.chain()
    assert chain[8:] == [
        (9, "MapIterationSucceeded", 8),
        (10, "MapIterationStarted", 8), (11, "ChoiceStateEntered", 10), (12, "ChoiceStateExited", 11),
        (13, "FailStateEntered", 12), (14, "MapIterationFailed", 13), (15, "MapStateFailed", 13),
        (16, "ExecutionFailed", 15),
    ]  # (item 3 never starts: iterations that cannot suspend run one after another)


async def test_map_retry_emits_map_state_failed_once(logged):
    # test_base_scenarios.snapshot.json, test_map_state_retry: a retried attempt has no MapStateFailed; the next
    # MapStateStarted points at the failed iteration's last event (9 -> 7); MapStateFailed comes once, at the end.
    d = machine(("Map", {"Type": "Map", "ItemsPath": "$.items",
                         "Iterator": machine(("F", {"Type": "Fail", "Error": "E", "Cause": "c"})),
                         "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}], "End": True}))
    res = await logged(d, {"items": [1]})
    assert res["status"] == "FAILED"
    assert logged.chain() == [
        (1, "ExecutionStarted", 0), (2, "MapStateEntered", 0),
        (3, "MapStateStarted", 2), (4, "MapIterationStarted", 3), (5, "FailStateEntered", 4),
        (6, "MapIterationFailed", 5),
        (7, "MapStateStarted", 5), (8, "MapIterationStarted", 7), (9, "FailStateEntered", 8),
        (10, "MapIterationFailed", 9),
        (11, "MapStateStarted", 9), (12, "MapIterationStarted", 11), (13, "FailStateEntered", 12),
        (14, "MapIterationFailed", 13), (15, "MapStateFailed", 13), (16, "ExecutionFailed", 15),
    ]


async def test_caught_map_failure_exits_after_map_state_failed(logged):
    # test_base_scenarios.snapshot.json, test_map_state_catch: 8 MapIterationFailed p7, 9 MapStateFailed p7,
    # 10 MapStateExited p9, 11 PassStateEntered p10.
    d = machine(("Map", {"Type": "Map", "ItemsPath": "$.items",
                         "Iterator": machine(("F", {"Type": "Fail", "Error": "E", "Cause": "c"})),
                         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True}),
                ("Caught", {"Type": "Pass", "End": True}))
    res = await logged(d, {"items": [1]})
    assert res["status"] == "SUCCEEDED"
    assert logged.chain()[4:] == [
        (5, "FailStateEntered", 4), (6, "MapIterationFailed", 5), (7, "MapStateFailed", 5),
        (8, "MapStateExited", 7), (9, "PassStateEntered", 8), (10, "PassStateExited", 9),
        (11, "ExecutionSucceeded", 10),
    ]


async def test_map_failure_aborts_running_iterations(logged):
    # test_timeouts.snapshot.json, test_service_lambda_map_timeout: concurrent iterations all start from
    # MapStateStarted; when iteration 0 fails, MapIterationFailed(0) and the failed iteration's TaskStateAborted,
    # then MapIterationAborted(i) + TaskStateAborted for each running iteration, and MapStateFailed, all point at
    # the failing event (20 there).
    iterator = machine(
        ("C", {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Fails"}],
               "Default": "Slow"}),
        ("Fails", invoke("fail_soon", End=True)),
        ("Slow", invoke("slow", End=True)))
    d = machine(("Map", {"Type": "Map", "ItemsPath": "$.items", "Iterator": iterator, "End": True}))
    res = await logged(d, {"items": [0, 1, 2, 3]})
    assert res["status"] == "FAILED" and res["error"] == "ValueError"
    chain = logged.chain()
    starts = [(i, p) for i, t, p in chain if t == "MapIterationStarted"]
    assert [p for _, p in starts] == [3, 3, 3, 3]
    failing = next(i for i, t, _ in chain if t == "TaskFailed")
    tail = [(t, p) for i, t, p in chain if i > failing]
    assert tail == [
        ("MapIterationFailed", failing), ("TaskStateAborted", failing),
        ("MapIterationAborted", failing), ("TaskStateAborted", failing),
        ("MapIterationAborted", failing), ("TaskStateAborted", failing),
        ("MapIterationAborted", failing), ("TaskStateAborted", failing),
        ("MapStateFailed", failing), ("ExecutionFailed", chain[-2][0]),
    ]
    assert [e["details"] for e in logged.of_type("MapIterationAborted")] == [
        {"index": i, "name": "Map"} for i in (1, 2, 3)]
    assert all(e["details"] == {} for e in logged.of_type("TaskStateAborted"))


# -- Parallel -----------------------------------------------------------------------------------------

def branch(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return machine((name, state))


async def test_parallel_exits_from_the_last_branch_event(logged):
    # test_base_scenarios.snapshot.json, test_parallel_state: ParallelStateExited (19) points at the last branch
    # event (17), not at ParallelStateSucceeded (18). ParallelStateSucceeded points there too (as MapStateSucceeded
    # and MapStateExited share their previous event in test_map_state).
    d = machine(("Par", {"Type": "Parallel", "End": True, "Branches": [
        branch("A", {"Type": "Pass", "End": True}), branch("B", {"Type": "Pass", "End": True})]}))
    res = await logged(d)
    assert res["status"] == "SUCCEEDED"
    assert logged.chain() == [
        (1, "ExecutionStarted", 0), (2, "ParallelStateEntered", 0), (3, "ParallelStateStarted", 2),
        (4, "PassStateEntered", 3), (5, "PassStateExited", 4), (6, "PassStateEntered", 3),
        (7, "PassStateExited", 6), (8, "ParallelStateSucceeded", 7), (9, "ParallelStateExited", 7),
        (10, "ExecutionSucceeded", 9),
    ]


async def test_caught_parallel_failure_aborts_the_failed_task(logged):
    # test_error_output.snapshot.json, test_parallel_catch_error: the branch logs TaskStateEntered, TaskScheduled,
    # TaskStarted, TaskFailed and TaskStateAborted (ids 4-8), then ParallelStateFailed (9) and
    # ParallelStateExited (10, previous 9).
    d = machine(("Par", {"Type": "Parallel", "Next": "Fallback", "Branches": [branch("T", invoke("boom", End=True))],
                         "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fallback"}]}),
                ("Fallback", {"Type": "Pass", "End": True}))
    res = await logged(d)
    assert res["status"] == "SUCCEEDED"
    assert logged.chain() == [
        (1, "ExecutionStarted", 0), (2, "ParallelStateEntered", 0), (3, "ParallelStateStarted", 2),
        (4, "TaskStateEntered", 3), (5, "TaskScheduled", 4), (6, "TaskStarted", 5), (7, "TaskFailed", 6),
        (8, "TaskStateAborted", 7), (9, "ParallelStateFailed", 7), (10, "ParallelStateExited", 9),
        (11, "PassStateEntered", 10), (12, "PassStateExited", 11), (13, "ExecutionSucceeded", 12),
    ]


async def test_parallel_failure_aborts_running_branches():
    # As for Map iterations (test_service_lambda_map_timeout): every state still running in another branch logs
    # its aborted event, pointing at the failing event; ParallelStateFailed points there as well.
    logged = Logged(time_scale=1)
    d = machine(("Par", {"Type": "Parallel", "End": True, "Branches": [
        branch("A", invoke("fail_soon", End=True)), branch("B", invoke("slow", End=True)),
        branch("W", {"Type": "Wait", "Seconds": 5, "End": True})]}))
    res = await logged(d)
    assert res["status"] == "FAILED" and res["error"] == "ValueError"
    chain = logged.chain()
    failing = next(i for i, t, _ in chain if t == "TaskFailed")
    assert [(t, p) for i, t, p in chain if i > failing] == [
        ("TaskStateAborted", failing), ("TaskStateAborted", failing), ("WaitStateAborted", failing),
        ("ParallelStateFailed", failing), ("ExecutionFailed", chain[-2][0]),
    ]


async def test_aborted_events_are_logged_at_error_level():
    logged = Logged(time_scale=1)
    d = machine(("Par", {"Type": "Parallel", "End": True, "Branches": [
        branch("A", invoke("fail_soon", End=True)), branch("W", {"Type": "Wait", "Seconds": 5, "End": True})]}))
    await logged(d, level="ERROR")
    assert [e["type"] for e in logged.events] == [
        "TaskFailed", "TaskStateAborted", "WaitStateAborted", "ParallelStateFailed", "ExecutionFailed"]


async def test_event_ids_do_not_depend_on_the_log_level():
    # Aborted events take ids whether or not they are logged: causes name event ids ("entered at the event id #N").
    d = machine(("Par", {"Type": "Parallel", "Next": "Bad", "Branches": [
        branch("A", invoke("fail_soon", End=True)), branch("B", invoke("slow", End=True))],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Bad"}]}),
        ("Bad", {"Type": "Wait", "SecondsPath": "$.nope", "End": True}))
    causes = []
    for level in ("OFF", "ALL"):
        logged = Logged(time_scale=1)
        res = await logged(d, level=level)
        causes.append(res["cause"])
    assert causes[0] == causes[1]
    entered = next(e for e in logged.events if e["type"] == "WaitStateEntered")
    assert f"(entered at the event id #{entered['id']})" in causes[0]


async def test_a_nested_fan_out_in_a_cancelled_branch_is_aborted():
    # (Not recorded by AWS: the nested Parallel's running states, then the nested Parallel itself.)
    logged = Logged(time_scale=1)
    inner = {"Type": "Parallel", "End": True, "Branches": [branch("S", invoke("slow", End=True))]}
    d = machine(("Par", {"Type": "Parallel", "End": True, "Branches": [
        branch("A", invoke("fail_soon", End=True)), branch("Inner", inner)]}))
    await logged(d)
    chain = logged.chain()
    failing = next(i for i, t, _ in chain if t == "TaskFailed")
    assert [(t, p) for i, t, p in chain if i > failing][:4] == [
        ("TaskStateAborted", failing), ("TaskStateAborted", failing), ("ParallelStateAborted", failing),
        ("ParallelStateFailed", failing)]


# -- JSONata evaluation failures ----------------------------------------------------------------------

async def test_jsonata_failure_logs_evaluation_failed(logged):
    # test_base_scenarios.snapshot.json, test_map_state_items_input_types[number]: 4 MapStateEntered p3,
    # 5 EvaluationFailed p3 {cause, error, state} (previous: that of the state's Entered event), 6 MapStateFailed
    # p5, 7 ExecutionFailed p6 with the same error and cause.
    d = machine(("Start", {"Type": "Pass", "Next": "MapIterateState", "Output": "{% $states.input.items %}"}),
                ("MapIterateState", {"Type": "Map", "End": True,
                                     "ItemProcessor": machine(("P", {"Type": "Pass", "End": True}))}),
                QueryLanguage="JSONata")
    res = await logged(d, {"items": 1})
    cause = ("An error occurred while executing the state 'MapIterateState' (entered at the event id #4). "
             "Map state input must be an array but was: 1")
    assert (res["status"], res["error"], res["cause"]) == ("FAILED", "States.QueryEvaluationError", cause)
    assert logged.chain() == [
        (1, "ExecutionStarted", 0), (2, "PassStateEntered", 0), (3, "PassStateExited", 2),
        (4, "MapStateEntered", 3), (5, "EvaluationFailed", 3), (6, "MapStateFailed", 5),
        (7, "ExecutionFailed", 6),
    ]
    assert logged.events[4]["details"] == {"error": "States.QueryEvaluationError", "cause": cause,
                                           "state": "MapIterateState"}
    assert logged.events[6]["details"] == {"error": "States.QueryEvaluationError", "cause": cause}


async def test_evaluation_failed_in_the_first_state_points_at_event_zero(logged):
    # test_map_state_items_eval_jsonata_fail[null] (events[2].previousEventId, AWS: 0) and AWS's
    # "StateEntered · EvaluationFailed · ExecutionFailed" sequence.
    d = machine(("P", {"Type": "Pass", "Output": "{% $x.y() %}", "End": True}), QueryLanguage="JSONata")
    res = await logged(d)
    assert res["error"] == "States.QueryEvaluationError"
    assert [(t, p) for _, t, p in logged.chain()] == [
        ("ExecutionStarted", 0), ("PassStateEntered", 0), ("EvaluationFailed", 0), ("ExecutionFailed", 3)]


async def test_jsonpath_runtime_errors_log_no_evaluation_failed(logged):
    # test_logs.snapshot.json, wait_seconds_path: WaitStateEntered then ExecutionFailed (States.Runtime).
    res = await logged(machine(("W", {"Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": True})))
    assert res["error"] == "States.Runtime"
    assert [t for _, t, _ in logged.chain()] == ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]


async def test_express_retry_then_catch_ends_at_event_18(logged):
    # test_express_async.snapshot.json, test_retry (EXPRESS, lambda_invoke_with_retry_extended_input with a
    # function ARN that raises): the last log event is ExecutionSucceeded id 18, previous 17.
    d = machine(("InvokeLambdaWithRetry", {
        "Type": "Task", "Resource": FN + "boom", "Parameters": {"ThisContextObject.$": "$$", "ThisState.$": "$"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "HandleError"}],
        "ResultPath": "$.state_output", "ResultSelector": {"FinalRetryCount.$": "$$.State.RetryCount"},
        "End": True}), ("HandleError", {"Type": "Pass", "End": True}))
    res = await logged(d)
    assert res["status"] == "SUCCEEDED"
    last = logged.events[-1]
    assert (last["id"], last["type"], last["previous_event_id"]) == ("18", "ExecutionSucceeded", "17")
    assert [t for _, t, _ in logged.chain()].count("LambdaFunctionFailed") == 4
