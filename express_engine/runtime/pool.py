"""The thread pool where a sync state runs again when one of its expressions computed too long on the event loop.

See :mod:`express_engine.asl.offload`: the evaluation gave up with ``Offload`` after a slice; the run loop takes
back the state's ``...StateEntered`` event (its only effect so far) and runs the whole state again in one of
:data:`OFFLOAD_THREADS` threads, where its evaluations run to their end (bounded in time as ever) while the
event loop serves the other executions.
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

#: states run in the pool so far (in this process)
offloaded = 0


#: executions running branches (Parallel, Map) concurrently, and how many fan-outs of theirs do: their states
#: never run in the pool (a thread would change the execution, its event ids, while another branch does)
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


async def offloadable(ex: Execution, frame: Frame, fn: Callable[..., T], *args: Any,
                      first: Offload | None = None) -> T:
    """``fn(*args)`` on the event loop, where an evaluation in it that computes for a slice gives up: the
    events ``fn`` recorded are taken back, that one evaluation runs in the pool, and ``fn`` runs again with its
    outcome ready (for each evaluation that gives up).

    ``fn`` must be deterministic up to each of its evaluations, evaluate each template once, and have no
    effect before its last evaluation but events (in ``frame``) that running it again would repeat.
    ``first``: how ``fn`` gave up already (its events taken back).
    """
    restartable = RESTARTABLE
    thread = get_ident()
    answers: list[tuple[Any, Json, errors.StatesError | None]] = []
    if first is not None:  # (fn gave up already, its events taken back)
        answers.append(await evaluate_in_pool(first))
    while True:
        restores = [template.answer_once(value, error, thread) for template, value, error in answers]
        held = restartable.thread
        restartable.thread = thread if ex.inspection is None else 0
        last_id, prev = ex.last_event_id, frame.prev
        recorder = ex.recorder
        recorded = len(recorder.events) if recorder is not None else 0
        try:
            return fn(*args)
        except Offload as gave_up:
            pending = gave_up
            if recorder is not None:  # (nothing else ran meanwhile: the events since are fn's)
                while len(recorder.events) > recorded:
                    recorder.bytes -= recorder.size(recorder.events.pop()["details"])
            ex.last_event_id, frame.prev = last_id, prev
        finally:
            restartable.thread = held
            for restore in reversed(restores):
                restore()
        answers.append(await evaluate_in_pool(pending))
