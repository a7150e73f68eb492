"""The run loop over a compiled graph, and one step function per state type.

Pass, Choice, Succeed and Fail never suspend, so a graph made only of them runs in a plain loop
(:func:`run_graph_sync`); Task, Wait, Parallel and Map are coroutines. Either way an execution gives the event
loop a turn once it has computed for :data:`~express_engine.runtime.execution.SLICE_SECONDS` (looked at every
few transitions; after many slices, behind everything else: :mod:`.lanes`), so one long or looping execution
never stalls the others of its worker; a sync state whose expression computes for longer than a slice runs
again in a thread (:mod:`.pool`). Every step returns
``(next_index | None, output)``; an error is raised as a :class:`~express_engine.errors.StatesError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from threading import get_ident
from typing import Any

from .. import errors
from ..asl import model as m
from ..asl.offload import RESTARTABLE, Offload
from ..asl.paths import PathNotFound, VariableNotFound
from ..asl.timestamps import parse_timestamp
from ..jsonutil import Json, dumps
from .dataflow import apply_input_path, apply_result_path, result_path_size_bound
from .execution import Execution, Frame, SliceSpent, StateEnv
from .fanout import step_map, step_parallel, use_graph_runners
from .lanes import give_turn
from .pool import CONCURRENT, Offloaded, on_loop, restart_thread, run_in_pool, undo_entered, via_pool
from .steps import Step, entered, finish, locate, render, states_binding, timed_out
from .task_state import step_task

#: Sync transitions between two looks at the clock (deadline, end of the execution's slice); a power of two.
_CHECK_EVERY = 8



def graph_is_sync(graph: m.Graph) -> bool:
    """Whether every state of ``graph`` runs without suspending (decided at compile time)."""
    return graph.sync

# -- sync states ---------------------------------------------------------------------------------


def step_pass(ex: Execution, st: m.Pass, raw: Json, frame: Frame) -> Step:
    entered_id = entered(ex, frame, "Pass", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            # ($states inline when the context is not read: a Map's item processor runs this once per item)
            states = states_binding(raw, env, st) if st.needs_context else {"input": raw}
            out = finish(ex, frame, st, "Pass", raw, raw, raw, env, states, raw,
                         bound=_passed_on_bound(frame, raw, raw))
        else:
            value = raw if st.input_path is None else apply_input_path(st.input_path, raw, env)
            after_input = value
            if st.parameters is not None:
                value = st.parameters(value, env)
            result = st.result if st.has_result else value
            out = apply_result_path(st.result_path, raw, result)
            if ex.inspection is not None:
                _inspect_pass(ex, st, after_input, value, result, out)
            sized = frame.sized
            bound = result_path_size_bound(st.result_path, raw, sized[1], result) if (
                sized is not None and sized[0] is raw) else -1
            out = finish(ex, frame, st, "Pass", raw, result, out, env, None, result, bound=bound)
    except errors.StatesError as err:
        raise locate(ex, frame, err, st.name, entered_id) from None
    return st.next, out


def _passed_on_bound(frame: Frame, raw: Json, value: Json) -> int:
    """The size bound of a state's output that is its raw input as it came (the usual Choice and Succeed): the
    input's own, when known (-1: measure it)."""
    sized = frame.sized
    return sized[1] if value is raw and sized is not None and sized[0] is raw else -1


def _inspect_pass(ex: Execution, st: m.Pass, after_input: Json, value: Json, result: Json, out: Json) -> None:
    assert ex.inspection is not None
    if st.has_result:  # (AWS reports no input steps for a Pass with Result, even when it has them)
        ex.inspection.record(st.name, result=result, afterResultSelector=result, afterResultPath=out)
    else:
        ex.inspection.record(st.name, afterInputPath=after_input, afterParameters=value, afterResultSelector=value,
                             afterResultPath=out)


def step_choice(ex: Execution, st: m.Choice, raw: Json, frame: Frame) -> Step:
    entered_id = entered(ex, frame, "Choice", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            states = states_binding(raw, env, st)
            for rule in st.rules:
                assert rule.condition is not None
                if _condition(rule.condition, states, env, rule.index):
                    out = finish(ex, frame, st, "Choice", raw, raw, raw, env, states, raw,
                                  rule.assign, rule.output, bound=_passed_on_bound(frame, raw, raw))
                    return rule.next, out
            if st.default is None:
                raise errors.NoChoiceMatched("No Matches!")
            return st.default, finish(ex, frame, st, "Choice", raw, raw, raw, env, states, raw,
                                      bound=_passed_on_bound(frame, raw, raw))
        value = apply_input_path(st.input_path, raw, env)
        if ex.inspection is not None:
            ex.inspection.record(st.name, afterInputPath=value)
        bound = _passed_on_bound(frame, raw, value)
        for rule in st.rules:
            assert rule.predicate is not None
            if rule.predicate(value, env):
                return rule.next, finish(ex, frame, st, "Choice", raw, value, value, env, None, value,
                                          rule.assign or st.assign, bound=bound)
        if st.default is None:
            raise errors.NoChoiceMatched("No Matches!")
        return st.default, finish(ex, frame, st, "Choice", raw, value, value, env, None, value, bound=bound)
    except errors.StatesError as err:
        raise locate(ex, frame, err, st.name, entered_id) from None


def _condition(cond: m.JsonataExpr, states: dict[str, Json], env: StateEnv, index: int) -> bool:
    from ..asl.jsonata import evaluate_condition

    return evaluate_condition(cond, states, env.variables)


def step_succeed(ex: Execution, st: m.Succeed, raw: Json, frame: Frame) -> Step:
    entered_id = entered(ex, frame, "Succeed", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:
            states = states_binding(raw, env, st)
            out = finish(ex, frame, st, "Succeed", raw, raw, raw, env, states, raw,
                         bound=_passed_on_bound(frame, raw, raw))
        else:
            value = apply_input_path(st.input_path, raw, env)
            if ex.inspection is not None:
                ex.inspection.record(st.name, afterInputPath=value)
            out = finish(ex, frame, st, "Succeed", raw, value, value, env, None, value,
                         bound=_passed_on_bound(frame, raw, value))
    except errors.StatesError as err:
        raise locate(ex, frame, err, st.name, entered_id) from None
    return None, out


def step_fail(ex: Execution, st: m.Fail, raw: Json, frame: Frame) -> Step:
    entered_id = entered(ex, frame, "Fail", st.name, raw)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        error, cause = st.error, st.cause
        if st.jsonata:
            states = states_binding(raw, env, st)
            if st.error_expr is not None:
                error = _string_field(st.error_expr.evaluate(states, env.variables), "Error")
            if st.cause_expr is not None:
                cause = _string_field(st.cause_expr.evaluate(states, env.variables), "Cause")
        else:
            if ex.inspection is not None:  # (Fail has no InputPath: AWS reports the input as it)
                ex.inspection.record(st.name, afterInputPath=raw)
            if st.error_path is not None:
                error = _string_field(st.error_path(raw, env), "ErrorPath")
            if st.cause_path is not None:
                cause = _string_field(st.cause_path(raw, env), "CausePath")
    except errors.StatesError as err:
        raise locate(ex, frame, err, st.name, entered_id) from None
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


def run_graph_sync(ex: Execution, graph: m.Graph, value: Json, frame: Frame, idx: int | None = None) -> Json:
    """Run a graph of never-suspending states to its end (from state ``idx``, default its start).

    Raises :class:`SliceSpent` when the execution's slice is used up before the end: the caller gives the
    loop a turn and resumes (:func:`resume_graph_sync`).
    """
    states = graph.states
    if idx is None:
        idx = graph.start
    steps = SYNC_STEPS
    count = 0
    mask = _CHECK_EVERY - 1
    # (an expression that runs long gives up: the state runs in the pool; see restart_thread, inlined)
    restartable = RESTARTABLE
    restartable.thread = get_ident() if ex.inspection is None else 0
    try:
        while idx is not None:
            st = states[idx]
            idx, value = steps[type(st)](ex, st, value, frame)
            count += 1
            if not count & mask:
                now = time.monotonic()
                if now > ex.deadline:
                    raise timed_out(ex)
                if now > ex.slice_end and idx is not None:
                    raise SliceSpent(idx, value)
    except Offload as gave_up:  # (idx and value are still the state's and its input)
        assert idx is not None
        undo_entered(ex, frame)
        offloaded = Offloaded(idx, value)
        offloaded.gave_up = gave_up
        raise offloaded from None
    finally:
        restartable.thread = 0
    return value


async def resume_graph_sync(ex: Execution, graph: m.Graph, spent: SliceSpent, frame: Frame) -> Json:
    """Go on with a sync graph that spent its slice, one turn of the event loop per slice (or that stopped at a
    state to run in the pool)."""
    while True:
        idx: int | None = spent.idx
        value = spent.value
        if type(spent) is Offloaded:
            st = graph.states[spent.idx]
            if ex in CONCURRENT:  # (a thread must not change the execution beside its branches: see pool.py)
                assert spent.gave_up is not None
                idx, value = await via_pool(ex, frame, spent.gave_up, SYNC_STEPS[type(st)], ex, st, value, frame)
            else:
                idx, value = await run_in_pool(SYNC_STEPS[type(st)], ex, st, value, frame)
            if idx is None:
                return value
            if time.monotonic() > ex.deadline:
                raise timed_out(ex)
        else:
            await give_turn(ex)
        try:
            return run_graph_sync(ex, graph, value, frame, idx)
        except SliceSpent as again:
            spent = again


async def run_graph(ex: Execution, graph: m.Graph, value: Json, frame: Frame) -> Json:
    """Run a graph to its end; returns the output of its last state."""
    if graph_is_sync(graph):
        try:
            return run_graph_sync(ex, graph, value, frame)
        except SliceSpent as spent:
            return await resume_graph_sync(ex, graph, spent, frame)
    states = graph.states
    idx: int | None = graph.start
    count = 0
    mask = _CHECK_EVERY - 1
    # Sync states may give up an expression that runs long (see run_graph_sync); set around every await.
    restartable = RESTARTABLE
    restart = restart_thread(ex)
    restartable.thread = restart
    try:
        while idx is not None:
            st = states[idx]
            sync_step = SYNC_STEPS.get(type(st))
            if sync_step is not None:
                try:
                    idx, value = sync_step(ex, st, value, frame)
                except Offload as gave_up:
                    restartable.thread = 0
                    undo_entered(ex, frame)
                    if ex in CONCURRENT:  # (just the evaluation in the pool, the state again here: see pool.py)
                        idx, value = await via_pool(ex, frame, gave_up, sync_step, ex, st, value, frame)
                    else:
                        idx, value = await run_in_pool(sync_step, ex, st, value, frame)
                    restartable.thread = restart
                count += 1
                if not count & mask:
                    now = time.monotonic()
                    if now > ex.deadline:
                        raise timed_out(ex)
                    if now > ex.slice_end:
                        restartable.thread = 0
                        await give_turn(ex)
                        restartable.thread = restart
            else:
                restartable.thread = 0
                idx, value = await ASYNC_STEPS[type(st)](ex, st, value, frame)
                restartable.thread = restart
    finally:
        restartable.thread = 0
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
            f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {render(seconds)}")
    if seconds < 0:
        raise errors.Runtime(f"The SecondsPath parameter references a negative value: {path.text} == "
                             f"{render(seconds)}")
    return float(seconds)


def _seconds_until(ts: datetime) -> float:
    return max(0.0, (ts - datetime.now(UTC)).total_seconds())


def _wait_delay(st: m.Wait, value: Json, env: StateEnv, states: dict[str, Json] | None) -> float:
    """Seconds a Wait state waits, from whichever of its fields it has."""
    if st.seconds is not None:
        return st.seconds
    if st.timestamp is not None:
        parsed = parse_timestamp(st.timestamp)
        return _seconds_until(parsed) if parsed is not None else 0.0
    if st.seconds_path is not None:
        return _wait_seconds_from_path(st, value, env)
    if st.timestamp_path is not None:
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
                f"format string: {path.text} == {render(text)}")
        return _seconds_until(parsed)
    if st.seconds_expr is not None:
        secs = st.seconds_expr.evaluate(states or {}, env.variables)
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or secs < 0:
            raise errors.QueryEvaluationError(
                f"The Seconds field must be a non-negative integer, but was: {render(secs)}")
        return float(secs)
    assert st.timestamp_expr is not None
    text = st.timestamp_expr.evaluate(states or {}, env.variables)
    parsed = parse_timestamp(text) if isinstance(text, str) else None
    if parsed is None:
        raise errors.QueryEvaluationError(
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
            f"string: {render(text)}")
    return _seconds_until(parsed)


async def step_wait(ex: Execution, st: m.Wait, raw: Json, frame: Frame) -> Step:
    entered_id = entered(ex, frame, "Wait", st.name, raw)
    frame.active = "Wait"  # (until it exits: a Wait whose branch fails or is cancelled is aborted)
    env = StateEnv(ex, frame, st.name, time.time())
    try:
        if st.jsonata:  # (an expression computing long is evaluated in the pool: see on_loop)
            states = states_binding(raw, env, st)
            try:
                delay = on_loop(ex, frame, _wait_delay, st, raw, env, states)
            except Offload as gave_up:
                delay = await via_pool(ex, frame, gave_up, _wait_delay, st, raw, env, states)
            if delay > 0:
                await ex.sleep(delay)
            try:
                out = on_loop(ex, frame, finish, ex, frame, st, "Wait", raw, raw, raw, env, states, raw)
            except Offload as gave_up:
                out = await via_pool(ex, frame, gave_up, finish, ex, frame, st, "Wait", raw, raw, raw, env, states,
                                     raw)
        else:
            value = apply_input_path(st.input_path, raw, env)
            delay = _wait_delay(st, value, env, None)
            if delay > 0:
                await ex.sleep(delay)
            out = finish(ex, frame, st, "Wait", raw, value, value, env, None, value)
    except errors.StatesError as err:
        raise locate(ex, frame, err, st.name, entered_id) from None
    frame.active = None
    return st.next, out


ASYNC_STEPS: dict[type, Callable[[Execution, Any, Json, Frame], Any]] = {
    m.Task: step_task,
    m.Wait: step_wait,
    m.Parallel: step_parallel,
    m.Map: step_map,
}

use_graph_runners(run_graph, run_graph_sync, resume_graph_sync)
