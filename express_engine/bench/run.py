"""One benchmark run: open the target, load it with progress, drain, measure resources, build the report."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio

from .loadgen import Plan, Recorder, run_load
from .progress import Mode, Progress
from .report import build_report
from .resources import ResourceMonitor
from .targets import Target


async def run_bench(target: Target, plan: Plan, progress: Mode = "auto", warmup: float = 0.0) -> dict[str, Any]:
    """Run ``plan`` against ``target`` (opened and closed here) and return the report.

    ``warmup`` seconds of the same load run first, unrecorded (connections, caches, allocator).
    Raises :class:`~express_engine.bench.targets.TargetError` when the target cannot be opened.
    """
    await target.open()
    closed = False
    try:
        if warmup > 0:
            await run_load(target, replace(plan, duration=warmup, count=None,
                                           drain_timeout=min(plan.drain_timeout, 10.0)))
        monitor = ResourceMonitor(target.redis, target.namespace, workers_in_process=target.kind == "inprocess")
        await monitor.start()
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        t_start = time.perf_counter()
        sampler = _CpuSampler(monitor)
        title = f"express-engine bench: {target.kind} {'sync' if target.sync else 'async'} " \
                f"{target.arn.rsplit(':', 1)[-1]}"
        with Progress(plan, progress, title=title) as display:
            def tick(rec: Recorder) -> None:
                sampler.sample(rec)
                display.update(rec)

            rec = await run_load(target, plan, tick=tick)
        drain = None
        if not target.sync:
            drain = await _drain(target, plan, rec)
            closed = target.kind == "inprocess"
        await monitor.finish()
        wall = time.perf_counter() - t_start
        report = build_report(target=target.describe(), plan=plan, rec=rec, resources=monitor.report(wall),
                              drain=drain, started_at=started_at, input_bytes=len(target.input_text.encode()))
        report["load"]["warmup_s"] = warmup
        return report
    finally:
        if not closed:
            await target.close()


async def _drain(target: Target, plan: Plan, rec: Recorder) -> dict[str, Any]:
    """After async starts: wait (up to the drain timeout) for the engine to finish the executions accepted."""
    t = time.perf_counter()
    since_start = t - rec.t0
    if target.kind == "inprocess":
        await target.close()  # leaving the engine's task group waits for its background executions
        left: int | None = 0
    else:
        try:
            left = await target.backlog()
        except Exception:  # Redis unreachable: the drain is unknown
            left = None
        if left is None:
            return {"backlog_at_end": None, "note": "no Redis URL: the end of the executions cannot be observed"}
        backlog_at_end = left
        with anyio.move_on_after(plan.drain_timeout):
            while left:
                await anyio.sleep(0.01)
                left = await target.backlog()
        if left is not None and left > 0:
            return {"backlog_at_end": backlog_at_end, "drained": False, "backlog_left": left}
    drained = time.perf_counter() - t
    return {"drained": True, "drain_s": round(drained, 3),
            "end_to_end_per_s": round(rec.sent / max(1e-9, since_start + drained), 1),
            "note": "time after the last answer until the engine had finished every accepted start "
                    "(an empty start stream)"}


class _CpuSampler:
    """CPU use of this process, the local workers and their ``serve`` process, per second of the run."""

    def __init__(self, monitor: ResourceMonitor) -> None:
        self.monitor = monitor
        self.workers = any(w.pid is not None for w in monitor.workers.values())
        self.servers = bool(monitor.servers)
        self._prev = (time.perf_counter(), *monitor.cpu_seconds())

    def sample(self, rec: Recorder) -> None:
        now = time.perf_counter()
        second = rec._second(now - 0.5)  # the second that just ended
        second.in_flight = rec.in_flight
        t, c0, w0, s0 = self._prev
        dt = now - t
        if dt < 0.2:  # the final tick right after the last regular one: nothing to measure
            return
        client, workers, servers = self.monitor.cpu_seconds()
        self._prev = (now, client, workers, servers)
        second.client_cpu_percent = round(100.0 * (client - c0) / dt, 1)
        if self.workers:
            second.worker_cpu_percent = round(100.0 * (workers - w0) / dt, 1)
        if self.servers:
            second.server_cpu_percent = round(100.0 * (servers - s0) / dt, 1)
