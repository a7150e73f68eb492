"""CPU and memory of the processes a benchmark loads: this process, and the worker processes behind Redis.

Workers are found in the ``workers`` consumer group of the namespace's start stream. Their consumer
name is ``host-pid-random`` (unless set with ``--consumer``), so a worker on this host is measured
from ``/proc/<pid>`` (Linux); its parent, when it is an ``express-engine`` process (``serve``: the
supervisor that also runs the HTTP API), is measured too. Workers on other hosts report only what
they publish to ``NS:stats`` (execution counts and latencies: no CPU or memory).
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def steal_seconds() -> float:
    """CPU time the hypervisor took from this (virtual) machine since boot, over all CPUs; 0 if unknown.

    Reported beside latency percentiles: a virtual CPU descheduled by the host stalls whatever runs on
    it, which shows as a tail latency no code here can remove.
    """
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process's resource use."""

    pid: int
    cpu_seconds: float
    rss_bytes: int
    max_rss_bytes: int
    ppid: int
    command: str


def read_proc(pid: int) -> ProcSample | None:
    """A process's CPU time (user + system) and memory from ``/proc``; None when unreadable or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read().decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            command = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        if pid == os.getpid():  # not Linux: this process at least
            usage = resource.getrusage(resource.RUSAGE_SELF)
            scale = 1 if sys.platform == "darwin" else 1024
            return ProcSample(pid, time.process_time(), usage.ru_maxrss * scale, usage.ru_maxrss * scale,
                              os.getppid(), " ".join(sys.argv))
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    memory = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) * 1024
    # This process: process_time() is exact, where /proc counts 10 ms clock ticks.
    cpu = time.process_time() if pid == os.getpid() else (int(fields[11]) + int(fields[12])) / _TICK
    return ProcSample(pid, cpu, memory.get("VmRSS", 0),
                      memory.get("VmHWM", 0), int(fields[1]), command)


def parse_consumer(name: str) -> tuple[str, int] | None:
    """``(host, pid)`` of a default consumer name ``host-pid-random``; None for a custom name."""
    host, sep, rest = name.rpartition("-")
    if not sep or len(rest) != 6:
        return None
    host, sep, pid = host.rpartition("-")
    if not sep or not pid.isdigit():
        return None
    return host, int(pid)


@dataclass(slots=True)
class Usage:
    """Resource use of one process over the benchmark (first and last readings)."""

    role: str
    pid: int | None
    first: ProcSample | None = None
    last: ProcSample | None = None
    consumer: str | None = None
    host: str | None = None
    #: NS:stats statistics of a worker at the start and at the end of the run
    stats_first: dict[str, Any] | None = None
    stats_last: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, wall: float) -> dict[str, Any]:
        """JSON form: CPU seconds and percent of one core over ``wall`` seconds, memory in bytes."""
        out: dict[str, Any] = {"role": self.role, "pid": self.pid}
        if self.consumer is not None:
            out["consumer"] = self.consumer
            out["host"] = self.host
        if self.first is not None and self.last is not None:
            cpu = max(0.0, self.last.cpu_seconds - self.first.cpu_seconds)
            out.update(cpu_seconds=round(cpu, 3), cpu_percent=round(100.0 * cpu / wall, 1) if wall > 0 else 0.0,
                       rss_bytes=self.last.rss_bytes, max_rss_bytes=self.last.max_rss_bytes)
        else:
            out["cpu_seconds"] = out["cpu_percent"] = out["rss_bytes"] = None
        if self.stats_last is not None:
            out["stats"] = worker_stats_delta(self.stats_first, self.stats_last)
        out.update(self.extra)
        return out


def worker_stats_delta(first: dict[str, Any] | None, last: dict[str, Any]) -> dict[str, Any]:
    """What a worker's published counters and latency histogram say about the benchmark window."""
    from ..histogram import Histogram

    first = first or {}
    out: dict[str, Any] = {}
    for key in ("executions", "succeeded", "failed", "timed_out", "redelivered", "sync_abandoned", "sync_expired",
                "dead_lettered", "lost", "reconnects", "log_dropped"):
        if key in last:
            out[key] = int(last[key]) - int(first.get(key, 0))
    before = first.get("latency_ms") or {}
    delta = {b: n - int(before.get(b, 0)) for b, n in (last.get("latency_ms") or {}).items()}
    hist = Histogram.from_dict({b: n for b, n in delta.items() if n > 0})
    out["latency_ms"] = {"p50": round(hist.percentile(50), 3), "p99": round(hist.percentile(99), 3),
                         "count": hist.total}
    return out


class ResourceMonitor:
    """Samples this process and, given a Redis connection, the namespace's worker processes."""

    def __init__(self, redis: Any = None, namespace: str = "ee", *, workers_in_process: bool = False) -> None:
        self.redis = redis
        self.namespace = namespace
        #: the engine runs in this process (inprocess target): it is the worker
        self.workers_in_process = workers_in_process
        self.client = Usage("load generator" + (" + engine" if workers_in_process else ""), os.getpid())
        self.workers: dict[str, Usage] = {}
        self.servers: dict[int, Usage] = {}
        self.error: str | None = None
        self._host = socket.gethostname()

    async def _consumers(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """Consumer names of the live workers, and every worker's published statistics."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xinfo_consumers(f"{self.namespace}:starts", "workers")
        pipe.hgetall(f"{self.namespace}:stats")
        consumers, stats = await pipe.execute(raise_on_error=False)
        if isinstance(stats, Exception):
            raise stats
        names = [] if isinstance(consumers, Exception) else [_text(c["name"]) for c in consumers]
        return names, {_text(k): orjson.loads(v) for k, v in stats.items()}

    async def start(self) -> None:
        """First readings (call before the load starts)."""
        self.client.first = read_proc(os.getpid())
        if self.redis is None:
            return
        try:
            names, stats = await self._consumers()
        except Exception as exc:  # Redis unreachable: report without worker figures
            self.error = f"cannot read the worker statistics from Redis: {exc}"
            self.redis = None
            return
        for name in names:
            self._track(name, stats.get(name))

    def _track(self, name: str, stats: dict[str, Any] | None) -> Usage:
        parsed = parse_consumer(name)
        host, pid = parsed if parsed else (None, None)
        usage = Usage("worker", pid if host == self._host else None, consumer=name, host=host, stats_first=stats)
        if usage.pid is not None:
            usage.first = read_proc(usage.pid)
            if usage.first is not None and usage.first.ppid not in self.servers:
                parent = read_proc(usage.first.ppid)
                if parent is not None and ("express-engine" in parent.command or "express_engine" in parent.command):
                    role = "serve (supervisor + HTTP API)" if " serve" in parent.command else "supervisor"
                    self.servers[parent.pid] = Usage(role, parent.pid, first=parent)
        self.workers[name] = usage
        return usage

    def cpu_seconds(self) -> tuple[float, float, float]:
        """CPU seconds used so far by this process, the local workers and their ``serve`` parents (timeline)."""
        me = read_proc(os.getpid())

        def total(usages: Iterable[Usage]) -> float:
            return sum(s.cpu_seconds for u in usages if u.pid is not None and (s := read_proc(u.pid)) is not None)

        return (me.cpu_seconds if me else time.process_time()), total(self.workers.values()), \
            total(self.servers.values())

    async def finish(self) -> None:
        """Last readings (call after the load ended)."""
        self.client.last = read_proc(os.getpid())
        if self.redis is None:
            return
        try:
            names, stats = await self._consumers()
        except Exception as exc:
            self.error = f"cannot read the worker statistics from Redis: {exc}"
            names, stats = [], {}
        for name in names:
            if name not in self.workers:  # joined during the run
                self._track(name, None)
        for name, usage in self.workers.items():
            usage.stats_last = stats.get(name)
            if usage.pid is not None:
                usage.last = read_proc(usage.pid)
        for server in self.servers.values():
            assert server.pid is not None
            server.last = read_proc(server.pid)

    def report(self, wall: float) -> dict[str, Any]:
        """The ``resources`` section of the benchmark report."""
        client = self.client.to_dict(wall)
        if self.workers_in_process:
            workers = [client]
            source = "this process (the engine runs inside the load generator)"
        else:
            workers = [w.to_dict(wall) for w in self.workers.values()]
            source = "/proc for workers on this host + the statistics workers publish to Redis (NS:stats, " \
                     "every few seconds: counts may lag)" if self.workers else "unavailable"
        measured = [w for w in workers if w.get("cpu_seconds") is not None]
        total: dict[str, Any] = {
            "processes": len(workers),
            "measured": len(measured),
            "cpu_seconds": round(sum(w["cpu_seconds"] for w in measured), 3) if measured else None,
            "cpu_percent": round(sum(w["cpu_percent"] for w in measured), 1) if measured else None,
            "rss_bytes": sum(w["rss_bytes"] for w in measured) if measured else None,
        }
        executions = [w["stats"].get("executions") for w in workers if "stats" in w]
        if executions:
            total["executions"] = sum(e for e in executions if e is not None)
        out: dict[str, Any] = {"client": client, "workers": {"source": source, "processes": workers, "total": total},
                               "servers": [s.to_dict(wall) for s in self.servers.values()]}
        if self.error:
            out["workers"]["error"] = self.error
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
