"""Routes each finished execution's events to the sink its state machine names.

:class:`LogRouter` is an Engine ``log_handler``: it formats a :class:`LogBatch` in the CloudWatch
format and hands it to the buffered sink of ``loggingConfiguration.sink`` (or the router's default).
Sinks are opened on first use and shared by every execution of the process.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import TaskGroup

from ..runtime.executor import LogBatch
from .buffer import BufferedSink, Policy
from .format import format_batch
from .sinks import Sink, open_sink


class LogRouter:
    """Formats log batches and hands them to per-destination buffered sinks.

    Use as ``async with LogRouter(...) as router: Engine(log_handler=router)``; leaving the block
    writes out what is buffered and closes the sinks.
    """

    def __init__(self, *, default: str = "stdout", redis: Any = None, max_events: int = 50_000,
                 policy: Policy = "block", file_max_bytes: int = 100 * 1024 * 1024, file_backups: int = 5,
                 stream_maxlen: int = 1_000_000, sinks: dict[str, Sink] | None = None) -> None:
        self.default = default
        self.redis = redis
        self.max_events = max_events
        self.policy = policy
        self.file_max_bytes = file_max_bytes
        self.file_backups = file_backups
        self.stream_maxlen = stream_maxlen
        self._extra = dict(sinks or {})
        self._sinks: dict[str, BufferedSink] = {}
        self._tg: TaskGroup | None = None
        #: per execution ARN whose events were handed over: the sink and the sequence number to wait for (the
        #: caller pops it, see :meth:`receipt`)
        self._receipts: dict[str, tuple[BufferedSink, int]] = {}

    async def __aenter__(self) -> LogRouter:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> bool | None:
        assert self._tg is not None
        tg, self._tg = self._tg, None
        try:
            await self.aclose()
        finally:
            tg.cancel_scope.cancel()  # the flushers are done (or abandoned when we were cancelled)
            await tg.__aexit__(*exc)  # type: ignore[arg-type]
        return None

    def sink(self, spec: str) -> BufferedSink:
        """The buffered sink for ``spec`` (opened and started on first use)."""
        buffered = self._sinks.get(spec)
        if buffered is None:
            if self._tg is None:
                raise RuntimeError("LogRouter is not running: use 'async with LogRouter(...)'")
            target = self._extra.get(spec) or open_sink(
                spec, redis=self.redis, file_max_bytes=self.file_max_bytes, file_backups=self.file_backups,
                stream_maxlen=self.stream_maxlen)
            buffered = BufferedSink(target, name=spec, max_events=self.max_events, policy=self.policy)
            self._sinks[spec] = buffered
            self._tg.start_soon(buffered.run)
        return buffered

    async def __call__(self, batch: LogBatch) -> None:
        """The Engine log handler: format the events and hand them to the machine's sink."""
        spec = batch.state_machine.logging.sink or self.default
        if spec == "none" or not batch.events:
            return
        sink = self.sink(spec)
        seq = await sink.put(format_batch(batch))
        if seq and self.track_receipts:
            self._receipts[batch.execution_arn] = (sink, seq)

    #: whether :meth:`__call__` keeps receipts (a worker turns it on, and pops each one)
    track_receipts = False

    def receipt(self, execution_arn: str) -> tuple[BufferedSink, int] | None:
        """Take the receipt of an execution's events: ``(sink, seq)`` for ``sink.wait_done(seq)``; None when
        nothing is waiting to be written (no events, sink ``none``, or already dropped)."""
        found = self._receipts.pop(execution_arn, None)
        if found is not None and found[0].is_done(found[1]):
            return None
        return found

    def stats(self) -> dict[str, dict[str, int]]:
        """Per sink: events written, dropped and still pending."""
        return {spec: {"written": s.written, "dropped": s.dropped, "pending": s.pending}
                for spec, s in self._sinks.items()}

    @property
    def dropped(self) -> int:
        """Events dropped by every sink together."""
        return sum(s.dropped for s in self._sinks.values())

    async def aclose(self) -> None:
        """Write out every buffer and close the sinks."""
        sinks, self._sinks = list(self._sinks.values()), {}
        for s in sinks:
            await s.aclose()
