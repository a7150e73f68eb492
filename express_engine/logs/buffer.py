"""A bounded buffer in front of a sink: executions hand over their events and go on.

The buffer holds at most ``max_events`` messages (including the batch being written). When it is
full, the policy decides: ``block`` (the default) makes :meth:`BufferedSink.put` wait, which holds
the execution's worker slot and so slows intake — backpressure; ``drop`` discards the new batch and
counts it. Drops are never silent: they are counted in :attr:`BufferedSink.dropped` and reported on
the ``express_engine.logs`` logger at most every few seconds. A failing sink write is retried with
backoff for ``retry_for`` seconds (the buffer fills meanwhile, so backpressure applies); after that
the batch is dropped and counted.

Every message gets a sequence number: :meth:`BufferedSink.put` returns the last one of its batch, and
:meth:`BufferedSink.wait_done` waits until the sink has dealt with it (written it: ``write`` returned, i.e. a
file sink flushed it to the operating system, a Redis sink had it confirmed; or dropped it, counted), so a
worker acknowledges an execution only once its events are out of its memory.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Literal

import anyio

from .sinks import Sink

log = logging.getLogger("express_engine.logs")

Policy = Literal["block", "drop"]
_REPORT_EVERY = 5.0


class BufferedSink:
    """Batches messages for one sink; run :meth:`run` in a task group, then :meth:`aclose`."""

    def __init__(self, sink: Sink, *, name: str = "", max_events: int = 50_000, max_batch: int = 2_000,
                 policy: Policy = "block", retry_for: float = 30.0) -> None:
        if policy not in ("block", "drop"):
            raise ValueError(f"unknown full-buffer policy {policy!r} (block, drop)")
        self.sink = sink
        self.name = name or type(sink).__name__
        self.max_events = max_events
        self.max_batch = max_batch
        self.policy = policy
        self.retry_for = retry_for
        #: messages written / dropped (buffer full, or the sink kept failing) since creation
        self.written = 0
        self.dropped = 0
        self._buf: deque[bytes] = deque()
        self._pending = 0  # buffered + being written
        self._data = anyio.Event()
        self._space = anyio.Event()
        self._closing = False
        self._done = anyio.Event()
        self._last_report = 0.0
        self._reported_drops = 0
        #: sequence number of the last message accepted / dealt with (written or dropped)
        self.accepted_seq = 0
        self.done_seq = 0
        self._progress = anyio.Event()

    @property
    def pending(self) -> int:
        """Messages accepted but not yet written."""
        return self._pending

    async def put(self, messages: Sequence[bytes]) -> int:
        """Hand over one execution's messages (kept together: a batch is buffered or dropped whole).

        Returns the sequence number to give :meth:`wait_done` (0: nothing is left to wait for).
        """
        if not messages:
            return 0
        if self._closing:
            self._drop(len(messages), "sink closed")
            return 0
        # A batch larger than the whole buffer is still accepted once the buffer is empty.
        while self._pending and self._pending + len(messages) > self.max_events:
            if self.policy == "drop":
                self._drop(len(messages), "buffer full")
                return 0
            if self._space.is_set():
                self._space = anyio.Event()
            await self._space.wait()
        self._buf.extend(messages)
        self._pending += len(messages)
        self.accepted_seq += len(messages)
        self._data.set()
        return self.accepted_seq

    def is_done(self, seq: int) -> bool:
        """Whether the messages up to ``seq`` were written (or dropped)."""
        return seq <= self.done_seq

    async def wait_done(self, seq: int) -> None:
        """Wait until the messages up to ``seq`` (a :meth:`put` result) were written (or dropped)."""
        while seq > self.done_seq:
            if self._progress.is_set():
                self._progress = anyio.Event()
            await self._progress.wait()

    def _drop(self, n: int, why: str) -> None:
        self.dropped += n
        now = time.monotonic()
        if now - self._last_report >= _REPORT_EVERY:
            log.warning("log sink %s: dropped %d events (%s); %d dropped in total", self.name,
                        self.dropped - self._reported_drops, why, self.dropped)
            self._last_report = now
            self._reported_drops = self.dropped

    async def run(self) -> None:
        """Write buffered messages until :meth:`aclose` is called and the buffer is drained."""
        try:
            while True:
                await self._data.wait()
                self._data = anyio.Event()
                while self._buf:
                    n = min(len(self._buf), self.max_batch)
                    batch = [self._buf.popleft() for _ in range(n)]
                    await self._write(batch)
                    self._pending -= n
                    self.done_seq += n
                    self._progress.set()
                    self._space.set()
                if self._closing:
                    return
        finally:
            self._done.set()

    async def _write(self, batch: list[bytes]) -> None:
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        while True:
            try:
                await self.sink.write(batch)
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    log.error("log sink %s: write failed (%r); %d events dropped", self.name, exc, len(batch))
                    self._drop(len(batch), "write failed")
                    return
                log.warning("log sink %s: write failed (%r); retrying in %.2f s", self.name, exc, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                self.written += len(batch)
                return

    async def aclose(self, timeout: float = 10.0) -> None:
        """Stop accepting, write what is buffered (for at most ``timeout`` s), close the sink."""
        self._closing = True
        self._data.set()
        with anyio.move_on_after(timeout):
            await self._done.wait()
        if not self._done.is_set() and self._pending:
            self._drop(self._pending, "not written before shutdown")
            self.done_seq = self.accepted_seq
            self._progress.set()
        await self.sink.aclose()
        if self.dropped > self._reported_drops:
            log.warning("log sink %s: %d events dropped in total", self.name, self.dropped)
