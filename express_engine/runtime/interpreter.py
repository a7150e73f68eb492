"""The run loop over a compiled graph, and one step function per state type.

Pass, Choice, Succeed and Fail never suspend, so a graph made only of them runs in a plain loop
(:func:`run_graph_sync`); Task, Wait, Parallel and Map are coroutines. Every step returns
``(next_index | None, output)``; an error is raised as a :class:`~express_engine.errors.StatesError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio.lowlevel import checkpoint

from .. import errors
from ..asl import model as m
from ..asl.paths import PathNotFound, VariableNotFound
from ..asl.timestamps import parse_timestamp
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, JsonError, dumpb, dumps, loads
from .dataflow import apply_input_path, apply_output_path, apply_result_path, check_size
from .execution import Execution, Frame, StateEnv
from .tasks import LambdaContext, call_handler, function_not_found

Step = tuple[int | None, Json]

#: Sync transitions between deadline checks / event-loop checkpoints.
_CHECK_EVERY = 128


def graph_is_sync(graph: m.Graph) -> bool:
    """Whether every state of ``graph`` runs without suspending (decided at compile time)."""
    return graph.sync


# -- errors ---------------------------------------------------------------------------------------


def locate(err: errors.StatesError, state_name: str, entered_id: int) -> errors.StatesError:
    """Prefix interpreter errors with AWS's "An error occurred while executing the state ..." once."""
    if isinstance(err, (errors.Runtime, errors.QueryEvaluationError)) and not getattr(err, "located", False):
        err.cause = (f"An error occurred while executing the state '{state_name}' "
                     f"(entered at the event id #{entered_id}). {err.cause or ''}")
        err.located = True  # type: ignore[attr-defined]
    return err


def _timed_out(ex: Execution) -> errors.Timeout:
    return errors.Timeout("The execution has exceeded its maximum duration.")


# -- variables and JSONata --------------------------------------------------------------------------


def _states_binding(raw: Json, env: StateEnv, st: Any = None, **extra: Json) -> dict[str, Json]:
    """The ``$states`` object of a JSONata state (context only built when an expression reads it)."""
    binding: dict[str, Json] = {"input": raw}
    if st is None or st.needs_context:
        binding["context"] = env.context
    binding.update(extra)
    return binding


def evaluate_assign(assign: m.Assign, value: Json, env: StateEnv, states: dict[str, Json] | None) -> dict[str, Json]:
    """The ``{name: value}`` an Assign block produces (evaluated against pre-state variables)."""
    if assign.jsonpath is not None:
        out = assign.jsonpath(value, env)
    else:
        assert assign.jsonata is not None
        out = assign.jsonata.evaluate(states or {}, env.variables)
    return out if isinstance(out, dict) else {}


def commit_variables(ex: Execution, frame: Frame, assigned: dict[str, Json]) -> None:
    """Make assigned values visible to the next states of this scope.

    AWS limits each variable and each Assign block to 256 KiB; a Parallel branch or Map iteration
    cannot assign a name that exists in an enclosing scope.
    """
    total = 0
    for name, value in assigned.items():
        size = len(dumpb(value))
        if size > MAX_PAYLOAD_BYTES:
            raise errors.DataLimitExceeded(f"The variable '{name}' exceeds the maximum size of {MAX_PAYLOAD_BYTES} "
                                           "bytes.")
        total += size
    if total > MAX_PAYLOAD_BYTES:
        raise errors.DataLimitExceeded(f"The variables assigned by one state exceed the maximum size of "
                                       f"{MAX_PAYLOAD_BYTES} bytes.")
    outer = frame.outer_names
    if outer is not None:
        for name in assigned:
            if name in outer:
                raise errors.Runtime(f"Cannot assign a value to the variable '{name}': it is defined in an outer "
                                     "scope and is read-only here.")
    frame.variables.update(assigned)


def _exited(ex: Execution, frame: Frame, kind: str, name: str, output: Json,
            assigned: dict[str, Json] | None) -> None:
    details: dict[str, Any] | None = None
    if ex.recording:
        details = {"name": name}
        if ex.include_data:
            details["output"] = dumps(output)
            details["outputDetails"] = {"truncated": False}
        if assigned:
            details["assignedVariables"] = {k: dumps(v) for k, v in assigned.items()}
            details["assignedVariablesDetails"] = {"truncated": False}
    ex.event(frame, f"{kind}StateExited", details)


def _entered(ex: Execution, frame: Frame, kind: str, name: str, raw: Json) -> int:
    details: dict[str, Any] | None = None
    if ex.recording:
        details = {"name": name}
        if ex.include_data:
            details["input"] = dumps(raw)
            details["inputDetails"] = {"truncated": False}
    return ex.event(frame, f"{kind}StateEntered", details)


def _finish(ex: Execution, frame: Frame, st: m.StateBase, kind: str, raw: Json, result: Json,
            out: Json, env: StateEnv, states: dict[str, Json] | None, assign_value: Json,
            assign: m.Assign | None = None, output: m.JsonataExpr | None = None) -> Json:
    """Shared tail of a state: Output/OutputPath, Assign, size check, Exited event."""
    assign = assign if assign is not None else st.assign
    assigned = evaluate_assign(assign, assign_value, env, states) if assign is not None else None
    output = output if output is not None else st.output
    if st.jsonata:
        if output is not None:
            out = output.evaluate(states or {}, env.variables)
    else:
        out = apply_output_path(st.output_path, out, env)
    check_size(out, st.name)
    if assigned:
        commit_variables(ex, frame, assigned)
    _exited(ex, frame, kind, st.name, out, assigned)
    return out


# -- sync states ---------------------------------------------------------------------------------


def step_pass(ex: Execution, st: m.Pass, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Pass", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            states = _states_binding(raw, env, st)
            out = _finish(ex, frame, st, "Pass", raw, raw, raw, env, states, raw)
        else:
            value = apply_input_path(st.input_path, raw, env)
            if st.parameters is not None:
                value = st.parameters(value, env)
            result = st.result if st.has_result else value
            out = apply_result_path(st.result_path, raw, result)
            out = _finish(ex, frame, st, "Pass", raw, result, out, env, None, result)
    except errors.StatesError as err:
        raise locate(err, st.name, entered) from None
    return st.next, out


def step_choice(ex: Execution, st: m.Choice, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Choice", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            states = _states_binding(raw, env, st)
            for rule in st.rules:
                assert rule.condition is not None
                if _condition(rule.condition, states, env, rule.index):
                    out = _finish(ex, frame, st, "Choice", raw, raw, raw, env, states, raw,
                                  rule.assign, rule.output)
                    return rule.next, out
            if st.default is None:
                raise errors.NoChoiceMatched("No Matches!")
            return st.default, _finish(ex, frame, st, "Choice", raw, raw, raw, env, states, raw)
        value = apply_input_path(st.input_path, raw, env)
        for rule in st.rules:
            assert rule.predicate is not None
            if rule.predicate(value, env):
                return rule.next, _finish(ex, frame, st, "Choice", raw, value, value, env, None, value,
                                          rule.assign or st.assign)
        if st.default is None:
            raise errors.NoChoiceMatched("No Matches!")
        return st.default, _finish(ex, frame, st, "Choice", raw, value, value, env, None, value)
    except errors.StatesError as err:
        raise locate(err, st.name, entered) from None


def _condition(cond: m.JsonataExpr, states: dict[str, Json], env: StateEnv, index: int) -> bool:
    from ..asl.jsonata import evaluate_condition

    return evaluate_condition(cond, states, env.variables)


def step_succeed(ex: Execution, st: m.Succeed, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Succeed", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            states = _states_binding(raw, env, st)
            out = _finish(ex, frame, st, "Succeed", raw, raw, raw, env, states, raw)
        else:
            value = apply_input_path(st.input_path, raw, env)
            out = _finish(ex, frame, st, "Succeed", raw, value, value, env, None, value)
    except errors.StatesError as err:
        raise locate(err, st.name, entered) from None
    return None, out


def step_fail(ex: Execution, st: m.Fail, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Fail", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        error, cause = st.error, st.cause
        if st.jsonata:
            states = _states_binding(raw, env, st)
            if st.error_expr is not None:
                error = _string_field(st.error_expr.evaluate(states, env.variables), "Error")
            if st.cause_expr is not None:
                cause = _string_field(st.cause_expr.evaluate(states, env.variables), "Cause")
        else:
            if st.error_path is not None:
                error = _string_field(st.error_path(raw, env), "ErrorPath")
            if st.cause_path is not None:
                cause = _string_field(st.cause_path(raw, env), "CausePath")
    except errors.StatesError as err:
        raise locate(err, st.name, entered) from None
    raise errors.CustomError(error, cause) if error is not None else _FailWithoutName(cause)


class _FailWithoutName(errors.CustomError):
    """A Fail state without Error: the execution fails with no error name."""

    def __init__(self, cause: str | None) -> None:
        super().__init__("", cause)


def _string_field(value: Json, field: str) -> str:
    if isinstance(value, str):
        return value
    return dumps(value)


SYNC_STEPS: dict[type, Callable[[Execution, Any, Json, Frame], Step]] = {
    m.Pass: step_pass,
    m.Choice: step_choice,
    m.Succeed: step_succeed,
    m.Fail: step_fail,
}


def run_graph_sync(ex: Execution, graph: m.Graph, value: Json, frame: Frame) -> Json:
    """Run a graph of never-suspending states to its end."""
    states = graph.states
    idx: int | None = graph.start
    steps = SYNC_STEPS
    count = 0
    while idx is not None:
        st = states[idx]
        idx, value = steps[type(st)](ex, st, value, frame)
        count += 1
        if count % _CHECK_EVERY == 0 and time.monotonic() > ex.deadline:
            raise _timed_out(ex)
    return value


async def run_graph(ex: Execution, graph: m.Graph, value: Json, frame: Frame) -> Json:
    """Run a graph to its end; returns the output of its last state."""
    if graph_is_sync(graph):
        return run_graph_sync(ex, graph, value, frame)
    states = graph.states
    idx: int | None = graph.start
    count = 0
    while idx is not None:
        st = states[idx]
        sync_step = SYNC_STEPS.get(type(st))
        if sync_step is not None:
            idx, value = sync_step(ex, st, value, frame)
            count += 1
            if count % _CHECK_EVERY == 0:
                if time.monotonic() > ex.deadline:
                    raise _timed_out(ex)
                await checkpoint()
        else:
            idx, value = await ASYNC_STEPS[type(st)](ex, st, value, frame)
    return value


# -- Wait ------------------------------------------------------------------------------------------


def _wait_seconds_from_path(st: m.Wait, value: Json, env: StateEnv) -> float:
    path = st.seconds_path
    assert path is not None
    try:
        seconds = path.get(value, env)
    except (PathNotFound, VariableNotFound):
        raise errors.Runtime(f"The SecondsPath parameter does not reference an input value: {path.text}") from None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or (
            isinstance(seconds, float) and not seconds.is_integer()):
        raise errors.Runtime(
            f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {_render(seconds)}")
    if seconds < 0:
        raise errors.Runtime(f"The SecondsPath parameter references a negative value: {path.text} == "
                             f"{_render(seconds)}")
    return float(seconds)


def _render(value: Json) -> str:
    return value if isinstance(value, str) else dumps(value)


def _seconds_until(ts: datetime) -> float:
    return max(0.0, (ts - datetime.now(UTC)).total_seconds())


async def step_wait(ex: Execution, st: m.Wait, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Wait", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        states = _states_binding(raw, env, st) if st.jsonata else None
        value = raw if st.jsonata else apply_input_path(st.input_path, raw, env)
        if st.seconds is not None:
            delay = st.seconds
        elif st.timestamp is not None:
            parsed = parse_timestamp(st.timestamp)
            delay = _seconds_until(parsed) if parsed is not None else 0.0
        elif st.seconds_path is not None:
            delay = _wait_seconds_from_path(st, value, env)
        elif st.timestamp_path is not None:
            path = st.timestamp_path
            try:
                text = path.get(value, env)
            except (PathNotFound, VariableNotFound):
                raise errors.Runtime(
                    f"The TimestampPath parameter does not reference an input value: {path.text}") from None
            parsed = parse_timestamp(text) if isinstance(text, str) else None
            if parsed is None:
                raise errors.Runtime(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                    f"format string: {path.text} == {_render(text)}")
            delay = _seconds_until(parsed)
        elif st.seconds_expr is not None:
            secs = st.seconds_expr.evaluate(states or {}, env.variables)
            if isinstance(secs, bool) or not isinstance(secs, (int, float)) or secs < 0:
                raise errors.QueryEvaluationError(
                    f"The Seconds field must be a non-negative integer, but was: {_render(secs)}")
            delay = float(secs)
        else:
            assert st.timestamp_expr is not None
            text = st.timestamp_expr.evaluate(states or {}, env.variables)
            parsed = parse_timestamp(text) if isinstance(text, str) else None
            if parsed is None:
                raise errors.QueryEvaluationError(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
                    f"string: {_render(text)}")
            delay = _seconds_until(parsed)
        if delay > 0:
            await ex.sleep(delay)
        out = _finish(ex, frame, st, "Wait", raw, value, value, env, states, value)
    except errors.StatesError as err:
        raise locate(err, st.name, entered) from None
    return st.next, out


# -- Retry / Catch ----------------------------------------------------------------------------------


def _retrier_for(retriers: tuple[m.Retrier, ...], err: errors.StatesError) -> int | None:
    for i, r in enumerate(retriers):
        if errors.error_matches(r.error_equals, err):
            return i
    return None


async def _backoff(ex: Execution, retrier: m.Retrier, attempt: int) -> None:
    delay = retrier.delay(attempt)
    if retrier.jitter_full:
        delay = random.uniform(0, delay)
    if delay > 0:
        await ex.sleep(delay)


def _catch(ex: Execution, st: Any, raw: Json, err: errors.StatesError, frame: Frame, env: StateEnv,
           kind: str) -> Step | None:
    """Route ``err`` to the first matching catcher: ``(next, output)``, or None when none matches."""
    for catcher in st.catchers:
        if not errors.error_matches(catcher.error_equals, err):
            continue
        error_output = {"Error": err.error, "Cause": err.cause if err.cause is not None else ""}
        states = None
        if st.jsonata:
            states = _states_binding(raw, env, st, errorOutput=error_output)
            out = catcher.output.evaluate(states, env.variables) if catcher.output is not None else error_output
        else:
            out = apply_result_path(catcher.result_path, raw, error_output)
        assigned = None
        if catcher.assign is not None:
            assigned = evaluate_assign(catcher.assign, error_output, env, states)
        check_size(out, st.name)
        if assigned:
            commit_variables(ex, frame, assigned)
        _exited(ex, frame, kind, st.name, out, assigned)
        return catcher.next, out
    return None


# -- Task -------------------------------------------------------------------------------------------


async def _invoke(ex: Execution, st: m.Task, payload: Json, frame: Frame, timeout: float | None) -> Json:
    """One attempt at the task's resource: events, handler call, timeout."""
    res = st.resource
    legacy = res.kind == "lambda-arn"
    if legacy:
        details = None
        if ex.recording:
            details = {"resource": res.arn, "input": dumps(payload), "inputDetails": {"truncated": False}}
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
        ex.event(frame, "LambdaFunctionScheduled", details)
        ex.event(frame, "LambdaFunctionStarted")
    else:
        details = None
        if ex.recording:
            details = {"resourceType": res.resource_type, "resource": res.resource, "region": res.region,
                       "parameters": dumps(payload)}
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            if st.heartbeat_seconds is not None:
                details["heartbeatInSeconds"] = int(st.heartbeat_seconds)
        ex.event(frame, "TaskScheduled", details)
        ex.event(frame, "TaskStarted",
                 {"resourceType": res.resource_type, "resource": res.resource} if ex.recording else None)
    try:
        if timeout is not None:
            try:
                with anyio.fail_after(timeout):
                    result = await _call_resource(ex, st, payload, timeout)
            except TimeoutError:
                raise errors.Timeout(None) from None
        else:
            result = await _call_resource(ex, st, payload, None)
        # AWS names the resource in this message: the function ARN, or the integration ('lambda', ...).
        check_size(result, res.arn if legacy else res.resource_type)
    except errors.StatesError as err:
        if legacy:
            kind = "LambdaFunctionTimedOut" if isinstance(err, errors.Timeout) else "LambdaFunctionFailed"
            ex.event(frame, kind, {"error": err.error, "cause": err.cause or ""} if ex.recording else None)
        else:
            kind = "TaskTimedOut" if isinstance(err, errors.Timeout) else "TaskFailed"
            ex.event(frame, kind, {"resourceType": res.resource_type, "resource": res.resource,
                                   "error": err.error, "cause": err.cause or ""} if ex.recording else None)
        raise
    if legacy:
        ex.event(frame, "LambdaFunctionSucceeded",
                 {"output": dumps(result), "outputDetails": {"truncated": False}} if ex.include_data else None)
    else:
        details = None
        if ex.recording:
            details = {"resourceType": res.resource_type, "resource": res.resource}
            if ex.include_data:
                details["output"] = dumps(result)
                details["outputDetails"] = {"truncated": False}
        ex.event(frame, "TaskSucceeded", details)
    return result


def _isolated(value: Json) -> Json:
    """A private copy of a payload (handlers may mutate what they get, as on AWS they own it)."""
    try:
        return loads(dumps(value))
    except JsonError as exc:
        raise errors.CustomError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


async def _call_resource(ex: Execution, st: m.Task, payload: Json, timeout: float | None) -> Json:
    res = st.resource
    if ex.mock is not None:
        mocked = ex.mock.response_for(st.name)
        if mocked is not None:
            return mocked()
    deadline = time.monotonic() + (timeout if timeout is not None else max(0.0, ex.deadline - time.monotonic()))
    if res.kind == "lambda-invoke":
        params = payload if isinstance(payload, dict) else {}
        function = params.get("FunctionName")
        if not isinstance(function, str):
            raise errors.CustomError("States.Runtime", "The lambda:invoke integration needs a FunctionName")
        entry = ex.handlers.lookup(function)
        if entry is None:
            raise function_not_found(function, res.region)
        name = function.split(":function:")[-1].split(":")[0]
        ctx = LambdaContext(name, _request_id(), function, deadline)
        event = _lambda_payload(params.get("Payload"))
        result = _isolated(await call_handler(entry, _isolated(event), ctx))
        return {
            "ExecutedVersion": "$LATEST",
            "Payload": result,
            "SdkHttpMetadata": {"AllHttpHeaders": {}, "HttpHeaders": {}, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": ctx.aws_request_id},
            "StatusCode": 200,
        }
    key = res.function_name if res.kind == "lambda-arn" else res.arn
    entry = ex.handlers.lookup(key or res.arn)
    if entry is None:
        if res.kind == "lambda-arn":
            raise function_not_found(res.arn, res.region)
        raise errors.CustomError("States.TaskFailed", f"No handler is registered for the resource '{res.arn}'")
    ctx = LambdaContext(key or res.arn, _request_id(), res.arn, deadline)
    return _isolated(await call_handler(entry, _isolated(payload), ctx))


def _lambda_payload(payload: Json) -> Json:
    """What the function receives: a string Payload is sent as raw JSON text, a null one as ``{}``."""
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return loads(payload)
        except JsonError:
            return payload
    return payload


def _request_id() -> str:
    import uuid

    return str(uuid.uuid4())


def _task_timeout(st: m.Task, value: Json, env: StateEnv, states: dict[str, Json] | None) -> float | None:
    if st.timeout_seconds is not None:
        return st.timeout_seconds
    if st.timeout_path is not None:
        try:
            t = st.timeout_path.get(value, env)
        except (PathNotFound, VariableNotFound):
            raise errors.Runtime(
                f"The TimeoutSecondsPath parameter does not reference an input value: {st.timeout_path.text}"
            ) from None
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
            raise errors.Runtime(f"The TimeoutSecondsPath parameter references an invalid value: "
                                 f"{st.timeout_path.text} == {_render(t)}")
        return float(t)
    if st.timeout_expr is not None:
        t = st.timeout_expr.evaluate(states or {}, env.variables)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
            raise errors.QueryEvaluationError(f"The TimeoutSeconds field must be a positive integer, but was: "
                                              f"{_render(t)}")
        return float(t)
    return None


async def step_task(ex: Execution, st: m.Task, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Task", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time(), retry_count=0)
    states = _states_binding(raw, env, st) if st.jsonata else None
    counters = [0] * len(st.retriers)
    while True:
        try:
            # Evaluated per attempt: $$.State.RetryCount changes between attempts.
            if st.jsonata:
                assert states is not None
                value = raw
                payload = st.arguments.evaluate(states, env.variables) if st.arguments is not None else raw
            else:
                value = apply_input_path(st.input_path, raw, env)
                payload = st.parameters(value, env) if st.parameters is not None else value
            timeout = _task_timeout(st, value, env, states)
            result = await _invoke(ex, st, payload, frame, timeout)
            break
        except errors.StatesError as err:
            err = locate(err, st.name, entered)
            ri = _retrier_for(st.retriers, err)
            if ri is not None and counters[ri] < st.retriers[ri].max_attempts:
                counters[ri] += 1
                await _backoff(ex, st.retriers[ri], counters[ri])
                env = StateEnv(ex, frame, st.name, env.entered, retry_count=(env.retry_count or 0) + 1)
                if states is not None:
                    states = _states_binding(raw, env, st)
                continue
            caught = _catch(ex, st, raw, err, frame, env, "Task")
            if caught is None:
                raise err from None
            return caught
    return _after_tail(st, _tail(ex, st, raw, result, frame, env, states, "Task", entered))


# -- Parallel and Map -------------------------------------------------------------------------------


async def _run_all(ex: Execution, jobs: list[tuple[m.Graph, Json, Frame]],
                   limit: int, on_error: Callable[[int, errors.StatesError], bool] | None = None,
                   on_start: Callable[[int, Frame], None] | None = None,
                   on_done: Callable[[int, Frame], None] | None = None) -> list[Json]:
    """Run graphs concurrently (at most ``limit`` at once; 0 = all), results in job order.

    The first error that ``on_error`` does not tolerate cancels the rest and is raised.
    """
    results: list[Json] = [None] * len(jobs)
    failure: list[errors.StatesError] = []

    if all(graph_is_sync(g) for g, _, _ in jobs):
        # No job can suspend, so running them one after another is indistinguishable from concurrency.
        for i, (graph, value, frame) in enumerate(jobs):
            if on_start:
                on_start(i, frame)
            try:
                results[i] = run_graph_sync(ex, graph, value, frame)
            except errors.StatesError as err:
                if on_error is None or not on_error(i, err):
                    raise
                results[i] = {"Error": err.error, "Cause": err.cause or ""}
                continue
            if on_done:
                on_done(i, frame)
        return results

    next_index = iter(range(len(jobs)))

    async def worker(cancel: anyio.CancelScope) -> None:
        for i in next_index:
            graph, value, frame = jobs[i]
            if on_start:
                on_start(i, frame)
            try:
                results[i] = await run_graph(ex, graph, value, frame)
            except errors.StatesError as err:
                try:
                    tolerated = on_error is not None and on_error(i, err)
                except errors.StatesError as threshold:  # e.g. ExceedToleratedFailureThreshold
                    err, tolerated = threshold, False
                if tolerated:
                    results[i] = {"Error": err.error, "Cause": err.cause or ""}
                    continue
                if not failure:
                    failure.append(err)
                cancel.cancel()
                return
            if on_done:
                on_done(i, frame)

    workers = len(jobs) if limit <= 0 else min(limit, len(jobs))
    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker, tg.cancel_scope)
    if failure:
        raise failure[0]
    return results


async def step_parallel(ex: Execution, st: m.Parallel, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Parallel", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time(), retry_count=0)
    states = _states_binding(raw, env, st) if st.jsonata else None
    counters = [0] * len(st.retriers)
    while True:
        try:
            if st.jsonata:
                value = st.arguments.evaluate(states, env.variables) if st.arguments is not None else raw
            else:
                value = apply_input_path(st.input_path, raw, env)
                if st.parameters is not None:
                    value = st.parameters(value, env)
            started = ex.event(frame, "ParallelStateStarted")
            jobs = [(g, value, frame.child(started)) for g in st.branches]
            try:
                result = await _run_all(ex, jobs, 0)
            except errors.StatesError:
                ex.event(frame, "ParallelStateFailed")
                raise
            ex.event(frame, "ParallelStateSucceeded")
            break
        except errors.StatesError as err:
            err = locate(err, st.name, entered)
            ri = _retrier_for(st.retriers, err)
            if ri is not None and counters[ri] < st.retriers[ri].max_attempts:
                counters[ri] += 1
                await _backoff(ex, st.retriers[ri], counters[ri])
                continue
            caught = _catch(ex, st, raw, err, frame, env, "Parallel")
            if caught is None:
                raise err from None
            return caught
    return _after_tail(st, _tail(ex, st, raw, result, frame, env, states, "Parallel", entered))


def _tail(ex: Execution, st: Any, raw: Json, result: Json, frame: Frame, env: StateEnv,
          states: dict[str, Json] | None, kind: str, entered: int, catch: bool = True) -> Any:
    """ResultSelector → ResultPath → OutputPath/Output → Assign → Exited; errors go to the catchers."""
    try:
        if st.jsonata:
            assert states is not None
            states["result"] = result
            return _finish(ex, frame, st, kind, raw, result, result, env, states, result)
        selected = st.result_selector(result, env) if st.result_selector is not None else result
        out = apply_result_path(st.result_path, raw, selected)
        return _finish(ex, frame, st, kind, raw, selected, out, env, None, result)
    except errors.StatesError as err:
        err = locate(err, st.name, entered)
        if catch:
            caught = _catch(ex, st, raw, err, frame, env, kind)
            if caught is not None:
                return _Caught(caught)
        raise err from None


class _Caught(tuple):  # type: ignore[type-arg]
    """Marks a tail that was routed to a catcher: ``(next, output)``."""


def _after_tail(st: Any, out: Any) -> Step:
    if isinstance(out, _Caught):
        return out[0], out[1]
    return st.next, out


def _int_from_path(path: Any, value: Json, env: StateEnv, field: str) -> int:
    try:
        n = path.get(value, env)
    except (PathNotFound, VariableNotFound):
        raise errors.Runtime(f"The {field} field refers to a path that does not exist: {path.text}") from None
    if isinstance(n, str):
        # AWS parses the value as a Java integer, so numeric strings such as "1" are accepted.
        try:
            return int(n.strip())
        except ValueError:
            pass
    elif not isinstance(n, bool) and isinstance(n, (int, float)) and float(n).is_integer():
        return int(n)
    raise errors.Runtime(f'The {field} field refers to value "{_render(n)}" which is not a valid integer: '
                         f"{path.text}")


def _map_items(st: m.Map, raw: Json, value: Json, env: StateEnv, states: dict[str, Json] | None) -> list[Json]:
    if st.items_expr is not None:
        items = st.items_expr.evaluate(states or {}, env.variables)
        if not isinstance(items, list):
            raise errors.QueryEvaluationError(
                f"The JSONata expression '{_expr_text(st.items_expr)}' specified for the field 'Items' returned "
                f"an unexpected result type. Expected 'array', but was '{_json_type(items)}' for value: "
                f"{dumps(items)}")
        return items
    items = value
    if st.items_path is not None:
        try:
            items = st.items_path.get(value, env)
        except (PathNotFound, VariableNotFound):
            raise errors.Runtime(f"Invalid path '{st.items_path.text}' : No results for path: "
                                 f"{st.items_path.text}") from None
    if not isinstance(items, list):
        error = errors.QueryEvaluationError if st.jsonata else errors.Runtime
        raise error(f"Map state input must be an array but was: {dumps(items)}")
    return items


def _expr_text(expr: Any) -> str:
    return getattr(expr, "text", getattr(expr, "expression", ""))


def _json_type(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number(value: Json) -> float | None:
    """A JSON number, or a string holding one (AWS parses these fields as Java numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _tolerance(st: m.Map, value: Json, env: StateEnv, n: int) -> int | None:
    """How many failed iterations are tolerated (None: any failure fails the Map)."""
    count = st.tolerated_count
    if st.tolerated_count_path is not None:
        count = _int_from_path(st.tolerated_count_path, value, env, "ToleratedFailureCountPath")
    pct = st.tolerated_percentage
    if st.tolerated_percentage_path is not None:
        try:
            raw_pct = st.tolerated_percentage_path.get(value, env)
        except (PathNotFound, VariableNotFound):
            raise errors.Runtime("ToleratedFailurePercentage must be between 0 and 100.") from None
        pct = _number(raw_pct)
        if pct is None:
            raise errors.Runtime("ToleratedFailurePercentage must be between 0 and 100.")
    if count is not None and count < 0:
        raise errors.Runtime("ToleratedFailureCount cannot be negative.")
    if pct is not None and not 0 <= pct <= 100:
        raise errors.Runtime("ToleratedFailurePercentage must be between 0 and 100.")
    limits = []
    if count is not None:
        limits.append(count)
    if pct is not None:
        limits.append(int(n * pct / 100))
    return max(limits) if limits else None


def _batches(st: m.Map, items: list[Json], value: Json, env: StateEnv) -> list[Json]:
    size = st.batch_max_items or len(items) or 1
    batch_input = st.batch_input(value, env) if st.batch_input is not None else None
    out = []
    for start in range(0, len(items), size):
        batch: dict[str, Json] = {"Items": items[start:start + size]}
        if batch_input is not None:
            batch["BatchInput"] = batch_input
        out.append(batch)
    return out


async def step_map(ex: Execution, st: m.Map, raw: Json, frame: Frame) -> Step:
    entered = _entered(ex, frame, "Map", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time(), retry_count=0)
    states = _states_binding(raw, env, st) if st.jsonata else None
    counters = [0] * len(st.retriers)
    while True:
        try:
            result = await _map_once(ex, st, raw, frame, env, states)
            break
        except errors.StatesError as err:
            err = locate(err, st.name, entered)
            ri = _retrier_for(st.retriers, err)
            if ri is not None and counters[ri] < st.retriers[ri].max_attempts:
                counters[ri] += 1
                await _backoff(ex, st.retriers[ri], counters[ri])
                continue
            caught = _catch(ex, st, raw, err, frame, env, "Map")
            if caught is None:
                raise err from None
            return caught
    return _after_tail(st, _tail(ex, st, raw, result, frame, env, states, "Map", entered))


async def _map_once(ex: Execution, st: m.Map, raw: Json, frame: Frame, env: StateEnv,
                    states: dict[str, Json] | None) -> list[Json]:
    value = raw if st.jsonata else apply_input_path(st.input_path, raw, env)
    items = _map_items(st, raw, value, env, states)
    limit = st.max_concurrency
    if st.max_concurrency_path is not None:
        limit = _int_from_path(st.max_concurrency_path, value, env, "MaxConcurrencyPath")
    elif st.max_concurrency_expr is not None:
        limit = int(st.max_concurrency_expr.evaluate(states or {}, env.variables))
    tolerated = _tolerance(st, value, env, len(items))
    if st.batch_max_items is not None or st.batch_max_bytes is not None:
        items = _batches(st, items, value, env)
    started = ex.event(frame, "MapStateStarted", {"length": len(items)} if ex.recording else None)
    jobs = []
    prev = started
    for index, item in enumerate(items):
        map_item = {"Index": index, "Value": item}
        if st.item_selector is not None or st.item_selector_expr is not None:
            item_env = env.with_map_item(map_item)
            if st.item_selector_expr is not None:
                binding = _states_binding(raw, item_env)
                item_input = st.item_selector_expr.evaluate(binding, env.variables)
            else:
                assert st.item_selector is not None
                item_input = st.item_selector(value, item_env)
        else:
            item_input = item
        jobs.append((st.processor, item_input, frame.child(prev)))
    failures: list[int] = []

    def on_start(i: int, child: Frame) -> None:
        child.prev = ex.event(child, "MapIterationStarted",
                              {"index": i, "name": st.name} if ex.recording else None, previous=child.prev)

    def on_done(i: int, child: Frame) -> None:
        ex.event(child, "MapIterationSucceeded", {"index": i, "name": st.name} if ex.recording else None)

    def on_error(i: int, err: errors.StatesError) -> bool:
        ex.event(jobs[i][2], "MapIterationFailed", {"index": i, "name": st.name} if ex.recording else None)
        if tolerated is None:
            return False
        failures.append(i)
        if len(failures) > tolerated:
            raise errors.ExceedToleratedFailureThreshold("The specified tolerated failure threshold was exceeded")
        return True

    try:
        results = await _run_all(ex, jobs, limit, on_error, on_start, on_done)
    except errors.StatesError:
        ex.event(frame, "MapStateFailed")
        raise
    ex.event(frame, "MapStateSucceeded")
    return results


ASYNC_STEPS: dict[type, Callable[[Execution, Any, Json, Frame], Any]] = {
    m.Task: step_task,
    m.Wait: step_wait,
    m.Parallel: step_parallel,
    m.Map: step_map,
}
