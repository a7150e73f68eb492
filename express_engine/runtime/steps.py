"""What every state step shares: events, variables, Output/OutputPath, Retry and Catch.

Step functions (in :mod:`.interpreter`, :mod:`.task_state` and :mod:`.fanout`) return
``(next_index | None, output)`` and raise :class:`~express_engine.errors.StatesError` on failure.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import errors
from ..asl import model as m
from ..asl.offload import Offload
from ..jsonutil import MAX_PAYLOAD_BYTES, Json, dumpb, dumps
from .dataflow import apply_output_path, apply_result_path, check_size, checked_text
from .execution import Execution, Frame, StateEnv
from .pool import evaluate_off_loop, on_loop, via_pool

#: Total JSON size of the variables an execution may hold at once (AWS: 10 MiB).
MAX_VARIABLES_BYTES = 10 * 1024 * 1024

Step = tuple[int | None, Json]


def render(value: Json) -> str:
    """A value as AWS prints it inside error causes: strings raw, everything else as JSON."""
    return value if isinstance(value, str) else dumps(value)


# -- errors ---------------------------------------------------------------------------------------


def locate(ex: Execution, frame: Frame, err: errors.StatesError, state_name: str,
           entered_id: int) -> errors.StatesError:
    """Prefix interpreter errors with AWS's "An error occurred while executing the state ..." once.

    A JSONata evaluation error is also logged, once, as AWS does: an ``EvaluationFailed`` event whose previous
    event is that of the state's ``*StateEntered`` (0 for the first state).
    """
    if isinstance(err, (errors.Runtime, errors.QueryEvaluationError)) and not err.located:
        err.cause = (f"An error occurred while executing the state '{state_name}' "
                     f"(entered at the event id #{entered_id}). {err.cause or ''}")
        err.located = True
        if isinstance(err, errors.QueryEvaluationError):
            previous, details = 0, None
            recorder = ex.recorder
            if recorder is not None:
                events = recorder.events  # (every event is recorded, in id order)
                if 0 < entered_id <= len(events) and events[entered_id - 1]["id"] == entered_id:
                    previous = events[entered_id - 1]["previous_event_id"]
                details = {"error": err.error, "cause": err.cause, "state": state_name}
            ex.event(frame, "EvaluationFailed", details, previous=previous)
    return err


def timed_out(ex: Execution) -> errors.Timeout:
    return errors.Timeout("The execution has exceeded its maximum duration.")


# -- variables and JSONata --------------------------------------------------------------------------


def states_binding(raw: Json, env: StateEnv, st: Any = None, **extra: Json) -> dict[str, Json]:
    """The ``$states`` object of a JSONata state (context only built when an expression reads it)."""
    if st is None or st.needs_context:
        binding: dict[str, Json] = {"input": raw, "context": env.context}
    else:
        binding = {"input": raw}
    if extra:
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

    AWS limits each variable and each Assign block to 256 KiB, and all the variables of an execution
    to 10 MiB; a Parallel branch or Map iteration cannot assign a name that exists in an enclosing scope.
    """
    total = 0
    sizes = frame.variable_sizes
    if sizes is None:
        sizes = frame.variable_sizes = {}
    held = ex.variables_bytes
    new_sizes: list[tuple[str, int]] = []
    for name, value in assigned.items():
        size = len(dumpb(value))
        if size > MAX_PAYLOAD_BYTES:
            raise errors.DataLimitExceeded(f"The variable '{name}' exceeds the maximum size of {MAX_PAYLOAD_BYTES} "
                                           "bytes.")
        total += size
        held += size - sizes.get(name, 0)
        new_sizes.append((name, size))
    if total > MAX_PAYLOAD_BYTES:
        raise errors.DataLimitExceeded(f"The variables assigned by one state exceed the maximum size of "
                                       f"{MAX_PAYLOAD_BYTES} bytes.")
    if held > MAX_VARIABLES_BYTES:
        raise errors.DataLimitExceeded(f"The variables of this execution would exceed the maximum total size of "
                                       f"{MAX_VARIABLES_BYTES} bytes.")
    outer = frame.outer_names
    if outer is not None:
        for name in assigned:
            if name in outer:
                raise errors.Runtime(f"Cannot assign a value to the variable '{name}': it is defined in an outer "
                                     "scope and is read-only here.")
    frame.variables.update(assigned)
    sizes.update(new_sizes)
    ex.variables_bytes = held


def exited(ex: Execution, frame: Frame, kind: str, name: str, output: Json,
            assigned: dict[str, Json] | None, text: bytes | None = None) -> None:
    if ex.recorder is None:  # logging off: the event is only counted (inline: this runs for every state)
        ex.last_event_id += 1
        frame.prev = ex.last_event_id
        return
    details: dict[str, Any] = {"name": name}
    if ex.recorder.include_data:
        details["output"] = text.decode() if text is not None else dumps(output)
        details["outputDetails"] = {"truncated": False}
    if assigned:
        details["assignedVariables"] = {k: dumps(v) for k, v in assigned.items()}
        details["assignedVariablesDetails"] = {"truncated": False}
    ex.event(frame, f"{kind}StateExited", details)


def entered(ex: Execution, frame: Frame, kind: str, name: str, raw: Json) -> int:
    if ex.recorder is None:  # logging off: the event is only counted (inline: this runs for every state)
        ex.last_event_id += 1
        frame.prev = ex.last_event_id
        return ex.last_event_id
    details: dict[str, Any] = {"name": name}
    if ex.recorder.include_data or (kind == "Fail" and ex.recorder.fail_input):
        details["input"] = dumps(raw)
        details["inputDetails"] = {"truncated": False}
    return ex.event(frame, f"{kind}StateEntered", details)


def finish(ex: Execution, frame: Frame, st: m.StateBase, kind: str, raw: Json, result: Json,
            out: Json, env: StateEnv, states: dict[str, Json] | None, assign_value: Json,
            assign: m.Assign | None = None, output: m.JsonataExpr | None = None, bound: int = -1) -> Json:
    """Shared tail of a state: Output/OutputPath, Assign, size check, Exited event.

    ``bound``, when not negative, is an upper bound of the JSON size of ``out`` before OutputPath (which
    only selects part of it): within the payload limit, ``out`` is not serialised to be measured.
    """
    assign = assign if assign is not None else st.assign
    assigned = evaluate_assign(assign, assign_value, env, states) if assign is not None else None
    if st.jsonata:
        output = output if output is not None else st.output
        if output is not None:
            out, bound = output.evaluate_sized(states or {}, env.frame.variables)
    elif st.output_path is not None:
        out = apply_output_path(st.output_path, out, env)
        path = st.output_path
        if path is m.NULL or path.steps is None or path.root != "input":
            bound = -1  # (a bound holds for a part of the value, not for a list of matches or another root)
    if 0 <= bound <= MAX_PAYLOAD_BYTES:
        frame.sized = (out, bound)
        frame.text = text = None
    else:
        text = checked_text(out, st.name)
        frame.sized = (out, len(text))
        frame.text = (out, text)
    if assigned:
        commit_variables(ex, frame, assigned)
    exited(ex, frame, kind, st.name, out, assigned, text)
    return out


# -- Retry / Catch ----------------------------------------------------------------------------------


def retrier_for(retriers: tuple[m.Retrier, ...], err: errors.StatesError) -> int | None:
    for i, r in enumerate(retriers):
        if errors.error_matches(r.error_equals, err):
            return i
    return None


async def backoff(ex: Execution, retrier: m.Retrier, attempt: int) -> None:
    delay = retrier.delay(attempt)
    if retrier.jitter_full:
        delay = random.uniform(0, delay)
    if delay > 0:
        await ex.sleep(delay)


def catch(ex: Execution, st: Any, raw: Json, err: errors.StatesError, frame: Frame, env: StateEnv,
          kind: str, entered_id: int) -> Step | None:
    """Route ``err`` to the first matching catcher: ``(next, output)``, or None when none matches.

    An error in the catcher's own Output/Assign fails the state (located like the state's other errors).
    """
    for catcher in st.catchers:
        if not errors.error_matches(catcher.error_equals, err):
            continue
        error_output = {"Error": err.error, "Cause": err.cause if err.cause is not None else ""}
        states = None
        try:
            if st.jsonata:
                states = states_binding(raw, env, st, errorOutput=error_output)
                out = catcher.output.evaluate(states, env.variables) if catcher.output is not None else error_output
            else:
                out = apply_result_path(catcher.result_path, raw, error_output)
            assigned = None
            if catcher.assign is not None:
                assigned = evaluate_assign(catcher.assign, error_output, env, states)
        except errors.StatesError as failure:
            raise locate(ex, frame, failure, st.name, entered_id) from None
        check_size(out, st.name)
        frame.text = None  # (the caught output is not the state's measured one)
        if assigned:
            commit_variables(ex, frame, assigned)
        exited(ex, frame, kind, st.name, out, assigned)
        return catcher.next, out
    return None



async def with_retry(ex: Execution, st: Any, raw: Json, frame: Frame, env: StateEnv, entered_id: int, kind: str,
                     attempt: Callable[[StateEnv], Awaitable[Json]],
                     failed: Callable[[], None] | None = None) -> tuple[Json, StateEnv] | Caught:
    """Run ``attempt`` under the state's Retry rules; route the final error to its Catch rules.

    Returns ``(result, env of the successful attempt)``, or :class:`Caught` when a catcher took the error.
    The first retrier whose ErrorEquals matches decides, with its own attempt counter (no fall-through).
    ``failed`` is called once the state has failed for good (no retry left), before any catcher runs.
    """
    counters = [0] * len(st.retriers)
    while True:
        try:
            return await attempt(env), env
        except errors.StatesError as err:
            err = locate(ex, frame, err, st.name, entered_id)
            ri = retrier_for(st.retriers, err)
            if ri is not None and counters[ri] < st.retriers[ri].max_attempts:
                counters[ri] += 1
                await backoff(ex, st.retriers[ri], counters[ri])
                env = env.retried()
                continue
            if failed is not None:
                failed()
            if st.jsonata:  # (an expression computing long is evaluated in the pool: see on_loop)
                try:
                    caught = on_loop(ex, frame, catch, ex, st, raw, err, frame, env, kind, entered_id)
                except Offload as gave_up:
                    caught = await via_pool(ex, frame, gave_up, catch, ex, st, raw, err, frame, env, kind, entered_id)
            else:
                caught = catch(ex, st, raw, err, frame, env, kind, entered_id)
            if caught is None:
                raise err from None
            return Caught(caught)


#: ``tail``'s ``selected`` when the ResultSelector is still to be applied
_UNSELECTED: Any = object()


def tail(ex: Execution, st: Any, raw: Json, result: Json, frame: Frame, env: StateEnv,
         states: dict[str, Json] | None, kind: str, entered_id: int, selected: Json = _UNSELECTED) -> Json | Caught:
    """ResultSelector → ResultPath → OutputPath/Output → Assign → Exited; errors go to the catchers.

    ``selected``, when given, is the ResultSelector's value, evaluated before (in the pool when it was heavy).
    """
    try:
        if st.jsonata:
            assert states is not None
            states["result"] = result
            if ex.inspection is not None:
                ex.inspection.record(st.name, result=result)
            return finish(ex, frame, st, kind, raw, result, result, env, states, result)
        if selected is _UNSELECTED:
            selected = st.result_selector(result, env) if st.result_selector is not None else result
        out = apply_result_path(st.result_path, raw, selected)
        if ex.inspection is not None:
            ex.inspection.record(st.name, result=result, afterResultSelector=selected, afterResultPath=out)
        return finish(ex, frame, st, kind, raw, selected, out, env, None, result)
    except errors.StatesError as err:
        err = locate(ex, frame, err, st.name, entered_id)
        caught = catch(ex, st, raw, err, frame, env, kind, entered_id)
        if caught is not None:
            return Caught(caught)
        raise err from None


class Caught:
    """A state whose error a catcher took: ``step`` is the catcher's ``(next, output)``."""

    __slots__ = ("step",)

    def __init__(self, step: Step) -> None:
        self.step = step


async def attempt_and_finish(ex: Execution, st: Any, raw: Json, frame: Frame, entered_id: int, kind: str,
                             attempt: Callable[[StateEnv], Awaitable[Json]],
                             failed: Callable[[], None] | None = None) -> Step:
    """A Task/Parallel/Map state after entry: attempts under Retry/Catch, then the result data flow."""
    env = StateEnv(ex, frame, st.name, time.time(), retry_count=0)
    outcome = await with_retry(ex, st, raw, frame, env, entered_id, kind, attempt, failed)
    if isinstance(outcome, Caught):
        return outcome.step
    result, env = outcome
    if st.jsonata:  # (an expression computing long is evaluated in the pool: see on_loop)
        states = states_binding(raw, env, st)
        try:
            out = on_loop(ex, frame, tail, ex, st, raw, result, frame, env, states, kind, entered_id)
        except Offload as gave_up:
            out = await via_pool(ex, frame, gave_up, tail, ex, st, raw, result, frame, env, states, kind,
                                 entered_id)
        return after_tail(st, out)
    selected = _UNSELECTED
    if st.result_selector is not None:  # (heavy intrinsics in it are evaluated in the pool: evaluate_off_loop)
        with contextlib.suppress(errors.StatesError):  # (then evaluated again by tail: its error to the catchers)
            selected = await evaluate_off_loop(ex, st.result_selector, result, env)
    return after_tail(st, tail(ex, st, raw, result, frame, env, None, kind, entered_id, selected))


def after_tail(st: Any, out: Json | Caught) -> Step:
    """The step a state ends with: its own Next, or the catcher's when ``out`` was caught."""
    if isinstance(out, Caught):
        return out.step
    return st.next, out


