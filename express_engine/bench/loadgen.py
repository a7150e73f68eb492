"""The load generator: open loop at a fixed rate, or closed loop at a fixed concurrency.

**Open loop** (``rate``): start ``i`` is due at ``t0 + i / rate`` whatever happened before; every due
start is sent at once, up to ``max_in_flight`` outstanding (for remote targets, starts due within
1 ms of each other leave together rather than busy-waiting for each). Latency is measured from the
*scheduled* time, not from the moment the request left: when the target (or the generator itself)
falls behind, the requests that should have gone out meanwhile are charged the wait, which corrects
for coordinated omission. The uncorrected figure is kept as *service time*.

**Closed loop** (``concurrency``): ``N`` callers, each sending its next start as soon as the previous
answer arrives; latency is the request's own duration.

Both stop sending after ``duration`` seconds or ``count`` starts, then wait up to ``drain_timeout``
seconds for the answers still outstanding (those still missing then are reported as abandoned).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..gctune import settle_heap
from ..histogram import Histogram
from .targets import Outcome, Target


@dataclass(frozen=True, slots=True)
class Plan:
    """How to load the target."""

    #: open loop: starts per second (exclusive with ``concurrency``)
    rate: float | None = None
    #: closed loop: callers (exclusive with ``rate``)
    concurrency: int | None = None
    #: seconds of sending (at least one of duration / count)
    duration: float | None = None
    #: starts to send
    count: int | None = None
    #: open loop: outstanding requests at most (the schedule waits, and the wait is charged to latency)
    max_in_flight: int = 10_000
    #: seconds to wait for outstanding answers after the last send
    drain_timeout: float = 30.0

    @property
    def open_loop(self) -> bool:
        """Whether this is an open-loop (fixed rate) plan."""
        return self.rate is not None


@dataclass(slots=True)
class Second:
    """What happened during one second of the run (completions by completion time, sends by send time)."""

    sent: int = 0
    completed: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=Histogram)
    max_ms: float = 0.0
    in_flight: int = 0
    client_cpu_percent: float | None = None
    worker_cpu_percent: float | None = None
    server_cpu_percent: float | None = None


class Recorder:
    """Counts and latency histograms of one run."""

    def __init__(self, open_loop: bool) -> None:
        self.open_loop = open_loop
        self.t0 = time.perf_counter()
        self.sent = 0
        self.completed = 0
        self.succeeded = 0
        self.in_flight = 0
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.error_count = 0
        #: latency (open loop: from the due time)
        self.latency = Histogram()
        #: time from the actual send to the answer (same as latency in closed loop)
        self.service = Histogram()
        self.latency_sum_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = 0.0
        #: open loop: longest delay between a start's due time and its actual send
        self.max_send_lag_ms = 0.0
        self.seconds: list[Second] = []
        self.last_send = self.t0
        self.last_done = self.t0

    def _second(self, t: float) -> Second:
        i = max(0, int(t - self.t0))
        seconds = self.seconds
        while len(seconds) <= i:
            seconds.append(Second())
        return seconds[i]

    def on_send(self, due: float, now: float) -> None:
        """A start leaves (``due``: when it was scheduled)."""
        self.sent += 1
        self.in_flight += 1
        self.last_send = now
        self._second(due).sent += 1
        lag = (now - due) * 1000.0
        if lag > self.max_send_lag_ms:
            self.max_send_lag_ms = lag

    def on_done(self, due: float, sent: float, now: float, outcome: Outcome) -> None:
        """A start was answered."""
        self.in_flight -= 1
        self.completed += 1
        self.last_done = now
        status, error = outcome
        self.statuses[status] = self.statuses.get(status, 0) + 1
        ms = (now - due) * 1000.0
        self.latency.add(ms)
        self.latency_sum_ms += ms
        if ms < self.min_ms:
            self.min_ms = ms
        if ms > self.max_ms:
            self.max_ms = ms
        if self.open_loop:
            self.service.add((now - sent) * 1000.0)
        second = self._second(now)
        second.completed += 1
        second.latency.add(ms)
        if ms > second.max_ms:
            second.max_ms = ms
        if error is None:
            self.succeeded += 1
        else:
            self.error_count += 1
            self.errors[error] = self.errors.get(error, 0) + 1
            second.errors += 1

    @property
    def elapsed(self) -> float:
        """Seconds since the start of the run."""
        return time.perf_counter() - self.t0


async def _call(target: Target) -> Outcome:
    try:
        return await target.call()
    except Exception as exc:  # a failure the target did not expect: counted by name, the run goes on
        return ("ERROR", type(exc).__name__)


async def run_load(target: Target, plan: Plan, *, tick: Callable[[Recorder], Any] | None = None) -> Recorder:
    """Drive ``target`` as ``plan`` says; ``tick(recorder)`` is called about once a second (progress, sampling)."""
    settle_heap()  # full GC passes over the generator's start-up heap would be charged to the target's latency
    rec = Recorder(plan.open_loop)
    done_sending = anyio.Event()

    async def ticker() -> None:
        n = 1
        while True:
            await anyio.sleep(max(0.0, rec.t0 + n - time.perf_counter()))
            n += 1
            if tick is not None:
                tick(rec)

    async with anyio.create_task_group() as outer:
        outer.start_soon(ticker)
        async with anyio.create_task_group() as tg:
            if plan.open_loop:
                tg.start_soon(_open_loop, target, plan, rec, tg, done_sending)
            else:
                for _ in range(plan.concurrency or 1):
                    tg.start_soon(_caller, target, plan, rec)
                tg.start_soon(_closed_until, plan, rec, done_sending)
            await done_sending.wait()
            # Sending is over: give the outstanding answers their drain time, then give up on them.
            with anyio.move_on_after(plan.drain_timeout):
                while rec.in_flight:
                    await anyio.sleep(0.005)
            tg.cancel_scope.cancel()
        if tick is not None:
            tick(rec)
        outer.cancel_scope.cancel()
    return rec


def _stop_time(plan: Plan, t0: float) -> float:
    return t0 + plan.duration if plan.duration is not None else math.inf


async def _closed_until(plan: Plan, rec: Recorder, done_sending: anyio.Event) -> None:
    """Closed loop: signal the end of sending (time or count reached)."""
    stop = _stop_time(plan, rec.t0)
    while time.perf_counter() < stop and (plan.count is None or rec.sent < plan.count):
        await anyio.sleep(0.01)
    done_sending.set()


async def _caller(target: Target, plan: Plan, rec: Recorder) -> None:
    """One closed-loop caller."""
    clock = time.perf_counter
    stop = _stop_time(plan, rec.t0)
    count = plan.count
    last_yield = clock()
    while True:
        t = clock()
        if t >= stop or (count is not None and rec.sent >= count):
            return
        rec.on_send(t, t)
        outcome = await _call(target)
        now = clock()
        rec.on_done(t, t, now, outcome)
        if now - last_yield > 0.002:
            # An in-process execution that never suspends returns without yielding: let the
            # progress ticker and the other callers run.
            last_yield = now
            await anyio.lowlevel.checkpoint()


async def _open_loop(target: Target, plan: Plan, rec: Recorder, tg: Any, done_sending: anyio.Event) -> None:
    """The open-loop scheduler: sends every due start, sleeping until the next one is due."""
    assert plan.rate is not None and plan.rate > 0
    clock = time.perf_counter
    interval = 1.0 / plan.rate
    t0 = rec.t0
    stop = _stop_time(plan, t0)
    count = plan.count
    limit = plan.max_in_flight
    grain = target.send_grain
    slot_free = anyio.Event()

    async def one(due: float, sent: float) -> None:
        try:
            outcome = await _call(target)
        finally:
            if rec.in_flight == limit:
                slot_free.set()
        rec.on_done(due, sent, clock(), outcome)

    i = 0
    planned = t0  # when the current batch was planned to leave
    try:
        while count is None or i < count:
            due = t0 + i * interval
            if due >= stop:
                break
            now = clock()
            if due > now:
                # Starts due within the next ``grain`` leave together: no busy loop at high rates. This
                # deliberate delay is not charged to them; any lateness beyond it is.
                planned = max(due, now + grain)
                await anyio.sleep(planned - now)
                continue
            if rec.in_flight >= limit:
                slot_free = anyio.Event()
                await slot_free.wait()  # the due time stays: this wait is charged to the latency
                continue
            intended = max(due, planned)
            rec.on_send(intended, now)  # counted here, so the in-flight bound holds before the task runs
            tg.start_soon(one, intended, now)
            i += 1
            if i % 256 == 0:
                await anyio.lowlevel.checkpoint()  # a long backlog of due starts: let some leave
    finally:
        done_sending.set()
