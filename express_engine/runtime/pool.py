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
from threading import get_ident
from typing import Any

import anyio
import anyio.to_thread

from ..asl.offload import RESTARTABLE
from ..jsonutil import Json
from .execution import Execution, Frame, SliceSpent
from .steps import Step

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
    when they may not run in the pool (in TestState, beside a concurrent branch)."""
    return get_ident() if ex.inspection is None and ex not in CONCURRENT else 0


class Offloaded(SliceSpent):
    """A sync graph stopped at state ``idx`` (input ``value``), which is to run in the pool."""


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
