"""The background lane: long-running executions take their turns behind everything else.

An execution that has computed for many slices in a row (a loop of Pass/Choice states, say) still yields after
each slice, but then waits in this lane's queue: the lane lets one such execution go on per turn of the event
loop, whichever the number of them, so every other task (short executions, the worker's intake, lease renewals,
acknowledgements) waits one slice at most between two of its steps. On a core of its own, a long execution
is not slowed down (the loop only polls its I/O between two slices).

When the process does not get the CPU it asks for (other processes compete for the cores: its CPU time lags
its wall-clock time), a background turn also sleeps a millisecond: a process that never blocks is queued behind
the other runnable processes by the operating system and answers its I/O late, while one that waits part of
the time is woken at once when its I/O comes. Measured on a 2-core machine shared with busy processes, the
short executions' p99 beside a loop went from 40-100 ms without the pauses to 25-50 ms with them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import anyio
from anyio.lowlevel import checkpoint

from .execution import SLICE_SECONDS, Execution

#: Turns an execution takes before it waits in the background lane on each (:func:`give_turn`: after ~50 ms of
#: computing).
TURNS_BEFORE_BACKGROUND = 25
#: Seconds over which the process's share of the CPU is measured, the share under which it counts as
#: contended, and how long a background turn then sleeps.
CONTENTION_WINDOW = 0.02
CONTENDED_SHARE = 0.85
PAUSE_SECONDS = 0.001


class _Lane:
    """A FIFO of waiting long-running executions, one let go per turn of the event loop."""

    __slots__ = ("contended", "cpu", "loop", "pumping", "queue", "wall")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.queue: deque[asyncio.Future[None]] = deque()
        self.pumping = False
        self.cpu = time.process_time()
        self.wall = time.monotonic()
        self.contended = False

    def admit(self) -> None:
        """Let the first waiter go on (from the loop's next turn), and the next one at the turn after."""
        queue = self.queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():  # (a cancelled waiter is skipped)
                waiter.set_result(None)
                break
        if queue:
            assert self.loop is not None
            self.loop.call_soon(self.admit)
        else:
            self.pumping = False

    def measure(self) -> bool:
        """Whether the process got less of the CPU than it asked for, over the last window (or so)."""
        wall = time.monotonic()
        span = wall - self.wall
        if span > CONTENTION_WINDOW:
            cpu = time.process_time()
            self.contended = cpu - self.cpu < CONTENDED_SHARE * span
            self.cpu, self.wall = cpu, wall
        return self.contended


_lane = _Lane(None)


async def background_turn() -> None:
    """Give the event loop a turn, and wait behind the other long-running executions for the next."""
    global _lane
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # pragma: no cover - not on asyncio: an ordinary turn
        await checkpoint()
        return
    lane = _lane
    if lane.loop is not loop:  # (a new event loop: tests, or a process that runs several in turn)
        lane = _lane = _Lane(loop)
    if lane.measure():
        await anyio.sleep(PAUSE_SECONDS)
    waiter: asyncio.Future[None] = loop.create_future()
    lane.queue.append(waiter)
    if not lane.pumping:
        lane.pumping = True
        loop.call_soon(lane.admit)
    await waiter


async def give_turn(ex: Execution) -> None:
    """Let the event loop run the other tasks, then start a new slice.

    An execution that has computed for many slices in a row (:data:`TURNS_BEFORE_BACKGROUND`) then waits
    behind everything else, in the background lane (:func:`background_turn`).
    """
    ex.turns += 1
    if ex.turns > TURNS_BEFORE_BACKGROUND:
        await background_turn()
    else:
        await checkpoint()
    ex.slice_end = time.monotonic() + SLICE_SECONDS
