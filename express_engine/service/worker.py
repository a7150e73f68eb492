"""A worker process: reads start requests from the stream and runs them in memory.

Delivery (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html):
async starts are at-least-once, sync starts at-most-once.

- **Intake** — ``XREADGROUP`` in batches of at most the free execution slots (``concurrency`` minus
  what is running), so a busy worker stops reading: backpressure. Executions whose machine never
  suspends (Pass/Choice/... only) run right away, one after the other; the others run as tasks.
- **Acknowledgement** — an entry is acknowledged (``XACK`` + ``XDEL``, in the same script as the sync
  reply to its caller) only after its execution finished and its log events were *written* by the log
  sink (a file sink flushed them to the operating system, a Redis sink had them confirmed): a worker killed
  in between leaves the start pending, so it runs again and is logged (at-least-once for logs too).
  Acknowledgements are batched by one flusher task.
- **Reclaim** — entries of a dead worker stay pending; live workers take them over with
  ``XAUTOCLAIM`` once idle for ``claim_idle`` seconds. A worker renews the lease of executions it is
  still running (``XCLAIM ... JUSTID``) so that slow executions are not taken from it. A reclaimed
  async start runs again (counted as redelivered); a reclaimed sync start is answered with an
  InternalFailure instead, never re-run. An entry delivered more than ``max_deliveries`` times, or
  one that cannot run at all (malformed, unknown machine, unknown mock test case), goes to the
  dead-letter stream with the reason.
- **Shutdown** — :meth:`Worker.stop` (SIGTERM/SIGINT): stop reading, let running executions finish
  within ``grace`` seconds, cancel the rest and leave them pending (a cancelled sync start is answered
  with an error), flush the acknowledgements.
- **Connection loss** — every Redis call is retried with backoff; nothing finished is forgotten
  (its acknowledgement waits in memory until Redis is back).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.lowlevel
import orjson
from anyio.abc import TaskGroup
from redis.exceptions import ResponseError

from .. import service_errors as api
from ..histogram import duration_bucket
from ..logs import LogRouter, Sink
from ..logs.buffer import BufferedSink, Policy
from ..runtime.engine import DEFAULT_ACCOUNT, DEFAULT_REGION, Engine
from ..runtime.execution import SLICE_SECONDS
from ..runtime.ids import new_uuid
from ..runtime.inputs import TEXT_GROWTH
from ..runtime.interpreter import graph_is_sync
from ..runtime.records import StateMachineRecord
from ..runtime.tasks import HandlerRegistry
from . import consumer_group as group
from .consumer_group import FINISH, MAX_FINISH, Done, finish_args
from .keys import GROUP, RETRYABLE, Backoff, Keys, OutageLog
from .registry import Registry
from .stats import WorkerStats

log = logging.getLogger("express_engine.worker")

#: The totals field of each execution status.
_STATUS_FIELDS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out"}

#: Seconds a stopping worker keeps trying to acknowledge what it finished.
ACK_FLUSH_SECONDS = 5.0

#: Seconds an execution run inline (in the intake) may take before its machine's executions run as tasks.
INLINE_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Settings of one worker process."""

    namespace: str = "ee"
    #: consumer name in the group (default: host-pid-random, unique per process)
    consumer: str | None = None
    #: executions running at once
    concurrency: int = 1_000
    #: entries per XREADGROUP / XAUTOCLAIM at most
    batch: int = 500
    #: seconds one XREADGROUP blocks when the stream is empty (also the longest wait before a stop is seen)
    block: float = 0.5
    #: seconds an entry must be idle (its worker silent) before another worker reclaims it
    claim_idle: float = 30.0
    #: seconds between reclaim passes (default: claim_idle / 3)
    claim_interval: float | None = None
    #: deliveries after which an async start goes to the dead-letter stream
    max_deliveries: int = 5
    #: seconds running executions get to finish after a stop
    grace: float = 30.0
    #: MAXLEN ~ of the dead-letter stream
    dead_maxlen: int = 10_000
    #: default log sink for machines that name none (stdout, stderr, file:PATH, redis:STREAM, none)
    log_sink: str = "stdout"
    log_buffer: int = 50_000
    log_policy: Policy = "block"
    log_stream_maxlen: int = 1_000_000
    #: skip the answers to acknowledgements (CLIENT REPLY SKIP) when Redis allows it; off for proxies that
    #: mishandle it
    reply_skip: bool = True
    #: multiply Wait / Retry delays (tests)
    time_scale: float = 1.0
    #: seconds between publications of the statistics to NS:stats
    stats_interval: float = 5.0
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT


def consumer_name() -> str:
    """A consumer name unique to this process: ``host-pid-random``."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


def _reply_to(start: dict[str, Any]) -> tuple[str, str, str] | None:
    """Where a sync start's reply goes: its client's reply channel and sent-starts hash, its request id."""
    reply = start.get("reply")
    return (reply, start.get("sent") or "", start.get("rid") or "") if reply else None


class _Unrunnable(Exception):
    """A start that can never run (reported to the sync caller, or dead-lettered)."""

    def __init__(self, error: api.ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


class Worker:
    """Runs start requests of one namespace; ``await worker.run()`` until :meth:`stop`."""

    def __init__(self, redis: Any, options: WorkerOptions | None = None, *, handlers: HandlerRegistry | None = None,
                 mock_config: Any = None, sinks: Mapping[str, Sink] | None = None) -> None:
        self.redis = redis
        self.options = options = options or WorkerOptions()
        if options.consumer is None:
            self.options = options = replace(options, consumer=consumer_name())
        self.consumer: str = options.consumer  # type: ignore[assignment]
        self.keys = Keys(options.namespace)
        self.registry = Registry(redis, namespace=options.namespace, region=options.region,
                                 account=options.account)
        self.handlers = handlers if handlers is not None else HandlerRegistry()
        self.mock_config = mock_config
        self.stats = WorkerStats(consumer=self.consumer)
        self._outage = OutageLog(log)
        self._sinks = dict(sinks or {})
        self.router: LogRouter | None = None
        self.engine: Engine | None = None
        self._stopping = False
        self._stop_event = anyio.Event()
        self._wake = anyio.Event()  # set on stop and when a slot frees up
        self._inflight: dict[str, float] = {}  # entry id -> monotonic start, for executions run as tasks
        self._local = 0  # executions run for event sources (run_local)
        #: entries this worker is handling: read or claimed, not yet acknowledged (never dispatched twice)
        self._owned: set[str] = set()
        #: set when a Redis reply may have been lost: look for entries delivered to us that we never got
        self._recover = False
        #: entries pending under our name that only the idle reclaim (which counts deliveries) may run:
        #: those pending when we started (a reused consumer name) and those whose execution crashed
        self._reclaim_only: set[str] = set()
        self._all_done = anyio.Event()
        #: (entry id, (reply channel, sent-starts hash, request id) or None, reply payload)
        self._done: list[Done] = []
        #: finished entries whose log events the sink has not written yet: (receipt, acknowledgement), in order
        self._unwritten: list[tuple[tuple[BufferedSink, int], Done]] = []
        self._unwritten_ready = anyio.Event()
        self._ack_ready = anyio.Event()
        self._acking = 0  # acknowledgements being sent by the flusher
        self._finish_script = redis.register_script(FINISH)  # (EVALSHA, loading the script when missing)
        self._conn: Any = None  # the read loop's own connection (acknowledge + read in one round trip)
        self._skip_replies = False  # whether Redis honours CLIENT REPLY SKIP (probed at start)
        self._ready = anyio.Event()
        #: the graphs (by id) of machines that never suspend but whose executions took long all the same (a
        #: JSONata expression run in the thread pool): run as tasks, not inline in the intake
        self._slow_graphs: dict[int, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask for a graceful shutdown (stop reading, finish or hand back running executions)."""
        self._stopping = True
        self._stop_event.set()
        self._wake.set()

    async def wait_ready(self) -> None:
        """Wait until the worker has joined the consumer group and is reading."""
        await self._ready.wait()

    async def run(self) -> WorkerStats:
        """Read and run starts until :meth:`stop` is called; returns the final statistics."""
        o = self.options
        self.stats.started_at = time.time()
        async with LogRouter(default=o.log_sink, redis=self.redis, max_events=o.log_buffer, policy=o.log_policy,
                             stream_maxlen=o.log_stream_maxlen, sinks=self._sinks) as router:
            self.router = router
            router.track_receipts = True
            self.engine = Engine(handlers=self.handlers, log_handler=router, time_scale=o.time_scale,
                                 region=o.region, account=o.account)
            await self._retry(group.ensure_group, self.redis, self.keys)
            self._skip_replies = o.reply_skip and await self._retry(group.probe_reply_skip, self.redis)
            # All of them (paged): one left out would look lost in transit and run again, even a sync start.
            self._reclaim_only = set(await self._retry(group.pending, self.redis, self.keys, self.consumer, o.batch))
            async with anyio.create_task_group() as service:
                service.start_soon(self._ack_loop)
                service.start_soon(self._log_wait_loop)
                service.start_soon(self._stats_loop)
                async with anyio.create_task_group() as executions:
                    executions.start_soon(self._claim_loop, executions)
                    self._ready.set()
                    await self._read_loop(executions)
                    # Stopping: no more intake; give running executions their grace period.
                    with anyio.move_on_after(o.grace):
                        while self._inflight or self._local:  # (event sources' executions too)
                            self._all_done = anyio.Event()
                            with anyio.move_on_after(0.05 if self._local else math.inf):
                                await self._all_done.wait()
                    if self._inflight:
                        log.warning("%d executions still running after the %.1f s grace period: cancelled and "
                                    "left pending for another worker", len(self._inflight), o.grace)
                    executions.cancel_scope.cancel()
                # Acknowledge everything finished, for a few seconds at most: Redis may be gone for good (a
                # Ctrl-C reaches an embedded server too), and an unacknowledged start only runs again.
                self._ack_ready.set()
                with anyio.move_on_after(ACK_FLUSH_SECONDS) as scope:
                    while self._done or self._acking or self._unwritten:
                        await anyio.sleep(0.01)
                if scope.cancelled_caught:
                    log.error("%d finished executions may not have been acknowledged (Redis unreachable): they "
                              "run again unless an earlier acknowledgement reached Redis",
                              len(self._done))
                service.cancel_scope.cancel()
            self.stats.log_dropped = router.dropped
        if self._conn is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self.redis.connection_pool.release(self._conn)
            self._conn = None
        with anyio.CancelScope(shield=True), anyio.move_on_after(2.0), contextlib.suppress(*RETRYABLE):
            await group.leave_group(self.redis, self.keys, self.consumer)
            await self._publish_stats()
        return self.stats

    async def _retry(self, fn: Any, *args: Any) -> Any:
        """Call ``fn`` until Redis answers, backing off between attempts."""
        backoff = Backoff()
        while True:
            try:
                result = await fn(*args)
            except RETRYABLE as exc:
                self._connection_lost(exc)
                await anyio.sleep(backoff.next())
            else:
                self._outage.recovered()
                return result

    def _connection_lost(self, exc: BaseException) -> None:
        self.stats.reconnects += 1
        self._outage.failed(exc)

    # -- intake -----------------------------------------------------------------------------------------

    def _free_slots(self) -> int:
        return self.options.concurrency - len(self._inflight) - self._local

    # -- executions for event sources (run here, not read from the start stream) --------------------------

    def free_slots(self) -> int:
        """Executions this worker can take on now (event sources read only as many entries)."""
        return self._free_slots() if self.engine is not None and not self._stopping else 0

    def runs_inline(self, record: StateMachineRecord) -> bool:
        """Whether executions of ``record`` never suspend (cheaper run one after the other than as tasks)."""
        return graph_is_sync(record.machine.graph)

    async def run_local(self, record: StateMachineRecord, value: Any, *, since_ms: float | None = None,
                        input_size: int | None = None) -> dict[str, Any]:
        """Run one async execution of ``record`` on ``value`` in this worker's engine, in its slots and statistics.

        Returns ``{status, error?, cause?}``. ``since_ms``: when the event was accepted (for the latency statistic).
        """
        engine = self.engine
        if engine is None:
            raise api.ServiceUnavailable("The worker is not running")
        self._local += 1
        try:
            response = await engine.run(record, value, name=new_uuid(), sync=False, respond=False,
                                        input_size=input_size)
        finally:
            self._local -= 1
        if self._local == 0 or self._stopping:
            self._wake.set()
        self.stats.count(response["status"])
        if since_ms is not None:
            self.stats.latency_ms.add(time.time() * 1000 - since_ms)
        return response

    async def _read_loop(self, tg: TaskGroup) -> None:
        o = self.options
        block_ms = max(1, int(o.block * 1000))
        backoff = Backoff()
        while not self._stopping:
            free = self._free_slots()
            if free <= 0:
                self._wake = anyio.Event()
                if self._free_slots() <= 0 and not self._stopping:
                    await self._wake.wait()
                continue
            # Acknowledge what the last batch finished in the same round trip as the next read.
            acks: list[Done] = []
            try:
                if self._recover:
                    await self._recover_pending(tg)
                    continue
                acks, self._done = self._done[:MAX_FINISH], self._done[MAX_FINISH:]
                entries = await self._ack_and_read(acks, min(free, o.batch), block_ms)
                if acks:
                    self._finished(acks, None)
                    acks = []
                backoff.reset()
                self._outage.recovered()
            except ResponseError as exc:
                if acks:
                    self._give_back(acks)
                if "NOGROUP" not in str(exc):
                    raise
                # The stream was deleted (or Redis lost its data).
                await self._retry(group.ensure_group, self.redis, self.keys)
                continue
            except RETRYABLE as exc:
                if acks:
                    self._give_back(acks)
                self._connection_lost(exc)
                self._recover = True  # Redis may have delivered entries whose reply we did not get
                await anyio.sleep(backoff.next())
                continue
            if entries:
                await self._dispatch(tg, entries, None)

    async def _ack_and_read(self, acks: list[Done], count: int, block_ms: int) -> list[Any]:
        """Acknowledge ``acks`` and read the next entries in one round trip, on the read loop's own connection."""
        conn = self._conn
        if conn is None:
            self._conn = conn = await self.redis.connection_pool.get_connection()
        return await group.ack_and_read(conn, self.keys, self.consumer, acks, count, block_ms, self._skip_replies)

    async def _recover_pending(self, tg: TaskGroup) -> None:
        """Run the entries Redis delivered to us whose reply we never received (the connection broke).

        They are found in our pending list (XPENDING) and fetched with XRANGE, neither of which counts
        as a delivery. An entry delivered only to this consumer (whose name is unique to the process)
        and unknown to it was never started, so even a sync start may run now.
        """
        owned, reclaim_only = self._owned, self._reclaim_only
        pending = await group.pending(self.redis, self.keys, self.consumer, self.options.batch)
        lost = {i: n for i, n in pending.items() if i not in owned and i not in reclaim_only}
        self._recover = False
        if lost:
            log.warning("%d starts delivered to this worker were lost in transit: running them now", len(lost))
            await self._dispatch(tg, await group.fetch(self.redis, self.keys, lost), lost)

    async def _dispatch(self, tg: TaskGroup, entries: list[Any], deliveries: dict[str, int] | None) -> None:
        """Run (or answer, or dead-letter) each entry read or reclaimed."""
        now_ms = time.time() * 1000
        turn_end = time.monotonic() + SLICE_SECONDS
        owned = self._owned
        for raw_id, fields in entries:
            if raw_id is None:
                continue
            entry_id = group.entry_id(raw_id)
            if entry_id in owned:
                continue  # already ours (e.g. its acknowledgement is waiting for Redis to come back)
            owned.add(entry_id)
            self._reclaim_only.discard(entry_id)
            n = deliveries.get(entry_id, 1) if deliveries else 1
            if not fields:
                self._finish(entry_id)  # deleted while pending: nothing to run
                continue
            try:
                raw = fields[b"start"]
                start = orjson.loads(raw)
                start["size"] = len(raw) * TEXT_GROWTH  # bounds the input's size: it is part of this text
                sm_arn = start["sm"]
                rev = fields.get(b"rev")  # (entries written before 2026-11 carry it in the document)
                rev = rev.decode() if rev is not None else start["rev"]
                sync = start["mode"] == "sync"
                if not (isinstance(start["arn"], str) and isinstance(start["name"], str)):
                    raise ValueError("arn and name must be strings")
            except Exception as exc:
                await self._dead_letter(entry_id, fields, f"malformed start entry: {exc!r}", n)
                continue
            if n > 1:
                if sync:
                    # At-most-once: its first worker may have run it (partly); never run it twice.
                    self.stats.sync_abandoned += 1
                    self._reply_error(entry_id, start, api.InternalFailure(
                        "The worker running this synchronous execution stopped before it finished; synchronous "
                        "executions are never run twice"))
                    continue
                if n > self.options.max_deliveries:
                    await self._dead_letter(entry_id, fields, f"delivered {n} times without finishing (the "
                                            f"limit is {self.options.max_deliveries})", n)
                    continue
                self.stats.redelivered += 1
            if sync and now_ms > start.get("deadline", now_ms):
                self.stats.sync_expired += 1  # its caller stopped waiting: running it helps nobody
                self._finish(entry_id)
                continue
            try:
                record = self.registry.cached(sm_arn, rev) or await self._load(sm_arn)
                if "alias" in start:  # started through an alias: $$.StateMachine.Id is the alias ARN
                    record = replace(record, arn=start["alias"], alias_arn=start["alias"])
                mock = self._mock(record, start.get("test_case"))
            except _Unrunnable as exc:
                if sync:
                    self._reply_error(entry_id, start, exc.error)
                else:
                    await self._dead_letter(entry_id, fields, f"{exc.error.code}: {exc.error.message}", n)
                continue
            graph = record.machine.graph
            if graph_is_sync(graph) and not graph.loops and id(graph) not in self._slow_graphs:
                # Never suspends (except to hand over its logs) and ends after a bounded number of transitions:
                # cheaper to run now than as a task. A batch of them still gives the loop a turn every slice.
                began = time.monotonic()
                await self._execute(entry_id, record, start, sync, mock)
                now = time.monotonic()
                if now - began > INLINE_SECONDS:  # (an expression of it ran long, in the pool: not inline again)
                    self._slow_graphs[id(graph)] = graph
                if now > turn_end:
                    await anyio.lowlevel.checkpoint()
                    turn_end = time.monotonic() + SLICE_SECONDS
            else:  # (a loop may run for minutes: as a task, it yields every slice without holding the intake)
                self._inflight[entry_id] = time.monotonic()
                tg.start_soon(self._execute_task, entry_id, record, start, sync, mock)

    async def _load(self, sm_arn: str) -> StateMachineRecord:
        try:
            record: StateMachineRecord = await self._retry(self.registry.get, sm_arn)
            return record
        except api.ServiceError as exc:
            raise _Unrunnable(exc) from None

    def _mock(self, record: StateMachineRecord, test_case: str | None) -> Any:
        if not test_case:
            return None
        if self.mock_config is None:
            raise _Unrunnable(api.ValidationException(
                f"Test case '{test_case}' was asked for, but the worker has no mock configuration "
                "(--mock-config FILE or SFN_MOCK_CONFIG)"))
        try:
            return self.mock_config.for_execution(record.name, test_case)
        except ValueError as exc:  # MockConfigError
            raise _Unrunnable(api.ValidationException(str(exc))) from None

    # -- execution --------------------------------------------------------------------------------------

    async def _execute_task(self, entry_id: str, record: StateMachineRecord, start: dict[str, Any], sync: bool,
                            mock: Any) -> None:
        try:
            await self._execute(entry_id, record, start, sync, mock)
        finally:
            del self._inflight[entry_id]
            self._wake.set()
            if not self._inflight:
                self._all_done.set()

    async def _execute(self, entry_id: str, record: StateMachineRecord, start: dict[str, Any], sync: bool,
                       mock: Any) -> None:
        assert self.engine is not None
        try:
            response = await self.engine.run(record, start["input"], name=start["name"], sync=sync,
                                             arn=start["arn"], mock=mock, respond=sync,
                                             input_size=start.get("size"))
        except anyio.get_cancelled_exc_class():
            if sync:  # shutdown after the grace period: tell the caller now rather than after a reclaim
                self._reply_error(entry_id, start, api.ServiceUnavailable(
                    "The worker running this synchronous execution shut down before it finished"))
            else:  # stays pending: another worker runs it again
                self._owned.discard(entry_id)
                self._reclaim_only.add(entry_id)
            raise
        except Exception as exc:  # an engine bug must not stop the worker
            log.exception("execution %s crashed the engine", start["arn"])
            if sync:
                self._reply_error(entry_id, start, api.InternalFailure(f"Internal engine error: {exc!r}"))
            else:  # stays pending: reclaimed and retried until max_deliveries, then dead-lettered
                self._owned.discard(entry_id)
                self._reclaim_only.add(entry_id)
            return
        status = response["status"]
        self.stats.count(status)
        ms = time.time() * 1000 - start["ts"] if "ts" in start else 0.0
        if ms:
            self.stats.latency_ms.add(ms)
        tag = f"{_STATUS_FIELDS.get(status, 'failed')} {duration_bucket(ms / 1000)} {ms:.3f}"
        receipt = self.router.receipt(start["arn"]) if self.router is not None else None
        if sync:
            self._finish(entry_id, _reply_to(start), orjson.dumps(response), receipt, tag)
        else:
            self._finish(entry_id, receipt=receipt, tag=tag)

    def _reply_error(self, entry_id: str, start: dict[str, Any], error: api.ServiceError) -> None:
        self._finish(entry_id, _reply_to(start), orjson.dumps(error.to_dict()))

    def _finish(self, entry_id: str, reply: tuple[str, str, str] | None = None, payload: bytes | None = None,
                receipt: tuple[BufferedSink, int] | None = None, tag: str = "") -> None:
        """Queue the acknowledgement of an entry (and its sync reply: where it goes, payload; an execution's
        ``tag`` for the totals); with a log ``receipt``, once the sink has written the execution's events."""
        if receipt is not None:
            self._unwritten.append((receipt, (entry_id, reply, payload, tag)))
            self._unwritten_ready.set()
            return
        self._done.append((entry_id, reply, payload, tag))
        self._ack_ready.set()

    async def _log_wait_loop(self) -> None:
        """Queue for acknowledgement the finished entries whose log events have been written."""
        unwritten = self._unwritten
        while True:
            await self._unwritten_ready.wait()
            self._unwritten_ready = anyio.Event()
            while unwritten:
                sink, seq = unwritten[0][0]
                await sink.wait_done(seq)
                n = 0
                while n < len(unwritten) and unwritten[n][0][0].is_done(unwritten[n][0][1]):
                    n += 1
                self._done.extend(done for _, done in unwritten[:n])
                del unwritten[:n]
                self._ack_ready.set()

    # -- acknowledgements ----------------------------------------------------------------------------------

    async def _ack_loop(self) -> None:
        """Acknowledge finished entries (those the reader does not send along with its next read)."""
        backoff = Backoff()
        while True:
            await self._ack_ready.wait()
            self._ack_ready = anyio.Event()
            while self._done:
                batch, self._done = self._done[:MAX_FINISH], self._done[MAX_FINISH:]
                self._acking = len(batch)
                finished: Exception | None = None
                try:
                    await self._finish_script(keys=[self.keys.starts, self.keys.totals], args=finish_args(batch))
                except (*RETRYABLE, ResponseError) as exc:
                    finished = exc
                finally:
                    self._acking = 0
                if self._finished(batch, finished):
                    backoff.reset()
                else:
                    await anyio.sleep(backoff.next())

    def _finished(self, batch: list[Done], error: Exception | None) -> bool:
        """Book the outcome of a FINISH call; a failed one is queued again. Returns whether it worked."""
        if error is None:
            self._owned.difference_update(entry_id for entry_id, _, _, _ in batch)
            return True
        self._give_back(batch)
        if isinstance(error, RETRYABLE):
            self._connection_lost(error)
        elif isinstance(error, ResponseError) and "NOGROUP" in str(error):
            self._recover = True
        else:
            raise error
        return False

    def _give_back(self, batch: list[Done]) -> None:
        """Queue acknowledgements again whose call failed (they may or may not have been applied)."""
        self._done[:0] = batch
        self._ack_ready.set()

    async def _dead_letter(self, entry_id: str, fields: dict[bytes, bytes] | None, reason: str,
                           deliveries: int) -> None:
        """Move an entry to the dead-letter stream with the reason, and acknowledge it."""
        self.stats.dead_lettered += 1
        log.warning("start %s dead-lettered: %s", entry_id, reason)
        doc: dict[Any, Any] = dict(fields or {})
        doc.update({"reason": reason, "deliveries": deliveries, "entry_id": entry_id, "consumer": self.consumer,
                    "time": int(time.time() * 1000)})

        await self._retry(group.dead_letter, self.redis, self.keys, entry_id, doc, self.options.dead_maxlen)
        self._owned.discard(entry_id)

    # -- reclaim -------------------------------------------------------------------------------------------

    async def _claim_loop(self, tg: TaskGroup) -> None:
        o = self.options
        interval = o.claim_interval if o.claim_interval is not None else o.claim_idle / 3
        last_prune = time.monotonic()
        while not self._stopping:
            with anyio.move_on_after(interval):
                await self._stop_event.wait()
            if self._stopping:
                return
            self._recover = True  # also catches replies lost without an error we could see
            try:
                await self._renew()
                await self._claim(tg)
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await group.prune_consumers(self.redis, self.keys, self.consumer)  # live ones rejoin anyway
            except RETRYABLE as exc:
                self._connection_lost(exc)
                self._recover = True  # an XAUTOCLAIM reply may have been lost
            except ResponseError as exc:
                if "NOGROUP" not in str(exc) and "no such key" not in str(exc):
                    raise
                # The stream was deleted (or Redis lost its data).
                await self._retry(group.ensure_group, self.redis, self.keys)

    async def _renew(self) -> None:
        """Reset the idle time of long-running executions so no other worker reclaims them."""
        cutoff = time.monotonic() - self.options.claim_idle / 3
        old = [i for i, t in self._inflight.items() if t < cutoff]
        for k in range(0, len(old), 1000):
            await self.redis.xclaim(self.keys.starts, GROUP, self.consumer, 0, old[k:k + 1000], justid=True)

    async def _claim(self, tg: TaskGroup) -> None:
        """Take over entries idle for longer than ``claim_idle`` (their worker died) and run them."""
        idle_ms = int(self.options.claim_idle * 1000)
        cursor: Any = "0-0"
        while True:
            free = self._free_slots()
            if free <= 0 or self._stopping:
                return
            cursor, entries, *rest = await self.redis.xautoclaim(
                self.keys.starts, GROUP, self.consumer, idle_ms, start_id=cursor, count=min(free, self.options.batch))
            if rest and rest[0]:
                self.stats.lost += len(rest[0])
                log.error("%d pending starts were deleted from the stream before they finished", len(rest[0]))
            entries = [e for e in entries if e[0] is not None and group.entry_id(e[0]) not in self._owned]
            if entries:
                log.info("reclaimed %d idle starts", len(entries))
                ids = [group.entry_id(e[0]) for e in entries]
                counts = await group.deliveries(self.redis, self.keys, self.consumer, ids, slack=len(self._owned) + 16)
                await self._dispatch(tg, entries, counts)
            if group.entry_id(cursor) == "0-0":
                return

    # -- statistics ----------------------------------------------------------------------------------------

    async def _stats_loop(self) -> None:
        while True:
            await anyio.sleep(self.options.stats_interval)
            with contextlib.suppress(*RETRYABLE):
                await self._publish_stats()

    async def _publish_stats(self) -> None:
        if self.router is not None:
            self.stats.log_dropped = self.router.dropped
        await self.redis.hset(self.keys.stats, self.consumer, orjson.dumps(self.stats.to_dict()))
