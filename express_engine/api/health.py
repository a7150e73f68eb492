"""``GET /health``: whether this API can serve, i.e. its Redis answers and (under ``serve``) workers run.

Answers 200 ``{"status": "ok", ...}`` or 503 ``{"status": "unavailable", ...}`` with what failed, so a
container healthcheck (Docker, Kubernetes) turns red when the embedded Redis or every worker is gone.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio

from ..jsonutil import Json

#: How long a health check waits for Redis to answer PING.
PING_TIMEOUT = 1.0


class WorkerCounter(Protocol):
    """What the supervisor reports of its worker processes."""

    wanted: int
    alive: int


class HealthCheck:
    """Checks the API's Redis (when it has one) and the supervisor's workers (when it runs them)."""

    def __init__(self, redis: Any = None, workers: WorkerCounter | None = None, *,
                 timeout: float = PING_TIMEOUT) -> None:
        self.redis = redis
        self.workers = workers
        self.timeout = timeout

    async def report(self) -> tuple[bool, dict[str, Json]]:
        """``(healthy, body)``."""
        ok = True
        out: dict[str, Json] = {"status": "ok"}
        if self.redis is not None:
            try:
                with anyio.fail_after(self.timeout):
                    await self.redis.ping()
                out["redis"] = "ok"
            except Exception:  # unreachable, refused, timed out: all mean "cannot serve"
                ok = False
                out["redis"] = "unreachable"
        if self.workers is not None:
            out["workers"] = {"alive": self.workers.alive, "wanted": self.workers.wanted}
            if self.workers.alive < 1:
                ok = False
        if not ok:
            out["status"] = "unavailable"
        return ok, out
