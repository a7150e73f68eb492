"""Executions read back from a Redis-stream log sink (``redis:STREAM``), newest first, in pages.

A finished execution's events are written to the stream together, in order (one ``XADD`` each in one
pipeline, :class:`express_engine.logs.sinks.RedisStreamSink`), so reading the stream backwards with
``XREVRANGE ... COUNT n`` meets each execution's events as one run ending with its terminal event.
Every request reads a bounded number of entries: listing stops once a page of executions is complete,
and a lookup by ARN gives up after :data:`MAX_SCAN` entries. Stream ids are insertion times in
milliseconds, so a time filter is a range bound, not a scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..jsonutil import loads

#: Entries read per ``XREVRANGE``.
PAGE = 1000
#: Entries a single request reads at most (listing one page of executions, or finding one by ARN).
MAX_SCAN = 100_000

#: Terminal event type -> execution status.
TERMINAL = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
            "ExecutionAborted": "ABORTED"}
STATUSES = tuple(TERMINAL.values())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def machine_prefix(state_machine_arn: str) -> str:
    """The prefix of the execution ARNs of a state machine (``...:express:NAME:``)."""
    head, sep, name = state_machine_arn.rpartition(":stateMachine:")
    if not sep:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{head}:express:{name}:"


def state_machine_of(execution_arn: str) -> str:
    """The state machine ARN of an Express execution ARN (``...:express:SM:NAME:ID``)."""
    head, sep, rest = execution_arn.partition(":express:")
    if not sep:
        return ""
    return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


@dataclass
class ExecutionSummary:
    """One logged execution as the listing shows it."""

    execution_arn: str
    log_id: str  # stream id of its last event: where to start reading it back
    status: str = "UNKNOWN"
    start: int | None = None  # epoch ms
    stop: int | None = None
    error: str | None = None
    cause: str | None = None
    events: int = 0

    def to_json(self) -> dict[str, Any]:
        """The summary as the console's JSON answer."""
        return {"executionArn": self.execution_arn, "stateMachineArn": state_machine_of(self.execution_arn),
                "name": self.execution_arn.rsplit(":", 2)[-2] if self.execution_arn.count(":") >= 8 else "",
                "status": self.status, "startDate": self.start, "stopDate": self.stop,
                "durationMs": None if self.start is None or self.stop is None else self.stop - self.start,
                "error": self.error, "cause": self.cause, "logId": self.log_id, "events": self.events}


@dataclass
class ExecutionPage:
    """A page of executions and the token of the next one (None at the end or at the scan bound)."""

    executions: list[ExecutionSummary] = field(default_factory=list)
    next_token: str | None = None
    scanned: int = 0
    truncated: bool = False  # the scan bound was reached before the page filled


class LogStreamReader:
    """Reads executions back from one log stream (``redis`` gives bytes or text replies)."""

    def __init__(self, redis: Any, stream: str, *, page: int = PAGE, max_scan: int = MAX_SCAN) -> None:
        self.redis = redis
        self.stream = stream
        self.page = page
        self.max_scan = max_scan

    async def exists(self) -> bool:
        """Whether the stream has been written to."""
        return bool(await self.redis.exists(self.stream))

    async def _pages(self, top: str, bottom: str = "-", needle: bytes = b"") -> Any:
        """``(stream id, event)`` pairs from ``top`` (inclusive; ``(ID`` exclusive) down, a page at a time.

        Entries whose text does not contain ``needle`` are not parsed (their event is None).
        """
        scanned = 0
        while scanned < self.max_scan:
            count = min(self.page, self.max_scan - scanned)
            entries = await self.redis.xrevrange(self.stream, max=top, min=bottom, count=count)
            if not entries:
                return
            scanned += len(entries)
            for entry_id, fields in entries:
                raw = fields.get(b"message", fields.get("message"))
                if isinstance(raw, str):
                    raw = raw.encode()
                try:
                    event = loads(raw) if raw is not None and needle in raw else None
                except ValueError:
                    event = None
                yield _text(entry_id), event if isinstance(event, dict) else None
            if len(entries) < count:
                return
            top = "(" + _text(entries[-1][0])
        yield None, None  # the scan bound was reached

    async def recent(self, *, machine_arn: str | None = None, status: str | None = None, before: str | None = None,
                   since_ms: int | None = None, until_ms: int | None = None, limit: int = 50) -> ExecutionPage:
        """The newest ``limit`` executions (of ``machine_arn``, with ``status``) logged before token ``before``."""
        prefix = machine_prefix(machine_arn) if machine_arn else ""
        top = before if before else (str(until_ms) if until_ms is not None else "+")
        bottom = str(since_ms) if since_ms is not None else "-"
        page = ExecutionPage()
        current: ExecutionSummary | None = None
        last_id = ""  # stream id of the last entry of the newest finished run: the next page starts below it
        async for entry_id, event in self._pages(top, bottom, prefix.encode()):
            if entry_id is None:
                page.truncated = True
                page.next_token = f"({last_id}" if last_id else None
                break
            page.scanned += 1
            arn = event.get("execution_arn") if event else None
            if not isinstance(arn, str):
                continue
            if current is None or arn != current.execution_arn:
                if current is not None and self._keep(current, prefix, status):
                    page.executions.append(current)
                if len(page.executions) >= limit:
                    page.next_token = f"({last_id}"
                    current = None
                    break
                current = ExecutionSummary(arn, entry_id)
            assert event is not None
            self._absorb(current, event)
            last_id = entry_id
        if current is not None and self._keep(current, prefix, status):
            page.executions.append(current)
        return page

    @staticmethod
    def _keep(summary: ExecutionSummary, prefix: str, status: str | None) -> bool:
        return summary.execution_arn.startswith(prefix) and (status is None or summary.status == status)

    @staticmethod
    def _absorb(summary: ExecutionSummary, event: dict[str, Any]) -> None:
        summary.events += 1
        kind = event.get("type")
        try:
            when: int | None = int(event.get("event_timestamp", ""))
        except ValueError:
            when = None
        details = event.get("details") or {}
        if kind in TERMINAL:
            summary.status = TERMINAL[kind]
            summary.stop = when
            summary.error = details.get("error")
            summary.cause = details.get("cause")
        elif kind == "ExecutionStarted":
            summary.start = when

    async def events(self, execution_arn: str, at: str | None = None) -> list[dict[str, Any]] | None:
        """Every logged event of one execution, by id (None when not among the newest ``max_scan`` entries).

        ``at`` (the ``logId`` of a listing) starts the read at the execution's last event.
        """
        found: list[dict[str, Any]] = []
        async for entry_id, event in self._pages(at or "+", needle=execution_arn.encode()):
            if entry_id is None:
                break
            if event is not None and event.get("execution_arn") == execution_arn:
                found.append(event)
                if event.get("type") == "ExecutionStarted":
                    break
            elif found:
                break  # past the run of this execution's events
        if not found:
            return None
        found.sort(key=lambda e: int(e.get("id", 0)))
        return found
