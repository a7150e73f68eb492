"""Worker statistics (published to ``NS:stats`` per worker)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..histogram import Histogram


@dataclass
class WorkerStats:
    """Counters of one worker process."""

    consumer: str = ""
    #: executions run to their end, by final status
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    #: async starts run again after a worker died or stalled (at-least-once duplicates, possibly)
    redelivered: int = 0
    #: sync starts whose first worker died: answered with an error, never re-run (at-most-once)
    sync_abandoned: int = 0
    #: sync starts dropped unrun because their caller had already given up waiting
    sync_expired: int = 0
    #: entries moved to the dead-letter stream
    dead_lettered: int = 0
    #: pending entries found deleted from the stream when reclaimed
    lost: int = 0
    #: Redis connection failures survived
    reconnects: int = 0
    #: log events dropped by the sinks (buffer full or sink failing)
    log_dropped: int = 0
    started_at: float = 0.0
    latency_ms: Histogram = field(default_factory=Histogram)

    @property
    def executions(self) -> int:
        """Executions finished."""
        return self.succeeded + self.failed + self.timed_out

    def count(self, status: str) -> None:
        """Count one finished execution."""
        if status == "SUCCEEDED":
            self.succeeded += 1
        elif status == "TIMED_OUT":
            self.timed_out += 1
        else:
            self.failed += 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with latency percentiles."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latency_ms"}
        out["executions"] = self.executions
        out["latency_ms"] = self.latency_ms.to_dict()
        out["p50_ms"] = round(self.latency_ms.percentile(50), 3)
        out["p99_ms"] = round(self.latency_ms.percentile(99), 3)
        return out
