"""Parallel and Map: branches and iterations run concurrently in anyio task groups.

Results keep branch/item order; the first failure that is not tolerated cancels the siblings. A graph
that never suspends is run inline, one job after the other: nothing could interleave anyway.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from threading import get_ident
from typing import Any

import anyio
import anyio.lowlevel

from .. import errors
from ..asl import model as m
from ..asl.jsonata import unexpected_type_error
from ..asl.offload import RESTARTABLE, Offload
from ..asl.paths import Path, PathNotFound, VariableNotFound
from ..jsonutil import Json, dumps
from .dataflow import apply_input_path, not_found_cause
from .execution import Execution, Frame, SliceSpent, StateEnv
from .lanes import give_turn
from .pool import concurrent_in, evaluate_in_pool, evaluate_off_loop, on_loop, pure_in_pool, via_pool
from .steps import Step, attempt_and_finish, entered, render, states_binding

GraphRunner = Callable[[Execution, m.Graph, Json, Frame], Awaitable[Json]]
SyncGraphRunner = Callable[[Execution, m.Graph, Json, Frame], Json]
SyncGraphResumer = Callable[[Execution, m.Graph, SliceSpent, Frame], Awaitable[Json]]

# The interpreter's graph runners, handed over by :func:`use_graph_runners` when it is imported: branches and
# iterations are sub-graphs, and the interpreter (which dispatches to the steps here) sits above this module.
_run_graph: GraphRunner
_run_graph_sync: SyncGraphRunner
_resume_graph_sync: SyncGraphResumer


def use_graph_runners(run_graph: GraphRunner, run_graph_sync: SyncGraphRunner,
                      resume_graph_sync: SyncGraphResumer) -> None:
    """Set the functions that run a branch's or an iteration's graph (the interpreter's)."""
    global _run_graph, _run_graph_sync, _resume_graph_sync
    _run_graph, _run_graph_sync, _resume_graph_sync = run_graph, run_graph_sync, resume_graph_sync

# -- Parallel and Map -------------------------------------------------------------------------------


def _release(ex: Execution, frame: Frame) -> None:
    """A branch or iteration has ended: its variables no longer count towards the execution's total."""
    if frame.variable_sizes:
        ex.variables_bytes -= sum(frame.variable_sizes.values())
        frame.variable_sizes = None


class Fan:
    """A running Parallel or Map state, as its graph's ``Frame.active``: which branches are in flight.

    When a branch or iteration fails, the ones still running are cancelled, and AWS logs an aborted event for
    each: ``MapIterationAborted`` and the ``TaskStateAborted`` / ``WaitStateAborted`` / ... of the state it was in.
    """

    __slots__ = ("kind", "name", "running")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        #: the frames of the branches / iterations in flight, by index
        self.running: dict[int, Frame] = {}


#: States whose execution is aborted, with its own event, when its branch fails or is cancelled (a Task whose
#: call failed, a Wait): AWS logs ``TaskStateAborted`` even for the Task whose failure failed the branch.
_LEAF_ABORTS = {"Task": "TaskStateAborted", "Wait": "WaitStateAborted"}


def abort(ex: Execution, frame: Frame, previous: int, failing: bool = False) -> None:
    """Log the aborted events of what ``frame`` was running when its branch was stopped.

    All of them point at ``previous``, the event that failed the enclosing Parallel/Map (AWS records them so).
    ``failing``: ``frame`` is the branch that failed; a Parallel/Map in it already logged its own failure.
    """
    active = getattr(frame, "active", None)
    if active is None:
        return
    if type(active) is str:
        leaf = _LEAF_ABORTS.get(active)
        if leaf is not None:
            ex.event(None, leaf, previous=previous)
        return
    if failing:
        return
    _abort_running(ex, active, previous)
    ex.event(None, f"{active.kind}StateAborted", previous=previous)


def _abort_running(ex: Execution, fan: Fan, previous: int) -> None:
    """Aborted events for every branch / iteration of ``fan`` still in flight, in index order."""
    running, fan.running = fan.running, {}
    for i in sorted(running):
        if fan.kind == "Map":
            ex.event(None, "MapIterationAborted", {"index": i, "name": fan.name} if ex.recording else None,
                     previous=previous)
        abort(ex, running[i], previous)


async def _run_all(ex: Execution, jobs: list[tuple[m.Graph, Json, Frame]],
                   limit: int, on_error: Callable[[int, errors.StatesError], bool] | None = None,
                   on_start: Callable[[int, Frame], None] | None = None,
                   on_done: Callable[[int, Frame], None] | None = None,
                   on_fail: Callable[[int], None] | None = None,
                   running: dict[int, Frame] | None = None) -> list[Json]:
    """Run graphs concurrently (at most ``limit`` at once; 0 = all), results in job order.

    The first error that ``on_error`` does not tolerate cancels the rest and is raised; ``on_fail`` is called
    with its job's index first, while the other jobs are still in flight. ``running``, when given, holds the
    frames of the jobs in flight while they run concurrently (jobs run one after another are never in flight
    while something else runs, so they are not entered there).
    """
    results: list[Json] = [None] * len(jobs)
    failure: list[errors.StatesError] = []

    if all(g.sync for g, _, _ in jobs):
        # No job can suspend, so running them one after another is indistinguishable from concurrency (the
        # execution still gives the loop a turn whenever its slice is spent, between jobs or within one).
        clock = time.monotonic
        for i, (graph, value, frame) in enumerate(jobs):
            if on_start:
                on_start(i, frame)
            try:
                try:
                    results[i] = _run_graph_sync(ex, graph, value, frame)
                except SliceSpent as spent:
                    results[i] = await _resume_graph_sync(ex, graph, spent, frame)
                if clock() > ex.slice_end:
                    await give_turn(ex)
            except errors.StatesError as err:
                try:
                    tolerated = on_error is not None and on_error(i, err)
                except errors.StatesError as threshold:  # e.g. ExceedToleratedFailureThreshold
                    err, tolerated = threshold, False
                if not tolerated:
                    if on_fail:
                        on_fail(i)
                    raise err from None
                results[i] = {"Error": err.error, "Cause": err.cause or ""}
                continue
            finally:
                _release(ex, frame)
            if on_done:
                on_done(i, frame)
        return results

    next_index = iter(range(len(jobs)))
    if running is None:
        running = {}

    async def worker(cancel: anyio.CancelScope) -> None:
        for i in next_index:
            if failure:  # (a worker that had not started yet runs until its first checkpoint: start nothing)
                return
            graph, value, frame = jobs[i]
            if on_start:
                on_start(i, frame)
            running[i] = frame
            try:
                results[i] = await _run_graph(ex, graph, value, frame)
            except errors.StatesError as err:
                del running[i]
                try:
                    tolerated = on_error is not None and on_error(i, err)
                except errors.StatesError as threshold:  # e.g. ExceedToleratedFailureThreshold
                    err, tolerated = threshold, False
                if tolerated:
                    results[i] = {"Error": err.error, "Cause": err.cause or ""}
                    continue
                if not failure:
                    failure.append(err)
                    if on_fail:
                        on_fail(i)
                cancel.cancel()
                return
            finally:  # (also when cancelled)
                _release(ex, frame)
            del running[i]
            if on_done:
                on_done(i, frame)

    workers = len(jobs) if limit <= 0 else min(limit, len(jobs))
    concurrent_in(ex, 1)  # (its states are never run in the pool meanwhile: the branches share the execution)
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker, tg.cancel_scope)
    finally:
        concurrent_in(ex, -1)
    if failure:
        raise failure[0]
    return results


async def step_parallel(ex: Execution, st: m.Parallel, raw: Json, frame: Frame) -> Step:
    """Run every branch on the state's effective input; the result is their outputs in branch order."""
    entered_id = entered(ex, frame, "Parallel", st.name, raw)
    fan = frame.active = Fan("Parallel", st.name)

    async def attempt(env: StateEnv) -> Json:
        if st.jsonata:
            states = states_binding(raw, env, st)
            value = raw
            if st.arguments is not None:  # (an expression computing long is evaluated in the pool: see on_loop)
                try:
                    value = on_loop(ex, frame, st.arguments.evaluate, states, env.variables)
                except Offload as gave_up:
                    value = await via_pool(ex, frame, gave_up, st.arguments.evaluate, states, env.variables)
        else:
            value = apply_input_path(st.input_path, raw, env)
            if st.parameters is not None:
                value = await evaluate_off_loop(ex, st.parameters, value, env)  # (heavy intrinsics: the pool)
        started = ex.event(frame, "ParallelStateStarted")
        jobs = [(g, value, frame.child(started)) for g in st.branches]
        # The last event of the branch that ended last (ParallelStateSucceeded and ParallelStateExited point at
        # it), then the event that failed a branch (the aborted events and ParallelStateFailed point at it).
        last = started

        def on_done(i: int, child: Frame) -> None:
            nonlocal last
            last = child.prev

        def on_error(i: int, err: errors.StatesError) -> bool:
            nonlocal last
            child = jobs[i][2]
            last = child.prev
            abort(ex, child, last, failing=True)
            return False

        def on_fail(i: int) -> None:
            _abort_running(ex, fan, last)
            frame.prev = last

        try:
            result = await _run_all(ex, jobs, 0, on_error, None, on_done, on_fail, fan.running)
        except errors.StatesError:
            ex.event(frame, "ParallelStateFailed")
            raise
        ex.event(None, "ParallelStateSucceeded", previous=last)
        frame.prev = last
        return result

    step = await attempt_and_finish(ex, st, raw, frame, entered_id, "Parallel", attempt)
    frame.active = None
    return step


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
    raise errors.Runtime(f'The {field} field refers to value "{render(n)}" which is not a valid integer: '
                         f"{path.text}")


def _map_items(st: m.Map, raw: Json, value: Json, env: StateEnv, states: dict[str, Json] | None) -> list[Json]:
    if st.items_expr is not None:
        items = st.items_expr.evaluate(states or {}, env.variables)
        if not isinstance(items, list):
            raise unexpected_type_error(st.items_expr, "array", items)
        return items
    items = items_at(st.items_path, value, env) if st.items_path is not None else value
    if not isinstance(items, list):
        error = errors.QueryEvaluationError if st.jsonata else errors.Runtime
        raise error(f"Map state input must be an array but was: {dumps(items)}")
    return items


def items_at(items_path: Path, value: Json, env: StateEnv) -> Json:
    """What a Map's ``ItemsPath`` selects in its effective input (States.Runtime when it selects nothing)."""
    try:
        return items_path.get(value, env)
    except PathNotFound as exc:
        raise errors.Runtime(not_found_cause(items_path, exc.value)) from None
    except VariableNotFound as exc:
        raise errors.Runtime(f"The variable '${exc.name}' is not defined.") from None


def _evaluate_number(template: m.JsonataExpr, states: dict[str, Json] | None, env: StateEnv,
                     requirement: str, accepts: Callable[[float], bool]) -> float:
    """A Map number given as JSONata (``MaxConcurrency``, ``ToleratedFailure*``), checked like AWS's fields."""
    value = template.evaluate(states or {}, env.variables)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise unexpected_type_error(template, "number", value)
    if not accepts(value):
        raise errors.QueryEvaluationError(f"The {template.field} field must be {requirement}, but was: {render(value)}")
    return value


def _whole(value: float) -> bool:
    return value >= 0 and float(value).is_integer()


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


def _tolerance(st: m.Map, value: Json, env: StateEnv, states: dict[str, Json] | None, n: int) -> int | None:
    """How many failed iterations are tolerated (None: any failure fails the Map)."""
    count = st.tolerated_count
    if st.tolerated_count_path is not None:
        count = _int_from_path(st.tolerated_count_path, value, env, "ToleratedFailureCountPath")
    elif st.tolerated_count_expr is not None:
        count = int(_evaluate_number(st.tolerated_count_expr, states, env, "a non-negative integer", _whole))
    pct = st.tolerated_percentage
    if st.tolerated_percentage_expr is not None:
        pct = float(_evaluate_number(st.tolerated_percentage_expr, states, env, "a number between 0 and 100",
                                     lambda p: 0 <= p <= 100))
    if st.tolerated_percentage_path is not None:
        try:
            raw_pct = st.tolerated_percentage_path.get(value, env)
        except (PathNotFound, VariableNotFound):
            raise errors.Runtime("The ToleratedFailurePercentagePath field refers to a path that does not exist: "
                                 f"{st.tolerated_percentage_path.text}") from None
        pct = _number(raw_pct)
        if pct is None:
            # Worded like AWS's recorded ToleratedFailureCountPath / MaxConcurrencyPath causes (a Java float here).
            raise errors.Runtime(f'The ToleratedFailurePercentagePath field refers to value "{render(raw_pct)}" '
                                 f"which is not a valid float: {st.tolerated_percentage_path.text}")
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
    """Run the item processor over every item; the result is their outputs in item order."""
    entered_id = entered(ex, frame, "Map", st.name, raw)
    fan = frame.active = Fan("Map", st.name)

    async def attempt(env: StateEnv) -> Json:
        return await _map_once(ex, st, raw, frame, env, states_binding(raw, env, st) if st.jsonata else None, fan)

    def failed() -> None:  # (not retried: a retried attempt logs no MapStateFailed)
        ex.event(frame, "MapStateFailed")

    step = await attempt_and_finish(ex, st, raw, frame, entered_id, "Map", attempt, failed)
    frame.active = None
    return step


def _map_plan(st: m.Map, raw: Json, env: StateEnv, states: dict[str, Json] | None
              ) -> tuple[Json, list[Json], int, int | None]:
    """A Map's effective input, items (or batches), MaxConcurrency and tolerated failures."""
    value = raw if st.jsonata else apply_input_path(st.input_path, raw, env)
    items = _map_items(st, raw, value, env, states)
    limit = st.max_concurrency
    if st.max_concurrency_path is not None:
        limit = _int_from_path(st.max_concurrency_path, value, env, "MaxConcurrencyPath")
    elif st.max_concurrency_expr is not None:
        limit = int(_evaluate_number(st.max_concurrency_expr, states, env, "a non-negative integer", _whole))
    tolerated = _tolerance(st, value, env, states, len(items))
    if st.batch_max_items is not None or st.batch_max_bytes is not None:
        items = _batches(st, items, value, env)
    return value, items, limit, tolerated


async def _map_once(ex: Execution, st: m.Map, raw: Json, frame: Frame, env: StateEnv,
                    states: dict[str, Json] | None, fan: Fan) -> list[Json]:
    if st.jsonata:  # (an expression computing long is evaluated in the pool: see on_loop)
        try:
            value, items, limit, tolerated = on_loop(ex, frame, _map_plan, st, raw, env, states)
        except Offload as gave_up:
            value, items, limit, tolerated = await via_pool(ex, frame, gave_up, _map_plan, st, raw, env, states)
    else:
        value, items, limit, tolerated = _map_plan(st, raw, env, states)
    started = ex.event(frame, "MapStateStarted", {"length": len(items)} if ex.recording else None)
    jobs = []
    selector = st.item_selector_expr
    restartable = RESTARTABLE
    thread = get_ident() if (selector is not None or st.item_selector is not None) and ex.inspection is None else 0
    restartable.thread = thread  # (an ItemSelector computing long gives up: evaluated in the pool)
    try:
        for index, item in enumerate(items):
            map_item = {"Index": index, "Value": item}
            if st.item_selector is not None or selector is not None:
                item_env = env.with_map_item(map_item)
                if selector is not None:
                    binding = states_binding(raw, item_env)
                    try:
                        item_input = selector.evaluate(binding, env.variables)
                    except Offload as gave_up:
                        restartable.thread = 0
                        _, item_input, error = await evaluate_in_pool(gave_up)
                        restartable.thread = thread
                        if error is not None:
                            raise error from None
                else:
                    assert st.item_selector is not None
                    try:
                        item_input = st.item_selector(value, item_env)
                    except Offload:  # (a heavy intrinsic: the pool evaluates the selector)
                        restartable.thread = 0
                        item_input = await pure_in_pool(st.item_selector, value, item_env)
                        restartable.thread = thread
                if time.monotonic() > ex.slice_end:  # (many items each just under a slice: turns too)
                    restartable.thread = 0
                    await give_turn(ex)
                    restartable.thread = thread
            else:
                item_input = item
            jobs.append((st.processor, item_input, frame.child(started)))
    finally:
        restartable.thread = 0
    failures: list[int] = []
    # As AWS chains them: an iteration starts from the last event inside the iteration that ended last (from
    # MapStateStarted before any ended); MapStateSucceeded / MapStateExited point at the last iteration's
    # MapIterationSucceeded; after a failure, the aborted events and MapStateFailed point at the failing event.
    start_from = last = started

    on_start: Callable[[int, Frame], None]
    on_done: Callable[[int, Frame], None]
    if ex.recorder is None:  # logging off: the iteration events are only counted (their ids), not chained
        def on_start(i: int, child: Frame) -> None:
            ex.last_event_id += 1

        def on_done(i: int, child: Frame) -> None:
            ex.last_event_id += 1
    else:
        def on_start(i: int, child: Frame) -> None:
            ex.event(child, "MapIterationStarted", {"index": i, "name": st.name}, previous=start_from)

        def on_done(i: int, child: Frame) -> None:
            nonlocal start_from, last
            start_from = child.prev
            last = ex.event(child, "MapIterationSucceeded", {"index": i, "name": st.name})

    def on_error(i: int, err: errors.StatesError) -> bool:
        nonlocal start_from, last
        child = jobs[i][2]
        failed_at = start_from = child.prev
        last = ex.event(child, "MapIterationFailed", {"index": i, "name": st.name} if ex.recording else None)
        abort(ex, child, failed_at, failing=True)
        if tolerated is None:
            last = failed_at
            return False
        failures.append(i)
        if len(failures) > tolerated:
            last = failed_at
            raise errors.ExceedToleratedFailureThreshold("The specified tolerated failure threshold was exceeded")
        return True

    def on_fail(i: int) -> None:
        _abort_running(ex, fan, last)
        frame.prev = last

    results = await _run_all(ex, jobs, limit, on_error, on_start, on_done, on_fail, fan.running)
    ex.event(None, "MapStateSucceeded", previous=last)
    frame.prev = last
    return results
