"""The Task state: resource invocation through local handlers, timeouts, Retry and Catch."""

from __future__ import annotations

import time

import anyio

from .. import errors
from ..asl import model as m
from ..asl.offload import Offload
from ..asl.paths import PathNotFound, VariableNotFound
from ..asl.validation_rules import MAX_SECONDS
from ..jsonutil import Json, JsonError, dumps, loads
from .dataflow import apply_input_path, check_result
from .execution import Execution, Frame, StateEnv
from .pool import evaluate_off_loop, on_loop, via_pool
from .steps import Step, attempt_and_finish, entered, render, states_binding
from .tasks import LambdaContext, call_handler, function_not_found

#: Where a real-Lambda integration registers itself: it serves the functions no local handler serves.
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

# -- Task -------------------------------------------------------------------------------------------


async def _invoke(ex: Execution, st: m.Task, payload: Json, env: StateEnv, timeout: float | None) -> Json:
    """One attempt at the task's resource: events, handler call, timeout."""
    res = st.resource
    frame = env.frame
    legacy = res.kind == "lambda-arn"
    if legacy:
        details: dict[str, Json] | None = None
        if ex.recording:
            details = {"resource": res.arn}
            if ex.include_data:
                details["input"] = dumps(payload)
                details["inputDetails"] = {"truncated": False}
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
                    result = await _call_resource(ex, st, payload, env, timeout)
            except TimeoutError:
                raise errors.Timeout(None) from None
        else:
            result = await _call_resource(ex, st, payload, env, None)
        # AWS names the resource in this message: the function ARN, or the integration ('lambda', ...).
        check_result(result, res.arn if legacy else res.resource_type)
    except errors.StatesError as err:
        timed_out = isinstance(err, errors.Timeout)
        if legacy:
            kind = "LambdaFunctionTimedOut" if timed_out else "LambdaFunctionFailed"
        else:
            kind = "TaskTimedOut" if timed_out else "TaskFailed"
        details = None
        if ex.recording:
            # AWS leaves out a cause it does not have: a timeout records {"error": "States.Timeout"} only.
            details = {} if legacy else {"resourceType": res.resource_type, "resource": res.resource}
            details["error"] = err.error
            if err.cause is not None:
                details["cause"] = err.cause
        ex.event(frame, kind, details)
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


async def _call_resource(ex: Execution, st: m.Task, payload: Json, env: StateEnv, timeout: float | None) -> Json:
    res = st.resource
    if ex.mock is not None:
        mocked = ex.mock.response_for(st.name, payload, env)
        if mocked is not None:
            return mocked()
    deadline = time.monotonic() + (timeout if timeout is not None else max(0.0, ex.deadline - time.monotonic()))
    if res.kind == "lambda-invoke":
        params = payload if isinstance(payload, dict) else {}
        function = params.get("FunctionName")
        if not isinstance(function, str):
            raise errors.CustomError("States.Runtime", "The lambda:invoke integration needs a FunctionName")
        entry = ex.handlers.lookup(function)
        name = function.split(":function:")[-1].split(":")[0]
        ctx = LambdaContext(name, None, function, deadline)
        if entry is None:
            remote = ex.handlers.lookup(LAMBDA_INVOKE)
            if remote is None:
                raise function_not_found(function, res.region)
            return await call_handler(remote, params, ctx)
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
            remote = ex.handlers.lookup(LAMBDA_INVOKE)
            if remote is None:
                raise function_not_found(res.arn, res.region)
            ctx = LambdaContext(key or res.arn, None, res.arn, deadline)
            response = await call_handler(remote, {"FunctionName": res.arn, "Payload": payload}, ctx)
            return response.get("Payload") if isinstance(response, dict) else response
        raise errors.CustomError("States.TaskFailed", f"No handler is registered for the resource '{res.arn}'")
    ctx = LambdaContext(key or res.arn, None, res.arn, deadline)
    if ex.inspection is not None and ex.inspection.state == st.name:
        ctx.inspection = ex.inspection
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
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= MAX_SECONDS:
            raise errors.Runtime(f"The TimeoutSecondsPath parameter references an invalid value: "
                                 f"{st.timeout_path.text} == {render(t)}")
        return float(t)
    if st.timeout_expr is not None:
        t = st.timeout_expr.evaluate(states or {}, env.variables)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= MAX_SECONDS:
            raise errors.QueryEvaluationError(f"The TimeoutSeconds field must be a positive integer, but was: "
                                              f"{render(t)}")
        return float(t)
    return None


async def step_task(ex: Execution, st: m.Task, raw: Json, frame: Frame) -> Step:
    """Run a Task state: payload, resource call under Retry/Catch, then the result data flow."""
    entered_id = entered(ex, frame, "Task", st.name, raw)

    def prepare(env: StateEnv) -> tuple[Json, float | None]:
        # Evaluated per attempt: $$.State.RetryCount changes between attempts.
        states = states_binding(raw, env, st) if st.jsonata else None
        if states is not None:
            value = raw
            payload = st.arguments.evaluate(states, env.variables) if st.arguments is not None else raw
            if ex.inspection is not None:
                ex.inspection.record(st.name, afterArguments=payload)
        else:
            value = apply_input_path(st.input_path, raw, env)
            payload = st.parameters(value, env) if st.parameters is not None else value
            if ex.inspection is not None:
                ex.inspection.record(st.name, afterInputPath=value, afterParameters=payload)
        return payload, _task_timeout(st, value, env, states)

    async def attempt(env: StateEnv) -> Json:
        # (an expression computing long gives up on the loop and is evaluated in the pool: see on_loop)
        if st.jsonata:
            try:
                payload, timeout = on_loop(ex, frame, prepare, env)
            except Offload as gave_up:
                payload, timeout = await via_pool(ex, frame, gave_up, prepare, env)
        else:  # (heavy intrinsics in Parameters give up on the loop too: see evaluate_off_loop)
            payload, timeout = await evaluate_off_loop(ex, prepare, env) if st.parameters is not None else prepare(env)
        return await _invoke(ex, st, payload, env, timeout)

    frame.active = "Task"  # (until it exits: a Task whose branch fails or is cancelled is aborted)
    step = await attempt_and_finish(ex, st, raw, frame, entered_id, "Task", attempt)
    frame.active = None
    return step


