"""The thread pool where an expression that computed too long on the event loop is evaluated to its end.

See :mod:`express_engine.asl.offload`: the evaluation gave up with ``Offload`` after a slice. A sync state (Pass,
Choice, Succeed, Fail) run by its execution alone has its ``...StateEntered`` event (its only effect so far) taken
back and runs again whole in one of :data:`OFFLOAD_THREADS` threads (:func:`run_in_pool`). Elsewhere — the JSONata
fields of Task, Wait, Map and Parallel states, and sync states beside concurrent branches of their execution (a
thread must not change an execution another branch changes meanwhile) — the code that evaluates them runs through
:func:`on_loop`: only the evaluation that gave up runs in the pool (it is pure), and that code runs again on the
loop with its value ready (:func:`via_pool`), so a Task is never invoked twice. Meanwhile the event loop serves the
other executions.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from threading import get_ident
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from .. import errors
from ..asl.offload import RESTARTABLE, Offload
from ..jsonutil import Json
from .execution import Execution, Frame, SliceSpent

#: a step's ``(next_index | None, output)`` (steps.Step; that module uses this one)
Step = tuple[int | None, Json]

T = TypeVar("T")

#: Threads running offloaded states at once (per event loop); more wait for one.
OFFLOAD_THREADS = 2
#: Seconds a thread computing holds the GIL when the event loop asks for it (Python's default is 5 ms: each
#: step of every other execution would wait that long while a state runs in the pool); set at first use.
SWITCH_INTERVAL = 0.001

_limiter: tuple[asyncio.AbstractEventLoop | None, anyio.CapacityLimiter | None] = (None, None)

#: states and evaluations run in the pool so far (in this process)
offloaded = 0


#: executions running branches (Parallel, Map) concurrently, and how many fan-outs of theirs do: their states
#: never run whole in the pool (a thread would change the execution, its event ids, while another branch does),
#: only the evaluation that gave up does (:func:`via_pool`)
CONCURRENT: dict[Execution, int] = {}


def concurrent_in(ex: Execution, delta: int) -> None:
    """Count a fan-out of ``ex`` running its branches concurrently in (``delta`` 1) or out (-1)."""
    n = CONCURRENT.get(ex, 0) + delta
    if n:
        CONCURRENT[ex] = n
    else:
        del CONCURRENT[ex]


def restart_thread(ex: Execution) -> int:
    """What ``RESTARTABLE.thread`` is set to while ``ex`` runs sync states on this thread: this thread, or 0
    when its evaluations must run to their end here (in TestState)."""
    return get_ident() if ex.inspection is None else 0


class Offloaded(SliceSpent):
    """A sync graph stopped at state ``idx`` (input ``value``), which is to run in the pool (or, beside
    concurrent branches of its execution, again on the loop once ``gave_up``'s evaluation ran in the pool)."""

    gave_up: Offload | None = None


def undo_entered(ex: Execution, frame: Frame) -> None:
    """Take back the ``...StateEntered`` event the state being offloaded recorded (it records it again)."""
    recorder = ex.recorder
    if recorder is not None and recorder.events and recorder.events[-1]["id"] == ex.last_event_id:
        event = recorder.events.pop()
        recorder.bytes -= recorder.size(event["details"])
        frame.prev = event["previous_event_id"]
    else:
        frame.prev = ex.last_event_id - 1
    ex.last_event_id -= 1


def _pool() -> anyio.CapacityLimiter:
    global _limiter
    loop = asyncio.get_running_loop()
    owner, limiter = _limiter
    if owner is not loop or limiter is None:
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        limiter = anyio.CapacityLimiter(OFFLOAD_THREADS)
        _limiter = (loop, limiter)
    return limiter


async def run_in_pool(step: Any, ex: Execution, st: Any, value: Json, frame: Frame) -> Step:
    """``step(ex, st, value, frame)`` in a thread of the pool (its evaluations are not offloaded again there)."""
    global offloaded
    assert RESTARTABLE.thread != get_ident()
    offloaded += 1
    result: Step = await anyio.to_thread.run_sync(functools.partial(step, ex, st, value, frame), limiter=_pool())
    return result


async def evaluate_in_pool(gave_up: Offload) -> tuple[Any, Json, errors.StatesError | None]:
    """The evaluation that gave up with ``gave_up``, run to its end in a thread of the pool: ``(template,
    value, error)``. Pure (no effect on the execution), so it may run beside the execution's concurrent
    branches."""
    global offloaded
    assert gave_up.evaluation is not None
    template, states, variables = gave_up.evaluation
    offloaded += 1
    try:
        value: Json = await anyio.to_thread.run_sync(template.evaluate, states, variables, limiter=_pool())
    except errors.StatesError as err:
        return template, None, err
    return template, value, None


async def pure_in_pool(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a pure evaluation (a JSONPath template, whose intrinsics gave up on the event loop), in a
    thread of the pool, where it runs to its end."""
    global offloaded
    offloaded += 1
    result: T = await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=_pool())
    return result


async def evaluate_off_loop(ex: Execution, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a pure evaluation (a JSONPath template), here; when one of its intrinsic calls gives up for
    being heavy (see :mod:`express_engine.asl.intrinsic_cost`), again in the pool (:func:`pure_in_pool`)."""
    if ex.inspection is not None:
        return fn(*args)
    restartable = RESTARTABLE
    held = restartable.thread
    restartable.thread = get_ident()
    try:
        return fn(*args)
    except Offload:
        pass
    finally:
        restartable.thread = held
    return await pure_in_pool(fn, *args)


def _take_back(ex: Execution, frame: Frame, last_id: int, prev: int) -> None:
    """Undo the events recorded since event ``last_id`` (``frame.prev`` then ``prev``): nothing else ran since."""
    recorder = ex.recorder
    if recorder is not None:
        events = recorder.events
        while events and events[-1]["id"] > last_id:
            recorder.bytes -= recorder.size(events.pop()["details"])
    ex.last_event_id, frame.prev = last_id, prev


def on_loop(ex: Execution, frame: Frame, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` here, where an evaluation in it that computes for a slice gives up: then the events ``fn``
    recorded are taken back and the :class:`Offload` goes on, for :func:`via_pool`.

    ``fn`` must be deterministic up to each of its evaluations, evaluate each template once, and have no
    effect before its last evaluation but events (in ``frame``) that running it again would repeat. (A plain
    call, not a coroutine, so that the fast path, where nothing gives up, costs next to nothing: ~0.6 µs.)
    """
    restartable = RESTARTABLE
    held = restartable.thread
    restartable.thread = get_ident() if ex.inspection is None else 0
    last_id, prev = ex.last_event_id, frame.prev
    try:
        return fn(*args)
    except Offload:
        _take_back(ex, frame, last_id, prev)
        raise
    finally:
        restartable.thread = held


async def via_pool(ex: Execution, frame: Frame, gave_up: Offload, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` that gave up with ``gave_up`` (in :func:`on_loop`, or a sync step whose entry was taken
    back): that evaluation runs in the pool, then ``fn`` again on the loop with its outcome ready (the template
    answers without computing), and so on for each evaluation that gives up."""
    thread = get_ident()
    answers = [await evaluate_in_pool(gave_up)]
    while True:
        restores = [template.answer_once(value, error, thread) for template, value, error in answers]
        try:
            return on_loop(ex, frame, fn, *args)
        except Offload as again:
            gave_up = again
        finally:
            for restore in reversed(restores):
                restore()
        answers.append(await evaluate_in_pool(gave_up))
